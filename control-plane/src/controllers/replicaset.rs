//! The ReplicaSet controller: keeps `spec.replicas` live pods matching each ReplicaSet. It
//! adopts matching orphans, names new pods `<replicaset>-<5 characters>`, removes the least
//! useful pods first when there are too many, and keeps `status` up to date.

use super::{Action, Context, controlled_by, owner, ready};
use crate::cluster::key_of;
use crate::error::ApiError;
use k8s_openapi::api::apps::v1::{ReplicaSet, ReplicaSetSpec, ReplicaSetStatus};
use k8s_openapi::api::core::v1::Pod;
use podlab_scenario::LabelSelector;
use std::sync::atomic::{AtomicU64, Ordering};

/// Kubernetes' alphabet for generated name suffixes (no vowels, no confusable characters).
pub(crate) const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// Makes the 5-character suffixes of generated pod names.
#[derive(Default)]
pub struct NameGen {
    counter: AtomicU64,
}

impl NameGen {
    /// A fresh suffix for a pod of `seed` (the ReplicaSet's name).
    pub fn suffix(&self, seed: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
        let mut x: u64 = 0x9E3779B97F4A7C15 ^ n;
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
}

fn phase(p: &Pod) -> &str {
    p.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("Pending")
}

/// Reconcile one ReplicaSet: create or delete pods until `replicas` live ones match, then
/// record its status.
pub fn reconcile(rs: &ReplicaSet, ctx: &Context<'_>) -> Result<Action, ApiError> {
    let ns = rs.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let uid = rs.metadata.uid.clone().unwrap_or_default();
    let Some(spec) = rs.spec.as_ref() else {
        return Ok(Action::AwaitChange);
    };
    let want = spec.replicas.unwrap_or(1).max(0) as usize;
    let Ok(selector) = LabelSelector::from_k8s(&spec.selector) else {
        return Ok(Action::AwaitChange);
    };
    let alive: Vec<Pod> = ctx.store.pods_where(|p| is_live_pod(&ns, &uid, &selector, p));
    let alive: Vec<&Pod> = alive.iter().collect();
    let mut result = Ok(());
    if alive.len() < want {
        result = create_pods(rs, spec, &ns, want - alive.len(), ctx);
    } else if alive.len() > want {
        for p in victims(alive.clone(), alive.len() - want) {
            ctx.pods.delete_pod(key_of(p));
        }
    }
    update_status(rs, &ns, &uid, ctx)?;
    result.map(|()| Action::AwaitChange)
}

/// Whether `p` counts as one of the ReplicaSet's replicas: in its namespace, controlled by it
/// or an orphan it adopts (as the ReplicaSet controller does; book: a pod relabelled into the
/// selector counts, one relabelled out of it is replaced), its labels matching the selector,
/// not terminating and not finished.
fn is_live_pod(ns: &str, uid: &str, selector: &LabelSelector, p: &Pod) -> bool {
    p.metadata.namespace.as_deref() == Some(ns)
        && (controlled_by(&p.metadata, uid) || p.metadata.owner_references.is_none())
        && selector.matches(&p.metadata.labels.clone().unwrap_or_default())
        && p.metadata.deletion_timestamp.is_none()
        && !matches!(phase(p), "Succeeded" | "Failed")
}

/// Whether the ReplicaSet has exactly the live pods it wants (one with an unusable spec or
/// selector wants nothing the controller could make).
pub(crate) fn has_its_replicas(rs: &ReplicaSet, store: &crate::store::Store) -> bool {
    let Some(spec) = rs.spec.as_ref() else { return true };
    let Ok(selector) = LabelSelector::from_k8s(&spec.selector) else {
        return true;
    };
    let ns = rs.metadata.namespace.as_deref().unwrap_or("default");
    let uid = rs.metadata.uid.as_deref().unwrap_or_default();
    let want = spec.replicas.unwrap_or(1).max(0) as usize;
    let mut live = 0;
    store.visit_pods(|p| live += is_live_pod(ns, uid, &selector, p) as usize);
    live == want
}

/// Create `n` pods from the ReplicaSet's template.
fn create_pods(rs: &ReplicaSet, spec: &ReplicaSetSpec, ns: &str, n: usize, ctx: &Context<'_>) -> Result<(), ApiError> {
    let name = rs.metadata.name.clone().unwrap_or_default();
    let template = spec.template.clone().unwrap_or_default();
    let mut result = Ok(());
    for _ in 0..n {
        let mut meta = template.metadata.clone().unwrap_or_default();
        meta.name = Some(format!("{name}-{}", ctx.names.suffix(&name)));
        meta.namespace = Some(ns.to_string());
        meta.owner_references = Some(vec![owner("ReplicaSet", &rs.metadata)]);
        let pod = Pod {
            metadata: meta,
            spec: template.spec.clone(),
            status: None,
        };
        if let Err(e) = ctx.pods.create_pod(pod) {
            result = Err(e);
        }
    }
    result
}

/// The `n` least useful pods: unscheduled first, then not ready, then the newest.
fn victims(mut pods: Vec<&Pod>, n: usize) -> impl Iterator<Item = &Pod> {
    pods.sort_by_key(|p| {
        let scheduled = p.spec.as_ref().and_then(|s| s.node_name.as_ref()).is_some();
        (
            scheduled,
            ready(p),
            std::cmp::Reverse(p.metadata.creation_timestamp.clone()),
        )
    });
    pods.into_iter().take(n)
}

/// Record how many pods the ReplicaSet has and how many are ready, if that changed.
fn update_status(rs: &ReplicaSet, ns: &str, uid: &str, ctx: &Context<'_>) -> Result<(), ApiError> {
    let (mut total, mut ready_count) = (0, 0);
    ctx.store.visit_pods(|p| {
        if p.metadata.namespace.as_deref() == Some(ns)
            && controlled_by(&p.metadata, uid)
            && p.metadata.deletion_timestamp.is_none()
        {
            total += 1;
            ready_count += ready(p) as i32;
        }
    });
    let status = ReplicaSetStatus {
        replicas: total,
        ready_replicas: Some(ready_count),
        available_replicas: Some(ready_count),
        fully_labeled_replicas: Some(total),
        observed_generation: Some(1),
        ..Default::default()
    };
    if rs.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let mut rs = rs.clone();
    rs.status = Some(status);
    let key = (ns.to_string(), rs.metadata.name.clone().unwrap_or_default());
    ctx.store.put_replicaset(&key, rs)
}
