//! The sizes of `podlab bench bringup` and what is printed for them: a size (`--sizes
//! 100,1000,5000` gives nodes = pods / 100), the control plane's preflight for it (a size the
//! machine cannot hold is named and not run), each size's block as it is measured, and the
//! table of all sizes with the cost per pod against the smallest size of at least 1000 pods
//! and the targets.

use super::bare_loop::Floor;
use super::footprint::Footprint;
use super::{Reach, ms};
use std::fmt;
use std::time::Duration;

/// Pods per node when nodes follow from pods (`--sizes`).
pub const PODS_PER_NODE: usize = 100;
/// The bars.
const VS_BARE_TARGET: f64 = 1.5;
const VS_REFERENCE_TARGET: f64 = 1.3;
const REFERENCE_PODS: usize = 1000;
const TEARDOWN_TARGET: Duration = Duration::from_secs(10);
const TEARDOWN_TARGET_PODS: usize = 10_000;

/// One size of the benchmark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    pub nodes: usize,
    pub pods: usize,
}

impl Size {
    /// `pods` pods on `pods / 100` nodes (at least one).
    pub fn of_pods(pods: usize) -> Size {
        Size {
            nodes: (pods / PODS_PER_NODE).max(1),
            pods,
        }
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.nodes == 1 { "" } else { "s" };
        write!(f, "{} pods on {} node{s}", self.pods, self.nodes)
    }
}

/// podlab's end-to-end figures at one size.
pub struct Podlab {
    pub pods: usize,
    /// Cluster up, every pod applied, all Running.
    pub total: Duration,
    /// `down` of the whole cluster.
    pub teardown: Duration,
    /// Every pod probed from a pod on another node.
    pub reach: Reach,
    /// The sample of podlab's process tree with the most memory.
    pub peak: Footprint,
    /// One more container's `/sys` before the cluster and with every pod up.
    pub sysfs: SysfsMount,
}

/// What a fresh sysfs superblock (one container's `/sys`) cost the kernel, or why it could
/// not be measured.
pub struct SysfsMount {
    /// Before the cluster was made.
    pub before: Result<Duration, String>,
    /// With every pod Running.
    pub up: Result<Duration, String>,
}

impl SysfsMount {
    /// Its cost per pod over a bring-up: it grows linearly with the sysfs superblocks already
    /// there, so the mean of the first and the last.
    fn mean_ms(&self) -> Option<f64> {
        Some((ms(*self.before.as_ref().ok()?) + ms(*self.up.as_ref().ok()?)) / 2.0)
    }
}

/// Everything measured at one size.
pub struct Measured {
    pub podlab: Podlab,
    /// The bare loop plus a process per pod.
    pub floor: Floor,
    /// podlab's netplugin alone on fresh namespaces.
    pub net: Duration,
}

impl Measured {
    fn per_pod(&self) -> f64 {
        ms(self.podlab.total) / self.podlab.pods.max(1) as f64
    }

    fn vs_bare(&self) -> f64 {
        self.podlab.total.as_secs_f64() / self.floor.total.as_secs_f64().max(1e-9)
    }
}

/// What became of one size.
pub enum Outcome {
    /// The preflight refused it (its message).
    NotRun(String),
    /// It was tried and failed (the error).
    Failed(String),
    Done(Box<Measured>),
}

/// The control plane's preflight for `size` on the kernel dataplane: `None` if it fits, else
/// the refusal's reasons on one line. The preflight reads a scenario; this is the bench's
/// cluster as one: its nodes and a Deployment of `pods` bench pods.
pub fn preflight(size: &Size) -> Option<String> {
    use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
    use k8s_openapi::api::core::v1::PodTemplateSpec;
    let per_node = size.pods.div_ceil(size.nodes) + 1;
    let cluster = podlab_scenario::ClusterSpec {
        nodes: super::options("bench", size.nodes, per_node).nodes,
        ..Default::default()
    };
    let pods = Deployment {
        spec: Some(DeploymentSpec {
            replicas: Some(i32::try_from(size.pods).unwrap_or(i32::MAX)),
            template: PodTemplateSpec {
                spec: super::sleeper(0).spec,
                ..Default::default()
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    let scenario = podlab_scenario::Scenario {
        name: "bench".into(),
        description: None,
        source: "podlab bench bringup".into(),
        plain_manifest: false,
        cluster,
        manifests: vec![podlab_scenario::Object::Deployment(Box::new(pods))],
        steps: vec![],
        compare: None,
    };
    let short = podlab_control_plane::preflight::check(&scenario);
    if short.is_empty() {
        return None;
    }
    let why: Vec<String> = short.iter().map(ToString::to_string).collect();
    Some(why.join("; ").replace("this scenario needs", "needs"))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Prints one size's figures as soon as they are measured.
pub fn print_block(size: &Size, outcome: &Outcome) {
    let m = match outcome {
        Outcome::NotRun(why) => return println!("  not run: {why}\n"),
        Outcome::Failed(why) => return println!("  FAILED: {why}\n"),
        Outcome::Done(m) => m,
    };
    let (p, f, n) = (&m.podlab, &m.floor, size.pods as f64);
    println!(
        "  bring-up to all Running      {} ({:.2} ms/pod); bare loop {} ({:.2} ms/pod): {:.2}x",
        secs(p.total),
        m.per_pod(),
        secs(f.total),
        ms(f.total) / n,
        m.vs_bare()
    );
    println!(
        "  pod network setup alone      {:.2} ms/pod; bare loop {:.2} ms/pod: {:.2}x",
        ms(m.net) / n,
        f.net.ms_per_pod(),
        m.net.as_secs_f64() / f.net.pod_setup.as_secs_f64().max(1e-9)
    );
    match (&p.sysfs.before, &p.sysfs.up, p.sysfs.mean_ms()) {
        (Ok(before), Ok(up), Some(mean)) => println!(
            "  one more container's /sys    {:.0} us with the pods up, {:.0} us before: ~{mean:.2} ms a pod of this bring-up \
             (a fresh sysfs walks every sysfs superblock, one per pod's network namespace, under the kernel's global sb_lock)",
            ms(*up) * 1000.0,
            ms(*before) * 1000.0,
        ),
        (Err(e), _, _) | (_, Err(e), _) => println!("  one more container's /sys    not measured: {e}"),
        _ => {}
    }
    println!("  teardown                     {:.0} ms", ms(p.teardown));
    println!("  pods reachable               {} {}", p.reach, p.reach.from());
    println!(
        "  peak memory, all processes   {} PSS: podlab, its zygote, every pause and container",
        p.peak.memory(size.pods, "pod")
    );
    println!(
        "  at the peak                  {} processes ({} address spaces), {} threads, {} descriptors\n",
        p.peak.processes, p.peak.spaces, p.peak.threads, p.peak.fds
    );
}

const HEADERS: [&str; 12] = [
    "PODS",
    "NODES",
    "BRING-UP",
    "MS/POD",
    "VS REF",
    "BARE MS/POD",
    "VS BARE",
    "TEARDOWN",
    "SYSFS MS/POD",
    "REACHABLE",
    "PSS (PER POD)",
    "PROCS/THREADS/FDS",
];

/// The smallest size of at least 1000 pods that was measured (else the largest): the
/// reference for cost per pod.
fn reference(results: &[(Size, Outcome)]) -> Option<f64> {
    let done = || {
        results.iter().filter_map(|(s, o)| match o {
            Outcome::Done(m) => Some((s.pods, m.per_pod())),
            _ => None,
        })
    };
    let at_least = done().filter(|&(p, _)| p >= REFERENCE_PODS).min_by_key(|&(p, _)| p);
    at_least.or_else(|| done().max_by_key(|&(p, _)| p)).map(|(_, c)| c)
}

/// Why a size has no figures (`not run: ...`, `FAILED: ...`), or `None` if it has them.
fn why_not(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::NotRun(why) => Some(format!("not run: {why}")),
        Outcome::Failed(why) => Some(format!("FAILED: {why}")),
        Outcome::Done(_) => None,
    }
}

/// The cells of one size; a size without figures has only its pods and nodes.
fn row(size: &Size, outcome: &Outcome, reference: Option<f64>) -> Vec<String> {
    let mut cells = vec![size.pods.to_string(), size.nodes.to_string()];
    let Outcome::Done(m) = outcome else {
        return cells;
    };
    let p = &m.podlab;
    let mark = |ok: bool| if ok { "" } else { " NO" };
    let vs_ref = reference.map_or("n/a".to_string(), |r| {
        let x = m.per_pod() / r.max(1e-9);
        format!("{x:.2}x{}", mark(x <= VS_REFERENCE_TARGET))
    });
    let teardown_ok = size.pods < TEARDOWN_TARGET_PODS || p.teardown < TEARDOWN_TARGET;
    cells.extend([
        secs(p.total),
        format!("{:.2}", m.per_pod()),
        vs_ref,
        format!("{:.2}", ms(m.floor.total) / size.pods as f64),
        format!("{:.2}x{}", m.vs_bare(), mark(m.vs_bare() <= VS_BARE_TARGET)),
        format!("{}{}", secs(p.teardown), mark(teardown_ok)),
        p.sysfs.mean_ms().map_or("n/a".into(), |m| format!("{m:.2}")),
        format!("{}/{}{}", p.reach.ok, p.reach.total, mark(p.reach.all())),
        format!(
            "{:.0} MiB ({:.0} KiB)",
            p.peak.pss_kib as f64 / 1024.0,
            p.peak.kib_per(size.pods)
        ),
        format!("{}/{}/{}", p.peak.processes, p.peak.threads, p.peak.fds),
    ]);
    cells
}

/// The table of every size, then the targets.
pub fn print_table(results: &[(Size, Outcome)], markdown: bool) {
    let reference = reference(results);
    let rows: Vec<Vec<String>> = results.iter().map(|(s, o)| row(s, o, reference)).collect();
    let notes: Vec<Option<String>> = results.iter().map(|(_, o)| why_not(o)).collect();
    if markdown {
        println!("| {} |", HEADERS.join(" | ").to_lowercase());
        println!("|{}", "---|".repeat(HEADERS.len()));
        for (r, note) in rows.iter().zip(&notes) {
            match note {
                Some(n) => println!("| {} | {n} |{}", r.join(" | "), " |".repeat(HEADERS.len() - 3)),
                None => println!("| {} |", r.join(" | ")),
            }
        }
    } else {
        // A size without figures: its reason after its pods and nodes, not widening a column.
        let text = crate::printers::table(&HEADERS, &rows);
        let mut lines = text.lines();
        println!("{}", lines.next().unwrap_or_default());
        for (line, note) in lines.zip(&notes) {
            match note {
                Some(n) => println!("{line}   {n}"),
                None => println!("{line}"),
            }
        }
    }
    println!(
        "\nVS REF: ms per pod against the smallest size of at least {REFERENCE_PODS} pods (target <= {VS_REFERENCE_TARGET}x); \
         VS BARE: bring-up against the bare rtnetlink loop plus one process per pod (target <= {VS_BARE_TARGET}x); \
         teardown of {TEARDOWN_TARGET_PODS} pods under {} s; NO marks a target missed.",
        TEARDOWN_TARGET.as_secs()
    );
    println!(
        "PSS: the peak, sampled during the run, of podlab's process and all its descendants (zygote, pause \
         processes, containers), each address space once; processes, threads and descriptors of that sample."
    );
    println!(
        "SYSFS MS/POD: of MS/POD, about what the containers' fresh /sys mounts cost the kernel (the mean of one more \
         sysfs superblock before and with the pods up, uncontended: during a bring-up the other CPUs wait on the same \
         lock): it grows with the pods up, as the kernel walks every sysfs \
         superblock, one per pod's network namespace, under its global sb_lock."
    );
    println!("reference: the CNI bridge plugin takes 9-14 ms per ADD and ~23 ms per DEL on these machines");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_follow_pods_and_a_size_names_both() {
        assert_eq!(
            Size::of_pods(10_000),
            Size {
                nodes: 100,
                pods: 10_000
            }
        );
        assert_eq!(Size::of_pods(50).nodes, 1);
        assert_eq!(Size::of_pods(100).to_string(), "100 pods on 1 node");
        assert_eq!(Size::of_pods(1000).to_string(), "1000 pods on 10 nodes");
    }

    #[test]
    fn a_small_size_passes_preflight_and_an_overfull_node_is_named() {
        assert_eq!(preflight(&Size::of_pods(100)), None);
        // 300 pods on one node do not fit its /24.
        let why = preflight(&Size { nodes: 1, pods: 300 }).expect("refused");
        assert!(why.contains("cluster.nodeCIDRPrefix /24"), "{why}");
        // Two processes a pod: more than any kernel.pid_max (at most 4194304).
        let why = preflight(&Size::of_pods(3_000_000)).expect("refused");
        assert!(why.contains("kernel.pid_max: needs 6030016 processes"), "{why}");
    }
}
