//! `podlab up`, `podlab down` and the daemon `up` starts (`__daemon`).

use super::{DataplaneKind, enter_private_netns, load};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;

/// `podlab up [FILE]`.
#[derive(clap::Args)]
pub struct UpArgs {
    /// Scenario file or Kubernetes manifest (none: an empty two-node cluster).
    pub file: Option<PathBuf>,
    /// Cluster name.
    #[arg(long, default_value = "podlab")]
    pub name: String,
    /// Which dataplane builds the cluster (default: the scenario's `cluster.dataplane`, else kernel).
    #[arg(long, value_enum)]
    pub dataplane: Option<DataplaneKind>,
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

/// `podlab kubeconfig`.
#[derive(clap::Args)]
pub struct KubeconfigArgs {
    /// Cluster name.
    #[arg(long, default_value = "podlab")]
    pub name: String,
}

/// `podlab __daemon` (started by `up`).
#[derive(clap::Args)]
pub struct DaemonArgs {
    /// Scenario file or Kubernetes manifest (none: an empty cluster).
    pub file: Option<PathBuf>,
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
    let scenario = match &a.file {
        Some(f) => load(f)?,
        None => empty_scenario(&a.name),
    };
    let model = super::choose_dataplane(a.dataplane, &scenario) == DataplaneKind::Model;
    if !model {
        super::preflight(&scenario)?;
    }
    if !model {
        super::check_kernel_privileges()?;
    }
    let errs = podlab_scenario::validation::dns1123_label(&a.name);
    if !errs.is_empty() {
        bail!("invalid cluster name {:?}: {}", a.name, errs.join("; "));
    }
    crate::client::up(a.file.as_deref(), &a.name, model, a.wait)
}

/// The scenario of `podlab up` without a file: the default two-node cluster, nothing in it.
fn empty_scenario(name: &str) -> podlab_scenario::Scenario {
    podlab_scenario::Scenario {
        name: name.into(),
        description: None,
        source: PathBuf::new(),
        plain_manifest: true,
        cluster: Default::default(),
        manifests: vec![],
        steps: vec![],
        compare: None,
    }
}

/// `podlab kubeconfig`: the path of a running cluster's kubeconfig (context `podlab-NAME`).
pub fn kubeconfig(a: KubeconfigArgs) -> Result<i32> {
    let path = crate::daemon::kubeconfig_path(&a.name);
    if !path.exists() {
        bail!(
            "no cluster named \"{}\" is running (no {}). Start one with: podlab up [SCENARIO] --name {}",
            a.name,
            path.display(),
            a.name
        );
    }
    println!("{}", path.display());
    Ok(0)
}

/// The daemon's body: a private network namespace, a runtime, the cluster.
pub fn daemon(a: DaemonArgs) -> Result<()> {
    let scenario = match &a.file {
        Some(f) => load(f)?,
        None => empty_scenario(&a.name),
    };
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
    // Shutting the runtime down drops the last handle on the cluster, whose runtime directory
    // is removed then: 2000 pods' directories take ~2.6 s on this machine's /run (ext4), and
    // the process must not exit half-way (it left /run/podlab/<name>/pods/* behind).
    rt.shutdown_timeout(std::time::Duration::from_secs(30));
    r
}
