//! `describe node`'s "Non-terminated Pods" table and "Allocated resources" block, as kubectl
//! 1.32 prints them: each pod's CPU and memory requests and limits, and their totals, with the
//! percentage of the node's allocatable (truncated, as kubectl's `int64(fraction)` does).
//! Requests are the scheduler's `pod_requests` (one implementation of Kubernetes'
//! `PodRequests`); limits go through the same arithmetic.

use k8s_openapi::api::core::v1::{Node, Pod};
use podlab_scheduler::resources::{Resources, node_allocatable, pod_requests};

use super::{age_secs, human_duration};

/// A pod's requests and limits (Kubernetes' `PodRequestsAndLimits`).
fn requests_and_limits(pod: &Pod) -> (Resources, Resources) {
    let requests = pod_requests(pod, false);
    // Limits follow the requests' arithmetic (sum, init maximum, sidecars, overhead): the same
    // pod with its limits as its only resources.
    let mut as_limits = pod.clone();
    if let Some(spec) = as_limits.spec.as_mut() {
        for c in spec
            .init_containers
            .iter_mut()
            .flatten()
            .chain(spec.containers.iter_mut())
        {
            if let Some(r) = c.resources.as_mut() {
                r.requests = None;
            }
        }
        if let Some(r) = spec.resources.as_mut() {
            r.requests = None;
        }
        if !has_limits(spec) {
            spec.overhead = None;
        }
    }
    (requests, pod_requests(&as_limits, false))
}

fn has_limits(spec: &k8s_openapi::api::core::v1::PodSpec) -> bool {
    spec.init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
        .any(|c| {
            c.resources
                .as_ref()
                .and_then(|r| r.limits.as_ref())
                .is_some_and(|l| !l.is_empty())
        })
}

/// Whether memory-like quantities of these pods are written with binary suffixes (`Mi`), as
/// the first one met is; Kubernetes keeps the first operand's format when it adds quantities.
fn binary_style(pods: &[&Pod]) -> bool {
    pods.iter()
        .flat_map(|p| p.spec.iter().flat_map(|s| s.containers.iter()))
        .flat_map(|c| c.resources.iter())
        .flat_map(|r| r.requests.iter().chain(r.limits.iter()))
        .flat_map(|m| m.get("memory"))
        .next()
        .is_none_or(|q| q.0.ends_with('i'))
}

/// CPU in Kubernetes' canonical form: `2`, `250m`, `0`.
fn cpu(milli: i64) -> String {
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// Bytes in Kubernetes' canonical form: `64Mi` (binary) or `128M` (decimal); below 1024 always
/// plain, as `Quantity.String()` prints them.
fn bytes(v: i64, binary: bool) -> String {
    let (base, suffixes): (i64, &[&str]) = if binary && v.abs() >= 1024 {
        (1024, &["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"])
    } else {
        (1000, &["", "k", "M", "G", "T", "P", "E"])
    };
    let (mut n, mut i) = (v, 0);
    while n != 0 && n % base == 0 && i + 1 < suffixes.len() {
        n /= base;
        i += 1;
    }
    format!("{n}{}", suffixes[i])
}

fn percent(part: i64, whole: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        (part as f64 / whole as f64 * 100.0) as i64
    }
}

/// Left-aligned columns, each as wide as its widest cell plus two spaces, every line prefixed
/// by `indent` (what Go's tabwriter does for kubectl); `min0` is the least width of column 0.
fn columns(rows: &[Vec<String>], min0: usize) -> String {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; n];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count() + 2);
        }
    }
    if let Some(w) = widths.first_mut() {
        *w = (*w).max(min0);
    }
    let mut out = String::new();
    for r in rows {
        let mut line = String::new();
        for (i, c) in r.iter().enumerate() {
            if i + 1 == r.len() {
                line.push_str(c);
            } else {
                line.push_str(&format!("{c:<w$}", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The "Non-terminated Pods:" table and the "Allocated resources:" block for `node`, from the
/// pods bound to it (those Failed or Succeeded are left out, as kubectl's field selector does).
pub fn node_resources(node: &Node, pods: &[Pod]) -> String {
    let mut pods: Vec<&Pod> = pods
        .iter()
        .filter(|p| {
            let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
            !matches!(phase, Some("Failed" | "Succeeded"))
        })
        .collect();
    pods.sort_by_key(|p| (p.metadata.namespace.clone(), p.metadata.name.clone()));
    let alloc = node_allocatable(node).resources;
    let binary = binary_style(&pods);
    let mut rows = vec![
        vec!["Non-terminated Pods:".to_string(), format!("({} in total)", pods.len())],
        cells(&[
            "  Namespace",
            "Name",
            "",
            "CPU Requests",
            "CPU Limits",
            "Memory Requests",
            "Memory Limits",
            "Age",
        ]),
        cells(&[
            "  ---------",
            "----",
            "",
            "------------",
            "----------",
            "---------------",
            "-------------",
            "---",
        ]),
    ];
    let (mut req_total, mut lim_total) = (Resources::default(), Resources::default());
    for p in &pods {
        let (req, lim) = requests_and_limits(p);
        rows.push(vec![
            format!("  {}", p.metadata.namespace.as_deref().unwrap_or("default")),
            p.metadata.name.clone().unwrap_or_default(),
            String::new(),
            format!("{} ({}%)", cpu(req.milli_cpu), percent(req.milli_cpu, alloc.milli_cpu)),
            format!("{} ({}%)", cpu(lim.milli_cpu), percent(lim.milli_cpu, alloc.milli_cpu)),
            format!("{} ({}%)", bytes(req.memory, binary), percent(req.memory, alloc.memory)),
            format!("{} ({}%)", bytes(lim.memory, binary), percent(lim.memory, alloc.memory)),
            match p.metadata.creation_timestamp.as_ref() {
                Some(t) => human_duration(age_secs(Some(t))),
                None => "<unknown>".into(),
            },
        ]);
        req_total.add(&req);
        lim_total.add(&lim);
    }
    // The header line has a one-cell row: its text is not a column (as with a tabwriter).
    let mut out = String::new();
    // Column 0 is as wide as kubectl's (its "Container Runtime Version:" sets 30) or wider.
    let w0 = rows.iter().map(|r| r[0].chars().count() + 2).max().unwrap_or(0).max(30);
    out.push_str(&format!("{:<w0$}{}\n", rows[0][0], rows[0][1]));
    out.push_str(&columns(&rows[1..], w0));
    out.push_str("Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n");
    let mut block = vec![
        cells(&["  Resource", "Requests", "Limits"]),
        cells(&["  --------", "--------", "------"]),
    ];
    let pair = |r: String, pr: i64, l: String, pl: i64| vec![format!("{r} ({pr}%)"), format!("{l} ({pl}%)")];
    let mut line = |name: &str, v: Vec<String>| block.push([vec![format!("  {name}")], v].concat());
    line(
        "cpu",
        pair(
            cpu(req_total.milli_cpu),
            percent(req_total.milli_cpu, alloc.milli_cpu),
            cpu(lim_total.milli_cpu),
            percent(lim_total.milli_cpu, alloc.milli_cpu),
        ),
    );
    line(
        "memory",
        pair(
            bytes(req_total.memory, binary),
            percent(req_total.memory, alloc.memory),
            bytes(lim_total.memory, binary),
            percent(lim_total.memory, alloc.memory),
        ),
    );
    line(
        "ephemeral-storage",
        pair(
            bytes(req_total.ephemeral_storage, true),
            percent(req_total.ephemeral_storage, alloc.ephemeral_storage),
            bytes(lim_total.ephemeral_storage, true),
            percent(lim_total.ephemeral_storage, alloc.ephemeral_storage),
        ),
    );
    for (name, total) in alloc.scalar.iter().filter(|(n, _)| n.starts_with("hugepages-")) {
        let (r, l) = (req_total.scalar(name), lim_total.scalar(name));
        line(
            name,
            pair(bytes(r, true), percent(r, *total), bytes(l, true), percent(l, *total)),
        );
    }
    for (name, _) in alloc
        .scalar
        .iter()
        .filter(|(n, _)| !n.starts_with("hugepages-") && n.contains('/'))
    {
        let (r, l) = (req_total.scalar(name), lim_total.scalar(name));
        line(name, vec![r.to_string(), l.to_string()]);
    }
    out.push_str(&columns(&block, 0));
    out
}

fn cells(c: &[&str]) -> Vec<String> {
    c.iter().map(|s| s.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn requests_limits_and_percentages_as_kubectl_prints_them() {
        let node: Node = serde_json::from_value(json!({"metadata": {"name": "worker-1"},
            "status": {"allocatable": {"cpu": "2", "memory": "4Gi", "ephemeral-storage": "100Gi", "pods": "110",
                                       "hugepages-2Mi": "0"}}}))
        .unwrap();
        let pod = |name: &str, res: serde_json::Value, phase: &str| -> Pod {
            serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"},
                "spec": {"containers": [{"name": "c", "image": "nginx", "resources": res}]},
                "status": {"phase": phase}}))
            .unwrap()
        };
        let pods = [
            pod(
                "web",
                json!({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "1", "memory": "128Mi"}}),
                "Running",
            ),
            pod("idle", json!({}), "Pending"),
            pod("done", json!({"requests": {"cpu": "1"}}), "Succeeded"),
        ];
        let text = node_resources(&node, &pods);
        let want = "\
Non-terminated Pods:          (2 in total)
  Namespace                   Name    CPU Requests  CPU Limits  Memory Requests  Memory Limits  Age
  ---------                   ----    ------------  ----------  ---------------  -------------  ---
  default                     idle    0 (0%)        0 (0%)      0 (0%)           0 (0%)         <unknown>
  default                     web     250m (12%)    1 (50%)     64Mi (1%)        128Mi (3%)     <unknown>
Allocated resources:
  (Total limits may be over 100 percent, i.e., overcommitted.)
  Resource           Requests    Limits
  --------           --------    ------
  cpu                250m (12%)  1 (50%)
  memory             64Mi (1%)   128Mi (3%)
  ephemeral-storage  0 (0%)      0 (0%)
  hugepages-2Mi      0 (0%)      0 (0%)
";
        assert_eq!(text, want, "\n{text}");
    }

    #[test]
    fn quantities_print_in_canonical_form() {
        assert_eq!(cpu(1500), "1500m");
        assert_eq!(cpu(3000), "3");
        assert_eq!(bytes(96 * 1024 * 1024, true), "96Mi");
        assert_eq!(bytes(128_000_000, false), "128M");
        assert_eq!(bytes(100, true), "100");
        assert_eq!(bytes(0, true), "0");
    }
}
