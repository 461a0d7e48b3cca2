//! The calculus: every op's value and local partial derivatives, in one place.
//!
//! Each op computes its value and ∂value/∂operand side by side and records them as
//! one node, so `y = x.tanh()` and `∂y/∂x = 1 − tanh² x` are read together, as on
//! paper. Where a function has a kink or a domain edge, the value used there
//! follows PyTorch and is stated in the method's documentation.
//!
//! - **Unary ops** are written once, in one table (`src/ops/table.rs`): each
//!   entry's value on `f64` and its derivative as a [`Scalar`](crate::Scalar)
//!   expression. The [`Op`] variant, the `Var` method, the `Scalar` method and
//!   its `f64` implementation, and the list [`UNARY`] that tests iterate are all
//!   generated from it.
//! - **Ops with two operands** (`+ − · /`, [`pow`](Var::pow),
//!   [`max`](Var::max), [`min`](Var::min), [`atan2`](Var::atan2),
//!   [`hypot`](Var::hypot), [`mul_add`](Var::mul_add)) and **ops with a constant**
//!   ([`powi`](Var::powi), [`powf`](Var::powf), [`log`](Var::log),
//!   [`clamp`](Var::clamp), [`leaky_relu`](Var::leaky_relu), `x + 2.0`, …) are
//!   written out below, in the same form.
//! - **n-ary ops**: [`logsumexp`](Var::logsumexp) here; the neuron's weighted
//!   sum, whole neurons and the losses in [`crate::fused`].
//!
//! An operation with an `f64` constant records a single node with one edge: the
//! constant folds into the partial and never becomes a leaf. Where `f64` has a
//! method of the same name, the `Var` method has the same name and argument order,
//! so generic [`Scalar`](crate::Scalar) code reads like `f64` code.
//!
//! Every op, with its derivative:
//!
//! | op | value | derivative |
//! |---|---|---|
//! | `a + b`, `a − b` | | 1, ±1 |
//! | `a · b`, `a / b` | | b and a; 1/b and −a/b² |
//! | [`pow`](Var::pow) | a^b | b·a^(b−1) and a^b·ln a |
//! | [`powi`](Var::powi), [`powf`](Var::powf) | x^n, x^c | n·x^(n−1), c·x^(c−1) |
//! | [`log`](Var::log) | log_b x | 1/(x·ln b) |
//! | [`max`](Var::max), [`min`](Var::min) | | 1 to the selected operand, ½ each on a tie |
//! | [`clamp`](Var::clamp) | | 1 inside, ½ on a bound, 0 outside; 0 where lo = hi |
//! | [`leaky_relu`](Var::leaky_relu) | | 1 for x > 0, else α |
//! | [`atan2`](Var::atan2) | atan2(y, x) | x/(x² + y²) and −y/(x² + y²) |
//! | [`hypot`](Var::hypot) | √(x² + y²) | x/h and y/h |
//! | [`mul_add`](Var::mul_add) | a·b + c | b, a, 1 |
//! | [`logsumexp`](Var::logsumexp) | ln Σ e^xᵢ | softmax: e^xᵢ / Σ e^xⱼ |
//!
//! and every unary op of the table: [`UNARY`] lists each with its formula and
//! derivative (the README's table of ops is checked against it by a test), and
//! each `Var` method's documentation gives its domain edges and kinks.

mod binary;
mod constant;
pub(crate) mod kernels;
mod nary;
mod table;
mod unary;

pub(crate) use constant::check_clamp;
pub use constant::Operand;
// The replay (crate::replay) recomputes partials with the very functions the ops
// record with.
pub(crate) use binary::{
    atan2_at_edge, atan2_partials_scaled, atan2_with_partials, div_with_partials, hypot_scale,
    hypot_with_partials, pow_with_partials,
};
pub(crate) use constant::clamp_with_partial;
pub(crate) use kernels::*;
pub(crate) use table::unary_ops;
#[allow(unused_imports)]
pub(crate) use unary::{rules, unary_partial};
pub use unary::{Unary, UNARY};

use crate::op::Op;
use crate::var::Var;

impl<'t> Var<'t> {
    /// Records a node with one operand.
    #[inline(always)]
    #[track_caller]
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
}

#[cfg(test)]
mod tests;
