//! Shared by the fuzz targets: a private scratch directory per fuzzing process, holding
//! the manifest files that scenarios may reference, and a writer for the input file.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Manifests a fuzzed scenario may reference with `file: manifests/...`.
const NEIGHBOURS: &[(&str, &str)] = &[
    (
        "manifests/frontend.yaml",
        include_str!("../../scenario/examples/manifests/frontend.yaml"),
    ),
    (
        "manifests/nginx-pod.yaml",
        include_str!("../../scenarios/manifests/nginx-pod.yaml"),
    ),
    (
        "manifests/kubia-replicas.yaml",
        include_str!("../../scenarios/manifests/kubia-replicas.yaml"),
    ),
];

/// The scratch directory of this process (mode 0700 under the system temp dir), made once.
fn scratch() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("podlab-fuzz-{}", std::process::id()));
        // A leftover from an earlier process with the same pid is reused as is.
        let _ = fs::DirBuilder::new().mode(0o700).create(&dir);
        let _ = fs::DirBuilder::new().mode(0o700).create(dir.join("manifests"));
        for (name, text) in NEIGHBOURS {
            fs::write(dir.join(name), text).expect("write a fuzz neighbour manifest");
        }
        dir
    })
}

/// Writes `data` to `name` in the scratch directory and returns its path.
pub fn write_input(name: &str, data: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .expect("open the fuzz input file");
    f.write_all(data).expect("write the fuzz input file");
    path
}
