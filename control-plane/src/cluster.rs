//! [`Cluster`]: one cluster's control plane in this process, and the types every room of it
//! shares. The rooms each add an `impl Cluster` block: `store` and `events` (the objects),
//! `pods`, `workloads`, `scheduling`, `nodes`, `bringup`, `exec`; the node agents' kubelets
//! live in `podlab_node_agent::kubelet` and reach back through [`PodApi`].

use crate::error::ApiError;
use crate::rundir::RunDir;
use crate::store::Store;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Node, Pod, PodStatus};
use podlab_netplugin::{Dataplane, NodeAddressing, PodNetwork};
use podlab_node_agent::config_data::{Data, DataKind};
use podlab_node_agent::{Kubelet, PodApi, PodHandle, Sandbox, Spawner};
use podlab_scheduler::Scheduler;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// A worker node: its Kubernetes object, addressing and (kernel dataplane) sandbox.
pub struct NodeRt {
    /// The Node object, as it was brought up.
    pub node: Node,
    /// Its addresses and pod subnet.
    pub addr: NodeAddressing,
    /// The pause process holding its namespaces (none on the model dataplane).
    pub sandbox: Option<Arc<Sandbox>>,
}

/// Everything the cluster knows about one pod.
pub struct PodEntry {
    /// The Pod object.
    pub pod: Pod,
    /// Its pod worker, once its node's kubelet started it (none on the model dataplane).
    pub handle: Option<PodHandle>,
    /// Its pause process (none on the model dataplane).
    pub sandbox: Option<Arc<Sandbox>>,
    /// Its network, once it has one.
    pub net: Option<PodNetwork>,
}

/// A namespaced object's (namespace, name).
pub type Key = (String, String);

/// The workload kinds whose pods a controller keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// `apps/v1` Deployment.
    Deployment,
    /// `apps/v1` ReplicaSet.
    ReplicaSet,
}

impl Workload {
    /// kube-apiserver's plural resource name with its group (`deployments.apps`).
    pub fn resource(self) -> &'static str {
        match self {
            Workload::Deployment => "deployments.apps",
            Workload::ReplicaSet => "replicasets.apps",
        }
    }

    /// kubectl's singular name with its group (`deployment.apps`).
    pub fn singular(self) -> &'static str {
        match self {
            Workload::Deployment => "deployment.apps",
            Workload::ReplicaSet => "replicaset.apps",
        }
    }
}

/// A pod's key: its namespace (default `default`) and name.
pub fn key_of(pod: &Pod) -> Key {
    (
        pod.metadata.namespace.clone().unwrap_or_else(|| "default".into()),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

/// The control plane of one cluster: the object store, the scheduler, node lifecycle, and one
/// kubelet per node driving pod sandboxes through the netplugin.
pub struct Cluster {
    /// The cluster's name.
    pub name: String,
    /// The pod and node networks (kernel or model).
    pub dataplane: Arc<Dataplane>,
    /// Forks pause processes and containers.
    pub spawner: Spawner,
    /// The worker nodes, in the order they were described.
    pub nodes: Vec<NodeRt>,
    pub(crate) store: Store,
    /// Each node's kubelet, by node name.
    pub(crate) kubelets: BTreeMap<String, Kubelet>,
    pub(crate) scheduler: Mutex<Scheduler>,
    /// Nodes taken down (`fail_node`, `node_down`) and not up again.
    pub(crate) failed_nodes: Mutex<BTreeSet<String>>,
    pub(crate) rundir: Option<RunDir>,
    pub(crate) time_scale: f64,
    pub(crate) me: Weak<Cluster>,
    /// Set by `down`: no new pod is created or started any more (controllers would otherwise
    /// replace the pods `down` removes, while their runtime directory goes away).
    pub(crate) closing: std::sync::atomic::AtomicBool,
    /// Held still: a lesson pauses for the learner to look, and reconcilers wait.
    pub(crate) held: std::sync::atomic::AtomicBool,
}

impl Cluster {
    /// Hold the cluster still (`true`) or let it go on: while held, the node agents' route
    /// reconcilers repair nothing and the Deployment and ReplicaSet controllers replace nothing
    /// (a lesson's pause shows the broken state it is about).
    pub fn hold(&self, held: bool) {
        self.held.store(held, std::sync::atomic::Ordering::SeqCst);
    }

    /// Whether the cluster runs on the model dataplane (no kernel objects, no processes).
    pub fn is_model(&self) -> bool {
        self.dataplane.is_model()
    }

    /// A receiver that sees every change to the cluster's objects.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.store.subscribe()
    }

    /// The store's resourceVersion: it increases with every write.
    pub fn resource_version(&self) -> u64 {
        self.store.resource_version()
    }

    /// The objects removed after resourceVersion `since` (the last
    /// [`crate::store::TOMBSTONES`] removals are kept), oldest first.
    pub fn removed_since(&self, since: u64) -> Vec<crate::store::Tombstone> {
        self.store.removed_since(since)
    }

    /// Wait until `cond` holds (checked after changes) or `timeout` passes. A check that
    /// looks at every pod costs more the more pods there are, and a cluster starting 10,000 of
    /// them changes ~30,000 times: after each check it waits nine times as long as the check
    /// took before the next one (changes meanwhile are seen together), so checking takes at
    /// most a tenth of one core.
    pub async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&Cluster) -> bool) -> bool {
        let mut rx = self.store.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let checked = std::time::Instant::now();
            if cond(self) {
                return true;
            }
            let pause = checked.elapsed() * 9;
            if pause > Duration::from_micros(50) {
                tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + pause)).await;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return cond(self),
            }
        }
    }

    /// Whether the Deployment and ReplicaSet controllers have made (and removed) every pod
    /// the workloads ask for (see [`crate::controllers::caught_up`]); a held cluster's
    /// controllers make nothing, so there is nothing to wait for.
    pub fn workloads_caught_up(&self) -> bool {
        crate::controllers::PodControl::held(self) || crate::controllers::caught_up(&self.store)
    }

    /// A copy of a pod, if there is one.
    pub fn pod(&self, key: &Key) -> Option<Pod> {
        self.store.pod(key)
    }

    /// A copy of a pod, or `NotFound` as kube-apiserver answers.
    pub fn get_pod(&self, key: &Key) -> Result<Pod, ApiError> {
        self.pod(key).ok_or_else(|| ApiError::not_found("pods", &key.1))
    }

    /// A snapshot of all pods.
    pub fn pods(&self) -> Vec<Pod> {
        self.store.pods_where(|_| true)
    }

    /// Whether every pod satisfies `pred` (stopping at the first that does not), and how many
    /// pods there are, read in place: waiting for a thousand pods must not copy a thousand pods
    /// at every change (and hold the store's lock while doing so).
    pub fn all_pods(&self, pred: impl FnMut(&Pod) -> bool) -> (bool, usize) {
        self.store.all_pods(pred)
    }

    /// Shows every pod to `f`, in place; returns how many there are.
    pub fn visit_pods(&self, f: impl FnMut(&Pod)) -> usize {
        self.store.visit_pods(f)
    }

    /// Copies of the pods that satisfy `pred` (the rest are not copied).
    pub fn pods_where(&self, pred: impl FnMut(&Pod) -> bool) -> Vec<Pod> {
        self.store.pods_where(pred)
    }

    /// Run `f` on a pod's entry (sandbox, network, handle).
    pub fn with_entry<R>(&self, key: &Key, f: impl FnOnce(&PodEntry) -> R) -> Option<R> {
        self.store.with_entry(key, f)
    }

    /// All namespaces.
    pub fn namespace_objects(&self) -> Vec<Namespace> {
        self.store.namespaces()
    }

    /// Copies of every ReplicaSet.
    pub fn replicasets(&self) -> Vec<ReplicaSet> {
        self.store.replicasets()
    }

    /// Copies of every Deployment.
    pub fn deployments(&self) -> Vec<Deployment> {
        self.store.deployments()
    }
}

/// What the node agents' kubelets ask of the control plane.
impl PodApi for Cluster {
    fn pod_exists(&self, namespace: &str, name: &str) -> bool {
        self.store.has_pod(&(namespace.to_string(), name.to_string()))
    }

    fn publish_status(&self, namespace: &str, name: &str, status: PodStatus) -> bool {
        let key = (namespace.to_string(), name.to_string());
        let stored = self.store.update_pod(&key, |p| p.status = Some(status));
        crate::store::or_log(stored, "storing a pod's status").unwrap_or(false)
    }

    fn pod_event(&self, pod: &Pod, type_: &str, reason: &str, message: String) {
        Cluster::pod_event(self, pod, type_, reason, message, "kubelet");
    }

    fn node_event(&self, node: &str, type_: &str, reason: &str, message: String) {
        Cluster::node_event(self, node, type_, reason, message);
    }

    fn node_failed(&self, node: &str) -> bool {
        Cluster::node_failed(self, node)
    }

    fn workdir(&self, pod_uid: &str) -> PathBuf {
        self.rundir
            .as_ref()
            .map(|r| r.pod_dir(pod_uid))
            .unwrap_or_else(std::env::temp_dir)
    }

    fn remove_workdir(&self, pod_uid: &str) {
        if let Some(r) = &self.rundir {
            r.remove_pod_dir(pod_uid);
        }
    }

    fn layer_mountpoint(&self) -> Option<PathBuf> {
        self.rundir.as_ref().map(|r| r.layer_mountpoint())
    }

    fn held(&self) -> bool {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn object_data(&self, kind: DataKind, namespace: &str, name: &str) -> Option<Data> {
        let key = (namespace.to_string(), name.to_string());
        let mut out = Data::new();
        match kind {
            DataKind::ConfigMap => {
                let cm = self.store.config_map(&key)?;
                out.extend(cm.data.into_iter().flatten().map(|(k, v)| (k, v.into_bytes())));
                out.extend(cm.binary_data.into_iter().flatten().map(|(k, v)| (k, v.0)));
            }
            DataKind::Secret => {
                let s = self.store.secret(&key)?;
                out.extend(s.data.into_iter().flatten().map(|(k, v)| (k, v.0)));
                out.extend(s.string_data.into_iter().flatten().map(|(k, v)| (k, v.into_bytes())));
            }
        }
        Some(out)
    }
}
