//! The `f64` numerics behind the ops: the forms that keep full precision in the
//! tails (σ, tanh, x^(c−1)) and the select ops' rules (relu, max, min).

/// The logistic function 1 / (1 + e^−x), finite and exact for every finite `x`
/// (it never evaluates e^x for a large positive x).
#[inline(always)]
pub(crate) fn sigmoid(x: f64) -> f64 {
    sigmoid_with_derivative(x).0
}

/// σ(x) and σ'(x) = σ(x)·(1 − σ(x)), both to full relative precision in both tails.
///
/// For x ≥ 0, 1 − σ is not computed as `1.0 - s` (which cancels to 0 once σ rounds
/// to 1, near x = 37, and loses digits well before) but as e^−x·σ, its exact equal.
#[inline(always)]
pub(crate) fn sigmoid_with_derivative(x: f64) -> (f64, f64) {
    if x >= 0.0 {
        let e = (-x).exp();
        let s = 1.0 / (1.0 + e);
        (s, s * (e * s))
    } else {
        let e = x.exp();
        let s = e / (1.0 + e);
        (s, s * (1.0 - s))
    }
}

/// Below −708, e^x and σ(x) are subnormal (from −708.4), keeping fewer bits,
/// and silu and silu′ are taken by [`silu_far`] and [`silu_derivative_far`]
/// (silu′ also above 708, where σ(−x) is).
pub(crate) const SILU_FAR: f64 = -708.0;

/// silu(x) = x·σ(x); below [`SILU_FAR`] (and at −∞) [`silu_far`].
#[inline(always)]
pub(crate) fn silu(x: f64) -> f64 {
    if x < SILU_FAR {
        return silu_far(x);
    }
    x * sigmoid(x)
}

/// silu(x) for x < −708, where σ(x) = e^x/(1 + e^x) is a subnormal (from
/// −708.4) and x·σ(x) magnified its rounding by |x| (silu(−745) was
/// −3.7e-321 for −2.1e-321, and 0 from −745.2 though x·e^x is a subnormal
/// down to −750): x·e^x (1 + e^x is 1 there) as (x·e^(x/2))·e^(x/2), x/2
/// exact and both factors normal down to −1416, so the one rounding into the
/// subnormals is the last. At x = −∞, where that is −∞·0 (NaN), the limit −0
/// (as at x = −1000).
#[cold]
#[inline(never)]
fn silu_far(x: f64) -> f64 {
    if x == f64::NEG_INFINITY {
        return -0.0;
    }
    let h = (x * 0.5).exp();
    x * h * h
}

/// silu′(x) = σ(x)·(1 + x·σ(−x)) for |x| > 708 (where σ(±x) is subnormal,
/// as in [`silu_far`]), at ±∞ and at NaN: for x < −708, (1 + x)·e^x, as
/// ((x + 1)·e^(x/2))·e^(x/2) (σ(x) = e^x and σ(−x) = 1 to far below an ulp;
/// silu′(−745) was −3.7e-321 for −2.1e-321); for x > 708, 1 + (x − 1)·e^−x,
/// whose value is 1 as before and whose derivative, silu″ = (2 − x)·e^−x, is
/// recorded through normal factors (silu″(745) was −3.7e-321 for −2.1e-321);
/// at ±∞ the limits 1 and 0 ([`silu_derivative_at_infinity`]); NaN stays NaN.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn silu_derivative_far<T: crate::Scalar>(x: T) -> T {
    let v = x.value();
    if v.is_infinite() {
        x.constant(silu_derivative_at_infinity(v))
    } else if v < SILU_FAR {
        let h = (x * 0.5).exp();
        (x + 1.0) * h * h
    } else if v > -SILU_FAR {
        // 1 + (x − 1)·e^−x (σ(x) = 1 − e^−x and σ(−x) = e^−x to far below an
        // ulp): 1 in value, as σ(x)·(1 + x·σ(−x)) rounds there, but its
        // derivative (2 − x)·e^−x keeps its bits, where σ(−x) is subnormal.
        let h = (x * -0.5).exp();
        (x - 1.0) * h * h + 1.0
    } else {
        x.sigmoid() * (x * (-x).sigmoid() + 1.0)
    }
}

/// silu′ at x = ±∞: the limits 1 (at +∞) and 0 (at −∞), where the formula
/// σ(x)·(1 + x·σ(−x)) is 1·(1 + ∞·0) or 0·(1 − ∞), NaN.
#[cold]
#[inline(never)]
pub(crate) fn silu_derivative_at_infinity(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else {
        0.0
    }
}

/// artanh x as [`f64::atanh`], but below −½ as −artanh(−x) (artanh is odd).
/// `f64::atanh` takes ½·ln_1p(2x/(1 − x)) for either sign, and for x near −1
/// that is ln_1p of an argument near −1, which amplifies its rounding:
/// atanh(−0.9999999999999999) was −18.368 (true −18.715), atanh(−0.999) 170
/// ulps off. (The branch, not |x| and the sign everywhere, keeps ordinary
/// inputs as fast as `f64::atanh`.)
#[inline(always)]
pub(crate) fn atanh(x: f64) -> f64 {
    if x < -0.5 {
        -(-x).atanh()
    } else {
        x.atanh()
    }
}

/// 2^1022: past it `f64::acosh` and `f64::asinh` near their overflow (at about
/// 8.99e307, where they take x + … ≥ 2x).
const HUGE: f64 = f64::from_bits(0x7fd0_0000_0000_0000);

/// arsinh x as [`f64::asinh`], but for |x| > 2^1022 (where that overflows from
/// about 8.99e307) from the `libm` crate, which takes ln|x| + ln 2 there:
/// asinh(f64::MAX) = 710.4758600739439, not ∞.
#[inline(always)]
pub(crate) fn asinh(x: f64) -> f64 {
    if x.abs() > HUGE {
        return libm_asinh(x);
    }
    x.asinh()
}

#[cold]
#[inline(never)]
fn libm_asinh(x: f64) -> f64 {
    libm::asinh(x)
}

/// arcosh x as [`f64::acosh`], ln(x + √(x − 1)·√(x + 1)), but from the `libm`
/// crate below x = 1.125 and past 2^1022 (where that overflows from about
/// 8.99e307). Near 1, ln of 1 + a small number loses the small number's low
/// bits (4e-9 relative error at 1 + ε, more than 2 ulps up to about 1.08);
/// `libm` takes ln_1p(t + √(2t + t²)), t = x − 1 exact, within 2 ulps, and
/// ln x + ln 2 for a large x: acosh(f64::MAX) = 710.4758600739439, not ∞.
#[inline(always)]
pub(crate) fn acosh(x: f64) -> f64 {
    if !(1.125..=HUGE).contains(&x) {
        return libm_acosh(x);
    }
    x.acosh()
}

/// `libm::acosh`, NaN below 1 (`libm` does not check x < 1 itself).
#[cold]
#[inline(never)]
fn libm_acosh(x: f64) -> f64 {
    if x < 1.0 {
        return f64::NAN;
    }
    libm::acosh(x)
}

/// ln(1 + e^x) as max(x, 0) + ln(1 + e^−|x|): no overflow for large |x|.
#[inline(always)]
pub(crate) fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// log_b x and its derivative 1/(x·ln b) ([`log_derivative`]), taken at x + 0
/// so that at −0 it is the derivative's limit at 0 (1/(+0·ln b)), as at +0, not
/// 1/(−0·ln b) of the other sign. The one place it is written: the tape and
/// replay both call it.
#[inline]
pub(crate) fn log_with_partial(x: f64, base: f64) -> (f64, f64) {
    (x.log(base), log_derivative(x, base.ln()))
}

/// 2^−1022 and 2^1022: where |x·ln b| lies between them, x·ln b and its
/// reciprocal are both normal numbers and log_b′ = 1/(x·ln b) is taken plainly.
const LOG_PLAIN: std::ops::RangeInclusive<f64> = f64::MIN_POSITIVE..=HUGE;

/// log_b′(x) = 1/(x·ln b) for `log(base)`, given ln b: plainly where x·ln b is
/// in [`LOG_PLAIN`] (bit for bit as before), else [`log_derivative_scaled`].
#[inline(always)]
#[track_caller]
pub(crate) fn log_derivative<T: crate::Scalar>(x: T, ln_b: f64) -> T {
    if LOG_PLAIN.contains(&(x.value() * ln_b).abs()) {
        (x * ln_b).recip()
    } else {
        log_derivative_scaled(x, ln_b)
    }
}

/// log_b′(x) = 1/(x·ln b) where x·ln b is subnormal, past 2^1022 or overflows
/// (|x| past `f64::MAX / |ln b|`: 7.8e307 for base 10, 2.6e305 for base 1e300),
/// for a finite nonzero x and ln b: x scaled by 2^−k into [1, 2) (exactly),
/// then 1/(x·2^−k·ln b), a normal number, scaled back by 2^−k, which rounds
/// once if the result is subnormal (or overflows if it is past `f64::MAX`).
/// So it is as accurate as the plain formula on ordinary x (ln b is rounded
/// too: within 2 steps of the exact value), a subnormal where it was 0
/// (`x.log(10.0)` at 8e307: 5.43e-309). Anything else (x = ±0, ±∞, NaN, a base
/// of 1 or ≤ 0) as before: 1/((x + 0)·ln b).
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn log_derivative_scaled<T: crate::Scalar>(x: T, ln_b: f64) -> T {
    let a = x.value().abs();
    if a == 0.0 || !a.is_finite() || ln_b == 0.0 || !ln_b.is_finite() {
        return ((x + 0.0) * ln_b).recip();
    }
    // a = m·2^e with m in [1, 2); 2^−e in two factors (each a normal number:
    // e is in −1074..=1023).
    let e = a.log2().floor() as i32;
    let (h, l) = (-e / 2, -e - (-e / 2));
    let (h, l) = (2f64.powi(h), 2f64.powi(l));
    (x * h * l * ln_b).recip() * h * l
}

/// max(x, 0); NaN stays NaN (as PyTorch), so the anomaly check still sees it.
#[inline(always)]
pub(crate) fn relu(x: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else {
        x
    }
}

/// relu′(x): 1 for x > 0, 0 for x ≤ 0 (also at ±0, as PyTorch), and NaN at NaN,
/// so a NaN operand is never hidden behind a finite partial.
#[inline(always)]
pub(crate) fn relu_derivative(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x <= 0.0 {
        0.0
    } else {
        f64::NAN
    }
}

/// tanh x and its derivative 1 − tanh² x, both from one `expm1`, the derivative
/// within a few ulps at every x.
///
/// The value is computed as glibc's `tanh` computes it (Sun's fdlibm `s_tanh.c`):
/// for 1 ≤ |x| < 22, t = 1 − 2/(v + 2) with v = e^{2|x|} − 1; below 1,
/// t = −u/(u + 2) with u = e^{−2|x|} − 1; from 22 on, ±1. So on glibc it equals
/// `f64::tanh` bit for bit, and everywhere it equals the `f64` primal
/// ([`Scalar::tanh`](crate::Scalar::tanh) calls this function).
///
/// The derivative reuses the same `expm1`. Below |x| = 1 it is (1 − t)(1 + t),
/// where 1 − t ≥ 0.238 cancels little. From 1 on, `1 − t²` would magnify tanh's
/// own rounding (by 9e-13 relative at x = 4.99594, and to 0 from |x| ≈ 19), so it
/// is q(2 − q) with q = 2/(v + 2) = 1 − |tanh x| as computed before rounding into
/// t: a product of positive numbers that never cancels; from 22 on, 4e/(1 + e)²
/// with e = e^{−2|x|}. `tests/precision.rs` holds it within 4.5 ulps.
#[inline(always)]
pub(crate) fn tanh_with_derivative(x: f64) -> (f64, f64) {
    let a = x.abs();
    if a < 1.0 {
        let u = (-2.0 * a).exp_m1();
        // Below 2^−55, glibc returns x·(1 + x); (1 − t)(1 + t) rounds to 1 there.
        let t = if a < f64::from_bits(0x3c80_0000_0000_0000) {
            x * (1.0 + x)
        } else {
            (-u / (u + 2.0)).copysign(x)
        };
        (t, (1.0 - t) * (1.0 + t))
    } else if a < 22.0 {
        let v = (2.0 * a).exp_m1();
        // q = 1 − |t| exactly as glibc rounds it; 1 − t² = (1 − t)(1 + t) = q(2 − q),
        // a product of positive numbers (q ≤ 0.24), with no cancellation and no
        // second division.
        let q = 2.0 / (v + 2.0);
        ((1.0 - q).copysign(x), q * (2.0 - q))
    } else {
        // ±1 (NaN stays NaN).
        let e = (-2.0 * a).exp();
        (x.tanh(), 4.0 * e / ((1.0 + e) * (1.0 + e)))
    }
}

/// x^(c−1), within a few ulps even where `c − 1` rounds (c = 0.1, or any c with
/// bits below 2^−52·|c − 1|): x^(c−1) = x^m · x^err with m = c − 1 rounded and err
/// its exact rounding error, and x^err = 1 + expm1(err · ln x). Without it the
/// rounding of the exponent is magnified by |ln x| (383 ulps at x = 4.4e7,
/// c = −31.7).
///
/// For x < 0 and an integer c past 2^53, c − 1 rounds to the even m (c is even
/// there, c − 1 odd): x^m would have the wrong sign, so it is −|x|^(c−1).
#[inline(always)]
pub(crate) fn pow_minus_one(x: f64, c: f64) -> f64 {
    let m = c - 1.0;
    // TwoSum: the exact error of c + (−1) (zero whenever c − 1 is exact: integers
    // up to 2^53, halves, anything in [0.5, 2]).
    let back = m - c;
    let err = (c - (m - back)) + (-1.0 - back);
    let p = x.powf(m);
    if err == 0.0 {
        p
    } else if x > 0.0 && x.is_finite() && p.is_normal() {
        p + p * (err * x.ln()).exp_m1()
    } else if x < 0.0 && c.fract() == 0.0 {
        odd_power_of_negative(x, p, err)
    } else if x < 0.0 && x.is_finite() && c.is_finite() {
        // A tiny c that is no integer (|c| < 2^−53: c − 1 rounds to −1, and
        // x^−1 is a number) where x^c itself is NaN: no derivative either.
        f64::NAN
    } else {
        p
    }
}

/// x^(c−1) for x < 0 and an integer c past 2^53, given p = x^m = |x|^m (m = c − 1
/// rounded, even) and err = c − 1 − m: the odd power −|x|^m·|x|^err.
#[cold]
#[inline(never)]
fn odd_power_of_negative(x: f64, p: f64, err: f64) -> f64 {
    if x.is_finite() && p.is_normal() {
        -(p + p * (err * (-x).ln()).exp_m1())
    } else {
        -p
    }
}

#[inline(always)]
pub(crate) fn leaky_relu(x: f64, alpha: f64) -> f64 {
    if x > 0.0 {
        x
    } else {
        alpha * x
    }
}

/// max(a, b) and its partials (∂/∂a, ∂/∂b), as PyTorch's `maximum` and JAX's
/// `maximum` take them: 1 for the larger operand and 0 for the other; **on a tie
/// ½ each** (so max(a, b) + min(a, b) = a + b has gradient (1, 1) everywhere,
/// ties included); NaN if either is NaN, with NaN partials (a NaN is never hidden
/// behind the other operand).
#[inline(always)]
pub(crate) fn max_with_partials(a: f64, b: f64) -> (f64, f64, f64) {
    if a > b {
        (a, 1.0, 0.0)
    } else if a < b {
        (b, 0.0, 1.0)
    } else if a == b {
        (a, 0.5, 0.5)
    } else {
        (f64::NAN, f64::NAN, f64::NAN)
    }
}

/// min(a, b) and its partials, as [`max_with_partials`]: 1 for the smaller
/// operand, ½ each on a tie, NaN if either is NaN.
#[inline(always)]
pub(crate) fn min_with_partials(a: f64, b: f64) -> (f64, f64, f64) {
    if a < b {
        (a, 1.0, 0.0)
    } else if a > b {
        (b, 0.0, 1.0)
    } else if a == b {
        (a, 0.5, 0.5)
    } else {
        (f64::NAN, f64::NAN, f64::NAN)
    }
}

/// sign(x) as |x|′ takes it: 1 for x > 0, −1 for x < 0, **0 at ±0** (as PyTorch),
/// NaN at NaN.
#[inline(always)]
pub(crate) fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x == 0.0 {
        0.0
    } else {
        f64::NAN
    }
}

/// ln Σ e^xᵢ, the largest xᵢ (m) and Σ e^(xᵢ − m), shifted by the largest so
/// nothing overflows: m + ln_1p(r), r the sum of e^(xᵢ − m) over all but the
/// (first) largest, whose term is exactly 1. All −inf (or empty): −inf. A +inf:
/// +inf. A NaN: NaN.
///
/// ln_1p(r) rather than ln(1 + r): 1 + r rounds away r's low bits (all of them
/// for r below 2^−53), and ln(1 + r) ≈ r takes that rounding, relative 2^−53 of
/// 1, as its absolute error: logsumexp(1e-3, −40) was 1e-3, 19 ulps below the
/// exact 1e-3 + 4.24e-18, and logsumexp(0.036793068208527124,
/// −2.5141191808202565) 5.6 ulps off. The returned sum, 1 + r in the inputs' order, is what the softmax divides by
/// ([`logsumexp_partials`], and `Tape::grad`'s record of it), unchanged.
///
/// Within 2 ulps of the exact value (`tests/precision.rs` measures 1.6) unless
/// the result is smaller than |m| by cancellation (m < 0 and ln_1p(r) near
/// −m), where the error is a few ulps of m.
#[inline]
pub(crate) fn logsumexp(xs: impl Iterator<Item = f64> + Clone) -> (f64, f64, f64) {
    let mut m = f64::NEG_INFINITY;
    let mut at = 0;
    let mut nan = false;
    for (i, x) in xs.clone().enumerate() {
        nan |= x.is_nan();
        if x > m {
            m = x;
            at = i;
        }
    }
    if nan {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    if !m.is_finite() {
        // −inf: every input −inf (e^−inf = 0, ln 0 = −inf); +inf: one is +inf.
        return (m, m, f64::NAN);
    }
    let (mut sum, mut rest) = (-0.0, -0.0);
    for (i, x) in xs.enumerate() {
        let e = exp_of_difference(x, m);
        sum += e;
        if i != at {
            rest += e;
        }
    }
    (m + rest.ln_1p(), m, sum)
}

/// 2^512: from here on x·x overflows (below it x·x ≤ `f64::MAX`), and
/// arctan′(x) = 1/(1 + x²) is taken by [`atan_derivative_far`].
pub(crate) const ATAN_FAR: f64 = 1.3407807929942597e154;

/// arctan′(x) for |x| ≥ 2^512 (and NaN, giving NaN), where 1/(x·x + 1) is
/// 1/∞ = 0: (1/x)/(x + 1/x), which is 1/(1 + x²) for every x ≠ 0, and is
/// (1/x)/x in `f64` there (1/x is far below an ulp of x). 1/x is normal
/// there and the one rounding into the subnormals is the division's: within
/// an ulp of the exact value (2.5e-309 at 2e154, 5e-324 at 4e161). ±∞ gives
/// +0, as 1/(x·x + 1) did. Written as the same function, not as its tail
/// 1/x² (which a compiled gradient replayed at x = 1 as 1, for ½), it
/// replays right wherever 1/x is finite (NaN at |x| < 5.6e-309, 0 included).
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn atan_derivative_far<T: crate::Scalar>(x: T) -> T {
    let r = x.recip();
    r / (x + r)
}

/// tanh′(x) = 4u/(1 + u)² for u = e^−2|x|, given `t` = ∓2x (so u = e^t), as
/// recorded past |x| = 20: there 1 + u rounds to 1, and the value is 4u bit
/// for bit, its tail, with no cosh to overflow. Equal to 1/cosh²x at every x
/// (not the tail alone), so a compiled gradient recorded past 20 replays
/// right on the other side too, while u is finite (t below ≈ 709.8).
#[inline]
#[track_caller]
pub(crate) fn tanh_derivative_tail<T: crate::Scalar>(t: T) -> T {
    // (4u/d)/d, not 4u/d²: d² overflows from u ≈ 1.3e154, where the quotient
    // is a normal number down to u ≈ 1.8e308 (x ≈ −354 for a rule recorded
    // above 20).
    let u = t.exp();
    let d = u + 1.0;
    u * 4.0 / d / d
}

/// Whether log₁₀′(x) = 1/(x·ln 10) is taken plainly: 2^−1020 ≤ |x| ≤ 2^1020,
/// where x·ln 10 and its reciprocal are both normal numbers. Else (0, ±∞, NaN,
/// and the far ends) [`log_derivative_at_edge`].
#[inline(always)]
pub(crate) fn log10_derivative_is_plain(x: f64) -> bool {
    let a = x.abs();
    (8.900295434028806e-308..=1.1235582092889474e307).contains(&a)
}

/// Whether log₂′(x) = 1/(x·ln 2) is taken plainly: |x| ≥ 2^−1020, where x·ln 2
/// is a normal number (it never overflows; past 6.5e307 its reciprocal rounds
/// once into the subnormals). Else (0, NaN, and x·ln 2 subnormal, from
/// 3.2e-308 down) [`log_derivative_at_edge`].
#[inline(always)]
pub(crate) fn log2_derivative_is_plain(x: f64) -> bool {
    x.abs() >= 8.900295434028806e-308
}

/// log_b′(x) = 1/(x·ln b) for ln b = ln 2 or ln 10, where
/// [`log10_derivative_is_plain`] (or [`log2_derivative_is_plain`]) is false:
/// +inf at ±0 (as `ln`'s); past 2^1020, where x·ln 10 overflows from 7.8e307
/// (and 1/(x·ln 10) is subnormal), as (1/((x·2^−8)·ln b))·2^−8; below 2^−1020,
/// where x·ln b is subnormal (from 9.7e-309 for base 10, 3.2e-308 for base 2;
/// keeping fewer bits: log₂′ was up to 5 steps off), as
/// (1/((x·2^8)·ln b))·2^8. The scalings are exact, so the value is the plain
/// formula's wherever that one's steps are normal, and within an ulp of the
/// exact value where it is subnormal (5.43e-309 at 8e307, where x·ln 10 gave
/// 0). ±∞ gives ±0 and NaN NaN, as before.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn log_derivative_at_edge<T: crate::Scalar>(x: T, ln_b: f64) -> T {
    let a = x.value().abs();
    if a == 0.0 {
        // +inf at −0 as at +0 (see `ln`).
        (x * ln_b + 0.0).recip()
    } else if a > 1.0 {
        (x * 0.00390625 * ln_b).recip() * 0.00390625
    } else if a < 1.0 {
        (x * 256.0 * ln_b).recip() * 256.0
    } else {
        (x * ln_b).recip()
    }
}

/// erf′(x) = (2/√π)·e^−x², within a few ulps for every x: x² is split exactly
/// into hi + lo (`lo` by a fused multiply-add), and e^−(hi + lo) = e^−hi·e^−lo
/// with e^−lo ≈ 1 − lo. Taking e^−(x·x) directly would magnify the rounding of
/// x·x by x² (105 ulps at |x| = 13.8).
#[inline]
pub(crate) fn erf_derivative(x: f64) -> f64 {
    let hi = x * x;
    let e = (-hi).exp();
    if e == 0.0 {
        // Past |x| ≈ 27 (and for an infinite x², where lo would be ∓∞).
        return if x.is_nan() { f64::NAN } else { 0.0 };
    }
    let lo = x.mul_add(x, -hi);
    std::f64::consts::FRAC_2_SQRT_PI * (e - e * lo)
}

/// e^(x − m) within a few ulps when x − m rounds: with s = x − m and its exact
/// rounding error err (TwoSum), e^(x − m) = e^s·e^err ≈ e^s·(1 + err). A plain
/// `(x - m).exp()` magnifies the rounding by |x − m| (56 ulps at x − m ≈ −68).
#[inline]
pub(crate) fn exp_of_difference(x: f64, m: f64) -> f64 {
    let s = x - m;
    let back = s - x;
    let err = (x - (s - back)) + (-m - back);
    let e = s.exp();
    if err == 0.0 || !err.is_finite() {
        e
    } else {
        e + e * err
    }
}

/// leaky_relu(x) and its partial: 1 for x > 0, α for x ≤ 0 (α at 0, as PyTorch),
/// NaN at NaN. What `Var::leaky_relu` records and a replay recomputes.
#[inline(always)]
pub(crate) fn leaky_relu_with_partial(x: f64, alpha: f64) -> (f64, f64) {
    let d = if x > 0.0 {
        1.0
    } else if x <= 0.0 {
        alpha
    } else {
        f64::NAN
    };
    (leaky_relu(x, alpha), d)
}

/// x^n and n·x^(n−1) (0 for n = 0). x^(n−1) by square-and-multiply loses up to
/// ~|n| ulps: only for n − 1 in −1..=3 is it within 2; beyond, powf (n − 1 is
/// exact, also for n = `i32::MIN`, whose n − 1 is not an `i32`).
#[inline(always)]
pub(crate) fn powi_with_partial(x: f64, n: i32) -> (f64, f64) {
    let d = match (n, n.checked_sub(1)) {
        (0, _) => 0.0,
        (_, Some(n_minus_1)) if (-1..=3).contains(&n_minus_1) => n as f64 * x.powi(n_minus_1),
        _ => n as f64 * x.powf(n as f64 - 1.0),
    };
    (x.powi(n), d)
}

/// x^c and c·x^(c−1) (0 for c = 0), the power through [`pow_minus_one`].
#[inline(always)]
pub(crate) fn powf_with_partial(x: f64, c: f64) -> (f64, f64) {
    let d = if c == 0.0 {
        0.0
    } else {
        c * pow_minus_one(x, c)
    };
    (x.powf(c), d)
}

/// Each partial ∂/∂xᵢ of ln Σ e^xᵢ into `partials`, given what [`logsumexp`]
/// returned: the softmax e^(xᵢ − m) / Σ e^(xⱼ − m) (xᵢ − m exact where xᵢ − y
/// would carry y's rounding), and at the edges the limits where they exist:
/// one input +inf gives it 1 and the others 0; where the limit depends on the
/// way the inputs go to infinity the partial is NaN, as 0/0 (every input −inf:
/// NaN each, but 1 for a single input, ln e^x being x; k ≥ 2 inputs +inf: NaN
/// to each of them, 0 to the others); a NaN gives NaN each.
#[inline]
pub(crate) fn logsumexp_partials(
    xs: impl Iterator<Item = f64> + Clone,
    (value, m, sum): (f64, f64, f64),
    partials: &mut [f64],
) {
    let infinities = xs.clone().filter(|&x| x == f64::INFINITY).count() as f64;
    let single = partials.len() == 1;
    for (p, x) in partials.iter_mut().zip(xs) {
        *p = if value.is_nan() {
            f64::NAN
        } else if m == f64::INFINITY {
            // The others' shares go to 0 whichever way the +inf inputs grow;
            // the +inf inputs' shares of the 1 depend on how they grow (½ each
            // along x = y, 1 and 0 along y = x − c as c grows), unless there is
            // one of them.
            match (x == f64::INFINITY, infinities == 1.0) {
                (true, true) => 1.0,
                (true, false) => f64::NAN,
                (false, _) => 0.0,
            }
        } else if m == f64::NEG_INFINITY {
            // Every input −inf: the shares are 0/0, and near the point they
            // take any values summing to 1 (one input has the whole 1: ln e^x
            // is x).
            if single {
                1.0
            } else {
                f64::NAN
            }
        } else {
            exp_of_difference(x, m) / sum
        };
    }
}
