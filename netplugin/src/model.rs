//! The model dataplane: same API as the kernel one, but only IPAM and the routes the layout
//! computes. Touches no kernel object, needs no privileges; used for unprivileged and scale
//! runs. The getters shared with the kernel dataplane live on [`SharedBook`].

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::addressing::{ClusterNetwork, NodeAddressing, PodNetwork, PodRef, RouteSync};
use crate::book::{SharedBook, diff_routes};
use crate::layout::{self, NetworkLayout};
use crate::ns::Netns;
use crate::{LinkShaping, NetError};

/// A dataplane that keeps the whole cluster network as data.
#[derive(Debug)]
pub struct ModelDataplane {
    pub(crate) shared: SharedBook,
}

impl ModelDataplane {
    /// A model dataplane for the given address plan, with the default layout.
    pub fn new(net: ClusterNetwork) -> Self {
        Self::with_layout(net, layout::default_layout())
    }

    /// A model dataplane for the given address plan and network layout.
    pub fn with_layout(net: ClusterNetwork, layout: Arc<dyn NetworkLayout>) -> Self {
        ModelDataplane {
            shared: SharedBook::new(net, layout),
        }
    }

    /// Records a node (its namespace, if given, is ignored).
    pub fn setup_node(&self, node: &NodeAddressing, _netns: Option<&Netns>) -> Result<(), NetError> {
        self.shared.add_node(node)
    }

    /// Brings the node's computed routes to the other nodes' pods in line with `peers`.
    pub fn sync_routes(&self, node: &str, peers: &[NodeAddressing]) -> Result<RouteSync, NetError> {
        let layout = &*self.shared.layout;
        let mut book = self.shared.lock();
        let nb = book.node_mut(node)?;
        let desired = layout.peer_routes(&nb.addr, peers);
        let actual: BTreeMap<_, _> = nb.host_gw.iter().map(|(d, g)| (*d, Some(*g))).collect();
        let sync = diff_routes(layout, &desired, &actual);
        nb.host_gw = desired;
        Ok(sync)
    }

    /// Allocates the pod's address and veth name.
    pub fn add_pod(&self, node: &str, pod: &PodRef, netns: Option<&Netns>) -> Result<PodNetwork, NetError> {
        let iface = self.shared.layout.pod_iface_name();
        let mut book = self.shared.lock();
        let r = book.reserve_pod(node, pod, iface)?;
        book.commit_pod(node, pod, r.net.clone(), netns.and_then(Netns::locator));
        Ok(r.net)
    }

    /// Releases the pod's address; unknown pods are fine (idempotent).
    pub fn del_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        self.shared.forget_pod(node, pod);
        Ok(())
    }

    /// Succeeds if the pod has a network on the node.
    pub fn check_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        let book = self.shared.lock();
        if book.node(node)?.pods.contains_key(pod) {
            Ok(())
        } else {
            Err(NetError::UnknownPod {
                pod: pod.to_string(),
                node: node.to_string(),
            })
        }
    }

    /// Forgets the node and every pod on it (unknown nodes are fine).
    pub fn teardown_node(&self, node: &str) -> Result<(), NetError> {
        self.shared.lock().nodes.remove(node);
        Ok(())
    }

    /// Records the uplink shaping of node `node` (nothing is shaped).
    pub fn shape_uplink(&self, node: &str, shaping: &LinkShaping) -> Result<(), NetError> {
        self.shared.set_shaping(node, shaping)
    }
}
