//! `podlab why SRC DST[:PORT]`: the first reason traffic from SRC would not reach DST, read
//! from the kernel and the cluster: a node that is down, `ip_forward` off in a node on the way,
//! a route that is missing (the trace's verdict), nothing listening on the port, a server
//! listening on 127.0.0.1 only (the classic: its own containers reach it over localhost, other
//! pods do not), two containers of the pod colliding on the port, or a neighbour (ARP) entry on
//! the way that never got an answer.

use super::trace::{Resolved, resolve, trace};
use anyhow::{Result, bail};
use podlab_control_plane::Cluster;
use podlab_netplugin::Netns;
use serde::Serialize;

/// The answer.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnosis {
    /// True when traffic gets through.
    pub ok: bool,
    /// Where it fails (or that it works), in words.
    pub verdict: String,
    /// Why, and what to do about it.
    pub detail: Vec<String>,
}

fn fail(verdict: String, detail: Vec<String>) -> Result<Diagnosis> {
    Ok(Diagnosis {
        ok: false,
        verdict,
        detail,
    })
}

/// Reads a file of the proc filesystem from inside `netns` (the per-namespace views of
/// `/proc/net` and `/proc/sys/net` follow the reader's namespace).
fn read_in(netns: &Netns, path: &'static str) -> Result<String> {
    Ok(podlab_netplugin::ns::run_in(netns, move || {
        std::fs::read_to_string(path)
    })??)
}

/// The local addresses listening on TCP `port` in `netns` (its `/proc/net/tcp` and `tcp6`).
fn listeners(netns: &Netns, port: u16) -> Result<Vec<String>> {
    let mut out = Vec::new();
    // `thread-self`: the reading thread is the one inside the namespace (`self` is the process).
    for (path, v6) in [
        ("/proc/thread-self/net/tcp", false),
        ("/proc/thread-self/net/tcp6", true),
    ] {
        let Ok(text) = read_in(netns, path) else { continue };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (f.get(1), f.get(3)) else {
                continue;
            };
            let Some((addr, p)) = local.split_once(':') else {
                continue;
            };
            if *state != "0A" || u16::from_str_radix(p, 16).ok() != Some(port) {
                continue;
            }
            out.push(address_text(addr, v6));
        }
    }
    Ok(out)
}

/// `0100007F` → `127.0.0.1`; IPv6 as `[::1]`-like text (only loopback and any matter here).
fn address_text(hex: &str, v6: bool) -> String {
    if !v6 {
        let n = u32::from_str_radix(hex, 16).unwrap_or(0);
        return std::net::Ipv4Addr::from(n.swap_bytes()).to_string();
    }
    match hex {
        "00000000000000000000000000000000" => "[::]".into(),
        "00000000000000000000000001000000" => "[::1]".into(),
        h if h.starts_with("0000000000000000FFFF0000") => {
            let n = u32::from_str_radix(&h[24..], 16).unwrap_or(0);
            std::net::Ipv4Addr::from(n.swap_bytes()).to_string()
        }
        h => format!("[{h}]"),
    }
}

/// A node that is down, or one of the path's nodes with forwarding off.
fn node_trouble(cluster: &Cluster, s: &Resolved, d: &Resolved) -> Result<Option<Diagnosis>> {
    let mut nodes: Vec<&str> = [s.node.as_deref(), d.node.as_deref()].into_iter().flatten().collect();
    nodes.dedup();
    for n in &nodes {
        if cluster.node_failed(n) {
            return fail(
                format!("node {n} is down: NotReady, its uplink to the fabric is cut"),
                vec![
                    format!(
                        "nothing crosses the fabric to or from {n}; its pods are evicted after the toleration timeout"
                    ),
                    format!("`podlab node up {n}` restores the uplink"),
                ],
            )
            .map(Some);
        }
    }
    // A node forwards only between its own pods and the fabric when they are on different nodes
    // or the source/destination is elsewhere; check each node on the way.
    for n in &nodes {
        let Some(sb) = cluster.node(n).and_then(|r| r.sandbox.clone()) else {
            continue;
        };
        let v = read_in(&*sb.netns()?, "/proc/sys/net/ipv4/ip_forward")?;
        if v.trim() == "0" {
            return fail(
                format!("node {n} does not forward: net.ipv4.ip_forward is 0 in its network namespace"),
                vec![
                    "a node routes its pods' packets to the fabric and back; with forwarding off it drops them".into(),
                    format!("`podlab exec node/{n} -- sysctl -w net.ipv4.ip_forward=1` turns it back on (inside the node, never on the machine)"),
                ],
            )
            .map(Some);
        }
    }
    Ok(None)
}

/// A neighbour entry on the way (source pod, the path's nodes, destination) left without an
/// ARP answer: the next hop at that address does not answer.
fn neighbour_trouble(cluster: &Cluster, s: &Resolved, d: &Resolved) -> Result<Option<Diagnosis>> {
    let mut places: Vec<(String, Netns)> = vec![(s.label.clone(), s.netns.try_clone()?)];
    let mut nodes: Vec<&str> = [s.node.as_deref(), d.node.as_deref()].into_iter().flatten().collect();
    nodes.dedup();
    for n in nodes {
        if let Some(sb) = cluster.node(n).and_then(|r| r.sandbox.clone()) {
            places.push((format!("node {n}"), sb.netns()?.try_clone()?));
        }
    }
    places.push((d.label.clone(), d.netns.try_clone()?));
    for (label, netns) in &places {
        let table = podlab_netplugin::neighbours::of(netns)?;
        if let Some(podlab_netplugin::neighbours::Neighbour { dst: ip, dev, .. }) =
            table.into_iter().find(|n| n.unanswered())
        {
            return fail(
                format!("{label}: the neighbour entry for {ip} on {dev} is FAILED: nothing answers ARP for {ip}"),
                vec![
                    format!("{label} knows the route, but no MAC address for the next hop {ip}, so it cannot send the frame"),
                    format!("`podlab exec` into the namespace and run `ip neigh show {ip}`; check that {ip} is up and answers ARP (there: link up, ARP on, `net.ipv4.conf.<dev>.arp_ignore` not 8)"),
                ],
            )
            .map(Some);
        }
    }
    Ok(None)
}

/// The container of pod `dst` that failed to bind its port ("address already in use"), if any.
fn collision(cluster: &Cluster, dst: &str, ns: &str) -> Option<String> {
    let key = (ns.to_string(), dst.trim_start_matches("pod/").to_string());
    let pod = cluster.pod(&key)?;
    let logs = |name: &str, previous: bool| {
        cluster
            .with_entry(&key, |e| e.handle.as_ref().and_then(|h| h.logs(Some(name), previous)))
            .flatten()
            .unwrap_or_default()
    };
    pod.status?.container_statuses?.into_iter().find_map(|c| {
        let text = format!(
            "{:?}{}{}",
            (&c.state, &c.last_state),
            logs(&c.name, false),
            logs(&c.name, true)
        );
        text.contains("address already in use").then_some(c.name)
    })
}

/// Nothing, or only loopback, listening on the destination's port; or a port collision.
fn port_trouble(cluster: &Cluster, d: &Resolved, dst: &str, ns: &str, port: u16) -> Result<Option<Diagnosis>> {
    let found = listeners(&d.netns, port)?;
    let open = |a: &String| !(a.starts_with("127.") || a == "[::1]");
    if found.iter().any(open) {
        return Ok(None);
    }
    if !found.is_empty() {
        return fail(
            format!("{} listens on {} port {port} only, not on its pod IP {}", d.label, found.join(", "), d.ip),
            vec![
                "its own containers reach it over localhost (they share the pod's network namespace); other pods connect to the pod IP and are refused".into(),
                "make the server listen on 0.0.0.0 (all addresses)".into(),
            ],
        )
        .map(Some);
    }
    if let Some(c) = collision(cluster, dst, ns) {
        return fail(
            format!(
                "port collision in {}: container {c} could not bind port {port}: address already in use",
                d.label
            ),
            vec![
                "containers of one pod share its network namespace, so two of them cannot listen on the same port"
                    .into(),
                "give each container its own port (or put them in separate pods)".into(),
            ],
        )
        .map(Some);
    }
    fail(
        format!("nothing listens on TCP port {port} in {}", d.label),
        vec![format!(
            "the path to {} works; no process in it has port {port} open",
            d.ip
        )],
    )
    .map(Some)
}

/// Diagnoses traffic from `src` to `dst` (`dst` may end in `:PORT`).
pub async fn why(cluster: &Cluster, src: &str, dst: &str, ns: &str) -> Result<Diagnosis> {
    if cluster.is_model() {
        bail!("why {}", super::NEEDS_KERNEL);
    }
    let (host, port) = match dst.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => (h, p.parse::<u16>().ok()),
        _ => (dst, None),
    };
    let s = resolve(cluster, src, ns)?;
    let d = resolve(cluster, host, ns)?;
    if let Some(diag) = node_trouble(cluster, &s, &d)? {
        return Ok(diag);
    }
    let t = trace(cluster, src, dst, ns).await?;
    if !t.complete {
        let at = t.broken_at.clone().unwrap_or_else(|| t.verdict.clone());
        return fail(at, vec![format!("`podlab trace {src} {dst}` shows every hop")]);
    }
    if let Some(port) = port
        && t.probe.ok == 0
        && let Some(diag) = port_trouble(cluster, &d, host, ns, port)?
    {
        return Ok(diag);
    }
    if t.probe.ok == 0
        && let Some(diag) = neighbour_trouble(cluster, &s, &d)?
    {
        return Ok(diag);
    }
    if t.probe.ok == 0 {
        return fail(
            t.verdict.clone(),
            vec![format!("`podlab trace {src} {dst}` shows every hop")],
        );
    }
    let detail = match (port, collision(cluster, host, ns)) {
        (Some(p), Some(c)) => vec![format!(
            "but container {c} of {} keeps failing: it could not bind port {p} (address already in use): containers of one pod share its ports",
            d.label
        )],
        _ => vec![],
    };
    Ok(Diagnosis {
        ok: true,
        verdict: format!(
            "OK: {} reaches {}{} over {} router hop(s); the destination sees the sender's own address (no NAT)",
            t.src,
            t.dst,
            port.map(|p| format!(":{p}")).unwrap_or_default(),
            t.router_hops
        ),
        detail,
    })
}

/// The diagnosis as text (default) or JSON.
pub fn render_why(d: &Diagnosis, output: &str) -> Result<String> {
    if output == "json" {
        return Ok(serde_json::to_string_pretty(d)? + "\n");
    }
    let mut s = if d.ok {
        format!("{}\n", d.verdict)
    } else {
        format!("FAILS: {}\n", d.verdict)
    };
    for l in &d.detail {
        s += &format!("  {l}\n");
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_read_as_people_write_them() {
        assert_eq!(address_text("0100007F", false), "127.0.0.1");
        assert_eq!(address_text("00000000", false), "0.0.0.0");
        assert_eq!(address_text("00000000000000000000000001000000", true), "[::1]");
        assert_eq!(address_text("0000000000000000FFFF00000100007F", true), "127.0.0.1");
    }
}
