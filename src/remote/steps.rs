//! Running one scenario step against a Kubernetes API: apply, sleep, delete, wait (on the
//! watch-fed pod view), expect (the runner's checks, retried for up to 10 s), exec and
//! connectivity through pods/exec; kernel-only steps are skipped.

use super::view::Remote;
use super::{KERNEL_ONLY, exec};
use crate::runner::Outcome;
use crate::runner::expect::{check_pods, why_not};
use crate::runner::{phase, pod_ready};
use podlab_control_plane::key_of;
use podlab_scenario::{Action, Expectation, PodSelector, Step};
use std::time::{Duration, Instant};

/// How often a waiting step looks at the pods again.
const POLL: Duration = Duration::from_millis(100);

/// Run one step and say how it went.
pub(super) async fn run_step(remote: &Remote, step: &Step) -> Outcome {
    match &step.action {
        Action::Apply(objs) => match remote.apply_all(objs).await {
            Ok(n) => Outcome::Pass(format!("{n} object(s) applied")),
            Err(e) => Outcome::Fail(e.to_string()),
        },
        Action::Sleep(d) => {
            tokio::time::sleep(*d).await;
            Outcome::Pass(String::new())
        }
        Action::Delete { pods } => delete(remote, pods).await,
        Action::Wait {
            pods,
            phase: want,
            timeout,
        } => wait(remote, pods, want, *timeout).await,
        Action::Expect(e) => expect(remote, e).await,
        Action::Exec { pod, .. } if pod.starts_with("node/") => Outcome::Skip(KERNEL_ONLY.into()),
        Action::Exec {
            pod,
            namespace,
            container,
            command,
            expect_exit_code,
            expect_output,
            timeout,
        } => {
            let want = exec::Want {
                code: *expect_exit_code,
                output: expect_output.as_deref(),
                timeout: *timeout,
            };
            exec::exec_step(remote, namespace, pod, container.as_deref(), command, want).await
        }
        Action::Connectivity {
            pods,
            port,
            expect_reachable,
            timeout,
        } => exec::connectivity(remote, pods, *port, *expect_reachable, *timeout).await,
    }
}

/// Delete every selected pod.
async fn delete(remote: &Remote, pods: &PodSelector) -> Outcome {
    let mut msgs = Vec::new();
    for p in remote.select(pods) {
        let (ns, name) = key_of(&p);
        match remote.delete_pod(&ns, &name).await {
            Ok(m) => msgs.push(m),
            Err(e) => return Outcome::Fail(e.to_string()),
        }
    }
    if msgs.is_empty() {
        Outcome::Fail("no pod matched".into())
    } else {
        Outcome::Pass(msgs.join("\n"))
    }
}

/// Wait until every selected pod is in phase `want` (and Ready, for Running); on a timeout,
/// say why each late one is not.
async fn wait(remote: &Remote, pods: &PodSelector, want: &str, timeout: Duration) -> Outcome {
    let end = Instant::now() + timeout;
    loop {
        let sel = remote.select(pods);
        if !sel.is_empty()
            && sel
                .iter()
                .all(|p| phase(p) == want && (want != "Running" || pod_ready(p)))
        {
            return Outcome::Pass(String::new());
        }
        if Instant::now() >= end {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let sel = remote.select(pods);
    if sel.is_empty() {
        return Outcome::Fail("no pod matched".into());
    }
    let facts = remote.facts(&sel, false).await;
    let late: Vec<String> = sel
        .iter()
        .filter(|p| phase(p) != want || (want == "Running" && !pod_ready(p)))
        .map(|p| format!("{} is {} ({})", key_of(p).1, phase(p), why_not(&facts, p)))
        .collect();
    Outcome::Fail(format!("after {}s: {}", timeout.as_secs(), late.join("; ")))
}

/// Check an expectation until it holds, for up to 10 s; fail with the last thing that was off.
async fn expect(remote: &Remote, e: &Expectation) -> Outcome {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let pods = remote.select(&e.pods);
        let facts = remote.facts(&pods, e.reason_contains.is_some()).await;
        match check_pods(&facts, e, &pods) {
            Ok(()) => return Outcome::Pass(String::new()),
            Err(why) if Instant::now() >= end => return Outcome::Fail(why.to_string()),
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}
