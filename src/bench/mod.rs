//! podlab's benchmarks (`podlab bench ...`), all in this folder of the binary, with the
//! fixtures they share: the benchmark cluster (kind-addressed nodes, `sleep` pods), the
//! sandboxes of a bare run, the reachability check. Benchmarks, not tests: figures go in
//! README and the issue notes.
//!
//! # Layout
//!
//! - [`api`]: `podlab bench api`, kubectl against podlab's Kubernetes API with many pods and
//!   watches, beside podlab's own socket.
//! - [`bringup`]: `podlab bench bringup`, podlab's cluster bring-up against the kernel floor.
//! - [`footprint`]: the memory (PSS), processes, threads and descriptors of a process tree.
//! - [`sizes`]: the sizes of `podlab bench bringup --sizes`, their preflight and their table.
//! - [`sysfs_mount`]: what one more container's `/sys` costs the kernel with the pods up
//!   (it grows with them).
//! - [`schedule`]: `podlab bench schedule`, scheduler_perf-style scheduler throughput.
//! - [`bare_loop`]: the baseline: the same kernel objects by plain sequential rtnetlink
//!   calls, the floor (that loop plus a `sleep` per pod), the bare veth pair.
//! - [`peers`]: `podlab bench peers`, podlab beside the CNI plugins, Mininet and the bare
//!   baselines.

pub mod api;
pub mod bare_loop;
pub mod bringup;
pub mod footprint;
pub mod peers;
pub mod schedule;
pub mod sizes;
pub mod sysfs_mount;

use anyhow::Result;
use k8s_openapi::api::core::v1::{Container, Node, NodeStatus, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_control_plane::{Cluster, ClusterOptions};
use podlab_netplugin::ClusterNetwork;
use podlab_node_agent::{Sandbox, SandboxKind, Spawner};
use std::sync::Arc;
use std::time::Duration;

/// The benchmark cluster network: kind's addressing (pods 10.244.0.0/16 in /24s, nodes
/// 172.18.0.0/16).
pub(crate) fn network() -> ClusterNetwork {
    ClusterNetwork {
        pod_cidr: "10.244.0.0/16".parse().expect("literal"),
        node_prefix: 24,
        fabric_cidr: "172.18.0.0/16".parse().expect("literal"),
    }
}

/// A benchmark node `name`: 64 CPU, 256Gi, room for `pods` pods, the bench image preloaded.
pub(crate) fn node(name: &str, pods: usize) -> Node {
    let cap: std::collections::BTreeMap<String, Quantity> = [
        ("cpu".to_string(), Quantity("64".into())),
        ("memory".to_string(), Quantity("256Gi".into())),
        ("pods".to_string(), Quantity(pods.to_string())),
    ]
    .into();
    Node {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("kubernetes.io/hostname".to_string(), name.to_string())].into()),
            ..Default::default()
        },
        status: Some(NodeStatus {
            capacity: Some(cap.clone()),
            allocatable: Some(cap),
            // The pods' image is already on every node (as after `kind load docker-image`).
            images: Some(vec![k8s_openapi::api::core::v1::ContainerImage {
                names: Some(vec![BENCH_IMAGE.into()]),
                size_bytes: Some(4_500_000),
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A benchmark cluster: `nodes` kind-addressed workers with room for `per_node` pods each.
pub(crate) fn options(name: &str, nodes: usize, per_node: usize) -> ClusterOptions {
    ClusterOptions {
        name: name.into(),
        rundir_name: format!("{name}-{}", std::process::id()),
        network: network(),
        nodes: (1..=nodes).map(|i| node(&format!("worker-{i}"), per_node)).collect(),
        scheduler: Default::default(),
        time_scale: 1.0,
        model: false,
        explain: None,
        registry: Default::default(),
    }
}

/// The image of every benchmark pod.
const BENCH_IMAGE: &str = "busybox:1.36";

/// Benchmark pod `bench-<i>`: one `sleep 3600` container of the preloaded bench image.
pub(crate) fn sleeper(i: usize) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some(format!("bench-{i}")),
            ..Default::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "sleep".into(),
                image: Some(BENCH_IMAGE.into()),
                // Use the node's copy: the bench times podlab, not the simulated registry's
                // pull delay (200 ms a pull, a sleep, no work) that `Always` would add.
                image_pull_policy: Some("IfNotPresent".into()),
                command: Some(vec!["sleep".into(), "3600".into()]),
                ..Default::default()
            }],
            ..Default::default()
        }),
        status: None,
    }
}

/// `d` in milliseconds.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Longest untimed wait for the kernel to free earlier namespaces. Freeing 10,000 network
/// namespaces takes the kernel minutes here (its cleanup walks every namespace's id table
/// for each one freed), and a measurement started meanwhile pays for that work.
const SETTLE_LIMIT: Duration = Duration::from_secs(600);

/// Untimed: waits until the kernel has freed the namespaces of earlier runs (this process's
/// or another's) and, before measuring `pods` ≥ 1000, until the machine's CPUs are idle
/// (under 10% busy over a second), saying so when that took a while or did not end.
pub(crate) async fn settle(rt: &tokio::runtime::Handle, pods: usize) -> Result<()> {
    let start = std::time::Instant::now();
    bare_loop::wait_for_namespace_cleanup(rt, SETTLE_LIMIT).await?;
    // The namespaces are gone from view before the kernel's workers are done with them: before
    // a measurement big enough to care (small ones run beside other tests on CI), wait for the
    // machine's CPUs to be idle too.
    while pods >= 1000 && start.elapsed() < SETTLE_LIMIT && busy_over(Duration::from_secs(1)).await > 0.10 {}
    let waited = start.elapsed();
    if waited >= SETTLE_LIMIT {
        println!(
            "  (the machine was still busy after {} s, e.g. the kernel freeing earlier namespaces: the next figures include that work)",
            SETTLE_LIMIT.as_secs()
        );
    } else if waited > Duration::from_secs(2) {
        println!(
            "  (waited {:.0} s for the kernel to free earlier namespaces and the CPUs to go idle)",
            waited.as_secs_f64()
        );
    }
    Ok(())
}

/// The share of the machine's CPU time that was busy (not idle or waiting for I/O) over the
/// next `span`, from `/proc/stat` (1.0 if it cannot be read).
async fn busy_over(span: Duration) -> f64 {
    fn times() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        let idle = cpu.get(3)? + cpu.get(4)?;
        Some((cpu.iter().sum(), idle))
    }
    let Some((t0, i0)) = times() else { return 1.0 };
    tokio::time::sleep(span).await;
    let Some((t1, i1)) = times() else { return 1.0 };
    let total = t1.saturating_sub(t0).max(1);
    1.0 - i1.saturating_sub(i0) as f64 / total as f64
}

/// Creates `nodes` node sandboxes and `pods` pod sandboxes (named `<prefix>-<i>` and
/// `<prefix>-pod-<i>`) on a blocking thread.
pub(crate) async fn sandboxes(
    spawner: &Spawner,
    nodes: usize,
    pods: usize,
    prefix: &str,
) -> Result<(Vec<Sandbox>, Vec<Sandbox>)> {
    let sp = spawner.clone();
    let prefix = prefix.to_string();
    tokio::task::spawn_blocking(move || -> Result<_> {
        let n = (0..nodes)
            .map(|i| Sandbox::create(&sp, SandboxKind::Node, &format!("{prefix}-{i}")))
            .collect::<std::io::Result<Vec<_>>>()?;
        let p = (0..pods)
            .map(|i| Sandbox::create(&sp, SandboxKind::Pod, &format!("{prefix}-pod-{i}")))
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok((n, p))
    })
    .await?
}

/// What [`reachability`] found: every pod probed over TCP from one pod on another node.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reach {
    /// Probes that connected and saw the sender's own pod IP as the source.
    pub ok: usize,
    /// Pods probed (all of them, but a lone pod has nobody to probe it).
    pub total: usize,
    /// True when the senders were on other nodes (false: a one-node cluster).
    pub cross_node: bool,
    /// The first misses, `name ip: why`.
    pub missed: Vec<String>,
    /// Probing stopped early after this many misses (the rest not probed).
    pub gave_up: bool,
}

impl Reach {
    /// Every pod reached.
    pub fn all(&self) -> bool {
        self.ok == self.total && !self.gave_up
    }

    /// Where the probes came from, for a label.
    pub fn from(&self) -> &'static str {
        if self.cross_node {
            "each from a pod on another node"
        } else {
            "each from another pod (one node)"
        }
    }
}

impl std::fmt::Display for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.ok, self.total)?;
        if !self.missed.is_empty() {
            let shown: Vec<_> = self.missed.iter().take(4).cloned().collect();
            let more = if self.missed.len() > 4 { ", ..." } else { "" };
            write!(f, " (not reached: {}{more})", shown.join(", "))?;
        }
        if self.gave_up {
            write!(f, " (stopped after {} misses)", self.missed.len())?;
        }
        Ok(())
    }
}

/// Probes at once while checking reachability.
const PROBE_WORKERS: usize = 16;
/// Misses after which reachability stops probing (a broken network would take 2 s a pod).
const PROBE_GIVE_UP: usize = 100;

/// One pod as reachability sees it: its sandbox, IP, name and node.
type End = (Arc<Sandbox>, std::net::Ipv4Addr, String, String);

/// For each pod, the pod that probes it: pod `j` of node `n` is probed by pod `j` (wrapping)
/// of node `n + 1` (wrapping), so every node sends and receives; on one node, by the next pod.
fn senders(ends: &[End]) -> (Vec<Option<usize>>, bool) {
    let mut by_node: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, e) in ends.iter().enumerate() {
        by_node.entry(e.3.as_str()).or_default().push(i);
    }
    let groups: Vec<&Vec<usize>> = by_node.values().collect();
    let mut out = vec![None; ends.len()];
    for (n, members) in groups.iter().enumerate() {
        let other = groups[(n + 1) % groups.len()];
        for (j, &i) in members.iter().enumerate() {
            let src = if groups.len() > 1 {
                other[j % other.len()]
            } else {
                members[(j + 1) % members.len()]
            };
            out[i] = (src != i).then_some(src);
        }
    }
    (out, groups.len() > 1)
}

/// Probes every pod over TCP from a pod on another node ([`senders`]), [`PROBE_WORKERS`] at
/// once; each probe also checks that the receiver saw the sender's own pod IP (no NAT).
pub(crate) async fn reachability(cluster: &Arc<Cluster>) -> Reach {
    let pods = crate::runner::select(cluster, &podlab_scenario::PodSelector::All);
    let ends: Vec<End> = pods
        .iter()
        .filter_map(|p| {
            let node = p.spec.as_ref()?.node_name.clone()?;
            cluster
                .with_entry(&podlab_control_plane::key_of(p), |e| {
                    Some((
                        e.sandbox.clone()?,
                        e.net.as_ref()?.ip,
                        p.metadata.name.clone().unwrap_or_default(),
                        node,
                    ))
                })
                .flatten()
        })
        .collect();
    tokio::task::spawn_blocking(move || probe_all(&ends))
        .await
        .unwrap_or_default()
}

fn probe_all(ends: &[End]) -> Reach {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (from, cross_node) = senders(ends);
    let jobs: Vec<(usize, usize)> = from.iter().enumerate().filter_map(|(i, s)| Some(((*s)?, i))).collect();
    let (next, ok) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let missed = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PROBE_WORKERS.min(jobs.len()) {
            s.spawn(|| {
                while let Some(&(src, dst)) = jobs.get(next.fetch_add(1, Ordering::Relaxed)) {
                    if missed.lock().map(|m| m.len()).unwrap_or(PROBE_GIVE_UP) >= PROBE_GIVE_UP {
                        return;
                    }
                    let (sb, ip, name, _) = &ends[dst];
                    let (src_sb, src_ip, ..) = &ends[src];
                    let r = match (src_sb.netns(), sb.netns()) {
                        (Ok(from), Ok(to)) => crate::probe::probe_listener(&from, &to, *ip, Duration::from_secs(2)),
                        (Err(e), _) | (_, Err(e)) => podlab_netplugin::probe::ProbeResult::failed(e),
                    };
                    if r.ok && r.seen_source == Some(*src_ip) {
                        ok.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    let why = r.error.unwrap_or_else(|| format!("source seen as {:?}", r.seen_source));
                    if let Ok(mut m) = missed.lock() {
                        m.push(format!("{name} {ip}: {why}"));
                    }
                }
            });
        }
    });
    let missed = missed.into_inner().unwrap_or_default();
    Reach {
        ok: ok.into_inner(),
        total: jobs.len(),
        cross_node,
        gave_up: missed.len() >= PROBE_GIVE_UP,
        missed,
    }
}
