//! The reference scheduler's score plugins, each a plain loop over the feasible nodes (and
//! all placed pods where a plugin needs them), with kube-scheduler's normalization.

use std::collections::HashMap;

use super::{MAX_NODE_SCORE, Pair, has_all_keys, included, pair};
use crate::nodeinfo::NodeInfo;
use crate::podinfo::{AffinityTerm, Incoming, SpreadConstraint};
use crate::profile::{Profile, ScoringStrategy};
use crate::selectors::{Labels, tolerated};

/// `helper.DefaultNormalizeScore`.
fn normalize(raw: &[i64], reverse: bool) -> Vec<i64> {
    let max = raw.iter().copied().fold(0, i64::max);
    raw.iter()
        .map(|s| match (max, reverse) {
            (0, true) => MAX_NODE_SCORE,
            (0, false) => *s,
            (m, true) => MAX_NODE_SCORE - MAX_NODE_SCORE * s / m,
            (m, false) => MAX_NODE_SCORE * s / m,
        })
        .collect()
}

/// Weighted total score of every feasible node: each score plugin's normalized scores
/// times its weight, summed.
pub(super) fn scores(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming, profile: &Profile) -> Vec<i64> {
    let w = &profile.weights;
    let i = &inc.info;
    let mut totals = vec![0i64; feasible.len()];
    let mut add = |weight: i64, norm: Vec<i64>| {
        for (t, s) in totals.iter_mut().zip(norm) {
            *t += weight * s;
        }
    };
    add(
        w.taint_toleration,
        normalize(&taint_toleration(nodes, feasible, inc), true),
    );
    add(w.node_affinity, normalize(&node_affinity(nodes, feasible, inc), false));
    add(
        w.node_resources_fit,
        resources_fit(nodes, feasible, inc, profile.scoring),
    );
    // PodTopologySpread (ScheduleAnyway).
    if !inc.soft_spread.is_empty() {
        add(w.pod_topology_spread, soft_spread(nodes, feasible, inc));
    }
    add(w.inter_pod_affinity, inter_pod(nodes, feasible, inc));
    // NodeResourcesBalancedAllocation (not for best-effort pods).
    if i.requests.milli_cpu != 0 || i.requests.memory != 0 {
        add(w.balanced_allocation, balanced_allocation(nodes, feasible, inc));
    }
    add(w.image_locality, image_locality(nodes, feasible, inc));
    totals
}

/// TaintToleration raw scores: intolerated PreferNoSchedule taints per node.
fn taint_toleration(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming) -> Vec<i64> {
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
    feasible
        .iter()
        .map(|&ni| {
            nodes[ni]
                .prefer_taints
                .iter()
                .filter(|t| !tolerated(&prefer_tols, t))
                .count() as i64
        })
        .collect()
}

/// NodeAffinity raw scores: summed weights of the matching preferred terms.
fn node_affinity(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming) -> Vec<i64> {
    feasible
        .iter()
        .map(|&ni| {
            let n = &nodes[ni];
            let mut s = 0;
            for (wt, t) in &inc.preferred_node_terms {
                if t.matches(&n.labels, &n.name) {
                    s += wt;
                }
            }
            s
        })
        .collect()
}

/// NodeResourcesFit scores (already 0-100): Least/MostAllocated over cpu and memory.
fn resources_fit(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming, scoring: ScoringStrategy) -> Vec<i64> {
    let i = &inc.info;
    feasible
        .iter()
        .map(|&ni| {
            let n = &nodes[ni];
            let a = &n.alloc.resources;
            let mut sum = 0;
            let mut count = 0;
            for (req, alloc) in [
                (n.nonzero_cpu + i.nonzero_cpu, a.milli_cpu),
                (n.nonzero_memory + i.nonzero_memory, a.memory),
            ] {
                if alloc == 0 {
                    continue;
                }
                sum += match scoring {
                    ScoringStrategy::LeastAllocated if req > alloc => 0,
                    ScoringStrategy::LeastAllocated => (alloc - req) * MAX_NODE_SCORE / alloc,
                    ScoringStrategy::MostAllocated => req.min(alloc) * MAX_NODE_SCORE / alloc,
                };
                count += 1;
            }
            if count == 0 { 0 } else { sum / count }
        })
        .collect()
}

/// NodeResourcesBalancedAllocation scores (already 0-100).
fn balanced_allocation(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming) -> Vec<i64> {
    let i = &inc.info;
    feasible
        .iter()
        .map(|&ni| {
            let n = &nodes[ni];
            let a = &n.alloc.resources;
            let mut fractions = Vec::new();
            for (req, alloc) in [
                (n.requested.milli_cpu + i.requests.milli_cpu, a.milli_cpu),
                (n.requested.memory + i.requests.memory, a.memory),
            ] {
                if alloc != 0 {
                    fractions.push((req as f64 / alloc as f64).min(1.0));
                }
            }
            let std = if fractions.len() == 2 {
                ((fractions[0] - fractions[1]) / 2.0).abs()
            } else {
                0.0
            };
            ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
        })
        .collect()
}

/// ImageLocality scores (already 0-100).
fn image_locality(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming) -> Vec<i64> {
    let mut image_nodes: HashMap<&str, usize> = HashMap::new();
    for n in nodes {
        for img in n.images.keys() {
            *image_nodes.entry(img.as_str()).or_default() += 1;
        }
    }
    feasible
        .iter()
        .map(|&ni| {
            let mut sum = 0i64;
            for img in &inc.images {
                if let Some(size) = nodes[ni].images.get(img) {
                    let spread = image_nodes[img.as_str()] as f64 / nodes.len() as f64;
                    sum += (*size as f64 * spread) as i64;
                }
            }
            image_score(sum, inc.num_containers)
        })
        .collect()
}

fn image_score(sum: i64, containers: usize) -> i64 {
    const MB: i64 = 1024 * 1024;
    let (min, max) = (23 * MB, 1000 * MB * containers.max(1) as i64);
    MAX_NODE_SCORE * (sum.clamp(min, max) - min) / (max - min)
}

fn soft_spread(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming) -> Vec<i64> {
    let cons = &inc.soft_spread;
    let i = &inc.info;
    let ignored: Vec<bool> = feasible.iter().map(|&ni| !has_all_keys(&nodes[ni], cons)).collect();
    let scored_nodes = ignored.iter().filter(|x| !**x).count();
    // Domains present among the scored feasible nodes, per constraint.
    let mut counts: Vec<HashMap<String, i64>> = vec![HashMap::new(); cons.len()];
    for (k, &ni) in feasible.iter().enumerate() {
        if ignored[k] {
            continue;
        }
        for (ci, c) in cons.iter().enumerate() {
            if c.topology_key != "kubernetes.io/hostname" {
                let v = nodes[ni].labels[&c.topology_key].clone();
                counts[ci].insert(v, 0);
            }
        }
    }
    let weights: Vec<f64> = cons
        .iter()
        .enumerate()
        .map(|(ci, c)| {
            let size = if c.topology_key == "kubernetes.io/hostname" {
                scored_nodes
            } else {
                counts[ci].len()
            };
            ((size + 2) as f64).ln()
        })
        .collect();
    let matching = |n: &NodeInfo, c: &SpreadConstraint| {
        n.pods
            .iter()
            .filter(|p| p.namespace == i.namespace && c.selector.matches(&p.labels))
            .count() as i64
    };
    for n in nodes {
        if !has_all_keys(n, cons) {
            continue;
        }
        for (ci, c) in cons.iter().enumerate() {
            if !included(inc, c, n) {
                continue;
            }
            if let Some(slot) = counts[ci].get_mut(&n.labels[&c.topology_key]) {
                *slot += matching(n, c);
            }
        }
    }
    let raw: Vec<i64> = feasible
        .iter()
        .enumerate()
        .map(|(k, &ni)| {
            if ignored[k] {
                return 0;
            }
            let n = &nodes[ni];
            let mut score = 0.0;
            for (ci, c) in cons.iter().enumerate() {
                let cnt = if c.topology_key == "kubernetes.io/hostname" {
                    matching(n, c)
                } else {
                    counts[ci][&n.labels[&c.topology_key]]
                };
                score += cnt as f64 * weights[ci] + (c.max_skew - 1) as f64;
            }
            score.round() as i64
        })
        .collect();
    let mut min = i64::MAX;
    let mut max = 0;
    for (k, s) in raw.iter().enumerate() {
        if !ignored[k] {
            min = min.min(*s);
            max = max.max(*s);
        }
    }
    raw.iter()
        .enumerate()
        .map(|(k, s)| {
            if ignored[k] {
                0
            } else if max == 0 {
                MAX_NODE_SCORE
            } else {
                MAX_NODE_SCORE * (max + min - s) / max
            }
        })
        .collect()
}

fn inter_pod(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming) -> Vec<i64> {
    let i = &inc.info;
    let mut pairs: HashMap<Pair, i64> = HashMap::new();
    let mut bump = |n: &NodeInfo, t: &AffinityTerm, w: i64, pods_ns: &str, labels: &Labels| {
        if t.matches(pods_ns, labels)
            && let Some(pr) = pair(n, &t.topology_key)
        {
            *pairs.entry(pr).or_default() += w;
        }
    };
    for n in nodes {
        for p in &n.pods {
            for (w, t) in &i.preferred_affinity {
                bump(n, t, *w, &p.namespace, &p.labels);
            }
            for (w, t) in &i.preferred_anti {
                bump(n, t, -*w, &p.namespace, &p.labels);
            }
            for t in &p.required_affinity {
                bump(n, t, 1, &i.namespace, &i.labels);
            }
            for (w, t) in &p.preferred_affinity {
                bump(n, t, *w, &i.namespace, &i.labels);
            }
            for (w, t) in &p.preferred_anti {
                bump(n, t, -*w, &i.namespace, &i.labels);
            }
        }
    }
    let raw: Vec<i64> = feasible
        .iter()
        .map(|&ni| {
            nodes[ni]
                .labels
                .iter()
                .map(|(k, v)| pairs.get(&(k.clone(), v.clone())).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let min = raw.iter().copied().min().unwrap_or(0);
    let max = raw.iter().copied().max().unwrap_or(0);
    raw.iter()
        .map(|s| {
            if max > min {
                (MAX_NODE_SCORE as f64 * ((s - min) as f64 / (max - min) as f64)) as i64
            } else {
                0
            }
        })
        .collect()
}
