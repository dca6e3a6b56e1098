//! `podlab bench bringup|schedule|peers`: benchmarks (not tests) that print podlab's figures
//! beside a baseline measured in the same run.

use super::enter_private_netns;
use crate::bench::sizes::Size;
use anyhow::Result;
use clap::Subcommand;

/// `podlab bench ...`.
#[derive(Subcommand)]
pub enum Kind {
    /// Bring up N pods on M nodes, beside a bare rtnetlink loop doing the same kernel work.
    Bringup {
        /// Nodes of the one size (default 4; not with --sizes).
        #[arg(long)]
        nodes: Option<usize>,
        /// Pods of the one size (default 200; not with --sizes).
        #[arg(long)]
        pods: Option<usize>,
        /// Several sizes in one run, as pod counts (nodes = pods / 100, at least 1), e.g.
        /// `--sizes 100,1000,5000,10000`.
        #[arg(long, value_delimiter = ',', conflicts_with_all = ["nodes", "pods"])]
        sizes: Vec<usize>,
        /// Print the final table as Markdown.
        #[arg(long)]
        markdown: bool,
    },
    /// `kubectl get pods` with many pods and open watches, beside podlab's own socket.
    Api {
        /// Pods in the cluster.
        #[arg(long, default_value_t = 1000)]
        pods: usize,
        /// Watch clients held open.
        #[arg(long, default_value_t = 100)]
        watchers: usize,
    },
    /// Schedule many pods onto many nodes (the scheduler alone, scheduler_perf's workloads).
    Schedule {
        #[arg(long, default_value_t = 5000)]
        nodes: usize,
        #[arg(long, default_value_t = 150_000)]
        pods: usize,
        /// basic, node-affinity, pod-anti-affinity, topology-spread or all.
        #[arg(long, default_value = "all")]
        workload: String,
    },
    /// podlab beside the CNI bridge plugin, Mininet, the bare rtnetlink loop and a bare veth pair.
    Peers {
        /// Small counts and short runs (a smoke test), not the sizes.
        #[arg(long)]
        quick: bool,
        /// Skip the CNI plugins and Mininet (podlab and the kernel baselines only).
        #[arg(long)]
        podlab_only: bool,
        /// Print the table as Markdown.
        #[arg(long)]
        markdown: bool,
        /// Run only these parts (repeatable): setup, bringup, traffic. Default: all of them.
        #[arg(long, value_enum)]
        only: Vec<crate::bench::peers::Part>,
    },
}

/// Runs the chosen benchmark.
pub fn run(kind: Kind) -> Result<i32> {
    match kind {
        Kind::Bringup {
            nodes,
            pods,
            sizes,
            markdown,
        } => {
            let list = if sizes.is_empty() {
                vec![Size {
                    nodes: nodes.unwrap_or(4),
                    pods: pods.unwrap_or(200),
                }]
            } else {
                sizes.into_iter().map(Size::of_pods).collect()
            };
            bringup(&list, markdown).map(|()| 0)
        }
        Kind::Api { pods, watchers } => crate::bench::api::run(pods, watchers),
        Kind::Schedule { nodes, pods, workload } => bench_schedule(nodes, pods, &workload),
        Kind::Peers {
            quick,
            podlab_only,
            markdown,
            only,
        } => crate::bench::peers::main(crate::bench::peers::PeersOptions {
            quick,
            podlab_only,
            markdown,
            only,
        }),
    }
}

fn bringup(sizes: &[Size], markdown: bool) -> Result<()> {
    enter_private_netns()?;
    podlab_control_plane::rundir::clean_stale();
    crate::bench::bringup::bringup(sizes, markdown)
}

fn bench_schedule(nodes: usize, pods: usize, workload: &str) -> Result<i32> {
    crate::bench::schedule::run(nodes, pods, workload)
}
