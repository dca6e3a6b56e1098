//! The mount namespace every container is started from, so a container's root can be switched
//! without `pivot_root`.
//!
//! `pivot_root` visits every task on the machine (`chroot_fs_refs`, to move the roots and
//! working directories of processes that used the old root): with 10,000 pods (a pause process
//! and a container each) that walk was 15% of the machine's CPU and made each container start
//! cost more than the one before. So a container's root is instead moved over the root of its
//! mount namespace (`MS_MOVE`, then `chroot` into it, as `switch_root` does), and what lies
//! beneath must hold nothing: the namespace the spawner threads clone containers from has as
//! its root mount a small read-only tmpfs (this file makes it, once per thread, with the one
//! `pivot_root` of the thread's life), and the machine's tree (a recursive bind of podlab's
//! `/`) mounted at `/machine` in it, which the thread uses as its root. A container's mount
//! namespace is a copy of that one: it builds its root from the machine's tree as before, moves
//! it onto the tmpfs's root (the thread's working directory, so the child's too), detaches its
//! copy of the machine's tree, and enters the moved root. A process that escapes the
//! container's root (`chroot` tricks) climbs to the empty read-only tmpfs, where the kernel
//! steps back down into what is mounted on top: the container's root again. `setns` into the
//! container's mount namespace (`kubectl exec`, `nsenter -m`) lands in the container's root
//! the same way; `/proc/mounts` in the container lists its own mounts.

use std::cell::RefCell;
use std::ffi::CStr;
use std::io;

thread_local! {
    /// Why this thread could not enter the namespace ([`enter`]), if it could not.
    static FAILED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// `open_tree(2)`: a detached copy of the tree (`OPEN_TREE_CLONE`).
const OPEN_TREE_CLONE: libc::c_uint = 1;
/// `move_mount(2)`: the source is the descriptor itself.
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

/// Where the machine's tree is mounted in the namespace (the spawner threads' root).
const MACHINE: &CStr = c"/machine";

fn check(step: &str, r: libc::c_long) -> io::Result<()> {
    if r == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{step}: {e}")))
    }
}

/// Moves the calling thread (a spawner thread, which never goes back) into a mount namespace of
/// its own laid out as the module doc says: its root the machine's tree, its working directory
/// the namespace's root. Remembers a failure for [`ready`].
pub(crate) fn enter() {
    if let Err(e) = make() {
        FAILED.with(|f| *f.borrow_mut() = Some(e.to_string()));
    }
}

/// Ok if this thread is in the containers' mount namespace; the reason it is not otherwise.
pub(crate) fn ready() -> io::Result<()> {
    match FAILED.with(|f| f.borrow().clone()) {
        None => Ok(()),
        Some(why) => Err(io::Error::other(format!(
            "podlab could not prepare the mount namespace containers start from: {why}"
        ))),
    }
}

fn make() -> io::Result<()> {
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: system calls on constant C strings and descriptors this function owns; they change
    // only this thread's own mount namespace (new, private) and root.
    unsafe {
        check("unshare(CLONE_NEWNS)", libc::unshare(libc::CLONE_NEWNS) as libc::c_long)?;
        check(
            "make / private",
            libc::mount(
                null,
                c"/".as_ptr(),
                null,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) as libc::c_long,
        )?;
        // The machine's tree, taken before anything is mounted in this namespace.
        let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_RECURSIVE as libc::c_uint;
        let tree = libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c"/".as_ptr(), flags) as libc::c_int;
        if tree < 0 {
            return check("open_tree(/)", -1);
        }
        let made = lay_out(tree);
        libc::close(tree);
        made
    }
}

/// The tmpfs (mounted over `/tmp` of this namespace while it is laid out), the machine's tree
/// `tree` at its `machine/`, then the tmpfs made the root and read-only, the thread's root the
/// machine's tree.
///
/// # Safety
/// On the thread that has just unshared its mount namespace; `tree` a detached mount tree.
unsafe fn lay_out(tree: libc::c_int) -> io::Result<()> {
    let null = std::ptr::null::<libc::c_char>();
    let quiet = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    // SAFETY: as in `make`.
    unsafe {
        check(
            "mount a tmpfs",
            libc::mount(
                c"tmpfs".as_ptr(),
                c"/tmp".as_ptr(),
                c"tmpfs".as_ptr(),
                quiet,
                c"mode=0755,size=16k".as_ptr().cast(),
            ) as libc::c_long,
        )?;
        for dir in [c"/tmp/machine", c"/tmp/old"] {
            check("mkdir", libc::mkdir(dir.as_ptr(), 0o755) as libc::c_long)?;
        }
        check(
            "attach the machine's tree",
            libc::syscall(
                libc::SYS_move_mount,
                tree,
                c"".as_ptr(),
                libc::AT_FDCWD,
                c"/tmp/machine".as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            ),
        )?;
        check("chdir", libc::chdir(c"/tmp".as_ptr()) as libc::c_long)?;
        check(
            "pivot_root",
            libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c"old".as_ptr()),
        )?;
        check(
            "detach the old root",
            libc::umount2(c"/old".as_ptr(), libc::MNT_DETACH) as libc::c_long,
        )?;
        check(
            "make the tmpfs read-only",
            libc::mount(
                null,
                c"/".as_ptr(),
                null,
                libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | quiet,
                std::ptr::null(),
            ) as libc::c_long,
        )?;
        // The working directory stays the tmpfs's root: containers' roots are moved onto it.
        check(
            "chroot into the machine's tree",
            libc::chroot(MACHINE.as_ptr()) as libc::c_long,
        )
    }
}
