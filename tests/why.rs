//! `podlab why SRC DST[:PORT]` names the first reason traffic would fail, from the kernel; each
//! cause is made by breaking the cluster that way (always inside podlab's own namespaces).

mod common;
use common::*;

/// `podlab why ...`: its exit code and text.
fn why(c: &UpCluster, src: &str, dst: &str) -> (i32, String) {
    let o = c.cmd().args(["why", src, dst]).output().unwrap();
    (o.status.code().unwrap_or(-1), text(&o))
}

#[test]
fn why_names_each_cause_and_exits_0_when_the_path_works() {
    if !require_root("why_names_each_cause_and_exits_0_when_the_path_works") {
        return;
    }
    let before = root_net_snapshot();
    let c = UpCluster::up("tests/scenarios/why.yaml", "t-why");
    let running = |pod: &str| {
        c.run(&["get", "pods"])
            .lines()
            .any(|l| l.starts_with(pod) && l.contains("Running"))
    };
    assert!(
        eventually(20, || ["client-a", "db", "local"].iter().all(|p| running(p))),
        "{}",
        c.run(&["get", "pods"])
    );

    let (code, t) = why(&c, "client-a", "db:8080");
    assert_eq!(code, 0, "{t}");
    assert!(
        t.contains("OK: pod default/client-a reaches pod default/db:8080") && t.contains("no NAT"),
        "{t}"
    );

    let (code, t) = why(&c, "client-a", "db:9999");
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("nothing listens on TCP port 9999 in pod default/db"), "{t}");

    // A server bound to 127.0.0.1: its own containers reach it, other pods do not.
    assert!(
        eventually(15, || why(&c, "client-a", "local:7000").1.contains("127.0.0.1")),
        "{}",
        why(&c, "client-a", "local:7000").1
    );
    let (code, t) = why(&c, "client-a", "local:7000");
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("listens on 127.0.0.1 port 7000 only"), "{t}");

    // Two containers of one pod on one port: the first serves, the second cannot bind.
    assert!(
        eventually(20, || why(&c, "client-a", "clash:8080")
            .1
            .contains("address already in use")),
        "{}",
        why(&c, "client-a", "clash:8080").1
    );

    // Forwarding off in the destination's node (inside its namespace, not the machine's).
    c.run(&["exec", "node/worker-2", "--", "sysctl", "-w", "net.ipv4.ip_forward=0"]);
    let (code, t) = why(&c, "client-a", "db:8080");
    assert_eq!(code, 1, "{t}");
    assert!(
        t.contains("node worker-2 does not forward: net.ipv4.ip_forward is 0"),
        "{t}"
    );
    c.run(&["exec", "node/worker-2", "--", "sysctl", "-w", "net.ipv4.ip_forward=1"]);

    // A missing host-gw route (the node agent puts it back within ~2 s: try a few times).
    let missing = (0..5).any(|_| {
        c.run(&["exec", "node/worker-1", "--", "ip", "route", "del", "10.244.2.0/24"]);
        let (code, t) = why(&c, "client-a", "db:8080");
        code == 1 && t.contains("the host-gw route 10.244.2.0/24 via 172.18.0.3 (pods of worker-2) is missing")
    });
    assert!(missing, "{}", why(&c, "client-a", "db:8080").1);
    assert!(
        eventually(10, || why(&c, "client-a", "db:8080").0 == 0),
        "the route came back"
    );

    // The next hop does not answer ARP: worker-2's uplink ignores ARP requests, worker-1
    // loses the entry podlab wrote, and its new one for 172.18.0.3 never completes.
    let arp_ignore = |v: &str| {
        let set = format!("net.ipv4.conf.eth0.arp_ignore={v}");
        c.run(&["exec", "node/worker-2", "--", "sysctl", "-qw", &set]);
    };
    arp_ignore("8");
    c.run(&[
        "exec",
        "node/worker-1",
        "--",
        "ip",
        "neigh",
        "del",
        "172.18.0.3",
        "dev",
        "eth0",
    ]);
    let (code, t) = why(&c, "client-a", "db:8080");
    arp_ignore("0");
    assert_eq!(code, 1, "{t}");
    assert!(
        t.contains("node worker-1: the neighbour entry for 172.18.0.3 on eth0 is FAILED"),
        "{t}"
    );
    assert!(
        eventually(15, || why(&c, "client-a", "db:8080").0 == 0),
        "ARP came back"
    );

    // A node that is down.
    c.run(&["node", "down", "worker-2"]);
    let (code, t) = why(&c, "client-a", "db:8080");
    assert_eq!(code, 1, "{t}");
    assert!(t.contains("node worker-2 is down"), "{t}");
    drop(c);
    assert_eq!(before, root_net_snapshot(), "the root namespace changed");
}
