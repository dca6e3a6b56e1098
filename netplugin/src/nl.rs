//! Small rtnetlink helpers shared by the kernel dataplane and the bare baseline:
//! message builders and lookups, each mapping failures to a [`NetError`] naming the object.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::RawFd;

use futures::TryStreamExt;
use ipnetwork::Ipv4Network;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkFlags, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType};
use rtnetlink::{Handle, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::NetError;
use crate::error::errno;

/// Index of the loopback device in every network namespace.
pub(crate) const LOOPBACK_INDEX: u32 = 1;

/// Looks a link up by name; `Ok(None)` if it does not exist.
pub(crate) async fn link_by_name(handle: &Handle, name: &str) -> Result<Option<LinkMessage>, rtnetlink::Error> {
    match handle.link().get().match_name(name).execute().try_next().await {
        Ok(m) => Ok(m),
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Index of link `name`, failing with a message naming it and `place` if it is missing.
pub(crate) async fn link_index(handle: &Handle, name: &str, place: &str) -> Result<u32, NetError> {
    match link_by_name(handle, name).await {
        Ok(Some(m)) => Ok(m.header.index),
        Ok(None) => Err(NetError::netlink(
            format!("find link {name} in {place}"),
            rtnetlink::Error::RequestFailed,
        )),
        Err(e) => Err(NetError::netlink(format!("find link {name} in {place}"), e)),
    }
}

/// Sets link `index` up.
pub(crate) async fn set_up(handle: &Handle, index: u32) -> Result<(), rtnetlink::Error> {
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
}

/// Index the peer of [`veth_into`] gets in the fresh namespace it is created in (where only
/// `lo`, index 1, exists), so nobody has to ask the kernel for it.
pub(crate) const FRESH_PEER_INDEX: u32 = 2;

/// A veth `name` (up, optionally enslaved to `controller`) whose peer `peer` is created
/// directly inside the fresh namespace `peer_ns`, with index [`FRESH_PEER_INDEX`]. The peer
/// stays down: the kernel refuses to open a veth end before its pair is complete (ENOTCONN),
/// so bring it up from inside.
///
/// Both ends get one TX and one RX queue, said explicitly: a veth made without saying so gets
/// one queue per CPU and is then cut down to one, and that cut waits for an RCU grace period
/// while holding the kernel's rtnl lock, which serialised every pod's setup behind it.
pub(crate) fn veth_into(
    name: &str,
    controller: Option<u32>,
    peer: &str,
    peer_ns: RawFd,
    peer_mac: Option<[u8; 6]>,
) -> LinkMessage {
    let mut peer_msg = LinkUnspec::new_with_name(peer).setns_by_fd(peer_ns).build();
    peer_msg.header.index = FRESH_PEER_INDEX;
    if let Some(mac) = peer_mac {
        peer_msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
    }
    peer_msg
        .attributes
        .extend([LinkAttribute::NumTxQueues(1), LinkAttribute::NumRxQueues(1)]);
    let mut b = LinkVeth::new(name, peer).up();
    if let Some(c) = controller {
        b = b.controller(c);
    }
    let mut msg = b.set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg))).build();
    msg.attributes
        .extend([LinkAttribute::NumTxQueues(1), LinkAttribute::NumRxQueues(1)]);
    msg
}

/// Turns IPv6 address generation off on link `index` before it goes up: no link-local
/// address, so no duplicate-address detection, router solicitation or MLD chatter (the
/// cluster network is IPv4 single-stack; `lo` keeps `::1`).
pub(crate) async fn ipv4_only_link(handle: &Handle, index: u32) -> Result<(), rtnetlink::Error> {
    use netlink_packet_route::link::{AfSpecInet6, AfSpecUnspec, In6AddrGenMode};
    let mut msg = LinkUnspec::new_with_index(index).build();
    msg.attributes
        .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(vec![
            AfSpecInet6::AddrGenMode(In6AddrGenMode::None),
        ])]));
    match handle.link().set(msg).execute().await {
        // A kernel without IPv6 has nothing to turn off.
        Err(e) if matches!(errno(&e), Some(libc::EAFNOSUPPORT) | Some(libc::EOPNOTSUPP)) => Ok(()),
        r => r,
    }
}

/// The MAC podlab gives the interface that owns `ip`: `0a:58` and then the IPv4 address (as
/// kubenet and OVN-Kubernetes do), so neighbour entries can be written down in advance.
pub(crate) fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x0a, 0x58, o[0], o[1], o[2], o[3]]
}

/// `mac` as `ip` prints it (`0a:58:0a:f4:01:02`).
pub(crate) fn mac_text(mac: [u8; 6]) -> String {
    mac.map(|b| format!("{b:02x}")).join(":")
}

/// A permanent neighbour entry `ip -> mac` on link `index` (replacing any entry there).
///
/// The kernel's ARP table is one table for all network namespaces, capped by the root
/// namespace's `gc_thresh3` (1024 by default): a thousand pods resolving their gateways and
/// nodes resolving their pods overflow it, and new entries then fail ("neighbor table
/// overflow"), dropping packets. Permanent entries are not counted against that cap.
pub(crate) async fn add_permanent_neighbour(
    handle: &Handle,
    index: u32,
    ip: Ipv4Addr,
    mac: [u8; 6],
) -> Result<(), rtnetlink::Error> {
    handle
        .neighbours()
        .add(index, IpAddr::V4(ip))
        .link_layer_address(&mac)
        .state(netlink_packet_route::neighbour::NeighbourState::Permanent)
        .replace()
        .execute()
        .await
}

/// Deletes the neighbour entry for `ip` on link `index`; an entry that is not there is fine.
pub(crate) async fn delete_neighbour(handle: &Handle, index: u32, ip: Ipv4Addr) -> Result<(), rtnetlink::Error> {
    use netlink_packet_route::neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage};
    let mut msg = NeighbourMessage::default();
    msg.header.family = netlink_packet_route::AddressFamily::Inet;
    msg.header.ifindex = index;
    msg.attributes
        .push(NeighbourAttribute::Destination(NeighbourAddress::Inet(ip)));
    match handle.neighbours().del(msg).execute().await {
        Err(e) if matches!(errno(&e), Some(libc::ENOENT) | Some(libc::ENODEV)) => Ok(()),
        r => r,
    }
}

/// Adds `ip/prefix` to link `index`; an address that is already there is fine.
pub(crate) async fn add_address(handle: &Handle, index: u32, ip: Ipv4Addr, prefix: u8) -> Result<(), rtnetlink::Error> {
    match handle.address().add(index, IpAddr::V4(ip), prefix).execute().await {
        Err(e) if errno(&e) == Some(libc::EEXIST) => Ok(()),
        r => r,
    }
}

/// A main-table unicast route message `dst via gw`.
pub(crate) fn route_via(dst: Ipv4Network, gw: Ipv4Addr) -> RouteMessage {
    RouteMessageBuilder::<Ipv4Addr>::new()
        .destination_prefix(dst.network(), dst.prefix())
        .gateway(gw)
        .build()
}

/// Adds (or with `replace`, replaces) route `dst via gw`.
pub(crate) async fn add_route(
    handle: &Handle,
    dst: Ipv4Network,
    gw: Ipv4Addr,
    replace: bool,
) -> Result<(), rtnetlink::Error> {
    let req = handle.route().add(route_via(dst, gw));
    if replace {
        req.replace().execute().await
    } else {
        req.execute().await
    }
}

/// The IPv4 main-table unicast routes of a namespace, keyed by destination.
pub(crate) async fn main_routes(
    handle: &Handle,
) -> Result<BTreeMap<Ipv4Network, (Option<Ipv4Addr>, RouteMessage)>, rtnetlink::Error> {
    let mut out = BTreeMap::new();
    let mut stream = handle
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute();
    while let Some(m) = stream.try_next().await? {
        if m.header.table != RouteHeader::RT_TABLE_MAIN || m.header.kind != RouteType::Unicast {
            continue;
        }
        let mut dst = Ipv4Addr::UNSPECIFIED;
        let mut gw = None;
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(RouteAddress::Inet(d)) => dst = *d,
                RouteAttribute::Gateway(RouteAddress::Inet(g)) => gw = Some(*g),
                _ => {}
            }
        }
        if let Ok(net) = Ipv4Network::new(dst, m.header.destination_prefix_length) {
            out.insert(net, (gw, m));
        }
    }
    Ok(out)
}

/// The IPv4 addresses (with prefix) on link `index`.
pub(crate) async fn addresses(handle: &Handle, index: u32) -> Result<Vec<Ipv4Network>, rtnetlink::Error> {
    let mut out = Vec::new();
    let mut stream = handle.address().get().set_link_index_filter(index).execute();
    while let Some(m) = stream.try_next().await? {
        if m.header.index != index {
            continue;
        }
        for a in &m.attributes {
            if let AddressAttribute::Address(IpAddr::V4(ip)) = a
                && let Ok(n) = Ipv4Network::new(*ip, m.header.prefix_len)
            {
                out.push(n);
            }
        }
    }
    Ok(out)
}

/// Whether a link message says the link is administratively up.
pub(crate) fn is_up(m: &LinkMessage) -> bool {
    m.header.flags.contains(LinkFlags::Up)
}

/// The controller (bridge) index of a link message, if enslaved.
pub(crate) fn controller_of(m: &LinkMessage) -> Option<u32> {
    m.attributes.iter().find_map(|a| match a {
        LinkAttribute::Controller(c) => Some(*c),
        _ => None,
    })
}

/// Deletes link `name`; a link that is already gone is fine.
pub(crate) async fn delete_link_by_name(handle: &Handle, name: &str) -> Result<(), rtnetlink::Error> {
    let mut msg = LinkMessage::default();
    msg.attributes.push(LinkAttribute::IfName(name.to_string()));
    match handle.link().del_with_message(msg).execute().await {
        Err(e) if errno(&e) == Some(libc::ENODEV) => Ok(()),
        r => r,
    }
}
