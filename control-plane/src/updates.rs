//! Writes the Kubernetes API needs beyond `apply` and `delete`: a pod's or namespace's labels
//! and annotations, a node's labels, annotations, taints and cordon (the scheduler sees them at
//! once, and pending pods get another chance), and deleting a namespace with what is in it.

use crate::cluster::{Cluster, Key, Workload};
use crate::error::ApiError;
use crate::outcome::{Outcome, Verb};
use crate::store::lock;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Labels or annotations as Kubernetes stores them.
pub type StringMap = BTreeMap<String, String>;

/// Namespaces kube-apiserver refuses to delete.
const UNDELETABLE: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

impl Cluster {
    /// Copies of the live Node objects, in name order.
    pub fn node_objects(&self) -> Vec<Node> {
        self.store.nodes()
    }

    /// A copy of one live Node object, or `NotFound`.
    pub fn node_object(&self, name: &str) -> Result<Node, ApiError> {
        self.store.node(name).ok_or_else(|| ApiError::not_found("nodes", name))
    }

    /// Change a node's metadata (labels, annotations) or its spec (`unschedulable`, `taints`);
    /// its status and name stay podlab's. The scheduler sees the new node at once and pending
    /// pods are tried again (`kubectl label node worker-1 gpu=true` lets a pod waiting for
    /// `nodeSelector: gpu=true` in).
    pub fn update_node(&self, name: &str, f: impl FnOnce(&mut Node)) -> Result<Node, ApiError> {
        let live = self.node_object(name)?;
        let mut node = live.clone();
        f(&mut node);
        node.metadata.name = live.metadata.name.clone();
        node.metadata.uid = live.metadata.uid.clone();
        node.metadata.creation_timestamp = live.metadata.creation_timestamp.clone();
        node.status = live.status.clone();
        if self.node_failed(name) {
            // Still unreachable: the node lifecycle controller puts its taints back.
            crate::nodes::add_unreachable_taints(&mut node);
        }
        let stored = self.store.put_node(node)?;
        lock(&self.scheduler)?.set_node(stored.clone());
        self.schedule_pending()?;
        Ok(stored)
    }

    /// Replace a pod's labels and annotations (the parts of a pod kube-apiserver lets an update
    /// change here). Returns the stored pod.
    pub fn update_pod_metadata(
        &self,
        key: &Key,
        labels: Option<StringMap>,
        annotations: Option<StringMap>,
    ) -> Result<Pod, ApiError> {
        let mut out = None;
        let found = self.store.update_pod(key, |p| {
            p.metadata.labels = labels;
            p.metadata.annotations = annotations;
            out = Some(p.clone());
        })?;
        match (found, out) {
            (true, Some(mut p)) => {
                p.metadata.resource_version = self.pod(key).and_then(|p| p.metadata.resource_version);
                Ok(p)
            }
            _ => Err(ApiError::not_found("pods", &key.1)),
        }
    }

    /// Replace a namespace's labels and annotations.
    pub fn update_namespace_metadata(
        &self,
        name: &str,
        labels: Option<StringMap>,
        annotations: Option<StringMap>,
    ) -> Result<Namespace, ApiError> {
        self.store
            .update_namespace(name, |ns| {
                ns.metadata.labels = labels;
                ns.metadata.annotations = annotations;
            })?
            .ok_or_else(|| ApiError::not_found("namespaces", name))
    }

    /// Delete a namespace and everything in it, as the namespace controller does: it turns
    /// `Terminating`, its Deployments, ReplicaSets and pods are deleted, then its ConfigMaps and
    /// Secrets, and it goes once they are gone.
    pub fn delete_namespace(self: &Arc<Self>, name: &str) -> Result<Outcome, ApiError> {
        if UNDELETABLE.contains(&name) {
            return Err(ApiError::Forbidden {
                message: format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted"),
            });
        }
        let terminating = self.store.update_namespace(name, |ns| {
            let status = ns.status.get_or_insert_with(Default::default);
            status.phase = Some("Terminating".into());
            if ns.metadata.deletion_timestamp.is_none() {
                ns.metadata.deletion_timestamp = Some(podlab_node_agent::now());
            }
        })?;
        if terminating.is_none() {
            return Err(ApiError::not_found("namespaces", name));
        }
        let in_ns =
            |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| m.namespace.as_deref() == Some(name);
        self.delete_workloads(Workload::Deployment, in_ns)?;
        self.delete_workloads(Workload::ReplicaSet, in_ns)?;
        let pods = self.store.pod_keys_where(|p| in_ns(&p.metadata));
        let me = self.clone();
        let ns = name.to_string();
        tokio::spawn(async move {
            let deletes = pods.iter().map(|k| me.delete_pod(k));
            futures::future::join_all(deletes).await;
            if let Err(e) = me.store.remove_configs_in(&ns) {
                tracing::error!("removing the ConfigMaps and Secrets of namespace {ns}: {e}");
            }
            if let Err(e) = me.store.remove_namespace(&ns) {
                tracing::error!("removing namespace {ns}: {e}");
            }
        });
        Ok(Outcome::new("namespace", name, Verb::Deleted))
    }
}
