//! Patches: JSON patch (RFC 6902), merge patch (RFC 7386), Kubernetes strategic merge patch.
//! (Temporary stand-in while the real engine is written: merge patch semantics for all.)

use serde_json::Value;

/// The four patch content types kube-apiserver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    StrategicMerge,
    /// `application/apply-patch+yaml`.
    Apply,
}

impl PatchType {
    /// From a Content-Type header.
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// A patch that cannot be applied.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct PatchError(String);

/// Apply `patch` to `live`.
pub fn apply_patch(_kind: &str, live: &Value, patch: &Value, ty: PatchType) -> Result<Value, PatchError> {
    if ty == PatchType::Json {
        return Err(PatchError("JSON patch is not available yet".into()));
    }
    let mut out = live.clone();
    merge(&mut out, patch);
    Ok(out)
}

fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}
