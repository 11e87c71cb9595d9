//! One-sided paired t-test, as `scipy.stats.ttest_rel(a, b, alternative=…)`.

use super::descriptive::{mean, var};
use super::distributions::{student_t_cdf, student_t_sf};

/// The alternative hypothesis about mean(a − b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alternative {
    /// mean(a − b) > 0.
    Greater,
    /// mean(a − b) < 0.
    Less,
}

impl Alternative {
    /// scipy's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alternative::Greater => "greater",
            Alternative::Less => "less",
        }
    }
}

/// Result of a paired t-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedTTest {
    /// t statistic of mean(a − b).
    pub t: f64,
    /// One-sided p-value.
    pub p: f64,
    /// Degrees of freedom (n − 1).
    pub df: f64,
}

/// Paired t-test of `a` vs `b` (same length ≥ 2): t = mean(d)/√(var(d, ddof=1)/n). Zero
/// variance gives t = ±∞ (p 0 or 1) or NaN when the mean is also 0, like scipy.
pub fn ttest_rel(a: &[f64], b: &[f64], alternative: Alternative) -> PairedTTest {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let n = d.len() as f64;
    let df = n - 1.0;
    let t = mean(&d) / (var(&d, 1) / n).sqrt();
    let p = match alternative {
        Alternative::Greater => student_t_sf(t, df),
        Alternative::Less => student_t_cdf(t, df),
    };
    PairedTTest { t, p, df }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_scipy() {
        let a = [0.5, 0.9, 0.3, 0.7, 1.2, 0.4];
        let b = [0.4, 0.6, 0.35, 0.2, 0.9, 0.1];
        // scipy 1.17.1 ttest_rel(a, b, alternative='greater')
        let r = ttest_rel(&a, &b, Alternative::Greater);
        assert!((r.t - 3.1020034863440467).abs() < 1e-14, "{}", r.t);
        assert!((r.p / 0.01339614639946974 - 1.0).abs() < 1e-12, "{}", r.p);
        let r = ttest_rel(&a, &b, Alternative::Less);
        assert!((r.p / 0.9866038536005303 - 1.0).abs() < 1e-12, "{}", r.p);
    }

    #[test]
    fn zero_variance() {
        let r = ttest_rel(&[1.0, 2.0, 3.0], &[0.5, 1.5, 2.5], Alternative::Greater);
        assert_eq!(r.t, f64::INFINITY);
        assert_eq!(r.p, 0.0);
        let r = ttest_rel(&[1.0, 2.0], &[1.0, 2.0], Alternative::Greater);
        assert!(r.t.is_nan() && r.p.is_nan());
    }
}
