//! The CLI side of a live cluster: `up` starts the daemon and shows its progress, `down`
//! stops it, kubectl-shaped commands talk to it over its Unix socket, and `exec` and
//! `port-forward` join a pod's namespaces through its sandbox pid, like `nsenter`.

use crate::daemon::{READY, socket_path};
use crate::protocol::{Reply, Request};
use anyhow::{Context, Result, anyhow, bail};
use podlab_control_plane::rundir;
use std::io::{BufRead, BufReader, IsTerminal, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
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
    exchange(name, req, true)
}

/// Like `call`, without printing anything.
fn call_quiet(name: &str, req: &Request) -> Result<(i32, Vec<Reply>)> {
    exchange(name, req, false)
}

fn exchange(name: &str, req: &Request, print: bool) -> Result<(i32, Vec<Reply>)> {
    let mut s = connect(name)?;
    let mut line = serde_json::to_string(req)?;
    line.push('\n');
    s.write_all(line.as_bytes())?;
    let mut other = Vec::new();
    for l in BufReader::new(s).lines() {
        match serde_json::from_str::<Reply>(&l?)? {
            Reply::Out { text } if print => {
                print!("{text}");
                let _ = std::io::stdout().flush();
            }
            Reply::Err { text } if print => eprint!("{text}"),
            Reply::Out { .. } | Reply::Err { .. } => {}
            Reply::Done { code } => return Ok((code, other)),
            r => other.push(r),
        }
    }
    Ok((1, other))
}

/// `podlab up`: start the daemon, relay its progress, detach when the cluster is ready.
pub fn up(file: &Path, name: &str, model: bool, wait_secs: u64) -> Result<i32> {
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
        .arg(wait_secs.to_string())
        .arg(file);
    if model {
        cmd.arg("--model");
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: setsid/prctl between fork and exec are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
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
        println!(
            "\nCluster \"{name}\": {nodes} node(s), {pods} pod(s). Try:\n  podlab get pods -o wide --cluster {name}\n  podlab down --name {name}"
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
    // Wait for the daemon to exit and remove its runtime directory.
    let dir = rundir::base().join(name);
    for _ in 0..100 {
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

fn target(
    name: &str,
    kind: &str,
    obj: &str,
    ns: &str,
    container: Option<String>,
) -> Result<(i32, Vec<(String, String)>)> {
    let (code, other) = call(
        name,
        &Request::Target {
            kind: kind.into(),
            name: obj.into(),
            namespace: ns.into(),
            container,
        },
    )?;
    match other.into_iter().next() {
        Some(Reply::Target { pid, env, .. }) if code == 0 => Ok((pid, env)),
        _ => bail!("cannot reach {kind} {obj}"),
    }
}

fn split_target(t: &str) -> (&str, &str) {
    match t.split_once('/') {
        Some(("node" | "nodes" | "no", n)) => ("node", n),
        Some(("pod" | "pods" | "po", n)) => ("pod", n),
        _ => ("pod", t),
    }
}

fn open_ns(pid: i32, ns: &str) -> Result<std::fs::File> {
    std::fs::File::open(format!("/proc/{pid}/ns/{ns}")).with_context(|| format!("opening /proc/{pid}/ns/{ns}"))
}

/// `podlab exec POD|node/NAME -- CMD...`: run CMD inside the namespaces (like nsenter), for as
/// long as the pod (or node) lives: as a container's exec session ends with its container, CMD
/// is killed when the pod's pause process goes (pod deleted, `podlab down`, podlab killed).
/// The exit code is CMD's (128+N if a signal N ended it; 137 if its pod went away).
pub fn exec(name: &str, target_name: &str, ns: &str, container: Option<String>, argv: &[String]) -> Result<i32> {
    use podlab_node_agent::process::{Process, pidfd_open};
    use std::os::fd::{AsFd, AsRawFd};
    let (kind, obj) = split_target(target_name);
    let (pid, env) = target(name, kind, obj, ns, container)?;
    let Some((prog, args)) = argv.split_first() else {
        bail!("error: you must specify at least one command for the container");
    };
    let holder = pidfd_open(pid).with_context(|| format!("watching the {kind}'s pause process (pid {pid})"))?;
    let mut files = vec![
        (open_ns(pid, "net")?, libc::CLONE_NEWNET),
        (open_ns(pid, "uts")?, libc::CLONE_NEWUTS),
    ];
    if kind == "pod" {
        files.push((open_ns(pid, "ipc")?, libc::CLONE_NEWIPC));
    }
    for (f, flag) in &files {
        // SAFETY: the CLI is single-threaded here; setns only changes this thread's namespaces.
        if unsafe { libc::setns(f.as_raw_fd(), *flag) } != 0 {
            return Err(std::io::Error::last_os_error()).context("joining the pod's namespaces");
        }
    }
    // Ctrl-C and Ctrl-\ reach CMD (same process group); this process stays to report.
    // SAFETY: plain signal dispositions of this single-threaded process.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
    }
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() };
    let mut cmd = Command::new(prog);
    cmd.args(args).env_clear().envs(env).current_dir("/");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
            // If this process dies (killed, terminal gone), CMD goes with it.
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != me {
                return Err(std::io::Error::other("podlab exec ended before the command started"));
            }
            Ok(())
        });
    }
    let child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("error: exec: \"{prog}\": executable file not found in $PATH");
            return Ok(127);
        }
        Err(e) => return Err(e).context(format!("running {prog}")),
    };
    // Reaped through its pidfd from here on (the std handle is dropped, not waited for).
    let running = Process::adopt(child.id() as i32).context("watching the command")?;
    drop(child);
    match running
        .wait_blocking_unless(holder.as_fd())
        .context("waiting for the command")?
    {
        Some(exit) => Ok(exit.code()),
        None => {
            running.kill_and_reap();
            eprintln!("error: {kind} \"{obj}\" is gone: command terminated with exit code 137");
            Ok(137)
        }
    }
}

/// `podlab port-forward pod/NAME LOCAL:REMOTE`: listen on 127.0.0.1:LOCAL on this machine and
/// forward each connection to localhost:REMOTE inside the pod, as kubectl does.
pub fn port_forward(name: &str, target_name: &str, ns: &str, ports: &[String]) -> Result<i32> {
    let (kind, obj) = split_target(target_name);
    if kind != "pod" {
        bail!("error: port-forward needs a pod (pod/NAME)");
    }
    let (pid, _) = target(name, "pod", obj, ns, None)?;
    let mut listeners = Vec::new();
    for p in ports {
        let (local, remote) = match p.split_once(':') {
            Some((l, r)) => (if l.is_empty() { 0 } else { l.parse::<u16>()? }, r.parse::<u16>()?),
            None => (p.parse::<u16>()?, p.parse::<u16>()?),
        };
        let l = std::net::TcpListener::bind(("127.0.0.1", local))
            .with_context(|| format!("unable to listen on port {local}"))?;
        let local = l.local_addr()?.port();
        println!("Forwarding from 127.0.0.1:{local} -> {remote}");
        listeners.push((l, local, remote));
    }
    let _ = std::io::stdout().flush();
    let netns = podlab_netplugin::Netns::from_pid(pid as u32)?;
    let netns = std::sync::Arc::new(netns);
    let mut threads = Vec::new();
    for (l, local, remote) in listeners {
        let netns = netns.clone();
        threads.push(std::thread::spawn(move || {
            for conn in l.incoming().flatten() {
                // Never let a closed stdout stop the forwarding.
                let _ = writeln!(std::io::stdout(), "Handling connection for {local}");
                let _ = std::io::stdout().flush();
                let netns = netns.clone();
                std::thread::spawn(move || {
                    let inside = podlab_netplugin::ns::run_in(&netns, move || std::net::TcpStream::connect(("127.0.0.1", remote)));
                    match inside {
                        Ok(Ok(pod)) => pipe(conn, pod),
                        Ok(Err(e)) => eprintln!("E0000 port-forward: error forwarding port {remote} to pod {pid}: failed to connect to localhost:{remote} inside the pod: {e}"),
                        Err(e) => eprintln!("port-forward: cannot enter the pod's namespace: {e}"),
                    }
                });
            }
        }));
    }
    for t in threads {
        let _ = t.join();
    }
    Ok(0)
}

fn pipe(a: std::net::TcpStream, b: std::net::TcpStream) {
    let (Ok(mut a2), Ok(mut b2)) = (a.try_clone(), b.try_clone()) else {
        return;
    };
    let (mut a, mut b) = (a, b);
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut a2, &mut b2);
        let _ = b2.shutdown(std::net::Shutdown::Write);
    });
    let _ = std::io::copy(&mut b, &mut a);
    let _ = a.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

/// Where the machine's `tcpdump` is, if installed.
fn find_tcpdump() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(std::path::PathBuf::from))
        .map(|d| d.join("tcpdump"))
        .find(|p| p.is_file())
}

/// `podlab capture POD|node/NAME[/IFACE]`: run the machine's `tcpdump` inside that network
/// namespace (joined through the sandbox pid, like `exec`), writing a pcap for Wireshark.
/// Stops after `count` packets or `seconds` (10 s when neither is given).
pub fn capture(
    name: &str,
    spec: &str,
    ns: &str,
    file: Option<&Path>,
    count: Option<u32>,
    seconds: Option<u64>,
) -> Result<i32> {
    let (_, other) = call_quiet(name, &Request::Status)?;
    if let Some(Reply::Status { dataplane, .. }) = other.first()
        && dataplane == "model"
    {
        bail!(
            "capture needs the kernel dataplane (real interfaces to listen on); this cluster runs the model dataplane"
        );
    }
    let (kind, rest) = split_target(spec);
    let (obj, iface) = match rest.split_once('/') {
        Some((o, i)) if !i.is_empty() => (o, i.to_string()),
        _ => (
            rest.trim_end_matches('/'),
            if kind == "pod" { "eth0" } else { "any" }.to_string(),
        ),
    };
    let Some(tcpdump) = find_tcpdump() else {
        bail!(
            "tcpdump is not installed on this machine (apt-get install tcpdump): capture runs the machine's own tcpdump inside the {kind}'s network namespace"
        );
    };
    let (pid, _) = target(name, kind, obj, ns, None)?;
    let netns = open_ns(pid, "net")?;
    let file = file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from(format!("{obj}-{}.pcap", iface.replace('/', "_"))));
    let seconds = match (count, seconds) {
        (None, None) => Some(10),
        (_, s) => s,
    };
    let mut cmd = Command::new(&tcpdump);
    cmd.args(["-n", "-U", "-Z", "root", "-i", &iface, "-w"]).arg(&file);
    if let Some(c) = count {
        cmd.args(["-c", &c.to_string()]);
    }
    let fd = {
        use std::os::fd::AsRawFd;
        netns.as_raw_fd()
    };
    // SAFETY: setns is async-signal-safe; the fd stays open in the parent until spawn returns.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let what = match kind {
        "node" => format!("node {obj}"),
        _ => format!("pod {ns}/{obj}"),
    };
    let limit = match (count, seconds) {
        (Some(c), Some(s)) => format!("{c} packets or {s} s"),
        (Some(c), None) => format!("{c} packets"),
        (None, Some(s)) => format!("{s} s"),
        (None, None) => String::new(),
    };
    eprintln!(
        "Capturing on {iface} in {what} (network namespace of pid {pid}) into {} for {limit}; open it with Wireshark",
        file.display()
    );
    let mut child = cmd.spawn().context("starting tcpdump")?;
    drop(netns);
    let status = match seconds {
        Some(s) => {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(s);
            loop {
                if let Some(st) = child.try_wait()? {
                    break st;
                }
                if std::time::Instant::now() >= deadline {
                    // SIGINT lets tcpdump flush the file and print its counts.
                    if let Ok(p) = i32::try_from(child.id()) {
                        // SAFETY: signalling the child we spawned and have not reaped.
                        unsafe { libc::kill(p, libc::SIGINT) };
                    }
                    break child.wait()?;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        None => child.wait()?,
    };
    if !status.success() && status.code().is_some() {
        bail!("tcpdump failed ({status})");
    }
    println!("wrote {}", file.display());
    Ok(0)
}
