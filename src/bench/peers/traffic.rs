//! Pod-to-pod TCP across nodes against a bare veth pair (the limit): bulk throughput and
//! request/response round-trip time, measured by this process with sockets made inside each
//! namespace. podlab's path: pod veth, node bridge `cni0`, node routing, the node's fabric veth,
//! the fabric bridge, and the same again on the other node. The bare path: one veth pair
//! between two namespaces (made through rtnetlink, as `ip link add ... type veth` would).
//!
//! Bulk senders use TCP congestion control `cubic` (the kernel's default) whatever the
//! machine's default is: BBR, set system-wide on some machines, paces a single flow on a veth
//! to about 20 Gbit/s, which caps the bare pair far below what the kernel can move and would
//! hide most of podlab's forwarding cost.

use super::Row;
use anyhow::{Context, Result, bail};
use podlab_netplugin::ns::{self, Netns};
use podlab_netplugin::{Dataplane, PodRef};
use podlab_node_agent::{Sandbox, SandboxKind, Spawner};
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// Throughput and RTT of one path.
#[derive(Clone, Debug, Default)]
pub struct PathFigures {
    /// Gbit/s of each round.
    pub gbits: Vec<f64>,
    /// Round-trip times, sorted.
    pub rtts: Vec<Duration>,
}

impl PathFigures {
    /// Median throughput over the rounds, Gbit/s.
    pub fn gbit(&self) -> f64 {
        let mut g = self.gbits.clone();
        g.sort_by(f64::total_cmp);
        g.get(g.len() / 2).copied().unwrap_or(0.0)
    }

    /// The `q`-quantile RTT in microseconds.
    pub fn rtt_us(&self, q: f64) -> f64 {
        if self.rtts.is_empty() {
            return 0.0;
        }
        let i = ((self.rtts.len() - 1) as f64 * q).round() as usize;
        self.rtts[i.min(self.rtts.len() - 1)].as_secs_f64() * 1e6
    }
}

/// podlab's cross-node path and the bare veth pair.
#[derive(Clone, Debug)]
pub struct Traffic {
    pub podlab: PathFigures,
    pub veth: PathFigures,
    /// The congestion control the bulk senders used.
    pub congestion_control: String,
}

/// The congestion control bulk senders ask for (see the module doc).
const BULK_CONGESTION_CONTROL: &str = "cubic";

/// Asks for congestion control `name` on `s`; returns the one `s` ends up with.
fn use_congestion_control(s: &TcpStream, name: &str) -> String {
    use nix::sys::socket::{getsockopt, setsockopt, sockopt::TcpCongestion};
    let _ = setsockopt(s, TcpCongestion, &std::ffi::OsString::from(name));
    getsockopt(s, TcpCongestion)
        .map(|cc| cc.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into())
}

const IO_TIMEOUT: Duration = Duration::from_secs(10);

fn listen(to: &Netns, to_ip: Ipv4Addr) -> Result<(TcpListener, u16)> {
    let l = ns::run_in(to, move || TcpListener::bind((to_ip, 0)))??;
    let port = l.local_addr()?.port();
    l.set_nonblocking(true)?;
    Ok((l, port))
}

fn accept(l: &TcpListener) -> std::io::Result<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(IO_TIMEOUT))?;
                s.set_write_timeout(Some(IO_TIMEOUT))?;
                return Ok(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(e),
        }
    }
}

fn connect(from: &Netns, to_ip: Ipv4Addr, port: u16) -> Result<TcpStream> {
    let s = ns::run_in(from, move || {
        TcpStream::connect_timeout(&SocketAddr::from((to_ip, port)), Duration::from_secs(3))
    })?
    .with_context(|| format!("connecting to {to_ip}:{port}"))?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

/// Sends for `dur` from `from` to a receiver in `to`; returns Gbit/s seen by the receiver and
/// the sender's congestion control.
fn stream(from: &Netns, to: &Netns, to_ip: Ipv4Addr, dur: Duration) -> Result<(f64, String)> {
    let (l, port) = listen(to, to_ip)?;
    let rx = std::thread::spawn(move || -> std::io::Result<(u64, Duration)> {
        let mut s = accept(&l)?;
        let mut buf = vec![0u8; 1 << 18];
        let mut total = 0u64;
        let mut start = None;
        loop {
            let n = s.read(&mut buf)?;
            let t0 = *start.get_or_insert_with(Instant::now);
            if n == 0 {
                return Ok((total, t0.elapsed()));
            }
            total += n as u64;
        }
    });
    let mut s = connect(from, to_ip, port)?;
    let cc = use_congestion_control(&s, BULK_CONGESTION_CONTROL);
    let buf = vec![0x5au8; 1 << 17];
    let t = Instant::now();
    while t.elapsed() < dur {
        s.write_all(&buf)?;
    }
    s.shutdown(std::net::Shutdown::Write)?;
    let (bytes, took) = rx.join().map_err(|_| anyhow::anyhow!("receiver thread panicked"))??;
    drop(s);
    Ok((bytes as f64 * 8.0 / took.as_secs_f64().max(1e-9) / 1e9, cc))
}

/// `n` one-byte request/response round trips (after 50 unmeasured ones), TCP_NODELAY.
fn ping_pong(from: &Netns, to: &Netns, to_ip: Ipv4Addr, n: usize) -> Result<Vec<Duration>> {
    let (l, port) = listen(to, to_ip)?;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let mut s = accept(&l)?;
        s.set_nodelay(true)?;
        let mut b = [0u8; 1];
        while s.read(&mut b)? == 1 {
            s.write_all(&b)?;
        }
        Ok(())
    });
    let mut s = connect(from, to_ip, port)?;
    s.set_nodelay(true)?;
    let mut b = [1u8; 1];
    let mut out = Vec::with_capacity(n);
    for i in 0..n + 50 {
        let t = Instant::now();
        s.write_all(&b)?;
        s.read_exact(&mut b)?;
        if i >= 50 {
            out.push(t.elapsed());
        }
    }
    s.shutdown(std::net::Shutdown::Both)?;
    drop(s);
    let _ = echo.join();
    out.sort();
    Ok(out)
}

/// Builds both paths in a fresh namespace and measures them in alternating rounds.
pub fn measure(quick: bool) -> Result<Traffic> {
    let (rounds, dur, pings) = if quick {
        (1, Duration::from_millis(300), 200)
    } else {
        (7, Duration::from_millis(1500), 2000)
    };
    super::in_fresh_netns("throughput", move |rt| {
        let spawner = Spawner::new();
        let sb = |kind, name: &str| Sandbox::create(&spawner, kind, name).context("sandbox");
        let (n1, n2) = (sb(SandboxKind::Node, "tp-node-1")?, sb(SandboxKind::Node, "tp-node-2")?);
        let (a, b) = (sb(SandboxKind::Pod, "tp-a")?, sb(SandboxKind::Pod, "tp-b")?);
        let (c, d) = (sb(SandboxKind::Pod, "veth-c")?, sb(SandboxKind::Pod, "veth-d")?);

        let net = crate::bench::network();
        let dp = Dataplane::kernel(net.clone(), rt.handle().clone())?;
        let (x1, x2) = (net.node(1, "worker-1")?, net.node(2, "worker-2")?);
        let pod = |name: &str| PodRef {
            namespace: "default".into(),
            name: name.into(),
            uid: format!("uid-{name}"),
        };
        let (pa, pb) = rt.block_on(async {
            dp.setup_node(&x1, Some(&*n1.netns()?)).await?;
            dp.setup_node(&x2, Some(&*n2.netns()?)).await?;
            let peers = [x1.clone(), x2.clone()];
            dp.sync_routes("worker-1", &peers).await?;
            dp.sync_routes("worker-2", &peers).await?;
            let pa = dp.add_pod("worker-1", &pod("a"), Some(&*a.netns()?)).await?;
            let pb = dp.add_pod("worker-2", &pod("b"), Some(&*b.netns()?)).await?;
            Ok::<_, anyhow::Error>((pa, pb))
        })?;

        let veth_ip = Ipv4Addr::new(10, 99, 0, 2);
        rt.block_on(crate::bench::bare_loop::veth_pair(
            rt.handle(),
            (&*c.netns()?, "veth-c", Ipv4Addr::new(10, 99, 0, 1)),
            (&*d.netns()?, "veth-d", veth_ip),
            24,
        ))
        .context("bare veth pair")?;

        let mut t = Traffic {
            podlab: PathFigures::default(),
            veth: PathFigures::default(),
            congestion_control: String::new(),
        };
        for round in 0..rounds {
            // Each round measures both paths back to back, in alternating order.
            let veth = || stream(&*c.netns()?, &*d.netns()?, veth_ip, dur).context("bare veth");
            let podlab = || stream(&*a.netns()?, &*b.netns()?, pb.ip, dur).context("podlab pod to pod");
            let ((v, vcc), (p, pcc)) = if round % 2 == 0 {
                let v = veth()?;
                (v, podlab()?)
            } else {
                let p = podlab()?;
                (veth()?, p)
            };
            if vcc != pcc {
                bail!("the two paths' senders ended up with different congestion control ({pcc}, {vcc})");
            }
            t.congestion_control = pcc;
            t.veth.gbits.push(v);
            t.podlab.gbits.push(p);
            t.veth
                .rtts
                .extend(ping_pong(&*c.netns()?, &*d.netns()?, veth_ip, pings).context("bare veth")?);
            t.podlab
                .rtts
                .extend(ping_pong(&*a.netns()?, &*b.netns()?, pb.ip, pings).context("podlab pod to pod")?);
        }
        let show = |g: &[f64]| g.iter().map(|x| format!("{x:.1}")).collect::<Vec<_>>().join(" ");
        println!(
            "      throughput per round, Gbit/s (TCP {}): podlab {}",
            t.congestion_control,
            show(&t.podlab.gbits)
        );
        println!(
            "      {:>w$}veth   {}",
            "",
            show(&t.veth.gbits),
            w = "throughput per round, Gbit/s (TCP ): ".len() + t.congestion_control.len()
        );
        t.veth.rtts.sort();
        t.podlab.rtts.sort();
        let _ = pa;
        Ok(t)
    })
}

impl Traffic {
    /// podlab's throughput over the veth pair's: the median of the per-round ratios (each round
    /// measures both paths back to back, so slow drifts of a shared machine cancel out).
    pub fn ratio(&self) -> f64 {
        let mut r: Vec<f64> = self
            .podlab
            .gbits
            .iter()
            .zip(&self.veth.gbits)
            .map(|(p, v)| p / v.max(1e-9))
            .collect();
        r.sort_by(f64::total_cmp);
        r.get(r.len() / 2).copied().unwrap_or(0.0)
    }
}

/// Table rows: throughput (target 0.9x the veth pair) and RTT p50/p99.
pub fn rows(t: &Traffic) -> Vec<Row> {
    let r = t.ratio();
    let rtt = |p: &PathFigures| format!("p50 {:.0} µs, p99 {:.0} µs", p.rtt_us(0.5), p.rtt_us(0.99));
    vec![
        Row::new(
            "TCP throughput, pod to pod across nodes",
            format!("{:.2} Gbit/s (TCP {})", t.podlab.gbit(), t.congestion_control),
        )
        .peer("bare veth pair", format!("{:.2} Gbit/s", t.veth.gbit()))
        .ratio(r, " the veth (median of rounds)", ">= 0.9x the veth", Some(r >= 0.9)),
        Row::new("TCP RTT (1-byte ping-pong) across nodes", rtt(&t.podlab))
            .peer("bare veth pair", rtt(&t.veth))
            .ratio(
                t.podlab.rtt_us(0.5) / t.veth.rtt_us(0.5).max(1e-9),
                " the veth (p50)",
                "",
                None,
            ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_quantiles() {
        let p = PathFigures {
            gbits: vec![3.0, 1.0, 2.0],
            rtts: (1..=100).map(Duration::from_micros).collect(),
        };
        assert_eq!(p.gbit(), 2.0);
        assert_eq!(p.rtt_us(0.0), 1.0);
        assert_eq!(p.rtt_us(1.0), 100.0);
        assert!((p.rtt_us(0.5) - 51.0).abs() < 1.0);
    }

    #[test]
    fn ratio_is_the_median_of_paired_rounds() {
        let t = Traffic {
            podlab: PathFigures {
                gbits: vec![9.0, 5.0, 20.0],
                rtts: vec![],
            },
            veth: PathFigures {
                gbits: vec![10.0, 10.0, 20.0],
                rtts: vec![],
            },
            congestion_control: "cubic".into(),
        };
        assert_eq!(t.ratio(), 0.9);
    }
}
