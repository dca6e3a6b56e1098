//! Scale, end to end (root): `podlab up` of 2000 real pods on 20 nodes brings every pod to
//! Running, every pod answers a TCP connection from a pod on another node, and `podlab down`
//! leaves nothing: no process, no namespace held, no runtime directory, no named network
//! namespace, the machine's root network namespace as it was.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::time::Instant;

const PODS: usize = 2000;
const NODES: usize = 20;

/// Run inside a pod: a TCP connect to port 9 (nothing listens) of each address given. An
/// answer, accepted or refused, came from that pod's kernel: the pod is reachable. Prints
/// `REACHED <n> OF <m>` and the misses.
const PROBE: &str = r#"
import errno, socket, sys
bad = []
for ip in sys.argv[1:]:
    s = socket.socket()
    s.settimeout(2)
    r = s.connect_ex((ip, 9))
    s.close()
    if r not in (0, errno.ECONNREFUSED):
        bad.append("%s:%s" % (ip, errno.errorcode.get(r, r)))
print("REACHED %d OF %d %s" % (len(sys.argv) - 1 - len(bad), len(sys.argv) - 1, " ".join(bad)))
"#;

/// `(name, ip, node)` of every Running pod in `podlab get pods -o wide`, and how many rows.
fn running_pods(wide: &str) -> (Vec<(String, String, String)>, usize) {
    let rows: Vec<Vec<&str>> = wide
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .filter(|f: &Vec<&str>| f.len() >= 7)
        .collect();
    let running = rows
        .iter()
        .filter(|f| f[2] == "Running")
        .map(|f| (f[0].to_string(), f[5].to_string(), f[6].to_string()))
        .collect();
    (running, rows.len())
}

#[test]
fn two_thousand_pods_come_up_reachable_and_go_away_leaving_nothing() {
    if !require_root("two_thousand_pods_come_up_reachable_and_go_away_leaving_nothing") {
        return;
    }
    let before_net = root_net_snapshot();
    let before_netns = named_netns();
    let t0 = Instant::now();
    let name = format!("t-scale-{}", std::process::id());
    let up = podlab()
        .args([
            "up",
            "tests/scenarios/scale-2000.yaml",
            "--name",
            &name,
            "--wait",
            "120",
        ])
        .output()
        .unwrap();
    let cluster = UpCluster::adopt(&name);
    assert!(up.status.success(), "{}", text(&up));
    let up_took = t0.elapsed();

    // Every pod Running, spread over every node.
    let wide = cluster.run(&["get", "pods", "-o", "wide"]);
    let (pods, rows) = running_pods(&wide);
    assert_eq!(rows, PODS, "{}", wide.lines().take(5).collect::<Vec<_>>().join("\n"));
    assert_eq!(pods.len(), PODS, "not every pod is Running");
    let mut by_node: BTreeMap<&str, Vec<&(String, String, String)>> = BTreeMap::new();
    for p in &pods {
        by_node.entry(p.2.as_str()).or_default().push(p);
    }
    assert_eq!(by_node.len(), NODES, "pods on {} nodes", by_node.len());

    // Every pod probed from a pod on the next node (one exec per node).
    let t1 = Instant::now();
    let nodes: Vec<&Vec<&(String, String, String)>> = by_node.values().collect();
    let mut reached = 0;
    for (n, here) in nodes.iter().enumerate() {
        let targets = nodes[(n + 1) % nodes.len()];
        let mut argv = vec!["exec", here[0].0.as_str(), "--", "/usr/bin/python3", "-c", PROBE];
        argv.extend(targets.iter().map(|p| p.1.as_str()));
        let out = cluster.run(&argv);
        let f: Vec<&str> = out
            .lines()
            .find(|l| l.starts_with("REACHED "))
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        let all = targets.len().to_string();
        assert!(
            f.len() >= 4 && f[1] == all && f[3] == all,
            "from {} on {}: {out}",
            here[0].0,
            here[0].2
        );
        reached += targets.len();
    }
    assert_eq!(reached, PODS);
    let probe_took = t1.elapsed();

    // podlab down leaves nothing.
    let pid = daemon_pid(&name);
    let kids = descendants_of(pid);
    assert!(kids.len() >= 2 * PODS, "{} processes under the daemon", kids.len());
    let mut inodes: Vec<String> = kids.iter().filter_map(|&k| netns_of(k)).collect();
    inodes.extend(netns_of(pid));
    inodes.sort();
    inodes.dedup();
    let t2 = Instant::now();
    cluster.down();
    let down_took = t2.elapsed();
    assert!(
        eventually(30, || !alive(pid) && kids.iter().all(|&k| !alive(k))),
        "processes left after down: {:?}",
        kids.iter().filter(|&&k| alive(k)).take(10).collect::<Vec<_>>()
    );
    assert!(
        eventually(30, || processes_in(&inodes).is_empty()),
        "namespaces still held by {:?}",
        processes_in(&inodes)
    );
    assert!(
        eventually(10, || !run_base().join(&name).exists()),
        "{} left behind",
        run_base().join(&name).display()
    );
    assert_eq!(before_netns, named_netns(), "named network namespaces changed");
    assert_eq!(before_net, root_net_snapshot(), "the root network namespace changed");
    eprintln!(
        "scale: {PODS} pods on {NODES} nodes: up (all Running) {:.1} s, {reached} probes {:.1} s, down {:.1} s, total {:.1} s",
        up_took.as_secs_f64(),
        probe_took.as_secs_f64(),
        down_took.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

/// `podlab bench bringup --sizes`: one block and one table row per size, the whole cluster's
/// memory, and a size no machine can hold (two processes a pod, past any `kernel.pid_max`)
/// named by the preflight and not built, while the bench goes on.
#[test]
fn bench_bringup_sizes_prints_every_size_and_names_one_the_machine_cannot_hold() {
    if !require_root("bench_bringup_sizes_prints_every_size_and_names_one_the_machine_cannot_hold") {
        return;
    }
    let before = root_net_snapshot();
    let out = podlab()
        .args(["bench", "bringup", "--sizes", "3000000,20"])
        .output()
        .unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    for want in [
        "3000000 pods on 30000 nodes:\n  not run: ",
        "kernel.pid_max: needs 6030016 processes",
        "RLIMIT_NOFILE (ulimit -n): needs 3480260 open files (1 per pod, 16 per node)",
        "20 pods on 1 node:\n  bring-up to all Running",
        "20/20 each from another pod (one node)",
        "peak memory, all processes",
        "  one more container's /sys    ",
        "SYSFS MS/POD: of MS/POD",
        "VS REF: ms per pod against the smallest size",
    ] {
        assert!(t.contains(want), "missing {want:?} in:\n{t}");
    }
    assert!(
        t.lines().any(|l| l.starts_with("PODS ")
            && l.contains(" BRING-UP ")
            && l.contains(" VS BARE ")
            && l.contains(" SYSFS MS/POD ")),
        "no table header in:\n{t}"
    );
    // The refused size's row says why, after its pods and nodes.
    assert!(
        t.lines()
            .any(|l| l.starts_with("3000000 ") && l.contains("not run: ") && l.contains("kernel.pid_max: needs")),
        "{t}"
    );
    assert_eq!(before, root_net_snapshot(), "the root namespace changed");
}

/// `podlab up` waits for a Deployment's pods, not for "all of none": right after the apply
/// the Deployment has no pods yet, and 500 nodes take longer to make than the daemon's first
/// look. The bundled 500-node scenario (model dataplane, as it pins) returns with every one
/// of its 5000 replicas Running.
#[test]
fn up_returns_once_every_replica_of_a_deployment_is_running() {
    let name = format!("t-scale-model-{}", std::process::id());
    let up = podlab()
        .args(["up", "scenarios/scale/deployment-500-nodes.yaml", "--name", &name])
        .output()
        .unwrap();
    let cluster = UpCluster::adopt(&name);
    assert!(up.status.success(), "{}", text(&up));
    assert!(text(&up).contains("500 node(s), 5000 pod(s)"), "{}", text(&up));
    let running = |pods: &str| {
        pods.lines()
            .filter(|l| l.split_whitespace().nth(2) == Some("Running"))
            .count()
    };
    let head = |t: &str| t.lines().take(5).collect::<Vec<_>>().join("\n");
    let pods = cluster.run(&["get", "pods"]);
    assert_eq!(running(&pods), 5000, "{}", head(&pods));
    // And as the user looks next: the real kubectl on the cluster's kubeconfig.
    let cache = std::env::temp_dir().join(format!("{name}-kubectl-cache"));
    let kubectl = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(run_base().join(&name).join("kubeconfig"))
        .arg("--cache-dir")
        .arg(&cache)
        .args(["get", "pods", "--no-headers"])
        .output();
    let _ = std::fs::remove_dir_all(&cache);
    match kubectl {
        Ok(out) => assert_eq!(running(&text(&out)), 5000, "kubectl get pods: {}", head(&text(&out))),
        Err(e) if std::env::var("PODLAB_REQUIRE_ROOT").as_deref() == Ok("1") => {
            panic!("kubectl (v1.32) is not on the PATH ({e}), and PODLAB_REQUIRE_ROOT=1 forbids skipping")
        }
        Err(e) => eprintln!("SKIPPED the kubectl half of this test: no kubectl on the PATH ({e})"),
    }
    cluster.down();
}
