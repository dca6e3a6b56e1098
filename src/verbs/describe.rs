//! `podlab describe pod|node|deployment|replicaset|configmap|secret NAME`: kubectl's fields, plus what podlab
//! can show of the kernel objects behind them (sandbox pid, veths, routes).

use super::{ClusterArg, resource};
use crate::client;
use crate::daemon::{Conn, out};
use crate::printers;
use crate::protocol::Request;
use anyhow::{Result, bail};
use podlab_control_plane::{ApiError, Cluster};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// `podlab describe RESOURCE NAME`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// pod, node, deployment, replicaset, configmap or secret.
    pub resource: String,
    /// The object's name.
    pub name: String,
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
    Ok(client::call(&cluster, &Request::Describe(args))?.0)
}

/// Daemon side.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    out(conn, render(cluster, &args)).await
}

fn render(cluster: &Cluster, args: &Args) -> Result<String> {
    let name = args.name.as_str();
    match resource(&args.resource)? {
        "pods" => {
            let key = (args.namespace.clone(), name.to_string());
            let pod = cluster.get_pod(&key)?;
            let info = crate::runner::sandbox_info(cluster, &key);
            Ok(printers::describe_pod(&pod, &cluster.events(), info.as_ref()))
        }
        "nodes" => {
            let n = cluster.get_node(name)?;
            let pods = cluster
                .pods_where(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(n.addr.name.as_str()));
            let routes = cluster.dataplane.routes(&n.addr.name);
            let node = cluster.node_object(name)?;
            Ok(printers::describe_node::describe_node(n, &node, &pods, &routes))
        }
        kind @ ("deployments" | "replicasets") => {
            let text = if kind == "deployments" {
                let d = cluster
                    .deployments()
                    .into_iter()
                    .find(|d| d.metadata.name.as_deref() == Some(name));
                d.map(|d| serde_saphyr::to_string(&d).unwrap_or_default())
            } else {
                let r = cluster
                    .replicasets()
                    .into_iter()
                    .find(|r| r.metadata.name.as_deref() == Some(name));
                r.map(|r| serde_saphyr::to_string(&r).unwrap_or_default())
            };
            text.ok_or_else(|| ApiError::not_found(&args.resource, name).into())
        }
        "configmaps" => {
            let key = (args.namespace.clone(), name.to_string());
            let c = cluster
                .config_map(&key)
                .ok_or_else(|| ApiError::not_found("configmaps", name))?;
            Ok(printers::describe_config::describe_config_map(&c, &cluster.events()))
        }
        "secrets" => {
            let key = (args.namespace.clone(), name.to_string());
            let s = cluster
                .secret(&key)
                .ok_or_else(|| ApiError::not_found("secrets", name))?;
            Ok(printers::describe_config::describe_secret(&s))
        }
        other => bail!("describe {other} is not supported yet"),
    }
}
