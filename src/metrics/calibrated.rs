//! The 12 per-perturbation metrics of SPEC §6 (all but NIR), with the reference's numerics:
//! scipy's `pearsonr`, sklearn's `r2_score`, numpy's pairwise sums.

use crate::stats::descriptive::pairwise_sum;
use ndarray::{Array1, ArrayView1, Zip};

/// `*_degs` metrics need more than this many DEGs.
pub const MIN_DEGS_EXCLUSIVE: usize = 2;

fn sum(v: &[f64]) -> f64 {
    pairwise_sum(v)
}

fn collect(it: impl Iterator<Item = f64>) -> Vec<f64> {
    it.collect()
}

/// Mean squared error, mean_g (ŷ − y)².
pub fn mse(pred: ArrayView1<f64>, truth: ArrayView1<f64>) -> f64 {
    let sq = collect(pred.iter().zip(truth).map(|(a, b)| (a - b) * (a - b)));
    sum(&sq) / sq.len() as f64
}

/// DEG-weighted MSE, Σ (w/Σw)(ŷ − y)²; NaN when Σw = 0.
pub fn wmse(pred: ArrayView1<f64>, truth: ArrayView1<f64>, weights: ArrayView1<f64>) -> f64 {
    let total = sum(&weights.to_vec());
    let terms = collect(
        Zip::from(&pred)
            .and(&truth)
            .and(&weights)
            .map_collect(|&a, &b, &w| (w / total) * ((a - b) * (a - b)))
            .into_iter(),
    );
    sum(&terms)
}

/// Pearson correlation as scipy's `pearsonr`: NaN when either vector is exactly constant or
/// shorter than 2; clipped to [−1, 1].
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 || x.len() != y.len() {
        return f64::NAN;
    }
    let constant = |v: &[f64]| v.iter().all(|&a| a == v[0]);
    if constant(x) || constant(y) {
        return f64::NAN;
    }
    let centred = |v: &[f64]| {
        let m = sum(v) / v.len() as f64;
        let c = collect(v.iter().map(|&a| a - m));
        // Scale by the largest magnitude before the norm, as scipy does against overflow.
        let mx = c.iter().fold(0.0f64, |acc, &a| acc.max(a.abs()));
        let norm = mx * sum(&collect(c.iter().map(|&a| (a / mx) * (a / mx)))).sqrt();
        collect(c.iter().map(|&a| a / norm))
    };
    let (xs, ys) = (centred(x), centred(y));
    sum(&collect(xs.iter().zip(&ys).map(|(a, b)| a * b))).clamp(-1.0, 1.0)
}

/// sklearn's `r2_score(y_true, y_pred, sample_weight)`: 1 − Σw(y−ŷ)²/Σw(y−ȳ_w)²; a zero
/// denominator gives 1.0 if the numerator is 0 too, else 0.0; NaN for fewer than 2 values.
pub fn r2_score(y_true: &[f64], y_pred: &[f64], weights: Option<&[f64]>) -> f64 {
    let n = y_true.len();
    if n < 2 || y_pred.len() != n {
        return f64::NAN;
    }
    let w = |i: usize| weights.map_or(1.0, |w| w[i]);
    let numerator =
        sum(&collect((0..n).map(|i| {
            w(i) * ((y_true[i] - y_pred[i]) * (y_true[i] - y_pred[i]))
        })));
    let avg = match weights {
        Some(ws) => sum(&collect((0..n).map(|i| y_true[i] * ws[i]))) / sum(ws),
        None => sum(y_true) / n as f64,
    };
    let denominator = sum(&collect(
        (0..n).map(|i| w(i) * ((y_true[i] - avg) * (y_true[i] - avg))),
    ));
    if denominator != 0.0 {
        1.0 - numerator / denominator
    } else if numerator != 0.0 {
        0.0
    } else {
        1.0
    }
}

/// CellSimBench's `r2_score_on_deltas`: weights are used only when Σw ≠ 0.
pub fn r2_on_deltas(delta_true: &[f64], delta_pred: &[f64], weights: Option<&[f64]>) -> f64 {
    match weights {
        Some(w) if sum(w) != 0.0 => r2_score(delta_true, delta_pred, Some(w)),
        _ => r2_score(delta_true, delta_pred, None),
    }
}

/// What a prediction is compared with.
pub struct MetricInputs<'a> {
    /// GT-half mean of the perturbation.
    pub truth: ArrayView1<'a, f64>,
    /// Mean of all control cells.
    pub control: ArrayView1<'a, f64>,
    /// Dataset mean of the perturbation's test fold.
    pub dataset_mean: ArrayView1<'a, f64>,
    /// DEG weights (all 0 without a GT test).
    pub weights: ArrayView1<'a, f64>,
    /// DEG mask (all false without a GT test).
    pub deg_mask: ArrayView1<'a, bool>,
}

/// Metric variants.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricOptions {
    /// Clip every R² at this value from below (`Some(-1.0)` in the revision preset).
    pub clip_r2_at: Option<f64>,
}

/// The 12 non-NIR metrics in `METRICS` order for one prediction.
pub fn calibrated_metrics(
    pred: ArrayView1<f64>,
    inputs: &MetricInputs,
    opts: &MetricOptions,
) -> [f64; 12] {
    let delta = |a: ArrayView1<f64>, b: ArrayView1<f64>| -> Array1<f64> { &a - &b };
    let dpc = delta(pred, inputs.control);
    let dyc = delta(inputs.truth, inputs.control);
    let dpp = delta(pred, inputs.dataset_mean);
    let dyp = delta(inputs.truth, inputs.dataset_mean);
    let w = inputs.weights.to_vec();
    let mask: Vec<usize> = inputs
        .deg_mask
        .iter()
        .enumerate()
        .filter(|(_, &d)| d)
        .map(|(i, _)| i)
        .collect();
    let on_mask = |v: &Array1<f64>| collect(mask.iter().map(|&i| v[i]));
    let clip = |r: f64| match opts.clip_r2_at {
        Some(lo) if r < lo => lo,
        _ => r,
    };
    let five = |dp: &Array1<f64>, dy: &Array1<f64>| -> [f64; 5] {
        let (p, y) = (dp.to_vec(), dy.to_vec());
        let degs = mask.len() > MIN_DEGS_EXCLUSIVE;
        let (pm, ym) = (on_mask(dp), on_mask(dy));
        [
            pearson(&p, &y),
            if degs { pearson(&pm, &ym) } else { f64::NAN },
            clip(r2_on_deltas(&y, &p, None)),
            if degs {
                clip(r2_on_deltas(&ym, &pm, None))
            } else {
                f64::NAN
            },
            clip(r2_on_deltas(&y, &p, Some(&w))),
        ]
    };
    let c = five(&dpc, &dyc);
    let p = five(&dpp, &dyp);
    [
        mse(pred, inputs.truth),
        wmse(pred, inputs.truth, inputs.weights),
        c[0],
        c[1],
        c[2],
        c[3],
        c[4],
        p[0],
        p[1],
        p[2],
        p[3],
        p[4],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn spec_worked_example() {
        // SPEC §10: gt, pred, ctrl with w from |t| = [4, 0, 1, 2, 3].
        let gt = array![1.0, 0.5, 0.2, 2.0, 0.0];
        let pred = array![0.5, 0.5, 0.4, 1.0, 0.3];
        let ctrl = array![0.8, 0.4, 0.3, 1.5, 0.2];
        let w = array![1.0, 0.0, 0.0625, 0.25, 0.5625];
        assert!((mse(pred.view(), gt.view()) - 0.276).abs() < 1e-12);
        assert!((wmse(pred.view(), gt.view(), w.view()) - 0.295).abs() < 1e-12);
        let dp = (&pred - &ctrl).to_vec();
        let dy = (&gt - &ctrl).to_vec();
        assert!((r2_on_deltas(&dy, &dp, None) - -3.6).abs() < 1e-12);
        assert!((r2_on_deltas(&dy, &dp, Some(&w.to_vec())) - -4.373406).abs() < 1e-6);
        assert!((pearson(&dp, &dy) - -0.903696).abs() < 1e-6);
    }

    #[test]
    fn conventions() {
        assert!(wmse(
            array![1.0, 2.0].view(),
            array![0.0, 0.0].view(),
            array![0.0, 0.0].view()
        )
        .is_nan());
        assert!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_nan());
        assert!(r2_score(&[1.0], &[1.0], None).is_nan());
        assert_eq!(r2_score(&[1.0, 1.0], &[1.0, 1.0], None), 1.0);
        assert_eq!(r2_score(&[1.0, 1.0], &[1.0, 2.0], None), 0.0);
        // Σw = 0 → unweighted.
        assert_eq!(
            r2_on_deltas(&[1.0, 2.0, 4.0], &[1.0, 2.0, 3.0], Some(&[0.0, 0.0, 0.0])),
            r2_score(&[1.0, 2.0, 4.0], &[1.0, 2.0, 3.0], None)
        );
    }

    #[test]
    fn matches_scipy_and_sklearn() {
        // scipy 1.17.1 pearsonr and sklearn 1.9.1 r2_score on these vectors.
        let x = [0.3, -1.2, 0.8, 2.5, -0.4, 0.1, 1.7, -0.9, 0.05, 0.6, -2.2];
        let y = [0.1, -0.7, 1.1, 2.0, -0.1, 0.4, 1.2, -1.5, 0.3, 0.2, -1.9];
        let w = [0.1, 0.0, 1.0, 0.5, 0.25, 0.3, 0.9, 0.0, 0.05, 0.6, 0.2];
        assert!((pearson(&x, &y) - 0.9521735591471214).abs() < 1e-15);
        assert!((r2_score(&y, &x, None) - 0.86875).abs() < 1e-14);
        assert!((r2_score(&y, &x, Some(&w)) - 0.7921884271702329).abs() < 1e-14);
    }
}
