//! `podlab get -w`: the table once, then each row again whenever it changes (AGE aside), as
//! kubectl's watch prints.

use super::get::{Args, render};
use crate::daemon::Conn;
use crate::protocol::Reply;
use anyhow::Result;
use podlab_control_plane::Cluster;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// A row's identity: NAME, or NAMESPACE and NAME with `-A`.
fn row_key(line: &str, with_namespace: bool) -> String {
    let n = if with_namespace { 2 } else { 1 };
    line.split_whitespace().take(n).collect::<Vec<_>>().join(" ")
}

/// A row without its AGE-like cells (they change every second).
fn without_age(s: &str) -> String {
    s.split_whitespace()
        .filter(|w| !w.ends_with('s') || w.parse::<f64>().is_ok())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Streams the table, then changed rows, until the client goes away or the cluster stops.
pub async fn serve(cluster: &Arc<Cluster>, args: &Args, conn: &mut Conn) -> Result<()> {
    let first = render(cluster, args)?;
    let mut seen: BTreeMap<String, String> = first
        .lines()
        .skip(1)
        .map(|l| (row_key(l, args.all_namespaces), l.to_string()))
        .collect();
    if !conn.send(Reply::Out { text: first }).await {
        return Ok(());
    }
    let mut rx = cluster.subscribe();
    loop {
        if tokio::time::timeout(Duration::from_secs(1), rx.changed())
            .await
            .is_ok_and(|r| r.is_err())
        {
            return Ok(());
        }
        let now = render(cluster, args).unwrap_or_default();
        let mut text = String::new();
        for l in now.lines().skip(1) {
            let k = row_key(l, args.all_namespaces);
            if seen.get(&k).map(|o| without_age(o)) != Some(without_age(l)) {
                text += l;
                text.push('\n');
                seen.insert(k, l.to_string());
            }
        }
        if !text.is_empty() && !conn.send(Reply::Out { text }).await {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_compared_without_their_age() {
        assert_eq!(without_age("web 1/1 Running 0 5s"), without_age("web 1/1 Running 0 6s"));
        assert_ne!(without_age("web 1/1 Running 0 5s"), without_age("web 0/1 Pending 0 5s"));
        assert_eq!(row_key("default web 1/1", true), "default web");
    }
}
