//! podlab's CNI-shaped network plugin.
//!
//! It owns every kernel network object of a podlab cluster: the fabric bridge `podlab0`,
//! each node's uplink veth and pod bridge `cni0`, host-gw routes between nodes, and each
//! pod's veth, address and default route, plus per-node IPAM. It speaks netlink through
//! `rtnetlink` and never shells out to `ip`.
//!
//! [`Dataplane::kernel`] builds real objects; [`Dataplane::model`] keeps the same
//! addresses and routes as data only (no privileges, any scale).
//!
//! # Layout
//!
//! How the pod network is wired is a [`layout::NetworkLayout`]; both dataplanes go through it
//! ([`Dataplane::layout`]), and so do the views, which ask it what an interface, address or
//! route is instead of matching on names. Today's one layout is bridge + host-gw.
//!
//! - [`layout`]: the [`layout::NetworkLayout`] trait (names, routes as data, kernel steps,
//!   descriptions for views) and `layout/bridge_hostgw.rs` (its one implementation: names,
//!   routes, descriptions) with `layout/bridge_hostgw/kernel.rs` (its rtnetlink steps).
//! - `kernel`: [`KernelDataplane`]: sockets, the fabric bridge, the per-node cache, the
//!   bookkeeping around each layout step, uplink cut and shaping.
//! - `model`: [`ModelDataplane`]: the same bookkeeping with the layout's routes as data.
//! - `book`: bookkeeping both dataplanes share (nodes, IPAM, pods, veth names, routes) and
//!   the getters [`Dataplane`] offers for either (one implementation).
//! - [`addressing`]: the address plan and the plain data types (node, pod, route).
//! - [`ipam`]: per-node address allocation.
//! - [`annotate`]: why each route exists, in words (the layout's words).
//! - [`trace`]: the hop-by-hop path of a packet, asked from the kernel in every namespace.
//! - [`capture`]: packets of a namespace's interfaces into a pcap file (`podlab capture`).
//! - [`neighbours`]: a namespace's ARP table.
//! - [`inspect`]: read-only snapshots of a namespace (links, routes, counters, lookups).
//! - [`probe`]: real probes between namespaces (TCP connect, app port, received TTL).
//! - [`ns`]: network namespace handles and running code inside one.
//! - `nl`, `reaper`, `shaping`, `explain`: netlink helpers, batched link deletion, tc
//!   qdiscs, the `--explain` hook.
//! - [`bare`]: a bare veth pair for the benches.

pub mod addressing;
pub mod annotate;
mod book;
pub mod capture;
mod error;
mod explain;
pub mod inspect;
pub mod ipam;
mod kernel;
pub mod layout;
mod model;
pub mod neighbours;
mod nl;
pub mod ns;
pub mod probe;
mod reaper;
mod shaping;
pub mod trace;

pub use addressing::{
    ClusterNetwork, FABRIC_BRIDGE, NODE_BRIDGE, NODE_UPLINK, NodeAddressing, POD_IFACE, PodNetwork, PodRef, RouteInfo,
    RouteSync,
};
pub use error::NetError;
pub use explain::ExplainSink;
pub use kernel::{KernelDataplane, NodeLinks};
pub use layout::NetworkLayout;
pub use model::ModelDataplane;
pub use ns::Netns;
pub use shaping::{LinkShaping, tc_rate, tc_time};

/// The cluster network, either built in the kernel or modelled as data. Same API for both.
#[derive(Debug)]
pub enum Dataplane {
    /// Real bridges, veths, addresses and routes.
    Kernel(KernelDataplane),
    /// IPAM and computed routes only.
    Model(ModelDataplane),
}

impl Dataplane {
    /// A kernel dataplane whose fabric lives in the calling thread's network namespace.
    /// Netlink sockets are registered with runtime `rt`.
    pub fn kernel(net: ClusterNetwork, rt: tokio::runtime::Handle) -> Result<Self, NetError> {
        Ok(Dataplane::Kernel(KernelDataplane::new(net, rt)?))
    }

    /// A model dataplane (touches no kernel object).
    pub fn model(net: ClusterNetwork) -> Self {
        Dataplane::Model(ModelDataplane::new(net))
    }

    /// True for the model dataplane.
    pub fn is_model(&self) -> bool {
        matches!(self, Dataplane::Model(_))
    }

    /// The bookkeeping both dataplanes share (one implementation of the getters).
    fn shared(&self) -> &book::SharedBook {
        match self {
            Dataplane::Kernel(k) => &k.shared,
            Dataplane::Model(m) => &m.shared,
        }
    }

    /// How the network is laid out: names of the objects, what each is, the path between pods
    /// (e.g. `layout().node_bridge_name()`, `layout().uplink_name()`,
    /// `layout().fabric_bridge_name()`, `layout().describe_path(..)`).
    pub fn layout(&self) -> &dyn NetworkLayout {
        &*self.shared().layout
    }

    /// The layout, shared (for contexts that outlive the borrow, e.g. [`annotate::AnnotateContext`]).
    pub fn layout_handle(&self) -> std::sync::Arc<dyn NetworkLayout> {
        self.shared().layout.clone()
    }

    /// The address plan.
    pub fn network(&self) -> ClusterNetwork {
        self.shared().network()
    }

    /// Creates the fabric bridge `podlab0` (fabric gateway address, up) in the current
    /// namespace. Idempotent. No-op for the model.
    pub async fn setup_fabric(&self) -> Result<(), NetError> {
        match self {
            Dataplane::Kernel(k) => k.setup_fabric().await,
            Dataplane::Model(_) => Ok(()),
        }
    }

    /// Sets up a node. Kernel: needs `Some(netns)`; brings `lo` up, creates the fabric veth
    /// (`fab-<i>` on `podlab0` ↔ `eth0` in the node) with the node IP, bridge `cni0` with the
    /// pod gateway, and enables `ip_forward` in the node. Calls `setup_fabric` if needed.
    pub async fn setup_node(&self, node: &NodeAddressing, netns: Option<&Netns>) -> Result<(), NetError> {
        match self {
            Dataplane::Kernel(k) => k.setup_node(node, netns).await,
            Dataplane::Model(m) => m.setup_node(node, netns),
        }
    }

    /// Reconciles node `node`'s host-gw routes (`<peer subnet> via <peer node IP>`) with
    /// `peers` (which may include the node itself): adds missing, replaces wrong and deletes
    /// stale routes inside the cluster pod range. Returns what changed.
    pub async fn sync_routes(&self, node: &str, peers: &[NodeAddressing]) -> Result<RouteSync, NetError> {
        match self {
            Dataplane::Kernel(k) => k.sync_routes(node, peers).await,
            Dataplane::Model(m) => m.sync_routes(node, peers),
        }
    }

    /// CNI ADD: allocates the pod's address and (kernel) builds its veth, address, `lo` and
    /// default route. On failure nothing is left behind. Fails with
    /// [`NetError::PodExists`] if the pod already has a network on the node.
    pub async fn add_pod(&self, node: &str, pod: &PodRef, netns: Option<&Netns>) -> Result<PodNetwork, NetError> {
        match self {
            Dataplane::Kernel(k) => k.add_pod(node, pod, netns).await,
            Dataplane::Model(m) => m.add_pod(node, pod, netns),
        }
    }

    /// CNI DEL: deletes the pod's veth (and what else the layout made for it) and releases its
    /// address. Idempotent. Every step is tried; several failures come back together
    /// ([`NetError::Several`]) and the pod keeps its address for a retry.
    pub async fn del_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        match self {
            Dataplane::Kernel(k) => k.del_pod(node, pod).await,
            Dataplane::Model(m) => m.del_pod(node, pod),
        }
    }

    /// CNI CHECK: verifies the pod's network is in place.
    pub async fn check_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        match self {
            Dataplane::Kernel(k) => k.check_pod(node, pod).await,
            Dataplane::Model(m) => m.check_pod(node, pod),
        }
    }

    /// For a pod whose namespace is gone (which removed its veth): removes what podlab wrote
    /// for it outside that namespace (the node bridge's neighbour entry), then releases its
    /// address (always, even if removing failed). Idempotent.
    pub async fn release_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        match self {
            Dataplane::Kernel(k) => k.release_pod(node, pod).await,
            Dataplane::Model(m) => m.del_pod(node, pod),
        }
    }

    /// Releases the pod's address only, touching no kernel object: for a pod whose network
    /// was never finished, or when the whole node goes (its namespace takes everything).
    pub fn forget_pod(&self, node: &str, pod: &PodRef) {
        self.shared().forget_pod(node, pod);
    }

    /// Removes the node's fabric veth and forgets the node with all its pods. Idempotent.
    /// Every step is tried; several failures come back together ([`NetError::Several`]).
    pub async fn teardown_node(&self, node: &str) -> Result<(), NetError> {
        match self {
            Dataplane::Kernel(k) => k.teardown_node(node).await,
            Dataplane::Model(m) => m.teardown_node(node),
        }
    }

    /// Cut or restore a node's uplink to the fabric (kernel: the fabric-side veth goes down/up;
    /// model: nothing to do).
    pub async fn set_uplink(&self, node: &str, up: bool) -> Result<(), NetError> {
        match self {
            Dataplane::Kernel(k) => k.set_uplink(node, up).await,
            Dataplane::Model(_) => Ok(()),
        }
    }

    /// The pod's network, if it has one on that node.
    pub fn pod_network(&self, node: &str, pod: &PodRef) -> Option<PodNetwork> {
        self.shared().pod_network(node, pod)
    }

    /// The node's route table: connected routes plus host-gw routes (computed by the model,
    /// expected by the kernel dataplane after the last `sync_routes`). Sorted.
    pub fn routes(&self, node: &str) -> Vec<RouteInfo> {
        self.shared().routes(node)
    }

    /// Shapes node `node`'s uplink: netem (delay/jitter) and tbf (rate) qdiscs on both ends
    /// (`eth0` in the node and `fab-<i>` in the fabric), each with half the latency and
    /// jitter and the full rate. A bare [`LinkShaping`] removes any shaping. Replaces what
    /// was there, so it can be called again. The model only records it. Fails with
    /// [`NetError::QdiscUnsupported`] when the kernel lacks netem or tbf.
    pub async fn shape_uplink(&self, node: &str, shaping: &LinkShaping) -> Result<(), NetError> {
        match self {
            Dataplane::Kernel(k) => k.shape_uplink(node, shaping).await,
            Dataplane::Model(m) => m.shape_uplink(node, shaping),
        }
    }

    /// The shaping last set on node `node`'s uplink (`None`: bare veth or unknown node).
    pub fn uplink_shaping(&self, node: &str) -> Option<LinkShaping> {
        self.shared().uplink_shaping(node)
    }

    /// Reports every kernel change (`ExplainSink` = `Arc<dyn Fn(&str) + Send + Sync>`) as the equivalent iproute2 command (e.g.
    /// `ip -n worker-2 route add 10.244.1.0/24 via 172.18.0.2`). The model reports nothing.
    pub fn set_explain(&self, sink: Option<ExplainSink>) {
        if let Dataplane::Kernel(k) = self {
            k.set_explain(sink);
        }
    }
}
