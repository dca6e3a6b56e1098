//! Shared helpers for podlab's end-to-end tests: run the real binary, gate kernel tests on
//! root (skipping loudly, or failing when PODLAB_REQUIRE_ROOT=1), and snapshot the machine's
//! own network so a test can prove podlab left it untouched.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub fn podlab() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_podlab"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env("NO_COLOR", "1");
    c
}

/// `podlab` as an ordinary user: the test's own user, or `nobody` when the test runs as root
/// (rootless podlab, in a user namespace of its own).
pub fn podlab_as_user() -> Command {
    if !is_root() {
        return podlab();
    }
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        env!("CARGO_BIN_EXE_podlab"),
    ]);
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env("NO_COLOR", "1")
        .env_remove("XDG_RUNTIME_DIR")
        .env("HOME", std::env::temp_dir());
    c
}

/// Where this user's clusters keep their runtime directories (podlab's rule): `/run/podlab`
/// as root, `$XDG_RUNTIME_DIR/podlab` or `/tmp/podlab-<uid>` for an ordinary user.
pub fn run_base() -> PathBuf {
    if is_root() {
        return PathBuf::from("/run/podlab");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("podlab"),
        // SAFETY: geteuid has no preconditions.
        None => std::env::temp_dir().join(format!("podlab-{}", unsafe { libc::geteuid() })),
    }
}

/// `nsenter -t PID` that also joins PID's user namespace when the test is not root (a rootless
/// cluster's namespaces belong to its user namespace).
pub fn nsenter(pid: u32) -> Command {
    let mut c = Command::new("nsenter");
    c.args(["-t", &pid.to_string()]);
    if !is_root() {
        c.args(["--user", "--preserve-credentials"]);
    }
    c
}

/// A process of the machine in namespace `link` (`readlink /proc/PID/ns/<kind>`, e.g.
/// `net:[4026532301]`), for [`nsenter`].
pub fn pid_in_namespace(kind: &str, link: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let ns = std::fs::read_link(format!("/proc/{pid}/ns/{kind}")).ok()?;
        (ns.to_str()? == link).then_some(pid)
    })
}

/// Where a test keeps its artefacts (screenshots) for CI: `$PODLAB_ARTEFACTS/<what>` (the
/// rootless CI pass points it at a directory its user owns), else `target/<what>`.
pub fn artefact_dir(what: &str) -> PathBuf {
    let base = std::env::var_os("PODLAB_ARTEFACTS")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| repo("target"));
    base.join(what)
}

pub fn repo(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// True when kernel tests can run: as root, or as an ordinary user where podlab can run
/// rootless (in a user namespace of its own). Otherwise a loud skip, or a failure when CI
/// requires the mode (PODLAB_REQUIRE_ROOT=1 as root, PODLAB_REQUIRE_ROOTLESS=1 as a user).
pub fn require_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if rootless_works() {
        return true;
    }
    for var in ["PODLAB_REQUIRE_ROOT", "PODLAB_REQUIRE_ROOTLESS"] {
        if std::env::var(var).as_deref() == Ok("1") {
            panic!("{test}: needs root or unprivileged user namespaces (rootless), and {var}=1 forbids skipping");
        }
    }
    eprintln!(
        "\n*** SKIPPED {test}: kernel tests need root or unprivileged user namespaces (run: sudo -E cargo test --workspace) ***\n"
    );
    false
}

/// True when the test can run as root only (the peer benchmarks run Mininet and others, which
/// need it). Otherwise a loud skip, or a failure under PODLAB_REQUIRE_ROOT=1.
pub fn require_real_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    if std::env::var("PODLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: needs root, and PODLAB_REQUIRE_ROOT=1 forbids skipping");
    }
    eprintln!("\n*** SKIPPED {test}: needs root (run: sudo -E cargo test --workspace) ***\n");
    false
}

/// Whether this test process runs as root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether an ordinary user can make a user namespace with a network namespace in it here.
pub fn rootless_works() -> bool {
    Command::new("unshare")
        .args(["--user", "--map-root-user", "--net", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// The root namespace's links, addresses, routes, rules and forwarding sysctls.
pub fn root_net_snapshot() -> String {
    let mut s = String::new();
    s += &sh("ip", &["-o", "link", "show"]);
    s += &sh("ip", &["-o", "addr", "show"]);
    s += &sh("ip", &["route", "show", "table", "all"]);
    s += &sh("ip", &["rule", "show"]);
    s += &sh("nft", &["list", "ruleset"]);
    s += &std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap_or_default();
    s += &std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/forwarding").unwrap_or_default();
    for switch in ["iptables", "ip6tables", "arptables"] {
        s += &std::fs::read_to_string(format!("/proc/sys/net/bridge/bridge-nf-call-{switch}")).unwrap_or_default();
    }
    s
}

/// Every process descended from `pid`: its children (containers, `podlab-zygote`) and their
/// children (`podlab-pause`, forked by the zygote), and so on.
pub fn descendants_of(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The ppid is the second field after the parenthesised command name.
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let ppid: u32 = rest.split_whitespace().nth(1).and_then(|x| x.parse().ok()).unwrap_or(0);
        parent_of.push((p, ppid));
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(p, pp) in &parent_of {
            if pp == parent && !out.contains(&p) {
                out.push(p);
                frontier.push(p);
            }
        }
    }
    out
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.rsplit_once(')').is_some_and(|(_, r)| r.trim_start().starts_with('Z')))
        .unwrap_or(false)
}

/// The network namespace a process is in (`net:[inode]`).
pub fn netns_of(pid: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .ok()
        .map(|p| p.display().to_string())
}

/// Live processes still inside any of these network namespaces.
pub fn processes_in(inodes: &[String]) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if netns_of(p).is_some_and(|ns| inodes.contains(&ns)) && alive(p) {
            out.push(p);
        }
    }
    out
}

/// Named network namespaces (`ip netns`): podlab creates none.
pub fn named_netns() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Wait up to `secs` for `cond`.
pub fn eventually(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    cond()
}

/// A cluster started with `podlab up` for one test, and removed (`podlab down`) when dropped,
/// whether the test passed or not.
pub struct UpCluster {
    pub name: String,
    /// Every command runs as an ordinary user ([`podlab_as_user`]): a rootless cluster.
    as_user: bool,
}

impl UpCluster {
    /// `podlab up FILE --name PREFIX-<test pid>`; panics with podlab's output if that fails.
    pub fn up(file: &str, prefix: &str) -> UpCluster {
        Self::start(file, prefix, false)
    }

    /// Like [`UpCluster::up`], as an ordinary user (`nobody` when the test runs as root).
    pub fn up_as_user(file: &str, prefix: &str) -> UpCluster {
        Self::start(file, prefix, true)
    }

    fn start(file: &str, prefix: &str, as_user: bool) -> UpCluster {
        let c = UpCluster {
            name: format!("{prefix}-{}", std::process::id()),
            as_user,
        };
        let out = c.podlab().args(["up", file, "--name", &c.name]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        c
    }

    /// Takes charge of a cluster already started (by name), to be removed on drop.
    pub fn adopt(name: &str) -> UpCluster {
        UpCluster {
            name: name.into(),
            as_user: false,
        }
    }

    fn podlab(&self) -> Command {
        if self.as_user { podlab_as_user() } else { podlab() }
    }

    /// A `podlab` command aimed at this cluster.
    pub fn cmd(&self) -> Command {
        let mut c = self.podlab();
        c.env("PODLAB_CLUSTER", &self.name);
        c
    }

    /// Runs `podlab ARGS` against this cluster; its stdout and stderr.
    pub fn run(&self, args: &[&str]) -> String {
        text(&self.cmd().args(args).output().unwrap())
    }

    /// `podlab down` (again on drop, harmlessly).
    pub fn down(&self) {
        let _ = self.podlab().args(["down", "--name", &self.name]).output();
    }
}

impl Drop for UpCluster {
    fn drop(&mut self) {
        self.down();
    }
}

/// The pid of cluster `name`'s daemon (`/run/podlab/<name>/pid`).
pub fn daemon_pid(name: &str) -> u32 {
    std::fs::read_to_string(format!("{}/{name}/pid", run_base().display()))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
