//! Ranking agreement across metrics (VCBench, 2026: model rankings change with the metric): for
//! every pair of metrics, Kendall's τ-b between the rankings of all models and baselines by
//! their mean over perturbations, each metric oriented so that better ranks higher.

use super::table::{Column, Table};
use crate::evaluation::ContextResult;

/// Kendall's τ-b of paired values (ties in either variable corrected); NaN with fewer than two
/// pairs or when one variable is constant.
pub fn kendall_tau_b(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len().min(y.len());
    let (mut concordant, mut discordant, mut ties_x, mut ties_y) = (0i64, 0i64, 0i64, 0i64);
    for i in 0..n {
        for j in i + 1..n {
            let (dx, dy) = (x[i] - x[j], y[i] - y[j]);
            match (dx == 0.0, dy == 0.0) {
                (true, true) => {}
                (true, false) => ties_x += 1,
                (false, true) => ties_y += 1,
                (false, false) if (dx > 0.0) == (dy > 0.0) => concordant += 1,
                (false, false) => discordant += 1,
            }
        }
    }
    let denominator =
        (((concordant + discordant + ties_x) * (concordant + discordant + ties_y)) as f64).sqrt();
    if denominator == 0.0 {
        return f64::NAN;
    }
    (concordant - discordant) as f64 / denominator
}

/// One row per ordered pair of metrics (the diagonal included): `metric_a`, `metric_b`,
/// `kendall_tau` over the models and baselines with a finite mean on both, and their number.
pub fn agreement_table(r: &ContextResult) -> Table {
    let specs = &r.table.specs;
    let mut models: Vec<&str> = Vec::new();
    for row in &r.stats {
        if !models.contains(&row.model.as_str()) {
            models.push(&row.model);
        }
    }
    // Oriented means per metric and model (NaN when missing): larger is better on every metric.
    let scores: Vec<Vec<f64>> = specs
        .iter()
        .map(|spec| {
            let sign = if spec.higher_is_better() { 1.0 } else { -1.0 };
            models
                .iter()
                .map(|&m| {
                    r.stats
                        .iter()
                        .find(|s| s.metric == spec.name && s.model == m)
                        .map_or(f64::NAN, |s| sign * s.mean)
                })
                .collect()
        })
        .collect();
    let (mut a_names, mut b_names, mut taus, mut counts) = (vec![], vec![], vec![], vec![]);
    for (a, score_a) in specs.iter().zip(&scores) {
        for (b, score_b) in specs.iter().zip(&scores) {
            let (x, y): (Vec<f64>, Vec<f64>) = score_a
                .iter()
                .zip(score_b)
                .map(|(&x, &y)| (x, y))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .unzip();
            a_names.push(a.name.to_string());
            b_names.push(b.name.to_string());
            taus.push(kendall_tau_b(&x, &y));
            counts.push(x.len() as i64);
        }
    }
    Table::new()
        .with("metric_a", Column::Str(a_names))
        .with("metric_b", Column::Str(b_names))
        .with("kendall_tau", Column::F64(taus))
        .with("n_models", Column::I64(counts))
}

#[cfg(test)]
mod tests {
    use super::kendall_tau_b;

    #[test]
    fn kendall_tau_b_matches_scipy() {
        // scipy.stats.kendalltau (τ-b) on the same vectors.
        assert_eq!(kendall_tau_b(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0]), 1.0);
        assert_eq!(kendall_tau_b(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]), -1.0);
        let t = kendall_tau_b(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 1.0, 4.0, 3.0, 5.0]);
        assert!((t - 0.6).abs() < 1e-15, "{t}");
        // With ties: kendalltau([1,2,2,3], [1,3,2,2]) = 0.4 (τ-b).
        let t = kendall_tau_b(&[1.0, 2.0, 2.0, 3.0], &[1.0, 3.0, 2.0, 2.0]);
        assert!((t - 0.4).abs() < 1e-15, "{t}");
        assert!(kendall_tau_b(&[1.0], &[1.0]).is_nan());
        assert!(kendall_tau_b(&[1.0, 1.0], &[1.0, 2.0]).is_nan());
    }
}
