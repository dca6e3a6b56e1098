//! The CLI side of a live cluster: `up` starts the daemon and shows its progress, `down`
//! stops it, `clusters` lists them, and every kubectl-shaped verb (`crate::verbs`) talks to
//! the daemon over its Unix socket with [`call`].

use crate::daemon::{READY, socket_path};
use crate::protocol::{Reply, Request};
use anyhow::{Context, Result, anyhow, bail};
use podlab_control_plane::rundir;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};

fn not_running(name: &str) -> anyhow::Error {
    anyhow!(
        "no cluster named \"{name}\" is running.\nStart one with: podlab up SCENARIO --name {name}   (e.g. podlab up scenarios/hello.yaml)"
    )
}

fn connect(name: &str) -> Result<UnixStream> {
    let path = socket_path(name);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    if let Some(pid) = rundir::owner(&dir)
        && !rundir::pid_alive(pid)
    {
        let _ = std::fs::remove_dir_all(&dir);
        bail!(
            "cluster \"{name}\" was not running (its daemon, pid {pid}, had died); removed its stale state.\n{}",
            not_running(name)
        );
    }
    UnixStream::connect(&path).map_err(|_| not_running(name))
}

/// Send one request; print `Out`/`Err` as they come; return the exit code and any other replies.
pub fn call(name: &str, req: &Request) -> Result<(i32, Vec<Reply>)> {
    exchange(name, req, Sink::Print)
}

/// Like `call`, without printing anything.
pub fn call_quiet(name: &str, req: &Request) -> Result<(i32, Vec<Reply>)> {
    exchange(name, req, Sink::Drop)
}

/// What a verb answered: its exit code, its stdout and its stderr text (`podlab ui`'s views).
pub fn call_collect(name: &str, req: &Request) -> Result<(i32, String, String)> {
    let mut out = (String::new(), String::new());
    let (code, _) = exchange(name, req, Sink::Collect(&mut out))?;
    Ok((code, out.0, out.1))
}

/// Where an answer's text goes.
enum Sink<'a> {
    Print,
    Drop,
    Collect(&'a mut (String, String)),
}

fn exchange(name: &str, req: &Request, mut sink: Sink) -> Result<(i32, Vec<Reply>)> {
    let mut s = connect(name)?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut other = Vec::new();
    for l in BufReader::new(s).lines() {
        match (serde_json::from_str::<Reply>(&l?)?, &mut sink) {
            (Reply::Out { text }, Sink::Print) => {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            (Reply::Err { text }, Sink::Print) => eprint!("{text}"),
            (Reply::Out { text }, Sink::Collect(c)) => c.0.push_str(&text),
            (Reply::Err { text }, Sink::Collect(c)) => c.1.push_str(&text),
            (Reply::Out { .. } | Reply::Err { .. }, Sink::Drop) => {}
            (Reply::Done { code }, _) => return Ok((code, other)),
            (r, _) => other.push(r),
        }
    }
    Ok((1, other))
}

/// `podlab up`: start the daemon, relay its progress, detach when the cluster is ready.
pub fn up(file: Option<&Path>, name: &str, model: bool, wait_secs: u64) -> Result<i32> {
    let cleaned = rundir::clean_stale();
    if !cleaned.is_empty() {
        eprintln!(
            "note: removed state left by podlab processes that died: {}",
            cleaned.join(", ")
        );
    }
    if let Some(pid) = rundir::owner(&rundir::base().join(name)).filter(|&p| rundir::pid_alive(p)) {
        bail!(
            "a cluster named \"{name}\" is already running (daemon pid {pid}); `podlab down --name {name}` first, or pick another --name"
        );
    }
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg("__daemon")
        .arg("--name")
        .arg(name)
        .arg("--wait")
        .arg(wait_secs.to_string());
    if let Some(file) = file {
        cmd.arg(file);
    }
    if model {
        cmd.arg("--model");
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    podlab_node_agent::join::own_session_dying_with_parent(&mut cmd);
    let mut child = cmd.spawn().context("starting the podlab daemon")?;
    let stderr = child.stderr.take();
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_string(&mut s);
        }
        s
    });
    let fancy = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut bar: Option<indicatif::ProgressBar> = None;
    let mut ready = false;
    println!(
        "Creating cluster \"{name}\" ({}) ...",
        if model {
            "model dataplane: simulated, no kernel objects"
        } else {
            "kernel dataplane"
        }
    );
    for line in BufReader::new(child.stdout.take().expect("piped")).lines() {
        let Ok(line) = line else { break };
        if line == READY {
            ready = true;
            break;
        }
        if let Some(rest) = line.strip_prefix("PROGRESS ") {
            let mut it = rest.split_whitespace().filter_map(|x| x.parse::<u64>().ok());
            let (run, total) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
            if fancy && total > 0 {
                let b = bar.get_or_insert_with(|| {
                    let b = indicatif::ProgressBar::new(total);
                    b.set_style(
                        indicatif::ProgressStyle::with_template(
                            " {spinner} Starting pods [{bar:30}] {pos}/{len} Running",
                        )
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                    );
                    b
                });
                b.set_length(total);
                b.set_position(run);
            }
            continue;
        }
        if let Some(b) = bar.take() {
            b.finish_and_clear();
        }
        println!("{line}");
    }
    if let Some(b) = bar.take() {
        b.finish_and_clear();
    }
    if !ready {
        let status = child.wait()?;
        let err = err_thread.join().unwrap_or_default();
        eprint!("{err}");
        bail!("the cluster did not come up ({status}); nothing was left behind");
    }
    call(name, &Request::Detach)?;
    let (_, other) = call(name, &Request::Status)?;
    if let Some(Reply::Status { pods, nodes, .. }) = other.first() {
        let kc = crate::daemon::kubeconfig_path(name);
        println!(
            "\nCluster \"{name}\": {nodes} node(s), {pods} pod(s). Point kubectl at it:\n  export KUBECONFIG={}   # or: export KUBECONFIG=$(podlab kubeconfig --name {name})\n  kubectl get pods -o wide\nRemove it: podlab down --name {name}",
            kc.display()
        );
    }
    Ok(0)
}

/// `podlab down`.
pub fn down(name: &str) -> Result<i32> {
    println!("Deleting cluster \"{name}\" ...");
    let (code, _) = match call(name, &Request::Down) {
        Ok(r) => r,
        Err(e) => {
            // Stale state was cleaned by `connect`; no cluster is not an error for `down` (like kind).
            eprintln!("{e:#}");
            return Ok(0);
        }
    };
    // Wait for the daemon to exit and remove its runtime directory (seconds for thousands of
    // pods).
    let dir = rundir::base().join(name);
    for _ in 0..1500 {
        if !dir.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Ok(code)
}

/// `podlab clusters`.
pub fn clusters() -> Result<i32> {
    rundir::clean_stale();
    let mut rows = Vec::new();
    if let Ok(d) = std::fs::read_dir(rundir::base()) {
        for e in d.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !e.path().join("podlab.sock").exists() {
                continue;
            }
            if let Ok((_, other)) = call_quiet(&name, &Request::Status)
                && let Some(Reply::Status {
                    pid,
                    nodes,
                    pods,
                    dataplane,
                    age_secs,
                    ..
                }) = other.first()
            {
                rows.push(vec![
                    name.clone(),
                    nodes.to_string(),
                    pods.to_string(),
                    dataplane.clone(),
                    pid.to_string(),
                    crate::printers::human_duration(*age_secs),
                ]);
            }
        }
    }
    if rows.is_empty() {
        println!("No podlab clusters found. Start one with: podlab up SCENARIO");
    } else {
        rows.sort();
        print!(
            "{}",
            crate::printers::table(&["NAME", "NODES", "PODS", "DATAPLANE", "PID", "AGE"], &rows)
        );
    }
    Ok(0)
}
