//! The `cluster:` part of a scenario: nodes (list or generator form, read in [`nodes`]),
//! address ranges, scheduler settings and time scale, with defaults and checks.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;
use k8s_openapi::api::core::v1::Node as K8sNode;

use crate::error::LoadError;
use crate::images::{self, ImageSpec};
use crate::links::{self, LinkSpec};
use crate::names;
use crate::objects::Ctx;
use crate::walk::{self, Map};
use nodes::{capacity_defaults, make_node, parse_nodes};

mod nodes;
use crate::yaml::{Node, Value};

/// Default node CPU capacity.
pub const DEFAULT_CPU: &str = "2";
/// Default node memory capacity.
pub const DEFAULT_MEMORY: &str = "4Gi";
/// Default number of pods per node.
pub const DEFAULT_PODS: &str = "110";

/// The simulated cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterSpec {
    /// Cluster name (default "podlab").
    pub name: String,
    /// Worker nodes: labels (incl. `kubernetes.io/hostname`), `spec.taints`,
    /// `spec.unschedulable`, `spec.podCIDR`, `status.capacity` and `status.allocatable`.
    pub nodes: Vec<K8sNode>,
    /// The flat pod address range (default 10.244.0.0/16).
    pub pod_cidr: Ipv4Network,
    /// Prefix length of each node's share of `pod_cidr` (default 24).
    pub node_cidr_prefix: u8,
    /// The range node addresses live in on the fabric bridge (default 172.18.0.0/16).
    pub fabric_cidr: Ipv4Network,
    /// Scheduler settings.
    pub scheduler: SchedulerSpec,
    /// Multiplies back-off timers; below 1.0 makes lessons and tests faster (default 1.0).
    pub time_scale: f64,
    /// Extra images the simulated registry serves (`cluster.registry`); the built-in catalog
    /// is always in the registry too. Empty by default.
    pub registry: Vec<ImageSpec>,
    /// Shaping of every node's uplink (`cluster.links`); bare veth by default.
    pub links: LinkSpec,
    /// Per-node overrides (`cluster.nodes[].uplink`), by node name; fields set here replace
    /// those of `links` for that node.
    pub uplinks: BTreeMap<String, LinkSpec>,
    /// The dataplane the scenario asks for (`cluster.dataplane: kernel|model`); `None` lets the
    /// command line choose (kernel by default). A scale scenario pins `model`.
    pub dataplane: Option<String>,
}

/// Scheduler settings of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchedulerSpec {
    /// Seed for tie-breaking between equally good nodes (default 0).
    pub seed: u64,
    /// Scoring strategy: "LeastAllocated" (default, spread) or "MostAllocated" (pack).
    pub scoring: String,
    /// Score plugin weights that replace kube-scheduler's defaults, by plugin name
    /// (`TaintToleration`, `NodeAffinity`, `NodeResourcesFit`, `PodTopologySpread`,
    /// `InterPodAffinity`, `NodeResourcesBalancedAllocation`, `ImageLocality`).
    pub weights: BTreeMap<String, i64>,
    /// kube-scheduler's `percentageOfNodesToScore` (default: adaptive).
    pub percentage_of_nodes_to_score: Option<u32>,
}

/// Score plugins whose weight a scenario may set.
pub const SCORE_PLUGINS: [&str; 7] = [
    "TaintToleration",
    "NodeAffinity",
    "NodeResourcesFit",
    "PodTopologySpread",
    "InterPodAffinity",
    "NodeResourcesBalancedAllocation",
    "ImageLocality",
];

impl Default for SchedulerSpec {
    fn default() -> Self {
        SchedulerSpec {
            seed: 0,
            scoring: "LeastAllocated".into(),
            weights: BTreeMap::new(),
            percentage_of_nodes_to_score: None,
        }
    }
}

/// Scoring strategies the scheduler implements.
pub const SCORING_STRATEGIES: [&str; 2] = ["LeastAllocated", "MostAllocated"];

impl Default for ClusterSpec {
    /// Two nodes, `worker-1` and `worker-2`, with default capacity and address ranges.
    fn default() -> Self {
        let pod_cidr = Ipv4Network::new(Ipv4Addr::new(10, 244, 0, 0), 16)
            .unwrap_or_else(|_| unreachable!("constant network is valid"));
        let fabric_cidr = Ipv4Network::new(Ipv4Addr::new(172, 18, 0, 0), 16)
            .unwrap_or_else(|_| unreachable!("constant network is valid"));
        let mut spec = ClusterSpec {
            name: "podlab".into(),
            nodes: ["worker-1", "worker-2"]
                .iter()
                .map(|n| make_node(n, &BTreeMap::new(), capacity_defaults(), vec![], false))
                .collect(),
            pod_cidr,
            node_cidr_prefix: 24,
            fabric_cidr,
            scheduler: SchedulerSpec::default(),
            time_scale: 1.0,
            registry: Vec::new(),
            links: LinkSpec::default(),
            uplinks: BTreeMap::new(),
            dataplane: None,
        };
        assign_pod_cidrs(&mut spec);
        spec
    }
}

impl ClusterSpec {
    /// The pod range of the node at `index` (0-based): block `index + 1` of `pod_cidr`, so
    /// worker-1 gets 10.244.1.0/24 and worker-N 10.244.N.0/24 by default. Block 0 stays free,
    /// as in kind, where the control-plane node holds it.
    pub fn node_pod_cidr(&self, index: usize) -> Option<Ipv4Network> {
        let size = 1u64 << (32 - u32::from(self.node_cidr_prefix));
        let base = u64::from(u32::from(self.pod_cidr.network()));
        let start = base + size * (index as u64 + 1);
        if self.node_cidr_prefix < self.pod_cidr.prefix() || index as u64 >= self.node_ranges() {
            return None;
        }
        let start = u32::try_from(start).ok()?;
        Ipv4Network::new(Ipv4Addr::from(start), self.node_cidr_prefix).ok()
    }

    /// The shaping of node `node`'s uplink: `links` with the node's `uplink` fields on top.
    pub fn uplink(&self, node: &str) -> LinkSpec {
        match self.uplinks.get(node) {
            Some(over) => self.links.overridden_by(over),
            None => self.links,
        }
    }

    /// How many node ranges fit in `pod_cidr` (block 0 is kept free, see `node_pod_cidr`).
    pub fn node_ranges(&self) -> u64 {
        let bits = u32::from(self.node_cidr_prefix).saturating_sub(u32::from(self.pod_cidr.prefix()));
        (1u64 << bits.min(32)) - 1
    }
}

/// Puts each shaped node's uplink on the node as the [`links::UPLINK_ANNOTATION`].
fn annotate_uplinks(spec: &mut ClusterSpec) {
    let shaped: Vec<(usize, LinkSpec)> = spec
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (i, spec.uplink(n.metadata.name.as_deref().unwrap_or_default())))
        .filter(|(_, l)| !l.is_bare())
        .collect();
    for (i, l) in shaped {
        spec.nodes[i]
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(links::UPLINK_ANNOTATION.to_string(), l.to_annotation());
    }
}

fn assign_pod_cidrs(spec: &mut ClusterSpec) {
    let cidrs: Vec<Option<Ipv4Network>> = (0..spec.nodes.len()).map(|i| spec.node_pod_cidr(i)).collect();
    for (node, cidr) in spec.nodes.iter_mut().zip(cidrs) {
        if let (Some(ns), Some(c)) = (node.spec.as_mut(), cidr) {
            ns.pod_cidr = Some(c.to_string());
            ns.pod_cidrs = Some(vec![c.to_string()]);
        }
    }
}

/// Reads `cluster:`; `None` gives the defaults.
pub(crate) fn parse(node: Option<&Node>, ctx: &mut Ctx<'_>) -> Result<ClusterSpec, LoadError> {
    let mut spec = ClusterSpec::default();
    let Some(node) = node.filter(|n| n.value != Value::Null) else {
        return Ok(spec);
    };
    let m = Map::new(node, "cluster", ctx)?;
    m.warn_unknown(
        &[
            "name",
            "nodes",
            "podCIDR",
            "nodeCIDRPrefix",
            "fabricCIDR",
            "scheduler",
            "timeScale",
            "registry",
            "links",
            "dataplane",
        ],
        ctx,
    );
    if let Some(dp) = m.string("dataplane", ctx)? {
        if !["kernel", "model"].contains(&dp.as_str()) {
            return Err(walk::error(
                m.get("dataplane").unwrap_or(node),
                "cluster.dataplane",
                &format!(
                    "Unsupported value: {dp:?}: supported values: \"kernel\" (real namespaces, veths and processes), \"model\" (computed, nothing in the kernel)"
                ),
                ctx,
            ));
        }
        spec.dataplane = Some(dp);
    }
    if let Some(name) = m.string("name", ctx)? {
        if let Some(p) = names::dns1123_label(&name).into_iter().next() {
            return Err(walk::error(
                m.get("name").unwrap_or(node),
                "cluster.name",
                &format!("Invalid value: {name:?}: {p}"),
                ctx,
            ));
        }
        spec.name = name;
    }
    if let Some(nodes) = m.get("nodes") {
        spec.nodes = parse_nodes(nodes, ctx)?;
        spec.uplinks = parse_uplinks(nodes, &spec.nodes, ctx)?;
    }
    if let Some(l) = m.get("links") {
        spec.links = links::parse(l, "cluster.links", ctx)?;
    }
    if let Some(n) = m.get("podCIDR") {
        spec.pod_cidr = cidr(n, "cluster.podCIDR", ctx)?;
    }
    if let Some(n) = m.get("fabricCIDR") {
        spec.fabric_cidr = cidr(n, "cluster.fabricCIDR", ctx)?;
    }
    if let Some(p) = m.uint("nodeCIDRPrefix", 32, ctx)? {
        spec.node_cidr_prefix = p as u8;
    }
    if let Some(s) = m.get("scheduler") {
        let sm = Map::new(s, "cluster.scheduler", ctx)?;
        sm.warn_unknown(&["seed", "scoring", "weights", "percentageOfNodesToScore"], ctx);
        if let Some(p) = sm.uint("percentageOfNodesToScore", 100, ctx)? {
            spec.scheduler.percentage_of_nodes_to_score = Some(p as u32);
        }
        if let Some(w) = sm.get("weights") {
            let wm = Map::new(w, "cluster.scheduler.weights", ctx)?;
            for plugin in SCORE_PLUGINS {
                if let Some(v) = wm.uint(plugin, 100, ctx)? {
                    spec.scheduler.weights.insert(plugin.to_string(), v as i64);
                }
            }
            wm.warn_unknown(&SCORE_PLUGINS, ctx);
        }
        if let Some(seed) = sm.uint("seed", u64::MAX, ctx)? {
            spec.scheduler.seed = seed;
        }
        if let Some(scoring) = sm.string("scoring", ctx)? {
            if !SCORING_STRATEGIES.contains(&scoring.as_str()) {
                return Err(walk::error(
                    sm.get("scoring").unwrap_or(s),
                    "cluster.scheduler.scoring",
                    &format!(
                        "Unsupported value: {scoring:?}: supported values: \"LeastAllocated\" (spread pods over nodes), \"MostAllocated\" (pack pods onto few nodes)"
                    ),
                    ctx,
                ));
            }
            spec.scheduler.scoring = scoring;
        }
    }
    if let Some(ts) = m.float("timeScale", ctx)? {
        if !(ts.is_finite() && ts > 0.0) {
            return Err(walk::error(
                m.get("timeScale").unwrap_or(node),
                "cluster.timeScale",
                &format!("{ts} must be a number greater than 0 (1.0 is real time, 0.1 runs timers 10 times faster)"),
                ctx,
            ));
        }
        spec.time_scale = ts;
    }
    if let Some(r) = m.get("registry").filter(|r| r.value != Value::Null) {
        spec.registry = images::parse_list(r, "cluster.registry", false, ctx)?;
    }
    check_ranges(&spec, &m, ctx)?;
    assign_pod_cidrs(&mut spec);
    annotate_uplinks(&mut spec);
    Ok(spec)
}

fn cidr(node: &Node, path: &str, ctx: &Ctx<'_>) -> Result<Ipv4Network, LoadError> {
    let text = walk::string(node, path, ctx)?;
    let net: Ipv4Network = text.parse().map_err(|e| {
        walk::error(
            node,
            path,
            &format!("{text:?} is not an IPv4 range in CIDR form like 10.244.0.0/16 ({e})"),
            ctx,
        )
    })?;
    if net.ip() != net.network() {
        return Err(walk::error(
            node,
            path,
            &format!(
                "{text} is not the start of its range (did you mean {}/{}?)",
                net.network(),
                net.prefix()
            ),
            ctx,
        ));
    }
    Ok(net)
}

fn check_ranges(spec: &ClusterSpec, m: &Map<'_>, ctx: &Ctx<'_>) -> Result<(), LoadError> {
    let at = |key: &str| m.get(key).unwrap_or(m.node);
    let prefix = spec.node_cidr_prefix;
    if prefix < spec.pod_cidr.prefix() || prefix > 30 {
        return Err(walk::error(
            at("nodeCIDRPrefix"),
            "cluster.nodeCIDRPrefix",
            &format!(
                "{prefix} must be between the podCIDR prefix ({}) and 30, so each node's range fits inside podCIDR and holds a gateway and pods",
                spec.pod_cidr.prefix()
            ),
            ctx,
        ));
    }
    let room = spec.node_ranges();
    if (spec.nodes.len() as u64) > room {
        return Err(walk::error(
            at("podCIDR"),
            "cluster.podCIDR",
            &format!(
                "podCIDR {} has room for {room} /{prefix} node ranges, but the cluster has {} nodes (use a larger range such as a /16, or a longer nodeCIDRPrefix)",
                spec.pod_cidr,
                spec.nodes.len()
            ),
            ctx,
        ));
    }
    let fabric_room = 1u64 << (32 - u32::from(spec.fabric_cidr.prefix()));
    if (spec.nodes.len() as u64) + 3 > fabric_room {
        return Err(walk::error(
            at("fabricCIDR"),
            "cluster.fabricCIDR",
            &format!(
                "fabricCIDR {} has room for {} node addresses, but the cluster has {} nodes",
                spec.fabric_cidr,
                fabric_room.saturating_sub(3),
                spec.nodes.len()
            ),
            ctx,
        ));
    }
    let (a, b) = (spec.pod_cidr, spec.fabric_cidr);
    if a.contains(b.network()) || b.contains(a.network()) {
        return Err(walk::error(
            at("fabricCIDR"),
            "cluster.fabricCIDR",
            &format!(
                "the pod range {a} and the fabric range {b} overlap: pod addresses and node addresses must come from separate ranges"
            ),
            ctx,
        ));
    }
    Ok(())
}

/// `uplink:` of each node entry (list form), or of every generated node (generator form).
fn parse_uplinks(node: &Node, nodes: &[K8sNode], ctx: &mut Ctx<'_>) -> Result<BTreeMap<String, LinkSpec>, LoadError> {
    let mut out = BTreeMap::new();
    match &node.value {
        Value::Seq(items) => {
            for (i, (item, n)) in items.iter().zip(nodes).enumerate() {
                if let Some(u) = item.get("uplink") {
                    let spec = links::parse(u, &format!("cluster.nodes[{i}].uplink"), ctx)?;
                    out.insert(n.metadata.name.clone().unwrap_or_default(), spec);
                }
            }
        }
        _ => {
            if let Some(u) = node.get("uplink") {
                let spec = links::parse(u, "cluster.nodes.uplink", ctx)?;
                for n in nodes {
                    out.insert(n.metadata.name.clone().unwrap_or_default(), spec);
                }
            }
        }
    }
    Ok(out)
}
