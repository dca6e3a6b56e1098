//! The scenario's `compare:` block: the traffic `podlab compare` measures
//! (`traffic: {from, to, port, requests}`) and which containers are the tiers
//! (`tiers: {frontend, backend}`), each endpoint written `POD` or `POD/CONTAINER`.

use crate::error::LoadError;
use crate::names;
use crate::objects::Ctx;
use crate::walk::{self, Map};
use crate::yaml::{Node, Value};

/// Most requests one comparison may send.
pub const MAX_REQUESTS: u64 = 100_000;

/// A container to measure from or to: pod name (or the name of the Deployment/ReplicaSet
/// whose pods are meant: `web` matches pod `web-7d4f9-x2k8q`) and optionally a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Pod name, or its owner's name (a prefix up to `-`).
    pub pod: String,
    /// Container name; `None` means the pod's first container.
    pub container: Option<String>,
}

impl Endpoint {
    /// True if pod `name` is this endpoint's pod (same name, or `<pod>-...` from an owner).
    pub fn matches_pod(&self, name: &str) -> bool {
        name == self.pod || name.strip_prefix(&self.pod).is_some_and(|r| r.starts_with('-'))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.container {
            Some(c) => write!(f, "{}/{c}", self.pod),
            None => f.write_str(&self.pod),
        }
    }
}

/// Declared traffic: HTTP requests from one container to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrafficSpec {
    /// Where the requests start (inside this pod's network namespace).
    pub from: Endpoint,
    /// Where they go.
    pub to: Endpoint,
    /// Target port; `None`: the target container's first declared port.
    pub port: Option<u16>,
    /// How many requests; `None`: the command line's `--requests`.
    pub requests: Option<usize>,
}

/// Which containers are the frontend and the backend tier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TiersSpec {
    /// The frontend tier's container.
    pub frontend: Option<Endpoint>,
    /// The backend tier's container.
    pub backend: Option<Endpoint>,
}

/// The `compare:` block of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CompareSpec {
    /// Traffic to measure; without it, frontend → backend found by name is measured.
    pub traffic: Option<TrafficSpec>,
    /// Tier containers; without it, tiers are found by container name or `tier` label.
    pub tiers: Option<TiersSpec>,
}

fn endpoint(node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<Endpoint, LoadError> {
    let text = walk::string(node, path, ctx)?;
    let (pod, container) = match text.split_once('/') {
        Some((p, c)) => (p.to_string(), Some(c.to_string())),
        None => (text.clone(), None),
    };
    let bad = |why: String| walk::error(node, path, &format!("Invalid value: {text:?}: {why}"), ctx);
    if let Some(p) = names::dns1123_subdomain(&pod).into_iter().next() {
        return Err(bad(format!("write POD or POD/CONTAINER; the pod name is invalid: {p}")));
    }
    if let Some(c) = &container
        && let Some(p) = names::dns1123_label(c).into_iter().next()
    {
        return Err(bad(format!(
            "write POD or POD/CONTAINER; the container name is invalid: {p}"
        )));
    }
    Ok(Endpoint { pod, container })
}

fn required<'n>(m: &Map<'n>, key: &str, what: &str, ctx: &Ctx<'_>) -> Result<&'n Node, LoadError> {
    m.get(key)
        .ok_or_else(|| walk::error(m.node, &m.child(key), &format!("Required value: {what}"), ctx))
}

/// Reads `compare:`; `None`/null gives `None`.
pub(crate) fn parse(node: Option<&Node>, ctx: &mut Ctx<'_>) -> Result<Option<CompareSpec>, LoadError> {
    let Some(node) = node.filter(|n| n.value != Value::Null) else {
        return Ok(None);
    };
    let m = Map::new(node, "compare", ctx)?;
    m.warn_unknown(&["traffic", "tiers"], ctx);
    let mut spec = CompareSpec::default();
    if let Some(t) = m.get("traffic").filter(|t| t.value != Value::Null) {
        let tm = Map::new(t, "compare.traffic", ctx)?;
        tm.warn_unknown(&["from", "to", "port", "requests"], ctx);
        let from = endpoint(
            required(
                &tm,
                "from",
                "the pod (POD or POD/CONTAINER) the requests start from",
                ctx,
            )?,
            "compare.traffic.from",
            ctx,
        )?;
        let to = endpoint(
            required(&tm, "to", "the pod (POD or POD/CONTAINER) the requests go to", ctx)?,
            "compare.traffic.to",
            ctx,
        )?;
        let port = match tm.get("port") {
            Some(p) => {
                let v = walk::uint(p, "compare.traffic.port", 65535, ctx)?;
                if v == 0 {
                    return Err(walk::error(
                        p,
                        "compare.traffic.port",
                        "Invalid value: 0: must be between 1 and 65535, inclusive",
                        ctx,
                    ));
                }
                Some(v as u16)
            }
            None => None,
        };
        let requests = match tm.get("requests") {
            Some(r) => {
                let v = walk::uint(r, "compare.traffic.requests", MAX_REQUESTS, ctx)?;
                if v == 0 {
                    return Err(walk::error(
                        r,
                        "compare.traffic.requests",
                        &format!("Invalid value: 0: must be between 1 and {MAX_REQUESTS}"),
                        ctx,
                    ));
                }
                Some(v as usize)
            }
            None => None,
        };
        spec.traffic = Some(TrafficSpec {
            from,
            to,
            port,
            requests,
        });
    }
    if let Some(t) = m.get("tiers").filter(|t| t.value != Value::Null) {
        let tm = Map::new(t, "compare.tiers", ctx)?;
        tm.warn_unknown(&["frontend", "backend"], ctx);
        let mut tiers = TiersSpec::default();
        if let Some(f) = tm.get("frontend") {
            tiers.frontend = Some(endpoint(f, "compare.tiers.frontend", ctx)?);
        }
        if let Some(b) = tm.get("backend") {
            tiers.backend = Some(endpoint(b, "compare.tiers.backend", ctx)?);
        }
        spec.tiers = Some(tiers);
    }
    Ok(Some(spec))
}
