//! podlab's node agent (the kubelet's job): pod sandboxes held by pause processes, containers
//! started as real processes inside the sandbox's namespaces, the built-in image catalog,
//! logs, restarts with Kubernetes' back-off, and `exec` into pods and nodes.
//!
//! # Layout
//!
//! - [`kubelet`]: what one node's kubelet does for the control plane: a pod's sandbox and
//!   network (with retry), its containers (or the model dataplane's stand-in status), the
//!   events container changes produce, tearing a pod down, and the route reconciler. It talks
//!   back through [`kubelet::PodApi`], which the control plane implements.
//! - [`pod`]: the pod worker ([`PodHandle`]): containers started, supervised, restarted.
//! - [`exec_target`]: where `exec` goes for a pod's container or a node.
//! - [`sandbox`], [`spawner`], [`zygote`], [`process`], [`reaper`]: pause processes,
//!   namespaces and processes made off the async runtime, and how their ends are learnt.
//! - [`images`], [`pull`]: the built-in image catalog, image pulls and the node image cache.
//! - [`rootfs`]: a container's filesystem (a copy-on-write view of the machine's `/`).
//! - [`caps`]: the capabilities a container's processes keep (the runtime default set).
//! - [`logs`]: containers' logs (files in the pod's runtime directory).
//! - [`join`]: joining a pod's or node's namespaces from the CLI (`exec`, `capture`,
//!   `port-forward`) and the process plumbing around it, so the binary needs no `unsafe`.
//! - [`userns`]: rootless podlab's own user namespace, and joining a running cluster's.

pub mod caps;
pub mod config_data;
pub mod exec_target;
pub mod images;
pub mod join;
pub mod kubelet;
pub mod logs;
pub mod pod;
pub mod process;
pub mod pull;
pub mod reaper;
pub mod rootfs;
pub mod sandbox;
pub mod spawner;
pub mod userns;
pub mod volumes;
pub mod zygote;

pub use exec_target::{ExecTarget, TargetError};
pub use kubelet::{Kubelet, PodApi, PodRuntime};
pub use pod::{EventHook, PodContext, PodHandle, Publish, grace_period};
pub use pull::{ImageCache, PullPolicy, Registry};
pub use sandbox::Sandbox;
pub use spawner::{SandboxKind, Spawner};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// Lock `m` for a reader or a writer that has no error to return. A poisoned lock (a panic
/// while it was held) is recovered: every write under podlab's locks leaves the data whole, so
/// it stays usable; the panic itself is logged where it happened.
pub fn lock_unpoisoned<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| {
        tracing::warn!("using state whose lock was poisoned by a panic");
        poisoned.into_inner()
    })
}

/// Settings shared by every pod on every node.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The podlab binary, re-executed as `podlab __image NAME` for built-in images.
    pub exe: PathBuf,
    /// Multiplies every back-off and grace period (1.0 = Kubernetes' real values).
    pub time_scale: f64,
    /// The simulated registry pulls come from.
    pub registry: std::sync::Arc<Registry>,
}

/// The current time as a Kubernetes `Time`.
pub fn now() -> Time {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Time(k8s_openapi::jiff::Timestamp::from_millisecond(ms).unwrap_or_default())
}

/// What `exec` printed and how it ended.
#[derive(Debug, Clone)]
pub struct ExecOutput {
    /// The exit code (128 + signal for a signal; 137 when it had to be killed).
    pub exit_code: i32,
    /// stdout and stderr, interleaved.
    pub output: String,
    /// Whether it ran past its timeout and was stopped.
    pub timed_out: bool,
}

/// Run `argv` where `target` says (like `kubectl exec`: a pod's namespaces and its container's
/// filesystem and processes; or a node's namespaces), and collect its combined output.
pub async fn exec(
    spawner: &Spawner,
    target: &ExecTarget,
    argv: &[String],
    timeout: Duration,
) -> std::io::Result<ExecOutput> {
    let Some((prog, args)) = argv.split_first() else {
        return Err(std::io::Error::other("exec needs a command"));
    };
    let log = logs::LogFile::new("exec")?;
    let proc = spawner
        .spawn_process_async(spawner::ProcessSpec {
            stdin: None,
            program: PathBuf::from(prog),
            args: args.to_vec(),
            env: target.env.clone(),
            join: target.join_fds(),
            stdout: log.writer()?,
            stderr: log.writer()?,
            cwd: target.cwd.clone(),
        })
        .await?;
    let sig = proc.signaler();
    let (exit, timed_out) = process::wait_or_stop(
        proc.wait(),
        &sig,
        tokio::time::sleep(timeout),
        Duration::from_millis(200),
    )
    .await;
    Ok(ExecOutput {
        exit_code: exit.map(process::Exit::code).unwrap_or(137),
        output: log.read_all(),
        timed_out,
    })
}
