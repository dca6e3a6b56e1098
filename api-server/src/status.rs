//! Answers as kube-apiserver gives them: JSON bodies with their content type, and errors as
//! `meta/v1` Status objects with the HTTP code and reason kubectl prints
//! (`Error from server (NotFound): pods "x" not found`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use podlab_control_plane::ApiError;
use serde_json::{Value, json};

/// A JSON answer with status `code`.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    let mut r = (code, body.to_string()).into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The `Status` object for an error, with kube-apiserver's details (`name`, `kind`).
pub fn status_object(e: &ApiError) -> Value {
    let mut details = serde_json::Map::new();
    match e {
        ApiError::NotFound { resource, name, .. }
        | ApiError::AlreadyExists { resource, name }
        | ApiError::Invalid { resource, name, .. } => {
            let (kind, group) = resource.split_once('.').unwrap_or((resource.as_str(), ""));
            details.insert("name".into(), json!(name));
            details.insert("kind".into(), json!(kind));
            if !group.is_empty() {
                details.insert("group".into(), json!(group));
            }
        }
        _ => {}
    }
    if let ApiError::Invalid { message, .. } = e {
        details.insert("causes".into(), Value::Array(causes(message)));
    }
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": e.to_string(),
        "reason": e.reason(),
        "details": details,
        "code": e.code(),
    })
}

/// The kinds of field error kube-apiserver reports, by the words that start their text, and
/// the `StatusCause` type of each.
const CAUSE_TYPES: [(&str, &str); 8] = [
    ("Invalid value", "FieldValueInvalid"),
    ("Required value", "FieldValueRequired"),
    ("Forbidden", "FieldValueForbidden"),
    ("Unsupported value", "FieldValueNotSupported"),
    ("Duplicate value", "FieldValueDuplicate"),
    ("Too long", "FieldValueTooLong"),
    ("Too many", "FieldValueTooMany"),
    ("Not found", "FieldValueNotFound"),
];

/// One field error (`data: Forbidden: ...`) as a cause: its field, type and text.
fn cause(text: &str) -> Option<Value> {
    let (field, body) = text.split_once(": ")?;
    let (_, ty) = CAUSE_TYPES.iter().find(|(words, _)| body.starts_with(words))?;
    Some(json!({"reason": ty, "message": body, "field": field}))
}

/// The field errors of an `Invalid` message (`a: Required value` or `[a: ..., b: ...]`) as
/// `details.causes`: kubectl prints an invalid object's causes, not its message.
pub fn causes(message: &str) -> Vec<Value> {
    let inner = message
        .strip_prefix('[')
        .and_then(|m| m.strip_suffix(']'))
        .unwrap_or(message);
    // A new error starts after ", " where what follows reads `field: <Type>`.
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, _) in inner.match_indices(", ") {
        let rest = &inner[i + 2..];
        if i >= start && cause(rest).is_some_and(|c| c["field"].as_str().is_some_and(|f| !f.contains(", "))) {
            parts.push(&inner[start..i]);
            start = i + 2;
        }
    }
    parts.push(&inner[start..]);
    let found: Option<Vec<Value>> = parts.iter().map(|p| cause(p)).collect();
    found.unwrap_or_else(|| vec![json!({"message": message})])
}

/// The HTTP answer for an error.
pub fn error_response(e: &ApiError) -> Response {
    let code = StatusCode::from_u16(e.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &status_object(e))
}

/// The `Status` a successful delete of a whole object returns (kube-apiserver returns the
/// object; a Status is what it returns for collections and what kubectl accepts too).
pub fn success_status(kind: &str, name: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "kind": kind},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_errors_carry_their_causes() {
        let c = causes(
            r#"[spec.containers: Required value, spec.restartPolicy: Unsupported value: "X": supported values: "Always", "Never"]"#,
        );
        assert_eq!(c.len(), 2, "{c:?}");
        assert_eq!(
            c[0],
            json!({"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"})
        );
        assert_eq!(
            c[1]["message"],
            r#"Unsupported value: "X": supported values: "Always", "Never""#
        );
        assert_eq!(c[1]["reason"], "FieldValueNotSupported");
    }

    #[test]
    fn not_found_is_a_404_status_kubectl_can_print() {
        let s = status_object(&ApiError::not_found("pods", "web"));
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "pods \"web\" not found");
        assert_eq!(s["details"]["kind"], "pods");
    }

    #[test]
    fn invalid_carries_one_cause_per_field_error() {
        let one = causes("data: Forbidden: field is immutable when `immutable` is set");
        assert_eq!(one.len(), 1);
        assert_eq!(one[0]["field"], "data");
        assert_eq!(one[0]["reason"], "FieldValueForbidden");
        let two = causes(
            "[data[a b]: Invalid value: \"a b\": a valid config key must consist of alphanumeric characters, '-', '_' or '.', data[tls.crt]: Required value]",
        );
        assert_eq!(two.len(), 2, "{two:?}");
        assert_eq!(two[0]["field"], "data[a b]");
        assert_eq!(two[1]["field"], "data[tls.crt]");
        assert_eq!(two[1]["message"], "Required value");
    }
}
