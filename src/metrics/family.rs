//! A metric family: a set of metrics computed together from the same inputs.
//!
//! The pipeline never names a metric: it asks every registered family
//! ([`super::registry::FAMILIES`]) for its specs, lays out one [`super::MetricTable`] with a
//! metric axis covering all of them, and lets each family fill its own slice. Adding a family
//! is one module implementing [`MetricFamily`] plus one line in the registry.

use super::calibrated::MetricOptions;
use super::distributional::CellInputs;
use super::spec::{MetricInput, MetricSpec};
use super::References;
use crate::data::{Dataset, ModelPredictions};
use ndarray::{Array2, ArrayViewMut3};

/// Everything a family may read, per context (`'r`: the references' borrow, apart because
/// ndarray views are invariant in their lifetime).
pub struct FamilyInputs<'a, 'r> {
    /// The context's sufficient statistics.
    pub dataset: &'a Dataset,
    /// Evaluated perturbations (label indices, the table's perturbation order).
    pub evaluated: &'a [usize],
    /// GT-half mean profile of each evaluated perturbation, one row each.
    pub truths: &'a Array2<f64>,
    /// Every model: baselines first, then the user's.
    pub models: &'a [ModelPredictions],
    /// `covered[[model, perturbation]]`: the model predicts it.
    pub covered: &'a Array2<bool>,
    /// Reference profiles, DEG weights and masks.
    pub refs: &'a References<'r>,
    /// Metric variants (presets).
    pub options: &'a MetricOptions,
    /// Cell samples, when cell-level metrics were asked for (families that need
    /// [`MetricInput::Cells`] are left out without them).
    pub cells: Option<&'a CellInputs<'a>>,
}

/// A family of metrics: what it needs, which metrics it yields, and how to compute them.
pub trait MetricFamily: Sync {
    /// The family's name (`MetricSpec::family` of its metrics).
    fn name(&self) -> &'static str;

    /// Its metrics, in output order.
    fn specs(&self) -> &'static [MetricSpec];

    /// What its metrics need as input (each distinct input once, in spec order).
    fn needs(&self) -> Vec<MetricInput> {
        let mut needs = Vec::new();
        for s in self.specs() {
            if !needs.contains(&s.input) {
                needs.push(s.input);
            }
        }
        needs
    }

    /// True when it is computed for a context with these cell samples (default: always, or
    /// only with samples when it needs cells).
    fn takes_part(&self, cells: Option<&CellInputs<'_>>) -> bool {
        cells.is_some() || !self.needs().contains(&MetricInput::Cells)
    }

    /// Fills `values[[model, metric, perturbation]]` (metric in [`Self::specs`] order; the
    /// slice starts all-NaN) for every covered (model, perturbation).
    fn compute(&self, inputs: &FamilyInputs<'_, '_>, values: ArrayViewMut3<'_, f64>);
}
