//! The 12 per-perturbation metrics of SPEC §6 (all but NIR), with the reference's numerics:
//! scipy's `pearsonr`, sklearn's `r2_score`, numpy's pairwise sums.
//!
//! [`PROFILE_METRICS`] declares each metric (its [`MetricSpec`]) beside its readable definition
//! in [`definitions`] — a function named like the metric. [`calibrated_metrics`] is the fast
//! path the pipeline runs: all twelve in four fused passes, bit-identical to the definitions
//! (tested).

use crate::metrics::spec::{Direction, MetricInput, MetricSpec, NullModel};
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
    r2_from(numerator, denominator)
}

/// sklearn's R² from its residual and total sums of squares.
fn r2_from(numerator: f64, denominator: f64) -> f64 {
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

/// One prediction and what it is compared with (SPEC §6's ŷ, y, c, m, w and D), as slices of
/// equal length.
#[derive(Debug, Clone, Copy)]
pub struct Compared<'a> {
    /// ŷ, the predicted mean profile.
    pub pred: &'a [f64],
    /// y, the GT-half mean profile.
    pub truth: &'a [f64],
    /// c, the mean of all control cells.
    pub control: &'a [f64],
    /// m, the dataset mean of the perturbation's test fold.
    pub dataset_mean: &'a [f64],
    /// w, the DEG weights (all 0 without a GT test).
    pub weights: &'a [f64],
    /// D, the DEG set (gene positions; empty without a GT test).
    pub degs: &'a [usize],
    /// Variants (the revision preset's R² clipping).
    pub options: &'a MetricOptions,
}

/// A per-perturbation metric: its declaration and its readable definition.
#[derive(Debug, Clone, Copy)]
pub struct ProfileMetric {
    /// The metric's spec.
    pub spec: MetricSpec,
    /// Its definition, written as SPEC §6 states it ([`calibrated_metrics`] is the fast path).
    pub definition: fn(&Compared<'_>) -> f64,
}

const fn metric(
    name: &'static str,
    doc: &'static str,
    direction: Direction,
    null: NullModel,
    input: MetricInput,
    definition: fn(&Compared<'_>) -> f64,
) -> ProfileMetric {
    let perfect = direction.usual_perfect();
    ProfileMetric {
        spec: MetricSpec {
            name,
            doc,
            family: super::FAMILY,
            direction,
            perfect,
            null,
            input,
        },
        definition,
    }
}

use Direction::{HigherBetter as Higher, LowerBetter as Lower};
use MetricInput::{DegSet, DegWeights, Profiles};
use NullModel::{ControlMean, DatasetMean};

/// How many per-perturbation metrics there are.
pub const N_PROFILE_METRICS: usize = 12;

/// SPEC §6's metrics 1–12, in output order (the order of [`calibrated_metrics`]' values).
#[rustfmt::skip]
pub const PROFILE_METRICS: [ProfileMetric; N_PROFILE_METRICS] = [
    metric("mse", "mean squared error over all genes", Lower, DatasetMean, Profiles, definitions::mse),
    metric("wmse", "DEG-weighted mean squared error (NaN when no weight)", Lower, DatasetMean, DegWeights, definitions::wmse),
    metric("pearson_deltactrl", "Pearson of the changes from the control mean", Higher, DatasetMean, Profiles, definitions::pearson_deltactrl),
    metric("pearson_deltactrl_degs", "pearson_deltactrl on the DEGs (NaN with ≤ 2)", Higher, DatasetMean, DegSet, definitions::pearson_deltactrl_degs),
    metric("r2_deltactrl", "R² of the changes from the control mean", Higher, DatasetMean, Profiles, definitions::r2_deltactrl),
    metric("r2_deltactrl_degs", "r2_deltactrl on the DEGs (NaN with ≤ 2)", Higher, DatasetMean, DegSet, definitions::r2_deltactrl_degs),
    metric("weighted_r2_deltactrl", "DEG-weighted R² of the changes from the control mean", Higher, DatasetMean, DegWeights, definitions::weighted_r2_deltactrl),
    metric("pearson_deltapert", "Pearson of the changes from the dataset mean", Higher, ControlMean, Profiles, definitions::pearson_deltapert),
    metric("pearson_deltapert_degs", "pearson_deltapert on the DEGs (NaN with ≤ 2)", Higher, ControlMean, DegSet, definitions::pearson_deltapert_degs),
    metric("r2_deltapert", "R² of the changes from the dataset mean", Higher, ControlMean, Profiles, definitions::r2_deltapert),
    metric("r2_deltapert_degs", "r2_deltapert on the DEGs (NaN with ≤ 2)", Higher, ControlMean, DegSet, definitions::r2_deltapert_degs),
    metric("weighted_r2_deltapert", "DEG-weighted R² of the changes from the dataset mean", Higher, ControlMean, DegWeights, definitions::weighted_r2_deltapert),
];

/// The definitions of [`PROFILE_METRICS`], one function per metric, named like it.
pub mod definitions {
    use super::{pearson, r2_on_deltas, r2_score, Compared, MIN_DEGS_EXCLUSIVE};

    fn delta(v: &[f64], reference: &[f64]) -> Vec<f64> {
        v.iter().zip(reference).map(|(x, r)| x - r).collect()
    }

    fn on_degs(v: &[f64], degs: &[usize]) -> Vec<f64> {
        degs.iter().map(|&g| v[g]).collect()
    }

    fn clip(c: &Compared<'_>, r2: f64) -> f64 {
        match c.options.clip_r2_at {
            Some(lo) if r2 < lo => lo,
            _ => r2,
        }
    }

    fn few_degs(c: &Compared<'_>) -> bool {
        c.degs.len() <= MIN_DEGS_EXCLUSIVE
    }

    fn pearson_delta(c: &Compared<'_>, reference: &[f64]) -> f64 {
        pearson(&delta(c.pred, reference), &delta(c.truth, reference))
    }

    fn pearson_delta_degs(c: &Compared<'_>, reference: &[f64]) -> f64 {
        if few_degs(c) {
            return f64::NAN;
        }
        let (dp, dy) = (delta(c.pred, reference), delta(c.truth, reference));
        pearson(&on_degs(&dp, c.degs), &on_degs(&dy, c.degs))
    }

    fn r2_delta(c: &Compared<'_>, reference: &[f64]) -> f64 {
        let (dp, dy) = (delta(c.pred, reference), delta(c.truth, reference));
        clip(c, r2_score(&dy, &dp, None))
    }

    fn r2_delta_degs(c: &Compared<'_>, reference: &[f64]) -> f64 {
        if few_degs(c) {
            return f64::NAN;
        }
        let (dp, dy) = (delta(c.pred, reference), delta(c.truth, reference));
        clip(
            c,
            r2_score(&on_degs(&dy, c.degs), &on_degs(&dp, c.degs), None),
        )
    }

    fn weighted_r2_delta(c: &Compared<'_>, reference: &[f64]) -> f64 {
        let (dp, dy) = (delta(c.pred, reference), delta(c.truth, reference));
        clip(c, r2_on_deltas(&dy, &dp, Some(c.weights)))
    }

    /// mean_g (ŷ − y)².
    pub fn mse(c: &Compared<'_>) -> f64 {
        super::mse(c.pred, c.truth)
    }

    /// Σ (w/Σw)(ŷ − y)²; NaN if Σw = 0.
    pub fn wmse(c: &Compared<'_>) -> f64 {
        super::wmse(c.pred, c.truth, c.weights)
    }

    /// Pearson(ŷ − c, y − c).
    pub fn pearson_deltactrl(c: &Compared<'_>) -> f64 {
        pearson_delta(c, c.control)
    }

    /// Pearson(ŷ − c, y − c) on D; NaN if |D| ≤ 2.
    pub fn pearson_deltactrl_degs(c: &Compared<'_>) -> f64 {
        pearson_delta_degs(c, c.control)
    }

    /// R²(y_true = y − c, y_pred = ŷ − c).
    pub fn r2_deltactrl(c: &Compared<'_>) -> f64 {
        r2_delta(c, c.control)
    }

    /// R² of the Δctrl on D; NaN if |D| ≤ 2.
    pub fn r2_deltactrl_degs(c: &Compared<'_>) -> f64 {
        r2_delta_degs(c, c.control)
    }

    /// R² of the Δctrl weighted by w; unweighted if Σw = 0.
    pub fn weighted_r2_deltactrl(c: &Compared<'_>) -> f64 {
        weighted_r2_delta(c, c.control)
    }

    /// Pearson(ŷ − m, y − m).
    pub fn pearson_deltapert(c: &Compared<'_>) -> f64 {
        pearson_delta(c, c.dataset_mean)
    }

    /// Pearson(ŷ − m, y − m) on D; NaN if |D| ≤ 2.
    pub fn pearson_deltapert_degs(c: &Compared<'_>) -> f64 {
        pearson_delta_degs(c, c.dataset_mean)
    }

    /// R²(y_true = y − m, y_pred = ŷ − m).
    pub fn r2_deltapert(c: &Compared<'_>) -> f64 {
        r2_delta(c, c.dataset_mean)
    }

    /// R² of the Δpert on D; NaN if |D| ≤ 2.
    pub fn r2_deltapert_degs(c: &Compared<'_>) -> f64 {
        r2_delta_degs(c, c.dataset_mean)
    }

    /// R² of the Δpert weighted by w; unweighted if Σw = 0.
    pub fn weighted_r2_deltapert(c: &Compared<'_>) -> f64 {
        weighted_r2_delta(c, c.dataset_mean)
    }
}

/// The 12 non-NIR metrics in [`PROFILE_METRICS`] order for one prediction.
///
/// The all-gene metrics against both references share four passes over the genes, each
/// making every sum it can (K sums per pass in [`pairwise_sums`]): the sums needing no mean,
/// the centred sums, Pearson's scaled squares, Pearson's dot product. Each sum has the same
/// terms in the same order as the stand-alone functions above ([`mse`], [`wmse`],
/// [`pearson`], [`r2_score`]), so the values are bit-identical to theirs.
pub fn calibrated_metrics(
    pred: ArrayView1<f64>,
    inputs: &MetricInputs,
    opts: &MetricOptions,
) -> [f64; N_PROFILE_METRICS] {
    let (pred, truth) = (contiguous(&pred), contiguous(&inputs.truth));
    let (control, dataset_mean) = (
        contiguous(&inputs.control),
        contiguous(&inputs.dataset_mean),
    );
    let w = contiguous(&inputs.weights);
    let n = pred.len();
    // Equal lengths up front: the passes below index all of them by the same i < n.
    let (pred, truth, w) = (&pred[..n], &truth[..n], &w[..n]);
    let (c, m) = (&control[..n], &dataset_mean[..n]);
    let mask: Vec<usize> = inputs
        .deg_mask
        .iter()
        .enumerate()
        .filter(|(_, &d)| d)
        .map(|(i, _)| i)
        .collect();
    let degs = mask.len() > MIN_DEGS_EXCLUSIVE;
    let clip = |r: f64| match opts.clip_r2_at {
        Some(lo) if r < lo => lo,
        _ => r,
    };
    let nf = n as f64;

    // Pass 1: per reference r, dp = pred − r and dy = truth − r; sums of dp and dy (Pearson's
    // means; Σdy is also R²'s), R²'s residuals (dy − dp)², weighted residuals and Σ dy·w.
    let s1 = pairwise_sums(n, &|i| {
        let (p, t, wi) = (pred[i], truth[i], w[i]);
        let (dpc, dyc) = (p - c[i], t - c[i]);
        let (dpm, dym) = (p - m[i], t - m[i]);
        let (rc, rm) = ((dyc - dpc) * (dyc - dpc), (dym - dpm) * (dym - dpm));
        [
            (p - t) * (p - t),
            wi,
            dpc,
            dyc,
            rc,
            wi * rc,
            dyc * wi,
            dpm,
            dym,
            rm,
            wi * rm,
            dym * wi,
        ]
    });
    let sum_w = s1[1];
    let sums = |k: usize| RefSums {
        dp: s1[k],
        dy: s1[k + 1],
        residual: s1[k + 2],
        weighted_residual: s1[k + 3],
        weighted_dy: s1[k + 4],
    };
    let (sc, sm) = (sums(2), sums(7));
    let (mpc, myc, awc) = (sc.dp / nf, sc.dy / nf, sc.weighted_dy / sum_w);
    let (mpm, mym, awm) = (sm.dp / nf, sm.dy / nf, sm.weighted_dy / sum_w);

    // Pass 2: WMSE's terms, R²'s total sums of squares (plain and weighted), and Pearson's
    // scales (largest centred magnitudes, order-free).
    let s2 = pairwise_sums(n, &|i| {
        let (p, t, wi) = (pred[i], truth[i], w[i]);
        let (dyc, dym) = (t - c[i], t - m[i]);
        [
            (wi / sum_w) * ((p - t) * (p - t)),
            (dyc - myc) * (dyc - myc),
            wi * ((dyc - awc) * (dyc - awc)),
            (dym - mym) * (dym - mym),
            wi * ((dym - awm) * (dym - awm)),
        ]
    });
    let (mut apc, mut ayc, mut apm, mut aym) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for i in 0..n {
        let (p, t) = (pred[i], truth[i]);
        apc = apc.max(((p - c[i]) - mpc).abs());
        ayc = ayc.max(((t - c[i]) - myc).abs());
        apm = apm.max(((p - m[i]) - mpm).abs());
        aym = aym.max(((t - m[i]) - mym).abs());
    }

    // Pass 3: Pearson's norms of the scaled centred deltas.
    let s3 = pairwise_sums(n, &|i| {
        let (p, t) = (pred[i], truth[i]);
        let (xc, yc) = (((p - c[i]) - mpc) / apc, ((t - c[i]) - myc) / ayc);
        let (xm, ym) = (((p - m[i]) - mpm) / apm, ((t - m[i]) - mym) / aym);
        [xc * xc, yc * yc, xm * xm, ym * ym]
    });
    let (npc, nyc) = (apc * s3[0].sqrt(), ayc * s3[1].sqrt());
    let (npm, nym) = (apm * s3[2].sqrt(), aym * s3[3].sqrt());

    // Pass 4: Pearson's dot products.
    let s4 = pairwise_sums(n, &|i| {
        let (p, t) = (pred[i], truth[i]);
        [
            (((p - c[i]) - mpc) / npc) * (((t - c[i]) - myc) / nyc),
            (((p - m[i]) - mpm) / npm) * (((t - m[i]) - mym) / nym),
        ]
    });

    // Pearson is NaN for fewer than 2 genes or a constant vector; R² for fewer than 2.
    let constant = |r: &[f64], v: &[f64]| (0..n).all(|i| v[i] - r[i] == v[0] - r[0]);
    let pearson_of = |r: &[f64], dot: f64| {
        if n < 2 || constant(r, pred) || constant(r, truth) {
            f64::NAN
        } else {
            dot.clamp(-1.0, 1.0)
        }
    };
    let r2_of = |num: f64, den: f64| if n < 2 { f64::NAN } else { r2_from(num, den) };
    let weighted_r2 = |s: &RefSums, den_plain: f64, den_weighted: f64| {
        clip(if sum_w != 0.0 {
            r2_of(s.weighted_residual, den_weighted)
        } else {
            r2_of(s.residual, den_plain)
        })
    };
    let no_weights = None::<fn(usize) -> f64>;
    // The DEG-restricted metrics: few genes, one reference at a time.
    let on_degs = |reference: &[f64]| -> [f64; 2] {
        if !degs {
            return [f64::NAN; 2];
        }
        let dp = |k: usize| pred[mask[k]] - reference[mask[k]];
        let dy = |k: usize| truth[mask[k]] - reference[mask[k]];
        let len = mask.len();
        [
            pearson_by(len, dp, dy),
            clip(r2_by(len, dy, dp, no_weights)),
        ]
    };
    let (dc, dm) = (on_degs(c), on_degs(m));
    [
        s1[0] / nf,
        s2[0],
        pearson_of(c, s4[0]),
        dc[0],
        clip(r2_of(sc.residual, s2[1])),
        dc[1],
        weighted_r2(&sc, s2[1], s2[2]),
        pearson_of(m, s4[1]),
        dm[0],
        clip(r2_of(sm.residual, s2[3])),
        dm[1],
        weighted_r2(&sm, s2[3], s2[4]),
    ]
}

/// Pass-1 sums of one reference profile r (dp = pred − r, dy = truth − r).
struct RefSums {
    /// Σ dp.
    dp: f64,
    /// Σ dy.
    dy: f64,
    /// Σ (dy − dp)².
    residual: f64,
    /// Σ w (dy − dp)².
    weighted_residual: f64,
    /// Σ dy w.
    weighted_dy: f64,
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
    fn fused_passes_equal_the_stand_alone_metrics() {
        // calibrated_metrics promises the bits of mse, wmse, pearson and r2_on_deltas: with
        // weights and with Σw = 0, and with DEGs on a mask.
        let n = 300;
        let mut next = crate::stats::lcg::uniform_stream(77);
        let mut vec = |scale: f64| -> Vec<f64> { (0..n).map(|_| 5.0 + scale * next()).collect() };
        let (pred, truth, ctrl, mean) = (vec(2.0), vec(2.0), vec(1.0), vec(1.0));
        let weights = vec(1.0)
            .iter()
            .map(|w| (w - 5.0) * (w - 5.0))
            .collect::<Vec<_>>();
        let mask: Vec<bool> = (0..n).map(|i| i % 7 == 0).collect();
        let degs: Vec<usize> = (0..n).filter(|&i| mask[i]).collect();
        for w in [weights, vec![0.0; n]] {
            let view = |v: &Vec<f64>| ndarray::ArrayView1::from(v.as_slice()).to_owned();
            let (t, c, m, wv) = (view(&truth), view(&ctrl), view(&mean), view(&w));
            let dm = ndarray::Array1::from(mask.clone());
            let inputs = MetricInputs {
                truth: t.view(),
                control: c.view(),
                dataset_mean: m.view(),
                weights: wv.view(),
                deg_mask: dm.view(),
            };
            let got = calibrated_metrics(
                ndarray::ArrayView1::from(pred.as_slice()),
                &inputs,
                &MetricOptions::default(),
            );
            let delta = |a: &[f64], r: &[f64]| -> Vec<f64> {
                a.iter().zip(r).map(|(x, y)| x - y).collect()
            };
            let on = |v: &[f64]| -> Vec<f64> { degs.iter().map(|&i| v[i]).collect() };
            let mut want = vec![
                ("mse".to_string(), mse(&pred, &truth)),
                ("wmse".to_string(), wmse(&pred, &truth, &w)),
            ];
            for (r, suffix) in [(&ctrl, "deltactrl"), (&mean, "deltapert")] {
                let (dp, dy) = (delta(&pred, r), delta(&truth, r));
                want.extend([
                    (format!("pearson_{suffix}"), pearson(&dp, &dy)),
                    (
                        format!("pearson_{suffix}_degs"),
                        pearson(&on(&dp), &on(&dy)),
                    ),
                    (format!("r2_{suffix}"), r2_score(&dy, &dp, None)),
                    (
                        format!("r2_{suffix}_degs"),
                        r2_score(&on(&dy), &on(&dp), None),
                    ),
                    (
                        format!("weighted_r2_{suffix}"),
                        r2_on_deltas(&dy, &dp, Some(&w)),
                    ),
                ]);
            }
            // By name: the fused values are in PROFILE_METRICS order.
            for (name, b) in want {
                let k = PROFILE_METRICS
                    .iter()
                    .position(|m| m.spec.name == name)
                    .unwrap_or_else(|| panic!("{name} is not declared"));
                let a = got[k];
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{name}: fused {a} vs stand-alone {b}"
                );
            }
        }
    }

    #[test]
    fn fused_passes_equal_the_definitions() {
        // Every declared definition against the fast path, bit for bit: weights and Σw = 0,
        // DEGs present and too few, R² clipped (revision preset) and not.
        let n = 200;
        let mut next = crate::stats::lcg::uniform_stream(5);
        let mut vec = |scale: f64| -> Vec<f64> { (0..n).map(|_| 3.0 + scale * next()).collect() };
        let (pred, truth, ctrl, mean) = (vec(4.0), vec(1.0), vec(1.0), vec(1.0));
        let weights: Vec<f64> = vec(1.0).iter().map(|w| (w - 3.0) * (w - 3.0)).collect();
        for (w, every) in [(weights, 5), (vec![0.0; n], 3), (vec![1.0; n], 150)] {
            let degs: Vec<usize> = (0..n).filter(|&i| i % every == 0).collect();
            let mask = ndarray::Array1::from_iter((0..n).map(|i| degs.contains(&i)));
            for clip_r2_at in [None, Some(-1.0)] {
                let options = MetricOptions { clip_r2_at };
                let view = |v: &[f64]| ndarray::ArrayView1::from(v).to_owned();
                let (t, c, m, wv) = (view(&truth), view(&ctrl), view(&mean), view(&w));
                let inputs = MetricInputs {
                    truth: t.view(),
                    control: c.view(),
                    dataset_mean: m.view(),
                    weights: wv.view(),
                    deg_mask: mask.view(),
                };
                let fused = calibrated_metrics(
                    ndarray::ArrayView1::from(pred.as_slice()),
                    &inputs,
                    &options,
                );
                let compared = Compared {
                    pred: &pred,
                    truth: &truth,
                    control: &ctrl,
                    dataset_mean: &mean,
                    weights: &w,
                    degs: &degs,
                    options: &options,
                };
                for (k, metric) in PROFILE_METRICS.iter().enumerate() {
                    let (a, b) = (fused[k], (metric.definition)(&compared));
                    assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{}: fused {a} vs definition {b} (clip {clip_r2_at:?})",
                        metric.spec.name
                    );
                }
            }
        }
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
