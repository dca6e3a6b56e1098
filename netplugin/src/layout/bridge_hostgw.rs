//! The bridge + host-gw layout (podlab's one layout today): each node has an uplink `eth0`
//! (a veth whose fabric end `fab-<i>` is a port of the fabric bridge `podlab0`) and a pod bridge
//! `cni0` holding the pods' gateway; each pod has a veth from `cni0` to its `eth0` with a
//! default route via the gateway; each node routes every other node's pod subnet via that
//! node's fabric address (host-gw). This file holds the names, routes and descriptions;
//! `bridge_hostgw/kernel.rs` builds the objects.

mod kernel;

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use futures::future::BoxFuture;
use ipnetwork::Ipv4Network;

use super::{IfaceRole, NetworkLayout, PathDescription, PathEnd, Place};
use crate::NetError;
use crate::addressing::{ClusterNetwork, NodeAddressing, PodNetwork, PodRef, RouteInfo, RouteSync};
use crate::annotate::{AnnotateContext, inside_pod_ranges, is_fabric};
use crate::inspect::RouteEntry;
use crate::kernel::{KernelDataplane, NodeLinks};
use crate::ns::{Netns, NetnsLocator};

/// Name of the per-node bridge that holds the pod gateway address.
pub const NODE_BRIDGE: &str = "cni0";
/// Name of the fabric bridge in the podlab process namespace.
pub const FABRIC_BRIDGE: &str = "podlab0";
/// Interface name of a pod's end of its veth, and of a node's end of its fabric veth.
pub const POD_IFACE: &str = "eth0";
/// Interface name of a node's uplink to the fabric.
pub const NODE_UPLINK: &str = "eth0";

/// Bridge + host-gw: a pod bridge per node, host-gw routes between nodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct BridgeHostGw;

impl NetworkLayout for BridgeHostGw {
    fn name(&self) -> &'static str {
        "bridge+host-gw"
    }

    fn fabric_bridge_name(&self) -> &'static str {
        FABRIC_BRIDGE
    }

    fn uplink_name(&self) -> &'static str {
        NODE_UPLINK
    }

    fn node_bridge_name(&self) -> Option<&'static str> {
        Some(NODE_BRIDGE)
    }

    fn pod_iface_name(&self) -> &'static str {
        POD_IFACE
    }

    fn fabric_port_name(&self, node: &NodeAddressing) -> String {
        node.fabric_veth()
    }

    fn iface_role(&self, place: Place, name: &str) -> Option<IfaceRole> {
        match (place, name) {
            (_, "lo") => Some(IfaceRole::Loopback),
            (Place::Fabric, FABRIC_BRIDGE) => Some(IfaceRole::FabricBridge),
            (Place::Fabric, n) if n.starts_with("fab-") => Some(IfaceRole::FabricPort),
            (Place::Node, NODE_UPLINK) => Some(IfaceRole::Uplink),
            (Place::Node, NODE_BRIDGE) => Some(IfaceRole::NodeBridge),
            (Place::Node, n) if n.starts_with("veth") => Some(IfaceRole::HostVeth),
            (Place::Pod, POD_IFACE) => Some(IfaceRole::PodIface),
            _ => None,
        }
    }

    fn describe_address(&self, ip: Ipv4Addr, nodes: &[NodeAddressing]) -> Option<String> {
        if let Some(n) = nodes.iter().find(|n| n.node_ip == ip) {
            return Some(format!("node {}", n.name));
        }
        nodes
            .iter()
            .find(|n| n.gateway == ip)
            .map(|n| format!("{NODE_BRIDGE} of node {}", n.name))
    }

    fn explain_route(&self, route: &RouteEntry, ctx: &AnnotateContext) -> String {
        explain_route(self, route, ctx)
    }

    fn missing_route_hint(
        &self,
        here: &NodeAddressing,
        in_node: bool,
        dst: Ipv4Addr,
        nodes: &[NodeAddressing],
    ) -> String {
        match nodes.iter().find(|n| n.pod_subnet.contains(dst)) {
            Some(peer) if in_node && peer.name != here.name => format!(
                ": the host-gw route {} via {} (pods of {}) is missing",
                peer.pod_subnet, peer.node_ip, peer.name
            ),
            Some(_) if !in_node => format!(": the pod has no default route via {}", here.gateway),
            Some(_) => String::new(),
            None => format!(": destination node unknown (no node has a pod range containing {dst})"),
        }
    }

    fn describe_path(&self, from: &PathEnd<'_>, to: &PathEnd<'_>, to_node: Option<&NodeAddressing>) -> PathDescription {
        let (f, t) = (from, to);
        let (fnode, tnode) = (f.node, t.node);
        let (fveth, tveth) = (&f.net.host_veth, &t.net.host_veth);
        if fnode == tnode {
            return PathDescription {
                same_node: true,
                hops: vec![
                    format!("{} {POD_IFACE} {}", f.pod, f.net.ip),
                    format!("{fnode} {fveth} (veth peer)"),
                    format!("{fnode} {NODE_BRIDGE} (bridge)"),
                    format!("{fnode} {tveth} (veth peer)"),
                    format!("{} {POD_IFACE} {}", t.pod, t.net.ip),
                ],
                router_hops: 0,
            };
        }
        let (nip, nsub) = to_node
            .map(|n| (n.node_ip.to_string(), n.pod_subnet.to_string()))
            .unwrap_or_default();
        PathDescription {
            same_node: false,
            hops: vec![
                format!("{} {POD_IFACE} {} → default via {}", f.pod, f.net.ip, f.net.gateway),
                format!("{fnode} {fveth} (veth peer) → {NODE_BRIDGE}"),
                format!("{fnode} routes {nsub} via {nip} (host-gw) → {NODE_UPLINK}"),
                format!("fabric bridge {FABRIC_BRIDGE}"),
                format!("{tnode} {NODE_UPLINK} {nip} → routes {nsub} to {NODE_BRIDGE} (connected)"),
                format!("{tnode} {NODE_BRIDGE} → {tveth} (veth peer)"),
                format!("{} {POD_IFACE} {}", t.pod, t.net.ip),
            ],
            router_hops: 2,
        }
    }

    fn connected_routes(&self, node: &NodeAddressing) -> Vec<RouteInfo> {
        let fabric = node.node_network();
        vec![
            RouteInfo {
                destination: Ipv4Network::new(fabric.network(), fabric.prefix()).expect("valid"),
                gateway: None,
                dev: NODE_UPLINK.to_string(),
                src: Some(node.node_ip),
            },
            RouteInfo {
                destination: node.pod_subnet,
                gateway: None,
                dev: NODE_BRIDGE.to_string(),
                src: Some(node.gateway),
            },
        ]
    }

    /// The host-gw route (`10.244.j.0/24 via 172.18.0.(j+1) dev eth0`).
    fn peer_route(&self, destination: Ipv4Network, gateway: Option<Ipv4Addr>) -> RouteInfo {
        RouteInfo {
            destination,
            gateway,
            dev: NODE_UPLINK.to_string(),
            src: None,
        }
    }

    fn peer_routes(&self, node: &NodeAddressing, peers: &[NodeAddressing]) -> BTreeMap<Ipv4Network, Ipv4Addr> {
        peers
            .iter()
            .filter(|p| p.name != node.name && p.pod_subnet != node.pod_subnet)
            .map(|p| (p.pod_subnet, p.node_ip))
            .collect()
    }

    /// Inside the cluster pod range and not the node's own subnet.
    fn is_managed_destination(&self, net: &ClusterNetwork, node: &NodeAddressing, dst: &Ipv4Network) -> bool {
        dst.prefix() >= net.pod_cidr.prefix() && net.pod_cidr.contains(dst.network()) && *dst != node.pod_subnet
    }

    fn pod_routes(&self, net: &PodNetwork) -> Vec<RouteInfo> {
        let default = Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid");
        let own = Ipv4Network::new(net.ip, net.prefix)
            .and_then(|x| Ipv4Network::new(x.network(), net.prefix))
            .unwrap_or(default);
        vec![
            RouteInfo {
                destination: default,
                gateway: Some(net.gateway),
                dev: net.pod_iface.clone(),
                src: None,
            },
            RouteInfo {
                destination: own,
                gateway: None,
                dev: net.pod_iface.clone(),
                src: Some(net.ip),
            },
        ]
    }

    fn build_node<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a NodeAddressing,
        netns: &'a Netns,
    ) -> BoxFuture<'a, Result<NodeLinks, NetError>> {
        Box::pin(kernel::build_node(k, node, netns))
    }

    fn apply_routes<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        links: &'a NodeLinks,
        sync: &'a RouteSync,
        managed: &'a BTreeMap<Ipv4Network, netlink_packet_route::route::RouteMessage>,
    ) -> BoxFuture<'a, Result<(), NetError>> {
        Box::pin(kernel::apply_routes(k, node, links, sync, managed))
    }

    fn add_pod<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        pod: &'a PodRef,
        netns: &'a Netns,
        links: &'a NodeLinks,
        net: &'a mut PodNetwork,
    ) -> BoxFuture<'a, Result<(), NetError>> {
        Box::pin(kernel::add_pod(k, node, pod, netns, links, net))
    }

    fn del_pod<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        links: &'a NodeLinks,
        pod: &'a PodRef,
        net: &'a PodNetwork,
    ) -> BoxFuture<'a, Vec<NetError>> {
        Box::pin(kernel::del_pod(k, node, links, pod, net))
    }

    fn release_pod<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        links: &'a NodeLinks,
        pod: &'a PodRef,
        net: &'a PodNetwork,
    ) -> BoxFuture<'a, Vec<NetError>> {
        Box::pin(async move {
            kernel::delete_pod_neighbour(k, node, links, pod, net.ip)
                .await
                .err()
                .into_iter()
                .collect()
        })
    }

    fn check_pod<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        links: &'a NodeLinks,
        pod: &'a PodRef,
        net: &'a PodNetwork,
        locator: Option<&'a NetnsLocator>,
    ) -> BoxFuture<'a, Result<(), NetError>> {
        Box::pin(kernel::check_pod(k, node, links, pod, net, locator))
    }

    fn teardown_node<'a>(&'a self, k: &'a KernelDataplane, node: &'a NodeAddressing) -> BoxFuture<'a, Vec<NetError>> {
        Box::pin(kernel::teardown_node(k, node))
    }
}

/// [`NetworkLayout::explain_route`] for bridge + host-gw: "connected: this node's pod range
/// (bridge cni0)", "host-gw: pods of worker-2 live behind 172.18.0.3", "default: everything
/// else goes to the node (10.244.1.1)".
fn explain_route(layout: &BridgeHostGw, route: &RouteEntry, ctx: &AnnotateContext) -> String {
    let dev = route.dev.as_deref().unwrap_or("?");
    let gw: Option<Ipv4Addr> = route.gateway.as_deref().and_then(|g| g.parse().ok());
    let Some(dst) = route.network() else {
        return format!("unrecognised destination {}", route.destination);
    };
    let who = |ip: Ipv4Addr| {
        layout
            .describe_address(ip, &ctx.nodes)
            .map(|w| format!(" ({w})"))
            .unwrap_or_default()
    };
    let me = ctx.me();
    if dst.prefix() == 0 {
        return match gw {
            Some(g) if ctx.is_pod && me.is_none_or(|m| m.gateway == g) => {
                format!("default: everything else goes to the node ({g})")
            }
            Some(g) => format!("default: everything else goes to {g}{}", who(g)),
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
            who(g)
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
            who(g)
        ),
        (Some(g), None) => format!("static: {dst} goes via {g}{}", who(g)),
        (None, None) if route.scope == "host" => format!("local: {dst} is an address of this namespace"),
        (None, None) => format!("connected: {dst} is directly on {dev}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod_net(ip: [u8; 4], gw: [u8; 4], veth: &str) -> PodNetwork {
        PodNetwork {
            ip: Ipv4Addr::from(ip),
            prefix: 24,
            gateway: Ipv4Addr::from(gw),
            host_veth: veth.into(),
            pod_iface: POD_IFACE.into(),
        }
    }

    #[test]
    fn describes_the_cross_node_path_hop_by_hop() {
        let net = ClusterNetwork::default();
        let w2 = net.node(2, "worker-2").unwrap();
        let (a, b) = (
            pod_net([10, 244, 1, 2], [10, 244, 1, 1], "vetha"),
            pod_net([10, 244, 2, 2], [10, 244, 2, 1], "vethb"),
        );
        let from = PathEnd {
            pod: "web",
            node: "worker-1",
            net: &a,
        };
        let to = PathEnd {
            pod: "db",
            node: "worker-2",
            net: &b,
        };
        let d = BridgeHostGw.describe_path(&from, &to, Some(&w2));
        assert!(!d.same_node);
        assert_eq!(d.router_hops, 2);
        assert_eq!(
            d.hops,
            [
                "web eth0 10.244.1.2 → default via 10.244.1.1",
                "worker-1 vetha (veth peer) → cni0",
                "worker-1 routes 10.244.2.0/24 via 172.18.0.3 (host-gw) → eth0",
                "fabric bridge podlab0",
                "worker-2 eth0 172.18.0.3 → routes 10.244.2.0/24 to cni0 (connected)",
                "worker-2 cni0 → vethb (veth peer)",
                "db eth0 10.244.2.2",
            ]
        );
        let same = BridgeHostGw.describe_path(&from, &PathEnd { node: "worker-1", ..to }, None);
        assert!(same.same_node && same.router_hops == 0);
        assert_eq!(same.hops[2], "worker-1 cni0 (bridge)");
    }

    #[test]
    fn names_what_each_interface_and_address_is() {
        let l = BridgeHostGw;
        assert_eq!(l.iface_role(Place::Node, "cni0"), Some(IfaceRole::NodeBridge));
        assert_eq!(l.iface_role(Place::Node, "eth0"), Some(IfaceRole::Uplink));
        assert_eq!(l.iface_role(Place::Fabric, "fab-3"), Some(IfaceRole::FabricPort));
        assert_eq!(l.describe_iface(Place::Pod, "eth0"), Some("the pod's interface"));
        assert_eq!(l.iface_role(Place::Pod, "cni0"), None);
        let net = ClusterNetwork::default();
        let nodes = [net.node(1, "worker-1").unwrap(), net.node(2, "worker-2").unwrap()];
        let who = |ip: [u8; 4]| l.describe_address(Ipv4Addr::from(ip), &nodes);
        assert_eq!(who([172, 18, 0, 3]).as_deref(), Some("node worker-2"));
        assert_eq!(who([10, 244, 1, 1]).as_deref(), Some("cni0 of node worker-1"));
        assert_eq!(who([10, 244, 1, 9]), None);
    }

    #[test]
    fn a_pod_table_is_its_default_route_then_its_subnet() {
        let r = BridgeHostGw.pod_routes(&pod_net([10, 244, 1, 7], [10, 244, 1, 1], "v"));
        let text: Vec<String> = r.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "0.0.0.0/0 via 10.244.1.1 dev eth0",
                "10.244.1.0/24 dev eth0 proto kernel scope link src 10.244.1.7"
            ]
        );
    }
}
