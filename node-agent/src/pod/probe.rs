//! Container probes as the kubelet runs them: `startupProbe` first (the others wait for it),
//! then `livenessProbe` (failures restart the container) and `readinessProbe` (drives the
//! container's `ready`, hence the pod's Ready condition and the READY column). Each probe is
//! `exec` (a command run inside the pod's namespaces like `exec`), `httpGet` or `tcpSocket`
//! (a socket opened inside the pod's network namespace, connecting to the pod IP), with
//! `initialDelaySeconds` and `periodSeconds` scaled by `timeScale`. `timeoutSeconds` is scaled
//! too but never below one second: a program does not answer faster because the clock runs
//! faster. With no readinessProbe a container keeps podlab's default: a built-in server is
//! Ready once it listens on its first declared port, anything else once it runs (and started).

use super::startup::listens;
use super::{Shared, sleep_or_stop};
use crate::lock_unpoisoned;
use k8s_openapi::api::core::v1::{Container, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Which probe: its name in kubelet's messages.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Startup,
    Liveness,
    Readiness,
}

impl Kind {
    fn title(self) -> &'static str {
        match self {
            Kind::Startup => "Startup",
            Kind::Liveness => "Liveness",
            Kind::Readiness => "Readiness",
        }
    }
}

/// One run of one container, as its probes see it.
pub(super) struct Target {
    /// The pod's state.
    pub shared: Arc<Shared>,
    /// The container's index among the pod's containers.
    pub idx: usize,
    /// This run's process (the probes end once the container is no longer this run).
    pub pid: i32,
    /// The container.
    pub spec: Container,
    /// Working directory exec probes run in (the container's).
    pub cwd: std::path::PathBuf,
    /// The port a built-in server declares (podlab's default readiness), if any.
    pub default_port: Option<u16>,
    /// Notified when a liveness or startup probe decides the container must be restarted.
    pub kill: Arc<Notify>,
    /// The pod's stop signal.
    pub stop: watch::Receiver<bool>,
}

/// Whether the container has probes that decide `started` and `ready` (else they are set at start).
pub(super) fn has_startup(spec: &Container) -> bool {
    spec.startup_probe.is_some()
}

/// Whether readiness comes from a readinessProbe (else podlab's default).
pub(super) fn has_readiness(spec: &Container) -> bool {
    spec.readiness_probe.is_some()
}

/// Starts the probes of one container run (a no-op task when it has none and no default port).
pub(super) fn spawn(t: Target) {
    tokio::spawn(async move {
        if let Some(p) = t.spec.startup_probe.clone() {
            if !t.watch(Kind::Startup, &p).await {
                return;
            }
            t.shared.update(t.idx, |r| {
                if r.pid == Some(t.pid) {
                    r.started = true;
                }
            });
        }
        let liveness = t.spec.liveness_probe.clone();
        let readiness = t.spec.readiness_probe.clone();
        let live = async {
            if let Some(p) = &liveness {
                t.watch(Kind::Liveness, p).await;
            }
        };
        let ready = async {
            match &readiness {
                Some(p) => {
                    t.watch(Kind::Readiness, p).await;
                }
                None => t.default_readiness().await,
            }
        };
        tokio::join!(live, ready);
    });
}

/// The settings of one probe, with Kubernetes' defaults and podlab's clock.
struct Timing {
    initial_delay: Duration,
    period: Duration,
    timeout: Duration,
    failure_threshold: u32,
    success_threshold: u32,
}

impl Timing {
    fn of(p: &Probe, kind: Kind, scale: f64) -> Timing {
        let secs = |v: Option<i32>, default: i32| Duration::from_secs(v.unwrap_or(default).max(0) as u64);
        let scaled = |d: Duration| d.mul_f64(scale.max(0.0));
        Timing {
            initial_delay: scaled(secs(p.initial_delay_seconds, 0)),
            period: scaled(secs(p.period_seconds, 10)).max(Duration::from_millis(10)),
            timeout: scaled(secs(p.timeout_seconds, 1)).max(Duration::from_secs(1)),
            failure_threshold: p.failure_threshold.unwrap_or(3).max(1) as u32,
            // Liveness and startup probes must use 1 (validation refuses other values).
            success_threshold: match kind {
                Kind::Readiness => p.success_threshold.unwrap_or(1).max(1) as u32,
                _ => 1,
            },
        }
    }
}

impl Target {
    /// Whether this run is still the container's current one.
    fn current(&self) -> bool {
        lock_unpoisoned(&self.shared.containers)
            .get(self.idx)
            .is_some_and(|r| r.pid == Some(self.pid))
    }

    fn set_ready(&self, ready: bool) {
        let pid = self.pid;
        let changed = lock_unpoisoned(&self.shared.containers)
            .get(self.idx)
            .is_some_and(|r| r.pid == Some(pid) && r.ready != ready);
        if changed {
            self.shared.update(self.idx, |r| {
                if r.pid == Some(pid) {
                    r.ready = ready;
                }
            });
        }
    }

    /// Probes every period until the container's run ends. Startup: true once it succeeded.
    /// Liveness and startup: a run of `failureThreshold` failures restarts the container
    /// (returns false). Readiness: sets `ready` on each change of the result.
    async fn watch(&self, kind: Kind, p: &Probe) -> bool {
        let timing = Timing::of(p, kind, self.shared.config.time_scale);
        let mut stop = self.stop.clone();
        if sleep_or_stop(timing.initial_delay, &mut stop).await {
            return false;
        }
        let (mut successes, mut failures) = (0u32, 0u32);
        loop {
            if !self.current() || *stop.borrow() {
                return false;
            }
            let result = self.run_once(p, timing.timeout).await;
            if !self.current() {
                return false;
            }
            match result {
                Ok(()) => {
                    successes += 1;
                    failures = 0;
                    if successes >= timing.success_threshold {
                        match kind {
                            Kind::Startup => return true,
                            Kind::Readiness => self.set_ready(true),
                            Kind::Liveness => {}
                        }
                    }
                }
                Err(output) => {
                    failures += 1;
                    successes = 0;
                    let message = format!("{} probe failed: {output}", kind.title());
                    self.shared.event("Warning", "Unhealthy", message);
                    if failures >= timing.failure_threshold {
                        match kind {
                            Kind::Readiness => self.set_ready(false),
                            Kind::Liveness | Kind::Startup => {
                                let what = kind.title().to_lowercase();
                                let name = &self.spec.name;
                                let message = format!("Container {name} failed {what} probe, will be restarted");
                                self.shared.event("Normal", "Killing", message);
                                self.kill.notify_one();
                                return false;
                            }
                        }
                    }
                }
            }
            if sleep_or_stop(timing.period, &mut stop).await {
                return false;
            }
        }
    }

    /// podlab's readiness without a readinessProbe: at once, or once a built-in server listens.
    async fn default_readiness(&self) {
        let Some(port) = self.default_port else {
            self.set_ready(true);
            return;
        };
        while self.current() {
            if listens(self.pid, port) {
                self.set_ready(true);
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// One probe: Ok, or the failure's text as kubelet words it.
    async fn run_once(&self, p: &Probe, timeout: Duration) -> Result<(), String> {
        if let Some(exec) = &p.exec {
            return self.exec(exec.command.clone().unwrap_or_default(), timeout).await;
        }
        let ip: Ipv4Addr = self
            .shared
            .ctx
            .pod_ip
            .parse()
            .map_err(|_| "the pod has no IP".to_string())?;
        if let Some(http) = &p.http_get {
            let host = http.host.as_deref().filter(|h| !h.is_empty());
            if host.is_some_and(|h| h != self.shared.ctx.pod_ip) {
                return Err("podlab probes only the pod's own IP (httpGet.host is not supported)".into());
            }
            if http.scheme.as_deref().is_some_and(|s| !s.eq_ignore_ascii_case("HTTP")) {
                return Err("podlab's httpGet probes speak plain HTTP only".into());
            }
            let port = self.port(&http.port)?;
            let path = http.path.clone().unwrap_or_else(|| "/".into());
            let headers: Vec<(String, String)> = http
                .http_headers
                .iter()
                .flatten()
                .map(|h| (h.name.clone(), h.value.clone()))
                .collect();
            return self
                .in_pod(move || http_get(SocketAddr::from((ip, port)), &path, &headers, timeout))
                .await;
        }
        if let Some(tcp) = &p.tcp_socket {
            let port = self.port(&tcp.port)?;
            return self
                .in_pod(move || {
                    let addr = SocketAddr::from((ip, port));
                    TcpStream::connect_timeout(&addr, timeout)
                        .map(drop)
                        .map_err(|e| format!("dial tcp {addr}: {}", dial_error(&e)))
                })
                .await;
        }
        Err("the probe has no handler podlab supports (exec, httpGet or tcpSocket)".into())
    }

    /// A port number, or a named port of the container.
    fn port(&self, port: &IntOrString) -> Result<u16, String> {
        match port {
            IntOrString::Int(n) => u16::try_from(*n).map_err(|_| format!("invalid port {n}")),
            IntOrString::String(name) => self
                .spec
                .ports
                .iter()
                .flatten()
                .find(|p| p.name.as_deref() == Some(name.as_str()))
                .and_then(|p| u16::try_from(p.container_port).ok())
                .ok_or_else(|| format!("port {name:?} not found in the container's ports")),
        }
    }

    /// Runs `f` on a thread inside the pod's network namespace.
    async fn in_pod(&self, f: impl FnOnce() -> Result<(), String> + Send + 'static) -> Result<(), String> {
        let ns = self
            .shared
            .ctx
            .sandbox
            .netns()
            .map_err(|e| format!("cannot enter the pod's network namespace: {e}"))?;
        podlab_netplugin::ns::run_in_async(&ns, f)
            .await
            .map_err(|e| format!("cannot enter the pod's network namespace: {e}"))?
    }

    /// An exec probe: the command inside the pod's namespaces with the container's
    /// environment and working directory; exit 0 is success, else its output is the failure.
    async fn exec(&self, argv: Vec<String>, timeout: Duration) -> Result<(), String> {
        let sh = &self.shared;
        let env = sh.env_of(&self.spec).map_err(|e| e.to_string())?;
        // Inside the container's own filesystem and processes, as `kubectl exec` runs.
        let container = {
            let runs = crate::lock_unpoisoned(&sh.containers);
            runs.iter()
                .find(|r| r.spec.name == self.spec.name && r.state.running.is_some())
                .and_then(|r| crate::exec_target::ContainerNs::open(r.pid?, crate::rootfs::container_cwd(&r.spec)).ok())
        };
        let target = crate::exec_target::ExecTarget {
            sandbox: sh.ctx.sandbox.clone(),
            cwd: container.as_ref().map_or_else(|| self.cwd.clone(), |c| c.cwd.clone()),
            container: container.map(std::sync::Arc::new),
            env,
            ip: sh.ctx.pod_ip.clone(),
        };
        let out = crate::exec(&sh.spawner, &target, &argv, timeout)
            .await
            .map_err(|e| format!("exec {argv:?}: {e}"))?;
        if out.timed_out {
            return Err(format!(
                "command timed out: \"{}\" timed out after {}s",
                argv.join(" "),
                timeout.as_secs()
            ));
        }
        match out.exit_code {
            0 => Ok(()),
            _ => Err(out.output.trim_end().to_string()),
        }
    }
}

/// Go's wording of a connect error, as in kubelet's messages ("connect: connection refused").
fn dial_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "i/o timeout".into(),
        _ => format!("connect: {e}"),
    }
}

/// kubelet's HTTP probe: GET `path`; 200-399 is success.
fn http_get(addr: SocketAddr, path: &str, headers: &[(String, String)], timeout: Duration) -> Result<(), String> {
    let url = format!("http://{addr}{path}");
    let fail = |e: &std::io::Error| {
        let text = if matches!(e.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) {
            "context deadline exceeded (Client.Timeout exceeded while awaiting headers)".to_string()
        } else {
            e.to_string()
        };
        format!("Get \"{url}\": {text}")
    };
    let mut s = TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("Get \"{url}\": dial tcp {addr}: {}", dial_error(&e)))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| fail(&e))?;
    s.set_write_timeout(Some(timeout)).map_err(|e| fail(&e))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: kube-probe/1.34\r\nAccept: */*\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("Connection: close\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|e| fail(&e))?;
    let mut head = Vec::new();
    let mut buf = [0u8; 512];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 8192 {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) => return Err(fail(&e)),
        }
    }
    let line = String::from_utf8_lossy(&head);
    let code: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("Get \"{url}\": malformed HTTP response"))?;
    if (200..400).contains(&code) {
        Ok(())
    } else {
        Err(format!("HTTP probe failed with statuscode: {code}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timing_has_kubernetes_defaults_and_scales() {
        let t = Timing::of(&Probe::default(), Kind::Liveness, 0.1);
        assert_eq!(t.initial_delay, Duration::ZERO);
        assert_eq!(t.period, Duration::from_secs(1));
        assert_eq!(t.timeout, Duration::from_secs(1));
        assert_eq!((t.failure_threshold, t.success_threshold), (3, 1));
        let p = Probe {
            initial_delay_seconds: Some(5),
            period_seconds: Some(5),
            success_threshold: Some(2),
            ..Default::default()
        };
        let t = Timing::of(&p, Kind::Readiness, 1.0);
        assert_eq!((t.initial_delay, t.success_threshold), (Duration::from_secs(5), 2));
        assert_eq!(Timing::of(&p, Kind::Liveness, 1.0).success_threshold, 1);
    }

    #[test]
    fn http_get_reads_the_status_code() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for status in ["200 OK", "500 Internal Server Error"] {
                let (mut c, _) = l.accept().unwrap();
                let mut b = [0u8; 1024];
                let _ = c.read(&mut b);
                let _ = c.write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes());
            }
        });
        let t = Duration::from_secs(2);
        assert_eq!(http_get(addr, "/healthz", &[], t), Ok(()));
        assert_eq!(
            http_get(addr, "/healthz", &[], t),
            Err("HTTP probe failed with statuscode: 500".into())
        );
        server.join().unwrap();
        let refused = http_get(addr, "/", &[], t).unwrap_err();
        assert!(refused.contains("connect: connection refused"), "{refused}");
    }
}
