//! A pod's volumes as the kubelet makes them, and where each container's `volumeMounts` bind
//! them.
//!
//! Every volume is a directory of the pod's scratch directory, made before its first
//! container starts and removed with the pod:
//!
//! ```text
//! /run/podlab/<cluster>/pods/<uid>/volumes/<name>/
//! ```
//!
//! - `emptyDir` (either `medium`): an empty directory (mode 0777) the pod's containers share;
//!   it outlives container restarts and goes with the pod.
//! - `configMap`, `secret`, `downwardAPI`, `projected`: the kubelet's atomic writer layout, one
//!   file per key (or per `items` entry, with its `path` and `mode`, else `defaultMode`, 0644)
//!   in a timestamped directory `..2026_12_01_13_45_07.123456789`, a `..data` symlink to it and
//!   one symlink per top-level name (`key -> ..data/key`), so `ls -la` looks as on a kubelet.
//!   These are always mounted read-only, as in Kubernetes.
//! - Other volume types (persistentVolumeClaim, nfs, …) are empty directories for the pod's
//!   life: podlab has no storage to attach, and validation warns about them.
//!
//! Each `volumeMounts` entry becomes a bind mount (read-only if `readOnly` or the volume is
//! read-only) of the volume directory, or of its `subPath` (`subPathExpr` expanded against the
//! container's environment; an emptyDir's missing subPath is created, as the kubelet does),
//! made in the container's own mount namespace (see [`crate::rootfs`]).

use crate::config_data::{self, Data, DataError, DataKind, ObjectData};
use k8s_openapi::api::core::v1::{
    ConfigMapProjection, Container, DownwardAPIVolumeFile, KeyToPath, Pod, SecretProjection, Volume,
};
use std::path::{Component, Path, PathBuf};

/// The directory of volume `name` in the pod's scratch directory `pod_dir`.
pub fn volume_dir(pod_dir: &Path, name: &str) -> PathBuf {
    pod_dir.join("volumes").join(name)
}

/// One `volumeMounts` entry, ready to bind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeBind {
    /// The directory or file on the machine (in the pod's scratch directory).
    pub source: PathBuf,
    /// `mountPath` inside the container.
    pub target: PathBuf,
    /// Bound read-only.
    pub read_only: bool,
    /// The source is a file (its target must be one too).
    pub is_file: bool,
}

/// Why a volume could not be set up: the kubelet's FailedMount event text.
#[derive(Debug)]
pub struct VolumeError {
    /// The volume's name.
    pub volume: String,
    /// What went wrong.
    pub error: DataError,
}

impl std::fmt::Display for VolumeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "MountVolume.SetUp failed for volume {:?} : {}",
            self.volume, self.error
        )
    }
}

impl std::error::Error for VolumeError {}

fn io_err(e: std::io::Error) -> DataError {
    DataError::Invalid(e.to_string())
}

/// A relative path with no `..` and no absolute part (an item `path` or a `subPath`).
fn checked_relative(path: &str, what: &str) -> Result<PathBuf, DataError> {
    let p = Path::new(path);
    let ok = !path.is_empty()
        && p.components()
            .all(|c| matches!(c, Component::Normal(_) | Component::CurDir));
    if ok {
        Ok(p.to_path_buf())
    } else {
        Err(DataError::Invalid(format!(
            "{what} {path:?} must be a relative path without '..'"
        )))
    }
}

/// Where the pod runs: what the downward API answers.
pub struct PodPlace<'a> {
    /// The node's name.
    pub node: &'a str,
    /// The node's IP.
    pub host_ip: &'a str,
    /// The pod's IP.
    pub pod_ip: &'a str,
}

/// Makes every volume of `pod` in `pod_dir` (idempotent: a volume already made is kept).
pub fn prepare(pod_dir: &Path, pod: &Pod, place: &PodPlace<'_>, data: &dyn ObjectData) -> Result<(), VolumeError> {
    for v in pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default() {
        prepare_one(pod_dir, pod, v, place, data).map_err(|error| VolumeError {
            volume: v.name.clone(),
            error,
        })?;
    }
    Ok(())
}

/// The files of one read-only volume: (relative path, bytes, mode).
type Files = Vec<(PathBuf, Vec<u8>, u32)>;

fn prepare_one(
    pod_dir: &Path,
    pod: &Pod,
    v: &Volume,
    place: &PodPlace<'_>,
    data: &dyn ObjectData,
) -> Result<(), DataError> {
    let dir = volume_dir(pod_dir, &v.name);
    let ns = pod.metadata.namespace.as_deref().unwrap_or("default");
    let mut files: Files = Vec::new();
    if let Some(c) = &v.config_map {
        let mode = c.default_mode.unwrap_or(0o644) as u32;
        let found = config_data::lookup(data, DataKind::ConfigMap, ns, &c.name, c.optional == Some(true))?;
        keyed(
            &mut files,
            found,
            c.items.as_deref(),
            mode,
            DataKind::ConfigMap,
            ns,
            &c.name,
            c.optional,
        )?;
    } else if let Some(s) = &v.secret {
        let name = s.secret_name.clone().unwrap_or_default();
        let mode = s.default_mode.unwrap_or(0o644) as u32;
        let found = config_data::lookup(data, DataKind::Secret, ns, &name, s.optional == Some(true))?;
        keyed(
            &mut files,
            found,
            s.items.as_deref(),
            mode,
            DataKind::Secret,
            ns,
            &name,
            s.optional,
        )?;
    } else if let Some(d) = &v.downward_api {
        let mode = d.default_mode.unwrap_or(0o644) as u32;
        downward(&mut files, pod, d.items.as_deref().unwrap_or_default(), mode, place)?;
    } else if let Some(p) = &v.projected {
        let mode = p.default_mode.unwrap_or(0o644) as u32;
        for src in p.sources.iter().flatten() {
            projected(&mut files, pod, src, mode, place, data, ns)?;
        }
    } else {
        // emptyDir, and types podlab has no storage for (validation warns about those).
        return make_dir(&dir, 0o777);
    }
    if unchanged(&dir, &files) {
        return Ok(());
    }
    write_atomic(&dir, &files).map_err(io_err)
}

/// Whether the volume at `dir` already holds exactly `files` (same names, bytes and modes).
fn unchanged(dir: &Path, files: &Files) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let data = dir.join("..data");
    let Ok(current) = std::fs::read_link(&data) else {
        return false;
    };
    let count = walk_files(&dir.join(current));
    count == Some(files.len())
        && files.iter().all(|(p, bytes, mode)| {
            let at = data.join(p);
            std::fs::read(&at).is_ok_and(|b| &b == bytes)
                && std::fs::metadata(&at).is_ok_and(|m| m.permissions().mode() & 0o7777 == *mode & 0o7777)
        })
}

/// How many files are below `dir` (None if it cannot be read).
fn walk_files(dir: &Path) -> Option<usize> {
    let mut n = 0;
    for e in std::fs::read_dir(dir).ok()? {
        let e = e.ok()?;
        n += if e.file_type().ok()?.is_dir() {
            walk_files(&e.path())?
        } else {
            1
        };
    }
    Some(n)
}

/// Adds the keys of a ConfigMap or Secret (all, or `items`) to `files`.
#[allow(clippy::too_many_arguments)]
fn keyed(
    files: &mut Files,
    found: Option<Data>,
    items: Option<&[KeyToPath]>,
    mode: u32,
    kind: DataKind,
    ns: &str,
    name: &str,
    optional: Option<bool>,
) -> Result<(), DataError> {
    let Some(found) = found else { return Ok(()) };
    match items {
        None => {
            for (k, v) in found {
                files.push((checked_relative(&k, "key")?, v, mode));
            }
        }
        Some(items) => {
            for it in items {
                match found.get(&it.key) {
                    Some(v) => files.push((
                        checked_relative(&it.path, "path")?,
                        v.clone(),
                        it.mode.map_or(mode, |m| m as u32),
                    )),
                    None if optional == Some(true) => {}
                    None => {
                        return Err(DataError::NoKey {
                            kind,
                            object: format!("{ns}/{name}"),
                            key: it.key.clone(),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// Adds downward-API items (`fieldRef`; whole `metadata.labels`/`annotations` maps as the
/// kubelet writes them, `key="value"` lines) to `files`.
fn downward(
    files: &mut Files,
    pod: &Pod,
    items: &[DownwardAPIVolumeFile],
    mode: u32,
    place: &PodPlace<'_>,
) -> Result<(), DataError> {
    for it in items {
        let path = checked_relative(&it.path, "path")?;
        let Some(f) = &it.field_ref else {
            return Err(DataError::Invalid(format!(
                "downwardAPI item {:?}: podlab answers fieldRef only (resourceFieldRef is not implemented)",
                it.path
            )));
        };
        let map = |m: &Option<std::collections::BTreeMap<String, String>>| {
            m.iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v:?}\n"))
                .collect::<String>()
        };
        let text = match f.field_path.as_str() {
            "metadata.labels" => map(&pod.metadata.labels),
            "metadata.annotations" => map(&pod.metadata.annotations),
            other => crate::pod::field_ref(pod, other, place.node, place.host_ip, place.pod_ip).ok_or_else(|| {
                DataError::Invalid(format!("fieldRef {other:?} is not supported in a downwardAPI volume"))
            })?,
        };
        files.push((path, text.into_bytes(), it.mode.map_or(mode, |m| m as u32)));
    }
    Ok(())
}

/// Adds one `projected` source to `files` (serviceAccountToken and clusterTrustBundle
/// sources give nothing: validation warns about them).
fn projected(
    files: &mut Files,
    pod: &Pod,
    src: &k8s_openapi::api::core::v1::VolumeProjection,
    mode: u32,
    place: &PodPlace<'_>,
    data: &dyn ObjectData,
    ns: &str,
) -> Result<(), DataError> {
    if let Some(ConfigMapProjection { name, items, optional }) = &src.config_map {
        let found = config_data::lookup(data, DataKind::ConfigMap, ns, name, *optional == Some(true))?;
        keyed(
            files,
            found,
            items.as_deref(),
            mode,
            DataKind::ConfigMap,
            ns,
            name,
            *optional,
        )?;
    }
    if let Some(SecretProjection { name, items, optional }) = &src.secret {
        let found = config_data::lookup(data, DataKind::Secret, ns, name, *optional == Some(true))?;
        keyed(
            files,
            found,
            items.as_deref(),
            mode,
            DataKind::Secret,
            ns,
            name,
            *optional,
        )?;
    }
    if let Some(d) = &src.downward_api {
        downward(files, pod, d.items.as_deref().unwrap_or_default(), mode, place)?;
    }
    Ok(())
}

fn make_dir(dir: &Path, mode: u32) -> Result<(), DataError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(io_err)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode)).map_err(io_err)
}

/// The kubelet's atomic writer: files in a timestamped directory, `..data` pointing at it
/// (swapped by a rename, so a reader sees the old set or the new one, never a mix), a symlink
/// per top-level name through `..data`; the previous set and names no longer there go.
fn write_atomic(dir: &Path, files: &Files) -> std::io::Result<()> {
    use std::os::unix::fs::{PermissionsExt, symlink};
    make_dir(dir, 0o777).map_err(|e| std::io::Error::other(e.to_string()))?;
    let stamp = {
        let now = crate::now().0;
        format!("{}", now.strftime("..%Y_%m_%d_%H_%M_%S.%f"))
    };
    let data_dir = dir.join(&stamp);
    std::fs::create_dir(&data_dir)?;
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755))?;
    let mut top = std::collections::BTreeSet::new();
    for (path, bytes, mode) in files {
        let at = data_dir.join(path);
        if let Some(parent) = at.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&at, bytes)?;
        std::fs::set_permissions(&at, std::fs::Permissions::from_mode(*mode & 0o7777))?;
        if let Some(Component::Normal(first)) = path.components().next() {
            top.insert(first.to_os_string());
        }
    }
    let previous = std::fs::read_link(dir.join("..data")).ok();
    let swap = dir.join("..data_tmp");
    let _ = std::fs::remove_file(&swap);
    symlink(&stamp, &swap)?;
    std::fs::rename(&swap, dir.join("..data"))?;
    for e in std::fs::read_dir(dir)?.flatten() {
        let name = e.file_name();
        let is_link = e.file_type().is_ok_and(|t| t.is_symlink());
        if is_link && !name.to_string_lossy().starts_with("..") && !top.contains(&name) {
            std::fs::remove_file(e.path())?;
        }
    }
    for name in top {
        let link = dir.join(&name);
        if std::fs::symlink_metadata(&link).is_err() {
            symlink(Path::new("..data").join(&name), link)?;
        }
    }
    if let Some(old) = previous.filter(|p| p.as_os_str() != stamp.as_str()) {
        std::fs::remove_dir_all(dir.join(old))?;
    }
    Ok(())
}

/// Whether `pod` has a volume whose content follows the cluster (ConfigMap, Secret,
/// downward API, projected): those are kept up to date while the pod runs, as the kubelet
/// does (a `subPath` mount of one keeps the file it started with, as in Kubernetes).
pub fn has_live_volumes(pod: &Pod) -> bool {
    pod.spec
        .as_ref()
        .and_then(|s| s.volumes.as_deref())
        .unwrap_or_default()
        .iter()
        .any(always_read_only)
}

/// The `medium: Memory` emptyDirs of `pod` whose directory is not in memory (the runtime
/// directory is not on a tmpfs on this machine): (volume name, filesystem seen). podlab warns
/// about each rather than let the field pass silently.
pub fn memory_volumes_on_disk(pod_dir: &Path, pod: &Pod) -> Vec<(String, String)> {
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default();
    volumes
        .iter()
        .filter(|v| v.empty_dir.as_ref().and_then(|e| e.medium.as_deref()) == Some("Memory"))
        .filter_map(|v| {
            let fs = nix::sys::statfs::statfs(&volume_dir(pod_dir, &v.name)).ok()?;
            use nix::sys::statfs::{
                BTRFS_SUPER_MAGIC, EXT4_SUPER_MAGIC, OVERLAYFS_SUPER_MAGIC, TMPFS_MAGIC, XFS_SUPER_MAGIC,
            };
            let kind = fs.filesystem_type();
            let name = [
                (EXT4_SUPER_MAGIC, "ext4"),
                (XFS_SUPER_MAGIC, "xfs"),
                (BTRFS_SUPER_MAGIC, "btrfs"),
                (OVERLAYFS_SUPER_MAGIC, "overlay"),
            ]
            .iter()
            .find(|(m, _)| *m == kind)
            .map_or_else(|| format!("{kind:?}"), |(_, n)| n.to_string());
            (kind != TMPFS_MAGIC).then(|| (v.name.clone(), name))
        })
        .collect()
}

/// Whether `v` is mounted read-only whatever the mount says (as in Kubernetes).
fn always_read_only(v: &Volume) -> bool {
    v.config_map.is_some() || v.secret.is_some() || v.downward_api.is_some() || v.projected.is_some()
}

/// The binds of container `spec`'s `volumeMounts` (volumes made by [`prepare`]), sorted so a
/// mount inside another comes after it. `env` expands `subPathExpr`.
pub fn container_binds(
    pod_dir: &Path,
    pod: &Pod,
    spec: &Container,
    env: &[(String, String)],
) -> Result<Vec<VolumeBind>, DataError> {
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default();
    let mut binds = Vec::new();
    for m in spec.volume_mounts.iter().flatten() {
        let Some(v) = volumes.iter().find(|v| v.name == m.name) else {
            return Err(DataError::Invalid(format!(
                "volumeMount {:?}: no volume of that name",
                m.name
            )));
        };
        let mut source = volume_dir(pod_dir, &v.name);
        let sub = match (&m.sub_path, &m.sub_path_expr) {
            (Some(s), _) if !s.is_empty() => Some(s.clone()),
            (_, Some(e)) if !e.is_empty() => Some(crate::pod::expand(e, env)),
            _ => None,
        };
        if let Some(sub) = sub {
            source.push(checked_relative(&sub, "subPath")?);
            if !source.exists() && !always_read_only(v) {
                make_dir(&source, 0o777)?;
            }
        }
        let is_file = std::fs::metadata(&source)
            .map(|md| md.is_file())
            .map_err(|e| DataError::Invalid(format!("subPath {}: {e}", source.display())))?;
        binds.push(VolumeBind {
            source,
            target: PathBuf::from(&m.mount_path),
            read_only: m.read_only == Some(true) || always_read_only(v),
            is_file,
        });
    }
    binds.sort_by_key(|b| b.target.components().count());
    Ok(binds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config_data::NoData;
    use k8s_openapi::api::core::v1::{ConfigMapVolumeSource, EmptyDirVolumeSource, PodSpec, VolumeMount};

    struct Game;
    impl ObjectData for Game {
        fn data(&self, kind: DataKind, _: &str, name: &str) -> Option<Data> {
            (kind == DataKind::ConfigMap && name == "game").then(|| {
                Data::from([
                    ("lives".to_string(), b"3".to_vec()),
                    ("ui.properties".to_string(), b"color=red\n".to_vec()),
                ])
            })
        }
    }

    fn pod(volumes: Vec<Volume>, mounts: Vec<VolumeMount>) -> Pod {
        let mut p = Pod::default();
        p.metadata.name = Some("web".into());
        p.spec = Some(PodSpec {
            volumes: Some(volumes),
            containers: vec![Container {
                name: "c".into(),
                volume_mounts: Some(mounts),
                ..Default::default()
            }],
            ..Default::default()
        });
        p
    }

    const PLACE: PodPlace<'static> = PodPlace {
        node: "worker-1",
        host_ip: "172.18.0.2",
        pod_ip: "10.244.1.2",
    };

    #[test]
    fn a_config_map_volume_is_laid_out_as_the_kubelet_does() {
        let dir = std::env::temp_dir().join(format!("podlab-vol-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cm = Volume {
            name: "cfg".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: "game".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let empty = Volume {
            name: "scratch".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        };
        let mount = |name: &str, path: &str, sub: Option<&str>| VolumeMount {
            name: name.into(),
            mount_path: path.into(),
            sub_path: sub.map(str::to_string),
            ..Default::default()
        };
        let p = pod(
            vec![cm, empty],
            vec![
                mount("cfg", "/etc/game", None),
                mount("cfg", "/etc/lives", Some("lives")),
                mount("scratch", "/data/x", Some("x")),
            ],
        );
        prepare(&dir, &p, &PLACE, &Game).unwrap();
        let vol = volume_dir(&dir, "cfg");
        assert_eq!(std::fs::read_to_string(vol.join("lives")).unwrap(), "3");
        assert!(
            std::fs::symlink_metadata(vol.join("lives"))
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert!(vol.join("..data").exists());
        let binds = container_binds(&dir, &p, &p.spec.as_ref().unwrap().containers[0], &[]).unwrap();
        assert_eq!(binds.len(), 3);
        assert!(binds.iter().all(|b| b.read_only != b.target.starts_with("/data")));
        assert!(binds.iter().any(|b| b.is_file && b.target == Path::new("/etc/lives")));
        assert!(volume_dir(&dir, "scratch").join("x").is_dir(), "the subPath is made");
        let missing = pod(
            vec![Volume {
                name: "cfg".into(),
                config_map: Some(ConfigMapVolumeSource {
                    name: "nope".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            vec![],
        );
        let e = prepare(&dir.join("other"), &missing, &PLACE, &NoData).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MountVolume.SetUp failed for volume \"cfg\" : configmap \"nope\" not found"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_sub_path_may_not_climb_out() {
        assert!(checked_relative("../etc", "subPath").is_err());
        assert!(checked_relative("/etc", "subPath").is_err());
        assert!(checked_relative("a/b", "subPath").is_ok());
    }
}
