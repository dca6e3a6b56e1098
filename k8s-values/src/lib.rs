//! podlab-k8s-values: Kubernetes value formats shared by podlab's crates, with the same
//! results as Kubernetes itself. Pure functions, no I/O.
//!
//! # Layout
//!
//! - [`quantity`]: resource quantities (`"100m"`, `"4Gi"`, `"1e3"`): one exact parser of the
//!   grammar, read out as rounded-up integer milli-units or base units (what the scheduler
//!   and kubelet use, like `Quantity.MilliValue()`/`Value()`) or as an `f64` (for checks
//!   such as "requests must not exceed limits").
//! - [`image`]: image references: kube-scheduler's `normalizedImageName` and the split into
//!   repository (without `docker.io/library/`) and tag.

pub mod image;
pub mod quantity;

pub use image::{image_repository, normalize_image, split_image};
pub use quantity::{ParsedQuantity, QUANTITY_REGEX, QuantityError, parse_milli, parse_value};
