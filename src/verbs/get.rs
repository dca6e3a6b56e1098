//! `podlab get pods|nodes|deployments|replicasets|namespaces|events|configmaps|secrets` (`-o wide|yaml|json|name`,
//! `-l`, `-n`/`-A`, `--show-labels`, `-w`): the store's objects, filtered as kubectl does and
//! rendered by `crate::printers`.

use super::{ClusterArg, keep, resource, selector};
use crate::client;
use crate::daemon::{Conn, out};
use crate::printers::{self, objects};
use crate::protocol::Request;
use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{ApiError, Cluster, key_of};
use podlab_scenario::LabelSelector;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab get RESOURCE [NAME]`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// pods, nodes, deployments, replicasets, namespaces, events, configmaps or secrets
    /// (kubectl's short names too).
    pub resource: String,
    /// One object by name.
    pub name: Option<String>,
    /// wide, yaml, json or name.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Label selector (`app=web`, `tier in (a,b)`, `!canary`).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Namespace (default: `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Add a LABELS column.
    #[arg(long)]
    pub show_labels: bool,
    /// After the table, print each row again whenever it changes.
    #[arg(short = 'w', long)]
    pub watch: bool,
    #[command(flatten)]
    #[serde(skip)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side.
pub fn run(args: Args) -> Result<i32> {
    let cluster = args.c.cluster.clone();
    Ok(client::call(&cluster, &Request::Get(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    if args.watch {
        return match super::watch::serve(cluster, &args, conn).await {
            Ok(()) => 0,
            Err(e) => out(conn, Err(e)).await,
        };
    }
    out(conn, render(cluster, &args)).await
}

/// The filters of one `get`.
struct Filter<'a> {
    name: &'a Option<String>,
    namespace: Option<&'a str>,
    selector: Option<LabelSelector>,
}

/// Render `get` once.
pub fn render(cluster: &Cluster, args: &Args) -> Result<String> {
    let kind = resource(&args.resource)?;
    let namespace = if args.all_namespaces {
        None
    } else {
        Some(args.namespace.as_deref().unwrap_or("default"))
    };
    let f = Filter {
        name: &args.name,
        namespace,
        selector: selector(&args.selector)?,
    };
    let view = objects::View {
        output: args.output.as_deref().unwrap_or(""),
        with_namespace: args.all_namespaces,
        show_labels: args.show_labels,
    };
    let (text, what) = match kind {
        "pods" => (pods(cluster, &f, &view)?, "pods"),
        "nodes" => (nodes(cluster, &f, &view)?, "nodes"),
        "deployments" => {
            let items: Vec<_> = cluster
                .deployments()
                .into_iter()
                .filter(|d| keep(&d.metadata, f.name, f.namespace, &f.selector))
                .collect();
            (
                objects::workloads(&items, &objects::DEPLOYMENTS, &view)?,
                "deployments.apps",
            )
        }
        "replicasets" => {
            let items: Vec<_> = cluster
                .replicasets()
                .into_iter()
                .filter(|d| keep(&d.metadata, f.name, f.namespace, &f.selector))
                .collect();
            (
                objects::workloads(&items, &objects::REPLICASETS, &view)?,
                "replicasets.apps",
            )
        }
        "namespaces" => {
            let items: Vec<_> = cluster
                .namespace_objects()
                .into_iter()
                .filter(|n| keep(&n.metadata, f.name, None, &f.selector))
                .collect();
            (objects::namespaces(&items, &view)?, "namespaces")
        }
        "configmaps" => {
            let items: Vec<_> = cluster
                .config_maps(f.namespace)
                .into_iter()
                .filter(|c| keep(&c.metadata, f.name, None, &f.selector))
                .collect();
            (objects::config_maps(&items, &view)?, "configmaps")
        }
        "secrets" => {
            let items: Vec<_> = cluster
                .secrets(f.namespace)
                .into_iter()
                .filter(|s| keep(&s.metadata, f.name, None, &f.selector))
                .collect();
            (objects::secrets(&items, &view)?, "secrets")
        }
        "events" => {
            let items: Vec<_> = cluster
                .events()
                .into_iter()
                .filter(|e| f.namespace.is_none_or(|ns| e.metadata.namespace.as_deref() == Some(ns)))
                .collect();
            (objects::events(&items, &view)?, "events")
        }
        _ => bail!("error: the server doesn't have a resource type \"{}\"", args.resource),
    };
    match text {
        Some(t) => Ok(t),
        None => not_found(what, kind, &f),
    }
}

/// What `get` says when nothing matched: NotFound for a name, else "No resources found".
fn not_found(what: &str, kind: &str, f: &Filter) -> Result<String> {
    match f.name {
        Some(n) => Err(ApiError::not_found(what, n).into()),
        None => Ok(match f.namespace {
            Some(ns) if kind != "nodes" && kind != "namespaces" => format!("No resources found in {ns} namespace.\n"),
            _ => "No resources found\n".into(),
        }),
    }
}

fn pods(cluster: &Cluster, f: &Filter, view: &objects::View) -> Result<Option<String>> {
    let mut pods: Vec<Pod> = cluster.pods_where(|p| keep(&p.metadata, f.name, f.namespace, &f.selector));
    pods.sort_by_key(key_of);
    if pods.is_empty() {
        return Ok(None);
    }
    Ok(Some(match view.output {
        "yaml" | "json" => objects::serialize_all(&pods, view.output)?,
        "name" => objects::names("pod", pods.iter().map(|p| &p.metadata)),
        _ => {
            let (h, rows) = printers::pods_rows(&pods, view.output == "wide", view.with_namespace, view.show_labels);
            printers::table(&h, &rows)
        }
    }))
}

fn nodes(cluster: &Cluster, f: &Filter, view: &objects::View) -> Result<Option<String>> {
    let nodes: Vec<_> = cluster
        .node_objects()
        .into_iter()
        .filter(|n| keep(&n.metadata, f.name, None, &f.selector))
        .collect();
    if nodes.is_empty() {
        return Ok(None);
    }
    Ok(Some(objects::nodes(&nodes, view, |n| cluster.node_failed(n))?))
}
