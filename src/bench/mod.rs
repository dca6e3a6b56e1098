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
//! - [`schedule`]: `podlab bench schedule`, scheduler_perf-style scheduler throughput.
//! - [`bare_loop`]: the baseline: the same kernel objects by plain sequential rtnetlink
//!   calls, the floor (that loop plus a `sleep` per pod), the bare veth pair.
//! - [`peers`]: `podlab bench peers`, podlab beside the CNI plugins, Mininet and the bare
//!   baselines.

pub mod api;
pub mod bare_loop;
pub mod bringup;
pub mod peers;
pub mod schedule;

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

/// Untimed: waits (up to 60 s) until the kernel has freed the namespaces of earlier runs.
pub(crate) async fn settle(rt: &tokio::runtime::Handle) -> Result<()> {
    bare_loop::wait_for_namespace_cleanup(rt, Duration::from_secs(60)).await?;
    Ok(())
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

/// Count pods the first pod reaches over TCP (each probe also checks the source IP).
pub(crate) async fn reachability(cluster: &Arc<Cluster>) -> String {
    let pods = crate::runner::select(cluster, &podlab_scenario::PodSelector::All);
    let ends: Vec<_> = pods
        .iter()
        .filter_map(|p| {
            cluster
                .with_entry(&podlab_control_plane::key_of(p), |e| {
                    Some((
                        e.sandbox.clone()?,
                        e.net.as_ref()?.ip,
                        p.metadata.name.clone().unwrap_or_default(),
                    ))
                })
                .flatten()
        })
        .collect();
    let total = ends.len().saturating_sub(1);
    let missed = tokio::task::spawn_blocking(move || {
        let Some((first, first_ip, _)) = ends.first().cloned() else {
            return Vec::new();
        };
        ends[1..]
            .iter()
            .filter_map(|(sb, ip, name)| {
                let r = crate::probe::probe_listener(first.netns(), sb.netns(), *ip, Duration::from_secs(2));
                if r.ok && r.seen_source == Some(first_ip) {
                    return None;
                }
                let why = r.error.unwrap_or_else(|| format!("source seen as {:?}", r.seen_source));
                Some(format!("{name} {ip}: {why}"))
            })
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let ok = total.saturating_sub(missed.len());
    if missed.is_empty() {
        format!("{ok}/{total}")
    } else {
        let shown: Vec<_> = missed.iter().take(4).cloned().collect();
        let more = if missed.len() > 4 { ", ..." } else { "" };
        format!("{ok}/{total} (not reached: {}{more})", shown.join(", "))
    }
}
