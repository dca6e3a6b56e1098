//! `podlab exec` sessions end with their pod, as a container's exec session does in
//! Kubernetes: a command still running when its pod is deleted (or the cluster goes down) is
//! killed and `podlab exec` reports exit code 137; nothing it started outlives the cluster.

mod common;
use common::*;
use std::time::{Duration, Instant};

/// Waits up to `limit` for `child` to exit; returns its exit code.
fn exit_within(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn an_exec_session_ends_when_its_pod_is_deleted_and_when_the_cluster_goes_down() {
    if !require_root("an_exec_session_ends_when_its_pod_is_deleted_and_when_the_cluster_goes_down") {
        return;
    }
    let cluster = UpCluster::up("tests/scenarios/live.yaml", "t-exec");
    // A short command still reports its own exit code.
    let mut quick = cluster
        .cmd()
        .args(["exec", "nginx", "--", "sh", "-c", "exit 7"])
        .spawn()
        .unwrap();
    assert_eq!(exit_within(&mut quick, Duration::from_secs(10)), Some(7));

    // A long one in a pod that gets deleted, and one in a node when the cluster goes down.
    let session = |target: &str| {
        cluster
            .cmd()
            .args(["exec", target, "--", "sleep", "300"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut in_pod = session("nginx");
    let mut in_node = session("node/worker-1");
    let sleeps = |parent: u32| -> Vec<u32> {
        descendants_of(parent)
            .into_iter()
            .filter(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep"))
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while (sleeps(in_pod.id()).is_empty() || sleeps(in_node.id()).is_empty()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let (pod_sleep, node_sleep) = (sleeps(in_pod.id()), sleeps(in_node.id()));
    assert!(!pod_sleep.is_empty() && !node_sleep.is_empty(), "both commands started");

    let deleted = cluster.run(&["delete", "pod", "nginx"]);
    let code = exit_within(&mut in_pod, Duration::from_secs(15));
    let node_still_running = in_node.try_wait().unwrap().is_none();
    cluster.down();
    let node_code = exit_within(&mut in_node, Duration::from_secs(15));
    for c in [&mut in_pod, &mut in_node] {
        let _ = c.kill();
        let _ = c.wait();
    }
    assert_eq!(code, Some(137), "exec in a deleted pod ends with 137 ({deleted})");
    assert!(node_still_running, "deleting a pod leaves a node's exec session alone");
    assert_eq!(node_code, Some(137), "exec in a node ends when the cluster goes down");
    let alive: Vec<u32> = pod_sleep
        .into_iter()
        .chain(node_sleep)
        .filter(|p| std::path::Path::new(&format!("/proc/{p}")).exists())
        .collect();
    assert!(alive.is_empty(), "commands left running: {alive:?}");
}
