//! The `podlab` command: runs scenario files on a real multi-node cluster made of network
//! namespaces, veths, bridges and processes, and hosts the built-in container images.

mod bench;
mod cluster;
mod printers;
mod probe;
mod rundir;
mod runner;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "podlab",
    version,
    about = "A multi-node Kubernetes-style cluster on one Linux machine, made of real kernel objects"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DataplaneKind {
    /// Real namespaces, veths, bridges, routes and processes (needs root).
    Kernel,
    /// Touches no kernel: addresses and routes computed, containers simulated.
    Model,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario file (or a plain Kubernetes manifest) on a fresh cluster, then remove it.
    Run {
        /// Scenario file (kind: Scenario) or Kubernetes manifest file.
        file: PathBuf,
        /// Which dataplane builds the cluster.
        #[arg(long, value_enum, default_value = "kernel")]
        dataplane: DataplaneKind,
        /// Cluster name (default: the scenario's, else "podlab").
        #[arg(long)]
        name: Option<String>,
        /// Print each kernel change as the equivalent iproute2 command.
        #[arg(long)]
        explain: bool,
    },
    /// Check a scenario or manifest file without running it.
    Validate { file: PathBuf },
    /// List the built-in container images.
    Images,
    /// Benchmarks (not tests): print podlab's figures beside a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        what: BenchKind,
    },
    /// Built-in image entry point (runs inside a pod).
    #[command(name = "__image", hide = true)]
    Image { name: String },
}

#[derive(Subcommand)]
enum BenchKind {
    /// Bring up N pods on M nodes, beside a bare rtnetlink loop doing the same kernel work.
    Bringup {
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        #[arg(long, default_value_t = 200)]
        pods: usize,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("PODLAB_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Image { name } => ExitCode::from(podlab_node_agent::images::run_builtin(&name).clamp(0, 255) as u8),
        Command::Images => {
            let rows: Vec<Vec<String>> = podlab_node_agent::images::CATALOG
                .iter()
                .map(|(n, d)| vec![n.to_string(), d.to_string()])
                .collect();
            print!("{}", printers::table(&["IMAGE", "WHAT IT RUNS"], &rows));
            ExitCode::SUCCESS
        }
        Command::Validate { file } => match load(&file) {
            Ok(s) => {
                println!(
                    "{}: valid {} ({} node(s), {} object(s), {} step(s))",
                    file.display(),
                    if s.plain_manifest { "manifest" } else { "scenario" },
                    s.cluster.nodes.len(),
                    s.manifests.len(),
                    s.steps.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Bench {
            what: BenchKind::Bringup { nodes, pods },
        } => match bench(nodes, pods) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Run {
            file,
            dataplane,
            name,
            explain,
        } => match run(file, dataplane, name, explain) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => fail(e),
        },
    }
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(2)
}

fn load(file: &std::path::Path) -> Result<podlab_scenario::Scenario> {
    let loaded = podlab_scenario::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    Ok(loaded.scenario)
}

fn run(file: PathBuf, dataplane: DataplaneKind, name: Option<String>, explain: bool) -> Result<bool> {
    let scenario = load(&file)?;
    let model = dataplane == DataplaneKind::Model;
    if !model {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            bail!(
                "the kernel dataplane builds real network namespaces, veths and bridges and needs root.\n\
                 Run it with sudo, or add `--dataplane model` to simulate the cluster without touching the kernel."
            );
        }
        enter_private_netns()?;
        let cleaned = rundir::clean_stale();
        if !cleaned.is_empty() {
            eprintln!(
                "note: removed state left by podlab processes that died: {}",
                cleaned.join(", ")
            );
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(runner::run(scenario, runner::RunOptions { model, explain, name }))?;
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(report.success())
}

fn bench(nodes: usize, pods: usize) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the bring-up benchmark builds real namespaces and needs root");
    }
    enter_private_netns()?;
    rundir::clean_stale();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(bench::bringup(nodes, pods))
}

/// Move this process (before any other thread exists) into a network namespace of its own:
/// the cluster's fabric bridge lives there, so the machine's own network is never touched,
/// and it vanishes with the process however the process ends.
fn enter_private_netns() -> Result<()> {
    // SAFETY: unshare on the only thread; no memory is involved.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("creating podlab's private network namespace (unshare CLONE_NEWNET)");
    }
    Ok(())
}
