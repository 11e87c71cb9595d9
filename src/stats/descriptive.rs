//! Descriptive statistics with numpy's / pandas' floating-point behaviour, so results equal the
//! reference's to the last bit where it matters (e.g. the bootstrap's order statistics).

/// Mean of the rows `rows` of `y`: rows added in order, divided once (numpy's axis-0 mean of
/// the stacked rows). Zeros when `rows` is empty.
pub fn column_means(y: ndarray::ArrayView2<f64>, rows: &[usize]) -> ndarray::Array1<f64> {
    let mut mean = ndarray::Array1::<f64>::zeros(y.ncols());
    for &r in rows {
        mean += &y.row(r);
    }
    mean / rows.len().max(1) as f64
}

/// numpy's pairwise summation of a contiguous f64 array (blocks of 128, 8 accumulators).
pub fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut r = 0.0;
        for &x in a {
            r += x;
        }
        r
    } else if n <= 128 {
        let mut r = [a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]];
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `K` sums of `f(0..n)` at once, each in numpy's pairwise order: bit-identical to
/// `pairwise_sum` of the materialised arrays, without allocating them (one pass for K sums).
#[inline]
pub fn pairwise_sums<const K: usize>(n: usize, f: &impl Fn(usize) -> [f64; K]) -> [f64; K] {
    pairwise_sums_range(0, n, f)
}

fn pairwise_sums_range<const K: usize>(
    start: usize,
    n: usize,
    f: &impl Fn(usize) -> [f64; K],
) -> [f64; K] {
    if n < 8 {
        let mut r = [0.0; K];
        for i in start..start + n {
            let v = f(i);
            for k in 0..K {
                r[k] += v[k];
            }
        }
        r
    } else if n <= 128 {
        let mut acc = [[0.0; K]; 8];
        for (j, a) in acc.iter_mut().enumerate() {
            *a = f(start + j);
        }
        let mut i = 8;
        while i < n - n % 8 {
            for (j, a) in acc.iter_mut().enumerate() {
                let v = f(start + i + j);
                for k in 0..K {
                    a[k] += v[k];
                }
            }
            i += 8;
        }
        let mut res = [0.0; K];
        for k in 0..K {
            let r = |j: usize| acc[j][k];
            res[k] = ((r(0) + r(1)) + (r(2) + r(3))) + ((r(4) + r(5)) + (r(6) + r(7)));
        }
        while i < n {
            let v = f(start + i);
            for k in 0..K {
                res[k] += v[k];
            }
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        let a = pairwise_sums_range(start, n2, f);
        let b = pairwise_sums_range(start + n2, n - n2, f);
        let mut r = [0.0; K];
        for k in 0..K {
            r[k] = a[k] + b[k];
        }
        r
    }
}

/// `np.mean` (NaN for an empty slice).
pub fn mean(a: &[f64]) -> f64 {
    if a.is_empty() {
        return f64::NAN;
    }
    pairwise_sum(a) / a.len() as f64
}

/// `np.var(a, ddof)`: mean of squared deviations from the mean, divided by n − ddof.
pub fn var(a: &[f64], ddof: usize) -> f64 {
    if a.len() <= ddof {
        return f64::NAN;
    }
    let m = mean(a);
    let sq: Vec<f64> = a.iter().map(|&x| (x - m) * (x - m)).collect();
    pairwise_sum(&sq) / (a.len() - ddof) as f64
}

/// `np.std(a, ddof)`.
pub fn std(a: &[f64], ddof: usize) -> f64 {
    var(a, ddof).sqrt()
}

/// `np.median`: the middle value, or the mean of the two middle values.
pub fn median(a: &[f64]) -> f64 {
    if a.is_empty() {
        return f64::NAN;
    }
    let s = sorted(a);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

fn sorted(a: &[f64]) -> Vec<f64> {
    let mut s = a.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

/// `np.percentile(a, q)` with the default 'linear' method (q in percent), including numpy's
/// two-sided interpolation formula.
pub fn percentile_linear(a: &[f64], q_percent: f64) -> f64 {
    if a.is_empty() {
        return f64::NAN;
    }
    let s = sorted(a);
    let n = s.len();
    let q = q_percent / 100.0;
    let virtual_index = (n as f64 - 1.0) * q;
    if virtual_index >= n as f64 - 1.0 {
        return s[n - 1];
    }
    if virtual_index < 0.0 {
        return s[0];
    }
    let prev = virtual_index.floor();
    let gamma = virtual_index - prev;
    let (lo, hi) = (s[prev as usize], s[prev as usize + 1]);
    numpy_lerp(lo, hi, gamma)
}

/// numpy's `_lerp`: a + (b−a)·t, or b − (b−a)·(1−t) when t ≥ 0.5.
fn numpy_lerp(a: f64, b: f64, t: f64) -> f64 {
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// `scipy.stats.quantile(x, p, method='linear')` on sorted data (Hyndman–Fan type 7 as scipy
/// writes it: j = ⌊p·n + 1 − p⌋ − 1, g = frac, (1−g)·y[j] + g·y[j+1]).
pub fn scipy_quantile_linear_sorted(y: &[f64], p: f64) -> f64 {
    let n = y.len();
    if n == 0 {
        return f64::NAN;
    }
    let nf = n as f64;
    let jg = p * nf + (1.0 - p);
    let jp1 = jg.div_euclid(1.0);
    let j = jp1 - 1.0;
    let mut g = jg.rem_euclid(1.0);
    if j < 0.0 {
        g = 0.0;
    }
    let j = j.clamp(0.0, nf - 1.0) as usize;
    let jp1 = jp1.clamp(0.0, nf - 1.0) as usize;
    (1.0 - g) * y[j] + g * y[jp1]
}

/// pandas `Series.mean()` over values where NaN marks a missing value: NaNs are replaced by 0
/// in place (pandas' summation order) and not counted. NaN when nothing is left.
pub fn pandas_mean(values: &[f64]) -> f64 {
    let (filled, count) = fill_nan_zero(values);
    if count == 0 {
        return f64::NAN;
    }
    pairwise_sum(&filled) / count as f64
}

/// pandas `Series.sem()` (ddof 1), NaN-skipping like pandas.
pub fn pandas_sem(values: &[f64]) -> f64 {
    let (filled, count) = fill_nan_zero(values);
    if count < 2 {
        return f64::NAN;
    }
    let avg = pairwise_sum(&filled) / count as f64;
    let sq: Vec<f64> = values
        .iter()
        .zip(&filled)
        .map(|(&v, &x)| {
            if v.is_nan() {
                0.0
            } else {
                (avg - x) * (avg - x)
            }
        })
        .collect();
    let var = pairwise_sum(&sq) / (count - 1) as f64;
    var.sqrt() / (count as f64).sqrt()
}

fn fill_nan_zero(values: &[f64]) -> (Vec<f64>, usize) {
    let mut count = 0;
    let filled = values
        .iter()
        .map(|&v| {
            if v.is_nan() {
                0.0
            } else {
                count += 1;
                v
            }
        })
        .collect();
    (filled, count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fused_sums_are_bit_identical_to_pairwise_sum() {
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 300, 1000, 8192, 8199] {
            let a: Vec<f64> = (0..n)
                .map(|i| ((i * 7919) % 1013) as f64 / 97.0 - 3.1)
                .collect();
            let sq: Vec<f64> = a.iter().map(|x| x * x).collect();
            let [s, s2] = pairwise_sums(n, &|i| [a[i], a[i] * a[i]]);
            assert_eq!(s.to_bits(), pairwise_sum(&a).to_bits(), "n = {n}");
            assert_eq!(s2.to_bits(), pairwise_sum(&sq).to_bits(), "n = {n}");
        }
    }

    #[test]
    fn matches_numpy() {
        // numpy 2.4.6 on x = [0.1, 0.7, 0.3, 1e-3, 5.0, 2.2, 0.9, 0.4, 1.1]
        let x = [0.1, 0.7, 0.3, 1e-3, 5.0, 2.2, 0.9, 0.4, 1.1];
        assert_eq!(mean(&x), 1.1889999999999998);
        assert_eq!(median(&x), 0.7);
        assert_eq!(std(&x, 0), 1.4864765199775085);
        assert_eq!(percentile_linear(&x, 25.0), 0.3);
        assert_eq!(percentile_linear(&x, 75.0), 1.1);
        assert_eq!(percentile_linear(&x[..8], 25.0), 0.25);
        assert_eq!(percentile_linear(&x[..8], 75.0), 1.225);
        assert_eq!(median(&x[..8]), 0.55);
    }

    #[test]
    fn pandas_skips_nan() {
        let x = [1.0, f64::NAN, 2.0, 4.0];
        assert_eq!(pandas_mean(&x), 7.0 / 3.0);
        // pandas: pd.Series([1, nan, 2, 4]).sem() = 0.8819171036881969
        assert_eq!(pandas_sem(&x), 0.8819171036881969);
    }
}
