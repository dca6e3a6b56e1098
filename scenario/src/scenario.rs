//! Scenario files (`kind: Scenario`) and plain manifest files/directories: deciding which
//! one a file is, resolving `file:` references, and cross-checks between parts.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use crate::cluster::{self, ClusterSpec};
use crate::error::{LoadError, Position, Warning};
use crate::objects::{self, Ctx, Object};
use crate::selector::LabelSelector;
use crate::source;
use crate::steps::{self, Action, ApplySource, PodSelector, Step};
use crate::traffic::{self, CompareSpec};
use crate::walk::{self, Map};
use crate::yaml::{Node, Value};

/// The apiVersion of scenario files.
pub const SCENARIO_API_VERSION: &str = "podlab.dev/v1alpha1";

/// A loaded scenario: a cluster, the objects to apply at start, and steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// `metadata.name`, or the file name without extension.
    pub name: String,
    /// `metadata.description`.
    pub description: Option<String>,
    /// The file (or directory) it was loaded from.
    pub source: PathBuf,
    /// True when the file held only Kubernetes objects (no `kind: Scenario`).
    pub plain_manifest: bool,
    /// The cluster (defaults: two nodes worker-1 and worker-2).
    pub cluster: ClusterSpec,
    /// Objects applied at start, in file order.
    pub manifests: Vec<Object>,
    /// Steps, in order.
    pub steps: Vec<Step>,
    /// The `compare:` block (declared traffic and tiers for `podlab compare`), if any.
    pub compare: Option<CompareSpec>,
}

/// A scenario with the warnings found while loading it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// Warnings (unknown fields, steps naming pods nothing defines), in file order.
    pub warnings: Vec<Warning>,
}

/// Loads a scenario file, a plain manifest file, or a directory of manifests.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let mut warnings = Vec::new();
    let scenario = load_collecting(path, &mut warnings)?;
    Ok(Loaded { scenario, warnings })
}

/// [`load`], with the warnings put in `warnings` whether loading succeeds or not (a misspelt
/// required field gives both its unknown-field warning and the error).
pub fn load_collecting(path: &Path, warnings: &mut Vec<Warning>) -> Result<Scenario, LoadError> {
    if path.is_dir() {
        let manifests = load_manifests_collecting(path, warnings)?;
        return Ok(plain(path, manifests));
    }
    let text = source::read(path)?;
    let docs = source::parse_documents(&text, path)?;
    let mut ctx = Ctx {
        file: path.to_owned(),
        warnings,
    };
    check_not_empty(&docs, path)?;
    let scenario_docs: Vec<&Node> = docs
        .iter()
        .filter(|d| objects::type_meta(d).1 == Some("Scenario"))
        .collect();
    let scenario = match scenario_docs.as_slice() {
        [] => {
            let mut manifests = Vec::new();
            for doc in &docs {
                manifests.extend(objects::objects_from_node(doc, &mut ctx)?);
            }
            objects::check_duplicates(&manifests)?;
            plain(path, manifests)
        }
        [doc] => {
            let mut s = scenario_from_node(doc, path, &mut ctx)?;
            for extra in docs.iter().filter(|d| !std::ptr::eq(*d, *doc)) {
                s.manifests.extend(objects::objects_from_node(extra, &mut ctx)?);
            }
            objects::check_duplicates(&s.manifests)?;
            check_references(&s, &mut ctx);
            s
        }
        [_, second, ..] => {
            return Err(LoadError::Scenario {
                at: ctx.pos(second),
                message: "a file may hold only one Scenario document; put the second one in its own file".into(),
            });
        }
    };
    Ok(scenario)
}

/// Loads Kubernetes objects from a file (multi-document YAML, JSON) or from every
/// `*.yaml`, `*.yml` and `*.json` file of a directory (sorted by name, not recursive).
pub fn load_manifests(path: &Path) -> Result<(Vec<Object>, Vec<Warning>), LoadError> {
    let mut warnings = Vec::new();
    let objects = load_manifests_collecting(path, &mut warnings)?;
    Ok((objects, warnings))
}

/// [`load_manifests`], with the warnings put in `warnings` whether loading succeeds or not.
pub fn load_manifests_collecting(path: &Path, warnings: &mut Vec<Warning>) -> Result<Vec<Object>, LoadError> {
    let mut ctx = Ctx {
        file: path.to_owned(),
        warnings,
    };
    let objects = manifests_at(path, None, &mut ctx)?;
    objects::check_duplicates(&objects)?;
    Ok(objects)
}

fn plain(path: &Path, manifests: Vec<Object>) -> Scenario {
    Scenario {
        name: stem(path),
        description: None,
        source: path.to_owned(),
        plain_manifest: true,
        cluster: ClusterSpec::default(),
        manifests,
        steps: vec![],
        compare: None,
    }
}

/// A name from the file name, made a valid RFC 1123 label (`My Scenario.yaml` → `my-scenario`).
fn stem(path: &Path) -> String {
    let raw = path
        .file_stem()
        .or_else(|| path.file_name())
        .map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    let mut out = String::new();
    for c in raw.to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let out: String = out.trim_matches('-').chars().take(40).collect();
    let out = out.trim_matches('-').to_string();
    if out.is_empty() { "scenario".into() } else { out }
}

fn check_not_empty(docs: &[Node], path: &Path) -> Result<(), LoadError> {
    if docs.is_empty() {
        return Err(LoadError::Empty {
            at: Position::new(path, 0, 0),
            message: "the file is empty (or holds only comments): expected a podlab scenario (kind: Scenario) or Kubernetes objects such as a Pod".into(),
        });
    }
    if docs
        .iter()
        .all(|d| d.get("kind").is_none() && d.get("apiVersion").is_none())
    {
        return Err(LoadError::Empty {
            at: Position::new(path, docs[0].line, docs[0].col),
            message: "this file is neither a podlab scenario (apiVersion: podlab.dev/v1alpha1, kind: Scenario) nor Kubernetes manifests (objects with apiVersion and kind, e.g. apiVersion: v1, kind: Pod)".into(),
        });
    }
    Ok(())
}

/// Objects from a file or directory; `reference` is the `file:` entry that named it.
fn manifests_at(path: &Path, reference: Option<Position>, ctx: &mut Ctx<'_>) -> Result<Vec<Object>, LoadError> {
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|source| LoadError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file() && objects::is_manifest_file(p))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(LoadError::Empty {
                at: Position::new(path, 0, 0),
                message: "the directory holds no .yaml, .yml or .json files".into(),
            });
        }
        let mut out = Vec::new();
        for f in files {
            out.extend(manifests_at(&f, None, ctx)?);
        }
        return Ok(out);
    }
    let text = match (source::read(path), reference) {
        (Ok(t), _) => t,
        (Err(LoadError::Io { source, .. }), Some(at)) => {
            return Err(LoadError::ManifestPath {
                at,
                message: format!(
                    "cannot read manifest file {}: {source} (paths are relative to the scenario file's directory)",
                    path.display()
                ),
            });
        }
        (Err(e), _) => return Err(e),
    };
    let docs = source::parse_documents(&text, path)?;
    check_not_empty(&docs, path)?;
    let mut file_ctx = Ctx {
        file: path.to_owned(),
        warnings: ctx.warnings,
    };
    let mut out = Vec::new();
    for doc in &docs {
        if objects::type_meta(doc).1 == Some("Scenario") {
            return Err(LoadError::Unsupported {
                at: file_ctx.pos(doc),
                message: "this is a podlab scenario, not a Kubernetes manifest: load it as a scenario (podlab run <file>), not from `manifests:` or `apply:`".into(),
            });
        }
        out.extend(objects::objects_from_node(doc, &mut file_ctx)?);
    }
    Ok(out)
}

/// Resolves `file:` against the scenario's directory; refuses absolute paths and `..`
/// that leaves the directory.
fn resolve(base: &Path, node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<PathBuf, LoadError> {
    let text = walk::string(node, path, ctx)?;
    let rel = Path::new(&text);
    let err = |why: &str| LoadError::ManifestPath {
        at: ctx.pos(node),
        message: format!("{path}: {text:?} {why}"),
    };
    if rel.is_absolute() || rel.has_root() {
        return Err(err(
            "is an absolute path: manifest paths must be relative to the scenario file's directory, so the scenario can be copied with its files",
        ));
    }
    let mut depth = 0usize;
    for c in rel.components() {
        match c {
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    err("points outside the scenario's directory (through ..): keep manifests next to the scenario file or below it")
                })?;
            }
            Component::Normal(_) => depth += 1,
            _ => {}
        }
    }
    let full = base.join(rel);
    if !full.exists() {
        return Err(LoadError::ManifestPath {
            at: ctx.pos(node),
            message: format!(
                "{path}: manifest file {text:?} not found (looked for {}; paths are relative to the scenario file's directory)",
                full.display()
            ),
        });
    }
    Ok(full)
}

/// Reads manifest entries (`{file: x}`, inline objects, lists of them) for a scenario.
struct Entries {
    base: PathBuf,
}

impl Entries {
    fn entry(&self, node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Result<Vec<Object>, LoadError> {
        match &node.value {
            Value::Str(_) => {
                let full = resolve(&self.base, node, path, ctx)?;
                manifests_at(&full, Some(ctx.pos(node)), ctx)
            }
            Value::Map(_) if node.get("file").is_some() && node.get("kind").is_none() => {
                let m = Map::new(node, path, ctx)?;
                m.warn_unknown(&["file"], ctx);
                let f = node.get("file").unwrap_or(node);
                let full = resolve(&self.base, f, &m.child("file"), ctx)?;
                manifests_at(&full, Some(ctx.pos(f)), ctx)
            }
            Value::Map(_) => objects::objects_from_node(node, ctx),
            _ => Err(walk::mismatch(
                node,
                path,
                "`file: some.yaml` or a Kubernetes object (apiVersion, kind, metadata, spec)",
                ctx,
            )),
        }
    }

    fn list(&self, node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Result<Vec<Object>, LoadError> {
        match &node.value {
            Value::Seq(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    out.extend(self.entry(item, &format!("{path}[{i}]"), ctx)?);
                }
                Ok(out)
            }
            Value::Null => Ok(vec![]),
            _ => self.entry(node, path, ctx),
        }
    }
}

impl ApplySource for Entries {
    fn apply(&mut self, node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Result<Vec<Object>, LoadError> {
        let objs = self.list(node, path, ctx)?;
        if objs.is_empty() {
            return Err(walk::error(node, path, "nothing to apply", ctx));
        }
        objects::check_duplicates(&objs)?;
        Ok(objs)
    }
}

fn scenario_from_node(doc: &Node, path: &Path, ctx: &mut Ctx<'_>) -> Result<Scenario, LoadError> {
    let m = Map::new(doc, "", ctx)?;
    m.warn_unknown(
        &[
            "apiVersion",
            "kind",
            "metadata",
            "cluster",
            "manifests",
            "steps",
            "compare",
        ],
        ctx,
    );
    let api = m.string("apiVersion", ctx)?;
    if api.as_deref() != Some(SCENARIO_API_VERSION) {
        return Err(LoadError::Unsupported {
            at: ctx.pos(m.get("apiVersion").unwrap_or(doc)),
            message: format!(
                "a Scenario needs `apiVersion: {SCENARIO_API_VERSION}`, found {}",
                api.map_or_else(|| "none".into(), |a| format!("{a:?}"))
            ),
        });
    }
    let (mut name, mut description) = (stem(path), None);
    if let Some(meta) = m.get("metadata") {
        let mm = Map::new(meta, "metadata", ctx)?;
        mm.warn_unknown(&["name", "description"], ctx);
        if let Some(n) = mm.text("name", ctx)? {
            // The name becomes the cluster's name, a directory under /run/podlab: validate it
            // as Kubernetes validates names, so no path trick gets through.
            if let Some(p) = crate::names::dns1123_label(&n).into_iter().next() {
                return Err(walk::error(
                    mm.get("name").unwrap_or(meta),
                    "metadata.name",
                    &format!("Invalid value: {n:?}: {p}"),
                    ctx,
                ));
            }
            name = n;
        }
        description = mm.text("description", ctx)?;
    }
    let cluster = cluster::parse(m.get("cluster"), ctx)?;
    let mut entries = Entries {
        base: path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf),
    };
    let manifests = match m.get("manifests") {
        Some(n) if !matches!(n.value, Value::Seq(_)) => {
            return Err(walk::mismatch(n, "manifests", "a list", ctx));
        }
        Some(n) => entries.list(n, "manifests", ctx)?,
        None => vec![],
    };
    let steps = steps::parse(m.get("steps"), &mut entries, ctx)?;
    let compare = traffic::parse(m.get("compare"), ctx)?;
    Ok(Scenario {
        name,
        description,
        source: path.to_owned(),
        plain_manifest: false,
        cluster,
        manifests,
        steps,
        compare,
    })
}

/// Warns about steps that name pods (or select labels) no manifest defines.
fn check_references(s: &Scenario, ctx: &mut Ctx<'_>) {
    let mut pods: BTreeMap<(String, String), ()> = BTreeMap::new();
    let mut owners: Vec<(String, String)> = Vec::new();
    let mut label_sets: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let learn = |objs: &[Object],
                 pods: &mut BTreeMap<(String, String), ()>,
                 owners: &mut Vec<(String, String)>,
                 label_sets: &mut Vec<(String, BTreeMap<String, String>)>| {
        for o in objs {
            let ns = o.namespace().unwrap_or("default").to_owned();
            match o {
                Object::Pod(p) => {
                    pods.insert((ns.clone(), o.name().to_owned()), ());
                    label_sets.push((ns, p.metadata.labels.clone().unwrap_or_default()));
                }
                Object::Deployment(d) => {
                    owners.push((ns.clone(), o.name().to_owned()));
                    let l = d
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.metadata.as_ref()?.labels.clone());
                    label_sets.push((ns, l.unwrap_or_default()));
                }
                Object::ReplicaSet(r) => {
                    owners.push((ns.clone(), o.name().to_owned()));
                    let l = r
                        .spec
                        .as_ref()
                        .and_then(|s| s.template.as_ref()?.metadata.as_ref()?.labels.clone());
                    label_sets.push((ns, l.unwrap_or_default()));
                }
                Object::Namespace(_) | Object::ConfigMap(_) | Object::Secret(_) => {}
            }
        }
    };
    learn(&s.manifests, &mut pods, &mut owners, &mut label_sets);
    for step in &s.steps {
        let selectors: Vec<PodSelector> = match &step.action {
            Action::Apply(objs) => {
                learn(objs, &mut pods, &mut owners, &mut label_sets);
                vec![]
            }
            Action::Wait { pods, .. } | Action::Connectivity { pods, .. } | Action::Delete { pods } => {
                vec![pods.clone()]
            }
            Action::Expect(e) => vec![e.pods.clone()],
            // `node/NAME` runs the command in a node's namespaces, not in a pod.
            Action::Exec { pod, .. } if pod.starts_with("node/") => vec![],
            Action::Exec { pod, namespace, .. } => vec![PodSelector::Names {
                namespace: namespace.clone(),
                names: vec![pod.clone()],
            }],
            Action::Sleep(_) => vec![],
        };
        for sel in selectors {
            match sel {
                PodSelector::All => {}
                PodSelector::Names { namespace, names } => {
                    for n in names {
                        let known = pods.contains_key(&(namespace.clone(), n.clone()))
                            || owners
                                .iter()
                                .any(|(ns, o)| *ns == namespace && n.starts_with(&format!("{o}-")));
                        if !known {
                            ctx.warn(
                                step.line,
                                format!(
                                    "step refers to pod {n:?} in namespace {namespace:?}, but no manifest defines it"
                                ),
                            );
                        }
                    }
                }
                PodSelector::Labels { namespace, selector } => {
                    if !matches_any(&selector, namespace.as_deref(), &label_sets) {
                        ctx.warn(
                            step.line,
                            format!("step selects pods with {selector:?}, but no manifest defines a pod with matching labels", selector = selector.to_string()),
                        );
                    }
                }
            }
        }
    }
}

fn matches_any(sel: &LabelSelector, ns: Option<&str>, sets: &[(String, BTreeMap<String, String>)]) -> bool {
    sets.iter()
        .any(|(n, labels)| ns.is_none_or(|x| x == n) && sel.matches(labels))
}
