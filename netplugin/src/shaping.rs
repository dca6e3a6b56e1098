//! Link shaping on a node's uplink: delay and jitter with the kernel's `netem` qdisc, a rate
//! limit with `tbf`, both set through rtnetlink (no `tc` process).
//!
//! netlink-packet-route has no netem or tbf option types, so the `TCA_OPTIONS` payloads are
//! built here byte for byte as iproute2 sends them: netem is `struct tc_netem_qopt` followed
//! by `TCA_NETEM_LATENCY64`/`TCA_NETEM_JITTER64` (nanoseconds); tbf is nested
//! `TCA_TBF_PARMS` (`struct tc_tbf_qopt`, link layer "ethernet" so no rate table is needed),
//! `TCA_TBF_RATE64` and `TCA_TBF_BURST`.
//!
//! Both ends of the uplink are shaped (the node's `eth0` and the fabric's `fab-<i>`), each
//! with half the latency and jitter and the full rate: egress shaping is the only kind a
//! qdisc does, so this shapes both directions. With delay and rate, netem is the root
//! (`handle 1:`) and tbf its child (`parent 1:1 handle 10:`).

use std::time::Duration;

use futures::StreamExt;
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use rtnetlink::Handle;
use rtnetlink::packet_core::{
    DefaultNla, NLM_F_ACK, NLM_F_CREATE, NLM_F_REPLACE, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
};
use rtnetlink::packet_route::RouteNetlinkMessage;

use crate::NetError;
use crate::error::errno;

/// Delay, jitter and rate limit of a node's uplink. All zero/`None` means the bare veth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkShaping {
    /// Round-trip time the uplink adds: half on the way out of the node, half on the way in.
    /// Traffic between two shaped nodes crosses two uplinks, so it pays this twice per round trip.
    pub latency: Duration,
    /// Random variation of `latency` (split the same way).
    pub jitter: Duration,
    /// Rate limit in bits per second, in each direction; `None` for no limit.
    pub rate_bits_per_sec: Option<u64>,
}

impl LinkShaping {
    /// True when nothing is shaped (bare veth).
    pub fn is_bare(&self) -> bool {
        self.latency.is_zero() && self.jitter.is_zero() && self.rate_bits_per_sec.is_none()
    }

    /// One end's share of the delay: half the latency and half the jitter.
    fn half(&self) -> (Duration, Duration) {
        (self.latency / 2, self.jitter / 2)
    }
}

impl std::fmt::Display for LinkShaping {
    /// `latency 5ms, jitter 1ms, rate 100mbit` (only the parts that are set), or `bare veth`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_bare() {
            return f.write_str("bare veth");
        }
        let mut parts = Vec::new();
        if !self.latency.is_zero() {
            parts.push(format!("latency {}", tc_time(self.latency)));
        }
        if !self.jitter.is_zero() {
            parts.push(format!("jitter {}", tc_time(self.jitter)));
        }
        if let Some(r) = self.rate_bits_per_sec {
            parts.push(format!("rate {}", tc_rate(r)));
        }
        f.write_str(&parts.join(", "))
    }
}

/// A duration as `tc` writes it: `2ms`, `500us`, `1.5ms`, `1s`.
pub fn tc_time(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        "0ms".into()
    } else if ns.is_multiple_of(1_000_000_000) {
        format!("{}s", ns / 1_000_000_000)
    } else if ns >= 1_000_000 {
        trim(format!("{:.3}", ns as f64 / 1e6)) + "ms"
    } else {
        trim(format!("{:.3}", ns as f64 / 1e3)) + "us"
    }
}

/// A rate as `tc` reads it: `100mbit`, `1gbit`, `500kbit`, `1234bit`.
pub fn tc_rate(bits: u64) -> String {
    for (unit, f) in [("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000)] {
        if bits >= f && bits.is_multiple_of(f) {
            return format!("{}{unit}", bits / f);
        }
    }
    format!("{bits}bit")
}

fn trim(s: String) -> String {
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

const TCA_OPTIONS: u16 = 2;
const TCA_NETEM_LATENCY64: u16 = 10;
const TCA_NETEM_JITTER64: u16 = 11;
const TCA_TBF_PARMS: u16 = 1;
const TCA_TBF_RATE64: u16 = 4;
const TCA_TBF_BURST: u16 = 6;
const TC_LINKLAYER_ETHERNET: u8 = 1;
/// netem's packet queue, iproute2's default.
const NETEM_LIMIT: u32 = 1000;
/// One psched tick is 64 ns (`PSCHED_SHIFT` 6) on every kernel since 3.x.
const PSCHED_SHIFT: u32 = 6;

fn ticks(ns: u128) -> u32 {
    u32::try_from(ns >> PSCHED_SHIFT).unwrap_or(u32::MAX)
}

fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
    let len = 4 + value.len();
    let mut out = Vec::with_capacity((len + 3) & !3);
    out.extend_from_slice(&(len as u16).to_ne_bytes());
    out.extend_from_slice(&kind.to_ne_bytes());
    out.extend_from_slice(value);
    out.resize((len + 3) & !3, 0);
    out
}

/// The `TCA_OPTIONS` payload of `netem delay <latency> <jitter> limit 1000`.
pub fn netem_options(latency: Duration, jitter: Duration) -> Vec<u8> {
    // struct tc_netem_qopt { latency, limit, loss, gap, duplicate, jitter } (u32 each; ticks).
    let mut out = Vec::with_capacity(48);
    for v in [
        ticks(latency.as_nanos()),
        NETEM_LIMIT,
        0,
        0,
        0,
        ticks(jitter.as_nanos()),
    ] {
        out.extend_from_slice(&v.to_ne_bytes());
    }
    let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX).to_ne_bytes();
    out.extend(nla(TCA_NETEM_LATENCY64, &ns(latency)));
    out.extend(nla(TCA_NETEM_JITTER64, &ns(jitter)));
    out
}

/// Bucket size for `rate`: 10 ms worth of traffic, at least 32 KiB (several full frames).
pub fn tbf_burst_bytes(rate_bits_per_sec: u64) -> u32 {
    u32::try_from((rate_bits_per_sec / 8 / 100).max(32 * 1024)).unwrap_or(u32::MAX)
}

/// Queue size for `rate`: the bucket plus 50 ms worth of traffic (`tc ... latency 50ms`).
pub fn tbf_limit_bytes(rate_bits_per_sec: u64) -> u32 {
    let bytes = u64::from(tbf_burst_bytes(rate_bits_per_sec)) + rate_bits_per_sec / 8 / 20;
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

/// The `TCA_OPTIONS` payload (nested attributes) of `tbf rate <rate> burst <b> limit <l>`.
pub fn tbf_options(rate_bits_per_sec: u64) -> Vec<u8> {
    let bytes_per_sec = (rate_bits_per_sec / 8).max(1);
    let burst = tbf_burst_bytes(rate_bits_per_sec);
    let buffer_ns = u128::from(burst) * 1_000_000_000 / u128::from(bytes_per_sec);
    // struct tc_ratespec { u8 cell_log; u8 linklayer; u16 overhead; i16 cell_align; u16 mpu; u32 rate }
    let mut rate = vec![0u8, TC_LINKLAYER_ETHERNET, 0, 0, 0, 0, 0, 0];
    rate.extend_from_slice(&u32::try_from(bytes_per_sec).unwrap_or(u32::MAX).to_ne_bytes());
    // struct tc_tbf_qopt { rate, peakrate, u32 limit, u32 buffer (ticks), u32 mtu }
    let mut qopt = rate;
    qopt.extend_from_slice(&[0u8; 12]);
    for v in [tbf_limit_bytes(rate_bits_per_sec), ticks(buffer_ns), 0] {
        qopt.extend_from_slice(&v.to_ne_bytes());
    }
    let mut out = nla(TCA_TBF_PARMS, &qopt);
    out.extend(nla(TCA_TBF_RATE64, &bytes_per_sec.to_ne_bytes()));
    out.extend(nla(TCA_TBF_BURST, &burst.to_ne_bytes()));
    out
}

/// One qdisc to install: where, what kind, and its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QdiscPlan {
    /// `root` or `parent 1:1`.
    pub parent: TcHandle,
    /// Our handle for it.
    pub handle: TcHandle,
    /// `netem` or `tbf`.
    pub kind: &'static str,
    /// The `TCA_OPTIONS` payload.
    pub options: Vec<u8>,
    /// The same qdisc as `tc` arguments (after `dev X`).
    pub tc_args: String,
}

/// The qdiscs one end of a shaped uplink gets (empty for a bare link).
pub(crate) fn plan(s: &LinkShaping) -> Vec<QdiscPlan> {
    let (lat, jit) = s.half();
    let mut out = Vec::new();
    let delayed = !lat.is_zero() || !jit.is_zero();
    if delayed {
        let mut args = format!("root handle 1: netem delay {}", tc_time(lat));
        if !jit.is_zero() {
            args += &format!(" {}", tc_time(jit));
        }
        args += &format!(" limit {NETEM_LIMIT}");
        out.push(QdiscPlan {
            parent: TcHandle::ROOT,
            handle: TcHandle { major: 1, minor: 0 },
            kind: "netem",
            options: netem_options(lat, jit),
            tc_args: args,
        });
    }
    if let Some(rate) = s.rate_bits_per_sec {
        let (parent, handle, place) = if delayed {
            (
                TcHandle { major: 1, minor: 1 },
                TcHandle { major: 10, minor: 0 },
                "parent 1:1 handle 10:",
            )
        } else {
            (TcHandle::ROOT, TcHandle { major: 1, minor: 0 }, "root handle 1:")
        };
        out.push(QdiscPlan {
            parent,
            handle,
            kind: "tbf",
            options: tbf_options(rate),
            tc_args: format!(
                "{place} tbf rate {} burst {}b limit {}b",
                tc_rate(rate),
                tbf_burst_bytes(rate),
                tbf_limit_bytes(rate)
            ),
        });
    }
    out
}

/// Installs (replaces) one qdisc on link `index`. `what` names the link for errors.
pub(crate) async fn replace_qdisc(handle: &Handle, index: u32, q: &QdiscPlan, what: &str) -> Result<(), NetError> {
    let mut msg = TcMessage::with_index(index as i32);
    msg.header.parent = q.parent;
    msg.header.handle = q.handle;
    msg.attributes.push(TcAttribute::Kind(q.kind.to_string()));
    msg.attributes
        .push(TcAttribute::Other(DefaultNla::new(TCA_OPTIONS, q.options.clone())));
    let flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE;
    send(handle, RouteNetlinkMessage::NewQueueDiscipline(msg), flags)
        .await
        .map_err(|e| match errno(&e) {
            Some(libc::ENOENT) => NetError::QdiscUnsupported {
                kind: q.kind.to_string(),
            },
            _ => NetError::netlink(format!("add {} qdisc on {what}", q.kind), e),
        })
}

/// Removes the root qdisc of link `index` (back to the veth's default); none is fine.
pub(crate) async fn delete_root_qdisc(handle: &Handle, index: u32, what: &str) -> Result<(), NetError> {
    let mut msg = TcMessage::with_index(index as i32);
    msg.header.parent = TcHandle::ROOT;
    match send(
        handle,
        RouteNetlinkMessage::DelQueueDiscipline(msg),
        NLM_F_REQUEST | NLM_F_ACK,
    )
    .await
    {
        Err(e) if matches!(errno(&e), Some(libc::ENOENT | libc::EINVAL)) => Ok(()),
        r => r.map_err(|e| NetError::netlink(format!("delete the root qdisc of {what}"), e)),
    }
}

async fn send(handle: &Handle, msg: RouteNetlinkMessage, flags: u16) -> Result<(), rtnetlink::Error> {
    let mut req = NetlinkMessage::from(msg);
    req.header.flags = flags;
    let mut response = handle.clone().request(req)?;
    while let Some(m) = response.next().await {
        if let NetlinkPayload::Error(e) = m.payload {
            return Err(rtnetlink::Error::NetlinkError(e));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netem_struct_matches_iproute2() {
        // `tc qdisc replace dev lo root handle 1: netem delay 10ms 2ms limit 1000` as sent by
        // iproute2 6.x (captured with strace): the 24-byte struct tc_netem_qopt.
        let want: [u8; 24] = [
            0x5a, 0x62, 0x02, 0x00, 0xe8, 0x03, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x7a, 0x00, 0x00,
        ];
        let got = netem_options(Duration::from_millis(10), Duration::from_millis(2));
        if cfg!(target_endian = "little") {
            assert_eq!(got[..24], want);
        }
        // Then LATENCY64 and JITTER64 in nanoseconds, 12 bytes each.
        assert_eq!(got.len(), 24 + 12 + 12);
        assert_eq!(u16::from_ne_bytes([got[26], got[27]]), TCA_NETEM_LATENCY64);
        assert_eq!(
            i64::from_ne_bytes(got[28..36].try_into().unwrap()),
            10_000_000,
            "latency64 in ns"
        );
        assert_eq!(u16::from_ne_bytes([got[38], got[39]]), TCA_NETEM_JITTER64);
        assert_eq!(i64::from_ne_bytes(got[40..48].try_into().unwrap()), 2_000_000);
    }

    #[test]
    fn tbf_options_carry_rate_and_burst() {
        let got = tbf_options(100_000_000);
        // PARMS: 4 + 36 bytes, then RATE64 (12) and BURST (8).
        assert_eq!(got.len(), 40 + 12 + 8);
        assert_eq!(got[5], TC_LINKLAYER_ETHERNET);
        assert_eq!(u32::from_ne_bytes(got[12..16].try_into().unwrap()), 12_500_000);
        assert_eq!(u64::from_ne_bytes(got[44..52].try_into().unwrap()), 12_500_000);
        assert_eq!(u32::from_ne_bytes(got[56..60].try_into().unwrap()), 125_000);
    }

    #[test]
    fn plan_splits_latency_over_both_ends_and_chains_tbf_under_netem() {
        let s = LinkShaping {
            latency: Duration::from_millis(5),
            jitter: Duration::from_millis(1),
            rate_bits_per_sec: Some(100_000_000),
        };
        let p = plan(&s);
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].tc_args, "root handle 1: netem delay 2.5ms 500us limit 1000");
        assert_eq!(
            p[1].tc_args,
            "parent 1:1 handle 10: tbf rate 100mbit burst 125000b limit 750000b"
        );
        let only_rate = plan(&LinkShaping {
            rate_bits_per_sec: Some(500_000),
            ..Default::default()
        });
        assert_eq!(
            only_rate[0].tc_args,
            "root handle 1: tbf rate 500kbit burst 32768b limit 35893b"
        );
        assert!(plan(&LinkShaping::default()).is_empty());
        assert_eq!(s.to_string(), "latency 5ms, jitter 1ms, rate 100mbit");
        assert_eq!(LinkShaping::default().to_string(), "bare veth");
    }
}
