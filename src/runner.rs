//! `podlab run`: bring a cluster up from a scenario (or a plain manifest file), apply its
//! manifests, run its steps and checks, show the pods, tear everything down, and report.

use crate::printers;
use crate::probe;
use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, ClusterOptions, Key, key_of};
use podlab_scenario::{Action, Expectation, Object, PodSelector, Scenario, Step};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How `run` behaves.
pub struct RunOptions {
    pub model: bool,
    pub explain: bool,
    pub name: Option<String>,
    /// Pause before each narrated step until Enter is pressed (when stdin is a terminal).
    pub lesson: bool,
}

/// What a run found.
#[derive(Default, Debug)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

impl Report {
    pub fn success(&self) -> bool {
        self.failed == 0
    }
}

enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

pub fn say(line: &str) {
    println!("{line}");
}

/// Run a loaded scenario end to end. Teardown always happens, also on errors.
pub async fn run(scenario: Scenario, opts: RunOptions) -> Result<Report> {
    let mode = if opts.model {
        "model dataplane: simulated, no kernel objects or processes"
    } else {
        "kernel dataplane"
    };
    let spec = &scenario.cluster;
    // The cluster is named after the scenario unless the scenario or the user names it.
    let name = opts.name.clone().unwrap_or_else(|| {
        if spec.name == "podlab" {
            scenario.name.clone()
        } else {
            spec.name.clone()
        }
    });
    say(&format!("Creating cluster \"{name}\" ({mode}) ..."));
    let explain: Option<podlab_netplugin::ExplainSink> = if opts.explain {
        Some(Arc::new(|cmd: &str| println!("   $ {cmd}")))
    } else {
        None
    };
    let started = Instant::now();
    let cluster = Cluster::up(
        ClusterOptions::for_scenario(
            spec,
            &name,
            format!("{name}-{}", std::process::id()),
            opts.model,
            explain,
        )?,
        &|line| say(&format!(" ✓ {line}")),
    )
    .await?;
    say(&format!(" ✓ Cluster up in {} ms", started.elapsed().as_millis()));
    let result = tokio::select! {
        r = drive(&cluster, &scenario, opts.lesson) => r,
        _ = tokio::signal::ctrl_c() => {
            say("\nInterrupted: tearing the cluster down ...");
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    let pods = sorted(cluster.pods());
    if !pods.is_empty() {
        say("");
        const SHOWN: usize = 30;
        print!("{}", printers::pods_table(&pods[..pods.len().min(SHOWN)], true, false));
        if pods.len() > SHOWN {
            let nodes: std::collections::BTreeSet<_> =
                pods.iter().filter_map(|p| p.spec.as_ref()?.node_name.clone()).collect();
            say(&format!(
                "... and {} more pods ({} pods on {} nodes in all)",
                pods.len() - SHOWN,
                pods.len(),
                nodes.len()
            ));
        }
    }
    let t = Instant::now();
    cluster.down().await;
    say(&format!(
        "Deleted cluster \"{}\" ({} ms)",
        cluster.name,
        t.elapsed().as_millis()
    ));
    let report = result?;
    say(&format!(
        "\n{}: {} passed, {} failed{}",
        if report.success() { "PASS" } else { "FAIL" },
        report.passed,
        report.failed,
        if report.skipped > 0 {
            format!(", {} skipped", report.skipped)
        } else {
            String::new()
        }
    ));
    Ok(report)
}

fn sorted(mut pods: Vec<Pod>) -> Vec<Pod> {
    pods.sort_by_key(key_of);
    pods
}

async fn drive(cluster: &Arc<Cluster>, scenario: &Scenario, lesson: bool) -> Result<Report> {
    use std::io::IsTerminal;
    let pause = lesson && std::io::stdin().is_terminal();
    let mut report = Report::default();
    let n = apply_all(cluster, &scenario.manifests)?;
    say(&format!(" ✓ Applied {n} object(s)"));
    if scenario.plain_manifest {
        let expected: usize = scenario
            .manifests
            .iter()
            .map(|o| match o {
                Object::Pod(_) => 1,
                Object::Namespace(_) => 0,
                Object::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as usize,
                Object::ReplicaSet(r) => r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as usize,
            })
            .sum();
        return plain_manifest(cluster, expected).await;
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        if let Some(text) = &step.say {
            say(&format!("\n  » {text}"));
            if pause {
                print!("    [Enter] ");
                let _ = std::io::Write::flush(&mut std::io::stdout());
                let _ = tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)
                })
                .await;
            }
        }
        let t = Instant::now();
        let outcome = run_step(cluster, step).await;
        let title = step.name.clone().unwrap_or_else(|| describe_action(&step.action));
        let ms = t.elapsed().as_millis();
        match outcome {
            Outcome::Pass(detail) => {
                report.passed += 1;
                say(&format!(" ✓ [{}] {title} ({ms} ms){}", i + 1, indent_detail(&detail)));
            }
            Outcome::Fail(why) => {
                report.failed += 1;
                say(&format!(" ✗ [{}] {title} (line {}): {}", i + 1, step.line, why));
            }
            Outcome::Skip(why) => {
                report.skipped += 1;
                say(&format!(" - [{}] {title}: skipped ({why})", i + 1));
            }
        }
    }
    Ok(report)
}

fn indent_detail(d: &str) -> String {
    if d.is_empty() {
        String::new()
    } else {
        format!("\n     {}", d.replace('\n', "\n     "))
    }
}

/// A plain manifest file: wait for its pods, then explain any that did not start.
async fn plain_manifest(cluster: &Arc<Cluster>, expected: usize) -> Result<Report> {
    let timeout = Duration::from_secs(60);
    say(&format!(
        " … Waiting up to {}s for the pods to be Running",
        timeout.as_secs()
    ));
    cluster
        .wait_for(timeout, |c| {
            let (all, n) = c.all_pods(|p| {
                let phase = phase(p);
                (phase == "Running" && pod_ready(p)) || phase == "Succeeded" || phase == "Failed" || stuck(p)
            });
            all && n >= expected
        })
        .await;
    let mut report = Report::default();
    let found = cluster.pods().len();
    if found < expected {
        report.failed += expected - found;
        say(&format!(" ✗ expected {expected} pod(s), only {found} exist"));
    }
    for p in sorted(cluster.pods()) {
        if phase(&p) == "Running" && !stuck(&p) {
            report.passed += 1;
        } else {
            report.failed += 1;
            let name = p.metadata.name.clone().unwrap_or_default();
            say(&format!(
                "\n ✗ pod/{name} is {}: here is what `kubectl describe pod {name}` would show:\n",
                printers::pod_status_reason(&p)
            ));
            let info = sandbox_info(cluster, &key_of(&p));
            print!("{}", printers::describe_pod(&p, &cluster.events(), info.as_ref()));
        }
    }
    Ok(report)
}

/// A pod that will not become Running by waiting: unschedulable, image missing, crashing.
fn stuck(p: &Pod) -> bool {
    let reason = printers::pod_status_reason(p);
    let unschedulable = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.reason.as_deref() == Some("Unschedulable")));
    unschedulable
        || [
            "ErrImagePull",
            "ImagePullBackOff",
            "CrashLoopBackOff",
            "Error",
            "StartError",
        ]
        .contains(&reason.as_str())
}

pub fn sandbox_info(cluster: &Cluster, key: &Key) -> Option<printers::SandboxInfo> {
    cluster
        .with_entry(key, |e| {
            let sb = e.sandbox.as_ref()?;
            let net = e.net.as_ref()?;
            let inode = std::fs::read_link(format!("/proc/{}/ns/net", sb.pid()))
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            Some(printers::SandboxInfo {
                pid: sb.pid(),
                netns_inode: inode,
                host_veth: net.host_veth.clone(),
                pod_iface: net.pod_iface.clone(),
                node: e
                    .pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_default(),
            })
        })
        .flatten()
}

/// The pod's Ready condition, as `kubectl wait --for=condition=Ready` sees it.
fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn phase(p: &Pod) -> String {
    p.status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_else(|| "Pending".into())
}

fn apply_all(cluster: &Arc<Cluster>, objects: &[Object]) -> Result<usize> {
    let mut n = 0;
    for obj in objects {
        for line in apply(cluster, obj)? {
            say(&format!("   {line}"));
            n += 1;
        }
    }
    Ok(n)
}

fn apply(cluster: &Arc<Cluster>, obj: &Object) -> Result<Vec<String>> {
    match cluster.apply(obj.clone()) {
        Ok(o) => Ok(vec![o.to_string()]),
        Err(e) => Err(anyhow::anyhow!(e.kubectl_message())),
    }
}

fn describe_action(a: &Action) -> String {
    match a {
        Action::Apply(objs) => format!("apply {} object(s)", objs.len()),
        Action::Wait { pods, phase, timeout } => format!(
            "wait for {} to be {phase} (timeout {}s)",
            selector_text(pods),
            timeout.as_secs()
        ),
        Action::Exec {
            pod,
            container,
            command,
            ..
        } => format!(
            "exec in {pod}{}: {}",
            container.as_ref().map(|c| format!("/{c}")).unwrap_or_default(),
            command.join(" ")
        ),
        Action::Expect(e) => format!("expect {}", expectation_text(e)),
        Action::Connectivity {
            pods,
            port,
            expect_reachable,
            ..
        } => format!(
            "connectivity between {}{}{}",
            selector_text(pods),
            port.map(|p| format!(" on port {p}")).unwrap_or_default(),
            if *expect_reachable { "" } else { " (expected to fail)" }
        ),
        Action::Delete { pods } => format!("delete {}", selector_text(pods)),
        Action::Sleep(d) => format!("sleep {} ms", d.as_millis()),
    }
}

fn selector_text(s: &PodSelector) -> String {
    match s {
        PodSelector::All => "all pods".into(),
        PodSelector::Names { names, .. } => format!("pod {}", names.join(", ")),
        PodSelector::Labels { selector, .. } => format!("pods with labels {selector}"),
    }
}

fn expectation_text(e: &Expectation) -> String {
    let mut parts = vec![selector_text(&e.pods)];
    if let Some(n) = &e.node {
        parts.push(format!("on node {n}"));
    }
    if let Some(s) = e.same_node {
        parts.push(if s {
            "on one node".into()
        } else {
            "not all on one node".into()
        });
    }
    if let Some(n) = e.distinct_nodes {
        parts.push(format!("on {n} distinct node(s)"));
    }
    if let Some(p) = &e.phase {
        parts.push(format!("phase {p}"));
    }
    if let Some(c) = e.count {
        parts.push(format!("count {c}"));
    }
    if let Some(s) = &e.container_state {
        parts.push(format!("container {} {s}", e.container.clone().unwrap_or_default()));
    }
    if let Some(r) = e.restarts_at_least {
        parts.push(format!("restarts >= {r}"));
    }
    if let Some(r) = &e.reason_contains {
        parts.push(format!("reason contains {r:?}"));
    }
    parts.join(", ")
}

/// The pods a selector picks, sorted by namespace/name.
pub fn select(cluster: &Cluster, sel: &PodSelector) -> Vec<Pod> {
    let pods = sorted(cluster.pods());
    match sel {
        PodSelector::All => pods,
        PodSelector::Names { namespace, names } => pods
            .into_iter()
            .filter(|p| {
                let (ns, name) = key_of(p);
                &ns == namespace && names.contains(&name)
            })
            .collect(),
        PodSelector::Labels { namespace, selector } => pods
            .into_iter()
            .filter(|p| namespace.as_ref().is_none_or(|ns| &key_of(p).0 == ns))
            .filter(|p| selector.matches(&p.metadata.labels.clone().unwrap_or_default()))
            .collect(),
    }
}

async fn run_step(cluster: &Arc<Cluster>, step: &Step) -> Outcome {
    match &step.action {
        Action::Apply(objs) => match apply_all(cluster, objs) {
            Ok(n) => Outcome::Pass(format!("{n} object(s) applied")),
            Err(e) => Outcome::Fail(e.to_string()),
        },
        Action::Sleep(d) => {
            tokio::time::sleep(*d).await;
            Outcome::Pass(String::new())
        }
        Action::Delete { pods } => {
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
        Action::Wait {
            pods,
            phase: want,
            timeout,
        } => {
            let ok = cluster
                .wait_for(*timeout, |c| {
                    let sel = select(c, pods);
                    // "Running" also waits for Ready (1/1 in kubectl's READY column): a built-in
                    // server is Ready once it listens, so the next step can talk to it.
                    !sel.is_empty()
                        && sel
                            .iter()
                            .all(|p| &phase(p) == want && (want != "Running" || pod_ready(p)))
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
                    .filter(|p| &phase(p) != want)
                    .map(|p| format!("{} is {} ({})", key_of(p).1, phase(p), why_not(cluster, p)))
                    .collect();
                Outcome::Fail(format!("after {}s: {}", timeout.as_secs(), late.join("; ")))
            }
        }
        Action::Expect(e) => {
            let timeout = Duration::from_secs(10);
            let mut last = String::new();
            let ok = cluster
                .wait_for(timeout, |c| match check_expectation(c, e) {
                    Ok(()) => true,
                    Err(why) => {
                        last = why;
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

/// A short reason a pod is not where it should be: the scheduler's message or a container's.
fn why_not(cluster: &Cluster, p: &Pod) -> String {
    if let Some(c) = p
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.reason.as_deref() == Some("Unschedulable")))
    {
        return c.message.clone().unwrap_or_default();
    }
    let reason = printers::pod_status_reason(p);
    let key = key_of(p);
    let last_warning = cluster
        .events()
        .into_iter()
        .rev()
        .find(|e| e.involved_object.name.as_deref() == Some(key.1.as_str()) && e.type_.as_deref() == Some("Warning"))
        .and_then(|e| e.message);
    match last_warning {
        Some(m) => format!("{reason}: {m}"),
        None => reason,
    }
}

fn check_expectation(cluster: &Cluster, e: &Expectation) -> Result<(), String> {
    let pods = select(cluster, &e.pods);
    if let Some(c) = e.count {
        if pods.len() != c {
            return Err(format!("expected {c} pod(s), found {}", pods.len()));
        }
    } else if pods.is_empty() {
        return Err("no pod matched".into());
    }
    let node_of = |p: &Pod| {
        p.spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_else(|| "<none>".into())
    };
    let nodes: BTreeSet<String> = pods.iter().map(node_of).collect();
    if let Some(n) = &e.node
        && let Some(p) = pods.iter().find(|p| &node_of(p) != n)
    {
        return Err(format!("pod {} is on {}, not {n}", key_of(p).1, node_of(p)));
    }
    if let Some(same) = e.same_node {
        if same && nodes.len() != 1 {
            return Err(format!(
                "pods are spread over {}",
                nodes.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        if !same && nodes.len() < 2 {
            return Err(format!(
                "all pods are on {}",
                nodes.iter().next().cloned().unwrap_or_default()
            ));
        }
    }
    if let Some(d) = e.distinct_nodes
        && nodes.len() != d
    {
        return Err(format!(
            "pods are on {} node(s) ({}), expected {d}",
            nodes.len(),
            nodes.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    for p in &pods {
        let name = key_of(p).1;
        if let Some(want) = &e.phase
            && &phase(p) != want
        {
            return Err(format!(
                "pod {name} is {}, expected {want} ({})",
                phase(p),
                why_not(cluster, p)
            ));
        }
        let statuses = p
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.clone())
            .unwrap_or_default();
        let chosen: Vec<_> = statuses
            .iter()
            .filter(|c| e.container.as_ref().is_none_or(|n| &c.name == n))
            .collect();
        if e.container.is_some() && chosen.is_empty() && (e.container_state.is_some() || e.restarts_at_least.is_some())
        {
            return Err(format!(
                "pod {name} has no container {:?} (yet)",
                e.container.clone().unwrap_or_default()
            ));
        }
        if let Some(want) = &e.container_state {
            for c in &chosen {
                let s = c.state.clone().unwrap_or_default();
                let (kind, reason) = if s.running.is_some() {
                    ("Running", String::new())
                } else if let Some(w) = &s.waiting {
                    ("Waiting", w.reason.clone().unwrap_or_default())
                } else if let Some(t) = &s.terminated {
                    ("Terminated", t.reason.clone().unwrap_or_default())
                } else {
                    ("Unknown", String::new())
                };
                if want != kind && want != &reason {
                    return Err(format!(
                        "container {name}/{} is {kind}{}, expected {want}",
                        c.name,
                        if reason.is_empty() {
                            String::new()
                        } else {
                            format!(" ({reason})")
                        }
                    ));
                }
            }
        }
        if let Some(min) = e.restarts_at_least {
            for c in &chosen {
                if (c.restart_count as u32) < min {
                    return Err(format!(
                        "container {name}/{} restarted {} time(s), expected at least {min}",
                        c.name, c.restart_count
                    ));
                }
            }
        }
        if let Some(text) = &e.reason_contains {
            let mut hay = why_not(cluster, p);
            for ev in cluster.events() {
                if ev.involved_object.name.as_deref() == Some(name.as_str()) {
                    hay.push('\n');
                    hay.push_str(&ev.message.unwrap_or_default());
                }
            }
            for c in &statuses {
                let s = c.state.clone().unwrap_or_default();
                for m in [s.waiting.and_then(|w| w.message), s.terminated.and_then(|t| t.message)]
                    .into_iter()
                    .flatten()
                {
                    hay.push('\n');
                    hay.push_str(&m);
                }
                hay.push('\n');
                hay.push_str(
                    &cluster
                        .with_entry(&key_of(p), |e| {
                            e.handle
                                .as_ref()
                                .and_then(|h| h.logs(Some(&c.name), false))
                                .unwrap_or_default()
                        })
                        .unwrap_or_default(),
                );
            }
            if !hay.contains(text.as_str()) {
                return Err(format!("pod {name}: no reason, event or log mentions {text:?}"));
            }
        }
    }
    Ok(())
}

/// Replace `{{ip:POD}}` / `{{ip:NS/POD}}` and `{{node-ip:NODE}}` in a command with live addresses.
pub fn expand_templates(cluster: &Cluster, default_ns: &str, arg: &str) -> Result<String, String> {
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
            cluster
                .pod(&(ns.to_string(), name.to_string()))
                .and_then(|p| p.status.and_then(|s| s.pod_ip))
                .ok_or_else(|| format!("{{{{ip:{pod}}}}}: pod {ns}/{name} has no IP (yet)"))?
        } else if let Some(node) = inner.strip_prefix("node-ip:") {
            cluster
                .node(node.trim())
                .map(|n| n.addr.node_ip.to_string())
                .ok_or_else(|| format!("no node {node}"))?
        } else {
            return Err(format!(
                "unknown template {{{{{inner}}}}} (use {{{{ip:POD}}}} or {{{{node-ip:NODE}}}})"
            ));
        };
        out.push_str(&value);
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Namespaces and environment an `exec` step runs with.
type ExecTarget = (Arc<podlab_node_agent::Sandbox>, Vec<(String, String)>);

/// Where `exec` runs for `node/NAME`: the node's namespaces, the machine's PATH.
fn node_target(cluster: &Cluster, node: &str) -> Result<ExecTarget, String> {
    match cluster.node_exec_target(node) {
        Ok(t) => Ok((t.sandbox, t.env)),
        Err(podlab_control_plane::ExecError::Api(_)) => Err(format!("no node {node}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Where `exec` runs for a pod: its sandbox, with the container's environment.
fn pod_target(cluster: &Cluster, key: &Key, container: Option<&str>) -> Result<ExecTarget, String> {
    use podlab_control_plane::ExecError;
    use podlab_node_agent::TargetError;
    match cluster.pod_exec_target(key, container) {
        Ok(t) => Ok((t.sandbox, t.env)),
        Err(ExecError::Api(e)) => Err(e.kubectl_message()),
        Err(ExecError::Target(TargetError::NoSandbox { pod })) => Err(format!(
            "pod {} has no running sandbox (it is {})",
            key.1,
            printers::pod_status_reason(&pod)
        )),
        Err(ExecError::Target(_)) => Err(format!(
            "container {} is not valid for pod {}",
            container.unwrap_or_default(),
            key.1
        )),
    }
}

async fn exec_step(
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
    let (sandbox, ctx_env) = match target {
        Ok(t) => t,
        Err(e) => return Outcome::Fail(e),
    };
    let argv: Result<Vec<String>, String> = command.iter().map(|a| expand_templates(cluster, &key.0, a)).collect();
    let argv = match argv {
        Ok(a) => a,
        Err(e) => return Outcome::Fail(e),
    };
    let expect_output = match expect_output.map(|w| expand_templates(cluster, &key.0, w)).transpose() {
        Ok(w) => w,
        Err(e) => return Outcome::Fail(e),
    };
    let cwd = std::env::temp_dir();
    match podlab_node_agent::exec(&cluster.spawner, &sandbox, &argv, ctx_env, cwd, timeout).await {
        Err(e) => Outcome::Fail(format!(
            "could not run {:?}: {e}",
            argv.first().cloned().unwrap_or_default()
        )),
        Ok(out) => {
            let shown = out.output.trim_end().to_string();
            if out.timed_out {
                return Outcome::Fail(format!(
                    "timed out after {}s; output so far:\n{shown}",
                    timeout.as_secs()
                ));
            }
            if out.exit_code != expect_code {
                return Outcome::Fail(format!(
                    "exit code {} (expected {expect_code}); output:\n{shown}",
                    out.exit_code
                ));
            }
            if let Some(want) = &expect_output
                && !out.output.contains(want.as_str())
            {
                return Outcome::Fail(format!("output does not contain {want:?}; output:\n{shown}"));
            }
            Outcome::Pass(shown)
        }
    }
}

async fn connectivity(
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
                let r = match port {
                    Some(port) => probe::probe_port(sa.netns(), *ipb, port, timeout),
                    None => probe::probe_listener(sa.netns(), sb.netns(), *ipb, timeout),
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
    let _ = Ipv4Addr::UNSPECIFIED;
    Outcome::Pass(detail)
}
