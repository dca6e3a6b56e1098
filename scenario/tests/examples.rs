//! Every bundled example loads without errors or warnings (other than for fields podlab does not
//! honour, such as resource limits), and what a user wrote is what the runtime gets.

use std::path::{Path, PathBuf};
use std::time::Duration;

use podlab_scenario::{Action, Object, PodSelector, load};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples").join(name)
}

#[test]
fn every_example_loads_cleanly() {
    let mut count = 0;
    for entry in std::fs::read_dir(example("")).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let loaded = load(&path).unwrap_or_else(|e| panic!("{e}"));
        let unexpected: Vec<_> = loaded
            .warnings
            .iter()
            .filter(|w| !w.message.contains("not implemented by podlab"))
            .collect();
        assert!(unexpected.is_empty(), "{}: {unexpected:?}", path.display());
        assert!(!loaded.scenario.manifests.is_empty(), "{}", path.display());
        count += 1;
    }
    assert!(count >= 8);
}

#[test]
fn split_scenario_has_everything_the_file_says() {
    let s = load(&example("split.yaml")).unwrap().scenario;
    assert_eq!(s.name, "split");
    assert_eq!(s.description.as_deref(), Some("frontend and backend in separate pods"));
    assert!(!s.plain_manifest);
    assert_eq!(s.cluster.scheduler.seed, 7);
    assert_eq!(s.cluster.time_scale, 0.1);
    let names: Vec<&str> = s.manifests.iter().map(Object::name).collect();
    assert_eq!(names, ["frontend", "backend"], "file order is kept");
    let frontend = &s.manifests[0];
    assert!(frontend.origin().unwrap().file.ends_with("manifests/frontend.yaml"));
    assert_eq!(frontend.origin().unwrap().line, 1);
    assert_eq!(s.manifests[1].origin().unwrap().line, 21);
    assert_eq!(frontend.namespace(), Some("default"));
    let worker1 = &s.cluster.nodes[0];
    let labels = worker1.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["disk"], "ssd");
    assert_eq!(labels["kubernetes.io/hostname"], "worker-1");

    assert_eq!(s.steps.len(), 6);
    assert_eq!(s.steps[0].line, 27);
    assert_eq!(
        s.steps[0].action,
        Action::Wait {
            pods: PodSelector::All,
            phase: "Running".into(),
            timeout: Duration::from_secs(30)
        }
    );
    assert_eq!(
        s.steps[1].name.as_deref(),
        Some("frontend and backend on different nodes")
    );
    match &s.steps[1].action {
        Action::Expect(e) => {
            assert_eq!(e.distinct_nodes, Some(2));
            let PodSelector::Labels { selector, namespace } = &e.pods else {
                panic!("selector expected")
            };
            assert_eq!(namespace, &None);
            assert_eq!(selector.to_string(), "app in (frontend,backend)");
        }
        other => panic!("{other:?}"),
    }
    match &s.steps[2].action {
        Action::Exec {
            pod,
            namespace,
            container,
            command,
            expect_exit_code,
            expect_output,
            timeout,
        } => {
            assert_eq!(pod, "frontend");
            assert_eq!(namespace, "default");
            assert_eq!(container.as_deref(), Some("web"));
            assert_eq!(command, &["wget", "-qO-", "http://backend-ip:8080"]);
            assert_eq!(*expect_exit_code, 0);
            assert_eq!(expect_output.as_deref(), Some("backend"));
            assert_eq!(*timeout, Duration::from_secs(10));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        &s.steps[3].action,
        Action::Connectivity {
            pods: PodSelector::All,
            port: None,
            expect_reachable: true,
            ..
        }
    ));
    assert_eq!(s.steps[4].say.as_deref(), Some("Now delete the backend"));
    assert_eq!(
        s.steps[4].action,
        Action::Delete {
            pods: PodSelector::Names {
                namespace: "default".into(),
                names: vec!["backend".into()]
            }
        }
    );
    assert_eq!(s.steps[5].action, Action::Sleep(Duration::from_secs(2)));
}

#[test]
fn book_kubia_manual_loads_as_a_plain_manifest() {
    let s = load(&example("kubia-manual.yaml")).unwrap().scenario;
    assert!(s.plain_manifest);
    assert_eq!(s.name, "kubia-manual");
    assert_eq!(s.cluster.nodes.len(), 2);
    let Object::Pod(pod) = &s.manifests[0] else {
        panic!("a Pod")
    };
    assert_eq!(pod.metadata.name.as_deref(), Some("kubia-manual"));
    let c = &pod.spec.as_ref().unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("luksa/kubia"));
    let port = &c.ports.as_ref().unwrap()[0];
    assert_eq!((port.container_port, port.protocol.as_deref()), (8080, Some("TCP")));
}

#[test]
fn docs_deployment_loads() {
    let s = load(&example("nginx-deployment.yaml")).unwrap().scenario;
    let Object::Deployment(d) = &s.manifests[0] else {
        panic!("a Deployment")
    };
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
    assert_eq!(d.metadata.namespace.as_deref(), Some("default"));
}

#[test]
fn multi_document_file_with_leading_separator() {
    let s = load(&example("multi-doc.yaml")).unwrap().scenario;
    let kinds: Vec<&str> = s.manifests.iter().map(Object::kind).collect();
    assert_eq!(kinds, ["Namespace", "Pod", "ReplicaSet"]);
    assert_eq!(s.manifests[1].namespace(), Some("shop"));
    assert_eq!(s.manifests[0].namespace(), None, "namespaces are cluster-scoped");
    assert_eq!(
        s.manifests[1].origin().unwrap().line,
        7,
        "lines count from the file's start"
    );
    assert_eq!(s.manifests[2].origin().unwrap().line, 21);
}

#[test]
fn json_manifest_loads() {
    let s = load(&example("pod.json")).unwrap().scenario;
    let Object::Pod(pod) = &s.manifests[0] else {
        panic!("a Pod")
    };
    let c = &pod.spec.as_ref().unwrap().containers[0];
    let req = c.resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(req["cpu"].0, "0.5", "a number is a valid quantity, as in kubectl");
    assert_eq!(pod.spec.as_ref().unwrap().restart_policy.as_deref(), Some("Never"));
}

#[test]
fn generator_form_makes_numbered_nodes() {
    let s = load(&example("packing.yaml")).unwrap().scenario;
    let names: Vec<String> = s
        .cluster
        .nodes
        .iter()
        .map(|n| n.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["node-1", "node-2", "node-3"]);
    let zone = |i: usize| s.cluster.nodes[i].metadata.labels.as_ref().unwrap()["topology.kubernetes.io/zone"].clone();
    assert_eq!((zone(0), zone(2)), ("zone-1".to_string(), "zone-3".to_string()));
    let cap = s.cluster.nodes[1].status.as_ref().unwrap().capacity.as_ref().unwrap();
    assert_eq!(
        (cap["cpu"].0.as_str(), cap["memory"].0.as_str(), cap["pods"].0.as_str()),
        ("4", "8Gi", "110")
    );
    assert_eq!(s.cluster.scheduler.scoring, "MostAllocated");
}
