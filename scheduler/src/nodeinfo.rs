//! Per-node numeric state: allocatable, requested sums, taints, ports, images and the
//! pods placed there. Built once per node update, never cloned per decision.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Taint};

use crate::podinfo::PodInfo;
use crate::resources::{Allocatable, Resources, node_allocatable};
use crate::selectors::Labels;

/// Scheduler-side view of one node.
#[derive(Debug, Clone)]
pub struct NodeInfo {
    /// metadata.name.
    pub name: String,
    /// metadata.labels.
    pub labels: Labels,
    /// spec.unschedulable.
    pub unschedulable: bool,
    /// NoSchedule / NoExecute taints, in spec order.
    pub hard_taints: Vec<Taint>,
    /// PreferNoSchedule taints.
    pub prefer_taints: Vec<Taint>,
    /// Allocatable resources and pod count.
    pub alloc: Allocatable,
    /// Sum of placed pods' requests.
    pub requested: Resources,
    /// Sum of placed pods' scoring cpu requests (defaults for missing requests).
    pub nonzero_cpu: i64,
    /// Sum of placed pods' scoring memory requests.
    pub nonzero_memory: i64,
    /// Pods placed on the node.
    pub pods: Vec<Arc<PodInfo>>,
    /// Image name -> size in bytes (status.images).
    pub images: HashMap<String, i64>,
    /// Zone key (region + zone labels) used to interleave node order.
    pub zone: String,
}

impl NodeInfo {
    /// Builds the view of `node` with no pods.
    pub fn new(node: Node) -> Self {
        let name = node.metadata.name.clone().unwrap_or_default();
        let labels = node.metadata.labels.clone().unwrap_or_default();
        let spec = node.spec.as_ref();
        let unschedulable = spec.and_then(|s| s.unschedulable).unwrap_or(false);
        let mut hard_taints = Vec::new();
        let mut prefer_taints = Vec::new();
        for t in spec.and_then(|s| s.taints.as_ref()).into_iter().flatten() {
            match t.effect.as_str() {
                "NoSchedule" | "NoExecute" => hard_taints.push(t.clone()),
                "PreferNoSchedule" => prefer_taints.push(t.clone()),
                _ => {}
            }
        }
        let mut images = HashMap::new();
        for img in node
            .status
            .as_ref()
            .and_then(|s| s.images.as_ref())
            .into_iter()
            .flatten()
        {
            for n in img.names.iter().flatten() {
                images.insert(n.clone(), img.size_bytes.unwrap_or(0));
            }
        }
        let region = labels.get("topology.kubernetes.io/region").cloned().unwrap_or_default();
        let z = labels.get("topology.kubernetes.io/zone").cloned().unwrap_or_default();
        let zone = if region.is_empty() && z.is_empty() {
            String::new()
        } else {
            format!("{region}:\x00:{z}")
        };
        NodeInfo {
            name,
            labels,
            unschedulable,
            hard_taints,
            prefer_taints,
            alloc: node_allocatable(&node),
            requested: Resources::default(),
            nonzero_cpu: 0,
            nonzero_memory: 0,
            pods: Vec::new(),
            images,
            zone,
        }
    }

    /// Accounts `pod` on this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.nonzero_cpu += pod.nonzero_cpu;
        self.nonzero_memory += pod.nonzero_memory;
        self.pods.push(pod);
    }

    /// Removes the pod with `key`; returns it if it was here.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key == key)?;
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.nonzero_cpu -= pod.nonzero_cpu;
        self.nonzero_memory -= pod.nonzero_memory;
        Some(pod)
    }
}
