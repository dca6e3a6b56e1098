//! `podlab explain-placement POD`: each node's filter verdict and score breakdown, as the
//! scheduler saw the pod.

use super::ClusterArg;
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::Result;
use podlab_control_plane::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab explain-placement POD`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// The pod's name.
    pub pod: String,
    /// Namespace.
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
    Ok(client::call(&cluster, &Request::ExplainPlacement(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    let r = cluster
        .get_pod(&(args.namespace, args.pod))
        .map(|p| cluster.explain_placement(&p));
    out(conn, r.map_err(Into::into)).await
}
