//! `podlab scale deployment|replicaset NAME --replicas N`: sets `spec.replicas`; the
//! controllers add or remove pods.

use super::{ClusterArg, resource};
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::{Result, bail};
use podlab_control_plane::{Cluster, Workload};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab scale TYPE NAME --replicas N` (or `TYPE/NAME`).
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// deployment or replicaset (or TYPE/NAME).
    pub resource: String,
    /// The object's name.
    pub name: Option<String>,
    /// The new replica count.
    #[arg(long)]
    pub replicas: i32,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    #[serde(skip)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side: `TYPE/NAME` is split here.
pub fn run(mut args: Args) -> Result<i32> {
    match (args.resource.split_once('/'), &args.name) {
        (Some((r, n)), _) => (args.resource, args.name) = (r.to_string(), Some(n.to_string())),
        (None, Some(_)) => {}
        (None, None) => bail!("error: scale needs a name: scale deployment NAME --replicas N"),
    }
    let cluster = args.c.cluster.clone();
    Ok(client::call(&cluster, &Request::Scale(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    out(conn, scale(cluster, &args)).await
}

fn scale(cluster: &Cluster, args: &Args) -> Result<String> {
    if args.replicas < 0 {
        bail!("error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0");
    }
    let key = (args.namespace.clone(), args.name.clone().unwrap_or_default());
    let workload = match resource(&args.resource)? {
        "deployments" => Workload::Deployment,
        "replicasets" => Workload::ReplicaSet,
        other => bail!("error: cannot scale {other}"),
    };
    Ok(format!("{}\n", cluster.scale(workload, &key, args.replicas)?))
}
