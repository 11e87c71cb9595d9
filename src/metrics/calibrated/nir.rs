//! Normalised inverse rank (SPEC §6.1): how often a prediction is closer to its own truth than
//! to other perturbations' truths.

use crate::metrics::spec::{Direction, MetricInput, MetricSpec, NullModel};
use crate::stats::descriptive::column_means;
use ndarray::{Array1, ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use std::collections::HashMap;

/// SPEC §6's metric 13.
pub const SPEC: MetricSpec = MetricSpec {
    name: "nir",
    doc: "how often a prediction is closer to its own truth than to the other perturbations' (0.5 = chance)",
    family: super::FAMILY,
    direction: Direction::HigherBetter,
    perfect: 1.0,
    null: NullModel::DatasetMean,
    input: MetricInput::AllProfiles,
};

/// Fewest prediction rows per parallel task: each task packs every truth for its GEMM, so a
/// task needs enough rows to amortise that.
const MIN_ROWS_PER_TASK: usize = 32;

/// Genes per f32 GEMM block of [`nir_scores`]: each block's products are summed in f32 over
/// this many terms (error ≤ γ_K Σ|a·b|), then the blocks in f64.
const GENES_PER_BLOCK: usize = 256;

/// Largest magnitude of a centred value for the f32 path: products and sums of 8192 of them
/// stay far below f32::MAX. Larger values use the f64 GEMM.
const F32_SAFE: f64 = 1e15;

/// NIR_i = (1/(n−1)) Σ_{j≠i} 1[d(pred_i, truth_i) < d(pred_i, truth_j)] (ties are failures);
/// `pred[i]` and row i of `truth` are the same perturbation. All NaN when n < 2.
///
/// Squared distances to every truth come from a GEMM, ‖a‖² + ‖b‖² − 2 a·b on profiles centred
/// on the mean truth (a = pred − c, b = truth − c: the distance is unchanged and the terms
/// are small), in f32 (twice the GEMM speed of f64) over blocks of [`GENES_PER_BLOCK`] genes
/// summed in f64. Wherever that value is within a rigorous bound of its error of the own
/// distance, the comparison is redone with the direct f64 distance, so the result is
/// identical to comparing direct distances (scipy's `cdist`) everywhere. Identical
/// prediction rows (a baseline that predicts one profile for many perturbations) share one
/// GEMM row.
pub fn nir_scores(pred: &[ArrayView1<f64>], truth: ArrayView2<f64>) -> Array1<f64> {
    nir_scores_with(pred, &NirTruths::new(truth))
}

/// Truth profiles prepared for [`nir_scores_with`]: centred on their mean, in f32, with
/// their squared norms. Prepared once, they serve every model that covers all of them.
pub struct NirTruths<'a> {
    truth: ndarray::CowArray<'a, f64, ndarray::Ix2>,
    centre: Array1<f64>,
    /// Centred truths in f32, row-major n × G; empty when some value is beyond [`F32_SAFE`].
    truth32: Vec<f32>,
    truth_sq: Vec<f64>,
    truth_norm: Vec<f64>,
}

impl<'a> NirTruths<'a> {
    /// Prepares the truths (rows: perturbations, columns: genes).
    pub fn new(truth: ArrayView2<'a, f64>) -> Self {
        let (n, g) = truth.dim();
        let truth: ndarray::CowArray<'a, f64, ndarray::Ix2> = if truth.is_standard_layout() {
            truth.into()
        } else {
            truth.as_standard_layout().into_owned().into()
        };
        let all: Vec<usize> = (0..n).collect();
        let centre = column_means(truth.view(), &all);
        let mut out = NirTruths {
            truth,
            centre,
            truth32: Vec::new(),
            truth_sq: Vec::new(),
            truth_norm: Vec::new(),
        };
        let fits = out
            .truth
            .axis_iter(Axis(0))
            .into_par_iter()
            .all(|t| out.fits_f32(&t));
        if n < 2 || !fits {
            return out;
        }
        let mut truth32 = vec![0f32; n * g];
        truth32
            .par_chunks_mut(g)
            .zip(out.truth.axis_iter(Axis(0)).into_par_iter())
            .for_each(|(o, row)| out.centred32(row, o));
        out.truth_sq = truth32.par_chunks(g).map(norm_sq).collect();
        out.truth_norm = out.truth_sq.iter().map(|s| s.sqrt()).collect();
        out.truth32 = truth32;
        out
    }

    /// `row − centre` in f32.
    fn centred32(&self, row: ArrayView1<f64>, out: &mut [f32]) {
        for ((o, &x), &c) in out.iter_mut().zip(row.iter()).zip(self.centre.iter()) {
            *o = (x - c) as f32;
        }
    }

    /// Every centred value of `row` is within the f32 path's range.
    fn fits_f32(&self, row: &ArrayView1<f64>) -> bool {
        row.iter()
            .zip(self.centre.iter())
            .all(|(&x, &c)| (x - c).abs() < F32_SAFE)
    }
}

/// Σ x² of f32 values, in f64.
fn norm_sq(v: &[f32]) -> f64 {
    v.iter().map(|&x| (x as f64) * (x as f64)).sum::<f64>()
}

/// [`nir_scores`] against prepared truths.
pub fn nir_scores_with(pred: &[ArrayView1<f64>], truths: &NirTruths<'_>) -> Array1<f64> {
    let truth = &truths.truth;
    let (n, g) = truth.dim();
    assert_eq!(pred.len(), n, "one prediction per truth");
    if n < 2 {
        return Array1::from_elem(n, f64::NAN);
    }
    if truths.truth32.is_empty() || !pred.par_iter().all(|p| truths.fits_f32(p)) {
        return nir_scores_direct(pred, truth.view());
    }
    let users = distinct_rows(pred);
    let (truth32, truth_sq, truth_norm) = (&truths.truth32, &truths.truth_sq, &truths.truth_norm);
    let centred32 = |row: ArrayView1<f64>, out: &mut [f32]| truths.centred32(row, out);
    // Error bounds (u, ε: f32, f64 unit roundoffs):
    // - cross products: γ_K Σ|a_k b_k| per f32 block plus the f64 sum of the blocks, at most
    //   (γ_K + (g/K)·ε)·‖â‖‖b̂‖ (Cauchy–Schwarz);
    // - rounding the centred values to f32 (relative u + 2ε) moves ‖â − b̂‖² from
    //   ‖a − b‖² by at most 3(u + 2ε)(‖a‖ + ‖b‖)²;
    // - the f64 norms, the direct distances and the final sum: ≤ g·ε relative each, taken
    //   16 times over the magnitudes involved;
    // - absolute slack for f32 underflow.
    let u = f32::EPSILON as f64 / 2.0;
    let eps = f64::EPSILON / 2.0;
    let k = GENES_PER_BLOCK.min(g) as f64;
    let gamma_k = k * u / (1.0 - k * u);
    let cross_tol = 2.0 * 1.01 * (gamma_k + (g as f64 / k + 1.0) * eps);
    let round_tol = 3.0 * 1.01 * (u + 2.0 * eps);
    let f64_tol = 16.0 * g as f64 * f64::EPSILON;
    let abs_tol = 1e-30;
    let per_task = users
        .len()
        .div_ceil(4 * rayon::current_num_threads())
        .max(MIN_ROWS_PER_TASK);
    let truth_rows = faer::MatRef::from_row_major_slice(truth32, n, g);
    let mut scores = vec![0.0; n];
    let counted: Vec<Vec<(usize, f64)>> = users
        .par_chunks(per_task)
        .map(|chunk| {
            let mut lhs = vec![0f32; chunk.len() * g];
            for (r, rows) in chunk.iter().enumerate() {
                centred32(pred[rows[0]], &mut lhs[r * g..(r + 1) * g]);
            }
            let lhs_sq: Vec<f64> = lhs.chunks(g).map(norm_sq).collect();
            let lhs_rows = faer::MatRef::from_row_major_slice(&lhs, chunk.len(), g);
            // cross[r·n + j] = â_r · b̂_j: f32 blocks of genes, summed in f64. The block is
            // computed as truths × predictionsᵀ (n × rows, column-major), so that each
            // prediction's products are one contiguous column.
            let mut cross = vec![0f64; chunk.len() * n];
            let mut block = faer::Mat::<f32>::zeros(n, chunk.len());
            for k0 in (0..g).step_by(GENES_PER_BLOCK) {
                let kb = GENES_PER_BLOCK.min(g - k0);
                faer::linalg::matmul::matmul(
                    block.as_mut(),
                    faer::Accum::Replace,
                    truth_rows.subcols(k0, kb),
                    lhs_rows.subcols(k0, kb).transpose(),
                    1.0f32,
                    faer::Par::Seq,
                );
                for (r, out) in cross.chunks_mut(n).enumerate() {
                    let col = block.col(r).try_as_col_major().expect("owned: contiguous");
                    for (o, &x) in out.iter_mut().zip(col.as_slice()) {
                        *o += x as f64;
                    }
                }
            }
            let mut out = Vec::new();
            for (r, rows) in chunk.iter().enumerate() {
                let p = pred[rows[0]];
                let (a_sq, a_norm) = (lhs_sq[r], lhs_sq[r].sqrt());
                let cross = &cross[r * n..(r + 1) * n];
                for &i in rows {
                    let own_sq = squared_distance(p, truth.row(i));
                    let own = own_sq.sqrt();
                    let wins = (0..n)
                        .filter(|&j| {
                            if j == i {
                                return false;
                            }
                            let (b_sq, b_norm) = (truth_sq[j], truth_norm[j]);
                            let approx = a_sq + b_sq - 2.0 * cross[j];
                            let band = cross_tol * a_norm * b_norm
                                + round_tol * (a_norm + b_norm) * (a_norm + b_norm)
                                + f64_tol * (a_sq + b_sq + own_sq + 2.0 * cross[j].abs())
                                + abs_tol;
                            if approx - band > own_sq {
                                true
                            } else if approx + band < own_sq {
                                false
                            } else {
                                own < squared_distance(p, truth.row(j)).sqrt()
                            }
                        })
                        .count();
                    out.push((i, wins as f64 / (n - 1) as f64));
                }
            }
            out
        })
        .collect();
    for (i, s) in counted.into_iter().flatten() {
        scores[i] = s;
    }
    Array1::from(scores)
}

/// The distinct rows of `rows` by bit pattern: `users[u]` lists the rows equal to distinct
/// row u, in order. Rows are bucketed by a fingerprint and compared in full only within a
/// bucket.
fn distinct_rows(rows: &[ArrayView1<f64>]) -> Vec<Vec<usize>> {
    let same = |a: &ArrayView1<f64>, b: &ArrayView1<f64>| {
        a.len() == b.len()
            && a.iter()
                .zip(b.iter())
                .all(|(x, y)| x.to_bits() == y.to_bits())
    };
    let prints: Vec<u64> = rows.par_iter().map(fingerprint).collect();
    let mut users: Vec<Vec<usize>> = Vec::new();
    let mut by_print: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, row) in rows.iter().enumerate() {
        let bucket = by_print.entry(prints[i]).or_default();
        match bucket.iter().find(|&&u| same(&rows[users[u][0]], row)) {
            Some(&u) => users[u].push(i),
            None => {
                bucket.push(users.len());
                users.push(vec![i]);
            }
        }
    }
    users
}

/// A 64-bit fingerprint of a row's bits (four independent multiply–xor lanes, combined).
fn fingerprint(row: &ArrayView1<f64>) -> u64 {
    const MUL: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [1u64, 2, 3, 4];
    for (i, x) in row.iter().enumerate() {
        let lane = &mut lanes[i % 4];
        *lane = (*lane ^ x.to_bits()).wrapping_mul(MUL).rotate_left(29);
    }
    lanes
        .iter()
        .fold(row.len() as u64, |h, &l| (h ^ l).wrapping_mul(MUL))
}

/// Σ (a − b)², summed in order (like scipy's `cdist`).
fn squared_distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b.iter()) {
        let d = x - y;
        s += d * d;
    }
    s
}

/// NIR by direct distances only (the definition; tests compare the GEMM form with it).
pub fn nir_scores_direct(pred: &[ArrayView1<f64>], truth: ArrayView2<f64>) -> Array1<f64> {
    let n = pred.len();
    if n < 2 {
        return Array1::from_elem(n, f64::NAN);
    }
    let scores: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let own = squared_distance(pred[i], truth.row(i)).sqrt();
            let wins = (0..n)
                .filter(|&j| j != i && own < squared_distance(pred[i], truth.row(j)).sqrt())
                .count();
            wins as f64 / (n - 1) as f64
        })
        .collect();
    Array1::from(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    fn rows(a: &Array2<f64>) -> Vec<ArrayView1<'_, f64>> {
        a.rows().into_iter().collect()
    }

    #[test]
    fn distinct_rows_by_bits() {
        let a = array![
            [1.0, 2.0, 3.0],
            [1.0, 2.0, 4.0],
            [1.0, 2.0, 3.0],
            [0.0, 0.0, 0.0],
            [1.0, 2.0, 4.0],
            [-0.0, 0.0, 0.0],
        ];
        let users = distinct_rows(&rows(&a));
        assert_eq!(users, vec![vec![0, 2], vec![1, 4], vec![3], vec![5]]);
    }

    #[test]
    fn spec_worked_example() {
        // SPEC §10.
        let pred = array![[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]];
        let truth = array![[0.1, 0.0], [2.0, 2.0], [1.0, 1.0]];
        assert_eq!(
            nir_scores(&rows(&pred), truth.view()),
            array![1.0, 0.0, 0.5]
        );
    }

    #[test]
    fn ties_are_failures() {
        let pred = array![[0.0], [0.0]];
        let truth = array![[1.0], [-1.0]];
        assert_eq!(nir_scores(&rows(&pred), truth.view()), array![0.0, 0.0]);
    }

    #[test]
    fn f32_form_equals_direct_distances_far_from_the_origin() {
        // Profiles at 1000 + small differences (the centring carries the f32 GEMM), with
        // distances that differ by a few ulps, an exact tie and, separately, values beyond
        // the f32 range (the f64 fallback).
        let (n, g) = (60, 300);
        let mut next = crate::stats::lcg::uniform_stream(777);
        let mut truth = Array2::from_shape_fn((n, g), |_| 1000.0 + 1e-3 * next());
        let pred = Array2::from_shape_fn((n, g), |_| 1000.0 + 1e-3 * next());
        for j in 1..4 {
            let mut row = truth.row(0).to_owned();
            row[j] = f64::from_bits(row[j].to_bits() + j as u64);
            truth.row_mut(j).assign(&row);
        }
        let row = truth.row(5).to_owned();
        truth.row_mut(6).assign(&row);
        let direct = nir_scores_direct(&rows(&pred), truth.view());
        assert_eq!(nir_scores(&rows(&pred), truth.view()), direct);
        let huge = truth.mapv(|v| v * 1e18);
        assert_eq!(
            nir_scores(&rows(&huge), truth.view()),
            nir_scores_direct(&rows(&huge), truth.view())
        );
    }

    #[test]
    fn gemm_form_equals_direct_distances_with_ties_and_repeats() {
        // Deterministic pseudo-random profiles with exact ties (repeated truths and repeated
        // predictions) and near-ties (a truth moved by one ulp).
        let (n, g) = (70, 50);
        let mut uniform = crate::stats::lcg::uniform_stream(12345);
        let mut next = || uniform() * 3.0;
        let mut truth = ndarray::Array2::from_shape_fn((n, g), |_| next());
        let mut pred = ndarray::Array2::from_shape_fn((n, g), |_| next());
        for j in 0..5 {
            let row = truth.row(j).to_owned();
            truth.row_mut(j + 10).assign(&row);
            let row = pred.row(0).to_owned();
            pred.row_mut(j + 20).assign(&row);
        }
        truth[[30, 0]] = f64::from_bits(truth[[31, 0]].to_bits() + 1);
        for k in 1..g {
            truth[[30, k]] = truth[[31, k]];
        }
        pred.row_mut(31).assign(&truth.row(30));
        assert_eq!(
            nir_scores(&rows(&pred), truth.view()),
            nir_scores_direct(&rows(&pred), truth.view())
        );
    }
}
