//! Kernel dataplane tests: real bridges, veths, addresses and routes, built inside private
//! network namespaces (never the machine's root namespace). Need root; skip loudly otherwise.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use common::{Pause, in_private_netns, root_or_skip};
use futures::TryStreamExt;
use netlink_packet_route::address::AddressAttribute;
use netlink_packet_route::link::LinkAttribute;
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader};
use podlab_netplugin::{ClusterNetwork, Dataplane, NetError, Netns, NodeAddressing, PodRef, ns};
use rtnetlink::{Handle, LinkBridge, RouteMessageBuilder};

fn cluster() -> ClusterNetwork {
    ClusterNetwork::default()
}

fn pod(name: &str) -> PodRef {
    PodRef::new("default", name, &format!("uid-{name}"))
}

/// A rtnetlink handle inside `ns` (its connection spawned on the test runtime).
async fn nl_in(ns: &Netns, rt: &tokio::runtime::Handle) -> Handle {
    let (conn, h) = ns::netlink_in(ns, rt).await.expect("netlink socket");
    rt.spawn(conn);
    h
}

async fn link_names(h: &Handle) -> Vec<String> {
    let links: Vec<_> = h.link().get().execute().try_collect().await.expect("dump links");
    let mut names: Vec<String> = links
        .iter()
        .filter_map(|m| {
            m.attributes.iter().find_map(|a| match a {
                LinkAttribute::IfName(n) => Some(n.clone()),
                _ => None,
            })
        })
        .collect();
    names.sort();
    names
}

async fn link_index(h: &Handle, name: &str) -> u32 {
    h.link()
        .get()
        .match_name(name)
        .execute()
        .try_next()
        .await
        .expect("get link")
        .expect("link exists")
        .header
        .index
}

async fn addresses_of(h: &Handle, name: &str) -> Vec<String> {
    let idx = link_index(h, name).await;
    let msgs: Vec<_> = h
        .address()
        .get()
        .set_link_index_filter(idx)
        .execute()
        .try_collect()
        .await
        .expect("dump addrs");
    let mut out = Vec::new();
    for m in msgs.iter().filter(|m| m.header.index == idx) {
        for a in &m.attributes {
            if let AddressAttribute::Address(std::net::IpAddr::V4(ip)) = a {
                out.push(format!("{ip}/{}", m.header.prefix_len));
            }
        }
    }
    out
}

/// Main-table IPv4 routes as "dst via gw" / "dst" strings, sorted.
async fn routes_of(h: &Handle) -> Vec<String> {
    let msgs: Vec<_> = h
        .route()
        .get(RouteMessageBuilder::<Ipv4Addr>::new().build())
        .execute()
        .try_collect()
        .await
        .expect("dump routes");
    let mut out = Vec::new();
    for m in msgs.iter().filter(|m| m.header.table == RouteHeader::RT_TABLE_MAIN) {
        let mut dst = Ipv4Addr::UNSPECIFIED;
        let mut gw = None;
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(RouteAddress::Inet(d)) => dst = *d,
                RouteAttribute::Gateway(RouteAddress::Inet(g)) => gw = Some(*g),
                _ => {}
            }
        }
        let dst = format!("{dst}/{}", m.header.destination_prefix_length);
        out.push(match gw {
            Some(g) => format!("{dst} via {g}"),
            None => dst,
        });
    }
    out.sort();
    out
}

/// Sets up the fabric and nodes 1..=n (each in its own pause child) with host-gw routes.
async fn cluster_of(rt: &tokio::runtime::Handle, n: u32) -> (Dataplane, Vec<NodeAddressing>, Vec<Pause>) {
    let dp = Dataplane::kernel(cluster(), rt.clone()).expect("kernel dataplane");
    dp.setup_fabric().await.expect("fabric");
    let holders = Pause::many(n as usize);
    let nodes: Vec<NodeAddressing> = (1..=n)
        .map(|i| cluster().node(i, &format!("worker-{i}")).expect("addressing"))
        .collect();
    for (node, holder) in nodes.iter().zip(&holders) {
        dp.setup_node(node, Some(&holder.netns)).await.expect("setup node");
    }
    for node in &nodes {
        dp.sync_routes(&node.name, &nodes).await.expect("sync routes");
    }
    (dp, nodes, holders)
}

#[test]
fn node_setup_builds_addresses_bridges_and_routes() {
    if !root_or_skip("node_setup_builds_addresses_bridges_and_routes") {
        return;
    }
    in_private_netns(|rt| async move {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let (dp, nodes, holders) = {
            let dp = Dataplane::kernel(cluster(), rt.clone()).unwrap();
            let sink = lines.clone();
            dp.set_explain(Some(Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_string()))));
            dp.setup_fabric().await.unwrap();
            let holders = Pause::many(2);
            let nodes: Vec<_> = (1..=2)
                .map(|i| cluster().node(i, &format!("worker-{i}")).unwrap())
                .collect();
            for (n, h) in nodes.iter().zip(&holders) {
                dp.setup_node(n, Some(&h.netns)).await.unwrap();
            }
            for n in &nodes {
                let sync = dp.sync_routes(&n.name, &nodes).await.unwrap();
                assert_eq!(sync.added.len(), 1);
            }
            (dp, nodes, holders)
        };

        // Fabric namespace (this test's private one): podlab0 with the fabric gateway.
        let fabric = nl_in(&Netns::current().unwrap(), &rt).await;
        assert_eq!(addresses_of(&fabric, "podlab0").await, vec!["172.18.0.1/16"]);
        let names = link_names(&fabric).await;
        assert!(
            names.contains(&"fab-1".to_string()) && names.contains(&"fab-2".to_string()),
            "{names:?}"
        );

        // Node 2 seen from inside its namespace.
        let node2 = nl_in(&holders[1].netns, &rt).await;
        assert_eq!(link_names(&node2).await, vec!["cni0", "eth0", "lo"]);
        assert_eq!(addresses_of(&node2, "eth0").await, vec!["172.18.0.3/16"]);
        assert_eq!(addresses_of(&node2, "cni0").await, vec!["10.244.2.1/24"]);
        assert_eq!(
            routes_of(&node2).await,
            vec!["10.244.1.0/24 via 172.18.0.2", "10.244.2.0/24", "172.18.0.0/16"]
        );
        let forward = ns::run_in(&holders[1].netns, || {
            std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
        })
        .unwrap()
        .unwrap();
        assert_eq!(forward.trim(), "1");

        // Bridged frames skip iptables in the nodes (no rules there to pass), where the kernel
        // has br_netfilter at all; the namespace the dataplane was opened in is not podlab's to
        // change (podlab's binary sets its own fabric namespace up when it makes it).
        if std::path::Path::new(ns::BRIDGE_NETFILTER_SWITCHES[0]).exists() {
            for netns in [&holders[0].netns, &holders[1].netns] {
                for switch in ns::BRIDGE_NETFILTER_SWITCHES {
                    let v = ns::run_in(netns, move || std::fs::read_to_string(switch))
                        .unwrap()
                        .unwrap();
                    assert_eq!(v.trim(), "0", "{switch} in a node");
                }
            }
            for switch in ns::BRIDGE_NETFILTER_SWITCHES {
                let v = std::fs::read_to_string(switch).unwrap();
                assert_eq!(v.trim(), "1", "{switch} where the dataplane was opened: left alone");
            }
        }

        // The expected table matches what the kernel has.
        let expected: Vec<String> = dp.routes("worker-2").iter().map(|r| r.to_string()).collect();
        assert_eq!(
            expected,
            vec![
                "10.244.1.0/24 via 172.18.0.2 dev eth0",
                "10.244.2.0/24 dev cni0 proto kernel scope link src 10.244.2.1",
                "172.18.0.0/16 dev eth0 proto kernel scope link src 172.18.0.3",
            ]
        );
        let lines = lines.lock().unwrap().clone();
        assert!(
            lines.contains(&"ip -n worker-2 route add 10.244.1.0/24 via 172.18.0.2".to_string()),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l == "ip link add fab-1 master podlab0 up type veth peer name eth0 address 0a:58:ac:12:00:02 netns worker-1")
        );

        // Setting up the same node twice is refused by name.
        let err = dp.setup_node(&nodes[0], Some(&holders[0].netns)).await.unwrap_err();
        assert_eq!(err.to_string(), "node worker-1 is already set up in the netplugin");

        // Teardown removes the fabric veth (and with it the node's eth0).
        dp.teardown_node("worker-1").await.unwrap();
        assert!(!link_names(&fabric).await.contains(&"fab-1".to_string()));
        dp.teardown_node("worker-1").await.unwrap();
    });
}

#[test]
fn pods_on_two_nodes_talk_tcp_without_nat() {
    if !root_or_skip("pods_on_two_nodes_talk_tcp_without_nat") {
        return;
    }
    in_private_netns(|rt| async move {
        let (dp, _nodes, _holders) = cluster_of(&rt, 2).await;
        let a_ns = Pause::spawn();
        let b_ns = Pause::spawn();
        let a = dp.add_pod("worker-1", &pod("a"), Some(&a_ns.netns)).await.unwrap();
        let b = dp.add_pod("worker-2", &pod("b"), Some(&b_ns.netns)).await.unwrap();
        assert_eq!(a.ip, Ipv4Addr::new(10, 244, 1, 2));
        assert_eq!(b.ip, Ipv4Addr::new(10, 244, 2, 2));
        assert_eq!(a.gateway, Ipv4Addr::new(10, 244, 1, 1));
        assert_eq!(a.pod_iface, "eth0");
        assert!(a.host_veth.starts_with("veth") && a.host_veth.len() == 12);
        dp.check_pod("worker-1", &pod("a")).await.unwrap();
        dp.check_pod("worker-2", &pod("b")).await.unwrap();

        // Inside pod A: eth0 with its address, lo, default route via the node gateway.
        let in_a = nl_in(&a_ns.netns, &rt).await;
        assert_eq!(link_names(&in_a).await, vec!["eth0", "lo"]);
        assert_eq!(addresses_of(&in_a, "eth0").await, vec!["10.244.1.2/24"]);
        assert!(routes_of(&in_a).await.contains(&"0.0.0.0/0 via 10.244.1.1".to_string()));

        let listener = ns::run_in(&b_ns.netns, || TcpListener::bind("0.0.0.0:8080"))
            .unwrap()
            .unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, peer) = listener.accept().expect("accept");
            s.write_all(b"hello").unwrap();
            peer
        });
        let target = SocketAddr::from((b.ip, 8080));
        let mut reply = String::new();
        ns::run_in(&a_ns.netns, move || {
            let mut c = TcpStream::connect_timeout(&target, std::time::Duration::from_secs(5)).expect("connect");
            c.read_to_string(&mut reply).unwrap();
            reply
        })
        .map(|r| assert_eq!(r, "hello"))
        .unwrap();
        let peer = server.join().unwrap();
        assert_eq!(
            peer.ip(),
            std::net::IpAddr::V4(a.ip),
            "pod B must see pod A's own IP (no NAT)"
        );
    });
}

#[test]
fn two_hundred_concurrent_pods_get_unique_addresses_and_reuse_released_ones() {
    if !root_or_skip("two_hundred_concurrent_pods_get_unique_addresses_and_reuse_released_ones") {
        return;
    }
    in_private_netns(|rt| async move {
        let (dp, _nodes, _holders) = cluster_of(&rt, 2).await;
        let holders = Pause::many(200);
        let pods: Vec<PodRef> = (0..200).map(|i| pod(&format!("p{i}"))).collect();
        let start = std::time::Instant::now();
        let adds = pods.iter().zip(&holders).enumerate().map(|(i, (p, h))| {
            let node = if i % 2 == 0 { "worker-1" } else { "worker-2" };
            dp.add_pod(node, p, Some(&h.netns))
        });
        let nets = futures::future::try_join_all(adds).await.unwrap();
        eprintln!(
            "200 concurrent add_pod: {:.2} ms/pod",
            start.elapsed().as_secs_f64() * 1000.0 / 200.0
        );
        let mut ips: Vec<Ipv4Addr> = nets.iter().map(|n| n.ip).collect();
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), 200);
        for n in &nets {
            let o = n.ip.octets();
            assert!(o[3] >= 2 && o[3] <= 101, "{}", n.ip);
        }
        let mut veths: Vec<&String> = nets.iter().map(|n| &n.host_veth).collect();
        veths.sort();
        veths.dedup();
        assert_eq!(veths.len(), 200);

        // Release one address; like host-local, the next pod gets the next address, not the
        // freed one (freed ones come back once the range wraps around: see the IPAM unit tests).
        let freed = dp.pod_network("worker-1", &pods[10]).unwrap().ip;
        dp.del_pod("worker-1", &pods[10]).await.unwrap();
        let extra = Pause::spawn();
        let again = dp.add_pod("worker-1", &pod("late"), Some(&extra.netns)).await.unwrap();
        assert_ne!(again.ip, freed);
        assert!(!ips.contains(&again.ip), "{} was already in use", again.ip);
        dp.check_pod("worker-1", &pod("late")).await.unwrap();

        // Fifty concurrent deletes on worker-2 (batched into few kernel deletes).
        let start = std::time::Instant::now();
        let dels = pods
            .iter()
            .skip(1)
            .step_by(2)
            .take(50)
            .map(|p| dp.del_pod("worker-2", p));
        futures::future::try_join_all(dels).await.unwrap();
        eprintln!("50 concurrent del_pod: {:?}", start.elapsed());
        let node2 = nl_in(&_holders[1].netns, &rt).await;
        let left = link_names(&node2)
            .await
            .iter()
            .filter(|n| n.starts_with("veth"))
            .count();
        assert_eq!(left, 50);
        for p in pods.iter().skip(1).step_by(2).take(50) {
            assert!(dp.pod_network("worker-2", p).is_none());
        }

        // Bulk teardown: kill the pause processes, then forget.
        drop(holders);
        for (i, p) in pods.iter().enumerate() {
            dp.forget_pod(if i % 2 == 0 { "worker-1" } else { "worker-2" }, p);
        }
        let next = Pause::spawn();
        let n = dp.add_pod("worker-2", &pod("after"), Some(&next.netns)).await.unwrap();
        // Every address was released: the range continues after the last one handed out.
        assert_eq!(n.ip, Ipv4Addr::new(10, 244, 2, 102));
    });
}

#[test]
fn exhausted_node_range_reports_the_subnet() {
    if !root_or_skip("exhausted_node_range_reports_the_subnet") {
        return;
    }
    in_private_netns(|rt| async move {
        // /29 per node: hosts .2 to .6 (five pods).
        let net = ClusterNetwork {
            node_prefix: 29,
            ..cluster()
        };
        let dp = Dataplane::kernel(net.clone(), rt.clone()).unwrap();
        let node_ns = Pause::spawn();
        dp.setup_node(&net.node(1, "worker-1").unwrap(), Some(&node_ns.netns))
            .await
            .unwrap();
        let holders = Pause::many(6);
        for (i, h) in holders.iter().take(5).enumerate() {
            dp.add_pod("worker-1", &pod(&format!("p{i}")), Some(&h.netns))
                .await
                .unwrap();
        }
        let err = dp
            .add_pod("worker-1", &pod("p5"), Some(&holders[5].netns))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "no free address in 10.244.0.8/29");
        let node = nl_in(&node_ns.netns, &rt).await;
        assert_eq!(
            link_names(&node).await.iter().filter(|n| n.starts_with("veth")).count(),
            5
        );
    });
}

#[test]
fn del_pod_is_idempotent_and_removes_the_veth() {
    if !root_or_skip("del_pod_is_idempotent_and_removes_the_veth") {
        return;
    }
    in_private_netns(|rt| async move {
        let (dp, _nodes, holders) = cluster_of(&rt, 1).await;
        let p = Pause::spawn();
        let net = dp.add_pod("worker-1", &pod("web"), Some(&p.netns)).await.unwrap();
        let node = nl_in(&holders[0].netns, &rt).await;
        assert!(link_names(&node).await.contains(&net.host_veth));
        dp.del_pod("worker-1", &pod("web")).await.unwrap();
        assert!(!link_names(&node).await.contains(&net.host_veth));
        assert!(dp.pod_network("worker-1", &pod("web")).is_none());
        dp.del_pod("worker-1", &pod("web")).await.unwrap();
        dp.del_pod("worker-1", &pod("never-added")).await.unwrap();
        let err = dp.check_pod("worker-1", &pod("web")).await.unwrap_err();
        assert_eq!(err.to_string(), "pod default/web has no network on node worker-1");
    });
}

#[test]
fn failed_add_pod_leaves_no_veth_and_no_address_behind() {
    if !root_or_skip("failed_add_pod_leaves_no_veth_and_no_address_behind") {
        return;
    }
    in_private_netns(|rt| async move {
        let (dp, _nodes, holders) = cluster_of(&rt, 1).await;
        // A pod namespace that already has a default route (on a bridge: this kernel has no dummy links): the pod route add fails late,
        // after the veth and the address were created.
        let p = Pause::spawn();
        let inside = nl_in(&p.netns, &rt).await;
        inside
            .link()
            .add(LinkBridge::new("other0").build())
            .execute()
            .await
            .unwrap();
        let d = link_index(&inside, "other0").await;
        inside
            .address()
            .add(d, "192.168.7.1".parse().unwrap(), 24)
            .execute()
            .await
            .unwrap();
        inside
            .route()
            .add(
                RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(Ipv4Addr::UNSPECIFIED, 0)
                    .gateway(Ipv4Addr::new(192, 168, 7, 254))
                    .build(),
            )
            .execute()
            .await
            .unwrap();
        let err = dp
            .add_pod("worker-1", &pod("broken"), Some(&p.netns))
            .await
            .unwrap_err();
        assert!(matches!(err, NetError::Netlink { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("default route via 10.244.1.1 in pod default/broken"),
            "{err}"
        );

        let node = nl_in(&holders[0].netns, &rt).await;
        assert_eq!(link_names(&node).await, vec!["cni0", "eth0", "lo"]);
        assert_eq!(link_names(&inside).await, vec!["lo", "other0"]);
        assert!(dp.pod_network("worker-1", &pod("broken")).is_none());

        // Its address went back to the pool (the next pod gets the next one, as with host-local).
        let ok = Pause::spawn();
        let net = dp.add_pod("worker-1", &pod("fine"), Some(&ok.netns)).await.unwrap();
        assert_eq!(net.ip, Ipv4Addr::new(10, 244, 1, 3));
        assert_eq!(
            dp.pod_network("worker-1", &pod("fine")).map(|n| n.ip),
            Some(Ipv4Addr::new(10, 244, 1, 3))
        );

        // A pod namespace that already has eth0 fails early and names the problem.
        let taken = Pause::spawn();
        let t = nl_in(&taken.netns, &rt).await;
        t.link().add(LinkBridge::new("eth0").build()).execute().await.unwrap();
        let err = dp
            .add_pod("worker-1", &pod("clash"), Some(&taken.netns))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already has an eth0"), "{err}");
        assert_eq!(
            link_names(&node).await.iter().filter(|n| n.starts_with("veth")).count(),
            1
        );
    });
}

#[test]
fn sync_routes_restores_replaces_and_removes() {
    if !root_or_skip("sync_routes_restores_replaces_and_removes") {
        return;
    }
    in_private_netns(|rt| async move {
        let (dp, nodes, holders) = cluster_of(&rt, 3).await;
        let node1 = nl_in(&holders[0].netns, &rt).await;
        // Someone deletes one route, points another elsewhere and adds a stale one.
        node1
            .route()
            .del(
                RouteMessageBuilder::<Ipv4Addr>::new()
                    .destination_prefix(Ipv4Addr::new(10, 244, 2, 0), 24)
                    .build(),
            )
            .execute()
            .await
            .unwrap();
        let via = |dst: Ipv4Addr, gw: Ipv4Addr| {
            RouteMessageBuilder::<Ipv4Addr>::new()
                .destination_prefix(dst, 24)
                .gateway(gw)
                .build()
        };
        node1
            .route()
            .add(via(Ipv4Addr::new(10, 244, 3, 0), Ipv4Addr::new(172, 18, 0, 77)))
            .replace()
            .execute()
            .await
            .unwrap();
        node1
            .route()
            .add(via(Ipv4Addr::new(10, 244, 99, 0), Ipv4Addr::new(172, 18, 0, 100)))
            .execute()
            .await
            .unwrap();
        let sync = dp.sync_routes("worker-1", &nodes).await.unwrap();
        let s = |v: &Vec<podlab_netplugin::RouteInfo>| v.iter().map(|r| r.to_string()).collect::<Vec<_>>();
        assert_eq!(s(&sync.added), vec!["10.244.2.0/24 via 172.18.0.3 dev eth0"]);
        assert_eq!(s(&sync.replaced), vec!["10.244.3.0/24 via 172.18.0.4 dev eth0"]);
        assert_eq!(s(&sync.removed), vec!["10.244.99.0/24 via 172.18.0.100 dev eth0"]);
        assert_eq!(
            routes_of(&node1).await,
            vec![
                "10.244.1.0/24",
                "10.244.2.0/24 via 172.18.0.3",
                "10.244.3.0/24 via 172.18.0.4",
                "172.18.0.0/16"
            ]
        );
        assert!(dp.sync_routes("worker-1", &nodes).await.unwrap().is_empty());

        // Node 3 leaves: its route goes away on the next sync.
        let sync = dp.sync_routes("worker-1", &nodes[..2]).await.unwrap();
        assert_eq!(s(&sync.removed), vec!["10.244.3.0/24 via 172.18.0.4 dev eth0"]);
    });
}

#[test]
fn model_dataplane_gives_the_same_addresses_and_routes() {
    if !root_or_skip("model_dataplane_gives_the_same_addresses_and_routes") {
        return;
    }
    in_private_netns(|rt| async move {
        let (kernel, nodes, _holders) = cluster_of(&rt, 3).await;
        let model = Dataplane::model(cluster());
        assert!(model.is_model() && !kernel.is_model());
        for n in &nodes {
            model.setup_node(n, None).await.unwrap();
        }
        for n in &nodes {
            model.sync_routes(&n.name, &nodes).await.unwrap();
        }
        let holders = Pause::many(12);
        for (i, h) in holders.iter().enumerate() {
            let node = &nodes[i % 3].name;
            let p = pod(&format!("p{i}"));
            let k = kernel.add_pod(node, &p, Some(&h.netns)).await.unwrap();
            let m = model.add_pod(node, &p, None).await.unwrap();
            assert_eq!(k, m);
            if i == 4 {
                kernel.del_pod(node, &p).await.unwrap();
                model.del_pod(node, &p).await.unwrap();
            }
        }
        for n in &nodes {
            assert_eq!(kernel.routes(&n.name), model.routes(&n.name));
        }
    });
}

/// The network namespace inode (`net:[...]`) a thread of this process named `comm` is in.
fn thread_netns(comm: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .flatten()
        .find_map(|t| {
            let name = std::fs::read_to_string(t.path().join("comm")).ok()?;
            (name.trim() == comm).then(|| std::fs::read_link(t.path().join("ns/net")).ok())?
        })
        .map(|l| l.to_string_lossy().into_owned())
}

#[test]
fn sockets_opened_inside_a_pod_leave_its_namespace_free_to_go() {
    if !root_or_skip("sockets_opened_inside_a_pod_leave_its_namespace_free_to_go") {
        return;
    }
    in_private_netns(|rt| async move {
        let holder = Pause::spawn();
        let pod_ns = std::fs::read_link(format!("/proc/{}/ns/net", holder.pid)).unwrap();
        let h = nl_in(&holder.netns, &rt).await;
        // The socket works inside the pod's namespace: it sees the pod's lo and nothing else.
        assert_eq!(link_names(&h).await, vec!["lo"]);
        // The thread that opened it has gone back to a namespace of its own: it keeps neither
        // the pod's namespace alive nor any other podlab namespace.
        let opener = thread_netns("podlab-nsopener").expect("the socket opener thread");
        assert_ne!(
            opener,
            pod_ns.to_string_lossy(),
            "the opener stayed in the pod's namespace"
        );
        let here = std::fs::read_link("/proc/thread-self/ns/net").unwrap();
        assert_ne!(
            opener,
            here.to_string_lossy(),
            "the opener sits in the caller's namespace"
        );
    });
}
