//! Why each route of a node or pod exists, in words for a learner (`podlab routes NODE|POD`):
//! connected routes, routes to the other nodes' pods, and the pod's default route. The words
//! come from the cluster's [`NetworkLayout`]; this module holds what the layout is told.

use std::sync::Arc;

use ipnetwork::Ipv4Network;

use crate::addressing::NodeAddressing;
use crate::inspect::RouteEntry;
use crate::layout::{self, NetworkLayout};

/// What `explain_route` needs to know about where the route table comes from.
#[derive(Clone, Debug)]
pub struct AnnotateContext {
    /// Every node of the cluster (the address plan).
    pub nodes: Vec<NodeAddressing>,
    /// The node whose table this is, or (for a pod) the node the pod runs on.
    pub this_node: Option<String>,
    /// True when the table is a pod's.
    pub is_pod: bool,
    /// The cluster's network layout, which explains the routes it made.
    pub layout: Arc<dyn NetworkLayout>,
}

impl Default for AnnotateContext {
    /// No nodes, a node's table, the default layout.
    fn default() -> Self {
        AnnotateContext {
            nodes: Vec::new(),
            this_node: None,
            is_pod: false,
            layout: layout::default_layout(),
        }
    }
}

impl AnnotateContext {
    /// The addressing of `this_node`, if it is one of `nodes`.
    pub fn me(&self) -> Option<&NodeAddressing> {
        let name = self.this_node.as_deref()?;
        self.nodes.iter().find(|n| n.name == name)
    }
}

/// Why a route exists, in words for a learner, as the context's layout explains it (bridge +
/// host-gw: "connected: this node's pod range (bridge cni0)", "host-gw: pods of worker-2 live
/// behind 172.18.0.3", "default: everything else goes to the node (10.244.1.1)").
pub fn explain_route(route: &RouteEntry, ctx: &AnnotateContext) -> String {
    ctx.layout.explain_route(route, ctx)
}

/// Whether `dst` is the fabric network (it holds the node IPs, with the fabric prefix).
pub(crate) fn is_fabric(dst: &Ipv4Network, ctx: &AnnotateContext) -> bool {
    ctx.nodes
        .iter()
        .any(|n| dst.contains(n.node_ip) && dst.prefix() == n.fabric_prefix)
}

/// Whether `dst` looks like a node pod range (same size, inside the /16 … ranges the nodes use)
/// without belonging to any node.
pub(crate) fn inside_pod_ranges(dst: &Ipv4Network, ctx: &AnnotateContext) -> bool {
    ctx.nodes.iter().any(|n| {
        n.pod_subnet.prefix() == dst.prefix()
            && Ipv4Network::new(n.pod_subnet.network(), 16).is_ok_and(|wide| wide.contains(dst.network()))
    })
}
