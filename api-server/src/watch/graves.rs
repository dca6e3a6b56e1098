//! Deletions a watch must report although they happened before it started.
//!
//! kubectl's `delete`, `wait` and `rollout status` list an object, then watch from the list's
//! resourceVersion; an object deleted in between must still come as `DELETED`, or kubectl waits
//! forever. The store keeps no history, so a recorder per cluster (started by the first list or
//! watch) notices removed objects and keeps the last [`KEEP`] of them, each with the store's
//! resourceVersion when it was noticed (the deletion happened at or before it).

use crate::kinds::{self, Kind};
use crate::objects;
use podlab_control_plane::Cluster;
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// How many deletions are remembered.
pub const KEEP: usize = 4096;

/// One removed object.
#[derive(Clone)]
pub struct Grave {
    /// Its position in the log (increasing).
    pub seq: u64,
    /// Its kind.
    pub kind: Kind,
    /// The store's resourceVersion when the deletion was noticed.
    pub noticed: u64,
    /// The object as last seen.
    pub object: Value,
}

/// The deletions of one cluster.
pub struct Graves {
    log: Mutex<VecDeque<Grave>>,
    bell: tokio::sync::watch::Sender<u64>,
}

type Seen = HashMap<(usize, String), Value>;

static RECORDERS: Mutex<Vec<(Weak<Cluster>, Arc<Graves>)>> = Mutex::new(Vec::new());

/// The recorder of `cluster`'s deletions, started on first use (on a tokio runtime).
pub fn of(cluster: &Arc<Cluster>) -> Arc<Graves> {
    let mut all = RECORDERS.lock().unwrap_or_else(PoisonError::into_inner);
    all.retain(|(w, _)| w.strong_count() > 0);
    if let Some((_, g)) = all.iter().find(|(w, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(cluster))) {
        return g.clone();
    }
    let graves = Arc::new(Graves {
        log: Mutex::new(VecDeque::new()),
        bell: tokio::sync::watch::channel(0).0,
    });
    all.push((Arc::downgrade(cluster), graves.clone()));
    let changes = cluster.subscribe();
    let seen = everything(cluster);
    tokio::spawn(record(Arc::downgrade(cluster), changes, seen, graves.clone()));
    graves
}

/// Every object but Events (which nobody waits on), by kind and key.
fn everything(cluster: &Cluster) -> Seen {
    let mut out = HashMap::new();
    for (i, kind) in kinds::ALL.into_iter().enumerate() {
        if kind == Kind::Event {
            continue;
        }
        for o in objects::list(cluster, kind, None) {
            out.insert((i, super::key(&o)), o);
        }
    }
    out
}

async fn record(
    cluster: Weak<Cluster>,
    mut changes: tokio::sync::watch::Receiver<u64>,
    mut seen: Seen,
    graves: Arc<Graves>,
) {
    while changes.changed().await.is_ok() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let Some(c) = cluster.upgrade() else { return };
        let now = everything(&c);
        let noticed = c.resource_version();
        drop(c);
        let gone: Vec<(Kind, Value)> = seen
            .iter()
            .filter(|(k, _)| !now.contains_key(*k))
            .map(|((i, _), o)| (kinds::ALL[*i], o.clone()))
            .collect();
        seen = now;
        if !gone.is_empty() {
            graves.bury(noticed, gone);
        }
    }
}

impl Graves {
    fn bury(&self, noticed: u64, gone: Vec<(Kind, Value)>) {
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let mut seq = log.back().map_or(0, |g| g.seq + 1);
        for (kind, object) in gone {
            log.push_back(Grave {
                seq,
                kind,
                noticed,
                object,
            });
            seq += 1;
        }
        while log.len() > KEEP {
            log.pop_front();
        }
        self.bell.send_replace(seq);
    }

    /// The graves of `kind` from `seq` on, and the seq to ask for next time.
    pub fn since(&self, kind: Kind, seq: u64) -> (Vec<Grave>, u64) {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        let next = log.back().map_or(seq, |g| g.seq + 1).max(seq);
        let out = log.iter().filter(|g| g.seq >= seq && g.kind == kind).cloned().collect();
        (out, next)
    }

    /// Rings when a grave is added.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.bell.subscribe()
    }
}
