//! Unit tests of the kubelet pieces that need neither root nor processes.

use super::status_events::{container_events, pod_status_events, publisher};
use super::{PodApi, model};
use crate::pull::{ImageCache, Registry};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    Pod, PodSpec, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn status(name: &str, state: ContainerState, restarts: i32) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        state: Some(state),
        restart_count: restarts,
        ..Default::default()
    }
}

fn running(at_ms: i64) -> ContainerState {
    ContainerState {
        running: Some(ContainerStateRunning {
            started_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::from_millisecond(at_ms).unwrap(),
            )),
        }),
        ..Default::default()
    }
}

fn waiting(reason: &str, message: &str) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message: Some(message.into()),
        }),
        ..Default::default()
    }
}

fn reasons(events: &[(&str, &str, String)]) -> Vec<String> {
    events.iter().map(|(t, r, _)| format!("{t}/{r}")).collect()
}

#[test]
fn a_container_that_starts_is_created_and_started_once() {
    let cur = status("web", running(1000), 0);
    let ev = container_events(None, &cur);
    assert_eq!(reasons(&ev), ["Normal/Created", "Normal/Started"]);
    assert_eq!(ev[0].2, "Created container: web");
    // The same run again: nothing new.
    assert!(container_events(Some(&cur), &cur).is_empty());
    // A new run (another start time): created and started again.
    let again = status("web", running(2000), 1);
    assert_eq!(reasons(&container_events(Some(&cur), &again)).len(), 2);
}

#[test]
fn waiting_reasons_give_the_kubelets_events() {
    let cases = [
        ("ErrImagePull", "Warning/Failed"),
        ("ErrImageNeverPull", "Warning/ErrImageNeverPull"),
        ("ImagePullBackOff", "Normal/BackOff"),
        ("CrashLoopBackOff", "Warning/BackOff"),
    ];
    for (reason, want) in cases {
        let cur = status("c", waiting(reason, "why"), 0);
        assert_eq!(reasons(&container_events(None, &cur)), [want], "{reason}");
        // Still waiting for the same reason: no repeat...
        assert!(container_events(Some(&cur), &cur).is_empty(), "{reason}");
    }
    // ...unless it restarted meanwhile.
    let before = status("c", waiting("CrashLoopBackOff", ""), 1);
    let after = status("c", waiting("CrashLoopBackOff", ""), 2);
    assert_eq!(
        container_events(Some(&before), &after)[0].2,
        "Back-off restarting failed container c in pod"
    );
    assert!(container_events(None, &status("c", waiting("ContainerCreating", ""), 0)).is_empty());
}

#[test]
fn a_termination_with_a_message_is_a_failure_event() {
    let t = ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code: 128,
            message: Some("exec: \"nope\": executable file not found in $PATH".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let cur = status("c", t, 0);
    let ev = container_events(None, &cur);
    assert_eq!(reasons(&ev), ["Warning/Failed"]);
    assert!(ev[0].2.starts_with("Error: exec"));
    assert!(container_events(Some(&cur), &cur).is_empty());
}

#[test]
fn pod_status_events_pair_containers_by_name_init_containers_too() {
    let old = PodStatus {
        container_statuses: Some(vec![status("a", running(1), 0)]),
        ..Default::default()
    };
    let new = PodStatus {
        container_statuses: Some(vec![status("a", running(1), 0), status("b", running(5), 0)]),
        init_container_statuses: Some(vec![status("init", waiting("ErrImagePull", "no"), 0)]),
        ..Default::default()
    };
    let ev = pod_status_events(Some(&old), &new);
    assert_eq!(reasons(&ev), ["Normal/Created", "Normal/Started", "Warning/Failed"]);
    assert!(ev[0].2.ends_with(": b"));
}

fn pod(images: &[(&str, Option<&str>)]) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("default".into()),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: images
                .iter()
                .enumerate()
                .map(|(i, (image, policy))| Container {
                    name: format!("c{i}"),
                    image: Some(image.to_string()),
                    image_pull_policy: policy.map(Into::into),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }),
        status: None,
    }
}

#[test]
fn model_status_runs_catalog_images_and_pulls_them_into_the_cache() {
    let images = ImageCache::default();
    let registry = Registry::default();
    let p = pod(&[("nginx:1.25", None)]);
    let s = model::model_status(&p, "172.18.0.2", "10.244.1.5", &images, &registry);
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(s.pod_ip.as_deref(), Some("10.244.1.5"));
    assert_eq!(s.host_ip.as_deref(), Some("172.18.0.2"));
    let cs = &s.container_statuses.unwrap()[0];
    assert!(cs.ready && cs.state.as_ref().unwrap().running.is_some());
    assert!(images.get("nginx:1.25").is_some(), "the pull lands in the node's cache");
}

#[test]
fn model_status_leaves_unpullable_images_waiting() {
    let images = ImageCache::default();
    let registry = Registry::default();
    let p = pod(&[("no-such-image:1", None), ("nginx:1.25", Some("Never"))]);
    let s = model::model_status(&p, "h", "i", &images, &registry);
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    let cs = s.container_statuses.unwrap();
    let reason = |c: &ContainerStatus| {
        c.state
            .as_ref()
            .unwrap()
            .waiting
            .as_ref()
            .unwrap()
            .reason
            .clone()
            .unwrap()
    };
    assert_eq!(reason(&cs[0]), "ImagePullBackOff");
    assert_eq!(reason(&cs[1]), "ErrImageNeverPull");
    assert!(cs.iter().all(|c| !c.ready));
}

/// A control plane that keeps what it is told.
#[derive(Default)]
struct FakeApi {
    statuses: Mutex<Vec<PodStatus>>,
    events: Mutex<Vec<String>>,
    gone: bool,
}

impl PodApi for FakeApi {
    fn pod_exists(&self, _: &str, _: &str) -> bool {
        !self.gone
    }
    fn publish_status(&self, _: &str, _: &str, status: PodStatus) -> bool {
        self.statuses.lock().unwrap().push(status);
        !self.gone
    }
    fn pod_event(&self, _: &Pod, type_: &str, reason: &str, _: String) {
        self.events.lock().unwrap().push(format!("{type_}/{reason}"));
    }
    fn node_event(&self, _: &str, _: &str, _: &str, _: String) {}
    fn node_failed(&self, _: &str) -> bool {
        false
    }
    fn workdir(&self, _: &str) -> PathBuf {
        std::env::temp_dir()
    }
}

#[test]
fn the_publisher_posts_the_status_then_the_events_of_its_change() {
    let api = Arc::new(FakeApi::default());
    let dyn_api: Arc<dyn PodApi> = api.clone();
    let publish = publisher(Arc::downgrade(&dyn_api), pod(&[]));
    let s = |state| PodStatus {
        container_statuses: Some(vec![status("c", state, 0)]),
        ..Default::default()
    };
    publish(s(waiting("ContainerCreating", "")));
    publish(s(running(7)));
    publish(s(running(7)));
    assert_eq!(api.statuses.lock().unwrap().len(), 3);
    assert_eq!(*api.events.lock().unwrap(), ["Normal/Created", "Normal/Started"]);
}

#[test]
fn model_pull_events_follow_the_pull_policy() {
    let api = FakeApi::default();
    let images = ImageCache::default();
    let p = pod(&[("nginx:1.25", None), ("nope:1", None)]);
    model::pull_events(&api, &p, &images, &Registry::default());
    assert_eq!(
        *api.events.lock().unwrap(),
        ["Normal/Pulling", "Normal/Pulled", "Warning/Failed"]
    );
}
