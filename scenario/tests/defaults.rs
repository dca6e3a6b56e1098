//! Defaults a user gets without writing them.

use podlab_scenario::{ClusterSpec, DEFAULT_EXEC_TIMEOUT, DEFAULT_WAIT_TIMEOUT};

#[test]
fn default_cluster_is_two_workers_with_kind_like_ranges() {
    let c = ClusterSpec::default();
    assert_eq!(c.name, "podlab");
    let names: Vec<&str> = c.nodes.iter().map(|n| n.metadata.name.as_deref().unwrap()).collect();
    assert_eq!(names, ["worker-1", "worker-2"]);
    assert_eq!(c.pod_cidr.to_string(), "10.244.0.0/16");
    assert_eq!(c.node_cidr_prefix, 24);
    assert_eq!(c.fabric_cidr.to_string(), "172.18.0.0/16");
    assert_eq!(c.scheduler.seed, 0);
    assert_eq!(c.scheduler.scoring, "LeastAllocated");
    assert_eq!(c.time_scale, 1.0);
    for (i, node) in c.nodes.iter().enumerate() {
        let status = node.status.as_ref().unwrap();
        for q in [status.capacity.as_ref().unwrap(), status.allocatable.as_ref().unwrap()] {
            assert_eq!(q["cpu"].0, "2");
            assert_eq!(q["memory"].0, "4Gi");
            assert_eq!(q["pods"].0, "110");
        }
        let labels = node.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], node.metadata.name.clone().unwrap());
        assert_eq!(labels["kubernetes.io/os"], "linux");
        let spec = node.spec.as_ref().unwrap();
        // worker-N gets 10.244.N.0/24, as in kind (block 0 belongs to the control plane there).
        assert_eq!(
            spec.pod_cidr.as_deref(),
            Some(format!("10.244.{}.0/24", i + 1).as_str())
        );
        assert_eq!(spec.taints, None);
        assert_eq!(spec.unschedulable, None);
    }
    assert_eq!(c.node_ranges(), 255);
}

#[test]
fn default_timeouts() {
    assert_eq!(DEFAULT_WAIT_TIMEOUT.as_secs(), 60);
    assert_eq!(DEFAULT_EXEC_TIMEOUT.as_secs(), 10);
}

#[test]
fn quantities_parse_like_the_api_server() {
    use podlab_scenario::parse_quantity;
    assert_eq!(parse_quantity("2"), Ok(2.0));
    assert_eq!(parse_quantity("500m"), Ok(0.5));
    assert_eq!(parse_quantity("4Gi"), Ok(4.0 * 1024.0 * 1024.0 * 1024.0));
    assert_eq!(parse_quantity("1k"), Ok(1000.0));
    assert_eq!(parse_quantity("1e3"), Ok(1000.0));
    assert_eq!(parse_quantity(".5"), Ok(0.5));
    for bad in ["", "2 cores", "4GB", "1.2.3", "m", "Gi", " 2", "1e", "0x10"] {
        assert!(parse_quantity(bad).is_err(), "{bad:?} should be rejected");
    }
}
