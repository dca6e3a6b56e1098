//! Server-side printing: a `meta.k8s.io/v1` Table of objects, with kube-apiserver's columns
//! for each kind (`podlab_printers::cells`), asked for with
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`. Rows carry the object's metadata
//! (`PartialObjectMetadata`), which kubectl uses for `--show-labels` and `-L`.

use crate::kinds::Kind;
use podlab_printers::cells::{self, Column};
use serde_json::{Value, json};

/// What a Table row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The whole object.
    Object,
}

impl Include {
    /// From the `includeObject` query parameter.
    pub fn from_param(p: Option<&str>) -> Include {
        match p {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// Whether an `Accept` header asks for a Table.
pub fn wants_table(accept: &str) -> bool {
    accept.split(',').next().is_some_and(|first| first.contains("as=Table"))
}

fn columns(kind: Kind) -> &'static [Column] {
    match kind {
        Kind::Pod => &cells::POD_COLUMNS,
        Kind::Node => &cells::NODE_COLUMNS,
        Kind::Namespace => &cells::NAMESPACE_COLUMNS,
        Kind::Event => &cells::EVENT_COLUMNS,
        Kind::Deployment => &cells::DEPLOYMENT_COLUMNS,
        Kind::ReplicaSet => &cells::REPLICASET_COLUMNS,
        Kind::ConfigMap => &cells::CONFIGMAP_COLUMNS,
        Kind::Secret => &cells::SECRET_COLUMNS,
    }
}

/// One object's cells; `failed` tells whether a node is down.
fn row_cells(kind: Kind, obj: &Value, failed: &dyn Fn(&str) -> bool) -> Vec<String> {
    fn typed<T: serde::de::DeserializeOwned + Default>(v: &Value) -> T {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }
    match kind {
        Kind::Pod => cells::pod_cells(&typed(obj)),
        Kind::Node => {
            let name = obj
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            cells::node_cells(&typed(obj), failed(name))
        }
        Kind::Namespace => cells::namespace_cells(&typed(obj)),
        Kind::Event => cells::event_cells(&typed(obj)),
        Kind::Deployment => cells::deployment_cells(&typed(obj)),
        Kind::ReplicaSet => cells::replicaset_cells(&typed(obj)),
        Kind::ConfigMap => cells::configmap_cells(&typed(obj)),
        Kind::Secret => cells::secret_cells(&typed(obj)),
    }
}

/// The column definitions of `kind`.
pub fn column_definitions(kind: Kind) -> Value {
    let defs: Vec<Value> = columns(kind)
        .iter()
        .map(|(name, priority)| {
            let format = if *name == "Name" { "name" } else { "" };
            json!({"name": name, "type": "string", "format": format, "description": name, "priority": priority})
        })
        .collect();
    Value::Array(defs)
}

/// One Table row for `obj`.
pub fn row(kind: Kind, obj: &Value, include: Include, failed: &dyn Fn(&str) -> bool) -> Value {
    let cells: Vec<Value> = row_cells(kind, obj, failed).into_iter().map(Value::String).collect();
    let mut row = json!({ "cells": cells });
    match include {
        Include::None => {}
        Include::Object => row["object"] = obj.clone(),
        Include::Metadata => {
            row["object"] = json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata").cloned().unwrap_or(Value::Null),
            })
        }
    }
    row
}

/// A Table of `objects`; `with_columns` false leaves the column definitions out (watch events
/// after the first).
pub fn table(
    kind: Kind,
    objects: &[Value],
    resource_version: &str,
    include: Include,
    with_columns: bool,
    failed: &dyn Fn(&str) -> bool,
) -> Value {
    let rows: Vec<Value> = objects.iter().map(|o| row(kind, o, include, failed)).collect();
    let mut t = json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": resource_version},
        "rows": rows,
    });
    t["columnDefinitions"] = if with_columns {
        column_definitions(kind)
    } else {
        Value::Array(vec![])
    };
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectls_accept_header_asks_for_a_table() {
        assert!(wants_table(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"
        ));
        assert!(!wants_table("application/json"));
        assert!(!wants_table("application/vnd.kubernetes.protobuf,application/json"));
    }

    #[test]
    fn a_pod_row_has_the_wide_columns_and_its_metadata() {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "c"}], "nodeName": "worker-1"},
                         "status": {"phase": "Running", "podIP": "10.244.1.2"}});
        let t = table(Kind::Pod, &[pod], "7", Include::Metadata, true, &|_| false);
        assert_eq!(t["columnDefinitions"].as_array().map(Vec::len), Some(9));
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "web");
        assert_eq!(cells[5], "10.244.1.2");
        assert_eq!(cells[6], "worker-1");
        assert_eq!(t["rows"][0]["object"]["metadata"]["labels"]["app"], "web");
    }
}
