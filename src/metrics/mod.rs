//! Metrics over (model × evaluated perturbation). Each metric is declared once
//! ([`spec::MetricSpec`]) by the family that computes it ([`family::MetricFamily`]); the
//! [`registry`] lists the families. Today: the calibrated family of SPEC §6 ([`calibrated`]:
//! 12 per-perturbation metrics and NIR), and per-model summaries (§6.2, [`summary`]).

pub mod calibrated;
pub mod cell_forms;
pub mod celleval;
pub mod celleval2;
pub mod distributional;
pub mod family;
pub mod perturbench;
pub mod registry;
pub mod spec;
pub mod summary;

pub use calibrated::{MetricInputs, MetricOptions};
pub use family::{FamilyInputs, MetricFamily};
pub use registry::{metric_spec, registered_specs, FAMILIES};
pub use spec::{Direction, MetricInput, MetricSpec, NullModel};

use crate::data::{Dataset, Half, ModelPredictions};
use ndarray::{s, ArcArray1, Array1, Array2, Array3, ArrayView1};
use std::collections::BTreeMap;

/// Every metric value of every model on every evaluated perturbation.
#[derive(Debug, Clone)]
pub struct MetricTable {
    /// The metrics held, in output order (the metric axis of `values`).
    pub specs: Vec<&'static MetricSpec>,
    /// Model names: baselines first (in [`crate::baselines::BASELINES`] order, those that
    /// exist), then user models.
    pub models: Vec<String>,
    /// Evaluated perturbation names, sorted.
    pub perturbations: Vec<String>,
    /// `values[[model, metric, perturbation]]`, metric in `specs` order; NaN where the metric
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

    /// Index of a metric by name.
    pub fn metric_index(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.name == name)
    }
}

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

/// Computes the metrics of the calibrated family and of the `families` asked for (by name;
/// those that need cells only with `cells`) for every model on every evaluated perturbation
/// it covers.
pub fn metric_table(
    ds: &Dataset,
    models: &[ModelPredictions],
    refs: &References<'_>,
    opts: &MetricOptions,
    families: &[String],
    cells: Option<&distributional::CellInputs<'_>>,
) -> MetricTable {
    let evaluated = ds.evaluated();
    let (n_m, n_p) = (models.len(), evaluated.len());
    let truths = truth_profiles(ds, &evaluated);
    let covered = Array2::from_shape_fn((n_m, n_p), |(m, p)| models[m].get(evaluated[p]).is_some());
    let families: Vec<&dyn MetricFamily> = FAMILIES
        .iter()
        .copied()
        .filter(|f| f.name() == calibrated::FAMILY || families.iter().any(|n| n == f.name()))
        .filter(|f| f.takes_part(cells))
        .collect();
    let specs: Vec<&'static MetricSpec> = families.iter().flat_map(|f| f.specs().iter()).collect();
    let mut values = Array3::<f64>::from_elem((n_m, specs.len(), n_p), f64::NAN);
    let inputs = FamilyInputs {
        dataset: ds,
        evaluated: &evaluated,
        truths: &truths,
        models,
        covered: &covered,
        refs,
        options: opts,
        cells,
    };
    let mut first = 0;
    for family in families {
        let k = family.specs().len();
        family.compute(&inputs, values.slice_mut(s![.., first..first + k, ..]));
        first += k;
    }
    MetricTable {
        specs,
        models: models.iter().map(|m| m.name.clone()).collect(),
        perturbations: evaluated.iter().map(|&l| ds.labels[l].clone()).collect(),
        values,
        covered,
    }
}

/// GT-half mean profile of each evaluated perturbation, one row each.
pub fn truth_profiles(ds: &Dataset, evaluated: &[usize]) -> Array2<f64> {
    let mut truths = Array2::<f64>::zeros((evaluated.len(), ds.n_genes()));
    for (p, &l) in evaluated.iter().enumerate() {
        let n = ds.n_cells_in(l, Half::Gt) as f64;
        let sum = ds.stats.sum.row(Dataset::group(l, Half::Gt));
        truths.row_mut(p).zip_mut_with(&sum, |t, &s| *t = s / n);
    }
    truths
}
