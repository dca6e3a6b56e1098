//! `podlab bench bringup`: how fast podlab builds a cluster, against a bare rtnetlink loop
//! doing the same kernel work in the same process (the floor). Prints ms per pod and ratios.

use super::bare_loop::{self, Floor};
use super::{ms, network, options, reachability, sandboxes, settle, sleeper};
use anyhow::{Context, Result, bail};
use podlab_control_plane::Cluster;
use podlab_netplugin::{ClusterNetwork, Dataplane, PodRef};
use podlab_node_agent::Spawner;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// podlab's end-to-end figures.
struct Podlab {
    /// Cluster up, every pod applied, all Running.
    total: Duration,
    /// `down` of the whole cluster.
    teardown: Duration,
    /// Pods the first pod reached over TCP.
    reach: String,
}

/// Bring up `pods` pods on `nodes` nodes the podlab way and the bare way; print the comparison.
pub async fn bringup(nodes: usize, pods: usize) -> Result<()> {
    if nodes == 0 || pods == 0 {
        bail!("--nodes and --pods must be at least 1");
    }
    println!("podlab bench bringup: {pods} pods (one container each) on {nodes} nodes, kernel dataplane\n");
    // Each measurement starts once the kernel has freed the namespaces of earlier ones.
    let rt = tokio::runtime::Handle::current();

    // 1. podlab end to end: nodes, scheduling, sandboxes, network, containers, all Running.
    settle(&rt).await?;
    let podlab = podlab_end_to_end(nodes, pods).await?;

    // 2. The floor: the same namespaces, veths, addresses and routes by a bare rtnetlink loop,
    //    plus one process started in each pod namespace.
    let spawner = Spawner::new();
    settle(&rt).await?;
    let floor = bare_loop::floor(&spawner, &rt, nodes, pods, "bare").await?;

    // 3. Pod network setup alone, podlab's netplugin vs the bare loop, on fresh namespaces.
    settle(&rt).await?;
    let podlab_net = netplugin_alone(&spawner, &rt, nodes, pods).await?;

    print_table(pods, &podlab, &floor, podlab_net);
    Ok(())
}

/// Cluster up, `pods` sleepers applied, all Running (within 120 s), reachability, `down`.
async fn podlab_end_to_end(nodes: usize, pods: usize) -> Result<Podlab> {
    let per_node = pods.div_ceil(nodes) + 1;
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
    let total = t0.elapsed();
    if !all_running {
        cluster.down().await;
        bail!("not all {pods} pods reached Running within 120 s");
    }
    let reach = reachability(&cluster).await;
    let t1 = Instant::now();
    cluster.down().await;
    let teardown = t1.elapsed();
    Ok(Podlab { total, teardown, reach })
}

/// The netplugin's `add_pod` for `pods` fresh pod sandboxes on `nodes` nodes (fabric
/// 172.19.0.0/16, all adds concurrent); returns the time of the adds alone.
async fn netplugin_alone(
    spawner: &Spawner,
    rt: &tokio::runtime::Handle,
    nodes: usize,
    pods: usize,
) -> Result<Duration> {
    let (node_sb, pod_sb) = sandboxes(spawner, nodes, pods, "net").await?;
    let net = ClusterNetwork {
        fabric_cidr: "172.19.0.0/16".parse().expect("literal"),
        ..network()
    };
    let dp = Arc::new(Dataplane::kernel(net.clone(), rt.clone())?);
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
    Ok(t3.elapsed())
}

fn print_table(pods: usize, podlab: &Podlab, floor: &Floor, podlab_net: Duration) {
    let per = |d: Duration| ms(d) / pods as f64;
    println!("{:<44}{:>12}{:>12}{:>10}", "measure", "podlab", "bare loop", "ratio");
    println!(
        "{:<44}{:>10.2}ms{:>10.2}ms{:>9.2}x",
        "bring-up to all Running, per pod",
        per(podlab.total),
        per(floor.total),
        podlab.total.as_secs_f64() / floor.total.as_secs_f64()
    );
    println!(
        "{:<44}{:>10.2}ms{:>10.2}ms{:>9.2}x",
        "pod network setup alone, per pod",
        per(podlab_net),
        floor.net.ms_per_pod(),
        podlab_net.as_secs_f64() / floor.net.pod_setup.as_secs_f64().max(1e-9)
    );
    println!(
        "{:<44}{:>10.0}ms   (target < 500 ms)",
        format!("teardown of {pods} pods"),
        ms(podlab.teardown)
    );
    println!("{:<44}{:>10.0}ms", "bring-up total", ms(podlab.total));
    println!("{:<44}{:>12}", "pods reachable from the first pod", podlab.reach);
    println!("\nreference: the CNI bridge plugin takes 9-14 ms per ADD and ~23 ms per DEL on these machines");
    println!("targets: bring-up <= 2x the bare loop, network setup <= 1.3x");
}
