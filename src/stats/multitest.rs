//! Benjamini–Hochberg adjustment as statsmodels' `multipletests(method='fdr_bh')`.

/// BH-adjusted p-values in input order: q_(i) = p_(i) / (i/n), reverse cumulative minimum,
/// capped at 1. Ties get the same value whatever their order. NaN p-values are not expected (the
/// DEG test maps NaN to 1 first); if present they sort last and stay NaN.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let n = p.len();
    // Sorted by (value in `total_cmp` order, position): the order of a stable sort, from a
    // direct sort of plain keys.
    let mut order: Vec<(i64, usize)> = p
        .iter()
        .enumerate()
        .map(|(i, &x)| (total_order_key(x), i))
        .collect();
    order.sort_unstable();
    let nf = n as f64;
    let mut q = vec![0.0; n];
    let mut running = f64::INFINITY;
    for rank in (0..n).rev() {
        let i = order[rank].1;
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

/// An integer ordered as `f64::total_cmp` orders the floats.
pub(crate) fn total_order_key(x: f64) -> i64 {
    let bits = x.to_bits() as i64;
    bits ^ ((((bits >> 63) as u64) >> 1) as i64)
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

    #[test]
    fn keys_order_like_total_cmp() {
        let xs = [
            f64::NEG_INFINITY,
            -2.5,
            -0.0,
            0.0,
            1e-300,
            0.5,
            1.0,
            f64::INFINITY,
            f64::NAN,
            -f64::NAN,
            -1e-300,
            5e-324,
            -5e-324,
            f64::MAX,
            f64::MIN,
        ];
        for a in xs {
            for b in xs {
                assert_eq!(total_order_key(a).cmp(&total_order_key(b)), a.total_cmp(&b));
            }
        }
    }
}
