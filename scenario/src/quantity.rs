//! Kubernetes resource quantities (`"2"`, `"500m"`, `"4Gi"`, `"1e3"`): parsing and checking
//! like the API server does.

use std::fmt;

/// The regular expression the API server quotes when a quantity is malformed.
pub const QUANTITY_REGEX: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

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
/// `"500m"` → 0.5, `"4Gi"` → 4294967296.0, `"1k"` → 1000.0.
pub fn parse_quantity(text: &str) -> Result<f64, QuantityError> {
    let err = || QuantityError { text: text.to_owned() };
    let s = text.trim();
    if s.is_empty() || s != text {
        return Err(err());
    }
    let (sign, rest) = match s.as_bytes()[0] {
        b'+' => (1.0, &s[1..]),
        b'-' => (-1.0, &s[1..]),
        _ => (1.0, s),
    };
    let num_end = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(rest.len());
    let (number, suffix) = rest.split_at(num_end);
    if number.is_empty() || number == "." || number.matches('.').count() > 1 {
        return Err(err());
    }
    let base: f64 = number.parse().map_err(|_| err())?;
    let multiplier = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        exp if exp.starts_with(['e', 'E']) => {
            let digits = &exp[1..];
            let unsigned = digits.strip_prefix(['+', '-']).unwrap_or(digits);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err());
            }
            let e: i32 = digits.parse().map_err(|_| err())?;
            10f64.powi(e)
        }
        _ => return Err(err()),
    };
    let value = sign * base * multiplier;
    if value.is_finite() { Ok(value) } else { Err(err()) }
}
