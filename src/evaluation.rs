//! What an evaluation produces: plain data, made by [`crate::pipeline`] and read by
//! [`crate::report`] (which never depends on how it was computed).

use crate::baselines::Baselines;
use crate::calibration::Calibration;
use crate::data::{Dataset, ModelPredictions};
use crate::de::DegResults;
use crate::io::{ObservedCells, PredictionFile};
use crate::metrics::summary::SummaryRow;
use crate::metrics::MetricTable;
use crate::options::EvaluateOptions;
use crate::significance::StatsRow;
use ndarray::Array1;
use std::collections::BTreeMap;

/// One row of `perturbations.csv`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PerturbationRow {
    /// Label.
    pub perturbation: String,
    /// `single`, `combo` or `control`.
    pub kind: &'static str,
    /// Test fold (−1 never tested).
    pub fold: i64,
    /// Cells (both halves).
    pub n_cells: u64,
    /// GT-half cells.
    pub n_gt: u64,
    /// TD-half cells.
    pub n_td: u64,
    /// Evaluated (SPEC §2).
    pub evaluated: bool,
    /// Tested for DEGs in the GT half.
    pub gt_deg_tested: bool,
    /// GT DEGs (p_adj < 0.05).
    pub n_degs_gt: usize,
    /// Tested for DEGs in the TD half.
    pub td_deg_tested: bool,
    /// TD DEGs.
    pub n_degs_td: usize,
    /// Σ of the DEG weights.
    pub sum_weights: f64,
    /// The linear baseline predicts it.
    pub linear_available: bool,
}

/// The full result for one context.
#[derive(Debug, Clone)]
pub struct ContextResult {
    /// Context value, `None` without a context column.
    pub context: Option<String>,
    /// The dataset (sufficient statistics).
    pub dataset: Dataset,
    /// DEG tests of both halves.
    pub deg: DegResults,
    /// DEG weights per GT-tested label.
    pub weights: BTreeMap<usize, Array1<f64>>,
    /// DEG masks per GT-tested label.
    pub deg_mask: BTreeMap<usize, Array1<bool>>,
    /// Baselines and fold references.
    pub baselines: Baselines,
    /// User models (after matching to evaluated perturbations).
    pub models: Vec<ModelPredictions>,
    /// Prediction rows ignored per model (non-evaluated perturbations).
    pub ignored_rows: BTreeMap<String, usize>,
    /// All metric values.
    pub table: MetricTable,
    /// `summary.csv` rows.
    pub summary: Vec<SummaryRow>,
    /// DRF rows and summary.
    pub calibration: Calibration,
    /// `stats.csv` rows.
    pub stats: Vec<StatsRow>,
    /// `perturbations.csv` rows.
    pub perturbations: Vec<PerturbationRow>,
    /// Notes specific to this context (e.g. additive-baseline terms skipped).
    pub notes: Vec<String>,
}

/// What a context's per-gene DEG tables (`deg_gt.parquet`, `deg_td.parquet`) are made of: the
/// statistics (with Σx²), the DEG weights and the number of groups each half tested. Their rows
/// are recomputed from these a chunk at a time ([`crate::de::deg_half_rows`]).
#[derive(Debug, Clone, Copy)]
pub struct DegTableInputs<'a> {
    /// Context value, `None` without a context column.
    pub context: Option<&'a str>,
    /// The dataset, Σx² included.
    pub dataset: &'a Dataset,
    /// DEG weights per GT-tested label.
    pub weights: &'a BTreeMap<usize, Array1<f64>>,
    /// Groups tested in the GT and the TD half.
    pub groups: [usize; 2],
}

impl ContextResult {
    /// The inputs of this context's per-gene DEG tables.
    pub fn deg_table_inputs(&self) -> DegTableInputs<'_> {
        DegTableInputs {
            context: self.context.as_deref(),
            dataset: &self.dataset,
            weights: &self.weights,
            groups: [self.deg.gt.groups.len(), self.deg.td.groups.len()],
        }
    }
}

/// The evaluation result.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// What was read from the cells file.
    pub cells: ObservedCells,
    /// Prediction files as read.
    pub prediction_files: Vec<PredictionFile>,
    /// Genes evaluated (all observed genes unless some were dropped).
    pub genes: Vec<String>,
    /// Per-context results.
    pub contexts: Vec<ContextResult>,
    /// Seconds per stage.
    pub timings: BTreeMap<String, f64>,
    /// Notes for the report (warnings, ignored rows, choices made).
    pub notes: Vec<String>,
    /// The options used.
    pub options: EvaluateOptions,
}
