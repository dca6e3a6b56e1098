//! The kernel steps of the bridge + host-gw layout, through rtnetlink: a node's uplink veth to
//! the fabric bridge, its pod bridge and forwarding; host-gw routes with permanent neighbour
//! entries for the peer nodes; each pod's veth, address, neighbour entries and default route.
//! Every step is also reported to the explain hook as the equivalent iproute2 command.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use futures::future::{self, Either};
use ipnetwork::Ipv4Network;
use netlink_packet_route::route::RouteMessage;
use rtnetlink::LinkBridge;

use super::{FABRIC_BRIDGE, NODE_BRIDGE, NODE_UPLINK, POD_IFACE};
use crate::NetError;
use crate::addressing::{NodeAddressing, PodNetwork, PodRef, RouteSync};
use crate::error::{Errors, errno};
use crate::kernel::{KernelDataplane, NodeLinks, with_connection};
use crate::nl;
use crate::ns::{self, Netns, NetnsLocator};
use crate::reaper::Reaper;

/// Wires node `node` to the fabric (veth `fab-<i>` on `podlab0` ↔ `eth0` in the node) and
/// builds bridge `cni0`, addresses and forwarding; on failure removes the fabric end.
pub(super) async fn build_node(
    k: &KernelDataplane,
    node: &NodeAddressing,
    netns: &Netns,
) -> Result<NodeLinks, NetError> {
    let built = wire_and_configure(k, node, netns).await;
    if built.is_err() {
        let _ = nl::delete_link_by_name(&k.fabric, &node.fabric_veth()).await;
    }
    built
}

async fn wire_and_configure(k: &KernelDataplane, node: &NodeAddressing, netns: &Netns) -> Result<NodeLinks, NetError> {
    let fabric_bridge = k.fabric_bridge_index().await?;
    let n = &node.name;
    let fab = node.fabric_veth();
    k.explain.emit(|| {
        let mac = nl::mac_text(nl::mac_of(node.node_ip));
        format!("ip link add {fab} master {FABRIC_BRIDGE} up type veth peer name {NODE_UPLINK} address {mac} netns {n}")
    });
    let wire = async {
        k.fabric
            .link()
            .add(nl::veth_into(
                &fab,
                Some(fabric_bridge),
                NODE_UPLINK,
                netns.as_raw_fd(),
                // A fixed MAC (from its address), so peer nodes can be given it in advance.
                Some(nl::mac_of(node.node_ip)),
            ))
            .execute()
            .await
            .map_err(|e| NetError::netlink(format!("create veth {fab} to node {n}"), e))
    };
    let open = async {
        ns::netlink_in(netns, &k.rt)
            .await
            .map_err(|e| NetError::io(format!("open a netlink socket in node {n}"), e))
    };
    let (wired, opened) = futures::join!(wire, open);
    wired?;
    let (conn, h) = opened?;
    k.rt.spawn(conn);
    configure_node(k, node, netns, h).await
}

/// Inside the node: `lo` up, bridge `cni0` (fixed MAC), `eth0` up with the node IP, the pod
/// gateway on `cni0`, `ip_forward` on, bridges kept out of netfilter.
async fn configure_node(
    k: &KernelDataplane,
    node: &NodeAddressing,
    netns: &Netns,
    h: rtnetlink::Handle,
) -> Result<NodeLinks, NetError> {
    let n = &node.name;
    let place = format!("node {n}");
    k.explain.emit(|| format!("ip -n {n} link set lo up"));
    k.explain.emit(|| {
        format!(
            "ip -n {n} link add {NODE_BRIDGE} address {} type bridge",
            nl::mac_text(nl::mac_of(node.gateway))
        )
    });
    k.explain.emit(|| format!("ip -n {n} link set {NODE_BRIDGE} up"));
    let (_, eth0, ()) = futures::try_join!(
        async {
            nl::set_up(&h, nl::LOOPBACK_INDEX)
                .await
                .map_err(|e| NetError::netlink(format!("bring up lo in node {n}"), e))
        },
        nl::link_index(&h, NODE_UPLINK, &place),
        async {
            h.link()
                .add({
                    // A fixed MAC (from its address), so pods can be given it in advance.
                    let mut m = LinkBridge::new(NODE_BRIDGE).build();
                    m.attributes.push(netlink_packet_route::link::LinkAttribute::Address(
                        nl::mac_of(node.gateway).to_vec(),
                    ));
                    m
                })
                .execute()
                .await
                .map_err(|e| NetError::netlink(format!("create bridge {NODE_BRIDGE} in node {n}"), e))
        },
    )?;
    let bridge_index = nl::link_index(&h, NODE_BRIDGE, &place).await?;
    let (ip, fp, gw, pp) = (node.node_ip, node.fabric_prefix, node.gateway, node.pod_subnet.prefix());
    k.explain.emit(|| format!("ip -n {n} link set {NODE_UPLINK} up"));
    k.explain
        .emit(|| format!("ip -n {n} addr add {ip}/{fp} dev {NODE_UPLINK}"));
    k.explain
        .emit(|| format!("ip -n {n} addr add {gw}/{pp} dev {NODE_BRIDGE}"));
    k.explain
        .emit(|| format!("ip netns exec {n} sysctl -w net.ipv4.ip_forward=1"));
    k.explain
        .emit(|| format!("ip netns exec {n} sysctl -w net.bridge.bridge-nf-call-iptables=0 net.bridge.bridge-nf-call-ip6tables=0 net.bridge.bridge-nf-call-arptables=0"));
    futures::try_join!(
        async {
            nl::set_up(&h, eth0)
                .await
                .map_err(|e| NetError::netlink(format!("bring up {NODE_UPLINK} in node {n}"), e))
        },
        async {
            nl::add_address(&h, eth0, ip, fp)
                .await
                .map_err(|e| NetError::netlink(format!("add {ip}/{fp} to {NODE_UPLINK} in node {n}"), e))
        },
        async {
            nl::add_address(&h, bridge_index, gw, pp)
                .await
                .map_err(|e| NetError::netlink(format!("add {gw}/{pp} to {NODE_BRIDGE} in node {n}"), e))
        },
        async {
            ns::write_sysctl_in(netns, "/proc/sys/net/ipv4/ip_forward", "1")
                .await
                .map_err(|e| NetError::io(format!("enable ip_forward in node {n}"), e))
        },
        async {
            ns::bridges_skip_netfilter_in(netns)
                .await
                .map_err(|e| NetError::io(format!("let bridge {NODE_BRIDGE} in node {n} skip iptables"), e))
        },
    )?;
    Ok(NodeLinks {
        reaper: Reaper::new(h.clone(), k.rt.clone()),
        handle: h,
        bridge_index,
        uplink_index: eth0,
    })
}

/// Applies a host-gw route sync in node `node`: a permanent neighbour entry for every new next
/// hop, then the route adds, replaces and deletes (`managed`: the node's current routes).
pub(super) async fn apply_routes(
    k: &KernelDataplane,
    node: &str,
    links: &NodeLinks,
    sync: &RouteSync,
    managed: &BTreeMap<Ipv4Network, RouteMessage>,
) -> Result<(), NetError> {
    let h = &links.handle;
    // Each peer node's MAC is known from its address: a permanent neighbour entry per peer
    // (not counted against the kernel's shared gc_thresh3 ARP cap, which N nodes resolving
    // each other, N*(N-1) entries, would overflow from about 35 nodes on).
    let neighbours = sync
        .added
        .iter()
        .chain(&sync.replaced)
        .filter_map(|r| r.gateway)
        .map(|gw| {
            k.explain.emit(|| {
                let mac = nl::mac_text(nl::mac_of(gw));
                format!("ip -n {node} neigh replace {gw} lladdr {mac} dev {NODE_UPLINK} nud permanent")
            });
            async move {
                nl::add_permanent_neighbour(h, links.uplink_index, gw, nl::mac_of(gw))
                    .await
                    .map_err(|e| NetError::netlink(format!("add the neighbour entry of node {gw} in node {node}"), e))
            }
        });
    let neighbours: Vec<_> = neighbours.collect();
    let mut ops = Vec::new();
    for r in &sync.added {
        let gw = r.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
        k.explain
            .emit(|| format!("ip -n {node} route add {} via {gw}", r.destination));
        ops.push(Either::Left(Either::Left(async move {
            nl::add_route(h, r.destination, gw, false)
                .await
                .map_err(|e| NetError::netlink(format!("add route {r} in node {node}"), e))
        })));
    }
    for r in &sync.replaced {
        let gw = r.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
        k.explain
            .emit(|| format!("ip -n {node} route replace {} via {gw}", r.destination));
        ops.push(Either::Left(Either::Right(async move {
            nl::add_route(h, r.destination, gw, true)
                .await
                .map_err(|e| NetError::netlink(format!("replace route {r} in node {node}"), e))
        })));
    }
    for r in &sync.removed {
        let msg = managed.get(&r.destination).cloned();
        k.explain.emit(|| format!("ip -n {node} route del {}", r.destination));
        ops.push(Either::Right(async move {
            let Some(msg) = msg else { return Ok(()) };
            match h.route().del(msg).execute().await {
                Err(e) if errno(&e) != Some(libc::ESRCH) => {
                    Err(NetError::netlink(format!("delete route {r} in node {node}"), e))
                }
                _ => Ok(()),
            }
        }));
    }
    futures::try_join!(future::try_join_all(neighbours), future::try_join_all(ops))?;
    Ok(())
}

/// Builds the pod's veth (`vethXXXXXXXX` on `cni0` ↔ `eth0` in the pod), neighbour entries,
/// address and default route; on failure deletes the veth if it was made.
pub(super) async fn add_pod(
    k: &KernelDataplane,
    node: &str,
    pod: &PodRef,
    netns: &Netns,
    links: &NodeLinks,
    net: &mut PodNetwork,
) -> Result<(), NetError> {
    let mut created = false;
    let built = build_pod(k, node, pod, netns, links, net, &mut created).await;
    if built.is_err() && created {
        k.explain.emit(|| format!("ip -n {node} link del {}", net.host_veth));
        let _ = nl::delete_link_by_name(&links.handle, &net.host_veth).await;
    }
    built
}

async fn build_pod(
    k: &KernelDataplane,
    node: &str,
    pod: &PodRef,
    netns: &Netns,
    links: &NodeLinks,
    net: &mut PodNetwork,
    created: &mut bool,
) -> Result<(), NetError> {
    let open = async {
        ns::netlink_in(netns, &k.rt)
            .await
            .map_err(|e| NetError::io(format!("open a netlink socket in pod {pod}"), e))
    };
    let (created_res, opened) = futures::join!(create_veth(k, node, pod, netns, links, net, created), open);
    created_res?;
    let (conn, ph) = opened?;
    let work = configure_pod(k, node, pod, links, net, ph);
    with_connection(conn, work, &format!("pod {pod}")).await
}

/// Creates the pod's veth, moving on to the next name candidate while a foreign link in the
/// node holds the name. Sets `created` once the veth exists.
async fn create_veth(
    k: &KernelDataplane,
    node: &str,
    pod: &PodRef,
    netns: &Netns,
    links: &NodeLinks,
    net: &mut PodNetwork,
    created: &mut bool,
) -> Result<(), NetError> {
    let h = &links.handle;
    let pns = pod.name.as_str();
    let pod_mac = nl::mac_of(net.ip);
    loop {
        let veth = net.host_veth.clone();
        k.explain.emit(|| {
            let mac = nl::mac_text(pod_mac);
            format!("ip -n {node} link add {veth} master {NODE_BRIDGE} up type veth peer name {POD_IFACE} address {mac} netns {pns}")
        });
        let msg = nl::veth_into(
            &veth,
            Some(links.bridge_index),
            POD_IFACE,
            netns.as_raw_fd(),
            Some(pod_mac),
        );
        match h.link().add(msg).execute().await {
            Ok(()) => {
                *created = true;
                return Ok(());
            }
            Err(e) if errno(&e) == Some(libc::EBUSY) => {
                return Err(NetError::netlink(
                    format!(
                        "create veth {veth} for pod {pod}: the pod namespace already has a link with index {}",
                        nl::FRESH_PEER_INDEX
                    ),
                    e,
                ));
            }
            Err(e) if errno(&e) == Some(libc::EEXIST) => {
                // Whose name is taken: a foreign link in the node, or eth0 in the pod?
                let host_taken = nl::link_by_name(h, &veth).await.ok().flatten().is_some();
                if !host_taken {
                    return Err(NetError::netlink(
                        format!("create veth {veth} for pod {pod}: the pod namespace already has an {POD_IFACE}"),
                        e,
                    ));
                }
                let next = k.shared.lock().next_veth_name(node, pod, &veth)?;
                net.host_veth = next;
            }
            Err(e) => {
                return Err(NetError::netlink(
                    format!("create veth {veth} in node {node} for pod {pod}"),
                    e,
                ));
            }
        }
    }
}

/// The pod side, sent back to back on one socket each (the kernel applies them in order): the
/// node bridge's entry for the pod, the pod's entry for its gateway, `eth0` (IPv4 only, up,
/// address), `lo` up and the default route via the gateway.
async fn configure_pod(
    k: &KernelDataplane,
    node: &str,
    pod: &PodRef,
    links: &NodeLinks,
    net: &PodNetwork,
    ph: rtnetlink::Handle,
) -> Result<(), NetError> {
    let h = &links.handle;
    let pns = pod.name.as_str();
    let pod_mac = nl::mac_of(net.ip);
    let (ip, prefix, gw) = (net.ip, net.prefix, net.gateway);
    k.explain.emit(|| {
        let mac = nl::mac_text(pod_mac);
        format!("ip -n {node} neigh replace {ip} lladdr {mac} dev {NODE_BRIDGE} nud permanent")
    });
    k.explain.emit(|| {
        let mac = nl::mac_text(nl::mac_of(gw));
        format!("ip -n {pns} neigh replace {gw} lladdr {mac} dev {POD_IFACE} nud permanent")
    });
    k.explain
        .emit(|| format!("ip -n {pns} link set {POD_IFACE} addrgenmode none"));
    k.explain.emit(|| format!("ip -n {pns} link set {POD_IFACE} up"));
    k.explain
        .emit(|| format!("ip -n {pns} addr add {ip}/{prefix} dev {POD_IFACE}"));
    k.explain.emit(|| format!("ip -n {pns} link set lo up"));
    k.explain.emit(|| format!("ip -n {pns} route add default via {gw}"));
    // The peer was made with a known index: no lookup (which would also make the
    // kernel settle the new link's state on the spot, another RCU wait under rtnl).
    let eth0 = nl::FRESH_PEER_INDEX;
    futures::try_join!(
        async {
            nl::add_permanent_neighbour(h, links.bridge_index, ip, pod_mac)
                .await
                .map_err(|e| NetError::netlink(format!("add the neighbour entry of pod {pod} in node {node}"), e))
        },
        async {
            nl::add_permanent_neighbour(&ph, eth0, gw, nl::mac_of(gw))
                .await
                .map_err(|e| NetError::netlink(format!("add the gateway's neighbour entry in pod {pod}"), e))
        },
        async {
            nl::ipv4_only_link(&ph, eth0)
                .await
                .map_err(|e| NetError::netlink(format!("turn IPv6 off on {POD_IFACE} in pod {pod}"), e))
        },
        async {
            nl::set_up(&ph, eth0)
                .await
                .map_err(|e| NetError::netlink(format!("bring up {POD_IFACE} in pod {pod}"), e))
        },
        async {
            nl::add_address(&ph, eth0, ip, prefix)
                .await
                .map_err(|e| NetError::netlink(format!("add {ip}/{prefix} to {POD_IFACE} in pod {pod}"), e))
        },
        async {
            nl::set_up(&ph, nl::LOOPBACK_INDEX)
                .await
                .map_err(|e| NetError::netlink(format!("bring up lo in pod {pod}"), e))
        },
        async {
            let default = Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid");
            nl::add_route(&ph, default, gw, false)
                .await
                .map_err(|e| NetError::netlink(format!("add default route via {gw} in pod {pod}"), e))
        },
    )?;
    drop(ph);
    Ok(())
}

/// Deletes the pod's veth and its neighbour entry on the node bridge; both are tried.
pub(super) async fn del_pod(
    k: &KernelDataplane,
    node: &str,
    links: &NodeLinks,
    pod: &PodRef,
    net: &PodNetwork,
) -> Vec<NetError> {
    let mut errors = Errors::default();
    let veth = &net.host_veth;
    k.explain.emit(|| format!("ip -n {node} link del {veth}"));
    errors.note(
        links
            .reaper
            .delete(veth)
            .await
            .map_err(|e| NetError::netlink(format!("delete veth {veth} of pod {pod} in node {node}"), e)),
    );
    errors.note(delete_pod_neighbour(k, node, links, pod, net.ip).await);
    errors.into_vec()
}

/// Removes the node bridge's permanent entry for a pod's address (`add_pod` wrote it), so
/// `ip neigh` on the node lists only pods that exist.
pub(super) async fn delete_pod_neighbour(
    k: &KernelDataplane,
    node: &str,
    links: &NodeLinks,
    pod: &PodRef,
    ip: Ipv4Addr,
) -> Result<(), NetError> {
    k.explain
        .emit(|| format!("ip -n {node} neigh del {ip} dev {NODE_BRIDGE}"));
    nl::delete_neighbour(&links.handle, links.bridge_index, ip)
        .await
        .map_err(|e| NetError::netlink(format!("delete the neighbour entry of pod {pod} in node {node}"), e))
}

/// Verifies the host veth (up, on `cni0`) and, when the pod's namespace is known, its `eth0`
/// (up, with the address) and default route via the gateway.
pub(super) async fn check_pod(
    k: &KernelDataplane,
    node: &str,
    links: &NodeLinks,
    pod: &PodRef,
    net: &PodNetwork,
    locator: Option<&NetnsLocator>,
) -> Result<(), NetError> {
    let fail = |problem: String| NetError::CheckFailed {
        pod: pod.to_string(),
        node: node.to_string(),
        problem,
    };
    let host = nl::link_by_name(&links.handle, &net.host_veth)
        .await
        .map_err(|e| NetError::netlink(format!("look up veth {} in node {node}", net.host_veth), e))?
        .ok_or_else(|| fail(format!("veth {} is missing in the node", net.host_veth)))?;
    if !nl::is_up(&host) {
        return Err(fail(format!("veth {} is down", net.host_veth)));
    }
    if nl::controller_of(&host) != Some(links.bridge_index) {
        return Err(fail(format!("veth {} is not attached to {NODE_BRIDGE}", net.host_veth)));
    }
    let Some(locator) = locator else {
        return Ok(());
    };
    let pod_ns = locator
        .open()
        .map_err(|_| fail("its network namespace is gone".to_string()))?;
    let (conn, ph) = ns::netlink_in(&pod_ns, &k.rt)
        .await
        .map_err(|e| NetError::io(format!("open a netlink socket in pod {pod}"), e))?;
    let work = async {
        let eth0 = nl::link_by_name(&ph, POD_IFACE)
            .await
            .map_err(|e| NetError::netlink(format!("look up {POD_IFACE} in pod {pod}"), e))?
            .ok_or_else(|| fail(format!("{POD_IFACE} is missing in the pod")))?;
        if !nl::is_up(&eth0) {
            return Err(fail(format!("{POD_IFACE} is down in the pod")));
        }
        let addrs = nl::addresses(&ph, eth0.header.index)
            .await
            .map_err(|e| NetError::netlink(format!("read addresses in pod {pod}"), e))?;
        let want = Ipv4Network::new(net.ip, net.prefix).expect("prefix from subnet");
        if !addrs.contains(&want) {
            return Err(fail(format!("{POD_IFACE} does not have {want}")));
        }
        let routes = nl::main_routes(&ph)
            .await
            .map_err(|e| NetError::netlink(format!("read routes in pod {pod}"), e))?;
        let default = Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid");
        match routes.get(&default) {
            Some((Some(gw), _)) if *gw == net.gateway => Ok(()),
            _ => Err(fail(format!("no default route via {}", net.gateway))),
        }
    };
    with_connection(conn, work, &format!("pod {pod}")).await
}

/// Deletes the node's fabric veth (its namespace takes the rest).
pub(super) async fn teardown_node(k: &KernelDataplane, node: &NodeAddressing) -> Vec<NetError> {
    let mut errors = Errors::default();
    let fab = node.fabric_veth();
    k.explain.emit(|| format!("ip link del {fab}"));
    errors.note(
        nl::delete_link_by_name(&k.fabric, &fab)
            .await
            .map_err(|e| NetError::netlink(format!("delete veth {fab} of node {}", node.name), e)),
    );
    errors.into_vec()
}
