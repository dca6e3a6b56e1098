//! The columns of each kind as kube-apiserver's server-side printing defines them (name and
//! priority: priority 1 columns are `-o wide`), and each object's cells. `kubectl get` through
//! the Kubernetes API (Tables) and podlab's own `get` print the same cells.

use super::{age_secs, human_duration, pod_status_reason, ready_column, restarts_column};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, PodTemplateSpec, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8sSelector, Time};
use podlab_scenario::LabelSelector;

/// A column: its name and priority (0 always shown, 1 with `-o wide`).
pub type Column = (&'static str, u8);

fn age(t: Option<&Time>) -> String {
    human_duration(age_secs(t))
}

/// Pods: Name, Ready, Status, Restarts, Age; wide: IP, Node, Nominated Node, Readiness Gates.
pub const POD_COLUMNS: [Column; 9] = [
    ("Name", 0),
    ("Ready", 0),
    ("Status", 0),
    ("Restarts", 0),
    ("Age", 0),
    ("IP", 1),
    ("Node", 1),
    ("Nominated Node", 1),
    ("Readiness Gates", 1),
];

/// A pod's cells, in [`POD_COLUMNS`] order.
pub fn pod_cells(p: &Pod) -> Vec<String> {
    let st = p.status.clone().unwrap_or_default();
    vec![
        p.metadata.name.clone().unwrap_or_default(),
        ready_column(p),
        pod_status_reason(p),
        restarts_column(p),
        age(p.metadata.creation_timestamp.as_ref()),
        st.pod_ip.unwrap_or_else(|| "<none>".into()),
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| "<none>".into()),
        "<none>".into(),
        "<none>".into(),
    ]
}

/// Nodes: Name, Status, Roles, Age, Version; wide: Internal-IP, External-IP, OS-Image,
/// Kernel-Version, Container-Runtime.
pub const NODE_COLUMNS: [Column; 10] = [
    ("Name", 0),
    ("Status", 0),
    ("Roles", 0),
    ("Age", 0),
    ("Version", 0),
    ("Internal-IP", 1),
    ("External-IP", 1),
    ("OS-Image", 1),
    ("Kernel-Version", 1),
    ("Container-Runtime", 1),
];

/// A node's cells, in [`NODE_COLUMNS`] order; `failed`: the node is down (NotReady). STATUS is
/// kube-apiserver's: `Ready` when the Ready condition is True, else `NotReady`, and
/// `,SchedulingDisabled` when cordoned.
pub fn node_cells(n: &Node, failed: bool) -> Vec<String> {
    let st = n.status.clone().unwrap_or_default();
    let info = st.node_info.clone().unwrap_or_default();
    let unsched = n.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false);
    let ready = !failed
        && st
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Ready")
            .is_none_or(|c| c.status == "True");
    let status = format!(
        "{}{}",
        if ready { "Ready" } else { "NotReady" },
        if unsched { ",SchedulingDisabled" } else { "" }
    );
    let ip = st.addresses.iter().flatten().find(|a| a.type_ == "InternalIP");
    vec![
        n.metadata.name.clone().unwrap_or_default(),
        status,
        "<none>".into(),
        age(n.metadata.creation_timestamp.as_ref()),
        info.kubelet_version.clone(),
        ip.map(|a| a.address.clone()).unwrap_or_default(),
        "<none>".into(),
        info.os_image.clone(),
        info.kernel_version.clone(),
        info.container_runtime_version.clone(),
    ]
}

fn images(t: Option<&PodTemplateSpec>) -> (String, String) {
    let cs = t
        .and_then(|t| t.spec.as_ref())
        .map(|s| s.containers.clone())
        .unwrap_or_default();
    (
        cs.iter().map(|c| c.name.clone()).collect::<Vec<_>>().join(","),
        cs.iter()
            .map(|c| c.image.clone().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn selector_text(s: &K8sSelector) -> String {
    LabelSelector::from_k8s(s).map(|s| s.to_string()).unwrap_or_default()
}

/// Deployments: Name, Ready, Up-to-date, Available, Age; wide: Containers, Images, Selector.
pub const DEPLOYMENT_COLUMNS: [Column; 8] = [
    ("Name", 0),
    ("Ready", 0),
    ("Up-to-date", 0),
    ("Available", 0),
    ("Age", 0),
    ("Containers", 1),
    ("Images", 1),
    ("Selector", 1),
];

/// A Deployment's cells, in [`DEPLOYMENT_COLUMNS`] order.
pub fn deployment_cells(d: &Deployment) -> Vec<String> {
    let st = d.status.clone().unwrap_or_default();
    let spec = d.spec.clone().unwrap_or_default();
    let want = spec.replicas.unwrap_or(1);
    let (c, i) = images(Some(&spec.template));
    vec![
        d.metadata.name.clone().unwrap_or_default(),
        format!("{}/{want}", st.ready_replicas.unwrap_or(0)),
        st.updated_replicas.unwrap_or(0).to_string(),
        st.available_replicas.unwrap_or(0).to_string(),
        age(d.metadata.creation_timestamp.as_ref()),
        c,
        i,
        selector_text(&spec.selector),
    ]
}

/// ReplicaSets: Name, Desired, Current, Ready, Age; wide: Containers, Images, Selector.
pub const REPLICASET_COLUMNS: [Column; 8] = [
    ("Name", 0),
    ("Desired", 0),
    ("Current", 0),
    ("Ready", 0),
    ("Age", 0),
    ("Containers", 1),
    ("Images", 1),
    ("Selector", 1),
];

/// A ReplicaSet's cells, in [`REPLICASET_COLUMNS`] order.
pub fn replicaset_cells(r: &ReplicaSet) -> Vec<String> {
    let st = r.status.clone().unwrap_or_default();
    let spec = r.spec.clone().unwrap_or_default();
    let (c, i) = images(spec.template.as_ref());
    vec![
        r.metadata.name.clone().unwrap_or_default(),
        spec.replicas.unwrap_or(1).to_string(),
        st.replicas.to_string(),
        st.ready_replicas.unwrap_or(0).to_string(),
        age(r.metadata.creation_timestamp.as_ref()),
        c,
        i,
        selector_text(&spec.selector),
    ]
}

/// Namespaces: Name, Status, Age.
pub const NAMESPACE_COLUMNS: [Column; 3] = [("Name", 0), ("Status", 0), ("Age", 0)];

/// A namespace's cells, in [`NAMESPACE_COLUMNS`] order.
pub fn namespace_cells(n: &Namespace) -> Vec<String> {
    let phase = n.status.as_ref().and_then(|s| s.phase.clone());
    vec![
        n.metadata.name.clone().unwrap_or_default(),
        phase.unwrap_or_else(|| "Active".into()),
        age(n.metadata.creation_timestamp.as_ref()),
    ]
}

/// ConfigMaps: Name, Data, Age.
pub const CONFIGMAP_COLUMNS: [Column; 3] = [("Name", 0), ("Data", 0), ("Age", 0)];

/// A ConfigMap's cells, in [`CONFIGMAP_COLUMNS`] order: DATA counts `data` and `binaryData`.
pub fn configmap_cells(c: &ConfigMap) -> Vec<String> {
    let n = c.data.as_ref().map_or(0, |d| d.len()) + c.binary_data.as_ref().map_or(0, |d| d.len());
    vec![
        c.metadata.name.clone().unwrap_or_default(),
        n.to_string(),
        age(c.metadata.creation_timestamp.as_ref()),
    ]
}

/// Secrets: Name, Type, Data, Age.
pub const SECRET_COLUMNS: [Column; 4] = [("Name", 0), ("Type", 0), ("Data", 0), ("Age", 0)];

/// A Secret's cells, in [`SECRET_COLUMNS`] order.
pub fn secret_cells(s: &Secret) -> Vec<String> {
    vec![
        s.metadata.name.clone().unwrap_or_default(),
        s.type_.clone().unwrap_or_else(|| "Opaque".into()),
        s.data.as_ref().map_or(0, |d| d.len()).to_string(),
        age(s.metadata.creation_timestamp.as_ref()),
    ]
}

/// Events: Last Seen, Type, Reason, Object, Message; wide: Source, First Seen, Count, Name.
pub const EVENT_COLUMNS: [Column; 9] = [
    ("Last Seen", 0),
    ("Type", 0),
    ("Reason", 0),
    ("Object", 0),
    ("Message", 0),
    ("Source", 1),
    ("First Seen", 1),
    ("Count", 1),
    ("Name", 1),
];

/// An event's cells, in [`EVENT_COLUMNS`] order.
pub fn event_cells(e: &Event) -> Vec<String> {
    let source = e.source.as_ref();
    let src = match (
        source.and_then(|s| s.component.clone()),
        source.and_then(|s| s.host.clone()),
    ) {
        (Some(c), Some(h)) => format!("{c}, {h}"),
        (Some(c), None) => c,
        _ => String::new(),
    };
    vec![
        age(e.last_timestamp.as_ref()),
        e.type_.clone().unwrap_or_default(),
        e.reason.clone().unwrap_or_default(),
        format!(
            "{}/{}",
            e.involved_object.kind.clone().unwrap_or_default().to_lowercase(),
            e.involved_object.name.clone().unwrap_or_default()
        ),
        e.message.clone().unwrap_or_default(),
        src,
        age(e.first_timestamp.as_ref()),
        e.count.unwrap_or(1).to_string(),
        e.metadata.name.clone().unwrap_or_default(),
    ]
}
