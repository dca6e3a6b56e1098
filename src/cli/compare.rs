//! `podlab compare FILE FILE...` and the per-scenario measurement it runs (`__measure`).

use super::{enter_private_netns, load};
use anyhow::Result;
use std::path::PathBuf;

/// `podlab compare FILES...`.
#[derive(clap::Args)]
pub struct Args {
    /// Two or more scenario files.
    #[arg(required = true, num_args = 2..)]
    pub files: Vec<PathBuf>,
    /// table (default), json, markdown or html.
    #[arg(short = 'o', long, default_value = "table")]
    pub output: String,
    /// Write the report to this file instead of the terminal.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// HTTP requests measured from frontend to backend (all rounds together).
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Rounds the requests are split into; the spread of the rounds' p50s tells a latency
    /// difference from noise.
    #[arg(long, default_value_t = 5, value_parser = at_least_one)]
    pub rounds: usize,
}

/// `podlab __measure FILE`.
#[derive(clap::Args)]
pub struct MeasureArgs {
    /// The scenario file.
    pub file: PathBuf,
    /// HTTP requests measured from frontend to backend (all rounds together).
    #[arg(long, default_value_t = 200)]
    pub requests: usize,
    /// Rounds the requests are split into; the spread of the rounds' p50s tells a latency
    /// difference from noise.
    #[arg(long, default_value_t = 5, value_parser = at_least_one)]
    pub rounds: usize,
}

/// A count of one or more.
fn at_least_one(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs each scenario (one process each) and prints the comparison.
pub fn compare(a: Args) -> Result<i32> {
    super::check_kernel_privileges()?;
    crate::compare::compare(&a.files, &a.output, a.out.as_deref(), a.requests, a.rounds)
}

/// One scenario's measurements, as JSON on stdout.
pub fn measure(a: MeasureArgs) -> Result<()> {
    let scenario = load(&a.file)?;
    enter_private_netns()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = rt.block_on(crate::compare::measure(scenario, a.requests, a.rounds))?;
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
