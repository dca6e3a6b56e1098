//! `podlab run FILE`: a scenario (or a plain manifest) on a fresh cluster in this process,
//! removed at the end.

use super::{DataplaneKind, clean_stale_noting, enter_private_netns, fail, load};
use anyhow::{Context, Result, bail};
use std::path::PathBuf;
use std::process::ExitCode;

/// `podlab run FILE`.
#[derive(clap::Args)]
pub struct Args {
    /// Scenario file (kind: Scenario) or Kubernetes manifest file.
    pub file: PathBuf,
    /// Which dataplane builds the cluster.
    #[arg(long, value_enum, default_value = "kernel")]
    pub dataplane: DataplaneKind,
    /// Cluster name (default: the scenario's, else "podlab").
    #[arg(long)]
    pub name: Option<String>,
    /// Print each kernel change as the equivalent iproute2 command.
    #[arg(long)]
    pub explain: bool,
    /// Lesson mode: pause before each narrated step (press Enter to go on).
    #[arg(long)]
    pub lesson: bool,
}

/// Exit 0 when every step passed, 1 when one failed, 2 when the run could not be made.
pub fn run(a: Args) -> ExitCode {
    match run_scenario(a) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => fail(e),
    }
}

fn run_scenario(a: Args) -> Result<bool> {
    let scenario = load(&a.file)?;
    let model = a.dataplane == DataplaneKind::Model;
    if !model {
        if !podlab_node_agent::join::is_root() {
            bail!(
                "the kernel dataplane builds real network namespaces, veths and bridges and needs root.\n\
                 Run it with sudo, or add `--dataplane model` to simulate the cluster without touching the kernel."
            );
        }
        enter_private_netns()?;
        clean_stale_noting();
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(crate::runner::run(
        scenario,
        crate::runner::RunOptions {
            model,
            explain: a.explain,
            name: a.name,
            lesson: a.lesson,
        },
    ))?;
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(report.success())
}
