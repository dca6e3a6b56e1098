//! The daemon's side of the kubectl-shaped commands: `get`, `describe`, `logs`, `apply`,
//! `delete`, `scale`, `label`, `create namespace`, and where `exec`/`port-forward` must go.
//! Output is rendered here, the way kubectl renders it.

use crate::printers::{self, age_secs, human_duration, labels_csv, table};
use crate::protocol::{Reply, Request};
use crate::runner;
use anyhow::{Result, anyhow, bail};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{Namespace, Pod};
use podlab_control_plane::{ApiError, Cluster, Key, Workload, key_of};
use podlab_scenario::LabelSelector;
use podlab_scenario::Object;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Where replies go; `false` from `send` means the client went away.
pub trait Sink {
    fn send(&mut self, r: Reply) -> impl std::future::Future<Output = bool> + Send;
}

/// The canonical resource name for kubectl's spellings.
pub fn resource(r: &str) -> Result<&'static str> {
    let r = r.to_ascii_lowercase();
    let r = r.split('.').next().unwrap_or_default().to_string();
    Ok(match r.as_str() {
        "po" | "pod" | "pods" => "pods",
        "no" | "node" | "nodes" => "nodes",
        "deploy" | "deployment" | "deployments" => "deployments",
        "rs" | "replicaset" | "replicasets" => "replicasets",
        "ns" | "namespace" | "namespaces" => "namespaces",
        "ev" | "event" | "events" => "events",
        other => bail!("error: the server doesn't have a resource type \"{other}\""),
    })
}

fn selector(s: &Option<String>) -> Result<Option<LabelSelector>> {
    s.as_ref()
        .map(|s| LabelSelector::parse(s).map_err(|e| anyhow!("error: unable to parse requirement: {e}")))
        .transpose()
}

fn labels_of(
    m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> std::collections::BTreeMap<String, String> {
    m.labels.clone().unwrap_or_default()
}

/// Filter objects by name, namespace and selector.
fn keep(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    name: &Option<String>,
    ns: Option<&str>,
    sel: &Option<LabelSelector>,
) -> bool {
    name.as_ref().is_none_or(|n| meta.name.as_ref() == Some(n))
        && ns.is_none_or(|ns| meta.namespace.as_deref().unwrap_or("default") == ns)
        && sel.as_ref().is_none_or(|s| s.matches(&labels_of(meta)))
}

fn serialize_all<T: Serialize>(items: &[T], output: &str) -> Result<String> {
    let value = if items.len() == 1 {
        serde_json::to_value(&items[0])?
    } else {
        serde_json::json!({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}})
    };
    Ok(match output {
        "json" => serde_json::to_string_pretty(&value)? + "\n",
        _ => serde_saphyr::to_string(&value).map_err(|e| anyhow!("rendering YAML: {e}"))?,
    })
}

fn age(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    human_duration(age_secs(t))
}

fn images(t: Option<&k8s_openapi::api::core::v1::PodTemplateSpec>) -> (String, String) {
    let cs = t
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    (
        cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(","),
        cs.iter()
            .map(|c| c.image.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn match_labels(s: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> String {
    LabelSelector::from_k8s(s).map(|s| s.to_string()).unwrap_or_default()
}

/// How `get` shows one kind of workload (Deployments, ReplicaSets).
struct WorkloadView<T> {
    /// `deployment.apps`: the prefix of `-o name`.
    kind: &'static str,
    /// The columns between NAME and AGE.
    headers: [&'static str; 3],
    meta: fn(&T) -> &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    columns: fn(&T) -> [String; 3],
    /// CONTAINERS, IMAGES, SELECTOR for `-o wide`.
    wide: fn(&T) -> [String; 3],
}

fn workload_get<T: Serialize>(
    items: &[T],
    v: &WorkloadView<T>,
    out: &str,
    with_ns: bool,
    wide: bool,
) -> Result<String> {
    match out {
        "yaml" | "json" => serialize_all(items, out),
        "name" => Ok(items
            .iter()
            .map(|d| format!("{}/{}\n", v.kind, (v.meta)(d).name.clone().unwrap_or_default()))
            .collect()),
        _ => {
            let mut h = vec![];
            if with_ns {
                h.push("NAMESPACE");
            }
            h.push("NAME");
            h.extend(v.headers);
            h.push("AGE");
            if wide {
                h.extend(["CONTAINERS", "IMAGES", "SELECTOR"]);
            }
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|d| {
                    let meta = (v.meta)(d);
                    let mut r = vec![];
                    if with_ns {
                        r.push(meta.namespace.clone().unwrap_or_default());
                    }
                    r.push(meta.name.clone().unwrap_or_default());
                    r.extend((v.columns)(d));
                    r.push(age(meta.creation_timestamp.as_ref()));
                    if wide {
                        r.extend((v.wide)(d));
                    }
                    r
                })
                .collect();
            Ok(table(&h, &rows))
        }
    }
}

/// Render `get` once.
pub fn get(cluster: &Cluster, req: &Request) -> Result<String> {
    let Request::Get {
        resource: r,
        name,
        namespace,
        all_namespaces,
        selector: sel,
        output,
        show_labels,
        ..
    } = req
    else {
        bail!("not a get request");
    };
    let kind = resource(r)?;
    let sel = selector(sel)?;
    let ns_filter: Option<&str> = if *all_namespaces {
        None
    } else {
        Some(namespace.as_deref().unwrap_or("default"))
    };
    let out = output.as_deref().unwrap_or("");
    let wide = out == "wide";
    let with_ns = *all_namespaces;
    let not_found = |what: &str| -> Result<String> {
        match name {
            Some(n) => Err(ApiError::not_found(what, n).into()),
            None => Ok(match ns_filter {
                Some(ns) if kind != "nodes" && kind != "namespaces" => {
                    format!("No resources found in {ns} namespace.\n")
                }
                _ => "No resources found\n".into(),
            }),
        }
    };
    match kind {
        "pods" => {
            let mut pods: Vec<Pod> = cluster
                .pods()
                .into_iter()
                .filter(|p| keep(&p.metadata, name, ns_filter, &sel))
                .collect();
            pods.sort_by_key(key_of);
            if pods.is_empty() {
                return not_found("pods");
            }
            match out {
                "yaml" | "json" => serialize_all(&pods, out),
                "name" => Ok(pods
                    .iter()
                    .map(|p| format!("pod/{}\n", p.metadata.name.clone().unwrap_or_default()))
                    .collect()),
                _ => {
                    let (h, rows) = printers::pods_rows(&pods, wide, with_ns, *show_labels);
                    Ok(table(&h, &rows))
                }
            }
        }
        "nodes" => {
            let nodes: Vec<_> = cluster
                .nodes
                .iter()
                .map(|n| n.node.clone())
                .filter(|n| keep(&n.metadata, name, None, &sel))
                .collect();
            if nodes.is_empty() {
                return not_found("nodes");
            }
            match out {
                "yaml" | "json" => serialize_all(&nodes, out),
                "name" => Ok(nodes
                    .iter()
                    .map(|n| format!("node/{}\n", n.metadata.name.clone().unwrap_or_default()))
                    .collect()),
                _ => {
                    let mut h = vec!["NAME", "STATUS", "ROLES", "AGE", "VERSION"];
                    if wide {
                        h.extend([
                            "INTERNAL-IP",
                            "EXTERNAL-IP",
                            "OS-IMAGE",
                            "KERNEL-VERSION",
                            "CONTAINER-RUNTIME",
                        ]);
                    }
                    if *show_labels {
                        h.push("LABELS");
                    }
                    let rows: Vec<Vec<String>> = nodes
                        .iter()
                        .map(|n| {
                            let st = n.status.clone().unwrap_or_default();
                            let info = st.node_info.clone().unwrap_or_default();
                            let unsched = n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
                            let mut r = vec![
                                n.metadata.name.clone().unwrap_or_default(),
                                if cluster.node_failed(n.metadata.name.as_deref().unwrap_or_default()) {
                                    "NotReady,SchedulingDisabled".into()
                                } else if unsched {
                                    "Ready,SchedulingDisabled".into()
                                } else {
                                    "Ready".into()
                                },
                                "<none>".into(),
                                age(n.metadata.creation_timestamp.as_ref()),
                                info.kubelet_version.clone(),
                            ];
                            if wide {
                                let ip = st
                                    .addresses
                                    .iter()
                                    .flatten()
                                    .find(|a| a.type_ == "InternalIP")
                                    .map(|a| a.address.clone());
                                r.extend([
                                    ip.unwrap_or_default(),
                                    "<none>".into(),
                                    info.os_image.clone(),
                                    info.kernel_version.clone(),
                                    info.container_runtime_version.clone(),
                                ]);
                            }
                            if *show_labels {
                                r.push(labels_csv(n.metadata.labels.as_ref()));
                            }
                            r
                        })
                        .collect();
                    Ok(table(&h, &rows))
                }
            }
        }
        "deployments" => {
            let items: Vec<Deployment> = cluster
                .deployments()
                .into_iter()
                .filter(|d| keep(&d.metadata, name, ns_filter, &sel))
                .collect();
            if items.is_empty() {
                return not_found("deployments.apps");
            }
            let view = WorkloadView {
                kind: "deployment.apps",
                headers: ["READY", "UP-TO-DATE", "AVAILABLE"],
                meta: |d: &Deployment| &d.metadata,
                columns: |d: &Deployment| {
                    let st = d.status.clone().unwrap_or_default();
                    let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
                    [
                        format!("{}/{want}", st.ready_replicas.unwrap_or(0)),
                        st.updated_replicas.unwrap_or(0).to_string(),
                        st.available_replicas.unwrap_or(0).to_string(),
                    ]
                },
                wide: |d: &Deployment| {
                    let spec = d.spec.clone().unwrap_or_default();
                    let (c, i) = images(Some(&spec.template));
                    [c, i, match_labels(&spec.selector)]
                },
            };
            workload_get(&items, &view, out, with_ns, wide)
        }
        "replicasets" => {
            let items: Vec<ReplicaSet> = cluster
                .replicasets()
                .into_iter()
                .filter(|d| keep(&d.metadata, name, ns_filter, &sel))
                .collect();
            if items.is_empty() {
                return not_found("replicasets.apps");
            }
            let view = WorkloadView {
                kind: "replicaset.apps",
                headers: ["DESIRED", "CURRENT", "READY"],
                meta: |r: &ReplicaSet| &r.metadata,
                columns: |r: &ReplicaSet| {
                    let st = r.status.clone().unwrap_or_default();
                    [
                        r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).to_string(),
                        st.replicas.to_string(),
                        st.ready_replicas.unwrap_or(0).to_string(),
                    ]
                },
                wide: |r: &ReplicaSet| {
                    let spec = r.spec.clone().unwrap_or_default();
                    let (c, i) = images(spec.template.as_ref());
                    [c, i, match_labels(&spec.selector)]
                },
            };
            workload_get(&items, &view, out, with_ns, wide)
        }
        "namespaces" => {
            let items: Vec<Namespace> = cluster
                .namespace_objects()
                .into_iter()
                .filter(|n| keep(&n.metadata, name, None, &sel))
                .collect();
            if items.is_empty() {
                return not_found("namespaces");
            }
            match out {
                "yaml" | "json" => serialize_all(&items, out),
                "name" => Ok(items
                    .iter()
                    .map(|d| format!("namespace/{}\n", d.metadata.name.clone().unwrap_or_default()))
                    .collect()),
                _ => {
                    let rows = items
                        .iter()
                        .map(|n| {
                            vec![
                                n.metadata.name.clone().unwrap_or_default(),
                                "Active".into(),
                                age(n.metadata.creation_timestamp.as_ref()),
                            ]
                        })
                        .collect::<Vec<_>>();
                    Ok(table(&["NAME", "STATUS", "AGE"], &rows))
                }
            }
        }
        "events" => {
            let items: Vec<_> = cluster
                .events()
                .into_iter()
                .filter(|e| ns_filter.is_none_or(|ns| e.metadata.namespace.as_deref() == Some(ns)))
                .collect();
            if items.is_empty() {
                return not_found("events");
            }
            match out {
                "yaml" | "json" => serialize_all(&items, out),
                _ => {
                    let mut h = vec![];
                    if with_ns {
                        h.push("NAMESPACE");
                    }
                    h.extend(["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
                    let rows = items
                        .iter()
                        .map(|e| {
                            let mut r = vec![];
                            if with_ns {
                                r.push(e.metadata.namespace.clone().unwrap_or_default());
                            }
                            r.extend([
                                age(e.last_timestamp.as_ref()),
                                e.type_.clone().unwrap_or_default(),
                                e.reason.clone().unwrap_or_default(),
                                format!(
                                    "{}/{}",
                                    e.involved_object.kind.clone().unwrap_or_default().to_lowercase(),
                                    e.involved_object.name.clone().unwrap_or_default()
                                ),
                                e.message.clone().unwrap_or_default(),
                            ]);
                            r
                        })
                        .collect::<Vec<_>>();
                    Ok(table(&h, &rows))
                }
            }
        }
        _ => bail!("error: the server doesn't have a resource type \"{r}\""),
    }
}

/// `kubectl describe pod|node|deployment NAME`.
pub fn describe(cluster: &Cluster, resource_name: &str, name: &str, ns: &str) -> Result<String> {
    match resource(resource_name)? {
        "pods" => {
            let key = (ns.to_string(), name.to_string());
            let pod = cluster.get_pod(&key)?;
            let info = runner::sandbox_info(cluster, &key);
            Ok(printers::describe_pod(&pod, &cluster.events(), info.as_ref()))
        }
        "nodes" => {
            let n = cluster.get_node(name)?;
            Ok(describe_node(cluster, n))
        }
        "deployments" | "replicasets" => {
            let dep = cluster
                .deployments()
                .into_iter()
                .find(|d| d.metadata.name.as_deref() == Some(name));
            let rs = cluster
                .replicasets()
                .into_iter()
                .find(|d| d.metadata.name.as_deref() == Some(name));
            let text = match (dep, rs) {
                (Some(d), _) if resource(resource_name)? == "deployments" => {
                    serde_saphyr::to_string(&d).unwrap_or_default()
                }
                (_, Some(r)) if resource(resource_name)? == "replicasets" => {
                    serde_saphyr::to_string(&r).unwrap_or_default()
                }
                _ => return Err(ApiError::not_found(resource_name, name).into()),
            };
            Ok(text)
        }
        other => bail!("describe {other} is not supported yet"),
    }
}

fn describe_node(cluster: &Cluster, n: &podlab_control_plane::NodeRt) -> String {
    let node = &n.node;
    let st = node.status.clone().unwrap_or_default();
    let mut o = format!("Name:               {}\nRoles:              <none>\n", n.addr.name);
    let labels = node.metadata.labels.clone().unwrap_or_default();
    o += &format!(
        "Labels:             {}\n",
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n                    ")
    );
    let taints: Vec<String> = node
        .spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .map(|t| format!("{}={}:{}", t.key, t.value.clone().unwrap_or_default(), t.effect))
        .collect();
    o += &format!(
        "Taints:             {}\n",
        if taints.is_empty() {
            "<none>".into()
        } else {
            taints.join("\n                    ")
        }
    );
    o += &format!(
        "Unschedulable:      {}\n",
        node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false)
    );
    o += &format!(
        "Addresses:\n  InternalIP:  {}\n  Hostname:    {}\n",
        n.addr.node_ip, n.addr.name
    );
    for (title, m) in [
        ("Capacity", st.capacity.clone()),
        ("Allocatable", st.allocatable.clone()),
    ] {
        o += &format!("{title}:\n");
        for (k, v) in m.unwrap_or_default() {
            o += &format!("  {k}:{:w$}{}\n", "", v.0, w = 18usize.saturating_sub(k.len()));
        }
    }
    o += &format!(
        "PodCIDR:                      {}\nPodCIDRs:                     {}\n",
        n.addr.pod_subnet, n.addr.pod_subnet
    );
    if let Some(sb) = &n.sandbox {
        o += &format!(
            "Node namespaces (podlab):\n  Pause PID:   {}   (podlab exec node/{} -- ip route)\n  Uplink:      eth0 {}/{} on fabric bridge podlab0\n  Bridge:      cni0 {}/{}\n",
            sb.pid(),
            n.addr.name,
            n.addr.node_ip,
            n.addr.fabric_prefix,
            n.addr.gateway,
            n.addr.pod_subnet.prefix()
        );
    }
    let pods: Vec<Pod> = cluster
        .pods()
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(n.addr.name.as_str()))
        .collect();
    o += &format!("Non-terminated Pods:          ({} in total)\n", pods.len());
    let rows: Vec<Vec<String>> = pods
        .iter()
        .map(|p| {
            let req = |r: &str| {
                p.spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(r).map(|q| q.0.clone()))
                    .collect::<Vec<_>>()
                    .join("+")
            };
            vec![
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
                or_zero(req("cpu")),
                or_zero(req("memory")),
                p.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
                age(p.metadata.creation_timestamp.as_ref()),
            ]
        })
        .collect();
    if !rows.is_empty() {
        for l in table(
            &["Namespace", "Name", "CPU Requests", "Memory Requests", "IP", "Age"],
            &rows,
        )
        .lines()
        {
            o += &format!("  {l}\n");
        }
    }
    let routes = cluster.dataplane.routes(&n.addr.name);
    if !routes.is_empty() {
        o += "Routes (podlab):\n";
        for r in routes {
            o += &format!("  {r}\n");
        }
    }
    o += "Events:              <none>\n";
    o
}

fn or_zero(s: String) -> String {
    if s.is_empty() { "0 (0%)".into() } else { s }
}

/// Create objects from JSON (`apply -f`), in order.
pub fn apply(cluster: &Cluster, objects: &[serde_json::Value]) -> Result<String> {
    let mut out = String::new();
    for v in objects {
        let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
        let object = match kind {
            "Pod" => Object::Pod(Box::new(serde_json::from_value(v.clone())?)),
            "Namespace" => Object::Namespace(serde_json::from_value(v.clone())?),
            "Deployment" => Object::Deployment(Box::new(serde_json::from_value(v.clone())?)),
            "ReplicaSet" => Object::ReplicaSet(Box::new(serde_json::from_value(v.clone())?)),
            other => bail!("kind \"{other}\" is not supported by podlab yet"),
        };
        let line = cluster.apply(object)?.to_string();
        out += &line;
        out.push('\n');
    }
    Ok(out)
}

/// `delete pod|deployment|replicaset NAME... | -l SEL`.
pub async fn delete(
    cluster: &Arc<Cluster>,
    resource_name: &str,
    names: &[String],
    ns: &str,
    sel: &Option<String>,
) -> Result<String> {
    let sel = selector(sel)?;
    let kind = resource(resource_name)?;
    let mut out = String::new();
    let pick = |meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        meta.namespace.as_deref().unwrap_or("default") == ns
            && (names.iter().any(|n| meta.name.as_ref() == Some(n))
                || (names.is_empty() && sel.as_ref().is_some_and(|s| s.matches(&labels_of(meta)))))
    };
    match kind {
        "pods" => {
            let keys: Vec<Key> = cluster
                .pods()
                .iter()
                .filter(|p| pick(&p.metadata))
                .map(key_of)
                .collect();
            for n in names {
                if !keys.iter().any(|k| &k.1 == n) {
                    out += &format!("{}\n", ApiError::not_found("pods", n).kubectl_message());
                }
            }
            let tasks: Vec<_> = keys
                .into_iter()
                .map(|k| {
                    let c = cluster.clone();
                    tokio::spawn(async move { c.delete_pod(&k).await })
                })
                .collect();
            for t in tasks {
                match t.await {
                    Ok(Ok(m)) => out += &format!("{m}\n"),
                    Ok(Err(e)) => out += &format!("{}\n", e.kubectl_message()),
                    Err(e) => out += &format!("{e}\n"),
                }
            }
        }
        "deployments" | "replicasets" => {
            let workload = if kind == "deployments" {
                Workload::Deployment
            } else {
                Workload::ReplicaSet
            };
            for o in cluster.delete_workloads(workload, pick)? {
                out += &format!("{o}\n");
            }
            if out.is_empty() {
                for n in names {
                    out += &format!("{}\n", ApiError::not_found(kind, n).kubectl_message());
                }
            }
        }
        other => bail!("delete {other} is not supported yet"),
    }
    if out.is_empty() {
        out = "No resources found\n".into();
    }
    Ok(out)
}

/// `scale deployment|replicaset NAME --replicas N`.
pub fn scale(cluster: &Cluster, resource_name: &str, name: &str, ns: &str, replicas: i32) -> Result<String> {
    if replicas < 0 {
        bail!("error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
    }
    let key = (ns.to_string(), name.to_string());
    let workload = match resource(resource_name)? {
        "deployments" => Workload::Deployment,
        "replicasets" => Workload::ReplicaSet,
        other => bail!("error: cannot scale {other}"),
    };
    Ok(format!("{}\n", cluster.scale(workload, &key, replicas)?))
}

/// Stream `get -w`: the table once, then each row again whenever it changes.
pub async fn watch(cluster: &Arc<Cluster>, req: &Request, sink: &mut impl Sink) -> Result<()> {
    let first = get(cluster, req)?;
    let mut seen: std::collections::BTreeMap<String, String> = Default::default();
    for (i, l) in first.lines().enumerate() {
        if i > 0 {
            seen.insert(
                l.split_whitespace()
                    .take(
                        if matches!(
                            req,
                            Request::Get {
                                all_namespaces: true,
                                ..
                            }
                        ) {
                            2
                        } else {
                            1
                        },
                    )
                    .collect::<Vec<_>>()
                    .join(" "),
                l.to_string(),
            );
        }
    }
    if !sink.send(Reply::Out { text: first }).await {
        return Ok(());
    }
    let mut rx = cluster.subscribe();
    loop {
        if tokio::time::timeout(Duration::from_secs(1), rx.changed())
            .await
            .is_ok_and(|r| r.is_err())
        {
            return Ok(());
        }
        let now = get(cluster, req).unwrap_or_default();
        let mut text = String::new();
        for l in now.lines().skip(1) {
            let k = l
                .split_whitespace()
                .take(
                    if matches!(
                        req,
                        Request::Get {
                            all_namespaces: true,
                            ..
                        }
                    ) {
                        2
                    } else {
                        1
                    },
                )
                .collect::<Vec<_>>()
                .join(" ");
            // AGE changes every second; compare rows without it.
            let strip = |s: &str| {
                s.split_whitespace()
                    .filter(|w| !w.ends_with('s') || w.parse::<f64>().is_ok())
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            if seen.get(&k).map(|o| strip(o)) != Some(strip(l)) {
                text += l;
                text.push('\n');
                seen.insert(k, l.to_string());
            }
        }
        if !text.is_empty() && !sink.send(Reply::Out { text }).await {
            return Ok(());
        }
    }
}
