//! [`Mlp`]: a multi-layer perceptron whose parameters are plain `f64` between
//! steps, and [`BoundMlp`]: the same network bound to a tape for one step.

use crate::nn::init::{generator, weight};
use crate::nn::{Activation, Error, Init, Layer, LayerSpec, Loss, Neuron, ParamRef, Params};
use crate::{Gradients, Tape, Var};

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

/// A multi-layer perceptron.
///
/// Its parameters live as plain `f64` in two vectors: the **trainable** ones
/// (what optimizers update and gradients are reported for) and the **frozen**
/// ones (bound to the tape like the others, never updated). For each step, bind
/// them to a tape with [`bind`](Mlp::bind), run [`BoundMlp::forward`], sweep back,
/// read [`BoundMlp::gradient`], and update [`parameters_mut`](Mlp::parameters_mut).
///
/// The trainable parameters are ordered layer by layer, neuron by neuron: each
/// neuron's weights in input order, then its bias. A layer with a shared trainable bias stores all its neurons'
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
    /// The labels a binding gives, formatted on the first binding.
    names: NamesCache,
}

/// The labels of everything an [`Mlp`]'s binding records (see [`Mlp::bind`]),
/// formatted once per network and shared by every binding, so that a step
/// copies no string until a label is read.
#[derive(Debug)]
struct Names {
    /// The label of each trainable parameter, in the network's order.
    trainable: Arc<[Cow<'static, str>]>,
    /// The label of each frozen parameter.
    frozen: Arc<[Cow<'static, str>]>,
    /// Per layer: its neurons' outputs `layerL.neuronn.out`.
    outs: Vec<Arc<[Cow<'static, str>]>>,
    /// Per layer: its neurons' weighted sums `layerL.neuronn.net`.
    nets: Vec<Arc<[Cow<'static, str>]>>,
}

impl Names {
    /// Every label of `mlp`'s bindings, in the table of [`Mlp::bind`].
    fn of(mlp: &Mlp) -> Names {
        let mut trainable = vec![Cow::Borrowed(""); mlp.parameters.len()];
        let mut frozen = vec![Cow::Borrowed(""); mlp.frozen.len()];
        let (mut outs, mut nets) = (Vec::new(), Vec::new());
        for (l, layer) in mlp.layers.iter().enumerate() {
            let l = l + 1;
            let shared = layer.spec().is_bias_shared();
            for (n, neuron) in layer.neurons().iter().enumerate() {
                for (k, p) in neuron.weights().enumerate() {
                    trainable[p] = Cow::Owned(format!("layer{l}.neuron{n}.w{k}"));
                }
                let label = if shared {
                    format!("layer{l}.b")
                } else {
                    format!("layer{l}.neuron{n}.b")
                };
                match neuron.bias() {
                    ParamRef::Trainable(p) => trainable[p] = Cow::Owned(label),
                    ParamRef::Frozen(p) => frozen[p] = Cow::Owned(label),
                }
            }
            let count = layer.neurons().len();
            outs.push(
                (0..count)
                    .map(|n| format!("layer{l}.neuron{n}.out").into())
                    .collect(),
            );
            nets.push(
                (0..count)
                    .map(|n| format!("layer{l}.neuron{n}.net").into())
                    .collect(),
            );
        }
        Names {
            trainable: trainable.into(),
            frozen: frozen.into(),
            outs,
            nets,
        }
    }
}

/// [`Names`], made when first asked for. Not part of a network's value: two
/// networks are equal whatever their caches hold.
#[derive(Clone, Default)]
struct NamesCache(OnceLock<Arc<Names>>);

impl NamesCache {
    fn get(&self, mlp: &Mlp) -> &Arc<Names> {
        self.0.get_or_init(|| Arc::new(Names::of(mlp)))
    }
}

impl PartialEq for NamesCache {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::fmt::Debug for NamesCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NamesCache")
    }
}

/// Describes an [`Mlp`] layer by layer; made by [`Mlp::builder`].
///
/// ```
/// use chainrule::nn::{Activation, Init, LayerSpec, Mlp};
///
/// // 2-16-16-1: tanh, tanh, linear; weights uniform in [-1, 1) from seed 42.
/// let mlp = Mlp::builder(2)
///     .layer(16, Activation::Tanh)
///     .layer(16, Activation::Tanh)
///     .layer_spec(LayerSpec::new(1, Activation::Identity))
///     .init(Init::Uniform)
///     .seed(42)
///     .build()?;
///
/// // The same draws by hand: layer by layer, neuron by neuron, its weights in
/// // input order, then its bias, which starts at 0.
/// use chainrule::nn::init::{generator, weight};
/// let mut rng = generator(42);
/// let mut expected = Vec::new();
/// for (fan_in, neurons) in [(2, 16), (16, 16), (16, 1)] {
///     for _ in 0..neurons {
///         expected.extend((0..fan_in).map(|_| weight(&mut rng, 1.0)));
///         expected.push(0.0);
///     }
/// }
/// assert_eq!(mlp.parameters(), &expected[..]);
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
    #[must_use]
    pub fn layer(self, neurons: usize, activation: Activation) -> Self {
        self.layer_spec(LayerSpec::new(neurons, activation))
    }

    /// Adds a layer as described (shared or frozen biases).
    #[must_use]
    pub fn layer_spec(mut self, spec: LayerSpec) -> Self {
        self.layers.push(spec);
        self
    }

    /// The weight initialisation ([`Init::Uniform`] by default).
    #[must_use]
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }

    /// The seed of the initialisation's generator (0 by default).
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Builds the network and draws its weights (see [`Init`]).
    ///
    /// # Errors
    /// [`Error::InvalidArchitecture`] if it has no input, no layer, a layer of no
    /// neurons, or more parameters than can be allocated (the sizes are checked
    /// with checked arithmetic and the memory is reserved before any weight is
    /// drawn, so an absurd size is an error, never an abort).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Error, Mlp};
    /// let err = Mlp::builder(2).layer(usize::MAX, Activation::Tanh).build().unwrap_err();
    /// assert!(matches!(err, Error::InvalidArchitecture(_)));
    /// assert!(err.to_string().contains("layer 1"));
    /// ```
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
                "layer {} has no neurons",
                i + 1
            )));
        }
        let (trainable, frozen_count) = self.parameter_counts()?;
        let too_big = |what: &str, count: usize| {
            Error::InvalidArchitecture(format!(
                "{count} {what} parameters ({} bytes) cannot be allocated",
                count.saturating_mul(std::mem::size_of::<f64>())
            ))
        };
        let mut parameters: Vec<f64> = Vec::new();
        parameters
            .try_reserve_exact(trainable)
            .map_err(|_| too_big("trainable", trainable))?;
        let mut frozen: Vec<f64> = Vec::new();
        frozen
            .try_reserve_exact(frozen_count)
            .map_err(|_| too_big("frozen", frozen_count))?;
        let mut rng = generator(self.seed);
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
            names: NamesCache::default(),
        })
    }
}

impl MlpBuilder {
    /// The numbers of trainable and frozen parameters, counted with checked
    /// arithmetic: an error names the first layer whose count does not fit.
    fn parameter_counts(&self) -> Result<(usize, usize), Error> {
        let mut trainable = 0usize;
        let mut frozen = 0usize;
        let mut fan_in = self.inputs;
        for (i, spec) in self.layers.iter().enumerate() {
            let neurons = spec.neurons();
            let biases = if spec.is_bias_shared() { 1 } else { neurons };
            let weights = neurons.checked_mul(fan_in);
            let counted = weights.and_then(|weights| {
                if spec.is_bias_frozen() {
                    Some((trainable.checked_add(weights)?, frozen.checked_add(biases)?))
                } else {
                    Some((trainable.checked_add(weights)?.checked_add(biases)?, frozen))
                }
            });
            // A Vec<f64> holds at most isize::MAX bytes.
            let limit = isize::MAX as usize / std::mem::size_of::<f64>();
            match counted {
                Some((t, f)) if t <= limit && f <= limit => (trainable, frozen) = (t, f),
                _ => {
                    return Err(Error::InvalidArchitecture(format!(
                        "layer {} of {neurons} neurons over {fan_in} inputs takes the \
                         network past {limit} parameters, more than can be allocated",
                        i + 1
                    )))
                }
            }
            fan_in = neurons;
        }
        Ok((trainable, frozen))
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
    #[must_use]
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
    /// [`Error::InvalidArchitecture`] if `sizes` is empty (it must hold at least
    /// the input width), if `activations.len() != sizes.len() - 1`, or as
    /// [`MlpBuilder::build`].
    ///
    /// ```
    /// use chainrule::nn::{Activation::*, Init, Mlp};
    /// let mlp = Mlp::new(&[2, 16, 16, 1], &[Tanh, Tanh, Identity], Init::Uniform, 42)?;
    /// // Per neuron its weights (one per input) and its bias.
    /// assert_eq!(mlp.parameter_count(), 16 * (2 + 1) + 16 * (16 + 1) + (16 + 1));
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    pub fn new(
        sizes: &[usize],
        activations: &[Activation],
        init: Init,
        seed: u64,
    ) -> Result<Mlp, Error> {
        let Some((&inputs, layer_sizes)) = sizes.split_first() else {
            return Err(Error::InvalidArchitecture(format!(
                "no sizes given: pass the input width first, then one size per layer \
                 ({} {} given)",
                activations.len(),
                crate::plural(activations.len(), "activation was", "activations were")
            )));
        };
        if layer_sizes.len() != activations.len() {
            let n = layer_sizes.len();
            return Err(Error::InvalidArchitecture(format!(
                "{n} {} after the input width {} {n} {}, one per layer, not {}",
                crate::plural(n, "layer size", "layer sizes"),
                crate::plural(n, "needs", "need"),
                crate::plural(n, "activation", "activations"),
                activations.len(),
            )));
        }
        let mut builder = Mlp::builder(inputs).init(init).seed(seed);
        for (&n, &a) in layer_sizes.iter().zip(activations) {
            builder = builder.layer(n, a);
        }
        builder.build()
    }

    /// The number of inputs.
    #[must_use]
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The number of outputs (the last layer's width).
    #[must_use]
    pub fn outputs(&self) -> usize {
        self.layers.last().map_or(0, Layer::outputs)
    }

    /// The layers, input side first.
    #[must_use]
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// The number of trainable parameters.
    #[must_use]
    pub fn parameter_count(&self) -> usize {
        self.parameters.len()
    }

    /// The trainable parameters (see [`Mlp`] for their order).
    #[must_use]
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
    #[must_use]
    pub fn frozen_parameters(&self) -> &[f64] {
        &self.frozen
    }

    /// The frozen parameters, to set in place.
    pub fn frozen_parameters_mut(&mut self) -> &mut [f64] {
        &mut self.frozen
    }

    /// The parameter values as `f64`, for the generic forward pass of [`Layer`].
    #[must_use]
    pub fn params(&self) -> Params<'_, f64> {
        Params {
            trainable: &self.parameters,
            frozen: &self.frozen,
        }
    }

    /// The network's outputs on `f64`: no tape, no derivatives.
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`inputs`](Mlp::inputs): the message names
    /// both widths.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(2).layer(3, Activation::Sigmoid).build()?;
    /// assert_eq!(mlp.predict(&[0.0, 0.0]), vec![0.5; 3]);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    #[track_caller]
    pub fn predict(&self, inputs: &[f64]) -> Vec<f64> {
        self.check_inputs("Mlp::predict", inputs.len());
        forward(&self.layers, self.params(), inputs)
    }

    #[track_caller]
    fn check_inputs(&self, caller: &str, found: usize) {
        if found != self.inputs {
            wrong_width(caller, self.inputs, found);
        }
    }

    /// Binds every parameter to `tape` as a leaf (trainable first, then frozen),
    /// for one step, and labels everything the binding records, so that
    /// explanations, anomaly reports and DOT drawings of the tape read in the
    /// network's own terms. Layers are counted **from 1** (the first hidden
    /// layer is `layer1`), neurons and weights **from 0**, in input order:
    ///
    /// | node | label |
    /// |---|---|
    /// | weight `k` of neuron `n` of layer `L` | `layerL.neuronn.wk` |
    /// | its own bias | `layerL.neuronn.b` |
    /// | a bias shared by layer `L` | `layerL.b` |
    /// | a neuron's output σ(net) ([`BoundMlp::forward`]) | `layerL.neuronn.out` |
    /// | its weighted sum inside the fused neuron node ([`Var::named_net`]) | `layerL.neuronn.net` |
    /// | a linear ([`Activation::Identity`]) neuron: one node, out = net | `layerL.neuronn.net` |
    /// | the loss recorded by [`BoundMlp::loss`] | `loss` |
    ///
    /// The labels cost a training loop nothing it can measure: they are
    /// formatted once per network (on its first binding) and shared, and the
    /// tape copies them into its labels only when one is first read
    /// ([`Tape::label`], an explanation, a drawing, an anomaly report). A label
    /// given to one of these nodes afterwards ([`Var::named`]) replaces the
    /// network's.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Loss, Mlp};
    /// use chainrule::Tape;
    ///
    /// let mlp = Mlp::builder(2).layer(2, Activation::Sigmoid).layer(1, Activation::Sigmoid).build()?;
    /// let tape = Tape::new();
    /// let net = mlp.bind(&tape);
    /// assert_eq!(net.parameters().len(), 9);
    /// let out = net.forward(&[0.05, 0.10]);
    /// let loss = net.loss(Loss::HalfSquaredError, &out, &[0.01]);
    /// assert_eq!(tape.label(net.parameters()[1].index()).as_deref(), Some("layer1.neuron0.w1"));
    /// assert_eq!(tape.label(net.parameters()[2].index()).as_deref(), Some("layer1.neuron0.b"));
    /// assert_eq!(tape.label(out[0].index()).as_deref(), Some("layer2.neuron0.out"));
    /// assert_eq!(tape.net_label(out[0].index()).as_deref(), Some("layer2.neuron0.net"));
    /// assert_eq!(tape.label(loss.index()).as_deref(), Some("loss"));
    /// // ∂loss/∂w, factor by factor, in the network's names:
    /// let explanation = loss.backward().explain(net.parameters()[1]);
    /// assert!(explanation.to_string().starts_with("∂loss/∂layer1.neuron0.w1 = "));
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    ///
    /// # Complexity
    /// O(p) time for p parameters (their leaves), plus O(p) once per network to
    /// format the labels; O(number of labels) more when a label is first read.
    #[must_use]
    #[track_caller]
    pub fn bind<'m, 't>(&'m self, tape: &'t Tape) -> BoundMlp<'m, 't> {
        let mut bound = self.bind_unlabelled(tape);
        let names = self.names.get(self);
        for (leaves, names) in [
            (&bound.trainable, &names.trainable),
            (&bound.frozen, &names.frozen),
        ] {
            if let Some(first) = leaves.first() {
                tape.defer_labels(first.index, Arc::clone(names), false);
            }
        }
        bound.names = Some(Arc::clone(names));
        bound
    }

    /// The same as [`bind`](Mlp::bind), which labels too: the name of an
    /// earlier release, when `bind` labelled nothing.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
    /// let tape = chainrule::Tape::new();
    /// let net = mlp.bind_labelled(&tape);
    /// assert_eq!(tape.label(net.parameters()[0].index()).as_deref(), Some("layer1.neuron0.w0"));
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    #[track_caller]
    pub fn bind_labelled<'m, 't>(&'m self, tape: &'t Tape) -> BoundMlp<'m, 't> {
        self.bind(tape)
    }

    /// As [`bind`](Mlp::bind), labelling nothing: what [`Trainer`](crate::nn::Trainer)
    /// binds with, for steps nobody looks at.
    #[track_caller]
    pub(crate) fn bind_unlabelled<'m, 't>(&'m self, tape: &'t Tape) -> BoundMlp<'m, 't> {
        BoundMlp {
            mlp: self,
            trainable: tape.vars(&self.parameters),
            frozen: tape.vars(&self.frozen),
            names: None,
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn wrong_width(caller: &str, expected: usize, found: usize) -> ! {
    panic!(
        "chainrule: {caller} was given {found} {}, but the network takes {expected} per sample",
        crate::plural(found, "input", "inputs"),
    )
}

/// Labels the outputs of layer `l` (0-based) with `names`, as the table of
/// [`Mlp::bind`] gives: deferred ([`Tape::defer_labels`]) when the outputs are
/// consecutive nodes, as a layer records them; given one by one otherwise.
fn label_layer(outputs: &[Var<'_>], l: usize, names: &Names) {
    let Some(first) = outputs.first() else {
        return;
    };
    let tape = first.tape();
    let (outs, nets) = (&names.outs[l], &names.nets[l]);
    let consecutive = (first.index..).zip(outputs).all(|(i, v)| v.index == i);
    if consecutive && outputs.len() == outs.len() {
        let neurons = outputs
            .iter()
            .filter(|v| tape.op(v.index()).is_neuron())
            .count();
        if neurons == outputs.len() {
            tape.defer_labels(first.index, Arc::clone(outs), false);
            tape.defer_labels(first.index, Arc::clone(nets), true);
            return;
        }
        if neurons == 0 {
            // Linear neurons: each one weighted-sum node, its net its output.
            tape.defer_labels(first.index, Arc::clone(nets), false);
            return;
        }
    }
    for ((out, o), n) in outputs.iter().zip(outs.iter()).zip(nets.iter()) {
        if tape.op(out.index()).is_neuron() {
            let _ = out.named(o.clone()).named_net(n.clone());
        } else {
            // A linear neuron is one weighted-sum node: its net is its output.
            let _ = out.named(n.clone());
        }
    }
}

/// The forward pass through `layers` for constant inputs, on `f64` or `Var`;
/// `after_layer(layer index, its outputs)` is called after each layer.
#[track_caller]
fn forward_with<T: crate::Scalar>(
    layers: &[Layer],
    params: Params<'_, T>,
    inputs: &[f64],
    mut after_layer: impl FnMut(usize, &[T]),
) -> Vec<T> {
    let (first, rest) = layers.split_first().expect("an Mlp has a layer");
    let mut current = Vec::with_capacity(first.outputs());
    first.forward_const(params, inputs, &mut current);
    after_layer(0, &current);
    let mut next = Vec::new();
    for (l, layer) in rest.iter().enumerate() {
        next.clear();
        layer.forward(params, &current, &mut next);
        std::mem::swap(&mut current, &mut next);
        after_layer(l + 1, &current);
    }
    current
}

/// The forward pass through `layers` for constant inputs, on `f64` or `Var`.
#[track_caller]
fn forward<T: crate::Scalar>(layers: &[Layer], params: Params<'_, T>, inputs: &[f64]) -> Vec<T> {
    forward_with(layers, params, inputs, |_, _| {})
}

/// An [`Mlp`] bound to a tape for one step: its parameters as leaves.
///
/// Made by [`Mlp::bind`], which labels every parameter, neuron and the loss it
/// records, for explanations. It borrows both the network (so the parameters
/// cannot change during the step) and the tape.
#[derive(Debug)]
pub struct BoundMlp<'m, 't> {
    mlp: &'m Mlp,
    trainable: Vec<Var<'t>>,
    frozen: Vec<Var<'t>>,
    /// The labels it gives; `None` for the crate's own unlabelled binding.
    names: Option<Arc<Names>>,
}

impl<'m, 't> BoundMlp<'m, 't> {
    /// Whether it labels what it records: true for every binding made by
    /// [`Mlp::bind`] or [`Mlp::bind_labelled`].
    ///
    /// ```
    /// use chainrule::nn::{Activation, Mlp};
    /// let mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
    /// assert!(mlp.bind(&chainrule::Tape::new()).is_labelled());
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn is_labelled(&self) -> bool {
        self.names.is_some()
    }

    /// The network it binds.
    #[must_use]
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
    #[must_use]
    pub fn params(&self) -> Params<'_, Var<'t>> {
        Params {
            trainable: &self.trainable,
            frozen: &self.frozen,
        }
    }

    /// The forward pass for constant inputs (data): records one node per neuron,
    /// its weighted sum and activation fused ([`Var::neuron`]; a weighted sum
    /// alone for [`Activation::Identity`]); the inputs become no leaves.
    ///
    /// Labels each neuron's output and weighted sum as [`Mlp::bind`] says.
    ///
    /// # Panics
    /// If `inputs.len()` differs from [`Mlp::inputs`]: the message names both
    /// widths.
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
    #[must_use]
    #[track_caller]
    pub fn forward(&self, inputs: &[f64]) -> Vec<Var<'t>> {
        self.mlp.check_inputs("BoundMlp::forward", inputs.len());
        match &self.names {
            Some(names) => forward_with(&self.mlp.layers, self.params(), inputs, |l, out| {
                label_layer(out, l, names)
            }),
            None => forward(&self.mlp.layers, self.params(), inputs),
        }
    }

    /// The loss of one sample whose outputs are `outputs` (as
    /// [`Loss::evaluate`]), labelled `loss`.
    ///
    /// # Panics
    /// As [`Loss::evaluate`]: if `outputs` is empty or `targets.len()` differs
    /// from `outputs.len()`.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Loss, Mlp};
    /// let mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
    /// let tape = chainrule::Tape::new();
    /// let net = mlp.bind(&tape);
    /// let loss = net.loss(Loss::MeanSquaredError, &net.forward(&[1.0]), &[2.0]);
    /// assert_eq!(tape.display_name(loss.index()), "loss");
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[track_caller]
    pub fn loss(&self, loss: Loss, outputs: &[Var<'t>], targets: &[f64]) -> Var<'t> {
        let value = loss.evaluate(outputs, targets);
        if self.names.is_some() {
            value.named("loss")
        } else {
            value
        }
    }

    /// The forward pass for inputs that are themselves `Var`s (to differentiate
    /// with respect to the inputs too).
    ///
    /// Labels each neuron's output and weighted sum as [`Mlp::bind`] says.
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
    #[must_use]
    #[track_caller]
    pub fn forward_vars(&self, inputs: &[Var<'t>]) -> Vec<Var<'t>> {
        self.mlp
            .check_inputs("BoundMlp::forward_vars", inputs.len());
        let params = self.params();
        let mut current = inputs.to_vec();
        let mut next = Vec::new();
        for (l, layer) in self.mlp.layers.iter().enumerate() {
            next.clear();
            layer.forward(params, &current, &mut next);
            std::mem::swap(&mut current, &mut next);
            if let Some(names) = &self.names {
                label_layer(&current, l, names);
            }
        }
        current
    }

    /// ∂output/∂p for every trainable parameter p, in the network's order.
    ///
    /// # Panics
    /// If `gradients` were swept on another tape.
    #[must_use]
    #[track_caller]
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
    #[track_caller]
    pub fn add_gradient_to(&self, gradients: &Gradients<'t>, sum: &mut [f64]) {
        assert!(
            sum.len() == self.trainable.len(),
            "chainrule: add_gradient_to was given a buffer of {} {} for {} {}",
            sum.len(),
            crate::plural(sum.len(), "value", "values"),
            self.trainable.len(),
            crate::plural(self.trainable.len(), "parameter", "parameters"),
        );
        for (s, &p) in sum.iter_mut().zip(&self.trainable) {
            *s += gradients[p];
        }
    }
}
