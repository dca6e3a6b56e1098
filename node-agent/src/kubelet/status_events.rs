//! The events a pod's status change produces (Created, Started, BackOff, Failed, ...), as the
//! kubelet records them, and the publisher that posts a pod's status and its events to the
//! control plane.

use super::PodApi;
use crate::lock_unpoisoned;
use crate::pod::{EventHook, Publish};
use k8s_openapi::api::core::v1::{ContainerState, ContainerStateWaiting, ContainerStatus, Pod, PodStatus};
use std::sync::{Arc, Mutex, Weak};

/// One event: (type "Normal"/"Warning", reason, message).
pub type EventLine = (&'static str, &'static str, String);

/// Every container of `p` waiting for `reason` (e.g. `ContainerCreating` once it is scheduled).
pub fn container_statuses_waiting(p: &Pod, reason: &str) -> Vec<ContainerStatus> {
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

/// The kubelet events a container state change (`prev` to `cur`) produces.
pub fn container_events(prev: Option<&ContainerStatus>, cur: &ContainerStatus) -> Vec<EventLine> {
    let mut out = Vec::new();
    let state = cur.state.clone().unwrap_or_default();
    let prev_state = prev.and_then(|p| p.state.clone()).unwrap_or_default();
    let name = &cur.name;
    if let Some(r) = &state.running {
        let was_running = prev_state.running.as_ref().map(|p| &p.started_at) == Some(&r.started_at);
        if !was_running {
            // The pull events ("Pulling", "Pulled") come from the pod worker's event hook.
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
            let message = || w.message.clone().unwrap_or_default();
            match reason.as_str() {
                "ErrImagePull" => out.push(("Warning", "Failed", message())),
                "ErrImageNeverPull" => out.push(("Warning", "ErrImageNeverPull", message())),
                "ImagePullBackOff" => out.push(("Normal", "BackOff", message())),
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

/// The statuses of every container of a pod, init containers too.
fn all_containers(s: &PodStatus) -> impl Iterator<Item = &ContainerStatus> {
    s.container_statuses
        .iter()
        .flatten()
        .chain(s.init_container_statuses.iter().flatten())
}

/// The events of every container (init containers too) from status `old` to `new`.
pub fn pod_status_events(old: Option<&PodStatus>, new: &PodStatus) -> Vec<EventLine> {
    all_containers(new)
        .flat_map(|cs| {
            let prev = old.and_then(|o| all_containers(o).find(|p| p.name == cs.name));
            container_events(prev, cs)
        })
        .collect()
}

/// Posts `pod`'s statuses to `api`, each followed by the events its change produces. The
/// statuses are compared with the last one posted.
pub(super) fn publisher(api: Weak<dyn PodApi>, pod: Pod) -> Publish {
    let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let name = pod.metadata.name.clone().unwrap_or_default();
    let last: Mutex<Option<PodStatus>> = Mutex::new(None);
    Arc::new(move |status: PodStatus| {
        let Some(api) = api.upgrade() else { return };
        // Held while posting, so two containers' changes are compared and posted in one order.
        let mut last = lock_unpoisoned(&last);
        let events = pod_status_events(last.as_ref(), &status);
        if api.publish_status(&ns, &name, status.clone()) {
            *last = Some(status);
            for (t, r, m) in events {
                api.pod_event(&pod, t, r, m);
            }
        }
    })
}

/// The pod worker's event hook (pull events) posting to `api`.
pub(super) fn event_hook(api: Weak<dyn PodApi>, pod: Pod) -> EventHook {
    Arc::new(move |t: &'static str, r: &'static str, m: String| {
        if let Some(api) = api.upgrade() {
            api.pod_event(&pod, t, r, m);
        }
    })
}
