//! A tmpfs attached to no mount table, for the pods' scratch directories (the control plane's
//! runtime directory links `pods/` to it; why, in its `rundir` module). Bind mounts may be made
//! from it into containers' namespaces (recent kernels allow a detached mount as a bind source;
//! [`detached_tmpfs`] tries it once and refuses the tmpfs where the kernel does not), but not
//! onto it, so containers mount their layers elsewhere.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A tmpfs (mode 0700) attached to no mount table: `fsopen`, `fsconfig`, `fsmount`. It lives as
/// long as the returned descriptor and any mount made from it. Err where the kernel refuses
/// it, or refuses a bind mount from it (tried in a throw-away thread's own mount namespace).
pub fn detached_tmpfs() -> std::io::Result<OwnedFd> {
    let tmpfs = make()?;
    let source =
        std::ffi::CString::new(format!("/proc/self/fd/{}", tmpfs.as_raw_fd())).map_err(std::io::Error::other)?;
    std::thread::spawn(move || {
        // SAFETY: unshare and mount on this thread's own new, private mount namespace, which
        // goes with the thread; valid C strings.
        unsafe {
            let null = std::ptr::null::<libc::c_char>();
            let private = libc::MS_REC | libc::MS_PRIVATE;
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(null, c"/".as_ptr(), null, private, std::ptr::null()) != 0
                || libc::mount(source.as_ptr(), c"/".as_ptr(), null, libc::MS_BIND, std::ptr::null()) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        }
    })
    .join()
    .map_err(|_| std::io::Error::other("the bind-mount probe panicked"))??;
    Ok(tmpfs)
}

fn make() -> std::io::Result<OwnedFd> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
    const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
    let fd = |r: libc::c_long| {
        if r < 0 {
            Err(std::io::Error::last_os_error())
        } else {
            // SAFETY: a fresh descriptor from the kernel, owned by nothing else.
            Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) })
        }
    };
    // SAFETY: the new mount API's calls on constant C strings and descriptors owned here.
    unsafe {
        let context = fd(libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC))?;
        let null = std::ptr::null::<libc::c_char>();
        for (key, value) in [(c"mode", c"0700"), (c"source", c"podlab")] {
            if libc::syscall(
                libc::SYS_fsconfig,
                context.as_raw_fd(),
                FSCONFIG_SET_STRING,
                key.as_ptr(),
                value.as_ptr(),
                0,
            ) < 0
            {
                return Err(std::io::Error::last_os_error());
            }
        }
        if libc::syscall(
            libc::SYS_fsconfig,
            context.as_raw_fd(),
            FSCONFIG_CMD_CREATE,
            null,
            null,
            0,
        ) < 0
        {
            return Err(std::io::Error::last_os_error());
        }
        let quiet = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        fd(libc::syscall(
            libc::SYS_fsmount,
            context.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            quiet,
        ))
    }
}
