//! The new mount API's first half: a filesystem made with `fsopen` and `fsconfig` (its
//! superblock created, `FSCONFIG_CMD_CREATE`), attached to nothing. The scratch tmpfs mounts
//! one with `fsmount` (see [`super::scratch`]); the benchmarks make and drop a sysfs to measure
//! what a container's `/sys` costs the kernel ([`make_and_drop_sysfs`]).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A descriptor from a syscall's return value, or the error it set.
pub(super) fn owned_fd(r: libc::c_long) -> std::io::Result<OwnedFd> {
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        // SAFETY: a fresh descriptor from the kernel, owned by nothing else.
        Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) })
    }
}

/// A created filesystem context of type `fs_type` with the string options `options`: its
/// superblock exists (the same `get_tree` a `mount(2)` runs); closing the descriptor drops it,
/// `fsmount` turns it into a mount attached nowhere.
pub(super) fn created(fs_type: &CStr, options: &[(&CStr, &CStr)]) -> std::io::Result<OwnedFd> {
    const FSOPEN_CLOEXEC: libc::c_uint = 1;
    const FSCONFIG_SET_STRING: libc::c_uint = 1;
    const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
    // SAFETY: the new mount API's calls on C strings and a descriptor owned here.
    unsafe {
        let context = owned_fd(libc::syscall(libc::SYS_fsopen, fs_type.as_ptr(), FSOPEN_CLOEXEC))?;
        let fsconfig = |cmd: libc::c_uint, key: *const libc::c_char, value: *const libc::c_char| {
            if libc::syscall(libc::SYS_fsconfig, context.as_raw_fd(), cmd, key, value, 0) < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(())
            }
        };
        for (key, value) in options {
            fsconfig(FSCONFIG_SET_STRING, key.as_ptr(), value.as_ptr())?;
        }
        fsconfig(FSCONFIG_CMD_CREATE, std::ptr::null(), std::ptr::null())?;
        Ok(context)
    }
}

/// Make a sysfs superblock for the calling thread's network namespace and drop it: the kernel
/// work of a container's `/sys` mount. Needs CAP_SYS_ADMIN over the thread's mount namespace;
/// attaches nothing anywhere.
pub fn make_and_drop_sysfs() -> std::io::Result<()> {
    created(c"sysfs", &[]).map(drop)
}
