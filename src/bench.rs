//! `podlab bench bringup`: how fast podlab builds a cluster, against a bare rtnetlink loop
//! doing the same kernel work in the same process (the floor). Prints ms per pod and ratios.
//! A benchmark, not a test: figures go in README and the issue notes.

use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::{Container, Node, NodeStatus, Pod, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_control_plane::{Cluster, ClusterOptions};
use podlab_netplugin::{ClusterNetwork, Dataplane, Netns, PodRef};
use podlab_node_agent::{Sandbox, SandboxKind, Spawner};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub(crate) fn network() -> ClusterNetwork {
    ClusterNetwork {
        pod_cidr: "10.244.0.0/16".parse().expect("literal"),
        node_prefix: 24,
        fabric_cidr: "172.18.0.0/16".parse().expect("literal"),
    }
}

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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Untimed: waits (up to 60 s) until the kernel has freed the namespaces of earlier runs.
pub(crate) async fn settle(rt: &tokio::runtime::Handle) -> Result<()> {
    podlab_netplugin::bare::wait_for_namespace_cleanup(rt, Duration::from_secs(60)).await?;
    Ok(())
}

/// Bring up `pods` pods on `nodes` nodes the podlab way and the bare way; print the comparison.
pub async fn bringup(nodes: usize, pods: usize) -> Result<()> {
    if nodes == 0 || pods == 0 {
        bail!("--nodes and --pods must be at least 1");
    }
    let per_node = pods.div_ceil(nodes) + 1;
    println!("podlab bench bringup: {pods} pods (one container each) on {nodes} nodes, kernel dataplane\n");

    // 1. podlab end to end: nodes, scheduling, sandboxes, network, containers, all Running.
    //    Each measurement starts once the kernel has freed the namespaces of earlier ones.
    let rt = tokio::runtime::Handle::current();
    settle(&rt).await?;
    let t0 = Instant::now();
    let cluster = Cluster::up(options("bench", nodes, per_node), &|_| {}).await?;
    for i in 0..pods {
        cluster.apply_pod(sleeper(i))?;
    }
    let all_running = cluster
        .wait_for(Duration::from_secs(120), |c| {
            let (all, n) = c.all_pods(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
            all && n == pods
        })
        .await;
    let podlab_total = t0.elapsed();
    if !all_running {
        cluster.down().await;
        bail!("not all {pods} pods reached Running within 120 s");
    }
    let reach = reachability(&cluster).await;
    let t1 = Instant::now();
    cluster.down().await;
    let teardown = t1.elapsed();
    drop(cluster);

    // 2. The floor: the same namespaces, veths, addresses and routes by a bare rtnetlink loop,
    //    plus one process started in each pod namespace.
    let spawner = Spawner::new();
    settle(&rt).await?;
    let t2 = Instant::now();
    let (node_sb, pod_sb) = sandboxes(&spawner, nodes, pods, "bare").await?;
    let node_ns: Vec<Netns> = node_sb
        .iter()
        .map(|s| s.netns().try_clone())
        .collect::<std::io::Result<_>>()?;
    let pod_ns: Vec<Netns> = pod_sb
        .iter()
        .map(|s| s.netns().try_clone())
        .collect::<std::io::Result<_>>()?;
    let bare = podlab_netplugin::bare::run(&network(), &rt, "bare0", &node_ns, &pod_ns).await?;
    let mut procs = Vec::new();
    for sb in &pod_sb {
        let log = podlab_node_agent::logs::LogFile::new("bare")?;
        let pid = spawner.spawn_process(podlab_node_agent::spawner::ProcessSpec {
            program: "sleep".into(),
            args: vec!["3600".into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            join: sb.join_fds(),
            stdout: log.writer()?,
            stderr: log.writer()?,
            cwd: std::env::temp_dir(),
        })?;
        procs.push(podlab_node_agent::process::Process::adopt(pid)?);
    }
    let bare_total = t2.elapsed();
    for p in procs {
        p.kill_and_reap();
    }
    drop(pod_sb);
    drop(node_sb);

    // 3. Pod network setup alone, podlab's netplugin vs the bare loop, on fresh namespaces.
    settle(&rt).await?;
    let (node_sb, pod_sb) = sandboxes(&spawner, nodes, pods, "net").await?;
    let dp = Arc::new(Dataplane::kernel(
        ClusterNetwork {
            fabric_cidr: "172.19.0.0/16".parse().expect("literal"),
            ..network()
        },
        rt.clone(),
    )?);
    let net = ClusterNetwork {
        fabric_cidr: "172.19.0.0/16".parse().expect("literal"),
        ..network()
    };
    let mut addrs = Vec::new();
    for (i, sb) in node_sb.iter().enumerate() {
        let a = net.node(i as u32 + 1, &format!("net-{}", i + 1))?;
        dp.setup_node(&a, Some(sb.netns())).await?;
        addrs.push(a);
    }
    let t3 = Instant::now();
    let mut tasks = Vec::new();
    for (k, sb) in pod_sb.iter().enumerate() {
        let dp = dp.clone();
        let node = addrs[k % nodes].name.clone();
        let ns = sb.netns().try_clone()?;
        tasks.push(tokio::spawn(async move {
            let pod = PodRef {
                namespace: "default".into(),
                name: format!("p{k}"),
                uid: format!("uid-{k}"),
            };
            dp.add_pod(&node, &pod, Some(&ns)).await
        }));
    }
    for t in tasks {
        t.await.context("pod network task")??;
    }
    let podlab_net = t3.elapsed();
    drop(pod_sb);
    drop(node_sb);

    let per = |d: Duration| ms(d) / pods as f64;
    println!("{:<44}{:>12}{:>12}{:>10}", "measure", "podlab", "bare loop", "ratio");
    println!(
        "{:<44}{:>10.2}ms{:>10.2}ms{:>9.2}x",
        "bring-up to all Running, per pod",
        per(podlab_total),
        per(bare_total),
        podlab_total.as_secs_f64() / bare_total.as_secs_f64()
    );
    println!(
        "{:<44}{:>10.2}ms{:>10.2}ms{:>9.2}x",
        "pod network setup alone, per pod",
        per(podlab_net),
        bare.ms_per_pod(),
        podlab_net.as_secs_f64() / bare.pod_setup.as_secs_f64().max(1e-9)
    );
    println!(
        "{:<44}{:>10.0}ms   (target < 500 ms)",
        format!("teardown of {pods} pods"),
        ms(teardown)
    );
    println!("{:<44}{:>10.0}ms", "bring-up total", ms(podlab_total));
    println!("{:<44}{:>12}", "pods reachable from the first pod", reach);
    println!("\nreference: the CNI bridge plugin takes 9-14 ms per ADD and ~23 ms per DEL on these machines");
    println!("targets: bring-up <= 2x the bare loop, network setup <= 1.3x");
    Ok(())
}

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
