//! Incremental indexes for inter-pod affinity and topology spread: per-node counts of
//! pods matching a selector, existing pods' affinity terms grouped by term, and
//! interned topology domains per topology key, plus per-domain sums of those counts
//! (kept up to date on assume/forget) so a cycle never has to loop over all nodes.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

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
    /// Owning pods per domain of `term.topology_key` (`None` until warmed).
    pub per_domain: Option<Vec<i64>>,
}

/// Topology domains of one key: node index -> domain id (`u32::MAX` when unlabeled).
#[derive(Debug, Clone)]
pub struct Topo {
    /// Domain of each node.
    pub node_domain: Vec<u32>,
    /// Number of distinct domains.
    pub domains: usize,
    /// Number of nodes carrying the key.
    pub labeled: usize,
}

/// Sentinel for "node has no such label".
pub const NO_DOMAIN: u32 = u32::MAX;

impl Topo {
    /// Interns the values of `key` over `nodes`.
    pub fn build(nodes: &[NodeInfo], key: &str) -> Topo {
        let mut ids: HashMap<&str, u32> = HashMap::new();
        let mut labeled = 0;
        let node_domain = nodes
            .iter()
            .map(|n| match n.labels.get(key) {
                Some(v) => {
                    labeled += 1;
                    let next = ids.len() as u32;
                    *ids.entry(v.as_str()).or_insert(next)
                }
                None => NO_DOMAIN,
            })
            .collect();
        Topo {
            node_domain,
            domains: ids.len(),
            labeled,
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
    /// Topology key -> per-domain sums of `per_node`.
    per_domain: HashMap<String, Vec<i64>>,
}

/// Label key -> value -> pod key -> (node index, pod): the placed pods carrying each label.
type PodsByLabel = HashMap<String, HashMap<String, HashMap<String, (usize, Arc<PodInfo>)>>>;

/// The incremental index.
#[derive(Debug, Clone, Default)]
pub struct Index {
    selectors: HashMap<String, SelEntry>,
    /// Label key -> value -> signatures of cached conjunctions whose first selector
    /// requires that label (so a placed pod only visits conjunctions it may match).
    sel_by_label: HashMap<String, HashMap<String, Vec<String>>>,
    /// Signatures of cached conjunctions without such a requirement (checked for every pod).
    sel_unindexed: Vec<String>,
    /// Placed pods by label, to count a new conjunction without scanning every pod.
    pods_by_label: PodsByLabel,
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
        for e in self.selectors.values_mut() {
            e.per_domain.clear();
        }
        for g in self.owned.values_mut() {
            g.per_domain = None;
        }
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

    /// Per-node counts of placed pods matching `conj`, from the label index when the
    /// conjunction requires a label, else by scanning every placed pod.
    fn count_indexed(&self, nodes: &[NodeInfo], conj: &Conj) -> Vec<i64> {
        let Some((key, values)) = conj.first().and_then(|(_, s)| s.in_requirement()) else {
            return Self::count(nodes, conj);
        };
        let mut per_node = vec![0i64; nodes.len()];
        let mut values: Vec<&String> = values.iter().collect();
        values.sort();
        values.dedup();
        if let Some(by_value) = self.pods_by_label.get(key) {
            for v in values {
                for (idx, p) in by_value.get(v).into_iter().flat_map(|m| m.values()) {
                    if conj_matches(conj, &p.namespace, &p.labels)
                        && let Some(c) = per_node.get_mut(*idx)
                    {
                        *c += 1;
                    }
                }
            }
        }
        per_node
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
        if self.selectors.contains_key(&sig) {
            return;
        }
        match conj.first().and_then(|(_, s)| s.in_requirement()) {
            Some((key, values)) => {
                let by_value = self.sel_by_label.entry(key.to_string()).or_default();
                let mut values: Vec<&String> = values.iter().collect();
                values.sort();
                values.dedup();
                for v in values {
                    by_value.entry(v.clone()).or_default().push(sig.clone());
                }
            }
            None => self.sel_unindexed.push(sig.clone()),
        }
        let per_node = self.count_indexed(nodes, conj);
        self.selectors.insert(
            sig,
            SelEntry {
                conj: conj.clone(),
                per_node,
                per_domain: HashMap::new(),
            },
        );
    }

    /// Makes sure the per-domain counts of `conj` over the domains of `key` are cached
    /// and maintained from now on.
    pub fn warm_domains(&mut self, nodes: &[NodeInfo], conj: &Conj, key: &str) {
        self.warm_counts(nodes, conj);
        self.warm_topo(nodes, key);
        let sig = conj_signature(conj);
        let (Some(e), Some(topo)) = (self.selectors.get_mut(&sig), self.topo.get(key)) else {
            return;
        };
        if !e.per_domain.contains_key(key) {
            e.per_domain.insert(key.to_string(), topo.aggregate(&e.per_node));
        }
    }

    /// Cached per-domain counts for the conjunction with signature `sig` over `key`'s domains.
    pub fn domains(&self, sig: &str, key: &str) -> Option<&[i64]> {
        self.selectors.get(sig)?.per_domain.get(key).map(Vec::as_slice)
    }

    /// Cached per-node counts for the conjunction with signature `sig`.
    pub fn node_counts(&self, sig: &str) -> Option<&[i64]> {
        self.selectors.get(sig).map(|e| e.per_node.as_slice())
    }

    /// Makes sure every owned group has its per-domain counts.
    pub fn warm_owned(&mut self, nodes: &[NodeInfo]) {
        let missing: Vec<String> = self
            .owned
            .values()
            .filter(|g| g.per_domain.is_none())
            .map(|g| g.term.topology_key.clone())
            .collect();
        for k in &missing {
            self.warm_topo(nodes, k);
        }
        let Index { owned, topo, .. } = self;
        for g in owned.values_mut() {
            if g.per_domain.is_none()
                && let Some(t) = topo.get(&g.term.topology_key)
            {
                g.per_domain = Some(t.aggregate(&g.per_node));
            }
        }
    }

    /// Accounts a pod placed on node `idx` (delta +1) or removed from it (delta -1).
    pub fn update_pod(&mut self, pod: &Arc<PodInfo>, idx: usize, delta: i64, num_nodes: usize) {
        let Index {
            selectors,
            owned,
            topo,
            sel_by_label,
            sel_unindexed,
            pods_by_label,
        } = self;
        for (k, v) in &pod.labels {
            if delta > 0 {
                if !pods_by_label.contains_key(k) {
                    pods_by_label.insert(k.clone(), HashMap::new());
                }
                let Some(by_value) = pods_by_label.get_mut(k) else {
                    continue;
                };
                if !by_value.contains_key(v) {
                    by_value.insert(v.clone(), HashMap::new());
                }
                if let Some(m) = by_value.get_mut(v) {
                    m.insert(pod.key.clone(), (idx, pod.clone()));
                }
            } else if let Some(by_value) = pods_by_label.get_mut(k)
                && let Some(m) = by_value.get_mut(v)
            {
                m.remove(&pod.key);
                if m.is_empty() {
                    by_value.remove(v);
                }
            }
        }
        let domain_of = |key: &str| topo.get(key).map(|t| t.node_domain[idx]).filter(|d| *d != NO_DOMAIN);
        let indexed = pod
            .labels
            .iter()
            .filter_map(|(k, v)| sel_by_label.get(k)?.get(v))
            .flatten();
        for sig in indexed.chain(sel_unindexed.iter()) {
            let Some(e) = selectors.get_mut(sig) else {
                continue;
            };
            if conj_matches(&e.conj, &pod.namespace, &pod.labels) {
                e.per_node[idx] += delta;
                for (key, v) in e.per_domain.iter_mut() {
                    if let Some(d) = domain_of(key) {
                        v[d as usize] += delta;
                    }
                }
            }
        }
        for (kind, term, weight) in owned_terms(pod) {
            let sig = format!("{kind:?}|{weight}|{}|{}", term.topology_key, term.selector_signature());
            let g = owned.entry(sig.clone()).or_insert_with(|| OwnedGroup {
                kind,
                term: term.clone(),
                weight,
                per_node: vec![0; num_nodes],
                total: 0,
                per_domain: None,
            });
            g.per_node[idx] += delta;
            g.total += delta;
            if let Some(v) = g.per_domain.as_mut()
                && let Some(d) = domain_of(&g.term.topology_key)
            {
                v[d as usize] += delta;
            }
            if g.total <= 0 {
                owned.remove(&sig);
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
        self.clear_topology();
    }

    /// The node at `idx` was removed (its pods are no longer counted).
    pub fn remove_node(&mut self, idx: usize) {
        for by_value in self.pods_by_label.values_mut() {
            for pods in by_value.values_mut() {
                pods.retain(|_, (i, _)| *i != idx);
                for (i, _) in pods.values_mut() {
                    if *i > idx {
                        *i -= 1;
                    }
                }
            }
            by_value.retain(|_, pods| !pods.is_empty());
        }
        for e in self.selectors.values_mut() {
            e.per_node.remove(idx);
        }
        for g in self.owned.values_mut() {
            let c = g.per_node.remove(idx);
            g.total -= c;
        }
        self.owned.retain(|_, g| g.total > 0);
        self.clear_topology();
    }
}
