//! Pods parsed once into what the scheduler needs: requests, ports, (anti-)affinity
//! terms, tolerations, node affinity and spread constraints.

use std::collections::HashMap;

use k8s_openapi::api::core::v1::{Pod, PodAffinityTerm, Toleration};

use podlab_k8s_values::normalize_image;

use crate::resources::{Resources, pod_requests};
use crate::selectors::{Labels, NodeTerm, Selector};

/// Which namespaces an affinity term selects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NsSet {
    /// Every namespace (`namespaceSelector: {}`).
    All,
    /// An explicit, sorted list.
    List(Vec<String>),
}

impl NsSet {
    /// True when `ns` is selected.
    pub fn contains(&self, ns: &str) -> bool {
        match self {
            NsSet::All => true,
            NsSet::List(l) => l.iter().any(|n| n == ns),
        }
    }
}

/// A pod (anti-)affinity term with namespaces resolved and selector parsed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AffinityTerm {
    /// Namespaces whose pods the term considers.
    pub namespaces: NsSet,
    /// Label selector on pods.
    pub selector: Selector,
    /// Node label defining the topology domain.
    pub topology_key: String,
}

impl AffinityTerm {
    /// True when `pod` (namespace, labels) matches the term.
    pub fn matches(&self, ns: &str, labels: &Labels) -> bool {
        self.namespaces.contains(ns) && self.selector.matches(labels)
    }

    /// Cache key for the (namespaces, selector) part.
    pub fn selector_signature(&self) -> String {
        format!("{:?}|{}", self.namespaces, self.selector.signature())
    }
}

/// A parsed topology spread constraint.
#[derive(Debug, Clone)]
pub struct SpreadConstraint {
    /// maxSkew.
    pub max_skew: i64,
    /// Node label defining domains.
    pub topology_key: String,
    /// Selector (with matchLabelKeys merged).
    pub selector: Selector,
    /// minDomains (DoNotSchedule only), default 1.
    pub min_domains: i64,
    /// nodeAffinityPolicy == Honor (default).
    pub honor_node_affinity: bool,
    /// nodeTaintsPolicy == Honor (default Ignore).
    pub honor_taints: bool,
}

/// Everything the scheduler keeps about a pod (placed or incoming).
#[derive(Debug, Clone)]
pub struct PodInfo {
    /// Identity: uid, else namespace/name.
    pub key: String,
    /// Namespace ("default" when unset).
    pub namespace: String,
    /// Pod labels.
    pub labels: Labels,
    /// Requests used for filtering.
    pub requests: Resources,
    /// CPU request used for scoring (missing requests count as 100m).
    pub nonzero_cpu: i64,
    /// Memory request used for scoring (missing requests count as 200Mi).
    pub nonzero_memory: i64,
    /// hostPorts: (hostIP, protocol, port).
    pub host_ports: Vec<(String, String, i32)>,
    /// requiredDuringScheduling pod affinity terms.
    pub required_affinity: Vec<AffinityTerm>,
    /// requiredDuringScheduling pod anti-affinity terms.
    pub required_anti: Vec<AffinityTerm>,
    /// preferred pod affinity terms with weights.
    pub preferred_affinity: Vec<(i64, AffinityTerm)>,
    /// preferred pod anti-affinity terms with weights.
    pub preferred_anti: Vec<(i64, AffinityTerm)>,
}

/// Extra data only needed for the pod being scheduled.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Common pod data.
    pub info: PodInfo,
    /// Human name "namespace/name".
    pub display: String,
    /// spec.nodeName, if set.
    pub node_name: Option<String>,
    /// spec.tolerations.
    pub tolerations: Vec<Toleration>,
    /// spec.nodeSelector.
    pub node_selector: Labels,
    /// Required node affinity terms (ORed); `None` when absent.
    pub required_node_terms: Option<Vec<NodeTerm>>,
    /// Preferred node affinity terms with weights.
    pub preferred_node_terms: Vec<(i64, NodeTerm)>,
    /// DoNotSchedule spread constraints.
    pub hard_spread: Vec<SpreadConstraint>,
    /// ScheduleAnyway spread constraints.
    pub soft_spread: Vec<SpreadConstraint>,
    /// Normalized container image names (init + regular containers).
    pub images: Vec<String>,
    /// Number of containers (init + regular), for ImageLocality.
    pub num_containers: usize,
}

impl Incoming {
    /// True when the node's labels/name satisfy nodeSelector and required node affinity.
    pub fn node_affinity_matches(&self, labels: &Labels, node_name: &str) -> bool {
        if self.node_selector.is_empty() && self.required_node_terms.is_none() {
            return true;
        }
        if !self.node_selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
        match &self.required_node_terms {
            None => true,
            Some(terms) => terms.iter().any(|t| t.matches(labels, node_name)),
        }
    }
}

/// Identity key of a pod: its uid, else namespace/name.
pub fn pod_key(pod: &Pod) -> String {
    if let Some(uid) = pod.metadata.uid.as_deref().filter(|u| !u.is_empty()) {
        return uid.to_string();
    }
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or("default"),
        pod.metadata.name.as_deref().unwrap_or("")
    )
}

fn parse_term(
    t: &PodAffinityTerm,
    pod_ns: &str,
    pod_labels: &Labels,
    ns_labels: &HashMap<String, Labels>,
) -> AffinityTerm {
    let mut selector = Selector::from_label_selector(t.label_selector.as_ref());
    if t.label_selector.is_some() {
        for k in t.match_label_keys.iter().flatten() {
            if let Some(v) = pod_labels.get(k) {
                selector.add_label_requirement(k, v, true);
            }
        }
        for k in t.mismatch_label_keys.iter().flatten() {
            if let Some(v) = pod_labels.get(k) {
                selector.add_label_requirement(k, v, false);
            }
        }
    }
    let mut list: Vec<String> = t.namespaces.clone().unwrap_or_default();
    let namespaces = match t.namespace_selector.as_ref() {
        Some(sel)
            if sel.match_labels.as_ref().is_none_or(|m| m.is_empty())
                && sel.match_expressions.as_ref().is_none_or(|m| m.is_empty()) =>
        {
            NsSet::All
        }
        Some(sel) => {
            let s = Selector::from_label_selector(Some(sel));
            list.extend(ns_labels.iter().filter(|(_, l)| s.matches(l)).map(|(n, _)| n.clone()));
            list.sort();
            list.dedup();
            NsSet::List(list)
        }
        None => {
            if list.is_empty() {
                list.push(pod_ns.to_string());
            }
            list.sort();
            list.dedup();
            NsSet::List(list)
        }
    };
    AffinityTerm {
        namespaces,
        selector,
        topology_key: t.topology_key.clone(),
    }
}

/// Parses the parts of a pod needed once it is placed.
pub fn pod_info(pod: &Pod, ns_labels: &HashMap<String, Labels>) -> PodInfo {
    let namespace = pod
        .metadata
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string());
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let requests = pod_requests(pod, false);
    let nonzero = pod_requests(pod, true);
    let mut info = PodInfo {
        key: pod_key(pod),
        namespace,
        labels,
        requests,
        nonzero_cpu: nonzero.milli_cpu,
        nonzero_memory: nonzero.memory,
        host_ports: Vec::new(),
        required_affinity: Vec::new(),
        required_anti: Vec::new(),
        preferred_affinity: Vec::new(),
        preferred_anti: Vec::new(),
    };
    let Some(spec) = pod.spec.as_ref() else {
        return info;
    };
    for c in &spec.containers {
        for p in c.ports.iter().flatten() {
            if let Some(hp) = p.host_port.filter(|hp| *hp > 0) {
                let ip = p
                    .host_ip
                    .clone()
                    .filter(|i| !i.is_empty())
                    .unwrap_or_else(|| "0.0.0.0".to_string());
                let proto = p.protocol.clone().unwrap_or_else(|| "TCP".to_string());
                info.host_ports.push((ip, proto, hp));
            }
        }
    }
    if let Some(aff) = spec.affinity.as_ref() {
        let (ns, lb) = (info.namespace.clone(), info.labels.clone());
        if let Some(pa) = aff.pod_affinity.as_ref() {
            for t in pa.required_during_scheduling_ignored_during_execution.iter().flatten() {
                info.required_affinity.push(parse_term(t, &ns, &lb, ns_labels));
            }
            for w in pa.preferred_during_scheduling_ignored_during_execution.iter().flatten() {
                info.preferred_affinity.push((
                    i64::from(w.weight),
                    parse_term(&w.pod_affinity_term, &ns, &lb, ns_labels),
                ));
            }
        }
        if let Some(pa) = aff.pod_anti_affinity.as_ref() {
            for t in pa.required_during_scheduling_ignored_during_execution.iter().flatten() {
                info.required_anti.push(parse_term(t, &ns, &lb, ns_labels));
            }
            for w in pa.preferred_during_scheduling_ignored_during_execution.iter().flatten() {
                info.preferred_anti.push((
                    i64::from(w.weight),
                    parse_term(&w.pod_affinity_term, &ns, &lb, ns_labels),
                ));
            }
        }
    }
    info
}

/// Parses the pod being scheduled.
pub fn incoming(pod: &Pod, ns_labels: &HashMap<String, Labels>) -> Incoming {
    let info = pod_info(pod, ns_labels);
    let display = format!("{}/{}", info.namespace, pod.metadata.name.as_deref().unwrap_or(""));
    let mut inc = Incoming {
        display,
        node_name: None,
        tolerations: Vec::new(),
        node_selector: Labels::new(),
        required_node_terms: None,
        preferred_node_terms: Vec::new(),
        hard_spread: Vec::new(),
        soft_spread: Vec::new(),
        images: Vec::new(),
        num_containers: 0,
        info,
    };
    let Some(spec) = pod.spec.as_ref() else {
        return inc;
    };
    inc.node_name = spec.node_name.clone().filter(|n| !n.is_empty());
    inc.tolerations = spec.tolerations.clone().unwrap_or_default();
    inc.node_selector = spec.node_selector.clone().unwrap_or_default();
    if let Some(na) = spec.affinity.as_ref().and_then(|a| a.node_affinity.as_ref()) {
        if let Some(req) = na.required_during_scheduling_ignored_during_execution.as_ref() {
            inc.required_node_terms = Some(req.node_selector_terms.iter().map(NodeTerm::parse).collect());
        }
        for p in na.preferred_during_scheduling_ignored_during_execution.iter().flatten() {
            inc.preferred_node_terms
                .push((i64::from(p.weight), NodeTerm::parse(&p.preference)));
        }
    }
    for c in spec.topology_spread_constraints.iter().flatten() {
        let mut selector = Selector::from_label_selector(c.label_selector.as_ref());
        if c.label_selector.is_some() {
            for k in c.match_label_keys.iter().flatten() {
                if let Some(v) = inc.info.labels.get(k) {
                    selector.add_label_requirement(k, v, true);
                }
            }
        }
        let sc = SpreadConstraint {
            max_skew: i64::from(c.max_skew.max(1)),
            topology_key: c.topology_key.clone(),
            selector,
            min_domains: i64::from(c.min_domains.unwrap_or(1).max(1)),
            honor_node_affinity: c.node_affinity_policy.as_deref() != Some("Ignore"),
            honor_taints: c.node_taints_policy.as_deref() == Some("Honor"),
        };
        if c.when_unsatisfiable == "ScheduleAnyway" {
            inc.soft_spread.push(SpreadConstraint { min_domains: 1, ..sc });
        } else {
            inc.hard_spread.push(sc);
        }
    }
    for c in spec.init_containers.iter().flatten().chain(&spec.containers) {
        inc.num_containers += 1;
        if let Some(img) = c.image.as_deref().filter(|i| !i.is_empty()) {
            inc.images.push(normalize_image(img));
        }
    }
    inc
}
