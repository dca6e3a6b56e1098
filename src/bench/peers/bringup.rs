//! Cluster bring-up of N pods on K nodes: podlab end to end (nodes, scheduling, sandboxes,
//! network, one container per pod, all Running) against the bare rtnetlink loop plus one
//! process per pod (the kernel floor) and against Mininet building N hosts on K switches.
//! Also podlab's own memory per pod and its teardown.

use super::mininet::MininetFigures;
use super::{Row, rss_kib, wait_links_at_most};
use crate::bench::footprint::{self, Footprint};
use crate::bench::{bare_loop, ms, reachability, sleeper};
use anyhow::{Result, bail};
use podlab_control_plane::Cluster;
use podlab_netplugin::Netns;
use podlab_node_agent::Spawner;
use std::time::{Duration, Instant};

/// podlab's figures for one bring-up.
#[derive(Clone, Debug)]
pub struct PodlabBringup {
    pub pods: usize,
    /// Cluster up, every pod applied, all Running.
    pub bringup: Duration,
    /// `down` until the nodes' links have left the fabric namespace.
    pub teardown: Duration,
    /// Growth of this process's RSS from an empty cluster to all pods Running, per pod.
    pub rss_kib_per_pod: f64,
    /// With every pod Running: PSS of this process and every process it started (zygote,
    /// pause processes, containers), with their counts.
    pub whole: Footprint,
    /// Pods reached over TCP, each from a pod on another node, e.g. "200/200 each from a pod
    /// on another node".
    pub reach: String,
}

/// Brings `pods` pods up on `nodes` nodes the podlab way, in a fresh fabric namespace.
pub fn podlab(nodes: usize, pods: usize) -> Result<PodlabBringup> {
    if nodes == 0 || pods == 0 {
        bail!("bring-up needs at least one node and one pod");
    }
    super::in_fresh_netns("podlab bring-up", move |rt| {
        let fabric = Netns::current()?;
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let per_node = pods.div_ceil(nodes) + 1;
            crate::bench::settle(&handle, pods).await?;
            let t0 = Instant::now();
            let cluster = Cluster::up(crate::bench::options("bench-peers", nodes, per_node), &|_| {}).await?;
            let rss0 = rss_kib();
            for i in 0..pods {
                cluster.apply_pod(sleeper(i))?;
            }
            let limit = Duration::from_secs(60 + pods as u64 / 5);
            let all_running = cluster
                .wait_for(limit, |c| {
                    let (all, n) =
                        c.all_pods(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
                    all && n == pods
                })
                .await;
            let bringup = t0.elapsed();
            let rss1 = rss_kib();
            let whole = tokio::task::spawn_blocking(|| footprint::measure(std::process::id()))
                .await
                .unwrap_or_default();
            if !all_running {
                cluster.down().await;
                bail!("podlab: not all {pods} pods reached Running within {limit:?}");
            }
            let r = reachability(&cluster).await;
            let reach = format!("{r} {}", r.from());
            let t1 = Instant::now();
            cluster.down().await;
            drop(cluster);
            tokio::task::spawn_blocking(move || wait_links_at_most(&fabric, 2, Duration::from_secs(120))).await??;
            let teardown = t1.elapsed();
            Ok(PodlabBringup {
                pods,
                bringup,
                teardown,
                rss_kib_per_pod: rss1.saturating_sub(rss0) as f64 / pods as f64,
                whole,
                reach,
            })
        })
    })
}

/// The kernel floor ([`bare_loop::floor`]: the bare sequential rtnetlink loop plus one
/// `sleep` per pod) in a fresh fabric namespace. Returns the total time.
pub fn floor(nodes: usize, pods: usize) -> Result<Duration> {
    super::in_fresh_netns("bare rtnetlink loop", move |rt| {
        let handle = rt.handle().clone();
        rt.block_on(async move {
            let spawner = Spawner::new();
            crate::bench::settle(&handle, pods).await?;
            let total = bare_loop::floor(&spawner, &handle, nodes, pods, "floor").await?.total;
            let fabric = Netns::current()?;
            // Untimed: let the kernel finish removing the nodes before the next measurement.
            let _ = tokio::task::spawn_blocking(move || wait_links_at_most(&fabric, 2, Duration::from_secs(60))).await;
            Ok(total)
        })
    })
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Table rows for one size: vs the floor, vs Mininet, teardown, memory, reachability.
pub fn rows(p: &PodlabBringup, floor: &Duration, mn: Option<&MininetFigures>, nodes: usize, quick: bool) -> Vec<Row> {
    let n = p.pods;
    let label = format!("bring-up, {n} pods on {nodes} node(s)");
    let per = |d: Duration| format!("{} ({:.1} ms/pod)", secs(d), ms(d) / n as f64);
    // The targets are for 1000 pods on 20 nodes; other sizes show the same bar.
    let floor_ratio = p.bringup.as_secs_f64() / floor.as_secs_f64().max(1e-9);
    let mut out = vec![
        Row::new(label.clone(), per(p.bringup))
            .peer("bare rtnetlink loop", per(*floor))
            .ratio(floor_ratio, " the floor", "<= 2.5x the floor", Some(floor_ratio <= 2.5)),
    ];
    match mn {
        Some(m) => {
            let r = m.bringup.as_secs_f64() / p.bringup.as_secs_f64().max(1e-9);
            out.push(
                Row::new(label, per(p.bringup))
                    .peer("Mininet (LinuxBridge)", per(m.bringup))
                    .ratio(r, " faster", ">= 20x faster", Some(r >= 20.0)),
            );
            let rt = m.stop.as_secs_f64() / p.teardown.as_secs_f64().max(1e-9);
            out.push(
                Row::new(format!("teardown, {n} pods"), secs(p.teardown))
                    .peer("Mininet net.stop()", secs(m.stop))
                    .ratio(rt, " faster", "", None),
            );
            let mr = m.rss_kib_per_host();
            out.push(
                Row::new(
                    format!("daemon RSS per pod, {n} pods"),
                    format!("{:.0} KiB", p.rss_kib_per_pod),
                )
                .peer("Mininet python, per host", format!("{mr:.0} KiB"))
                .ratio(p.rss_kib_per_pod / mr.max(1e-9), " Mininet's", "", None),
            );
            let (pw, mw) = (p.whole.kib_per(n), m.pss_kib_per_host());
            out.push(
                Row::new(
                    format!("all processes' PSS per pod, {n} pods"),
                    format!("{pw:.0} KiB ({} processes)", p.whole.processes),
                )
                .peer(
                    "Mininet, all processes, per host",
                    format!("{mw:.0} KiB ({} processes)", m.processes),
                )
                .ratio(pw / mw.max(1e-9), " Mininet's", "<= 1x Mininet's", Some(pw <= mw)),
            );
            out.push(Row::new(format!("reachable, {n} pods"), p.reach.clone()).peer(
                "Mininet",
                if m.connect_ok {
                    "first host to last: ok"
                } else {
                    "first host to last: FAILED"
                },
            ));
        }
        None => {
            out.push(Row::new(label, per(p.bringup)).peer("Mininet (LinuxBridge)", "not run"));
            out.push(Row::new(format!("teardown, {n} pods"), secs(p.teardown)));
            out.push(Row::new(
                format!("daemon RSS per pod, {n} pods"),
                format!("{:.0} KiB", p.rss_kib_per_pod),
            ));
            out.push(
                Row::new(
                    format!("all processes' PSS per pod, {n} pods"),
                    format!("{:.0} KiB ({} processes)", p.whole.kib_per(n), p.whole.processes),
                )
                .peer("Mininet, all processes, per host", "skipped (Mininet not run)"),
            );
            out.push(Row::new(format!("reachable, {n} pods"), p.reach.clone()));
        }
    }
    if quick {
        for r in &mut out {
            r.met.clear();
        }
    }
    out
}
