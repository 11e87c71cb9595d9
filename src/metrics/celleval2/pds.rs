//! cell-eval2 0.20.0's Perturbation Discrimination Score (`pds_cosine`, `pds_l1`,
//! `pds_l2`): where the true perturbation ranks among all real effects of the panel by
//! distance to the predicted effect.
//!
//! Its v2 settings: every panel target gene is removed from all effects before any distance
//! (scope `panel`), ties take the mid rank, and the rank is divided by n − 1. The distances are
//! float64 as cell-eval2 computes them: Σ|x − y|; L2 in the expansion form
//! √max(‖x‖² + ‖y‖² − 2 x·y, 0), as cell-eval2 writes it (its rounding decides near ties); and
//! 1 − cos clipped to [0, 2], 1 when a side has norm 0.

use rayon::prelude::*;

/// Independent partial sums per distance: the genes are dealt to `LANES` accumulators in turn
/// and the lanes added at the end, in a fixed order. The sums are as deterministic as a
/// sequential one (the same on every target, the page included: no fused multiply-add) but
/// not latency-bound, and the compiler keeps the lanes in vector registers. cell-eval2 sums
/// with BLAS, whose order is its own; every distance here is summed in this one order, so
/// equal vectors stay at exactly equal distances.
const LANES: usize = 4;

/// Predicted effects scored per pass over the real effects (they stay in cache meanwhile).
const PREDS_PER_TASK: usize = 16;

/// Σ|a − b| and a·b in the lane order.
#[inline]
fn l1_and_dot(a: &[f64], b: &[f64]) -> (f64, f64) {
    let (mut l1, mut dot) = ([0.0; LANES], [0.0; LANES]);
    let whole = a.len().min(b.len()) / LANES * LANES;
    for (x, y) in a[..whole]
        .chunks_exact(LANES)
        .zip(b[..whole].chunks_exact(LANES))
    {
        // Fixed-size copies: the lanes' loop has no bounds to check and vectorises.
        let x: [f64; LANES] = x.try_into().expect("lanes");
        let y: [f64; LANES] = y.try_into().expect("lanes");
        for i in 0..LANES {
            l1[i] += (x[i] - y[i]).abs();
            dot[i] += x[i] * y[i];
        }
    }
    for (i, (x, y)) in a[whole..].iter().zip(&b[whole..]).enumerate() {
        l1[i] += (x - y).abs();
        dot[i] += x * y;
    }
    (
        (l1[0] + l1[1]) + (l1[2] + l1[3]),
        (dot[0] + dot[1]) + (dot[2] + dot[3]),
    )
}

/// Σ v², summed as [`l1_and_dot`] sums a·b (so ‖x‖² + ‖x‖² − 2 x·x is exactly 0).
fn squared_norm(v: &[f64]) -> f64 {
    l1_and_dot(v, v).1
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

    /// `[pds_l1, pds_l2, pds_cosine]` of each predicted effect (its panel genes already
    /// removed) whose own real effect is `own[i]`. Tasks of [`PREDS_PER_TASK`] predictions
    /// run in parallel, each reading every real effect once.
    pub fn scores(&self, preds: &[Vec<f64>], own: &[usize]) -> Vec<[f64; 3]> {
        preds
            .par_chunks(PREDS_PER_TASK)
            .zip(own.par_chunks(PREDS_PER_TASK))
            .flat_map_iter(|(preds, own)| self.scores_of_task(preds, own))
            .collect()
    }

    fn scores_of_task(&self, preds: &[Vec<f64>], own: &[usize]) -> Vec<[f64; 3]> {
        let n = self.effects.len();
        let pred_sq: Vec<f64> = preds.iter().map(|p| squared_norm(p)).collect();
        // distances[i][d][j]: prediction i's distance d to real effect j.
        let mut distances = vec![[vec![0.0; n], vec![0.0; n], vec![0.0; n]]; preds.len()];
        for (j, (real, &real_sq)) in self.effects.iter().zip(&self.squared_norms).enumerate() {
            for (i, pred) in preds.iter().enumerate() {
                let (l1, dot) = l1_and_dot(pred, real);
                let d = &mut distances[i];
                d[0][j] = l1;
                d[1][j] = (pred_sq[i] + real_sq - 2.0 * dot).max(0.0).sqrt();
                let den = pred_sq[i].sqrt() * real_sq.sqrt();
                let similarity = if den != 0.0 { dot / den } else { 0.0 };
                d[2][j] = (1.0 - similarity).clamp(0.0, 2.0);
            }
        }
        distances
            .iter()
            .zip(own)
            .map(|(d, &own)| [0, 1, 2].map(|k| midrank_score(&d[k], own)))
            .collect()
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
        let one = |p: &PdsPanel, pred: [f64; 2], own: usize| p.scores(&[pred.to_vec()], &[own])[0];
        // [l1, l2, cosine]
        assert_eq!(one(&p, [1.1, 0.9], 1)[1], 1.0);
        // L1: nearest to 0, then 1: rank 1 of 2.
        assert_eq!(one(&p, [0.1, 0.2], 1)[0], 0.5);
        // Equidistant from 0 and 1 (L1 = 1 each): mid rank 0.5.
        assert_eq!(one(&p, [0.5, 0.5], 1)[0], 0.75);
        // Cosine: a zero effect is at distance 1 from everything: all tie.
        assert_eq!(one(&p, [0.0, 0.0], 1)[2], 0.5);
        assert_eq!(one(&panel(&[[0.0, 0.0]]), [1.0, 0.0], 0), [1.0; 3]);
    }

    #[test]
    fn many_predictions_score_as_each_alone_and_equal_vectors_tie_exactly() {
        // 37 genes (lanes and a remainder), 40 predictions (several tasks), two equal reals.
        let gene = |i: usize, j: usize| ((i * 31 + j * 17) % 13) as f64 * 0.37 - 2.0;
        let mut reals: Vec<Vec<f64>> = (0..6)
            .map(|i| (0..37).map(|j| gene(i, j)).collect())
            .collect();
        reals[5] = reals[2].clone();
        let refs: Vec<&[f64]> = reals.iter().map(|r| r.as_slice()).collect();
        let p = PdsPanel::new(&refs, &[false; 37]);
        let preds: Vec<Vec<f64>> = (0..40)
            .map(|i| (0..37).map(|j| gene(i + 3, j)).collect())
            .collect();
        let own: Vec<usize> = (0..40).map(|i| i % 6).collect();
        let all = p.scores(&preds, &own);
        for i in 0..40 {
            assert_eq!(all[i], p.scores(&preds[i..=i], &own[i..=i])[0]);
        }
        // A perfect prediction of real 2 ties with real 5 (the same vector) on every distance.
        let perfect = p.scores(&[reals[2].clone()], &[2])[0];
        assert_eq!(perfect, [1.0 - 0.5 / 5.0; 3]);
    }

    #[test]
    fn panel_genes_leave_every_effect() {
        assert_eq!(
            without_genes(&[1.0, 2.0, 3.0], &[false, true, false]),
            vec![1.0, 3.0]
        );
    }
}
