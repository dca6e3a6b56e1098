//! ConfigMaps and Secrets: `kubectl apply` for them (created, configured or unchanged, with
//! kube-apiserver's update checks: `immutable`, a Secret's `type`), delete, and removing a
//! namespace's. They are data only: every write takes a resourceVersion and rings the store's
//! change channel, which is how the kubelets learn that one changed.

use crate::cluster::{Cluster, Key};
use crate::error::ApiError;
use crate::outcome::{Outcome, Verb};
use crate::store::{Removed, State, Store, namespace_not_found};
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_scenario::Object;
use std::collections::BTreeMap;

/// What the store needs to know of a ConfigMap or a Secret.
trait ConfigKind: Clone + PartialEq + k8s_openapi::Metadata<Ty = ObjectMeta> {
    /// kubectl's singular name (`configmap`).
    const SINGULAR: &'static str;
    /// kube-apiserver's plural (`configmaps`).
    const PLURAL: &'static str;
    fn map(st: &mut State) -> &mut BTreeMap<Key, Self>;
    fn object(self) -> Object;
    fn removed(self) -> Removed;
}

impl ConfigKind for ConfigMap {
    const SINGULAR: &'static str = "configmap";
    const PLURAL: &'static str = "configmaps";
    fn map(st: &mut State) -> &mut BTreeMap<Key, Self> {
        &mut st.config_maps
    }
    fn object(self) -> Object {
        Object::ConfigMap(Box::new(self))
    }
    fn removed(self) -> Removed {
        Removed::ConfigMap(Box::new(self))
    }
}

impl ConfigKind for Secret {
    const SINGULAR: &'static str = "secret";
    const PLURAL: &'static str = "secrets";
    fn map(st: &mut State) -> &mut BTreeMap<Key, Self> {
        &mut st.secrets
    }
    fn object(self) -> Object {
        Object::Secret(Box::new(self))
    }
    fn removed(self) -> Removed {
        Removed::Secret(Box::new(self))
    }
}

/// Whether `new` says nothing `old` does not (what the store keeps of its own aside).
fn same<T: ConfigKind>(old: &T, new: &T) -> bool {
    let mut n = new.clone();
    let (m, o) = (n.metadata_mut(), old.metadata());
    m.uid = o.uid.clone();
    m.creation_timestamp = o.creation_timestamp.clone();
    m.resource_version = o.resource_version.clone();
    m.managed_fields = o.managed_fields.clone();
    m.generation = o.generation;
    n == *old
}

/// kube-apiserver's `Invalid` for an update it refuses.
fn update_refused<T: ConfigKind>(old: &T, new: &T, name: &str) -> Result<(), ApiError> {
    let errors = podlab_scenario::validation::update_errors(&old.clone().object(), &new.clone().object());
    let message = match errors.len() {
        0 => return Ok(()),
        1 => errors[0].clone(),
        _ => format!("[{}]", errors.join(", ")),
    };
    let kind = new.clone().object().kind();
    Err(ApiError::Invalid {
        resource: kind.into(),
        name: name.into(),
        message,
    })
}

impl Store {
    /// Create or update a ConfigMap.
    pub fn apply_config_map(&self, cm: ConfigMap) -> Result<Outcome, ApiError> {
        self.apply_config(cm)
    }

    /// Create or update a Secret. It must be normalized already (`stringData` merged into
    /// `data`: [`podlab_scenario::normalize_secret`]), as every [`Object::Secret`] is; this
    /// normalizes again, which changes nothing then.
    pub fn apply_secret(&self, mut s: Secret) -> Result<Outcome, ApiError> {
        podlab_scenario::normalize_secret(&mut s);
        self.apply_config(s)
    }

    /// `kubectl apply` for a ConfigMap or Secret: created, configured or unchanged.
    fn apply_config<T: ConfigKind>(&self, mut obj: T) -> Result<Outcome, ApiError> {
        let ns = obj.metadata().namespace.clone().unwrap_or_else(|| "default".into());
        obj.metadata_mut().namespace = Some(ns.clone());
        let name = obj.metadata().name.clone().unwrap_or_default();
        let key = (ns.clone(), name.clone());
        let uid = self.next_uid();
        let verb = self.write(|st| {
            if !st.namespaces.contains_key(&ns) {
                return Err(namespace_not_found(&ns));
            }
            if let Some(stored) = T::map(st).get(&key) {
                update_refused(stored, &obj, &name)?;
                if same(stored, &obj) {
                    return Ok(Verb::Unchanged);
                }
            }
            let verb = State::identity(obj.metadata_mut(), T::map(st).get(&key).map(|o| o.metadata()), uid);
            st.stamp(obj.metadata_mut());
            T::map(st).insert(key, obj);
            Ok(verb)
        })??;
        Ok(Outcome::new(T::SINGULAR, name, verb))
    }

    /// Remove a ConfigMap or Secret; `NotFound` if there is none.
    fn remove_config<T: ConfigKind>(&self, key: &Key) -> Result<Outcome, ApiError> {
        self.write(|st| {
            let Some(old) = T::map(st).remove(key) else {
                return Err(ApiError::not_found(T::PLURAL, &key.1));
            };
            st.next_resource_version();
            st.bury(old.removed());
            Ok(())
        })??;
        Ok(Outcome::new(T::SINGULAR, key.1.clone(), Verb::Deleted))
    }

    /// Remove every ConfigMap and Secret of namespace `ns` (the namespace is going away).
    pub(crate) fn remove_configs_in(&self, ns: &str) -> Result<(), ApiError> {
        self.write(|st| {
            let mut removed = Vec::new();
            st.config_maps.retain(|(n, _), c| {
                let keep = n != ns;
                if !keep {
                    removed.push(c.clone().removed());
                }
                keep
            });
            st.secrets.retain(|(n, _), s| {
                let keep = n != ns;
                if !keep {
                    removed.push(s.clone().removed());
                }
                keep
            });
            st.next_resource_version();
            for r in removed {
                st.bury(r);
            }
        })
    }
}

impl Cluster {
    /// Create or update a ConfigMap (`configmap/NAME created|configured|unchanged`).
    pub fn apply_config_map(&self, cm: ConfigMap) -> Result<Outcome, ApiError> {
        self.store.apply_config_map(cm)
    }

    /// Create or update a Secret (`secret/NAME created|configured|unchanged`).
    pub fn apply_secret(&self, s: Secret) -> Result<Outcome, ApiError> {
        self.store.apply_secret(s)
    }

    /// Delete a ConfigMap (`configmap "NAME" deleted`), or `NotFound`.
    pub fn delete_config_map(&self, key: &Key) -> Result<Outcome, ApiError> {
        self.store.remove_config::<ConfigMap>(key)
    }

    /// Delete a Secret (`secret "NAME" deleted`), or `NotFound`.
    pub fn delete_secret(&self, key: &Key) -> Result<Outcome, ApiError> {
        self.store.remove_config::<Secret>(key)
    }

    /// A copy of a ConfigMap, if there is one.
    pub fn config_map(&self, key: &Key) -> Option<ConfigMap> {
        self.store.config_map(key)
    }

    /// A copy of a Secret, if there is one.
    pub fn secret(&self, key: &Key) -> Option<Secret> {
        self.store.secret(key)
    }

    /// Copies of the ConfigMaps in `ns` (all namespaces when `None`).
    pub fn config_maps(&self, ns: Option<&str>) -> Vec<ConfigMap> {
        self.store.config_maps(ns)
    }

    /// Copies of the Secrets in `ns` (all namespaces when `None`).
    pub fn secrets(&self, ns: Option<&str>) -> Vec<Secret> {
        self.store.secrets(ns)
    }
}
