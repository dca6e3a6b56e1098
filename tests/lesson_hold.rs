//! A lesson holds the cluster still while the learner reads: `podlab run --lesson` on
//! scenarios/lessons/05-route-deleted.yaml, in a terminal (`script` gives podlab one), with
//! Enter pressed every 3 s — longer than the node agent's 2 s route reconcile period. Without
//! the hold, the route the lesson deletes was back before "traffic fails" could show it. While
//! it runs, the lesson's cluster answers `podlab get|topology --cluster NAME` and kubectl.

mod common;
use common::*;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn a_lesson_pause_holds_the_route_reconciler() {
    if !require_root("a_lesson_pause_holds_the_route_reconciler") {
        return;
    }
    let name = format!("t-lesson-{}", std::process::id());
    let cmd = format!(
        "{} run --lesson --name {name} scenarios/lessons/05-route-deleted.yaml",
        env!("CARGO_BIN_EXE_podlab")
    );
    let mut child = Command::new("script")
        .args(["-qfec", &cmd, "/dev/null"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdin = child.stdin.take().unwrap();
    let keys = std::thread::spawn(move || {
        // One Enter per narrated step (five), each after the learner "read" for 3 s.
        for _ in 0..8 {
            std::thread::sleep(Duration::from_secs(3));
            if stdin.write_all(b"\n").is_err() {
                return;
            }
        }
    });
    // While it waits, the lesson's cluster is there to look at: podlab's verbs and kubectl.
    let looked = {
        let name = name.clone();
        std::thread::spawn(move || {
            let get = |args: &[&str]| text(&podlab().args(args).args(["--cluster", &name]).output().unwrap());
            let up = eventually(15, || get(&["get", "pods"]).contains("Running"));
            let kubeconfig = run_base().join(&name).join("kubeconfig");
            let kubectl = Command::new("kubectl")
                .arg("--kubeconfig")
                .arg(&kubeconfig)
                .args(["get", "nodes"])
                .output()
                .map(|o| text(&o))
                .unwrap_or_default();
            (up, get(&["get", "pods"]), get(&["topology"]), kubectl)
        })
    };
    let out = child.wait_with_output().unwrap();
    let _ = keys.join();
    let (up, pods, topology, kubectl) = looked.join().unwrap();
    assert!(up, "the lesson's cluster was not reachable while it ran:\n{pods}");
    assert!(
        topology.contains("podlab0"),
        "podlab topology of the lesson:\n{topology}"
    );
    assert!(kubectl.contains("Ready"), "kubectl get nodes of the lesson:\n{kubectl}");
    let shown = text(&out);
    assert!(
        shown.contains("[Enter]"),
        "podlab did not pause in a terminal:\n{shown}"
    );
    assert!(!shown.contains('✗'), "a step failed:\n{shown}");
    assert!(out.status.success(), "{shown}");
}
