//! One scheduling cycle: per-pod precomputation (PreFilter/PreScore), the filter plugins
//! run per node, and the score plugins with their normalization, kube-scheduler 1.34 rules.

use std::borrow::Cow;
use std::cell::Cell;

use k8s_openapi::api::core::v1::Taint;

use crate::error::FilterFailure;
use crate::explain::PluginScore;
use crate::index::conj_signature;
use crate::index::{Conj, Index, NO_DOMAIN, OwnedKind, Topo};
use crate::nodeinfo::{HOT_HARD_TAINTS, HOT_PORTS, HOT_PREFER_TAINTS, HOT_UNSCHEDULABLE, Hot, NodeInfo, ScoreMemo};
use crate::podinfo::{AffinityTerm, Incoming, NsSet, SpreadConstraint};
use crate::profile::{Profile, ScoringStrategy};
use crate::selectors::tolerated;

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

    /// Runs the filter plugins in kube-scheduler's order; the first failure wins.
    pub fn filter(&self, ni: usize) -> Result<(), FilterFailure> {
        let n = &self.nodes[ni];
        let inc = self.inc;
        if n.unschedulable && !self.tolerates_unschedulable {
            return Err(FilterFailure::new("NodeUnschedulable", reasons::UNSCHEDULABLE, true));
        }
        if inc.node_name.as_ref().is_some_and(|want| *want != n.name) {
            return Err(FilterFailure::new("NodeName", reasons::NODE_NAME, true));
        }
        for t in &n.hard_taints {
            if !tolerated(&inc.tolerations, t) {
                let reason = format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    t.key,
                    t.value.as_deref().unwrap_or("")
                );
                return Err(FilterFailure::new("TaintToleration", &reason, true));
            }
        }
        if !inc.node_affinity_matches(&n.labels, &n.name) {
            return Err(FilterFailure::new("NodeAffinity", reasons::NODE_AFFINITY, true));
        }
        if !inc.info.host_ports.is_empty() && self.ports_conflict(n) {
            return Err(FilterFailure::new("NodePorts", reasons::NODE_PORTS, false));
        }
        self.fit(n)?;
        for (ci, s) in self.spread.iter().enumerate() {
            let d = s.topo.node_domain[ni];
            if d == NO_DOMAIN {
                return Err(FilterFailure::new("PodTopologySpread", reasons::SPREAD_LABEL, true));
            }
            let _ = ci;
            let skew = s.counts[d as usize] + i64::from(s.self_match) - s.min;
            if skew > s.max_skew {
                return Err(FilterFailure::new("PodTopologySpread", reasons::SPREAD, false));
            }
        }
        if let Some(a) = &self.affinity {
            let mut pods_exist = true;
            for (topo, agg) in &a.terms {
                let d = topo.node_domain[ni];
                if d == NO_DOMAIN {
                    return Err(FilterFailure::new("InterPodAffinity", reasons::AFFINITY, true));
                }
                if agg[d as usize] <= 0 {
                    pods_exist = false;
                }
            }
            if !pods_exist && (a.any_count || !a.self_match) {
                return Err(FilterFailure::new("InterPodAffinity", reasons::AFFINITY, true));
            }
        }
        for (topo, agg) in &self.anti {
            let d = topo.node_domain[ni];
            if d != NO_DOMAIN && agg[d as usize] > 0 {
                return Err(FilterFailure::new("InterPodAffinity", reasons::ANTI_AFFINITY, false));
            }
        }
        for (topo, blocked) in &self.existing_anti {
            let d = topo.node_domain[ni];
            if d != NO_DOMAIN && blocked[d as usize] > 0 {
                return Err(FilterFailure::new("InterPodAffinity", reasons::EXISTING_ANTI, false));
            }
        }
        Ok(())
    }

    /// The filters of [`Cycle::filter`] as a yes/no answer, without building any text
    /// (the scheduling loop's fast path; same verdicts).
    #[inline]
    pub fn feasible(&self, ni: usize) -> bool {
        let h = &self.hot[ni];
        let inc = self.inc;
        let req = &inc.info.requests;
        // NodeResourcesFit on the dense numbers first: the common rejection.
        if h.pods >= h.alloc_pods {
            return false;
        }
        if !self.requests_zero {
            let short = |want: i64, alloc: i64, used: i64| want > 0 && want > alloc - used;
            if short(req.milli_cpu, h.alloc_cpu, h.req_cpu)
                || short(req.memory, h.alloc_mem, h.req_mem)
                || short(req.ephemeral_storage, h.alloc_eph, h.req_eph)
            {
                return false;
            }
        }
        if h.flags & HOT_UNSCHEDULABLE != 0 && !self.tolerates_unschedulable {
            return false;
        }
        if h.flags & HOT_HARD_TAINTS != 0 && !hard_taints_tolerated(inc, &self.nodes[ni]) {
            return false;
        }
        if self.slow_checks {
            let n = &self.nodes[ni];
            if inc.node_name.as_ref().is_some_and(|want| *want != n.name) {
                return false;
            }
            if !self.node_affinity_ok(ni, n) {
                return false;
            }
            if h.flags & HOT_PORTS != 0 && !inc.info.host_ports.is_empty() && self.ports_conflict(n) {
                return false;
            }
            let (a, u) = (&n.alloc.resources, &n.requested);
            if req
                .scalar
                .iter()
                .any(|(name, q)| *q > 0 && *q > a.scalar(name) - u.scalar(name))
            {
                return false;
            }
        }
        for s in &self.spread {
            let d = s.topo.node_domain[ni];
            if d == NO_DOMAIN || s.counts[d as usize] + i64::from(s.self_match) - s.min > s.max_skew {
                return false;
            }
        }
        if let Some(a) = &self.affinity {
            let mut pods_exist = true;
            for (topo, agg) in &a.terms {
                let d = topo.node_domain[ni];
                if d == NO_DOMAIN {
                    return false;
                }
                pods_exist &= agg[d as usize] > 0;
            }
            if !pods_exist && (a.any_count || !a.self_match) {
                return false;
            }
        }
        for (topo, counts) in self.anti.iter().chain(&self.existing_anti) {
            let d = topo.node_domain[ni];
            if d != NO_DOMAIN && counts[d as usize] > 0 {
                return false;
            }
        }
        true
    }

    /// nodeSelector + required node affinity on node `ni`, memoized when possible.
    #[inline]
    fn node_affinity_ok(&self, ni: usize, n: &NodeInfo) -> bool {
        match self.affinity_memo.and_then(|m| m.get(ni)) {
            Some(cell) => match cell.get() {
                1 => true,
                2 => false,
                _ => {
                    let ok = self.inc.node_affinity_matches(&n.labels, &n.name);
                    cell.set(if ok { 1 } else { 2 });
                    ok
                }
            },
            None => self.inc.node_affinity_matches(&n.labels, &n.name),
        }
    }

    fn ports_conflict(&self, n: &NodeInfo) -> bool {
        let wild = "0.0.0.0";
        self.inc.info.host_ports.iter().any(|(ip, proto, port)| {
            n.pods.iter().any(|p| {
                p.host_ports.iter().any(|(ip2, proto2, port2)| {
                    port == port2 && proto == proto2 && (ip == wild || ip2 == wild || ip == ip2)
                })
            })
        })
    }

    fn fit(&self, n: &NodeInfo) -> Result<(), FilterFailure> {
        let req = &self.inc.info.requests;
        let mut reasons: Vec<String> = Vec::new();
        let mut unresolvable = false;
        if n.pods.len() as i64 + 1 > n.alloc.pods {
            reasons.push("Too many pods".into());
        }
        if !req.is_zero() {
            let a = &n.alloc.resources;
            let u = &n.requested;
            let mut check = |want: i64, alloc: i64, used: i64, reason: &str| {
                if want > 0 && want > alloc - used {
                    reasons.push(reason.to_string());
                    unresolvable |= want > alloc;
                }
            };
            check(req.milli_cpu, a.milli_cpu, u.milli_cpu, "Insufficient cpu");
            check(req.memory, a.memory, u.memory, "Insufficient memory");
            check(
                req.ephemeral_storage,
                a.ephemeral_storage,
                u.ephemeral_storage,
                "Insufficient ephemeral-storage",
            );
            for (name, q) in &req.scalar {
                if *q > 0 && *q > a.scalar(name) - u.scalar(name) {
                    reasons.push(format!("Insufficient {name}"));
                    unresolvable |= *q > a.scalar(name);
                }
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(FilterFailure {
                plugin: "NodeResourcesFit",
                reasons,
                unresolvable,
            })
        }
    }

    /// Scores `feasible` node indices; returns per node the plugin breakdown and total.
    pub fn score(&self, feasible: &[usize]) -> Vec<(Vec<PluginScore>, i64)> {
        let plugins = self.plugin_scores(feasible);
        feasible
            .iter()
            .enumerate()
            .map(|(k, _)| {
                let scores: Vec<PluginScore> = plugins
                    .iter()
                    .map(|(name, weight, raw, norm)| PluginScore {
                        plugin: name,
                        raw: raw[k],
                        normalized: norm[k],
                        weight: *weight,
                        weighted: norm[k] * weight,
                    })
                    .collect();
                let total = scores.iter().map(|s| s.weighted).sum();
                (scores, total)
            })
            .collect()
    }

    /// Totals only (the scheduling loop's fast path): the same numbers as `score`, computed
    /// without the breakdown, in one pass per node for the per-node plugins.
    pub fn totals(&self, feasible: &[usize]) -> Vec<i64> {
        let w = &self.profile.weights;
        let inc = self.inc;
        let i = &inc.info;
        let add = |totals: &mut [i64], weight: i64, norm: &[i64]| {
            for (t, n) in totals.iter_mut().zip(norm) {
                *t += n * weight;
            }
        };
        // TaintToleration: without PreferNoSchedule taints every node normalizes to 100.
        let mut totals = if feasible.iter().any(|&ni| self.hot[ni].flags & HOT_PREFER_TAINTS != 0) {
            let raw = self.taint_raw(feasible);
            let mut t = vec![0i64; feasible.len()];
            add(&mut t, w.taint_toleration, &default_normalize(&raw, true));
            t
        } else {
            vec![MAX_NODE_SCORE * w.taint_toleration; feasible.len()]
        };
        if !inc.preferred_node_terms.is_empty() {
            let raw = self.node_affinity_raw(feasible);
            add(&mut totals, w.node_affinity, &default_normalize(&raw, false));
        }
        let balanced = i.requests.milli_cpu != 0 || i.requests.memory != 0;
        let images = !self.image_nodes.is_empty();
        let key = [i.nonzero_cpu, i.nonzero_memory, i.requests.milli_cpu, i.requests.memory];
        let resource_score = |h: &Hot| {
            let mut s = w.node_resources_fit * self.fit_score(h);
            if balanced {
                s += w.balanced_allocation * self.balanced_score(h);
            }
            s
        };
        for (t, &ni) in totals.iter_mut().zip(feasible) {
            *t += match self.memo.and_then(|m| m.get(ni)) {
                Some(cell) => {
                    let m = cell.get();
                    if m.key == key {
                        m.score
                    } else {
                        let score = resource_score(&self.hot[ni]);
                        cell.set(ScoreMemo { key, score });
                        score
                    }
                }
                None => resource_score(&self.hot[ni]),
            };
            if images {
                *t += w.image_locality * image_priority(self.image_raw(&self.nodes[ni]), inc.num_containers);
            }
        }
        if !inc.soft_spread.is_empty() {
            let (_, norm) = self.soft_spread_scores(feasible);
            add(&mut totals, w.pod_topology_spread, &norm);
        }
        if self.has_inter_pod_scores() {
            let (_, norm) = self.inter_pod_normalized(feasible);
            add(&mut totals, w.inter_pod_affinity, &norm);
        }
        totals
    }

    fn taint_raw(&self, feasible: &[usize]) -> Vec<i64> {
        let prefer_tols: Vec<_> = self
            .inc
            .tolerations
            .iter()
            .filter(|t| {
                t.effect
                    .as_deref()
                    .is_none_or(|e| e.is_empty() || e == "PreferNoSchedule")
            })
            .cloned()
            .collect();
        feasible
            .iter()
            .map(|&ni| {
                self.nodes[ni]
                    .prefer_taints
                    .iter()
                    .filter(|t| !tolerated(&prefer_tols, t))
                    .count() as i64
            })
            .collect()
    }

    fn node_affinity_raw(&self, feasible: &[usize]) -> Vec<i64> {
        feasible
            .iter()
            .map(|&ni| {
                let n = &self.nodes[ni];
                self.inc
                    .preferred_node_terms
                    .iter()
                    .filter(|(_, t)| t.matches(&n.labels, &n.name))
                    .map(|(w, _)| *w)
                    .sum()
            })
            .collect()
    }

    /// NodeResourcesFit (Least/MostAllocated) over cpu and memory, scoring requests.
    #[inline]
    fn fit_score(&self, h: &Hot) -> i64 {
        let i = &self.inc.info;
        let (mut sum, mut wsum) = (0i64, 0i64);
        for (req, alloc) in [
            (h.nonzero_cpu + i.nonzero_cpu, h.alloc_cpu),
            (h.nonzero_mem + i.nonzero_memory, h.alloc_mem),
        ] {
            if alloc == 0 {
                continue;
            }
            sum += match self.profile.scoring {
                ScoringStrategy::LeastAllocated if req > alloc => 0,
                ScoringStrategy::LeastAllocated => (alloc - req) * MAX_NODE_SCORE / alloc,
                ScoringStrategy::MostAllocated => req.min(alloc) * MAX_NODE_SCORE / alloc,
            };
            wsum += 1;
        }
        if wsum == 0 { 0 } else { sum / wsum }
    }

    /// NodeResourcesBalancedAllocation over cpu and memory, real requests.
    #[inline]
    fn balanced_score(&self, h: &Hot) -> i64 {
        let i = &self.inc.info;
        let frac = |req: i64, alloc: i64| (alloc != 0).then(|| (req as f64 / alloc as f64).min(1.0));
        let cpu = frac(h.req_cpu + i.requests.milli_cpu, h.alloc_cpu);
        let mem = frac(h.req_mem + i.requests.memory, h.alloc_mem);
        let std = match (cpu, mem) {
            (Some(c), Some(m)) => ((c - m) / 2.0).abs(),
            _ => 0.0,
        };
        ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
    }

    /// ImageLocality's sum of (image size x share of nodes having it).
    fn image_raw(&self, n: &NodeInfo) -> i64 {
        if self.image_nodes.is_empty() {
            return 0;
        }
        let total_nodes = self.nodes.len().max(1) as f64;
        let mut sum = 0i64;
        for img in &self.inc.images {
            if let Some(size) = n.images.get(img) {
                let spread = *self.image_nodes.get(img).unwrap_or(&1) as f64 / total_nodes;
                sum += (*size as f64 * spread) as i64;
            }
        }
        sum
    }

    fn has_inter_pod_scores(&self) -> bool {
        let i = &self.inc.info;
        !i.preferred_affinity.is_empty()
            || !i.preferred_anti.is_empty()
            || self.index.owned.values().any(|g| g.kind != OwnedKind::RequiredAnti)
    }

    fn inter_pod_normalized(&self, feasible: &[usize]) -> (Vec<i64>, Vec<i64>) {
        let raw = self.inter_pod_scores(feasible);
        let (mn, mx) = (
            raw.iter().copied().min().unwrap_or(0),
            raw.iter().copied().max().unwrap_or(0),
        );
        let norm = raw
            .iter()
            .map(|s| {
                if mx - mn > 0 {
                    (MAX_NODE_SCORE as f64 * ((s - mn) as f64 / (mx - mn) as f64)) as i64
                } else {
                    0
                }
            })
            .collect();
        (raw, norm)
    }

    #[allow(clippy::type_complexity)]
    fn plugin_scores(&self, feasible: &[usize]) -> Vec<(&'static str, i64, Vec<i64>, Vec<i64>)> {
        let w = &self.profile.weights;
        let mut plugins: Vec<(&'static str, i64, Vec<i64>, Vec<i64>)> = Vec::new();
        let inc = self.inc;
        let i = &inc.info;
        let per_node = |f: &dyn Fn(usize) -> i64| -> Vec<i64> { feasible.iter().map(|&ni| f(ni)).collect() };

        let raw = self.taint_raw(feasible);
        let norm = default_normalize(&raw, true);
        plugins.push(("TaintToleration", w.taint_toleration, raw, norm));
        if !inc.preferred_node_terms.is_empty() {
            let raw = self.node_affinity_raw(feasible);
            let norm = default_normalize(&raw, false);
            plugins.push(("NodeAffinity", w.node_affinity, raw, norm));
        }
        let raw = per_node(&|ni| self.fit_score(&self.hot[ni]));
        plugins.push(("NodeResourcesFit", w.node_resources_fit, raw.clone(), raw));
        if !inc.soft_spread.is_empty() {
            let (raw, norm) = self.soft_spread_scores(feasible);
            plugins.push(("PodTopologySpread", w.pod_topology_spread, raw, norm));
        }
        if self.has_inter_pod_scores() {
            let (raw, norm) = self.inter_pod_normalized(feasible);
            plugins.push(("InterPodAffinity", w.inter_pod_affinity, raw, norm));
        }
        // Skipped for best-effort pods.
        if i.requests.milli_cpu != 0 || i.requests.memory != 0 {
            let raw = per_node(&|ni| self.balanced_score(&self.hot[ni]));
            plugins.push((
                "NodeResourcesBalancedAllocation",
                w.balanced_allocation,
                raw.clone(),
                raw,
            ));
        }
        let raw = per_node(&|ni| self.image_raw(&self.nodes[ni]));
        let norm = raw.iter().map(|s| image_priority(*s, inc.num_containers)).collect();
        plugins.push(("ImageLocality", w.image_locality, raw, norm));
        plugins
    }

    fn inter_pod_scores(&self, feasible: &[usize]) -> Vec<i64> {
        let i = &self.inc.info;
        let (index, nodes) = (self.index, self.nodes);
        // (domains, per-domain counts, multiplier)
        let mut per_key: Vec<(Cow<'a, Topo>, Cow<'a, [i64]>, i64)> = Vec::new();
        for (wt, t) in &i.preferred_affinity {
            let (topo, counts) = domain_counts(index, nodes, &term_conj(t), &t.topology_key);
            per_key.push((topo, counts, *wt));
        }
        for (wt, t) in &i.preferred_anti {
            let (topo, counts) = domain_counts(index, nodes, &term_conj(t), &t.topology_key);
            per_key.push((topo, counts, -*wt));
        }
        for g in index.owned.values() {
            let mult = match g.kind {
                OwnedKind::RequiredAnti => continue,
                OwnedKind::RequiredAffinity => 1,
                OwnedKind::PreferredAffinity => g.weight,
                OwnedKind::PreferredAnti => -g.weight,
            };
            if g.term.matches(&i.namespace, &i.labels) {
                let topo = index.topo(nodes, &g.term.topology_key);
                let counts = match &g.per_domain {
                    Some(d) => Cow::Borrowed(d.as_slice()),
                    None => Cow::Owned(topo.aggregate(&g.per_node)),
                };
                per_key.push((topo, counts, mult));
            }
        }
        feasible
            .iter()
            .map(|&ni| {
                per_key
                    .iter()
                    .map(|(topo, counts, mult)| {
                        let d = topo.node_domain[ni];
                        if d == NO_DOMAIN { 0 } else { counts[d as usize] * mult }
                    })
                    .sum()
            })
            .collect()
    }

    fn soft_spread_scores(&self, feasible: &[usize]) -> (Vec<i64>, Vec<i64>) {
        let inc = self.inc;
        let cons = &inc.soft_spread;
        let (index, nodes) = (self.index, self.nodes);
        let topos: Vec<Cow<'_, Topo>> = cons.iter().map(|c| index.topo(nodes, &c.topology_key)).collect();
        let has_all = |ni: usize| topos.iter().all(|t| t.node_domain[ni] != NO_DOMAIN);
        let ignored: Vec<bool> = feasible.iter().map(|&ni| !has_all(ni)).collect();
        let scored = ignored.iter().filter(|x| !**x).count();
        let mut states: Vec<SoftSpread<'a>> = Vec::new();
        for c in cons {
            let hostname = c.topology_key == "kubernetes.io/hostname";
            let per_node = node_counts(index, nodes, &spread_conj(inc, c));
            let (topo, counts, _) = spread_counts(index, nodes, inc, cons, c, self.untainted, &has_all);
            // Domains of the scored feasible nodes (only their counts are read).
            let size = if hostname {
                scored
            } else {
                let mut present = vec![false; topo.domains];
                for (k, &ni) in feasible.iter().enumerate() {
                    let d = topo.node_domain[ni];
                    if !ignored[k] && d != NO_DOMAIN {
                        present[d as usize] = true;
                    }
                }
                present.iter().filter(|p| **p).count()
            };
            states.push(SoftSpread {
                topo,
                hostname,
                per_node,
                counts,
                weight: ((size + 2) as f64).ln(),
                max_skew: c.max_skew,
            });
        }
        let raw: Vec<i64> = feasible
            .iter()
            .enumerate()
            .map(|(k, &ni)| {
                if ignored[k] {
                    return 0;
                }
                let mut score = 0.0f64;
                for s in &states {
                    let d = s.topo.node_domain[ni];
                    if d == NO_DOMAIN {
                        continue;
                    }
                    let cnt = if s.hostname {
                        s.per_node[ni]
                    } else {
                        s.counts[d as usize]
                    };
                    score += cnt as f64 * s.weight + (s.max_skew - 1) as f64;
                }
                score.round() as i64
            })
            .collect();
        let (mut mn, mut mx) = (i64::MAX, 0i64);
        for (k, s) in raw.iter().enumerate() {
            if !ignored[k] {
                mn = mn.min(*s);
                mx = mx.max(*s);
            }
        }
        let norm = raw
            .iter()
            .enumerate()
            .map(|(k, s)| {
                if ignored[k] {
                    0
                } else if mx == 0 {
                    MAX_NODE_SCORE
                } else {
                    MAX_NODE_SCORE * (mx + mn - s) / mx
                }
            })
            .collect();
        (raw, norm)
    }
}

/// `helper.DefaultNormalizeScore(MaxNodeScore, reverse, scores)`.
fn default_normalize(raw: &[i64], reverse: bool) -> Vec<i64> {
    let max = raw.iter().copied().max().unwrap_or(0).max(0);
    raw.iter()
        .map(|s| {
            if max == 0 {
                if reverse { MAX_NODE_SCORE } else { *s }
            } else {
                let v = MAX_NODE_SCORE * s / max;
                if reverse { MAX_NODE_SCORE - v } else { v }
            }
        })
        .collect()
}

/// ImageLocality's `calculatePriority`.
fn image_priority(sum: i64, num_containers: usize) -> i64 {
    const MB: i64 = 1024 * 1024;
    let min = 23 * MB;
    let max = 1000 * MB * num_containers.max(1) as i64;
    let s = sum.clamp(min, max);
    if max == min {
        return 0;
    }
    MAX_NODE_SCORE * (s - min) / (max - min)
}
