//! `podlab bench peers --quick --podlab-only` runs its podlab side end to end (pod network
//! setup/teardown, bring-up beside the bare rtnetlink loop, TCP across nodes beside a bare veth
//! pair), prints every row, and leaves the machine's root namespace as it found it. The peers
//! themselves (CNI plugins, Mininet) are not run here: that is a benchmark, not a test.

mod common;
use common::*;

#[test]
fn quick_podlab_side_prints_every_row_and_leaves_the_root_namespace_alone() {
    if !require_real_root("quick_podlab_side_prints_every_row_and_leaves_the_root_namespace_alone") {
        return;
    }
    let before = root_net_snapshot();
    let out = podlab()
        .args(["bench", "peers", "--quick", "--podlab-only"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for row in [
        "peers: skipped (--podlab-only)",
        "pod network setup, per pod",
        "pod network teardown, per pod",
        "bring-up, 10 pods on 2 node(s)",
        "bare rtnetlink loop",
        "10/10 each from a pod on another node",
        "all processes' PSS per pod, 10 pods",
        "TCP throughput, pod to pod across nodes",
        // Both paths' senders use cubic, whatever the machine's default (BBR paces a flow).
        "(TCP cubic)",
        "bare veth pair",
        "root network namespace: unchanged",
    ] {
        assert!(t.contains(row), "missing {row:?} in:\n{t}");
    }
    assert!(t.contains("not run"), "peers must not run with --podlab-only:\n{t}");
    assert_eq!(before, root_net_snapshot(), "the root namespace changed");
}
