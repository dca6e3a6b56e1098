//! `podlab trace SRC DST[:PORT]`: the path a packet takes, asked from the kernel in every
//! namespace (netplugin's `trace`, through the dataplane's layout), then proven (or refuted) by
//! real probes: interface counters that moved, the source address the destination saw, the
//! TTL a datagram arrived with.

use super::routes::split;
use super::{NEEDS_KERNEL, fabric_netns, node_of, rt};
use crate::probe;
use anyhow::{Context, Result, anyhow, bail};
use podlab_control_plane::{Cluster, key_of};
use podlab_netplugin::inspect::{self, NsSnapshot};
use podlab_netplugin::trace::{self, Endpoint, Hop, TracePath};
use podlab_netplugin::{Netns, NodeAddressing};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

/// A trace endpoint resolved to its namespace.
pub(crate) struct Resolved {
    /// How it is named in output (`pod default/db`, `node worker-1`).
    pub(crate) label: String,
    /// Its network namespace.
    pub(crate) netns: Netns,
    /// Its address.
    pub(crate) ip: Ipv4Addr,
    /// The node it is (or runs on).
    pub(crate) node: Option<String>,
}

impl Resolved {
    fn endpoint(&self) -> Result<Endpoint> {
        Ok(Endpoint {
            label: self.label.clone(),
            netns: self.netns.try_clone()?,
            ip: self.ip,
            node: self.node.clone(),
        })
    }
}

/// Resolves a pod, `node/NAME` or an IP (of a pod, a node, or a node's cni0) to its namespace.
pub(crate) fn resolve(cluster: &Cluster, spec: &str, namespace: &str) -> Result<Resolved> {
    let node_ep = |name: &str| -> Result<Resolved> {
        let n = cluster
            .node(name)
            .ok_or_else(|| podlab_control_plane::ApiError::not_found("nodes", name))?;
        let sb = n
            .sandbox
            .as_ref()
            .ok_or_else(|| anyhow!("node {name} has no namespace"))?;
        Ok(Resolved {
            label: format!("node {name}"),
            netns: sb.netns()?.into_owned()?,
            ip: n.addr.node_ip,
            node: Some(name.to_string()),
        })
    };
    let pod_ep = |key: (String, String)| -> Result<Resolved> {
        let pod = cluster
            .pod(&key)
            .ok_or_else(|| podlab_control_plane::ApiError::not_found("pods", &key.1))?;
        let found = cluster
            .with_entry(&key, |e| Some((e.sandbox.clone()?, e.net.clone()?)))
            .flatten();
        let Some((sb, net)) = found else {
            bail!(
                "pod {} is {} and has no network to trace",
                key.1,
                crate::printers::pod_status_reason(&pod)
            );
        };
        Ok(Resolved {
            label: format!("pod {}/{}", key.0, key.1),
            netns: sb.netns()?.into_owned()?,
            ip: net.ip,
            node: node_of(&pod),
        })
    };
    if let Ok(ip) = spec.parse::<Ipv4Addr>() {
        if let Some(n) = cluster
            .nodes
            .iter()
            .find(|n| n.addr.node_ip == ip || n.addr.gateway == ip)
        {
            let mut r = node_ep(&n.addr.name)?;
            r.ip = ip;
            return Ok(r);
        }
        for pod in cluster.pods() {
            let key = key_of(&pod);
            if cluster.with_entry(&key, |e| e.net.as_ref().map(|n| n.ip)).flatten() == Some(ip) {
                return pod_ep(key);
            }
        }
        bail!("no pod or node of this cluster has the address {ip}");
    }
    match split(spec, cluster) {
        ("node", n) => node_ep(n),
        (_, p) => pod_ep((namespace.to_string(), p.to_string())),
    }
}

/// Interface counters that moved in one namespace during the probes.
#[derive(Debug, Clone, Serialize)]
pub struct CounterMove {
    /// Namespace label (`node worker-1`).
    pub namespace: String,
    /// Interface.
    pub interface: String,
    /// Packets sent.
    pub tx: u64,
    /// Packets received.
    pub rx: u64,
}

/// One hop of a trace with the counters that moved on its interface.
#[derive(Debug, Clone, Serialize)]
pub struct HopProof {
    /// The computed hop.
    #[serde(flatten)]
    pub hop: Hop,
    /// Packets sent on that interface during the probes.
    pub tx: Option<u64>,
    /// Packets received on that interface during the probes.
    pub rx: Option<u64>,
}

/// What the real probes found.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeProof {
    /// `TCP connect to a temporary listener` or `TCP to the app port 8080`.
    pub method: String,
    /// Probes sent.
    pub sent: usize,
    /// Probes answered.
    pub ok: usize,
    /// Fastest TCP connect time, ms.
    pub rtt_ms: Option<f64>,
    /// The source address the destination saw.
    pub seen_source: Option<String>,
    /// True when the seen source is the sender's own address (no NAT).
    pub no_nat: Option<bool>,
    /// TTL of a UDP datagram as the destination received it.
    pub ttl_received: Option<u8>,
    /// TTL it was sent with.
    pub ttl_sent: Option<u8>,
    /// Why the probes failed.
    pub error: Option<String>,
}

/// `podlab trace`: the computed path, proven (or refuted) by real packets.
#[derive(Debug, Clone, Serialize)]
pub struct TraceReport {
    /// Source label.
    pub src: String,
    /// Destination label.
    pub dst: String,
    /// Source address.
    pub src_ip: String,
    /// Destination address.
    pub dst_ip: String,
    /// The app port probed, when given.
    pub port: Option<u16>,
    /// Hops with their counters.
    pub hops: Vec<HopProof>,
    /// True when the computed path reaches the destination.
    pub complete: bool,
    /// Where and why the path breaks.
    pub broken_at: Option<String>,
    /// Namespaces that forwarded the packet.
    pub router_hops: usize,
    /// What real packets showed.
    pub probe: ProbeProof,
    /// Every interface counter that moved during the probes.
    pub moved: Vec<CounterMove>,
    /// The conclusion, in words.
    pub verdict: String,
}

const PROBES: usize = 3;

/// Computes the path from `src` to `dst` (`dst` may end in `:PORT`) and proves it with probes.
pub async fn trace(cluster: &Cluster, src: &str, dst: &str, namespace: &str) -> Result<TraceReport> {
    if cluster.is_model() {
        bail!("trace {NEEDS_KERNEL}");
    }
    let (dst, port) = match dst.rsplit_once(':') {
        Some((d, p)) if !d.is_empty() => (
            d,
            Some(
                p.parse::<u16>()
                    .map_err(|_| anyhow!("bad port {p:?} in {dst:?} (DST[:PORT])"))?,
            ),
        ),
        _ => (dst, None),
    };
    let s = resolve(cluster, src, namespace)?;
    let d = resolve(cluster, dst, namespace)?;
    let fabric = fabric_netns()?;
    let mut nodes: Vec<(NodeAddressing, Netns)> = Vec::new();
    for n in &cluster.nodes {
        if let Some(sb) = &n.sandbox {
            nodes.push((n.addr.clone(), sb.netns()?.into_owned()?));
        }
    }
    let layout = cluster.dataplane.layout();
    let path: TracePath = trace::compute(layout, &s.endpoint()?, &d.endpoint()?, &nodes, &fabric, &rt())
        .await
        .context("asking the kernel for the path")?;

    // Proof: counters of every namespace before and after real probes.
    let mut spaces: Vec<(String, Netns)> = vec![("fabric".into(), fabric.try_clone()?)];
    for (n, ns) in &nodes {
        spaces.push((format!("node {}", n.name), ns.try_clone()?));
    }
    for r in [&s, &d] {
        if !spaces.iter().any(|(l, _)| l == &r.label) {
            spaces.push((r.label.clone(), r.netns.try_clone()?));
        }
    }
    let before = snapshots(&spaces).await?;
    let probe = {
        let (from, to) = (s.netns.try_clone()?, d.netns.try_clone()?);
        let (src_ip, dst_ip) = (s.ip, d.ip);
        let timeout = if path.complete {
            Duration::from_secs(2)
        } else {
            Duration::from_millis(700)
        };
        tokio::task::spawn_blocking(move || run_probes(&from, &to, src_ip, dst_ip, port, timeout))
            .await
            .map_err(|e| anyhow!("probe thread: {e}"))?
    };
    let after = snapshots(&spaces).await?;
    let mut moved = Vec::new();
    for ((label, b), (_, a)) in before.iter().zip(&after) {
        for (iface, tx, rx) in inspect::counter_delta(b, a) {
            moved.push(CounterMove {
                namespace: label.clone(),
                interface: iface,
                tx,
                rx,
            });
        }
    }
    let hops = path
        .hops
        .iter()
        .map(|h| {
            let m = moved
                .iter()
                .find(|m| m.namespace == h.namespace && m.interface == h.interface);
            let seen = before
                .iter()
                .any(|(l, snap)| l == &h.namespace && snap.link(&h.interface).is_some());
            HopProof {
                hop: h.clone(),
                tx: m.map(|m| m.tx).or(seen.then_some(0)),
                rx: m.map(|m| m.rx).or(seen.then_some(0)),
            }
        })
        .collect();
    let verdict = verdict(&path, &probe, &s, &d, port);
    Ok(TraceReport {
        src: s.label.clone(),
        dst: d.label.clone(),
        src_ip: s.ip.to_string(),
        dst_ip: d.ip.to_string(),
        port,
        hops,
        complete: path.complete,
        broken_at: path.broken_at.clone(),
        router_hops: path.router_hops,
        probe,
        moved,
        verdict,
    })
}

async fn snapshots(spaces: &[(String, Netns)]) -> Result<Vec<(String, NsSnapshot)>> {
    let mut out = Vec::new();
    for (label, ns) in spaces {
        let s = inspect::snapshot(ns, &rt())
            .await
            .with_context(|| format!("reading the counters of {label}"))?;
        out.push((label.clone(), s));
    }
    Ok(out)
}

fn run_probes(
    from: &Netns,
    to: &Netns,
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    port: Option<u16>,
    timeout: Duration,
) -> ProbeProof {
    let mut results = Vec::new();
    for _ in 0..PROBES {
        let r = match port {
            Some(p) => probe::probe_port(from, dst_ip, p, timeout),
            None => probe::probe_listener(from, to, dst_ip, timeout),
        };
        let failed = !r.ok;
        results.push(r);
        if failed {
            break;
        }
    }
    let ok = results.iter().filter(|r| r.ok).count();
    let seen = results.iter().find_map(|r| r.seen_source);
    let ttl = if ok > 0 {
        probe::ttl_probe(from, to, dst_ip, timeout)
    } else {
        None
    };
    ProbeProof {
        method: match port {
            Some(p) => format!("TCP to the app port {p} (HTTP GET)"),
            None => "TCP connect to a temporary listener podlab opens in the destination".into(),
        },
        sent: results.len(),
        ok,
        rtt_ms: results
            .iter()
            .filter_map(|r| r.rtt)
            .min()
            .map(|d| d.as_secs_f64() * 1000.0),
        seen_source: seen.map(|s| s.to_string()),
        no_nat: seen.map(|s| s == src_ip),
        ttl_received: ttl.map(|t| t.1),
        ttl_sent: ttl.map(|t| t.0),
        error: results.iter().find_map(|r| r.error.clone()),
    }
}

fn verdict(path: &TracePath, p: &ProbeProof, s: &Resolved, d: &Resolved, port: Option<u16>) -> String {
    let target = match port {
        Some(port) => format!("{}:{port}", d.ip),
        None => d.ip.to_string(),
    };
    if let Some(why) = &path.broken_at {
        let probes = if p.ok == 0 {
            format!("the probes failed too ({})", p.error.as_deref().unwrap_or("no answer"))
        } else {
            "yet the probes got through (the kernel state changed while tracing?)".to_string()
        };
        return format!("BROKEN at {why}; {probes}");
    }
    if p.ok == 0 {
        let err = p.error.clone().unwrap_or_default();
        let why = if err.contains("refused") {
            format!("nothing is listening on {target} (connection refused)")
        } else if err.contains("timed out") {
            format!("packets to {target} get no answer (timed out)")
        } else {
            err
        };
        return format!("the path is routed, but the probes failed: {why}");
    }
    let mut v = format!("OK: {}/{} probes from {} reached {target}", p.ok, p.sent, s.label);
    if let Some(seen) = &p.seen_source {
        if p.no_nat == Some(true) {
            let _ = write!(
                v,
                "; the destination saw source {seen}, the sender's own address: no NAT"
            );
        } else {
            let _ = write!(
                v,
                "; the destination saw source {seen}, not the sender's {} (NAT?)",
                s.ip
            );
        }
    }
    if let (Some(sent), Some(got)) = (p.ttl_sent, p.ttl_received) {
        let _ = write!(
            v,
            "; TTL {sent} arrived as {got}: {} router hop(s), as traced ({})",
            sent.saturating_sub(got),
            path.router_hops
        );
    }
    v
}

/// Renders a trace report as text or json.
pub fn render_trace(r: &TraceReport, output: &str) -> Result<String> {
    if output == "json" {
        return Ok(serde_json::to_string_pretty(r)? + "\n");
    }
    let mut s = String::new();
    let port = r.port.map(|p| format!(":{p}")).unwrap_or_default();
    let _ = writeln!(
        s,
        "trace {} ({}) → {} ({}{port}), path asked from the kernel in each namespace:",
        r.src, r.src_ip, r.dst, r.dst_ip
    );
    let rows: Vec<Vec<String>> = r
        .hops
        .iter()
        .map(|h| {
            let counters = match (h.tx, h.rx) {
                (Some(tx), Some(rx)) => format!("tx+{tx} rx+{rx}"),
                _ => "-".into(),
            };
            vec![
                h.hop.n.to_string(),
                h.hop.namespace.clone(),
                h.hop.interface.clone(),
                h.hop.ttl.map(|t| t.to_string()).unwrap_or_else(|| "-".into()),
                counters,
                match &h.hop.route {
                    Some(route) => format!("{}  [{route}]", h.hop.action),
                    None => h.hop.action.clone(),
                },
            ]
        })
        .collect();
    s.push_str(&crate::printers::table(
        &["#", "NAMESPACE", "INTERFACE", "TTL", "PACKETS (probes)", "WHAT HAPPENS"],
        &rows,
    ));
    let _ = writeln!(s);
    let p = &r.probe;
    let _ = writeln!(
        s,
        "proof: {} probe(s), {}: {} answered{}",
        p.sent,
        p.method,
        p.ok,
        p.rtt_ms
            .map(|m| format!(", best connect {m:.2} ms"))
            .unwrap_or_default()
    );
    if let Some(seen) = &p.seen_source {
        let _ = writeln!(s, "  source address seen by the destination: {seen}");
    }
    if let (Some(a), Some(b)) = (p.ttl_sent, p.ttl_received) {
        let _ = writeln!(s, "  TTL sent {a}, received {b}");
    }
    if let Some(e) = &p.error {
        let _ = writeln!(s, "  probe error: {e}");
    }
    let _ = writeln!(s, "{}", r.verdict);
    Ok(s)
}
