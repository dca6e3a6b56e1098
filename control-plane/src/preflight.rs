//! Before building anything on the kernel dataplane: what a scenario needs (network
//! namespaces, processes, open files, neighbour entries, pod addresses) against what this
//! machine allows, so a cluster too big for it is refused with the limit named, the figure
//! needed and the figure available, instead of failing half-built.

use podlab_scenario::{Object, Scenario};
use std::fmt;

/// One limit a scenario would go past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shortfall {
    /// The machine's setting, as it is named (`kernel.pid_max`, `RLIMIT_NOFILE`, ...).
    pub limit: String,
    /// What the scenario needs.
    pub needed: u64,
    /// What the machine allows.
    pub available: u64,
    /// What is counted.
    pub what: String,
}

impl fmt::Display for Shortfall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: this scenario needs {} {} but the machine allows {}",
            self.limit, self.needed, self.what, self.available
        )
    }
}

/// What a scenario would make in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// Pods (bare pods plus the replicas of Deployments and ReplicaSets).
    pub pods: u64,
    /// Containers of those pods.
    pub containers: u64,
    /// Nodes.
    pub nodes: u64,
    /// Pods the busiest node would hold if they spread evenly.
    pub pods_per_node: u64,
}

/// Counts what `scenario` asks for.
pub fn needs(scenario: &Scenario) -> Needs {
    let mut n = Needs {
        nodes: scenario.cluster.nodes.len() as u64,
        ..Default::default()
    };
    for obj in &scenario.manifests {
        let (replicas, containers) = match obj {
            Object::Pod(p) => (1, p.spec.as_ref().map_or(1, |s| s.containers.len())),
            Object::Deployment(d) => {
                let s = d.spec.as_ref();
                let c = s
                    .and_then(|s| s.template.spec.as_ref())
                    .map_or(1, |s| s.containers.len());
                (s.and_then(|s| s.replicas).unwrap_or(1).max(0) as u64, c)
            }
            Object::ReplicaSet(r) => {
                let s = r.spec.as_ref();
                let c = s
                    .and_then(|s| s.template.as_ref()?.spec.as_ref())
                    .map_or(1, |s| s.containers.len());
                (s.and_then(|s| s.replicas).unwrap_or(1).max(0) as u64, c)
            }
            Object::Namespace(_) | Object::ConfigMap(_) | Object::Secret(_) => (0, 0),
        };
        n.pods += replicas;
        n.containers += replicas * containers as u64;
    }
    n.pods_per_node = n.pods.div_ceil(n.nodes.max(1));
    n
}

fn read_number(path: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The machine's limits that matter, read now (`None`: cannot be read, not checked).
fn limits() -> Vec<(&'static str, Option<u64>)> {
    // The soft limits of this process, as /proc/self/limits shows them ("Max open files  1024  ...").
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = |name: &str, field: usize| {
        limits
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(field)?.parse().ok())
    };
    let nofile = soft("Max open files", 3);
    // Counted per user, and not enforced on root: it binds a rootless podlab.
    let nproc = soft("Max processes", 2).filter(|_| podlab_node_agent::userns::outside_uid() != 0);
    vec![
        ("kernel.pid_max", read_number("/proc/sys/kernel/pid_max")),
        ("kernel.threads-max", read_number("/proc/sys/kernel/threads-max")),
        ("RLIMIT_NPROC (ulimit -u)", nproc),
        (
            "user.max_net_namespaces",
            read_number("/proc/sys/user/max_net_namespaces"),
        ),
        (
            "user.max_uts_namespaces",
            read_number("/proc/sys/user/max_uts_namespaces"),
        ),
        (
            "user.max_ipc_namespaces",
            read_number("/proc/sys/user/max_ipc_namespaces"),
        ),
        (
            "user.max_mnt_namespaces",
            read_number("/proc/sys/user/max_mnt_namespaces"),
        ),
        (
            "user.max_pid_namespaces",
            read_number("/proc/sys/user/max_pid_namespaces"),
        ),
        ("RLIMIT_NOFILE (ulimit -n)", nofile),
    ]
}

/// Every limit the scenario would go past on the kernel dataplane (empty: it fits), against the
/// machine's limits now; the pod address range is checked too (a node's share of the pod
/// range holds its pods, less the network, gateway and broadcast addresses).
pub fn check(scenario: &Scenario) -> Vec<Shortfall> {
    let n = needs(scenario);
    // Per pod: one pause process holding net+UTS+IPC, its containers; per node: a pause
    // process (net+UTS); podlab itself: the zygote, the spawner and a few threads. Descriptors
    // (measured at 500-5000 pods): 1 per pod (the pause process's pidfd; its namespaces are
    // opened when needed), none per running container (its end comes from the reaper, its
    // log is a file only it holds open), ~16 per node (netlink sockets in the node's
    // namespace, its pidfd and namespace), and ~260 of podlab's own (up to 64 containers
    // being readied with 3 each, listeners, the runtime).
    let processes = n.pods + n.containers + n.nodes + 16;
    let mut out = Vec::new();
    for (limit, available) in limits() {
        let Some(available) = available else { continue };
        let (needed, what) = match limit {
            "kernel.pid_max" | "kernel.threads-max" => (
                processes,
                "processes (a pause process per pod and node, one per container)",
            ),
            "user.max_net_namespaces" | "user.max_uts_namespaces" => {
                (n.pods + n.nodes + 1, "namespaces (one per pod and node)")
            }
            "user.max_ipc_namespaces" => (n.pods, "IPC namespaces (one per pod)"),
            "user.max_mnt_namespaces" | "user.max_pid_namespaces" => {
                (n.containers + 1, "mount and PID namespaces (one of each per container)")
            }
            "RLIMIT_NPROC (ulimit -u)" => (
                processes + 64,
                "processes and threads of this user (a pause process per pod and node, one per container, podlab's threads)",
            ),
            _ => (n.pods + n.nodes * 16 + 260, "open files (1 per pod, 16 per node)"),
        };
        if needed > available {
            out.push(Shortfall {
                limit: limit.into(),
                needed,
                available,
                what: what.into(),
            });
        }
    }
    let prefix = u32::from(scenario.cluster.node_cidr_prefix.min(32));
    let per_node = (1u64 << (32 - prefix)).saturating_sub(3);
    if n.pods_per_node > per_node {
        out.push(Shortfall {
            limit: format!("cluster.nodeCIDRPrefix /{prefix}"),
            needed: n.pods_per_node,
            available: per_node,
            what: "pod addresses on the busiest node".into(),
        });
    }
    out
}

/// The message for a refused scenario.
pub fn refusal(shortfalls: &[Shortfall]) -> String {
    let lines: Vec<String> = shortfalls.iter().map(|s| format!("  - {s}")).collect();
    format!(
        "this scenario does not fit this machine on the kernel dataplane; nothing was built:\n{}\n\
         Run it with `--dataplane model` (addresses, routes and scheduling computed, nothing in the kernel), \
         or pin `cluster.dataplane: model` in the scenario. podlab never changes the machine's limits.",
        lines.join("\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shortfall_names_the_limit_and_both_figures() {
        let s = Shortfall {
            limit: "kernel.pid_max".into(),
            needed: 40_016,
            available: 32_768,
            what: "processes".into(),
        };
        let text = refusal(&[s]);
        assert!(text.contains("kernel.pid_max: this scenario needs 40016 processes but the machine allows 32768"));
        assert!(text.contains("--dataplane model"));
    }
}
