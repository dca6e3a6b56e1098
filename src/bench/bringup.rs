//! `podlab bench bringup`: how fast podlab builds a cluster, against a bare rtnetlink loop
//! doing the same kernel work in the same process (the floor), at one size or a list of sizes
//! (`--sizes 100,1000,5000`, nodes = pods / 100). Per size: bring-up to all Running, the
//! floor, pod network setup alone, teardown, every pod probed from a pod on another node, and
//! the whole cluster's peak memory (PSS of podlab and every pause and container process) with
//! its processes, threads and descriptors, and what one more container's `/sys` costs the
//! kernel before and with the pods up (see [`super::sysfs_mount`]). A size the machine cannot hold (the control
//! plane's preflight) is named and skipped. The table is printed by [`super::sizes`].

use super::bare_loop::{self, Floor};
use super::footprint::{Footprint, Sampler};
use super::peers::in_fresh_netns;
use super::sizes::{self, Measured, Outcome, Podlab, Size, SysfsMount};
use super::{network, options, reachability, sandboxes, settle, sleeper};
use anyhow::{Context, Result, bail};
use podlab_control_plane::Cluster;
use podlab_netplugin::{ClusterNetwork, Dataplane, PodRef};
use podlab_node_agent::Spawner;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bring up each size the podlab way and the bare way; print each as it is measured, then the
/// table of all of them. `markdown` prints that table as Markdown. Each size runs in a fresh
/// fabric namespace with a runtime of its own, so nothing of one size is in the next one's way.
pub fn bringup(list: &[Size], markdown: bool) -> Result<()> {
    if list.is_empty() || list.iter().any(|s| s.nodes == 0 || s.pods == 0) {
        bail!("every size needs at least one node and one pod");
    }
    let shown: Vec<String> = list.iter().map(Size::to_string).collect();
    println!(
        "podlab bench bringup: {} (one container per pod), kernel dataplane\n",
        shown.join("; ")
    );
    let mut results = Vec::new();
    for size in list {
        println!("{size}:");
        let size = *size;
        let outcome = match sizes::preflight(&size) {
            Some(why) => Outcome::NotRun(why),
            None => match in_fresh_netns(&size.to_string(), move |rt| rt.block_on(measure(size))) {
                Ok(m) => Outcome::Done(Box::new(m)),
                Err(e) => Outcome::Failed(format!("{e:#}")),
            },
        };
        sizes::print_block(&size, &outcome);
        results.push((size, outcome));
    }
    sizes::print_table(&results, markdown);
    Ok(())
}

/// One size: podlab end to end, the floor, the netplugin alone; each starts once the kernel
/// has freed the namespaces of the one before.
async fn measure(size: Size) -> Result<Measured> {
    let rt = tokio::runtime::Handle::current();
    let Size { nodes, pods } = size;

    // 1. podlab end to end: nodes, scheduling, sandboxes, network, containers, all Running.
    settle(&rt, pods).await?;
    let podlab = podlab_end_to_end(nodes, pods).await?;

    // 2. The floor: the same namespaces, veths, addresses and routes by a bare rtnetlink loop,
    //    plus one process started in each pod namespace.
    let spawner = Spawner::new();
    settle(&rt, pods).await?;
    let floor: Floor = bare_loop::floor(&spawner, &rt, nodes, pods, "bare").await?;

    // 3. Pod network setup alone, podlab's netplugin vs the bare loop, on fresh namespaces.
    settle(&rt, pods).await?;
    let net = netplugin_alone(&spawner, &rt, nodes, pods).await?;
    Ok(Measured { podlab, floor, net })
}

/// Cluster up, `pods` sleepers applied, all Running (within 60 s + 20 ms a pod),
/// reachability, `down`; the process tree sampled throughout.
async fn podlab_end_to_end(nodes: usize, pods: usize) -> Result<Podlab> {
    let per_node = pods.div_ceil(nodes) + 1;
    let sysfs_before = super::sysfs_mount::one_more();
    let sampler = Sampler::start(std::process::id());
    let t0 = Instant::now();
    let cluster = Cluster::up(options("bench", nodes, per_node), &|_| {}).await?;
    for i in 0..pods {
        cluster.apply_pod(sleeper(i))?;
    }
    let limit = Duration::from_secs(60) + Duration::from_millis(20) * pods as u32;
    let all_running = cluster
        .wait_for(limit, |c| {
            let (all, n) = c.all_pods(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
            all && n == pods
        })
        .await;
    let total = t0.elapsed();
    if !all_running {
        let running = count_running(&cluster);
        cluster.down().await;
        bail!("only {running} of {pods} pods reached Running within {limit:?}");
    }
    let at_running = sample_now().await;
    let sysfs_up = super::sysfs_mount::one_more();
    let reach = reachability(&cluster).await;
    let after_reach = sample_now().await;
    let peak = sampler.finish(&[at_running, after_reach]);
    let t1 = Instant::now();
    cluster.down().await;
    let teardown = t1.elapsed();
    Ok(Podlab {
        pods,
        total,
        teardown,
        reach,
        peak,
        sysfs: SysfsMount {
            before: sysfs_before,
            up: sysfs_up,
        },
    })
}

/// Pods Running now.
fn count_running(cluster: &Cluster) -> usize {
    let mut n = 0;
    cluster.all_pods(|p| {
        if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
            n += 1;
        }
        true
    });
    n
}

/// One sample of this process's tree now, off the async workers.
async fn sample_now() -> Footprint {
    let root = std::process::id();
    tokio::task::spawn_blocking(move || super::footprint::measure(root))
        .await
        .unwrap_or_default()
}

/// The netplugin's `add_pod` for `pods` fresh pod sandboxes on `nodes` nodes (fabric
/// 172.19.0.0/16, as many adds in flight as the kubelet wires pods at once); returns the time
/// of the adds alone.
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
        dp.setup_node(&a, Some(&*sb.netns()?)).await?;
        addrs.push(a);
    }
    // As many adds in flight as the kubelet allows pods being wired (each holds its pod's
    // namespace and a netlink socket: 10,000 at once met RLIMIT_NOFILE beside the pidfds).
    let slots = Arc::new(tokio::sync::Semaphore::new(podlab_node_agent::kubelet::STARTING_SLOTS));
    let t3 = Instant::now();
    let mut tasks = Vec::new();
    for (k, sb) in pod_sb.iter().enumerate() {
        let dp = dp.clone();
        let node = addrs[k % nodes].name.clone();
        let permit = slots.clone().acquire_owned().await.context("wiring slots")?;
        let ns = sb.netns()?.into_owned()?;
        tasks.push(tokio::spawn(async move {
            let pod = PodRef {
                namespace: "default".into(),
                name: format!("p{k}"),
                uid: format!("uid-{k}"),
            };
            let added = dp.add_pod(&node, &pod, Some(&ns)).await;
            drop((ns, permit));
            added
        }));
    }
    for t in tasks {
        t.await.context("pod network task")??;
    }
    Ok(t3.elapsed())
}
