//! Joining a pod's or node's namespaces from outside the daemon, as `nsenter -t PID` does, and
//! the process plumbing around it: what `podlab exec`, `capture` and `port-forward` and the
//! daemon's start need. The few system calls that need `unsafe` (hooks run between fork and
//! exec, signal dispositions) live here, so the binary has none.

use nix::sched::CloneFlags;
use nix::sys::signal::{SigHandler, Signal};
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// One of the namespaces a sandbox's pause process holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Space {
    /// The network namespace (interfaces, addresses, routes).
    Net,
    /// The UTS namespace (hostname).
    Uts,
    /// The IPC namespace (System V queues, POSIX message queues).
    Ipc,
    /// A container's mount namespace (its filesystem).
    Mnt,
    /// A container's PID namespace (its processes; joined by the children made after it).
    Pid,
}

impl Space {
    fn proc_name(self) -> &'static str {
        match self {
            Space::Net => "net",
            Space::Uts => "uts",
            Space::Ipc => "ipc",
            Space::Mnt => "mnt",
            Space::Pid => "pid",
        }
    }

    fn flag(self) -> CloneFlags {
        match self {
            Space::Net => CloneFlags::CLONE_NEWNET,
            Space::Uts => CloneFlags::CLONE_NEWUTS,
            Space::Ipc => CloneFlags::CLONE_NEWIPC,
            Space::Mnt => CloneFlags::CLONE_NEWNS,
            Space::Pid => CloneFlags::CLONE_NEWPID,
        }
    }

    /// The namespaces `exec` joins: a pod's net, UTS and IPC; a node's net and UTS.
    pub fn for_exec(is_pod: bool) -> &'static [Space] {
        if is_pod {
            &[Space::Net, Space::Uts, Space::Ipc]
        } else {
            &[Space::Net, Space::Uts]
        }
    }
}

/// Opens `/proc/PID/ns/<space>`, naming the path in the error.
pub fn open_ns(pid: i32, space: Space) -> io::Result<File> {
    let path = format!("/proc/{pid}/ns/{}", space.proc_name());
    File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("opening {path}: {e}")))
}

/// Moves the calling thread into `pid`'s namespaces. For a single-threaded command-line
/// process (see DESIGN.md's setns pitfalls: never on a runtime worker thread).
pub fn enter(pid: i32, spaces: &[Space]) -> io::Result<()> {
    enter_container(pid, spaces, None)
}

/// Like [`enter`], then into the mount and PID namespaces of container process `container`
/// (as `kubectl exec`: its filesystem becomes this process's root, and the processes it starts
/// from now on are in the container's PID namespace). Every namespace file is opened first:
/// once in the container's mount namespace, `/proc` is the container's.
pub fn enter_container(pid: i32, spaces: &[Space], container: Option<i32>) -> io::Result<()> {
    let theirs = container.map(|c| [(c, Space::Pid), (c, Space::Mnt)]);
    let files = spaces
        .iter()
        .map(|s| (pid, *s))
        .chain(theirs.into_iter().flatten())
        .map(|(p, s)| open_ns(p, s).map(|f| (f, s)))
        .collect::<io::Result<Vec<_>>>()?;
    for (f, space) in &files {
        nix::sched::setns(f.as_fd(), space.flag())
            .map_err(|e| io::Error::other(format!("joining the {} namespace: {e}", space.proc_name())))?;
    }
    Ok(())
}

/// Moves the calling thread into a new network namespace of its own. Called before any other
/// thread exists, it moves the whole process (threads started later inherit it).
pub fn unshare_network() -> io::Result<()> {
    nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(io::Error::from)
}

/// Whether this process runs as root (effective uid 0).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Leaves Ctrl-C and Ctrl-\ to a command this process runs in the foreground: this process
/// ignores SIGINT and SIGQUIT (and stays to report the command's exit); the command gets the
/// default dispositions back, see [`run_as_foreground_child`].
pub fn leave_interactive_signals_to_child() {
    for sig in [Signal::SIGINT, Signal::SIGQUIT] {
        // SAFETY: SIG_IGN installs no handler code; this changes only this process's disposition.
        let _ = unsafe { nix::sys::signal::signal(sig, SigHandler::SigIgn) };
    }
}

/// Makes `cmd` a foreground child of this process: SIGINT/SIGQUIT back to their defaults, and
/// killed (SIGKILL) when this process dies. The spawn fails if this process already died
/// before the command started.
pub fn run_as_foreground_child(cmd: &mut Command) {
    let me = nix::unistd::getpid();
    // SAFETY: the hook runs between fork and exec and calls only async-signal-safe functions
    // (signal, prctl, getppid), touching no memory of the parent.
    unsafe {
        cmd.pre_exec(move || {
            for sig in [libc::SIGINT, libc::SIGQUIT] {
                libc::signal(sig, libc::SIG_DFL);
            }
            // In a container's PID namespace (see `enter_container`) the parent, outside it, is
            // pid 0; had it died, the namespace's own PID 1 would have adopted the command.
            let parent = libc::getppid();
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || (parent != me.as_raw() && parent != 0) {
                return Err(io::Error::other("podlab exec ended before the command started"));
            }
            Ok(())
        });
    }
}

/// Limits `cmd` to a container's capabilities ([`crate::caps`]) as its last step before it
/// runs: for a command `exec`'d into a container (see [`enter_container`]).
pub fn limit_to_container_capabilities(cmd: &mut Command) {
    // SAFETY: the hook makes only raw prctl/capget/capset calls on its own stack.
    unsafe {
        cmd.pre_exec(|| {
            if crate::caps::limit_to_default() != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Starts `cmd` in a session of its own, killed (SIGKILL) if this process dies first: the
/// daemon under `podlab up`, until it detaches.
pub fn own_session_dying_with_parent(cmd: &mut Command) {
    // SAFETY: setsid and prctl are async-signal-safe; the hook touches no parent memory.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Makes `cmd` enter the network namespace `netns` (an open `/proc/PID/ns/net`) before it
/// runs. `netns` must stay open until the spawn returns.
pub fn enter_netns_before_exec(cmd: &mut Command, netns: &File) {
    let fd = netns.as_raw_fd();
    // SAFETY: setns is async-signal-safe; `fd` stays open in the parent until spawn returns,
    // so it is valid in the child between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Sends SIGINT to a child this process spawned and has not reaped (lets `tcpdump` flush).
pub fn interrupt(pid: u32) {
    if let Ok(p) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGINT);
    }
}

/// From now on this process outlives whoever started it: no parent-death signal, and its
/// standard streams go to `/dev/null` (no terminal, no pipe to a reader that left).
pub fn detach_from_parent() {
    let _ = nix::sys::prctl::set_pdeathsig(None);
    if let Ok(null) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_process_is_named_in_the_error() {
        let e = open_ns(i32::MAX, Space::Net).unwrap_err();
        assert!(e.to_string().contains(&format!("/proc/{}/ns/net", i32::MAX)), "{e}");
    }

    #[test]
    fn exec_joins_ipc_only_in_pods() {
        assert!(Space::for_exec(true).contains(&Space::Ipc));
        assert!(!Space::for_exec(false).contains(&Space::Ipc));
    }
}
