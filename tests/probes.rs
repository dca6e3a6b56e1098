//! Probes and container semantics on a live cluster (tests/scenarios/probes.yaml, timeScale
//! 0.1): the Kubernetes docs' liveness-exec pod is restarted once its file goes (RESTARTS 1,
//! kubelet's event text), an httpGet readiness probe flips the READY column both ways,
//! `$(VAR)` and the downward API expand, requests below limits are Burstable, and `logs` of a
//! container that never started says it is waiting to start, and CrashLoopBackOff waits
//! 10 s, 20 s, 40 s (scaled) between restarts.

mod common;
use common::*;

/// The `get pods` row of `pod`.
fn row(cluster: &UpCluster, pod: &str) -> String {
    let t = cluster.run(&["get", "pods"]);
    t.lines()
        .find(|l| l.split_whitespace().next() == Some(pod))
        .unwrap_or_default()
        .to_string()
}

/// Column `n` (0-based) of a `get pods` row.
fn col(row: &str, n: usize) -> String {
    row.split_whitespace().nth(n).unwrap_or_default().to_string()
}

#[test]
fn probes_expansion_qos_and_logs_on_a_live_cluster() {
    if !require_root("probes_expansion_qos_and_logs_on_a_live_cluster") {
        return;
    }
    let before = root_net_snapshot();
    let cluster = UpCluster::up("tests/scenarios/probes.yaml", "t-probes");
    liveness_restarts(&cluster);
    if std::path::Path::new("/usr/bin/python3").exists() {
        readiness_flips_ready(&cluster);
    } else {
        eprintln!("skipping the readiness part: no /usr/bin/python3 to serve HTTP");
    }
    expansion_qos_and_waiting_logs(&cluster);
    back_off_doubles(&cluster);
    cluster.down();
    assert_eq!(before, root_net_snapshot(), "the root network namespace changed");
}

/// Healthy for 3 s, then three failed probes 0.5 s apart restart the container.
fn liveness_restarts(cluster: &UpCluster) {
    assert!(
        eventually(30, || col(&row(cluster, "liveness-exec"), 3) == "1"),
        "liveness-exec restarted once: {}",
        cluster.run(&["describe", "pod", "liveness-exec"])
    );
    let d = cluster.run(&["describe", "pod", "liveness-exec"]);
    assert!(d.contains("Liveness probe failed: cat: "), "{d}");
    assert!(
        d.contains("Container liveness failed liveness probe, will be restarted"),
        "{d}"
    );
    assert!(d.contains("Unhealthy") && d.contains("Killing"), "{d}");
    // The count rises when the old run ends; the new one starts right after (a pull first:
    // `busybox` is `:latest`, pulled Always), as with kubectl against a kubelet.
    assert!(
        eventually(10, || col(&row(cluster, "liveness-exec"), 2) == "Running"),
        "{}",
        cluster.run(&["describe", "pod", "liveness-exec"])
    );
}

/// Not ready while /ready answers 404, ready once its file exists, and back.
fn readiness_flips_ready(cluster: &UpCluster) {
    assert!(
        eventually(20, || row(cluster, "ready-web").contains("Running")),
        "{}",
        cluster.run(&["describe", "pod", "ready-web"])
    );
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(col(&row(cluster, "ready-web"), 1), "0/1", "no /ready yet");
    let d = cluster.run(&["describe", "pod", "ready-web"]);
    assert!(
        d.contains("Readiness probe failed: HTTP probe failed with statuscode: 404"),
        "{d}"
    );
    cluster.run(&["exec", "ready-web", "--", "sh", "-c", "touch \"$READY_FILE\""]);
    assert!(
        eventually(15, || col(&row(cluster, "ready-web"), 1) == "1/1"),
        "ready once /ready answers 200: {}",
        cluster.run(&["describe", "pod", "ready-web"])
    );
    cluster.run(&["exec", "ready-web", "--", "sh", "-c", "rm \"$READY_FILE\""]);
    assert!(
        eventually(15, || col(&row(cluster, "ready-web"), 1) == "0/1"),
        "not ready once /ready fails: {}",
        cluster.run(&["describe", "pod", "ready-web"])
    );
}

/// `$(VAR)` and the downward API expand in env and command; requests below limits are
/// Burstable; `logs` of a container that never started says it is waiting, and fails.
fn expansion_qos_and_waiting_logs(cluster: &UpCluster) {
    assert!(
        eventually(20, || cluster.run(&["logs", "env-echo"]).contains('|')),
        "{}",
        cluster.run(&["describe", "pod", "env-echo"])
    );
    let out = cluster.run(&["logs", "env-echo"]);
    assert!(
        out.contains("hello world from $(POD)|env-echo|shop|worker-1|$(WHO)|$(NOPE)"),
        "{out}"
    );
    let d = cluster.run(&["describe", "pod", "env-echo"]);
    assert!(d.contains("QoS Class:                   Burstable"), "{d}");
    assert!(d.contains("    Limits:\n      cpu:  200m\n      memory:  64Mi"), "{d}");
    let json = cluster.run(&["get", "pod", "env-echo", "-o", "json"]);
    assert!(json.contains("\"qosClass\": \"Burstable\""), "{json}");
    assert!(eventually(20, || row(cluster, "never-starts").contains("ImagePull")));
    let out = cluster.cmd().args(["logs", "never-starts"]).output().unwrap();
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(
        t.contains("container \"app\" in pod \"never-starts\" is waiting to start: "),
        "{t}"
    );
}

/// RESTARTS of crash-loop goes 1 (at once), 2 (after 1 s), 3 (after 2 s more), 4 (after 4 s
/// more): Kubernetes' 10 s, 20 s, 40 s back-off at timeScale 0.1.
fn back_off_doubles(cluster: &UpCluster) {
    let applied = cluster.run(&["apply", "-f", "tests/scenarios/crash-loop-pod.yaml"]);
    assert!(applied.contains("created"), "{applied}");
    let restarts = || col(&row(cluster, "crash-loop"), 3).parse::<u32>().unwrap_or(0);
    let mut at = Vec::new();
    let start = std::time::Instant::now();
    while at.len() < 4 && start.elapsed() < std::time::Duration::from_secs(30) {
        let n = restarts() as usize;
        while at.len() < n.min(4) {
            at.push(start.elapsed().as_secs_f64());
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(at.len(), 4, "four restarts within 30 s: {at:?}");
    let gaps: Vec<f64> = at.windows(2).map(|w| w[1] - w[0]).collect();
    for (gap, want) in gaps.iter().zip([1.0, 2.0, 4.0]) {
        assert!(
            *gap > want * 0.8 && *gap < want + 1.5,
            "restart gaps {gaps:?} (at {at:?}), expected about 1 s, 2 s, 4 s"
        );
    }
    let d = cluster.run(&["describe", "pod", "crash-loop"]);
    assert!(d.contains("CrashLoopBackOff") || d.contains("back-off"), "{d}");
}
