//! The store's objects as the Kubernetes API shows them (JSON with `apiVersion` and `kind`),
//! and each verb on them through the control-plane library: list, get, create, update
//! (PUT: what kube-apiserver lets an update change), delete.

use crate::kinds::Kind;
use podlab_control_plane::{ApiError, Cluster, Key, Verb, Workload};
use podlab_scenario::Object;
use serde_json::Value;
use std::sync::Arc;

fn to_json<T: serde::Serialize>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap_or(Value::Null)
}

/// Every object of `kind` (in `ns` when given), as JSON.
pub fn list(cluster: &Cluster, kind: Kind, ns: Option<&str>) -> Vec<Value> {
    let in_ns = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        ns.is_none_or(|ns| m.namespace.as_deref().unwrap_or("default") == ns)
    };
    match kind {
        Kind::Pod => {
            let mut out = Vec::new();
            cluster.visit_pods(|p| {
                if in_ns(&p.metadata) {
                    out.push(to_json(p));
                }
            });
            out
        }
        Kind::Node => cluster.node_objects().iter().map(to_json).collect(),
        Kind::Namespace => cluster.namespace_objects().iter().map(to_json).collect(),
        Kind::Event => cluster
            .events()
            .iter()
            .filter(|e| in_ns(&e.metadata))
            .map(|e| {
                let mut v = to_json(e);
                // Events change by count; their resourceVersion tells watchers so.
                let rv = format!(
                    "e{}-{}",
                    e.count.unwrap_or(1),
                    e.metadata.name.clone().unwrap_or_default()
                );
                v["metadata"]["resourceVersion"] = Value::String(rv);
                v
            })
            .collect(),
        Kind::Deployment => cluster
            .deployments()
            .iter()
            .filter(|d| in_ns(&d.metadata))
            .map(to_json)
            .collect(),
        Kind::ReplicaSet => cluster
            .replicasets()
            .iter()
            .filter(|d| in_ns(&d.metadata))
            .map(to_json)
            .collect(),
        Kind::ConfigMap => cluster.config_maps(ns).iter().map(to_json).collect(),
        Kind::Secret => cluster.secrets(ns).iter().map(to_json).collect(),
    }
}

/// One object, or `NotFound`.
pub fn get(cluster: &Cluster, kind: Kind, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
    let key = || (ns.unwrap_or("default").to_string(), name.to_string());
    let found = match kind {
        Kind::Pod => cluster.pod(&key()).map(|p| to_json(&p)),
        Kind::ConfigMap => cluster.config_map(&key()).map(|c| to_json(&c)),
        Kind::Secret => cluster.secret(&key()).map(|s| to_json(&s)),
        Kind::Node => cluster.node_object(name).ok().map(|n| to_json(&n)),
        _ => list(cluster, kind, ns)
            .into_iter()
            .find(|o| o.pointer("/metadata/name").and_then(Value::as_str) == Some(name)),
    };
    found.ok_or_else(|| ApiError::not_found(&kind.qualified(), name))
}

/// The typed object a request body describes, checked against the URL (kind, namespace).
pub fn typed(kind: Kind, ns: Option<&str>, mut body: Value) -> Result<Object, ApiError> {
    let bad = |m: String| ApiError::BadRequest(m);
    if let Some(k) = body.get("kind").and_then(Value::as_str)
        && k != kind.kind()
    {
        return Err(bad(format!(
            "the kind of the provided object ({k}) does not match the URL ({})",
            kind.kind()
        )));
    }
    if kind.namespaced() {
        let url_ns = ns.unwrap_or("default");
        match body.pointer("/metadata/namespace").and_then(Value::as_str) {
            Some(n) if n != url_ns => {
                return Err(bad(
                    "the namespace of the provided object does not match the namespace sent on the request".into(),
                ));
            }
            _ => body["metadata"]["namespace"] = Value::String(url_ns.into()),
        }
    }
    if matches!(kind, Kind::Node | Kind::Event) {
        return Err(ApiError::MethodNotAllowed(format!(
            "podlab does not create {} through the API (they come from the scenario's cluster)",
            kind.plural()
        )));
    }
    Object::from_json(kind.kind(), body).map_err(|e| bad(format!("error decoding the {} object: {e}", kind.kind())))
}

/// The typed object a request body describes ([`typed`]), validated as kube-apiserver does:
/// what a create would store (a dry run answers with it).
pub fn checked(kind: Kind, ns: Option<&str>, body: Value) -> Result<Object, ApiError> {
    let obj = typed(kind, ns, body)?;
    validate(kind, &obj)?;
    Ok(obj)
}

/// kube-apiserver's validation, as `Invalid` with every failure.
fn validate(kind: Kind, obj: &Object) -> Result<(), ApiError> {
    invalid(kind, obj, podlab_scenario::validation::object_errors(obj))
}

/// An update's validation, as kube-apiserver's `Validate*Update`: what may not change from
/// `live` (immutable data, a Secret's type), then the new object's own checks.
fn validate_update(kind: Kind, ns: Option<&str>, live: Value, obj: &Object) -> Result<(), ApiError> {
    let mut errors = podlab_scenario::validation::update_errors(&typed(kind, ns, live)?, obj);
    errors.extend(podlab_scenario::validation::object_errors(obj));
    invalid(kind, obj, errors)
}

fn invalid(kind: Kind, obj: &Object, errors: Vec<String>) -> Result<(), ApiError> {
    if errors.is_empty() {
        return Ok(());
    }
    Err(ApiError::Invalid {
        resource: kind.kind().into(),
        name: obj.name().to_string(),
        message: format!("[{}]", errors.join(", ")),
    })
}

/// POST: create the object; `AlreadyExists` if it exists. Returns the stored object.
pub fn create(cluster: &Cluster, kind: Kind, ns: Option<&str>, mut body: Value) -> Result<Value, ApiError> {
    if body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .is_empty()
        && let Some(prefix) = body.pointer("/metadata/generateName").and_then(Value::as_str)
    {
        let name = format!("{prefix}{}", suffix());
        body["metadata"]["name"] = Value::String(name);
    }
    let obj = checked(kind, ns, body)?;
    let name = obj.name().to_string();
    if get(cluster, kind, obj.namespace(), &name).is_ok() {
        return Err(ApiError::AlreadyExists {
            resource: kind.qualified(),
            name,
        });
    }
    let ns = obj.namespace().map(str::to_string);
    let outcome = cluster.apply(obj)?;
    debug_assert_eq!(outcome.verb, Verb::Created);
    get(cluster, kind, ns.as_deref(), &name)
}

/// A random generateName suffix (Kubernetes' alphabet: no vowels, no look-alikes).
fn suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut x = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(7);
    (0..5)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

/// PUT (and the result of a PATCH): replace what an update may change. A `resourceVersion` in
/// the body must match the stored one (optimistic concurrency, as kube-apiserver checks).
pub fn update(cluster: &Cluster, kind: Kind, ns: Option<&str>, name: &str, body: Value) -> Result<Value, ApiError> {
    let live = get(cluster, kind, ns, name)?;
    if body
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .is_some_and(|n| n != name)
    {
        return Err(ApiError::BadRequest(
            "the name of the object does not match the name on the URL".into(),
        ));
    }
    if let Some(rv) = body.pointer("/metadata/resourceVersion").and_then(Value::as_str)
        && Some(rv) != live.pointer("/metadata/resourceVersion").and_then(Value::as_str)
    {
        return Err(ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                kind.qualified()
            ),
        });
    }
    let labels = meta_map(&body, "labels");
    let annotations = meta_map(&body, "annotations");
    match kind {
        Kind::Pod => {
            // The body is defaulted as the stored pod was before the two are compared.
            let mut pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(body.clone())
                .map_err(|e| ApiError::BadRequest(format!("error decoding the Pod object: {e}")))?;
            podlab_control_plane::defaults::pod(&mut pod);
            if serde_json::to_value(&pod.spec).ok().as_ref() != live.get("spec") {
                return Err(ApiError::Invalid {
                    resource: "Pod".into(),
                    name: name.into(),
                    message: "spec: Forbidden: pod updates may not change fields other than labels and annotations in podlab (Kubernetes also allows `spec.containers[*].image` and a few more)".into(),
                });
            }
            let key: Key = (ns.unwrap_or("default").into(), name.into());
            cluster.update_pod_metadata(&key, labels, annotations)?;
        }
        Kind::Node => {
            let spec: Option<k8s_openapi::api::core::v1::NodeSpec> = body
                .get("spec")
                .map(|s| serde_json::from_value(s.clone()))
                .transpose()
                .map_err(|e| ApiError::BadRequest(format!("error decoding the Node spec: {e}")))?;
            cluster.update_node(name, |n| {
                n.metadata.labels = labels;
                n.metadata.annotations = annotations;
                n.spec = spec;
            })?;
        }
        Kind::Namespace => {
            cluster.update_namespace_metadata(name, labels, annotations)?;
        }
        Kind::Deployment | Kind::ReplicaSet => {
            cluster.apply(checked(kind, ns, body)?)?;
        }
        Kind::ConfigMap | Kind::Secret => {
            let obj = typed(kind, ns, body)?;
            validate_update(kind, ns, live, &obj)?;
            cluster.apply(obj)?;
        }
        Kind::Event => return Err(ApiError::MethodNotAllowed("events are read-only in podlab".into())),
    }
    get(cluster, kind, ns, name)
}

fn meta_map(body: &Value, field: &str) -> Option<std::collections::BTreeMap<String, String>> {
    body.get("metadata")?
        .get(field)
        .and_then(|m| serde_json::from_value(m.clone()).ok())
}

/// What a DELETE's body (`DeleteOptions`) asks beyond deleting.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `gracePeriodSeconds`: replaces the pod's own `terminationGracePeriodSeconds`.
    pub grace: Option<std::time::Duration>,
    /// `preconditions.uid` and `preconditions.resourceVersion`: the object must still be that one.
    pub uid: Option<String>,
    /// See `uid`.
    pub resource_version: Option<String>,
}

impl DeleteOptions {
    /// From the request body (may be empty) and the `gracePeriodSeconds` query parameter;
    /// returns the warnings for options podlab does not honour.
    pub fn parse(body: &[u8], query_grace: Option<u64>) -> Result<(DeleteOptions, Vec<String>), ApiError> {
        let v: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("the DeleteOptions body is not valid JSON: {e}")))?
        };
        let grace = v.get("gracePeriodSeconds").and_then(Value::as_u64).or(query_grace);
        let mut warnings = Vec::new();
        match v.get("propagationPolicy").and_then(Value::as_str) {
            None | Some("Background") | Some("Foreground") => {}
            Some("Orphan") => warnings
                .push("propagationPolicy Orphan is not implemented: podlab deletes what the object owns too".into()),
            Some(other) => {
                return Err(ApiError::BadRequest(format!(
                    "propagationPolicy must be Orphan, Foreground or Background, not {other:?}"
                )));
            }
        }
        if v.get("orphanDependents").and_then(Value::as_bool) == Some(true) {
            warnings.push("orphanDependents is not implemented: podlab deletes what the object owns too".into());
        }
        let pre = v.get("preconditions");
        let text = |k: &str| pre.and_then(|p| p.get(k)).and_then(Value::as_str).map(str::to_string);
        Ok((
            DeleteOptions {
                grace: grace.map(std::time::Duration::from_secs),
                uid: text("uid"),
                resource_version: text("resourceVersion"),
            },
            warnings,
        ))
    }
}

/// DELETE: the object as it is being deleted (pods: Terminating, with their grace period
/// running in the background), or `NotFound`.
pub async fn delete(
    cluster: &Arc<Cluster>,
    kind: Kind,
    ns: Option<&str>,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Value, ApiError> {
    let live = get(cluster, kind, ns, name)?;
    let field = |p: &str| live.pointer(p).and_then(Value::as_str).map(str::to_string);
    if opts.uid.is_some() && opts.uid != field("/metadata/uid")
        || opts.resource_version.is_some() && opts.resource_version != field("/metadata/resourceVersion")
    {
        return Err(ApiError::Conflict {
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the precondition (uid or resourceVersion) does not match the object",
                kind.qualified()
            ),
        });
    }
    let nsn = ns.unwrap_or("default").to_string();
    match kind {
        Kind::Pod => {
            let key: Key = (nsn, name.to_string());
            let c = cluster.clone();
            let k = key.clone();
            let grace = opts.grace;
            tokio::spawn(async move {
                let _ = match grace {
                    Some(g) => c.delete_pod_grace(&k, g).await,
                    None => c.delete_pod(&k).await,
                };
            });
            // Let the delete mark the pod Terminating before answering.
            for _ in 0..50 {
                match cluster.pod(&key) {
                    Some(p) if p.metadata.deletion_timestamp.is_none() => tokio::task::yield_now().await,
                    Some(p) => return Ok(to_json(&p)),
                    None => break,
                }
            }
            Ok(live)
        }
        Kind::Deployment | Kind::ReplicaSet => {
            let w = if kind == Kind::Deployment {
                Workload::Deployment
            } else {
                Workload::ReplicaSet
            };
            let pick = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
                m.name.as_deref() == Some(name) && m.namespace.as_deref() == Some(nsn.as_str())
            };
            cluster.delete_workloads(w, pick)?;
            Ok(live)
        }
        Kind::Namespace => {
            cluster.delete_namespace(name)?;
            get(cluster, kind, None, name).or(Ok(live))
        }
        Kind::ConfigMap => {
            cluster.delete_config_map(&(nsn, name.to_string()))?;
            Ok(live)
        }
        Kind::Secret => {
            cluster.delete_secret(&(nsn, name.to_string()))?;
            Ok(live)
        }
        Kind::Node | Kind::Event => Err(ApiError::MethodNotAllowed(format!(
            "podlab does not delete {} through the API",
            kind.plural()
        ))),
    }
}
