//! [`Neuron`]: where one neuron's weights and bias sit in a network's parameters.

use std::ops::Range;

use super::Activation;
use crate::Scalar;

/// Where a parameter lives: among the trainable parameters (updated by an
/// optimizer) or among the frozen ones (bound to the tape, never updated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamRef {
    /// Index into [`Mlp::parameters`](crate::nn::Mlp::parameters).
    Trainable(usize),
    /// Index into [`Mlp::frozen_parameters`](crate::nn::Mlp::frozen_parameters).
    Frozen(usize),
}

/// A network's parameter values, trainable and frozen, as `f64` or as
/// [`Var`](crate::Var)s bound to a tape.
#[derive(Clone, Copy, Debug)]
pub struct Params<'a, T> {
    /// The trainable parameters, in the network's order.
    pub trainable: &'a [T],
    /// The frozen parameters, in the network's order.
    pub frozen: &'a [T],
}

impl<T: Copy> Params<'_, T> {
    /// The value of one parameter.
    ///
    /// ```
    /// use chainrule::nn::{ParamRef, Params};
    /// let p = Params { trainable: &[1.0, 2.0], frozen: &[9.0] };
    /// assert_eq!((p.get(ParamRef::Trainable(1)), p.get(ParamRef::Frozen(0))), (2.0, 9.0));
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn get(&self, at: ParamRef) -> T {
        match at {
            ParamRef::Trainable(i) => self.trainable[i],
            ParamRef::Frozen(i) => self.frozen[i],
        }
    }
}

/// One neuron: `z = ((w₀·a₀ + w₁·a₁) + …) + b`, the products summed left to right
/// and the bias added last, recorded as one node by
/// [`Var::weighted_sum`](crate::Var::weighted_sum).
///
/// A neuron does not own numbers: it says where its weights (a run of trainable
/// parameters, in input order) and its bias (trainable or frozen, possibly shared
/// with the other neurons of its layer) sit in its network's parameters. The
/// network keeps the values as plain `f64` between steps and binds them to a tape
/// for each step.
///
/// ```
/// use chainrule::nn::{Neuron, ParamRef, Params};
///
/// let neuron = Neuron::new(0..2, ParamRef::Trainable(2));
/// let values = [0.15, 0.20, 0.35];
/// let p = Params { trainable: &values[..], frozen: &[] };
/// let z = neuron.weighted_sum_const(p, &[0.05, 0.10]);
/// assert_eq!(z, 0.15 * 0.05 + 0.20 * 0.10 + 0.35);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neuron {
    weights: Range<usize>,
    bias: ParamRef,
}

impl Neuron {
    /// A neuron whose weights are the trainable parameters `weights` and whose
    /// bias is `bias`.
    ///
    /// ```
    /// use chainrule::nn::{Neuron, ParamRef};
    /// let n = Neuron::new(3..5, ParamRef::Frozen(0));
    /// assert_eq!(n.inputs(), 2);
    /// ```
    #[must_use]
    pub fn new(weights: Range<usize>, bias: ParamRef) -> Self {
        Neuron { weights, bias }
    }

    /// The indices of its weights among the trainable parameters.
    ///
    /// ```
    /// let n = chainrule::nn::Neuron::new(3..5, chainrule::nn::ParamRef::Trainable(5));
    /// assert_eq!(n.weights(), 3..5);
    /// ```
    #[must_use]
    pub fn weights(&self) -> Range<usize> {
        self.weights.clone()
    }

    /// Where its bias sits.
    ///
    /// ```
    /// use chainrule::nn::{Neuron, ParamRef};
    /// assert_eq!(Neuron::new(0..2, ParamRef::Frozen(0)).bias(), ParamRef::Frozen(0));
    /// ```
    #[must_use]
    pub fn bias(&self) -> ParamRef {
        self.bias
    }

    /// How many inputs it takes.
    ///
    /// ```
    /// use chainrule::nn::{Neuron, ParamRef};
    /// assert_eq!(Neuron::new(0..16, ParamRef::Trainable(16)).inputs(), 16);
    /// ```
    #[must_use]
    pub fn inputs(&self) -> usize {
        self.weights.len()
    }

    /// The weighted sum over inputs that are themselves values of the
    /// computation (`Var`s on a tape): one node with an edge to every weight,
    /// input and the bias.
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`inputs`](Neuron::inputs).
    ///
    /// ```
    /// use chainrule::nn::{Neuron, ParamRef, Params};
    /// let n = Neuron::new(0..2, ParamRef::Trainable(2));
    /// let p = Params { trainable: &[1.0, 2.0, 0.5][..], frozen: &[] };
    /// assert_eq!(n.weighted_sum(p, &[3.0, 4.0]), 11.5);
    /// ```
    #[inline]
    #[track_caller]
    #[must_use]
    pub fn weighted_sum<T: Scalar>(&self, params: Params<'_, T>, inputs: &[T]) -> T {
        T::weighted_sum(
            &params.trainable[self.weights.clone()],
            inputs,
            params.get(self.bias),
        )
    }

    /// The neuron's output `activation(Σ wᵢ·xᵢ + b)` as **one** node
    /// ([`Var::neuron`](crate::Var::neuron)): the weighted sum and the activation
    /// fused, with the same value as [`weighted_sum`](Neuron::weighted_sum) followed
    /// by [`Activation::apply`].
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`inputs`](Neuron::inputs).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Neuron, ParamRef, Params};
    /// let n = Neuron::new(0..2, ParamRef::Trainable(2));
    /// let p = Params { trainable: &[1.0, 2.0, -11.0][..], frozen: &[] };
    /// assert_eq!(n.output(p, &[3.0, 4.0], Activation::Relu), 0.0);
    /// ```
    #[inline]
    #[track_caller]
    #[must_use]
    pub fn output<T: Scalar>(
        &self,
        params: Params<'_, T>,
        inputs: &[T],
        activation: Activation,
    ) -> T {
        T::neuron(
            &params.trainable[self.weights.clone()],
            inputs,
            params.get(self.bias),
            activation,
        )
    }

    /// The neuron's output over constant inputs, as **one** node
    /// ([`Var::neuron_const`](crate::Var::neuron_const)).
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`inputs`](Neuron::inputs).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Neuron, ParamRef, Params};
    /// let n = Neuron::new(0..2, ParamRef::Trainable(2));
    /// let p = Params { trainable: &[1.0, 2.0, 0.5][..], frozen: &[] };
    /// assert_eq!(n.output_const(p, &[3.0, 4.0], Activation::Identity), 11.5);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn output_const<T: Scalar>(
        &self,
        params: Params<'_, T>,
        inputs: &[f64],
        activation: Activation,
    ) -> T {
        T::neuron_const(
            &params.trainable[self.weights.clone()],
            inputs,
            params.get(self.bias),
            activation,
        )
    }

    /// The weighted sum over constant inputs (a network's input layer): one node
    /// with an edge to every weight and the bias, no leaves for the inputs.
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`inputs`](Neuron::inputs).
    ///
    /// ```
    /// use chainrule::nn::{Neuron, ParamRef, Params};
    /// use chainrule::Tape;
    ///
    /// let tape = Tape::new();
    /// let w = tape.vars(&[1.0, 2.0, 0.5]);
    /// let n = Neuron::new(0..2, ParamRef::Trainable(2));
    /// let z = n.weighted_sum_const(Params { trainable: &w, frozen: &[] }, &[3.0, 4.0]);
    /// assert_eq!(z.backward()[w[1]], 4.0);
    /// ```
    #[inline]
    #[must_use]
    #[track_caller]
    pub fn weighted_sum_const<T: Scalar>(&self, params: Params<'_, T>, inputs: &[f64]) -> T {
        T::weighted_sum_const(
            &params.trainable[self.weights.clone()],
            inputs,
            params.get(self.bias),
        )
    }
}
