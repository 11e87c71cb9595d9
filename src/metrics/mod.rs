//! Metrics over (model × evaluated perturbation): the 13 calibrated metrics of SPEC §6
//! (`calibrated`), NIR (§6.1, `nir`), and per-model summaries (§6.2, `summary`).

pub mod calibrated;
pub mod nir;
pub mod registry;
pub mod summary;

pub use registry::{metric_index, Direction, MetricSpec, BASELINES, GROUND_TRUTH, METRICS};

use ndarray::{Array2, Array3, Axis};

/// Every metric value of every model on every evaluated perturbation.
#[derive(Debug, Clone)]
pub struct MetricTable {
    /// Model names: baselines first (in [`BASELINES`] order, those that exist), then user models.
    pub models: Vec<String>,
    /// Evaluated perturbation names, sorted.
    pub perturbations: Vec<String>,
    /// `values[[model, metric, perturbation]]`, metric in [`METRICS`] order; NaN where the metric
    /// is undefined or the model does not cover the perturbation.
    pub values: Array3<f64>,
    /// `covered[[model, perturbation]]`: the model predicts this perturbation.
    pub covered: Array2<bool>,
}

impl MetricTable {
    /// Index of a model by name.
    pub fn model_index(&self, name: &str) -> Option<usize> {
        self.models.iter().position(|m| m == name)
    }
}

pub use calibrated::{MetricInputs, MetricOptions};

use crate::data::{Dataset, Half, ModelPredictions};
use ndarray::{ArcArray1, Array1, ArrayView1};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// What predictions are compared with, per evaluated perturbation (borrowed from the
/// baselines and the DEG test, not copied).
#[derive(Debug, Clone, Copy)]
pub struct References<'a> {
    /// Mean of all control cells.
    pub control_mean: ArrayView1<'a, f64>,
    /// Dataset mean per test fold.
    pub fold_mean: &'a BTreeMap<i64, ArcArray1<f64>>,
    /// DEG weights per GT-tested label (others: all zero).
    pub weights: &'a BTreeMap<usize, Array1<f64>>,
    /// DEG masks per GT-tested label (others: empty).
    pub deg_mask: &'a BTreeMap<usize, Array1<bool>>,
}

/// Computes every metric of every model on every evaluated perturbation it covers (SPEC §6):
/// the 12 per-perturbation metrics in parallel, then NIR per model over the perturbations it
/// covers (pooled over folds).
pub fn metric_table(
    ds: &Dataset,
    models: &[ModelPredictions],
    refs: &References<'_>,
    opts: &MetricOptions,
) -> MetricTable {
    let evaluated = ds.evaluated();
    let (n_m, n_p, g) = (models.len(), evaluated.len(), ds.n_genes());
    // GT-half means of the evaluated perturbations, one row each.
    let mut truths = Array2::<f64>::zeros((n_p, g));
    for (p, &l) in evaluated.iter().enumerate() {
        let n = ds.n_cells_in(l, Half::Gt) as f64;
        let sum = ds.stats.sum.row(Dataset::group(l, Half::Gt));
        truths.row_mut(p).zip_mut_with(&sum, |t, &s| *t = s / n);
    }
    let zeros = Array1::<f64>::zeros(g);
    let no_mask = Array1::from_elem(g, false);
    let mut values = Array3::<f64>::from_elem((n_m, METRICS.len(), n_p), f64::NAN);
    let mut covered = Array2::<bool>::from_elem((n_m, n_p), false);
    let cells: Vec<(usize, usize, [f64; 12])> = (0..n_m * n_p)
        .into_par_iter()
        .filter_map(|idx| {
            let (m, p) = (idx / n_p, idx % n_p);
            let l = evaluated[p];
            let pred = models[m].get(l)?;
            let inputs = MetricInputs {
                truth: truths.row(p),
                control: refs.control_mean,
                dataset_mean: refs.fold_mean[&ds.fold_of[l]].view(),
                weights: refs.weights.get(&l).unwrap_or(&zeros).view(),
                deg_mask: refs.deg_mask.get(&l).unwrap_or(&no_mask).view(),
            };
            Some((m, p, calibrated::calibrated_metrics(pred, &inputs, opts)))
        })
        .collect();
    for (m, p, v) in cells {
        covered[[m, p]] = true;
        for (k, x) in v.into_iter().enumerate() {
            values[[m, k, p]] = x;
        }
    }
    let nir = metric_index("nir").expect("nir is registered");
    // Most models cover every evaluated perturbation: their truths are prepared once.
    let all_truths = nir::NirTruths::new(truths.view());
    for (m, model) in models.iter().enumerate() {
        let pool: Vec<usize> = (0..n_p).filter(|&p| covered[[m, p]]).collect();
        if pool.is_empty() {
            continue;
        }
        let pred: Vec<_> = pool
            .iter()
            .map(|&p| model.get(evaluated[p]).expect("covered"))
            .collect();
        let scores = if pool.len() == n_p {
            nir::nir_scores_with(&pred, &all_truths)
        } else {
            nir::nir_scores(&pred, truths.select(Axis(0), &pool).view())
        };
        for (r, &p) in pool.iter().enumerate() {
            values[[m, nir, p]] = scores[r];
        }
    }
    MetricTable {
        models: models.iter().map(|m| m.name.clone()).collect(),
        perturbations: evaluated.iter().map(|&l| ds.labels[l].clone()).collect(),
        values,
        covered,
    }
}
