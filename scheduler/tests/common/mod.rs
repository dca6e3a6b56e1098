//! Builders for test nodes and pods from JSON manifests.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

pub fn node(name: &str, cpu: &str, mem: &str, pods: &str) -> Node {
    node_with(name, cpu, mem, pods, json!({}), json!({}))
}

pub fn node_with(name: &str, cpu: &str, mem: &str, pods: &str, labels: Value, spec: Value) -> Node {
    let mut l = labels;
    l["kubernetes.io/hostname"] = json!(name);
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": l},
        "spec": spec,
        "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": pods}}
    }))
    .expect("node json")
}

pub fn pod(name: &str, cpu: &str, mem: &str) -> Pod {
    pod_with(name, cpu, mem, json!({}), json!({}))
}

/// `extra` is merged into spec.
pub fn pod_with(name: &str, cpu: &str, mem: &str, labels: Value, extra: Value) -> Pod {
    let mut spec = json!({"containers": [{"name": "c", "image": "app",
        "resources": {"requests": {"cpu": cpu, "memory": mem}}}]});
    if let Value::Object(m) = extra {
        for (k, v) in m {
            spec[k] = v;
        }
    }
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": labels},
        "spec": spec
    }))
    .expect("pod json")
}
