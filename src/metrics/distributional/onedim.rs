//! One-dimensional distances between two samples of one gene (SPEC §12.3; GGE 1.0.1 computes
//! its distributional metrics gene by gene and averages them).
//!
//! Every function takes the samples **sorted ascending** (the caller sorts each gene once and
//! reuses it for every distance), so W1, W2 and the energy distance are O(n + m) merges; only
//! the RBF MMD is quadratic.

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
pub fn median_heuristic(x: &[f64], y: &[f64]) -> f64 {
    let mut pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    pooled.sort_by(f64::total_cmp);
    let runs = runs(&pooled);
    // Distinct values r < s stand for c_r·c_s equal distances; equal values for none (> 0 only).
    let mut d: Vec<(f64, f64)> = Vec::with_capacity(runs.len() * runs.len().saturating_sub(1) / 2);
    for (i, &(u, cu)) in runs.iter().enumerate() {
        for &(v, cv) in &runs[i + 1..] {
            d.push(((u - v).abs(), cu * cv));
        }
    }
    let total: f64 = d.iter().map(|p| p.1).sum();
    if d.is_empty() {
        return 1.0;
    }
    // The k-th smallest (0-based) of the multiset, k = ⌊total/2⌋, and for an even total the
    // mean with the (k−1)-th (numpy's median).
    let k = (total / 2.0).floor();
    let at = |rank: f64, d: &[(f64, f64)]| -> f64 {
        let mut seen = 0.0;
        for &(v, w) in d.iter() {
            seen += w;
            if seen > rank {
                return v;
            }
        }
        d.last().map_or(f64::NAN, |p| p.0)
    };
    if d.iter().all(|p| p.1 == 1.0) {
        // No tie: a selection, not a sort.
        let mut v: Vec<f64> = d.iter().map(|p| p.0).collect();
        let k = k as usize;
        let (_, &mut hi, _) = v.select_nth_unstable_by(k, f64::total_cmp);
        return if v.len() % 2 == 1 {
            hi
        } else {
            let lo = v[..k].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            (lo + hi) / 2.0
        };
    }
    d.sort_by(|a, b| a.0.total_cmp(&b.0));
    let hi = at(k, &d);
    if total % 2.0 == 1.0 {
        hi
    } else {
        (at(k - 1.0, &d) + hi) / 2.0
    }
}

/// Runs of equal consecutive values: (value, count). Samples of expression data hold many
/// equal values (zeros above all), and kernel sums over runs weigh each once.
fn runs(a: &[f64]) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for &v in a {
        match out.last_mut() {
            Some((u, c)) if *u == v => *c += 1.0,
            _ => out.push((v, 1.0)),
        }
    }
    out
}

/// Kernel arguments beyond this give exp(−arg) < 1e-307 (subnormal or 0): nothing a sum of
/// kernel values can notice, and glibc's slow path for them dominated the run.
const NEGLIGIBLE_ARG: f64 = 707.0;

/// exp(−(u − v)²·inv), 0 when negligible.
#[inline(always)]
fn rbf(u: f64, v: f64, inv: f64) -> f64 {
    let d = u - v;
    let arg = d * d * inv;
    if arg > NEGLIGIBLE_ARG {
        0.0
    } else {
        (-arg).exp()
    }
}

/// Σ over ordered pairs i ≠ j of `a` (twice the pairs i < j), by runs of equal values.
fn rbf_within(a: &[f64], inv: f64) -> f64 {
    let runs = runs(a);
    let mut s = 0.0;
    let mut same = 0.0;
    for (i, &(u, cu)) in runs.iter().enumerate() {
        same += cu * (cu - 1.0);
        for &(v, cv) in &runs[i + 1..] {
            s += cu * cv * rbf(u, v, inv);
        }
    }
    same + 2.0 * s
}

/// Σ over all pairs (aᵢ, bⱼ), by runs of equal values.
fn rbf_across(a: &[f64], b: &[f64], inv: f64) -> f64 {
    let (ra, rb) = (runs(a), runs(b));
    ra.iter()
        .map(|&(u, cu)| cu * rb.iter().map(|&(v, cv)| cv * rbf(u, v, inv)).sum::<f64>())
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

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Brute-force unbiased MMD² with the median of every positive pairwise distance.
    fn mmd_brute(x: &[f64], y: &[f64]) -> f64 {
        let z: Vec<f64> = x.iter().chain(y).copied().collect();
        let mut d: Vec<f64> = Vec::new();
        for i in 0..z.len() {
            for j in i + 1..z.len() {
                if z[i] != z[j] {
                    d.push((z[i] - z[j]).abs());
                }
            }
        }
        d.sort_by(f64::total_cmp);
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
    fn median_heuristic_skips_zero_distances() {
        // Pooled {0, 0, 1, 3}: positive |differences| 1, 1, 3, 3, 2 → median 2.
        close(median_heuristic(&[0.0, 0.0], &[1.0, 3.0]), 2.0);
        close(median_heuristic(&[2.0, 2.0], &[2.0]), 1.0);
    }
}
