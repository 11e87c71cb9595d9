//! cell-eval 0.8.1's DE metrics of one perturbation: its real and predicted pdex tables
//! compared gene by gene.
//!
//! cell-eval casts the tables' `fdr` and `log2_fold_change` to float32 before any metric
//! (`DEResults.__post_init__`), so significance (`fdr < 0.05`, the literal taken as float32)
//! and the |log2FC| order are decided on float32 values here too.

use super::auc;
use crate::de::mannwhitney::PdexGroup;
use crate::metrics::distributional::spearman;

/// cell-eval's significance threshold on the FDR.
pub const FDR_THRESHOLD: f32 = 0.05;

/// The `k` of `overlap_at_*` / `precision_at_*` (`None`: N, the list's own length).
pub const TOP_K: [Option<usize>; 5] = [None, Some(50), Some(100), Some(200), Some(500)];

/// One perturbation's DE table as cell-eval's metrics see it.
#[derive(Debug, Clone)]
pub struct DeView {
    /// FDR per gene, float32.
    pub fdr: Vec<f32>,
    /// log2 fold change per gene, float32.
    pub lfc: Vec<f32>,
    /// Genes with FDR < 0.05, in gene order.
    pub significant: Vec<usize>,
    /// The significant genes by |log2FC|, largest first (ties in gene order: polars'
    /// ordinal rank).
    pub top: Vec<usize>,
}

impl DeView {
    /// The view of a pdex table.
    pub fn new(group: &PdexGroup) -> Self {
        let fdr: Vec<f32> = group.fdr.iter().map(|&q| q as f32).collect();
        let lfc: Vec<f32> = group.log2_fold_change.iter().map(|&x| x as f32).collect();
        let significant: Vec<usize> = (0..fdr.len()).filter(|&g| fdr[g] < FDR_THRESHOLD).collect();
        let mut top = significant.clone();
        // Descending, NaN above +inf as polars orders it; a stable sort keeps gene order.
        top.sort_by(|&a, &b| lfc[b].abs().total_cmp(&lfc[a].abs()));
        DeView {
            fdr,
            lfc,
            significant,
            top,
        }
    }

    /// Number of genes.
    pub fn n_genes(&self) -> usize {
        self.fdr.len()
    }
}

/// |first `k` of `a` ∩ first `k` of `b`| / `k` (0 when `k` = 0).
pub(crate) fn shared_fraction(a: &[usize], b: &[usize], k: usize, n_genes: usize) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let mut in_b = vec![false; n_genes];
    b.iter().take(k).for_each(|&g| in_b[g] = true);
    a.iter().take(k).filter(|&&g| in_b[g]).count() as f64 / k as f64
}

/// `overlap_at_k`: the share of the real top-k significant genes among the predicted top-k
/// (k capped at the real list's length; N = all real significant genes).
pub fn overlap_at(real: &DeView, pred: &DeView, k: Option<usize>) -> f64 {
    let k_eff = k.unwrap_or(real.top.len()).min(real.top.len());
    shared_fraction(&real.top, &pred.top, k_eff, real.n_genes())
}

/// `precision_at_k`: the same with k capped at the predicted list's length.
pub fn precision_at(real: &DeView, pred: &DeView, k: Option<usize>) -> f64 {
    let k_eff = k.unwrap_or(pred.top.len()).min(pred.top.len());
    shared_fraction(&real.top, &pred.top, k_eff, real.n_genes())
}

/// polars' `sign` (0 for ±0, NaN for NaN).
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        x * 0.0
    }
}

/// `de_direction_match`: share of the real significant genes whose predicted log2FC has the
/// same sign; NaN (cell-eval: null) without real significant genes.
pub fn direction_match(real: &DeView, pred: &DeView) -> f64 {
    if real.significant.is_empty() {
        return f64::NAN;
    }
    let same = real
        .significant
        .iter()
        .filter(|&&g| {
            let (a, b) = (sign(real.lfc[g]), sign(pred.lfc[g]));
            // polars compares NaN equal to NaN.
            a == b || (a.is_nan() && b.is_nan())
        })
        .count();
    same as f64 / real.significant.len() as f64
}

/// `de_spearman_lfc_sig`: Spearman correlation of real and predicted log2FC over the real
/// significant genes; NaN without them, with one, or with a constant side.
pub fn spearman_lfc(real: &DeView, pred: &DeView) -> f64 {
    if real.significant.is_empty() {
        return f64::NAN;
    }
    let r: Vec<f64> = real
        .significant
        .iter()
        .map(|&g| f64::from(real.lfc[g]))
        .collect();
    let p: Vec<f64> = real
        .significant
        .iter()
        .map(|&g| f64::from(pred.lfc[g]))
        .collect();
    spearman(&r, &p)
}

/// `de_sig_genes_recall`: share of the real significant genes that are significant in the
/// prediction; NaN without real significant genes.
pub fn recall(real: &DeView, pred: &DeView) -> f64 {
    if real.significant.is_empty() {
        return f64::NAN;
    }
    let hit = real
        .significant
        .iter()
        .filter(|&&g| pred.fdr[g] < FDR_THRESHOLD)
        .count();
    hit as f64 / real.significant.len() as f64
}

/// The predicted table's score of each gene for `pr_auc` / `roc_auc`: −log10 of its FDR
/// clipped to [1e-10, 1], in float32 as polars computes it.
fn recovery_scores(pred: &DeView) -> Vec<f32> {
    pred.fdr
        .iter()
        .map(|&q| -libm::log10f(q.clamp(1e-10, 1.0)))
        .collect()
}

/// `pr_auc` and `roc_auc`: how well the predicted FDRs rank the real significant genes; NaN
/// when every gene or none is significant in the real table.
pub fn recovery_aucs(real: &DeView, pred: &DeView) -> (f64, f64) {
    let labels: Vec<bool> = real.fdr.iter().map(|&q| q < FDR_THRESHOLD).collect();
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 || positives == labels.len() {
        return (f64::NAN, f64::NAN);
    }
    let scores: Vec<f64> = recovery_scores(pred).into_iter().map(f64::from).collect();
    let curve = auc::Curve::new(&labels, &scores);
    (curve.average_precision(), curve.roc_auc())
}

/// Spearman correlation of the numbers of significant genes (`de_spearman_sig`), over the
/// perturbations with at least one real significant gene; 1 when there is none (cell-eval's
/// "perfect agreement" case).
pub fn spearman_nsig(real_counts: &[usize], pred_counts: &[usize]) -> f64 {
    let (r, p): (Vec<f64>, Vec<f64>) = real_counts
        .iter()
        .zip(pred_counts)
        .filter(|(&r, _)| r > 0)
        .map(|(&r, &p)| (r as f64, p as f64))
        .unzip();
    if r.is_empty() {
        return 1.0;
    }
    spearman(&r, &p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(fdr: &[f32], lfc: &[f32]) -> DeView {
        let group = PdexGroup {
            target: "p".into(),
            target_membership: 1,
            target_mean: vec![0.0; fdr.len()],
            log2_fold_change: lfc.iter().map(|&x| f64::from(x)).collect(),
            percent_change: vec![0.0; fdr.len()],
            p_value: fdr.iter().map(|&x| f64::from(x)).collect(),
            statistic: vec![0.0; fdr.len()],
            fdr: fdr.iter().map(|&x| f64::from(x)).collect(),
        };
        DeView::new(&group)
    }

    #[test]
    fn top_genes_by_absolute_fold_change_ties_in_gene_order() {
        let v = view(
            &[0.01, 0.2, 0.01, 0.01, 0.04],
            &[1.0, 9.0, -3.0, f32::INFINITY, 3.0],
        );
        assert_eq!(v.significant, vec![0, 2, 3, 4]);
        assert_eq!(v.top, vec![3, 2, 4, 0]);
    }

    #[test]
    fn overlap_and_precision_cap_k_at_their_own_list() {
        let real = view(&[0.01, 0.01, 0.01, 0.5], &[3.0, 2.0, 1.0, 0.0]);
        let pred = view(&[0.01, 0.5, 0.01, 0.01], &[1.0, 0.0, 3.0, 2.0]);
        // real top: 0, 1, 2; pred top: 2, 3, 0.
        assert_eq!(overlap_at(&real, &pred, None), 2.0 / 3.0);
        assert_eq!(overlap_at(&real, &pred, Some(1)), 0.0);
        assert_eq!(overlap_at(&real, &pred, Some(2)), 0.0);
        assert_eq!(precision_at(&real, &pred, Some(50)), 2.0 / 3.0);
        assert_eq!(recall(&real, &pred), 2.0 / 3.0);
        assert_eq!(direction_match(&real, &pred), 2.0 / 3.0);
    }

    #[test]
    fn no_real_significant_gene_is_undefined_except_overlaps() {
        let real = view(&[0.5, 0.5], &[1.0, -1.0]);
        let pred = view(&[0.01, 0.01], &[1.0, -1.0]);
        assert_eq!(overlap_at(&real, &pred, None), 0.0);
        assert_eq!(precision_at(&real, &pred, None), 0.0);
        assert!(direction_match(&real, &pred).is_nan());
        assert!(recall(&real, &pred).is_nan());
        assert!(recovery_aucs(&real, &pred).0.is_nan());
        assert_eq!(spearman_nsig(&[0, 0], &[3, 4]), 1.0);
    }
}
