//! A container's filesystem: a copy-on-write view of its "image", as a container runtime
//! builds it from image layers.
//!
//! podlab has no image store: every image is the machine's own `/`, seen read-only. Each run
//! of a container gets an overlay whose lower layer is the machine's root filesystem and whose
//! upper layer (where everything the container writes lands) and work dir are the container's
//! own directory under podlab's runtime dir:
//!
//! ```text
//! /run/podlab/<cluster>/pods/<uid>/
//!     etc-hosts, etc-hostname   written once per pod (as the kubelet does), bind-mounted
//!     shm/                      the pod's /dev/shm, shared by its containers (one IPC namespace)
//!     containers/<name>/upper/  the container's writable layer (look at it from the machine)
//!     containers/<name>/work/   overlayfs' scratch
//!     containers/<name>/root/   where the overlay is mounted, in the container's namespace only
//! ```
//!
//! The upper layer lies below the lower one (both on `/`): Linux accepts that since 5.2 and
//! answers ELOOP for the upper dir itself when looked up through the overlay; inside the
//! container `/run` is an empty directory anyway. The upper layer is seeded before the mount:
//! `/tmp` and `/run` are opaque (empty, not the machine's), `/dev` is opaque with the basic
//! device nodes, and the container's `workingDir` exists. In the child, between `clone` and
//! `execve` (see [`crate::spawner`]), with raw system calls only: every mount made private,
//! the overlay, a fresh `/proc` (of the container's PID namespace), `/sys` read-only, a new
//! `devpts` instance, the pod's `/dev/shm`, `/etc/hosts` and `/etc/hostname` bound in, then
//! `pivot_root` and the old root detached. None of it reaches the machine's mount table, and
//! all of it goes when the container's last process exits; the directories go with the pod.

use k8s_openapi::api::core::v1::{Container, Pod};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What a container's root is made of, prepared outside the child.
#[derive(Debug, Clone)]
pub struct RootFs {
    /// Where the overlay is mounted (in the container's mount namespace only).
    pub(crate) root: PathBuf,
    /// The overlay's mount options (lower, upper and work dirs).
    pub(crate) overlay: String,
    /// (path on the machine, path inside the container) pairs bound over the image's.
    pub(crate) binds: Vec<(PathBuf, PathBuf)>,
    /// The program is podlab's own binary (a built-in image), which need not be visible in
    /// the container's view: it is opened before the switch and run from that descriptor.
    pub(crate) program_outside: bool,
}

/// The files a pod's containers share, in the pod's scratch directory.
fn pod_file(pod_dir: &Path, name: &str) -> PathBuf {
    pod_dir.join(name)
}

/// The pod's hostname, as its UTS namespace has it.
pub fn pod_hostname(pod: &Pod) -> String {
    pod.spec
        .as_ref()
        .and_then(|s| s.hostname.clone())
        .or_else(|| pod.metadata.name.clone())
        .unwrap_or_default()
}

/// `/etc/hosts` as the kubelet writes it for a pod with IP `pod_ip`.
pub fn hosts_file(pod: &Pod, pod_ip: &str) -> String {
    let mut s = String::from(
        "# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\nfe00::0\tip6-mcastprefix\nfe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n",
    );
    if !pod_ip.is_empty() {
        s.push_str(&format!("{pod_ip}\t{}\n", pod_hostname(pod)));
    }
    s
}

/// Writes the files the pod's containers share (`/etc/hosts`, `/etc/hostname`, `/dev/shm`)
/// into the pod's scratch directory `pod_dir`. Once per pod, before its first container.
pub fn prepare_pod(pod_dir: &Path, pod: &Pod, pod_ip: &str) -> io::Result<()> {
    // Not recursive: a cluster going away has removed its runtime directory, which must stay gone.
    match std::fs::DirBuilder::new().mode(0o700).create(pod_dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    std::fs::write(pod_file(pod_dir, "etc-hosts"), hosts_file(pod, pod_ip))?;
    std::fs::write(pod_file(pod_dir, "etc-hostname"), format!("{}\n", pod_hostname(pod)))?;
    let shm = pod_file(pod_dir, "shm");
    mkdir_mode(&shm, 0o1777)?;
    Ok(())
}

/// Makes `dir` (parents as needed) with exactly `mode` (the umask does not apply).
fn mkdir_mode(dir: &Path, mode: u32) -> io::Result<()> {
    match std::fs::DirBuilder::new().recursive(true).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// Marks `dir` in an upper layer opaque: the lower layer's directory of that name is hidden.
fn make_opaque(dir: &Path) -> io::Result<()> {
    let path = CString::new(dir.as_os_str().as_bytes()).map_err(|_| io::Error::other("NUL in path"))?;
    // SAFETY: setxattr on a valid C string path with a 1-byte value from a static string.
    let r = unsafe {
        libc::setxattr(
            path.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            c"y".as_ptr().cast(),
            1,
            0,
        )
    };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The device nodes a container's `/dev` has (name, major, minor), all mode 0666.
const DEVICES: &[(&str, u32, u32)] = &[
    ("null", 1, 3),
    ("zero", 1, 5),
    ("full", 1, 7),
    ("random", 1, 8),
    ("urandom", 1, 9),
    ("tty", 5, 0),
];

/// The symlinks of a container's `/dev`.
const DEV_LINKS: &[(&str, &str)] = &[
    ("fd", "/proc/self/fd"),
    ("stdin", "/proc/self/fd/0"),
    ("stdout", "/proc/self/fd/1"),
    ("stderr", "/proc/self/fd/2"),
    ("ptmx", "pts/ptmx"),
    ("core", "/proc/kcore"),
];

/// Seeds a fresh `/dev` in the upper layer (opaque: the machine's devices stay hidden).
fn seed_dev(upper: &Path) -> io::Result<()> {
    let dev = upper.join("dev");
    mkdir_mode(&dev, 0o755)?;
    make_opaque(&dev)?;
    for (name, major, minor) in DEVICES {
        let path = CString::new(dev.join(name).as_os_str().as_bytes()).map_err(|_| io::Error::other("NUL in path"))?;
        // SAFETY: mknod and chmod on a valid C string path.
        unsafe {
            if libc::mknod(path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(*major, *minor)) != 0 {
                return Err(io::Error::last_os_error());
            }
            libc::chmod(path.as_ptr(), 0o666);
        }
    }
    for (name, to) in DEV_LINKS {
        std::os::unix::fs::symlink(to, dev.join(name))?;
    }
    mkdir_mode(&dev.join("pts"), 0o755)?;
    mkdir_mode(&dev.join("shm"), 0o1777)?;
    Ok(())
}

/// Whether the machine's root has `path` (a bind target must exist in the view).
fn lower_has(path: &str) -> bool {
    Path::new(path).exists()
}

/// Prepares a fresh writable layer for one run of `spec` in the pod whose scratch directory
/// is `pod_dir` (a restarted container starts from its image again, as in Kubernetes), and
/// says how its root is put together. `program_outside`: the program is podlab's own binary.
pub fn prepare_container(pod_dir: &Path, spec: &Container, program_outside: bool) -> io::Result<RootFs> {
    if !pod_dir.is_dir() {
        // The pod's (or the cluster's) directory is gone: it is going away; re-create nothing.
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "{} is gone (the pod or its cluster is being deleted)",
                pod_dir.display()
            ),
        ));
    }
    let dir = pod_dir.join("containers").join(&spec.name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let (upper, work, root) = (dir.join("upper"), dir.join("work"), dir.join("root"));
    for d in [&upper, &work, &root] {
        std::fs::DirBuilder::new().recursive(true).mode(0o755).create(d)?;
    }
    for (name, mode) in [("tmp", 0o1777), ("run", 0o755)] {
        let d = upper.join(name);
        mkdir_mode(&d, mode)?;
        make_opaque(&d)?;
    }
    seed_dev(&upper)?;
    if let Some(wd) = spec.working_dir.as_deref().filter(|w| w.starts_with('/')) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(upper.join(wd.trim_start_matches('/')))?;
    }
    for file in ["/etc/hosts", "/etc/hostname"] {
        if !lower_has(file) {
            let at = upper.join(file.trim_start_matches('/'));
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o755)
                .create(upper.join("etc"))?;
            std::fs::write(at, "")?;
        }
    }
    let overlay = format!("lowerdir=/,upperdir={},workdir={}", upper.display(), work.display());
    Ok(RootFs {
        root,
        overlay,
        binds: vec![
            (pod_file(pod_dir, "shm"), "/dev/shm".into()),
            (pod_file(pod_dir, "etc-hosts"), "/etc/hosts".into()),
            (pod_file(pod_dir, "etc-hostname"), "/etc/hostname".into()),
        ],
        program_outside,
    })
}

/// The working directory a container (and an `exec` in it) starts in: its `workingDir`, else `/`.
pub fn container_cwd(spec: &Container) -> PathBuf {
    spec.working_dir
        .as_deref()
        .filter(|w| w.starts_with('/'))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// [`RootFs`] as C strings, made before `clone`: the child may not allocate.
pub(crate) struct MountPlan {
    root: CString,
    overlay: CString,
    proc_: CString,
    sys: CString,
    pts: CString,
    binds: Vec<(CString, CString)>,
}

fn c(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in a path"))
}

impl MountPlan {
    pub(crate) fn new(fs: &RootFs) -> io::Result<MountPlan> {
        let inside = |p: &str| fs.root.join(p.trim_start_matches('/'));
        Ok(MountPlan {
            root: c(&fs.root)?,
            overlay: CString::new(fs.overlay.as_bytes()).map_err(|_| io::Error::other("NUL in options"))?,
            proc_: c(&inside("/proc"))?,
            sys: c(&inside("/sys"))?,
            pts: c(&inside("/dev/pts"))?,
            binds: fs
                .binds
                .iter()
                .map(|(from, to)| Ok((c(from)?, c(&inside(&to.to_string_lossy()))?)))
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
        // SAFETY: mount(2), chdir(2), pivot_root(2), umount2(2) on valid C strings.
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
                c"overlay".as_ptr(),
                self.root.as_ptr(),
                c"overlay".as_ptr(),
                0,
                self.overlay.as_ptr().cast(),
            ))?;
            let quiet = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
            ok(libc::mount(
                c"proc".as_ptr(),
                self.proc_.as_ptr(),
                c"proc".as_ptr(),
                quiet,
                std::ptr::null(),
            ))?;
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
            for (from, to) in &self.binds {
                ok(libc::mount(
                    from.as_ptr(),
                    to.as_ptr(),
                    null,
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?;
            }
            // The overlay becomes `/`; the machine's root, stacked under it, is detached.
            ok(libc::chdir(self.root.as_ptr()))?;
            ok(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as libc::c_int)?;
            ok(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
            ok(libc::chdir(c"/".as_ptr()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_file_names_the_pod_as_the_kubelet_does() {
        let mut pod = Pod::default();
        pod.metadata.name = Some("web".into());
        let h = hosts_file(&pod, "10.244.1.5");
        assert!(h.contains("127.0.0.1\tlocalhost\n"), "{h}");
        assert!(h.contains("::1\tlocalhost ip6-localhost ip6-loopback\n"), "{h}");
        assert!(h.ends_with("10.244.1.5\tweb\n"), "{h}");
    }

    #[test]
    fn the_working_dir_defaults_to_the_root() {
        let mut c = Container::default();
        assert_eq!(container_cwd(&c), PathBuf::from("/"));
        c.working_dir = Some("/srv/www".into());
        assert_eq!(container_cwd(&c), PathBuf::from("/srv/www"));
    }
}
