//! `podlab bench api`: `kubectl get pods` against podlab's Kubernetes API with many pods and
//! many open watches, beside the same list through podlab's own socket (`podlab get pods`),
//! in the same run. The cluster runs on the model dataplane (the API is what is measured, not
//! the kernel), in a daemon as `podlab up` starts it. A benchmark, not a test.

use crate::daemon::Endpoint;
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A scenario with `nodes` nodes and a Deployment of `pods` replicas of a catalog image.
fn scenario(nodes: usize, pods: usize) -> String {
    let mut s = format!(
        "apiVersion: podlab.dev/v1alpha1\nkind: Scenario\nmetadata:\n  name: bench-api\ncluster:\n  nodes:\n    count: {nodes}\n    namePrefix: worker-\n    capacity: {{cpu: \"64\", memory: 256Gi, pods: 250}}\n"
    );
    s += &format!(
        "manifests:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {{name: web}}\n  spec:\n    replicas: {pods}\n    selector: {{matchLabels: {{app: web}}}}\n    template:\n      metadata: {{labels: {{app: web}}}}\n      spec:\n        containers:\n        - name: web\n          image: podlab/echo\n          imagePullPolicy: IfNotPresent\n"
    );
    s
}

/// Resident memory of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Median of `runs` timings of `f`.
fn median(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut t = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        t.push(start.elapsed());
    }
    t.sort();
    Ok(t[t.len() / 2])
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Sends a GET of `path` to the API (with its token) and `extra` header lines.
fn send_get(api: &Endpoint, path: &str, extra: &str) -> Result<TcpStream> {
    let mut s = TcpStream::connect(&api.address)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{}{extra}\r\n",
        api.address,
        api.authorization()
    )?;
    Ok(s)
}

/// One HTTP/1.1 request on loopback; returns the body length.
fn http_get(api: &Endpoint, path: &str, accept: &str) -> Result<usize> {
    let mut s = send_get(api, path, &format!("Accept: {accept}\r\nConnection: close\r\n"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    if !buf.starts_with(b"HTTP/1.1 200") {
        bail!("GET {path}: {}", String::from_utf8_lossy(&buf[..buf.len().min(200)]));
    }
    Ok(buf.len())
}

/// The store's resourceVersion, from a plain list.
fn list_version(api: &Endpoint) -> Result<String> {
    let mut s = send_get(api, "/api/v1/namespaces/default/pods", "Connection: close\r\n")?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)?;
    let body = buf.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or_default();
    let list: serde_json::Value = serde_json::from_str(body).context("reading the list")?;
    list.pointer("/metadata/resourceVersion")
        .and_then(|v| v.as_str())
        .map(str::to_string)
        .context("no resourceVersion in the list")
}

/// Opens a watch from the current version and returns its stream once the headers arrived.
fn open_watch(api: &Endpoint) -> Result<BufReader<TcpStream>> {
    let rv = list_version(api)?;
    let path = format!("/api/v1/namespaces/default/pods?watch=true&resourceVersion={rv}");
    let s = send_get(api, &path, "")?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    if !line.starts_with("HTTP/1.1 200") {
        bail!("watch: {line}");
    }
    Ok(r)
}

/// Runs the benchmark.
pub fn run(pods: usize, watchers: usize) -> Result<i32> {
    let nodes = pods.div_ceil(200).max(1);
    let dir = std::env::temp_dir().join(format!("podlab-bench-api-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("scenario.yaml");
    std::fs::write(&file, scenario(nodes, pods))?;
    let name = format!("bench-api-{}", std::process::id());
    let exe = std::env::current_exe()?;
    let up = Command::new(&exe)
        .args(["up", "--dataplane", "model", "--wait", "120", "--name", &name])
        .arg(&file)
        .stdout(Stdio::null())
        .status()
        .context("podlab up")?;
    if !up.success() {
        bail!("podlab up failed");
    }
    let r = measure(&exe, &name, pods, watchers, &dir);
    let _ = Command::new(&exe)
        .args(["down", "--name", &name])
        .stdout(Stdio::null())
        .status();
    let _ = std::fs::remove_dir_all(&dir);
    r
}

fn measure(exe: &std::path::Path, name: &str, pods: usize, watchers: usize, dir: &std::path::Path) -> Result<i32> {
    let kubeconfig = crate::daemon::kubeconfig_path(name);
    let api = crate::daemon::endpoint(name)?;
    let daemon_pid: u32 = std::fs::read_to_string(podlab_control_plane::rundir::base().join(name).join("pid"))?
        .trim()
        .parse()?;
    let cache = dir.join("kube-cache");
    let kubectl = || -> Result<()> {
        let o = Command::new("kubectl")
            .args(["get", "pods", "--cache-dir"])
            .arg(&cache)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .context("running kubectl (is it on PATH?)")?;
        if !o.status.success() || o.stdout.iter().filter(|&&b| b == b'\n').count() < pods {
            bail!("kubectl get pods: {}", String::from_utf8_lossy(&o.stderr));
        }
        Ok(())
    };
    let own = || -> Result<()> {
        let o = Command::new(exe).args(["get", "pods", "--cluster", name]).output()?;
        if !o.status.success() {
            bail!("podlab get pods: {}", String::from_utf8_lossy(&o.stderr));
        }
        Ok(())
    };
    let table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let list = || http_get(&api, "/api/v1/namespaces/default/pods?limit=500", table).map(|_| ());
    kubectl()?; // discovery cached
    let runs = 7;
    let before = [median(runs, kubectl)?, median(runs, own)?, median(runs, list)?];
    let rss0 = rss_kib(daemon_pid);
    let mut open = Vec::new();
    for _ in 0..watchers {
        open.push(open_watch(&api)?);
    }
    std::thread::sleep(Duration::from_millis(500));
    let rss1 = rss_kib(daemon_pid);
    let after = [median(runs, kubectl)?, median(runs, own)?, median(runs, list)?];
    // One change, seen by every watcher.
    let start = Instant::now();
    let o = Command::new(exe)
        .args([
            "scale",
            "deployment",
            "web",
            "--replicas",
            &(pods + 1).to_string(),
            "--cluster",
            name,
        ])
        .output()?;
    if !o.status.success() {
        bail!("podlab scale: {}", String::from_utf8_lossy(&o.stderr));
    }
    let mut slowest = Duration::ZERO;
    for w in open.iter_mut() {
        let mut line = String::new();
        loop {
            line.clear();
            if w.read_line(&mut line)? == 0 {
                bail!("a watch ended early");
            }
            if line.contains("\"ADDED\"") || line.contains("\"MODIFIED\"") {
                break;
            }
        }
        slowest = slowest.max(start.elapsed());
    }
    println!(
        "podlab bench api: {pods} pods on {nodes} model node(s), {watchers} open watches (release build recommended)\n",
        nodes = pods.div_ceil(200).max(1)
    );
    let rows = vec![
        vec!["kubectl get pods (process, Table)".into(), ms(before[0]), ms(after[0])],
        vec![
            "podlab get pods (process, own socket)".into(),
            ms(before[1]),
            ms(after[1]),
        ],
        vec![
            "GET pods as Table (HTTP, no process)".into(),
            ms(before[2]),
            ms(after[2]),
        ],
    ];
    print!(
        "{}",
        crate::printers::table(
            &["REQUEST (median of 7)", "NO WATCHES", &format!("{watchers} WATCHES")],
            &rows
        )
    );
    let per = (rss1.saturating_sub(rss0)) as f64 / watchers.max(1) as f64;
    println!("\ndaemon RSS: {rss0} KiB without watches, {rss1} KiB with {watchers}: {per:.0} KiB per watch");
    println!("one scale, until all {watchers} watches saw an event: {}", ms(slowest));
    Ok(0)
}
