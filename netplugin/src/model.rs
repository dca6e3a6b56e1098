//! The model dataplane: same API as the kernel one, but only IPAM and computed routes.
//! Touches no kernel object, needs no privileges; used for unprivileged and scale runs.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::addressing::{ClusterNetwork, NodeAddressing, PodNetwork, PodRef, RouteInfo, RouteSync};
use crate::book::{Book, desired_routes, diff_routes};
use crate::ns::Netns;
use crate::{LinkShaping, NetError};

/// A dataplane that keeps the whole cluster network as data.
#[derive(Debug)]
pub struct ModelDataplane {
    book: Mutex<Book>,
}

pub(crate) fn lock(book: &Mutex<Book>) -> MutexGuard<'_, Book> {
    book.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ModelDataplane {
    /// A model dataplane for the given address plan.
    pub fn new(net: ClusterNetwork) -> Self {
        ModelDataplane {
            book: Mutex::new(Book::new(net)),
        }
    }

    /// The address plan.
    pub fn network(&self) -> ClusterNetwork {
        lock(&self.book).net.clone()
    }

    /// Records a node (its namespace, if given, is ignored).
    pub fn setup_node(&self, node: &NodeAddressing, _netns: Option<&Netns>) -> Result<(), NetError> {
        let mut book = lock(&self.book);
        book.check_new_node(node)?;
        book.insert_node(node.clone());
        Ok(())
    }

    /// Brings the node's computed host-gw routes in line with `peers`.
    pub fn sync_routes(&self, node: &str, peers: &[NodeAddressing]) -> Result<RouteSync, NetError> {
        let mut book = lock(&self.book);
        let nb = book.node_mut(node)?;
        let desired = desired_routes(&nb.addr, peers);
        let actual: BTreeMap<_, _> = nb.host_gw.iter().map(|(d, g)| (*d, Some(*g))).collect();
        let sync = diff_routes(&desired, &actual);
        nb.host_gw = desired;
        Ok(sync)
    }

    /// Allocates the pod's address and veth name.
    pub fn add_pod(&self, node: &str, pod: &PodRef, netns: Option<&Netns>) -> Result<PodNetwork, NetError> {
        let mut book = lock(&self.book);
        let r = book.reserve_pod(node, pod)?;
        book.commit_pod(node, pod, r.net.clone(), netns.and_then(Netns::locator));
        Ok(r.net)
    }

    /// Releases the pod's address; unknown pods are fine (idempotent).
    pub fn del_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        lock(&self.book).take_pod(node, pod);
        Ok(())
    }

    /// Succeeds if the pod has a network on the node.
    pub fn check_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        let book = lock(&self.book);
        if book.node(node)?.pods.contains_key(pod) {
            Ok(())
        } else {
            Err(NetError::UnknownPod {
                pod: pod.to_string(),
                node: node.to_string(),
            })
        }
    }

    /// Releases the pod's address (same as `del_pod` here).
    pub fn forget_pod(&self, node: &str, pod: &PodRef) {
        lock(&self.book).take_pod(node, pod);
    }

    /// Forgets the node and every pod on it (unknown nodes are fine).
    pub fn teardown_node(&self, node: &str) -> Result<(), NetError> {
        lock(&self.book).nodes.remove(node);
        Ok(())
    }

    /// Records the uplink shaping of node `node` (nothing is shaped).
    pub fn shape_uplink(&self, node: &str, shaping: &LinkShaping) -> Result<(), NetError> {
        let mut book = lock(&self.book);
        book.node_mut(node)?.shaping = (!shaping.is_bare()).then_some(*shaping);
        Ok(())
    }

    /// The recorded uplink shaping of node `node`.
    pub fn uplink_shaping(&self, node: &str) -> Option<LinkShaping> {
        lock(&self.book).node(node).ok()?.shaping
    }

    /// The pod's network, if it has one.
    pub fn pod_network(&self, node: &str, pod: &PodRef) -> Option<PodNetwork> {
        lock(&self.book).pod_network(node, pod)
    }

    /// The node's computed route table.
    pub fn routes(&self, node: &str) -> Vec<RouteInfo> {
        lock(&self.book).routes(node)
    }
}
