//! Packet capture inside a pod's or node's network namespace, written as a pcap file that
//! Wireshark and `tcpdump -r` read: what `podlab capture` does.
//!
//! A packet socket (`AF_PACKET`) opened in the namespace sees every frame in and out of one
//! interface (`SOCK_RAW`, Ethernet headers as on the wire) or of all of them (`any`:
//! `SOCK_DGRAM` with the Linux "cooked" header, as tcpdump writes for `-i any`). podlab does
//! this itself rather than running the machine's tcpdump because tcpdump, started as root,
//! switches to its own user and supplementary groups, which a rootless podlab's user namespace
//! has not got (it refuses with "Couldn't change to 'tcpdump'").

use std::io::{self, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use crate::ns::{Netns, run_in};

/// pcap link types.
const LINKTYPE_ETHERNET: u32 = 1;
const LINKTYPE_LINUX_SLL: u32 = 113;
/// The most of a frame kept (tcpdump's default snap length).
const SNAPLEN: usize = 262_144;

/// An open capture on one interface (or all) of a network namespace.
pub struct Capture {
    sock: OwnedFd,
    /// `any`: frames come without their link header; each gets a cooked one.
    cooked: bool,
}

/// What a capture caught.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Caught {
    /// Packets written to the file.
    pub packets: u64,
}

/// Why a capture stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The packet count was reached.
    Count,
    /// The time ran out.
    Time,
    /// The caller's stop signal came (Ctrl-C).
    Interrupted,
}

impl Capture {
    /// Opens a capture on `iface` (`"any"`: every interface) inside `netns`. The error names
    /// an interface that does not exist there.
    pub fn open(netns: &Netns, iface: &str) -> io::Result<Capture> {
        let iface = iface.to_string();
        run_in(netns, move || Capture::open_here(&iface))?
    }

    fn open_here(iface: &str) -> io::Result<Capture> {
        let cooked = iface == "any";
        let kind = if cooked { libc::SOCK_DGRAM } else { libc::SOCK_RAW };
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2); the fd is owned right away.
        let fd = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, i32::from(proto)) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
        let sock = unsafe { OwnedFd::from_raw_fd(fd) };
        let index = if cooked {
            0
        } else {
            nix::net::if_::if_nametoindex(iface).map_err(|_| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{iface}: No such device exists (no interface {iface} in that network namespace)"),
                )
            })? as i32
        };
        // SAFETY: a zeroed sockaddr_ll is valid; bind(2) reads `size_of` bytes of it.
        let bound = unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto;
            sll.sll_ifindex = index;
            libc::bind(
                sock.as_raw_fd(),
                (&raw const sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if bound != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Capture { sock, cooked })
    }

    /// Writes the capture to `out` as pcap until `count` packets, `until` or a readable
    /// `stop` descriptor (a signalfd for Ctrl-C), whichever comes first.
    pub fn write_pcap(
        &self,
        out: &mut impl Write,
        count: Option<u64>,
        until: Option<Instant>,
        stop: Option<std::os::fd::BorrowedFd<'_>>,
    ) -> io::Result<(Caught, Stop)> {
        out.write_all(&pcap_header(if self.cooked {
            LINKTYPE_LINUX_SLL
        } else {
            LINKTYPE_ETHERNET
        }))?;
        out.flush()?;
        let mut caught = Caught::default();
        let mut buf = vec![0u8; SNAPLEN];
        loop {
            if count.is_some_and(|c| caught.packets >= c) {
                return Ok((caught, Stop::Count));
            }
            let wait = match until {
                Some(t) => match t.checked_duration_since(Instant::now()) {
                    Some(left) => left.min(Duration::from_millis(200)),
                    None => return Ok((caught, Stop::Time)),
                },
                None => Duration::from_millis(200),
            };
            let mut fds = vec![nix::poll::PollFd::new(self.sock.as_fd(), nix::poll::PollFlags::POLLIN)];
            if let Some(s) = stop {
                fds.push(nix::poll::PollFd::new(s, nix::poll::PollFlags::POLLIN));
            }
            let ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
            match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            if fds.get(1).and_then(|f| f.revents()).is_some_and(|r| !r.is_empty()) {
                return Ok((caught, Stop::Interrupted));
            }
            if let Some(record) = self.receive(&mut buf)? {
                out.write_all(&record)?;
                out.flush()?;
                caught.packets += 1;
            }
        }
    }

    /// One frame as a pcap record, or None when nothing was waiting.
    fn receive(&self, buf: &mut [u8]) -> io::Result<Option<Vec<u8>>> {
        // SAFETY: a zeroed sockaddr_ll is valid; recvfrom(2) writes at most `len` bytes into
        // `buf` and at most `alen` into `from`.
        let (n, from) = unsafe {
            let mut from: libc::sockaddr_ll = std::mem::zeroed();
            let mut alen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            let n = libc::recvfrom(
                self.sock.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                (&raw mut from).cast(),
                &mut alen,
            );
            (n, from)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        let wire = n as usize;
        let kept = &buf[..wire.min(buf.len())];
        let cooked = self.cooked.then(|| sll_header(&from));
        let head = cooked.as_ref().map_or(&[][..], |h| &h[..]);
        Ok(Some(pcap_record(
            std::time::SystemTime::now(),
            head,
            kept,
            wire + head.len(),
        )))
    }
}

/// A frame decoded as far as a lesson needs: Ethernet addresses, and for IPv4 the TTL,
/// addresses, protocol and ports (ARP: the addresses asked about).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Frame {
    /// Ethernet source (None on a cooked `any` capture without one).
    pub src_mac: Option<String>,
    /// Ethernet destination (None on a cooked capture).
    pub dst_mac: Option<String>,
    /// `IPv4`, `ARP`, `IPv6` or the ethertype in hex.
    pub ethertype: String,
    /// IPv4 time to live.
    pub ttl: Option<u8>,
    /// IPv4 (or ARP sender) address.
    pub src_ip: Option<std::net::Ipv4Addr>,
    /// IPv4 (or ARP target) address.
    pub dst_ip: Option<std::net::Ipv4Addr>,
    /// `TCP`, `UDP`, `ICMP`, or the IP protocol number.
    pub proto: Option<String>,
    /// TCP or UDP source port.
    pub src_port: Option<u16>,
    /// TCP or UDP destination port.
    pub dst_port: Option<u16>,
    /// Bytes on the wire.
    pub len: usize,
    /// One line in tcpdump's manner (`-e -n`).
    pub summary: String,
}

fn mac(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":")
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn ipv4(b: &[u8], at: usize) -> Option<std::net::Ipv4Addr> {
    let q: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(q.into())
}

/// Decodes a captured frame (`cooked`: it starts with a Linux cooked header, as from `any`).
pub fn decode(data: &[u8], cooked: bool) -> Frame {
    let mut f = Frame {
        len: data.len(),
        ..Frame::default()
    };
    let (ethertype, l3) = if cooked {
        let alen = usize::from(be16(data, 4).unwrap_or(0)).min(8);
        if alen == 6 {
            f.src_mac = data.get(6..12).map(mac);
        }
        (be16(data, 14).unwrap_or(0), 16)
    } else {
        f.dst_mac = data.get(0..6).map(mac);
        f.src_mac = data.get(6..12).map(mac);
        (be16(data, 12).unwrap_or(0), 14)
    };
    f.ethertype = match ethertype {
        0x0800 => "IPv4".into(),
        0x0806 => "ARP".into(),
        0x86dd => "IPv6".into(),
        t => format!("0x{t:04x}"),
    };
    let l2 = match (&f.src_mac, &f.dst_mac) {
        (Some(s), Some(d)) => format!("{s} > {d}, "),
        (Some(s), None) => format!("{s} > , "),
        _ => String::new(),
    };
    match ethertype {
        0x0800 => {
            let ihl = usize::from(data.get(l3).map_or(5, |v| v & 0x0f)) * 4;
            f.ttl = data.get(l3 + 8).copied();
            f.src_ip = ipv4(data, l3 + 12);
            f.dst_ip = ipv4(data, l3 + 16);
            let proto = data.get(l3 + 9).copied().unwrap_or(0);
            f.proto = Some(match proto {
                1 => "ICMP".into(),
                6 => "TCP".into(),
                17 => "UDP".into(),
                n => n.to_string(),
            });
            if proto == 6 || proto == 17 {
                f.src_port = be16(data, l3 + ihl);
                f.dst_port = be16(data, l3 + ihl + 2);
            }
            let at = |ip: Option<std::net::Ipv4Addr>, port: Option<u16>| match (ip, port) {
                (Some(i), Some(p)) => format!("{i}.{p}"),
                (Some(i), None) => i.to_string(),
                _ => "?".into(),
            };
            f.summary = format!(
                "{l2}IPv4, ttl {}, {} {} > {}, length {}",
                f.ttl.unwrap_or(0),
                f.proto.as_deref().unwrap_or("?"),
                at(f.src_ip, f.src_port),
                at(f.dst_ip, f.dst_port),
                f.len
            );
        }
        0x0806 => {
            f.src_ip = ipv4(data, l3 + 14);
            f.dst_ip = ipv4(data, l3 + 24);
            let op = match be16(data, l3 + 6) {
                Some(1) => "Request who-has",
                Some(2) => "Reply",
                _ => "?",
            };
            let (s, d) = (f.src_ip.map(|i| i.to_string()), f.dst_ip.map(|i| i.to_string()));
            f.summary = format!(
                "{l2}ARP, {op} {} tell {}, length {}",
                d.unwrap_or_default(),
                s.unwrap_or_default(),
                f.len
            );
        }
        _ => f.summary = format!("{l2}ethertype {}, length {}", f.ethertype, f.len),
    }
    f
}

impl Capture {
    /// Waits until `until` (or `max` frames) and returns the frames seen since the capture was
    /// opened, decoded. Frames that arrived before the call were queued in the socket.
    pub fn frames(&self, max: usize, until: Instant) -> io::Result<Vec<Frame>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; SNAPLEN];
        while out.len() < max {
            match self.receive(&mut buf)? {
                Some(record) => out.push(decode(&record[16..], self.cooked)),
                None => {
                    let Some(left) = until.checked_duration_since(Instant::now()) else {
                        break;
                    };
                    let mut fds = [nix::poll::PollFd::new(self.sock.as_fd(), nix::poll::PollFlags::POLLIN)];
                    let ms = u16::try_from(left.as_millis()).unwrap_or(u16::MAX);
                    match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
                        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        Ok(out)
    }
}

/// The pcap file header (microsecond timestamps, little-endian, version 2.4).
fn pcap_header(linktype: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(24);
    h.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    h.extend_from_slice(&2u16.to_le_bytes());
    h.extend_from_slice(&4u16.to_le_bytes());
    h.extend_from_slice(&0i32.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h.extend_from_slice(&(SNAPLEN as u32).to_le_bytes());
    h.extend_from_slice(&linktype.to_le_bytes());
    h
}

/// One pcap record: header (time, kept length, wire length), then `head` and `data`.
fn pcap_record(at: std::time::SystemTime, head: &[u8], data: &[u8], wire: usize) -> Vec<u8> {
    let t = at.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let kept = head.len() + data.len();
    let mut r = Vec::with_capacity(16 + kept);
    r.extend_from_slice(&(t.as_secs() as u32).to_le_bytes());
    r.extend_from_slice(&t.subsec_micros().to_le_bytes());
    r.extend_from_slice(&(kept as u32).to_le_bytes());
    r.extend_from_slice(&(wire as u32).to_le_bytes());
    r.extend_from_slice(head);
    r.extend_from_slice(data);
    r
}

/// The Linux cooked-capture header (LINKTYPE_LINUX_SLL) for a frame received as `from`.
fn sll_header(from: &libc::sockaddr_ll) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..2].copy_from_slice(&u16::from(from.sll_pkttype).to_be_bytes());
    h[2..4].copy_from_slice(&from.sll_hatype.to_be_bytes());
    let alen = usize::from(from.sll_halen).min(8);
    h[4..6].copy_from_slice(&(alen as u16).to_be_bytes());
    h[6..6 + alen].copy_from_slice(&from.sll_addr[..alen]);
    // sll_protocol is already in network byte order.
    h[14..16].copy_from_slice(&from.sll_protocol.to_ne_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_header_is_pcap_2_4_with_the_link_type() {
        let h = pcap_header(LINKTYPE_ETHERNET);
        assert_eq!(h.len(), 24);
        assert_eq!(&h[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes([h[20], h[21], h[22], h[23]]), 1);
    }

    #[test]
    fn an_ethernet_tcp_frame_decodes_like_tcpdump_prints_it() {
        let mut f = vec![
            0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0x02, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0x01, 0x08, 0x00,
        ];
        let mut ip = vec![0x45, 0, 0, 40, 0, 1, 0x40, 0, 63, 6, 0, 0, 10, 244, 1, 2, 10, 244, 2, 2];
        ip.extend_from_slice(&[0x9c, 0x40, 0x1f, 0x90]);
        ip.resize(40, 0);
        f.extend_from_slice(&ip);
        let d = decode(&f, false);
        assert_eq!(d.src_mac.as_deref(), Some("aa:aa:aa:aa:aa:01"));
        assert_eq!(d.dst_mac.as_deref(), Some("bb:bb:bb:bb:bb:02"));
        assert_eq!(d.ttl, Some(63));
        assert_eq!((d.src_port, d.dst_port), (Some(40000), Some(8080)));
        assert_eq!(
            d.summary,
            "aa:aa:aa:aa:aa:01 > bb:bb:bb:bb:bb:02, IPv4, ttl 63, TCP 10.244.1.2.40000 > 10.244.2.2.8080, length 54"
        );
    }

    #[test]
    fn a_record_keeps_the_wire_length() {
        let r = pcap_record(
            std::time::UNIX_EPOCH + Duration::from_micros(1_500_000),
            &[],
            &[1, 2, 3],
            60,
        );
        assert_eq!(u32::from_le_bytes([r[0], r[1], r[2], r[3]]), 1);
        assert_eq!(u32::from_le_bytes([r[4], r[5], r[6], r[7]]), 500_000);
        assert_eq!(u32::from_le_bytes([r[8], r[9], r[10], r[11]]), 3);
        assert_eq!(u32::from_le_bytes([r[12], r[13], r[14], r[15]]), 60);
        assert_eq!(&r[16..], &[1, 2, 3]);
    }
}
