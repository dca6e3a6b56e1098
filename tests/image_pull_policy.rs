//! End-to-end: the book's "ImagePullBackOff for a locally built image" story
//! (scenarios/image-pull-policy.yaml) on the real kernel dataplane: an untagged image that is
//! only on the nodes fails to pull (default policy Always), `imagePullPolicy: IfNotPresent`
//! runs the node's copy, and an image from the scenario's registry is pulled on first use.

mod common;
use common::*;

#[test]
fn untagged_local_image_backs_off_and_if_not_present_fixes_it() {
    if !require_root("untagged_local_image_backs_off_and_if_not_present_fixes_it") {
        return;
    }
    let before = root_net_snapshot();
    let out = podlab()
        .args(["run", "scenarios/image-pull-policy.yaml"])
        .output()
        .expect("running podlab");
    let t = text(&out);
    assert!(out.status.success(), "podlab run failed:\n{t}");
    assert!(t.contains("PASS: 10 passed, 0 failed"), "{t}");
    assert!(t.contains("You've hit kubia-fixed"), "{t}");
    // The final table shows the stuck pod as kubectl would, next to the fixed one.
    let row = |name: &str| t.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(row("kubia-local ").contains("ImagePullBackOff"), "{t}");
    assert!(row("kubia-fixed ").contains("Running"), "{t}");
    assert!(row("kubia-pushed ").contains("Running"), "{t}");
    assert!(!t.contains("panicked"), "{t}");
    assert_eq!(before, root_net_snapshot(), "the root network namespace changed");
}

#[test]
fn the_story_is_computed_the_same_way_without_the_kernel() {
    // The model dataplane runs no processes but makes the same pull decisions.
    let out = podlab()
        .args(["run", "--dataplane", "model", "scenarios/image-pull-policy.yaml"])
        .output()
        .expect("running podlab");
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("9 passed, 0 failed, 1 skipped"),
        "only the exec step needs processes:\n{t}"
    );
    let row = |name: &str| t.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(row("kubia-local ").contains("ImagePullBackOff"), "{t}");
    assert!(row("kubia-fixed ").contains("Running"), "{t}");
    assert!(row("kubia-pushed ").contains("Running"), "{t}");
}
