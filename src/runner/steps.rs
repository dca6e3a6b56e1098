//! Running one scenario step: apply, sleep, delete, wait, expect (retried until it holds or
//! times out), exec and connectivity (skipped on the model dataplane).

use super::exec::{connectivity, exec_step};
use super::expect::{check_expectation, why_not};
use super::{Outcome, apply_all, phase, pod_ready, select};
use podlab_control_plane::{Cluster, key_of};
use podlab_scenario::{Action, Expectation, PodSelector, Step};
use std::sync::Arc;
use std::time::Duration;

/// Run one step and say how it went.
pub(super) async fn run_step(cluster: &Arc<Cluster>, step: &Step) -> Outcome {
    match &step.action {
        Action::Apply(objs) => match apply_all(cluster, objs) {
            Ok(n) => Outcome::Pass(format!("{n} object(s) applied")),
            Err(e) => Outcome::Fail(e.to_string()),
        },
        Action::Sleep(d) => {
            tokio::time::sleep(*d).await;
            Outcome::Pass(String::new())
        }
        Action::Delete { pods } => delete(cluster, pods).await,
        Action::Wait {
            pods,
            phase: want,
            timeout,
        } => wait(cluster, pods, want, *timeout).await,
        Action::Expect(e) => expect(cluster, e).await,
        Action::Exec {
            pod,
            namespace,
            container,
            command,
            expect_exit_code,
            expect_output,
            timeout,
        } => {
            if cluster.is_model() {
                return Outcome::Skip("model dataplane runs no processes".into());
            }
            exec_step(
                cluster,
                (namespace.clone(), pod.clone()),
                container.as_deref(),
                command,
                *expect_exit_code,
                expect_output.as_deref(),
                *timeout,
            )
            .await
        }
        Action::Connectivity {
            pods,
            port,
            expect_reachable,
            timeout,
        } => {
            if cluster.is_model() {
                return Outcome::Skip("model dataplane sends no packets".into());
            }
            connectivity(cluster, pods, *port, *expect_reachable, *timeout).await
        }
    }
}

/// Delete every selected pod.
async fn delete(cluster: &Arc<Cluster>, pods: &PodSelector) -> Outcome {
    let mut msgs = Vec::new();
    for p in select(cluster, pods) {
        match cluster.delete_pod(&key_of(&p)).await {
            Ok(m) => msgs.push(m.to_string()),
            Err(e) => return Outcome::Fail(e.kubectl_message()),
        }
    }
    if msgs.is_empty() {
        Outcome::Fail("no pod matched".into())
    } else {
        Outcome::Pass(msgs.join("\n"))
    }
}

/// Wait until every selected pod is in phase `want`; on a timeout, say why each late one is not.
async fn wait(cluster: &Arc<Cluster>, pods: &PodSelector, want: &str, timeout: Duration) -> Outcome {
    let ok = cluster
        .wait_for(timeout, |c| {
            let sel = select(c, pods);
            // "Running" also waits for Ready (1/1 in kubectl's READY column): a built-in
            // server is Ready once it listens, so the next step can talk to it.
            !sel.is_empty()
                && c.workloads_caught_up()
                && sel
                    .iter()
                    .all(|p| phase(p) == want && (want != "Running" || pod_ready(p)))
        })
        .await;
    if ok {
        Outcome::Pass(String::new())
    } else {
        let sel = select(cluster, pods);
        if sel.is_empty() {
            return Outcome::Fail("no pod matched".into());
        }
        let late: Vec<String> = sel
            .iter()
            .filter(|p| phase(p) != want)
            .map(|p| format!("{} is {} ({})", key_of(p).1, phase(p), why_not(cluster.as_ref(), p)))
            .collect();
        Outcome::Fail(format!("after {}s: {}", timeout.as_secs(), late.join("; ")))
    }
}

/// Check an expectation until it holds, for up to 10 s; fail with the last thing that was off.
async fn expect(cluster: &Arc<Cluster>, e: &Expectation) -> Outcome {
    let timeout = Duration::from_secs(10);
    let mut last = String::new();
    let ok = cluster
        .wait_for(timeout, |c| match check_expectation(c, e) {
            Ok(()) => true,
            Err(why) => {
                last = why.to_string();
                false
            }
        })
        .await;
    if ok {
        Outcome::Pass(String::new())
    } else {
        Outcome::Fail(last)
    }
}
