//! One node's kubelet, as the control plane drives it: for a pod bound to this node, build its
//! sandbox and network (retrying with back-off), start its containers (on the model dataplane:
//! report the status they would have), turn container changes into events, and tear the pod
//! down again. It reaches the control plane only through [`PodApi`].
//!
//! - `sandbox_net`: the pause process and the pod's network, with retry;
//! - [`model`]: the model dataplane's stand-in for running containers;
//! - [`status_events`]: the events a status change produces, and the publisher that sends both;
//! - [`routes`]: the node agents' route reconciler.

pub mod model;
pub mod routes;
mod sandbox_net;
pub mod status_events;

pub use routes::start_route_reconciler;
pub use sandbox_net::STARTING_SLOTS;
pub use status_events::{container_events, container_statuses_waiting};

use crate::AgentConfig;
use crate::config_data::{Data, DataKind, ObjectData};
use crate::pod::{PodContext, PodHandle};
use crate::pull::ImageCache;
use crate::sandbox::Sandbox;
use crate::spawner::Spawner;
use k8s_openapi::api::core::v1::{Pod, PodStatus};
use podlab_netplugin::{Dataplane, ExplainSink, PodNetwork, PodRef};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the kubelet needs of the control plane (the API server, in Kubernetes): whether a pod
/// still exists, a place to post its status and events, and the node's standing.
pub trait PodApi: Send + Sync {
    /// Whether the pod still exists (a kubelet stops working on a deleted pod).
    fn pod_exists(&self, namespace: &str, name: &str) -> bool;
    /// Store the pod's new status. False if the pod is gone (then no events follow).
    fn publish_status(&self, namespace: &str, name: &str, status: PodStatus) -> bool;
    /// Record an event about `pod` from the kubelet.
    fn pod_event(&self, pod: &Pod, type_: &str, reason: &str, message: String);
    /// Record an event about node `node` from its node agent.
    fn node_event(&self, node: &str, type_: &str, reason: &str, message: String);
    /// Whether `node` was taken down (its agent leaves it alone).
    fn node_failed(&self, node: &str) -> bool;
    /// The pod's scratch directory (its containers' writable layers, see [`crate::rootfs`]).
    fn workdir(&self, pod_uid: &str) -> PathBuf;
    /// Removes a deleted pod's scratch directory (nothing of its containers' layers stays).
    fn remove_workdir(&self, _pod_uid: &str) {}
    /// Where every container mounts its writable layer, in its own mount namespace (an empty
    /// directory on the machine); None: a directory of its own in the pod's scratch directory.
    fn layer_mountpoint(&self) -> Option<PathBuf> {
        None
    }
    /// Whether the cluster is held still (a lesson's pause): reconcilers repair nothing.
    fn held(&self) -> bool {
        false
    }
    /// The data of ConfigMap or Secret `namespace/name` (None: no such object).
    fn object_data(&self, _kind: DataKind, _namespace: &str, _name: &str) -> Option<Data> {
        None
    }
}

/// A pod's view of the cluster's ConfigMaps and Secrets, through the control plane (weakly:
/// a pod worker never keeps the cluster alive).
struct ApiData(std::sync::Weak<dyn PodApi>);

impl ObjectData for ApiData {
    fn data(&self, kind: DataKind, namespace: &str, name: &str) -> Option<Data> {
        self.0.upgrade()?.object_data(kind, namespace, name)
    }
}

/// What a started pod runs on; the control plane keeps it with the pod and hands it back to
/// [`Kubelet::kill_pod`].
#[derive(Default)]
pub struct PodRuntime {
    /// The pod worker (none on the model dataplane).
    pub handle: Option<PodHandle>,
    /// The pause process (none on the model dataplane).
    pub sandbox: Option<Arc<Sandbox>>,
    /// The pod's network.
    pub net: Option<PodNetwork>,
}

impl PodRuntime {
    /// Stop the containers (SIGKILL after `grace`) and kill the pause process; the network is
    /// left as it is.
    pub async fn stop(self, grace: Duration) {
        if let Some(h) = self.handle {
            h.stop(grace).await;
        }
        if let Some(sb) = self.sandbox {
            sb.kill();
        }
    }
}

/// One node's kubelet.
pub struct Kubelet {
    /// The node's name.
    pub node: String,
    /// The node's IP (the pods' `status.hostIP`).
    pub host_ip: String,
    /// The cluster's dataplane (pod networks).
    pub dataplane: Arc<Dataplane>,
    /// Forks pause processes and containers.
    pub spawner: Spawner,
    /// Settings shared by every pod.
    pub config: AgentConfig,
    /// The node's image cache, shared by its pods.
    pub images: ImageCache,
    /// Receives the by-hand equivalents of what is built (`ip netns add ...`).
    pub explain: Option<ExplainSink>,
}

/// The netplugin's name for a pod.
fn pod_ref(pod: &Pod) -> PodRef {
    PodRef {
        namespace: pod.metadata.namespace.clone().unwrap_or_else(|| "default".into()),
        name: pod.metadata.name.clone().unwrap_or_default(),
        uid: pod.metadata.uid.clone().unwrap_or_default(),
    }
}

impl Kubelet {
    /// Run `pod` (bound to this node): its sandbox and network, then its containers, whose
    /// status and events go to `api`. None if the pod was deleted meanwhile (nothing is left
    /// behind then).
    pub async fn start_pod(&self, api: Arc<dyn PodApi>, pod: Pod) -> Option<PodRuntime> {
        let podref = pod_ref(&pod);
        let (sandbox, net) = self.create_sandbox_retrying(&*api, &pod, &podref).await?;
        let Some(sandbox) = sandbox else {
            // Model dataplane: no processes; containers of catalog images are reported Running.
            let ip = net.ip.to_string();
            model::pull_events(&*api, &pod, &self.images, &self.config.registry);
            let status = model::model_status(&pod, &self.host_ip, &ip, &self.images, &self.config.registry);
            api.publish_status(&podref.namespace, &podref.name, status);
            return Some(PodRuntime {
                net: Some(net),
                ..Default::default()
            });
        };
        // The pod may have been deleted while its sandbox was being built.
        if !api.pod_exists(&podref.namespace, &podref.name) {
            sandbox.kill();
            self.dataplane.forget_pod(&self.node, &podref);
            return None;
        }
        let ctx = PodContext {
            node: self.node.clone(),
            host_ip: self.host_ip.clone(),
            pod_ip: net.ip.to_string(),
            sandbox: sandbox.clone(),
            workdir: api.workdir(&podref.uid),
            layer_mountpoint: api.layer_mountpoint(),
            images: self.images.clone(),
            events: Some(status_events::event_hook(Arc::downgrade(&api), pod.clone())),
            data: Arc::new(ApiData(Arc::downgrade(&api))),
        };
        let publish = status_events::publisher(Arc::downgrade(&api), pod.clone());
        let handle = PodHandle::start(pod, ctx, self.config.clone(), self.spawner.clone(), publish);
        Some(PodRuntime {
            handle: Some(handle),
            sandbox: Some(sandbox),
            net: Some(net),
        })
    }

    /// Tear `pod` down: stop its containers (SIGKILL after `grace`), kill its pause process,
    /// remove its scratch directory (the containers' layers) and release its network; a
    /// network that cannot be released is a `FailedKillPod` event.
    pub async fn kill_pod(&self, api: &dyn PodApi, pod: &Pod, runtime: PodRuntime, grace: Duration) {
        let networked = runtime.net.is_some();
        let ran = runtime.handle.is_some();
        runtime.stop(grace).await;
        if ran {
            api.remove_workdir(pod.metadata.uid.as_deref().unwrap_or_default());
        }
        if networked {
            // The namespace is gone with its pause process, and its veth with it: what is left
            // is the node bridge's neighbour entry and the address.
            if let Err(e) = self.dataplane.release_pod(&self.node, &pod_ref(pod)).await {
                let message = format!("KillPodSandbox: tearing down the pod network: {e}");
                api.pod_event(pod, "Warning", "FailedKillPod", message);
            }
        }
    }
}

#[cfg(test)]
mod tests;
