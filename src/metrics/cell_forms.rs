//! The cells a model "predicts" for a perturbation, shared by every family that compares
//! cells (the distributional family, cell-eval's DE family).
//!
//! Baselines have cell forms (SPEC §12.3's cell-level controls): `technical_duplicate` = the
//! TD-half cells, `control_mean` = control cells, `dataset_mean` = the pooled cells of the
//! fold's train perturbations (each perturbation weighted equally), `interpolated_duplicate` =
//! the TD-half cells moved to its profile. A model without cells (mean-only predictions, the
//! linear and additive baselines) is its profile repeated K times: the collapsed form.

use super::distributional::CellInputs;
use crate::data::{Dataset, Half, ModelPredictions};
use crate::io::{GroupSample, LabelSamples};
use ndarray::{Array1, Array2, ArrayView1, Axis};
use std::collections::BTreeMap;

/// The values a family reads from a sample: as every metric sees them, or (cell-eval2's
/// counts path) the raw counts read beside them.
pub type SampleValues = fn(&GroupSample) -> &Array2<f32>;

/// The sample's values as every metric sees them.
pub fn seen(s: &GroupSample) -> &Array2<f32> {
    &s.values
}

/// The sample's raw counts (kept when cell-eval2's counts path runs; the values otherwise).
pub fn counts(s: &GroupSample) -> &Array2<f32> {
    s.counts.as_ref().unwrap_or(&s.values)
}

/// The values read in raw counts (`in_counts`) or as every metric sees them.
pub fn values_in(in_counts: bool) -> SampleValues {
    if in_counts {
        counts
    } else {
        seen
    }
}

/// What the cell forms of one context are built from, prepared once.
pub struct CellForms<'a> {
    observed: &'a LabelSamples,
    predicted: &'a [BTreeMap<usize, &'a GroupSample>],
    /// The models' cell-level predictions (whose rows are cells, not one mean row).
    cell_level: &'a [BTreeMap<usize, &'a GroupSample>],
    /// Pooled train cells per fold (the dataset mean's cells).
    pooled: BTreeMap<i64, Array2<f64>>,
    /// The control GT-half sample (the control mean's cells).
    control: Array2<f64>,
    /// The forms are raw counts (else the values every metric sees).
    in_counts: bool,
}

impl<'a> CellForms<'a> {
    /// Prepares the pooled and control cells of a context.
    pub fn new(ds: &Dataset, cells: &'a CellInputs<'a>) -> Self {
        Self::of(ds, cells, &cells.predicted, false)
    }

    /// The same forms in raw counts (cell-eval2's counts path): every sample's counts, and
    /// a model's rows as read (a mean profile's one row repeated); `None` on the
    /// log-normalised path.
    pub fn counts(ds: &Dataset, cells: &'a CellInputs<'a>) -> Option<Self> {
        let predicted = cells.predicted_counts.as_ref()?;
        Some(Self::of(ds, cells, predicted, true))
    }

    fn of(
        ds: &Dataset,
        cells: &'a CellInputs<'a>,
        predicted: &'a [BTreeMap<usize, &'a GroupSample>],
        in_counts: bool,
    ) -> Self {
        let values = values_in(in_counts);
        let pooled = ds
            .folds()
            .into_iter()
            .map(|k| {
                let train = ds.train_of_fold(k);
                (
                    k,
                    pooled_cells(cells.observed, &train, cells.max_cells, values),
                )
            })
            .collect();
        CellForms {
            observed: cells.observed,
            predicted,
            cell_level: &cells.predicted,
            pooled,
            control: to_f64(values(cells.observed.get(ds.control, Half::Gt))),
            in_counts,
        }
    }

    /// Whether model `m`'s prediction of label `l` is cells (not a mean profile).
    fn is_cell_level(&self, m: usize, l: usize) -> bool {
        self.cell_level.get(m).is_some_and(|c| c.contains_key(&l))
    }

    /// The cells model `m` (index in the family inputs' models) predicts for label `l`, with
    /// `k` cells in the forms that are drawn or collapsed; `None` when it does not cover `l`.
    ///
    /// In counts, a model without rows of its own (a baseline's profile) predicts
    /// expm1(profile) — its profile's linear scale, whose total cell-eval2's counts path
    /// normalises away — collapsed.
    pub fn predicted(
        &self,
        ds: &Dataset,
        m: usize,
        model: &ModelPredictions,
        l: usize,
        k: usize,
    ) -> Option<Array2<f64>> {
        self.predicted_form(ds, m, model, l, k)
            .map(Predicted::into_cells)
    }

    /// [`Self::predicted`] with a collapsed form left as its one profile, for a family that
    /// computes on it without the `k` identical rows.
    pub fn predicted_form(
        &self,
        ds: &Dataset,
        m: usize,
        model: &ModelPredictions,
        l: usize,
        k: usize,
    ) -> Option<Predicted> {
        let profile = model.get(l)?;
        let in_counts = self.in_counts;
        let values = values_in(in_counts);
        let td = || to_f64(values(self.observed.get(l, Half::Td)));
        let collapsed = |profile: Array1<f64>| Predicted::collapsed(profile, k);
        Some(match model.name.as_str() {
            "technical_duplicate" => Predicted::Cells(td()),
            "control_mean" => Predicted::Cells(subset(&self.control, k, l)),
            "dataset_mean" => Predicted::Cells(subset(&self.pooled[&ds.fold_of[l]], k, l)),
            "interpolated_duplicate" if !in_counts => Predicted::Cells(moved_to(td(), profile)),
            _ => match self.predicted.get(m).and_then(|p| p.get(&l)) {
                // A mean profile's one row in counts: repeated, as a mean-only prediction.
                Some(s) if in_counts && !self.is_cell_level(m, l) => {
                    collapsed(values(s).row(0).mapv(f64::from))
                }
                Some(s) => Predicted::Cells(to_f64(values(s))),
                None if in_counts => collapsed(profile.mapv(f64::exp_m1)),
                None => collapsed(profile.to_owned()),
            },
        })
    }
}

/// The cells a model predicts for one perturbation.
pub enum Predicted {
    /// Cells of their own (a sample, or a baseline's drawn cells).
    Cells(Array2<f64>),
    /// One profile standing for `k` identical cells (a mean-only prediction; made by
    /// [`Predicted::collapsed`], k ≥ 2).
    Collapsed { profile: Array1<f64>, k: usize },
}

impl Predicted {
    /// `profile` standing for `k` identical cells, at least 2 (so that an MMD is defined).
    pub fn collapsed(profile: Array1<f64>, k: usize) -> Self {
        Predicted::Collapsed {
            profile,
            k: k.max(2),
        }
    }

    /// The cells, a collapsed profile repeated `k` times.
    pub fn into_cells(self) -> Array2<f64> {
        match self {
            Predicted::Cells(cells) => cells,
            Predicted::Collapsed { profile, k } => collapsed(profile.view(), k),
        }
    }
}

/// A sample as f64.
pub fn to_f64(values: &Array2<f32>) -> Array2<f64> {
    values.mapv(f64::from)
}

/// `k` of `cells` (all when fewer), chosen by a hash of (`label`, row): the negative controls
/// get as many cells as the GT sample they are compared with — a sample's size biases the
/// empirical distances — and each perturbation its own draw.
pub fn subset(cells: &Array2<f64>, k: usize, label: usize) -> Array2<f64> {
    if cells.nrows() <= k {
        return cells.clone();
    }
    let mut order: Vec<usize> = (0..cells.nrows()).collect();
    order.sort_by_key(|&r| crate::io::sinks::samples::sample_key(label as u64, r as u64));
    order.truncate(k);
    order.sort_unstable();
    cells.select(Axis(0), &order)
}

/// `profile` repeated `k` times.
pub fn collapsed(profile: ArrayView1<f64>, k: usize) -> Array2<f64> {
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
pub fn pooled_cells(
    observed: &LabelSamples,
    train: &[usize],
    max_cells: usize,
    values: SampleValues,
) -> Array2<f64> {
    let samples: Vec<Vec<ArrayView1<f32>>> = train
        .iter()
        .map(|&l| {
            let [gt, td] = &observed.halves[l];
            values(gt)
                .rows()
                .into_iter()
                .chain(values(td).rows())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooled_cells_take_every_perturbation_in_turn() {
        let sample = |v: f32, n: usize| GroupSample {
            rows: (0..n as u64).collect(),
            values: Array2::from_elem((n, 1), v),
            n_rows: n as u64,
            counts: None,
        };
        let observed = LabelSamples {
            halves: vec![
                [sample(1.0, 5), sample(1.0, 5)],
                [sample(2.0, 1), sample(2.0, 0)],
            ],
        };
        let pooled = pooled_cells(&observed, &[0, 1], 4, seen);
        assert_eq!(pooled.column(0).to_vec(), vec![1.0, 2.0, 1.0, 1.0]);
    }
}
