//! cell-eval 0.8.1's own output files, from the cell-eval family's slice of the metric table:
//! `celleval_results.csv` (its `results.csv`: one row per perturbation, its metric names as
//! columns, with a leading `model`) and `celleval_agg_results.csv` (its `agg_results.csv`,
//! polars' `describe()`, per model).
//!
//! cell-eval leaves a perturbation out of its dict-returning DE metrics when it has no real
//! significant gene; polars then writes an empty cell (null), not NaN, and `describe()` skips
//! it. Those cells are null here too (`de_direction_match`, `de_spearman_lfc_sig`,
//! `de_sig_genes_recall` where `de_nsig_counts_real` = 0); every other undefined value is NaN.

use super::table::{Column, Table};
use crate::evaluation::ContextResult;
use crate::metrics::celleval::{FAMILY, PREFIX};
use crate::metrics::Direction;

/// The per-perturbation file.
pub const RESULTS: &str = "celleval_results.csv";
/// The aggregate file.
pub const AGG_RESULTS: &str = "celleval_agg_results.csv";
/// The baseline-normalised score.
pub const SCORE: &str = "celleval_score.csv";
/// The baseline cell-eval's score compares with: its `baseline` command predicts the mean of
/// the perturbed cells for every perturbation, calibra's dataset mean (of the fold's train
/// perturbations, each weighing the same).
pub const SCORE_BASELINE: &str = "dataset_mean";

/// Metrics cell-eval leaves null for a perturbation without real significant genes.
const NULL_WITHOUT_REAL_DE: [&str; 3] = [
    "de_direction_match",
    "de_spearman_lfc_sig",
    "de_sig_genes_recall",
];

/// A peer family's columns: (metric index in the table, the peer's own name: the metric's
/// name without the family `prefix`).
pub(super) fn family_columns(
    r: &ContextResult,
    family: &str,
    prefix: &str,
) -> Vec<(usize, &'static str)> {
    r.table
        .specs
        .iter()
        .enumerate()
        .filter(|(_, s)| s.family == family)
        .map(|(k, s)| (k, s.name.strip_prefix(prefix).unwrap_or(s.name)))
        .collect()
}

/// The family's columns: (metric index in the table, cell-eval's name).
fn columns(r: &ContextResult) -> Vec<(usize, &'static str)> {
    family_columns(r, FAMILY, PREFIX)
}

/// Each model's rows: (model index, the covered perturbations' indices).
fn model_rows(r: &ContextResult) -> Vec<(usize, Vec<usize>)> {
    let t = &r.table;
    (0..t.models.len())
        .map(|m| {
            let covered = (0..t.perturbations.len())
                .filter(|&p| t.covered[[m, p]])
                .collect();
            (m, covered)
        })
        .collect()
}

/// A model's values of one metric on its perturbations, `None` where cell-eval has null.
fn cells(r: &ContextResult, m: usize, perts: &[usize], k: usize, name: &str) -> Vec<Option<f64>> {
    let t = &r.table;
    let nsig_real = t.metric_index(&format!("{PREFIX}de_nsig_counts_real"));
    perts
        .iter()
        .map(|&p| {
            let without_real_de = nsig_real.is_some_and(|n| t.values[[m, n, p]] == 0.0);
            if without_real_de && NULL_WITHOUT_REAL_DE.contains(&name) {
                None
            } else {
                Some(t.values[[m, k, p]])
            }
        })
        .collect()
}

/// `celleval_results.csv`: model, perturbation, then cell-eval's metric columns.
pub fn results_table(r: &ContextResult) -> Table {
    let cols = columns(r);
    let rows = model_rows(r);
    let mut model = Vec::new();
    let mut perturbation = Vec::new();
    for (m, perts) in &rows {
        for &p in perts {
            model.push(r.table.models[*m].clone());
            perturbation.push(r.table.perturbations[p].clone());
        }
    }
    let mut t = Table::new()
        .with("model", Column::Str(model))
        .with("perturbation", Column::Str(perturbation));
    for (k, name) in cols {
        let values = rows
            .iter()
            .flat_map(|(m, perts)| cells(r, *m, perts, k, name))
            .collect();
        t = t.with(name, Column::OptF64(values));
    }
    t
}

/// The statistics of polars' `describe()`, in its row order.
const STATISTICS: [&str; 9] = [
    "count",
    "null_count",
    "mean",
    "std",
    "min",
    "25%",
    "50%",
    "75%",
    "max",
];

/// polars' `describe()` of one column: nulls skipped everywhere and counted; a NaN makes the
/// mean and std NaN, is skipped by min and max, and sorts above every number for the
/// quantiles (nearest rank, (n − 1)·q rounded half away from zero).
pub fn describe(values: &[Option<f64>]) -> [Option<f64>; 9] {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    let n = present.len();
    let nulls = values.len() - n;
    if n == 0 {
        return [
            Some(0.0),
            Some(nulls as f64),
            None,
            None,
            None,
            None,
            None,
            None,
            None,
        ];
    }
    let mean = present.iter().sum::<f64>() / n as f64;
    let std = (n > 1).then(|| {
        let ss: f64 = present.iter().map(|x| (x - mean) * (x - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    });
    let finite: Vec<f64> = present.iter().copied().filter(|x| !x.is_nan()).collect();
    let min = finite.iter().copied().reduce(f64::min).unwrap_or(f64::NAN);
    let max = finite.iter().copied().reduce(f64::max).unwrap_or(f64::NAN);
    let mut sorted = present.clone();
    sorted.sort_by(f64::total_cmp);
    let quantile = |q: f64| sorted[((n - 1) as f64 * q).round() as usize];
    [
        Some(n as f64),
        Some(nulls as f64),
        Some(mean),
        std,
        Some(min),
        Some(quantile(0.25)),
        Some(quantile(0.5)),
        Some(quantile(0.75)),
        Some(max),
    ]
}

/// `celleval_agg_results.csv`: per model, the nine rows of `describe()` of each metric.
pub fn agg_results_table(r: &ContextResult) -> Table {
    let cols = columns(r);
    let rows = model_rows(r);
    let described: Vec<Vec<[Option<f64>; 9]>> = cols
        .iter()
        .map(|&(k, name)| {
            rows.iter()
                .map(|(m, perts)| describe(&cells(r, *m, perts, k, name)))
                .collect()
        })
        .collect();
    let mut model = Vec::new();
    let mut statistic = Vec::new();
    for (m, _) in &rows {
        for s in STATISTICS {
            model.push(r.table.models[*m].clone());
            statistic.push(s.to_string());
        }
    }
    let mut t = Table::new()
        .with("model", Column::Str(model))
        .with("statistic", Column::Str(statistic));
    for ((_, name), per_model) in cols.iter().zip(described) {
        let values = per_model.into_iter().flatten().collect();
        t = t.with(name, Column::OptF64(values));
    }
    t
}

/// cell-eval's `score`: per metric with a better side, the model's mean against the
/// baseline's — lower-better 1 − u/b, higher-better (u − b)/(1 − b) — NaN → 0, clipped at 0,
/// lower-better metrics first, then `avg_score`, their mean; one block per model (the baseline
/// scored against itself included).
pub fn score_table(r: &ContextResult) -> Table {
    let cols = columns(r);
    let rows = model_rows(r);
    let mean_of = |m: usize, k: usize, name: &str| -> f64 {
        let perts = &rows[m].1;
        describe(&cells(r, m, perts, k, name))[2].unwrap_or(f64::NAN)
    };
    let Some(base) = r.table.model_index(SCORE_BASELINE) else {
        return Table::new()
            .with("model", Column::Str(vec![]))
            .with("metric", Column::Str(vec![]))
            .with("from_baseline", Column::F64(vec![]));
    };
    let by_zero: Vec<(usize, &str)> = cols
        .iter()
        .copied()
        .filter(|&(k, _)| r.table.specs[k].direction == Direction::LowerBetter)
        .collect();
    let by_one: Vec<(usize, &str)> = cols
        .iter()
        .copied()
        .filter(|&(k, _)| r.table.specs[k].direction == Direction::HigherBetter)
        .collect();
    let (mut model, mut metric, mut score) = (vec![], vec![], vec![]);
    for m in 0..r.table.models.len() {
        let mut scores = Vec::new();
        for &(k, name) in &by_zero {
            let (u, b) = (mean_of(m, k, name), mean_of(base, k, name));
            scores.push((name, 1.0 - u / b));
        }
        for &(k, name) in &by_one {
            let (u, b) = (mean_of(m, k, name), mean_of(base, k, name));
            scores.push((name, (u - b) / (1.0 - b)));
        }
        let scores: Vec<(&str, f64)> = scores
            .into_iter()
            .map(|(n, x)| (n, if x.is_nan() { 0.0 } else { x.max(0.0) }))
            .collect();
        let avg = scores.iter().map(|(_, x)| x).sum::<f64>() / scores.len() as f64;
        for (n, x) in scores.into_iter().chain([("avg_score", avg)]) {
            model.push(r.table.models[m].clone());
            metric.push(n.to_string());
            score.push(x);
        }
    }
    Table::new()
        .with("model", Column::Str(model))
        .with("metric", Column::Str(metric))
        .with("from_baseline", Column::F64(score))
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn describe_follows_polars() {
        let v = [Some(3.0), None, Some(1.0), Some(f64::NAN), Some(2.0)];
        let d = describe(&v);
        assert_eq!(d[0], Some(4.0));
        assert_eq!(d[1], Some(1.0));
        assert!(d[2].unwrap().is_nan() && d[3].unwrap().is_nan());
        assert_eq!((d[4], d[8]), (Some(1.0), Some(3.0)));
        // Sorted 1, 2, 3, NaN: (n − 1)·q = 0.75 → 1, 1.5 → 2, 2.25 → 2.
        assert_eq!((d[5], d[6], d[7]), (Some(2.0), Some(3.0), Some(3.0)));
    }
}
