//! `podlab run FILE`: a scenario (or a plain manifest) on a fresh cluster in this process,
//! removed at the end; `podlab run --context NAME FILE`: its Kubernetes steps against the API
//! of kubeconfig context NAME instead (no local cluster, no root needed).

use super::{DataplaneKind, clean_stale_noting, enter_private_netns, fail, load};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::ExitCode;

/// `podlab run FILE`.
#[derive(clap::Args)]
pub struct Args {
    /// Scenario file (kind: Scenario) or Kubernetes manifest file.
    pub file: PathBuf,
    /// Which dataplane builds the cluster (default: the scenario's `cluster.dataplane`, else kernel).
    #[arg(long, value_enum)]
    pub dataplane: Option<DataplaneKind>,
    /// Cluster name (default: the scenario's, else "podlab").
    #[arg(long)]
    pub name: Option<String>,
    /// Print each kernel change as the equivalent iproute2 command.
    #[arg(long)]
    pub explain: bool,
    /// Lesson mode: pause before each narrated step (press Enter to go on).
    #[arg(long)]
    pub lesson: bool,
    /// Run the scenario's Kubernetes steps against this kubeconfig context (KUBECONFIG or
    /// ~/.kube/config) instead of a local cluster; kernel-only steps are skipped.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["name", "explain"])]
    pub context: Option<String>,
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
    if let Some(context) = &a.context {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        let report = rt.block_on(crate::remote::run(scenario, context, a.lesson))?;
        rt.shutdown_timeout(std::time::Duration::from_millis(200));
        return Ok(report.success());
    }
    let model = super::choose_dataplane(a.dataplane, &scenario) == DataplaneKind::Model;
    if !model {
        super::preflight(&scenario)?;
    }
    // A lesson is served while it runs: its API listens on the machine's loopback, so it is
    // opened before leaving the machine's network namespace.
    let serve = match a.lesson {
        true => Some(podlab_api_server::bind_loopback().context("opening the Kubernetes API on 127.0.0.1")?),
        false => None,
    };
    if !model {
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
            serve,
        },
    ))?;
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(report.success())
}
