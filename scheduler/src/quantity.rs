//! Exact parsing of Kubernetes `Quantity` strings ("100m", "0.5", "128Mi", "1e3") into
//! integer milli-units or base units, rounding up like `Quantity.MilliValue()`/`Value()`.
//! The parser is `podlab-k8s-values`' (shared with the scenario loader); it is re-exported
//! here for the scheduler's users.

pub use podlab_k8s_values::quantity::{QuantityError, parse_milli, parse_value};
