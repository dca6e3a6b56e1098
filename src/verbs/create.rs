//! `podlab create namespace NAME`.

use super::{ClusterArg, resource};
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::{Result, bail};
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use podlab_control_plane::Cluster;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab create namespace NAME`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// namespace (the one kind podlab creates this way).
    pub resource: String,
    /// The new object's name.
    pub name: String,
    #[command(flatten)]
    #[serde(skip)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side.
pub fn run(args: Args) -> Result<i32> {
    if resource(&args.resource).ok() != Some("namespaces") {
        bail!("error: podlab can create namespaces only: create namespace NAME");
    }
    let cluster = args.c.cluster.clone();
    Ok(client::call(&cluster, &Request::CreateNamespace(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(args.name),
            ..Default::default()
        },
        ..Default::default()
    };
    let line = cluster.apply_namespace(&ns).map(|o| format!("{o}\n"));
    out(conn, line.map_err(Into::into)).await
}
