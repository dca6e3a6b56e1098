//! `labelSelector` and `fieldSelector` query parameters. Label selectors are kubectl's
//! equality and set forms (the scenario crate's parser); field selectors compare a dotted path
//! of the object (`metadata.name`, `spec.nodeName`, `status.phase`, `involvedObject.uid`,
//! `type`, `reason`) with `=`, `==` or `!=`, as kube-apiserver's field selectors do.

use podlab_control_plane::ApiError;
use podlab_scenario::LabelSelector;
use serde_json::Value;
use std::collections::BTreeMap;

/// One `path=value` or `path!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FieldTerm {
    path: String,
    value: String,
    equal: bool,
}

/// The selectors of one list or watch.
#[derive(Debug, Clone, Default)]
pub struct Selectors {
    labels: Option<LabelSelector>,
    fields: Vec<FieldTerm>,
}

impl Selectors {
    /// Parses the two query parameters; a malformed one is a `BadRequest`.
    pub fn parse(label: Option<&str>, field: Option<&str>) -> Result<Self, ApiError> {
        let labels = match label.filter(|s| !s.trim().is_empty()) {
            Some(s) => Some(
                LabelSelector::parse(s)
                    .map_err(|e| ApiError::BadRequest(format!("unable to parse requirement: {e}")))?,
            ),
            None => None,
        };
        let mut fields = Vec::new();
        for term in field.unwrap_or_default().split(',').filter(|t| !t.trim().is_empty()) {
            let (path, value, equal) = if let Some((p, v)) = term.split_once("!=") {
                (p, v, false)
            } else if let Some((p, v)) = term.split_once("==") {
                (p, v, true)
            } else if let Some((p, v)) = term.split_once('=') {
                (p, v, true)
            } else {
                return Err(ApiError::BadRequest(format!(
                    "invalid selector: '{term}'; can't understand '{term}'"
                )));
            };
            fields.push(FieldTerm {
                path: path.trim().to_string(),
                value: value.trim().to_string(),
                equal,
            });
        }
        Ok(Selectors { labels, fields })
    }

    /// Whether `object` (as JSON) passes both selectors.
    pub fn matches(&self, object: &Value) -> bool {
        if let Some(sel) = &self.labels {
            let labels: BTreeMap<String, String> = object
                .pointer("/metadata/labels")
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default();
            if !sel.matches(&labels) {
                return false;
            }
        }
        self.fields
            .iter()
            .all(|t| (field(object, &t.path) == t.value) == t.equal)
    }

    /// The value a `fieldSelector=metadata.name=X` pins, if any (`kubectl wait`, `delete`).
    pub fn pinned_name(&self) -> Option<&str> {
        self.fields
            .iter()
            .find(|t| t.equal && t.path == "metadata.name")
            .map(|t| t.value.as_str())
    }
}

/// The text of a dotted field path in `object` ("" when absent), as field selectors see it.
fn field(object: &Value, path: &str) -> String {
    let mut v = object;
    for seg in path.split('.') {
        match v.get(seg) {
            Some(next) => v = next,
            None => return String::new(),
        }
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod() -> Value {
        json!({"metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
               "spec": {"nodeName": "worker-1"}, "status": {"phase": "Running"}})
    }

    #[test]
    fn field_selectors_compare_dotted_paths() {
        let s = Selectors::parse(None, Some("spec.nodeName=worker-1,status.phase!=Pending")).unwrap();
        assert!(s.matches(&pod()));
        let s = Selectors::parse(None, Some("metadata.name==db")).unwrap();
        assert!(!s.matches(&pod()));
        assert_eq!(s.pinned_name(), Some("db"));
    }

    #[test]
    fn label_selectors_use_kubectls_forms() {
        assert!(
            Selectors::parse(Some("app=web,tier in (front,back)"), None)
                .unwrap()
                .matches(&pod())
        );
        assert!(!Selectors::parse(Some("!tier"), None).unwrap().matches(&pod()));
        assert!(Selectors::parse(Some("app in (web"), None).is_err());
        assert!(Selectors::parse(None, Some("nonsense")).is_err());
    }
}
