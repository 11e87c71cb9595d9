//! The PerturBench family (SPEC §12.4): its default evaluation pipelines, `rmse` of the
//! `average` aggregation (mean profiles) and `cosine` of the `logfc` aggregation (mean
//! profile − control mean, log-scale data), each with its rank.
//!
//! A rank asks how the prediction for p compares with the predictions for every other
//! perturbation q of the model's panel, all judged against p's observed profile: the share of
//! them closer to it (0 = the model's own prediction is the closest; 0.5 = chance).
//! PerturBench breaks ties by a random shuffle; calibra takes the expectation of that shuffle
//! (half of the tied predictions count as closer), so a model predicting one profile for every
//! perturbation ranks at (N − 1)/2N. NIR (SPEC §6.1) asks the transposed question (the
//! prediction against every truth).
//!
//! Systema's metrics are already in the calibrated family: its PearsonΔ against the mean of
//! perturbed centroids is `pearson_deltapert`, its centroid accuracy is `nir` (README).

use super::family::{FamilyInputs, MetricFamily};
use super::spec::{Direction, MetricInput, MetricSpec};
use ndarray::{ArrayView1, ArrayViewMut3};
use rayon::prelude::*;

/// The family's name.
pub const FAMILY: &str = "perturbench";

const fn spec(name: &'static str, doc: &'static str, direction: Direction) -> MetricSpec {
    MetricSpec::against_dataset_mean(name, doc, FAMILY, direction, MetricInput::AllProfiles)
}

/// The family's metrics, named as PerturBench's summary names them.
pub static SPECS: [MetricSpec; 4] = [
    spec(
        "perturbench_rmse_average",
        "Root mean squared error between predicted and observed mean profiles",
        Direction::LowerBetter,
    ),
    spec(
        "perturbench_rmse_rank_average",
        "Share of the model's other predictions closer (RMSE) to this perturbation's observed profile (0 = own prediction closest)",
        Direction::LowerBetter,
    ),
    spec(
        "perturbench_cosine_logfc",
        "Cosine similarity of predicted and observed differences from the control mean",
        Direction::HigherBetter,
    ),
    spec(
        "perturbench_cosine_rank_logfc",
        "Share of the model's other predictions more similar (cosine of differences from control) to this perturbation's observed one (0 = own most similar)",
        Direction::LowerBetter,
    ),
];

/// The PerturBench family.
pub struct PerturBench;

/// Root mean squared difference.
pub fn rmse(x: ArrayView1<f64>, y: ArrayView1<f64>) -> f64 {
    let n = x.len() as f64;
    (x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / n).sqrt()
}

/// Cosine similarity of x − c and y − c (NaN when one is zero).
pub fn cosine_of_differences(x: ArrayView1<f64>, y: ArrayView1<f64>, c: ArrayView1<f64>) -> f64 {
    let (mut dot, mut xx, mut yy) = (0.0, 0.0, 0.0);
    for ((a, b), c) in x.iter().zip(y).zip(c) {
        let (u, v) = (a - c, b - c);
        dot += u * v;
        xx += u * u;
        yy += v * v;
    }
    dot / (xx.sqrt() * yy.sqrt())
}

/// The expected rank (share of the `others` strictly better than `own`, plus half the tied)
/// over the panel of `n` predictions; NaN when `own` is NaN.
fn expected_rank(own: f64, others: impl Iterator<Item = f64>, n: usize, lower_better: bool) -> f64 {
    if own.is_nan() {
        return f64::NAN;
    }
    let (mut better, mut tied) = (0usize, 0usize);
    for x in others {
        if x == own {
            tied += 1;
        } else if (x < own) == lower_better {
            better += 1;
        }
    }
    (better as f64 + tied as f64 / 2.0) / n as f64
}

impl MetricFamily for PerturBench {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn specs(&self) -> &'static [MetricSpec] {
        &SPECS
    }

    fn compute(&self, inputs: &FamilyInputs<'_, '_>, mut values: ArrayViewMut3<'_, f64>) {
        let control = inputs.refs.control_mean;
        let n_p = inputs.evaluated.len();
        for (m, model) in inputs.models.iter().enumerate() {
            let panel: Vec<usize> = (0..n_p).filter(|&p| inputs.covered[[m, p]]).collect();
            let pred: Vec<ArrayView1<f64>> = panel
                .iter()
                .map(|&p| model.get(inputs.evaluated[p]).expect("covered"))
                .collect();
            let rows: Vec<[f64; 4]> = panel
                .par_iter()
                .enumerate()
                .map(|(i, &p)| {
                    let truth = inputs.truths.row(p);
                    let own_rmse = rmse(pred[i], truth);
                    let own_cos = cosine_of_differences(pred[i], truth, control);
                    let others = (0..pred.len()).filter(|&j| j != i);
                    let rmse_rank = expected_rank(
                        own_rmse,
                        others.clone().map(|j| rmse(pred[j], truth)),
                        pred.len(),
                        true,
                    );
                    let cos_rank = expected_rank(
                        own_cos,
                        others.map(|j| cosine_of_differences(pred[j], truth, control)),
                        pred.len(),
                        false,
                    );
                    [own_rmse, rmse_rank, own_cos, cos_rank]
                })
                .collect();
            for (&p, row) in panel.iter().zip(rows) {
                for (k, x) in row.into_iter().enumerate() {
                    values[[m, k, p]] = x;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_count_closer_predictions_and_half_the_ties() {
        assert_eq!(
            expected_rank(1.0, [0.5, 2.0, 3.0].into_iter(), 4, true),
            0.25
        );
        assert_eq!(
            expected_rank(1.0, [1.0, 2.0, 1.0].into_iter(), 4, true),
            0.25
        );
        assert_eq!(
            expected_rank(0.9, [0.95, 0.1].into_iter(), 3, false),
            1.0 / 3.0
        );
        assert!(expected_rank(f64::NAN, [1.0].into_iter(), 2, true).is_nan());
    }

    #[test]
    fn rmse_and_cosine_by_hand() {
        let x = ndarray::arr1(&[1.0, 2.0, 3.0]);
        let y = ndarray::arr1(&[1.0, 2.0, 6.0]);
        assert_eq!(rmse(x.view(), y.view()), 3.0f64.sqrt());
        let c = ndarray::arr1(&[0.0, 0.0, 0.0]);
        let cos = cosine_of_differences(x.view(), x.view(), c.view());
        assert!((cos - 1.0).abs() < 1e-15);
    }
}
