//! The network path between the tiers: the hops a request crosses (inside one pod, through one
//! node's bridge, or across the fabric between nodes) and the latency of real HTTP requests
//! sent from the frontend's network namespace to the backend, in rounds (their p50s' spread
//! tells a difference from noise).

use crate::compare::PathReport;
use crate::compare::tiers::{node_of, pod_name};
use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, key_of};
use podlab_netplugin::PodNetwork;
use podlab_scenario::TrafficSpec;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One end of the path: its pod, container, pod network and node.
type End<'a> = (&'a Pod, &'a str, &'a PodNetwork, &'a str);

/// The path's kind (`localhost`, `same-node`, `cross-node`), the address the frontend sends
/// to, the hops in order, and how many of them route.
type Hops = (&'static str, Ipv4Addr, Vec<String>, usize);

/// How many requests to send, in how many rounds (at most one round per request).
#[derive(Clone, Copy, Debug)]
pub(super) struct Load {
    pub requests: usize,
    pub rounds: usize,
}

impl Load {
    /// Each round's request count: the requests split evenly, the first rounds taking the rest.
    fn split(self) -> Vec<usize> {
        let rounds = self.rounds.clamp(1, self.requests.max(1));
        (0..rounds)
            .map(|i| self.requests / rounds + usize::from(i < self.requests % rounds))
            .collect()
    }
}

/// Measure the path from the frontend container to the backend's port: its hops and the
/// latency of the load's HTTP requests. `None` when either pod has no network.
pub(super) async fn measure_path(
    cluster: &Arc<Cluster>,
    (fp, fc): (&Pod, &str),
    (bp, bc): (&Pod, &str),
    traffic: Option<&TrafficSpec>,
    load: Load,
) -> Result<Option<PathReport>> {
    let port = traffic.and_then(|tr| tr.port).unwrap_or_else(|| {
        bp.spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .find(|c| c.name == bc)
            .and_then(|c| c.ports.as_ref()?.first().map(|p| p.container_port as u16))
            .unwrap_or(8080)
    });
    let fkey = key_of(fp);
    let bkey = key_of(bp);
    let fsb = cluster
        .with_entry(&fkey, |e| Some((e.sandbox.clone()?, e.net.clone()?)))
        .flatten();
    let bnet = cluster.with_entry(&bkey, |e| e.net.clone()).flatten();
    let (Some((sb, fnet)), Some(bnet)) = (fsb, bnet) else {
        return Ok(None);
    };
    let same_pod = fkey == bkey;
    let (fnode, bnode) = (node_of(fp), node_of(bp));
    let (kind, dst, hops, routers) = path_hops(cluster, same_pod, (fp, fc, &fnet, &fnode), (bp, bc, &bnet, &bnode));
    let netns = sb.netns()?.into_owned()?;
    let (rounds, seen) = tokio::task::spawn_blocking(move || {
        podlab_netplugin::ns::run_in(&netns, move || http_rounds(dst, port, &load.split())).unwrap_or_default()
    })
    .await?;
    let round_p50_us = rounds.iter().filter(|t| !t.is_empty()).map(|t| latency(t).0).collect();
    let times: Vec<Duration> = rounds.concat();
    let (p50_us, p99_us, requests_per_second) = latency(&times);
    Ok(Some(PathReport {
        kind: kind.into(),
        from: format!("{}/{fc}", pod_name(fp)),
        to: format!("{}/{bc} {dst}:{port}", pod_name(bp)),
        hops,
        router_hops: routers,
        requests: load.requests,
        ok: times.len(),
        p50_us,
        p99_us,
        round_p50_us,
        requests_per_second,
        seen_source: seen,
        links: if kind == "cross-node" {
            [&fnode, &bnode]
                .iter()
                .filter_map(|n| {
                    let s = cluster.dataplane.uplink_shaping(n)?;
                    Some(format!("{n} uplink: {s}"))
                })
                .collect()
        } else {
            Vec::new()
        },
        declared: traffic.is_some(),
    }))
}

/// How a request goes from the frontend to the backend, hop by hop.
fn path_hops(cluster: &Cluster, same_pod: bool, front: End<'_>, back: End<'_>) -> Hops {
    let (fp, fc, fnet, fnode) = front;
    let (bp, bc, bnet, bnode) = back;
    if same_pod {
        (
            "localhost",
            Ipv4Addr::LOCALHOST,
            vec![format!(
                "{}/{fc} → lo (shared network namespace) → {}/{bc}",
                pod_name(fp),
                pod_name(bp)
            )],
            0,
        )
    } else {
        // The layout describes the path (bridge + host-gw today).
        let (fname, bname) = (pod_name(fp), pod_name(bp));
        let end = |pod, node, net| podlab_netplugin::layout::PathEnd { pod, node, net };
        let (from, to) = (end(&fname, fnode, fnet), end(&bname, bnode, bnet));
        let to_node = cluster.node(bnode).map(|n| &n.addr);
        let path = cluster.dataplane.layout().describe_path(&from, &to, to_node);
        let kind = if path.same_node { "same-node" } else { "cross-node" };
        (kind, bnet.ip, path.hops, path.router_hops)
    }
}

/// The median and 99th percentile of the request durations (µs), and requests per second.
fn latency(times: &[Duration]) -> (f64, f64, f64) {
    let mut sorted = times.to_vec();
    sorted.sort();
    let pct = |p: f64| -> f64 {
        if sorted.is_empty() {
            return 0.0;
        }
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i].as_secs_f64() * 1e6
    };
    let total: f64 = times.iter().map(|d| d.as_secs_f64()).sum();
    (
        pct(0.5),
        pct(0.99),
        if total > 0.0 { times.len() as f64 / total } else { 0.0 },
    )
}

/// Rounds of sequential HTTP GETs (a new connection each) to `dst:port`, `per_round[i]` in
/// round i, 50 ms apart, from the calling thread's network namespace. Returns each round's
/// request durations, and the source the server reported.
fn http_rounds(dst: Ipv4Addr, port: u16, per_round: &[usize]) -> (Vec<Vec<Duration>>, Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = None;
    let mut rounds = Vec::with_capacity(per_round.len());
    for (i, n) in per_round.iter().enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(50));
        }
        let (times, s) = http_requests(dst, port, *n, deadline);
        seen = seen.or(s);
        rounds.push(times);
    }
    (rounds, seen)
}

/// `n` sequential HTTP GETs to `dst:port` (until `deadline`): each one's duration, and the
/// source the server reported.
fn http_requests(dst: Ipv4Addr, port: u16, n: usize, deadline: Instant) -> (Vec<Duration>, Option<String>) {
    let mut times = Vec::with_capacity(n);
    let mut seen = None;
    for _ in 0..n {
        if Instant::now() > deadline {
            break;
        }
        let t = Instant::now();
        let Ok(mut s) = TcpStream::connect_timeout(&SocketAddr::from((dst, port)), Duration::from_secs(2)) else {
            continue;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        if s.write_all(format!("GET / HTTP/1.0\r\nHost: {dst}\r\n\r\n").as_bytes())
            .is_err()
        {
            continue;
        }
        let mut body = String::new();
        if s.read_to_string(&mut body).is_err() || body.is_empty() {
            continue;
        }
        times.push(t.elapsed());
        if seen.is_none() {
            seen = body
                .lines()
                .find_map(|l| l.strip_prefix("client_ip: "))
                .map(|s| s.trim().to_string());
        }
    }
    (times, seen)
}

#[cfg(test)]
mod tests {
    use super::Load;

    #[test]
    fn requests_are_split_evenly_over_the_rounds() {
        assert_eq!(
            Load {
                requests: 200,
                rounds: 5
            }
            .split(),
            [40; 5]
        );
        assert_eq!(
            Load {
                requests: 12,
                rounds: 5
            }
            .split(),
            [3, 3, 2, 2, 2]
        );
        // Never more rounds than requests, never zero rounds.
        assert_eq!(Load { requests: 3, rounds: 5 }.split(), [1, 1, 1]);
        assert_eq!(Load { requests: 0, rounds: 5 }.split(), [0]);
    }
}
