//! Kubernetes' defaulting, in one place: what kube-apiserver 1.34 fills in when an object is
//! created or updated (pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1/defaults.go, and the
//! Priority admission plugin for pods), so `-o yaml` shows `restartPolicy: Always`,
//! `imagePullPolicy`, `terminationMessagePath` and the rest. Every write of a Pod, Deployment
//! or ReplicaSet goes through it (`Cluster::apply_pod`, `Store::apply_workload`), pods created
//! by controllers from templates included. Defaulting is idempotent.
//!
//! Left out on purpose: the `node.kubernetes.io/not-ready` and `unreachable` tolerations with
//! `tolerationSeconds: 300` (DefaultTolerationSeconds admission): podlab's node eviction does
//! not read tolerations (it always waits 300 s), so they would promise what is not honoured;
//! and `serviceAccountName: default` (podlab has no ServiceAccounts).

use k8s_openapi::api::apps::v1::{Deployment, DeploymentStrategy, ReplicaSet, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    Container, HTTPGetAction, Pod, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Volume,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use podlab_node_agent::PullPolicy;

/// `terminationGracePeriodSeconds` when unset.
pub const DEFAULT_TERMINATION_GRACE_PERIOD: i64 = 30;
/// A Deployment's `progressDeadlineSeconds` when unset.
pub const DEFAULT_PROGRESS_DEADLINE: i32 = 600;
/// The mode of configMap, secret, downwardAPI and projected volume files when unset (0644).
pub const DEFAULT_VOLUME_MODE: i32 = 0o644;

fn set<T>(field: &mut Option<T>, value: impl FnOnce() -> T) {
    if field.is_none() {
        *field = Some(value());
    }
}

fn set_str(field: &mut Option<String>, value: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(value.to_string());
    }
}

/// A Pod as kube-apiserver stores it: its spec defaulted, requests taken from limits where a
/// container sets only limits, `enableServiceLinks: true`, and the Priority admission plugin's
/// `priority: 0` and `preemptionPolicy: PreemptLowerPriority` (podlab has no PriorityClasses).
pub fn pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(Default::default);
    pod_spec(spec);
    for c in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        requests_from_limits(c);
    }
    set(&mut spec.enable_service_links, || true);
    set(&mut spec.priority, || 0);
    set_str(&mut spec.preemption_policy, "PreemptLowerPriority");
}

/// A Deployment: `replicas: 1`, the RollingUpdate strategy with 25% surge and unavailability,
/// `revisionHistoryLimit: 10`, `progressDeadlineSeconds: 600`, and its pod template.
pub fn deployment(d: &mut Deployment) {
    let Some(spec) = d.spec.as_mut() else {
        return;
    };
    set(&mut spec.replicas, || 1);
    let strategy = spec.strategy.get_or_insert_with(DeploymentStrategy::default);
    set_str(&mut strategy.type_, "RollingUpdate");
    if strategy.type_.as_deref() == Some("RollingUpdate") {
        let ru = strategy
            .rolling_update
            .get_or_insert_with(RollingUpdateDeployment::default);
        set(&mut ru.max_unavailable, || IntOrString::String("25%".into()));
        set(&mut ru.max_surge, || IntOrString::String("25%".into()));
    }
    set(&mut spec.revision_history_limit, || {
        crate::controllers::deployment::DEFAULT_REVISION_HISTORY
    });
    set(&mut spec.progress_deadline_seconds, || DEFAULT_PROGRESS_DEADLINE);
    template(&mut spec.template);
}

/// A ReplicaSet: `replicas: 1` and its pod template.
pub fn replicaset(rs: &mut ReplicaSet) {
    let Some(spec) = rs.spec.as_mut() else {
        return;
    };
    set(&mut spec.replicas, || 1);
    if let Some(t) = spec.template.as_mut() {
        template(t);
    }
}

fn template(t: &mut PodTemplateSpec) {
    if let Some(spec) = t.spec.as_mut() {
        pod_spec(spec);
    }
}

/// SetDefaults_PodSpec and what it reaches: containers, probes, ports, volumes.
fn pod_spec(spec: &mut PodSpec) {
    set_str(&mut spec.dns_policy, "ClusterFirst");
    set_str(&mut spec.restart_policy, "Always");
    set(&mut spec.security_context, PodSecurityContext::default);
    set(&mut spec.termination_grace_period_seconds, || {
        DEFAULT_TERMINATION_GRACE_PERIOD
    });
    set_str(&mut spec.scheduler_name, "default-scheduler");
    for c in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        volume(v);
    }
}

fn container(c: &mut Container) {
    let image = c.image.clone().unwrap_or_default();
    set_str(&mut c.image_pull_policy, PullPolicy::default_for(&image).as_str());
    set_str(&mut c.termination_message_path, "/dev/termination-log");
    set_str(&mut c.termination_message_policy, "File");
    set(&mut c.resources, ResourceRequirements::default);
    for p in c.ports.iter_mut().flatten() {
        set_str(&mut p.protocol, "TCP");
    }
    for p in [&mut c.liveness_probe, &mut c.readiness_probe, &mut c.startup_probe]
        .into_iter()
        .flatten()
    {
        probe(p);
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(f) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            set_str(&mut f.api_version, "v1");
        }
    }
}

fn probe(p: &mut Probe) {
    set(&mut p.timeout_seconds, || 1);
    set(&mut p.period_seconds, || 10);
    set(&mut p.success_threshold, || 1);
    set(&mut p.failure_threshold, || 3);
    if let Some(h) = p.http_get.as_mut() {
        http_get(h);
    }
}

fn http_get(h: &mut HTTPGetAction) {
    set_str(&mut h.path, "/");
    set_str(&mut h.scheme, "HTTP");
}

fn volume(v: &mut Volume) {
    if let Some(s) = v.config_map.as_mut() {
        set(&mut s.default_mode, || DEFAULT_VOLUME_MODE);
    }
    if let Some(s) = v.secret.as_mut() {
        set(&mut s.default_mode, || DEFAULT_VOLUME_MODE);
    }
    if let Some(s) = v.downward_api.as_mut() {
        set(&mut s.default_mode, || DEFAULT_VOLUME_MODE);
    }
    if let Some(s) = v.projected.as_mut() {
        set(&mut s.default_mode, || DEFAULT_VOLUME_MODE);
    }
}

/// SetDefaults_Pod: a resource with a limit and no request is requested at its limit.
fn requests_from_limits(c: &mut Container) {
    let Some(r) = c.resources.as_mut() else {
        return;
    };
    let Some(limits) = r.limits.as_ref().filter(|l| !l.is_empty()) else {
        return;
    };
    let requests = r.requests.get_or_insert_with(Default::default);
    for (name, q) in limits {
        requests.entry(name.clone()).or_insert_with(|| q.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_pod_gets_kube_apiservers_defaults() {
        let mut p: Pod = serde_json::from_value(json!({
            "metadata": {"name": "x"},
            "spec": {"containers": [
                {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}],
                 "livenessProbe": {"httpGet": {"port": 80}},
                 "resources": {"limits": {"cpu": "1"}}},
                {"name": "b", "image": "nginx:1.27", "imagePullPolicy": "Never"},
                {"name": "c", "image": "registry.example.com/app:1.0"}
            ]}
        }))
        .unwrap();
        pod(&mut p);
        let once = p.clone();
        pod(&mut p);
        assert_eq!(p, once, "defaulting is idempotent");
        let v = serde_json::to_value(&p).unwrap();
        let spec = &v["spec"];
        assert_eq!(spec["restartPolicy"], "Always");
        assert_eq!(spec["dnsPolicy"], "ClusterFirst");
        assert_eq!(spec["schedulerName"], "default-scheduler");
        assert_eq!(spec["terminationGracePeriodSeconds"], 30);
        assert_eq!(spec["securityContext"], json!({}));
        assert_eq!(spec["enableServiceLinks"], true);
        assert_eq!(spec["priority"], 0);
        assert_eq!(spec["preemptionPolicy"], "PreemptLowerPriority");
        assert!(
            spec.get("tolerations").is_none(),
            "no tolerations podlab would not honour"
        );
        let a = &spec["containers"][0];
        assert_eq!(a["imagePullPolicy"], "Always");
        assert_eq!(a["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(a["terminationMessagePolicy"], "File");
        assert_eq!(a["ports"][0]["protocol"], "TCP");
        assert_eq!(
            a["livenessProbe"],
            json!({"httpGet": {"path": "/", "port": 80, "scheme": "HTTP"}, "timeoutSeconds": 1,
                   "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            a["resources"],
            json!({"limits": {"cpu": "1"}, "requests": {"cpu": "1"}})
        );
        assert_eq!(spec["containers"][1]["imagePullPolicy"], "Never");
        assert_eq!(spec["containers"][1]["resources"], json!({}));
        assert_eq!(spec["containers"][2]["imagePullPolicy"], "IfNotPresent");
    }

    #[test]
    fn a_deployment_and_its_template_get_defaults_but_not_the_pod_only_ones() {
        let mut d: Deployment = serde_json::from_value(json!({
            "metadata": {"name": "d"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                     "template": {"metadata": {"labels": {"a": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}
        }))
        .unwrap();
        deployment(&mut d);
        let v = serde_json::to_value(&d).unwrap();
        let spec = &v["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        let t = &spec["template"]["spec"];
        assert_eq!(t["restartPolicy"], "Always");
        assert_eq!(t["containers"][0]["imagePullPolicy"], "Always");
        assert!(t.get("enableServiceLinks").is_none() && t.get("priority").is_none());
        let mut rs: ReplicaSet =
            serde_json::from_value(json!({"metadata": {"name": "r"}, "spec": {"selector": {}}})).unwrap();
        replicaset(&mut rs);
        assert_eq!(rs.spec.unwrap().replicas, Some(1));
    }
}
