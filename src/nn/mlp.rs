//! [`Mlp`]: a multi-layer perceptron whose parameters are plain `f64` between
//! steps, and [`BoundMlp`]: the same network bound to a tape for one step.

use crate::nn::init::{generator, weight};
use crate::nn::{Activation, Error, Init, Layer, LayerSpec, Neuron, ParamRef, Params};
use crate::{Gradients, Tape, Var};

/// A multi-layer perceptron.
///
/// Its parameters live as plain `f64` in two vectors: the **trainable** ones
/// (what optimizers update and gradients are reported for) and the **frozen**
/// ones (bound to the tape like the others, never updated). For each step, bind
/// them to a tape with [`bind`](Mlp::bind), run [`BoundMlp::forward`], sweep back,
/// read [`BoundMlp::gradient`], and update [`parameters_mut`](Mlp::parameters_mut).
///
/// The trainable parameters are ordered layer by layer, neuron by neuron: each
/// neuron's weights in input order, then its bias (the order of W2 in
/// WORKLOADS.md). A layer with a shared trainable bias stores all its neurons'
/// weights, then the one bias; a frozen bias goes to the frozen vector.
///
/// ```
/// use chainrule::nn::{Activation, Init, Mlp};
/// use chainrule::Tape;
///
/// let mut mlp = Mlp::builder(2)
///     .layer(4, Activation::Tanh)
///     .layer(1, Activation::Identity)
///     .init(Init::Xavier)
///     .seed(1)
///     .build()?;
/// let mut tape = Tape::new();
/// let (x, target) = ([0.5, -0.5], 1.0);
/// for _ in 0..50 {
///     tape.clear();
///     let grad = {
///         let net = mlp.bind(&tape);
///         let score = net.forward(&x)[0];
///         let loss = (score - target).square();
///         net.gradient(&loss.backward())
///     };
///     for (p, g) in mlp.parameters_mut().iter_mut().zip(&grad) {
///         *p -= 0.1 * g;
///     }
/// }
/// assert!((mlp.predict(&x)[0] - target).abs() < 1e-3);
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    inputs: usize,
    layers: Vec<Layer>,
    parameters: Vec<f64>,
    frozen: Vec<f64>,
}

/// Describes an [`Mlp`] layer by layer; made by [`Mlp::builder`].
///
/// ```
/// use chainrule::nn::{Activation, Init, LayerSpec, Mlp};
///
/// // W2 of WORKLOADS.md: 2-16-16-1, tanh, tanh, linear, uniform(-1, 1) from seed 42.
/// let mlp = Mlp::builder(2)
///     .layer(16, Activation::Tanh)
///     .layer(16, Activation::Tanh)
///     .layer_spec(LayerSpec::new(1, Activation::Identity))
///     .init(Init::Uniform)
///     .seed(42)
///     .build()?;
/// assert_eq!(mlp.parameters(), &chainrule::workloads::moons::initial_parameters()[..]);
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct MlpBuilder {
    inputs: usize,
    layers: Vec<LayerSpec>,
    init: Init,
    seed: u64,
}

impl MlpBuilder {
    /// Adds a layer of `neurons` neurons applying `activation`, each with its own
    /// trainable bias.
    pub fn layer(self, neurons: usize, activation: Activation) -> Self {
        self.layer_spec(LayerSpec::new(neurons, activation))
    }

    /// Adds a layer as described (shared or frozen biases).
    pub fn layer_spec(mut self, spec: LayerSpec) -> Self {
        self.layers.push(spec);
        self
    }

    /// The weight initialisation ([`Init::Uniform`] by default).
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// The seed of the initialisation's generator (0 by default).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Builds the network and draws its weights (see [`Init`]).
    ///
    /// # Errors
    /// [`Error::InvalidArchitecture`] if it has no input, no layer, or a layer of
    /// no neurons.
    pub fn build(self) -> Result<Mlp, Error> {
        if self.inputs == 0 {
            return Err(Error::InvalidArchitecture(
                "a network needs at least one input".into(),
            ));
        }
        if self.layers.is_empty() {
            return Err(Error::InvalidArchitecture(
                "a network needs at least one layer".into(),
            ));
        }
        if let Some(i) = self.layers.iter().position(|s| s.neurons() == 0) {
            return Err(Error::InvalidArchitecture(format!(
                "layer {i} has no neurons"
            )));
        }
        let mut rng = generator(self.seed);
        let mut parameters = Vec::new();
        let mut frozen = Vec::new();
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut fan_in = self.inputs;
        for spec in self.layers {
            let fan_out = spec.neurons();
            let bound = self.init.bound(fan_in, fan_out);
            let new_bias = |parameters: &mut Vec<f64>, frozen: &mut Vec<f64>| {
                if spec.is_bias_frozen() {
                    frozen.push(0.0);
                    ParamRef::Frozen(frozen.len() - 1)
                } else {
                    parameters.push(0.0);
                    ParamRef::Trainable(parameters.len() - 1)
                }
            };
            let mut weight_runs = Vec::with_capacity(fan_out);
            let mut biases = Vec::with_capacity(fan_out);
            for _ in 0..fan_out {
                let start = parameters.len();
                parameters.extend((0..fan_in).map(|_| weight(&mut rng, bound)));
                weight_runs.push(start..parameters.len());
                if !spec.is_bias_shared() {
                    biases.push(new_bias(&mut parameters, &mut frozen));
                }
            }
            if spec.is_bias_shared() {
                let shared = new_bias(&mut parameters, &mut frozen);
                biases.resize(fan_out, shared);
            }
            let neurons = weight_runs
                .into_iter()
                .zip(biases)
                .map(|(w, b)| Neuron::new(w, b))
                .collect();
            layers.push(Layer::new(spec, fan_in, neurons));
            fan_in = fan_out;
        }
        Ok(Mlp {
            inputs: self.inputs,
            layers,
            parameters,
            frozen,
        })
    }
}

impl Mlp {
    /// Starts describing a network of `inputs` inputs.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(3).layer(2, Activation::Relu).build()?;
    /// assert_eq!((mlp.inputs(), mlp.outputs()), (3, 2));
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn builder(inputs: usize) -> MlpBuilder {
        MlpBuilder {
            inputs,
            layers: Vec::new(),
            init: Init::Uniform,
            seed: 0,
        }
    }

    /// A network of layer sizes `sizes` (inputs first) with one activation per
    /// layer, every neuron with its own trainable bias.
    ///
    /// # Errors
    /// [`Error::InvalidArchitecture`] if `activations.len() != sizes.len() - 1`, or
    /// as [`MlpBuilder::build`].
    ///
    /// ```
    /// use chainrule::nn::{Activation::*, Init, Mlp};
    /// let mlp = Mlp::new(&[2, 16, 16, 1], &[Tanh, Tanh, Identity], Init::Uniform, 42)?;
    /// assert_eq!(mlp.parameter_count(), chainrule::workloads::moons::PARAMETERS);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn new(
        sizes: &[usize],
        activations: &[Activation],
        init: Init,
        seed: u64,
    ) -> Result<Mlp, Error> {
        if sizes.len() != activations.len() + 1 {
            return Err(Error::InvalidArchitecture(format!(
                "{} layer sizes (inputs first) need {} activations, not {}",
                sizes.len(),
                sizes.len().saturating_sub(1),
                activations.len()
            )));
        }
        let mut builder = Mlp::builder(sizes[0]).init(init).seed(seed);
        for (&n, &a) in sizes[1..].iter().zip(activations) {
            builder = builder.layer(n, a);
        }
        builder.build()
    }

    /// The number of inputs.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The number of outputs (the last layer's width).
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, Layer::outputs)
    }

    /// The layers, input side first.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The number of trainable parameters.
    pub fn parameter_count(&self) -> usize {
        self.parameters.len()
    }

    /// The trainable parameters (see [`Mlp`] for their order).
    pub fn parameters(&self) -> &[f64] {
        &self.parameters
    }

    /// The trainable parameters, to update in place.
    pub fn parameters_mut(&mut self) -> &mut [f64] {
        &mut self.parameters
    }

    /// Sets every trainable parameter.
    ///
    /// # Errors
    /// [`Error::ParameterCount`] if `values.len()` differs from
    /// [`parameter_count`](Mlp::parameter_count); nothing is changed then.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Error, Mlp};
    /// let mut mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
    /// mlp.set_parameters(&[2.0, 1.0])?; // weight, bias
    /// assert_eq!(mlp.predict(&[3.0]), vec![7.0]);
    /// assert!(matches!(mlp.set_parameters(&[1.0]), Err(Error::ParameterCount { expected: 2, found: 1 })));
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn set_parameters(&mut self, values: &[f64]) -> Result<(), Error> {
        if values.len() != self.parameters.len() {
            return Err(Error::ParameterCount {
                expected: self.parameters.len(),
                found: values.len(),
            });
        }
        self.parameters.copy_from_slice(values);
        Ok(())
    }

    /// The frozen parameters (frozen biases, layer by layer).
    pub fn frozen_parameters(&self) -> &[f64] {
        &self.frozen
    }

    /// The frozen parameters, to set in place.
    pub fn frozen_parameters_mut(&mut self) -> &mut [f64] {
        &mut self.frozen
    }

    /// The parameter values as `f64`, for the generic forward pass of [`Layer`].
    pub fn params(&self) -> Params<'_, f64> {
        Params {
            trainable: &self.parameters,
            frozen: &self.frozen,
        }
    }

    /// The network's outputs on `f64`: no tape, no derivatives.
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`inputs`](Mlp::inputs).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(3, Activation::Sigmoid).build()?;
    /// assert_eq!(mlp.predict(&[0.0, 0.0]), vec![0.5; 3]);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn predict(&self, inputs: &[f64]) -> Vec<f64> {
        forward(&self.layers, self.params(), inputs)
    }

    /// Binds every parameter to `tape` as a leaf (trainable first, then frozen),
    /// for one step.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(1, Activation::Sigmoid).build()?;
    /// let tape = chainrule::Tape::new();
    /// let net = mlp.bind(&tape);
    /// assert_eq!(net.parameters().len(), 3);
    /// assert_eq!(tape.len(), 3);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn bind<'m, 't>(&'m self, tape: &'t Tape) -> BoundMlp<'m, 't> {
        BoundMlp {
            mlp: self,
            trainable: tape.vars(&self.parameters),
            frozen: tape.vars(&self.frozen),
        }
    }
}

/// The forward pass through `layers` for constant inputs, on `f64` or `Var`.
fn forward<T: crate::Scalar>(layers: &[Layer], params: Params<'_, T>, inputs: &[f64]) -> Vec<T> {
    let (first, rest) = layers.split_first().expect("an Mlp has a layer");
    let mut current = Vec::with_capacity(first.outputs());
    first.forward_const(params, inputs, &mut current);
    let mut next = Vec::new();
    for layer in rest {
        next.clear();
        layer.forward(params, &current, &mut next);
        std::mem::swap(&mut current, &mut next);
    }
    current
}

/// An [`Mlp`] bound to a tape for one step: its parameters as leaves.
///
/// Made by [`Mlp::bind`]. It borrows both the network (so the parameters cannot
/// change during the step) and the tape.
#[derive(Debug)]
pub struct BoundMlp<'m, 't> {
    mlp: &'m Mlp,
    trainable: Vec<Var<'t>>,
    frozen: Vec<Var<'t>>,
}

impl<'m, 't> BoundMlp<'m, 't> {
    /// The network it binds.
    pub fn mlp(&self) -> &'m Mlp {
        self.mlp
    }

    /// The trainable parameters as leaves, in the network's order.
    pub fn parameters(&self) -> &[Var<'t>] {
        &self.trainable
    }

    /// The frozen parameters as leaves.
    pub fn frozen_parameters(&self) -> &[Var<'t>] {
        &self.frozen
    }

    /// The parameters as `Var`s, for the generic forward pass of [`Layer`].
    pub fn params(&self) -> Params<'_, Var<'t>> {
        Params {
            trainable: &self.trainable,
            frozen: &self.frozen,
        }
    }

    /// The forward pass for constant inputs (data): records one weighted-sum node
    /// and one activation node per neuron (none for [`Activation::Identity`]);
    /// the inputs become no leaves.
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`Mlp::inputs`].
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(2, Activation::Sigmoid).build()?;
    /// let tape = chainrule::Tape::new();
    /// let out = mlp.bind(&tape).forward(&[1.0, 2.0]);
    /// assert_eq!(out.len(), 2);
    /// assert_eq!(out[0].value(), mlp.predict(&[1.0, 2.0])[0]);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn forward(&self, inputs: &[f64]) -> Vec<Var<'t>> {
        forward(&self.mlp.layers, self.params(), inputs)
    }

    /// The forward pass for inputs that are themselves `Var`s (to differentiate
    /// with respect to the inputs too).
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`Mlp::inputs`], or they are on another tape.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mut mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
    /// mlp.set_parameters(&[3.0, 0.0])?;
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// let y = mlp.bind(&tape).forward_vars(&[x])[0];
    /// assert_eq!(y.backward()[x], 3.0);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn forward_vars(&self, inputs: &[Var<'t>]) -> Vec<Var<'t>> {
        let params = self.params();
        let mut current = inputs.to_vec();
        let mut next = Vec::new();
        for layer in &self.mlp.layers {
            next.clear();
            layer.forward(params, &current, &mut next);
            std::mem::swap(&mut current, &mut next);
        }
        current
    }

    /// ∂output/∂p for every trainable parameter p, in the network's order.
    ///
    /// # Panics
    /// If `gradients` were swept on another tape.
    pub fn gradient(&self, gradients: &Gradients<'t>) -> Vec<f64> {
        gradients.wrt_all(&self.trainable)
    }

    /// Adds ∂output/∂p for every trainable parameter p to `sum` (for gradients
    /// summed over several sweeps).
    ///
    /// # Panics
    /// If `sum.len()` differs from [`Mlp::parameter_count`], or `gradients` were
    /// swept on another tape.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
    /// let tape = chainrule::Tape::new();
    /// let net = mlp.bind(&tape);
    /// let y = net.forward(&[5.0])[0];
    /// let mut sum = vec![1.0, 1.0];
    /// net.add_gradient_to(&y.backward(), &mut sum);
    /// assert_eq!(sum, vec![6.0, 2.0]); // dy/dw = 5, dy/db = 1
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn add_gradient_to(&self, gradients: &Gradients<'t>, sum: &mut [f64]) {
        assert_eq!(
            sum.len(),
            self.trainable.len(),
            "chainrule::nn: a gradient buffer of {} values for {} parameters",
            sum.len(),
            self.trainable.len()
        );
        for (s, &p) in sum.iter_mut().zip(&self.trainable) {
            *s += gradients[p];
        }
    }
}
