//! Resource vectors and Kubernetes' pod request arithmetic (`resource.PodRequests`):
//! max(max(init), sum(containers)) with sidecars, pod-level requests and overhead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Node, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::{parse_milli, parse_value};

/// Default CPU request (millicores) assumed for scoring when a container sets none.
pub const DEFAULT_MILLI_CPU_REQUEST: i64 = 100;
/// Default memory request (bytes) assumed for scoring when a container sets none.
pub const DEFAULT_MEMORY_REQUEST: i64 = 200 * 1024 * 1024;

/// A resource vector: CPU in millicores, memory/storage in bytes, other resources in units.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// CPU in millicores.
    pub milli_cpu: i64,
    /// Memory in bytes.
    pub memory: i64,
    /// Ephemeral storage in bytes.
    pub ephemeral_storage: i64,
    /// Extended and other scalar resources (e.g. `nvidia.com/gpu`, `hugepages-2Mi`), sorted by name.
    pub scalar: Vec<(String, i64)>,
}

impl Resources {
    /// Value of the scalar resource `name` (0 when absent).
    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v)
    }

    fn scalar_mut(&mut self, name: &str) -> &mut i64 {
        if let Some(i) = self.scalar.iter().position(|(n, _)| n == name) {
            return &mut self.scalar[i].1;
        }
        let pos = self
            .scalar
            .iter()
            .position(|(n, _)| n.as_str() > name)
            .unwrap_or(self.scalar.len());
        self.scalar.insert(pos, (name.to_string(), 0));
        &mut self.scalar[pos].1
    }

    /// Adds `other` to `self`, component-wise.
    pub fn add(&mut self, other: &Resources) {
        self.milli_cpu += other.milli_cpu;
        self.memory += other.memory;
        self.ephemeral_storage += other.ephemeral_storage;
        for (n, v) in &other.scalar {
            *self.scalar_mut(n) += *v;
        }
    }

    /// Subtracts `other` from `self`, component-wise.
    pub fn sub(&mut self, other: &Resources) {
        self.milli_cpu -= other.milli_cpu;
        self.memory -= other.memory;
        self.ephemeral_storage -= other.ephemeral_storage;
        for (n, v) in &other.scalar {
            *self.scalar_mut(n) -= *v;
        }
    }

    /// True when no component is requested.
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

/// Numeric allocatable of a node: `status.allocatable`, falling back to `status.capacity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Allocatable {
    /// Allocatable resources.
    pub resources: Resources,
    /// Maximum number of pods (`pods` resource).
    pub pods: i64,
}

/// Reads a node's allocatable resources; unparsable quantities count as 0.
pub fn node_allocatable(node: &Node) -> Allocatable {
    let status = node.status.as_ref();
    let list = status
        .and_then(|s| s.allocatable.as_ref())
        .filter(|m| !m.is_empty())
        .or_else(|| status.and_then(|s| s.capacity.as_ref()));
    let mut out = Allocatable::default();
    if let Some(list) = list {
        for (name, q) in list {
            match name.as_str() {
                "pods" => out.pods = parse_value(&q.0).unwrap_or(0),
                _ => set(&mut out.resources, name, q),
            }
        }
    }
    out
}

fn set(r: &mut Resources, name: &str, q: &Quantity) {
    match name {
        "cpu" => r.milli_cpu = parse_milli(&q.0).unwrap_or(0),
        "memory" => r.memory = parse_value(&q.0).unwrap_or(0),
        "ephemeral-storage" => r.ephemeral_storage = parse_value(&q.0).unwrap_or(0),
        "pods" => {}
        other => *r.scalar_mut(other) = parse_value(&q.0).unwrap_or(0),
    }
}

/// Requests of one container as the API server would default them (missing requests
/// default to limits). Returns the list and which of cpu/memory were explicitly present.
fn container_requests(c: &Container) -> (Resources, bool, bool) {
    let mut r = Resources::default();
    let mut has_cpu = false;
    let mut has_mem = false;
    let Some(res) = c.resources.as_ref() else {
        return (r, false, false);
    };
    let empty = BTreeMap::new();
    let requests = res.requests.as_ref().unwrap_or(&empty);
    let limits = res.limits.as_ref().unwrap_or(&empty);
    for (name, q) in limits.iter().filter(|(n, _)| !requests.contains_key(*n)) {
        set(&mut r, name, q);
        has_cpu |= name == "cpu";
        has_mem |= name == "memory";
    }
    for (name, q) in requests {
        set(&mut r, name, q);
        has_cpu |= name == "cpu";
        has_mem |= name == "memory";
    }
    (r, has_cpu, has_mem)
}

fn max_into(acc: &mut Resources, other: &Resources) {
    acc.milli_cpu = acc.milli_cpu.max(other.milli_cpu);
    acc.memory = acc.memory.max(other.memory);
    acc.ephemeral_storage = acc.ephemeral_storage.max(other.ephemeral_storage);
    for (n, v) in &other.scalar {
        let slot = acc.scalar_mut(n);
        *slot = (*slot).max(*v);
    }
}

/// Computes a pod's effective requests like Kubernetes' `resource.PodRequests`.
/// With `non_missing_defaults`, containers without a cpu/memory request count as
/// 100m / 200Mi (the scheduler's scoring rule); filtering uses `false`.
pub fn pod_requests(pod: &Pod, non_missing_defaults: bool) -> Resources {
    let Some(spec) = pod.spec.as_ref() else {
        return Resources::default();
    };
    let req_of = |c: &Container| {
        let (mut r, has_cpu, has_mem) = container_requests(c);
        if non_missing_defaults {
            if !has_cpu {
                r.milli_cpu = DEFAULT_MILLI_CPU_REQUEST;
            }
            if !has_mem {
                r.memory = DEFAULT_MEMORY_REQUEST;
            }
        }
        r
    };
    let mut reqs = Resources::default();
    for c in &spec.containers {
        reqs.add(&req_of(c));
    }
    let mut restartable = Resources::default();
    let mut init_max = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let r = req_of(c);
        if c.restart_policy.as_deref() == Some("Always") {
            reqs.add(&r);
            restartable.add(&r);
            max_into(&mut init_max, &restartable);
        } else {
            let mut tmp = r;
            tmp.add(&restartable);
            max_into(&mut init_max, &tmp);
        }
    }
    max_into(&mut reqs, &init_max);
    // Pod-level resources (beta, on by default in 1.34) override cpu/memory aggregates.
    if let Some(pr) = spec.resources.as_ref() {
        let empty = BTreeMap::new();
        let requests = pr.requests.as_ref().unwrap_or(&empty);
        let limits = pr.limits.as_ref().unwrap_or(&empty);
        for name in ["cpu", "memory"] {
            if let Some(q) = requests.get(name).or_else(|| limits.get(name)) {
                set(&mut reqs, name, q);
            }
        }
    }
    if let Some(overhead) = spec.overhead.as_ref() {
        let mut o = Resources::default();
        for (name, q) in overhead {
            set(&mut o, name, q);
        }
        reqs.add(&o);
    }
    reqs
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod json")
    }

    #[test]
    fn init_containers_take_the_max_and_overhead_adds() {
        // Kubernetes' documented example: IC1 2/1G, IC2 2/3G, C1 2/1G, C2 1/1G -> 3 CPU, 3G.
        let p = pod(json!({"spec": {
            "initContainers": [
                {"name": "ic1", "resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                {"name": "ic2", "resources": {"requests": {"cpu": "2", "memory": "3G"}}}],
            "containers": [
                {"name": "c1", "resources": {"requests": {"cpu": "2", "memory": "1G"}}},
                {"name": "c2", "resources": {"requests": {"cpu": "1", "memory": "1G"}}}],
            "overhead": {"cpu": "250m"}
        }}));
        let r = pod_requests(&p, false);
        assert_eq!(r.milli_cpu, 3250);
        assert_eq!(r.memory, 3_000_000_000);
    }

    #[test]
    fn sidecars_are_added_to_containers_and_to_later_init_containers() {
        let p = pod(json!({"spec": {
            "initContainers": [
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m"}}},
                {"name": "init", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [{"name": "c", "resources": {"requests": {"cpu": "1"}}}]
        }}));
        // containers 1 + sidecar 0.5 = 1.5; init phase: 2 + 0.5 = 2.5 -> max 2.5
        assert_eq!(pod_requests(&p, false).milli_cpu, 2500);
    }

    #[test]
    fn limits_default_requests_and_scoring_defaults_apply_only_when_missing() {
        let p = pod(json!({"spec": {"containers": [
            {"name": "a", "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": "2"}}},
            {"name": "b"},
            {"name": "c", "resources": {"requests": {"memory": "0"}}}]}}));
        let f = pod_requests(&p, false);
        assert_eq!(f.milli_cpu, 1000);
        assert_eq!(f.memory, 0);
        assert_eq!(f.scalar("nvidia.com/gpu"), 2);
        let s = pod_requests(&p, true);
        assert_eq!(s.milli_cpu, 1000 + 100 + 100);
        assert_eq!(s.memory, 2 * DEFAULT_MEMORY_REQUEST);
    }
}
