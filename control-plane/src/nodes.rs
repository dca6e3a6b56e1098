//! Nodes and their lifecycle, as the node lifecycle controller sees it: a node that stops
//! answering is NotReady, unschedulable and tainted `node.kubernetes.io/unreachable`; one that
//! dies (`fail_node`) loses its pods at once; one whose uplink is cut (`node_down`) keeps them
//! running until the eviction timeout; `node_up` makes it Ready again.

use crate::cluster::{Cluster, Key, NodeRt};
use crate::error::ApiError;
use crate::store::lock;
use k8s_openapi::api::core::v1::{Pod, Taint};
use podlab_node_agent::lock_unpoisoned;
use std::sync::Arc;
use std::time::Duration;

/// Kubernetes' `tolerationSeconds` for `node.kubernetes.io/unreachable` (scaled by timeScale).
const EVICTION_TIMEOUT: Duration = Duration::from_secs(300);

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

    /// The node is NotReady: unschedulable and tainted `node.kubernetes.io/unreachable`, as the
    /// node lifecycle controller marks a node that stopped answering.
    fn mark_unreachable(&self, name: &str) -> Result<(), ApiError> {
        self.get_node(name)?;
        let mut node = self.node_object(name)?;
        let spec = node.spec.get_or_insert_with(Default::default);
        spec.unschedulable = Some(true);
        spec.taints.get_or_insert_with(Vec::new).push(Taint {
            key: "node.kubernetes.io/unreachable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        });
        lock(&self.scheduler)?.set_node(node);
        lock(&self.failed_nodes)?.insert(name.to_string());
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
        let node = self.node_object(name)?;
        self.dataplane
            .set_uplink(name, true)
            .await
            .map_err(|e| ApiError::Internal(format!("restoring the uplink of node {name}: {e}")))?;
        lock(&self.scheduler)?.set_node(node);
        lock(&self.failed_nodes)?.remove(name);
        self.node_event(
            name,
            "Normal",
            "NodeReady",
            format!("Node {name} status is now: NodeReady"),
        );
        self.schedule_pending()
    }
}
