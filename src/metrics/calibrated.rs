//! The 12 per-perturbation metrics of SPEC §6 (all but NIR), with the reference's numerics:
//! scipy's `pearsonr`, sklearn's `r2_score`, numpy's pairwise sums.

use crate::stats::descriptive::pairwise_sums;
use ndarray::ArrayView1;
use std::borrow::Cow;

/// `*_degs` metrics need more than this many DEGs.
pub const MIN_DEGS_EXCLUSIVE: usize = 2;

// Every sum below is numpy's pairwise sum of the vector the reference materialises, computed
// on the fly by `pairwise_sums` (bit-identical, no temporary arrays, K sums per pass).

/// Mean squared error, mean_g (ŷ − y)².
pub fn mse(pred: &[f64], truth: &[f64]) -> f64 {
    let [s] = pairwise_sums(pred.len(), &|i| {
        [(pred[i] - truth[i]) * (pred[i] - truth[i])]
    });
    s / pred.len() as f64
}

/// DEG-weighted MSE, Σ (w/Σw)(ŷ − y)²; NaN when Σw = 0.
pub fn wmse(pred: &[f64], truth: &[f64], weights: &[f64]) -> f64 {
    let [total] = pairwise_sums(weights.len(), &|i| [weights[i]]);
    wmse_with_total(pred, truth, weights, total)
}

fn wmse_with_total(pred: &[f64], truth: &[f64], weights: &[f64], total: f64) -> f64 {
    let [s] = pairwise_sums(pred.len(), &|i| {
        [(weights[i] / total) * ((pred[i] - truth[i]) * (pred[i] - truth[i]))]
    });
    s
}

/// Pearson correlation as scipy's `pearsonr`: NaN when either vector is exactly constant or
/// shorter than 2; clipped to [−1, 1].
pub fn pearson(x: &[f64], y: &[f64]) -> f64 {
    if x.len() != y.len() {
        return f64::NAN;
    }
    pearson_by(x.len(), |i| x[i], |i| y[i])
}

/// [`pearson`] of the vectors `x(0..n)` and `y(0..n)`.
#[inline]
fn pearson_by(n: usize, x: impl Fn(usize) -> f64, y: impl Fn(usize) -> f64) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    let (x0, y0) = (x(0), y(0));
    if (0..n).all(|i| x(i) == x0) || (0..n).all(|i| y(i) == y0) {
        return f64::NAN;
    }
    let [sx, sy] = pairwise_sums(n, &|i| [x(i), y(i)]);
    let (mx, my) = (sx / n as f64, sy / n as f64);
    // Scale by the largest magnitude before the norm, as scipy does against overflow.
    let (mut ax, mut ay) = (0.0f64, 0.0f64);
    for i in 0..n {
        ax = ax.max((x(i) - mx).abs());
        ay = ay.max((y(i) - my).abs());
    }
    let [qx, qy] = pairwise_sums(n, &|i| {
        let (a, b) = ((x(i) - mx) / ax, (y(i) - my) / ay);
        [a * a, b * b]
    });
    let (nx, ny) = (ax * qx.sqrt(), ay * qy.sqrt());
    let [dot] = pairwise_sums(n, &|i| [((x(i) - mx) / nx) * ((y(i) - my) / ny)]);
    dot.clamp(-1.0, 1.0)
}

/// sklearn's `r2_score(y_true, y_pred, sample_weight)`: 1 − Σw(y−ŷ)²/Σw(y−ȳ_w)²; a zero
/// denominator gives 1.0 if the numerator is 0 too, else 0.0; NaN for fewer than 2 values.
pub fn r2_score(y_true: &[f64], y_pred: &[f64], weights: Option<&[f64]>) -> f64 {
    if y_pred.len() != y_true.len() {
        return f64::NAN;
    }
    match weights {
        Some(w) => r2_by(y_true.len(), |i| y_true[i], |i| y_pred[i], Some(|i| w[i])),
        None => r2_by(
            y_true.len(),
            |i| y_true[i],
            |i| y_pred[i],
            None::<fn(usize) -> f64>,
        ),
    }
}

/// [`r2_score`] of `y_true(0..n)`, `y_pred(0..n)` with optional weights `w(0..n)`.
#[inline]
fn r2_by(
    n: usize,
    y_true: impl Fn(usize) -> f64,
    y_pred: impl Fn(usize) -> f64,
    w: Option<impl Fn(usize) -> f64>,
) -> f64 {
    if n < 2 {
        return f64::NAN;
    }
    let sq = |i: usize| (y_true(i) - y_pred(i)) * (y_true(i) - y_pred(i));
    let (numerator, denominator) = match &w {
        Some(w) => {
            let [num, syw, sw] = pairwise_sums(n, &|i| [w(i) * sq(i), y_true(i) * w(i), w(i)]);
            let avg = syw / sw;
            let [den] = pairwise_sums(n, &|i| [w(i) * ((y_true(i) - avg) * (y_true(i) - avg))]);
            (num, den)
        }
        None => {
            // sklearn multiplies by a weight of 1.0, which changes no bit.
            let [num, sy] = pairwise_sums(n, &|i| [sq(i), y_true(i)]);
            let avg = sy / n as f64;
            let [den] = pairwise_sums(n, &|i| [(y_true(i) - avg) * (y_true(i) - avg)]);
            (num, den)
        }
    };
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
        Some(w) if pairwise_sums(w.len(), &|i| [w[i]])[0] != 0.0 => {
            r2_score(delta_true, delta_pred, Some(w))
        }
        _ => r2_score(delta_true, delta_pred, None),
    }
}

fn contiguous<'a>(v: &'a ArrayView1<'a, f64>) -> Cow<'a, [f64]> {
    v.as_slice()
        .map(Cow::Borrowed)
        .unwrap_or_else(|| Cow::Owned(v.to_vec()))
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
    let (pred, truth) = (contiguous(&pred), contiguous(&inputs.truth));
    let (control, dataset_mean) = (
        contiguous(&inputs.control),
        contiguous(&inputs.dataset_mean),
    );
    let w = contiguous(&inputs.weights);
    let (pred, truth, w) = (&pred[..], &truth[..], &w[..]);
    let n = pred.len();
    let mask: Vec<usize> = inputs
        .deg_mask
        .iter()
        .enumerate()
        .filter(|(_, &d)| d)
        .map(|(i, _)| i)
        .collect();
    let degs = mask.len() > MIN_DEGS_EXCLUSIVE;
    let [sum_w] = pairwise_sums(n, &|i| [w[i]]);
    let clip = |r: f64| match opts.clip_r2_at {
        Some(lo) if r < lo => lo,
        _ => r,
    };
    let no_weights = None::<fn(usize) -> f64>;
    // Δ against a reference profile: the predicted and the true change.
    let five = |reference: &[f64]| -> [f64; 5] {
        let dp = |i: usize| pred[i] - reference[i];
        let dy = |i: usize| truth[i] - reference[i];
        let (dpm, dym) = (|k: usize| dp(mask[k]), |k: usize| dy(mask[k]));
        let m = mask.len();
        [
            pearson_by(n, dp, dy),
            if degs {
                pearson_by(m, dpm, dym)
            } else {
                f64::NAN
            },
            clip(r2_by(n, dy, dp, no_weights)),
            if degs {
                clip(r2_by(m, dym, dpm, no_weights))
            } else {
                f64::NAN
            },
            clip(if sum_w != 0.0 {
                r2_by(n, dy, dp, Some(|i: usize| w[i]))
            } else {
                r2_by(n, dy, dp, no_weights)
            }),
        ]
    };
    let c = five(&control);
    let p = five(&dataset_mean);
    [
        mse(pred, truth),
        wmse_with_total(pred, truth, w, sum_w),
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
        let (p, g, wv) = (pred.to_vec(), gt.to_vec(), w.to_vec());
        assert!((mse(&p, &g) - 0.276).abs() < 1e-12);
        assert!((wmse(&p, &g, &wv) - 0.295).abs() < 1e-12);
        let dp = (&pred - &ctrl).to_vec();
        let dy = (&gt - &ctrl).to_vec();
        assert!((r2_on_deltas(&dy, &dp, None) - -3.6).abs() < 1e-12);
        assert!((r2_on_deltas(&dy, &dp, Some(&w.to_vec())) - -4.373406).abs() < 1e-6);
        assert!((pearson(&dp, &dy) - -0.903696).abs() < 1e-6);
    }

    #[test]
    fn conventions() {
        assert!(wmse(&[1.0, 2.0], &[0.0, 0.0], &[0.0, 0.0]).is_nan());
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
