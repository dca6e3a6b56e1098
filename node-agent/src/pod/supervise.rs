//! One container's life, as the kubelet runs it: pull its image (imagePullPolicy, the node's
//! cache, the registry), start it, report it Ready (at once, or once it listens on its first
//! declared port), and restart it after it exits, with Kubernetes' back-off.

use super::env::{command_of, grace_period};
use super::probe;
use super::{
    BACKOFF_INITIAL, BACKOFF_MAX, ContainerRun, PULL_TIME, Shared, restart_policy, sleep_or_stop, stopped, waiting,
};
use crate::images::{self, ImageKind};
use crate::logs::LogFile;
use crate::process::{self, Exit};
use crate::pull::{self, Decision, PullPolicy};
use crate::reaper::Child;
use crate::rootfs;
use crate::spawner::ProcessSpec;
use crate::{lock_unpoisoned, now};
use k8s_openapi::api::core::v1::{Container, ContainerState, ContainerStateRunning, ContainerStateTerminated};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Runs one container until it should no longer be restarted. Returns false if the pod was
/// stopped or (for an init container) it failed for good.
pub(super) async fn supervise(shared: Arc<Shared>, idx: usize, stop: watch::Receiver<bool>, init: bool) -> bool {
    let Some(spec) = lock_unpoisoned(&shared.containers).get(idx).map(|r| r.spec.clone()) else {
        return false;
    };
    let mut s = Supervisor {
        image: spec.image.clone().unwrap_or_default(),
        policy: restart_policy(&shared.pod).to_string(),
        grace: grace_period(&shared.pod, shared.config.time_scale),
        spec,
        shared,
        idx,
        init,
        stop,
        backoff: BACKOFF_INITIAL,
        failures: 0,
        runs: 0,
    };
    loop {
        if *s.stop.borrow() {
            return false;
        }
        let kind = match s.pull().await {
            Pulled::Ready(kind) => kind,
            Pulled::Retry => continue,
            Pulled::Stopped => return false,
        };
        let Some(env) = s.environment().await else {
            if *s.stop.borrow() {
                return false;
            }
            continue;
        };
        let Some(ended) = s.run(&kind, env).await else {
            return false;
        };
        if let Some(done) = s.after_exit(ended).await {
            return done;
        }
    }
}

/// One container's supervisor and what it carries from one run to the next.
struct Supervisor {
    shared: Arc<Shared>,
    idx: usize,
    init: bool,
    stop: watch::Receiver<bool>,
    spec: Container,
    image: String,
    /// The pod's restartPolicy.
    policy: String,
    /// Between SIGTERM and SIGKILL when the pod is stopped (already scaled).
    grace: Duration,
    backoff: Duration,
    /// Exits so far (the first restart is immediate).
    failures: u32,
    /// Runs started so far (numbers the log files).
    runs: u32,
}

/// What pulling the image came to.
enum Pulled {
    /// The image is on the node; start the container.
    Ready(ImageKind),
    /// The pull failed and the back-off is over: try again.
    Retry,
    /// The pod was stopped meanwhile.
    Stopped,
}

/// How one run of the container ended.
struct Ended {
    code: i32,
    reason: &'static str,
    message: Option<String>,
    started_at: Option<Time>,
    /// The pod was stopped (the container was killed on purpose).
    was_stopped: bool,
}

impl Supervisor {
    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.shared.config.time_scale.max(0.0))
    }

    /// Pull the image as the kubelet would; a failure waits out its back-off.
    async fn pull(&mut self) -> Pulled {
        let image = self.image.clone();
        let shared = self.shared.clone();
        let decision = pull::decide(
            &image,
            PullPolicy::of(&self.spec),
            &shared.ctx.images,
            &shared.config.registry,
        );
        let (reason, message) = match decision {
            Decision::Present(kind) => {
                let message = format!("Container image \"{image}\" already present on machine");
                shared.event("Normal", "Pulled", message);
                return Pulled::Ready(kind);
            }
            Decision::Pull(kind) => {
                shared.event("Normal", "Pulling", format!("Pulling image \"{image}\""));
                let began = std::time::Instant::now();
                if sleep_or_stop(self.scaled(PULL_TIME), &mut self.stop).await {
                    return Pulled::Stopped;
                }
                shared.ctx.images.insert(&image, kind.clone());
                let took = began.elapsed().as_millis();
                shared.event(
                    "Normal",
                    "Pulled",
                    format!("Successfully pulled image \"{image}\" in {took}ms ({took}ms including waiting)"),
                );
                return Pulled::Ready(kind);
            }
            Decision::PullFails { message } => ("ErrImagePull", message),
            Decision::NeverPull { message } => ("ErrImageNeverPull", message),
        };
        if reason == "ErrImagePull" {
            shared.event("Normal", "Pulling", format!("Pulling image \"{image}\""));
        }
        shared.update(self.idx, |r| r.state = waiting(reason, Some(message)));
        if reason == "ErrImagePull" {
            if sleep_or_stop(self.scaled(Duration::from_secs(2)), &mut self.stop).await {
                return Pulled::Stopped;
            }
            shared.update(self.idx, |r| {
                r.state = waiting("ImagePullBackOff", Some(format!("Back-off pulling image \"{image}\"")))
            });
        }
        if sleep_or_stop(self.scaled(self.backoff), &mut self.stop).await {
            return Pulled::Stopped;
        }
        self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        Pulled::Retry
    }

    /// The container's environment; None (after the kubelet's CreateContainerConfigError
    /// state, event and a wait) while a ConfigMap or Secret it needs is missing.
    async fn environment(&mut self) -> Option<Vec<(String, String)>> {
        let sh = &self.shared;
        match sh.env_of(&self.spec) {
            Ok(env) => Some(env),
            Err(e) => {
                let message = e.to_string();
                sh.event("Warning", "Failed", format!("Error: {message}"));
                sh.update(self.idx, |r| {
                    r.state = waiting("CreateContainerConfigError", Some(message))
                });
                let wait = self.scaled(Duration::from_secs(2));
                sleep_or_stop(wait, &mut self.stop).await;
                None
            }
        }
    }

    /// Start the container and wait for it to exit (or be stopped). None if it cannot be
    /// watched at all.
    async fn run(&mut self, kind: &ImageKind, env: Vec<(String, String)>) -> Option<Ended> {
        let (shared, idx, init) = (self.shared.clone(), self.idx, self.init);
        let started = now();
        self.runs += 1;
        let (proc, log) = match start_container(&shared, &self.spec, kind, env, self.runs).await {
            Ok(x) => x,
            Err(e) => {
                let msg = if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "exec: \"{}\": executable file not found in $PATH",
                        command_of(&self.spec, &[]).0
                    )
                } else {
                    format!("failed to start container process: {e}")
                };
                shared.update(idx, |r| r.started_once = true);
                return Some(Ended {
                    code: 128,
                    reason: "StartError",
                    message: Some(msg),
                    started_at: None,
                    was_stopped: false,
                });
            }
        };
        let pid = proc.pid();
        let sig = proc.signaler();
        // Without a readinessProbe, a built-in server is Ready once it listens on its first
        // declared port (as a TCP readiness probe would say); anything else once it runs.
        let default_port = match (kind, self.spec.command.is_some()) {
            (ImageKind::Toolbox, _) | (_, true) => None,
            _ => self
                .spec
                .ports
                .as_ref()
                .and_then(|p| p.first())
                .map(|p| p.container_port as u16),
        };
        let gated = probe::has_startup(&self.spec);
        let immediately_ready = !init && default_port.is_none() && !gated && !probe::has_readiness(&self.spec);
        shared.update(idx, |r| {
            r.previous_log = r.log.take();
            r.log = Some(log);
            r.pid = Some(pid);
            r.started_once = true;
            r.started = !gated;
            r.ready = immediately_ready;
            r.state = ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(started.clone()),
                }),
                ..Default::default()
            };
        });
        let kill = Arc::new(tokio::sync::Notify::new());
        if !init {
            probe::spawn(probe::Target {
                shared: shared.clone(),
                idx,
                pid,
                spec: self.spec.clone(),
                cwd: container_cwd(&shared, &self.spec),
                default_port,
                kill: kill.clone(),
                stop: self.stop.clone(),
            });
        }
        let stop = self.stopped_with_grace();
        let own = self.grace;
        let probe_killed = std::sync::atomic::AtomicBool::new(false);
        let stop_or_kill = async {
            tokio::select! {
                grace = stop => grace,
                _ = kill.notified() => {
                    probe_killed.store(true, std::sync::atomic::Ordering::Relaxed);
                    own
                }
            }
        };
        let (exit, stop_asked) = process::wait_or_stop_with(proc.wait(), &sig, stop_or_kill).await;
        let was_stopped = stop_asked && !probe_killed.load(std::sync::atomic::Ordering::Relaxed);
        let code = exit.as_ref().map(|e| e.code()).unwrap_or(137);
        let reason = match exit {
            Ok(Exit::Signal(9)) | Ok(Exit::Code(137)) if was_stopped => "Error",
            Ok(Exit::Code(0)) => "Completed",
            _ => "Error",
        };
        Some(Ended {
            code,
            reason,
            message: None,
            started_at: Some(started),
            was_stopped,
        })
    }

    /// Record the exit; decide whether to restart (None: run again, after the back-off) or to
    /// end with `supervise`'s answer.
    async fn after_exit(&mut self, ended: Ended) -> Option<bool> {
        let (shared, idx, init) = (self.shared.clone(), self.idx, self.init);
        let code = ended.code;
        let terminated = ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                reason: Some(ended.reason.into()),
                message: ended.message,
                started_at: ended.started_at,
                finished_at: Some(now()),
                ..Default::default()
            }),
            ..Default::default()
        };
        shared.update(idx, |r| {
            r.state = terminated.clone();
            r.ready = false;
            r.pid = None;
        });
        if ended.was_stopped || *self.stop.borrow() {
            return Some(false);
        }
        let restart = match self.policy.as_str() {
            "Never" => false,
            "OnFailure" => code != 0,
            _ => !(init && code == 0),
        };
        if init && code == 0 {
            return Some(true);
        }
        if !restart {
            return Some(!init);
        }
        // First restart is immediate; after that, 10 s doubling to 5 min (scaled for lessons).
        self.failures += 1;
        let crash_loop = self.failures > 1;
        let message = crash_loop.then(|| self.back_off_message());
        shared.update(idx, |r| record_exit(r, terminated, message));
        if crash_loop {
            if sleep_or_stop(self.scaled(self.backoff), &mut self.stop).await {
                return Some(false);
            }
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        }
        // restartCount counts restarts made, not exits: it goes up as the container starts again.
        shared.update(idx, |r| r.restart_count += 1);
        None
    }

    /// Resolves when the pod is stopped, with the grace period to give the container: the one
    /// the pod was stopped with (a delete's, or zero when the cluster goes down), else its own.
    fn stopped_with_grace(&self) -> impl std::future::Future<Output = Duration> + use<> {
        let (mut rx, shared, own) = (self.stop.clone(), self.shared.clone(), self.grace);
        async move {
            stopped(&mut rx).await;
            lock_unpoisoned(&shared.stop_grace).unwrap_or(own)
        }
    }

    /// The kubelet's CrashLoopBackOff message.
    fn back_off_message(&self) -> String {
        let pod = &self.shared.pod.metadata;
        format!(
            "back-off {}s restarting failed container={} pod={}_{}",
            self.backoff.as_secs(),
            self.spec.name,
            pod.name.clone().unwrap_or_default(),
            pod.namespace.clone().unwrap_or_else(|| "default".into())
        )
    }
}

/// An exit that will be restarted: the last run becomes `lastState`; from the second on, the
/// container waits in CrashLoopBackOff (`message`) before it starts again.
fn record_exit(r: &mut ContainerRun, terminated: ContainerState, message: Option<String>) {
    r.last_state = Some(terminated);
    if let Some(m) = message {
        r.state = waiting("CrashLoopBackOff", Some(m));
    }
}

/// Start the container's process in the pod's sandbox, in a mount namespace whose root is a
/// fresh copy-on-write view of its image (see [`crate::rootfs`]) and a PID namespace of its own
/// (or the pod's), its output going to a fresh log file (which only the container holds open).
async fn start_container(
    shared: &Shared,
    spec: &Container,
    kind: &ImageKind,
    env: Vec<(String, String)>,
    run: u32,
) -> std::io::Result<(Child, LogFile)> {
    let _slot = shared.spawner.container_slot().await?;
    // Container names are DNS labels: `NAME.N.log` is no volume's or container's directory.
    let log = LogFile::create(shared.ctx.workdir.join(format!("{}.{run}.log", spec.name)))?;
    let mounts = crate::volumes::container_binds(&shared.ctx.workdir, &shared.pod, spec, &env)
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let (program, args, builtin) = match kind {
        _ if *kind == ImageKind::Toolbox || spec.command.is_some() => {
            let (p, a) = command_of(spec, &env);
            (std::path::PathBuf::from(p), a, false)
        }
        builtin => (
            shared.config.exe.clone(),
            vec!["__image".to_string(), images::program_name(builtin).to_string()],
            true,
        ),
    };
    let rootfs = rootfs::prepare_container(
        &shared.ctx.workdir,
        shared.ctx.layer_mountpoint.as_deref(),
        spec,
        builtin,
        &mounts,
    )?;
    let child = shared
        .spawner
        .spawn_container_async(
            ProcessSpec {
                stdin: None,
                program,
                args,
                env,
                join: shared.ctx.sandbox.join_fds(),
                stdout: log.writer()?,
                stderr: log.writer()?,
                cwd: rootfs::container_cwd(spec),
            },
            rootfs,
        )
        .await?;
    Ok((child, log))
}

/// The container's working directory (its `workingDir` if it exists, else the pod's scratch
/// directory); exec probes run there too.
fn container_cwd(shared: &Shared, spec: &Container) -> std::path::PathBuf {
    spec.working_dir
        .as_ref()
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| shared.ctx.workdir.clone())
}
