//! Ops with an `f64` constant (`powi`, `powf`, `log`, `clamp`, `leaky_relu`,
//! and `max`, `min`, `atan2`, `hypot` against a constant), and [`Operand`], which
//! lets `x.max(y)` and `x.max(0.0)` be one method, as on `f64`.

use super::binary::{atan2_with_partials, hypot_scale, hypot_with_partials};
use super::kernels::{
    leaky_relu_with_partial, max_with_partials, min_with_partials, powf_with_partial,
    powi_with_partial,
};
use crate::op::Op;
use crate::var::Var;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f64 {}
    impl Sealed for crate::Var<'_> {}
}

/// The other operand of [`max`](Var::max), [`min`](Var::min),
/// [`atan2`](Var::atan2) and [`hypot`](Var::hypot): a `T` (another `Var`, or on
/// `f64` another `f64`) or an `f64` constant. So `x.max(y)` and `x.max(0.0)` are
/// one method, as on `f64`, and generic [`Scalar`](crate::Scalar) code can write
/// either.
///
/// Sealed: implemented for `Var` and `f64` only. Its methods are the crate's
/// plumbing; call `max`, `min`, `atan2`, `hypot`.
///
/// ```
/// use chainrule::{Scalar, Tape};
///
/// fn clipped<T: Scalar>(x: T, y: T) -> T {
///     x.max(0.0).min(y) // an f64 and a T, through one method each
/// }
/// assert_eq!(clipped(-1.0, 2.0), 0.0);
/// let tape = Tape::new();
/// let (x, y) = (tape.var(3.0), tape.var(2.0));
/// assert_eq!(clipped(x, y).value(), 2.0);
/// ```
pub trait Operand<T>: Copy + sealed::Sealed {
    /// `max(a, self)`.
    #[doc(hidden)]
    fn max_of(self, a: T) -> T;
    /// `min(a, self)`.
    #[doc(hidden)]
    fn min_of(self, a: T) -> T;
    /// `atan2(a, self)`: `a` the ordinate.
    #[doc(hidden)]
    fn atan2_of(self, a: T) -> T;
    /// `hypot(a, self)`.
    #[doc(hidden)]
    fn hypot_of(self, a: T) -> T;
}

impl<'t> Operand<Var<'t>> for Var<'t> {
    #[inline(always)]
    #[track_caller]
    fn max_of(self, a: Var<'t>) -> Var<'t> {
        let (value, d_a, d_self) = max_with_partials(a.value, self.value);
        a.binary(self, Op::Max, value, d_a, d_self)
    }
    #[inline(always)]
    #[track_caller]
    fn min_of(self, a: Var<'t>) -> Var<'t> {
        let (value, d_a, d_self) = min_with_partials(a.value, self.value);
        a.binary(self, Op::Min, value, d_a, d_self)
    }
    #[inline(always)]
    #[track_caller]
    fn atan2_of(self, a: Var<'t>) -> Var<'t> {
        a.atan2_var(self)
    }
    #[inline(always)]
    #[track_caller]
    fn hypot_of(self, a: Var<'t>) -> Var<'t> {
        a.hypot_var(self)
    }
}

impl<T: crate::Scalar> Operand<T> for f64 {
    #[inline(always)]
    #[track_caller]
    fn max_of(self, a: T) -> T {
        a.max_const(self)
    }
    #[inline(always)]
    #[track_caller]
    fn min_of(self, a: T) -> T {
        a.min_const(self)
    }
    #[inline(always)]
    #[track_caller]
    fn atan2_of(self, a: T) -> T {
        a.atan2_const(self)
    }
    #[inline(always)]
    #[track_caller]
    fn hypot_of(self, a: T) -> T {
        a.hypot_const(self)
    }
}

impl<'t> Var<'t> {
    /// Keeps the constant `c` of this node (just recorded) for replay, if its tape
    /// keeps constants ([`Tape::set_keep_constants`](crate::Tape::set_keep_constants)):
    /// one predictable branch otherwise.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn keep(self, c: f64) -> Var<'t> {
        self.tape.keep_for_replay(self.index, c);
        self
    }

    /// As [`keep`](Var::keep), for an op with two constants (`clamp`'s bounds).
    #[inline(always)]
    #[track_caller]
    pub(crate) fn keep_two(self, c0: f64, c1: f64) -> Var<'t> {
        if self.tape.keeps_for_replay() {
            self.tape.keep_constant(self.index, c0);
            self.tape.keep_constant(self.index, c1);
        }
        self
    }

    /// `max(self, c)`: [`Scalar::max_const`](crate::Scalar).
    #[inline(always)]
    #[track_caller]
    pub(crate) fn max_const(self, c: f64) -> Var<'t> {
        let (value, d_self, _) = max_with_partials(self.value, c);
        self.unary(Op::MaxConst, value, d_self).keep(c)
    }
    /// `min(self, c)`.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn min_const(self, c: f64) -> Var<'t> {
        let (value, d_self, _) = min_with_partials(self.value, c);
        self.unary(Op::MinConst, value, d_self).keep(c)
    }
    /// `atan2(self, c)`.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn atan2_const(self, c: f64) -> Var<'t> {
        let (value, d_self, _) = atan2_with_partials(self.value, c);
        let y = self.unary(Op::Atan2Const, value, d_self);
        self.tape.keep_constant(y.index, c);
        y
    }
    /// `hypot(self, c)`.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn hypot_const(self, c: f64) -> Var<'t> {
        let (value, d_self, _) = hypot_with_partials(self.value, c);
        let y = self.unary(Op::HypotConst, value, d_self);
        if hypot_scale(value) != 1.0 && !self.tape.keeps_for_replay() {
            // Where the partial is taken on scaled operands, a recorded backward
            // pass (`Tape::grad`) needs c to write it again.
            self.tape.keep_constant(y.index, c);
            return y;
        }
        y.keep(c)
    }
}

impl<'t> Var<'t> {
    /// The leaky rectifier: x for x > 0, else alpha·x.
    ///
    /// Derivative: 1 for x > 0, else alpha; **alpha at x = 0** (as PyTorch); NaN
    /// at NaN.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(-2.0);
    /// let y = x.leaky_relu(0.01);
    /// assert_eq!((y.value(), y.backward()[x]), (-0.02, 0.01));
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn leaky_relu(self, alpha: f64) -> Var<'t> {
        let (value, d) = leaky_relu_with_partial(self.value, alpha);
        self.unary(Op::LeakyRelu, value, d).keep(alpha)
    }

    /// x^n for an integer constant n.
    ///
    /// Derivative: n·x^(n−1); 0 for n = 0. `powi(2)` records a
    /// [`square`](Var::square) node (the same value and derivative, bit for bit). Every `i32` is accepted: for
    /// n = `i32::MIN`, whose n − 1 is not an `i32`, x^(n−1) is taken with `powf`.
    /// The value is [`f64::powi`]'s, repeated squaring, which rounds about
    /// log₂|n| times: for large |n| it is off by up to about |n| ulps relatively
    /// (1.0000001^(2³¹ − 1): 1.2e-8), where [`powf`](Var::powf) is within an
    /// ulp or two.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// assert_eq!(x.powi(3).backward()[x], 12.0);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn powi(self, n: i32) -> Var<'t> {
        if n == 2 {
            // x·x and 2x, bit for bit: the square op, which needs no constant kept
            // (`0.5 * (t - o).powi(2)` is how people write a squared error).
            return self.square();
        }
        let (value, d) = powi_with_partial(self.value, n);
        let y = self.unary(Op::Powi, value, d);
        self.tape.keep_constant(y.index, n as f64);
        y
    }

    /// x^c for a real constant c.
    ///
    /// Derivative: c·x^(c−1); 0 for c = 0. A negative x with a non-integer c gives
    /// NaN, as [`f64::powf`], value and derivative (also for a tiny c, whose c − 1
    /// rounds to the integer −1). x^(c−1) is formed first, so for 0 < |c| < 1 the
    /// derivative is +inf up to 1/|c| before its value overflows (at a subnormal
    /// x: `x.powf(1e-3)` at 1e-309 has derivative +inf, where it is 4.9e305); its
    /// higher derivatives alike (see [`crate::higher`]).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(x.powf(0.5).backward()[x], 0.25);
    /// let x = tape.var(1e-309);
    /// assert_eq!(x.powf(1e-3).backward()[x], f64::INFINITY); // c·x^(c−1) = 4.9e305
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn powf(self, c: f64) -> Var<'t> {
        let (value, d) = powf_with_partial(self.value, c);
        let y = self.unary(Op::Powf, value, d);
        self.tape.keep_constant(y.index, c);
        y
    }

    /// The logarithm to a constant `base`, as [`f64::log`] (ln x / ln base).
    ///
    /// Derivative: 1/(x·ln base). Base e, 2 and 10 have their own, more precise
    /// ops ([`ln`](Var::ln), [`log2`](Var::log2), [`log10`](Var::log10)). A base
    /// of 1 gives ±inf or NaN (ln 1 = 0), a negative base NaN, and a base of 0
    /// ln x / −∞: −0 for x ≥ 1, +0 for 0 < x < 1 (derivative 0), as on `f64`. Where
    /// x·ln base overflows (|x| past `f64::MAX / |ln base|`: 7.8e307 for base
    /// 10), passes 2^1022 or is subnormal, the derivative is taken on x scaled
    /// by a power of two (exactly): the subnormal it is there, not 0 (5.43e-309
    /// for base 10 at 8e307), and no bits lost to a subnormal x·ln base.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(9.0);
    /// let y = x.log(3.0);
    /// assert!((y.value() - 2.0).abs() < 1e-15);
    /// assert!((y.backward()[x] - 1.0 / (9.0 * 3f64.ln())).abs() < 1e-16);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn log(self, base: f64) -> Var<'t> {
        let x = self.value;
        let (value, partial) = crate::ops::kernels::log_with_partial(x, base);
        self.unary(Op::Log, value, partial).keep(base)
    }

    /// `self` restricted to `[lo, hi]`, as [`f64::clamp`]: equal to
    /// `self.max(lo).min(hi)`, value and derivative, but where `lo == hi`.
    ///
    /// Derivative: 1 strictly inside, 0 outside (a select op: see
    /// [`crate::backward`]), **½ on a bound**, as `max` and `min` split a tie (and
    /// as JAX's `jnp.clip`; PyTorch's `clamp` gives 1 there). Where `lo == hi`
    /// the function is the constant `lo`, and its derivative is 0 everywhere,
    /// at `self == lo` too (no kink: `max` then `min` would give ¼ there). NaN
    /// stays NaN, with a NaN partial.
    ///
    /// # Panics
    ///
    /// If `lo > hi`, or either is NaN (as [`f64::clamp`]).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.5);
    /// let y = x.clamp(0.0, 1.0);
    /// assert_eq!((y.value(), y.backward()[x]), (1.0, 0.0));
    /// let x = tape.var(0.5);
    /// assert_eq!(x.clamp(0.0, 1.0).backward()[x], 1.0);
    /// let x = tape.var(1.0); // on a bound: max and min each split their tie
    /// assert_eq!(x.clamp(0.0, 1.0).backward()[x], 0.5);
    /// assert_eq!(x.clamp(1.0, 1.0).backward()[x], 0.0); // the constant 1
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn clamp(self, lo: f64, hi: f64) -> Var<'t> {
        check_clamp(lo, hi);
        let (value, partial) = clamp_with_partial(self.value, lo, hi);
        self.unary(Op::Clamp, value, partial).keep_two(lo, hi)
    }

    /// atan2(self, x): the angle in [−π, π] of the point (x, self), `self` the
    /// ordinate y, as [`f64::atan2`]. `x` is a `Var` or an `f64` constant; for a
    /// constant ordinate see [`const_atan2`](Var::const_atan2).
    ///
    /// Both ends are reached: on the negative x axis the sign of a zero y
    /// chooses the side, atan2(+0, −1) = π and atan2(−0, −1) = −π (IEEE 754-2008
    /// §9.2.1, C99 Annex F.9.1.4, which Rust's `f64::atan2` follows). With y ≠
    /// −0 the exact angle is in (−π, π], but it rounds to −π for a y < 0 small
    /// enough against x < 0: atan2(−1e-300, −1) = −π too.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(-1.0);
    /// assert_eq!(tape.var(0.0).atan2(x).value(), std::f64::consts::PI);
    /// assert_eq!(tape.var(-0.0).atan2(x).value(), -std::f64::consts::PI);
    /// assert_eq!(tape.var(-1e-300).atan2(x).value(), -std::f64::consts::PI);
    /// ```
    ///
    /// Derivatives: ∂/∂y = x/(x² + y²), ∂/∂x = −y/(x² + y²), computed as
    /// (x/h)/h through h = hypot(x, y), and on operands scaled by powers of two
    /// (exactly) where that would lose them: where h overflows (|x|, |y| near
    /// 1.3e308, where the partials are subnormals, not 0), where h is subnormal,
    /// and where h < 1 and x/h or y/h is subnormal. At (0, 0) both are NaN: the
    /// angle has no derivative at the origin (PyTorch gives NaN too). Where an
    /// operand is infinite (and neither is NaN) both are ±0, their limits (the
    /// formula would give ∞/∞ = NaN; PyTorch gives NaN).
    ///
    /// # Panics
    ///
    /// If `x` is a `Var` of another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let (y, x) = (tape.var(1.0), tape.var(1.0));
    /// let a = y.atan2(x);
    /// let g = a.backward();
    /// assert_eq!(a.value(), std::f64::consts::FRAC_PI_4);
    /// assert!((g[y] - 0.5).abs() < 1e-15 && (g[x] + 0.5).abs() < 1e-15);
    /// assert!((y.atan2(-1.0).backward()[y] + 0.5).abs() < 1e-15);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn atan2<O: Operand<Var<'t>>>(self, x: O) -> Var<'t> {
        x.atan2_of(self)
    }

    /// atan2(y, x) for a constant ordinate `y` and a variable abscissa `x`
    /// (`f64::atan2` takes `self` as y, so `y.atan2(x)` with an `f64` y cannot
    /// take a `Var`).
    ///
    /// Derivative: ∂/∂x = −y/(x² + y²); NaN at (0, 0).
    ///
    /// ```
    /// use chainrule::{Tape, Var};
    /// let tape = Tape::new();
    /// let x = tape.var(1.0);
    /// let a = Var::const_atan2(1.0, x);
    /// assert!((a.backward()[x] + 0.5).abs() < 1e-15);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn const_atan2(y: f64, x: Var<'t>) -> Var<'t> {
        let (value, _, d_x) = atan2_with_partials(y, x.value);
        let a = x.unary(Op::ConstAtan2, value, d_x);
        x.tape.keep_constant(a.index, y);
        a
    }

    /// hypot(self, other) = √(self² + other²) without overflow, as
    /// [`f64::hypot`]; `other` is a `Var` or an `f64` constant.
    ///
    /// Derivatives: self/h and other/h. At (0, 0) both are NaN: the cone's tip
    /// has no derivative (PyTorch gives NaN too). With one operand infinite and
    /// the other finite they are their limits, ±1 for the infinite one and ±0
    /// for the other (x/h would be ∞/∞ = NaN; PyTorch gives NaN); with both
    /// infinite, NaN (no limit: x/h depends on the direction).
    ///
    /// # Panics
    ///
    /// If `other` is a `Var` of another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let (x, y) = (tape.var(3.0), tape.var(4.0));
    /// let h = x.hypot(y);
    /// let g = h.backward();
    /// assert_eq!((h.value(), g[x], g[y]), (5.0, 0.6, 0.8));
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn hypot<O: Operand<Var<'t>>>(self, other: O) -> Var<'t> {
        other.hypot_of(self)
    }

    /// The larger of `self` and `other`, a `Var` or an `f64` constant.
    ///
    /// Derivative: 1 for the larger operand, 0 for the other (a select op: the
    /// other gets exactly 0, see [`crate::backward`]). **On a tie, ½ each**, as
    /// PyTorch's `torch.maximum` and JAX's `jnp.maximum` (`derivatives.yaml`:
    /// `where(self == other, grad / 2, grad)`), so `a.max(b) + a.min(b)` has
    /// gradient (1, 1) at a tie too. If either value is NaN the value is NaN with
    /// NaN partials, as `torch.maximum` (not as [`f64::max`], which would hide it).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(1.0);
    /// let b = tape.var(1.0);
    /// let g = a.max(b).backward();
    /// assert_eq!((g[a], g[b]), (0.5, 0.5));
    /// let c = tape.var(3.0);
    /// let g = a.max(c).backward();
    /// assert_eq!((g[a], g[c]), (0.0, 1.0));
    /// // Against a constant: the same rules, the constant's share dropped.
    /// let g = a.max(1.0).backward();
    /// assert_eq!(g[a], 0.5);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn max<O: Operand<Var<'t>>>(self, other: O) -> Var<'t> {
        other.max_of(self)
    }

    /// The smaller of `self` and `other`, a `Var` or an `f64` constant.
    ///
    /// Derivative: 1 for the smaller operand, 0 for the other; **½ each on a tie**;
    /// NaN (value and partials) if either is NaN. Against an `f64` constant, the
    /// same rules (the constant's share dropped). See [`max`](Var::max).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(2.0);
    /// let b = tape.var(1.0);
    /// let g = a.min(b).backward();
    /// assert_eq!((g[a], g[b]), (0.0, 1.0));
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn min<O: Operand<Var<'t>>>(self, other: O) -> Var<'t> {
        other.min_of(self)
    }

    /// [`expm1`](Var::expm1) under [`f64`]'s name for it: the same op.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.exp_m1().backward()[x], 1.0);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn exp_m1(self) -> Var<'t> {
        self.expm1()
    }

    /// [`log1p`](Var::log1p) under [`f64`]'s name for it: the same op.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.ln_1p().backward()[x], 1.0);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn ln_1p(self) -> Var<'t> {
        self.log1p()
    }

    /// A constant `c` on `self`'s tape: a node with no operands, so no gradient
    /// flows through it (see [`Scalar::constant`](crate::Scalar::constant)).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// let y = x.constant(1.0) - x; // 1 − x, with the 1 a constant
    /// assert_eq!((y.value(), y.backward()[x]), (-1.0, -1.0));
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn constant(self, c: f64) -> Var<'t> {
        let index = self.tape.push(Op::Const, c, [], []);
        Var::from_parts(self.tape, index, c)
    }
}

/// `x` clamped to `[lo, hi]` and its partial, as `x.max(lo).min(hi)` takes them,
/// but 0 where `lo == hi` (the constant function; `max` then `min` would give
/// ¼ at `x == lo`, where the derivative exists and is 0). NaN at NaN.
#[inline(always)]
pub(crate) fn clamp_with_partial(x: f64, lo: f64, hi: f64) -> (f64, f64) {
    let (m, d_max, _) = max_with_partials(x, lo);
    let (value, d_min, _) = min_with_partials(m, hi);
    if lo == hi && !x.is_nan() {
        return (value, 0.0);
    }
    (value, d_max * d_min)
}

/// Panics, at the caller's line, unless `lo <= hi` and neither is NaN.
#[inline(always)]
#[track_caller]
pub(crate) fn check_clamp(lo: f64, hi: f64) {
    if lo > hi || lo.is_nan() || hi.is_nan() {
        bad_clamp(lo, hi);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn bad_clamp(lo: f64, hi: f64) -> ! {
    panic!("chainrule: clamp needs lo <= hi, neither NaN, but got lo = {lo}, hi = {hi}")
}
