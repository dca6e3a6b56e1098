//! The CLI ↔ daemon protocol: one JSON request per connection on the cluster's Unix socket
//! (`/run/podlab/<cluster>/podlab.sock`, mode 0600), answered by a stream of JSON lines.
//!
//! A kubectl-shaped verb's request is its command-line arguments themselves (each verb's
//! `Args` in `src/verbs/` derives both `clap::Args` and serde), so a new verb adds one line
//! here and one in the daemon's dispatch.

use crate::verbs;
use serde::{Deserialize, Serialize};

/// What the CLI asks the daemon.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "cmd", content = "args", rename_all = "kebab-case")]
pub enum Request {
    /// `podlab up` has shown the progress and leaves: the daemon stays on its own.
    Detach,
    /// The cluster's name, size and dataplane (`podlab clusters`, `up`, `capture`).
    Status,
    /// `podlab get`.
    Get(verbs::get::Args),
    /// `podlab describe`.
    Describe(verbs::describe::Args),
    /// `podlab logs`.
    Logs(verbs::logs::Args),
    /// Kubernetes objects as JSON (the CLI loads and validates the files: `apply`, `delete -f`).
    Apply {
        /// The objects, in order.
        objects: Vec<serde_json::Value>,
    },
    /// `podlab delete` by name or selector (`-f` is resolved to names by the CLI).
    Delete(verbs::delete::Request),
    /// `podlab scale`.
    Scale(verbs::scale::Args),
    /// `podlab label`.
    Label(verbs::label::Request),
    /// `podlab create namespace`.
    CreateNamespace(verbs::create::Args),
    /// Where to run `exec` / `port-forward` / `capture`: the sandbox pid of a pod or node, and the env.
    Target(verbs::exec::TargetRequest),
    /// `podlab node down|up NAME`: cut or restore a node's uplink.
    Node(verbs::node::Args),
    /// `podlab explain-placement`.
    ExplainPlacement(verbs::explain_placement::Args),
    /// `podlab topology`: text, dot, mermaid, svg or json.
    Topology(verbs::topology::Args),
    /// `podlab routes NODE|POD`.
    Routes(verbs::routes::Args),
    /// `podlab trace SRC DST[:PORT]`.
    Trace(verbs::trace::Args),
    /// `podlab why SRC DST[:PORT]`.
    Why(verbs::why::Args),
    /// `podlab ping-matrix`.
    PingMatrix(verbs::ping_matrix::Args),
    /// `podlab down`.
    Down,
}

/// One line of the daemon's answer.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum Reply {
    /// Text for the CLI's stdout.
    Out {
        /// The text, newlines included.
        text: String,
    },
    /// Text for the CLI's stderr.
    Err {
        /// The text, newlines included.
        text: String,
    },
    /// Where `exec` goes.
    Target {
        /// The pause process holding the namespaces.
        pid: i32,
        /// The container process whose filesystem and processes `exec` joins (a pod's).
        #[serde(default)]
        container_pid: Option<i32>,
        /// The container's environment.
        env: Vec<(String, String)>,
        /// The pod's (or node's) IP.
        ip: Option<String>,
    },
    /// What `Status` asks.
    Status {
        /// Cluster name.
        name: String,
        /// The daemon's pid.
        pid: u32,
        /// Number of nodes.
        nodes: usize,
        /// Number of pods.
        pods: usize,
        /// `kernel` or `model`.
        dataplane: String,
        /// Seconds since the cluster came up.
        age_secs: i64,
    },
    /// The last line: the command's exit code.
    Done {
        /// Exit code for the CLI.
        code: i32,
    },
}
