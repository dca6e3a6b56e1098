//! A container's filesystem: a copy-on-write view of its "image", as a container runtime
//! builds it from image layers.
//!
//! podlab has no image store: every image is the machine's own `/`, seen read-only. Each run
//! of a container gets an overlay whose lower layer is the machine's root filesystem and whose
//! upper layer (where everything the container writes lands) is a tmpfs of its own:
//!
//! ```text
//! /run/podlab/<cluster>/pods/<uid>/   (a tmpfs where podlab can make one, see the
//!                                      control plane's `rundir`)
//!     etc-hosts, etc-hostname   written once per pod (as the kubelet does), bind-mounted
//!     shm/                      the pod's /dev/shm, shared by its containers (one IPC namespace)
//! /run/podlab/<cluster>/layer/  empty on the machine; in each container's mount namespace a
//!                               tmpfs holding upper/ (its writable layer), work/ and root/
//!                               (where the overlay is mounted, then made its `/`)
//! ```
//!
//! (Without a cluster's runtime directory, e.g. in unit tests, the layer is mounted at
//! `containers/<name>/` of the pod's directory.)
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
//! `/etc/hosts` and `/etc/hostname` bound in, then the root moved onto the root of the
//! namespace, entered, and the machine's tree detached (see [`host`]: no `pivot_root`, which
//! visits every task on the machine). None of it reaches the machine's mount table.

mod fs_context;
pub(crate) mod host;
mod machine;
mod plan;
mod scratch;

pub use fs_context::make_and_drop_sysfs;
pub(crate) use plan::MountPlan;
pub use scratch::detached_tmpfs;

use k8s_openapi::api::core::v1::{Container, Pod};
use std::io;
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

/// A bind mount into the container's view.
#[derive(Debug, Clone)]
pub(crate) struct Bind {
    /// The path on the machine.
    pub(crate) from: PathBuf,
    /// The path inside the container.
    pub(crate) to: PathBuf,
    /// Remounted read-only.
    pub(crate) read_only: bool,
    /// With the mounts below `from` (a rootless view of a machine directory that has some).
    pub(crate) recursive: bool,
}

impl Bind {
    fn new(from: impl Into<PathBuf>, to: impl Into<PathBuf>, read_only: bool) -> Bind {
        Bind {
            from: from.into(),
            to: to.into(),
            read_only,
            recursive: false,
        }
    }
}

/// What a container's root is made of, prepared outside the child.
#[derive(Debug, Clone)]
pub struct RootFs {
    /// The container's directory: a tmpfs is mounted on it in the container's namespace.
    pub(crate) layer: PathBuf,
    /// What the layer is seeded with, in order.
    pub(crate) seed: Vec<Seed>,
    /// What becomes the container's `/` (in the container's mount namespace only).
    pub(crate) root: PathBuf,
    /// Rootless: `root` is a directory of the layer, bound onto itself to be a mount point.
    pub(crate) root_is_dir: bool,
    /// Overlays (where, mount options with the lower, upper and work dirs), in order.
    pub(crate) overlays: Vec<(PathBuf, String)>,
    /// Bound over the image's: device nodes (rootless), the pod's shared files, then the
    /// container's volume mounts.
    pub(crate) binds: Vec<Bind>,
    /// The program is podlab's own binary (a built-in image), which need not be visible in
    /// the container's view: it is opened before the switch and run from that descriptor.
    pub(crate) program_outside: bool,
}

/// Where the container's writable paths live in its layer before the switch.
///
/// As root the container's `/` is one overlay of the machine's `/`, so everything seeded goes
/// into the upper layer. Rootless, the kernel refuses an overlay of `/` (its mounts below, such
/// as `/proc`, are locked in a user namespace), so the root is a tmpfs directory holding one
/// overlay per top-level directory of the machine ([`machine`]): a path under one of those goes
/// into that overlay's upper layer, any other path straight onto the tmpfs.
struct Layout {
    upper: PathBuf,
    root: PathBuf,
    rootless: bool,
}

impl Layout {
    fn at(&self, inside: &str) -> PathBuf {
        let rel = inside.trim_start_matches('/');
        let top = rel.split('/').next().unwrap_or("");
        if !self.rootless || machine::overlaid(top) {
            self.upper.join(rel)
        } else {
            self.root.join(rel)
        }
    }

    /// `inside` and its parents below `/`, as directories of the layer.
    fn dirs(&self, inside: &Path, seed: &mut Vec<Seed>) {
        let mut at = PathBuf::from("/");
        for part in inside.components().skip(1) {
            at.push(part);
            seed.push(Seed::Dir(self.at(&at.to_string_lossy()), 0o755, true));
        }
    }
}

/// Says how one run of `spec` in the pod whose scratch directory is `pod_dir` gets its root:
/// a fresh writable layer each run (a restarted container starts from its image again, as in
/// Kubernetes), a tmpfs mounted in the container's own namespace at `layer_at` (the same
/// empty directory for every container of a cluster), else at `containers/<name>/` of
/// `pod_dir`. `program_outside`: the program is podlab's own binary.
pub fn prepare_container(
    pod_dir: &Path,
    layer_at: Option<&Path>,
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
    let layer = match layer_at {
        Some(at) => at.to_path_buf(),
        None => {
            let own = pod_dir.join("containers").join(&spec.name);
            std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&own)?;
            own
        }
    };
    let (upper, work, root) = (layer.join("upper"), layer.join("work"), layer.join("root"));
    let mut seed = vec![
        Seed::Dir(upper.clone(), 0o755, false),
        Seed::Dir(work.clone(), 0o700, false),
        Seed::Dir(root.clone(), 0o755, false),
    ];
    let rootless = crate::userns::rootless();
    let layout = Layout {
        upper: upper.clone(),
        root: root.clone(),
        rootless,
    };
    let mut binds = Vec::new();
    let overlays = if rootless {
        machine::rootless_view(&upper, &work, &root, &mut seed, &mut binds)
    } else {
        vec![(
            root.clone(),
            format!("lowerdir=/,upperdir={},workdir={}", upper.display(), work.display()),
        )]
    };
    for (name, mode) in [("tmp", 0o1777), ("run", 0o755), ("dev", 0o755)] {
        seed.push(Seed::Dir(layout.at(name), mode, false));
        if !rootless {
            seed.push(Seed::Opaque(layout.at(name)));
        }
    }
    for (n, major, minor) in DEVICES {
        let at = layout.at(&format!("dev/{n}"));
        if rootless {
            // No device nodes in a user namespace: the machine's, bound in (as rootless runc does).
            seed.push(Seed::File(at));
            binds.push(Bind::new(format!("/dev/{n}"), format!("/dev/{n}"), false));
        } else {
            seed.push(Seed::Device(at, *major, *minor));
        }
    }
    seed.extend(
        DEV_LINKS
            .iter()
            .map(|(n, to)| Seed::Link(layout.at(&format!("dev/{n}")), to.to_string())),
    );
    seed.push(Seed::Dir(layout.at("dev/pts"), 0o755, false));
    seed.push(Seed::Dir(layout.at("dev/shm"), 0o1777, false));
    if let Some(wd) = spec.working_dir.as_deref().filter(|w| w.starts_with('/')) {
        layout.dirs(Path::new(wd), &mut seed);
    }
    for file in ["/etc/hosts", "/etc/hostname"] {
        if !Path::new(file).exists() {
            seed.push(Seed::Dir(layout.at("etc"), 0o755, true));
            seed.push(Seed::File(layout.at(file)));
        }
    }
    // Each volume mount's target exists in the layer (a file for a file), parents included.
    for m in mounts {
        match (m.is_file, m.target.parent()) {
            (true, Some(parent)) => {
                layout.dirs(parent, &mut seed);
                seed.push(Seed::File(layout.at(&m.target.to_string_lossy())));
            }
            _ => layout.dirs(&m.target, &mut seed),
        }
    }
    binds.push(Bind::new(pod_file(pod_dir, "shm"), "/dev/shm", false));
    binds.push(Bind::new(pod_file(pod_dir, "etc-hosts"), "/etc/hosts", false));
    binds.push(Bind::new(pod_file(pod_dir, "etc-hostname"), "/etc/hostname", false));
    binds.extend(mounts.iter().map(|m| Bind::new(&m.source, &m.target, m.read_only)));
    Ok(RootFs {
        layer,
        seed,
        root,
        root_is_dir: rootless,
        overlays,
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
