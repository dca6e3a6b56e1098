//! `podlab compare A.yaml B.yaml ...`: run each scenario on its own real cluster (in a child
//! process of its own, so each has a private fabric namespace; all at once) and answer the
//! book's design question with measurements: placement, room to scale each tier, the network
//! path between the tiers (with real request latency), and what one node failure takes down.
//!
//! Tiers are found by name: a container belongs to tier T when the container is named T or its
//! pod has the label `tier: T` (T = frontend, backend). Traffic goes from the frontend to the
//! backend's first container port.
//!
//! Measuring and rendering are apart: `measure` (the child side: bring the cluster up, apply,
//! then placement, scaling room, the network path and a node failure) fills a [`Report`];
//! `verdicts` sums each row up; `render` draws reports as a terminal table, Markdown or HTML;
//! `tiers` finds which pods hold the tiers; `noise` judges whether two latencies differ by more
//! than their rounds' spread; `rows` says what each row measures and why it matters. This file
//! holds the report's data types and `compare()`, the parent side.

mod measure;
mod noise;
mod render;
mod rows;
mod tiers;
mod verdicts;

pub use measure::measure;
pub use noise::Noise;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything measured for one scenario.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Report {
    pub scenario: String,
    pub file: String,
    pub placement: Placement,
    pub scaling: BTreeMap<String, Scaling>,
    pub path: Option<PathReport>,
    pub failure: Option<Failure>,
    pub verdicts: BTreeMap<String, String>,
    /// The scenario text behind each verdict, with file:line.
    #[serde(default)]
    pub decided_by: BTreeMap<String, String>,
    /// The cluster as measured (before the failure), for the drawings.
    #[serde(default)]
    pub topology: Topology,
    /// How this path's latency relates to each other scenario's (filled by the parent).
    #[serde(default)]
    pub latency_vs: BTreeMap<String, Noise>,
}

/// The cluster's wiring as the drawings show it: nodes, their pods, the tiers' containers.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Topology {
    /// The bridge joining the nodes (`podlab0`).
    pub fabric_bridge: String,
    /// Each node's link to the fabric (`eth0`).
    pub uplink: String,
    /// Each node's pod bridge (`cni0`), when the layout has one.
    pub node_bridge: Option<String>,
    pub nodes: Vec<TopoNode>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct TopoNode {
    pub name: String,
    pub node_ip: String,
    pub pod_subnet: String,
    /// The pods' gateway address on the node's bridge.
    pub gateway: String,
    pub pods: Vec<TopoPod>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct TopoPod {
    pub name: String,
    pub ip: Option<String>,
    pub containers: Vec<TopoContainer>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct TopoContainer {
    pub name: String,
    /// `frontend` or `backend` when the container holds a tier (the ends of the path).
    pub tier: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Placement {
    pub nodes_total: usize,
    pub nodes_used: usize,
    pub nodes: Vec<NodeUse>,
    /// Free CPU (millicores) on used nodes too small for another copy of any tier's pod.
    pub stranded_cpu_milli: i64,
    /// Free memory (bytes) on used nodes that no tier's pod can use, for the same reason.
    pub stranded_memory_bytes: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct NodeUse {
    pub name: String,
    /// `pod/container` names running there.
    pub containers: Vec<String>,
    pub cpu_requested_milli: i64,
    pub cpu_allocatable_milli: i64,
    pub memory_requested_bytes: i64,
    pub memory_allocatable_bytes: i64,
    pub cpu_percent: f64,
    pub memory_percent: f64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Scaling {
    /// Replicas of the pod holding this tier that fit (the running one included).
    pub replicas_fit: usize,
    /// Copies of other tiers' containers started along with them (beyond the first).
    pub dragged: BTreeMap<String, usize>,
    /// The scheduler's message for the first replica that did not fit.
    pub stopped_by: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct PathReport {
    /// localhost | same-node | cross-node
    pub kind: String,
    pub from: String,
    pub to: String,
    pub hops: Vec<String>,
    pub router_hops: usize,
    pub requests: usize,
    pub ok: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    /// The p50 of each round of requests, in the order they ran (the spread is their range).
    #[serde(default)]
    pub round_p50_us: Vec<f64>,
    pub requests_per_second: f64,
    /// Source address the backend saw (its echo's `client_ip:` line), when it reports one.
    pub seen_source: Option<String>,
    /// Configured uplink shaping per node on the path (`worker-1: latency 5ms`); empty: bare veths.
    #[serde(default)]
    pub links: Vec<String>,
    /// True when the scenario's `compare.traffic` chose the endpoints.
    #[serde(default)]
    pub declared: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Failure {
    pub node: String,
    pub stopped: Vec<String>,
    pub still_serving: Vec<String>,
    /// `pod: old IP -> new pod new IP on node`
    pub rescheduled: Vec<String>,
}

/// Parent side: run every scenario in a child process at once, then print one report.
pub fn compare(
    files: &[std::path::PathBuf],
    output: &str,
    out_file: Option<&std::path::Path>,
    requests_n: usize,
    rounds: usize,
) -> Result<i32> {
    if files.len() < 2 {
        bail!("compare needs at least two scenario files");
    }
    for f in files {
        let scenario = crate::cli::load(f)?;
        crate::cli::preflight(&scenario).with_context(|| format!("{}", f.display()))?;
    }
    let exe = std::env::current_exe()?;
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            std::process::Command::new(&exe)
                .arg("__measure")
                .arg(f)
                .arg("--requests")
                .arg(requests_n.to_string())
                .arg("--rounds")
                .arg(rounds.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("starting the run of {}", f.display()))
        })
        .collect::<Result<_>>()?;
    let mut reports = Vec::new();
    for (child, f) in children.into_iter().zip(files) {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "running {} failed:\n{}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let r: Report = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("reading the measurements of {}", f.display()))?;
        reports.push(r);
    }
    noise::mark(&mut reports);
    let text = match output {
        "json" => serde_json::to_string_pretty(&serde_json::json!({ "scenarios": reports }))? + "\n",
        "markdown" | "md" => render::markdown(&reports),
        "html" => render::html(&reports),
        _ => render::terminal(&reports),
    };
    match out_file {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
            println!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}
