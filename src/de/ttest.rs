//! scanpy's `t-test_overestim_var` of each group against the rest (SPEC §3), from sufficient
//! statistics: the rest's Σx, Σx² are the eligible groups' totals minus the group's own.

use crate::data::{Dataset, Half};
use crate::stats::distributions::student_t_sf_many;
use crate::stats::multitest::benjamini_hochberg;
use ndarray::{Array1, Array2, ArrayView2, Axis, Zip};
use rayon::prelude::*;

/// Groups need at least this many cells in a half to be tested.
pub const MIN_CELLS_DEG: u64 = 4;

/// The DEG test of one half. Rows are the tested groups (sorted by label name), columns genes.
#[derive(Debug, Clone)]
pub struct DegHalf {
    /// Which half.
    pub half: Half,
    /// Label indices (into `Dataset::labels`) of the tested groups, sorted by name.
    pub groups: Vec<usize>,
    /// Cells per tested group in this half.
    pub n_group: Vec<u64>,
    /// t statistic rounded to f32 and back (`(t as f32) as f64`), as scanpy stores it.
    pub score: Array2<f64>,
    /// t statistic in f64 (0 × 0 when the per-gene tables are not kept, `--light`).
    pub score_f64: Array2<f64>,
    /// Two-sided p-value (0 × 0 when the per-gene tables are not kept, `--light`).
    pub pval: Array2<f64>,
    /// Benjamini–Hochberg adjusted p-value over all genes of the group.
    pub pval_adj: Array2<f64>,
}

impl DegHalf {
    /// Row of a label in this result, if the label was tested.
    pub fn row_of(&self, label: usize) -> Option<usize> {
        self.groups.iter().position(|&g| g == label)
    }

    /// Frees the per-gene arrays (they become 0 × 0; `groups` and `n_group` stay). The
    /// pipeline does this without `per_gene_tables` once the weights, masks, DEG counts and
    /// baselines have what they need.
    pub fn release_arrays(&mut self) {
        let empty = || Array2::zeros((0, 0));
        self.score = empty();
        self.score_f64 = empty();
        self.pval = empty();
        self.pval_adj = empty();
    }

    /// DEGs (p_adj < 0.05) per tested label.
    pub fn deg_counts(&self) -> std::collections::BTreeMap<usize, usize> {
        self.groups
            .iter()
            .enumerate()
            .map(|(r, &l)| {
                let n = self
                    .pval_adj
                    .row(r)
                    .iter()
                    .filter(|&&p| p < crate::de::PADJ_THRESHOLD)
                    .count();
                (l, n)
            })
            .collect()
    }

    fn empty(half: Half, n_genes: usize) -> Self {
        let z = Array2::zeros((0, n_genes));
        // (0 × genes: the per-gene table of an untested half has its columns and no row.)
        DegHalf {
            half,
            groups: vec![],
            n_group: vec![],
            score: z.clone(),
            score_f64: z.clone(),
            pval: z.clone(),
            pval_adj: z,
        }
    }
}

/// scanpy's variance from moments: E[x²] − E[x]², times n/(n−1) unless n = 1.
fn corrected_var(mean_sq: f64, mean: f64, n: f64) -> f64 {
    let v = mean_sq - mean * mean;
    if n != 1.0 {
        v * n / (n - 1.0)
    } else {
        v
    }
}

/// What a DEG test keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DegDetail {
    /// Score and p_adj, plus the f64 t and raw p of the per-gene output tables.
    Tables,
    /// Score and p_adj.
    Adjusted,
    /// Score and the DEG calls (p_adj < [`crate::de::PADJ_THRESHOLD`]): p_adj is exact below
    /// the threshold; above it, it is only known to be above it, because p-values that
    /// cannot be significant are not computed ([`CALLS_T_BOUND`]).
    Calls,
}

/// |t| below this cannot give a significant p: P(|T_ν| ≥ 1.95) ≥ P(|Z| ≥ 1.95) = 0.0512 for
/// every ν (Student's t has heavier tails than the normal), above the 0.05 threshold. Their
/// BH terms p·m/k ≥ p stay above it too, so the calls of [`DegDetail::Calls`] are exact when
/// such p are replaced by 1 without evaluating the incomplete beta function.
pub const CALLS_T_BOUND: f64 = 1.95;

/// Welch's t and degrees of freedom as `scipy.stats.ttest_ind_from_stats(m1, √v1, n1, m2, √v2,
/// n2, equal_var=False)` computes them (t may be NaN; [`welch_p`] maps it).
fn welch_t_df(m1: f64, v1: f64, n1: f64, m2: f64, v2: f64, n2: f64) -> (f64, f64) {
    // scipy receives standard deviations and squares them again: keep the round trip.
    let (s1, s2) = (v1.sqrt(), v2.sqrt());
    let vn1 = s1 * s1 / n1;
    let vn2 = s2 * s2 / n2;
    let mut df = (vn1 + vn2) * (vn1 + vn2) / (vn1 * vn1 / (n1 - 1.0) + vn2 * vn2 / (n2 - 1.0));
    if df.is_nan() {
        df = 1.0;
    }
    ((m1 - m2) / (vn1 + vn2).sqrt(), df)
}

/// Two-sided p of Welch's t for a row of tests, with scanpy's NaN mapping (t NaN → 0, p NaN →
/// 1): `t` becomes the reported t, `p` the p. A p is 1 without being evaluated when |t| <
/// `t_bound` (0: always evaluated); the others are evaluated together
/// ([`student_t_sf_many`]), each exactly as one alone.
fn welch_p(t: &mut [f64], df: &[f64], p: &mut [f64], t_bound: f64) {
    let needed: Vec<usize> = (0..t.len())
        .filter(|&i| t[i].is_nan() || t[i].abs() >= t_bound)
        .collect();
    let abs_t: Vec<f64> = needed.iter().map(|&i| t[i].abs()).collect();
    let dfs: Vec<f64> = needed.iter().map(|&i| df[i]).collect();
    let mut sf = vec![0.0; needed.len()];
    student_t_sf_many(&abs_t, &dfs, &mut sf);
    p.fill(1.0);
    for (&i, &q) in needed.iter().zip(&sf) {
        let q = 2.0 * q;
        p[i] = if q.is_nan() { 1.0 } else { q };
    }
    for x in t.iter_mut().filter(|x| x.is_nan()) {
        *x = 0.0;
    }
}

/// The test of each row (group) against the other rows together. Returns (t, p, p_adj), each
/// groups × genes. `nobs2` is the group's own size: scanpy's "overestimated" variance.
pub fn ttest_overestim_var(
    count: &[u64],
    sum: ArrayView2<f64>,
    sum_sq: ArrayView2<f64>,
) -> (Array2<f64>, Array2<f64>, Array2<f64>) {
    let rows: Vec<usize> = (0..count.len()).collect();
    let out = ttest_rows(count, sum, sum_sq, &rows, DegDetail::Tables);
    (out.t, out.pval, out.pval_adj)
}

/// The arrays of [`ttest_rows`]; `t` and `pval` are 0 × 0 unless asked for.
struct TtestArrays {
    score: Array2<f64>,
    t: Array2<f64>,
    pval: Array2<f64>,
    pval_adj: Array2<f64>,
}

/// Column totals of the tested groups: each group is tested against these minus its own.
struct RestTotals {
    tot: Array1<f64>,
    tot_sq: Array1<f64>,
    n_total: f64,
}

impl RestTotals {
    /// Totals of the groups `rows` of `sum` / `sum_sq` with `count` cells, rows added in order
    /// (numpy's axis-0 reduction).
    fn of(count: &[u64], sum: ArrayView2<f64>, sum_sq: ArrayView2<f64>, rows: &[usize]) -> Self {
        let g = sum.ncols();
        let mut tot = Array1::<f64>::zeros(g);
        let mut tot_sq = Array1::<f64>::zeros(g);
        for &r in rows {
            tot += &sum.row(r);
            tot_sq += &sum_sq.row(r);
        }
        RestTotals {
            tot,
            tot_sq,
            n_total: count.iter().map(|&c| c as f64).sum(),
        }
    }
}

/// The test of the groups `rows` of `sum` / `sum_sq` (read in place, not copied), with
/// `count[i]` cells in group `rows[i]`. The f32-rounded score and p_adj always; the f64 t and
/// raw p only for [`DegDetail::Tables`] (they are needed for the per-gene output tables only).
fn ttest_rows(
    count: &[u64],
    sum: ArrayView2<f64>,
    sum_sq: ArrayView2<f64>,
    rows: &[usize],
    detail: DegDetail,
) -> TtestArrays {
    let totals = RestTotals::of(count, sum, sum_sq, rows);
    ttest_some_rows(count, sum, sum_sq, rows, &totals, detail)
}

/// [`ttest_rows`] of some of the groups: `count[i]` and `rows[i]` are theirs, `totals` those
/// of every tested group. Each group's test depends only on its own sums and the totals, so
/// the rows of any subset equal the same rows of the whole test, bit for bit.
fn ttest_some_rows(
    count: &[u64],
    sum: ArrayView2<f64>,
    sum_sq: ArrayView2<f64>,
    rows: &[usize],
    totals: &RestTotals,
    detail: DegDetail,
) -> TtestArrays {
    let keep_raw = detail == DegDetail::Tables;
    let t_bound = if detail == DegDetail::Calls {
        CALLS_T_BOUND
    } else {
        0.0
    };
    let (k, g) = (rows.len(), sum.ncols());
    let RestTotals {
        tot,
        tot_sq,
        n_total,
    } = totals;
    let n_total = *n_total;
    let raw_dim = if keep_raw { (k, g) } else { (0, 0) };
    let mut out = TtestArrays {
        score: Array2::zeros((k, g)),
        t: Array2::zeros(raw_dim),
        pval: Array2::zeros(raw_dim),
        pval_adj: Array2::zeros((k, g)),
    };
    // One slot per tested group: the row of `a` when the raw arrays are kept.
    fn raw_rows(a: &mut Array2<f64>, keep_raw: bool, k: usize) -> Vec<Option<&mut [f64]>> {
        if keep_raw {
            a.axis_iter_mut(Axis(0))
                .map(|r| Some(r.into_slice().expect("rows are contiguous")))
                .collect()
        } else {
            (0..k).map(|_| None).collect()
        }
    }
    let t_rows = raw_rows(&mut out.t, keep_raw, k);
    let p_rows = raw_rows(&mut out.pval, keep_raw, k);
    out.score
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(out.pval_adj.axis_iter_mut(Axis(0)))
        .zip(t_rows)
        .zip(p_rows)
        .enumerate()
        .for_each(|(i, (((mut score_row, mut q_row), t_keep), p_keep))| {
            let r = rows[i];
            let n = count[i] as f64;
            let nr = n_total - n;
            let mut t_row = vec![0.0; g];
            let mut df_row = vec![0.0; g];
            let mut p_row = vec![0.0; g];
            Zip::from(&mut t_row[..])
                .and(&mut df_row[..])
                .and(sum.row(r))
                .and(sum_sq.row(r))
                .and(tot)
                .and(tot_sq)
                .for_each(|t, df, &s, &ss, &ts, &tss| {
                    let mean_g = s / n;
                    let var_g = corrected_var(ss / n, mean_g, n);
                    let mean_r = (ts - s) / nr;
                    let var_r = corrected_var((tss - ss) / nr, mean_r, nr);
                    (*t, *df) = welch_t_df(mean_g, var_g, n, mean_r, var_r, n);
                });
            welch_p(&mut t_row, &df_row, &mut p_row, t_bound);
            let q = benjamini_hochberg(&p_row);
            q_row.assign(&Array1::from(q));
            // scanpy stores the score as float32.
            score_row.zip_mut_with(&ndarray::aview1(&t_row), |s, &t| *s = (t as f32) as f64);
            if let Some(dst) = t_keep {
                dst.copy_from_slice(&t_row);
            }
            if let Some(dst) = p_keep {
                dst.copy_from_slice(&p_row);
            }
        });
    out
}

/// Runs the DEG test of SPEC §3 on one half: groups are the non-control labels with ≥ 4 cells
/// in the half; the rest is the other such groups (controls excluded); < 2 groups → no test.
/// `detail`: what is kept and how exact p_adj is ([`DegDetail`]); `score_f64` and `pval` are
/// 0 × 0 unless [`DegDetail::Tables`].
pub fn deg_half(ds: &Dataset, half: Half, detail: DegDetail) -> DegHalf {
    let Some(groups) = tested_groups(ds, half) else {
        return DegHalf::empty(half, ds.n_genes());
    };
    let rows: Vec<usize> = groups.iter().map(|&l| Dataset::group(l, half)).collect();
    let n_group: Vec<u64> = rows.iter().map(|&r| ds.stats.count[r]).collect();
    let out = ttest_rows(
        &n_group,
        ds.stats.sum.view(),
        ds.stats.sum_sq.view(),
        &rows,
        detail,
    );
    DegHalf {
        half,
        groups,
        n_group,
        score: out.score,
        score_f64: out.t,
        pval: out.pval,
        pval_adj: out.pval_adj,
    }
}

/// The rows `range` (positions in [`DegHalf::groups`]) of the full DEG test of one half
/// ([`DegDetail::Tables`]: f64 t and raw p included), equal bit for bit to the same rows of
/// [`deg_half`]: the per-gene output tables recompute their rows chunk by chunk from the
/// statistics instead of the evaluation keeping four groups × genes arrays per half. Needs
/// Σx² (kept when the per-gene tables are). Empty when the half has no test.
pub fn deg_half_rows(ds: &Dataset, half: Half, range: std::ops::Range<usize>) -> DegHalf {
    let Some(groups) = tested_groups(ds, half) else {
        return DegHalf::empty(half, ds.n_genes());
    };
    let rows: Vec<usize> = groups.iter().map(|&l| Dataset::group(l, half)).collect();
    let n_group: Vec<u64> = rows.iter().map(|&r| ds.stats.count[r]).collect();
    let (sum, sum_sq) = (ds.stats.sum.view(), ds.stats.sum_sq.view());
    let totals = RestTotals::of(&n_group, sum, sum_sq, &rows);
    let out = ttest_some_rows(
        &n_group[range.clone()],
        sum,
        sum_sq,
        &rows[range.clone()],
        &totals,
        DegDetail::Tables,
    );
    DegHalf {
        half,
        groups: groups[range.clone()].to_vec(),
        n_group: n_group[range].to_vec(),
        score: out.score,
        score_f64: out.t,
        pval: out.pval,
        pval_adj: out.pval_adj,
    }
}

/// The groups a half's DEG test compares (SPEC §3), or `None` when fewer than two qualify.
fn tested_groups(ds: &Dataset, half: Half) -> Option<Vec<usize>> {
    let groups: Vec<usize> = ds
        .perturbations()
        .into_iter()
        .filter(|&l| ds.n_cells_in(l, half) >= MIN_CELLS_DEG)
        .collect();
    (groups.len() >= 2).then_some(groups)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn calls_only_gives_the_same_calls_and_small_p_adj() {
        // 40 groups × 300 genes with effects from none to strong, few cells (small ν): every
        // p_adj below the threshold and every call must equal the full computation.
        let (k, g) = (40usize, 300usize);
        let mut next = crate::stats::lcg::uniform_stream(4242);
        let count: Vec<u64> = (0..k).map(|i| 4 + (i % 7) as u64).collect();
        let mut sum = Array2::<f64>::zeros((k, g));
        let mut sum_sq = Array2::<f64>::zeros((k, g));
        for i in 0..k {
            for j in 0..g {
                let shift = if (i + j) % 5 == 0 { 3.0 * next() } else { 0.0 };
                for _ in 0..count[i] {
                    let v = 1.0 + shift + next();
                    sum[[i, j]] += v;
                    sum_sq[[i, j]] += v * v;
                }
            }
        }
        let rows: Vec<usize> = (0..k).collect();
        let full = ttest_rows(
            &count,
            sum.view(),
            sum_sq.view(),
            &rows,
            DegDetail::Adjusted,
        );
        let calls = ttest_rows(&count, sum.view(), sum_sq.view(), &rows, DegDetail::Calls);
        assert_eq!(full.score, calls.score);
        let threshold = crate::de::PADJ_THRESHOLD;
        let mut n_degs = 0;
        for (a, b) in full.pval_adj.iter().zip(calls.pval_adj.iter()) {
            assert_eq!(a < &threshold, b < &threshold);
            if *a < threshold {
                assert_eq!(a, b);
                n_degs += 1;
            }
        }
        assert!(
            n_degs > 100 && n_degs < k * g / 2,
            "{n_degs} DEGs: test both sides"
        );
    }

    #[test]
    fn rows_of_a_subset_equal_the_same_rows_of_the_whole_test() {
        let count = [4u64, 5, 6, 7];
        let sum = array![
            [2.0, 1.0, 0.0],
            [1.0, 4.0, 0.0],
            [6.0, 0.5, 0.0],
            [3.0, 3.0, 1.0]
        ];
        let sum_sq = array![
            [1.5, 0.5, 0.0],
            [0.5, 4.0, 0.0],
            [7.0, 0.25, 0.0],
            [2.0, 2.5, 1.0]
        ];
        let rows = [0usize, 1, 2, 3];
        let whole = ttest_rows(&count, sum.view(), sum_sq.view(), &rows, DegDetail::Tables);
        let totals = RestTotals::of(&count, sum.view(), sum_sq.view(), &rows);
        for range in [0..1, 1..3, 3..4] {
            let part = ttest_some_rows(
                &count[range.clone()],
                sum.view(),
                sum_sq.view(),
                &rows[range.clone()],
                &totals,
                DegDetail::Tables,
            );
            let same = |a: &Array2<f64>, b: &Array2<f64>| {
                a.slice(ndarray::s![range.clone(), ..])
                    .iter()
                    .map(|x| x.to_bits())
                    .eq(b.iter().map(|x| x.to_bits()))
            };
            assert!(same(&whole.score, &part.score));
            assert!(same(&whole.t, &part.t));
            assert!(same(&whole.pval, &part.pval));
            assert!(same(&whole.pval_adj, &part.pval_adj));
        }
    }

    #[test]
    fn matches_reference_fast_engine() {
        // Three groups of 4, 5, 6 cells over 3 genes (gene 2 is 0 everywhere). Expected values
        // from reference.py's deg_fast on the same sums (numpy 2.4.6, scipy 1.17.1).
        let count = [4u64, 5, 6];
        let sum = array![[2.0, 1.0, 0.0], [1.0, 4.0, 0.0], [6.0, 0.5, 0.0]];
        let sum_sq = array![[1.5, 0.5, 0.0], [0.5, 4.0, 0.0], [7.0, 0.25, 0.0]];
        let (t, p, q) = ttest_overestim_var(&count, sum.view(), sum_sq.view());
        let want_t = [
            [-0.397301626331785, -0.5587794685539952, 0.0],
            [-2.416161798770488, 2.8596187429163895, 0.0],
            [2.8644594961577314, -2.281930587727683, 0.0],
        ];
        let want_p = [
            [0.7060300966222086, 0.6011065098702165, 1.0],
            [0.05000720499820009, 0.028035559811705663, 1.0],
            [0.017689970625584157, 0.057194411700573926, 1.0],
        ];
        let want_q = [
            [1.0, 1.0, 1.0],
            [0.07501080749730014, 0.07501080749730014, 1.0],
            [0.053069911876752474, 0.0857916175508609, 1.0],
        ];
        for i in 0..3 {
            for j in 0..3 {
                let close = |a: f64, b: f64| {
                    (a - b).abs() <= 1e-12 * b.abs().max(1e-300) || (a - b).abs() < 1e-14
                };
                assert!(
                    close(t[[i, j]], want_t[i][j]),
                    "t[{i},{j}] {} vs {}",
                    t[[i, j]],
                    want_t[i][j]
                );
                assert!(
                    close(p[[i, j]], want_p[i][j]),
                    "p[{i},{j}] {} vs {}",
                    p[[i, j]],
                    want_p[i][j]
                );
                assert!(
                    close(q[[i, j]], want_q[i][j]),
                    "q[{i},{j}] {} vs {}",
                    q[[i, j]],
                    want_q[i][j]
                );
            }
        }
    }
}
