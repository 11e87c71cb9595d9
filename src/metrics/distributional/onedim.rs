//! One-dimensional distances between two samples of one gene (SPEC §12.3; GGE 1.0.1 computes
//! its distributional metrics gene by gene and averages them).
//!
//! Every function takes the samples **sorted ascending** (the caller sorts each gene once and
//! reuses it for every distance), so W1, W2 and the energy distance are O(n + m) merges; only
//! the RBF MMD is quadratic (its kernel sums: [`super::kernel`]).

use super::kernel::weighted_rbf_sum;

/// Wasserstein-1 between the empirical distributions of `x` and `y`: ∫|F − G| (scipy's
/// `wasserstein_distance`). NaN when either is empty.
pub fn wasserstein_1(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return f64::NAN;
    }
    let (n, m) = (x.len() as f64, y.len() as f64);
    let (mut i, mut j) = (0, 0);
    let mut at = x[0].min(y[0]);
    let mut total = 0.0;
    while i < x.len() || j < y.len() {
        let next = match (x.get(i), y.get(j)) {
            (Some(&a), Some(&b)) => a.min(b),
            (Some(&a), None) => a,
            (None, Some(&b)) => b,
            (None, None) => unreachable!(),
        };
        total += (i as f64 / n - j as f64 / m).abs() * (next - at);
        at = next;
        while i < x.len() && x[i] == next {
            i += 1;
        }
        while j < y.len() && y[j] == next {
            j += 1;
        }
    }
    total
}

/// Wasserstein-2 between the empirical distributions: √∫₀¹ (F⁻¹(t) − G⁻¹(t))² dt, exact (the
/// quantile functions are step functions; the integral runs over their merged breakpoints).
pub fn wasserstein_2(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return f64::NAN;
    }
    let (n, m) = (x.len(), y.len());
    let (mut i, mut j) = (0, 0);
    let mut t = 0.0;
    let mut total = 0.0;
    while i < n && j < m {
        // Quantile step i of x ends at (i+1)/n, step j of y at (j+1)/m.
        let (ex, ey) = ((i + 1) as f64 / n as f64, (j + 1) as f64 / m as f64);
        let end = ex.min(ey);
        let d = x[i] - y[j];
        total += d * d * (end - t);
        t = end;
        // Exact comparison of i+1/n and j+1/m in integers.
        let (a, b) = ((i + 1) * m, (j + 1) * n);
        if a <= b {
            i += 1;
        }
        if b <= a {
            j += 1;
        }
    }
    total.max(0.0).sqrt()
}

/// Σ over ordered pairs |aᵢ − aⱼ| of a sorted sample: 2 Σᵢ a₍ᵢ₎ (2i − n + 1).
fn within_abs_sum(a: &[f64]) -> f64 {
    let n = a.len() as f64;
    2.0 * a
        .iter()
        .enumerate()
        .map(|(i, &v)| v * (2.0 * i as f64 - n + 1.0))
        .sum::<f64>()
}

/// Σ over pairs |xᵢ − yⱼ| of two sorted samples, by a merge with running sums.
fn cross_abs_sum(x: &[f64], y: &[f64]) -> f64 {
    let total_y: f64 = y.iter().sum();
    let (mut j, mut below_sum) = (0usize, 0.0);
    let m = y.len() as f64;
    let mut s = 0.0;
    for &v in x {
        while j < y.len() && y[j] <= v {
            below_sum += y[j];
            j += 1;
        }
        let below = j as f64;
        s += v * below - below_sum + (total_y - below_sum) - v * (m - below);
    }
    s
}

/// Energy distance 2E|X − Y| − E|X − X'| − E|Y − Y'| (V-statistics: every pair, the zero
/// diagonal included, as GGE's and scipy's forms). NaN when either sample is empty.
pub fn energy(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return f64::NAN;
    }
    let (n, m) = (x.len() as f64, y.len() as f64);
    let xy = cross_abs_sum(x, y) / (n * m);
    let xx = within_abs_sum(x) / (n * n);
    let yy = within_abs_sum(y) / (m * m);
    (2.0 * xy - xx - yy).max(0.0)
}

/// GGE 1.0.1's energy (geomloss 0.3.1 `SamplesLoss("energy")`, tensorized): E d(X, Y) −
/// ½E d(X, X') − ½E d(Y, Y'), half the energy distance, with geomloss's float32 distance
/// d(x, y) = √max(x² − 2xy + y², 1e-8) — which is 1e-4, not 0, between equal values, and
/// carries float32 cancellation between close ones. Reproduced for `--compat gge` only.
pub fn energy_geomloss(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return f64::NAN;
    }
    let d = |a: f64, b: f64| {
        let (a, b) = (a as f32, b as f32);
        let sq = a * a - 2.0 * (a * b) + b * b;
        f64::from(sq.max(1e-8).sqrt())
    };
    let mean = |a: &[f64], b: &[f64]| {
        a.iter()
            .map(|&u| b.iter().map(|&v| d(u, v)).sum::<f64>())
            .sum::<f64>()
            / (a.len() * b.len()) as f64
    };
    mean(x, y) - 0.5 * mean(x, x) - 0.5 * mean(y, y)
}

/// The median of |zᵢ − zⱼ| > 0 over the pooled sample (the median heuristic; GGE's `sigma`);
/// 1 when every value is equal (then the samples are one point and the MMD is 0 anyway).
///
/// Exact, without listing the O(N²) distances ([`kth_distances`]).
pub fn median_heuristic(x: &[f64], y: &[f64]) -> f64 {
    let pooled = merge_sorted(x, y);
    let runs = Runs::of(&pooled);
    if runs.values.len() < 2 {
        return 1.0;
    }
    // Distinct values r < s stand for c_r·c_s equal distances; equal values for none (> 0 only).
    let c = &runs.counts;
    let all: f64 = c.iter().sum();
    let total = (all * all - c.iter().map(|k| k * k).sum::<f64>()) / 2.0;
    // numpy's median: the k-th (0-based), k = ⌊total/2⌋, and for an even total the mean with
    // the (k−1)-th.
    let k = (total / 2.0).floor();
    if total % 2.0 == 1.0 {
        kth_distances(&runs, [k, k])[1]
    } else {
        let [below, at] = kth_distances(&runs, [k - 1.0, k]);
        (below + at) / 2.0
    }
}

/// Two sorted samples merged into one sorted sample.
fn merge_sorted(x: &[f64], y: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(x.len() + y.len());
    let (mut i, mut j) = (0, 0);
    while i < x.len() && j < y.len() {
        if y[j] < x[i] {
            out.push(y[j]);
            j += 1;
        } else {
            out.push(x[i]);
            i += 1;
        }
    }
    out.extend_from_slice(&x[i..]);
    out.extend_from_slice(&y[j..]);
    out
}

/// The ks[0]-th and ks[1]-th smallest (0-based, ks[0] ≤ ks[1]) of the positive distances
/// v_s − v_r (r < s) between distinct values, each weighing c_r·c_s.
///
/// The weight of distances ≤ t is an O(R) two-pointer count (floating subtraction is monotone
/// in each argument). Bisecting t keeps both answers in a window (lo, hi] until the window
/// holds few pairs of runs (at most R share one distance value, so it always ends), which are
/// then listed and selected: O(R log R) in practice instead of sorting N²/2 distances.
fn kth_distances(runs: &Runs, ks: [f64; 2]) -> [f64; 2] {
    let (v, c) = (&runs.values, &runs.counts);
    let r_len = v.len();
    // (weight, run pairs) of distances ≤ t.
    let count = |t: f64| -> (f64, usize) {
        let (mut r, mut below, mut weight, mut pairs) = (0usize, 0.0, 0.0, 0usize);
        let mut prefix = 0.0; // Σ c over runs before s
        for s in 0..r_len {
            while v[s] - v[r] > t {
                below += c[r];
                r += 1;
            }
            weight += c[s] * (prefix - below);
            pairs += s - r;
            prefix += c[s];
        }
        (weight, pairs)
    };
    let (mut lo, mut hi) = (0.0f64, v[r_len - 1] - v[0]);
    // Invariant: weight(lo) ≤ ks[0] ≤ ks[1] < weight(hi).
    let (mut pairs_lo, mut pairs_hi) = (0usize, r_len * (r_len - 1) / 2);
    let mut weight_lo = 0.0;
    let few = r_len + 32;
    while pairs_hi - pairs_lo > few {
        let mid = lo + (hi - lo) / 2.0;
        if mid <= lo || mid >= hi {
            break;
        }
        let (w, p) = count(mid);
        if w > ks[1] {
            (hi, pairs_hi) = (mid, p);
        } else if w <= ks[0] {
            (lo, pairs_lo, weight_lo) = (mid, p, w);
        } else {
            break; // mid separates the two ranks: list the window as it is
        }
    }
    // List the pairs of runs at distances in (lo, hi] and select among them.
    let mut window: Vec<(f64, f64)> = Vec::with_capacity(pairs_hi - pairs_lo);
    let (mut r_near, mut r_far) = (0usize, 0usize);
    for s in 0..r_len {
        // r in [r_far, r_near): lo < v_s − v_r ≤ hi.
        while v[s] - v[r_far] > hi {
            r_far += 1;
        }
        r_near = r_near.max(r_far);
        while r_near < s && v[s] - v[r_near] > lo {
            r_near += 1;
        }
        for r in r_far..r_near {
            window.push((v[s] - v[r], c[r] * c[s]));
        }
    }
    window.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = [hi; 2];
    let mut seen = weight_lo;
    let mut next = 0;
    for &(d, w) in &window {
        seen += w;
        while next < 2 && seen > ks[next] {
            out[next] = d;
            next += 1;
        }
        if next == 2 {
            break;
        }
    }
    out
}

/// Runs of equal consecutive values of a sorted sample: distinct values and their counts.
/// Samples of expression data hold many equal values (zeros above all), and kernel sums over
/// runs weigh each value once.
struct Runs {
    values: Vec<f64>,
    counts: Vec<f64>,
}

impl Runs {
    fn of(a: &[f64]) -> Self {
        let (mut values, mut counts): (Vec<f64>, Vec<f64>) = (Vec::new(), Vec::new());
        for &v in a {
            match (values.last(), counts.last_mut()) {
                (Some(&u), Some(c)) if u == v => *c += 1.0,
                _ => {
                    values.push(v);
                    counts.push(1.0);
                }
            }
        }
        Runs { values, counts }
    }
}

/// Σ over ordered pairs i ≠ j of `a` (twice the pairs i < j), by runs of equal values.
fn rbf_within(a: &[f64], inv: f64) -> f64 {
    let Runs { values, counts } = Runs::of(a);
    let same: f64 = counts.iter().map(|c| c * (c - 1.0)).sum();
    let s: f64 = (0..values.len())
        .map(|i| counts[i] * weighted_rbf_sum(values[i], &values[i + 1..], &counts[i + 1..], inv))
        .sum();
    same + 2.0 * s
}

/// Σ over all pairs (aᵢ, bⱼ), by runs of equal values.
fn rbf_across(a: &[f64], b: &[f64], inv: f64) -> f64 {
    let (ra, rb) = (Runs::of(a), Runs::of(b));
    ra.values
        .iter()
        .zip(&ra.counts)
        .map(|(&u, &cu)| cu * weighted_rbf_sum(u, &rb.values, &rb.counts, inv))
        .sum()
}

/// Unbiased MMD² with the RBF kernel exp(−d²/(2σ²)), σ by [`median_heuristic`], clamped ≥ 0
/// (GGE's `mmd`). NaN when either sample has fewer than 2 values.
pub fn mmd_rbf(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 || y.len() < 2 {
        return f64::NAN;
    }
    let sigma = median_heuristic(x, y);
    let inv = 1.0 / (2.0 * sigma * sigma);
    let (n, m) = (x.len() as f64, y.len() as f64);
    let kxx = rbf_within(x, inv) / (n * (n - 1.0));
    let kyy = rbf_within(y, inv) / (m * (m - 1.0));
    let kxy = rbf_across(x, y, inv) / (n * m);
    (kxx + kyy - 2.0 * kxy).max(0.0)
}

/// pertpy's ε added to standard deviations and variances (its `epsilon=1e-8`).
const PERTPY_EPSILON: f64 = 1e-8;

/// Mean and standard deviation (ddof 0) of a sample, as numpy's `mean()` and `std()`.
fn mean_std(a: &[f64]) -> (f64, f64) {
    let n = a.len() as f64;
    let mean = a.iter().sum::<f64>() / n;
    let var = a.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The two-sample Kolmogorov–Smirnov statistic sup |F_x − F_y| over the pooled values (scipy's
/// `kstest(x, y).statistic`, pertpy's `ks_test` per feature). NaN when a sample is empty.
pub fn ks_statistic(x: &[f64], y: &[f64]) -> f64 {
    if x.is_empty() || y.is_empty() {
        return f64::NAN;
    }
    let (n, m) = (x.len() as f64, y.len() as f64);
    let (mut i, mut j, mut sup) = (0usize, 0usize, 0.0f64);
    while i < x.len() && j < y.len() {
        // Step both empirical CDFs past the next value (ties in both samples together).
        let v = x[i].min(y[j]);
        while i < x.len() && x[i] <= v {
            i += 1;
        }
        while j < y.len() && y[j] <= v {
            j += 1;
        }
        sup = sup.max((i as f64 / n - j as f64 / m).abs());
    }
    sup
}

/// pertpy's `t_test` for one feature: |Welch's t| with unbiased variances plus ε. NaN when a
/// sample has fewer than 2 values.
pub fn welch_abs_t(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 || y.len() < 2 {
        return f64::NAN;
    }
    let (n1, n2) = (x.len() as f64, y.len() as f64);
    let ((m1, s1), (m2, s2)) = (mean_std(x), mean_std(y));
    let v1 = s1 * s1 * n1 / (n1 - 1.0) + PERTPY_EPSILON;
    let v2 = s2 * s2 * n2 / (n2 - 1.0) + PERTPY_EPSILON;
    ((m1 - m2) / (v1 / n1 + v2 / n2).sqrt()).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pertpy_feature_statistics_match_scipy_and_hand_values() {
        // scipy.stats.kstest([1, 2, 2, 5], [2, 3, 4]).statistic = 5/12: the sup is at 2, where
        // F_x = 3/4 and F_y = 1/3.
        let ks = ks_statistic(&[1.0, 2.0, 2.0, 5.0], &[2.0, 3.0, 4.0]);
        assert!((ks - 5.0 / 12.0).abs() < 1e-15, "{ks}");
        assert_eq!(ks_statistic(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert_eq!(ks_statistic(&[1.0, 2.0], &[3.0, 4.0]), 1.0);
        let (x, y) = ([-1.0, 1.0], [-1.0, 3.0]);
        // Welch: means 0 and 1, unbiased variances 2 and 8: |t| = 1/√(1 + 4).
        let t = welch_abs_t(&x, &y);
        assert!((t - 1.0 / (5.0f64 + 1e-8).sqrt()).abs() < 1e-15, "{t}");
    }

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{a} vs {b}");
    }

    /// Brute-force V-statistic energy distance.
    fn energy_brute(x: &[f64], y: &[f64]) -> f64 {
        let mean = |a: &[f64], b: &[f64]| {
            a.iter()
                .flat_map(|u| b.iter().map(move |v| (u - v).abs()))
                .sum::<f64>()
                / (a.len() * b.len()) as f64
        };
        2.0 * mean(x, y) - mean(x, x) - mean(y, y)
    }

    #[test]
    fn identical_samples_are_at_distance_zero() {
        let x = [0.0, 1.0, 1.0, 2.5, 7.0];
        assert_eq!(wasserstein_1(&x, &x), 0.0);
        assert_eq!(wasserstein_2(&x, &x), 0.0);
        assert_eq!(energy(&x, &x), 0.0);
        assert_eq!(mmd_rbf(&x, &x), 0.0);
    }

    #[test]
    fn a_shift_moves_w1_and_w2_by_the_shift() {
        let x: Vec<f64> = (0..50).map(|i| (i as f64 * 0.37).sin()).collect();
        let mut xs = x.clone();
        xs.sort_by(f64::total_cmp);
        let ys: Vec<f64> = xs.iter().map(|v| v + 0.75).collect();
        close(wasserstein_1(&xs, &ys), 0.75);
        close(wasserstein_2(&xs, &ys), 0.75);
    }

    #[test]
    fn point_masses_have_known_distances() {
        // δ₀ vs δ₁: W1 = W2 = 1, energy = 2·1 − 0 − 0 = 2.
        close(wasserstein_1(&[0.0; 3], &[1.0; 4]), 1.0);
        close(wasserstein_2(&[0.0; 3], &[1.0; 4]), 1.0);
        close(energy(&[0.0; 3], &[1.0; 4]), 2.0);
    }

    #[test]
    fn unequal_sizes_match_brute_force() {
        let x = [-1.0, 0.0, 0.0, 0.5, 2.0, 3.0, 3.0];
        let y = [0.0, 0.25, 1.0, 4.0];
        close(energy(&x, &y), energy_brute(&x, &y));
        // W1 of {0,1} vs {0.5}: ∫|F−G| = 0.5·0.5 + 0.5·0.5 = 0.5; W2 = 0.5.
        close(wasserstein_1(&[0.0, 1.0], &[0.5]), 0.5);
        close(wasserstein_2(&[0.0, 1.0], &[0.5]), 0.5);
        // W2 of {0,1,2} vs {0,2}: quantiles 0|1|2 vs 0|2 over thirds/halves:
        // [0,1/3): 0, [1/3,1/2): 1, [1/2,2/3): 1, [2/3,1): 0 → √(1/3).
        close(
            wasserstein_2(&[0.0, 1.0, 2.0], &[0.0, 2.0]),
            (1.0f64 / 3.0).sqrt(),
        );
    }

    /// Every positive |zᵢ − zⱼ|, i < j, listed and sorted (the brute-force side of the median).
    fn positive_distances_sorted(z: &[f64]) -> Vec<f64> {
        let mut d: Vec<f64> = Vec::new();
        for i in 0..z.len() {
            for j in i + 1..z.len() {
                if z[i] != z[j] {
                    d.push((z[i] - z[j]).abs());
                }
            }
        }
        d.sort_by(f64::total_cmp);
        d
    }

    /// Brute-force unbiased MMD² with the median of every positive pairwise distance.
    fn mmd_brute(x: &[f64], y: &[f64]) -> f64 {
        let z: Vec<f64> = x.iter().chain(y).copied().collect();
        let d = positive_distances_sorted(&z);
        let sigma = if d.len() % 2 == 1 {
            d[d.len() / 2]
        } else {
            (d[d.len() / 2 - 1] + d[d.len() / 2]) / 2.0
        };
        let k = |u: f64, v: f64| (-(u - v) * (u - v) / (2.0 * sigma * sigma)).exp();
        let within = |a: &[f64]| {
            let mut s = 0.0;
            for i in 0..a.len() {
                for j in 0..a.len() {
                    if i != j {
                        s += k(a[i], a[j]);
                    }
                }
            }
            s / (a.len() * (a.len() - 1)) as f64
        };
        let across = x
            .iter()
            .flat_map(|&u| y.iter().map(move |&v| k(u, v)))
            .sum::<f64>()
            / (x.len() * y.len()) as f64;
        (within(x) + within(y) - 2.0 * across).max(0.0)
    }

    #[test]
    fn mmd_by_runs_of_ties_equals_brute_force() {
        // Zero-inflated, with ties across the samples, odd and even numbers of distances.
        let x = [0.0, 0.0, 0.0, 0.0, 0.5, 1.25, 1.25, 3.0];
        let y = [0.0, 0.0, 0.25, 1.25, 2.0, 2.0];
        close(mmd_rbf(&x, &y), mmd_brute(&x, &y));
        close(mmd_rbf(&x[1..], &y), mmd_brute(&x[1..], &y));
        let (u, v) = ([0.1, 0.7, 1.9], [0.3, 2.2, 2.5, 4.0]);
        close(mmd_rbf(&u, &v), mmd_brute(&u, &v));
    }

    #[test]
    fn median_by_counting_equals_the_sorted_list_of_distances() {
        // Deterministic pseudo-random samples, with and without ties, odd and even totals.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for trial in 0..200 {
            let (n, m) = (2 + trial % 7, 1 + trial % 11);
            let mut draw = |k: usize| -> Vec<f64> {
                let mut v: Vec<f64> = (0..k)
                    .map(|_| {
                        let u = next();
                        if trial % 2 == 0 && u < 0.4 {
                            0.0
                        } else {
                            (u * 8.0).floor() / 4.0 + if trial % 3 == 0 { u * 1e-3 } else { 0.0 }
                        }
                    })
                    .collect();
                v.sort_by(f64::total_cmp);
                v
            };
            let (x, y) = (draw(n), draw(m));
            let z: Vec<f64> = x.iter().chain(&y).copied().collect();
            let d = positive_distances_sorted(&z);
            let want = match d.len() {
                0 => 1.0,
                l if l % 2 == 1 => d[l / 2],
                l => (d[l / 2 - 1] + d[l / 2]) / 2.0,
            };
            assert_eq!(median_heuristic(&x, &y), want, "{x:?} {y:?}");
        }
    }

    #[test]
    fn median_heuristic_skips_zero_distances() {
        // Pooled {0, 0, 1, 3}: positive |differences| 1, 1, 3, 3, 2 → median 2.
        close(median_heuristic(&[0.0, 0.0], &[1.0, 3.0]), 2.0);
        close(median_heuristic(&[2.0, 2.0], &[2.0]), 1.0);
    }
}
