//! Per-model summary of each metric (SPEC §6.2), as CellSimBench's `_calculate_summary_stats`.

use super::MetricTable;
use crate::stats::descriptive::{mean, median, pairwise_sum, std};

/// One row of `summary.csv`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SummaryRow {
    /// Model.
    pub model: String,
    /// Metric.
    pub metric: &'static str,
    /// Mean of the non-NaN values.
    pub mean: f64,
    /// Median of the non-NaN values.
    pub median: f64,
    /// Standard deviation (ddof 0) of the non-NaN values.
    pub std: f64,
    /// Fraction of the model's perturbations where the metric is NaN.
    pub nan_prop: f64,
    /// Perturbations the model covers.
    pub n: usize,
}

/// Summaries for every model × metric. A row is all-NaN (nan_prop 1) when there are no values
/// or their plain sum is exactly 0 — the published quirk, kept for parity.
pub fn summarize(table: &MetricTable) -> Vec<SummaryRow> {
    let n_p = table.perturbations.len();
    let mut rows = Vec::new();
    for (mi, model) in table.models.iter().enumerate() {
        let covered: Vec<usize> = (0..n_p).filter(|&p| table.covered[[mi, p]]).collect();
        let total = covered.len();
        for (k, spec) in table.specs.iter().enumerate() {
            let vals: Vec<f64> = covered.iter().map(|&p| table.values[[mi, k, p]]).collect();
            let non_nan: Vec<f64> = vals.iter().copied().filter(|x| !x.is_nan()).collect();
            let empty = vals.is_empty() || pairwise_sum(&vals) == 0.0 || non_nan.is_empty();
            rows.push(if empty {
                SummaryRow {
                    model: model.clone(),
                    metric: spec.name,
                    mean: f64::NAN,
                    median: f64::NAN,
                    std: f64::NAN,
                    nan_prop: 1.0,
                    n: vals.len(),
                }
            } else {
                SummaryRow {
                    model: model.clone(),
                    metric: spec.name,
                    mean: mean(&non_nan),
                    median: median(&non_nan),
                    std: std(&non_nan, 0),
                    nan_prop: 1.0 - non_nan.len() as f64 / total as f64,
                    n: vals.len(),
                }
            });
        }
    }
    rows
}
