//! `podlab ping-matrix`: every pod to every pod over TCP; exit 1 when any pair fails.

use super::ClusterArg;
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::Result;
use podlab_control_plane::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab ping-matrix`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// Only the pods this label selector matches.
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// text (default) or json.
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[command(flatten)]
    #[serde(skip)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side.
pub fn run(args: Args) -> Result<i32> {
    let cluster = args.c.cluster.clone();
    Ok(client::call(&cluster, &Request::PingMatrix(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    match crate::netview::ping_matrix(cluster, args.selector.as_deref()).await {
        Ok(m) => {
            let code = if m.failed == 0 { 0 } else { 1 };
            let output = args.output.as_deref().unwrap_or("text");
            out(conn, crate::netview::render_matrix(&m, output)).await.max(code)
        }
        Err(e) => out(conn, Err(e)).await,
    }
}
