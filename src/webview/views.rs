//! The page's read-only kernel views (`/x/NAME?...`), as JSON. Each asks the daemon's own verb
//! (topology, routes, trace, why, explain-placement: one implementation, the CLI's), or runs the
//! machine's `ip`/`tcpdump` inside a pod's or node's network namespace the way `podlab capture`
//! does.

use super::{Ctx, stepper};
use crate::protocol::{Reply, Request};
use crate::verbs::{self, ClusterArg, exec, split_target};
use anyhow::{Result, anyhow, bail};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Answers `/x/{view}`.
pub fn answer(view: &str, q: &HashMap<String, String>, ctx: &Ctx) -> Result<Value> {
    let arg = |k: &str| {
        q.get(k)
            .cloned()
            .ok_or_else(|| anyhow!("missing query parameter {k:?}"))
    };
    let ns = q.get("namespace").cloned().unwrap_or_else(|| "default".into());
    let c = ClusterArg {
        cluster: ctx.cluster.clone(),
    };
    match view {
        "info" => Ok(json!({"cluster": ctx.cluster})),
        "topology" => daemon_json(
            ctx,
            &Request::Topology(verbs::topology::Args {
                format: "json".into(),
                c,
            }),
        ),
        "routes" => daemon_json(
            ctx,
            &Request::Routes(verbs::routes::Args {
                target: arg("target")?,
                output: Some("json".into()),
                namespace: ns,
                c,
            }),
        ),
        "trace" => stepper::verified_trace(ctx, &trace_args(&arg("src")?, &arg("dst")?, &ns, c)),
        "why" => daemon_json(ctx, &Request::Why(trace_args(&arg("src")?, &arg("dst")?, &ns, c))),
        "placement" => {
            let req = Request::ExplainPlacement(verbs::explain_placement::Args {
                pod: arg("pod")?,
                namespace: ns,
                c,
            });
            let (code, out, err) = daemon(ctx, &req)?;
            if code != 0 {
                bail!("{}", err.trim());
            }
            Ok(json!({"text": out}))
        }
        "neighbours" => neighbours(ctx, &arg("target")?, &ns),
        "capture" => {
            let secs = q
                .get("seconds")
                .and_then(|s| s.parse().ok())
                .unwrap_or(3u64)
                .clamp(1, 10);
            capture_list(ctx, &arg("target")?, &ns, Duration::from_secs(secs))
        }
        _ => bail!("no view named {view:?}"),
    }
}

fn trace_args(src: &str, dst: &str, ns: &str, c: ClusterArg) -> verbs::trace::Args {
    verbs::trace::Args {
        src: src.into(),
        dst: dst.into(),
        output: Some("json".into()),
        namespace: ns.into(),
        c,
    }
}

/// One daemon verb: exit code, stdout, stderr.
pub(super) fn daemon(ctx: &Ctx, req: &Request) -> Result<(i32, String, String)> {
    crate::client::call_collect(&ctx.cluster, req)
}

/// A verb asked for `-o json`: its JSON, or its error text (exit codes other than 0 still
/// carry a JSON answer, e.g. a broken trace).
pub(super) fn daemon_json(ctx: &Ctx, req: &Request) -> Result<Value> {
    let (_, out, err) = daemon(ctx, req)?;
    serde_json::from_str(&out).map_err(|_| anyhow!("{}", err.trim()))
}

/// The sandbox pid whose network namespace a trace label or target names: `fabric` (the
/// daemon's own), `node NAME` / `node/NAME`, `pod NS/NAME` / `NAME`.
pub(super) fn netns_pid(ctx: &Ctx, label: &str, ns: &str) -> Result<i32> {
    if label == "fabric" {
        let (_, other) = crate::client::call_quiet(&ctx.cluster, &Request::Status)?;
        return match other.first() {
            Some(Reply::Status { pid, .. }) => Ok(i32::try_from(*pid)?),
            _ => bail!("the daemon did not say its pid"),
        };
    }
    let (kind, ns, name) = if let Some(n) = label.strip_prefix("node ") {
        ("node", ns, n)
    } else if let Some(p) = label.strip_prefix("pod ") {
        let (pns, name) = p.split_once('/').unwrap_or((ns, p));
        ("pod", pns, name)
    } else {
        let (k, n) = split_target(label);
        (k, ns, n)
    };
    Ok(exec::target(&ctx.cluster, kind, name, ns, None)?.pid)
}

/// The neighbour (ARP) table in the namespace of `pid` (a pod's or node's sandbox, or the daemon
/// for the fabric's), in `ip -j neigh`'s field names.
pub(super) fn neighbours_of(pid: i32) -> Result<Value> {
    let netns = podlab_netplugin::Netns::from_pid(pid as u32)?;
    Ok(serde_json::to_value(podlab_netplugin::neighbours::of(&netns)?)?)
}

fn neighbours(ctx: &Ctx, target: &str, ns: &str) -> Result<Value> {
    let pid = netns_pid(ctx, target, ns)?;
    Ok(json!({"target": target, "neighbours": neighbours_of(pid)?}))
}

/// A short capture as a packet list, one entry per packet (IPv4 and ARP).
fn capture_list(ctx: &Ctx, target: &str, ns: &str, limit: Duration) -> Result<Value> {
    let (kind, rest) = split_target(target);
    let (obj, iface) = match rest.split_once('/') {
        Some((o, i)) if !i.is_empty() => (o, i),
        _ => (rest, if kind == "pod" { "eth0" } else { "any" }),
    };
    let pid = netns_pid(ctx, &format!("{kind}/{obj}"), ns)?;
    let packets = stepper::Capture::start(pid, iface, stepper::Want::IpOrArp, 50)?.finish(limit);
    Ok(json!({"target": target, "interface": iface, "seconds": limit.as_secs(), "packets": packets}))
}
