//! `podlab ui` in a real browser: Debian's headless Chromium, driven by playwright-core
//! (tests/browser/ui.mjs), against one cluster from tests/scenarios/netview.yaml. The page
//! shows every pod and node, follows kubectl's changes without a reload, lists the packets its
//! capture button caught, steps a verified trace forward and back with the captured headers,
//! shows the same `why` verdict as the CLI, the scheduler's per-node table and a Pending pod's
//! FailedScheduling message, a node going NotReady (its watched Ready condition) and a
//! Deployment's pod redrawn in the node it was rescheduled to. Also: the server answers only
//! its own loopback Host (DNS rebinding) and only GETs. A second test (tests/browser/layout.mjs)
//! draws 20 nodes and 200 pods (model dataplane) and checks the layout through cytoscape's API.
//! Screenshots go to target/browser/ (CI artefacts; `$PODLAB_ARTEFACTS/browser/` when set).

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

/// The `podlab ui` process, stopped (by its pid) when dropped.
struct Ui(Child);
impl Drop for Ui {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One raw HTTP/1.1 request to the ui; its status line.
fn status_of(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.lines().next().unwrap_or_default().to_string()
}

/// Whether the browser tooling is installed (`.ci/run` installs it); a loud skip otherwise,
/// a failure under CI.
fn browser_ready() -> bool {
    let ok = std::path::Path::new("/usr/bin/chromium").exists()
        && repo("tests/browser/node_modules/playwright-core").exists();
    if !ok {
        assert!(
            std::env::var("PODLAB_REQUIRE_ROOT").as_deref() != Ok("1"),
            "webview: needs /usr/bin/chromium (scripts/install-deps) and tests/browser/node_modules (npm ci in tests/browser)"
        );
        eprintln!("\n*** SKIPPED webview: needs chromium and `npm ci` in tests/browser ***\n");
    }
    ok
}

/// Starts `podlab ui` for cluster `c`; the process and its address.
fn start_ui(c: &UpCluster) -> (Ui, String) {
    let mut child = c
        .cmd()
        .args(["ui"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let ui = Ui(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (ui, url)
}

fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/').rsplit(':').next().unwrap().parse().unwrap()
}

/// Runs `node SCRIPT ARGS` in tests/browser against cluster `c`; its JSON report.
fn browser(c: &UpCluster, script: &str, args: &[&str]) -> serde_json::Value {
    let kubeconfig = run_base().join(&c.name).join("kubeconfig");
    let t = std::time::Instant::now();
    let out = Command::new("node")
        .arg(script)
        .args(args)
        .current_dir(repo("tests/browser"))
        .env("KUBECONFIG", &kubeconfig)
        .env("PODLAB_BIN", env!("CARGO_BIN_EXE_podlab"))
        .env("PODLAB_CLUSTER", &c.name)
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&out.stdout).to_string();
    let r: serde_json::Value = serde_json::from_str(raw.trim()).unwrap_or_else(|_| panic!("{}", text(&out)));
    eprintln!(
        "{script} took {:.1} s; marks (ms): {}",
        t.elapsed().as_secs_f64(),
        r["marks"]
    );
    assert_eq!(r["errors"], serde_json::json!([]), "{r:#}");
    r
}

#[test]
fn the_web_view_shows_the_cluster_live_and_steps_a_packet() {
    if !require_root("the_web_view_shows_the_cluster_live_and_steps_a_packet") || !browser_ready() {
        return;
    }
    let c = UpCluster::up("tests/scenarios/netview.yaml", "t-ui");
    let (ui, url) = start_ui(&c);
    let port = port_of(&url);

    // Loopback names only (DNS rebinding), and nothing but GETs.
    let get = |host: &str| status_of(port, &format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"));
    assert!(get(&format!("127.0.0.1:{port}")).contains("200"));
    assert!(get(&format!("localhost:{port}")).contains("200"));
    assert!(get(&format!("attacker.example:{port}")).contains("403"));
    let post = status_of(
        port,
        &format!("DELETE /api/v1/namespaces/default/pods/db HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"),
    );
    assert!(post.contains("405"), "{post}");
    // The proxy reaches the API (it carries the kubeconfig's token); the answer has no token.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let list = format!("GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    s.write_all(list.as_bytes()).unwrap();
    let mut pods = String::new();
    let _ = s.read_to_string(&mut pods);
    assert!(
        pods.starts_with("HTTP/1.1 200") && pods.contains("\"PodList\""),
        "{pods}"
    );
    let kc = std::fs::read_to_string(run_base().join(&c.name).join("kubeconfig")).unwrap();
    let token = kc.lines().find_map(|l| l.trim().strip_prefix("token: ")).unwrap();
    assert!(!pods.contains(token));
    // Another local user's connection is refused (the proxy would lend them the token).
    if is_root() {
        let stranger = std::thread::spawn(move || {
            // SAFETY: setfsuid(2) changes only this thread's file-system uid; the thread ends
            // after the request.
            unsafe { libc::setfsuid(65534) };
            status_of(port, &format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"))
        });
        let line = stranger.join().unwrap();
        assert!(line.contains("403"), "{line}");
    }

    let shots = artefact_dir("browser");
    std::fs::create_dir_all(&shots).unwrap();
    let kubeconfig = run_base().join(&c.name).join("kubeconfig");
    let r = browser(&c, "ui.mjs", &[&url, shots.to_str().unwrap()]);

    // Every pod and node, in the list and in the drawing.
    let names = |k: &str| {
        r[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names("pods"), ["client-a", "db", "web"]);
    assert_eq!(names("nodes"), ["worker-1", "worker-2"]);
    for id in [
        "pod:default/client-a",
        "pod:default/db",
        "pod:default/web",
        "node:worker-1",
        "node:worker-2",
        "fabric",
    ] {
        assert!(names("graph").iter().any(|g| g == id), "{id} not drawn: {r:#}");
    }
    // kubectl's changes, pushed: no reload.
    assert_eq!(r["not_reloaded"], true);
    assert!(r["appear_ms"].as_u64().unwrap() < 1000, "{r:#}");
    assert!(r["routes"][0].as_str().unwrap().contains("default via"), "{r:#}");

    // The stepper: hop n at step n going forward, the same hops in reverse going back.
    let fwd = r["forward"].as_array().unwrap();
    let back = r["back"].as_array().unwrap();
    assert!(fwd.len() >= 8, "{r:#}");
    for (i, h) in fwd.iter().enumerate() {
        assert_eq!(h["n"], (i + 1).to_string(), "{r:#}");
    }
    let mut rev: Vec<_> = fwd[..fwd.len() - 1].to_vec();
    rev.reverse();
    assert_eq!(back, &rev);
    // Headers: the IPs stay (no NAT), the TTL drops by one per router, the MACs change at routers.
    let pod_ip = |pod: &str| {
        let o = Command::new("kubectl")
            .env("KUBECONFIG", &kubeconfig)
            .args(["get", "pod", pod, "-o", "jsonpath={.status.podIP}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let (client_ip, db_ip) = (pod_ip("client-a"), pod_ip("db"));
    for h in fwd {
        let ip = h["ip"].as_str().unwrap();
        assert!(ip.starts_with(&format!("{}.", client_ip.trim())), "{h}");
        assert!(ip.contains(&format!("→ {}.8080", db_ip.trim())), "{h}");
    }
    let ttl = |h: &serde_json::Value| h["ttl"].as_str().unwrap().parse::<u8>().unwrap();
    assert_eq!(ttl(&fwd[0]), 64);
    assert_eq!(ttl(fwd.last().unwrap()), 62);
    let first = &fwd[0];
    assert_eq!(first["namespace"], "pod default/client-a");
    let routed = fwd.iter().find(|h| ttl(h) == 63).unwrap();
    assert_ne!(routed["srcMac"], first["srcMac"]);
    assert_ne!(routed["dstMac"], first["dstMac"]);

    // The page's `why` is the CLI's.
    let why = |dst: &str| {
        let t = c.run(&["why", "client-a", dst]);
        t.lines().next().unwrap_or_default().trim().to_string()
    };
    assert_eq!(r["why"].as_str().unwrap().trim(), why("db:8080"));
    assert_eq!(r["why_ok"], "true");
    assert_eq!(r["why_closed"].as_str().unwrap().trim(), why("db:9999"));
    assert!(r["node_down_ms"].as_u64().unwrap() < 3000, "{r:#}");
    // NotReady from the Node object itself: what kube-controller-manager writes.
    assert_eq!(
        r["node_down_title"], "Ready=Unknown NodeStatusUnknown: Kubelet stopped posting node status.",
        "{r:#}"
    );
    assert!(r["node_up_ms"].as_u64().unwrap() < 3000, "{r:#}");

    // The capture button: client-a's HTTP request to db, in the packet list.
    let db = db_ip.trim();
    let caught = r["capture"].as_array().unwrap();
    assert!(
        caught.iter().any(|row| {
            let cells = row.to_string();
            cells.contains(client_ip.trim()) && cells.contains(&format!("→ {db}")) && cells.contains("TCP")
        }),
        "no packet to {db} in the packet list: {r:#}"
    );

    // The scheduler tab: one row per node, as `podlab explain-placement db` says.
    let explained = c.run(&["explain-placement", "db"]);
    let placement = r["placement"].as_array().unwrap();
    assert_eq!(placement.len(), 2, "{r:#}");
    let row = |n: &str| {
        placement
            .iter()
            .find(|p| p["node"] == n)
            .unwrap_or_else(|| panic!("{n}: {r:#}"))
    };
    let filtered = row("worker-1")["cells"][1].as_str().unwrap().to_string();
    assert!(filtered.starts_with("NodeAffinity: "), "{r:#}");
    assert!(
        explained.contains(&format!("filtered by {filtered}")),
        "{explained}\n{r:#}"
    );
    let chosen = row("worker-2");
    assert_eq!(chosen["best"], true, "{r:#}");
    assert_eq!(chosen["cells"][1], "passed");
    let total = chosen["cells"][2].as_str().unwrap();
    assert!(
        explained.contains(&format!("worker-2             total {total:>4}")),
        "{explained}\n{r:#}"
    );
    assert!(r["placement_head"].to_string().contains("NodeResourcesFit"), "{r:#}");
    // A Pending pod with the scheduler's FailedScheduling message, as kubectl's events have it.
    let pending = r["pending"].as_array().unwrap();
    assert_eq!(pending[0], "default/ui-pending");
    assert_eq!(pending[1], "FailedScheduling");
    assert_eq!(pending[2], r["pending_event"], "{r:#}");
    assert!(
        pending[2].as_str().unwrap().starts_with("0/2 nodes are available: "),
        "{r:#}"
    );

    // The Deployment's pod: drawn in worker-2, then, rescheduled while worker-2 is down, its
    // replacement drawn in worker-1.
    assert_eq!(r["mover_before"][0]["node"], "node:worker-2", "{r:#}");
    let after = r["mover_after"].as_array().unwrap();
    assert!(
        after
            .iter()
            .any(|p| p["node"] == "node:worker-1" && p["name"] != r["mover_before"][0]["name"]),
        "{r:#}"
    );
    assert!(r["moved_ms"].as_u64().unwrap() < 5000, "{r:#}");
    for f in [
        "ui-topology.png",
        "ui-stepper.png",
        "ui-scheduler.png",
        "ui-node-down.png",
    ] {
        assert!(shots.join(f).metadata().unwrap().len() > 10_000, "{f}");
    }
    drop(ui);
    c.down();
}

/// 20 nodes and 200 pods (model dataplane: the page draws what the API reports): no two node
/// boxes (with their titles) overlap, every pod is inside its node's box, no two pods overlap,
/// the fabric is on top, and laying out again moves nothing. Screenshot: ui-scale.png.
#[test]
fn the_topology_is_readable_at_twenty_nodes_and_two_hundred_pods() {
    if !require_root("the_topology_is_readable_at_twenty_nodes_and_two_hundred_pods") || !browser_ready() {
        return;
    }
    let c = UpCluster::up("tests/scenarios/ui-scale.yaml", "t-uiscale");
    let (ui, url) = start_ui(&c);
    let shots = artefact_dir("browser");
    std::fs::create_dir_all(&shots).unwrap();
    let shot = shots.join("ui-scale.png");
    let r = browser(&c, "layout.mjs", &[&url, shot.to_str().unwrap(), "20", "200"]);
    eprintln!("layout at 20 nodes / 200 pods: zoom {}", r["zoom"]);
    assert_eq!(r["nodes"], 20, "{r:#}");
    assert_eq!(r["pods"], 200, "{r:#}");
    assert_eq!(r["overlaps"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["outside"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["pods_overlapping"], serde_json::json!([]), "{r:#}");
    assert_eq!(r["fabric_on_top"], true, "{r:#}");
    assert_eq!(r["stable"], true, "{r:#}");
    assert!(shot.metadata().unwrap().len() > 10_000);
    drop(ui);
    c.down();
}
