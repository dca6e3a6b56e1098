//! Explanation of a placement decision: per-node filter verdicts and per-plugin scores,
//! for `podlab explain-placement`.

use std::fmt;

use crate::error::FilterFailure;

/// One score plugin's contribution on one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginScore {
    /// Plugin name, e.g. "NodeResourcesFit".
    pub plugin: &'static str,
    /// Score before normalization (plugin-specific scale).
    pub raw: i64,
    /// Normalized score, 0..=100.
    pub normalized: i64,
    /// Plugin weight.
    pub weight: i64,
    /// `normalized * weight`.
    pub weighted: i64,
}

/// Verdict and scores for one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeExplanation {
    /// Node name.
    pub node: String,
    /// `None` when every filter passed, else the first failing plugin and its reasons.
    pub failure: Option<FilterFailure>,
    /// Scores (empty for filtered-out nodes).
    pub scores: Vec<PluginScore>,
    /// Sum of weighted scores.
    pub total: i64,
}

/// Full explanation for one pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// "namespace/name" of the pod.
    pub pod: String,
    /// Every node, in the scheduler's evaluation order.
    pub nodes: Vec<NodeExplanation>,
    /// Names of the feasible nodes with the highest total (the tie-break picks one).
    pub best: Vec<String>,
    /// The error kube-scheduler would report when no node is feasible.
    pub error: Option<String>,
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pod {}", self.pod)?;
        for n in &self.nodes {
            match &n.failure {
                Some(fail) => writeln!(
                    f,
                    "  {:<20} filtered by {}: {}",
                    n.node,
                    fail.plugin,
                    fail.reasons.join(", ")
                )?,
                None => {
                    let parts: Vec<String> = n
                        .scores
                        .iter()
                        .map(|s| format!("{}={}x{}", s.plugin, s.normalized, s.weight))
                        .collect();
                    let star = if self.best.contains(&n.node) { "*" } else { " " };
                    writeln!(f, "{star} {:<20} total {:>4}  {}", n.node, n.total, parts.join(" "))?
                }
            }
        }
        if let Some(e) = &self.error {
            writeln!(f, "unschedulable: {e}")?;
        }
        Ok(())
    }
}
