//! `podlab logs POD [-c C] [-f] [--previous]`: a container's output, kept by the node agent.

use super::ClusterArg;
use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::{Reply, Request};
use anyhow::Result;
use podlab_control_plane::{Cluster, Key};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// `podlab logs POD`.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct Args {
    /// The pod (NAME or pod/NAME).
    pub pod: String,
    /// The container (default: the first).
    #[arg(short = 'c', long)]
    pub container: Option<String>,
    /// Keep printing new output.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// The previous (terminated) instance of the container.
    #[arg(short = 'p', long)]
    pub previous: bool,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    #[serde(skip)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// CLI side.
pub fn run(mut args: Args) -> Result<i32> {
    if let Some(p) = args.pod.strip_prefix("pod/") {
        args.pod = p.to_string();
    }
    let cluster = args.c.cluster.clone();
    Ok(client::call(&cluster, &Request::Logs(args))?.0)
}

/// Daemon side: what the Kubernetes API's pods/log answers (a container that never started is
/// "waiting to start: REASON", an error), then new output while following.
pub async fn serve(args: Args, cluster: &Arc<Cluster>, conn: &mut Conn) -> i32 {
    let key: Key = (args.namespace.clone(), args.pod.clone());
    // kubectl's default container: the first app container.
    let container = args.container.clone().or_else(|| {
        let pod = cluster.get_pod(&key).ok()?;
        pod.spec?.containers.first().map(|c| c.name.clone())
    });
    let read = |c: &Cluster| podlab_api_server::logs::read(c, &key, container.as_deref(), args.previous);
    let mut text = match read(cluster) {
        Ok(t) => t,
        Err(e) => return out(conn, Err(e.into())).await,
    };
    if !conn.send(Reply::Out { text: text.clone() }).await || !args.follow {
        return 0;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Ok(now) = read(cluster) else { return 0 };
        let new = match now.strip_prefix(text.as_str()) {
            Some(rest) => rest.to_string(),
            None => now.clone(),
        };
        text = now;
        if !new.is_empty() && !conn.send(Reply::Out { text: new }).await {
            return 0;
        }
    }
}
