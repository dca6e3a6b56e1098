//! Link shaping in scenario files: `cluster.links` (every node's uplink) and
//! `cluster.nodes[].uplink` (one node), each `{latency: 2ms, jitter: 0.5ms, rate: 100mbit}`.

use std::time::Duration;

use crate::error::LoadError;
use crate::objects::Ctx;
use crate::walk::{self, Map};
use crate::yaml::{Node, Value};

/// Delay, jitter and rate limit of a node's uplink; unset fields leave the link bare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkSpec {
    /// Round-trip time the uplink adds (half out of the node, half into it).
    pub latency: Option<Duration>,
    /// Random variation of the latency (at most `latency`).
    pub jitter: Option<Duration>,
    /// Rate limit in bits per second, each direction.
    pub rate_bits_per_sec: Option<u64>,
}

impl LinkSpec {
    /// True when nothing is shaped (no latency, jitter or rate; zero durations count as none).
    pub fn is_bare(&self) -> bool {
        self.latency.is_none_or(|d| d.is_zero())
            && self.jitter.is_none_or(|d| d.is_zero())
            && self.rate_bits_per_sec.is_none()
    }

    /// `self` with every field `over` sets replaced by `over`'s value.
    pub fn overridden_by(&self, over: &LinkSpec) -> LinkSpec {
        LinkSpec {
            latency: over.latency.or(self.latency),
            jitter: over.jitter.or(self.jitter),
            rate_bits_per_sec: over.rate_bits_per_sec.or(self.rate_bits_per_sec),
        }
    }
}

/// Node annotation carrying the node's uplink shaping (`latency=5ms jitter=1ms rate=100mbit`),
/// set on `ClusterSpec::nodes` when a scenario shapes links, read by the cluster at bring-up.
pub const UPLINK_ANNOTATION: &str = "podlab.dev/uplink";

impl LinkSpec {
    /// The annotation text: `latency=5ms jitter=1ms rate=100mbit` (set fields only).
    pub fn to_annotation(&self) -> String {
        let mut parts = Vec::new();
        if let Some(l) = self.latency {
            parts.push(format!("latency={}ns", l.as_nanos()));
        }
        if let Some(j) = self.jitter {
            parts.push(format!("jitter={}ns", j.as_nanos()));
        }
        if let Some(r) = self.rate_bits_per_sec {
            parts.push(format!("rate={r}bit"));
        }
        parts.join(" ")
    }

    /// Reads [`LinkSpec::to_annotation`]'s text back; `None` if it is malformed.
    pub fn from_annotation(text: &str) -> Option<LinkSpec> {
        let mut out = LinkSpec::default();
        for part in text.split_whitespace() {
            let (k, v) = part.split_once('=')?;
            match k {
                "latency" => out.latency = Some(crate::parse_duration(v).ok()?),
                "jitter" => out.jitter = Some(crate::parse_duration(v).ok()?),
                "rate" => out.rate_bits_per_sec = Some(parse_rate(v).ok()?),
                _ => return None,
            }
        }
        Some(out)
    }
}

/// A rate that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{text:?} is not a rate: write a positive number with a unit in bits per second, like 500kbit, 100mbit or 1gbit"
)]
pub struct RateError {
    /// The rejected text.
    pub text: String,
}

/// Parses `100mbit`, `1gbit`, `500kbit`, `2.5mbit`, `64000bit` into bits per second (> 0).
/// Units are case-insensitive; `bps`-style units (bytes in `tc`) are refused to avoid mix-ups.
pub fn parse_rate(text: &str) -> Result<u64, RateError> {
    let err = || RateError { text: text.to_owned() };
    let s = text.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(err)?;
    let (num, unit) = s.split_at(split);
    let number: f64 = num.parse().map_err(|_| err())?;
    let factor = match unit.trim() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "tbit" => 1e12,
        _ => return Err(err()),
    };
    let bits = (number * factor).round();
    if !(bits.is_finite() && bits >= 1.0 && bits < u64::MAX as f64) {
        return Err(err());
    }
    Ok(bits as u64)
}

/// Reads one `{latency, jitter, rate}` map at `path`.
pub(crate) fn parse(node: &Node, path: &str, ctx: &mut Ctx<'_>) -> Result<LinkSpec, LoadError> {
    if node.value == Value::Null {
        return Ok(LinkSpec::default());
    }
    let m = Map::new(node, path, ctx)?;
    m.warn_unknown(&["latency", "jitter", "rate"], ctx);
    let latency = m.duration("latency", ctx)?;
    let jitter = m.duration("jitter", ctx)?;
    let rate = match m.get("rate") {
        Some(r) => {
            let p = m.child("rate");
            let text = r
                .scalar_text()
                .ok_or_else(|| walk::mismatch(r, &p, "a rate like 100mbit", ctx))?;
            Some(parse_rate(&text).map_err(|e| walk::error(r, &p, &e.to_string(), ctx))?)
        }
        None => None,
    };
    if let Some(j) = jitter.filter(|j| !j.is_zero())
        && j > latency.unwrap_or_default()
    {
        return Err(walk::error(
            m.get("jitter").unwrap_or(node),
            &m.child("jitter"),
            &format!(
                "jitter {j:?} is larger than the latency {:?}: jitter varies the latency, so it must not exceed it (set latency too)",
                latency.unwrap_or_default()
            ),
            ctx,
        ));
    }
    Ok(LinkSpec {
        latency,
        jitter,
        rate_bits_per_sec: rate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("100mbit"), Ok(100_000_000));
        assert_eq!(parse_rate("1Gbit"), Ok(1_000_000_000));
        assert_eq!(parse_rate("500kbit"), Ok(500_000));
        assert_eq!(parse_rate("2.5mbit"), Ok(2_500_000));
        for bad in ["", "fast", "100", "0mbit", "-1mbit", "10mbps", "1.2.3mbit"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn override_keeps_unset_fields() {
        let all = LinkSpec {
            latency: Some(Duration::from_millis(2)),
            jitter: None,
            rate_bits_per_sec: Some(1000),
        };
        let over = LinkSpec {
            latency: Some(Duration::ZERO),
            ..Default::default()
        };
        let m = all.overridden_by(&over);
        assert_eq!(m.latency, Some(Duration::ZERO));
        assert_eq!(m.rate_bits_per_sec, Some(1000));
        assert!(!m.is_bare());
    }
}
