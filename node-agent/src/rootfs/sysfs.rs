//! A fresh sysfs superblock made and dropped, attached to no mount table: the kernel work of
//! a container's `/sys` mount (its `get_tree`), for the benchmarks that measure it.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Make a sysfs superblock for the calling thread's network namespace with the new mount API
/// (`fsopen("sysfs")`, `FSCONFIG_CMD_CREATE`: the same `get_tree` a `mount -t sysfs` runs)
/// and drop it (closing the context destroys it). Needs CAP_SYS_ADMIN over the thread's mount
/// namespace; attaches nothing anywhere.
pub fn make_and_drop_sysfs() -> std::io::Result<()> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    // SAFETY: the new mount API's calls on a constant C string and a descriptor owned here.
    unsafe {
        let r = libc::syscall(libc::SYS_fsopen, c"sysfs".as_ptr(), FSOPEN_CLOEXEC);
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let context = OwnedFd::from_raw_fd(r as libc::c_int);
        let null = std::ptr::null::<libc::c_char>();
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
    }
    Ok(())
}
