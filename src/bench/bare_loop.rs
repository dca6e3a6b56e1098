//! The benchmarks' baseline: a "bare rtnetlink loop" that builds the same fabric, node
//! bridges, routes, pod veths, addresses and default routes as podlab's netplugin with the
//! plainest sequential rtnetlink calls, no IPAM and no bookkeeping, and reports how long it
//! took; plus the kernel floor of a bring-up (that loop and one `sleep` per pod), the wait
//! for the kernel's namespace cleanup, and the bare veth pair of the throughput benchmark.
//!
//! Pod `k` goes to node `k % N` and gets host address `2 + k / N` of that node's subnet.
//! Kernel work goes through rtnetlink only (never `ip`).

use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::TryStreamExt;
use ipnetwork::Ipv4Network;
use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkMessage};
use podlab_netplugin::ns::{self, Netns};
use podlab_netplugin::{ClusterNetwork, NODE_BRIDGE, NODE_UPLINK, NodeAddressing, POD_IFACE};
use podlab_node_agent::{Sandbox, Spawner};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

/// Timings of one bare run.
#[derive(Clone, Debug, PartialEq)]
pub struct BareReport {
    /// Number of nodes set up.
    pub nodes: usize,
    /// Number of pods wired.
    pub pods: usize,
    /// Fabric bridge + node wiring + bridges + all routes.
    pub node_setup: Duration,
    /// All pod veths, addresses and default routes.
    pub pod_setup: Duration,
}

impl BareReport {
    /// Average pod network setup time in milliseconds.
    pub fn ms_per_pod(&self) -> f64 {
        if self.pods == 0 {
            0.0
        } else {
            self.pod_setup.as_secs_f64() * 1000.0 / self.pods as f64
        }
    }
}

/// Index of the loopback device in every network namespace.
const LOOPBACK_INDEX: u32 = 1;
/// Index the peer of [`veth_into`] gets in the fresh namespace it is created in.
const FRESH_PEER_INDEX: u32 = 2;

/// The errno carried by a netlink error, if any (positive).
fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| c.get().abs()),
        _ => None,
    }
}

/// Looks a link up by name; `Ok(None)` if it does not exist.
async fn link_by_name(h: &Handle, name: &str) -> Result<Option<LinkMessage>, rtnetlink::Error> {
    match h.link().get().match_name(name).execute().try_next().await {
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        r => r,
    }
}

/// Index of link `name`, failing with a message naming it and `place` if it is missing.
async fn link_index(h: &Handle, name: &str, place: &str) -> Result<u32> {
    link_by_name(h, name)
        .await?
        .map(|m| m.header.index)
        .with_context(|| format!("find link {name} in {place}"))
}

async fn set_up(h: &Handle, index: u32) -> Result<(), rtnetlink::Error> {
    h.link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
}

async fn add_address(h: &Handle, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<(), rtnetlink::Error> {
    h.address().add(index, IpAddr::V4(ip), prefix).execute().await
}

async fn add_route(h: &Handle, dst: Ipv4Network, gw: Ipv4Addr) -> Result<(), rtnetlink::Error> {
    let msg = RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(dst.network(), dst.prefix())
        .gateway(gw)
        .build();
    h.route().add(msg).execute().await
}

/// A veth `name` (up) whose peer `peer` is created directly inside the fresh namespace
/// `peer_ns` with index [`FRESH_PEER_INDEX`], both ends with one TX and one RX queue: the
/// same message as the netplugin's (a veth made without saying so gets one queue per CPU
/// and is then cut down under the rtnl lock, which would serialise the loop).
fn veth_into(name: &str, peer: &str, peer_ns: RawFd) -> LinkMessage {
    let queues = [LinkAttribute::NumTxQueues(1), LinkAttribute::NumRxQueues(1)];
    let mut peer_msg = LinkUnspec::new_with_name(peer).setns_by_fd(peer_ns).build();
    peer_msg.header.index = FRESH_PEER_INDEX;
    peer_msg.attributes.extend(queues.clone());
    let mut msg = LinkVeth::new(name, peer)
        .up()
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
        .build();
    msg.attributes.extend(queues);
    msg
}

/// Turns IPv6 address generation off on link `index` (no link-local address, no DAD), as
/// the netplugin does for a pod's `eth0`. A kernel without IPv6 has nothing to turn off.
async fn ipv4_only_link(h: &Handle, index: u32) -> Result<(), rtnetlink::Error> {
    use netlink_packet_route::link::{AfSpecInet6, AfSpecUnspec, In6AddrGenMode};
    let mut msg = LinkUnspec::new_with_index(index).build();
    msg.attributes
        .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(vec![
            AfSpecInet6::AddrGenMode(In6AddrGenMode::None),
        ])]));
    match h.link().set(msg).execute().await {
        Err(e) if matches!(errno(&e), Some(libc::EAFNOSUPPORT) | Some(libc::EOPNOTSUPP)) => Ok(()),
        r => r,
    }
}

/// Builds a cluster network the plain way: bridge `fabric_bridge` in the calling thread's
/// namespace, node `i+1` in `nodes[i]`, pod `k` in the namespace of `pods[k]` (opened only
/// while it is wired, as podlab does: 10,000 held namespaces would meet RLIMIT_NOFILE). The names used in the fabric
/// namespace (`fabric_bridge`, `bfab-<i>`) must not collide with a live cluster there.
pub async fn run(
    net: &ClusterNetwork,
    rt: &tokio::runtime::Handle,
    fabric_bridge: &str,
    nodes: &[Netns],
    pods: &[Sandbox],
) -> Result<BareReport> {
    let start = Instant::now();
    let (conn, fabric) = ns::netlink_here(rt).context("open a netlink socket")?;
    rt.spawn(conn);
    fabric
        .link()
        .add(LinkBridge::new(fabric_bridge).build())
        .execute()
        .await
        .with_context(|| format!("create bridge {fabric_bridge}"))?;
    let fb = link_index(&fabric, fabric_bridge, "the fabric namespace").await?;
    add_address(&fabric, fb, net.fabric_gateway(), net.fabric_cidr.prefix())
        .await
        .with_context(|| format!("address {fabric_bridge}"))?;

    let mut addrs: Vec<NodeAddressing> = Vec::new();
    let mut handles: Vec<(Handle, u32)> = Vec::new();
    for (i, node_ns) in nodes.iter().enumerate() {
        let index = u32::try_from(i + 1).context("too many nodes")?;
        let a = net.node(index, &format!("bare-{index}"))?;
        handles.push(bare_node(rt, &fabric, fb, node_ns, &a).await?);
        addrs.push(a);
    }
    for (i, (h, _)) in handles.iter().enumerate() {
        for (j, peer) in addrs.iter().enumerate() {
            if i != j {
                add_route(h, peer.pod_subnet, peer.node_ip)
                    .await
                    .with_context(|| format!("add route to {}", peer.pod_subnet))?;
            }
        }
    }
    let node_setup = start.elapsed();

    let start = Instant::now();
    if !nodes.is_empty() {
        for (k, pod) in pods.iter().enumerate() {
            let pod_ns = pod.netns().context("open a pod's network namespace")?;
            let pod_ns: &Netns = &pod_ns;
            let n = k % nodes.len();
            let (h, br) = &handles[n];
            let a = &addrs[n];
            let host = u32::try_from(2 + k / nodes.len()).unwrap_or(u32::MAX);
            let ip = Ipv4Addr::from(u32::from(a.pod_subnet.network()).saturating_add(host));
            bare_pod(rt, h, *br, k, pod_ns, ip, a).await?;
        }
    }
    Ok(BareReport {
        nodes: nodes.len(),
        pods: pods.len(),
        node_setup,
        pod_setup: start.elapsed(),
    })
}

/// Wires node `a` (namespace `node_ns`) to the fabric bridge `fb`: veth `bfab-<i>` ↔ `eth0`
/// with the node IP, `lo` up, bridge `cni0` with the pod gateway, `ip_forward` on. Returns a
/// netlink handle in the node and the index of its `cni0`.
async fn bare_node(
    rt: &tokio::runtime::Handle,
    fabric: &Handle,
    fb: u32,
    node_ns: &Netns,
    a: &NodeAddressing,
) -> Result<(Handle, u32)> {
    let fab = format!("bfab-{}", a.index);
    fabric
        .link()
        .add(veth_into(&fab, NODE_UPLINK, node_ns.as_raw_fd()))
        .execute()
        .await
        .with_context(|| format!("create veth {fab}"))?;
    let fi = link_index(fabric, &fab, "the fabric namespace").await?;
    fabric
        .link()
        .set(LinkUnspec::new_with_index(fi).controller(fb).build())
        .execute()
        .await
        .with_context(|| format!("attach {fab}"))?;
    set_up(fabric, fi).await.with_context(|| format!("bring up {fab}"))?;

    let (conn, h) = ns::netlink_in(node_ns, rt)
        .await
        .context("open a netlink socket in a node")?;
    rt.spawn(conn);
    let place = format!("node {}", a.name);
    set_up(&h, LOOPBACK_INDEX).await.context("bring up lo")?;
    let eth0 = link_index(&h, NODE_UPLINK, &place).await?;
    set_up(&h, eth0).await.context("bring up eth0")?;
    add_address(&h, eth0, a.node_ip, a.fabric_prefix)
        .await
        .context("address eth0")?;
    h.link()
        .add(LinkBridge::new(NODE_BRIDGE).build())
        .execute()
        .await
        .context("create cni0")?;
    let br = link_index(&h, NODE_BRIDGE, &place).await?;
    add_address(&h, br, a.gateway, a.pod_subnet.prefix())
        .await
        .context("address cni0")?;
    ns::write_sysctl_in(node_ns, "/proc/sys/net/ipv4/ip_forward", "1")
        .await
        .context("enable ip_forward")?;
    Ok((h, br))
}

/// Wires pod `k` (namespace `pod_ns`) to bridge `bridge` of node `a`: veth `bveth<k>` ↔
/// `eth0` (IPv4 only) with `ip`, `lo` up, default route via the node's gateway.
async fn bare_pod(
    rt: &tokio::runtime::Handle,
    h: &Handle,
    bridge: u32,
    k: usize,
    pod_ns: &Netns,
    ip: Ipv4Addr,
    a: &NodeAddressing,
) -> Result<()> {
    let veth = format!("bveth{k:08x}");
    h.link()
        .add(veth_into(&veth, POD_IFACE, pod_ns.as_raw_fd()))
        .execute()
        .await
        .with_context(|| format!("create veth {veth}"))?;
    let vi = link_index(h, &veth, "a node").await?;
    h.link()
        .set(LinkUnspec::new_with_index(vi).controller(bridge).build())
        .execute()
        .await
        .with_context(|| format!("attach {veth}"))?;
    set_up(h, vi).await.with_context(|| format!("bring up {veth}"))?;

    let (conn, ph) = ns::netlink_in(pod_ns, rt)
        .await
        .context("open a netlink socket in a pod")?;
    rt.spawn(conn);
    let eth0 = FRESH_PEER_INDEX;
    ipv4_only_link(&ph, eth0).await.context("turn IPv6 off on pod eth0")?;
    set_up(&ph, eth0).await.context("bring up pod eth0")?;
    add_address(&ph, eth0, ip, a.pod_subnet.prefix())
        .await
        .context("address pod eth0")?;
    set_up(&ph, LOOPBACK_INDEX).await.context("bring up pod lo")?;
    let default = Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0)?;
    add_route(&ph, default, a.gateway)
        .await
        .context("add pod default route")?;
    Ok(())
}

/// What [`floor`] measured.
#[derive(Clone, Debug)]
pub struct Floor {
    /// From creating the first sandbox to the last `sleep` started.
    pub total: Duration,
    /// The bare loop's own network timings within `total`.
    pub net: BareReport,
}

/// The kernel floor of a bring-up: `nodes` node and `pods` pod sandboxes (named
/// `<prefix>-…`), wired by [`run`] (bridge `bare0` in the calling thread's namespace), plus
/// one `sleep 3600` process in each pod. Timed from the first sandbox to the last process;
/// then, untimed, the processes are killed and reaped and the sandboxes dropped.
pub async fn floor(
    spawner: &Spawner,
    rt: &tokio::runtime::Handle,
    nodes: usize,
    pods: usize,
    prefix: &str,
) -> Result<Floor> {
    let t = Instant::now();
    let (node_sb, pod_sb) = super::sandboxes(spawner, nodes, pods, prefix).await?;
    let netns_of = |sbs: &[Sandbox]| -> std::io::Result<Vec<Netns>> {
        sbs.iter().map(|s| s.netns().and_then(|n| n.into_owned())).collect()
    };
    let node_ns = netns_of(&node_sb)?;
    let net = run(&super::network(), rt, "bare0", &node_ns, &pod_sb).await?;
    let mut procs = Vec::new();
    for sb in &pod_sb {
        let log = podlab_node_agent::logs::LogFile::new(prefix)?;
        let proc = spawner.spawn_process(podlab_node_agent::spawner::ProcessSpec {
            stdin: None,
            program: "sleep".into(),
            args: vec!["3600".into()],
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            join: sb.join_fds(),
            stdout: log.writer()?,
            stderr: log.writer()?,
            cwd: std::env::temp_dir(),
        })?;
        procs.push(proc);
    }
    let total = t.elapsed();
    drop(node_ns);
    for p in procs {
        p.kill_and_reap();
    }
    drop((pod_sb, node_sb));
    Ok(Floor { total, net })
}

/// Waits until the kernel has finished freeing every network namespace dropped before this
/// call (up to `limit`), so a measurement does not pay for an earlier one's teardown: the
/// kernel frees namespaces in a background worker, seconds after the last process left a
/// thousand of them, holding the locks that making new ones needs.
///
/// How: a throw-away namespace whose veth peer sits in the calling thread's namespace is
/// dropped last; namespaces are freed in order, so once that veth is gone, all earlier ones
/// are. Returns how long it waited.
pub async fn wait_for_namespace_cleanup(rt: &tokio::runtime::Handle, limit: Duration) -> Result<Duration> {
    let start = Instant::now();
    let probe = std::thread::spawn(|| -> std::io::Result<Netns> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
        Netns::current()
    })
    .join()
    .map_err(|_| anyhow::anyhow!("make a probe namespace: thread panicked"))?
    .context("make a probe namespace")?;
    let (conn, here) = ns::netlink_here(rt).context("open a netlink socket")?;
    rt.spawn(conn);
    let name = format!("plcln{:x}", std::process::id() & 0xfff_ffff);
    here.link()
        .add(veth_into(&name, "probe0", probe.as_raw_fd()))
        .execute()
        .await
        .with_context(|| format!("create probe veth {name}"))?;
    drop(probe);
    while link_by_name(&here, &name)
        .await
        .with_context(|| format!("look for probe veth {name}"))?
        .is_some()
    {
        if start.elapsed() > limit {
            let _ = delete_link_by_name(&here, &name).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(start.elapsed())
}

/// Deletes link `name`; a link that is already gone is fine.
async fn delete_link_by_name(h: &Handle, name: &str) -> Result<(), rtnetlink::Error> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    match h.link().del_with_message(msg).execute().await {
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
        r => r,
    }
}

/// One veth pair between namespaces `a` and `b` (each holding only `lo`): `a_name` with
/// `a_ip/prefix` in `a`, `b_name` with `b_ip/prefix` in `b`, both up, and `lo` up on both
/// sides: what `ip link add a_name type veth peer name b_name netns ...`, `ip addr add` and
/// `ip link set ... up` would build. The "limit" path of the throughput benchmark.
pub async fn veth_pair(
    rt: &tokio::runtime::Handle,
    (a, a_name, a_ip): (&Netns, &str, Ipv4Addr),
    (b, b_name, b_ip): (&Netns, &str, Ipv4Addr),
    prefix: u8,
) -> Result<()> {
    let (conn, ha) = ns::netlink_in(a, rt)
        .await
        .context("open a netlink socket in the first namespace")?;
    rt.spawn(conn);
    ha.link()
        .add(veth_into(a_name, b_name, b.as_raw_fd()))
        .execute()
        .await
        .with_context(|| format!("create veth {a_name} with peer {b_name}"))?;
    let ai = link_index(&ha, a_name, "the first namespace").await?;
    add_address(&ha, ai, a_ip, prefix)
        .await
        .with_context(|| format!("address {a_name}"))?;
    set_up(&ha, LOOPBACK_INDEX).await.context("bring up lo")?;

    let (conn, hb) = ns::netlink_in(b, rt)
        .await
        .context("open a netlink socket in the second namespace")?;
    rt.spawn(conn);
    let bi = link_index(&hb, b_name, "the second namespace").await?;
    add_address(&hb, bi, b_ip, prefix)
        .await
        .with_context(|| format!("address {b_name}"))?;
    set_up(&hb, bi).await.with_context(|| format!("bring up {b_name}"))?;
    set_up(&hb, LOOPBACK_INDEX).await.context("bring up lo")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use podlab_netplugin::{Dataplane, PodRef};

    const PODS: usize = 200;

    fn pod(i: usize) -> PodRef {
        PodRef::new("default", &format!("p{i}"), &format!("uid-p{i}"))
    }

    fn node_of(i: usize) -> &'static str {
        if i.is_multiple_of(2) { "worker-1" } else { "worker-2" }
    }

    /// Pod network setup of the netplugin (sequential adds, concurrent adds, deletes) against
    /// the bare loop, 200 pods on 2 nodes, each in a fresh fabric namespace. Prints figures.
    #[test]
    #[ignore = "benchmark: needs root; run with --ignored --nocapture"]
    fn bench_real_path_against_bare_loop() {
        let bare = crate::bench::peers::in_fresh_netns("bare loop", |rt| {
            rt.block_on(async {
                let spawner = Spawner::new();
                let (nodes, pods) = crate::bench::sandboxes(&spawner, 2, PODS, "tbare").await?;
                let netns_of = |sbs: &[Sandbox]| -> std::io::Result<Vec<Netns>> {
                    sbs.iter().map(|s| s.netns().and_then(|n| n.into_owned())).collect()
                };
                run(
                    &ClusterNetwork::default(),
                    rt.handle(),
                    "bare0",
                    &netns_of(&nodes)?,
                    &pods,
                )
                .await
            })
        })
        .expect("bare loop");
        let (seq, conc) = crate::bench::peers::in_fresh_netns("netplugin", |rt| {
            rt.block_on(async {
                let spawner = Spawner::new();
                let dp = Dataplane::kernel(ClusterNetwork::default(), rt.handle().clone())?;
                dp.setup_fabric().await?;
                let (node_sb, pods) = crate::bench::sandboxes(&spawner, 2, PODS, "treal").await?;
                let nodes: Vec<NodeAddressing> = (1..=2)
                    .map(|i| ClusterNetwork::default().node(i, &format!("worker-{i}")))
                    .collect::<Result<_, _>>()?;
                for (n, sb) in nodes.iter().zip(&node_sb) {
                    dp.setup_node(n, Some(&*sb.netns()?)).await?;
                }
                for n in &nodes {
                    dp.sync_routes(&n.name, &nodes).await?;
                }
                let start = Instant::now();
                for (i, sb) in pods.iter().enumerate() {
                    dp.add_pod(node_of(i), &pod(i), Some(&*sb.netns()?)).await?;
                }
                let seq = start.elapsed().as_secs_f64() * 1000.0 / PODS as f64;
                for i in 0..PODS {
                    dp.forget_pod(node_of(i), &pod(i));
                }
                drop(pods);
                let (_, pods) = crate::bench::sandboxes(&spawner, 0, PODS, "treal2").await?;
                let start = Instant::now();
                let refs: Vec<PodRef> = (0..PODS).map(pod).collect();
                let netns = pods.iter().map(|sb| sb.netns()).collect::<std::io::Result<Vec<_>>>()?;
                let adds = netns
                    .iter()
                    .enumerate()
                    .map(|(i, ns)| dp.add_pod(node_of(i), &refs[i], Some(&**ns)));
                futures::future::try_join_all(adds).await?;
                let conc = start.elapsed().as_secs_f64() * 1000.0 / PODS as f64;
                let start = Instant::now();
                let dels = refs.iter().enumerate().skip(20).map(|(i, p)| dp.del_pod(node_of(i), p));
                futures::future::try_join_all(dels).await?;
                eprintln!(
                    "podlab del_pod: {:.3} ms/pod ({} concurrent deletes)",
                    start.elapsed().as_secs_f64() * 1000.0 / (PODS - 20) as f64,
                    PODS - 20
                );
                let start = Instant::now();
                for (i, p) in refs.iter().enumerate().take(20) {
                    dp.del_pod(node_of(i), p).await?;
                }
                eprintln!(
                    "podlab del_pod: {:.3} ms/pod (single deletes)",
                    start.elapsed().as_secs_f64() * 1000.0 / 20.0
                );
                Ok((seq, conc))
            })
        })
        .expect("netplugin");
        eprintln!(
            "bare loop: {:.3} ms/pod | podlab sequential: {:.3} ms/pod ({:.2}x) | podlab concurrent: {:.3} ms/pod",
            bare.ms_per_pod(),
            seq,
            seq / bare.ms_per_pod(),
            conc
        );
    }
}
