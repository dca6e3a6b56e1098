//! Behaviour a user sees: placements and kube-scheduler's messages.

mod common;

use common::*;
use podlab_scheduler::{Profile, Scheduler, ScoringStrategy};
use serde_json::json;

fn place(s: &mut Scheduler, p: &k8s_openapi::api::core::v1::Pod) -> String {
    let n = s.schedule(p).expect("schedulable");
    s.assume(p, &n);
    n
}

#[test]
fn insufficient_cpu_message_matches_kube_scheduler() {
    let mut s = Scheduler::new(
        vec![node("n1", "1", "4Gi", "110"), node("n2", "1", "4Gi", "110")],
        Profile::default(),
    );
    let err = s.schedule(&pod("big", "1500m", "1Gi")).unwrap_err();
    // 1500m > 1 CPU allocatable: preemption cannot help (1.34 marks it unresolvable).
    assert_eq!(
        err.message,
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
    );
    assert_eq!(err.reasons, vec![("Insufficient cpu".to_string(), 2)]);
    // Fill the nodes, then a pod that would fit an empty node gets "No preemption victims".
    place(&mut s, &pod("a", "800m", "1Gi"));
    place(&mut s, &pod("b", "800m", "1Gi"));
    let err = s.schedule(&pod("c", "500m", "1Gi")).unwrap_err();
    assert_eq!(
        err.message,
        "0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.."
    );
}

#[test]
fn mixed_reasons_are_counted_per_node_and_sorted() {
    let mut s = Scheduler::new(
        vec![
            node_with("n1", "1", "4Gi", "110", json!({"disk": "ssd"}), json!({})),
            node("n2", "4", "4Gi", "110"),
            node("n3", "4", "4Gi", "110"),
        ],
        Profile {
            preemption_message: false,
            ..Profile::default()
        },
    );
    let p = pod_with("p", "2", "1Gi", json!({}), json!({"nodeSelector": {"disk": "ssd"}}));
    let err = s.schedule(&p).unwrap_err();
    assert_eq!(
        err.message,
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."
    );
}

#[test]
fn no_nodes() {
    let mut s = Scheduler::new(vec![], Profile::default());
    assert_eq!(
        s.schedule(&pod("p", "1", "1Gi")).unwrap_err().message,
        "no nodes available to schedule pods"
    );
}

#[test]
fn least_allocated_spreads_and_most_allocated_packs() {
    let nodes = || vec![node("n1", "4", "8Gi", "110"), node("n2", "4", "8Gi", "110")];
    let mut s = Scheduler::new(nodes(), Profile::default());
    let placed: Vec<String> = (0..4)
        .map(|i| place(&mut s, &pod(&format!("p{i}"), "500m", "1Gi")))
        .collect();
    assert_eq!(placed.iter().filter(|n| *n == "n1").count(), 2);
    let mut s = Scheduler::new(
        nodes(),
        Profile {
            scoring: ScoringStrategy::MostAllocated,
            ..Profile::default()
        },
    );
    let first = place(&mut s, &pod("p0", "500m", "1Gi"));
    for i in 1..4 {
        assert_eq!(place(&mut s, &pod(&format!("p{i}"), "500m", "1Gi")), first);
    }
}

#[test]
fn too_many_pods_and_extended_resources() {
    let mut s = Scheduler::new(vec![node("n1", "4", "8Gi", "1")], Profile::default());
    place(&mut s, &pod("a", "100m", "100Mi"));
    let err = s.schedule(&pod("b", "100m", "100Mi")).unwrap_err();
    assert!(
        err.message.starts_with("0/1 nodes are available: 1 Too many pods."),
        "{}",
        err.message
    );

    let gpu_node: k8s_openapi::api::core::v1::Node = serde_json::from_value(json!({
        "metadata": {"name": "g1"},
        "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "nvidia.com/gpu": "1"}}
    }))
    .unwrap();
    let mut s = Scheduler::new(vec![gpu_node, node("n2", "4", "8Gi", "110")], Profile::default());
    let gpu_pod = |name: &str| {
        serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(json!({
            "metadata": {"name": name, "uid": name},
            "spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}
        }))
        .unwrap()
    };
    assert_eq!(place(&mut s, &gpu_pod("t1")), "g1");
    let err = s.schedule(&gpu_pod("t2")).unwrap_err();
    assert!(
        err.message
            .starts_with("0/2 nodes are available: 2 Insufficient nvidia.com/gpu."),
        "{}",
        err.message
    );
}

#[test]
fn taints_unschedulable_and_node_name() {
    let tainted = node_with(
        "n1",
        "4",
        "8Gi",
        "110",
        json!({}),
        json!({"taints": [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]}),
    );
    let cordoned = node_with("n2", "4", "8Gi", "110", json!({}), json!({"unschedulable": true}));
    let mut s = Scheduler::new(vec![tainted, cordoned], Profile::default());
    let err = s.schedule(&pod("p", "100m", "100Mi")).unwrap_err();
    assert_eq!(
        err.message,
        "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) were unschedulable. \
         preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.."
    );
    let tol = pod_with(
        "t",
        "100m",
        "100Mi",
        json!({}),
        json!({"tolerations": [{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]}),
    );
    assert_eq!(s.schedule(&tol).unwrap(), "n1");
    let by_name = pod_with(
        "x",
        "100m",
        "100Mi",
        json!({}),
        json!({"nodeName": "n1",
        "tolerations": [{"operator": "Exists"}]}),
    );
    assert_eq!(s.schedule(&by_name).unwrap(), "n1");
    let cordon_ok = pod_with(
        "y",
        "100m",
        "100Mi",
        json!({}),
        json!({"nodeName": "n2",
        "tolerations": [{"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"}]}),
    );
    assert_eq!(s.schedule(&cordon_ok).unwrap(), "n2");
}

#[test]
fn prefer_no_schedule_taint_is_avoided() {
    let soft = node_with(
        "n1",
        "4",
        "8Gi",
        "110",
        json!({}),
        json!({"taints": [{"key": "k", "value": "v", "effect": "PreferNoSchedule"}]}),
    );
    let mut s = Scheduler::new(vec![soft, node("n2", "4", "8Gi", "110")], Profile::default());
    for i in 0..5 {
        assert_eq!(place(&mut s, &pod(&format!("p{i}"), "100m", "100Mi")), "n2");
    }
}

#[test]
fn node_affinity_required_and_preferred() {
    let nodes = vec![
        node_with("a", "4", "8Gi", "110", json!({"zone": "z1", "cores": "8"}), json!({})),
        node_with("b", "4", "8Gi", "110", json!({"zone": "z2", "cores": "16"}), json!({})),
        node_with("c", "4", "8Gi", "110", json!({"zone": "z3", "cores": "2"}), json!({})),
    ];
    let mut s = Scheduler::new(nodes, Profile::default());
    let p = pod_with(
        "p",
        "100m",
        "100Mi",
        json!({}),
        json!({"affinity": {"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["4"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 50, "preference": {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1"]}]}}]
        }}}),
    );
    for i in 0..3 {
        let mut q = p.clone();
        q.metadata.uid = Some(format!("u{i}"));
        assert_eq!(place(&mut s, &q), "a");
    }
    let by_field = pod_with(
        "f",
        "100m",
        "100Mi",
        json!({}),
        json!({"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["c"]}]}]}}}}),
    );
    assert_eq!(s.schedule(&by_field).unwrap(), "c");
}

#[test]
fn host_ports_conflict() {
    let mut s = Scheduler::new(vec![node("n1", "4", "8Gi", "110")], Profile::default());
    let hp = |name: &str| {
        serde_json::from_value::<k8s_openapi::api::core::v1::Pod>(json!({
            "metadata": {"name": name, "uid": name},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80, "hostPort": 8080}]}]}
        }))
        .unwrap()
    };
    place(&mut s, &hp("a"));
    let err = s.schedule(&hp("b")).unwrap_err();
    assert!(
        err.message
            .starts_with("0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod ports.")
    );
}

#[test]
fn assume_is_idempotent_and_forget_frees() {
    let mut s = Scheduler::new(vec![node("n1", "1", "8Gi", "110")], Profile::default());
    let p = pod("a", "600m", "1Gi");
    s.assume(&p, "n1");
    s.assume(&p, "n1");
    assert_eq!(s.node_usage("n1"), Some((1, 600, 1 << 30)));
    assert!(s.schedule(&pod("b", "600m", "1Gi")).is_err());
    s.forget(&p);
    assert_eq!(s.node_usage("n1"), Some((0, 0, 0)));
    assert_eq!(s.schedule(&pod("b", "600m", "1Gi")).unwrap(), "n1");
}

#[test]
fn same_seed_same_placements() {
    let run = |seed: u64| {
        let nodes = (0..20).map(|i| node(&format!("n{i}"), "4", "8Gi", "110")).collect();
        let mut s = Scheduler::new(
            nodes,
            Profile {
                seed,
                ..Profile::default()
            },
        );
        (0..100)
            .map(|i| place(&mut s, &pod(&format!("p{i}"), "100m", "100Mi")))
            .collect::<Vec<_>>()
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8));
}

#[test]
fn pod_anti_affinity_one_per_node() {
    let nodes = (0..3).map(|i| node(&format!("n{i}"), "4", "8Gi", "110")).collect();
    let mut s = Scheduler::new(nodes, Profile::default());
    let p = |name: &str| {
        pod_with(
            name,
            "100m",
            "100Mi",
            json!({"app": "web"}),
            json!({"affinity": {"podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "web"}},
                "topologyKey": "kubernetes.io/hostname"}]}}}),
        )
    };
    let mut used: Vec<String> = (0..3).map(|i| place(&mut s, &p(&format!("w{i}")))).collect();
    used.sort();
    assert_eq!(used, vec!["n0", "n1", "n2"]);
    let err = s.schedule(&p("w3")).unwrap_err();
    assert_eq!(
        err.message,
        "0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules. \
         preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.."
    );
    // A plain pod labeled app=web is blocked by the existing pods' anti-affinity.
    let plain = pod_with("x", "100m", "100Mi", json!({"app": "web"}), json!({}));
    assert!(
        s.schedule(&plain)
            .unwrap_err()
            .message
            .starts_with("0/3 nodes are available: 3 node(s) didn't satisfy existing pods anti-affinity rules.")
    );
}

#[test]
fn pod_affinity_follows_and_first_pod_may_self_match() {
    let nodes = vec![
        node_with("a", "4", "8Gi", "110", json!({"zone": "z1"}), json!({})),
        node_with("b", "4", "8Gi", "110", json!({"zone": "z2"}), json!({})),
    ];
    let mut s = Scheduler::new(nodes, Profile::default());
    let aff = |name: &str| {
        pod_with(
            name,
            "100m",
            "100Mi",
            json!({"app": "cache"}),
            json!({"affinity": {"podAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [{
                "labelSelector": {"matchLabels": {"app": "cache"}}, "topologyKey": "zone"}]}}}),
        )
    };
    let first = place(&mut s, &aff("c0"));
    for i in 1..5 {
        assert_eq!(place(&mut s, &aff(&format!("c{i}"))), first);
    }
    let other = pod_with(
        "o",
        "100m",
        "100Mi",
        json!({}),
        json!({"affinity": {"podAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": [{
            "labelSelector": {"matchLabels": {"app": "nothing"}}, "topologyKey": "zone"}]}}}),
    );
    assert!(
        s.schedule(&other)
            .unwrap_err()
            .message
            .starts_with("0/2 nodes are available: 2 node(s) didn't match pod affinity rules.")
    );
}

#[test]
fn topology_spread_do_not_schedule() {
    let nodes = vec![
        node_with("a1", "8", "16Gi", "110", json!({"zone": "a"}), json!({})),
        node_with("a2", "8", "16Gi", "110", json!({"zone": "a"}), json!({})),
        node_with("b1", "1", "16Gi", "110", json!({"zone": "b"}), json!({})),
    ];
    let mut s = Scheduler::new(nodes, Profile::default());
    let p = |name: &str| {
        pod_with(
            name,
            "400m",
            "100Mi",
            json!({"app": "s"}),
            json!({"topologySpreadConstraints": [{
            "maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": {"app": "s"}}}]}),
        )
    };
    let mut zones = Vec::new();
    for i in 0..4 {
        zones.push(place(&mut s, &p(&format!("s{i}"))));
    }
    let in_b = zones.iter().filter(|z| *z == "b1").count();
    assert_eq!(in_b, 2, "{zones:?}");
    // b1 is now full (800m of 1 CPU): zone a has 2, b has 2; a third in zone a gives skew 1: ok.
    assert!(s.schedule(&p("s4")).unwrap().starts_with('a'));
    s.assume(&p("s4"), "a1");
    // a=3, b=2: another in a would make skew 2, b is out of cpu.
    let err = s.schedule(&p("s5")).unwrap_err();
    assert!(
        err.message.starts_with(
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match pod topology spread constraints."
        ),
        "{}",
        err.message
    );
}

#[test]
fn explain_lists_verdicts_and_scores() {
    let nodes = vec![
        node("big", "8", "16Gi", "110"),
        node_with("sel", "4", "8Gi", "110", json!({}), json!({"unschedulable": true})),
    ];
    let s = Scheduler::new(nodes, Profile::default());
    let e = s.explain(&pod("p", "1", "1Gi"));
    assert_eq!(e.pod, "default/p");
    assert_eq!(e.best, vec!["big".to_string()]);
    let big = e.nodes.iter().find(|n| n.node == "big").unwrap();
    assert!(big.failure.is_none());
    let fit = big.scores.iter().find(|s| s.plugin == "NodeResourcesFit").unwrap();
    // cpu (8000-1000)*100/8000 = 87, memory (16Gi-1Gi)*100/16Gi = 93 -> 90
    assert_eq!(fit.normalized, 90);
    let taint = big.scores.iter().find(|s| s.plugin == "TaintToleration").unwrap();
    assert_eq!((taint.normalized, taint.weight, taint.weighted), (100, 3, 300));
    let sel = e.nodes.iter().find(|n| n.node == "sel").unwrap();
    assert_eq!(sel.failure.as_ref().unwrap().plugin, "NodeUnschedulable");
    let text = e.to_string();
    assert!(
        text.contains("filtered by NodeUnschedulable: node(s) were unschedulable"),
        "{text}"
    );
}
