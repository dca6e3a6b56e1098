//! The cluster's wiring at measurement time, for the drawings: each node with its addresses and
//! pods, each pod with its IP and containers, the path's two ends marked with their tier.

use crate::compare::tiers::{Tier, node_of, pod_name};
use crate::compare::{TopoContainer, TopoNode, TopoPod, Topology};
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, key_of};

/// Nodes, pods and containers as they run now; `ends` are the path's frontend and backend.
pub(super) fn topology(cluster: &Cluster, pods: &[Pod], ends: &[Tier]) -> Topology {
    let layout = cluster.dataplane.layout();
    let tier_of = |p: &Pod, c: &str| {
        ends.iter()
            .find(|(ep, ec, _)| key_of(ep) == key_of(p) && ec == c)
            .map(|(_, _, t)| t.clone())
    };
    let nodes = cluster
        .nodes
        .iter()
        .map(|n| TopoNode {
            name: n.addr.name.clone(),
            node_ip: n.addr.node_ip.to_string(),
            pod_subnet: n.addr.pod_subnet.to_string(),
            gateway: n.addr.gateway.to_string(),
            pods: pods
                .iter()
                .filter(|p| node_of(p) == n.addr.name)
                .map(|p| TopoPod {
                    name: pod_name(p),
                    ip: p.status.as_ref().and_then(|s| s.pod_ip.clone()),
                    containers: p
                        .spec
                        .iter()
                        .flat_map(|s| s.containers.iter())
                        .map(|c| TopoContainer {
                            name: c.name.clone(),
                            tier: tier_of(p, &c.name),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    Topology {
        fabric_bridge: layout.fabric_bridge_name().to_string(),
        uplink: layout.uplink_name().to_string(),
        node_bridge: layout.node_bridge_name().map(str::to_string),
        nodes,
    }
}
