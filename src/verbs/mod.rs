//! The kubectl-shaped verbs of a live cluster (`podlab up`), one file each. A verb's file
//! holds its command-line `Args` (clap + serde: the arguments are the request the daemon
//! gets), `run` (the CLI side) and, where the daemon answers, `serve` (the daemon side, which
//! calls the control-plane library and renders with `crate::printers`).
//!
//! A new verb: a file here, a variant in `crate::cli::Command`, a variant in
//! `crate::protocol::Request` and one line in `crate::daemon::dispatch`.

pub mod apply;
pub mod capture;
pub mod create;
pub mod delete;
pub mod describe;
pub mod exec;
pub mod explain_placement;
pub mod get;
pub mod label;
pub mod logs;
pub mod node;
pub mod ping_matrix;
pub mod port_forward;
pub mod routes;
pub mod scale;
pub mod topology;
pub mod trace;
pub mod ui;
pub mod watch;
pub mod why;

use anyhow::{Result, anyhow, bail};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_scenario::LabelSelector;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which running cluster a command talks to (not part of the request: the socket says it).
#[derive(clap::Args, Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClusterArg {
    /// Cluster name (as given to `up --name`).
    #[arg(long, env = "PODLAB_CLUSTER", default_value = "podlab")]
    #[serde(skip)]
    pub cluster: String,
}

/// The canonical resource name for kubectl's spellings (`po`, `pod`, `pods.v1`...).
pub fn resource(r: &str) -> Result<&'static str> {
    let r = r.to_ascii_lowercase();
    let r = r.split('.').next().unwrap_or_default().to_string();
    Ok(match r.as_str() {
        "po" | "pod" | "pods" => "pods",
        "no" | "node" | "nodes" => "nodes",
        "deploy" | "deployment" | "deployments" => "deployments",
        "rs" | "replicaset" | "replicasets" => "replicasets",
        "ns" | "namespace" | "namespaces" => "namespaces",
        "ev" | "event" | "events" => "events",
        "cm" | "configmap" | "configmaps" => "configmaps",
        "secret" | "secrets" => "secrets",
        other => bail!("error: the server doesn't have a resource type \"{other}\""),
    })
}

/// A `-l` selector, parsed (kubectl's equality and set forms).
pub fn selector(s: &Option<String>) -> Result<Option<LabelSelector>> {
    s.as_ref()
        .map(|s| LabelSelector::parse(s).map_err(|e| anyhow!("error: unable to parse requirement: {e}")))
        .transpose()
}

/// An object's labels (empty when it has none).
pub fn labels_of(m: &ObjectMeta) -> BTreeMap<String, String> {
    m.labels.clone().unwrap_or_default()
}

/// Whether an object passes `get`'s filters: name, namespace and selector.
pub fn keep(meta: &ObjectMeta, name: &Option<String>, ns: Option<&str>, sel: &Option<LabelSelector>) -> bool {
    name.as_ref().is_none_or(|n| meta.name.as_ref() == Some(n))
        && ns.is_none_or(|ns| meta.namespace.as_deref().unwrap_or("default") == ns)
        && sel.as_ref().is_none_or(|s| s.matches(&labels_of(meta)))
}

/// `node/NAME` → ("node", NAME); `pod/NAME`, `po/NAME` or a bare NAME → ("pod", NAME).
pub fn split_target(t: &str) -> (&'static str, &str) {
    match t.split_once('/') {
        Some(("node" | "nodes" | "no", n)) => ("node", n),
        Some(("pod" | "pods" | "po", n)) => ("pod", n),
        _ => ("pod", t),
    }
}

/// Loads a manifest file or directory and returns its objects as JSON, printing warnings.
pub fn objects_json(file: &std::path::Path) -> Result<Vec<serde_json::Value>> {
    let mut warnings = Vec::new();
    let loaded = podlab_scenario::load_manifests_collecting(file, &mut warnings);
    for w in warnings {
        eprintln!("{w}");
    }
    let objects = loaded.map_err(|e| anyhow!("{e}"))?;
    Ok(objects.iter().map(podlab_scenario::Object::to_json).collect())
}
