//! The walk behind [`super::compute`]: where the packet is (in a stack being routed, or just
//! in through a link), one step at a time, asking each namespace's kernel (route lookups,
//! bridge ports, veth peers) and recording a hop per step.

use std::net::Ipv4Addr;

use super::{Endpoint, Hop, TracePath, forwarding_on};
use crate::NetError;
use crate::addressing::NodeAddressing;
use crate::inspect::{self, LinkInfo, NsSnapshot};
use crate::layout::NetworkLayout;
use crate::ns::Netns;

/// A namespace the walk may visit, with its socket and snapshot fetched on first use.
struct Space<'a> {
    label: String,
    netns: &'a Netns,
    /// Index into the node list: the node itself, or the node a pod runs on.
    node: Option<usize>,
    /// True for a node's own namespace.
    is_node: bool,
    handle: Option<rtnetlink::Handle>,
    snap: Option<NsSnapshot>,
}

/// Where the packet is.
enum At {
    /// In a namespace's IP stack, about to be routed (`iif: None` at the sender).
    Stack { ns: usize, iif: Option<LinkInfo> },
    /// Just came in through `link`, heading for next hop `nh`.
    Entered { ns: usize, link: LinkInfo, nh: Ipv4Addr },
}

/// What a bridge does with a frame for `nh`.
enum BridgeOut {
    /// The bridge's own namespace takes it (it owns `nh`).
    Local,
    /// Out of this port.
    Port(LinkInfo),
    /// Nowhere: why.
    Broken(String),
}

const MAX_STEPS: usize = 64;

pub(super) struct Walk<'a> {
    layout: &'a dyn NetworkLayout,
    spaces: Vec<Space<'a>>,
    nodes: &'a [(NodeAddressing, Netns)],
    /// The nodes' addressing alone (what the layout's descriptions take).
    addrs: Vec<NodeAddressing>,
    rt: tokio::runtime::Handle,
    src: usize,
    dst: usize,
    fabric: usize,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    dst_label: String,
    hops: Vec<Hop>,
    /// The packet's TTL at the current step.
    pub(super) ttl: u8,
    router_hops: usize,
    complete: bool,
}

impl<'a> Walk<'a> {
    pub(super) fn new(
        layout: &'a dyn NetworkLayout,
        src: &'a Endpoint,
        dst: &'a Endpoint,
        nodes: &'a [(NodeAddressing, Netns)],
        fabric: &'a Netns,
        rt: &tokio::runtime::Handle,
    ) -> Result<Self, NetError> {
        let mut w = Walk {
            layout,
            spaces: Vec::new(),
            nodes,
            addrs: nodes.iter().map(|(n, _)| n.clone()).collect(),
            rt: rt.clone(),
            src: 0,
            dst: 0,
            fabric: 0,
            src_ip: src.ip,
            dst_ip: dst.ip,
            dst_label: dst.label.clone(),
            hops: Vec::new(),
            ttl: 64,
            router_hops: 0,
            complete: false,
        };
        w.fabric = w.add("fabric".to_string(), fabric, None, false)?;
        for (i, (n, ns)) in nodes.iter().enumerate() {
            w.add(format!("node {}", n.name), ns, Some(i), true)?;
        }
        let node_index = |e: &Endpoint| {
            e.node
                .as_ref()
                .and_then(|name| nodes.iter().position(|(n, _)| &n.name == name))
                .or_else(|| {
                    nodes
                        .iter()
                        .position(|(n, _)| n.pod_subnet.contains(e.ip) || n.node_ip == e.ip)
                })
        };
        w.src = w.add(src.label.clone(), &src.netns, node_index(src), false)?;
        w.dst = w.add(dst.label.clone(), &dst.netns, node_index(dst), false)?;
        Ok(w)
    }

    /// Adds a namespace (or finds it, when it is one already known) and returns its index.
    fn add(&mut self, label: String, netns: &'a Netns, node: Option<usize>, is_node: bool) -> Result<usize, NetError> {
        for (i, s) in self.spaces.iter().enumerate() {
            let same = s
                .netns
                .same_as(netns)
                .map_err(|e| NetError::io(format!("compare the namespace of {label}"), e))?;
            if same {
                return Ok(i);
            }
        }
        self.spaces.push(Space {
            label,
            netns,
            node,
            is_node,
            handle: None,
            snap: None,
        });
        Ok(self.spaces.len() - 1)
    }

    pub(super) fn finish(self, broken: Option<String>) -> TracePath {
        TracePath {
            hops: self.hops,
            complete: self.complete && broken.is_none(),
            broken_at: broken,
            router_hops: self.router_hops,
        }
    }

    fn label(&self, i: usize) -> &str {
        &self.spaces[i].label
    }

    async fn handle(&mut self, i: usize) -> Result<rtnetlink::Handle, NetError> {
        if let Some(h) = &self.spaces[i].handle {
            return Ok(h.clone());
        }
        let h = inspect::open(self.spaces[i].netns, &self.rt).await?;
        self.spaces[i].handle = Some(h.clone());
        Ok(h)
    }

    async fn snap(&mut self, i: usize) -> Result<NsSnapshot, NetError> {
        if let Some(s) = &self.spaces[i].snap {
            return Ok(s.clone());
        }
        let h = self.handle(i).await?;
        let s = inspect::snapshot_with(&h, &self.spaces[i].label).await?;
        self.spaces[i].snap = Some(s.clone());
        Ok(s)
    }

    fn hop(&mut self, ns: usize, interface: &str, action: String, route: Option<String>) {
        let n = self.hops.len() + 1;
        self.hops.push(Hop {
            n,
            namespace: self.label(ns).to_string(),
            interface: interface.to_string(),
            action,
            route,
            ttl: Some(self.ttl),
        });
    }

    /// Records the step where the path stops and returns the reason.
    fn stop(&mut self, ns: usize, interface: &str, why: String) -> Option<String> {
        let reason = format!("{}: {why}", self.label(ns));
        self.hop(ns, interface, format!("stops here: {why}"), None);
        Some(reason)
    }

    /// `" (node worker-2)"`, `" (cni0 of node worker-1)"` (the layout's words), `" (pod
    /// default/db)"` or empty.
    fn who(&self, ip: Ipv4Addr) -> String {
        if ip == self.dst_ip {
            return format!(" ({})", self.dst_label);
        }
        if let Some(w) = self.layout.describe_address(ip, &self.addrs) {
            return format!(" ({w})");
        }
        if ip == self.src_ip {
            return format!(" ({})", self.label(self.src));
        }
        String::new()
    }

    /// Walks from the source to the destination; `Some(reason)` if the path breaks.
    pub(super) async fn run(&mut self) -> Result<Option<String>, NetError> {
        let mut at = At::Stack {
            ns: self.src,
            iif: None,
        };
        for _ in 0..MAX_STEPS {
            at = match at {
                At::Stack { ns, iif } => match self.route(ns, iif).await? {
                    Ok(next) => next,
                    Err(stop) => return Ok(stop),
                },
                At::Entered { ns, link, nh } => match self.entered(ns, link, nh).await? {
                    Ok(next) => next,
                    Err(stop) => return Ok(stop),
                },
            };
        }
        let last = self.hops.last().map(|h| h.namespace.clone()).unwrap_or_default();
        Ok(Some(format!(
            "{last}: the packet goes round in circles ({MAX_STEPS} steps without arriving)"
        )))
    }

    /// A routing decision in namespace `ns` (the sender's, or a router's for a packet that came
    /// in through `iif`). `Ok(Err(stop))`: the path ends here (`stop` is `None` on arrival).
    async fn route(&mut self, ns: usize, iif: Option<LinkInfo>) -> Result<Result<At, Option<String>>, NetError> {
        let snap = self.snap(ns).await?;
        let (dst, src) = (self.dst_ip, self.src_ip);
        if ns == self.dst {
            let iface = snap
                .link_with_ip(dst)
                .map(|l| l.name.clone())
                .unwrap_or_else(|| "lo".into());
            if snap.link_with_ip(dst).is_none() {
                return Ok(Err(self.stop(
                    ns,
                    &iface,
                    format!("{dst} is not an address of this namespace"),
                )));
            }
            self.complete = true;
            self.hop(
                ns,
                &iface,
                format!("arrives: {dst} is its own address, delivered to {}", self.dst_label),
                None,
            );
            return Ok(Err(None));
        }
        let h = self.handle(ns).await?;
        let input = iif.as_ref().map(|l| (src, l.index));
        let label = self.label(ns).to_string();
        let (found, kind) = inspect::lookup(&h, dst, input, &label).await?;
        let here = iif.as_ref().map(|l| l.name.clone()).unwrap_or_else(|| "-".into());
        if let Some(why) = &found.unreachable {
            if iif.is_some() && !forwarding_on(self.spaces[ns].netns).await {
                return Ok(Err(self.stop(
                    ns,
                    &here,
                    format!("does not forward packets (net.ipv4.ip_forward=0), so {dst} is not routed ({why})"),
                )));
            }
            let hint = self.missing_route_hint(ns);
            return Ok(Err(self.stop(ns, &here, format!("no route to {dst} ({why}){hint}"))));
        }
        if kind.local {
            return Ok(Err(self.stop(
                ns,
                &found.dev,
                format!("{dst} is an address of this namespace, which is not {}", self.dst_label),
            )));
        }
        let Some(out) = snap.link(&found.dev).cloned() else {
            return Ok(Err(self.stop(
                ns,
                &found.dev,
                format!("the route uses {} which is not there", found.dev),
            )));
        };
        if iif.is_some() {
            self.router_hops += 1;
            self.ttl = self.ttl.saturating_sub(1);
            if self.ttl == 0 {
                return Ok(Err(self.stop(
                    ns,
                    &out.name,
                    "TTL expired: the packet is dropped".into(),
                )));
            }
        }
        if !out.up {
            return Ok(Err(self.stop(ns, &out.name, format!("{} is down", out.name))));
        }
        let gw: Option<Ipv4Addr> = found.gateway.as_deref().and_then(|g| g.parse().ok());
        let nh = gw.unwrap_or(dst);
        let toward = match gw {
            Some(g) => format!("to gateway {g}{}", self.who(g)),
            None => format!("directly to {dst}{}, on-link", self.who(dst)),
        };
        let action = if iif.is_some() {
            format!("routes it: out of {} {toward}", out.name)
        } else {
            format!("leaves via {} {toward}", out.name)
        };
        let route = snap
            .route_for(dst)
            .map(|r| r.to_string())
            .or_else(|| Some(found.to_string()));
        self.hop(ns, &out.name, action, route);
        self.leave(ns, out, nh).await
    }

    /// The packet leaves namespace `ns` through `out` toward next hop `nh`.
    async fn leave(&mut self, ns: usize, out: LinkInfo, nh: Ipv4Addr) -> Result<Result<At, Option<String>>, NetError> {
        if out.is_bridge() {
            return match self.bridge_out(ns, &out, nh).await? {
                BridgeOut::Port(port) => {
                    let bridge = out.name.clone();
                    self.forward(ns, &bridge, port, nh).await
                }
                BridgeOut::Local => Ok(Err(self.stop(
                    ns,
                    &out.name,
                    format!("{} hands the packet back to this namespace (a loop)", out.name),
                ))),
                BridgeOut::Broken(why) => Ok(Err(self.stop(ns, &out.name, why))),
            };
        }
        self.cross(ns, out, nh).await
    }

    /// Through veth `link` of `ns` to its peer.
    async fn cross(&mut self, ns: usize, link: LinkInfo, nh: Ipv4Addr) -> Result<Result<At, Option<String>>, NetError> {
        if !link.is_veth() {
            let kind = link.kind.clone().unwrap_or_else(|| "device".into());
            return Ok(Err(self.stop(
                ns,
                &link.name,
                format!("{} is a {kind}, which podlab's trace cannot follow", link.name),
            )));
        }
        match self.peer_of(ns, &link).await? {
            Some((peer_ns, peer)) => Ok(Ok(At::Entered {
                ns: peer_ns,
                link: peer,
                nh,
            })),
            None => Ok(Err(self.stop(
                ns,
                &link.name,
                format!(
                    "the other end of veth {} is in a namespace outside the cluster (or gone)",
                    link.name
                ),
            ))),
        }
    }

    /// Bridge `bridge` of `ns` sends the frame out of `port`.
    async fn forward(
        &mut self,
        ns: usize,
        bridge: &str,
        port: LinkInfo,
        nh: Ipv4Addr,
    ) -> Result<Result<At, Option<String>>, NetError> {
        if !port.up {
            return Ok(Err(self.stop(
                ns,
                &port.name,
                format!("{} (port of {bridge}) is down", port.name),
            )));
        }
        let action = format!(
            "bridge {bridge} forwards it out of {} toward {nh}{}",
            port.name,
            self.who(nh)
        );
        self.hop(ns, &port.name, action, None);
        self.cross(ns, port, nh).await
    }

    /// The packet came into `ns` through `link`.
    async fn entered(
        &mut self,
        ns: usize,
        link: LinkInfo,
        nh: Ipv4Addr,
    ) -> Result<Result<At, Option<String>>, NetError> {
        if !link.up {
            return Ok(Err(self.stop(ns, &link.name, format!("{} is down", link.name))));
        }
        let snap = self.snap(ns).await?;
        let Some(master) = &link.master else {
            if ns == self.dst && snap.link_with_ip(self.dst_ip).is_some() {
                self.complete = true;
                let action = format!(
                    "arrives through {}: {} is delivered to {}",
                    link.name, self.dst_ip, self.dst_label
                );
                self.hop(ns, &link.name, action, None);
                return Ok(Err(None));
            }
            self.hop(ns, &link.name, format!("enters through {}", link.name), None);
            return Ok(Ok(At::Stack { ns, iif: Some(link) }));
        };
        let Some(bridge) = snap.link(master).cloned() else {
            return Ok(Err(self.stop(ns, &link.name, format!("bridge {master} is not there"))));
        };
        self.hop(
            ns,
            &link.name,
            format!("enters through {}, a port of bridge {master}", link.name),
            None,
        );
        if !bridge.up {
            return Ok(Err(self.stop(ns, master, format!("bridge {master} is down"))));
        }
        match self.bridge_out(ns, &bridge, nh).await? {
            BridgeOut::Local => {
                let action = format!(
                    "bridge {master} owns {nh}: it hands the packet to {}'s routing",
                    self.label(ns)
                );
                self.hop(ns, master, action, None);
                Ok(Ok(At::Stack { ns, iif: Some(bridge) }))
            }
            BridgeOut::Port(port) => self.forward(ns, master, port, nh).await,
            BridgeOut::Broken(why) => Ok(Err(self.stop(ns, master, why))),
        }
    }

    /// Which way bridge `bridge` of `ns` sends a frame for `nh`.
    async fn bridge_out(&mut self, ns: usize, bridge: &LinkInfo, nh: Ipv4Addr) -> Result<BridgeOut, NetError> {
        let snap = self.snap(ns).await?;
        if snap.link_with_ip(nh).is_some() {
            return Ok(BridgeOut::Local);
        }
        let Some(owner) = self.owner_of(nh).await? else {
            let hint = if self.nodes.iter().any(|(n, _)| n.pod_subnet.contains(nh)) {
                " (no pod has that address)"
            } else {
                " (destination node unknown)"
            };
            return Ok(BridgeOut::Broken(format!(
                "bridge {} cannot deliver to {nh}: no namespace of the cluster has that address{hint}",
                bridge.name
            )));
        };
        let ports: Vec<LinkInfo> = snap
            .links
            .iter()
            .filter(|l| l.master.as_deref() == Some(bridge.name.as_str()) && l.is_veth())
            .cloned()
            .collect();
        for port in ports {
            if let Some((peer_ns, _)) = self.peer_in(ns, &port, &[owner]).await?
                && peer_ns == owner
            {
                return Ok(BridgeOut::Port(port));
            }
        }
        Ok(BridgeOut::Broken(format!(
            "bridge {} has no port leading to {nh} ({})",
            bridge.name,
            self.label(owner)
        )))
    }

    /// The known namespace that has address `ip`, trying the likely ones first.
    async fn owner_of(&mut self, ip: Ipv4Addr) -> Result<Option<usize>, NetError> {
        let mut order = vec![self.dst];
        order.extend(
            self.spaces
                .iter()
                .enumerate()
                .filter(|(_, s)| {
                    s.is_node
                        && s.node
                            .is_some_and(|k| self.nodes[k].0.node_ip == ip || self.nodes[k].0.gateway == ip)
                })
                .map(|(i, _)| i),
        );
        order.push(self.fabric);
        order.push(self.src);
        order.extend(0..self.spaces.len());
        let mut seen = Vec::new();
        for i in order {
            if seen.contains(&i) {
                continue;
            }
            seen.push(i);
            if self.snap(i).await?.link_with_ip(ip).is_some() {
                return Ok(Some(i));
            }
        }
        Ok(None)
    }

    /// The namespace and link at the other end of veth `link` of `ns`, looking in the likely
    /// namespaces first (a pod's node, the fabric, the endpoints, then every node).
    async fn peer_of(&mut self, ns: usize, link: &LinkInfo) -> Result<Option<(usize, LinkInfo)>, NetError> {
        let mut order = Vec::new();
        if let Some(k) = self.spaces[ns].node {
            // a pod's node, or (from a node) nothing special: nodes are checked below anyway
            if let Some(i) = self.spaces.iter().position(|s| s.node == Some(k) && s.is_node) {
                order.push(i);
            }
        }
        if ns == self.fabric
            && let Some(k) = self
                .nodes
                .iter()
                .position(|(n, _)| self.layout.fabric_port_name(n) == link.name)
            && let Some(i) = self.spaces.iter().position(|s| s.node == Some(k) && s.is_node)
        {
            order.push(i);
        }
        order.extend([self.fabric, self.dst, self.src]);
        order.extend(0..self.spaces.len());
        self.peer_in(ns, link, &order).await
    }

    /// Looks for the peer of veth `link` of `ns` among `candidates` (in order).
    async fn peer_in(
        &mut self,
        ns: usize,
        link: &LinkInfo,
        candidates: &[usize],
    ) -> Result<Option<(usize, LinkInfo)>, NetError> {
        let Some(peer_index) = link.peer_ifindex else {
            return Ok(None);
        };
        let mutual = |s: &NsSnapshot| {
            s.link_by_index(peer_index)
                .filter(|p| p.is_veth() && p.peer_ifindex == Some(link.index))
                .cloned()
        };
        let Some(id) = link.link_netnsid else {
            // Both ends in the same namespace.
            let s = self.snap(ns).await?;
            return Ok(mutual(&s).map(|p| (ns, p)));
        };
        let h = self.handle(ns).await?;
        let place = self.label(ns).to_string();
        let mut seen = Vec::new();
        for &c in candidates {
            if c == ns || seen.contains(&c) {
                continue;
            }
            seen.push(c);
            if inspect::nsid_of(&h, self.spaces[c].netns, &place).await? != Some(id) {
                continue;
            }
            let s = self.snap(c).await?;
            return Ok(mutual(&s).map(|p| (c, p)));
        }
        Ok(None)
    }

    /// For "no route" in a node or a pod: the layout names the route that should be there.
    fn missing_route_hint(&self, ns: usize) -> String {
        let Some(k) = self.spaces[ns].node else {
            return String::new();
        };
        let me = &self.nodes[k].0;
        self.layout
            .missing_route_hint(me, self.spaces[ns].is_node, self.dst_ip, &self.addrs)
    }
}
