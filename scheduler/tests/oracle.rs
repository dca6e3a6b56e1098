//! The fast scheduler against the straightforward reference: for the same seed and the
//! same mixed workload (requests, nodeSelector/affinity, taints, pod (anti-)affinity,
//! spread, host ports, unschedulable pods, deletions, cordons) both must choose the same
//! node for every pod and report the same FailedScheduling message.

mod common;

use common::*;
use k8s_openapi::api::core::v1::{Node, Pod};
use podlab_scheduler::reference::ReferenceScheduler;
use podlab_scheduler::{Profile, Scheduler, ScoringStrategy};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::json;

fn cluster(n: usize, rng: &mut StdRng) -> Vec<Node> {
    (0..n)
        .map(|i| {
            let mut taints = Vec::new();
            match rng.random_range(0..10) {
                0 => taints.push(json!({"key": "dedicated", "value": "db", "effect": "NoSchedule"})),
                1 => taints.push(json!({"key": "spot", "value": "", "effect": "PreferNoSchedule"})),
                2 => taints.push(json!({"key": "maint", "effect": "NoExecute"})),
                _ => {}
            }
            let mut spec = json!({"taints": taints});
            if rng.random_range(0..25) == 0 {
                spec["unschedulable"] = json!(true);
            }
            let mut labels = json!({"disk": if i % 3 == 0 { "ssd" } else { "hdd" }, "cores": format!("{}", 2 + i % 7)});
            if rng.random_range(0..12) != 0 {
                labels["topology.kubernetes.io/zone"] = json!(format!("z{}", i % 4));
            }
            let (cpu, mem) = [("2", "4Gi"), ("4", "8Gi"), ("8", "16Gi")][rng.random_range(0..3)];
            let mut node = node_with(&format!("n{i}"), cpu, mem, "12", labels, spec);
            if rng.random_range(0..3) == 0 {
                node.status.get_or_insert_with(Default::default).images = Some(vec![
                    serde_json::from_value(json!({"names": ["app:latest"], "sizeBytes": 300_000_000})).unwrap(),
                ]);
            }
            node
        })
        .collect()
}

fn pick<'a, T>(rng: &mut StdRng, v: &'a [T]) -> &'a T {
    &v[rng.random_range(0..v.len())]
}

fn workload_pod(i: usize, rng: &mut StdRng) -> Pod {
    let app = format!("app{}", rng.random_range(0..5));
    let cpu = *pick(rng, &["0", "100m", "250m", "500m", "1", "1500m", "9"]);
    let mem = *pick(rng, &["0", "128Mi", "512Mi", "1Gi", "3Gi"]);
    let mut extra = json!({});
    let zone = "topology.kubernetes.io/zone";
    let sel = json!({"matchLabels": {"app": app}});
    if rng.random_range(0..6) == 0 {
        extra["nodeSelector"] = json!({"disk": "ssd"});
    }
    let mut affinity = json!({});
    if rng.random_range(0..5) == 0 {
        affinity["nodeAffinity"] = json!({
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["3"]}]},
                {"matchExpressions": [{"key": zone, "operator": "In", "values": ["z1"]}]}]},
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 40, "preference": {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}}]});
    }
    match rng.random_range(0..8) {
        0 => {
            affinity["podAntiAffinity"] = json!({"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": sel, "topologyKey": "kubernetes.io/hostname"}]})
        }
        1 => {
            affinity["podAntiAffinity"] = json!({"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 60, "podAffinityTerm": {"labelSelector": sel, "topologyKey": zone}}]})
        }
        2 => {
            affinity["podAffinity"] = json!({"requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": sel, "topologyKey": zone}]})
        }
        3 => {
            affinity["podAffinity"] = json!({"preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 30, "podAffinityTerm": {"labelSelector": sel, "topologyKey": "kubernetes.io/hostname"}}]})
        }
        _ => {}
    }
    if affinity != json!({}) {
        extra["affinity"] = affinity;
    }
    match rng.random_range(0..6) {
        0 => {
            extra["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": zone,
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": sel}])
        }
        1 => {
            extra["topologySpreadConstraints"] = json!([{"maxSkew": 2, "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": sel},
                {"maxSkew": 1, "topologyKey": zone, "whenUnsatisfiable": "ScheduleAnyway", "labelSelector": sel}])
        }
        2 => {
            extra["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": zone, "minDomains": 5,
                "whenUnsatisfiable": "DoNotSchedule", "labelSelector": sel, "nodeTaintsPolicy": "Honor"}])
        }
        _ => {}
    }
    match rng.random_range(0..5) {
        0 => extra["tolerations"] = json!([{"key": "dedicated", "operator": "Exists"}]),
        1 => extra["tolerations"] = json!([{"operator": "Exists"}]),
        _ => {}
    }
    if rng.random_range(0..15) == 0 {
        extra["containers"] = json!([{"name": "c", "image": "app", "ports": [{"containerPort": 80, "hostPort": 8080}],
            "resources": {"requests": {"cpu": cpu, "memory": mem}}}]);
    }
    pod_with(&format!("p{i}"), cpu, mem, json!({"app": app}), extra)
}

/// Runs `pods` pods through both schedulers; returns the placements (checked equal).
fn compare(seed: u64, nodes: usize, pods: usize, profile: Profile) -> Vec<Result<String, String>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut nodes = cluster(nodes, &mut rng);
    let mut fast = Scheduler::new(nodes.clone(), profile.clone());
    let mut slow = ReferenceScheduler::new(nodes.clone(), profile);
    let mut placed: Vec<Pod> = Vec::new();
    let mut out = Vec::new();
    for i in 0..pods {
        let p = workload_pod(i, &mut rng);
        let a = fast.schedule(&p);
        let b = slow.schedule(&p);
        assert_eq!(a, b, "pod {i} (seed {seed})");
        match a {
            Ok(n) => {
                if nodes.len() < 100 {
                    // Every node is scored: the explanation's best nodes include the choice.
                    let e = fast.explain(&p);
                    assert!(e.best.contains(&n), "pod {i}: {n} not among {:?}", e.best);
                }
                fast.assume(&p, &n);
                slow.assume(&p, &n);
                out.push(Ok(n));
                placed.push(p);
            }
            Err(e) => out.push(Err(e.message)),
        }
        if !placed.is_empty() && rng.random_range(0..8) == 0 {
            let gone = placed.swap_remove(rng.random_range(0..placed.len()));
            fast.forget(&gone);
            slow.forget(&gone);
        }
        if rng.random_range(0..40) == 0 {
            // Cordon or uncordon (re-adds the node if it was removed).
            let k = rng.random_range(0..nodes.len());
            let cordon = nodes[k].spec.as_ref().and_then(|s| s.unschedulable) != Some(true);
            nodes[k].spec.get_or_insert_with(Default::default).unschedulable = Some(cordon);
            fast.set_node(nodes[k].clone());
            slow.set_node(nodes[k].clone());
        }
        if rng.random_range(0..50) == 0 {
            // Move a node to another zone: topology domains change under placed pods.
            let k = rng.random_range(0..nodes.len());
            let labels = nodes[k].metadata.labels.get_or_insert_with(Default::default);
            labels.insert(
                "topology.kubernetes.io/zone".into(),
                format!("z{}", rng.random_range(0..5)),
            );
            fast.set_node(nodes[k].clone());
            slow.set_node(nodes[k].clone());
        }
        if rng.random_range(0..70) == 0 {
            // A node goes away; its pods stay known and come back with it.
            let k = rng.random_range(0..nodes.len());
            let name = nodes[k].metadata.name.clone().unwrap_or_default();
            fast.remove_node(&name);
            slow.remove_node(&name);
        }
    }
    out
}

#[test]
fn identical_to_reference_small_clusters() {
    for seed in 0..6 {
        let out = compare(
            seed,
            3 + seed as usize * 2,
            120,
            Profile {
                seed,
                ..Profile::default()
            },
        );
        assert!(
            out.iter().any(|r| r.is_ok()) && out.iter().any(|r| r.is_err()),
            "{out:?}"
        );
    }
}

#[test]
fn identical_to_reference_with_percentage_of_nodes_to_score() {
    // >= 100 nodes: only part of the nodes is filtered/scored, from a rotating start index.
    let out = compare(
        11,
        160,
        260,
        Profile {
            seed: 3,
            ..Profile::default()
        },
    );
    assert!(out.iter().filter(|r| r.is_ok()).count() > 150);
    compare(
        12,
        130,
        200,
        Profile {
            seed: 4,
            scoring: ScoringStrategy::MostAllocated,
            percentage_of_nodes_to_score: Some(30),
            ..Profile::default()
        },
    );
}

#[test]
fn identical_messages_when_nothing_fits() {
    let mut rng = StdRng::seed_from_u64(5);
    let nodes = cluster(120, &mut rng);
    let mut fast = Scheduler::new(nodes.clone(), Profile::default());
    let mut slow = ReferenceScheduler::new(nodes, Profile::default());
    let huge = pod_with(
        "huge",
        "9",
        "3Gi",
        json!({"app": "x"}),
        json!({"nodeSelector": {"disk": "ssd"}}),
    );
    let a = fast.schedule(&huge).unwrap_err();
    assert_eq!(Err::<String, _>(a.clone()), slow.schedule(&huge));
    assert!(a.message.starts_with("0/120 nodes are available: "), "{}", a.message);
    assert!(a.message.contains("Insufficient cpu"), "{}", a.message);
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    nodes: usize,
    pods: usize,
    most: bool,
    pct: Option<u32>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<u64>(),
        1usize..40,
        1usize..90,
        any::<bool>(),
        prop::option::of(0u32..100),
    )
        .prop_map(|(seed, nodes, pods, most, pct)| Case {
            seed,
            nodes,
            pods,
            most,
            pct,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    #[test]
    fn fast_path_equals_reference(c in case()) {
        let profile = Profile {
            seed: c.seed,
            scoring: if c.most { ScoringStrategy::MostAllocated } else { ScoringStrategy::LeastAllocated },
            percentage_of_nodes_to_score: c.pct,
            ..Profile::default()
        };
        compare(c.seed, c.nodes, c.pods, profile);
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10))]

    #[test]
    fn fast_path_equals_reference_large(seed in any::<u64>(), nodes in 100usize..180) {
        compare(seed, nodes, 150, Profile { seed, ..Profile::default() });
    }
}
