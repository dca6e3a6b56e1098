//! The API server's validation for the objects podlab runs, with kubectl's wording
//! (`metadata.name: Invalid value: "Foo_bar": ...`, `spec.containers: Required value`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector as K8sSelector, ObjectMeta};

mod volumes;

use crate::config;
use crate::names;
use crate::objects::Object;
use crate::quantity::parse_quantity;
use crate::selector::LabelSelector;

/// One validation failure on one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldError {
    pub path: String,
    pub text: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.text)
    }
}

/// The failures found so far, in order.
#[derive(Default)]
pub(crate) struct Errs(Vec<FieldError>);

impl Errs {
    pub(crate) fn required(&mut self, path: &str) {
        self.push(path, "Required value".into());
    }
    pub(crate) fn required_why(&mut self, path: &str, why: &str) {
        self.push(path, format!("Required value: {why}"));
    }
    pub(crate) fn invalid(&mut self, path: &str, value: impl fmt::Debug, detail: &str) {
        self.push(path, format!("Invalid value: {value:?}: {detail}"));
    }
    pub(crate) fn unsupported(&mut self, path: &str, value: &str, supported: &[&str]) {
        let quoted: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        self.push(
            path,
            format!("Unsupported value: {value:?}: supported values: {}", quoted.join(", ")),
        );
    }
    pub(crate) fn forbidden(&mut self, path: &str, why: &str) {
        self.push(path, format!("Forbidden: {why}"));
    }
    pub(crate) fn duplicate(&mut self, path: &str, value: &str) {
        self.push(path, format!("Duplicate value: {value:?}"));
    }
    pub(crate) fn push(&mut self, path: &str, text: String) {
        self.0.push(FieldError {
            path: path.to_owned(),
            text,
        });
    }
}

/// All validation failures for one object, in kubectl's order.
pub(crate) fn object(obj: &Object) -> Vec<FieldError> {
    let mut e = Errs::default();
    match obj {
        Object::Pod(pod) => {
            meta(&pod.metadata, true, &mut e);
            match &pod.spec {
                Some(spec) => pod_spec(spec, "spec", &mut e),
                None => e.required("spec"),
            }
        }
        Object::Namespace(ns) => {
            meta(&ns.metadata, false, &mut e);
        }
        Object::Deployment(d) => {
            meta(&d.metadata, true, &mut e);
            match &d.spec {
                Some(spec) => workload(spec.replicas, Some(&spec.selector), Some(&spec.template), &mut e),
                None => e.required("spec"),
            }
        }
        Object::ReplicaSet(r) => {
            meta(&r.metadata, true, &mut e);
            match &r.spec {
                Some(spec) => workload(spec.replicas, Some(&spec.selector), spec.template.as_ref(), &mut e),
                None => e.required("spec"),
            }
        }
        Object::ConfigMap(cm) => config::config_map(cm, &mut e),
        Object::Secret(s) => config::secret(s, &mut e),
    }
    e.0
}

/// What an update from `old` to `new` (the same kind and object) may not change.
pub(crate) fn update(old: &Object, new: &Object) -> Vec<FieldError> {
    let mut e = Errs::default();
    match (old, new) {
        (Object::ConfigMap(o), Object::ConfigMap(n)) => config::config_map_update(o, n, &mut e),
        (Object::Secret(o), Object::Secret(n)) => config::secret_update(o, n, &mut e),
        _ => {}
    }
    e.0
}

/// `metadata`: name (a DNS subdomain, or a label for Namespaces), namespace, labels, annotations.
pub(crate) fn meta(m: &ObjectMeta, subdomain_name: bool, e: &mut Errs) {
    match (&m.name, &m.generate_name) {
        (Some(name), _) if !name.is_empty() => {
            let problems = if subdomain_name {
                names::dns1123_subdomain(name)
            } else {
                names::dns1123_label(name)
            };
            for p in problems {
                e.invalid("metadata.name", name, &p);
            }
        }
        (_, Some(g)) if !g.is_empty() => {}
        _ => e.required_why("metadata.name", "name or generateName is required"),
    }
    if subdomain_name && let Some(ns) = m.namespace.as_deref() {
        for p in names::dns1123_label(ns) {
            e.invalid("metadata.namespace", ns, &p);
        }
    }
    labels(m.labels.as_ref(), "metadata.labels", e);
    for key in m.annotations.iter().flatten().map(|(k, _)| k) {
        for p in names::qualified_name(key) {
            e.invalid("metadata.annotations", key, &p);
        }
    }
}

fn labels(labels: Option<&BTreeMap<String, String>>, path: &str, e: &mut Errs) {
    for (k, v) in labels.into_iter().flatten() {
        for p in names::qualified_name(k) {
            e.invalid(path, k, &p);
        }
        for p in names::label_value(v) {
            e.invalid(path, v, &p);
        }
    }
}

fn workload(replicas: Option<i32>, selector: Option<&K8sSelector>, template: Option<&PodTemplateSpec>, e: &mut Errs) {
    if let Some(r) = replicas.filter(|r| *r < 0) {
        e.invalid("spec.replicas", r, "must be greater than or equal to 0");
    }
    let parsed = match selector {
        None => {
            e.required("spec.selector");
            None
        }
        Some(sel) => match LabelSelector::from_k8s(sel) {
            Ok(s) if s.is_empty() => {
                e.invalid("spec.selector", "{}", "empty selector is invalid for deployment");
                None
            }
            Ok(s) => Some(s),
            Err(err) => {
                e.invalid("spec.selector", sel_text(sel), &err.message);
                None
            }
        },
    };
    let Some(template) = template else {
        e.required("spec.template");
        return;
    };
    let tmeta = template.metadata.clone().unwrap_or_default();
    labels(tmeta.labels.as_ref(), "spec.template.metadata.labels", e);
    if let Some(sel) = parsed {
        let tl = tmeta.labels.clone().unwrap_or_default();
        if !sel.matches(&tl) {
            e.invalid(
                "spec.template.metadata.labels",
                GoMap(&tl),
                "`selector` does not match template `labels`",
            );
        }
    }
    match &template.spec {
        Some(spec) => {
            pod_spec(spec, "spec.template.spec", e);
            if let Some(p) = spec.restart_policy.as_deref().filter(|p| *p != "Always") {
                e.unsupported("spec.template.spec.restartPolicy", p, &["Always"]);
            }
        }
        None => e.required("spec.template.spec"),
    }
}

fn sel_text(sel: &K8sSelector) -> String {
    serde_json::to_string(sel).unwrap_or_default()
}

/// Prints a label map like Go's `%#v` does for `map[string]string`.
struct GoMap<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for GoMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k:?}:{v:?}")).collect();
        write!(f, "map[string]string{{{}}}", parts.join(", "))
    }
}

/// Fields that would reach the machine's own namespaces or files: podlab refuses them.
fn host_fields(spec: &PodSpec, path: &str, e: &mut Errs) {
    let why = "podlab refuses it: it would reach the machine's own";
    for (field, on, what) in [
        (
            "hostNetwork",
            spec.host_network,
            "network namespace (its links, addresses and routes)",
        ),
        ("hostPID", spec.host_pid, "process table"),
        ("hostIPC", spec.host_ipc, "IPC namespace"),
    ] {
        if on == Some(true) {
            e.forbidden(&format!("{path}.{field}"), &format!("{why} {what}"));
        }
    }
    for (i, v) in spec.volumes.iter().flatten().enumerate() {
        if v.host_path.is_some() {
            e.forbidden(&format!("{path}.volumes[{i}].hostPath"), &format!("{why} files"));
        }
    }
    let groups = [
        ("initContainers", spec.init_containers.as_deref().unwrap_or(&[])),
        ("containers", spec.containers.as_slice()),
    ];
    for (field, list) in groups {
        for (i, c) in list.iter().enumerate() {
            let sc = c.security_context.as_ref();
            if sc.and_then(|s| s.privileged) == Some(true) {
                e.forbidden(
                    &format!("{path}.{field}[{i}].securityContext.privileged"),
                    &format!("{why} devices and kernel settings"),
                );
            }
        }
    }
}

fn pod_spec(spec: &PodSpec, path: &str, e: &mut Errs) {
    if spec.containers.is_empty() {
        e.required(&format!("{path}.containers"));
    }
    host_fields(spec, path, e);
    let volume_names = volumes::volumes(spec.volumes.as_deref().unwrap_or_default(), path, e);
    let mut names_seen = BTreeSet::new();
    let groups = [
        ("initContainers", spec.init_containers.as_deref().unwrap_or(&[])),
        ("containers", spec.containers.as_slice()),
    ];
    for (field, list) in groups {
        for (i, c) in list.iter().enumerate() {
            let cpath = format!("{path}.{field}[{i}]");
            container(c, &cpath, e);
            volumes::mounts(c, &volume_names, &cpath, e);
            if !c.name.is_empty() && !names_seen.insert(c.name.clone()) {
                e.duplicate(&format!("{cpath}.name"), &c.name);
            }
        }
    }
    if let Some(p) = spec.restart_policy.as_deref()
        && !["Always", "OnFailure", "Never"].contains(&p)
    {
        e.unsupported(&format!("{path}.restartPolicy"), p, &["Always", "OnFailure", "Never"]);
    }
    if let Some(node) = spec.node_name.as_deref() {
        for p in names::dns1123_subdomain(node) {
            e.invalid(&format!("{path}.nodeName"), node, &p);
        }
    }
    labels(spec.node_selector.as_ref(), &format!("{path}.nodeSelector"), e);
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        let tpath = format!("{path}.tolerations[{i}]");
        if let Some(op) = t.operator.as_deref()
            && !["Exists", "Equal"].contains(&op)
        {
            e.unsupported(&format!("{tpath}.operator"), op, &["Equal", "Exists"]);
        }
        if let Some(eff) = t.effect.as_deref().filter(|s| !s.is_empty())
            && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&eff)
        {
            e.unsupported(
                &format!("{tpath}.effect"),
                eff,
                &["NoExecute", "NoSchedule", "PreferNoSchedule"],
            );
        }
    }
}

fn container(c: &Container, path: &str, e: &mut Errs) {
    if c.name.is_empty() {
        e.required(&format!("{path}.name"));
    } else {
        for p in names::dns1123_label(&c.name) {
            e.invalid(&format!("{path}.name"), &c.name, &p);
        }
    }
    if c.image.as_deref().is_none_or(|i| i.trim().is_empty()) {
        e.required(&format!("{path}.image"));
    }
    let mut port_names = BTreeSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let ppath = format!("{path}.ports[{i}]");
        if !(1..=65535).contains(&port.container_port) {
            e.invalid(
                &format!("{ppath}.containerPort"),
                port.container_port,
                "must be between 1 and 65535, inclusive",
            );
        }
        if let Some(hp) = port.host_port.filter(|p| !(0..=65535).contains(p)) {
            e.invalid(
                &format!("{ppath}.hostPort"),
                hp,
                "must be between 1 and 65535, inclusive",
            );
        }
        if let Some(proto) = port.protocol.as_deref()
            && !["TCP", "UDP", "SCTP"].contains(&proto)
        {
            e.unsupported(&format!("{ppath}.protocol"), proto, &["SCTP", "TCP", "UDP"]);
        }
        if let Some(name) = port.name.as_deref() {
            for p in names::port_name(name) {
                e.invalid(&format!("{ppath}.name"), name, &p);
            }
            if !port_names.insert(name.to_owned()) {
                e.duplicate(&format!("{ppath}.name"), name);
            }
        }
    }
    if let Some(p) = c.image_pull_policy.as_deref()
        && !["Always", "IfNotPresent", "Never"].contains(&p)
    {
        e.unsupported(
            &format!("{path}.imagePullPolicy"),
            p,
            &["Always", "IfNotPresent", "Never"],
        );
    }
    for (i, env) in c.env.iter().flatten().enumerate() {
        if env.name.is_empty() {
            e.required(&format!("{path}.env[{i}].name"));
        }
        let from = env.value_from.as_ref();
        if from.is_some_and(|f| f.resource_field_ref.is_some()) {
            e.forbidden(
                &format!("{path}.env[{i}].valueFrom.resourceFieldRef"),
                "podlab does not implement it yet: use `value:`, a `fieldRef`, a `configMapKeyRef` or a `secretKeyRef`",
            );
        }
    }
    if let Some(r) = &c.resources {
        resources(r, &format!("{path}.resources"), e);
    }
}

/// Checks resource quantities; they are kept so later fields can be compared.
fn resources(r: &ResourceRequirements, path: &str, e: &mut Errs) {
    let mut parse_all = |map: Option<&BTreeMap<String, Quantity>>, field: &str| {
        let mut out = BTreeMap::new();
        for (name, q) in map.into_iter().flatten() {
            let qpath = format!("{path}.{field}[{name}]");
            match parse_quantity(&q.0) {
                Ok(v) if v < 0.0 => e.invalid(&qpath, &q.0, "must be greater than or equal to 0"),
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(err) => e.invalid(&qpath, &q.0, &err.to_string()),
            }
        }
        out
    };
    let limits = parse_all(r.limits.as_ref(), "limits");
    let requests = parse_all(r.requests.as_ref(), "requests");
    for (name, req) in &requests {
        if let Some(lim) = limits.get(name)
            && req > lim
        {
            let raw = r
                .limits
                .as_ref()
                .and_then(|l| l.get(name))
                .map(|q| q.0.clone())
                .unwrap_or_default();
            let req_raw = r
                .requests
                .as_ref()
                .and_then(|l| l.get(name))
                .map(|q| q.0.clone())
                .unwrap_or_default();
            e.invalid(
                &format!("{path}.requests[{name}]"),
                req_raw,
                &format!("must be less than or equal to {name} limit of {raw}"),
            );
        }
    }
}
