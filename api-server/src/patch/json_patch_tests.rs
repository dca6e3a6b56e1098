//! Unit tests of the JSON patch (RFC 6902) engine.

use serde_json::{Value, json};

use super::*;

fn patched(doc: Value, patch: Value) -> Value {
    apply(&doc, &patch).expect("patch applies")
}

fn cause(doc: Value, patch: Value) -> String {
    match apply(&doc, &patch) {
        Err(PatchError::Rejected { cause }) => cause,
        other => panic!("expected a rejected patch, got {other:?}"),
    }
}

#[test]
fn add_to_object_and_array() {
    let out = patched(
        json!({"a":{"b":1},"l":[1,2]}),
        json!([
            {"op":"add","path":"/a/c","value":2},
            {"op":"add","path":"/l/1","value":9},
            {"op":"add","path":"/l/-","value":3},
            {"op":"add","path":"/l/4","value":4},
        ]),
    );
    assert_eq!(out, json!({"a":{"b":1,"c":2},"l":[1,9,2,3,4]}));
}

#[test]
fn add_replaces_an_existing_member_and_the_root() {
    assert_eq!(
        patched(json!({"a":1}), json!([{"op":"add","path":"/a","value":2}])),
        json!({"a":2})
    );
    assert_eq!(
        patched(json!({"a":1}), json!([{"op":"add","path":"","value":{"b":1}}])),
        json!({"b":1})
    );
}

#[test]
fn add_errors() {
    let c = cause(json!({"a":{}}), json!([{"op":"add","path":"/x/y","value":1}]));
    assert_eq!(
        c,
        "add operation does not apply: doc is missing path: \"/x/y\": missing value"
    );
    let c = cause(json!({"l":[1]}), json!([{"op":"add","path":"/l/3","value":1}]));
    assert!(c.contains("invalid index referenced"), "{c}");
    let c = cause(json!({"l":[1]}), json!([{"op":"add","path":"/l/01","value":1}]));
    assert!(c.contains("invalid index"), "{c}");
    let c = cause(json!({"a":1}), json!([{"op":"add","path":"/a"}]));
    assert!(c.contains("missing value"), "{c}");
}

#[test]
fn remove_member_and_element() {
    let out = patched(
        json!({"a":1,"b":2,"l":[1,2,3]}),
        json!([{"op":"remove","path":"/a"},{"op":"remove","path":"/l/0"}]),
    );
    assert_eq!(out, json!({"b":2,"l":[2,3]}));
}

#[test]
fn remove_missing_path_fails() {
    let c = cause(json!({"a":1}), json!([{"op":"remove","path":"/b"}]));
    assert_eq!(
        c,
        "remove operation does not apply: doc is missing path: \"/b\": missing value"
    );
    let c = cause(json!({"l":[1]}), json!([{"op":"remove","path":"/l/-"}]));
    assert!(c.contains("missing value"), "{c}");
    cause(json!({"a":1}), json!([{"op":"remove","path":""}]));
}

#[test]
fn replace_existing_and_missing() {
    assert_eq!(
        patched(
            json!({"spec":{"replicas":1}}),
            json!([{"op":"replace","path":"/spec/replicas","value":5}])
        ),
        json!({"spec":{"replicas":5}})
    );
    let c = cause(
        json!({"spec":{}}),
        json!([{"op":"replace","path":"/spec/replicas","value":5}]),
    );
    assert_eq!(
        c,
        "replace operation does not apply: doc is missing key: /spec/replicas: missing value"
    );
}

#[test]
fn move_and_copy() {
    let out = patched(
        json!({"a":{"x":1},"l":[1,2]}),
        json!([
            {"op":"move","from":"/a/x","path":"/b"},
            {"op":"copy","from":"/l","path":"/m"},
            {"op":"move","from":"/l/0","path":"/l/-"},
        ]),
    );
    assert_eq!(out, json!({"a":{},"b":1,"l":[2,1],"m":[1,2]}));
}

#[test]
fn move_to_same_path_is_a_no_op() {
    assert_eq!(
        patched(json!({"a":1}), json!([{"op":"move","from":"/a","path":"/a"}])),
        json!({"a":1})
    );
}

#[test]
fn move_into_own_child_fails() {
    let c = cause(
        json!({"a":{"b":{}}}),
        json!([{"op":"move","from":"/a","path":"/a/b/c"}]),
    );
    assert!(c.contains("into its own child"), "{c}");
}

#[test]
fn move_and_copy_from_missing_path_fail() {
    let c = cause(json!({}), json!([{"op":"move","from":"/x","path":"/y"}]));
    assert!(c.starts_with("move operation does not apply"), "{c}");
    let c = cause(json!({}), json!([{"op":"copy","from":"/x","path":"/y"}]));
    assert!(c.starts_with("copy operation does not apply"), "{c}");
}

#[test]
fn test_op_passes_and_fails() {
    let doc = json!({"spec":{"replicas":3,"l":[1,{"a":"b"}]}});
    patched(
        doc.clone(),
        json!([
            {"op":"test","path":"/spec/replicas","value":3.0},
            {"op":"test","path":"/spec/l","value":[1,{"a":"b"}]},
        ]),
    );
    let c = cause(doc.clone(), json!([{"op":"test","path":"/spec/replicas","value":4}]));
    assert_eq!(c, "testing value /spec/replicas failed: test failed");
    let c = cause(doc, json!([{"op":"test","path":"/nope","value":null}]));
    assert_eq!(c, "testing value /nope failed: test failed");
}

#[test]
fn failed_test_leaves_nothing_applied() {
    let doc = json!({"a":1});
    let err = apply(
        &doc,
        &json!([{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":1}]),
    )
    .expect_err("test fails");
    assert_eq!(
        err.to_string(),
        "the server rejected our request due to an error in our request"
    );
    assert_eq!(doc, json!({"a":1}));
}

#[test]
fn pointer_escapes() {
    assert_eq!(
        parse_pointer("/a~1b/c~0d/~01").expect("valid"),
        vec!["a/b", "c~d", "~1"]
    );
    assert_eq!(parse_pointer("").expect("valid"), Vec::<String>::new());
    assert_eq!(parse_pointer("/").expect("valid"), vec![""]);
    assert!(parse_pointer("a/b").is_err());
    assert!(parse_pointer("/a~2").is_err());
    assert!(parse_pointer("/a~").is_err());
}

#[test]
fn escaped_annotation_key() {
    let out = patched(
        json!({"metadata":{"annotations":{}}}),
        json!([{"op":"add","path":"/metadata/annotations/kubernetes.io~1change-cause","value":"x"}]),
    );
    assert_eq!(out["metadata"]["annotations"]["kubernetes.io/change-cause"], "x");
}

#[test]
fn unknown_or_missing_op() {
    assert_eq!(
        cause(json!({}), json!([{"op":"frob","path":"/a"}])),
        "Unexpected kind: frob"
    );
    assert_eq!(cause(json!({}), json!([{"path":"/a"}])), "Unexpected kind: unknown");
    let c = cause(json!({}), json!([{"op":"add","value":1}]));
    assert!(c.contains("path"), "{c}");
}

#[test]
fn body_must_be_an_array() {
    let err = apply(&json!({}), &json!({"op":"add"})).expect_err("not an array");
    assert_eq!(err.code(), 400);
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch"
    );
}

#[test]
fn too_many_operations() {
    let ops = vec![json!({"op":"test","path":"","value":{}}); MAX_OPERATIONS + 1];
    let err = apply(&json!({}), &Value::Array(ops)).expect_err("too many");
    assert_eq!(err.code(), 413);
    assert!(err.to_string().contains("10000"), "{err}");
}

#[test]
fn copy_amplification_is_bounded() {
    let mut ops = vec![json!({"op":"add","path":"/a","value":"x".repeat(1000)})];
    for i in 0..40 {
        ops.push(json!({"op":"copy","from":"","path":format!("/k{i}")}));
    }
    let c = cause(json!({}), Value::Array(ops));
    assert!(c.contains("accumulated size increase of copy"), "{c}");
}

#[test]
fn numbers_compare_by_value() {
    assert!(json_equal(&json!(1), &json!(1.0)));
    assert!(json_equal(&json!({"a":[1]}), &json!({"a":[1.0]})));
    assert!(!json_equal(&json!({"a":1}), &json!({"a":1,"b":2})));
    assert!(!json_equal(&json!("1"), &json!(1)));
}
