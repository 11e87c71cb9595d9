//! cell-eval2 0.20.0's 41 DE metrics (`de_wilcoxon_*`, profile `full`): a perturbation's real
//! and predicted DE tables compared gene by gene, with cell-eval2's v2 rules — significance
//! `p_adj < 0.05` after NaN fold changes are masked (`p_adj := 1`), reference-only gates of
//! 10 significant genes (NaN outside), worst values for a degenerate prediction inside them,
//! and the perturbation's own gene left out where cell-eval2 leaves it out (`sig_jaccard`,
//! `lfc_nmae` and the eleven chance-corrected `direction_*` metrics).
//!
//! The tables are float64 throughout (cell-eval2's float32 step is upstream, in the means of
//! its fold changes: [`crate::de::mannwhitney::PdexOptions::cell_eval2_020`]).

use crate::de::mannwhitney::PdexGroup;
use crate::metrics::celleval::auc::Curve;
// cell-eval2 kept cell-eval's top-N lists: the same `K`s and the same shared fraction.
use crate::metrics::celleval::de::{shared_fraction, TOP_K};
use crate::stats::multitest::total_order_key;
use rayon::prelude::*;

/// The significance level on `p_adj`.
pub const ALPHA: f64 = 0.05;

/// The reference gates' minimum size (significant genes, or targets for `nsig_spearman`).
pub const GATE: usize = 10;

/// Number of DE metrics.
pub const DE_METRICS: usize = 41;

/// The purity floor of `direction_sensitivity*`: 1 − α/2.
const SENSITIVITY_PURITY: f64 = 1.0 - ALPHA / 2.0;

/// The purity floor of the raw `direction_reach*` variants.
const REACH_RAW_PURITY: f64 = 0.9;

// Metric positions (cell-eval2's `results.csv` order).
const OVERLAP: usize = 0;
const PRECISION: usize = 5;
const NSIG_REAL: usize = 10;
const NSIG_PRED: usize = 11;
const NSIG_SPEARMAN: usize = 12;
const SIG_RECALL: usize = 13;
const DIRECTION_MATCH: usize = 14;
const MODEL_DIRECTION_MATCH: usize = 15;
const LFC_SPEARMAN: usize = 16;
const LFC_NMAE: usize = 19;
const PR_AUC: usize = 20;
const ROC_AUC: usize = 21;
const OVERLAP_ADJUSTED: usize = 22;
const PRECISION_ADJUSTED: usize = 23;
const SIG_RECALL_ADJUSTED: usize = 24;
const SIG_MCC: usize = 25;
const DIRECTION_PRECISION: usize = 26;
const DIRECTION_SENSITIVITY: usize = 27;
const DIRECTION_SENSITIVITY_UNIVERSE: usize = 28;
const DIRECTION_FIDELITY: usize = 29;
const DIRECTION_FIDELITY_RAW: usize = 30;
const DIRECTION_COVERAGE: usize = 31;
const DIRECTION_YIELD: usize = 32;
const DIRECTION_YIELD_RAW: usize = 33;
const DIRECTION_FIDELITY_YIELD: usize = 34;
const DIRECTION_FIDELITY_YIELD_RAW: usize = 35;
const DIRECTION_REACH: usize = 36;
const SIG_JACCARD: usize = 40;

/// The metric whose row cell-eval2 omits (rather than writes NaN) outside its gate.
pub const OMITTED_OUTSIDE_GATE: &str = "de_wilcoxon_lfc_nmae";

/// One perturbation's DE table as cell-eval2's metrics see it (genes in the panel's order,
/// which is the written table's order and breaks ties of the top-N lists).
#[derive(Debug, Clone)]
pub struct DeTable {
    /// log2 fold change per gene (NaN where a mean is negative).
    pub lfc: Vec<f64>,
    /// Mann–Whitney p-value per gene.
    pub p_value: Vec<f64>,
    /// BH-adjusted p-value, 1 where the fold change is NaN (cell-eval2's `nan_lfc_policy=mask`).
    pub p_adj: Vec<f64>,
    /// Genes with `p_adj < 0.05`, in gene order.
    pub significant: Vec<usize>,
    /// The significant genes by |log2FC|, largest first, ties in gene order.
    pub top: Vec<usize>,
}

impl DeTable {
    /// The table of a pdex comparison run with cell-eval2's fold changes.
    pub fn new(group: &PdexGroup) -> Self {
        Self::from_parts(
            group.log2_fold_change.clone(),
            group.p_value.clone(),
            &group.fdr,
        )
    }

    /// The table of fold changes, p-values and BH-adjusted p-values (one per gene of the
    /// table, in its order).
    pub fn from_parts(lfc: Vec<f64>, p_value: Vec<f64>, fdr: &[f64]) -> Self {
        let p_adj: Vec<f64> = fdr
            .iter()
            .zip(&lfc)
            .map(|(&q, l)| if l.is_nan() { 1.0 } else { q })
            .collect();
        let significant: Vec<usize> = (0..p_adj.len()).filter(|&g| p_adj[g] < ALPHA).collect();
        let mut top = significant.clone();
        top.sort_by(|&a, &b| lfc[b].abs().total_cmp(&lfc[a].abs()));
        DeTable {
            lfc,
            p_value,
            p_adj,
            significant,
            top,
        }
    }

    fn n_genes(&self) -> usize {
        self.lfc.len()
    }

    fn is_significant(&self, g: usize) -> bool {
        self.p_adj[g] < ALPHA
    }
}

/// One scored perturbation: its two tables and its own gene (when its label names one).
pub struct Pair<'a> {
    /// The real cells' table.
    pub real: &'a DeTable,
    /// The predicted cells' table.
    pub pred: &'a DeTable,
    /// The perturbation's own gene.
    pub own: Option<usize>,
}

/// polars' `sign`: −1, 0, +1, NaN for NaN.
fn sign(x: f64) -> f64 {
    if x.is_nan() {
        f64::NAN
    } else if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// polars' equality of signs: NaN equals NaN.
fn same_sign(a: f64, b: f64) -> bool {
    let (a, b) = (sign(a), sign(b));
    a == b || (a.is_nan() && b.is_nan())
}

/// A fold change with a direction: a number other than 0.
fn directed(x: f64) -> bool {
    !x.is_nan() && x != 0.0
}

/// Sum with four interleaved accumulators folded (l0 + l2) + (l1 + l3), then the tail: the
/// order polars' vectorised Pearson sums take (bit-exact up to 128 values).
fn lane4_sum(v: impl Iterator<Item = f64>) -> f64 {
    let v: Vec<f64> = v.collect();
    let m = v.len() - v.len() % 4;
    let mut acc = [0f64; 4];
    for chunk in v[..m].chunks_exact(4) {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a += x;
        }
    }
    let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
    for &x in &v[m..] {
        s += x;
    }
    s
}

/// Average ranks (1-based), NaN above every number and NaNs tied (polars' ranks).
fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    let key = |i: usize| (x[i].is_nan(), if x[i].is_nan() { 0.0 } else { x[i] });
    order.sort_by(|&a, &b| {
        let (ka, kb) = (key(a), key(b));
        ka.0.cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    let same =
        |a: usize, b: usize| (x[a].is_nan() && x[b].is_nan()) || (!x[a].is_nan() && x[a] == x[b]);
    let mut ranks = vec![0.0; x.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && same(order[j + 1], order[i]) {
            j += 1;
        }
        let r = (i + 1 + j + 1) as f64 / 2.0;
        order[i..=j].iter().for_each(|&o| ranks[o] = r);
        i = j + 1;
    }
    ranks
}

/// polars' Spearman correlation: Pearson of the average ranks, means as Σ·(1/n); NaN when a
/// side is constant.
pub fn spearman(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len();
    if n < 2 {
        return f64::NAN;
    }
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let inv = 1.0 / n as f64;
    let mx = rx.iter().sum::<f64>() * inv;
    let my = ry.iter().sum::<f64>() * inv;
    let sxx = lane4_sum(rx.iter().map(|a| (a - mx) * (a - mx)));
    let syy = lane4_sum(ry.iter().map(|b| (b - my) * (b - my)));
    let sxy = lane4_sum(rx.iter().zip(&ry).map(|(a, b)| (a - mx) * (b - my)));
    let den = (sxx * syy).sqrt();
    if den == 0.0 {
        f64::NAN
    } else {
        sxy / den
    }
}

/// Number of distinct values, NaNs counting as one and −0 as 0.
fn distinct(values: &[f64]) -> usize {
    let mut v: Vec<f64> = values.iter().map(|&x| x + 0.0).collect();
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| a == b || (a.is_nan() && b.is_nan()));
    v.len()
}

/// Matthews correlation of a 2 × 2 table (−1 when a margin is empty), in exact integers.
fn mcc(tp: usize, a: usize, b: usize, g: usize) -> f64 {
    if a == 0 || a >= g || b == 0 || b >= g {
        return -1.0;
    }
    let (tp, a, b, g) = (tp as i128, a as i128, b as i128, g as i128);
    let num = (tp * g - a * b) as f64;
    let den = ((a * b * (g - a) * (g - b)) as f64).sqrt();
    num / den
}

/// One gene of the direction frame.
struct FrameRow {
    gene: usize,
    /// The real fold change has a direction (the purity's denominator).
    in_denominator: bool,
    /// ... and the prediction's points the same way.
    matches: bool,
    pred_significant: bool,
    real_significant: bool,
}

/// The direction frame of a pair, in cell-eval2's commitment order: predicted significant
/// first, then by predicted p_adj, p-value (NaN last), |log2FC| (largest first, NaN last) and
/// gene name (`name_rank`: each gene's rank in byte order of the names).
fn direction_frame(pair: &Pair<'_>, name_rank: &[usize]) -> Vec<FrameRow> {
    let (r, p) = (pair.real, pair.pred);
    let nan_last = |x: f64| total_order_key(if x.is_nan() { f64::INFINITY } else { x });
    // Largest |log2FC| first, NaN last.
    let abs_lfc_down = |g: usize| {
        !total_order_key(if p.lfc[g].is_nan() {
            f64::NEG_INFINITY
        } else {
            p.lfc[g].abs()
        })
    };
    // One key per gene, compared as a tuple; the name rank is unique, so the order is total
    // and an unstable sort gives the one order.
    let mut keyed: Vec<(bool, i64, i64, i64, usize, usize)> = (0..r.n_genes())
        .map(|g| {
            (
                !p.is_significant(g),
                nan_last(p.p_adj[g]),
                nan_last(p.p_value[g]),
                abs_lfc_down(g),
                name_rank[g],
                g,
            )
        })
        .collect();
    keyed.sort_unstable();
    let genes = keyed.into_iter().map(|key| key.5);
    genes
        .map(|g| {
            let in_denominator = directed(r.lfc[g]);
            FrameRow {
                gene: g,
                in_denominator,
                matches: in_denominator && directed(p.lfc[g]) && same_sign(p.lfc[g], r.lfc[g]),
                pred_significant: p.is_significant(g),
                real_significant: r.is_significant(g),
            }
        })
        .collect()
}

/// The deepest purity-curve depth (directed real genes passed) at which the share of matches
/// is at least `floor`; 0 when none is.
fn deepest_pure<'a>(rows: impl Iterator<Item = &'a FrameRow>, floor: f64) -> usize {
    let (mut depth, mut matched, mut best) = (0usize, 0usize, 0usize);
    for row in rows {
        depth += usize::from(row.in_denominator);
        matched += usize::from(row.matches);
        if depth > 0 && matched as f64 / depth as f64 >= floor {
            best = best.max(depth);
        }
    }
    best
}

/// `x / y`, NaN when `y` is 0.
fn ratio(x: usize, y: usize) -> f64 {
    if y == 0 {
        f64::NAN
    } else {
        x as f64 / y as f64
    }
}

/// The panel's `nsig_spearman` (one value for every perturbation): Spearman of the real and
/// predicted numbers of significant genes over the perturbations with a real one; NaN
/// unless at least [`GATE`] such perturbations with two distinct counts; −1 for a constant
/// prediction or an undefined correlation.
fn nsig_spearman(pairs: &[Pair<'_>]) -> f64 {
    let (real, pred): (Vec<f64>, Vec<f64>) = pairs
        .iter()
        .filter(|p| !p.real.significant.is_empty())
        .map(|p| {
            (
                p.real.significant.len() as f64,
                p.pred.significant.len() as f64,
            )
        })
        .unzip();
    if real.len() < GATE || distinct(&real) < 2 {
        return f64::NAN;
    }
    if distinct(&pred) <= 1 {
        return -1.0;
    }
    let r = spearman(&real, &pred);
    if r.is_finite() {
        r
    } else {
        -1.0
    }
}

/// Every DE metric of every pair of a model's panel, in [`super::SPECS`] order. `name_rank`
/// ranks the genes by name (the direction frame's last tie-breaker).
pub fn panel_metrics(pairs: &[Pair<'_>], name_rank: &[usize]) -> Vec<[f64; DE_METRICS]> {
    let spearman_counts = nsig_spearman(pairs);
    // The AUCs' stand-in for a predicted p_adj of 0: the smallest positive one of the panel.
    let smallest_positive = pairs
        .iter()
        .flat_map(|p| p.pred.p_adj.iter())
        .map(|&q| if q.is_nan() { 1.0 } else { q })
        .filter(|&q| q > 0.0)
        .reduce(f64::min)
        .unwrap_or(1e-10);
    pairs
        .par_iter()
        .map(|pair| {
            let mut v = one_pair(pair, name_rank, smallest_positive);
            v[NSIG_SPEARMAN] = spearman_counts;
            v
        })
        .collect()
}

/// The per-perturbation DE metrics of one pair (`nsig_spearman` left NaN).
fn one_pair(pair: &Pair<'_>, name_rank: &[usize], smallest_positive: f64) -> [f64; DE_METRICS] {
    let (r, p) = (pair.real, pair.pred);
    let n_genes = r.n_genes();
    let mut v = [f64::NAN; DE_METRICS];
    let a = r.significant.len();
    let b = p.significant.len();
    let tp = r
        .significant
        .iter()
        .filter(|&&g| p.is_significant(g))
        .count();
    // Reference gates (significant genes counted with the own gene).
    let sig_set = a >= GATE;
    let sig_universe = sig_set && n_genes > a;
    let adjudicable = r.lfc.iter().filter(|&&x| directed(x)).count() >= GATE;
    let lfc_present = n_genes >= GATE;

    v[NSIG_REAL] = a as f64;
    v[NSIG_PRED] = b as f64;
    for (i, k) in TOP_K.into_iter().enumerate() {
        let (overlap, precision) = if a == 0 || b == 0 {
            (0.0, 0.0)
        } else {
            let k_real = k.unwrap_or(a).min(a);
            let k_pred = k.unwrap_or(b).min(b);
            (
                shared_fraction(&r.top, &p.top, k_real, n_genes),
                shared_fraction(&r.top, &p.top, k_pred, n_genes),
            )
        };
        v[OVERLAP + i] = overlap;
        v[PRECISION + i] = precision;
    }
    if sig_set {
        v[SIG_RECALL] = tp as f64 / a as f64;
        let same = r
            .significant
            .iter()
            .filter(|&&g| same_sign(r.lfc[g], p.lfc[g]))
            .count();
        v[DIRECTION_MATCH] = same as f64 / a as f64;
    }
    if lfc_present {
        let same = p
            .significant
            .iter()
            .filter(|&&g| same_sign(p.lfc[g], r.lfc[g]))
            .count();
        v[MODEL_DIRECTION_MATCH] = if b == 0 { 0.0 } else { same as f64 / b as f64 };
    }
    let selections: [fn(f64) -> bool; 3] = [|_| true, |x| x > 0.0, |x| x < 0.0];
    for (i, select) in selections.into_iter().enumerate() {
        let genes: Vec<usize> = r
            .significant
            .iter()
            .copied()
            .filter(|&g| select(r.lfc[g]))
            .collect();
        let real: Vec<f64> = genes.iter().map(|&g| r.lfc[g]).collect();
        if genes.len() < GATE || distinct(&real) < 2 {
            continue;
        }
        let pred: Vec<f64> = genes.iter().map(|&g| p.lfc[g]).collect();
        v[LFC_SPEARMAN + i] = if distinct(&pred) <= 1 {
            -1.0
        } else {
            let s = spearman(&real, &pred);
            if s.is_finite() {
                s
            } else {
                -1.0
            }
        };
    }
    v[LFC_NMAE] = lfc_nmae(pair);
    if sig_set && n_genes > a {
        let labels: Vec<bool> = (0..n_genes).map(|g| r.is_significant(g)).collect();
        let scores: Vec<f64> = p
            .p_adj
            .iter()
            .map(|&q| {
                let q = if q.is_nan() { 1.0 } else { q };
                -(if q == 0.0 { smallest_positive } else { q }).log10()
            })
            .collect();
        let curve = Curve::new(&labels, &scores);
        v[PR_AUC] = curve.average_precision().clamp(0.0, 1.0);
        v[ROC_AUC] = curve.roc_auc();
    }
    if sig_universe {
        // The real list against as many top predicted genes.
        let predicted_top = &p.top[..a.min(b)];
        let shared = predicted_top
            .iter()
            .filter(|&&g| r.is_significant(g))
            .count();
        v[OVERLAP_ADJUSTED] = mcc(shared, a, predicted_top.len(), n_genes);
        v[SIG_RECALL_ADJUSTED] = if a >= n_genes {
            -1.0
        } else {
            tp as f64 / a as f64 - (b - tp) as f64 / (n_genes - a) as f64
        };
        v[SIG_MCC] = mcc(tp, a, b, n_genes);
    }
    v[PRECISION_ADJUSTED] = if b == 0 || b >= n_genes {
        -1.0
    } else {
        tp as f64 / b as f64 - (a - tp) as f64 / (n_genes - b) as f64
    };
    direction_metrics(pair, name_rank, sig_set, adjudicable, &mut v);
    v[SIG_JACCARD] = sig_jaccard(pair);
    v
}

/// `lfc_nmae`: mean |predicted − real log2FC| over mean |real log2FC|, over the real
/// significant genes with a finite fold change, own gene left out (a non-finite prediction
/// counts as 0); NaN (cell-eval2 omits the row) with fewer than [`GATE`] such genes or a zero
/// denominator.
fn lfc_nmae(pair: &Pair<'_>) -> f64 {
    let (r, p) = (pair.real, pair.pred);
    let genes: Vec<usize> = r
        .significant
        .iter()
        .copied()
        .filter(|&g| Some(g) != pair.own && r.lfc[g].is_finite())
        .collect();
    if genes.len() < GATE {
        return f64::NAN;
    }
    let (mut error, mut size) = (0.0, 0.0);
    for &g in &genes {
        let predicted = if p.lfc[g].is_finite() { p.lfc[g] } else { 0.0 };
        error += (predicted - r.lfc[g]).abs();
        size += r.lfc[g].abs();
    }
    let n = genes.len() as f64;
    let den = size / n;
    if den.is_finite() && den != 0.0 {
        (error / n) / den
    } else {
        f64::NAN
    }
}

/// `sig_jaccard`: |R ∩ S| / |R ∪ S| of the significant sets without the own gene; 1 when
/// both are empty.
fn sig_jaccard(pair: &Pair<'_>) -> f64 {
    let (r, p) = (pair.real, pair.pred);
    let not_own = |g: &&usize| Some(**g) != pair.own;
    let real = r.significant.iter().filter(not_own).count();
    let pred = p.significant.iter().filter(not_own).count();
    let both = r
        .significant
        .iter()
        .filter(not_own)
        .filter(|&&g| p.is_significant(g))
        .count();
    let union = real + pred - both;
    if union == 0 {
        1.0
    } else {
        both as f64 / union as f64
    }
}

/// The direction metrics (`direction_precision`, `direction_sensitivity*` and the eleven
/// chance-corrected ones).
fn direction_metrics(
    pair: &Pair<'_>,
    name_rank: &[usize],
    sig_set: bool,
    adjudicable: bool,
    v: &mut [f64; DE_METRICS],
) {
    let r = pair.real;
    let frame = direction_frame(pair, name_rank);
    let called = || frame.iter().filter(|row| row.pred_significant);
    if adjudicable {
        let denominator = called().filter(|row| row.in_denominator).count();
        let matched = called().filter(|row| row.matches).count();
        v[DIRECTION_PRECISION] = if denominator == 0 {
            0.0
        } else {
            matched as f64 / denominator as f64
        };
    }
    if sig_set {
        let a = r.significant.len() as f64;
        let adjudicated = deepest_pure(
            frame.iter().filter(|row| row.real_significant),
            SENSITIVITY_PURITY,
        );
        v[DIRECTION_SENSITIVITY] = adjudicated as f64 / a;
        v[DIRECTION_SENSITIVITY_UNIVERSE] =
            deepest_pure(frame.iter(), SENSITIVITY_PURITY) as f64 / a;
    }

    // The chance-corrected family: own gene left out everywhere.
    let not_own = |row: &&FrameRow| Some(row.gene) != pair.own;
    let confident: Vec<usize> = r
        .significant
        .iter()
        .copied()
        .filter(|&g| Some(g) != pair.own)
        .collect();
    let n_conf = confident.len();
    let votes: Vec<f64> = confident
        .iter()
        .map(|&g| r.lfc[g])
        .filter(|&x| directed(x))
        .collect();
    // q: the share of the majority direction (what always guessing it scores); d: 1 − q,
    // at least 0.05.
    let chance = (!votes.is_empty()).then(|| {
        let up = votes.iter().filter(|&&x| x > 0.0).count();
        let q = up.max(votes.len() - up) as f64 / votes.len() as f64;
        (q, (1.0 - q).max(0.05))
    });
    let committed = || {
        frame
            .iter()
            .filter(not_own)
            .filter(|row| row.pred_significant && row.in_denominator)
    };
    let n_pred = committed().count();
    let k = committed().filter(|row| row.matches).count();
    let fidelity_raw = ratio(k, n_pred);
    let coverage = ratio(n_pred, n_conf);
    let corrected = chance.map_or(f64::NAN, |(q, d)| (fidelity_raw - q) / d);
    let (fidelity, fidelity_yield) = if n_conf == 0 {
        let x = if n_pred == 0 { 1.0 } else { 0.0 };
        (x, x)
    } else if chance.is_none() {
        (f64::NAN, f64::NAN)
    } else if n_pred == 0 {
        (f64::NAN, 0.0)
    } else {
        (corrected, coverage.min(1.0) * corrected)
    };
    v[DIRECTION_FIDELITY] = fidelity;
    v[DIRECTION_FIDELITY_RAW] = fidelity_raw;
    v[DIRECTION_COVERAGE] = coverage;
    v[DIRECTION_YIELD_RAW] = ratio(k, n_conf);
    v[DIRECTION_YIELD] = match chance {
        Some((q, d)) if n_conf > 0 => (k as f64 - q * n_pred as f64) / (n_conf as f64 * d),
        _ => f64::NAN,
    };
    v[DIRECTION_FIDELITY_YIELD] = fidelity_yield;
    v[DIRECTION_FIDELITY_YIELD_RAW] = ratio(k, n_pred.max(n_conf));
    // reach, reach_raw, reach_unbounded, reach_unbounded_raw.
    for (i, (adjudicated_only, corrected)) in
        [(true, true), (true, false), (false, true), (false, false)]
            .into_iter()
            .enumerate()
    {
        let floor = match (corrected, chance) {
            (true, Some((q, _))) => q + (1.0 - ALPHA) * (1.0 - q),
            (true, None) => continue,
            (false, _) => REACH_RAW_PURITY,
        };
        if n_conf == 0 {
            continue;
        }
        let rows = frame
            .iter()
            .filter(not_own)
            .filter(|row| !adjudicated_only || row.real_significant);
        v[DIRECTION_REACH + i] = deepest_pure(rows, floor) as f64 / n_conf as f64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(p_adj: &[f64], lfc: &[f64]) -> DeTable {
        let group = PdexGroup {
            target: "p".into(),
            target_membership: 1,
            target_mean: vec![0.0; p_adj.len()],
            log2_fold_change: lfc.to_vec(),
            percent_change: vec![0.0; p_adj.len()],
            p_value: p_adj.to_vec(),
            statistic: vec![0.0; p_adj.len()],
            fdr: p_adj.to_vec(),
        };
        DeTable::new(&group)
    }

    #[test]
    fn nan_fold_changes_are_never_significant() {
        let t = table(&[0.01, 0.01, 0.5], &[1.0, f64::NAN, 2.0]);
        assert_eq!(t.significant, vec![0]);
        assert_eq!(t.p_adj[1], 1.0);
    }

    #[test]
    fn spearman_ranks_nan_highest_and_tied() {
        // x ranks 1..4, y = [1, NaN, 2, NaN] ranks [1, 3.5, 2, 3.5].
        let s = spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, f64::NAN, 2.0, f64::NAN]);
        let (rx, ry) = ([1.0, 2.0, 3.0, 4.0], [1.0, 3.5, 2.0, 3.5]);
        let want = crate::metrics::calibrated::profile::pearson(&rx, &ry);
        assert!((s - want).abs() < 1e-15);
    }

    #[test]
    fn matthews_correlation_by_hand() {
        // tp 3, a 4, b 5, g 10: (30 − 20)/√(4·5·6·5).
        assert!((mcc(3, 4, 5, 10) - 10.0 / 600f64.sqrt()).abs() < 1e-15);
        assert_eq!(mcc(0, 4, 0, 10), -1.0);
    }

    #[test]
    fn purity_curve_takes_the_deepest_pure_depth() {
        let row = |d: bool, m: bool| FrameRow {
            gene: 0,
            in_denominator: d,
            matches: m,
            pred_significant: true,
            real_significant: true,
        };
        // Depth 1 pure, depth 2 half, depth 3 2/3, depth 4 3/4.
        let rows = [
            row(true, true),
            row(true, false),
            row(true, true),
            row(false, false),
            row(true, true),
        ];
        assert_eq!(deepest_pure(rows.iter(), 0.75), 4);
        assert_eq!(deepest_pure(rows.iter(), 0.9), 1);
    }

    #[test]
    fn perfect_prediction_scores_one() {
        let mut p_adj = vec![0.5; 30];
        let mut lfc: Vec<f64> = (0..30)
            .map(|g| {
                if g % 2 == 0 {
                    1.0 + g as f64
                } else {
                    -(1.0 + g as f64)
                }
            })
            .collect();
        p_adj[..12].fill(0.001);
        lfc[29] = 0.1;
        let t = table(&p_adj, &lfc);
        let pair = Pair {
            real: &t,
            pred: &t,
            own: None,
        };
        let names: Vec<usize> = (0..30).collect();
        let v = panel_metrics(&[pair], &names)[0];
        for k in [
            OVERLAP,
            PRECISION,
            SIG_RECALL,
            DIRECTION_MATCH,
            SIG_MCC,
            SIG_JACCARD,
            DIRECTION_FIDELITY_RAW,
            DIRECTION_SENSITIVITY,
        ] {
            assert_eq!(v[k], 1.0, "metric {k}");
        }
        assert_eq!(v[LFC_NMAE], 0.0);
        assert!((v[LFC_SPEARMAN] - 1.0).abs() < 1e-15);
    }
}
