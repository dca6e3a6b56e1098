//! The kernel dataplane: builds the cluster network out of real bridges, veths, addresses
//! and routes through rtnetlink, with the same bookkeeping as the model dataplane.
//!
//! One rtnetlink socket lives in the fabric namespace (the namespace of the thread that
//! created the dataplane), one is cached per node namespace, and every pod add opens a
//! short-lived socket inside the pod namespace on a dedicated thread.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;
use std::sync::Mutex;

use futures::future::{self, Either};
use ipnetwork::Ipv4Network;
use netlink_packet_route::route::RouteMessage;
use rtnetlink::{Handle, LinkBridge};

use crate::addressing::{
    ClusterNetwork, FABRIC_BRIDGE, NODE_BRIDGE, NODE_UPLINK, NodeAddressing, POD_IFACE, PodNetwork, PodRef, RouteInfo,
    RouteSync,
};
use crate::book::{Book, desired_routes, diff_routes, is_managed_destination};
use crate::error::errno;
use crate::explain::{Explain, ExplainSink};
use crate::model::lock;
use crate::nl;
use crate::ns::{self, NetlinkConnection, Netns};
use crate::reaper::Reaper;
use crate::shaping;
use crate::{LinkShaping, NetError};

/// Cached per-node kernel state.
#[derive(Clone, Debug)]
struct NodeLinks {
    handle: Handle,
    bridge_index: u32,
    /// The node's `eth0` on the fabric.
    uplink_index: u32,
    reaper: Reaper,
}

/// A dataplane that creates real kernel objects.
#[derive(Debug)]
pub struct KernelDataplane {
    book: Mutex<Book>,
    rt: tokio::runtime::Handle,
    fabric: Handle,
    fabric_bridge: tokio::sync::OnceCell<u32>,
    nodes: Mutex<HashMap<String, NodeLinks>>,
    pub(crate) explain: Explain,
}

/// Polls `work` while also driving the private netlink connection it uses.
async fn with_connection<T>(
    conn: NetlinkConnection,
    work: impl std::future::Future<Output = Result<T, NetError>>,
    what: &str,
) -> Result<T, NetError> {
    let work = std::pin::pin!(work);
    match future::select(work, conn).await {
        Either::Left((r, _)) => r,
        Either::Right(((), _)) => Err(NetError::netlink(
            format!("talk to the kernel in {what}: connection closed"),
            rtnetlink::Error::RequestFailed,
        )),
    }
}

impl KernelDataplane {
    /// Opens a netlink socket in the calling thread's namespace (the fabric namespace).
    pub fn new(net: ClusterNetwork, rt: tokio::runtime::Handle) -> Result<Self, NetError> {
        net.validate()?;
        let (conn, fabric) =
            ns::netlink_here(&rt).map_err(|e| NetError::io("open a netlink socket in the fabric namespace", e))?;
        rt.spawn(conn);
        Ok(KernelDataplane {
            book: Mutex::new(Book::new(net)),
            rt,
            fabric,
            fabric_bridge: tokio::sync::OnceCell::new(),
            nodes: Mutex::new(HashMap::new()),
            explain: Explain::default(),
        })
    }

    /// The address plan.
    pub fn network(&self) -> ClusterNetwork {
        lock(&self.book).net.clone()
    }

    fn node_links(&self, node: &str) -> Result<NodeLinks, NetError> {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(node)
            .cloned()
            .ok_or_else(|| NetError::UnknownNode(node.to_string()))
    }

    /// Creates bridge `podlab0` with the fabric gateway address (reuses an existing one).
    pub async fn setup_fabric(&self) -> Result<(), NetError> {
        self.fabric_bridge_index().await.map(|_| ())
    }

    async fn fabric_bridge_index(&self) -> Result<u32, NetError> {
        self.fabric_bridge
            .get_or_try_init(|| async {
                let h = &self.fabric;
                let act = |what: &str| format!("{what} fabric bridge {FABRIC_BRIDGE}");
                let existing = nl::link_by_name(h, FABRIC_BRIDGE)
                    .await
                    .map_err(|e| NetError::netlink(act("look up"), e))?;
                let index = match existing {
                    Some(m) => m.header.index,
                    None => {
                        self.explain.emit(|| format!("ip link add {FABRIC_BRIDGE} type bridge"));
                        match h.link().add(LinkBridge::new(FABRIC_BRIDGE).build()).execute().await {
                            Err(e) if errno(&e) != Some(libc::EEXIST) => {
                                return Err(NetError::netlink(act("create"), e));
                            }
                            _ => {}
                        }
                        nl::link_index(h, FABRIC_BRIDGE, "the fabric namespace").await?
                    }
                };
                self.explain.emit(|| format!("ip link set {FABRIC_BRIDGE} up"));
                nl::set_up(h, index)
                    .await
                    .map_err(|e| NetError::netlink(act("bring up"), e))?;
                let net = lock(&self.book).net.clone();
                let gw = net.fabric_gateway();
                let prefix = net.fabric_cidr.prefix();
                self.explain
                    .emit(|| format!("ip addr add {gw}/{prefix} dev {FABRIC_BRIDGE}"));
                nl::add_address(h, index, gw, prefix)
                    .await
                    .map_err(|e| NetError::netlink(format!("add {gw}/{prefix} to {FABRIC_BRIDGE}"), e))?;
                Ok(index)
            })
            .await
            .copied()
    }

    /// Wires node `node` (held by `netns`) to the fabric and gives it its pod bridge.
    pub async fn setup_node(&self, node: &NodeAddressing, netns: Option<&Netns>) -> Result<(), NetError> {
        let netns = netns.ok_or_else(|| NetError::NetnsRequired(format!("node {}", node.name)))?;
        {
            let mut book = lock(&self.book);
            book.check_new_node(node)?;
            book.insert_node(node.clone());
        }
        match self.build_node(node, netns).await {
            Ok(links) => {
                self.nodes
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(node.name.clone(), links);
                Ok(())
            }
            Err(e) => {
                let _ = nl::delete_link_by_name(&self.fabric, &node.fabric_veth()).await;
                lock(&self.book).nodes.remove(&node.name);
                Err(e)
            }
        }
    }

    async fn build_node(&self, node: &NodeAddressing, netns: &Netns) -> Result<NodeLinks, NetError> {
        let fabric_bridge = self.fabric_bridge_index().await?;
        let n = &node.name;
        let fab = node.fabric_veth();
        let place = format!("node {n}");
        self.explain.emit(|| {
            let mac = nl::mac_text(nl::mac_of(node.node_ip));
            format!(
                "ip link add {fab} master {FABRIC_BRIDGE} up type veth peer name {NODE_UPLINK} address {mac} netns {n}"
            )
        });
        let wire = async {
            self.fabric
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
            ns::netlink_in(netns, &self.rt)
                .await
                .map_err(|e| NetError::io(format!("open a netlink socket in node {n}"), e))
        };
        let (wired, opened) = futures::join!(wire, open);
        wired?;
        let (conn, h) = opened?;
        self.rt.spawn(conn);

        self.explain.emit(|| format!("ip -n {n} link set lo up"));
        self.explain.emit(|| {
            format!(
                "ip -n {n} link add {NODE_BRIDGE} address {} type bridge",
                nl::mac_text(nl::mac_of(node.gateway))
            )
        });
        self.explain.emit(|| format!("ip -n {n} link set {NODE_BRIDGE} up"));
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
        self.explain.emit(|| format!("ip -n {n} link set {NODE_UPLINK} up"));
        self.explain
            .emit(|| format!("ip -n {n} addr add {ip}/{fp} dev {NODE_UPLINK}"));
        self.explain
            .emit(|| format!("ip -n {n} addr add {gw}/{pp} dev {NODE_BRIDGE}"));
        self.explain
            .emit(|| format!("ip netns exec {n} sysctl -w net.ipv4.ip_forward=1"));
        self.explain
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
            reaper: Reaper::new(h.clone(), self.rt.clone()),
            handle: h,
            bridge_index,
            uplink_index: eth0,
        })
    }

    /// Reconciles the host-gw routes inside node `node` with `peers`.
    pub async fn sync_routes(&self, node: &str, peers: &[NodeAddressing]) -> Result<RouteSync, NetError> {
        let links = self.node_links(node)?;
        let (net, addr) = {
            let book = lock(&self.book);
            (book.net.clone(), book.node(node)?.addr.clone())
        };
        let h = &links.handle;
        let desired = desired_routes(&addr, peers);
        let table = nl::main_routes(h)
            .await
            .map_err(|e| NetError::netlink(format!("read the routes of node {node}"), e))?;
        let managed: BTreeMap<Ipv4Network, (Option<Ipv4Addr>, RouteMessage)> = table
            .into_iter()
            .filter(|(dst, _)| is_managed_destination(&net, &addr, dst))
            .collect();
        let actual = managed.iter().map(|(d, (g, _))| (*d, *g)).collect();
        let sync = diff_routes(&desired, &actual);

        // Each peer node's MAC is known from its address: a permanent neighbour entry per peer
        // (not counted against the kernel's shared gc_thresh3 ARP cap, which N nodes resolving
        // each other, N*(N-1) entries, would overflow from about 35 nodes on).
        let neighbours = sync
            .added
            .iter()
            .chain(&sync.replaced)
            .filter_map(|r| r.gateway)
            .map(|gw| {
                self.explain.emit(|| {
                    let mac = nl::mac_text(nl::mac_of(gw));
                    format!("ip -n {node} neigh replace {gw} lladdr {mac} dev {NODE_UPLINK} nud permanent")
                });
                async move {
                    nl::add_permanent_neighbour(h, links.uplink_index, gw, nl::mac_of(gw))
                        .await
                        .map_err(|e| {
                            NetError::netlink(format!("add the neighbour entry of node {gw} in node {node}"), e)
                        })
                }
            });
        let neighbours: Vec<_> = neighbours.collect();
        let mut ops = Vec::new();
        for r in &sync.added {
            let gw = r.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
            self.explain
                .emit(|| format!("ip -n {node} route add {} via {gw}", r.destination));
            ops.push(Either::Left(Either::Left(async move {
                nl::add_route(h, r.destination, gw, false)
                    .await
                    .map_err(|e| NetError::netlink(format!("add route {r} in node {node}"), e))
            })));
        }
        for r in &sync.replaced {
            let gw = r.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED);
            self.explain
                .emit(|| format!("ip -n {node} route replace {} via {gw}", r.destination));
            ops.push(Either::Left(Either::Right(async move {
                nl::add_route(h, r.destination, gw, true)
                    .await
                    .map_err(|e| NetError::netlink(format!("replace route {r} in node {node}"), e))
            })));
        }
        for r in &sync.removed {
            let msg = managed.get(&r.destination).map(|(_, m)| m.clone());
            self.explain
                .emit(|| format!("ip -n {node} route del {}", r.destination));
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
        if let Ok(nb) = lock(&self.book).node_mut(node) {
            nb.host_gw = desired;
        }
        Ok(sync)
    }

    /// Gives pod `pod` (held by `netns`) an address, a veth to the node bridge and a default route.
    pub async fn add_pod(&self, node: &str, pod: &PodRef, netns: Option<&Netns>) -> Result<PodNetwork, NetError> {
        let netns = netns.ok_or_else(|| NetError::NetnsRequired(format!("pod {pod}")))?;
        let links = self.node_links(node)?;
        let mut net = lock(&self.book).reserve_pod(node, pod)?.net;
        let mut created = false;
        match self.build_pod(node, pod, netns, &links, &mut net, &mut created).await {
            Ok(()) => {
                lock(&self.book).commit_pod(node, pod, net.clone(), netns.locator());
                Ok(net)
            }
            Err(e) => {
                if created {
                    self.explain.emit(|| format!("ip -n {node} link del {}", net.host_veth));
                    let _ = nl::delete_link_by_name(&links.handle, &net.host_veth).await;
                }
                lock(&self.book).unreserve(node, pod, &net);
                Err(e)
            }
        }
    }

    async fn build_pod(
        &self,
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
        let create = async {
            loop {
                let veth = net.host_veth.clone();
                self.explain.emit(|| {
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
                                format!(
                                    "create veth {veth} for pod {pod}: the pod namespace already has an {POD_IFACE}"
                                ),
                                e,
                            ));
                        }
                        let next = lock(&self.book).next_veth_name(node, pod, &veth)?;
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
        };
        let open = async {
            ns::netlink_in(netns, &self.rt)
                .await
                .map_err(|e| NetError::io(format!("open a netlink socket in pod {pod}"), e))
        };
        let (created_res, opened) = futures::join!(create, open);
        created_res?;
        let (conn, ph) = opened?;

        let (ip, prefix, gw) = (net.ip, net.prefix, net.gateway);
        self.explain.emit(|| {
            let mac = nl::mac_text(pod_mac);
            format!("ip -n {node} neigh replace {ip} lladdr {mac} dev {NODE_BRIDGE} nud permanent")
        });
        self.explain.emit(|| {
            let mac = nl::mac_text(nl::mac_of(gw));
            format!("ip -n {pns} neigh replace {gw} lladdr {mac} dev {POD_IFACE} nud permanent")
        });
        self.explain
            .emit(|| format!("ip -n {pns} link set {POD_IFACE} addrgenmode none"));
        self.explain.emit(|| format!("ip -n {pns} link set {POD_IFACE} up"));
        self.explain
            .emit(|| format!("ip -n {pns} addr add {ip}/{prefix} dev {POD_IFACE}"));
        self.explain.emit(|| format!("ip -n {pns} link set lo up"));
        self.explain.emit(|| format!("ip -n {pns} route add default via {gw}"));
        let work = async {
            // The peer was made with a known index: no lookup (which would also make the
            // kernel settle the new link's state on the spot, another RCU wait under rtnl).
            let eth0 = nl::FRESH_PEER_INDEX;
            // Sent back to back on one socket: the kernel applies them in order.
            futures::try_join!(
                async {
                    nl::add_permanent_neighbour(h, links.bridge_index, ip, pod_mac)
                        .await
                        .map_err(|e| {
                            NetError::netlink(format!("add the neighbour entry of pod {pod} in node {node}"), e)
                        })
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
        };
        with_connection(conn, work, &format!("pod {pod}")).await
    }

    /// Deletes the pod's veth and its neighbour entry on the node bridge, and releases its
    /// address; unknown pods are fine (CNI DEL).
    pub async fn del_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        let net = match lock(&self.book).pod_network(node, pod) {
            Some(net) => net,
            None => return Ok(()),
        };
        let links = self.node_links(node)?;
        let veth = net.host_veth;
        self.explain.emit(|| format!("ip -n {node} link del {veth}"));
        links
            .reaper
            .delete(&veth)
            .await
            .map_err(|e| NetError::netlink(format!("delete veth {veth} of pod {pod} in node {node}"), e))?;
        self.delete_pod_neighbour(node, &links, pod, net.ip).await?;
        lock(&self.book).take_pod(node, pod);
        Ok(())
    }

    /// Removes the node bridge's permanent entry for a pod's address (`add_pod` wrote it),
    /// so `ip neigh` on the node lists only pods that exist.
    async fn delete_pod_neighbour(
        &self,
        node: &str,
        links: &NodeLinks,
        pod: &PodRef,
        ip: Ipv4Addr,
    ) -> Result<(), NetError> {
        self.explain
            .emit(|| format!("ip -n {node} neigh del {ip} dev {NODE_BRIDGE}"));
        nl::delete_neighbour(&links.handle, links.bridge_index, ip)
            .await
            .map_err(|e| NetError::netlink(format!("delete the neighbour entry of pod {pod} in node {node}"), e))
    }

    /// For a pod whose namespace is gone (its veth went with it): removes its neighbour entry
    /// on the node bridge, then releases its address. The address stays reserved until the
    /// entry is gone, so a new pod given the same address cannot lose its own entry to this.
    /// Unknown pods are fine; a failure to remove the entry is reported, the address is
    /// released all the same.
    pub async fn release_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        let ip = lock(&self.book).pod_network(node, pod).map(|n| n.ip);
        let removed = match (ip, self.node_links(node)) {
            (Some(ip), Ok(links)) => self.delete_pod_neighbour(node, &links, pod, ip).await,
            _ => Ok(()),
        };
        self.forget_pod(node, pod);
        removed
    }

    /// Verifies the pod's veth, address and default route are in place in the kernel.
    pub async fn check_pod(&self, node: &str, pod: &PodRef) -> Result<(), NetError> {
        let (net, locator) = {
            let book = lock(&self.book);
            let nb = book.node(node)?;
            let e = nb.pods.get(pod).ok_or_else(|| NetError::UnknownPod {
                pod: pod.to_string(),
                node: node.to_string(),
            })?;
            (e.net.clone(), e.ns.clone())
        };
        let fail = |problem: String| NetError::CheckFailed {
            pod: pod.to_string(),
            node: node.to_string(),
            problem,
        };
        let links = self.node_links(node)?;
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
        let (conn, ph) = ns::netlink_in(&pod_ns, &self.rt)
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

    /// Releases the pod's address without touching the kernel (its namespace is already gone).
    pub fn forget_pod(&self, node: &str, pod: &PodRef) {
        lock(&self.book).take_pod(node, pod);
    }

    /// Removes the node's fabric veth and forgets the node and its pods (unknown nodes are fine).
    pub async fn teardown_node(&self, node: &str) -> Result<(), NetError> {
        let removed = lock(&self.book).nodes.remove(node);
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).remove(node);
        if let Some(nb) = removed {
            let fab = nb.addr.fabric_veth();
            self.explain.emit(|| format!("ip link del {fab}"));
            nl::delete_link_by_name(&self.fabric, &fab)
                .await
                .map_err(|e| NetError::netlink(format!("delete veth {fab} of node {node}"), e))?;
        }
        Ok(())
    }

    /// Cut (`up = false`) or restore a node's uplink: its fabric-side veth goes down or up, as
    /// when a machine's cable is pulled. The node's own namespaces and pods stay as they are.
    pub async fn set_uplink(&self, node: &str, up: bool) -> Result<(), NetError> {
        let fab = lock(&self.book).node(node)?.addr.fabric_veth();
        let index = nl::link_index(&self.fabric, &fab, "the fabric namespace").await?;
        self.explain
            .emit(|| format!("ip link set {fab} {}", if up { "up" } else { "down" }));
        let msg = rtnetlink::LinkUnspec::new_with_index(index);
        let msg = if up { msg.up() } else { msg.down() };
        self.fabric.link().set(msg.build()).execute().await.map_err(|e| {
            NetError::netlink(
                format!("set {fab} of node {node} {}", if up { "up" } else { "down" }),
                e,
            )
        })
    }

    /// Shapes both ends of node `node`'s uplink (see [`crate::Dataplane::shape_uplink`]).
    pub async fn shape_uplink(&self, node: &str, shaping: &LinkShaping) -> Result<(), NetError> {
        let links = self.node_links(node)?;
        let fab = lock(&self.book).node(node)?.addr.fabric_veth();
        let plan = shaping::plan(shaping);
        let node_side = async {
            let place = format!("node {node}");
            let eth0 = nl::link_index(&links.handle, NODE_UPLINK, &place).await?;
            self.shape_one(&links.handle, eth0, &format!("-n {node} "), NODE_UPLINK, &place, &plan)
                .await
        };
        let fabric_side = async {
            let place = "the fabric namespace";
            let index = nl::link_index(&self.fabric, &fab, place).await?;
            self.shape_one(&self.fabric, index, "", &fab, place, &plan).await
        };
        futures::try_join!(node_side, fabric_side)?;
        if let Ok(nb) = lock(&self.book).node_mut(node) {
            nb.shaping = (!shaping.is_bare()).then_some(*shaping);
        }
        Ok(())
    }

    async fn shape_one(
        &self,
        h: &Handle,
        index: u32,
        ns_flag: &str,
        dev: &str,
        place: &str,
        plan: &[shaping::QdiscPlan],
    ) -> Result<(), NetError> {
        let what = format!("{dev} in {place}");
        if plan.is_empty() {
            self.explain.emit(|| format!("tc {ns_flag}qdisc del dev {dev} root"));
            return shaping::delete_root_qdisc(h, index, &what).await;
        }
        for q in plan {
            self.explain
                .emit(|| format!("tc {ns_flag}qdisc replace dev {dev} {}", q.tc_args));
            shaping::replace_qdisc(h, index, q, &what).await?;
        }
        Ok(())
    }

    /// The shaping last set on node `node`'s uplink.
    pub fn uplink_shaping(&self, node: &str) -> Option<LinkShaping> {
        lock(&self.book).node(node).ok()?.shaping
    }

    /// The pod's network, if it has one.
    pub fn pod_network(&self, node: &str, pod: &PodRef) -> Option<PodNetwork> {
        lock(&self.book).pod_network(node, pod)
    }

    /// The route table node `node` is expected to have.
    pub fn routes(&self, node: &str) -> Vec<RouteInfo> {
        lock(&self.book).routes(node)
    }

    /// The explain sink holder (shared with [`crate::Dataplane::set_explain`]).
    pub(crate) fn set_explain(&self, sink: Option<ExplainSink>) {
        self.explain.set(sink);
    }
}
