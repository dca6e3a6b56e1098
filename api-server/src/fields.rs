//! `fieldValidation` (`Strict`, `Warn`, `Ignore`): the fields of a request body that the
//! object's Kubernetes type does not have, found by comparing the body with the typed object
//! serialized back (what a field the type dropped looks like), named as kube-apiserver names
//! them (`unknown field "spec.contianers"`).

use crate::kinds::Kind;
use serde_json::Value;

/// The paths of `body`'s fields that `typed` lost.
pub fn unknown(body: &Value, typed: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(body, typed, "", &mut out);
    out
}

fn walk(body: &Value, typed: &Value, path: &str, out: &mut Vec<String>) {
    match (body, typed) {
        (Value::Object(b), Value::Object(t)) => {
            for (k, v) in b {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match t.get(k) {
                    Some(tv) => walk(v, tv, &p, out),
                    None if v.is_null() => {}
                    None => out.push(p),
                }
            }
        }
        (Value::Array(b), Value::Array(t)) => {
            for (i, (bv, tv)) in b.iter().zip(t).enumerate() {
                walk(bv, tv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// The typed round trip of `body` as `kind` (`None` when it does not parse at all: the create
/// itself reports that).
pub fn round_trip(kind: Kind, body: &Value) -> Option<Value> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core};
    fn via<T: serde::de::DeserializeOwned + serde::Serialize>(b: &Value) -> Option<Value> {
        serde_json::from_value::<T>(b.clone())
            .ok()
            .and_then(|t| serde_json::to_value(t).ok())
    }
    match kind {
        Kind::Pod => via::<core::Pod>(body),
        Kind::Node => via::<core::Node>(body),
        Kind::Namespace => via::<core::Namespace>(body),
        Kind::Event => via::<core::Event>(body),
        Kind::Deployment => via::<apps::Deployment>(body),
        Kind::ReplicaSet => via::<apps::ReplicaSet>(body),
        Kind::ConfigMap => via::<core::ConfigMap>(body),
        Kind::Secret => via::<core::Secret>(body),
    }
}

/// The unknown fields of `body` as `kind`, kube-apiserver's words for each.
pub fn unknown_fields(kind: Kind, body: &Value) -> Vec<String> {
    let Some(typed) = round_trip(kind, body) else {
        return vec![];
    };
    unknown(body, &typed)
        .into_iter()
        .filter(|p| p != "metadata.managedFields")
        .map(|p| format!("unknown field \"{p}\""))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_misspelt_field_is_named_with_its_path() {
        let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                          "spec": {"contianers": [], "containers": [{"name": "c", "imagee": "x"}]}});
        let u = unknown_fields(Kind::Pod, &body);
        assert!(u.contains(&"unknown field \"spec.contianers\"".to_string()), "{u:?}");
        assert!(
            u.contains(&"unknown field \"spec.containers[0].imagee\"".to_string()),
            "{u:?}"
        );
        assert_eq!(u.len(), 2);
    }
}
