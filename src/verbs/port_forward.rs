//! `podlab port-forward pod/NAME LOCAL:REMOTE`: listen on the machine's loopback and forward
//! each connection to localhost:REMOTE inside the pod's network namespace, as kubectl does.

use super::{ClusterArg, exec, split_target};
use anyhow::{Context, Result, bail};
use std::io::Write;

/// `podlab port-forward TARGET PORT...`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// pod/NAME or NAME.
    pub target: String,
    /// LOCAL:REMOTE or PORT (the same on both sides); LOCAL may be empty for a free port.
    #[arg(required = true)]
    pub ports: Vec<String>,
    /// Namespace.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub c: ClusterArg,
}

/// `podlab port-forward pod/NAME LOCAL:REMOTE`: listen on 127.0.0.1:LOCAL on this machine and
/// forward each connection to localhost:REMOTE inside the pod, as kubectl does.
pub fn run(args: Args) -> Result<i32> {
    let (name, ns, ports) = (args.c.cluster.as_str(), args.namespace.as_str(), &args.ports);
    let (kind, obj) = split_target(&args.target);
    if kind != "pod" {
        bail!("error: port-forward needs a pod (pod/NAME)");
    }
    let pid = exec::target(name, "pod", obj, ns, None)?.pid;
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
