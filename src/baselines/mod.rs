//! The calibrated baselines of SPEC §5: negative controls (control mean, dataset mean),
//! positive controls (technical and interpolated duplicate), and the linear / additive models.

pub mod linear;

use crate::data::{is_combo, Dataset, DatasetKind, Half, ModelPredictions};
use crate::de::DegHalf;
use ndarray::{Array1, Array2};
use std::collections::BTreeMap;

/// Every baseline's predictions plus the per-fold references the metrics need.
#[derive(Debug, Clone)]
pub struct Baselines {
    /// Mean of all control cells (both halves).
    pub control_mean: Array1<f64>,
    /// Per test fold k: unweighted mean of the train perturbations' means (all cells).
    pub fold_mean: BTreeMap<i64, Array1<f64>>,
    /// Per test fold k: the train perturbations (label indices, sorted by name).
    pub fold_train: BTreeMap<i64, Vec<usize>>,
    /// Baselines in `BASELINES` order; baselines that predict nothing are left out.
    pub models: Vec<ModelPredictions>,
    /// Linear baseline: PCA components used per fold (single datasets only).
    pub linear_components: BTreeMap<i64, usize>,
}

/// α ⊙ TD + (1 − α) ⊙ m with α = 1 − p_adj (NaN → 0), written so that α = 0 gives exactly m.
pub fn interpolate(
    td: &Array1<f64>,
    dataset_mean: &Array1<f64>,
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

/// Builds all baselines of SPEC §5 from the dataset and the TD-half DEG test.
pub fn build_baselines(ds: &Dataset, td: &DegHalf) -> Baselines {
    let g = ds.n_genes();
    let control_mean = ds.mean_all(ds.control).unwrap_or_else(|| Array1::zeros(g));
    let means: BTreeMap<usize, Array1<f64>> = ds
        .perturbations()
        .into_iter()
        .filter_map(|l| ds.mean_all(l).map(|m| (l, m)))
        .collect();
    let mut fold_mean = BTreeMap::new();
    let mut fold_train = BTreeMap::new();
    for k in ds.folds() {
        let train = ds.train_of_fold(k);
        // Rows added in order and divided once (numpy's mean over a stacked axis 0).
        let mut acc = Array1::<f64>::zeros(g);
        for l in &train {
            acc += &means[l];
        }
        acc /= train.len() as f64;
        fold_mean.insert(k, acc);
        fold_train.insert(k, train);
    }

    let evaluated = ds.evaluated();
    let mut control = ModelPredictions::new("control_mean");
    let mut dataset = ModelPredictions::new("dataset_mean");
    let mut tech = ModelPredictions::new("technical_duplicate");
    let mut interp = ModelPredictions::new("interpolated_duplicate");
    for &p in &evaluated {
        let m = &fold_mean[&ds.fold_of[p]];
        control.profiles.insert(p, control_mean.clone());
        dataset.profiles.insert(p, m.clone());
        if let Some(td_mean) = ds.mean_in(p, Half::Td) {
            let padj = td.row_of(p).map(|r| td.pval_adj.row(r));
            interp.profiles.insert(p, interpolate(&td_mean, m, padj));
            tech.profiles.insert(p, td_mean);
        }
    }

    let mut linear = ModelPredictions::new("linear");
    let mut additive = ModelPredictions::new("additive");
    let mut linear_components = BTreeMap::new();
    match ds.kind() {
        DatasetKind::Single => {
            let genes = linear::gene_index(&ds.genes);
            for (&k, train) in &fold_train {
                let train: Vec<usize> = train
                    .iter()
                    .copied()
                    .filter(|&l| !is_combo(&ds.labels[l]))
                    .collect();
                let y = Array2::from_shape_fn((train.len(), g), |(r, c)| means[&train[r]][c]);
                let targets: Vec<Option<usize>> = train
                    .iter()
                    .map(|&l| genes.get(ds.labels[l].as_str()).copied())
                    .collect();
                let Some((fit, n_comp)) = linear::fit(y.view(), &targets) else {
                    linear_components.insert(k, 0);
                    continue;
                };
                linear_components.insert(k, n_comp);
                for &p in evaluated.iter().filter(|&&p| ds.fold_of[p] == k) {
                    if let Some(&gi) = genes.get(ds.labels[p].as_str()) {
                        linear.profiles.insert(p, fit.predict(gi));
                    }
                }
            }
        }
        DatasetKind::Combo => {
            for &p in evaluated.iter().filter(|&&p| is_combo(&ds.labels[p])) {
                let mut v = control_mean.clone();
                for member in ds.labels[p].split('+') {
                    let single = ds
                        .label_index(member)
                        .filter(|&s| s != ds.control && !is_combo(member));
                    if let Some(s) = single.and_then(|s| means.get(&s)) {
                        v = &v + &(s - &control_mean);
                    }
                }
                additive.profiles.insert(p, v);
            }
        }
    }
    let models = [control, dataset, tech, interp, linear, additive]
        .into_iter()
        .filter(|m| !m.profiles.is_empty())
        .collect();
    Baselines {
        control_mean,
        fold_mean,
        fold_train,
        models,
        linear_components,
    }
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
            &Array1::from_elem(5, 2.0),
            &Array1::zeros(5),
            Some(padj.view()),
        );
        let want = [1.998, 1.0, 0.0, 0.0, 1.92];
        for (a, b) in v.iter().zip(want) {
            assert!((a - b).abs() < 1e-15);
        }
        // No TD test: exactly the dataset mean.
        let m = array![0.3, 0.1];
        assert_eq!(interpolate(&array![5.0, 6.0], &m, None), m);
    }
}
