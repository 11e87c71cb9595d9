//! The cell-eval2 family (SPEC §12.4): the 53 per-perturbation metrics of Arc Institute's
//! cell-eval2 0.20.0 (profile `full`; its `vcc2026` profile is a subset), on pdex 0.3.0's
//! Mann–Whitney p-values with cell-eval2's own fold changes
//! ([`crate::de::mannwhitney::PdexOptions::cell_eval2_020`]), calibrated like every other
//! family.
//!
//! The settings are those of cell-eval2's v2 preset for log-normalised input:
//! `control_source=real` (both sides' effects and DE are against the real control cells),
//! the `lognorm` comparator (pseudobulk = mean of the log values), significance
//! `p_adj < 0.05` per perturbation with NaN fold changes masked, reference gates of 10
//! significant genes, and target-gene exclusion where a perturbation's label is a gene of
//! the panel (when no label is, nothing is excluded: cell-eval2's `--no-target-genes`).
//!
//! Real cells, controls, predicted cells and the model's panel are as for the cell-eval
//! family ([`super::celleval`]). The derived `expr_mse_unbiased_capped_norm` (a ratio of two
//! panel sums, no per-perturbation value) is computed by the report from its two components.

pub mod counts;
pub mod de;
pub mod expr;
pub mod pds;

use super::cell_forms::{self, CellForms, Predicted};
use super::celleval::{control_cells, real_cells};
use super::family::{FamilyInputs, MetricFamily};
use super::spec::{Direction, MetricInput, MetricSpec};
use crate::data::Dataset;
use crate::de::mannwhitney::{PdexOptions, PdexReference};
use counts::CountsReference;
use de::{DeTable, DE_METRICS};
use expr::Bulk;
use ndarray::{ArrayView2, ArrayViewMut3};
use rayon::prelude::*;

/// The family's name.
pub const FAMILY: &str = "celleval2";

/// The prefix of the family's metric names (cell-eval2's own names follow it).
pub const PREFIX: &str = "celleval2_";

const fn spec(name: &'static str, doc: &'static str, direction: Direction) -> MetricSpec {
    MetricSpec::against_dataset_mean(name, doc, FAMILY, direction, MetricInput::Cells)
}

use Direction::{Descriptive as Count, HigherBetter as Up, LowerBetter as Down};

/// Number of per-perturbation metrics.
pub const N_METRICS: usize = DE_METRICS + 12;

/// The family's metrics, in the order of cell-eval2's `results.csv` (profile `full`).
pub static SPECS: [MetricSpec; N_METRICS] = [
    spec("celleval2_de_wilcoxon_overlap", "Share of the real significant DE genes (p_adj < 0.05) among as many top predicted ones, by |log2FC|", Up),
    spec("celleval2_de_wilcoxon_overlap_top50", "Overlap of the real and predicted top-50 significant DE genes, over the real list's top 50", Up),
    spec("celleval2_de_wilcoxon_overlap_top100", "Overlap of the real and predicted top-100 significant DE genes, over the real list's top 100", Up),
    spec("celleval2_de_wilcoxon_overlap_top200", "Overlap of the real and predicted top-200 significant DE genes, over the real list's top 200", Up),
    spec("celleval2_de_wilcoxon_overlap_top500", "Overlap of the real and predicted top-500 significant DE genes, over the real list's top 500", Up),
    spec("celleval2_de_wilcoxon_precision", "Share of the predicted significant DE genes among as many top real ones", Up),
    spec("celleval2_de_wilcoxon_precision_top50", "Overlap of the real and predicted top-50 significant DE genes, over the predicted list's top 50", Up),
    spec("celleval2_de_wilcoxon_precision_top100", "Overlap of the real and predicted top-100 significant DE genes, over the predicted list's top 100", Up),
    spec("celleval2_de_wilcoxon_precision_top200", "Overlap of the real and predicted top-200 significant DE genes, over the predicted list's top 200", Up),
    spec("celleval2_de_wilcoxon_precision_top500", "Overlap of the real and predicted top-500 significant DE genes, over the predicted list's top 500", Up),
    spec("celleval2_de_wilcoxon_nsig_counts_real", "Number of significant DE genes (p_adj < 0.05) in the real cells", Count),
    spec("celleval2_de_wilcoxon_nsig_counts_pred", "Number of significant DE genes (p_adj < 0.05) in the predicted cells", Count),
    spec("celleval2_de_wilcoxon_nsig_spearman", "Spearman correlation of the real and predicted numbers of significant genes across the panel (one value, copied)", Up),
    spec("celleval2_de_wilcoxon_sig_recall", "Share of the real significant genes that are significant in the prediction", Up),
    spec("celleval2_de_wilcoxon_direction_match", "Share of the real significant genes whose predicted log2FC has the same sign", Up),
    spec("celleval2_de_wilcoxon_model_direction_match", "Share of the predicted significant genes whose real log2FC has the same sign", Up),
    spec("celleval2_de_wilcoxon_lfc_spearman", "Spearman correlation of real and predicted log2FC over the real significant genes", Up),
    spec("celleval2_de_wilcoxon_lfc_spearman_pos", "Spearman correlation of real and predicted log2FC over the real significant up-regulated genes", Up),
    spec("celleval2_de_wilcoxon_lfc_spearman_neg", "Spearman correlation of real and predicted log2FC over the real significant down-regulated genes", Up),
    spec("celleval2_de_wilcoxon_lfc_nmae", "Mean absolute log2FC error over the real significant genes, normalised by their mean |real log2FC|", Down),
    spec("celleval2_de_wilcoxon_pr_auc", "Average precision of the predicted p-values at finding the real significant genes", Up),
    spec("celleval2_de_wilcoxon_roc_auc", "ROC AUC of the predicted p-values at finding the real significant genes", Up),
    spec("celleval2_de_wilcoxon_overlap_adjusted", "Top-N overlap corrected for chance", Up),
    spec("celleval2_de_wilcoxon_precision_adjusted", "Markedness of the significance calls (chance-corrected precision)", Up),
    spec("celleval2_de_wilcoxon_sig_recall_adjusted", "Informedness of the significance calls (chance-corrected recall)", Up),
    spec("celleval2_de_wilcoxon_sig_mcc", "Matthews correlation of the real and predicted significance calls", Up),
    spec("celleval2_de_wilcoxon_direction_precision", "Share of the predicted significant genes called in the right direction", Up),
    spec("celleval2_de_wilcoxon_direction_sensitivity", "Share of the real significant genes predicted significant in the right direction", Up),
    spec("celleval2_de_wilcoxon_direction_sensitivity_universe", "Directional sensitivity over the gene universe", Up).open(),
    spec("celleval2_de_wilcoxon_direction_fidelity", "Chance-corrected share of right directions among the genes both sides call", Up),
    spec("celleval2_de_wilcoxon_direction_fidelity_raw", "Share of right directions among the genes both sides call", Up),
    spec("celleval2_de_wilcoxon_direction_coverage", "Chance-corrected share of the real significant genes the prediction calls", Up).open(),
    spec("celleval2_de_wilcoxon_direction_yield", "Chance-corrected net right-direction calls per real significant gene", Up).open(),
    spec("celleval2_de_wilcoxon_direction_yield_raw", "Net right-direction calls per real significant gene", Up).open(),
    spec("celleval2_de_wilcoxon_direction_fidelity_yield", "Chance-corrected fidelity × yield", Up),
    spec("celleval2_de_wilcoxon_direction_fidelity_yield_raw", "Fidelity × yield (VCC 2026 scored)", Up),
    spec("celleval2_de_wilcoxon_direction_reach", "Chance-corrected right-direction calls over the adjudicated universe", Up),
    spec("celleval2_de_wilcoxon_direction_reach_raw", "Right-direction calls over the adjudicated universe (VCC 2026 scored)", Up),
    spec("celleval2_de_wilcoxon_direction_reach_unbounded", "Chance-corrected right-direction calls over all genes", Up).open(),
    spec("celleval2_de_wilcoxon_direction_reach_unbounded_raw", "Right-direction calls over all genes", Up).open(),
    spec("celleval2_de_wilcoxon_sig_jaccard", "Jaccard index of the real and predicted significant gene sets (VCC 2026 scored)", Up),
    spec("celleval2_expr_mae", "Mean absolute error between predicted and real pseudobulks", Down),
    spec("celleval2_pds_l1", "1 − mid rank/(n − 1) of the true perturbation among the real effects by L1 distance to the predicted effect (panel target genes left out)", Up),
    spec("celleval2_pds_l2", "1 − mid rank/(n − 1) of the true perturbation among the real effects by L2 distance to the predicted effect (panel target genes left out)", Up),
    spec("celleval2_pds_cosine", "1 − mid rank/(n − 1) of the true perturbation among the real effects by cosine distance to the predicted effect (panel target genes left out; VCC 2026 scored)", Up),
    spec("celleval2_delta_pearson", "Pearson correlation of the predicted and real pseudobulk differences from the real control", Up),
    spec("celleval2_expr_mse", "Mean squared error between predicted and real pseudobulks", Down),
    spec("celleval2_expr_mse_unbiased", "Squared pseudobulk error less both sides' sampling noise, per gene (own gene left out)", Count),
    spec("celleval2_expr_mse_unbiased_capped", "As expr_mse_unbiased, the prediction's noise correction capped by the real one and by its spread across perturbations", Count),
    spec("celleval2_expr_distance_unbiased", "Real effect size: squared distance from control less sampling noise, per gene (own gene left out)", Count),
    spec("celleval2_expr_real_mass_ratio", "Σ expm1(real pseudobulk) / 1e6 (cell-eval2's target_sum)", Count),
    spec("celleval2_delta_mse", "Mean squared error between predicted and real differences from control", Down),
    spec("celleval2_delta_mae", "Mean absolute error between predicted and real differences from control", Down),
];

/// Index of the first expression metric (after the DE metrics).
const EXPR: usize = DE_METRICS;
const EXPR_MAE: usize = EXPR;
const PDS: usize = EXPR + 1;
const DELTA_PEARSON: usize = EXPR + 4;
const EXPR_MSE: usize = EXPR + 5;
const MSE_UNBIASED: usize = EXPR + 6;
const MSE_UNBIASED_CAPPED: usize = EXPR + 7;
const DISTANCE_UNBIASED: usize = EXPR + 8;
const REAL_MASS_RATIO: usize = EXPR + 9;
const DELTA_MSE: usize = EXPR + 10;
const DELTA_MAE: usize = EXPR + 11;

/// The derived panel metric (no per-perturbation value): Σ capped / Σ distance.
pub const CAPPED_NORM: &str = "expr_mse_unbiased_capped_norm";
/// Its numerator and denominator.
pub const CAPPED_NORM_PARTS: [&str; 2] = ["expr_mse_unbiased_capped", "expr_distance_unbiased"];

/// The cell-eval2 family.
pub struct CellEval2;

/// What the real cells of one perturbation give every model's comparison.
struct RealSide {
    de: DeTable,
    bulk: Bulk,
    effect: Vec<f64>,
    n_cells: usize,
}

/// One (model, perturbation)'s prediction.
struct PredSide {
    de: DeTable,
    bulk: Bulk,
    effect: Vec<f64>,
}

/// The gene a perturbation's label names, if any (cell-eval2 resolves a label to the gene of
/// the same name).
fn own_gene(ds: &Dataset, label: usize) -> Option<usize> {
    ds.genes.iter().position(|g| *g == ds.labels[label])
}

/// How cell-eval2 compares groups of cells: its `lognorm` comparator on log-normalised
/// values, or its counts path on raw counts ([`counts`]).
enum Comparator {
    Lognorm(PdexReference),
    Counts(CountsReference),
}

impl Comparator {
    /// The comparator of the real control cells `controls` (in the comparator's values);
    /// `None` without a control cell.
    fn new(controls: ArrayView2<'_, f32>, in_counts: bool) -> Option<Self> {
        Some(if in_counts {
            Comparator::Counts(CountsReference::new(controls).ok()?)
        } else {
            Comparator::Lognorm(PdexReference::new(controls, PdexOptions::cell_eval2_020()).ok()?)
        })
    }

    /// A group's DE table against the controls.
    fn de(&self, label: &str, cells: ArrayView2<'_, f32>) -> Option<DeTable> {
        match self {
            Comparator::Lognorm(r) => Some(DeTable::new(&r.compare(label, cells).ok()?)),
            Comparator::Counts(r) => r.table(cells).ok(),
        }
    }

    /// A predicted group's DE table and bulk; a collapsed prediction on the log-normalised
    /// path without its identical rows (the same numbers).
    fn de_and_bulk(&self, label: &str, predicted: Predicted) -> Option<(DeTable, Bulk)> {
        match (self, predicted) {
            (Comparator::Lognorm(r), Predicted::Collapsed { profile, k }) => {
                let row = profile.mapv(|x| x as f32);
                let de = DeTable::new(&r.compare_collapsed(label, row.view(), k).ok()?);
                let bulk = Bulk::of_rows(k, row.len(), std::iter::repeat_n(row.view(), k));
                Some((de, bulk))
            }
            (_, predicted) => {
                let cells = predicted.into_cells().mapv(|x| x as f32);
                Some((self.de(label, cells.view())?, self.bulk(cells.view())))
            }
        }
    }

    /// A group's pseudobulk and its sampling correction.
    fn bulk(&self, cells: ArrayView2<'_, f32>) -> Bulk {
        match self {
            Comparator::Lognorm(_) => Bulk::of(cells),
            Comparator::Counts(_) => counts::bulk(cells),
        }
    }

    /// The genes of the DE tables, when not every gene (the counts path's tested genes).
    fn de_genes(&self) -> Option<&[usize]> {
        match self {
            Comparator::Lognorm(_) => None,
            Comparator::Counts(r) => Some(&r.tested),
        }
    }

    /// The mass `expr_real_mass_ratio` divides by.
    fn mass_target(&self) -> f64 {
        match self {
            Comparator::Lognorm(_) => expr::TARGET_SUM,
            Comparator::Counts(_) => counts::BULK_TARGET_SUM,
        }
    }
}

impl MetricFamily for CellEval2 {
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
        // The counts path when cells and predictions are both raw counts.
        let counts_forms = CellForms::counts(ds, cells);
        let in_counts = counts_forms.is_some();
        let sample_values = cell_forms::values_in(in_counts);
        let controls = control_cells(cells, ds, sample_values);
        let Some(comparator) = Comparator::new(controls.view(), in_counts) else {
            return; // no control cell: every value stays NaN
        };
        let control = comparator.bulk(controls.view());
        let real: Vec<Option<RealSide>> = inputs
            .evaluated
            .par_iter()
            .map(|&l| {
                let own = real_cells(cells, l, all_halves, sample_values);
                if own.nrows() == 0 {
                    return None;
                }
                let de = comparator.de(&ds.labels[l], own.view())?;
                let bulk = comparator.bulk(own.view());
                Some(RealSide {
                    de,
                    effect: expr::effect(&bulk.mean, &control.mean),
                    bulk,
                    n_cells: own.nrows(),
                })
            })
            .collect();
        let own_genes: Vec<Option<usize>> =
            inputs.evaluated.iter().map(|&l| own_gene(ds, l)).collect();
        // Each gene's rank by name (byte order): the direction metrics' last tie-breaker.
        let mut by_name: Vec<usize> = (0..ds.n_genes()).collect();
        by_name.sort_by(|&a, &b| ds.genes[a].cmp(&ds.genes[b]));
        let mut name_rank = vec![0; ds.n_genes()];
        by_name
            .iter()
            .enumerate()
            .for_each(|(rank, &g)| name_rank[g] = rank);
        // The DE tables' genes (the counts path tests some): each gene's place in them, and
        // the name ranks of those genes.
        let de_genes: Vec<usize> = comparator
            .de_genes()
            .map_or_else(|| (0..ds.n_genes()).collect(), <[usize]>::to_vec);
        let mut de_index = vec![None; ds.n_genes()];
        de_genes
            .iter()
            .enumerate()
            .for_each(|(i, &g)| de_index[g] = Some(i));
        let de_name_rank: Vec<usize> = de_genes.iter().map(|&g| name_rank[g]).collect();
        let forms = counts_forms.unwrap_or_else(|| CellForms::new(ds, cells));
        let n_p = inputs.evaluated.len();
        for (m, model) in inputs.models.iter().enumerate() {
            // The model's panel: the perturbations it covers that have real cells.
            let panel: Vec<usize> = (0..n_p)
                .filter(|&p| inputs.covered[[m, p]] && real[p].is_some())
                .collect();
            let real_of = |p: usize| real[p].as_ref().expect("panel");
            let preds: Vec<Option<PredSide>> = panel
                .par_iter()
                .map(|&p| {
                    let l = inputs.evaluated[p];
                    let predicted = forms.predicted_form(ds, m, model, l, real_of(p).n_cells)?;
                    let (de, bulk) = comparator.de_and_bulk(&ds.labels[l], predicted)?;
                    Some(PredSide {
                        de,
                        effect: expr::effect(&bulk.mean, &control.mean),
                        bulk,
                    })
                })
                .collect();
            let scored: Vec<(usize, &PredSide)> = panel
                .iter()
                .zip(&preds)
                .filter_map(|(&p, s)| s.as_ref().map(|s| (p, s)))
                .collect();
            // The panel's target genes leave every effect of the discrimination score.
            let mut excluded = vec![false; ds.n_genes()];
            panel
                .iter()
                .filter_map(|&p| own_genes[p])
                .for_each(|g| excluded[g] = true);
            let real_effects: Vec<&[f64]> = panel
                .iter()
                .map(|&p| real_of(p).effect.as_slice())
                .collect();
            let panel_place: Vec<usize> = scored
                .iter()
                .map(|&(p, _)| panel.iter().position(|&q| q == p).expect("panel"))
                .collect();
            let pred_effects: Vec<Vec<f64>> = scored
                .iter()
                .map(|(_, s)| pds::without_genes(&s.effect, &excluded))
                .collect();
            let discrimination =
                pds::PdsPanel::new(&real_effects, &excluded).scores(&pred_effects, &panel_place);
            let capped = expr::mse_unbiased_capped(
                &scored
                    .iter()
                    .map(|&(p, s)| expr::CappedInput {
                        pred: &s.bulk,
                        real: &real_of(p).bulk,
                        own: own_genes[p],
                    })
                    .collect::<Vec<_>>(),
            );
            let de_values = de::panel_metrics(
                &scored
                    .iter()
                    .map(|&(p, s)| de::Pair {
                        real: &real_of(p).de,
                        pred: &s.de,
                        // A target gene the counts path does not test is not excluded.
                        own: own_genes[p].and_then(|g| de_index[g]),
                    })
                    .collect::<Vec<_>>(),
                &de_name_rank,
            );
            let rows: Vec<[f64; N_METRICS]> = scored
                .par_iter()
                .enumerate()
                .map(|(i, &(p, s))| {
                    let r = real_of(p);
                    let own = own_genes[p];
                    let mut v = [f64::NAN; N_METRICS];
                    v[..DE_METRICS].copy_from_slice(&de_values[i]);
                    v[EXPR_MAE] = expr::mae(&s.bulk.mean, &r.bulk.mean);
                    v[PDS..PDS + 3].copy_from_slice(&discrimination[i]);
                    v[DELTA_PEARSON] = expr::delta_pearson(&s.effect, &r.effect);
                    v[EXPR_MSE] = expr::mse(&s.bulk.mean, &r.bulk.mean);
                    v[MSE_UNBIASED] = expr::mse_unbiased(&s.bulk, &r.bulk, own);
                    v[MSE_UNBIASED_CAPPED] = capped[i];
                    v[DISTANCE_UNBIASED] = expr::distance_unbiased(&r.bulk, &control, own);
                    v[REAL_MASS_RATIO] =
                        expr::real_mass_ratio(&r.bulk.mean, comparator.mass_target());
                    v[DELTA_MSE] = expr::mse(&s.effect, &r.effect);
                    v[DELTA_MAE] = expr::mae(&s.effect, &r.effect);
                    v
                })
                .collect();
            for (&(p, _), v) in scored.iter().zip(&rows) {
                for (k, &x) in v.iter().enumerate() {
                    values[[m, k, p]] = x;
                }
            }
        }
    }
}
