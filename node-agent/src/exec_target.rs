//! Where `exec` goes: for a pod, its sandbox (pause process) with the environment the chosen
//! container was given (`PATH`, `HOSTNAME`, its `env:` values) and the pod's IP; for a node, the
//! node's namespaces with a plain `PATH` and `HOSTNAME`. Every front end (the daemon's `exec`,
//! the scenario runner's steps) asks here, so the target is worked out once.

use crate::pod::{container_env, env::DEFAULT_PATH};
use crate::sandbox::Sandbox;
use k8s_openapi::api::core::v1::Pod;
use std::sync::Arc;

/// The namespaces, environment and address an `exec` runs with.
#[derive(Clone)]
pub struct ExecTarget {
    /// The pause process whose namespaces the command joins.
    pub sandbox: Arc<Sandbox>,
    /// The command's environment.
    pub env: Vec<(String, String)>,
    /// The pod's (or node's) IP.
    pub ip: String,
}

/// Why there is nowhere to `exec`.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The node has no namespaces of its own (the model dataplane).
    #[error("node {node} has no namespaces (model dataplane)")]
    NoNamespaces {
        /// The node's name.
        node: String,
    },
    /// The pod has no container of that name.
    #[error("container {container} not found in pod {pod}")]
    NoSuchContainer {
        /// The container asked for.
        container: String,
        /// The pod's name.
        pod: String,
    },
    /// The pod has no containers at all.
    #[error("pod {pod} has no containers")]
    NoContainers {
        /// The pod's name.
        pod: String,
    },
    /// The pod's sandbox is not running (not started yet, or being torn down).
    #[error("pod {} has no running sandbox", .pod.metadata.name.as_deref().unwrap_or_default())]
    NoSandbox {
        /// The pod as it is now (its status says why).
        pod: Box<Pod>,
    },
}

/// `exec` on node `node`, whose namespaces are held by `sandbox` (none on the model
/// dataplane) and whose IP is `ip`.
pub fn node_target(node: &str, sandbox: Option<&Arc<Sandbox>>, ip: String) -> Result<ExecTarget, TargetError> {
    let sandbox = sandbox
        .cloned()
        .ok_or_else(|| TargetError::NoNamespaces { node: node.into() })?;
    Ok(ExecTarget {
        sandbox,
        env: vec![("PATH".into(), DEFAULT_PATH.into()), ("HOSTNAME".into(), node.into())],
        ip,
    })
}

/// `exec` in `container` (default: the first) of `pod`, whose sandbox is `sandbox` and whose IP
/// is `ip`. The environment is the container's own, as the kubelet built it (the host IP is
/// left empty, as it always was for `exec`).
pub fn pod_target(
    pod: &Pod,
    container: Option<&str>,
    sandbox: Option<Arc<Sandbox>>,
    ip: String,
) -> Result<ExecTarget, TargetError> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice()).unwrap_or_default();
    let spec = match container {
        Some(c) => containers
            .iter()
            .find(|x| x.name == c)
            .ok_or_else(|| TargetError::NoSuchContainer {
                container: c.into(),
                pod: name.clone(),
            })?,
        None => containers
            .first()
            .ok_or_else(|| TargetError::NoContainers { pod: name.clone() })?,
    };
    let Some(sandbox) = sandbox else {
        return Err(TargetError::NoSandbox {
            pod: Box::new(pod.clone()),
        });
    };
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default();
    Ok(ExecTarget {
        env: container_env(pod, &node, "", &ip, spec),
        sandbox,
        ip,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn pod(containers: &[&str]) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some("web".into());
        p.spec = Some(PodSpec {
            containers: containers
                .iter()
                .map(|n| Container {
                    name: n.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        });
        p
    }

    #[test]
    fn the_container_is_checked_before_the_sandbox() {
        let e = pod_target(&pod(&["a"]), Some("b"), None, String::new()).err().unwrap();
        assert_eq!(e.to_string(), "container b not found in pod web");
        let e = pod_target(&pod(&[]), None, None, String::new()).err().unwrap();
        assert_eq!(e.to_string(), "pod web has no containers");
        let e = pod_target(&pod(&["a"]), None, None, String::new()).err().unwrap();
        assert!(matches!(e, TargetError::NoSandbox { .. }), "{e}");
    }

    #[test]
    fn a_model_node_has_nowhere_to_exec() {
        let e = node_target("worker-1", None, "172.18.0.2".into()).err().unwrap();
        assert_eq!(e.to_string(), "node worker-1 has no namespaces (model dataplane)");
    }
}
