//! The node agents' network reconcile loop: every 2 s each node's host-gw routes are compared
//! with what they must be and repaired (a route deleted by hand comes back), with an event.
//! While the cluster is held (a lesson pauses for the learner to look), nothing is repaired,
//! and the first check after the hold is skipped too, so a step run right after the pause
//! still sees what the learner saw.

use super::PodApi;
use podlab_netplugin::{Dataplane, NodeAddressing, RouteSync};
use std::sync::{Arc, Weak};
use std::time::Duration;

/// How often the routes are checked.
const PERIOD: Duration = Duration::from_secs(2);

/// Run the route reconciler of `nodes` until the control plane (`api`) or the dataplane is
/// dropped. Nodes the control plane took down are left alone. Nothing runs on the model
/// dataplane.
pub fn start_route_reconciler(api: Weak<dyn PodApi>, dataplane: &Arc<Dataplane>, nodes: Vec<NodeAddressing>) {
    if dataplane.is_model() {
        return;
    }
    let dataplane = Arc::downgrade(dataplane);
    tokio::spawn(async move {
        let mut was_held = false;
        loop {
            tokio::time::sleep(PERIOD).await;
            let (Some(api), Some(dp)) = (api.upgrade(), dataplane.upgrade()) else {
                return;
            };
            let held = api.held();
            if held || std::mem::replace(&mut was_held, held) {
                continue;
            }
            for n in &nodes {
                if api.node_failed(&n.name) {
                    continue;
                }
                let peers: Vec<_> = nodes.iter().filter(|p| p.name != n.name).cloned().collect();
                match dp.sync_routes(&n.name, &peers).await {
                    Ok(sync) => report(&*api, &n.name, &sync),
                    // Tried again in PERIOD; a node being torn down has no routes to read.
                    Err(e) => tracing::debug!("checking the routes of {}: {e}", n.name),
                }
            }
        }
    });
}

/// The events of one node's repair.
fn report(api: &dyn PodApi, node: &str, sync: &RouteSync) {
    for r in &sync.added {
        let message = format!("route {r} was missing; the node agent added it back");
        api.node_event(node, "Warning", "RouteRestored", message);
    }
    for r in &sync.replaced {
        let message = format!("route {r} pointed elsewhere; the node agent fixed it");
        api.node_event(node, "Warning", "RouteRepaired", message);
    }
    for r in &sync.removed {
        api.node_event(node, "Normal", "RouteRemoved", format!("stale route {r} removed"));
    }
}
