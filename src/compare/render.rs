//! Drawing comparison reports: the rows of one report's column (`cells`), and those columns as
//! a terminal table, Markdown or an HTML page with bar charts.

use super::{Failure, PathReport, Report};

/// One report's column: (row title, cell text), one row each for placement, scaling, path,
/// failure, verdict and what decided it.
fn cells(r: &Report) -> Vec<(String, String)> {
    vec![
        ("Placement".to_string(), placement_cell(r)),
        ("Scaling".into(), scaling_cell(r)),
        (
            "Path".into(),
            match &r.path {
                Some(p) => path_cell(p),
                None => "n/a".into(),
            },
        ),
        (
            "Failure".into(),
            match &r.failure {
                Some(f) => failure_cell(f),
                None => "n/a".into(),
            },
        ),
        ("Verdict".into(), verdict_cell(r)),
        ("Decided by".into(), decided_by_cell(r)),
    ]
}

fn placement_cell(r: &Report) -> String {
    let mut place: Vec<String> = r
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
    place.push(format!(
        "stranded: {}m CPU, {} MiB memory (free on used nodes, too small for another tier pod)",
        r.placement.stranded_cpu_milli,
        r.placement.stranded_memory_bytes / (1024 * 1024)
    ));
    place.join("\n")
}

fn scaling_cell(r: &Report) -> String {
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
    if scale.is_empty() {
        "n/a (no frontend/backend tiers)".into()
    } else {
        scale.join("\n")
    }
}

fn path_cell(p: &PathReport) -> String {
    format!(
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
    )
}

fn failure_cell(f: &Failure) -> String {
    format!(
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
    )
}

fn verdict_cell(r: &Report) -> String {
    let verdict: Vec<String> = ["placement", "scaling", "path", "failure"]
        .iter()
        .filter_map(|k| r.verdicts.get(*k).cloned())
        .collect();
    verdict.join("\n")
}

/// What decided placement and path (scaling and failure share their texts), each said once.
fn decided_by_cell(r: &Report) -> String {
    let mut why: Vec<String> = Vec::new();
    for k in ["placement", "path"] {
        if let Some(d) = r.decided_by.get(k)
            && !why.contains(d)
        {
            why.push(d.clone());
        }
    }
    if why.is_empty() { "n/a".into() } else { why.join("\n") }
}

/// The reports side by side as a fixed-width table, cells wrapped at 46 columns.
pub(super) fn terminal(reports: &[Report]) -> String {
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

/// The reports as a Markdown table, one column each.
pub(super) fn markdown(reports: &[Report]) -> String {
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

/// The reports as one HTML page: the table, per-node CPU bars and latency bars.
pub(super) fn html(reports: &[Report]) -> String {
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
