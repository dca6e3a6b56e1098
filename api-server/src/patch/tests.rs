//! Unit tests of the patch entry point: content types, the identity rules, server-side apply
//! and the kubectl request shapes of `../shared/KUBECTL-WIRE.md`.

use serde_json::{Value, json};

use super::*;

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kubia-manual", "namespace": "default", "resourceVersion": "7",
                     "labels": {"creation_method": "manual"}},
        "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia",
                                 "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]},
        "status": {"phase": "Running"}
    })
}

fn node() -> Value {
    json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "worker-1", "labels": {"kubernetes.io/hostname": "worker-1"}}})
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26",
                                                       "ports": [{"containerPort": 80}]}]}}}
    })
}

#[test]
fn content_types() {
    let cases = [
        ("application/json-patch+json", Some(PatchType::Json)),
        ("application/merge-patch+json", Some(PatchType::Merge)),
        (
            "application/strategic-merge-patch+json",
            Some(PatchType::StrategicMerge),
        ),
        ("application/apply-patch+yaml", Some(PatchType::Apply)),
        ("application/merge-patch+json; charset=utf-8", Some(PatchType::Merge)),
        ("Application/JSON-Patch+JSON", Some(PatchType::Json)),
        ("application/json", None),
        ("application/vnd.kubernetes.protobuf", None),
        ("", None),
    ];
    for (ct, want) in cases {
        assert_eq!(PatchType::from_content_type(ct), want, "{ct}");
    }
    for ty in [
        PatchType::Json,
        PatchType::Merge,
        PatchType::StrategicMerge,
        PatchType::Apply,
    ] {
        assert_eq!(PatchType::from_content_type(ty.content_type()), Some(ty));
    }
}

#[test]
fn kubectl_label_node() {
    let patch = json!({"metadata": {"labels": {"gpu": "true"}}});
    let out = apply_patch("Node", &node(), &patch, PatchType::Merge).expect("applies");
    assert_eq!(out["metadata"]["labels"]["gpu"], "true");
    assert_eq!(out["metadata"]["labels"]["kubernetes.io/hostname"], "worker-1");
    let patch = json!({"metadata": {"labels": {"gpu": null}}});
    let out = apply_patch("Node", &out, &patch, PatchType::Merge).expect("applies");
    assert_eq!(out["metadata"]["labels"], json!({"kubernetes.io/hostname": "worker-1"}));
}

#[test]
fn kubectl_label_overwrite_and_annotate_pod() {
    let patch = json!({"metadata": {"labels": {"creation_method": "auto"}}});
    let out = apply_patch("Pod", &pod(), &patch, PatchType::Merge).expect("applies");
    assert_eq!(out["metadata"]["labels"]["creation_method"], "auto");
    let patch = json!({"metadata": {"annotations": {"mycompany.com/someannotation": "foo bar"}}});
    let out = apply_patch("Pod", &out, &patch, PatchType::Merge).expect("applies");
    assert_eq!(
        out["metadata"]["annotations"]["mycompany.com/someannotation"],
        "foo bar"
    );
    assert_eq!(out["spec"], pod()["spec"]);
}

#[test]
fn kubectl_scale() {
    let scale = json!({"apiVersion": "autoscaling/v1", "kind": "Scale",
                       "metadata": {"name": "nginx", "namespace": "default"},
                       "spec": {"replicas": 3}, "status": {"replicas": 3, "selector": "app=nginx"}});
    let out = apply_patch("Scale", &scale, &json!({"spec": {"replicas": 5}}), PatchType::Merge).expect("applies");
    assert_eq!(out["spec"]["replicas"], 5);
    // The same body on the deployment itself.
    let out = apply_patch(
        "Deployment",
        &deployment(),
        &json!({"spec": {"replicas": 5}}),
        PatchType::Merge,
    )
    .expect("applies");
    assert_eq!(out["spec"]["replicas"], 5);
    assert_eq!(out["spec"]["template"], deployment()["spec"]["template"]);
}

#[test]
fn merge_patch_drops_ports_strategic_keeps_them() {
    let patch = json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}});
    let merged = apply_patch("Deployment", &deployment(), &patch, PatchType::Merge).expect("applies");
    let c = &merged["spec"]["template"]["spec"]["containers"][0];
    assert!(c.get("ports").is_none());
    let strategic = apply_patch("Deployment", &deployment(), &patch, PatchType::StrategicMerge).expect("applies");
    let c = &strategic["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.27");
    assert_eq!(c["ports"], json!([{"containerPort": 80}]));
}

#[test]
fn json_patch_through_the_entry_point() {
    let patch = json!([
        {"op": "test", "path": "/spec/replicas", "value": 3},
        {"op": "replace", "path": "/spec/replicas", "value": 1}
    ]);
    let out = apply_patch("Deployment", &deployment(), &patch, PatchType::Json).expect("applies");
    assert_eq!(out["spec"]["replicas"], 1);
    let err = apply_patch(
        "Deployment",
        &deployment(),
        &json!([{"op": "remove", "path": "/spec/paused"}]),
        PatchType::Json,
    )
    .expect_err("missing path");
    assert_eq!(err.code(), 422);
    assert_eq!(err.reason(), "Invalid");
    assert!(
        err.cause()
            .is_some_and(|c| c.contains("/spec/paused") && c.starts_with("remove operation"))
    );
}

#[test]
fn server_side_apply_keeps_omitted_fields() {
    let applied = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx", "labels": {"tier": "web"}},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "nginx"}},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}}}
    });
    let out = apply_patch("Deployment", &deployment(), &applied, PatchType::Apply).expect("applies");
    assert_eq!(out["spec"]["replicas"], 2);
    assert_eq!(out["metadata"]["labels"]["tier"], "web");
    let c = &out["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.27");
    assert_eq!(c["ports"], json!([{"containerPort": 80}]));
}

#[test]
fn server_side_apply_of_another_name_or_kind_fails() {
    let mut applied = deployment();
    applied["metadata"]["name"] = json!("other");
    let err = apply_patch("Deployment", &deployment(), &applied, PatchType::Apply).expect_err("other name");
    assert_eq!(
        err.to_string(),
        "the name of the object (other) does not match the name on the URL (nginx)"
    );
    let mut applied = deployment();
    applied["kind"] = json!("ReplicaSet");
    let err = apply_patch("Deployment", &deployment(), &applied, PatchType::Apply).expect_err("other kind");
    assert_eq!(err.code(), 400);
    assert_eq!(err.reason(), "BadRequest");
}

#[test]
fn identity_cannot_change_by_any_patch_type() {
    let cases = [
        (json!({"metadata": {"name": "x"}}), PatchType::Merge),
        (json!({"metadata": {"name": null}}), PatchType::Merge),
        (json!({"kind": "Node"}), PatchType::StrategicMerge),
        (json!({"apiVersion": "v2"}), PatchType::Merge),
        (
            json!([{"op": "replace", "path": "/metadata/name", "value": "x"}]),
            PatchType::Json,
        ),
        (json!([{"op": "remove", "path": "/metadata"}]), PatchType::Json),
        (json!([{"op": "add", "path": "", "value": [1]}]), PatchType::Json),
    ];
    for (patch, ty) in cases {
        let err = apply_patch("Pod", &pod(), &patch, ty).expect_err("identity kept");
        assert_eq!(err.code(), 400, "{patch}: {err}");
    }
}

#[test]
fn removed_api_version_and_kind_come_back() {
    let out = apply_patch(
        "Pod",
        &pod(),
        &json!({"apiVersion": null, "kind": null}),
        PatchType::Merge,
    )
    .expect("applies");
    assert_eq!(out["apiVersion"], "v1");
    assert_eq!(out["kind"], "Pod");
    let out = apply_patch(
        "Pod",
        &pod(),
        &json!([{"op": "remove", "path": "/kind"}]),
        PatchType::Json,
    )
    .expect("applies");
    assert_eq!(out["kind"], "Pod");
}

#[test]
fn resource_version_in_a_patch_stays_for_the_caller() {
    let out = apply_patch(
        "Pod",
        &pod(),
        &json!({"metadata": {"resourceVersion": "3", "labels": {"a": "b"}}}),
        PatchType::StrategicMerge,
    )
    .expect("applies");
    assert_eq!(out["metadata"]["resourceVersion"], "3");
}

#[test]
fn live_object_is_untouched() {
    let live = pod();
    let _ = apply_patch(
        "Pod",
        &live,
        &json!({"spec": {"containers": [{"name": "kubia", "$patch": "delete"}]}}),
        PatchType::StrategicMerge,
    )
    .expect("applies");
    assert_eq!(live, pod());
}

#[test]
fn error_codes_and_reasons() {
    let cases = [
        (PatchError::BadRequest("x".into()), 400, "BadRequest"),
        (PatchError::Rejected { cause: "c".into() }, 422, "Invalid"),
        (PatchError::TooLarge("x".into()), 413, "RequestEntityTooLarge"),
        (PatchError::Unmergeable("x".into()), 422, "Invalid"),
    ];
    for (err, code, reason) in cases {
        assert_eq!((err.code(), err.reason()), (code, reason), "{err:?}");
    }
    let rejected = PatchError::Rejected { cause: "c".into() };
    assert_eq!(rejected.cause(), Some("c"));
    assert_eq!(PatchError::BadRequest("x".into()).cause(), None);
}

#[test]
fn strip_nulls_at_any_depth() {
    let mut v = json!({"a": null, "b": {"c": null, "d": 1}, "l": [null, {"e": null}]});
    strip_nulls(&mut v);
    assert_eq!(v, json!({"b": {"d": 1}, "l": [null, {}]}));
}
