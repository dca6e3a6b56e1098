//! `podlab delete pod|deployment|replicaset|configmap|secret NAME... | -l SELECTOR | -f FILE`: pods get their
//! grace period; Deployments and ReplicaSets take what they own with them.

use super::{ClusterArg, labels_of, objects_json, resource, selector};
use crate::client;
use crate::daemon::{Conn, out};
use anyhow::{Result, bail};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_control_plane::{ApiError, Cluster, Key, Workload, key_of};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// `podlab delete`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// pod, deployment, replicaset, configmap or secret (or TYPE/NAME).
    pub resource: Option<String>,
    /// Names to delete.
    pub names: Vec<String>,
    /// Delete the objects a manifest file names.
    #[arg(short = 'f', long)]
    pub filename: Option<PathBuf>,
    /// Delete what this label selector matches.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// What the daemon is asked to delete (`-f` resolved by the CLI into names).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The resource type as the user wrote it.
    pub resource: String,
    /// Names (empty with a selector).
    pub names: Vec<String>,
    /// Namespace.
    pub namespace: String,
    /// Label selector.
    pub selector: Option<String>,
}

/// CLI side.
pub fn run(args: Args) -> Result<i32> {
    let cluster = args.c.cluster.as_str();
    if let Some(file) = &args.filename {
        let mut code = 0;
        for o in objects_json(file)? {
            let text = |p: &str| o.pointer(p).and_then(|k| k.as_str()).map(str::to_string);
            let kind = text("/kind").unwrap_or_default();
            if kind == "Namespace" {
                continue;
            }
            let req = Request {
                resource: kind,
                names: vec![text("/metadata/name").unwrap_or_default()],
                namespace: text("/metadata/namespace").unwrap_or_else(|| args.namespace.clone()),
                selector: None,
            };
            code = code.max(client::call(cluster, &crate::protocol::Request::Delete(req))?.0);
        }
        return Ok(code);
    }
    let Some(resource) = args.resource else {
        bail!(
            "error: You must provide one or more resources by argument or filename (delete pod NAME, -f FILE or -l SELECTOR)"
        );
    };
    let (resource, names) = match resource.split_once('/') {
        Some((r, n)) => (
            r.to_string(),
            std::iter::once(n.to_string()).chain(args.names).collect(),
        ),
        None => (resource, args.names),
    };
    if names.is_empty() && args.selector.is_none() {
        bail!("error: resource(s) were provided, but no name was specified (or use -l SELECTOR)");
    }
    let req = Request {
        resource,
        names,
        namespace: args.namespace,
        selector: args.selector,
    };
    Ok(client::call(cluster, &crate::protocol::Request::Delete(req))?.0)
}

/// Daemon side.
pub async fn serve(req: Request, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    out(conn, delete(cluster, &req).await).await
}

async fn delete(cluster: &Arc<Cluster>, req: &Request) -> Result<String> {
    let sel = selector(&req.selector)?;
    let kind = resource(&req.resource)?;
    let ns = req.namespace.as_str();
    let pick = |meta: &ObjectMeta| {
        meta.namespace.as_deref().unwrap_or("default") == ns
            && (req.names.iter().any(|n| meta.name.as_ref() == Some(n))
                || (req.names.is_empty() && sel.as_ref().is_some_and(|s| s.matches(&labels_of(meta)))))
    };
    let mut out = String::new();
    match kind {
        "pods" => {
            let keys: Vec<Key> = cluster.pods_where(|p| pick(&p.metadata)).iter().map(key_of).collect();
            for n in &req.names {
                if !keys.iter().any(|k| &k.1 == n) {
                    out += &format!("{}\n", ApiError::not_found("pods", n).kubectl_message());
                }
            }
            out += &delete_pods(cluster, keys).await;
        }
        "deployments" | "replicasets" => {
            let workload = if kind == "deployments" {
                Workload::Deployment
            } else {
                Workload::ReplicaSet
            };
            for o in cluster.delete_workloads(workload, pick)? {
                out += &format!("{o}\n");
            }
            if out.is_empty() {
                for n in &req.names {
                    out += &format!("{}\n", ApiError::not_found(kind, n).kubectl_message());
                }
            }
        }
        "configmaps" | "secrets" => out += &delete_data(cluster, kind, req, pick),
        other => bail!("delete {other} is not supported yet"),
    }
    if out.is_empty() {
        out = "No resources found\n".into();
    }
    Ok(out)
}

/// Deletes the ConfigMaps or Secrets `pick` selects; one line each, and NotFound for names
/// that are not there.
fn delete_data(cluster: &Cluster, kind: &str, req: &Request, pick: impl Fn(&ObjectMeta) -> bool) -> String {
    let ns = req.namespace.as_str();
    let metas: Vec<ObjectMeta> = if kind == "configmaps" {
        cluster.config_maps(Some(ns)).into_iter().map(|c| c.metadata).collect()
    } else {
        cluster.secrets(Some(ns)).into_iter().map(|s| s.metadata).collect()
    };
    let mut out = String::new();
    for n in &req.names {
        if !metas.iter().any(|m| m.name.as_ref() == Some(n)) {
            out += &format!("{}\n", ApiError::not_found(kind, n).kubectl_message());
        }
    }
    for m in metas.iter().filter(|m| pick(m)) {
        let key = (ns.to_string(), m.name.clone().unwrap_or_default());
        let done = if kind == "configmaps" {
            cluster.delete_config_map(&key)
        } else {
            cluster.delete_secret(&key)
        };
        out += &match done {
            Ok(o) => format!("{o}\n"),
            Err(e) => format!("{}\n", e.kubectl_message()),
        };
    }
    out
}

/// Deletes the pods at once (each waits its own grace period); one line each, in order.
async fn delete_pods(cluster: &Arc<Cluster>, keys: Vec<Key>) -> String {
    let tasks: Vec<_> = keys
        .into_iter()
        .map(|k| {
            let c = cluster.clone();
            tokio::spawn(async move { c.delete_pod(&k).await })
        })
        .collect();
    let mut out = String::new();
    for t in tasks {
        match t.await {
            Ok(Ok(m)) => out += &format!("{m}\n"),
            Ok(Err(e)) => out += &format!("{}\n", e.kubectl_message()),
            Err(e) => out += &format!("{e}\n"),
        }
    }
    out
}
