//! Containers are isolated as the Pods chapter says: each has its own filesystem (a
//! copy-on-write view of its image, which here is the machine's own `/`) and its own PID
//! namespace (one per pod with `shareProcessNamespace: true`), while the pod's network, UTS
//! and IPC namespaces stay shared. Nothing a container writes reaches the machine, its layer
//! goes with the pod, and no mount of podlab's ever shows in the machine's mount table.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The machine's mount table lines that mention podlab (there must be none, ever).
fn podlab_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains("podlab"))
        .map(String::from)
        .collect()
}

/// `podlab exec POD -c CONTAINER -- sh -c SCRIPT`: (exit code, output).
fn sh(cluster: &UpCluster, pod: &str, container: &str, script: &str) -> (i32, String) {
    let out = cluster
        .cmd()
        .args(["exec", pod, "-c", container, "--", "sh", "-c", script])
        .output()
        .unwrap();
    (out.status.code().unwrap_or(-1), text(&out))
}

/// The pods' scratch directories of cluster `name`.
fn pods_dir(name: &str) -> PathBuf {
    run_base().join(name).join("pods")
}

/// The scratch directory of pod `pod` (its `etc-hostname` names it).
fn pod_dir_of(name: &str, pod: &str) -> Option<PathBuf> {
    std::fs::read_dir(pods_dir(name))
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p.join("etc-hostname")).is_ok_and(|h| h.trim() == pod))
}

/// The pid of the process whose command line is `cmdline` (NULs read as spaces).
fn pid_running(cmdline: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let c = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (String::from_utf8_lossy(&c).replace('\0', " ").trim() == cmdline).then_some(pid)
    })
}

#[test]
fn the_isolation_scenario_passes_with_podlab_run() {
    if !require_root("the_isolation_scenario_passes_with_podlab_run") {
        return;
    }
    let out = podlab()
        .args(["run", "tests/scenarios/isolation.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn a_container_sees_its_own_processes_and_files_and_writes_nothing_of_the_machine() {
    if !require_root("a_container_sees_its_own_processes_and_files_and_writes_nothing_of_the_machine") {
        return;
    }
    let cluster = UpCluster::up("tests/scenarios/isolation.yaml", "t-iso");
    let tag = std::process::id();

    // PID namespace: its command is PID 1; only a handful of pids exist.
    let (code, out) = sh(
        &cluster,
        "solo",
        "first",
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /proc | grep -c '^[0-9]'",
    );
    assert_eq!(code, 0, "{out}");
    let mut lines = out.lines();
    assert_eq!(lines.next().map(str::trim), Some("sleep 3471"), "{out}");
    let pids: usize = lines.next().and_then(|n| n.trim().parse().ok()).expect(&out);
    assert!(pids < 8, "a container sees {pids} processes:\n{out}");
    let (_, ps) = sh(&cluster, "solo", "first", "ps -e -o args");
    assert!(!ps.contains("sleep 3601"), "the other container's process shows:\n{ps}");
    assert!(!ps.contains("podlab"), "the machine's processes show:\n{ps}");

    // Capabilities: the container runtime's default set (containerd's 0xa80425fb without
    // CAP_MKNOD), for the container's own process (its PID 1) and for an exec into it; so the
    // machine's views it has read-only stay read-only, and the kernel's settings under
    // /proc/sys (here even the pod's own net.*, as with runc) cannot be written.
    let (code, out) = sh(
        &cluster,
        "solo",
        "first",
        "grep -h -E '^Cap(Bnd|Eff|Inh|Amb)' /proc/1/status /proc/self/status",
    );
    assert_eq!(code, 0, "{out}");
    for set in ["CapBnd", "CapEff"] {
        let lines: Vec<&str> = out.lines().filter(|l| l.starts_with(set)).collect();
        assert_eq!(lines.len(), 2, "{out}");
        assert!(lines.iter().all(|l| l.ends_with("00000000a00425fb")), "{out}");
    }
    assert!(
        out.lines()
            .filter(|l| l.starts_with("CapInh") || l.starts_with("CapAmb"))
            .all(|l| l.ends_with("0000000000000000")),
        "{out}"
    );
    let (_, out) = sh(
        &cluster,
        "solo",
        "first",
        "mount -o remount,rw /sys; echo remount=$?; \
         cat /proc/sys/net/ipv4/ip_forward > /proc/sys/net/ipv4/ip_forward; echo sysctl=$?; \
         grep -E ' /(sys|proc/(sys|sysrq-trigger|irq|bus|fs)) ' /proc/self/mountinfo | cut -d' ' -f5,6",
    );
    assert!(
        !out.contains("remount=0"),
        "a container remounted its /sys writable:\n{out}"
    );
    assert!(
        out.contains("Read-only file system") && !out.contains("sysctl=0"),
        "a container wrote /proc/sys:\n{out}"
    );
    let read_only = [
        "/sys ",
        "/proc/sys ",
        "/proc/sysrq-trigger ",
        "/proc/irq ",
        "/proc/bus ",
        "/proc/fs ",
    ];
    for at in read_only.into_iter().filter(|p| Path::new(p.trim_end()).exists()) {
        assert!(
            out.lines().any(|l| l.starts_with(at) && l.contains("ro,")),
            "{at}is not read-only in the container:\n{out}"
        );
    }

    // Filesystem: writes land in the container's layer, never on the machine.
    let in_tmp = format!("/tmp/podlab-iso-{tag}");
    let in_usr = format!("/usr/bin/zzz-podlab-iso-{tag}");
    let (code, out) = sh(
        &cluster,
        "solo",
        "first",
        &format!("touch {in_tmp} && echo tmp-ok; touch {in_usr} && echo usr-ok; ls {in_tmp}"),
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("tmp-ok") && out.contains(&in_tmp), "{out}");
    assert!(!Path::new(&in_tmp).exists(), "{in_tmp} reached the machine");
    assert!(!Path::new(&in_usr).exists(), "{in_usr} reached the machine");
    // The machine sees the write only through the container's own root.
    let sleeper = pid_running("sleep 3471").expect("the container's process");
    assert!(Path::new(&format!("/proc/{sleeper}/root{in_tmp}")).exists());
    let pod_dir = pod_dir_of(&cluster.name, "solo").expect("the pod's scratch directory");
    // As root the pods' scratch directories are a tmpfs of podlab's own, mounted nowhere (see
    // the last check below: the machine's mount table has nothing of podlab's).
    if run_base().starts_with("/run") {
        let fs = std::process::Command::new("stat")
            .args(["-f", "-L", "-c", "%T"])
            .arg(&pod_dir)
            .output()
            .unwrap();
        assert_eq!(text(&fs).trim(), "tmpfs", "{}", pod_dir.display());
    }
    // The machine's /tmp is not the container's.
    let (_, out) = sh(&cluster, "solo", "first", "ls -A /tmp");
    assert_eq!(
        out.trim(),
        in_tmp.trim_start_matches("/tmp/"),
        "the container's /tmp holds only what it wrote"
    );

    // Escaping the root (the chroot trick: chroot into a subdirectory, climb out with `..`,
    // chroot there) leads back into the container's own root (what lies beneath it is an
    // empty read-only directory with the container's root mounted on top): a file written
    // at the escaped `/` lands in the container's layer, not on the machine.
    let escaped = format!("/podlab-escaped-{tag}");
    let escape = format!(
        "import os\nos.makedirs('/tmp/esc', exist_ok=True)\nos.chroot('/tmp/esc')\n\
         for _ in range(64): os.chdir('..')\nos.chroot('.')\n\
         open('{escaped}', 'w').close()\nprint(os.path.exists('{in_tmp}'), os.path.exists('/proc/1'))\n"
    );
    let (code, out) = sh(&cluster, "solo", "first", &format!("python3 -c \"{escape}\""));
    assert_eq!(
        (code, out.trim()),
        (0, "True True"),
        "what an escaped process sees: {out}"
    );
    assert!(!Path::new(&escaped).exists(), "{escaped} reached the machine");
    assert!(Path::new(&format!("/proc/{sleeper}/root{escaped}")).exists());

    // Two containers of one pod see different /tmp (and different layers).
    let (code, out) = sh(
        &cluster,
        "solo",
        "second",
        &format!("test -e {in_tmp} && echo shared || echo separate"),
    );
    assert_eq!((code, out.trim()), (0, "separate"), "{out}");

    // /etc/hostname and /etc/hosts are the pod's.
    let (_, out) = sh(
        &cluster,
        "solo",
        "first",
        "cat /etc/hostname; cat /etc/hosts; echo ip=$POD_IP",
    );
    let ip = out
        .lines()
        .find_map(|l| l.strip_prefix("ip="))
        .unwrap_or_default()
        .to_string();
    assert!(out.starts_with("solo\n"), "{out}");
    assert!(!ip.is_empty() && out.contains(&format!("{ip}\tsolo")), "{out}");
    assert!(out.contains("127.0.0.1\tlocalhost"), "{out}");

    // shareProcessNamespace: one PID namespace, the pause process its PID 1.
    let (_, out) = sh(&cluster, "together", "one", "cat /proc/1/comm; ps -e -o args");
    assert!(out.starts_with("podlab-pause"), "{out}");
    assert!(out.contains("sleep 3602") && out.contains("sleep 3603"), "{out}");

    // Nothing of podlab's in the machine's mount table while the cluster runs.
    assert_eq!(podlab_mounts(), Vec::<String>::new());

    // Deleting the pod removes its layer.
    let out = cluster.run(&["delete", "pod", "solo"]);
    assert!(out.contains("deleted"), "{out}");
    assert!(
        eventually(20, || !pod_dir.exists()),
        "{} is still there after the pod was deleted",
        pod_dir.display()
    );
}

#[test]
fn kill_9_of_podlab_leaves_no_mounts_behind() {
    if !require_root("kill_9_of_podlab_leaves_no_mounts_behind") {
        return;
    }
    let cluster = UpCluster::up("tests/scenarios/isolation.yaml", "t-iso-k9");
    let pid: i32 = std::fs::read_to_string(run_base().join(&cluster.name).join("pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let (code, out) = sh(&cluster, "solo", "first", "grep -c overlay /proc/self/mountinfo");
    assert_eq!(code, 0, "the container's root is an overlay: {out}");
    let children = descendants_of(pid as u32);
    assert!(!children.is_empty());
    // SAFETY: kill(2) of the podlab daemon this test started.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(
        eventually(15, || children.iter().all(|c| !alive(*c))),
        "containers outlived podlab"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(podlab_mounts(), Vec::<String>::new());
}
