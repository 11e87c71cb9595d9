//! The linear baseline (SPEC §5; Ahlmann-Eltze et al.), as CellSimBench's
//! `solve_Y_GWP`: gene embeddings G from PCA of the train perturbations' means, perturbation
//! embeddings P = rows of G for the targeted genes, a ridge-regularised W with Y ≈ G W Pᵀ + b.

use crate::stats::descriptive::column_means;
use ndarray::{Array1, Array2, ArrayView2};
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

/// Rows per block of [`centred_blocks`]: blocks of 8192 genes stay at 16 MB.
const ROW_BLOCK: usize = 256;

/// The rows `rows` of `y` minus `mean`, transposed (genes × rows), handed to `f` a block of
/// at most [`ROW_BLOCK`] rows at a time with the position of its first row: products with the
/// centred matrix never hold it whole.
fn centred_blocks(
    y: ArrayView2<f64>,
    rows: &[usize],
    mean: &Array1<f64>,
    mut f: impl FnMut(usize, faer::MatRef<'_, f64>),
) {
    for (b, chunk) in rows.chunks(ROW_BLOCK).enumerate() {
        // Filled along y's rows.
        let block =
            faer::Mat::<f64>::from_fn(y.ncols(), chunk.len(), |j, i| y[[chunk[i], j]] - mean[j]);
        f(b * ROW_BLOCK, block.as_ref());
    }
}

/// Top-k right singular vectors (genes × k) of the column-centred rows `rows` of `y`, by an
/// exact thin SVD. Signs and rotations inside the span do not matter downstream. `gram`,
/// when given, is the centred Gram matrix of those rows (from [`SharedGram`]).
fn pca_components(
    y: ArrayView2<f64>,
    rows: &[usize],
    k: usize,
    gram: Option<faer::Mat<f64>>,
) -> Option<Array2<f64>> {
    let (n, g) = (rows.len(), y.ncols());
    let mean = column_means(y, rows);
    let centred = || faer::Mat::<f64>::from_fn(n, g, |i, j| y[[rows[i], j]] - mean[j]);
    if n >= GRAM_MIN_ROWS && g >= 2 * n {
        let gram = gram.unwrap_or_else(|| {
            let c = centred();
            product(c.as_ref(), c.transpose())
        });
        if let Some(v) = components_from_gram(y, rows, &mean, gram, k) {
            return Some(v);
        }
    }
    let svd = centred().thin_svd().ok()?;
    let v = svd.V();
    Some(Array2::from_shape_fn((g, k), |(i, j)| v[(i, j)]))
}

/// From this many train perturbations on (with at least twice as many genes), the components
/// come from the n × n Gram matrix instead of a thin SVD of the n × G matrix: O(n²G) in one
/// GEMM instead of O(nG²)-like bidiagonalisation (27 s → ~1 s for 5 folds of 1600 × 8192).
pub const GRAM_MIN_ROWS: usize = 128;

/// The Gram matrix Z Zᵀ of every candidate train row, with Z the rows minus their overall
/// mean, computed once for all folds. A fold's train rows S have the centred Gram
/// C = Z_S Z_Sᵀ − a 1ᵀ − 1 aᵀ + b with a = Z_S z̄ and b = z̄·z̄ (z̄ the mean of Z_S), read off
/// this matrix. Centring on the overall mean first keeps z̄ small, so the correction
/// cancels little.
pub struct SharedGram {
    gram: faer::Mat<f64>,
}

impl SharedGram {
    /// Gram matrix of the rows `rows` of `y` (the candidate train rows; `y` is labels ×
    /// genes) after removing their mean.
    pub fn new(y: ArrayView2<f64>, rows: &[usize]) -> Self {
        let (n, g) = (rows.len(), y.ncols());
        let mean = column_means(y, rows);
        // Zᵀ (G × n), filled along the rows.
        let z_t = faer::Mat::<f64>::from_fn(g, n, |j, i| y[[rows[i], j]] - mean[j]);
        SharedGram {
            gram: symmetric_product(z_t.as_ref()),
        }
    }

    /// Centred Gram matrix of the rows `subset` (indices into the rows given to [`Self::new`]).
    pub fn centred(&self, subset: &[usize]) -> faer::Mat<f64> {
        let n = subset.len();
        let sub = faer::Mat::<f64>::from_fn(n, n, |i, j| self.gram[(subset[i], subset[j])]);
        let a: Vec<f64> = (0..n)
            .map(|i| (0..n).map(|j| sub[(i, j)]).sum::<f64>() / n as f64)
            .collect();
        let b = a.iter().sum::<f64>() / n as f64;
        faer::Mat::<f64>::from_fn(n, n, |i, j| sub[(i, j)] - a[i] - a[j] + b)
    }
}

/// Top-k right singular vectors of the centred rows Yc (n × G: rows `rows` of `y` minus
/// `mean`) as Ycᵀ u / σ from the top-k eigenpairs (u, σ²) of Yc Ycᵀ = `gram`. The span equals
/// the SVD's whenever σ_k is well separated from zero, which is checked: `None` (use the SVD)
/// when σ_k² ≤ 1e-8 σ_1².
fn components_from_gram(
    y: ArrayView2<f64>,
    rows: &[usize],
    mean: &Array1<f64>,
    gram: faer::Mat<f64>,
    k: usize,
) -> Option<Array2<f64>> {
    let g = y.ncols();
    let (s, uk) = top_eigenpairs(&gram, k)?;
    // NaN-safe: anything but a positive, well-separated spectrum goes to the SVD.
    let separated = s[0] > 0.0 && s[k - 1] > 1e-8 * s[0];
    if !separated {
        return None;
    }
    let mut v = faer::Mat::<f64>::zeros(g, k);
    centred_blocks(y, rows, mean, |first, block| {
        let u = uk.as_ref().subrows(first, block.ncols());
        multiply_into(v.as_mut(), faer::Accum::Add, block, u);
    });
    Some(Array2::from_shape_fn((g, k), |(i, j)| {
        v[(i, j)] / s[j].sqrt()
    }))
}

/// Above this size, [`top_eigenpairs`] uses the Krylov–Schur solver.
const KRYLOV_MIN_N: usize = 64;

/// The k largest eigenvalues (descending) of a symmetric positive semi-definite matrix and
/// their eigenvectors (columns). Krylov–Schur (faer's partial eigensolver) run to a residual of
/// 64·ε·trace ≥ 64·ε·‖A‖, the accuracy of a dense solver, instead of a full decomposition
/// (0.5 s → ~0.05 s for 1600 × 1600); the dense solver when it does not converge.
fn top_eigenpairs(a: &faer::Mat<f64>, k: usize) -> Option<(Vec<f64>, faer::Mat<f64>)> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::matrix_free::eigen::{
        partial_self_adjoint_eigen, partial_self_adjoint_eigen_scratch,
    };
    let n = a.nrows();
    let trace: f64 = (0..n).map(|i| a[(i, i)]).sum();
    // faer's solver needs n above its Krylov subspace size, max(64, 2k).
    if n > KRYLOV_MIN_N.max(2 * k) && trace.is_finite() && trace > 0.0 {
        // A fixed start vector (deterministic results) with no special structure: the centred
        // Gram matrix maps the all-ones vector to zero.
        let mut next = crate::stats::lcg::uniform_stream(0x9E37_79B9_7F4A_7C15);
        let v0 = faer::Col::<f64>::from_fn(n, |_| next() - 0.5);
        let v0 = &v0 / v0.norm_l2();
        let par = faer::get_global_parallelism();
        let params = faer::matrix_free::eigen::PartialEigenParams {
            max_restarts: 100,
            ..Default::default()
        };
        let op = a.as_ref();
        let mut mem = MemBuffer::new(partial_self_adjoint_eigen_scratch(&op, k, par, params));
        let mut vecs = faer::Mat::<f64>::zeros(n, k);
        let mut vals = vec![0.0; k];
        let info = partial_self_adjoint_eigen(
            vecs.as_mut(),
            &mut vals,
            &op,
            v0.as_ref(),
            64.0 * f64::EPSILON * trace,
            par,
            MemStack::new(&mut mem),
            params,
        );
        if info.n_converged_eigen >= k {
            return Some((vals, vecs));
        }
    }
    let eig = a.self_adjoint_eigen(faer::Side::Lower).ok()?;
    let (u, s) = (eig.U(), eig.S().column_vector());
    // Eigenvalues ascend: the top k are the last k.
    let vals = (0..k).map(|j| s[n - 1 - j]).collect();
    Some((
        vals,
        faer::Mat::<f64>::from_fn(n, k, |i, j| u[(i, n - 1 - j)]),
    ))
}

/// a · b with faer's global parallelism.
fn product(a: faer::MatRef<'_, f64>, b: faer::MatRef<'_, f64>) -> faer::Mat<f64> {
    let mut out = faer::Mat::<f64>::zeros(a.nrows(), b.ncols());
    multiply_into(out.as_mut(), faer::Accum::Replace, a, b);
    out
}

/// aᵀ · a, computing only the lower triangle (half the work of a full product) and
/// mirroring it.
fn symmetric_product(a: faer::MatRef<'_, f64>) -> faer::Mat<f64> {
    use faer::linalg::matmul::triangular::{matmul, BlockStructure};
    let n = a.ncols();
    let mut out = faer::Mat::<f64>::zeros(n, n);
    matmul(
        out.as_mut(),
        BlockStructure::TriangularLower,
        faer::Accum::Replace,
        a.transpose(),
        BlockStructure::Rectangular,
        a,
        BlockStructure::Rectangular,
        1.0,
        faer::get_global_parallelism(),
    );
    for j in 1..n {
        for i in 0..j {
            out[(i, j)] = out[(j, i)];
        }
    }
    out
}

/// out = a · b (`Replace`) or out += a · b (`Add`), with faer's global parallelism.
fn multiply_into(
    out: faer::MatMut<'_, f64>,
    accum: faer::Accum,
    a: faer::MatRef<'_, f64>,
    b: faer::MatRef<'_, f64>,
) {
    faer::linalg::matmul::matmul(out, accum, a, b, 1.0, faer::get_global_parallelism());
}

/// (A + λI)⁻¹ for a small symmetric positive-definite k × k matrix.
fn ridge_inverse(a: &Array2<f64>, lambda: f64) -> Array2<f64> {
    let k = a.nrows();
    let m = faer::Mat::<f64>::from_fn(k, k, |i, j| a[[i, j]] + if i == j { lambda } else { 0.0 });
    let inv = faer::linalg::solvers::DenseSolveCore::inverse(&m.partial_piv_lu());
    Array2::from_shape_fn((k, k), |(i, j)| inv[(i, j)])
}

/// Fits one fold on the rows `train` of `y` (labels × genes mean profiles); `targets[i]` is
/// the target gene index of row `train[i]` (None when the label is not a gene). Returns None
/// when k < 1. `gram`, when given, is the centred Gram matrix of those rows
/// ([`SharedGram::centred`]). The train rows are read in place: no n × G copy is made.
pub fn fit(
    y: ArrayView2<f64>,
    train: &[usize],
    targets: &[Option<usize>],
    gram: Option<faer::Mat<f64>>,
) -> Option<(LinearFit, usize)> {
    let (n_train, g) = (train.len(), y.ncols());
    let k = LINEAR_N_COMPONENTS.min(n_train.saturating_sub(1)).min(g);
    if k < 1 {
        return None;
    }
    let gm = pca_components(y, train, k, gram)?;
    let keep: Vec<usize> = (0..n_train).filter(|&i| targets[i].is_some()).collect();
    let p = Array2::from_shape_fn((keep.len(), k), |(r, c)| {
        gm[[targets[keep[r]].expect("kept"), c]]
    });
    // b: per-gene mean over the kept perturbations; Gᵀ Yc (k × kept) block by block.
    let kept_rows: Vec<usize> = keep.iter().map(|&i| train[i]).collect();
    let offset = column_means(y, &kept_rows);
    let gm_f = faer::Mat::<f64>::from_fn(g, k, |i, j| gm[[i, j]]);
    let mut gt_yc = faer::Mat::<f64>::zeros(k, kept_rows.len());
    centred_blocks(y, &kept_rows, &offset, |first, block| {
        let out = gt_yc.as_mut().subcols_mut(first, block.ncols());
        multiply_into(out, faer::Accum::Replace, gm_f.transpose(), block);
    });
    let gt_yc = Array2::from_shape_fn((k, kept_rows.len()), |(i, j)| gt_yc[(i, j)]);
    let gtg_inv = ridge_inverse(&gm.t().dot(&gm), LINEAR_RIDGE);
    let ptp_inv = ridge_inverse(&p.t().dot(&p), LINEAR_RIDGE);
    let w = gtg_inv.dot(&gt_yc).dot(&p.dot(&ptp_inv));
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
    use ndarray::{array, Axis};

    #[test]
    fn gram_components_span_the_svd_components() {
        let (n, g, k) = (100, 300, 10); // n > 64: the Krylov–Schur path
        let mut next = crate::stats::lcg::uniform_stream(99);
        // Decaying spectrum, as for perturbation means.
        let y = Array2::from_shape_fn((n, g), |(i, j)| {
            next() * (1.0 + ((i * 7 + j) % 13) as f64) / (1.0 + j as f64 / 10.0)
        });
        let mean = y.mean_axis(Axis(0)).unwrap();
        let centred = faer::Mat::<f64>::from_fn(n, g, |i, j| y[[i, j]] - mean[j]);
        let gram = product(centred.as_ref(), centred.transpose());
        let rows: Vec<usize> = (0..n).collect();
        let a = components_from_gram(y.view(), &rows, &mean, gram, k).expect("well separated");
        let svd = centred.thin_svd().unwrap();
        let b = Array2::from_shape_fn((g, k), |(i, j)| svd.V()[(i, j)]);
        // Same span: the projectors A Aᵀ and B Bᵀ agree.
        let (pa, pb) = (a.dot(&a.t()), b.dot(&b.t()));
        let diff = (&pa - &pb).iter().fold(0.0f64, |m, d| m.max(d.abs()));
        assert!(diff < 1e-10, "projector difference {diff}");
    }

    #[test]
    fn shared_gram_gives_each_subsets_centred_gram() {
        let (n, g) = (30, 50);
        // Rows far from the origin, as expression means are: the centring must not cancel.
        let y = Array2::from_shape_fn((n, g), |(i, j)| {
            5.0 + ((i * 31 + j * 17) % 23) as f64 / 7.0 + (j as f64).sin()
        });
        let all: Vec<usize> = (0..n).collect();
        let shared = SharedGram::new(y.view(), &all);
        let subset: Vec<usize> = (0..n).filter(|i| i % 4 != 1).collect();
        let got = shared.centred(&subset);
        let ys = y.select(Axis(0), &subset);
        let mean = ys.mean_axis(Axis(0)).unwrap();
        let c = &ys - &mean;
        let want = c.dot(&c.t());
        let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for i in 0..subset.len() {
            for j in 0..subset.len() {
                assert!((got[(i, j)] - want[[i, j]]).abs() < 1e-12 * scale);
            }
        }
    }

    #[test]
    fn components_are_orthonormal() {
        let y = array![
            [1.0, 2.0, 0.5, 3.0],
            [0.2, 1.0, 2.5, 0.1],
            [2.0, 0.0, 1.0, 1.0],
            [0.5, 0.5, 0.5, 2.0]
        ];
        let g = pca_components(y.view(), &[0, 1, 2, 3], 3, None).unwrap();
        let gtg = g.t().dot(&g);
        for i in 0..3 {
            for j in 0..3 {
                let want = if i == j { 1.0 } else { 0.0 };
                assert!((gtg[[i, j]] - want).abs() < 1e-12);
            }
        }
    }
}
