//! A lesson holds the cluster still while the learner reads: `podlab run --lesson` on
//! scenarios/lessons/05-route-deleted.yaml, in a terminal (`script` gives podlab one), with
//! Enter pressed every 3 s — longer than the node agent's 2 s route reconcile period. Without
//! the hold, the route the lesson deletes was back before "traffic fails" could show it.

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
    let cmd = format!(
        "{} run --lesson scenarios/lessons/05-route-deleted.yaml",
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
    let out = child.wait_with_output().unwrap();
    let _ = keys.join();
    let shown = text(&out);
    assert!(
        shown.contains("[Enter]"),
        "podlab did not pause in a terminal:\n{shown}"
    );
    assert!(!shown.contains('✗'), "a step failed:\n{shown}");
    assert!(out.status.success(), "{shown}");
}
