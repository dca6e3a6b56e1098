//! One scheduling cycle: per-pod precomputation (PreFilter/PreScore) here, the filter
//! plugins run per node in [`filter`], and the score plugins with their normalization in
//! [`score`], kube-scheduler 1.34 rules.

use std::borrow::Cow;
use std::cell::Cell;

use k8s_openapi::api::core::v1::Taint;

use crate::index::conj_signature;
use crate::index::{Conj, Index, NO_DOMAIN, OwnedKind, Topo};
use crate::nodeinfo::{Hot, NodeInfo, ScoreMemo};
use crate::podinfo::{AffinityTerm, Incoming, NsSet, SpreadConstraint};
use crate::profile::Profile;
use crate::selectors::tolerated;

mod filter;
mod score;

const MAX_NODE_SCORE: i64 = 100;

/// Filter reason texts (kube-scheduler 1.34).
pub mod reasons {
    /// NodeUnschedulable.
    pub const UNSCHEDULABLE: &str = "node(s) were unschedulable";
    /// NodeName.
    pub const NODE_NAME: &str = "node(s) didn't match the requested node name";
    /// NodeAffinity (nodeSelector and required node affinity).
    pub const NODE_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
    /// NodePorts.
    pub const NODE_PORTS: &str = "node(s) didn't have free ports for the requested pod ports";
    /// PodTopologySpread.
    pub const SPREAD: &str = "node(s) didn't match pod topology spread constraints";
    /// PodTopologySpread, node lacks the topology label.
    pub const SPREAD_LABEL: &str = "node(s) didn't match pod topology spread constraints (missing required label)";
    /// InterPodAffinity, incoming pod's affinity.
    pub const AFFINITY: &str = "node(s) didn't match pod affinity rules";
    /// InterPodAffinity, incoming pod's anti-affinity.
    pub const ANTI_AFFINITY: &str = "node(s) didn't match pod anti-affinity rules";
    /// InterPodAffinity, existing pods' anti-affinity.
    pub const EXISTING_ANTI: &str = "node(s) didn't satisfy existing pods anti-affinity rules";
}

struct AffState<'a> {
    terms: Vec<(Cow<'a, Topo>, Cow<'a, [i64]>)>,
    any_count: bool,
    self_match: bool,
}

struct SpreadState<'a> {
    topo: Cow<'a, Topo>,
    counts: Cow<'a, [i64]>,
    min: i64,
    self_match: bool,
    max_skew: i64,
}

struct SoftSpread<'a> {
    topo: Cow<'a, Topo>,
    hostname: bool,
    per_node: Cow<'a, [i64]>,
    counts: Cow<'a, [i64]>,
    weight: f64,
    max_skew: i64,
}

/// The scheduler state one cycle reads.
pub struct View<'a> {
    /// Nodes, by index.
    pub nodes: &'a [NodeInfo],
    /// Affinity/spread indexes (warmed for the pod).
    pub index: &'a Index,
    /// Image name -> number of nodes having it.
    pub image_nodes: &'a std::collections::HashMap<String, usize>,
    /// Dense per-node numbers (same indexes as `nodes`).
    pub hot: &'a [Hot],
    /// Per-node score memo, when the caller keeps one.
    pub memo: Option<&'a [Cell<ScoreMemo>]>,
    /// Per-node node-affinity verdicts for this pod's nodeSelector/required terms
    /// (0 unknown, 1 match, 2 no match), when the caller keeps them.
    pub affinity_memo: Option<&'a [Cell<u8>]>,
    /// No node has a NoSchedule/NoExecute taint.
    pub untainted: bool,
}

/// Per-pod state of one cycle over a snapshot.
pub struct Cycle<'a> {
    nodes: &'a [NodeInfo],
    index: &'a Index,
    profile: &'a Profile,
    inc: &'a Incoming,
    image_nodes: &'a std::collections::HashMap<String, usize>,
    hot: &'a [Hot],
    memo: Option<&'a [Cell<ScoreMemo>]>,
    affinity_memo: Option<&'a [Cell<u8>]>,
    tolerates_unschedulable: bool,
    /// The pod needs per-node checks beyond the hot numbers (nodeName, node affinity,
    /// host ports, extended resources).
    slow_checks: bool,
    /// No node of the cluster has a NoSchedule/NoExecute taint.
    untainted: bool,
    requests_zero: bool,
    affinity: Option<AffState<'a>>,
    anti: Vec<(Cow<'a, Topo>, Cow<'a, [i64]>)>,
    existing_anti: Vec<(Cow<'a, Topo>, Cow<'a, [i64]>)>,
    spread: Vec<SpreadState<'a>>,
}

/// The (conjunction, topology key) pairs whose per-domain counts a cycle for `inc` reads;
/// the scheduler warms its indexes with them first.
pub fn needed(inc: &Incoming) -> Vec<(Conj, String)> {
    let mut out = Vec::new();
    let i = &inc.info;
    if !i.required_affinity.is_empty() {
        let conj = affinity_conj(inc);
        for t in &i.required_affinity {
            out.push((conj.clone(), t.topology_key.clone()));
        }
    }
    for t in i
        .required_anti
        .iter()
        .chain(i.preferred_affinity.iter().map(|(_, t)| t))
        .chain(i.preferred_anti.iter().map(|(_, t)| t))
    {
        out.push((term_conj(t), t.topology_key.clone()));
    }
    for c in inc.hard_spread.iter().chain(&inc.soft_spread) {
        out.push((spread_conj(inc, c), c.topology_key.clone()));
    }
    out
}

fn affinity_conj(inc: &Incoming) -> Conj {
    inc.info
        .required_affinity
        .iter()
        .map(|t| (t.namespaces.clone(), t.selector.clone()))
        .collect()
}

fn term_conj(t: &AffinityTerm) -> Conj {
    vec![(t.namespaces.clone(), t.selector.clone())]
}

fn spread_conj(inc: &Incoming, c: &SpreadConstraint) -> Conj {
    vec![(NsSet::List(vec![inc.info.namespace.clone()]), c.selector.clone())]
}

fn hard_taints_tolerated(inc: &Incoming, n: &NodeInfo) -> bool {
    n.hard_taints.iter().all(|t| tolerated(&inc.tolerations, t))
}

/// Per-node counts of pods matching `conj` (cached, else counted).
fn node_counts<'a>(index: &'a Index, nodes: &[NodeInfo], conj: &Conj) -> Cow<'a, [i64]> {
    match index.node_counts(&conj_signature(conj)) {
        Some(c) => Cow::Borrowed(c),
        None => index.counts(nodes, conj),
    }
}

/// Domains of `key` and per-domain counts of pods matching `conj` (cached, else computed).
fn domain_counts<'a>(index: &'a Index, nodes: &[NodeInfo], conj: &Conj, key: &str) -> (Cow<'a, Topo>, Cow<'a, [i64]>) {
    let topo = index.topo(nodes, key);
    if let Some(d) = index.domains(&conj_signature(conj), key) {
        return (topo, Cow::Borrowed(d));
    }
    let agg = topo.aggregate(&index.counts(nodes, conj));
    (topo, Cow::Owned(agg))
}

/// Per-domain counts of pods matching `c`, restricted to the nodes kube-scheduler counts
/// (all constraint keys present, node inclusion policies). Cached when the restriction is
/// only "has the key" (one constraint, or keys on every node) and no policy excludes nodes.
/// Also returns which domains have a counted node (`None`: all of them).
#[allow(clippy::type_complexity)]
fn spread_counts<'a>(
    index: &'a Index,
    nodes: &[NodeInfo],
    inc: &Incoming,
    all: &[SpreadConstraint],
    c: &SpreadConstraint,
    untainted: bool,
    eligible_node: &dyn Fn(usize) -> bool,
) -> (Cow<'a, Topo>, Cow<'a, [i64]>, Option<Vec<bool>>) {
    let has_node_affinity = !inc.node_selector.is_empty() || inc.required_node_terms.is_some();
    let keys_everywhere = all
        .iter()
        .all(|k| index.topo(nodes, &k.topology_key).labeled == nodes.len());
    let simple = (all.len() == 1 || keys_everywhere)
        && all
            .iter()
            .all(|k| (!k.honor_node_affinity || !has_node_affinity) && (!k.honor_taints || untainted));
    if simple {
        let (topo, counts) = domain_counts(index, nodes, &spread_conj(inc, c), &c.topology_key);
        return (topo, counts, None);
    }
    let topo = index.topo(nodes, &c.topology_key);
    let per_node = node_counts(index, nodes, &spread_conj(inc, c));
    let mut counts = vec![0i64; topo.domains];
    let mut present = vec![false; topo.domains];
    for (ni, n) in nodes.iter().enumerate() {
        if !eligible_node(ni)
            || (c.honor_node_affinity && !inc.node_affinity_matches(&n.labels, &n.name))
            || (c.honor_taints && !hard_taints_tolerated(inc, n))
        {
            continue;
        }
        let d = topo.node_domain[ni];
        if d != NO_DOMAIN {
            counts[d as usize] += per_node[ni];
            present[d as usize] = true;
        }
    }
    (topo, Cow::Owned(counts), Some(present))
}

impl<'a> Cycle<'a> {
    /// PreFilter: computes everything the filters need for `inc` over `view`.
    pub fn new(view: View<'a>, profile: &'a Profile, inc: &'a Incoming) -> Self {
        let View {
            nodes,
            index,
            image_nodes,
            hot,
            memo,
            affinity_memo,
            untainted,
        } = view;
        let unsched = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            value: None,
            effect: "NoSchedule".into(),
            time_added: None,
        };
        let mut c = Cycle {
            nodes,
            index,
            profile,
            inc,
            image_nodes,
            hot,
            memo,
            affinity_memo,
            tolerates_unschedulable: tolerated(&inc.tolerations, &unsched),
            slow_checks: inc.node_name.is_some()
                || !inc.node_selector.is_empty()
                || inc.required_node_terms.is_some()
                || !inc.info.host_ports.is_empty()
                || inc.info.requests.scalar.iter().any(|(_, q)| *q > 0),
            untainted,
            requests_zero: inc.info.requests.is_zero(),
            affinity: None,
            anti: Vec::new(),
            existing_anti: Vec::new(),
            spread: Vec::new(),
        };
        let i = &inc.info;
        if !i.required_affinity.is_empty() {
            let conj = affinity_conj(inc);
            let mut any = false;
            let terms = i
                .required_affinity
                .iter()
                .map(|t| {
                    let (topo, agg) = domain_counts(index, nodes, &conj, &t.topology_key);
                    any |= agg.iter().any(|v| *v > 0);
                    (topo, agg)
                })
                .collect();
            c.affinity = Some(AffState {
                terms,
                any_count: any,
                self_match: i.required_affinity.iter().all(|t| t.matches(&i.namespace, &i.labels)),
            });
        }
        for t in &i.required_anti {
            c.anti.push(domain_counts(index, nodes, &term_conj(t), &t.topology_key));
        }
        for g in index.owned.values() {
            if g.kind == OwnedKind::RequiredAnti && g.term.matches(&i.namespace, &i.labels) {
                let topo = index.topo(nodes, &g.term.topology_key);
                let per_domain = match &g.per_domain {
                    Some(d) => Cow::Borrowed(d.as_slice()),
                    None => Cow::Owned(topo.aggregate(&g.per_node)),
                };
                c.existing_anti.push((topo, per_domain));
            }
        }
        if !inc.hard_spread.is_empty() {
            let topos: Vec<Cow<'_, Topo>> = inc
                .hard_spread
                .iter()
                .map(|sc| index.topo(nodes, &sc.topology_key))
                .collect();
            let eligible = |ni: usize| topos.iter().all(|t| t.node_domain[ni] != NO_DOMAIN);
            for s in &inc.hard_spread {
                let (topo, counts, present) =
                    spread_counts(index, nodes, inc, &inc.hard_spread, s, untainted, &eligible);
                // Domains with at least one counted node.
                let is_present = |d: usize| present.as_ref().is_none_or(|p| p[d]);
                let domains_num = (0..topo.domains).filter(|d| is_present(*d)).count() as i64;
                let mut min = counts
                    .iter()
                    .enumerate()
                    .filter(|(d, _)| is_present(*d))
                    .map(|(_, c)| *c)
                    .min()
                    .unwrap_or(i64::from(i32::MAX));
                if domains_num < s.min_domains {
                    min = 0;
                }
                c.spread.push(SpreadState {
                    topo,
                    counts,
                    min,
                    self_match: s.selector.matches(&i.labels),
                    max_skew: s.max_skew,
                });
            }
        }
        c
    }
}
