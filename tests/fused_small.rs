//! Small fused nodes: neurons of two or three inputs, neurons over one to three
//! constant inputs and losses of one to four outputs are recorded through the
//! fixed-arity push, their edges built in registers; others are copied into the
//! edge arrays by the general path.
//! Both must give every reader the same edges, so these tests hold each fan-in,
//! small and large, to the textbook edges, bit for bit, and to the non-finite
//! policy (the masked relu neuron, 0 · ∞ below a zero adjoint).

use chainrule::{Activation, Tape, Var};

const ACTIVATIONS: [Activation; 4] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
];

/// Fan-ins on both sides of the fixed-arity paths (2–3 for neurons, 1–3 for
/// neurons over constants, 1–4 for losses) and past them.
const FAN_INS: [usize; 6] = [1, 2, 3, 4, 5, 6];

fn weights(n: usize) -> Vec<f64> {
    (0..n).map(|k| 0.3 - 0.17 * k as f64).collect()
}

fn inputs(n: usize) -> Vec<f64> {
    (0..n).map(|k| 0.9 - 0.41 * k as f64).collect()
}

/// `((w₀·x₀ + w₁·x₁) + …) + b`, the order every fused neuron sums in.
fn net(w: &[f64], x: &[f64], b: f64) -> f64 {
    let mut z = w[0] * x[0];
    for k in 1..w.len() {
        z += w[k] * x[k];
    }
    z + b
}

/// Edges as bits, so that NaN partials compare too.
fn bits(edges: &[(usize, f64)]) -> Vec<(usize, u64)> {
    edges.iter().map(|&(o, p)| (o, p.to_bits())).collect()
}

/// The edges of a neuron over variable inputs: `w₀, x₀, w₁, x₁, …, b`, with
/// ∂a/∂wₖ = a′·xₖ, ∂a/∂xₖ = a′·wₖ and ∂a/∂b = a′ (all exactly 0 for a relu
/// neuron with z ≤ 0).
#[test]
fn a_neuron_of_each_fan_in_has_the_textbook_edges() {
    for n in FAN_INS {
        for activation in ACTIVATIONS {
            // Weights and inputs apart (no runs: the copied or fixed-arity form).
            let tape = Tape::new();
            let w: Vec<Var> = weights(n).iter().map(|&v| tape.var(v)).collect();
            let _spacer = tape.var(0.0);
            let x: Vec<Var> = inputs(n).iter().map(|&v| tape.var(v)).collect();
            let b = tape.var(-0.05);
            let out = Var::neuron(&w, &x, b, activation);

            let z = net(&weights(n), &inputs(n), -0.05);
            let (a, da) = activation.value_and_derivative(z);
            let masked = activation == Activation::Relu && da == 0.0;
            let partial = |value: f64| if masked { 0.0 } else { da * value };
            let mut expected = Vec::new();
            for k in 0..n {
                expected.push((w[k].index(), partial(x[k].value())));
                expected.push((x[k].index(), partial(w[k].value())));
            }
            expected.push((b.index(), if masked { 0.0 } else { da }));

            assert_eq!(
                out.value().to_bits(),
                a.to_bits(),
                "{activation}, {n} inputs"
            );
            assert_eq!(
                bits(&tape.edges(out.index())),
                bits(&expected),
                "{activation}, {n} inputs"
            );
            let g = out.backward();
            for (operand, partial) in expected {
                assert_eq!(g.by_index(operand).to_bits(), partial.to_bits());
            }
        }
    }
}

/// The edges of a neuron over constant inputs: `w₀, w₁, …, b`, with
/// ∂a/∂wₖ = a′·xₖ and ∂a/∂b = a′.
#[test]
fn a_neuron_over_constants_of_each_fan_in_has_the_textbook_edges() {
    for n in FAN_INS {
        for activation in ACTIVATIONS {
            let tape = Tape::new();
            let w = tape.vars(&weights(n));
            let b = tape.var(-0.05);
            let x = inputs(n);
            let out = Var::neuron_const(&w, &x, b, activation);

            let (a, da) = activation.value_and_derivative(net(&weights(n), &x, -0.05));
            let mut expected: Vec<(usize, f64)> =
                (0..n).map(|k| (w[k].index(), da * x[k])).collect();
            expected.push((b.index(), da));

            assert_eq!(
                out.value().to_bits(),
                a.to_bits(),
                "{activation}, {n} inputs"
            );
            assert_eq!(
                bits(&tape.edges(out.index())),
                bits(&expected),
                "{activation}, {n} inputs"
            );
            assert_eq!(tape.len(), n + 2); // the weights, the bias, the neuron
        }
    }
}

/// The two losses: one edge per output, ∂E/∂oₖ = oₖ − tₖ for the half squared
/// error and ∂L/∂oₖ = 2(oₖ − tₖ)/n for the mean squared error.
#[test]
fn a_loss_of_each_fan_in_has_the_textbook_edges() {
    for n in FAN_INS {
        let tape = Tape::new();
        let o = tape.vars(&inputs(n));
        let t = weights(n);
        let half = Var::half_squared_error(&o, &t);
        let mean = Var::mean_squared_error(&o, &t);

        let half_edges: Vec<(usize, f64)> = (0..n)
            .map(|k| (o[k].index(), o[k].value() - t[k]))
            .collect();
        let m = n as f64;
        let mean_edges: Vec<(usize, f64)> = (0..n)
            .map(|k| (o[k].index(), 2.0 * (o[k].value() - t[k]) / m))
            .collect();
        assert_eq!(
            bits(&tape.edges(half.index())),
            bits(&half_edges),
            "{n} outputs"
        );
        assert_eq!(
            bits(&tape.edges(mean.index())),
            bits(&mean_edges),
            "{n} outputs"
        );

        let mut half_value = 0.0;
        let mut squares = 0.0;
        for k in 0..n {
            let e = o[k].value() - t[k];
            half_value = if k == 0 {
                e * e * 0.5
            } else {
                half_value + e * e * 0.5
            };
            squares = if k == 0 { e * e } else { squares + e * e };
        }
        assert_eq!(half.value().to_bits(), half_value.to_bits(), "{n} outputs");
        assert_eq!(
            mean.value().to_bits(),
            (squares / m).to_bits(),
            "{n} outputs"
        );
    }
}

/// A relu neuron with z ≤ 0 passes exactly 0 down every edge, even to an operand
/// whose partner is infinite (0 · ∞ would be NaN).
#[test]
fn a_masked_relu_neuron_of_each_fan_in_passes_exactly_zero() {
    for n in FAN_INS {
        let tape = Tape::new();
        // w₀ = −∞ and x₀ = 1: z = −∞, relu′(z) = 0; the partial of x₀ is a′·w₀.
        let mut w_values = weights(n);
        w_values[0] = f64::NEG_INFINITY;
        let w: Vec<Var> = w_values.iter().map(|&v| tape.var(v)).collect();
        let x: Vec<Var> = (0..n).map(|_| tape.var(1.0)).collect();
        let b = tape.var(0.0);
        let out = Var::neuron(&w, &x, b, Activation::Relu);
        assert_eq!(out.value(), 0.0);
        for (operand, partial) in tape.edges(out.index()) {
            assert_eq!(
                partial.to_bits(),
                0.0f64.to_bits(),
                "#{operand}, {n} inputs"
            );
        }
        let g = out.backward();
        assert_eq!(g[x[0]].to_bits(), 0.0f64.to_bits(), "{n} inputs");
    }
}

/// A fused node with an infinite partial, reached with a zero adjoint, passes
/// 0 · ∞ = NaN on (rule 2 of the policy): the tape must know, from recording,
/// that it holds a non-finite partial.
#[test]
fn an_infinite_partial_of_each_fan_in_is_noticed_below_a_zero_adjoint() {
    for n in FAN_INS {
        // A neuron: w₀ = ∞, so ∂a/∂x₀ = 1 · ∞.
        let tape = Tape::new();
        let mut w_values = weights(n);
        w_values[0] = f64::INFINITY;
        let w: Vec<Var> = w_values.iter().map(|&v| tape.var(v)).collect();
        let x: Vec<Var> = inputs(n).iter().map(|&v| tape.var(v)).collect();
        let b = tape.var(0.0);
        let out = Var::neuron(&w, &x, b, Activation::Identity);
        let g = (out * 0.0).backward();
        assert!(g[x[0]].is_nan(), "neuron, {n} inputs: {}", g[x[0]]);

        // A neuron over constants: x₀ = ∞, so ∂a/∂w₀ = 1 · ∞.
        let tape = Tape::new();
        let w = tape.vars(&weights(n));
        let b = tape.var(0.0);
        let mut x = inputs(n);
        x[0] = f64::INFINITY;
        let out = Var::neuron_const(&w, &x, b, Activation::Identity);
        let g = (out * 0.0).backward();
        assert!(g[w[0]].is_nan(), "neuron_const, {n} inputs: {}", g[w[0]]);

        // The losses: o₀ = ∞, so ∂E/∂o₀ = ∞.
        let tape = Tape::new();
        let mut o_values = inputs(n);
        o_values[0] = f64::INFINITY;
        let o = tape.vars(&o_values);
        let half = Var::half_squared_error(&o, &weights(n));
        let mean = Var::mean_squared_error(&o, &weights(n));
        let g = (half * 0.0).backward();
        assert!(g[o[0]].is_nan(), "half_squared_error, {n} outputs");
        let g = (mean * 0.0).backward();
        assert!(g[o[0]].is_nan(), "mean_squared_error, {n} outputs");
    }
}

/// The same on a tape reused by `clear`, as in a training loop: its arrays
/// already have room, so the node is recorded on the fast path, which must note
/// the non-finite partial by itself (a fresh tape's first fused node goes
/// through growing, which looks at every partial anyway). With w₀ = ∞ a σ or tanh
/// neuron saturates, a′ = 0, and ∂a/∂x₀ = 0 · ∞ = NaN; an identity one has
/// ∂a/∂x₀ = ∞.
#[test]
fn an_infinite_partial_is_noticed_on_a_reused_tape() {
    for n in FAN_INS {
        for activation in [Activation::Identity, Activation::Sigmoid, Activation::Tanh] {
            let mut tape = Tape::new();
            for _ in 0..2 {
                let w = tape.vars(&weights(n));
                let x = tape.vars(&inputs(n));
                let b = tape.var(0.1);
                let _ = Var::neuron(&w, &x, b, activation);
            }
            tape.clear();
            let mut w_values = weights(n);
            w_values[0] = f64::INFINITY;
            let w = tape.vars(&w_values);
            let x = tape.vars(&inputs(n));
            let b = tape.var(0.1);
            let out = Var::neuron(&w, &x, b, activation);
            let g = (out * 0.0).backward();
            assert!(
                g[x[0]].is_nan(),
                "{activation:?} neuron, {n} inputs, reused tape: {}",
                g[x[0]]
            );

            // A neuron over constants: x₀ = ∞ makes z infinite or NaN and
            // ∂a/∂w₀ = a′(z) · ∞ infinite or NaN.
            tape.clear();
            let w = tape.vars(&weights(n));
            let b = tape.var(0.1);
            let mut x = inputs(n);
            x[0] = f64::INFINITY;
            let out = Var::neuron_const(&w, &x, b, activation);
            let g = (out * 0.0).backward();
            assert!(
                g[w[0]].is_nan(),
                "{activation:?} neuron_const, {n} inputs, reused tape: {}",
                g[w[0]]
            );
        }
    }
}

/// The constants a replay needs (a neuron's constant inputs, a loss's targets)
/// are kept for every fan-in: a compiled recording replays at new weights as a
/// fresh recording computes.
#[test]
fn small_fused_nodes_keep_their_constants_for_replay() {
    /// A neuron over constants, scaled into n outputs, and both losses of them.
    fn record(tape: &Tape, n: usize, w0: f64) -> (Var<'_>, Var<'_>) {
        let mut w_values = weights(n);
        w_values[0] = w0;
        let w = tape.vars(&w_values);
        let b = tape.var(0.1);
        let h = Var::neuron_const(&w, &inputs(n), b, Activation::Tanh);
        let outputs: Vec<Var> = (0..n).map(|k| h * (1.0 + k as f64)).collect();
        let half = Var::half_squared_error(&outputs, &weights(n));
        let mean = Var::mean_squared_error(&outputs, &inputs(n));
        (w[0], half + mean)
    }
    for n in FAN_INS {
        let tape = Tape::for_replay();
        let (_, loss) = record(&tape, n, 0.3);
        let mut program = tape.compile(&[loss]).expect("kept constants");
        program.inputs_mut()[0] = -0.7;
        program.forward();
        program.backward();

        let fresh = Tape::new();
        let (w0, loss) = record(&fresh, n, -0.7);
        let g = loss.backward();
        assert_eq!(program.output(0).to_bits(), loss.value().to_bits(), "{n}");
        assert_eq!(program.gradient(0).to_bits(), g[w0].to_bits(), "{n}");
    }
}
