//! The score plugins of a cycle with their normalization: TaintToleration, NodeAffinity,
//! NodeResourcesFit, PodTopologySpread, InterPodAffinity, BalancedAllocation, ImageLocality.

use std::borrow::Cow;

use super::{Cycle, MAX_NODE_SCORE, SoftSpread, domain_counts, node_counts, spread_conj, spread_counts, term_conj};
use crate::explain::PluginScore;
use crate::index::{NO_DOMAIN, OwnedKind, Topo};
use crate::nodeinfo::{HOT_PREFER_TAINTS, Hot, NodeInfo, ScoreMemo};
use crate::profile::ScoringStrategy;
use crate::selectors::tolerated;

impl<'a> Cycle<'a> {
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
