//! A running cluster's kubeconfig (context `podlab-NAME`): the daemon writes it, with the API's
//! address and its bearer token, mode 0600 in the 0700 runtime directory, so only the user who
//! started the cluster can use the API; podlab's own raw HTTP clients (`podlab ui`'s proxy,
//! `podlab bench api`) read both back from it with [`endpoint`].

use anyhow::{Context, Result, anyhow};
use podlab_control_plane::rundir;
use serde::Deserialize;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

/// Where cluster `name`'s kubeconfig is (context `podlab-NAME`), while it runs.
pub fn kubeconfig_path(name: &str) -> PathBuf {
    rundir::base().join(name).join("kubeconfig")
}

/// A kubeconfig for the API at `server` (plain HTTP on loopback) with bearer `token`, context
/// `podlab-NAME`.
fn kubeconfig(name: &str, server: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: podlab-{name}\n  cluster:\n    server: http://{server}\ncontexts:\n- name: podlab-{name}\n  context:\n    cluster: podlab-{name}\n    user: podlab-{name}\n    namespace: default\ncurrent-context: podlab-{name}\nusers:\n- name: podlab-{name}\n  user:\n    token: {token}\n"
    )
}

/// Writes cluster `name`'s kubeconfig, readable by its owner only; its path.
pub fn write(name: &str, server: &str, token: &str) -> Result<PathBuf> {
    use std::io::Write;
    let path = kubeconfig_path(name);
    let _ = std::fs::remove_file(&path);
    // Created 0600, never readable by others even for a moment.
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(kubeconfig(name, server, token).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

/// The cluster's Kubernetes API as a raw HTTP client needs it.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// `127.0.0.1:PORT`.
    pub address: String,
    /// The bearer token, for `Authorization: Bearer …`.
    pub token: String,
}

impl Endpoint {
    /// The `Authorization` header line of a request (with its CRLF).
    pub fn authorization(&self) -> String {
        format!("Authorization: Bearer {}\r\n", self.token)
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    clusters: Vec<NamedCluster>,
    #[serde(default)]
    users: Vec<NamedUser>,
}

#[derive(Deserialize)]
struct NamedCluster {
    name: String,
    cluster: ClusterEntry,
}

#[derive(Deserialize)]
struct NamedUser {
    name: String,
    user: UserEntry,
}

#[derive(Deserialize)]
struct ClusterEntry {
    server: String,
}

#[derive(Deserialize)]
struct UserEntry {
    token: Option<String>,
}

/// Cluster `name`'s API address and token, from its kubeconfig.
pub fn endpoint(name: &str) -> Result<Endpoint> {
    let path = kubeconfig_path(name);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let file: File = serde_saphyr::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    let entry = format!("podlab-{name}");
    let address = file
        .clusters
        .into_iter()
        .find(|c| c.name == entry)
        .and_then(|c| c.cluster.server.strip_prefix("http://").map(str::to_string))
        .ok_or_else(|| anyhow!("no http server for cluster {entry} in {}", path.display()))?;
    let token = file
        .users
        .into_iter()
        .find(|u| u.name == entry)
        .and_then(|u| u.user.token)
        .ok_or_else(|| anyhow!("no token for user {entry} in {}", path.display()))?;
    Ok(Endpoint { address, token })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kubeconfig_carries_the_token_and_reads_back() {
        let text = kubeconfig("demo", "127.0.0.1:4242", "abc123");
        assert!(
            text.contains("users:\n- name: podlab-demo\n  user:\n    token: abc123\n"),
            "{text}"
        );
        let file: File = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(file.clusters[0].cluster.server, "http://127.0.0.1:4242");
        assert_eq!(file.users[0].user.token.as_deref(), Some("abc123"));
        let e = Endpoint {
            address: "127.0.0.1:4242".into(),
            token: "abc123".into(),
        };
        assert_eq!(e.authorization(), "Authorization: Bearer abc123\r\n");
    }
}
