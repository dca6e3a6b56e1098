//! Pods (and namespaces, and the one `apply` for every kind): create, label, delete. A new pod
//! is scheduled at once (see `scheduling`); a deleted one is Terminating while its node's
//! kubelet gives its containers their grace period, then gone, and pending pods get another
//! chance at the room it freed.

use crate::cluster::{Cluster, Key, PodEntry};
use crate::controllers::PodControl;
use crate::error::ApiError;
use crate::outcome::{Outcome, Verb};
use crate::store::{Store, lock, namespace_not_found, namespace_object, or_log};
use k8s_openapi::api::core::v1::{Namespace, Pod, PodStatus};
use podlab_node_agent::{PodRuntime, grace_period, now};
use std::sync::Arc;
use std::time::Duration;

impl Cluster {
    /// `kubectl apply` for any object podlab runs: created, configured or unchanged. Pods are
    /// scheduled and started; ReplicaSets and Deployments are reconciled by their controllers.
    pub fn apply(&self, obj: podlab_scenario::Object) -> Result<Outcome, ApiError> {
        use podlab_scenario::Object;
        match obj {
            Object::Namespace(ns) => self.apply_namespace(&ns),
            Object::Pod(p) => self.apply_pod(*p),
            Object::Deployment(d) => self.apply_deployment(*d),
            Object::ReplicaSet(r) => self.apply_replicaset(*r),
            Object::ConfigMap(c) => self.apply_config_map(*c),
            Object::Secret(s) => self.apply_secret(*s),
        }
    }

    /// Create a namespace (like `kubectl create namespace`).
    pub fn apply_namespace(&self, ns: &Namespace) -> Result<Outcome, ApiError> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        let created = self.store.write(|s| {
            if s.namespaces.contains_key(&name) {
                return false;
            }
            let mut obj = namespace_object(&name);
            obj.metadata.labels = ns.metadata.labels.clone();
            s.stamp(&mut obj.metadata);
            s.namespaces.insert(name.clone(), obj);
            true
        })?;
        let verb = if created { Verb::Created } else { Verb::Unchanged };
        Ok(Outcome::new("namespace", name, verb))
    }

    /// Create a pod, schedule it and start it on its node. Returns kubectl's one-line answer.
    pub fn apply_pod(&self, mut pod: Pod) -> Result<Outcome, ApiError> {
        if self.closing.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ApiError::Forbidden {
                message: format!("cluster {} is going down: no new pods", self.name),
            });
        }
        crate::defaults::pod(&mut pod);
        let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
        pod.metadata.namespace = Some(ns.clone());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let key = (ns.clone(), name.clone());
        let uid = self.store.next_uid();
        let created = self.store.write(|st| {
            if !st.namespaces.contains_key(&ns) {
                return Err(namespace_not_found(&ns));
            }
            if st.pods.contains_key(&key) {
                return Ok(false);
            }
            pod.metadata.uid = Some(uid);
            pod.metadata.creation_timestamp = Some(now());
            st.stamp(&mut pod.metadata);
            pod.status = Some(PodStatus {
                phase: Some("Pending".into()),
                qos_class: pod
                    .spec
                    .as_ref()
                    .map(|s| podlab_node_agent::pod::qos_class(s).to_string()),
                ..Default::default()
            });
            let entry = PodEntry {
                pod,
                handle: None,
                sandbox: None,
                net: None,
            };
            st.pods.insert(key.clone(), entry);
            Ok(true)
        })??;
        if !created {
            return Ok(Outcome::new("pod", name, Verb::Unchanged));
        }
        self.try_schedule(&key)?;
        Ok(Outcome::new("pod", name, Verb::Created))
    }

    /// Set or remove (`None`) labels on a pod, as `kubectl label` does. A label that already
    /// has another value is a `Conflict` unless `overwrite`; then nothing is changed.
    pub fn label_pod(
        &self,
        key: &Key,
        labels: &[(String, Option<String>)],
        overwrite: bool,
    ) -> Result<Outcome, ApiError> {
        self.store.write(|st| {
            let rv = st.next_resource_version();
            let Some(e) = st.pods.get_mut(key) else {
                return Err(ApiError::not_found("pods", &key.1));
            };
            let map = e.pod.metadata.labels.get_or_insert_with(Default::default);
            for (k, v) in labels {
                if let (Some(v), Some(old)) = (v, map.get(k))
                    && !overwrite
                    && old != v
                {
                    return Err(ApiError::Conflict {
                        message: format!(
                            "'overwrite' is false but found the following declared label(s): '{k}' already has a value ({old})"
                        ),
                    });
                }
            }
            for (k, v) in labels {
                match v {
                    Some(v) => map.insert(k.clone(), v.clone()),
                    None => map.remove(k),
                };
            }
            e.pod.metadata.resource_version = Some(rv);
            Ok(())
        })??;
        Ok(Outcome::new("pod", key.1.clone(), Verb::Labeled))
    }

    /// Delete a pod: stop its containers (grace period), remove its sandbox and network.
    pub async fn delete_pod(&self, key: &Key) -> Result<Outcome, ApiError> {
        self.delete_pod_with(key, None).await
    }

    /// Delete a pod with a grace period other than its own (`DeleteOptions.gracePeriodSeconds`,
    /// `kubectl delete --grace-period`); scaled by the cluster's timeScale as its own would be.
    pub async fn delete_pod_grace(&self, key: &Key, grace: Duration) -> Result<Outcome, ApiError> {
        self.delete_pod_with(key, Some(grace.mul_f64(self.time_scale))).await
    }

    /// Delete a pod with its own grace period, or `grace_override`.
    pub(crate) async fn delete_pod_with(
        &self,
        key: &Key,
        grace_override: Option<Duration>,
    ) -> Result<Outcome, ApiError> {
        let deleted = Outcome::new("pod", key.1.clone(), Verb::Deleted);
        // The pod stays visible as Terminating while its containers get their grace period.
        let taken = self.store.write(|st| {
            let rv = st.next_resource_version();
            let Some(e) = st.pods.get_mut(key) else {
                return Err(ApiError::not_found("pods", &key.1));
            };
            if e.pod.metadata.deletion_timestamp.is_some() {
                return Ok(None);
            }
            e.pod.metadata.deletion_timestamp = Some(now());
            e.pod.metadata.resource_version = Some(rv);
            let runtime = PodRuntime {
                handle: e.handle.take(),
                sandbox: e.sandbox.take(),
                net: e.net.take(),
            };
            Ok(Some((e.pod.clone(), runtime)))
        })??;
        let Some((pod, runtime)) = taken else {
            return Ok(deleted);
        };
        // The teardown goes on whatever the scheduler's state; its error is answered after.
        let forgotten = lock(&self.scheduler).map(|mut s| s.forget(&pod));
        let grace = grace_override.unwrap_or_else(|| grace_period(&pod, self.time_scale));
        self.kill_on_node(&pod, runtime, grace).await;
        self.store.write(|st| {
            st.next_resource_version();
            if let Some(e) = st.pods.remove(key) {
                st.bury(crate::store::Removed::Pod(Box::new(e.pod)));
            }
        })?;
        // Freed room may let pending pods in.
        self.schedule_pending()?;
        forgotten?;
        Ok(deleted)
    }

    /// Delete a pod in the background (for the garbage collector, the controllers).
    pub(crate) fn delete_in_background(self: Arc<Self>, key: Key) {
        tokio::spawn(async move { self.delete_logged(&key, None).await });
    }

    /// Delete a pod for nobody who could hear the answer: a pod already gone is what was
    /// asked; anything else is logged.
    pub(crate) async fn delete_logged(&self, key: &Key, grace_override: Option<Duration>) {
        match self.delete_pod_with(key, grace_override).await {
            Ok(_) | Err(ApiError::NotFound { .. }) => {}
            Err(e) => tracing::warn!("deleting pod {}/{}: {e}", key.0, key.1),
        }
    }

    /// Have the pod's node's kubelet tear down what runs it.
    async fn kill_on_node(&self, pod: &Pod, runtime: PodRuntime, grace: Duration) {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        match node.and_then(|n| self.kubelets.get(n)) {
            Some(kubelet) => kubelet.kill_pod(self, pod, runtime, grace).await,
            None => runtime.stop(grace).await,
        }
    }

    /// Have `node`'s kubelet run the pod, and keep what runs it with the pod. A pod deleted
    /// meanwhile is torn down again at once.
    pub(crate) async fn run_on_node(self: Arc<Self>, key: Key, pod: Pod, node: String) {
        let Some(kubelet) = self.kubelets.get(&node) else {
            return;
        };
        let Some(runtime) = kubelet.start_pod(self.clone(), pod.clone()).await else {
            return;
        };
        let leftover = self.store.write(|st| match st.pods.get_mut(&key) {
            Some(e) if e.pod.metadata.deletion_timestamp.is_none() => {
                e.handle = runtime.handle;
                e.sandbox = runtime.sandbox;
                e.net = runtime.net;
                None
            }
            _ => Some(runtime),
        });
        if let Some(Some(runtime)) = or_log(leftover, "keeping a started pod") {
            kubelet.kill_pod(&*self, &pod, runtime, Duration::ZERO).await;
        }
    }
}

/// What the controllers may do with pods: what a client of the API may.
impl PodControl for Cluster {
    fn store(&self) -> &Store {
        &self.store
    }

    fn create_pod(&self, pod: Pod) -> Result<Outcome, ApiError> {
        self.apply_pod(pod)
    }

    fn delete_pod(&self, key: Key) {
        if let Some(c) = self.me.upgrade() {
            c.delete_in_background(key);
        }
    }

    fn held(&self) -> bool {
        self.held.load(std::sync::atomic::Ordering::SeqCst)
    }
}
