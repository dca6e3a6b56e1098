//! Property tests: no node is over-committed, every placed pod passes every filter
//! (checked through `explain` at placement time), same seed => same placements.

mod common;

use common::*;
use podlab_scheduler::{Profile, Scheduler};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
struct PodSpecGen {
    cpu_m: u32,
    mem_mi: u32,
    selector: Option<u8>,
    anti: bool,
    spread: bool,
    tolerate: bool,
}

fn pod_gen() -> impl Strategy<Value = PodSpecGen> {
    (
        1u32..2000,
        1u32..4000,
        prop::option::of(0u8..3),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(cpu_m, mem_mi, selector, anti, spread, tolerate)| PodSpecGen {
            cpu_m,
            mem_mi,
            selector,
            anti,
            spread,
            tolerate,
        })
}

fn build(i: usize, g: &PodSpecGen) -> k8s_openapi::api::core::v1::Pod {
    let app = format!("a{}", i % 4);
    let mut extra = json!({});
    if let Some(z) = g.selector {
        extra["nodeSelector"] = json!({"zone": format!("z{z}")});
    }
    if g.anti {
        extra["affinity"] = json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"app": app}}, "topologyKey": "kubernetes.io/hostname"}]}});
    }
    if g.spread {
        extra["topologySpreadConstraints"] = json!([{"maxSkew": 1, "topologyKey": "zone",
            "whenUnsatisfiable": "DoNotSchedule", "labelSelector": {"matchLabels": {"app": app}}}]);
    }
    if g.tolerate {
        extra["tolerations"] = json!([{"key": "dedicated", "operator": "Exists"}]);
    }
    pod_with(
        &format!("p{i}"),
        &format!("{}m", g.cpu_m),
        &format!("{}Mi", g.mem_mi),
        json!({"app": app}),
        extra,
    )
}

fn cluster(n: usize) -> Vec<k8s_openapi::api::core::v1::Node> {
    (0..n)
        .map(|i| {
            let spec = if i % 4 == 3 {
                json!({"taints": [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}]})
            } else {
                json!({})
            };
            node_with(
                &format!("n{i}"),
                "4",
                "8Gi",
                "20",
                json!({"zone": format!("z{}", i % 3)}),
                spec,
            )
        })
        .collect()
}

fn run(seed: u64, nodes: usize, pods: &[PodSpecGen]) -> (Scheduler, Vec<Option<String>>) {
    let mut s = Scheduler::new(
        cluster(nodes),
        Profile {
            seed,
            ..Profile::default()
        },
    );
    let mut out = Vec::new();
    for (i, g) in pods.iter().enumerate() {
        let p = build(i, g);
        match s.schedule(&p) {
            Ok(n) => {
                // Every filter passes on the chosen node.
                let e = s.explain(&p);
                let v = e.nodes.iter().find(|x| x.node == n).expect("node in explanation");
                assert!(v.failure.is_none(), "placed on a node failing {:?}", v.failure);
                s.assume(&p, &n);
                out.push(Some(n));
            }
            Err(err) => {
                // Unschedulable means explain agrees that no node passes.
                let e = s.explain(&p);
                assert!(e.nodes.iter().all(|x| x.failure.is_some()), "{}", err.message);
                out.push(None);
            }
        }
    }
    (s, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn never_overcommitted_and_filters_hold(seed in 0u64..1000, nodes in 1usize..12,
                                            pods in prop::collection::vec(pod_gen(), 1..60)) {
        let (s, _) = run(seed, nodes, &pods);
        for i in 0..nodes {
            let (count, cpu, mem) = s.node_usage(&format!("n{i}")).expect("node");
            prop_assert!(count <= 20);
            prop_assert!(cpu <= 4000);
            prop_assert!(mem <= 8 << 30);
        }
    }

    #[test]
    fn same_seed_same_placements(seed in 0u64..1000, nodes in 1usize..12,
                                 pods in prop::collection::vec(pod_gen(), 1..40)) {
        let (_, a) = run(seed, nodes, &pods);
        let (_, b) = run(seed, nodes, &pods);
        prop_assert_eq!(a, b);
    }
}
