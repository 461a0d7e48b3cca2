//! [`Layer`] and its description [`LayerSpec`]: neurons side by side, one activation.

use std::ops::Range;

use crate::nn::{Activation, Neuron, ParamRef, Params};
use crate::Scalar;

/// How a layer to be built is described: its width, activation and bias.
///
/// By default every neuron has its own trainable bias. The 2-2-2 sigmoid network of
/// the classic step-by-step backpropagation example has instead one bias per layer,
/// shared by the layer's neurons and never updated:
///
/// ```
/// use chainrule::nn::{Activation, LayerSpec};
///
/// let seed_layer = LayerSpec::new(2, Activation::Sigmoid).shared_bias().frozen_bias();
/// assert!(seed_layer.is_bias_shared() && seed_layer.is_bias_frozen());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSpec {
    neurons: usize,
    activation: Activation,
    shared_bias: bool,
    frozen_bias: bool,
}

impl LayerSpec {
    /// A layer of `neurons` neurons applying `activation`, each neuron with its own
    /// trainable bias.
    ///
    /// ```
    /// use chainrule::nn::{Activation, LayerSpec};
    /// assert_eq!(LayerSpec::new(16, Activation::Tanh).neurons(), 16);
    /// ```
    #[must_use]
    pub fn new(neurons: usize, activation: Activation) -> Self {
        LayerSpec {
            neurons,
            activation,
            shared_bias: false,
            frozen_bias: false,
        }
    }

    /// One bias shared by every neuron of the layer.
    ///
    /// ```
    /// use chainrule::nn::{Activation, LayerSpec};
    /// assert!(LayerSpec::new(2, Activation::Sigmoid).shared_bias().is_bias_shared());
    /// ```
    #[must_use]
    pub fn shared_bias(mut self) -> Self {
        self.shared_bias = true;
        self
    }

    /// The layer's biases are frozen: bound to the tape, never updated. They start
    /// at 0; set them with [`Mlp::frozen_parameters_mut`](crate::nn::Mlp::frozen_parameters_mut).
    ///
    /// ```
    /// use chainrule::nn::{Activation, LayerSpec};
    /// assert!(LayerSpec::new(2, Activation::Sigmoid).frozen_bias().is_bias_frozen());
    /// ```
    #[must_use]
    pub fn frozen_bias(mut self) -> Self {
        self.frozen_bias = true;
        self
    }

    /// The number of neurons.
    ///
    /// ```
    /// use chainrule::nn::{Activation, LayerSpec};
    /// assert_eq!(LayerSpec::new(3, Activation::Relu).neurons(), 3);
    /// ```
    #[must_use]
    pub fn neurons(&self) -> usize {
        self.neurons
    }

    /// The activation.
    ///
    /// ```
    /// use chainrule::nn::{Activation, LayerSpec};
    /// assert_eq!(LayerSpec::new(3, Activation::Relu).activation(), Activation::Relu);
    /// ```
    #[must_use]
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Whether one bias is shared by the whole layer.
    ///
    /// ```
    /// use chainrule::nn::{Activation, LayerSpec};
    /// assert!(!LayerSpec::new(3, Activation::Relu).is_bias_shared());
    /// ```
    #[must_use]
    pub fn is_bias_shared(&self) -> bool {
        self.shared_bias
    }

    /// Whether the layer's biases are frozen.
    ///
    /// ```
    /// use chainrule::nn::{Activation, LayerSpec};
    /// assert!(!LayerSpec::new(3, Activation::Relu).is_bias_frozen());
    /// ```
    #[must_use]
    pub fn is_bias_frozen(&self) -> bool {
        self.frozen_bias
    }
}

/// A layer: neurons side by side over the same inputs, one activation.
///
/// Built by [`Mlp::builder`](crate::nn::Mlp::builder); it knows where its neurons'
/// parameters sit in the network's parameter vectors.
///
/// ```
/// use chainrule::nn::{Activation, Mlp};
///
/// let mlp = Mlp::builder(2).layer(3, Activation::Tanh).layer(1, Activation::Identity).build()?;
/// let hidden = &mlp.layers()[0];
/// assert_eq!((hidden.inputs(), hidden.outputs()), (2, 3));
/// assert_eq!(hidden.neurons()[1].weights(), 3..5); // after neuron 0's two weights and bias
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    spec: LayerSpec,
    inputs: usize,
    neurons: Vec<Neuron>,
    /// Where the trainable parameters lie when every neuron has its own trainable
    /// bias and they sit neuron after neuron as `[w…, b]`: then the layer is one
    /// [`Scalar::layer`] call.
    dense: Option<Range<usize>>,
}

impl Layer {
    pub(crate) fn new(spec: LayerSpec, inputs: usize, neurons: Vec<Neuron>) -> Self {
        let dense = dense_params(inputs, &neurons);
        Layer {
            spec,
            inputs,
            neurons,
            dense,
        }
    }

    /// How the layer was described.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(1, Activation::Sigmoid).build()?;
    /// assert_eq!(mlp.layers()[0].spec().activation(), Activation::Sigmoid);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn spec(&self) -> LayerSpec {
        self.spec
    }

    /// The number of inputs of each neuron.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(4).layer(1, Activation::Sigmoid).build()?;
    /// assert_eq!(mlp.layers()[0].inputs(), 4);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The number of neurons (outputs).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(4).layer(5, Activation::Sigmoid).build()?;
    /// assert_eq!(mlp.layers()[0].outputs(), 5);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn outputs(&self) -> usize {
        self.neurons.len()
    }

    /// The neurons, in order.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp, ParamRef};
    /// let mlp = Mlp::builder(2).layer(2, Activation::Tanh).build()?;
    /// assert_eq!(mlp.layers()[0].neurons()[0].bias(), ParamRef::Trainable(2));
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn neurons(&self) -> &[Neuron] {
        &self.neurons
    }

    /// The activation.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(2, Activation::Relu).build()?;
    /// assert_eq!(mlp.layers()[0].activation(), Activation::Relu);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn activation(&self) -> Activation {
        self.spec.activation
    }

    /// The layer's outputs for inputs that are values of the computation:
    /// `activation(weighted sum)` per neuron, appended to `out`.
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`inputs`](Layer::inputs).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(1, Activation::Relu).build()?;
    /// let mut out = Vec::new();
    /// mlp.layers()[0].forward(mlp.params(), &[0.0, 0.0], &mut out);
    /// assert_eq!(out, vec![0.0]); // biases start at 0
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[track_caller]
    pub fn forward<T: Scalar>(&self, params: Params<'_, T>, inputs: &[T], out: &mut Vec<T>) {
        self.check_width(inputs.len());
        let activation = self.spec.activation;
        if let (Some(range), Some(&filler)) = (&self.dense, params.trainable.first()) {
            let start = out.len();
            out.resize(start + self.neurons.len(), filler);
            let params = &params.trainable[range.clone()];
            T::layer(params, inputs, activation, &mut out[start..]);
            return;
        }
        // A loop, not a closure, so that a full tape panics at the caller's line.
        for n in &self.neurons {
            out.push(n.output(params, inputs, activation));
        }
    }

    /// The layer's outputs for constant inputs (a network's first layer), appended
    /// to `out`.
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`inputs`](Layer::inputs).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(1, Activation::Sigmoid).build()?;
    /// let mut out: Vec<f64> = Vec::new();
    /// mlp.layers()[0].forward_const(mlp.params(), &[0.0, 0.0], &mut out);
    /// assert_eq!(out, vec![0.5]);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[track_caller]
    pub fn forward_const<T: Scalar>(
        &self,
        params: Params<'_, T>,
        inputs: &[f64],
        out: &mut Vec<T>,
    ) {
        self.check_width(inputs.len());
        let activation = self.spec.activation;
        for n in &self.neurons {
            out.push(n.output_const(params, inputs, activation));
        }
    }

    #[track_caller]
    fn check_width(&self, found: usize) {
        assert!(
            found == self.inputs,
            "chainrule: a layer of {} {} was given {found} {}",
            self.inputs,
            crate::plural(self.inputs, "input", "inputs"),
            crate::plural(found, "value", "values"),
        );
    }
}

/// The range of trainable parameters holding `neurons` neuron after neuron as
/// `[w…, b]`, each with its own trainable bias, if they lie so.
fn dense_params(inputs: usize, neurons: &[Neuron]) -> Option<Range<usize>> {
    let start = neurons.first()?.weights().start;
    let mut next = start;
    for neuron in neurons {
        let weights = neuron.weights();
        if weights != (next..next + inputs) || neuron.bias() != ParamRef::Trainable(weights.end) {
            return None;
        }
        next = weights.end + 1;
    }
    Some(start..next)
}
