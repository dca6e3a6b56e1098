//! Waiting for and stopping processes through pidfds: the pause processes (the zygote's
//! children) and children podlab did not start through its spawner (`std::process::Command`).
//! The spawner's own children hold no descriptor: see [`crate::reaper`].
//!
//! A pidfd names one process for good (no pid-reuse races) and becomes readable when the
//! process exits, so a tokio task can await it.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl Exit {
    /// The exit code Kubernetes reports: the code, or 128 + signal number.
    pub fn code(self) -> i32 {
        match self {
            Exit::Code(c) => c,
            Exit::Signal(s) => 128 + s,
        }
    }
}

/// A process podlab started, owned through its pidfd: a child of podlab (a container), or a
/// pause process forked by the sandbox zygote, which the kernel reaps.
pub struct Process {
    pid: i32,
    /// Shared with its [`Signaler`]s (one descriptor per process, whatever holds it).
    pidfd: Arc<OwnedFd>,
    /// podlab's own child, so podlab reaps it and learns how it ended.
    child: bool,
}

impl Process {
    /// Take ownership of child `pid` (must be a child of this process, not yet reaped).
    pub fn adopt(pid: i32) -> io::Result<Self> {
        Ok(Process {
            pid,
            pidfd: Arc::new(pidfd_open(pid)?),
            child: true,
        })
    }

    /// Take a process that is not podlab's child (its parent reaps it), through its pidfd.
    /// Its end is reported as `Signal(SIGKILL)`: only its parent learns the real status.
    pub fn from_pidfd(pid: i32, pidfd: OwnedFd) -> Self {
        Process {
            pid,
            pidfd: Arc::new(pidfd),
            child: false,
        }
    }

    /// The pidfd's number, valid as long as this `Process` lives.
    pub fn pidfd_raw(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }

    /// SIGKILL, then wait until it has exited (a child is reaped), keeping the pidfd open.
    pub fn kill_and_wait(&self) {
        if self.child {
            self.signal(libc::SIGKILL);
            reap(self.pid);
        } else if !self.has_exited() {
            self.signal(libc::SIGKILL);
            self.wait_exited();
        }
    }

    /// True once the process has exited.
    pub fn has_exited(&self) -> bool {
        let mut p = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one fd we own, no wait.
        unsafe { libc::poll(&mut p, 1, 0) == 1 }
    }

    /// The process's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Send a signal through the pidfd (never hits a recycled pid).
    pub fn signal(&self, sig: i32) {
        pidfd_signal(&self.pidfd, sig);
    }

    /// Blocks until the process exits (reaped: `Some`) or `other` becomes readable first
    /// (`None`, the process left running). For synchronous callers such as the CLI.
    pub fn wait_blocking_unless(&self, other: BorrowedFd<'_>) -> io::Result<Option<Exit>> {
        loop {
            let mut fds = [self.pidfd.as_raw_fd(), other.as_raw_fd()].map(|fd| libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            });
            // SAFETY: poll on two descriptors that stay open for the call.
            if unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) } < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            if fds[0].revents != 0 {
                return Ok(Some(if self.child {
                    reap(self.pid)
                } else {
                    Exit::Signal(libc::SIGKILL)
                }));
            }
            if fds[1].revents != 0 {
                return Ok(None);
            }
        }
    }

    /// Wait for the process to exit and reap it.
    pub async fn wait(self) -> io::Result<Exit> {
        // SAFETY: the AsyncFd takes ownership of the pidfd, so it stays open while registered.
        let afd = unsafe { AsyncFd::register_with_interest(self.pidfd, tokio::io::Interest::READABLE) }
            .map_err(|e| io::Error::other(e.to_string()))?;
        let _guard = afd.readable().await?;
        Ok(if self.child {
            reap(self.pid)
        } else {
            Exit::Signal(libc::SIGKILL)
        })
    }

    /// SIGKILL and reap (or, for a process that is not our child, wait until it has exited),
    /// blocking (used at teardown, and from non-async code).
    pub fn kill_and_reap(self) -> Exit {
        self.signal(libc::SIGKILL);
        if self.child {
            return reap(self.pid);
        }
        self.wait_exited();
        Exit::Signal(libc::SIGKILL)
    }

    /// Blocks until the pidfd says the process has exited.
    fn wait_exited(&self) {
        let mut p = libc::pollfd {
            fd: self.pidfd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: poll on one fd we own; the caller sent SIGKILL, which cannot be caught.
        while unsafe { libc::poll(&mut p, 1, 5000) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }

    /// A second handle that can signal the process while another task awaits `wait`.
    pub fn signaler(&self) -> Signaler {
        Signaler {
            to: SignalTo::Pidfd(self.pidfd.clone()),
        }
    }
}

/// Sends signals to one process: through its pidfd, or (a spawner's child) by pid until the
/// reaper has reaped it.
pub struct Signaler {
    to: SignalTo,
}

enum SignalTo {
    Pidfd(Arc<OwnedFd>),
    Child(crate::reaper::Child),
}

impl Signaler {
    pub(crate) fn child(child: crate::reaper::Child) -> Self {
        Signaler {
            to: SignalTo::Child(child),
        }
    }

    /// Send signal `sig` to the process (never to a recycled pid).
    pub fn signal(&self, sig: i32) {
        match &self.to {
            SignalTo::Pidfd(fd) => pidfd_signal(fd, sig),
            SignalTo::Child(c) => c.signal(sig),
        }
    }
}

/// A pidfd for any process `pid`: names it for good, readable once it has exited.
pub fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open has no memory-safety preconditions.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just gave us this fd.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

fn pidfd_signal(pidfd: &OwnedFd, sig: i32) {
    // SAFETY: plain syscall on an fd we own.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

/// Wait for `wait` to finish; on `stop`, SIGTERM, then SIGKILL after `grace`.
pub async fn wait_or_stop(
    wait: impl std::future::Future<Output = io::Result<Exit>>,
    sig: &Signaler,
    stop: impl std::future::Future<Output = ()>,
    grace: Duration,
) -> (io::Result<Exit>, bool) {
    wait_or_stop_with(wait, sig, async move {
        stop.await;
        grace
    })
    .await
}

/// Like [`wait_or_stop`], with the grace period given by `stop` when it resolves.
pub async fn wait_or_stop_with(
    wait: impl std::future::Future<Output = io::Result<Exit>>,
    sig: &Signaler,
    stop: impl std::future::Future<Output = Duration>,
) -> (io::Result<Exit>, bool) {
    tokio::pin!(wait);
    tokio::select! {
        r = &mut wait => (r, false),
        grace = stop => {
            sig.signal(libc::SIGTERM);
            match tokio::time::timeout(grace, &mut wait).await {
                Ok(r) => (r, true),
                Err(_) => {
                    sig.signal(libc::SIGKILL);
                    (wait.await, true)
                }
            }
        }
    }
}

fn reap(pid: i32) -> Exit {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return Exit::Signal(libc::SIGKILL);
    }
    if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else {
        Exit::Signal(libc::WTERMSIG(status))
    }
}

/// `kcmp(2)`'s type for address spaces.
const KCMP_VM: libc::c_long = 1;

/// How the address spaces of processes `a` and `b` compare (`kcmp(2)`, `KCMP_VM`): `Equal`
/// when they share one (a pause process, `clone(CLONE_VM)`'d by the zygote, shares the
/// zygote's), otherwise an order that is arbitrary but consistent, so address spaces can be
/// kept in a sorted list. Fails if either process is gone.
pub fn compare_memory(a: u32, b: u32) -> io::Result<std::cmp::Ordering> {
    // SAFETY: kcmp takes two pids and three integers, no pointers.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, a as libc::c_long, b as libc::c_long, KCMP_VM, 0, 0) };
    match r {
        0 => Ok(std::cmp::Ordering::Equal),
        1 => Ok(std::cmp::Ordering::Less),
        2 => Ok(std::cmp::Ordering::Greater),
        -1 => Err(io::Error::last_os_error()),
        _ => Err(io::Error::other("kcmp: address spaces not ordered")),
    }
}
