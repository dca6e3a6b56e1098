//! `podlab capture POD|node/NAME[/IFACE]`: the machine's own `tcpdump` inside a pod's or
//! node's network namespace, writing a pcap file for Wireshark.

use super::{ClusterArg, exec, split_target};
use crate::client;
use crate::protocol::{Reply, Request};
use anyhow::{Context, Result, bail};
use podlab_node_agent::join::{self, Space};
use std::path::{Path, PathBuf};
use std::process::Command;

/// `podlab capture TARGET`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// POD, node/NAME, optionally /IFACE (default eth0 in a pod, any on a node).
    pub target: String,
    /// pcap file to write (default NAME-IFACE.pcap).
    #[arg(short = 'w', long)]
    pub write: Option<PathBuf>,
    /// Stop after this many packets.
    #[arg(short = 'c', long)]
    pub count: Option<u32>,
    /// Stop after this many seconds (default 10 when -c is not given).
    #[arg(long)]
    pub seconds: Option<u64>,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// Where the machine's `tool` (`tcpdump`, `ip`) is, if installed.
pub fn find_tool(tool: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/sbin", "/bin"].map(std::path::PathBuf::from))
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

/// A command for `program` that runs inside the network namespace of process `pid` (a pod's
/// or node's sandbox, joined like `exec` does); the open namespace must live until the spawn.
pub fn netns_command(pid: i32, program: &Path) -> Result<(Command, std::fs::File)> {
    let netns =
        join::open_ns(pid, Space::Net).with_context(|| format!("opening the network namespace of pid {pid}"))?;
    let mut cmd = Command::new(program);
    join::enter_netns_before_exec(&mut cmd, &netns);
    Ok((cmd, netns))
}

/// `podlab capture POD|node/NAME[/IFACE]`: run the machine's `tcpdump` inside that network
/// namespace (joined through the sandbox pid, like `exec`), writing a pcap for Wireshark.
/// Stops after `count` packets or `seconds` (10 s when neither is given).
pub fn run(args: Args) -> Result<i32> {
    let (name, spec, ns) = (args.c.cluster.as_str(), args.target.as_str(), args.namespace.as_str());
    let (file, count, seconds) = (args.write.as_deref(), args.count, args.seconds);
    let (_, other) = client::call_quiet(name, &Request::Status)?;
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
    let Some(tcpdump) = find_tool("tcpdump") else {
        bail!(
            "tcpdump is not installed on this machine (apt-get install tcpdump): capture runs the machine's own tcpdump inside the {kind}'s network namespace"
        );
    };
    let pid = exec::target(name, kind, obj, ns, None)?.pid;
    let file = file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from(format!("{obj}-{}.pcap", iface.replace('/', "_"))));
    let seconds = match (count, seconds) {
        (None, None) => Some(10),
        (_, s) => s,
    };
    let (mut cmd, netns) = netns_command(pid, &tcpdump)?;
    cmd.args(["-n", "-U", "-Z", "root", "-i", &iface, "-w"]).arg(&file);
    if let Some(c) = count {
        cmd.args(["-c", &c.to_string()]);
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
                    join::interrupt(child.id());
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

/// SIGINT to a tcpdump this process started (it flushes and prints its counts).
pub fn interrupt(child: &std::process::Child) {
    join::interrupt(child.id());
}
