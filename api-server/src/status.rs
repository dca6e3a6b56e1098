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
        let causes = causes(message);
        if !causes.is_empty() {
            details.insert("causes".into(), Value::Array(causes));
        }
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

/// An `Invalid` error's field errors (`[spec.containers: Required value, ...]`) as
/// kube-apiserver's `details.causes`, which kubectl prints one per line
/// (`* spec.containers: Required value`).
fn causes(message: &str) -> Vec<Value> {
    let list = message
        .strip_prefix('[')
        .and_then(|m| m.strip_suffix(']'))
        .unwrap_or(message);
    let starts_cause = |piece: &str| {
        piece.split_once(": ").is_some_and(|(field, _)| {
            !field.is_empty() && field.chars().all(|c| c.is_ascii_alphanumeric() || "._-[]/".contains(c))
        })
    };
    let mut items: Vec<String> = Vec::new();
    for piece in list.split(", ") {
        match items.last_mut() {
            Some(last) if !starts_cause(piece) => {
                last.push_str(", ");
                last.push_str(piece);
            }
            _ => items.push(piece.to_string()),
        }
    }
    items
        .iter()
        .filter_map(|item| {
            let (field, text) = item.split_once(": ").filter(|_| starts_cause(item))?;
            let reason = [
                ("Required value", "FieldValueRequired"),
                ("Unsupported value", "FieldValueNotSupported"),
                ("Forbidden", "FieldValueForbidden"),
                ("Duplicate value", "FieldValueDuplicate"),
            ]
            .iter()
            .find(|(prefix, _)| text.starts_with(prefix))
            .map_or("FieldValueInvalid", |(_, r)| *r);
            Some(json!({"reason": reason, "message": text, "field": field}))
        })
        .collect()
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
}
