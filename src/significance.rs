//! Is a model better than the null? (SPEC §8) One-sided paired t-tests against the metric's
//! null baseline over shared perturbations, Bonferroni across models, percentile-bootstrap CIs
//! of the mean difference, and the fraction of the ideal gap closed.

use crate::metrics::MetricTable;
use crate::stats::bootstrap::bootstrap_mean_ci_many;
use crate::stats::descriptive::{mean, pandas_mean, pandas_sem};
use crate::stats::paired::{ttest_rel, Alternative};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// Family-wise significance level of "better than the null" (one-sided, Bonferroni-adjusted).
pub const ALPHA: f64 = 0.05;

/// At least this many pairs are needed for a test.
pub const MIN_PAIRS_TTEST: usize = 3;

/// Bootstrap resamples (SPEC §8).
pub const N_RESAMPLES: usize = 10_000;

/// Bootstrap seed: SPEC §8's reference draws from `numpy.random.RandomState(42)`.
pub const BOOTSTRAP_SEED: u32 = 42;

/// Bootstrap confidence level.
pub const CONFIDENCE: f64 = 0.95;

/// One row of `stats.csv`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StatsRow {
    /// Model (or baseline).
    pub model: String,
    /// Metric.
    pub metric: &'static str,
    /// Null model of the metric.
    pub null_model: &'static str,
    /// `greater` (higher-better) or `less`.
    pub alternative: &'static str,
    /// Non-NaN values of the model.
    pub n: usize,
    /// Mean of the model's values.
    pub mean: f64,
    /// SEM of the model's values (ddof 1).
    pub sem: f64,
    /// Perturbations where model and null are both non-NaN.
    pub n_pairs: usize,
    /// Null mean over the pairs.
    pub mean_null: f64,
    /// Mean of model − null over the pairs.
    pub mean_diff: f64,
    /// SEM of the differences.
    pub sem_diff: f64,
    /// Paired t statistic of model − null.
    pub t: f64,
    /// t with the sign flipped for lower-better metrics (positive = better).
    pub t_better: f64,
    /// One-sided p-value.
    pub p: f64,
    /// Models tested for this metric.
    pub n_tests: usize,
    /// min(p · n_tests, 1).
    pub p_bonferroni: f64,
    /// Bootstrap CI of the mean difference, lower bound.
    pub ci_low: f64,
    /// Upper bound.
    pub ci_high: f64,
    /// A test was run (false for the null itself and for < 3 pairs).
    pub tested: bool,
}

impl StatsRow {
    /// The one rule for "significantly better than the null": tested, Bonferroni p < [`ALPHA`],
    /// and the difference in the metric's better direction.
    pub fn beats_null(&self) -> bool {
        self.tested && self.p_bonferroni < ALPHA && self.t_better > 0.0
    }
}

/// "Fraction of ideal gap" of a model mean vs the null mean: (model − null)/(1 − null) for
/// higher-better, (null − model)/null for lower-better; the raw difference when
/// |denominator| ≤ 1e-6; clipped to [−1, 2].
pub fn fraction_of_ideal_gap(model: f64, null: f64, higher_is_better: bool) -> f64 {
    let (num, den) = if higher_is_better {
        (model - null, 1.0 - null)
    } else {
        (null - model, null)
    };
    let v = if den.abs() <= 1e-6 { num } else { num / den };
    v.clamp(-1.0, 2.0)
}

/// Every model against its metric's null, metric-major, models in table order.
pub fn compare_to_null(table: &MetricTable, n_resamples: usize, seed: u32) -> Vec<StatsRow> {
    let n_p = table.perturbations.len();
    let mut rows = Vec::new();
    // (row index, differences) of every test, bootstrapped together below.
    let mut diffs: Vec<(usize, Vec<f64>)> = Vec::new();
    for (k, spec) in table.specs.iter().enumerate() {
        let null = spec.null_baseline();
        let alternative = if spec.higher_is_better() {
            Alternative::Greater
        } else {
            Alternative::Less
        };
        let null_idx = table.model_index(null);
        // A descriptive metric has no better side to test.
        let null_covers_any = !spec.is_descriptive()
            && null_idx.is_some_and(|ni| (0..n_p).any(|p| table.covered[[ni, p]]));
        let first = rows.len();
        for (mi, model) in table.models.iter().enumerate() {
            let own: Vec<f64> = (0..n_p)
                .filter(|&p| table.covered[[mi, p]])
                .map(|p| table.values[[mi, k, p]])
                .collect();
            let n = own.iter().filter(|x| !x.is_nan()).count();
            let mut row = StatsRow {
                model: model.clone(),
                metric: spec.name,
                null_model: null,
                alternative: if spec.is_descriptive() {
                    "none"
                } else {
                    alternative.as_str()
                },
                n,
                mean: if n > 0 { pandas_mean(&own) } else { f64::NAN },
                sem: if n > 0 { pandas_sem(&own) } else { f64::NAN },
                n_pairs: 0,
                mean_null: f64::NAN,
                mean_diff: f64::NAN,
                sem_diff: f64::NAN,
                t: f64::NAN,
                t_better: f64::NAN,
                p: f64::NAN,
                n_tests: 0,
                p_bonferroni: f64::NAN,
                ci_low: f64::NAN,
                ci_high: f64::NAN,
                tested: false,
            };
            if let (Some(ni), true) = (null_idx, model != null && null_covers_any) {
                let pairs: Vec<usize> = (0..n_p)
                    .filter(|&p| table.covered[[mi, p]] && table.covered[[ni, p]])
                    .filter(|&p| {
                        !table.values[[mi, k, p]].is_nan() && !table.values[[ni, k, p]].is_nan()
                    })
                    .collect();
                row.n_pairs = pairs.len();
                if pairs.len() >= MIN_PAIRS_TTEST {
                    let a: Vec<f64> = pairs.iter().map(|&p| table.values[[mi, k, p]]).collect();
                    let b: Vec<f64> = pairs.iter().map(|&p| table.values[[ni, k, p]]).collect();
                    let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
                    let tt = ttest_rel(&a, &b, alternative);
                    row.tested = true;
                    row.mean_null = mean(&b);
                    row.mean_diff = mean(&d);
                    row.sem_diff = pandas_sem(&d);
                    row.t = tt.t;
                    row.t_better = if spec.higher_is_better() { tt.t } else { -tt.t };
                    row.p = tt.p;
                    diffs.push((rows.len(), d));
                }
            }
            rows.push(row);
        }
        let n_tests = rows[first..].iter().filter(|r| r.tested).count();
        for r in rows[first..].iter_mut() {
            r.n_tests = n_tests;
            if r.tested && !r.p.is_nan() {
                r.p_bonferroni = (r.p * n_tests as f64).min(1.0);
            }
        }
    }
    for (row, (lo, hi)) in bootstrap_all(&diffs, n_resamples, seed) {
        rows[row].ci_low = lo;
        rows[row].ci_high = hi;
    }
    rows
}

/// Bootstrap CIs for many difference vectors: vectors of equal length share one index stream
/// (each test uses a fresh `RandomState(seed)`, so the streams are identical); groups and
/// chunks of them run in parallel.
fn bootstrap_all(
    diffs: &[(usize, Vec<f64>)],
    n_resamples: usize,
    seed: u32,
) -> Vec<(usize, (f64, f64))> {
    let mut by_len: BTreeMap<usize, Vec<&(usize, Vec<f64>)>> = BTreeMap::new();
    for d in diffs {
        by_len.entry(d.1.len()).or_default().push(d);
    }
    let threads = rayon::current_num_threads().max(1);
    let jobs: Vec<Vec<&(usize, Vec<f64>)>> = by_len
        .into_values()
        .flat_map(|group| {
            let chunk = group.len().div_ceil(threads).max(1);
            group.chunks(chunk).map(|c| c.to_vec()).collect::<Vec<_>>()
        })
        .collect();
    jobs.par_iter()
        .flat_map_iter(|job| {
            let samples: Vec<&[f64]> = job.iter().map(|d| d.1.as_slice()).collect();
            let cis = bootstrap_mean_ci_many(&samples, n_resamples, seed, CONFIDENCE);
            job.iter().map(|d| d.0).zip(cis).collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ideal_gap() {
        assert!((fraction_of_ideal_gap(0.8, 0.6, true) - 0.5).abs() < 1e-12);
        assert!((fraction_of_ideal_gap(0.5, 1.0, false) - 0.5).abs() < 1e-12);
        assert_eq!(fraction_of_ideal_gap(0.3, 1.0, true), -0.7);
        assert_eq!(fraction_of_ideal_gap(-5.0, 0.0, true), -1.0);
    }
}
