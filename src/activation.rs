//! [`Activation`]: the function a neuron applies to its weighted sum.

use crate::ops::{relu, relu_derivative, sigmoid_with_derivative, tanh_with_derivative};
use crate::Scalar;

/// The function a neuron applies to its weighted sum `z`: the activation of a
/// fused neuron ([`Var::neuron`](crate::Var::neuron), [`Scalar::neuron`],
/// [`Scalar::layer`]) and of a layer of a network (`nn::Mlp`, where it is
/// re-exported as `nn::Activation`).
///
/// | variant | a(z) | a′(z) |
/// |---|---|---|
/// | `Identity` | z | 1 |
/// | `Sigmoid` | σ(z) = 1 / (1 + e^−z) | σ(z)·(1 − σ(z)) |
/// | `Tanh` | tanh z | 1 − tanh² z |
/// | `Relu` | max(z, 0) | 1 for z > 0, else 0 (0 at z = 0, as PyTorch) |
///
/// [`apply`](Activation::apply) computes a(z) on any [`Scalar`]: on `f64`, or
/// recorded on a [`Var`](crate::Var) as the node of the op it names (`Identity`
/// records nothing). [`value_and_derivative`](Activation::value_and_derivative)
/// gives a(z) and a′(z) at once on `f64`, which is what a fused neuron records.
///
/// ```
/// use chainrule::Activation;
///
/// assert_eq!(Activation::Relu.apply(-2.0_f64), 0.0);
/// assert_eq!(Activation::Sigmoid.apply(0.0_f64), 0.5);
/// assert_eq!(Activation::Identity.apply(3.0_f64), 3.0);
/// assert_eq!(Activation::Sigmoid.value_and_derivative(0.0), (0.5, 0.25));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Activation {
    /// a = z: a linear neuron. Derivative 1; [`apply`](Activation::apply)
    /// records no node.
    Identity,
    /// a = σ(z) = 1 / (1 + e^−z), the logistic sigmoid. Derivative σ(z)·(1 − σ(z)).
    Sigmoid,
    /// a = tanh z. Derivative 1 − tanh² z.
    Tanh,
    /// a = max(z, 0), the rectifier. Derivative 1 for z > 0, else 0 (0 at z = 0,
    /// as PyTorch).
    Relu,
}

impl Activation {
    /// Applies the activation to `z`, on `f64` or recorded on a
    /// [`Var`](crate::Var) (one node of the op it names: [`Scalar::sigmoid`],
    /// [`Scalar::tanh`], [`Scalar::relu`]; `Identity` returns `z` itself).
    ///
    /// ```
    /// use chainrule::{Activation, Tape};
    ///
    /// let tape = Tape::new();
    /// let z = tape.var(0.0);
    /// let out = Activation::Tanh.apply(z);
    /// assert_eq!(out.value(), 0.0);
    /// assert_eq!(out.backward()[z], 1.0); // tanh′(0) = 1
    /// ```
    #[inline]
    pub fn apply<T: Scalar>(self, z: T) -> T {
        match self {
            Activation::Identity => z,
            Activation::Sigmoid => z.sigmoid(),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.relu(),
        }
    }

    /// The activation's value at `z` and its derivative there, `(a(z), a′(z))`:
    /// what a neuron recorded as one node computes.
    ///
    /// ```
    /// use chainrule::Activation;
    ///
    /// assert_eq!(Activation::Sigmoid.value_and_derivative(0.0), (0.5, 0.25));
    /// assert_eq!(Activation::Relu.value_and_derivative(0.0), (0.0, 0.0));
    /// assert_eq!(Activation::Identity.value_and_derivative(-3.0), (-3.0, 1.0));
    /// ```
    #[inline(always)]
    pub fn value_and_derivative(self, z: f64) -> (f64, f64) {
        match self {
            Activation::Identity => (z, 1.0),
            Activation::Sigmoid => sigmoid_with_derivative(z),
            Activation::Tanh => tanh_with_derivative(z),
            Activation::Relu => (relu(z), relu_derivative(z)),
        }
    }

    /// The activation's lower-case name, as saved in parameter files and shown
    /// by `Display`.
    ///
    /// ```
    /// use chainrule::Activation;
    ///
    /// assert_eq!(Activation::Tanh.name(), "tanh");
    /// assert_eq!(Activation::Identity.to_string(), "identity");
    /// ```
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Activation;
    use crate::Tape;

    const ALL: [Activation; 4] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
    ];

    /// `apply` on f64, `apply` recorded on a Var and `value_and_derivative` agree,
    /// bit for bit, on the value and on the derivative.
    #[test]
    fn the_generic_and_the_fused_forms_agree() {
        for activation in ALL {
            for z in [-3.5, -1.0, -1e-300, 0.0, 0.25, 1.0, 20.0] {
                let (value, derivative) = activation.value_and_derivative(z);
                assert_eq!(
                    activation.apply(z).to_bits(),
                    value.to_bits(),
                    "{activation} at {z}"
                );
                let tape = Tape::new();
                let zv = tape.var(z);
                let out = activation.apply(zv);
                assert_eq!(
                    out.value().to_bits(),
                    value.to_bits(),
                    "{activation} at {z}"
                );
                let recorded = out.backward()[zv];
                assert_eq!(
                    recorded.to_bits(),
                    derivative.to_bits(),
                    "{activation}′ at {z}"
                );
            }
        }
    }
}
