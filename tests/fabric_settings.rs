//! The settings podlab makes in its own namespaces stay there: the fabric namespace of a
//! running cluster lets bridged frames skip netfilter (`bridge-nf-call-*=0`), while the
//! machine's root namespace keeps its values.

mod common;
use common::*;

const SWITCHES: [&str; 3] = [
    "/proc/sys/net/bridge/bridge-nf-call-iptables",
    "/proc/sys/net/bridge/bridge-nf-call-ip6tables",
    "/proc/sys/net/bridge/bridge-nf-call-arptables",
];

#[test]
fn the_fabric_skips_netfilter_and_the_machine_keeps_its_settings() {
    if !require_root("the_fabric_skips_netfilter_and_the_machine_keeps_its_settings") {
        return;
    }
    if !std::path::Path::new(SWITCHES[0]).exists() {
        eprintln!("no br_netfilter in this kernel: nothing to check");
        return;
    }
    let root_before = root_net_snapshot();
    let cluster = UpCluster::up("tests/scenarios/live.yaml", "t-fabric");
    let clusters = text(&podlab().args(["clusters"]).output().unwrap());
    let daemon: u32 = clusters
        .lines()
        .find(|l| l.starts_with(&format!("{} ", cluster.name)))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no PID for {} in:\n{clusters}", cluster.name));
    let in_fabric: Vec<String> = SWITCHES
        .iter()
        .map(|s| {
            let o = nsenter(daemon).args(["-n", "cat", s]).output().unwrap();
            String::from_utf8_lossy(&o.stdout).trim().to_string()
        })
        .collect();
    cluster.down();
    assert_eq!(in_fabric, ["0", "0", "0"], "the fabric namespace (daemon pid {daemon})");
    assert_eq!(
        root_before,
        root_net_snapshot(),
        "the machine's own namespace must not change"
    );
}
