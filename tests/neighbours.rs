//! podlab writes the ARP entries a pod network needs in advance (permanent neighbours: the
//! gateway in every pod, every pod on its node's bridge, every peer node on a node's uplink),
//! because the kernel's ARP table is shared by all namespaces and capped at the root
//! namespace's `gc_thresh3`.

mod common;
use common::*;

/// The word after `key` in `text` (`inet 172.18.0.3/16` -> `172.18.0.3/16`), or "".
fn after(text: &str, key: &str) -> String {
    text.split_whitespace()
        .skip_while(|w| *w != key)
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[test]
fn pods_and_nodes_have_permanent_neighbour_entries() {
    if !require_root("pods_and_nodes_have_permanent_neighbour_entries") {
        return;
    }
    let cluster = UpCluster::up("tests/scenarios/live.yaml", "t-neigh");
    // `ip ARGS` run inside a pod or node/NAME.
    let ip = |target: &str, args: &[&str]| {
        let argv: Vec<&str> = ["exec", target, "--", "ip"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        cluster.run(&argv)
    };
    let pods = cluster.run(&["get", "pods", "-o", "wide"]);
    let (pod, pod_ip, node) = pods
        .lines()
        .skip(1)
        .find(|l| l.contains("Running"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[5].to_string(), f[6].to_string())
        })
        .expect("a running pod");
    let gateway = format!("{}.1", pod_ip.rsplit_once('.').unwrap().0);
    let peer = if node == "worker-1" { "worker-2" } else { "worker-1" };
    let (node_t, peer_t) = (format!("node/{node}"), format!("node/{peer}"));
    let in_pod = ip(&pod, &["neigh", "show"]);
    let on_bridge = ip(&node_t, &["neigh", "show", "dev", "cni0"]);
    let on_uplink = ip(&node_t, &["neigh", "show", "dev", "eth0"]);
    let peer_addr = after(&ip(&peer_t, &["-o", "-4", "addr", "show", "dev", "eth0"]), "inet");
    let peer_ip = peer_addr.split('/').next().unwrap_or_default().to_string();
    let peer_mac = after(&ip(&peer_t, &["-o", "link", "show", "dev", "eth0"]), "link/ether");
    // A deleted pod's entry goes with it (`ip neigh` on the node lists only live pods).
    cluster.run(&["delete", "pod", &pod]);
    let after_delete = ip(&node_t, &["neigh", "show", "dev", "cni0"]);
    cluster.down();

    let permanent = |table: &str, ip: &str| {
        table
            .lines()
            .any(|l| l.starts_with(&format!("{ip} ")) && l.contains("PERMANENT"))
    };
    assert!(
        permanent(&in_pod, &gateway),
        "pod {pod}: the gateway {gateway} should be a permanent neighbour:\n{in_pod}"
    );
    assert!(
        permanent(&on_bridge, &pod_ip),
        "node {node}: pod {pod} ({pod_ip}) should be a permanent neighbour on cni0:\n{on_bridge}"
    );
    assert!(
        !after_delete.lines().any(|l| l.starts_with(&format!("{pod_ip} "))),
        "node {node}: pod {pod} ({pod_ip}) was deleted but cni0 still has an entry for it:\n{after_delete}"
    );
    assert!(
        permanent(&on_uplink, &peer_ip) && on_uplink.contains(&format!("{peer_ip} lladdr {peer_mac} ")),
        "node {node}: peer node {peer} ({peer_ip}, {peer_mac}) should be a permanent neighbour on eth0:\n{on_uplink}"
    );
}
