//! What one node failure takes down: fail the frontend's node, wait for the controllers to
//! replace what they own, and list what stopped, what keeps serving and what was rescheduled.

use crate::compare::Failure;
use crate::compare::tiers::{node_of, pod_name};
use crate::printers;
use anyhow::Result;
use k8s_openapi::api::core::v1::Pod;
use podlab_control_plane::{Cluster, key_of};
use std::sync::Arc;
use std::time::Duration;

/// Fail the node `fp` (the frontend's pod) runs on and report what that did.
pub(super) async fn fail_node_of(cluster: &Arc<Cluster>, fp: &Pod) -> Result<Failure> {
    let node = node_of(fp);
    let before: Vec<Pod> = cluster.pods();
    let victims = cluster.fail_node(&node).await?;
    cluster
        .wait_for(Duration::from_secs(10), |c| {
            let owned_lost = victims.iter().filter(|p| p.metadata.owner_references.is_some()).count();
            let replaced = c
                .pods()
                .iter()
                .filter(|p| !before.iter().any(|b| key_of(b) == key_of(p)))
                .count();
            replaced >= owned_lost
                && c.pods()
                    .iter()
                    .all(|p| !matches!(printers::pod_status_reason(p).as_str(), "Pending" | "ContainerCreating"))
        })
        .await;
    let after = cluster.pods();
    let containers = |p: &Pod| -> Vec<String> {
        p.spec
            .iter()
            .flat_map(|s| s.containers.iter())
            .map(|c| format!("{}/{}", pod_name(p), c.name))
            .collect()
    };
    Ok(Failure {
        node: node.clone(),
        stopped: victims.iter().flat_map(&containers).collect(),
        still_serving: after
            .iter()
            .filter(|p| printers::pod_status_reason(p) == "Running")
            .flat_map(&containers)
            .collect(),
        rescheduled: rescheduled(&victims, &before, &after),
    })
}

/// Each lost pod a controller owns, and the new pod that replaced it:
/// `old (old IP) → new (new IP) on node`.
fn rescheduled(victims: &[Pod], before: &[Pod], after: &[Pod]) -> Vec<String> {
    let mut rescheduled = Vec::new();
    for v in victims.iter().filter(|p| p.metadata.owner_references.is_some()) {
        let owner = v
            .metadata
            .owner_references
            .as_ref()
            .and_then(|o| o.first())
            .map(|o| o.uid.clone());
        if let Some(newp) = after.iter().find(|p| {
            !before.iter().any(|b| key_of(b) == key_of(p))
                && p.metadata
                    .owner_references
                    .as_ref()
                    .and_then(|o| o.first())
                    .map(|o| o.uid.clone())
                    == owner
        }) {
            rescheduled.push(format!(
                "{} ({}) → {} ({}) on {}",
                pod_name(v),
                v.status.as_ref().and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
                pod_name(newp),
                newp.status
                    .as_ref()
                    .and_then(|s| s.pod_ip.clone())
                    .unwrap_or_else(|| "<pending>".into()),
                node_of(newp)
            ));
        }
    }
    rescheduled
}
