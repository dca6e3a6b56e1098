//! The object store of one cluster: pods (with what runs them), namespaces, ReplicaSets,
//! Deployments, ConfigMaps, Secrets and events, behind one lock, with a store-wide resourceVersion and a change
//! channel to wait on.
//!
//! Every write goes through [`Store::write`]: it takes the lock (a poisoned lock is an
//! [`ApiError::Internal`]), and once the lock is released it wakes everyone waiting for a
//! change. Each object written takes the next resourceVersion ([`State::stamp`]), so
//! `metadata.resourceVersion` increases with every write, as kube-apiserver's does. Readers go
//! through [`Store::read`], which recovers a poisoned lock (see
//! [`podlab_node_agent::lock_unpoisoned`]) instead of pretending the store is empty.

use crate::cluster::{Key, PodEntry};
use crate::error::{ApiError, poisoned};
use crate::events::EventLog;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_node_agent::{lock_unpoisoned, now};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::watch;

/// Everything the store holds; only reachable under its lock.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) pods: BTreeMap<Key, PodEntry>,
    pub(crate) namespaces: BTreeMap<String, Namespace>,
    pub(crate) replicasets: BTreeMap<Key, ReplicaSet>,
    pub(crate) deployments: BTreeMap<Key, Deployment>,
    pub(crate) config_maps: BTreeMap<Key, ConfigMap>,
    pub(crate) secrets: BTreeMap<Key, Secret>,
    /// The live Node objects (labels, annotations, taints, cordon), by name.
    pub(crate) nodes: BTreeMap<String, Node>,
    pub(crate) events: EventLog,
    /// The last objects removed, oldest first, at most [`TOMBSTONES`].
    pub(crate) tombstones: std::collections::VecDeque<Tombstone>,
    /// The last resourceVersion handed out.
    resource_version: u64,
}

/// How many removed objects the store remembers (for watches started from an older
/// resourceVersion: kubectl's `delete` and `wait` list, then watch from the list's version).
pub const TOMBSTONES: usize = 4096;

/// An object as it was when it was removed.
#[derive(Debug, Clone)]
pub enum Removed {
    /// A pod.
    Pod(Box<Pod>),
    /// A namespace.
    Namespace(Box<Namespace>),
    /// A ReplicaSet.
    ReplicaSet(Box<ReplicaSet>),
    /// A Deployment.
    Deployment(Box<Deployment>),
    /// A ConfigMap.
    ConfigMap(Box<ConfigMap>),
    /// A Secret.
    Secret(Box<Secret>),
}

/// One removal, with the resourceVersion the store took for it.
#[derive(Debug, Clone)]
pub struct Tombstone {
    /// The store's resourceVersion of the removal.
    pub resource_version: u64,
    /// The object as it was.
    pub object: Removed,
}

impl State {
    /// The next store-wide resourceVersion.
    pub(crate) fn next_resource_version(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// Remember a removed object under the next resourceVersion.
    pub(crate) fn bury(&mut self, object: Removed) {
        self.resource_version += 1;
        self.tombstones.push_back(Tombstone {
            resource_version: self.resource_version,
            object,
        });
        while self.tombstones.len() > TOMBSTONES {
            self.tombstones.pop_front();
        }
    }

    /// Write's identity: an update keeps the stored object's uid and creationTimestamp
    /// (`Configured`), a create gets `uid` and now (`Created`).
    pub(crate) fn identity(meta: &mut ObjectMeta, old: Option<&ObjectMeta>, uid: String) -> crate::outcome::Verb {
        match old {
            Some(old) => {
                meta.uid = old.uid.clone();
                meta.creation_timestamp = old.creation_timestamp.clone();
                crate::outcome::Verb::Configured
            }
            None => {
                meta.uid = Some(uid);
                meta.creation_timestamp = Some(podlab_node_agent::now());
                crate::outcome::Verb::Created
            }
        }
    }

    /// Give an object that is being written the next resourceVersion.
    pub(crate) fn stamp(&mut self, meta: &mut ObjectMeta) {
        meta.resource_version = Some(self.next_resource_version());
    }
}

/// The object store: state, resource versions and the change channel.
pub struct Store {
    state: Mutex<State>,
    changes: watch::Sender<u64>,
    uids: AtomicU64,
}

/// Lock one of the control plane's other locks (the scheduler's, the failed nodes') for a
/// function that returns a `Result`: a poisoned lock is an internal error.
pub(crate) fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>, ApiError> {
    m.lock().map_err(|_| poisoned())
}

/// A background writer has nobody to answer to: a write that failed is logged, not lost
/// silently. Returns the value of a write that worked.
pub(crate) fn or_log<T>(r: Result<T, ApiError>, what: &str) -> Option<T> {
    r.map_err(|e| tracing::error!("{what}: {e}")).ok()
}

impl Store {
    /// A store holding only `namespaces`.
    pub(crate) fn new(namespaces: impl IntoIterator<Item = Namespace>) -> Self {
        let mut state = State::default();
        for mut ns in namespaces {
            state.stamp(&mut ns.metadata);
            state
                .namespaces
                .insert(ns.metadata.name.clone().unwrap_or_default(), ns);
        }
        Store {
            state: Mutex::new(state),
            changes: watch::channel(0).0,
            uids: AtomicU64::new(1),
        }
    }

    /// A receiver that sees every change; its value is the store's resourceVersion.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Read the state in place.
    pub(crate) fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&lock_unpoisoned(&self.state))
    }

    /// Change the state, then wake everyone waiting for a change.
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> Result<R, ApiError> {
        let (out, rv) = {
            let mut st = self.state.lock().map_err(|_| poisoned())?;
            let out = f(&mut st);
            (out, st.resource_version)
        };
        self.changes.send_modify(|v| *v = (*v).max(rv));
        Ok(out)
    }

    /// Wake everyone waiting for a change, though nothing in the store changed (something
    /// outside it did: a node's standing, a pod's network).
    pub(crate) fn touch(&self) {
        self.changes.send_modify(|_| {});
    }

    /// A fresh object uid.
    pub(crate) fn next_uid(&self) -> String {
        let n = self.uids.fetch_add(1, Ordering::Relaxed);
        format!(
            "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
            std::process::id(),
            n & 0xffff,
            (n >> 16) & 0xfff,
            0,
            n
        )
    }

    /// The store's current resourceVersion (the last write's).
    pub fn resource_version(&self) -> u64 {
        self.read(|s| s.resource_version)
    }

    /// A copy of a pod.
    pub fn pod(&self, key: &Key) -> Option<Pod> {
        self.read(|s| s.pods.get(key).map(|e| e.pod.clone()))
    }

    /// Whether the pod exists.
    pub fn has_pod(&self, key: &Key) -> bool {
        self.read(|s| s.pods.contains_key(key))
    }

    /// Copies of the pods that satisfy `pred` (the rest are not copied).
    pub fn pods_where(&self, mut pred: impl FnMut(&Pod) -> bool) -> Vec<Pod> {
        self.read(|s| {
            s.pods
                .values()
                .filter(|e| pred(&e.pod))
                .map(|e| e.pod.clone())
                .collect()
        })
    }

    /// The keys of the pods that satisfy `pred`.
    pub fn pod_keys_where(&self, mut pred: impl FnMut(&Pod) -> bool) -> Vec<Key> {
        self.read(|s| {
            s.pods
                .iter()
                .filter(|(_, e)| pred(&e.pod))
                .map(|(k, _)| k.clone())
                .collect()
        })
    }

    /// Whether every pod satisfies `pred` (stopping at the first that does not), and how many
    /// pods there are, read in place.
    pub fn all_pods(&self, mut pred: impl FnMut(&Pod) -> bool) -> (bool, usize) {
        self.read(|s| (s.pods.values().all(|e| pred(&e.pod)), s.pods.len()))
    }

    /// Shows every pod to `f`, in place; returns how many there are.
    pub fn visit_pods(&self, mut f: impl FnMut(&Pod)) -> usize {
        self.read(|s| {
            s.pods.values().for_each(|e| f(&e.pod));
            s.pods.len()
        })
    }

    /// Run `f` on a pod's entry (sandbox, network, handle).
    pub fn with_entry<R>(&self, key: &Key, f: impl FnOnce(&PodEntry) -> R) -> Option<R> {
        self.read(|s| s.pods.get(key).map(f))
    }

    /// Change a stored pod (a new resourceVersion); false if there is no such pod.
    pub fn update_pod(&self, key: &Key, f: impl FnOnce(&mut Pod)) -> Result<bool, ApiError> {
        self.write(|st| {
            let rv = st.next_resource_version();
            let Some(e) = st.pods.get_mut(key) else { return false };
            f(&mut e.pod);
            e.pod.metadata.resource_version = Some(rv);
            true
        })
    }

    /// All namespaces.
    pub fn namespaces(&self) -> Vec<Namespace> {
        self.read(|s| s.namespaces.values().cloned().collect())
    }

    /// Whether namespace `ns` exists.
    pub fn has_namespace(&self, ns: &str) -> bool {
        self.read(|s| s.namespaces.contains_key(ns))
    }

    /// Copies of every ReplicaSet.
    pub fn replicasets(&self) -> Vec<ReplicaSet> {
        self.read(|s| s.replicasets.values().cloned().collect())
    }

    /// Copies of every Deployment.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.read(|s| s.deployments.values().cloned().collect())
    }

    /// Replace a stored ReplicaSet (its status, its replicas), with a new resourceVersion.
    pub fn put_replicaset(&self, key: &Key, mut rs: ReplicaSet) -> Result<(), ApiError> {
        self.write(|st| {
            st.stamp(&mut rs.metadata);
            st.replicasets.insert(key.clone(), rs);
        })
    }

    /// Remove a ReplicaSet (not its pods).
    pub fn remove_replicaset(&self, key: &Key) -> Result<(), ApiError> {
        self.write(|st| {
            st.next_resource_version();
            if let Some(rs) = st.replicasets.remove(key) {
                st.bury(Removed::ReplicaSet(Box::new(rs)));
            }
        })
    }

    /// The objects removed after resourceVersion `since`, oldest first.
    pub fn removed_since(&self, since: u64) -> Vec<Tombstone> {
        self.read(|s| {
            s.tombstones
                .iter()
                .filter(|t| t.resource_version > since)
                .cloned()
                .collect()
        })
    }

    /// Replace a stored Deployment (its status), with a new resourceVersion.
    pub fn put_deployment(&self, key: &Key, mut d: Deployment) -> Result<(), ApiError> {
        self.write(|st| {
            st.stamp(&mut d.metadata);
            st.deployments.insert(key.clone(), d);
        })
    }

    /// A copy of a ConfigMap (the kubelet reads it for volumes and env).
    pub fn config_map(&self, key: &Key) -> Option<ConfigMap> {
        self.read(|s| s.config_maps.get(key).cloned())
    }

    /// A copy of a Secret (the kubelet reads it for volumes and env); its `data` holds the
    /// decoded bytes.
    pub fn secret(&self, key: &Key) -> Option<Secret> {
        self.read(|s| s.secrets.get(key).cloned())
    }

    /// Copies of the ConfigMaps in namespace `ns` (every namespace when `None`), in key order.
    pub fn config_maps(&self, ns: Option<&str>) -> Vec<ConfigMap> {
        self.read(|s| in_namespace(&s.config_maps, ns))
    }

    /// Copies of the Secrets in namespace `ns` (every namespace when `None`), in key order.
    pub fn secrets(&self, ns: Option<&str>) -> Vec<Secret> {
        self.read(|s| in_namespace(&s.secrets, ns))
    }

    /// Copies of the live Node objects, in name order.
    pub fn nodes(&self) -> Vec<Node> {
        self.read(|s| s.nodes.values().cloned().collect())
    }

    /// A copy of one Node object.
    pub fn node(&self, name: &str) -> Option<Node> {
        self.read(|s| s.nodes.get(name).cloned())
    }

    /// Store (or replace) a Node object, with a new resourceVersion.
    pub(crate) fn put_node(&self, mut node: Node) -> Result<Node, ApiError> {
        self.write(|st| {
            st.stamp(&mut node.metadata);
            st.nodes
                .insert(node.metadata.name.clone().unwrap_or_default(), node.clone());
            node
        })
    }

    /// Change a stored namespace (a new resourceVersion); `None` if there is no such namespace.
    pub(crate) fn update_namespace(
        &self,
        name: &str,
        f: impl FnOnce(&mut Namespace),
    ) -> Result<Option<Namespace>, ApiError> {
        self.write(|st| {
            let rv = st.next_resource_version();
            let ns = st.namespaces.get_mut(name)?;
            f(ns);
            ns.metadata.resource_version = Some(rv);
            Some(ns.clone())
        })
    }

    /// Remove a namespace object.
    pub(crate) fn remove_namespace(&self, name: &str) -> Result<(), ApiError> {
        self.write(|st| {
            st.next_resource_version();
            if let Some(ns) = st.namespaces.remove(name) {
                st.bury(Removed::Namespace(Box::new(ns)));
            }
        })
    }

    /// A copy of every event.
    pub fn events(&self) -> Vec<Event> {
        self.read(|s| s.events.all().to_vec())
    }
}

/// Copies of the objects of `map` in namespace `ns` (all when `None`).
fn in_namespace<T: Clone>(map: &BTreeMap<Key, T>, ns: Option<&str>) -> Vec<T> {
    match ns {
        None => map.values().cloned().collect(),
        Some(ns) => map
            .range((ns.to_string(), String::new())..)
            .take_while(|((n, _), _)| n == ns)
            .map(|(_, v)| v.clone())
            .collect(),
    }
}

/// `NotFound` for a namespace, with what to do about it.
pub(crate) fn namespace_not_found(ns: &str) -> ApiError {
    ApiError::NotFound {
        resource: "namespaces".into(),
        name: ns.into(),
        hint: Some(format!(
            "create it first: a Namespace manifest or `podlab create namespace {ns}`"
        )),
    }
}

/// The Namespace object podlab stores for `name`.
pub(crate) fn namespace_object(name: &str) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            creation_timestamp: Some(now()),
            labels: Some([("kubernetes.io/metadata.name".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        status: Some(k8s_openapi::api::core::v1::NamespaceStatus {
            phase: Some("Active".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}
