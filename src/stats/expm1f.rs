//! float32 `expm1` of many values, bit for bit the `libm` crate's `expm1f` (FreeBSD's
//! `s_expm1f.c`, the float32 `expm1` cell-eval2's numba code calls).
//!
//! Values run eight at a time: every lane takes the same float32 operations in the same
//! order as the scalar function's branch for its value, and the branch's result is selected
//! at the end, so the compiler keeps the lanes in vector registers. A value outside
//! (−27 ln 2, 27 ln 2) or NaN (rare in expression data) is redone by the scalar function.
//! Rust never fuses a multiply and an add, so the results are the scalar function's exactly
//! (unit test on a dense grid of bit patterns and around every branch; an ignored test
//! checks every float32).

/// Values per group.
const LANES: usize = 8;

// The scalar function's constants, by their bits (its decimal literals in the unit test).
const LN2_HI: f32 = f32::from_bits(0x3f31_7180);
const LN2_LO: f32 = f32::from_bits(0x3717_f7d1);
const INV_LN2: f32 = f32::from_bits(0x3fb8_aa3b);
const Q1: f32 = f32::from_bits(0xbd08_8868); // -0x888868p-28
const Q2: f32 = f32::from_bits(0x3acf_3010); // 0xcf3010p-33

/// |x| from which the scalar function treats x as huge (27 ln 2) or non-finite.
const HUGE_BITS: u32 = 0x4195_b844;
/// Below 2⁻²⁵ expm1(x) = x.
const TINY_BITS: u32 = 0x3300_0000;
/// Up to ½ ln 2 no argument reduction (k = 0).
const HALF_LN2_BITS: u32 = 0x3eb1_7218;
/// Below 1.5 ln 2, k = 1.
const THREE_HALVES_LN2_BITS: u32 = 0x3f85_1592;

/// `out[i] = libm::expm1f(values[i])`, bit for bit.
pub fn expm1f_many(values: &[f32], out: &mut [f32]) {
    assert_eq!(values.len(), out.len(), "expm1f_many: lengths differ");
    let mut groups = values.chunks_exact(LANES);
    let mut outs = out.chunks_exact_mut(LANES);
    for (x, y) in (&mut groups).zip(&mut outs) {
        let x: &[f32; LANES] = x.try_into().expect("a group of LANES");
        y.copy_from_slice(&group(x));
    }
    for (&x, y) in groups.remainder().iter().zip(outs.into_remainder()) {
        *y = libm::expm1f(x);
    }
}

/// Eight values in lanes; a value outside (−27 ln 2, 27 ln 2) (or NaN) is then redone by
/// the scalar function.
#[inline]
fn group(x: &[f32; LANES]) -> [f32; LANES] {
    let mut out = [0f32; LANES];
    for (y, &v) in out.iter_mut().zip(x) {
        *y = ordinary(v);
    }
    if x.iter().any(|v| v.to_bits() & 0x7fff_ffff >= HUGE_BITS) {
        for (y, &v) in out.iter_mut().zip(x) {
            if v.to_bits() & 0x7fff_ffff >= HUGE_BITS {
                *y = libm::expm1f(v);
            }
        }
    }
    out
}

/// `libm::expm1f(x)` for |x| < 27 ln 2: each branch's operations, then the select. (Any
/// other x gives some value, never a panic; [`group`] replaces it.)
#[inline(always)]
fn ordinary(x: f32) -> f32 {
    let bits = x.to_bits();
    let negative = bits >> 31 != 0;
    let hx = bits & 0x7fff_ffff;
    // Argument reduction x = k ln 2 + (hi − lo), (hi − lo) in [−½ ln 2, ½ ln 2]. For k = 0
    // the scalar code keeps x and c = 0: hi = x, lo = 0 gives both exactly.
    let k_rounded = (INV_LN2 * x + if negative { -0.5 } else { 0.5 }) as i32;
    let t = k_rounded as f32;
    let (k, hi, lo) = if hx <= HALF_LN2_BITS {
        (0, x, 0.0)
    } else if hx < THREE_HALVES_LN2_BITS {
        if negative {
            (-1, x + LN2_HI, -LN2_LO)
        } else {
            (1, x - LN2_HI, LN2_LO)
        }
    } else {
        (k_rounded, x - t * LN2_HI, t * LN2_LO)
    };
    let xr = hi - lo;
    let c = (hi - xr) - lo;
    // x is now in the primary range.
    let hfx = 0.5 * xr;
    let hxs = xr * hfx;
    let r1 = 1. + hxs * (Q1 + hxs * Q2);
    let t3 = 3. - r1 * hfx;
    let e0 = hxs * ((r1 - t3) / (6. - xr * t3));
    let when_k0 = xr - (xr * e0 - hxs);
    let e = (xr * (e0 - c) - c) - hxs;
    let when_minus1 = 0.5 * (xr - e) - 0.5;
    let when_k1 = if xr < -0.25 {
        -2. * (e - (xr + 0.5))
    } else {
        1. + 2. * (xr - e)
    };
    // −27 ≤ k ≤ 27 here: 2^k and 2^−k are normal floats.
    let twopk = f32::from_bits(0x7fu32.wrapping_add(k as u32) << 23);
    let uf = f32::from_bits(0x7fu32.wrapping_sub(k as u32) << 23);
    let when_negative_k = (xr - e + 1.) * twopk - 1.;
    let when_k = if k < 23 {
        (xr - e + (1. - uf)) * twopk
    } else {
        (xr - (e + uf) + 1.) * twopk
    };
    if hx < TINY_BITS {
        x
    } else if k == 0 {
        when_k0
    } else if k == -1 {
        when_minus1
    } else if k == 1 {
        when_k1
    } else if k < 0 {
        when_negative_k
    } else {
        when_k
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every bit pattern from `from` to `to` (exclusive) in steps of `step`, against libm,
    /// a million at a time.
    fn check(from: u32, to: u32, step: u32) {
        let mut patterns = (from..to).step_by(step as usize).peekable();
        let (mut values, mut got) = (Vec::new(), Vec::new());
        while patterns.peek().is_some() {
            values.clear();
            values.extend(patterns.by_ref().take(1 << 20).map(f32::from_bits));
            got.resize(values.len(), 0f32);
            expm1f_many(&values, &mut got);
            for (&x, &y) in values.iter().zip(&got) {
                let want = libm::expm1f(x);
                assert!(
                    y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()),
                    "expm1f({x:e}) = {want:e}, lanes {y:e}"
                );
            }
        }
    }

    #[test]
    fn constants_are_the_scalar_functions() {
        let parsed = |s: &str| s.parse::<f32>().unwrap();
        assert_eq!(LN2_HI, parsed("6.9313812256e-01"));
        assert_eq!(LN2_LO, parsed("9.0580006145e-06"));
        assert_eq!(INV_LN2, parsed("1.4426950216e+00"));
        assert_eq!(Q1, parsed("-3.3333212137e-2"));
        assert_eq!(Q1, -(0x88_8868 as f32) / (1u64 << 28) as f32);
        assert_eq!(Q2, parsed("1.5807170421e-3"));
        assert_eq!(Q2, 0xcf_3010 as f32 / (1u64 << 33) as f32);
    }

    #[test]
    fn equals_libm_on_a_dense_grid_and_around_every_branch() {
        // Every sign, exponent and NaN, 1 in 997 bit patterns.
        check(0, u32::MAX, 997);
        // Every pattern around the branch thresholds (both signs: mixed groups).
        for edge in [TINY_BITS, HALF_LN2_BITS, THREE_HALVES_LN2_BITS, HUGE_BITS] {
            for sign in [0, 0x8000_0000] {
                check((edge | sign) - 4096, (edge | sign) + 4096, 1);
            }
        }
        // Where k reaches 23 (the other final formula): x ≈ 23 ln 2 ≈ 15.94.
        check((15.6f32).to_bits(), (16.3f32).to_bits(), 1);
        // k from −1 to −3 (x from −0.35 to −2.4), every pattern in 1 of 7.
        check((-0.3f32).to_bits(), (-2.5f32).to_bits(), 7);
        // Log1p-normalised expression values: [0, 12) in 1 of 1009 bit patterns.
        check(0, (12f32).to_bits(), 1009);
    }

    /// Every float32 but the last pattern (NaN): `cargo test --release --lib expm1f --
    /// --ignored`.
    #[test]
    #[ignore]
    fn equals_libm_for_every_float() {
        check(0, u32::MAX, 1);
    }
}
