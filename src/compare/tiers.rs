//! Which pods and containers hold the frontend and backend tiers (declared in `compare.tiers`
//! or found by name and `tier` label), and the small facts about a pod the measurements and
//! verdicts read: its name, node, resource requests and where the scenario defined it.

use k8s_openapi::api::core::v1::Pod;
use podlab_scenario::Scenario;

/// A tier's holder: the pod, the container, the tier (`frontend` or `backend`).
pub(super) type Tier = (Pod, String, String);

/// The pod and container an endpoint names (first container when none is given).
pub(super) fn find_endpoint(pods: &[Pod], e: &podlab_scenario::Endpoint) -> Option<(Pod, String)> {
    pods.iter().filter(|p| e.matches_pod(&pod_name(p))).find_map(|p| {
        let cs = &p.spec.as_ref()?.containers;
        let c = match &e.container {
            Some(n) => cs.iter().find(|c| &c.name == n)?,
            None => cs.first()?,
        };
        Some((p.clone(), c.name.clone()))
    })
}

/// Tiers as declared in `compare.tiers`, falling back to [`tiers`] for an undeclared tier.
pub(super) fn declared_tiers(pods: &[Pod], scenario: &Scenario) -> Vec<Tier> {
    let found = tiers(pods);
    let Some(decl) = scenario.compare.as_ref().and_then(|c| c.tiers.as_ref()) else {
        return found;
    };
    let mut out = Vec::new();
    for (tier, e) in [("frontend", &decl.frontend), ("backend", &decl.backend)] {
        match e.as_ref().and_then(|e| find_endpoint(pods, e)) {
            Some((p, c)) => out.push((p, c, tier.to_string())),
            None => out.extend(found.iter().filter(|(_, _, t)| t == tier).cloned()),
        }
    }
    out
}

/// Tier of each container: (pod key, container name) -> tier.
fn tiers(pods: &[Pod]) -> Vec<Tier> {
    let mut out = Vec::new();
    for p in pods {
        let label = p.metadata.labels.as_ref().and_then(|l| l.get("tier").cloned());
        for c in p.spec.iter().flat_map(|s| s.containers.iter()) {
            let tier = if c.name == "frontend" || c.name == "backend" {
                Some(c.name.clone())
            } else {
                label.clone()
            };
            if let Some(t) = tier {
                out.push((p.clone(), c.name.clone(), t));
            }
        }
    }
    out
}

pub(super) fn pod_name(p: &Pod) -> String {
    p.metadata.name.clone().unwrap_or_default()
}

pub(super) fn node_of(p: &Pod) -> String {
    p.spec.as_ref().and_then(|s| s.node_name.clone()).unwrap_or_default()
}

/// The sum of a pod's containers' requests for `res` (`cpu` in millicores, else in units).
pub(super) fn requests(p: &Pod, res: &str) -> i64 {
    p.spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .filter_map(|c| c.resources.as_ref()?.requests.as_ref()?.get(res).cloned())
        .map(|q| {
            if res == "cpu" {
                podlab_scheduler::quantity::parse_milli(&q.0).unwrap_or(0)
            } else {
                podlab_scheduler::quantity::parse_value(&q.0).unwrap_or(0)
            }
        })
        .sum()
}

/// Where a pod was defined (`file:line`), from the annotation the scenario loader sets.
pub(super) fn source_of(p: &Pod) -> String {
    p.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(podlab_scenario::SOURCE_ANNOTATION).cloned())
        .unwrap_or_else(|| "created by a controller".into())
}
