//! `podlab up`, `podlab down` and the daemon `up` starts (`__daemon`).

use super::{DataplaneKind, enter_private_netns, load};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// `podlab up FILE`.
#[derive(clap::Args)]
pub struct UpArgs {
    /// Scenario file or Kubernetes manifest.
    pub file: PathBuf,
    /// Cluster name.
    #[arg(long, default_value = "podlab")]
    pub name: String,
    /// Which dataplane builds the cluster.
    #[arg(long, value_enum, default_value = "kernel")]
    pub dataplane: DataplaneKind,
    /// Seconds to wait for the pods to start before returning.
    #[arg(long, default_value_t = 60)]
    pub wait: u64,
}

/// `podlab down`.
#[derive(clap::Args)]
pub struct DownArgs {
    /// Cluster name.
    #[arg(long, default_value = "podlab")]
    pub name: String,
}

/// `podlab __daemon` (started by `up`).
#[derive(clap::Args)]
pub struct DaemonArgs {
    /// Scenario file or Kubernetes manifest.
    pub file: PathBuf,
    /// Cluster name.
    #[arg(long)]
    pub name: String,
    /// Model dataplane.
    #[arg(long)]
    pub model: bool,
    /// Seconds to wait for the pods to start.
    #[arg(long, default_value_t = 60)]
    pub wait: u64,
}

/// `podlab up`: checks the file, the name and the privileges, then starts the daemon.
pub fn up(a: UpArgs) -> Result<i32> {
    load(&a.file)?;
    let model = a.dataplane == DataplaneKind::Model;
    if !model && !podlab_node_agent::join::is_root() {
        bail!("the kernel dataplane builds real network namespaces and needs root (sudo), or add `--dataplane model`");
    }
    let errs = podlab_scenario::validation::dns1123_label(&a.name);
    if !errs.is_empty() {
        bail!("invalid cluster name {:?}: {}", a.name, errs.join("; "));
    }
    crate::client::up(&a.file, &a.name, model, a.wait)
}

/// The daemon's body: a private network namespace, a runtime, the cluster.
pub fn daemon(a: DaemonArgs) -> Result<()> {
    let scenario = load(&a.file)?;
    // The API listens on the machine's loopback: opened before leaving its network namespace.
    let api = podlab_api_server::bind_loopback().context("opening the Kubernetes API on 127.0.0.1")?;
    if !a.model {
        enter_private_netns()?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let r = rt.block_on(crate::daemon::serve(
        scenario,
        a.name,
        a.model,
        std::time::Duration::from_secs(a.wait),
        api,
    ));
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    r
}
