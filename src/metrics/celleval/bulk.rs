//! cell-eval 0.8.1's metrics of pseudobulk profiles (means of cells) and of cell distances:
//! `pearson_delta`, `mse`, `mae`, `mse_delta`, `mae_delta`, `discrimination_score_*` and the
//! energy distances behind `pearson_edistance`.
//!
//! cell-eval's pseudobulks are polars means of float32 columns, hence float32; its deltas are
//! float32 differences. Both are reproduced (rounded to float32); the metrics on them are then
//! computed in float64.

use crate::metrics::calibrated::profile::pearson;
use crate::metrics::distributional::multivariate::squared_distance;
use ndarray::{Array2, ArrayView2};

/// The float32 mean of each gene over the cells (cells × genes).
pub fn pseudobulk(cells: ArrayView2<f32>) -> Vec<f32> {
    let n = cells.nrows() as f64;
    let mut sums = vec![0f64; cells.ncols()];
    for row in cells.rows() {
        sums.iter_mut()
            .zip(row)
            .for_each(|(s, &x)| *s += f64::from(x));
    }
    sums.into_iter().map(|s| (s / n) as f32).collect()
}

/// A profile's difference from the control profile, in float32.
pub fn effect(profile: &[f32], control: &[f32]) -> Vec<f32> {
    profile.iter().zip(control).map(|(p, c)| p - c).collect()
}

/// Widens float32 values.
fn wide(x: &[f32]) -> Vec<f64> {
    x.iter().map(|&v| f64::from(v)).collect()
}

/// Mean of `f(a − b)` over the genes.
fn mean_error(a: &[f32], b: &[f32], f: fn(f64) -> f64) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| f(f64::from(x) - f64::from(y)))
        .sum::<f64>()
        / a.len() as f64
}

/// The five profile metrics of one perturbation: `[pearson_delta, mse, mae, mse_delta,
/// mae_delta]`, from the predicted and real pseudobulks and their effects.
pub fn profile_metrics(
    pred: &[f32],
    real: &[f32],
    pred_effect: &[f32],
    real_effect: &[f32],
) -> [f64; 5] {
    let squared = |d: f64| d * d;
    [
        pearson(&wide(pred_effect), &wide(real_effect)),
        mean_error(pred, real, squared),
        mean_error(pred, real, f64::abs),
        mean_error(pred_effect, real_effect, squared),
        mean_error(pred_effect, real_effect, f64::abs),
    ]
}

/// The distances of `discrimination_score_{l1, l2, cosine}`, as scikit-learn's
/// `pairwise_distances` computes them on float32 effects: L1 in float64 (scipy's `cdist`), L2
/// and cosine rounded to float32 — and a float32 distance near 1 is quantised to 6e-8, which
/// makes ties (a prediction whose effect is float32 noise has every cosine distance 1 ± 4e-7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Distance {
    /// Σ|x − y|.
    L1,
    /// √Σ(x − y)²: the squared distance rounded to float32, its float32 root.
    L2,
    /// 1 − x̂·ŷ in float32, x̂ = x/‖x‖ in float32 unless ‖x‖ < 10 ε₃₂ (then x itself:
    /// scikit-learn's `normalize` leaves near-zero rows alone), clipped to [0, 2].
    Cosine,
}

impl Distance {
    /// The three, in cell-eval's column order.
    pub const ALL: [Distance; 3] = [Distance::L1, Distance::L2, Distance::Cosine];

    /// The distance between two effects (float32 values, widened).
    pub fn between(self, x: &[f64], y: &[f64]) -> f64 {
        match self {
            Distance::L1 => x.iter().zip(y).map(|(a, b)| (a - b).abs()).sum(),
            Distance::L2 => f64::from((squared_distance(x, y) as f32).sqrt()),
            Distance::Cosine => {
                let unit = |v: &[f64]| -> Vec<f64> {
                    let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt() as f32;
                    let norm = if norm < 10.0 * f32::EPSILON {
                        1.0
                    } else {
                        norm
                    };
                    v.iter().map(|&a| f64::from(a as f32 / norm)).collect()
                };
                let (ux, uy) = (unit(x), unit(y));
                let similarity = ux.iter().zip(&uy).map(|(a, b)| a * b).sum::<f64>() as f32;
                f64::from((1.0 - similarity).clamp(0.0, 2.0))
            }
        }
    }
}

/// `discrimination_score`: 1 − rank/N of the true perturbation (`own`, an index of
/// `real_effects`) among the N real effects by distance to the predicted effect (rank 0 =
/// nearest; ties rank by position), the genes in `excluded` (the perturbation's target)
/// left out.
pub fn discrimination(
    pred_effect: &[f32],
    real_effects: &[&[f32]],
    own: usize,
    excluded: &[usize],
    distance: Distance,
) -> f64 {
    let keep = |v: &[f32]| -> Vec<f64> {
        v.iter()
            .enumerate()
            .filter(|(g, _)| !excluded.contains(g))
            .map(|(_, &x)| f64::from(x))
            .collect()
    };
    let pred = keep(pred_effect);
    let d: Vec<f64> = real_effects
        .iter()
        .map(|r| distance.between(&keep(r), &pred))
        .collect();
    let rank = d
        .iter()
        .enumerate()
        .filter(|&(j, &x)| x < d[own] || (x == d[own] && j < own))
        .count();
    1.0 - rank as f64 / real_effects.len() as f64
}

/// numpy's float32 sum of a contiguous array (`pairwise_sum`: runs of up to 128 values in
/// eight interleaved partial sums, longer runs halved at a multiple of 8).
pub fn numpy_sum_f32(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0f32, |s, &x| s + x)
    } else if n <= 128 {
        let mut r = [0f32; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        for block in a[8..full].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(block) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[full..] {
            res += x;
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        numpy_sum_f32(&a[..half]) + numpy_sum_f32(&a[half..])
    }
}

/// scikit-learn's `pairwise_distances(a, b).mean()` on float32 cells: each squared distance
/// (float64) rounded to float32, its float32 square root, the diagonal 0 when `a` is `b`, and
/// numpy's float32 mean of the row-major matrix.
fn mean_distance_f32(a: &Array2<f64>, b: Option<&Array2<f64>>) -> f32 {
    let rows =
        |m: &Array2<f64>| -> Vec<Vec<f64>> { m.rows().into_iter().map(|r| r.to_vec()).collect() };
    let ra = rows(a);
    let rb = b.map(rows);
    let rb = rb.as_ref().unwrap_or(&ra);
    if ra.is_empty() || rb.is_empty() {
        return f32::NAN;
    }
    let mut d = Vec::with_capacity(ra.len() * rb.len());
    for (i, x) in ra.iter().enumerate() {
        for (j, y) in rb.iter().enumerate() {
            d.push(if b.is_none() && i == j {
                0.0
            } else {
                (squared_distance(x, y) as f32).max(0.0).sqrt()
            });
        }
    }
    numpy_sum_f32(&d) / d.len() as f32
}

/// Mean Euclidean distance over all ordered pairs of a sample's cells (the diagonal's zeros
/// included), as cell-eval computes it (float32, see [`mean_distance_f32`]).
pub fn mean_within(cells: &Array2<f64>) -> f32 {
    mean_distance_f32(cells, None)
}

/// cell-eval's energy distance of a perturbation's cells from the controls, in float32:
/// 2 E‖X − C‖ − E‖X − X'‖ − E‖C − C'‖, the last term given (shared by all perturbations).
pub fn edistance(cells: &Array2<f64>, controls: &Array2<f64>, controls_within: f32) -> f64 {
    let between = mean_distance_f32(cells, Some(controls));
    f64::from(2.0 * between - mean_within(cells) - controls_within)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn discrimination_ranks_the_true_perturbation() {
        let real: Vec<Vec<f32>> = vec![vec![0.0, 0.0], vec![1.0, 1.0], vec![5.0, 5.0]];
        let refs: Vec<&[f32]> = real.iter().map(|v| v.as_slice()).collect();
        // Nearest to perturbation 1: rank 0 → 1.
        assert_eq!(
            discrimination(&[1.1, 0.9], &refs, 1, &[], Distance::L2),
            1.0
        );
        // Nearest to 0, second to 1: 1 − 1/3.
        assert_eq!(
            discrimination(&[0.1, 0.2], &refs, 1, &[], Distance::L1),
            1.0 - 1.0 / 3.0
        );
        // The excluded gene decides nothing.
        assert_eq!(
            discrimination(&[9.0, 1.0], &refs, 1, &[0], Distance::L1),
            1.0
        );
    }

    #[test]
    fn energy_distance_by_hand() {
        let x = array![[0.0], [2.0]];
        let c = array![[1.0], [1.0]];
        // E|X−C| = 1, E|X−X'| = (0 + 2 + 2 + 0)/4 = 1, E|C−C'| = 0.
        assert_eq!(mean_within(&x), 1.0);
        assert_eq!(edistance(&x, &c, mean_within(&c)), 1.0);
    }

    #[test]
    fn numpy_float32_sum_order() {
        // np.float32 sums (numpy 2.x): np.ones(1000, np.float32).sum() == 1000; adding 2**24
        // then 1s: a plain running sum loses every 1, the pairwise sum keeps them in
        // partial sums.
        assert_eq!(numpy_sum_f32(&[1.0; 1000]), 1000.0);
        let mut v = vec![1.0f32; 300];
        v[0] = 16_777_216.0;
        // np.array([2**24] + [1]*299, np.float32).sum() == 16777506.0 (numpy 2.4.6)
        assert_eq!(numpy_sum_f32(&v), 16_777_506.0);
        // A 30 × 40 matrix's sum is the sum of its 1,200 values in row-major order.
        let mut m = vec![1.0f32; 1200];
        m[0] = 16_777_216.0;
        assert_eq!(numpy_sum_f32(&m), 16_778_406.0);
    }
}
