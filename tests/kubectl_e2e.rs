//! End-to-end: the real `kubectl` (v1.32 on the PATH) against the Kubernetes API that
//! `podlab up` serves on loopback: the book's chapter 3 commands, logs, exec, port-forward,
//! watch, wait, Deployments, and bad requests sent by hand. Each test starts its own cluster
//! (unique `--name`, removed on drop), with its own kubectl home and discovery cache, and checks
//! both what kubectl prints and what happened in the kernel (a pod's network namespace and IP).
//!
//! Without `kubectl` on the PATH the tests skip loudly, or fail when `PODLAB_REQUIRE_ROOT=1`.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CLUSTER: &str = "tests/kubectl/cluster.yaml";

/// The longest any one kubectl command may take.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(45);

/// Root and kubectl present: true. Otherwise a loud skip, or a failure under CI.
fn ready(test: &str) -> bool {
    if !require_root(test) {
        return false;
    }
    let found = Command::new("kubectl")
        .args(["version", "--client"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return true;
    }
    if std::env::var("PODLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!(
            "{test}: `kubectl` is not on the PATH, and PODLAB_REQUIRE_ROOT=1 forbids skipping (install kubectl v1.32)"
        );
    }
    eprintln!("\n*** SKIPPED {test}: `kubectl` is not on the PATH ***\n");
    false
}

/// One cluster from `podlab up`, and kubectl pointed at it through its kubeconfig, with a home
/// and discovery cache of its own.
struct Kube {
    cluster: UpCluster,
    home: PathBuf,
}

impl Kube {
    fn up(prefix: &str) -> Kube {
        let cluster = UpCluster::up(CLUSTER, prefix);
        let home = std::env::temp_dir().join(format!("podlab-kubectl-{}", cluster.name));
        std::fs::create_dir_all(&home).unwrap();
        Kube { cluster, home }
    }

    fn kubeconfig(&self) -> String {
        format!("{}/{}/kubeconfig", run_base().display(), self.cluster.name)
    }

    /// `127.0.0.1:PORT` of the API, from the kubeconfig.
    fn server(&self) -> String {
        let cfg = std::fs::read_to_string(self.kubeconfig()).unwrap();
        let line = cfg.lines().find(|l| l.trim_start().starts_with("server:")).unwrap();
        line.split("http://").nth(1).unwrap().trim().to_string()
    }

    /// The API's bearer token, from the kubeconfig.
    fn token(&self) -> String {
        let cfg = std::fs::read_to_string(self.kubeconfig()).unwrap();
        let line = cfg.lines().find(|l| l.trim_start().starts_with("token:")).unwrap();
        line.trim_start().trim_start_matches("token:").trim().to_string()
    }

    /// One request to the API with the kubeconfig's token (see [`http`]).
    fn api(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
        let auth = format!("Bearer {}", self.token());
        let mut all = vec![("Authorization", auth.as_str())];
        all.extend_from_slice(headers);
        http(&self.server(), method, path, &all, body)
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("kubectl");
        c.args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("KUBECONFIG", self.kubeconfig())
            .env("HOME", &self.home)
            .env("KUBECACHEDIR", self.home.join("cache"))
            .env_remove("KUBECTL_EXTERNAL_DIFF");
        c
    }

    fn output(&self, args: &[&str]) -> Output {
        self.output_with(args, None)
    }

    /// Runs kubectl (with `input` on stdin), killing it after [`KUBECTL_TIMEOUT`]: a hung
    /// kubectl fails the test instead of blocking the suite.
    fn output_with(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(if input.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = input {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(KUBECTL_TIMEOUT) {
            Ok(o) => o.unwrap(),
            Err(_) => {
                // SAFETY: kill(2) on the pid of the child this function started, not yet reaped
                // (its waiting thread has not returned).
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                let o = rx.recv().unwrap().unwrap();
                panic!(
                    "kubectl {args:?} hung for {KUBECTL_TIMEOUT:?}; it printed:\n{}",
                    text(&o)
                );
            }
        }
    }

    /// Runs kubectl; asserts it succeeded; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.output(args);
        assert!(o.status.success(), "kubectl {args:?} failed:\n{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs kubectl with `input` on stdin; asserts it succeeded; its stdout.
    fn ok_stdin(&self, args: &[&str], input: &str) -> String {
        let o = self.output_with(args, Some(input));
        assert!(o.status.success(), "kubectl {args:?} failed:\n{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Runs kubectl; asserts it failed with `code`; its stdout and stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let o = self.output(args);
        assert_eq!(o.status.code(), Some(code), "kubectl {args:?}:\n{}", text(&o));
        text(&o)
    }

    /// Repeats kubectl until its stdout satisfies `cond` (up to `secs`); that stdout.
    fn until(&self, args: &[&str], secs: u64, cond: impl Fn(&str) -> bool) -> String {
        let mut last = String::new();
        let ok = eventually(secs, || {
            last = text(&self.output(args));
            cond(&last)
        });
        assert!(ok, "timed out waiting on kubectl {args:?}; last output:\n{last}");
        last
    }

    /// `podlab ARGS` on this cluster (through its own socket).
    fn podlab(&self, args: &[&str]) -> String {
        self.cluster.run(args)
    }

    fn spawn(&self, args: &[&str]) -> Child {
        self.cmd(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

impl Drop for Kube {
    fn drop(&mut self) {
        self.cluster.down();
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// A running child's stdout, line by line, through a channel (so reads can time out); the
/// child is killed (by its pid) on drop.
struct Lines {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl Lines {
    fn new(mut child: Child) -> Lines {
        let (tx, rx) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines { child, rx }
    }

    /// The first line that satisfies `cond` within `secs`; panics with what was seen.
    fn wait_for(&self, secs: u64, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        let mut seen = Vec::new();
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(l) if cond(&l) => return l,
                Ok(l) => seen.push(l),
                Err(_) => break,
            }
        }
        panic!("no line {what} within {secs} s; saw:\n{}", seen.join("\n"));
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rows(t: &str) -> Vec<Vec<String>> {
    t.lines()
        .map(|l| l.split_whitespace().map(String::from).collect())
        .collect()
}

/// Pods of `kubectl get pods --no-headers` output in STATUS Running.
fn running(t: &str) -> usize {
    rows(t)
        .iter()
        .filter(|r| r.get(2).is_some_and(|s| s == "Running"))
        .count()
}

fn in_pod_range(ip: &str) -> bool {
    let o: Vec<u8> = ip.split('.').filter_map(|x| x.parse().ok()).collect();
    o.len() == 4 && o[0] == 10 && o[1] == 244
}

/// The book's chapter 3, in order: create -f, get with every output, labels, annotations, a
/// node label that lets a Pending pod schedule, the pod's real network namespace, errors, and
/// deletes (the pod's namespace and its processes go away).
#[test]
fn chapter3_create_get_label_annotate_outputs_and_the_pods_netns() {
    if !ready("chapter3_create_get_label_annotate_outputs_and_the_pods_netns") {
        return;
    }
    let before = root_net_snapshot();
    let k = Kube::up("k-ch3");

    assert_eq!(
        k.ok(&["create", "-f", "tests/kubectl/kubia-manual.yaml"]).trim(),
        "pod/kubia-manual created"
    );
    k.ok(&["wait", "--for=condition=Ready", "pod/kubia-manual", "--timeout=20s"]);

    // -L and --show-labels.
    let l = k.ok(&["get", "po", "-L", "creation_method,env"]);
    let header = rows(&l)[0].clone();
    assert_eq!(
        header,
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "CREATION_METHOD", "ENV"],
        "{l}"
    );
    let row = &rows(&l)[1];
    assert_eq!(
        (row[0].as_str(), row[1].as_str(), row[2].as_str()),
        ("kubia-manual", "1/1", "Running")
    );
    assert_eq!(&row[5..], ["manual", "prod"], "{l}");
    let sl = k.ok(&["get", "po", "--show-labels"]);
    assert!(sl.contains("creation_method=manual,env=prod"), "{sl}");

    // label: --overwrite changes it, without it kubectl refuses.
    let no = k.fails(&["label", "po", "kubia-manual", "env=debug"], 1);
    assert!(
        no.contains("'env' already has a value (prod), and --overwrite is false"),
        "{no}"
    );
    assert_eq!(
        k.ok(&["label", "po", "kubia-manual", "env=debug", "--overwrite"])
            .trim(),
        "pod/kubia-manual labeled"
    );
    assert_eq!(
        k.ok(&["get", "po", "kubia-manual", "-o", "jsonpath={.metadata.labels.env}"]),
        "debug"
    );
    assert!(
        k.ok(&["get", "po", "-l", "env=debug", "-o", "name"])
            .contains("pod/kubia-manual")
    );
    assert!(k.ok(&["get", "po", "-l", "env=prod", "-o", "name"]).trim().is_empty());

    // annotate.
    assert_eq!(
        k.ok(&[
            "annotate",
            "pod",
            "kubia-manual",
            "mycompany.com/someannotation=foo bar"
        ])
        .trim(),
        "pod/kubia-manual annotated"
    );
    let ann = k.ok(&[
        "get",
        "po",
        "kubia-manual",
        "-o",
        "jsonpath={.metadata.annotations.mycompany\\.com/someannotation}",
    ]);
    assert_eq!(ann, "foo bar");

    // Output formats.
    let yaml = k.ok(&["get", "po", "kubia-manual", "-o", "yaml"]);
    for want in [
        "apiVersion: v1",
        "kind: Pod",
        "name: kubia-manual",
        "image: luksa/kubia",
        "containerPort: 8080",
        "podIP: 10.244.",
    ] {
        assert!(yaml.contains(want), "-o yaml lacks {want:?}:\n{yaml}");
    }
    let json: serde_json::Value = serde_json::from_str(&k.ok(&["get", "po", "kubia-manual", "-o", "json"])).unwrap();
    assert_eq!(json["kind"], "Pod");
    assert_eq!(json["status"]["phase"], "Running");
    assert_eq!(json["spec"]["containers"][0]["ports"][0]["containerPort"], 8080);
    let ip = k.ok(&["get", "pod", "kubia-manual", "-o", "jsonpath={.status.podIP}"]);
    assert!(in_pod_range(&ip), "pod IP {ip:?} not in 10.244.0.0/16");
    let node = k.ok(&["get", "pod", "kubia-manual", "-o", "jsonpath={.spec.nodeName}"]);
    assert!(node.starts_with("worker-"), "{node}");
    let cc = k.ok(&[
        "get",
        "po",
        "-o",
        "custom-columns=POD:.metadata.name,IMAGE:.spec.containers[0].image,IP:.status.podIP",
    ]);
    assert_eq!(
        rows(&cc),
        [
            vec!["POD", "IMAGE", "IP"],
            vec!["kubia-manual", "luksa/kubia", ip.as_str()]
        ],
        "{cc}"
    );
    let wide = k.ok(&["get", "po", "-o", "wide"]);
    assert_eq!(rows(&wide)[0][5..7], ["IP", "NODE"], "{wide}");
    assert_eq!(rows(&wide)[1][5..7], [ip.clone(), node.clone()], "{wide}");
    assert_eq!(k.ok(&["get", "po", "-o", "name"]).trim(), "pod/kubia-manual");
    let nh = k.ok(&["get", "po", "--no-headers"]);
    assert_eq!(nh.lines().count(), 1, "{nh}");
    assert!(nh.starts_with("kubia-manual "), "{nh}");
    let bogus = k.fails(&["get", "po", "-o", "bogus"], 1);
    assert!(
        bogus.contains("unable to match a printer suitable for the output format \"bogus\""),
        "{bogus}"
    );

    // The pod is a real network namespace with that IP on eth0, not the machine's.
    let addr = k.ok(&["exec", "kubia-manual", "--", "ip", "-br", "addr"]);
    let eth0 = addr
        .lines()
        .find(|l| l.starts_with("eth0"))
        .unwrap_or_else(|| panic!("{addr}"));
    assert!(eth0.contains(&format!("{ip}/")), "eth0 lacks {ip}: {addr}");
    let podlab_addr = k.podlab(&["exec", "kubia-manual", "--", "ip", "-br", "addr"]);
    assert!(podlab_addr.contains(&format!("{ip}/")), "{podlab_addr}");
    let pod_netns = k
        .ok(&["exec", "kubia-manual", "--", "readlink", "/proc/self/ns/net"])
        .trim()
        .to_string();
    assert!(pod_netns.starts_with("net:["), "{pod_netns}");
    assert_ne!(
        Some(pod_netns.clone()),
        netns_of(std::process::id()),
        "the pod shares the test's netns"
    );
    assert!(
        !processes_in(std::slice::from_ref(&pod_netns)).is_empty(),
        "no process in {pod_netns}"
    );
    assert!(
        !root_net_snapshot().contains(&ip),
        "the pod IP {ip} leaked into the root namespace"
    );
    // kubia answers on the pod IP from the pod itself.
    let hit = k.ok(&[
        "exec",
        "kubia-manual",
        "--",
        "curl",
        "-s",
        "-m",
        "5",
        &format!("http://{ip}:8080/"),
    ]);
    assert!(hit.contains("You've hit kubia-manual"), "{hit}");

    // label node: the Pending kubia-gpu pod gets scheduled onto worker-1.
    k.ok(&["create", "-f", "tests/kubectl/kubia-gpu.yaml"]);
    let pending = k.ok(&["get", "po", "kubia-gpu", "--no-headers"]);
    assert_eq!(rows(&pending)[0][2], "Pending", "{pending}");
    assert_eq!(k.ok(&["get", "po", "kubia-gpu", "-o", "jsonpath={.spec.nodeName}"]), "");
    assert_eq!(
        k.ok(&["label", "node", "worker-1", "gpu=true"]).trim(),
        "node/worker-1 labeled"
    );
    assert!(k.ok(&["get", "nodes", "-l", "gpu=true", "-o", "name"]).trim() == "node/worker-1");
    k.until(&["get", "po", "kubia-gpu", "--no-headers"], 20, |t| running(t) == 1);
    assert_eq!(
        k.ok(&["get", "po", "kubia-gpu", "-o", "jsonpath={.spec.nodeName}"]),
        "worker-1"
    );
    assert_eq!(
        k.ok(&["label", "node", "worker-1", "gpu=false", "--overwrite"]).trim(),
        "node/worker-1 labeled"
    );
    assert!(k.ok(&["get", "nodes", "-L", "gpu"]).contains("false"));

    // Events, sorted by kubectl.
    let ev = k.ok(&["get", "events", "--sort-by=.lastTimestamp"]);
    for want in ["Scheduled", "pod/kubia-manual", "pod/kubia-gpu", "Started"] {
        assert!(ev.contains(want), "events lack {want:?}:\n{ev}");
    }

    // Errors, as kube-apiserver words them.
    let nf = k.fails(&["get", "po", "nosuch"], 1);
    assert!(
        nf.contains("Error from server (NotFound): pods \"nosuch\" not found"),
        "{nf}"
    );
    let proto = k.fails(&["create", "ns", "foo"], 1);
    assert!(proto.contains("Error from server (UnsupportedMediaType)"), "{proto}");
    assert!(proto.contains("kubectl create -f FILE"), "{proto}");
    let strict = k.fails(&["create", "-f", "tests/kubectl/misspelt.yaml"], 1);
    assert!(strict.contains("unknown field \"spec.contianers\""), "{strict}");
    k.fails(&["get", "po", "misspelt"], 1);

    // Delete by name: the pod's network namespace loses its processes.
    assert_eq!(
        k.ok(&["delete", "po", "kubia-manual"]).trim(),
        "pod \"kubia-manual\" deleted"
    );
    k.fails(&["get", "po", "kubia-manual"], 1);
    assert!(
        eventually(10, || processes_in(std::slice::from_ref(&pod_netns)).is_empty()),
        "processes left in the deleted pod's netns {pod_netns}"
    );
    drop(k);
    assert_eq!(before, root_net_snapshot(), "the root namespace changed");
}

/// Namespaces from a file, a pod in one, `delete ns`; deletes by label and `--all`.
#[test]
fn namespaces_and_deletes_by_name_label_and_all() {
    if !ready("namespaces_and_deletes_by_name_label_and_all") {
        return;
    }
    let k = Kube::up("k-ns");
    assert_eq!(
        k.ok(&["create", "-f", "tests/kubectl/custom-namespace.yaml"]).trim(),
        "namespace/custom-namespace created"
    );
    assert!(k.ok(&["get", "ns"]).contains("custom-namespace"));
    k.ok(&[
        "create",
        "-f",
        "tests/kubectl/kubia-manual.yaml",
        "-n",
        "custom-namespace",
    ]);
    let there = k.until(
        &["get", "po", "--namespace", "custom-namespace", "--no-headers"],
        20,
        |t| running(t) == 1,
    );
    assert!(there.starts_with("kubia-manual"), "{there}");
    assert!(
        k.ok(&["get", "po", "--no-headers"]).trim().is_empty(),
        "default has no pods"
    );
    let all = k.ok(&["get", "po", "-A"]);
    assert!(
        all.lines()
            .any(|l| l.starts_with("custom-namespace") && l.contains("kubia-manual")),
        "{all}"
    );
    assert!(
        k.ok(&["delete", "ns", "custom-namespace"])
            .contains("namespace \"custom-namespace\" deleted")
    );
    k.until(&["get", "ns", "custom-namespace"], 20, |t| {
        t.contains("Error from server (NotFound): namespaces \"custom-namespace\" not found")
    });
    assert!(k.ok(&["get", "po", "-A", "--no-headers"]).trim().is_empty());

    // Three pods: one goes by label, the rest with --all.
    let pod = |name: &str, method: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, labels: {{creation_method: {method}}}}}\nspec:\n  containers: [{{name: c, image: busybox, command: [sleep, \"3600\"]}}]\n"
        )
    };
    for (n, m) in [("a", "manual"), ("b", "auto"), ("c", "auto")] {
        assert_eq!(
            k.ok_stdin(&["create", "-f", "-"], &pod(n, m)).trim(),
            format!("pod/{n} created")
        );
    }
    k.ok(&["wait", "--for=condition=Ready", "pod", "--all", "--timeout=20s"]);
    assert_eq!(
        k.ok(&["delete", "po", "-l", "creation_method=manual"]).trim(),
        "pod \"a\" deleted"
    );
    assert_eq!(
        k.ok(&["get", "po", "-o", "name"])
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["pod/b", "pod/c"]
    );
    let gone = k.ok(&["delete", "po", "--all"]);
    assert!(
        gone.contains("pod \"b\" deleted") && gone.contains("pod \"c\" deleted"),
        "{gone}"
    );
    assert!(k.ok(&["get", "po", "--no-headers"]).trim().is_empty());
    let left = k.podlab(&["get", "pods", "-A"]);
    assert!(!left.contains("Running"), "podlab still shows pods:\n{left}");
}

/// `logs` and `logs -f` (a line produced after it started), `exec` (exit codes, stdin) and
/// `port-forward` with real HTTP traffic to nginx.
#[test]
fn logs_follow_exec_and_port_forward() {
    if !ready("logs_follow_exec_and_port_forward") {
        return;
    }
    let k = Kube::up("k-io");
    k.ok(&["create", "-f", "tests/kubectl/ticker.yaml"]);
    k.ok(&["create", "-f", "tests/kubectl/nginx-pod.yaml"]);
    k.ok(&["wait", "--for=condition=Ready", "pod", "ticker", "web", "--timeout=20s"]);

    // logs -f: start following, take a snapshot, then receive a line newer than the snapshot.
    let follow = Lines::new(k.spawn(&["logs", "-f", "ticker"]));
    follow.wait_for(10, "from logs -f", |l| l.starts_with("tick "));
    let tick = |l: &str| l.strip_prefix("tick ").and_then(|n| n.trim().parse::<u64>().ok());
    let snapshot = k.ok(&["logs", "ticker"]);
    let last = snapshot
        .lines()
        .filter_map(tick)
        .max()
        .unwrap_or_else(|| panic!("{snapshot}"));
    follow.wait_for(10, &format!("after tick {last}"), |l| {
        tick(l).is_some_and(|n| n > last + 2)
    });
    drop(follow);
    let tail = k.ok(&["logs", "ticker", "--tail=2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");

    // exec: output, exit codes, stdin.
    assert_eq!(k.ok(&["exec", "web", "--", "hostname"]).trim(), "web");
    let three = k.fails(&["exec", "web", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], 3);
    assert!(three.contains("out") && three.contains("err"), "{three}");
    assert_eq!(
        k.ok_stdin(&["exec", "-i", "web", "--", "cat"], "hi from stdin\n"),
        "hi from stdin\n"
    );
    let wc = k.ok_stdin(&["exec", "-i", "web", "-c", "nginx", "--", "wc", "-l"], "1\n2\n3\n");
    assert_eq!(wc.trim(), "3");
    // An exec has the container runtime's default capabilities, as the container has: no
    // CAP_SYS_ADMIN, so the pod's hostname stays.
    let caps = k.ok(&["exec", "web", "--", "grep", "-E", "^Cap(Bnd|Eff)", "/proc/self/status"]);
    assert_eq!(caps.matches("00000000a00425fb").count(), 2, "{caps}");
    // (Debian's hostname says "you must be root" for the EPERM.)
    k.fails(&["exec", "web", "--", "hostname", "renamed"], 1);
    assert_eq!(k.ok(&["exec", "web", "--", "hostname"]).trim(), "web");

    // port-forward: kubectl picks the local port; a plain HTTP client gets nginx's page.
    let pf = Lines::new(k.spawn(&["port-forward", "pod/web", ":80"]));
    let line = pf.wait_for(15, "Forwarding from 127.0.0.1", |l| {
        l.starts_with("Forwarding from 127.0.0.1:")
    });
    let port: u16 = line
        .trim_start_matches("Forwarding from 127.0.0.1:")
        .split_whitespace()
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    for _ in 0..3 {
        let (code, body) = http(&format!("127.0.0.1:{port}"), "GET", "/", &[], b"");
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("Welcome to nginx!"), "{body}");
    }
    drop(pf);
}

/// `get -w` sees a new pod appear; `wait --for=condition=Ready -l`.
#[test]
fn watch_and_wait() {
    if !ready("watch_and_wait") {
        return;
    }
    let k = Kube::up("k-watch");
    let w = Lines::new(k.spawn(&["get", "pods", "-w"]));
    // The API answered the list before the watch (no pods yet: kubectl says so on stderr), so
    // give the watch a moment to open; a pod created before it opened still shows in its list.
    std::thread::sleep(Duration::from_millis(300));
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: newcomer, labels: {app: newcomer}}\nspec:\n  containers: [{name: c, image: busybox, command: [sleep, \"3600\"]}]\n";
    k.ok_stdin(&["create", "-f", "-"], pod);
    // The watch sends each object's latest state, so the first line may already say Running.
    let first = w.wait_for(15, "about newcomer", |l| l.starts_with("newcomer "));
    if !first.contains("Running") {
        w.wait_for(15, "with newcomer Running", |l| {
            l.starts_with("newcomer ") && l.contains("Running")
        });
    }
    // Later changes reach the open watch too: a label (MODIFIED), a delete.
    k.ok(&["label", "pod", "newcomer", "seen=yes"]);
    w.wait_for(15, "after the label", |l| l.starts_with("newcomer "));
    k.ok(&["delete", "pod", "newcomer", "--wait=false"]);
    w.wait_for(15, "after the delete", |l| l.starts_with("newcomer "));
    drop(w);

    // A watch from a list's resourceVersion hears of a deletion between the list and the watch
    // (what kubectl's `delete` and `wait` rely on: otherwise they wait forever).
    let doomed = pod.replace("newcomer", "doomed");
    k.ok_stdin(&["create", "-f", "-"], &doomed);
    k.ok(&["wait", "--for=condition=Ready", "pod/doomed", "--timeout=20s"]);
    let pods = "/api/v1/namespaces/default/pods";
    let (code, list) = k.api("GET", pods, &[], b"");
    assert_eq!(code, 200, "{list}");
    let list: serde_json::Value = serde_json::from_str(&list).unwrap();
    let list_rv = list["metadata"]["resourceVersion"].as_str().unwrap().to_string();
    k.ok(&["delete", "pod", "doomed"]);
    let path =
        format!("{pods}?watch=true&resourceVersion={list_rv}&fieldSelector=metadata.name%3Ddoomed&timeoutSeconds=2");
    let (code, events) = k.api("GET", &path, &[], b"");
    assert_eq!(code, 200, "{events}");
    let deleted: Vec<&str> = events.lines().filter(|l| l.contains("\"DELETED\"")).collect();
    assert_eq!(deleted.len(), 1, "watch from {list_rv}:\n{events}");
    assert!(deleted[0].contains("\"doomed\""), "{events}");

    // wait: started while the pod cannot be scheduled, it returns once a node label lets it run.
    let pod = std::fs::read_to_string(repo("tests/kubectl/kubia-gpu.yaml"))
        .unwrap()
        .replace("name: kubia-gpu", "name: kubia-gpu\n  labels: {app: gpu}");
    k.ok_stdin(&["create", "-f", "-"], &pod);
    let waiting = k.spawn(&["wait", "--for=condition=Ready", "pod", "-l", "app=gpu", "--timeout=30s"]);
    std::thread::sleep(Duration::from_millis(500));
    let pending = k.ok(&["get", "pod", "-l", "app=gpu", "--no-headers"]);
    assert!(pending.contains("Pending"), "{pending}");
    k.ok(&["label", "node", "worker-2", "gpu=true"]);
    let o = waiting.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "pod/kubia-gpu condition met");
    let ready = k.ok(&[
        "get",
        "pod",
        "kubia-gpu",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
    ]);
    assert_eq!(ready, "True");
    assert_eq!(
        k.ok(&["get", "pod", "kubia-gpu", "-o", "jsonpath={.spec.nodeName}"]),
        "worker-2"
    );
}

fn nginx_deployment(image: &str) -> String {
    std::fs::read_to_string(repo("scenario/examples/nginx-deployment.yaml"))
        .unwrap()
        .replace("nginx:1.14.2", image)
}

/// A Deployment: apply, rollout status, scale to 5, apply again with a new image (the ports
/// survive the strategic merge), server-side apply, and delete cascading to its pods.
#[test]
fn deployment_apply_scale_rollout_and_cascading_delete() {
    if !ready("deployment_apply_scale_rollout_and_cascading_delete") {
        return;
    }
    let k = Kube::up("k-deploy");
    assert_eq!(
        k.ok(&["apply", "-f", "scenario/examples/nginx-deployment.yaml"]).trim(),
        "deployment.apps/nginx-deployment created"
    );
    let rs = k.ok(&["rollout", "status", "deployment", "nginx-deployment", "--timeout=30s"]);
    assert!(
        rs.contains("deployment \"nginx-deployment\" successfully rolled out"),
        "{rs}"
    );
    assert_eq!(running(&k.ok(&["get", "pods", "-l", "app=nginx", "--no-headers"])), 3);

    assert_eq!(
        k.ok(&["scale", "deployment", "nginx-deployment", "--replicas", "5"])
            .trim(),
        "deployment.apps/nginx-deployment scaled"
    );
    k.ok(&["rollout", "status", "deployment/nginx-deployment", "--timeout=30s"]);
    k.until(&["get", "pods", "-l", "app=nginx", "--no-headers"], 20, |t| {
        running(t) == 5
    });
    let d = k.ok(&["get", "deploy", "nginx-deployment", "--no-headers"]);
    assert_eq!(rows(&d)[0][1], "5/5", "{d}");
    // Every replica has its own IP in the pod range, on both nodes' ranges.
    let ips = k.ok(&[
        "get",
        "pods",
        "-l",
        "app=nginx",
        "-o",
        "jsonpath={.items[*].status.podIP}",
    ]);
    let ips: Vec<&str> = ips.split_whitespace().collect();
    assert_eq!(ips.len(), 5, "{ips:?}");
    assert!(ips.iter().all(|ip| in_pod_range(ip)), "{ips:?}");
    let mut unique = ips.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "{ips:?}");

    // Apply again with a new image: configured, the ports kept (strategic merge by name).
    assert_eq!(
        k.ok_stdin(&["apply", "-f", "-"], &nginx_deployment("nginx:1.16.1"))
            .trim(),
        "deployment.apps/nginx-deployment configured"
    );
    let c0 = "{.spec.template.spec.containers[0]";
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "nginx-deployment",
            "-o",
            &format!("jsonpath={c0}.image}}")
        ]),
        "nginx:1.16.1"
    );
    assert_eq!(
        k.ok(&[
            "get",
            "deploy",
            "nginx-deployment",
            "-o",
            &format!("jsonpath={c0}.ports[0].containerPort}}")
        ]),
        "80"
    );
    k.ok(&["rollout", "status", "deployment", "nginx-deployment", "--timeout=30s"]);
    k.until(
        &[
            "get",
            "pods",
            "-l",
            "app=nginx",
            "-o",
            "jsonpath={.items[*].spec.containers[0].image}",
        ],
        20,
        |t| t.split_whitespace().count() == 3 && t.split_whitespace().all(|i| i == "nginx:1.16.1"),
    );
    // The manifest says 3 replicas, so the second apply took the deployment back from 5 to 3.
    k.until(&["get", "pods", "-l", "app=nginx", "--no-headers"], 20, |t| {
        running(t) == 3
    });
    assert_eq!(
        k.ok_stdin(&["apply", "-f", "-"], &nginx_deployment("nginx:1.16.1"))
            .trim(),
        "deployment.apps/nginx-deployment unchanged"
    );

    // Server-side apply: creates, then changes.
    let kubia = std::fs::read_to_string(repo("tests/scenarios/kubia-deployment.yaml")).unwrap();
    assert_eq!(
        k.ok_stdin(&["apply", "--server-side", "-f", "-"], &kubia).trim(),
        "deployment.apps/kubia serverside-applied"
    );
    k.ok(&["rollout", "status", "deployment", "kubia", "--timeout=30s"]);
    k.ok_stdin(
        &["apply", "--server-side", "-f", "-"],
        &kubia.replace("replicas: 1", "replicas: 2"),
    );
    k.until(&["get", "pods", "-l", "app=kubia", "--no-headers"], 20, |t| {
        running(t) == 2
    });
    assert_eq!(
        k.ok(&["get", "deploy", "kubia", "-o", "jsonpath={.spec.replicas}"]),
        "2"
    );

    // Delete cascades: the ReplicaSets and pods go, nothing else does.
    assert_eq!(
        k.ok(&["delete", "deploy", "nginx-deployment"]).trim(),
        "deployment.apps \"nginx-deployment\" deleted"
    );
    k.until(&["get", "pods", "-l", "app=nginx", "-o", "name"], 20, |t| {
        t.trim().is_empty()
    });
    k.until(&["get", "rs", "-o", "name"], 20, |t| !t.contains("nginx-deployment"));
    assert_eq!(running(&k.ok(&["get", "pods", "-l", "app=kubia", "--no-headers"])), 2);
    let ev = k.ok(&["get", "events", "--sort-by=.lastTimestamp"]);
    assert!(ev.contains("Killing") || ev.contains("Scheduled"), "{ev}");
}

/// A minimal HTTP/1.0 client: (status code, body). Writes on another thread, so a server that
/// answers before reading a huge body is still heard.
fn http(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    head += "\r\n";
    let mut w = s.try_clone().unwrap();
    let mut req = head.into_bytes();
    req.extend_from_slice(body);
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&req);
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) if !raw.is_empty() => break,
            Err(e) => panic!("{method} {path}: {e}"),
        }
    }
    let _ = s.shutdown(std::net::Shutdown::Both);
    let _ = writer.join();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{method} {path}: {raw:?}"));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("{head}"));
    (code, body.to_string())
}

fn status(body: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    assert_eq!(v["kind"], "Status", "{body}");
    assert_eq!(v["status"], "Failure", "{body}");
    v
}

/// Bad requests by hand get `Status` errors with kube-apiserver's codes and reasons, and the
/// cluster loses nothing; `/version` reports 1.34.
#[test]
fn bad_requests_get_status_errors_and_lose_nothing() {
    if !ready("bad_requests_get_status_errors_and_lose_nothing") {
        return;
    }
    let k = Kube::up("k-bad");
    let (code, body) = k.api("GET", "/version", &[], b"");
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["major"].as_str(), v["minor"].as_str()),
        (Some("1"), Some("34")),
        "{body}"
    );

    k.ok(&["create", "-f", "tests/kubectl/kubia-manual.yaml"]);
    k.ok(&["wait", "--for=condition=Ready", "pod/kubia-manual", "--timeout=20s"]);
    let before = k.ok(&["get", "pod", "kubia-manual", "-o", "json"]);
    let pods = "/api/v1/namespaces/default/pods";
    let json = [("Content-Type", "application/json")];

    let (code, body) = k.api("POST", pods, &json, b"{\"apiVersion\": \"v1\", \"kind\": ");
    assert_eq!(code, 400, "{body}");
    assert_eq!(status(&body)["reason"], "BadRequest");

    let (code, body) = k.api("GET", "/api/v1/namespaces/default/widgets", &[], b"");
    assert_eq!(code, 404, "{body}");
    assert_eq!(status(&body)["reason"], "NotFound");
    let (code, _) = k.api("GET", "/apis/nosuch.example.com/v1/things", &[], b"");
    assert_eq!(code, 404);

    let bad_name = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"Foo_Bar"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#;
    let (code, body) = k.api("POST", pods, &json, bad_name);
    assert_eq!(code, 422, "{body}");
    let s = status(&body);
    assert_eq!(s["reason"], "Invalid");
    assert!(s["message"].as_str().unwrap().contains("Foo_Bar"), "{body}");

    let test_op = br#"[{"op":"test","path":"/metadata/labels/env","value":"staging"},{"op":"replace","path":"/metadata/labels/env","value":"hacked"}]"#;
    let (code, body) = k.api(
        "PATCH",
        &format!("{pods}/kubia-manual"),
        &[("Content-Type", "application/json-patch+json")],
        test_op,
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(status(&body)["reason"], "Invalid");

    let (code, body) = k.api(
        "POST",
        pods,
        &[("Content-Type", "application/vnd.kubernetes.protobuf")],
        b"k8s\0",
    );
    assert_eq!(code, 415, "{body}");

    let mut huge =
        b"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"huge\",\"annotations\":{\"a\":\"".to_vec();
    huge.resize(4 << 20, b'x');
    huge.extend_from_slice(b"\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"}]}}");
    let (code, body) = k.api("POST", pods, &json, &huge);
    assert_eq!(code, 413, "{body}");
    assert_eq!(status(&body)["reason"], "RequestEntityTooLarge");

    // Nothing changed; the cluster still answers kubectl, and takes new pods.
    let after = k.ok(&["get", "pod", "kubia-manual", "-o", "json"]);
    let strip = |s: &str| {
        let mut v: serde_json::Value = serde_json::from_str(s).unwrap();
        v["metadata"].as_object_mut().unwrap().remove("managedFields");
        v["metadata"]["labels"].clone()
    };
    assert_eq!(strip(&before), strip(&after));
    assert_eq!(
        k.ok(&[
            "get",
            "po",
            "kubia-manual",
            "-o",
            "jsonpath={.metadata.resourceVersion}"
        ]),
        serde_json::from_str::<serde_json::Value>(&before).unwrap()["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
    );
    assert_eq!(k.ok(&["get", "pods", "-o", "name"]).trim(), "pod/kubia-manual");
    for gone in ["Foo_Bar", "huge"] {
        k.fails(&["get", "pod", gone], 1);
    }
    k.ok(&["create", "-f", "tests/kubectl/ticker.yaml"]);
    k.ok(&["wait", "--for=condition=Ready", "pod/ticker", "--timeout=20s"]);
}

/// ConfigMaps and Secrets as kubectl makes and shows them: its generators (`create configmap`,
/// `create secret generic`, which send protobuf), `get` tables, `-o yaml`, `describe` (a
/// Secret's sizes, never its values), apply then edit (configured), a pod mounting the
/// ConfigMap and reading the Secret (and seeing the next edit), immutable data refused with
/// kube-apiserver's words, a watch seeing the change, delete.
#[test]
fn config_maps_and_secrets() {
    if !ready("config_maps_and_secrets") {
        return;
    }
    let k = Kube::up("k-config");
    let out = k.ok(&[
        "create",
        "configmap",
        "game",
        "--from-literal=lives=3",
        "--from-file=tests/kubectl/game.properties",
    ]);
    assert_eq!(out, "configmap/game created\n");
    let t = k.ok(&["get", "cm"]);
    assert_eq!(rows(&t)[0], ["NAME", "DATA", "AGE"], "{t}");
    assert_eq!(rows(&t)[1][..2], ["game", "2"], "{t}");
    let y = k.ok(&["get", "cm", "game", "-o", "yaml"]);
    assert!(
        y.contains("  game.properties: |\n    enemies=aliens\n    lives=3\n"),
        "{y}"
    );
    assert!(y.contains("  lives: \"3\"\n") && y.contains("kind: ConfigMap\n"), "{y}");

    let out = k.ok(&["create", "secret", "generic", "db", "--from-literal=password=s3cret"]);
    assert_eq!(out, "secret/db created\n");
    let t = k.ok(&["get", "secrets"]);
    assert_eq!(rows(&t)[0], ["NAME", "TYPE", "DATA", "AGE"], "{t}");
    assert_eq!(rows(&t)[1][..3], ["db", "Opaque", "1"], "{t}");
    let d = k.ok(&["describe", "secret", "db"]);
    assert!(
        d.contains("Type:  Opaque\n") && d.contains("password:  6 bytes\n"),
        "{d}"
    );
    assert!(!d.contains("s3cret"), "{d}");
    let y = k.ok(&["get", "secret", "db", "-o", "yaml"]);
    assert!(
        y.contains("  password: czNjcmV0\n") && y.contains("type: Opaque\n"),
        "{y}"
    );
    // podlab's own verbs see the same objects.
    let own = k.podlab(&["get", "secrets"]);
    assert!(rows(&own).iter().any(|r| r[..3] == ["db", "Opaque", "1"]), "{own}");

    // apply, apply again, edit: created, unchanged, configured; a watch sees the edit.
    let manifest = "tests/kubectl/settings-configmap.yaml";
    assert_eq!(k.ok(&["apply", "-f", manifest]), "configmap/settings created\n");
    assert_eq!(k.ok(&["apply", "-f", manifest]), "configmap/settings unchanged\n");
    let w = Lines::new(k.spawn(&["get", "cm", "settings", "-w", "-o", "jsonpath={.data.mode}{\"\\n\"}"]));
    w.wait_for(15, "with the first mode", |l| l == "easy");
    let edited = std::fs::read_to_string(manifest).unwrap().replace("easy", "hard");
    assert_eq!(
        k.ok_stdin(&["apply", "-f", "-"], &edited),
        "configmap/settings configured\n"
    );
    w.wait_for(15, "with the edited mode", |l| l == "hard");
    drop(w);
    let d = k.ok(&["describe", "configmap", "settings"]);
    assert!(
        d.contains("Labels:       app=game\n") && d.contains("mode:\n----\nhard\n"),
        "{d}"
    );

    // immutable: later changes of its data are refused, naming the field.
    let frozen = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: frozen}\nimmutable: true\ndata: {a: \"1\"}\n";
    k.ok_stdin(&["apply", "-f", "-"], frozen);
    let o = k.output_with(&["apply", "-f", "-"], Some(&frozen.replace("\"1\"", "\"2\"")));
    assert!(!o.status.success());
    assert!(
        text(&o).contains(
            "The ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"
        ),
        "{}",
        text(&o)
    );
    let bad = k.fails(
        &["create", "secret", "tls", "t", "--cert=/dev/null", "--key=/dev/null"],
        1,
    );
    assert!(bad.contains("error"), "{bad}");

    // A pod mounts the ConfigMap and reads the Secret into its env, as a user writes it.
    let reader = "apiVersion: v1\nkind: Pod\nmetadata: {name: reader}\nspec:\n  volumes:\n  - name: cfg\n    configMap: {name: settings}\n  containers:\n  - name: app\n    image: busybox\n    command: [sleep, \"3600\"]\n    env:\n    - name: PASSWORD\n      valueFrom: {secretKeyRef: {name: db, key: password}}\n    volumeMounts:\n    - {name: cfg, mountPath: /etc/settings}\n";
    k.ok_stdin(&["apply", "-f", "-"], reader);
    k.ok(&["wait", "--for=condition=Ready", "pod/reader", "--timeout=20s"]);
    assert_eq!(k.ok(&["exec", "reader", "--", "cat", "/etc/settings/mode"]), "hard");
    assert_eq!(
        k.ok(&["exec", "reader", "--", "sh", "-c", "echo $PASSWORD"]),
        "s3cret\n"
    );
    // An edit reaches the mounted file (the kubelet's sync, scaled by the cluster's timeScale).
    k.ok_stdin(&["apply", "-f", "-"], &edited.replace("hard", "nightmare"));
    let script = "for i in $(seq 1 200); do grep -q nightmare /etc/settings/mode && break; sleep 0.1; done; cat /etc/settings/mode";
    assert_eq!(k.ok(&["exec", "reader", "--", "sh", "-c", script]), "nightmare");

    assert_eq!(k.ok(&["delete", "cm", "game"]), "configmap \"game\" deleted\n");
    let gone = k.fails(&["get", "cm", "game"], 1);
    assert!(
        gone.contains("Error from server (NotFound): configmaps \"game\" not found"),
        "{gone}"
    );
}

/// A pod with a field podlab does not honour and resources: `kubectl apply` prints the
/// server's Warning; `-o yaml` shows the defaults kube-apiserver fills in; `kubectl describe
/// node` and `podlab describe node` show the pod's requests and limits and the node's
/// Allocated resources. A misspelt required field gives the error and the suggestion.
#[test]
fn warnings_defaults_and_allocated_resources() {
    if !ready("warnings_defaults_and_allocated_resources") {
        return;
    }
    let k = Kube::up("k-fields");
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: sized\nspec:\n  containers:\n  - name: web\n    image: nginx\n    tty: true\n    resources:\n      requests: {cpu: 250m, memory: 64Mi}\n      limits: {cpu: 500m, memory: 128Mi}\n";
    let o = k.output_with(&["apply", "-f", "-"], Some(pod));
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("pod/sized created"), "{out}");
    assert!(
        out.contains(
            "Warning: spec.containers[0].tty: not implemented by podlab, ignored: containers have no stdin or terminal"
        ),
        "{out}"
    );
    assert!(
        out.contains("Warning: spec.containers[0].resources.limits: not implemented by podlab"),
        "{out}"
    );

    let yaml = k.ok(&["get", "pod", "sized", "-o", "yaml"]);
    for want in [
        "imagePullPolicy: Always",
        "restartPolicy: Always",
        "terminationMessagePath: /dev/termination-log",
        "terminationMessagePolicy: File",
        "dnsPolicy: ClusterFirst",
        "schedulerName: default-scheduler",
        "terminationGracePeriodSeconds: 30",
        "enableServiceLinks: true",
    ] {
        assert!(yaml.contains(want), "-o yaml lacks {want:?}:\n{yaml}");
    }

    let misspelt = k.fails(&["create", "--validate=warn", "-f", "tests/kubectl/misspelt.yaml"], 1);
    assert!(
        misspelt.contains("Warning: unknown field \"spec.contianers\" (did you mean \"containers\"?)"),
        "{misspelt}"
    );
    assert!(misspelt.contains("spec.containers: Required value"), "{misspelt}");
    let strict = k.fails(&["create", "-f", "tests/kubectl/misspelt.yaml"], 1);
    assert!(
        strict.contains("unknown field \"spec.contianers\" (did you mean \"containers\"?)"),
        "{strict}"
    );

    k.until(&["get", "po", "sized", "--no-headers"], 20, |t| running(t) == 1);
    let node = k.ok(&["get", "po", "sized", "-o", "jsonpath={.spec.nodeName}"]);
    for (who, d) in [
        ("kubectl", k.ok(&["describe", "node", &node])),
        ("podlab", k.podlab(&["describe", "node", &node])),
    ] {
        for want in [
            "Non-terminated Pods:          (1 in total)",
            "CPU Requests  CPU Limits  Memory Requests  Memory Limits  Age",
            "Allocated resources:",
            "(Total limits may be over 100 percent, i.e., overcommitted.)",
            "Resource           Requests",
        ] {
            assert!(d.contains(want), "{who} describe node lacks {want:?}:\n{d}");
        }
        let row = d
            .lines()
            .find(|l| l.contains(" sized "))
            .unwrap_or_else(|| panic!("{who}:\n{d}"));
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(&cells[..2], ["default", "sized"], "{who}: {row}");
        assert!(
            row.contains("250m (") && row.contains("500m (") && row.contains("64Mi (") && row.contains("128Mi ("),
            "{who}: {row}"
        );
        let cpu = d
            .lines()
            .find(|l| l.trim_start().starts_with("cpu "))
            .unwrap_or_else(|| panic!("{who}:\n{d}"));
        assert!(cpu.contains("250m (") && cpu.contains("500m ("), "{who}: {cpu}");
    }
}

/// What kube-apiserver answers a request it cannot authenticate.
const UNAUTHORIZED: &str = r#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}"#;

/// Sends an HTTP/1.1 upgrade request (`GET path` with `headers`); the status line and the body
/// of a refusal (nothing after a `101`).
fn upgrade(addr: &str, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        head += &format!("{k}: {v}\r\n");
    }
    s.write_all(format!("{head}\r\n").as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let mut status = String::new();
    r.read_line(&mut status).unwrap();
    let mut length = 0;
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        if h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            length = v.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    r.read_exact(&mut body).unwrap();
    (status.trim().to_string(), String::from_utf8_lossy(&body).into_owned())
}

/// What kubectl 1.32 prints when discovery gets kube-apiserver's 401 (the `(Unauthorized)`
/// form is for a 401 on a resource request, after discovery).
const LOGGED_IN: &str =
    "error: You must be logged in to the server (the server has asked for the client to provide credentials)";

/// Runs `f` on a thread whose file-system uid is `nobody` (65534): the sockets it opens belong
/// to that user, as another local user's would. Root only.
fn as_stranger<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: setfsuid(2) changes only the calling thread's file-system uid; this thread
        // ends after `f`.
        unsafe { libc::setfsuid(65534) };
        f()
    })
    .join()
    .unwrap()
}

/// Only the cluster's own user, or a holder of the kubeconfig's bearer token, may use the API.
/// kubectl through the kubeconfig works; kubectl run by another user (with a wrong token or
/// none) is told `You must be logged in to the server (…)`; that user's raw
/// requests (REST, watch, discovery, OpenAPI, exec WebSocket and SPDY upgrades) get 401 and
/// kube-apiserver's Status, but health and `/version` stay public (default RBAC), and the token
/// lets them in; a wrong token is refused even to the owner. The kubeconfig is its owner's only.
#[test]
fn only_the_clusters_user_or_its_token_opens_the_api() {
    if !ready("only_the_clusters_user_or_its_token_opens_the_api") {
        return;
    }
    let k = Kube::up("k-auth");
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&k.kubeconfig()), 0o600);
    assert_eq!(mode(&format!("{}/{}", run_base().display(), k.cluster.name)), 0o700);
    let token = k.token();
    assert!(
        token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{token}"
    );
    k.ok(&["create", "-f", "tests/kubectl/kubia-manual.yaml"]);
    k.ok(&["wait", "--for=condition=Ready", "pod/kubia-manual", "--timeout=20s"]);
    assert!(k.ok(&["get", "pods"]).contains("kubia-manual"));

    let api = k.server();
    let pods = "/api/v1/namespaces/default/pods";
    let bearer = format!("Bearer {token}");
    let wrong = [("Authorization", "Bearer wrong")];
    let watch = "/api/v1/namespaces/default/pods?watch=true&timeoutSeconds=1";
    let paths = [
        pods,
        watch,
        "/api",
        "/api/v1",
        "/apis",
        "/apis/apps/v1",
        "/openapi/v3",
        "/openapi/v2",
    ];
    // A wrong token is refused everywhere, even to the owner and on the public paths.
    for path in paths.iter().chain(&["/healthz", "/livez", "/readyz", "/version"]) {
        let (code, body) = http(&api, "GET", path, &wrong, b"");
        assert_eq!(
            (code, body.as_str()),
            (401, UNAUTHORIZED),
            "GET {path} with a wrong token"
        );
    }
    let exec = format!("{pods}/kubia-manual/exec?command=true&stdout=true");
    let ws = [
        ("Connection", "Upgrade"),
        ("Upgrade", "websocket"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Protocol", "v5.channel.k8s.io"),
    ];
    let spdy = [
        ("Connection", "Upgrade"),
        ("Upgrade", "SPDY/3.1"),
        ("X-Stream-Protocol-Version", "v4.channel.k8s.io"),
    ];
    let with = |base: &[(&'static str, &'static str)], auth: &'static str| {
        let mut h: Vec<(String, String)> = base.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        if !auth.is_empty() {
            h.push(("Authorization".into(), auth.into()));
        }
        h
    };
    let up = |api: &str, path: &str, h: &[(String, String)]| {
        let h: Vec<(&str, &str)> = h.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        upgrade(api, path, &h)
    };
    let (status, body) = up(&api, &exec, &with(&ws, "Bearer wrong"));
    assert_eq!(
        (status.as_str(), body.as_str()),
        ("HTTP/1.1 401 Unauthorized", UNAUTHORIZED)
    );
    assert_eq!(up(&api, &exec, &with(&ws, "")).0, "HTTP/1.1 101 Switching Protocols");

    if !is_root() {
        eprintln!("only_the_clusters_user_or_its_token_opens_the_api: another user's view needs root; skipped");
        return;
    }
    // Another local user cannot read the kubeconfig.
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(k.kubeconfig())
        .output()
        .unwrap();
    assert!(
        !o.status.success() && text(&o).contains("Permission denied"),
        "{}",
        text(&o)
    );
    // kubectl run by that user at the same server: no token, then a wrong one.
    let server = format!("http://{api}");
    let home = std::env::temp_dir().join(format!("podlab-kubectl-stranger-{}", k.cluster.name));
    std::fs::create_dir_all(&home).unwrap();
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    for extra in [&[][..], &["--token", "wrong"]] {
        let mut args = vec!["--server", server.as_str()];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["get", "pods"]);
        let o = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "kubectl"])
            .args(&args)
            .env("HOME", &home)
            .env("KUBECONFIG", home.join("none"))
            .env_remove("KUBECACHEDIR")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "kubectl {args:?}:\n{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.trim_end().ends_with(LOGGED_IN), "kubectl {args:?}:\n{}", text(&o));
        assert!(
            !String::from_utf8_lossy(&o.stdout).contains("kubia-manual"),
            "{}",
            text(&o)
        );
    }
    let _ = std::fs::remove_dir_all(&home);
    // That user's raw requests: 401 and the Status without the token, or with another scheme.
    for path in paths {
        for auth in ["", "Basic YWRtaW46YWRtaW4="] {
            let a = api.clone();
            let (code, body) = as_stranger(move || {
                let h: Vec<(&str, &str)> = if auth.is_empty() {
                    vec![]
                } else {
                    vec![("Authorization", auth)]
                };
                http(&a, "GET", path, &h, b"")
            });
            assert_eq!(
                (code, body.as_str()),
                (401, UNAUTHORIZED),
                "a stranger's GET {path} ({auth})"
            );
        }
    }
    let pod = br#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"intruder"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}"#;
    let a = api.clone();
    let posted = as_stranger(move || http(&a, "POST", pods, &[("Content-Type", "application/json")], pod).0);
    assert_eq!(posted, 401);
    let (a, victim) = (api.clone(), format!("{pods}/kubia-manual"));
    assert_eq!(as_stranger(move || http(&a, "DELETE", &victim, &[], b"").0), 401);
    // Public without credentials, as kube-apiserver's system:public-info-viewer.
    for path in ["/healthz", "/livez", "/readyz", "/version"] {
        let a = api.clone();
        assert_eq!(
            as_stranger(move || http(&a, "GET", path, &[], b"").0),
            200,
            "GET {path}"
        );
    }
    // exec upgrades from that user, refused before any upgrade; with the token, accepted.
    for base in [&ws[..], &spdy] {
        let (a, e, h) = (api.clone(), exec.clone(), with(base, ""));
        let (status, body) = as_stranger(move || up(&a, &e, &h));
        assert_eq!(status, "HTTP/1.1 401 Unauthorized", "{base:?}");
        assert_eq!(body, UNAUTHORIZED);
    }
    let b: &'static str = Box::leak(bearer.into_boxed_str());
    let (a, e, h) = (api.clone(), exec.clone(), with(&ws, b));
    assert_eq!(
        as_stranger(move || up(&a, &e, &h)).0,
        "HTTP/1.1 101 Switching Protocols"
    );
    let (a, p) = (api.clone(), pods);
    assert_eq!(
        as_stranger(move || http(&a, "GET", p, &[("Authorization", b)], b"").0),
        200
    );

    // Nothing got through: the pod is still there, alone.
    assert_eq!(k.ok(&["get", "pods", "-o", "name"]).trim(), "pod/kubia-manual");
}

/// `podlab node down` writes what kube-controller-manager does into the Node object: an open
/// `get nodes -w` hears of it, `get nodes` says NotReady, `describe node` shows Ready Unknown
/// (NodeStatusUnknown) and the unreachable taints; `node up` undoes it all.
#[test]
fn node_down_and_up_in_the_node_object() {
    if !ready("node_down_and_up_in_the_node_object") {
        return;
    }
    let k = Kube::up("k-nodedown");
    let w = Lines::new(k.spawn(&["get", "nodes", "-w"]));
    w.wait_for(15, "listing worker-2", |l| l.starts_with("worker-2 "));
    let ready = |k: &Kube| {
        let cond = |f: &str| format!("{{.status.conditions[?(@.type==\"Ready\")].{f}}}");
        k.ok(&[
            "get",
            "node",
            "worker-2",
            "-o",
            &format!("jsonpath={} {} {}", cond("status"), cond("reason"), cond("message")),
        ])
    };
    let status_of = |k: &Kube| {
        let t = k.ok(&["get", "nodes", "--no-headers"]);
        rows(&t).into_iter().find(|r| r[0] == "worker-2").unwrap()[1].clone()
    };

    k.podlab(&["node", "down", "worker-2"]);
    w.wait_for(15, "with worker-2 NotReady", |l| {
        l.starts_with("worker-2 ") && l.contains(" NotReady ")
    });
    assert_eq!(
        ready(&k),
        "Unknown NodeStatusUnknown Kubelet stopped posting node status."
    );
    assert_eq!(status_of(&k), "NotReady");
    let d = k.ok(&["describe", "node", "worker-2"]);
    for want in [
        "node.kubernetes.io/unreachable:NoSchedule",
        "node.kubernetes.io/unreachable:NoExecute",
        "Unschedulable:      false",
    ] {
        assert!(d.contains(want), "describe node lacks {want:?}:\n{d}");
    }
    let cond = d
        .lines()
        .find(|l| l.trim_start().starts_with("Ready "))
        .unwrap_or_else(|| panic!("no Ready condition:\n{d}"));
    let cells: Vec<&str> = cond.split_whitespace().collect();
    assert_eq!(cells[1], "Unknown", "{cond}");
    assert!(
        cond.contains("NodeStatusUnknown") && cond.ends_with("Kubelet stopped posting node status."),
        "{cond}"
    );

    k.podlab(&["node", "up", "worker-2"]);
    w.wait_for(15, "with worker-2 Ready again", |l| {
        l.starts_with("worker-2 ") && l.contains(" Ready ")
    });
    assert_eq!(ready(&k), "True KubeletReady kubelet is posting ready status");
    assert_eq!(status_of(&k), "Ready");
    let d = k.ok(&["describe", "node", "worker-2"]);
    assert!(d.contains("Taints:             <none>"), "{d}");
}
