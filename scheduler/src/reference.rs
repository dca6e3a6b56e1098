//! The straightforward scheduler used as the test oracle: every cycle rebuilds a snapshot
//! from the stored objects and runs kube-scheduler 1.34's plugins as plain loops over all
//! nodes and all placed pods (topology pairs in hash maps, no indexes, no caches, no early
//! exits inside plugins). Same profile, plugins, weights, normalization,
//! percentageOfNodesToScore, round-robin start index and seeded tie-break (consuming the
//! RNG exactly like [`crate::Scheduler`]), so both must place every pod identically.
//! Slow on purpose: use it in tests, not in the cluster.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cycle::reasons;
use crate::error::{FilterFailure, PreemptionNote, Unschedulable, fit_error};
use crate::nodeinfo::NodeInfo;
use crate::podinfo::{AffinityTerm, Incoming, PodInfo, SpreadConstraint, incoming, pod_info, pod_key};
use crate::profile::{Profile, ScoringStrategy, num_feasible_nodes_to_find};
use crate::selectors::{Labels, tolerated};
use crate::tiebreak::pick_tied;

const MAX_NODE_SCORE: i64 = 100;
type Pair = (String, String);

/// The reference (oracle) scheduler; same public surface as the core of [`crate::Scheduler`].
#[derive(Debug)]
pub struct ReferenceScheduler {
    profile: Profile,
    nodes: Vec<Node>,
    placed: HashMap<String, (String, Arc<PodInfo>)>,
    ns_labels: HashMap<String, Labels>,
    rng: StdRng,
    next_start: usize,
}

fn name_of(n: &Node) -> &str {
    n.metadata.name.as_deref().unwrap_or("")
}

impl ReferenceScheduler {
    /// Creates a reference scheduler over `nodes` (in this order) with no pods placed.
    pub fn new(nodes: Vec<Node>, profile: Profile) -> Self {
        let mut s = ReferenceScheduler {
            rng: StdRng::seed_from_u64(profile.seed),
            profile,
            nodes: Vec::new(),
            placed: HashMap::new(),
            ns_labels: HashMap::new(),
            next_start: 0,
        };
        for n in nodes {
            s.set_node(n);
        }
        s
    }

    /// Registers a namespace's labels (affects pods parsed afterwards).
    pub fn set_namespace_labels(&mut self, namespace: &str, labels: Labels) {
        self.ns_labels.insert(namespace.to_string(), labels);
    }

    /// Adds a node or replaces the node with the same name.
    pub fn set_node(&mut self, node: Node) {
        match self.nodes.iter().position(|n| name_of(n) == name_of(&node)) {
            Some(i) => self.nodes[i] = node,
            None => self.nodes.push(node),
        }
    }

    /// Removes a node; pods accounted on it stay known.
    pub fn remove_node(&mut self, name: &str) {
        if let Some(i) = self.nodes.iter().position(|n| name_of(n) == name) {
            self.nodes.remove(i);
            if self.next_start >= self.nodes.len() {
                self.next_start = 0;
            }
        }
    }

    /// Accounts `pod` on `node` (idempotent per pod key; moves the pod when the node differs).
    pub fn assume(&mut self, pod: &Pod, node: &str) {
        let key = pod_key(pod);
        if self.placed.get(&key).is_some_and(|(n, _)| n == node) {
            return;
        }
        let info = Arc::new(pod_info(pod, &self.ns_labels));
        self.placed.insert(key, (node.to_string(), info));
    }

    /// Forgets a placed pod.
    pub fn forget(&mut self, pod: &Pod) {
        self.placed.remove(&pod_key(pod));
    }

    /// Node a pod is accounted on.
    pub fn node_of(&self, pod: &Pod) -> Option<&str> {
        self.placed.get(&pod_key(pod)).map(|(n, _)| n.as_str())
    }

    /// The cache snapshot: node infos with their pods, in insertion order.
    fn snapshot(&self) -> Vec<NodeInfo> {
        let mut infos: Vec<NodeInfo> = self.nodes.iter().map(|n| NodeInfo::new(n.clone())).collect();
        // Deterministic pod order inside a node (only sums and "any" are taken anyway).
        let mut placed: Vec<(&String, &(String, Arc<PodInfo>))> = self.placed.iter().collect();
        placed.sort_by(|a, b| a.0.cmp(b.0));
        for (_, (node, info)) in placed {
            if let Some(n) = infos.iter_mut().find(|n| n.name == *node) {
                n.add_pod(info.clone());
            }
        }
        infos
    }

    /// kube-scheduler's nodeTree order: zones by first appearance, one node of each in turn.
    fn tree_order(nodes: &[NodeInfo]) -> Vec<usize> {
        let mut zones: Vec<String> = Vec::new();
        for n in nodes {
            if !zones.contains(&n.zone) {
                zones.push(n.zone.clone());
            }
        }
        let per_zone: Vec<Vec<usize>> = zones
            .iter()
            .map(|z| (0..nodes.len()).filter(|i| nodes[*i].zone == *z).collect())
            .collect();
        let mut order = Vec::new();
        let mut k = 0;
        while order.len() < nodes.len() {
            for v in &per_zone {
                if let Some(i) = v.get(k) {
                    order.push(*i);
                }
            }
            k += 1;
        }
        order
    }

    fn note(&self, pod: &Pod) -> PreemptionNote {
        if !self.profile.preemption_message {
            PreemptionNote::None
        } else if pod.spec.as_ref().and_then(|s| s.preemption_policy.as_deref()) == Some("Never") {
            PreemptionNote::NotEligible
        } else {
            PreemptionNote::NoVictims
        }
    }

    /// Picks a node for `pod` (without accounting it), or kube-scheduler's error.
    pub fn schedule(&mut self, pod: &Pod) -> Result<String, Unschedulable> {
        let inc = incoming(pod, &self.ns_labels);
        let nodes = self.snapshot();
        let n = nodes.len();
        if n == 0 {
            return Err(fit_error(0, &[], self.note(pod)));
        }
        let order = Self::tree_order(&nodes);
        let pre = PreFilter::new(&nodes, &inc);
        let to_find = num_feasible_nodes_to_find(self.profile.percentage_of_nodes_to_score, n);
        let mut feasible = Vec::new();
        let mut failures = Vec::new();
        for i in 0..n {
            if feasible.len() >= to_find {
                break;
            }
            let ni = order[(self.next_start + i) % n];
            match pre.filter(&nodes[ni]) {
                Ok(()) => feasible.push(ni),
                Err(f) => failures.push(f),
            }
        }
        let processed = feasible.len() + failures.len();
        if feasible.is_empty() {
            let refs: Vec<&FilterFailure> = failures.iter().collect();
            return Err(fit_error(n, &refs, self.note(pod)));
        }
        let pick = if feasible.len() == 1 {
            feasible[0]
        } else {
            let totals = scores(&nodes, &feasible, &inc, &self.profile);
            feasible[pick_tied(&totals, &mut self.rng)]
        };
        self.next_start = (self.next_start + processed) % n;
        Ok(nodes[pick].name.clone())
    }
}

fn hard_taints_tolerated(inc: &Incoming, n: &NodeInfo) -> bool {
    n.hard_taints.iter().all(|t| tolerated(&inc.tolerations, t))
}

fn pair(n: &NodeInfo, key: &str) -> Option<Pair> {
    n.labels.get(key).map(|v| (key.to_string(), v.clone()))
}

fn has_all_keys(n: &NodeInfo, cons: &[SpreadConstraint]) -> bool {
    cons.iter().all(|c| n.labels.contains_key(&c.topology_key))
}

fn included(inc: &Incoming, c: &SpreadConstraint, n: &NodeInfo) -> bool {
    (!c.honor_node_affinity || inc.node_affinity_matches(&n.labels, &n.name))
        && (!c.honor_taints || hard_taints_tolerated(inc, n))
}

fn matches_all(terms: &[AffinityTerm], p: &PodInfo) -> bool {
    terms.iter().all(|t| t.matches(&p.namespace, &p.labels))
}

/// PreFilter state of InterPodAffinity and PodTopologySpread, built by full scans.
struct PreFilter<'a> {
    inc: &'a Incoming,
    tolerates_unschedulable: bool,
    affinity_counts: HashMap<Pair, i64>,
    anti_counts: HashMap<Pair, i64>,
    existing_anti_counts: HashMap<Pair, i64>,
    /// Per hard constraint: domain value -> matching pods on eligible nodes.
    spread_counts: Vec<HashMap<String, i64>>,
}

impl<'a> PreFilter<'a> {
    fn new(nodes: &[NodeInfo], inc: &'a Incoming) -> Self {
        let unsched = Taint {
            key: "node.kubernetes.io/unschedulable".into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let i = &inc.info;
        let mut affinity_counts: HashMap<Pair, i64> = HashMap::new();
        let mut anti_counts: HashMap<Pair, i64> = HashMap::new();
        let mut existing_anti_counts: HashMap<Pair, i64> = HashMap::new();
        for n in nodes {
            for p in &n.pods {
                if !i.required_affinity.is_empty() && matches_all(&i.required_affinity, p) {
                    for t in &i.required_affinity {
                        if let Some(pr) = pair(n, &t.topology_key) {
                            *affinity_counts.entry(pr).or_default() += 1;
                        }
                    }
                }
                for t in &i.required_anti {
                    if t.matches(&p.namespace, &p.labels)
                        && let Some(pr) = pair(n, &t.topology_key)
                    {
                        *anti_counts.entry(pr).or_default() += 1;
                    }
                }
                for t in &p.required_anti {
                    if t.matches(&i.namespace, &i.labels)
                        && let Some(pr) = pair(n, &t.topology_key)
                    {
                        *existing_anti_counts.entry(pr).or_default() += 1;
                    }
                }
            }
        }
        let mut spread_counts = vec![HashMap::new(); inc.hard_spread.len()];
        for n in nodes {
            if !has_all_keys(n, &inc.hard_spread) {
                continue;
            }
            for (ci, c) in inc.hard_spread.iter().enumerate() {
                if !included(inc, c, n) {
                    continue;
                }
                let cnt = n
                    .pods
                    .iter()
                    .filter(|p| p.namespace == i.namespace && c.selector.matches(&p.labels))
                    .count() as i64;
                let v = n.labels.get(&c.topology_key).cloned().unwrap_or_default();
                *spread_counts[ci].entry(v).or_default() += cnt;
            }
        }
        PreFilter {
            inc,
            tolerates_unschedulable: tolerated(&inc.tolerations, &unsched),
            affinity_counts,
            anti_counts,
            existing_anti_counts,
            spread_counts,
        }
    }

    fn filter(&self, n: &NodeInfo) -> Result<(), FilterFailure> {
        let inc = self.inc;
        let i = &inc.info;
        if n.unschedulable && !self.tolerates_unschedulable {
            return Err(FilterFailure::new("NodeUnschedulable", reasons::UNSCHEDULABLE, true));
        }
        if let Some(want) = &inc.node_name
            && *want != n.name
        {
            return Err(FilterFailure::new("NodeName", reasons::NODE_NAME, true));
        }
        if let Some(t) = n.hard_taints.iter().find(|t| !tolerated(&inc.tolerations, t)) {
            let reason = format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t.key,
                t.value.as_deref().unwrap_or("")
            );
            return Err(FilterFailure::new("TaintToleration", &reason, true));
        }
        if !inc.node_affinity_matches(&n.labels, &n.name) {
            return Err(FilterFailure::new("NodeAffinity", reasons::NODE_AFFINITY, true));
        }
        for (ip, proto, port) in &i.host_ports {
            for p in &n.pods {
                for (ip2, proto2, port2) in &p.host_ports {
                    if port == port2 && proto == proto2 && (ip == "0.0.0.0" || ip2 == "0.0.0.0" || ip == ip2) {
                        return Err(FilterFailure::new("NodePorts", reasons::NODE_PORTS, false));
                    }
                }
            }
        }
        fit(n, &i.requests)?;
        for (ci, c) in inc.hard_spread.iter().enumerate() {
            let Some(value) = n.labels.get(&c.topology_key) else {
                return Err(FilterFailure::new("PodTopologySpread", reasons::SPREAD_LABEL, true));
            };
            let counts = &self.spread_counts[ci];
            let mut min = counts.values().copied().min().unwrap_or(i64::from(i32::MAX));
            if (counts.len() as i64) < c.min_domains {
                min = 0;
            }
            let self_match = i64::from(c.selector.matches(&i.labels));
            let skew = counts.get(value).copied().unwrap_or(0) + self_match - min;
            if skew > c.max_skew {
                return Err(FilterFailure::new("PodTopologySpread", reasons::SPREAD, false));
            }
        }
        if !i.required_affinity.is_empty() {
            let mut pods_exist = true;
            for t in &i.required_affinity {
                match pair(n, &t.topology_key) {
                    None => return Err(FilterFailure::new("InterPodAffinity", reasons::AFFINITY, true)),
                    Some(pr) => {
                        if self.affinity_counts.get(&pr).copied().unwrap_or(0) <= 0 {
                            pods_exist = false;
                        }
                    }
                }
            }
            let any = self.affinity_counts.values().any(|v| *v > 0);
            if !pods_exist && (any || !matches_all(&i.required_affinity, i)) {
                return Err(FilterFailure::new("InterPodAffinity", reasons::AFFINITY, true));
            }
        }
        for t in &i.required_anti {
            if let Some(pr) = pair(n, &t.topology_key)
                && self.anti_counts.get(&pr).copied().unwrap_or(0) > 0
            {
                return Err(FilterFailure::new("InterPodAffinity", reasons::ANTI_AFFINITY, false));
            }
        }
        for (k, v) in &n.labels {
            if self
                .existing_anti_counts
                .get(&(k.clone(), v.clone()))
                .copied()
                .unwrap_or(0)
                > 0
            {
                return Err(FilterFailure::new("InterPodAffinity", reasons::EXISTING_ANTI, false));
            }
        }
        Ok(())
    }
}

fn fit(n: &NodeInfo, req: &crate::resources::Resources) -> Result<(), FilterFailure> {
    let mut reasons: Vec<String> = Vec::new();
    let mut unresolvable = false;
    if n.pods.len() as i64 + 1 > n.alloc.pods {
        reasons.push("Too many pods".into());
    }
    if !req.is_zero() {
        let a = &n.alloc.resources;
        let u = &n.requested;
        let mut items = vec![
            ("cpu".to_string(), req.milli_cpu, a.milli_cpu, u.milli_cpu),
            ("memory".to_string(), req.memory, a.memory, u.memory),
            (
                "ephemeral-storage".to_string(),
                req.ephemeral_storage,
                a.ephemeral_storage,
                u.ephemeral_storage,
            ),
        ];
        for (name, q) in &req.scalar {
            items.push((name.clone(), *q, a.scalar(name), u.scalar(name)));
        }
        for (name, want, alloc, used) in items {
            if want > 0 && want > alloc - used {
                reasons.push(format!("Insufficient {name}"));
                unresolvable |= want > alloc;
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

/// Weighted total score of every feasible node.
fn scores(nodes: &[NodeInfo], feasible: &[usize], inc: &Incoming, profile: &Profile) -> Vec<i64> {
    let w = &profile.weights;
    let i = &inc.info;
    let mut totals = vec![0i64; feasible.len()];
    let mut add = |weight: i64, norm: Vec<i64>| {
        for (t, s) in totals.iter_mut().zip(norm) {
            *t += weight * s;
        }
    };

    // TaintToleration.
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
            nodes[ni]
                .prefer_taints
                .iter()
                .filter(|t| !tolerated(&prefer_tols, t))
                .count() as i64
        })
        .collect();
    add(w.taint_toleration, normalize(&raw, true));

    // NodeAffinity (preferred terms).
    let raw: Vec<i64> = feasible
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
        .collect();
    add(w.node_affinity, normalize(&raw, false));

    // NodeResourcesFit.
    let raw: Vec<i64> = feasible
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
                sum += match profile.scoring {
                    ScoringStrategy::LeastAllocated if req > alloc => 0,
                    ScoringStrategy::LeastAllocated => (alloc - req) * MAX_NODE_SCORE / alloc,
                    ScoringStrategy::MostAllocated => req.min(alloc) * MAX_NODE_SCORE / alloc,
                };
                count += 1;
            }
            if count == 0 { 0 } else { sum / count }
        })
        .collect();
    add(w.node_resources_fit, raw);

    // PodTopologySpread (ScheduleAnyway).
    if !inc.soft_spread.is_empty() {
        add(w.pod_topology_spread, soft_spread(nodes, feasible, inc));
    }

    // InterPodAffinity.
    add(w.inter_pod_affinity, inter_pod(nodes, feasible, inc));

    // NodeResourcesBalancedAllocation (not for best-effort pods).
    if i.requests.milli_cpu != 0 || i.requests.memory != 0 {
        let raw: Vec<i64> = feasible
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
            .collect();
        add(w.balanced_allocation, raw);
    }

    // ImageLocality.
    let mut image_nodes: HashMap<&str, usize> = HashMap::new();
    for n in nodes {
        for img in n.images.keys() {
            *image_nodes.entry(img.as_str()).or_default() += 1;
        }
    }
    let raw: Vec<i64> = feasible
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
        .collect();
    add(w.image_locality, raw);
    totals
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
