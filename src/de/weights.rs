//! DEG weights and masks from the GT-half test (SPEC §4).

use ndarray::{Array1, ArrayView1};

/// DEG call threshold on the GT-half adjusted p-value.
pub const PADJ_THRESHOLD: f64 = 0.05;

/// w_g = ((|t_g| − min|t|)/(max|t| − min|t|))², NaN → 0; all 0 when max = min (0/0 is NaN).
/// `score` is the f32-rounded t, as the published pipeline reads it.
pub fn deg_weights(score: ArrayView1<f64>) -> Array1<f64> {
    let a = score.mapv(f64::abs);
    let min = a.iter().copied().fold(f64::INFINITY, f64::min);
    let max = a.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    a.mapv(|x| {
        let w = (x - min) / (max - min);
        if w.is_nan() {
            0.0
        } else {
            w * w
        }
    })
}

/// D = {g : p_adj < 0.05}, in gene order.
pub fn deg_mask(pval_adj: ArrayView1<f64>) -> Array1<bool> {
    pval_adj.mapv(|p| p < PADJ_THRESHOLD)
}

/// `--preset revision`: the k genes with the smallest p_adj (ties broken by gene order).
pub fn deg_mask_top_k(pval_adj: ArrayView1<f64>, k: usize) -> Array1<bool> {
    let mut order: Vec<usize> = (0..pval_adj.len()).collect();
    order.sort_by(|&a, &b| pval_adj[a].total_cmp(&pval_adj[b]).then(a.cmp(&b)));
    let mut mask = Array1::from_elem(pval_adj.len(), false);
    for &g in order.iter().take(k) {
        mask[g] = true;
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn spec_worked_example() {
        // SPEC §10: |t| = [4, 0, 1, 2, 3] → w = [1, 0, 0.0625, 0.25, 0.5625].
        let w = deg_weights(array![4.0, 0.0, -1.0, 2.0, -3.0].view());
        assert_eq!(w, array![1.0, 0.0, 0.0625, 0.25, 0.5625]);
    }

    #[test]
    fn constant_scores_give_zero_weights() {
        assert_eq!(
            deg_weights(array![2.0, -2.0, 2.0].view()),
            array![0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn masks() {
        let p = array![0.01, 0.5, 0.049, 0.05, 0.01];
        assert_eq!(deg_mask(p.view()), array![true, false, true, false, true]);
        assert_eq!(
            deg_mask_top_k(p.view(), 2),
            array![true, false, false, false, true]
        );
    }
}
