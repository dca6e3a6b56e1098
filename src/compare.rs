//! `podlab compare A.yaml B.yaml ...`: run each scenario on its own real cluster (in a child
//! process of its own, so each has a private fabric namespace; all at once) and answer the
//! book's design question with measurements: placement, room to scale each tier, the network
//! path between the tiers (with real request latency), and what one node failure takes down.
//!
//! Tiers are found by name: a container belongs to tier T when the container is named T or its
//! pod has the label `tier: T` (T = frontend, backend). Traffic goes from the frontend to the
//! backend's first container port.

use crate::printers;
use anyhow::{Context, Result, bail};
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, ClusterOptions, key_of};
use podlab_scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Everything measured for one scenario.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Report {
    pub scenario: String,
    pub file: String,
    pub placement: Placement,
    pub scaling: BTreeMap<String, Scaling>,
    pub path: Option<PathReport>,
    pub failure: Option<Failure>,
    pub verdicts: BTreeMap<String, String>,
    /// The scenario text behind each verdict, with file:line.
    #[serde(default)]
    pub decided_by: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Placement {
    pub nodes_total: usize,
    pub nodes_used: usize,
    pub nodes: Vec<NodeUse>,
    /// Free CPU (millicores) on used nodes too small for another copy of any tier's pod.
    pub stranded_cpu_milli: i64,
    /// Free memory (bytes) on used nodes that no tier's pod can use, for the same reason.
    pub stranded_memory_bytes: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct NodeUse {
    pub name: String,
    /// `pod/container` names running there.
    pub containers: Vec<String>,
    pub cpu_requested_milli: i64,
    pub cpu_allocatable_milli: i64,
    pub memory_requested_bytes: i64,
    pub memory_allocatable_bytes: i64,
    pub cpu_percent: f64,
    pub memory_percent: f64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Scaling {
    /// Replicas of the pod holding this tier that fit (the running one included).
    pub replicas_fit: usize,
    /// Copies of other tiers' containers started along with them (beyond the first).
    pub dragged: BTreeMap<String, usize>,
    /// The scheduler's message for the first replica that did not fit.
    pub stopped_by: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct PathReport {
    /// localhost | same-node | cross-node
    pub kind: String,
    pub from: String,
    pub to: String,
    pub hops: Vec<String>,
    pub router_hops: usize,
    pub requests: usize,
    pub ok: usize,
    pub p50_us: f64,
    pub p99_us: f64,
    pub requests_per_second: f64,
    /// Source address the backend saw (its echo's `client_ip:` line), when it reports one.
    pub seen_source: Option<String>,
    /// Configured uplink shaping per node on the path (`worker-1: latency 5ms`); empty: bare veths.
    #[serde(default)]
    pub links: Vec<String>,
    /// True when the scenario's `compare.traffic` chose the endpoints.
    #[serde(default)]
    pub declared: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub struct Failure {
    pub node: String,
    pub stopped: Vec<String>,
    pub still_serving: Vec<String>,
    /// `pod: old IP -> new pod new IP on node`
    pub rescheduled: Vec<String>,
}

/// The pod and container an endpoint names (first container when none is given).
fn find_endpoint(pods: &[Pod], e: &podlab_scenario::Endpoint) -> Option<(Pod, String)> {
    pods.iter().filter(|p| e.matches_pod(&pod_name(p))).find_map(|p| {
        let cs = &p.spec.as_ref()?.containers;
        let c = match &e.container {
            Some(n) => cs.iter().find(|c| &c.name == n)?,
            None => cs.first()?,
        };
        Some((p.clone(), c.name.clone()))
    })
}

/// Tiers as declared in `compare.tiers`, falling back to [`tiers`] for an undeclared tier.
fn declared_tiers(pods: &[Pod], scenario: &Scenario) -> Vec<(Pod, String, String)> {
    let found = tiers(pods);
    let Some(decl) = scenario.compare.as_ref().and_then(|c| c.tiers.as_ref()) else {
        return found;
    };
    let mut out = Vec::new();
    for (tier, e) in [("frontend", &decl.frontend), ("backend", &decl.backend)] {
        match e.as_ref().and_then(|e| find_endpoint(pods, e)) {
            Some((p, c)) => out.push((p, c, tier.to_string())),
            None => out.extend(found.iter().filter(|(_, _, t)| t == tier).cloned()),
        }
    }
    out
}

/// Tier of each container: (pod key, container name) -> tier.
fn tiers(pods: &[Pod]) -> Vec<(Pod, String, String)> {
    let mut out = Vec::new();
    for p in pods {
        let label = p.metadata.labels.as_ref().and_then(|l| l.get("tier").cloned());
        for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
            let tier = if c.name == "frontend" || c.name == "backend" {
                Some(c.name.clone())
            } else {
                label.clone()
            };
            if let Some(t) = tier {
                out.push((p.clone(), c.name.clone(), t));
            }
        }
    }
    out
}

fn pod_name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

fn node_of(p: &Pod) -> String {
    p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default()
}

fn requests(p: &Pod, res: &str) -> i64 {
    p.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(res).cloned())
        .map(|q| {
            if res == "cpu" {
                podlab_scheduler::quantity::parse_milli(&q.0).unwrap_or(0)
            } else {
                podlab_scheduler::quantity::parse_value(&q.0).unwrap_or(0)
            }
        })
        .sum()
}

/// Child side: measure one scenario on a real cluster (this process is in its own netns).
pub async fn measure(scenario: Scenario, requests_n: usize) -> Result<Report> {
    let spec = scenario.cluster.clone();
    let name = format!("cmp-{}", scenario.name);
    let cluster = Cluster::up(
        ClusterOptions::for_scenario(&spec, &name, format!("{name}-{}", std::process::id()), false, None)?,
        &|_| {},
    )
    .await?;
    let r = measure_on(&cluster, &scenario, requests_n).await;
    cluster.down().await;
    r
}

async fn measure_on(cluster: &Arc<Cluster>, scenario: &Scenario, requests_n: usize) -> Result<Report> {
    for obj in &scenario.manifests {
        cluster.apply(obj.clone())?;
    }
    cluster
        .wait_for(Duration::from_secs(30), |c| {
            let pods = c.pods();
            !pods.is_empty()
                && pods.iter().all(|p| {
                    // Ready (its servers listen), or stuck in a state waiting will not change.
                    let r = printers::pod_status_reason(p);
                    let ready = p
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
                    ready || !matches!(r.as_str(), "Pending" | "ContainerCreating" | "Running")
                })
        })
        .await;
    let mut report = Report {
        scenario: scenario.name.clone(),
        file: scenario.source.display().to_string(),
        ..Default::default()
    };
    let pods = cluster.pods();

    // Placement.
    let mut nodes = Vec::new();
    for n in &cluster.nodes {
        let alloc = n
            .node
            .status
            .as_ref()
            .and_then(|s| s.allocatable.clone())
            .unwrap_or_default();
        let cpu_alloc = alloc
            .get("cpu")
            .and_then(|q| podlab_scheduler::quantity::parse_milli(&q.0).ok())
            .unwrap_or(0);
        let mem_alloc = alloc
            .get("memory")
            .and_then(|q| podlab_scheduler::quantity::parse_value(&q.0).ok())
            .unwrap_or(0);
        let here: Vec<&Pod> = pods.iter().filter(|p| node_of(p) == n.addr.name).collect();
        let cpu: i64 = here.iter().map(|p| requests(p, "cpu")).sum();
        let mem: i64 = here.iter().map(|p| requests(p, "memory")).sum();
        let pct = |a: i64, b: i64| if b > 0 { (a as f64) * 100.0 / b as f64 } else { 0.0 };
        nodes.push(NodeUse {
            name: n.addr.name.clone(),
            containers: here
                .iter()
                .flat_map(|p| {
                    p.spec
                        .iter()
                        .flat_map(|s| s.containers.iter())
                        .map(move |c| format!("{}/{}", pod_name(p), c.name))
                })
                .collect(),
            cpu_requested_milli: cpu,
            cpu_allocatable_milli: cpu_alloc,
            memory_requested_bytes: mem,
            memory_allocatable_bytes: mem_alloc,
            cpu_percent: pct(cpu, cpu_alloc),
            memory_percent: pct(mem, mem_alloc),
        });
    }
    // Stranded: free room on used nodes smaller than the smallest tier pod's requests.
    let t = declared_tiers(&pods, scenario);
    let smallest = t
        .iter()
        .map(|(p, _, _)| (requests(p, "cpu"), requests(p, "memory")))
        .min();
    let (mut stranded_cpu, mut stranded_mem) = (0, 0);
    if let Some((min_cpu, min_mem)) = smallest {
        for n in nodes.iter().filter(|n| !n.containers.is_empty()) {
            let (free_cpu, free_mem) = (
                n.cpu_allocatable_milli - n.cpu_requested_milli,
                n.memory_allocatable_bytes - n.memory_requested_bytes,
            );
            if free_cpu < min_cpu || free_mem < min_mem {
                stranded_cpu += free_cpu.max(0);
                stranded_mem += free_mem.max(0);
            }
        }
    }
    report.placement = Placement {
        nodes_total: nodes.len(),
        nodes_used: nodes.iter().filter(|n| !n.containers.is_empty()).count(),
        nodes,
        stranded_cpu_milli: stranded_cpu,
        stranded_memory_bytes: stranded_mem,
    };

    // Scaling: schedule copies of the pod holding each tier until one does not fit.
    for tier in ["frontend", "backend"] {
        let Some((pod, _, _)) = t.iter().find(|(_, _, tt)| tt == tier) else {
            continue;
        };
        let mut sched = podlab_scheduler::Scheduler::new(
            cluster.nodes.iter().map(|n| n.node.clone()).collect(),
            podlab_control_plane::scheduler_profile(&scenario.cluster),
        );
        for p in &pods {
            sched.assume(p, &node_of(p));
        }
        let mut fit = 1;
        let mut stopped_by = String::new();
        for i in 0..1000 {
            let mut copy = pod.clone();
            copy.metadata.name = Some(format!("{}-copy-{i}", pod_name(pod)));
            copy.metadata.uid = Some(format!("copy-{tier}-{i}"));
            if let Some(s) = copy.spec.as_mut() {
                s.node_name = None;
            }
            match sched.schedule(&copy) {
                Ok(node) => {
                    sched.assume(&copy, &node);
                    fit += 1;
                }
                Err(e) => {
                    stopped_by = e.message;
                    break;
                }
            }
        }
        let mut dragged = BTreeMap::new();
        for (p, _, other) in &t {
            if other != tier && key_of(p) == key_of(pod) {
                *dragged.entry(other.clone()).or_insert(0) += fit - 1;
            }
        }
        report.scaling.insert(
            tier.into(),
            Scaling {
                replicas_fit: fit,
                dragged,
                stopped_by,
            },
        );
    }

    // Path and latency from the frontend to the backend.
    let mut front = t.iter().find(|(_, _, tt)| tt == "frontend").cloned();
    let mut back = t.iter().find(|(_, _, tt)| tt == "backend").cloned();
    let traffic = scenario.compare.as_ref().and_then(|c| c.traffic.clone());
    let mut requests_n = requests_n;
    if let Some(tr) = &traffic {
        let from =
            find_endpoint(&pods, &tr.from).with_context(|| format!("compare.traffic.from: no pod {}", tr.from))?;
        let to = find_endpoint(&pods, &tr.to).with_context(|| format!("compare.traffic.to: no pod {}", tr.to))?;
        front = Some((from.0, from.1, "frontend".into()));
        back = Some((to.0, to.1, "backend".into()));
        requests_n = tr.requests.unwrap_or(requests_n);
    }
    if let (Some((fp, fc, _)), Some((bp, bc, _))) = (front, back) {
        let port = traffic.as_ref().and_then(|tr| tr.port).unwrap_or_else(|| {
            bp.spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .find(|c| c.name == bc)
                .and_then(|c| c.ports.as_ref()?.first().map(|p| p.container_port as u16))
                .unwrap_or(8080)
        });
        let fkey = key_of(&fp);
        let bkey = key_of(&bp);
        let fsb = cluster
            .with_entry(&fkey, |e| Some((e.sandbox.clone()?, e.net.clone()?)))
            .flatten();
        let bnet = cluster.with_entry(&bkey, |e| e.net.clone()).flatten();
        if let (Some((sb, fnet)), Some(bnet)) = (fsb, bnet) {
            let same_pod = fkey == bkey;
            let (fnode, bnode) = (node_of(&fp), node_of(&bp));
            let (kind, dst, hops, routers) = if same_pod {
                (
                    "localhost",
                    Ipv4Addr::LOCALHOST,
                    vec![format!(
                        "{}/{fc} → lo (shared network namespace) → {}/{bc}",
                        pod_name(&fp),
                        pod_name(&bp)
                    )],
                    0,
                )
            } else {
                // The layout describes the path (bridge + host-gw today).
                let (fname, bname) = (pod_name(&fp), pod_name(&bp));
                let end = |pod, node, net| podlab_netplugin::layout::PathEnd { pod, node, net };
                let (from, to) = (end(&fname, &fnode, &fnet), end(&bname, &bnode, &bnet));
                let to_node = cluster.node(&bnode).map(|n| &n.addr);
                let path = cluster.dataplane.layout().describe_path(&from, &to, to_node);
                let kind = if path.same_node { "same-node" } else { "cross-node" };
                (kind, bnet.ip, path.hops, path.router_hops)
            };
            let netns = sb.netns().try_clone()?;
            let n = requests_n;
            let (times, seen) = tokio::task::spawn_blocking(move || {
                podlab_netplugin::ns::run_in(&netns, move || http_requests(dst, port, n)).unwrap_or_default()
            })
            .await?;
            let mut sorted = times.clone();
            sorted.sort();
            let pct = |p: f64| -> f64 {
                if sorted.is_empty() {
                    return 0.0;
                }
                let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
                sorted[i].as_secs_f64() * 1e6
            };
            let total: f64 = times.iter().map(|d| d.as_secs_f64()).sum();
            report.path = Some(PathReport {
                kind: kind.into(),
                from: format!("{}/{fc}", pod_name(&fp)),
                to: format!("{}/{bc} {dst}:{port}", pod_name(&bp)),
                hops,
                router_hops: routers,
                requests: n,
                ok: times.len(),
                p50_us: pct(0.5),
                p99_us: pct(0.99),
                requests_per_second: if total > 0.0 { times.len() as f64 / total } else { 0.0 },
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
            });
        }
        // Failure of the frontend's node.
        let node = node_of(&fp);
        let before: Vec<Pod> = cluster.pods();
        let victims = cluster.fail_node(&node).await?;
        cluster
            .wait_for(Duration::from_secs(10), |c| {
                let owned_lost = victims.iter().filter(|p| p.metadata.owner_references.is_some()).count();
                let replaced = c
                    .pods()
                    .iter()
                    .filter(|p| !before.iter().any(|b| key_of(b) == key_of(p)))
                    .count();
                replaced >= owned_lost
                    && c.pods()
                        .iter()
                        .all(|p| !matches!(printers::pod_status_reason(p).as_str(), "Pending" | "ContainerCreating"))
            })
            .await;
        let after = cluster.pods();
        let containers = |p: &Pod| -> Vec<String> {
            p.spec
                .iter()
                .flat_map(|s| s.containers.iter())
                .map(|c| format!("{}/{}", pod_name(p), c.name))
                .collect()
        };
        let mut rescheduled = Vec::new();
        for v in victims.iter().filter(|p| p.metadata.owner_references.is_some()) {
            let owner = v
                .metadata
                .owner_references
                .as_ref()
                .and_then(|o| o.first())
                .map(|o| o.uid.clone());
            if let Some(newp) = after.iter().find(|p| {
                !before.iter().any(|b| key_of(b) == key_of(p))
                    && p.metadata
                        .owner_references
                        .as_ref()
                        .and_then(|o| o.first())
                        .map(|o| o.uid.clone())
                        == owner
            }) {
                rescheduled.push(format!(
                    "{} ({}) → {} ({}) on {}",
                    pod_name(v),
                    v.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
                    pod_name(newp),
                    newp.status
                        .as_ref()
                        .and_then(|s| s.pod_ip.clone())
                        .unwrap_or_else(|| "<pending>".into()),
                    node_of(newp)
                ));
            }
        }
        report.failure = Some(Failure {
            node: node.clone(),
            stopped: victims.iter().flat_map(&containers).collect(),
            still_serving: after
                .iter()
                .filter(|p| printers::pod_status_reason(p) == "Running")
                .flat_map(&containers)
                .collect(),
            rescheduled,
        });
    }
    decided_by(&mut report, &t);
    verdicts(&mut report);
    Ok(report)
}

/// `n` sequential HTTP GETs (a new connection each) to `dst:port`, from the calling thread's
/// network namespace. Returns each request's duration, and the source the server reported.
fn http_requests(dst: Ipv4Addr, port: u16, n: usize) -> (Vec<Duration>, Option<String>) {
    let mut times = Vec::with_capacity(n);
    let mut seen = None;
    let deadline = Instant::now() + Duration::from_secs(20);
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

/// Where a pod was defined (`file:line`), from the annotation the scenario loader sets.
fn source_of(p: &Pod) -> String {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(podlab_scenario::SOURCE_ANNOTATION).cloned())
        .unwrap_or_else(|| "created by a controller".into())
}

/// The scenario text that decided each row: requests and capacities for placement and scaling,
/// which pods hold the tiers for path and failure.
fn decided_by(r: &mut Report, t: &[(Pod, String, String)]) {
    let mut seen = std::collections::BTreeSet::new();
    let mut reqs = Vec::new();
    for (p, _, _) in t {
        if !seen.insert(pod_name(p)) {
            continue;
        }
        reqs.push(format!(
            "pod {} requests {}m CPU, {} MiB ({})",
            pod_name(p),
            requests(p, "cpu"),
            requests(p, "memory") / (1024 * 1024),
            source_of(p)
        ));
    }
    let caps: Vec<String> = r
        .placement
        .nodes
        .iter()
        .map(|n| format!("{} has {}m CPU", n.name, n.cpu_allocatable_milli))
        .collect();
    if !reqs.is_empty() {
        let text = format!("{}; {}", reqs.join("; "), caps.join(", "));
        r.decided_by.insert("placement".into(), text.clone());
        r.decided_by.insert("scaling".into(), text);
    }
    let front = t.iter().find(|(_, _, tt)| tt == "frontend");
    let back = t.iter().find(|(_, _, tt)| tt == "backend");
    if let (Some((fp, fc, _)), Some((bp, bc, _))) = (front, back) {
        let text = if key_of(fp) == key_of(bp) {
            format!(
                "{fc} and {bc} are containers of one pod, {} ({})",
                pod_name(fp),
                source_of(fp)
            )
        } else {
            format!(
                "{fc} is in pod {} ({}), {bc} in pod {} ({}){}",
                pod_name(fp),
                source_of(fp),
                pod_name(bp),
                source_of(bp),
                if node_of(fp) != node_of(bp) {
                    "; the scheduler put them on different nodes"
                } else {
                    ""
                }
            )
        };
        r.decided_by.insert("path".into(), text.clone());
        r.decided_by.insert("failure".into(), text);
    }
}

fn verdicts(r: &mut Report) {
    let p = &r.placement;
    let idle: Vec<&str> = p
        .nodes
        .iter()
        .filter(|n| n.containers.is_empty())
        .map(|n| n.name.as_str())
        .collect();
    r.verdicts.insert(
        "placement".into(),
        if idle.is_empty() {
            format!("uses all {} nodes", p.nodes_total)
        } else {
            format!(
                "uses {} of {} nodes; {} idle",
                p.nodes_used,
                p.nodes_total,
                idle.join(", ")
            )
        },
    );
    let mut s = Vec::new();
    for (tier, sc) in &r.scaling {
        let dragged: usize = sc.dragged.values().sum();
        s.push(if dragged > 0 {
            format!(
                "{tier} fits {} replicas, dragging {dragged} extra {}",
                sc.replicas_fit,
                sc.dragged.keys().cloned().collect::<Vec<_>>().join("+")
            )
        } else {
            format!("{tier} fits {} replicas on its own", sc.replicas_fit)
        });
    }
    if !s.is_empty() {
        r.verdicts.insert("scaling".into(), s.join("; "));
    }
    if let Some(path) = &r.path {
        r.verdicts.insert(
            "path".into(),
            format!(
                "{}, {} router hop(s), p50 {:.0} µs",
                path.kind, path.router_hops, path.p50_us
            ),
        );
    }
    if let Some(f) = &r.failure {
        let tiers_down: Vec<&str> = ["frontend", "backend"]
            .into_iter()
            .filter(|t| f.stopped.iter().any(|c| c.contains(t)))
            .collect();
        let up: Vec<&str> = ["frontend", "backend"]
            .into_iter()
            .filter(|t| f.still_serving.iter().any(|c| c.contains(t)))
            .collect();
        r.verdicts.insert(
            "failure".into(),
            format!(
                "losing {} stops {}; {}",
                f.node,
                if tiers_down.is_empty() {
                    "no tier".to_string()
                } else {
                    tiers_down.join(" and ")
                },
                if up.is_empty() {
                    "nothing keeps serving".to_string()
                } else {
                    format!("{} keeps serving", up.join(" and "))
                }
            ),
        );
    }
}

/// Parent side: run every scenario in a child process at once, then print one report.
pub fn compare(
    files: &[std::path::PathBuf],
    output: &str,
    out_file: Option<&std::path::Path>,
    requests_n: usize,
) -> Result<i32> {
    if files.len() < 2 {
        bail!("compare needs at least two scenario files");
    }
    for f in files {
        crate::cli::load(f)?;
    }
    let exe = std::env::current_exe()?;
    let children: Vec<_> = files
        .iter()
        .map(|f| {
            std::process::Command::new(&exe)
                .arg("__measure")
                .arg(f)
                .arg("--requests")
                .arg(requests_n.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .with_context(|| format!("starting the run of {}", f.display()))
        })
        .collect::<Result<_>>()?;
    let mut reports = Vec::new();
    for (child, f) in children.into_iter().zip(files) {
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "running {} failed:\n{}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let r: Report = serde_json::from_slice(&out.stdout)
            .with_context(|| format!("reading the measurements of {}", f.display()))?;
        reports.push(r);
    }
    let text = match output {
        "json" => serde_json::to_string_pretty(&serde_json::json!({ "scenarios": reports }))? + "\n",
        "markdown" | "md" => markdown(&reports),
        "html" => html(&reports),
        _ => terminal(&reports),
    };
    match out_file {
        Some(p) => {
            std::fs::write(p, &text).with_context(|| format!("writing {}", p.display()))?;
            println!("wrote {}", p.display());
        }
        None => print!("{text}"),
    }
    Ok(0)
}

fn cells(r: &Report) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    let place: Vec<String> = r
        .placement
        .nodes
        .iter()
        .map(|n| {
            format!(
                "{}: {} (cpu {:.0}%, mem {:.0}%)",
                n.name,
                if n.containers.is_empty() {
                    "idle".to_string()
                } else {
                    n.containers.join(", ")
                },
                n.cpu_percent,
                n.memory_percent
            )
        })
        .collect();
    let mut place = place;
    place.push(format!(
        "stranded: {}m CPU, {} MiB memory (free on used nodes, too small for another tier pod)",
        r.placement.stranded_cpu_milli,
        r.placement.stranded_memory_bytes / (1024 * 1024)
    ));
    rows.push(("Placement".to_string(), place.join("\n")));
    let scale: Vec<String> = r
        .scaling
        .iter()
        .map(|(t, s)| {
            let d: Vec<String> = s
                .dragged
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(k, n)| format!("+{n} {k}"))
                .collect();
            format!(
                "{t}: {} replicas fit{}",
                s.replicas_fit,
                if d.is_empty() {
                    String::new()
                } else {
                    format!(" (dragging {})", d.join(", "))
                }
            )
        })
        .collect();
    rows.push((
        "Scaling".into(),
        if scale.is_empty() {
            "n/a (no frontend/backend tiers)".into()
        } else {
            scale.join("\n")
        },
    ));
    rows.push((
        "Path".into(),
        match &r.path {
            Some(p) => format!(
                "{}: {} router hop(s), {} links{}\n{} → {}{}\np50 {:.0} µs, p99 {:.0} µs, {:.0} req/s ({} of {} ok)\nbackend saw source {}",
                p.kind,
                p.router_hops,
                p.hops.len(),
                if p.links.is_empty() {
                    String::new()
                } else {
                    format!("\nshaped: {}", p.links.join("; "))
                },
                p.from,
                p.to,
                if p.declared { " (declared traffic)" } else { "" },
                p.p50_us,
                p.p99_us,
                p.requests_per_second,
                p.ok,
                p.requests,
                p.seen_source.clone().unwrap_or_else(|| "?".into())
            ),
            None => "n/a".into(),
        },
    ));
    rows.push((
        "Failure".into(),
        match &r.failure {
            Some(f) => format!(
                "{} down\nstopped: {}\nstill serving: {}\nrescheduled: {}",
                f.node,
                if f.stopped.is_empty() {
                    "none".into()
                } else {
                    f.stopped.join(", ")
                },
                if f.still_serving.is_empty() {
                    "none".into()
                } else {
                    f.still_serving.join(", ")
                },
                if f.rescheduled.is_empty() {
                    "none (bare pods are not rescheduled)".into()
                } else {
                    f.rescheduled.join(", ")
                }
            ),
            None => "n/a".into(),
        },
    ));
    let verdict: Vec<String> = ["placement", "scaling", "path", "failure"]
        .iter()
        .filter_map(|k| r.verdicts.get(*k).cloned())
        .collect();
    rows.push(("Verdict".into(), verdict.join("\n")));
    let mut why: Vec<String> = Vec::new();
    for k in ["placement", "path"] {
        if let Some(d) = r.decided_by.get(k)
            && !why.contains(d)
        {
            why.push(d.clone());
        }
    }
    rows.push((
        "Decided by".into(),
        if why.is_empty() { "n/a".into() } else { why.join("\n") },
    ));
    rows
}

fn terminal(reports: &[Report]) -> String {
    let width = 46;
    let wrap = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        for line in s.lines() {
            let mut cur = String::new();
            for word in line.split(' ') {
                if cur.chars().count() + word.chars().count() + 1 > width && !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if !cur.is_empty() {
                    cur.push(' ');
                }
                cur.push_str(word);
            }
            out.push(cur);
        }
        out
    };
    let cols: Vec<Vec<(String, String)>> = reports.iter().map(cells).collect();
    let mut o = format!("{:<10} ", "");
    for r in reports {
        o += &format!("| {:<width$} ", r.scenario);
    }
    o += "\n";
    let sep = format!("{}\n", "-".repeat(11 + reports.len() * (width + 3)));
    o += &sep;
    for row in 0..cols[0].len() {
        let wrapped: Vec<Vec<String>> = cols.iter().map(|c| wrap(&c[row].1)).collect();
        let h = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for i in 0..h {
            o += &format!("{:<10} ", if i == 0 { cols[0][row].0.as_str() } else { "" });
            for w in &wrapped {
                o += &format!("| {:<width$} ", w.get(i).map(String::as_str).unwrap_or(""));
            }
            o += "\n";
        }
        o += &sep;
    }
    o
}

fn markdown(reports: &[Report]) -> String {
    let mut o = String::from("| |");
    for r in reports {
        o += &format!(" {} |", r.scenario);
    }
    o += "\n|---|";
    o += &"---|".repeat(reports.len());
    o += "\n";
    let cols: Vec<_> = reports.iter().map(cells).collect();
    for row in 0..cols[0].len() {
        o += &format!("| **{}** |", cols[0][row].0);
        for c in &cols {
            o += &format!(" {} |", c[row].1.replace('\n', "<br>"));
        }
        o += "\n";
    }
    o
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn html(reports: &[Report]) -> String {
    let mut o = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>podlab compare</title><style>\
         body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.5em;vertical-align:top;white-space:pre-wrap}\
         th{background:#f4f4f4}</style></head><body><h1>podlab compare</h1><table><tr><th></th>",
    );
    for r in reports {
        o += &format!("<th>{}<br><small>{}</small></th>", esc(&r.scenario), esc(&r.file));
    }
    o += "</tr>";
    let cols: Vec<_> = reports.iter().map(cells).collect();
    for row in 0..cols[0].len() {
        o += &format!("<tr><th>{}</th>", cols[0][row].0);
        for c in &cols {
            o += &format!("<td>{}</td>", esc(&c[row].1));
        }
        o += "</tr>";
    }
    o += "<tr><th>Per-node CPU requested</th>";
    for r in reports {
        o += "<td>";
        o += &bars(
            r.placement
                .nodes
                .iter()
                .map(|n| (n.name.clone(), n.cpu_percent))
                .collect(),
        );
        o += "</td>";
    }
    o += "</tr><tr><th>Latency (µs)</th>";
    let max = reports
        .iter()
        .filter_map(|r| r.path.as_ref().map(|p| p.p99_us))
        .fold(1.0, f64::max);
    for r in reports {
        o += "<td>";
        if let Some(p) = &r.path {
            o += &bars_scaled(vec![("p50".into(), p.p50_us), ("p99".into(), p.p99_us)], max, "µs");
        }
        o += "</td>";
    }
    o += "</tr></table></body></html>\n";
    o
}

fn bars(items: Vec<(String, f64)>) -> String {
    bars_scaled(items, 100.0, "%")
}

fn bars_scaled(items: Vec<(String, f64)>, max: f64, unit: &str) -> String {
    let h = 22 * items.len() + 4;
    let mut s = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"320\" height=\"{h}\">");
    for (i, (label, v)) in items.iter().enumerate() {
        let w = (v / max * 200.0).clamp(0.0, 200.0);
        let y = 4 + i * 22;
        s += &format!(
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"70\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"#4a90d9\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{v:.0}{unit}</text>",
            y + 12,
            esc(label),
            75.0 + w,
            y + 12
        );
    }
    s + "</svg>"
}
