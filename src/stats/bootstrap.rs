//! Percentile bootstrap CI of a mean, identical to `scipy.stats.bootstrap((x,), np.mean,
//! n_resamples, confidence_level, method='percentile', random_state=seed)`: resample indices are
//! numpy's legacy `RandomState(seed).randint(0, n, (n_resamples, n))` (MT19937, masked
//! rejection), row means use numpy's pairwise summation, and the interval is
//! `scipy.stats.quantile(..., method='linear')` at α and 1 − α.

use super::descriptive::{pairwise_sums, scipy_quantile_linear_sorted};
use rayon::prelude::*;

/// Resamples whose indices are drawn at once (memory: this × n × 4 bytes).
const RESAMPLES_PER_BLOCK: usize = 256;
use rand_mt::Mt;

/// numpy's legacy `RandomState` integer stream (MT19937 seeded with `init_genrand`).
pub struct NumpyRandomState {
    mt: Mt,
}

impl NumpyRandomState {
    /// `numpy.random.RandomState(seed)`.
    pub fn new(seed: u32) -> Self {
        NumpyRandomState { mt: Mt::new(seed) }
    }

    /// One draw of `randint(0, n)` (n ≥ 1): 32-bit outputs masked to the smallest 2^k − 1 ≥ n − 1,
    /// rejecting values > n − 1. n = 1 consumes nothing, like numpy.
    pub fn randint(&mut self, n: u64) -> u64 {
        let rng = n.saturating_sub(1);
        if rng == 0 {
            return 0;
        }
        debug_assert!(rng < u32::MAX as u64, "only 32-bit ranges are used");
        let mask = mask_for(rng) as u32;
        loop {
            let v = self.mt.next_u32() & mask;
            if v as u64 <= rng {
                return v as u64;
            }
        }
    }
}

/// Smallest 2^k − 1 ≥ x.
fn mask_for(x: u64) -> u64 {
    let mut m = x;
    m |= m >> 1;
    m |= m >> 2;
    m |= m >> 4;
    m |= m >> 8;
    m |= m >> 16;
    m |= m >> 32;
    m
}

/// Percentile-bootstrap CI of the mean of each sample in `samples` (all of the same length n),
/// each drawn with a fresh `RandomState(seed)` exactly as scipy does — so the index stream is
/// shared and drawn once for all samples. Returns (low, high) per sample; NaN when n < 2.
pub fn bootstrap_mean_ci_many(
    samples: &[&[f64]],
    n_resamples: usize,
    seed: u32,
    confidence: f64,
) -> Vec<(f64, f64)> {
    let Some(n) = samples.first().map(|s| s.len()) else {
        return Vec::new();
    };
    debug_assert!(samples.iter().all(|s| s.len() == n));
    if n < 2 || n_resamples == 0 {
        return vec![(f64::NAN, f64::NAN); samples.len()];
    }
    // The index stream is drawn in blocks (sequential, one generator); each block's means are
    // computed for all samples in parallel, each mean a numpy pairwise sum of the gathered
    // values (no gather buffer: `pairwise_sums` reads them in the same order).
    let mut rs = NumpyRandomState::new(seed);
    let block = RESAMPLES_PER_BLOCK.min(n_resamples);
    let mut idx = vec![0u32; block * n];
    let mut means: Vec<Vec<f64>> = vec![Vec::with_capacity(n_resamples); samples.len()];
    let mut done = 0;
    while done < n_resamples {
        let nb = block.min(n_resamples - done);
        for i in idx[..nb * n].iter_mut() {
            *i = rs.randint(n as u64) as u32;
        }
        let idx = &idx[..nb * n];
        means
            .par_iter_mut()
            .zip(samples.par_iter())
            .for_each(|(m, s)| {
                for r in idx.chunks_exact(n) {
                    let [total] = pairwise_sums(n, &|i| [s[r[i] as usize]]);
                    m.push(total / n as f64);
                }
            });
        done += nb;
    }
    let alpha = (1.0 - confidence) / 2.0;
    means
        .into_par_iter()
        .map(|mut m| {
            m.sort_by(f64::total_cmp);
            (
                scipy_quantile_linear_sorted(&m, alpha),
                scipy_quantile_linear_sorted(&m, 1.0 - alpha),
            )
        })
        .collect()
}

/// Percentile-bootstrap CI of the mean of one sample (see [`bootstrap_mean_ci_many`]).
pub fn bootstrap_mean_ci(
    sample: &[f64],
    n_resamples: usize,
    seed: u32,
    confidence: f64,
) -> (f64, f64) {
    bootstrap_mean_ci_many(&[sample], n_resamples, seed, confidence)[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn randint_matches_numpy() {
        // numpy 2.4.6: RandomState(42).randint(0, n, 12) for n = 7, 8, 1000, 1025
        let cases: [(u64, [u64; 12]); 4] = [
            (7, [6, 3, 4, 6, 2, 4, 4, 6, 1, 2, 6, 2]),
            (8, [6, 3, 4, 6, 2, 7, 4, 4, 6, 1, 2, 6]),
            (
                1000,
                [102, 435, 860, 270, 106, 71, 700, 20, 614, 121, 466, 214],
            ),
            (
                1025,
                [860, 121, 466, 330, 87, 871, 130, 769, 343, 805, 385, 955],
            ),
        ];
        for (n, want) in cases {
            let mut rs = NumpyRandomState::new(42);
            let got: Vec<u64> = (0..12).map(|_| rs.randint(n)).collect();
            assert_eq!(got, want, "n = {n}");
        }
    }

    #[test]
    fn ci_matches_scipy() {
        // scipy 1.17.1: bootstrap((x,), np.mean, n_resamples=10000, confidence_level=0.95,
        // method='percentile', random_state=42).confidence_interval
        let x = [0.3, -1.2, 0.8, 2.5, -0.4, 0.1, 1.7, -0.9, 0.05, 0.6, -2.2];
        let (lo, hi) = bootstrap_mean_ci(&x, 10_000, 42, 0.95);
        assert_eq!((lo, hi), (-0.5863636363636364, 0.8546590909090894));
    }
}
