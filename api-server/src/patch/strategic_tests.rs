//! Unit tests of the strategic merge patch engine: every directive, the merge keys of the
//! kinds podlab serves, and the bodies kubectl sends.

use serde_json::{Value, json};

use super::*;

fn smp(kind: &str, doc: Value, patch: Value) -> Value {
    apply(kind, &doc, &patch).expect("strategic merge patch applies")
}

fn smp_err(kind: &str, doc: Value, patch: Value) -> PatchError {
    apply(kind, &doc, &patch).expect_err("strategic merge patch is rejected")
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|c| c["name"].as_str().expect("a name"))
        .collect()
}

fn nginx_pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nginx", "labels": {"app": "nginx"}},
        "spec": {"containers": [{
            "name": "nginx", "image": "nginx:1.26",
            "ports": [{"containerPort": 80, "protocol": "TCP"}],
            "resources": {"limits": {"cpu": "100m"}},
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
        }]}
    })
}

#[test]
fn kubectl_client_side_apply_keeps_container_fields() {
    let patch = json!({
        "metadata": {"annotations": {
            "kubectl.kubernetes.io/last-applied-configuration": "{\"kind\":\"Pod\"}\n"
        }},
        "spec": {
            "$setElementOrder/containers": [{"name": "nginx"}],
            "containers": [{"image": "nginx:1.27", "name": "nginx"}]
        }
    });
    let out = smp("Pod", nginx_pod(), patch);
    let c = &out["spec"]["containers"][0];
    assert_eq!(c["image"], "nginx:1.27");
    assert_eq!(c["ports"], json!([{"containerPort": 80, "protocol": "TCP"}]));
    assert_eq!(c["resources"], json!({"limits": {"cpu": "100m"}}));
    assert_eq!(
        out["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"],
        "{\"kind\":\"Pod\"}\n"
    );
    assert_eq!(out["metadata"]["labels"], json!({"app": "nginx"}));
    assert!(out["spec"].get("$setElementOrder/containers").is_none());
}

#[test]
fn same_shape_on_a_deployment_template() {
    let deploy = json!({
        "kind": "Deployment", "metadata": {"name": "nginx"},
        "spec": {"replicas": 2, "template": {"spec": nginx_pod()["spec"].clone()}}
    });
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "nginx"}],
        "containers": [{"image": "nginx:1.27", "name": "nginx"}]
    }}}});
    for kind in ["Deployment", "ReplicaSet"] {
        let out = smp(kind, deploy.clone(), patch.clone());
        let c = &out["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "nginx:1.27");
        assert_eq!(c["ports"][0]["containerPort"], 80);
        assert_eq!(out["spec"]["replicas"], 2);
    }
}

#[test]
fn pod_template_path_is_not_used_for_pods() {
    // On a Deployment `spec.containers` is not a pod spec: the list is replaced.
    let doc = json!({"spec": {"containers": [{"name": "a", "x": 1}]}});
    let out = smp("Deployment", doc, json!({"spec": {"containers": [{"name": "a"}]}}));
    assert_eq!(out["spec"]["containers"], json!([{"name": "a"}]));
}

#[test]
fn containers_merge_by_name_and_new_ones_are_appended() {
    let patch = json!({"spec": {"containers": [
        {"name": "sidecar", "image": "busybox"},
        {"name": "nginx", "image": "nginx:1.27"}
    ]}});
    let out = smp("Pod", nginx_pod(), patch);
    let containers = &out["spec"]["containers"];
    assert_eq!(names(containers), ["sidecar", "nginx"]);
    assert_eq!(containers[1]["ports"][0]["containerPort"], 80);
}

#[test]
fn nested_lists_merge_by_their_keys() {
    let patch = json!({"spec": {"containers": [{
        "name": "nginx",
        "ports": [{"containerPort": 443}, {"containerPort": 80, "name": "http"}],
        "env": [{"name": "B", "value": "two"}, {"name": "C", "value": "3"}]
    }]}});
    let out = smp("Pod", nginx_pod(), patch);
    let c = &out["spec"]["containers"][0];
    assert_eq!(
        c["ports"],
        json!([
            {"containerPort": 443},
            {"containerPort": 80, "protocol": "TCP", "name": "http"}
        ])
    );
    assert_eq!(
        c["env"],
        json!([
            {"name": "A", "value": "1"},
            {"name": "B", "value": "two"},
            {"name": "C", "value": "3"}
        ])
    );
}

#[test]
fn merged_order_interleaves_like_kube_apiserver() {
    // live [a, b, c], patch [b', d]: normalizeElementOrder gives [a, b', d, c].
    let doc = json!({"spec": {"volumes": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}});
    let patch = json!({"spec": {"volumes": [{"name": "b", "emptyDir": {}}, {"name": "d"}]}});
    let out = smp("Pod", doc, patch);
    assert_eq!(names(&out["spec"]["volumes"]), ["a", "b", "d", "c"]);
    assert_eq!(out["spec"]["volumes"][1]["emptyDir"], json!({}));
}

#[test]
fn volume_mounts_and_devices_keys() {
    let doc = json!({"spec": {"initContainers": [{"name": "init",
        "volumeMounts": [{"mountPath": "/a", "name": "v"}],
        "volumeDevices": [{"devicePath": "/dev/x", "name": "d"}]}]}});
    let patch = json!({"spec": {"initContainers": [{"name": "init",
        "volumeMounts": [{"mountPath": "/a", "readOnly": true}],
        "volumeDevices": [{"devicePath": "/dev/y", "name": "e"}]}]}});
    let out = smp("Pod", doc, patch);
    let c = &out["spec"]["initContainers"][0];
    assert_eq!(
        c["volumeMounts"],
        json!([{"mountPath": "/a", "name": "v", "readOnly": true}])
    );
    assert_eq!(c["volumeDevices"].as_array().map(Vec::len), Some(2));
}

#[test]
fn lists_without_merge_key_are_replaced() {
    let doc = json!({"spec": {
        "tolerations": [{"key": "a"}],
        "containers": [{"name": "c", "args": ["x", "y"]}]
    }});
    let patch = json!({"spec": {
        "tolerations": [{"key": "b"}],
        "containers": [{"name": "c", "args": ["z"]}]
    }});
    let out = smp("Pod", doc, patch);
    assert_eq!(out["spec"]["tolerations"], json!([{"key": "b"}]));
    assert_eq!(out["spec"]["containers"][0]["args"], json!(["z"]));
}

#[test]
fn node_taints_replaced_conditions_and_addresses_merged() {
    let node = json!({"kind": "Node", "metadata": {"name": "worker-1"},
    "spec": {"taints": [{"key": "a", "effect": "NoSchedule"}], "podCIDRs": ["10.244.1.0/24"]},
    "status": {
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "DiskPressure", "status": "False"}],
        "addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]
    }});
    let patch = json!({
        "spec": {"taints": [{"key": "b", "effect": "NoExecute"}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "False"}],
            "addresses": [{"type": "Hostname", "address": "worker-1"}]
        }
    });
    let out = smp("Node", node, patch);
    assert_eq!(out["spec"]["taints"], json!([{"key": "b", "effect": "NoExecute"}]));
    assert_eq!(
        out["status"]["conditions"],
        json!([{"type": "Ready", "status": "False"}, {"type": "DiskPressure", "status": "False"}])
    );
    assert_eq!(out["status"]["addresses"].as_array().map(Vec::len), Some(2));
}

#[test]
fn pod_status_conditions_merge_by_type() {
    let pod = json!({"status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}});
    let patch = json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
    let out = smp("Pod", pod, patch);
    assert_eq!(out["status"]["phase"], "Running");
    assert_eq!(out["status"]["conditions"].as_array().map(Vec::len), Some(2));
}

#[test]
fn finalizers_merge_as_a_set() {
    let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
    let out = smp("Namespace", doc, json!({"metadata": {"finalizers": ["b", "c"]}}));
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
}

#[test]
fn owner_references_merge_by_uid() {
    let doc = json!({"metadata": {"ownerReferences": [{"uid": "1", "name": "rs-a"}]}});
    let patch = json!({"metadata": {"ownerReferences": [{"uid": "2", "name": "rs-b"}]}});
    let out = smp("Pod", doc, patch);
    assert_eq!(out["metadata"]["ownerReferences"].as_array().map(Vec::len), Some(2));
}

#[test]
fn delete_from_primitive_list() {
    let doc = json!({"metadata": {"finalizers": ["a", "b", "c"]}});
    let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "x"]}});
    let out = smp("Pod", doc, patch);
    assert_eq!(out["metadata"]["finalizers"], json!(["a", "c"]));
    assert!(out["metadata"].get("$deleteFromPrimitiveList/finalizers").is_none());
}

#[test]
fn delete_from_primitive_list_with_additions_and_order() {
    let doc = json!({"metadata": {"finalizers": ["a", "b"]}});
    let patch = json!({"metadata": {
        "$setElementOrder/finalizers": ["c", "a"],
        "$deleteFromPrimitiveList/finalizers": ["b"],
        "finalizers": ["c"]
    }});
    let out = smp("Pod", doc, patch);
    assert_eq!(out["metadata"]["finalizers"], json!(["c", "a"]));
}

#[test]
fn delete_from_primitive_list_must_be_a_list() {
    let err = smp_err(
        "Pod",
        json!({"metadata": {"finalizers": ["a"]}}),
        json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}}),
    );
    assert_eq!(err.to_string(), "invalid patch format of primitive list");
    assert_eq!(err.code(), 400);
}

#[test]
fn patch_delete_in_list_removes_by_key() {
    let patch = json!({"spec": {"containers": [{
        "name": "nginx",
        "env": [{"name": "A", "$patch": "delete"}],
        "ports": [{"containerPort": 80, "$patch": "delete"}]
    }]}});
    let out = smp("Pod", nginx_pod(), patch);
    let c = &out["spec"]["containers"][0];
    assert_eq!(c["env"], json!([{"name": "B", "value": "2"}]));
    assert_eq!(c["ports"], json!([]));
}

#[test]
fn patch_delete_without_merge_key_fails() {
    let patch = json!({"spec": {"containers": [{"$patch": "delete", "image": "x"}]}});
    let err = smp_err("Pod", nginx_pod(), patch);
    assert!(
        err.to_string().ends_with("does not contain declared merge key: name"),
        "{err}"
    );
    assert_eq!(err.code(), 422);
}

#[test]
fn patch_replace_in_list() {
    let patch = json!({"spec": {"containers": [
        {"$patch": "replace"},
        {"name": "only", "image": "busybox"}
    ]}});
    let out = smp("Pod", nginx_pod(), patch);
    assert_eq!(out["spec"]["containers"], json!([{"name": "only", "image": "busybox"}]));
}

#[test]
fn patch_merge_in_list_is_rejected() {
    let patch = json!({"spec": {"containers": [{"$patch": "merge"}]}});
    let err = smp_err("Pod", nginx_pod(), patch);
    assert_eq!(err.to_string(), "merging lists cannot yet be specified in the patch");
}

#[test]
fn patch_replace_in_map() {
    let patch = json!({"metadata": {"labels": {"$patch": "replace", "tier": "web"}}});
    let out = smp("Pod", nginx_pod(), patch);
    assert_eq!(out["metadata"]["labels"], json!({"tier": "web"}));
}

#[test]
fn patch_delete_in_map_removes_it() {
    let patch = json!({"metadata": {"labels": {"$patch": "delete"}}});
    let out = smp("Pod", nginx_pod(), patch);
    assert!(out["metadata"].get("labels").is_none());
    assert_eq!(out["metadata"]["name"], "nginx");
}

#[test]
fn patch_merge_in_map_is_the_default() {
    let patch = json!({"metadata": {"labels": {"$patch": "merge", "tier": "web"}}});
    let out = smp("Pod", nginx_pod(), patch);
    assert_eq!(out["metadata"]["labels"], json!({"app": "nginx", "tier": "web"}));
}

#[test]
fn unknown_patch_directive_value() {
    let err = smp_err(
        "Pod",
        nginx_pod(),
        json!({"metadata": {"labels": {"$patch": "explode"}}}),
    );
    assert!(err.to_string().starts_with("unknown patch type: explode"), "{err}");
}

#[test]
fn unknown_directive_key_is_rejected() {
    let err = smp_err("Pod", nginx_pod(), json!({"spec": {"$frobnicate": 1}}));
    assert_eq!(err.code(), 400);
}

#[test]
fn retain_keys_clears_unlisted_fields() {
    let deploy = json!({"spec": {"strategy": {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1}
    }}});
    let patch = json!({"spec": {"strategy": {
        "$retainKeys": ["type"],
        "type": "Recreate"
    }}});
    let out = smp("Deployment", deploy, patch);
    assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
}

#[test]
fn retain_keys_in_a_volume_switches_its_source() {
    let pod = json!({"spec": {"volumes": [{"name": "data", "emptyDir": {}}]}});
    let patch = json!({"spec": {"volumes": [{
        "$retainKeys": ["hostPath", "name"],
        "name": "data",
        "hostPath": {"path": "/tmp"}
    }]}});
    let out = smp("Pod", pod, patch);
    assert_eq!(
        out["spec"]["volumes"],
        json!([{"name": "data", "hostPath": {"path": "/tmp"}}])
    );
}

#[test]
fn retain_keys_must_list_what_the_patch_sets() {
    let err = smp_err(
        "Deployment",
        json!({"spec": {"strategy": {"type": "Recreate"}}}),
        json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
    );
    assert_eq!(err.to_string(), "invalid patch format of retainKeys");
    let err = smp_err(
        "Deployment",
        json!({}),
        json!({"spec": {"strategy": {"$retainKeys": "type"}}}),
    );
    assert_eq!(err.code(), 400);
}

#[test]
fn set_element_order_reorders_the_merged_list() {
    let pod = json!({"spec": {"containers": [
        {"name": "a", "image": "1"}, {"name": "b", "image": "2"}, {"name": "c", "image": "3"}
    ]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
        "containers": [{"name": "a", "image": "1b"}]
    }});
    let out = smp("Pod", pod, patch);
    let containers = &out["spec"]["containers"];
    assert_eq!(names(containers), ["c", "a", "b"]);
    assert_eq!(containers[1]["image"], "1b");
}

#[test]
fn set_element_order_alone_only_reorders() {
    let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}});
    let out = smp("Pod", pod, patch);
    assert_eq!(names(&out["spec"]["containers"]), ["b", "a"]);
}

#[test]
fn set_element_order_interleaves_unlisted_live_elements() {
    // As kube-apiserver's mergeSortedSlice: an element the list does not name keeps its live
    // place relative to the named ones where it can (before them here, after them below).
    let pod = json!({"spec": {"containers": [{"name": "x"}, {"name": "a"}, {"name": "b"}]}});
    let patch = json!({"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}});
    let out = smp("Pod", pod, patch.clone());
    assert_eq!(names(&out["spec"]["containers"]), ["x", "b", "a"]);
    let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "x"}]}});
    let out = smp("Pod", pod, patch);
    assert_eq!(names(&out["spec"]["containers"]), ["b", "a", "x"]);
}

#[test]
fn set_element_order_with_a_new_list() {
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
        "containers": [{"name": "b"}, {"name": "a"}]
    }});
    let out = smp("Pod", json!({"spec": {}}), patch);
    assert_eq!(names(&out["spec"]["containers"]), ["b", "a"]);
}

#[test]
fn set_element_order_with_deletion_of_an_element() {
    // kubectl apply after removing container "b" from the manifest.
    let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "a"}],
        "containers": [{"name": "b", "$patch": "delete"}]
    }});
    let out = smp("Pod", pod, patch);
    assert_eq!(names(&out["spec"]["containers"]), ["a"]);
}

#[test]
fn set_element_order_must_agree_with_the_patch() {
    let pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "a"}],
        "containers": [{"name": "b", "image": "x"}]
    }});
    let err = smp_err("Pod", pod, patch);
    assert!(err.to_string().starts_with("The order in patch list:"), "{err}");
    let err = smp_err(
        "Pod",
        json!({}),
        json!({"spec": {"$setElementOrder/containers": {"name": "a"}}}),
    );
    assert_eq!(err.to_string(), "invalid patch format of setElementOrder list");
}

#[test]
fn directives_in_added_values_do_not_reach_the_result() {
    let patch = json!({"spec": {"containers": [{
        "name": "new",
        "env": [{"name": "gone", "$patch": "delete"}, {"name": "kept", "value": null}],
        "securityContext": {"$patch": "replace", "privileged": false, "runAsUser": null}
    }]}});
    let out = smp("Pod", json!({"spec": {}}), patch);
    assert_eq!(
        out["spec"]["containers"],
        json!([{
            "name": "new",
            "env": [{"name": "kept"}],
            "securityContext": {"privileged": false}
        }])
    );
}

#[test]
fn nulls_delete_and_are_not_added() {
    let out = smp(
        "Pod",
        nginx_pod(),
        json!({"metadata": {"labels": {"app": null, "x": null}}, "spec": {"nodeName": null}}),
    );
    assert_eq!(out["metadata"]["labels"], json!({}));
    assert!(out["spec"].get("nodeName").is_none());
}

#[test]
fn scalars_and_type_changes_replace() {
    let out = smp(
        "Pod",
        json!({"spec": {"a": [1], "b": {"c": 1}, "d": 1}}),
        json!({"spec": {"a": {"x": 1}, "b": "s", "d": [2]}}),
    );
    assert_eq!(out["spec"], json!({"a": {"x": 1}, "b": "s", "d": [2]}));
}

#[test]
fn list_of_lists_is_rejected() {
    let err = smp_err("Pod", nginx_pod(), json!({"spec": {"containers": [["a"]]}}));
    assert_eq!(
        err,
        PatchError::Rejected {
            cause: "lists of lists are not supported".into()
        }
    );
}

#[test]
fn merge_key_element_without_key_is_rejected() {
    let err = smp_err("Pod", nginx_pod(), json!({"spec": {"containers": [{"image": "x"}]}}));
    assert_eq!(
        err.to_string(),
        "map: {\"image\":\"x\"} does not contain declared merge key: name"
    );
}

#[test]
fn non_object_body_is_a_bad_request() {
    let err = smp_err("Pod", nginx_pod(), json!([1]));
    assert_eq!(
        err.to_string(),
        "json: cannot unmarshal array into Go value of type map[string]interface {}"
    );
}

#[test]
fn other_kinds_merge_like_merge_patch_below_metadata() {
    let event =
        json!({"kind": "Event", "metadata": {"name": "e"}, "involvedObject": {"kind": "Pod"}, "series": {"l": [1]}});
    let out = smp(
        "Event",
        event,
        json!({"count": 2, "series": {"l": [2]}, "involvedObject": {"name": "p"}}),
    );
    assert_eq!(out["count"], 2);
    assert_eq!(out["series"]["l"], json!([2]));
    assert_eq!(out["involvedObject"], json!({"kind": "Pod", "name": "p"}));
}

#[test]
fn long_lists_merge_in_linear_time() {
    let n = 20_000;
    let env = |prefix: &str| -> Value {
        (0..n)
            .map(|i| json!({"name": format!("{prefix}{i}"), "value": "v"}))
            .collect()
    };
    let pod = json!({"spec": {"containers": [{"name": "c", "env": env("A")}]}});
    let patch = json!({"spec": {"containers": [{"name": "c", "env": env("B")}]}});
    let started = std::time::Instant::now();
    let out = smp("Pod", pod, patch);
    assert_eq!(
        out["spec"]["containers"][0]["env"].as_array().map(Vec::len),
        Some(2 * n)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

#[test]
fn merge_keys_compare_numbers_by_value() {
    let pod = json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}]}]}});
    let patch = json!({"spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80.0, "name": "http"}]}]}});
    let out = smp("Pod", pod, patch);
    assert_eq!(out["spec"]["containers"][0]["ports"].as_array().map(Vec::len), Some(1));
}
