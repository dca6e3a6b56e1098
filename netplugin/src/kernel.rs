//! The kernel dataplane: builds the cluster network out of real kernel objects through
//! rtnetlink, with the same bookkeeping as the model dataplane. What is built (links,
//! addresses, routes, neighbour entries) is the [`NetworkLayout`]'s business; this file holds
//! the sockets, the fabric bridge, the per-node cache, the bookkeeping around each layout step,
//! and the uplink operations (cut, shape).
//!
//! One rtnetlink socket lives in the fabric namespace (the namespace of the thread that
//! created the dataplane), one is cached per node namespace, and every pod add opens a
//! short-lived socket inside the pod namespace on a dedicated thread.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

use futures::future::{self, Either};
use ipnetwork::Ipv4Network;
use netlink_packet_route::route::RouteMessage;
use rtnetlink::{Handle, LinkBridge};

use crate::addressing::{ClusterNetwork, NodeAddressing, PodNetwork, PodRef, RouteSync};
use crate::book::{SharedBook, diff_routes};
use crate::error::errno;
use crate::explain::{Explain, ExplainSink};
use crate::layout::{self, NetworkLayout};
use crate::nl;
use crate::ns::{self, NetlinkConnection, Netns};
use crate::reaper::Reaper;
use crate::shaping;
use crate::{LinkShaping, NetError};

/// Cached kernel state of one node, made by [`NetworkLayout::build_node`] and handed to the
/// layout's other kernel steps.
#[derive(Clone, Debug)]
pub struct NodeLinks {
    /// The netlink socket inside the node's namespace.
    pub(crate) handle: Handle,
    /// The node's pod bridge (layouts without one: 0).
    pub(crate) bridge_index: u32,
    /// The node's uplink to the fabric.
    pub(crate) uplink_index: u32,
    /// Batched link deletion in the node's namespace.
    pub(crate) reaper: Reaper,
}

/// A dataplane that creates real kernel objects.
#[derive(Debug)]
pub struct KernelDataplane {
    pub(crate) shared: SharedBook,
    pub(crate) rt: tokio::runtime::Handle,
    /// The netlink socket in the fabric namespace.
    pub(crate) fabric: Handle,
    fabric_bridge: tokio::sync::OnceCell<u32>,
    nodes: Mutex<HashMap<String, NodeLinks>>,
    pub(crate) explain: Explain,
}

/// Polls `work` while also driving the private netlink connection it uses.
pub(crate) async fn with_connection<T>(
    conn: NetlinkConnection,
    work: impl std::future::Future<Output = Result<T, NetError>>,
    what: &str,
) -> Result<T, NetError> {
    let work = std::pin::pin!(work);
    match future::select(work, conn).await {
        Either::Left((r, _)) => r,
        Either::Right(((), _)) => Err(NetError::netlink(
            format!("talk to the kernel in {what}: connection closed"),
            rtnetlink::Error::RequestFailed,
        )),
    }
}

impl KernelDataplane {
    /// Opens a netlink socket in the calling thread's namespace (the fabric namespace); the
    /// default layout.
    pub fn new(net: ClusterNetwork, rt: tokio::runtime::Handle) -> Result<Self, NetError> {
        Self::with_layout(net, rt, layout::default_layout())
    }

    /// Like [`KernelDataplane::new`], with the given network layout.
    pub fn with_layout(
        net: ClusterNetwork,
        rt: tokio::runtime::Handle,
        layout: Arc<dyn NetworkLayout>,
    ) -> Result<Self, NetError> {
        net.validate()?;
        let (conn, fabric) =
            ns::netlink_here(&rt).map_err(|e| NetError::io("open a netlink socket in the fabric namespace", e))?;
        rt.spawn(conn);
        Ok(KernelDataplane {
            shared: SharedBook::new(net, layout),
            rt,
            fabric,
            fabric_bridge: tokio::sync::OnceCell::new(),
            nodes: Mutex::new(HashMap::new()),
            explain: Explain::default(),
        })
    }

    fn layout(&self) -> &dyn NetworkLayout {
        &*self.shared.layout
    }

    fn node_links(&self, node: &str) -> Result<NodeLinks, NetError> {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(node)
            .cloned()
            .ok_or_else(|| NetError::UnknownNode(node.to_string()))
    }

    /// Creates the fabric bridge with the fabric gateway address (reuses an existing one).
    pub async fn setup_fabric(&self) -> Result<(), NetError> {
        self.fabric_bridge_index().await.map(|_| ())
    }

    /// The fabric bridge's index, creating the bridge on first use.
    pub(crate) async fn fabric_bridge_index(&self) -> Result<u32, NetError> {
        let name = self.layout().fabric_bridge_name();
        self.fabric_bridge
            .get_or_try_init(|| async {
                let h = &self.fabric;
                let act = |what: &str| format!("{what} fabric bridge {name}");
                let existing = nl::link_by_name(h, name)
                    .await
                    .map_err(|e| NetError::netlink(act("look up"), e))?;
                let index = match existing {
                    Some(m) => m.header.index,
                    None => {
                        self.explain.emit(|| format!("ip link add {name} type bridge"));
                        match h.link().add(LinkBridge::new(name).build()).execute().await {
                            Err(e) if errno(&e) != Some(libc::EEXIST) => {
                                return Err(NetError::netlink(act("create"), e));
                            }
                            _ => {}
                        }
                        nl::link_index(h, name, "the fabric namespace").await?
                    }
                };
                self.explain.emit(|| format!("ip link set {name} up"));
                nl::set_up(h, index)
                    .await
                    .map_err(|e| NetError::netlink(act("bring up"), e))?;
                let net = self.shared.network();
                let gw = net.fabric_gateway();
                let prefix = net.fabric_cidr.prefix();
                self.explain.emit(|| format!("ip addr add {gw}/{prefix} dev {name}"));
                nl::add_address(h, index, gw, prefix)
                    .await
                    .map_err(|e| NetError::netlink(format!("add {gw}/{prefix} to {name}"), e))?;
                Ok(index)
            })
            .await
            .copied()
    }

    /// Wires node `node` (held by `netns`) to the fabric and builds its pod side (layout).
    pub async fn setup_node(&self, node: &NodeAddressing, netns: Option<&Netns>) -> Result<(), NetError> {
        let netns = netns.ok_or_else(|| NetError::NetnsRequired(format!("node {}", node.name)))?;
        self.shared.add_node(node)?;
        match self.layout().build_node(self, node, netns).await {
            Ok(links) => {
                self.nodes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(node.name.clone(), links);
                Ok(())
            }
            Err(e) => {
                self.shared.lock().nodes.remove(&node.name);
                Err(e)
            }
        }
    }

    /// Reconciles the routes to the other nodes' pods inside node `node` with `peers`.
    pub async fn sync_routes(&self, node: &str, peers: &[NodeAddressing]) -> Result<RouteSync, NetError> {
        let links = self.node_links(node)?;
        let (net, addr) = {
            let book = self.shared.lock();
            (book.net.clone(), book.node(node)?.addr.clone())
        };
        let layout = self.layout();
        let desired = layout.peer_routes(&addr, peers);
        let table = nl::main_routes(&links.handle)
            .await
            .map_err(|e| NetError::netlink(format!("read the routes of node {node}"), e))?;
        let managed: BTreeMap<Ipv4Network, (Option<Ipv4Addr>, RouteMessage)> = table
            .into_iter()
            .filter(|(dst, _)| layout.is_managed_destination(&net, &addr, dst))
            .collect();
        let actual = managed.iter().map(|(d, (g, _))| (*d, *g)).collect();
        let sync = diff_routes(layout, &desired, &actual);
        let messages = managed.into_iter().map(|(d, (_, m))| (d, m)).collect();
        layout.apply_routes(self, node, &links, &sync, &messages).await?;
        if let Ok(nb) = self.shared.lock().node_mut(node) {
            nb.host_gw = desired;
        }
        Ok(sync)
    }

    /// Gives pod `pod` (held by `netns`) its network (layout); on failure nothing is left.
    pub async fn add_pod(&self, node: &str, pod: &PodRef, netns: Option<&Netns>) -> Result<PodNetwork, NetError> {
        let netns = netns.ok_or_else(|| NetError::NetnsRequired(format!("pod {pod}")))?;
        let links = self.node_links(node)?;
        let mut net = self.shared.reserve_pod(node, pod)?.net;
        match self.layout().add_pod(self, node, pod, netns, &links, &mut net).await {
            Ok(()) => {
                self.shared.lock().commit_pod(node, pod, net.clone(), netns.locator());
                Ok(net)
            }
            Err(e) => {
                self.shared.lock().unreserve(node, pod, &net);
                Err(e)
            }
        }
    }

    /// Removes the pod's network (layout) and releases its address; unknown pods are fine
    /// (CNI DEL). Every removal step is tried; if any failed, the errors come back together
    /// and the pod keeps its address (so a retry can finish the job).
    pub async fn del_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        let Some(net) = self.shared.pod_network(node, pod) else {
            return Ok(());
        };
        let links = self.node_links(node)?;
        let errors = self.layout().del_pod(self, node, &links, pod, &net).await;
        if errors.is_empty() {
            self.shared.lock().take_pod(node, pod);
        }
        NetError::from_list(errors)
    }

    /// For a pod whose namespace is gone (its end of the veth went with it): removes what the
    /// layout wrote for it outside that namespace, then releases its address. The address
    /// stays reserved until then, so a new pod given the same address cannot lose its own
    /// entries to this. Unknown pods are fine; failures are reported (all together), the
    /// address is released all the same.
    pub async fn release_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        let net = self.shared.pod_network(node, pod);
        let errors = match (net, self.node_links(node)) {
            (Some(net), Ok(links)) => self.layout().release_pod(self, node, &links, pod, &net).await,
            _ => Vec::new(),
        };
        self.shared.forget_pod(node, pod);
        NetError::from_list(errors)
    }

    /// Verifies the pod's network is in place in the kernel (layout).
    pub async fn check_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        let (net, locator) = {
            let book = self.shared.lock();
            let nb = book.node(node)?;
            let e = nb.pods.get(pod).ok_or_else(|| NetError::UnknownPod {
                pod: pod.to_string(),
                node: node.to_string(),
            })?;
            (e.net.clone(), e.ns.clone())
        };
        let links = self.node_links(node)?;
        self.layout()
            .check_pod(self, node, &links, pod, &net, locator.as_ref())
            .await
    }

    /// Removes what the layout made for the node outside its namespace and forgets the node and
    /// its pods (unknown nodes are fine). Every step is tried; the errors come back together.
    pub async fn teardown_node(&self, node: &str) -> Result<(), NetError> {
        let removed = self.shared.lock().nodes.remove(node);
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).remove(node);
        let Some(nb) = removed else {
            return Ok(());
        };
        NetError::from_list(self.layout().teardown_node(self, &nb.addr).await)
    }

    /// Cut (`up = false`) or restore a node's uplink: its fabric-side end goes down or up, as
    /// when a machine's cable is pulled. The node's own namespaces and pods stay as they are.
    pub async fn set_uplink(&self, node: &str, up: bool) -> Result<(), NetError> {
        let fab = self.fabric_port(node)?;
        let index = nl::link_index(&self.fabric, &fab, "the fabric namespace").await?;
        self.explain
            .emit(|| format!("ip link set {fab} {}", if up { "up" } else { "down" }));
        let msg = rtnetlink::LinkUnspec::new_with_index(index);
        let msg = if up { msg.up() } else { msg.down() };
        self.fabric.link().set(msg.build()).execute().await.map_err(|e| {
            NetError::netlink(
                format!("set {fab} of node {node} {}", if up { "up" } else { "down" }),
                e,
            )
        })
    }

    /// The name of the fabric end of node `node`'s uplink.
    fn fabric_port(&self, node: &str) -> Result<String, NetError> {
        let book = self.shared.lock();
        Ok(self.layout().fabric_port_name(&book.node(node)?.addr))
    }

    /// Shapes both ends of node `node`'s uplink (see [`crate::Dataplane::shape_uplink`]).
    pub async fn shape_uplink(&self, node: &str, shaping: &LinkShaping) -> Result<(), NetError> {
        let links = self.node_links(node)?;
        let fab = self.fabric_port(node)?;
        let uplink = self.layout().uplink_name();
        let plan = shaping::plan(shaping);
        let node_side = async {
            let place = format!("node {node}");
            let index = nl::link_index(&links.handle, uplink, &place).await?;
            self.shape_one(&links.handle, index, &format!("-n {node} "), uplink, &place, &plan)
                .await
        };
        let fabric_side = async {
            let place = "the fabric namespace";
            let index = nl::link_index(&self.fabric, &fab, place).await?;
            self.shape_one(&self.fabric, index, "", &fab, place, &plan).await
        };
        futures::try_join!(node_side, fabric_side)?;
        let _ = self.shared.set_shaping(node, shaping);
        Ok(())
    }

    async fn shape_one(
        &self,
        h: &Handle,
        index: u32,
        ns_flag: &str,
        dev: &str,
        place: &str,
        plan: &[shaping::QdiscPlan],
    ) -> Result<(), NetError> {
        let what = format!("{dev} in {place}");
        if plan.is_empty() {
            self.explain.emit(|| format!("tc {ns_flag}qdisc del dev {dev} root"));
            return shaping::delete_root_qdisc(h, index, &what).await;
        }
        for q in plan {
            self.explain
                .emit(|| format!("tc {ns_flag}qdisc replace dev {dev} {}", q.tc_args));
            shaping::replace_qdisc(h, index, q, &what).await?;
        }
        Ok(())
    }

    /// The explain sink holder (shared with [`crate::Dataplane::set_explain`]).
    pub(crate) fn set_explain(&self, sink: Option<ExplainSink>) {
        self.explain.set(sink);
    }
}
