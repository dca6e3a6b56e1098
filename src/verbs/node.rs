//! `podlab node down|up NAME`: cut a node's uplink (it goes NotReady, its pods are evicted
//! after the toleration timeout) or restore it.

use super::ClusterArg;
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::{Result, bail};
use podlab_control_plane::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab node down|up NAME`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// down or up
    pub action: String,
    /// The node's name.
    pub name: String,
    #[command(flatten)]
    #[serde(skip)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side.
pub fn run(args: Args) -> Result<i32> {
    if !matches!(args.action.as_str(), "up" | "down") {
        bail!("error: node {}: use `node down NAME` or `node up NAME`", args.action);
    }
    let cluster = args.c.cluster.clone();
    Ok(client::call(&cluster, &Request::Node(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    let name = args.name;
    let r = if args.action == "up" {
        cluster
            .node_up(&name)
            .await
            .map(|()| format!("node/{name} uplink restored: Ready\n"))
    } else {
        cluster.node_down(&name).await.map(|t| {
            format!(
                "node/{name} uplink cut: NotReady; its pods are evicted after {} s\n",
                t.as_secs_f64().round()
            )
        })
    };
    out(conn, r.map_err(Into::into)).await
}
