//! Hop-by-hop path of a packet between two endpoints of a podlab cluster, computed by asking the
//! kernel in every namespace along the way: route lookups (`ip route get`, with the input
//! interface for routers), veth peers (IFLA_LINK + the peer's namespace id) and bridge ports.
//! A broken path stops with a reason in plain words (no route, link down, unknown destination);
//! the cluster's [`NetworkLayout`] names the addresses and the routes that should be there.
//!
//! This file holds the public types and the entry point; `walk.rs` the walk itself.

mod walk;

use std::net::Ipv4Addr;

use serde::Serialize;

use crate::NetError;
use crate::addressing::NodeAddressing;
use crate::layout::NetworkLayout;
use crate::ns::{self, Netns};
use walk::Walk;

/// One end of a trace: a pod or a node (or anything else with a namespace and an address).
#[derive(Debug)]
pub struct Endpoint {
    /// How hops in its namespace are labelled: `pod default/web`, `node worker-1`.
    pub label: String,
    /// Its network namespace.
    pub netns: Netns,
    /// Its address (the packet's source, or its destination).
    pub ip: Ipv4Addr,
    /// The node it runs on (a node endpoint names itself), if known.
    pub node: Option<String>,
}

/// One step of the path.
#[derive(Clone, Debug, Serialize)]
pub struct Hop {
    /// 1-based position in the path.
    pub n: usize,
    /// Where it happens: `pod default/web`, `node worker-1`, `fabric`.
    pub namespace: String,
    /// The interface involved.
    pub interface: String,
    /// What happens, in words: `leaves via eth0 to gateway 10.244.1.1`.
    pub action: String,
    /// The table route the kernel matched, for routing decisions (`ip route` syntax).
    pub route: Option<String>,
    /// The packet's TTL at this point (decremented by every router).
    pub ttl: Option<u8>,
}

/// The whole path.
#[derive(Clone, Debug, Serialize)]
pub struct TracePath {
    /// Every step, in order (a broken path ends with the step where it stops).
    pub hops: Vec<Hop>,
    /// True when the packet reaches the destination endpoint.
    pub complete: bool,
    /// Where and why the path breaks, in words naming the namespace (`node worker-1: no route
    /// to 10.244.2.2: ...`).
    pub broken_at: Option<String>,
    /// Number of namespaces that routed (forwarded) the packet.
    pub router_hops: usize,
}

/// Computes the path a packet from `src` to `dst` takes through the cluster, asking the kernel
/// in each namespace on the way (route lookups, veth peers, bridge ports). `layout` is the
/// cluster's network layout, `nodes` are the cluster's nodes with their namespaces, `fabric`
/// the namespace of the fabric bridge (`podlab0`).
/// A broken path is a normal answer (`complete: false`); errors are failures to ask the kernel.
pub async fn compute(
    layout: &dyn NetworkLayout,
    src: &Endpoint,
    dst: &Endpoint,
    nodes: &[(NodeAddressing, Netns)],
    fabric: &Netns,
    rt: &tokio::runtime::Handle,
) -> Result<TracePath, NetError> {
    let mut w = Walk::new(layout, src, dst, nodes, fabric, rt)?;
    if let Some(name) = &dst.node
        && !nodes.iter().any(|(n, _)| &n.name == name)
    {
        let why = format!(
            "{}: destination node {name} is unknown (it is not one of the cluster's nodes: {})",
            dst.label,
            nodes
                .iter()
                .map(|(n, _)| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(w.finish(Some(why)));
    }
    w.ttl = default_ttl(&src.netns).await;
    let outcome = w.run().await?;
    Ok(w.finish(outcome))
}

/// Reads `net.ipv4.ip_default_ttl` as the source namespace sees it (64 if unreadable).
async fn default_ttl(ns: &Netns) -> u8 {
    ns::run_in_async(ns, || std::fs::read_to_string("/proc/sys/net/ipv4/ip_default_ttl"))
        .await
        .ok()
        .and_then(|r| r.ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(64)
}

/// Whether `net.ipv4.ip_forward` is on in `ns` (assumed on if unreadable).
pub(crate) async fn forwarding_on(ns: &Netns) -> bool {
    ns::run_in_async(ns, || std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward"))
        .await
        .ok()
        .and_then(|r| r.ok())
        .is_none_or(|s| s.trim() != "0")
}
