//! Running containers hold none of podlab's descriptors: their ends are learnt by the reaper
//! (not a pidfd each) and their logs are files they write themselves; the children podlab
//! starts otherwise (`std::process::Command`) are still waited for by their own handles.
//! One test in its own binary, so no other test opens descriptors while it counts them.

use podlab_node_agent::logs::LogFile;
use podlab_node_agent::process::Exit;
use podlab_node_agent::spawner::ProcessSpec;
use podlab_node_agent::{Sandbox, SandboxKind, Spawner};
use std::path::PathBuf;

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn sh(sb: &Sandbox, log: &LogFile, script: &str) -> ProcessSpec {
    ProcessSpec {
        stdin: None,
        program: PathBuf::from("sh"),
        args: vec!["-c".into(), script.into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        join: sb.join_fds(),
        stdout: log.writer().unwrap(),
        stderr: log.writer().unwrap(),
        cwd: std::env::temp_dir(),
    }
}

#[test]
fn running_containers_hold_no_descriptor_and_every_end_is_reported() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        if std::env::var("PODLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
            panic!("needs root, and PODLAB_REQUIRE_ROOT=1 forbids skipping");
        }
        eprintln!("\n*** SKIPPED running_containers_hold_no_descriptor: needs root ***\n");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sp = Spawner::new();
    let sb = Sandbox::create(&sp, SandboxKind::Pod, "reaped").unwrap();
    let dir = std::env::temp_dir().join(format!("podlab-reaper-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let first = LogFile::create(dir.join("first.log")).unwrap();
    let warm = sp
        .spawn_process(sh(&sb, &first, "echo hello; echo oops >&2; exit 3"))
        .unwrap();
    assert_eq!(rt.block_on(warm.wait()).unwrap(), Exit::Code(3));
    assert_eq!(
        first.read_all(),
        "hello\noops\n",
        "stdout and stderr go to the log file"
    );

    let before = open_descriptors();
    let logs: Vec<LogFile> = (0..50)
        .map(|i| LogFile::create(dir.join(format!("c{i}.log"))).unwrap())
        .collect();
    let running: Vec<_> = logs
        .iter()
        .map(|log| sp.spawn_process(sh(&sb, log, "echo up; exec sleep 60")).unwrap())
        .collect();
    assert_eq!(
        open_descriptors(),
        before,
        "50 running containers, no descriptor held for them"
    );

    // A child of podlab's that the reaper must leave alone.
    let mut cmd = std::process::Command::new("sh").args(["-c", "exit 7"]).spawn().unwrap();
    assert_eq!(
        cmd.wait().unwrap().code(),
        Some(7),
        "Command's own child keeps its status"
    );

    let t = std::time::Instant::now();
    while logs[1].read_all().is_empty() && t.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(logs[1].read_all(), "up\n", "a running container writes its log itself");

    let pids: Vec<i32> = running.iter().map(|c| c.pid()).collect();
    let mut running = running.into_iter();
    let termed = running.next().unwrap();
    let sig = termed.signaler();
    sig.signal(libc::SIGTERM);
    assert_eq!(rt.block_on(termed.wait()).unwrap(), Exit::Signal(libc::SIGTERM));
    sig.signal(libc::SIGKILL); // after the reap: sent nowhere
    for c in running {
        assert_eq!(c.kill_and_reap(), Exit::Signal(libc::SIGKILL));
    }
    assert!(
        pids.iter()
            .all(|p| !std::path::Path::new(&format!("/proc/{p}")).exists()),
        "every container reaped, no zombie left"
    );
    let path = dir.join("c1.log");
    drop(logs);
    assert!(!path.exists(), "a dropped log's file is removed");
    drop(first);
    let _ = std::fs::remove_dir(&dir);
}
