//! `podlab bench bringup|schedule|peers`: benchmarks (not tests) that print podlab's figures
//! beside a baseline measured in the same run.

use super::enter_private_netns;
use anyhow::{Result, bail};
use clap::Subcommand;

/// `podlab bench ...`.
#[derive(Subcommand)]
pub enum Kind {
    /// Bring up N pods on M nodes, beside a bare rtnetlink loop doing the same kernel work.
    Bringup {
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        #[arg(long, default_value_t = 200)]
        pods: usize,
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
        Kind::Bringup { nodes, pods } => bringup(nodes, pods).map(|()| 0),
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

fn bringup(nodes: usize, pods: usize) -> Result<()> {
    if !podlab_node_agent::join::is_root() {
        bail!("the bring-up benchmark builds real namespaces and needs root");
    }
    enter_private_netns()?;
    podlab_control_plane::rundir::clean_stale();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(crate::bench::bringup::bringup(nodes, pods))
}

fn bench_schedule(nodes: usize, pods: usize, workload: &str) -> Result<i32> {
    crate::bench::schedule::run(nodes, pods, workload)
}
