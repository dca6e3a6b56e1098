//! The streaming subresources of a pod over WebSocket: `exec` (`v5.channel.k8s.io`,
//! `v4.channel.k8s.io`), `attach` (the container's output from now on) and `portforward`
//! (kubectl's SPDY/3.1 tunnelled in a WebSocket, and client libraries'
//! `v4.channel.k8s.io` with `?ports=`). The command runs inside the pod's namespaces with the
//! machine's binaries, through the node agent's spawner, as `podlab exec` does.

use crate::request::Query;
use crate::status::error_response;
use crate::stream::channel::{self, Protocol};
use crate::stream::exec::{ExecIo, run_exec};
use crate::stream::portforward::{self, DialFuture};
use crate::stream::ws_io::WsIo;
use crate::stream::ws_portforward::serve_channel_portforward;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use podlab_control_plane::{ApiError, Cluster, ExecError, Key};
use podlab_node_agent::spawner::ProcessSpec;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

/// Where a stream goes: the pod, Running, with a sandbox.
fn running_target(
    cluster: &Cluster,
    key: &Key,
    container: Option<&str>,
) -> Result<podlab_node_agent::ExecTarget, ApiError> {
    let pod = cluster.get_pod(key)?;
    let phase = pod.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
    if phase != "Running" {
        return Err(ApiError::BadRequest(format!(
            "pod {} is not running (phase {phase}): cannot exec into or forward to it",
            key.1
        )));
    }
    match cluster.pod_exec_target(key, container) {
        Ok(t) => Ok(t),
        Err(ExecError::Api(e)) => Err(e),
        Err(ExecError::Target(e)) => Err(ApiError::BadRequest(e.to_string())),
    }
}

fn pipe() -> Result<(OwnedFd, OwnedFd), ApiError> {
    nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| ApiError::Internal(format!("making a pipe: {e}")))
}

fn reader(fd: OwnedFd) -> Result<crate::stream::exec::BoxReader, ApiError> {
    tokio::net::unix::pipe::Receiver::from_owned_fd(fd)
        .map(|r| Box::new(r) as crate::stream::exec::BoxReader)
        .map_err(|e| ApiError::Internal(format!("reading a pipe: {e}")))
}

/// Kills the command if the session ends first (the client went away).
struct KillOnDrop(Option<podlab_node_agent::process::Signaler>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.signal(libc::SIGKILL);
        }
    }
}

/// Starts `command` in the pod's namespaces with pipes for its stdio.
async fn start(cluster: &Cluster, key: &Key, q: &Query) -> Result<ExecIo, ApiError> {
    let command = q.all("command");
    let Some((program, args)) = command.split_first() else {
        return Err(ApiError::BadRequest(
            "you must specify at least one command for the container".into(),
        ));
    };
    let target = running_target(cluster, key, q.get("container"))?;
    if q.flag("tty") {
        return start_tty(cluster, &target, command).await;
    }
    let (in_r, in_w) = if q.flag("stdin") {
        pipe().map(|(r, w)| (Some(r), Some(w)))?
    } else {
        (None, None)
    };
    let (out_r, out_w) = pipe()?;
    let (err_r, err_w) = pipe()?;
    let spec = ProcessSpec {
        program: PathBuf::from(program),
        args: args.to_vec(),
        env: target.env.clone(),
        join: target.join_fds(),
        stdin: in_r,
        stdout: out_w,
        stderr: err_w,
        cwd: target.cwd.clone(),
    };
    let exit = spawn(cluster, spec).await?;
    let stdin = match in_w {
        Some(w) => Some(Box::new(
            tokio::net::unix::pipe::Sender::from_owned_fd(w)
                .map_err(|e| ApiError::Internal(format!("writing a pipe: {e}")))?,
        ) as crate::stream::exec::BoxWriter),
        None => None,
    };
    Ok(ExecIo {
        stdin,
        stdout: Some(reader(out_r)?),
        stderr: Some(reader(err_r)?),
        resize: None,
        exit,
        command,
    })
}

/// Starts `spec` and returns its exit as a future (the process is killed if the future is
/// dropped first: the client went away).
async fn spawn(
    cluster: &Cluster,
    spec: ProcessSpec,
) -> Result<futures::future::BoxFuture<'static, std::io::Result<i32>>, ApiError> {
    let program = spec.program.display().to_string();
    let proc = match cluster.spawner.spawn_process_async(spec).await {
        Ok(proc) => proc,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ApiError::BadRequest(format!(
                "exec: \"{program}\": executable file not found in $PATH"
            )));
        }
        Err(e) => return Err(ApiError::Internal(format!("starting {program}: {e}"))),
    };
    let guard = KillOnDrop(Some(proc.signaler()));
    Ok(Box::pin(async move {
        let exit = proc.wait().await;
        drop(guard);
        exit.map(|e| e.code())
    }))
}

/// `exec -t`: the command gets a pseudo-terminal (stdin, stdout and stderr on its slave end;
/// stderr joins stdout, as with Kubernetes' TTYs); resizes from the client set its size.
async fn start_tty(
    cluster: &Cluster,
    target: &podlab_node_agent::ExecTarget,
    command: Vec<String>,
) -> Result<ExecIo, ApiError> {
    let internal = |what: &str, e: &dyn std::fmt::Display| ApiError::Internal(format!("{what}: {e}"));
    let pty = nix::pty::openpty(None, None).map_err(|e| internal("opening a terminal", &e))?;
    let (program, args) = command
        .split_first()
        .map(|(p, a)| (p.clone(), a.to_vec()))
        .unwrap_or_default();
    let dup = |fd: &OwnedFd| fd.try_clone().map_err(|e| internal("duplicating the terminal", &e));
    let mut env = target.env.clone();
    if !env.iter().any(|(k, _)| k == "TERM") {
        env.push(("TERM".into(), "xterm".into()));
    }
    let spec = ProcessSpec {
        program: PathBuf::from(&program),
        args,
        env,
        join: target.join_fds(),
        stdin: Some(dup(&pty.slave)?),
        stdout: dup(&pty.slave)?,
        stderr: dup(&pty.slave)?,
        cwd: target.cwd.clone(),
    };
    let exit = spawn(cluster, spec).await?;
    drop(pty.slave);
    let master = pty.master;
    let resize_fd = dup(&master)?;
    let read = tokio::fs::File::from_std(std::fs::File::from(dup(&master)?));
    let write = tokio::fs::File::from_std(std::fs::File::from(master));
    Ok(ExecIo {
        stdin: Some(Box::new(write)),
        stdout: Some(Box::new(TerminalReader(read))),
        stderr: None,
        resize: Some(Box::new(move |size: crate::stream::channel::TerminalSize| {
            set_size(&resize_fd, size.width, size.height);
        })),
        exit,
        command,
    })
}

/// Sets a terminal's size (TIOCSWINSZ on its master end).
fn set_size(master: &OwnedFd, width: u16, height: u16) {
    use std::os::fd::AsRawFd;
    let ws = libc::winsize {
        ws_row: height,
        ws_col: width,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads one winsize from a valid pointer; `master` is an open terminal.
    let _ = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
}

/// A terminal's master end, where the kernel's EIO after the last slave closes means the end.
struct TerminalReader(tokio::fs::File);

impl tokio::io::AsyncRead for TerminalReader {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match std::pin::Pin::new(&mut self.0).poll_read(cx, buf) {
            std::task::Poll::Ready(Err(e)) if e.raw_os_error() == Some(libc::EIO) => std::task::Poll::Ready(Ok(())),
            other => other,
        }
    }
}

/// `GET …/pods/NAME/attach`: the container's output from now on, until it stops. podlab's
/// containers have no stdin, so `-i` is refused.
pub async fn attach(cluster: Arc<Cluster>, key: Key, q: Query, ws: WebSocketUpgrade) -> Response {
    if q.flag("stdin") {
        return error_response(&ApiError::BadRequest(
            "podlab's containers have no stdin to attach to (spec.containers[].stdin is not implemented): attach without -i to follow the output, or use kubectl exec -i".into(),
        ));
    }
    let container = match running_target(&cluster, &key, q.get("container")) {
        Ok(_) => q.get("container").map(str::to_string).or_else(|| {
            cluster
                .pod(&key)
                .and_then(|p| p.spec?.containers.first().map(|c| c.name.clone()))
        }),
        Err(e) => return error_response(&e),
    };
    let Some(container) = container else {
        return error_response(&ApiError::BadRequest("the pod has no containers".into()));
    };
    let (reader, mut writer) = tokio::io::duplex(64 * 1024);
    let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
    let c = cluster.clone();
    let k = key.clone();
    let name = container.clone();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let log = |c: &Cluster| {
            c.with_entry(&k, |e| e.handle.as_ref().and_then(|h| h.logs(Some(&name), false)))
                .flatten()
        };
        let running = |c: &Cluster| {
            c.with_entry(&k, |e| {
                e.handle
                    .as_ref()
                    .is_some_and(|h| h.container_pids().iter().any(|(n, _)| *n == name))
            })
            .unwrap_or(false)
        };
        let mut sent = log(&c).map(|l| l.len()).unwrap_or(0);
        while running(&c) {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            let now = log(&c).unwrap_or_default();
            if now.len() > sent && writer.write_all(&now.as_bytes()[sent..]).await.is_err() {
                break;
            }
            sent = now.len().max(sent);
        }
        let _ = done_tx.send(());
    });
    let io = ExecIo {
        stdin: None,
        stdout: Some(Box::new(reader)),
        stderr: None,
        resize: None,
        exit: Box::pin(async move {
            let _ = done_rx.await;
            Ok(0)
        }),
        command: vec![],
    };
    ws.protocols(Protocol::SUPPORTED).on_upgrade(move |socket| async move {
        let protocol = socket
            .protocol()
            .and_then(|p| p.to_str().ok())
            .and_then(Protocol::from_name)
            .unwrap_or(Protocol::V4);
        if let Err(e) = run_exec(socket, io, protocol).await {
            tracing::warn!("attach to pod {}/{} ({container}): {e}", key.0, key.1);
        }
    })
}

/// `GET|POST …/pods/NAME/exec` with `Upgrade: websocket`.
pub async fn exec(cluster: Arc<Cluster>, key: Key, q: Query, ws: WebSocketUpgrade) -> Response {
    let io = match start(&cluster, &key, &q).await {
        Ok(io) => io,
        Err(e) => return error_response(&e),
    };
    ws.protocols(Protocol::SUPPORTED).on_upgrade(move |socket| async move {
        let protocol = socket
            .protocol()
            .and_then(|p| p.to_str().ok())
            .and_then(Protocol::from_name)
            .unwrap_or(Protocol::V4);
        if let Err(e) = run_exec(socket, io, protocol).await {
            tracing::warn!("exec in pod {}/{}: {e}", key.0, key.1);
        }
    })
}

/// Dials `127.0.0.1:port` inside the pod's network namespace.
fn dialer(
    cluster: Arc<Cluster>,
    key: Key,
) -> impl Fn(u16) -> DialFuture<tokio::net::TcpStream> + Send + Sync + 'static {
    move |port| {
        let cluster = cluster.clone();
        let key = key.clone();
        Box::pin(async move {
            let target = running_target(&cluster, &key, None).map_err(std::io::Error::other)?;
            let netns = podlab_netplugin::Netns::from_pid(target.sandbox.pid() as u32)?;
            let stream = tokio::task::spawn_blocking(move || {
                podlab_netplugin::ns::run_in(&netns, move || std::net::TcpStream::connect(("127.0.0.1", port)))
            })
            .await
            .map_err(std::io::Error::other)???;
            stream.set_nonblocking(true)?;
            tokio::net::TcpStream::from_std(stream)
        })
    }
}

/// `GET …/pods/NAME/portforward` with `Upgrade: websocket`: kubectl's SPDY-in-WebSocket, or
/// `v4.channel.k8s.io` with `?ports=`.
pub async fn portforward(cluster: Arc<Cluster>, key: Key, q: Query, ws: WebSocketUpgrade) -> Response {
    if let Err(e) = running_target(&cluster, &key, None) {
        return error_response(&e);
    }
    let ports = q.all("ports");
    let dial = dialer(cluster, key.clone());
    ws.protocols([portforward::WS_PROTOCOL, "v4.channel.k8s.io"])
        .on_upgrade(move |socket| async move {
            let spdy = socket.protocol().and_then(|p| p.to_str().ok()) == Some(portforward::WS_PROTOCOL);
            let r = if spdy {
                portforward::serve_portforward(WsIo::new(socket), dial)
                    .await
                    .map_err(|e| e.to_string())
            } else {
                match channel::parse_ports(ports.iter().map(String::as_str)) {
                    Ok(ports) => serve_channel_portforward(socket, &ports, dial)
                        .await
                        .map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                }
            };
            if let Err(e) = r {
                tracing::warn!("port-forward to pod {}/{}: {e}", key.0, key.1);
            }
        })
}

/// What a non-WebSocket streaming request is told.
pub fn websocket_required(sub: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "podlab serves pods/{sub} over WebSocket only (v5.channel.k8s.io, v4.channel.k8s.io{}); SPDY upgrades are not implemented: use kubectl 1.31 or newer",
        if sub == "portforward" {
            ", SPDY/3.1+portforward.k8s.io"
        } else {
            ""
        }
    ))
}
