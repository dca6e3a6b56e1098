//! The control plane on the model dataplane: no root, no kernel objects, no processes. Each
//! test brings up its own two-node cluster under a unique runtime directory, which is released
//! when the test's runtime (and with it every task holding the cluster) ends.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::{Container, Namespace, Node, NodeStatus, Pod, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use podlab_control_plane::controllers::deployment::template_hash;
use podlab_control_plane::{ApiError, Cluster, ClusterOptions, Key, Verb, Workload, key_of, rundir};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn node(name: &str) -> Node {
    let cap: BTreeMap<String, Quantity> = [
        ("cpu".to_string(), Quantity("8".into())),
        ("memory".to_string(), Quantity("16Gi".into())),
        ("pods".to_string(), Quantity("110".into())),
    ]
    .into();
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        status: Some(NodeStatus {
            capacity: Some(cap.clone()),
            allocatable: Some(cap),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A unique runtime directory name for this test process.
fn rundir_name(test: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "cp-test-{test}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn options(test: &str) -> ClusterOptions {
    ClusterOptions {
        name: test.into(),
        rundir_name: rundir_name(test),
        network: podlab_netplugin::ClusterNetwork {
            pod_cidr: "10.244.0.0/16".parse().unwrap(),
            node_prefix: 24,
            fabric_cidr: "172.18.0.0/16".parse().unwrap(),
        },
        nodes: vec![node("worker-1"), node("worker-2")],
        scheduler: Default::default(),
        // Grace periods and the eviction timeout (300 s) become milliseconds.
        time_scale: 0.001,
        model: true,
        explain: None,
        registry: Default::default(),
    }
}

async fn up(test: &str) -> Arc<Cluster> {
    Cluster::up(options(test), &|_| {})
        .await
        .expect("a model cluster comes up")
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        ..Default::default()
    }
}

fn pod(name: &str) -> Pod {
    Pod {
        metadata: meta(name),
        spec: Some(pod_spec()),
        status: None,
    }
}

fn pod_spec() -> PodSpec {
    PodSpec {
        containers: vec![Container {
            name: "web".into(),
            image: Some("nginx:1.25".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn labels(app: &str) -> BTreeMap<String, String> {
    [("app".to_string(), app.to_string())].into()
}

fn template(app: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(app)),
            ..Default::default()
        }),
        spec: Some(pod_spec()),
    }
}

fn selector(app: &str) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels(app)),
        ..Default::default()
    }
}

fn replicaset(name: &str, replicas: i32) -> ReplicaSet {
    ReplicaSet {
        metadata: meta(name),
        spec: Some(ReplicaSetSpec {
            replicas: Some(replicas),
            selector: selector(name),
            template: Some(template(name)),
            min_ready_seconds: None,
        }),
        status: None,
    }
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    Deployment {
        metadata: meta(name),
        spec: Some(DeploymentSpec {
            replicas: Some(replicas),
            selector: selector(name),
            template: template(name),
            ..Default::default()
        }),
        status: None,
    }
}

fn key(name: &str) -> Key {
    ("default".into(), name.into())
}

fn running(p: &Pod) -> bool {
    p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
}

fn live(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
}

/// The live pods whose name starts with `prefix`.
fn live_pods(c: &Cluster, prefix: &str) -> Vec<Pod> {
    c.pods_where(|p| live(p) && p.metadata.name.as_deref().unwrap_or_default().starts_with(prefix))
}

fn rv(meta: &ObjectMeta) -> u64 {
    meta.resource_version.as_deref().unwrap_or("0").parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_answers_created_unchanged_configured() {
    let c = up("apply").await;
    let ns = Namespace {
        metadata: meta("team-a"),
        ..Default::default()
    };
    assert_eq!(c.apply_namespace(&ns).unwrap().to_string(), "namespace/team-a created");
    assert_eq!(c.apply_namespace(&ns).unwrap().verb, Verb::Unchanged);

    assert_eq!(c.apply_pod(pod("web")).unwrap().to_string(), "pod/web created");
    assert_eq!(c.apply_pod(pod("web")).unwrap().to_string(), "pod/web unchanged");

    let d = deployment("nginx", 1);
    assert_eq!(
        c.apply_deployment(d.clone()).unwrap().to_string(),
        "deployment.apps/nginx created"
    );
    assert_eq!(c.apply_deployment(d).unwrap().verb, Verb::Unchanged);
    let out = c.apply_deployment(deployment("nginx", 2)).unwrap();
    assert_eq!(out.to_string(), "deployment.apps/nginx configured");
    let rs = c.apply_replicaset(replicaset("front", 1)).unwrap();
    assert_eq!(rs.to_string(), "replicaset.apps/front created");

    assert!(
        c.wait_for(WAIT, |c| c.pod(&key("web")).is_some_and(|p| running(&p)))
            .await
    );
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_objects_are_not_found_with_their_resource() {
    let c = up("notfound").await;
    let mut p = pod("web");
    p.metadata.namespace = Some("nope".into());
    let e = c.apply_pod(p).unwrap_err();
    assert_eq!((e.reason(), e.code()), ("NotFound", 404));
    assert!(
        matches!(&e, ApiError::NotFound { resource, name, hint: Some(_) } if resource == "namespaces" && name == "nope")
    );
    let mut d = deployment("d", 1);
    d.metadata.namespace = Some("nope".into());
    assert_eq!(c.apply_deployment(d).unwrap_err().reason(), "NotFound");

    let e = c.get_pod(&key("ghost")).unwrap_err();
    assert_eq!(
        e.kubectl_message(),
        "Error from server (NotFound): pods \"ghost\" not found"
    );
    assert_eq!(c.delete_pod(&key("ghost")).await.unwrap_err().code(), 404);
    assert_eq!(c.label_pod(&key("ghost"), &[], false).unwrap_err().code(), 404);
    let e = c.get_node("worker-9").err().unwrap();
    assert_eq!(e.to_string(), "nodes \"worker-9\" not found");
    assert_eq!(c.node_up("worker-9").await.unwrap_err().code(), 404);
    assert_eq!(c.node_down("worker-9").await.unwrap_err().code(), 404);
    assert_eq!(c.fail_node("worker-9").await.unwrap_err().code(), 404);
    let e = c.scale(Workload::Deployment, &key("ghost"), 2).unwrap_err();
    assert_eq!(e.to_string(), "deployments.apps \"ghost\" not found");
    let e = c.scale(Workload::ReplicaSet, &key("ghost"), -1).unwrap_err();
    assert_eq!((e.reason(), e.code()), ("BadRequest", 400));
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn label_conflicts_unless_overwrite() {
    let c = up("label").await;
    c.apply_pod(pod("web")).unwrap();
    let set = |k: &str, v: Option<&str>| vec![(k.to_string(), v.map(String::from))];
    let out = c.label_pod(&key("web"), &set("tier", Some("front")), false).unwrap();
    assert_eq!(out.to_string(), "pod/web labeled");
    // The same value again is no conflict.
    c.label_pod(&key("web"), &set("tier", Some("front")), false).unwrap();
    let e = c.label_pod(&key("web"), &set("tier", Some("back")), false).unwrap_err();
    assert_eq!((e.reason(), e.code()), ("Conflict", 409));
    assert!(e.kubectl_message().starts_with("error: 'overwrite' is false"), "{e}");
    let tier = |c: &Cluster| {
        c.pod(&key("web"))
            .and_then(|p| p.metadata.labels)
            .and_then(|l| l.get("tier").cloned())
    };
    assert_eq!(tier(&c).as_deref(), Some("front"));
    c.label_pod(&key("web"), &set("tier", Some("back")), true).unwrap();
    assert_eq!(tier(&c).as_deref(), Some("back"));
    c.label_pod(&key("web"), &set("tier", None), false).unwrap();
    assert_eq!(tier(&c), None);
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicaset_keeps_its_pods_and_replaces_a_deleted_one() {
    let c = up("rs").await;
    c.apply_replicaset(replicaset("front", 3)).unwrap();
    let three_running = |c: &Cluster| {
        let pods = live_pods(c, "front-");
        pods.len() == 3 && pods.iter().all(running)
    };
    assert!(c.wait_for(WAIT, three_running).await, "{:?}", live_pods(&c, ""));
    let pods = live_pods(&c, "front-");
    let rs_uid = c.replicasets()[0].metadata.uid.clone().unwrap();
    for p in &pods {
        let name = p.metadata.name.as_deref().unwrap();
        let suffix = name.strip_prefix("front-").unwrap();
        assert_eq!(suffix.len(), 5, "{name}");
        assert!(
            suffix.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)),
            "{name}"
        );
        let owner = &p.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("ReplicaSet", rs_uid.as_str())
        );
    }
    let victim = key_of(&pods[0]);
    c.delete_pod(&victim).await.unwrap();
    let replaced = |c: &Cluster| three_running(c) && c.pod(&victim).is_none();
    assert!(c.wait_for(WAIT, replaced).await);
    assert!(
        c.wait_for(WAIT, |c| c.replicasets()[0]
            .status
            .as_ref()
            .is_some_and(|s| s.replicas == 3 && s.ready_replicas == Some(3)))
            .await
    );
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_cluster_replaces_no_pod_until_it_goes_on() {
    let c = up("held").await;
    c.apply_replicaset(replicaset("still", 2)).unwrap();
    let two = |c: &Cluster| live_pods(c, "still-").len() == 2;
    assert!(c.wait_for(WAIT, two).await, "{:?}", live_pods(&c, ""));
    c.hold(true);
    let victim = key_of(&live_pods(&c, "still-")[0]);
    c.delete_pod(&victim).await.unwrap();
    // A lesson's pause: the ReplicaSet controller waits, one pod stays missing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(live_pods(&c, "still-").len(), 1, "replaced while held");
    c.hold(false);
    assert!(c.wait_for(WAIT, two).await, "not replaced after the hold");
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deployment_makes_its_replicaset_with_the_template_hash() {
    let c = up("deploy").await;
    let mut d = deployment("nginx", 2);
    // The hash is of the template as stored: defaulted, as kube-apiserver stores it.
    podlab_control_plane::defaults::deployment(&mut d);
    let hash = template_hash(&d.spec.as_ref().unwrap().template);
    c.apply_deployment(d).unwrap();
    let rs_name = format!("nginx-{hash}");
    assert!(
        c.wait_for(WAIT, |c| live_pods(c, &rs_name).iter().filter(|p| running(p)).count()
            == 2)
            .await
    );
    let rs = c.replicasets();
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0].metadata.name.as_deref(), Some(rs_name.as_str()));
    let hash_label = |m: &ObjectMeta| m.labels.as_ref().and_then(|l| l.get("pod-template-hash").cloned());
    assert_eq!(hash_label(&rs[0].metadata).as_deref(), Some(hash.as_str()));
    let selector = &rs[0].spec.as_ref().unwrap().selector;
    assert_eq!(
        selector.match_labels.as_ref().unwrap().get("pod-template-hash"),
        Some(&hash)
    );
    for p in live_pods(&c, &rs_name) {
        assert_eq!(hash_label(&p.metadata).as_deref(), Some(hash.as_str()));
    }
    let ready = |c: &Cluster| {
        c.deployments()[0]
            .status
            .as_ref()
            .is_some_and(|s| s.ready_replicas == Some(2) && s.updated_replicas == Some(2))
    };
    assert!(c.wait_for(WAIT, ready).await, "{:?}", c.deployments()[0].status);
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scaling_down_removes_pods_and_delete_cascades() {
    let c = up("scale").await;
    c.apply_deployment(deployment("nginx", 3)).unwrap();
    assert!(
        c.wait_for(WAIT, |c| live_pods(c, "nginx-").iter().filter(|p| running(p)).count()
            == 3)
            .await
    );
    let out = c.scale(Workload::Deployment, &key("nginx"), 1).unwrap();
    assert_eq!(out.to_string(), "deployment.apps/nginx scaled");
    assert!(c.wait_for(WAIT, |c| live_pods(c, "nginx-").len() == 1).await);
    assert!(
        c.wait_for(WAIT, |c| c.pods().len() == 1).await,
        "the removed pods are gone"
    );

    let out = c
        .delete_workloads(Workload::Deployment, |m| m.name.as_deref() == Some("nginx"))
        .unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].to_string(), "deployment.apps \"nginx\" deleted");
    assert!(c.deployments().is_empty() && c.replicasets().is_empty());
    assert!(c.wait_for(WAIT, |c| c.pods().is_empty()).await, "{:?}", c.pods());
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_takes_a_higher_resource_version() {
    let c = up("rv").await;
    let start = c.resource_version();
    c.apply_pod(pod("web")).unwrap();
    let created = rv(&c.get_pod(&key("web")).unwrap().metadata);
    assert!(created > start);
    assert!(
        c.wait_for(WAIT, |c| c.pod(&key("web")).is_some_and(|p| running(&p)))
            .await
    );
    let started = rv(&c.get_pod(&key("web")).unwrap().metadata);
    assert!(started >= created);
    c.label_pod(&key("web"), &[("a".into(), Some("b".into()))], false)
        .unwrap();
    let labeled = rv(&c.get_pod(&key("web")).unwrap().metadata);
    assert!(labeled > started);
    assert!(c.resource_version() >= labeled);
    c.apply_deployment(deployment("nginx", 1)).unwrap();
    let d1 = rv(&c.deployments()[0].metadata);
    c.scale(Workload::Deployment, &key("nginx"), 2).unwrap();
    assert!(rv(&c.deployments()[0].metadata) > d1);
    let mut seen = c.subscribe();
    let before = *seen.borrow_and_update();
    c.node_event("worker-1", "Normal", "Test", "x".into());
    assert!(seen.has_changed().unwrap());
    assert!(
        *seen.borrow() > before,
        "the change channel carries the resourceVersion"
    );
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_events_fold_into_one_with_a_count() {
    let c = up("events").await;
    c.node_event("worker-1", "Warning", "RouteRestored", "route x".into());
    c.node_event("worker-1", "Warning", "RouteRestored", "route x".into());
    c.node_event("worker-1", "Warning", "RouteRestored", "route y".into());
    let ev: Vec<_> = c
        .events()
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("RouteRestored"))
        .collect();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0].count, Some(2));
    assert_eq!(ev[0].message.as_deref(), Some("route x"));
    assert_eq!(ev[1].count, Some(1));
    let src = ev[0].source.as_ref().unwrap();
    assert_eq!(src.host.as_deref(), Some("worker-1"));

    // A pod's life gives the scheduler's and the kubelet's events.
    c.apply_pod(pod("web")).unwrap();
    let reasons = |c: &Cluster| {
        c.events()
            .iter()
            .filter(|e| e.involved_object.name.as_deref() == Some("web"))
            .filter_map(|e| e.reason.clone())
            .collect::<Vec<_>>()
    };
    assert!(c.wait_for(WAIT, |c| reasons(c).len() >= 3).await);
    assert_eq!(reasons(&c)[..3], ["Scheduled", "Pulling", "Pulled"]);
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_that_fits_nowhere_is_failed_scheduling() {
    let c = up("unsched").await;
    let mut p = pod("huge");
    p.spec.as_mut().unwrap().containers[0].resources = Some(k8s_openapi::api::core::v1::ResourceRequirements {
        requests: Some([("cpu".to_string(), Quantity("64".into()))].into()),
        ..Default::default()
    });
    c.apply_pod(p).unwrap();
    let p = c.get_pod(&key("huge")).unwrap();
    let cond = &p.status.unwrap().conditions.unwrap()[0];
    assert_eq!(
        (cond.status.as_str(), cond.reason.as_deref()),
        ("False", Some("Unschedulable"))
    );
    assert!(
        c.events()
            .iter()
            .any(|e| e.reason.as_deref() == Some("FailedScheduling"))
    );
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_down_evicts_and_node_up_brings_the_node_back() {
    let c = up("nodes").await;
    c.apply_replicaset(replicaset("front", 4)).unwrap();
    assert!(
        c.wait_for(WAIT, |c| live_pods(c, "front-").iter().filter(|p| running(p)).count()
            == 4)
            .await
    );
    let on = |c: &Cluster, node: &str| {
        live_pods(c, "front-")
            .iter()
            .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
            .count()
    };
    assert!(on(&c, "worker-1") > 0, "the scheduler spreads the pods");
    let timeout = c.node_down("worker-1").await.unwrap();
    assert_eq!(timeout, Duration::from_millis(300));
    assert!(c.node_failed("worker-1"));
    // The Node object says so, as kube-controller-manager writes it (a node watch sees it).
    let ready = |c: &Cluster| {
        let n = c.node_object("worker-1").unwrap();
        let cond = n
            .status
            .unwrap()
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        let taints: Vec<String> = n
            .spec
            .and_then(|s| s.taints)
            .unwrap_or_default()
            .iter()
            .map(|t| format!("{}:{}", t.key, t.effect))
            .collect();
        (
            cond.status,
            cond.reason.unwrap_or_default(),
            cond.message.unwrap_or_default(),
            taints,
        )
    };
    let (status, reason, message, taints) = ready(&c);
    assert_eq!((status.as_str(), reason.as_str()), ("Unknown", "NodeStatusUnknown"));
    assert_eq!(message, "Kubelet stopped posting node status.");
    assert_eq!(
        taints,
        [
            "node.kubernetes.io/unreachable:NoSchedule",
            "node.kubernetes.io/unreachable:NoExecute"
        ]
    );
    // Evicted after the timeout, and replaced on the healthy node.
    let moved = |c: &Cluster| on(c, "worker-1") == 0 && on(c, "worker-2") == 4;
    assert!(c.wait_for(WAIT, moved).await);
    let reasons: Vec<_> = c.events().iter().filter_map(|e| e.reason.clone()).collect();
    assert!(reasons.iter().any(|r| r == "NodeNotReady"));
    assert!(reasons.iter().any(|r| r == "TaintManagerEviction"));

    c.node_up("worker-1").await.unwrap();
    assert!(!c.node_failed("worker-1"));
    let (status, reason, _, taints) = ready(&c);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "KubeletReady"));
    assert!(taints.is_empty(), "{taints:?}");
    assert!(c.events().iter().any(|e| e.reason.as_deref() == Some("NodeReady")));

    let gone = c.fail_node("worker-2").await.unwrap();
    assert_eq!(gone.len(), 4);
    assert!(c.node_failed("worker-2"));
    assert!(
        c.wait_for(WAIT, |c| on(c, "worker-1") == 4).await,
        "replaced on the node that came back"
    );
    c.down().await;
}

#[test]
fn the_runtime_directory_is_released_with_the_cluster() {
    let opts = options("rundir");
    let dir = rundir::base().join(&opts.rundir_name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = Cluster::up(opts, &|_| {}).await.unwrap();
        assert!(dir.join("pid").exists());
        c.apply_replicaset(replicaset("front", 2)).unwrap();
        assert!(c.wait_for(WAIT, |c| live_pods(c, "front-").len() == 2).await);
        c.down().await;
    });
    // Every task holding the cluster ends with the runtime.
    drop(rt);
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

fn config_map(name: &str, data: &[(&str, &str)]) -> k8s_openapi::api::core::v1::ConfigMap {
    k8s_openapi::api::core::v1::ConfigMap {
        metadata: meta(name),
        data: Some(data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_maps_and_secrets_are_stored_changed_and_removed() {
    use k8s_openapi::api::core::v1::Secret;
    use podlab_control_plane::controllers::PodControl;
    let c = up("config").await;
    let mut changes = c.subscribe();
    changes.borrow_and_update();
    let out = c.apply(podlab_scenario::Object::ConfigMap(Box::new(config_map(
        "game",
        &[("lives", "3")],
    ))));
    assert_eq!(out.unwrap().to_string(), "configmap/game created");
    assert!(
        changes.has_changed().unwrap(),
        "a new ConfigMap rings the change channel"
    );
    let first = c
        .store()
        .config_map(&key("game"))
        .expect("stored, read by the kubelet side");
    assert_eq!(first.metadata.namespace.as_deref(), Some("default"));
    assert!(first.metadata.uid.is_some() && first.metadata.creation_timestamp.is_some());

    assert_eq!(
        c.apply_config_map(config_map("game", &[("lives", "3")])).unwrap().verb,
        Verb::Unchanged
    );
    let same = c.config_map(&key("game")).unwrap();
    assert_eq!(
        same.metadata.resource_version, first.metadata.resource_version,
        "an unchanged apply writes nothing"
    );
    changes.borrow_and_update();
    let out = c.apply_config_map(config_map("game", &[("lives", "5")])).unwrap();
    assert_eq!(out.to_string(), "configmap/game configured");
    assert!(changes.has_changed().unwrap());
    let second = c.config_map(&key("game")).unwrap();
    assert!(rv(&second.metadata) > rv(&first.metadata));
    assert_eq!(second.metadata.uid, first.metadata.uid);

    // A Secret's stringData is stored as data, whichever front end applied it.
    let s = Secret {
        metadata: meta("db"),
        string_data: Some([("password".to_string(), "s3cret".to_string())].into()),
        ..Default::default()
    };
    assert_eq!(c.apply_secret(s).unwrap().to_string(), "secret/db created");
    let stored = c.store().secret(&key("db")).unwrap();
    assert_eq!(stored.data.unwrap()["password"].0, b"s3cret");
    assert!(stored.string_data.is_none());
    assert_eq!(stored.type_.as_deref(), Some("Opaque"));
    assert_eq!(c.store().secrets(Some("default")).len(), 1);
    assert!(c.store().secrets(Some("other")).is_empty());

    // immutable: the data may not change any more.
    let mut frozen = config_map("frozen", &[("a", "1")]);
    frozen.immutable = Some(true);
    c.apply_config_map(frozen.clone()).unwrap();
    let mut thawed = config_map("frozen", &[("a", "2")]);
    thawed.immutable = Some(true);
    let e = c.apply_config_map(thawed).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
    );
    assert_eq!(c.apply_config_map(frozen).unwrap().verb, Verb::Unchanged);

    // Deleted: gone, a tombstone for watches, NotFound the second time.
    let before = c.resource_version();
    assert_eq!(
        c.delete_config_map(&key("game")).unwrap().to_string(),
        "configmap \"game\" deleted"
    );
    assert!(c.config_map(&key("game")).is_none());
    assert!(
        c.removed_since(before)
            .iter()
            .any(|t| matches!(&t.object, podlab_control_plane::store::Removed::ConfigMap(m) if m.metadata.name.as_deref() == Some("game")))
    );
    assert!(matches!(
        c.delete_config_map(&key("game")),
        Err(ApiError::NotFound { .. })
    ));
    assert!(matches!(c.delete_secret(&key("nope")), Err(ApiError::NotFound { .. })));
    c.down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_namespace_takes_its_config_maps_and_secrets_with_it() {
    let c = up("config-ns").await;
    c.apply_namespace(&Namespace {
        metadata: meta("team-a"),
        ..Default::default()
    })
    .unwrap();
    let mut cm = config_map("settings", &[("a", "1")]);
    cm.metadata.namespace = Some("team-a".into());
    c.apply_config_map(cm).unwrap();
    let mut lost = config_map("lost", &[]);
    lost.metadata.namespace = Some("nowhere".into());
    assert!(matches!(c.apply_config_map(lost), Err(ApiError::NotFound { .. })));
    c.delete_namespace("team-a").unwrap();
    assert!(
        c.wait_for(WAIT, |c| c.config_maps(Some("team-a")).is_empty()
            && !c
                .namespace_objects()
                .iter()
                .any(|n| n.metadata.name.as_deref() == Some("team-a")))
            .await
    );
    assert_eq!(c.config_maps(None).len(), 0);
    c.down().await;
}
