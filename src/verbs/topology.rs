//! `podlab topology`: the cluster network read back from the kernel (text, dot, mermaid, svg,
//! json).

use super::ClusterArg;
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::Result;
use podlab_control_plane::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab topology`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// text, dot, mermaid, svg (Graphviz) or json.
    #[arg(long, short = 'o', default_value = "text")]
    pub format: String,
    #[command(flatten)]
    #[serde(skip)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side.
pub fn run(args: Args) -> Result<i32> {
    let cluster = args.c.cluster.clone();
    Ok(client::call(&cluster, &Request::Topology(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    let r = crate::netview::topology(cluster).await;
    out(conn, r.and_then(|t| crate::netview::render_topology(&t, &args.format))).await
}
