//! Binding pods to nodes through the scheduler, as kube-scheduler does: a placed pod is bound
//! (`spec.nodeName`, `PodScheduled`, a `Scheduled` event) and handed to its node's kubelet; a
//! pod that fits nowhere stays Pending with `FailedScheduling`.

use crate::cluster::{Cluster, Key};
use crate::error::ApiError;
use crate::store::lock;
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use podlab_node_agent::kubelet::container_statuses_waiting;
use podlab_node_agent::{lock_unpoisoned, now};

impl Cluster {
    /// The scheduler's per-node verdicts and scores for `pod` (`podlab explain-placement`).
    /// A placed pod is explained as it was seen when it was scheduled: without its nodeName.
    pub fn explain_placement(&self, pod: &Pod) -> String {
        let mut pod = pod.clone();
        let placed = pod.spec.as_mut().and_then(|s| s.node_name.take());
        let text = lock_unpoisoned(&self.scheduler).explain(&pod).to_string();
        match placed {
            Some(n) => format!("{text}\n(placed on {n}; the scores above count this pod's own requests on {n})\n"),
            None => text,
        }
    }

    /// Try to place a pending pod; on success start it on its node.
    pub(crate) fn try_schedule(&self, key: &Key) -> Result<(), ApiError> {
        let Some(pod) = self.pod(key) else { return Ok(()) };
        if pod.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some()
            && pod.status.as_ref().and_then(|s| s.host_ip.as_ref()).is_some()
        {
            return Ok(());
        }
        let decision = {
            let mut s = lock(&self.scheduler)?;
            let decision = s.schedule(&pod);
            if let Ok(node) = &decision {
                s.assume(&pod, node);
            }
            decision
        };
        match decision {
            Ok(node) => self.bind(key, pod, node),
            Err(unsched) => self.unschedulable(key, &pod, unsched.to_string()),
        }
    }

    /// Give every pod without a node another chance (room was freed, a node came back).
    pub(crate) fn schedule_pending(&self) -> Result<(), ApiError> {
        let pending = self
            .store
            .pod_keys_where(|p| p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_none());
        for k in pending {
            self.try_schedule(&k)?;
        }
        Ok(())
    }

    /// Bind the pod to `node` and hand it to the node's kubelet.
    fn bind(&self, key: &Key, mut pod: Pod, node: String) -> Result<(), ApiError> {
        if let Some(spec) = pod.spec.as_mut() {
            spec.node_name = Some(node.clone());
        }
        let host_ip = self.node(&node).map(|n| n.addr.node_ip.to_string());
        self.store.update_pod(key, |p| {
            if let Some(spec) = p.spec.as_mut() {
                spec.node_name = Some(node.clone());
            }
            p.status = Some(PodStatus {
                phase: Some("Pending".into()),
                host_ip,
                conditions: Some(vec![PodCondition {
                    type_: "PodScheduled".into(),
                    status: "True".into(),
                    ..Default::default()
                }]),
                container_statuses: Some(container_statuses_waiting(p, "ContainerCreating")),
                qos_class: p
                    .spec
                    .as_ref()
                    .map(|s| podlab_node_agent::pod::qos_class(s).to_string()),
                ..Default::default()
            });
        })?;
        let message = format!("Successfully assigned {}/{} to {node}", key.0, key.1);
        self.pod_event(&pod, "Normal", "Scheduled", message, "default-scheduler");
        if let Some(me) = self.me.upgrade() {
            tokio::spawn(me.run_on_node(key.clone(), pod, node));
        }
        Ok(())
    }

    /// The pod fits nowhere: Pending, `PodScheduled=False`, a `FailedScheduling` event.
    fn unschedulable(&self, key: &Key, pod: &Pod, msg: String) -> Result<(), ApiError> {
        self.store.update_pod(key, |p| {
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
        })?;
        self.pod_event(pod, "Warning", "FailedScheduling", msg, "default-scheduler");
        Ok(())
    }
}
