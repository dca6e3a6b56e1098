//! The packet stepper's data: `podlab trace`'s verified hop list (asked from the daemon), with
//! the real frame captured at every hop. A packet socket listens on each hop's interface in its
//! namespace (podlab's own capture, as `podlab capture`) while the daemon's trace sends its
//! probes again; the first probe frame seen there gives the Ethernet and IP headers (MACs
//! change at every router, IPs stay, TTL drops), and the namespace's neighbour table gives the
//! ARP entry that chose the destination MAC.

use super::Ctx;
use super::views::{daemon_json, neighbours_of, netns_pid};
use crate::protocol::Request;
use crate::verbs::trace;
use anyhow::{Context, Result};
use podlab_netplugin::capture::Frame;
use serde::Serialize;
use serde_json::{Value, json};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

/// One captured frame, as the page shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Packet {
    /// The frame in one line, in tcpdump's manner.
    pub text: String,
    /// Ethernet source.
    pub src_mac: Option<String>,
    /// Ethernet destination.
    pub dst_mac: Option<String>,
    /// IP TTL.
    pub ttl: Option<u8>,
    /// IP source (address and port, as tcpdump prints it).
    pub src: Option<String>,
    /// IP destination.
    pub dst: Option<String>,
    /// Protocol (`TCP`, `UDP`, `ICMP`, `ARP`).
    pub proto: Option<String>,
}

impl From<Frame> for Packet {
    fn from(f: Frame) -> Packet {
        let at = |ip: Option<Ipv4Addr>, port: Option<u16>| {
            ip.map(|i| match port {
                Some(p) => format!("{i}.{p}"),
                None => i.to_string(),
            })
        };
        Packet {
            src: at(f.src_ip, f.src_port),
            dst: at(f.dst_ip, f.dst_port),
            proto: if f.ethertype == "ARP" {
                Some("ARP".into())
            } else {
                f.proto.clone()
            },
            text: f.summary,
            src_mac: f.src_mac,
            dst_mac: f.dst_mac,
            ttl: f.ttl,
        }
    }
}

/// Which frames a capture keeps.
#[derive(Debug, Clone, Copy)]
pub enum Want {
    /// IPv4 from this source to this destination (a trace's probes).
    Between(Ipv4Addr, Ipv4Addr),
    /// IPv4 and ARP.
    IpOrArp,
}

impl Want {
    fn keeps(self, f: &Frame) -> bool {
        match self {
            Want::Between(s, d) => f.ethertype == "IPv4" && f.src_ip == Some(s) && f.dst_ip == Some(d),
            Want::IpOrArp => f.ethertype == "IPv4" || f.ethertype == "ARP",
        }
    }
}

/// A packet socket listening on one interface of one namespace.
pub struct Capture {
    cap: podlab_netplugin::capture::Capture,
    want: Want,
    count: usize,
}

impl Capture {
    /// Listens on `iface` in the network namespace of `pid` (listening once this returns).
    pub fn start(pid: i32, iface: &str, want: Want, count: usize) -> Result<Capture> {
        let netns = podlab_netplugin::Netns::from_pid(pid as u32)
            .with_context(|| format!("opening the network namespace of pid {pid}"))?;
        let cap =
            podlab_netplugin::capture::Capture::open(&netns, iface).with_context(|| format!("capturing on {iface}"))?;
        Ok(Capture { cap, want, count })
    }

    /// The frames kept so far, waiting until `within` has passed or `count` were kept.
    pub fn finish(&self, within: Duration) -> Vec<Packet> {
        let until = Instant::now() + within;
        let mut kept = Vec::new();
        while kept.len() < self.count {
            let Ok(frames) = self.cap.frames(self.count, until) else {
                break;
            };
            if frames.is_empty() {
                break;
            }
            kept.extend(frames.into_iter().filter(|f| self.want.keeps(f)).map(Packet::from));
        }
        kept.truncate(self.count);
        kept
    }
}

/// `podlab trace` with the frame captured at every hop and the ARP entry used.
pub fn verified_trace(ctx: &Ctx, args: &trace::Args) -> Result<Value> {
    let req = Request::Trace(args.clone());
    let first = daemon_json(ctx, &req)?;
    let Some(hops) = first.get("hops").and_then(Value::as_array).cloned() else {
        return Ok(json!({"trace": first, "hops": []}));
    };
    let (src, dst) = (str_of(&first, "src_ip"), str_of(&first, "dst_ip"));
    let want = match (src.parse(), dst.parse()) {
        (Ok(s), Ok(d)) => Want::Between(s, d),
        _ => Want::IpOrArp,
    };
    // One capture per (namespace, interface) of the path, all listening before the probes.
    let mut caps: Vec<(String, String, Result<Capture>)> = Vec::new();
    for h in &hops {
        let (ns, iface) = (str_of(h, "namespace"), str_of(h, "interface"));
        if ns.is_empty() || iface.is_empty() || caps.iter().any(|(n, i, _)| *n == ns && *i == iface) {
            continue;
        }
        let cap = netns_pid(ctx, &ns, &args.namespace).and_then(|pid| Capture::start(pid, &iface, want, 2));
        caps.push((ns, iface, cap));
    }
    let second = daemon_json(ctx, &req)?;
    let mut frames: Vec<(String, String, Result<Packet, String>)> = Vec::new();
    for (ns, iface, cap) in caps {
        let got = match cap {
            Ok(c) => c
                .finish(Duration::from_millis(150))
                .into_iter()
                .next()
                .ok_or_else(|| "no probe frame seen on this interface".to_string()),
            Err(e) => Err(format!("{e:#}")),
        };
        frames.push((ns, iface, got));
    }
    let mut neigh: Vec<(String, Value)> = Vec::new();
    let report = if second.get("hops").is_some() { second } else { first };
    let mut out = Vec::new();
    for h in report.get("hops").and_then(Value::as_array).into_iter().flatten() {
        let (ns, iface) = (str_of(h, "namespace"), str_of(h, "interface"));
        let frame = frames.iter().find(|(n, i, _)| *n == ns && *i == iface).map(|f| &f.2);
        if !neigh.iter().any(|(n, _)| *n == ns) {
            let table = netns_pid(ctx, &ns, &args.namespace)
                .and_then(neighbours_of)
                .unwrap_or(Value::Array(vec![]));
            neigh.push((ns.clone(), table));
        }
        let table = neigh.iter().find(|(n, _)| *n == ns).map(|(_, t)| t);
        let arp = match (frame, table) {
            (Some(Ok(p)), Some(t)) => arp_entry(t, p.dst_mac.as_deref(), &iface),
            _ => Value::Null,
        };
        let mut hop = h.clone();
        if let Some(o) = hop.as_object_mut() {
            match frame {
                Some(Ok(p)) => o.insert("frame".into(), serde_json::to_value(p)?),
                Some(Err(e)) => o.insert("frame_error".into(), Value::String(e.clone())),
                None => None,
            };
            o.insert("arp".into(), arp);
        }
        out.push(hop);
    }
    Ok(json!({"trace": report, "hops": out}))
}

/// The neighbour entry whose MAC is the frame's destination (on `iface` when there is one).
fn arp_entry(table: &Value, mac: Option<&str>, iface: &str) -> Value {
    let Some(mac) = mac else { return Value::Null };
    let all = table.as_array().cloned().unwrap_or_default();
    let by_mac = |e: &&Value| e.get("lladdr").and_then(Value::as_str) == Some(mac);
    all.iter()
        .filter(by_mac)
        .find(|e| e.get("dev").and_then(Value::as_str) == Some(iface))
        .or_else(|| all.iter().find(by_mac))
        .cloned()
        .unwrap_or(Value::Null)
}

fn str_of(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_capture_keeps_only_its_probes() {
        let probe = Frame {
            ethertype: "IPv4".into(),
            src_ip: Some(Ipv4Addr::new(10, 244, 1, 2)),
            dst_ip: Some(Ipv4Addr::new(10, 244, 2, 2)),
            src_port: Some(40000),
            dst_port: Some(8080),
            proto: Some("TCP".into()),
            ttl: Some(63),
            ..Frame::default()
        };
        let want = Want::Between(Ipv4Addr::new(10, 244, 1, 2), Ipv4Addr::new(10, 244, 2, 2));
        assert!(want.keeps(&probe));
        let reply = Frame {
            src_ip: probe.dst_ip,
            dst_ip: probe.src_ip,
            ..probe.clone()
        };
        assert!(!want.keeps(&reply));
        let p = Packet::from(probe);
        assert_eq!(p.src.as_deref(), Some("10.244.1.2.40000"));
        assert_eq!(p.dst.as_deref(), Some("10.244.2.2.8080"));
        assert_eq!(p.ttl, Some(63));
    }
}
