//! The order a pod's containers start in: init containers one after another, each to
//! success, then the app containers in spec order, each given a moment to listen on its port.

use super::{Shared, supervise::supervise};
use crate::lock_unpoisoned;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs the pod: init containers, then app containers, until every container is done.
pub(super) async fn run_pod(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    // The files every container of the pod sees: /etc/hosts, /etc/hostname, /dev/shm.
    if let Err(e) = crate::rootfs::prepare_pod(&shared.ctx.workdir, &shared.pod, &shared.ctx.pod_ip) {
        tracing::warn!(
            "preparing the pod's shared files in {}: {e}",
            shared.ctx.workdir.display()
        );
    }
    if !volumes_ready(&shared, &mut stop).await {
        return;
    }
    if crate::volumes::has_live_volumes(&shared.pod) {
        tokio::spawn(keep_volumes_current(shared.clone(), stop.clone()));
    }
    let (n, init_count) = {
        let runs = lock_unpoisoned(&shared.containers);
        (runs.len(), runs.iter().filter(|c| c.init).count())
    };
    // Init containers run one after another, each to success.
    for idx in 0..init_count {
        if !supervise(shared.clone(), idx, stop.clone(), true).await {
            return;
        }
    }
    // Containers start in spec order, as the kubelet starts them. podlab also waits (briefly)
    // until a container listens on its declared port before starting the next one, so two
    // containers racing for one port collide the same way on every run: the later one loses.
    let mut tasks = Vec::new();
    for idx in init_count..n {
        tasks.push(tokio::spawn(supervise(shared.clone(), idx, stop.clone(), false)));
        let deadline = tokio::time::Instant::now() + STARTUP_SETTLE;
        loop {
            let changed = shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            // Listening on a port is no event: look every 5 ms. Anything else: wait for a change
            // (a thousand pods polling while their containers queue to start cost a CPU).
            let next = match settled(&shared, idx) {
                Settle::Done => break,
                Settle::Listening => tokio::time::Instant::now() + Duration::from_millis(5),
                Settle::Starting => deadline,
            };
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            let _ = tokio::time::timeout_at(next.min(deadline), changed).await;
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Makes the pod's volumes; while one cannot be made (a ConfigMap or Secret it needs is
/// missing), the pod stays ContainerCreating with the kubelet's FailedMount event, and it is
/// tried again. False if the pod was stopped meanwhile.
async fn volumes_ready(shared: &Shared, stop: &mut watch::Receiver<bool>) -> bool {
    let place = crate::volumes::PodPlace {
        node: &shared.ctx.node,
        host_ip: &shared.ctx.host_ip,
        pod_ip: &shared.ctx.pod_ip,
    };
    let mut last = String::new();
    loop {
        match crate::volumes::prepare(&shared.ctx.workdir, &shared.pod, &place, &*shared.ctx.data) {
            Ok(()) => {
                for (name, fs) in crate::volumes::memory_volumes_on_disk(&shared.ctx.workdir, &shared.pod) {
                    shared.event(
                        "Warning",
                        "MemoryVolumeOnDisk",
                        format!(
                            "emptyDir {name:?} asks for medium Memory, but podlab's runtime directory is not on a tmpfs on this machine ({fs}): the volume is on disk"
                        ),
                    );
                }
                return true;
            }
            Err(e) => {
                let message = e.to_string();
                if message != last {
                    shared.event("Warning", "FailedMount", message.clone());
                    last = message;
                }
            }
        }
        let wait = Duration::from_secs(2).mul_f64(shared.config.time_scale.clamp(0.05, 1.0));
        if super::sleep_or_stop(wait, stop).await {
            return false;
        }
    }
}

/// How often a pod's ConfigMap, Secret and downward-API volumes are brought up to date (the
/// kubelet's sync period is a minute; scaled by `timeScale`, at least 100 ms).
const VOLUME_SYNC: Duration = Duration::from_secs(10);

/// Rewrites the pod's live volumes whenever what they show changed, until the pod stops.
async fn keep_volumes_current(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let place = crate::volumes::PodPlace {
        node: &shared.ctx.node,
        host_ip: &shared.ctx.host_ip,
        pod_ip: &shared.ctx.pod_ip,
    };
    let every = VOLUME_SYNC
        .mul_f64(shared.config.time_scale.max(0.0))
        .max(Duration::from_millis(100));
    while !super::sleep_or_stop(every, &mut stop).await {
        if let Err(e) = crate::volumes::prepare(&shared.ctx.workdir, &shared.pod, &place, &*shared.ctx.data) {
            tracing::debug!("updating the volumes of a pod: {e}");
        }
    }
}

/// How long to wait for a container to listen on its first declared port before starting the next.
const STARTUP_SETTLE: Duration = Duration::from_secs(1);

/// Where a just-started container is on its way to being settled.
enum Settle {
    /// It exited, or runs and listens on its first declared TCP port (or declares none).
    Done,
    /// It runs, but does not listen on its declared port yet.
    Listening,
    /// It is not running yet.
    Starting,
}

/// A started container has either exited or listens on its first declared TCP port.
fn settled(shared: &Shared, idx: usize) -> Settle {
    let Some((pid, port, running, over)) = lock_unpoisoned(&shared.containers).get(idx).map(|r| {
        let port = r.spec.ports.as_ref().and_then(|p| p.first()).map(|p| p.container_port);
        // Not running: it ended, or it waits for something other than its start.
        let over = r.state.terminated.is_some()
            || r.state
                .waiting
                .as_ref()
                .is_some_and(|w| w.reason.as_deref() != Some("ContainerCreating"));
        (r.pid, port, r.state.running.is_some(), over)
    }) else {
        return Settle::Done;
    };
    match (pid, port, running) {
        (_, None, true) | (None, Some(_), true) => Settle::Done,
        (Some(pid), Some(port), true) if listens(pid, port as u16) => Settle::Done,
        (Some(_), Some(_), true) => Settle::Listening,
        (_, _, false) if over => Settle::Done,
        (_, _, false) => Settle::Starting,
    }
}

/// Whether the network namespace of `pid` has a TCP socket listening on `port`
/// (`/proc/PID/net/tcp` lists the sockets of the namespace the process is in).
pub(super) fn listens(pid: i32, port: u16) -> bool {
    let want = format!(":{port:04X} ");
    ["tcp", "tcp6"].iter().any(|f| {
        std::fs::read_to_string(format!("/proc/{pid}/net/{f}"))
            .map(|t| {
                t.lines().skip(1).any(|l| {
                    let cols: Vec<&str> = l.split_whitespace().collect();
                    cols.len() > 3
                        && cols[3] == "0A"
                        && format!("{} ", &cols[1][cols[1].len().saturating_sub(5)..]) == want
                })
            })
            .unwrap_or(false)
    })
}
