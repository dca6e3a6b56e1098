//! The sandbox zygote: a small helper process, forked once from the spawner thread while podlab
//! is still small, that forks every pause process.
//!
//! Forking podlab itself costs more the bigger it grows (page tables of every thread stack and
//! heap page, thousands of descriptors), so the thousandth pod paid ten times what the first
//! did. The zygote stays a few hundred KiB with three descriptors: every fork costs the same,
//! and it does not wait for the new pause process to make its namespaces, so pods get their
//! namespaces in parallel. Chain of parent-death signals: the spawner thread dies → the zygote
//! gets SIGKILL → every pause process gets SIGKILL, so `kill -9` of podlab still leaves nothing.
//!
//! The zygote is a fork of a multi-threaded process: it may only make async-signal-safe calls
//! (raw syscalls on stack buffers, no allocation, no locks) until it exits.
//!
//! Protocol over a `SOCK_SEQPACKET` pair, one request and one reply at a time:
//! request `[flags: i32][hostname bytes]` with one descriptor (the write end of a readiness
//! pipe); reply `[pid: i32][errno: i32]` with the new process's pidfd when `errno` is 0. The
//! pause process writes `errno` of its `unshare`/`sethostname` (0 = ready) to the pipe.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Longest hostname the kernel takes.
const MAX_HOSTNAME: usize = 64;

/// A pause process the zygote has forked; its namespaces may still be in the making.
pub struct Forked {
    /// The pause process's pid.
    pub pid: i32,
    /// Names the process for good; readable once it has exited.
    pub pidfd: OwnedFd,
    /// Yields 4 bytes, the pause process's errno (0 = its namespaces exist).
    pub ready: OwnedFd,
}

/// podlab's end of the zygote's socket.
pub struct Zygote {
    sock: OwnedFd,
}

fn last_errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

impl Zygote {
    /// Forks the zygote. Call on the thread whose exit must take every pause process down.
    pub fn start() -> io::Result<Zygote> {
        let mut sv = [0 as RawFd; 2];
        // SAFETY: plain syscalls; the child only runs `serve`, which is async-signal-safe.
        unsafe {
            if libc::socketpair(
                libc::AF_UNIX,
                libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
                0,
                sv.as_mut_ptr(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            let (ours, theirs) = (OwnedFd::from_raw_fd(sv[0]), OwnedFd::from_raw_fd(sv[1]));
            let parent = libc::getpid();
            let pid = libc::fork();
            if pid < 0 {
                return Err(io::Error::last_os_error());
            }
            if pid == 0 {
                serve(theirs.as_raw_fd(), parent);
            }
            drop(theirs);
            Ok(Zygote { sock: ours })
        }
    }

    /// Asks for a pause process in new namespaces (`CLONE_NEW*` `flags`) named `hostname`.
    /// Returns once it is forked; read `ready` to know its namespaces exist.
    pub fn fork_pause(&self, flags: libc::c_int, hostname: &str) -> io::Result<Forked> {
        let host = hostname.as_bytes();
        if host.len() > MAX_HOSTNAME || host.contains(&0) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "invalid hostname"));
        }
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 fills the array on success.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just gave us these descriptors.
        let (ready, ready_w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mut msg = [0u8; 4 + MAX_HOSTNAME];
        msg[..4].copy_from_slice(&flags.to_ne_bytes());
        msg[4..4 + host.len()].copy_from_slice(host);
        send_with_fd(self.sock.as_raw_fd(), &msg[..4 + host.len()], ready_w.as_raw_fd())?;
        drop(ready_w);
        let mut reply = [0u8; 8];
        let (n, pidfd) = recv_with_fd(self.sock.as_raw_fd(), &mut reply)?;
        if n != 8 {
            return Err(io::Error::other("podlab's sandbox zygote has stopped"));
        }
        let pid = i32::from_ne_bytes([reply[0], reply[1], reply[2], reply[3]]);
        let err = i32::from_ne_bytes([reply[4], reply[5], reply[6], reply[7]]);
        match (err, pidfd) {
            (0, Some(pidfd)) => Ok(Forked { pid, pidfd, ready }),
            (0, None) => Err(io::Error::other("the sandbox zygote sent no pidfd")),
            (e, _) => Err(io::Error::from_raw_os_error(e)),
        }
    }
}

/// Sends `data` with descriptor `fd` attached (SCM_RIGHTS), or none when `fd` is negative.
fn send_with_fd(sock: RawFd, data: &[u8], fd: RawFd) -> io::Result<()> {
    // SAFETY: every pointer refers to a live stack buffer of the stated size.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: data.as_ptr() as *mut libc::c_void,
            iov_len: data.len(),
        };
        let mut cbuf = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        if fd >= 0 {
            msg.msg_control = cbuf.as_mut_ptr().cast();
            msg.msg_controllen = libc::CMSG_SPACE(4) as _;
            let c = libc::CMSG_FIRSTHDR(&msg);
            (*c).cmsg_level = libc::SOL_SOCKET;
            (*c).cmsg_type = libc::SCM_RIGHTS;
            (*c).cmsg_len = libc::CMSG_LEN(4) as _;
            std::ptr::write_unaligned(libc::CMSG_DATA(c).cast::<RawFd>(), fd);
        }
        loop {
            if libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL) >= 0 {
                return Ok(());
            }
            if last_errno() != libc::EINTR {
                return Err(io::Error::last_os_error());
            }
        }
    }
}

/// Receives one message into `buf`; returns its length and the descriptor it carried.
fn recv_with_fd(sock: RawFd, buf: &mut [u8]) -> io::Result<(usize, Option<OwnedFd>)> {
    let (n, fd) = recv_raw(sock, buf);
    if n < 0 {
        return Err(io::Error::from_raw_os_error(-n as i32));
    }
    // SAFETY: a descriptor received with SCM_RIGHTS is ours.
    Ok((n as usize, (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })))
}

/// `recvmsg` of one message and at most one descriptor (opened close-on-exec): (length or
/// -errno, fd or -1). Async-signal-safe.
fn recv_raw(sock: RawFd, buf: &mut [u8]) -> (isize, RawFd) {
    // SAFETY: every pointer refers to a live stack buffer of the stated size.
    unsafe {
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        let mut cbuf = [0u64; 4];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = cbuf.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&cbuf) as _;
        let n = loop {
            let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
            if n >= 0 || last_errno() != libc::EINTR {
                break n;
            }
        };
        if n < 0 {
            return (-(last_errno() as isize), -1);
        }
        let mut fd = -1;
        let mut c = libc::CMSG_FIRSTHDR(&msg);
        while !c.is_null() {
            if (*c).cmsg_level == libc::SOL_SOCKET && (*c).cmsg_type == libc::SCM_RIGHTS {
                let first = std::ptr::read_unaligned(libc::CMSG_DATA(c).cast::<RawFd>());
                if fd < 0 {
                    fd = first;
                } else {
                    libc::close(first);
                }
            }
            c = libc::CMSG_NXTHDR(&msg, c);
        }
        (n, fd)
    }
}

/// The zygote's body. Never returns.
///
/// # Safety
/// Only in the child of a `fork`: makes raw syscalls on stack buffers and nothing else.
unsafe fn serve(sock: RawFd, parent: libc::pid_t) -> ! {
    // SAFETY: (whole body) async-signal-safe syscalls on our own descriptors and stack.
    unsafe {
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        if libc::getppid() != parent {
            libc::_exit(1);
        }
        libc::prctl(libc::PR_SET_NAME, c"podlab-zygote".as_ptr());
        // podlab's signal handlers and mask mean nothing here.
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        // Dead pause processes are reaped (and their stacks unmapped) before each new one.
        // Keep only the socket: no podlab descriptor lives on in a pause process.
        if sock > 0 {
            libc::syscall(libc::SYS_close_range, 0u32, (sock - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (sock + 1) as u32, u32::MAX, 0u32);
        let me = libc::getpid();
        let mut buf = [0u8; 4 + MAX_HOSTNAME];
        let stacks = Stacks::new();
        // SIGCHLD stays pending (blocked) until looked at: reaping only when a pause process
        // has exited, as `waitpid(-1)` walks every child. Before each new pod it cost O(pods)
        // (4000 live children: `wait_consider_task` in the profile), O(pods^2) in all.
        let mut chld: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut chld);
        libc::sigaddset(&mut chld, libc::SIGCHLD);
        libc::sigprocmask(libc::SIG_BLOCK, &chld, std::ptr::null_mut());
        let now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        loop {
            let (n, ready) = recv_raw(sock, &mut buf);
            if libc::sigtimedwait(&chld, std::ptr::null_mut(), &now) == libc::SIGCHLD {
                stacks.reap();
            }
            if n <= 0 {
                // podlab closed its end (or is gone): nothing more to make.
                libc::_exit(0);
            }
            let n = n as usize;
            let mut reply = [0u8; 8];
            if n < 4 || ready < 0 {
                reply[..4].copy_from_slice(&(-1i32).to_ne_bytes());
                reply[4..].copy_from_slice(&libc::EINVAL.to_ne_bytes());
                if ready >= 0 {
                    libc::close(ready);
                }
                let _ = send_with_fd(sock, &reply, -1);
                continue;
            }
            let flags = i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let pid = clone_pause(ready, flags, &buf[4..n], me, &stacks);
            libc::close(ready);
            let (pidfd, err) = if pid < 0 {
                (-1, last_errno())
            } else {
                let fd = libc::syscall(libc::SYS_pidfd_open, pid, 0) as RawFd;
                if fd < 0 { (-1, last_errno()) } else { (fd, 0) }
            };
            reply[..4].copy_from_slice(&pid.to_ne_bytes());
            reply[4..].copy_from_slice(&err.to_ne_bytes());
            let _ = send_with_fd(sock, &reply, pidfd);
            if pidfd >= 0 {
                libc::close(pidfd);
            }
        }
    }
}

/// What a pause process needs; lives at the top of its own stack.
#[repr(C)]
struct PauseArgs {
    ready: RawFd,
    flags: libc::c_int,
    zygote: libc::pid_t,
    /// A pidfd of the zygote (readable once it is gone).
    zygote_fd: RawFd,
    hostname_len: usize,
    hostname: [u8; MAX_HOSTNAME],
}

/// Size of a pause process's stack (it makes a handful of syscalls).
const PAUSE_STACK: usize = 32 * 1024;

/// Starts a pause process with `clone(CLONE_VM)`: it shares the zygote's (frozen) memory
/// instead of copying its page tables, on a stack of its own that is never freed (32 KiB of
/// address space, one touched page, per pod). Returns its pid, or -1 with errno set.
///
/// # Safety
/// Only in the zygote.
unsafe fn clone_pause(
    ready: RawFd,
    flags: libc::c_int,
    hostname: &[u8],
    zygote: libc::pid_t,
    stacks: &Stacks,
) -> libc::pid_t {
    // SAFETY: (whole body) mmap'd memory we own; the child only reads `PauseArgs` from it.
    unsafe {
        let stack = libc::mmap(
            std::ptr::null_mut(),
            PAUSE_STACK,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
            -1,
            0,
        );
        if stack == libc::MAP_FAILED {
            return -1;
        }
        let args_at = (stack as usize + PAUSE_STACK - std::mem::size_of::<PauseArgs>()) & !63;
        let args = args_at as *mut PauseArgs;
        let mut a = PauseArgs {
            ready,
            flags,
            zygote,
            zygote_fd: stacks.zygote_fd,
            hostname_len: hostname.len().min(MAX_HOSTNAME),
            hostname: [0; MAX_HOSTNAME],
        };
        a.hostname[..a.hostname_len].copy_from_slice(&hostname[..a.hostname_len]);
        std::ptr::write(args, a);
        let top = (args_at - 64) & !15;
        // A pod sharing one PID namespace: the pause process is its PID 1.
        let pid = libc::clone(
            pause_process,
            top as *mut libc::c_void,
            libc::CLONE_VM | libc::SIGCHLD | (flags & libc::CLONE_NEWPID),
            args.cast(),
        );
        if pid < 0 {
            libc::munmap(stack, PAUSE_STACK);
        } else {
            stacks.remember(pid, stack);
        }
        pid
    }
}

/// Which stack each live pause process runs on, so it is unmapped once the process is reaped.
/// A fixed table in memory of its own (the zygote may not allocate); a process that does not
/// fit keeps its stack until the zygote exits.
struct Stacks {
    slots: *mut (libc::pid_t, usize),
    /// A pidfd of the zygote itself, which pause processes inherit (kept here: the one piece
    /// of state every `clone_pause` already gets).
    zygote_fd: RawFd,
}

const STACK_SLOTS: usize = 1 << 16;

impl Stacks {
    /// # Safety
    /// Only in the zygote.
    unsafe fn new() -> Stacks {
        // SAFETY: a fresh anonymous mapping, zero-filled (pid 0 = free slot).
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK_SLOTS * std::mem::size_of::<(libc::pid_t, usize)>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        Stacks {
            // SAFETY: pidfd_open of our own pid.
            zygote_fd: unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) as RawFd },
            slots: if p == libc::MAP_FAILED {
                std::ptr::null_mut()
            } else {
                p.cast()
            },
        }
    }

    /// Slots where `pid` may be: open addressing from its hash, a bounded run.
    fn probe(pid: libc::pid_t) -> impl Iterator<Item = usize> {
        (0..256).map(move |k| (pid as usize).wrapping_mul(2654435761).wrapping_add(k) % STACK_SLOTS)
    }

    fn remember(&self, pid: libc::pid_t, stack: *mut libc::c_void) {
        if self.slots.is_null() {
            return;
        }
        for i in Self::probe(pid) {
            // SAFETY: i is within the mapping.
            let slot = unsafe { &mut *self.slots.add(i) };
            if slot.0 == 0 {
                *slot = (pid, stack as usize);
                return;
            }
        }
    }

    /// Reaps every pause process that has exited and unmaps its stack.
    fn reap(&self) {
        loop {
            // SAFETY: waitpid for any child, without blocking.
            let pid = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG | libc::__WALL) };
            if pid <= 0 {
                return;
            }
            if self.slots.is_null() {
                continue;
            }
            for i in Self::probe(pid) {
                // SAFETY: i is within the mapping; the stack belonged to the reaped process.
                unsafe {
                    let slot = &mut *self.slots.add(i);
                    if slot.0 == pid {
                        libc::munmap(slot.1 as *mut libc::c_void, PAUSE_STACK);
                        *slot = (0, 0);
                        break;
                    }
                }
            }
        }
    }
}

/// A pause process: make the namespaces, report, hold them until killed.
extern "C" fn pause_process(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: (whole body) async-signal-safe syscalls on our own descriptors and stack; `arg`
    // points at the `PauseArgs` on our own stack.
    unsafe {
        let a = &*(arg as *const PauseArgs);
        // The zygote blocks SIGCHLD; a pause process takes every signal.
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        let pid1 = a.flags & libc::CLONE_NEWPID != 0;
        // PID 1 of a new PID namespace sees no parent (getppid is 0): it asks the zygote's pidfd.
        let mut zygote = libc::pollfd {
            fd: a.zygote_fd,
            events: libc::POLLIN,
            revents: 0,
        };
        if (!pid1 && libc::getppid() != a.zygote) || (pid1 && libc::poll(&mut zygote, 1, 0) != 0) {
            libc::_exit(1);
        }
        // As PID 1 of the pod's PID namespace it inherits every orphan there: reaped by the
        // kernel (SIGCHLD ignored), as Kubernetes' pause process reaps them.
        libc::signal(libc::SIGCHLD, if pid1 { libc::SIG_IGN } else { libc::SIG_DFL });
        // Named before it reports ready, so `ps` never shows a ready pause process as the zygote.
        libc::prctl(libc::PR_SET_NAME, c"podlab-pause".as_ptr());
        // Making a network namespace is a millisecond of kernel CPU time; a thousand pause
        // processes making theirs at once would leave podlab's own threads (which wire up the
        // pods whose namespaces are ready) 2 CPU shares in 1000. SCHED_IDLE lets them run
        // first; a pause process only waits for the CPU, and only while others want it.
        let idle = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_IDLE, &idle);
        let mut err: i32 = 0;
        if libc::unshare(a.flags & !IPV4_ONLY & !libc::CLONE_NEWPID) != 0
            || (a.flags & libc::CLONE_NEWUTS != 0 && libc::sethostname(a.hostname.as_ptr().cast(), a.hostname_len) != 0)
        {
            err = *libc::__errno_location();
        }
        if err == 0 && a.flags & IPV4_ONLY != 0 {
            ipv4_only();
        }
        libc::write(a.ready, (&err as *const i32).cast(), 4);
        if err != 0 {
            libc::_exit(1);
        }
        // Hold nothing: no sockets, no pipes, no terminal.
        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
        loop {
            libc::pause();
        }
    }
}

/// Request flag (a bit `unshare` never takes): make the new namespace IPv4-only for every
/// interface created in it later (see [`ipv4_only`]).
pub const IPV4_ONLY: libc::c_int = 0x1;

/// The cluster network is IPv4 single-stack: interfaces made in this namespace from now on
/// (a node's `eth0`, `cni0` and veths; pods' `eth0` get `addrgenmode none` through netlink
/// instead, see netplugin) get no IPv6, as Docker does on IPv4-only
/// networks; `lo`, made with the namespace, keeps `::1`. Without this every new interface
/// runs IPv6 duplicate-address detection, router solicitation and MLD reports, flooded by
/// each node bridge to every pod on it (a third of a 1000-pod bring-up). No-op without IPv6.
///
/// # Safety
/// Async-signal-safe; call in the new namespace.
unsafe fn ipv4_only() {
    // SAFETY: open/write/close of a file we name, from a static C string.
    unsafe {
        let fd = libc::open(
            c"/proc/sys/net/ipv6/conf/default/disable_ipv6".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd >= 0 {
            libc::write(fd, c"1".as_ptr().cast(), 1);
            libc::close(fd);
        }
    }
}
