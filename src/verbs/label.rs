//! `podlab label pod NAME k=v... k- [--overwrite]`: add, change or remove a pod's labels.

use super::{ClusterArg, resource};
use crate::client;
use crate::daemon::{Conn, out};
use anyhow::{Result, bail};
use podlab_control_plane::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab label pod NAME LABEL...`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// pod (podlab labels pods only).
    pub resource: String,
    /// The pod's name.
    pub name: String,
    /// `key=value` to set, `key-` to remove.
    pub labels: Vec<String>,
    /// Allow changing a label that has another value.
    #[arg(long)]
    pub overwrite: bool,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// What the daemon is asked: labels parsed into set (`Some`) and remove (`None`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The pod's name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Each label and its new value (`None`: remove it).
    pub labels: Vec<(String, Option<String>)>,
    /// Allow changing a label that has another value.
    pub overwrite: bool,
}

/// CLI side: the label specs are parsed here.
pub fn run(args: Args) -> Result<i32> {
    if resource(&args.resource).ok() != Some("pods") {
        bail!("error: podlab can label pods only (got {})", args.resource);
    }
    let mut labels = Vec::new();
    for l in args.labels {
        if let Some(k) = l.strip_suffix('-') {
            labels.push((k.to_string(), None));
        } else if let Some((k, v)) = l.split_once('=') {
            labels.push((k.to_string(), Some(v.to_string())));
        } else {
            bail!("error: invalid label spec: {l} (use key=value or key-)");
        }
    }
    let req = Request {
        name: args.name,
        namespace: args.namespace,
        labels,
        overwrite: args.overwrite,
    };
    Ok(client::call(&args.c.cluster, &crate::protocol::Request::Label(req))?.0)
}

/// Daemon side.
pub async fn serve(req: Request, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    let r = cluster
        .label_pod(&(req.namespace, req.name), &req.labels, req.overwrite)
        .map(|o| format!("{o}\n"));
    out(conn, r.map_err(Into::into)).await
}
