//! End-to-end: the kubectl workflow on a live cluster (`podlab up` … `podlab down`), driven
//! through the CLI the way a learner follows the book.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::Duration;

struct Cluster {
    name: String,
}

impl Cluster {
    fn up(scenario: &str, name: &str) -> Cluster {
        let out = podlab().args(["up", scenario, "--name", name]).output().unwrap();
        assert!(out.status.success(), "up failed:\n{}", text(&out));
        Cluster { name: name.into() }
    }

    /// Run `podlab ARGS --cluster NAME`; returns (exit code, stdout+stderr).
    fn run(&self, args: &[&str]) -> (i32, String) {
        let mut cmd = podlab();
        cmd.args(args).env("PODLAB_CLUSTER", &self.name);
        let out = cmd.output().unwrap();
        (out.status.code().unwrap_or(-1), text(&out))
    }

    fn ok(&self, args: &[&str]) -> String {
        let (code, t) = self.run(args);
        assert_eq!(code, 0, "podlab {args:?} failed:\n{t}");
        t
    }

    fn wait_until(&self, args: &[&str], secs: u64, cond: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let ok = eventually(secs, || {
            last = self.run(args).1;
            cond(&last)
        });
        assert!(ok, "timed out waiting on podlab {args:?}; last output:\n{last}");
        last
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = podlab().args(["down", "--name", &self.name]).output();
    }
}

fn running_rows(t: &str, prefix: &str) -> usize {
    t.lines()
        .filter(|l| l.starts_with(prefix) && l.contains("Running"))
        .count()
}

#[test]
fn learner_workflow_up_get_describe_exec_logs_port_forward_scale_down() {
    if !require_root("learner_workflow_up_get_describe_exec_logs_port_forward_scale_down") {
        return;
    }
    let before = root_net_snapshot();
    let name = format!("t-live-{}", std::process::id());
    let c = Cluster::up("tests/scenarios/live.yaml", &name);

    // The runtime dir and the socket are root's only.
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: String| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(format!("{}/{name}", run_base().display())), 0o700);
    assert_eq!(mode(format!("{}/{name}/podlab.sock", run_base().display())), 0o600);
    assert_eq!(mode(run_base().display().to_string()), 0o700);

    let clusters = podlab().arg("clusters").output().unwrap();
    assert!(text(&clusters).contains(&name), "{}", text(&clusters));

    // get -o wide: kubectl's columns, pod IPs from the node ranges.
    let pods = c.wait_until(&["get", "pods", "-o", "wide"], 20, |t| {
        running_rows(t, "nginx") == 1 && running_rows(t, "client") == 1
    });
    assert!(pods.starts_with("NAME"), "{pods}");
    assert!(pods.contains("10.244."), "{pods}");
    let nodes = c.ok(&["get", "nodes"]);
    assert!(nodes.contains("worker-1") && nodes.contains("Ready"), "{nodes}");

    // describe shows the sandbox, the veth pair and events.
    let d = c.ok(&["describe", "pod", "nginx"]);
    for want in [
        "Name:             nginx",
        "Sandbox (podlab)",
        "Host veth:",
        "Events:",
        "Scheduled",
    ] {
        assert!(d.contains(want), "describe lacks {want:?}:\n{d}");
    }

    // exec runs the machine's binaries inside the pod and the node.
    assert_eq!(c.ok(&["exec", "client", "--", "hostname"]).trim(), "client");
    let addr = c.ok(&["exec", "client", "--", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(addr.contains("10.244."), "{addr}");
    let routes = c.ok(&["exec", "node/worker-1", "--", "ip", "route"]);
    assert!(routes.contains("10.244.2.0/24 via 172.18.0.3"), "{routes}");
    let (code, _) = c.run(&["exec", "client", "--", "sh", "-c", "exit 7"]);
    assert_eq!(code, 7);

    // logs of the built-in nginx.
    let logs = c.ok(&["logs", "nginx"]);
    assert!(logs.contains("listening on 0.0.0.0:80"), "{logs}");

    // port-forward: a plain TCP client on 127.0.0.1 reaches the pod's port 80.
    let mut pf = podlab()
        .args(["port-forward", "pod/nginx", ":80"])
        .env("PODLAB_CLUSTER", &name)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut pf_out = BufReader::new(pf.stdout.take().unwrap());
    pf_out.read_line(&mut first).unwrap();
    let port: u16 = first
        .split(':')
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{first}"));
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    assert!(
        body.contains("Welcome to nginx!"),
        "port-forward on {port} answered {body:?}"
    );
    let _ = pf.kill();
    let _ = pf.wait();
    drop(pf_out);

    // A Deployment scaled 1 -> 5 -> 2.
    let applied = c.ok(&["apply", "-f", "tests/scenarios/kubia-deployment.yaml"]);
    assert!(applied.contains("deployment.apps/kubia created"), "{applied}");
    c.wait_until(&["get", "pods", "-l", "app=kubia"], 20, |t| {
        running_rows(t, "kubia-") == 1
    });
    assert!(
        c.ok(&["scale", "deployment", "kubia", "--replicas", "5"])
            .contains("scaled")
    );
    c.wait_until(&["get", "pods", "-l", "app=kubia"], 20, |t| {
        running_rows(t, "kubia-") == 5
    });
    let deploy = c.wait_until(&["get", "deployments"], 10, |t| t.contains("5/5"));
    assert!(deploy.contains("kubia"), "{deploy}");
    c.ok(&["scale", "deployment/kubia", "--replicas", "2"]);
    c.wait_until(&["get", "pods", "-l", "app=kubia"], 20, |t| {
        t.lines().filter(|l| l.starts_with("kubia-")).count() == 2
    });

    // Delete a pod of the Deployment: it is replaced, with a new name and a new IP.
    let wide = c.ok(&["get", "pods", "-l", "app=kubia", "-o", "wide"]);
    let victim: Vec<String> = wide
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .map(String::from)
        .collect();
    let (vname, vip) = (victim[0].clone(), victim[5].clone());
    assert!(c.ok(&["delete", "pod", &vname]).contains("deleted"));
    let after = c.wait_until(&["get", "pods", "-l", "app=kubia", "-o", "wide"], 20, |t| {
        running_rows(t, "kubia-") == 2 && !t.contains(&vname)
    });
    assert!(
        !after.contains(&format!(" {vip} ")),
        "the replacement reused {vip}:\n{after}"
    );

    // A crash-looping container: RESTARTS grows, STATUS shows CrashLoopBackOff; an unknown image
    // shows ErrImagePull / ImagePullBackOff.
    c.ok(&["apply", "-f", "tests/scenarios/crasher.yaml"]);
    c.wait_until(&["get", "pods", "crasher"], 20, |t| t.contains("CrashLoopBackOff"));
    c.wait_until(&["get", "pods", "crasher"], 20, |t| {
        t.lines()
            .nth(1)
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|r| r.parse::<u32>().ok())
            .unwrap_or(0)
            >= 3
    });
    assert!(c.ok(&["logs", "crasher", "--previous"]).contains("starting"));
    c.wait_until(&["get", "pods", "unpullable"], 20, |t| {
        t.contains("ImagePullBackOff") || t.contains("ErrImagePull")
    });
    let ev = c.ok(&["describe", "pod", "unpullable"]);
    assert!(ev.contains("Failed to pull image \"my-company/app:1.0\""), "{ev}");

    // Namespaces and labels.
    assert!(
        c.ok(&["create", "namespace", "team-a"])
            .contains("namespace/team-a created")
    );
    assert!(c.ok(&["get", "namespaces"]).contains("team-a"));
    assert!(c.ok(&["label", "pod", "nginx", "tier=web"]).contains("labeled"));
    assert!(
        c.ok(&["get", "pods", "-l", "tier=web", "-o", "name"])
            .contains("pod/nginx")
    );
    let y = c.ok(&["get", "pod", "nginx", "-o", "yaml"]);
    assert!(y.contains("kind: Pod") && y.contains("podIP:"), "{y}");
    let j = c.ok(&["get", "pods", "-o", "json"]);
    assert!(serde_json::from_str::<serde_json::Value>(&j).is_ok(), "{j}");

    // down removes everything.
    let pid = daemon_pid(&name);
    let kids = descendants_of(pid);
    drop(c);
    assert!(eventually(5, || !run_base().join(&name).exists()));
    assert!(
        eventually(5, || kids.iter().all(|&k| !alive(k))),
        "processes left after down"
    );
    assert_eq!(before, root_net_snapshot());
    let (code, t) = {
        let out = podlab().args(["get", "pods", "--cluster", &name]).output().unwrap();
        (out.status.code().unwrap_or(-1), text(&out))
    };
    assert_ne!(code, 0);
    assert!(
        t.contains("podlab up"),
        "a command with no cluster should say how to start one:\n{t}"
    );
}

#[test]
fn killed_daemon_is_detected_and_cleaned_by_the_next_command() {
    if !require_root("killed_daemon_is_detected_and_cleaned_by_the_next_command") {
        return;
    }
    let name = format!("t-kill-{}", std::process::id());
    let c = Cluster::up("tests/scenarios/live.yaml", &name);
    let pid = daemon_pid(&name) as i32;
    let kids = descendants_of(pid as u32);
    // SAFETY: killing the daemon this test started, by pid.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(
        eventually(5, || kids.iter().all(|&k| !alive(k))),
        "pods survived the daemon"
    );
    // The next command notices (another podlab command may have cleaned it already).
    let (code, t) = c.run(&["get", "pods"]);
    assert_ne!(code, 0);
    assert!(t.contains("stale") || t.contains("podlab up"), "{t}");
    assert!(!run_base().join(&name).exists());
}

#[test]
fn a_route_deleted_by_hand_is_restored_by_the_node_agent() {
    if !require_root("a_route_deleted_by_hand_is_restored_by_the_node_agent") {
        return;
    }
    let name = format!("t-route-{}", std::process::id());
    let c = Cluster::up("tests/scenarios/live.yaml", &name);
    c.ok(&["exec", "node/worker-1", "--", "ip", "route", "del", "10.244.2.0/24"]);
    assert!(
        !c.ok(&["exec", "node/worker-1", "--", "ip", "route"])
            .contains("10.244.2.0/24")
    );
    c.wait_until(&["exec", "node/worker-1", "--", "ip", "route"], 10, |t| {
        t.contains("10.244.2.0/24 via 172.18.0.3")
    });
    c.wait_until(&["get", "events"], 5, |t| t.contains("RouteRestored"));
}

#[test]
fn node_down_evicts_and_replaces_pods_with_new_ips_and_node_up_heals() {
    if !require_root("node_down_evicts_and_replaces_pods_with_new_ips_and_node_up_heals") {
        return;
    }
    let before = root_net_snapshot();
    let name = format!("t-node-{}", std::process::id());
    let c = Cluster::up("tests/scenarios/three-nodes.yaml", &name);
    c.ok(&["apply", "-f", "tests/scenarios/kubia-deployment.yaml"]);
    c.ok(&["scale", "deployment", "kubia", "--replicas", "6"]);
    let wide = c.wait_until(&["get", "pods", "-l", "app=kubia", "-o", "wide"], 20, |t| {
        running_rows(t, "kubia-") == 6
    });
    let on_w1: Vec<(String, String)> = wide
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
        .filter(|f| f[6] == "worker-1")
        .map(|f| (f[0].clone(), f[5].clone()))
        .collect();
    assert!(
        !on_w1.is_empty(),
        "spreading should put kubia pods on worker-1:\n{wide}"
    );

    // Cut worker-1's uplink: NotReady, and its pods cannot be reached from another node.
    assert!(c.ok(&["node", "down", "worker-1"]).contains("uplink cut"));
    assert!(
        c.ok(&["get", "nodes"])
            .lines()
            .any(|l| l.starts_with("worker-1") && l.contains("NotReady"))
    );
    let (code, _) = c.run(&[
        "exec",
        "probe",
        "--",
        "curl",
        "-s",
        "-m",
        "1",
        &format!("http://{}:8080/", on_w1[0].1),
    ]);
    assert_ne!(code, 0, "worker-1's pods must be unreachable with its uplink cut");

    // After the (scaled) eviction timeout they are replaced elsewhere, with new names and IPs.
    let after = c.wait_until(&["get", "pods", "-l", "app=kubia", "-o", "wide"], 30, |t| {
        running_rows(t, "kubia-") == 6
            && !t
                .lines()
                .skip(1)
                .any(|l| l.split_whitespace().nth(6) == Some("worker-1"))
    });
    for (pod, ip) in &on_w1 {
        assert!(
            !after.contains(pod.as_str()),
            "{pod} should have been evicted:\n{after}"
        );
        assert!(
            !after.contains(&format!(" {ip} ")),
            "a replacement reused {ip}:\n{after}"
        );
    }
    let ev = c.ok(&["get", "events"]);
    assert!(
        ev.contains("NodeNotReady") && ev.contains("TaintManagerEviction"),
        "{ev}"
    );

    // Bring it back: Ready, routes everywhere as they must be (none missing, none stale), reachable.
    assert!(c.ok(&["node", "up", "worker-1"]).contains("Ready"));
    assert!(
        c.ok(&["get", "nodes"])
            .lines()
            .any(|l| l.starts_with("worker-1") && l.contains(" Ready "))
    );
    for (node, want) in [
        (
            "worker-1",
            ["10.244.2.0/24 via 172.18.0.3", "10.244.3.0/24 via 172.18.0.4"],
        ),
        (
            "worker-2",
            ["10.244.1.0/24 via 172.18.0.2", "10.244.3.0/24 via 172.18.0.4"],
        ),
        (
            "worker-3",
            ["10.244.1.0/24 via 172.18.0.2", "10.244.2.0/24 via 172.18.0.3"],
        ),
    ] {
        let routes = c.ok(&["exec", &format!("node/{node}"), "--", "ip", "route"]);
        for w in want {
            assert!(routes.contains(w), "{node} lacks {w}:\n{routes}");
        }
        assert_eq!(
            routes.lines().filter(|l| l.contains(" via ")).count(),
            2,
            "stale routes on {node}:\n{routes}"
        );
    }
    // The node is reachable again over the fabric (its kubelet-style address answers ICMP-free TCP: any reply, even a refusal, proves the path).
    let (code, _) = c.run(&["exec", "probe", "--", "curl", "-s", "-m", "2", "http://172.18.0.2:1/"]);
    assert_eq!(
        code, 7,
        "connection refused (7) means worker-1 answered; a timeout (28) means it is still cut off"
    );
    drop(c);
    assert_eq!(before, root_net_snapshot());
}
