//! The comparison as one self-contained HTML page for a class: each placement drawn as a
//! topology, each row headed by what it measures and why it matters, latency drawn as the
//! spread of its rounds with differences within noise marked, and a note on reading them.
//! Nothing is loaded from anywhere: styles inline, drawings inline SVG, no script.

use super::super::noise::WITHIN_NOISE;
use super::super::rows::{ROWS, noise_note};
use super::{cells, rounds, svg};
use crate::compare::Report;

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em 2em;color:#1d2733;max-width:1500px}\
h1{margin:.2em 0}p.lead{font-size:1.05em;color:#3b4a5a;margin:.3em 0 1em}\
table{border-collapse:collapse;width:100%;table-layout:fixed}\
td,th{border:1px solid #cfd6de;padding:.6em;vertical-align:top;text-align:left}\
td{white-space:pre-wrap;font-size:.95em}thead th{background:#eef2f6;font-size:1.1em}\
th.row{background:#f6f8fa;width:15em;font-weight:normal}th.row b{font-size:1.1em}\
th.row p{margin:.35em 0 0;font-size:.85em;color:#3b4a5a}th.row p.why{color:#5a4a10}\
mark.noise{background:#ffe9a8;border-radius:3px;padding:0 .15em;font-weight:bold}\
.note{margin-top:1.2em;padding:.8em 1em;background:#fff8e0;border-left:4px solid #e0b000;max-width:70em}\
svg{max-width:100%;height:auto}small{color:#5b6b7b}";

/// The reports as one HTML page.
pub(in crate::compare) fn html(reports: &[Report]) -> String {
    let names: Vec<String> = reports.iter().map(|r| esc(&r.scenario)).collect();
    let mut o = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>podlab compare: {}</title>\
         <style>{STYLE}</style></head><body><h1>One pod or two? {}</h1>\
         <p class=\"lead\">Each placement ran on its own real cluster (network namespaces, veths, \
         bridges and routes made by podlab); every figure below was measured there.</p>\
         <table><thead><tr><th class=\"row\"></th>",
        names.join(" vs "),
        names.join(" vs ")
    );
    for r in reports {
        o += &format!("<th>{}<br><small>{}</small></th>", esc(&r.scenario), esc(&r.file));
    }
    o += "</tr></thead><tbody>";
    o += &row(
        "Topology",
        "the nodes, their pods and containers, and the path the measured requests took (red).",
        "The same containers, placed differently, cross different kernel objects.",
        reports.iter().enumerate().map(|(i, r)| svg::topology(r, i)),
    );
    let cols: Vec<Vec<String>> = reports.iter().map(|r| cells(r, reports)).collect();
    for (i, text) in ROWS.iter().enumerate() {
        o += &row(
            text.title,
            text.what,
            text.why,
            cols.iter().map(|c| mark_noise(&esc(&c[i]))),
        );
        match text.title {
            "Placement" => o += &cpu_row(reports),
            "Path" => o += &latency_row(reports),
            _ => {}
        }
    }
    o += "</tbody></table>";
    o += &format!(
        "<div class=\"note\"><b>Reading the latency.</b> {}</div>",
        mark_noise(&esc(&noise_note(rounds(reports))))
    );
    o + "</body></html>\n"
}

/// One table row: its title, what it measures, why it matters, and one cell (HTML) per report.
fn row(title: &str, what: &str, why: &str, cells: impl Iterator<Item = String>) -> String {
    let mut o = format!(
        "<tr><th class=\"row\"><b>{}</b><p class=\"what\"><i>Measures:</i> {}</p><p class=\"why\"><i>Why it matters:</i> {}</p></th>",
        esc(title),
        esc(what),
        esc(why)
    );
    for c in cells {
        o += &format!("<td>{c}</td>");
    }
    o + "</tr>"
}

/// Per-node CPU requested, as bars.
fn cpu_row(reports: &[Report]) -> String {
    row(
        "CPU requested",
        "each node's CPU requests as % of its allocatable CPU.",
        "A full node takes no more pods; an empty one is capacity left unused.",
        reports.iter().map(|r| {
            let items = r
                .placement
                .nodes
                .iter()
                .map(|n| (n.name.clone(), n.cpu_percent))
                .collect();
            svg::bars(items, 100.0, "%")
        }),
    )
}

/// The rounds' p50s on one axis shared by every column, with the noise verdict.
fn latency_row(reports: &[Report]) -> String {
    let max = reports
        .iter()
        .filter_map(|r| r.path.as_ref())
        .flat_map(|p| p.round_p50_us.iter().copied().chain([p.p50_us]))
        .fold(1.0, f64::max);
    row(
        "Latency spread",
        "the p50 of each round of requests (dots), their spread (band) and the p50 of all requests (line), on one scale for every column.",
        "Overlapping bands mean the difference is noise, not the path.",
        reports.iter().map(|r| match &r.path {
            Some(p) => svg::spread(p, max) + "<br>" + &mark_noise(&esc(&super::noise::lines(r, reports).join("\n"))),
            None => "n/a".into(),
        }),
    )
}

/// Escape text for HTML.
pub(super) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Highlight the words that mark a difference as noise (in already escaped text).
fn mark_noise(s: &str) -> String {
    s.replace(WITHIN_NOISE, &format!("<mark class=\"noise\">{WITHIN_NOISE}</mark>"))
}
