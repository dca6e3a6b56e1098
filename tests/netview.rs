//! End-to-end: the network views of a live cluster (`topology`, `routes`, `trace`,
//! `ping-matrix`, `capture`) compared with the addresses and hops the scenario implies
//! (tests/scenarios/netview.yaml pins web and client-a to worker-1, db to worker-2),
//! including a broken path (a host-gw route deleted by hand).

mod common;
use common::*;
use serde_json::Value;

struct Cluster {
    name: String,
}

impl Cluster {
    fn up(scenario: &str, name: &str, extra: &[&str]) -> Cluster {
        let out = podlab()
            .args(["up", scenario, "--name", name])
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "up failed:\n{}", common::text(&out));
        Cluster { name: name.into() }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = podlab().args(args).env("PODLAB_CLUSTER", &self.name).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, out, err) = self.run(args);
        assert_eq!(code, 0, "podlab {args:?} failed:\n{out}{err}");
        out
    }

    fn json(&self, args: &[&str]) -> (i32, Value) {
        let (code, out, err) = self.run(args);
        let v = serde_json::from_str(&out).unwrap_or_else(|e| panic!("podlab {args:?}: {e}\n{out}{err}"));
        (code, v)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = podlab().args(["down", "--name", &self.name]).output();
    }
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn node<'a>(topo: &'a Value, name: &str) -> &'a Value {
    topo["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("node {name} in {topo:#}"))
}

fn pod<'a>(topo: &'a Value, node_name: &str, pod: &str) -> &'a Value {
    node(topo, node_name)["pods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == pod)
        .unwrap_or_else(|| panic!("pod {pod} on {node_name} in {topo:#}"))
}

/// `namespace · interface` of every hop of a `trace -o json`.
fn places(t: &Value) -> Vec<String> {
    t["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            format!(
                "{} · {}",
                h["namespace"].as_str().unwrap(),
                h["interface"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn topology_routes_trace_ping_matrix_and_capture_on_a_live_cluster() {
    if !require_root("topology_routes_trace_ping_matrix_and_capture_on_a_live_cluster") {
        return;
    }
    let c = Cluster::up(
        "tests/scenarios/netview.yaml",
        &format!("t-nv-{}", std::process::id()),
        &[],
    );
    assert!(
        eventually(20, || c.run(&["get", "pods"]).1.matches("Running").count() == 3),
        "pods did not start:\n{}",
        c.run(&["get", "pods"]).1
    );

    // topology -o json: read back from the kernel, matching the scenario's address plan.
    let (_, topo) = c.json(&["topology", "-o", "json"]);
    assert_eq!(topo["dataplane"], "kernel");
    assert_eq!(strs(&topo["fabric"]["addresses"]), ["172.18.0.1/16"]);
    let ports: Vec<(String, String)> = topo["fabric"]["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().into(),
                p["node"].as_str().unwrap_or("").into(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [("fab-1".into(), "worker-1".into()), ("fab-2".into(), "worker-2".into())]
    );
    for (name, ip, cidr, gw) in [
        ("worker-1", "172.18.0.2/16", "10.244.1.0/24", "10.244.1.1/24"),
        ("worker-2", "172.18.0.3/16", "10.244.2.0/24", "10.244.2.1/24"),
    ] {
        let n = node(&topo, name);
        assert_eq!(strs(&n["eth0"]["addresses"]), [ip], "{n:#}");
        assert_eq!(n["pod_cidr"], cidr);
        assert_eq!(n["bridge"]["name"], "cni0");
        assert_eq!(strs(&n["bridge"]["addresses"]), [gw]);
        assert!(n["netns"].as_str().unwrap().starts_with("net:["), "{n:#}");
    }
    let w1_routes: Vec<String> = node(&topo, "worker-1")["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{} | {}", r["route"].as_str().unwrap(), r["why"].as_str().unwrap()))
        .collect();
    assert!(
        w1_routes.contains(
            &"10.244.2.0/24 via 172.18.0.3 dev eth0 proto static | host-gw: pods of worker-2 live behind 172.18.0.3"
                .to_string()
        ),
        "{w1_routes:#?}"
    );
    let web = pod(&topo, "worker-1", "web");
    let client = pod(&topo, "worker-1", "client-a");
    let db = pod(&topo, "worker-2", "db");
    for p in [web, client, db] {
        assert_eq!(p["eth0"]["name"], "eth0", "{p:#}");
        assert_eq!(p["host_veth"]["master"], "cni0", "{p:#}");
        assert!(p["host_veth"]["name"].as_str().unwrap().starts_with("veth"), "{p:#}");
        assert_ne!(p["netns"], node(&topo, "worker-1")["netns"]);
    }
    assert!(web["ip"].as_str().unwrap().starts_with("10.244.1."), "{web:#}");
    assert!(client["ip"].as_str().unwrap().starts_with("10.244.1."), "{client:#}");
    assert_eq!(db["ip"], "10.244.2.2");
    assert_eq!(strs(&db["containers"][0]["ports"]), ["8080/TCP"]);
    let client_ip = client["ip"].as_str().unwrap().to_string();
    let client_veth = client["host_veth"]["name"].as_str().unwrap().to_string();
    let db_veth = db["host_veth"]["name"].as_str().unwrap().to_string();

    // The text picture and the Graphviz forms.
    let text = c.ok(&["topology"]);
    assert!(text.contains("node worker-2  172.18.0.3/16"), "{text}");
    assert!(
        text.contains(&format!("cni0 ── {client_veth} (node worker-1) ══ eth0 {client_ip}/24")),
        "{text}"
    );
    assert!(c.ok(&["topology", "--format", "dot"]).starts_with("graph podlab {"));
    assert!(c.ok(&["topology", "--format", "mermaid"]).starts_with("graph TD"));
    let (code, svg, err) = c.run(&["topology", "--format", "svg"]);
    if code == 0 {
        assert!(svg.contains("<svg"), "{svg}");
    } else {
        assert!(err.contains("Graphviz"), "{err}");
    }

    // routes, annotated.
    let r = c.ok(&["routes", "node/worker-2"]);
    assert!(r.contains("host-gw: pods of worker-1 live behind 172.18.0.2"), "{r}");
    let r = c.ok(&["routes", "db"]);
    assert!(
        r.contains("default: everything else goes to the node (10.244.2.1)"),
        "{r}"
    );

    // trace across nodes: the hops, then the proof.
    let (code, t) = c.json(&["trace", "client-a", "db", "-o", "json"]);
    assert_eq!(code, 0, "{t:#}");
    assert_eq!(t["complete"], true);
    assert_eq!(t["router_hops"], 2);
    assert_eq!(
        places(&t),
        [
            "pod default/client-a · eth0".to_string(),
            format!("node worker-1 · {client_veth}"),
            "node worker-1 · cni0".into(),
            "node worker-1 · eth0".into(),
            "fabric · fab-1".into(),
            "fabric · fab-2".into(),
            "node worker-2 · eth0".into(),
            "node worker-2 · cni0".into(),
            format!("node worker-2 · {db_veth}"),
            "pod default/db · eth0".into(),
        ],
        "{t:#}"
    );
    let ttls: Vec<u64> = t["hops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["ttl"].as_u64().unwrap())
        .collect();
    assert_eq!(ttls, [64, 64, 64, 63, 63, 63, 63, 62, 62, 62]);
    for h in t["hops"].as_array().unwrap() {
        let moved = h["tx"].as_u64().unwrap_or(0) + h["rx"].as_u64().unwrap_or(0);
        assert!(moved > 0, "no packet counted at hop {h:#}");
    }
    assert_eq!(t["probe"]["seen_source"], client_ip.as_str());
    assert_eq!(t["probe"]["no_nat"], true);
    assert_eq!(t["probe"]["ttl_sent"], 64);
    assert_eq!(t["probe"]["ttl_received"], 62);
    let text = c.ok(&["trace", "client-a", "db:8080"]);
    assert!(
        text.contains(&format!("the destination saw source {client_ip}")),
        "{text}"
    );
    assert!(text.contains("no NAT"), "{text}");

    // Nothing listening: the path is fine, the port is not.
    let (code, out, _) = c.run(&["trace", "client-a", "10.244.2.2:9"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("nothing is listening on 10.244.2.2:9"), "{out}");

    // ping-matrix: every pod to every pod.
    let m = c.ok(&["ping-matrix"]);
    assert!(m.contains("TCP connect") && m.contains("9/9 pairs ok"), "{m}");
    let (code, m) = c.json(&["ping-matrix", "-l", "app in (web,db)", "-o", "json"]);
    assert_eq!(code, 0);
    assert_eq!(strs(&m["pods"]), ["default/db", "default/web"]);
    assert_eq!(m["failed"], 0);

    // capture: a pcap of the probes, from inside the destination pod.
    let pcap = std::env::temp_dir().join(format!("podlab-nv-{}.pcap", std::process::id()));
    let (code, _, err) = c.run(&["capture", "node/worker-1/nosuchif", "--seconds", "1"]);
    assert_ne!(code, 0, "{err}");
    if std::path::Path::new("/usr/bin/tcpdump").exists() || std::path::Path::new("/usr/sbin/tcpdump").exists() {
        let cap = podlab()
            .args(["capture", "db", "-c", "3", "--seconds", "8", "-w"])
            .arg(&pcap)
            .env("PODLAB_CLUSTER", &c.name)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        c.ok(&["trace", "client-a", "db:8080"]);
        let out = cap.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", common::text(&out));
        let len = std::fs::metadata(&pcap).map(|m| m.len()).unwrap_or(0);
        assert!(len > 24, "pcap has no packets ({len} bytes):\n{}", common::text(&out));
        let _ = std::fs::remove_file(&pcap);
    } else {
        let (code, _, err) = c.run(&["capture", "db"]);
        assert_ne!(code, 0);
        assert!(err.contains("tcpdump is not installed"), "{err}");
    }

    // Broken path: delete worker-1's host-gw route and trace before the node agent restores it.
    // The reconcile loop runs every 2 s, so it can put the route back before the trace reads
    // the routes (the trace is whole) or between that and its probes (the trace says "the
    // kernel state changed while tracing"); then the test tries again once the route is back
    // (right after a repair: the most time before the next), up to eight times.
    let mut probes_failed_with_the_route_gone = false;
    for attempt in 1..=8 {
        let deleted = std::time::Instant::now();
        c.ok(&["exec", "node/worker-1", "--", "ip", "route", "del", "10.244.2.0/24"]);
        let (code, t) = c.json(&["trace", "client-a", "db", "-o", "json"]);
        let took = deleted.elapsed();
        if t["complete"] == true {
            assert_eq!(code, 0, "{t:#}");
            eprintln!("attempt {attempt}: the route was back before the trace ({took:?}); again");
        } else {
            assert_eq!(code, 1, "{t:#}");
            let why = t["broken_at"].as_str().unwrap();
            assert!(why.starts_with("node worker-1: no route to 10.244.2.2"), "{why}");
            assert!(
                why.contains("10.244.2.0/24 via 172.18.0.3") && why.contains("missing"),
                "{why}"
            );
            assert_eq!(places(&t).last().unwrap(), "node worker-1 · cni0");
            let verdict = t["verdict"].as_str().unwrap();
            assert!(verdict.starts_with("BROKEN at node worker-1"), "{t:#}");
            if t["probe"]["ok"] == 0 {
                assert!(verdict.contains("the probes failed too"), "{verdict}");
                probes_failed_with_the_route_gone = true;
            } else {
                assert!(verdict.contains("the kernel state changed while tracing"), "{verdict}");
                eprintln!("attempt {attempt}: the route came back before the probes ({took:?}); again");
            }
        }
        // The reconcile loop puts the route back; the trace is whole again.
        assert!(
            eventually(10, || c.run(&["trace", "client-a", "db"]).0 == 0),
            "{}",
            c.run(&["trace", "client-a", "db"]).1
        );
        if probes_failed_with_the_route_gone {
            break;
        }
    }
    assert!(
        probes_failed_with_the_route_gone,
        "in eight tries the route was always back before the probes ran"
    );
}
