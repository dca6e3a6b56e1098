//! A tmpfs attached to no mount table, for the pods' scratch directories (the control plane's
//! runtime directory links `pods/` to it; why, in its `rundir` module). Bind mounts may be made
//! from it into containers' namespaces (recent kernels allow a detached mount as a bind source;
//! [`detached_tmpfs`] tries it once and refuses the tmpfs where the kernel does not), but not
//! onto it, so containers mount their layers elsewhere.

use std::os::fd::{AsRawFd, OwnedFd};

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
    const FSMOUNT_CLOEXEC: libc::c_uint = 1;
    const MOUNT_ATTR_NOSUID: libc::c_uint = 0x2;
    const MOUNT_ATTR_NODEV: libc::c_uint = 0x4;
    let context = super::fs_context::created(c"tmpfs", &[(c"mode", c"0700"), (c"source", c"podlab")])?;
    // SAFETY: fsmount on a descriptor owned here.
    super::fs_context::owned_fd(unsafe {
        libc::syscall(
            libc::SYS_fsmount,
            context.as_raw_fd(),
            FSMOUNT_CLOEXEC,
            MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
        )
    })
}
