//! The child side of `podlab compare`: bring one scenario's cluster up, apply its manifests,
//! and measure placement (what runs where, what is stranded) and the room to scale each tier;
//! [`path`] measures the network path between the tiers, [`failure`] what one node's failure
//! takes down, and [`topology`] records the wiring the drawings show.

mod failure;
mod path;
mod topology;

use super::tiers::{Tier, declared_tiers, find_endpoint, node_of, pod_name, requests};
use super::verdicts::{decided_by, verdicts};
use super::{NodeUse, Placement, Report, Scaling};
use crate::printers;
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, ClusterOptions, NodeRt, key_of};
use podlab_scenario::{Scenario, TrafficSpec};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Child side: measure one scenario on a real cluster (this process is in its own netns).
/// `requests_n` requests go from the frontend to the backend, in `rounds` rounds.
pub async fn measure(scenario: Scenario, requests_n: usize, rounds: usize) -> Result<Report> {
    let spec = scenario.cluster.clone();
    let name = format!("cmp-{}", scenario.name);
    let cluster = Cluster::up(
        ClusterOptions::for_scenario(&spec, &name, format!("{name}-{}", std::process::id()), false, None)?,
        &|_| {},
    )
    .await?;
    let r = measure_on(&cluster, &scenario, requests_n, rounds).await;
    cluster.down().await;
    r
}

async fn measure_on(cluster: &Arc<Cluster>, scenario: &Scenario, requests_n: usize, rounds: usize) -> Result<Report> {
    apply_and_settle(cluster, scenario).await?;
    let mut report = Report {
        scenario: scenario.name.clone(),
        file: scenario.source.display().to_string(),
        ..Default::default()
    };
    let pods = cluster.pods();
    let t = declared_tiers(&pods, scenario);
    report.placement = placement(cluster, &pods, &t);
    report.scaling = scaling(cluster, scenario, &pods, &t);

    // Path and latency from the frontend to the backend, then the failure of the frontend's node.
    let traffic = scenario.compare.as_ref().and_then(|c| c.traffic.clone());
    let (front, back, requests_n) = traffic_ends(&pods, &t, traffic.as_ref(), requests_n)?;
    let ends: Vec<Tier> = front.iter().chain(back.iter()).cloned().collect();
    report.topology = topology::topology(cluster, &pods, &ends);
    if let (Some((fp, fc, _)), Some((bp, bc, _))) = (front, back) {
        let load = path::Load {
            requests: requests_n,
            rounds,
        };
        report.path = path::measure_path(cluster, (&fp, &fc), (&bp, &bc), traffic.as_ref(), load).await?;
        report.failure = Some(failure::fail_node_of(cluster, &fp).await?);
    }
    decided_by(&mut report, &t);
    verdicts(&mut report);
    Ok(report)
}

/// Apply the scenario's manifests and wait (up to 30 s) until every pod is Ready or stuck.
async fn apply_and_settle(cluster: &Arc<Cluster>, scenario: &Scenario) -> Result<()> {
    for obj in &scenario.manifests {
        cluster.apply(obj.clone())?;
    }
    cluster
        .wait_for(Duration::from_secs(30), |c| {
            let pods = c.pods();
            !pods.is_empty()
                && c.workloads_caught_up()
                && pods.iter().all(|p| {
                    // Ready (its servers listen), or stuck in a state waiting will not change.
                    let r = printers::pod_status_reason(p);
                    let ready = p
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                    ready || !matches!(r.as_str(), "Pending" | "ContainerCreating" | "Running")
                })
        })
        .await;
    Ok(())
}

/// What runs on each node and how much of it is requested, and what free room is stranded.
fn placement(cluster: &Cluster, pods: &[Pod], t: &[Tier]) -> Placement {
    let nodes: Vec<NodeUse> = cluster.nodes.iter().map(|n| node_use(n, pods)).collect();
    // Stranded: free room on used nodes smaller than the smallest tier pod's requests.
    let smallest = t
        .iter()
        .map(|(p, _, _)| (requests(p, "cpu"), requests(p, "memory")))
        .min();
    let (mut stranded_cpu, mut stranded_mem) = (0, 0);
    if let Some((min_cpu, min_mem)) = smallest {
        for n in nodes.iter().filter(|n| !n.containers.is_empty()) {
            let (free_cpu, free_mem) = (
                n.cpu_allocatable_milli - n.cpu_requested_milli,
                n.memory_allocatable_bytes - n.memory_requested_bytes,
            );
            if free_cpu < min_cpu || free_mem < min_mem {
                stranded_cpu += free_cpu.max(0);
                stranded_mem += free_mem.max(0);
            }
        }
    }
    Placement {
        nodes_total: nodes.len(),
        nodes_used: nodes.iter().filter(|n| !n.containers.is_empty()).count(),
        nodes,
        stranded_cpu_milli: stranded_cpu,
        stranded_memory_bytes: stranded_mem,
    }
}

/// One node's containers and its requested and allocatable CPU and memory.
fn node_use(n: &NodeRt, pods: &[Pod]) -> NodeUse {
    let alloc = n
        .node
        .status
        .as_ref()
        .and_then(|s| s.allocatable.clone())
        .unwrap_or_default();
    let cpu_alloc = alloc
        .get("cpu")
        .and_then(|q| podlab_scheduler::quantity::parse_milli(&q.0).ok())
        .unwrap_or(0);
    let mem_alloc = alloc
        .get("memory")
        .and_then(|q| podlab_scheduler::quantity::parse_value(&q.0).ok())
        .unwrap_or(0);
    let here: Vec<&Pod> = pods.iter().filter(|p| node_of(p) == n.addr.name).collect();
    let cpu: i64 = here.iter().map(|p| requests(p, "cpu")).sum();
    let mem: i64 = here.iter().map(|p| requests(p, "memory")).sum();
    let pct = |a: i64, b: i64| if b > 0 { (a as f64) * 100.0 / b as f64 } else { 0.0 };
    NodeUse {
        name: n.addr.name.clone(),
        containers: here
            .iter()
            .flat_map(|p| {
                p.spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .map(move |c| format!("{}/{}", pod_name(p), c.name))
            })
            .collect(),
        cpu_requested_milli: cpu,
        cpu_allocatable_milli: cpu_alloc,
        memory_requested_bytes: mem,
        memory_allocatable_bytes: mem_alloc,
        cpu_percent: pct(cpu, cpu_alloc),
        memory_percent: pct(mem, mem_alloc),
    }
}

/// Scaling: schedule copies of the pod holding each tier until one does not fit.
fn scaling(cluster: &Cluster, scenario: &Scenario, pods: &[Pod], t: &[Tier]) -> BTreeMap<String, Scaling> {
    let mut out = BTreeMap::new();
    for tier in ["frontend", "backend"] {
        let Some((pod, _, _)) = t.iter().find(|(_, _, tt)| tt == tier) else {
            continue;
        };
        out.insert(tier.into(), scale_room(cluster, scenario, pods, t, tier, pod));
    }
    out
}

/// How many replicas of `pod` (holding `tier`) fit beside the running pods, and what stopped them.
fn scale_room(cluster: &Cluster, scenario: &Scenario, pods: &[Pod], t: &[Tier], tier: &str, pod: &Pod) -> Scaling {
    let mut sched = podlab_scheduler::Scheduler::new(
        cluster.nodes.iter().map(|n| n.node.clone()).collect(),
        podlab_control_plane::scheduler_profile(&scenario.cluster),
    );
    for p in pods {
        sched.assume(p, &node_of(p));
    }
    let mut fit = 1;
    let mut stopped_by = String::new();
    for i in 0..1000 {
        let mut copy = pod.clone();
        copy.metadata.name = Some(format!("{}-copy-{i}", pod_name(pod)));
        copy.metadata.uid = Some(format!("copy-{tier}-{i}"));
        if let Some(s) = copy.spec.as_mut() {
            s.node_name = None;
        }
        match sched.schedule(&copy) {
            Ok(node) => {
                sched.assume(&copy, &node);
                fit += 1;
            }
            Err(e) => {
                stopped_by = e.message;
                break;
            }
        }
    }
    let mut dragged = BTreeMap::new();
    for (p, _, other) in t {
        if other != tier && key_of(p) == key_of(pod) {
            *dragged.entry(other.clone()).or_insert(0) += fit - 1;
        }
    }
    Scaling {
        replicas_fit: fit,
        dragged,
        stopped_by,
    }
}

/// The frontend and backend traffic goes between (`compare.traffic` overrides the tiers) and
/// how many requests to send.
fn traffic_ends(
    pods: &[Pod],
    t: &[Tier],
    traffic: Option<&TrafficSpec>,
    requests_n: usize,
) -> Result<(Option<Tier>, Option<Tier>, usize)> {
    let mut front = t.iter().find(|(_, _, tt)| tt == "frontend").cloned();
    let mut back = t.iter().find(|(_, _, tt)| tt == "backend").cloned();
    let mut requests_n = requests_n;
    if let Some(tr) = traffic {
        let from =
            find_endpoint(pods, &tr.from).with_context(|| format!("compare.traffic.from: no pod {}", tr.from))?;
        let to = find_endpoint(pods, &tr.to).with_context(|| format!("compare.traffic.to: no pod {}", tr.to))?;
        front = Some((from.0, from.1, "frontend".into()));
        back = Some((to.0, to.1, "backend".into()));
        requests_n = tr.requests.unwrap_or(requests_n);
    }
    Ok((front, back, requests_n))
}
