//! podlab-scheduler: a pure, deterministic re-implementation of kube-scheduler 1.34's
//! default profile over Kubernetes' own `Pod`/`Node` types.
//!
//! Filters: NodeUnschedulable, NodeName, TaintToleration, NodeAffinity (nodeSelector +
//! required), NodePorts, NodeResourcesFit, PodTopologySpread, InterPodAffinity.
//! Scores: TaintToleration, NodeAffinity, NodeResourcesFit (Least/MostAllocated),
//! PodTopologySpread, InterPodAffinity, NodeResourcesBalancedAllocation, ImageLocality.
//!
//! [`Scheduler`] is the fast path (dense per-node numbers, per-domain counts kept up to
//! date on assume/forget, no allocation per rejected node, score memos);
//! [`reference::ReferenceScheduler`] is the straightforward oracle it is tested against
//! (same seed => same placements and messages). See README.md for the pinned behaviour
//! and the benchmark table.

mod cycle;
mod error;
mod explain;
mod index;
mod nodeinfo;
mod podinfo;
mod profile;
pub mod quantity;
pub mod reference;
pub mod resources;
mod scheduler;
mod selectors;
mod tiebreak;

pub use cycle::reasons;
pub use error::{FilterFailure, NO_NODES_MESSAGE, Unschedulable};
pub use explain::{Explanation, NodeExplanation, PluginScore};
pub use profile::{PluginWeights, Profile, ScoringStrategy, num_feasible_nodes_to_find};
pub use scheduler::Scheduler;
