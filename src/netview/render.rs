//! Renderers of the topology view: an indented text tree, Graphviz dot, mermaid, and SVG
//! (dot through the machine's Graphviz). Interface names come from the layout (`t.names`).

use super::topology::{IfaceView, Topology};
use anyhow::{Context, Result, bail};
use std::fmt::Write as _;

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
            "{branch} {}{} ══ {}{} ── node {}  {}{}",
            n.uplink,
            if port_down { " DOWN" } else { "" },
            t.names.uplink,
            n.eth0.as_ref().map(down).unwrap_or(""),
            n.name,
            addrs(&n.eth0),
            n.netns.as_ref().map(|x| format!("  netns {x}")).unwrap_or_default()
        );
        let _ = writeln!(
            s,
            "{bar}   pod range {}  bridge {} {}",
            n.pod_cidr,
            n.bridge
                .as_ref()
                .map(|b| b.name.clone())
                .unwrap_or_else(|| format!("{} (missing)", t.names.node_bridge)),
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
    let pif = &t.names.pod_iface;
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
        let (up, br) = (&t.names.uplink, &t.names.node_bridge);
        let (eth, cni) = (format!("{nid}_{}", id(up)), format!("{nid}_{}", id(br)));
        let _ = writeln!(s, "    {eth} [label=\"{up}\\n{}\"];", addrs(&n.eth0));
        let routes: Vec<String> = n
            .routes
            .iter()
            .filter(|r| r.gateway.is_some())
            .map(|r| r.route.clone())
            .collect();
        let _ = writeln!(
            s,
            "    {cni} [label=\"bridge {br}\\n{}{}\", style=filled, fillcolor=\"#eeeeee\"];",
            addrs(&n.bridge),
            if routes.is_empty() {
                String::new()
            } else {
                format!("\\n{}", routes.join("\\n"))
            }
        );
        let _ = writeln!(s, "    {eth} -- {cni} [label=\"routing\", style=dashed];");
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
                "    {pid} [label=\"pod {}/{}\\n{pif} {}\\n{}\", style=filled, fillcolor=\"#e6f5e6\"];",
                p.namespace,
                p.name,
                p.ip.as_deref().unwrap_or("-"),
                cs.join("\\n")
            );
            let veth = p.host_veth.as_ref().map(|h| h.name.as_str()).unwrap_or("?");
            let _ = writeln!(s, "    {cni} -- {pid} [label=\"{veth} ══ {pif}\"];");
        }
        let _ = writeln!(s, "  }}");
        let _ = writeln!(s, "  fabric -- {eth} [label=\"{}\"];", n.uplink);
    }
    let _ = writeln!(s, "}}");
    s
}

fn topology_mermaid(t: &Topology) -> String {
    let pif = &t.names.pod_iface;
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
        let (up, br) = (&t.names.uplink, &t.names.node_bridge);
        let (eth, cni) = (format!("{nid}_{}", id(up)), format!("{nid}_{}", id(br)));
        let _ = writeln!(s, "    {eth}[\"{up} {}\"]", addrs(&n.eth0));
        let _ = writeln!(s, "    {cni}[\"bridge {br} {}\"]", addrs(&n.bridge));
        let _ = writeln!(s, "    {eth} -.-|routing| {cni}");
        for p in &n.pods {
            let pid = id(&format!("pod_{}_{}", p.namespace, p.name));
            let _ = writeln!(
                s,
                "    {pid}[\"pod {}/{}<br/>{pif} {}\"]",
                p.namespace,
                p.name,
                p.ip.as_deref().unwrap_or("-")
            );
            let veth = p.host_veth.as_ref().map(|h| h.name.as_str()).unwrap_or("?");
            let _ = writeln!(s, "    {cni} ---|\"{veth} = {pif}\"| {pid}");
        }
        let _ = writeln!(s, "  end");
        let _ = writeln!(s, "  fabric ---|{}| {eth}", n.uplink);
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
