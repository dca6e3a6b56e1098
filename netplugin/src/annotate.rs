//! Why each route of a node or pod exists, in words for a learner (`podlab routes NODE|POD`):
//! connected routes, host-gw routes to the other nodes' pods, and the pod's default route.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::addressing::{FABRIC_BRIDGE, NodeAddressing};
use crate::inspect::RouteEntry;

/// What `explain_route` needs to know about where the route table comes from.
#[derive(Clone, Debug, Default)]
pub struct AnnotateContext {
    /// Every node of the cluster (the address plan).
    pub nodes: Vec<NodeAddressing>,
    /// The node whose table this is, or (for a pod) the node the pod runs on.
    pub this_node: Option<String>,
    /// True when the table is a pod's.
    pub is_pod: bool,
}

impl AnnotateContext {
    fn me(&self) -> Option<&NodeAddressing> {
        let name = self.this_node.as_deref()?;
        self.nodes.iter().find(|n| n.name == name)
    }

    /// `" (node worker-2)"` / `" (cni0 of node worker-2)"` for a known address, else empty.
    fn who(&self, ip: Ipv4Addr) -> String {
        if let Some(n) = self.nodes.iter().find(|n| n.node_ip == ip) {
            return format!(" (node {})", n.name);
        }
        if let Some(n) = self.nodes.iter().find(|n| n.gateway == ip) {
            return format!(" (cni0 of node {})", n.name);
        }
        String::new()
    }
}

/// Why a route exists, in words for a learner: "connected: this node's pod range (bridge cni0)",
/// "host-gw: pods of worker-2 live behind 172.18.0.3", "default: everything else goes to the
/// node (10.244.1.1)".
pub fn explain_route(route: &RouteEntry, ctx: &AnnotateContext) -> String {
    let dev = route.dev.as_deref().unwrap_or("?");
    let gw: Option<Ipv4Addr> = route.gateway.as_deref().and_then(|g| g.parse().ok());
    let Some(dst) = route.network() else {
        return format!("unrecognised destination {}", route.destination);
    };
    let me = ctx.me();
    if dst.prefix() == 0 {
        return match gw {
            Some(g) if ctx.is_pod && me.is_none_or(|m| m.gateway == g) => {
                format!("default: everything else goes to the node ({g})")
            }
            Some(g) => format!("default: everything else goes to {g}{}", ctx.who(g)),
            None => format!("default: everything else leaves directly through {dev}"),
        };
    }
    let pod_range_of = ctx.nodes.iter().find(|n| n.pod_subnet == dst);
    match (gw, pod_range_of) {
        (None, Some(n)) if !ctx.is_pod && me.is_some_and(|m| m.name == n.name) => {
            format!("connected: this node's pod range (bridge {dev})")
        }
        (None, Some(n)) if ctx.is_pod => format!(
            "connected: the pods of node {} share this subnet; they are reached directly through {dev} and the node's bridge",
            n.name
        ),
        (None, Some(n)) => format!("connected: the pod range of node {} is directly on {dev}", n.name),
        (Some(g), Some(n)) if g == n.node_ip => format!("host-gw: pods of {} live behind {g}", n.name),
        (Some(g), Some(n)) => format!(
            "host-gw, but wrong: pods of {} live behind {}, yet this route sends them to {g}{}",
            n.name,
            n.node_ip,
            ctx.who(g)
        ),
        (None, None) if is_fabric(&dst, ctx) => {
            if dev == FABRIC_BRIDGE {
                format!("connected: the fabric network joining the nodes (bridge {FABRIC_BRIDGE})")
            } else {
                format!("connected: the fabric network joining the nodes ({dev}, wired to bridge {FABRIC_BRIDGE})")
            }
        }
        (Some(g), None) if inside_pod_ranges(&dst, ctx) => format!(
            "stale: no node of the cluster has the pod range {dst}; this route to {g}{} is left over",
            ctx.who(g)
        ),
        (Some(g), None) => format!("static: {dst} goes via {g}{}", ctx.who(g)),
        (None, None) if route.scope == "host" => format!("local: {dst} is an address of this namespace"),
        (None, None) => format!("connected: {dst} is directly on {dev}"),
    }
}

/// Whether `dst` is the fabric network (it holds the node IPs, with the fabric prefix).
fn is_fabric(dst: &Ipv4Network, ctx: &AnnotateContext) -> bool {
    ctx.nodes
        .iter()
        .any(|n| dst.contains(n.node_ip) && dst.prefix() == n.fabric_prefix)
}

/// Whether `dst` looks like a node pod range (same size, inside the /16 … ranges the nodes use)
/// without belonging to any node.
fn inside_pod_ranges(dst: &Ipv4Network, ctx: &AnnotateContext) -> bool {
    ctx.nodes.iter().any(|n| {
        n.pod_subnet.prefix() == dst.prefix()
            && Ipv4Network::new(n.pod_subnet.network(), 16).is_ok_and(|wide| wide.contains(dst.network()))
    })
}
