//! What a container runs and with which environment (as Kubernetes builds it, plus podlab's
//! downward-API basics), and the pod's termination grace period.
//!
//! `$(VAR)` references in `env[].value`, `command` and `args` are expanded as the kubelet
//! does: an env value sees the entries before it (and podlab's defaults), command and args
//! see the whole environment; `$$` is a literal `$`; an unknown reference stays as written.
//! `valueFrom.fieldRef` is the downward API; `configMapKeyRef`, `secretKeyRef` and `envFrom`
//! read the cluster's ConfigMaps and Secrets.

use crate::config_data::{self, DataError, DataKind, ObjectData};
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

/// The program and arguments a container runs, `$(VAR)` expanded against its environment `env`.
pub(super) fn command_of(spec: &Container, env: &[(String, String)]) -> (String, Vec<String>) {
    let mut argv: Vec<String> = spec.command.clone().unwrap_or_default();
    argv.extend(spec.args.clone().unwrap_or_default());
    if argv.is_empty() {
        argv.push("sh".into());
    }
    let mut argv: Vec<String> = argv.iter().map(|a| expand(a, env)).collect();
    let prog = argv.remove(0);
    (prog, argv)
}

/// Kubernetes' `$(VAR)` expansion (k8s.io/kubernetes third_party/forked/golang/expansion):
/// `$(NAME)` becomes NAME's value from `env` (the last entry of that name), or stays as
/// written if there is none; `$$` becomes `$`; any other `$` is kept.
pub fn expand(input: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| env.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(')
            && let Some(close) = inner.find(')')
        {
            let name = &inner[..close];
            match lookup(name) {
                Some(v) => out.push_str(v),
                None => {
                    out.push_str("$(");
                    out.push_str(name);
                    out.push(')');
                }
            }
            rest = &inner[close + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A downward-API `fieldRef` of `pod` (None: a path Kubernetes does not offer in env).
pub(crate) fn field_ref(pod: &Pod, path: &str, node: &str, host_ip: &str, pod_ip: &str) -> Option<String> {
    let m = &pod.metadata;
    let key_of = |prefix: &str| path.strip_prefix(prefix)?.strip_suffix("']").map(str::to_string);
    if let Some(k) = key_of("metadata.labels['") {
        return Some(m.labels.as_ref().and_then(|l| l.get(&k)).cloned().unwrap_or_default());
    }
    if let Some(k) = key_of("metadata.annotations['") {
        return Some(
            m.annotations
                .as_ref()
                .and_then(|l| l.get(&k))
                .cloned()
                .unwrap_or_default(),
        );
    }
    let spec = pod.spec.as_ref();
    Some(match path {
        "metadata.name" => m.name.clone().unwrap_or_default(),
        "metadata.namespace" => m.namespace.clone().unwrap_or_else(|| "default".into()),
        "metadata.uid" => m.uid.clone().unwrap_or_default(),
        "spec.nodeName" => node.to_string(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_else(|| "default".into()),
        "status.podIP" | "status.podIPs" => pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_string(),
        _ => return None,
    })
}

/// The `fieldRef` paths [`container_env`] answers (others are refused by validation).
pub const FIELD_REFS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.labels['KEY']",
    "metadata.annotations['KEY']",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.podIP",
    "status.podIPs",
    "status.hostIP",
    "status.hostIPs",
];

/// The `PATH` every container (and every `exec`) gets.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment Kubernetes would give container `spec` of `pod` on `node` (IP `host_ip`)
/// with IP `pod_ip`, plus podlab's downward-API basics: `envFrom` first, then `env` (later
/// entries win), ConfigMap and Secret references read from `data`. Err: a reference that is
/// not `optional` names a missing object or key (the kubelet's CreateContainerConfigError).
pub fn container_env(
    pod: &Pod,
    node: &str,
    host_ip: &str,
    pod_ip: &str,
    spec: &Container,
    data: &dyn ObjectData,
) -> Result<Vec<(String, String)>, DataError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let mut env: Vec<(String, String)> = vec![
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOME".into(), "/root".into()),
        ("HOSTNAME".into(), name.clone()),
        ("POD_NAME".into(), name),
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
    let set = |env: &mut Vec<(String, String)>, k: String, v: String| {
        env.retain(|(n, _)| n != &k);
        env.push((k, v));
    };
    for from in spec.env_from.iter().flatten() {
        let prefix = from.prefix.clone().unwrap_or_default();
        let source = match (&from.config_map_ref, &from.secret_ref) {
            (Some(c), _) => Some((DataKind::ConfigMap, &c.name, c.optional)),
            (None, Some(s)) => Some((DataKind::Secret, &s.name, s.optional)),
            (None, None) => None,
        };
        let Some((kind, obj, optional)) = source else { continue };
        let found = config_data::lookup(data, kind, &ns, obj, optional == Some(true))?;
        for (k, v) in found.into_iter().flatten() {
            // Names with `=` cannot be environment variables (the kubelet skips them too).
            if !k.contains('=') {
                set(
                    &mut env,
                    format!("{prefix}{k}"),
                    String::from_utf8_lossy(&v).into_owned(),
                );
            }
        }
    }
    for e in spec.env.iter().flatten() {
        let from = e.value_from.as_ref();
        let value = if let Some(v) = &e.value {
            Some(expand(v, &env))
        } else if let Some(field) = from.and_then(|v| v.field_ref.as_ref()) {
            field_ref(pod, &field.field_path, node, host_ip, pod_ip)
        } else if let Some(r) = from.and_then(|v| v.config_map_key_ref.as_ref()) {
            let opt = r.optional == Some(true);
            match config_data::key(data, DataKind::ConfigMap, &ns, &r.name, &r.key, opt)? {
                Some(v) => Some(v),
                None => continue,
            }
        } else if let Some(r) = from.and_then(|v| v.secret_key_ref.as_ref()) {
            let opt = r.optional == Some(true);
            match config_data::key(data, DataKind::Secret, &ns, &r.name, &r.key, opt)? {
                Some(v) => Some(v),
                None => continue,
            }
        } else {
            None
        };
        set(&mut env, e.name.clone(), value.unwrap_or_default());
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_data::NoData;
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
        let env = container_env(&p, "worker-1", "172.18.0.2", "10.244.1.2", &c, &NoData).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("PATH"), Some(DEFAULT_PATH));
        assert_eq!(get("HOSTNAME"), Some("custom"));
        assert_eq!(get("POD_IP"), Some("10.244.1.2"));
        assert_eq!(get("NODE_NAME"), Some("worker-1"));
    }

    #[test]
    fn expansion_follows_kubernetes_rules() {
        let env = vec![("A".to_string(), "x".to_string()), ("B".into(), "y".into())];
        assert_eq!(expand("$(A)-$(B)", &env), "x-y");
        assert_eq!(expand("$$(A) costs $$5", &env), "$(A) costs $5");
        assert_eq!(expand("$(NOPE) $A $(A", &env), "$(NOPE) $A $(A");
        assert_eq!(expand("end$", &env), "end$");
        assert_eq!(expand("$()", &env), "$()");
    }

    #[test]
    fn env_sees_earlier_entries_and_the_downward_api() {
        let mut p = Pod::default();
        p.metadata.name = Some("web".into());
        p.metadata.labels = Some([("app".to_string(), "shop".to_string())].into());
        let var = |n: &str, v: &str| EnvVar {
            name: n.into(),
            value: Some(v.into()),
            ..Default::default()
        };
        let field = |n: &str, path: &str| EnvVar {
            name: n.into(),
            value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
                field_ref: Some(k8s_openapi::api::core::v1::ObjectFieldSelector {
                    field_path: path.into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let c = Container {
            env: Some(vec![
                var("GREETING", "hello $(WHO)"),
                var("WHO", "world"),
                var("MSG", "$(GREETING), $(WHO) on $(NODE_NAME)"),
                field("APP", "metadata.labels['app']"),
                field("SA", "spec.serviceAccountName"),
            ]),
            command: Some(vec!["echo".into(), "$(MSG)".into()]),
            args: Some(vec!["$(APP)".into(), "$$(APP)".into()]),
            ..Default::default()
        };
        let env = container_env(&p, "worker-1", "172.18.0.2", "10.244.1.2", &c, &NoData).unwrap();
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("GREETING"), Some("hello $(WHO)"), "a later entry is not seen");
        assert_eq!(get("MSG"), Some("hello $(WHO), world on worker-1"));
        assert_eq!(get("APP"), Some("shop"));
        assert_eq!(get("SA"), Some("default"));
        let (prog, args) = command_of(&c, &env);
        assert_eq!(prog, "echo");
        assert_eq!(args, ["hello $(WHO), world on worker-1", "shop", "$(APP)"]);
    }
}
