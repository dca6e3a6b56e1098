//! What a container runs and with which environment (as Kubernetes builds it, plus podlab's
//! downward-API basics), and the pod's termination grace period.

use k8s_openapi::api::core::v1::{Container, Pod};
use std::time::Duration;

/// The pod's `terminationGracePeriodSeconds` (Kubernetes' default 30 s), scaled by
/// `time_scale`: how long a stopped container gets between SIGTERM and SIGKILL. The kubelet
/// and the control plane's delete path both use it.
pub fn grace_period(pod: &Pod, time_scale: f64) -> Duration {
    let secs = pod
        .spec
        .as_ref()
        .and_then(|s| s.termination_grace_period_seconds)
        .unwrap_or(30)
        .max(0) as u64;
    Duration::from_secs(secs).mul_f64(time_scale.max(0.0))
}

/// The program and arguments a container runs.
pub(super) fn command_of(spec: &Container) -> (String, Vec<String>) {
    let mut argv: Vec<String> = spec.command.clone().unwrap_or_default();
    argv.extend(spec.args.clone().unwrap_or_default());
    if argv.is_empty() {
        argv.push("sh".into());
    }
    let prog = argv.remove(0);
    (prog, argv)
}

/// The `PATH` every container (and every `exec`) gets.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment Kubernetes would give container `spec` of `pod` on `node` (IP `host_ip`)
/// with IP `pod_ip`, plus podlab's downward-API basics.
pub fn container_env(pod: &Pod, node: &str, host_ip: &str, pod_ip: &str, spec: &Container) -> Vec<(String, String)> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let mut env = vec![
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOME".into(), "/root".into()),
        ("HOSTNAME".into(), name.clone()),
        ("POD_NAME".into(), name.clone()),
        ("POD_NAMESPACE".into(), ns.clone()),
        ("POD_IP".into(), pod_ip.to_string()),
        ("NODE_NAME".into(), node.to_string()),
    ];
    let ports: Vec<String> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| p.container_port.to_string())
        .collect();
    env.push(("PODLAB_PORTS".into(), ports.join(",")));
    for e in spec.env.iter().flatten() {
        let value = if let Some(v) = &e.value {
            Some(v.clone())
        } else if let Some(field) = e.value_from.as_ref().and_then(|v| v.field_ref.as_ref()) {
            match field.field_path.as_str() {
                "metadata.name" => Some(name.clone()),
                "metadata.namespace" => Some(ns.clone()),
                "metadata.uid" => pod.metadata.uid.clone(),
                "status.podIP" => Some(pod_ip.to_string()),
                "status.hostIP" => Some(host_ip.to_string()),
                "spec.nodeName" => Some(node.to_string()),
                _ => None,
            }
        } else {
            None
        };
        env.retain(|(k, _)| k != &e.name);
        env.push((e.name.clone(), value.unwrap_or_default()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EnvVar, PodSpec};

    #[test]
    fn the_grace_period_defaults_to_30s_and_scales() {
        let mut p = Pod::default();
        assert_eq!(grace_period(&p, 1.0), Duration::from_secs(30));
        p.spec = Some(PodSpec {
            termination_grace_period_seconds: Some(4),
            ..Default::default()
        });
        assert_eq!(grace_period(&p, 0.5), Duration::from_secs(2));
        p.spec.as_mut().unwrap().termination_grace_period_seconds = Some(-1);
        assert_eq!(grace_period(&p, 1.0), Duration::ZERO);
    }

    #[test]
    fn env_values_override_the_defaults() {
        let mut p = Pod::default();
        p.metadata.name = Some("web".into());
        let c = Container {
            env: Some(vec![EnvVar {
                name: "HOSTNAME".into(),
                value: Some("custom".into()),
                ..Default::default()
            }]),
            ..Default::default()
        };
        let env = container_env(&p, "worker-1", "172.18.0.2", "10.244.1.2", &c);
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH"), Some(DEFAULT_PATH));
        assert_eq!(get("HOSTNAME"), Some("custom"));
        assert_eq!(get("POD_IP"), Some("10.244.1.2"));
        assert_eq!(get("NODE_NAME"), Some("worker-1"));
    }
}
