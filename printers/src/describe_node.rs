//! `describe node`, as kubectl prints it, with podlab's own sections: the node's namespaces
//! (pause pid, uplink, bridge) and its routes.

use super::{age_secs, human_duration, table};
use k8s_openapi::api::core::v1::{Node, Pod};
use podlab_control_plane::NodeRt;
use podlab_netplugin::RouteInfo;

fn age(t: Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>) -> String {
    human_duration(age_secs(t))
}

/// `describe node`: kubectl's fields, plus the node's namespaces and routes (podlab).
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
    o += &format!("Non-terminated Pods:          ({} in total)\n", pods.len());
    let rows: Vec<Vec<String>> = pods
        .iter()
        .map(|p| {
            let req = |r: &str| {
                p.spec
                    .iter()
                    .flat_map(|s| s.containers.iter())
                    .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(r).map(|q| q.0.clone()))
                    .collect::<Vec<_>>()
                    .join("+")
            };
            vec![
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
                or_zero(req("cpu")),
                or_zero(req("memory")),
                p.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
                age(p.metadata.creation_timestamp.as_ref()),
            ]
        })
        .collect();
    if !rows.is_empty() {
        for l in table(
            &["Namespace", "Name", "CPU Requests", "Memory Requests", "IP", "Age"],
            &rows,
        )
        .lines()
        {
            o += &format!("  {l}\n");
        }
    }
    if !routes.is_empty() {
        o += "Routes (podlab):\n";
        for r in routes {
            o += &format!("  {r}\n");
        }
    }
    o += "Events:              <none>\n";
    o
}

fn or_zero(s: String) -> String {
    if s.is_empty() { "0 (0%)".into() } else { s }
}
