//! The one long-lived thread that forks every pause process and container.
//!
//! `PR_SET_PDEATHSIG` fires when the *thread* that forked a child exits, not the process, so all
//! children are forked from this thread, which lives as long as the cluster. If podlab dies (even
//! by `kill -9`), the kernel kills every pause process and container, and with the last process
//! of a namespace gone the namespace, its veths and addresses go too.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;

type Job = Box<dyn FnOnce() + Send>;

/// Handle to the spawner thread. Cheap to clone.
#[derive(Clone)]
pub struct Spawner {
    jobs: mpsc::Sender<Job>,
}

/// Which namespaces a new sandbox gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SandboxKind {
    /// A worker node: new net + UTS namespaces.
    Node,
    /// A pod: new net + UTS + IPC namespaces (as Kubernetes' pause container holds).
    Pod,
}

/// What to start inside existing namespaces.
pub struct ProcessSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Namespaces to join first (fd, CLONE_NEW* flag), like `nsenter`.
    pub join: Vec<(RawFd, libc::c_int)>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
    pub cwd: PathBuf,
}

impl Default for Spawner {
    fn default() -> Self {
        Self::new()
    }
}

impl Spawner {
    /// Start the spawner thread.
    pub fn new() -> Self {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("podlab-spawner".into())
            .spawn(move || {
                for job in rx {
                    job();
                }
            })
            .expect("starting a thread");
        Spawner { jobs: tx }
    }

    fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> io::Result<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(f());
            }))
            .map_err(|_| io::Error::other("podlab's spawner thread has stopped"))?;
        rx.recv()
            .map_err(|_| io::Error::other("podlab's spawner thread has stopped"))
    }

    /// Fork a pause process holding fresh namespaces; `hostname` is set in its UTS namespace.
    pub fn spawn_sandbox(&self, kind: SandboxKind, hostname: &str) -> io::Result<i32> {
        let host = CString::new(hostname).map_err(|_| io::Error::other("hostname has a NUL byte"))?;
        self.run(move || fork_pause(kind, &host))?
    }

    /// Start a process inside the namespaces named in `spec.join`. Returns its pid.
    pub fn spawn_process(&self, spec: ProcessSpec) -> io::Result<i32> {
        self.run(move || spawn_in_namespaces(spec))?
    }
}

fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(libc::EIO)
}

fn fork_pause(kind: SandboxKind, hostname: &CString) -> io::Result<i32> {
    let flags = match kind {
        SandboxKind::Node => libc::CLONE_NEWNET | libc::CLONE_NEWUTS,
        SandboxKind::Pod => libc::CLONE_NEWNET | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC,
    };
    let mut fds = [0 as RawFd; 2];
    // SAFETY: plain syscalls; the child only makes async-signal-safe calls before pausing forever.
    unsafe {
        if libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        let (rd, wr) = (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1]));
        let parent = libc::getpid();
        let pid = libc::fork();
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            libc::setpgid(0, 0);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            let mut err: i32 = 0;
            if libc::unshare(flags) != 0 || libc::sethostname(hostname.as_ptr(), hostname.as_bytes().len()) != 0 {
                err = errno();
            }
            libc::write(wr.as_raw_fd(), (&err as *const i32).cast(), 4);
            if err != 0 {
                libc::_exit(1);
            }
            libc::prctl(libc::PR_SET_NAME, c"podlab-pause".as_ptr());
            // Hold nothing of podlab's: no sockets, no pipes, no terminal.
            libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
            loop {
                libc::pause();
            }
        }
        drop(wr);
        let mut err: i32 = 0;
        let n = libc::read(rd.as_raw_fd(), (&mut err as *mut i32).cast(), 4);
        if n != 4 || err != 0 {
            libc::waitpid(pid, std::ptr::null_mut(), 0);
            let e = if n == 4 {
                io::Error::from_raw_os_error(err)
            } else {
                io::Error::other("sandbox process died while starting")
            };
            return Err(e);
        }
        Ok(pid)
    }
}

fn spawn_in_namespaces(spec: ProcessSpec) -> io::Result<i32> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(spec.stdout))
        .stderr(Stdio::from(spec.stderr));
    let join = spec.join.clone();
    // SAFETY: the closure runs between fork and exec and only makes async-signal-safe syscalls.
    unsafe {
        cmd.pre_exec(move || {
            libc::setpgid(0, 0);
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            for &(fd, flag) in &join {
                if libc::setns(fd, flag) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    // The child is reaped through its pidfd (see `process`), never through `Child::wait`.
    Ok(child.id() as i32)
}
