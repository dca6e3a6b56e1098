//! Real probes between pods (TCP connect with the source address the receiver saw, app-port
//! requests, received TTL): they live in `podlab_netplugin::probe`; re-exported here so the
//! binary's callers keep their `crate::probe::...` paths.

pub use podlab_netplugin::probe::{probe_listener, probe_port, ttl_probe};
