//! Rootless podlab: an ordinary user's cluster (as `nobody` when the test runs as root) cannot
//! change anything of the machine's, and where the machine forbids user namespaces podlab
//! names the setting.

mod common;
use common::*;
use std::process::{Command, Output};

/// Kernel sysctls and names a container must not be able to change from inside its pod.
fn machine_snapshot() -> String {
    let mut s = root_net_snapshot();
    for f in [
        "/proc/sys/kernel/hostname",
        "/proc/sys/kernel/printk",
        "/proc/sys/net/core/somaxconn",
        "/proc/sys/vm/swappiness",
        "/etc/passwd",
        "/etc/hostname",
    ] {
        s += &format!("{f}: {}", std::fs::read_to_string(f).unwrap_or_default());
    }
    s
}

/// `podlab ARGS` as an ordinary user whose user namespace may hold no further user namespace
/// (`user.max_user_namespaces` = 0 inside it): what a machine that forbids them does.
fn podlab_with_user_namespaces_blocked(args: &[&str]) -> Output {
    let (uid, gid) = if is_root() {
        ("65534".to_string(), "65534".to_string())
    } else {
        // SAFETY: getuid and getgid have no preconditions.
        unsafe { (libc::getuid().to_string(), libc::getgid().to_string()) }
    };
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "unshare"]);
        c
    } else {
        Command::new("unshare")
    };
    cmd.args([
        "--user",
        &format!("--map-user={uid}"),
        &format!("--map-group={gid}"),
        "--keep-caps",
    ])
    .args([
        "sh",
        "-c",
        "echo 0 > /proc/sys/user/max_user_namespaces && exec \"$0\" \"$@\"",
        env!("CARGO_BIN_EXE_podlab"),
    ])
    .args(args)
    .current_dir(env!("CARGO_MANIFEST_DIR"))
    .env("NO_COLOR", "1")
    .env_remove("XDG_RUNTIME_DIR");
    cmd.output().unwrap()
}

#[test]
fn blocked_user_namespaces_name_the_setting_and_the_ways_out() {
    if !require_root("blocked_user_namespaces_name_the_setting_and_the_ways_out") {
        return;
    }
    let before = machine_snapshot();
    for args in [
        &["run", "scenarios/hello.yaml"][..],
        &["up", "scenarios/hello.yaml", "--name", "blocked"][..],
    ] {
        let out = podlab_with_user_namespaces_blocked(args);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "podlab {args:?}: {t}");
        assert!(t.contains("user.max_user_namespaces is 0"), "names the setting: {t}");
        assert!(
            t.contains("sudo sysctl -w user.max_user_namespaces="),
            "says how to allow it: {t}"
        );
        assert!(t.contains("sudo podlab"), "says root still works: {t}");
        assert!(t.contains("--dataplane model"), "offers the model dataplane: {t}");
        assert!(!t.contains("panicked"), "{t}");
    }
    // `up` stopped before starting a daemon: no cluster of that name.
    let out = podlab_as_user()
        .args(["get", "pods", "--cluster", "blocked"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert_eq!(before, machine_snapshot());
}

#[test]
fn a_rootless_cluster_cannot_change_the_machine() {
    if !require_root("a_rootless_cluster_cannot_change_the_machine") {
        return;
    }
    let before = machine_snapshot();
    // Removed on drop, also when an assertion below fails.
    let cluster = UpCluster::up_as_user("scenarios/hello.yaml", "rootless");
    let exec = |script: &str| {
        let out = cluster
            .cmd()
            .args(["exec", "client", "--", "sh", "-c", script])
            .output()
            .unwrap();
        (out.status.success(), text(&out))
    };
    // Inside, the container is root and its writable layer is its own; with the container
    // runtime's default capabilities (no CAP_NET_ADMIN, CAP_SYS_ADMIN), as in Kubernetes, it
    // cannot change even its pod's network, hostname or net.* settings.
    let (ok, t) = exec("id -u && echo x > /etc/podlab-rootless-probe && echo inside-ok");
    assert!(ok && t.contains("inside-ok") && t.starts_with('0'), "{t}");
    for (what, script) in [
        ("its pod's links", "ip link add pv9 type veth peer name pv9b"),
        ("its pod's hostname", "hostname pwned"),
        ("its pod's net.* settings", "echo 1 > /proc/sys/net/ipv4/ip_forward"),
    ] {
        let (ok, t) = exec(script);
        assert!(!ok, "the container changed {what}: {t}");
    }
    let (_, t) = exec("grep CapBnd /proc/self/status");
    assert!(t.contains("00000000a00425fb"), "{t}");
    // The machine's own: its kernel settings, root's files, its network.
    for (what, script) in [
        ("a kernel sysctl", "echo 7 > /proc/sys/kernel/printk"),
        ("a vm sysctl", "echo 1 > /proc/sys/vm/swappiness"),
        ("root's /etc/passwd", "echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd"),
        ("a device", "mknod /tmp/sda b 8 0"),
        ("the machine's clock", "date -s 2001-01-01"),
    ] {
        let (ok, t) = exec(script);
        assert!(!ok, "the container changed {what}: {t}");
    }
    cluster.down();
    assert!(
        !std::path::Path::new("/etc/podlab-rootless-probe").exists(),
        "the layer reached the machine"
    );
    assert_eq!(before, machine_snapshot(), "the machine changed");
}
