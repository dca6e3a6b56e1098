//! The runtime directory `/run/podlab/<cluster>/` (mode 0700): the owner's pid and the pods'
//! scratch directories. A directory whose owner is dead is stale (a crashed or killed podlab)
//! and is removed by the next podlab that starts.

use anyhow::{Context, Result, bail};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Where runtime directories live: `/run/podlab` for root, else the user's runtime dir.
pub fn base() -> PathBuf {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return PathBuf::from("/run/podlab");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => PathBuf::from(d).join("podlab"),
        // SAFETY: as above.
        None => std::env::temp_dir().join(format!("podlab-{}", unsafe { libc::geteuid() })),
    }
}

/// A runtime directory owned by this process; removed on drop.
pub struct RunDir {
    path: PathBuf,
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
    pub fn claim(name: &str) -> Result<RunDir> {
        let base = base();
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&base)
            .with_context(|| format!("creating {}", base.display()))?;
        std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o700))?;
        let path = base.join(name);
        if let Some(pid) = owner(&path).filter(|&p| pid_alive(p)) {
            bail!(
                "a cluster named {name:?} is already running (podlab pid {pid}); pick another name with --name or stop it first"
            );
        }
        if path.exists() {
            std::fs::remove_dir_all(&path).with_context(|| format!("removing stale {}", path.display()))?;
        }
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        std::fs::write(path.join("pid"), std::process::id().to_string())?;
        std::fs::create_dir(path.join("pods"))?;
        Ok(RunDir { path })
    }

    /// A scratch directory for one pod.
    pub fn pod_dir(&self, uid: &str) -> PathBuf {
        let p = self.path.join("pods").join(uid);
        let _ = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&p);
        p
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
        // Leave /run/podlab itself only if other clusters still use it.
        let _ = std::fs::remove_dir(base());
    }
}
