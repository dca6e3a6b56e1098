//! `podlab up`'s daemon: holds one cluster (its namespaces, pause processes and containers)
//! and answers the CLI over a Unix socket in `/run/podlab/<cluster>/` until `podlab down`.
//!
//! The daemon is started by `podlab up` with `PR_SET_PDEATHSIG`: if `up` dies before the
//! cluster is ready, the daemon dies too and the kernel removes everything. Once ready, `up`
//! sends `Detach` and the daemon lives on its own.

use crate::protocol::{Reply, Request};
use anyhow::{Context, Result};
use podlab_control_plane::rundir;
use podlab_control_plane::{Cluster, ClusterOptions};

mod dispatch;
mod kubeconfig;
pub use kubeconfig::{Endpoint, endpoint, kubeconfig_path};
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

/// Body of `podlab __daemon`: build the cluster, apply the manifests, serve the socket and the
/// Kubernetes API (on `api`, a loopback listener opened before podlab left the machine's
/// network namespace).
pub async fn serve(
    scenario: Scenario,
    name: String,
    model: bool,
    wait: Duration,
    api: podlab_api_server::Loopback,
) -> Result<()> {
    let spec = scenario.cluster.clone();
    let started = Instant::now();
    let cluster = Cluster::up(
        ClusterOptions::for_scenario(&spec, &name, name.clone(), model, None)?,
        &|line| println!(" ✓ {line}"),
    )
    .await?;
    let Exposed {
        detached: mut detach_rx,
        stop: mut stop_rx,
        ..
    } = expose(&cluster, &name, api)?;
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
        // Right after a Deployment is applied it has no pods yet: "all of none settled" is
        // not ready until its controllers have made them.
        settled &= cluster.workloads_caught_up();
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
    let me = cluster.clone();
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

/// A cluster open to its user's clients: its Kubernetes API and its podlab socket.
pub struct Exposed {
    /// The kubeconfig written for it (context `podlab-NAME`).
    pub kubeconfig: PathBuf,
    /// `Detach` requests from `podlab up` (each answered once handled).
    pub detached: tokio::sync::mpsc::Receiver<tokio::sync::oneshot::Sender<()>>,
    /// Changes when a client asked the cluster to stop (`podlab down`).
    pub stop: tokio::sync::watch::Receiver<bool>,
}

/// Serves `cluster` as cluster `name` to its user: the Kubernetes API on `api` (a kubeconfig
/// with a fresh token in the runtime directory) and podlab's verbs on the Unix socket, so
/// kubectl, `podlab get|topology|ui|...` reach it. `podlab up`'s daemon and a paused lesson.
pub fn expose(cluster: &Arc<Cluster>, name: &str, api: podlab_api_server::Loopback) -> Result<Exposed> {
    let server = api.local_addr()?.to_string();
    // A new token at every start: only who can read the kubeconfig can use the API.
    let token = podlab_api_server::auth::Token::random()?;
    let kc = kubeconfig::write(name, &server, token.as_str())?;
    let api_cluster = cluster.clone();
    tokio::spawn(async move {
        if let Err(e) = podlab_api_server::serve(api, api_cluster, token).await {
            eprintln!("the Kubernetes API stopped: {e}");
        }
    });
    println!(
        " ✓ Kubernetes API on http://{server} (kubeconfig {}, context podlab-{name})",
        kc.display()
    );
    let sock = socket_path(name);
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).with_context(|| format!("listening on {}", sock.display()))?;
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o600))?;
    let (detach_tx, detached) = tokio::sync::mpsc::channel::<tokio::sync::oneshot::Sender<()>>(4);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    tokio::spawn(accept_loop(listener, cluster.clone(), detach_tx, stop_tx));
    Ok(Exposed {
        kubeconfig: kc,
        detached,
        stop,
    })
}

/// From now on the daemon outlives `up`: no parent-death signal, no terminal.
fn detach() {
    podlab_node_agent::join::detach_from_parent();
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

/// One client's connection: replies go out as JSON lines.
pub struct Conn {
    w: tokio::net::unix::OwnedWriteHalf,
}

impl Conn {
    /// Sends one reply; `false` means the client went away.
    pub async fn send(&mut self, r: Reply) -> bool {
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
    let code = dispatch::handle(&cluster, req, &mut conn, stop).await;
    conn.send(Reply::Done { code }).await;
}

/// Sends a verb's text (exit 0) or its error as the user should read it (exit 1).
pub async fn out(conn: &mut Conn, r: Result<String>) -> i32 {
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
