//! Exact parsing of Kubernetes `Quantity` strings ("100m", "0.5", "128Mi", "1e3") into
//! integer milli-units or base units, rounding up like `Quantity.MilliValue()`/`Value()`.

use thiserror::Error;

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
    let invalid = || QuantityError::Invalid(s.to_string());
    let range = || QuantityError::OutOfRange(s.to_string());
    let t = s.trim();
    let bytes = t.as_bytes();
    let mut i = 0;
    let mut negative = false;
    if i < bytes.len() && (bytes[i] == b'+' || bytes[i] == b'-') {
        negative = bytes[i] == b'-';
        i += 1;
    }
    let mut mantissa: i128 = 0;
    let mut exp10: i32 = 0;
    let mut digits = 0usize;
    let mut seen_dot = false;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            digits += 1;
            if mantissa < 10i128.pow(30) {
                mantissa = mantissa * 10 + i128::from(c - b'0');
                if seen_dot {
                    exp10 -= 1;
                }
            } else if !seen_dot {
                // Too many significant digits: keep magnitude, drop precision (rounded up below).
                exp10 += 1;
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
    let suffix = &t[i..];
    let mut bin_shift: u32 = 0;
    match suffix {
        "" => {}
        "n" => exp10 -= 9,
        "u" => exp10 -= 6,
        "m" => exp10 -= 3,
        "k" => exp10 += 3,
        "M" => exp10 += 6,
        "G" => exp10 += 9,
        "T" => exp10 += 12,
        "P" => exp10 += 15,
        "E" => exp10 += 18,
        "Ki" => bin_shift = 10,
        "Mi" => bin_shift = 20,
        "Gi" => bin_shift = 30,
        "Ti" => bin_shift = 40,
        "Pi" => bin_shift = 50,
        "Ei" => bin_shift = 60,
        _ => {
            let rest = suffix
                .strip_prefix('e')
                .or_else(|| suffix.strip_prefix('E'))
                .ok_or_else(invalid)?;
            let valid = !rest.is_empty()
                && rest.trim_start_matches(['+', '-']).bytes().all(|b| b.is_ascii_digit())
                && rest.len() - rest.trim_start_matches(['+', '-']).len() <= 1
                && rest.len() <= 6;
            if !valid {
                return Err(invalid());
            }
            let e: i32 = rest.parse().map_err(|_| invalid())?;
            exp10 += e;
        }
    }
    if mantissa == 0 {
        return Ok(0);
    }
    let mut value: i128 = mantissa;
    value = value.checked_shl(bin_shift).ok_or_else(range)?;
    if value >> bin_shift != mantissa {
        return Err(range());
    }
    let e = exp10 + scale10;
    let result: i128 = if e >= 0 {
        let mut v = value;
        for _ in 0..e {
            v = v.checked_mul(10).ok_or_else(range)?;
            if v > i128::from(i64::MAX) {
                return Err(range());
            }
        }
        v
    } else if -e > 38 {
        // Tiny positive fraction rounds up to 1 (or down to 0 when negative).
        if negative { 0 } else { 1 }
    } else {
        let d = 10i128.pow((-e) as u32);
        let q = value / d;
        let r = value % d;
        if r != 0 && !negative { q + 1 } else { q }
    };
    let signed = if negative { -result } else { result };
    i64::try_from(signed).map_err(|_| range())
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
}
