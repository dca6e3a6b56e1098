//! Network views of a live cluster for learners, built in the daemon: `topology`, `routes`,
//! `trace` (the hop list, then proof by real probes: counters that moved, TTL, source address)
//! and `ping-matrix`. On the kernel dataplane everything is read back from the kernel in every
//! namespace (netplugin's `inspect`, `annotate` and `trace`), never from podlab's bookkeeping;
//! on the model dataplane `topology` and `routes` show computed data and say so. Which
//! interface is which (uplink, pod bridge, pod interface) is asked from the dataplane's layout.
//!
//! - `topology.rs`: the topology data (fabric, nodes, pods) read or computed;
//! - `render.rs`: the topology as text, Graphviz dot, mermaid or SVG;
//! - `routes.rs`: `podlab routes NODE|POD`;
//! - `trace.rs`: `podlab trace` (computed path plus probes);
//! - `ping.rs`: `podlab ping-matrix`;
//! - `why.rs`: `podlab why` (the first reason traffic would fail).

mod ping;
mod render;
mod routes;
mod topology;
mod trace;
mod why;

use anyhow::{Context, Result, anyhow};
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::Cluster;
use podlab_netplugin::annotate::{AnnotateContext, explain_route};
use podlab_netplugin::inspect::{self, RouteEntry};
use podlab_netplugin::{Netns, RouteInfo};

pub use ping::{ping_matrix, render_matrix};
pub use render::render_topology;
pub use routes::{render_routes, routes};
pub use topology::topology;
pub use trace::{render_trace, trace};
pub use why::{render_why, why};

use topology::{IfaceView, RouteView};

/// What the model dataplane says about its views.
pub const MODEL_NOTE: &str = "model dataplane: computed, not read from a kernel";
const KERNEL_NOTE: &str = "kernel dataplane: read back from the kernel (rtnetlink) in every namespace";
const NEEDS_KERNEL: &str = "needs the kernel dataplane (real namespaces to send packets through); this cluster runs the model dataplane: start it without `--dataplane model`";

fn rt() -> tokio::runtime::Handle {
    tokio::runtime::Handle::current()
}

/// The fabric namespace: the daemon's own, read from a plain thread (never a setns'd one).
fn fabric_netns() -> Result<Netns> {
    std::thread::spawn(Netns::current)
        .join()
        .map_err(|_| anyhow!("reading the fabric namespace: thread panicked"))?
        .context("opening the fabric network namespace")
}

fn ns_inode(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|p| p.display().to_string())
}

fn iface(l: &inspect::LinkInfo) -> IfaceView {
    IfaceView {
        name: l.name.clone(),
        index: l.index,
        addresses: l.addresses.clone(),
        up: l.up,
        mac: l.mac.clone(),
        master: l.master.clone(),
    }
}

fn ctx(cluster: &Cluster, node: Option<&str>, is_pod: bool) -> AnnotateContext {
    AnnotateContext {
        nodes: cluster.nodes.iter().map(|n| n.addr.clone()).collect(),
        this_node: node.map(str::to_string),
        is_pod,
        layout: cluster.dataplane.layout_handle(),
    }
}

fn annotate(routes: &[RouteEntry], c: &AnnotateContext) -> Vec<RouteView> {
    routes
        .iter()
        .map(|r| RouteView {
            route: r.to_string(),
            destination: r.destination.clone(),
            gateway: r.gateway.clone(),
            dev: r.dev.clone(),
            why: explain_route(r, c),
        })
        .collect()
}

fn node_of(pod: &Pod) -> Option<String> {
    pod.spec.as_ref().and_then(|s| s.node_name.clone())
}

/// Computed routes (the model's, or the layout's for a pod) as table entries, the way the
/// kernel would list them (`default`, `proto static` for routes via a gateway).
fn route_entries(routes: Vec<RouteInfo>) -> Vec<RouteEntry> {
    routes
        .into_iter()
        .map(|r| RouteEntry {
            destination: if r.destination.prefix() == 0 {
                "default".into()
            } else {
                r.destination.to_string()
            },
            gateway: r.gateway.map(|g| g.to_string()),
            dev: Some(r.dev.clone()),
            scope: if r.gateway.is_some() { "universe" } else { "link" }.into(),
            protocol: if r.gateway.is_some() { "static" } else { "kernel" }.into(),
            src: r.src.map(|s| s.to_string()),
        })
        .collect()
}

/// The model dataplane's computed routes of a node, as table entries.
fn model_routes(cluster: &Cluster, node: &str) -> Vec<RouteEntry> {
    route_entries(cluster.dataplane.routes(node))
}
