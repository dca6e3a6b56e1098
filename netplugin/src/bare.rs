//! The benchmark baseline: a "bare rtnetlink loop" that builds the same fabric, node
//! bridges, routes, pod veths, addresses and default routes with the plainest sequential
//! rtnetlink calls, no IPAM and no bookkeeping, and reports how long it took.
//!
//! Pod `k` goes to node `k % N` and gets host address `2 + k / N` of that node's subnet.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ipnetwork::Ipv4Network;
use rtnetlink::{Handle, LinkBridge, LinkUnspec};

use crate::NetError;
use crate::addressing::{ClusterNetwork, NODE_BRIDGE, NODE_UPLINK, NodeAddressing, POD_IFACE};
use crate::nl;
use crate::ns::{self, Netns};

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

fn nl_err(what: String) -> impl FnOnce(rtnetlink::Error) -> NetError {
    move |e| NetError::netlink(what, e)
}

/// Builds a cluster network the plain way: bridge `fabric_bridge` in the calling thread's
/// namespace, node `i+1` in `nodes[i]`, pod `k` in `pods[k]`. The names used in the fabric
/// namespace (`fabric_bridge`, `bfab-<i>`) must not collide with a live cluster there.
pub async fn run(
    net: &ClusterNetwork,
    rt: &tokio::runtime::Handle,
    fabric_bridge: &str,
    nodes: &[Netns],
    pods: &[Netns],
) -> Result<BareReport, NetError> {
    let start = Instant::now();
    let (conn, fabric) = ns::netlink_here(rt).map_err(|e| NetError::io("open a netlink socket", e))?;
    rt.spawn(conn);
    fabric
        .link()
        .add(LinkBridge::new(fabric_bridge).build())
        .execute()
        .await
        .map_err(nl_err(format!("create bridge {fabric_bridge}")))?;
    let fb = nl::link_index(&fabric, fabric_bridge, "the fabric namespace").await?;
    nl::add_address(&fabric, fb, net.fabric_gateway(), net.fabric_cidr.prefix())
        .await
        .map_err(nl_err(format!("address {fabric_bridge}")))?;

    let mut addrs: Vec<NodeAddressing> = Vec::new();
    let mut handles: Vec<(Handle, u32)> = Vec::new();
    for (i, node_ns) in nodes.iter().enumerate() {
        let index = u32::try_from(i + 1).map_err(|_| NetError::InvalidConfig("too many nodes".into()))?;
        let a = net.node(index, &format!("bare-{index}"))?;
        let fab = format!("bfab-{index}");
        fabric
            .link()
            .add(nl::veth_into(&fab, None, NODE_UPLINK, node_ns.as_raw_fd(), None))
            .execute()
            .await
            .map_err(nl_err(format!("create veth {fab}")))?;
        let fi = nl::link_index(&fabric, &fab, "the fabric namespace").await?;
        fabric
            .link()
            .set(LinkUnspec::new_with_index(fi).controller(fb).build())
            .execute()
            .await
            .map_err(nl_err(format!("attach {fab}")))?;
        nl::set_up(&fabric, fi)
            .await
            .map_err(nl_err(format!("bring up {fab}")))?;

        let (conn, h) = ns::netlink_in(node_ns, rt)
            .await
            .map_err(|e| NetError::io("open a netlink socket in a node", e))?;
        rt.spawn(conn);
        let place = format!("node {}", a.name);
        nl::set_up(&h, nl::LOOPBACK_INDEX)
            .await
            .map_err(nl_err("bring up lo".into()))?;
        let eth0 = nl::link_index(&h, NODE_UPLINK, &place).await?;
        nl::set_up(&h, eth0).await.map_err(nl_err("bring up eth0".into()))?;
        nl::add_address(&h, eth0, a.node_ip, a.fabric_prefix)
            .await
            .map_err(nl_err("address eth0".into()))?;
        h.link()
            .add(LinkBridge::new(NODE_BRIDGE).build())
            .execute()
            .await
            .map_err(nl_err("create cni0".into()))?;
        let br = nl::link_index(&h, NODE_BRIDGE, &place).await?;
        nl::add_address(&h, br, a.gateway, a.pod_subnet.prefix())
            .await
            .map_err(nl_err("address cni0".into()))?;
        ns::write_sysctl_in(node_ns, "/proc/sys/net/ipv4/ip_forward", "1")
            .await
            .map_err(|e| NetError::io("enable ip_forward", e))?;
        addrs.push(a);
        handles.push((h, br));
    }
    for (i, (h, _)) in handles.iter().enumerate() {
        for (j, peer) in addrs.iter().enumerate() {
            if i != j {
                nl::add_route(h, peer.pod_subnet, peer.node_ip, false)
                    .await
                    .map_err(nl_err(format!("add route to {}", peer.pod_subnet)))?;
            }
        }
    }
    let node_setup = start.elapsed();

    let start = Instant::now();
    if !nodes.is_empty() {
        for (k, pod_ns) in pods.iter().enumerate() {
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

async fn bare_pod(
    rt: &tokio::runtime::Handle,
    h: &Handle,
    bridge: u32,
    k: usize,
    pod_ns: &Netns,
    ip: Ipv4Addr,
    a: &NodeAddressing,
) -> Result<(), NetError> {
    let veth = format!("bveth{k:08x}");
    h.link()
        .add(nl::veth_into(&veth, None, POD_IFACE, pod_ns.as_raw_fd(), None))
        .execute()
        .await
        .map_err(nl_err(format!("create veth {veth}")))?;
    let vi = nl::link_index(h, &veth, "a node").await?;
    h.link()
        .set(LinkUnspec::new_with_index(vi).controller(bridge).build())
        .execute()
        .await
        .map_err(nl_err(format!("attach {veth}")))?;
    nl::set_up(h, vi).await.map_err(nl_err(format!("bring up {veth}")))?;

    let (conn, ph) = ns::netlink_in(pod_ns, rt)
        .await
        .map_err(|e| NetError::io("open a netlink socket in a pod", e))?;
    rt.spawn(conn);
    let eth0 = nl::FRESH_PEER_INDEX;
    nl::ipv4_only_link(&ph, eth0)
        .await
        .map_err(nl_err("turn IPv6 off on pod eth0".into()))?;
    nl::set_up(&ph, eth0)
        .await
        .map_err(nl_err("bring up pod eth0".into()))?;
    nl::add_address(&ph, eth0, ip, a.pod_subnet.prefix())
        .await
        .map_err(nl_err("address pod eth0".into()))?;
    nl::set_up(&ph, nl::LOOPBACK_INDEX)
        .await
        .map_err(nl_err("bring up pod lo".into()))?;
    let default = Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid");
    nl::add_route(&ph, default, a.gateway, false)
        .await
        .map_err(nl_err("add pod default route".into()))?;
    Ok(())
}

/// Waits until the kernel has finished freeing every network namespace dropped before this
/// call (up to `limit`), so a measurement does not pay for an earlier one's teardown: the
/// kernel frees namespaces in a background worker, seconds after the last process left a
/// thousand of them, holding the locks that making new ones needs.
///
/// How: a throw-away namespace whose veth peer sits in the calling thread's namespace is
/// dropped last; namespaces are freed in order, so once that veth is gone, all earlier ones
/// are. Returns how long it waited.
pub async fn wait_for_namespace_cleanup(rt: &tokio::runtime::Handle, limit: Duration) -> Result<Duration, NetError> {
    let start = Instant::now();
    let probe = std::thread::spawn(|| -> std::io::Result<Netns> {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)?;
        Netns::current()
    })
    .join()
    .map_err(|_| NetError::io("make a probe namespace", std::io::Error::other("thread panicked")))?
    .map_err(|e| NetError::io("make a probe namespace", e))?;
    let (conn, here) = ns::netlink_here(rt).map_err(|e| NetError::io("open a netlink socket", e))?;
    rt.spawn(conn);
    let name = format!("plcln{:x}", std::process::id() & 0xfff_ffff);
    here.link()
        .add(nl::veth_into(&name, None, "probe0", probe.as_raw_fd(), None))
        .execute()
        .await
        .map_err(nl_err(format!("create probe veth {name}")))?;
    drop(probe);
    while nl::link_by_name(&here, &name)
        .await
        .map_err(nl_err(format!("look for probe veth {name}")))?
        .is_some()
    {
        if start.elapsed() > limit {
            let _ = nl::delete_link_by_name(&here, &name).await;
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(start.elapsed())
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
) -> Result<(), NetError> {
    let (conn, ha) = ns::netlink_in(a, rt)
        .await
        .map_err(|e| NetError::io("open a netlink socket in the first namespace", e))?;
    rt.spawn(conn);
    ha.link()
        .add(nl::veth_into(a_name, None, b_name, b.as_raw_fd(), None))
        .execute()
        .await
        .map_err(nl_err(format!("create veth {a_name} with peer {b_name}")))?;
    let ai = nl::link_index(&ha, a_name, "the first namespace").await?;
    nl::add_address(&ha, ai, a_ip, prefix)
        .await
        .map_err(nl_err(format!("address {a_name}")))?;
    nl::set_up(&ha, nl::LOOPBACK_INDEX)
        .await
        .map_err(nl_err("bring up lo".into()))?;

    let (conn, hb) = ns::netlink_in(b, rt)
        .await
        .map_err(|e| NetError::io("open a netlink socket in the second namespace", e))?;
    rt.spawn(conn);
    let bi = nl::link_index(&hb, b_name, "the second namespace").await?;
    nl::add_address(&hb, bi, b_ip, prefix)
        .await
        .map_err(nl_err(format!("address {b_name}")))?;
    nl::set_up(&hb, bi)
        .await
        .map_err(nl_err(format!("bring up {b_name}")))?;
    nl::set_up(&hb, nl::LOOPBACK_INDEX)
        .await
        .map_err(nl_err("bring up lo".into()))?;
    Ok(())
}
