//! Inspection tests: kernel read-back (snapshots, route lookups, counters), hop-by-hop traces
//! across real node and pod namespaces (inside a private namespace; need root, skip loudly
//! otherwise), and the route annotations a learner reads.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};

use common::{Pause, in_private_netns, root_or_skip};
use podlab_netplugin::annotate::{AnnotateContext, explain_route};
use podlab_netplugin::inspect::{self, RouteEntry};
use podlab_netplugin::layout::BridgeHostGw;
use podlab_netplugin::trace::{self, Endpoint, TracePath};
use podlab_netplugin::{ClusterNetwork, Dataplane, Netns, NodeAddressing, PodNetwork, PodRef, ns};
use rtnetlink::{LinkUnspec, RouteMessageBuilder};

fn pod(name: &str) -> PodRef {
    PodRef::new("default", name, &format!("uid-{name}"))
}

/// A kernel cluster of `n` nodes (host-gw routes synced), built in the test's private namespace.
struct Cluster {
    dp: Dataplane,
    nodes: Vec<NodeAddressing>,
    holders: Vec<Pause>,
}

impl Cluster {
    async fn new(rt: &tokio::runtime::Handle, n: u32) -> Cluster {
        let net = ClusterNetwork::default();
        let dp = Dataplane::kernel(net.clone(), rt.clone()).expect("kernel dataplane");
        dp.setup_fabric().await.expect("fabric");
        let holders = Pause::many(n as usize);
        let nodes: Vec<NodeAddressing> = (1..=n)
            .map(|i| net.node(i, &format!("worker-{i}")).expect("addressing"))
            .collect();
        for (node, h) in nodes.iter().zip(&holders) {
            dp.setup_node(node, Some(&h.netns)).await.expect("setup node");
        }
        for node in &nodes {
            dp.sync_routes(&node.name, &nodes).await.expect("sync routes");
        }
        Cluster { dp, nodes, holders }
    }

    /// A pod on node `i` (0-based) with its pause holder.
    async fn pod(&self, i: usize, name: &str) -> (Pause, PodNetwork) {
        let p = Pause::spawn();
        let net = self
            .dp
            .add_pod(&self.nodes[i].name, &pod(name), Some(&p.netns))
            .await
            .expect("add pod");
        (p, net)
    }

    /// The `(addressing, netns)` list `trace::compute` takes.
    fn node_list(&self) -> Vec<(NodeAddressing, Netns)> {
        self.nodes
            .iter()
            .zip(&self.holders)
            .map(|(n, h)| (n.clone(), h.netns.try_clone().unwrap()))
            .collect()
    }

    fn node_endpoint(&self, i: usize) -> Endpoint {
        Endpoint {
            label: format!("node {}", self.nodes[i].name),
            netns: self.holders[i].netns.try_clone().unwrap(),
            ip: self.nodes[i].node_ip,
            node: Some(self.nodes[i].name.clone()),
        }
    }
}

fn pod_endpoint(name: &str, p: &Pause, net: &PodNetwork, node: &str) -> Endpoint {
    Endpoint {
        label: format!("pod default/{name}"),
        netns: p.netns.try_clone().unwrap(),
        ip: net.ip,
        node: Some(node.to_string()),
    }
}

/// `namespace · interface` of every hop.
fn places(t: &TracePath) -> Vec<String> {
    t.hops
        .iter()
        .map(|h| format!("{} · {}", h.namespace, h.interface))
        .collect()
}

fn dump(t: &TracePath) -> String {
    let mut s = String::new();
    for h in &t.hops {
        s.push_str(&format!(
            "{:>2} {:<18} {:<13} {}{}{}\n",
            h.n,
            h.namespace,
            h.interface,
            h.action,
            h.route.as_deref().map(|r| format!("  [{r}]")).unwrap_or_default(),
            h.ttl.map(|t| format!("  ttl={t}")).unwrap_or_default(),
        ));
    }
    s.push_str(&format!(
        "complete={} router_hops={} broken_at={:?}\n",
        t.complete, t.router_hops, t.broken_at
    ));
    s
}

/// The fabric namespace: the test's private one (where the dataplane built `podlab0`).
async fn fabric(_rt: &tokio::runtime::Handle) -> Netns {
    Netns::current().unwrap()
}

#[test]
fn snapshot_of_a_node_shows_its_links_addresses_and_host_gw_routes() {
    if !root_or_skip("snapshot_of_a_node_shows_its_links_addresses_and_host_gw_routes") {
        return;
    }
    in_private_netns(|rt| async move {
        let c = Cluster::new(&rt, 2).await;
        let (_a, a) = c.pod(0, "a").await;
        let snap = inspect::snapshot(&c.holders[0].netns, &rt).await.unwrap();

        let eth0 = snap.link("eth0").expect("eth0");
        assert_eq!(eth0.kind.as_deref(), Some("veth"));
        assert_eq!(eth0.addresses, vec!["172.18.0.2/16"]);
        assert!(eth0.up && eth0.mtu == 1500 && eth0.mac.as_ref().is_some_and(|m| m.len() == 17));
        assert!(eth0.peer_ifindex.is_some() && eth0.link_netnsid.is_some(), "{eth0:?}");

        let cni0 = snap.link("cni0").expect("cni0");
        assert_eq!(cni0.kind.as_deref(), Some("bridge"));
        assert_eq!(cni0.addresses, vec!["10.244.1.1/24"]);
        assert!(cni0.up);

        let veth = snap.link(&a.host_veth).expect("the pod's host veth");
        assert_eq!(veth.kind.as_deref(), Some("veth"));
        assert_eq!(veth.master.as_deref(), Some("cni0"));
        assert!(veth.addresses.is_empty() && veth.up);

        // The veth's peer index is the pod's eth0, as the pod sees it.
        let in_pod = inspect::snapshot(&_a.netns, &rt).await.unwrap();
        assert_eq!(Some(in_pod.link("eth0").unwrap().index), veth.peer_ifindex);
        assert_eq!(in_pod.link("eth0").unwrap().addresses, vec!["10.244.1.2/24"]);

        let routes: Vec<String> = snap.routes.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            routes,
            vec![
                "10.244.1.0/24 dev cni0 proto kernel scope link src 10.244.1.1",
                "10.244.2.0/24 via 172.18.0.3 dev eth0 proto static",
                "172.18.0.0/16 dev eth0 proto kernel scope link src 172.18.0.2",
            ]
        );
        let pod_routes: Vec<String> = in_pod.routes.iter().map(|r| r.to_string()).collect();
        assert_eq!(
            pod_routes,
            vec![
                "default via 10.244.1.1 dev eth0 proto static",
                "10.244.1.0/24 dev eth0 proto kernel scope link src 10.244.1.2",
            ]
        );

        // JSON for `topology -o json`.
        let json = serde_json::to_value(&snap).unwrap();
        let cni0 = json["links"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["name"] == "cni0")
            .unwrap();
        assert_eq!(cni0["addresses"][0], "10.244.1.1/24");
        assert_eq!(cni0["kind"], "bridge");
        assert_eq!(json["routes"][1]["gateway"], "172.18.0.3");
    });
}

#[test]
fn route_get_from_a_pod_to_a_pod_on_another_node_goes_via_the_node_gateway() {
    if !root_or_skip("route_get_from_a_pod_to_a_pod_on_another_node_goes_via_the_node_gateway") {
        return;
    }
    in_private_netns(|rt| async move {
        let c = Cluster::new(&rt, 2).await;
        let (pa, a) = c.pod(0, "a").await;
        let (_pb, b) = c.pod(1, "b").await;

        let got = inspect::route_get(&pa.netns, &rt, b.ip).await.unwrap();
        assert_eq!(got.to_string(), "10.244.2.2 via 10.244.1.1 dev eth0 src 10.244.1.2");
        assert_eq!(got.gateway.as_deref(), Some("10.244.1.1"));
        assert_eq!(got.dev, "eth0");
        assert_eq!(got.unreachable, None);

        // Node 1 forwarding a packet that came from the pod through cni0: host-gw to node 2.
        let fwd = inspect::route_get_input(&c.holders[0].netns, &rt, b.ip, a.ip, "cni0")
            .await
            .unwrap();
        assert_eq!(fwd.gateway.as_deref(), Some("172.18.0.3"));
        assert_eq!(fwd.dev, "eth0");

        // Node 2 delivers on its bridge.
        let last = inspect::route_get(&c.holders[1].netns, &rt, b.ip).await.unwrap();
        assert_eq!((last.gateway, last.dev.as_str()), (None, "cni0"));

        // Nowhere to go is an answer, not an error.
        let none = inspect::route_get(&c.holders[0].netns, &rt, Ipv4Addr::new(192, 0, 2, 1))
            .await
            .unwrap();
        assert_eq!(none.unreachable.as_deref(), Some("network is unreachable"));
        assert_eq!(none.to_string(), "192.0.2.1: network is unreachable");
    });
}

#[test]
fn trace_across_two_nodes_lists_every_hop_and_counters_prove_it() {
    if !root_or_skip("trace_across_two_nodes_lists_every_hop_and_counters_prove_it") {
        return;
    }
    in_private_netns(|rt| async move {
        let c = Cluster::new(&rt, 2).await;
        let (pa, a) = c.pod(0, "a").await;
        let (pb, b) = c.pod(1, "b").await;
        let src = pod_endpoint("a", &pa, &a, "worker-1");
        let dst = pod_endpoint("b", &pb, &b, "worker-2");
        let fab = fabric(&rt).await;
        let t = trace::compute(&BridgeHostGw, &src, &dst, &c.node_list(), &fab, &rt)
            .await
            .unwrap();
        eprintln!("{}", dump(&t));
        assert!(t.complete, "{}", dump(&t));
        assert_eq!(t.broken_at, None);
        assert_eq!(t.router_hops, 2);
        assert_eq!(
            places(&t),
            vec![
                "pod default/a · eth0".to_string(),
                format!("node worker-1 · {}", a.host_veth),
                "node worker-1 · cni0".into(),
                "node worker-1 · eth0".into(),
                "fabric · fab-1".into(),
                "fabric · fab-2".into(),
                "node worker-2 · eth0".into(),
                "node worker-2 · cni0".into(),
                format!("node worker-2 · {}", b.host_veth),
                "pod default/b · eth0".into(),
            ]
        );
        let h = &t.hops;
        assert_eq!(
            h[0].action,
            "leaves via eth0 to gateway 10.244.1.1 (cni0 of node worker-1)"
        );
        assert_eq!(
            h[0].route.as_deref(),
            Some("default via 10.244.1.1 dev eth0 proto static")
        );
        assert_eq!(h[0].ttl, Some(64));
        assert_eq!(
            h[3].action,
            "routes it: out of eth0 to gateway 172.18.0.3 (node worker-2)"
        );
        assert_eq!(
            h[3].route.as_deref(),
            Some("10.244.2.0/24 via 172.18.0.3 dev eth0 proto static")
        );
        assert_eq!(h[3].ttl, Some(63));
        assert!(
            h[5].action.contains("bridge podlab0 forwards it out of fab-2"),
            "{}",
            h[5].action
        );
        assert_eq!(h[7].ttl, Some(62));
        assert!(
            h[7].route
                .as_deref()
                .is_some_and(|r| r.starts_with("10.244.2.0/24 dev cni0"))
        );
        assert_eq!(
            h[9].action,
            "arrives through eth0: 10.244.2.2 is delivered to pod default/b"
        );
        assert_eq!(h.iter().map(|h| h.n).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
        let json = serde_json::to_value(&t).unwrap();
        assert_eq!(json["router_hops"], 2);
        assert_eq!(json["hops"][3]["ttl"], 63);

        // Proof: a real TCP exchange moves the counters of the interfaces on the path.
        let before: Vec<_> = futures::future::try_join_all(
            [&pa.netns, &c.holders[0].netns, &fab, &c.holders[1].netns, &pb.netns].map(|n| inspect::snapshot(n, &rt)),
        )
        .await
        .unwrap();
        let listener = ns::run_in(&pb.netns, || TcpListener::bind("0.0.0.0:8080"))
            .unwrap()
            .unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, peer) = listener.accept().expect("accept");
            s.write_all(b"hi").unwrap();
            peer
        });
        let target = SocketAddr::from((b.ip, 8080));
        let reply = ns::run_in(&pa.netns, move || {
            let mut c = TcpStream::connect_timeout(&target, std::time::Duration::from_secs(5)).expect("connect");
            let mut r = String::new();
            c.read_to_string(&mut r).unwrap();
            r
        })
        .unwrap();
        assert_eq!(reply, "hi");
        assert_eq!(server.join().unwrap().ip(), std::net::IpAddr::V4(a.ip), "no NAT");
        let after: Vec<_> = futures::future::try_join_all(
            [&pa.netns, &c.holders[0].netns, &fab, &c.holders[1].netns, &pb.netns].map(|n| inspect::snapshot(n, &rt)),
        )
        .await
        .unwrap();
        let moved: Vec<Vec<String>> = before
            .iter()
            .zip(&after)
            .map(|(b, a)| {
                inspect::counter_delta(b, a)
                    .into_iter()
                    .filter(|(_, tx, rx)| *tx > 0 && *rx > 0)
                    .map(|(name, _, _)| name)
                    .collect()
            })
            .collect();
        for (hop, ns_moved) in t
            .hops
            .iter()
            .zip([0usize, 1, 1, 1, 2, 2, 3, 3, 3, 4].map(|i| &moved[i]))
        {
            assert!(
                ns_moved.contains(&hop.interface),
                "{} · {}: counters did not move ({ns_moved:?})",
                hop.namespace,
                hop.interface
            );
        }
    });
}

#[test]
fn deleting_the_host_gw_route_breaks_the_trace_at_that_node_with_the_reason() {
    if !root_or_skip("deleting_the_host_gw_route_breaks_the_trace_at_that_node_with_the_reason") {
        return;
    }
    in_private_netns(|rt| async move {
        let c = Cluster::new(&rt, 2).await;
        let (pa, a) = c.pod(0, "a").await;
        let (pb, b) = c.pod(1, "b").await;
        let (conn, h) = ns::netlink_in(&c.holders[0].netns, &rt).await.unwrap();
        rt.spawn(conn);
        h.route()
            .del(
                RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(Ipv4Addr::new(10, 244, 2, 0), 24)
                    .build(),
            )
            .execute()
            .await
            .unwrap();
        let src = pod_endpoint("a", &pa, &a, "worker-1");
        let dst = pod_endpoint("b", &pb, &b, "worker-2");
        let fab = fabric(&rt).await;
        let t = trace::compute(&BridgeHostGw, &src, &dst, &c.node_list(), &fab, &rt)
            .await
            .unwrap();
        eprintln!("{}", dump(&t));
        assert!(!t.complete);
        assert_eq!(
            t.broken_at.as_deref(),
            Some(
                "node worker-1: no route to 10.244.2.2 (network is unreachable): the host-gw route \
                 10.244.2.0/24 via 172.18.0.3 (pods of worker-2) is missing"
            )
        );
        let last = t.hops.last().unwrap();
        assert_eq!(
            (last.namespace.as_str(), last.interface.as_str()),
            ("node worker-1", "cni0")
        );
        assert!(last.action.starts_with("stops here: no route to 10.244.2.2"));
        assert_eq!(t.hops.len(), 4);

        // The route comes back: the trace completes again.
        c.dp.sync_routes("worker-1", &c.nodes).await.unwrap();
        let t = trace::compute(&BridgeHostGw, &src, &dst, &c.node_list(), &fab, &rt)
            .await
            .unwrap();
        assert!(t.complete, "{}", dump(&t));

        // A node that does not forward is named too.
        ns::write_sysctl_in(&c.holders[1].netns, "/proc/sys/net/ipv4/ip_forward", "0")
            .await
            .unwrap();
        let t = trace::compute(&BridgeHostGw, &src, &dst, &c.node_list(), &fab, &rt)
            .await
            .unwrap();
        eprintln!("{}", dump(&t));
        assert!(!t.complete);
        let why = t.broken_at.unwrap();
        assert!(
            why.starts_with("node worker-2: does not forward packets (net.ipv4.ip_forward=0)"),
            "{why}"
        );
        assert_eq!(t.router_hops, 1);
    });
}

#[test]
fn a_down_veth_and_an_unknown_destination_node_are_named() {
    if !root_or_skip("a_down_veth_and_an_unknown_destination_node_are_named") {
        return;
    }
    in_private_netns(|rt| async move {
        let c = Cluster::new(&rt, 2).await;
        let (pa, a) = c.pod(0, "a").await;
        let (pb, b) = c.pod(1, "b").await;
        let fab = fabric(&rt).await;
        let src = pod_endpoint("a", &pa, &a, "worker-1");

        let (conn, h) = ns::netlink_in(&c.holders[1].netns, &rt).await.unwrap();
        rt.spawn(conn);
        let idx = inspect::snapshot(&c.holders[1].netns, &rt)
            .await
            .unwrap()
            .link(&b.host_veth)
            .unwrap()
            .index;
        h.link()
            .set(LinkUnspec::new_with_index(idx).down().build())
            .execute()
            .await
            .unwrap();
        let dst = pod_endpoint("b", &pb, &b, "worker-2");
        let t = trace::compute(&BridgeHostGw, &src, &dst, &c.node_list(), &fab, &rt)
            .await
            .unwrap();
        eprintln!("{}", dump(&t));
        assert!(!t.complete);
        assert_eq!(
            t.broken_at,
            Some(format!("node worker-2: {} (port of cni0) is down", b.host_veth))
        );
        assert_eq!(t.router_hops, 2);

        let ghost = Endpoint {
            node: Some("worker-9".into()),
            ..pod_endpoint("b", &pb, &b, "worker-2")
        };
        let t = trace::compute(&BridgeHostGw, &src, &ghost, &c.node_list(), &fab, &rt)
            .await
            .unwrap();
        assert!(!t.complete && t.hops.is_empty());
        assert_eq!(
            t.broken_at.as_deref(),
            Some(
                "pod default/b: destination node worker-9 is unknown (it is not one of the cluster's nodes: \
                 worker-1, worker-2)"
            )
        );
    });
}

#[test]
fn traces_on_one_node_and_to_a_node_count_the_routers_they_cross() {
    if !root_or_skip("traces_on_one_node_and_to_a_node_count_the_routers_they_cross") {
        return;
    }
    in_private_netns(|rt| async move {
        let c = Cluster::new(&rt, 2).await;
        let (pa, a) = c.pod(0, "a").await;
        let (pc, cc) = c.pod(0, "c").await;
        let fab = fabric(&rt).await;
        let src = pod_endpoint("a", &pa, &a, "worker-1");

        // Same node: bridged by cni0, no router.
        let t = trace::compute(
            &BridgeHostGw,
            &src,
            &pod_endpoint("c", &pc, &cc, "worker-1"),
            &c.node_list(),
            &fab,
            &rt,
        )
        .await
        .unwrap();
        eprintln!("{}", dump(&t));
        assert!(t.complete && t.router_hops == 0, "{}", dump(&t));
        assert_eq!(
            places(&t),
            vec![
                "pod default/a · eth0".to_string(),
                format!("node worker-1 · {}", a.host_veth),
                format!("node worker-1 · {}", cc.host_veth),
                "pod default/c · eth0".into(),
            ]
        );
        assert_eq!(
            t.hops[0].action,
            "leaves via eth0 directly to 10.244.1.3 (pod default/c), on-link"
        );

        // Pod to the other node itself: node worker-1 routes, the fabric bridges.
        let t = trace::compute(&BridgeHostGw, &src, &c.node_endpoint(1), &c.node_list(), &fab, &rt)
            .await
            .unwrap();
        eprintln!("{}", dump(&t));
        assert!(t.complete && t.router_hops == 1, "{}", dump(&t));
        assert_eq!(places(&t).last().map(String::as_str), Some("node worker-2 · eth0"));

        // Node to pod on another node: the sending node does not count as a router.
        let (pb, b) = c.pod(1, "b").await;
        let t = trace::compute(
            &BridgeHostGw,
            &c.node_endpoint(0),
            &pod_endpoint("b", &pb, &b, "worker-2"),
            &c.node_list(),
            &fab,
            &rt,
        )
        .await
        .unwrap();
        eprintln!("{}", dump(&t));
        assert!(t.complete && t.router_hops == 1, "{}", dump(&t));
        assert_eq!(t.hops[0].namespace, "node worker-1");
    });
}

fn entry(dst: &str, gw: Option<&str>, dev: &str, scope: &str, proto: &str) -> RouteEntry {
    RouteEntry {
        destination: dst.into(),
        gateway: gw.map(Into::into),
        dev: Some(dev.into()),
        scope: scope.into(),
        protocol: proto.into(),
        src: None,
    }
}

fn ctx(this: Option<&str>, is_pod: bool) -> AnnotateContext {
    let net = ClusterNetwork::default();
    AnnotateContext {
        nodes: (1..=3).map(|i| net.node(i, &format!("worker-{i}")).unwrap()).collect(),
        this_node: this.map(Into::into),
        is_pod,
        ..Default::default()
    }
}

#[test]
fn annotations_explain_each_route_of_a_node() {
    let node = ctx(Some("worker-1"), false);
    let say = |r: RouteEntry| explain_route(&r, &node);
    assert_eq!(
        say(entry("10.244.1.0/24", None, "cni0", "link", "kernel")),
        "connected: this node's pod range (bridge cni0)"
    );
    assert_eq!(
        say(entry("10.244.2.0/24", Some("172.18.0.3"), "eth0", "universe", "static")),
        "host-gw: pods of worker-2 live behind 172.18.0.3"
    );
    assert_eq!(
        say(entry("172.18.0.0/16", None, "eth0", "link", "kernel")),
        "connected: the fabric network joining the nodes (eth0, wired to bridge podlab0)"
    );
    assert_eq!(
        say(entry(
            "10.244.3.0/24",
            Some("172.18.0.77"),
            "eth0",
            "universe",
            "static"
        )),
        "host-gw, but wrong: pods of worker-3 live behind 172.18.0.4, yet this route sends them to 172.18.0.77"
    );
    assert_eq!(
        say(entry(
            "10.244.99.0/24",
            Some("172.18.0.100"),
            "eth0",
            "universe",
            "static"
        )),
        "stale: no node of the cluster has the pod range 10.244.99.0/24; this route to 172.18.0.100 is left over"
    );
    assert_eq!(
        say(entry("default", Some("172.18.0.1"), "eth0", "universe", "static")),
        "default: everything else goes to 172.18.0.1"
    );
    assert_eq!(
        say(entry(
            "192.168.50.0/24",
            Some("172.18.0.3"),
            "eth0",
            "universe",
            "static"
        )),
        "static: 192.168.50.0/24 goes via 172.18.0.3 (node worker-2)"
    );
    assert_eq!(
        say(entry("192.168.60.0/24", None, "eth1", "link", "kernel")),
        "connected: 192.168.60.0/24 is directly on eth1"
    );
}

#[test]
fn annotations_explain_each_route_of_a_pod_and_of_the_fabric() {
    let p = ctx(Some("worker-1"), true);
    assert_eq!(
        explain_route(&entry("default", Some("10.244.1.1"), "eth0", "universe", "static"), &p),
        "default: everything else goes to the node (10.244.1.1)"
    );
    assert_eq!(
        explain_route(&entry("10.244.1.0/24", None, "eth0", "link", "kernel"), &p),
        "connected: the pods of node worker-1 share this subnet; they are reached directly through eth0 and the node's bridge"
    );
    assert_eq!(
        explain_route(&entry("default", Some("10.244.2.1"), "eth0", "universe", "static"), &p),
        "default: everything else goes to 10.244.2.1 (cni0 of node worker-2)"
    );
    let fabric = ctx(None, false);
    assert_eq!(
        explain_route(&entry("172.18.0.0/16", None, "podlab0", "link", "kernel"), &fabric),
        "connected: the fabric network joining the nodes (bridge podlab0)"
    );
    assert_eq!(
        explain_route(&entry("bogus", None, "eth0", "link", "kernel"), &fabric),
        "unrecognised destination bogus"
    );
}
