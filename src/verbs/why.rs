//! `podlab why SRC DST[:PORT]`: the first hop or reason where traffic would fail, from the kernel;
//! exit 0 when the path works.

use super::ClusterArg;
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::Result;
use podlab_control_plane::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab why SRC DST[:PORT]`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// Source: POD, node/NAME or an IP.
    pub src: String,
    /// Destination: POD, node/NAME or an IP, optionally :PORT (an app port to probe).
    pub dst: String,
    /// text (default) or json.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    /// Namespace of the pods.
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
    Ok(client::call(&cluster, &Request::Why(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    match crate::netview::why(cluster, &args.src, &args.dst, &args.namespace).await {
        Ok(d) => {
            let code = if d.ok { 0 } else { 1 };
            let output = args.output.as_deref().unwrap_or("text");
            out(conn, crate::netview::render_why(&d, output)).await.max(code)
        }
        Err(e) => out(conn, Err(e)).await,
    }
}
