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
    /// Number of placed pods using host ports.
    pub port_pods: usize,
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
            port_pods: 0,
            images,
            zone,
        }
    }

    /// Accounts `pod` on this node.
    pub fn add_pod(&mut self, pod: Arc<PodInfo>) {
        self.requested.add(&pod.requests);
        self.nonzero_cpu += pod.nonzero_cpu;
        self.nonzero_memory += pod.nonzero_memory;
        self.port_pods += usize::from(!pod.host_ports.is_empty());
        self.pods.push(pod);
    }

    /// Removes the pod with `key`; returns it if it was here.
    pub fn remove_pod(&mut self, key: &str) -> Option<Arc<PodInfo>> {
        let i = self.pods.iter().position(|p| p.key == key)?;
        let pod = self.pods.swap_remove(i);
        self.requested.sub(&pod.requests);
        self.nonzero_cpu -= pod.nonzero_cpu;
        self.nonzero_memory -= pod.nonzero_memory;
        self.port_pods -= usize::from(!pod.host_ports.is_empty());
        Some(pod)
    }
}

/// Node has `spec.unschedulable`.
pub const HOT_UNSCHEDULABLE: u8 = 1;
/// Node has NoSchedule/NoExecute taints.
pub const HOT_HARD_TAINTS: u8 = 2;
/// Node has PreferNoSchedule taints.
pub const HOT_PREFER_TAINTS: u8 = 4;
/// Some placed pod uses host ports.
pub const HOT_PORTS: u8 = 8;

/// The numbers the filter and score loops read for every visited node, packed in one
/// small struct (kept in a dense array next to the `NodeInfo`s, rebuilt on every change).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hot {
    /// Allocatable cpu (millicores), memory, ephemeral storage, pods.
    pub alloc_cpu: i64,
    /// Allocatable memory (bytes).
    pub alloc_mem: i64,
    /// Allocatable ephemeral storage (bytes).
    pub alloc_eph: i64,
    /// Allocatable pod count.
    pub alloc_pods: i64,
    /// Requested cpu (millicores) of placed pods.
    pub req_cpu: i64,
    /// Requested memory of placed pods.
    pub req_mem: i64,
    /// Requested ephemeral storage of placed pods.
    pub req_eph: i64,
    /// Number of placed pods.
    pub pods: i64,
    /// Scoring cpu requests (defaults for missing requests).
    pub nonzero_cpu: i64,
    /// Scoring memory requests.
    pub nonzero_mem: i64,
    /// `HOT_*` flags.
    pub flags: u8,
}

impl Hot {
    /// Packs the hot numbers of `n`.
    pub fn of(n: &NodeInfo) -> Hot {
        let mut flags = 0;
        if n.unschedulable {
            flags |= HOT_UNSCHEDULABLE;
        }
        if !n.hard_taints.is_empty() {
            flags |= HOT_HARD_TAINTS;
        }
        if !n.prefer_taints.is_empty() {
            flags |= HOT_PREFER_TAINTS;
        }
        if n.port_pods > 0 {
            flags |= HOT_PORTS;
        }
        let a = &n.alloc.resources;
        Hot {
            alloc_cpu: a.milli_cpu,
            alloc_mem: a.memory,
            alloc_eph: a.ephemeral_storage,
            alloc_pods: n.alloc.pods,
            req_cpu: n.requested.milli_cpu,
            req_mem: n.requested.memory,
            req_eph: n.requested.ephemeral_storage,
            pods: n.pods.len() as i64,
            nonzero_cpu: n.nonzero_cpu,
            nonzero_mem: n.nonzero_memory,
            flags,
        }
    }
}

/// A node's last weighted NodeResourcesFit + BalancedAllocation score and the pod numbers
/// it was computed for (pods of one Deployment share them): reused until the node changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoreMemo {
    /// Scoring cpu, scoring memory, cpu request, memory request of the pod.
    pub key: [i64; 4],
    /// The weighted score sum.
    pub score: i64,
}

impl ScoreMemo {
    /// Matches no pod.
    pub const EMPTY: ScoreMemo = ScoreMemo {
        key: [i64::MIN; 4],
        score: 0,
    };
}
