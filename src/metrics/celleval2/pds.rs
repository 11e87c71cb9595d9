//! cell-eval2 0.20.0's Perturbation Discrimination Score (`pds_cosine`, `pds_l1`,
//! `pds_l2`): where the true perturbation ranks among all real effects of the panel by
//! distance to the predicted effect.
//!
//! Its v2 settings: every panel target gene is removed from all effects before any distance
//! (scope `panel`), ties take the mid rank, and the rank is divided by n − 1.

/// The three distances, in float64 as cell-eval2 computes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PdsDistance {
    /// 1 − cos, clipped to [0, 2]; 1 when a side has norm 0.
    Cosine,
    /// Σ|x − y|.
    L1,
    /// √max(‖x‖² + ‖y‖² − 2 x·y, 0): the expansion form, as cell-eval2 writes it (its
    /// rounding decides near ties).
    L2,
}

impl PdsDistance {
    /// In cell-eval2's catalog order (`pds_l1`, `pds_l2`, `pds_cosine`).
    pub const ALL: [PdsDistance; 3] = [PdsDistance::L1, PdsDistance::L2, PdsDistance::Cosine];

    fn between(self, x: &[f64], y: &[f64]) -> f64 {
        let dot = || x.iter().zip(y).map(|(a, b)| a * b).sum::<f64>();
        let sq = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>();
        match self {
            PdsDistance::L1 => x.iter().zip(y).map(|(a, b)| (a - b).abs()).sum(),
            PdsDistance::L2 => (sq(x) + sq(y) - 2.0 * dot()).max(0.0).sqrt(),
            PdsDistance::Cosine => {
                let den = sq(x).sqrt() * sq(y).sqrt();
                let similarity = if den != 0.0 { dot() / den } else { 0.0 };
                (1.0 - similarity).clamp(0.0, 2.0)
            }
        }
    }
}

/// The effects with the panel's target genes removed (`excluded`: gene indices).
pub fn without_genes(effect: &[f64], excluded: &[bool]) -> Vec<f64> {
    effect
        .iter()
        .zip(excluded)
        .filter(|(_, &out)| !out)
        .map(|(&x, _)| x)
        .collect()
}

/// 1 − midrank / (n − 1) of the true perturbation (`own`, an index of `real_effects`) among
/// the n real effects by distance to the predicted effect; 1 with a single perturbation.
/// A NaN distance counts as farther than every number.
pub fn score(pred: &[f64], real_effects: &[Vec<f64>], own: usize, distance: PdsDistance) -> f64 {
    let n = real_effects.len();
    if n < 2 {
        return 1.0;
    }
    let d: Vec<f64> = real_effects
        .iter()
        .map(|r| distance.between(pred, r))
        .collect();
    let x = d[own];
    let rank = if x.is_nan() {
        let nan = d.iter().filter(|v| v.is_nan()).count();
        (n - nan) as f64 + (nan as f64 - 1.0) / 2.0
    } else {
        let less = d.iter().filter(|&&v| v < x).count();
        let equal = d.iter().filter(|&&v| v == x).count();
        less as f64 + (equal as f64 - 1.0) / 2.0
    };
    1.0 - rank / (n - 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_with_mid_ranks_over_n_minus_one() {
        let real = vec![vec![0.0, 0.0], vec![1.0, 1.0], vec![5.0, 5.0]];
        assert_eq!(score(&[1.1, 0.9], &real, 1, PdsDistance::L2), 1.0);
        // Nearest to 0, then 1: rank 1 of 2.
        assert_eq!(score(&[0.1, 0.2], &real, 1, PdsDistance::L1), 0.5);
        // Equidistant from 0 and 1 (L1 = 1 each): mid rank 0.5.
        assert_eq!(score(&[0.5, 0.5], &real, 1, PdsDistance::L1), 0.75);
        // Cosine: a zero effect is at distance 1 from everything: all tie.
        assert_eq!(score(&[0.0, 0.0], &real, 1, PdsDistance::Cosine), 0.5);
        assert_eq!(score(&[1.0, 0.0], &real[..1], 0, PdsDistance::Cosine), 1.0);
    }

    #[test]
    fn panel_genes_leave_every_effect() {
        assert_eq!(
            without_genes(&[1.0, 2.0, 3.0], &[false, true, false]),
            vec![1.0, 3.0]
        );
    }
}
