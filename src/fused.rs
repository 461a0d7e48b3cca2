//! Fused ops: one node for what would otherwise be many.
//!
//! A neuron's weighted sum, a whole neuron (weighted sum and activation), a sum of
//! many terms, and the two squared-error losses each record **one** node with an
//! edge per operand. The values are bit for bit those of the same expression
//! written with the plain operators (the same operations in the same order); only
//! the number of nodes differs. Fewer nodes is less to record and less to sweep:
//! this is how the engine keeps close to a hand-written gradient.
//!
//! The plain operators remain the way to see every intermediate quantity: a fused
//! node has no `net` value of its own to explain or draw.

use std::iter::Sum;

use smallvec::SmallVec;

use crate::tape::{neuron_partial, NeuronRun, Op};
use crate::var::Var;
// Defined in `activation`; re-exported here, where the fused neuron takes it (and
// where it used to be defined).
pub use crate::Activation;

impl Activation {
    fn op(self) -> Op {
        match self {
            Activation::Identity => Op::WeightedSum,
            Activation::Sigmoid => Op::SigmoidNeuron,
            Activation::Tanh => Op::TanhNeuron,
            Activation::Relu => Op::ReluNeuron,
        }
    }
}

/// `((t₀ + t₁) + …) + bias`: the order of additions every weighted sum uses.
#[inline(always)]
pub(crate) fn sum_then_bias(mut terms: impl Iterator<Item = f64>, bias: f64) -> f64 {
    // A plain loop rather than `fold`: it inlines into the caller every time.
    match terms.next() {
        Some(first) => {
            let mut sum = first;
            for t in terms {
                sum += t;
            }
            sum + bias
        }
        None => bias,
    }
}

/// `((e₀ + e₁) + …)` with eᵢ = (oᵢ − tᵢ)², or 0 for no terms.
#[inline(always)]
pub(crate) fn sum_of_squared_errors(outputs: impl Iterator<Item = f64>, targets: &[f64]) -> f64 {
    let mut errors = outputs.zip(targets).map(|(o, t)| (o - t) * (o - t));
    match errors.next() {
        Some(first) => errors.fold(first, |acc, e| acc + e),
        None => 0.0,
    }
}

/// The fewest inputs for which a neuron over runs of consecutive nodes is recorded
/// as a [`NeuronRun`] rather than with its edges copied. For the seed network's
/// two-input neurons, copying five edges measured cheaper than checking for runs
/// (W1, 110 against 114 ns a step; callgrind, 129 more instructions a step with
/// runs from two inputs on). Below it, a neuron is recorded by [`push_pairs`].
const MIN_RUN: usize = 4;

/// The index of the first of `vars` if they are consecutive nodes (`vars` is not
/// empty).
#[inline(always)]
fn consecutive(vars: &[Var<'_>]) -> Option<u32> {
    let first = vars.first()?.index;
    let mut expected = first;
    for v in vars {
        if v.index != expected {
            return None;
        }
        expected = expected.wrapping_add(1);
    }
    Some(first)
}

/// Whether [`record_neuron`] still has to check the inputs.
#[derive(Clone, Copy)]
enum InputCheck {
    /// Check each input's tape, and whether the inputs are consecutive nodes.
    Each,
    /// Done by the caller, for a whole layer: the inputs, weights and bias are all
    /// on one tape, and this is the first input's index if they are consecutive
    /// nodes and at least [`MIN_RUN`] (else `None`).
    Done(Option<u32>),
}

/// Records the fused neuron of [`Var::neuron`] (the lengths already checked).
#[inline(always)]
#[track_caller]
fn record_neuron<'t>(
    weights: &[Var<'t>],
    inputs: &[Var<'t>],
    bias: Var<'t>,
    activation: Activation,
    inputs_checked: InputCheck,
) -> Var<'t> {
    let n = weights.len();
    // The tapes are checked in the same pass as the sum, and a mismatch is
    // reported after it, outside the closure, so the panic names the caller's line.
    let mut same = true;
    let z = sum_then_bias(
        weights.iter().zip(inputs).map(|(w, x)| {
            if let InputCheck::Each = inputs_checked {
                same &= std::ptr::eq(bias.tape, w.tape) & std::ptr::eq(bias.tape, x.tape);
            }
            w.value * x.value
        }),
        bias.value,
    );
    if !same {
        for (w, x) in weights.iter().zip(inputs) {
            bias.same_tape(*w);
            bias.same_tape(*x);
        }
    }
    let (a, da) = activation.value_and_derivative(z);
    // A relu neuron with z ≤ 0 selects nothing: every partial is exactly 0, not
    // 0 · value (which an infinite value would make NaN).
    let masked_neuron = activation == Activation::Relu && da == 0.0;
    let tape = bias.tape;
    // A run needs a finite z: then every partial a′(z)·value is finite (see
    // `Recording::push_neuron_run`).
    let runs = if n >= MIN_RUN && z.is_finite() {
        let input_run = match inputs_checked {
            InputCheck::Each => consecutive(inputs),
            InputCheck::Done(run) => run,
        };
        match (consecutive(weights), input_run) {
            // Apart, each operand has one edge: the sweep may add run by run.
            (Some(w), Some(x)) if w as usize + n <= x as usize || x as usize + n <= w as usize => {
                Some((w, x))
            }
            _ => None,
        }
    } else {
        None
    };
    let op = activation.op();
    // A neuron of two or three inputs (never over runs: those have at least
    // `MIN_RUN` inputs) goes through the fixed-arity push, its edges built in
    // registers. One of one input (W3's chain) stays on the copying path: built
    // in registers it took fewer instructions (W3 fused 143.5M → 135.4M) but
    // more time (0.95–1.01x → 1.06–1.09x hand-coded, three runs each): its value
    // went through one more store and load on the chain's critical path.
    let small = match n {
        2 => push_pairs::<2, 5>(op, a, da, z, masked_neuron, weights, inputs, bias),
        3 => push_pairs::<3, 7>(op, a, da, z, masked_neuron, weights, inputs, bias),
        _ => None,
    };
    let index = if let Some(index) = small {
        index
    } else if let Some((w, x)) = runs {
        let run = NeuronRun {
            node: 0,
            weights: w,
            inputs: x,
            len: n as u32,
            bias: bias.index,
            derivative: da,
            masked: masked_neuron,
        };
        tape.push_neuron_run(op, a, run)
    } else {
        // z finite: every wₖ·xₖ is, so every wₖ and xₖ, and |a′(z)| ≤ 1, so every
        // partial is finite.
        tape.push_with(op, a, 2 * n + 1, !z.is_finite(), |operands, partials| {
            let pairs = operands
                .chunks_exact_mut(2)
                .zip(partials.chunks_exact_mut(2));
            for ((o, p), (w, x)) in pairs.zip(weights.iter().zip(inputs)) {
                o[0] = w.index;
                p[0] = neuron_partial(da, x.value);
                o[1] = x.index;
                p[1] = neuron_partial(da, w.value);
            }
            operands[2 * n] = bias.index;
            partials[2 * n] = da;
            if masked_neuron {
                // Exactly 0, not 0 · value (which an infinite value makes NaN).
                partials.fill(0.0);
            }
        })
    };
    Var::from_parts(bias.tape, index, a)
}

/// Records a fused neuron of `N` weight–input pairs (`weights` and `inputs` of
/// length `N < MIN_RUN`, else `None`) through the fixed-arity push: its
/// `E = 2N + 1` edges, `w₀, x₀, w₁, x₁, …, b`, are built in registers rather than
/// written through a closure into the edge arrays, with the partials of the
/// copied form in [`record_neuron`], bit for bit. As in the copied form, the
/// partials are looked at for a NaN or infinity only when the weighted sum `z`
/// is not finite (a finite z makes every wₖ·xₖ, so every wₖ and xₖ, finite, and
/// |a′(z)| ≤ 1, so every partial is finite).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
#[track_caller]
fn push_pairs<const N: usize, const E: usize>(
    op: Op,
    a: f64,
    da: f64,
    z: f64,
    masked: bool,
    weights: &[Var<'_>],
    inputs: &[Var<'_>],
    bias: Var<'_>,
) -> Option<u32> {
    const { assert!(E == 2 * N + 1 && N < MIN_RUN) };
    let weights = <&[Var<'_>; N]>::try_from(weights).ok()?;
    let inputs = <&[Var<'_>; N]>::try_from(inputs).ok()?;
    let operands: [u32; E] = std::array::from_fn(|k| match (k / 2, k % 2) {
        (pair, 0) if pair < N => weights[pair].index,
        (pair, _) if pair < N => inputs[pair].index,
        _ => bias.index,
    });
    let partials: [f64; E] = std::array::from_fn(|k| {
        if masked {
            0.0 // exactly 0, not 0 · value (which an infinite value makes NaN)
        } else if k == 2 * N {
            da
        } else if k % 2 == 0 {
            neuron_partial(da, inputs[k / 2].value)
        } else {
            neuron_partial(da, weights[k / 2].value)
        }
    });
    Some(
        bias.tape
            .push_edges(op, a, operands, partials, !z.is_finite()),
    )
}

/// Records a fused neuron over `N` constant inputs (`weights` and `inputs` of
/// length `N`, else `None`) through the fixed-arity push: its `E = N + 1` edges,
/// `w₀, w₁, …, b`, with the partials of [`Var::neuron_const`], bit for bit.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
#[track_caller]
fn push_weights<const N: usize, const E: usize>(
    op: Op,
    a: f64,
    da: f64,
    z: f64,
    masked: bool,
    weights: &[Var<'_>],
    inputs: &[f64],
    bias: Var<'_>,
) -> Option<u32> {
    const { assert!(E == N + 1) };
    let weights = <&[Var<'_>; N]>::try_from(weights).ok()?;
    let inputs = <&[f64; N]>::try_from(inputs).ok()?;
    let operands: [u32; E] =
        std::array::from_fn(|k| if k < N { weights[k].index } else { bias.index });
    let partials: [f64; E] = std::array::from_fn(|k| {
        if masked {
            0.0 // exactly 0, not 0 · input (which an infinite input makes NaN)
        } else if k < N {
            neuron_partial(da, inputs[k])
        } else {
            da
        }
    });
    // z finite: every partial a′(z)·xₖ and a′(z) is (see `push_pairs`).
    Some(
        bias.tape
            .push_edges(op, a, operands, partials, !z.is_finite()),
    )
}

/// Records the loss node `op` of value `value` over `outputs` (all on
/// `first`'s tape) against `targets`: one edge per output, its partial
/// `partial(oₖ, tₖ)`, and the targets kept where the tape keeps constants for
/// a replay. Up to four outputs go through the fixed-arity push, more through
/// `push_with`, whose check of the partials runs only for
/// a non-finite value: a finite value means every (oₖ − tₖ)² is finite, so
/// every partial, a multiple of oₖ − tₖ, is too.
#[inline(always)]
#[track_caller]
fn push_loss<'t>(
    first: Var<'t>,
    op: Op,
    value: f64,
    outputs: &[Var<'t>],
    targets: &[f64],
    partial: impl Fn(f64, f64) -> f64 + Copy,
) -> Var<'t> {
    let small = match outputs.len() {
        1 => push_outputs::<1>(op, value, outputs, targets, partial),
        2 => push_outputs::<2>(op, value, outputs, targets, partial),
        3 => push_outputs::<3>(op, value, outputs, targets, partial),
        4 => push_outputs::<4>(op, value, outputs, targets, partial),
        _ => None,
    };
    let index = small.unwrap_or_else(|| {
        first.tape.push_with(
            op,
            value,
            outputs.len(),
            !value.is_finite(),
            |operands, partials| {
                for (((i, p), o), t) in operands.iter_mut().zip(partials).zip(outputs).zip(targets)
                {
                    *i = o.index;
                    *p = partial(o.value, *t);
                }
            },
        )
    });
    keep_all(first.tape, index, targets);
    Var::from_parts(first.tape, index, value)
}

/// Records a fused loss over `N` outputs (`outputs` of length `N`, else `None`)
/// through the fixed-arity push: one edge per output, its partial
/// `partial(oₖ, tₖ)`.
#[inline(always)]
#[track_caller]
fn push_outputs<const N: usize>(
    op: Op,
    value: f64,
    outputs: &[Var<'_>],
    targets: &[f64],
    partial: impl Fn(f64, f64) -> f64,
) -> Option<u32> {
    let outputs = <&[Var<'_>; N]>::try_from(outputs).ok()?;
    let targets = <&[f64; N]>::try_from(targets).ok()?;
    let operands = outputs.map(|o| o.index);
    let partials: [f64; N] = std::array::from_fn(|k| partial(outputs[k].value, targets[k]));
    Some(outputs[0].tape.push(op, value, operands, partials))
}

#[inline(always)]
#[track_caller]
pub(crate) fn check_layer(params: usize, inputs: usize, outputs: usize) {
    let per_neuron = inputs + 1;
    if outputs.checked_mul(per_neuron) != Some(params) {
        layer_shape_mismatch(params, inputs, outputs);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn layer_shape_mismatch(params: usize, inputs: usize, outputs: usize) -> ! {
    panic!(
        "chainrule: layer needs {inputs} weights and a bias per output \
         ({outputs} outputs × {} = {} params, got {params})",
        inputs + 1,
        outputs.saturating_mul(inputs + 1)
    )
}

// The checks are inlined into the caller (one compare each, also from a user's
// crate, where a non-`#[inline]` function cannot be inlined: 9 instructions a
// node on a chain of neurons), their panics kept out of line.
#[inline(always)]
#[track_caller]
pub(crate) fn check_weights(what: &'static str, weights: usize, inputs: usize) {
    if weights != inputs {
        weights_mismatch(what, weights, inputs);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn weights_mismatch(what: &str, weights: usize, inputs: usize) -> ! {
    panic!(
        "chainrule: {what} needs one weight per input ({weights} {}, {inputs} {})",
        crate::plural(weights, "weight", "weights"),
        crate::plural(inputs, "input", "inputs"),
    )
}

#[inline(always)]
#[track_caller]
pub(crate) fn check_targets(what: &'static str, outputs: usize, targets: usize) {
    if outputs != targets {
        targets_mismatch(what, outputs, targets);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn targets_mismatch(what: &str, outputs: usize, targets: usize) -> ! {
    panic!(
        "chainrule: {what} needs one target per output ({outputs} {}, {targets} {})",
        crate::plural(outputs, "output", "outputs"),
        crate::plural(targets, "target", "targets"),
    )
}

impl<'t> Var<'t> {
    /// A neuron's weighted sum `((w₀·x₀ + w₁·x₁) + … ) + b`, summed left to right,
    /// recorded as **one** node with an edge to every weight, input and the bias.
    ///
    /// Derivatives: ∂/∂wᵢ = xᵢ, ∂/∂xᵢ = wᵢ, ∂/∂b = 1.
    ///
    /// # Panics
    /// If `weights` and `inputs` differ in length, or a variable is from another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let w = tape.vars(&[0.15, 0.20]);
    /// let x = tape.vars(&[0.05, 0.10]);
    /// let b = tape.var(0.35);
    /// let net = chainrule::Var::weighted_sum(&w, &x, b);
    /// assert_eq!(net.value(), 0.15 * 0.05 + 0.20 * 0.10 + 0.35);
    /// assert_eq!(net.backward()[w[1]], 0.10);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn weighted_sum(weights: &[Var<'t>], inputs: &[Var<'t>], bias: Var<'t>) -> Var<'t> {
        check_weights("weighted_sum", weights.len(), inputs.len());
        Var::neuron(weights, inputs, bias, Activation::Identity)
    }

    /// A neuron's weighted sum over constant inputs, `((w₀·x₀ + w₁·x₁) + …) + b`,
    /// recorded as **one** node with an edge to every weight and the bias (the
    /// inputs are constants: no leaves are made for them).
    ///
    /// Derivatives: ∂/∂wᵢ = xᵢ, ∂/∂b = 1.
    ///
    /// # Panics
    /// If `weights` and `inputs` differ in length, or a variable is from another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let w = tape.vars(&[0.15, 0.20]);
    /// let b = tape.var(0.35);
    /// let net = chainrule::Var::weighted_sum_const(&w, &[0.05, 0.10], b);
    /// assert_eq!(net.value(), 0.15 * 0.05 + 0.20 * 0.10 + 0.35);
    /// assert_eq!(net.backward()[w[0]], 0.05);
    /// assert_eq!(tape.len(), 4); // w1, w2, b and the sum
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn weighted_sum_const(weights: &[Var<'t>], inputs: &[f64], bias: Var<'t>) -> Var<'t> {
        check_weights("weighted_sum_const", weights.len(), inputs.len());
        Var::neuron_const(weights, inputs, bias, Activation::Identity)
    }

    /// A whole neuron, `a = activation(((w₀·x₀ + w₁·x₁) + …) + b)`, recorded as
    /// **one** node with an edge to every weight, input and the bias (in the order
    /// w₀, x₀, w₁, x₁, …, b).
    ///
    /// Derivatives, with z the weighted sum and a' the activation's derivative at z:
    /// ∂a/∂wᵢ = a'·xᵢ, ∂a/∂xᵢ = a'·wᵢ, ∂a/∂b = a'.
    ///
    /// A neuron of four inputs or more whose weights are consecutive nodes and whose
    /// inputs are consecutive nodes (a layer: weights made together by
    /// [`Tape::vars`](crate::Tape::vars), inputs recorded one after another) is
    /// stored compactly, as two run starts and a', since its partials are a' times
    /// values already on the tape. Every reader ([`Tape::edges`](crate::Tape::edges),
    /// the graph view, the sweep) sees the same edges either way; only recording
    /// and sweeping get cheaper.
    ///
    /// ```
    /// use chainrule::{Activation, Tape, Var};
    ///
    /// let tape = Tape::new();
    /// let w = tape.vars(&[0.1, -0.2, 0.3, 0.4]);
    /// let x = tape.vars(&[1.0, 2.0, 3.0, 4.0]);
    /// let b = tape.var(0.5);
    /// let a = Var::neuron(&w, &x, b, Activation::Tanh);
    /// let edges = tape.edges(a.index());
    /// let da = edges[8].1; // ∂a/∂b = a′(z) = 1 − a², to a few ulps
    /// assert!((da - (1.0 - a.value() * a.value())).abs() < 1e-15);
    /// assert_eq!(edges.len(), 9);
    /// assert_eq!(edges[0], (w[0].index(), da * 1.0));
    /// assert_eq!(edges[1], (x[0].index(), da * 0.1));
    /// assert_eq!(edges[8], (b.index(), da));
    /// assert_eq!(a.backward()[x[3]], 1.0 * (da * 0.4));
    /// ```
    ///
    /// # Panics
    /// If `weights` and `inputs` differ in length, or a variable is from another tape.
    ///
    /// ```
    /// use chainrule::{Activation, Tape, Var};
    ///
    /// let tape = Tape::new();
    /// let w = tape.vars(&[0.40, 0.45]);
    /// let h = tape.vars(&[0.593269992, 0.596884378]);
    /// let b = tape.var(0.60);
    /// let out_o1 = Var::neuron(&w, &h, b, Activation::Sigmoid);
    /// let net_o1: f64 = 0.40 * 0.593269992 + 0.45 * 0.596884378 + 0.60;
    /// assert_eq!(out_o1.value(), 1.0 / (1.0 + (-net_o1).exp()));
    /// let s = out_o1.value();
    /// assert_eq!(out_o1.backward()[w[0]], s * (1.0 - s) * 0.593269992);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn neuron(
        weights: &[Var<'t>],
        inputs: &[Var<'t>],
        bias: Var<'t>,
        activation: Activation,
    ) -> Var<'t> {
        check_weights("neuron", weights.len(), inputs.len());
        record_neuron(weights, inputs, bias, activation, InputCheck::Each)
    }

    /// A dense layer: one fused neuron ([`Var::neuron`]) per output, all over the
    /// same `inputs`, writing output `k` to `outputs[k]`.
    ///
    /// `params` holds each neuron's weights and then its bias, neuron after neuron:
    /// `[w₀₀, w₀₁, …, b₀, w₁₀, w₁₁, …, b₁, …]`, so `outputs.len() · (inputs.len() + 1)`
    /// values. Each output is the node `Var::neuron(weights, inputs, bias,
    /// activation)` would record, bit for bit; what the layer saves is checking the
    /// inputs (their tape, and whether they are consecutive nodes) once for the
    /// whole layer instead of once per neuron.
    ///
    /// # Panics
    /// If `params.len()` is not `outputs.len() · (inputs.len() + 1)`, or a variable
    /// is from another tape.
    ///
    /// ```
    /// use chainrule::{Activation, Tape, Var};
    ///
    /// let tape = Tape::new();
    /// let x = tape.vars(&[0.5, -1.0]);
    /// //                    w₀₀   w₀₁   b₀    w₁₀   w₁₁  b₁
    /// let params = tape.vars(&[0.1, 0.2, 0.0, -0.3, 0.4, 0.1]);
    /// let mut h = [x[0]; 2];
    /// Var::layer(&params, &x, Activation::Tanh, &mut h);
    /// let one_by_one = Var::neuron(&params[3..5], &x, params[5], Activation::Tanh);
    /// assert_eq!(h[1].value(), one_by_one.value());
    /// assert_eq!(h[0].value(), (0.1f64 * 0.5 + 0.2 * -1.0 + 0.0).tanh());
    /// ```
    #[inline(always)]
    #[track_caller]
    pub fn layer(
        params: &[Var<'t>],
        inputs: &[Var<'t>],
        activation: Activation,
        outputs: &mut [Var<'t>],
    ) {
        let n = inputs.len();
        check_layer(params.len(), n, outputs.len());
        let Some(&first) = params.first() else {
            return; // no outputs
        };
        // Every operand is checked before the first neuron is recorded: a bad
        // one panics with the tape as it was.
        // (Two plain loops: a chained iterator costs several times more per item.)
        let foreign = |vars: &[Var<'t>]| vars.iter().any(|v| !std::ptr::eq(first.tape, v.tape));
        if foreign(inputs) || foreign(params) {
            for v in inputs.iter().chain(params) {
                first.same_tape(*v); // panics at the caller's line
            }
        }
        let input_run = if n >= MIN_RUN {
            consecutive(inputs)
        } else {
            None
        };
        for (output, neuron) in outputs.iter_mut().zip(params.chunks_exact(n + 1)) {
            let (weights, bias) = neuron.split_at(n);
            let bias = bias[0];
            *output = record_neuron(
                weights,
                inputs,
                bias,
                activation,
                InputCheck::Done(input_run),
            );
        }
    }

    /// A whole neuron over constant inputs, `a = activation(((w₀·x₀ + …) + b)`,
    /// recorded as **one** node with an edge to every weight and the bias.
    ///
    /// Derivatives: ∂a/∂wᵢ = a'·xᵢ, ∂a/∂b = a'.
    ///
    /// # Panics
    /// If `weights` and `inputs` differ in length, or a variable is from another tape.
    ///
    /// ```
    /// use chainrule::{Activation, Tape, Var};
    ///
    /// let tape = Tape::new();
    /// let w = tape.vars(&[0.15, 0.20]);
    /// let b1 = tape.var(0.35);
    /// let out_h1 = Var::neuron_const(&w, &[0.05, 0.10], b1, Activation::Sigmoid);
    /// assert!((out_h1.value() - 0.5932699921071872).abs() < 1e-15);
    /// ```
    #[must_use]
    #[inline(always)]
    #[track_caller]
    pub fn neuron_const(
        weights: &[Var<'t>],
        inputs: &[f64],
        bias: Var<'t>,
        activation: Activation,
    ) -> Var<'t> {
        check_weights("neuron", weights.len(), inputs.len());
        let mut same = true;
        let z = sum_then_bias(
            weights.iter().zip(inputs).map(|(w, &x)| {
                same &= std::ptr::eq(bias.tape, w.tape);
                w.value * x
            }),
            bias.value,
        );
        if !same {
            for w in weights {
                bias.same_tape(*w); // panics outside the closure, at the caller's line
            }
        }
        let (a, da) = activation.value_and_derivative(z);
        // A relu neuron with z ≤ 0 selects nothing: every partial is exactly 0,
        // not 0 · input (which an infinite input would make NaN), as in
        // `Var::neuron` and as every reader's masking (policy rule 3) has it.
        let masked = activation == Activation::Relu && da == 0.0;
        let n = weights.len();
        let op = const_inputs_op(activation);
        // A small neuron goes through the fixed-arity push (see `push_pairs`).
        let small = match n {
            1 => push_weights::<1, 2>(op, a, da, z, masked, weights, inputs, bias),
            2 => push_weights::<2, 3>(op, a, da, z, masked, weights, inputs, bias),
            3 => push_weights::<3, 4>(op, a, da, z, masked, weights, inputs, bias),
            _ => None,
        };
        if let Some(index) = small {
            keep_all(bias.tape, index, inputs);
            return Var::from_parts(bias.tape, index, a);
        }
        let index = bias
            .tape
            // z finite: every partial a′(z)·xₖ and a′(z) is (see `record_neuron`).
            .push_with(op, a, n + 1, !z.is_finite(), |operands, partials| {
                let edges = operands.iter_mut().zip(partials.iter_mut());
                for ((o, p), (w, &x)) in edges.zip(weights.iter().zip(inputs)) {
                    *o = w.index;
                    *p = neuron_partial(da, x);
                }
                operands[n] = bias.index;
                partials[n] = da;
                if masked {
                    partials.fill(0.0);
                }
            });
        keep_all(bias.tape, index, inputs);
        Var::from_parts(bias.tape, index, a)
    }

    /// The half squared error, `E = ½(o₀ − t₀)² + ½(o₁ − t₁)² + …`, recorded as
    /// **one** node with an edge to every output.
    ///
    /// Derivative: ∂E/∂oᵢ = oᵢ − tᵢ.
    ///
    /// # Panics
    /// If `outputs` is empty, `outputs` and `targets` differ in length, or the
    /// outputs are from different tapes.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let out = tape.vars(&[0.75, 0.77]);
    /// let e = chainrule::Var::half_squared_error(&out, &[0.01, 0.99]);
    /// let by_hand = 0.5 * (0.75f64 - 0.01).powi(2) + 0.5 * (0.77f64 - 0.99).powi(2);
    /// assert!((e.value() - by_hand).abs() < 1e-15);
    /// assert!((e.backward()[out[0]] - (0.75 - 0.01)).abs() < 1e-15);
    /// ```
    #[must_use]
    #[inline]
    #[track_caller]
    pub fn half_squared_error(outputs: &[Var<'t>], targets: &[f64]) -> Var<'t> {
        let first = check_outputs("half_squared_error", outputs, targets);
        let value = half_squared_error_value(outputs.iter().map(|o| o.value), targets);
        push_loss(
            first,
            Op::HalfSquaredError,
            value,
            outputs,
            targets,
            |o, t| o - t,
        )
    }

    /// The mean squared error, `L = ((o₀ − t₀)² + (o₁ − t₁)² + …) / n`, summed left
    /// to right, recorded as **one** node with an edge to every output.
    ///
    /// Derivative: ∂L/∂oᵢ = 2(oᵢ − tᵢ)/n.
    ///
    /// # Panics
    /// If `outputs` is empty, `outputs` and `targets` differ in length, or the
    /// outputs are from different tapes.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let scores = tape.vars(&[0.5, -2.0]);
    /// let l = chainrule::Var::mean_squared_error(&scores, &[1.0, -1.0]);
    /// assert_eq!(l.value(), (0.25 + 1.0) / 2.0);
    /// assert_eq!(l.backward()[scores[1]], 2.0 * (-2.0 - -1.0) / 2.0);
    /// ```
    #[must_use]
    #[inline]
    #[track_caller]
    pub fn mean_squared_error(outputs: &[Var<'t>], targets: &[f64]) -> Var<'t> {
        let first = check_outputs("mean_squared_error", outputs, targets);
        let n = outputs.len() as f64;
        let value = sum_of_squared_errors(outputs.iter().map(|o| o.value), targets) / n;
        push_loss(
            first,
            Op::MeanSquaredError,
            value,
            outputs,
            targets,
            |o, t| 2.0 * (o - t) / n,
        )
    }
}

/// `((½e₀ + ½e₁) + …)`, each term as `(o − t)² · 0.5`, as the operators compute it.
#[inline(always)]
pub(crate) fn half_squared_error_value(outputs: impl Iterator<Item = f64>, targets: &[f64]) -> f64 {
    let mut halves = outputs.zip(targets).map(|(o, t)| (o - t) * (o - t) * 0.5);
    match halves.next() {
        Some(first) => halves.fold(first, |acc, e| acc + e),
        None => 0.0,
    }
}

#[inline(always)]
#[track_caller]
fn check_outputs<'t>(what: &'static str, outputs: &[Var<'t>], targets: &[f64]) -> Var<'t> {
    check_targets(what, outputs.len(), targets.len());
    let Some(&first) = outputs.first() else {
        no_outputs(what)
    };
    for o in &outputs[1..] {
        first.same_tape(*o);
    }
    first
}

// ---- Sum -----------------------------------------------------------------------

/// Operand lists of up to this many stay on the stack while a sum is collected.
const INLINE_OPERANDS: usize = 16;

#[track_caller]
fn sum_vars<'t>(vars: impl Iterator<Item = Var<'t>>) -> Var<'t> {
    // Collect first: the iterator may itself record nodes (`xs.map(|x| x * 2.0)`),
    // which must land on the tape before this node's edges.
    let operands: SmallVec<[Var<'t>; INLINE_OPERANDS]> = vars.collect();
    let Some(first) = operands.first().copied() else {
        panic!(
            "chainrule: the sum of no Vars has no tape to live on; \
             start from a Var (for example tape.var(0.0)) or check for emptiness"
        );
    };
    let mut value = first.value;
    for v in &operands[1..] {
        first.same_tape(*v);
        value += v.value;
    }
    let index = first.tape.push_with(
        Op::Sum,
        value,
        operands.len(),
        false,
        |indices, partials| {
            for (i, v) in indices.iter_mut().zip(&operands) {
                *i = v.index;
            }
            partials.fill(1.0);
        },
    );
    Var::from_parts(first.tape, index, value)
}

impl<'t> Sum<Var<'t>> for Var<'t> {
    /// Records the sum as one n-ary node (left to right), each partial 1.
    ///
    /// # Panics
    /// On an empty iterator (there is no tape to record on) or Vars of two tapes,
    /// and on a full tape ([`Tape::with_max_nodes`](crate::Tape::with_max_nodes)).
    /// Called as `iter.sum()`, the panic is located in the standard library's
    /// `Iterator::sum`, which does not pass the caller's line on; called as
    /// `<Var as std::iter::Sum>::sum(iter)`, it is at the caller's line.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let xs = tape.vars(&[1.0, 2.0, 3.0]);
    /// let total: chainrule::Var = xs.iter().copied().sum();
    /// assert_eq!(total.value(), 6.0);
    /// assert_eq!(tape.len(), 4); // one node for the whole sum
    /// ```
    #[track_caller]
    fn sum<I: Iterator<Item = Var<'t>>>(iter: I) -> Var<'t> {
        sum_vars(iter)
    }
}

impl<'a, 't> Sum<&'a Var<'t>> for Var<'t> {
    /// As `Sum<Var>`, over references.
    #[track_caller]
    fn sum<I: Iterator<Item = &'a Var<'t>>>(iter: I) -> Var<'t> {
        sum_vars(iter.copied())
    }
}

/// Keeps the constants of node `index` (a neuron's constant inputs, a loss's
/// targets) for replay, if the tape keeps constants: one predictable branch
/// otherwise.
#[inline(always)]
fn keep_all(tape: &crate::Tape, index: u32, constants: &[f64]) {
    if tape.keeps_for_replay() {
        for &c in constants {
            tape.keep_constant(index, c);
        }
    }
}

/// The op of a fused neuron over constant inputs: its own variant, so that every
/// reader knows its edges are weights (then the bias), not weight–input pairs.
fn const_inputs_op(activation: Activation) -> Op {
    match activation {
        Activation::Identity => Op::WeightedSumConst,
        Activation::Sigmoid => Op::SigmoidNeuronConst,
        Activation::Tanh => Op::TanhNeuronConst,
        Activation::Relu => Op::ReluNeuronConst,
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn no_outputs(what: &str) -> ! {
    panic!("chainrule: {what} of no outputs has no tape to live on")
}
