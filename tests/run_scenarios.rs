//! End-to-end: `podlab run` on the bundled scenarios, as a learner runs them, on the real
//! kernel dataplane (root), checking what the user sees and that nothing is left behind.

mod common;
use common::*;

fn run_ok(file: &str) -> String {
    let before = root_net_snapshot();
    let out = podlab().args(["run", file]).output().expect("running podlab");
    let t = text(&out);
    assert!(out.status.success(), "podlab run {file} failed:\n{t}");
    assert!(t.contains("PASS:"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    assert_eq!(
        before,
        root_net_snapshot(),
        "the root network namespace changed during {file}"
    );
    t
}

#[test]
fn hello_nginx_is_reached_from_another_pod() {
    if !require_root("hello_nginx_is_reached_from_another_pod") {
        return;
    }
    let t = run_ok("scenarios/hello.yaml");
    assert!(t.contains("Welcome to nginx!"), "{t}");
    assert!(t.contains("the receiver saw the sender's own pod IP (no NAT)"), "{t}");
    // kubectl get pods -o wide table with pod IPs from the node ranges.
    assert!(t.contains("NAME") && t.contains("IP") && t.contains("NODE"), "{t}");
    assert!(t.contains("10.244."), "{t}");
}

#[test]
fn split_tiers_talk_across_nodes_with_the_senders_pod_ip() {
    if !require_root("split_tiers_talk_across_nodes_with_the_senders_pod_ip") {
        return;
    }
    let t = run_ok("scenarios/frontend-backend/split.yaml");
    assert!(
        t.contains("client_ip: 10.244."),
        "the backend must see the frontend's pod IP:\n{t}"
    );
    assert!(t.contains("worker-1") && t.contains("worker-2"), "{t}");
}

#[test]
fn one_pod_tiers_talk_over_localhost() {
    if !require_root("one_pod_tiers_talk_over_localhost") {
        return;
    }
    let t = run_ok("scenarios/frontend-backend/one-pod.yaml");
    assert!(t.contains("client_ip: 127.0.0.1"), "{t}");
}

#[test]
fn sidecar_shares_localhost_with_the_web_server() {
    if !require_root("sidecar_shares_localhost_with_the_web_server") {
        return;
    }
    run_ok("scenarios/sidecar.yaml");
}

#[test]
fn two_containers_on_one_port_collide_for_real() {
    if !require_root("two_containers_on_one_port_collide_for_real") {
        return;
    }
    let t = run_ok("scenarios/port-conflict.yaml");
    assert!(t.contains("clash"), "{t}");
}

#[test]
fn hand_written_replicas_spread_over_nodes() {
    if !require_root("hand_written_replicas_spread_over_nodes") {
        return;
    }
    let t = run_ok("scenarios/replicas-by-hand.yaml");
    assert!(t.contains("You've hit kubia-2"), "{t}");
}

#[test]
fn plain_manifest_runs_on_a_default_cluster() {
    if !require_root("plain_manifest_runs_on_a_default_cluster") {
        return;
    }
    let t = run_ok("scenarios/manifests/kubia-manual.yaml");
    assert!(t.contains("kubia-manual") && t.contains("Running"), "{t}");
}

#[test]
fn plain_manifest_with_unknown_image_is_explained_like_describe() {
    if !require_root("plain_manifest_with_unknown_image_is_explained_like_describe") {
        return;
    }
    let out = podlab()
        .args(["run", "tests/scenarios/missing-image.yaml"])
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("ErrImagePull") || t.contains("ImagePullBackOff"), "{t}");
    assert!(t.contains("Events:"), "describe output expected:\n{t}");
}

#[test]
fn failed_check_exits_1_and_leaves_nothing() {
    if !require_root("failed_check_exits_1_and_leaves_nothing") {
        return;
    }
    let before = root_net_snapshot();
    let netns_before = named_netns();
    let out = podlab().args(["run", "tests/scenarios/failing.yaml"]).output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("exit code 3"), "{t}");
    assert!(t.contains("FAIL: 1 passed, 1 failed"), "{t}");
    assert_eq!(before, root_net_snapshot());
    assert_eq!(netns_before, named_netns());
}

#[test]
fn model_dataplane_runs_without_touching_the_kernel() {
    // Works as any user: nothing is created, checks that need packets are skipped and say so.
    let before = root_net_snapshot();
    let out = podlab()
        .args(["run", "--dataplane", "model", "scenarios/frontend-backend/split.yaml"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("model dataplane"), "{t}");
    assert!(t.contains("skipped"), "{t}");
    assert_eq!(before, root_net_snapshot());
}

#[test]
fn model_dataplane_places_5000_replicas_on_500_generated_nodes() {
    let out = podlab()
        .args([
            "run",
            "--dataplane",
            "model",
            "scenarios/scale/deployment-500-nodes.yaml",
        ])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("5000 pods on 500 nodes in all"), "{t}");
}

#[test]
fn every_lesson_runs_and_passes() {
    if !require_root("every_lesson_runs_and_passes") {
        return;
    }
    let mut lessons: Vec<_> = std::fs::read_dir(repo("scenarios/lessons"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    lessons.sort();
    assert!(lessons.len() >= 5);
    for l in lessons {
        // --lesson pauses only when stdin is a terminal; here it runs straight through.
        let out = podlab().args(["run", "--lesson"]).arg(&l).output().unwrap();
        let t = text(&out);
        assert!(out.status.success(), "{}:\n{t}", l.display());
        assert!(t.contains("»"), "a lesson narrates its steps:\n{t}");
    }
}

#[test]
fn the_scheduler_profile_comes_from_the_scenario() {
    // Model dataplane: runs as any user.
    let out = podlab()
        .args(["run", "--dataplane", "model", "scenarios/scheduler-profile.yaml"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("MostAllocated packs the replicas onto one node"), "{t}");
}
