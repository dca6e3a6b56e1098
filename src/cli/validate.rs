//! `podlab validate FILE` and `podlab images`: what can be checked without a cluster.

use super::load;
use anyhow::Result;
use std::path::PathBuf;

/// `podlab validate FILE`.
#[derive(clap::Args)]
pub struct Args {
    /// Scenario or manifest file.
    pub file: PathBuf,
}

/// Loads and checks the file; prints a one-line summary.
pub fn validate(a: Args) -> Result<i32> {
    let s = load(&a.file)?;
    println!(
        "{}: valid {} ({} node(s), {} object(s), {} step(s))",
        a.file.display(),
        if s.plain_manifest { "manifest" } else { "scenario" },
        s.cluster.nodes.len(),
        s.manifests.len(),
        s.steps.len()
    );
    Ok(0)
}

/// The built-in image catalog.
pub fn images() -> Result<i32> {
    let rows: Vec<Vec<String>> = podlab_node_agent::images::CATALOG
        .iter()
        .map(|(n, d)| vec![n.to_string(), d.to_string()])
        .collect();
    print!("{}", crate::printers::table(&["IMAGE", "WHAT IT RUNS"], &rows));
    Ok(0)
}
