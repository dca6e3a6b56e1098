//! `fieldValidation` (`Strict`, `Warn`, `Ignore`): the fields of a request body that the
//! object's Kubernetes type does not have, named as kube-apiserver names them
//! (`unknown field "spec.contianers"`) with podlab's suggestion after
//! (`(did you mean "containers"?)`), and the fields podlab accepts but does not honour. Both
//! come from the scenario crate, the same code that checks files.

use crate::kinds::Kind;
use podlab_scenario::fields::unknown_json_fields;
use serde_json::Value;

/// The unknown fields of `body` as `kind`, kube-apiserver's words for each.
pub fn unknown_fields(kind: Kind, body: &Value) -> Vec<String> {
    use k8s_openapi::api::{apps::v1 as apps, core::v1 as core};
    let found = match kind {
        Kind::Pod => unknown_json_fields::<core::Pod>(body),
        Kind::Node => unknown_json_fields::<core::Node>(body),
        Kind::Namespace => unknown_json_fields::<core::Namespace>(body),
        Kind::Event => unknown_json_fields::<core::Event>(body),
        Kind::Deployment => unknown_json_fields::<apps::Deployment>(body),
        Kind::ReplicaSet => unknown_json_fields::<apps::ReplicaSet>(body),
        Kind::ConfigMap => unknown_json_fields::<core::ConfigMap>(body),
        Kind::Secret => unknown_json_fields::<core::Secret>(body),
    };
    found.iter().map(ToString::to_string).collect()
}

/// One warning per field of `body` that podlab does not honour.
pub fn unimplemented(kind: Kind, body: &Value) -> Vec<String> {
    podlab_scenario::unimplemented::warnings(kind.kind(), body)
        .into_iter()
        .map(|w| w.message)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_misspelt_field_is_named_with_its_path_and_a_suggestion() {
        let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                          "spec": {"contianers": [], "containers": [{"name": "c", "imagee": "x"}]}});
        let u = unknown_fields(Kind::Pod, &body);
        assert!(
            u.contains(&"unknown field \"spec.contianers\" (did you mean \"containers\"?)".to_string()),
            "{u:?}"
        );
        assert!(
            u.contains(&"unknown field \"spec.containers[0].imagee\" (did you mean \"image\"?)".to_string()),
            "{u:?}"
        );
        assert_eq!(u.len(), 2);
    }

    #[test]
    fn fields_podlab_does_not_honour_warn() {
        let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"},
                          "spec": {"containers": [{"name": "c", "image": "x", "tty": true}]}});
        let w = unimplemented(Kind::Pod, &body);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(
            w[0].starts_with("spec.containers[0].tty: not implemented by podlab"),
            "{w:?}"
        );
    }
}
