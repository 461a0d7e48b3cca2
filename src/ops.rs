//! The calculus: every op's value and local partial derivatives, in one place.
//!
//! Each op computes its value and ∂value/∂operand side by side and records them as
//! one node, so `y = x.tanh()` and `∂y/∂x = 1 − y²` are read together, as on paper.
//! Derivatives reuse the forward value where that is cheaper (exp, tanh, sigmoid,
//! sqrt). Where a function has a kink, the value used there follows PyTorch and is
//! stated in the method's documentation.
//!
//! An operation with an `f64` constant records a single node with one edge: the
//! constant folds into the partial and never becomes a leaf.

use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::tape::Op;
use crate::var::Var;

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

/// ln(1 + e^x) as max(x, 0) + ln(1 + e^−|x|): no overflow for large |x|.
#[inline(always)]
pub(crate) fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
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
#[inline(always)]
pub(crate) fn pow_minus_one(x: f64, c: f64) -> f64 {
    let m = c - 1.0;
    // TwoSum: the exact error of c + (−1) (zero whenever c − 1 is exact: integers,
    // halves, anything in [0.5, 2]).
    let back = m - c;
    let err = (c - (m - back)) + (-1.0 - back);
    let p = x.powf(m);
    if err == 0.0 || !(x > 0.0 && x.is_finite() && p.is_normal()) {
        p
    } else {
        p + p * (err * x.ln()).exp_m1()
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

impl<'t> Var<'t> {
    /// Records a node with one operand.
    #[inline(always)]
    fn unary(self, op: Op, value: f64, partial: f64) -> Var<'t> {
        let index = self.tape.push(op, value, [self.index], [partial]);
        Var::from_parts(self.tape, index, value)
    }

    /// Records a node with two operands (checked to share a tape).
    #[inline(always)]
    #[track_caller]
    fn binary(self, other: Var<'t>, op: Op, value: f64, d_self: f64, d_other: f64) -> Var<'t> {
        self.same_tape(other);
        let index = self
            .tape
            .push(op, value, [self.index, other.index], [d_self, d_other]);
        Var::from_parts(self.tape, index, value)
    }

    /// The logistic sigmoid σ(x) = 1 / (1 + e^−x).
    ///
    /// Derivative: σ'(x) = σ(x)·(1 − σ(x)), with 1 − σ taken as e^−x·σ for x ≥ 0 so
    /// that σ' keeps its relative precision in the upper tail (σ'(40) ≈ 4.2e-18, not
    /// 0). Finite and exact at ±1000 (σ = 1 or 0, σ' = 0): e^x is never evaluated for
    /// a large positive x.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// let y = x.sigmoid();
    /// assert_eq!((y.value(), y.backward()[x]), (0.5, 0.25));
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn sigmoid(self) -> Var<'t> {
        let (s, ds) = sigmoid_with_derivative(self.value);
        self.unary(Op::Sigmoid, s, ds)
    }

    /// The hyperbolic tangent.
    ///
    /// Derivative: 1 − tanh²(x), to full relative precision in the tails (computed
    /// as 4e^−2|x| / (1 + e^−2|x|)² past |x| = 5). Finite at ±1000 (±1, derivative 0).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.tanh().backward()[x], 1.0);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn tanh(self) -> Var<'t> {
        let (t, dt) = tanh_with_derivative(self.value);
        self.unary(Op::Tanh, t, dt)
    }

    /// The rectifier max(x, 0).
    ///
    /// Derivative: 1 for x > 0, else 0; **0 at x = 0** (as PyTorch). relu(NaN) is
    /// NaN, as in PyTorch, and so is its derivative, so a NaN is not hidden from
    /// the anomaly check nor behind a finite gradient.
    ///
    /// relu is a select op ([`Op::is_select`]): for x ≤ 0 its operand gets exactly
    /// 0, whatever the adjoint, even an infinite one (see the non-finite policy in
    /// [`crate::backward`]): `x.relu().sqrt()` at x = −1 has gradient 0, as in
    /// PyTorch.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.relu().backward()[x], 0.0);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn relu(self) -> Var<'t> {
        self.unary(Op::Relu, relu(self.value), relu_derivative(self.value))
    }

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
    pub fn leaky_relu(self, alpha: f64) -> Var<'t> {
        let d = if self.value > 0.0 {
            1.0
        } else if self.value <= 0.0 {
            alpha
        } else {
            f64::NAN
        };
        self.unary(Op::LeakyRelu, leaky_relu(self.value, alpha), d)
    }

    /// softplus(x) = ln(1 + e^x), computed as max(x, 0) + ln(1 + e^−|x|).
    ///
    /// Derivative: σ(x). Finite and exact at ±1000 (1000 and 0; derivative 1 and 0).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1000.0);
    /// let y = x.softplus();
    /// assert_eq!((y.value(), y.backward()[x]), (1000.0, 1.0));
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn softplus(self) -> Var<'t> {
        self.unary(Op::Softplus, softplus(self.value), sigmoid(self.value))
    }

    /// e^x.
    ///
    /// Derivative: e^x (the value itself). Overflows to +inf past x ≈ 709.78.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.exp().backward()[x], 1.0);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn exp(self) -> Var<'t> {
        let e = self.value.exp();
        self.unary(Op::Exp, e, e)
    }

    /// The natural logarithm.
    ///
    /// Derivative: 1/x. ln(0) = −inf and ln(x < 0) = NaN, as [`f64::ln`].
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(x.ln().backward()[x], 0.25);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn ln(self) -> Var<'t> {
        self.unary(Op::Ln, self.value.ln(), 1.0 / self.value)
    }

    /// The square root.
    ///
    /// Derivative: 1 / (2√x); +inf at x = 0. √(x < 0) = NaN, as [`f64::sqrt`].
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(x.sqrt().backward()[x], 0.25);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn sqrt(self) -> Var<'t> {
        let r = self.value.sqrt();
        self.unary(Op::Sqrt, r, 0.5 / r)
    }

    /// x^n for an integer constant n.
    ///
    /// Derivative: n·x^(n−1); 0 for n = 0. Every `i32` is accepted: for
    /// n = `i32::MIN`, whose n − 1 is not an `i32`, x^(n−1) is taken with `powf`.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// assert_eq!(x.powi(3).backward()[x], 12.0);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn powi(self, n: i32) -> Var<'t> {
        let d = match (n, n.checked_sub(1)) {
            (0, _) => 0.0,
            // x^(n−1) by square-and-multiply loses up to ~|n| ulps: only for
            // n − 1 in −1..=3 is it within 2; beyond, powf (n − 1 is exact).
            (_, Some(n_minus_1)) if (-1..=3).contains(&n_minus_1) => {
                n as f64 * self.value.powi(n_minus_1)
            }
            _ => n as f64 * self.value.powf(n as f64 - 1.0),
        };
        self.unary(Op::Powi, self.value.powi(n), d)
    }

    /// x^c for a real constant c.
    ///
    /// Derivative: c·x^(c−1); 0 for c = 0. A negative x with a non-integer c gives
    /// NaN, as [`f64::powf`].
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(4.0);
    /// assert_eq!(x.powf(0.5).backward()[x], 0.25);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn powf(self, c: f64) -> Var<'t> {
        let d = if c == 0.0 {
            0.0
        } else {
            c * pow_minus_one(self.value, c)
        };
        self.unary(Op::Powf, self.value.powf(c), d)
    }

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
        let (x, y) = (self.value, exponent.value);
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
        self.binary(exponent, Op::Pow, value, d_base, d_exponent)
    }

    /// The absolute value.
    ///
    /// Derivative: sign(x): 1 for x > 0, −1 for x < 0, **0 at x = 0** (as PyTorch),
    /// NaN at NaN. Not a select op: at 0 the partial is the number 0, so an
    /// infinite adjoint times it is NaN (as PyTorch's `grad · sign(x)`).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(-3.0);
    /// assert_eq!(x.abs().backward()[x], -1.0);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn abs(self) -> Var<'t> {
        let d = if self.value > 0.0 {
            1.0
        } else if self.value < 0.0 {
            -1.0
        } else if self.value == 0.0 {
            0.0
        } else {
            f64::NAN
        };
        self.unary(Op::Abs, self.value.abs(), d)
    }

    /// The sine.
    ///
    /// Derivative: cos x.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.sin().backward()[x], 1.0);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn sin(self) -> Var<'t> {
        let (s, c) = self.value.sin_cos();
        self.unary(Op::Sin, s, c)
    }

    /// The cosine.
    ///
    /// Derivative: −sin x.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// assert_eq!(x.cos().backward()[x], 0.0);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn cos(self) -> Var<'t> {
        let (s, c) = self.value.sin_cos();
        self.unary(Op::Cos, c, -s)
    }

    /// The reciprocal 1/x.
    ///
    /// Derivative: −1/x². At x = 0: +inf with derivative −inf.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// assert_eq!(x.recip().backward()[x], -0.25);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn recip(self) -> Var<'t> {
        let r = 1.0 / self.value;
        self.unary(Op::Recip, r, -r * r)
    }

    /// x².
    ///
    /// Derivative: 2x.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(3.0);
    /// assert_eq!(x.square().backward()[x], 6.0);
    /// ```
    #[must_use]
    #[inline(always)]
    pub fn square(self) -> Var<'t> {
        self.unary(Op::Square, self.value * self.value, 2.0 * self.value)
    }

    /// The larger of `self` and `other`.
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
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn max(self, other: Var<'t>) -> Var<'t> {
        let (value, d_self, d_other) = max_with_partials(self.value, other.value);
        self.binary(other, Op::Max, value, d_self, d_other)
    }

    /// The smaller of `self` and `other`.
    ///
    /// Derivative: 1 for the smaller operand, 0 for the other; **½ each on a tie**;
    /// NaN (value and partials) if either is NaN. See [`max`](Var::max).
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
    pub fn min(self, other: Var<'t>) -> Var<'t> {
        let (value, d_self, d_other) = min_with_partials(self.value, other.value);
        self.binary(other, Op::Min, value, d_self, d_other)
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
    /// derivative is 0). 0/0 is NaN.
    #[inline(always)]
    #[track_caller]
    fn div(self, rhs: Var<'t>) -> Var<'t> {
        let inv = 1.0 / rhs.value;
        let q = self.value / rhs.value;
        self.binary(rhs, Op::Div, q, inv, -q / rhs.value)
    }
}

impl<'t> Neg for Var<'t> {
    type Output = Var<'t>;
    /// `−a`. Derivative: −1.
    #[inline(always)]
    fn neg(self) -> Var<'t> {
        self.unary(Op::Neg, -self.value, -1.0)
    }
}

impl<'t> Add<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `a + c`. Derivative: 1.
    #[inline(always)]
    fn add(self, c: f64) -> Var<'t> {
        self.unary(Op::AddConst, self.value + c, 1.0)
    }
}

impl<'t> Add<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c + a`. Derivative: 1.
    #[inline(always)]
    fn add(self, a: Var<'t>) -> Var<'t> {
        a.unary(Op::AddConst, self + a.value, 1.0)
    }
}

impl<'t> Sub<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `a − c`. Derivative: 1.
    #[inline(always)]
    fn sub(self, c: f64) -> Var<'t> {
        self.unary(Op::SubConst, self.value - c, 1.0)
    }
}

impl<'t> Sub<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c − a`. Derivative: −1.
    #[inline(always)]
    fn sub(self, a: Var<'t>) -> Var<'t> {
        a.unary(Op::ConstSub, self - a.value, -1.0)
    }
}

impl<'t> Mul<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `a · c`. Derivative: c.
    #[inline(always)]
    fn mul(self, c: f64) -> Var<'t> {
        self.unary(Op::MulConst, self.value * c, c)
    }
}

impl<'t> Mul<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c · a`. Derivative: c.
    #[inline(always)]
    fn mul(self, a: Var<'t>) -> Var<'t> {
        a.unary(Op::MulConst, self * a.value, self)
    }
}

impl<'t> Div<f64> for Var<'t> {
    type Output = Var<'t>;
    /// `a / c`. Derivative: 1/c.
    #[inline(always)]
    fn div(self, c: f64) -> Var<'t> {
        self.unary(Op::DivConst, self.value / c, 1.0 / c)
    }
}

impl<'t> Div<Var<'t>> for f64 {
    type Output = Var<'t>;
    /// `c / a`. Derivative: −c/a².
    #[inline(always)]
    fn div(self, a: Var<'t>) -> Var<'t> {
        let q = self / a.value;
        a.unary(Op::ConstDiv, q, -q / a.value)
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
