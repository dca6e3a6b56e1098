//! Kubernetes resource quantities in a scenario (`"2"`, `"500m"`, `"4Gi"`, `"1e3"`): checked
//! like the API server does, with a message that says how to write one. The grammar itself
//! is parsed by `podlab-k8s-values` (the scheduler's exact parser); this module adds the
//! strictness of a file (no surrounding spaces) and the `f64` the checks compare.

use std::fmt;

use podlab_k8s_values::ParsedQuantity;
pub use podlab_k8s_values::QUANTITY_REGEX;

/// A quantity string that is not a valid Kubernetes quantity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityError {
    /// The rejected text.
    pub text: String,
}

impl fmt::Display for QuantityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a valid quantity: write a number with an optional unit, like \"2\", \"500m\" (half a CPU), \"128Mi\" or \"4Gi\" (quantities must match the regular expression '{QUANTITY_REGEX}')",
            self.text
        )
    }
}

impl std::error::Error for QuantityError {}

/// Parses a quantity into its value in base units (cores, bytes, count):
/// `"500m"` → 0.5, `"4Gi"` → 4294967296.0, `"1k"` → 1000.0. Surrounding whitespace and
/// values too large for an `f64` are errors.
pub fn parse_quantity(text: &str) -> Result<f64, QuantityError> {
    let err = || QuantityError { text: text.to_owned() };
    if text.trim() != text {
        return Err(err());
    }
    let value = ParsedQuantity::parse(text).map_err(|_| err())?.to_f64();
    if value.is_finite() { Ok(value) } else { Err(err()) }
}
