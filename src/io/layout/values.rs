//! Value checks and normalisation (SPEC §1.4): what the values of a table look like (NaN / Inf,
//! negative, raw integer counts) and the per-cell normalize_total + log1p for raw counts.
//!
//! Checks are mergeable summaries ([`ValueChecks::merge`]), so any split of a batch — by gene
//! slab, column or row chunk — gives the same result; the walks over the layouts that feed
//! them are in [`super::decode`].

use super::decode::{ExpressionArrays, Values};
use crate::error::{Error, Location, Result};

/// Values above this, with every value an integer, mean the file holds raw counts.
pub const RAW_COUNT_MAX: f64 = 30.0;

/// What was seen in the values, for validation (SPEC §1.4).
#[derive(Debug, Clone, Default)]
pub struct ValueChecks {
    /// Number of NaN / ±Inf values.
    pub non_finite: u64,
    /// First non-finite value as (row, file gene position).
    pub first_non_finite: Option<(u64, usize)>,
    /// Number of negative values.
    pub negative: u64,
    /// First negative value as (row, file gene position, value).
    pub first_negative: Option<(u64, usize, f64)>,
    /// Every finite value is an integer.
    pub all_integer: bool,
    /// Largest finite value.
    pub max: f64,
    /// Number of values seen.
    pub n_values: u64,
}

impl ValueChecks {
    /// Nothing seen yet.
    pub fn new() -> Self {
        ValueChecks {
            all_integer: true,
            max: f64::NEG_INFINITY,
            ..Default::default()
        }
    }

    /// Records one value at (row, file gene position).
    #[inline]
    pub fn see(&mut self, x: f64, row: u64, gene: usize) {
        self.n_values += 1;
        if !x.is_finite() {
            self.non_finite += 1;
            if self.first_non_finite.is_none_or(|f| (row, gene) < f) {
                self.first_non_finite = Some((row, gene));
            }
            return;
        }
        if x < 0.0 {
            self.negative += 1;
            if self.first_negative.is_none_or(|f| (row, gene) < (f.0, f.1)) {
                self.first_negative = Some((row, gene, x));
            }
        }
        if self.all_integer && x.fract() != 0.0 {
            self.all_integer = false;
        }
        if x > self.max {
            self.max = x;
        }
    }

    /// Combines the checks of two disjoint parts.
    pub fn merge(mut self, o: ValueChecks) -> ValueChecks {
        self.non_finite += o.non_finite;
        self.first_non_finite = match (self.first_non_finite, o.first_non_finite) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.negative += o.negative;
        self.first_negative = match (self.first_negative, o.first_negative) {
            (Some(a), Some(b)) => Some(if (a.0, a.1) <= (b.0, b.1) { a } else { b }),
            (a, b) => a.or(b),
        };
        self.all_integer &= o.all_integer;
        self.max = self.max.max(o.max);
        self.n_values += o.n_values;
        self
    }
}

/// Checks one column of `n` values. The common case (all finite, none negative) costs one
/// vectorised pass in the column's own precision; any anomaly is located exactly by a
/// second pass.
pub fn check_column(
    col: Values<'_>,
    n: usize,
    checks: &mut ValueChecks,
    first_row: u64,
    gene: usize,
) {
    let (lo, hi, finite, integer) = match col {
        Values::F32(v) => {
            let (lo, hi, finite, integer) = checks_f32(v);
            (lo as f64, hi as f64, finite, integer)
        }
        Values::F64(v) => checks_f64(v),
    };
    if !finite {
        for r in 0..n {
            checks.see(col.get(r), first_row + r as u64, gene);
        }
        return;
    }
    if lo < 0.0 {
        // Negative values (fine in predictions): counted and located in plain passes; the
        // integer test above only holds for values ≥ 0, so it is redone while it can matter.
        let negative = (0..n).filter(|&r| col.get(r) < 0.0).count();
        let first = (0..n).find(|&r| col.get(r) < 0.0).expect("lo < 0");
        let at = (first_row + first as u64, gene, col.get(first));
        checks.negative += negative as u64;
        if checks
            .first_negative
            .is_none_or(|f| (at.0, at.1) < (f.0, f.1))
        {
            checks.first_negative = Some(at);
        }
        checks.all_integer = checks.all_integer && (0..n).all(|r| col.get(r).fract() == 0.0);
    } else {
        checks.all_integer &= integer;
    }
    checks.n_values += n as u64;
    if hi > checks.max {
        checks.max = hi;
    }
}

/// Checks values that are all to be checked in one vectorised pass; `false` (nothing
/// recorded) when one is non-finite or negative, so that an exact pass can locate it.
pub fn check_all(values: Values<'_>, checks: &mut ValueChecks) -> bool {
    let n = values.len();
    let (lo, hi, finite, integer) = match values {
        Values::F32(v) => {
            let (lo, hi, finite, integer) = checks_f32(v);
            (lo as f64, hi as f64, finite, integer)
        }
        Values::F64(v) => checks_f64(v),
    };
    if !finite || lo < 0.0 {
        return false;
    }
    checks.n_values += n as u64;
    checks.all_integer &= integer;
    if hi > checks.max {
        checks.max = hi;
    }
    true
}

/// (min, max, all finite, all integer) of a column in one pass of independent lanes, so that
/// it vectorises. `all integer` is only meaningful when the column is finite and ≥ 0 (the
/// case it is used in): adding and subtracting 2^(mantissa bits) rounds a non-negative value
/// below it to an integer; values above it are integers.
macro_rules! value_checks {
    ($name:ident, $t:ty, $two_pow_mantissa:expr) => {
        fn $name(v: &[$t]) -> ($t, $t, bool, bool) {
            const LANES: usize = 16;
            const BIG: $t = $two_pow_mantissa;
            let mut lo = [<$t>::INFINITY; LANES];
            let mut hi = [<$t>::NEG_INFINITY; LANES];
            let mut non_finite = [false; LANES];
            let mut non_integer = [false; LANES];
            let mut lane = |i: usize, x: $t| {
                lo[i] = if x < lo[i] { x } else { lo[i] };
                hi[i] = if x > hi[i] { x } else { hi[i] };
                non_finite[i] |= !x.is_finite();
                non_integer[i] |= x < BIG && (x + BIG) - BIG != x;
            };
            let mut chunks = v.chunks_exact(LANES);
            for c in &mut chunks {
                for (i, &x) in c.iter().enumerate() {
                    lane(i, x);
                }
            }
            for &x in chunks.remainder() {
                lane(0, x);
            }
            (
                lo.iter().copied().fold(<$t>::INFINITY, <$t>::min),
                hi.iter().copied().fold(<$t>::NEG_INFINITY, <$t>::max),
                !non_finite.iter().any(|&b| b),
                !non_integer.iter().any(|&b| b),
            )
        }
    };
}
value_checks!(checks_f32, f32, 8_388_608.0);
value_checks!(checks_f64, f64, 4_503_599_627_370_496.0);

/// Applies normalize_total(1e4) + log1p per row (SPEC §1.4): x' = ln(1 + 1e4·x/Σx) in f64,
/// rounded to f32; a row with Σx = 0 stays 0. Replaces the values with float32 arrays.
pub fn normalize_rows(arrays: &mut ExpressionArrays) {
    let scale: Vec<f64> = arrays
        .row_totals()
        .iter()
        .map(|&t| if t == 0.0 { 0.0 } else { 1e4 / t })
        .collect();
    arrays.map_values(|r, x| (x * scale[r]).ln_1p() as f32);
}

/// The errors of an observed-cells table's values: non-finite, negative, or (unless
/// `normalized`) raw counts. `genes` names the file positions of the checks.
pub fn validate_values(
    file: &str,
    genes: &[String],
    c: &ValueChecks,
    normalized: bool,
) -> Result<()> {
    let at = |row: u64, gene: usize| Location {
        file: Some(file.into()),
        row: Some(row),
        gene: genes.get(gene).cloned(),
        ..Default::default()
    };
    if let Some((row, gene)) = c.first_non_finite {
        return Err(Error::input(
            at(row, gene),
            format!(
                "{} non-finite expression value(s) (NaN or Inf); this is the first",
                c.non_finite
            ),
            "remove or fix the cells with missing / infinite values",
        ));
    }
    if let Some((row, gene, x)) = c.first_negative {
        return Err(Error::input(
            at(row, gene),
            format!("{} negative expression value(s); this is the first ({x})", c.negative),
            "calibra expects log1p(CP10k)-normalised expression (≥ 0); do not pass scaled / centred data",
        ));
    }
    if !normalized && c.all_integer && c.max > RAW_COUNT_MAX {
        return Err(Error::in_file(
            file,
            format!(
                "the values look like raw counts (all integers, max {})",
                c.max
            ),
            "pass --normalize to apply normalize_total(1e4) + log1p, or give log-normalised data",
        ));
    }
    Ok(())
}
