//! Ops with two variable operands: the arithmetic operators, `pow`, `atan2`,
//! `hypot`, `mul_add`, and the operators with an `f64` constant on either side.

use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use super::kernels::pow_minus_one;
use crate::op::Op;
use crate::var::Var;

impl<'t> Var<'t> {
    /// x^y with both the base x (`self`) and the exponent y variable.
    ///
    /// Derivatives: ∂/∂x = y·x^(y−1), taken as 0 where y = 0; ∂/∂y = x^y·ln x, taken
    /// as 0 where x = 0 and y ≥ 0 (both as PyTorch).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// let y = tape.var(3.0);
    /// let g = x.pow(y).backward();
    /// assert_eq!(g[x], 12.0);
    /// assert!((g[y] - 8.0 * 2f64.ln()).abs() < 1e-15);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn pow(self, exponent: Var<'t>) -> Var<'t> {
        let (value, d_base, d_exponent) = pow_with_partials(self.value, exponent.value);
        self.binary(exponent, Op::Pow, value, d_base, d_exponent)
    }

    /// atan2(y, x) of two variables, `self` the ordinate y: the angle of the point
    /// (x, y) in [−π, π] (−π at y = −0, x < 0). Used by [`Var::atan2`].
    #[inline(always)]
    #[track_caller]
    pub(crate) fn atan2_var(self, x: Var<'t>) -> Var<'t> {
        let (value, d_y, d_x) = atan2_with_partials(self.value, x.value);
        self.binary(x, Op::Atan2, value, d_y, d_x)
    }

    /// hypot(x, y) of two variables. Used by [`Var::hypot`].
    #[inline(always)]
    #[track_caller]
    pub(crate) fn hypot_var(self, other: Var<'t>) -> Var<'t> {
        let (value, d_x, d_y) = hypot_with_partials(self.value, other.value);
        self.binary(other, Op::Hypot, value, d_x, d_y)
    }

    /// `self · a + b` with one rounding, as [`f64::mul_add`].
    ///
    /// Derivatives: ∂/∂self = a, ∂/∂a = self, ∂/∂b = 1. A fused multiply-add is
    /// exact where `self * a + b` rounds twice (and a software routine on CPUs
    /// without FMA, so slower there).
    ///
    /// # Panics
    ///
    /// If the three are not on one tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let (x, a, b) = (tape.var(2.0), tape.var(3.0), tape.var(1.0));
    /// let y = x.mul_add(a, b);
    /// let g = y.backward();
    /// assert_eq!((y.value(), g[x], g[a], g[b]), (7.0, 3.0, 2.0, 1.0));
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn mul_add(self, a: Var<'t>, b: Var<'t>) -> Var<'t> {
        self.same_tape(a);
        self.same_tape(b);
        let value = self.value.mul_add(a.value, b.value);
        let index = self.tape.push(
            Op::MulAdd,
            value,
            [self.index, a.index, b.index],
            [a.value, self.value, 1.0],
        );
        Var::from_parts(self.tape, index, value)
    }
}

/// a/b and its partials 1/b and −(a/b)/b (not −(a/b)·(1/b), which is 0 · ∞ = NaN
/// for a = 0 and a subnormal b, where the derivative is 0).
#[inline(always)]
pub(crate) fn div_with_partials(a: f64, b: f64) -> (f64, f64, f64) {
    let q = a / b;
    (q, 1.0 / b, -q / b)
}

/// x^y and its partials: ∂/∂x = y·x^(y−1), 0 where y = 0; ∂/∂y = x^y·ln x, 0
/// where x = 0 and y ≥ 0 (both as PyTorch).
#[inline(always)]
pub(crate) fn pow_with_partials(x: f64, y: f64) -> (f64, f64, f64) {
    let value = x.powf(y);
    let d_base = if y == 0.0 {
        0.0
    } else {
        y * pow_minus_one(x, y)
    };
    let d_exponent = if x == 0.0 && y >= 0.0 {
        0.0
    } else {
        value * x.ln()
    };
    (value, d_base, d_exponent)
}

/// atan2(y, x) and its partials ∂/∂y = x/(x² + y²), ∂/∂x = −y/(x² + y²), each
/// computed as (x/h)/h with h = hypot(x, y), so nothing overflows for large
/// operands. At (0, 0) the value is ±0 or ±π (as [`f64::atan2`]) and both
/// partials are NaN: the derivative does not exist there (PyTorch gives NaN too).
///
/// Where (x/h)/h would lose the partial, at the edges [`atan2_at_edge`] picks
/// out, it is taken on scaled numbers instead ([`atan2_partials_at_edge`]):
/// where h overflows for finite operands (|x|, |y| near 1.3e308, where the
/// partials are subnormal, not 0), where h is subnormal, and where h < 1 and
/// x/h or y/h is subnormal (it keeps fewer bits, and dividing by h again
/// magnifies their loss: −1.1331496805042294e-306 for −1.1331496805041703e-306
/// at y = 1.234e-315, x = 3.3e-5).
///
/// Where an operand is infinite (and neither is NaN) both partials are their
/// limit, ±0 (|x|/(x² + y²) ≤ 1/max(|x|, |y|)), where (x/h)/h would be ∞/∞, NaN,
/// for the infinite one.
#[inline(always)]
pub(crate) fn atan2_with_partials(y: f64, x: f64) -> (f64, f64, f64) {
    let h = x.hypot(y);
    let (a, b) = (x / h, y / h);
    if atan2_at_edge(h, a, b) {
        let (d_y, d_x) = atan2_partials_at_edge(y, x, h);
        return (y.atan2(x), d_y, d_x);
    }
    (y.atan2(x), a / h, -(b / h))
}

/// Whether atan2's partials (x/h)/h and (y/h)/h, given h = hypot(x, y), a =
/// x/h and b = y/h, are taken by [`atan2_partials_at_edge`]: h infinite (an
/// infinite operand, or finite ones whose h overflows), h subnormal, or h < 1
/// with a or b subnormal (then |a·b| is below the smallest normal number, and
/// not 0). One comparison for h ≥ 1 (finite).
#[inline(always)]
pub(crate) fn atan2_at_edge(h: f64, a: f64, b: f64) -> bool {
    if h >= 1.0 {
        return h == f64::INFINITY;
    }
    let ab = (a * b).abs();
    (h < f64::MIN_POSITIVE && h > 0.0) || (ab < f64::MIN_POSITIVE && ab != 0.0)
}

/// atan2's partials at the edges [`atan2_at_edge`] picks out: ±0 (the sign of
/// x/(x² + y²) and of −y/(x² + y²)) where an operand is infinite and neither
/// is NaN; else [`atan2_partials_scaled`] (NaN for a NaN operand).
#[cold]
#[inline(never)]
pub(crate) fn atan2_partials_at_edge(y: f64, x: f64, h: f64) -> (f64, f64) {
    if (x.is_infinite() || y.is_infinite()) && !x.is_nan() && !y.is_nan() {
        (0.0f64.copysign(x), 0.0f64.copysign(-y))
    } else {
        atan2_partials_scaled(y, x, h)
    }
}

/// x/(x² + y²) and −y/(x² + y²), given h = hypot(x, y), for finite operands at
/// the edges [`atan2_at_edge`] picks out, over any [`Scalar`](crate::Scalar)
/// (on `Var`s, [`Tape::grad`](crate::Tape::grad) records the same steps, so
/// its values are the tape's bit for bit). Each step is exact but one or two
/// roundings of the plain form's:
///
/// - h infinite: on x·s and y·s with s = 2^−54 (exact; hypot overflows only
///   where both operands are past 1e299), h_s = hypot(x·s, y·s), as
///   ((x·s/h_s)·s)/h_s (x·s/h_s is at least 1e-9, so multiplying it by s is
///   exact and the one rounding into the subnormals is the last division's).
/// - h subnormal: on x·s and y·s with s = 2^54 (exact), then times s.
/// - a numerator n with n/h_s subnormal (h_s < 1): ((n·2^600)/h_s)/(h_s·2^600),
///   each product exact, so n/h_s is never rounded to a subnormal.
///
/// A NaN operand gives NaN partials, as the plain form.
#[track_caller]
pub(crate) fn atan2_partials_scaled<T: crate::Scalar>(y: T, x: T, h: T) -> (T, T) {
    let s = hypot_scale(h.value());
    if s < 1.0 {
        let (xs, ys) = (x * s, y * s);
        let hs = xs.hypot(ys);
        return ((xs / hs * s) / hs, -((ys / hs * s) / hs));
    }
    let (xs, ys, hs) = if s == 1.0 {
        (x, y, h)
    } else {
        let (xs, ys) = (x * s, y * s);
        (xs, ys, xs.hypot(ys))
    };
    (over_h_squared(xs, hs, s), -over_h_squared(ys, hs, s))
}

/// n/h² for [`atan2_partials_scaled`], on the scaled h (`hs`, scale `s`), times
/// `s` back (a function, not a closure, so that a full tape's panic names the
/// caller's line: see [`Tape::grad`](crate::Tape::grad)).
#[track_caller]
fn over_h_squared<T: crate::Scalar>(n: T, hs: T, s: f64) -> T {
    let t600 = f64::from_bits((1023 + 600) << 52);
    let q = n / hs;
    let r = if q.value() != 0.0 && q.value().abs() < f64::MIN_POSITIVE {
        (n * t600) / hs / (hs * t600)
    } else {
        q / hs
    };
    if s == 1.0 {
        r
    } else {
        r * s
    }
}

/// hypot(x, y) = √(x² + y²) without overflow, and its partials x/h and y/h. At
/// (0, 0) the value is 0 and both partials are NaN (0/0: the cone's tip has no
/// derivative; PyTorch gives NaN too).
///
/// Where h is subnormal (it keeps fewer bits: hypot(5e-324, 5e-324) rounds to
/// 5e-324, and x/h would be 1 for √½) or overflows for finite operands (x/h
/// would be 0), the partials are taken on x and y scaled by a power of two
/// (exactly), which leaves x/h and y/h unchanged: see [`hypot_partials_scaled`].
///
/// Where one operand is infinite and the other finite, the partials are their
/// limits: ±1 for the infinite one (x/h would be ∞/∞, NaN) and ±0 for the other.
/// Where both are infinite they stay NaN (x/h has no limit there: it depends on
/// the direction), and so they do against a NaN (hypot(∞, NaN) = ∞).
#[inline(always)]
pub(crate) fn hypot_with_partials(x: f64, y: f64) -> (f64, f64, f64) {
    let h = x.hypot(y);
    if h < f64::MIN_POSITIVE && h > 0.0 || h == f64::INFINITY {
        let (dx, dy) = hypot_partials_scaled(x, y, h);
        return (h, dx, dy);
    }
    (h, x / h, y / h)
}

/// The partials x/h and y/h of hypot where h = hypot(x, y) is subnormal or
/// overflows: computed on x·2^54 and y·2^54 (or 2^−54), exact scalings that
/// bring h into the normal range.
///
/// An infinite operand against a finite one: ±1 and ±0, the limits (see
/// [`hypot_with_partials`]); both infinite, or one NaN: x/h and y/h, NaN.
#[cold]
#[inline(never)]
pub(crate) fn hypot_partials_scaled(x: f64, y: f64, h: f64) -> (f64, f64) {
    if x.is_infinite() || y.is_infinite() {
        return match (x.is_finite(), y.is_finite()) {
            (true, false) => (0.0f64.copysign(x), 1.0f64.copysign(y)),
            (false, true) => (1.0f64.copysign(x), 0.0f64.copysign(y)),
            _ => (x / h, y / h),
        };
    }
    let s = hypot_scale(h);
    let (xs, ys) = (x * s, y * s);
    let hs = xs.hypot(ys);
    (xs / hs, ys / hs)
}

/// The power of two that hypot's partials are taken at (see
/// [`hypot_partials_scaled`]): 2^54 for a subnormal h, 2^−54 for an infinite one,
/// 1 otherwise.
#[inline]
pub(crate) fn hypot_scale(h: f64) -> f64 {
    if h < f64::MIN_POSITIVE && h > 0.0 {
        f64::from_bits(((1023 + 54) as u64) << 52)
    } else if h == f64::INFINITY {
        f64::from_bits(((1023 - 54) as u64) << 52)
    } else {
        1.0
    }
}

// ---- Operators -----------------------------------------------------------------

impl<'t> Add for Var<'t> {
    type Output = Var<'t>;
    /// `a + b`. Derivatives: ∂/∂a = 1, ∂/∂b = 1.
    #[inline(always)]
    #[track_caller]
    fn add(self, rhs: Var<'t>) -> Var<'t> {
        self.binary(rhs, Op::Add, self.value + rhs.value, 1.0, 1.0)
    }
}

impl<'t> Sub for Var<'t> {
    type Output = Var<'t>;
    /// `a − b`. Derivatives: ∂/∂a = 1, ∂/∂b = −1.
    #[inline(always)]
    #[track_caller]
    fn sub(self, rhs: Var<'t>) -> Var<'t> {
        self.binary(rhs, Op::Sub, self.value - rhs.value, 1.0, -1.0)
    }
}

impl<'t> Mul for Var<'t> {
    type Output = Var<'t>;
    /// `a · b`. Derivatives: ∂/∂a = b, ∂/∂b = a.
    #[inline(always)]
    #[track_caller]
    fn mul(self, rhs: Var<'t>) -> Var<'t> {
        self.binary(rhs, Op::Mul, self.value * rhs.value, rhs.value, self.value)
    }
}

impl<'t> Div for Var<'t> {
    type Output = Var<'t>;
    /// `a / b`. Derivatives: ∂/∂a = 1/b, ∂/∂b = −a/b², computed as −(a/b)/b (not
    /// −(a/b)·(1/b), which is 0 · ∞ = NaN for a = 0 and a subnormal b, where the
    /// derivative is 0). 0/0 is NaN. Where a/b is subnormal and b small, the
    /// quotient's lost bits go into ∂/∂b (5e-324 / 1.5e-8: 5e-9 off relatively).
    #[inline(always)]
    #[track_caller]
    fn div(self, rhs: Var<'t>) -> Var<'t> {
        let (q, d_self, d_rhs) = div_with_partials(self.value, rhs.value);
        self.binary(rhs, Op::Div, q, d_self, d_rhs)
    }
}

impl<'t> Neg for Var<'t> {
    type Output = Var<'t>;
    /// `−a`. Derivative: −1.
    #[inline(always)]
    #[track_caller]
    fn neg(self) -> Var<'t> {
        self.unary(Op::Neg, -self.value, -1.0)
    }
}

impl<'t> Add<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `a + c`. Derivative: 1.
    #[inline(always)]
    #[track_caller]
    fn add(self, c: f64) -> Var<'t> {
        self.unary(Op::AddConst, self.value + c, 1.0).keep(c)
    }
}

impl<'t> Add<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c + a`. Derivative: 1.
    #[inline(always)]
    #[track_caller]
    fn add(self, a: Var<'t>) -> Var<'t> {
        a.unary(Op::AddConst, self + a.value, 1.0).keep(self)
    }
}

impl<'t> Sub<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `a − c`. Derivative: 1.
    #[inline(always)]
    #[track_caller]
    fn sub(self, c: f64) -> Var<'t> {
        self.unary(Op::SubConst, self.value - c, 1.0).keep(c)
    }
}

impl<'t> Sub<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c − a`. Derivative: −1.
    #[inline(always)]
    #[track_caller]
    fn sub(self, a: Var<'t>) -> Var<'t> {
        a.unary(Op::ConstSub, self - a.value, -1.0).keep(self)
    }
}

impl<'t> Mul<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `a · c`. Derivative: c.
    #[inline(always)]
    #[track_caller]
    fn mul(self, c: f64) -> Var<'t> {
        self.unary(Op::MulConst, self.value * c, c)
    }
}

impl<'t> Mul<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c · a`. Derivative: c.
    #[inline(always)]
    #[track_caller]
    fn mul(self, a: Var<'t>) -> Var<'t> {
        a.unary(Op::MulConst, self * a.value, self)
    }
}

impl<'t> Div<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `a / c`. Derivative: 1/c.
    #[inline(always)]
    #[track_caller]
    fn div(self, c: f64) -> Var<'t> {
        self.unary(Op::DivConst, self.value / c, 1.0 / c).keep(c)
    }
}

impl<'t> Div<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c / a`. Derivative: −c/a².
    #[inline(always)]
    #[track_caller]
    fn div(self, a: Var<'t>) -> Var<'t> {
        let q = self / a.value;
        a.unary(Op::ConstDiv, q, -q / a.value).keep(self)
    }
}

macro_rules! compound_assign {
    ($($trait:ident $method:ident $op:tt;)*) => {$(
        impl<'t> $trait<Var<'t>> for Var<'t> {
            #[inline]
            #[track_caller]
            fn $method(&mut self, rhs: Var<'t>) {
                *self = *self $op rhs;
            }
        }
        impl<'t> $trait<f64> for Var<'t> {
            #[inline]
            #[track_caller]
            fn $method(&mut self, rhs: f64) {
                *self = *self $op rhs;
            }
        }
    )*};
}

compound_assign! {
    AddAssign add_assign +;
    SubAssign sub_assign -;
    MulAssign mul_assign *;
    DivAssign div_assign /;
}
