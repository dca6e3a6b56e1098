//! `podlab apply -f FILE|DIR`: the CLI loads and validates the manifests; the daemon applies
//! each object through the control plane's one `apply`.

use super::{ClusterArg, objects_json};
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::{Result, anyhow};
use podlab_control_plane::Cluster;
use podlab_scenario::Object;
use std::path::PathBuf;
use std::sync::Arc;

/// `podlab apply -f FILE`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// A manifest file or a directory of them.
    #[arg(short = 'f', long)]
    pub filename: PathBuf,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side.
pub fn run(args: Args) -> Result<i32> {
    let objects = objects_json(&args.filename)?;
    Ok(client::call(&args.c.cluster, &Request::Apply { objects })?.0)
}

/// Daemon side: apply each object in order, one kubectl line each.
pub async fn serve(objects: Vec<serde_json::Value>, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    out(conn, apply(cluster, &objects)).await
}

fn apply(cluster: &Cluster, objects: &[serde_json::Value]) -> Result<String> {
    let mut out = String::new();
    for v in objects {
        let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or_default();
        let object = Object::from_json(kind, v.clone()).map_err(|e| anyhow!("{e}"))?;
        out += &format!("{}\n", cluster.apply(object)?);
    }
    Ok(out)
}
