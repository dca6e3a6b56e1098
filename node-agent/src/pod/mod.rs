//! The pod worker: starts a pod's containers inside its sandbox, watches them, restarts them
//! with Kubernetes' back-off, and publishes a Kubernetes `PodStatus` after every change.
//!
//! - this module: [`PodHandle`] (start, stop, logs) and the pod's status;
//! - `startup`: the order containers start in (init containers, then one after another);
//! - `supervise`: one container's life (pull, run, restart with back-off);
//! - `probe`: startup, liveness and readiness probes (and the default readiness);
//! - [`qos`]: the pod's QoS class;
//! - [`env`]: what a container runs and with which environment, and the grace period.

pub mod env;
mod probe;
pub mod qos;
mod startup;
mod supervise;

pub(crate) use env::field_ref;
pub use env::{container_env, expand, grace_period};
pub use qos::qos_class;

use crate::logs::LogFile;
use crate::pull::ImageCache;
use crate::sandbox::Sandbox;
use crate::spawner::Spawner;
use crate::{AgentConfig, lock_unpoisoned, now};
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateWaiting, ContainerStatus, Pod, PodCondition, PodIP, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// Kubernetes' container restart back-off starts at 10 s...
pub const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
/// ...and doubles up to 5 min.
pub const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Called with the pod's new status after every change.
pub type Publish = Arc<dyn Fn(PodStatus) + Send + Sync>;

/// Records a kubelet event about the pod: (type "Normal"/"Warning", reason, message).
pub type EventHook = Arc<dyn Fn(&'static str, &'static str, String) + Send + Sync>;

/// How long a simulated pull takes (scaled by `AgentConfig::time_scale`).
pub const PULL_TIME: Duration = Duration::from_millis(200);

/// Where a pod runs.
pub struct PodContext {
    /// The node's name.
    pub node: String,
    /// The node's IP (`status.hostIP`).
    pub host_ip: String,
    /// The pod's IP (`status.podIP`).
    pub pod_ip: String,
    /// The pod's pause process and namespaces, which every container joins.
    pub sandbox: Arc<Sandbox>,
    /// The pod's scratch directory: its containers' writable layers and the files they share
    /// (see [`crate::rootfs`]); removed with the pod.
    pub workdir: std::path::PathBuf,
    /// Where its containers mount their writable layers (see [`crate::rootfs::prepare_container`]).
    pub layer_mountpoint: Option<std::path::PathBuf>,
    /// The node's image cache (shared by the node's pods); pulls add to it.
    pub images: ImageCache,
    /// Receives the pull events ("Pulling", "Pulled", "Failed"); None drops them.
    pub events: Option<EventHook>,
    /// The cluster's ConfigMaps and Secrets (env references and volumes).
    pub data: Arc<dyn crate::config_data::ObjectData>,
}

#[derive(Clone)]
struct ContainerRun {
    spec: Container,
    init: bool,
    state: ContainerState,
    last_state: Option<ContainerState>,
    restart_count: i32,
    ready: bool,
    /// The startup probe passed (or there is none) for the current run.
    started: bool,
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
    /// The grace period the pod was stopped with (set just before the stop is sent).
    stop_grace: Mutex<Option<Duration>>,
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
                started: false,
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
            stop_grace: Mutex::new(None),
        });
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(startup::run_pod(shared.clone(), stop_rx));
        shared.publish();
        PodHandle { shared, stop, task }
    }

    /// Stop every container (SIGTERM, SIGKILL after `grace`) and wait for the worker to end.
    /// A container's PID 1 without a SIGTERM handler ignores the SIGTERM and lasts the grace.
    pub async fn stop(self, grace: Duration) {
        *lock_unpoisoned(&self.shared.stop_grace) = Some(grace);
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(grace + Duration::from_secs(5), self.task).await;
    }

    /// The container's log (`previous`: the run before the last restart), or None if there is
    /// no such container or that run never started (kubectl then says it is waiting to start).
    pub fn logs(&self, container: Option<&str>, previous: bool) -> Option<String> {
        let runs = lock_unpoisoned(&self.shared.containers);
        let run = match container {
            Some(name) => runs.iter().find(|r| r.spec.name == name)?,
            None => runs.iter().find(|r| !r.init)?,
        };
        let log = if previous {
            run.previous_log.as_ref()
        } else {
            run.log.as_ref()
        };
        log.map(|l| l.read_all())
    }

    /// Pids of the running containers, by name.
    pub fn container_pids(&self) -> Vec<(String, i32)> {
        lock_unpoisoned(&self.shared.containers)
            .iter()
            .filter_map(|r| r.pid.map(|p| (r.spec.name.clone(), p)))
            .collect()
    }

    /// The mount and PID namespaces of `container`'s running process and its working
    /// directory, for an `exec` in it; None if it is not running.
    pub fn container_namespaces(&self, container: &str) -> Option<crate::exec_target::ContainerNs> {
        let runs = lock_unpoisoned(&self.shared.containers);
        let run = runs
            .iter()
            .find(|r| r.spec.name == container && r.state.running.is_some())?;
        // `pid` is podlab's child; it is cleared just after the reap, so only a pid reused in
        // those microseconds could be opened instead.
        crate::exec_target::ContainerNs::open(run.pid?, crate::rootfs::container_cwd(&run.spec)).ok()
    }

    /// The current status.
    pub fn status(&self) -> PodStatus {
        self.shared.status()
    }
}

impl Shared {
    fn update(&self, idx: usize, f: impl FnOnce(&mut ContainerRun)) {
        if let Some(r) = lock_unpoisoned(&self.containers).get_mut(idx) {
            f(r);
        }
        self.changed.notify_waiters();
        self.publish();
    }

    fn publish(&self) {
        (self.publish)(self.status());
    }

    /// The environment container `spec` of this pod gets (see [`container_env`]).
    fn env_of(&self, spec: &Container) -> Result<Vec<(String, String)>, crate::config_data::DataError> {
        container_env(
            &self.pod,
            &self.ctx.node,
            &self.ctx.host_ip,
            &self.ctx.pod_ip,
            spec,
            &*self.ctx.data,
        )
    }

    fn event(&self, type_: &'static str, reason: &'static str, message: String) {
        if let Some(hook) = &self.ctx.events {
            hook(type_, reason, message);
        }
    }

    fn status(&self) -> PodStatus {
        let runs = lock_unpoisoned(&self.containers).clone();
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
            started: Some(r.state.running.is_some() && r.started),
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
            qos_class: self.pod.spec.as_ref().map(|s| qos_class(s).to_string()),
            ..Default::default()
        }
    }
}

fn terminated_ok(s: &ContainerState) -> bool {
    s.terminated.as_ref().is_some_and(|t| t.exit_code == 0)
}

pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// Sleeps `d`; true if the pod was stopped first.
async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = stopped(stop) => true,
    }
}
