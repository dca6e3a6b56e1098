//! Throughput benchmark: `cargo run --release -p podlab-scheduler --example bench [basic_pods] [Workload]`.
//! Prints pods/s, elapsed, peak memory per run and the cost per pod at 5000 vs 500 nodes.

use podlab_scheduler::bench::{BenchResult, Workload, bench};
use podlab_scheduler::{Profile, num_feasible_nodes_to_find};

fn main() {
    let basic_pods: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(150_000);
    let only = std::env::args().nth(2);
    let workloads = [
        (Workload::Basic, basic_pods, basic_pods / 10),
        (Workload::NodeAffinity, 20_000, 10_000),
        (Workload::PodAntiAffinity, 20_000, 10_000),
        (Workload::TopologySpread, 20_000, 10_000),
    ];
    println!(
        "| workload | nodes | pods | scheduled | elapsed (s) | pods/s | CPU (s) | pods/CPU-s | CPU µs/pod | peak RSS (MiB) |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    let mut ratios = Vec::new();
    for (w, big_pods, small_pods) in workloads {
        if only.as_ref().is_some_and(|o| *o != format!("{w:?}")) {
            continue;
        }
        let big = bench(5000, big_pods, w, Profile::default());
        row(&big);
        let small = bench(500, small_pods, w, Profile::default());
        row(&small);
        ratios.push((w, big.micros_per_pod() / small.micros_per_pod()));
    }
    // kube-scheduler evaluates numFeasibleNodesToFind nodes per pod: 230 of 500, 500 of 5000.
    let visited = num_feasible_nodes_to_find(None, 5000) as f64 / num_feasible_nodes_to_find(None, 500) as f64;
    println!();
    for (w, r) in ratios {
        println!(
            "{:<16} cost per pod 5000 vs 500 nodes: {r:.2}x (nodes evaluated per pod {visited:.2}x; per evaluated node {:.2}x)",
            format!("{w:?}"),
            r / visited
        );
    }
}

fn row(r: &BenchResult) {
    println!(
        "| {:?} | {} | {} | {} | {:.3} | {:.0} | {:.3} | {:.0} | {:.1} | {:.0} |",
        r.workload,
        r.nodes,
        r.pods,
        r.scheduled,
        r.elapsed.as_secs_f64(),
        r.pods_per_second(),
        r.cpu.as_secs_f64(),
        r.pods_per_cpu_second(),
        r.micros_per_pod(),
        r.peak_rss_kib as f64 / 1024.0
    );
}
