//! `podlab ping-matrix`: every running pod (optionally chosen by a label selector) probes
//! every other with a TCP connect from its own namespace; the grid shows who reaches whom.

use super::NEEDS_KERNEL;
use crate::probe;
use anyhow::{Result, anyhow, bail};
use podlab_control_plane::{Cluster, key_of};
use podlab_netplugin::Netns;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

/// One cell of the ping matrix.
#[derive(Debug, Clone, Serialize)]
pub struct PingCell {
    /// Sender `namespace/name`.
    pub from: String,
    /// Receiver `namespace/name`.
    pub to: String,
    /// Receiver IP.
    pub to_ip: String,
    /// Whether the TCP connect succeeded.
    pub ok: bool,
    /// TCP connect time, ms.
    pub rtt_ms: Option<f64>,
    /// The source address the receiver saw.
    pub seen_source: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Every pod to every pod (optionally filtered by a label selector).
#[derive(Debug, Clone, Serialize)]
pub struct PingMatrix {
    /// What a probe is.
    pub method: String,
    /// Pods in order (`namespace/name`).
    pub pods: Vec<String>,
    /// Every ordered pair.
    pub cells: Vec<PingCell>,
    /// Number of pairs that failed.
    pub failed: usize,
}

/// Probes every pair of running pods with a TCP connect.
pub async fn ping_matrix(cluster: &Cluster, selector: Option<&str>) -> Result<PingMatrix> {
    if cluster.is_model() {
        bail!("ping-matrix {NEEDS_KERNEL}");
    }
    let sel = selector
        .map(|s| {
            podlab_scenario::LabelSelector::parse(s).map_err(|e| anyhow!("error: unable to parse requirement: {e}"))
        })
        .transpose()?;
    let mut members: Vec<(String, Netns, Ipv4Addr)> = Vec::new();
    for pod in cluster.pods() {
        if let Some(s) = &sel
            && !s.matches(&pod.metadata.labels.clone().unwrap_or_default())
        {
            continue;
        }
        let key = key_of(&pod);
        let found = cluster
            .with_entry(&key, |e| Some((e.sandbox.clone()?, e.net.clone()?)))
            .flatten();
        if let Some((sb, net)) = found {
            members.push((format!("{}/{}", key.0, key.1), sb.netns()?.into_owned()?, net.ip));
        }
    }
    if members.is_empty() {
        bail!(
            "no running pods{}",
            selector.map(|s| format!(" match {s}")).unwrap_or_default()
        );
    }
    let cells = tokio::task::spawn_blocking(move || {
        let mut cells = Vec::new();
        for (a, an, aip) in &members {
            for (b, bn, bip) in &members {
                let r = probe::probe_listener(an, bn, *bip, Duration::from_secs(1));
                cells.push(PingCell {
                    from: a.clone(),
                    to: b.clone(),
                    to_ip: bip.to_string(),
                    ok: r.ok && (a == b || r.seen_source == Some(*aip)),
                    rtt_ms: r.rtt.map(|d| d.as_secs_f64() * 1000.0),
                    seen_source: r.seen_source.map(|s| s.to_string()),
                    error: r.error.or_else(|| {
                        (r.ok && a != b && r.seen_source != Some(*aip))
                            .then(|| format!("source seen as {:?}, not {aip} (NAT)", r.seen_source))
                    }),
                });
            }
        }
        cells
    })
    .await
    .map_err(|e| anyhow!("probe thread: {e}"))?;
    let mut pods: Vec<String> = Vec::new();
    for c in &cells {
        if !pods.contains(&c.from) {
            pods.push(c.from.clone());
        }
    }
    Ok(PingMatrix {
        method: "TCP connect from each pod's namespace to a listener in the other's; RTT = connect time".into(),
        failed: cells.iter().filter(|c| !c.ok).count(),
        pods,
        cells,
    })
}

/// Renders the matrix as a grid (rows: from, columns: to) or json.
pub fn render_matrix(m: &PingMatrix, output: &str) -> Result<String> {
    if output == "json" {
        return Ok(serde_json::to_string_pretty(m)? + "\n");
    }
    let short: BTreeMap<&str, String> = m
        .pods
        .iter()
        .map(|p| (p.as_str(), p.strip_prefix("default/").unwrap_or(p).to_string()))
        .collect();
    let mut headers: Vec<String> = vec!["FROM \\ TO (TCP connect)".into()];
    headers.extend(m.pods.iter().map(|p| short[p.as_str()].clone()));
    let rows: Vec<Vec<String>> = m
        .pods
        .iter()
        .map(|from| {
            let mut row = vec![short[from.as_str()].clone()];
            for to in &m.pods {
                let cell = m.cells.iter().find(|c| &c.from == from && &c.to == to);
                row.push(match cell {
                    Some(c) if c.ok => format!("ok {:.2}ms", c.rtt_ms.unwrap_or(0.0)),
                    Some(_) => "FAIL".into(),
                    None => "-".into(),
                });
            }
            row
        })
        .collect();
    let h: Vec<&str> = headers.iter().map(String::as_str).collect();
    let mut s = crate::printers::table(&h, &rows);
    let total = m.cells.len();
    let _ = writeln!(
        s,
        "\n{}/{total} pairs ok (TCP connect; RTT = connect time)",
        total - m.failed
    );
    for c in m.cells.iter().filter(|c| !c.ok) {
        let _ = writeln!(
            s,
            "  {} → {} ({}): {}",
            c.from,
            c.to,
            c.to_ip,
            c.error.as_deref().unwrap_or("failed")
        );
    }
    Ok(s)
}
