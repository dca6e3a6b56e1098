//! The `podlab` command line: one variant per verb, each with its arguments in its own file
//! (`crate::verbs` for the kubectl-shaped verbs of a live cluster, the files beside this one
//! for the rest), and [`run`], which hands each to its file.

mod bench;
mod compare;
mod lifecycle;
mod run;
mod validate;

use crate::verbs;
use anyhow::Result;
use clap::{Subcommand, ValueEnum};
use std::process::ExitCode;

/// Which dataplane builds a cluster.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum DataplaneKind {
    /// Real namespaces, veths, bridges, routes and processes (needs root).
    Kernel,
    /// Touches no kernel: addresses and routes computed, containers simulated.
    Model,
}

/// Every `podlab` command.
#[derive(Subcommand)]
pub enum Command {
    /// Run a scenario file (or a plain Kubernetes manifest) on a fresh cluster, then remove it.
    Run(run::Args),
    /// Start a cluster that stays up (like `kind create cluster`) and apply the scenario's manifests.
    Up(lifecycle::UpArgs),
    /// Remove a cluster started with `up`: every namespace, link and process.
    Down(lifecycle::DownArgs),
    /// List running clusters.
    Clusters,
    /// Print the path of a running cluster's kubeconfig (`export KUBECONFIG=$(podlab kubeconfig)`).
    Kubeconfig(lifecycle::KubeconfigArgs),
    /// Display resources (pods, nodes, deployments, replicasets, namespaces, events).
    Get(verbs::get::Args),
    /// Show details of a pod, node or deployment.
    Describe(verbs::describe::Args),
    /// Print a container's logs.
    Logs(verbs::logs::Args),
    /// Run a command inside a pod (or node/NAME) with the machine's binaries.
    Exec(verbs::exec::Args),
    /// Forward 127.0.0.1:LOCAL on this machine to a port inside a pod.
    PortForward(verbs::port_forward::Args),
    /// Create objects from a manifest file or directory.
    Apply(verbs::apply::Args),
    /// Delete pods, deployments or replicasets (by name, -l selector or -f file).
    Delete(verbs::delete::Args),
    /// Set the replicas of a deployment or replicaset.
    Scale(verbs::scale::Args),
    /// Add, change (--overwrite) or remove (key-) labels of a pod.
    Label(verbs::label::Args),
    /// Create a namespace: `create namespace NAME`.
    Create(verbs::create::Args),
    /// Take a node's uplink down (`node down NAME`) or bring it back (`node up NAME`).
    Node(verbs::node::Args),
    /// Why a pod landed where it did: each node's filter verdict and score breakdown.
    ExplainPlacement(verbs::explain_placement::Args),
    /// Draw the cluster network read back from the kernel: fabric, nodes, bridges, veths, pods.
    Topology(verbs::topology::Args),
    /// A node's or pod's routing table from the kernel, each route with the reason it exists.
    Routes(verbs::routes::Args),
    /// The hop-by-hop path of a packet (asked from the kernel), proven by real probes.
    Trace(verbs::trace::Args),
    /// Why SRC cannot reach DST[:PORT]: the first failing hop and the reason, from the kernel.
    Why(verbs::why::Args),
    /// Every pod to every pod: a grid of ok/fail with TCP connect time.
    PingMatrix(verbs::ping_matrix::Args),
    /// Capture packets with the machine's tcpdump inside a pod or node (POD|node/NAME[/IFACE]).
    Capture(verbs::capture::Args),
    /// Serve the cluster's web view on 127.0.0.1 (live topology, packet stepper, scheduler).
    Ui(verbs::ui::Args),
    /// The daemon behind `up` (internal).
    #[command(name = "__daemon", hide = true)]
    Daemon(lifecycle::DaemonArgs),
    /// Run two or more scenarios side by side and compare placement, scaling, path and failure.
    Compare(compare::Args),
    /// One scenario's measurements for `compare` (internal).
    #[command(name = "__measure", hide = true)]
    Measure(compare::MeasureArgs),
    /// Check a scenario or manifest file without running it.
    Validate(validate::Args),
    /// List the built-in container images.
    Images,
    /// Benchmarks (not tests): print podlab's figures beside a baseline measured in the same run.
    Bench {
        /// Which benchmark.
        #[command(subcommand)]
        what: bench::Kind,
    },
    /// Built-in image entry point (runs inside a pod).
    #[command(name = "__image", hide = true)]
    Image {
        /// The image's name.
        name: String,
    },
}

/// Runs one command; its exit code.
pub fn run(command: Command) -> ExitCode {
    match command {
        Command::Run(a) => run::run(a),
        Command::Up(a) => exit(lifecycle::up(a)),
        Command::Down(a) => exit(crate::client::down(&a.name)),
        Command::Clusters => exit(crate::client::clusters()),
        Command::Kubeconfig(a) => exit(lifecycle::kubeconfig(a)),
        Command::Get(a) => exit(verbs::get::run(a)),
        Command::Describe(a) => exit(verbs::describe::run(a)),
        Command::Logs(a) => exit(verbs::logs::run(a)),
        Command::Exec(a) => exit(verbs::exec::run(a)),
        Command::PortForward(a) => exit(verbs::port_forward::run(a)),
        Command::Apply(a) => exit(verbs::apply::run(a)),
        Command::Delete(a) => exit(verbs::delete::run(a)),
        Command::Scale(a) => exit(verbs::scale::run(a)),
        Command::Label(a) => exit(verbs::label::run(a)),
        Command::Create(a) => exit(verbs::create::run(a)),
        Command::Node(a) => exit(verbs::node::run(a)),
        Command::ExplainPlacement(a) => exit(verbs::explain_placement::run(a)),
        Command::Topology(a) => exit(verbs::topology::run(a)),
        Command::Routes(a) => exit(verbs::routes::run(a)),
        Command::Trace(a) => exit(verbs::trace::run(a)),
        Command::Why(a) => exit(verbs::why::run(a)),
        Command::PingMatrix(a) => exit(verbs::ping_matrix::run(a)),
        Command::Capture(a) => exit(verbs::capture::run(a)),
        Command::Ui(a) => exit(verbs::ui::run(a)),
        Command::Daemon(a) => exit(lifecycle::daemon(a).map(|()| 0)),
        Command::Compare(a) => exit(compare::compare(a)),
        Command::Measure(a) => exit(compare::measure(a).map(|()| 0)),
        Command::Validate(a) => exit(validate::validate(a)),
        Command::Images => exit(validate::images()),
        Command::Bench { what } => exit(bench::run(what)),
        Command::Image { name } => ExitCode::from(podlab_node_agent::images::run_builtin(&name).clamp(0, 255) as u8),
    }
}

/// An exit code, or the error printed as `error: ...` with exit 2.
pub fn exit(r: Result<i32>) -> ExitCode {
    match r {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => fail(e),
    }
}

/// Prints `error: ...` (with its causes) and returns exit code 2.
pub fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(2)
}

/// Loads a scenario or manifest file, printing its warnings (kubectl-style) to stderr, also
/// when it fails to load.
pub fn load(file: &std::path::Path) -> Result<podlab_scenario::Scenario> {
    let mut warnings = Vec::new();
    let loaded = podlab_scenario::load_collecting(file, &mut warnings);
    for w in &warnings {
        eprintln!("{w}");
    }
    loaded.map_err(|e| anyhow::anyhow!("{e}"))
}

/// Moves this process (before any other thread exists) into a network namespace of its own:
/// the cluster's fabric bridge lives there, so the machine's own network is never touched,
/// and it vanishes with the process however the process ends.
///
/// Without root, it first moves into a user namespace of its own where it is root (rootless
/// podlab, see `podlab_node_agent::userns`), naming the setting if the machine forbids that.
pub fn enter_private_netns() -> Result<()> {
    use anyhow::Context;
    if !podlab_node_agent::join::is_root() {
        podlab_node_agent::userns::enter_own()?;
    }
    podlab_node_agent::join::unshare_network()
        .context("creating podlab's private network namespace (unshare CLONE_NEWNET)")?;
    podlab_netplugin::ns::configure_new_fabric_here()
        .context("setting up podlab's private network namespace (bridge-nf-call-*=0)")?;
    Ok(())
}

/// Before a command that builds real namespaces starts anything: as root, nothing to check;
/// rootless, that this machine lets an ordinary user make a user namespace (and a network
/// namespace inside it), else which setting forbids it.
pub fn check_kernel_privileges() -> Result<()> {
    if podlab_node_agent::join::is_root() {
        return Ok(());
    }
    podlab_node_agent::userns::probe().map_err(anyhow::Error::from)
}

/// The dataplane a command uses: `--dataplane`, else the scenario's `cluster.dataplane`, else
/// the kernel.
pub fn choose_dataplane(flag: Option<DataplaneKind>, scenario: &podlab_scenario::Scenario) -> DataplaneKind {
    flag.unwrap_or(match scenario.cluster.dataplane.as_deref() {
        Some("model") => DataplaneKind::Model,
        _ => DataplaneKind::Kernel,
    })
}

/// Before building anything in the kernel: refuse a scenario this machine cannot hold, naming
/// the limit, the figure needed and the figure available.
pub fn preflight(scenario: &podlab_scenario::Scenario) -> Result<()> {
    let short = podlab_control_plane::preflight::check(scenario);
    if !short.is_empty() {
        anyhow::bail!("{}", podlab_control_plane::preflight::refusal(&short));
    }
    let missing = podlab_control_plane::kernel_features::missing(scenario);
    if !missing.is_empty() {
        anyhow::bail!("{}", podlab_control_plane::kernel_features::refusal(&missing));
    }
    Ok(())
}

/// Removes state left by podlab processes that died, saying so.
pub fn clean_stale_noting() {
    let cleaned = podlab_control_plane::rundir::clean_stale();
    if !cleaned.is_empty() {
        eprintln!(
            "note: removed state left by podlab processes that died: {}",
            cleaned.join(", ")
        );
    }
}
