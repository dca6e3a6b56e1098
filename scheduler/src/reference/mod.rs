//! The straightforward scheduler used as the test oracle: every cycle rebuilds a snapshot
//! from the stored objects and runs kube-scheduler 1.34's plugins as plain loops over all
//! nodes and all placed pods (topology pairs in hash maps, no indexes, no caches, no early
//! exits inside plugins). Same profile, plugins, weights, normalization,
//! percentageOfNodesToScore, round-robin start index and seeded tie-break (consuming the
//! RNG exactly like [`crate::Scheduler`]), so both must place every pod identically.
//! Slow on purpose: use it in tests, not in the cluster.
//!
//! The scheduler, its snapshot and the filter plugins are here; the score plugins are in
//! `score`.

use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod, Taint};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cycle::reasons;
use crate::error::{FilterFailure, PreemptionNote, Unschedulable, fit_error};
use crate::nodeinfo::NodeInfo;
use crate::podinfo::{AffinityTerm, Incoming, PodInfo, SpreadConstraint, incoming, pod_info, pod_key};
use crate::profile::{Profile, num_feasible_nodes_to_find};
use crate::selectors::{Labels, tolerated};
use crate::tiebreak::pick_tied;
use score::scores;

mod score;

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
