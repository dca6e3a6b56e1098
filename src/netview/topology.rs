//! The topology view's data: the fabric bridge with its ports, every node (uplink, pod bridge,
//! routes) and every pod (both ends of its veth, routes, containers), read from the kernel on
//! the kernel dataplane or computed on the model. Interfaces are found by the names the
//! dataplane's layout gives them.

use super::{
    KERNEL_NOTE, MODEL_NOTE, annotate, ctx, fabric_netns, iface, model_routes, node_of, ns_inode, route_entries, rt,
};
use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, NodeRt, key_of};
use podlab_netplugin::NetworkLayout;
use podlab_netplugin::inspect::{self, NsSnapshot};
use podlab_netplugin::{NodeAddressing, PodNetwork};
use serde::Serialize;

/// The whole cluster network: fabric, nodes, pods.
#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    /// Cluster name.
    pub cluster: String,
    /// `kernel` or `model`.
    pub dataplane: String,
    /// Where the data comes from, in words.
    pub source: String,
    /// The fabric bridge joining the nodes.
    pub fabric: FabricView,
    /// Every node, in cluster order.
    pub nodes: Vec<NodeView>,
    /// The layout's interface names, for the renderers (not part of the json).
    #[serde(skip)]
    pub names: LayoutNames,
}

/// The names the dataplane's layout gives the interfaces a view draws.
#[derive(Debug, Clone, Default)]
pub struct LayoutNames {
    /// A node's uplink to the fabric (`eth0`).
    pub uplink: String,
    /// A node's pod bridge (`cni0`; empty for layouts without one).
    pub node_bridge: String,
    /// A pod's interface (`eth0`).
    pub pod_iface: String,
}

/// The fabric: bridge `podlab0` in the daemon's own network namespace.
#[derive(Debug, Clone, Serialize)]
pub struct FabricView {
    /// Bridge name (`podlab0`).
    pub bridge: String,
    /// Its addresses.
    pub addresses: Vec<String>,
    /// Bridge ports (`fab-N`), each the fabric end of one node's uplink.
    pub ports: Vec<PortView>,
}

/// One fabric bridge port.
#[derive(Debug, Clone, Serialize)]
pub struct PortView {
    /// Port name (`fab-1`).
    pub name: String,
    /// Administratively up.
    pub up: bool,
    /// The node whose `eth0` is the other end of this veth, if found.
    pub node: Option<String>,
}

/// One interface.
#[derive(Debug, Clone, Serialize)]
pub struct IfaceView {
    /// Interface name.
    pub name: String,
    /// Interface index in its namespace.
    pub index: u32,
    /// IPv4 addresses with prefix.
    pub addresses: Vec<String>,
    /// Administratively up.
    pub up: bool,
    /// Hardware address.
    pub mac: Option<String>,
    /// Bridge it is a port of.
    pub master: Option<String>,
}

/// One route with the reason it exists.
#[derive(Debug, Clone, Serialize)]
pub struct RouteView {
    /// `ip route` syntax.
    pub route: String,
    /// Destination (`default` or CIDR).
    pub destination: String,
    /// Next hop.
    pub gateway: Option<String>,
    /// Output device.
    pub dev: Option<String>,
    /// Why it exists, in words.
    pub why: String,
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeView {
    /// Node name.
    pub name: String,
    /// The node's network namespace (`net:[inode]`), when it has one.
    pub netns: Option<String>,
    /// Its uplink `eth0` (fabric address).
    pub eth0: Option<IfaceView>,
    /// The fabric-side end of the uplink (`fab-N`).
    pub uplink: String,
    /// The node's slice of the pod range.
    pub pod_cidr: String,
    /// The pod bridge `cni0`.
    pub bridge: Option<IfaceView>,
    /// The node's routing table.
    pub routes: Vec<RouteView>,
    /// Pods on this node.
    pub pods: Vec<PodView>,
}

/// One pod and both ends of its veth.
#[derive(Debug, Clone, Serialize)]
pub struct PodView {
    /// Kubernetes namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod IP (from its eth0).
    pub ip: Option<String>,
    /// The pod's network namespace (`net:[inode]`).
    pub netns: Option<String>,
    /// Sandbox (pause) pid.
    pub sandbox_pid: Option<i32>,
    /// `eth0` inside the pod.
    pub eth0: Option<IfaceView>,
    /// The host end of the veth, in the node's namespace (a port of `cni0`).
    pub host_veth: Option<IfaceView>,
    /// The pod's own routes.
    pub routes: Vec<RouteView>,
    /// Containers with their ports.
    pub containers: Vec<ContainerView>,
    /// Why there is no network yet (e.g. `Pending`).
    pub note: Option<String>,
}

/// One container.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerView {
    /// Container name.
    pub name: String,
    /// Image.
    pub image: String,
    /// Ports, `80/TCP`.
    pub ports: Vec<String>,
}

fn containers(pod: &Pod) -> Vec<ContainerView> {
    pod.spec
        .as_ref()
        .map(|s| {
            s.containers
                .iter()
                .map(|c| ContainerView {
                    name: c.name.clone(),
                    image: c.image.clone().unwrap_or_default(),
                    ports: c
                        .ports
                        .iter()
                        .flatten()
                        .map(|p| format!("{}/{}", p.container_port, p.protocol.as_deref().unwrap_or("TCP")))
                        .collect(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// An interface the model computed (no index, no MAC, up).
fn computed_iface(name: &str, addresses: Vec<String>, master: Option<String>) -> IfaceView {
    IfaceView {
        name: name.to_string(),
        index: 0,
        addresses,
        up: true,
        mac: None,
        master,
    }
}

/// Builds the topology: read from the kernel (kernel dataplane) or computed (model).
pub async fn topology(cluster: &Cluster) -> Result<Topology> {
    let model = cluster.is_model();
    let layout = cluster.dataplane.layout();
    let net = cluster.dataplane.network();
    let mut fabric = FabricView {
        bridge: layout.fabric_bridge_name().to_string(),
        addresses: vec![format!("{}/{}", net.fabric_gateway(), net.fabric_cidr.prefix())],
        ports: Vec::new(),
    };
    let fabric_snap = if model {
        None
    } else {
        let ns = fabric_netns()?;
        let s = inspect::snapshot(&ns, &rt())
            .await
            .context("reading the fabric namespace")?;
        if let Some(b) = s.link(&fabric.bridge) {
            fabric.addresses = b.addresses.clone();
        }
        Some(s)
    };
    let pods = cluster.pods();
    let mut nodes = Vec::new();
    for n in &cluster.nodes {
        nodes.push(node_view(cluster, n, &pods, fabric_snap.as_ref()).await?);
    }
    fabric.ports = fabric_ports(&fabric.bridge, fabric_snap.as_ref(), &nodes);
    Ok(Topology {
        cluster: cluster.name.clone(),
        dataplane: if model { "model" } else { "kernel" }.into(),
        source: if model { MODEL_NOTE } else { KERNEL_NOTE }.into(),
        fabric,
        nodes,
        names: LayoutNames {
            uplink: layout.uplink_name().to_string(),
            node_bridge: layout.node_bridge_name().unwrap_or_default().to_string(),
            pod_iface: layout.pod_iface_name().to_string(),
        },
    })
}

/// The fabric bridge's ports: read (kernel) or one per node (model).
fn fabric_ports(bridge: &str, fabric_snap: Option<&NsSnapshot>, nodes: &[NodeView]) -> Vec<PortView> {
    let Some(f) = fabric_snap else {
        return nodes
            .iter()
            .map(|n| PortView {
                name: n.uplink.clone(),
                up: true,
                node: Some(n.name.clone()),
            })
            .collect();
    };
    f.links
        .iter()
        .filter(|l| l.master.as_deref() == Some(bridge))
        .map(|l| PortView {
            name: l.name.clone(),
            up: l.up,
            node: nodes
                .iter()
                .find(|n| n.uplink == l.name && n.eth0.is_some())
                .map(|n| n.name.clone()),
        })
        .collect()
}

/// One node with its pods: read from its namespace (kernel) or computed (model).
async fn node_view(cluster: &Cluster, n: &NodeRt, pods: &[Pod], fabric_snap: Option<&NsSnapshot>) -> Result<NodeView> {
    let layout = cluster.dataplane.layout();
    let model = cluster.is_model();
    let name = n.addr.name.clone();
    let mut view = NodeView {
        name: name.clone(),
        netns: n.sandbox.as_ref().and_then(|s| ns_inode(s.pid())),
        eth0: None,
        uplink: layout.fabric_port_name(&n.addr),
        pod_cidr: n.addr.pod_subnet.to_string(),
        bridge: None,
        routes: Vec::new(),
        pods: Vec::new(),
    };
    let c = ctx(cluster, Some(&name), false);
    let node_snap = match &n.sandbox {
        Some(sb) if !model => Some(
            inspect::snapshot(&*sb.netns()?, &rt())
                .await
                .with_context(|| format!("reading node {name}'s namespace"))?,
        ),
        _ => None,
    };
    if let Some(s) = &node_snap {
        let uplink = s.link(layout.uplink_name());
        view.eth0 = uplink.map(iface);
        view.bridge = layout.node_bridge_name().and_then(|b| s.link(b)).map(iface);
        view.routes = annotate(&s.routes, &c);
        if let (Some(f), Some(e)) = (fabric_snap, uplink)
            && let Some(p) = e.peer_ifindex.and_then(|i| f.link_by_index(i))
        {
            view.uplink = p.name.clone();
        }
    } else {
        let a: &NodeAddressing = &n.addr;
        view.eth0 = Some(computed_iface(
            layout.uplink_name(),
            vec![format!("{}/{}", a.node_ip, a.fabric_prefix)],
            None,
        ));
        view.bridge = layout
            .node_bridge_name()
            .map(|b| computed_iface(b, vec![format!("{}/{}", a.gateway, a.pod_subnet.prefix())], None));
        view.routes = annotate(&model_routes(cluster, &name), &c);
    }
    for pod in pods.iter().filter(|p| node_of(p).as_deref() == Some(name.as_str())) {
        view.pods.push(pod_view(cluster, pod, node_snap.as_ref()).await?);
    }
    Ok(view)
}

/// One pod: read from its namespace (kernel; `node_snap` is its node's) or computed (model).
pub(super) async fn pod_view(cluster: &Cluster, pod: &Pod, node_snap: Option<&NsSnapshot>) -> Result<PodView> {
    let key = key_of(pod);
    let (sandbox, net) = cluster
        .with_entry(&key, |e| (e.sandbox.clone(), e.net.clone()))
        .unwrap_or((None, None));
    let mut v = PodView {
        namespace: key.0.clone(),
        name: key.1.clone(),
        ip: None,
        netns: None,
        sandbox_pid: sandbox.as_ref().map(|s| s.pid()),
        eth0: None,
        host_veth: None,
        routes: Vec::new(),
        containers: containers(pod),
        note: None,
    };
    let c = ctx(cluster, node_of(pod).as_deref(), true);
    let layout = cluster.dataplane.layout();
    match (&sandbox, node_snap) {
        (Some(sb), Some(ns)) => {
            v.netns = ns_inode(sb.pid());
            // A pod that ended in between has no namespace to read: say so, do not fail.
            match inspect::snapshot(&*sb.netns()?, &rt()).await {
                Ok(s) => {
                    if let Some(e) = s.link(layout.pod_iface_name()) {
                        v.ip = e
                            .addresses
                            .first()
                            .map(|a| a.split('/').next().unwrap_or(a).to_string());
                        v.host_veth = e.peer_ifindex.and_then(|i| ns.link_by_index(i)).map(iface);
                        v.eth0 = Some(iface(e));
                    }
                    v.routes = annotate(&s.routes, &c);
                }
                Err(e) => v.note = Some(format!("cannot read its namespace: {e}")),
            }
        }
        _ => match &net {
            Some(n) if cluster.is_model() => computed_pod(layout, n, &mut v, &c),
            _ => v.note = Some(format!("no sandbox ({})", crate::printers::pod_status_reason(pod))),
        },
    }
    Ok(v)
}

/// The model's pod: its interface, host veth and routes as the layout computes them.
fn computed_pod(
    layout: &dyn NetworkLayout,
    n: &PodNetwork,
    v: &mut PodView,
    c: &podlab_netplugin::annotate::AnnotateContext,
) {
    v.ip = Some(n.ip.to_string());
    v.eth0 = Some(computed_iface(
        &n.pod_iface,
        vec![format!("{}/{}", n.ip, n.prefix)],
        None,
    ));
    v.host_veth = Some(computed_iface(
        &n.host_veth,
        Vec::new(),
        layout.node_bridge_name().map(str::to_string),
    ));
    v.routes = annotate(&route_entries(layout.pod_routes(n)), c);
}
