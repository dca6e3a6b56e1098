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
    /// The pod's PID namespace (`shareProcessNamespace`), whose PID 1 is the pause process.
    pid_ns: Option<OwnedFd>,
}

/// Reads the pause process's 4-byte report: Ok once its namespaces exist.
fn read_ready(fd: RawFd) -> io::Result<()> {
    let mut err: i32 = 0;
    let n = loop {
        // SAFETY: reading 4 bytes into an i32 on the stack.
        let n = unsafe { libc::read(fd, (&mut err as *mut i32).cast(), 4) };
        if n >= 0 || io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            break n;
        }
    };
    match n {
        4 if err == 0 => Ok(()),
        4 => Err(io::Error::from_raw_os_error(err)),
        0 => Err(io::Error::other("sandbox process died while starting")),
        _ => Err(io::Error::last_os_error()),
    }
}

fn open_ns(pid: i32, name: &str) -> io::Result<OwnedFd> {
    Ok(OwnedFd::from(std::fs::File::open(format!("/proc/{pid}/ns/{name}"))?))
}

impl Sandbox {
    /// Start a pause process with new namespaces and hostname `hostname` (blocking).
    pub fn create(spawner: &Spawner, kind: SandboxKind, hostname: &str) -> io::Result<Sandbox> {
        let forked = spawner.spawn_sandbox(kind, hostname)?;
        let err = read_ready(forked.ready.as_raw_fd());
        Self::finish(kind, forked.pid, Process::from_pidfd(forked.pid, forked.pidfd), err)
    }

    /// Like [`Sandbox::create`], awaiting the namespaces instead of blocking a thread, so a
    /// thousand pods can be waiting for theirs at once.
    pub async fn create_async(spawner: &Spawner, kind: SandboxKind, hostname: &str) -> io::Result<Sandbox> {
        // The zygote answers in microseconds, but not while the CPUs are busy: wait for it off
        // the runtime's worker threads.
        let (sp, host) = (spawner.clone(), hostname.to_string());
        let forked = tokio::task::spawn_blocking(move || sp.spawn_sandbox(kind, &host))
            .await
            .map_err(|e| io::Error::other(e.to_string()))??;
        let process = Process::from_pidfd(forked.pid, forked.pidfd);
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let fl = libc::fcntl(forked.ready.as_raw_fd(), libc::F_GETFL);
            libc::fcntl(forked.ready.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        // SAFETY: the AsyncFd takes ownership of the pipe, so it stays open while registered.
        let ready =
            unsafe { tokio::io::unix::AsyncFd::register_with_interest(forked.ready, tokio::io::Interest::READABLE) };
        let err = match ready {
            Ok(afd) => loop {
                let mut guard = match afd.readable().await {
                    Ok(g) => g,
                    Err(e) => break Err(e),
                };
                match read_ready(afd.get_ref().as_raw_fd()) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => guard.clear_ready(),
                    r => break r,
                }
            },
            Err(e) => Err(io::Error::other(e.to_string())),
        };
        Self::finish(kind, forked.pid, process, err)
    }

    fn finish(kind: SandboxKind, pid: i32, process: Process, ready: io::Result<()>) -> io::Result<Sandbox> {
        let opened = ready.and_then(|()| {
            let net = Netns::from_pid(pid as u32)?;
            let uts = open_ns(pid, "uts")?;
            let ipc = if kind == SandboxKind::Node {
                None
            } else {
                Some(open_ns(pid, "ipc")?)
            };
            let pid_ns = if kind == SandboxKind::PodSharingPids {
                Some(open_ns(pid, "pid")?)
            } else {
                None
            };
            // The pause process was alive after the files were opened: they are its namespaces
            // (its pid cannot have been reused while its pidfd said it lives).
            if process.has_exited() {
                return Err(io::Error::other("sandbox process died while starting"));
            }
            Ok((net, uts, ipc, pid_ns))
        });
        match opened {
            Ok((net, uts, ipc, pid_ns)) => Ok(Sandbox {
                pid,
                kind,
                process: Mutex::new(Some(process)),
                net,
                uts,
                ipc,
                pid_ns,
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

    /// Whether it holds a node's or a pod's namespaces.
    pub fn kind(&self) -> SandboxKind {
        self.kind
    }

    /// The network namespace.
    pub fn netns(&self) -> &Netns {
        &self.net
    }

    /// The namespaces a process joins to run "inside" this sandbox (a pod's PID namespace
    /// too, when its containers share one).
    pub fn join_fds(&self) -> Vec<(RawFd, libc::c_int)> {
        let mut v = vec![
            (self.net.as_raw_fd(), libc::CLONE_NEWNET),
            (self.uts.as_raw_fd(), libc::CLONE_NEWUTS),
        ];
        if let Some(ipc) = &self.ipc {
            v.push((ipc.as_raw_fd(), libc::CLONE_NEWIPC));
        }
        if let Some(pid) = &self.pid_ns {
            v.push((pid.as_raw_fd(), libc::CLONE_NEWPID));
        }
        v
    }

    /// Kill the pause process (its namespaces go once no container holds them).
    pub fn kill(&self) {
        let process = crate::lock_unpoisoned(&self.process).take();
        if let Some(p) = process {
            p.kill_and_reap();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
    }
}
