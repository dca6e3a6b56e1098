//! `podlab apply -f FILE|DIR`: the CLI loads and validates the manifests; the daemon applies
//! each object through the control plane's one `apply`.

use super::{ClusterArg, objects_json};
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::{Result, bail};
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
        let object = match kind {
            "Pod" => Object::Pod(Box::new(serde_json::from_value(v.clone())?)),
            "Namespace" => Object::Namespace(serde_json::from_value(v.clone())?),
            "Deployment" => Object::Deployment(Box::new(serde_json::from_value(v.clone())?)),
            "ReplicaSet" => Object::ReplicaSet(Box::new(serde_json::from_value(v.clone())?)),
            other => bail!("kind \"{other}\" is not supported by podlab yet"),
        };
        out += &format!("{}\n", cluster.apply(object)?);
    }
    Ok(out)
}
