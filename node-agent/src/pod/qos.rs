//! A pod's QoS class, computed exactly as Kubernetes' `GetPodQOS` does (pkg/apis/core/helper/qos):
//! from the cpu and memory requests and limits of every container, init containers included.
//! A limit without a request counts as that request too (kube-apiserver defaults it so).

use k8s_openapi::api::core::v1::PodSpec;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use std::collections::BTreeMap;

/// The resources QoS looks at.
const COMPUTE: [&str; 2] = ["cpu", "memory"];

/// `Guaranteed` (every container has cpu and memory limits, and requests equal to them),
/// `BestEffort` (no container requests or limits cpu or memory) or `Burstable` (the rest).
pub fn qos_class(spec: &PodSpec) -> &'static str {
    let positive = |q: &Quantity| podlab_k8s_values::parse_milli(&q.0).is_ok_and(|m| m > 0);
    let milli = |q: &Quantity| podlab_k8s_values::parse_milli(&q.0).unwrap_or(0);
    let mut requests: BTreeMap<&str, i64> = BTreeMap::new();
    let mut limits: BTreeMap<&str, i64> = BTreeMap::new();
    let mut guaranteed = true;
    let containers = spec.init_containers.iter().flatten().chain(spec.containers.iter());
    for c in containers {
        let res = c.resources.as_ref();
        let req = res.and_then(|r| r.requests.as_ref());
        let lim = res.and_then(|r| r.limits.as_ref());
        let mut limits_found = 0;
        for name in COMPUTE {
            // A missing request defaults to the limit (API defaulting).
            let request = req.and_then(|m| m.get(name)).or_else(|| lim.and_then(|m| m.get(name)));
            if let Some(q) = request.filter(|q| positive(q)) {
                *requests.entry(name).or_default() += milli(q);
            }
            if let Some(q) = lim.and_then(|m| m.get(name)).filter(|q| positive(q)) {
                *limits.entry(name).or_default() += milli(q);
                limits_found += 1;
            }
        }
        if limits_found < COMPUTE.len() {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests == limits {
        return "Guaranteed";
    }
    "Burstable"
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ResourceRequirements};

    /// Resource name and quantity pairs.
    type Pairs<'a> = &'a [(&'a str, &'a str)];

    fn spec(containers: &[(Pairs<'_>, Pairs<'_>)]) -> PodSpec {
        let map = |kv: &[(&str, &str)]| {
            (!kv.is_empty()).then(|| {
                kv.iter()
                    .map(|(k, v)| (k.to_string(), Quantity(v.to_string())))
                    .collect()
            })
        };
        PodSpec {
            containers: containers
                .iter()
                .map(|(req, lim)| Container {
                    resources: Some(ResourceRequirements {
                        requests: map(req),
                        limits: map(lim),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn classes_as_kubernetes_computes_them() {
        assert_eq!(qos_class(&spec(&[(&[], &[])])), "BestEffort");
        let both = [("cpu", "500m"), ("memory", "128Mi")];
        assert_eq!(qos_class(&spec(&[(&both, &both)])), "Guaranteed");
        assert_eq!(
            qos_class(&spec(&[(&[], &both)])),
            "Guaranteed",
            "requests default to limits"
        );
        let same = [("cpu", "0.5"), ("memory", "134217728")];
        assert_eq!(qos_class(&spec(&[(&same, &both)])), "Guaranteed", "equal quantities");
        let low = [("cpu", "100m"), ("memory", "64Mi")];
        assert_eq!(qos_class(&spec(&[(&low, &both)])), "Burstable", "requests below limits");
        assert_eq!(qos_class(&spec(&[(&[("cpu", "100m")], &[])])), "Burstable");
        assert_eq!(
            qos_class(&spec(&[(&both, &both), (&[], &[])])),
            "Burstable",
            "one container without"
        );
        assert_eq!(
            qos_class(&spec(&[(&[("cpu", "0")], &[])])),
            "BestEffort",
            "zero is none"
        );
    }
}
