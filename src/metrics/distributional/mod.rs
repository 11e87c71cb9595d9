//! The distributional family (SPEC §12.3): GGE's metrics on samples of cells, in the raw gene
//! space, calibrated like every other family.
//!
//! Each (model, perturbation) compares a sample of *predicted cells* with the perturbation's
//! GT-half sample ([`CellInputs`]). Baselines have cell forms (SPEC §12.3's cell-level
//! controls): `technical_duplicate` = the TD-half cells, `control_mean` = control cells,
//! `dataset_mean` = the pooled cells of the fold's train perturbations (each perturbation
//! weighted equally), `interpolated_duplicate` = the TD-half cells moved to its profile.
//! A model without cells (mean-only predictions, the linear and additive baselines) is its
//! profile repeated K times, K = the GT sample's size: the collapsed form.
//!
//! GGE's per-gene distances are averaged over genes (NaN genes skipped, as its `nanmean`);
//! `pearson`/`spearman` correlate mean profiles unless `compat_gge`, where, as GGE does, they
//! correlate paired cells gene by gene when the samples have the same size, and the energy
//! distance is geomloss's ([`onedim::energy_geomloss`]).

pub mod onedim;

use super::calibrated::profile::pearson;
use super::family::{FamilyInputs, MetricFamily};
use super::spec::{Direction, MetricInput, MetricSpec, NullModel};
use crate::data::Half;
use crate::io::{GroupSample, LabelSamples};
use ndarray::{Array2, ArrayView1, ArrayViewMut3, Axis};
use rayon::prelude::*;
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
    /// Reproduce GGE 1.0.1's paired-cell correlations and its halved energy distance.
    pub compat_gge: bool,
    /// At most this many cells in a pooled sample.
    pub max_cells: usize,
}

const fn spec(name: &'static str, doc: &'static str, direction: Direction) -> MetricSpec {
    MetricSpec {
        name,
        doc,
        family: FAMILY,
        direction,
        perfect: match direction {
            Direction::HigherBetter => 1.0,
            Direction::LowerBetter => 0.0,
        },
        null: NullModel::DatasetMean,
        input: MetricInput::Cells,
    }
}

use Direction::{HigherBetter as Up, LowerBetter as Down};

/// The family's metrics, in output order.
pub static SPECS: [MetricSpec; 12] = [
    spec(
        "pearson_raw",
        "Pearson of the mean profiles (GGE pairs cells with --compat gge)",
        Up,
    ),
    spec(
        "spearman_raw",
        "Spearman of the mean profiles (GGE pairs cells with --compat gge)",
        Up,
    ),
    spec(
        "mean_pearson_raw",
        "Pearson of the predicted and GT mean profiles",
        Up,
    ),
    spec(
        "mean_spearman_raw",
        "Spearman of the predicted and GT mean profiles",
        Up,
    ),
    spec(
        "r_squared_raw",
        "R² of the GT mean profile by the predicted one, across genes",
        Up,
    ),
    spec(
        "perturbation_effect_pearson_raw",
        "Pearson of μ_pred − μ_ctrl and μ_GT − μ_ctrl (real control)",
        Up,
    ),
    spec(
        "perturbation_effect_spearman_raw",
        "Spearman of μ_pred − μ_ctrl and μ_GT − μ_ctrl (real control)",
        Up,
    ),
    spec("mse_raw", "mean over genes of (μ_pred − μ_GT)²", Down),
    spec(
        "wasserstein_1_raw",
        "W1 between predicted and GT cells, per gene, averaged",
        Down,
    ),
    spec(
        "wasserstein_2_raw",
        "exact W2 between predicted and GT cells, per gene, averaged",
        Down,
    ),
    spec(
        "mmd_raw",
        "unbiased RBF MMD² (median-heuristic bandwidth), per gene, averaged",
        Down,
    ),
    spec(
        "energy_raw",
        "energy distance between predicted and GT cells, per gene, averaged",
        Down,
    ),
];

/// The distributional family.
pub struct Distributional;

impl MetricFamily for Distributional {
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
        let ds = inputs.dataset;
        let pooled: BTreeMap<i64, Array2<f64>> = ds
            .folds()
            .into_iter()
            .map(|k| {
                (
                    k,
                    pooled_cells(cells.observed, &ds.train_of_fold(k), cells.max_cells),
                )
            })
            .collect();
        let control = cells.observed.get(ds.control, Half::Gt);
        let control_cells = to_f64(&control.values);
        let control_mean = inputs.refs.control_mean;
        let rows: Vec<(usize, Vec<[f64; 12]>)> = inputs
            .evaluated
            .par_iter()
            .enumerate()
            .map(|(p, &l)| {
                let truth = to_f64(&cells.observed.get(l, Half::Gt).values);
                let k = truth.nrows();
                let truth_cols = SortedColumns::new(&truth);
                let mean_truth = inputs.truths.row(p);
                let out = inputs
                    .models
                    .iter()
                    .enumerate()
                    .map(|(m, model)| {
                        let Some(profile) = model.get(l) else {
                            return [f64::NAN; 12];
                        };
                        let predicted = match model.name.as_str() {
                            "technical_duplicate" => {
                                to_f64(&cells.observed.get(l, Half::Td).values)
                            }
                            "control_mean" => subset(&control_cells, k, l),
                            "dataset_mean" => subset(&pooled[&ds.fold_of[l]], k, l),
                            "interpolated_duplicate" => {
                                let td = to_f64(&cells.observed.get(l, Half::Td).values);
                                moved_to(td, profile)
                            }
                            _ => match cells.predicted[m].get(&l) {
                                Some(s) => to_f64(&s.values),
                                None => collapsed(profile, truth.nrows()),
                            },
                        };
                        let means = Means {
                            truth: mean_truth,
                            predicted: profile,
                            control: control_mean,
                        };
                        metrics(&truth, &truth_cols, &predicted, &means, cells.compat_gge)
                    })
                    .collect();
                (p, out)
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

/// The mean profiles a comparison uses (exact, from every row, not from the samples).
struct Means<'a> {
    truth: ArrayView1<'a, f64>,
    predicted: ArrayView1<'a, f64>,
    control: ArrayView1<'a, f64>,
}

/// A sample as f64.
fn to_f64(values: &Array2<f32>) -> Array2<f64> {
    values.mapv(f64::from)
}

/// `k` of `cells` (all when fewer), chosen by a hash of (`label`, row): the negative controls
/// get as many cells as the GT sample they are compared with — a sample's size biases the
/// empirical distances — and each perturbation its own draw.
fn subset(cells: &Array2<f64>, k: usize, label: usize) -> Array2<f64> {
    if cells.nrows() <= k {
        return cells.clone();
    }
    let mut order: Vec<usize> = (0..cells.nrows()).collect();
    order.sort_by_key(|&r| crate::io::sinks::samples::sample_key(label as u64, r as u64));
    order.truncate(k);
    order.sort_unstable();
    cells.select(Axis(0), &order)
}

/// `profile` repeated `k` times (at least 2 rows, so that an MMD is defined).
fn collapsed(profile: ArrayView1<f64>, k: usize) -> Array2<f64> {
    let k = k.max(2);
    let mut out = Array2::zeros((k, profile.len()));
    out.rows_mut()
        .into_iter()
        .for_each(|mut r| r.assign(&profile));
    out
}

/// Cells moved so that their mean is `profile` (the dispersion kept).
fn moved_to(mut cells: Array2<f64>, profile: ArrayView1<f64>) -> Array2<f64> {
    if cells.nrows() == 0 {
        return cells;
    }
    let mean = cells.mean_axis(Axis(0)).expect("rows");
    let shift = &profile - &mean;
    cells.rows_mut().into_iter().for_each(|mut r| r += &shift);
    cells
}

/// Up to `max_cells` cells of the `train` labels (both halves), taken in turn from each label
/// so that every perturbation weighs the same.
fn pooled_cells(observed: &LabelSamples, train: &[usize], max_cells: usize) -> Array2<f64> {
    let samples: Vec<Vec<ArrayView1<f32>>> = train
        .iter()
        .map(|&l| {
            let [gt, td] = &observed.halves[l];
            gt.values
                .rows()
                .into_iter()
                .chain(td.values.rows())
                .collect()
        })
        .filter(|rows: &Vec<_>| !rows.is_empty())
        .collect();
    let n_genes = observed.halves.first().map_or(0, |h| h[0].values.ncols());
    let mut picked: Vec<ArrayView1<f32>> = Vec::new();
    let mut round = 0;
    while picked.len() < max_cells && samples.iter().any(|s| s.len() > round) {
        for s in &samples {
            if let Some(r) = s.get(round) {
                if picked.len() < max_cells {
                    picked.push(r.view());
                }
            }
        }
        round += 1;
    }
    let mut out = Array2::zeros((picked.len(), n_genes));
    for (mut o, r) in out.rows_mut().into_iter().zip(picked) {
        o.zip_mut_with(&r, |a, &b| *a = f64::from(b));
    }
    out
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
                    v.sort_by(f64::total_cmp);
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

/// The family's twelve values (in [`SPECS`] order) for one sample of predicted cells against
/// the GT sample.
fn metrics(
    truth: &Array2<f64>,
    truth_sorted: &SortedColumns,
    predicted: &Array2<f64>,
    means: &Means<'_>,
    compat_gge: bool,
) -> [f64; 12] {
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
    let mean_pearson = pearson(&p, &t);
    let mean_spearman = spearman(&p, &t);
    let paired = compat_gge && truth.nrows() == predicted.nrows();
    let per_gene_corr = |f: fn(&[f64], &[f64]) -> f64| {
        nanmean(
            truth
                .columns()
                .into_iter()
                .zip(predicted.columns())
                .map(|(a, b)| f(&a.to_vec(), &b.to_vec())),
        )
    };
    let (pearson_v, spearman_v) = if paired {
        (per_gene_corr(pearson), per_gene_corr(spearman))
    } else {
        (mean_pearson, mean_spearman)
    };
    // GGE's MSEDistance casts to float64 first: exact means, compat or not.
    let mse = means
        .truth
        .iter()
        .zip(means.predicted)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        / t.len() as f64;
    let mut dists = [0.0f64; 4];
    let mut counts = [0usize; 4];
    for (g, x) in truth_sorted.columns.iter().enumerate() {
        let mut y = predicted.column(g).to_vec();
        y.sort_by(f64::total_cmp);
        let v = [
            onedim::wasserstein_1(x, &y),
            onedim::wasserstein_2(x, &y),
            onedim::mmd_rbf(x, &y),
            if compat_gge {
                onedim::energy_geomloss(x, &y)
            } else {
                onedim::energy(x, &y)
            },
        ];
        for k in 0..4 {
            if !v[k].is_nan() {
                dists[k] += v[k];
                counts[k] += 1;
            }
        }
    }
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
        mean_pearson,
        mean_spearman,
        r_squared(&t, &p),
        pearson(&dp, &dt),
        spearman(&dp, &dt),
        mse,
        avg(0),
        avg(1),
        avg(2),
        avg(3),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn values_of(truth: &Array2<f64>, predicted: &Array2<f64>) -> [f64; 12] {
        let t = truth.mean_axis(Axis(0)).unwrap();
        let p = predicted.mean_axis(Axis(0)).unwrap();
        let c = ndarray::Array1::zeros(t.len());
        let means = Means {
            truth: t.view(),
            predicted: p.view(),
            control: c.view(),
        };
        metrics(truth, &SortedColumns::new(truth), predicted, &means, false)
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
        let at = |name: &str| SPECS.iter().position(|s| s.name == name).unwrap();
        assert!(d[at("mse_raw")] < 1e-24 && c[at("mse_raw")] < 1e-24);
        for name in [
            "mmd_raw",
            "energy_raw",
            "wasserstein_1_raw",
            "wasserstein_2_raw",
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
        ] {
            // 0 up to the rounding of sums (energy: 2E|X−Y| − E|X−X'| − E|Y−Y'|).
            assert!(same[at(name)].abs() <= 1e-12, "{name}: {}", same[at(name)]);
        }
    }

    #[test]
    fn pooled_cells_take_every_perturbation_in_turn() {
        let sample = |v: f32, n: usize| GroupSample {
            rows: (0..n as u64).collect(),
            values: Array2::from_elem((n, 1), v),
            n_rows: n as u64,
        };
        let observed = LabelSamples {
            halves: vec![
                [sample(1.0, 5), sample(1.0, 5)],
                [sample(2.0, 1), sample(2.0, 0)],
            ],
        };
        let pooled = pooled_cells(&observed, &[0, 1], 4);
        assert_eq!(pooled.column(0).to_vec(), vec![1.0, 2.0, 1.0, 1.0]);
    }
}
