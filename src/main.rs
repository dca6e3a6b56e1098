//! The `podlab` command: runs scenario files on a real multi-node cluster made of network
//! namespaces, veths, bridges and processes, and hosts the built-in container images.

mod bench;
mod client;
mod cluster;
mod compare;
mod controllers;
mod daemon;
mod kubectl;
mod netview;
mod printers;
mod probe;
mod protocol;
mod rundir;
mod runner;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "podlab",
    version,
    about = "A multi-node Kubernetes-style cluster on one Linux machine, made of real kernel objects"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum DataplaneKind {
    /// Real namespaces, veths, bridges, routes and processes (needs root).
    Kernel,
    /// Touches no kernel: addresses and routes computed, containers simulated.
    Model,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario file (or a plain Kubernetes manifest) on a fresh cluster, then remove it.
    Run {
        /// Scenario file (kind: Scenario) or Kubernetes manifest file.
        file: PathBuf,
        /// Which dataplane builds the cluster.
        #[arg(long, value_enum, default_value = "kernel")]
        dataplane: DataplaneKind,
        /// Cluster name (default: the scenario's, else "podlab").
        #[arg(long)]
        name: Option<String>,
        /// Print each kernel change as the equivalent iproute2 command.
        #[arg(long)]
        explain: bool,
        /// Lesson mode: pause before each narrated step (press Enter to go on).
        #[arg(long)]
        lesson: bool,
    },
    /// Start a cluster that stays up (like `kind create cluster`) and apply the scenario's manifests.
    Up {
        file: PathBuf,
        #[arg(long, default_value = "podlab")]
        name: String,
        #[arg(long, value_enum, default_value = "kernel")]
        dataplane: DataplaneKind,
        /// Seconds to wait for the pods to start before returning.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Remove a cluster started with `up`: every namespace, link and process.
    Down {
        #[arg(long, default_value = "podlab")]
        name: String,
    },
    /// List running clusters.
    Clusters,
    /// Display resources (pods, nodes, deployments, replicasets, namespaces, events).
    Get {
        resource: String,
        name: Option<String>,
        #[arg(short = 'o', long)]
        output: Option<String>,
        #[arg(short = 'l', long)]
        selector: Option<String>,
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        #[arg(long)]
        show_labels: bool,
        #[arg(short = 'w', long)]
        watch: bool,
        #[command(flatten)]
        c: Target,
    },
    /// Show details of a pod, node or deployment.
    Describe {
        resource: String,
        name: String,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// Print a container's logs.
    Logs {
        pod: String,
        #[arg(short = 'c', long)]
        container: Option<String>,
        #[arg(short = 'f', long)]
        follow: bool,
        #[arg(short = 'p', long)]
        previous: bool,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// Run a command inside a pod (or node/NAME) with the machine's binaries.
    Exec {
        target: String,
        #[arg(short = 'c', long)]
        container: Option<String>,
        #[arg(short = 'i', long)]
        stdin: bool,
        #[arg(short = 't', long)]
        tty: bool,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
        #[arg(last = true, required = true)]
        command: Vec<String>,
    },
    /// Forward 127.0.0.1:LOCAL on this machine to a port inside a pod.
    PortForward {
        target: String,
        #[arg(required = true)]
        ports: Vec<String>,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// Create objects from a manifest file or directory.
    Apply {
        #[arg(short = 'f', long)]
        filename: PathBuf,
        #[command(flatten)]
        c: Target,
    },
    /// Delete pods, deployments or replicasets (by name, -l selector or -f file).
    Delete {
        resource: Option<String>,
        names: Vec<String>,
        #[arg(short = 'f', long)]
        filename: Option<PathBuf>,
        #[arg(short = 'l', long)]
        selector: Option<String>,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// Set the replicas of a deployment or replicaset.
    Scale {
        resource: String,
        name: Option<String>,
        #[arg(long)]
        replicas: i32,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// Add, change (--overwrite) or remove (key-) labels of a pod.
    Label {
        resource: String,
        name: String,
        labels: Vec<String>,
        #[arg(long)]
        overwrite: bool,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// Create a namespace: `create namespace NAME`.
    Create {
        resource: String,
        name: String,
        #[command(flatten)]
        c: Target,
    },
    /// Take a node's uplink down (`node down NAME`) or bring it back (`node up NAME`).
    Node {
        /// down or up
        action: String,
        name: String,
        #[command(flatten)]
        c: Target,
    },
    /// Why a pod landed where it did: each node's filter verdict and score breakdown.
    ExplainPlacement {
        pod: String,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// Draw the cluster network read back from the kernel: fabric, nodes, bridges, veths, pods.
    Topology {
        /// text, dot, mermaid, svg (Graphviz) or json.
        #[arg(long, short = 'o', default_value = "text")]
        format: String,
        #[command(flatten)]
        c: Target,
    },
    /// A node's or pod's routing table from the kernel, each route with the reason it exists.
    Routes {
        /// NODE, node/NAME, POD or pod/NAME.
        target: String,
        #[arg(short = 'o', long)]
        output: Option<String>,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// The hop-by-hop path of a packet (asked from the kernel), proven by real probes.
    Trace {
        /// Source: POD, node/NAME or an IP.
        src: String,
        /// Destination: POD, node/NAME or an IP, optionally :PORT (an app port to probe).
        dst: String,
        #[arg(short = 'o', long)]
        output: Option<String>,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// Every pod to every pod: a grid of ok/fail with TCP connect time.
    PingMatrix {
        #[arg(short = 'l', long)]
        selector: Option<String>,
        #[arg(short = 'o', long)]
        output: Option<String>,
        #[command(flatten)]
        c: Target,
    },
    /// Capture packets with the machine's tcpdump inside a pod or node (POD|node/NAME[/IFACE]).
    Capture {
        target: String,
        /// pcap file to write (default NAME-IFACE.pcap).
        #[arg(short = 'w', long)]
        write: Option<PathBuf>,
        /// Stop after this many packets.
        #[arg(short = 'c', long)]
        count: Option<u32>,
        /// Stop after this many seconds (default 10 when -c is not given).
        #[arg(long)]
        seconds: Option<u64>,
        #[arg(short = 'n', long, default_value = "default")]
        namespace: String,
        #[command(flatten)]
        c: Target,
    },
    /// The daemon behind `up` (internal).
    #[command(name = "__daemon", hide = true)]
    Daemon {
        file: PathBuf,
        #[arg(long)]
        name: String,
        #[arg(long)]
        model: bool,
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Run two or more scenarios side by side and compare placement, scaling, path and failure.
    Compare {
        #[arg(required = true, num_args = 2..)]
        files: Vec<PathBuf>,
        /// table (default), json, markdown or html.
        #[arg(short = 'o', long, default_value = "table")]
        output: String,
        /// Write the report to this file instead of the terminal.
        #[arg(long)]
        out: Option<PathBuf>,
        /// HTTP requests measured from frontend to backend.
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
    /// One scenario's measurements for `compare` (internal).
    #[command(name = "__measure", hide = true)]
    Measure {
        file: PathBuf,
        #[arg(long, default_value_t = 200)]
        requests: usize,
    },
    /// Check a scenario or manifest file without running it.
    Validate { file: PathBuf },
    /// List the built-in container images.
    Images,
    /// Benchmarks (not tests): print podlab's figures beside a baseline measured in the same run.
    Bench {
        #[command(subcommand)]
        what: BenchKind,
    },
    /// Built-in image entry point (runs inside a pod).
    #[command(name = "__image", hide = true)]
    Image { name: String },
}

/// Which running cluster a command talks to.
#[derive(clap::Args)]
struct Target {
    /// Cluster name (as given to `up --name`).
    #[arg(long, env = "PODLAB_CLUSTER", default_value = "podlab")]
    cluster: String,
}

#[derive(Subcommand)]
enum BenchKind {
    /// Bring up N pods on M nodes, beside a bare rtnetlink loop doing the same kernel work.
    Bringup {
        #[arg(long, default_value_t = 4)]
        nodes: usize,
        #[arg(long, default_value_t = 200)]
        pods: usize,
    },
    /// Schedule many pods onto many nodes (the scheduler alone, scheduler_perf's workloads).
    Schedule {
        #[arg(long, default_value_t = 5000)]
        nodes: usize,
        #[arg(long, default_value_t = 150_000)]
        pods: usize,
        /// basic, node-affinity, pod-anti-affinity, topology-spread or all.
        #[arg(long, default_value = "all")]
        workload: String,
    },
    /// podlab beside the CNI bridge plugin, Mininet, the bare rtnetlink loop and a bare veth pair.
    Peers {
        /// Small counts and short runs (a smoke test), not the sizes.
        #[arg(long)]
        quick: bool,
        /// Skip the CNI plugins and Mininet (podlab and the kernel baselines only).
        #[arg(long)]
        podlab_only: bool,
        /// Print the table as Markdown.
        #[arg(long)]
        markdown: bool,
        /// Run only these parts (repeatable): setup, bringup, traffic. Default: all of them.
        #[arg(long, value_enum)]
        only: Vec<bench::peers::Part>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("PODLAB_LOG").unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Image { name } => ExitCode::from(podlab_node_agent::images::run_builtin(&name).clamp(0, 255) as u8),
        Command::Images => {
            let rows: Vec<Vec<String>> = podlab_node_agent::images::CATALOG
                .iter()
                .map(|(n, d)| vec![n.to_string(), d.to_string()])
                .collect();
            print!("{}", printers::table(&["IMAGE", "WHAT IT RUNS"], &rows));
            ExitCode::SUCCESS
        }
        Command::Validate { file } => match load(&file) {
            Ok(s) => {
                println!(
                    "{}: valid {} ({} node(s), {} object(s), {} step(s))",
                    file.display(),
                    if s.plain_manifest { "manifest" } else { "scenario" },
                    s.cluster.nodes.len(),
                    s.manifests.len(),
                    s.steps.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => fail(e),
        },
        Command::Bench {
            what: BenchKind::Bringup { nodes, pods },
        } => match bench(nodes, pods) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Up {
            file,
            name,
            dataplane,
            wait,
        } => exit(up(&file, &name, dataplane == DataplaneKind::Model, wait)),
        Command::Down { name } => exit(client::down(&name)),
        Command::Clusters => exit(client::clusters()),
        Command::Daemon {
            file,
            name,
            model,
            wait,
        } => match daemon(file, name, model, wait) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Get {
            resource,
            name,
            output,
            selector,
            namespace,
            all_namespaces,
            show_labels,
            watch,
            c,
        } => {
            let req = protocol::Request::Get {
                resource,
                name,
                namespace,
                all_namespaces,
                selector,
                output,
                show_labels,
                watch,
            };
            exit(client::call(&c.cluster, &req).map(|r| r.0))
        }
        Command::Describe {
            resource,
            name,
            namespace,
            c,
        } => exit(
            client::call(
                &c.cluster,
                &protocol::Request::Describe {
                    resource,
                    name,
                    namespace,
                },
            )
            .map(|r| r.0),
        ),
        Command::Logs {
            pod,
            container,
            follow,
            previous,
            namespace,
            c,
        } => {
            let pod = pod.strip_prefix("pod/").unwrap_or(&pod).to_string();
            exit(
                client::call(
                    &c.cluster,
                    &protocol::Request::Logs {
                        pod,
                        namespace,
                        container,
                        previous,
                        follow,
                    },
                )
                .map(|r| r.0),
            )
        }
        Command::Exec {
            target,
            container,
            namespace,
            c,
            command,
            ..
        } => exit(client::exec(&c.cluster, &target, &namespace, container, &command)),
        Command::PortForward {
            target,
            ports,
            namespace,
            c,
        } => exit(client::port_forward(&c.cluster, &target, &namespace, &ports)),
        Command::Apply { filename, c } => exit(apply(&c.cluster, &filename)),
        Command::Delete {
            resource,
            names,
            filename,
            selector,
            namespace,
            c,
        } => exit(delete(&c.cluster, resource, names, filename, selector, namespace)),
        Command::Scale {
            resource,
            name,
            replicas,
            namespace,
            c,
        } => {
            let (resource, name) = match (resource.split_once('/'), name) {
                (Some((r, n)), _) => (r.to_string(), n.to_string()),
                (None, Some(n)) => (resource, n),
                (None, None) => {
                    return fail(anyhow::anyhow!(
                        "error: scale needs a name: scale deployment NAME --replicas N"
                    ));
                }
            };
            exit(
                client::call(
                    &c.cluster,
                    &protocol::Request::Scale {
                        resource,
                        name,
                        namespace,
                        replicas,
                    },
                )
                .map(|r| r.0),
            )
        }
        Command::Label {
            resource,
            name,
            labels,
            overwrite,
            namespace,
            c,
        } => {
            if kubectl::resource(&resource).ok() != Some("pods") {
                return fail(anyhow::anyhow!("error: podlab can label pods only (got {resource})"));
            }
            let mut parsed = Vec::new();
            for l in labels {
                if let Some(k) = l.strip_suffix('-') {
                    parsed.push((k.to_string(), None));
                } else if let Some((k, v)) = l.split_once('=') {
                    parsed.push((k.to_string(), Some(v.to_string())));
                } else {
                    return fail(anyhow::anyhow!(
                        "error: invalid label spec: {l} (use key=value or key-)"
                    ));
                }
            }
            exit(
                client::call(
                    &c.cluster,
                    &protocol::Request::Label {
                        name,
                        namespace,
                        labels: parsed,
                        overwrite,
                    },
                )
                .map(|r| r.0),
            )
        }
        Command::Create { resource, name, c } => {
            if kubectl::resource(&resource).ok() != Some("namespaces") {
                return fail(anyhow::anyhow!(
                    "error: podlab can create namespaces only: create namespace NAME"
                ));
            }
            exit(client::call(&c.cluster, &protocol::Request::CreateNamespace { name }).map(|r| r.0))
        }
        Command::Node { action, name, c } => {
            let up = match action.as_str() {
                "up" => true,
                "down" => false,
                other => {
                    return fail(anyhow::anyhow!(
                        "error: node {other}: use `node down NAME` or `node up NAME`"
                    ));
                }
            };
            exit(client::call(&c.cluster, &protocol::Request::NodeLink { name, up }).map(|r| r.0))
        }
        Command::Topology { format, c } => {
            exit(client::call(&c.cluster, &protocol::Request::Topology { format }).map(|r| r.0))
        }
        Command::Routes {
            target,
            output,
            namespace,
            c,
        } => exit(
            client::call(
                &c.cluster,
                &protocol::Request::Routes {
                    target,
                    namespace,
                    output,
                },
            )
            .map(|r| r.0),
        ),
        Command::Trace {
            src,
            dst,
            output,
            namespace,
            c,
        } => exit(
            client::call(
                &c.cluster,
                &protocol::Request::Trace {
                    src,
                    dst,
                    namespace,
                    output,
                },
            )
            .map(|r| r.0),
        ),
        Command::PingMatrix { selector, output, c } => {
            exit(client::call(&c.cluster, &protocol::Request::PingMatrix { selector, output }).map(|r| r.0))
        }
        Command::Capture {
            target,
            write,
            count,
            seconds,
            namespace,
            c,
        } => exit(client::capture(
            &c.cluster,
            &target,
            &namespace,
            write.as_deref(),
            count,
            seconds,
        )),
        Command::ExplainPlacement { pod, namespace, c } => exit(
            client::call(
                &c.cluster,
                &protocol::Request::ExplainPlacement { name: pod, namespace },
            )
            .map(|r| r.0),
        ),
        Command::Bench {
            what: BenchKind::Schedule { nodes, pods, workload },
        } => exit(bench_schedule(nodes, pods, &workload)),
        Command::Bench {
            what:
                BenchKind::Peers {
                    quick,
                    podlab_only,
                    markdown,
                    only,
                },
        } => exit(bench::peers::main(bench::peers::PeersOptions {
            quick,
            podlab_only,
            markdown,
            only,
        })),
        Command::Compare {
            files,
            output,
            out,
            requests,
        } => {
            // SAFETY: geteuid has no preconditions.
            if unsafe { libc::geteuid() } != 0 {
                return fail(anyhow::anyhow!(
                    "compare runs each scenario on a real cluster and needs root (sudo)"
                ));
            }
            exit(compare::compare(&files, &output, out.as_deref(), requests))
        }
        Command::Measure { file, requests } => match measure(&file, requests) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e),
        },
        Command::Run {
            file,
            dataplane,
            name,
            explain,
            lesson,
        } => match run(file, dataplane, name, explain, lesson) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(1),
            Err(e) => fail(e),
        },
    }
}

fn exit(r: Result<i32>) -> ExitCode {
    match r {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => fail(e),
    }
}

fn up(file: &std::path::Path, name: &str, model: bool, wait: u64) -> Result<i32> {
    load(file)?;
    // SAFETY: geteuid has no preconditions.
    if !model && unsafe { libc::geteuid() } != 0 {
        bail!("the kernel dataplane builds real network namespaces and needs root (sudo), or add `--dataplane model`");
    }
    let errs = podlab_scenario::validation::dns1123_label(name);
    if !errs.is_empty() {
        bail!("invalid cluster name {name:?}: {}", errs.join("; "));
    }
    client::up(file, name, model, wait)
}

fn daemon(file: PathBuf, name: String, model: bool, wait: u64) -> Result<()> {
    let scenario = load(&file)?;
    if !model {
        enter_private_netns()?;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let r = rt.block_on(daemon::serve(
        scenario,
        name,
        model,
        std::time::Duration::from_secs(wait),
    ));
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    r
}

fn objects_json(file: &std::path::Path) -> Result<Vec<serde_json::Value>> {
    let (objects, warnings) = podlab_scenario::load_manifests(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in warnings {
        eprintln!("{w}");
    }
    objects
        .iter()
        .map(|o| match o {
            podlab_scenario::Object::Pod(p) => serde_json::to_value(p),
            podlab_scenario::Object::Namespace(n) => serde_json::to_value(n),
            podlab_scenario::Object::Deployment(d) => serde_json::to_value(d),
            podlab_scenario::Object::ReplicaSet(r) => serde_json::to_value(r),
        })
        .collect::<Result<_, _>>()
        .map_err(Into::into)
}

fn apply(cluster: &str, file: &std::path::Path) -> Result<i32> {
    let objects = objects_json(file)?;
    Ok(client::call(cluster, &protocol::Request::Apply { objects })?.0)
}

fn delete(
    cluster: &str,
    resource: Option<String>,
    names: Vec<String>,
    file: Option<PathBuf>,
    selector: Option<String>,
    namespace: String,
) -> Result<i32> {
    if let Some(file) = file {
        let mut code = 0;
        for o in objects_json(&file)? {
            let kind = o.get("kind").and_then(|k| k.as_str()).unwrap_or_default().to_string();
            let name = o
                .pointer("/metadata/name")
                .and_then(|k| k.as_str())
                .unwrap_or_default()
                .to_string();
            let ns = o
                .pointer("/metadata/namespace")
                .and_then(|k| k.as_str())
                .unwrap_or(&namespace)
                .to_string();
            if kind == "Namespace" {
                continue;
            }
            let req = protocol::Request::Delete {
                resource: kind,
                names: vec![name],
                namespace: ns,
                selector: None,
            };
            code = code.max(client::call(cluster, &req)?.0);
        }
        return Ok(code);
    }
    let Some(resource) = resource else {
        bail!(
            "error: You must provide one or more resources by argument or filename (delete pod NAME, -f FILE or -l SELECTOR)"
        );
    };
    let (resource, names) = match resource.split_once('/') {
        Some((r, n)) => (r.to_string(), std::iter::once(n.to_string()).chain(names).collect()),
        None => (resource, names),
    };
    if names.is_empty() && selector.is_none() {
        bail!("error: resource(s) were provided, but no name was specified (or use -l SELECTOR)");
    }
    Ok(client::call(
        cluster,
        &protocol::Request::Delete {
            resource,
            names,
            namespace,
            selector,
        },
    )?
    .0)
}

fn measure(file: &std::path::Path, requests: usize) -> Result<()> {
    let scenario = load(file)?;
    enter_private_netns()?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = rt.block_on(compare::measure(scenario, requests))?;
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn bench_schedule(nodes: usize, pods: usize, workload: &str) -> Result<i32> {
    bench::schedule::run(nodes, pods, workload)
}

fn fail(e: anyhow::Error) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::from(2)
}

pub(crate) fn load(file: &std::path::Path) -> Result<podlab_scenario::Scenario> {
    let loaded = podlab_scenario::load(file).map_err(|e| anyhow::anyhow!("{e}"))?;
    for w in &loaded.warnings {
        eprintln!("{w}");
    }
    Ok(loaded.scenario)
}

fn run(file: PathBuf, dataplane: DataplaneKind, name: Option<String>, explain: bool, lesson: bool) -> Result<bool> {
    let scenario = load(&file)?;
    let model = dataplane == DataplaneKind::Model;
    if !model {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            bail!(
                "the kernel dataplane builds real network namespaces, veths and bridges and needs root.\n\
                 Run it with sudo, or add `--dataplane model` to simulate the cluster without touching the kernel."
            );
        }
        enter_private_netns()?;
        let cleaned = rundir::clean_stale();
        if !cleaned.is_empty() {
            eprintln!(
                "note: removed state left by podlab processes that died: {}",
                cleaned.join(", ")
            );
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = rt.block_on(runner::run(
        scenario,
        runner::RunOptions {
            model,
            explain,
            name,
            lesson,
        },
    ))?;
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    Ok(report.success())
}

fn bench(nodes: usize, pods: usize) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the bring-up benchmark builds real namespaces and needs root");
    }
    enter_private_netns()?;
    rundir::clean_stale();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(bench::bringup::bringup(nodes, pods))
}

/// Move this process (before any other thread exists) into a network namespace of its own:
/// the cluster's fabric bridge lives there, so the machine's own network is never touched,
/// and it vanishes with the process however the process ends.
fn enter_private_netns() -> Result<()> {
    // SAFETY: unshare on the only thread; no memory is involved.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error())
            .context("creating podlab's private network namespace (unshare CLONE_NEWNET)");
    }
    podlab_netplugin::ns::configure_new_fabric_here()
        .context("setting up podlab's private network namespace (bridge-nf-call-*=0)")?;
    Ok(())
}
