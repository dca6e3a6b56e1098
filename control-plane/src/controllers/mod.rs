//! Level-triggered controllers, as in kube-controller-manager, in kube-rs' shape: a reconciler
//! gets one object and a [`Context`] and says what to do next ([`Action`]); the loop here runs
//! every reconciler after every change to the store (debounced) and at least every
//! [`RESYNC`], as controllers resync.
//!
//! - [`replicaset`]: keeps `replicas` pods matching each ReplicaSet;
//! - [`deployment`]: keeps one ReplicaSet per pod template (`<deployment>-<pod-template-hash>`)
//!   scaled to the Deployment's replicas.
//!
//! Controllers read and write objects through the [`Store`]'s API only; creating and deleting
//! pods goes through [`PodControl`], which the cluster provides, so the scheduler and the
//! kubelets still run for every pod a controller makes.

pub mod deployment;
pub mod replicaset;

use crate::cluster::Key;
use crate::error::ApiError;
use crate::outcome::Outcome;
use crate::store::Store;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::sync::Weak;
use std::time::Duration;

pub use replicaset::NameGen;

/// The longest a controller waits before looking at every object again.
pub const RESYNC: Duration = Duration::from_secs(2);

/// How often a held cluster's controllers look whether it goes on.
const HELD_LOOK: Duration = Duration::from_millis(200);

/// How long the loop lets a burst of changes settle before reconciling.
const DEBOUNCE: Duration = Duration::from_millis(20);

/// What a reconciler wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Look again after this long, even if nothing changes.
    Requeue(Duration),
    /// Look again at the next change (or resync).
    AwaitChange,
}

/// What the controllers may do beyond the store: create and delete pods as a client of the
/// API would, so the pods are scheduled, started and torn down.
pub trait PodControl: Send + Sync {
    /// The object store the controllers watch.
    fn store(&self) -> &Store;
    /// Create a pod (it is scheduled and started).
    fn create_pod(&self, pod: Pod) -> Result<Outcome, ApiError>;
    /// Delete a pod in the background (its containers get their grace period).
    fn delete_pod(&self, key: Key);
    /// Whether the cluster is held still (a lesson's pause): the controllers then replace and
    /// scale nothing until it goes on.
    fn held(&self) -> bool {
        false
    }
}

/// What a reconciler works with.
pub struct Context<'a> {
    /// The object store.
    pub store: &'a Store,
    /// Pod creation and deletion.
    pub pods: &'a dyn PodControl,
    /// Generated names for new pods.
    pub names: &'a NameGen,
}

/// Run the controllers until `host` is dropped.
pub fn start<H: PodControl + 'static>(host: Weak<H>) {
    let Some(mut rx) = host.upgrade().map(|h| h.store().subscribe()) else {
        return;
    };
    tokio::spawn(async move {
        let names = NameGen::default();
        loop {
            let wait = {
                let Some(h) = host.upgrade() else { return };
                if h.held() {
                    drop(h);
                    tokio::time::sleep(HELD_LOOK).await;
                    continue;
                }
                let ctx = Context {
                    store: h.store(),
                    pods: &*h,
                    names: &names,
                };
                reconcile_all(&ctx)
            };
            // Wait for a change, or until a reconciler wants to look again.
            let _ = tokio::time::timeout(wait, rx.changed()).await;
            tokio::time::sleep(DEBOUNCE).await;
        }
    });
}

/// One pass of every controller over every object: Deployments first (they make
/// ReplicaSets), then ReplicaSets. Returns how long until the next pass must run at the latest.
pub fn reconcile_all(ctx: &Context<'_>) -> Duration {
    let mut next = RESYNC;
    for d in ctx.store.deployments() {
        next = next.min(after(deployment::reconcile(&d, ctx), "Deployment", &d.metadata.name));
    }
    for rs in ctx.store.replicasets() {
        next = next.min(after(replicaset::reconcile(&rs, ctx), "ReplicaSet", &rs.metadata.name));
    }
    next
}

/// Whether the controllers have caught up with what the workloads ask: every Deployment has
/// the ReplicaSet of its current template, wanting the Deployment's replicas, and every
/// ReplicaSet has exactly as many live pods (not terminating, not finished) as it wants. A
/// wait for "every pod Running" must also wait for this: right after a Deployment is applied
/// there are no pods yet, and "all of none" holds.
pub fn caught_up(store: &Store) -> bool {
    let replicasets = store.replicasets();
    let deployments_done = store.deployments().iter().all(|d| {
        let Some(spec) = d.spec.as_ref() else { return true };
        let uid = d.metadata.uid.as_deref().unwrap_or_default();
        let name = deployment::current_replicaset_name(d, &deployment::template_hash(&spec.template));
        replicasets.iter().any(|rs| {
            rs.metadata.namespace == d.metadata.namespace
                && rs.metadata.name.as_deref() == Some(name.as_str())
                && controlled_by(&rs.metadata, uid)
                && rs.spec.as_ref().and_then(|s| s.replicas) == Some(spec.replicas.unwrap_or(1))
        })
    });
    deployments_done && replicasets.iter().all(|rs| replicaset::has_its_replicas(rs, store))
}

/// How long a reconciler's answer lets the loop wait; an error is logged and retried at the
/// next resync.
fn after(result: Result<Action, ApiError>, kind: &str, name: &Option<String>) -> Duration {
    match result {
        Ok(Action::Requeue(d)) => d,
        Ok(Action::AwaitChange) => RESYNC,
        Err(e) => {
            tracing::warn!("reconciling {kind} {}: {e}", name.as_deref().unwrap_or_default());
            RESYNC
        }
    }
}

/// Whether `meta` is controlled by the object with `uid`.
pub(crate) fn controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

/// An owner reference to the `apps/v1` object `kind` described by `meta`, as its controller.
pub(crate) fn owner(kind: &str, meta: &ObjectMeta) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: kind.into(),
        name: meta.name.clone().unwrap_or_default(),
        uid: meta.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Whether the pod is Ready.
pub(crate) fn ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::PodEntry;
    use crate::outcome::Verb;
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
    use std::collections::BTreeMap;

    /// Pods go straight into the store (no scheduler, no kubelet).
    struct StorePods(Store);

    impl PodControl for StorePods {
        fn store(&self) -> &Store {
            &self.0
        }
        fn create_pod(&self, mut pod: Pod) -> Result<Outcome, ApiError> {
            let uid = self.0.next_uid();
            let name = pod.metadata.name.clone().unwrap_or_default();
            let key = (pod.metadata.namespace.clone().unwrap_or_default(), name.clone());
            self.0.write(|st| {
                pod.metadata.uid = Some(uid);
                st.stamp(&mut pod.metadata);
                st.pods.insert(
                    key,
                    PodEntry {
                        pod,
                        handle: None,
                        sandbox: None,
                        net: None,
                    },
                );
            })?;
            Ok(Outcome::new("pod", name, Verb::Created))
        }
        fn delete_pod(&self, key: Key) {
            let _ = self.0.write(|st| st.pods.remove(&key));
        }
    }

    fn deployment(replicas: i32) -> Deployment {
        let labels = BTreeMap::from([("app".to_string(), "web".to_string())]);
        Deployment {
            metadata: ObjectMeta {
                name: Some("web".into()),
                ..Default::default()
            },
            spec: Some(DeploymentSpec {
                replicas: Some(replicas),
                selector: LabelSelector {
                    match_labels: Some(labels.clone()),
                    ..Default::default()
                },
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some(labels),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "web".into(),
                            image: Some("nginx".into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn caught_up_only_once_the_controllers_made_every_pod() {
        let host = StorePods(Store::new([crate::store::namespace_object("default")]));
        let names = NameGen::default();
        let ctx = Context {
            store: &host.0,
            pods: &host,
            names: &names,
        };
        assert!(caught_up(&host.0), "nothing asked, nothing to wait for");
        host.0.apply_deployment(deployment(3)).unwrap();
        // Right after the apply there is no pod: "every pod Running" holds, this does not.
        assert!(!caught_up(&host.0));
        reconcile_all(&ctx);
        assert_eq!(host.0.visit_pods(|_| ()), 3);
        assert!(caught_up(&host.0));

        // A pod going away (terminating, or gone) is not caught up until it is replaced.
        let victim = host.0.pod_keys_where(|_| true)[0].clone();
        host.0
            .update_pod(&victim, |p| {
                p.metadata.deletion_timestamp = Some(podlab_node_agent::now())
            })
            .unwrap();
        assert!(!caught_up(&host.0));
        host.delete_pod(victim);
        assert!(!caught_up(&host.0));
        reconcile_all(&ctx);
        assert!(caught_up(&host.0));

        // Scaled: not caught up until the ReplicaSet follows and its pods exist.
        host.0.apply_deployment(deployment(5)).unwrap();
        assert!(!caught_up(&host.0));
        reconcile_all(&ctx);
        reconcile_all(&ctx);
        assert_eq!(host.0.visit_pods(|_| ()), 5);
        assert!(caught_up(&host.0));
    }
}
