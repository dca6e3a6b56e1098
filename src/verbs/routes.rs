//! `podlab routes NODE|POD`: a routing table from the kernel, each route with its reason.

use super::ClusterArg;
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::Result;
use podlab_control_plane::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab routes TARGET`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// NODE, node/NAME, POD or pod/NAME.
    pub target: String,
    /// text (default) or json.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Namespace of a pod.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    #[serde(skip)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side.
pub fn run(args: Args) -> Result<i32> {
    let cluster = args.c.cluster.clone();
    Ok(client::call(&cluster, &Request::Routes(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    let r = crate::netview::routes(cluster, &args.target, &args.namespace).await;
    let output = args.output.as_deref().unwrap_or("text");
    out(conn, r.and_then(|v| crate::netview::render_routes(&v, output))).await
}
