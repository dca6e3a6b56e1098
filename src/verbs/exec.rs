//! `podlab exec POD|node/NAME -- CMD...`: run CMD inside the pod's namespaces and its
//! container's filesystem and processes (as `kubectl exec`), or a node's namespaces with the
//! machine's binaries, like `nsenter`, for as long as the pod lives. The daemon answers where
//! to go (the sandbox's pause pid, the container's pid and environment); the CLI joins the
//! namespaces itself through `podlab_node_agent::join`.

use super::{ClusterArg, split_target};
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::{Reply, Request};
use anyhow::{Context, Result, bail};
use podlab_control_plane::Cluster;
use podlab_node_agent::join::{self, Space};
use podlab_node_agent::process::{Process, pidfd_open};
use serde::{Deserialize, Serialize};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::Arc;

/// `podlab exec TARGET -- CMD...`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// POD, pod/NAME or node/NAME.
    pub target: String,
    /// The container whose environment CMD gets (default: the first).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Pass stdin to CMD (it always is: accepted for kubectl's `-i`).
    #[arg(short = 'i', long)]
    pub stdin: bool,
    /// Accepted for kubectl's `-t` (CMD gets this terminal as it is).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
    /// The command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<String>,
}

/// Where to run: a pod (with a container) or a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TargetRequest {
    /// `pod` or `node`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Namespace of a pod.
    pub namespace: String,
    /// The container whose environment to use.
    pub container: Option<String>,
}

/// Where an `exec` joins: the pause process, the container process (a pod's), the environment.
pub struct Joined {
    /// The pause process holding the pod's (or node's) namespaces.
    pub pid: i32,
    /// The container whose filesystem and processes a pod's `exec` joins.
    pub container_pid: Option<i32>,
    /// The command's environment.
    pub env: Vec<(String, String)>,
}

/// Asks the daemon for the pause pid, container pid and environment of a pod or node, and
/// joins the cluster's user namespace when it runs rootless (before any thread exists), so that
/// this process may then join the pod's or node's other namespaces.
pub fn target(cluster: &str, kind: &str, obj: &str, ns: &str, container: Option<String>) -> Result<Joined> {
    let req = TargetRequest {
        kind: kind.into(),
        name: obj.into(),
        namespace: ns.into(),
        container,
    };
    let (code, other) = client::call(cluster, &Request::Target(req))?;
    match other.into_iter().next() {
        Some(Reply::Target {
            pid,
            container_pid,
            env,
            ..
        }) if code == 0 => {
            podlab_node_agent::userns::join_of(pid).with_context(|| format!("joining the {kind}'s user namespace"))?;
            Ok(Joined {
                pid,
                container_pid,
                env,
            })
        }
        _ => bail!("cannot reach {kind} {obj}"),
    }
}

/// CLI side: CMD runs as long as the pod (or node) lives; the exit code is CMD's (128+N if a
/// signal N ended it; 137 if its pod went away).
pub fn run(args: Args) -> Result<i32> {
    let (kind, obj) = split_target(&args.target);
    let Joined {
        pid,
        container_pid,
        env,
    } = target(&args.c.cluster, kind, obj, &args.namespace, args.container.clone())?;
    let Some((prog, rest)) = args.command.split_first() else {
        bail!("error: you must specify at least one command for the container");
    };
    let holder = pidfd_open(pid).with_context(|| format!("watching the {kind}'s pause process (pid {pid})"))?;
    join::enter_container(pid, Space::for_exec(kind == "pod"), container_pid)
        .context("joining the pod's namespaces")?;
    // Ctrl-C and Ctrl-\ reach CMD (same process group); this process stays to report.
    join::leave_interactive_signals_to_child();
    let mut cmd = Command::new(prog);
    cmd.args(rest).env_clear().envs(env).current_dir("/");
    join::run_as_foreground_child(&mut cmd);
    if container_pid.is_some() {
        join::limit_to_container_capabilities(&mut cmd);
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("error: exec: \"{prog}\": executable file not found in $PATH");
            return Ok(127);
        }
        Err(e) => return Err(e).context(format!("running {prog}")),
    };
    // Reaped through its pidfd from here on (the std handle is dropped, not waited for).
    let running = Process::adopt(child.id() as i32).context("watching the command")?;
    drop(child);
    match running
        .wait_blocking_unless(holder.as_fd())
        .context("waiting for the command")?
    {
        Some(exit) => Ok(exit.code()),
        None => {
            running.kill_and_reap();
            eprintln!("error: {kind} \"{obj}\" is gone: command terminated with exit code 137");
            Ok(137)
        }
    }
}

/// Daemon side of [`TargetRequest`].
pub async fn serve_target(req: TargetRequest, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    match target_of(cluster, &req.kind, &req.name, &req.namespace, req.container.as_deref()) {
        Ok(t) => {
            conn.send(t).await;
            0
        }
        Err(e) => out(conn, Err(e)).await,
    }
}

fn target_of(cluster: &Cluster, kind: &str, name: &str, ns: &str, container: Option<&str>) -> Result<Reply> {
    use podlab_control_plane::ExecError;
    use podlab_node_agent::TargetError;
    let found = if kind == "node" {
        cluster.node_exec_target(name)
    } else {
        cluster.pod_exec_target(&(ns.to_string(), name.to_string()), container)
    };
    let t = match found {
        Ok(t) => t,
        Err(ExecError::Api(e)) => return Err(e.into()),
        Err(ExecError::Target(TargetError::NoSuchContainer { container, pod })) => {
            anyhow::bail!("error: container {container} not found in pod {pod}")
        }
        Err(ExecError::Target(TargetError::NoSandbox { pod })) => anyhow::bail!(
            "error: unable to upgrade connection: pod {name} is {} and has no running sandbox",
            crate::printers::pod_status_reason(&pod)
        ),
        Err(ExecError::Target(e)) => return Err(e.into()),
    };
    Ok(Reply::Target {
        pid: t.sandbox.pid(),
        container_pid: t.container_pid(),
        env: t.env,
        ip: Some(t.ip),
    })
}
