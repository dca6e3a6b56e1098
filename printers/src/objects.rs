//! `get`'s renderings of objects other than pods (nodes, Deployments, ReplicaSets,
//! namespaces, events, ConfigMaps, Secrets) and of any object as YAML, JSON or `kind/name` lines, as kubectl
//! prints them.

use super::{age_secs, cells, human_duration, labels_csv, table};
use crate::PrintError;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Serialize;

/// How `get` was asked to print.
pub struct View<'a> {
    /// `-o`: "", wide, yaml, json or name.
    pub output: &'a str,
    /// `-A`: a NAMESPACE column first.
    pub with_namespace: bool,
    /// `--show-labels`.
    pub show_labels: bool,
}

/// One object as itself, several as a `v1` List, in YAML or JSON.
pub fn serialize_all<T: Serialize>(items: &[T], output: &str) -> Result<String, PrintError> {
    let value = if items.len() == 1 {
        serde_json::to_value(&items[0])?
    } else {
        serde_json::json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
    };
    Ok(match output {
        "json" => serde_json::to_string_pretty(&value)? + "\n",
        _ => serde_saphyr::to_string(&value).map_err(|e| PrintError::Yaml(e.to_string()))?,
    })
}

/// `-o name`: one `kind/name` line per object.
pub fn names<'a>(kind: &str, metas: impl Iterator<Item = &'a ObjectMeta>) -> String {
    metas
        .map(|m| format!("{kind}/{}\n", m.name.clone().unwrap_or_default()))
        .collect()
}

fn age(t: Option<&Time>) -> String {
    human_duration(age_secs(t))
}

/// The nodes table (`get nodes`, `-o wide`, `--show-labels`); `failed` tells a node that is down.
pub fn nodes(nodes: &[Node], view: &View, failed: impl Fn(&str) -> bool) -> Result<String, PrintError> {
    match view.output {
        "yaml" | "json" => return serialize_all(nodes, view.output),
        "name" => return Ok(names("node", nodes.iter().map(|n| &n.metadata))),
        _ => {}
    }
    let wide = view.output == "wide";
    let mut h = vec!["NAME", "STATUS", "ROLES", "AGE", "VERSION"];
    if wide {
        h.extend([
            "INTERNAL-IP",
            "EXTERNAL-IP",
            "OS-IMAGE",
            "KERNEL-VERSION",
            "CONTAINER-RUNTIME",
        ]);
    }
    if view.show_labels {
        h.push("LABELS");
    }
    let rows: Vec<Vec<String>> = nodes
        .iter()
        .map(|n| {
            let cells = cells::node_cells(n, failed(n.metadata.name.as_deref().unwrap_or_default()));
            let mut r: Vec<String> = cells[..if wide { 10 } else { 5 }].to_vec();
            if view.show_labels {
                r.push(labels_csv(n.metadata.labels.as_ref()));
            }
            r
        })
        .collect();
    Ok(table(&h, &rows))
}

/// How `get` shows one kind of workload (Deployments, ReplicaSets).
pub struct WorkloadView<T> {
    /// `deployment.apps`: the prefix of `-o name`.
    kind: &'static str,
    /// The columns between NAME and AGE.
    headers: [&'static str; 3],
    meta: fn(&T) -> &ObjectMeta,
    /// All cells: NAME, three columns, AGE, then CONTAINERS, IMAGES, SELECTOR for `-o wide`.
    cells: fn(&T) -> Vec<String>,
}

/// `get deployments`: READY, UP-TO-DATE, AVAILABLE.
pub const DEPLOYMENTS: WorkloadView<Deployment> = WorkloadView {
    kind: "deployment.apps",
    headers: ["READY", "UP-TO-DATE", "AVAILABLE"],
    meta: |d| &d.metadata,
    cells: cells::deployment_cells,
};

/// `get replicasets`: DESIRED, CURRENT, READY.
pub const REPLICASETS: WorkloadView<ReplicaSet> = WorkloadView {
    kind: "replicaset.apps",
    headers: ["DESIRED", "CURRENT", "READY"],
    meta: |r| &r.metadata,
    cells: cells::replicaset_cells,
};

/// A workload table; `None` when there is nothing to show.
pub fn workloads<T: Serialize>(items: &[T], v: &WorkloadView<T>, view: &View) -> Result<Option<String>, PrintError> {
    if items.is_empty() {
        return Ok(None);
    }
    let text = match view.output {
        "yaml" | "json" => serialize_all(items, view.output)?,
        "name" => names(v.kind, items.iter().map(v.meta)),
        _ => {
            let wide = view.output == "wide";
            let mut h = vec![];
            if view.with_namespace {
                h.push("NAMESPACE");
            }
            h.push("NAME");
            h.extend(v.headers);
            h.push("AGE");
            if wide {
                h.extend(["CONTAINERS", "IMAGES", "SELECTOR"]);
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|d| {
                    let meta = (v.meta)(d);
                    let mut r = vec![];
                    if view.with_namespace {
                        r.push(meta.namespace.clone().unwrap_or_default());
                    }
                    let cells = (v.cells)(d);
                    r.extend(cells[..if wide { 8 } else { 5 }].iter().cloned());
                    r
                })
                .collect();
            table(&h, &rows)
        }
    };
    Ok(Some(text))
}

/// `get configmaps`: NAME, DATA, AGE; `None` when there is nothing to show.
pub fn config_maps(items: &[ConfigMap], view: &View) -> Result<Option<String>, PrintError> {
    let headers = ["NAME", "DATA", "AGE"];
    data_objects(
        items,
        "configmap",
        &headers,
        |c| &c.metadata,
        cells::configmap_cells,
        view,
    )
}

/// `get secrets`: NAME, TYPE, DATA, AGE; `None` when there is nothing to show.
pub fn secrets(items: &[Secret], view: &View) -> Result<Option<String>, PrintError> {
    let headers = ["NAME", "TYPE", "DATA", "AGE"];
    data_objects(items, "secret", &headers, |s| &s.metadata, cells::secret_cells, view)
}

/// A kind whose cells are all its columns, with `-A`'s NAMESPACE and `--show-labels`' LABELS.
fn data_objects<T: Serialize>(
    items: &[T],
    kind: &str,
    headers: &[&'static str],
    meta: fn(&T) -> &ObjectMeta,
    cells: fn(&T) -> Vec<String>,
    view: &View,
) -> Result<Option<String>, PrintError> {
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(match view.output {
        "yaml" | "json" => serialize_all(items, view.output)?,
        "name" => names(kind, items.iter().map(meta)),
        _ => {
            let mut h = vec![];
            if view.with_namespace {
                h.push("NAMESPACE");
            }
            h.extend(headers);
            if view.show_labels {
                h.push("LABELS");
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|o| {
                    let m = meta(o);
                    let mut r = vec![];
                    if view.with_namespace {
                        r.push(m.namespace.clone().unwrap_or_default());
                    }
                    r.extend(cells(o));
                    if view.show_labels {
                        r.push(labels_csv(m.labels.as_ref()));
                    }
                    r
                })
                .collect();
            table(&h, &rows)
        }
    }))
}

/// `get namespaces`; `None` when there is nothing to show.
pub fn namespaces(items: &[Namespace], view: &View) -> Result<Option<String>, PrintError> {
    if items.is_empty() {
        return Ok(None);
    }
    Ok(Some(match view.output {
        "yaml" | "json" => serialize_all(items, view.output)?,
        "name" => names("namespace", items.iter().map(|n| &n.metadata)),
        _ => {
            let rows = items
                .iter()
                .map(|n| {
                    vec![
                        n.metadata.name.clone().unwrap_or_default(),
                        "Active".into(),
                        age(n.metadata.creation_timestamp.as_ref()),
                    ]
                })
                .collect::<Vec<_>>();
            table(&["NAME", "STATUS", "AGE"], &rows)
        }
    }))
}

/// `get events`; `None` when there is nothing to show.
pub fn events(items: &[Event], view: &View) -> Result<Option<String>, PrintError> {
    if items.is_empty() {
        return Ok(None);
    }
    if matches!(view.output, "yaml" | "json") {
        return serialize_all(items, view.output).map(Some);
    }
    let mut h = vec![];
    if view.with_namespace {
        h.push("NAMESPACE");
    }
    h.extend(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
    let rows = items
        .iter()
        .map(|e| {
            let mut r = vec![];
            if view.with_namespace {
                r.push(e.metadata.namespace.clone().unwrap_or_default());
            }
            r.extend([
                age(e.last_timestamp.as_ref()),
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                format!(
                    "{}/{}",
                    e.involved_object.kind.clone().unwrap_or_default().to_lowercase(),
                    e.involved_object.name.clone().unwrap_or_default()
                ),
                e.message.clone().unwrap_or_default(),
            ]);
            r
        })
        .collect::<Vec<_>>();
    Ok(Some(table(&h, &rows)))
}
