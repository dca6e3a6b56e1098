//! `expect` steps: checking an expectation (placement, phase, container state, restarts, a
//! reason) against the cluster, the sentence that says what is off, and the expectation's text.
//! The checks read events and logs through [`PodFacts`], so `podlab run --context` (which gets
//! them from a Kubernetes API) runs the same checks.

use super::describe::selector_text;
use super::{phase, select};
use crate::printers;
use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};
use podlab_control_plane::{Cluster, key_of};
use podlab_scenario::Expectation;
use std::collections::BTreeSet;

/// What the checks read besides the pods themselves: the cluster's events and containers' logs.
pub(crate) trait PodFacts {
    /// Every event, oldest first.
    fn events(&self) -> Vec<Event>;
    /// The log of container `container` of pod `p` (empty when there is none).
    fn logs(&self, p: &Pod, container: &str) -> String;
}

impl PodFacts for Cluster {
    fn events(&self) -> Vec<Event> {
        Cluster::events(self)
    }

    fn logs(&self, p: &Pod, container: &str) -> String {
        self.with_entry(&key_of(p), |e| {
            e.handle
                .as_ref()
                .and_then(|h| h.logs(Some(container), false))
                .unwrap_or_default()
        })
        .unwrap_or_default()
    }
}

/// A short reason a pod is not where it should be: the scheduler's message or a container's.
pub(crate) fn why_not(cluster: &dyn PodFacts, p: &Pod) -> String {
    if let Some(c) = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("Unschedulable")))
    {
        return c.message.clone().unwrap_or_default();
    }
    let reason = printers::pod_status_reason(p);
    let key = key_of(p);
    let last_warning = cluster
        .events()
        .into_iter()
        .rev()
        .find(|e| e.involved_object.name.as_deref() == Some(key.1.as_str()) && e.type_.as_deref() == Some("Warning"))
        .and_then(|e| e.message);
    match last_warning {
        Some(m) => format!("{reason}: {m}"),
        None => reason,
    }
}

/// Check one expectation against the cluster as it is now; the error says what is off.
pub(super) fn check_expectation(cluster: &Cluster, e: &Expectation) -> Result<()> {
    check_pods(cluster, e, &select(cluster, &e.pods))
}

/// Check one expectation against `pods`, the pods its selector picked (sorted by key).
pub(crate) fn check_pods(cluster: &dyn PodFacts, e: &Expectation, pods: &[Pod]) -> Result<()> {
    if let Some(c) = e.count {
        if pods.len() != c {
            bail!("expected {c} pod(s), found {}", pods.len());
        }
    } else if pods.is_empty() {
        bail!("no pod matched");
    }
    check_nodes(e, pods)?;
    for p in pods {
        check_pod(cluster, e, p)?;
    }
    Ok(())
}

/// The expectation's `node`, `same_node` and `distinct_nodes`.
fn check_nodes(e: &Expectation, pods: &[Pod]) -> Result<()> {
    let node_of = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| "<none>".into())
    };
    let nodes: BTreeSet<String> = pods.iter().map(node_of).collect();
    if let Some(n) = &e.node
        && let Some(p) = pods.iter().find(|p| &node_of(p) != n)
    {
        bail!("pod {} is on {}, not {n}", key_of(p).1, node_of(p));
    }
    if let Some(same) = e.same_node {
        if same && nodes.len() != 1 {
            bail!(
                "pods are spread over {}",
                nodes.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        if !same && nodes.len() < 2 {
            bail!("all pods are on {}", nodes.iter().next().cloned().unwrap_or_default());
        }
    }
    if let Some(d) = e.distinct_nodes
        && nodes.len() != d
    {
        bail!(
            "pods are on {} node(s) ({}), expected {d}",
            nodes.len(),
            nodes.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    Ok(())
}

/// The expectation's per-pod parts: phase, container state, restarts, reason.
fn check_pod(cluster: &dyn PodFacts, e: &Expectation, p: &Pod) -> Result<()> {
    let name = key_of(p).1;
    if let Some(want) = &e.phase
        && &phase(p) != want
    {
        bail!("pod {name} is {}, expected {want} ({})", phase(p), why_not(cluster, p));
    }
    let statuses = p
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    let chosen: Vec<_> = statuses
        .iter()
        .filter(|c| e.container.as_ref().is_none_or(|n| &c.name == n))
        .collect();
    if e.container.is_some() && chosen.is_empty() && (e.container_state.is_some() || e.restarts_at_least.is_some()) {
        bail!(
            "pod {name} has no container {:?} (yet)",
            e.container.clone().unwrap_or_default()
        );
    }
    if let Some(want) = &e.container_state {
        check_container_state(&name, want, &chosen)?;
    }
    if let Some(min) = e.restarts_at_least {
        for c in &chosen {
            if (c.restart_count as u32) < min {
                bail!(
                    "container {name}/{} restarted {} time(s), expected at least {min}",
                    c.name,
                    c.restart_count
                );
            }
        }
    }
    if let Some(text) = &e.reason_contains
        && !reasons(cluster, p, &name, &statuses).contains(text.as_str())
    {
        bail!("pod {name}: no reason, event or log mentions {text:?}");
    }
    Ok(())
}

/// Each chosen container is in state `want` (Running, Waiting, Terminated) or has it as reason.
fn check_container_state(name: &str, want: &str, chosen: &[&ContainerStatus]) -> Result<()> {
    for c in chosen {
        let s = c.state.clone().unwrap_or_default();
        let (kind, reason) = if s.running.is_some() {
            ("Running", String::new())
        } else if let Some(w) = &s.waiting {
            ("Waiting", w.reason.clone().unwrap_or_default())
        } else if let Some(t) = &s.terminated {
            ("Terminated", t.reason.clone().unwrap_or_default())
        } else {
            ("Unknown", String::new())
        };
        if want != kind && want != reason {
            bail!(
                "container {name}/{} is {kind}{}, expected {want}",
                c.name,
                if reason.is_empty() {
                    String::new()
                } else {
                    format!(" ({reason})")
                }
            );
        }
    }
    Ok(())
}

/// Everything that can explain a pod's state, one text to search: the status reason, its
/// events, its containers' waiting/terminated messages and their logs.
fn reasons(cluster: &dyn PodFacts, p: &Pod, name: &str, statuses: &[ContainerStatus]) -> String {
    let mut hay = why_not(cluster, p);
    for ev in cluster.events() {
        if ev.involved_object.name.as_deref() == Some(name) {
            hay.push('\n');
            hay.push_str(&ev.message.unwrap_or_default());
        }
    }
    for c in statuses {
        let s = c.state.clone().unwrap_or_default();
        for m in [s.waiting.and_then(|w| w.message), s.terminated.and_then(|t| t.message)]
            .into_iter()
            .flatten()
        {
            hay.push('\n');
            hay.push_str(&m);
        }
        hay.push('\n');
        hay.push_str(&cluster.logs(p, &c.name));
    }
    hay
}

/// An expectation as a step title reads it.
pub(crate) fn expectation_text(e: &Expectation) -> String {
    let mut parts = vec![selector_text(&e.pods)];
    if let Some(n) = &e.node {
        parts.push(format!("on node {n}"));
    }
    if let Some(s) = e.same_node {
        parts.push(if s {
            "on one node".into()
        } else {
            "not all on one node".into()
        });
    }
    if let Some(n) = e.distinct_nodes {
        parts.push(format!("on {n} distinct node(s)"));
    }
    if let Some(p) = &e.phase {
        parts.push(format!("phase {p}"));
    }
    if let Some(c) = e.count {
        parts.push(format!("count {c}"));
    }
    if let Some(s) = &e.container_state {
        parts.push(format!("container {} {s}", e.container.clone().unwrap_or_default()));
    }
    if let Some(r) = e.restarts_at_least {
        parts.push(format!("restarts >= {r}"));
    }
    if let Some(r) = &e.reason_contains {
        parts.push(format!("reason contains {r:?}"));
    }
    parts.join(", ")
}
