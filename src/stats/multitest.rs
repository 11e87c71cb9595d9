//! Benjamini–Hochberg adjustment as statsmodels' `multipletests(method='fdr_bh')`.

/// BH-adjusted p-values in input order: q_(i) = p_(i) / (i/n), reverse cumulative minimum,
/// capped at 1. Ties get the same value whatever their order. NaN p-values are not expected (the
/// DEG test maps NaN to 1 first); if present they sort last and stay NaN.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let n = p.len();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let nf = n as f64;
    let mut q = vec![0.0; n];
    let mut running = f64::INFINITY;
    for rank in (0..n).rev() {
        let i = order[rank];
        // statsmodels divides by the ECDF factor (i/n) rather than multiplying by n/i.
        let raw = p[i] / ((rank + 1) as f64 / nf);
        if raw.is_nan() {
            q[i] = f64::NAN;
            continue;
        }
        running = running.min(raw);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_statsmodels() {
        // statsmodels 0.15.0 multipletests(p, method='fdr_bh')[1]
        let p = [0.01, 0.04, 0.03, 0.5, 0.04, 0.2, 1.0, 0.001];
        let want = [
            0.04,
            0.064,
            0.064,
            0.5714285714285714,
            0.064,
            0.26666666666666666,
            1.0,
            0.008,
        ];
        assert_eq!(benjamini_hochberg(&p), want);
    }
}
