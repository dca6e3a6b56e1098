//! The network-layout seam: how a node and its pods are wired (which links, addresses, routes
//! and neighbour entries they get) and what each of those objects *is*, in words, for the views.
//!
//! Today's one layout is [`BridgeHostGw`]: a pod bridge `cni0` per node, one veth per pod on it,
//! and host-gw routes between nodes over their `eth0` uplinks to the fabric bridge `podlab0`.
//! A ptp layout (kindnet/Calico style: one routed veth per pod, no bridge) or a VXLAN layout
//! (flannel style: an overlay device between nodes) would be another implementation of
//! [`NetworkLayout`].
//!
//! Both dataplanes go through the layout: the model asks it for names, addresses and routes as
//! data only ([`NetworkLayout::connected_routes`], [`NetworkLayout::peer_routes`], ...); the
//! kernel dataplane also has it build and remove the objects ([`NetworkLayout::build_node`],
//! [`NetworkLayout::add_pod`], ...). Views (`annotate`, `trace`, the CLI's topology, probes and
//! comparisons) ask it what an interface, address or route is instead of matching on names.

mod bridge_hostgw;

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use futures::future::BoxFuture;
use ipnetwork::Ipv4Network;

pub use bridge_hostgw::{BridgeHostGw, FABRIC_BRIDGE, NODE_BRIDGE, NODE_UPLINK, POD_IFACE};

use crate::NetError;
use crate::addressing::{ClusterNetwork, NodeAddressing, PodNetwork, PodRef, RouteInfo, RouteSync};
use crate::annotate::AnnotateContext;
use crate::inspect::RouteEntry;
use crate::kernel::{KernelDataplane, NodeLinks};
use crate::ns::{Netns, NetnsLocator};

/// The namespace an interface lives in, as far as the layout is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The fabric namespace (podlab's own), which holds the fabric bridge.
    Fabric,
    /// A node's namespace.
    Node,
    /// A pod's namespace.
    Pod,
}

/// What an interface is in the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfaceRole {
    /// The loopback device of any namespace.
    Loopback,
    /// The bridge joining every node (the "physical" network).
    FabricBridge,
    /// The fabric end of one node's uplink.
    FabricPort,
    /// A node's link to the fabric.
    Uplink,
    /// The node's pod bridge, holding the pods' gateway address.
    NodeBridge,
    /// The node's end of a pod's veth.
    HostVeth,
    /// The pod's own interface.
    PodIface,
}

impl IfaceRole {
    /// The role in words: `the node's pod bridge`, `the uplink to the fabric`.
    pub fn describe(self) -> &'static str {
        match self {
            IfaceRole::Loopback => "loopback",
            IfaceRole::FabricBridge => "the fabric bridge joining the nodes",
            IfaceRole::FabricPort => "the fabric end of a node's uplink",
            IfaceRole::Uplink => "the uplink to the fabric",
            IfaceRole::NodeBridge => "the node's pod bridge",
            IfaceRole::HostVeth => "the node's end of a pod's veth",
            IfaceRole::PodIface => "the pod's interface",
        }
    }
}

/// One end of a pod-to-pod path, for [`NetworkLayout::describe_path`].
#[derive(Clone, Copy, Debug)]
pub struct PathEnd<'a> {
    /// How the pod is named in the description (its name).
    pub pod: &'a str,
    /// The node it runs on.
    pub node: &'a str,
    /// Its network.
    pub net: &'a PodNetwork,
}

/// The path a packet takes between two pods, in words (see [`NetworkLayout::describe_path`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathDescription {
    /// True when both pods run on the same node.
    pub same_node: bool,
    /// Every step, in order (`web eth0 10.244.1.2 → default via 10.244.1.1`, ...).
    pub hops: Vec<String>,
    /// Namespaces that route (forward) the packet on the way.
    pub router_hops: usize,
}

/// How the pod network is laid out: names, addresses and routes as data, the kernel steps that
/// build them, and descriptions of every object for the views. Object safe: the dataplanes
/// hold an `Arc<dyn NetworkLayout>`; kernel steps return boxed futures.
pub trait NetworkLayout: fmt::Debug + Send + Sync {
    /// Short name of the layout (`bridge+host-gw`).
    fn name(&self) -> &'static str;

    /// Name of the fabric bridge in the fabric namespace (`podlab0`).
    fn fabric_bridge_name(&self) -> &'static str;
    /// Name of a node's uplink to the fabric, inside the node (`eth0`).
    fn uplink_name(&self) -> &'static str;
    /// Name of the node's pod bridge (`cni0`), `None` for layouts without one.
    fn node_bridge_name(&self) -> Option<&'static str>;
    /// Name of the pod's interface, inside the pod (`eth0`).
    fn pod_iface_name(&self) -> &'static str;
    /// Name of the fabric end of `node`'s uplink (`fab-<index>`).
    fn fabric_port_name(&self, node: &NodeAddressing) -> String;

    /// What interface `name` in a namespace of kind `place` is, if the layout made it.
    fn iface_role(&self, place: Place, name: &str) -> Option<IfaceRole>;
    /// What interface `name` in `place` is, in words (`the node's pod bridge`).
    fn describe_iface(&self, place: Place, name: &str) -> Option<&'static str> {
        self.iface_role(place, name).map(IfaceRole::describe)
    }
    /// Who has address `ip`, in words (`node worker-2`, `cni0 of node worker-1`).
    fn describe_address(&self, ip: Ipv4Addr, nodes: &[NodeAddressing]) -> Option<String>;
    /// Why a route of a node's or a pod's table exists, in words for a learner.
    fn explain_route(&self, route: &RouteEntry, ctx: &AnnotateContext) -> String;
    /// For "no route to `dst`" in node `here` (or, with `in_node` false, in a pod on it): the
    /// route the layout would have put there, as `": the ... is missing"`, or empty.
    fn missing_route_hint(
        &self,
        here: &NodeAddressing,
        in_node: bool,
        dst: Ipv4Addr,
        nodes: &[NodeAddressing],
    ) -> String;
    /// The path from pod `from` to pod `to`, hop by hop in words. `to_node` is the addressing
    /// of `to`'s node, if known.
    fn describe_path(&self, from: &PathEnd<'_>, to: &PathEnd<'_>, to_node: Option<&NodeAddressing>) -> PathDescription;

    /// The connected routes of a node (its fabric network, its own pods).
    fn connected_routes(&self, node: &NodeAddressing) -> Vec<RouteInfo>;
    /// The route of a node's table that sends `destination` (another node's pods) to `gateway`.
    fn peer_route(&self, destination: Ipv4Network, gateway: Option<Ipv4Addr>) -> RouteInfo;
    /// The routes to the other nodes' pods that `node` should have for `peers` (destination →
    /// next hop; the node itself and peers with the same subnet are skipped).
    fn peer_routes(&self, node: &NodeAddressing, peers: &[NodeAddressing]) -> BTreeMap<Ipv4Network, Ipv4Addr>;
    /// Whether route destination `dst` in `node`'s table is the layout's to manage (reconciled
    /// by `sync_routes`, stale ones deleted).
    fn is_managed_destination(&self, net: &ClusterNetwork, node: &NodeAddressing, dst: &Ipv4Network) -> bool;
    /// A pod's route table (default route first, then connected), as the layout builds it.
    fn pod_routes(&self, net: &PodNetwork) -> Vec<RouteInfo>;
    /// A node's whole table: connected routes plus `peer_routes` (as set by the last sync), sorted.
    fn node_routes(&self, node: &NodeAddressing, peer_routes: &BTreeMap<Ipv4Network, Ipv4Addr>) -> Vec<RouteInfo> {
        let mut out = self.connected_routes(node);
        out.extend(peer_routes.iter().map(|(dst, gw)| self.peer_route(*dst, Some(*gw))));
        out.sort();
        out
    }

    /// Kernel: wires node `node` (held by `netns`) to the fabric and builds its pod side and
    /// forwarding. On failure it removes what it made in the fabric namespace.
    fn build_node<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a NodeAddressing,
        netns: &'a Netns,
    ) -> BoxFuture<'a, Result<NodeLinks, NetError>>;
    /// Kernel: applies `sync` (computed against the node's table `managed`) to node `node`,
    /// with the neighbour entries the new next hops need.
    fn apply_routes<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        links: &'a NodeLinks,
        sync: &'a RouteSync,
        managed: &'a BTreeMap<Ipv4Network, netlink_packet_route::route::RouteMessage>,
    ) -> BoxFuture<'a, Result<(), NetError>>;
    /// Kernel: builds pod `pod`'s network (held by `netns`) as reserved in `net` (the host veth
    /// name may change on a name clash). On failure it removes what it made in the node.
    fn add_pod<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        pod: &'a PodRef,
        netns: &'a Netns,
        links: &'a NodeLinks,
        net: &'a mut PodNetwork,
    ) -> BoxFuture<'a, Result<(), NetError>>;
    /// Kernel: removes everything `add_pod` made for the pod. Every step is tried; the errors
    /// are returned together.
    fn del_pod<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        links: &'a NodeLinks,
        pod: &'a PodRef,
        net: &'a PodNetwork,
    ) -> BoxFuture<'a, Vec<NetError>>;
    /// Kernel: for a pod whose namespace is gone (with its end of the veth): removes what
    /// `add_pod` wrote outside that namespace. Every step is tried; errors come back together.
    fn release_pod<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        links: &'a NodeLinks,
        pod: &'a PodRef,
        net: &'a PodNetwork,
    ) -> BoxFuture<'a, Vec<NetError>>;
    /// Kernel: verifies the pod's network is in place (`locator`: its namespace, if known).
    fn check_pod<'a>(
        &'a self,
        k: &'a KernelDataplane,
        node: &'a str,
        links: &'a NodeLinks,
        pod: &'a PodRef,
        net: &'a PodNetwork,
        locator: Option<&'a NetnsLocator>,
    ) -> BoxFuture<'a, Result<(), NetError>>;
    /// Kernel: removes what `build_node` made outside the node's namespace (the namespace
    /// takes the rest). Every step is tried; the errors are returned together.
    fn teardown_node<'a>(&'a self, k: &'a KernelDataplane, node: &'a NodeAddressing) -> BoxFuture<'a, Vec<NetError>>;
}

/// The default layout (bridge + host-gw), shared.
pub fn default_layout() -> std::sync::Arc<dyn NetworkLayout> {
    std::sync::Arc::new(BridgeHostGw)
}
