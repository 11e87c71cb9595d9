//! The linear baseline (SPEC §5; Ahlmann-Eltze et al.), as CellSimBench's
//! `solve_Y_GWP`: gene embeddings G from PCA of the train perturbations' means, perturbation
//! embeddings P = rows of G for the targeted genes, a ridge-regularised W with Y ≈ G W Pᵀ + b.

use ndarray::{Array1, Array2, ArrayView2, Axis};
use std::collections::HashMap;

/// Number of PCA components (before capping at n_train − 1 and G).
pub const LINEAR_N_COMPONENTS: usize = 10;
/// Ridge penalty.
pub const LINEAR_RIDGE: f64 = 0.1;

/// The fitted model of one fold.
pub struct LinearFit {
    /// Gene loadings, genes × k.
    pub components: Array2<f64>,
    /// W, k × k.
    pub w: Array2<f64>,
    /// Per-gene offset (mean over the train perturbations that target a gene).
    pub offset: Array1<f64>,
}

impl LinearFit {
    /// Prediction for a perturbation targeting gene `g`: G W G[g]ᵀ + b.
    pub fn predict(&self, g: usize) -> Array1<f64> {
        let emb = self.components.row(g);
        let wg = self.w.dot(&emb);
        self.components.dot(&wg) + &self.offset
    }
}

/// Top-k right singular vectors (genes × k) of the column-centred `y` (rows = perturbations),
/// by an exact thin SVD. Signs and rotations inside the span do not matter downstream.
fn pca_components(y: ArrayView2<f64>, k: usize) -> Option<Array2<f64>> {
    let (n, g) = y.dim();
    // Column means: rows added in order, divided once (numpy's axis-0 mean).
    let mut mean = Array1::<f64>::zeros(g);
    for r in 0..n {
        mean += &y.row(r);
    }
    mean /= n as f64;
    let centred = faer::Mat::<f64>::from_fn(n, g, |i, j| y[[i, j]] - mean[j]);
    if n >= GRAM_MIN_ROWS && g >= 2 * n {
        if let Some(v) = components_from_gram(&centred, k) {
            return Some(v);
        }
    }
    let svd = centred.thin_svd().ok()?;
    let v = svd.V();
    Some(Array2::from_shape_fn((g, k), |(i, j)| v[(i, j)]))
}

/// From this many train perturbations on (with at least twice as many genes), the components
/// come from the n × n Gram matrix instead of a thin SVD of the n × G matrix: O(n²G) in one
/// GEMM instead of O(nG²)-like bidiagonalisation (27 s → ~1 s for 5 folds of 1600 × 8192).
const GRAM_MIN_ROWS: usize = 128;

/// Top-k right singular vectors of `centred` (n × G) as Ycᵀ u / σ from the top-k eigenpairs
/// (u, σ²) of Yc Ycᵀ. The span equals the SVD's whenever σ_k is well separated from zero,
/// which is checked: `None` (use the SVD) when σ_k² ≤ 1e-8 σ_1².
fn components_from_gram(centred: &faer::Mat<f64>, k: usize) -> Option<Array2<f64>> {
    let (n, g) = (centred.nrows(), centred.ncols());
    let gram = product(centred.as_ref(), centred.transpose());
    let eig = gram.self_adjoint_eigen(faer::Side::Lower).ok()?;
    let (u, s) = (eig.U(), eig.S().column_vector());
    // Eigenvalues ascend: the top k are the last k.
    let top = s[n - 1];
    let lambda_k = s[n - k];
    // NaN-safe: anything but a positive, well-separated spectrum goes to the SVD.
    let separated = top > 0.0 && lambda_k > 1e-8 * top;
    if !separated {
        return None;
    }
    let uk = faer::Mat::<f64>::from_fn(n, k, |i, j| u[(i, n - 1 - j)]);
    let v = product(centred.transpose(), uk.as_ref());
    Some(Array2::from_shape_fn((g, k), |(i, j)| {
        v[(i, j)] / s[n - 1 - j].sqrt()
    }))
}

/// a · b with faer's global parallelism.
fn product(a: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>) -> faer::Mat<f64> {
    let mut out = faer::Mat::<f64>::zeros(a.nrows(), b.ncols());
    faer::linalg::matmul::matmul(
        out.as_mut(),
        faer::Accum::Replace,
        a,
        b,
        1.0,
        faer::get_global_parallelism(),
    );
    out
}

/// (A + λI)⁻¹ for a small symmetric positive-definite k × k matrix.
fn ridge_inverse(a: &Array2<f64>, lambda: f64) -> Array2<f64> {
    let k = a.nrows();
    let m = faer::Mat::<f64>::from_fn(k, k, |i, j| a[[i, j]] + if i == j { lambda } else { 0.0 });
    let inv = faer::linalg::solvers::DenseSolveCore::inverse(&m.partial_piv_lu());
    Array2::from_shape_fn((k, k), |(i, j)| inv[(i, j)])
}

/// Fits one fold. `train` holds the train perturbations' mean profiles (rows) and `targets`
/// their target gene index (None when the label is not a gene). Returns None when k < 1.
pub fn fit(train: ArrayView2<f64>, targets: &[Option<usize>]) -> Option<(LinearFit, usize)> {
    let (n_train, g) = train.dim();
    let k = LINEAR_N_COMPONENTS.min(n_train.saturating_sub(1)).min(g);
    if k < 1 {
        return None;
    }
    let gm = pca_components(train, k)?;
    let keep: Vec<usize> = (0..n_train).filter(|&i| targets[i].is_some()).collect();
    let p = Array2::from_shape_fn((keep.len(), k), |(r, c)| {
        gm[[targets[keep[r]].expect("kept"), c]]
    });
    // Y: genes × kept perturbations; b: per-gene mean over them.
    let y = train.select(Axis(0), &keep).reversed_axes();
    let offset = if keep.is_empty() {
        Array1::zeros(g)
    } else {
        y.mean_axis(Axis(1)).expect("non-empty")
    };
    let yc = &y - &offset.view().insert_axis(Axis(1));
    let gtg_inv = ridge_inverse(&gm.t().dot(&gm), LINEAR_RIDGE);
    let ptp_inv = ridge_inverse(&p.t().dot(&p), LINEAR_RIDGE);
    let w = gtg_inv.dot(&gm.t()).dot(&yc).dot(&p.dot(&ptp_inv));
    let w = w.mapv(|x| if x.is_nan() { 0.0 } else { x });
    Some((
        LinearFit {
            components: gm,
            w,
            offset,
        },
        k,
    ))
}

/// Gene index by name, for mapping perturbation labels to their target gene.
pub fn gene_index(genes: &[String]) -> HashMap<&str, usize> {
    genes
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn gram_components_span_the_svd_components() {
        let (n, g, k) = (40, 120, 10);
        let mut x = 99u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        // Decaying spectrum, as for perturbation means.
        let y = Array2::from_shape_fn((n, g), |(i, j)| {
            next() * (1.0 + ((i * 7 + j) % 13) as f64) / (1.0 + j as f64 / 10.0)
        });
        let mean = y.mean_axis(Axis(0)).unwrap();
        let centred = faer::Mat::<f64>::from_fn(n, g, |i, j| y[[i, j]] - mean[j]);
        let a = components_from_gram(&centred, k).expect("well separated");
        let svd = centred.thin_svd().unwrap();
        let b = Array2::from_shape_fn((g, k), |(i, j)| svd.V()[(i, j)]);
        // Same span: the projectors A Aᵀ and B Bᵀ agree.
        let (pa, pb) = (a.dot(&a.t()), b.dot(&b.t()));
        let diff = (&pa - &pb).iter().fold(0.0f64, |m, d| m.max(d.abs()));
        assert!(diff < 1e-10, "projector difference {diff}");
    }

    #[test]
    fn components_are_orthonormal() {
        let y = array![
            [1.0, 2.0, 0.5, 3.0],
            [0.2, 1.0, 2.5, 0.1],
            [2.0, 0.0, 1.0, 1.0],
            [0.5, 0.5, 0.5, 2.0]
        ];
        let g = pca_components(y.view(), 3).unwrap();
        let gtg = g.t().dot(&g);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((gtg[[i, j]] - want).abs() < 1e-12);
            }
        }
    }
}
