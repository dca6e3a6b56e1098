//! Test helpers: root detection, a private network namespace per test, and tiny pause
//! children that each hold a fresh network namespace (killed and reaped on drop).

#![allow(dead_code)]

use std::future::Future;

use podlab_netplugin::Netns;

/// True if the test may touch the kernel. Not root: says so loudly and returns false,
/// unless PODLAB_REQUIRE_ROOT=1, in which case the test fails.
pub fn root_or_skip(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("PODLAB_REQUIRE_ROOT").as_deref() == Ok("1") {
        panic!("{test}: needs root (PODLAB_REQUIRE_ROOT=1 forbids skipping)");
    }
    eprintln!("\n*** SKIPPING {test}: kernel dataplane tests need root ***\n");
    false
}

/// Runs `body` on a fresh thread that first moves into a private network namespace, with a
/// current-thread tokio runtime built there (so every netlink socket is private).
pub fn in_private_netns<F, Fut>(body: F)
where
    F: FnOnce(tokio::runtime::Handle) -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    let t = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let handle = rt.handle().clone();
        rt.block_on(body(handle));
    });
    if let Err(p) = t.join() {
        std::panic::resume_unwind(p);
    }
}

/// A forked child holding its own network namespace until dropped.
pub struct Pause {
    pub pid: libc::pid_t,
    pub netns: Netns,
}

impl Pause {
    /// Forks a child: PR_SET_PDEATHSIG(SIGKILL), unshare(CLONE_NEWNET), then pause() forever.
    pub fn spawn() -> Pause {
        let mut fds = [0i32; 2];
        // SAFETY: plain pipe/fork; the child only calls async-signal-safe functions.
        unsafe {
            assert_eq!(libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC), 0);
            let pid = libc::fork();
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                let ok: u8 = if libc::unshare(libc::CLONE_NEWNET) == 0 { 1 } else { 0 };
                libc::write(fds[1], (&ok as *const u8).cast(), 1);
                loop {
                    libc::pause();
                }
            }
            libc::close(fds[1]);
            let mut ok: u8 = 0;
            let n = libc::read(fds[0], (&mut ok as *mut u8).cast(), 1);
            libc::close(fds[0]);
            assert!(n == 1 && ok == 1, "pause child could not unshare its netns");
            let netns = Netns::from_pid(pid as u32).expect("open child netns");
            Pause { pid, netns }
        }
    }

    /// `n` pause children.
    pub fn many(n: usize) -> Vec<Pause> {
        (0..n).map(|_| Pause::spawn()).collect()
    }
}

impl Drop for Pause {
    fn drop(&mut self) {
        // SAFETY: we kill and reap only the child we forked, by pid.
        unsafe {
            libc::kill(self.pid, libc::SIGKILL);
            libc::waitpid(self.pid, std::ptr::null_mut(), 0);
        }
    }
}
