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
//! and the benchmark table (the benchmark itself is `podlab bench schedule`).
//!
//! # Layout
//!
//! - [`Scheduler`] (`scheduler`): the incremental cluster snapshot and the scheduling loop
//!   (round-robin start, numFeasibleNodesToFind, scoring, tie-break, assume/forget).
//! - `cycle`: one scheduling cycle: per-pod precomputation (`cycle/mod.rs`), the filter
//!   plugins (`cycle/filter.rs`), the score plugins and normalization (`cycle/score.rs`).
//! - `nodeinfo`, `podinfo`: nodes and pods parsed once into dense numbers and small structs.
//! - `index`: per-node and per-topology-domain counts of pods matching cached selectors.
//! - `selectors`: label selectors, node selector terms, taint/toleration matching.
//! - [`resources`]: resource vectors and the pod request arithmetic; [`quantity`]: the
//!   quantity parser (re-exported from `podlab-k8s-values`).
//! - [`Profile`] (`profile`): seed, scoring strategy, percentage of nodes, plugin weights.
//! - `tiebreak`: the seeded choice among equally scored nodes, shared with the reference.
//! - [`Unschedulable`] (`error`): FailedScheduling messages; [`Explanation`] (`explain`):
//!   per-node verdicts and scores for `podlab explain-placement`.
//! - [`reference`](mod@reference): the plain oracle scheduler the fast path is tested against (scheduler
//!   and filters in `reference/mod.rs`, score plugins in `reference/score.rs`).

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
