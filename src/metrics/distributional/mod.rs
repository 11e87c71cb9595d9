//! The distributional family (SPEC §12.3): GGE's metrics on samples of cells, in the spaces
//! of SPEC §12.2 (`raw`, `pca50`, `deg`), calibrated like every other family.
//!
//! Each (model, perturbation) compares a sample of *predicted cells* with the perturbation's
//! GT-half sample ([`CellInputs`]). Baselines have cell forms (SPEC §12.3's cell-level
//! controls): `technical_duplicate` = the TD-half cells, `control_mean` = control cells,
//! `dataset_mean` = the pooled cells of the fold's train perturbations (each perturbation
//! weighted equally), `interpolated_duplicate` = the TD-half cells moved to its profile.
//! A model without cells (mean-only predictions, the linear and additive baselines) is its
//! profile repeated K times, K = the GT sample's size: the collapsed form.
//!
//! Every cell and profile is taken into the space first ([`space::Mapper`]); GGE's per-feature
//! distances (a feature is a gene or a component) are then averaged over features (NaN ones
//! skipped, as its `nanmean`). `pearson`/`spearman` correlate mean profiles unless
//! `compat_gge`, where, as GGE does, they correlate paired cells feature by feature when the
//! samples have the same size, the energy distance is geomloss's
//! ([`onedim::energy_geomloss`]), the PCA is fitted on the first perturbation's cells, and
//! `r_squared` and `perturbation_effect_*` ignore the space.

pub mod kernel;
pub mod multivariate;
pub mod onedim;
pub mod space;

use super::calibrated::profile::pearson;
use super::cell_forms::{pooled_cells, seen, subset, to_f64, CellForms};
use super::family::{FamilyInputs, MetricFamily};
use super::spec::{Direction, MetricInput, MetricSpec};
use crate::data::Half;
use crate::io::{GroupSample, LabelSamples};
use multivariate::WithinDistances;
use ndarray::{Array2, ArrayViewMut3};
use rayon::prelude::*;
use space::{DegRule, Mapper, Pca, Space, SpaceGenes};
use std::collections::BTreeMap;

/// The family's name.
pub const FAMILY: &str = "distributional";

/// Cell samples for one context: what the family compares.
pub struct CellInputs<'a> {
    /// Observed samples per label and half.
    pub observed: &'a LabelSamples,
    /// Per model (the `models` order of [`FamilyInputs`]): its predicted cells per label, for
    /// models with cell-level predictions.
    pub predicted: Vec<BTreeMap<usize, &'a GroupSample>>,
    /// cell-eval2's counts path (cells and predictions both raw counts): per model, its
    /// sampled rows per label — a mean profile's one row too — whose
    /// [`GroupSample::counts`] hold the raw values; `None` on the log-normalised path.
    pub predicted_counts: Option<Vec<BTreeMap<usize, &'a GroupSample>>>,
    /// Reproduce GGE 1.0.1: paired-cell correlations, its halved energy distance, spaces fitted
    /// on the first perturbation, space-blind `r_squared` and `perturbation_effect_*`.
    pub compat_gge: bool,
    /// Reproduce cell-eval 0.8.1's inputs: real cells of both halves (see [`crate::metrics::celleval`]).
    pub compat_celleval: bool,
    /// At most this many cells in a pooled sample.
    pub max_cells: usize,
    /// The spaces to compute.
    pub spaces: Vec<Space>,
    /// How the `deg` space picks genes.
    pub deg_rule: DegRule,
    /// Genes chosen from the sufficient statistics.
    pub genes: &'a SpaceGenes,
}

const fn spec(name: &'static str, doc: &'static str, direction: Direction) -> MetricSpec {
    MetricSpec::against_dataset_mean(name, doc, FAMILY, direction, MetricInput::Cells)
}

use Direction::{HigherBetter as Up, LowerBetter as Down};

/// The nineteen metrics of one space, named GGE's way with the space as suffix.
macro_rules! space_specs {
    ($space:literal) => {
        [
            spec(
                concat!("pearson_", $space),
                "Pearson of the mean profiles (GGE pairs cells with --compat gge)",
                Up,
            ),
            spec(
                concat!("spearman_", $space),
                "Spearman of the mean profiles (GGE pairs cells with --compat gge)",
                Up,
            ),
            spec(
                concat!("mean_pearson_", $space),
                "Pearson of the predicted and GT mean profiles",
                Up,
            ),
            spec(
                concat!("mean_spearman_", $space),
                "Spearman of the predicted and GT mean profiles",
                Up,
            ),
            spec(
                concat!("r_squared_", $space),
                "R² of the GT mean profile by the predicted one, across features",
                Up,
            ),
            spec(
                concat!("perturbation_effect_pearson_", $space),
                "Pearson of μ_pred − μ_ctrl and μ_GT − μ_ctrl (real control)",
                Up,
            ),
            spec(
                concat!("perturbation_effect_spearman_", $space),
                "Spearman of μ_pred − μ_ctrl and μ_GT − μ_ctrl (real control)",
                Up,
            ),
            spec(
                concat!("mse_", $space),
                "mean over features of (μ_pred − μ_GT)²",
                Down,
            ),
            spec(
                concat!("wasserstein_1_", $space),
                "W1 between predicted and GT cells, per feature, averaged",
                Down,
            ),
            spec(
                concat!("wasserstein_2_", $space),
                "exact W2 between predicted and GT cells, per feature, averaged",
                Down,
            ),
            spec(
                concat!("mmd_", $space),
                "unbiased RBF MMD² (median-heuristic bandwidth), per feature, averaged",
                Down,
            ),
            spec(
                concat!("energy_", $space),
                "energy distance between predicted and GT cells, per feature, averaged",
                Down,
            ),
            spec(
                concat!("multivariate_mmd_", $space),
                "unbiased RBF MMD² between the cells as points of the space (σ² = median squared distance)",
                Down,
            ),
            spec(
                concat!("multivariate_mmd_multiscale_", $space),
                "unbiased MMD² of Σ exp(−γ‖x−y‖²), γ ∈ logspace(1, −3, 5), cells as points of the space",
                Down,
            ),
            spec(
                concat!("multivariate_energy_", $space),
                "energy distance 2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖ between the cells as points of the space (ReconEval's energy_distance)",
                Down,
            ),
            spec(
                concat!("mmd_rbf_", $space),
                "ReconEval's mmd_rbf: MMD² of exp(−‖x−y‖²) (γ = 1), V-statistics, cells as points of the space",
                Down,
            ),
            spec(
                concat!("knn_purity_", $space),
                "ReconEval's knn_purity: share of each predicted cell's 20 nearest real cells that are perturbed, not control (as many control as GT cells: 0.5 = chance)",
                Up,
            ),
            spec(
                concat!("ks_test_", $space),
                "pertpy's ks_test: two-sample Kolmogorov–Smirnov statistic per feature, averaged",
                Down,
            ),
            spec(
                concat!("t_test_", $space),
                "pertpy's t_test: |Welch t| per feature (variances + 1e-8), averaged",
                Down,
            ),
        ]
    };
}

/// Metrics per space.
const N_METRICS: usize = 19;
/// The raw space's metrics, in output order.
pub static SPECS_RAW: [MetricSpec; N_METRICS] = space_specs!("raw");
/// The PCA space's metrics.
pub static SPECS_PCA: [MetricSpec; N_METRICS] = space_specs!("pca50");
/// The DEG space's metrics.
pub static SPECS_DEG: [MetricSpec; N_METRICS] = space_specs!("deg");

/// Where the space-blind metrics of `--compat gge` sit in a space's specs.
const R_SQUARED: usize = 4;
const EFFECT_PEARSON: usize = 5;
const EFFECT_SPEARMAN: usize = 6;

/// The distributional family in one space (registered once per space).
pub struct Distributional {
    /// Its space.
    pub space: Space,
}

/// The family in the raw space.
pub static DISTRIBUTIONAL_RAW: Distributional = Distributional { space: Space::Raw };
/// The family in the PCA space.
pub static DISTRIBUTIONAL_PCA: Distributional = Distributional { space: Space::Pca };
/// The family in the DEG space.
pub static DISTRIBUTIONAL_DEG: Distributional = Distributional { space: Space::Deg };

/// The context-wide part of a space: its PCA or its gene sets.
enum SpaceFit<'a> {
    Raw,
    Pca(Option<Pca>),
    Deg(BTreeMap<usize, std::borrow::Cow<'a, [usize]>>),
}

impl SpaceFit<'_> {
    /// The mapper for `label` (`None`: the space is empty for it; its values stay NaN).
    fn mapper(&self, label: usize) -> Option<Mapper<'_>> {
        match self {
            SpaceFit::Raw => Some(Mapper::Raw),
            SpaceFit::Pca(p) => p.as_ref().map(Mapper::Pca),
            SpaceFit::Deg(genes) => genes
                .get(&label)
                .filter(|g| !g.is_empty())
                .map(|g| Mapper::Genes(g)),
        }
    }
}

impl Distributional {
    /// Fits the space for a context: the PCA on a pooled sample of every label's cells
    /// (GGE: the first evaluated perturbation's GT cells), the DEG gene sets per perturbation.
    fn fit<'a>(&self, inputs: &'a FamilyInputs<'_, '_>, cells: &'a CellInputs<'a>) -> SpaceFit<'a> {
        let first = inputs.evaluated.first().copied();
        match self.space {
            Space::Raw => SpaceFit::Raw,
            Space::Pca if cells.compat_gge => SpaceFit::Pca(first.and_then(|l| {
                let truth = to_f64(&cells.observed.get(l, Half::Gt).values);
                let center = ndarray::Array1::from(float32_mean(&truth));
                let n_genes = truth.ncols();
                Pca::fit(
                    &truth,
                    (0..n_genes).collect(),
                    space::PCA_COMPONENTS,
                    n_genes.saturating_sub(1),
                    Some(center),
                )
                .map(|mut p| {
                    p.float32_cells = true;
                    p
                })
            })),
            Space::Pca => {
                let every: Vec<usize> = (0..cells.observed.halves.len()).collect();
                let pool = pooled_cells(cells.observed, &every, space::PCA_FIT_CELLS, seen);
                SpaceFit::Pca(Pca::fit(
                    &pool,
                    cells.genes.hvg.clone(),
                    space::PCA_COMPONENTS,
                    usize::MAX,
                    None,
                ))
            }
            Space::Deg => {
                let of = |l: usize| -> std::borrow::Cow<'a, [usize]> {
                    match cells.deg_rule {
                        DegRule::Sec3 => inputs.refs.deg_mask.get(&l).map_or_else(
                            || std::borrow::Cow::Owned(Vec::new()),
                            |m| {
                                std::borrow::Cow::Owned(
                                    m.iter()
                                        .enumerate()
                                        .filter(|(_, &d)| d)
                                        .map(|(g, _)| g)
                                        .collect(),
                                )
                            },
                        ),
                        DegRule::Gge { .. } => cells
                            .genes
                            .gge_degs
                            .get(&l)
                            .map_or(std::borrow::Cow::Owned(Vec::new()), |g| {
                                std::borrow::Cow::Borrowed(g.as_slice())
                            }),
                    }
                };
                if cells.compat_gge {
                    // GGE: the first perturbation's genes for every perturbation, all genes
                    // when it has none.
                    let n_genes = inputs.dataset.n_genes();
                    let genes = first
                        .map(of)
                        .filter(|g| !g.is_empty())
                        .unwrap_or_else(|| (0..n_genes).collect::<Vec<_>>().into());
                    SpaceFit::Deg(
                        inputs
                            .evaluated
                            .iter()
                            .map(|&l| (l, genes.clone()))
                            .collect(),
                    )
                } else {
                    SpaceFit::Deg(inputs.evaluated.iter().map(|&l| (l, of(l))).collect())
                }
            }
        }
    }
}

impl MetricFamily for Distributional {
    fn name(&self) -> &'static str {
        FAMILY
    }

    fn specs(&self) -> &'static [MetricSpec] {
        match self.space {
            Space::Raw => &SPECS_RAW,
            Space::Pca => &SPECS_PCA,
            Space::Deg => &SPECS_DEG,
        }
    }

    fn takes_part(&self, cells: Option<&CellInputs<'_>>) -> bool {
        cells.is_some_and(|c| c.spaces.contains(&self.space))
    }

    fn compute(&self, inputs: &FamilyInputs<'_, '_>, mut values: ArrayViewMut3<'_, f64>) {
        let Some(cells) = inputs.cells else {
            return;
        };
        let ds = inputs.dataset;
        let fit = self.fit(inputs, cells);
        let forms = CellForms::new(ds, cells);
        // KNN purity's negative pool: the other half's control cells, so that the control
        // baseline's cells (GT half) are not in the pool they are looked up in.
        let control_pool = to_f64(&cells.observed.get(ds.control, Half::Td).values);
        let control_mean = inputs.refs.control_mean;
        let space_blind = cells.compat_gge && self.space != Space::Raw;
        let rows: Vec<(usize, Vec<[f64; N_METRICS]>)> = inputs
            .evaluated
            .par_iter()
            .enumerate()
            .filter_map(|(p, &l)| {
                let map = fit.mapper(l)?;
                let truth_raw = to_f64(&cells.observed.get(l, Half::Gt).values);
                let truth = map.cells(&truth_raw);
                let k = truth.nrows();
                let truth_cols = SortedColumns::new(&truth);
                let truth_within = WithinDistances::new(&truth);
                let control_drawn = subset(&control_pool, k, l);
                let control_pool = map.cells(&control_drawn);
                let mean_truth = map.profile(inputs.truths.row(p));
                let mean_control = map.profile(control_mean);
                let out = inputs
                    .models
                    .iter()
                    .enumerate()
                    .map(|(m, model)| {
                        let Some(predicted_raw) = forms.predicted(ds, m, model, l, k) else {
                            return [f64::NAN; N_METRICS];
                        };
                        let profile = model.get(l).expect("covered");
                        let predicted = map.cells(&predicted_raw);
                        let means = Means {
                            truth: &mean_truth,
                            predicted: &map.profile(profile),
                            control: &mean_control,
                        };
                        let mut v = metrics(
                            &truth,
                            &truth_cols,
                            &truth_within,
                            &control_pool,
                            &predicted,
                            &means,
                            cells.compat_gge,
                        );
                        if space_blind {
                            // GGE's RSquared and PerturbationEffectCorrelation use every gene
                            // whatever their space.
                            let raw = Means {
                                truth: &inputs.truths.row(p).to_vec(),
                                predicted: &profile.to_vec(),
                                control: &control_mean.to_vec(),
                            };
                            let [r2, ep, es] =
                                mean_metrics(&truth_raw, &predicted_raw, &raw, true).space_blind();
                            v[R_SQUARED] = r2;
                            v[EFFECT_PEARSON] = ep;
                            v[EFFECT_SPEARMAN] = es;
                        }
                        v
                    })
                    .collect();
                Some((p, out))
            })
            .collect();
        for (p, per_model) in rows {
            for (m, v) in per_model.into_iter().enumerate() {
                for (k, x) in v.into_iter().enumerate() {
                    values[[m, k, p]] = x;
                }
            }
        }
    }
}

/// The mean profiles a comparison uses, in its space (exact, from every row, not from the
/// samples).
struct Means<'a> {
    truth: &'a [f64],
    predicted: &'a [f64],
    control: &'a [f64],
}

/// The metrics of mean profiles.
struct MeanMetrics {
    pearson: f64,
    spearman: f64,
    r_squared: f64,
    effect_pearson: f64,
    effect_spearman: f64,
}

impl MeanMetrics {
    /// The three GGE computes on every gene whatever the space.
    fn space_blind(&self) -> [f64; 3] {
        [self.r_squared, self.effect_pearson, self.effect_spearman]
    }
}

/// Each gene's values, sorted ascending (gene-major).
struct SortedColumns {
    columns: Vec<Vec<f64>>,
}

impl SortedColumns {
    fn new(cells: &Array2<f64>) -> Self {
        SortedColumns {
            columns: cells
                .columns()
                .into_iter()
                .map(|c| {
                    let mut v = c.to_vec();
                    v.sort_unstable_by(f64::total_cmp);
                    v
                })
                .collect(),
        }
    }
}

/// Column means as numpy's float32 `mean(axis=0)`: rows added in order in f32, ÷ n in f32.
fn float32_mean(cells: &Array2<f64>) -> Vec<f64> {
    let n = cells.nrows() as f32;
    let mut sums = vec![0f32; cells.ncols()];
    for row in cells.rows() {
        for (s, &v) in sums.iter_mut().zip(row) {
            *s += v as f32;
        }
    }
    sums.into_iter().map(|s| f64::from(s / n)).collect()
}

/// Mean of the non-NaN values (NaN when none), as numpy's `nanmean`.
fn nanmean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for v in values.filter(|v| !v.is_nan()) {
        s += v;
        n += 1;
    }
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// Average ranks (1-based; ties share their mean rank), as scipy's `rankdata`.
fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && x[order[j]] == x[order[i]] {
            j += 1;
        }
        let r = (i + j + 1) as f64 / 2.0;
        for &o in &order[i..j] {
            ranks[o] = r;
        }
        i = j;
    }
    ranks
}

/// Spearman correlation: Pearson of average ranks (scipy's `spearmanr` for two vectors).
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&average_ranks(x), &average_ranks(y))
}

/// R² of `truth` by `pred` across genes (GGE's overall r_squared: 1 − SS_res/SS_tot; a zero
/// SS_tot gives 1 if SS_res is 0, else 0).
fn r_squared(truth: &[f64], pred: &[f64]) -> f64 {
    let mean = truth.iter().sum::<f64>() / truth.len() as f64;
    let ss_res: f64 = truth.iter().zip(pred).map(|(t, p)| (t - p) * (t - p)).sum();
    let ss_tot: f64 = truth.iter().map(|t| (t - mean) * (t - mean)).sum();
    if ss_tot == 0.0 {
        if ss_res == 0.0 {
            1.0
        } else {
            0.0
        }
    } else {
        1.0 - ss_res / ss_tot
    }
}

/// The metrics of mean profiles for `predicted` cells against `truth` cells.
fn mean_metrics(
    truth: &Array2<f64>,
    predicted: &Array2<f64>,
    means: &Means<'_>,
    compat_gge: bool,
) -> MeanMetrics {
    // GGE takes its means of float32 cells in float32 (numpy: row by row, then ÷ n), and its
    // near-tied genes rank by those roundings: reproduced with --compat gge.
    let (t, p, c): (Vec<f64>, Vec<f64>, Vec<f64>) = if compat_gge {
        (
            float32_mean(truth),
            float32_mean(predicted),
            means.control.iter().map(|&v| f64::from(v as f32)).collect(),
        )
    } else {
        (
            means.truth.to_vec(),
            means.predicted.to_vec(),
            means.control.to_vec(),
        )
    };
    let effect = |a: &[f64]| -> Vec<f64> {
        if compat_gge {
            a.iter()
                .zip(&c)
                .map(|(x, c)| f64::from(*x as f32 - *c as f32))
                .collect()
        } else {
            a.iter().zip(&c).map(|(x, c)| x - c).collect()
        }
    };
    let (dt, dp) = (effect(&t), effect(&p));
    MeanMetrics {
        pearson: pearson(&p, &t),
        spearman: spearman(&p, &t),
        r_squared: r_squared(&t, &p),
        effect_pearson: pearson(&dp, &dt),
        effect_spearman: spearman(&dp, &dt),
    }
}

/// The family's values (in a space's spec order) for one sample of predicted cells against
/// the GT sample (and, for KNN purity, a control pool), all in the space.
fn metrics(
    truth: &Array2<f64>,
    truth_sorted: &SortedColumns,
    truth_within: &WithinDistances,
    control_pool: &Array2<f64>,
    predicted: &Array2<f64>,
    means: &Means<'_>,
    compat_gge: bool,
) -> [f64; N_METRICS] {
    let mm = mean_metrics(truth, predicted, means, compat_gge);
    let paired = compat_gge && truth.nrows() == predicted.nrows();
    let per_feature_corr = |f: fn(&[f64], &[f64]) -> f64| {
        nanmean(
            truth
                .columns()
                .into_iter()
                .zip(predicted.columns())
                .map(|(a, b)| f(&a.to_vec(), &b.to_vec())),
        )
    };
    let (pearson_v, spearman_v) = if paired {
        (per_feature_corr(pearson), per_feature_corr(spearman))
    } else {
        (mm.pearson, mm.spearman)
    };
    // GGE's MSEDistance casts to float64 first: exact means, compat or not.
    let mse = means
        .truth
        .iter()
        .zip(means.predicted)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / means.truth.len() as f64;
    const PER_FEATURE: usize = 6;
    let mut dists = [0.0f64; PER_FEATURE];
    let mut counts = [0usize; PER_FEATURE];
    for (g, x) in truth_sorted.columns.iter().enumerate() {
        let mut y = predicted.column(g).to_vec();
        y.sort_unstable_by(f64::total_cmp);
        let v = [
            onedim::wasserstein_1(x, &y),
            onedim::wasserstein_2(x, &y),
            onedim::mmd_rbf(x, &y),
            if compat_gge {
                onedim::energy_geomloss(x, &y)
            } else {
                onedim::energy(x, &y)
            },
            onedim::ks_statistic(x, &y),
            onedim::welch_abs_t(x, &y),
        ];
        for k in 0..PER_FEATURE {
            if !v[k].is_nan() {
                dists[k] += v[k];
                counts[k] += 1;
            }
        }
    }
    let whole = multivariate::multivariate(truth, truth_within, predicted, control_pool);
    let avg = |k: usize| {
        if counts[k] == 0 {
            f64::NAN
        } else {
            dists[k] / counts[k] as f64
        }
    };
    [
        pearson_v,
        spearman_v,
        mm.pearson,
        mm.spearman,
        mm.r_squared,
        mm.effect_pearson,
        mm.effect_spearman,
        mse,
        avg(0),
        avg(1),
        avg(2),
        avg(3),
        whole.mmd,
        whole.mmd_multiscale,
        whole.energy,
        whole.mmd_rbf,
        whole.knn_purity,
        avg(4),
        avg(5),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::cell_forms::collapsed;
    use ndarray::Axis;

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 15.0]) - 0.5).abs() < 1e-15);
    }

    /// Values of [`metrics`] for `predicted` against `truth` (one gene per column), with the
    /// exact mean profiles and a zero control.
    fn values_of(truth: &Array2<f64>, predicted: &Array2<f64>) -> [f64; N_METRICS] {
        let t = truth.mean_axis(Axis(0)).unwrap().to_vec();
        let p = predicted.mean_axis(Axis(0)).unwrap().to_vec();
        let c = vec![0.0; t.len()];
        let means = Means {
            truth: &t,
            predicted: &p,
            control: &c,
        };
        metrics(
            truth,
            &SortedColumns::new(truth),
            &WithinDistances::new(truth),
            &Array2::zeros((0, truth.ncols())),
            predicted,
            &means,
            false,
        )
    }

    #[test]
    fn a_collapsed_model_loses_on_distances_but_not_on_means() {
        // Truth: 40 cells × 3 genes spread around per-gene means; "dispersed" = the truth
        // reflected through its mean (same mean, same spread), "collapsed" = the mean repeated.
        let truth = Array2::from_shape_fn((40, 3), |(i, g)| {
            (g as f64 + 1.0) + ((i * 7 + g * 3) % 11) as f64 / 5.0 - 1.0
        });
        let mean = truth.mean_axis(Axis(0)).unwrap();
        let dispersed = Array2::from_shape_fn((40, 3), |(i, g)| 2.0 * mean[g] - truth[[i, g]]);
        let collapsed = collapsed(mean.view(), 40);
        let (d, c) = (values_of(&truth, &dispersed), values_of(&truth, &collapsed));
        let at = |name: &str| SPECS_RAW.iter().position(|s| s.name == name).unwrap();
        assert!(d[at("mse_raw")] < 1e-24 && c[at("mse_raw")] < 1e-24);
        for name in [
            "mmd_raw",
            "energy_raw",
            "wasserstein_1_raw",
            "wasserstein_2_raw",
            "multivariate_mmd_raw",
            "multivariate_mmd_multiscale_raw",
            "multivariate_energy_raw",
            "mmd_rbf_raw",
        ] {
            assert!(
                d[at(name)] < c[at(name)],
                "{name}: {} vs {}",
                d[at(name)],
                c[at(name)]
            );
        }
        // And the truth against itself is perfect.
        let same = values_of(&truth, &truth);
        for name in [
            "mmd_raw",
            "energy_raw",
            "wasserstein_1_raw",
            "wasserstein_2_raw",
            "mse_raw",
            "multivariate_mmd_raw",
            "multivariate_mmd_multiscale_raw",
            "multivariate_energy_raw",
            "mmd_rbf_raw",
            "ks_test_raw",
            "t_test_raw",
        ] {
            // 0 up to the rounding of sums (energy: 2E|X−Y| − E|X−X'| − E|Y−Y'|).
            assert!(same[at(name)].abs() <= 1e-12, "{name}: {}", same[at(name)]);
        }
    }
}
