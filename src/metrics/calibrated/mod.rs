//! The calibrated family: SPEC §6's 13 metrics — 12 per perturbation ([`profile`]) and NIR, a
//! rank among perturbations ([`nir`]).

pub mod nir;
pub mod profile;

pub use profile::{
    calibrated_metrics, definitions, Compared, MetricInputs, MetricOptions, ProfileMetric,
    MIN_DEGS_EXCLUSIVE, N_PROFILE_METRICS, PROFILE_METRICS,
};

use super::family::{FamilyInputs, MetricFamily};
use super::spec::MetricSpec;
use ndarray::{Array1, ArrayViewMut3, Axis};
use rayon::prelude::*;

/// The family's name in every spec.
pub const FAMILY: &str = "calibrated";

/// The 13 metrics in output order (SPEC §6 table): [`PROFILE_METRICS`], then NIR.
pub const SPECS: [MetricSpec; N_PROFILE_METRICS + 1] = {
    let mut specs = [nir::SPEC; N_PROFILE_METRICS + 1];
    let mut k = 0;
    while k < PROFILE_METRICS.len() {
        specs[k] = PROFILE_METRICS[k].spec;
        k += 1;
    }
    specs
};

/// SPEC §6: the 12 per-perturbation metrics in parallel over (model, perturbation), then NIR
/// per model over the perturbations it covers (pooled over folds).
pub struct Calibrated;

impl MetricFamily for Calibrated {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn specs(&self) -> &'static [MetricSpec] {
        &SPECS
    }

    fn compute(&self, inputs: &FamilyInputs<'_, '_>, mut values: ArrayViewMut3<'_, f64>) {
        let FamilyInputs {
            dataset: ds,
            evaluated,
            truths,
            models,
            covered,
            refs,
            options,
            ..
        } = *inputs;
        let (n_m, n_p, g) = (models.len(), evaluated.len(), ds.n_genes());
        let zeros = Array1::<f64>::zeros(g);
        let no_mask = Array1::from_elem(g, false);
        let cells: Vec<(usize, usize, [f64; N_PROFILE_METRICS])> = (0..n_m * n_p)
            .into_par_iter()
            .filter(|&idx| covered[[idx / n_p, idx % n_p]])
            .map(|idx| {
                let (m, p) = (idx / n_p, idx % n_p);
                let l = evaluated[p];
                let pred = models[m].get(l).expect("covered");
                let metric_inputs = MetricInputs {
                    truth: truths.row(p),
                    control: refs.control_mean,
                    dataset_mean: refs.fold_mean[&ds.fold_of[l]].view(),
                    weights: refs.weights.get(&l).unwrap_or(&zeros).view(),
                    deg_mask: refs.deg_mask.get(&l).unwrap_or(&no_mask).view(),
                };
                (m, p, calibrated_metrics(pred, &metric_inputs, options))
            })
            .collect();
        for (m, p, v) in cells {
            for (k, x) in v.into_iter().enumerate() {
                values[[m, k, p]] = x;
            }
        }
        let nir_column = PROFILE_METRICS.len();
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
                values[[m, nir_column, p]] = scores[r];
            }
        }
    }
}
