//! The event recorder: Kubernetes `Event`s about pods and nodes. A repeat of the same reason
//! and message about the same object is folded into the earlier event (count + 1, a new
//! lastTimestamp), as the API server's event aggregation does, found through an index in O(1).

use crate::cluster::{Cluster, key_of};
use crate::error::ApiError;
use crate::store::{State, Store, or_log};
use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_node_agent::now;
use std::collections::HashMap;

/// What makes two events the same: the object (kind, namespace, name), reason and message.
type EventKey = (Option<String>, Option<String>, Option<String>, String, String);

/// Every event, in the order first seen, with an index for folding repeats.
#[derive(Default)]
pub(crate) struct EventLog {
    events: Vec<Event>,
    /// Where the event with this key is in `events`.
    index: HashMap<EventKey, usize>,
}

/// One event to record.
pub(crate) struct NewEvent<'a> {
    /// The object it is about.
    pub object: ObjectReference,
    /// "Normal" or "Warning".
    pub type_: &'a str,
    pub reason: &'a str,
    pub message: String,
    /// The component reporting it (`kubelet`, `default-scheduler`, ...).
    pub source: &'a str,
    /// The node it happened on, if it names one.
    pub host: Option<&'a str>,
}

impl EventLog {
    /// Every event.
    pub(crate) fn all(&self) -> &[Event] {
        &self.events
    }
}

impl State {
    /// Store an event, or fold it into its earlier twin.
    pub(crate) fn record(&mut self, e: NewEvent<'_>) {
        let t = now();
        let rv = self.next_resource_version();
        let key: EventKey = (
            e.object.kind.clone(),
            e.object.namespace.clone(),
            e.object.name.clone(),
            e.reason.to_string(),
            e.message.clone(),
        );
        let log = &mut self.events;
        if let Some(old) = log.index.get(&key).and_then(|&i| log.events.get_mut(i)) {
            old.count = Some(old.count.unwrap_or(1) + 1);
            old.last_timestamp = Some(t);
            old.metadata.resource_version = Some(rv);
            return;
        }
        let n = log.events.len();
        log.index.insert(key, n);
        log.events.push(Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{n:x}", e.object.name.clone().unwrap_or_default())),
                namespace: Some(e.object.namespace.clone().unwrap_or_else(|| "default".into())),
                resource_version: Some(rv),
                ..Default::default()
            },
            involved_object: e.object,
            type_: Some(e.type_.into()),
            reason: Some(e.reason.into()),
            message: Some(e.message),
            count: Some(1),
            first_timestamp: Some(t.clone()),
            last_timestamp: Some(t),
            source: Some(EventSource {
                component: Some(e.source.into()),
                host: e.host.map(Into::into),
            }),
            ..Default::default()
        });
    }
}

/// A reference to a pod, as events name it.
pub(crate) fn pod_reference(pod: &Pod) -> ObjectReference {
    let (ns, name) = key_of(pod);
    ObjectReference {
        kind: Some("Pod".into()),
        name: Some(name),
        namespace: Some(ns),
        uid: pod.metadata.uid.clone(),
        ..Default::default()
    }
}

impl Store {
    /// Record an event.
    pub(crate) fn record(&self, e: NewEvent<'_>) -> Result<(), ApiError> {
        self.write(|st| st.record(e))
    }
}

impl Cluster {
    /// Record an event about a pod from `source`; a store that cannot take it is logged.
    pub(crate) fn pod_event(&self, pod: &Pod, type_: &str, reason: &str, message: String, source: &str) {
        let e = NewEvent {
            object: pod_reference(pod),
            type_,
            reason,
            message,
            source,
            host: None,
        };
        or_log(self.store.record(e), "recording an event");
    }

    /// Record an event about a node (e.g. a route the node agent restored).
    pub fn node_event(&self, node: &str, type_: &str, reason: &str, message: String) {
        let object = ObjectReference {
            kind: Some("Node".into()),
            name: Some(node.into()),
            ..Default::default()
        };
        let e = NewEvent {
            object,
            type_,
            reason,
            message,
            source: "podlab-node-agent",
            host: Some(node),
        };
        or_log(self.store.record(e), "recording an event");
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Event> {
        self.store.events()
    }
}
