//! Whether two measured latencies differ by more than their noise. Each scenario's requests are
//! sent in rounds; a scenario's spread is the p50 of its fastest and of its slowest round. Two
//! p50s whose spreads overlap are "within noise": the machine's other work moved latency more
//! than the path did, so their order means nothing.

use super::Report;
use serde::{Deserialize, Serialize};

/// The words that mark a difference as noise, wherever a renderer prints it.
pub(super) const WITHIN_NOISE: &str = "within noise";

/// How one scenario's latency relates to another's.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Noise {
    /// The spreads overlap: the difference between the p50s is not measured.
    #[serde(rename = "within-noise")]
    Within,
    /// The spreads are apart: the faster one is faster in every round.
    #[serde(rename = "beyond-noise")]
    Beyond,
    /// One side has fewer than two rounds (or no path): no spread to judge by.
    #[serde(rename = "unknown")]
    Unknown,
}

/// The lowest and highest p50 of a scenario's rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// The spread of the rounds' p50s; `None` for fewer than two rounds.
    pub fn of(round_p50s: &[f64]) -> Option<Spread> {
        if round_p50s.len() < 2 {
            return None;
        }
        let min = round_p50s.iter().copied().fold(f64::INFINITY, f64::min);
        let max = round_p50s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Spread { min, max })
    }
}

/// The noise rule: two spreads that overlap (touching counts) are within noise of each other.
pub fn judge(a: &[f64], b: &[f64]) -> Noise {
    match (Spread::of(a), Spread::of(b)) {
        (Some(a), Some(b)) if a.min <= b.max && b.min <= a.max => Noise::Within,
        (Some(_), Some(_)) => Noise::Beyond,
        _ => Noise::Unknown,
    }
}

/// Fill each report's `latency_vs`: how its path latency relates to every other report's.
pub(super) fn mark(reports: &mut [Report]) {
    let rounds: Vec<(String, Option<Vec<f64>>)> = reports
        .iter()
        .map(|r| (r.scenario.clone(), r.path.as_ref().map(|p| p.round_p50_us.clone())))
        .collect();
    for (i, r) in reports.iter_mut().enumerate() {
        r.latency_vs.clear();
        let Some(mine) = &rounds[i].1 else { continue };
        for (j, (name, theirs)) in rounds.iter().enumerate() {
            if let (true, Some(theirs)) = (i != j, theirs) {
                r.latency_vs.insert(name.clone(), judge(mine, theirs));
            }
        }
    }
}

/// One line per other scenario: `vs split: within noise` or `vs split: 73 µs faster, beyond
/// noise`, for the Path row.
pub(super) fn lines(r: &Report, reports: &[Report]) -> Vec<String> {
    let Some(p) = &r.path else { return Vec::new() };
    r.latency_vs
        .iter()
        .map(|(other, n)| {
            let theirs = reports
                .iter()
                .find(|o| &o.scenario == other)
                .and_then(|o| o.path.as_ref());
            let diff = theirs.map(|t| p.p50_us - t.p50_us).unwrap_or(0.0);
            let faster = if diff < 0.0 { "faster" } else { "slower" };
            match n {
                Noise::Within => format!("vs {other}: p50 {WITHIN_NOISE} (round spreads overlap)"),
                Noise::Beyond => format!("vs {other}: p50 {:.0} µs {faster}, beyond noise", diff.abs()),
                Noise::Unknown => format!("vs {other}: noise unknown (fewer than 2 rounds)"),
            }
        })
        .collect()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    #[test]
    fn overlapping_spreads_are_within_noise() {
        // Localhost p50s 150..260, cross-node 170..300: cross-node's lower rounds read below
        // localhost's upper ones, so neither is faster.
        assert_eq!(judge(&[150.0, 260.0, 180.0], &[300.0, 170.0]), Noise::Within);
        // Touching counts as overlapping.
        assert_eq!(judge(&[100.0, 200.0], &[200.0, 250.0]), Noise::Within);
        // One spread inside the other.
        assert_eq!(judge(&[100.0, 400.0], &[200.0, 250.0]), Noise::Within);
    }

    #[test]
    fn apart_spreads_are_beyond_noise_either_way() {
        assert_eq!(judge(&[100.0, 120.0], &[5100.0, 5300.0]), Noise::Beyond);
        assert_eq!(judge(&[5100.0, 5300.0], &[100.0, 120.0]), Noise::Beyond);
    }

    /// Two reports: localhost reads slower than cross-node, inside the noise; a slow link does not.
    pub(in crate::compare) fn reports(cross_rounds: &[f64]) -> Vec<Report> {
        let path = |kind: &str, rounds: &[f64]| crate::compare::PathReport {
            kind: kind.into(),
            p50_us: rounds.iter().sum::<f64>() / rounds.len() as f64,
            round_p50_us: rounds.to_vec(),
            ..Default::default()
        };
        let mut r = vec![
            Report {
                scenario: "one-pod".into(),
                path: Some(path("localhost", &[150.0, 260.0, 200.0])),
                ..Default::default()
            },
            Report {
                scenario: "split".into(),
                path: Some(path("cross-node", cross_rounds)),
                ..Default::default()
            },
        ];
        mark(&mut r);
        r
    }

    #[test]
    fn each_report_is_judged_against_the_others() {
        let r = reports(&[170.0, 190.0]);
        assert_eq!(r[0].latency_vs["split"], Noise::Within);
        assert_eq!(r[1].latency_vs["one-pod"], Noise::Within);
        assert_eq!(
            lines(&r[1], &r),
            ["vs one-pod: p50 within noise (round spreads overlap)"]
        );
        let r = reports(&[5100.0, 5300.0]);
        assert_eq!(r[1].latency_vs["one-pod"], Noise::Beyond);
        assert_eq!(lines(&r[0], &r), ["vs split: p50 4997 µs faster, beyond noise"]);
    }

    #[test]
    fn one_round_has_no_spread() {
        assert_eq!(Spread::of(&[100.0]), None);
        assert_eq!(judge(&[100.0], &[100.0, 120.0]), Noise::Unknown);
        assert_eq!(Spread::of(&[3.0, 1.0, 2.0]), Some(Spread { min: 1.0, max: 3.0 }));
    }
}
