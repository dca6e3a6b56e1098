//! The HTTP side of the resource verbs: a request's method, path, query, headers and body in,
//! a Kubernetes answer out (an object, a List, a Table, a watch stream, a Status error).

use crate::kinds::Kind;
use crate::patch::{self, PatchType};
use crate::request::{Query, Target};
use crate::selectors::Selectors;
use crate::status::{error_response, json_response};
use crate::table::{self, Include};
use crate::{Api, fields, logs, objects, protobuf, watch};
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use podlab_control_plane::{ApiError, Cluster, Key, Workload};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// The largest request body accepted (kube-apiserver's limit is 3 MiB).
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// A request to a resource URL.
pub struct ResourceRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// What the URL points at.
    pub target: Target,
    /// The query parameters.
    pub query: Query,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The request body.
    pub body: axum::body::Bytes,
}

/// Answers one resource request. Warnings about the body (unknown fields, fields podlab does
/// not honour) go with the answer, an error included (a misspelt required field gives both).
pub async fn resource(api: &Api, req: ResourceRequest<'_>) -> Response {
    let mut warnings = Vec::new();
    let mut r = match dispatch(api, req, &mut warnings).await {
        Ok(r) => r,
        Err(e) => error_response(&e),
    };
    add_warnings(&mut r, &warnings);
    r
}

async fn dispatch(api: &Api, req: ResourceRequest<'_>, warnings: &mut Vec<String>) -> Result<Response, ApiError> {
    let t = &req.target;
    let cluster = &api.cluster;
    match (req.method.clone(), t.name.as_deref(), t.sub.as_deref()) {
        (Method::GET, None, None) => list_or_watch(api, &req),
        (Method::GET, Some(name), None | Some("status")) => {
            let obj = objects::get(cluster, t.kind, t.namespace.as_deref(), name)?;
            Ok(one(cluster, &req, obj, StatusCode::OK))
        }
        (Method::GET, Some(name), Some("log")) if t.kind == Kind::Pod => {
            let key: Key = (ns(t), name.to_string());
            let (body, warnings) = logs::logs(cluster.clone(), key, &req.query)?;
            let mut r = (StatusCode::OK, body).into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            add_warnings(&mut r, &warnings);
            Ok(r)
        }
        (Method::GET, Some(name), Some("scale")) => {
            scale_get(cluster, t, name).map(|s| json_response(StatusCode::OK, &s))
        }
        (Method::POST, None, None) => create(cluster, &req, warnings),
        (Method::PUT, Some(name), None) => {
            let body = parse_body(&req)?;
            check_fields(t.kind, &body, &req.query, warnings)?;
            let obj = if dry_run(&req.query) {
                objects::get(cluster, t.kind, t.namespace.as_deref(), name)?
            } else {
                objects::update(cluster, t.kind, t.namespace.as_deref(), name, body)?
            };
            Ok(one(cluster, &req, obj, StatusCode::OK))
        }
        (Method::PATCH, Some(name), None) => patch_object(cluster, &req, name, warnings),
        (Method::PATCH | Method::PUT, Some(name), Some("scale")) => scale_set(cluster, &req, name),
        (Method::DELETE, Some(name), None) => {
            if dry_run(&req.query) {
                let obj = objects::get(cluster, t.kind, t.namespace.as_deref(), name)?;
                return Ok(json_response(StatusCode::OK, &obj));
            }
            let (opts, warnings) = objects::DeleteOptions::parse(&req.body, req.query.number("gracePeriodSeconds")?)?;
            let obj = objects::delete(cluster, t.kind, t.namespace.as_deref(), name, &opts).await?;
            Ok(with_warnings(json_response(StatusCode::OK, &obj), &warnings))
        }
        (Method::DELETE, None, None) => delete_collection(cluster, &req).await,
        (m, _, sub) => Err(ApiError::MethodNotAllowed(format!(
            "the server does not allow this method on the requested resource ({m} {}{})",
            t.kind.plural(),
            sub.map(|s| format!("/{s}")).unwrap_or_default()
        ))),
    }
}

fn ns(t: &Target) -> String {
    t.namespace.clone().unwrap_or_else(|| "default".into())
}

fn accept(req: &ResourceRequest) -> String {
    req.headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

fn dry_run(q: &Query) -> bool {
    q.get("dryRun") == Some("All")
}

/// One object, as itself or as a one-row Table.
fn one(cluster: &Arc<Cluster>, req: &ResourceRequest, obj: Value, code: StatusCode) -> Response {
    if table::wants_table(&accept(req)) {
        let include = Include::from_param(req.query.get("includeObject"));
        let rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let c = cluster.clone();
        let t = table::table(req.target.kind, &[obj], &rv, include, true, &|n| c.node_failed(n));
        return json_response(code, &t);
    }
    json_response(code, &obj)
}

fn list_or_watch(api: &Api, req: &ResourceRequest) -> Result<Response, ApiError> {
    let cluster = &api.cluster;
    let q = &req.query;
    let t = &req.target;
    let selectors = Selectors::parse(q.get("labelSelector"), q.get("fieldSelector"))?;
    let wants_table = table::wants_table(&accept(req));
    let include = Include::from_param(q.get("includeObject"));
    if q.flag("watch") {
        let spec = watch::WatchSpec {
            kind: t.kind,
            namespace: t.namespace.clone(),
            selectors,
            since: q.get("resourceVersion").and_then(|v| v.parse().ok()),
            table: wants_table.then_some(include),
            timeout: q.number("timeoutSeconds")?.map(Duration::from_secs),
        };
        let mut r = (
            StatusCode::OK,
            watch::stream(cluster.clone(), api.snapshots.clone(), spec),
        )
            .into_response();
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        return Ok(r);
    }
    let rv = cluster.resource_version().to_string();
    let mut items: Vec<Value> = objects::list(cluster, t.kind, t.namespace.as_deref())
        .into_iter()
        .filter(|o| selectors.matches(o))
        .collect();
    items.sort_by_key(|o| {
        let ns = o
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let name = o
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        (ns, name)
    });
    if wants_table {
        let c = cluster.clone();
        let tbl = table::table(t.kind, &items, &rv, include, true, &|n| c.node_failed(n));
        return Ok(json_response(StatusCode::OK, &tbl));
    }
    let list = json!({
        "kind": format!("{}List", t.kind.kind()),
        "apiVersion": t.kind.api_version(),
        "metadata": {"resourceVersion": rv},
        "items": items,
    });
    Ok(json_response(StatusCode::OK, &list))
}

/// The request body as JSON (YAML accepted too, as `apply-patch+yaml` allows).
fn parse_body(req: &ResourceRequest) -> Result<Value, ApiError> {
    let ct = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json");
    if ct.contains("protobuf") {
        return protobuf::to_json(&req.body).map_err(|e| match e {
            protobuf::ProtoError::Kind(m) => ApiError::UnsupportedMediaType(m),
            e => ApiError::BadRequest(e.to_string()),
        });
    }
    if req.body.is_empty() {
        return Err(ApiError::BadRequest("the request body is empty".into()));
    }
    match serde_json::from_slice(&req.body) {
        Ok(v) => Ok(v),
        Err(e) if ct.contains("yaml") => serde_saphyr::from_slice(&req.body)
            .map_err(|y| ApiError::BadRequest(format!("the request body is neither JSON ({e}) nor YAML ({y})"))),
        Err(e) => Err(ApiError::BadRequest(format!("the request body is not valid JSON: {e}"))),
    }
}

/// `fieldValidation`: Strict refuses unknown fields, Warn (the default) and Ignore let them
/// through (Warn with a `Warning` each, put in `warnings`). Fields podlab does not honour
/// always get a warning.
fn check_fields(kind: Kind, body: &Value, q: &Query, warnings: &mut Vec<String>) -> Result<(), ApiError> {
    let unknown = fields::unknown_fields(kind, body);
    let unknown = match q.get("fieldValidation").unwrap_or("Warn") {
        "Strict" if !unknown.is_empty() => {
            return Err(ApiError::BadRequest(format!(
                "strict decoding error: {}",
                unknown.join(", ")
            )));
        }
        "Ignore" => vec![],
        "Strict" | "Warn" => unknown,
        other => {
            return Err(ApiError::BadRequest(format!(
                "fieldValidation must be one of Strict, Warn or Ignore, not {other:?}"
            )));
        }
    };
    warnings.extend(unknown);
    warnings.extend(fields::unimplemented(kind, body));
    Ok(())
}

/// `Warning: 299 - "text"` headers, quoted as kube-apiserver quotes them (kubectl prints
/// `Warning: text`).
fn add_warnings(r: &mut Response, warnings: &[String]) {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append("Warning", v);
        }
    }
}

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    add_warnings(&mut r, warnings);
    r
}

fn create(cluster: &Arc<Cluster>, req: &ResourceRequest, warnings: &mut Vec<String>) -> Result<Response, ApiError> {
    let t = &req.target;
    let body = parse_body(req)?;
    check_fields(t.kind, &body, &req.query, warnings)?;
    if t.kind.namespaced() && t.namespace.is_none() {
        return Err(ApiError::MethodNotAllowed(format!(
            "create {} in a namespace: POST /api/v1/namespaces/NAMESPACE/{}",
            t.kind.plural(),
            t.kind.plural()
        )));
    }
    if dry_run(&req.query) {
        let obj = objects::checked(t.kind, t.namespace.as_deref(), body)?;
        return Ok(json_response(StatusCode::CREATED, &obj.to_json()));
    }
    let obj = objects::create(cluster, t.kind, t.namespace.as_deref(), body)?;
    Ok(one(cluster, req, obj, StatusCode::CREATED))
}

fn patch_object(
    cluster: &Arc<Cluster>,
    req: &ResourceRequest,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Response, ApiError> {
    let t = &req.target;
    let ct = req
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let ty = PatchType::from_content_type(ct).ok_or_else(|| {
        ApiError::UnsupportedMediaType(format!(
            "the body of a PATCH must be application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json or application/apply-patch+yaml, not {ct:?}"
        ))
    })?;
    let body = parse_body(req)?;
    let live = match objects::get(cluster, t.kind, t.namespace.as_deref(), name) {
        Ok(l) => l,
        // Server-side apply creates what does not exist.
        Err(ApiError::NotFound { .. }) if matches!(ty, PatchType::Apply) => {
            check_fields(t.kind, &body, &req.query, warnings)?;
            let obj = objects::create(cluster, t.kind, t.namespace.as_deref(), body)?;
            return Ok(one(cluster, req, obj, StatusCode::CREATED));
        }
        Err(e) => return Err(e),
    };
    let patched =
        patch::apply_patch(t.kind.kind(), &live, &body, ty).map_err(|e| patch_error(t.kind.kind(), name, e))?;
    check_fields(t.kind, &patched, &req.query, warnings)?;
    if dry_run(&req.query) {
        return Ok(json_response(StatusCode::OK, &patched));
    }
    let obj = objects::update(cluster, t.kind, t.namespace.as_deref(), name, patched)?;
    Ok(one(cluster, req, obj, StatusCode::OK))
}

/// A patch that does not apply, as kube-apiserver answers it.
fn patch_error(kind: &str, name: &str, e: patch::PatchError) -> ApiError {
    match e.code() {
        413 => ApiError::TooLarge(e.to_string()),
        422 => ApiError::Invalid {
            resource: kind.into(),
            name: name.into(),
            message: e.cause().map_or_else(|| e.to_string(), str::to_string),
        },
        _ => ApiError::BadRequest(e.to_string()),
    }
}

fn workload(kind: Kind) -> Result<Workload, ApiError> {
    match kind {
        Kind::Deployment => Ok(Workload::Deployment),
        Kind::ReplicaSet => Ok(Workload::ReplicaSet),
        k => Err(ApiError::NotFound {
            resource: format!("{}/scale", k.plural()),
            name: String::new(),
            hint: None,
        }),
    }
}

/// `GET …/scale`: an `autoscaling/v1` Scale.
fn scale_get(cluster: &Cluster, t: &Target, name: &str) -> Result<Value, ApiError> {
    workload(t.kind)?;
    let obj = objects::get(cluster, t.kind, t.namespace.as_deref(), name)?;
    let selector: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector> = obj
        .pointer("/spec/selector")
        .and_then(|s| serde_json::from_value(s.clone()).ok());
    let selector = selector
        .and_then(|s| podlab_scenario::LabelSelector::from_k8s(&s).ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": name,
            "namespace": obj.pointer("/metadata/namespace"),
            "uid": obj.pointer("/metadata/uid"),
            "resourceVersion": obj.pointer("/metadata/resourceVersion"),
            "creationTimestamp": obj.pointer("/metadata/creationTimestamp"),
        },
        "spec": {"replicas": obj.pointer("/spec/replicas").cloned().unwrap_or(json!(1))},
        "status": {
            "replicas": obj.pointer("/status/replicas").cloned().unwrap_or(json!(0)),
            "selector": selector,
        },
    }))
}

/// `PATCH`/`PUT …/scale`: set `spec.replicas`.
fn scale_set(cluster: &Arc<Cluster>, req: &ResourceRequest, name: &str) -> Result<Response, ApiError> {
    let t = &req.target;
    let w = workload(t.kind)?;
    let live = scale_get(cluster, t, name)?;
    let body = parse_body(req)?;
    let scale = if req.method == Method::PUT {
        body
    } else {
        let ct = req
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let ty = PatchType::from_content_type(ct).unwrap_or(PatchType::Merge);
        patch::apply_patch("Scale", &live, &body, ty).map_err(|e| patch_error("Scale", name, e))?
    };
    let replicas = scale
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .ok_or_else(|| ApiError::BadRequest("spec.replicas: Required value".into()))?;
    let replicas = i32::try_from(replicas)
        .map_err(|_| ApiError::BadRequest(format!("spec.replicas: Invalid value: {replicas}")))?;
    if replicas < 0 {
        return Err(ApiError::Invalid {
            resource: "Scale".into(),
            name: name.into(),
            message: format!("spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"),
        });
    }
    if !dry_run(&req.query) {
        cluster.scale(w, &(ns(t), name.to_string()), replicas)?;
    }
    Ok(json_response(StatusCode::OK, &scale_get(cluster, t, name)?))
}

/// `DELETE` on a collection (`kubectl delete pods --all` sends one per object; client libraries
/// send this): every object the selectors match.
async fn delete_collection(cluster: &Arc<Cluster>, req: &ResourceRequest<'_>) -> Result<Response, ApiError> {
    let t = &req.target;
    let selectors = Selectors::parse(req.query.get("labelSelector"), req.query.get("fieldSelector"))?;
    let items: Vec<Value> = objects::list(cluster, t.kind, t.namespace.as_deref())
        .into_iter()
        .filter(|o| selectors.matches(o))
        .collect();
    let (opts, warnings) = objects::DeleteOptions::parse(&req.body, req.query.number("gracePeriodSeconds")?)?;
    let mut deleted = Vec::new();
    for o in &items {
        let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let ns = o.pointer("/metadata/namespace").and_then(Value::as_str);
        if !dry_run(&req.query) {
            deleted.push(objects::delete(cluster, t.kind, ns, name, &opts).await?);
        } else {
            deleted.push(o.clone());
        }
    }
    let list = json!({
        "kind": format!("{}List", t.kind.kind()),
        "apiVersion": t.kind.api_version(),
        "metadata": {"resourceVersion": cluster.resource_version().to_string()},
        "items": deleted,
    });
    Ok(with_warnings(json_response(StatusCode::OK, &list), &warnings))
}

/// Reads a request body up to [`MAX_BODY`]; larger is `413 RequestEntityTooLarge`.
pub async fn read_body(body: Body) -> Result<axum::body::Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        ApiError::TooLarge(format!(
            "the request is too large (more than {} MiB) or was cut short",
            MAX_BODY / 1024 / 1024
        ))
    })
}
