//! Where `exec` goes: for a pod, its sandbox (pause process) plus the chosen container's mount
//! and PID namespaces (its filesystem, its processes, as `kubectl exec`), with the environment
//! the container was given (`PATH`, `HOSTNAME`, its `env:` values) and the pod's IP; for a
//! node, the node's namespaces with a plain `PATH` and `HOSTNAME` and the machine's filesystem.
//! Every front end (the daemon's `exec`, the scenario runner's steps, the Kubernetes API) asks
//! here, so the target is worked out once.

use crate::pod::env::DEFAULT_PATH;
use crate::sandbox::Sandbox;
use k8s_openapi::api::core::v1::Pod;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Arc;

/// A running container's mount and PID namespaces, held open, and its working directory.
pub struct ContainerNs {
    /// The container's process, as podlab sees it.
    pub pid: i32,
    mnt: OwnedFd,
    pid_ns: OwnedFd,
    /// Where an `exec` in it starts (inside its filesystem).
    pub cwd: PathBuf,
    /// The environment the container was started with (`/proc/<pid>/environ`): an `exec`
    /// gets it, as the runtime gives an exec the container's environment.
    pub env: Vec<(String, String)>,
}

impl ContainerNs {
    /// Opens `/proc/<pid>/ns/{mnt,pid}` of the container process `pid`.
    pub fn open(pid: i32, cwd: PathBuf) -> std::io::Result<ContainerNs> {
        let open = |n: &str| std::fs::File::open(format!("/proc/{pid}/ns/{n}")).map(OwnedFd::from);
        Ok(ContainerNs {
            pid,
            mnt: open("mnt")?,
            pid_ns: open("pid")?,
            cwd,
            env: environ(pid)?,
        })
    }
}

/// The environment of process `pid`.
fn environ(pid: i32) -> std::io::Result<Vec<(String, String)>> {
    let raw = std::fs::read(format!("/proc/{pid}/environ"))?;
    Ok(raw
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect())
}

/// The namespaces, environment and address an `exec` runs with.
#[derive(Clone)]
pub struct ExecTarget {
    /// The pause process whose namespaces the command joins.
    pub sandbox: Arc<Sandbox>,
    /// For a pod: the container's filesystem and processes, which the command joins too.
    pub container: Option<Arc<ContainerNs>>,
    /// The command's environment.
    pub env: Vec<(String, String)>,
    /// The pod's (or node's) IP.
    pub ip: String,
    /// The command's working directory (a pod's: inside the container's filesystem).
    pub cwd: PathBuf,
}

impl ExecTarget {
    /// Every namespace the command joins (see [`crate::spawner::ProcessSpec::join`]).
    pub fn join_fds(&self) -> Vec<(RawFd, libc::c_int)> {
        let mut v = self.sandbox.join_fds();
        if let Some(c) = &self.container {
            v.retain(|(_, f)| *f != libc::CLONE_NEWPID);
            v.push((c.pid_ns.as_raw_fd(), libc::CLONE_NEWPID));
            v.push((c.mnt.as_raw_fd(), libc::CLONE_NEWNS));
        }
        v
    }

    /// The container process whose mount and PID namespaces the command joins (a pod's).
    pub fn container_pid(&self) -> Option<i32> {
        self.container.as_ref().map(|c| c.pid)
    }
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
    /// The container is not running (waiting to start, restarting, or ended).
    #[error("container {container} in pod {pod} is not running")]
    NotRunning {
        /// The container asked for.
        container: String,
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
        container: None,
        env: vec![("PATH".into(), DEFAULT_PATH.into()), ("HOSTNAME".into(), node.into())],
        ip,
        cwd: std::env::temp_dir(),
    })
}

/// `exec` in `container` (default: the first) of `pod`, whose sandbox is `sandbox` and whose IP
/// is `ip`; `namespaces` gives a running container's (see
/// [`crate::PodHandle::container_namespaces`]). The environment is the container's own, as the
/// kubelet built it (the host IP is left empty, as it always was for `exec`).
pub fn pod_target(
    pod: &Pod,
    container: Option<&str>,
    sandbox: Option<Arc<Sandbox>>,
    ip: String,
    namespaces: impl FnOnce(&str) -> Option<ContainerNs>,
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
    let Some(ns) = namespaces(&spec.name) else {
        return Err(TargetError::NotRunning {
            container: spec.name.clone(),
            pod: name,
        });
    };
    Ok(ExecTarget {
        env: ns.env.clone(),
        sandbox,
        cwd: ns.cwd.clone(),
        container: Some(Arc::new(ns)),
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
        let none = |_: &str| None;
        let e = pod_target(&pod(&["a"]), Some("b"), None, String::new(), none)
            .err()
            .unwrap();
        assert_eq!(e.to_string(), "container b not found in pod web");
        let e = pod_target(&pod(&[]), None, None, String::new(), none).err().unwrap();
        assert_eq!(e.to_string(), "pod web has no containers");
        let e = pod_target(&pod(&["a"]), None, None, String::new(), none).err().unwrap();
        assert!(matches!(e, TargetError::NoSandbox { .. }), "{e}");
    }

    #[test]
    fn a_model_node_has_nowhere_to_exec() {
        let e = node_target("worker-1", None, "172.18.0.2".into()).err().unwrap();
        assert_eq!(e.to_string(), "node worker-1 has no namespaces (model dataplane)");
    }
}
