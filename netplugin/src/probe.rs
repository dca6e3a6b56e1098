//! Real probes between namespaces, for `connectivity` checks and `podlab trace`: a TCP socket
//! made inside the sender's network namespace connects to the receiver's address, and the
//! receiver reports the source address it saw (with a flat NAT-free network, the sender's own
//! pod IP); a UDP datagram shows the TTL it arrived with (how many routers it crossed).

use std::io::{IoSliceMut, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::Duration;

use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn, recvmsg, setsockopt, sockopt};

use crate::ns::{self, Netns};

/// What one probe from A to B found.
#[derive(Debug, Clone)]
pub struct ProbeResult {
    /// True when the connection (and, for an app port, the request) succeeded.
    pub ok: bool,
    /// The source address the receiver saw.
    pub seen_source: Option<Ipv4Addr>,
    /// How long the TCP connect (or, for an app port, the whole request) took.
    pub rtt: Option<Duration>,
    /// Why the probe failed.
    pub error: Option<String>,
}

impl ProbeResult {
    /// A probe that could not be made (`why`: e.g. a namespace that could not be opened).
    pub fn failed(why: impl std::fmt::Display) -> ProbeResult {
        ProbeResult {
            ok: false,
            seen_source: None,
            rtt: None,
            error: Some(why.to_string()),
        }
    }
}

/// Probe with a temporary listener podlab opens inside the receiver's namespace (needs no
/// server in the pod): proves the path and shows the source address the receiver sees.
pub fn probe_listener(from: &Netns, to: &Netns, to_ip: Ipv4Addr, timeout: Duration) -> ProbeResult {
    let fail = |e: String| ProbeResult {
        ok: false,
        seen_source: None,
        rtt: None,
        error: Some(e),
    };
    let listener = match ns::run_in(to, move || TcpListener::bind((to_ip, 0))) {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return fail(format!("cannot listen on {to_ip} in the receiver: {e}")),
        Err(e) => return fail(format!("cannot enter the receiver's namespace: {e}")),
    };
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let _ = listener.set_nonblocking(true);
    let started = std::time::Instant::now();
    let connected = ns::run_in(from, move || {
        TcpStream::connect_timeout(&SocketAddr::from((to_ip, port)), timeout)
    });
    let stream = match connected {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return fail(format!("connect to {to_ip}:{port}: {e}")),
        Err(e) => return fail(format!("cannot enter the sender's namespace: {e}")),
    };
    let rtt = started.elapsed();
    let deadline = std::time::Instant::now() + timeout;
    loop {
        match listener.accept() {
            Ok((_, peer)) => {
                drop(stream);
                let seen = match peer {
                    SocketAddr::V4(a) => Some(*a.ip()),
                    SocketAddr::V6(_) => None,
                };
                return ProbeResult {
                    ok: true,
                    seen_source: seen,
                    rtt: Some(rtt),
                    error: None,
                };
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(2));
            }
            Err(e) => return fail(format!("accept: {e}")),
        }
    }
}

/// Probe an application port: connect from A's namespace to `to_ip:port`, send an HTTP GET and
/// read the answer. If the receiver is podlab's echo image, its `client_ip:` line is the source.
pub fn probe_port(from: &Netns, to_ip: Ipv4Addr, port: u16, timeout: Duration) -> ProbeResult {
    let started = std::time::Instant::now();
    let r = ns::run_in(from, move || -> std::io::Result<String> {
        let mut s = TcpStream::connect_timeout(&SocketAddr::from((to_ip, port)), timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.write_all(format!("GET / HTTP/1.0\r\nHost: {to_ip}\r\n\r\n").as_bytes())?;
        let mut buf = String::new();
        let _ = s.read_to_string(&mut buf);
        Ok(buf)
    });
    match r {
        Ok(Ok(body)) => {
            let seen = body
                .lines()
                .find_map(|l| l.strip_prefix("client_ip: "))
                .and_then(|s| s.trim().parse().ok());
            ProbeResult {
                ok: true,
                seen_source: seen,
                rtt: Some(started.elapsed()),
                error: None,
            }
        }
        Ok(Err(e)) => ProbeResult {
            ok: false,
            seen_source: None,
            rtt: None,
            error: Some(format!("{to_ip}:{port}: {e}")),
        },
        Err(e) => ProbeResult {
            ok: false,
            seen_source: None,
            rtt: None,
            error: Some(e.to_string()),
        },
    }
}

/// Sends one UDP datagram from `from` to a socket in `to` (bound to `dst_ip`) that asks for the
/// received TTL (`IP_RECVTTL`): `(ttl sent, ttl received)`, `None` if anything failed.
pub fn ttl_probe(from: &Netns, to: &Netns, dst_ip: Ipv4Addr, timeout: Duration) -> Option<(u8, u8)> {
    let sock = ns::run_in(to, move || UdpSocket::bind((dst_ip, 0))).ok()?.ok()?;
    setsockopt(&sock, sockopt::Ipv4RecvTtl, &true).ok()?;
    sock.set_read_timeout(Some(timeout)).ok()?;
    let port = sock.local_addr().ok()?.port();
    let sent = ns::run_in(from, move || -> std::io::Result<u32> {
        let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        s.send_to(b"podlab-trace", (dst_ip, port))?;
        s.ttl()
    })
    .ok()?
    .ok()?;
    let mut buf = [0u8; 64];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!(libc::c_int);
    let msg = recvmsg::<SockaddrIn>(sock.as_raw_fd(), &mut iov, Some(&mut cmsg), MsgFlags::empty()).ok()?;
    let ttl = msg.cmsgs().ok()?.find_map(|c| match c {
        ControlMessageOwned::Ipv4Ttl(ttl) => Some(ttl),
        _ => None,
    })?;
    Some((u8::try_from(sent).unwrap_or(64), u8::try_from(ttl).unwrap_or(0)))
}
