//! `podlab routes NODE|POD`: a node's or pod's routing table, read from the kernel (or computed
//! on the model dataplane), each route with the reason it exists (the layout's words).

use super::topology::{RouteView, pod_view};
use super::{MODEL_NOTE, annotate, ctx, model_routes, rt};
use anyhow::{Result, bail};
use podlab_control_plane::Cluster;
use podlab_netplugin::inspect::{self, NsSnapshot};
use serde::Serialize;

/// `podlab routes NODE|POD`: the routing table with the reason for each route.
#[derive(Debug, Clone, Serialize)]
pub struct RoutesView {
    /// `node worker-1` or `pod default/web`.
    pub target: String,
    /// Where the table comes from.
    pub source: String,
    /// The routes, annotated.
    pub routes: Vec<RouteView>,
}

/// Reads (or, on the model dataplane, computes) the routing table of a node or pod.
pub async fn routes(cluster: &Cluster, target: &str, namespace: &str) -> Result<RoutesView> {
    let (kind, name) = split(target, cluster);
    let model = cluster.is_model();
    if kind == "node" {
        let n = cluster
            .node(name)
            .ok_or_else(|| podlab_control_plane::ApiError::not_found("nodes", name))?;
        let c = ctx(cluster, Some(name), false);
        let routes = match (&n.sandbox, model) {
            (Some(sb), false) => inspect::snapshot(&*sb.netns()?, &rt()).await?.routes,
            _ => model_routes(cluster, name),
        };
        return Ok(RoutesView {
            target: format!("node {name}"),
            source: if model {
                MODEL_NOTE.into()
            } else {
                "read from the kernel in the node's network namespace".into()
            },
            routes: annotate(&routes, &c),
        });
    }
    let key = (namespace.to_string(), name.to_string());
    let pod = cluster
        .pod(&key)
        .ok_or_else(|| podlab_control_plane::ApiError::not_found("pods", name))?;
    let v = pod_view(cluster, &pod, Some(&NsSnapshot::default())).await?;
    if let Some(note) = &v.note
        && v.routes.is_empty()
    {
        bail!("pod {name} has no network: {note}");
    }
    Ok(RoutesView {
        target: format!("pod {namespace}/{name}"),
        source: if model {
            MODEL_NOTE.into()
        } else {
            "read from the kernel in the pod's network namespace".into()
        },
        routes: v.routes,
    })
}

/// Renders `routes` as text or json.
pub fn render_routes(r: &RoutesView, output: &str) -> Result<String> {
    if output == "json" {
        return Ok(serde_json::to_string_pretty(r)? + "\n");
    }
    let rows: Vec<Vec<String>> = r.routes.iter().map(|x| vec![x.route.clone(), x.why.clone()]).collect();
    Ok(format!(
        "Routes of {} ({}):\n{}",
        r.target,
        r.source,
        crate::printers::table(&["ROUTE", "WHY IT EXISTS"], &rows)
    ))
}

/// `node/NAME`, `pod/NAME` or a bare name (a node's name, else a pod's).
pub(super) fn split<'a>(t: &'a str, cluster: &Cluster) -> (&'static str, &'a str) {
    match t.split_once('/') {
        Some(("node" | "nodes" | "no", n)) => ("node", n),
        Some(("pod" | "pods" | "po", n)) => ("pod", n),
        _ if cluster.node(t).is_some() => ("node", t),
        _ => ("pod", t),
    }
}
