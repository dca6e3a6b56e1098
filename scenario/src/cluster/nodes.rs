//! The `cluster.nodes` list: each node in list form (`name:` and fields) or generator form
//! (`count:` with `{index}`/`{name}` templates), turned into k8s-openapi Nodes with
//! capacity, labels, taints and preloaded images checked.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerImage, Node as K8sNode, NodeSpec, NodeStatus, Taint};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::{DEFAULT_CPU, DEFAULT_MEMORY, DEFAULT_PODS};
use crate::error::LoadError;
use crate::images::{self, IMAGE_RUNS_ANNOTATION, ImageSpec};
use crate::names;
use crate::objects::Ctx;
use crate::quantity::parse_quantity;
use crate::walk::{self, Map};
use crate::yaml::{Node, Value};

/// The capacity of a node that says none: [`DEFAULT_CPU`], [`DEFAULT_MEMORY`], [`DEFAULT_PODS`].
pub(super) fn capacity_defaults() -> BTreeMap<String, Quantity> {
    [("cpu", DEFAULT_CPU), ("memory", DEFAULT_MEMORY), ("pods", DEFAULT_PODS)]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Quantity(v.to_owned())))
        .collect()
}

fn arch_label() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A Node with the well-known labels (`kubernetes.io/arch`, `os`, `hostname`) plus `labels`,
/// `capacity` as capacity and allocatable, `taints` and the cordon flag.
pub(super) fn make_node(
    name: &str,
    labels: &BTreeMap<String, String>,
    capacity: BTreeMap<String, Quantity>,
    taints: Vec<Taint>,
    unschedulable: bool,
) -> K8sNode {
    let mut all_labels = BTreeMap::from([
        ("kubernetes.io/arch".to_owned(), arch_label().to_owned()),
        ("kubernetes.io/os".to_owned(), "linux".to_owned()),
    ]);
    all_labels.extend(labels.clone());
    all_labels.insert("kubernetes.io/hostname".into(), name.to_owned());
    K8sNode {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(all_labels),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            taints: (!taints.is_empty()).then_some(taints),
            unschedulable: unschedulable.then_some(true),
            ..Default::default()
        }),
        status: Some(NodeStatus {
            allocatable: Some(capacity.clone()),
            capacity: Some(capacity),
            ..Default::default()
        }),
    }
}

pub(super) fn parse_nodes(node: &Node, ctx: &mut Ctx<'_>) -> Result<Vec<K8sNode>, LoadError> {
    let nodes = match &node.value {
        Value::Seq(items) => {
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("cluster.nodes[{i}]");
                let m = Map::new(item, &path, ctx)?;
                m.warn_unknown(
                    &[
                        "name",
                        "capacity",
                        "labels",
                        "taints",
                        "unschedulable",
                        "images",
                        "uplink",
                    ],
                    ctx,
                );
                let name_node = m.get("name").ok_or_else(|| {
                    walk::error(
                        item,
                        &format!("{path}.name"),
                        "Required value: every node needs a name, e.g. worker-1",
                        ctx,
                    )
                })?;
                let name = walk::string(name_node, &format!("{path}.name"), ctx)?;
                out.push((name_node, node_from_fields(&name, &m, None, ctx)?));
            }
            out
        }
        Value::Map(_) => {
            let m = Map::new(node, "cluster.nodes", ctx)?;
            m.warn_unknown(
                &[
                    "count",
                    "namePrefix",
                    "capacity",
                    "labels",
                    "taints",
                    "unschedulable",
                    "images",
                    "uplink",
                ],
                ctx,
            );
            let count = m.uint("count", 4096, ctx)?.ok_or_else(|| {
                walk::error(
                    node,
                    "cluster.nodes.count",
                    "Required value: the generator form needs a count, e.g. {count: 3, namePrefix: worker-}",
                    ctx,
                )
            })?;
            let prefix = m.string("namePrefix", ctx)?.unwrap_or_else(|| "worker-".into());
            let mut out = Vec::new();
            for index in 1..=count {
                let name = format!("{prefix}{index}");
                out.push((node, node_from_fields(&name, &m, Some(index), ctx)?));
            }
            out
        }
        _ => {
            return Err(walk::mismatch(
                node,
                "cluster.nodes",
                "a list of nodes or a generator like {count: 3}",
                ctx,
            ));
        }
    };
    if nodes.is_empty() {
        return Err(walk::error(
            node,
            "cluster.nodes",
            "a cluster needs at least one node",
            ctx,
        ));
    }
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (at, n) in &nodes {
        let name = n.metadata.name.clone().unwrap_or_default();
        if let Some(p) = names::dns1123_subdomain(&name).into_iter().next() {
            return Err(walk::error(
                at,
                "cluster.nodes",
                &format!("node name {name:?} is invalid: {p}"),
                ctx,
            ));
        }
        if let Some(first) = seen.insert(name.clone(), at.line) {
            return Err(walk::error(
                at,
                "cluster.nodes",
                &format!("node {name:?} is defined twice (first on line {first}); node names must be unique"),
                ctx,
            ));
        }
    }
    Ok(nodes.into_iter().map(|(_, n)| n).collect())
}

fn node_from_fields(name: &str, m: &Map<'_>, index: Option<u64>, ctx: &mut Ctx<'_>) -> Result<K8sNode, LoadError> {
    let subst = |s: &str| match index {
        Some(i) => s.replace("{index}", &i.to_string()).replace("{name}", name),
        None => s.replace("{name}", name),
    };
    let mut capacity = capacity_defaults();
    if let Some(c) = m.get("capacity") {
        let cm = Map::new(c, &m.child("capacity"), ctx)?;
        for (k, v) in cm.node.entries().unwrap_or_default() {
            let path = cm.child(&k.name);
            let text = v
                .scalar_text()
                .ok_or_else(|| walk::mismatch(v, &path, "a quantity like \"2\" or \"4Gi\"", ctx))?;
            match parse_quantity(&text) {
                Ok(q) if q < 0.0 => {
                    return Err(walk::error(v, &path, "must be greater than or equal to 0", ctx));
                }
                Ok(q) if k.name == "pods" && q.fract() != 0.0 => {
                    return Err(walk::error(v, &path, "pods must be a whole number", ctx));
                }
                Ok(_) => {}
                Err(e) => return Err(walk::error(v, &path, &e.to_string(), ctx)),
            }
            if !["cpu", "memory", "pods", "ephemeral-storage"].contains(&k.name.as_str()) && !k.name.contains('/') {
                ctx.warn(
                    k.line,
                    format!(
                        "unknown resource {:?} in {} (podlab knows cpu, memory, pods)",
                        k.name, cm.path
                    ),
                );
            }
            capacity.insert(k.name.clone(), Quantity(text));
        }
    }
    let mut labels = BTreeMap::new();
    if let Some(l) = m.get("labels") {
        let lm = Map::new(l, &m.child("labels"), ctx)?;
        for (k, v) in lm.node.entries().unwrap_or_default() {
            let value = v
                .scalar_text()
                .ok_or_else(|| walk::mismatch(v, &lm.child(&k.name), "a label value", ctx))?;
            let (key, value) = (subst(&k.name), subst(&value));
            let problem = names::qualified_name(&key)
                .into_iter()
                .chain(names::label_value(&value))
                .next();
            if let Some(p) = problem {
                return Err(walk::error(
                    v,
                    &lm.path,
                    &format!("Invalid value: {key:?}: {value:?}: {p}"),
                    ctx,
                ));
            }
            labels.insert(key, value);
        }
    }
    let mut taints = Vec::new();
    if let Some(t) = m.get("taints") {
        let Value::Seq(items) = &t.value else {
            return Err(walk::mismatch(t, &m.child("taints"), "a list of taints", ctx));
        };
        for (i, item) in items.iter().enumerate() {
            let path = format!("{}[{i}]", m.child("taints"));
            let tm = Map::new(item, &path, ctx)?;
            tm.warn_unknown(&["key", "value", "effect"], ctx);
            let key = tm
                .string("key", ctx)?
                .ok_or_else(|| walk::error(item, &format!("{path}.key"), "Required value", ctx))?;
            if let Some(p) = names::qualified_name(&key).into_iter().next() {
                return Err(walk::error(
                    item,
                    &format!("{path}.key"),
                    &format!("Invalid value: {key:?}: {p}"),
                    ctx,
                ));
            }
            let value = tm.text("value", ctx)?;
            let effect = tm.string("effect", ctx)?.ok_or_else(|| {
                walk::error(
                    item,
                    &format!("{path}.effect"),
                    "Required value: one of NoSchedule, PreferNoSchedule, NoExecute",
                    ctx,
                )
            })?;
            if !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect.as_str()) {
                return Err(walk::error(
                    tm.get("effect").unwrap_or(item),
                    &format!("{path}.effect"),
                    &format!(
                        "Unsupported value: {effect:?}: supported values: \"NoExecute\", \"NoSchedule\", \"PreferNoSchedule\""
                    ),
                    ctx,
                ));
            }
            taints.push(Taint {
                key,
                value,
                effect,
                time_added: None,
            });
        }
    }
    let unschedulable = m.bool("unschedulable", ctx)?.unwrap_or(false);
    let mut node = make_node(name, &labels, capacity, taints, unschedulable);
    if let Some(i) = m.get("images").filter(|i| i.value != Value::Null) {
        let list = images::parse_list(i, &m.child("images"), true, ctx)?;
        set_images(&mut node, &list);
    }
    Ok(node)
}

/// Puts preloaded images into `status.images` (normalized names, as the scheduler's
/// ImageLocality compares them) and records what locally built ones run in the
/// [`IMAGE_RUNS_ANNOTATION`] annotation.
fn set_images(node: &mut K8sNode, list: &[ImageSpec]) {
    if list.is_empty() {
        return;
    }
    let status = node.status.get_or_insert_with(Default::default);
    status.images = Some(
        list.iter()
            .map(|i| ContainerImage {
                names: Some(vec![images::normalize_image(&i.name)]),
                size_bytes: Some(images::image_size_bytes(&i.runs)),
            })
            .collect(),
    );
    let runs: Vec<String> = list
        .iter()
        .filter(|i| images::image_repository(&i.name) != images::image_repository(&i.runs))
        .map(|i| format!("{}={}", images::normalize_image(&i.name), i.runs))
        .collect();
    if !runs.is_empty() {
        node.metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert(IMAGE_RUNS_ANNOTATION.to_owned(), runs.join(","));
    }
}
