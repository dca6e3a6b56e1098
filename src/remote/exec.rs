//! Commands in pods through the pods/exec subresource (`kube`'s `AttachParams`: stdout and
//! stderr collected, the exit status from the API's Status), the `exec` step on top of it, and
//! `connectivity` checked through exec: from each pod, an HTTP request (curl, else wget) to
//! every other pod's IP and port, as a user would check it on any cluster.

use super::view::{Remote, api_message};
use crate::runner::Outcome;
use crate::runner::exec::{expand_templates_with, judge_exec};
use anyhow::{Result, anyhow};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status;
use kube::api::{Api, AttachParams};
use podlab_control_plane::key_of;
use podlab_scenario::PodSelector;
use std::collections::HashMap;
use std::time::Duration;
use tokio::io::AsyncReadExt;

/// What an `exec` step expects.
pub(super) struct Want<'a> {
    pub code: i32,
    pub output: Option<&'a str>,
    pub timeout: Duration,
}

/// How a command in a pod ended: its exit code and stdout followed by stderr.
pub(super) struct Ran {
    pub code: i32,
    pub output: String,
}

/// Run `argv` in `ns/pod` (container `container`, else the first); `None` on a timeout.
pub(super) async fn run_in_pod(
    remote: &Remote,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    argv: &[String],
    timeout: Duration,
) -> Result<Option<Ran>> {
    let api: Api<Pod> = Api::namespaced(remote.client.clone(), ns);
    let mut ap = AttachParams::default().stdin(false).stdout(true).stderr(true);
    if let Some(c) = container {
        ap = ap.container(c);
    }
    let run = async {
        let mut proc = api
            .exec(pod, argv.to_vec(), &ap)
            .await
            .map_err(|e| anyhow!("{}", api_message(&e)))?;
        let (stdout, stderr, status) = (proc.stdout(), proc.stderr(), proc.take_status());
        let (out, err) = tokio::join!(read_all(stdout), read_all(stderr));
        let status = match status {
            Some(s) => s.await,
            None => None,
        };
        let _ = proc.join().await;
        Ok::<_, anyhow::Error>(Ran {
            code: exit_code(status)?,
            output: out + &err,
        })
    };
    match tokio::time::timeout(timeout, run).await {
        Ok(r) => r.map(Some),
        Err(_) => Ok(None),
    }
}

async fn read_all(r: Option<impl tokio::io::AsyncRead + Unpin>) -> String {
    let mut buf = Vec::new();
    if let Some(mut r) = r {
        let _ = r.read_to_end(&mut buf).await;
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// The exit code in the Status an exec ends with (kube-apiserver: `NonZeroExitCode` with an
/// `ExitCode` cause); a failure without one is an error (the command could not run).
fn exit_code(status: Option<Status>) -> Result<i32> {
    let Some(s) = status else {
        return Err(anyhow!("the exec stream ended without an exit status"));
    };
    if s.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let code = s
        .details
        .as_ref()
        .and_then(|d| d.causes.as_ref())
        .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("ExitCode")))
        .and_then(|c| c.message.as_deref()?.parse().ok());
    code.ok_or_else(|| anyhow!("{}", s.message.unwrap_or_default()))
}

/// Run one `exec` step and judge its exit code and output like the in-process runner.
pub(super) async fn exec_step(
    remote: &Remote,
    ns: &str,
    pod: &str,
    container: Option<&str>,
    command: &[String],
    want: Want<'_>,
) -> Outcome {
    let needs_nodes = command
        .iter()
        .map(String::as_str)
        .chain(want.output)
        .any(|a| a.contains("node-ip:"));
    let nodes = if needs_nodes {
        match remote.node_ips().await {
            Ok(n) => n,
            Err(e) => return Outcome::Fail(e.to_string()),
        }
    } else {
        HashMap::new()
    };
    let expand =
        |a: &str| expand_templates_with(ns, a, &|ns, name| remote.pod_ip(ns, name), &|n| nodes.get(n).cloned());
    let argv: Result<Vec<String>> = command.iter().map(|a| expand(a)).collect();
    let expected = want.output.map(expand).transpose();
    let (argv, expected) = match (argv, expected) {
        (Ok(a), Ok(w)) => (a, w),
        (Err(e), _) | (_, Err(e)) => return Outcome::Fail(e.to_string()),
    };
    match run_in_pod(remote, ns, pod, container, &argv, want.timeout).await {
        Err(e) => Outcome::Fail(format!(
            "could not run {:?} in pod {pod}: {e}",
            argv.first().cloned().unwrap_or_default()
        )),
        Ok(None) => judge_exec("", 0, true, want.code, expected.as_deref(), want.timeout),
        Ok(Some(r)) => judge_exec(&r.output, r.code, false, want.code, expected.as_deref(), want.timeout),
    }
}

/// One end of a connectivity check: namespace, name, pod IP, first declared containerPort.
struct End {
    ns: String,
    name: String,
    ip: String,
    port: Option<u16>,
}

/// The shell probe run in the sender: an HTTP GET that prints the answer and whether TCP
/// connected (curl's `time_connect`; busybox wget's words when there is no curl).
fn probe_script(ip: &str, port: u16, secs: u64) -> String {
    format!(
        "if command -v curl >/dev/null 2>&1; then \
           curl -s --connect-timeout {secs} -m {secs} -w '\\npodlab-connect=%{{time_connect}}\\n' http://{ip}:{port}/; \
         else wget -T {secs} -O - http://{ip}:{port}/ 2>&1; echo \"podlab-wget=$?\"; fi"
    )
}

/// Whether the probe's output says TCP connected.
fn connected(output: &str) -> bool {
    if let Some(t) = output
        .rsplit("podlab-connect=")
        .next()
        .filter(|_| output.contains("podlab-connect="))
    {
        return t.trim().parse::<f64>().is_ok_and(|t| t > 0.0);
    }
    let failed = ["refused", "can't connect", "timed out", "unreachable", "No route"];
    output.contains("podlab-wget=0") || !failed.iter().any(|w| output.contains(w))
}

/// The source address a podlab/echo receiver reports (`client_ip: A`), if it is one.
fn seen_source(output: &str) -> Option<&str> {
    output
        .lines()
        .find_map(|l| l.strip_prefix("client_ip: "))
        .map(str::trim)
}

/// Probe every ordered pair of the selected pods through exec, on `port` or the receiver's
/// first declared containerPort (pairs with neither are listed as not checked).
pub(super) async fn connectivity(
    remote: &Remote,
    sel: &PodSelector,
    port: Option<u16>,
    expect: bool,
    timeout: Duration,
) -> Outcome {
    let mut ends = Vec::new();
    for p in remote.select(sel) {
        let (ns, name) = key_of(&p);
        let ip = p.status.as_ref().and_then(|s| s.pod_ip.clone());
        let Some(ip) = ip.filter(|_| crate::runner::phase(&p) == "Running") else {
            return Outcome::Fail(format!(
                "pod {name} has no network (it is {})",
                crate::runner::phase(&p)
            ));
        };
        let declared = p
            .spec
            .iter()
            .flat_map(|s| &s.containers)
            .flat_map(|c| c.ports.iter().flatten())
            .map(|p| p.container_port as u16)
            .next();
        ends.push(End {
            ns,
            name,
            ip,
            port: port.or(declared),
        });
    }
    if ends.len() < 2 {
        return Outcome::Fail(format!("need at least 2 pods, {} matched", ends.len()));
    }
    let pairs: Vec<(&End, &End)> = ends
        .iter()
        .flat_map(|a| ends.iter().map(move |b| (a, b)))
        .filter(|(a, b)| a.name != b.name || a.ns != b.ns)
        .collect();
    let probes = pairs.iter().map(|(a, b)| probe(remote, a, b, timeout));
    let results = futures::future::join_all(probes).await;
    judge_pairs(&pairs, &results, expect)
}

/// What one probe found: `None` when the pair could not be checked (no port), else whether
/// it connected and the source address the receiver saw.
type Probed = Result<Option<(bool, Option<String>)>>;

async fn probe(remote: &Remote, a: &End, b: &End, timeout: Duration) -> Probed {
    let Some(port) = b.port else {
        return Ok(None);
    };
    let argv = [
        "sh".to_string(),
        "-c".to_string(),
        probe_script(&b.ip, port, timeout.as_secs().max(1)),
    ];
    match run_in_pod(remote, &a.ns, &a.name, None, &argv, timeout + Duration::from_secs(5)).await? {
        None => Ok(Some((false, None))),
        Some(r) => Ok(Some((connected(&r.output), seen_source(&r.output).map(str::to_string)))),
    }
}

/// The step's outcome from every pair's probe.
fn judge_pairs(pairs: &[(&End, &End)], results: &[Probed], expect: bool) -> Outcome {
    let (mut problems, mut unchecked) = (Vec::new(), Vec::new());
    let (mut checked, mut seen_ok) = (0, 0);
    for ((a, b), r) in pairs.iter().zip(results) {
        let pair = format!("{} ({}) -> {} ({})", a.name, a.ip, b.name, b.ip);
        match r {
            Err(e) => problems.push(format!("{pair}: could not probe through exec: {e}")),
            Ok(None) => unchecked.push(format!("{} -> {}", a.name, b.name)),
            Ok(Some((ok, seen))) => {
                checked += 1;
                if expect && !ok {
                    problems.push(format!("{pair}: did not connect"));
                } else if !expect && *ok {
                    problems.push(format!("{pair} connected, but was expected to fail"));
                } else if let Some(seen) = seen.as_deref().filter(|_| expect) {
                    if seen == a.ip {
                        seen_ok += 1;
                    } else {
                        problems.push(format!(
                            "{} -> {}: receiver saw source {seen}, not {}'s pod IP {} (NAT?)",
                            a.name, b.name, a.name, a.ip
                        ));
                    }
                }
            }
        }
    }
    if !problems.is_empty() {
        return Outcome::Fail(problems.join("\n"));
    }
    if checked == 0 {
        return Outcome::Fail(format!(
            "no pair could be checked through exec: the receivers declare no containerPort (give the step a port:); {}",
            unchecked.join(", ")
        ));
    }
    let mut detail = format!(
        "{checked} of {} ordered pod pairs {} (through exec)",
        pairs.len(),
        if expect {
            "connected over TCP"
        } else {
            "failed to connect, as expected"
        }
    );
    if seen_ok > 0 {
        detail.push_str(&format!(
            "; in {seen_ok} the receiver saw the sender's own pod IP (no NAT)"
        ));
    }
    if !unchecked.is_empty() {
        detail.push_str(&format!(
            "\nnot checked (the receiver declares no containerPort): {}",
            unchecked.join(", ")
        ));
    }
    Outcome::Pass(detail)
}
