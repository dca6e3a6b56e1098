//! Drawing comparison reports: the rows of one report's column (`cells`), and those columns as
//! a terminal table or Markdown, each followed by what the rows measure and how to read latency
//! against its noise; `html` makes the page, with `svg`'s drawings.

mod html;
mod svg;

pub(super) use html::html;

use super::noise::{self, Noise, WITHIN_NOISE};
use super::rows::{ROWS, noise_note};
use super::{Failure, PathReport, Report};

/// One report's column: a cell per row of [`ROWS`] (placement, scaling, path, failure, verdict,
/// what decided it); `all` are every report, for the noise lines.
fn cells(r: &Report, all: &[Report]) -> Vec<String> {
    vec![
        placement_cell(r),
        scaling_cell(r),
        match &r.path {
            Some(p) => path_cell(p, &noise::lines(r, all)),
            None => "n/a".into(),
        },
        match &r.failure {
            Some(f) => failure_cell(f),
            None => "n/a".into(),
        },
        verdict_cell(r),
        decided_by_cell(r),
    ]
}

/// The most rounds any report's latency was measured in.
fn rounds(reports: &[Report]) -> usize {
    reports
        .iter()
        .filter_map(|r| r.path.as_ref().map(|p| p.round_p50_us.len()))
        .max()
        .unwrap_or(0)
}

/// `rounds' p50: 160–210 µs (5 rounds)`, or what is missing for a spread.
fn spread_line(p: &PathReport) -> String {
    match noise::Spread::of(&p.round_p50_us) {
        Some(s) => format!(
            "rounds' p50: {:.0}–{:.0} µs ({} rounds)",
            s.min,
            s.max,
            p.round_p50_us.len()
        ),
        None => "rounds' p50: one round, no spread".into(),
    }
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

fn path_cell(p: &PathReport, noise_lines: &[String]) -> String {
    format!(
        "{}: {} router hop(s), {} links{}\n{} → {}{}\np50 {:.0} µs, p99 {:.0} µs, {:.0} req/s ({} of {} ok)\n{}{}\nbackend saw source {}",
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
        spread_line(p),
        noise_lines.iter().map(|l| format!("\n{l}")).collect::<String>(),
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

/// The verdicts; a path verdict whose latency is within noise of another's says so.
fn verdict_cell(r: &Report) -> String {
    let noisy: Vec<&str> = r
        .latency_vs
        .iter()
        .filter(|(_, n)| **n == Noise::Within)
        .map(|(o, _)| o.as_str())
        .collect();
    let verdict: Vec<String> = ["placement", "scaling", "path", "failure"]
        .iter()
        .filter_map(|k| {
            let v = r.verdicts.get(*k)?;
            Some(if *k == "path" && !noisy.is_empty() {
                format!("{v} ({WITHIN_NOISE} of {})", noisy.join(", "))
            } else {
                v.clone()
            })
        })
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

/// `s` wrapped at `width` columns, each of its lines on its own.
fn wrap(s: &str, width: usize) -> Vec<String> {
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
}

/// The reports side by side as a fixed-width table, cells wrapped at 46 columns, then what each
/// row measures and the note on noise.
pub(super) fn terminal(reports: &[Report]) -> String {
    let width = 46;
    let cols: Vec<Vec<String>> = reports.iter().map(|r| cells(r, reports)).collect();
    let mut o = format!("{:<10} ", "");
    for r in reports {
        o += &format!("| {:<width$} ", r.scenario);
    }
    o += "\n";
    let sep = format!("{}\n", "-".repeat(11 + reports.len() * (width + 3)));
    o += &sep;
    for (row, text) in ROWS.iter().enumerate() {
        let wrapped: Vec<Vec<String>> = cols.iter().map(|c| wrap(&c[row], width)).collect();
        let h = wrapped.iter().map(Vec::len).max().unwrap_or(1);
        for i in 0..h {
            o += &format!("{:<10} ", if i == 0 { text.title } else { "" });
            for w in &wrapped {
                o += &format!("| {:<width$} ", w.get(i).map(String::as_str).unwrap_or(""));
            }
            o += "\n";
        }
        o += &sep;
    }
    o += "\nWhat each row measures, and why it matters:\n";
    for r in &ROWS {
        for (i, l) in wrap(&r.line(), 96).iter().enumerate() {
            o += &format!("{}{l}\n", if i == 0 { "  " } else { "    " });
        }
    }
    o += "\n";
    for l in wrap(&noise_note(rounds(reports)), 98) {
        o += &format!("{l}\n");
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
    let cols: Vec<_> = reports.iter().map(|r| cells(r, reports)).collect();
    for (row, text) in ROWS.iter().enumerate() {
        o += &format!("| **{}** |", text.title);
        for c in &cols {
            o += &format!(" {} |", c[row].replace('\n', "<br>"));
        }
        o += "\n";
    }
    o += "\n";
    for r in &ROWS {
        o += &(r.bullet() + "\n");
    }
    o + "\n" + &noise_note(rounds(reports)) + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::noise::tests::reports;

    /// Every output marks a difference within noise, in the Path and Verdict rows, and says why.
    #[test]
    fn outputs_mark_latency_within_noise() {
        let mut r = reports(&[170.0, 190.0]);
        r[1].verdicts
            .insert("path".into(), "cross-node, 2 router hop(s), p50 180 µs".into());
        let t = terminal(&r);
        assert!(t.contains("rounds' p50: 170–190 µs (2 rounds)"), "{t}");
        assert!(t.contains("vs one-pod: p50 within noise"), "{t}");
        assert!(t.contains("Path: how the frontend reaches the backend"), "{t}");
        let m = markdown(&r);
        assert!(m.contains("- **Failure**: the frontend's node is taken down"), "{m}");
        assert!(m.contains("Latency is measured in 3 rounds"), "{m}");
        assert!(m.contains("p50 180 µs (within noise of one-pod)"), "{m}");
        let h = html(&r);
        assert!(
            h.contains("p50 <mark class=\"noise\">within noise</mark> (round spreads overlap)"),
            "{h}"
        );
        let far = html(&reports(&[5100.0, 5300.0]));
        assert!(far.contains("beyond noise") && !far.contains("p50 <mark"), "{far}");
    }
}
