//! `podlab capture POD|node/NAME[/IFACE]`: the packets of a pod's or node's interface,
//! captured inside its network namespace into a pcap file for Wireshark (or `tcpdump -r`).

use super::{ClusterArg, exec, split_target};
use crate::client;
use crate::protocol::{Reply, Request};
use anyhow::{Context, Result, bail};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::SignalFd;
use podlab_netplugin::Netns;
use podlab_netplugin::capture::Capture;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

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

/// `podlab capture POD|node/NAME[/IFACE]`: capture inside that network namespace (joined
/// through the sandbox pid, like `exec`), writing a pcap for Wireshark. Stops after `count`
/// packets, `seconds` (10 s when neither is given) or Ctrl-C.
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
    let pid = exec::target(name, kind, obj, ns, None)?.pid;
    let what = match kind {
        "node" => format!("node {obj}"),
        _ => format!("pod {ns}/{obj}"),
    };
    let netns = Netns::from_pid(pid as u32).with_context(|| format!("opening the network namespace of {what}"))?;
    let capture = Capture::open(&netns, &iface).with_context(|| format!("capturing on {iface} in {what}"))?;
    drop(netns);
    let file = file
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::path::PathBuf::from(format!("{obj}-{}.pcap", iface.replace('/', "_"))));
    let seconds = match (count, seconds) {
        (None, None) => Some(10),
        (_, s) => s,
    };
    let limit = match (count, seconds) {
        (Some(c), Some(s)) => format!("{c} packets or {s} s"),
        (Some(c), None) => format!("{c} packets"),
        (None, Some(s)) => format!("{s} s"),
        (None, None) => String::new(),
    };
    // Ctrl-C ends the capture with the file complete, as it does tcpdump's.
    let mut interrupt = SigSet::empty();
    interrupt.add(Signal::SIGINT);
    interrupt.thread_block().context("blocking SIGINT for the capture")?;
    let ctrl_c = SignalFd::new(&interrupt).context("watching for Ctrl-C")?;
    let mut out = std::fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?;
    eprintln!(
        "Capturing on {iface} in {what} (network namespace of pid {pid}) into {} for {limit}; open it with Wireshark",
        file.display()
    );
    let until = seconds.map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let (caught, _) = capture
        .write_pcap(&mut out, count.map(u64::from), until, Some(ctrl_c.as_fd()))
        .with_context(|| format!("writing {}", file.display()))?;
    eprintln!("{} packets captured", caught.packets);
    println!("wrote {}", file.display());
    Ok(0)
}
