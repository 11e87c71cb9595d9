//! Mann–Whitney U differential expression of each perturbation against control cells, as
//! pdex 0.3.0 computes it in `mode="ref"` (with numba-mwu 0.2.0), the DE engine of cell-eval
//! 0.8.1.
//!
//! * The test is two-sided and asymptotic: average ranks for ties, the tie-corrected normal
//!   variance, a continuity correction of ½, and `statistic` = U of the *target* (perturbation)
//!   sample, `R₁ − n₁(n₁+1)/2`. When every value of a gene is equal the variance is 0 and pdex
//!   reports U₁ = n₁n₂/2 with p = 1.
//! * The controls of each gene are sorted once ([`SortedControls`]); a perturbation's rank sum
//!   and tie term come from placing each of its values among them, without sorting it: the
//!   target's ranks among themselves always sum to n₁(n₁+1)/2, and its ties are counted in a
//!   small hash table. Zeros, frequent in single-cell data, are counted as one group.
//! * The table ([`pdex_ref`], [`PdexReference::compare`]) adds pdex's pseudobulk means, log2
//!   fold change, percent change and a Benjamini–Hochberg FDR per target.
//!
//! Inputs are float32 cells × genes matrices (what cell-eval hands pdex); the dtype matters
//! because pdex averages log1p values in float32 (see [`PdexOptions`]).

use crate::error::{Error, Location, Result};
use crate::stats::expm1f::expm1f_many;
use ndarray::{ArrayView1, ArrayView2, Axis};
use rayon::prelude::*;
use std::collections::BTreeMap;

/// A value the test ranks: float32 cells (cell-eval's log1p input) or float64 ones
/// (cell-eval2's log1p of counts per million, computed in float64).
pub trait Ranked: Copy + PartialOrd + Send + Sync + std::fmt::Debug {
    /// Zero, counted rather than sorted.
    const ZERO: Self;
    /// NaN, which the test refuses.
    fn is_nan(self) -> bool;
    /// The IEEE total order (NaN-free inputs sort as `<`).
    fn total_order(&self, other: &Self) -> std::cmp::Ordering;
    /// The value as float64 (exact).
    fn wide(self) -> f64;
    /// The value's bits: equal keys for equal non-zero, non-NaN values.
    fn key(self) -> u64;
}

impl Ranked for f32 {
    const ZERO: Self = 0.0;
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    fn total_order(&self, other: &Self) -> std::cmp::Ordering {
        self.total_cmp(other)
    }
    fn wide(self) -> f64 {
        f64::from(self)
    }
    fn key(self) -> u64 {
        u64::from(self.to_bits())
    }
}

impl Ranked for f64 {
    const ZERO: Self = 0.0;
    fn is_nan(self) -> bool {
        f64::is_nan(self)
    }
    fn total_order(&self, other: &Self) -> std::cmp::Ordering {
        self.total_cmp(other)
    }
    fn wide(self) -> f64 {
        self
    }
    fn key(self) -> u64 {
        self.to_bits()
    }
}

/// Where a value falls among a gene's sorted control values, by equal-width buckets of their
/// range: `bucket(x) = ⌊(x − lo)·scale⌋` (clamped) is monotone in x, so the first control
/// ≥ x lies between the first controls of buckets `bucket(x)` and `bucket(x) + 1` — a search
/// of a few values instead of all.
#[derive(Debug, Clone, Copy)]
struct Buckets {
    lo: f64,
    scale: f64,
    /// Buckets of the gene (0: none, search everything).
    n: usize,
    /// Where its `n + 1` bucket starts are in [`SortedControls::bucket_start`].
    at: usize,
}

impl Buckets {
    #[inline]
    fn of(&self, x: f64) -> usize {
        // Casting saturates: below lo → 0; NaN never reaches here.
        (((x - self.lo) * self.scale) as usize).min(self.n - 1)
    }
}

/// Control values per bucket aimed at: a search of ~4 values.
const VALUES_PER_BUCKET: usize = 4;

/// U statistic and two-sided p-value of one gene.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the target sample (`R₁ − n₁(n₁+1)/2`), as pdex reports it: not min(U₁, U₂).
    pub statistic: f64,
    /// Two-sided asymptotic p-value (tie-corrected, continuity-corrected), in [0, 1].
    pub p_value: f64,
}

/// (U₁, p) from a target rank sum `r1`, the sample sizes and Σ(t³ − t) over the tie groups of
/// the combined sample, with numba-mwu's operations in its order (bit-identical where the
/// `erfc` agrees). n₁, n₂ ≥ 1.
fn from_rank_sum(r1: f64, n1: usize, n2: usize, tie_term: f64) -> MannWhitney {
    let n1f = n1 as f64;
    // numba-mwu multiplies n1·n2 as integers, then converts.
    let n1n2 = (n1 as u128 * n2 as u128) as f64;
    let n = (n1 + n2) as f64;
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1n2 - u1;
    let u = u1.max(u2);
    let mu = n1n2 / 2.0;
    let var_inner = (n + 1.0) - tie_term / (n * (n - 1.0));
    let s_sq = n1n2 / 12.0 * var_inner;
    if s_sq <= 0.0 {
        // Every value equal (or a single cell in all): no evidence, p = 1.
        return MannWhitney {
            statistic: u1,
            p_value: 1.0,
        };
    }
    let z = (u - mu - 0.5) / s_sq.sqrt();
    // 2·Φ(−z) as numba-mwu evaluates it: Φ(−z) = ½·erfc(z/√2), then doubled. Exact for
    // normal numbers; halving a subnormal erfc drops its last bit (p = 0 where erfc is the
    // smallest subnormal), which decides ties among the tiniest p-values.
    let p = 0.5 * erfc(z / std::f64::consts::SQRT_2) * 2.0;
    MannWhitney {
        statistic: u1,
        p_value: p.clamp(0.0, 1.0),
    }
}

/// erfc as numba calls it: fdlibm's, as glibc's (statrs' erfc differs from it by up to 1e-10
/// relative). The `libm` crate's port is used on every target, so the page's p-values are the
/// CLI's bit for bit.
fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// Adds one tie group (`t` equal values, `cx` of them from the target, starting at 0-based
/// position `pos`) to the target rank sum; returns the group's tie term t³ − t.
#[inline]
fn add_group(r1: &mut f64, pos: u64, cx: u64, t: u64) -> f64 {
    if cx > 0 {
        // Average 1-based rank of positions pos … pos+t−1.
        let avg = (2 * pos + t - 1) as f64 / 2.0 + 1.0;
        *r1 += cx as f64 * avg;
    }
    let tf = t as f64;
    tf * tf * tf - tf
}

/// Run-length encoding of sorted values, zeros counted apart: `(value, count)` in ascending
/// order. `nonzero` must be sorted, NaN-free and hold no zero.
fn run_lengths<T: Ranked>(nonzero: &[T], zeros: u64, out: &mut Vec<(T, u64)>) {
    out.clear();
    let split = nonzero.partition_point(|&v| v < T::ZERO);
    fn push<T: Ranked>(out: &mut Vec<(T, u64)>, v: T) {
        match out.last_mut() {
            Some(last) if last.0 == v => last.1 += 1,
            _ => out.push((v, 1)),
        }
    }
    nonzero[..split].iter().for_each(|&v| push(out, v));
    if zeros > 0 {
        out.push((T::ZERO, zeros));
    }
    nonzero[split..].iter().for_each(|&v| push(out, v));
}

/// Sorts `column` into `(value, count)` runs, counting zeros (±0) without sorting them.
/// Errors on NaN (numba-mwu refuses NaN too); `what` names the input for the message.
fn sorted_runs<T: Ranked>(
    column: impl Iterator<Item = T>,
    gene: usize,
    what: &str,
    scratch: &mut Vec<T>,
    out: &mut Vec<(T, u64)>,
) -> Result<()> {
    scratch.clear();
    let mut zeros = 0u64;
    for v in column {
        if v == T::ZERO {
            zeros += 1;
        } else if v.is_nan() {
            return Err(nan_error(gene, what));
        } else {
            scratch.push(v);
        }
    }
    scratch.sort_unstable_by(T::total_order);
    run_lengths(scratch, zeros, out);
    Ok(())
}

fn nan_error(gene: usize, what: &str) -> Error {
    Error::input(
        Location {
            column: Some(format!("gene {gene}")),
            ..Default::default()
        },
        format!("NaN expression value in the {what} cells"),
        "remove or impute NaN values before the Mann–Whitney test (pdex refuses them too)",
    )
}

/// One gene's sorted control values and their buckets.
struct GeneControls<'a, T> {
    runs: &'a [ControlRun<T>],
    starts: &'a [u32],
    buckets: Buckets,
}

impl<T: Ranked> GeneControls<'_, T> {
    /// Where `v` falls among the controls: the number of controls below it and the number
    /// equal to it. The first control ≥ v lies within v's bucket; a bucket of a few values is
    /// counted without branches (values come in any order, so a search's branches would be
    /// mispredicted).
    #[inline(always)]
    fn place(&self, v: T) -> (u64, u64) {
        let x = self.buckets.of(v.wide());
        let from = self.starts[x] as usize;
        let window = &self.runs[from..self.starts[x + 1] as usize];
        let k = from
            + if window.len() <= 8 {
                window.iter().map(|c| usize::from(c.value < v)).sum()
            } else {
                window.partition_point(|c| c.value < v)
            };
        let below = if k == 0 {
            0
        } else {
            u64::from(self.runs[k - 1].cum)
        };
        let equal = match self.runs.get(k) {
            Some(c) if c.value == v => u64::from(c.cum) - below,
            _ => 0,
        };
        (below, equal)
    }
}

/// A target's rank sum and tie term, gathered value by value in any order.
///
/// The target's ranks among themselves sum to n₁(n₁+1)/2 whatever its ties, so its rank sum
/// in the combined sample is that plus, for each target value, the controls below it and
/// half of those equal to it. A value seen `c` times before in the target, with `cy` equal
/// controls, grows its tie group from `t = cy + c` to `t + 1`: the tie term (t³ − t) grows
/// by 3t(t + 1). Integers throughout, exact in float64 below 2⁵³ (fewer than 2¹⁷ cells), so
/// the result is the sorted merge's exactly.
#[derive(Debug, Default, Clone, Copy)]
struct RankSums {
    /// Σ over target values of 2·(controls below) + (controls equal).
    twice_above_own: u64,
    /// Σ over the target's tie groups of (t³ − t) less the controls' own (128 bits: t³
    /// overflows 64 beyond 2²¹ equal values).
    tie_growth: u128,
}

impl RankSums {
    /// Adds `cx` target values equal to one another, placed at `(below, equal)` among the
    /// controls, after `seen` earlier target values equal to them.
    #[inline]
    fn add(&mut self, (below, equal): (u64, u64), cx: u64, seen: u64) {
        let cube = |t: u64| {
            let t = u128::from(t);
            t * t * t - t
        };
        let t = equal + seen;
        self.twice_above_own += cx * (2 * below + equal);
        self.tie_growth += cube(t + cx) - cube(t);
    }

    /// The test of `n1` target values against `n2` controls whose own tie term is `ties`.
    fn test(self, n1: usize, n2: usize, ties: f64) -> MannWhitney {
        let n1 = n1 as u64;
        let r1 = (n1 * (n1 + 1) + self.twice_above_own) as f64 / 2.0;
        from_rank_sum(r1, n1 as usize, n2, ties + self.tie_growth as f64)
    }
}

/// How often each value of one gene's target cells was seen before (their ties), without
/// sorting them: open addressing on the value's bits, emptied per gene by a new stamp.
struct SeenValues {
    slots: Vec<SeenSlot>,
    stamp: u32,
    shift: u32,
}

#[derive(Debug, Default, Clone, Copy)]
struct SeenSlot {
    key: u64,
    count: u64,
    stamp: u32,
}

impl SeenValues {
    /// A table for up to `n` distinct values, at most half full.
    fn for_cells(n: usize) -> Self {
        let len = (2 * n).next_power_of_two().max(16);
        SeenValues {
            slots: vec![SeenSlot::default(); len],
            stamp: 0,
            shift: 64 - len.trailing_zeros(),
        }
    }

    /// Starts a gene: every slot is empty.
    fn next_gene(&mut self) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.slots.fill(SeenSlot::default());
            self.stamp = 1;
        }
    }

    /// How many times `key` was seen before in this gene; counts this time.
    #[inline]
    fn count(&mut self, key: u64) -> u64 {
        let mask = self.slots.len() - 1;
        let mut i = (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize;
        loop {
            let slot = &mut self.slots[i];
            if slot.stamp != self.stamp {
                *slot = SeenSlot {
                    key,
                    count: 1,
                    stamp: self.stamp,
                };
                return 0;
            }
            if slot.key == key {
                slot.count += 1;
                return slot.count - 1;
            }
            i = (i + 1) & mask;
        }
    }
}

/// One distinct control value of a gene and the number of controls ≤ it.
#[derive(Debug, Clone, Copy)]
struct ControlRun<T> {
    value: T,
    cum: u32,
}

/// The control cells of every gene, sorted once and shared by all perturbations: per gene
/// the distinct values in ascending order with their cumulative counts, and the tie term
/// Σ(t³ − t) of the controls alone.
#[derive(Debug, Clone)]
pub struct SortedControls<T = f32> {
    n_cells: usize,
    /// Gene g's runs are `runs[offsets[g]..offsets[g + 1]]`.
    offsets: Vec<usize>,
    /// Each distinct control value beside its cumulative count: the search and the counts
    /// it reads share a cache line (the controls of every gene exceed the L2 cache, and
    /// their loads are most of the test's time).
    runs: Vec<ControlRun<T>>,
    tie_term: Vec<f64>,
    /// Each gene's buckets, and their starts (indices into the gene's values).
    buckets: Vec<Buckets>,
    bucket_start: Vec<u32>,
}

impl<T: Ranked> SortedControls<T> {
    /// Sorts the controls (cells × genes) gene by gene. Errors on NaN or on no cell.
    pub fn new(controls: ArrayView2<T>) -> Result<Self> {
        let (n_cells, n_genes) = controls.dim();
        if n_cells == 0 {
            return Err(Error::Options(
                "the Mann–Whitney test needs at least one control cell".into(),
            ));
        }
        if u32::try_from(n_cells).is_err() {
            return Err(Error::Options(format!(
                "{n_cells} control cells: the Mann–Whitney test takes fewer than 2³²"
            )));
        }
        let per_gene: Vec<Result<Vec<(T, u64)>>> = (0..n_genes)
            .into_par_iter()
            .map_init(
                || (Vec::new(), Vec::new()),
                |(scratch, runs), g| {
                    let col = controls.index_axis(Axis(1), g);
                    sorted_runs(col.iter().copied(), g, "control", scratch, runs)?;
                    Ok(runs.clone())
                },
            )
            .collect();
        let mut offsets = Vec::with_capacity(n_genes + 1);
        offsets.push(0);
        let (mut all_runs, mut tie_term) = (Vec::new(), Vec::new());
        let (mut buckets, mut bucket_start) = (Vec::new(), Vec::new());
        for runs in per_gene {
            let runs = runs?;
            let (mut c, mut tie) = (0u32, 0.0);
            for &(v, t) in &runs {
                c += t as u32; // n_cells < 2³² (checked above)
                all_runs.push(ControlRun { value: v, cum: c });
                let tf = t as f64;
                tie += tf * tf * tf - tf;
            }
            offsets.push(all_runs.len());
            tie_term.push(tie);
            buckets.push(Self::bucket_gene(&runs, &mut bucket_start));
        }
        Ok(SortedControls {
            n_cells,
            offsets,
            runs: all_runs,
            tie_term,
            buckets,
            bucket_start,
        })
    }

    /// A gene's buckets over its sorted distinct control values `runs`, their starts
    /// appended to `starts`.
    fn bucket_gene(runs: &[(T, u64)], starts: &mut Vec<u32>) -> Buckets {
        let n_values = runs.len();
        let (lo, hi) = match (runs.first(), runs.last()) {
            (Some(a), Some(b)) => (a.0.wide(), b.0.wide()),
            _ => (0.0, 0.0),
        };
        let n = (n_values / VALUES_PER_BUCKET).clamp(1, 4096);
        let span = hi - lo;
        let b = Buckets {
            lo,
            scale: if span > 0.0 && span.is_finite() {
                n as f64 / span
            } else {
                0.0
            },
            n,
            at: starts.len(),
        };
        // starts[k] = first value whose bucket is ≥ k, for k = 0..=n.
        let mut next = 0;
        for (i, &(v, _)) in runs.iter().enumerate() {
            let k = b.of(v.wide());
            while next <= k {
                starts.push(i as u32);
                next += 1;
            }
        }
        while next <= n {
            starts.push(n_values as u32);
            next += 1;
        }
        b
    }

    /// Number of control cells.
    pub fn n_cells(&self) -> usize {
        self.n_cells
    }

    /// Number of genes.
    pub fn n_genes(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Gene `g`'s sorted controls and buckets.
    #[inline]
    fn gene(&self, g: usize) -> GeneControls<'_, T> {
        let buckets = self.buckets[g];
        GeneControls {
            runs: &self.runs[self.offsets[g]..self.offsets[g + 1]],
            starts: &self.bucket_start[buckets.at..buckets.at + buckets.n + 1],
            buckets,
        }
    }

    /// Two-sided Mann–Whitney U test of one perturbation's cells (cells × genes, the genes of
    /// the controls) against the controls, gene by gene. Errors on NaN, no cell or a gene
    /// count that differs from the controls'.
    pub fn test(&self, target: ArrayView2<T>) -> Result<Vec<MannWhitney>> {
        let (n1, n_genes) = target.dim();
        if n_genes != self.n_genes() {
            return Err(Error::Options(format!(
                "the perturbation has {n_genes} genes, the controls {}",
                self.n_genes()
            )));
        }
        if n1 == 0 {
            return Err(Error::Options(
                "the Mann–Whitney test needs at least one perturbed cell".into(),
            ));
        }
        let mut seen = SeenValues::for_cells(n1);
        (0..n_genes)
            .map(|g| {
                let mut sums = RankSums::default();
                let mut zeros = 0u64;
                seen.next_gene();
                let controls = self.gene(g);
                for &v in target.index_axis(Axis(1), g) {
                    if v == T::ZERO {
                        zeros += 1;
                    } else if v.is_nan() {
                        return Err(nan_error(g, "perturbed"));
                    } else {
                        sums.add(controls.place(v), 1, seen.count(v.key()));
                    }
                }
                if zeros > 0 {
                    sums.add(controls.place(T::ZERO), zeros, 0);
                }
                Ok(sums.test(n1, self.n_cells, self.tie_term[g]))
            })
            .collect()
    }

    /// [`Self::test`] of `k` cells that all equal `row` (a collapsed prediction): one run
    /// per gene, no sort.
    pub fn test_collapsed(&self, row: ArrayView1<T>, k: usize) -> Result<Vec<MannWhitney>> {
        if row.len() != self.n_genes() {
            return Err(Error::Options(format!(
                "the perturbation has {} genes, the controls {}",
                row.len(),
                self.n_genes()
            )));
        }
        if k == 0 {
            return Err(Error::Options(
                "the Mann–Whitney test needs at least one perturbed cell".into(),
            ));
        }
        row.iter()
            .enumerate()
            .map(|(g, &v)| {
                if v.is_nan() {
                    return Err(nan_error(g, "perturbed"));
                }
                // ±0 is one zero group, as `test` counts it.
                let v = if v == T::ZERO { T::ZERO } else { v };
                let mut sums = RankSums::default();
                sums.add(self.gene(g).place(v), k as u64, 0);
                Ok(sums.test(k, self.n_cells, self.tie_term[g]))
            })
            .collect()
    }
}

/// Two-sided Mann–Whitney U test of `target` against `reference` (one gene), exactly as
/// numba-mwu's `mannwhitneyu(x, y)` with its defaults: for single tests and checks; many
/// perturbations against the same controls should use [`SortedControls`].
pub fn mann_whitney_u<T: Ranked>(target: &[T], reference: &[T]) -> Result<MannWhitney> {
    if target.is_empty() || reference.is_empty() {
        return Err(Error::Options(
            "the Mann–Whitney test needs at least one value in each sample".into(),
        ));
    }
    let (mut scratch, mut x, mut y) = (Vec::new(), Vec::new(), Vec::new());
    sorted_runs(target.iter().copied(), 0, "perturbed", &mut scratch, &mut x)?;
    sorted_runs(
        reference.iter().copied(),
        0,
        "control",
        &mut scratch,
        &mut y,
    )?;
    // Plain two-run merge.
    let (mut i, mut j, mut pos, mut r1, mut tie) = (0, 0, 0u64, 0.0, 0.0);
    while i < x.len() || j < y.len() {
        let (cx, cy) = if j == y.len() || (i < x.len() && x[i].0 < y[j].0) {
            i += 1;
            (x[i - 1].1, 0)
        } else if i == x.len() || y[j].0 < x[i].0 {
            j += 1;
            (0, y[j - 1].1)
        } else {
            i += 1;
            j += 1;
            (x[i - 1].1, y[j - 1].1)
        };
        tie += add_group(&mut r1, pos, cx, cx + cy);
        pos += cx + cy;
    }
    Ok(from_rank_sum(r1, target.len(), reference.len(), tie))
}

/// Benjamini–Hochberg adjusted p-values as scipy's `false_discovery_control(p, method='bh')`
/// (what pdex uses): sorted p times `m / i`, reverse cumulative minimum, clipped to [0, 1].
///
/// Differs from [`crate::stats::multitest::benjamini_hochberg`] (statsmodels: p / (i/m)) only
/// in the last bit of some values; kept separate so pdex's FDR is reproduced bit for bit.
pub fn benjamini_hochberg_scipy(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![0.0; m];
    let mut running = f64::INFINITY;
    for (rank, &i) in order.iter().enumerate().rev() {
        let raw = p[i] * (m as f64 / (rank + 1) as f64);
        running = if raw.is_nan() { raw } else { running.min(raw) };
        q[i] = running.clamp(0.0, 1.0);
    }
    q
}

/// How pdex summarises a group of cells per gene ("pseudobulk") and turns two summaries into
/// fold changes. The defaults of each evaluator are [`PdexOptions::cell_eval_081`] and
/// [`PdexOptions::pdex_default`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PdexOptions {
    /// The matrix holds log1p values (pdex `is_log1p`).
    pub is_log1p: bool,
    /// Geometric mean `expm1(mean(log1p x))` (pdex `geometric_mean=True`), else the arithmetic
    /// mean in count space.
    pub geometric_mean: bool,
    /// Pseudocount added to both means in the log2 fold change and to the reference mean in
    /// the percent change (pdex `epsilon`). With 0, one-sided zeros give ±inf.
    pub epsilon: f64,
    /// Replace a NaN log2 fold change / percent change (0/0, or a negative pseudobulk from
    /// negative predictions) by 0.0, as pdex always does; `false` keeps the NaN.
    pub nan_to_zero: bool,
    /// With an arithmetic mean of log1p input: take `expm1` in float32 and sum the float32
    /// values in float64, as cell-eval2 does for its own fold changes (its `_to_linear` keeps
    /// the input's float32); `false`: `expm1` in float64, as pdex's numba kernel does.
    pub expm1_float32: bool,
}

impl PdexOptions {
    /// cell-eval 0.8.1's call: `is_log1p=True`, `epsilon=0.0`, pdex defaults otherwise
    /// (`geometric_mean=True`). The means are float32 `expm1(mean(x))`.
    pub fn cell_eval_081() -> Self {
        PdexOptions {
            is_log1p: true,
            geometric_mean: true,
            epsilon: 0.0,
            nan_to_zero: true,
            expm1_float32: false,
        }
    }

    /// pdex 0.3.0's own defaults for log1p input (`geometric_mean=True`, `epsilon=1e-9`).
    pub fn pdex_default() -> Self {
        PdexOptions {
            epsilon: 1e-9,
            ..Self::cell_eval_081()
        }
    }

    /// cell-eval2 0.20.0's fold changes (it takes only the p-values from pdex and computes
    /// the fold changes itself): arithmetic means of `expm1` in float32, `epsilon = 1e-9`,
    /// NaN kept (a negative mean, from negative predictions, gives a NaN log2 fold change).
    pub fn cell_eval2_020() -> Self {
        PdexOptions {
            is_log1p: true,
            geometric_mean: false,
            epsilon: 1e-9,
            nan_to_zero: false,
            expm1_float32: true,
        }
    }

    /// Whether pdex computes this pseudobulk in float32 (numpy's float32 `mean`): geometric
    /// mean of log1p input, or arithmetic mean of count input. The other two run in float64.
    fn float32_bulk(&self) -> bool {
        self.geometric_mean == self.is_log1p
    }

    /// Pseudobulk of a group (cells × genes), cells summed in row order as numpy / numba do.
    fn pseudobulk(&self, cells: ArrayView2<f32>) -> Vec<f64> {
        self.pseudobulk_of_rows(cells.nrows(), cells.ncols(), cells.rows().into_iter())
    }

    /// [`Self::pseudobulk`] of `n` cells of `g` genes given row by row (a collapsed group's
    /// one row `n` times: the same sums in the same order, without the matrix).
    fn pseudobulk_of_rows<'r>(
        &self,
        n: usize,
        g: usize,
        cells: impl Iterator<Item = ArrayView1<'r, f32>>,
    ) -> Vec<f64> {
        if self.float32_bulk() {
            // numpy's float32 mean over axis 0: sequential float32 sums, one division.
            let mut s = vec![0f32; g];
            for row in cells {
                s.iter_mut().zip(row).for_each(|(a, &x)| *a += x);
            }
            s.iter()
                .map(|&v| {
                    let m = v / n as f32;
                    // expm1 in float32 (glibc's expm1f under numba).
                    f64::from(if self.geometric_mean {
                        libm::expm1f(m)
                    } else {
                        m
                    })
                })
                .collect()
        } else if self.expm1_float32 && !self.geometric_mean {
            // cell-eval2: float32 expm1 of each value (eight at a time), summed in float64 in
            // row order. A row equal to the previous one (a collapsed prediction's K
            // identical cells) reuses its exponentials.
            let mut s = vec![0f64; g];
            let mut values: Option<Vec<f32>> = None;
            let mut exps = vec![0f32; g];
            for row in cells {
                let same = values
                    .as_ref()
                    .is_some_and(|v| v.iter().zip(row).all(|(a, b)| a.to_bits() == b.to_bits()));
                if !same {
                    let v = values.insert(row.to_vec());
                    expm1f_many(v, &mut exps);
                }
                s.iter_mut()
                    .zip(&exps)
                    .for_each(|(a, &e)| *a += f64::from(e));
            }
            s.iter().map(|&v| v / n as f64).collect()
        } else {
            // numba loops in float64: mean of log1p(x) then expm1, or mean of expm1(x).
            let mut s = vec![0f64; g];
            for row in cells {
                s.iter_mut().zip(row).for_each(|(a, &x)| {
                    *a += if self.geometric_mean {
                        f64::from(x).ln_1p()
                    } else {
                        f64::from(x).exp_m1()
                    };
                });
            }
            s.iter()
                .map(|&v| {
                    let m = v / n as f64;
                    if self.geometric_mean {
                        m.exp_m1()
                    } else {
                        m
                    }
                })
                .collect()
        }
    }

    /// pdex's `log2_fold_change` and `percent_change` of one gene from the two pseudobulks.
    ///
    /// The float32 means stay float32 in `t − r` (numba evaluates `x − y` on the float32
    /// arrays) but are promoted to float64 by the float64 `epsilon` elsewhere.
    fn fold_changes(&self, t: f64, r: f64) -> (f64, f64) {
        let e = self.epsilon;
        let lfc = ((t + e) / (r + e)).log2();
        let diff = if self.float32_bulk() {
            f64::from(t as f32 - r as f32)
        } else {
            t - r
        };
        let pc = diff / (r + e);
        let fix = |v: f64| {
            if self.nan_to_zero && v.is_nan() {
                0.0
            } else {
                v
            }
        };
        (fix(lfc), fix(pc))
    }
}

impl Default for PdexOptions {
    /// [`PdexOptions::cell_eval_081`].
    fn default() -> Self {
        Self::cell_eval_081()
    }
}

/// pdex's rows of one target (perturbation), one entry per gene in the matrix's gene order.
#[derive(Debug, Clone)]
pub struct PdexGroup {
    /// The target's label.
    pub target: String,
    /// Number of target cells.
    pub target_membership: usize,
    /// Target pseudobulk per gene (a float32 value widened when pdex computes it in float32).
    pub target_mean: Vec<f64>,
    /// log2((target_mean + ε) / (ref_mean + ε)); ±inf kept, NaN → 0 by default.
    pub log2_fold_change: Vec<f64>,
    /// (target_mean − ref_mean) / (ref_mean + ε); NaN → 0 by default.
    pub percent_change: Vec<f64>,
    /// Two-sided Mann–Whitney p-value against the reference cells.
    pub p_value: Vec<f64>,
    /// Mann–Whitney U of the target cells.
    pub statistic: Vec<f64>,
    /// Benjamini–Hochberg adjusted p-value over this target's genes.
    pub fdr: Vec<f64>,
}

/// The reference (control) cells prepared once: sorted per gene for the test, and their
/// pseudobulk. Compare each target with [`PdexReference::compare`].
#[derive(Debug, Clone)]
pub struct PdexReference {
    sorted: SortedControls,
    /// Reference pseudobulk per gene (pdex `ref_mean`).
    pub ref_mean: Vec<f64>,
    options: PdexOptions,
}

impl PdexReference {
    /// Prepares the reference cells (cells × genes).
    pub fn new(reference: ArrayView2<f32>, options: PdexOptions) -> Result<Self> {
        let sorted = SortedControls::new(reference)?;
        Ok(PdexReference {
            ref_mean: options.pseudobulk(reference),
            sorted,
            options,
        })
    }

    /// Number of reference cells (pdex `ref_membership`).
    pub fn ref_membership(&self) -> usize {
        self.sorted.n_cells()
    }

    /// The options the reference was prepared with.
    pub fn options(&self) -> &PdexOptions {
        &self.options
    }

    /// pdex's rows of one target: its cells (cells × genes, in the data's row order, which
    /// the float32 means depend on) against the reference.
    pub fn compare(&self, target: &str, cells: ArrayView2<f32>) -> Result<PdexGroup> {
        let tests = self.sorted.test(cells)?;
        let target_mean = self.options.pseudobulk(cells);
        Ok(self.group(target, cells.nrows(), &tests, target_mean))
    }

    /// [`Self::compare`] of `k` cells that all equal `row` (a collapsed prediction), without
    /// building them: the same numbers.
    pub fn compare_collapsed(
        &self,
        target: &str,
        row: ArrayView1<f32>,
        k: usize,
    ) -> Result<PdexGroup> {
        let tests = self.sorted.test_collapsed(row, k)?;
        let target_mean =
            self.options
                .pseudobulk_of_rows(k, row.len(), std::iter::repeat_n(row, k));
        Ok(self.group(target, k, &tests, target_mean))
    }

    /// A target's rows from its tests and pseudobulk.
    fn group(
        &self,
        target: &str,
        n_cells: usize,
        tests: &[MannWhitney],
        target_mean: Vec<f64>,
    ) -> PdexGroup {
        let (log2_fold_change, percent_change) = target_mean
            .iter()
            .zip(&self.ref_mean)
            .map(|(&t, &r)| self.options.fold_changes(t, r))
            .unzip();
        let p_value: Vec<f64> = tests.iter().map(|t| t.p_value).collect();
        PdexGroup {
            target: target.to_string(),
            target_membership: n_cells,
            fdr: benjamini_hochberg_scipy(&p_value),
            statistic: tests.iter().map(|t| t.statistic).collect(),
            target_mean,
            log2_fold_change,
            percent_change,
            p_value,
        }
    }
}

/// pdex's whole table in `mode="ref"`.
#[derive(Debug, Clone)]
pub struct PdexTable {
    /// Number of reference cells.
    pub ref_membership: usize,
    /// Reference pseudobulk per gene.
    pub ref_mean: Vec<f64>,
    /// One entry per target, in pdex's order (labels sorted, reference left out).
    pub groups: Vec<PdexGroup>,
}

/// pdex 0.3.0 `mode="ref"`: every label of `labels` (one per row of `x`, cells × genes)
/// except `reference` and the empty label, sorted as pdex sorts them, tested against the
/// `reference` cells. Targets run in parallel.
pub fn pdex_ref<S: AsRef<str> + Sync>(
    x: ArrayView2<f32>,
    labels: &[S],
    reference: &str,
    options: PdexOptions,
) -> Result<PdexTable> {
    if labels.len() != x.nrows() {
        return Err(Error::Options(format!(
            "{} labels for {} cells",
            labels.len(),
            x.nrows()
        )));
    }
    let mut rows: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, l) in labels.iter().enumerate() {
        let l = l.as_ref();
        if !l.is_empty() {
            rows.entry(l).or_default().push(i);
        }
    }
    let ref_rows = rows
        .remove(reference)
        .ok_or_else(|| Error::Options(format!("the reference label '{reference}' has no cell")))?;
    let refr = PdexReference::new(x.select(Axis(0), &ref_rows).view(), options)?;
    let rows: Vec<(&str, Vec<usize>)> = rows.into_iter().collect();
    let groups = rows
        .par_iter()
        .map(|(label, r)| refr.compare(label, x.select(Axis(0), r).view()))
        .collect::<Result<Vec<_>>>()?;
    Ok(PdexTable {
        ref_membership: refr.ref_membership(),
        ref_mean: refr.ref_mean,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    /// Relative difference, for p-values from a different erfc than scipy's.
    fn rel(a: f64, b: f64) -> f64 {
        (a - b).abs() / b.abs()
    }

    #[test]
    fn ties_by_hand_and_scipy() {
        // x = [1,2,2,0,3] (n1 = 5), y = [2,0,0,4,1,5,2] (n2 = 7). Combined ranks: the three 0s
        // share 2, the two 1s 4.5, the four 2s 7.5, then 3 → 10, 4 → 11, 5 → 12.
        // R1 = 2 + 4.5 + 2·7.5 + 10 = 31.5, U1 = 31.5 − 15 = 16.5, U2 = 35 − 16.5 = 18.5.
        // Σ(t³−t) = 24 + 6 + 60 = 90; σ² = 35/12·(13 − 90/132) = 35.928…; μ = 17.5;
        // z = (18.5 − 17.5 − 0.5)/σ = 0.08342; p = 2Φ(−z) = 0.93352.
        // scipy 1.17.1 mannwhitneyu(x, y, use_continuity=True, method='asymptotic'):
        // statistic 16.5, pvalue 0.9335201650295699.
        let r = mann_whitney_u(&[1., 2., 2., 0., 3.], &[2., 0., 0., 4., 1., 5., 2.]).unwrap();
        assert_eq!(r.statistic, 16.5);
        assert!(rel(r.p_value, 0.9335201650295699) < 1e-14, "{}", r.p_value);
    }

    #[test]
    fn identical_target_cells() {
        // K identical predicted cells against the controls (scipy: 14.0, 0.7293808903356314).
        let r = mann_whitney_u(&[1.5; 4], &[0., 0., 1.5, 2., 3., 0.]).unwrap();
        assert_eq!(r.statistic, 14.0);
        assert!(rel(r.p_value, 0.7293808903356314) < 1e-14);
    }

    #[test]
    fn all_equal_gives_half_u_and_p_one() {
        // Zero variance: numba-mwu returns U1 (= n1·n2/2) and p = 1.
        let r = mann_whitney_u(&[3.; 3], &[3.; 2]).unwrap();
        assert_eq!(
            r,
            MannWhitney {
                statistic: 3.0,
                p_value: 1.0
            }
        );
        let r = mann_whitney_u(&[0.; 3], &[-0.0; 4]).unwrap();
        assert_eq!(
            r,
            MannWhitney {
                statistic: 6.0,
                p_value: 1.0
            }
        );
    }

    #[test]
    fn zeros_negatives_and_signed_zero() {
        // Zeros counted apart still rank between negatives and positives; −0 equals 0.
        // scipy: 13.0, 0.7645921176149308.
        let x = [-0.5, 0., 0., 0.7, -0.0];
        let y = [0., 0., 0., -1., 0.7, 2.];
        let r = mann_whitney_u(&x, &y).unwrap();
        assert_eq!(r.statistic, 13.0);
        assert!(rel(r.p_value, 0.7645921176149308) < 1e-14);
        // The sorted-controls path gives the same bits.
        let ctrl = Array2::from_shape_vec((6, 1), y.to_vec()).unwrap();
        let pert = Array2::from_shape_vec((5, 1), x.to_vec()).unwrap();
        let sorted = SortedControls::new(ctrl.view()).unwrap();
        assert_eq!(sorted.test(pert.view()).unwrap(), vec![r]);
    }

    #[test]
    fn sorted_controls_equal_the_plain_merge() {
        // Deterministic pseudo-random columns with many ties and zeros: few levels (ties
        // everywhere) to many (ties within the target, values no control has), small and
        // large groups (the target's ties are counted in a hash table, not sorted).
        for (n_ctrl, n_pert, levels) in [(40, 9, 9), (200, 300, 50), (17, 64, 1000)] {
            let mut state = 12345u64 + levels;
            let mut next = || {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = (state >> 33) % levels;
                if v < levels * 4 / 9 {
                    0.0
                } else {
                    (v as f32 - levels as f32 * 2.0 / 3.0) * 0.25
                }
            };
            let ctrl = Array2::from_shape_fn((n_ctrl, 7), |_| next());
            let pert = Array2::from_shape_fn((n_pert, 7), |_| next());
            let sorted = SortedControls::new(ctrl.view()).unwrap();
            let got = sorted.test(pert.view()).unwrap();
            for (g, r) in got.iter().enumerate() {
                let x: Vec<f32> = pert.column(g).to_vec();
                let y: Vec<f32> = ctrl.column(g).to_vec();
                assert_eq!(
                    *r,
                    mann_whitney_u(&x, &y).unwrap(),
                    "gene {g}, {levels} levels"
                );
            }
        }
    }

    #[test]
    fn a_collapsed_group_equals_its_identical_rows() {
        let ctrl = Array2::from_shape_fn((30, 6), |(i, g)| ((i * 7 + g * 3) % 5) as f32 * 0.5);
        // A value among the controls, one between, a zero, a negative zero, a negative.
        let row = ndarray::arr1(&[1.0f32, 0.75, 0.0, -0.0, -0.5, 3.0]);
        let k = 17;
        let rows = Array2::from_shape_fn((k, 6), |(_, g)| row[g]);
        for options in [
            PdexOptions::cell_eval_081(),
            PdexOptions::pdex_default(),
            PdexOptions::cell_eval2_020(),
        ] {
            let reference = PdexReference::new(ctrl.view(), options).unwrap();
            let whole = reference.compare("p", rows.view()).unwrap();
            let collapsed = reference.compare_collapsed("p", row.view(), k).unwrap();
            assert_eq!(
                format!("{whole:?}"),
                format!("{collapsed:?}"),
                "{options:?}"
            );
        }
        let nan = ndarray::arr1(&[1.0f32, f32::NAN, 0.0, 0.0, 0.0, 0.0]);
        let sorted = SortedControls::new(ctrl.view()).unwrap();
        assert!(sorted.test_collapsed(nan.view(), 3).is_err());
        assert!(sorted.test_collapsed(row.view(), 0).is_err());
    }

    #[test]
    fn nan_and_empty_inputs_are_errors() {
        assert!(mann_whitney_u(&[f32::NAN], &[1.0]).is_err());
        assert!(mann_whitney_u(&[], &[1.0]).is_err());
        let ctrl = array![[1.0f32, f32::NAN]];
        assert!(SortedControls::new(ctrl.view()).is_err());
        let sorted = SortedControls::new(array![[1.0f32, 2.0]].view()).unwrap();
        assert!(sorted.test(array![[1.0f32, f32::NAN]].view()).is_err());
        assert!(sorted.test(array![[1.0f32]].view()).is_err());
    }

    #[test]
    fn bh_like_scipy() {
        // scipy 1.17.1 false_discovery_control(p) (p·(m/i), not statsmodels' p/(i/m)).
        let p = [0.01, 0.04, 0.03, 0.5, 0.04, 0.2, 1.0, 0.001, 0.0003];
        let want = [
            0.03,
            0.06,
            0.06,
            0.5625,
            0.06,
            0.2571428571428572,
            1.0,
            0.0045000000000000005,
            0.0026999999999999997,
        ];
        assert_eq!(benjamini_hochberg_scipy(&p), want);
    }

    #[test]
    fn pseudobulk_and_fold_changes() {
        let o = PdexOptions::cell_eval_081();
        // Geometric mean of log1p input, in float32: expm1f(mean).
        let cells = array![[0.0f32, 1.0, -0.5], [0.0, 2.0, -0.5]];
        let m = o.pseudobulk(cells.view());
        assert_eq!(m[0], 0.0);
        assert_eq!(m[1], f64::from(1.5f32.exp_m1()));
        assert!(m[2] < 0.0);
        // ε = 0: one-sided zeros give ±inf; 0/0 and negative means give NaN → 0.
        assert_eq!(o.fold_changes(0.0, 2.0), (f64::NEG_INFINITY, -1.0));
        assert_eq!(o.fold_changes(2.0, 0.0), (f64::INFINITY, f64::INFINITY));
        assert_eq!(o.fold_changes(0.0, 0.0), (0.0, 0.0));
        assert_eq!(o.fold_changes(m[2], 1.0).0, 0.0);
        let keep = PdexOptions {
            nan_to_zero: false,
            ..o
        };
        assert!(keep.fold_changes(m[2], 1.0).0.is_nan());
        // pdex's default ε = 1e-9 keeps one-sided zeros finite.
        let d = PdexOptions::pdex_default();
        assert!(d.fold_changes(0.0, 2.0).0.is_finite());
    }

    #[test]
    fn pdex_ref_groups_sorted_without_reference() {
        let x = array![[1.0f32], [0.0], [2.0], [0.5], [0.0], [3.0]];
        let labels = ["b", "control", "a", "control", "", "b"];
        let t = pdex_ref(x.view(), &labels, "control", PdexOptions::cell_eval_081()).unwrap();
        let names: Vec<&str> = t.groups.iter().map(|g| g.target.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(t.ref_membership, 2);
        assert_eq!(t.groups[1].target_membership, 2);
        assert!(pdex_ref(x.view(), &labels, "none", PdexOptions::default()).is_err());
    }
}
