//! The calibrated baselines of SPEC §5: negative controls (control mean, dataset mean),
//! positive controls (technical and interpolated duplicate), and the linear / additive models.

pub mod linear;

use crate::data::{is_combo, Dataset, DatasetKind, Half, ModelPredictions};
use crate::de::DegHalf;
use crate::stats::descriptive::column_means;
use ndarray::{ArcArray1, Array1, Array2, ArrayView1};
use std::collections::BTreeMap;

/// Baseline names in output order (SPEC §5).
pub const BASELINES: [&str; 6] = [
    "control_mean",
    "dataset_mean",
    "technical_duplicate",
    "interpolated_duplicate",
    "linear",
    "additive",
];

/// The cell-level negative control (SPEC §12.3): the technical duplicate collapsed to its mean
/// profile, repeated as many times as the GT sample has cells (mode collapse). A baseline only
/// when cell-level metrics are computed; on mean-level metrics it equals the technical duplicate.
pub const COLLAPSED_DUPLICATE: &str = "collapsed_duplicate";

/// Name of the GT-half mean rows in `baselines.parquet`; reserved like the baselines.
pub const GROUND_TRUTH: &str = "ground_truth";

/// Train perturbations of other contexts, lent to a context that has none of its own (SPEC
/// §12.5: in `unseen-context` a context's perturbations are all test, and its mean and linear
/// baselines learn from the other contexts).
#[derive(Debug, Clone)]
pub struct TrainPool {
    /// Label of each row (a perturbation seen in several contexts has a row per context).
    pub labels: Vec<String>,
    /// Mean profile (all cells) of each row, in the borrowing dataset's gene order.
    pub means: Array2<f64>,
    /// The contexts the rows come from.
    pub contexts: Vec<String>,
}

/// Every baseline's predictions plus the per-fold references the metrics need.
#[derive(Debug, Clone)]
pub struct Baselines {
    /// Mean of all control cells (both halves).
    pub control_mean: ArcArray1<f64>,
    /// Per test fold k: unweighted mean of the train perturbations' means (all cells).
    pub fold_mean: BTreeMap<i64, ArcArray1<f64>>,
    /// Test folds whose train set was borrowed from other contexts ([`TrainPool`]).
    pub borrowed_folds: Vec<i64>,
    /// Baselines in `BASELINES` order; baselines that predict nothing are left out.
    pub models: Vec<ModelPredictions>,
    /// Linear baseline: PCA components used per fold (single datasets only).
    pub linear_components: BTreeMap<i64, usize>,
}

/// α ⊙ TD + (1 − α) ⊙ m with α = 1 − p_adj (NaN → 0), written so that α = 0 gives exactly m.
pub fn interpolate(
    td: ArrayView1<f64>,
    dataset_mean: ArrayView1<f64>,
    padj: Option<ndarray::ArrayView1<f64>>,
) -> Array1<f64> {
    Array1::from_shape_fn(td.len(), |g| {
        let a = padj.map_or(0.0, |p| {
            let a = 1.0 - p[g];
            if a.is_nan() {
                0.0
            } else {
                a
            }
        });
        a * td[g] + (1.0 - a) * dataset_mean[g]
    })
}

/// Builds all baselines of SPEC §5 from the dataset and the TD-half DEG test; a test fold
/// without train perturbations learns from `pool` when one is given.
pub fn build_baselines(ds: &Dataset, td: &DegHalf, pool: Option<&TrainPool>) -> Baselines {
    let g = ds.n_genes();
    let control_mean = ds.mean_all(ds.control).unwrap_or_else(|| Array1::zeros(g));
    // Mean profile (all cells) of every perturbation with cells, one row each, then the
    // borrowed rows.
    let with_cells: Vec<usize> = ds
        .perturbations()
        .into_iter()
        .filter(|&l| ds.n_cells_of(l) > 0)
        .collect();
    let n_pool = pool.map_or(0, |p| p.labels.len());
    let mut row_of = vec![usize::MAX; ds.labels.len()];
    let mut means = Array2::<f64>::zeros((with_cells.len() + n_pool, g));
    let mut row_label: Vec<&str> = Vec::with_capacity(with_cells.len() + n_pool);
    for (r, &l) in with_cells.iter().enumerate() {
        row_of[l] = r;
        means.row_mut(r).assign(&ds.mean_all(l).expect("has cells"));
        row_label.push(&ds.labels[l]);
    }
    if let Some(p) = pool {
        means
            .slice_mut(ndarray::s![with_cells.len().., ..])
            .assign(&p.means);
        row_label.extend(p.labels.iter().map(String::as_str));
    }
    let pool_rows: Vec<usize> = (with_cells.len()..with_cells.len() + n_pool).collect();
    let mean_of = |l: usize| (row_of[l] != usize::MAX).then(|| means.row(row_of[l]));
    // Per test fold, the rows of its train set: its own train perturbations, or the pool's.
    let mut fold_mean = BTreeMap::new();
    let mut fold_rows = BTreeMap::new();
    let mut borrowed_folds = Vec::new();
    for k in ds.folds() {
        let train = ds.train_of_fold(k);
        let mut rows: Vec<usize> = train.iter().map(|&l| row_of[l]).collect();
        assert!(
            rows.iter().all(|&r| r != usize::MAX),
            "train perturbations have cells"
        );
        if rows.is_empty() && n_pool > 0 {
            rows = pool_rows.clone();
            borrowed_folds.push(k);
        }
        fold_mean.insert(k, column_means(means.view(), &rows).into_shared());
        fold_rows.insert(k, rows);
    }

    let evaluated = ds.evaluated();
    let control_shared = control_mean.clone().into_shared();
    let mut control = ModelPredictions::new("control_mean");
    let mut dataset = ModelPredictions::new("dataset_mean");
    let mut tech = ModelPredictions::new("technical_duplicate");
    let mut interp = ModelPredictions::new("interpolated_duplicate");

    let mut linear = ModelPredictions::new("linear");
    let mut additive = ModelPredictions::new("additive");
    let mut linear_components = BTreeMap::new();
    match ds.kind() {
        DatasetKind::Single => {
            let genes = linear::gene_index(&ds.genes);
            // Every fold trains on singles; their Gram matrix is computed once.
            let singles: Vec<usize> = (0..row_label.len())
                .filter(|&r| !is_combo(row_label[r]))
                .collect();
            let shared = (singles.len() >= linear::GRAM_MIN_ROWS)
                .then(|| linear::SharedGram::new(means.view(), &singles));
            let mut single_pos = vec![usize::MAX; row_label.len()];
            for (i, &r) in singles.iter().enumerate() {
                single_pos[r] = i;
            }
            for (&k, rows) in &fold_rows {
                let rows: Vec<usize> = rows
                    .iter()
                    .copied()
                    .filter(|&r| !is_combo(row_label[r]))
                    .collect();
                let targets: Vec<Option<usize>> = rows
                    .iter()
                    .map(|&r| genes.get(row_label[r]).copied())
                    .collect();
                let gram = shared.as_ref().map(|s| {
                    let subset: Vec<usize> = rows.iter().map(|&r| single_pos[r]).collect();
                    s.centred(&subset)
                });
                let Some((fit, n_comp)) = linear::fit(means.view(), &rows, &targets, gram) else {
                    linear_components.insert(k, 0);
                    continue;
                };
                linear_components.insert(k, n_comp);
                for &p in evaluated.iter().filter(|&&p| ds.fold_of[p] == k) {
                    if let Some(&gi) = genes.get(ds.labels[p].as_str()) {
                        linear.profiles.insert(p, fit.predict(gi).into_shared());
                    }
                }
            }
        }
        DatasetKind::Combo => {
            for &p in evaluated.iter().filter(|&&p| is_combo(&ds.labels[p])) {
                let mut v = control_mean.clone();
                for member in ds.labels[p].split('+') {
                    if let Some(s) = additive_single(ds, p, member).and_then(mean_of) {
                        v = &v + &(&s - &control_mean);
                    }
                }
                additive.profiles.insert(p, v.into_shared());
            }
        }
    }
    // The duplicates come after the linear fits, whose temporaries are the largest, and
    // after the perturbation means are freed: a lower peak.
    drop(means);
    for &p in &evaluated {
        let m = &fold_mean[&ds.fold_of[p]];
        // Constant profiles are shared, not copied, between perturbations.
        control.profiles.insert(p, control_shared.clone());
        dataset.profiles.insert(p, m.clone());
        if let Some(td_mean) = ds.mean_in(p, Half::Td) {
            let padj = td.row_of(p).map(|r| td.pval_adj.row(r));
            interp
                .profiles
                .insert(p, interpolate(td_mean.view(), m.view(), padj).into_shared());
            tech.profiles.insert(p, td_mean.into_shared());
        }
    }
    let models = [control, dataset, tech, interp, linear, additive]
        .into_iter()
        .filter(|m| !m.profiles.is_empty())
        .collect();
    Baselines {
        control_mean: control_shared,
        fold_mean,
        borrowed_folds,
        models,
        linear_components,
    }
}

/// The single whose effect the additive baseline adds for `member` of the combo `combo`: a
/// single perturbation of the dataset in the train set of the combo's fold (SPEC §5, §12.5).
pub fn additive_single(ds: &Dataset, combo: usize, member: &str) -> Option<usize> {
    let s = ds.label_index(member)?;
    let fold = ds.fold_of[s];
    let train = fold != ds.fold_of[combo] && fold != crate::data::FOLD_HELD_OUT;
    (s != ds.control && !is_combo(member) && train).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn spec_interpolation_example() {
        // SPEC §10: p_adj [0.001, 0.5, 1, NaN, 0.04], TD = 2, mean = 0 → [1.998, 1.0, 0, 0, 1.92].
        let padj = array![0.001, 0.5, 1.0, f64::NAN, 0.04];
        let v = interpolate(
            Array1::from_elem(5, 2.0).view(),
            Array1::zeros(5).view(),
            Some(padj.view()),
        );
        let want = [1.998, 1.0, 0.0, 0.0, 1.92];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-15);
        }
        // No TD test: exactly the dataset mean.
        let m = array![0.3, 0.1];
        assert_eq!(interpolate(array![5.0, 6.0].view(), m.view(), None), m);
    }
}
