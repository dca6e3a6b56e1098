//! kubectl-shaped output: `get pods` tables (`-o wide`), `describe pod`, events, and the
//! STATUS / AGE / RESTARTS columns computed the way kubectl computes them.

//!
//! # Layout
//!
//! - this file: the table renderer, ages, the pod columns (READY, STATUS, RESTARTS) computed as
//!   kubectl computes them, `get pods` rows, events.
//! - [`describe_pod`]: `describe pod` (init containers, probes, resources, QoS class).
//! - [`objects`]: `get` for nodes, Deployments, ReplicaSets, namespaces and events; YAML/JSON
//!   and `-o name`.
//! - [`describe_node`]: `describe node`, with podlab's namespaces and routes.
//! - [`describe_config`]: `describe configmap` and `describe secret` (sizes, never values).
//! - [`cells`]: each kind's columns (kube-apiserver's server-side printing) and cells.

mod allocated;
pub mod cells;
pub mod describe_config;
pub mod describe_node;
pub mod describe_pod;
pub mod objects;

pub use describe_pod::describe_pod;

/// A rendering that could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PrintError {
    /// The object could not be turned into JSON.
    #[error("rendering JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The object could not be turned into YAML.
    #[error("rendering YAML: {0}")]
    Yaml(String),
}

use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// Render rows as kubectl does: uppercase headers, no borders, columns 3 spaces apart.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

/// Seconds since `t`.
pub fn age_secs(t: Option<&Time>) -> i64 {
    let Some(t) = t else { return 0 };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    (now - t.0.as_second()).max(0)
}

/// kubectl's HumanDuration.
pub fn human_duration(secs: i64) -> String {
    let (m, h, d) = (secs / 60, secs / 3600, secs / 86400);
    if secs < 120 {
        format!("{secs}s")
    } else if m < 10 {
        if secs % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", secs % 60)
        }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        }
    } else if h < 48 {
        format!("{h}h")
    } else if h < 24 * 8 {
        if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        }
    } else {
        format!("{d}d")
    }
}

/// The STATUS column, as kubectl's printPod computes it.
pub fn pod_status_reason(pod: &Pod) -> String {
    let st = pod.status.clone().unwrap_or_default();
    let mut reason = st
        .reason
        .clone()
        .unwrap_or_else(|| st.phase.clone().unwrap_or_else(|| "Pending".into()));
    let mut initializing = false;
    let inits = st.init_container_statuses.clone().unwrap_or_default();
    let n_init = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_ref())
        .map(|v| v.len())
        .unwrap_or(0);
    for (i, c) in inits.iter().enumerate() {
        let s = c.state.clone().unwrap_or_default();
        if let Some(t) = &s.terminated {
            if t.exit_code == 0 {
                continue;
            }
            reason = match &t.reason {
                Some(r) if !r.is_empty() => format!("Init:{r}"),
                _ => format!("Init:ExitCode:{}", t.exit_code),
            };
        } else if let Some(w) = s
            .waiting
            .as_ref()
            .and_then(|w| w.reason.clone())
            .filter(|r| r != "PodInitializing")
        {
            reason = format!("Init:{w}");
        } else {
            reason = format!("Init:{i}/{n_init}");
        }
        initializing = true;
        break;
    }
    if !initializing {
        let mut has_running = false;
        for c in st.container_statuses.iter().flatten().rev() {
            let s = c.state.clone().unwrap_or_default();
            if let Some(r) = s
                .waiting
                .as_ref()
                .and_then(|w| w.reason.clone())
                .filter(|r| !r.is_empty())
            {
                reason = r;
            } else if let Some(t) = &s.terminated {
                reason = match &t.reason {
                    Some(r) if !r.is_empty() => r.clone(),
                    _ if t.signal.unwrap_or(0) != 0 => format!("Signal:{}", t.signal.unwrap_or(0)),
                    _ => format!("ExitCode:{}", t.exit_code),
                };
            } else if c.ready && s.running.is_some() {
                has_running = true;
            }
        }
        if reason == "Completed" && has_running {
            reason = "Running".into();
        }
    }
    if pod.metadata.deletion_timestamp.is_some() {
        reason = "Terminating".into();
    }
    reason
}

/// READY column: ready/total containers.
pub fn ready_column(pod: &Pod) -> String {
    let total = pod.spec.as_ref().map(|s| s.containers.len()).unwrap_or(0);
    let ready = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .map(|v| v.iter().filter(|c| c.ready).count())
        .unwrap_or(0);
    format!("{ready}/{total}")
}

/// RESTARTS column, with "(Xs ago)" for the last restart as kubectl shows it.
pub fn restarts_column(pod: &Pod) -> String {
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    let total: i32 = statuses.iter().map(|c| c.restart_count).sum();
    let last = statuses
        .iter()
        .filter_map(|c| {
            c.last_state
                .as_ref()
                .and_then(|l| l.terminated.as_ref())
                .and_then(|t| t.finished_at.clone())
        })
        .max();
    match last {
        Some(t) if total > 0 => format!("{total} ({} ago)", human_duration(age_secs(Some(&t)))),
        _ => total.to_string(),
    }
}

/// `kubectl get pods` (with `wide`: IP and NODE columns too).
pub fn pods_table(pods: &[Pod], wide: bool, with_namespace: bool) -> String {
    let (headers, rows) = pods_rows(pods, wide, with_namespace, false);
    if rows.is_empty() {
        return "No resources found.\n".into();
    }
    table(&headers, &rows)
}

/// Header and rows of `kubectl get pods` (optionally with `--show-labels`).
pub fn pods_rows(
    pods: &[Pod],
    wide: bool,
    with_namespace: bool,
    labels: bool,
) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut headers = vec![];
    if with_namespace {
        headers.push("NAMESPACE");
    }
    headers.extend(["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    if wide {
        headers.extend(["IP", "NODE", "NOMINATED NODE", "READINESS GATES"]);
    }
    if labels {
        headers.push("LABELS");
    }
    let rows = pods
        .iter()
        .map(|p| {
            let mut r = vec![];
            if with_namespace {
                r.push(p.metadata.namespace.clone().unwrap_or_default());
            }
            r.extend([
                p.metadata.name.clone().unwrap_or_default(),
                ready_column(p),
                pod_status_reason(p),
                restarts_column(p),
                human_duration(age_secs(p.metadata.creation_timestamp.as_ref())),
            ]);
            if wide {
                let st = p.status.clone().unwrap_or_default();
                r.push(st.pod_ip.unwrap_or_else(|| "<none>".into()));
                r.push(
                    p.spec
                        .as_ref()
                        .and_then(|s| s.node_name.clone())
                        .unwrap_or_else(|| "<none>".into()),
                );
                r.push("<none>".into());
                r.push("<none>".into());
            }
            if labels {
                r.push(labels_csv(p.metadata.labels.as_ref()));
            }
            r
        })
        .collect();
    (headers, rows)
}

/// Labels as kubectl's LABELS column shows them: `k=v,k2=v2` or `<none>`.
pub fn labels_csv(m: Option<&std::collections::BTreeMap<String, String>>) -> String {
    match m {
        Some(m) if !m.is_empty() => m.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        _ => "<none>".into(),
    }
}

/// The Events section of `describe`.
pub fn events_table(events: &[&Event]) -> String {
    if events.is_empty() {
        return "Events:            <none>\n".into();
    }
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            let count = e.count.unwrap_or(1);
            let age = human_duration(age_secs(e.last_timestamp.as_ref()));
            let age = if count > 1 {
                format!(
                    "{age} (x{count} over {})",
                    human_duration(age_secs(e.first_timestamp.as_ref()))
                )
            } else {
                age
            };
            vec![
                e.type_.clone().unwrap_or_default(),
                e.reason.clone().unwrap_or_default(),
                age,
                e.source.as_ref().and_then(|s| s.component.clone()).unwrap_or_default(),
                e.message.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let headers = ["Type", "Reason", "Age", "From", "Message"];
    let mut all = vec![headers.iter().map(|h| "-".repeat(h.len())).collect::<Vec<_>>()];
    all.extend(rows);
    let mut out = String::from("Events:\n");
    for l in table(&headers, &all).lines() {
        out.push_str("  ");
        out.push_str(l);
        out.push('\n');
    }
    out
}

/// Extra lines podlab adds to `describe pod`: where the pod's namespaces and veth are.
pub struct SandboxInfo {
    /// The pause process holding the pod's namespaces.
    pub pid: i32,
    /// The pod's network namespace, as `net:[inode]`.
    pub netns_inode: String,
    /// The host end of the pod's veth, in the node's namespace.
    pub host_veth: String,
    /// The pod's interface name.
    pub pod_iface: String,
    /// The node the pod runs on.
    pub node: String,
}

pub(crate) fn labels_text(m: Option<&std::collections::BTreeMap<String, String>>, indent: usize) -> String {
    match m {
        Some(m) if !m.is_empty() => m
            .iter()
            .enumerate()
            .map(|(i, (k, v))| {
                if i == 0 {
                    format!("{k}={v}")
                } else {
                    format!("{:indent$}{k}={v}", "")
                }
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => "<none>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_duration_matches_kubectl() {
        assert_eq!(human_duration(5), "5s");
        assert_eq!(human_duration(119), "119s");
        assert_eq!(human_duration(150), "2m30s");
        assert_eq!(human_duration(600), "10m");
        assert_eq!(human_duration(3 * 3600 + 60), "3h1m");
        assert_eq!(human_duration(9 * 3600), "9h");
        assert_eq!(human_duration(3 * 86400), "3d");
    }

    #[test]
    fn table_pads_like_kubectl() {
        let t = table(&["NAME", "READY"], &[vec!["web".into(), "1/1".into()]]);
        assert_eq!(t, "NAME   READY\nweb    1/1\n");
    }
}
