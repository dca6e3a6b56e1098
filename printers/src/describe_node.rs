//! `describe node`, as kubectl prints it, with podlab's own sections: the node's namespaces
//! (pause pid, uplink, bridge) and its routes.

use k8s_openapi::api::core::v1::{Node, Pod};
use podlab_control_plane::NodeRt;
use podlab_netplugin::RouteInfo;

/// `describe node`: kubectl's fields (with the non-terminated pods of `pods` and the resources
/// they take), plus the node's namespaces and routes (podlab).
pub fn describe_node(n: &NodeRt, node: &Node, pods: &[Pod], routes: &[RouteInfo]) -> String {
    let st = node.status.clone().unwrap_or_default();
    let mut o = format!("Name:               {}\nRoles:              <none>\n", n.addr.name);
    let labels = node.metadata.labels.clone().unwrap_or_default();
    o += &format!(
        "Labels:             {}\n",
        labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n                    ")
    );
    let taints: Vec<String> = node
        .spec
        .iter()
        .flat_map(|s| s.taints.iter().flatten())
        .map(|t| format!("{}={}:{}", t.key, t.value.clone().unwrap_or_default(), t.effect))
        .collect();
    o += &format!(
        "Taints:             {}\n",
        if taints.is_empty() {
            "<none>".into()
        } else {
            taints.join("\n                    ")
        }
    );
    o += &format!(
        "Unschedulable:      {}\n",
        node.spec.as_ref().and_then(|s| s.unschedulable).unwrap_or(false)
    );
    o += &format!(
        "Addresses:\n  InternalIP:  {}\n  Hostname:    {}\n",
        n.addr.node_ip, n.addr.name
    );
    for (title, m) in [
        ("Capacity", st.capacity.clone()),
        ("Allocatable", st.allocatable.clone()),
    ] {
        o += &format!("{title}:\n");
        for (k, v) in m.unwrap_or_default() {
            o += &format!("  {k}:{:w$}{}\n", "", v.0, w = 18usize.saturating_sub(k.len()));
        }
    }
    o += &format!(
        "PodCIDR:                      {}\nPodCIDRs:                     {}\n",
        n.addr.pod_subnet, n.addr.pod_subnet
    );
    if let Some(sb) = &n.sandbox {
        o += &format!(
            "Node namespaces (podlab):\n  Pause PID:   {}   (podlab exec node/{} -- ip route)\n  Uplink:      eth0 {}/{} on fabric bridge podlab0\n  Bridge:      cni0 {}/{}\n",
            sb.pid(),
            n.addr.name,
            n.addr.node_ip,
            n.addr.fabric_prefix,
            n.addr.gateway,
            n.addr.pod_subnet.prefix()
        );
    }
    o += &super::allocated::node_resources(node, pods);
    if !routes.is_empty() {
        o += "Routes (podlab):\n";
        for r in routes {
            o += &format!("  {r}\n");
        }
    }
    o += "Events:              <none>\n";
    o
}
