//! JSON merge patch (RFC 7386): objects merge recursively, `null` deletes a key, everything
//! else (arrays included) replaces. This is what `kubectl label`, `annotate` and `scale` send.

use serde_json::{Map, Value};

use super::PatchError;

/// Applies the merge patch `patch` (a JSON object) to a copy of `doc`.
///
/// RFC 7386 lets a non-object patch replace the whole document; a Kubernetes object must stay
/// an object, so kube-apiserver (and podlab) reject it as `Invalid JSON Patch`.
pub fn apply(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::BadRequest("Invalid JSON Patch".into()));
    }
    let mut doc = doc.clone();
    merge_into(&mut doc, patch);
    Ok(doc)
}

/// The RFC 7386 `MergePatch(target, patch)` procedure, in place.
pub(crate) fn merge_into(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_into(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn merged(doc: Value, patch: Value) -> Value {
        apply(&doc, &patch).expect("merge patch applies")
    }

    #[test]
    fn rfc7386_appendix_a_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (json!({"a":"b","b":"c"}), json!({"a":null}), json!({"b":"c"})),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!({}), json!({"a":{"bb":{"ccc":null}}}), json!({"a":{"bb":{}}})),
        ];
        for (doc, patch, want) in cases {
            assert_eq!(merged(doc.clone(), patch.clone()), want, "{doc} + {patch}");
        }
    }

    #[test]
    fn arrays_keep_their_nulls() {
        assert_eq!(merged(json!({}), json!({"a":[null, 1]})), json!({"a":[null, 1]}));
    }

    #[test]
    fn non_object_patch_is_rejected() {
        for patch in [json!([1]), json!("x"), json!(null), json!(3)] {
            let err = apply(&json!({"a":1}), &patch).expect_err("rejected");
            assert_eq!(err.to_string(), "Invalid JSON Patch");
            assert_eq!(err.code(), 400);
        }
    }

    #[test]
    fn kubectl_label_adds_and_overwrites() {
        let node = json!({"metadata":{"name":"worker-1","labels":{"zone":"a"}}});
        let out = merged(node, json!({"metadata":{"labels":{"gpu":"true","zone":"b"}}}));
        assert_eq!(out["metadata"]["labels"], json!({"gpu":"true","zone":"b"}));
        assert_eq!(out["metadata"]["name"], "worker-1");
    }

    #[test]
    fn kubectl_label_removal_deletes_the_key() {
        let node = json!({"metadata":{"name":"worker-1","labels":{"gpu":"true","zone":"a"}}});
        let out = merged(node, json!({"metadata":{"labels":{"gpu":null}}}));
        assert_eq!(out["metadata"]["labels"], json!({"zone":"a"}));
        // Removing a label that is not there is not an error.
        let out = merged(out, json!({"metadata":{"labels":{"gpu":null}}}));
        assert_eq!(out["metadata"]["labels"], json!({"zone":"a"}));
    }

    #[test]
    fn kubectl_annotate_on_object_without_annotations() {
        let pod = json!({"metadata":{"name":"kubia"}});
        let out = merged(
            pod,
            json!({"metadata":{"annotations":{"mycompany.com/someannotation":"foo bar"}}}),
        );
        assert_eq!(
            out["metadata"]["annotations"],
            json!({"mycompany.com/someannotation":"foo bar"})
        );
    }

    #[test]
    fn kubectl_scale_sets_replicas() {
        let scale = json!({"kind":"Scale","metadata":{"name":"nginx"},"spec":{"replicas":3},"status":{"replicas":3}});
        let out = merged(scale, json!({"spec":{"replicas":5}}));
        assert_eq!(out["spec"]["replicas"], 5);
        assert_eq!(out["status"]["replicas"], 3);
    }

    #[test]
    fn merge_patch_of_containers_drops_their_ports() {
        let pod = json!({"spec":{"containers":[
            {"name":"nginx","image":"nginx:1.26","ports":[{"containerPort":80}]}
        ]}});
        let out = merged(
            pod,
            json!({"spec":{"containers":[{"name":"nginx","image":"nginx:1.27"}]}}),
        );
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name":"nginx","image":"nginx:1.27"}])
        );
    }

    #[test]
    fn merge_into_non_object_target_starts_from_empty() {
        let mut target = json!("scalar");
        merge_into(&mut target, &json!({"a":{"b":null,"c":1}}));
        assert_eq!(target, json!({"a":{"c":1}}));
    }
}
