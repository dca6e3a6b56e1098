//! `podlab run --context NAME FILE`: a scenario's Kubernetes steps (apply, wait, expect, exec,
//! connectivity checked through exec, delete, sleep) against the Kubernetes API of a kubeconfig
//! context, through the `kube` crate: podlab's own API, a kind cluster, a real cluster. The
//! scenario's `cluster:` part is not built (the steps run on the cluster as it is); steps that
//! need podlab's own kernel view are reported as skipped, and what the run applied is deleted
//! at the end.
//!
//! This file connects and drives the run; [`view`] keeps a watch-fed view of the pods and
//! reads events, logs and nodes; [`steps`] runs one step; [`exec`] runs commands through the
//! pods/exec subresource and the connectivity check built on them.

mod exec;
mod steps;
mod view;

use crate::printers;
use crate::runner::{Report, describe, say, say_summary};
use anyhow::{Context, Result};
use kube::config::{KubeConfigOptions, Kubeconfig};
use podlab_scenario::{Action, Object, PodSelector, Scenario, Step};
use std::time::{Duration, Instant};
use view::Remote;

/// Why a step is skipped with `--context`.
pub const KERNEL_ONLY: &str = "needs podlab's own cluster: --context runs only the Kubernetes steps";

/// A client for context `context` of the user's kubeconfig (`KUBECONFIG`, else `~/.kube/config`).
async fn client_for(context: &str) -> Result<(kube::Client, String)> {
    let kubeconfig = Kubeconfig::read().context("reading the kubeconfig (KUBECONFIG or ~/.kube/config)")?;
    if !kubeconfig.contexts.iter().any(|c| c.name == context) {
        let known: Vec<&str> = kubeconfig.contexts.iter().map(|c| c.name.as_str()).collect();
        anyhow::bail!(
            "no context {context:?} in the kubeconfig (contexts: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    }
    let options = KubeConfigOptions {
        context: Some(context.to_string()),
        ..Default::default()
    };
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .with_context(|| format!("loading context {context:?}"))?;
    let server = config.cluster_url.to_string();
    let client = kube::Client::try_from(config).with_context(|| format!("making a client for {server}"))?;
    Ok((client, server))
}

/// Run a loaded scenario's Kubernetes steps against context `context`.
pub async fn run(scenario: Scenario, context: &str, lesson: bool) -> Result<Report> {
    let (client, server) = client_for(context).await?;
    say(&format!(
        "Running \"{}\" against context \"{context}\" ({server}) ...",
        scenario.name
    ));
    let version = client
        .apiserver_version()
        .await
        .with_context(|| format!("asking {server} for its version"))?;
    say(&format!(
        " ✓ Kubernetes {} (the scenario's cluster: part is not built)",
        version.git_version
    ));
    let remote = Remote::connect(client, namespaces(&scenario)).await?;
    let result = tokio::select! {
        r = drive(&remote, &scenario, lesson) => r,
        _ = tokio::signal::ctrl_c() => {
            say("\nInterrupted: deleting what the run applied ...");
            Err(anyhow::anyhow!("interrupted"))
        }
    };
    let pods = remote.select(&PodSelector::All);
    if !pods.is_empty() {
        say("");
        print!("{}", printers::pods_table(&pods, true, false));
    }
    let n = remote.delete_applied().await;
    say(&format!("Deleted {n} object(s) the run applied"));
    let report = result?;
    say_summary(&report);
    Ok(report)
}

/// Apply the manifests, then run the steps (or, for a plain manifest, wait for its pods).
async fn drive(remote: &Remote, scenario: &Scenario, lesson: bool) -> Result<Report> {
    use std::io::IsTerminal;
    let pause = lesson && std::io::stdin().is_terminal();
    let mut report = Report::default();
    let n = remote.apply_all(&scenario.manifests).await?;
    say(&format!(" ✓ Applied {n} object(s)"));
    let plain = [Step {
        name: Some("the manifest's pods are Running".into()),
        say: None,
        action: Action::Wait {
            pods: PodSelector::All,
            phase: "Running".into(),
            timeout: Duration::from_secs(60),
        },
        line: 1,
    }];
    let steps = if scenario.plain_manifest {
        &plain[..]
    } else {
        &scenario.steps[..]
    };
    for (i, step) in steps.iter().enumerate() {
        if let Some(text) = &step.say {
            describe::narrate(text, pause).await;
        }
        let t = Instant::now();
        let outcome = steps::run_step(remote, step).await;
        describe::report_step(&mut report, i, step, outcome, t.elapsed().as_millis());
    }
    Ok(report)
}

/// The namespaces the scenario's objects live in (`default` always): `pods: all` means the
/// pods there, not every pod of a shared cluster.
fn namespaces(scenario: &Scenario) -> Vec<String> {
    let mut out = vec!["default".to_string()];
    let applied = scenario.steps.iter().filter_map(|s| match &s.action {
        Action::Apply(objs) => Some(objs),
        _ => None,
    });
    for obj in std::iter::once(&scenario.manifests).chain(applied).flatten() {
        let ns = match obj {
            Object::Namespace(n) => n.metadata.name.clone(),
            o => o.metadata().namespace.clone(),
        };
        if let Some(ns) = ns
            && !out.contains(&ns)
        {
            out.push(ns);
        }
    }
    out
}
