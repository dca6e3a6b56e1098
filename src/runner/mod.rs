//! `podlab run`: bring a cluster up from a scenario (or a plain manifest file), apply its
//! manifests, run its steps and checks, show the pods, tear everything down, and report.
//!
//! This file holds the run itself and the plain-manifest path; [`steps`] runs one step,
//! [`expect`] checks expectations, [`exec`] runs `exec` and `connectivity` steps, and
//! [`describe`] narrates.

pub(crate) mod describe;
pub(crate) mod exec;
pub(crate) mod expect;
mod steps;

// Kept at `crate::runner::expand_templates` (its path before the split); no caller outside the
// runner uses it today.
#[allow(unused_imports)]
pub use exec::expand_templates;

use crate::printers;
use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, ClusterOptions, Key, key_of};
use podlab_scenario::{Object, PodSelector, Scenario};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How `run` behaves.
pub struct RunOptions {
    pub model: bool,
    pub explain: bool,
    pub name: Option<String>,
    /// Pause before each narrated step until Enter is pressed (when stdin is a terminal).
    pub lesson: bool,
    /// A lesson's cluster is served while it runs (kubectl, `podlab topology|ui|get`): its API
    /// listener, opened on the machine's loopback before podlab left its network namespace.
    pub serve: Option<podlab_api_server::Loopback>,
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

/// How one step went, with the detail (or the reason) its line shows.
pub(crate) enum Outcome {
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
        say(EXPLAIN_PREAMBLE);
        Some(Arc::new(|cmd: &str| println!("   $ {cmd}")))
    } else {
        None
    };
    let started = Instant::now();
    // A served lesson is reachable by its name, as `podlab up`'s clusters are.
    let run_dir = match opts.serve {
        Some(_) => name.clone(),
        None => format!("{name}-{}", std::process::id()),
    };
    let cluster = Cluster::up(
        ClusterOptions::for_scenario(spec, &name, run_dir, opts.model, explain)?,
        &|line| say(&format!(" ✓ {line}")),
    )
    .await?;
    say(&format!(" ✓ Cluster up in {} ms", started.elapsed().as_millis()));
    let _served = match opts.serve {
        Some(api) => {
            let served = crate::daemon::expose(&cluster, &name, api)?;
            say(&format!(
                "   While the lesson waits, look at it: podlab topology --cluster {name} | podlab ui --cluster {name} | \
                 kubectl --kubeconfig {} get pods -o wide",
                served.kubeconfig.display()
            ));
            Some(served)
        }
        None => None,
    };
    let result = tokio::select! {
        r = drive(&cluster, &scenario, opts.lesson) => r,
        _ = tokio::signal::ctrl_c() => {
            say("\nInterrupted: tearing the cluster down ...");
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    show_pods(&cluster);
    let t = Instant::now();
    cluster.down().await;
    say(&format!(
        "Deleted cluster \"{}\" ({} ms)",
        cluster.name,
        t.elapsed().as_millis()
    ));
    let report = result?;
    say_summary(&report);
    Ok(report)
}

/// The last line of a run: `PASS: 3 passed, 0 failed, 1 skipped`.
pub(crate) fn say_summary(report: &Report) {
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
}

/// The pods at the end of a run, as `kubectl get pods -o wide` shows them (the first 30).
fn show_pods(cluster: &Cluster) {
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
}

fn sorted(mut pods: Vec<Pod>) -> Vec<Pod> {
    pods.sort_by_key(key_of);
    pods
}

/// What `--explain` prints first: the lines below rebuild the cluster by hand, and pasted into
/// the machine's own shell they would add `podlab0` and 172.18.0.1/16 to its network; this
/// opens a scratch shell whose network and named namespaces go away with it.
const EXPLAIN_PREAMBLE: &str =
    "   # podlab builds all this in network namespaces of its own. To replay it by hand without
   # touching this machine's network, first open a scratch shell (no sudo needed: you are root
   # in a user namespace of your own there); `exit` removes it all:
   $ unshare --user --map-root-user --net --mount --propagation private --fork bash
   $ mkdir -p /run/netns && mount -t tmpfs podlab-scratch /run/netns";

/// Apply the scenario's manifests, then run its steps (or wait for a plain manifest's pods).
async fn drive(cluster: &Arc<Cluster>, scenario: &Scenario, lesson: bool) -> Result<Report> {
    use std::io::IsTerminal;
    let pause = lesson && std::io::stdin().is_terminal();
    if lesson && !pause {
        say(
            "note: --lesson cannot pause here: standard input is not a terminal, so the steps run straight through (run it in a terminal to pause before each narrated step)",
        );
    }
    let mut report = Report::default();
    let n = apply_all(cluster, &scenario.manifests)?;
    say(&format!(" ✓ Applied {n} object(s)"));
    if scenario.plain_manifest {
        return plain_manifest(cluster, expected_pods(&scenario.manifests)).await;
    }
    for (i, step) in scenario.steps.iter().enumerate() {
        if let Some(text) = &step.say {
            // The cluster holds still while the learner reads (reconcilers would otherwise
            // repair what the lesson just broke before the next step shows it).
            cluster.hold(pause);
            describe::narrate(text, pause).await;
            cluster.hold(false);
        }
        let t = Instant::now();
        let outcome = steps::run_step(cluster, step).await;
        describe::report_step(&mut report, i, step, outcome, t.elapsed().as_millis());
    }
    Ok(report)
}

/// How many pods a plain manifest file makes (a controller's replicas count, default 1).
fn expected_pods(manifests: &[Object]) -> usize {
    manifests
        .iter()
        .map(|o| match o {
            Object::Pod(_) => 1,
            Object::Namespace(_) | Object::ConfigMap(_) | Object::Secret(_) => 0,
            Object::Deployment(d) => d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as usize,
            Object::ReplicaSet(r) => r.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0) as usize,
        })
        .sum()
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
            all && n >= expected && c.workloads_caught_up()
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
pub(crate) fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

pub(crate) fn phase(p: &Pod) -> String {
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

/// The pods a selector picks, sorted by namespace/name.
pub fn select(cluster: &Cluster, sel: &PodSelector) -> Vec<Pod> {
    sorted(cluster.pods()).into_iter().filter(|p| selects(sel, p)).collect()
}

/// Whether `p` is one of the pods `sel` names (`All`: every pod).
pub(crate) fn selects(sel: &PodSelector, p: &Pod) -> bool {
    match sel {
        PodSelector::All => true,
        PodSelector::Names { namespace, names } => {
            let (ns, name) = key_of(p);
            &ns == namespace && names.contains(&name)
        }
        PodSelector::Labels { namespace, selector } => {
            namespace.as_ref().is_none_or(|ns| &key_of(p).0 == ns)
                && selector.matches(&p.metadata.labels.clone().unwrap_or_default())
        }
    }
}
