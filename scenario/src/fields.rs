//! Unknown fields, one implementation for files and API bodies: a field a manifest sets that
//! its Kubernetes type does not have. They are found while deserializing (serde hands every
//! struct's field list to the deserializer, see `de`), named with kube-apiserver's words
//! (`unknown field "spec.contianers"`) and, where a known field of that object at that level is
//! close, a suggestion (`(did you mean "containers"?)`).

use std::fmt;

use serde::de::DeserializeOwned;

use crate::yaml::{Key, Node, Value};

/// One field present in a manifest that its type does not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownField {
    /// Field path in kubectl form (`spec.containers[0].imagee`).
    pub path: String,
    /// 1-based line in the file (0 for API bodies).
    pub line: usize,
    /// The closest known field name at that level, if one is close enough.
    pub suggestion: Option<String>,
}

impl fmt::Display for UnknownField {
    /// `unknown field "spec.contianers" (did you mean "containers"?)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown field {:?}", self.path)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (did you mean {s:?}?)")?;
        }
        Ok(())
    }
}

/// The known field closest to `key`: the same name in another case (`ContainerPort`), else the
/// nearest within edit distance 2 (1 for names of 4 letters or fewer; a swap of two
/// neighbouring letters counts 1), else one with the same letters in another order.
pub fn suggest<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    let lower = key.to_lowercase();
    if let Some(k) = known.iter().find(|k| k.to_lowercase() == lower) {
        return Some(k);
    }
    let limit = if key.chars().count() <= 4 { 1 } else { 2 };
    let nearest = known
        .iter()
        .map(|k| (distance(&lower, &k.to_lowercase()), *k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d);
    if let Some((_, k)) = nearest {
        return Some(k);
    }
    let letters = |s: &str| {
        let mut v: Vec<char> = s.to_lowercase().chars().collect();
        v.sort_unstable();
        v
    };
    let mine = letters(key);
    known.iter().find(|k| key.len() > 3 && letters(k) == mine).copied()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
/// neighbouring characters each cost 1.
fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The unknown fields of an API request body read as `T` (a k8s-openapi type), in body order.
/// A body that does not deserialize still reports the unknown fields met before the failure.
pub fn unknown_json_fields<T: DeserializeOwned>(body: &serde_json::Value) -> Vec<UnknownField> {
    crate::de::from_node::<T>(&node_from_json(body), "").1
}

/// A JSON value as a located tree (every position 0), so JSON takes the files' path.
pub(crate) fn node_from_json(v: &serde_json::Value) -> Node {
    use serde_json::Value as J;
    let value = match v {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => Value::Int(i),
            (None, Some(u), _) => Value::UInt(u),
            (None, None, Some(f)) => Value::Float(f),
            _ => Value::BigInt(n.to_string()),
        },
        J::String(s) => Value::Str(s.clone()),
        J::Array(items) => Value::Seq(items.iter().map(node_from_json).collect()),
        J::Object(map) => Value::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = Key {
                        name: k.clone(),
                        line: 0,
                        col: 0,
                    };
                    (key, node_from_json(v))
                })
                .collect(),
        ),
    };
    Node { value, line: 0, col: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;
    use serde_json::json;

    #[test]
    fn suggestions_take_the_closest_known_name() {
        let known = ["containers", "initContainers", "nodeName", "nodeSelector", "os"];
        assert_eq!(suggest("contianers", &known), Some("containers"));
        assert_eq!(suggest("Containers", &known), Some("containers"));
        assert_eq!(suggest("nodeSelecter", &known), Some("nodeSelector"));
        assert_eq!(suggest("nodename", &known), Some("nodeName"));
        assert_eq!(suggest("sniatnocre", &known), Some("containers"));
        assert_eq!(suggest("xyz", &known), None);
        assert_eq!(suggest("replicas", &known), None);
    }

    #[test]
    fn json_bodies_name_unknown_fields_with_suggestions() {
        let body = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x", "lables": {"a": "b"}},
                          "spec": {"contianers": [], "containers": [{"name": "c", "image": "x",
                          "ports": [{"ContainerPort": 80}], "nothingLikeIt": 1, "gone": null}]}});
        let mut got: Vec<String> = unknown_json_fields::<Pod>(&body)
            .iter()
            .map(ToString::to_string)
            .collect();
        got.sort();
        assert_eq!(
            got,
            [
                "unknown field \"metadata.lables\" (did you mean \"labels\"?)",
                "unknown field \"spec.containers[0].nothingLikeIt\"",
                "unknown field \"spec.containers[0].ports[0].ContainerPort\" (did you mean \"containerPort\"?)",
                "unknown field \"spec.contianers\" (did you mean \"containers\"?)",
            ]
        );
    }
}
