//! Kubernetes objects podlab understands (Pod, Namespace, Deployment, ReplicaSet, ConfigMap,
//! Secret): reading
//! one YAML document into its typed k8s-openapi form, warnings for unknown fields, and
//! defaults (namespace "default").

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;

use crate::de::{self, TypeError};
use crate::error::{LoadError, Position, Warning};
use crate::validate;
use crate::yaml::{Node, Value};

/// Where an object was defined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file that holds it.
    pub file: PathBuf,
    /// 1-based line where the object starts.
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// Annotation that records where an object was defined (`path/to/file.yaml:12`); read it
/// back with [`Object::origin`].
pub const SOURCE_ANNOTATION: &str = "podlab.dev/source";

/// A Kubernetes object podlab can run. Where it came from (file, line) is kept in the
/// [`SOURCE_ANNOTATION`] annotation; see [`Object::origin`].
// Namespace stays unboxed (as the integration contract asks).
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    /// A `v1` Pod.
    Pod(Box<Pod>),
    /// A `v1` Namespace.
    Namespace(Namespace),
    /// An `apps/v1` Deployment.
    Deployment(Box<Deployment>),
    /// An `apps/v1` ReplicaSet.
    ReplicaSet(Box<ReplicaSet>),
    /// A `v1` ConfigMap.
    ConfigMap(Box<ConfigMap>),
    /// A `v1` Secret, as stored: `stringData` merged into `data`, `type` defaulted
    /// ([`crate::normalize_secret`]).
    Secret(Box<Secret>),
}

/// Kinds podlab supports, with their apiVersion.
pub const SUPPORTED_KINDS: [(&str, &str); 6] = [
    ("Pod", "v1"),
    ("Namespace", "v1"),
    ("Deployment", "apps/v1"),
    ("ReplicaSet", "apps/v1"),
    ("ConfigMap", "v1"),
    ("Secret", "v1"),
];

impl Object {
    /// Where the object was defined, from its [`SOURCE_ANNOTATION`] annotation (set for
    /// every object this crate loads).
    pub fn origin(&self) -> Option<Origin> {
        let text = self.metadata().annotations.as_ref()?.get(SOURCE_ANNOTATION)?;
        let (file, line) = text.rsplit_once(':')?;
        Some(Origin {
            file: PathBuf::from(file),
            line: line.parse().ok()?,
        })
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        match self {
            Object::Pod(p) => &mut p.metadata,
            Object::Namespace(n) => &mut n.metadata,
            Object::Deployment(d) => &mut d.metadata,
            Object::ReplicaSet(r) => &mut r.metadata,
            Object::ConfigMap(c) => &mut c.metadata,
            Object::Secret(s) => &mut s.metadata,
        }
    }

    /// The kind: "Pod", "Namespace", "Deployment", "ReplicaSet", "ConfigMap" or "Secret".
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Pod(_) => "Pod",
            Object::Namespace(_) => "Namespace",
            Object::Deployment(_) => "Deployment",
            Object::ReplicaSet(_) => "ReplicaSet",
            Object::ConfigMap(_) => "ConfigMap",
            Object::Secret(_) => "Secret",
        }
    }

    /// The object of kind `kind` (one of [`SUPPORTED_KINDS`]) that `value` describes, as the
    /// API stores it (a Secret normalized). `Err` names what could not be read.
    pub fn from_json(kind: &str, value: serde_json::Value) -> Result<Object, String> {
        fn boxed<T: DeserializeOwned>(v: serde_json::Value) -> Result<Box<T>, String> {
            serde_json::from_value(v).map(Box::new).map_err(|e| e.to_string())
        }
        Ok(match kind {
            "Pod" => Object::Pod(boxed(value)?),
            "Namespace" => Object::Namespace(*boxed(value)?),
            "Deployment" => Object::Deployment(boxed(value)?),
            "ReplicaSet" => Object::ReplicaSet(boxed(value)?),
            "ConfigMap" => Object::ConfigMap(boxed(value)?),
            "Secret" => {
                let mut s: Box<Secret> = boxed(value)?;
                crate::config::normalize_secret(&mut s);
                Object::Secret(s)
            }
            other => return Err(format!("kind {other:?} is not supported by podlab yet")),
        })
    }

    /// The object as the Kubernetes API shows it (JSON with `apiVersion` and `kind`).
    pub fn to_json(&self) -> serde_json::Value {
        let v = match self {
            Object::Pod(p) => serde_json::to_value(p),
            Object::Namespace(n) => serde_json::to_value(n),
            Object::Deployment(d) => serde_json::to_value(d),
            Object::ReplicaSet(r) => serde_json::to_value(r),
            Object::ConfigMap(c) => serde_json::to_value(c),
            Object::Secret(s) => serde_json::to_value(s),
        };
        v.unwrap_or(serde_json::Value::Null)
    }

    /// The object's metadata.
    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Pod(p) => &p.metadata,
            Object::Namespace(n) => &n.metadata,
            Object::Deployment(d) => &d.metadata,
            Object::ReplicaSet(r) => &r.metadata,
            Object::ConfigMap(c) => &c.metadata,
            Object::Secret(s) => &s.metadata,
        }
    }

    /// `metadata.name` (empty when only `generateName` is set).
    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or("")
    }

    /// `metadata.namespace`; `None` for the cluster-scoped Namespace kind.
    pub fn namespace(&self) -> Option<&str> {
        match self {
            Object::Namespace(_) => None,
            _ => self.metadata().namespace.as_deref(),
        }
    }
}

/// Reading state shared by everything in one file: the file name and the warnings so far.
pub(crate) struct Ctx<'w> {
    pub file: PathBuf,
    pub warnings: &'w mut Vec<Warning>,
}

impl Ctx<'_> {
    pub fn at(&self, line: usize, col: usize) -> Position {
        Position::new(self.file.clone(), line, col)
    }

    pub fn pos(&self, node: &Node) -> Position {
        self.at(node.line, node.col)
    }

    pub fn warn(&mut self, line: usize, message: String) {
        self.warnings.push(Warning {
            file: self.file.clone(),
            line,
            message,
        });
    }

    pub fn type_error(&self, e: TypeError, what: &str) -> LoadError {
        LoadError::Type {
            at: self.at(e.line, e.col),
            field: e.path.clone(),
            message: format!(
                "{} ({what} cannot be read from this document: this field has the wrong shape or type)",
                e.describe()
            ),
        }
    }
}

/// The `apiVersion` and `kind` of a document, if it is a map with both as strings.
pub(crate) fn type_meta(node: &Node) -> (Option<&str>, Option<&str>) {
    (
        node.get("apiVersion").and_then(Node::as_str),
        node.get("kind").and_then(Node::as_str),
    )
}

/// Reads one document (a Kubernetes object or a `v1 List` of them).
pub(crate) fn objects_from_node(node: &Node, ctx: &mut Ctx<'_>) -> Result<Vec<Object>, LoadError> {
    if !matches!(node.value, Value::Map(_)) {
        return Err(LoadError::Type {
            at: ctx.pos(node),
            field: String::new(),
            message: format!(
                "expected a Kubernetes object (a map with apiVersion, kind, metadata and spec), found {}",
                node.value.describe()
            ),
        });
    }
    let (api_version, kind) = type_meta(node);
    for (field, value) in [("apiVersion", api_version), ("kind", kind)] {
        if value.is_none() {
            let at = node.get(field).map_or_else(|| ctx.pos(node), |n| ctx.pos(n));
            return Err(LoadError::Invalid {
                at,
                message: format!(
                    "this object has no {field:?} (or it is not text): every Kubernetes object starts with apiVersion and kind, e.g. `apiVersion: v1` and `kind: Pod`"
                ),
            });
        }
    }
    let (api_version, kind) = (api_version.unwrap_or(""), kind.unwrap_or(""));
    let kind_pos = node.get("kind").map_or_else(|| ctx.pos(node), |n| ctx.pos(n));
    if kind == "List" && api_version == "v1" {
        let mut out = Vec::new();
        match node.get("items") {
            Some(Node {
                value: Value::Seq(items),
                ..
            }) => {
                for item in items {
                    out.extend(objects_from_node(item, ctx)?);
                }
            }
            Some(Node { value: Value::Null, .. }) | None => {}
            Some(other) => {
                return Err(LoadError::Type {
                    at: ctx.pos(other),
                    field: "items".into(),
                    message: format!("items: expected a list, found {}", other.value.describe()),
                });
            }
        }
        return Ok(out);
    }
    let Some(&(_, expected_version)) = SUPPORTED_KINDS.iter().find(|(k, _)| *k == kind) else {
        let supported: Vec<&str> = SUPPORTED_KINDS.iter().map(|(k, _)| *k).collect();
        return Err(LoadError::Unsupported {
            at: kind_pos,
            message: format!(
                "kind {kind:?} is not supported by podlab yet (supported: {})",
                supported.join(", ")
            ),
        });
    };
    if api_version != expected_version {
        let at = node.get("apiVersion").map_or(kind_pos, |n| ctx.pos(n));
        return Err(LoadError::Unsupported {
            at,
            message: format!(
                "no matches for kind {kind:?} in version {api_version:?}: {kind} is in apiVersion {expected_version:?}"
            ),
        });
    }
    let origin = Origin {
        file: ctx.file.clone(),
        line: node.line,
    };
    let mut object = typed_object(node, ctx, kind)?;
    check_object(&object, node, ctx)?;
    object
        .metadata_mut()
        .annotations
        .get_or_insert_with(BTreeMap::new)
        .insert(SOURCE_ANNOTATION.to_owned(), origin.to_string());
    Ok(vec![object])
}

/// The typed object of document `node`, whose `kind` is a supported one; namespaced kinds get
/// the `default` namespace, a Secret's `stringData` is merged into `data`.
fn typed_object(node: &Node, ctx: &mut Ctx<'_>, kind: &str) -> Result<Object, LoadError> {
    Ok(match kind {
        "Pod" => {
            let mut pod: Pod = typed(node, ctx, kind)?;
            default_namespace(&mut pod.metadata);
            Object::Pod(Box::new(pod))
        }
        "Namespace" => Object::Namespace(typed(node, ctx, kind)?),
        "Deployment" => {
            let mut d: Deployment = typed(node, ctx, kind)?;
            default_namespace(&mut d.metadata);
            Object::Deployment(Box::new(d))
        }
        "ReplicaSet" => {
            let mut r: ReplicaSet = typed(node, ctx, kind)?;
            default_namespace(&mut r.metadata);
            Object::ReplicaSet(Box::new(r))
        }
        "ConfigMap" => {
            let mut c: ConfigMap = typed(node, ctx, kind)?;
            default_namespace(&mut c.metadata);
            Object::ConfigMap(Box::new(c))
        }
        _ => {
            let mut s: Secret = typed(node, ctx, kind)?;
            default_namespace(&mut s.metadata);
            crate::config::normalize_secret(&mut s);
            Object::Secret(Box::new(s))
        }
    })
}

/// kube-apiserver's validation of `object` (the first failure located in `node`), then a
/// warning for every field it sets that podlab does not honour.
fn check_object(object: &Object, node: &Node, ctx: &mut Ctx<'_>) -> Result<(), LoadError> {
    let errors = validate::object(object);
    if let Some(first) = errors.first() {
        let at = ctx.pos(de::locate(node, &first.path));
        let name = object
            .metadata()
            .name
            .clone()
            .or_else(|| object.metadata().generate_name.clone())
            .unwrap_or_default();
        let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let detail = if list.len() == 1 {
            list[0].clone()
        } else {
            format!("[{}]", list.join(", "))
        };
        return Err(LoadError::Invalid {
            at,
            message: format!("The {} {name:?} is invalid: {detail}", object.kind()),
        });
    }
    let mut unimplemented: Vec<(usize, String)> = crate::unimplemented::warnings(object.kind(), &object.to_json())
        .into_iter()
        .map(|w| (de::locate(node, &w.path).line, w.message))
        .collect();
    unimplemented.sort_by_key(|(line, _)| *line);
    for (line, message) in unimplemented {
        ctx.warn(line, message);
    }
    Ok(())
}

fn default_namespace(meta: &mut ObjectMeta) {
    if meta.namespace.as_deref().is_none_or(str::is_empty) {
        meta.namespace = Some("default".into());
    }
}

/// Deserializes `T` and warns about every field `T` does not know (also when reading fails).
fn typed<T: DeserializeOwned>(node: &Node, ctx: &mut Ctx<'_>, kind: &str) -> Result<T, LoadError> {
    let (value, unknown) = de::from_node::<T>(node, "");
    for u in unknown {
        ctx.warn(u.line, u.to_string());
    }
    value.map_err(|e| ctx.type_error(e, &format!("a {kind}")))
}

/// Objects keyed by (kind, namespace, name), to find duplicates.
pub(crate) fn check_duplicates(objects: &[Object]) -> Result<(), LoadError> {
    let mut seen: BTreeMap<(String, String, String), Origin> = BTreeMap::new();
    for obj in objects {
        if obj.name().is_empty() {
            continue;
        }
        let key = (
            obj.kind().to_owned(),
            obj.namespace().unwrap_or("").to_owned(),
            obj.name().to_owned(),
        );
        let o = obj.origin().unwrap_or(Origin {
            file: PathBuf::new(),
            line: 0,
        });
        if let Some(first) = seen.get(&key) {
            let ns = obj
                .namespace()
                .map(|n| format!(" in namespace {n:?}"))
                .unwrap_or_default();
            return Err(LoadError::Duplicate {
                at: Position::new(o.file.clone(), o.line, 0),
                message: format!(
                    "{} {:?}{ns} is defined twice: first at {first}, again at {o} (names must be unique per kind and namespace)",
                    obj.kind(),
                    obj.name()
                ),
            });
        }
        seen.insert(key, o);
    }
    Ok(())
}

/// Whether the path is a YAML or JSON manifest file by its extension.
pub(crate) fn is_manifest_file(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml" | "json"))
}
