//! [`Activation`]: the function a layer applies to each neuron's weighted sum.

use crate::Scalar;

/// The function a layer applies to each neuron's weighted sum `z`.
///
/// Each is one node on a tape (`Identity` records nothing), with the derivative
/// of the op it calls: σ' = σ(1 − σ), tanh' = 1 − tanh², relu'(z) = 1 for z > 0
/// else 0 (0 at z = 0, as PyTorch), identity' = 1.
///
/// ```
/// use chainrule::nn::Activation;
///
/// assert_eq!(Activation::Relu.apply(-2.0_f64), 0.0);
/// assert_eq!(Activation::Sigmoid.apply(0.0_f64), 0.5);
/// assert_eq!(Activation::Identity.apply(3.0_f64), 3.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// The logistic sigmoid 1 / (1 + e^−z).
    Sigmoid,
    /// The hyperbolic tangent.
    Tanh,
    /// The rectifier max(z, 0).
    Relu,
    /// z itself: a linear layer (records no node).
    Identity,
}

impl Activation {
    /// Applies the activation, on `f64` or recorded on a [`Var`](crate::Var).
    ///
    /// ```
    /// use chainrule::{nn::Activation, Tape};
    ///
    /// let tape = Tape::new();
    /// let z = tape.var(0.0);
    /// let out = Activation::Tanh.apply(z);
    /// assert_eq!(out.backward()[z], 1.0);
    /// ```
    #[inline]
    pub fn apply<T: Scalar>(self, z: T) -> T {
        match self {
            Activation::Sigmoid => z.sigmoid(),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.relu(),
            Activation::Identity => z,
        }
    }

    /// The engine's [`Activation`](crate::Activation) for a whole neuron recorded as
    /// one node ([`Var::neuron`](crate::Var::neuron)).
    ///
    /// ```
    /// use chainrule::nn::Activation;
    /// assert_eq!(Activation::Tanh.fused(), chainrule::Activation::Tanh);
    /// ```
    #[must_use]
    pub fn fused(self) -> crate::Activation {
        match self {
            Activation::Sigmoid => crate::Activation::Sigmoid,
            Activation::Tanh => crate::Activation::Tanh,
            Activation::Relu => crate::Activation::Relu,
            Activation::Identity => crate::Activation::Identity,
        }
    }

    /// The activation's lower-case name, as saved in parameter files.
    ///
    /// ```
    /// assert_eq!(chainrule::nn::Activation::Tanh.name(), "tanh");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::Identity => "identity",
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
