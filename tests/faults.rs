//! End-to-end faults: `kill -9` of podlab at many moments of bring-up, scaling and teardown,
//! and a node whose address range runs out. Whatever happens, nothing podlab made survives it
//! and the machine's own network is unchanged.
//!
//! This file is its own test binary, so no other podlab test runs while it counts namespaces.

mod common;
use common::*;
use std::process::Stdio;
use std::time::Duration;

/// The tests here count namespaces machine-wide, so they run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A cluster brought up for a test and taken down when the test ends, even by a panic.
struct Up {
    name: String,
}

impl Up {
    fn new(scenario: &str, name: String) -> Up {
        let out = podlab().args(["up", scenario, "--name", &name]).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        Up { name }
    }

    /// `podlab ARGS` against this cluster: (exit code, output).
    fn run(&self, args: &[&str]) -> (i32, String) {
        let o = podlab().args(args).env("PODLAB_CLUSTER", &self.name).output().unwrap();
        (o.status.code().unwrap_or(-1), text(&o))
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = podlab().args(["down", "--name", &self.name]).output();
    }
}

/// Network namespaces some live process is in.
fn live_netns() -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if alive(p)
            && let Some(ns) = netns_of(p)
        {
            out.insert(ns);
        }
    }
    out
}

fn no_new_namespaces(before: &std::collections::BTreeSet<String>) -> bool {
    eventually(5, || live_netns().is_subset(before))
}

#[test]
fn kill_9_at_twenty_four_moments_leaves_nothing_behind() {
    if !require_root("kill_9_at_twenty_four_moments_leaves_nothing_behind") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before_net = root_net_snapshot();
    let before_ns = live_netns();
    // Moments spread over bring-up, the steps and teardown of a one-shot run (which takes a few
    // hundred ms here), deterministic so a failure can be replayed.
    let delays_ms = [0u64, 5, 10, 20, 30, 45, 60, 80, 100, 130, 160, 200, 250, 300, 400, 550];
    for (i, d) in delays_ms.iter().enumerate() {
        let mut child = podlab()
            .args(["run", "scenarios/replicas-by-hand.yaml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*d));
        // SAFETY: killing the child this test started, by pid.
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        let _ = child.wait();
        assert!(
            no_new_namespaces(&before_ns),
            "kill point {i} ({d} ms into `run`): namespaces survived: {:?}",
            live_netns().difference(&before_ns).collect::<Vec<_>>()
        );
    }
    // The daemon: killed during bring-up, and while a Deployment scales 1 -> 20.
    for (i, d) in [0u64, 30, 80, 150].iter().enumerate() {
        let name = format!("t-k{i}-{}", std::process::id());
        let mut up = podlab()
            .args(["up", "tests/scenarios/live.yaml", "--name", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*d));
        // Killing `up` before the cluster is ready takes the daemon down with it (parent-death signal).
        // SAFETY: killing the child this test started, by pid.
        unsafe { libc::kill(up.id() as i32, libc::SIGKILL) };
        let _ = up.wait();
        assert!(
            no_new_namespaces(&before_ns),
            "`up` killed {d} ms in: namespaces survived"
        );
        let _ = podlab().args(["down", "--name", &name]).output();
    }
    for (i, d) in [0u64, 20, 60, 120].iter().enumerate() {
        let name = format!("t-ks{i}-{}", std::process::id());
        let out = podlab()
            .args(["up", "tests/scenarios/live.yaml", "--name", &name])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        let pid = daemon_pid(&name) as i32;
        podlab()
            .args([
                "apply",
                "-f",
                "tests/scenarios/kubia-deployment.yaml",
                "--cluster",
                &name,
            ])
            .output()
            .unwrap();
        podlab()
            .args(["scale", "deployment", "kubia", "--replicas", "20", "--cluster", &name])
            .output()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*d));
        // SAFETY: killing the daemon this test started, by pid.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        assert!(
            no_new_namespaces(&before_ns),
            "daemon killed {d} ms into scaling: namespaces survived"
        );
        // The next command finds the stale state and removes it.
        let _ = podlab().args(["down", "--name", &name]).output();
        assert!(!run_base().join(&name).exists());
    }
    // Teardown: kill `down` itself part-way.
    for (i, d) in [0u64, 2].iter().enumerate() {
        let name = format!("t-kd{i}-{}", std::process::id());
        assert!(
            podlab()
                .args(["up", "tests/scenarios/live.yaml", "--name", &name])
                .output()
                .unwrap()
                .status
                .success()
        );
        let pid = daemon_pid(&name) as i32;
        let mut down = podlab()
            .args(["down", "--name", &name])
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(*d));
        // SAFETY: killing processes this test started, by pid.
        unsafe {
            libc::kill(down.id() as i32, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
        let _ = down.wait();
        assert!(no_new_namespaces(&before_ns), "killed during down: namespaces survived");
        let _ = podlab().args(["down", "--name", &name]).output();
    }
    assert_eq!(before_net, root_net_snapshot(), "the root namespace changed");
    assert!(named_netns().is_empty() || named_netns().iter().all(|n| !n.contains("podlab")));
    // Stale runtime directories are cleaned by the next podlab command.
    let _ = podlab().arg("clusters").output();
    let left: Vec<_> = std::fs::read_dir(run_base())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "runtime state left in the runtime directory: {left:?}");
}

#[test]
fn a_full_address_range_leaves_pods_pending_with_an_event_not_a_crash() {
    if !require_root("a_full_address_range_leaves_pods_pending_with_an_event_not_a_crash") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let name = format!("t-full-{}", std::process::id());
    let out = podlab()
        .args(["up", "tests/scenarios/small-range.yaml", "--name", &name])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let get = |args: &[&str]| {
        let o = podlab().args(args).args(["--cluster", &name]).output().unwrap();
        text(&o)
    };
    get(&["apply", "-f", "tests/scenarios/fill.yaml"]);
    let mut last = String::new();
    // 16 replicas, 13 addresses in 10.244.0.16/28: 13 run, 3 wait with the netplugin's reason.
    let ok = eventually(30, || {
        last = get(&["get", "pods"]);
        last.lines().filter(|l| l.contains("Running")).count() == 13
            && last.lines().filter(|l| l.contains("ContainerCreating")).count() == 3
    });
    assert!(ok, "{last}");
    let pending = last
        .lines()
        .find(|l| l.contains("ContainerCreating"))
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let d = get(&["describe", "pod", &pending]);
    assert!(d.contains("no free address in 10.244.0.16/28"), "{d}");
    // Room comes back: scale down and the waiting pods get addresses (create/delete cycles reuse them).
    get(&["scale", "deployment", "fill", "--replicas", "10"]);
    let ok = eventually(30, || {
        last = get(&["get", "pods"]);
        last.lines().filter(|l| l.contains("Running")).count() == 10 && !last.contains("ContainerCreating")
    });
    assert!(ok, "{last}");
    get(&["scale", "deployment", "fill", "--replicas", "13"]);
    assert!(eventually(30, || get(&["get", "pods"])
        .lines()
        .filter(|l| l.contains("Running"))
        .count()
        == 13));
    let _ = podlab().args(["down", "--name", &name]).output();
}

#[test]
fn five_hundred_pods_on_one_node_get_unique_addresses() {
    if !require_root("five_hundred_pods_on_one_node_get_unique_addresses") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let c = Up::new("tests/scenarios/big-node.yaml", format!("t-500-{}", std::process::id()));
    let run = |args: &[&str]| c.run(args).1;
    run(&["apply", "-f", "tests/scenarios/many.yaml"]);
    let mut last = String::new();
    let ok = eventually(120, || {
        last = run(&["get", "pods", "-o", "wide"]);
        last.lines().filter(|l| l.contains("Running")).count() == 500
    });
    assert!(
        ok,
        "not all 500 pods ran:\n{}",
        last.lines()
            .filter(|l| !l.contains("Running"))
            .take(20)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let mut ips: Vec<&str> = last
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().nth(5))
        .collect();
    ips.sort();
    let n = ips.len();
    ips.dedup();
    assert_eq!(ips.len(), n, "duplicate pod IPs");
    let ev = run(&["get", "events"]);
    assert!(!ev.contains("File exists") && !ev.contains("EEXIST"), "{ev}");
}

#[test]
fn deletes_are_idempotent_and_no_nat_rule_exists_anywhere() {
    if !require_root("deletes_are_idempotent_and_no_nat_rule_exists_anywhere") {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let before_ns = live_netns();
    let c = Up::new("tests/scenarios/live.yaml", format!("t-del-{}", std::process::id()));
    let run = |args: &[&str]| c.run(args);
    // No NAT (no netfilter rule at all) in any node or pod namespace. A node's are read with
    // `podlab exec node/...` (the operator's tools); a container lacks CAP_NET_ADMIN, as in
    // Kubernetes, so a pod's are read with nsenter into its network namespace.
    for target in ["node/worker-1", "node/worker-2"] {
        let (code, rules) = run(&["exec", target, "--", "nft", "list", "ruleset"]);
        assert_eq!(code, 0, "{rules}");
        assert!(rules.trim().is_empty(), "{target} has netfilter rules:\n{rules}");
    }
    for pod in ["nginx", "client"] {
        let (code, denied) = run(&["exec", pod, "--", "nft", "list", "ruleset"]);
        assert_ne!(code, 0, "a container read netfilter without CAP_NET_ADMIN: {denied}");
        let (_, link) = run(&["exec", pod, "--", "readlink", "/proc/self/ns/net"]);
        let pid = common::pid_in_namespace("net", link.trim()).expect(&link);
        let out = common::nsenter(pid)
            .args(["-n", "nft", "list", "ruleset"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", common::text(&out));
        let rules = common::text(&out);
        assert!(rules.trim().is_empty(), "{pod} has netfilter rules:\n{rules}");
    }
    // Delete while the pod is still starting.
    run(&["apply", "-f", "tests/scenarios/kubia-deployment.yaml"]);
    let mut first = None;
    assert!(eventually(10, || {
        first = run(&["get", "pods", "-l", "app=kubia", "-o", "name"])
            .1
            .lines()
            .find(|l| l.starts_with("pod/"))
            .map(String::from);
        first.is_some()
    }));
    let (code, t) = run(&["delete", first.unwrap().trim()]);
    assert_eq!(code, 0, "{t}");
    // Delete after the pod's namespace is already gone (its pause process killed by hand).
    let (_, d) = run(&["describe", "pod", "client"]);
    let pid: i32 = d
        .lines()
        .find_map(|l| l.trim().strip_prefix("Pause PID:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap();
    // SAFETY: killing a pause process of the cluster this test started, by pid.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    let (code, t) = run(&["delete", "pod", "client"]);
    assert_eq!(code, 0, "{t}");
    assert!(t.contains("pod \"client\" deleted"), "{t}");
    // Deleting it twice: the second time it is simply not found, as kubectl says.
    let (_, t) = run(&["delete", "pod", "client"]);
    assert!(t.contains("NotFound"), "{t}");
    drop(c);
    assert!(no_new_namespaces(&before_ns), "namespaces left behind");
}
