//! Read-only inspection of one network namespace, straight from the kernel through rtnetlink
//! (never `ip`): links with their addresses, veth peers and packet counters, the main routing
//! table, and route lookups (`ip route get`). Used by `podlab topology`, `podlab routes` and
//! `podlab trace`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use futures::{StreamExt, TryStreamExt};
use ipnetwork::Ipv4Network;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{LinkAttribute, LinkFlags, LinkInfo as NlLinkInfo, LinkMessage};
use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType};
use rtnetlink::packet_core::{NLM_F_REQUEST, NetlinkMessage, NetlinkPayload};
use rtnetlink::{Handle, RouteMessageBuilder};
use serde::Serialize;

use crate::NetError;
use crate::error::errno;
use crate::ns::{self, Netns};

/// Everything in one namespace, read from the kernel through rtnetlink (never `ip`).
#[derive(Clone, Debug, Default, Serialize)]
pub struct NsSnapshot {
    /// Every link, in ifindex order.
    pub links: Vec<LinkInfo>,
    /// The IPv4 unicast routes of the main table (what `ip route` prints), in kernel order.
    pub routes: Vec<RouteEntry>,
}

/// One network interface as the kernel reports it.
#[derive(Clone, Debug, Serialize)]
pub struct LinkInfo {
    /// Interface index (unique inside its namespace only).
    pub index: u32,
    /// Interface name (`eth0`, `cni0`, `veth1a2b3c4d`).
    pub name: String,
    /// Link kind (`veth`, `bridge`), `None` for `lo` and physical devices.
    pub kind: Option<String>,
    /// Name of the bridge this link is a port of.
    pub master: Option<String>,
    /// Administratively up (`ip link set ... up`).
    pub up: bool,
    /// MTU in bytes.
    pub mtu: u32,
    /// Hardware address, `aa:bb:cc:dd:ee:ff`.
    pub mac: Option<String>,
    /// IPv4 addresses with prefix, e.g. `10.244.1.1/24`.
    pub addresses: Vec<String>,
    /// For a veth: the ifindex of its peer (IFLA_LINK), in the namespace `link_netnsid` names.
    pub peer_ifindex: Option<u32>,
    /// For a veth whose peer lives in another namespace: that namespace's id as seen from here.
    pub link_netnsid: Option<i32>,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
}

/// One route of the main table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteEntry {
    /// `default` or a CIDR (`10.244.2.0/24`).
    pub destination: String,
    /// Next hop (`via`), `None` for a connected route.
    pub gateway: Option<String>,
    /// Output device.
    pub dev: Option<String>,
    /// `universe`, `link` or `host`.
    pub scope: String,
    /// Who installed it: `kernel` (connected routes), `boot`, `static` (podlab's own routes).
    pub protocol: String,
    /// Preferred source address.
    pub src: Option<String>,
}

/// The route the kernel picks for one destination (like `ip route get`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteLookup {
    /// The destination asked about.
    pub dst: String,
    /// Next hop, `None` when the destination is on-link.
    pub gateway: Option<String>,
    /// Output device (`lo` for local addresses, empty when unreachable).
    pub dev: String,
    /// Source address the kernel would use.
    pub src: Option<String>,
    /// Why there is no route, in words (e.g. `network is unreachable`), when there is none.
    pub unreachable: Option<String>,
}

impl NsSnapshot {
    /// The link called `name`.
    pub fn link(&self, name: &str) -> Option<&LinkInfo> {
        self.links.iter().find(|l| l.name == name)
    }

    /// The link with ifindex `index`.
    pub fn link_by_index(&self, index: u32) -> Option<&LinkInfo> {
        self.links.iter().find(|l| l.index == index)
    }

    /// The link that carries address `ip`, if any.
    pub fn link_with_ip(&self, ip: Ipv4Addr) -> Option<&LinkInfo> {
        self.links.iter().find(|l| l.has_ip(ip))
    }

    /// The most specific route whose destination contains `dst` (what the kernel would match
    /// in the main table).
    pub fn route_for(&self, dst: Ipv4Addr) -> Option<&RouteEntry> {
        self.routes
            .iter()
            .filter_map(|r| r.network().map(|n| (n, r)))
            .filter(|(n, _)| n.contains(dst))
            .max_by_key(|(n, _)| n.prefix())
            .map(|(_, r)| r)
    }
}

impl LinkInfo {
    /// Whether `ip` is one of this link's addresses.
    pub fn has_ip(&self, ip: Ipv4Addr) -> bool {
        self.addresses
            .iter()
            .any(|a| a.split('/').next().and_then(|s| s.parse::<Ipv4Addr>().ok()) == Some(ip))
    }

    /// Whether this link is a veth end.
    pub fn is_veth(&self) -> bool {
        self.kind.as_deref() == Some("veth")
    }

    /// Whether this link is a bridge.
    pub fn is_bridge(&self) -> bool {
        self.kind.as_deref() == Some("bridge")
    }
}

impl RouteEntry {
    /// The destination as a network (`default` is `0.0.0.0/0`); `None` if unparsable.
    pub fn network(&self) -> Option<Ipv4Network> {
        if self.destination == "default" {
            return Ipv4Network::new(Ipv4Addr::UNSPECIFIED, 0).ok();
        }
        self.destination.parse().ok()
    }
}

impl fmt::Display for RouteEntry {
    /// Like `ip route`: `10.244.2.0/24 via 172.18.0.3 dev eth0 proto static`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.destination)?;
        if let Some(gw) = &self.gateway {
            write!(f, " via {gw}")?;
        }
        if let Some(dev) = &self.dev {
            write!(f, " dev {dev}")?;
        }
        if self.protocol != "boot" && self.protocol != "unspec" {
            write!(f, " proto {}", self.protocol)?;
        }
        if self.scope != "universe" {
            write!(f, " scope {}", self.scope)?;
        }
        if let Some(src) = &self.src {
            write!(f, " src {src}")?;
        }
        Ok(())
    }
}

impl fmt::Display for RouteLookup {
    /// Like `ip route get`: `10.244.2.2 via 10.244.1.1 dev eth0 src 10.244.1.2`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(why) = &self.unreachable {
            return write!(f, "{}: {why}", self.dst);
        }
        write!(f, "{}", self.dst)?;
        if let Some(gw) = &self.gateway {
            write!(f, " via {gw}")?;
        }
        write!(f, " dev {}", self.dev)?;
        if let Some(src) = &self.src {
            write!(f, " src {src}")?;
        }
        Ok(())
    }
}

/// Reads every link (with addresses and counters) and the main-table IPv4 routes of `ns`.
pub async fn snapshot(ns: &Netns, rt: &tokio::runtime::Handle) -> Result<NsSnapshot, NetError> {
    let h = open(ns, rt).await?;
    snapshot_with(&h, &describe(ns)).await
}

/// The route the kernel picks for `dst` in `ns` (RTM_GETROUTE with RTA_DST, like `ip route get`).
/// No route is not an error: the answer says why in `unreachable`.
pub async fn route_get(ns: &Netns, rt: &tokio::runtime::Handle, dst: Ipv4Addr) -> Result<RouteLookup, NetError> {
    let h = open(ns, rt).await?;
    lookup(&h, dst, None, &describe(ns)).await.map(|(l, _)| l)
}

/// The route the kernel picks in `ns` for a packet from `from` to `dst` that arrives on
/// interface `iif`: the forwarding decision of a router (`ip route get DST from FROM iif IIF`).
/// It fails like forwarding would (for instance when `ip_forward` is off).
pub async fn route_get_input(
    ns: &Netns,
    rt: &tokio::runtime::Handle,
    dst: Ipv4Addr,
    from: Ipv4Addr,
    iif: &str,
) -> Result<RouteLookup, NetError> {
    let h = open(ns, rt).await?;
    let place = describe(ns);
    let index = crate::nl::link_index(&h, iif, &place).await?;
    lookup(&h, dst, Some((from, index)), &place).await.map(|(l, _)| l)
}

/// The packet counters that moved between two snapshots of the same namespace, per interface
/// (matched by name): `(interface, tx packets, rx packets)`, only interfaces where either moved.
pub fn counter_delta(before: &NsSnapshot, after: &NsSnapshot) -> Vec<(String, u64, u64)> {
    after
        .links
        .iter()
        .filter_map(|a| {
            let (tx0, rx0) = before
                .link(&a.name)
                .map(|b| (b.tx_packets, b.rx_packets))
                .unwrap_or((0, 0));
            let (tx, rx) = (a.tx_packets.saturating_sub(tx0), a.rx_packets.saturating_sub(rx0));
            (tx > 0 || rx > 0).then(|| (a.name.clone(), tx, rx))
        })
        .collect()
}

/// "the namespace of pid N" (or a generic name): for error messages.
pub(crate) fn describe(ns: &Netns) -> String {
    match ns.pid() {
        Some(pid) => format!("the network namespace of pid {pid}"),
        None => "a network namespace".to_string(),
    }
}

/// Opens a rtnetlink socket inside `ns`; its connection runs on `rt` until the handle is dropped.
pub(crate) async fn open(ns: &Netns, rt: &tokio::runtime::Handle) -> Result<Handle, NetError> {
    let (conn, h) = ns::netlink_in(ns, rt)
        .await
        .map_err(|e| NetError::io(format!("open a netlink socket in {}", describe(ns)), e))?;
    rt.spawn(conn);
    Ok(h)
}

/// [`snapshot`] over an open socket; `place` names the namespace in errors.
pub(crate) async fn snapshot_with(h: &Handle, place: &str) -> Result<NsSnapshot, NetError> {
    let msgs: Vec<LinkMessage> = h
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(|e| NetError::netlink(format!("read the links of {place}"), e))?;
    let mut addrs: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut stream = h.address().get().execute();
    while let Some(m) = stream
        .try_next()
        .await
        .map_err(|e| NetError::netlink(format!("read the addresses of {place}"), e))?
    {
        for a in &m.attributes {
            if let AddressAttribute::Address(IpAddr::V4(ip)) = a {
                addrs
                    .entry(m.header.index)
                    .or_default()
                    .push(format!("{ip}/{}", m.header.prefix_len));
            }
        }
    }
    let names: BTreeMap<u32, String> = msgs.iter().map(|m| (m.header.index, link_name(m))).collect();
    let mut links: Vec<LinkInfo> = msgs
        .iter()
        .map(|m| link_info(m, &names, addrs.remove(&m.header.index).unwrap_or_default()))
        .collect();
    links.sort_by_key(|l| l.index);

    let mut routes = Vec::new();
    let mut stream = h.route().get(RouteMessageBuilder::<Ipv4Addr>::new().build()).execute();
    while let Some(m) = stream
        .try_next()
        .await
        .map_err(|e| NetError::netlink(format!("read the routes of {place}"), e))?
    {
        if m.header.table != RouteHeader::RT_TABLE_MAIN || m.header.kind != RouteType::Unicast {
            continue;
        }
        routes.push(route_entry(&m, &names));
    }
    Ok(NsSnapshot { links, routes })
}

/// What a route lookup found: the answer, and whether the destination is local here.
pub(crate) struct Found {
    pub(crate) local: bool,
}

/// A route lookup over an open socket. `input` = `(source, input ifindex)` asks for the
/// forwarding decision of a packet arriving on that interface.
pub(crate) async fn lookup(
    h: &Handle,
    dst: Ipv4Addr,
    input: Option<(Ipv4Addr, u32)>,
    place: &str,
) -> Result<(RouteLookup, Found), NetError> {
    let mut b = RouteMessageBuilder::<Ipv4Addr>::new().destination_prefix(dst, 32);
    if let Some((from, iif)) = input {
        b = b.source_prefix(from, 32).input_interface(iif);
    }
    let unreachable = |why: &str| {
        (
            RouteLookup {
                dst: dst.to_string(),
                gateway: None,
                dev: String::new(),
                src: None,
                unreachable: Some(why.to_string()),
            },
            Found { local: false },
        )
    };
    let answer = match h.route().get(b.build()).execute().try_next().await {
        Ok(Some(m)) => m,
        Ok(None) => return Ok(unreachable("the kernel gave no answer")),
        Err(e) => {
            return match errno(&e) {
                Some(libc::ENETUNREACH) => Ok(unreachable("network is unreachable")),
                Some(libc::EHOSTUNREACH) => Ok(unreachable("host is unreachable")),
                Some(libc::EACCES) => Ok(unreachable("administratively prohibited")),
                Some(libc::EINVAL) => Ok(unreachable(
                    "the kernel refuses to route it (blackhole route, or a source or input interface it rejects)",
                )),
                Some(libc::EXDEV) => Ok(unreachable("the kernel refuses to route it (reverse-path filter)")),
                _ => Err(NetError::netlink(format!("look up the route to {dst} in {place}"), e)),
            };
        }
    };
    let mut gateway = None;
    let mut oif = None;
    let mut src = None;
    for a in &answer.attributes {
        match a {
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => gateway = Some(g.to_string()),
            RouteAttribute::Oif(i) => oif = Some(*i),
            RouteAttribute::PrefSource(RouteAddress::Inet(s)) => src = Some(s.to_string()),
            _ => {}
        }
    }
    let dev = match oif {
        Some(i) => link_name_by_index(h, i, place).await?,
        None => String::new(),
    };
    let local = answer.header.kind == RouteType::Local;
    let kind_problem = match answer.header.kind {
        RouteType::Unreachable => Some("unreachable route"),
        RouteType::BlackHole => Some("blackhole route: dropped"),
        RouteType::Prohibit => Some("administratively prohibited"),
        _ => None,
    };
    if let Some(why) = kind_problem {
        return Ok(unreachable(why));
    }
    Ok((
        RouteLookup {
            dst: dst.to_string(),
            gateway,
            dev,
            src,
            unreachable: None,
        },
        Found { local },
    ))
}

/// The id namespace `target` has as seen from the namespace of socket `h` (RTM_GETNSID with
/// NETNSA_FD), `None` when it has none. Maps a veth's `link_netnsid` back to a namespace.
pub(crate) async fn nsid_of(h: &Handle, target: &Netns, place: &str) -> Result<Option<i32>, NetError> {
    let fd = u32::try_from(target.as_raw_fd())
        .map_err(|_| NetError::io("pass a namespace fd", std::io::Error::other("negative fd")))?;
    let mut msg = NsidMessage::default();
    msg.attributes.push(NsidAttribute::Fd(fd));
    let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(msg));
    req.header.flags = NLM_F_REQUEST;
    let mut h = h.clone();
    let mut replies = h
        .request(req)
        .map_err(|e| NetError::netlink(format!("ask {place} for a namespace id"), e))?;
    while let Some(reply) = replies.next().await {
        match reply.payload {
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => {
                let id = m.attributes.iter().find_map(|a| match a {
                    NsidAttribute::Id(id) => Some(*id),
                    _ => None,
                });
                return Ok(id.filter(|id| *id >= 0));
            }
            NetlinkPayload::Error(e) if e.code.is_some() => {
                return Err(NetError::netlink(
                    format!("ask {place} for a namespace id"),
                    rtnetlink::Error::NetlinkError(e),
                ));
            }
            _ => {}
        }
    }
    Ok(None)
}

async fn link_name_by_index(h: &Handle, index: u32, place: &str) -> Result<String, NetError> {
    match h.link().get().match_index(index).execute().try_next().await {
        Ok(Some(m)) => Ok(link_name(&m)),
        Ok(None) => Ok(format!("if{index}")),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(format!("if{index}")),
        Err(e) => Err(NetError::netlink(format!("look up link {index} in {place}"), e)),
    }
}

fn link_name(m: &LinkMessage) -> String {
    m.attributes
        .iter()
        .find_map(|a| match a {
            LinkAttribute::IfName(n) => Some(n.clone()),
            _ => None,
        })
        .unwrap_or_else(|| format!("if{}", m.header.index))
}

fn link_info(m: &LinkMessage, names: &BTreeMap<u32, String>, addresses: Vec<String>) -> LinkInfo {
    let mut l = LinkInfo {
        index: m.header.index,
        name: link_name(m),
        kind: None,
        master: None,
        up: m.header.flags.contains(LinkFlags::Up),
        mtu: 0,
        mac: None,
        addresses,
        peer_ifindex: None,
        link_netnsid: None,
        rx_packets: 0,
        tx_packets: 0,
        rx_bytes: 0,
        tx_bytes: 0,
    };
    for a in &m.attributes {
        match a {
            LinkAttribute::LinkInfo(infos) => {
                l.kind = infos.iter().find_map(|i| match i {
                    NlLinkInfo::Kind(k) => Some(k.to_string()),
                    _ => None,
                });
            }
            LinkAttribute::Controller(c) => {
                l.master = Some(names.get(c).cloned().unwrap_or_else(|| format!("if{c}")));
            }
            LinkAttribute::Mtu(v) => l.mtu = *v,
            LinkAttribute::Address(mac) if !mac.is_empty() => {
                l.mac = Some(mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":"));
            }
            LinkAttribute::Link(p) => l.peer_ifindex = Some(*p),
            LinkAttribute::LinkNetNsId(id) => l.link_netnsid = Some(*id),
            LinkAttribute::Stats64(s) => {
                l.rx_packets = s.rx_packets;
                l.tx_packets = s.tx_packets;
                l.rx_bytes = s.rx_bytes;
                l.tx_bytes = s.tx_bytes;
            }
            _ => {}
        }
    }
    if !l.is_veth() {
        // IFLA_LINK on other kinds is a lower device, not a veth peer.
        l.peer_ifindex = None;
    }
    l
}

fn route_entry(m: &RouteMessage, names: &BTreeMap<u32, String>) -> RouteEntry {
    let mut dst = None;
    let mut gateway = None;
    let mut dev = None;
    let mut src = None;
    for a in &m.attributes {
        match a {
            RouteAttribute::Destination(RouteAddress::Inet(d)) => dst = Some(*d),
            RouteAttribute::Gateway(RouteAddress::Inet(g)) => gateway = Some(g.to_string()),
            RouteAttribute::Oif(i) => dev = Some(names.get(i).cloned().unwrap_or_else(|| format!("if{i}"))),
            RouteAttribute::PrefSource(RouteAddress::Inet(s)) => src = Some(s.to_string()),
            _ => {}
        }
    }
    let prefix = m.header.destination_prefix_length;
    let destination = if prefix == 0 {
        "default".to_string()
    } else {
        format!("{}/{prefix}", dst.unwrap_or(Ipv4Addr::UNSPECIFIED))
    };
    RouteEntry {
        destination,
        gateway,
        dev,
        scope: m.header.scope.to_string(),
        protocol: m.header.protocol.to_string(),
        src,
    }
}
