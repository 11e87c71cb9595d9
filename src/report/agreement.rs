//! Ranking agreement across metrics (VCBench, 2026: model rankings change with the metric): for
//! every pair of metrics, Kendall's τ-b between the rankings of all models and baselines by
//! their mean over perturbations, each metric oriented so that better ranks higher; and
//! ReconEval's rank percentiles of the same means.

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

/// The models and baselines with statistics, and for each metric (in spec order) their
/// means over perturbations (NaN when missing); multiplied by [`crate::metrics::MetricSpec::orientation`],
/// larger is better.
fn model_means(r: &ContextResult) -> (Vec<&str>, Vec<Vec<f64>>) {
    let mut models: Vec<&str> = Vec::new();
    for row in &r.stats {
        if !models.contains(&row.model.as_str()) {
            models.push(&row.model);
        }
    }
    let scores = r
        .table
        .specs
        .iter()
        .map(|spec| {
            models
                .iter()
                .map(|&m| {
                    r.stats
                        .iter()
                        .find(|s| s.metric == spec.name && s.model == m)
                        .map_or(f64::NAN, |s| s.mean)
                })
                .collect()
        })
        .collect();
    (models, scores)
}

/// One row per ordered pair of metrics (the diagonal included): `metric_a`, `metric_b`,
/// `kendall_tau` over the models and baselines with a finite mean on both, and their number.
pub fn agreement_table(r: &ContextResult) -> Table {
    let specs = &r.table.specs;
    let (_, means) = model_means(r);
    let scores: Vec<Vec<f64>> = specs
        .iter()
        .zip(&means)
        .map(|(s, m)| m.iter().map(|x| x * s.orientation()).collect())
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

/// ReconEval's rank percentiles of oriented scores: rp = (n − rank)/(n − 1), rank 1 the best
/// (ties share their average rank), over the n finite scores; NaN for every model when n < 2 or
/// all scores are equal, and for a model without a finite score.
pub fn rank_percentiles(oriented: &[f64]) -> Vec<f64> {
    let finite: Vec<f64> = oriented.iter().copied().filter(|x| x.is_finite()).collect();
    let n = finite.len();
    if n < 2 || finite.iter().all(|&x| x == finite[0]) {
        return vec![f64::NAN; oriented.len()];
    }
    oriented
        .iter()
        .map(|&x| {
            if !x.is_finite() {
                return f64::NAN;
            }
            let better = finite.iter().filter(|&&y| y > x).count();
            let tied = finite.iter().filter(|&&y| y == x).count();
            // The average of the ranks better + 1 ..= better + tied.
            let rank = better as f64 + (tied as f64 + 1.0) / 2.0;
            (n as f64 - rank) / (n as f64 - 1.0)
        })
        .collect()
}

/// `rank_percentile.csv`: for every metric and model or baseline, its mean over perturbations
/// and its rank percentile among all models and baselines (ReconEval's aggregation: 1 the best,
/// 0 the worst); `family` lets a reader average a family's percentiles.
pub fn rank_percentile_table(r: &ContextResult) -> Table {
    let (models, means) = model_means(r);
    let (mut family, mut metric, mut model, mut mean, mut rp) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (spec, raw) in r.table.specs.iter().zip(&means) {
        let oriented: Vec<f64> = raw.iter().map(|x| x * spec.orientation()).collect();
        for (&m, (&x, p)) in models
            .iter()
            .zip(raw.iter().zip(rank_percentiles(&oriented)))
        {
            family.push(spec.family.to_string());
            metric.push(spec.name.to_string());
            model.push(m.to_string());
            mean.push(x);
            rp.push(p);
        }
    }
    Table::new()
        .with("family", Column::Str(family))
        .with("metric", Column::Str(metric))
        .with("model", Column::Str(model))
        .with("mean", Column::F64(mean))
        .with("rank_percentile", Column::F64(rp))
}

#[cfg(test)]
mod tests {
    use super::{kendall_tau_b, rank_percentiles};

    #[test]
    fn rank_percentiles_match_reconevals_formula() {
        // pandas rank(method="average", ascending=False): [2, 1, 3.5, 3.5] → (4 − r)/3.
        let rp = rank_percentiles(&[3.0, 5.0, 1.0, 1.0]);
        assert_eq!(rp, vec![2.0 / 3.0, 1.0, 1.0 / 6.0, 1.0 / 6.0]);
        let with_nan = rank_percentiles(&[f64::NAN, 2.0, 1.0]);
        assert!(with_nan[0].is_nan());
        assert_eq!(&with_nan[1..], &[1.0, 0.0]);
        assert!(rank_percentiles(&[1.0, 1.0]).iter().all(|x| x.is_nan()));
        assert!(rank_percentiles(&[1.0]).iter().all(|x| x.is_nan()));
    }

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
