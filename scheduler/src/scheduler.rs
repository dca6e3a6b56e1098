//! The `Scheduler`: an incremental cluster snapshot (nodes + placed pods) and the
//! scheduling loop: filter from a round-robin start index until enough feasible nodes
//! are found, score them, pick the best with a seeded tie-break.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{Node, Pod};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::cycle::{Cycle, View, needed};
use crate::error::{FilterFailure, PreemptionNote, Unschedulable, fit_error};
use crate::explain::{Explanation, NodeExplanation};
use crate::index::Index;
use crate::nodeinfo::{Hot, NodeInfo, ScoreMemo};
use crate::podinfo::{Incoming, PodInfo, incoming, pod_info, pod_key};
use crate::profile::{Profile, num_feasible_nodes_to_find};
use crate::selectors::Labels;
use crate::tiebreak::pick_tied;

/// An incremental kube-scheduler: nodes, placed pods' usage, and a seeded tie-break RNG.
#[derive(Debug)]
pub struct Scheduler {
    profile: Profile,
    nodes: Vec<NodeInfo>,
    by_name: HashMap<String, usize>,
    order: Vec<usize>,
    placed: HashMap<String, (String, Arc<PodInfo>)>,
    ns_labels: HashMap<String, Labels>,
    image_nodes: HashMap<String, usize>,
    rng: StdRng,
    next_start: usize,
    index: Index,
    bulk: bool,
    /// Number of nodes with NoSchedule/NoExecute taints.
    tainted: usize,
    /// Dense per-node numbers read by the filter/score loops (same indexes as `nodes`).
    hot: Vec<Hot>,
    /// Per-node score memo (reset whenever the node's hot numbers change).
    memo: Vec<Cell<ScoreMemo>>,
    /// Per node-affinity signature (nodeSelector + required terms): per-node verdicts
    /// (0 unknown, 1 match, 2 no match), filled lazily; cleared when nodes change.
    affinity_memo: HashMap<String, Vec<Cell<u8>>>,
}

impl Scheduler {
    /// Creates a scheduler over `nodes` (in this order) with no pods placed.
    pub fn new(nodes: Vec<Node>, profile: Profile) -> Self {
        let mut s = Scheduler {
            rng: StdRng::seed_from_u64(profile.seed),
            profile,
            nodes: Vec::new(),
            by_name: HashMap::new(),
            order: Vec::new(),
            placed: HashMap::new(),
            ns_labels: HashMap::new(),
            image_nodes: HashMap::new(),
            next_start: 0,
            index: Index::default(),
            bulk: false,
            tainted: 0,
            hot: Vec::new(),
            memo: Vec::new(),
            affinity_memo: HashMap::new(),
        };
        s.bulk = true;
        for n in nodes {
            s.set_node(n);
        }
        s.bulk = false;
        s.rebuild_order();
        s
    }

    /// The profile in use.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Names of the known nodes, in insertion order.
    pub fn node_names(&self) -> impl Iterator<Item = &str> {
        self.nodes.iter().map(|n| n.name.as_str())
    }

    /// Node a pod (by uid or namespace/name) is accounted on, if any.
    pub fn node_of(&self, pod: &Pod) -> Option<&str> {
        self.placed.get(&pod_key(pod)).map(|(n, _)| n.as_str())
    }

    /// Number of pods accounted on `node` and its requested cpu (millicores) / memory (bytes).
    pub fn node_usage(&self, node: &str) -> Option<(usize, i64, i64)> {
        let n = &self.nodes[*self.by_name.get(node)?];
        Some((n.pods.len(), n.requested.milli_cpu, n.requested.memory))
    }

    /// Registers a namespace's labels (used by affinity terms' namespaceSelector).
    /// Affects pods parsed afterwards.
    pub fn set_namespace_labels(&mut self, namespace: &str, labels: Labels) {
        self.ns_labels.insert(namespace.to_string(), labels);
    }

    fn image_count(&mut self, n: &NodeInfo, delta: isize) {
        for img in n.images.keys() {
            let c = self.image_nodes.entry(img.clone()).or_default();
            *c = c.saturating_add_signed(delta);
            if *c == 0 {
                self.image_nodes.remove(img);
            }
        }
    }

    fn rebuild_order(&mut self) {
        if self.bulk {
            return;
        }
        // kube-scheduler's nodeTree: round-robin across zones, zones in order of appearance.
        let mut zones: Vec<(&str, Vec<usize>)> = Vec::new();
        for (i, n) in self.nodes.iter().enumerate() {
            match zones.iter_mut().find(|(z, _)| *z == n.zone) {
                Some((_, v)) => v.push(i),
                None => zones.push((&n.zone, vec![i])),
            }
        }
        let mut order = Vec::with_capacity(self.nodes.len());
        let mut k = 0;
        while order.len() < self.nodes.len() {
            for (_, v) in &zones {
                if let Some(i) = v.get(k) {
                    order.push(*i);
                }
            }
            k += 1;
        }
        self.order = order;
    }

    fn refresh(&mut self, idx: usize) {
        self.hot[idx] = Hot::of(&self.nodes[idx]);
        self.memo[idx].set(ScoreMemo::EMPTY);
    }

    /// Adds a node or replaces the node with the same name (pods on it stay accounted).
    pub fn set_node(&mut self, node: Node) {
        self.affinity_memo.clear();
        let mut info = NodeInfo::new(node);
        self.image_count(&info, 1);
        self.tainted += usize::from(!info.hard_taints.is_empty());
        match self.by_name.get(&info.name).copied() {
            Some(idx) => {
                let old = std::mem::replace(&mut self.nodes[idx], NodeInfo::new(Node::default()));
                self.image_count(&old, -1);
                self.tainted -= usize::from(!old.hard_taints.is_empty());
                let relabeled = old.labels != info.labels;
                let rezoned = old.zone != info.zone;
                for p in old.pods {
                    info.add_pod(p);
                }
                self.nodes[idx] = info;
                self.refresh(idx);
                if relabeled {
                    self.index.clear_topology();
                }
                if rezoned {
                    self.rebuild_order();
                }
            }
            None => {
                let idx = self.nodes.len();
                let name = info.name.clone();
                let orphans: Vec<Arc<PodInfo>> = self
                    .placed
                    .values()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, p)| p.clone())
                    .collect();
                self.by_name.insert(name, idx);
                self.nodes.push(info);
                self.index.push_node();
                for p in orphans {
                    self.index.update_pod(&p, idx, 1, self.nodes.len());
                    self.nodes[idx].add_pod(p);
                }
                self.hot.push(Hot::of(&self.nodes[idx]));
                self.memo.push(Cell::new(ScoreMemo::EMPTY));
                self.rebuild_order();
            }
        }
    }

    /// Removes a node. Pods accounted on it stay known (and come back if the node returns).
    pub fn remove_node(&mut self, name: &str) {
        self.affinity_memo.clear();
        let Some(idx) = self.by_name.remove(name) else {
            return;
        };
        let old = self.nodes.remove(idx);
        self.hot.remove(idx);
        self.memo.remove(idx);
        self.image_count(&old, -1);
        self.tainted -= usize::from(!old.hard_taints.is_empty());
        self.index.remove_node(idx);
        for v in self.by_name.values_mut() {
            if *v > idx {
                *v -= 1;
            }
        }
        self.rebuild_order();
        if self.next_start >= self.nodes.len() {
            self.next_start = 0;
        }
    }

    /// Accounts `pod` as placed on `node`. Idempotent per pod uid (or namespace/name);
    /// a pod assumed again on another node moves there.
    pub fn assume(&mut self, pod: &Pod, node: &str) {
        let key = pod_key(pod);
        if let Some((on, _)) = self.placed.get(&key) {
            if on == node {
                return;
            }
            self.forget(pod);
        }
        let info = Arc::new(pod_info(pod, &self.ns_labels));
        if let Some(&idx) = self.by_name.get(node) {
            self.index.update_pod(&info, idx, 1, self.nodes.len());
            self.nodes[idx].add_pod(info.clone());
            self.refresh(idx);
        }
        self.placed.insert(key, (node.to_string(), info));
    }

    /// Forgets a placed pod (deleted or failed) and frees its resources.
    pub fn forget(&mut self, pod: &Pod) {
        let key = pod_key(pod);
        let Some((node, info)) = self.placed.remove(&key) else {
            return;
        };
        if let Some(&idx) = self.by_name.get(&node)
            && self.nodes[idx].remove_pod(&key).is_some()
        {
            self.index.update_pod(&info, idx, -1, self.nodes.len());
            self.refresh(idx);
        }
    }

    fn warm(&mut self, inc: &Incoming) {
        for (conj, key) in needed(inc) {
            self.index.warm_domains(&self.nodes, &conj, &key);
        }
        self.index.warm_owned(&self.nodes);
    }

    fn untainted(&self) -> bool {
        self.nodes.iter().all(|n| n.hard_taints.is_empty())
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

    /// Picks a node for `pod` without binding it (call [`Scheduler::assume`] to account it).
    /// The error carries kube-scheduler's message.
    pub fn schedule(&mut self, pod: &Pod) -> Result<String, Unschedulable> {
        let inc = incoming(pod, &self.ns_labels);
        self.warm(&inc);
        let n = self.nodes.len();
        if n == 0 {
            return Err(fit_error(0, &[], self.note(pod)));
        }
        let to_find = num_feasible_nodes_to_find(self.profile.percentage_of_nodes_to_score, n);
        let affinity_memo = if inc.node_selector.is_empty() && inc.required_node_terms.is_none() {
            None
        } else {
            const MAX_SIGNATURES: usize = 64;
            if self.affinity_memo.len() >= MAX_SIGNATURES {
                self.affinity_memo.clear();
            }
            let sig = format!("{:?}|{:?}", inc.node_selector, inc.required_node_terms);
            let m = self.affinity_memo.entry(sig).or_insert_with(|| vec![Cell::new(0); n]);
            Some(m.as_slice())
        };
        let view = View {
            nodes: &self.nodes,
            index: &self.index,
            image_nodes: &self.image_nodes,
            hot: &self.hot,
            memo: Some(&self.memo),
            affinity_memo,
            untainted: self.tainted == 0,
        };
        let cycle = Cycle::new(view, &self.profile, &inc);
        let mut feasible: Vec<usize> = Vec::with_capacity(to_find);
        // kube-scheduler stops filtering once numFeasibleNodesToFind nodes passed.
        let mut processed = 0;
        let (first, second) = self.order.split_at(self.next_start.min(n));
        for &ni in second.iter().chain(first) {
            if feasible.len() >= to_find {
                break;
            }
            processed += 1;
            if cycle.feasible(ni) {
                feasible.push(ni);
            }
        }
        if feasible.is_empty() {
            // Every node was visited and failed: now build the per-node reasons.
            let failures: Vec<FilterFailure> = self.order.iter().filter_map(|&ni| cycle.filter(ni).err()).collect();
            let refs: Vec<&FilterFailure> = failures.iter().collect();
            return Err(fit_error(n, &refs, self.note(pod)));
        }
        let pick = if feasible.len() == 1 {
            feasible[0]
        } else {
            let totals = cycle.totals(&feasible);
            feasible[pick_tied(&totals, &mut self.rng)]
        };
        self.next_start = (self.next_start + processed) % n;
        Ok(self.nodes[pick].name.clone())
    }

    /// Per-node filter verdicts and score breakdown for `pod` over all nodes
    /// (ignoring percentageOfNodesToScore). Does not change the scheduler's state.
    pub fn explain(&self, pod: &Pod) -> Explanation {
        let inc = incoming(pod, &self.ns_labels);
        let view = View {
            nodes: &self.nodes,
            index: &self.index,
            image_nodes: &self.image_nodes,
            hot: &self.hot,
            memo: None,
            affinity_memo: None,
            untainted: self.untainted(),
        };
        let cycle = Cycle::new(view, &self.profile, &inc);
        let mut feasible = Vec::new();
        let mut verdicts: Vec<(usize, Option<FilterFailure>)> = Vec::new();
        for &ni in &self.order {
            let v = cycle.filter(ni).err();
            if v.is_none() {
                feasible.push(ni);
            }
            verdicts.push((ni, v));
        }
        let scored = cycle.score(&feasible);
        let mut by_node: HashMap<usize, (Vec<crate::explain::PluginScore>, i64)> =
            feasible.iter().copied().zip(scored).collect();
        let best_total = by_node.values().map(|(_, t)| *t).max();
        let mut best = Vec::new();
        let mut nodes = Vec::new();
        for (ni, failure) in verdicts {
            let (scores, total) = by_node.remove(&ni).unwrap_or_default();
            if failure.is_none() && Some(total) == best_total {
                best.push(self.nodes[ni].name.clone());
            }
            nodes.push(NodeExplanation {
                node: self.nodes[ni].name.clone(),
                failure,
                scores,
                total,
            });
        }
        let error = if feasible.is_empty() {
            let refs: Vec<&FilterFailure> = nodes.iter().filter_map(|n| n.failure.as_ref()).collect();
            Some(fit_error(self.nodes.len(), &refs, self.note(pod)).message)
        } else {
            None
        };
        Explanation {
            pod: inc.display,
            nodes,
            best,
            error,
        }
    }
}
