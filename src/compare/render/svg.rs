//! Static SVG for the compare page: a placement's topology (nodes side by side above the fabric
//! bridge, each with its pod bridge, pods and uplink, and the measured path in red), bars, and
//! the latency spread of a path's rounds. Boxes in fixed rows and columns, no layout engine.

use super::html::esc;
use crate::compare::noise::Spread;
use crate::compare::{PathReport, Report, TopoNode, TopoPod};
use std::fmt::Write;

/// Node box width, gap between nodes, one container row's height.
const NW: f64 = 210.0;
const GAP: f64 = 20.0;
const ROW: f64 = 20.0;
/// Top of the node boxes.
const TOP: f64 = 10.0;
/// The uplink box's width.
const UPLINK_W: f64 = 130.0;

const FRONTEND: (&str, &str) = ("#d6e8fb", "#2f6db3");
const BACKEND: (&str, &str) = ("#fde3bd", "#b36b00");
const OTHER: (&str, &str) = ("#eceff2", "#66717d");
const PATH: &str = "#d0021b";

fn pod_height(p: &TopoPod) -> f64 {
    28.0 + ROW * p.containers.len().max(1) as f64
}

/// Where a container chip sits: the node's column, the chip's vertical middle, the pod's left.
#[derive(Clone, Copy)]
struct Spot {
    node: usize,
    y: f64,
    pod_x: f64,
    pod: (usize, usize),
}

/// The page's drawing of one report's cluster; `id` keeps its marker ids apart from others'.
pub(super) fn topology(r: &Report, id: usize) -> String {
    let t = &r.topology;
    if t.nodes.is_empty() {
        return "n/a".into();
    }
    let node_h = t
        .nodes
        .iter()
        .map(|n| 40.0 + n.pods.iter().map(|p| pod_height(p) + 10.0).sum::<f64>().max(30.0) + 60.0)
        .fold(0.0, f64::max);
    let width = 20.0 + t.nodes.len() as f64 * (NW + GAP) - GAP;
    let fabric_y = TOP + node_h + 30.0;
    let height = fabric_y + 56.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" \
         height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"topology of {}\">\
         <defs><marker id=\"arrow-{id}\" viewBox=\"0 0 10 10\" refX=\"8\" refY=\"5\" markerWidth=\"5\" \
         markerHeight=\"5\" orient=\"auto-start-reverse\"><path d=\"M0 0L10 5L0 10z\" fill=\"{PATH}\"/></marker></defs>",
        esc(&r.scenario)
    );
    // The fabric bridge under the nodes.
    let _ = write!(
        s,
        "<rect x=\"10\" y=\"{fabric_y}\" width=\"{}\" height=\"10\" rx=\"4\" fill=\"#7d8a97\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} — the fabric bridge joining the nodes</text>",
        width - 20.0,
        width / 2.0,
        fabric_y + 26.0,
        esc(&t.fabric_bridge)
    );
    let mut spots = Vec::new();
    for (i, n) in t.nodes.iter().enumerate() {
        let cpu = r
            .placement
            .nodes
            .iter()
            .find(|u| u.name == n.name)
            .map(|u| u.cpu_percent);
        s += &node(n, i, node_h, fabric_y, cpu, t, &mut spots);
    }
    s += &path_line(&spots, node_h, fabric_y, id);
    let _ = write!(
        s,
        "<text x=\"10\" y=\"{}\" fill=\"{PATH}\">red: the measured requests, frontend → backend{}</text></svg>",
        height - 8.0,
        r.path
            .as_ref()
            .map(|p| format!(" ({}, {} router hop(s))", p.kind, p.router_hops))
            .unwrap_or_default()
    );
    s
}

/// Left edge of node `i`'s box.
fn node_x(i: usize) -> f64 {
    10.0 + i as f64 * (NW + GAP)
}

/// One node: its box, pod bridge, pods with their containers, uplink and its link to the fabric.
/// Records where each tier container sits in `spots`.
fn node(
    n: &TopoNode,
    i: usize,
    h: f64,
    fabric_y: f64,
    cpu: Option<f64>,
    t: &crate::compare::Topology,
    spots: &mut Vec<(String, Spot)>,
) -> String {
    let x = node_x(i);
    let uplink_y = TOP + h - 34.0;
    let mut s = format!(
        "<rect x=\"{x}\" y=\"{TOP}\" width=\"{NW}\" height=\"{h}\" rx=\"8\" fill=\"#f7f9fc\" stroke=\"#8a99a8\"/>\
         <text x=\"{}\" y=\"{}\" font-weight=\"bold\" font-size=\"14\">node {}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#56636f\">{}</text>",
        x + 10.0,
        TOP + 19.0,
        esc(&n.name),
        x + NW - 10.0,
        TOP + 19.0,
        cpu.map(|c| format!("cpu {c:.0}%")).unwrap_or_default()
    );
    // The pod bridge: a bar down the left, the pods' veths joining it.
    let bridge_bottom = uplink_y - 16.0;
    if let Some(b) = &t.node_bridge {
        let (bx, by) = (x + 10.0, TOP + 30.0);
        let _ = write!(
            s,
            "<rect x=\"{bx}\" y=\"{by}\" width=\"18\" height=\"{}\" rx=\"3\" fill=\"#4f6b86\"/>\
             <text transform=\"translate({} {}) rotate(-90)\" fill=\"#fff\" font-size=\"11\">{} {}</text>",
            bridge_bottom - by,
            bx + 13.0,
            bridge_bottom - 6.0,
            esc(b),
            esc(&n.gateway)
        );
    }
    let mut y = TOP + 34.0;
    if n.pods.is_empty() {
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" fill=\"#56636f\">idle: no pods</text>",
            x + 44.0,
            y + 20.0
        );
    }
    for (k, p) in n.pods.iter().enumerate() {
        s += &pod(p, (x + 40.0, y), (i, k), spots);
        let _ = write!(
            s,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#4f6b86\" stroke-width=\"2\"/>",
            x + 28.0,
            y + 14.0,
            x + 40.0,
            y + 14.0
        );
        y += pod_height(p) + 10.0;
    }
    // The node routes between its bridge and its uplink; the uplink joins the fabric.
    let _ = write!(
        s,
        "<rect x=\"{}\" y=\"{uplink_y}\" width=\"{UPLINK_W}\" height=\"24\" rx=\"4\" fill=\"#e3e9ef\" stroke=\"#8a99a8\"/>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} {}</text>\
         <line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{fabric_y}\" stroke=\"#7d8a97\" stroke-width=\"3\"/>",
        x + (NW - UPLINK_W) / 2.0,
        x + NW / 2.0,
        uplink_y + 16.0,
        esc(&t.uplink),
        esc(&n.node_ip),
        x + NW / 2.0,
        uplink_y + 24.0,
        x + NW / 2.0,
    );
    s
}

/// One pod at (x, y): its box, name and IP, a chip per container coloured by tier.
fn pod(p: &TopoPod, (x, y): (f64, f64), (ni, pi): (usize, usize), spots: &mut Vec<(String, Spot)>) -> String {
    let w = NW - 50.0;
    let mut s = format!(
        "<rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{}\" rx=\"6\" fill=\"#fff\" stroke=\"#56636f\"/>\
         <text x=\"{}\" y=\"{}\" font-weight=\"bold\">pod {}</text>\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#56636f\">{}</text>",
        pod_height(p),
        x + 8.0,
        y + 17.0,
        esc(&short(&p.name, 18)),
        x + w - 8.0,
        y + 17.0,
        esc(p.ip.as_deref().unwrap_or("no IP"))
    );
    for (k, c) in p.containers.iter().enumerate() {
        let cy = y + 24.0 + k as f64 * ROW;
        let (fill, ink) = match c.tier.as_deref() {
            Some("frontend") => FRONTEND,
            Some("backend") => BACKEND,
            _ => OTHER,
        };
        let _ = write!(
            s,
            "<rect x=\"{}\" y=\"{cy}\" width=\"{}\" height=\"{}\" rx=\"3\" fill=\"{fill}\" stroke=\"{ink}\"/>\
             <text x=\"{}\" y=\"{}\" fill=\"{ink}\">{}{}</text>",
            x + 8.0,
            w - 16.0,
            ROW - 4.0,
            x + 30.0,
            cy + 12.0,
            esc(&short(&c.name, 20)),
            // The tier, unless the container is named after it.
            c.tier
                .as_deref()
                .filter(|t| *t != c.name)
                .map(|t| format!(" · {t}"))
                .unwrap_or_default()
        );
        if let Some(t) = &c.tier {
            let spot = Spot {
                node: ni,
                y: cy + (ROW - 4.0) / 2.0,
                pod_x: x,
                pod: (ni, pi),
            };
            spots.push((t.clone(), spot));
        }
    }
    s
}

/// The red line from the frontend's container to the backend's: over loopback inside one pod,
/// through the pod bridge on one node, or bridge, uplink, fabric, uplink, bridge across two.
fn path_line(spots: &[(String, Spot)], h: f64, fabric_y: f64, id: usize) -> String {
    let find = |t: &str| spots.iter().find(|(tt, _)| tt == t).map(|(_, s)| *s);
    let (Some(f), Some(b)) = (find("frontend"), find("backend")) else {
        return String::new();
    };
    let style = format!(
        "fill=\"none\" stroke=\"{PATH}\" stroke-width=\"3\" stroke-linejoin=\"round\" opacity=\"0.85\" marker-end=\"url(#arrow-{id})\""
    );
    if f.pod == b.pod {
        // Loopback: out of the frontend chip and back into the backend's, inside the pod.
        let x = f.pod_x + NW - 50.0 - 14.0;
        return format!(
            "<path d=\"M{x} {} C{} {}, {} {}, {x} {}\" {style}/>\
             <text x=\"{}\" y=\"{}\" fill=\"{PATH}\" font-weight=\"bold\">lo</text>",
            f.y,
            x + 26.0,
            f.y,
            x + 26.0,
            b.y,
            b.y,
            x - 14.0,
            (f.y + b.y) / 2.0 + 4.0
        );
    }
    // A lane between the bridge and the pods, clear of the bridge's label.
    let lane = |s: Spot| node_x(s.node) + 34.0;
    let chip = |s: Spot| s.pod_x + 8.0;
    let mut d = format!("M{:.1} {:.1} H{:.1}", chip(f), f.y, lane(f));
    if f.node != b.node {
        // Down to the node's uplink, out of it to the fabric, across, and up the other node.
        let uy = TOP + h - 22.0;
        let centre = |s: Spot| node_x(s.node) + NW / 2.0;
        let edge = |s: Spot| node_x(s.node) + (NW - UPLINK_W) / 2.0;
        let _ = write!(
            d,
            " V{uy:.1} H{:.1} M{:.1} {:.1} V{:.1} H{:.1} V{:.1} M{:.1} {uy:.1} H{:.1}",
            edge(f),
            centre(f),
            uy + 12.0,
            fabric_y + 5.0,
            centre(b),
            uy + 12.0,
            edge(b),
            lane(b)
        );
    }
    let _ = write!(d, " V{:.1} H{:.1}", b.y, chip(b));
    format!("<path d=\"{d}\" {style}/>")
}

/// `name` cut to `n` characters with an ellipsis.
fn short(name: &str, n: usize) -> String {
    if name.chars().count() <= n {
        name.to_string()
    } else {
        name.chars().take(n - 1).collect::<String>() + "…"
    }
}

/// Horizontal bars, `max` the full width.
pub(super) fn bars(items: Vec<(String, f64)>, max: f64, unit: &str) -> String {
    let h = 22 * items.len() + 4;
    let mut s =
        format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"340\" height=\"{h}\" font-family=\"sans-serif\">");
    for (i, (label, v)) in items.iter().enumerate() {
        let w = (v / max * 200.0).clamp(0.0, 200.0);
        let y = 4 + i * 22;
        let _ = write!(
            s,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"76\" y=\"{y}\" width=\"{w:.1}\" height=\"16\" fill=\"#4a90d9\"/><text x=\"{:.1}\" y=\"{}\" font-size=\"12\">{v:.0}{unit}</text>",
            y + 12,
            esc(label),
            81.0 + w,
            y + 12
        );
    }
    s + "</svg>"
}

/// The path's rounds on a 0..`max` µs axis: the band from the fastest to the slowest round's
/// p50, a dot per round, a line at the p50 of all requests.
pub(super) fn spread(p: &PathReport, max: f64) -> String {
    let (x0, w) = (10.0, 380.0);
    let at = |v: f64| x0 + (v / max).clamp(0.0, 1.0) * w;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"420\" height=\"74\" font-family=\"sans-serif\" font-size=\"11\">\
         <line x1=\"{x0}\" y1=\"40\" x2=\"{}\" y2=\"40\" stroke=\"#8a99a8\"/>\
         <text x=\"{x0}\" y=\"54\">0</text><text x=\"{}\" y=\"54\" text-anchor=\"end\">{max:.0} µs</text>",
        x0 + w,
        x0 + w
    );
    if let Some(sp) = Spread::of(&p.round_p50_us) {
        let _ = write!(
            s,
            "<rect x=\"{:.1}\" y=\"22\" width=\"{:.1}\" height=\"14\" rx=\"3\" fill=\"#4a90d9\" opacity=\"0.3\"/>",
            at(sp.min),
            (at(sp.max) - at(sp.min)).max(2.0)
        );
    }
    for v in &p.round_p50_us {
        let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"29\" r=\"3.5\" fill=\"#2f6db3\"/>", at(*v));
    }
    let _ = write!(
        s,
        "<line x1=\"{0:.1}\" y1=\"18\" x2=\"{0:.1}\" y2=\"40\" stroke=\"#1d2733\" stroke-width=\"2\"/>\
         <text x=\"{x0}\" y=\"12\">p50 {1:.0} µs (all requests), p99 {2:.0} µs</text></svg>",
        at(p.p50_us),
        p.p50_us,
        p.p99_us
    );
    s
}
