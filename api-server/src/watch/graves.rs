//! Deletions a watch must report although they happened before it started.
//!
//! kubectl's `delete`, `wait` and `rollout status` list an object, then watch from the list's
//! resourceVersion; an object deleted in between must still come as `DELETED`, or kubectl waits
//! forever. The store remembers its last removals with the resourceVersion each took
//! ([`podlab_control_plane::Cluster::removed_since`]); this turns them into the API's JSON.

use crate::kinds::Kind;
use podlab_control_plane::Cluster;
use podlab_control_plane::store::Removed;
use serde_json::Value;
use std::sync::Arc;

/// One removed object.
#[derive(Clone)]
pub struct Grave {
    /// Its kind.
    pub kind: Kind,
    /// The store's resourceVersion of the removal.
    pub noticed: u64,
    /// The object as last seen.
    pub object: Value,
}

/// The deletions of one cluster, read from its store.
pub struct Graves {
    cluster: Arc<Cluster>,
}

/// The deletions of `cluster`.
pub fn of(cluster: &Arc<Cluster>) -> Arc<Graves> {
    Arc::new(Graves {
        cluster: cluster.clone(),
    })
}

fn grave(t: podlab_control_plane::store::Tombstone) -> Grave {
    let (kind, object) = match t.object {
        Removed::Pod(p) => (Kind::Pod, serde_json::to_value(*p)),
        Removed::Namespace(n) => (Kind::Namespace, serde_json::to_value(*n)),
        Removed::ReplicaSet(r) => (Kind::ReplicaSet, serde_json::to_value(*r)),
        Removed::Deployment(d) => (Kind::Deployment, serde_json::to_value(*d)),
        Removed::ConfigMap(c) => (Kind::ConfigMap, serde_json::to_value(*c)),
        Removed::Secret(s) => (Kind::Secret, serde_json::to_value(*s)),
    };
    Grave {
        kind,
        noticed: t.resource_version,
        object: object.unwrap_or(Value::Null),
    }
}

impl Graves {
    /// The graves of `kind` removed after resourceVersion `after`, and the version to ask
    /// from next time.
    pub fn since(&self, kind: Kind, after: u64) -> (Vec<Grave>, u64) {
        let all = self.cluster.removed_since(after);
        let next = all.last().map_or(after, |t| t.resource_version).max(after);
        let out = all.into_iter().map(grave).filter(|g| g.kind == kind).collect();
        (out, next)
    }

    /// Rings when the store changes (a removal is a change).
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.cluster.subscribe()
    }
}
