//! Model dataplane and addressing tests: no privileges, no kernel objects.

use std::net::Ipv4Addr;

use podlab_netplugin::{ClusterNetwork, Dataplane, NetError, PodRef};

fn pod(i: usize) -> PodRef {
    PodRef::new("default", &format!("web-{i}"), &format!("uid-{i}"))
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn kind_like_node_addressing() {
    let net = ClusterNetwork::default();
    let n1 = net.node(1, "worker-1").unwrap();
    assert_eq!(n1.pod_subnet.to_string(), "10.244.1.0/24");
    assert_eq!(n1.gateway, Ipv4Addr::new(10, 244, 1, 1));
    assert_eq!(n1.node_ip, Ipv4Addr::new(172, 18, 0, 2));
    assert_eq!(n1.fabric_prefix, 16);
    assert_eq!(n1.fabric_veth(), "fab-1");
    let n7 = net.node(7, "worker-7").unwrap();
    assert_eq!(n7.pod_subnet.to_string(), "10.244.7.0/24");
    assert_eq!(n7.node_ip, Ipv4Addr::new(172, 18, 0, 8));
    assert_eq!(net.fabric_gateway(), Ipv4Addr::new(172, 18, 0, 1));
}

#[test]
fn node_index_must_fit_the_ranges() {
    let net = ClusterNetwork::default();
    assert!(net.node(255, "w").is_ok());
    let err = net.node(256, "worker-256").unwrap_err();
    assert_eq!(
        err.to_string(),
        "node worker-256 (index 256) does not fit: pod range 10.244.0.0/16 has only 256 subnets of /24 (indexes 1..=255)"
    );
    assert!(matches!(net.node(0, "w"), Err(NetError::NodeIndexOutOfRange { .. })));

    // General sizes: /20 per node in a /16 gives 15 usable nodes.
    let wide = ClusterNetwork {
        node_prefix: 20,
        ..ClusterNetwork::default()
    };
    assert_eq!(wide.node(2, "w").unwrap().pod_subnet.to_string(), "10.244.32.0/20");
    assert!(wide.node(16, "w").is_err());

    // A small fabric limits the node count too.
    let small = ClusterNetwork {
        fabric_cidr: "172.18.0.0/29".parse().unwrap(),
        ..ClusterNetwork::default()
    };
    assert!(small.node(5, "w").is_ok());
    assert!(
        small
            .node(6, "w")
            .unwrap_err()
            .to_string()
            .contains("fabric range 172.18.0.0/29 has room for 5 nodes")
    );

    let bad = ClusterNetwork {
        node_prefix: 8,
        ..ClusterNetwork::default()
    };
    assert!(matches!(bad.node(1, "w"), Err(NetError::InvalidConfig(_))));
}

#[test]
fn veth_names_are_stable_short_and_distinct() {
    let a = PodRef::new("default", "web", "1234");
    assert_eq!(a.veth_name(0), a.veth_name(0));
    assert_eq!(a.veth_name(0).len(), 12);
    assert!(a.veth_name(0).starts_with("veth"));
    assert_ne!(a.veth_name(0), a.veth_name(1));
    assert_ne!(a.veth_name(0), PodRef::new("default", "web", "1235").veth_name(0));
}

#[test]
fn two_hundred_pods_unique_release_reuse_and_exhaustion() {
    block_on(async {
        let net = ClusterNetwork::default();
        let dp = Dataplane::model(net.clone());
        assert!(dp.is_model());
        let node = net.node(1, "worker-1").unwrap();
        dp.setup_node(&node, None).await.unwrap();
        let mut ips = Vec::new();
        for i in 0..200 {
            ips.push(dp.add_pod("worker-1", &pod(i), None).await.unwrap().ip);
        }
        assert_eq!(ips[0], Ipv4Addr::new(10, 244, 1, 2));
        assert_eq!(ips[199], Ipv4Addr::new(10, 244, 1, 201));
        let mut sorted = ips.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 200);

        dp.del_pod("worker-1", &pod(5)).await.unwrap();
        dp.del_pod("worker-1", &pod(5)).await.unwrap();
        dp.forget_pod("worker-1", &pod(9));
        // Like CNI host-local: new pods get the next addresses, not the freed ones...
        assert_eq!(
            dp.add_pod("worker-1", &pod(1000), None).await.unwrap().ip,
            Ipv4Addr::new(10, 244, 1, 202)
        );
        assert_eq!(
            dp.add_pod("worker-1", &pod(1001), None).await.unwrap().ip,
            Ipv4Addr::new(10, 244, 1, 203)
        );

        // ...until the range wraps around: then the freed ones are reused.
        let mut later = Vec::new();
        for i in 200..253 {
            later.push(dp.add_pod("worker-1", &pod(i), None).await.unwrap().ip);
        }
        assert_eq!(&later[later.len() - 2..], &[ips[5], ips[9]]);
        let err = dp.add_pod("worker-1", &pod(999), None).await.unwrap_err();
        assert_eq!(err.to_string(), "no free address in 10.244.1.0/24");
        assert!(dp.pod_network("worker-1", &pod(999)).is_none());

        let err = dp.add_pod("worker-1", &pod(0), None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "pod default/web-0 already has a network on node worker-1 (ip 10.244.1.2)"
        );
        let err = dp.add_pod("worker-9", &pod(0), None).await.unwrap_err();
        assert_eq!(err.to_string(), "node worker-9 is not set up in the netplugin");
    });
}

#[test]
fn model_routes_follow_the_peer_list() {
    block_on(async {
        let net = ClusterNetwork::default();
        let dp = Dataplane::model(net.clone());
        let nodes: Vec<_> = (1..=3).map(|i| net.node(i, &format!("worker-{i}")).unwrap()).collect();
        for n in &nodes {
            dp.setup_node(n, None).await.unwrap();
        }
        let sync = dp.sync_routes("worker-2", &nodes).await.unwrap();
        assert_eq!(sync.added.len(), 2);
        let table: Vec<String> = dp.routes("worker-2").iter().map(|r| r.to_string()).collect();
        assert_eq!(
            table,
            vec![
                "10.244.1.0/24 via 172.18.0.2 dev eth0",
                "10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1",
                "10.244.3.0/24 via 172.18.0.4 dev eth0",
                "172.18.0.0/16 dev eth0 proto kernel scope link src 172.18.0.3",
            ]
        );
        assert!(dp.sync_routes("worker-2", &nodes).await.unwrap().is_empty());
        let sync = dp.sync_routes("worker-2", &nodes[..2]).await.unwrap();
        assert_eq!(sync.removed[0].to_string(), "10.244.3.0/24 via 172.18.0.4 dev eth0");

        let err = dp.setup_node(&net.node(1, "other").unwrap(), None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "node other uses index 1, already taken by node worker-1"
        );

        dp.teardown_node("worker-3").await.unwrap();
        assert!(dp.routes("worker-3").is_empty());
        dp.teardown_node("worker-3").await.unwrap();
    });
}

#[test]
fn kernel_dataplane_needs_namespaces() {
    // Building the dataplane only opens a netlink socket: fine unprivileged.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // It changes nothing of the namespace it is opened in (here the machine's own).
    let switches =
        || podlab_netplugin::ns::BRIDGE_NETFILTER_SWITCHES.map(|s| std::fs::read_to_string(s).unwrap_or_default());
    let before = switches();
    let built = Dataplane::kernel(ClusterNetwork::default(), rt.handle().clone());
    assert_eq!(
        switches(),
        before,
        "opening the dataplane changed the bridge-nf-call-* sysctls"
    );
    let Ok(dp) = built else {
        return;
    };
    rt.block_on(async {
        let node = ClusterNetwork::default().node(1, "worker-1").unwrap();
        let err = dp.setup_node(&node, None).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "the kernel dataplane needs the network namespace of node worker-1"
        );
    });
}

/// The dataplane futures can be spawned on a multi-threaded runtime.
#[test]
fn dataplane_futures_are_send() {
    fn is_send<T: Send>(_: T) {}
    let dp = Dataplane::model(ClusterNetwork::default());
    let node = ClusterNetwork::default().node(1, "w").unwrap();
    let p = pod(1);
    is_send(dp.setup_fabric());
    is_send(dp.setup_node(&node, None));
    is_send(dp.sync_routes("w", &[]));
    is_send(dp.add_pod("w", &p, None));
    is_send(dp.del_pod("w", &p));
    is_send(dp.check_pod("w", &p));
    is_send(dp.teardown_node("w"));
    fn is_sync<T: Send + Sync>(_: &T) {}
    is_sync(&dp);
}
