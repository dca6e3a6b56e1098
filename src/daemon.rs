//! `podlab up`'s daemon: holds one cluster (its namespaces, pause processes and containers)
//! and answers the CLI over a Unix socket in `/run/podlab/<cluster>/` until `podlab down`.
//!
//! The daemon is started by `podlab up` with `PR_SET_PDEATHSIG`: if `up` dies before the
//! cluster is ready, the daemon dies too and the kernel removes everything. Once ready, `up`
//! sends `Detach` and the daemon lives on its own.

use crate::kubectl::{self, Sink};
use crate::protocol::{Reply, Request};
use anyhow::{Context, Result};
use podlab_control_plane::rundir;
use podlab_control_plane::{ApiError, Cluster, ClusterOptions};
use podlab_scenario::Scenario;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

/// Marker line `up` waits for on the daemon's stdout.
pub const READY: &str = "PODLAB-DAEMON-READY";

/// The socket of cluster `name`.
pub fn socket_path(name: &str) -> PathBuf {
    rundir::base().join(name).join("podlab.sock")
}

/// Body of `podlab __daemon`: build the cluster, apply the manifests, serve.
pub async fn serve(scenario: Scenario, name: String, model: bool, wait: Duration) -> Result<()> {
    let spec = scenario.cluster.clone();
    let started = Instant::now();
    let cluster = Cluster::up(
        ClusterOptions::for_scenario(&spec, &name, name.clone(), model, None)?,
        &|line| println!(" ✓ {line}"),
    )
    .await?;
    let sock = socket_path(&name);
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).with_context(|| format!("listening on {}", sock.display()))?;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600))?;
    for obj in &scenario.manifests {
        match cluster.apply(obj.clone()) {
            Ok(l) => println!("   {l}"),
            Err(e) => println!("   {}", e.kubectl_message()),
        }
    }
    // Wait for the pods to start, reporting progress as `PROGRESS running total`.
    let deadline = Instant::now() + wait;
    let mut rx = cluster.subscribe();
    loop {
        let (mut running, mut settled) = (0, true);
        let total = cluster.visit_pods(|p| {
            if p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running") {
                running += 1;
            }
            let r = crate::printers::pod_status_reason(p);
            settled &= !matches!(r.as_str(), "Pending" | "ContainerCreating");
        });
        println!("PROGRESS {running} {total}");
        if (settled && Instant::now() > started + Duration::from_millis(300)) || Instant::now() > deadline {
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(250), rx.changed()).await;
        // At most one look every 20 ms: a thousand pods starting change the store thousands
        // of times, and each look walks every pod.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(" ✓ Cluster \"{name}\" ready in {} ms", started.elapsed().as_millis());
    println!("{READY}");
    let (detach_tx, mut detach_rx) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(4);
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let me = cluster.clone();
    tokio::spawn(accept_loop(listener, cluster, detach_tx, stop_tx));
    // This future runs on the process's main thread (the one `up` forked): the parent-death
    // signal belongs to that thread, so it is cleared here once `up` lets go. `up` gets its
    // answer to `Detach` only after that (it may exit the moment it has it).
    tokio::select! {
        ack = detach_rx.recv() => {
            detach();
            if let Some(ack) = ack {
                let _ = ack.send(());
            }
        }
        _ = tokio::time::sleep(Duration::from_secs(30)) => detach(),
    }
    // Later `Detach` requests (none are expected) are answered at once.
    tokio::spawn(async move {
        while let Some(ack) = detach_rx.recv().await {
            let _ = ack.send(());
        }
    });
    tokio::select! {
        _ = stop_rx.changed() => {}
        _ = tokio::signal::ctrl_c() => {}
        _ = term() => {}
    }
    me.down().await;
    Ok(())
}

/// From now on the daemon outlives `up`: no parent-death signal, no terminal.
fn detach() {
    // SAFETY: prctl and dup2 on our own thread and descriptors.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, 0);
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            libc::dup2(null, 0);
            libc::dup2(null, 1);
            libc::dup2(null, 2);
            libc::close(null);
        }
    }
}

async fn term() {
    if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        s.recv().await;
    }
}

async fn accept_loop(
    listener: UnixListener,
    cluster: Arc<Cluster>,
    detached: tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
    stop: tokio::sync::watch::Sender<bool>,
) {
    let stop = Arc::new(stop);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let c = cluster.clone();
        let stop = stop.clone();
        let detached = detached.clone();
        tokio::spawn(async move { connection(stream, c, &stop, &detached).await });
    }
}

struct Conn {
    w: tokio::net::unix::OwnedWriteHalf,
}

impl Sink for Conn {
    async fn send(&mut self, r: Reply) -> bool {
        let mut line = serde_json::to_string(&r).unwrap_or_default();
        line.push('\n');
        self.w.write_all(line.as_bytes()).await.is_ok()
    }
}

async fn connection(
    stream: UnixStream,
    cluster: Arc<Cluster>,
    stop: &tokio::sync::watch::Sender<bool>,
    detached: &tokio::sync::mpsc::Sender<tokio::sync::oneshot::Sender<()>>,
) {
    let (r, w) = stream.into_split();
    let mut conn = Conn { w };
    let mut line = String::new();
    if BufReader::new(r).read_line(&mut line).await.is_err() {
        return;
    }
    let req: Request = match serde_json::from_str(&line) {
        Ok(r) => r,
        Err(e) => {
            conn.send(Reply::Err {
                text: format!("bad request: {e}"),
            })
            .await;
            conn.send(Reply::Done { code: 2 }).await;
            return;
        }
    };
    if matches!(req, Request::Detach) {
        let (ack, done) = tokio::sync::oneshot::channel();
        if detached.send(ack).await.is_ok() {
            let _ = done.await;
        }
    }
    let code = handle(&cluster, req, &mut conn, stop).await;
    conn.send(Reply::Done { code }).await;
}

async fn out(conn: &mut Conn, r: Result<String>) -> i32 {
    match r {
        Ok(text) => {
            conn.send(Reply::Out { text }).await;
            0
        }
        Err(e) => {
            conn.send(Reply::Err {
                text: format!("{}\n", crate::error_text(&e)),
            })
            .await;
            1
        }
    }
}

async fn handle(cluster: &Arc<Cluster>, req: Request, conn: &mut Conn, stop: &tokio::sync::watch::Sender<bool>) -> i32 {
    match req {
        Request::Detach => 0,
        Request::Status => {
            let dp = if cluster.is_model() { "model" } else { "kernel" };
            conn.send(Reply::Status {
                name: cluster.name.clone(),
                pid: std::process::id(),
                nodes: cluster.nodes.len(),
                pods: cluster.pods().len(),
                dataplane: dp.into(),
                age_secs: crate::printers::age_secs(
                    cluster
                        .nodes
                        .first()
                        .and_then(|n| n.node.metadata.creation_timestamp.as_ref()),
                ),
            })
            .await;
            0
        }
        Request::Get { watch: true, .. } => match kubectl::watch(cluster, &req, conn).await {
            Ok(()) => 0,
            Err(e) => out(conn, Err(e)).await,
        },
        Request::Get { .. } => out(conn, kubectl::get(cluster, &req)).await,
        Request::Describe {
            resource,
            name,
            namespace,
        } => out(conn, kubectl::describe(cluster, &resource, &name, &namespace)).await,
        Request::Apply { objects } => out(conn, kubectl::apply(cluster, &objects)).await,
        Request::Delete {
            resource,
            names,
            namespace,
            selector,
        } => {
            out(
                conn,
                kubectl::delete(cluster, &resource, &names, &namespace, &selector).await,
            )
            .await
        }
        Request::Scale {
            resource,
            name,
            namespace,
            replicas,
        } => out(conn, kubectl::scale(cluster, &resource, &name, &namespace, replicas)).await,
        Request::Label {
            name,
            namespace,
            labels,
            overwrite,
        } => {
            out(
                conn,
                cluster
                    .label_pod(&(namespace, name), &labels, overwrite)
                    .map(|o| format!("{o}\n"))
                    .map_err(Into::into),
            )
            .await
        }
        Request::CreateNamespace { name } => {
            let ns = k8s_openapi::api::core::v1::Namespace {
                metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    name: Some(name),
                    ..Default::default()
                },
                ..Default::default()
            };
            let line = cluster.apply_namespace(&ns).map(|o| format!("{o}\n"));
            out(conn, line.map_err(Into::into)).await
        }
        Request::NodeLink { name, up } => {
            let r = if up {
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
        Request::ExplainPlacement { name, namespace } => {
            let r = cluster
                .pod(&(namespace, name.clone()))
                .map(|p| cluster.explain_placement(&p))
                .ok_or_else(|| ApiError::not_found("pods", &name).into());
            out(conn, r).await
        }
        Request::Topology { format } => {
            let r = crate::netview::topology(cluster).await;
            out(conn, r.and_then(|t| crate::netview::render_topology(&t, &format))).await
        }
        Request::Routes {
            target,
            namespace,
            output,
        } => {
            let r = crate::netview::routes(cluster, &target, &namespace).await;
            out(
                conn,
                r.and_then(|v| crate::netview::render_routes(&v, output.as_deref().unwrap_or("text"))),
            )
            .await
        }
        Request::Trace {
            src,
            dst,
            namespace,
            output,
        } => match crate::netview::trace(cluster, &src, &dst, &namespace).await {
            Ok(t) => {
                let code = if t.complete && t.probe.ok > 0 { 0 } else { 1 };
                out(
                    conn,
                    crate::netview::render_trace(&t, output.as_deref().unwrap_or("text")),
                )
                .await
                .max(code)
            }
            Err(e) => out(conn, Err(e)).await,
        },
        Request::PingMatrix { selector, output } => {
            match crate::netview::ping_matrix(cluster, selector.as_deref()).await {
                Ok(m) => {
                    let code = if m.failed == 0 { 0 } else { 1 };
                    out(
                        conn,
                        crate::netview::render_matrix(&m, output.as_deref().unwrap_or("text")),
                    )
                    .await
                    .max(code)
                }
                Err(e) => out(conn, Err(e)).await,
            }
        }
        Request::Logs {
            pod,
            namespace,
            container,
            previous,
            follow,
        } => logs(cluster, conn, (namespace, pod), container, previous, follow).await,
        Request::Target {
            kind,
            name,
            namespace,
            container,
        } => match target(cluster, &kind, &name, &namespace, container.as_deref()) {
            Ok(t) => {
                conn.send(t).await;
                0
            }
            Err(e) => out(conn, Err(e)).await,
        },
        Request::Down => {
            let t = Instant::now();
            cluster.down().await;
            conn.send(Reply::Out {
                text: format!(
                    " ✓ Deleted nodes and pods of \"{}\" ({} ms)\n",
                    cluster.name,
                    t.elapsed().as_millis()
                ),
            })
            .await;
            let _ = stop.send(true);
            0
        }
    }
}

async fn logs(
    cluster: &Arc<Cluster>,
    conn: &mut Conn,
    key: podlab_control_plane::Key,
    container: Option<String>,
    previous: bool,
    follow: bool,
) -> i32 {
    let read = |c: &Cluster| {
        c.with_entry(&key, |e| {
            e.handle.as_ref().and_then(|h| h.logs(container.as_deref(), previous))
        })
    };
    let Some(first) = read(cluster) else {
        return out(conn, Err(ApiError::not_found("pods", &key.1).into())).await;
    };
    let Some(mut text) = first else {
        let what = match &container {
            Some(c) => format!("container {c} is not valid for pod {}", key.1),
            None => format!("pod {} has no running containers yet", key.1),
        };
        let what = if previous {
            format!("previous terminated container not found ({what})")
        } else {
            what
        };
        return out(conn, Err(ApiError::BadRequest(what).into())).await;
    };
    if !conn.send(Reply::Out { text: text.clone() }).await {
        return 0;
    }
    if !follow {
        return 0;
    }
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(Some(now)) = read(cluster) else { return 0 };
        let new = if now.starts_with(&text) {
            now[text.len()..].to_string()
        } else {
            now.clone()
        };
        text = now;
        if !new.is_empty() && !conn.send(Reply::Out { text: new }).await {
            return 0;
        }
    }
}

fn target(cluster: &Cluster, kind: &str, name: &str, ns: &str, container: Option<&str>) -> Result<Reply> {
    use podlab_control_plane::ExecError;
    use podlab_node_agent::TargetError;
    let found = if kind == "node" {
        cluster.node_exec_target(name)
    } else {
        cluster.pod_exec_target(&(ns.to_string(), name.to_string()), container)
    };
    let t = match found {
        Ok(t) => t,
        Err(ExecError::Api(e)) => return Err(e.into()),
        Err(ExecError::Target(TargetError::NoSuchContainer { container, pod })) => {
            anyhow::bail!("error: container {container} not found in pod {pod}")
        }
        Err(ExecError::Target(TargetError::NoSandbox { pod })) => anyhow::bail!(
            "error: unable to upgrade connection: pod {name} is {} and has no running sandbox",
            crate::printers::pod_status_reason(&pod)
        ),
        Err(ExecError::Target(e)) => return Err(e.into()),
    };
    Ok(Reply::Target {
        pid: t.sandbox.pid(),
        env: t.env,
        ip: Some(t.ip),
    })
}
