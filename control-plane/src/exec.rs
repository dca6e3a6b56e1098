//! Where `exec` goes for a node or a pod's container, looked up in the store and worked out by
//! [`podlab_node_agent::exec_target`], so the daemon and the scenario runner agree.

use crate::cluster::{Cluster, Key};
use crate::error::ApiError;
use podlab_node_agent::exec_target::{self, ExecTarget, TargetError};

/// Why there is nowhere to `exec`.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// No such node or pod.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// It exists, but has nothing to run in.
    #[error(transparent)]
    Target(#[from] TargetError),
}

impl Cluster {
    /// `exec` on node `name`: its namespaces, a plain environment, its IP.
    pub fn node_exec_target(&self, name: &str) -> Result<ExecTarget, ExecError> {
        let n = self.get_node(name)?;
        Ok(exec_target::node_target(
            name,
            n.sandbox.as_ref(),
            n.addr.node_ip.to_string(),
        )?)
    }

    /// `exec` in `container` (default: the first) of the pod: its sandbox and the container's
    /// filesystem and processes, the container's environment, the pod's IP.
    pub fn pod_exec_target(&self, key: &Key, container: Option<&str>) -> Result<ExecTarget, ExecError> {
        let pod = self.get_pod(key)?;
        let (sandbox, ip) = self
            .with_entry(key, |e| {
                let ip = e.net.as_ref().map(|n| n.ip.to_string()).unwrap_or_default();
                (e.sandbox.clone(), ip)
            })
            .unwrap_or_default();
        let namespaces = |name: &str| {
            self.with_entry(key, |e| e.handle.as_ref().and_then(|h| h.container_namespaces(name)))
                .flatten()
        };
        Ok(exec_target::pod_target(&pod, container, sandbox, ip, namespaces)?)
    }
}
