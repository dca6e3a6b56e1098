//! `podlab bench peers`: podlab beside the tools users would pick instead, measured in the same
//! run and printed as ratios: the reference CNI `bridge` + `host-local` plugins (pod network
//! setup and teardown), Mininet and the bare rtnetlink loop (cluster bring-up), a bare veth
//! pair (TCP throughput and RTT), plus podlab's memory per pod.
//!
//! Everything happens in private network namespaces: this process leaves the root namespace
//! first, each measurement runs in a fresh namespace of its own, Mininet runs under
//! `unshare --net --mount --pid`. The root namespace is snapshotted before and after, and the
//! verdict is printed. A benchmark, not a test: figures go in README and the issue notes.

mod bringup;
mod cni;
mod mininet;
mod rootcheck;
mod traffic;

use crate::bench::ms;
use anyhow::{Context, Result, bail};
use podlab_netplugin::ns::{self, Netns};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What `podlab bench peers` runs.
#[derive(Clone, Debug, Default)]
pub struct PeersOptions {
    /// Small counts and short runs (seconds, for a smoke test), instead of the sizes.
    pub quick: bool,
    /// Measure podlab and the kernel baselines only; skip the CNI plugins and Mininet.
    pub podlab_only: bool,
    /// Print the result table as Markdown (for README).
    pub markdown: bool,
    /// Run only these parts; empty means all.
    pub only: Vec<Part>,
}

/// The parts of the harness, selectable with `--only`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Part {
    /// Pod network setup and teardown vs the CNI bridge + host-local plugins.
    Setup,
    /// Cluster bring-up vs the bare rtnetlink loop and Mininet, and memory per pod.
    Bringup,
    /// Cross-node TCP throughput and RTT vs a bare veth pair.
    Traffic,
}

impl PeersOptions {
    fn runs(&self, part: Part) -> bool {
        self.only.is_empty() || self.only.contains(&part)
    }
}

/// Where the reference CNI plugins are looked for (Debian's package, then the upstream default).
const CNI_DIRS: &[&str] = &["/usr/lib/cni", "/opt/cni/bin"];
/// How to install every peer (printed when one is missing).
const INSTALL: &str = "apt-get install -y containernetworking-plugins mininet bridge-utils iperf3";

/// One line of the result table.
#[derive(Clone, Debug)]
struct Row {
    measure: String,
    podlab: String,
    peer: String,
    peer_value: String,
    ratio: String,
    target: String,
    met: String,
}

impl Row {
    fn new(measure: impl Into<String>, podlab: impl Into<String>) -> Row {
        Row {
            measure: measure.into(),
            podlab: podlab.into(),
            peer: String::new(),
            peer_value: String::new(),
            ratio: String::new(),
            target: String::new(),
            met: String::new(),
        }
    }

    fn peer(mut self, name: &str, value: impl Into<String>) -> Row {
        self.peer = name.into();
        self.peer_value = value.into();
        self
    }

    /// `ratio` is printed as `{ratio:.2}x{unit}`; `ok` says whether the target is met.
    fn ratio(mut self, ratio: f64, unit: &str, target: &str, ok: Option<bool>) -> Row {
        self.ratio = if ratio.is_finite() {
            format!("{ratio:.2}x{unit}")
        } else {
            "n/a".into()
        };
        self.target = target.into();
        self.met = match ok {
            Some(true) => "yes".into(),
            Some(false) => "NO".into(),
            None => String::new(),
        };
        self
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.measure.clone(),
            self.podlab.clone(),
            self.peer.clone(),
            self.peer_value.clone(),
            self.ratio.clone(),
            self.target.clone(),
            self.met.clone(),
        ]
    }
}

const HEADERS: [&str; 7] = ["MEASURE", "PODLAB", "PEER", "PEER'S FIGURE", "RATIO", "TARGET", "MET"];

/// This process's resident memory in KiB (`VmRSS`).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Number of network interfaces in `netns` (from `/proc/thread-self/net/dev` on a thread in it).
fn link_count_in(netns: &Netns) -> Result<usize> {
    let text = ns::run_in(netns, || std::fs::read_to_string("/proc/thread-self/net/dev"))??;
    Ok(text.lines().skip(2).filter(|l| !l.trim().is_empty()).count())
}

/// Waits (bounded by `limit`) until `netns` has at most `count` interfaces.
fn wait_links_at_most(netns: &Netns, count: usize, limit: Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let now = link_count_in(netns)?;
        if now <= count {
            return Ok(());
        }
        if std::time::Instant::now() >= deadline {
            bail!("{now} interfaces still present after {limit:?} (expected at most {count})");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Runs `f` on a new thread that first moves into a fresh network namespace and builds its own
/// tokio runtime there (its worker threads inherit the namespace): every measurement gets a
/// clean fabric namespace, which vanishes when the thread ends.
pub(crate) fn in_fresh_netns<T: Send + 'static>(
    what: &str,
    f: impl FnOnce(&tokio::runtime::Runtime) -> Result<T> + Send + 'static,
) -> Result<T> {
    let name = what.to_string();
    let worker = std::thread::Builder::new()
        .name("bench-fresh-ns".into())
        .spawn(move || -> Result<T> {
            // unshare acts on this (new, dedicated) thread only.
            podlab_node_agent::join::unshare_network()
                .with_context(|| format!("a fresh network namespace for {name}"))?;
            podlab_netplugin::ns::configure_new_fabric_here()
                .with_context(|| format!("setting up the fresh network namespace for {name}"))?;
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let r = f(&rt);
            rt.shutdown_timeout(Duration::from_millis(500));
            r
        })?;
    worker
        .join()
        .map_err(|_| anyhow::anyhow!("the {what} benchmark thread panicked"))?
}

/// A private scratch directory (0700) removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = std::env::temp_dir().join(format!("podlab-bench-peers-{}", std::process::id()));
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing old {}", dir.display()))?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        Ok(Scratch(dir))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// Runs the whole harness; returns the process exit code (0 = ran and left the root
/// namespace untouched). Call it before any other thread exists: it leaves the root network
/// namespace.
pub fn main(opts: PeersOptions) -> Result<i32> {
    if !podlab_node_agent::join::is_root() {
        bail!("the peer benchmark builds real namespaces (and runs the peers in them): it needs root");
    }
    let before = rootcheck::snapshot_here()?;
    let root = Netns::current().context("opening the root network namespace")?;
    podlab_node_agent::join::unshare_network().context("leaving the root network namespace (unshare)")?;
    podlab_control_plane::rundir::clean_stale();
    let scratch = Scratch::new()?;

    let sizes: Vec<(usize, usize)> = if opts.quick {
        vec![(10, 2)]
    } else {
        vec![(50, 1), (200, 4), (1000, 20)]
    };
    let cni_pods = if opts.quick { 5 } else { 100 };
    println!(
        "podlab bench peers{}: podlab beside the tools users would pick instead, same run, same machine",
        if opts.quick { " --quick" } else { "" }
    );
    println!("  (release build recommended; every object lives in private network namespaces)\n");

    let peers = find_peers(&opts);
    let (cni_dir, mininet_ok) = (peers.cni_dir, peers.mininet);

    let mut rows: Vec<Row> = Vec::new();

    // 1. Pod network setup and teardown per pod, vs the CNI reference plugins.
    if opts.runs(Part::Setup) {
        println!("[1/4] pod network setup and teardown, {cni_pods} pods on one node ...");
        let net = cni::podlab_side(cni_pods)?;
        let cni_fig = match (cni_dir, opts.podlab_only) {
            (Some(dir), false) => Some(cni::cni_side(cni_pods, dir, scratch.path())?),
            _ => None,
        };
        rows.extend(cni::rows(&net, cni_fig.as_ref()));
    }

    // 2. Bring-up vs the bare rtnetlink loop and Mininet; memory per pod.
    for &(pods, nodes) in sizes.iter().filter(|_| opts.runs(Part::Bringup)) {
        println!("[2/4] bring-up of {pods} pods on {nodes} node(s): podlab, bare rtnetlink loop, Mininet ...");
        let p = bringup::podlab(nodes, pods)?;
        let floor = bringup::floor(nodes, pods)?;
        let mn = if mininet_ok && !opts.podlab_only {
            match mininet::bringup(pods, nodes, scratch.path()) {
                Ok(m) => Some(m),
                Err(e) => {
                    println!("      Mininet failed: {e:#}");
                    None
                }
            }
        } else {
            None
        };
        rows.extend(bringup::rows(&p, &floor, mn.as_ref(), nodes, opts.quick));
    }

    // 3. Cross-node TCP throughput and RTT vs a bare veth pair.
    if opts.runs(Part::Traffic) {
        println!("[3/4] pod-to-pod TCP across nodes vs a bare veth pair ...");
        let t = traffic::measure(opts.quick)?;
        rows.extend(traffic::rows(&t));
    }

    // 4. The machine's own network, untouched?
    println!("[4/4] comparing the root network namespace with its state before the run ...\n");
    drop(scratch);
    let after = rootcheck::snapshot_in(&root)?;
    let changed = rootcheck::diff(&before, &after);

    print_table(&rows, opts.markdown);
    println!();
    if changed.is_empty() {
        println!(
            "root network namespace: unchanged ({} lines compared: {})",
            before.lines().count(),
            rootcheck::WHAT
        );
        Ok(0)
    } else {
        println!("root network namespace: CHANGED during the run:");
        for l in &changed {
            println!("  {l}");
        }
        Ok(1)
    }
}

/// The peers found on this machine.
struct Peers {
    /// Where the CNI `bridge` and `host-local` plugins are.
    cni_dir: Option<&'static Path>,
    /// Whether Mininet (python module, mnexec, brctl, unshare) is usable.
    mininet: bool,
}

/// Looks for the peers and prints which are here and what is missing (with how to install).
fn find_peers(opts: &PeersOptions) -> Peers {
    let cni_dir = CNI_DIRS
        .iter()
        .map(Path::new)
        .find(|d| d.join("bridge").is_file() && d.join("host-local").is_file());
    let mininet_ok = Path::new("/usr/bin/python3").is_file()
        && on_path("mnexec")
        && on_path("brctl")
        && on_path("unshare")
        && Path::new("/usr/lib/python3/dist-packages/mininet").is_dir();
    let ip_ok = on_path("ip");
    let mut missing = Vec::new();
    if opts.podlab_only {
        println!("peers: skipped (--podlab-only)");
    } else {
        match cni_dir {
            Some(d) => println!("peer: CNI bridge + host-local plugins in {}", d.display()),
            None => missing.push(format!(
                "CNI reference plugins (bridge, host-local) not found in {}",
                CNI_DIRS.join(" or ")
            )),
        }
        if mininet_ok {
            println!("peer: Mininet (Python API, LinuxBridge switches, no controller)");
        } else {
            missing.push("Mininet not found (needs /usr/bin/python3 with mininet, mnexec, brctl, unshare)".into());
        }
    }
    if !ip_ok {
        missing.push("`ip` (iproute2) not found: the final check of the root namespace reads links, addresses and routes with it".into());
    }
    for m in &missing {
        println!("MISSING: {m}");
    }
    if !missing.is_empty() {
        println!("         install the peers with: {INSTALL}");
    }
    println!();

    Peers {
        cni_dir,
        mininet: mininet_ok,
    }
}

/// Prints the result table, as Markdown with `markdown`.
fn print_table(rows: &[Row], markdown: bool) {
    let cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
    if markdown {
        println!("| {} |", HEADERS.join(" | ").to_lowercase());
        println!("|{}", "---|".repeat(HEADERS.len()));
        for r in &cells {
            println!("| {} |", r.join(" | "));
        }
    } else {
        print!("{}", crate::printers::table(&HEADERS, &cells));
    }
}
