//! Bookkeeping shared by both dataplanes: nodes, IPAM, pod records, veth names and the
//! host-gw route table each node should have.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::addressing::{
    ClusterNetwork, NODE_UPLINK, NodeAddressing, PodNetwork, PodRef, RouteInfo, RouteSync, connected_routes,
    host_gw_route,
};
use crate::ipam::Ipam;
use crate::ns::NetnsLocator;
use crate::{NetError, POD_IFACE};

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
    /// Host-gw routes this node has (model) / should have (kernel).
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

    /// Allocates an address and a free veth name for `pod` (starting at hash salt `attempt`).
    pub(crate) fn reserve_pod(&mut self, node: &str, pod: &PodRef) -> Result<Reservation, NetError> {
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
                pod_iface: POD_IFACE.to_string(),
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

    /// Connected routes plus the host-gw routes the node has / should have.
    pub(crate) fn routes(&self, node: &str) -> Vec<RouteInfo> {
        let Some(nb) = self.nodes.get(node) else {
            return Vec::new();
        };
        let mut out = connected_routes(&nb.addr);
        out.extend(nb.host_gw.iter().map(|(dst, gw)| RouteInfo {
            destination: *dst,
            gateway: Some(*gw),
            dev: NODE_UPLINK.to_string(),
            src: None,
        }));
        out.sort();
        out
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

/// The host-gw routes `node` should have for `peers` (itself and same-subnet entries skipped).
pub(crate) fn desired_routes(node: &NodeAddressing, peers: &[NodeAddressing]) -> BTreeMap<Ipv4Network, Ipv4Addr> {
    peers
        .iter()
        .filter(|p| p.name != node.name && p.pod_subnet != node.pod_subnet)
        .map(|p| {
            let r = host_gw_route(p);
            (r.destination, p.node_ip)
        })
        .collect()
}

/// Compares the actual routes inside the pod range (own subnet excluded) with the desired ones.
pub(crate) fn diff_routes(
    desired: &BTreeMap<Ipv4Network, Ipv4Addr>,
    actual: &BTreeMap<Ipv4Network, Option<Ipv4Addr>>,
) -> RouteSync {
    let route = |dst: &Ipv4Network, gw: Option<Ipv4Addr>| RouteInfo {
        destination: *dst,
        gateway: gw,
        dev: NODE_UPLINK.to_string(),
        src: None,
    };
    let mut sync = RouteSync::default();
    for (dst, gw) in desired {
        match actual.get(dst) {
            None => sync.added.push(route(dst, Some(*gw))),
            Some(a) if *a != Some(*gw) => sync.replaced.push(route(dst, Some(*gw))),
            Some(_) => {}
        }
    }
    for (dst, gw) in actual {
        if !desired.contains_key(dst) {
            sync.removed.push(route(dst, *gw));
        }
    }
    sync
}

/// Whether `dst` lies inside the cluster pod range and is not the node's own subnet.
pub(crate) fn is_managed_destination(net: &ClusterNetwork, node: &NodeAddressing, dst: &Ipv4Network) -> bool {
    dst.prefix() >= net.pod_cidr.prefix() && net.pod_cidr.contains(dst.network()) && *dst != node.pod_subnet
}
