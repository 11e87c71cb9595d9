//! The spaces cell-level metrics are computed in (SPEC §12.2): `raw` (every gene), `pca` (the
//! leading principal components of the highly variable genes) and `deg` (the perturbation's
//! differentially expressed genes).
//!
//! Gene choices that need Σx² ([`SpaceGenes`]) are made from the sufficient statistics of
//! every cell, before the pipeline releases Σx²; the PCA is fitted on a seeded sample of cells
//! when the family runs ([`Pca::fit`]).

use crate::data::{Dataset, GroupStats, Half};
use crate::stats::distributions::student_t_sf;
use ndarray::{Array1, Array2, ArrayView1, Axis};
use std::borrow::Cow;
use std::collections::BTreeMap;

/// Principal components kept (`pca50`).
pub const PCA_COMPONENTS: usize = 50;
/// Highly variable genes the PCA is fitted on.
pub const HVG_GENES: usize = 2000;
/// Cells the PCA is fitted on at most: a pooled sample of every label, each label in turn.
pub const PCA_FIT_CELLS: usize = 2048;

/// A space of SPEC §12.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Space {
    /// Every gene.
    Raw,
    /// The leading [`PCA_COMPONENTS`] principal components of the [`HVG_GENES`] most
    /// dispersed genes.
    Pca,
    /// The perturbation's DEGs.
    Deg,
}

impl Space {
    /// Every space, in output order.
    pub const ALL: [Space; 3] = [Space::Raw, Space::Pca, Space::Deg];

    /// Its name on the command line and in the manifest.
    pub fn name(self) -> &'static str {
        match self {
            Space::Raw => "raw",
            Space::Pca => "pca",
            Space::Deg => "deg",
        }
    }

    /// The space named `name`.
    pub fn parse(name: &str) -> Option<Space> {
        Space::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// How the `deg` space picks a perturbation's genes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DegRule {
    /// The GT-half DEGs of SPEC §3 (the calibrated family's DEG mask).
    Sec3,
    /// GGE's rule: |log2(μ+1) − log2(μ_ctrl+1)| ≥ `lfc` and Welch p ≤ `pval`, the perturbation's
    /// GT-half cells against every control cell.
    Gge {
        /// log2 fold-change threshold.
        lfc: f64,
        /// Welch t-test p-value threshold.
        pval: f64,
    },
}

/// GGE's default thresholds (gge-eval 1.0.1's `SpaceConfig`).
pub const GGE_DEG_LFC: f64 = 1.0;
/// GGE's default p-value threshold.
pub const GGE_DEG_PVAL: f64 = 0.05;

/// Gene choices of a context made from Σx and Σx² of every cell.
#[derive(Debug, Clone, Default)]
pub struct SpaceGenes {
    /// The [`HVG_GENES`] most dispersed genes (var / mean over every observed cell), ascending.
    pub hvg: Vec<usize>,
    /// Per evaluated label, its genes under [`DegRule::Gge`] (empty under [`DegRule::Sec3`]).
    pub gge_degs: BTreeMap<usize, Vec<usize>>,
}

impl SpaceGenes {
    /// The choices for `ds` (whose Σx² must still be held).
    pub fn new(ds: &Dataset, rule: DegRule) -> Self {
        let gge_degs = match rule {
            DegRule::Sec3 => BTreeMap::new(),
            DegRule::Gge { lfc, pval } => ds
                .evaluated()
                .into_iter()
                .map(|l| (l, gge_degs(ds, l, lfc, pval)))
                .collect(),
        };
        SpaceGenes {
            hvg: highly_variable(&ds.stats, HVG_GENES),
            gge_degs,
        }
    }
}

/// The `top` genes of largest dispersion var/mean over every cell of `stats` (all groups
/// pooled; a gene of mean ≤ 0 ranks last; ties by gene order), in ascending gene order.
pub fn highly_variable(stats: &GroupStats, top: usize) -> Vec<usize> {
    let n: u64 = stats.count.iter().sum();
    let sum = stats.sum.sum_axis(Axis(0));
    let sum_sq = stats.sum_sq.sum_axis(Axis(0));
    let nf = n as f64;
    let dispersion: Vec<f64> = (0..stats.n_genes())
        .map(|g| {
            let mean = sum[g] / nf;
            let var = (sum_sq[g] - nf * mean * mean) / (nf - 1.0);
            if n > 1 && mean > 0.0 {
                var / mean
            } else {
                f64::NEG_INFINITY
            }
        })
        .collect();
    let mut order: Vec<usize> = (0..dispersion.len()).collect();
    order.sort_by(|&a, &b| dispersion[b].total_cmp(&dispersion[a]).then(a.cmp(&b)));
    order.truncate(top);
    order.sort_unstable();
    order
}

/// Mean, variance (ddof 1) and count of a set of groups, per gene.
fn moments(ds: &Dataset, groups: &[usize]) -> (Array1<f64>, Array1<f64>, f64) {
    let n: f64 = groups.iter().map(|&g| ds.stats.count[g] as f64).sum();
    let mut sum = Array1::zeros(ds.n_genes());
    let mut sum_sq = Array1::zeros(ds.n_genes());
    for &g in groups {
        sum += &ds.stats.sum.row(g);
        sum_sq += &ds.stats.sum_sq.row(g);
    }
    let mean = &sum / n;
    let var = (&sum_sq - &(&mean * &mean * n)) / (n - 1.0);
    (mean, var, n)
}

/// GGE's DEG rule for `label`: its GT-half cells against every control cell (both halves), as
/// gge-eval 1.0.1's `SpaceTransformer._fit_deg` (Welch's t-test; a NaN p counts as 1).
pub fn gge_degs(ds: &Dataset, label: usize, lfc: f64, pval: f64) -> Vec<usize> {
    let (m1, v1, n1) = moments(ds, &[Dataset::group(label, Half::Gt)]);
    let (m2, v2, n2) = moments(
        ds,
        &[
            Dataset::group(ds.control, Half::Gt),
            Dataset::group(ds.control, Half::Td),
        ],
    );
    (0..ds.n_genes())
        .filter(|&g| {
            let fold = (m1[g] + 1.0).log2() - (m2[g] + 1.0).log2();
            fold.abs() >= lfc && welch_p(m1[g], v1[g], n1, m2[g], v2[g], n2) <= pval
        })
        .collect()
}

/// Two-sided p-value of Welch's t-test (scipy's `ttest_ind(equal_var=False)`; NaN → 1).
fn welch_p(m1: f64, v1: f64, n1: f64, m2: f64, v2: f64, n2: f64) -> f64 {
    if n1 < 2.0 || n2 < 2.0 {
        return 1.0;
    }
    let (a, b) = (v1 / n1, v2 / n2);
    let se = (a + b).sqrt();
    let t = (m1 - m2) / se;
    let df = (a + b) * (a + b) / (a * a / (n1 - 1.0) + b * b / (n2 - 1.0));
    let p = 2.0 * student_t_sf(t.abs(), df);
    if t.is_infinite() {
        0.0
    } else if p.is_nan() {
        1.0
    } else {
        p.min(1.0)
    }
}

/// A principal-component projection: `(x[genes] − center) · componentsᵀ`.
#[derive(Debug, Clone)]
pub struct Pca {
    genes: Vec<usize>,
    center: Array1<f64>,
    /// `k × genes.len()`, one component per row.
    components: Array2<f64>,
    /// Projected cells are rounded to float32, as scikit-learn returns them for float32 cells
    /// (GGE's PCA, `--compat gge`).
    pub float32_cells: bool,
}

impl Pca {
    /// Fits `k` (at most; also ≤ cells − 1 and ≤ `max_rank`) components on `cells`
    /// (cells × every gene) restricted to `genes`, centred on `center` (the cells' mean when
    /// `None`). Each component's largest-magnitude loading is made positive (scikit-learn's
    /// sign rule since 1.5). `None` when fewer than two cells.
    pub fn fit(
        cells: &Array2<f64>,
        genes: Vec<usize>,
        k: usize,
        max_rank: usize,
        center: Option<Array1<f64>>,
    ) -> Option<Pca> {
        let n = cells.nrows();
        if n < 2 || genes.is_empty() {
            return None;
        }
        let x = cells.select(Axis(1), &genes);
        let center = center.unwrap_or_else(|| x.mean_axis(Axis(0)).expect("rows"));
        let centred = &x - &center;
        let k = k.min(n - 1).min(max_rank).min(genes.len());
        let h = genes.len();
        let v = right_singular_vectors(&centred)?;
        let mut components = Array2::from_shape_fn((k, h), |(c, j)| v[(j, c)]);
        for mut row in components.rows_mut() {
            let mut at = 0;
            for (j, x) in row.iter().enumerate() {
                if x.abs() > row[at].abs() {
                    at = j;
                }
            }
            if row[at] < 0.0 {
                row.mapv_inplace(|x| -x);
            }
        }
        Some(Pca {
            genes,
            center,
            components,
            float32_cells: false,
        })
    }

    /// Number of components.
    pub fn n_components(&self) -> usize {
        self.components.nrows()
    }

    /// `cells` (cells × every gene) in component coordinates (cells × components).
    pub fn project(&self, cells: &Array2<f64>) -> Array2<f64> {
        let x = cells.select(Axis(1), &self.genes) - &self.center;
        let mut projected = x.dot(&self.components.t());
        if self.float32_cells {
            projected.mapv_inplace(|v| f64::from(v as f32));
        }
        projected
    }

    /// A profile over every gene in component coordinates.
    pub fn project_profile(&self, profile: ArrayView1<f64>) -> Vec<f64> {
        let x: Array1<f64> = self
            .genes
            .iter()
            .map(|&g| profile[g])
            .collect::<Array1<f64>>()
            - &self.center;
        self.components.dot(&x).to_vec()
    }
}

/// The right singular vectors of `x` (columns, by decreasing singular value), computed on one
/// thread so that they do not depend on the thread count.
fn right_singular_vectors(x: &Array2<f64>) -> Option<faer::Mat<f64>> {
    use faer::dyn_stack::{MemBuffer, MemStack};
    use faer::linalg::svd::{svd, svd_scratch, ComputeSvdVectors};
    let (n, h) = x.dim();
    let a = faer::Mat::<f64>::from_fn(n, h, |i, j| x[[i, j]]);
    let size = n.min(h);
    let mut s = faer::diag::Diag::<f64>::zeros(size);
    let mut v = faer::Mat::<f64>::zeros(h, size);
    let par = faer::Par::Seq;
    let scratch = svd_scratch::<f64>(
        n,
        h,
        ComputeSvdVectors::No,
        ComputeSvdVectors::Thin,
        par,
        Default::default(),
    );
    svd(
        a.as_ref(),
        s.as_mut(),
        None,
        Some(v.as_mut()),
        par,
        MemStack::new(&mut MemBuffer::new(scratch)),
        Default::default(),
    )
    .ok()?;
    Some(v)
}

/// How a perturbation's cells and profiles are taken into a space.
#[derive(Debug, Clone, Copy)]
pub enum Mapper<'a> {
    /// Unchanged.
    Raw,
    /// Projected on components.
    Pca(&'a Pca),
    /// Restricted to some genes.
    Genes(&'a [usize]),
}

impl Mapper<'_> {
    /// Cells (cells × every gene) in the space.
    pub fn cells<'c>(&self, cells: &'c Array2<f64>) -> Cow<'c, Array2<f64>> {
        match self {
            Mapper::Raw => Cow::Borrowed(cells),
            Mapper::Pca(p) => Cow::Owned(p.project(cells)),
            Mapper::Genes(g) => Cow::Owned(cells.select(Axis(1), g)),
        }
    }

    /// A profile over every gene in the space.
    pub fn profile(&self, profile: ArrayView1<f64>) -> Vec<f64> {
        match self {
            Mapper::Raw => profile.to_vec(),
            Mapper::Pca(p) => p.project_profile(profile),
            Mapper::Genes(g) => g.iter().map(|&i| profile[i]).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pca_recovers_a_planted_direction() {
        // Cells spread along (1, 1, 0)/√2, the third gene ±0.01 in a pattern (+ − − +)
        // uncorrelated with the spread.
        let cells = Array2::from_shape_fn((40, 3), |(i, g)| {
            let t = i as f64 - 19.5;
            match g {
                0 | 1 => t,
                _ => [0.01, -0.01, -0.01, 0.01][i % 4],
            }
        });
        let pca = Pca::fit(&cells, vec![0, 1, 2], 50, usize::MAX, None).unwrap();
        assert_eq!(pca.n_components(), 3);
        let c = pca.components.row(0);
        let s = std::f64::consts::FRAC_1_SQRT_2;
        assert!((c[0] - s).abs() < 1e-12 && (c[1] - s).abs() < 1e-12 && c[2].abs() < 1e-12);
        // Projections are centred, and a profile projects as its cells' mean does.
        let projected = pca.project(&cells);
        assert!(projected.column(0).sum().abs() < 1e-9);
        let mean = cells.mean_axis(Axis(0)).unwrap();
        let pm = pca.project_profile(mean.view());
        assert!(pm.iter().all(|v| v.abs() < 1e-12));
    }

    #[test]
    fn welch_matches_scipy() {
        // scipy.stats.ttest_ind([1,2,3,4], [2,4,6,8,10], equal_var=False).pvalue
        let (a, b) = ([1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0, 10.0]);
        let mv = |x: &[f64]| {
            let n = x.len() as f64;
            let m = x.iter().sum::<f64>() / n;
            (
                m,
                x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0),
                n,
            )
        };
        let ((m1, v1, n1), (m2, v2, n2)) = (mv(&a), mv(&b));
        let p = welch_p(m1, v1, n1, m2, v2, n2);
        assert!((p - 0.069_133_593_192_392_37).abs() < 1e-12, "{p}");
    }
}
