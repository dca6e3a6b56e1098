//! End-to-end: `kill -9` of a running `podlab run` leaves no process, namespace, veth or
//! runtime file behind, because every pause process and container dies with podlab
//! (PR_SET_PDEATHSIG) and the cluster's network lives only in namespaces they hold.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn kill_9_of_podlab_leaves_nothing_behind() {
    if !require_root("kill_9_of_podlab_leaves_nothing_behind") {
        return;
    }
    let before = root_net_snapshot();
    let mut child = podlab()
        .args(["run", "tests/scenarios/long.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    // Wait until the pods are Running (the first step passed).
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen += &line;
        seen.push('\n');
        if line.contains("✓ [1]") {
            break;
        }
        assert!(!line.contains("✗"), "{seen}");
    }
    let kids = descendants_of(pid);
    assert!(
        kids.len() >= 5,
        "expected node and pod pause processes and containers, got {kids:?}\n{seen}"
    );
    let mut inodes: Vec<String> = kids.iter().filter_map(|&k| netns_of(k)).collect();
    inodes.extend(netns_of(pid));
    inodes.sort();
    inodes.dedup();
    assert!(run_base().join(format!("long-{pid}")).exists() || run_base().exists());

    // SAFETY: killing the child we started, by pid.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    child.wait().unwrap();

    assert!(
        eventually(5, || kids.iter().all(|&k| !alive(k))),
        "processes survived kill -9: {:?}",
        kids.iter().filter(|&&k| alive(k)).collect::<Vec<_>>()
    );
    assert!(
        eventually(5, || processes_in(&inodes).is_empty()),
        "namespaces still held: {:?}",
        processes_in(&inodes)
    );
    assert_eq!(before, root_net_snapshot(), "root namespace changed");
    assert!(named_netns().iter().all(|n| !n.contains("podlab")));

    // The next run detects and removes the dead run's runtime directory.
    let out = podlab()
        .args(["run", "scenarios/manifests/nginx-pod.yaml"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        !run_base().join(format!("long-{pid}")).exists(),
        "stale runtime dir not cleaned"
    );
}

#[test]
fn ctrl_c_tears_the_cluster_down() {
    if !require_root("ctrl_c_tears_the_cluster_down") {
        return;
    }
    let before = root_net_snapshot();
    let mut child = podlab()
        .args(["run", "tests/scenarios/long.yaml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().contains("✓ [1]") {
            break;
        }
    }
    let kids = descendants_of(pid);
    // SAFETY: signalling the child we started, by pid.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(rest.iter().any(|l| l.contains("Deleted cluster")), "{rest:?}");
    assert!(kids.iter().all(|&k| !alive(k)));
    assert_eq!(before, root_net_snapshot());
}
