//! The filter plugins of a cycle, run per node: NodeUnschedulable, NodeName,
//! TaintToleration, NodeAffinity, NodePorts, NodeResourcesFit, PodTopologySpread,
//! InterPodAffinity (kube-scheduler 1.34 order and messages).

use super::{Cycle, hard_taints_tolerated, reasons};
use crate::error::FilterFailure;
use crate::index::NO_DOMAIN;
use crate::nodeinfo::{HOT_HARD_TAINTS, HOT_PORTS, HOT_UNSCHEDULABLE, NodeInfo};
use crate::selectors::tolerated;

impl<'a> Cycle<'a> {
    /// Runs the filter plugins in kube-scheduler's order; the first failure wins.
    pub fn filter(&self, ni: usize) -> Result<(), FilterFailure> {
        let n = &self.nodes[ni];
        let inc = self.inc;
        if n.unschedulable && !self.tolerates_unschedulable {
            return Err(FilterFailure::new("NodeUnschedulable", reasons::UNSCHEDULABLE, true));
        }
        if inc.node_name.as_ref().is_some_and(|want| *want != n.name) {
            return Err(FilterFailure::new("NodeName", reasons::NODE_NAME, true));
        }
        for t in &n.hard_taints {
            if !tolerated(&inc.tolerations, t) {
                let reason = format!(
                    "node(s) had untolerated taint {{{}: {}}}",
                    t.key,
                    t.value.as_deref().unwrap_or("")
                );
                return Err(FilterFailure::new("TaintToleration", &reason, true));
            }
        }
        if !inc.node_affinity_matches(&n.labels, &n.name) {
            return Err(FilterFailure::new("NodeAffinity", reasons::NODE_AFFINITY, true));
        }
        if !inc.info.host_ports.is_empty() && self.ports_conflict(n) {
            return Err(FilterFailure::new("NodePorts", reasons::NODE_PORTS, false));
        }
        self.fit(n)?;
        for (ci, s) in self.spread.iter().enumerate() {
            let d = s.topo.node_domain[ni];
            if d == NO_DOMAIN {
                return Err(FilterFailure::new("PodTopologySpread", reasons::SPREAD_LABEL, true));
            }
            let _ = ci;
            let skew = s.counts[d as usize] + i64::from(s.self_match) - s.min;
            if skew > s.max_skew {
                return Err(FilterFailure::new("PodTopologySpread", reasons::SPREAD, false));
            }
        }
        if let Some(a) = &self.affinity {
            let mut pods_exist = true;
            for (topo, agg) in &a.terms {
                let d = topo.node_domain[ni];
                if d == NO_DOMAIN {
                    return Err(FilterFailure::new("InterPodAffinity", reasons::AFFINITY, true));
                }
                if agg[d as usize] <= 0 {
                    pods_exist = false;
                }
            }
            if !pods_exist && (a.any_count || !a.self_match) {
                return Err(FilterFailure::new("InterPodAffinity", reasons::AFFINITY, true));
            }
        }
        for (topo, agg) in &self.anti {
            let d = topo.node_domain[ni];
            if d != NO_DOMAIN && agg[d as usize] > 0 {
                return Err(FilterFailure::new("InterPodAffinity", reasons::ANTI_AFFINITY, false));
            }
        }
        for (topo, blocked) in &self.existing_anti {
            let d = topo.node_domain[ni];
            if d != NO_DOMAIN && blocked[d as usize] > 0 {
                return Err(FilterFailure::new("InterPodAffinity", reasons::EXISTING_ANTI, false));
            }
        }
        Ok(())
    }

    /// The filters of [`Cycle::filter`] as a yes/no answer, without building any text
    /// (the scheduling loop's fast path; same verdicts).
    #[inline]
    pub fn feasible(&self, ni: usize) -> bool {
        let h = &self.hot[ni];
        let inc = self.inc;
        let req = &inc.info.requests;
        // NodeResourcesFit on the dense numbers first: the common rejection.
        if h.pods >= h.alloc_pods {
            return false;
        }
        if !self.requests_zero {
            let short = |want: i64, alloc: i64, used: i64| want > 0 && want > alloc - used;
            if short(req.milli_cpu, h.alloc_cpu, h.req_cpu)
                || short(req.memory, h.alloc_mem, h.req_mem)
                || short(req.ephemeral_storage, h.alloc_eph, h.req_eph)
            {
                return false;
            }
        }
        if h.flags & HOT_UNSCHEDULABLE != 0 && !self.tolerates_unschedulable {
            return false;
        }
        if h.flags & HOT_HARD_TAINTS != 0 && !hard_taints_tolerated(inc, &self.nodes[ni]) {
            return false;
        }
        if self.slow_checks {
            let n = &self.nodes[ni];
            if inc.node_name.as_ref().is_some_and(|want| *want != n.name) {
                return false;
            }
            if !self.node_affinity_ok(ni, n) {
                return false;
            }
            if h.flags & HOT_PORTS != 0 && !inc.info.host_ports.is_empty() && self.ports_conflict(n) {
                return false;
            }
            let (a, u) = (&n.alloc.resources, &n.requested);
            if req
                .scalar
                .iter()
                .any(|(name, q)| *q > 0 && *q > a.scalar(name) - u.scalar(name))
            {
                return false;
            }
        }
        for s in &self.spread {
            let d = s.topo.node_domain[ni];
            if d == NO_DOMAIN || s.counts[d as usize] + i64::from(s.self_match) - s.min > s.max_skew {
                return false;
            }
        }
        if let Some(a) = &self.affinity {
            let mut pods_exist = true;
            for (topo, agg) in &a.terms {
                let d = topo.node_domain[ni];
                if d == NO_DOMAIN {
                    return false;
                }
                pods_exist &= agg[d as usize] > 0;
            }
            if !pods_exist && (a.any_count || !a.self_match) {
                return false;
            }
        }
        for (topo, counts) in self.anti.iter().chain(&self.existing_anti) {
            let d = topo.node_domain[ni];
            if d != NO_DOMAIN && counts[d as usize] > 0 {
                return false;
            }
        }
        true
    }

    /// nodeSelector + required node affinity on node `ni`, memoized when possible.
    #[inline]
    fn node_affinity_ok(&self, ni: usize, n: &NodeInfo) -> bool {
        match self.affinity_memo.and_then(|m| m.get(ni)) {
            Some(cell) => match cell.get() {
                1 => true,
                2 => false,
                _ => {
                    let ok = self.inc.node_affinity_matches(&n.labels, &n.name);
                    cell.set(if ok { 1 } else { 2 });
                    ok
                }
            },
            None => self.inc.node_affinity_matches(&n.labels, &n.name),
        }
    }

    fn ports_conflict(&self, n: &NodeInfo) -> bool {
        let wild = "0.0.0.0";
        self.inc.info.host_ports.iter().any(|(ip, proto, port)| {
            n.pods.iter().any(|p| {
                p.host_ports.iter().any(|(ip2, proto2, port2)| {
                    port == port2 && proto == proto2 && (ip == wild || ip2 == wild || ip == ip2)
                })
            })
        })
    }

    fn fit(&self, n: &NodeInfo) -> Result<(), FilterFailure> {
        let req = &self.inc.info.requests;
        let mut reasons: Vec<String> = Vec::new();
        let mut unresolvable = false;
        if n.pods.len() as i64 + 1 > n.alloc.pods {
            reasons.push("Too many pods".into());
        }
        if !req.is_zero() {
            let a = &n.alloc.resources;
            let u = &n.requested;
            let mut check = |want: i64, alloc: i64, used: i64, reason: &str| {
                if want > 0 && want > alloc - used {
                    reasons.push(reason.to_string());
                    unresolvable |= want > alloc;
                }
            };
            check(req.milli_cpu, a.milli_cpu, u.milli_cpu, "Insufficient cpu");
            check(req.memory, a.memory, u.memory, "Insufficient memory");
            check(
                req.ephemeral_storage,
                a.ephemeral_storage,
                u.ephemeral_storage,
                "Insufficient ephemeral-storage",
            );
            for (name, q) in &req.scalar {
                if *q > 0 && *q > a.scalar(name) - u.scalar(name) {
                    reasons.push(format!("Insufficient {name}"));
                    unresolvable |= *q > a.scalar(name);
                }
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(FilterFailure {
                plugin: "NodeResourcesFit",
                reasons,
                unresolvable,
            })
        }
    }
}
