//! The control plane of one cluster, in this process: an object store of Kubernetes objects
//! (pods, namespaces, nodes, events) with a change counter to wait on, the scheduler, and one
//! node agent per node driving pod sandboxes through the netplugin.

use crate::error::{ApiError, UpError, poisoned};
use crate::outcome::{Outcome, Verb};
use crate::rundir::RunDir;
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, Event, Namespace, Node,
    ObjectReference, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_netplugin::{ClusterNetwork, Dataplane, NodeAddressing, PodNetwork, PodRef};
use podlab_node_agent::{AgentConfig, PodContext, PodHandle, Sandbox, SandboxKind, Spawner, now};
use podlab_scheduler::Scheduler;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// A worker node: its Kubernetes object, addressing and (kernel dataplane) sandbox.
pub struct NodeRt {
    pub node: Node,
    pub addr: NodeAddressing,
    pub sandbox: Option<Arc<Sandbox>>,
}

/// Everything the cluster knows about one pod.
pub struct PodEntry {
    pub pod: Pod,
    pub handle: Option<PodHandle>,
    pub sandbox: Option<Arc<Sandbox>>,
    pub net: Option<PodNetwork>,
}

#[derive(Default)]
struct State {
    pods: BTreeMap<(String, String), PodEntry>,
    namespaces: BTreeMap<String, Namespace>,
    replicasets: BTreeMap<Key, ReplicaSet>,
    deployments: BTreeMap<Key, Deployment>,
    events: Vec<Event>,
    /// Where the event with this (kind, namespace, name, reason, message) is in `events`, so a
    /// repeat is folded into it (count + 1, as Kubernetes does) without scanning them all.
    event_index: HashMap<EventKey, usize>,
}

type EventKey = (Option<String>, Option<String>, Option<String>, String, String);

/// Options for bringing a cluster up.
pub struct ClusterOptions {
    pub name: String,
    /// Name of the runtime directory under /run/podlab (unique per running cluster).
    pub rundir_name: String,
    pub network: ClusterNetwork,
    pub nodes: Vec<Node>,
    pub scheduler: podlab_scheduler::Profile,
    pub time_scale: f64,
    pub model: bool,
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

pub struct Cluster {
    pub name: String,
    pub dataplane: Arc<Dataplane>,
    pub spawner: Spawner,
    agent: AgentConfig,
    pub nodes: Vec<NodeRt>,
    /// Each node's image cache, seeded from its `status.images`.
    image_caches: BTreeMap<String, podlab_node_agent::ImageCache>,
    state: Mutex<State>,
    scheduler: Mutex<Scheduler>,
    failed_nodes: Mutex<std::collections::BTreeSet<String>>,
    explain: Option<podlab_netplugin::ExplainSink>,
    changes: watch::Sender<u64>,
    rundir: Option<RunDir>,
    uid_counter: AtomicU64,
    time_scale: f64,
    me: Weak<Cluster>,
}

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

pub fn key_of(pod: &Pod) -> Key {
    (
        pod.metadata.namespace.clone().unwrap_or_else(|| "default".into()),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

impl Cluster {
    /// Build the fabric and every node. On failure, everything built so far is removed.
    pub async fn up(opts: ClusterOptions, progress: &dyn Fn(&str)) -> Result<Arc<Cluster>, UpError> {
        let rt = tokio::runtime::Handle::current();
        let dataplane = if opts.model {
            Dataplane::model(opts.network.clone())
        } else {
            Dataplane::kernel(opts.network.clone(), rt).map_err(UpError::net("opening netlink"))?
        };
        dataplane.set_explain(opts.explain.clone());
        let explain = opts.explain.clone();
        let say = |cmd: String| {
            if let Some(e) = &explain {
                e(&cmd);
            }
        };
        let rundir = Some(RunDir::claim(&opts.rundir_name)?);
        let spawner = Spawner::new();
        dataplane
            .setup_fabric()
            .await
            .map_err(UpError::net("creating the fabric bridge"))?;
        progress(&format!(
            "Fabric bridge podlab0 {}/{}",
            opts.network.fabric_gateway(),
            opts.network.fabric_cidr.prefix()
        ));
        let mut addrs = Vec::new();
        for (i, n) in opts.nodes.iter().enumerate() {
            let name = n.metadata.name.clone().unwrap_or_default();
            addrs.push(
                opts.network
                    .node(i as u32 + 1, &name)
                    .map_err(UpError::net(format!("addressing node {name}")))?,
            );
        }
        let mut nodes = Vec::new();
        for (mut node, addr) in opts.nodes.into_iter().zip(addrs.iter().cloned()) {
            node.metadata.creation_timestamp = Some(now());
            let status = node.status.get_or_insert_with(Default::default);
            status.addresses = Some(vec![
                k8s_openapi::api::core::v1::NodeAddress {
                    type_: "InternalIP".into(),
                    address: addr.node_ip.to_string(),
                },
                k8s_openapi::api::core::v1::NodeAddress {
                    type_: "Hostname".into(),
                    address: addr.name.clone(),
                },
            ]);
            status.conditions = Some(vec![k8s_openapi::api::core::v1::NodeCondition {
                type_: "Ready".into(),
                status: "True".into(),
                reason: Some("KubeletReady".into()),
                message: Some("kubelet is posting ready status".into()),
                ..Default::default()
            }]);
            status.node_info = Some(k8s_openapi::api::core::v1::NodeSystemInfo {
                kubelet_version: "v1.34.0-podlab".into(),
                os_image: "podlab (network namespace)".into(),
                kernel_version: kernel_release(),
                container_runtime_version: "podlab://0.1".into(),
                operating_system: "linux".into(),
                architecture: std::env::consts::ARCH.into(),
                ..Default::default()
            });
            let sandbox = if opts.model {
                None
            } else {
                // podlab's namespaces are held by pause processes, not named; this is the
                // by-hand equivalent.
                say(format!("ip netns add {}", addr.name));
                let sb = Sandbox::create_async(&spawner, SandboxKind::Node, &addr.name)
                    .await
                    .map_err(UpError::io(format!("creating the namespaces of node {}", addr.name)))?;
                Some(Arc::new(sb))
            };
            dataplane
                .setup_node(&addr, sandbox.as_deref().map(|s| s.netns()))
                .await
                .map_err(UpError::net(format!("setting up the network of node {}", addr.name)))?;
            if let Some(shaping) = uplink_shaping(&node).map_err(UpError::Config)? {
                dataplane
                    .shape_uplink(&addr.name, &shaping)
                    .await
                    .map_err(UpError::net(format!("shaping the uplink of node {}", addr.name)))?;
            }
            nodes.push(NodeRt { node, addr, sandbox });
        }
        for n in &nodes {
            let peers: Vec<NodeAddressing> = addrs.iter().filter(|a| a.name != n.addr.name).cloned().collect();
            dataplane
                .sync_routes(&n.addr.name, &peers)
                .await
                .map_err(UpError::net(format!("adding routes on {}", n.addr.name)))?;
        }
        progress(&format!(
            "Nodes ready: {}",
            nodes
                .iter()
                .map(|n| format!("{} ({}, pods {})", n.addr.name, n.addr.node_ip, n.addr.pod_subnet))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let scheduler = Scheduler::new(nodes.iter().map(|n| n.node.clone()).collect(), opts.scheduler);
        let (changes, _) = watch::channel(0);
        let mut state = State::default();
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            state.namespaces.insert(ns.into(), namespace_object(ns));
        }
        let agent = AgentConfig {
            exe: std::env::current_exe().map_err(UpError::io("finding the podlab binary"))?,
            time_scale: opts.time_scale,
            registry: Arc::new(opts.registry),
        };
        let image_caches = nodes
            .iter()
            .map(|n| (n.addr.name.clone(), podlab_node_agent::ImageCache::from_node(&n.node)))
            .collect();
        let cluster = Arc::new_cyclic(|me| Cluster {
            name: opts.name,
            dataplane: Arc::new(dataplane),
            spawner,
            agent,
            nodes,
            image_caches,
            state: Mutex::new(state),
            scheduler: Mutex::new(scheduler),
            failed_nodes: Mutex::new(Default::default()),
            explain: opts.explain.clone(),
            changes,
            rundir,
            uid_counter: AtomicU64::new(1),
            time_scale: opts.time_scale,
            me: me.clone(),
        });
        crate::controllers::start(&cluster);
        crate::controllers::start_route_reconciler(&cluster);
        Ok(cluster)
    }

    pub fn is_model(&self) -> bool {
        self.dataplane.is_model()
    }

    /// The scheduler's per-node verdicts and scores for `pod` (`podlab explain-placement`).
    /// A placed pod is explained as it was seen when it was scheduled: without its nodeName.
    pub fn explain_placement(&self, pod: &Pod) -> String {
        let mut pod = pod.clone();
        let placed = pod.spec.as_mut().and_then(|s| s.node_name.take());
        let text = self
            .scheduler
            .lock()
            .map(|s| s.explain(&pod).to_string())
            .unwrap_or_default();
        match placed {
            Some(n) => format!("{text}\n(placed on {n}; the scores above count this pod's own requests on {n})\n"),
            None => text,
        }
    }

    /// A receiver that sees every change to the cluster's objects.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn bump(&self) {
        self.changes.send_modify(|v| *v += 1);
    }

    /// Wait until `cond` holds (checked after every change) or `timeout` passes.
    pub async fn wait_for(&self, timeout: Duration, mut cond: impl FnMut(&Cluster) -> bool) -> bool {
        let mut rx = self.changes.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return cond(self),
            }
        }
    }

    /// A node by name, if there is one.
    pub fn node(&self, name: &str) -> Option<&NodeRt> {
        self.nodes.iter().find(|n| n.addr.name == name)
    }

    /// A node by name, or `NotFound` as kube-apiserver answers.
    pub fn get_node(&self, name: &str) -> Result<&NodeRt, ApiError> {
        self.node(name).ok_or_else(|| ApiError::not_found("nodes", name))
    }

    /// A copy of a pod, or `NotFound` as kube-apiserver answers.
    pub fn get_pod(&self, key: &Key) -> Result<Pod, ApiError> {
        self.pod(key).ok_or_else(|| ApiError::not_found("pods", &key.1))
    }

    /// A snapshot of all pods.
    pub fn pods(&self) -> Vec<Pod> {
        self.state
            .lock()
            .map(|s| s.pods.values().map(|e| e.pod.clone()).collect())
            .unwrap_or_default()
    }

    /// Whether every pod satisfies `pred` (stopping at the first that does not), and how many
    /// pods there are, read in place: waiting for a thousand pods must not copy a thousand pods
    /// at every change (and hold the store's lock while doing so).
    pub fn all_pods(&self, mut pred: impl FnMut(&Pod) -> bool) -> (bool, usize) {
        self.state
            .lock()
            .map(|s| (s.pods.values().all(|e| pred(&e.pod)), s.pods.len()))
            .unwrap_or((false, 0))
    }

    /// Shows every pod to `f`, in place; returns how many there are.
    pub fn visit_pods(&self, mut f: impl FnMut(&Pod)) -> usize {
        self.state
            .lock()
            .map(|s| {
                s.pods.values().for_each(|e| f(&e.pod));
                s.pods.len()
            })
            .unwrap_or(0)
    }

    /// Copies of the pods that satisfy `pred` (the rest are not copied).
    pub fn pods_where(&self, mut pred: impl FnMut(&Pod) -> bool) -> Vec<Pod> {
        self.state
            .lock()
            .map(|s| {
                s.pods
                    .values()
                    .filter(|e| pred(&e.pod))
                    .map(|e| e.pod.clone())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn pod(&self, key: &Key) -> Option<Pod> {
        self.state.lock().ok()?.pods.get(key).map(|e| e.pod.clone())
    }

    /// Run `f` on a pod's entry (sandbox, network, handle).
    pub fn with_entry<R>(&self, key: &Key, f: impl FnOnce(&PodEntry) -> R) -> Option<R> {
        let st = self.state.lock().ok()?;
        st.pods.get(key).map(f)
    }

    pub fn events(&self) -> Vec<Event> {
        self.state.lock().map(|s| s.events.clone()).unwrap_or_default()
    }

    fn event(&self, pod: &Pod, type_: &str, reason: &str, message: String, source: &str) {
        let (ns, name) = key_of(pod);
        let object = ObjectReference {
            kind: Some("Pod".into()),
            name: Some(name),
            namespace: Some(ns),
            uid: pod.metadata.uid.clone(),
            ..Default::default()
        };
        self.record(object, type_, reason, message, source, None);
    }

    /// Record an event about a node (e.g. a route the node agent restored).
    pub fn node_event(&self, node: &str, type_: &str, reason: &str, message: String) {
        let object = ObjectReference {
            kind: Some("Node".into()),
            name: Some(node.into()),
            ..Default::default()
        };
        self.record(object, type_, reason, message, "podlab-node-agent", Some(node));
    }

    /// Store an event; a repeat of the same reason and message for the same object is folded
    /// into the earlier one with a count, as the API server does.
    fn record(
        &self,
        object: ObjectReference,
        type_: &str,
        reason: &str,
        message: String,
        source: &str,
        host: Option<&str>,
    ) {
        let t = now();
        if let Ok(mut st) = self.state.lock() {
            let st = &mut *st;
            let key: EventKey = (
                object.kind.clone(),
                object.namespace.clone(),
                object.name.clone(),
                reason.to_string(),
                message.clone(),
            );
            if let Some(e) = st.event_index.get(&key).and_then(|&i| st.events.get_mut(i)) {
                e.count = Some(e.count.unwrap_or(1) + 1);
                e.last_timestamp = Some(t);
            } else {
                let n = st.events.len();
                st.event_index.insert(key, n);
                st.events.push(Event {
                    metadata: ObjectMeta {
                        name: Some(format!("{}.{n:x}", object.name.clone().unwrap_or_default())),
                        namespace: Some(object.namespace.clone().unwrap_or_else(|| "default".into())),
                        ..Default::default()
                    },
                    involved_object: object,
                    type_: Some(type_.into()),
                    reason: Some(reason.into()),
                    message: Some(message),
                    count: Some(1),
                    first_timestamp: Some(t.clone()),
                    last_timestamp: Some(t),
                    source: Some(k8s_openapi::api::core::v1::EventSource {
                        component: Some(source.into()),
                        host: host.map(Into::into),
                    }),
                    ..Default::default()
                });
            }
        }
        self.bump();
    }

    /// `kubectl apply` for any object podlab runs: created, configured or unchanged. Pods are
    /// scheduled and started; ReplicaSets and Deployments are reconciled by their controllers.
    pub fn apply(&self, obj: podlab_scenario::Object) -> Result<Outcome, ApiError> {
        use podlab_scenario::Object;
        match obj {
            Object::Namespace(ns) => self.apply_namespace(&ns),
            Object::Pod(p) => self.apply_pod(*p),
            Object::Deployment(d) => self.apply_deployment(*d),
            Object::ReplicaSet(r) => self.apply_replicaset(*r),
        }
    }

    /// Create a namespace (like `kubectl create namespace`).
    pub fn apply_namespace(&self, ns: &Namespace) -> Result<Outcome, ApiError> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let created = {
            let mut s = self.state.lock().map_err(|_| poisoned())?;
            if s.namespaces.contains_key(&name) {
                false
            } else {
                let mut obj = namespace_object(&name);
                obj.metadata.labels = ns.metadata.labels.clone();
                s.namespaces.insert(name.clone(), obj);
                true
            }
        };
        self.bump();
        let verb = if created { Verb::Created } else { Verb::Unchanged };
        Ok(Outcome::new("namespace", name, verb))
    }

    /// All namespaces.
    pub fn namespace_objects(&self) -> Vec<Namespace> {
        self.state
            .lock()
            .map(|s| s.namespaces.values().cloned().collect())
            .unwrap_or_default()
    }

    /// The next object uid and resource version.
    fn next_uid(&self) -> (String, String) {
        let n = self.uid_counter.fetch_add(1, Ordering::Relaxed);
        (
            format!(
                "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
                std::process::id(),
                n & 0xffff,
                (n >> 16) & 0xfff,
                0,
                n
            ),
            n.to_string(),
        )
    }

    fn check_namespace(&self, ns: &str) -> Result<(), ApiError> {
        let known = self.state.lock().map_err(|_| poisoned())?.namespaces.contains_key(ns);
        if !known {
            return Err(ApiError::NotFound {
                resource: "namespaces".into(),
                name: ns.into(),
                hint: Some(format!(
                    "create it first: a Namespace manifest or `podlab create namespace {ns}`"
                )),
            });
        }
        Ok(())
    }

    /// Create or update a ReplicaSet (its controller creates the pods).
    pub fn apply_replicaset(&self, rs: ReplicaSet) -> Result<Outcome, ApiError> {
        self.apply_workload(
            rs,
            "replicaset.apps",
            |s| &mut s.replicasets,
            |new, old| {
                if new.spec == old.spec {
                    return false;
                }
                new.status = old.status.clone();
                true
            },
        )
    }

    /// Create or update a Deployment (its controller manages a ReplicaSet).
    pub fn apply_deployment(&self, d: Deployment) -> Result<Outcome, ApiError> {
        self.apply_workload(
            d,
            "deployment.apps",
            |s| &mut s.deployments,
            |new, old| {
                if new.spec == old.spec {
                    return false;
                }
                new.status = old.status.clone();
                true
            },
        )
    }

    /// `kubectl apply` for a workload: created, configured (`changed` keeps what the old object
    /// had that the new one must keep and says whether anything changed) or unchanged.
    fn apply_workload<T>(
        &self,
        mut obj: T,
        kind: &'static str,
        store: fn(&mut State) -> &mut BTreeMap<Key, T>,
        changed: fn(&mut T, &T) -> bool,
    ) -> Result<Outcome, ApiError>
    where
        T: k8s_openapi::Metadata<Ty = ObjectMeta>,
    {
        let ns = obj.metadata().namespace.clone().unwrap_or_else(|| "default".into());
        self.check_namespace(&ns)?;
        obj.metadata_mut().namespace = Some(ns.clone());
        let name = obj.metadata().name.clone().unwrap_or_default();
        let key = (ns, name.clone());
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        let map = store(&mut st);
        let verb = match map.get(&key) {
            Some(old) if !changed(&mut obj, old) => Verb::Unchanged,
            Some(old) => {
                obj.metadata_mut().uid = old.metadata().uid.clone();
                obj.metadata_mut().creation_timestamp = old.metadata().creation_timestamp.clone();
                Verb::Configured
            }
            None => {
                let (uid, rv) = self.next_uid();
                let m = obj.metadata_mut();
                m.uid = Some(uid);
                m.resource_version = Some(rv);
                m.creation_timestamp = Some(now());
                Verb::Created
            }
        };
        if verb != Verb::Unchanged {
            map.insert(key, obj);
        }
        drop(st);
        self.bump();
        Ok(Outcome::new(kind, name, verb))
    }

    pub fn replicasets(&self) -> Vec<ReplicaSet> {
        self.state
            .lock()
            .map(|s| s.replicasets.values().cloned().collect())
            .unwrap_or_default()
    }

    pub fn deployments(&self) -> Vec<Deployment> {
        self.state
            .lock()
            .map(|s| s.deployments.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Replace a stored ReplicaSet/Deployment (controllers: status, replicas); None removes it.
    pub(crate) fn put_replicaset(&self, key: &Key, rs: Option<ReplicaSet>) {
        if let Ok(mut s) = self.state.lock() {
            match rs {
                Some(rs) => s.replicasets.insert(key.clone(), rs),
                None => s.replicasets.remove(key),
            };
        }
        self.bump();
    }

    pub(crate) fn put_deployment(&self, key: &Key, d: Option<Deployment>) {
        if let Ok(mut s) = self.state.lock() {
            match d {
                Some(d) => s.deployments.insert(key.clone(), d),
                None => s.deployments.remove(key),
            };
        }
        self.bump();
    }

    /// Set a Deployment's or ReplicaSet's `spec.replicas` (`kubectl scale`); its controller
    /// then adds or removes pods.
    pub fn scale(&self, kind: Workload, key: &Key, replicas: i32) -> Result<Outcome, ApiError> {
        if replicas < 0 {
            return Err(ApiError::BadRequest(
                "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0".into(),
            ));
        }
        let not_found = || ApiError::not_found(kind.resource(), &key.1);
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        let spec_replicas = match kind {
            Workload::Deployment => st
                .deployments
                .get_mut(key)
                .ok_or_else(not_found)?
                .spec
                .as_mut()
                .map(|s| &mut s.replicas),
            Workload::ReplicaSet => st
                .replicasets
                .get_mut(key)
                .ok_or_else(not_found)?
                .spec
                .as_mut()
                .map(|s| &mut s.replicas),
        };
        if let Some(r) = spec_replicas {
            *r = Some(replicas);
        }
        drop(st);
        self.bump();
        Ok(Outcome::new(kind.singular(), key.1.clone(), Verb::Scaled))
    }

    /// Delete the Deployments (or ReplicaSets) that `pick` selects, with what they own, as
    /// kube-apiserver's garbage collector does in the background: a Deployment's ReplicaSets,
    /// then their pods. Returns one outcome per object of `kind` deleted.
    pub fn delete_workloads(
        self: &Arc<Self>,
        kind: Workload,
        pick: impl Fn(&ObjectMeta) -> bool,
    ) -> Result<Vec<Outcome>, ApiError> {
        let mut out = Vec::new();
        let mut owners: Vec<String> = Vec::new();
        let owned_by =
            |meta: &ObjectMeta, uids: &[String]| meta.owner_references.iter().flatten().any(|o| uids.contains(&o.uid));
        let rs_uids: Vec<String> = {
            let mut st = self.state.lock().map_err(|_| poisoned())?;
            if kind == Workload::Deployment {
                st.deployments.retain(|key, d| {
                    if !pick(&d.metadata) {
                        return true;
                    }
                    owners.push(d.metadata.uid.clone().unwrap_or_default());
                    out.push(Outcome::new("deployment.apps", key.1.clone(), Verb::Deleted));
                    false
                });
            }
            let mut rs_uids = Vec::new();
            st.replicasets.retain(|key, r| {
                let picked = kind == Workload::ReplicaSet && pick(&r.metadata);
                if !picked && !owned_by(&r.metadata, &owners) {
                    return true;
                }
                rs_uids.push(r.metadata.uid.clone().unwrap_or_default());
                if picked {
                    out.push(Outcome::new("replicaset.apps", key.1.clone(), Verb::Deleted));
                }
                false
            });
            rs_uids
        };
        self.bump();
        let pods: Vec<Key> = self
            .pods_where(|p| owned_by(&p.metadata, &rs_uids))
            .iter()
            .map(key_of)
            .collect();
        for k in pods {
            let c = self.clone();
            tokio::spawn(async move {
                let _ = c.delete_pod(&k).await;
            });
        }
        Ok(out)
    }

    /// Set or remove (`None`) labels on a pod, as `kubectl label` does.
    pub fn label_pod(
        &self,
        key: &Key,
        labels: &[(String, Option<String>)],
        overwrite: bool,
    ) -> Result<Outcome, ApiError> {
        let mut st = self.state.lock().map_err(|_| poisoned())?;
        let Some(e) = st.pods.get_mut(key) else {
            return Err(ApiError::not_found("pods", &key.1));
        };
        let map = e.pod.metadata.labels.get_or_insert_with(Default::default);
        for (k, v) in labels {
            match v {
                Some(v) => {
                    if let Some(old) = map.get(k).filter(|old| !overwrite && *old != v) {
                        return Err(ApiError::Conflict {
                            message: format!(
                                "'overwrite' is false but found the following declared label(s): '{k}' already has a value ({old})"
                            ),
                        });
                    }
                    map.insert(k.clone(), v.clone());
                }
                None => {
                    map.remove(k);
                }
            }
        }
        drop(st);
        self.bump();
        Ok(Outcome::new("pod", key.1.clone(), Verb::Labeled))
    }

    /// Create a pod, schedule it and start it on its node. Returns kubectl's one-line answer.
    pub fn apply_pod(&self, mut pod: Pod) -> Result<Outcome, ApiError> {
        let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        pod.metadata.namespace = Some(ns.clone());
        let name = pod.metadata.name.clone().unwrap_or_default();
        self.check_namespace(&ns)?;
        if self
            .state
            .lock()
            .map_err(|_| poisoned())?
            .pods
            .contains_key(&(ns.clone(), name.clone()))
        {
            return Ok(Outcome::new("pod", name, Verb::Unchanged));
        }
        let (uid, rv) = self.next_uid();
        pod.metadata.uid = Some(uid);
        pod.metadata.creation_timestamp = Some(now());
        pod.metadata.resource_version = Some(rv);
        pod.status = Some(PodStatus {
            phase: Some("Pending".into()),
            ..Default::default()
        });
        let key = (ns.clone(), name.clone());
        self.state.lock().map_err(|_| poisoned())?.pods.insert(
            key.clone(),
            PodEntry {
                pod: pod.clone(),
                handle: None,
                sandbox: None,
                net: None,
            },
        );
        self.bump();
        self.try_schedule(&key);
        Ok(Outcome::new("pod", name, Verb::Created))
    }

    /// Try to place a pending pod; on success start it on its node.
    fn try_schedule(&self, key: &Key) {
        let Some(pod) = self.pod(key) else { return };
        if pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
            && pod.status.as_ref().and_then(|s| s.host_ip.as_ref()).is_some()
        {
            return;
        }
        let decision = self.scheduler.lock().map_err(|_| ()).map(|mut s| s.schedule(&pod));
        match decision {
            Ok(Ok(node)) => {
                if let Ok(mut s) = self.scheduler.lock() {
                    s.assume(&pod, &node);
                }
                let mut pod = pod;
                if let Some(spec) = pod.spec.as_mut() {
                    spec.node_name = Some(node.clone());
                }
                self.set_pod(key, |p| {
                    if let Some(spec) = p.spec.as_mut() {
                        spec.node_name = Some(node.clone());
                    }
                    let host_ip = self.node(&node).map(|n| n.addr.node_ip.to_string());
                    p.status = Some(PodStatus {
                        phase: Some("Pending".into()),
                        host_ip,
                        conditions: Some(vec![PodCondition {
                            type_: "PodScheduled".into(),
                            status: "True".into(),
                            ..Default::default()
                        }]),
                        container_statuses: Some(container_statuses_waiting(p, "ContainerCreating")),
                        ..Default::default()
                    });
                });
                self.event(
                    &pod,
                    "Normal",
                    "Scheduled",
                    format!("Successfully assigned {}/{} to {node}", key.0, key.1),
                    "default-scheduler",
                );
                if let Some(me) = self.me.upgrade() {
                    let key = key.clone();
                    tokio::spawn(async move { me.start_pod(key, pod, node).await });
                }
            }
            Ok(Err(unsched)) => {
                let msg = unsched.to_string();
                self.set_pod(key, |p| {
                    p.status = Some(PodStatus {
                        phase: Some("Pending".into()),
                        conditions: Some(vec![PodCondition {
                            type_: "PodScheduled".into(),
                            status: "False".into(),
                            reason: Some("Unschedulable".into()),
                            message: Some(msg.clone()),
                            last_transition_time: Some(now()),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    })
                });
                self.event(&pod, "Warning", "FailedScheduling", msg, "default-scheduler");
            }
            Err(()) => {}
        }
    }

    fn set_pod(&self, key: &Key, f: impl FnOnce(&mut Pod)) {
        if let Ok(mut st) = self.state.lock()
            && let Some(e) = st.pods.get_mut(key)
        {
            f(&mut e.pod);
        }
        self.bump();
    }

    /// A pod's sandbox (pause process; none on the model dataplane) and its network.
    async fn create_sandbox(
        &self,
        key: &Key,
        node: &str,
        podref: &PodRef,
    ) -> Result<(Option<Arc<Sandbox>>, PodNetwork), String> {
        if self.is_model() {
            return self
                .dataplane
                .add_pod(node, podref, None)
                .await
                .map(|n| (None, n))
                .map_err(|e| e.to_string());
        }
        let host = key.1.as_str();
        if let Some(e) = &self.explain {
            e(&format!("ip netns add {host}"));
        }
        let sandbox = match Sandbox::create_async(&self.spawner, SandboxKind::Pod, host).await {
            Ok(s) => Arc::new(s),
            Err(e) => return Err(format!("Failed to create pod sandbox: {e}")),
        };
        match self.dataplane.add_pod(node, podref, Some(sandbox.netns())).await {
            Ok(n) => Ok((Some(sandbox), n)),
            Err(e) => {
                sandbox.kill();
                Err(format!(
                    "Failed to create pod sandbox: failed to set up pod network: {e}"
                ))
            }
        }
    }

    async fn start_pod(self: Arc<Self>, key: Key, pod: Pod, node: String) {
        let Some(node_rt) = self.node(&node) else { return };
        let podref = PodRef {
            namespace: key.0.clone(),
            name: key.1.clone(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
        };
        let host_ip = node_rt.addr.node_ip.to_string();
        let images = self.image_caches.get(&node).cloned().unwrap_or_default();
        // Like the kubelet, retry a failed sandbox (no free address, a netlink error) with
        // back-off for as long as the pod exists; each failure is an event on the pod.
        let mut backoff = Duration::from_secs(1);
        let (sandbox, net) = loop {
            if self.pod(&key).is_none() {
                return;
            }
            match self.create_sandbox(&key, &node, &podref).await {
                Ok(x) => break x,
                Err(msg) => {
                    self.event(&pod, "Warning", "FailedCreatePodSandBox", msg, "kubelet");
                    tokio::time::sleep(backoff.mul_f64(self.time_scale).max(Duration::from_millis(20))).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
        };
        let Some(sandbox) = sandbox else {
            // Model dataplane: no processes; containers of catalog images are reported Running.
            let ip = net.ip.to_string();
            let registry = &self.agent.registry;
            // The pull events a kubelet would give, decided before the statuses update the cache.
            for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
                let image = c.image.clone().unwrap_or_default();
                match podlab_node_agent::pull::decide(&image, podlab_node_agent::PullPolicy::of(c), &images, registry) {
                    podlab_node_agent::pull::Decision::Present(_) => self.event(
                        &pod,
                        "Normal",
                        "Pulled",
                        format!("Container image \"{image}\" already present on machine"),
                        "kubelet",
                    ),
                    podlab_node_agent::pull::Decision::Pull(_) => {
                        self.event(
                            &pod,
                            "Normal",
                            "Pulling",
                            format!("Pulling image \"{image}\""),
                            "kubelet",
                        );
                        self.event(
                            &pod,
                            "Normal",
                            "Pulled",
                            format!("Successfully pulled image \"{image}\" in 0s (model dataplane: simulated)"),
                            "kubelet",
                        );
                    }
                    podlab_node_agent::pull::Decision::PullFails { message }
                    | podlab_node_agent::pull::Decision::NeverPull { message } => {
                        self.event(&pod, "Warning", "Failed", message, "kubelet")
                    }
                }
            }
            self.set_pod(&key, |p| {
                p.status = Some(model_status(p, &host_ip, &ip, &images, registry))
            });
            if let Ok(mut st) = self.state.lock()
                && let Some(e) = st.pods.get_mut(&key)
            {
                e.net = Some(net);
            }
            return;
        };
        // The pod may have been deleted while its sandbox was being built.
        if self.pod(&key).is_none() {
            sandbox.kill();
            self.dataplane.forget_pod(&node, &podref);
            return;
        }
        let workdir = self
            .rundir
            .as_ref()
            .map(|r| r.pod_dir(&podref.uid))
            .unwrap_or_else(std::env::temp_dir);
        let ctx = PodContext {
            node: node.clone(),
            host_ip,
            pod_ip: net.ip.to_string(),
            sandbox: sandbox.clone(),
            workdir,
            images,
            events: Some({
                let weak = self.me.clone();
                let pod = pod.clone();
                Arc::new(move |t: &'static str, r: &'static str, m: String| {
                    if let Some(c) = weak.upgrade() {
                        c.event(&pod, t, r, m, "kubelet");
                    }
                })
            }),
        };
        let weak = self.me.clone();
        let pkey = key.clone();
        let publish: podlab_node_agent::Publish = Arc::new(move |status: PodStatus| {
            if let Some(c) = weak.upgrade() {
                c.publish_status(&pkey, status);
            }
        });
        let handle = PodHandle::start(pod.clone(), ctx, self.agent.clone(), self.spawner.clone(), publish);
        if let Ok(mut st) = self.state.lock()
            && let Some(e) = st.pods.get_mut(&key)
        {
            e.handle = Some(handle);
            e.sandbox = Some(sandbox);
            e.net = Some(net);
        }
        self.bump();
    }

    /// Called by the node agent after every container change: store the status, emit events.
    fn publish_status(&self, key: &Key, status: PodStatus) {
        let mut events = Vec::new();
        if let Ok(mut st) = self.state.lock()
            && let Some(e) = st.pods.get_mut(key)
        {
            let old = e.pod.status.clone().unwrap_or_default();
            for cs in status
                .container_statuses
                .iter()
                .flatten()
                .chain(status.init_container_statuses.iter().flatten())
            {
                let prev = old
                    .container_statuses
                    .iter()
                    .flatten()
                    .chain(old.init_container_statuses.iter().flatten())
                    .find(|o| o.name == cs.name);
                events.extend(container_events(prev, cs));
            }
            e.pod.status = Some(status);
            let pod = e.pod.clone();
            drop(st);
            for (t, r, m) in events {
                self.event(&pod, t, r, m, "kubelet");
            }
        }
        self.bump();
    }

    /// Delete a pod: stop its containers (grace period), remove its sandbox and network.
    pub async fn delete_pod(&self, key: &Key) -> Result<Outcome, ApiError> {
        self.delete_pod_with(key, None).await
    }

    /// The node is NotReady: unschedulable and tainted `node.kubernetes.io/unreachable`, as the
    /// node lifecycle controller marks a node that stopped answering.
    fn mark_unreachable(&self, name: &str) -> Result<(), ApiError> {
        let Some(n) = self.node(name) else {
            return Err(ApiError::not_found("nodes", name));
        };
        let mut node = n.node.clone();
        let spec = node.spec.get_or_insert_with(Default::default);
        spec.unschedulable = Some(true);
        spec.taints
            .get_or_insert_with(Vec::new)
            .push(k8s_openapi::api::core::v1::Taint {
                key: "node.kubernetes.io/unreachable".into(),
                effect: "NoSchedule".into(),
                ..Default::default()
            });
        if let Ok(mut s) = self.scheduler.lock() {
            s.set_node(node);
        }
        if let Ok(mut f) = self.failed_nodes.lock() {
            f.insert(name.to_string());
        }
        Ok(())
    }

    /// Take a node down, as when it dies: it becomes NotReady and unschedulable, and its pods'
    /// containers are killed at once (no grace period). Pods of ReplicaSets and Deployments are
    /// then recreated on the remaining nodes by their controllers; bare pods are gone for good.
    /// Returns the pods that were on the node.
    pub async fn fail_node(&self, name: &str) -> Result<Vec<Pod>, ApiError> {
        self.mark_unreachable(name)?;
        let victims: Vec<Pod> = self
            .pods()
            .into_iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(name))
            .collect();
        let keys: Vec<Key> = victims.iter().map(key_of).collect();
        let deletes = keys.iter().map(|k| self.delete_pod_with(k, Some(Duration::ZERO)));
        futures::future::join_all(deletes).await;
        self.bump();
        Ok(victims)
    }

    /// Cut a node's uplink, as when its network fails: the node goes NotReady and unschedulable,
    /// its pods keep running but nobody reaches them, and after the eviction timeout
    /// (Kubernetes' 300 s `tolerationSeconds` for `node.kubernetes.io/unreachable`, scaled by
    /// `timeScale`) they are evicted; Deployments and ReplicaSets replace them on healthy nodes,
    /// with new IPs. Pods are mortal. Returns the eviction timeout.
    pub async fn node_down(self: &Arc<Self>, name: &str) -> Result<Duration, ApiError> {
        if self.node(name).is_none() {
            return Err(ApiError::not_found("nodes", name));
        }
        self.dataplane
            .set_uplink(name, false)
            .await
            .map_err(|e| ApiError::Internal(format!("cutting the uplink of node {name}: {e}")))?;
        self.mark_unreachable(name)?;
        self.node_event(
            name,
            "Normal",
            "NodeNotReady",
            format!("Node {name} status is now: NodeNotReady (uplink cut)"),
        );
        let timeout = Duration::from_secs(300).mul_f64(self.time_scale);
        let me = self.clone();
        let node_name = name.to_string();
        tokio::spawn(async move {
            tokio::time::sleep(timeout).await;
            if !me.node_failed(&node_name) {
                return;
            }
            let victims: Vec<Key> = me
                .pods()
                .iter()
                .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node_name.as_str()))
                .map(key_of)
                .collect();
            for k in victims {
                if let Some(p) = me.pod(&k) {
                    me.event(
                        &p,
                        "Normal",
                        "TaintManagerEviction",
                        format!("Marking for deletion Pod {}/{}", k.0, k.1),
                        "taint-eviction-controller",
                    );
                }
                let _ = me.delete_pod_with(&k, Some(Duration::ZERO)).await;
            }
        });
        Ok(timeout)
    }

    /// Restore a node's uplink: it is Ready and schedulable again.
    pub async fn node_up(&self, name: &str) -> Result<(), ApiError> {
        let Some(n) = self.node(name) else {
            return Err(ApiError::not_found("nodes", name));
        };
        self.dataplane
            .set_uplink(name, true)
            .await
            .map_err(|e| ApiError::Internal(format!("restoring the uplink of node {name}: {e}")))?;
        if let Ok(mut s) = self.scheduler.lock() {
            s.set_node(n.node.clone());
        }
        if let Ok(mut f) = self.failed_nodes.lock() {
            f.remove(name);
        }
        self.node_event(
            name,
            "Normal",
            "NodeReady",
            format!("Node {name} status is now: NodeReady"),
        );
        let pending: Vec<Key> = self
            .pods()
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
            .map(key_of)
            .collect();
        for k in pending {
            self.try_schedule(&k);
        }
        Ok(())
    }

    /// Whether a node was taken down with `fail_node`.
    pub fn node_failed(&self, name: &str) -> bool {
        self.failed_nodes.lock().map(|f| f.contains(name)).unwrap_or(false)
    }

    async fn delete_pod_with(&self, key: &Key, grace_override: Option<Duration>) -> Result<Outcome, ApiError> {
        let deleted = Outcome::new("pod", key.1.clone(), Verb::Deleted);
        // The pod stays visible as Terminating while its containers get their grace period.
        let entry = {
            let mut st = self.state.lock().map_err(|_| poisoned())?;
            match st.pods.get_mut(key) {
                None => None,
                Some(e) if e.pod.metadata.deletion_timestamp.is_some() => {
                    return Ok(deleted);
                }
                Some(e) => {
                    e.pod.metadata.deletion_timestamp = Some(now());
                    Some(PodEntry {
                        pod: e.pod.clone(),
                        handle: e.handle.take(),
                        sandbox: e.sandbox.take(),
                        net: e.net.take(),
                    })
                }
            }
        };
        let Some(entry) = entry else {
            return Err(ApiError::not_found("pods", &key.1));
        };
        self.bump();
        if let Ok(mut s) = self.scheduler.lock() {
            s.forget(&entry.pod);
        }
        let grace = Duration::from_secs(
            entry
                .pod
                .spec
                .as_ref()
                .and_then(|s| s.termination_grace_period_seconds)
                .unwrap_or(30)
                .max(0) as u64,
        )
        .mul_f64(self.time_scale);
        let grace = grace_override.unwrap_or(grace);
        if let Some(h) = entry.handle {
            h.stop(grace).await;
        }
        let node = entry.pod.spec.as_ref().and_then(|s| s.node_name.clone());
        if let Some(sb) = entry.sandbox {
            sb.kill();
        }
        if let (Some(node), Some(_)) = (node, entry.net) {
            let podref = PodRef {
                namespace: key.0.clone(),
                name: key.1.clone(),
                uid: entry.pod.metadata.uid.clone().unwrap_or_default(),
            };
            // The namespace is gone with its pause process, and its veth with it: what is left
            // is the node bridge's neighbour entry and the address.
            if let Err(e) = self.dataplane.release_pod(&node, &podref).await {
                let message = format!("KillPodSandbox: tearing down the pod network: {e}");
                self.event(&entry.pod, "Warning", "FailedKillPod", message, "kubelet");
            }
        }
        if let Ok(mut st) = self.state.lock() {
            st.pods.remove(key);
        }
        self.bump();
        // Freed room may let pending pods in.
        let pending: Vec<Key> = self
            .pods()
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none())
            .map(key_of)
            .collect();
        for k in pending {
            self.try_schedule(&k);
        }
        Ok(deleted)
    }

    /// Remove everything: every container, pause process and node namespace.
    pub async fn down(&self) {
        let entries: Vec<PodEntry> = self
            .state
            .lock()
            .map(|mut s| std::mem::take(&mut s.pods).into_values().collect())
            .unwrap_or_default();
        let mut stops = Vec::new();
        for e in entries {
            if let Some(h) = e.handle {
                stops.push(h.stop(Duration::ZERO));
            }
            if let Some(sb) = e.sandbox {
                sb.kill();
            }
        }
        futures::future::join_all(stops).await;
        for n in &self.nodes {
            if let Some(sb) = &n.sandbox {
                sb.kill();
            }
        }
        self.bump();
    }
}

fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn namespace_object(name: &str) -> Namespace {
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

fn container_statuses_waiting(p: &Pod, reason: &str) -> Vec<ContainerStatus> {
    p.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| ContainerStatus {
            name: c.name.clone(),
            image: c.image.clone().unwrap_or_default(),
            state: Some(ContainerState {
                waiting: Some(ContainerStateWaiting {
                    reason: Some(reason.into()),
                    message: None,
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .collect()
}

/// Model dataplane: no processes run; containers of catalog images are reported Running.
fn model_status(
    p: &Pod,
    host_ip: &str,
    ip: &str,
    images: &podlab_node_agent::ImageCache,
    registry: &podlab_node_agent::Registry,
) -> PodStatus {
    use podlab_node_agent::pull::{self, Decision};
    let mut all_ok = true;
    let statuses = p
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| {
            let image = c.image.clone().unwrap_or_default();
            let (known, failure) = match pull::decide(&image, podlab_node_agent::PullPolicy::of(c), images, registry) {
                Decision::Present(_) => (true, None),
                Decision::Pull(kind) => {
                    images.insert(&image, kind);
                    (true, None)
                }
                // No clock runs on the model dataplane: report the steady state after the first failed pull.
                Decision::PullFails { message } => (false, Some(("ImagePullBackOff", message))),
                Decision::NeverPull { message } => (false, Some(("ErrImageNeverPull", message))),
            };
            all_ok &= known;
            ContainerStatus {
                name: c.name.clone(),
                image: image.clone(),
                ready: known,
                started: Some(known),
                state: Some(if known {
                    ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: Some(now()),
                        }),
                        ..Default::default()
                    }
                } else {
                    let (reason, message) = failure.unwrap_or_default();
                    ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some(reason.into()),
                            message: Some(message),
                        }),
                        ..Default::default()
                    }
                }),
                ..Default::default()
            }
        })
        .collect();
    PodStatus {
        phase: Some(if all_ok { "Running" } else { "Pending" }.into()),
        host_ip: Some(host_ip.into()),
        pod_ip: Some(ip.into()),
        pod_ips: Some(vec![PodIP { ip: ip.into() }]),
        start_time: Some(now()),
        container_statuses: Some(statuses),
        conditions: Some(vec![
            PodCondition {
                type_: "PodScheduled".into(),
                status: "True".into(),
                ..Default::default()
            },
            PodCondition {
                type_: "Ready".into(),
                status: if all_ok { "True" } else { "False" }.into(),
                ..Default::default()
            },
        ]),
        ..Default::default()
    }
}

/// The kubelet events a container state change produces.
fn container_events(
    prev: Option<&ContainerStatus>,
    cur: &ContainerStatus,
) -> Vec<(&'static str, &'static str, String)> {
    let mut out = Vec::new();
    let state = cur.state.clone().unwrap_or_default();
    let prev_state = prev.and_then(|p| p.state.clone()).unwrap_or_default();
    let name = &cur.name;
    if let Some(r) = &state.running {
        let was_running = prev_state.running.as_ref().map(|p| &p.started_at) == Some(&r.started_at);
        if !was_running {
            // The pull events ("Pulling", "Pulled") come from the node agent's event hook.
            out.push(("Normal", "Created", format!("Created container: {name}")));
            out.push(("Normal", "Started", format!("Started container {name}")));
        }
    }
    if let Some(w) = &state.waiting {
        let reason = w.reason.clone().unwrap_or_default();
        let prev_reason = prev_state
            .waiting
            .as_ref()
            .and_then(|p| p.reason.clone())
            .unwrap_or_default();
        if reason != prev_reason || cur.restart_count != prev.map(|p| p.restart_count).unwrap_or(0) {
            match reason.as_str() {
                "ErrImagePull" => out.push(("Warning", "Failed", w.message.clone().unwrap_or_default())),
                "ErrImageNeverPull" => {
                    out.push(("Warning", "ErrImageNeverPull", w.message.clone().unwrap_or_default()))
                }
                "ImagePullBackOff" => out.push(("Normal", "BackOff", w.message.clone().unwrap_or_default())),
                "CrashLoopBackOff" => out.push((
                    "Warning",
                    "BackOff",
                    format!("Back-off restarting failed container {name} in pod"),
                )),
                _ => {}
            }
        }
    }
    if let Some(t) = &state.terminated
        && prev_state.terminated.is_none()
        && let Some(m) = &t.message
    {
        out.push(("Warning", "Failed", format!("Error: {m}")));
    }
    out
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
