//! cell-eval2 0.20.0's expression metrics on pseudobulks (its `lognorm` comparator, the one
//! log-normalised input takes): `expr_*`, `delta_*` and the sampling-corrected distances
//! behind `expr_mse_unbiased_capped_norm`.
//!
//! Everything is float64: the float32 cells are widened before any sum, as cell-eval2 widens
//! them. Effects subtract the real control's pseudobulk on both sides (`control_source=real`).

use crate::metrics::calibrated::profile::pearson;
use ndarray::{ArrayView1, ArrayView2};

/// cell-eval2's `target_sum` (its v2 preset): the mass `expr_real_mass_ratio` divides by.
pub const TARGET_SUM: f64 = 1e6;

/// `expr_mse_unbiased_capped`'s cap: the prediction's sampling correction may not exceed
/// this multiple of the real one (cell-eval2's `PRED_TRACE_CAP_K`).
pub const PRED_TRACE_CAP_K: f64 = 1.0;

/// A group's pseudobulk and the sampling correction of its mean.
#[derive(Debug, Clone)]
pub struct Bulk {
    /// Mean of each gene over the cells (float64 sums in row order, one division).
    pub mean: Vec<f64>,
    /// tr(Σ̂)/n: the expected squared error of the mean, summed over the genes, from the
    /// sample covariance; 0 with fewer than two cells.
    pub correction: f64,
}

impl Bulk {
    /// The bulk of a group's cells (cells × genes).
    pub fn of(cells: ArrayView2<f32>) -> Self {
        Self::of_rows(cells.nrows(), cells.ncols(), cells.rows().into_iter())
    }

    /// [`Self::of`] of `n` rows of `g` genes given one by one (a collapsed group's one row
    /// `n` times: the same sums in the same order).
    pub fn of_rows<'r>(
        n: usize,
        g: usize,
        rows: impl Iterator<Item = ArrayView1<'r, f32>>,
    ) -> Self {
        let mut sums = vec![0f64; g];
        // Σ over cells of each cell's Σ_g x²: the order that agrees best with the BLAS dot
        // product cell-eval2 takes over the whole block.
        let mut squares = 0f64;
        for row in rows {
            let mut own = 0f64;
            for (s, &x) in sums.iter_mut().zip(row) {
                let x = f64::from(x);
                *s += x;
                own += x * x;
            }
            squares += own;
        }
        let mean: Vec<f64> = sums.into_iter().map(|s| s / n as f64).collect();
        let correction = if n < 2 {
            0.0
        } else {
            let nf = n as f64;
            let mean_sq: f64 = mean.iter().map(|m| m * m).sum();
            (squares - nf * mean_sq) / (nf - 1.0) / nf
        };
        Bulk { mean, correction }
    }
}

/// Mean over the genes of `f(a − b)`.
fn mean_of(a: &[f64], b: &[f64], f: impl Fn(f64) -> f64) -> f64 {
    if a.is_empty() {
        return f64::NAN;
    }
    a.iter().zip(b).map(|(x, y)| f(x - y)).sum::<f64>() / a.len() as f64
}

/// `x − control` per gene.
pub fn effect(x: &[f64], control: &[f64]) -> Vec<f64> {
    x.iter().zip(control).map(|(a, c)| a - c).collect()
}

/// `expr_mae`.
pub fn mae(pred: &[f64], real: &[f64]) -> f64 {
    mean_of(pred, real, f64::abs)
}

/// `expr_mse`.
pub fn mse(pred: &[f64], real: &[f64]) -> f64 {
    mean_of(pred, real, |d| d * d)
}

/// `delta_pearson` with its reference gate: NaN when the real effect is undefined or constant
/// (nothing to correlate with), −1 (the worst value) when the predicted effect is constant or
/// the correlation is undefined.
pub fn delta_pearson(pred_effect: &[f64], real_effect: &[f64]) -> f64 {
    let constant = |v: &[f64]| v.iter().all(|&x| x == v[0]);
    if real_effect.len() < 2 || real_effect.iter().any(|x| !x.is_finite()) || constant(real_effect)
    {
        return f64::NAN;
    }
    if constant(pred_effect) {
        return -1.0;
    }
    let r = pearson(pred_effect, real_effect);
    if r.is_finite() {
        r
    } else {
        -1.0
    }
}

/// `expr_real_mass_ratio`: the real pseudobulk's linear mass, Σ_g expm1(mean), over the
/// comparator's target (`lognorm`: [`TARGET_SUM`]; counts: the bulk target sum).
pub fn real_mass_ratio(real: &[f64], target: f64) -> f64 {
    real.iter().map(|m| m.exp_m1()).sum::<f64>() / target
}

/// ‖a − b‖² over the genes, and the term of gene `own` (0 without one).
fn squared_distance(a: &[f64], b: &[f64], own: Option<usize>) -> (f64, f64) {
    let total = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    let own = own.map_or(0.0, |g| (a[g] - b[g]) * (a[g] - b[g]));
    (total, own)
}

/// The number of genes a perturbation is scored on: all but its own gene.
fn scored_genes(n_genes: usize, own: Option<usize>) -> f64 {
    (n_genes - usize::from(own.is_some())) as f64
}

/// `(‖a − b‖² − corrections − own gene's term) / |G_p|`: cell-eval2's sampling-corrected
/// squared distance per scored gene. The corrections are whole-panel (cell-eval2 subtracts
/// them whole although the own gene leaves the distance).
fn unbiased(a: &[f64], b: &[f64], corrections: f64, own: Option<usize>) -> f64 {
    let n = scored_genes(a.len(), own);
    if n == 0.0 {
        return f64::NAN;
    }
    let (total, own_term) = squared_distance(a, b, own);
    (total - corrections - own_term) / n
}

/// `expr_mse_unbiased`: the squared error of the pseudobulks less both sides' sampling noise,
/// per gene, the perturbation's own gene (`own`) left out.
pub fn mse_unbiased(pred: &Bulk, real: &Bulk, own: Option<usize>) -> f64 {
    unbiased(
        &pred.mean,
        &real.mean,
        pred.correction + real.correction,
        own,
    )
}

/// `expr_distance_unbiased`: the real effect's squared size less its sampling noise, per
/// gene, the perturbation's own gene left out (the denominator of
/// `expr_mse_unbiased_capped_norm`).
pub fn distance_unbiased(real: &Bulk, control: &Bulk, own: Option<usize>) -> f64 {
    unbiased(
        &real.mean,
        &control.mean,
        real.correction + control.correction,
        own,
    )
}

/// One scored perturbation of a model's panel, as `expr_mse_unbiased_capped` sees it.
pub struct CappedInput<'a> {
    /// Predicted bulk.
    pub pred: &'a Bulk,
    /// Real bulk.
    pub real: &'a Bulk,
    /// Its own gene, when its label names one.
    pub own: Option<usize>,
}

/// `expr_mse_unbiased_capped` over a model's panel: as `expr_mse_unbiased`, but the
/// prediction's correction is at most [`PRED_TRACE_CAP_K`] times the real one, and the
/// corrections claimed (weighted by 1/|G_p|) may not exceed the prediction's own centred
/// spread across perturbations (the budget; scaled down in proportion when they do).
pub fn mse_unbiased_capped(panel: &[CappedInput<'_>]) -> Vec<f64> {
    let Some(first) = panel.first() else {
        return Vec::new();
    };
    let n_genes = first.pred.mean.len();
    let weight = |c: &CappedInput<'_>| {
        let n = scored_genes(n_genes, c.own);
        if n > 0.0 {
            1.0 / n
        } else {
            0.0
        }
    };
    let weights: Vec<f64> = panel.iter().map(weight).collect();
    let mut claimed: Vec<f64> = panel
        .iter()
        .map(|c| c.pred.correction.min(PRED_TRACE_CAP_K * c.real.correction))
        .collect();
    let claim: f64 = claimed.iter().zip(&weights).map(|(t, w)| t * w).sum();
    if claim > 0.0 {
        let ratio = across_perturbation_budget(panel, &weights) / claim;
        if ratio < 1.0 {
            claimed.iter_mut().for_each(|t| *t *= ratio);
        }
    }
    panel
        .iter()
        .zip(&claimed)
        .map(|(c, &t)| unbiased(&c.pred.mean, &c.real.mean, t + c.real.correction, c.own))
        .collect()
}

/// The budget of the capped metric: Σ_g Σ_p w_p (μ̂_pg − weighted mean of μ̂_·g)², each
/// perturbation's own gene left out of its column, genes with fewer than two perturbations
/// left skipped, rounding-negative genes counted as 0.
fn across_perturbation_budget(panel: &[CappedInput<'_>], weights: &[f64]) -> f64 {
    let n_genes = panel[0].pred.mean.len();
    let rows = panel.len() as f64;
    let mut column_mean = vec![0f64; n_genes];
    for c in panel {
        column_mean
            .iter_mut()
            .zip(&c.pred.mean)
            .for_each(|(s, &x)| *s += x);
    }
    column_mean.iter_mut().for_each(|s| *s /= rows);
    let total_weight: f64 = weights.iter().sum();
    let mut s1 = vec![0f64; n_genes];
    let mut s2 = vec![0f64; n_genes];
    let mut weight = vec![total_weight; n_genes];
    let mut count = vec![rows; n_genes];
    for (c, &w) in panel.iter().zip(weights) {
        for g in 0..n_genes {
            let dev = c.pred.mean[g] - column_mean[g];
            s1[g] += w * dev;
            s2[g] += w * dev * dev;
        }
    }
    for (c, &w) in panel.iter().zip(weights) {
        if let Some(g) = c.own {
            let dev = c.pred.mean[g] - column_mean[g];
            s1[g] -= w * dev;
            s2[g] -= w * dev * dev;
            weight[g] -= w;
            count[g] -= 1.0;
        }
    }
    (0..n_genes)
        .filter(|&g| count[g] >= 2.0 && weight[g] > 0.0)
        .map(|g| (s2[g] - s1[g] * s1[g] / weight[g]).max(0.0))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn bulk_mean_and_sampling_correction_by_hand() {
        // Two genes, three cells: means (2, 1); sample variances 1 and 0 → tr Σ̂ / n = 1/3.
        let b = Bulk::of(array![[1.0f32, 1.0], [2.0, 1.0], [3.0, 1.0]].view());
        assert_eq!(b.mean, vec![2.0, 1.0]);
        assert!((b.correction - 1.0 / 3.0).abs() < 1e-15);
        // One cell: no correction.
        assert_eq!(Bulk::of(array![[5.0f32, 1.0]].view()).correction, 0.0);
    }

    #[test]
    fn unbiased_distance_leaves_the_own_gene_out() {
        let real = Bulk {
            mean: vec![1.0, 2.0, 3.0],
            correction: 0.5,
        };
        let ctrl = Bulk {
            mean: vec![0.0, 0.0, 0.0],
            correction: 0.25,
        };
        // (1 + 4 + 9 − 0.75 − 9) / 2
        assert_eq!(distance_unbiased(&real, &ctrl, Some(2)), 4.25 / 2.0);
        assert_eq!(distance_unbiased(&real, &ctrl, None), 13.25 / 3.0);
    }

    #[test]
    fn cap_limits_the_predictions_correction_to_the_real_one() {
        let real = Bulk {
            mean: vec![0.0, 0.0],
            correction: 0.1,
        };
        let preds = [
            Bulk {
                mean: vec![1.0, 0.0],
                correction: 5.0,
            },
            Bulk {
                mean: vec![-1.0, 0.0],
                correction: 5.0,
            },
        ];
        let panel: Vec<CappedInput<'_>> = preds
            .iter()
            .map(|p| CappedInput {
                pred: p,
                real: &real,
                own: None,
            })
            .collect();
        // Claim 2 × 0.1/2 = 0.1; budget Σ_p (1/2)(±1)² = 1 ≥ claim: the cap alone binds.
        let capped = mse_unbiased_capped(&panel);
        assert!((capped[0] - (1.0 - 0.1 - 0.1) / 2.0).abs() < 1e-15);
        assert!((mse_unbiased(&preds[0], &real, None) - (1.0 - 5.1) / 2.0).abs() < 1e-15);
    }

    #[test]
    fn delta_pearson_gate_and_worst_value() {
        assert!(delta_pearson(&[1.0, 2.0], &[3.0, 3.0]).is_nan());
        assert_eq!(delta_pearson(&[1.0, 1.0], &[1.0, 2.0]), -1.0);
        assert!((delta_pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]) - 1.0).abs() < 1e-15);
    }
}
