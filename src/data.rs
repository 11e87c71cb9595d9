//! The one data model that flows from `io` to `report`: genes, perturbation labels, halves,
//! folds and the per-(label, half) sufficient statistics. Nothing after `io` sees cells.

use ndarray::{ArcArray1, Array1, Array2, ArrayView1, Zip};
use std::collections::BTreeMap;

/// Ground-truth half (`gt`, the paper's `first_half`) or technical-duplicate half (`td`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Half {
    /// Ground-truth half.
    Gt = 0,
    /// Technical-duplicate half.
    Td = 1,
}

impl Half {
    /// Both halves, GT first.
    pub const BOTH: [Half; 2] = [Half::Gt, Half::Td];

    /// The label used in files (`gt` / `td`).
    pub fn as_str(self) -> &'static str {
        match self {
            Half::Gt => "gt",
            Half::Td => "td",
        }
    }
}

/// Sufficient statistics of groups of cells: count, Σx and Σx² per gene, in f64.
///
/// Rows are groups; for a [`Dataset`] group `2·label + half`. Two `GroupStats` over disjoint
/// cells merge by addition, so batches can be accumulated in parallel.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupStats {
    /// Number of cells per group.
    pub count: Vec<u64>,
    /// Σx per group × gene.
    pub sum: Array2<f64>,
    /// Σx² per group × gene; 0 × 0 once released ([`GroupStats::release_sum_sq`]).
    pub sum_sq: Array2<f64>,
}

impl GroupStats {
    /// Empty statistics for `n_groups` groups over `n_genes` genes.
    pub fn zeros(n_groups: usize, n_genes: usize) -> Self {
        GroupStats {
            count: vec![0; n_groups],
            sum: Array2::zeros((n_groups, n_genes)),
            sum_sq: Array2::zeros((n_groups, n_genes)),
        }
    }

    /// Frees Σx² (it becomes 0 × 0). Only the DEG tests read it; the pipeline releases it
    /// after them, which halves the statistics' memory for the rest of the evaluation.
    pub fn release_sum_sq(&mut self) {
        self.sum_sq = Array2::zeros((0, 0));
    }

    /// Number of groups.
    pub fn n_groups(&self) -> usize {
        self.count.len()
    }

    /// Number of genes.
    pub fn n_genes(&self) -> usize {
        self.sum.ncols()
    }

    /// Adds another set of statistics over the same groups and genes.
    pub fn merge(&mut self, other: &GroupStats) {
        assert_eq!(
            self.sum.dim(),
            other.sum.dim(),
            "GroupStats::merge: shape mismatch"
        );
        for (a, b) in self.count.iter_mut().zip(&other.count) {
            *a += b;
        }
        Zip::from(&mut self.sum)
            .and(&other.sum)
            .for_each(|a, &b| *a += b);
        Zip::from(&mut self.sum_sq)
            .and(&other.sum_sq)
            .for_each(|a, &b| *a += b);
    }
}

/// Fold of a perturbation that is never tested: always in the train set (controls, singles of
/// combo datasets, a user split's `train`).
pub const FOLD_TRAIN: i64 = -1;

/// Fold of a perturbation held out of both sides: neither tested nor in any train set (a user
/// split's `val` and `excluded`, SPEC §12.5).
pub const FOLD_HELD_OUT: i64 = -2;

/// Whether labels are single perturbations only, or include combinations `A+B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    /// No label contains `+`.
    Single,
    /// Some label contains `+`.
    Combo,
}

/// The observed dataset, reduced to sufficient statistics. Memory O(labels × genes).
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Gene names in file order (the order of every profile in calibra).
    pub genes: Vec<String>,
    /// All labels, sorted (byte order), the control label included.
    pub labels: Vec<String>,
    /// Index of the control label in `labels`.
    pub control: usize,
    /// Test fold per label; [`FOLD_TRAIN`] (−1) = never tested (controls, singles of combo
    /// datasets, a user split's train), [`FOLD_HELD_OUT`] (−2) = neither tested nor trained on.
    pub fold_of: Vec<i64>,
    /// Statistics per group `2·label + half`.
    pub stats: GroupStats,
    /// Number of cells read.
    pub n_cells: u64,
}

impl Dataset {
    /// Number of genes.
    pub fn n_genes(&self) -> usize {
        self.genes.len()
    }

    /// Row of `stats` for a label and half.
    pub fn group(label: usize, half: Half) -> usize {
        2 * label + half as usize
    }

    /// Number of cells of a label in a half.
    pub fn n_cells_in(&self, label: usize, half: Half) -> u64 {
        self.stats.count[Self::group(label, half)]
    }

    /// Number of cells of a label (both halves).
    pub fn n_cells_of(&self, label: usize) -> u64 {
        self.n_cells_in(label, Half::Gt) + self.n_cells_in(label, Half::Td)
    }

    /// Mean profile of a label in one half; `None` when that half has no cells.
    pub fn mean_in(&self, label: usize, half: Half) -> Option<Array1<f64>> {
        let g = Self::group(label, half);
        let n = self.stats.count[g];
        (n > 0).then(|| self.stats.sum.row(g).mapv(|s| s / n as f64))
    }

    /// Mean profile of a label over both halves: (Σ_gt + Σ_td) / (n_gt + n_td).
    pub fn mean_all(&self, label: usize) -> Option<Array1<f64>> {
        let n = self.n_cells_of(label);
        if n == 0 {
            return None;
        }
        let gt = self.stats.sum.row(Self::group(label, Half::Gt));
        let td = self.stats.sum.row(Self::group(label, Half::Td));
        Some(
            Zip::from(&gt)
                .and(&td)
                .map_collect(|&a, &b| (a + b) / n as f64),
        )
    }

    /// The dataset kind: combo if any label contains `+`.
    pub fn kind(&self) -> DatasetKind {
        if self.labels.iter().any(|l| is_combo(l)) {
            DatasetKind::Combo
        } else {
            DatasetKind::Single
        }
    }

    /// Indices of the non-control labels (perturbations), sorted by name.
    pub fn perturbations(&self) -> Vec<usize> {
        (0..self.labels.len())
            .filter(|&l| l != self.control)
            .collect()
    }

    /// Evaluated perturbations: non-control, fold ≥ 0, ≥ 1 GT-half cell; sorted by name.
    pub fn evaluated(&self) -> Vec<usize> {
        self.perturbations()
            .into_iter()
            .filter(|&l| self.fold_of[l] >= 0 && self.n_cells_in(l, Half::Gt) >= 1)
            .collect()
    }

    /// The test folds in use (sorted), from non-control labels with fold ≥ 0.
    pub fn folds(&self) -> Vec<i64> {
        let mut f: Vec<i64> = self
            .perturbations()
            .into_iter()
            .map(|l| self.fold_of[l])
            .filter(|&f| f >= 0)
            .collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// Train perturbations of fold `k`: every non-control label with fold ≠ k that is not
    /// held out, sorted by name.
    pub fn train_of_fold(&self, k: i64) -> Vec<usize> {
        self.perturbations()
            .into_iter()
            .filter(|&l| self.fold_of[l] != k && self.fold_of[l] != FOLD_HELD_OUT)
            .collect()
    }

    /// Perturbations in every train set: never tested and not held out ([`FOLD_TRAIN`]).
    pub fn always_train(&self) -> Vec<usize> {
        self.perturbations()
            .into_iter()
            .filter(|&l| self.fold_of[l] == FOLD_TRAIN)
            .collect()
    }

    /// Index of a label by name.
    pub fn label_index(&self, name: &str) -> Option<usize> {
        self.labels.binary_search_by(|l| l.as_str().cmp(name)).ok()
    }
}

/// True for combination labels `A+B`.
pub fn is_combo(label: &str) -> bool {
    label.contains('+')
}

/// A model's (or baseline's) predicted mean profiles, keyed by label index of the [`Dataset`].
/// Profiles are in the dataset's gene order.
#[derive(Debug, Clone, Default)]
pub struct ModelPredictions {
    /// Model name (a baseline name for baselines).
    pub name: String,
    /// Predicted profile per covered label. Shared arrays: a baseline that predicts one
    /// profile for many perturbations, and copies of a model, hold it once.
    pub profiles: BTreeMap<usize, ArcArray1<f64>>,
}

impl ModelPredictions {
    /// An empty model.
    pub fn new(name: impl Into<String>) -> Self {
        ModelPredictions {
            name: name.into(),
            profiles: BTreeMap::new(),
        }
    }

    /// The profile predicted for a label, if any.
    pub fn get(&self, label: usize) -> Option<ArrayView1<'_, f64>> {
        self.profiles.get(&label).map(|a| a.view())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_sums() {
        let mut a = GroupStats::zeros(2, 3);
        a.count[0] = 2;
        a.sum[[0, 1]] = 1.5;
        let mut b = GroupStats::zeros(2, 3);
        b.count[0] = 1;
        b.sum[[0, 1]] = 0.5;
        b.sum_sq[[1, 2]] = 4.0;
        a.merge(&b);
        assert_eq!(a.count, vec![3, 0]);
        assert_eq!(a.sum[[0, 1]], 2.0);
        assert_eq!(a.sum_sq[[1, 2]], 4.0);
    }
}
