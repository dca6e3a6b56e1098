//! Rootless podlab: a user namespace of its own, where the caller's uid is root.
//!
//! An ordinary user runs podlab without `sudo`: before anything else, podlab moves into a new
//! user namespace that maps uid 0 inside to the caller's uid outside (and gid 0 to the caller's
//! gid; `setgroups` denied, as an unprivileged process must). Inside it podlab holds every
//! capability over the namespaces it makes from then on (the fabric, nodes, pods, container
//! mounts), and none over the machine's: its network, sysctls and files stay out of reach by
//! construction. The commands that join a running cluster (`exec`, `capture`, `port-forward`)
//! first join its daemon's user namespace (see [`join_of`]); the caller owns it, so the kernel
//! lets it in.
//!
//! Where the machine forbids unprivileged user namespaces, [`Blocked`] names the setting and
//! what to do about it.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;

/// The uid that uid 0 of this process's user namespace is, outside it: the caller's own uid in
/// a rootless podlab, else the effective uid (0 for `sudo podlab`).
pub fn outside_uid() -> u32 {
    mapped_root(&std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default())
        .unwrap_or_else(|| nix::unistd::geteuid().as_raw())
}

/// Whether this process runs rootless: in a user namespace whose root is an ordinary user.
pub fn rootless() -> bool {
    outside_uid() != 0
}

/// Outside uid of inside uid 0 in a `uid_map`, when it is not the machine's own root.
fn mapped_root(uid_map: &str) -> Option<u32> {
    uid_map.lines().find_map(|line| {
        let mut f = line.split_whitespace().map(|x| x.parse::<u64>().ok());
        match (f.next()??, f.next()??, f.next()??) {
            (0, outside, count) if count > 0 && outside != 0 => u32::try_from(outside).ok(),
            _ => None,
        }
    })
}

/// Why this machine does not let an ordinary user make a user namespace.
#[derive(Debug, thiserror::Error)]
#[error(
    "podlab runs without root inside a user namespace of its own, and this machine does not let an ordinary user make one: {why}\n\
     {fix}\n\
     Or run podlab as root (`sudo podlab ...`), or simulate the cluster with `--dataplane model`."
)]
pub struct Blocked {
    /// What blocks it (the setting and its value, or the refused call).
    pub why: String,
    /// How to allow it.
    pub fix: String,
}

fn read_setting(path: &str) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// Names the setting behind a refused `unshare(CLONE_NEWUSER)` or uid map.
fn diagnose(step: &str, err: nix::errno::Errno) -> Blocked {
    let limit = read_setting("/proc/sys/user/max_user_namespaces");
    let apparmor = read_setting("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
    let debian = read_setting("/proc/sys/kernel/unprivileged_userns_clone");
    if limit.as_deref() == Some("0") || (err == nix::errno::Errno::ENOSPC && limit.is_some()) {
        let value = limit.unwrap_or_default();
        return Blocked {
            why: format!("user.max_user_namespaces is {value} ({step}: {err})"),
            fix: "Allow them: `sudo sysctl -w user.max_user_namespaces=15000` (and put \
                  `user.max_user_namespaces = 15000` in /etc/sysctl.d/99-podlab.conf to keep it)."
                .into(),
        };
    }
    if debian.as_deref() == Some("0") {
        return Blocked {
            why: format!("kernel.unprivileged_userns_clone is 0 ({step}: {err})"),
            fix: "Allow them: `sudo sysctl -w kernel.unprivileged_userns_clone=1` (and in /etc/sysctl.d/ to keep it)."
                .into(),
        };
    }
    if apparmor.as_deref() == Some("1") {
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "/usr/local/bin/podlab".into());
        return Blocked {
            why: format!(
                "AppArmor restricts unprivileged user namespaces (kernel.apparmor_restrict_unprivileged_userns = 1; {step}: {err})"
            ),
            fix: format!(
                "Let podlab make them with an AppArmor profile, /etc/apparmor.d/podlab:\n\
                 \x20   abi <abi/4.0>,\n\
                 \x20   include <tunables/global>\n\
                 \x20   profile podlab {exe} flags=(unconfined) {{\n\
                 \x20     userns,\n\
                 \x20   }}\n\
                 then load it: `sudo apparmor_parser -r /etc/apparmor.d/podlab`."
            ),
        };
    }
    Blocked {
        why: format!("{step} was refused ({err}); inside a container, the container runtime's seccomp profile or missing capabilities forbid it"),
        fix: "Run podlab on the machine itself, or start the container with user namespaces allowed (e.g. docker's `--security-opt seccomp=unconfined`).".into(),
    }
}

/// Moves this process into a new user namespace where it is root (uid and gid 0 map to the
/// caller's). Call before any other thread exists: the kernel refuses a multi-threaded caller.
pub fn enter_own() -> Result<(), Blocked> {
    let (uid, gid) = (nix::unistd::geteuid(), nix::unistd::getegid());
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).map_err(|e| diagnose("unshare(CLONE_NEWUSER)", e))?;
    let write = |file: &str, text: String| {
        std::fs::write(format!("/proc/self/{file}"), text).map_err(|e| {
            let errno = nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EPERM));
            diagnose(&format!("writing /proc/self/{file}"), errno)
        })
    };
    write("setgroups", "deny".into())?;
    write("uid_map", format!("0 {uid} 1"))?;
    write("gid_map", format!("0 {gid} 1"))?;
    Ok(())
}

/// Checks, in a short-lived child, that [`enter_own`] and a network namespace inside it would
/// work here: a rootless command says what blocks it before it starts anything.
pub fn probe() -> Result<(), Blocked> {
    let failed = |why: String| Blocked {
        why,
        fix: String::new(),
    };
    let (mut reader, writer) = std::io::pipe().map_err(|e| failed(format!("no pipe for the probe: {e}")))?;
    // SAFETY: the child only makes system calls (unshare, write, _exit) and formats into fresh
    // Strings; podlab calls this before it starts any thread.
    match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(reader);
            let verdict = enter_own().and_then(|()| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| diagnose("unshare(CLONE_NEWNET) inside it", e))
            });
            if let Err(b) = verdict {
                let mut w = writer;
                let _ = io::Write::write_all(&mut w, format!("{}\x1f{}", b.why, b.fix).as_bytes());
            }
            // SAFETY: ends the child at once, running none of the parent's destructors.
            unsafe { libc::_exit(0) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(writer);
            let mut msg = String::new();
            let _ = io::Read::read_to_string(&mut reader, &mut msg);
            let _ = nix::sys::wait::waitpid(child, None);
            match msg.split_once('\x1f') {
                None if msg.is_empty() => Ok(()),
                None => Err(failed(msg)),
                Some((why, fix)) => Err(Blocked {
                    why: why.into(),
                    fix: fix.into(),
                }),
            }
        }
        Err(e) => Err(failed(format!("fork for the probe failed: {e}"))),
    }
}

/// Joins the user namespace of process `pid` (a running cluster's daemon or pause process)
/// when it is not this process's: afterwards this process may join that cluster's other
/// namespaces. Call before any other thread exists.
pub fn join_of(pid: i32) -> io::Result<()> {
    let path = format!("/proc/{pid}/ns/user");
    let theirs = std::fs::File::open(&path).map_err(|e| io::Error::new(e.kind(), format!("opening {path}: {e}")))?;
    let ours = std::fs::metadata("/proc/self/ns/user")?;
    let same = theirs
        .metadata()
        .is_ok_and(|m| m.ino() == ours.ino() && m.dev() == ours.dev());
    if same {
        return Ok(());
    }
    nix::sched::setns(theirs.as_fd(), nix::sched::CloneFlags::CLONE_NEWUSER)
        .map_err(|e| io::Error::other(format!("joining the cluster's user namespace ({path}): {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_map_is_not_rootless() {
        assert_eq!(mapped_root("         0          0 4294967295\n"), None);
    }

    #[test]
    fn a_mapped_user_is_the_outside_uid() {
        assert_eq!(mapped_root("         0       1000          1\n"), Some(1000));
        assert_eq!(mapped_root("      1000       1000          1\n"), None);
    }
}
