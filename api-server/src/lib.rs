//! The Kubernetes REST API of a podlab cluster, served on loopback so the real `kubectl` and
//! client libraries (the `kube` crate) work against it. Every request goes through the
//! control-plane library, as the daemon's socket and the scenario runner do.
//!
//! # Layout
//!
//! - [`patch`]: JSON patch, merge patch, strategic merge patch and server-side apply on JSON
//!   objects.
//! - [`stream`]: the streaming protocols of `exec`, `attach` and `port-forward`: the
//!   `channel.k8s.io` WebSocket framing and SPDY/3.1.

pub mod patch;
pub mod stream;
