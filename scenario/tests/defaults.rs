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

#[test]
fn links_apply_to_every_uplink_and_nodes_override_fields() {
    let dir = std::env::temp_dir().join(format!("podlab-links-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("links.yaml");
    std::fs::write(
        &f,
        "apiVersion: podlab.dev/v1alpha1\nkind: Scenario\nmetadata: {name: links}\ncluster:\n  links: {latency: 2ms, jitter: 0.5ms, rate: 100mbit}\n  nodes:\n    - name: worker-1\n    - name: worker-2\n      uplink: {latency: 10ms, rate: 1gbit}\ncompare:\n  traffic: {from: web/frontend, to: api, port: 9090, requests: 50}\n  tiers: {frontend: web/frontend, backend: api/backend}\n",
    )
    .unwrap();
    let s = podlab_scenario::load(&f).unwrap().scenario;
    std::fs::remove_dir_all(&dir).ok();
    let ms = std::time::Duration::from_millis;
    let w1 = s.cluster.uplink("worker-1");
    assert_eq!(w1.latency, Some(ms(2)));
    assert_eq!(w1.jitter, Some(std::time::Duration::from_micros(500)));
    assert_eq!(w1.rate_bits_per_sec, Some(100_000_000));
    let w2 = s.cluster.uplink("worker-2");
    assert_eq!(w2.latency, Some(ms(10)));
    assert_eq!(w2.jitter, Some(std::time::Duration::from_micros(500)));
    assert_eq!(w2.rate_bits_per_sec, Some(1_000_000_000));
    let c = s.compare.unwrap();
    let t = c.traffic.unwrap();
    assert_eq!(t.from.to_string(), "web/frontend");
    assert_eq!((t.to.pod.as_str(), t.to.container.as_deref()), ("api", None));
    assert_eq!((t.port, t.requests), (Some(9090), Some(50)));
    assert!(t.to.matches_pod("api-5d8c7-abcde") && !t.to.matches_pod("apiserver"));
    assert_eq!(c.tiers.unwrap().backend.unwrap().to_string(), "api/backend");
}

#[test]
fn default_cluster_has_bare_links_and_no_compare_block() {
    let c = podlab_scenario::ClusterSpec::default();
    assert!(c.uplink("worker-1").is_bare());
}
