//! A container's root as the child builds it: the plan's paths as C strings, made before
//! `clone` (the child may not allocate), and the raw system calls that build the view and
//! switch into it.

use super::{RootFs, Seed};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// [`Seed`] as C strings.
enum CSeed {
    Dir(CString, libc::mode_t, bool),
    Opaque(CString),
    Device(CString, libc::dev_t),
    Link(CString, CString),
    File(CString),
}

/// [`RootFs`] as C strings, made before `clone`: the child may not allocate.
pub(crate) struct MountPlan {
    layer: CString,
    seed: Vec<CSeed>,
    root: CString,
    root_is_dir: bool,
    overlays: Vec<(CString, CString)>,
    proc_: CString,
    /// The paths below `/proc` that reach the whole machine ([`PROC_READ_ONLY`]).
    proc_read_only: Vec<CString>,
    sys: CString,
    pts: CString,
    binds: Vec<CBind>,
}

/// A [`super::Bind`] as C strings, with the flags its read-only remount must keep.
struct CBind {
    from: CString,
    to: CString,
    recursive: bool,
    /// `MS_RDONLY` plus the source mount's flags a user namespace may not drop (nosuid, nodev,
    /// noexec, atime), or `None` for a writable bind.
    remount: Option<libc::c_ulong>,
}

/// The flags of the mount holding `path` that a remount must keep: in a user namespace the
/// kernel refuses to clear them (EPERM), as runc knows.
fn locked_flags(path: &Path) -> libc::c_ulong {
    use nix::sys::statvfs::FsFlags;
    let Ok(st) = nix::sys::statvfs::statvfs(path) else {
        return 0;
    };
    let f = st.flags();
    [
        (FsFlags::ST_NOSUID, libc::MS_NOSUID),
        (FsFlags::ST_NODEV, libc::MS_NODEV),
        (FsFlags::ST_NOEXEC, libc::MS_NOEXEC),
        (FsFlags::ST_NOATIME, libc::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, libc::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, libc::MS_RELATIME),
    ]
    .into_iter()
    .filter(|(st, _)| f.contains(*st))
    .fold(0, |acc, (_, ms)| acc | ms)
}

/// What below a container's `/proc` is the machine's, not the container's, and is bound
/// read-only over itself, as runc does (its `readonlyPaths`): the kernel's settings (`sys`:
/// only `net.*` there is the pod's own), the SysRq trigger (a write can reboot the machine), IRQ
/// affinities, bus and filesystem settings. Entries a kernel lacks are skipped.
const PROC_READ_ONLY: &[&str] = &["sys", "sysrq-trigger", "irq", "bus", "fs"];

fn c(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
}

impl MountPlan {
    pub(crate) fn new(fs: &RootFs) -> io::Result<MountPlan> {
        let inside = |p: &str| fs.root.join(p.trim_start_matches('/'));
        let seed = fs
            .seed
            .iter()
            .map(|s| {
                Ok(match s {
                    Seed::Dir(p, mode, may_exist) => CSeed::Dir(c(p)?, *mode as libc::mode_t, *may_exist),
                    Seed::Opaque(p) => CSeed::Opaque(c(p)?),
                    Seed::Device(p, major, minor) => CSeed::Device(c(p)?, libc::makedev(*major, *minor)),
                    Seed::Link(p, to) => CSeed::Link(c(p)?, c(Path::new(to))?),
                    Seed::File(p) => CSeed::File(c(p)?),
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(MountPlan {
            layer: c(&fs.layer)?,
            seed,
            root: c(&fs.root)?,
            root_is_dir: fs.root_is_dir,
            overlays: fs
                .overlays
                .iter()
                .map(|(at, opts)| {
                    Ok((
                        c(at)?,
                        CString::new(opts.as_bytes()).map_err(|_| io::Error::other("NUL in options"))?,
                    ))
                })
                .collect::<io::Result<_>>()?,
            proc_: c(&inside("/proc"))?,
            proc_read_only: PROC_READ_ONLY
                .iter()
                .map(|p| c(&inside("/proc").join(p)))
                .collect::<io::Result<_>>()?,
            sys: c(&inside("/sys"))?,
            pts: c(&inside("/dev/pts"))?,
            binds: fs
                .binds
                .iter()
                .map(|b| {
                    Ok(CBind {
                        from: c(&b.from)?,
                        to: c(&inside(&b.to.to_string_lossy()))?,
                        recursive: b.recursive,
                        remount: b.read_only.then(|| libc::MS_RDONLY | locked_flags(&b.from)),
                    })
                })
                .collect::<io::Result<_>>()?,
        })
    }

    /// Builds the container's root and moves into it. In the child only, in its new mount
    /// namespace (and, for `/proc`, already in its PID namespace). Err: errno is set.
    ///
    /// # Safety
    /// Raw system calls on the plan's strings, which the suspended parent keeps alive.
    pub(crate) unsafe fn enter(&self) -> Result<(), ()> {
        let null = std::ptr::null::<libc::c_char>();
        let ok = |r: libc::c_int| if r == 0 { Ok(()) } else { Err(()) };
        // SAFETY: mount(2), open(2), fchdir(2), chroot(2), umount2(2) on valid C strings.
        unsafe {
            // Nothing mounted from here on propagates to the machine's namespace (or back).
            ok(libc::mount(
                null,
                c"/".as_ptr(),
                null,
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            ok(libc::mount(
                c"tmpfs".as_ptr(),
                self.layer.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID,
                c"mode=0755".as_ptr().cast(),
            ))?;
            let umask = libc::umask(0);
            let seeded = self.seed_layer();
            libc::umask(umask);
            seeded?;
            if self.root_is_dir {
                // Only a mount can be moved onto the namespace's root.
                ok(libc::mount(
                    self.root.as_ptr(),
                    self.root.as_ptr(),
                    null,
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?;
            }
            for (at, options) in &self.overlays {
                ok(libc::mount(
                    c"overlay".as_ptr(),
                    at.as_ptr(),
                    c"overlay".as_ptr(),
                    0,
                    options.as_ptr().cast(),
                ))?;
            }
            let quiet = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            ok(libc::mount(
                c"proc".as_ptr(),
                self.proc_.as_ptr(),
                c"proc".as_ptr(),
                quiet,
                std::ptr::null(),
            ))?;
            for p in &self.proc_read_only {
                if libc::mount(p.as_ptr(), p.as_ptr(), null, libc::MS_BIND, std::ptr::null()) != 0 {
                    if *libc::__errno_location() == libc::ENOENT {
                        continue;
                    }
                    return Err(());
                }
                ok(libc::mount(
                    null,
                    p.as_ptr(),
                    null,
                    libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY | quiet,
                    std::ptr::null(),
                ))?;
            }
            ok(libc::mount(
                c"sysfs".as_ptr(),
                self.sys.as_ptr(),
                c"sysfs".as_ptr(),
                quiet | libc::MS_RDONLY,
                std::ptr::null(),
            ))?;
            ok(libc::mount(
                c"devpts".as_ptr(),
                self.pts.as_ptr(),
                c"devpts".as_ptr(),
                libc::MS_NOSUID | libc::MS_NOEXEC,
                c"newinstance,ptmxmode=0666,mode=0620".as_ptr().cast(),
            ))?;
            for b in &self.binds {
                let rec = if b.recursive { libc::MS_REC } else { 0 };
                ok(libc::mount(
                    b.from.as_ptr(),
                    b.to.as_ptr(),
                    null,
                    libc::MS_BIND | rec,
                    std::ptr::null(),
                ))?;
                if let Some(flags) = b.remount {
                    ok(libc::mount(
                        null,
                        b.to.as_ptr(),
                        null,
                        libc::MS_BIND | libc::MS_REMOUNT | flags,
                        std::ptr::null(),
                    ))?;
                }
            }
            // The root goes onto the namespace's root (our working directory, see
            // [`super::host`]); the machine's tree, still our root, is detached; then the
            // moved root becomes ours.
            let root = libc::open(self.root.as_ptr(), libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC);
            if root < 0 {
                return Err(());
            }
            ok(libc::mount(
                self.root.as_ptr(),
                c".".as_ptr(),
                null,
                libc::MS_MOVE,
                std::ptr::null(),
            ))?;
            ok(libc::umount2(c"/".as_ptr(), libc::MNT_DETACH))?;
            ok(libc::fchdir(root))?;
            ok(libc::chroot(c".".as_ptr()))?;
            libc::close(root);
            ok(libc::chdir(c"/".as_ptr()))
        }
    }

    /// Seeds the fresh layer (umask 0: the modes are the plan's).
    ///
    /// # Safety
    /// In the child only, on its own tmpfs.
    unsafe fn seed_layer(&self) -> Result<(), ()> {
        let ok = |r: libc::c_int| if r == 0 { Ok(()) } else { Err(()) };
        // SAFETY: mkdir, setxattr, mknod, symlink, open and close on valid C strings.
        unsafe {
            for step in &self.seed {
                match step {
                    CSeed::Dir(p, mode, may_exist) => {
                        if libc::mkdir(p.as_ptr(), *mode) != 0
                            && !(*may_exist && *libc::__errno_location() == libc::EEXIST)
                        {
                            return Err(());
                        }
                    }
                    CSeed::Opaque(p) => ok(libc::setxattr(
                        p.as_ptr(),
                        c"trusted.overlay.opaque".as_ptr(),
                        c"y".as_ptr().cast(),
                        1,
                        0,
                    ))?,
                    CSeed::Device(p, dev) => ok(libc::mknod(p.as_ptr(), libc::S_IFCHR | 0o666, *dev))?,
                    CSeed::Link(p, to) => ok(libc::symlink(to.as_ptr(), p.as_ptr()))?,
                    CSeed::File(p) => {
                        let fd = libc::open(p.as_ptr(), libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC, 0o644);
                        if fd < 0 {
                            return Err(());
                        }
                        libc::close(fd);
                    }
                }
            }
            Ok(())
        }
    }
}
