//! Incremental indexes for inter-pod affinity and topology spread: per-node counts of
//! pods matching a selector, existing pods' affinity terms grouped by term, and
//! interned topology domains per topology key.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::nodeinfo::NodeInfo;
use crate::podinfo::{AffinityTerm, NsSet, PodInfo};
use crate::selectors::{Labels, Selector};

/// A conjunction of (namespaces, selector) pairs a pod must all match.
pub type Conj = Vec<(NsSet, Selector)>;

/// Signature of a conjunction, used as a cache key.
pub fn conj_signature(c: &Conj) -> String {
    let mut s = String::new();
    for (ns, sel) in c {
        s.push_str(&format!("{ns:?}|{}&", sel.signature()));
    }
    s
}

fn conj_matches(c: &Conj, ns: &str, labels: &Labels) -> bool {
    c.iter().all(|(n, s)| n.contains(ns) && s.matches(labels))
}

/// Kind of a term owned by an already placed pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OwnedKind {
    /// requiredDuringScheduling pod affinity (scored with hardPodAffinityWeight 1).
    RequiredAffinity,
    /// requiredDuringScheduling pod anti-affinity (filters incoming pods).
    RequiredAnti,
    /// preferred pod affinity.
    PreferredAffinity,
    /// preferred pod anti-affinity.
    PreferredAnti,
}

/// All placed pods carrying the same term, counted per node.
#[derive(Debug, Clone)]
pub struct OwnedGroup {
    /// Kind of term.
    pub kind: OwnedKind,
    /// The term (namespaces resolved relative to the owning pod).
    pub term: AffinityTerm,
    /// Term weight (1 for required terms).
    pub weight: i64,
    /// Number of owning pods per node index.
    pub per_node: Vec<i64>,
    /// Total number of owning pods.
    pub total: i64,
}

/// Topology domains of one key: node index -> domain id (`u32::MAX` when unlabeled).
#[derive(Debug, Clone)]
pub struct Topo {
    /// Domain of each node.
    pub node_domain: Vec<u32>,
    /// Number of distinct domains.
    pub domains: usize,
}

/// Sentinel for "node has no such label".
pub const NO_DOMAIN: u32 = u32::MAX;

impl Topo {
    /// Interns the values of `key` over `nodes`.
    pub fn build(nodes: &[NodeInfo], key: &str) -> Topo {
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let node_domain = nodes
            .iter()
            .map(|n| match n.labels.get(key) {
                Some(v) => {
                    let next = ids.len() as u32;
                    *ids.entry(v.as_str()).or_insert(next)
                }
                None => NO_DOMAIN,
            })
            .collect();
        Topo {
            node_domain,
            domains: ids.len(),
        }
    }

    /// Sums per-node values into per-domain values.
    pub fn aggregate(&self, per_node: &[i64]) -> Vec<i64> {
        let mut out = vec![0; self.domains];
        for (d, v) in self.node_domain.iter().zip(per_node) {
            if *d != NO_DOMAIN {
                out[*d as usize] += *v;
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
struct SelEntry {
    conj: Conj,
    per_node: Vec<i64>,
}

/// The incremental index.
#[derive(Debug, Clone, Default)]
pub struct Index {
    selectors: HashMap<String, SelEntry>,
    /// Groups of placed pods' terms, by signature.
    pub owned: HashMap<String, OwnedGroup>,
    topo: HashMap<String, Topo>,
}

fn owned_terms(pod: &PodInfo) -> Vec<(OwnedKind, &AffinityTerm, i64)> {
    let mut v = Vec::new();
    v.extend(
        pod.required_affinity
            .iter()
            .map(|t| (OwnedKind::RequiredAffinity, t, 1)),
    );
    v.extend(pod.required_anti.iter().map(|t| (OwnedKind::RequiredAnti, t, 1)));
    v.extend(
        pod.preferred_affinity
            .iter()
            .map(|(w, t)| (OwnedKind::PreferredAffinity, t, *w)),
    );
    v.extend(
        pod.preferred_anti
            .iter()
            .map(|(w, t)| (OwnedKind::PreferredAnti, t, *w)),
    );
    v
}

impl Index {
    /// Forgets node-layout dependent caches (call after nodes are added/removed/relabeled).
    pub fn clear_topology(&mut self) {
        self.topo.clear();
    }

    /// Interned domains for `key`, cached or computed.
    pub fn topo<'a>(&'a self, nodes: &[NodeInfo], key: &str) -> Cow<'a, Topo> {
        match self.topo.get(key) {
            Some(t) => Cow::Borrowed(t),
            None => Cow::Owned(Topo::build(nodes, key)),
        }
    }

    /// Makes sure the domains of `key` are cached.
    pub fn warm_topo(&mut self, nodes: &[NodeInfo], key: &str) {
        if !self.topo.contains_key(key) {
            self.topo.insert(key.to_string(), Topo::build(nodes, key));
        }
    }

    fn count(nodes: &[NodeInfo], conj: &Conj) -> Vec<i64> {
        nodes
            .iter()
            .map(|n| {
                n.pods
                    .iter()
                    .filter(|p| conj_matches(conj, &p.namespace, &p.labels))
                    .count() as i64
            })
            .collect()
    }

    /// Per-node number of placed pods matching every pair of `conj`, cached or computed.
    pub fn counts<'a>(&'a self, nodes: &[NodeInfo], conj: &Conj) -> Cow<'a, [i64]> {
        match self.selectors.get(&conj_signature(conj)) {
            Some(e) => Cow::Borrowed(&e.per_node),
            None => Cow::Owned(Self::count(nodes, conj)),
        }
    }

    /// Makes sure the counts for `conj` are cached and maintained from now on.
    pub fn warm_counts(&mut self, nodes: &[NodeInfo], conj: &Conj) {
        let sig = conj_signature(conj);
        if let std::collections::hash_map::Entry::Vacant(v) = self.selectors.entry(sig) {
            v.insert(SelEntry {
                conj: conj.clone(),
                per_node: Self::count(nodes, conj),
            });
        }
    }

    /// Accounts a pod placed on node `idx` (delta +1) or removed from it (delta -1).
    pub fn update_pod(&mut self, pod: &PodInfo, idx: usize, delta: i64, num_nodes: usize) {
        for e in self.selectors.values_mut() {
            if conj_matches(&e.conj, &pod.namespace, &pod.labels) {
                e.per_node[idx] += delta;
            }
        }
        for (kind, term, weight) in owned_terms(pod) {
            let sig = format!("{kind:?}|{weight}|{}|{}", term.topology_key, term.selector_signature());
            let g = self.owned.entry(sig.clone()).or_insert_with(|| OwnedGroup {
                kind,
                term: term.clone(),
                weight,
                per_node: vec![0; num_nodes],
                total: 0,
            });
            g.per_node[idx] += delta;
            g.total += delta;
            if g.total <= 0 {
                self.owned.remove(&sig);
            }
        }
    }

    /// A node was appended at the end of the node list.
    pub fn push_node(&mut self) {
        for e in self.selectors.values_mut() {
            e.per_node.push(0);
        }
        for g in self.owned.values_mut() {
            g.per_node.push(0);
        }
        self.topo.clear();
    }

    /// The node at `idx` was removed (its pods are no longer counted).
    pub fn remove_node(&mut self, idx: usize) {
        for e in self.selectors.values_mut() {
            e.per_node.remove(idx);
        }
        for g in self.owned.values_mut() {
            let c = g.per_node.remove(idx);
            g.total -= c;
        }
        self.owned.retain(|_, g| g.total > 0);
        self.topo.clear();
    }
}
