//! Steps that run something inside the cluster: `exec` in a pod's or a node's namespaces (with
//! `{{ip:POD}}` / `{{node-ip:NODE}}` templates filled in) and `connectivity` between pods.

use super::{Outcome, select};
use crate::printers;
use crate::probe;
use anyhow::{Result, anyhow, bail};
use podlab_control_plane::{Cluster, Key, key_of};
use podlab_scenario::PodSelector;
use std::sync::Arc;
use std::time::Duration;

/// Replace `{{ip:POD}}` / `{{ip:NS/POD}}` and `{{node-ip:NODE}}` in a command with live addresses.
pub fn expand_templates(cluster: &Cluster, default_ns: &str, arg: &str) -> Result<String> {
    expand_templates_with(
        default_ns,
        arg,
        &|ns, name| {
            cluster
                .pod(&(ns.to_string(), name.to_string()))
                .and_then(|p| p.status.and_then(|s| s.pod_ip))
        },
        &|node| cluster.node(node).map(|n| n.addr.node_ip.to_string()),
    )
}

/// [`expand_templates`] with the addresses looked up by `pod_ip(namespace, name)` and
/// `node_ip(node)` (`podlab run --context` asks a Kubernetes API).
pub(crate) fn expand_templates_with(
    default_ns: &str,
    arg: &str,
    pod_ip: &dyn Fn(&str, &str) -> Option<String>,
    node_ip: &dyn Fn(&str) -> Option<String>,
) -> Result<String> {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let inner = rest[start + 2..start + end].trim();
        let value = if let Some(pod) = inner.strip_prefix("ip:") {
            let (ns, name) = pod.trim().split_once('/').unwrap_or((default_ns, pod.trim()));
            pod_ip(ns, name).ok_or_else(|| anyhow!("{{{{ip:{pod}}}}}: pod {ns}/{name} has no IP (yet)"))?
        } else if let Some(node) = inner.strip_prefix("node-ip:") {
            node_ip(node.trim()).ok_or_else(|| anyhow!("no node {node}"))?
        } else {
            bail!("unknown template {{{{{inner}}}}} (use {{{{ip:POD}}}} or {{{{node-ip:NODE}}}})");
        };
        out.push_str(&value);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

use podlab_node_agent::ExecTarget;

/// Where `exec` runs for `node/NAME`: the node's namespaces, the machine's PATH.
fn node_target(cluster: &Cluster, node: &str) -> Result<ExecTarget> {
    match cluster.node_exec_target(node) {
        Ok(t) => Ok(t),
        Err(podlab_control_plane::ExecError::Api(_)) => Err(anyhow!("no node {node}")),
        Err(e) => Err(e.into()),
    }
}

/// Where `exec` runs for a pod: its sandbox, with the container's environment.
fn pod_target(cluster: &Cluster, key: &Key, container: Option<&str>) -> Result<ExecTarget> {
    use podlab_control_plane::ExecError;
    use podlab_node_agent::TargetError;
    match cluster.pod_exec_target(key, container) {
        Ok(t) => Ok(t),
        Err(ExecError::Api(e)) => Err(anyhow!(e.kubectl_message())),
        Err(ExecError::Target(TargetError::NoSandbox { pod })) => Err(anyhow!(
            "pod {} has no running sandbox (it is {})",
            key.1,
            printers::pod_status_reason(&pod)
        )),
        Err(ExecError::Target(e @ TargetError::NotRunning { .. })) => Err(anyhow!(e)),
        Err(ExecError::Target(_)) => Err(anyhow!(
            "container {} is not valid for pod {}",
            container.unwrap_or_default(),
            key.1
        )),
    }
}

/// Run one `exec` step and judge its exit code and output.
pub(super) async fn exec_step(
    cluster: &Arc<Cluster>,
    key: Key,
    container: Option<&str>,
    command: &[String],
    expect_code: i32,
    expect_output: Option<&str>,
    timeout: Duration,
) -> Outcome {
    let target = match key.1.strip_prefix("node/") {
        Some(node) => node_target(cluster, node),
        None => pod_target(cluster, &key, container),
    };
    let target = match target {
        Ok(t) => t,
        Err(e) => return Outcome::Fail(e.to_string()),
    };
    let argv: Result<Vec<String>> = command.iter().map(|a| expand_templates(cluster, &key.0, a)).collect();
    let argv = match argv {
        Ok(a) => a,
        Err(e) => return Outcome::Fail(e.to_string()),
    };
    let expect_output = match expect_output.map(|w| expand_templates(cluster, &key.0, w)).transpose() {
        Ok(w) => w,
        Err(e) => return Outcome::Fail(e.to_string()),
    };
    match podlab_node_agent::exec(&cluster.spawner, &target, &argv, timeout).await {
        Err(e) => Outcome::Fail(format!(
            "could not run {:?}: {e}",
            argv.first().cloned().unwrap_or_default()
        )),
        Ok(out) => judge_exec(
            &out.output,
            out.exit_code,
            out.timed_out,
            expect_code,
            expect_output.as_deref(),
            timeout,
        ),
    }
}

/// Judge a finished `exec` step: its combined output, exit code and whether it timed out,
/// against the expected exit code and output.
pub(crate) fn judge_exec(
    output: &str,
    exit_code: i32,
    timed_out: bool,
    expect_code: i32,
    expect_output: Option<&str>,
    timeout: Duration,
) -> Outcome {
    let shown = output.trim_end().to_string();
    if timed_out {
        return Outcome::Fail(format!(
            "timed out after {}s; output so far:\n{shown}",
            timeout.as_secs()
        ));
    }
    if exit_code != expect_code {
        return Outcome::Fail(format!(
            "exit code {exit_code} (expected {expect_code}); output:\n{shown}"
        ));
    }
    if let Some(want) = expect_output
        && !output.contains(want)
    {
        return Outcome::Fail(format!("output does not contain {want:?}; output:\n{shown}"));
    }
    Outcome::Pass(shown)
}

/// Probe every ordered pair of the selected pods over TCP and check the receiver saw the
/// sender's own pod IP (no NAT), or that nothing connects when that is expected.
pub(super) async fn connectivity(
    cluster: &Arc<Cluster>,
    sel: &PodSelector,
    port: Option<u16>,
    expect: bool,
    timeout: Duration,
) -> Outcome {
    let pods = select(cluster, sel);
    let mut ends = Vec::new();
    for p in &pods {
        let key = key_of(p);
        let found = cluster
            .with_entry(&key, |e| Some((e.sandbox.clone()?, e.net.as_ref()?.ip)))
            .flatten();
        match found {
            Some((sb, ip)) => ends.push((key.1.clone(), sb, ip)),
            None => {
                return Outcome::Fail(format!(
                    "pod {} has no network (it is {})",
                    key.1,
                    printers::pod_status_reason(p)
                ));
            }
        }
    }
    if ends.len() < 2 {
        return Outcome::Fail(format!("need at least 2 pods, {} matched", ends.len()));
    }
    let ends = Arc::new(ends);
    let work = ends.clone();
    let results = tokio::task::spawn_blocking(move || {
        let mut res = Vec::new();
        for (a, sa, ipa) in work.iter() {
            for (b, sb, ipb) in work.iter() {
                if a == b {
                    continue;
                }
                let r = match (sa.netns(), sb.netns(), port) {
                    (Ok(na), _, Some(port)) => probe::probe_port(&na, *ipb, port, timeout),
                    (Ok(na), Ok(nb), None) => probe::probe_listener(&na, &nb, *ipb, timeout),
                    (Err(e), _, _) | (_, Err(e), None) => podlab_netplugin::probe::ProbeResult::failed(e),
                };
                res.push((a.clone(), *ipa, b.clone(), *ipb, r));
            }
        }
        res
    })
    .await
    .unwrap_or_default();
    let mut problems = Vec::new();
    let mut rtts = Vec::new();
    for (a, ipa, b, ipb, r) in &results {
        if expect {
            if !r.ok {
                problems.push(format!(
                    "{a} ({ipa}) -> {b} ({ipb}): {}",
                    r.error.clone().unwrap_or_default()
                ));
            } else if let Some(seen) = r.seen_source {
                if seen != *ipa {
                    problems.push(format!(
                        "{a} -> {b}: receiver saw source {seen}, not {a}'s pod IP {ipa} (NAT?)"
                    ));
                }
            } else if port.is_none() {
                problems.push(format!("{a} -> {b}: receiver could not tell the source address"));
            }
            if let Some(t) = r.rtt {
                rtts.push(t);
            }
        } else if r.ok {
            problems.push(format!(
                "{a} ({ipa}) -> {b} ({ipb}) connected, but was expected to fail"
            ));
        }
    }
    if !problems.is_empty() {
        return Outcome::Fail(problems.join("\n"));
    }
    let seen_checked = results.iter().filter(|r| r.4.seen_source.is_some()).count();
    let mut detail = format!(
        "{} of {} ordered pod pairs {}",
        results.len(),
        results.len(),
        if expect {
            "connected over TCP"
        } else {
            "failed to connect, as expected"
        }
    );
    if expect && seen_checked > 0 {
        detail.push_str(&format!(
            "; in {seen_checked} the receiver saw the sender's own pod IP (no NAT)"
        ));
    }
    if let Some(max) = rtts.iter().max() {
        detail.push_str(&format!("; slowest connect {:.2} ms", max.as_secs_f64() * 1000.0));
    }
    Outcome::Pass(detail)
}
