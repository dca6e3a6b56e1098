//! podlab's control plane, as a library: everything one cluster knows and decides, called by
//! every front end (the daemon's socket, the scenario runner, `compare`, the benches) so no
//! behaviour is written twice.
//!
//! # Layout
//!
//! - [`cluster`]: [`Cluster`], the object store of one cluster (pods, namespaces, nodes,
//!   ReplicaSets, Deployments, events) with a change counter to wait on, binding pods through
//!   the scheduler and handing them to the node agents; node lifecycle (down, up, failure).
//! - [`controllers`]: level-triggered reconcile loops (ReplicaSet, Deployment) and the node
//!   agents' route reconciler.
//! - [`error`]: [`ApiError`], which maps one-to-one to a Kubernetes `Status` reason, and
//!   [`UpError`] for a cluster that cannot be built.
//! - [`outcome`]: [`Outcome`], what a successful write did ("pod/web created").
//! - [`rundir`]: the cluster's runtime directory (`/run/podlab/<name>/`), stale-directory
//!   cleanup.

pub mod cluster;
pub mod controllers;
pub mod error;
pub mod outcome;
pub mod rundir;

pub use cluster::{
    Cluster, ClusterOptions, Key, NodeRt, PodEntry, Workload, key_of, scheduler_profile, uplink_shaping,
};
pub use error::{ApiError, UpError};
pub use outcome::{Outcome, Verb};
