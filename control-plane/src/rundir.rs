//! The runtime directory `/run/podlab/<cluster>/` (mode 0700): the owner's pid, the pods'
//! scratch directories and the mount point of the containers' writable layers. A directory
//! whose owner is dead is stale (a crashed or killed podlab) and is removed by the next podlab
//! that starts.
//!
//! ```text
//! /run/podlab/<cluster>/
//!     pid       the owner's pid
//!     pods/     one scratch directory per pod (see podlab_node_agent::rootfs); a symbolic link
//!               to /proc/<pid>/fd/<n>, a tmpfs of the owner's own that is mounted nowhere
//!     layer/    empty: each container mounts its writable layer here, in its own namespace
//! ```
//!
//! Why `pods/` is a tmpfs mounted nowhere: files a cluster makes and deletes by the ten
//! thousand (a pod's directory, `/etc/hosts`, `/etc/hostname`, `/dev/shm`, its logs) are
//! memory on a machine whose `/run` is a tmpfs, but on disk where it is not (this project's
//! machines: ext4 without a journal). There, ext4 skips inodes deleted in the last minutes
//! when it makes a file (`recently_deleted`), so a 10,000-pod cluster started within minutes of
//! another one scanned the first one's 60,000 dead inodes at every file it made (measured with
//! `perf`: 6% of the machine's CPU during such a bring-up, none on a tmpfs). A tmpfs made
//! with `fsopen`/`fsmount` is attached to no mount table (so nothing appears in the machine's,
//! and nothing can be left mounted): it lives as long as this process holds its descriptor
//! (and containers hold mounts of it), so even `kill -9` leaves nothing of it. The link reaches it for the owner (and root) only.
//! Where the kernel refuses it (`fsopen` for podlab rootless, whose mount namespace is the
//! machine's; a bind mount from a detached mount on older kernels), `pods/` is a plain
//! directory. The tmpfs itself is made in `podlab_node_agent::rootfs` (its `detached_tmpfs`).

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a runtime directory could not be claimed.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// A live podlab owns a cluster of that name.
    #[error(
        "a cluster named {name:?} is already running (podlab pid {pid}); pick another name with --name or stop it first"
    )]
    AlreadyRunning {
        /// The cluster's name.
        name: String,
        /// The pid of the podlab that owns it.
        pid: i32,
    },
    /// A directory or file could not be made or removed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done, with the path.
        what: String,
        /// The system's error.
        #[source]
        source: std::io::Error,
    },
}

fn io(what: String) -> impl FnOnce(std::io::Error) -> RunDirError {
    move |source| RunDirError::Io { what, source }
}

/// Where runtime directories live: `/run/podlab` for root; for a rootless podlab (and the
/// commands its user runs against it) `$XDG_RUNTIME_DIR/podlab`, else `/tmp/podlab-<uid>`.
/// The same for a process before and after it enters its user namespace: the uid is the one
/// outside it.
pub fn base() -> PathBuf {
    let uid = podlab_node_agent::userns::outside_uid();
    if uid == 0 {
        return PathBuf::from("/run/podlab");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d).join("podlab"),
        None => std::env::temp_dir().join(format!("podlab-{uid}")),
    }
}

/// Makes the base directory (0700) and checks it is this user's own: under a shared `/tmp`
/// another user could have made it first.
fn claim_base(base: &Path) -> Result<(), RunDirError> {
    use std::os::unix::fs::MetadataExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(base)
        .map_err(io(format!("creating {}", base.display())))?;
    let meta = std::fs::symlink_metadata(base).map_err(io(format!("reading {}", base.display())))?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me {
        return Err(RunDirError::Io {
            what: format!("{} is not a directory of this user (uid {me})", base.display()),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        });
    }
    std::fs::set_permissions(base, std::fs::Permissions::from_mode(0o700))
        .map_err(io(format!("making {} private", base.display())))
}

/// A runtime directory owned by this process; removed on drop.
pub struct RunDir {
    path: PathBuf,
    /// The tmpfs `pods/` links to (None: `pods/` is a directory). Dropped after the directory
    /// is removed.
    _scratch: Option<OwnedFd>,
}

/// Whether a live (not zombie) process with this pid exists.
pub fn pid_alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// The pid recorded in a runtime directory.
pub fn owner(dir: &Path) -> Option<i32> {
    std::fs::read_to_string(dir.join("pid")).ok()?.trim().parse().ok()
}

/// Remove runtime directories left by podlab processes that no longer exist. Returns their names.
pub fn clean_stale() -> Vec<String> {
    let mut cleaned = Vec::new();
    let Ok(entries) = std::fs::read_dir(base()) else {
        return cleaned;
    };
    for e in entries.flatten() {
        let path = e.path();
        let alive = owner(&path).is_some_and(pid_alive);
        if !alive && path.is_dir() && std::fs::remove_dir_all(&path).is_ok() {
            cleaned.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    cleaned
}

impl RunDir {
    /// Claim `/run/podlab/<name>/`, failing if a live podlab already owns it.
    pub fn claim(name: &str) -> Result<RunDir, RunDirError> {
        let base = base();
        claim_base(&base)?;
        let path = base.join(name);
        if let Some(pid) = owner(&path).filter(|&p| pid_alive(p)) {
            return Err(RunDirError::AlreadyRunning { name: name.into(), pid });
        }
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(io(format!("removing stale {}", path.display())))?;
        }
        // Recursive: the base may have just been removed by another cluster going away.
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&path)
            .map_err(io(format!("creating {}", path.display())))?;
        let pid = path.join("pid");
        std::fs::write(&pid, std::process::id().to_string()).map_err(io(format!("writing {}", pid.display())))?;
        let pods = path.join("pods");
        let scratch = match podlab_node_agent::rootfs::detached_tmpfs() {
            Ok(tmpfs) => {
                let at = format!("/proc/{}/fd/{}", std::process::id(), tmpfs.as_raw_fd());
                std::os::unix::fs::symlink(&at, &pods).map_err(io(format!("linking {} to {at}", pods.display())))?;
                Some(tmpfs)
            }
            Err(e) => {
                tracing::debug!(
                    "pods' scratch directories on {}'s filesystem (no tmpfs of its own: {e})",
                    path.display()
                );
                std::fs::create_dir(&pods).map_err(io(format!("creating {}", pods.display())))?;
                None
            }
        };
        let layer = path.join("layer");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&layer)
            .map_err(io(format!("creating {}", layer.display())))?;
        Ok(RunDir {
            path,
            _scratch: scratch,
        })
    }

    /// Where containers mount their writable layers, each in its own mount namespace (on the
    /// machine, an empty directory).
    pub fn layer_mountpoint(&self) -> PathBuf {
        self.path.join("layer")
    }

    /// A scratch directory for one pod. Never re-creates the runtime directory itself: once the
    /// cluster is going away (the directory removed), a pod still starting gets none.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        let p = self.path.join("pods").join(uid);
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&p);
        p
    }
}

impl RunDir {
    /// Removes a deleted pod's scratch directory (its containers' writable layers).
    pub fn remove_pod_dir(&self, uid: &str) {
        if uid.is_empty() || uid.contains('/') || uid.starts_with('.') {
            return;
        }
        let p = self.path.join("pods").join(uid);
        if let Err(e) = std::fs::remove_dir_all(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!("removing {}: {e}", p.display());
        }
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // A pod that was still starting may write into its directory while this runs: try again.
        for _ in 0..5 {
            match std::fs::remove_dir_all(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                _ => break,
            }
        }
        // Leave /run/podlab itself only if other clusters still use it.
        let _ = std::fs::remove_dir(base());
    }
}
