//! Seeded tie-break among the best-scored feasible nodes, shared by the scheduler and
//! the reference so both consume the RNG identically: one draw per decision with two or
//! more tied nodes, none otherwise (with two tied nodes it picks what kube-scheduler's
//! reservoir sampling would pick from the same draw).

use rand::RngExt;
use rand::rngs::StdRng;

/// Index (into `totals`) of the chosen node: the highest total; ties are broken by one
/// uniform draw. `totals` must not be empty (returns 0 if it is).
pub fn pick_tied(totals: &[i64], rng: &mut StdRng) -> usize {
    let Some(best) = totals.iter().copied().max() else {
        return 0;
    };
    let count = totals.iter().filter(|t| **t == best).count() as u64;
    let mut skip = if count > 1 {
        // Reservoir sampling keeps the last of two tied nodes when its draw is 0.
        count - 1 - rng.random_range(0..count)
    } else {
        0
    };
    for (k, t) in totals.iter().enumerate() {
        if *t == best {
            if skip == 0 {
                return k;
            }
            skip -= 1;
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn picks_the_best_and_spreads_ties() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(pick_tied(&[1, 5, 3], &mut rng), 1);
        let mut seen = [0usize; 4];
        for _ in 0..400 {
            seen[pick_tied(&[7, 2, 7, 7], &mut rng)] += 1;
        }
        assert_eq!(seen[1], 0);
        assert!(seen[0] > 50 && seen[2] > 50 && seen[3] > 50, "{seen:?}");
    }
}
