//! What a container's processes may do: the container runtime's default capability set.
//!
//! A container's processes, and every `exec` into a container, run as root, and where podlab runs
//! as root that root is the machine's: with all its capabilities a container could remount the
//! machine's directories it sees read-only as writable, load a kernel module, set the clock or
//! reboot. So, like containerd and Docker for a container that is not `privileged`, the last
//! step before `execve` limits the process (its bounding, permitted and effective sets; nothing
//! inheritable or ambient) to [`DEFAULT`]: containerd's default set without `CAP_MKNOD`, which
//! a runtime only grants because its device cgroup stops the devices so made from being
//! opened, and podlab has no device cgroup. A rootless cluster's containers get the same set
//! (there it is bounded again by podlab's user namespace), so `grep Cap /proc/self/status`
//! reads the same either way. Processes `exec`'d into a node are the operator's tools (`ip`,
//! `tcpdump` in the node's namespaces, as in a kind node) and keep podlab's own capabilities.

/// The capabilities a container keeps (numbers from `linux/capability.h`), by name.
pub const DEFAULT: &[(u32, &str)] = &[
    (0, "CAP_CHOWN"),
    (1, "CAP_DAC_OVERRIDE"),
    (3, "CAP_FOWNER"),
    (4, "CAP_FSETID"),
    (5, "CAP_KILL"),
    (6, "CAP_SETGID"),
    (7, "CAP_SETUID"),
    (8, "CAP_SETPCAP"),
    (10, "CAP_NET_BIND_SERVICE"),
    (13, "CAP_NET_RAW"),
    (18, "CAP_SYS_CHROOT"),
    (29, "CAP_AUDIT_WRITE"),
    (31, "CAP_SETFCAP"),
];

/// [`DEFAULT`] as a mask (bit N: capability N), as `/proc/<pid>/status` shows it (`CapBnd`).
pub const fn default_mask() -> u64 {
    let mut mask = 0u64;
    let mut i = 0;
    while i < DEFAULT.len() {
        mask |= 1 << DEFAULT[i].0;
        i += 1;
    }
    mask
}

/// The highest capability number any kernel may know; `PR_CAPBSET_DROP` says `EINVAL` past
/// the running kernel's last.
const LAST_POSSIBLE: u32 = 63;

/// Limits the calling process to [`DEFAULT`]. Returns -1 with `errno` set if a step failed.
///
/// # Safety
/// Only raw syscalls, no allocation: callable in a `clone(CLONE_VM)` child before `execve`.
pub unsafe fn limit_to_default() -> libc::c_int {
    let keep = default_mask();
    // SAFETY: prctl and capget/capset on stack buffers of the kernel's v3 layout.
    unsafe {
        for cap in 0..=LAST_POSSIBLE {
            if keep & (1 << cap) != 0 {
                continue;
            }
            if libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) != 0 {
                if *libc::__errno_location() == libc::EINVAL {
                    break; // past the kernel's last capability
                }
                return -1;
            }
        }
        if libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        ) != 0
            && *libc::__errno_location() != libc::EINVAL
        {
            return -1;
        }
        let mut header = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        if libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) != 0 {
            return -1;
        }
        for (i, d) in data.iter_mut().enumerate() {
            let k = (keep >> (32 * i)) as u32;
            d.effective &= k;
            d.permitted &= k;
            d.inheritable = 0;
        }
        if libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) != 0 {
            return -1;
        }
        0
    }
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_set_is_containerds_without_mknod() {
        // containerd's default (oci.defaultUnixCaps): 0x00000000a80425fb.
        assert_eq!(default_mask() | 1 << 27, 0xa80425fb);
        assert_eq!(default_mask() & 1 << 21, 0, "no CAP_SYS_ADMIN");
    }
}
