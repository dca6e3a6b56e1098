//! A pod's sandbox (its pause process; none on the model dataplane) and its network, retried
//! with back-off as the kubelet retries `RunPodSandbox`.

use super::{Kubelet, PodApi};
use crate::sandbox::Sandbox;
use crate::spawner::SandboxKind;
use k8s_openapi::api::core::v1::Pod;
use podlab_netplugin::{PodNetwork, PodRef};
use std::sync::Arc;
use std::time::Duration;

/// The first wait after a failed sandbox; it doubles up to [`SANDBOX_BACKOFF_MAX`].
const SANDBOX_BACKOFF_INITIAL: Duration = Duration::from_secs(1);
/// The longest wait between two tries.
const SANDBOX_BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How many pods may have their sandbox made and their network set up at once.
pub const STARTING_SLOTS: usize = 256;
static STARTING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(STARTING_SLOTS);

impl Kubelet {
    /// Like the kubelet, retry a failed sandbox (no free address, a netlink error) with
    /// back-off for as long as the pod exists; each failure is a `FailedCreatePodSandBox`
    /// event on the pod. None once the pod is gone.
    pub(super) async fn create_sandbox_retrying(
        &self,
        api: &dyn PodApi,
        pod: &Pod,
        podref: &PodRef,
    ) -> Option<(Option<Arc<Sandbox>>, PodNetwork)> {
        let mut backoff = SANDBOX_BACKOFF_INITIAL;
        loop {
            if !api.pod_exists(&podref.namespace, &podref.name) {
                return None;
            }
            match self.create_sandbox(pod, podref).await {
                Ok(x) => return Some(x),
                Err(msg) => {
                    api.pod_event(pod, "Warning", "FailedCreatePodSandBox", msg);
                    let wait = backoff.mul_f64(self.config.time_scale).max(Duration::from_millis(20));
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(SANDBOX_BACKOFF_MAX);
                }
            }
        }
    }

    /// One try: the pause process (kernel dataplane only), then the pod's network in it.
    async fn create_sandbox(&self, pod: &Pod, podref: &PodRef) -> Result<(Option<Arc<Sandbox>>, PodNetwork), String> {
        if self.dataplane.is_model() {
            return self
                .dataplane
                .add_pod(&self.node, podref, None)
                .await
                .map(|n| (None, n))
                .map_err(|e| e.to_string());
        }
        let host = podref.name.as_str();
        if let Some(e) = &self.explain {
            e(&format!("ip netns add {host}"));
        }
        // `shareProcessNamespace: true`: one PID namespace for the pod, the pause process its PID 1.
        let shared_pids = pod.spec.as_ref().and_then(|s| s.share_process_namespace) == Some(true);
        let kind = if shared_pids {
            SandboxKind::PodSharingPids
        } else {
            SandboxKind::Pod
        };
        // A pod being started holds the pause process's readiness pipe (and a blocking thread)
        // until its namespaces exist, then its network namespace and a netlink socket while it
        // is wired: without a bound, 10,000 pods starting at once held ~8,000 pipes or ~9,000
        // namespaces and sockets beside the pause processes' 10,000 pidfds and met
        // `RLIMIT_NOFILE` (20,000).
        let Ok(_starting) = STARTING.acquire().await else {
            return Err("Failed to create pod sandbox: podlab is shutting down".into());
        };
        let sandbox = match Sandbox::create_async(&self.spawner, kind, host).await {
            Ok(s) => Arc::new(s),
            Err(e) => return Err(format!("Failed to create pod sandbox: {e}")),
        };
        let added = match sandbox.netns() {
            Ok(ns) => self
                .dataplane
                .add_pod(&self.node, podref, Some(&ns))
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match added {
            Ok(n) => Ok((Some(sandbox), n)),
            Err(e) => {
                sandbox.kill();
                Err(format!(
                    "Failed to create pod sandbox: failed to set up pod network: {e}"
                ))
            }
        }
    }
}
