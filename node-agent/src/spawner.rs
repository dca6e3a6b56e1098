//! The long-lived threads that start every container; the first owns the sandbox zygote.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked a child exits, not the process, so all
//! containers are started from these threads, and the zygote (which forks every pause process, see
//! [`crate::zygote`]) is forked from the first; they live as long as the cluster. One thread per
//! CPU (up to four) takes turns at the queue of containers to start; one more starts only the
//! processes that join an existing PID namespace (containers of a pod with
//! `shareProcessNamespace`, `exec` into a container): `setns(CLONE_NEWPID)` moves the PID
//! namespace of a thread's future children for good where podlab runs rootless (going back to
//! the machine's PID namespace needs a privilege a user namespace lacks), and a thread so moved
//! can no longer make children in PID namespaces of their own. If podlab dies
//! (even by `kill -9`), the kernel kills every pause process and container, and with the last
//! process of a namespace gone the namespace, its veths and addresses go too.
//!
//! Every process started here is registered with [`crate::reaper`] as soon as it is cloned
//! and reaped there, so a running container holds none of podlab's descriptors.
//!
//! Containers are started the way `posix_spawn` does it: `clone(CLONE_VM | CLONE_VFORK)` runs the
//! child on a small stack in podlab's own memory until it calls `execve`, so nothing of podlab's
//! (possibly large) address space is copied, whatever its size.
//!
//! Nor is its descriptor table: a 1000-pod cluster holds ~7000 descriptors, and copying them into
//! every child only for `execve` to close them again cost ~2 ms per container. The child shares
//! the table (`CLONE_FILES`), joins the pod's namespaces through it, then takes an empty private
//! table (`close_range(0, ~0, CLOSE_RANGE_UNSHARE)`) and opens its stdin, stdout and stderr anew
//! (`/dev/null`, and the log files through `/proc/<pid>/task/<tid>/fd/<n>`). Kernels before 5.9,
//! and stdio that cannot safely be reopened by path (a socket, a pipe, a file not opened for
//! appending), take the old way: a private copy of the whole table, then `dup2`.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use crate::reaper::Child;
use crate::rootfs::{MountPlan, RootFs};
use crate::zygote::{Forked, Zygote};

type Job = Box<dyn FnOnce() + Send>;

/// Handle to the spawner threads. Cheap to clone.
#[derive(Clone)]
pub struct Spawner {
    jobs: mpsc::Sender<Job>,
    /// The thread for processes that join an existing PID namespace.
    joining: mpsc::Sender<Job>,
    zygote: Arc<Mutex<io::Result<Zygote>>>,
    /// Containers being readied to start (their log and stdio descriptors open) at once.
    slots: Arc<tokio::sync::Semaphore>,
}

/// How many containers may hold their descriptors while they wait for the spawner thread.
/// Without a bound, 5000 pods queued 15,000 descriptors (a log and two stdio ends each) and
/// met the machine's `RLIMIT_NOFILE` of 20,000 before most had started.
const CONTAINER_SLOTS: usize = 64;

/// The most spawner threads starting containers side by side. Each blocks while its child
/// builds the container's root and `execve`s (`CLONE_VFORK`), work that grows with the number
/// of pods (see [`crate::rootfs`]): with one thread, a 10,000-pod bring-up left one of two CPUs
/// idle for most of its second half.
const MAX_SPAWNER_THREADS: usize = 4;

/// Which namespaces a new sandbox gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxKind {
    /// A worker node: new net + UTS namespaces.
    Node,
    /// A pod: new net + UTS + IPC namespaces (as Kubernetes' pause container holds).
    Pod,
    /// A pod with `shareProcessNamespace: true`: a pod's namespaces plus a PID namespace
    /// whose PID 1 is the pause process; its containers join it instead of getting their own.
    PodSharingPids,
}

/// What to start inside existing namespaces.
pub struct ProcessSpec {
    /// The program (looked up in `env`'s PATH when it has no slash).
    pub program: PathBuf,
    /// Its arguments (without argv\[0\]).
    pub args: Vec<String>,
    /// Its whole environment.
    pub env: Vec<(String, String)>,
    /// Namespaces to join first (fd, CLONE_NEW* flag), like `nsenter`. A PID namespace
    /// (`CLONE_NEWPID`) is the one the process starts in (its PID 1 must be alive); a mount
    /// namespace (`CLONE_NEWNS`) gives it that namespace's root (a container's filesystem).
    pub join: Vec<(RawFd, libc::c_int)>,
    /// Where its stdin comes from (`None`: `/dev/null`), e.g. a pipe from `kubectl exec -i`.
    pub stdin: Option<OwnedFd>,
    /// Where its stdout goes.
    pub stdout: OwnedFd,
    /// Where its stderr goes.
    pub stderr: OwnedFd,
    /// Its working directory.
    pub cwd: PathBuf,
}

impl ProcessSpec {
    fn joins_pid_ns(&self) -> bool {
        self.join.iter().any(|(_, f)| *f == libc::CLONE_NEWPID)
    }
}

impl Default for Spawner {
    fn default() -> Self {
        Self::new()
    }
}

impl Spawner {
    /// Start the spawner threads: one per CPU (at most [`MAX_SPAWNER_THREADS`]) taking turns at
    /// the container queue, the first forking the zygote beforehand; and the one for joining
    /// a PID namespace.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let (ztx, zrx) = mpsc::sync_channel(1);
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_SPAWNER_THREADS));
        for i in 0..threads {
            let rx = rx.clone();
            let ztx = (i == 0).then(|| ztx.clone());
            std::thread::Builder::new()
                .name("podlab-spawner".into())
                .spawn(move || {
                    if let Some(ztx) = ztx {
                        let _ = ztx.send(Zygote::start());
                    }
                    crate::rootfs::host::enter();
                    // One job at a time per thread; the queue is held only to take the next.
                    while let Some(job) = rx.lock().ok().and_then(|q| q.recv().ok()) {
                        job();
                    }
                })
                .expect("starting a thread");
        }
        drop(ztx);
        let (joining, jrx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("podlab-spawn-pid".into())
            .spawn(move || {
                crate::rootfs::host::enter();
                for job in jrx {
                    job();
                }
            })
            .expect("starting a thread");
        let zygote = zrx
            .recv()
            .unwrap_or_else(|_| Err(io::Error::other("podlab's spawner thread has stopped")));
        Spawner {
            jobs: tx,
            joining,
            zygote: Arc::new(Mutex::new(zygote)),
            slots: Arc::new(tokio::sync::Semaphore::new(CONTAINER_SLOTS)),
        }
    }

    /// Waits for a turn to ready a container (open its log and stdio); hold it until the
    /// container is spawned.
    pub async fn container_slot(&self) -> io::Result<tokio::sync::OwnedSemaphorePermit> {
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| io::Error::other("podlab's spawner is shutting down"))
    }

    /// Runs `job` on the spawner thread, or on the one for joining a PID namespace.
    fn send(&self, joins_pid_ns: bool, job: Job) -> io::Result<()> {
        let thread = if joins_pid_ns { &self.joining } else { &self.jobs };
        thread
            .send(job)
            .map_err(|_| io::Error::other("podlab's spawner thread has stopped"))
    }

    fn run<R: Send + 'static>(&self, joins_pid_ns: bool, f: impl FnOnce() -> R + Send + 'static) -> io::Result<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(
            joins_pid_ns,
            Box::new(move || {
                let _ = tx.send(f());
            }),
        )?;
        rx.recv()
            .map_err(|_| io::Error::other("podlab's spawner thread has stopped"))
    }

    /// Fork a pause process that makes fresh namespaces; `hostname` is set in its UTS namespace.
    /// Returns once it is forked: its `ready` descriptor tells when the namespaces exist.
    pub fn spawn_sandbox(&self, kind: SandboxKind, hostname: &str) -> io::Result<Forked> {
        let flags = match kind {
            // A node is made IPv4-only from inside (its handful of interfaces); a pod's only
            // interface is made IPv4-only by the network plugin, through netlink, which is
            // cheaper than a /proc/sys write in each of a thousand namespaces.
            SandboxKind::Node => libc::CLONE_NEWNET | libc::CLONE_NEWUTS | crate::zygote::IPV4_ONLY,
            SandboxKind::Pod => libc::CLONE_NEWNET | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC,
            SandboxKind::PodSharingPids => {
                libc::CLONE_NEWNET | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWPID
            }
        };
        let guard = self
            .zygote
            .lock()
            .map_err(|_| io::Error::other("podlab's sandbox zygote is unusable"))?;
        match &*guard {
            Ok(z) => z.fork_pause(flags, hostname),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("podlab's sandbox zygote did not start: {e}"),
            )),
        }
    }

    /// Start a process inside the namespaces named in `spec.join`.
    pub fn spawn_process(&self, spec: ProcessSpec) -> io::Result<Child> {
        self.run(spec.joins_pid_ns(), move || spawn_in_namespaces(spec, None))?
    }

    /// Like [`Spawner::spawn_process`], awaiting the spawner thread instead of blocking a
    /// runtime worker while other pods' containers are started ahead of this one.
    pub async fn spawn_process_async(&self, spec: ProcessSpec) -> io::Result<Child> {
        self.spawn_async(spec, None).await
    }

    /// Start a container: a process in the namespaces of `spec.join`, in a mount namespace of
    /// its own whose root is `rootfs` (see [`crate::rootfs`]), and in a PID namespace of its
    /// own unless `spec.join` names one (the pod's, with `shareProcessNamespace`).
    pub async fn spawn_container_async(&self, spec: ProcessSpec, rootfs: RootFs) -> io::Result<Child> {
        self.spawn_async(spec, Some(rootfs)).await
    }

    async fn spawn_async(&self, spec: ProcessSpec, rootfs: Option<RootFs>) -> io::Result<Child> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(
            spec.joins_pid_ns(),
            Box::new(move || {
                let _ = tx.send(spawn_in_namespaces(spec, rootfs.as_ref()));
            }),
        )?;
        rx.await
            .map_err(|_| io::Error::other("podlab's spawner thread has stopped"))?
    }
}

/// Everything the child needs, prepared before `clone`: the child shares podlab's memory
/// and must not allocate, lock or unwind.
struct ChildPlan {
    program: CString,
    argv: Vec<*const libc::c_char>,
    envp: Vec<*const libc::c_char>,
    cwd: CString,
    /// Namespaces joined first (all but mount and PID ones).
    join: Vec<(RawFd, libc::c_int)>,
    /// A mount namespace to join once stdio is in place, by a path to podlab's descriptor
    /// (the child's own table may be empty by then).
    mount_ns: Option<CString>,
    /// A root filesystem to build in the child's new mount namespace.
    rootfs: Option<MountPlan>,
    /// Run `program` from a descriptor opened before the switch of root (podlab's binary).
    program_outside: bool,
    /// A container's process or an `exec` into a container (it runs in a container's mount
    /// namespace): limited to the container capability set ([`crate::caps`]) before `execve`.
    contained: bool,
    /// (source, target) descriptor pairs for stdin, stdout and stderr.
    stdio: [(RawFd, RawFd); 3],
    /// The same three, to be opened by path (path, open flags) into an empty table, when they can be.
    reopen: Option<[(CString, libc::c_int); 3]>,
    /// A pidfd of podlab: readable once podlab is gone (the child's `getppid` says 0 when it
    /// starts in another PID namespace, so it cannot tell).
    parent: RawFd,
    mask: libc::sigset_t,
    /// errno of the step that failed in the child (0 = it reached `execve`).
    error: AtomicI32,
}

/// Finds `program` the way `execvp` would, on `PATH` from the child's environment.
fn resolve(program: &Path, env: &[(String, String)]) -> io::Result<PathBuf> {
    if program.as_os_str().as_bytes().contains(&b'/') {
        return Ok(program.to_path_buf());
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(program);
        let c = CString::new(candidate.as_os_str().as_bytes()).map_err(|_| io::Error::other("NUL in PATH"))?;
        // SAFETY: access(2) on a valid C string.
        if unsafe { libc::access(c.as_ptr(), libc::X_OK) } == 0 && candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{}: executable file not found in $PATH", program.display()),
    ))
}

fn cstring(s: &OsStr) -> io::Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "argument has a NUL byte"))
}

/// `/proc/<pid>/task/<tid>/fd/<fd>`: a path to this thread's descriptor `fd`, which the child
/// can open after it has given up podlab's descriptor table.
fn own_fd_path(fd: RawFd) -> io::Result<CString> {
    // SAFETY: getpid and gettid have no preconditions.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    cstring(OsStr::new(&format!("/proc/{pid}/task/{tid}/fd/{fd}")))
}

fn spawn_in_namespaces(spec: ProcessSpec, rootfs: Option<&RootFs>) -> io::Result<Child> {
    crate::reaper::install()?;
    let program = cstring(resolve(&spec.program, &spec.env)?.as_os_str())?;
    let args: Vec<CString> = std::iter::once(spec.program.as_os_str())
        .chain(spec.args.iter().map(OsStr::new))
        .map(cstring)
        .collect::<io::Result<_>>()?;
    let env: Vec<CString> = spec
        .env
        .iter()
        .map(|(k, v)| cstring(OsStr::new(&format!("{k}={v}"))))
        .collect::<io::Result<_>>()?;
    let null = OwnedFd::from(std::fs::File::open("/dev/null")?);
    let reopen = match (reopenable(&spec.stdout), reopenable(&spec.stderr)) {
        (Some(out), Some(err)) if spec.stdin.is_none() => Some([
            (c"/dev/null".to_owned(), libc::O_RDONLY),
            (own_fd_path(spec.stdout.as_raw_fd())?, out),
            (own_fd_path(spec.stderr.as_raw_fd())?, err),
        ]),
        _ => None,
    };
    let pid_ns = spec
        .join
        .iter()
        .find(|(_, f)| *f == libc::CLONE_NEWPID)
        .map(|(fd, _)| *fd);
    let mount_ns = match spec.join.iter().find(|(_, f)| *f == libc::CLONE_NEWNS) {
        Some((fd, _)) => Some(own_fd_path(*fd)?),
        None => None,
    };
    let contained = rootfs.is_some() || mount_ns.is_some();
    let parent = crate::process::pidfd_open(std::process::id() as i32)?;
    let mut plan = ChildPlan {
        argv: args
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect(),
        envp: env
            .iter()
            .map(|a| a.as_ptr())
            .chain(std::iter::once(std::ptr::null()))
            .collect(),
        program,
        cwd: cstring(spec.cwd.as_os_str())?,
        join: spec
            .join
            .iter()
            .copied()
            .filter(|(_, f)| *f != libc::CLONE_NEWPID && *f != libc::CLONE_NEWNS)
            .collect(),
        mount_ns,
        rootfs: rootfs.map(MountPlan::new).transpose()?,
        program_outside: rootfs.is_some_and(|r| r.program_outside),
        contained,
        stdio: [
            (spec.stdin.as_ref().map_or(null.as_raw_fd(), |f| f.as_raw_fd()), 0),
            (spec.stdout.as_raw_fd(), 1),
            (spec.stderr.as_raw_fd(), 2),
        ],
        reopen,
        parent: parent.as_raw_fd(),
        // SAFETY: an all-zero sigset_t is a valid value to be overwritten below.
        mask: unsafe { std::mem::zeroed() },
        error: AtomicI32::new(0),
    };
    let mut flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD;
    if plan.rootfs.is_some() {
        crate::rootfs::host::ready()?;
        // A container: its own mount namespace, and its own PID namespace unless it joins the pod's.
        flags |= libc::CLONE_NEWNS;
        if pid_ns.is_none() {
            flags |= libc::CLONE_NEWPID;
        }
    }
    if let Some(fd) = pid_ns {
        pid_ns_for_children(fd)?;
    }
    let mut stack = vec![0u8; 64 * 1024];
    // SAFETY: signals are blocked across clone so no handler runs on the child's stack in our
    // memory; CLONE_VFORK suspends this thread until the child has exec'd or exited, so `plan`
    // and `stack` outlive every use the child makes of them.
    let child = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut plan.mask);
        let top = stack.as_mut_ptr().add(stack.len() - 64);
        let top = top.sub(top as usize % 16);
        let pid = libc::clone(
            child_main,
            top.cast(),
            flags,
            (&plan as *const ChildPlan).cast_mut().cast(),
        );
        let err = io::Error::last_os_error();
        libc::pthread_sigmask(libc::SIG_SETMASK, &plan.mask, std::ptr::null_mut());
        if pid < 0 {
            if pid_ns.is_some() && err.raw_os_error() == Some(libc::ENOMEM) {
                return Err(io::Error::other(
                    "the container's PID namespace has no init process left",
                ));
            }
            return Err(err);
        }
        crate::reaper::register(pid)
    };
    drop(stack);
    let failed = plan.error.load(Ordering::SeqCst);
    if failed != 0 {
        child.wait_blocking();
        return Err(io::Error::from_raw_os_error(failed));
    }
    Ok(child)
}

/// Makes the calling thread's children from now on start in PID namespace `fd`. Only on the
/// thread for joining PID namespaces: it never goes back (see the module doc).
fn pid_ns_for_children(fd: RawFd) -> io::Result<()> {
    // SAFETY: setns on a descriptor that stays open for the call.
    if unsafe { libc::setns(fd, libc::CLONE_NEWPID) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The open flags that reopen `fd` by path as the same kind of stdio, or None if a reopened
/// copy would behave differently (a socket cannot be opened by path; a regular file not
/// opened for appending would start writing at offset 0; opening a pipe whose other end is
/// closed would block the child, and with it this thread, for ever).
fn reopenable(fd: &OwnedFd) -> Option<libc::c_int> {
    // SAFETY: fstat and fcntl on a descriptor we own, into a zeroed stat buffer.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd.as_raw_fd(), &mut st) != 0 {
            return None;
        }
        let flags = libc::fcntl(fd.as_raw_fd(), libc::F_GETFL);
        if flags < 0 {
            return None;
        }
        let keep = flags & (libc::O_ACCMODE | libc::O_APPEND);
        match st.st_mode & libc::S_IFMT {
            libc::S_IFREG if flags & libc::O_APPEND != 0 => Some(keep),
            libc::S_IFCHR => Some(keep),
            _ => None,
        }
    }
}

/// The container's first instructions, in podlab's memory, up to `execve`. The descriptor table
/// is podlab's own (`CLONE_FILES`) until the child takes a private one: nothing may be opened,
/// closed or duplicated before that.
extern "C" fn child_main(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildPlan` the suspended parent keeps alive; only raw syscalls.
    unsafe {
        let plan = &*(arg as *const ChildPlan);
        // podlab's signal handlers must not run here (nor in the program): back to the defaults,
        // and SIGPIPE too, which Rust programs ignore.
        for sig in 1..=64 {
            if sig == libc::SIGKILL || sig == libc::SIGSTOP {
                continue;
            }
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && ((old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN) || sig == libc::SIGPIPE)
            {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        libc::setpgid(0, 0);
        if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
            fail(plan);
        }
        let mut gone = libc::pollfd {
            fd: plan.parent,
            events: libc::POLLIN,
            revents: 0,
        };
        if libc::poll(&mut gone, 1, 0) != 0 {
            libc::_exit(127);
        }
        for &(fd, flag) in &plan.join {
            if libc::setns(fd, flag) != 0 {
                fail(plan);
            }
        }
        let private = take_private_stdio(plan);
        if let Some(path) = &plan.mount_ns {
            let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::setns(fd, libc::CLONE_NEWNS) != 0 {
                fail(plan);
            }
            libc::close(fd);
        }
        let exe = if plan.program_outside {
            let fd = libc::open(plan.program.as_ptr(), libc::O_PATH | libc::O_CLOEXEC);
            if fd < 0 {
                fail(plan);
            }
            fd
        } else {
            -1
        };
        if let Some(rootfs) = &plan.rootfs
            && rootfs.enter().is_err()
        {
            fail(plan);
        }
        if !private {
            // Descriptors some thread left inheritable must not reach the container either.
            let first = if exe >= 0 { exe.max(2) + 1 } else { 3 };
            libc::syscall(
                libc::SYS_close_range,
                first as libc::c_uint,
                libc::c_uint::MAX,
                0 as libc::c_uint,
            );
            if exe > 3 {
                libc::syscall(
                    libc::SYS_close_range,
                    3 as libc::c_uint,
                    (exe - 1) as libc::c_uint,
                    0 as libc::c_uint,
                );
            }
        }
        if libc::chdir(plan.cwd.as_ptr()) != 0 {
            fail(plan);
        }
        // Last: every step above may need a capability the container does not keep.
        if plan.contained && crate::caps::limit_to_default() != 0 {
            fail(plan);
        }
        // Like std's Command: the program starts with no signal blocked.
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::pthread_sigmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        if exe >= 0 {
            libc::syscall(
                libc::SYS_execveat,
                exe,
                c"".as_ptr(),
                plan.argv.as_ptr(),
                plan.envp.as_ptr(),
                libc::AT_EMPTY_PATH,
            );
        } else {
            libc::execve(plan.program.as_ptr(), plan.argv.as_ptr(), plan.envp.as_ptr());
        }
        fail(plan)
    }
}

/// Gives the child a descriptor table of its own holding just its stdio: an empty one with
/// stdio opened anew by path (true), or, on kernels before 5.9 and for stdio that cannot be
/// reopened, a private copy of podlab's with the stdio put in place (false: the rest is still
/// to be closed).
///
/// # Safety
/// Only in the child.
unsafe fn take_private_stdio(plan: &ChildPlan) -> bool {
    // SAFETY: raw descriptor syscalls in the child.
    unsafe {
        if let Some(reopen) = &plan.reopen {
            // An empty table of our own; on kernels before 5.9 this fails and nothing changed.
            let (first, last) = (0 as libc::c_uint, libc::c_uint::MAX);
            if libc::syscall(libc::SYS_close_range, first, last, libc::CLOSE_RANGE_UNSHARE) == 0 {
                for (want, (path, flags)) in reopen.iter().enumerate() {
                    if libc::open(path.as_ptr(), *flags) != want as libc::c_int {
                        fail(plan);
                    }
                }
                return true;
            }
        }
        // The old way: a private copy of the whole table, then the stdio into place.
        if libc::unshare(libc::CLONE_FILES) != 0 {
            fail(plan);
        }
        dup_stdio(plan);
        false
    }
}

/// Records the failing step's errno for the waiting parent and ends the child.
///
/// # Safety
/// Only in the child, which shares the parent's memory.
unsafe fn fail(plan: &ChildPlan) -> ! {
    // SAFETY: errno of this thread; the plan outlives the child (the parent is suspended).
    unsafe {
        let e = *libc::__errno_location();
        plan.error.store(if e == 0 { libc::EIO } else { e }, Ordering::SeqCst);
        libc::_exit(127)
    }
}

/// Puts stdin, stdout and stderr in place from the descriptors the parent prepared (the
/// child's table must be private by now).
///
/// # Safety
/// Only in the child, after it has a descriptor table of its own.
unsafe fn dup_stdio(plan: &ChildPlan) {
    // SAFETY: raw descriptor syscalls in the child on its own table.
    unsafe {
        for &(from, to) in &plan.stdio {
            let ok = if from == to {
                libc::fcntl(to, libc::F_SETFD, 0) == 0
            } else {
                libc::dup2(from, to) == to
            };
            if !ok {
                fail(plan);
            }
        }
    }
}
