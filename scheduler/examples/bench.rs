//! Throughput benchmark: `cargo run --release -p podlab-scheduler --example bench [pods]`.

use podlab_scheduler::Profile;
use podlab_scheduler::bench::{Workload, bench};

fn main() {
    let basic_pods: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(150_000);
    let runs = [
        (5000, basic_pods, Workload::Basic),
        (500, 15_000, Workload::Basic),
        (5000, 20_000, Workload::NodeAffinity),
        (500, 10_000, Workload::NodeAffinity),
        (5000, 20_000, Workload::PodAntiAffinity),
        (500, 10_000, Workload::PodAntiAffinity),
        (5000, 20_000, Workload::TopologySpread),
        (500, 10_000, Workload::TopologySpread),
    ];
    let only = std::env::args().nth(2);
    for (nodes, pods, w) in runs {
        if only.as_ref().is_some_and(|o| *o != format!("{w:?}")) {
            continue;
        }
        let r = bench(nodes, pods, w, Profile::default());
        println!(
            "{:<16} nodes {:>5} pods {:>7} scheduled {:>7} elapsed {:>8.3}s  {:>9.0} pods/s  {:>7.1} us/pod",
            format!("{:?}", r.workload),
            r.nodes,
            r.pods,
            r.scheduled,
            r.elapsed.as_secs_f64(),
            r.pods_per_second(),
            r.elapsed.as_secs_f64() * 1e6 / r.pods as f64
        );
    }
}
