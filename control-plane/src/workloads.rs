//! ReplicaSets and Deployments: `kubectl apply` for them (in the store, so controllers can
//! use it too), `kubectl scale`, and cascading delete (a Deployment's ReplicaSets, then their
//! pods, as kube-apiserver's garbage collector does in the background).

use crate::cluster::{Cluster, Key, Workload};
use crate::error::ApiError;
use crate::outcome::{Outcome, Verb};
use crate::store::{State, Store, namespace_not_found};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A workload's spec changed: keep its status; unchanged: nothing to store.
fn spec_changed<T: HasSpecStatus>(new: &mut T, old: &T) -> bool {
    if new.same_spec(old) {
        return false;
    }
    new.keep_status(old);
    true
}

/// The parts of a workload `apply` compares and keeps.
trait HasSpecStatus {
    fn same_spec(&self, other: &Self) -> bool;
    fn keep_status(&mut self, old: &Self);
    /// kube-apiserver's defaulting (see `defaults`).
    fn set_defaults(&mut self);
}

impl HasSpecStatus for ReplicaSet {
    fn same_spec(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
    fn set_defaults(&mut self) {
        crate::defaults::replicaset(self);
    }
}

impl HasSpecStatus for Deployment {
    fn same_spec(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
    fn keep_status(&mut self, old: &Self) {
        self.status = old.status.clone();
    }
    fn set_defaults(&mut self) {
        crate::defaults::deployment(self);
    }
}

impl Store {
    /// Create or update a ReplicaSet (its controller creates the pods).
    pub fn apply_replicaset(&self, rs: ReplicaSet) -> Result<Outcome, ApiError> {
        self.apply_workload(rs, Workload::ReplicaSet, |s| &mut s.replicasets)
    }

    /// Create or update a Deployment (its controller manages a ReplicaSet).
    pub fn apply_deployment(&self, d: Deployment) -> Result<Outcome, ApiError> {
        self.apply_workload(d, Workload::Deployment, |s| &mut s.deployments)
    }

    /// `kubectl apply` for a workload: created, configured (a changed spec; the status is
    /// kept) or unchanged.
    fn apply_workload<T>(
        &self,
        mut obj: T,
        kind: Workload,
        map: fn(&mut State) -> &mut BTreeMap<Key, T>,
    ) -> Result<Outcome, ApiError>
    where
        T: k8s_openapi::Metadata<Ty = ObjectMeta> + HasSpecStatus,
    {
        obj.set_defaults();
        let ns = obj.metadata().namespace.clone().unwrap_or_else(|| "default".into());
        obj.metadata_mut().namespace = Some(ns.clone());
        let name = obj.metadata().name.clone().unwrap_or_default();
        let key = (ns.clone(), name.clone());
        let uid = self.next_uid();
        let verb = self.write(|st| {
            if !st.namespaces.contains_key(&ns) {
                return Err(namespace_not_found(&ns));
            }
            if map(st).get(&key).is_some_and(|old| !spec_changed(&mut obj, old)) {
                return Ok(Verb::Unchanged);
            }
            let verb = State::identity(obj.metadata_mut(), map(st).get(&key).map(|o| o.metadata()), uid);
            st.stamp(obj.metadata_mut());
            map(st).insert(key, obj);
            Ok(verb)
        })??;
        Ok(Outcome::new(kind.singular(), name, verb))
    }
}

impl Cluster {
    /// Create or update a ReplicaSet (its controller creates the pods).
    pub fn apply_replicaset(&self, rs: ReplicaSet) -> Result<Outcome, ApiError> {
        self.store.apply_replicaset(rs)
    }

    /// Create or update a Deployment (its controller manages a ReplicaSet).
    pub fn apply_deployment(&self, d: Deployment) -> Result<Outcome, ApiError> {
        self.store.apply_deployment(d)
    }

    /// Set a Deployment's or ReplicaSet's `spec.replicas` (`kubectl scale`); its controller
    /// then adds or removes pods.
    pub fn scale(&self, kind: Workload, key: &Key, replicas: i32) -> Result<Outcome, ApiError> {
        if replicas < 0 {
            return Err(ApiError::BadRequest(
                "The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0".into(),
            ));
        }
        let not_found = || ApiError::not_found(kind.resource(), &key.1);
        self.store.write(|st| {
            let rv = st.next_resource_version();
            let (meta, spec_replicas) = match kind {
                Workload::Deployment => {
                    let d = st.deployments.get_mut(key).ok_or_else(not_found)?;
                    (&mut d.metadata, d.spec.as_mut().map(|s| &mut s.replicas))
                }
                Workload::ReplicaSet => {
                    let r = st.replicasets.get_mut(key).ok_or_else(not_found)?;
                    (&mut r.metadata, r.spec.as_mut().map(|s| &mut s.replicas))
                }
            };
            if let Some(r) = spec_replicas {
                *r = Some(replicas);
            }
            meta.resource_version = Some(rv);
            Ok(())
        })??;
        Ok(Outcome::new(kind.singular(), key.1.clone(), Verb::Scaled))
    }

    /// Delete the Deployments (or ReplicaSets) that `pick` selects, with what they own, as
    /// kube-apiserver's garbage collector does in the background: a Deployment's ReplicaSets,
    /// then their pods. Returns one outcome per object of `kind` deleted.
    pub fn delete_workloads(
        self: &Arc<Self>,
        kind: Workload,
        pick: impl Fn(&ObjectMeta) -> bool,
    ) -> Result<Vec<Outcome>, ApiError> {
        let owned_by =
            |meta: &ObjectMeta, uids: &[String]| meta.owner_references.iter().flatten().any(|o| uids.contains(&o.uid));
        let (out, rs_uids) = self.store.write(|st| {
            let mut out = Vec::new();
            let mut owners: Vec<String> = Vec::new();
            let mut removed = Vec::new();
            if kind == Workload::Deployment {
                st.deployments.retain(|key, d| {
                    if !pick(&d.metadata) {
                        return true;
                    }
                    removed.push(crate::store::Removed::Deployment(Box::new(d.clone())));
                    owners.push(d.metadata.uid.clone().unwrap_or_default());
                    out.push(Outcome::new(
                        Workload::Deployment.singular(),
                        key.1.clone(),
                        Verb::Deleted,
                    ));
                    false
                });
            }
            let mut rs_uids = Vec::new();
            st.replicasets.retain(|key, r| {
                let picked = kind == Workload::ReplicaSet && pick(&r.metadata);
                if !picked && !owned_by(&r.metadata, &owners) {
                    return true;
                }
                rs_uids.push(r.metadata.uid.clone().unwrap_or_default());
                removed.push(crate::store::Removed::ReplicaSet(Box::new(r.clone())));
                if picked {
                    out.push(Outcome::new(
                        Workload::ReplicaSet.singular(),
                        key.1.clone(),
                        Verb::Deleted,
                    ));
                }
                false
            });
            st.next_resource_version();
            for r in removed {
                st.bury(r);
            }
            (out, rs_uids)
        })?;
        let pods = self.store.pod_keys_where(|p| owned_by(&p.metadata, &rs_uids));
        for k in pods {
            self.clone().delete_in_background(k);
        }
        Ok(out)
    }
}
