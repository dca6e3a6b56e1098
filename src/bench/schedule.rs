//! `podlab bench schedule`: the scheduler's synthetic throughput benchmark (kube-scheduler
//! scheduler_perf shapes): uniform nodes and pods, optionally with node affinity, pod
//! anti-affinity or topology spread, scheduled and assumed one by one.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{
    Affinity, Container, Node, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, NodeSpec,
    NodeStatus, Pod, PodAffinityTerm, PodAntiAffinity, PodSpec, ResourceRequirements, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use anyhow::{Result, bail};
use podlab_scheduler::{Profile, Scheduler};

/// Which pods the benchmark creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Plain pods with requests only.
    Basic,
    /// Required node affinity on a zone label (`In` of 5 of 10 zones).
    NodeAffinity,
    /// Required hostname anti-affinity within each app of 100 replicas.
    PodAntiAffinity,
    /// DoNotSchedule zone spread (maxSkew 1) within each app of 100 replicas.
    TopologySpread,
}

/// Result of one benchmark run.
#[derive(Debug, Clone)]
pub struct BenchResult {
    /// Pods attempted.
    pub pods: usize,
    /// Pods placed.
    pub scheduled: usize,
    /// Wall time end to end: building the scheduler over the nodes, then schedule+assume
    /// for every pod (the Node/Pod objects are generated before the clock starts).
    pub elapsed: Duration,
    /// CPU time of the benchmark thread over the same sections as `elapsed` (from
    /// /proc/thread-self/schedstat; equals `elapsed` on an idle machine, less when other
    /// processes compete for the cores). Zero when unavailable.
    pub cpu: Duration,
    /// Peak resident memory of the process during the run (VmHWM, KiB; 0 if unknown).
    pub peak_rss_kib: u64,
}

impl BenchResult {
    /// Scheduling cost per pod in microseconds of CPU (wall time when CPU time is unknown).
    pub fn micros_per_pod(&self) -> f64 {
        let t = if self.cpu.is_zero() { self.elapsed } else { self.cpu };
        t.as_secs_f64() * 1e6 / self.pods.max(1) as f64
    }

    /// Throughput in pods per CPU second (wall-clock throughput on an idle machine).
    pub fn pods_per_cpu_second(&self) -> f64 {
        self.pods as f64 / self.cpu.as_secs_f64().max(1e-9)
    }
}

/// Peak resident set size of this process (VmHWM from /proc/self/status), in KiB.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}

/// CPU time consumed so far by the calling thread.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|ns| ns.parse().ok()))
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Resets the peak RSS counter (Linux `clear_refs` value 5); best effort.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn q(s: &str) -> Quantity {
    Quantity(s.to_string())
}

/// A worker node with 4 CPU, 32Gi, 110 pods, in zone `zone-<i % 10>`.
pub fn bench_node(i: usize) -> Node {
    let name = format!("node-{i}");
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.clone()),
        ("bench/zone".to_string(), format!("zone-{}", i % 10)),
    ]);
    let alloc = BTreeMap::from([
        ("cpu".to_string(), q("4")),
        ("memory".to_string(), q("32Gi")),
        ("pods".to_string(), q("110")),
    ]);
    Node {
        metadata: ObjectMeta {
            name: Some(name),
            labels: Some(labels),
            ..Default::default()
        },
        spec: Some(NodeSpec::default()),
        status: Some(NodeStatus {
            allocatable: Some(alloc),
            ..Default::default()
        }),
    }
}

/// Pod number `i` of `workload` (100m CPU, 500Mi memory).
pub fn bench_pod(i: usize, workload: Workload) -> Pod {
    let app = format!("app-{}", i / 100);
    let selector = LabelSelector {
        match_labels: Some(BTreeMap::from([("app".to_string(), app.clone())])),
        ..Default::default()
    };
    let mut spec = PodSpec {
        containers: vec![Container {
            name: "c".into(),
            image: Some("registry.local/app:1".into()),
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([
                    ("cpu".to_string(), q("100m")),
                    ("memory".to_string(), q("500Mi")),
                ])),
                ..Default::default()
            }),
            ..Default::default()
        }],
        ..Default::default()
    };
    match workload {
        Workload::Basic => {}
        Workload::NodeAffinity => {
            spec.affinity = Some(Affinity {
                node_affinity: Some(NodeAffinity {
                    required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                        node_selector_terms: vec![NodeSelectorTerm {
                            match_expressions: Some(vec![NodeSelectorRequirement {
                                key: "bench/zone".into(),
                                operator: "In".into(),
                                values: Some((0..5).map(|z| format!("zone-{z}")).collect()),
                            }]),
                            ..Default::default()
                        }],
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
        Workload::PodAntiAffinity => {
            spec.affinity = Some(Affinity {
                pod_anti_affinity: Some(PodAntiAffinity {
                    required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                        label_selector: Some(selector),
                        topology_key: "kubernetes.io/hostname".into(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            })
        }
        Workload::TopologySpread => {
            spec.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
                max_skew: 1,
                topology_key: "bench/zone".into(),
                when_unsatisfiable: "DoNotSchedule".into(),
                label_selector: Some(selector),
                ..Default::default()
            }])
        }
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("pod-{i}")),
            namespace: Some("default".into()),
            uid: Some(format!("uid-{i}")),
            labels: Some(BTreeMap::from([("app".to_string(), app)])),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// Schedules and assumes `pods` pods of `workload` on `nodes` bench nodes.
/// Node and Pod objects are generated outside the clock (pods in chunks, so the input
/// does not dominate peak memory); the clock covers `Scheduler::new` and every
/// schedule + assume.
pub fn bench(nodes: usize, pods: usize, workload: Workload, profile: Profile) -> BenchResult {
    const CHUNK: usize = 2000;
    let node_objs: Vec<Node> = (0..nodes).map(bench_node).collect();
    reset_peak_rss();
    let cpu0 = thread_cpu();
    let start = Instant::now();
    let mut s = Scheduler::new(node_objs, profile);
    let mut elapsed = start.elapsed();
    let mut cpu = thread_cpu().saturating_sub(cpu0);
    let mut scheduled = 0;
    let mut first = 0;
    while first < pods {
        let chunk: Vec<Pod> = (first..pods.min(first + CHUNK))
            .map(|i| bench_pod(i, workload))
            .collect();
        first += chunk.len();
        let c = thread_cpu();
        let t = Instant::now();
        for p in &chunk {
            if let Ok(n) = s.schedule(p) {
                s.assume(p, &n);
                scheduled += 1;
            }
        }
        elapsed += t.elapsed();
        cpu += thread_cpu().saturating_sub(c);
    }
    BenchResult {
        pods,
        scheduled,
        elapsed,
        cpu,
        peak_rss_kib: peak_rss_kib(),
    }
}

/// `podlab bench schedule`: runs `workload` (a name, or `all`) with `pods` pods on `nodes`
/// nodes and prints one table row per workload. Returns the exit code.
pub fn run(nodes: usize, pods: usize, workload: &str) -> Result<i32> {
    let all = [
        ("basic", Workload::Basic),
        ("node-affinity", Workload::NodeAffinity),
        ("pod-anti-affinity", Workload::PodAntiAffinity),
        ("topology-spread", Workload::TopologySpread),
    ];
    let chosen: Vec<_> = all
        .iter()
        .filter(|(n, _)| workload == "all" || *n == workload)
        .collect();
    if chosen.is_empty() {
        bail!("unknown workload {workload:?} (basic, node-affinity, pod-anti-affinity, topology-spread, all)");
    }
    println!("podlab bench schedule: {pods} pods onto {nodes} nodes (4 CPU, 32Gi, 110 pods each; pods 100m/500Mi)\n");
    let mut rows = Vec::new();
    for (name, w) in chosen {
        let r = bench(nodes, pods, *w, Default::default());
        let secs = r.elapsed.as_secs_f64().max(1e-9);
        rows.push(vec![
            name.to_string(),
            format!("{}/{}", r.scheduled, r.pods),
            format!("{:.2} s", secs),
            format!("{:.0}", r.scheduled as f64 / secs),
            format!("{:.2} s", r.cpu.as_secs_f64()),
            format!("{:.0}", r.pods_per_cpu_second()),
            format!("{:.1} µs", r.micros_per_pod()),
            format!("{} MiB", r.peak_rss_kib / 1024),
        ]);
    }
    print!(
        "{}",
        crate::printers::table(
            &[
                "WORKLOAD",
                "SCHEDULED",
                "ELAPSED",
                "PODS/S",
                "CPU",
                "PODS/CPU-S",
                "PER POD",
                "PEAK RSS"
            ],
            &rows
        )
    );
    println!("\nELAPSED is wall time (includes building the cluster snapshot); CPU is this process's CPU time,");
    println!("the fairer figure on a busy 2-core machine. Pods are generated outside the clock.");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use podlab_scheduler::reference::ReferenceScheduler;

    /// The benchmark workloads place exactly as the scheduler's reference oracle does.
    #[test]
    fn bench_workloads_identical_to_reference() {
        for w in [
            Workload::Basic,
            Workload::NodeAffinity,
            Workload::PodAntiAffinity,
            Workload::TopologySpread,
        ] {
            let nodes: Vec<Node> = (0..120).map(bench_node).collect();
            let mut fast = Scheduler::new(nodes.clone(), Profile::default());
            let mut slow = ReferenceScheduler::new(nodes, Profile::default());
            for i in 0..300 {
                let p = bench_pod(i, w);
                let a = fast.schedule(&p);
                assert_eq!(a, slow.schedule(&p), "{w:?} pod {i}");
                let n = a.expect("bench pods fit");
                fast.assume(&p, &n);
                slow.assume(&p, &n);
            }
        }
    }
}
