//! The one-line verdict on each row of a comparison (placement, scaling, path, failure) and the
//! scenario text that decided it.

use super::Report;
use super::tiers::{Tier, node_of, pod_name, requests, source_of};
use podlab_control_plane::key_of;

/// The scenario text that decided each row: requests and capacities for placement and scaling,
/// which pods hold the tiers for path and failure.
pub(super) fn decided_by(r: &mut Report, t: &[Tier]) {
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

/// Sum each measured row up in one sentence.
pub(super) fn verdicts(r: &mut Report) {
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
