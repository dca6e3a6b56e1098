//! `podlab ui --cluster N [--port P]`: the cluster's web view on 127.0.0.1 (see
//! `crate::webview`); prints its address and opens nothing.

use super::ClusterArg;
use crate::protocol::Request;
use anyhow::{Context, Result, bail};

/// `podlab ui`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Port on 127.0.0.1 (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// Serves the web view until interrupted.
pub fn run(args: Args) -> Result<i32> {
    let cluster = args.c.cluster.clone();
    // Fails with "no cluster named ... is running" before anything is opened.
    let (_, other) = crate::client::call_quiet(&cluster, &Request::Status)?;
    // The kernel views join the cluster's namespaces from this process's threads: a rootless
    // cluster's user namespace is joined first, while there is one thread.
    if let Some(crate::protocol::Reply::Status { pid, .. }) = other.first() {
        podlab_node_agent::userns::join_of(i32::try_from(*pid)?).context("joining the cluster's user namespace")?;
    }
    let api = crate::daemon::endpoint(&cluster)?;
    let mut peers =
        podlab_api_server::peer::PeerCheck::open().context("opening the socket table (NETLINK_SOCK_DIAG)")?;
    // `sudo podlab ui`: the browser runs as the user who ran sudo.
    if nix::unistd::geteuid().is_root()
        && let Some(uid) = std::env::var("SUDO_UID").ok().and_then(|u| u.parse().ok())
    {
        peers = peers.also_allowing(uid);
    }
    let peers = std::sync::Arc::new(peers);
    let listener = std::net::TcpListener::bind(("127.0.0.1", args.port))
        .with_context(|| format!("listening on 127.0.0.1:{}", args.port))?;
    let port = listener.local_addr()?.port();
    if port == 0 {
        bail!("no port to listen on");
    }
    println!("podlab ui for cluster \"{cluster}\": http://127.0.0.1:{port}/   (loopback only; Ctrl-C stops it)");
    crate::webview::serve(
        listener,
        crate::webview::Ctx {
            cluster,
            api,
            port,
            peers,
        },
    )
}
