//! The netplugin's error type: every message names the object it is about, in plain words.

use std::io;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

/// Everything that can go wrong while building or inspecting a cluster network.
#[derive(thiserror::Error, Debug)]
pub enum NetError {
    /// The cluster addressing configuration itself is unusable.
    #[error("invalid cluster network: {0}")]
    InvalidConfig(String),
    /// A node index does not fit the configured ranges.
    #[error("node {name} (index {index}) does not fit: {reason}")]
    NodeIndexOutOfRange {
        /// Node name.
        name: String,
        /// Requested 1-based node index.
        index: u32,
        /// Why it does not fit.
        reason: String,
    },
    /// IPAM has handed out every host address of the node's pod subnet.
    #[error("no free address in {subnet}")]
    AddressExhausted {
        /// The exhausted pod subnet of the node.
        subnet: Ipv4Network,
    },
    /// The node was never set up (or was torn down).
    #[error("node {0} is not set up in the netplugin")]
    UnknownNode(String),
    /// `setup_node` was called twice for the same node name.
    #[error("node {0} is already set up in the netplugin")]
    NodeExists(String),
    /// Another node already uses this index (and so the same subnet and node IP).
    #[error("node {name} uses index {index}, already taken by node {other}")]
    NodeIndexTaken {
        /// Node being set up.
        name: String,
        /// Its index.
        index: u32,
        /// The node that already holds the index.
        other: String,
    },
    /// The pod has no network on this node.
    #[error("pod {pod} has no network on node {node}")]
    UnknownPod {
        /// `namespace/name`.
        pod: String,
        /// Node name.
        node: String,
    },
    /// `add_pod` for a pod whose network already exists (call `del_pod`/`forget_pod` first).
    #[error("pod {pod} already has a network on node {node} (ip {ip})")]
    PodExists {
        /// `namespace/name`.
        pod: String,
        /// Node name.
        node: String,
        /// The address it holds.
        ip: Ipv4Addr,
    },
    /// The kernel dataplane needs a network namespace handle for this call.
    #[error("the kernel dataplane needs the network namespace of {0}")]
    NetnsRequired(String),
    /// No unused host-side veth name could be found.
    #[error("no free veth name for pod {0}")]
    NoVethName(String),
    /// A netlink request failed.
    #[error("could not {action}: {source}")]
    Netlink {
        /// What was being done, naming the object (e.g. "create bridge cni0 in node worker-1").
        action: String,
        /// The rtnetlink error.
        #[source]
        source: rtnetlink::Error,
    },
    /// A system call or file operation failed.
    #[error("could not {action}: {source}")]
    Io {
        /// What was being done, naming the object.
        action: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The kernel has no qdisc of this kind (e.g. built without `CONFIG_NET_SCH_NETEM`).
    #[error(
        "this kernel has no {kind} qdisc (kernel option CONFIG_NET_SCH_{upper}, module sch_{kind}): link shaping with {kind} is not possible here; try `modprobe sch_{kind}` or remove the setting from the scenario",
        upper = kind.to_uppercase()
    )]
    QdiscUnsupported {
        /// `netem` or `tbf`.
        kind: String,
    },
    /// `check_pod` found the pod's network different from what it should be.
    #[error("pod {pod} on node {node}: {problem}")]
    CheckFailed {
        /// `namespace/name`.
        pod: String,
        /// Node name.
        node: String,
        /// What is wrong, in plain words.
        problem: String,
    },
    /// Several steps of a teardown failed; every step was still tried (netavark's shape).
    #[error("{}", join_errors(.0))]
    Several(Vec<NetError>),
}

fn join_errors(errors: &[NetError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!("{} steps failed: {}", errors.len(), parts.join("; "))
}

impl NetError {
    pub(crate) fn netlink(action: impl Into<String>, source: rtnetlink::Error) -> Self {
        NetError::Netlink {
            action: action.into(),
            source,
        }
    }

    pub(crate) fn io(action: impl Into<String>, source: io::Error) -> Self {
        NetError::Io {
            action: action.into(),
            source,
        }
    }

    /// The outcome of steps that were all tried: `Ok` when none failed, the error itself when
    /// one did, [`NetError::Several`] (in the order they happened) when more did.
    pub fn from_list(mut errors: Vec<NetError>) -> Result<(), NetError> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(NetError::Several(errors)),
        }
    }
}

/// Collects the errors of teardown steps that keep going after a failure.
#[derive(Debug, Default)]
pub(crate) struct Errors(Vec<NetError>);

impl Errors {
    /// Keeps the error of `r`, if any; returns its value otherwise.
    pub(crate) fn note<T>(&mut self, r: Result<T, NetError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// The errors noted, in order.
    pub(crate) fn into_vec(self) -> Vec<NetError> {
        self.0
    }
}

/// The errno carried by a netlink error, if any (positive, e.g. `libc::EEXIST`).
pub(crate) fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| c.get().abs()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teardown_errors_are_collected_and_every_step_is_tried() {
        let mut steps_run = 0;
        let mut errors = Errors::default();
        for step in ["delete veth", "delete neighbour", "delete route"] {
            steps_run += 1;
            let r: Result<(), NetError> = if step == "delete route" {
                Ok(())
            } else {
                Err(NetError::InvalidConfig(step.to_string()))
            };
            errors.note(r);
        }
        assert_eq!(steps_run, 3);
        let err = NetError::from_list(errors.into_vec()).unwrap_err();
        assert!(matches!(&err, NetError::Several(v) if v.len() == 2));
        assert_eq!(
            err.to_string(),
            "2 steps failed: invalid cluster network: delete veth; invalid cluster network: delete neighbour"
        );
    }

    #[test]
    fn one_teardown_error_comes_back_as_itself() {
        assert!(NetError::from_list(Vec::new()).is_ok());
        let err = NetError::from_list(vec![NetError::UnknownNode("w".into())]).unwrap_err();
        assert!(matches!(err, NetError::UnknownNode(n) if n == "w"));
    }
}
