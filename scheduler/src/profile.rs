//! Scheduler profile: tie-break seed, scoring strategy, percentageOfNodesToScore and
//! score plugin weights (kube-scheduler 1.34 defaults).

/// How NodeResourcesFit scores nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScoringStrategy {
    /// Prefer nodes with the most free cpu/memory (spreads pods; kube-scheduler default).
    #[default]
    LeastAllocated,
    /// Prefer the fullest nodes (bin-packing).
    MostAllocated,
}

/// Score plugin weights; defaults are those of kube-scheduler 1.34.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginWeights {
    /// TaintToleration (PreferNoSchedule taints), default 3.
    pub taint_toleration: i64,
    /// NodeAffinity (preferred terms), default 2.
    pub node_affinity: i64,
    /// NodeResourcesFit (Least/MostAllocated), default 1.
    pub node_resources_fit: i64,
    /// PodTopologySpread (ScheduleAnyway constraints), default 2.
    pub pod_topology_spread: i64,
    /// InterPodAffinity (preferred terms, existing pods' terms), default 2.
    pub inter_pod_affinity: i64,
    /// NodeResourcesBalancedAllocation, default 1.
    pub balanced_allocation: i64,
    /// ImageLocality, default 1.
    pub image_locality: i64,
}

impl Default for PluginWeights {
    fn default() -> Self {
        PluginWeights {
            taint_toleration: 3,
            node_affinity: 2,
            node_resources_fit: 1,
            pod_topology_spread: 2,
            inter_pod_affinity: 2,
            balanced_allocation: 1,
            image_locality: 1,
        }
    }
}

/// Scheduler configuration (one kube-scheduler profile).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Seed of the RNG that breaks ties among equally scored nodes.
    pub seed: u64,
    /// NodeResourcesFit scoring strategy.
    pub scoring: ScoringStrategy,
    /// percentageOfNodesToScore; `None` or `Some(0)` = adaptive (50 - nodes/125, min 5%, >= 100 nodes).
    pub percentage_of_nodes_to_score: Option<u32>,
    /// Score plugin weights.
    pub weights: PluginWeights,
    /// Append kube-scheduler's DefaultPreemption suffix ("preemption: 0/N nodes are available: ...")
    /// to error messages, as a default 1.34 scheduler does. Default true.
    pub preemption_message: bool,
}

impl Default for Profile {
    fn default() -> Self {
        Profile {
            seed: 0,
            scoring: ScoringStrategy::LeastAllocated,
            percentage_of_nodes_to_score: None,
            weights: PluginWeights::default(),
            preemption_message: true,
        }
    }
}

/// kube-scheduler's `numFeasibleNodesToFind`.
pub fn num_feasible_nodes_to_find(percentage: Option<u32>, num_all_nodes: usize) -> usize {
    const MIN_FEASIBLE_NODES_TO_FIND: usize = 100;
    const MIN_FEASIBLE_NODES_PERCENTAGE: i64 = 5;
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND {
        return num_all_nodes;
    }
    let mut pct = i64::from(percentage.unwrap_or(0));
    if pct == 0 {
        pct = (50 - num_all_nodes as i64 / 125).max(MIN_FEASIBLE_NODES_PERCENTAGE);
    }
    let n = (num_all_nodes as i64 * pct / 100) as usize;
    n.clamp(
        MIN_FEASIBLE_NODES_TO_FIND,
        num_all_nodes.max(MIN_FEASIBLE_NODES_TO_FIND),
    )
    .min(num_all_nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_percentage() {
        assert_eq!(num_feasible_nodes_to_find(None, 50), 50);
        assert_eq!(num_feasible_nodes_to_find(None, 100), 100); // 50% = 50 < 100 minimum
        assert_eq!(num_feasible_nodes_to_find(None, 500), 230); // 46%
        assert_eq!(num_feasible_nodes_to_find(None, 5000), 500); // 10%
        assert_eq!(num_feasible_nodes_to_find(None, 6000), 300); // 5% floor
        assert_eq!(num_feasible_nodes_to_find(Some(100), 5000), 5000);
        assert_eq!(num_feasible_nodes_to_find(Some(1), 5000), 100);
    }
}
