//! podlab writes the ARP entries a pod network needs in advance (permanent neighbours: the
//! gateway in every pod, every pod on its node's bridge, every peer node on a node's uplink),
//! because the kernel's ARP table is
//! shared by all namespaces and capped at the root namespace's `gc_thresh3`.

mod common;
use common::*;

#[test]
fn pods_and_nodes_have_permanent_neighbour_entries() {
    if !require_root("pods_and_nodes_have_permanent_neighbour_entries") {
        return;
    }
    let name = format!("t-neigh-{}", std::process::id());
    let up = podlab()
        .args(["up", "tests/scenarios/live.yaml", "--name", &name])
        .output()
        .unwrap();
    assert!(up.status.success(), "{}", text(&up));
    let run = |args: &[&str]| {
        let o = podlab().args(args).env("PODLAB_CLUSTER", &name).output().unwrap();
        text(&o)
    };
    let pods = run(&["get", "pods", "-o", "wide"]);
    let (pod, ip, node) = pods
        .lines()
        .skip(1)
        .find(|l| l.contains("Running"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[5].to_string(), f[6].to_string())
        })
        .expect("a running pod");
    let gateway = format!("{}.1", ip.rsplit_once('.').unwrap().0);
    let in_pod = run(&["exec", &pod, "--", "ip", "neigh", "show"]);
    let in_node = run(&[
        "exec",
        &format!("node/{node}"),
        "--",
        "ip",
        "neigh",
        "show",
        "dev",
        "cni0",
    ]);
    let peer = if node == "worker-1" { "worker-2" } else { "worker-1" };
    let uplink = run(&[
        "exec",
        &format!("node/{node}"),
        "--",
        "ip",
        "neigh",
        "show",
        "dev",
        "eth0",
    ]);
    let peer_addr = run(&[
        "exec",
        &format!("node/{peer}"),
        "--",
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "dev",
        "eth0",
    ]);
    let peer_link = run(&[
        "exec",
        &format!("node/{peer}"),
        "--",
        "ip",
        "-o",
        "link",
        "show",
        "dev",
        "eth0",
    ]);
    let _ = podlab().args(["down", "--name", &name]).output();
    // inet 172.18.0.3/16 ... -> 172.18.0.3; link/ether 0a:58:ac:12:00:03 -> the MAC.
    let peer_ip = peer_addr
        .split_whitespace()
        .skip_while(|w| *w != "inet")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .unwrap_or_default()
        .to_string();
    let peer_mac = peer_link
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    assert!(
        uplink.lines().any(|l| l.starts_with(&format!("{peer_ip} "))
            && l.contains(&format!("lladdr {peer_mac} "))
            && l.contains("PERMANENT")),
        "node {node}: peer node {peer} ({peer_ip}, {peer_mac}) should be a permanent neighbour on eth0:\n{uplink}"
    );
    assert!(
        in_pod
            .lines()
            .any(|l| l.starts_with(&format!("{gateway} ")) && l.contains("PERMANENT")),
        "pod {pod}: the gateway {gateway} should be a permanent neighbour:\n{in_pod}"
    );
    assert!(
        in_node
            .lines()
            .any(|l| l.starts_with(&format!("{ip} ")) && l.contains("PERMANENT")),
        "node {node}: pod {pod} ({ip}) should be a permanent neighbour on cni0:\n{in_node}"
    );
}
