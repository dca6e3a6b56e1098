//! Nodes and their lifecycle, as the node lifecycle controller sees it: a node that stops
//! answering gets what kube-controller-manager writes into its Node object (condition Ready
//! `Unknown`, reason `NodeStatusUnknown`, taints `node.kubernetes.io/unreachable` NoSchedule and
//! NoExecute), so a watch on nodes sees it; one that dies (`fail_node`) loses its pods at once;
//! one whose uplink is cut (`node_down`) keeps them running until the eviction timeout;
//! `node_up` makes it Ready again (the kubelet's `KubeletReady`, the taints gone).

use crate::cluster::{Cluster, Key, NodeRt};
use crate::error::ApiError;
use crate::store::lock;
use k8s_openapi::api::core::v1::{Node, NodeCondition, Pod, Taint};
use podlab_node_agent::lock_unpoisoned;
use std::sync::Arc;
use std::time::Duration;

/// Kubernetes' `tolerationSeconds` for `node.kubernetes.io/unreachable` (scaled by timeScale).
const EVICTION_TIMEOUT: Duration = Duration::from_secs(300);

/// The taint key the node lifecycle controller puts on a node that stopped answering.
pub(crate) const UNREACHABLE_TAINT: &str = "node.kubernetes.io/unreachable";

/// The Ready condition a kubelet posts for a healthy node.
pub(crate) fn kubelet_ready() -> NodeCondition {
    NodeCondition {
        type_: "Ready".into(),
        status: "True".into(),
        reason: Some("KubeletReady".into()),
        message: Some("kubelet is posting ready status".into()),
        last_heartbeat_time: Some(podlab_node_agent::now()),
        last_transition_time: Some(podlab_node_agent::now()),
    }
}

/// Sets `node`'s Ready condition to `cond`; the heartbeat stays the last one the kubelet posted
/// when the node stopped answering (status `Unknown`), as kube-controller-manager leaves it.
fn set_ready(node: &mut Node, mut cond: NodeCondition) {
    let conds = node
        .status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new);
    match conds.iter_mut().find(|c| c.type_ == "Ready") {
        Some(c) => {
            if cond.status == "Unknown" {
                cond.last_heartbeat_time = c.last_heartbeat_time.clone();
            }
            if c.status == cond.status {
                cond.last_transition_time = c.last_transition_time.clone();
            }
            *c = cond;
        }
        None => conds.push(cond),
    }
}

/// Adds the `node.kubernetes.io/unreachable` NoSchedule and NoExecute taints where missing.
pub(crate) fn add_unreachable_taints(node: &mut Node) {
    let taints = node
        .spec
        .get_or_insert_with(Default::default)
        .taints
        .get_or_insert_with(Vec::new);
    for effect in ["NoSchedule", "NoExecute"] {
        if !taints.iter().any(|t| t.key == UNREACHABLE_TAINT && t.effect == effect) {
            taints.push(Taint {
                key: UNREACHABLE_TAINT.into(),
                effect: effect.into(),
                time_added: Some(podlab_node_agent::now()),
                value: None,
            });
        }
    }
}

impl Cluster {
    /// A node by name, if there is one.
    pub fn node(&self, name: &str) -> Option<&NodeRt> {
        self.nodes.iter().find(|n| n.addr.name == name)
    }

    /// A node by name, or `NotFound` as kube-apiserver answers.
    pub fn get_node(&self, name: &str) -> Result<&NodeRt, ApiError> {
        self.node(name).ok_or_else(|| ApiError::not_found("nodes", name))
    }

    /// Whether a node was taken down with `fail_node` or `node_down` (and not up again).
    pub fn node_failed(&self, name: &str) -> bool {
        lock_unpoisoned(&self.failed_nodes).contains(name)
    }

    /// The keys of the pods bound to `node`.
    fn pods_on(&self, node: &str) -> Vec<Key> {
        self.store
            .pod_keys_where(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
    }

    /// The node is NotReady, as the node lifecycle controller marks a node that stopped
    /// answering: its stored object gets Ready `Unknown` (`NodeStatusUnknown`, "Kubelet stopped
    /// posting node status.") and the `node.kubernetes.io/unreachable` taints, which the
    /// scheduler then sees.
    fn mark_unreachable(&self, name: &str) -> Result<(), ApiError> {
        self.get_node(name)?;
        let mut node = self.node_object(name)?;
        set_ready(
            &mut node,
            NodeCondition {
                type_: "Ready".into(),
                status: "Unknown".into(),
                reason: Some("NodeStatusUnknown".into()),
                message: Some("Kubelet stopped posting node status.".into()),
                last_heartbeat_time: None,
                last_transition_time: Some(podlab_node_agent::now()),
            },
        );
        add_unreachable_taints(&mut node);
        lock(&self.failed_nodes)?.insert(name.to_string());
        let stored = self.store.put_node(node)?;
        lock(&self.scheduler)?.set_node(stored);
        Ok(())
    }

    /// Take a node down, as when it dies: it becomes NotReady and unschedulable, and its pods'
    /// containers are killed at once (no grace period). Pods of ReplicaSets and Deployments are
    /// then recreated on the remaining nodes by their controllers; bare pods are gone for good.
    /// Returns the pods that were on the node.
    pub async fn fail_node(&self, name: &str) -> Result<Vec<Pod>, ApiError> {
        self.mark_unreachable(name)?;
        let victims: Vec<Pod> = self
            .store
            .pods_where(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name));
        let keys: Vec<Key> = victims.iter().map(crate::cluster::key_of).collect();
        let deletes = keys.iter().map(|k| self.delete_logged(k, Some(Duration::ZERO)));
        futures::future::join_all(deletes).await;
        self.store.touch();
        Ok(victims)
    }

    /// Cut a node's uplink, as when its network fails: the node goes NotReady and unschedulable,
    /// its pods keep running but nobody reaches them, and after the eviction timeout
    /// (Kubernetes' 300 s `tolerationSeconds` for `node.kubernetes.io/unreachable`, scaled by
    /// `timeScale`) they are evicted; Deployments and ReplicaSets replace them on healthy nodes,
    /// with new IPs. Pods are mortal. Returns the eviction timeout.
    pub async fn node_down(self: &Arc<Self>, name: &str) -> Result<Duration, ApiError> {
        self.get_node(name)?;
        self.dataplane
            .set_uplink(name, false)
            .await
            .map_err(|e| ApiError::Internal(format!("cutting the uplink of node {name}: {e}")))?;
        self.mark_unreachable(name)?;
        self.node_event(
            name,
            "Normal",
            "NodeNotReady",
            format!("Node {name} status is now: NodeNotReady (uplink cut)"),
        );
        let timeout = EVICTION_TIMEOUT.mul_f64(self.time_scale);
        let me = self.clone();
        let node_name = name.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if me.node_failed(&node_name) {
                me.evict(&node_name).await;
            }
        });
        Ok(timeout)
    }

    /// The taint manager's eviction of every pod on an unreachable node.
    async fn evict(&self, node: &str) {
        for k in self.pods_on(node) {
            if let Some(p) = self.pod(&k) {
                let message = format!("Marking for deletion Pod {}/{}", k.0, k.1);
                self.pod_event(
                    &p,
                    "Normal",
                    "TaintManagerEviction",
                    message,
                    "taint-eviction-controller",
                );
            }
            self.delete_logged(&k, Some(Duration::ZERO)).await;
        }
    }

    /// Restore a node's uplink: it is Ready and schedulable again.
    pub async fn node_up(&self, name: &str) -> Result<(), ApiError> {
        let mut node = self.node_object(name)?;
        self.dataplane
            .set_uplink(name, true)
            .await
            .map_err(|e| ApiError::Internal(format!("restoring the uplink of node {name}: {e}")))?;
        set_ready(&mut node, kubelet_ready());
        if let Some(taints) = node.spec.as_mut().and_then(|s| s.taints.as_mut()) {
            taints.retain(|t| t.key != UNREACHABLE_TAINT);
        }
        lock(&self.failed_nodes)?.remove(name);
        let stored = self.store.put_node(node)?;
        lock(&self.scheduler)?.set_node(stored);
        self.node_event(
            name,
            "Normal",
            "NodeReady",
            format!("Node {name} status is now: NodeReady"),
        );
        self.schedule_pending()
    }
}
