//! One scheduling cycle: per-pod precomputation (PreFilter/PreScore), the filter plugins
//! run per node, and the score plugins with their normalization, kube-scheduler 1.34 rules.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::Taint;

use crate::error::FilterFailure;
use crate::explain::PluginScore;
use crate::index::{Conj, Index, NO_DOMAIN, OwnedKind, Topo};
use crate::nodeinfo::NodeInfo;
use crate::podinfo::{Incoming, NsSet};
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
    terms: Vec<(Cow<'a, Topo>, Vec<i64>)>,
    any_count: bool,
    self_match: bool,
}

struct SpreadState<'a> {
    topo: Cow<'a, Topo>,
    counts: Vec<i64>,
    min: i64,
    self_match: bool,
    max_skew: i64,
}

struct SoftSpread<'a> {
    topo: Cow<'a, Topo>,
    hostname: bool,
    per_node: Cow<'a, [i64]>,
    counts: Vec<i64>,
    weight: f64,
    max_skew: i64,
}

/// Per-pod state of one cycle over a snapshot.
pub struct Cycle<'a> {
    nodes: &'a [NodeInfo],
    index: &'a Index,
    profile: &'a Profile,
    inc: &'a Incoming,
    image_nodes: &'a std::collections::HashMap<String, usize>,
    tolerates_unschedulable: bool,
    affinity: Option<AffState<'a>>,
    anti: Vec<(Cow<'a, Topo>, Vec<i64>)>,
    existing_anti: Vec<(Cow<'a, Topo>, Vec<bool>)>,
    spread: Vec<SpreadState<'a>>,
}

/// The (namespaces, selector) conjunctions and topology keys a cycle for `inc` will query;
/// the scheduler warms its caches with them first.
pub fn needed(inc: &Incoming) -> (Vec<Conj>, Vec<String>) {
    let mut conjs = Vec::new();
    let mut keys = Vec::new();
    let i = &inc.info;
    if !i.required_affinity.is_empty() {
        conjs.push(
            i.required_affinity
                .iter()
                .map(|t| (t.namespaces.clone(), t.selector.clone()))
                .collect(),
        );
    }
    for t in i
        .required_affinity
        .iter()
        .chain(&i.required_anti)
        .chain(i.preferred_affinity.iter().map(|(_, t)| t))
        .chain(i.preferred_anti.iter().map(|(_, t)| t))
    {
        conjs.push(vec![(t.namespaces.clone(), t.selector.clone())]);
        keys.push(t.topology_key.clone());
    }
    for c in inc.hard_spread.iter().chain(&inc.soft_spread) {
        conjs.push(vec![(NsSet::List(vec![i.namespace.clone()]), c.selector.clone())]);
        keys.push(c.topology_key.clone());
    }
    (conjs, keys)
}

fn hard_taints_tolerated(inc: &Incoming, n: &NodeInfo) -> bool {
    n.hard_taints.iter().all(|t| tolerated(&inc.tolerations, t))
}

impl<'a> Cycle<'a> {
    /// PreFilter: computes everything the filters need for `inc`.
    pub fn new(
        nodes: &'a [NodeInfo],
        index: &'a Index,
        profile: &'a Profile,
        inc: &'a Incoming,
        image_nodes: &'a std::collections::HashMap<String, usize>,
    ) -> Self {
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
            tolerates_unschedulable: tolerated(&inc.tolerations, &unsched),
            affinity: None,
            anti: Vec::new(),
            existing_anti: Vec::new(),
            spread: Vec::new(),
        };
        let i = &inc.info;
        if !i.required_affinity.is_empty() {
            let conj: Conj = i
                .required_affinity
                .iter()
                .map(|t| (t.namespaces.clone(), t.selector.clone()))
                .collect();
            let per_node = index.counts(nodes, &conj);
            let mut any = false;
            let terms = i
                .required_affinity
                .iter()
                .map(|t| {
                    let topo = index.topo(nodes, &t.topology_key);
                    let agg = topo.aggregate(&per_node);
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
            let per_node = index.counts(nodes, &vec![(t.namespaces.clone(), t.selector.clone())]);
            let topo = index.topo(nodes, &t.topology_key);
            let agg = topo.aggregate(&per_node);
            c.anti.push((topo, agg));
        }
        for g in index.owned.values() {
            if g.kind == OwnedKind::RequiredAnti && g.term.matches(&i.namespace, &i.labels) {
                let topo = index.topo(nodes, &g.term.topology_key);
                let blocked = topo.aggregate(&g.per_node).iter().map(|v| *v > 0).collect();
                c.existing_anti.push((topo, blocked));
            }
        }
        if !inc.hard_spread.is_empty() {
            let mut eligible: Vec<bool> = vec![true; nodes.len()];
            for sc in &inc.hard_spread {
                let topo = index.topo(nodes, &sc.topology_key);
                for (e, d) in eligible.iter_mut().zip(&topo.node_domain) {
                    *e &= *d != NO_DOMAIN;
                }
            }
            for s in &inc.hard_spread {
                let per_node = index.counts(
                    nodes,
                    &vec![(NsSet::List(vec![i.namespace.clone()]), s.selector.clone())],
                );
                let topo = index.topo(nodes, &s.topology_key);
                let mut counts = vec![0i64; topo.domains];
                let mut present = vec![false; topo.domains];
                for (ni, n) in nodes.iter().enumerate() {
                    if !eligible[ni]
                        || (s.honor_node_affinity && !inc.node_affinity_matches(&n.labels, &n.name))
                        || (s.honor_taints && !hard_taints_tolerated(inc, n))
                    {
                        continue;
                    }
                    let d = topo.node_domain[ni];
                    if d != NO_DOMAIN {
                        counts[d as usize] += per_node[ni];
                        present[d as usize] = true;
                    }
                }
                let domains_num = present.iter().filter(|p| **p).count() as i64;
                let mut min = counts
                    .iter()
                    .zip(&present)
                    .filter(|(_, p)| **p)
                    .map(|(c, _)| *c)
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
            if d != NO_DOMAIN && blocked[d as usize] {
                return Err(FilterFailure::new("InterPodAffinity", reasons::EXISTING_ANTI, false));
            }
        }
        Ok(())
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

    /// Totals only (fast path): same numbers as `score` without the breakdown.
    pub fn totals(&self, feasible: &[usize]) -> Vec<i64> {
        let plugins = self.plugin_scores(feasible);
        let mut totals = vec![0i64; feasible.len()];
        for (_, weight, _, norm) in &plugins {
            for (t, n) in totals.iter_mut().zip(norm) {
                *t += n * weight;
            }
        }
        totals
    }

    #[allow(clippy::type_complexity)]
    fn plugin_scores(&self, feasible: &[usize]) -> Vec<(&'static str, i64, Vec<i64>, Vec<i64>)> {
        let w = &self.profile.weights;
        let mut plugins: Vec<(&'static str, i64, Vec<i64>, Vec<i64>)> = Vec::new();
        let inc = self.inc;
        let i = &inc.info;

        // TaintToleration: count intolerable PreferNoSchedule taints, reversed normalization.
        let prefer_tols: Vec<_> = inc
            .tolerations
            .iter()
            .filter(|t| {
                t.effect
                    .as_deref()
                    .is_none_or(|e| e.is_empty() || e == "PreferNoSchedule")
            })
            .cloned()
            .collect();
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&ni| {
                self.nodes[ni]
                    .prefer_taints
                    .iter()
                    .filter(|t| !tolerated(&prefer_tols, t))
                    .count() as i64
            })
            .collect();
        plugins.push((
            "TaintToleration",
            w.taint_toleration,
            raw.clone(),
            default_normalize(&raw, true),
        ));

        // NodeAffinity: preferred terms.
        if !inc.preferred_node_terms.is_empty() {
            let raw: Vec<i64> = feasible
                .iter()
                .map(|&ni| {
                    let n = &self.nodes[ni];
                    inc.preferred_node_terms
                        .iter()
                        .filter(|(_, t)| t.matches(&n.labels, &n.name))
                        .map(|(w, _)| *w)
                        .sum()
                })
                .collect();
            plugins.push((
                "NodeAffinity",
                w.node_affinity,
                raw.clone(),
                default_normalize(&raw, false),
            ));
        }

        // NodeResourcesFit.
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&ni| {
                let n = &self.nodes[ni];
                let a = &n.alloc.resources;
                let pairs = [
                    (n.nonzero_cpu + i.nonzero_cpu, a.milli_cpu),
                    (n.nonzero_memory + i.nonzero_memory, a.memory),
                ];
                let (mut sum, mut wsum) = (0i64, 0i64);
                for (req, alloc) in pairs {
                    if alloc == 0 {
                        continue;
                    }
                    let s = match self.profile.scoring {
                        ScoringStrategy::LeastAllocated => {
                            if req > alloc {
                                0
                            } else {
                                (alloc - req) * MAX_NODE_SCORE / alloc
                            }
                        }
                        ScoringStrategy::MostAllocated => req.min(alloc) * MAX_NODE_SCORE / alloc,
                    };
                    sum += s;
                    wsum += 1;
                }
                if wsum == 0 { 0 } else { sum / wsum }
            })
            .collect();
        plugins.push(("NodeResourcesFit", w.node_resources_fit, raw.clone(), raw));

        // PodTopologySpread (ScheduleAnyway).
        if !inc.soft_spread.is_empty() {
            let (raw, norm) = self.soft_spread_scores(feasible);
            plugins.push(("PodTopologySpread", w.pod_topology_spread, raw, norm));
        }

        // InterPodAffinity.
        let has_owned = self.index.owned.values().any(|g| g.kind != OwnedKind::RequiredAnti);
        if !i.preferred_affinity.is_empty() || !i.preferred_anti.is_empty() || has_owned {
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
            plugins.push(("InterPodAffinity", w.inter_pod_affinity, raw, norm));
        }

        // NodeResourcesBalancedAllocation (skipped for best-effort pods).
        if i.requests.milli_cpu != 0 || i.requests.memory != 0 {
            let raw: Vec<i64> = feasible
                .iter()
                .map(|&ni| {
                    let n = &self.nodes[ni];
                    let a = &n.alloc.resources;
                    let mut fr = Vec::with_capacity(2);
                    for (req, alloc) in [
                        (n.requested.milli_cpu + i.requests.milli_cpu, a.milli_cpu),
                        (n.requested.memory + i.requests.memory, a.memory),
                    ] {
                        if alloc != 0 {
                            fr.push((req as f64 / alloc as f64).min(1.0));
                        }
                    }
                    let std = if fr.len() == 2 {
                        ((fr[0] - fr[1]) / 2.0).abs()
                    } else {
                        0.0
                    };
                    ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
                })
                .collect();
            plugins.push((
                "NodeResourcesBalancedAllocation",
                w.balanced_allocation,
                raw.clone(),
                raw,
            ));
        }

        // ImageLocality.
        let total_nodes = self.nodes.len().max(1) as f64;
        let raw: Vec<i64> = feasible
            .iter()
            .map(|&ni| {
                let n = &self.nodes[ni];
                let mut sum = 0i64;
                if self.image_nodes.is_empty() {
                    return 0;
                }
                for img in &inc.images {
                    if let Some(size) = n.images.get(img) {
                        let spread = *self.image_nodes.get(img).unwrap_or(&1) as f64 / total_nodes;
                        sum += (*size as f64 * spread) as i64;
                    }
                }
                sum
            })
            .collect();
        let norm = raw.iter().map(|s| image_priority(*s, inc.num_containers)).collect();
        plugins.push(("ImageLocality", w.image_locality, raw, norm));
        plugins
    }

    fn inter_pod_scores(&self, feasible: &[usize]) -> Vec<i64> {
        let i = &self.inc.info;
        // (topology key, per-domain score)
        let mut per_key: Vec<(Cow<'a, Topo>, Vec<i64>)> = Vec::new();
        let mut add = |topo: Cow<'a, Topo>, per_node: &[i64], mult: i64| {
            let agg = topo.aggregate(per_node);
            per_key.push((topo, agg.into_iter().map(|v| v * mult).collect()));
        };
        for (wt, t) in &i.preferred_affinity {
            let pn = self
                .index
                .counts(self.nodes, &vec![(t.namespaces.clone(), t.selector.clone())]);
            add(self.index.topo(self.nodes, &t.topology_key), &pn, *wt);
        }
        for (wt, t) in &i.preferred_anti {
            let pn = self
                .index
                .counts(self.nodes, &vec![(t.namespaces.clone(), t.selector.clone())]);
            add(self.index.topo(self.nodes, &t.topology_key), &pn, -*wt);
        }
        for g in self.index.owned.values() {
            let mult = match g.kind {
                OwnedKind::RequiredAnti => continue,
                OwnedKind::RequiredAffinity => 1,
                OwnedKind::PreferredAffinity => g.weight,
                OwnedKind::PreferredAnti => -g.weight,
            };
            if g.term.matches(&i.namespace, &i.labels) {
                add(self.index.topo(self.nodes, &g.term.topology_key), &g.per_node, mult);
            }
        }
        feasible
            .iter()
            .map(|&ni| {
                per_key
                    .iter()
                    .map(|(topo, agg)| {
                        let d = topo.node_domain[ni];
                        if d == NO_DOMAIN { 0 } else { agg[d as usize] }
                    })
                    .sum()
            })
            .collect()
    }

    fn soft_spread_scores(&self, feasible: &[usize]) -> (Vec<i64>, Vec<i64>) {
        let inc = self.inc;
        let i = &inc.info;
        let cons = &inc.soft_spread;
        let has_all = |n: &NodeInfo| cons.iter().all(|c| n.labels.contains_key(&c.topology_key));
        let ignored: Vec<bool> = feasible.iter().map(|&ni| !has_all(&self.nodes[ni])).collect();
        let scored = ignored.iter().filter(|x| !**x).count();
        let mut states: Vec<SoftSpread<'a>> = Vec::new();
        for c in cons {
            let topo = self.index.topo(self.nodes, &c.topology_key);
            let per_node = self.index.counts(
                self.nodes,
                &vec![(NsSet::List(vec![i.namespace.clone()]), c.selector.clone())],
            );
            let hostname = c.topology_key == "kubernetes.io/hostname";
            let mut present = vec![false; topo.domains];
            for (k, &ni) in feasible.iter().enumerate() {
                if !ignored[k] {
                    let d = topo.node_domain[ni];
                    if d != NO_DOMAIN {
                        present[d as usize] = true;
                    }
                }
            }
            let size = if hostname {
                scored
            } else {
                present.iter().filter(|p| **p).count()
            };
            let mut counts = vec![0i64; topo.domains];
            for (ni, n) in self.nodes.iter().enumerate() {
                if !has_all(n)
                    || (c.honor_node_affinity && !inc.node_affinity_matches(&n.labels, &n.name))
                    || (c.honor_taints && !hard_taints_tolerated(inc, n))
                {
                    continue;
                }
                let d = topo.node_domain[ni];
                if d != NO_DOMAIN && present[d as usize] {
                    counts[d as usize] += per_node[ni];
                }
            }
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
