//! Kubernetes resource quantities (`"2"`, `"100m"`, `"0.5"`, `"128Mi"`, `"1e3"`).
//!
//! One parser of the grammar, [`ParsedQuantity::parse`], keeps the number exactly (an
//! integer mantissa, a power of ten and a power of two). It is then read out either as an
//! integer at a decimal scale, rounded up like `Quantity.MilliValue()`/`Value()`
//! ([`parse_milli`], [`parse_value`]: what the scheduler's arithmetic uses), or as an `f64`
//! ([`ParsedQuantity::to_f64`]: what a validator comparing requests with limits needs).

use thiserror::Error;

/// The regular expression the API server quotes when a quantity is malformed.
pub const QUANTITY_REGEX: &str = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$";

/// Why a quantity string could not be turned into a number.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QuantityError {
    /// The string is not in Kubernetes' quantity grammar.
    #[error("invalid quantity {0:?}")]
    Invalid(String),
    /// The value does not fit in a 64-bit integer at the requested scale.
    #[error("quantity {0:?} is out of range")]
    OutOfRange(String),
}

/// The unit after the number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Suffix {
    /// No suffix.
    None,
    /// A decimal SI suffix (`n` … `E`): the power of ten it stands for.
    Si(i32),
    /// A binary suffix (`Ki` … `Ei`): the power of two it stands for.
    Binary(u32),
    /// A decimal exponent (`e3`, `E-2`).
    Exponent(i32),
}

/// A quantity in Kubernetes' grammar, kept exactly: `±mantissa × 10^digits_exp10` times its
/// suffix. At most 30 significant digits are kept (further digits before the point keep
/// the magnitude, further digits after it are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedQuantity {
    negative: bool,
    mantissa: i128,
    /// Power of ten of the written digits (minus the number of digits after the point).
    digits_exp10: i32,
    suffix: Suffix,
}

impl ParsedQuantity {
    /// Parses `s` (surrounding whitespace ignored). Fails with [`QuantityError::Invalid`]
    /// when `s` is not in the grammar; never fails for range.
    pub fn parse(s: &str) -> Result<ParsedQuantity, QuantityError> {
        let invalid = || QuantityError::Invalid(s.to_string());
        let t = s.trim();
        let bytes = t.as_bytes();
        let mut i = 0;
        let mut negative = false;
        if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
            negative = bytes[i] == b'-';
            i += 1;
        }
        let mut mantissa: i128 = 0;
        let mut digits_exp10: i32 = 0;
        let mut digits = 0usize;
        let mut seen_dot = false;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_digit() {
                digits += 1;
                if mantissa < 10i128.pow(30) {
                    mantissa = mantissa * 10 + i128::from(c - b'0');
                    if seen_dot {
                        digits_exp10 -= 1;
                    }
                } else if !seen_dot {
                    // Too many significant digits: keep magnitude, drop precision.
                    digits_exp10 += 1;
                }
            } else if c == b'.' && !seen_dot {
                seen_dot = true;
            } else {
                break;
            }
            i += 1;
        }
        if digits == 0 {
            return Err(invalid());
        }
        let suffix = match &t[i..] {
            "" => Suffix::None,
            "n" => Suffix::Si(-9),
            "u" => Suffix::Si(-6),
            "m" => Suffix::Si(-3),
            "k" => Suffix::Si(3),
            "M" => Suffix::Si(6),
            "G" => Suffix::Si(9),
            "T" => Suffix::Si(12),
            "P" => Suffix::Si(15),
            "E" => Suffix::Si(18),
            "Ki" => Suffix::Binary(10),
            "Mi" => Suffix::Binary(20),
            "Gi" => Suffix::Binary(30),
            "Ti" => Suffix::Binary(40),
            "Pi" => Suffix::Binary(50),
            "Ei" => Suffix::Binary(60),
            other => {
                let rest = other
                    .strip_prefix('e')
                    .or_else(|| other.strip_prefix('E'))
                    .ok_or_else(invalid)?;
                let unsigned = rest.trim_start_matches(['+', '-']);
                let valid = !rest.is_empty()
                    && unsigned.bytes().all(|b| b.is_ascii_digit())
                    && rest.len() - unsigned.len() <= 1
                    && rest.len() <= 6;
                if !valid {
                    return Err(invalid());
                }
                Suffix::Exponent(rest.parse().map_err(|_| invalid())?)
            }
        };
        Ok(ParsedQuantity {
            negative,
            mantissa,
            digits_exp10,
            suffix,
        })
    }

    /// True when written with a minus sign (`-0` included).
    pub fn is_negative(&self) -> bool {
        self.negative
    }

    /// `ceil(value × 10^scale10)` exactly (towards zero for negative values), or `None`
    /// when that does not fit in an `i64`.
    pub fn scaled_ceil(&self, scale10: i32) -> Option<i64> {
        let (mut exp10, bin_shift) = match self.suffix {
            Suffix::None => (0, 0),
            Suffix::Si(e) | Suffix::Exponent(e) => (e, 0),
            Suffix::Binary(s) => (0, s),
        };
        exp10 += self.digits_exp10;
        let mantissa = self.mantissa;
        if mantissa == 0 {
            return Some(0);
        }
        let value = mantissa.checked_shl(bin_shift)?;
        if value >> bin_shift != mantissa {
            return None;
        }
        let e = exp10 + scale10;
        let result: i128 = if e >= 0 {
            let mut v = value;
            for _ in 0..e {
                v = v.checked_mul(10)?;
                if v > i128::from(i64::MAX) {
                    return None;
                }
            }
            v
        } else if -e > 38 {
            // Tiny positive fraction rounds up to 1 (or down to 0 when negative).
            i128::from(!self.negative)
        } else {
            let d = 10i128.pow(e.unsigned_abs());
            let q = value / d;
            let r = value % d;
            if r != 0 && !self.negative { q + 1 } else { q }
        };
        let signed = if self.negative { -result } else { result };
        i64::try_from(signed).ok()
    }

    /// The value as an `f64` in base units (`"500m"` → 0.5, `"4Gi"` → 4294967296.0): the
    /// written digits as the nearest `f64`, times the suffix's factor. Infinite when too
    /// large for an `f64`.
    pub fn to_f64(&self) -> f64 {
        let sign = if self.negative { -1.0 } else { 1.0 };
        // Always a valid float literal; the fallback is never taken.
        let base: f64 = format!("{}e{}", self.mantissa, self.digits_exp10)
            .parse()
            .unwrap_or(f64::NAN);
        let multiplier = match self.suffix {
            Suffix::None => 1.0,
            Suffix::Si(-9) => 1e-9,
            Suffix::Si(-6) => 1e-6,
            Suffix::Si(-3) => 1e-3,
            Suffix::Si(e) | Suffix::Exponent(e) => 10f64.powi(e),
            Suffix::Binary(s) => 2f64.powi(s as i32),
        };
        sign * base * multiplier
    }
}

/// Parses `s` and returns its value in thousandths, rounded up (CPU "100m" -> 100, "2" -> 2000).
pub fn parse_milli(s: &str) -> Result<i64, QuantityError> {
    parse_scaled(s, 3)
}

/// Parses `s` and returns its value in base units, rounded up ("128Mi" -> 134217728, "1G" -> 10^9).
pub fn parse_value(s: &str) -> Result<i64, QuantityError> {
    parse_scaled(s, 0)
}

/// Parses `s` and returns `ceil(value * 10^scale10)`.
fn parse_scaled(s: &str, scale10: i32) -> Result<i64, QuantityError> {
    ParsedQuantity::parse(s)?
        .scaled_ceil(scale10)
        .ok_or_else(|| QuantityError::OutOfRange(s.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_forms() {
        assert_eq!(parse_milli("100m"), Ok(100));
        assert_eq!(parse_milli("0.5"), Ok(500));
        assert_eq!(parse_milli("2"), Ok(2000));
        assert_eq!(parse_milli(".25"), Ok(250));
        assert_eq!(parse_milli("1e3"), Ok(1_000_000));
        assert_eq!(parse_milli("1.5k"), Ok(1_500_000));
        // Sub-milli values round up like Quantity.MilliValue().
        assert_eq!(parse_milli("100u"), Ok(1));
        assert_eq!(parse_milli("1n"), Ok(1));
        assert_eq!(parse_milli("0"), Ok(0));
    }

    #[test]
    fn memory_forms() {
        assert_eq!(parse_value("128Mi"), Ok(128 * 1024 * 1024));
        assert_eq!(parse_value("1G"), Ok(1_000_000_000));
        assert_eq!(parse_value("32Gi"), Ok(32 << 30));
        assert_eq!(parse_value("1.5Gi"), Ok(3 << 29));
        assert_eq!(parse_value("1e3"), Ok(1000));
        assert_eq!(parse_value("1E3"), Ok(1000));
        assert_eq!(parse_value("12e-1"), Ok(2));
        assert_eq!(parse_value("500m"), Ok(1));
        assert_eq!(parse_value("110"), Ok(110));
    }

    #[test]
    fn errors_not_panics() {
        for bad in ["", "m", "abc", "1Qi", "1.2.3", "1e", "1e+", "--1", "1 Gi"] {
            assert!(matches!(parse_value(bad), Err(QuantityError::Invalid(_))), "{bad}");
        }
        assert!(matches!(parse_value("9Ei"), Err(QuantityError::OutOfRange(_))));
        assert!(matches!(parse_milli("1e300"), Err(QuantityError::OutOfRange(_))));
    }

    #[test]
    fn negative_values() {
        assert_eq!(parse_milli("-1"), Ok(-1000));
        assert_eq!(parse_value("-1.5"), Ok(-1));
    }

    fn f(s: &str) -> f64 {
        ParsedQuantity::parse(s).map(|q| q.to_f64()).unwrap_or(f64::NAN)
    }

    #[test]
    fn as_f64_like_the_digits_times_the_unit() {
        assert_eq!(f("2"), 2.0);
        assert_eq!(f("500m"), 0.5);
        assert_eq!(f("4Gi"), 4.0 * 1024.0 * 1024.0 * 1024.0);
        assert_eq!(f("1k"), 1000.0);
        assert_eq!(f("1e3"), 1000.0);
        assert_eq!(f(".5"), 0.5);
        assert_eq!(f("123.45"), "123.45".parse::<f64>().unwrap_or_default());
        assert_eq!(f("300m"), 300.0 * 1e-3);
        assert_eq!(f("-1.5"), -1.5);
        assert!(f("1e400").is_infinite());
        // Out of i64 range is still a number.
        assert!(f("1e300").is_finite() && f("1e300") > 9.9e299);
    }
}
