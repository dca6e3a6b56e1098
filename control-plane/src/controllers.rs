//! Level-triggered controllers, as in kube-controller-manager: the ReplicaSet controller keeps
//! `replicas` pods matching each ReplicaSet, the Deployment controller keeps one ReplicaSet per
//! pod template (named `<deployment>-<pod-template-hash>`) scaled to the Deployment's replicas.

use crate::cluster::{Cluster, Key, key_of};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentStatus, ReplicaSet, ReplicaSetSpec, ReplicaSetStatus};
use k8s_openapi::api::core::v1::{Pod, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use podlab_scenario::LabelSelector;
use std::sync::Arc;
use std::time::Duration;

/// Kubernetes' alphabet for generated name suffixes (no vowels, no confusable characters).
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Run the controllers until the cluster is dropped.
pub fn start(cluster: &Arc<Cluster>) {
    let weak = Arc::downgrade(cluster);
    let mut rx = cluster.subscribe();
    tokio::spawn(async move {
        let mut counter: u64 = 0;
        loop {
            {
                let Some(c) = weak.upgrade() else { return };
                reconcile(&c, &mut counter).await;
            }
            // Wait for a change; also resync periodically, as controllers do.
            let _ = tokio::time::timeout(Duration::from_secs(2), rx.changed()).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
}

/// The node agents' network reconcile loop: every 2 s each node's host-gw routes are compared
/// with what they must be and repaired (a route deleted by hand comes back), with an event.
pub fn start_route_reconciler(cluster: &Arc<Cluster>) {
    if cluster.is_model() {
        return;
    }
    let weak = Arc::downgrade(cluster);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let Some(c) = weak.upgrade() else { return };
            for n in &c.nodes {
                if c.node_failed(&n.addr.name) {
                    continue;
                }
                let peers: Vec<_> = c
                    .nodes
                    .iter()
                    .filter(|p| p.addr.name != n.addr.name)
                    .map(|p| p.addr.clone())
                    .collect();
                if let Ok(sync) = c.dataplane.sync_routes(&n.addr.name, &peers).await {
                    for r in &sync.added {
                        c.node_event(
                            &n.addr.name,
                            "Warning",
                            "RouteRestored",
                            format!("route {r} was missing; the node agent added it back"),
                        );
                    }
                    for r in &sync.replaced {
                        c.node_event(
                            &n.addr.name,
                            "Warning",
                            "RouteRepaired",
                            format!("route {r} pointed elsewhere; the node agent fixed it"),
                        );
                    }
                    for r in &sync.removed {
                        c.node_event(
                            &n.addr.name,
                            "Normal",
                            "RouteRemoved",
                            format!("stale route {r} removed"),
                        );
                    }
                }
            }
        }
    });
}

/// kube-controller-manager's pod-template-hash: FNV-32a of the template, safe-encoded.
pub fn template_hash(t: &PodTemplateSpec) -> String {
    let text = serde_json::to_string(t).unwrap_or_default();
    let mut h: u32 = 0x811c9dc5;
    for b in text.bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    h.to_string()
        .bytes()
        .map(|b| ALPHABET[(b as usize) % ALPHABET.len()] as char)
        .collect()
}

fn random_suffix(counter: &mut u64, seed: &str) -> String {
    *counter += 1;
    let mut x: u64 = 0x9E3779B97F4A7C15 ^ *counter;
    for b in seed.bytes() {
        x = (x ^ b as u64).wrapping_mul(0x100000001b3);
    }
    x ^= std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (0..5)
        .map(|_| {
            x ^= x >> 29;
            x = x.wrapping_mul(0xBF58476D1CE4E5B9);
            ALPHABET[(x % ALPHABET.len() as u64) as usize] as char
        })
        .collect()
}

fn owner(kind: &str, meta: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn owned_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

fn phase(p: &Pod) -> &str {
    p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

async fn reconcile(cluster: &Arc<Cluster>, counter: &mut u64) {
    for d in cluster.deployments() {
        reconcile_deployment(cluster, d);
    }
    for rs in cluster.replicasets() {
        reconcile_replicaset(cluster, rs, counter).await;
    }
}

fn reconcile_deployment(cluster: &Arc<Cluster>, d: Deployment) {
    let ns = d.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let name = d.metadata.name.clone().unwrap_or_default();
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let Some(spec) = d.spec.clone() else { return };
    let replicas = spec.replicas.unwrap_or(1);
    let hash = template_hash(&spec.template);
    let rs_name = format!("{name}-{hash}");
    let owned: Vec<ReplicaSet> = cluster
        .replicasets()
        .into_iter()
        .filter(|rs| rs.metadata.namespace.as_deref() == Some(ns.as_str()) && owned_by(&rs.metadata, &uid))
        .collect();
    // The current template's ReplicaSet gets all replicas; older ones are scaled to 0 and
    // removed once empty (a Recreate-style rollout, simple and visible).
    if !owned
        .iter()
        .any(|rs| rs.metadata.name.as_deref() == Some(rs_name.as_str()))
    {
        let mut template = spec.template.clone();
        let meta = template.metadata.get_or_insert_with(Default::default);
        meta.labels
            .get_or_insert_with(Default::default)
            .insert("pod-template-hash".into(), hash.clone());
        let mut selector = spec.selector.clone();
        selector
            .match_labels
            .get_or_insert_with(Default::default)
            .insert("pod-template-hash".into(), hash.clone());
        let rs = ReplicaSet {
            metadata: ObjectMeta {
                name: Some(rs_name.clone()),
                namespace: Some(ns.clone()),
                labels: Some(meta.labels.clone().unwrap_or_default()),
                owner_references: Some(vec![owner("Deployment", &d.metadata)]),
                ..Default::default()
            },
            spec: Some(ReplicaSetSpec {
                replicas: Some(replicas),
                selector,
                template: Some(template),
                min_ready_seconds: None,
            }),
            status: None,
        };
        let _ = cluster.apply_replicaset(rs);
    }
    let mut ready_total = 0;
    let mut total = 0;
    let mut updated = 0;
    for rs in owned {
        let key: Key = (ns.clone(), rs.metadata.name.clone().unwrap_or_default());
        let current = rs.metadata.name.as_deref() == Some(rs_name.as_str());
        let want = if current { replicas } else { 0 };
        let st = rs.status.clone().unwrap_or_default();
        ready_total += st.ready_replicas.unwrap_or(0);
        total += st.replicas;
        if current {
            updated = st.replicas;
        }
        if rs.spec.as_ref().and_then(|s| s.replicas) != Some(want) {
            let mut rs = rs.clone();
            if let Some(s) = rs.spec.as_mut() {
                s.replicas = Some(want);
            }
            cluster.put_replicaset(&key, Some(rs));
        } else if !current && st.replicas == 0 {
            cluster.put_replicaset(&key, None);
        }
    }
    let status = DeploymentStatus {
        replicas: Some(total),
        ready_replicas: Some(ready_total),
        available_replicas: Some(ready_total),
        updated_replicas: Some(updated),
        unavailable_replicas: Some((replicas - ready_total).max(0)),
        observed_generation: Some(1),
        ..Default::default()
    };
    if d.status.as_ref() != Some(&status) {
        let mut d = d;
        d.status = Some(status);
        cluster.put_deployment(&(ns, name), Some(d));
    }
}

async fn reconcile_replicaset(cluster: &Arc<Cluster>, rs: ReplicaSet, counter: &mut u64) {
    let ns = rs.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let name = rs.metadata.name.clone().unwrap_or_default();
    let uid = rs.metadata.uid.clone().unwrap_or_default();
    let Some(spec) = rs.spec.clone() else { return };
    let want = spec.replicas.unwrap_or(1).max(0) as usize;
    let Ok(selector) = LabelSelector::from_k8s(&spec.selector) else {
        return;
    };
    let pods: Vec<Pod> = cluster.pods_where(|p| {
        p.metadata.namespace.as_deref() == Some(ns.as_str())
            && (owned_by(&p.metadata, &uid)
                || (p.metadata.owner_references.is_none()
                    && selector.matches(&p.metadata.labels.clone().unwrap_or_default())))
    });
    // Adopt matching orphans, as the ReplicaSet controller does (book: a pod relabelled into
    // the selector counts; one relabelled out of it is replaced).
    let alive: Vec<&Pod> = pods
        .iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none() && !matches!(phase(p), "Succeeded" | "Failed"))
        .filter(|p| selector.matches(&p.metadata.labels.clone().unwrap_or_default()))
        .collect();
    if alive.len() < want {
        let template = spec.template.clone().unwrap_or_default();
        for _ in alive.len()..want {
            let mut meta = template.metadata.clone().unwrap_or_default();
            meta.name = Some(format!("{name}-{}", random_suffix(counter, &name)));
            meta.namespace = Some(ns.clone());
            meta.owner_references = Some(vec![owner("ReplicaSet", &rs.metadata)]);
            let pod = Pod {
                metadata: meta,
                spec: template.spec.clone(),
                status: None,
            };
            let _ = cluster.apply_pod(pod);
        }
    } else if alive.len() > want {
        // Delete the least useful first: unscheduled, then not ready, then the newest.
        let mut victims: Vec<&Pod> = alive.clone();
        victims.sort_by_key(|p| {
            let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
            (
                scheduled,
                ready(p),
                std::cmp::Reverse(p.metadata.creation_timestamp.clone()),
            )
        });
        for p in victims.into_iter().take(alive.len() - want) {
            let c = cluster.clone();
            let key = key_of(p);
            tokio::spawn(async move {
                let _ = c.delete_pod(&key).await;
            });
        }
    }
    let fresh: Vec<Pod> = cluster.pods_where(|p| {
        p.metadata.namespace.as_deref() == Some(ns.as_str())
            && owned_by(&p.metadata, &uid)
            && p.metadata.deletion_timestamp.is_none()
    });
    let status = ReplicaSetStatus {
        replicas: fresh.len() as i32,
        ready_replicas: Some(fresh.iter().filter(|p| ready(p)).count() as i32),
        available_replicas: Some(fresh.iter().filter(|p| ready(p)).count() as i32),
        fully_labeled_replicas: Some(fresh.len() as i32),
        observed_generation: Some(1),
        ..Default::default()
    };
    if rs.status.as_ref() != Some(&status) {
        let mut rs = rs;
        rs.status = Some(status);
        cluster.put_replicaset(&(ns, name), Some(rs));
    }
}
