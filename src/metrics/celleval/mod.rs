//! The cell-eval family (SPEC §12.4): the per-perturbation metrics of Arc Institute's
//! cell-eval 0.8.1 (profile `full`), on pdex 0.3.0's Mann–Whitney DE
//! ([`crate::de::mannwhitney`]), calibrated like every other family.
//!
//! For each perturbation, its real cells and the cells a model predicts for it are each
//! tested against the control cells (the same controls for both, as cell-eval's `pred.h5ad`
//! carries the real controls). A model without cells is its profile repeated K times, K = the
//! real cell count: how cell-eval's inputs are built from mean predictions. Real cells are the
//! GT half (so that the technical duplicate, the TD half, is an independent replicate);
//! `--compat celleval` takes both halves, as the peer goldens were made. Controls are always
//! every control cell of both halves.
//!
//! Metrics over a model's whole panel (the perturbations it covers, the panel cell-eval is
//! given) — `de_spearman_sig`, `pearson_edistance` and the rank behind
//! `discrimination_score_*` — are computed per model; the two scalars are copied to every
//! perturbation, as cell-eval writes them. `clustering_agreement` is left out (see README).

pub mod auc;
pub mod bulk;
pub mod de;

use super::calibrated::profile::pearson;
use super::cell_forms::{seen, to_f64, CellForms, SampleValues};
use super::distributional::CellInputs;
use super::family::{FamilyInputs, MetricFamily};
use super::spec::{Direction, MetricInput, MetricSpec};
use crate::data::Dataset;
use crate::de::mannwhitney::{PdexOptions, PdexReference};
use crate::io::GroupSample;
use bulk::Distance;
use de::DeView;
use ndarray::{Array2, ArrayViewMut3};
use rayon::prelude::*;

/// The family's name.
pub const FAMILY: &str = "celleval";

/// The prefix of the family's metric names (cell-eval's own names follow it).
pub const PREFIX: &str = "celleval_";

const fn spec(name: &'static str, doc: &'static str, direction: Direction) -> MetricSpec {
    MetricSpec::against_dataset_mean(name, doc, FAMILY, direction, MetricInput::Cells)
}

use Direction::{Descriptive as Count, HigherBetter as Up, LowerBetter as Down};

/// Number of metrics.
pub const N_METRICS: usize = 27;

/// The family's metrics, in the column order of cell-eval's `results.csv`.
pub static SPECS: [MetricSpec; N_METRICS] = [
    spec("celleval_overlap_at_N", "Share of the real significant DE genes (FDR < 0.05, by |log2FC|) among as many top predicted ones", Up),
    spec("celleval_overlap_at_50", "Overlap of the real and predicted top-50 significant DE genes, over the real list's top 50", Up),
    spec("celleval_overlap_at_100", "Overlap of the real and predicted top-100 significant DE genes, over the real list's top 100", Up),
    spec("celleval_overlap_at_200", "Overlap of the real and predicted top-200 significant DE genes, over the real list's top 200", Up),
    spec("celleval_overlap_at_500", "Overlap of the real and predicted top-500 significant DE genes, over the real list's top 500", Up),
    spec("celleval_precision_at_N", "Share of the predicted significant DE genes that are among as many top real ones", Up),
    spec("celleval_precision_at_50", "Overlap of the real and predicted top-50 significant DE genes, over the predicted list's top 50", Up),
    spec("celleval_precision_at_100", "Overlap of the real and predicted top-100 significant DE genes, over the predicted list's top 100", Up),
    spec("celleval_precision_at_200", "Overlap of the real and predicted top-200 significant DE genes, over the predicted list's top 200", Up),
    spec("celleval_precision_at_500", "Overlap of the real and predicted top-500 significant DE genes, over the predicted list's top 500", Up),
    spec("celleval_de_spearman_sig", "Spearman correlation of the real and predicted numbers of significant genes across the model's perturbations (one value, copied)", Up),
    spec("celleval_de_direction_match", "Share of the real significant genes whose predicted log2 fold change has the same sign", Up),
    spec("celleval_de_spearman_lfc_sig", "Spearman correlation of real and predicted log2 fold changes over the real significant genes", Up),
    spec("celleval_de_sig_genes_recall", "Share of the real significant genes that are significant in the prediction", Up),
    spec("celleval_de_nsig_counts_real", "Number of significant genes (FDR < 0.05) in the real cells", Count),
    spec("celleval_de_nsig_counts_pred", "Number of significant genes (FDR < 0.05) in the predicted cells", Count),
    spec("celleval_pr_auc", "Average precision of the predicted −log10 FDR at finding the real significant genes", Up),
    spec("celleval_roc_auc", "ROC AUC of the predicted −log10 FDR at finding the real significant genes", Up),
    spec("celleval_pearson_delta", "Pearson correlation of the predicted and real pseudobulk differences from control", Up),
    spec("celleval_mse", "Mean squared error between predicted and real pseudobulks", Down),
    spec("celleval_mae", "Mean absolute error between predicted and real pseudobulks", Down),
    spec("celleval_mse_delta", "Mean squared error between predicted and real differences from control", Down),
    spec("celleval_mae_delta", "Mean absolute error between predicted and real differences from control", Down),
    spec("celleval_discrimination_score_l1", "1 − normalised rank of the true perturbation among the real effects by L1 distance to the predicted effect (target gene left out)", Up),
    spec("celleval_discrimination_score_l2", "1 − normalised rank of the true perturbation among the real effects by L2 distance to the predicted effect (target gene left out)", Up),
    spec("celleval_discrimination_score_cosine", "1 − normalised rank of the true perturbation among the real effects by cosine distance to the predicted effect (target gene left out)", Up),
    spec("celleval_pearson_edistance", "Pearson correlation of the real and predicted energy distances from control across the model's perturbations (one value, copied)", Up),
];

const OVERLAP: usize = 0;
const PRECISION: usize = 5;
const SPEARMAN_SIG: usize = 10;
const DIRECTION_MATCH: usize = 11;
const SPEARMAN_LFC: usize = 12;
const RECALL: usize = 13;
const NSIG_REAL: usize = 14;
const NSIG_PRED: usize = 15;
const PR_AUC: usize = 16;
const ROC_AUC: usize = 17;
const PROFILE: usize = 18;
const DISCRIMINATION: usize = 23;
const PEARSON_EDISTANCE: usize = 26;

/// The cell-eval family.
pub struct CellEval;

/// What the real cells of one perturbation give every model's comparison.
struct RealSide {
    de: DeView,
    bulk: Vec<f32>,
    effect: Vec<f32>,
    edistance: f64,
    n_cells: usize,
}

/// One (model, perturbation)'s values, and what the model's panel metrics need.
struct PredSide {
    values: [f64; N_METRICS],
    edistance: f64,
}

/// A group's cells of both halves in row order (the file's order, which float32 sums follow).
fn both_halves(gt: &GroupSample, td: &GroupSample, values: SampleValues) -> Array2<f32> {
    let mut rows: Vec<(u64, bool, usize)> = gt
        .rows
        .iter()
        .enumerate()
        .map(|(i, &r)| (r, false, i))
        .chain(td.rows.iter().enumerate().map(|(i, &r)| (r, true, i)))
        .collect();
    rows.sort_unstable();
    let mut out = Array2::zeros((rows.len(), values(gt).ncols()));
    for (mut o, &(_, from_td, i)) in out.rows_mut().into_iter().zip(&rows) {
        o.assign(&values(if from_td { td } else { gt }).row(i));
    }
    out
}

/// The real cells of a label: its GT half, or both halves with `--compat celleval`.
pub(crate) fn real_cells(
    cells: &CellInputs<'_>,
    label: usize,
    all_halves: bool,
    values: SampleValues,
) -> Array2<f32> {
    let [gt, td] = &cells.observed.halves[label];
    if all_halves {
        both_halves(gt, td, values)
    } else {
        values(gt).clone()
    }
}

/// The control cells both Arc tools compare with: every control cell of both halves.
pub(crate) fn control_cells(
    cells: &CellInputs<'_>,
    ds: &Dataset,
    values: SampleValues,
) -> Array2<f32> {
    let [gt, td] = &cells.observed.halves[ds.control];
    both_halves(gt, td, values)
}

impl CellEval {
    /// The real side of one perturbation; `None` without cells or when the test fails.
    fn real_side(
        reference: &PdexReference,
        control_bulk: &[f32],
        controls: &Array2<f64>,
        controls_within: f32,
        name: &str,
        cells: Array2<f32>,
    ) -> Option<RealSide> {
        if cells.nrows() == 0 {
            return None;
        }
        let de = DeView::new(&reference.compare(name, cells.view()).ok()?);
        let bulk = bulk::pseudobulk(cells.view());
        let effect = bulk::effect(&bulk, control_bulk);
        Some(RealSide {
            de,
            effect,
            bulk,
            edistance: bulk::edistance(&to_f64(&cells), controls, controls_within),
            n_cells: cells.nrows(),
        })
    }
}

impl MetricFamily for CellEval {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn specs(&self) -> &'static [MetricSpec] {
        &SPECS
    }

    fn compute(&self, inputs: &FamilyInputs<'_, '_>, mut values: ArrayViewMut3<'_, f64>) {
        let Some(cells) = inputs.cells else {
            return;
        };
        let ds: &Dataset = inputs.dataset;
        let all_halves = cells.compat_celleval;
        let controls = control_cells(cells, ds, seen);
        let Ok(reference) = PdexReference::new(controls.view(), PdexOptions::cell_eval_081())
        else {
            return; // no control cell: every value stays NaN
        };
        let control_bulk = bulk::pseudobulk(controls.view());
        let controls = to_f64(&controls);
        let controls_within = bulk::mean_within(&controls);
        let real: Vec<Option<RealSide>> = inputs
            .evaluated
            .par_iter()
            .map(|&l| {
                let own = real_cells(cells, l, all_halves, seen);
                Self::real_side(
                    &reference,
                    &control_bulk,
                    &controls,
                    controls_within,
                    &ds.labels[l],
                    own,
                )
            })
            .collect();
        let targets: Vec<Vec<usize>> = inputs
            .evaluated
            .iter()
            .map(|&l| {
                (0..ds.n_genes())
                    .filter(|&g| ds.genes[g] == ds.labels[l])
                    .collect()
            })
            .collect();
        let forms = CellForms::new(ds, cells);
        let n_p = inputs.evaluated.len();
        for (m, model) in inputs.models.iter().enumerate() {
            // The model's panel: the perturbations it covers that have real cells.
            let panel: Vec<usize> = (0..n_p)
                .filter(|&p| inputs.covered[[m, p]] && real[p].is_some())
                .collect();
            let real_effects: Vec<&[f32]> = panel
                .iter()
                .map(|&p| real[p].as_ref().expect("panel").effect.as_slice())
                .collect();
            let sides: Vec<Option<PredSide>> = panel
                .par_iter()
                .enumerate()
                .map(|(own, &p)| {
                    let l = inputs.evaluated[p];
                    let r = real[p].as_ref().expect("panel");
                    let predicted = forms.predicted(ds, m, model, l, r.n_cells)?;
                    let predicted32 = predicted.mapv(|x| x as f32);
                    let de =
                        DeView::new(&reference.compare(&ds.labels[l], predicted32.view()).ok()?);
                    let bulk = bulk::pseudobulk(predicted32.view());
                    let effect = bulk::effect(&bulk, &control_bulk);
                    let mut v = [f64::NAN; N_METRICS];
                    for (i, k) in de::TOP_K.into_iter().enumerate() {
                        v[OVERLAP + i] = de::overlap_at(&r.de, &de, k);
                        v[PRECISION + i] = de::precision_at(&r.de, &de, k);
                    }
                    v[DIRECTION_MATCH] = de::direction_match(&r.de, &de);
                    v[SPEARMAN_LFC] = de::spearman_lfc(&r.de, &de);
                    v[RECALL] = de::recall(&r.de, &de);
                    v[NSIG_REAL] = r.de.significant.len() as f64;
                    v[NSIG_PRED] = de.significant.len() as f64;
                    (v[PR_AUC], v[ROC_AUC]) = de::recovery_aucs(&r.de, &de);
                    let profile = bulk::profile_metrics(&bulk, &r.bulk, &effect, &r.effect);
                    v[PROFILE..PROFILE + 5].copy_from_slice(&profile);
                    for (i, d) in Distance::ALL.into_iter().enumerate() {
                        v[DISCRIMINATION + i] =
                            bulk::discrimination(&effect, &real_effects, own, &targets[p], d);
                    }
                    let pred_cells = to_f64(&predicted32);
                    Some(PredSide {
                        values: v,
                        edistance: bulk::edistance(&pred_cells, &controls, controls_within),
                    })
                })
                .collect();
            // Panel metrics over the perturbations scored.
            let scored: Vec<(usize, &PredSide)> = panel
                .iter()
                .zip(&sides)
                .filter_map(|(&p, s)| s.as_ref().map(|s| (p, s)))
                .collect();
            let nsig = |k: usize| -> Vec<usize> {
                scored.iter().map(|(_, s)| s.values[k] as usize).collect()
            };
            let spearman_sig = de::spearman_nsig(&nsig(NSIG_REAL), &nsig(NSIG_PRED));
            let (d_real, d_pred): (Vec<f64>, Vec<f64>) = scored
                .iter()
                .map(|&(p, s)| (real[p].as_ref().expect("panel").edistance, s.edistance))
                .unzip();
            let pearson_edistance = pearson(&d_real, &d_pred);
            for &(p, s) in &scored {
                for (k, &x) in s.values.iter().enumerate() {
                    values[[m, k, p]] = x;
                }
                values[[m, SPEARMAN_SIG, p]] = spearman_sig;
                values[[m, PEARSON_EDISTANCE, p]] = pearson_edistance;
            }
        }
    }
}
