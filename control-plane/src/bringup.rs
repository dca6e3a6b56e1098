//! Bringing a cluster up ([`Cluster::up`]: the fabric, every node's namespaces, network and
//! routes, the store, the kubelets and the controllers) and taking it down ([`Cluster::down`]).

use crate::cluster::{Cluster, NodeRt, PodEntry};
use crate::error::UpError;
use crate::options::{ClusterOptions, uplink_shaping};
use crate::rundir::RunDir;
use crate::store::{Store, namespace_object, or_log};
use k8s_openapi::api::core::v1::{Node, NodeAddress, NodeSystemInfo};
use podlab_netplugin::{Dataplane, ExplainSink, NodeAddressing};
use podlab_node_agent::{AgentConfig, ImageCache, Kubelet, PodApi, Sandbox, SandboxKind, Spawner, now};
use podlab_scheduler::Scheduler;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

/// The namespaces every cluster starts with.
const BUILT_IN_NAMESPACES: [&str; 4] = ["default", "kube-system", "kube-public", "kube-node-lease"];

impl Cluster {
    /// Build the fabric and every node. On failure, everything built so far is removed.
    pub async fn up(opts: ClusterOptions, progress: &dyn Fn(&str)) -> Result<Arc<Cluster>, UpError> {
        let rt = tokio::runtime::Handle::current();
        let dataplane = if opts.model {
            Dataplane::model(opts.network.clone())
        } else {
            Dataplane::kernel(opts.network.clone(), rt).map_err(UpError::net("opening netlink"))?
        };
        dataplane.set_explain(opts.explain.clone());
        let rundir = Some(RunDir::claim(&opts.rundir_name)?);
        let spawner = Spawner::new();
        dataplane
            .setup_fabric()
            .await
            .map_err(UpError::net("creating the fabric bridge"))?;
        progress(&format!(
            "Fabric bridge podlab0 {}/{}",
            opts.network.fabric_gateway(),
            opts.network.fabric_cidr.prefix()
        ));
        let nodes = build_nodes(&opts, &dataplane, &spawner).await?;
        progress(&format!(
            "Nodes ready: {}",
            nodes
                .iter()
                .map(|n| format!("{} ({}, pods {})", n.addr.name, n.addr.node_ip, n.addr.pod_subnet))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        let scheduler = Scheduler::new(nodes.iter().map(|n| n.node.clone()).collect(), opts.scheduler);
        let agent = AgentConfig {
            exe: std::env::current_exe().map_err(UpError::io("finding the podlab binary"))?,
            time_scale: opts.time_scale,
            registry: Arc::new(opts.registry),
        };
        let dataplane = Arc::new(dataplane);
        let kubelets = nodes
            .iter()
            .map(|n| {
                let kubelet = Kubelet {
                    node: n.addr.name.clone(),
                    host_ip: n.addr.node_ip.to_string(),
                    dataplane: dataplane.clone(),
                    spawner: spawner.clone(),
                    config: agent.clone(),
                    images: ImageCache::from_node(&n.node),
                    explain: opts.explain.clone(),
                };
                (n.addr.name.clone(), kubelet)
            })
            .collect();
        let addrs: Vec<NodeAddressing> = nodes.iter().map(|n| n.addr.clone()).collect();
        let cluster = Arc::new_cyclic(|me| Cluster {
            name: opts.name,
            dataplane: dataplane.clone(),
            spawner,
            nodes,
            store: Store::new(BUILT_IN_NAMESPACES.map(namespace_object)),
            kubelets,
            scheduler: Mutex::new(scheduler),
            failed_nodes: Mutex::new(Default::default()),
            rundir,
            time_scale: opts.time_scale,
            me: me.clone(),
            closing: Default::default(),
            held: Default::default(),
        });
        for n in &cluster.nodes {
            cluster
                .store
                .put_node(n.node.clone())
                .map_err(|e| UpError::Config(e.to_string()))?;
        }
        crate::controllers::start(Arc::downgrade(&cluster));
        let api: Weak<dyn PodApi> = Arc::downgrade(&cluster) as Weak<dyn PodApi>;
        podlab_node_agent::kubelet::start_route_reconciler(api, &dataplane, addrs);
        Ok(cluster)
    }

    /// Remove everything: every container, pause process and node namespace.
    pub async fn down(&self) {
        self.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        let taken = or_log(
            self.store.write(|s| std::mem::take(&mut s.pods)),
            "taking the cluster down",
        );
        let entries: Vec<PodEntry> = taken.unwrap_or_default().into_values().collect();
        let mut stops = Vec::new();
        for e in entries {
            if let Some(h) = e.handle {
                stops.push(h.stop(Duration::ZERO));
            }
            if let Some(sb) = e.sandbox {
                sb.kill();
            }
        }
        futures::future::join_all(stops).await;
        for n in &self.nodes {
            if let Some(sb) = &n.sandbox {
                sb.kill();
            }
        }
        self.store.touch();
    }
}

/// Every node: its object, namespaces (kernel dataplane), network, shaping, then the routes
/// between them.
async fn build_nodes(opts: &ClusterOptions, dataplane: &Dataplane, spawner: &Spawner) -> Result<Vec<NodeRt>, UpError> {
    let mut addrs = Vec::new();
    for (i, n) in opts.nodes.iter().enumerate() {
        let name = n.metadata.name.clone().unwrap_or_default();
        addrs.push(
            opts.network
                .node(i as u32 + 1, &name)
                .map_err(UpError::net(format!("addressing node {name}")))?,
        );
    }
    let mut nodes = Vec::new();
    for (node, addr) in opts.nodes.iter().cloned().zip(addrs.iter().cloned()) {
        let node = node_object(node, &addr);
        let sandbox = if opts.model {
            None
        } else {
            Some(node_sandbox(spawner, &addr.name, opts.explain.as_ref()).await?)
        };
        let netns = match sandbox.as_deref() {
            Some(s) => Some(
                s.netns()
                    .map_err(UpError::io(format!("opening node {}'s namespace", addr.name)))?,
            ),
            None => None,
        };
        dataplane
            .setup_node(&addr, netns.as_deref())
            .await
            .map_err(UpError::net(format!("setting up the network of node {}", addr.name)))?;
        if let Some(shaping) = uplink_shaping(&node).map_err(UpError::Config)? {
            dataplane
                .shape_uplink(&addr.name, &shaping)
                .await
                .map_err(UpError::net(format!("shaping the uplink of node {}", addr.name)))?;
        }
        nodes.push(NodeRt { node, addr, sandbox });
    }
    for n in &nodes {
        let peers: Vec<NodeAddressing> = addrs.iter().filter(|a| a.name != n.addr.name).cloned().collect();
        dataplane
            .sync_routes(&n.addr.name, &peers)
            .await
            .map_err(UpError::net(format!("adding routes on {}", n.addr.name)))?;
    }
    Ok(nodes)
}

/// The namespaces of a node, held by a pause process.
async fn node_sandbox(spawner: &Spawner, name: &str, explain: Option<&ExplainSink>) -> Result<Arc<Sandbox>, UpError> {
    // podlab's namespaces are held by pause processes, not named; this is the by-hand
    // equivalent.
    if let Some(e) = explain {
        e(&format!("ip netns add {name}"));
    }
    let sb = Sandbox::create_async(spawner, SandboxKind::Node, name)
        .await
        .map_err(UpError::io(format!("creating the namespaces of node {name}")))?;
    Ok(Arc::new(sb))
}

/// The Node object as a kubelet registers it: addresses, Ready, system info.
fn node_object(mut node: Node, addr: &NodeAddressing) -> Node {
    node.metadata.creation_timestamp = Some(now());
    let status = node.status.get_or_insert_with(Default::default);
    status.addresses = Some(vec![
        NodeAddress {
            type_: "InternalIP".into(),
            address: addr.node_ip.to_string(),
        },
        NodeAddress {
            type_: "Hostname".into(),
            address: addr.name.clone(),
        },
    ]);
    status.conditions = Some(vec![crate::nodes::kubelet_ready()]);
    status.node_info = Some(NodeSystemInfo {
        kubelet_version: "v1.34.0-podlab".into(),
        os_image: "podlab (network namespace)".into(),
        kernel_version: kernel_release(),
        container_runtime_version: "podlab://0.1".into(),
        operating_system: "linux".into(),
        architecture: std::env::consts::ARCH.into(),
        ..Default::default()
    });
    node
}

/// The running kernel's release (`uname -r`).
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}
