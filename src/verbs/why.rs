//! `podlab why SRC DST[:PORT]`: the first hop or reason where traffic would fail, from the kernel;
//! exit 0 when the path works.

use crate::client;
use crate::daemon::{Conn, out};
use crate::protocol::Request;
use anyhow::Result;
use podlab_control_plane::Cluster;
use std::sync::Arc;

/// `podlab why SRC DST[:PORT]`: the same arguments as `podlab trace`.
pub use super::trace::Args;

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
