//! Normalised inverse rank (SPEC §6.1): how often a prediction is closer to its own truth than
//! to other perturbations' truths.

use ndarray::{Array1, ArrayView1, ArrayView2};
use rayon::prelude::*;

/// Euclidean distance, summed in order (like scipy's `cdist`).
fn distance(a: ArrayView1<f64>, b: ArrayView1<f64>) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b.iter()) {
        let d = x - y;
        s += d * d;
    }
    s.sqrt()
}

/// NIR_i = (1/(n−1)) Σ_{j≠i} 1[d(pred_i, truth_i) < d(pred_i, truth_j)] (ties are failures);
/// rows of `pred` and `truth` are the same perturbations. All NaN when n < 2.
pub fn nir_scores(pred: ArrayView2<f64>, truth: ArrayView2<f64>) -> Array1<f64> {
    let n = pred.nrows();
    if n < 2 {
        return Array1::from_elem(n, f64::NAN);
    }
    let scores: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| {
            let own = distance(pred.row(i), truth.row(i));
            let wins = (0..n)
                .filter(|&j| j != i && own < distance(pred.row(i), truth.row(j)))
                .count();
            wins as f64 / (n - 1) as f64
        })
        .collect();
    Array1::from(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn spec_worked_example() {
        // SPEC §10.
        let pred = array![[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]];
        let truth = array![[0.1, 0.0], [2.0, 2.0], [1.0, 1.0]];
        assert_eq!(nir_scores(pred.view(), truth.view()), array![1.0, 0.0, 0.5]);
    }

    #[test]
    fn ties_are_failures() {
        let pred = array![[0.0], [0.0]];
        let truth = array![[1.0], [-1.0]];
        assert_eq!(nir_scores(pred.view(), truth.view()), array![0.0, 0.0]);
    }
}
