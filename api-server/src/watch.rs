//! `?watch=true`: a stream of newline-delimited `WatchEvent`s (`ADDED`, `MODIFIED`,
//! `DELETED`), kept open until the client leaves, `timeoutSeconds` pass or the cluster stops.
//!
//! The store tells that something changed (its resourceVersion); each watcher then compares
//! what it sees with what it last sent, object by object, by `metadata.resourceVersion`.
//! Without a `resourceVersion` (or with `0`) the watch starts with a synthetic `ADDED` for
//! every object, as kube-apiserver does; with one, objects written after it come as `MODIFIED`.
//! The store keeps no history of past versions: objects deleted between that version and the
//! start of the watch come from [`graves`], a recorder of recent deletions.

pub mod graves;

use crate::kinds::Kind;
use crate::objects;
use crate::selectors::Selectors;
use crate::table::{self, Include};
use axum::body::{Body, Bytes};
use podlab_control_plane::Cluster;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// What one watch asks for.
pub struct WatchSpec {
    /// The resource type.
    pub kind: Kind,
    /// Only this namespace.
    pub namespace: Option<String>,
    /// Label and field selectors.
    pub selectors: Selectors,
    /// Report changes after this resourceVersion (`None`: everything, as ADDED).
    pub since: Option<u64>,
    /// Events carry one-row Tables instead of objects.
    pub table: Option<Include>,
    /// End the stream after this long.
    pub timeout: Option<Duration>,
}

fn key(o: &Value) -> String {
    let ns = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    format!("{ns}/{name}")
}

fn rv(o: &Value) -> String {
    o.pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Every object of one kind at one store resourceVersion, as JSON, shared by all watchers:
/// a change is turned into JSON once, not once per watcher, and a watcher holds pointers.
type Objects = Arc<Vec<(String, Arc<Value>)>>;

/// The last [`Objects`] made of each kind, and the store version they were made at.
#[derive(Default)]
pub struct SnapshotCache {
    entries: std::sync::Mutex<BTreeMap<&'static str, (u64, Objects)>>,
}

impl SnapshotCache {
    fn get(&self, cluster: &Cluster, kind: Kind) -> Objects {
        let rv = cluster.resource_version();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, objs)) = entries.get(kind.plural())
            && *at == rv
        {
            return objs.clone();
        }
        let objs: Objects = Arc::new(
            objects::list(cluster, kind, None)
                .into_iter()
                .map(|o| (key(&o), Arc::new(o)))
                .collect(),
        );
        entries.insert(kind.plural(), (rv, objs.clone()));
        objs
    }
}

/// The objects the watch sees now, by key.
fn snapshot(cluster: &Cluster, cache: &SnapshotCache, spec: &WatchSpec) -> BTreeMap<String, Arc<Value>> {
    let ns = spec.namespace.as_deref();
    cache
        .get(cluster, spec.kind)
        .iter()
        .filter(|(_, o)| ns.is_none_or(|ns| o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(ns)))
        .filter(|(_, o)| spec.selectors.matches(o))
        .map(|(k, o)| (k.clone(), o.clone()))
        .collect()
}

/// The events that turn `old` into `new`.
fn diff(old: &BTreeMap<String, Arc<Value>>, new: &BTreeMap<String, Arc<Value>>) -> Vec<(&'static str, Value)> {
    let mut out = Vec::new();
    for (k, o) in new {
        match old.get(k) {
            None => out.push(("ADDED", (**o).clone())),
            Some(prev) if rv(prev) != rv(o) => out.push(("MODIFIED", (**o).clone())),
            Some(_) => {}
        }
    }
    for (k, o) in old {
        if !new.contains_key(k) {
            out.push(("DELETED", (**o).clone()));
        }
    }
    out
}

/// Whether a recorded deletion is news to this watch: one it asks for, noticed after its
/// resourceVersion, and not reported already (nor still in view: then its own diff reports it).
fn unseen_grave(
    spec: &WatchSpec,
    since: u64,
    seen: &BTreeMap<String, Arc<Value>>,
    told: &HashSet<(String, String)>,
    g: &graves::Grave,
) -> bool {
    let in_ns = spec.namespace.as_deref().is_none_or(|ns| {
        g.object
            .pointer("/metadata/namespace")
            .and_then(Value::as_str)
            .unwrap_or("default")
            == ns
    });
    g.noticed > since
        && in_ns
        && spec.selectors.matches(&g.object)
        && !seen.contains_key(&key(&g.object))
        && !told.contains(&(key(&g.object), rv(&g.object)))
}

/// Starts the watch; the body streams its events.
pub fn stream(cluster: Arc<Cluster>, cache: Arc<SnapshotCache>, spec: WatchSpec) -> Body {
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(64);
    let graves = graves::of(&cluster);
    tokio::spawn(async move {
        use futures::SinkExt;
        let mut changes = cluster.subscribe();
        let mut bell = graves.subscribe();
        let mut seen = snapshot(&cluster, &cache, &spec);
        // Deletions since `since` (a watch without one starts with what exists now).
        let since = spec.since.filter(|&s| s > 0);
        let mut next_grave = since.unwrap_or(0);
        let mut told = HashSet::new();
        let mut pending: Vec<(&str, Value)> = match since {
            None => seen.values().map(|o| ("ADDED", (**o).clone())).collect(),
            Some(since) => seen
                .values()
                .filter(|o| rv(o).parse::<u64>().is_ok_and(|v| v > since))
                .map(|o| ("MODIFIED", (**o).clone()))
                .collect(),
        };
        let failed = {
            let c = cluster.clone();
            move |n: &str| c.node_failed(n)
        };
        let mut first = true;
        let deadline = spec.timeout.map(|t| tokio::time::Instant::now() + t);
        loop {
            if let Some(since) = since {
                let (found, next) = graves.since(spec.kind, next_grave);
                next_grave = next;
                for g in found {
                    if unseen_grave(&spec, since, &seen, &told, &g) {
                        pending.push(("DELETED", g.object));
                    }
                }
            }
            for (ty, obj) in pending.drain(..) {
                if ty == "DELETED" {
                    told.insert((key(&obj), rv(&obj)));
                }
                let object = match spec.table {
                    Some(include) => {
                        let t = table::table(
                            spec.kind,
                            std::slice::from_ref(&obj),
                            &rv(&obj),
                            include,
                            first,
                            &failed,
                        );
                        first = false;
                        t
                    }
                    None => obj,
                };
                let mut line = json!({"type": ty, "object": object}).to_string();
                line.push('\n');
                if tx.send(Ok(Bytes::from(line))).await.is_err() {
                    return;
                }
            }
            let wait = async {
                tokio::select! {
                    r = changes.changed() => r.is_ok(),
                    r = bell.changed() => r.is_ok(),
                }
            };
            let ended = match deadline {
                Some(d) => tokio::time::timeout_at(d, wait).await.map_or(true, |ok| !ok),
                None => !wait.await,
            };
            if ended {
                return;
            }
            // Many writes come in bursts (a pod starting): look at most every 20 ms.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let now = snapshot(&cluster, &cache, &spec);
            pending = diff(&seen, &now);
            seen = now;
        }
    });
    Body::from_stream(rx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(name: &str, rv: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default", "resourceVersion": rv}})
    }

    #[test]
    fn changes_become_added_modified_and_deleted_events() {
        let old: BTreeMap<_, _> = [obj("a", "1"), obj("b", "2")]
            .into_iter()
            .map(|o| (key(&o), Arc::new(o)))
            .collect();
        let new: BTreeMap<_, _> = [obj("a", "3"), obj("c", "4")]
            .into_iter()
            .map(|o| (key(&o), Arc::new(o)))
            .collect();
        let events: Vec<(&str, String)> = diff(&old, &new)
            .into_iter()
            .map(|(t, o)| (t, o["metadata"]["name"].as_str().unwrap_or_default().to_string()))
            .collect();
        assert!(events.contains(&("MODIFIED", "a".into())));
        assert!(events.contains(&("ADDED", "c".into())));
        assert!(events.contains(&("DELETED", "b".into())));
        assert_eq!(events.len(), 3);
    }
}
