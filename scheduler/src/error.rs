//! The "0/N nodes are available: ..." error, formatted exactly like kube-scheduler 1.34's
//! `FitError.Error()` plus the DefaultPreemption PostFilter suffix.

use std::collections::BTreeMap;

/// Message kube-scheduler reports when the cluster has no nodes at all.
pub const NO_NODES_MESSAGE: &str = "no nodes available to schedule pods";

/// A pod could not be placed. `message` is kube-scheduler's text, e.g.
/// `0/2 nodes are available: 2 Insufficient cpu. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod..`
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Unschedulable {
    /// The full message, as kube-scheduler would put in the FailedScheduling event.
    pub message: String,
    /// Filter reasons with the number of nodes that reported each, sorted as in the message.
    pub reasons: Vec<(String, usize)>,
    /// Number of nodes considered.
    pub num_nodes: usize,
}

/// The verdict of the first failing filter plugin on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterFailure {
    /// Plugin name (e.g. "NodeResourcesFit").
    pub plugin: &'static str,
    /// Reasons, in the plugin's order (e.g. ["Insufficient cpu", "Insufficient memory"]).
    pub reasons: Vec<String>,
    /// `UnschedulableAndUnresolvable`: preemption cannot help on this node.
    pub unresolvable: bool,
}

impl FilterFailure {
    pub(crate) fn new(plugin: &'static str, reason: &str, unresolvable: bool) -> Self {
        FilterFailure {
            plugin,
            reasons: vec![reason.to_string()],
            unresolvable,
        }
    }
}

fn histogram<'a>(items: impl Iterator<Item = &'a str>) -> Vec<(String, usize)> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in items {
        *counts.entry(r).or_default() += 1;
    }
    // kube-scheduler sorts the formatted "<count> <reason>" strings.
    let mut v: Vec<(String, String, usize)> = counts
        .into_iter()
        .map(|(r, c)| (format!("{c} {r}"), r.to_string(), c))
        .collect();
    v.sort();
    v.into_iter().map(|(_, r, c)| (r, c)).collect()
}

fn join(h: &[(String, usize)]) -> String {
    h.iter().map(|(r, c)| format!("{c} {r}")).collect::<Vec<_>>().join(", ")
}

/// How the preemption suffix is produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreemptionNote {
    /// No suffix (DefaultPreemption disabled).
    None,
    /// The pod has `preemptionPolicy: Never`.
    NotEligible,
    /// Preemption ran and found no lower-priority victims (podlab has no preemption).
    NoVictims,
}

/// Builds the error for `num_nodes` nodes that all failed with `failures`.
pub fn fit_error(num_nodes: usize, failures: &[&FilterFailure], note: PreemptionNote) -> Unschedulable {
    if num_nodes == 0 {
        return Unschedulable {
            message: NO_NODES_MESSAGE.to_string(),
            reasons: Vec::new(),
            num_nodes,
        };
    }
    let reasons = histogram(failures.iter().flat_map(|f| f.reasons.iter().map(String::as_str)));
    let mut message = format!("0/{num_nodes} nodes are available:");
    if !reasons.is_empty() {
        message.push_str(&format!(" {}.", join(&reasons)));
    }
    match note {
        PreemptionNote::None => {}
        PreemptionNote::NotEligible => message.push_str(" preemption: not eligible due to preemptionPolicy=Never.."),
        PreemptionNote::NoVictims => {
            let p = histogram(failures.iter().map(|f| {
                if f.unresolvable {
                    "Preemption is not helpful for scheduling"
                } else {
                    "No preemption victims found for incoming pod"
                }
            }));
            message.push_str(&format!(
                " preemption: 0/{num_nodes} nodes are available: {}..",
                join(&p)
            ));
        }
    }
    Unschedulable {
        message,
        reasons,
        num_nodes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_formatted_string() {
        let cpu = FilterFailure::new("NodeResourcesFit", "Insufficient cpu", false);
        let aff = FilterFailure::new(
            "NodeAffinity",
            "node(s) didn't match Pod's node affinity/selector",
            true,
        );
        let e = fit_error(3, &[&aff, &cpu, &aff], PreemptionNote::None);
        assert_eq!(
            e.message,
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector."
        );
        let e = fit_error(3, &[&aff, &cpu, &aff], PreemptionNote::NoVictims);
        assert_eq!(
            e.message,
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector. \
             preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, \
             2 Preemption is not helpful for scheduling.."
        );
    }

    #[test]
    fn counts_sort_as_strings() {
        let a = FilterFailure::new("X", "b", false);
        let b = FilterFailure::new("X", "a", false);
        let mut v: Vec<&FilterFailure> = vec![&a; 10];
        v.extend([&b, &b]);
        let e = fit_error(12, &v, PreemptionNote::None);
        assert_eq!(e.message, "0/12 nodes are available: 10 b, 2 a.");
    }
}
