//! Cluster addressing: pod range, per-node subnets, node IPs on the fabric, and the
//! plain data types (node, pod, route) that the rest of podlab passes around.

use std::fmt;
use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use crate::NetError;

/// The bridge + host-gw layout's interface names, for callers that predate the layout seam
/// (new code asks [`crate::layout::NetworkLayout`] instead).
pub use crate::layout::{FABRIC_BRIDGE, NODE_BRIDGE, NODE_UPLINK, POD_IFACE};

/// The address plan of a whole cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterNetwork {
    /// Flat range every pod address comes from (default `10.244.0.0/16`).
    pub pod_cidr: Ipv4Network,
    /// Prefix length of each node's slice of `pod_cidr` (default 24).
    pub node_prefix: u8,
    /// The fabric network joining the nodes (default `172.18.0.0/16`, bridge at host 1).
    pub fabric_cidr: Ipv4Network,
}

impl Default for ClusterNetwork {
    /// kind-like defaults: `10.244.0.0/16`, `/24` per node, fabric `172.18.0.0/16`.
    fn default() -> Self {
        ClusterNetwork {
            pod_cidr: Ipv4Network::new(Ipv4Addr::new(10, 244, 0, 0), 16).expect("valid"),
            node_prefix: 24,
            fabric_cidr: Ipv4Network::new(Ipv4Addr::new(172, 18, 0, 0), 16).expect("valid"),
        }
    }
}

fn net_base(n: &Ipv4Network) -> u32 {
    u32::from(n.network())
}

fn net_size(prefix: u8) -> u64 {
    1u64 << (32 - u32::from(prefix))
}

impl ClusterNetwork {
    /// Checks the plan is usable: node subnets inside the pod range, room for hosts.
    pub fn validate(&self) -> Result<(), NetError> {
        let bad = |m: String| Err(NetError::InvalidConfig(m));
        if self.node_prefix < self.pod_cidr.prefix() {
            return bad(format!(
                "node prefix /{} is larger than the pod range {}",
                self.node_prefix, self.pod_cidr
            ));
        }
        if self.node_prefix > 30 {
            return bad(format!(
                "node prefix /{} leaves no room for pods (at most /30)",
                self.node_prefix
            ));
        }
        if self.fabric_cidr.prefix() > 30 {
            return bad(format!("fabric range {} is too small", self.fabric_cidr));
        }
        if self.pod_cidr.overlaps(self.fabric_cidr) {
            return bad(format!(
                "pod range {} overlaps the fabric range {}",
                self.pod_cidr, self.fabric_cidr
            ));
        }
        Ok(())
    }

    /// Number of node subnets in the pod range (subnet 0 is never used).
    pub fn subnet_count(&self) -> u64 {
        1u64 << (u32::from(self.node_prefix.saturating_sub(self.pod_cidr.prefix())))
    }

    /// The fabric bridge address (host 1 of the fabric range) and its prefix.
    pub fn fabric_gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(net_base(&self.fabric_cidr) + 1)
    }

    /// Addressing of node `index` (1-based): subnet `index` of the pod range, fabric host `index+1`.
    pub fn node(&self, index: u32, name: &str) -> Result<NodeAddressing, NetError> {
        self.validate()?;
        let out = |reason: String| NetError::NodeIndexOutOfRange {
            name: name.to_string(),
            index,
            reason,
        };
        if index == 0 {
            return Err(out("node indexes start at 1".into()));
        }
        let count = self.subnet_count();
        if u64::from(index) >= count {
            return Err(out(format!(
                "pod range {} has only {} subnets of /{} (indexes 1..={})",
                self.pod_cidr,
                count,
                self.node_prefix,
                count - 1
            )));
        }
        let fabric_hosts = net_size(self.fabric_cidr.prefix());
        // host index+1 must stay below the broadcast address
        if u64::from(index) + 1 >= fabric_hosts - 1 {
            return Err(out(format!(
                "fabric range {} has room for {} nodes",
                self.fabric_cidr,
                fabric_hosts - 3
            )));
        }
        let subnet_base = u64::from(net_base(&self.pod_cidr)) + u64::from(index) * net_size(self.node_prefix);
        let subnet_base = u32::try_from(subnet_base).map_err(|_| out("address overflow".into()))?;
        let pod_subnet =
            Ipv4Network::new(Ipv4Addr::from(subnet_base), self.node_prefix).map_err(|e| out(e.to_string()))?;
        Ok(NodeAddressing {
            name: name.to_string(),
            index,
            node_ip: Ipv4Addr::from(net_base(&self.fabric_cidr) + index + 1),
            fabric_prefix: self.fabric_cidr.prefix(),
            pod_subnet,
            gateway: Ipv4Addr::from(subnet_base + 1),
        })
    }
}

/// Where a node sits in the address plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeAddressing {
    /// Node name (e.g. `worker-1`).
    pub name: String,
    /// 1-based node index.
    pub index: u32,
    /// The node's address on the fabric (its `eth0`).
    pub node_ip: Ipv4Addr,
    /// Prefix length of the fabric network.
    pub fabric_prefix: u8,
    /// The node's slice of the pod range.
    pub pod_subnet: Ipv4Network,
    /// Pod gateway: first host of `pod_subnet`, on the node's `cni0`.
    pub gateway: Ipv4Addr,
}

impl NodeAddressing {
    /// Name of the fabric-side veth of this node (`fab-<index>`, at most 14 bytes).
    pub fn fabric_veth(&self) -> String {
        format!("fab-{}", self.index)
    }

    /// The node's fabric address as a network (`172.18.0.2/16`).
    pub fn node_network(&self) -> Ipv4Network {
        Ipv4Network::new(self.node_ip, self.fabric_prefix).expect("prefix validated")
    }
}

/// The network given to one pod sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodNetwork {
    /// The pod's address (unique in the cluster).
    pub ip: Ipv4Addr,
    /// Prefix length of the pod address (the node's subnet prefix).
    pub prefix: u8,
    /// The pod's default gateway (the node's `cni0` address).
    pub gateway: Ipv4Addr,
    /// Host-side veth name in the node namespace.
    pub host_veth: String,
    /// Interface name inside the pod (`eth0`).
    pub pod_iface: String,
}

/// Identity of a pod sandbox.
#[derive(Clone, Debug, Hash, Eq, PartialEq, PartialOrd, Ord)]
pub struct PodRef {
    /// Kubernetes namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod UID.
    pub uid: String,
}

impl PodRef {
    /// Convenience constructor.
    pub fn new(namespace: &str, name: &str, uid: &str) -> Self {
        PodRef {
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
        }
    }

    /// Host-side veth name candidate `attempt` (0 = the normal one): `veth` + 8 hex chars of
    /// a stable FNV-1a hash of `namespace/name/uid` (plus `#attempt` after a collision).
    pub fn veth_name(&self, attempt: u32) -> String {
        let mut key = format!("{}/{}/{}", self.namespace, self.name, self.uid);
        if attempt > 0 {
            key.push_str(&format!("#{attempt}"));
        }
        let mut h: u32 = 0x811c_9dc5;
        for b in key.bytes() {
            h ^= u32::from(b);
            h = h.wrapping_mul(0x0100_0193);
        }
        format!("veth{h:08x}")
    }
}

impl fmt::Display for PodRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// One route of a node's table, as `ip route` would print it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouteInfo {
    /// Destination prefix.
    pub destination: Ipv4Network,
    /// Next hop (`via`), or `None` for a connected route.
    pub gateway: Option<Ipv4Addr>,
    /// Output device.
    pub dev: String,
    /// Preferred source for connected routes.
    pub src: Option<Ipv4Addr>,
}

impl fmt::Display for RouteInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.destination)?;
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        write!(f, " dev {}", self.dev)?;
        if let Some(src) = self.src {
            write!(f, " proto kernel scope link src {src}")?;
        }
        Ok(())
    }
}

/// What `sync_routes` changed in one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RouteSync {
    /// Routes that were missing and were added.
    pub added: Vec<RouteInfo>,
    /// Routes that pointed somewhere else and were replaced (new value).
    pub replaced: Vec<RouteInfo>,
    /// Stale routes inside the pod range that were deleted.
    pub removed: Vec<RouteInfo>,
}

impl RouteSync {
    /// True when the node's routes were already right.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.replaced.is_empty() && self.removed.is_empty()
    }
}
