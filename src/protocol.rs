//! The CLI ↔ daemon protocol: one JSON request per connection on the cluster's Unix socket
//! (`/run/podlab/<cluster>/podlab.sock`, mode 0600), answered by a stream of JSON lines.

use serde::{Deserialize, Serialize};

/// What the CLI asks the daemon.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    /// `podlab up` has shown the progress and leaves: the daemon stays on its own.
    Detach,
    Status,
    Get {
        resource: String,
        name: Option<String>,
        namespace: Option<String>,
        all_namespaces: bool,
        selector: Option<String>,
        output: Option<String>,
        show_labels: bool,
        watch: bool,
    },
    Describe {
        resource: String,
        name: String,
        namespace: String,
    },
    Logs {
        pod: String,
        namespace: String,
        container: Option<String>,
        previous: bool,
        follow: bool,
    },
    /// Kubernetes objects as JSON (the CLI loads and validates the files).
    Apply {
        objects: Vec<serde_json::Value>,
    },
    Delete {
        resource: String,
        names: Vec<String>,
        namespace: String,
        selector: Option<String>,
    },
    Scale {
        resource: String,
        name: String,
        namespace: String,
        replicas: i32,
    },
    Label {
        name: String,
        namespace: String,
        labels: Vec<(String, Option<String>)>,
        overwrite: bool,
    },
    CreateNamespace {
        name: String,
    },
    /// Where to run `exec` / `port-forward`: the sandbox pid of a pod or node, and the env.
    Target {
        kind: String,
        name: String,
        namespace: String,
        container: Option<String>,
    },
    /// `podlab node down|up NAME`: cut or restore a node's uplink.
    NodeLink {
        name: String,
        up: bool,
    },
    ExplainPlacement {
        name: String,
        namespace: String,
    },
    /// `podlab topology`: text, dot, mermaid, svg or json.
    Topology {
        format: String,
    },
    /// `podlab routes NODE|POD`.
    Routes {
        target: String,
        namespace: String,
        output: Option<String>,
    },
    /// `podlab trace SRC DST[:PORT]`.
    Trace {
        src: String,
        dst: String,
        namespace: String,
        output: Option<String>,
    },
    /// `podlab ping-matrix`.
    PingMatrix {
        selector: Option<String>,
        output: Option<String>,
    },
    Down,
}

/// One line of the daemon's answer.
#[derive(Serialize, Deserialize, Debug, Clone)]
#[serde(tag = "t", rename_all = "kebab-case")]
pub enum Reply {
    Out {
        text: String,
    },
    Err {
        text: String,
    },
    Target {
        pid: i32,
        env: Vec<(String, String)>,
        ip: Option<String>,
    },
    Status {
        name: String,
        pid: u32,
        nodes: usize,
        pods: usize,
        dataplane: String,
        age_secs: i64,
    },
    Done {
        code: i32,
    },
}
