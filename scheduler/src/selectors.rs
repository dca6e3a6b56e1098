//! Label selectors, node selector terms (nodeAffinity) and taint/toleration matching,
//! parsed once into small structs with Kubernetes' matching rules.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, NodeSelectorTerm, Taint, Toleration};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// Label map type used by Kubernetes objects.
pub type Labels = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Op {
    In,
    NotIn,
    Exists,
    DoesNotExist,
    Gt,
    Lt,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

impl Requirement {
    fn matches(&self, value: Option<&str>) -> bool {
        match self.op {
            Op::In => value.is_some_and(|v| self.values.iter().any(|x| x == v)),
            Op::NotIn => value.is_none_or(|v| self.values.iter().all(|x| x != v)),
            Op::Exists => value.is_some(),
            Op::DoesNotExist => value.is_none(),
            Op::Gt | Op::Lt => {
                let (Some(v), Some(bound)) = (value, self.values.first()) else {
                    return false;
                };
                match (v.parse::<i64>(), bound.parse::<i64>()) {
                    (Ok(v), Ok(b)) => {
                        if self.op == Op::Gt {
                            v > b
                        } else {
                            v < b
                        }
                    }
                    _ => false,
                }
            }
        }
    }
}

/// A parsed `metav1.LabelSelector`. `None`/invalid selectors match nothing; `{}` matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Selector {
    nothing: bool,
    reqs: Vec<Requirement>,
}

impl Selector {
    /// A selector that matches no object.
    pub fn nothing() -> Self {
        Selector {
            nothing: true,
            reqs: Vec::new(),
        }
    }

    /// Parses a label selector the way `metav1.LabelSelectorAsSelector` does.
    pub fn from_label_selector(sel: Option<&LabelSelector>) -> Self {
        let Some(sel) = sel else {
            return Self::nothing();
        };
        let mut reqs = Vec::new();
        for (k, v) in sel.match_labels.iter().flatten() {
            reqs.push(Requirement {
                key: k.clone(),
                op: Op::In,
                values: vec![v.clone()],
            });
        }
        for e in sel.match_expressions.iter().flatten() {
            let op = match e.operator.as_str() {
                "In" => Op::In,
                "NotIn" => Op::NotIn,
                "Exists" => Op::Exists,
                "DoesNotExist" => Op::DoesNotExist,
                _ => return Self::nothing(),
            };
            reqs.push(Requirement {
                key: e.key.clone(),
                op,
                values: e.values.clone().unwrap_or_default(),
            });
        }
        reqs.sort_by(|a, b| a.key.cmp(&b.key));
        Selector { nothing: false, reqs }
    }

    /// Adds `key In [value]` (matchLabelKeys) or `key NotIn [value]` (mismatchLabelKeys).
    pub fn add_label_requirement(&mut self, key: &str, value: &str, equal: bool) {
        self.reqs.push(Requirement {
            key: key.to_string(),
            op: if equal { Op::In } else { Op::NotIn },
            values: vec![value.to_string()],
        });
    }

    /// True when the labels satisfy every requirement.
    pub fn matches(&self, labels: &Labels) -> bool {
        !self.nothing
            && self
                .reqs
                .iter()
                .all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
    }

    /// The first `key In (values)` requirement, if any: every matching object carries
    /// `key` with one of `values` (used to look candidates up in label indexes).
    pub fn in_requirement(&self) -> Option<(&str, &[String])> {
        if self.nothing {
            return None;
        }
        self.reqs
            .iter()
            .find(|r| r.op == Op::In)
            .map(|r| (r.key.as_str(), r.values.as_slice()))
    }

    /// A canonical text form, used as a cache key.
    pub fn signature(&self) -> String {
        if self.nothing {
            return "<nothing>".to_string();
        }
        let mut s = String::new();
        for r in &self.reqs {
            s.push_str(&format!("{}{:?}{:?};", r.key, r.op, r.values));
        }
        s
    }
}

/// A parsed node selector term (matchExpressions AND matchFields on `metadata.name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeTerm {
    exprs: Vec<Requirement>,
    fields: Vec<Requirement>,
    valid: bool,
}

fn node_req(r: &NodeSelectorRequirement) -> Option<Requirement> {
    let op = match r.operator.as_str() {
        "In" => Op::In,
        "NotIn" => Op::NotIn,
        "Exists" => Op::Exists,
        "DoesNotExist" => Op::DoesNotExist,
        "Gt" => Op::Gt,
        "Lt" => Op::Lt,
        _ => return None,
    };
    let values = r.values.clone().unwrap_or_default();
    if matches!(op, Op::Gt | Op::Lt) && (values.len() != 1 || values[0].parse::<i64>().is_err()) {
        return None;
    }
    Some(Requirement {
        key: r.key.clone(),
        op,
        values,
    })
}

impl NodeTerm {
    /// Parses a term; invalid terms (bad operator, non-integer Gt/Lt) never match.
    pub fn parse(t: &NodeSelectorTerm) -> Self {
        let mut valid = true;
        let mut exprs = Vec::new();
        for r in t.match_expressions.iter().flatten() {
            match node_req(r) {
                Some(r) => exprs.push(r),
                None => valid = false,
            }
        }
        let mut fields = Vec::new();
        for r in t.match_fields.iter().flatten() {
            match node_req(r) {
                Some(r) if r.key == "metadata.name" && matches!(r.op, Op::In | Op::NotIn) => fields.push(r),
                _ => valid = false,
            }
        }
        if exprs.is_empty() && fields.is_empty() {
            valid = false;
        }
        NodeTerm { exprs, fields, valid }
    }

    /// True when the node's labels and name satisfy the term.
    pub fn matches(&self, labels: &Labels, node_name: &str) -> bool {
        self.valid
            && self
                .exprs
                .iter()
                .all(|r| r.matches(labels.get(&r.key).map(String::as_str)))
            && self.fields.iter().all(|r| r.matches(Some(node_name)))
    }
}

/// `v1.Toleration.ToleratesTaint`.
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect.as_deref().is_some_and(|e| !e.is_empty() && e != taint.effect) {
        return false;
    }
    if t.key.as_deref().is_some_and(|k| !k.is_empty() && k != taint.key) {
        return false;
    }
    match t.operator.as_deref().unwrap_or("") {
        "" | "Equal" => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
        "Exists" => true,
        _ => false,
    }
}

/// True when some toleration tolerates `taint`.
pub fn tolerated(tolerations: &[Toleration], taint: &Taint) -> bool {
    tolerations.iter().any(|t| tolerates(t, taint))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn label_selector_semantics() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]
        }))
        .unwrap();
        let s = Selector::from_label_selector(Some(&sel));
        assert!(s.matches(&labels(&[("app", "web")])));
        assert!(!s.matches(&labels(&[("app", "web"), ("tier", "db")])));
        assert!(!Selector::from_label_selector(None).matches(&labels(&[])));
        let empty = LabelSelector::default();
        assert!(Selector::from_label_selector(Some(&empty)).matches(&labels(&[])));
    }

    #[test]
    fn node_term_operators() {
        let t: NodeSelectorTerm = serde_json::from_value(json!({"matchExpressions": [
            {"key": "cores", "operator": "Gt", "values": ["4"]},
            {"key": "gpu", "operator": "DoesNotExist"},
            {"key": "zone", "operator": "In", "values": ["a", "b"]}]}))
        .unwrap();
        let t = NodeTerm::parse(&t);
        assert!(t.matches(&labels(&[("cores", "8"), ("zone", "a")]), "n"));
        assert!(!t.matches(&labels(&[("cores", "4"), ("zone", "a")]), "n"));
        assert!(!t.matches(&labels(&[("cores", "x"), ("zone", "a")]), "n"));
        let f: NodeSelectorTerm = serde_json::from_value(json!({"matchFields": [
            {"key": "metadata.name", "operator": "In", "values": ["n1"]}]}))
        .unwrap();
        let f = NodeTerm::parse(&f);
        assert!(f.matches(&labels(&[]), "n1"));
        assert!(!f.matches(&labels(&[]), "n2"));
        assert!(!NodeTerm::parse(&NodeSelectorTerm::default()).matches(&labels(&[]), "n1"));
    }

    #[test]
    fn toleration_matching() {
        let taint = Taint {
            key: "k".into(),
            value: Some("v".into()),
            effect: "NoSchedule".into(),
            time_added: None,
        };
        let tol = |v: serde_json::Value| -> Toleration { serde_json::from_value(v).unwrap() };
        assert!(tolerates(&tol(json!({"key": "k", "value": "v"})), &taint));
        assert!(tolerates(&tol(json!({"operator": "Exists"})), &taint));
        assert!(!tolerates(&tol(json!({"key": "k", "value": "w"})), &taint));
        assert!(!tolerates(
            &tol(json!({"key": "k", "operator": "Exists", "effect": "NoExecute"})),
            &taint
        ));
    }
}
