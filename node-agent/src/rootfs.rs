//! A container's filesystem: a copy-on-write view of its "image", as a container runtime
//! builds it from image layers.
//!
//! podlab has no image store: every image is the machine's own `/`, seen read-only. Each run
//! of a container gets an overlay whose lower layer is the machine's root filesystem and whose
//! upper layer (where everything the container writes lands) is a tmpfs of its own:
//!
//! ```text
//! /run/podlab/<cluster>/pods/<uid>/
//!     etc-hosts, etc-hostname   written once per pod (as the kubelet does), bind-mounted
//!     shm/                      the pod's /dev/shm, shared by its containers (one IPC namespace)
//!     containers/<name>/        empty on the machine; in the container's mount namespace a
//!                               tmpfs holding upper/ (its writable layer), work/ and root/
//!                               (where the overlay is mounted, then made its `/`)
//! ```
//!
//! Measured: an overlay whose upper and work dirs are on the machine's disk (ext4, below the
//! lower layer `/`, which Linux accepts since 5.2) costs milliseconds per mount (overlayfs
//! probes the work dir: xattrs, O_TMPFILE, whiteouts, each journalled), and seeding the layer
//! (device nodes, directories) as much again; on a tmpfs made in the container's own
//! namespace both are microseconds, the layer lives in memory as a container's does with
//! `emptyDir.medium: Memory`, and it goes with the container's last process, leaving nothing
//! to clean up (not even after `kill -9`). From the machine, `/proc/<pid>/root` shows it.
//!
//! All of it is done in the child between `clone` and `execve` (see [`crate::spawner`]), with
//! raw system calls on paths prepared here: every mount made private, the layer's tmpfs and
//! its seed (`/tmp` and `/run` opaque, i.e. empty rather than the machine's; `/dev` opaque with
//! the basic device nodes; the `workingDir`), the overlay, a fresh `/proc` (of the container's
//! PID namespace), `/sys` read-only, a new `devpts` instance, the pod's `/dev/shm`,
//! `/etc/hosts` and `/etc/hostname` bound in, then `pivot_root` and the old root detached.
//! None of it reaches the machine's mount table.

use k8s_openapi::api::core::v1::{Container, Pod};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

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

/// One step of seeding a fresh layer, done in the child on its tmpfs.
#[derive(Debug, Clone)]
pub(crate) enum Seed {
    /// A directory with this mode (`true`: it may exist already).
    Dir(PathBuf, u32, bool),
    /// A directory of the upper layer that hides the lower layer's (overlayfs' opaque mark).
    Opaque(PathBuf),
    /// A character device (path, major, minor), mode 0666.
    Device(PathBuf, u32, u32),
    /// A symlink (path, target).
    Link(PathBuf, String),
    /// An empty file (a bind target the machine's `/` lacks).
    File(PathBuf),
}

/// What a container's root is made of, prepared outside the child.
#[derive(Debug, Clone)]
pub struct RootFs {
    /// The container's directory: a tmpfs is mounted on it in the container's namespace.
    pub(crate) layer: PathBuf,
    /// What the layer is seeded with, in order.
    pub(crate) seed: Vec<Seed>,
    /// Where the overlay is mounted (in the container's mount namespace only).
    pub(crate) root: PathBuf,
    /// The overlay's mount options (lower, upper and work dirs).
    pub(crate) overlay: String,
    /// (path on the machine, path inside the container, read-only) bound over the image's:
    /// the pod's shared files, then the container's volume mounts.
    pub(crate) binds: Vec<(PathBuf, PathBuf, bool)>,
    /// The program is podlab's own binary (a built-in image), which need not be visible in
    /// the container's view: it is opened before the switch and run from that descriptor.
    pub(crate) program_outside: bool,
}

/// Whether the machine's root has `path` (a bind target must exist in the view).
fn lower_has(path: &str) -> bool {
    Path::new(path).exists()
}

/// Says how one run of `spec` in the pod whose scratch directory is `pod_dir` gets its root:
/// a fresh writable layer each run (a restarted container starts from its image again, as in
/// Kubernetes). `program_outside`: the program is podlab's own binary.
pub fn prepare_container(
    pod_dir: &Path,
    spec: &Container,
    program_outside: bool,
    mounts: &[crate::volumes::VolumeBind],
) -> io::Result<RootFs> {
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
    let layer = pod_dir.join("containers").join(&spec.name);
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&layer)?;
    let (upper, work, root) = (layer.join("upper"), layer.join("work"), layer.join("root"));
    let mut seed = vec![
        Seed::Dir(upper.clone(), 0o755, false),
        Seed::Dir(work.clone(), 0o700, false),
        Seed::Dir(root.clone(), 0o755, false),
    ];
    for (name, mode) in [("tmp", 0o1777), ("run", 0o755), ("dev", 0o755)] {
        seed.push(Seed::Dir(upper.join(name), mode, false));
        seed.push(Seed::Opaque(upper.join(name)));
    }
    let dev = upper.join("dev");
    seed.extend(DEVICES.iter().map(|(n, ma, mi)| Seed::Device(dev.join(n), *ma, *mi)));
    seed.extend(DEV_LINKS.iter().map(|(n, to)| Seed::Link(dev.join(n), to.to_string())));
    seed.push(Seed::Dir(dev.join("pts"), 0o755, false));
    seed.push(Seed::Dir(dev.join("shm"), 0o1777, false));
    if let Some(wd) = spec.working_dir.as_deref().filter(|w| w.starts_with('/')) {
        let mut at = upper.clone();
        for part in Path::new(wd).components().skip(1) {
            at.push(part);
            seed.push(Seed::Dir(at.clone(), 0o755, true));
        }
    }
    for file in ["/etc/hosts", "/etc/hostname"] {
        if !lower_has(file) {
            seed.push(Seed::Dir(upper.join("etc"), 0o755, true));
            seed.push(Seed::File(upper.join(file.trim_start_matches('/'))));
        }
    }
    // Each volume mount's target exists in the layer (a file for a file), parents included.
    for m in mounts {
        let mut at = upper.clone();
        let parts: Vec<_> = m.target.components().skip(1).collect();
        for (i, part) in parts.iter().enumerate() {
            at.push(part);
            if i + 1 == parts.len() && m.is_file {
                seed.push(Seed::File(at.clone()));
            } else {
                seed.push(Seed::Dir(at.clone(), 0o755, true));
            }
        }
    }
    let mut binds = vec![
        (pod_file(pod_dir, "shm"), "/dev/shm".into(), false),
        (pod_file(pod_dir, "etc-hosts"), "/etc/hosts".into(), false),
        (pod_file(pod_dir, "etc-hostname"), "/etc/hostname".into(), false),
    ];
    binds.extend(mounts.iter().map(|m| (m.source.clone(), m.target.clone(), m.read_only)));
    let overlay = format!("lowerdir=/,upperdir={},workdir={}", upper.display(), work.display());
    Ok(RootFs {
        layer,
        seed,
        root,
        overlay,
        binds,
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
    overlay: CString,
    proc_: CString,
    sys: CString,
    pts: CString,
    binds: Vec<(CString, CString, bool)>,
}

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
            overlay: CString::new(fs.overlay.as_bytes()).map_err(|_| io::Error::other("NUL in options"))?,
            proc_: c(&inside("/proc"))?,
            sys: c(&inside("/sys"))?,
            pts: c(&inside("/dev/pts"))?,
            binds: fs
                .binds
                .iter()
                .map(|(from, to, ro)| Ok((c(from)?, c(&inside(&to.to_string_lossy()))?, *ro)))
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
            for (from, to, read_only) in &self.binds {
                ok(libc::mount(
                    from.as_ptr(),
                    to.as_ptr(),
                    null,
                    libc::MS_BIND,
                    std::ptr::null(),
                ))?;
                if *read_only {
                    ok(libc::mount(
                        null,
                        to.as_ptr(),
                        null,
                        libc::MS_BIND | libc::MS_REMOUNT | libc::MS_RDONLY,
                        std::ptr::null(),
                    ))?;
                }
            }
            // The overlay becomes `/`; the machine's root, stacked under it, is detached.
            ok(libc::chdir(self.root.as_ptr()))?;
            ok(libc::syscall(libc::SYS_pivot_root, c".".as_ptr(), c".".as_ptr()) as libc::c_int)?;
            ok(libc::umount2(c".".as_ptr(), libc::MNT_DETACH))?;
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
