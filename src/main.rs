//! The `podlab` command: runs scenario files on a real multi-node cluster made of network
//! namespaces, veths, bridges and processes, and hosts the built-in container images.
//!
//! The binary is the thin edge; the cluster itself is the `podlab-control-plane` library, the
//! kubelet is `podlab-node-agent`, the network is `podlab-netplugin`.
//!
//! # Layout
//!
//! - [`cli`]: the command line, one variant per verb; `cli/*.rs` for the verbs that need no
//!   running cluster (`run`, `up`/`down`, `validate`, `compare`, `bench`).
//! - [`verbs`]: the kubectl-shaped verbs of a live cluster, one file each: its arguments (which
//!   are also the request sent to the daemon), its CLI side and its daemon side.
//! - [`client`] and [`protocol`]: the CLI's end of the daemon's Unix socket, and what crosses it.
//! - [`daemon`]: `podlab up`'s daemon and its dispatch (one request, one verb).
//! - [`runner`]: the scenario runner (steps, expectations, exec and connectivity checks).
//! - [`compare`]: measuring placements and rendering the comparison.
//! - [`netview`]: topology, routes, trace and ping-matrix read back from the kernel.
//! - [`webview`]: `podlab ui`'s loopback web server and its embedded page.
//! - [`bench`]: benchmarks (bring-up against the bare kernel loop, the scheduler alone, the peers).

#![forbid(unsafe_code)]

mod bench;
mod cli;
mod client;
mod compare;
mod daemon;
mod netview;
mod probe;
mod protocol;
mod remote;
mod runner;
mod verbs;
mod webview;

use clap::Parser;
use podlab_printers as printers;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "podlab",
    version,
    about = "A multi-node Kubernetes-style cluster on one Linux machine, made of real kernel objects"
)]
struct Cli {
    #[command(subcommand)]
    command: cli::Command,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        // netlink_proto warns when an answer arrives for a request whose caller has gone (a
        // failed bring-up dropping its handles): nothing a user can act on, so not by default.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PODLAB_LOG")
                .unwrap_or_else(|_| "warn,netlink_proto=error".into()),
        )
        .with_writer(std::io::stderr)
        // Plain text into pipes and files; colours only on a terminal.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none())
        .init();
    cli::run(cli.command)
}

/// How an error reads to the user: an API refusal as kubectl prints it
/// (`Error from server (NotFound): pods "x" not found`), anything else with its causes.
pub(crate) fn error_text(e: &anyhow::Error) -> String {
    match e.downcast_ref::<podlab_control_plane::ApiError>() {
        Some(api) => api.kubectl_message(),
        None => format!("{e:#}"),
    }
}
