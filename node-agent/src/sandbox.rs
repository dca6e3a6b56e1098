//! Pod and node sandboxes: a pause process holding fresh namespaces, as Kubernetes' pause
//! container does. The namespaces live exactly as long as the pause process (and any
//! container that joined them).

use crate::process::Process;
use crate::spawner::{SandboxKind, Spawner};
use podlab_netplugin::ns::Netns;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// A pause process and handles on its namespaces.
pub struct Sandbox {
    pid: i32,
    kind: SandboxKind,
    process: Mutex<Option<Process>>,
    net: Netns,
    uts: OwnedFd,
    ipc: Option<OwnedFd>,
}

fn open_ns(pid: i32, name: &str) -> io::Result<OwnedFd> {
    Ok(OwnedFd::from(std::fs::File::open(format!("/proc/{pid}/ns/{name}"))?))
}

impl Sandbox {
    /// Fork a pause process with new namespaces and hostname `hostname`.
    pub fn create(spawner: &Spawner, kind: SandboxKind, hostname: &str) -> io::Result<Sandbox> {
        let pid = spawner.spawn_sandbox(kind, hostname)?;
        let process = Process::adopt(pid)?;
        let opened = (|| -> io::Result<_> {
            let net = Netns::from_pid(pid as u32)?;
            let uts = open_ns(pid, "uts")?;
            let ipc = if kind == SandboxKind::Pod {
                Some(open_ns(pid, "ipc")?)
            } else {
                None
            };
            Ok((net, uts, ipc))
        })();
        match opened {
            Ok((net, uts, ipc)) => Ok(Sandbox {
                pid,
                kind,
                process: Mutex::new(Some(process)),
                net,
                uts,
                ipc,
            }),
            Err(e) => {
                process.kill_and_reap();
                Err(e)
            }
        }
    }

    /// The pause process's pid (what `nsenter -t PID` takes).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn kind(&self) -> SandboxKind {
        self.kind
    }

    /// The network namespace.
    pub fn netns(&self) -> &Netns {
        &self.net
    }

    /// The namespaces a process joins to run "inside" this sandbox.
    pub fn join_fds(&self) -> Vec<(RawFd, libc::c_int)> {
        let mut v = vec![
            (self.net.as_raw_fd(), libc::CLONE_NEWNET),
            (self.uts.as_raw_fd(), libc::CLONE_NEWUTS),
        ];
        if let Some(ipc) = &self.ipc {
            v.push((ipc.as_raw_fd(), libc::CLONE_NEWIPC));
        }
        v
    }

    /// Kill the pause process (its namespaces go once no container holds them).
    pub fn kill(&self) {
        if let Some(p) = self.process.lock().ok().and_then(|mut g| g.take()) {
            p.kill_and_reap();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
    }
}
