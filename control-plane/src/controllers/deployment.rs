//! The Deployment controller: one ReplicaSet per pod template, named
//! `<deployment>-<pod-template-hash>` and labelled with the hash; the current template's
//! ReplicaSet gets every replica, older ones are scaled to 0 (a Recreate-style rollout,
//! simple and visible) and kept for rollback, as Kubernetes keeps them: the newest
//! `revisionHistoryLimit` (default 10) empty old ones stay, older ones are removed. The
//! Deployment's status sums its ReplicaSets'.

use super::replicaset::ALPHABET;
use super::{Action, Context, controlled_by, owner};
use crate::cluster::Key;
use crate::error::ApiError;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Kubernetes' default `revisionHistoryLimit`: old ReplicaSets kept for rollback.
pub const DEFAULT_REVISION_HISTORY: i32 = 10;

/// The label (on ReplicaSets, their selectors and pods) naming the pod template.
pub const TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

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

/// The name of the ReplicaSet for the Deployment's current template (whose hash is `hash`).
pub(crate) fn current_replicaset_name(d: &Deployment, hash: &str) -> String {
    format!("{}-{hash}", d.metadata.name.as_deref().unwrap_or_default())
}

/// Reconcile one Deployment: make its current ReplicaSet, scale every ReplicaSet it owns,
/// remove empty old ones beyond `revisionHistoryLimit`, and record its status.
pub fn reconcile(d: &Deployment, ctx: &Context<'_>) -> Result<Action, ApiError> {
    let ns = d.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let uid = d.metadata.uid.clone().unwrap_or_default();
    let Some(spec) = d.spec.as_ref() else {
        return Ok(Action::AwaitChange);
    };
    let replicas = spec.replicas.unwrap_or(1);
    let hash = template_hash(&spec.template);
    let rs_name = current_replicaset_name(d, &hash);
    let owned: Vec<ReplicaSet> = ctx
        .store
        .replicasets()
        .into_iter()
        .filter(|rs| rs.metadata.namespace.as_deref() == Some(ns.as_str()) && controlled_by(&rs.metadata, &uid))
        .collect();
    let mut result = Ok(());
    if !owned
        .iter()
        .any(|rs| rs.metadata.name.as_deref() == Some(rs_name.as_str()))
    {
        let rs = new_replicaset(d, spec, &ns, &rs_name, &hash);
        result = ctx.store.apply_replicaset(rs).map(drop);
    }
    let mut status = DeploymentStatus {
        observed_generation: Some(1),
        ..Default::default()
    };
    let (mut ready_total, mut total, mut updated) = (0, 0, 0);
    let history = spec.revision_history_limit.unwrap_or(DEFAULT_REVISION_HISTORY).max(0) as usize;
    let mut empty_old: Vec<(Option<k8s_openapi::jiff::Timestamp>, Key)> = Vec::new();
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
            let mut rs = rs;
            if let Some(s) = rs.spec.as_mut() {
                s.replicas = Some(want);
            }
            ctx.store.put_replicaset(&key, rs)?;
        } else if !current && st.replicas == 0 {
            let created = rs.metadata.creation_timestamp.as_ref().map(|t| t.0);
            empty_old.push((created, key));
        }
    }
    // Newest first; the ones past the limit go.
    empty_old.sort_by_key(|e| std::cmp::Reverse(e.0));
    for (_, key) in empty_old.into_iter().skip(history) {
        ctx.store.remove_replicaset(&key)?;
    }
    status.replicas = Some(total);
    status.ready_replicas = Some(ready_total);
    status.available_replicas = Some(ready_total);
    status.updated_replicas = Some(updated);
    status.unavailable_replicas = Some((replicas - ready_total).max(0));
    if d.status.as_ref() != Some(&status) {
        let mut d = d.clone();
        d.status = Some(status);
        let key = (ns, d.metadata.name.clone().unwrap_or_default());
        ctx.store.put_deployment(&key, d)?;
    }
    result.map(|()| Action::AwaitChange)
}

/// The ReplicaSet for the Deployment's current template: the template and selector carry
/// the hash label, the Deployment is its controller.
fn new_replicaset(d: &Deployment, spec: &DeploymentSpec, ns: &str, rs_name: &str, hash: &str) -> ReplicaSet {
    let mut template = spec.template.clone();
    let meta = template.metadata.get_or_insert_with(Default::default);
    meta.labels
        .get_or_insert_with(Default::default)
        .insert(TEMPLATE_HASH_LABEL.into(), hash.into());
    let labels = meta.labels.clone().unwrap_or_default();
    let mut selector = spec.selector.clone();
    selector
        .match_labels
        .get_or_insert_with(Default::default)
        .insert(TEMPLATE_HASH_LABEL.into(), hash.into());
    ReplicaSet {
        metadata: ObjectMeta {
            name: Some(rs_name.into()),
            namespace: Some(ns.into()),
            labels: Some(labels),
            owner_references: Some(vec![owner("Deployment", &d.metadata)]),
            ..Default::default()
        },
        spec: Some(ReplicaSetSpec {
            replicas: Some(spec.replicas.unwrap_or(1)),
            selector,
            template: Some(template),
            min_ready_seconds: None,
        }),
        status: None,
    }
}
