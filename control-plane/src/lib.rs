//! podlab's control plane, as a library: everything one cluster knows and decides, called by
//! every front end (the daemon's socket, the scenario runner, `compare`, the benches) so no
//! behaviour is written twice.
//!
//! # Layout
//!
//! - [`cluster`]: [`Cluster`] and the types its rooms share ([`NodeRt`], [`PodEntry`],
//!   [`Key`], [`Workload`]); the read accessors; the [`podlab_node_agent::PodApi`] the kubelets
//!   call back through.
//! - [`store`]: [`Store`], the objects (pods, namespaces, ReplicaSets, Deployments,
//!   ConfigMaps, Secrets, events)
//!   behind one lock, the store-wide resourceVersion every write takes, the change channel.
//! - `events`: the event recorder, folding repeats in O(1).
//! - `pods`: `apply` for every kind, namespaces, pods (create, label, delete).
//! - `workloads`: ReplicaSets and Deployments (apply, scale, cascading delete).
//! - `config`: ConfigMaps and Secrets (apply with kube-apiserver's update checks, delete).
//! - `scheduling`: binding pods through the scheduler; `FailedScheduling`.
//! - `nodes`: node lookups and lifecycle (unreachable taint, `fail_node`, `node_down` with
//!   eviction, `node_up`).
//! - `bringup`: [`Cluster::up`] and [`Cluster::down`]; [`options`]: [`ClusterOptions`].
//! - [`exec`]: where `exec` goes for a node or a pod's container.
//! - [`defaults`]: kube-apiserver's defaulting, applied to every Pod, Deployment and ReplicaSet
//!   written.
//! - [`controllers`]: level-triggered reconcilers (ReplicaSet, Deployment) and their loop.
//! - [`error`]: [`ApiError`], which maps one-to-one to a Kubernetes `Status` reason, and
//!   [`UpError`] for a cluster that cannot be built.
//! - [`outcome`]: [`Outcome`], what a successful write did ("pod/web created").
//! - [`rundir`]: the cluster's runtime directory (`/run/podlab/<name>/`), stale-directory
//!   cleanup.
//! - [`preflight`]: a scenario's needs against the machine's limits; [`kernel_features`]: the
//!   qdiscs its links need against what the kernel has; both before anything is built.
//!
//! The kubelet (sandboxes, containers, the model dataplane's statuses, container events, the
//! route reconciler) is `podlab_node_agent::kubelet`, one per node.
//!
//! Locks: a poisoned lock is an [`ApiError::Internal`] wherever a `Result` is returned; read
//! accessors recover the guard ([`podlab_node_agent::lock_unpoisoned`]); background writers
//! log what failed.

mod bringup;
pub mod cluster;
mod config;
pub mod controllers;
pub mod defaults;
pub mod error;
mod events;
pub mod exec;
/// What a scenario needs of the machine, checked before anything is built.
pub mod kernel_features;
mod nodes;
pub mod options;
pub mod outcome;
mod pods;
pub mod preflight;
pub mod rundir;
mod scheduling;
pub mod store;
/// Metadata and node updates, namespace deletion (what the Kubernetes API needs beyond apply).
pub mod updates;
mod workloads;

pub use cluster::{Cluster, Key, NodeRt, PodEntry, Workload, key_of};
pub use error::{ApiError, UpError};
pub use exec::ExecError;
pub use options::{ClusterOptions, scheduler_profile, uplink_shaping};
pub use outcome::{Outcome, Verb};
pub use store::Store;
