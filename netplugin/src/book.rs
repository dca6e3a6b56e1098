//! Bookkeeping shared by both dataplanes: nodes, IPAM, pod records, veth names and the
//! routes to other nodes' pods each node should have, plus the getters both dataplanes offer
//! ([`SharedBook`], one implementation for both).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, MutexGuard};

use ipnetwork::Ipv4Network;

use crate::NetError;
use crate::addressing::{ClusterNetwork, NodeAddressing, PodNetwork, PodRef, RouteInfo, RouteSync};
use crate::ipam::Ipam;
use crate::layout::NetworkLayout;
use crate::ns::NetnsLocator;

/// How many hash salts to try before giving up on a veth name.
pub(crate) const VETH_NAME_ATTEMPTS: u32 = 64;

#[derive(Debug)]
pub(crate) struct PodEntry {
    pub(crate) net: PodNetwork,
    pub(crate) ns: Option<NetnsLocator>,
}

#[derive(Debug)]
pub(crate) struct NodeBook {
    pub(crate) addr: NodeAddressing,
    pub(crate) ipam: Ipam,
    pub(crate) pods: HashMap<PodRef, PodEntry>,
    /// Host veth names in use or reserved by an add in flight.
    pub(crate) veths: HashSet<String>,
    /// Pods with an add in flight (guards against two concurrent adds of one pod).
    pub(crate) pending: HashSet<PodRef>,
    /// Routes to other nodes' pods (destination → next hop) this node has (model) / should
    /// have (kernel), as the layout computed them.
    pub(crate) host_gw: BTreeMap<Ipv4Network, Ipv4Addr>,
    /// Shaping of the node's uplink (`None`: bare veth).
    pub(crate) shaping: Option<crate::LinkShaping>,
}

/// An address and veth name reserved for one pod add.
#[derive(Debug, Clone)]
pub(crate) struct Reservation {
    pub(crate) net: PodNetwork,
}

#[derive(Debug)]
pub(crate) struct Book {
    pub(crate) net: ClusterNetwork,
    pub(crate) nodes: HashMap<String, NodeBook>,
}

impl Book {
    pub(crate) fn new(net: ClusterNetwork) -> Self {
        Book {
            net,
            nodes: HashMap::new(),
        }
    }

    pub(crate) fn check_new_node(&self, addr: &NodeAddressing) -> Result<(), NetError> {
        if self.nodes.contains_key(&addr.name) {
            return Err(NetError::NodeExists(addr.name.clone()));
        }
        if let Some(other) = self.nodes.values().find(|n| n.addr.index == addr.index) {
            return Err(NetError::NodeIndexTaken {
                name: addr.name.clone(),
                index: addr.index,
                other: other.addr.name.clone(),
            });
        }
        // The addressing must be the one the plan gives (guards against hand-built values).
        let planned = self.net.node(addr.index, &addr.name)?;
        if planned != *addr {
            return Err(NetError::InvalidConfig(format!(
                "node {} addressing {:?} does not match the cluster plan {:?}",
                addr.name, addr, planned
            )));
        }
        Ok(())
    }

    pub(crate) fn insert_node(&mut self, addr: NodeAddressing) {
        let book = NodeBook {
            ipam: Ipam::new(addr.pod_subnet),
            addr,
            pods: HashMap::new(),
            veths: HashSet::new(),
            pending: HashSet::new(),
            host_gw: BTreeMap::new(),
            shaping: None,
        };
        self.nodes.insert(book.addr.name.clone(), book);
    }

    pub(crate) fn node(&self, name: &str) -> Result<&NodeBook, NetError> {
        self.nodes
            .get(name)
            .ok_or_else(|| NetError::UnknownNode(name.to_string()))
    }

    pub(crate) fn node_mut(&mut self, name: &str) -> Result<&mut NodeBook, NetError> {
        self.nodes
            .get_mut(name)
            .ok_or_else(|| NetError::UnknownNode(name.to_string()))
    }

    /// Allocates an address and a free veth name for `pod`; the pod's interface is `pod_iface`.
    pub(crate) fn reserve_pod(&mut self, node: &str, pod: &PodRef, pod_iface: &str) -> Result<Reservation, NetError> {
        let nb = self.node_mut(node)?;
        if let Some(e) = nb.pods.get(pod) {
            return Err(NetError::PodExists {
                pod: pod.to_string(),
                node: node.to_string(),
                ip: e.net.ip,
            });
        }
        if nb.pending.contains(pod) {
            return Err(NetError::PodExists {
                pod: pod.to_string(),
                node: node.to_string(),
                ip: Ipv4Addr::UNSPECIFIED,
            });
        }
        let host_veth = nb.pick_veth_name(pod, 0)?;
        let ip = match nb.ipam.allocate() {
            Ok(ip) => ip,
            Err(e) => {
                nb.veths.remove(&host_veth);
                return Err(e);
            }
        };
        nb.pending.insert(pod.clone());
        Ok(Reservation {
            net: PodNetwork {
                ip,
                prefix: nb.addr.pod_subnet.prefix(),
                gateway: nb.addr.gateway,
                host_veth,
                pod_iface: pod_iface.to_string(),
            },
        })
    }

    /// Swaps the reserved veth name for the next candidate (after the kernel said EEXIST).
    pub(crate) fn next_veth_name(&mut self, node: &str, pod: &PodRef, current: &str) -> Result<String, NetError> {
        let nb = self.node_mut(node)?;
        let attempt = (0..VETH_NAME_ATTEMPTS)
            .find(|a| pod.veth_name(*a) == current)
            .map_or(0, |a| a + 1);
        // keep `current` reserved: something in the kernel owns that name.
        nb.pick_veth_name(pod, attempt)
    }

    /// Undoes a reservation after a failed add.
    pub(crate) fn unreserve(&mut self, node: &str, pod: &PodRef, net: &PodNetwork) {
        if let Some(nb) = self.nodes.get_mut(node) {
            nb.ipam.release(net.ip);
            nb.veths.remove(&net.host_veth);
            nb.pending.remove(pod);
        }
    }

    /// Turns a reservation into a pod record.
    pub(crate) fn commit_pod(&mut self, node: &str, pod: &PodRef, net: PodNetwork, ns: Option<NetnsLocator>) {
        if let Some(nb) = self.nodes.get_mut(node) {
            nb.pending.remove(pod);
            nb.pods.insert(pod.clone(), PodEntry { net, ns });
        }
    }

    /// Removes a pod record, releasing its address and veth name.
    pub(crate) fn take_pod(&mut self, node: &str, pod: &PodRef) -> Option<PodEntry> {
        let nb = self.nodes.get_mut(node)?;
        let entry = nb.pods.remove(pod)?;
        nb.ipam.release(entry.net.ip);
        nb.veths.remove(&entry.net.host_veth);
        Some(entry)
    }

    pub(crate) fn pod_network(&self, node: &str, pod: &PodRef) -> Option<PodNetwork> {
        Some(self.nodes.get(node)?.pods.get(pod)?.net.clone())
    }
}

impl NodeBook {
    fn pick_veth_name(&mut self, pod: &PodRef, from: u32) -> Result<String, NetError> {
        for attempt in from..VETH_NAME_ATTEMPTS {
            let name = pod.veth_name(attempt);
            if self.veths.insert(name.clone()) {
                return Ok(name);
            }
        }
        Err(NetError::NoVethName(pod.to_string()))
    }
}

/// Compares the actual managed routes of a node with the desired ones (destination → next
/// hop); the layout says what such a route looks like.
pub(crate) fn diff_routes(
    layout: &dyn NetworkLayout,
    desired: &BTreeMap<Ipv4Network, Ipv4Addr>,
    actual: &BTreeMap<Ipv4Network, Option<Ipv4Addr>>,
) -> RouteSync {
    let mut sync = RouteSync::default();
    for (dst, gw) in desired {
        match actual.get(dst) {
            None => sync.added.push(layout.peer_route(*dst, Some(*gw))),
            Some(a) if *a != Some(*gw) => sync.replaced.push(layout.peer_route(*dst, Some(*gw))),
            Some(_) => {}
        }
    }
    for (dst, gw) in actual {
        if !desired.contains_key(dst) {
            sync.removed.push(layout.peer_route(*dst, *gw));
        }
    }
    sync
}

/// The bookkeeping both dataplanes share, with the layout that decides the routes: one
/// implementation of the getters [`crate::Dataplane`] offers for either dataplane.
#[derive(Debug)]
pub(crate) struct SharedBook {
    book: Mutex<Book>,
    /// How the network is laid out.
    pub(crate) layout: Arc<dyn NetworkLayout>,
}

impl SharedBook {
    pub(crate) fn new(net: ClusterNetwork, layout: Arc<dyn NetworkLayout>) -> Self {
        SharedBook {
            book: Mutex::new(Book::new(net)),
            layout,
        }
    }

    /// The book, even if a panicking thread held it (it is never left half-updated).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The address plan.
    pub(crate) fn network(&self) -> ClusterNetwork {
        self.lock().net.clone()
    }

    /// The pod's network, if it has one on that node.
    pub(crate) fn pod_network(&self, node: &str, pod: &PodRef) -> Option<PodNetwork> {
        self.lock().pod_network(node, pod)
    }

    /// Connected routes plus the peer routes the node has (model) / should have (kernel).
    pub(crate) fn routes(&self, node: &str) -> Vec<RouteInfo> {
        let book = self.lock();
        match book.nodes.get(node) {
            Some(nb) => self.layout.node_routes(&nb.addr, &nb.host_gw),
            None => Vec::new(),
        }
    }

    /// The shaping last set on the node's uplink.
    pub(crate) fn uplink_shaping(&self, node: &str) -> Option<crate::LinkShaping> {
        self.lock().node(node).ok()?.shaping
    }

    /// Records a new node (after checking it fits the plan).
    pub(crate) fn add_node(&self, node: &NodeAddressing) -> Result<(), NetError> {
        let mut book = self.lock();
        book.check_new_node(node)?;
        book.insert_node(node.clone());
        Ok(())
    }

    /// Releases the pod's address and veth name, touching no kernel object.
    pub(crate) fn forget_pod(&self, node: &str, pod: &PodRef) {
        self.lock().take_pod(node, pod);
    }

    /// Reserves an address and a veth name for the pod.
    pub(crate) fn reserve_pod(&self, node: &str, pod: &PodRef) -> Result<Reservation, NetError> {
        let iface = self.layout.pod_iface_name();
        self.lock().reserve_pod(node, pod, iface)
    }

    /// Records the shaping of the node's uplink.
    pub(crate) fn set_shaping(&self, node: &str, shaping: &crate::LinkShaping) -> Result<(), NetError> {
        self.lock().node_mut(node)?.shaping = (!shaping.is_bare()).then_some(*shaping);
        Ok(())
    }
}
