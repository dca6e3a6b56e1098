//! Pod and node sandboxes: a pause process holding fresh namespaces, as Kubernetes' pause
//! container does. The namespaces live exactly as long as the pause process (and any
//! container that joined them).
//!
//! A sandbox holds two descriptors: the pause process's pidfd and its network namespace
//! (which netlink needs as a namespace file). A process joins the UTS and IPC namespaces (and
//! the network one) through the pidfd, `setns(pidfd, CLONE_NEWNET | CLONE_NEWUTS | ...)`
//! (Linux 5.8): at 7 descriptors per pod, a 5000-pod cluster met this machine's limit of
//! 20,000 (`RLIMIT_NOFILE`); the namespace files of UTS and IPC were two of them.

use crate::process::Process;
use crate::spawner::{SandboxKind, Spawner};
use podlab_netplugin::ns::Netns;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Mutex;

/// A sandbox's network namespace: borrowed from the sandbox, or opened for this use.
pub enum NetnsRef<'a> {
    /// The namespace the sandbox holds.
    Held(&'a Netns),
    /// Opened for this use; closed when dropped.
    Opened(Netns),
}

impl std::ops::Deref for NetnsRef<'_> {
    type Target = Netns;
    fn deref(&self) -> &Netns {
        match self {
            NetnsRef::Held(n) => n,
            NetnsRef::Opened(n) => n,
        }
    }
}

impl NetnsRef<'_> {
    /// An owned handle (a second descriptor for a held namespace).
    pub fn into_owned(self) -> io::Result<Netns> {
        match self {
            NetnsRef::Held(n) => n.try_clone(),
            NetnsRef::Opened(n) => Ok(n),
        }
    }
}

/// A pause process and handles on its namespaces.
pub struct Sandbox {
    pid: i32,
    kind: SandboxKind,
    /// The pause process; its pidfd stays open as long as the sandbox (after a kill too), so
    /// the descriptor [`Sandbox::join_fds`] hands out is never reused for something else.
    process: Mutex<Process>,
    /// The pidfd's number (what a joining process passes to `setns`).
    pidfd: RawFd,
    /// Set once the pause process was killed.
    killed: std::sync::atomic::AtomicBool,
    /// A node's network namespace, held (nodes are few, and used all the time); a pod's is
    /// opened when needed (one descriptor less per pod).
    net: Option<Netns>,
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
            let net = if kind == SandboxKind::Node {
                Some(Netns::from_pid(pid as u32)?)
            } else {
                None
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
            Ok((net, pid_ns))
        });
        match opened {
            Ok((net, pid_ns)) => Ok(Sandbox {
                pid,
                kind,
                pidfd: process.pidfd_raw(),
                process: Mutex::new(process),
                killed: std::sync::atomic::AtomicBool::new(false),
                net,
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

    /// The network namespace: a node's is held, a pod's is opened now (from the pause
    /// process's pid, checked against its pidfd, so never another process's namespace).
    pub fn netns(&self) -> io::Result<NetnsRef<'_>> {
        if let Some(n) = &self.net {
            return Ok(NetnsRef::Held(n));
        }
        let ns = Netns::from_pid(self.pid as u32)?;
        if crate::lock_unpoisoned(&self.process).has_exited() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                "the pod's sandbox (its pause process) has exited",
            ));
        }
        Ok(NetnsRef::Opened(ns))
    }

    /// The namespaces a process joins to run "inside" this sandbox (a pod's PID namespace
    /// too, when its containers share one).
    pub fn join_fds(&self) -> Vec<(RawFd, libc::c_int)> {
        let spaces = match self.kind {
            SandboxKind::Node => libc::CLONE_NEWNET | libc::CLONE_NEWUTS,
            _ => libc::CLONE_NEWNET | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC,
        };
        let mut v = vec![(self.pidfd, spaces)];
        if let Some(pid) = &self.pid_ns {
            v.push((pid.as_raw_fd(), libc::CLONE_NEWPID));
        }
        v
    }

    /// Kill the pause process (its namespaces go once no container holds them).
    pub fn kill(&self) {
        if !self.killed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            crate::lock_unpoisoned(&self.process).kill_and_wait();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.kill();
    }
}
