//! Tail probabilities of the Student t distribution (statrs), as scipy's `t.sf` / `t.cdf`.

use statrs::distribution::{ContinuousCDF, StudentsT};
use statrs::function::beta::beta_reg;
use statrs::function::gamma::ln_gamma;

/// P(T > t) for T ~ Student t with `df` degrees of freedom. NaN in → NaN out; df = ∞ is the
/// normal distribution.
///
/// statrs' `StudentsT::sf` evaluates I_{df/(df+t²)}(df/2, ½) for every t, which for small |t|
/// needs 1 − df/(df+t²) inside the incomplete beta and loses up to ~1e-7 of the (small) tail
/// difference from ½ — visible in 1 − p_adj. As Boost (and so scipy) does, use the
/// complementary argument t²/(df+t²) for |t| < 1, where the two-sided tail is ≥ 0.3 for any df
/// so the subtraction from 1 costs nothing; larger |t| use I_{df/(df+t²)}(df/2, ½) directly.
/// Both branches use statrs' `beta_reg`.
pub fn student_t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 0.0 } else { 1.0 };
    }
    if df.is_infinite() {
        return match StudentsT::new(0.0, 1.0, df) {
            Ok(d) => d.sf(t),
            Err(_) => f64::NAN,
        };
    }
    let t2 = t * t;
    // Two-sided tail P(|T| > |t|).
    let two_sided = if t2 < 1.0 {
        1.0 - beta_reg(0.5, df / 2.0, t2 / (df + t2))
    } else {
        beta_reg(df / 2.0, 0.5, df / (df + t2))
    };
    if t > 0.0 {
        0.5 * two_sided
    } else {
        1.0 - 0.5 * two_sided
    }
}

/// [`student_t_sf`] of many values: `out[i] = student_t_sf(t[i], df[i])`, bit for bit.
///
/// The incomplete beta function's continued fraction is a chain of divisions, each waiting on
/// the one before; evaluating [`LANES`] of them side by side lets the divisions of one overlap
/// those of the others (and the compiler run them in vector registers). Every lane performs
/// statrs' `checked_beta_reg` operations in its order — the same recurrence, clamps,
/// convergence test and 140-term cap — so each value is exactly statrs' (unit test
/// `many_equal_one_by_one`). Values statrs treats specially (x = 0 or x ≈ 1, infinite or NaN
/// inputs) go through [`student_t_sf`] itself.
pub fn student_t_sf_many(t: &[f64], df: &[f64], out: &mut [f64]) {
    assert!(
        t.len() == df.len() && t.len() == out.len(),
        "one df and one output per t"
    );
    let mut batch = TailBatch::default();
    for (i, (&t, &df)) in t.iter().zip(df).enumerate() {
        match TailTerm::of(t, df) {
            Some(term) => {
                batch.push(i, term);
                if batch.len == LANES {
                    batch.finish(out);
                }
            }
            None => out[i] = student_t_sf(t, df),
        }
    }
    batch.finish(out);
}

/// Continued fractions evaluated side by side by [`student_t_sf_many`].
const LANES: usize = 8;

/// statrs' precision target in `checked_beta_reg` (`prec::F64_PREC`).
const BETA_EPS: f64 = 0.000_000_000_000_000_111_022_302_462_515_65;

/// One tail as [`student_t_sf`] computes it: I_x(a, b), complemented when `complement`, then
/// halved (or 1 − half) by the sign of t.
#[derive(Clone, Copy, Default)]
struct TailTerm {
    a: f64,
    b: f64,
    x: f64,
    complement: bool,
    positive: bool,
}

impl TailTerm {
    /// The term of (t, df), or `None` where [`student_t_sf`] (or statrs inside it) takes
    /// another path: non-finite inputs, df ≤ 0, and x at 0 or within 1e-14 of 1 (statrs'
    /// `bt = 0` case, |x − 1| ≤ 1e-15 or 5 ulps, lies inside that margin).
    fn of(t: f64, df: f64) -> Option<Self> {
        if !t.is_finite() || !df.is_finite() || df <= 0.0 {
            return None;
        }
        let t2 = t * t;
        let (a, b, x, complement) = if t2 < 1.0 {
            (0.5, df / 2.0, t2 / (df + t2), true)
        } else {
            (df / 2.0, 0.5, df / (df + t2), false)
        };
        if !(x > 0.0 && (x - 1.0).abs() > 1e-14) {
            return None;
        }
        Some(TailTerm {
            a,
            b,
            x,
            complement,
            positive: t > 0.0,
        })
    }
}

/// Up to [`LANES`] tails waiting for their incomplete beta values.
#[derive(Default)]
struct TailBatch {
    len: usize,
    index: [usize; LANES],
    term: [TailTerm; LANES],
}

impl TailBatch {
    fn push(&mut self, index: usize, term: TailTerm) {
        self.index[self.len] = index;
        self.term[self.len] = term;
        self.len += 1;
    }

    /// Evaluates the waiting tails into `out` and empties the batch.
    fn finish(&mut self, out: &mut [f64]) {
        if self.len == 0 {
            return;
        }
        // Unused lanes compute a harmless I_0.5(1, 1).
        let pick = |f: fn(&TailTerm) -> f64, unused: f64| {
            std::array::from_fn(|l| {
                if l < self.len {
                    f(&self.term[l])
                } else {
                    unused
                }
            })
        };
        let ix = beta_reg_lanes(pick(|t| t.a, 1.0), pick(|t| t.b, 1.0), pick(|t| t.x, 0.5));
        for l in 0..self.len {
            let term = &self.term[l];
            let two_sided = if term.complement { 1.0 - ix[l] } else { ix[l] };
            out[self.index[l]] = if term.positive {
                0.5 * two_sided
            } else {
                1.0 - 0.5 * two_sided
            };
        }
        self.len = 0;
    }
}

/// statrs' `checked_beta_reg(a, b, x)` of each lane, for 0 < x < 1 away from 1 and a, b > 0:
/// the same operations in the same order (see [`student_t_sf_many`]).
fn beta_reg_lanes(a0: [f64; LANES], b0: [f64; LANES], x0: [f64; LANES]) -> [f64; LANES] {
    let fpmin = f64::MIN_POSITIVE / BETA_EPS;
    let clamp = |v: f64| if v.abs() < fpmin { fpmin } else { v };
    // lnΓ(½), needed by every tail, once.
    let ln_gamma_half = ln_gamma(0.5);
    let lgamma = |v: f64| if v == 0.5 { ln_gamma_half } else { ln_gamma(v) };
    let mut bt = [0.0; LANES];
    let mut symm = [false; LANES];
    let (mut a, mut b, mut x) = (a0, b0, x0);
    for l in 0..LANES {
        bt[l] = (lgamma(a0[l] + b0[l]) - lgamma(a0[l]) - lgamma(b0[l])
            + a0[l] * x0[l].ln()
            + b0[l] * (1.0 - x0[l]).ln())
        .exp();
        symm[l] = x0[l] >= (a0[l] + 1.0) / (a0[l] + b0[l] + 2.0);
        if symm[l] {
            (a[l], b[l], x[l]) = (b0[l], a0[l], 1.0 - x0[l]);
        }
    }
    let qab: [f64; LANES] = std::array::from_fn(|l| a[l] + b[l]);
    let qap: [f64; LANES] = std::array::from_fn(|l| a[l] + 1.0);
    let qam: [f64; LANES] = std::array::from_fn(|l| a[l] - 1.0);
    let mut c = [1.0; LANES];
    let mut d: [f64; LANES] = std::array::from_fn(|l| 1.0 / clamp(1.0 - qab[l] * x[l] / qap[l]));
    let mut h = d;
    let mut done = [false; LANES];
    for m in 1..141 {
        let m = f64::from(m);
        let m2 = m * 2.0;
        for l in 0..LANES {
            let aa = m * (b[l] - m) * x[l] / ((qam[l] + m2) * (a[l] + m2));
            let d1 = 1.0 / clamp(1.0 + aa * d[l]);
            let c1 = clamp(1.0 + aa / c[l]);
            let h1 = h[l] * d1 * c1;
            let aa = -(a[l] + m) * (qab[l] + m) * x[l] / ((a[l] + m2) * (qap[l] + m2));
            let d2 = 1.0 / clamp(1.0 + aa * d1);
            let c2 = clamp(1.0 + aa / c1);
            let del = d2 * c2;
            if !done[l] {
                (h[l], c[l], d[l]) = (h1 * del, c2, d2);
                done[l] = (del - 1.0).abs() <= BETA_EPS;
            }
        }
        if done.iter().all(|&f| f) {
            break;
        }
    }
    std::array::from_fn(|l| {
        if symm[l] {
            1.0 - bt[l] * h[l] / a[l]
        } else {
            bt[l] * h[l] / a[l]
        }
    })
}

/// P(T ≤ t) for T ~ Student t with `df` degrees of freedom.
pub fn student_t_cdf(t: f64, df: f64) -> f64 {
    // The t distribution is symmetric: computing the lower tail as the upper tail of −t keeps
    // full relative precision for small probabilities.
    student_t_sf(-t, df)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, e: f64) -> f64 {
        ((a - e) / e).abs()
    }

    #[test]
    fn matches_scipy() {
        // scipy 1.17.1: scipy.stats.t.sf(t, df)
        let cases: [(f64, f64, f64); 10] = [
            (0.0, 5.0, 0.5),
            (1.0, 1.0, 0.25000000000000006),
            (2.5, 3.0, 0.04385332350403278),
            (40.0, 3.0, 1.7190340394579253e-05),
            (10.0, 30.0, 2.287625704114809e-11),
            (5.0, 100.0, 1.225086706751901e-06),
            (-2.0, 10.0, 0.9633059826146299),
            (3.3, 58.5, 0.000824998408531669),
            (25.0, 45.0, 2.494159693195663e-28),
            (4.0, 1999.0, 3.282396616289895e-05),
        ];
        for (t, df, want) in cases {
            let got = student_t_sf(t, df);
            assert!(
                rel(got, want) < 1e-12,
                "sf({t}, {df}) = {got}, scipy {want}"
            );
        }
    }

    #[test]
    fn many_equal_one_by_one() {
        // A dense grid of (t, df) — both branches, both signs, far tails, huge df, t = 0,
        // specials — in an order that leaves partial batches and mixes lanes: every value is
        // bit for bit the one-at-a-time value.
        let mut ts = vec![
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            -f64::INFINITY,
            1.0,
            -1.0,
        ];
        let mut dfs = vec![3.0, 1.0, 5.0, 2.0, 7.0, f64::INFINITY, f64::NAN];
        for i in 0..400 {
            let t = (i as f64 - 200.0) * 0.173 + (i % 7) as f64 * 1e-3;
            for &df in &[
                0.5, 1.0, 2.5, 9.06, 57.3, 1e3, 2.3e4, 9.06e5, 1e9, 1e17, -1.0, 0.0,
            ] {
                ts.push(t);
                dfs.push(df);
                ts.push(t * 1e-4);
                dfs.push(df);
                ts.push(t * 40.0);
                dfs.push(df + 0.37);
            }
        }
        let mut out = vec![0.0; ts.len()];
        student_t_sf_many(&ts, &dfs, &mut out);
        for ((&t, &df), &got) in ts.iter().zip(&dfs).zip(&out) {
            let want = student_t_sf(t, df);
            assert!(
                got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                "sf({t}, {df}): batched {got}, one by one {want}"
            );
        }
    }

    #[test]
    fn edge_cases() {
        assert!(student_t_sf(f64::NAN, 3.0).is_nan());
        assert_eq!(student_t_sf(f64::INFINITY, 3.0), 0.0);
        assert_eq!(student_t_sf(f64::NEG_INFINITY, 3.0), 1.0);
        assert_eq!(student_t_cdf(0.0, 7.0), 0.5);
    }
}
