//! Network views of a live cluster for learners, built in the daemon: `topology`, `routes`,
//! `trace` (the hop list, then proof by real probes: counters that moved, TTL, source address)
//! and `ping-matrix`. On the kernel dataplane everything is read back from the kernel in every
//! namespace (netplugin's `inspect`, `annotate` and `trace`), never from podlab's bookkeeping;
//! on the model dataplane `topology` and `routes` show computed data and say so.

use crate::probe;
use anyhow::{Context, Result, anyhow, bail};
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, key_of};
use podlab_netplugin::annotate::{AnnotateContext, explain_route};
use podlab_netplugin::inspect::{self, NsSnapshot, RouteEntry};
use podlab_netplugin::trace::{self, Endpoint, Hop, TracePath};
use podlab_netplugin::{Netns, NodeAddressing};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

/// What the model dataplane says about its views.
pub const MODEL_NOTE: &str = "model dataplane: computed, not read from a kernel";
const KERNEL_NOTE: &str = "kernel dataplane: read back from the kernel (rtnetlink) in every namespace";
const NEEDS_KERNEL: &str = "needs the kernel dataplane (real namespaces to send packets through); this cluster runs the model dataplane: start it without `--dataplane model`";

/// The whole cluster network: fabric, nodes, pods.
#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    /// Cluster name.
    pub cluster: String,
    /// `kernel` or `model`.
    pub dataplane: String,
    /// Where the data comes from, in words.
    pub source: String,
    /// The fabric bridge joining the nodes.
    pub fabric: FabricView,
    /// Every node, in cluster order.
    pub nodes: Vec<NodeView>,
}

/// The fabric: bridge `podlab0` in the daemon's own network namespace.
#[derive(Debug, Clone, Serialize)]
pub struct FabricView {
    /// Bridge name (`podlab0`).
    pub bridge: String,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Bridge ports (`fab-N`), each the fabric end of one node's uplink.
    pub ports: Vec<PortView>,
}

/// One fabric bridge port.
#[derive(Debug, Clone, Serialize)]
pub struct PortView {
    /// Port name (`fab-1`).
    pub name: String,
    /// Administratively up.
    pub up: bool,
    /// The node whose `eth0` is the other end of this veth, if found.
    pub node: Option<String>,
}

/// One interface.
#[derive(Debug, Clone, Serialize)]
pub struct IfaceView {
    /// Interface name.
    pub name: String,
    /// Interface index in its namespace.
    pub index: u32,
    /// IPv4 addresses with prefix.
    pub addresses: Vec<String>,
    /// Administratively up.
    pub up: bool,
    /// Hardware address.
    pub mac: Option<String>,
    /// Bridge it is a port of.
    pub master: Option<String>,
}

/// One route with the reason it exists.
#[derive(Debug, Clone, Serialize)]
pub struct RouteView {
    /// `ip route` syntax.
    pub route: String,
    /// Destination (`default` or CIDR).
    pub destination: String,
    /// Next hop.
    pub gateway: Option<String>,
    /// Output device.
    pub dev: Option<String>,
    /// Why it exists, in words.
    pub why: String,
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// The node's network namespace (`net:[inode]`), when it has one.
    pub netns: Option<String>,
    /// Its uplink `eth0` (fabric address).
    pub eth0: Option<IfaceView>,
    /// The fabric-side end of the uplink (`fab-N`).
    pub uplink: String,
    /// The node's slice of the pod range.
    pub pod_cidr: String,
    /// The pod bridge `cni0`.
    pub bridge: Option<IfaceView>,
    /// The node's routing table.
    pub routes: Vec<RouteView>,
    /// Pods on this node.
    pub pods: Vec<PodView>,
}

/// One pod and both ends of its veth.
#[derive(Debug, Clone, Serialize)]
pub struct PodView {
    /// Kubernetes namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod IP (from its eth0).
    pub ip: Option<String>,
    /// The pod's network namespace (`net:[inode]`).
    pub netns: Option<String>,
    /// Sandbox (pause) pid.
    pub sandbox_pid: Option<i32>,
    /// `eth0` inside the pod.
    pub eth0: Option<IfaceView>,
    /// The host end of the veth, in the node's namespace (a port of `cni0`).
    pub host_veth: Option<IfaceView>,
    /// The pod's own routes.
    pub routes: Vec<RouteView>,
    /// Containers with their ports.
    pub containers: Vec<ContainerView>,
    /// Why there is no network yet (e.g. `Pending`).
    pub note: Option<String>,
}

/// One container.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerView {
    /// Container name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Ports, `80/TCP`.
    pub ports: Vec<String>,
}

fn rt() -> tokio::runtime::Handle {
    tokio::runtime::Handle::current()
}

/// The fabric namespace: the daemon's own, read from a plain thread (never a setns'd one).
fn fabric_netns() -> Result<Netns> {
    std::thread::spawn(Netns::current)
        .join()
        .map_err(|_| anyhow!("reading the fabric namespace: thread panicked"))?
        .context("opening the fabric network namespace")
}

fn ns_inode(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|p| p.display().to_string())
}

fn iface(l: &inspect::LinkInfo) -> IfaceView {
    IfaceView {
        name: l.name.clone(),
        index: l.index,
        addresses: l.addresses.clone(),
        up: l.up,
        mac: l.mac.clone(),
        master: l.master.clone(),
    }
}

fn ctx(cluster: &Cluster, node: Option<&str>, is_pod: bool) -> AnnotateContext {
    AnnotateContext {
        nodes: cluster.nodes.iter().map(|n| n.addr.clone()).collect(),
        this_node: node.map(str::to_string),
        is_pod,
    }
}

fn annotate(routes: &[RouteEntry], c: &AnnotateContext) -> Vec<RouteView> {
    routes
        .iter()
        .map(|r| RouteView {
            route: r.to_string(),
            destination: r.destination.clone(),
            gateway: r.gateway.clone(),
            dev: r.dev.clone(),
            why: explain_route(r, c),
        })
        .collect()
}

fn containers(pod: &Pod) -> Vec<ContainerView> {
    pod.spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .map(|c| ContainerView {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                    ports: c
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| format!("{}/{}", p.container_port, p.protocol.as_deref().unwrap_or("TCP")))
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn node_of(pod: &Pod) -> Option<String> {
    pod.spec.as_ref().and_then(|s| s.node_name.clone())
}

/// The model dataplane's computed routes of a node, as table entries.
fn model_routes(cluster: &Cluster, node: &str) -> Vec<RouteEntry> {
    cluster
        .dataplane
        .routes(node)
        .into_iter()
        .map(|r| RouteEntry {
            destination: r.destination.to_string(),
            gateway: r.gateway.map(|g| g.to_string()),
            dev: Some(r.dev.clone()),
            scope: if r.gateway.is_some() { "universe" } else { "link" }.into(),
            protocol: if r.gateway.is_some() { "static" } else { "kernel" }.into(),
            src: r.src.map(|s| s.to_string()),
        })
        .collect()
}

/// Builds the topology: read from the kernel (kernel dataplane) or computed (model).
pub async fn topology(cluster: &Cluster) -> Result<Topology> {
    let model = cluster.is_model();
    let net = cluster.dataplane.network();
    let mut fabric = FabricView {
        bridge: podlab_netplugin::addressing::FABRIC_BRIDGE.to_string(),
        addresses: vec![format!("{}/{}", net.fabric_gateway(), net.fabric_cidr.prefix())],
        ports: Vec::new(),
    };
    let fabric_snap = if model {
        None
    } else {
        let ns = fabric_netns()?;
        let s = inspect::snapshot(&ns, &rt())
            .await
            .context("reading the fabric namespace")?;
        if let Some(b) = s.link(&fabric.bridge) {
            fabric.addresses = b.addresses.clone();
        }
        Some(s)
    };
    let pods = cluster.pods();
    let mut nodes = Vec::new();
    for n in &cluster.nodes {
        let name = n.addr.name.clone();
        let mut view = NodeView {
            name: name.clone(),
            netns: n.sandbox.as_ref().and_then(|s| ns_inode(s.pid())),
            eth0: None,
            uplink: n.addr.fabric_veth(),
            pod_cidr: n.addr.pod_subnet.to_string(),
            bridge: None,
            routes: Vec::new(),
            pods: Vec::new(),
        };
        let c = ctx(cluster, Some(&name), false);
        let node_snap = match &n.sandbox {
            Some(sb) if !model => Some(
                inspect::snapshot(sb.netns(), &rt())
                    .await
                    .with_context(|| format!("reading node {name}'s namespace"))?,
            ),
            _ => None,
        };
        if let Some(s) = &node_snap {
            view.eth0 = s.link("eth0").map(iface);
            view.bridge = s.link("cni0").map(iface);
            view.routes = annotate(&s.routes, &c);
            if let (Some(f), Some(e)) = (&fabric_snap, s.link("eth0"))
                && let Some(p) = e.peer_ifindex.and_then(|i| f.link_by_index(i))
            {
                view.uplink = p.name.clone();
            }
        } else {
            let a = &n.addr;
            view.eth0 = Some(IfaceView {
                name: "eth0".into(),
                index: 0,
                addresses: vec![format!("{}/{}", a.node_ip, a.fabric_prefix)],
                up: true,
                mac: None,
                master: None,
            });
            view.bridge = Some(IfaceView {
                name: "cni0".into(),
                index: 0,
                addresses: vec![format!("{}/{}", a.gateway, a.pod_subnet.prefix())],
                up: true,
                mac: None,
                master: None,
            });
            view.routes = annotate(&model_routes(cluster, &name), &c);
        }
        for pod in pods.iter().filter(|p| node_of(p).as_deref() == Some(name.as_str())) {
            view.pods.push(pod_view(cluster, pod, node_snap.as_ref()).await?);
        }
        nodes.push(view);
    }
    if let Some(f) = &fabric_snap {
        for l in f
            .links
            .iter()
            .filter(|l| l.master.as_deref() == Some(fabric.bridge.as_str()))
        {
            let node = nodes
                .iter()
                .find(|n| n.uplink == l.name && n.eth0.is_some())
                .map(|n| n.name.clone());
            fabric.ports.push(PortView {
                name: l.name.clone(),
                up: l.up,
                node,
            });
        }
    } else {
        for n in &nodes {
            fabric.ports.push(PortView {
                name: n.uplink.clone(),
                up: true,
                node: Some(n.name.clone()),
            });
        }
    }
    Ok(Topology {
        cluster: cluster.name.clone(),
        dataplane: if model { "model" } else { "kernel" }.into(),
        source: if model { MODEL_NOTE } else { KERNEL_NOTE }.into(),
        fabric,
        nodes,
    })
}

async fn pod_view(cluster: &Cluster, pod: &Pod, node_snap: Option<&NsSnapshot>) -> Result<PodView> {
    let key = key_of(pod);
    let (sandbox, net) = cluster
        .with_entry(&key, |e| (e.sandbox.clone(), e.net.clone()))
        .unwrap_or((None, None));
    let mut v = PodView {
        namespace: key.0.clone(),
        name: key.1.clone(),
        ip: None,
        netns: None,
        sandbox_pid: sandbox.as_ref().map(|s| s.pid()),
        eth0: None,
        host_veth: None,
        routes: Vec::new(),
        containers: containers(pod),
        note: None,
    };
    let c = ctx(cluster, node_of(pod).as_deref(), true);
    match (&sandbox, node_snap) {
        (Some(sb), Some(ns)) => {
            v.netns = ns_inode(sb.pid());
            // A pod that ended in between has no namespace to read: say so, do not fail.
            match inspect::snapshot(sb.netns(), &rt()).await {
                Ok(s) => {
                    if let Some(e) = s.link("eth0") {
                        v.ip = e
                            .addresses
                            .first()
                            .map(|a| a.split('/').next().unwrap_or(a).to_string());
                        v.host_veth = e.peer_ifindex.and_then(|i| ns.link_by_index(i)).map(iface);
                        v.eth0 = Some(iface(e));
                    }
                    v.routes = annotate(&s.routes, &c);
                }
                Err(e) => v.note = Some(format!("cannot read its namespace: {e}")),
            }
        }
        _ => match &net {
            Some(n) if cluster.is_model() => {
                v.ip = Some(n.ip.to_string());
                v.eth0 = Some(IfaceView {
                    name: n.pod_iface.clone(),
                    index: 0,
                    addresses: vec![format!("{}/{}", n.ip, n.prefix)],
                    up: true,
                    mac: None,
                    master: None,
                });
                v.host_veth = Some(IfaceView {
                    name: n.host_veth.clone(),
                    index: 0,
                    addresses: Vec::new(),
                    up: true,
                    mac: None,
                    master: Some("cni0".into()),
                });
                v.routes = annotate(
                    &[
                        RouteEntry {
                            destination: "default".into(),
                            gateway: Some(n.gateway.to_string()),
                            dev: Some(n.pod_iface.clone()),
                            scope: "universe".into(),
                            protocol: "static".into(),
                            src: None,
                        },
                        RouteEntry {
                            destination: ipnetwork::Ipv4Network::new(n.ip, n.prefix)
                                .map(|x| format!("{}/{}", x.network(), n.prefix))
                                .unwrap_or_default(),
                            gateway: None,
                            dev: Some(n.pod_iface.clone()),
                            scope: "link".into(),
                            protocol: "kernel".into(),
                            src: Some(n.ip.to_string()),
                        },
                    ],
                    &c,
                );
            }
            _ => v.note = Some(format!("no sandbox ({})", crate::printers::pod_status_reason(pod))),
        },
    }
    Ok(v)
}

/// Renders a topology as `text`, `dot`, `mermaid`, `svg` (through Graphviz) or `json`.
pub fn render_topology(t: &Topology, format: &str) -> Result<String> {
    match format {
        "text" | "" => Ok(topology_text(t)),
        "json" => Ok(serde_json::to_string_pretty(t)? + "\n"),
        "dot" => Ok(topology_dot(t)),
        "mermaid" => Ok(topology_mermaid(t)),
        "svg" => svg(&topology_dot(t)),
        other => bail!("unknown format {other:?} (text, dot, mermaid, svg, json)"),
    }
}

fn addrs(v: &Option<IfaceView>) -> String {
    v.as_ref().map(|i| i.addresses.join(",")).unwrap_or_else(|| "-".into())
}

fn down(v: &IfaceView) -> &'static str {
    if v.up { "" } else { " DOWN" }
}

fn topology_text(t: &Topology) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "Cluster \"{}\" ({})", t.cluster, t.source);
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "fabric{}  bridge {} {}",
        if t.dataplane == "kernel" {
            " (podlab's own network namespace)"
        } else {
            ""
        },
        t.fabric.bridge,
        t.fabric.addresses.join(",")
    );
    let count = t.nodes.len();
    for (i, n) in t.nodes.iter().enumerate() {
        let last = i + 1 == count;
        let (branch, bar) = if last { ("└─", "  ") } else { ("├─", "│ ") };
        let port_down = t
            .fabric
            .ports
            .iter()
            .find(|p| p.name == n.uplink)
            .is_some_and(|p| !p.up);
        let _ = writeln!(s, "│");
        let _ = writeln!(
            s,
            "{branch} {}{} ══ eth0{} ── node {}  {}{}",
            n.uplink,
            if port_down { " DOWN" } else { "" },
            n.eth0.as_ref().map(down).unwrap_or(""),
            n.name,
            addrs(&n.eth0),
            n.netns.as_ref().map(|x| format!("  netns {x}")).unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "{bar}   pod range {}  bridge {} {}",
            n.pod_cidr,
            n.bridge.as_ref().map(|b| b.name.as_str()).unwrap_or("cni0 (missing)"),
            addrs(&n.bridge)
        );
        let _ = writeln!(s, "{bar}   routes:");
        let w = n.routes.iter().map(|r| r.route.len()).max().unwrap_or(0);
        for r in &n.routes {
            let _ = writeln!(s, "{bar}     {:<w$}   ← {}", r.route, r.why);
        }
        if n.pods.is_empty() {
            let _ = writeln!(s, "{bar}   pods: none");
        } else {
            let _ = writeln!(s, "{bar}   pods:");
        }
        let pc = n.pods.len();
        for (j, p) in n.pods.iter().enumerate() {
            let (pb, pbar) = if j + 1 == pc {
                ("└─", "  ")
            } else {
                ("├─", "│ ")
            };
            let _ = writeln!(
                s,
                "{bar}     {pb} {}/{}  {}",
                p.namespace,
                p.name,
                p.ip.as_deref().unwrap_or("(no IP)")
            );
            if let Some(note) = &p.note {
                let _ = writeln!(s, "{bar}     {pbar}   {note}");
            }
            if let (Some(e), Some(h)) = (&p.eth0, &p.host_veth) {
                let _ = writeln!(
                    s,
                    "{bar}     {pbar}   {} ── {}{} (node {}) ══ {}{} {} (pod netns {})",
                    h.master.as_deref().unwrap_or("no bridge"),
                    h.name,
                    down(h),
                    n.name,
                    e.name,
                    down(e),
                    e.addresses.join(","),
                    p.netns.as_deref().unwrap_or("-")
                );
            }
            for c in &p.containers {
                let ports = if c.ports.is_empty() {
                    String::new()
                } else {
                    format!("  ports {}", c.ports.join(", "))
                };
                let _ = writeln!(s, "{bar}     {pbar}   container {} ({}){ports}", c.name, c.image);
            }
        }
    }
    s
}

fn id(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn topology_dot(t: &Topology) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "graph podlab {{");
    let _ = writeln!(
        s,
        "  label=\"cluster {} ({} dataplane)\"; labelloc=t;",
        t.cluster, t.dataplane
    );
    let _ = writeln!(
        s,
        "  node [shape=box, style=rounded, fontname=\"Helvetica\", fontsize=10];"
    );
    let _ = writeln!(s, "  edge [fontname=\"Helvetica\", fontsize=9];");
    let _ = writeln!(
        s,
        "  fabric [label=\"fabric bridge {}\\n{}\", shape=box, style=filled, fillcolor=\"#dde8ff\"];",
        t.fabric.bridge,
        t.fabric.addresses.join(",")
    );
    for n in &t.nodes {
        let nid = id(&n.name);
        let _ = writeln!(s, "  subgraph cluster_{nid} {{");
        let _ = writeln!(s, "    label=\"node {} (pods {})\"; style=rounded;", n.name, n.pod_cidr);
        let _ = writeln!(s, "    {nid}_eth0 [label=\"eth0\\n{}\"];", addrs(&n.eth0));
        let routes: Vec<String> = n
            .routes
            .iter()
            .filter(|r| r.gateway.is_some())
            .map(|r| r.route.clone())
            .collect();
        let _ = writeln!(
            s,
            "    {nid}_cni0 [label=\"bridge cni0\\n{}{}\", style=filled, fillcolor=\"#eeeeee\"];",
            addrs(&n.bridge),
            if routes.is_empty() {
                String::new()
            } else {
                format!("\\n{}", routes.join("\\n"))
            }
        );
        let _ = writeln!(s, "    {nid}_eth0 -- {nid}_cni0 [label=\"routing\", style=dashed];");
        for p in &n.pods {
            let pid = id(&format!("pod_{}_{}", p.namespace, p.name));
            let cs: Vec<String> = p
                .containers
                .iter()
                .map(|c| {
                    if c.ports.is_empty() {
                        c.name.clone()
                    } else {
                        format!("{} :{}", c.name, c.ports.join(","))
                    }
                })
                .collect();
            let _ = writeln!(
                s,
                "    {pid} [label=\"pod {}/{}\\neth0 {}\\n{}\", style=filled, fillcolor=\"#e6f5e6\"];",
                p.namespace,
                p.name,
                p.ip.as_deref().unwrap_or("-"),
                cs.join("\\n")
            );
            let veth = p.host_veth.as_ref().map(|h| h.name.as_str()).unwrap_or("?");
            let _ = writeln!(s, "    {nid}_cni0 -- {pid} [label=\"{veth} ══ eth0\"];");
        }
        let _ = writeln!(s, "  }}");
        let _ = writeln!(s, "  fabric -- {nid}_eth0 [label=\"{}\"];", n.uplink);
    }
    let _ = writeln!(s, "}}");
    s
}

fn topology_mermaid(t: &Topology) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "graph TD");
    let _ = writeln!(
        s,
        "  fabric[\"fabric bridge {}<br/>{}\"]",
        t.fabric.bridge,
        t.fabric.addresses.join(",")
    );
    for n in &t.nodes {
        let nid = id(&n.name);
        let _ = writeln!(s, "  subgraph {nid}[\"node {} (pods {})\"]", n.name, n.pod_cidr);
        let _ = writeln!(s, "    {nid}_eth0[\"eth0 {}\"]", addrs(&n.eth0));
        let _ = writeln!(s, "    {nid}_cni0[\"bridge cni0 {}\"]", addrs(&n.bridge));
        let _ = writeln!(s, "    {nid}_eth0 -.-|routing| {nid}_cni0");
        for p in &n.pods {
            let pid = id(&format!("pod_{}_{}", p.namespace, p.name));
            let _ = writeln!(
                s,
                "    {pid}[\"pod {}/{}<br/>eth0 {}\"]",
                p.namespace,
                p.name,
                p.ip.as_deref().unwrap_or("-")
            );
            let veth = p.host_veth.as_ref().map(|h| h.name.as_str()).unwrap_or("?");
            let _ = writeln!(s, "    {nid}_cni0 ---|\"{veth} = eth0\"| {pid}");
        }
        let _ = writeln!(s, "  end");
        let _ = writeln!(s, "  fabric ---|{}| {nid}_eth0", n.uplink);
    }
    s
}

/// Renders Graphviz source to SVG with the machine's `dot`.
pub fn svg(dot: &str) -> Result<String> {
    use std::io::Write;
    let child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "--format svg needs Graphviz's `dot`, which is not installed (apt-get install graphviz).\n\
             `--format dot` prints the graph source instead; `--format text` always works"
        ),
        Err(e) => return Err(e).context("running dot -Tsvg"),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(dot.as_bytes()).context("feeding dot")?;
    }
    let out = child.wait_with_output().context("running dot -Tsvg")?;
    if !out.status.success() {
        bail!("dot -Tsvg failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `podlab routes NODE|POD`: the routing table with the reason for each route.
#[derive(Debug, Clone, Serialize)]
pub struct RoutesView {
    /// `node worker-1` or `pod default/web`.
    pub target: String,
    /// Where the table comes from.
    pub source: String,
    /// The routes, annotated.
    pub routes: Vec<RouteView>,
}

/// Reads (or, on the model dataplane, computes) the routing table of a node or pod.
pub async fn routes(cluster: &Cluster, target: &str, namespace: &str) -> Result<RoutesView> {
    let (kind, name) = split(target, cluster);
    let model = cluster.is_model();
    if kind == "node" {
        let n = cluster
            .node(name)
            .ok_or_else(|| anyhow!("Error from server (NotFound): nodes \"{name}\" not found"))?;
        let c = ctx(cluster, Some(name), false);
        let routes = match (&n.sandbox, model) {
            (Some(sb), false) => inspect::snapshot(sb.netns(), &rt()).await?.routes,
            _ => model_routes(cluster, name),
        };
        return Ok(RoutesView {
            target: format!("node {name}"),
            source: if model {
                MODEL_NOTE.into()
            } else {
                "read from the kernel in the node's network namespace".into()
            },
            routes: annotate(&routes, &c),
        });
    }
    let key = (namespace.to_string(), name.to_string());
    let pod = cluster
        .pod(&key)
        .ok_or_else(|| anyhow!("Error from server (NotFound): pods \"{name}\" not found"))?;
    let v = pod_view(cluster, &pod, Some(&NsSnapshot::default())).await?;
    if let Some(note) = &v.note
        && v.routes.is_empty()
    {
        bail!("pod {name} has no network: {note}");
    }
    Ok(RoutesView {
        target: format!("pod {namespace}/{name}"),
        source: if model {
            MODEL_NOTE.into()
        } else {
            "read from the kernel in the pod's network namespace".into()
        },
        routes: v.routes,
    })
}

/// Renders `routes` as text or json.
pub fn render_routes(r: &RoutesView, output: &str) -> Result<String> {
    if output == "json" {
        return Ok(serde_json::to_string_pretty(r)? + "\n");
    }
    let rows: Vec<Vec<String>> = r.routes.iter().map(|x| vec![x.route.clone(), x.why.clone()]).collect();
    Ok(format!(
        "Routes of {} ({}):\n{}",
        r.target,
        r.source,
        crate::printers::table(&["ROUTE", "WHY IT EXISTS"], &rows)
    ))
}

/// `node/NAME`, `pod/NAME` or a bare name (a node's name, else a pod's).
fn split<'a>(t: &'a str, cluster: &Cluster) -> (&'static str, &'a str) {
    match t.split_once('/') {
        Some(("node" | "nodes" | "no", n)) => ("node", n),
        Some(("pod" | "pods" | "po", n)) => ("pod", n),
        _ if cluster.node(t).is_some() => ("node", t),
        _ => ("pod", t),
    }
}

/// A trace endpoint resolved to its namespace.
struct Resolved {
    label: String,
    netns: Netns,
    ip: Ipv4Addr,
    node: Option<String>,
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
fn resolve(cluster: &Cluster, spec: &str, namespace: &str) -> Result<Resolved> {
    let node_ep = |name: &str| -> Result<Resolved> {
        let n = cluster
            .node(name)
            .ok_or_else(|| anyhow!("Error from server (NotFound): nodes \"{name}\" not found"))?;
        let sb = n
            .sandbox
            .as_ref()
            .ok_or_else(|| anyhow!("node {name} has no namespace"))?;
        Ok(Resolved {
            label: format!("node {name}"),
            netns: sb.netns().try_clone()?,
            ip: n.addr.node_ip,
            node: Some(name.to_string()),
        })
    };
    let pod_ep = |key: (String, String)| -> Result<Resolved> {
        let pod = cluster
            .pod(&key)
            .ok_or_else(|| anyhow!("Error from server (NotFound): pods \"{}\" not found", key.1))?;
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
            netns: sb.netns().try_clone()?,
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
            nodes.push((n.addr.clone(), sb.netns().try_clone()?));
        }
    }
    let path: TracePath = trace::compute(&s.endpoint()?, &d.endpoint()?, &nodes, &fabric, &rt())
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
        ttl_probe(from, to, dst_ip, timeout)
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

/// Sends one UDP datagram from `from` to a socket in `to` that asks for the received TTL
/// (`IP_RECVTTL`): `(ttl sent, ttl received)`.
fn ttl_probe(from: &Netns, to: &Netns, dst_ip: Ipv4Addr, timeout: Duration) -> Option<(u8, u8)> {
    use std::os::fd::AsRawFd;
    let sock = podlab_netplugin::ns::run_in(to, move || std::net::UdpSocket::bind((dst_ip, 0)))
        .ok()?
        .ok()?;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt on a socket we own, with a pointer to a live c_int.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_RECVTTL,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc != 0 {
        return None;
    }
    sock.set_read_timeout(Some(timeout)).ok()?;
    let port = sock.local_addr().ok()?.port();
    let sent = podlab_netplugin::ns::run_in(from, move || -> std::io::Result<u32> {
        let s = std::net::UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0))?;
        s.send_to(b"podlab-trace", (dst_ip, port))?;
        s.ttl()
    })
    .ok()?
    .ok()?;
    let mut buf = [0u8; 64];
    let mut cbuf = [0u8; 64];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: msghdr is plain data; zeroed is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cbuf.as_mut_ptr().cast();
    msg.msg_controllen = cbuf.len() as _;
    // SAFETY: recvmsg with buffers that outlive the call.
    let n = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut msg, 0) };
    if n < 0 {
        return None;
    }
    // SAFETY: walking the control messages the kernel wrote into `cbuf`, bounded by msg_controllen.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::IPPROTO_IP && (*c).cmsg_type == libc::IP_TTL {
                let ttl = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<libc::c_int>());
                return Some((u8::try_from(sent).unwrap_or(64), u8::try_from(ttl).unwrap_or(0)));
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
    }
    None
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
            members.push((format!("{}/{}", key.0, key.1), sb.netns().try_clone()?, net.ip));
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
