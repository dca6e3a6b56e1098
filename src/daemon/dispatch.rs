//! The daemon's dispatch: one request, one verb's `serve`.

use super::{Conn, out};
use crate::protocol::{Reply, Request};
use crate::verbs;
use podlab_control_plane::Cluster;
use std::sync::Arc;
use std::time::Instant;

/// Answers one request; returns the exit code the CLI ends with.
pub async fn handle(
    cluster: &Arc<Cluster>,
    req: Request,
    conn: &mut Conn,
    stop: &tokio::sync::watch::Sender<bool>,
) -> i32 {
    match req {
        Request::Detach => 0,
        Request::Status => status(cluster, conn).await,
        Request::Get(a) => verbs::get::serve(a, cluster, conn).await,
        Request::Describe(a) => verbs::describe::serve(a, cluster, conn).await,
        Request::Logs(a) => verbs::logs::serve(a, cluster, conn).await,
        Request::Apply { objects } => verbs::apply::serve(objects, cluster, conn).await,
        Request::Delete(a) => verbs::delete::serve(a, cluster, conn).await,
        Request::Scale(a) => verbs::scale::serve(a, cluster, conn).await,
        Request::Label(a) => verbs::label::serve(a, cluster, conn).await,
        Request::CreateNamespace(a) => verbs::create::serve(a, cluster, conn).await,
        Request::Target(a) => verbs::exec::serve_target(a, cluster, conn).await,
        Request::Node(a) => verbs::node::serve(a, cluster, conn).await,
        Request::ExplainPlacement(a) => verbs::explain_placement::serve(a, cluster, conn).await,
        Request::Topology(a) => verbs::topology::serve(a, cluster, conn).await,
        Request::Routes(a) => verbs::routes::serve(a, cluster, conn).await,
        Request::Trace(a) => verbs::trace::serve(a, cluster, conn).await,
        Request::Why(a) => verbs::why::serve(a, cluster, conn).await,
        Request::PingMatrix(a) => verbs::ping_matrix::serve(a, cluster, conn).await,
        Request::Down => {
            let t = Instant::now();
            cluster.down().await;
            let text = format!(
                " ✓ Deleted nodes and pods of \"{}\" ({} ms)\n",
                cluster.name,
                t.elapsed().as_millis()
            );
            let code = out(conn, Ok(text)).await;
            let _ = stop.send(true);
            code
        }
    }
}

async fn status(cluster: &Cluster, conn: &mut Conn) -> i32 {
    let dataplane = if cluster.is_model() { "model" } else { "kernel" };
    let created = cluster
        .nodes
        .first()
        .and_then(|n| n.node.metadata.creation_timestamp.as_ref());
    conn.send(Reply::Status {
        name: cluster.name.clone(),
        pid: std::process::id(),
        nodes: cluster.nodes.len(),
        pods: cluster.pods().len(),
        dataplane: dataplane.into(),
        age_secs: crate::printers::age_secs(created),
    })
    .await;
    0
}
