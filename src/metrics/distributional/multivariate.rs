//! Distances between two samples of cells taken whole, in a space (SPEC §12.3's multivariate
//! variants): GGE's `multivariate_mmd` (RBF, σ² = the median of the positive squared
//! distances of the pooled sample), the multi-bandwidth MMD (Σ over γ ∈ logspace(1, −3, 5) of
//! the kernels exp(−γ‖x − y‖²)) and the energy distance 2E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖.
//!
//! ReconEval's two are computed from the same distances: `mmd_rbf` (sklearn's `rbf_kernel` with
//! γ = 1, V-statistics) and `knn_purity` (the share of each predicted cell's k nearest real
//! cells that are perturbed rather than control).
//!
//! All of them read the same squared Euclidean distances, computed once per pair of cells from
//! their differences (not ‖x‖² + ‖y‖² − 2x·y, whose cancellation would turn equal cells into
//! tiny positive distances and move the median); the GT sample's own distances are shared by
//! every model compared with it ([`WithinDistances`]).

use super::kernel::{add_lanes, rbf_sum, LANES};
use ndarray::Array2;

/// The bandwidths γ of the multi-bandwidth MMD: numpy's `logspace(1, -3, 5)`.
pub const MULTISCALE_GAMMAS: [f64; 5] = [10.0, 1.0, 0.1, 0.01, 0.001];

/// ReconEval's `k` of `knn_purity`.
pub const KNN_PURITY_K: usize = 20;

/// Squared Euclidean distance of two cells, summed in fixed lanes (vectorised; the same order
/// everywhere).
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
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
    /// ReconEval's `mmd_rbf`: MMD² of exp(−‖x − y‖²) (γ = 1), V-statistics (every pair, the
    /// diagonal included), not clamped.
    pub mmd_rbf: f64,
    /// ReconEval's `knn_purity`: over the predicted cells, the mean share of their
    /// [`KNN_PURITY_K`] nearest cells of the pool (GT sample ∪ control pool) that are GT cells.
    pub knn_purity: f64,
}

/// The multivariate distances between the GT sample (its within distances precomputed) and a
/// sample of predicted cells, and the KNN purity of the predicted cells in the pool of the GT
/// sample and `control_pool` (control cells, as many as the GT sample: 0.5 is then chance).
/// NaN when either sample has fewer than 2 cells (the purity: when there are no control cells).
pub fn multivariate(
    truth: &Array2<f64>,
    truth_within: &WithinDistances,
    predicted: &Array2<f64>,
    control_pool: &Array2<f64>,
) -> Multivariate {
    let (n, m) = (truth_within.n, predicted.nrows());
    if n < 2 || m < 2 {
        return Multivariate {
            mmd: f64::NAN,
            mmd_multiscale: f64::NAN,
            energy: f64::NAN,
            mmd_rbf: f64::NAN,
            knn_purity: f64::NAN,
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
    // V-statistics: the n (m) diagonal terms are exp(0) = 1.
    let mmd_rbf = (nf + 2.0 * rbf_sum(xx, 1.0)) / (nf * nf)
        + (mf + 2.0 * rbf_sum(&yy, 1.0)) / (mf * mf)
        - 2.0 * rbf_sum(&xy, 1.0) / (nf * mf);
    let control_pool = control_pool.as_standard_layout();
    let knn_purity = knn_purity(&xy, n, &pr, &rows_of(&control_pool));
    Multivariate {
        mmd,
        mmd_multiscale,
        energy: energy.max(0.0),
        mmd_rbf,
        knn_purity,
    }
}

/// The mean over predicted cells of the share of their k nearest pool cells that are GT cells;
/// `to_truth` holds the squared distances of GT cell i to predicted cell j at `i · m + j`. The
/// pool lists the GT cells first, then the control cells; equal distances go to the earlier
/// pool cell, so the value does not depend on the sort's whims.
fn knn_purity(to_truth: &[f64], n: usize, predicted: &[&[f64]], control: &[&[f64]]) -> f64 {
    let m = predicted.len();
    let k = KNN_PURITY_K.min(n + control.len());
    if control.is_empty() || m == 0 {
        return f64::NAN;
    }
    let mut pool: Vec<(f64, usize)> = Vec::with_capacity(n + control.len());
    let mut perturbed = 0usize;
    for (j, cell) in predicted.iter().enumerate() {
        pool.clear();
        pool.extend((0..n).map(|i| (to_truth[i * m + j], i)));
        pool.extend(
            control
                .iter()
                .enumerate()
                .map(|(c, ctrl)| (squared_distance(cell, ctrl), n + c)),
        );
        let nearest = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        if k < pool.len() {
            pool.select_nth_unstable_by(k - 1, nearest);
        }
        perturbed += pool[..k].iter().filter(|&&(_, i)| i < n).count();
    }
    perturbed as f64 / (m * k) as f64
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
        let v = multivariate(&x, &WithinDistances::new(&x), &x, &x);
        assert_eq!(v.mmd, 0.0);
        assert_eq!(v.energy, 0.0);
        assert!(v.mmd_multiscale.abs() < 1e-15);
    }

    #[test]
    fn mmd_matches_gge_written_out_and_energy_a_hand_value() {
        let x = array![[0.0, 1.0], [1.0, 1.0], [3.0, 0.0], [0.5, 2.0]];
        let y = array![[1.0, 0.0], [2.0, 2.0], [2.0, 2.0]];
        let v = multivariate(&x, &WithinDistances::new(&x), &y, &y);
        let want = mmd_brute(&x, &y, None);
        assert!((v.mmd - want).abs() <= 1e-14 * want, "{} vs {want}", v.mmd);
        // One point each, at distance 5 in 2-D (3-4-5): energy = 2·5 − 0 − 0 = 10.
        let (a, b) = (
            array![[0.0, 0.0], [0.0, 0.0]],
            array![[3.0, 4.0], [3.0, 4.0]],
        );
        let e = multivariate(&a, &WithinDistances::new(&a), &b, &b);
        assert!((e.energy - 10.0).abs() < 1e-12);
    }

    /// ReconEval's `mmd_rbf` written out: sklearn's `rbf_kernel` (γ = 1), means over every pair.
    #[test]
    fn mmd_rbf_is_reconevals_v_statistic() {
        let x = array![[0.0, 1.0], [1.0, 1.0], [3.0, 0.0], [0.5, 2.0]];
        let y = array![[1.0, 0.0], [2.0, 2.0], [2.0, 2.5]];
        let k = |a: ndarray::ArrayView1<f64>, b: ndarray::ArrayView1<f64>| {
            (-(&a - &b).mapv(|d| d * d).sum()).exp()
        };
        let mean = |p: &Array2<f64>, q: &Array2<f64>| {
            let mut s = 0.0;
            for a in p.rows() {
                for b in q.rows() {
                    s += k(a, b);
                }
            }
            s / (p.nrows() * q.nrows()) as f64
        };
        let want = mean(&x, &x) + mean(&y, &y) - 2.0 * mean(&x, &y);
        let v = multivariate(&x, &WithinDistances::new(&x), &y, &y);
        assert!((v.mmd_rbf - want).abs() <= 1e-15, "{} vs {want}", v.mmd_rbf);
        let same = multivariate(&x, &WithinDistances::new(&x), &x, &y);
        assert!(same.mmd_rbf.abs() < 1e-15);
    }

    #[test]
    fn knn_purity_counts_perturbed_neighbours() {
        // 25 GT cells near 0 and 25 control cells near 10 on one axis: k = 20 neighbours.
        let line =
            |base: f64, n: usize| Array2::from_shape_fn((n, 1), |(i, _)| base + i as f64 * 1e-3);
        let (truth, control) = (line(0.0, 25), line(10.0, 25));
        let within = WithinDistances::new(&truth);
        let near_truth = multivariate(&truth, &within, &line(0.001, 4), &control);
        assert_eq!(near_truth.knn_purity, 1.0);
        let near_control = multivariate(&truth, &within, &line(9.9, 4), &control);
        assert_eq!(near_control.knn_purity, 0.0);
        // One predicted cell on each side: purity 1 and 0, mean 0.5.
        let middle = Array2::from_shape_vec((2, 1), vec![2.0, 8.0]).unwrap();
        let v = multivariate(&truth, &within, &middle, &control);
        assert_eq!(v.knn_purity, 0.5);
        // Without control cells there is nothing to tell apart.
        let none = Array2::zeros((0, 1));
        assert!(multivariate(&truth, &within, &middle, &none)
            .knn_purity
            .is_nan());
    }

    /// Ties go to the earlier pool cell (GT before control), whatever the sort does.
    #[test]
    fn knn_purity_breaks_ties_by_pool_order() {
        let truth = Array2::from_shape_fn((30, 1), |(i, _)| if i < 10 { 1.0 } else { 50.0 });
        let control = Array2::from_elem((30, 1), -1.0);
        let predicted = Array2::zeros((3, 1));
        // Distance 1 to 10 GT cells and to 30 control cells: 10 GT + 10 control of k = 20.
        let v = multivariate(&truth, &WithinDistances::new(&truth), &predicted, &control);
        assert_eq!(v.knn_purity, 0.5);
    }
}
