//! Patches: JSON patch (RFC 6902), merge patch (RFC 7386), Kubernetes strategic merge patch and
//! a simplified server-side apply, on `serde_json::Value` objects. Pure functions, no I/O: the
//! API server parses the body, calls [`apply_patch`] on the live object and stores the result.
//!
//! # Server-side apply
//!
//! `application/apply-patch+yaml` is served as a simplification: the body is taken as the full
//! intended object and strategic-merged onto the live object, so fields the applier omits are
//! kept (and lists with merge keys are merged by key). Field ownership is **not** implemented:
//! no `metadata.managedFields` are recorded, there are no conflicts between field managers
//! (`force` changes nothing), and a field an applier stops sending is not removed.
//!
//! # What a patch may not change
//!
//! `apiVersion`, `kind` and `metadata.name` of the result must be those of the live object
//! ([`PatchError::BadRequest`] otherwise; a patch that removes `apiVersion` or `kind` gets them
//! back). `metadata.resourceVersion` set by a patch stays in the result: it is a precondition
//! that the caller compares with the live object's.

mod json_patch;
mod keys;
mod merge;
mod strategic;

use serde_json::Value;

pub use json_patch::{MAX_COPY_BYTES, MAX_OPERATIONS};

/// The four patch content types kube-apiserver accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`: RFC 6902 operations.
    Json,
    /// `application/merge-patch+json`: RFC 7386 (`kubectl label`, `annotate`, `scale`).
    Merge,
    /// `application/strategic-merge-patch+json`: Kubernetes strategic merge (client-side
    /// `kubectl apply` on an existing object, `kubectl patch` by default).
    StrategicMerge,
    /// `application/apply-patch+yaml`: server-side apply (`kubectl apply --server-side`),
    /// simplified: see the module documentation.
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header value; parameters after `;` and letter case
    /// are ignored. `None` for any other media type (kube-apiserver answers 415).
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let media = ct.split(';').next().unwrap_or_default().trim();
        let media = media.to_ascii_lowercase();
        match media.as_str() {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::StrategicMerge),
            "application/apply-patch+yaml" => Some(PatchType::Apply),
            _ => None,
        }
    }

    /// The media type of this patch type, as in a `Content-Type` header.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// Why a patch does not apply. [`PatchError::code`], [`PatchError::reason`] and
/// [`PatchError::cause`] give what goes into the `Status` answer; the `Display` text is its
/// `message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The body is not a patch of its type (not an array for a JSON patch, not an object for
    /// the others, a malformed directive), or the patch changes `apiVersion`, `kind` or
    /// `metadata.name`: HTTP 400, reason `BadRequest`.
    #[error("{0}")]
    BadRequest(String),
    /// A JSON patch operation does not apply (a `test` failed, a path is missing, an index out
    /// of range), or a strategic merge patch holds a list of lists: HTTP 422, reason `Invalid`.
    /// kube-apiserver answers with this generic message and puts `cause` in
    /// `details.causes[0].message` (cause type `UnexpectedServerResponse`).
    #[error("the server rejected our request due to an error in our request")]
    Rejected {
        /// What went wrong, worded like evanphx/json-patch (kube-apiserver's library).
        cause: String,
    },
    /// The patch is too big to apply: more than [`MAX_OPERATIONS`] JSON patch operations.
    /// HTTP 413, reason `RequestEntityTooLarge`.
    #[error("{0}")]
    TooLarge(String),
    /// A strategic merge patch does not fit the object: a list element without its merge key,
    /// an unknown `$patch` value, a `$setElementOrder` list that contradicts the patch, a list
    /// where a map is expected. The message is kube-apiserver's (k8s.io/apimachinery's);
    /// kube-apiserver sends it as a bare 500, podlab suggests HTTP 422, reason `Invalid`.
    #[error("{0}")]
    Unmergeable(String),
}

impl PatchError {
    /// The HTTP status code of the `Status` answer.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Rejected { .. } | PatchError::Unmergeable(_) => 422,
            PatchError::TooLarge(_) => 413,
        }
    }

    /// The `reason` of the `Status` answer (`kubectl` prints it: `Error from server (Invalid)`).
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::Rejected { .. } | PatchError::Unmergeable(_) => "Invalid",
            PatchError::TooLarge(_) => "RequestEntityTooLarge",
        }
    }

    /// The detail for `details.causes`, when the message alone is generic.
    pub fn cause(&self) -> Option<&str> {
        match self {
            PatchError::Rejected { cause } => Some(cause),
            _ => None,
        }
    }
}

/// Applies `patch` (the request body, already parsed as JSON; apply-patch bodies from kubectl
/// are JSON) to `live`, an object of `kind` (`"Pod"`, `"Deployment"`, `"ReplicaSet"`,
/// `"Node"`, `"Namespace"`, `"Event"`; other kinds, such as `"Scale"`, merge strategically only
/// in `metadata`), and returns the patched object. `live` is not changed.
pub fn apply_patch(kind: &str, live: &Value, patch: &Value, ty: PatchType) -> Result<Value, PatchError> {
    let mut patched = match ty {
        PatchType::Json => json_patch::apply(live, patch)?,
        PatchType::Merge => merge::apply(live, patch)?,
        PatchType::StrategicMerge | PatchType::Apply => strategic::apply(kind, live, patch)?,
    };
    keep_identity(live, &mut patched)?;
    Ok(patched)
}

/// Removes every object member whose value is `null`, at any depth (`null` elements of arrays
/// stay). Useful on a body that will be stored as is, such as a created object, so that
/// `"field": null` means "unset" as it does in a patch.
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// Checks that the patch left `apiVersion`, `kind` and `metadata.name` alone; restores
/// `apiVersion` and `kind` if the patch removed them.
fn keep_identity(live: &Value, patched: &mut Value) -> Result<(), PatchError> {
    let Value::Object(out) = patched else {
        return Err(PatchError::BadRequest(format!(
            "the patched object is a JSON {}, not an object",
            json_patch::go_kind(patched)
        )));
    };
    for (field, what) in [("apiVersion", "API version"), ("kind", "kind")] {
        let Some(want) = live.get(field) else {
            continue;
        };
        match out.get(field) {
            None | Some(Value::Null) => {
                out.insert(field.to_owned(), want.clone());
            }
            Some(got) if got == want => {}
            Some(got) => {
                return Err(PatchError::BadRequest(format!(
                    "the {what} in the data ({}) does not match the expected {what} ({})",
                    plain(got),
                    plain(want)
                )));
            }
        }
    }
    let want = live.pointer("/metadata/name");
    let got = out.get("metadata").and_then(|m| m.get("name"));
    if want.is_some() && got != want {
        return Err(PatchError::BadRequest(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            got.map_or_else(String::new, plain),
            want.map_or_else(String::new, plain)
        )));
    }
    Ok(())
}

/// A string without its JSON quotes, anything else as JSON.
fn plain(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

#[cfg(test)]
mod tests;
