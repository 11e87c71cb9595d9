//! Normalised inverse rank (SPEC §6.1): how often a prediction is closer to its own truth than
//! to other perturbations' truths.

use ndarray::{Array1, ArrayView1, ArrayView2};
use rayon::prelude::*;
use std::collections::HashMap;

/// Fewest prediction rows per parallel task: each task packs every truth for its GEMM, so a
/// task needs enough rows to amortise that.
const MIN_ROWS_PER_TASK: usize = 32;

/// NIR_i = (1/(n−1)) Σ_{j≠i} 1[d(pred_i, truth_i) < d(pred_i, truth_j)] (ties are failures);
/// `pred[i]` and row i of `truth` are the same perturbation. All NaN when n < 2.
///
/// Squared distances to every truth come from a GEMM, ‖p‖² + ‖t‖² − 2 p·t. Wherever that
/// value is within a rigorous rounding bound of the own distance, the comparison is redone
/// with the direct distance, so the result is identical to comparing direct distances
/// (scipy's `cdist`) everywhere. Identical prediction rows (a baseline that predicts one
/// profile for many perturbations) share one GEMM row.
pub fn nir_scores(pred: &[ArrayView1<f64>], truth: ArrayView2<f64>) -> Array1<f64> {
    let (n, g) = truth.dim();
    assert_eq!(pred.len(), n, "one prediction per truth");
    if n < 2 {
        return Array1::from_elem(n, f64::NAN);
    }
    // Distinct prediction rows, by bit pattern; `users[u]` are the rows equal to distinct u.
    let mut users: Vec<Vec<usize>> = Vec::new();
    let mut seen: HashMap<Vec<u64>, usize> = HashMap::new();
    for (i, p) in pred.iter().enumerate() {
        let key: Vec<u64> = p.iter().map(|x| x.to_bits()).collect();
        let next = users.len();
        let u = *seen.entry(key).or_insert(next);
        if u == next {
            users.push(Vec::new());
        }
        users[u].push(i);
    }
    drop(seen);
    let truth = truth.as_standard_layout();
    let truth_rows = truth.as_slice().expect("standard layout");
    // Truths as the GEMM's right-hand side, G × n, without a copy.
    let truth_t = faer::MatRef::from_row_major_slice(truth_rows, n, g).transpose();
    let truth_sq: Vec<f64> = (0..n).map(|j| squared_norm(truth.row(j))).collect();
    // Rounding bound of the GEMM form and of a direct sum over g terms (both ≤ g·ε relative
    // to the magnitudes involved); 16× for margin.
    let tol = 16.0 * g as f64 * f64::EPSILON;
    let per_task = users
        .len()
        .div_ceil(4 * rayon::current_num_threads())
        .max(MIN_ROWS_PER_TASK);
    let mut scores = vec![0.0; n];
    let counted: Vec<Vec<(usize, f64)>> = users
        .par_chunks(per_task)
        .map(|chunk| {
            // cross[r][j] = p_r · t_j for this task's distinct rows.
            let lhs = faer::Mat::<f64>::from_fn(chunk.len(), g, |r, k| pred[chunk[r][0]][k]);
            let mut cross = faer::Mat::<f64>::zeros(chunk.len(), n);
            faer::linalg::matmul::matmul(
                cross.as_mut(),
                faer::Accum::Replace,
                lhs.as_ref(),
                truth_t,
                1.0,
                faer::Par::Seq,
            );
            let mut out = Vec::new();
            for (r, rows) in chunk.iter().enumerate() {
                let p = pred[rows[0]];
                let p_sq = squared_norm(p);
                for &i in rows {
                    let own_sq = squared_distance(p, truth.row(i));
                    let own = own_sq.sqrt();
                    let wins = (0..n)
                        .filter(|&j| {
                            if j == i {
                                return false;
                            }
                            let approx = p_sq + truth_sq[j] - 2.0 * cross[(r, j)];
                            let band = tol * (p_sq + truth_sq[j] + own_sq) + f64::MIN_POSITIVE;
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

/// Σ (a − b)², summed in order (like scipy's `cdist`).
fn squared_distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b.iter()) {
        let d = x - y;
        s += d * d;
    }
    s
}

fn squared_norm(a: ArrayView1<f64>) -> f64 {
    a.iter().map(|x| x * x).sum()
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
    fn gemm_form_equals_direct_distances_with_ties_and_repeats() {
        // Deterministic pseudo-random profiles with exact ties (repeated truths and repeated
        // predictions) and near-ties (a truth moved by one ulp).
        let (n, g) = (70, 50);
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 11) as f64 / (1u64 << 53) as f64) * 3.0
        };
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
