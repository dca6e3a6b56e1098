//! The pod worker: starts a pod's containers inside its sandbox, watches them, restarts them
//! with Kubernetes' back-off, and publishes a Kubernetes `PodStatus` after every change.

use crate::images::{self, ImageKind};
use crate::logs::LogFile;
use crate::process::{self, Exit, Process};
use crate::pull::{self, Decision, ImageCache, PullPolicy};
use crate::sandbox::Sandbox;
use crate::spawner::{ProcessSpec, Spawner};
use crate::{AgentConfig, now};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting, ContainerStatus,
    Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Kubernetes' container restart back-off: 10 s doubling to 5 min.
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Called with the pod's new status after every change.
pub type Publish = Arc<dyn Fn(PodStatus) + Send + Sync>;

/// Records a kubelet event about the pod: (type "Normal"/"Warning", reason, message).
pub type EventHook = Arc<dyn Fn(&'static str, &'static str, String) + Send + Sync>;

/// How long a simulated pull takes (scaled by `AgentConfig::time_scale`).
pub const PULL_TIME: Duration = Duration::from_millis(200);

/// Where a pod runs.
pub struct PodContext {
    pub node: String,
    pub host_ip: String,
    pub pod_ip: String,
    pub sandbox: Arc<Sandbox>,
    /// Scratch directory used as the containers' working directory.
    pub workdir: std::path::PathBuf,
    /// The node's image cache (shared by the node's pods); pulls add to it.
    pub images: ImageCache,
    /// Receives the pull events ("Pulling", "Pulled", "Failed"); None drops them.
    pub events: Option<EventHook>,
}

#[derive(Clone)]
struct ContainerRun {
    spec: Container,
    init: bool,
    state: ContainerState,
    last_state: Option<ContainerState>,
    restart_count: i32,
    ready: bool,
    started_once: bool,
    log: Option<LogFile>,
    previous_log: Option<LogFile>,
    pid: Option<i32>,
}

struct Shared {
    pod: Pod,
    ctx: PodContext,
    config: AgentConfig,
    spawner: Spawner,
    publish: Publish,
    start_time: Time,
    containers: Mutex<Vec<ContainerRun>>,
    /// Woken at every change of `containers`.
    changed: tokio::sync::Notify,
}

/// A running pod on this node.
pub struct PodHandle {
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message,
        }),
        ..Default::default()
    }
}

fn restart_policy(pod: &Pod) -> &str {
    pod.spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
}

impl PodHandle {
    /// Start the pod's containers (init containers first, in order) and supervise them.
    pub fn start(pod: Pod, ctx: PodContext, config: AgentConfig, spawner: Spawner, publish: Publish) -> Self {
        let spec = pod.spec.clone().unwrap_or_default();
        let mut runs = Vec::new();
        for (init, c) in spec
            .init_containers
            .unwrap_or_default()
            .into_iter()
            .map(|c| (true, c))
            .chain(spec.containers.into_iter().map(|c| (false, c)))
        {
            runs.push(ContainerRun {
                spec: c,
                init,
                state: waiting(if init { "PodInitializing" } else { "ContainerCreating" }, None),
                last_state: None,
                restart_count: 0,
                ready: false,
                started_once: false,
                log: None,
                previous_log: None,
                pid: None,
            });
        }
        let shared = Arc::new(Shared {
            pod,
            ctx,
            config,
            spawner,
            publish,
            start_time: now(),
            containers: Mutex::new(runs),
            changed: tokio::sync::Notify::new(),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(run_pod(shared.clone(), stop_rx));
        shared.publish();
        PodHandle { shared, stop, task }
    }

    /// Stop every container (SIGTERM, SIGKILL after `grace`) and wait for the worker to end.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace + Duration::from_secs(5), self.task).await;
    }

    /// The container's log (`previous`: the run before the last restart), or None if no such container.
    pub fn logs(&self, container: Option<&str>, previous: bool) -> Option<String> {
        let runs = self.shared.containers.lock().ok()?;
        let run = match container {
            Some(name) => runs.iter().find(|r| r.spec.name == name)?,
            None => runs.iter().find(|r| !r.init)?,
        };
        let log = if previous {
            run.previous_log.as_ref()
        } else {
            run.log.as_ref()
        };
        Some(log.map(|l| l.read_all()).unwrap_or_default())
    }

    /// Pids of the running containers, by name.
    pub fn container_pids(&self) -> Vec<(String, i32)> {
        let runs = self.shared.containers.lock().map(|r| r.clone()).unwrap_or_default();
        runs.into_iter()
            .filter_map(|r| r.pid.map(|p| (r.spec.name, p)))
            .collect()
    }

    /// The current status.
    pub fn status(&self) -> PodStatus {
        self.shared.status()
    }
}

impl Shared {
    fn update(&self, idx: usize, f: impl FnOnce(&mut ContainerRun)) {
        if let Ok(mut runs) = self.containers.lock()
            && let Some(r) = runs.get_mut(idx)
        {
            f(r);
        }
        self.changed.notify_waiters();
        self.publish();
    }

    fn publish(&self) {
        (self.publish)(self.status());
    }

    fn event(&self, type_: &'static str, reason: &'static str, message: String) {
        if let Some(hook) = &self.ctx.events {
            hook(type_, reason, message);
        }
    }

    fn status(&self) -> PodStatus {
        let runs = self.containers.lock().map(|r| r.clone()).unwrap_or_default();
        let policy = restart_policy(&self.pod);
        let (inits, apps): (Vec<_>, Vec<_>) = runs.iter().partition(|r| r.init);
        let inits_done = inits.iter().all(|r| terminated_ok(&r.state));
        let all_created = inits_done && apps.iter().all(|r| r.started_once);
        let all_terminated = apps.iter().all(|r| r.state.terminated.is_some());
        let will_restart = |r: &&ContainerRun| match (&r.state.terminated, policy) {
            (Some(_), "Always") => true,
            (Some(t), "OnFailure") => t.exit_code != 0,
            _ => false,
        };
        let phase = if !all_created {
            "Pending"
        } else if all_terminated && !apps.iter().any(will_restart) {
            if apps.iter().all(|r| terminated_ok(&r.state)) {
                "Succeeded"
            } else {
                "Failed"
            }
        } else {
            // Every container has started at least once and one is running or will restart.
            "Running"
        };
        let ready = apps.iter().all(|r| r.ready) && !apps.is_empty();
        let cond = |t: &str, ok: bool, reason: Option<&str>| PodCondition {
            type_: t.into(),
            status: if ok { "True" } else { "False" }.into(),
            reason: if ok { None } else { reason.map(Into::into) },
            last_transition_time: Some(self.start_time.clone()),
            ..Default::default()
        };
        let status_of = |r: &ContainerRun| ContainerStatus {
            name: r.spec.name.clone(),
            image: r.spec.image.clone().unwrap_or_default(),
            image_id: String::new(),
            container_id: r.pid.map(|p| format!("podlab://{p}")),
            ready: r.ready,
            restart_count: r.restart_count,
            started: Some(r.state.running.is_some()),
            state: Some(r.state.clone()),
            last_state: r.last_state.clone(),
            ..Default::default()
        };
        let ip = self.ctx.pod_ip.clone();
        PodStatus {
            phase: Some(phase.into()),
            host_ip: Some(self.ctx.host_ip.clone()),
            pod_ip: (!ip.is_empty()).then(|| ip.clone()),
            pod_ips: (!ip.is_empty()).then(|| vec![PodIP { ip: ip.clone() }]),
            start_time: Some(self.start_time.clone()),
            conditions: Some(vec![
                cond("PodReadyToStartContainers", true, None),
                cond("Initialized", inits_done, Some("ContainersNotInitialized")),
                cond("Ready", ready, Some("ContainersNotReady")),
                cond("ContainersReady", ready, Some("ContainersNotReady")),
                cond("PodScheduled", true, None),
            ]),
            init_container_statuses: (!inits.is_empty()).then(|| inits.iter().map(|r| status_of(r)).collect()),
            container_statuses: Some(apps.iter().map(|r| status_of(r)).collect()),
            qos_class: Some("BestEffort".into()),
            ..Default::default()
        }
    }
}

fn terminated_ok(s: &ContainerState) -> bool {
    s.terminated.as_ref().is_some_and(|t| t.exit_code == 0)
}

async fn stopped(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

async fn run_pod(shared: Arc<Shared>, stop: watch::Receiver<bool>) {
    let n = shared.containers.lock().map(|r| r.len()).unwrap_or(0);
    let init_count = shared
        .containers
        .lock()
        .map(|r| r.iter().filter(|c| c.init).count())
        .unwrap_or(0);
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
    let Some((pid, port, running, over)) = shared.containers.lock().ok().and_then(|r| {
        let r = r.get(idx)?;
        let port = r.spec.ports.as_ref().and_then(|p| p.first()).map(|p| p.container_port);
        // Not running: it ended, or it waits for something other than its start.
        let over = r.state.terminated.is_some()
            || r.state
                .waiting
                .as_ref()
                .is_some_and(|w| w.reason.as_deref() != Some("ContainerCreating"));
        Some((r.pid, port, r.state.running.is_some(), over))
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
fn listens(pid: i32, port: u16) -> bool {
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

/// Runs one container until it should no longer be restarted. Returns false if the pod was
/// stopped or (for an init container) it failed for good.
async fn supervise(shared: Arc<Shared>, idx: usize, mut stop: watch::Receiver<bool>, init: bool) -> bool {
    let scale = shared.config.time_scale;
    let scaled = |d: Duration| d.mul_f64(scale.max(0.0));
    let mut backoff = BACKOFF_INITIAL;
    let mut failures = 0u32;
    let spec = match shared.containers.lock() {
        Ok(r) => r[idx].spec.clone(),
        Err(_) => return false,
    };
    let image = spec.image.clone().unwrap_or_default();
    let policy = restart_policy(&shared.pod).to_string();
    let grace = Duration::from_secs(
        shared
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64,
    );
    loop {
        if *stop.borrow() {
            return false;
        }
        // Pull the image as the kubelet would: imagePullPolicy, the node's cache, the registry.
        let pull_policy = PullPolicy::of(&spec);
        let failure = match pull::decide(&image, pull_policy, &shared.ctx.images, &shared.config.registry) {
            Decision::Present(kind) => {
                shared.event(
                    "Normal",
                    "Pulled",
                    format!("Container image \"{image}\" already present on machine"),
                );
                Ok(kind)
            }
            Decision::Pull(kind) => {
                shared.event("Normal", "Pulling", format!("Pulling image \"{image}\""));
                let began = std::time::Instant::now();
                if sleep_or_stop(scaled(PULL_TIME), &mut stop).await {
                    return false;
                }
                shared.ctx.images.insert(&image, kind.clone());
                let took = began.elapsed().as_millis();
                shared.event(
                    "Normal",
                    "Pulled",
                    format!("Successfully pulled image \"{image}\" in {took}ms ({took}ms including waiting)"),
                );
                Ok(kind)
            }
            Decision::PullFails { message } => Err(("ErrImagePull", message)),
            Decision::NeverPull { message } => Err(("ErrImageNeverPull", message)),
        };
        let kind = match failure {
            Ok(kind) => kind,
            Err((reason, message)) => {
                if reason == "ErrImagePull" {
                    shared.event("Normal", "Pulling", format!("Pulling image \"{image}\""));
                }
                shared.update(idx, |r| r.state = waiting(reason, Some(message)));
                if reason == "ErrImagePull" {
                    if sleep_or_stop(scaled(Duration::from_secs(2)), &mut stop).await {
                        return false;
                    }
                    shared.update(idx, |r| {
                        r.state = waiting("ImagePullBackOff", Some(format!("Back-off pulling image \"{image}\"")))
                    });
                }
                if sleep_or_stop(scaled(backoff), &mut stop).await {
                    return false;
                }
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        let started = now();
        let outcome = start_container(&shared, &spec, &kind).await;
        let exit = match outcome {
            Ok((proc, log)) => {
                let pid = proc.pid();
                let sig = match proc.signaler() {
                    Ok(s) => s,
                    Err(_) => return false,
                };
                // A built-in server is Ready once it listens on its first declared port (as a
                // TCP readiness probe would say); anything else is Ready once it runs.
                let probe_port = match (&kind, spec.command.is_some()) {
                    (ImageKind::Toolbox, _) | (_, true) => None,
                    _ => spec
                        .ports
                        .as_ref()
                        .and_then(|p| p.first())
                        .map(|p| p.container_port as u16),
                };
                shared.update(idx, |r| {
                    r.previous_log = r.log.take();
                    r.log = Some(log);
                    r.pid = Some(pid);
                    r.started_once = true;
                    r.ready = !init && probe_port.is_none();
                    r.state = ContainerState {
                        running: Some(ContainerStateRunning {
                            started_at: Some(started.clone()),
                        }),
                        ..Default::default()
                    };
                });
                if let Some(port) = probe_port.filter(|_| !init) {
                    let sh = shared.clone();
                    tokio::spawn(async move {
                        // Poll until it listens, or until this run of the container is over.
                        loop {
                            let current = sh.containers.lock().map(|r| r[idx].pid == Some(pid)).unwrap_or(false);
                            if !current {
                                return;
                            }
                            if listens(pid, port) {
                                sh.update(idx, |r| {
                                    if r.pid == Some(pid) {
                                        r.ready = true;
                                    }
                                });
                                return;
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    });
                }
                let (exit, was_stopped) =
                    process::wait_or_stop(proc.wait(), &sig, stopped(&mut stop.clone()), scaled(grace)).await;
                let code = exit.as_ref().map(|e| e.code()).unwrap_or(137);
                let (reason, message) = match exit {
                    Ok(Exit::Signal(9)) | Ok(Exit::Code(137)) if was_stopped => ("Error", None),
                    Ok(Exit::Code(0)) => ("Completed", None),
                    _ => ("Error", None),
                };
                (code, reason, message, Some(started.clone()), was_stopped)
            }
            Err(e) => {
                let msg = if e.kind() == std::io::ErrorKind::NotFound {
                    format!("exec: \"{}\": executable file not found in $PATH", command_of(&spec).0)
                } else {
                    format!("failed to start container process: {e}")
                };
                shared.update(idx, |r| r.started_once = true);
                (128, "StartError", Some(msg), None, false)
            }
        };
        let (code, reason, message, started_at, was_stopped) = exit;
        let terminated = ContainerState {
            terminated: Some(ContainerStateTerminated {
                exit_code: code,
                reason: Some(reason.into()),
                message,
                started_at,
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
        if was_stopped || *stop.borrow() {
            return false;
        }
        let restart = match policy.as_str() {
            "Never" => false,
            "OnFailure" => code != 0,
            _ => !(init && code == 0),
        };
        if init && code == 0 {
            return true;
        }
        if !restart {
            return !init;
        }
        // First restart is immediate; after that, 10 s doubling to 5 min (scaled for lessons).
        failures += 1;
        shared.update(idx, |r| {
            r.last_state = Some(terminated.clone());
            r.restart_count += 1;
            if failures > 1 {
                r.state = waiting(
                    "CrashLoopBackOff",
                    Some(format!(
                        "back-off {}s restarting failed container={} pod={}_{}",
                        backoff.as_secs(),
                        spec.name,
                        shared.pod.metadata.name.clone().unwrap_or_default(),
                        shared
                            .pod
                            .metadata
                            .namespace
                            .clone()
                            .unwrap_or_else(|| "default".into())
                    )),
                );
            }
        });
        if failures > 1 {
            if sleep_or_stop(scaled(backoff), &mut stop).await {
                return false;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }
}

async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stopped(stop) => true,
    }
}

/// The program and arguments a container runs.
fn command_of(spec: &Container) -> (String, Vec<String>) {
    let mut argv: Vec<String> = spec.command.clone().unwrap_or_default();
    argv.extend(spec.args.clone().unwrap_or_default());
    if argv.is_empty() {
        argv.push("sh".into());
    }
    let prog = argv.remove(0);
    (prog, argv)
}

/// The environment Kubernetes would give the container, plus podlab's downward-API basics.
pub fn container_env(pod: &Pod, ctx: &PodContext, spec: &Container) -> Vec<(String, String)> {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let ns = pod.metadata.namespace.clone().unwrap_or_else(|| "default".into());
    let mut env = vec![
        (
            "PATH".to_string(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ),
        ("HOME".into(), "/root".into()),
        ("HOSTNAME".into(), name.clone()),
        ("POD_NAME".into(), name.clone()),
        ("POD_NAMESPACE".into(), ns.clone()),
        ("POD_IP".into(), ctx.pod_ip.clone()),
        ("NODE_NAME".into(), ctx.node.clone()),
    ];
    let ports: Vec<String> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| p.container_port.to_string())
        .collect();
    env.push(("PODLAB_PORTS".into(), ports.join(",")));
    for e in spec.env.iter().flatten() {
        let value = if let Some(v) = &e.value {
            Some(v.clone())
        } else if let Some(field) = e.value_from.as_ref().and_then(|v| v.field_ref.as_ref()) {
            match field.field_path.as_str() {
                "metadata.name" => Some(name.clone()),
                "metadata.namespace" => Some(ns.clone()),
                "metadata.uid" => pod.metadata.uid.clone(),
                "status.podIP" => Some(ctx.pod_ip.clone()),
                "status.hostIP" => Some(ctx.host_ip.clone()),
                "spec.nodeName" => Some(ctx.node.clone()),
                _ => None,
            }
        } else {
            None
        };
        env.retain(|(k, _)| k != &e.name);
        env.push((e.name.clone(), value.unwrap_or_default()));
    }
    env
}

async fn start_container(shared: &Shared, spec: &Container, kind: &ImageKind) -> std::io::Result<(Process, LogFile)> {
    let log = LogFile::new(&spec.name)?;
    let (program, args) = match kind {
        ImageKind::Toolbox => {
            let (p, a) = command_of(spec);
            (std::path::PathBuf::from(p), a)
        }
        _ if spec.command.is_some() => {
            let (p, a) = command_of(spec);
            (std::path::PathBuf::from(p), a)
        }
        builtin => (
            shared.config.exe.clone(),
            vec!["__image".to_string(), images::program_name(builtin).to_string()],
        ),
    };
    let cwd = spec
        .working_dir
        .as_ref()
        .map(std::path::PathBuf::from)
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| shared.ctx.workdir.clone());
    let pid = shared
        .spawner
        .spawn_process_async(ProcessSpec {
            program,
            args,
            env: container_env(&shared.pod, &shared.ctx, spec),
            join: shared.ctx.sandbox.join_fds(),
            stdout: log.writer()?,
            stderr: log.writer()?,
            cwd,
        })
        .await?;
    Ok((Process::adopt(pid)?, log))
}
