//! [`Scalar`]: one generic function, computed on `f64` and recorded on [`Var`].

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::fused::{self, Activation};
use crate::ops::{self, rules, Operand};
use crate::var::Var;

macro_rules! define_scalar {
    ($(
        $(#[$doc:meta])*
        $Op:ident $method:ident { $($rest:tt)* }
    )*) => {
/// The arithmetic shared by `f64` and [`Var`], so one generic function computes the
/// primal on `f64` and is recorded on a tape on `Var`: the very same source.
///
/// Every method computes the same value on both (bit for bit); on `Var` it also
/// records the node. Constants enter as `f64` right-hand operands (`x * 2.0`,
/// `x.max(0.0)`); a constant on the left is lifted with
/// [`constant`](Scalar::constant) (`x.constant(1.0) - x`), since Rust cannot
/// write `1.0 - x` for a generic `T`.
///
/// The unary methods (`sigmoid` … `erf`) are generated from the table of unary
/// ops in [`crate::ops`]; on `f64` each is the table's value.
///
/// ```
/// use chainrule::{Scalar, Tape};
///
/// fn neuron<T: Scalar>(w: [T; 2], x: [f64; 2], b: T) -> T {
///     (w[0] * x[0] + w[1] * x[1] + b).sigmoid()
/// }
///
/// let primal = neuron([0.15, 0.20], [0.05, 0.10], 0.35);
///
/// let tape = Tape::new();
/// let w = [tape.var(0.15), tape.var(0.20)];
/// let out = neuron(w, [0.05, 0.10], tape.var(0.35));
/// assert_eq!(out.value(), primal);
/// assert!(out.backward()[w[0]] > 0.0);
/// ```
pub trait Scalar:
    Copy
    + Debug
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + Add<f64, Output = Self>
    + Sub<f64, Output = Self>
    + Mul<f64, Output = Self>
    + Div<f64, Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + AddAssign<f64>
    + SubAssign<f64>
    + MulAssign<f64>
    + DivAssign<f64>
    + Sum<Self>
    + Operand<Self>
{
    /// The plain value.
    fn value(self) -> f64;

    $(
        #[doc = concat!("See [`Var::", stringify!($method), "`].")]
        #[must_use]
        fn $method(self) -> Self;
    )*

    /// A constant `c` usable where a `Self` is needed: `c` itself on `f64`; on a
    /// `Var`, a node on `self`'s tape with no operands (no gradient flows through
    /// it). Generic code writes `1 − x` as `x.constant(1.0) - x`, since Rust
    /// cannot write `1.0 - x` for a generic `T`; `-x + 1.0` records no constant
    /// node.
    ///
    /// ```
    /// use chainrule::{Scalar, Tape};
    /// fn one_minus<T: Scalar>(x: T) -> T {
    ///     x.constant(1.0) - x
    /// }
    /// assert_eq!(one_minus(0.25), 0.75);
    /// let tape = Tape::new();
    /// let x = tape.var(0.25);
    /// let y = one_minus(x);
    /// assert_eq!((y.value(), y.backward()[x]), (0.75, -1.0));
    /// ```
    #[must_use]
    fn constant(self, c: f64) -> Self;
    /// See [`Var::leaky_relu`].
    #[must_use]
    fn leaky_relu(self, alpha: f64) -> Self;
    /// See [`Var::powi`].
    #[must_use]
    fn powi(self, n: i32) -> Self;
    /// See [`Var::powf`].
    #[must_use]
    fn powf(self, c: f64) -> Self;
    /// See [`Var::pow`].
    #[must_use]
    fn pow(self, exponent: Self) -> Self;
    /// See [`Var::log`].
    #[must_use]
    fn log(self, base: f64) -> Self;
    /// See [`Var::clamp`].
    #[must_use]
    fn clamp(self, lo: f64, hi: f64) -> Self;
    /// See [`Var::max`]: `other` a `Self` or an `f64`.
    #[inline(always)]
    #[track_caller]
    #[must_use]
    fn max<O: Operand<Self>>(self, other: O) -> Self {
        other.max_of(self)
    }
    /// See [`Var::min`]: `other` a `Self` or an `f64`.
    #[inline(always)]
    #[track_caller]
    #[must_use]
    fn min<O: Operand<Self>>(self, other: O) -> Self {
        other.min_of(self)
    }
    /// See [`Var::atan2`]: `self` the ordinate, `x` a `Self` or an `f64`.
    #[inline(always)]
    #[track_caller]
    #[must_use]
    fn atan2<O: Operand<Self>>(self, x: O) -> Self {
        x.atan2_of(self)
    }
    /// See [`Var::hypot`]: `other` a `Self` or an `f64`.
    #[inline(always)]
    #[track_caller]
    #[must_use]
    fn hypot<O: Operand<Self>>(self, other: O) -> Self {
        other.hypot_of(self)
    }
    /// See [`Var::mul_add`].
    #[must_use]
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `max(self, c)` for a constant `c`: what `x.max(0.0)` calls through
    /// [`Operand`]. Call [`max`](Scalar::max).
    #[doc(hidden)]
    #[must_use]
    fn max_const(self, c: f64) -> Self;
    /// `min(self, c)`; call [`min`](Scalar::min).
    #[doc(hidden)]
    #[must_use]
    fn min_const(self, c: f64) -> Self;
    /// `atan2(self, c)`; call [`atan2`](Scalar::atan2).
    #[doc(hidden)]
    #[must_use]
    fn atan2_const(self, c: f64) -> Self;
    /// `hypot(self, c)`; call [`hypot`](Scalar::hypot).
    #[doc(hidden)]
    #[must_use]
    fn hypot_const(self, c: f64) -> Self;
    /// See [`Var::exp_m1`]: the same op as [`expm1`](Scalar::expm1).
    #[inline(always)]
    #[must_use]
    fn exp_m1(self) -> Self {
        self.expm1()
    }
    /// See [`Var::ln_1p`]: the same op as [`log1p`](Scalar::log1p).
    #[inline(always)]
    #[must_use]
    fn ln_1p(self) -> Self {
        self.log1p()
    }
    /// See [`Var::logsumexp`]: one node on a tape. On `f64`, an empty slice gives
    /// −inf (on `Var` it panics: there is no tape).
    #[must_use]
    fn logsumexp(xs: &[Self]) -> Self;
    /// See [`Var::weighted_sum`]: one node on a tape.
    #[inline(always)]
    #[must_use]
    fn weighted_sum(weights: &[Self], inputs: &[Self], bias: Self) -> Self {
        Self::neuron(weights, inputs, bias, Activation::Identity)
    }
    /// See [`Var::weighted_sum_const`]: one node on a tape.
    #[inline(always)]
    #[must_use]
    fn weighted_sum_const(weights: &[Self], inputs: &[f64], bias: Self) -> Self {
        Self::neuron_const(weights, inputs, bias, Activation::Identity)
    }
    /// See [`Var::neuron`]: one node on a tape.
    #[must_use]
    fn neuron(weights: &[Self], inputs: &[Self], bias: Self, activation: Activation) -> Self;
    /// See [`Var::neuron_const`]: one node on a tape.
    #[must_use]
    fn neuron_const(weights: &[Self], inputs: &[f64], bias: Self, activation: Activation) -> Self;
    /// See [`Var::layer`]: a [`neuron`](Scalar::neuron) per output, over the same
    /// inputs; `params` holds each neuron's weights, then its bias.
    #[inline(always)]
    #[track_caller]
    fn layer(params: &[Self], inputs: &[Self], activation: Activation, outputs: &mut [Self]) {
        fused::check_layer(params.len(), inputs.len(), outputs.len());
        let n = inputs.len();
        for (output, neuron) in outputs.iter_mut().zip(params.chunks_exact(n + 1)) {
            let (weights, bias) = neuron.split_at(n);
            *output = Self::neuron(weights, inputs, bias[0], activation);
        }
    }
    /// See [`Var::half_squared_error`]: one node on a tape.
    #[must_use]
    fn half_squared_error(outputs: &[Self], targets: &[f64]) -> Self;
    /// See [`Var::mean_squared_error`]: one node on a tape.
    #[must_use]
    fn mean_squared_error(outputs: &[Self], targets: &[f64]) -> Self;
}


impl Scalar for f64 {
    #[inline(always)]
    fn value(self) -> f64 {
        self
    }
    $(
        #[inline(always)]
        fn $method(self) -> f64 {
            rules::$method::value(self)
        }
    )*
    #[inline(always)]
    fn constant(self, c: f64) -> f64 {
        c
    }
    #[inline(always)]
    fn leaky_relu(self, alpha: f64) -> f64 {
        ops::leaky_relu(self, alpha)
    }
    #[inline(always)]
    fn powi(self, n: i32) -> f64 {
        f64::powi(self, n)
    }
    #[inline(always)]
    fn powf(self, c: f64) -> f64 {
        f64::powf(self, c)
    }
    #[inline(always)]
    fn pow(self, exponent: f64) -> f64 {
        f64::powf(self, exponent)
    }
    #[inline(always)]
    fn log(self, base: f64) -> f64 {
        f64::log(self, base)
    }
    #[inline(always)]
    #[track_caller]
    fn clamp(self, lo: f64, hi: f64) -> f64 {
        // The same check and message as `Var::clamp`, at the caller's line.
        ops::check_clamp(lo, hi);
        f64::clamp(self, lo, hi)
    }
    #[inline(always)]
    fn mul_add(self, a: f64, b: f64) -> f64 {
        f64::mul_add(self, a, b)
    }
    #[inline(always)]
    fn max_const(self, c: f64) -> f64 {
        ops::max_with_partials(self, c).0
    }
    #[inline(always)]
    fn min_const(self, c: f64) -> f64 {
        ops::min_with_partials(self, c).0
    }
    #[inline(always)]
    fn atan2_const(self, c: f64) -> f64 {
        f64::atan2(self, c)
    }
    #[inline(always)]
    fn hypot_const(self, c: f64) -> f64 {
        f64::hypot(self, c)
    }
    #[inline]
    fn logsumexp(xs: &[f64]) -> f64 {
        ops::logsumexp(xs.iter().copied()).0
    }
    #[inline(always)]
    #[track_caller]
    fn neuron(weights: &[f64], inputs: &[f64], bias: f64, activation: Activation) -> f64 {
        f64::neuron_const(weights, inputs, bias, activation)
    }
    #[inline(always)]
    #[track_caller]
    fn neuron_const(weights: &[f64], inputs: &[f64], bias: f64, activation: Activation) -> f64 {
        fused::check_weights("neuron", weights.len(), inputs.len());
        let z = fused::sum_then_bias(weights.iter().zip(inputs).map(|(w, x)| w * x), bias);
        activation.value_and_derivative(z).0
    }
    #[inline]
    #[track_caller]
    fn half_squared_error(outputs: &[f64], targets: &[f64]) -> f64 {
        fused::check_targets("half_squared_error", outputs.len(), targets.len());
        fused::half_squared_error_value(outputs.iter().copied(), targets)
    }
    #[inline]
    #[track_caller]
    fn mean_squared_error(outputs: &[f64], targets: &[f64]) -> f64 {
        fused::check_targets("mean_squared_error", outputs.len(), targets.len());
        fused::sum_of_squared_errors(outputs.iter().copied(), targets) / outputs.len() as f64
    }
}


impl<'t> Scalar for Var<'t> {
    #[inline(always)]
    fn value(self) -> f64 {
        self.value
    }
    $(
        #[inline(always)]
        #[track_caller]
        fn $method(self) -> Self {
            Var::$method(self)
        }
    )*
    #[inline(always)]
    #[track_caller]
    fn constant(self, c: f64) -> Self {
        Var::constant(self, c)
    }
    #[inline(always)]
    #[track_caller]
    fn leaky_relu(self, alpha: f64) -> Self {
        Var::leaky_relu(self, alpha)
    }
    #[inline(always)]
    #[track_caller]
    fn powi(self, n: i32) -> Self {
        Var::powi(self, n)
    }
    #[inline(always)]
    #[track_caller]
    fn powf(self, c: f64) -> Self {
        Var::powf(self, c)
    }
    #[inline(always)]
    #[track_caller]
    fn pow(self, exponent: Self) -> Self {
        Var::pow(self, exponent)
    }
    #[inline(always)]
    #[track_caller]
    fn log(self, base: f64) -> Self {
        Var::log(self, base)
    }
    #[inline(always)]
    #[track_caller]
    fn clamp(self, lo: f64, hi: f64) -> Self {
        Var::clamp(self, lo, hi)
    }
    #[inline(always)]
    #[track_caller]
    fn mul_add(self, a: Self, b: Self) -> Self {
        Var::mul_add(self, a, b)
    }
    #[inline(always)]
    #[track_caller]
    fn max_const(self, c: f64) -> Self {
        Var::max_const(self, c)
    }
    #[inline(always)]
    #[track_caller]
    fn min_const(self, c: f64) -> Self {
        Var::min_const(self, c)
    }
    #[inline(always)]
    #[track_caller]
    fn atan2_const(self, c: f64) -> Self {
        Var::atan2_const(self, c)
    }
    #[inline(always)]
    #[track_caller]
    fn hypot_const(self, c: f64) -> Self {
        Var::hypot_const(self, c)
    }
    #[inline]
    #[track_caller]
    fn logsumexp(xs: &[Self]) -> Self {
        Var::logsumexp(xs)
    }
    #[inline(always)]
    #[track_caller]
    fn neuron(weights: &[Self], inputs: &[Self], bias: Self, activation: Activation) -> Self {
        Var::neuron(weights, inputs, bias, activation)
    }
    #[inline(always)]
    #[track_caller]
    fn neuron_const(weights: &[Self], inputs: &[f64], bias: Self, activation: Activation) -> Self {
        Var::neuron_const(weights, inputs, bias, activation)
    }
    #[inline(always)]
    #[track_caller]
    fn layer(params: &[Self], inputs: &[Self], activation: Activation, outputs: &mut [Self]) {
        Var::layer(params, inputs, activation, outputs)
    }
    #[inline]
    #[track_caller]
    fn half_squared_error(outputs: &[Self], targets: &[f64]) -> Self {
        Var::half_squared_error(outputs, targets)
    }
    #[inline]
    #[track_caller]
    fn mean_squared_error(outputs: &[Self], targets: &[f64]) -> Self {
        Var::mean_squared_error(outputs, targets)
    }
}
    };
}

crate::ops::unary_ops!(define_scalar);
