//! Distances between two samples of cells taken whole, in a space (SPEC §12.3's multivariate
//! variants): GGE's `multivariate_mmd` (RBF, σ² = the median of the positive squared
//! distances of the pooled sample), the multi-bandwidth MMD (Σ over γ ∈ logspace(1, −3, 5) of
//! the kernels exp(−γ‖x − y‖²)) and the energy distance 2E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖.
//!
//! All three read the same squared Euclidean distances, computed once per pair of cells from
//! their differences (not ‖x‖² + ‖y‖² − 2x·y, whose cancellation would turn equal cells into
//! tiny positive distances and move the median); the GT sample's own distances are shared by
//! every model compared with it ([`WithinDistances`]).

use super::kernel::{add_lanes, rbf_sum, LANES};
use ndarray::Array2;

/// The bandwidths γ of the multi-bandwidth MMD: numpy's `logspace(1, -3, 5)`.
pub const MULTISCALE_GAMMAS: [f64; 5] = [10.0, 1.0, 0.1, 0.01, 0.001];

/// Squared Euclidean distance of two cells, summed in fixed lanes (vectorised; the same order
/// everywhere).
fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; LANES];
    let (ac, bc) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ar, br) = (ac.remainder(), bc.remainder());
    for (x, y) in ac.zip(bc) {
        for l in 0..LANES {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    for (l, (x, y)) in ar.iter().zip(br).enumerate() {
        let d = x - y;
        acc[l] += d * d;
    }
    add_lanes(acc)
}

/// The squared distances of a sample's pairs i < j (row-major triangle).
pub struct WithinDistances {
    squared: Vec<f64>,
    /// Cells in the sample.
    pub n: usize,
}

impl WithinDistances {
    /// Computes them for the rows of `cells` (contiguous rows, standard layout).
    pub fn new(cells: &Array2<f64>) -> Self {
        let cells = cells.as_standard_layout();
        let rows: Vec<&[f64]> = rows_of(&cells);
        let mut squared = Vec::with_capacity(rows.len() * rows.len().saturating_sub(1) / 2);
        for (i, a) in rows.iter().enumerate() {
            for b in &rows[i + 1..] {
                squared.push(squared_distance(a, b));
            }
        }
        WithinDistances {
            squared,
            n: rows.len(),
        }
    }
}

/// The rows of a standard-layout array as slices.
fn rows_of<'a>(cells: &'a ndarray::CowArray<'_, f64, ndarray::Ix2>) -> Vec<&'a [f64]> {
    cells
        .rows()
        .into_iter()
        .map(|r| r.to_slice().expect("standard layout"))
        .collect()
}

/// The multivariate values for one comparison.
pub struct Multivariate {
    /// GGE's `multivariate_mmd`: unbiased RBF MMD², σ by the median heuristic, clamped ≥ 0.
    pub mmd: f64,
    /// The unbiased MMD² of the multi-bandwidth kernel, clamped ≥ 0.
    pub mmd_multiscale: f64,
    /// The energy distance (V-statistics, every pair).
    pub energy: f64,
}

/// The multivariate distances between the GT sample (its within distances precomputed) and a
/// sample of predicted cells. NaN when either sample has fewer than 2 cells.
pub fn multivariate(
    truth: &Array2<f64>,
    truth_within: &WithinDistances,
    predicted: &Array2<f64>,
) -> Multivariate {
    let (n, m) = (truth_within.n, predicted.nrows());
    if n < 2 || m < 2 {
        return Multivariate {
            mmd: f64::NAN,
            mmd_multiscale: f64::NAN,
            energy: f64::NAN,
        };
    }
    let xx = &truth_within.squared;
    let yy = WithinDistances::new(predicted).squared;
    let (truth, predicted) = (truth.as_standard_layout(), predicted.as_standard_layout());
    let (tr, pr) = (rows_of(&truth), rows_of(&predicted));
    let xy: Vec<f64> = tr
        .iter()
        .flat_map(|a| pr.iter().map(move |b| squared_distance(a, b)))
        .collect();
    let sigma2 = median_positive([xx.as_slice(), &yy, &xy]).unwrap_or(1.0);
    let (nf, mf) = (n as f64, m as f64);
    // Within sums run over i < j: twice that is the off-diagonal sum.
    let unbiased = |gamma: f64| {
        2.0 * rbf_sum(xx, gamma) / (nf * (nf - 1.0)) + 2.0 * rbf_sum(&yy, gamma) / (mf * (mf - 1.0))
            - 2.0 * rbf_sum(&xy, gamma) / (nf * mf)
    };
    let mmd = unbiased(1.0 / (2.0 * sigma2)).max(0.0);
    let mmd_multiscale = MULTISCALE_GAMMAS
        .iter()
        .map(|&g| unbiased(g))
        .sum::<f64>()
        .max(0.0);
    let root_sum = |d: &[f64]| d.iter().map(|v| v.sqrt()).sum::<f64>();
    let energy = 2.0 * root_sum(&xy) / (nf * mf)
        - 2.0 * root_sum(xx) / (nf * nf)
        - 2.0 * root_sum(&yy) / (mf * mf);
    Multivariate {
        mmd,
        mmd_multiscale,
        energy: energy.max(0.0),
    }
}

/// numpy's `median` of the positive values of the union (None when there are none).
fn median_positive(parts: [&[f64]; 3]) -> Option<f64> {
    let mut v: Vec<f64> = parts
        .iter()
        .flat_map(|p| p.iter().copied())
        .filter(|&d| d > 0.0)
        .collect();
    if v.is_empty() {
        return None;
    }
    let (len, k) = (v.len(), v.len() / 2);
    let (below, &mut hi, _) = v.select_nth_unstable_by(k, f64::total_cmp);
    Some(if len % 2 == 1 {
        hi
    } else {
        (below.iter().copied().fold(f64::NEG_INFINITY, f64::max) + hi) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// GGE's MultivariateMMD written out: every ordered pair, numpy's median.
    fn mmd_brute(x: &Array2<f64>, y: &Array2<f64>, sigma2: Option<f64>) -> f64 {
        let z: Vec<Vec<f64>> = x
            .rows()
            .into_iter()
            .chain(y.rows())
            .map(|r| r.to_vec())
            .collect();
        let sq =
            |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum::<f64>();
        let mut d: Vec<f64> = Vec::new();
        for a in &z {
            for b in &z {
                let s = sq(a, b);
                if s > 0.0 {
                    d.push(s);
                }
            }
        }
        d.sort_by(f64::total_cmp);
        let med = (d[(d.len() - 1) / 2] + d[d.len() / 2]) / 2.0;
        let s2 = sigma2.unwrap_or(med);
        let k = |a: &[f64], b: &[f64]| (-sq(a, b) / (2.0 * s2)).exp();
        let mean = |p: &Array2<f64>, q: &Array2<f64>, skip_diag: bool| {
            let mut s = 0.0;
            for (i, a) in p.rows().into_iter().enumerate() {
                for (j, b) in q.rows().into_iter().enumerate() {
                    if !(skip_diag && i == j) {
                        s += k(a.as_slice().unwrap(), b.as_slice().unwrap());
                    }
                }
            }
            let (n, m) = (p.nrows() as f64, q.nrows() as f64);
            s / if skip_diag { n * (n - 1.0) } else { n * m }
        };
        (mean(x, x, true) + mean(y, y, true) - 2.0 * mean(x, y, false)).max(0.0)
    }

    #[test]
    fn identical_samples_are_at_distance_zero() {
        let x = array![[0.0, 1.0, 2.0], [1.0, 1.0, 0.5], [3.0, 0.0, 1.0]];
        let v = multivariate(&x, &WithinDistances::new(&x), &x);
        assert_eq!(v.mmd, 0.0);
        assert_eq!(v.energy, 0.0);
        assert!(v.mmd_multiscale.abs() < 1e-15);
    }

    #[test]
    fn mmd_matches_gge_written_out_and_energy_a_hand_value() {
        let x = array![[0.0, 1.0], [1.0, 1.0], [3.0, 0.0], [0.5, 2.0]];
        let y = array![[1.0, 0.0], [2.0, 2.0], [2.0, 2.0]];
        let v = multivariate(&x, &WithinDistances::new(&x), &y);
        let want = mmd_brute(&x, &y, None);
        assert!((v.mmd - want).abs() <= 1e-14 * want, "{} vs {want}", v.mmd);
        // One point each, at distance 5 in 2-D (3-4-5): energy = 2·5 − 0 − 0 = 10.
        let (a, b) = (
            array![[0.0, 0.0], [0.0, 0.0]],
            array![[3.0, 4.0], [3.0, 4.0]],
        );
        let e = multivariate(&a, &WithinDistances::new(&a), &b);
        assert!((e.energy - 10.0).abs() < 1e-12);
    }
}
