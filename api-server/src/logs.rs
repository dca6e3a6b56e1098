//! `GET …/pods/NAME/log` (`container`, `follow`, `previous`, `tailLines`; `timestamps` and
//! `sinceSeconds` are answered with a warning: podlab keeps no per-line times): a container's
//! output from the node agent's in-memory log.

use crate::request::Query;
use axum::body::{Body, Bytes};
use podlab_control_plane::{ApiError, Cluster, Key};
use std::sync::Arc;
use std::time::Duration;

/// The text to send now, or why not (kube-apiserver's 400s for a container that has not
/// started); `podlab logs` answers the same way.
pub fn read(cluster: &Cluster, key: &Key, container: Option<&str>, previous: bool) -> Result<String, ApiError> {
    let pod = cluster.get_pod(key)?;
    let spec = pod.spec.clone().unwrap_or_default();
    let names: Vec<&str> = spec.containers.iter().map(|c| c.name.as_str()).collect();
    let chosen = match container {
        Some(c) if !names.contains(&c) && !spec.init_containers.iter().flatten().any(|i| i.name == c) => {
            return Err(ApiError::BadRequest(format!(
                "container {c} is not valid for pod {}",
                key.1
            )));
        }
        Some(c) => c.to_string(),
        None if names.len() == 1 => names[0].to_string(),
        None => {
            return Err(ApiError::BadRequest(format!(
                "a container name must be specified for pod {}, choose one of: [{}]",
                key.1,
                names.join(" ")
            )));
        }
    };
    let text = cluster
        .with_entry(key, |e| e.handle.as_ref().and_then(|h| h.logs(Some(&chosen), previous)))
        .flatten();
    match text {
        Some(t) => Ok(t),
        None if previous => Err(ApiError::BadRequest(format!(
            "previous terminated container \"{chosen}\" in pod \"{}\" not found",
            key.1
        ))),
        None => {
            let waiting = pod
                .status
                .iter()
                .flat_map(|s| s.container_statuses.iter().flatten())
                .find(|c| c.name == chosen)
                .and_then(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone())
                .unwrap_or_else(|| "ContainerCreating".into());
            Err(ApiError::BadRequest(format!(
                "container \"{chosen}\" in pod \"{}\" is waiting to start: {waiting}",
                key.1
            )))
        }
    }
}

fn tail(text: &str, lines: Option<u64>) -> String {
    match lines {
        None => text.to_string(),
        Some(n) => {
            let all: Vec<&str> = text.lines().collect();
            let from = all.len().saturating_sub(n as usize);
            all[from..].iter().map(|l| format!("{l}\n")).collect()
        }
    }
}

/// The log, once or followed. Returns the body and the warnings to send with it.
pub fn logs(cluster: Arc<Cluster>, key: Key, q: &Query) -> Result<(Body, Vec<String>), ApiError> {
    let container = q.get("container").map(str::to_string);
    let previous = q.flag("previous");
    let follow = q.flag("follow");
    let mut warnings = Vec::new();
    for p in ["timestamps", "sinceSeconds", "sinceTime", "limitBytes"] {
        if q.get(p).is_some_and(|v| v != "false") {
            warnings.push(format!("podlab ignores {p}: its logs keep no per-line times or sizes"));
        }
    }
    let first = read(&cluster, &key, container.as_deref(), previous)?;
    let first = tail(&first, q.number("tailLines")?);
    if !follow {
        return Ok((Body::from(first), warnings));
    }
    let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(16);
    tokio::spawn(async move {
        use futures::SinkExt;
        let mut sent = read(&cluster, &key, container.as_deref(), previous).unwrap_or_default();
        if tx.send(Ok(Bytes::from(first))).await.is_err() {
            return;
        }
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let Ok(now) = read(&cluster, &key, container.as_deref(), previous) else {
                return;
            };
            let new = match now.strip_prefix(sent.as_str()) {
                Some(rest) => rest.to_string(),
                None => now.clone(),
            };
            sent = now;
            if !new.is_empty() && tx.send(Ok(Bytes::from(new))).await.is_err() {
                return;
            }
        }
    });
    Ok((Body::from_stream(rx), warnings))
}
