//! cell-eval2 0.20.0's counts path: what it computes when both sides are raw counts
//! (`--input-type counts`, the `vcc2026` preset's own input), with its comparator
//! `bulk_lognorm` (its `metrics.md` §1.2, §2.3; our peer run's formulas:
//! `tests/fixtures/celleval2_counts/README.md` §4).
//!
//! * **Pseudobulk**: a group's counts summed, then transformed once:
//!   b_g = log1p(P_g · (TS / S)), P_g = Σ_cells x_g, S = Σ_g P_g, TS = 50,000 — so a
//!   prediction is judged by its group total, not by how its cells are dispersed. Its
//!   sampling correction is the delete-1 jackknife variance of b, summed over genes.
//! * **DE**: each cell in counts per million (float64, x / (L / 10⁶)); log2 fold changes of
//!   the groups' mean CPM (ε = 10⁻⁹); Mann–Whitney p-values on log1p(CPM) against the real
//!   control cells; only the genes whose control mean CPM exceeds 5 are tested, and BH runs
//!   over them.
//!
//! Everything is float64 from the float32 cells, as cell-eval2 widens them.

use super::de::DeTable;
use super::expr::Bulk;
use crate::de::mannwhitney::{benjamini_hochberg_scipy, SortedControls};
use crate::error::Result;
use crate::stats::descriptive::pairwise_sum;
use ndarray::{Array2, ArrayView2, Axis};

/// cell-eval2's `bulk_target_sum`: the total a group-sum bulk is scaled to.
pub const BULK_TARGET_SUM: f64 = 5e4;

/// The total each cell is scaled to for DE (counts per million: cell-eval2's `target_sum`).
const CPM_TOTAL: f64 = 1e6;

/// cell-eval2's `filter_gene_min_cpm_cell`: a gene is tested when its control mean CPM
/// exceeds this.
pub const MIN_CONTROL_CPM: f64 = 5.0;

/// The pseudocount of the fold changes, in CPM.
const EPSILON: f64 = 1e-9;

/// Cells per chunk of the jackknife's sums (cell-eval2's chunking, which sets their order).
const JACKKNIFE_CHUNK: usize = 512;

/// Each gene's sum over the cells, widened to float64, in row order.
fn column_sums(cells: ArrayView2<'_, f32>) -> Vec<f64> {
    let mut sums = vec![0f64; cells.ncols()];
    for row in cells.rows() {
        sums.iter_mut()
            .zip(row)
            .for_each(|(s, &x)| *s += f64::from(x));
    }
    sums
}

/// A group's `bulk_lognorm` pseudobulk and its jackknife correction.
pub fn bulk(cells: ArrayView2<'_, f32>) -> Bulk {
    let totals = column_sums(cells);
    let total = pairwise_sum(&totals);
    if total == 0.0 {
        // No mass, no composition: cell-eval2 gives the zero bulk.
        return Bulk {
            mean: vec![0.0; totals.len()],
            correction: 0.0,
        };
    }
    let scale = BULK_TARGET_SUM / total;
    Bulk {
        mean: totals.iter().map(|&p| (p * scale).ln_1p()).collect(),
        correction: jackknife(cells, &totals, total),
    }
}

/// The delete-1 jackknife variance of the bulk, summed over genes:
/// ((n − 1)/n) Σ_g Σ_i (d_ig − d̄_g)², d_ig = b_g without cell i − b_g; 0 below two cells.
fn jackknife(cells: ArrayView2<'_, f32>, totals: &[f64], total: f64) -> f64 {
    let n = cells.nrows();
    if n < 2 {
        return 0.0;
    }
    let full: Vec<f64> = totals
        .iter()
        .map(|&p| (BULK_TARGET_SUM * p / total).ln_1p())
        .collect();
    let genes = totals.len();
    let (mut s1, mut s2) = (vec![0f64; genes], vec![0f64; genes]);
    let (mut c1, mut c2) = (vec![0f64; genes], vec![0f64; genes]);
    for chunk in cells.axis_chunks_iter(Axis(0), JACKKNIFE_CHUNK) {
        c1.fill(0.0);
        c2.fill(0.0);
        for row in chunk.rows() {
            let library: f64 = row.iter().map(|&x| f64::from(x)).sum();
            let rest = total - library;
            for g in 0..genes {
                let without = if rest == 0.0 {
                    0.0 // one cell held the whole group: its absence leaves the zero bulk
                } else {
                    (BULK_TARGET_SUM * (totals[g] - f64::from(row[g])) / rest).ln_1p()
                };
                let d = without - full[g];
                c1[g] += d;
                c2[g] += d * d;
            }
        }
        s1.iter_mut().zip(&c1).for_each(|(s, c)| *s += c);
        s2.iter_mut().zip(&c2).for_each(|(s, c)| *s += c);
    }
    let nf = n as f64;
    let spread: Vec<f64> = s1.iter().zip(&s2).map(|(a, b)| b - a * a / nf).collect();
    ((nf - 1.0) / nf * pairwise_sum(&spread)).max(0.0)
}

/// Each cell in counts per million, float64: x / (L / 10⁶), L the cell's total (a cell
/// without counts is left as it is).
fn cpm(cells: ArrayView2<'_, f32>) -> Array2<f64> {
    let mut out = cells.mapv(f64::from);
    for mut row in out.rows_mut() {
        let library = pairwise_sum(row.as_slice().expect("standard layout"));
        let size = if library == 0.0 {
            1.0
        } else {
            library / CPM_TOTAL
        };
        row.mapv_inplace(|x| x / size);
    }
    out
}

/// Each gene's mean over the cells.
fn column_means(cells: &Array2<f64>) -> Vec<f64> {
    let n = cells.nrows() as f64;
    let mut sums = vec![0f64; cells.ncols()];
    for row in cells.rows() {
        sums.iter_mut().zip(row).for_each(|(s, &x)| *s += x);
    }
    sums.into_iter().map(|s| s / n).collect()
}

/// The real control cells prepared once for the DE of every group: the tested genes, their
/// mean CPM and their log1p(CPM) sorted per gene.
pub struct CountsReference {
    /// The tested genes (control mean CPM > [`MIN_CONTROL_CPM`]), in panel order.
    pub tested: Vec<usize>,
    mean: Vec<f64>,
    sorted: SortedControls<f64>,
}

impl CountsReference {
    /// Prepares the control cells (raw counts, cells × genes). Errors without a cell.
    pub fn new(controls: ArrayView2<'_, f32>) -> Result<Self> {
        Self::with_gate(controls, MIN_CONTROL_CPM)
    }

    /// As [`CountsReference::new`], testing the genes whose control mean CPM exceeds
    /// `min_cpm` (cell-eval2's `filter_gene_min_cpm_cell`).
    pub fn with_gate(controls: ArrayView2<'_, f32>, min_cpm: f64) -> Result<Self> {
        let z = cpm(controls);
        let all = column_means(&z);
        let tested: Vec<usize> = (0..all.len()).filter(|&g| all[g] > min_cpm).collect();
        let logs = z.select(Axis(1), &tested).mapv(f64::ln_1p);
        Ok(CountsReference {
            mean: tested.iter().map(|&g| all[g]).collect(),
            sorted: SortedControls::new(logs.view())?,
            tested,
        })
    }

    /// The DE table of a group's cells (raw counts) against the controls, over the tested
    /// genes.
    pub fn table(&self, cells: ArrayView2<'_, f32>) -> Result<DeTable> {
        let z = cpm(cells).select(Axis(1), &self.tested);
        let lfc: Vec<f64> = column_means(&z)
            .iter()
            .zip(&self.mean)
            .map(|(&t, &c)| ((t + EPSILON) / (c + EPSILON)).log2())
            .collect();
        let tests = self.sorted.test(z.mapv(f64::ln_1p).view())?;
        let p_value: Vec<f64> = tests.iter().map(|t| t.p_value).collect();
        let fdr = benjamini_hochberg_scipy(&p_value);
        Ok(DeTable::from_parts(lfc, p_value, &fdr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn bulk_sums_then_transforms_and_its_mass_is_the_target() {
        let b = bulk(array![[1.0f32, 3.0], [1.0, 5.0]].view());
        // P = (2, 8), S = 10.
        assert_eq!(b.mean[0], (2.0f64 * (BULK_TARGET_SUM / 10.0)).ln_1p());
        let mass: f64 = b.mean.iter().map(|m| m.exp_m1()).sum();
        assert!((mass / BULK_TARGET_SUM - 1.0).abs() < 1e-14);
        // No mass: the zero bulk.
        assert_eq!(bulk(array![[0.0f32, 0.0]].view()).mean, vec![0.0, 0.0]);
    }

    #[test]
    fn jackknife_by_hand_and_zero_for_identical_cells() {
        // Two cells (1, 0) and (0, 1): leaving out either leaves one gene with all the mass.
        let b = bulk(array![[1.0f32, 0.0], [0.0, 1.0]].view());
        let full = (BULK_TARGET_SUM / 2.0).ln_1p();
        let top = BULK_TARGET_SUM.ln_1p();
        // Gene 0: d = (−full, top − full); gene 1 the same, swapped.
        let d = [-full, top - full];
        let mean = (d[0] + d[1]) / 2.0;
        let q = (d[0] - mean).powi(2) + (d[1] - mean).powi(2);
        assert!((b.correction - 0.5 * 2.0 * q).abs() < 1e-12 * b.correction);
        let same = bulk(array![[2.0f32, 3.0], [2.0, 3.0], [2.0, 3.0]].view());
        assert!(same.correction.abs() < 1e-15);
    }
}
