//! [`Scalar`]: one generic function, computed on `f64` and recorded on [`Var`].

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

use crate::fused::{self, Activation};
use crate::ops;
use crate::var::Var;

/// The arithmetic shared by `f64` and [`Var`], so one generic function computes the
/// primal on `f64` and is recorded on a tape on `Var`: the very same source.
///
/// Every method computes the same value on both (bit for bit); on `Var` it also
/// records the node. Constants enter as `f64` right-hand operands (`x * 2.0`).
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
{
    /// The plain value.
    fn value(self) -> f64;
    /// See [`Var::sigmoid`].
    fn sigmoid(self) -> Self;
    /// See [`Var::tanh`].
    fn tanh(self) -> Self;
    /// See [`Var::relu`].
    fn relu(self) -> Self;
    /// See [`Var::leaky_relu`].
    fn leaky_relu(self, alpha: f64) -> Self;
    /// See [`Var::softplus`].
    fn softplus(self) -> Self;
    /// See [`Var::exp`].
    fn exp(self) -> Self;
    /// See [`Var::ln`].
    fn ln(self) -> Self;
    /// See [`Var::sqrt`].
    fn sqrt(self) -> Self;
    /// See [`Var::powi`].
    fn powi(self, n: i32) -> Self;
    /// See [`Var::powf`].
    fn powf(self, c: f64) -> Self;
    /// See [`Var::pow`].
    fn pow(self, exponent: Self) -> Self;
    /// See [`Var::abs`].
    fn abs(self) -> Self;
    /// See [`Var::sin`].
    fn sin(self) -> Self;
    /// See [`Var::cos`].
    fn cos(self) -> Self;
    /// See [`Var::recip`].
    fn recip(self) -> Self;
    /// See [`Var::square`].
    fn square(self) -> Self;
    /// See [`Var::max`].
    fn max(self, other: Self) -> Self;
    /// See [`Var::min`].
    fn min(self, other: Self) -> Self;
    /// See [`Var::weighted_sum`]: one node on a tape.
    #[inline(always)]
    fn weighted_sum(weights: &[Self], inputs: &[Self], bias: Self) -> Self {
        Self::neuron(weights, inputs, bias, Activation::Identity)
    }
    /// See [`Var::weighted_sum_const`]: one node on a tape.
    #[inline(always)]
    fn weighted_sum_const(weights: &[Self], inputs: &[f64], bias: Self) -> Self {
        Self::neuron_const(weights, inputs, bias, Activation::Identity)
    }
    /// See [`Var::neuron`]: one node on a tape.
    fn neuron(weights: &[Self], inputs: &[Self], bias: Self, activation: Activation) -> Self;
    /// See [`Var::neuron_const`]: one node on a tape.
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
    fn half_squared_error(outputs: &[Self], targets: &[f64]) -> Self;
    /// See [`Var::mean_squared_error`]: one node on a tape.
    fn mean_squared_error(outputs: &[Self], targets: &[f64]) -> Self;
}

impl Scalar for f64 {
    #[inline(always)]
    fn value(self) -> f64 {
        self
    }
    #[inline(always)]
    fn sigmoid(self) -> f64 {
        ops::sigmoid(self)
    }
    #[inline(always)]
    fn tanh(self) -> f64 {
        // The tape's own tanh, so primal and tape agree bit for bit everywhere
        // (on glibc both equal f64::tanh).
        crate::ops::tanh_with_derivative(self).0
    }
    #[inline(always)]
    fn relu(self) -> f64 {
        ops::relu(self)
    }
    #[inline(always)]
    fn leaky_relu(self, alpha: f64) -> f64 {
        ops::leaky_relu(self, alpha)
    }
    #[inline(always)]
    fn softplus(self) -> f64 {
        ops::softplus(self)
    }
    #[inline(always)]
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    #[inline(always)]
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    #[inline(always)]
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
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
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline(always)]
    fn sin(self) -> f64 {
        f64::sin(self)
    }
    #[inline(always)]
    fn cos(self) -> f64 {
        f64::cos(self)
    }
    #[inline(always)]
    fn recip(self) -> f64 {
        1.0 / self
    }
    #[inline(always)]
    fn square(self) -> f64 {
        self * self
    }
    #[inline(always)]
    fn max(self, other: f64) -> f64 {
        // As the tape's max: NaN if either is NaN (f64::max would hide it).
        ops::max_with_partials(self, other).0
    }
    #[inline(always)]
    fn min(self, other: f64) -> f64 {
        ops::min_with_partials(self, other).0
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
    #[inline(always)]
    fn sigmoid(self) -> Self {
        Var::sigmoid(self)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        Var::tanh(self)
    }
    #[inline(always)]
    fn relu(self) -> Self {
        Var::relu(self)
    }
    #[inline(always)]
    fn leaky_relu(self, alpha: f64) -> Self {
        Var::leaky_relu(self, alpha)
    }
    #[inline(always)]
    fn softplus(self) -> Self {
        Var::softplus(self)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        Var::exp(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        Var::ln(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        Var::sqrt(self)
    }
    #[inline(always)]
    fn powi(self, n: i32) -> Self {
        Var::powi(self, n)
    }
    #[inline(always)]
    fn powf(self, c: f64) -> Self {
        Var::powf(self, c)
    }
    #[inline(always)]
    fn pow(self, exponent: Self) -> Self {
        Var::pow(self, exponent)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        Var::abs(self)
    }
    #[inline(always)]
    fn sin(self) -> Self {
        Var::sin(self)
    }
    #[inline(always)]
    fn cos(self) -> Self {
        Var::cos(self)
    }
    #[inline(always)]
    fn recip(self) -> Self {
        Var::recip(self)
    }
    #[inline(always)]
    fn square(self) -> Self {
        Var::square(self)
    }
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        Var::max(self, other)
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        Var::min(self, other)
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
