//! cell-eval2 0.20.0's Perturbation Discrimination Score (`pds_cosine`, `pds_l1`,
//! `pds_l2`): where the true perturbation ranks among all real effects of the panel by
//! distance to the predicted effect.
//!
//! Its v2 settings: every panel target gene is removed from all effects before any distance
//! (scope `panel`), ties take the mid rank, and the rank is divided by n − 1. The distances are
//! float64 as cell-eval2 computes them: Σ|x − y|; L2 in the expansion form
//! √max(‖x‖² + ‖y‖² − 2 x·y, 0), as cell-eval2 writes it (its rounding decides near ties); and
//! 1 − cos clipped to [0, 2], 1 when a side has norm 0.

/// Σ v² in gene order.
fn squared_norm(v: &[f64]) -> f64 {
    v.iter().map(|a| a * a).sum()
}

/// The real effects of a model's panel, the panel's target genes removed, with their squared
/// norms: what every predicted effect is ranked against.
pub struct PdsPanel {
    effects: Vec<Vec<f64>>,
    squared_norms: Vec<f64>,
}

impl PdsPanel {
    /// The panel of these real effects (`excluded`: the genes left out of every effect).
    pub fn new(real_effects: &[&[f64]], excluded: &[bool]) -> Self {
        let effects: Vec<Vec<f64>> = real_effects
            .iter()
            .map(|e| without_genes(e, excluded))
            .collect();
        let squared_norms = effects.iter().map(|e| squared_norm(e)).collect();
        PdsPanel {
            effects,
            squared_norms,
        }
    }

    /// `[pds_l1, pds_l2, pds_cosine]` of a predicted effect (its panel genes already removed)
    /// whose own real effect is `own`: one pass over the genes per real effect, for Σ|x − y|
    /// and x·y together (each summed in gene order, as on its own).
    pub fn scores(&self, pred: &[f64], own: usize) -> [f64; 3] {
        let pred_sq = squared_norm(pred);
        let n = self.effects.len();
        let mut d = [vec![0.0; n], vec![0.0; n], vec![0.0; n]];
        for (j, (real, &real_sq)) in self.effects.iter().zip(&self.squared_norms).enumerate() {
            let (mut l1, mut dot) = (0.0, 0.0);
            for (a, b) in pred.iter().zip(real) {
                l1 += (a - b).abs();
                dot += a * b;
            }
            d[0][j] = l1;
            d[1][j] = (pred_sq + real_sq - 2.0 * dot).max(0.0).sqrt();
            let den = pred_sq.sqrt() * real_sq.sqrt();
            let similarity = if den != 0.0 { dot / den } else { 0.0 };
            d[2][j] = (1.0 - similarity).clamp(0.0, 2.0);
        }
        d.map(|distances| midrank_score(&distances, own))
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

/// 1 − midrank / (n − 1) of entry `own` among the n distances; 1 with a single entry. A NaN
/// distance counts as farther than every number.
fn midrank_score(d: &[f64], own: usize) -> f64 {
    let n = d.len();
    if n < 2 {
        return 1.0;
    }
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

    fn panel(real: &[[f64; 2]]) -> PdsPanel {
        let refs: Vec<&[f64]> = real.iter().map(|r| r.as_slice()).collect();
        PdsPanel::new(&refs, &[false, false])
    }

    #[test]
    fn ranks_with_mid_ranks_over_n_minus_one() {
        let p = panel(&[[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]]);
        // [l1, l2, cosine]
        assert_eq!(p.scores(&[1.1, 0.9], 1)[1], 1.0);
        // L1: nearest to 0, then 1: rank 1 of 2.
        assert_eq!(p.scores(&[0.1, 0.2], 1)[0], 0.5);
        // Equidistant from 0 and 1 (L1 = 1 each): mid rank 0.5.
        assert_eq!(p.scores(&[0.5, 0.5], 1)[0], 0.75);
        // Cosine: a zero effect is at distance 1 from everything: all tie.
        assert_eq!(p.scores(&[0.0, 0.0], 1)[2], 0.5);
        assert_eq!(panel(&[[0.0, 0.0]]).scores(&[1.0, 0.0], 0), [1.0; 3]);
    }

    #[test]
    fn panel_genes_leave_every_effect() {
        assert_eq!(
            without_genes(&[1.0, 2.0, 3.0], &[false, true, false]),
            vec![1.0, 3.0]
        );
    }
}
