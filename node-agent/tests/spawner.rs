//! The spawner as a user of podlab meets it: pause processes that hold a pod's namespaces
//! (hostname set, IPv4-only interfaces, gone when dropped) and containers started inside them
//! (exit codes reported, a missing program is an error, not a hang).

use podlab_node_agent::process::{Exit, Process};
use podlab_node_agent::spawner::ProcessSpec;
use podlab_node_agent::{Sandbox, SandboxKind, Spawner};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

fn require_root(test: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    if std::env::var("PODLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: needs root, and PODLAB_REQUIRE_ROOT=1 forbids skipping");
    }
    eprintln!("\n*** SKIPPED {test}: kernel tests need root (run: sudo -E cargo test --workspace) ***\n");
    false
}

fn sink() -> OwnedFd {
    OwnedFd::from(std::fs::OpenOptions::new().write(true).open("/dev/null").unwrap())
}

fn run_in(sp: &Spawner, sb: &Sandbox, argv: &[&str]) -> std::io::Result<(Exit, String)> {
    let out = tempfile_path();
    let file = std::fs::File::create(&out).unwrap();
    let pid = sp.spawn_process(ProcessSpec {
        program: PathBuf::from(argv[0]),
        args: argv[1..].iter().map(|s| s.to_string()).collect(),
        env: vec![("PATH".into(), "/usr/sbin:/usr/bin:/sbin:/bin".into())],
        join: sb.join_fds(),
        stdout: OwnedFd::from(file),
        stderr: sink(),
        cwd: std::env::temp_dir(),
    })?;
    let exit = wait_exit(Process::adopt(pid)?);
    let text = std::fs::read_to_string(&out).unwrap_or_default();
    let _ = std::fs::remove_file(&out);
    Ok((exit, text))
}

fn tempfile_path() -> PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "podlab-spawner-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Waits for a short command to end by itself and reaps it.
fn wait_exit(p: Process) -> Exit {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(p.wait()).unwrap()
}

/// Whether `pid` is a live (not zombie) pause process.
fn live_pause(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.contains("(podlab-pause)") && !s.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn containers_run_inside_the_pod_and_report_their_exit_code() {
    if !require_root("containers_run_inside_the_pod_and_report_their_exit_code") {
        return;
    }
    let sp = Spawner::new();
    let sb = Sandbox::create(&sp, SandboxKind::Pod, "kubia-7d4f").unwrap();
    let (exit, out) = run_in(&sp, &sb, &["hostname"]).unwrap();
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(out.trim(), "kubia-7d4f", "the pod's UTS namespace carries its name");
    let (exit, _) = run_in(&sp, &sb, &["sh", "-c", "exit 3"]).unwrap();
    assert_eq!(exit.code(), 3);
    // IPv4 single-stack: lo keeps ::1, interfaces made later get no IPv6 (checked on a dummy).
    let (_, out) = run_in(&sp, &sb, &["cat", "/proc/sys/net/ipv6/conf/lo/disable_ipv6"]).unwrap();
    assert_eq!(out.trim(), "0", "lo keeps IPv6 (::1)");
    let err = run_in(&sp, &sb, &["no-such-program-podlab"]).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
}

#[test]
fn node_namespaces_are_ipv4_only_for_new_interfaces() {
    if !require_root("node_namespaces_are_ipv4_only_for_new_interfaces") {
        return;
    }
    let sp = Spawner::new();
    let node = Sandbox::create(&sp, SandboxKind::Node, "worker-9").unwrap();
    let (_, out) = run_in(&sp, &node, &["cat", "/proc/sys/net/ipv6/conf/default/disable_ipv6"]).unwrap();
    if std::path::Path::new("/proc/sys/net/ipv6").exists() {
        assert_eq!(out.trim(), "1");
    }
}

#[test]
fn many_sandboxes_at_once_then_none_left() {
    if !require_root("many_sandboxes_at_once_then_none_left") {
        return;
    }
    let sp = Spawner::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let sandboxes: Vec<Sandbox> = rt.block_on(async {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                let sp = sp.clone();
                tokio::spawn(async move { Sandbox::create_async(&sp, SandboxKind::Pod, &format!("p-{i}")).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    let mut netns: Vec<_> = sandboxes
        .iter()
        .map(|s| std::fs::read_link(format!("/proc/{}/ns/net", s.pid())).unwrap())
        .collect();
    netns.sort();
    netns.dedup();
    assert_eq!(netns.len(), 200, "every sandbox has a network namespace of its own");
    let pids: Vec<i32> = sandboxes.iter().map(|s| s.pid()).collect();
    assert!(
        pids.iter().all(|&p| live_pause(p)),
        "each sandbox is held by a podlab-pause process"
    );
    drop(sandboxes);
    assert!(
        pids.iter().all(|&p| !live_pause(p)),
        "dropping a sandbox ends its pause process"
    );
    drop(sp);
}
