//! One reaper for every process the spawner starts, so a running container holds no
//! descriptor of podlab's (a pidfd each met `RLIMIT_NOFILE` at 10,000 containers).
//!
//! podlab is the parent of every container, so one `SIGCHLD` handler (it only wakes the reaper
//! thread, through an eventfd) tells of every exit. The thread reaps only children the
//! spawner registered, by pid: children of `std::process::Command` (reaped by their own
//! handles) are never touched. It looks at the first exited child without reaping it
//! (`waitid(P_ALL, WNOWAIT)`), reaps it if it is registered, and otherwise asks each
//! registered child in turn (`waitid(P_PID, WNOHANG)`), as someone else's zombie hides the
//! ones behind it. A child is reaped under its [`Child`]'s lock, which is also held to signal
//! it, so a signal by pid never reaches a recycled pid: the pid stays the child's until that
//! reap. One that exits before the spawner has registered it stays a zombie until it is
//! (the spawner registers it as soon as `clone` returns, and wakes the reaper).

use crate::lock_unpoisoned;
use crate::process::Exit;
use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};

/// The eventfd the signal handler writes to.
static WAKE: AtomicI32 = AtomicI32::new(-1);

/// Children started and not yet reaped, by pid.
struct Registry {
    children: Mutex<HashMap<i32, Arc<Slot>>>,
}

fn registry() -> &'static Registry {
    static R: OnceLock<Registry> = OnceLock::new();
    R.get_or_init(|| Registry {
        children: Mutex::new(HashMap::new()),
    })
}

/// One child's end, once reaped.
struct Slot {
    pid: i32,
    exit: Mutex<Option<Exit>>,
    done: Condvar,
    notify: tokio::sync::Notify,
}

impl Slot {
    fn exited(&self) -> Option<Exit> {
        *lock_unpoisoned(&self.exit)
    }

    /// Sends `sig` unless the child has been reaped (its pid may then be another process's).
    fn signal(&self, sig: i32) {
        let exit = lock_unpoisoned(&self.exit);
        if exit.is_none() {
            // SAFETY: kill(2) on our own unreaped child: the pid is still that child's.
            unsafe { libc::kill(self.pid, sig) };
        }
    }

    fn wait_blocking(&self) -> Exit {
        let mut exit = lock_unpoisoned(&self.exit);
        loop {
            if let Some(e) = *exit {
                return e;
            }
            exit = self.done.wait(exit).unwrap_or_else(|p| p.into_inner());
        }
    }

    async fn wait(&self) -> Exit {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(e) = self.exited() {
                return e;
            }
            notified.await;
        }
    }
}

/// A process the spawner started (podlab's child), waited for by the reaper.
pub struct Child {
    slot: Arc<Slot>,
}

impl Child {
    /// Its pid (as podlab sees it); the process's own until it is reaped.
    pub fn pid(&self) -> i32 {
        self.slot.pid
    }

    /// Sends `sig` to it, unless it has already been reaped.
    pub fn signal(&self, sig: i32) {
        self.slot.signal(sig);
    }

    /// True once it has exited and been reaped.
    pub fn has_exited(&self) -> bool {
        self.slot.exited().is_some()
    }

    /// Waits until it has exited.
    pub async fn wait(self) -> io::Result<Exit> {
        Ok(self.slot.wait().await)
    }

    /// Blocks until it has exited.
    pub fn wait_blocking(&self) -> Exit {
        self.slot.wait_blocking()
    }

    /// SIGKILL, then block until it has been reaped.
    pub fn kill_and_reap(self) -> Exit {
        self.signal(libc::SIGKILL);
        self.wait_blocking()
    }

    /// A second handle that can signal it while another task awaits `wait`.
    pub fn signaler(&self) -> crate::process::Signaler {
        crate::process::Signaler::child(self.clone_handle())
    }

    pub(crate) fn clone_handle(&self) -> Child {
        Child {
            slot: self.slot.clone(),
        }
    }
}

/// Records child `pid`, just cloned, for the reaper.
pub(crate) fn register(pid: i32) -> Child {
    let slot = Arc::new(Slot {
        pid,
        exit: Mutex::new(None),
        done: Condvar::new(),
        notify: tokio::sync::Notify::new(),
    });
    lock_unpoisoned(&registry().children).insert(pid, slot.clone());
    // It may have exited already, unseen (hidden as someone else's): then look again. Only
    // then: each look scans all of podlab's children (`waitid(P_ALL)`), and waking it for
    // every container started made 10,000 starts quadratic (3% of the machine's CPU).
    if has_exited(pid) {
        wake();
    }
    Child { slot }
}

/// Whether child `pid` has exited (it is left a zombie; one child looked at, not all).
fn has_exited(pid: i32) -> bool {
    wait_one(pid, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT).is_some()
}

extern "C" fn on_exit_signal(_: libc::c_int) {
    wake();
}

/// Wakes the reaper thread (async-signal-safe).
fn wake() {
    let fd = WAKE.load(Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: async-signal-safe calls only; errno is put back for the interrupted code.
        unsafe {
            let errno = *libc::__errno_location();
            let one: u64 = 1;
            libc::write(fd, (&one as *const u64).cast(), 8);
            *libc::__errno_location() = errno;
        }
    }
}

/// Starts the reaper (once per process): call before cloning a child to register.
pub(crate) fn install() -> io::Result<()> {
    static STARTED: OnceLock<Result<(), String>> = OnceLock::new();
    STARTED
        .get_or_init(|| start().map_err(|e| e.to_string()))
        .clone()
        .map_err(|e| io::Error::other(format!("starting podlab's process reaper: {e}")))
}

fn start() -> io::Result<()> {
    // SAFETY: eventfd returns a new descriptor or -1.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    WAKE.store(fd, Ordering::SeqCst);
    // SAFETY: installing a handler that makes only async-signal-safe calls.
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_exit_signal as extern "C" fn(libc::c_int) as usize;
        act.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
        libc::sigemptyset(&mut act.sa_mask);
        if libc::sigaction(libc::SIGCHLD, &act, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    std::thread::Builder::new()
        .name("podlab-reaper".into())
        .spawn(move || {
            loop {
                reap_exited();
                let mut n: u64 = 0;
                // SAFETY: reading 8 bytes into a u64 from our eventfd (EINTR just loops).
                unsafe { libc::read(fd, (&mut n as *mut u64).cast(), 8) };
            }
        })?;
    Ok(())
}

/// Reaps every registered child that has exited, handing each its end. The first exited
/// child is looked at without reaping it (`WNOWAIT`): one of ours is reaped at once; anyone
/// else's (a `Command`'s, whose handle reaps it, or one just cloned and not yet registered)
/// would hide the others, so then each registered child is asked in turn.
fn reap_exited() {
    loop {
        // SAFETY: an all-zero siginfo_t is valid; waitid fills it (si_pid 0: none exited).
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        // SAFETY: waitid into a valid siginfo_t; WNOWAIT leaves the child a zombie.
        if unsafe { libc::waitid(libc::P_ALL, 0, &mut info, flags) } != 0 {
            if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return; // ECHILD: no child at all.
        }
        // SAFETY: waitid filled in a SIGCHLD-style siginfo.
        let pid = unsafe { info.si_pid() };
        if pid == 0 {
            return;
        }
        let Some(slot) = lock_unpoisoned(&registry().children).get(&pid).cloned() else {
            ask_each();
            return;
        };
        finish(&slot, true);
    }
}

/// Reaps whichever registered children have exited, asking each.
fn ask_each() {
    let slots: Vec<Arc<Slot>> = lock_unpoisoned(&registry().children).values().cloned().collect();
    for slot in slots {
        finish(&slot, false);
    }
}

/// Reaps `slot`'s child if it has exited (`exited`: it is known to have) and hands it its end.
fn finish(slot: &Slot, exited: bool) {
    let mut exit = lock_unpoisoned(&slot.exit);
    if exit.is_some() {
        return;
    }
    let Some(info) = reap(slot.pid, exited) else {
        return;
    };
    // SAFETY: waitid filled in a SIGCHLD-style siginfo.
    let status = unsafe { info.si_status() };
    *exit = Some(if info.si_code == libc::CLD_EXITED {
        Exit::Code(status)
    } else {
        Exit::Signal(status)
    });
    lock_unpoisoned(&registry().children).remove(&slot.pid);
    drop(exit);
    slot.done.notify_all();
    slot.notify.notify_waiters();
}

/// Reaps child `pid` if it has exited (it is known to have: `exited`), returning its siginfo.
fn reap(pid: i32, exited: bool) -> Option<libc::siginfo_t> {
    let flags = if exited {
        libc::WEXITED
    } else {
        libc::WEXITED | libc::WNOHANG
    };
    wait_one(pid, flags)
}

/// `waitid(P_PID, pid, flags)` (retried on EINTR): its siginfo if `pid` was reported.
fn wait_one(pid: i32, flags: libc::c_int) -> Option<libc::siginfo_t> {
    loop {
        // SAFETY: an all-zero siginfo_t is valid; waitid fills it for the one child.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waitid into a valid siginfo_t.
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
        if r != 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        // SAFETY: waitid filled in a SIGCHLD-style siginfo (si_pid 0: still running).
        return (r == 0 && unsafe { info.si_pid() } == pid).then_some(info);
    }
}
