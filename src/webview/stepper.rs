//! The packet stepper's data: `podlab trace`'s verified hop list (asked from the daemon), with
//! the real frame captured at every hop. `tcpdump` listens on each hop's interface in its
//! namespace while the daemon's trace sends its probes again; the first probe frame seen there
//! gives the Ethernet and IP headers (MACs change at every router, IPs stay, TTL drops), and
//! the namespace's neighbour table gives the ARP entry that chose the destination MAC.

use super::Ctx;
use super::views::{daemon_json, neighbours_of, netns_pid};
use crate::protocol::Request;
use crate::verbs::{capture, trace};
use anyhow::{Result, anyhow};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// One captured frame, parsed from `tcpdump -e -n -v`.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Packet {
    /// tcpdump's text for the frame (all its lines).
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

/// A running `tcpdump -l -e -n -v` in one namespace.
pub struct Capture {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Capture {
    /// Starts tcpdump on `iface` in the namespace of `pid`, returning once it listens.
    pub fn start(pid: i32, iface: &str, filter: &str, count: u32) -> Result<Capture> {
        let bin = capture::find_tool("tcpdump")
            .ok_or_else(|| anyhow!("tcpdump is not installed on this machine (apt-get install tcpdump)"))?;
        let (mut cmd, netns) = capture::netns_command(pid, &bin)?;
        cmd.args(["-l", "-n", "-e", "-v", "-i", iface, "-c", &count.to_string(), filter])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| anyhow!("starting tcpdump: {e}"))?;
        drop(netns);
        let (tx, rx) = mpsc::channel();
        if let Some(err) = child.stderr.take() {
            std::thread::spawn(move || {
                for l in BufReader::new(err).lines().map_while(Result::ok) {
                    if l.contains("listening on") || l.contains("tcpdump:") {
                        let _ = tx.send(l);
                    }
                }
            });
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take();
        let sink = lines.clone();
        let reader = std::thread::spawn(move || {
            if let Some(out) = out {
                for l in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Ok(mut v) = sink.lock() {
                        v.push(l);
                    }
                }
            }
        });
        let mut cap = Capture {
            child,
            lines,
            reader: Some(reader),
        };
        match rx.recv_timeout(Duration::from_secs(3)) {
            Ok(l) if l.contains("listening on") => Ok(cap),
            Ok(l) => {
                cap.finish();
                Err(anyhow!("{l}"))
            }
            Err(_) => {
                cap.finish();
                Err(anyhow!("tcpdump on {iface} did not start listening"))
            }
        }
    }

    /// Whether tcpdump has stopped (its packet count reached).
    pub fn exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// Stops tcpdump and returns the frames it printed.
    pub fn finish(&mut self) -> Vec<Packet> {
        if !self.exited() {
            crate::verbs::capture::interrupt(&self.child);
        }
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let lines = self.lines.lock().map(|v| v.clone()).unwrap_or_default();
        packets(&lines)
    }
}

/// Groups tcpdump's lines into frames (a frame's continuation lines are indented).
pub fn packets(lines: &[String]) -> Vec<Packet> {
    let mut frames: Vec<Vec<&str>> = Vec::new();
    for l in lines {
        match frames.last_mut() {
            Some(f) if l.starts_with(char::is_whitespace) => f.push(l),
            _ => frames.push(vec![l]),
        }
    }
    frames.iter().map(|f| parse_frame(f)).collect()
}

fn parse_frame(f: &[&str]) -> Packet {
    let text = f.join("\n");
    let head = f.first().copied().unwrap_or_default();
    let mut p = Packet {
        text: text.clone(),
        ..Packet::default()
    };
    // `TIME SRCMAC > DSTMAC, ethertype IPv4 (0x0800), length 74: (tos 0x0, ttl 64, ...`
    if let Some((macs, _)) = head.split_once(", ethertype")
        && let Some((s, d)) = macs.split_once(" > ")
    {
        p.src_mac = s.split_whitespace().last().map(str::to_string);
        p.dst_mac = Some(d.trim().to_string());
    }
    if let Some(i) = text.find("ttl ") {
        p.ttl = text[i + 4..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .and_then(|t| t.parse().ok());
    }
    if let Some(i) = text.find("proto ") {
        p.proto = text[i + 6..].split_whitespace().next().map(str::to_string);
    } else if head.contains("ARP") {
        p.proto = Some("ARP".into());
    }
    // The IP line: `    10.244.1.2.40000 > 10.244.2.2.8080: Flags [S], ...`
    let ip_line = f.get(1).copied().unwrap_or(head);
    if let Some((a, rest)) = ip_line.trim().split_once(" > ") {
        p.src = a.split_whitespace().last().map(str::to_string);
        p.dst = rest.split(':').next().map(str::to_string);
    }
    p
}

/// `podlab trace` with the frame captured at every hop and the ARP entry used.
pub fn verified_trace(ctx: &Ctx, args: &trace::Args) -> Result<Value> {
    let req = Request::Trace(args.clone());
    let first = daemon_json(ctx, &req)?;
    let Some(hops) = first.get("hops").and_then(Value::as_array).cloned() else {
        return Ok(json!({"trace": first, "hops": []}));
    };
    let (src, dst) = (str_of(&first, "src_ip"), str_of(&first, "dst_ip"));
    let filter = format!("ip and src host {src} and dst host {dst}");
    // One capture per (namespace, interface) of the path, all listening before the probes.
    let mut caps: Vec<(String, String, Result<Capture>)> = Vec::new();
    for h in &hops {
        let (ns, iface) = (str_of(h, "namespace"), str_of(h, "interface"));
        if ns.is_empty() || iface.is_empty() || caps.iter().any(|(n, i, _)| *n == ns && *i == iface) {
            continue;
        }
        let cap = netns_pid(ctx, &ns, &args.namespace).and_then(|pid| Capture::start(pid, &iface, &filter, 2));
        caps.push((ns, iface, cap));
    }
    let second = daemon_json(ctx, &req)?;
    std::thread::sleep(Duration::from_millis(150));
    let mut frames: Vec<(String, String, Result<Packet, String>)> = Vec::new();
    for (ns, iface, cap) in caps {
        let got = match cap {
            Ok(mut c) => c
                .finish()
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
    fn parses_tcpdump_frames() {
        let lines: Vec<String> = [
            "12:00:00.000001 aa:aa:aa:aa:aa:01 > bb:bb:bb:bb:bb:02, ethertype IPv4 (0x0800), length 74: (tos 0x0, ttl 63, id 1, offset 0, flags [DF], proto TCP (6), length 60)",
            "    10.244.1.2.40000 > 10.244.2.2.8080: Flags [S], cksum 0x1 (incorrect), seq 1, win 64240, length 0",
            "12:00:00.000002 aa:aa:aa:aa:aa:03 > bb:bb:bb:bb:bb:04, ethertype IPv4 (0x0800), length 74: (tos 0x0, ttl 64, id 2, offset 0, flags [DF], proto UDP (17), length 60)",
            "    10.244.1.2.5 > 10.244.2.2.6: UDP, length 4",
        ]
        .map(String::from)
        .to_vec();
        let p = packets(&lines);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].src_mac.as_deref(), Some("aa:aa:aa:aa:aa:01"));
        assert_eq!(p[0].dst_mac.as_deref(), Some("bb:bb:bb:bb:bb:02"));
        assert_eq!(p[0].ttl, Some(63));
        assert_eq!(p[0].proto.as_deref(), Some("TCP"));
        assert_eq!(p[0].src.as_deref(), Some("10.244.1.2.40000"));
        assert_eq!(p[0].dst.as_deref(), Some("10.244.2.2.8080"));
        assert_eq!(p[1].ttl, Some(64));
    }
}
