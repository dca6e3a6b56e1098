//! What a cluster is built from: [`ClusterOptions`], the scheduler profile a scenario asks for,
//! and a node's uplink shaping (annotation `podlab.dev/uplink`).

use crate::error::UpError;
use k8s_openapi::api::core::v1::Node;
use podlab_netplugin::ClusterNetwork;

/// Options for bringing a cluster up.
pub struct ClusterOptions {
    /// The cluster's name.
    pub name: String,
    /// Name of the runtime directory under /run/podlab (unique per running cluster).
    pub rundir_name: String,
    /// The pod, node and fabric address ranges.
    pub network: ClusterNetwork,
    /// The worker nodes.
    pub nodes: Vec<Node>,
    /// How the scheduler scores nodes.
    pub scheduler: podlab_scheduler::Profile,
    /// Multiplies every back-off, grace period and timeout (1.0 = Kubernetes' real values).
    pub time_scale: f64,
    /// Run on the model dataplane: no kernel objects, no processes.
    pub model: bool,
    /// Receives the by-hand equivalent of everything built (`ip link add ...`).
    pub explain: Option<podlab_netplugin::ExplainSink>,
    /// The simulated registry (built-in catalog plus the scenario's `cluster.registry`).
    pub registry: podlab_node_agent::Registry,
}
impl ClusterOptions {
    /// The options for the cluster a scenario's `cluster:` section describes.
    pub fn for_scenario(
        spec: &podlab_scenario::ClusterSpec,
        name: &str,
        rundir_name: String,
        model: bool,
        explain: Option<podlab_netplugin::ExplainSink>,
    ) -> Result<Self, UpError> {
        Ok(ClusterOptions {
            name: name.to_string(),
            rundir_name,
            network: ClusterNetwork {
                pod_cidr: spec.pod_cidr,
                node_prefix: spec.node_cidr_prefix,
                fabric_cidr: spec.fabric_cidr,
            },
            nodes: spec.nodes.clone(),
            scheduler: scheduler_profile(spec),
            time_scale: spec.time_scale,
            model,
            explain,
            registry: podlab_node_agent::Registry::new(
                spec.registry.iter().map(|i| (i.name.as_str(), i.runs.as_str())),
            )
            .map_err(|e| UpError::Config(e.to_string()))?,
        })
    }
}

/// The scheduler profile a scenario asks for (seed and scoring strategy).
pub fn scheduler_profile(spec: &podlab_scenario::ClusterSpec) -> podlab_scheduler::Profile {
    let mut weights = podlab_scheduler::PluginWeights::default();
    for (plugin, w) in &spec.scheduler.weights {
        let slot = match plugin.as_str() {
            "TaintToleration" => &mut weights.taint_toleration,
            "NodeAffinity" => &mut weights.node_affinity,
            "NodeResourcesFit" => &mut weights.node_resources_fit,
            "PodTopologySpread" => &mut weights.pod_topology_spread,
            "InterPodAffinity" => &mut weights.inter_pod_affinity,
            "NodeResourcesBalancedAllocation" => &mut weights.balanced_allocation,
            "ImageLocality" => &mut weights.image_locality,
            _ => continue,
        };
        *slot = *w;
    }
    podlab_scheduler::Profile {
        seed: spec.scheduler.seed,
        scoring: if spec.scheduler.scoring == "MostAllocated" {
            podlab_scheduler::ScoringStrategy::MostAllocated
        } else {
            podlab_scheduler::ScoringStrategy::LeastAllocated
        },
        percentage_of_nodes_to_score: spec.scheduler.percentage_of_nodes_to_score,
        weights,
        ..Default::default()
    }
}
/// The link shaping a scenario put on `node` (annotation `podlab.dev/uplink`), if any.
pub fn uplink_shaping(node: &Node) -> Result<Option<podlab_netplugin::LinkShaping>, String> {
    let Some(text) = node
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(podlab_scenario::UPLINK_ANNOTATION))
    else {
        return Ok(None);
    };
    let spec = podlab_scenario::LinkSpec::from_annotation(text).ok_or_else(|| {
        format!(
            "node {}: annotation {} has unreadable link settings {text:?}",
            node.metadata.name.as_deref().unwrap_or_default(),
            podlab_scenario::UPLINK_ANNOTATION
        )
    })?;
    Ok(Some(podlab_netplugin::LinkShaping {
        latency: spec.latency.unwrap_or_default(),
        jitter: spec.jitter.unwrap_or_default(),
        rate_bits_per_sec: spec.rate_bits_per_sec,
    }))
}
