//! Who is on the other end of a loopback TCP connection: the kernel's socket table, asked over
//! `NETLINK_SOCK_DIAG` (what `ss -e` shows as `uid:`) for the client's own socket, found by its
//! four addresses. This is how the API knows a connection comes from the cluster's own user
//! (kubectl sends no credentials over plain HTTP, see [`crate::auth`]).
//!
//! The netlink socket is opened with the API's listener, in the machine's network namespace
//! (the lookup happens in the namespace the netlink socket belongs to) and in the user
//! namespace podlab then runs in: the uid the kernel reports and the owner recorded then are
//! both seen from that user namespace (a rootless cluster's user is uid 0 there; other users
//! are the overflow uid).

use nix::sys::socket::{AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Mutex;

/// `SOCK_DIAG_BY_FAMILY`, the request type of an `inet_diag_req_v2`.
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `NLMSG_ERROR`.
const NLMSG_ERROR: u16 = 2;
/// Size of `struct nlmsghdr`.
const NLMSG_HDR: usize = 16;
/// Offset of `idiag_uid` in `struct inet_diag_msg` (4 bytes, a 48-byte `inet_diag_sockid`,
/// expires, rqueue, wqueue).
const UID_OFFSET: usize = 4 + 48 + 12;

/// The socket table of the machine's network namespace, and the uid that owns the cluster.
#[derive(Debug)]
pub struct PeerCheck {
    sock: Mutex<OwnedFd>,
    owner: u32,
    also: Vec<u32>,
}

impl PeerCheck {
    /// Opens the netlink socket here (the machine's network namespace) and records this
    /// process's effective uid as the owner.
    pub fn open() -> io::Result<PeerCheck> {
        let sock = nix::sys::socket::socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkSockDiag,
        )?;
        nix::sys::socket::bind(sock.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        Ok(PeerCheck {
            sock: Mutex::new(sock),
            owner: nix::unistd::geteuid().as_raw(),
            also: Vec::new(),
        })
    }

    /// Also lets `uid` in (as seen where the check was opened): `podlab ui` under `sudo`
    /// answers the browser of the user who ran sudo.
    pub fn also_allowing(mut self, uid: u32) -> PeerCheck {
        self.also.push(uid);
        self
    }

    /// The uid that owns the cluster, as seen where the check was opened.
    pub fn owner(&self) -> u32 {
        self.owner
    }

    /// Whether the connection from `peer` to `local` (both on this machine) was opened by the
    /// cluster's owner (or a uid [`also_allowing`](Self::also_allowing) added). Anything
    /// unknown (the client already gone, a netlink error) is "no".
    pub fn is_owner(&self, peer: SocketAddr, local: SocketAddr) -> bool {
        match self.uid_of(peer, local) {
            Ok(uid) => uid == self.owner || self.also.contains(&uid),
            Err(e) => {
                tracing::debug!("who is {peer}: {e}");
                false
            }
        }
    }

    /// The uid owning the TCP socket bound to `peer` and connected to `local`.
    pub fn uid_of(&self, peer: SocketAddr, local: SocketAddr) -> io::Result<u32> {
        let req = request(peer, local)?;
        let sock = self
            .sock
            .lock()
            .map_err(|_| io::Error::other("sock_diag lock poisoned"))?;
        let fd = sock.as_raw_fd();
        nix::sys::socket::send(fd, &req, MsgFlags::empty())?;
        let mut buf = [0u8; 8192];
        let n = nix::sys::socket::recv(fd, &mut buf, MsgFlags::empty())?;
        answer(&buf[..n])
    }
}

/// An `nlmsghdr` and an `inet_diag_req_v2` for the one TCP socket `src` → `dst`.
fn request(src: SocketAddr, dst: SocketAddr) -> io::Result<Vec<u8>> {
    let family = match (src.ip(), dst.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => libc::AF_INET,
        (IpAddr::V6(_), IpAddr::V6(_)) => libc::AF_INET6,
        _ => return Err(io::Error::other("mixed address families")),
    };
    let len = NLMSG_HDR + 56;
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    m.extend_from_slice(&(libc::NLM_F_REQUEST as u16).to_ne_bytes());
    m.extend_from_slice(&1u32.to_ne_bytes()); // seq
    m.extend_from_slice(&0u32.to_ne_bytes()); // pid
    m.extend_from_slice(&[family as u8, libc::IPPROTO_TCP as u8, 0, 0]);
    m.extend_from_slice(&u32::MAX.to_ne_bytes()); // every state
    m.extend_from_slice(&src.port().to_be_bytes());
    m.extend_from_slice(&dst.port().to_be_bytes());
    for ip in [src.ip(), dst.ip()] {
        let mut a = [0u8; 16];
        match ip {
            IpAddr::V4(v4) => a[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => a.copy_from_slice(&v6.octets()),
        }
        m.extend_from_slice(&a);
    }
    m.extend_from_slice(&0u32.to_ne_bytes()); // interface
    m.extend_from_slice(&[0xff; 8]); // INET_DIAG_NOCOOKIE
    Ok(m)
}

/// The uid in the kernel's answer, or its error.
fn answer(buf: &[u8]) -> io::Result<u32> {
    let word = |at: usize| -> io::Result<[u8; 4]> {
        buf.get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| io::Error::other("short sock_diag answer"))
    };
    let kind = u16::from_ne_bytes([buf.get(4).copied().unwrap_or(0), buf.get(5).copied().unwrap_or(0)]);
    match kind {
        NLMSG_ERROR => {
            let errno = i32::from_ne_bytes(word(NLMSG_HDR)?);
            Err(io::Error::from_raw_os_error(-errno))
        }
        SOCK_DIAG_BY_FAMILY => Ok(u32::from_ne_bytes(word(NLMSG_HDR + UID_OFFSET)?)),
        other => Err(io::Error::other(format!("unexpected sock_diag message type {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_uid_of_a_loopback_client() {
        let check = PeerCheck::open().unwrap();
        let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(server.local_addr().unwrap()).unwrap();
        let (accepted, peer) = server.accept().unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        let local = accepted.local_addr().unwrap();
        assert_eq!(check.uid_of(peer, local).unwrap(), check.owner());
        assert!(check.is_owner(peer, local));
        // A connection nobody has: not found, so not the owner.
        let nobody: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert!(check.uid_of(nobody, local).is_err());
        assert!(!check.is_owner(nobody, local));
    }
}
