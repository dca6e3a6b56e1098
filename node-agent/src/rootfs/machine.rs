//! The machine's `/` as a rootless container sees it: one overlay per top-level directory.
//!
//! In a user namespace the kernel will not overlay (nor bind without its submounts) the
//! machine's `/`: the mounts below it (`/proc`, `/sys`, `/dev`, ...) are locked there, and
//! leaving them out would uncover what they hide. So a rootless container's root is a tmpfs
//! directory where each top-level directory of the machine is its own overlay (copy-on-write
//! as before), a directory with mounts below it is bound read-only with them, an empty or
//! unreadable one is a fresh directory of the container's (no mount: the same view, cheaper), a
//! top-level file is bound read-only and a symlink (`/bin -> usr/bin`) copied. `/proc`, `/sys`, `/dev`,
//! `/tmp` and `/run` are the container's own, as with root.
//!
//! The machine's files keep their owners, and those the user namespace does not map (root's,
//! among them) show as `nobody`: a rootless container can read the machine's files and write
//! its own (its `/tmp`, `/run`, working directory and volumes, new files in any top-level
//! directory), not change root's, as with any rootless container runtime.

use super::{Bind, Seed};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The container's own directories, never taken from the machine.
const FRESH: &[&str] = &["proc", "sys", "dev", "tmp", "run"];

/// One top-level entry of the machine's `/`.
#[derive(Debug, Clone, PartialEq)]
enum Entry {
    /// A directory with no mount below it: overlaid.
    Overlay(String),
    /// A directory with mounts below it: bound read-only, with them.
    Bound(String),
    /// An empty directory, or one the user namespace cannot read (root's 0700 `/root`): a
    /// fresh, empty directory of the container's own (the same view, with no mount to make).
    Fresh(String, u32),
    /// A regular file: bound read-only.
    File(String),
    /// A symlink and its target.
    Link(String, String),
}

/// The machine's top-level entries, read once (its mounts do not change under a cluster).
fn entries() -> &'static [Entry] {
    static TOP: OnceLock<Vec<Entry>> = OnceLock::new();
    TOP.get_or_init(|| {
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let names = std::fs::read_dir("/")
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        classify(names, &mount_points(&mountinfo), |name| {
            let path = Path::new("/").join(name);
            let meta = std::fs::symlink_metadata(&path).ok()?;
            Some(if meta.file_type().is_symlink() {
                Kind::Link(std::fs::read_link(&path).ok()?.to_string_lossy().into_owned())
            } else if meta.is_dir() {
                use std::os::unix::fs::PermissionsExt;
                let mode = meta.permissions().mode() & 0o7777;
                let has_entries = std::fs::read_dir(&path).is_ok_and(|mut d| d.next().is_some());
                if has_entries { Kind::Dir } else { Kind::EmptyDir(mode) }
            } else if meta.is_file() {
                Kind::File
            } else {
                return None;
            })
        })
    })
}

/// What a top-level name is on the machine.
enum Kind {
    Dir,
    /// Empty or unreadable, with its mode.
    EmptyDir(u32),
    File,
    Link(String),
}

fn classify(mut names: Vec<String>, mounts: &[String], kind: impl Fn(&str) -> Option<Kind>) -> Vec<Entry> {
    names.sort();
    names
        .into_iter()
        .filter(|n| !FRESH.contains(&n.as_str()))
        .filter_map(|name| {
            Some(match kind(&name)? {
                Kind::Link(to) => Entry::Link(name, to),
                Kind::File => Entry::File(name),
                Kind::EmptyDir(mode) => Entry::Fresh(name, mode),
                Kind::Dir => {
                    let below = format!("/{name}/");
                    if mounts.iter().any(|m| m.starts_with(&below)) {
                        Entry::Bound(name)
                    } else {
                        Entry::Overlay(name)
                    }
                }
            })
        })
        .collect()
}

/// The mount points of a `/proc/self/mountinfo` (field 5, octal escapes decoded).
fn mount_points(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape)
        .collect()
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = b
            .get(i + 1..i + 4)
            .filter(|d| b[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |v, c| v.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(b[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether top-level directory `name` is one of the machine's overlaid directories.
pub(super) fn overlaid(name: &str) -> bool {
    entries().iter().any(|e| matches!(e, Entry::Overlay(n) if n == name))
}

/// Seeds the rootless root (`/proc` and `/sys` mount points, each overlay's directories, the
/// symlinks and bind targets) and returns its overlays; the read-only binds go into `binds`.
pub(super) fn rootless_view(
    upper: &Path,
    work: &Path,
    root: &Path,
    seed: &mut Vec<Seed>,
    binds: &mut Vec<Bind>,
) -> Vec<(PathBuf, String)> {
    seed.push(Seed::Dir(root.join("proc"), 0o555, false));
    seed.push(Seed::Dir(root.join("sys"), 0o555, false));
    let mut overlays = Vec::new();
    for e in entries() {
        match e {
            Entry::Overlay(name) => {
                let (u, w, r) = (upper.join(name), work.join(name), root.join(name));
                seed.push(Seed::Dir(u.clone(), 0o755, false));
                seed.push(Seed::Dir(w.clone(), 0o700, false));
                seed.push(Seed::Dir(r.clone(), 0o755, false));
                let opts = format!(
                    "lowerdir=/{name},upperdir={},workdir={},userxattr",
                    u.display(),
                    w.display()
                );
                overlays.push((r, opts));
            }
            Entry::Bound(name) => {
                seed.push(Seed::Dir(root.join(name), 0o755, false));
                binds.push(Bind {
                    recursive: true,
                    ..Bind::new(Path::new("/").join(name), Path::new("/").join(name), true)
                });
            }
            Entry::File(name) => {
                seed.push(Seed::File(root.join(name)));
                binds.push(Bind::new(Path::new("/").join(name), Path::new("/").join(name), true));
            }
            Entry::Link(name, to) => seed.push(Seed::Link(root.join(name), to.clone())),
            Entry::Fresh(name, mode) => seed.push(Seed::Dir(root.join(name), *mode, false)),
        }
    }
    overlays
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directories_with_mounts_below_are_bound_and_the_rest_overlaid() {
        let mountinfo = "22 1 0:21 / /proc rw - proc proc rw\n\
                         30 1 0:5 / /mnt/with\\040space rw - tmpfs t rw\n\
                         31 1 0:6 / /home rw - ext4 /dev/x rw\n";
        let mounts = mount_points(mountinfo);
        assert_eq!(mounts[1], "/mnt/with space");
        let names = ["usr", "mnt", "home", "proc", "bin", "x.json", "srv"]
            .map(String::from)
            .to_vec();
        let got = classify(names, &mounts, |n| {
            Some(match n {
                "bin" => Kind::Link("usr/bin".into()),
                "x.json" => Kind::File,
                "srv" => Kind::EmptyDir(0o755),
                _ => Kind::Dir,
            })
        });
        assert_eq!(
            got,
            vec![
                Entry::Link("bin".into(), "usr/bin".into()),
                // /home is itself a mount, with nothing below it: an overlay works.
                Entry::Overlay("home".into()),
                Entry::Bound("mnt".into()),
                Entry::Fresh("srv".into(), 0o755),
                Entry::Overlay("usr".into()),
                Entry::File("x.json".into()),
            ]
        );
    }
}
