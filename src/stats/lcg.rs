//! A tiny deterministic stream of uniform numbers (Knuth's MMIX linear congruential
//! generator), for fixed start vectors and reproducible test data, where statistical quality
//! is not the point.

/// Uniform numbers in [0, 1), 53 bits each, from `seed`.
pub fn uniform_stream(seed: u64) -> impl FnMut() -> f64 {
    let mut x = seed;
    move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}
