//! cell-eval2 0.20.0's own output files, from the cell-eval2 family's slice of the metric
//! table: `celleval2_results.csv` (its long `results.csv` — perturbation, metric, value —
//! with a leading `model`), `celleval2_agg_results.csv` (its `agg_results.csv`: count,
//! null_count, mean, std, min, max, median per metric, with the derived
//! `expr_mse_unbiased_capped_norm` in the mean row), and `celleval2_vcc2026_score.csv`, the
//! Virtual Cell Challenge 2026 score on the 0 = baseline / 1 = replicate scale.
//!
//! cell-eval2 omits `de_wilcoxon_lfc_nmae` rows outside its gate (every other undefined value
//! is a NaN row); so does this report.

use super::table::{Column, Table};
use crate::evaluation::ContextResult;
use crate::metrics::celleval2::de::OMITTED_OUTSIDE_GATE;
use crate::metrics::celleval2::{CAPPED_NORM, CAPPED_NORM_PARTS, FAMILY, PREFIX};

/// The per-perturbation file.
pub const RESULTS: &str = "celleval2_results.csv";
/// The aggregate file.
pub const AGG_RESULTS: &str = "celleval2_agg_results.csv";
/// The VCC 2026 score.
pub const VCC_SCORE: &str = "celleval2_vcc2026_score.csv";
/// The score's 0: calibra's generic-response baseline (the mean of the training
/// perturbations), standing in for cell-eval2's `baseline` arm.
pub const SCORE_BASELINE: &str = "dataset_mean";
/// The score's 1: the technical duplicate (the TD half of the real cells), standing in for
/// cell-eval2's split-half replicate anchor.
pub const SCORE_REPLICATE: &str = "technical_duplicate";

/// The six metrics the VCC 2026 score averages, with how each is scaled.
const VCC2026_SCORED: [(&str, Scale); 6] = [
    ("pds_cosine", Scale::Higher),
    ("expr_mse_unbiased_capped_norm", Scale::LowerClamped01),
    ("de_wilcoxon_direction_fidelity_yield_raw", Scale::Higher),
    ("de_wilcoxon_direction_reach_raw", Scale::Higher),
    ("de_wilcoxon_sig_jaccard", Scale::Higher),
    ("de_wilcoxon_lfc_nmae", Scale::LowerFloored6),
];

/// The `vcc2026` profile: the six scored metrics and four diagnostics.
pub const VCC2026: [&str; 10] = [
    "de_wilcoxon_lfc_nmae",
    "de_wilcoxon_direction_fidelity_yield_raw",
    "de_wilcoxon_direction_reach_raw",
    "de_wilcoxon_sig_jaccard",
    "pds_cosine",
    "expr_mse_unbiased",
    "expr_mse_unbiased_capped",
    "expr_distance_unbiased",
    "expr_real_mass_ratio",
    "expr_mse_unbiased_capped_norm",
];

/// How a scored metric's (u − b)/(r − b) is bounded (cell-eval2's catalog policies).
#[derive(Debug, Clone, Copy)]
enum Scale {
    /// Higher is better, no clamp; a missing value scores as the metric's worst, 0.
    Higher,
    /// Lower is better, clamped to [0, 1].
    LowerClamped01,
    /// Lower is better, floored at −6.
    LowerFloored6,
}

impl Scale {
    /// The score of `u` between baseline `b` (0) and replicate `r` (1); NaN when the scale
    /// has no headroom (the replicate not better than the baseline) or an end is missing.
    fn score(self, u: f64, b: f64, r: f64) -> f64 {
        let headroom = match self {
            Scale::Higher => r - b,
            Scale::LowerClamped01 | Scale::LowerFloored6 => b - r,
        };
        if !(b.is_finite() && r.is_finite()) || headroom.is_nan() || headroom <= 0.0 {
            return f64::NAN;
        }
        // + 0.0: a model equal to the baseline scores 0, not −0.
        let s = (u - b) / (r - b) + 0.0;
        match self {
            Scale::Higher => {
                if u.is_finite() {
                    s
                } else {
                    (0.0 - b) / (r - b)
                }
            }
            Scale::LowerClamped01 => {
                if u.is_finite() {
                    s.clamp(0.0, 1.0)
                } else {
                    0.0
                }
            }
            Scale::LowerFloored6 => {
                if u.is_finite() {
                    s.max(-6.0)
                } else {
                    -6.0
                }
            }
        }
    }
}

/// The family's metrics: (metric index in the table, cell-eval2's name).
fn columns(r: &ContextResult) -> Vec<(usize, &'static str)> {
    super::celleval::family_columns(r, FAMILY, PREFIX)
}

/// The perturbations a model is scored on.
fn covered(r: &ContextResult, m: usize) -> Vec<usize> {
    (0..r.table.perturbations.len())
        .filter(|&p| r.table.covered[[m, p]])
        .collect()
}

/// A model's rows of one metric: its values on its perturbations, the omitted ones left out.
fn rows(r: &ContextResult, m: usize, k: usize, name: &str) -> Vec<(usize, f64)> {
    covered(r, m)
        .into_iter()
        .map(|p| (p, r.table.values[[m, k, p]]))
        .filter(|(_, v)| !(name == OMITTED_OUTSIDE_GATE && v.is_nan()))
        .collect()
}

/// True when the family was computed for a model (some of its values are defined).
fn computed(r: &ContextResult, m: usize) -> bool {
    let cols = columns(r);
    covered(r, m).iter().any(|&p| {
        cols.iter()
            .any(|&(k, _)| !r.table.values[[m, k, p]].is_nan())
    })
}

/// `celleval2_results.csv`: model, perturbation, metric, value (cell-eval2's long form).
pub fn results_table(r: &ContextResult) -> Table {
    let cols = columns(r);
    let (mut model, mut perturbation, mut metric, mut value) = (vec![], vec![], vec![], vec![]);
    for m in (0..r.table.models.len()).filter(|&m| computed(r, m)) {
        for &(k, name) in &cols {
            for (p, v) in rows(r, m, k, name) {
                model.push(r.table.models[m].clone());
                perturbation.push(r.table.perturbations[p].clone());
                metric.push(name.to_string());
                value.push(v);
            }
        }
    }
    Table::new()
        .with("model", Column::Str(model))
        .with("perturbation", Column::Str(perturbation))
        .with("metric", Column::Str(metric))
        .with("value", Column::F64(value))
}

/// The statistics of cell-eval2's `agg_results.csv`, in its row order.
const STATISTICS: [&str; 7] = ["count", "null_count", "mean", "std", "min", "max", "median"];

/// cell-eval2's statistics of one metric's rows: the rows counted (NaN included), no nulls;
/// mean, sample std, min, max and median of the NaN-free values (NaN without any).
pub fn describe(values: &[f64]) -> [f64; 7] {
    let mut present: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = present.len();
    let nan = f64::NAN;
    if n == 0 {
        return [values.len() as f64, 0.0, nan, nan, nan, nan, nan];
    }
    let mean = present.iter().sum::<f64>() / n as f64;
    let std = if n > 1 {
        let ss: f64 = present.iter().map(|x| (x - mean) * (x - mean)).sum();
        (ss / (n - 1) as f64).sqrt()
    } else {
        nan
    };
    present.sort_by(f64::total_cmp);
    let median = if n % 2 == 1 {
        present[n / 2]
    } else {
        let (lo, hi) = (present[n / 2 - 1], present[n / 2]);
        lo + (hi - lo) * 0.5
    };
    [
        values.len() as f64,
        0.0,
        mean,
        std,
        present[0],
        present[n - 1],
        median,
    ]
}

/// `expr_mse_unbiased_capped_norm` of a model: Σ capped / Σ distance over the perturbations
/// where both are finite; NaN when the denominator is not positive.
pub fn capped_norm(r: &ContextResult, m: usize) -> f64 {
    let index = |name: &str| r.table.metric_index(&format!("{PREFIX}{name}"));
    let (Some(num), Some(den)) = (index(CAPPED_NORM_PARTS[0]), index(CAPPED_NORM_PARTS[1])) else {
        return f64::NAN;
    };
    let (mut a, mut b) = (0.0, 0.0);
    for p in covered(r, m) {
        let (x, y) = (r.table.values[[m, num, p]], r.table.values[[m, den, p]]);
        if x.is_finite() && y.is_finite() {
            a += x;
            b += y;
        }
    }
    if b > 0.0 && (a / b).is_finite() {
        a / b
    } else {
        f64::NAN
    }
}

/// A model's statistics: (metric name, its seven statistics).
type ModelAggregates = Vec<(String, [f64; 7])>;

/// Each computed model's statistics: (model, metric name → its seven statistics), metrics
/// in alphabetical order as cell-eval2 writes them, the derived metric among them.
fn aggregates(r: &ContextResult) -> Vec<(usize, ModelAggregates)> {
    let mut cols = columns(r);
    cols.sort_by_key(|&(_, name)| name);
    (0..r.table.models.len())
        .filter(|&m| computed(r, m))
        .map(|m| {
            let mut stats: ModelAggregates = cols
                .iter()
                .map(|&(k, name)| {
                    let values: Vec<f64> =
                        rows(r, m, k, name).into_iter().map(|(_, v)| v).collect();
                    (name.to_string(), describe(&values))
                })
                .collect();
            let nan = f64::NAN;
            stats.push((
                CAPPED_NORM.to_string(),
                [nan, nan, capped_norm(r, m), nan, nan, nan, nan],
            ));
            stats.sort_by(|a, b| a.0.cmp(&b.0));
            (m, stats)
        })
        .collect()
}

/// `celleval2_agg_results.csv`: per model, the seven statistics of every metric.
pub fn agg_results_table(r: &ContextResult) -> Table {
    let aggs = aggregates(r);
    let (mut model, mut statistic) = (vec![], vec![]);
    for (m, _) in &aggs {
        for s in STATISTICS {
            model.push(r.table.models[*m].clone());
            statistic.push(s.to_string());
        }
    }
    let mut t = Table::new()
        .with("model", Column::Str(model))
        .with("statistic", Column::Str(statistic));
    let Some((_, first)) = aggs.first() else {
        return t;
    };
    for (j, (name, _)) in first.iter().enumerate() {
        let values = aggs.iter().flat_map(|(_, stats)| stats[j].1).collect();
        t = t.with(name, Column::F64(values));
    }
    t
}

/// Each model's mean of the VCC 2026 members (the derived metric's ratio of sums).
fn vcc_means(r: &ContextResult) -> Vec<(usize, Vec<f64>)> {
    aggregates(r)
        .into_iter()
        .map(|(m, stats)| {
            let means = VCC2026_SCORED
                .iter()
                .map(|(name, _)| {
                    stats
                        .iter()
                        .find(|(n, _)| n == name)
                        .map_or(f64::NAN, |(_, s)| s[2])
                })
                .collect();
            (m, means)
        })
        .collect()
}

/// `celleval2_vcc2026_score.csv`: per model, each scored member's mean, the baseline's and
/// the replicate's, its score (u − b)/(r − b) — 0 = calibra's generic-response baseline, 1 =
/// its technical duplicate — and `avg_score`, the mean of the members with a usable scale.
pub fn vcc_score_table(r: &ContextResult) -> Table {
    let means = vcc_means(r);
    let find = |name: &str| {
        r.table
            .model_index(name)
            .and_then(|m| means.iter().find(|(i, _)| *i == m))
            .map(|(_, v)| v.clone())
    };
    let (base, replicate) = (find(SCORE_BASELINE), find(SCORE_REPLICATE));
    let (mut model, mut metric, mut value, mut baseline, mut rep, mut score) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    if let (Some(base), Some(replicate)) = (base, replicate) {
        for (m, u) in &means {
            let mut scores = Vec::new();
            for (i, (name, scale)) in VCC2026_SCORED.iter().enumerate() {
                let s = scale.score(u[i], base[i], replicate[i]);
                model.push(r.table.models[*m].clone());
                metric.push(name.to_string());
                value.push(u[i]);
                baseline.push(base[i]);
                rep.push(replicate[i]);
                score.push(s);
                scores.push(s);
            }
            let usable: Vec<f64> = scores.into_iter().filter(|s| !s.is_nan()).collect();
            model.push(r.table.models[*m].clone());
            metric.push("avg_score".to_string());
            value.push(f64::NAN);
            baseline.push(f64::NAN);
            rep.push(f64::NAN);
            score.push(if usable.is_empty() {
                f64::NAN
            } else {
                usable.iter().sum::<f64>() / usable.len() as f64
            });
        }
    }
    Table::new()
        .with("model", Column::Str(model))
        .with("metric", Column::Str(metric))
        .with("value", Column::F64(value))
        .with("baseline", Column::F64(baseline))
        .with("replicate", Column::F64(rep))
        .with("from_replicate", Column::F64(score))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_counts_nan_rows_and_skips_them() {
        let d = describe(&[3.0, f64::NAN, 1.0, 2.0, 4.0]);
        assert_eq!(&d[..3], &[5.0, 0.0, 2.5]);
        assert_eq!((d[4], d[5], d[6]), (1.0, 4.0, 2.5));
        assert!((d[3] - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        let all_nan = describe(&[f64::NAN]);
        assert_eq!(all_nan[0], 1.0);
        assert!(all_nan[2].is_nan());
    }

    #[test]
    fn replicate_scale() {
        // Higher better: baseline 0.2, replicate 0.8.
        assert_eq!(Scale::Higher.score(0.8, 0.2, 0.8), 1.0);
        assert_eq!(Scale::Higher.score(0.2, 0.2, 0.8), 0.0);
        assert!((Scale::Higher.score(f64::NAN, 0.2, 0.8) + 1.0 / 3.0).abs() < 1e-15);
        // Lower better, clamped: baseline 1, replicate 0.5.
        assert_eq!(Scale::LowerClamped01.score(0.75, 1.0, 0.5), 0.5);
        assert_eq!(Scale::LowerClamped01.score(2.0, 1.0, 0.5), 0.0);
        assert_eq!(Scale::LowerFloored6.score(9.0, 1.0, 0.5), -6.0);
        // No headroom: undefined.
        assert!(Scale::Higher.score(0.5, 0.8, 0.2).is_nan());
    }
}
