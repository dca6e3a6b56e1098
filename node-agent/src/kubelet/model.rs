//! The model dataplane's kubelet: no processes run, so a pod's containers are reported as they
//! would be once settled. Catalog images (after the pull the policy asks for) are Running and
//! Ready; an image that cannot be pulled leaves its container waiting.

use super::PodApi;
use crate::now;
use crate::pull::{self, Decision, ImageCache, PullPolicy, Registry};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodIP,
    PodStatus,
};

/// The pull events a kubelet would give for `pod`'s containers, decided before the statuses
/// update the node's image cache.
pub fn pull_events(api: &dyn PodApi, pod: &Pod, images: &ImageCache, registry: &Registry) {
    for c in pod.spec.iter().flat_map(|s| s.containers.iter()) {
        let image = c.image.clone().unwrap_or_default();
        match pull::decide(&image, PullPolicy::of(c), images, registry) {
            Decision::Present(_) => api.pod_event(
                pod,
                "Normal",
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            ),
            Decision::Pull(_) => {
                api.pod_event(pod, "Normal", "Pulling", format!("Pulling image \"{image}\""));
                api.pod_event(
                    pod,
                    "Normal",
                    "Pulled",
                    format!("Successfully pulled image \"{image}\" in 0s (model dataplane: simulated)"),
                );
            }
            Decision::PullFails { message } | Decision::NeverPull { message } => {
                api.pod_event(pod, "Warning", "Failed", message)
            }
        }
    }
}

/// One container's settled status; pulls the image into `images` when the policy says so.
fn model_container(c: &Container, images: &ImageCache, registry: &Registry) -> ContainerStatus {
    let image = c.image.clone().unwrap_or_default();
    let failure = match pull::decide(&image, PullPolicy::of(c), images, registry) {
        Decision::Present(_) => None,
        Decision::Pull(kind) => {
            images.insert(&image, kind);
            None
        }
        // No clock runs on the model dataplane: report the steady state after the first failed pull.
        Decision::PullFails { message } => Some(("ImagePullBackOff", message)),
        Decision::NeverPull { message } => Some(("ErrImageNeverPull", message)),
    };
    let known = failure.is_none();
    let state = match failure {
        None => ContainerState {
            running: Some(ContainerStateRunning {
                started_at: Some(now()),
            }),
            ..Default::default()
        },
        Some((reason, message)) => ContainerState {
            waiting: Some(ContainerStateWaiting {
                reason: Some(reason.into()),
                message: Some(message),
            }),
            ..Default::default()
        },
    };
    ContainerStatus {
        name: c.name.clone(),
        image,
        ready: known,
        started: Some(known),
        state: Some(state),
        ..Default::default()
    }
}

/// The status `pod` settles in on the model dataplane, on the node at `host_ip`, with IP `ip`.
pub fn model_status(p: &Pod, host_ip: &str, ip: &str, images: &ImageCache, registry: &Registry) -> PodStatus {
    let statuses: Vec<ContainerStatus> = p
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .map(|c| model_container(c, images, registry))
        .collect();
    let all_ok = statuses.iter().all(|s| s.ready);
    PodStatus {
        phase: Some(if all_ok { "Running" } else { "Pending" }.into()),
        host_ip: Some(host_ip.into()),
        pod_ip: Some(ip.into()),
        pod_ips: Some(vec![PodIP { ip: ip.into() }]),
        start_time: Some(now()),
        container_statuses: Some(statuses),
        qos_class: p.spec.as_ref().map(|s| crate::pod::qos_class(s).to_string()),
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
