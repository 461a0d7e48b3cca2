//! Record once, replay many (`chainrule::replay`): a compiled program against a
//! fresh recording at the same new inputs, on random programs over every op and
//! on the workloads; each compile-time pass alone; the constants a replay needs;
//! the check for control flow frozen at recording time.

mod support;

#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::replay::{CompileError, CompileOptions, Divergence, Program};
use chainrule::{Op, Scalar, Tape, Var};
use support::program::{decode, new_values, record, Instr, Program as Random, SplitMix};
use workloads::{moons, seed, Spelling};

/// Equal bit for bit, or both NaN.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// The random program with its leaves set to `values` (in order).
fn with_leaves(program: &Random, values: &[f64]) -> Random {
    let mut at = 0;
    let mut out = program.clone();
    for instr in &mut out.instrs {
        if let Instr::Leaves(leaves) = instr {
            for v in leaves.iter_mut() {
                *v = values[at];
                at += 1;
            }
        }
    }
    out
}

/// Random programs over every op: recorded at their leaves, compiled, replayed
/// at new leaves, against the same program recorded afresh at the new leaves.
///
/// Values: bit for bit (each instruction computes with the op's own function).
/// Gradients: bit for bit too wherever each adjoint receives its contributions
/// in the tape's order; a node used by several terms of one fused weighted sum
/// may receive them in another order, so the tolerance is 1e-12 relative
/// (|a − b| ≤ 1e-12 · max(1, |b|)), with NaN and the infinities exactly where
/// the tape has them, under every combination of passes (without dead-code
/// elimination too: an unused node passes nothing, not 0 · ∞ = NaN, as on the
/// tape).
#[test]
fn random_programs_replay_as_a_fresh_recording() {
    let mut compared = 0usize;
    let mut bitwise = 0usize;
    for seed in 0..3_000u64 {
        let program = decode(&SplitMix(seed).bytes(400));
        let leaves: Vec<f64> = program
            .instrs
            .iter()
            .filter_map(|i| match i {
                Instr::Leaves(v) => Some(v.clone()),
                _ => None,
            })
            .flatten()
            .collect();
        let new = new_values(&leaves, &mut SplitMix(seed ^ 0xdead_beef));
        let fresh_program = with_leaves(&program, &new);

        let tape = Tape::for_replay();
        let nodes = record(&program, &tape);
        let output = *nodes.last().unwrap();
        let fresh = Tape::new();
        let fresh_nodes = record(&fresh_program, &fresh);
        let fresh_output = *fresh_nodes.last().unwrap();
        let g = fresh_output.backward();

        // All sixteen combinations of the passes (the README says every one).
        for options in every_option() {
            let name = format!("{options:?}");
            let mut replay = tape.compile_with(&[output], options).unwrap();
            replay.set_inputs(&new);
            replay.forward();
            replay.backward();
            for (i, v) in fresh_nodes.iter().enumerate() {
                if let Some(value) = replay.value(i) {
                    assert!(
                        same(value, v.value()),
                        "seed {seed}, {name}: node {i} ({}) replays to {value:e}, records {:e}",
                        fresh.op(i),
                        v.value()
                    );
                }
            }
            assert!(same(replay.output(0), fresh_output.value()));
            for (k, leaf) in program.leaves().into_iter().enumerate() {
                let (ours, tape_says) = (replay.gradients()[k], g.by_index(leaf));
                compared += 1;
                if same(ours, tape_says) {
                    bitwise += 1;
                    continue;
                }
                let close = ours.is_finite()
                    && tape_says.is_finite()
                    && (ours - tape_says).abs() <= 1e-12 * tape_says.abs().max(1.0);
                assert!(
                    close,
                    "seed {seed}, {name}: gradient of leaf #{leaf}: replay {ours:e}, tape \
                     {tape_says:e}"
                );
            }
        }
    }
    eprintln!("{compared} gradients compared, {bitwise} bit for bit");
    // Most gradients are the tape's to the bit: the tolerance is for reordering.
    assert!(bitwise * 100 >= compared * 99, "{bitwise} of {compared}");
}

/// The check finds no divergence where there is no value-dependent control flow.
#[test]
fn check_passes_on_random_programs() {
    for seed in 0..300u64 {
        let program = decode(&SplitMix(seed).bytes(400));
        let tape = Tape::for_replay();
        let nodes = record(&program, &tape);
        let mut replay = tape.compile(&[*nodes.last().unwrap()]).unwrap();
        let leaves = replay.inputs().to_vec();
        let new = new_values(&leaves, &mut SplitMix(seed + 1));
        let result = replay.check(&new, |tape, inputs| {
            let nodes = record(&with_leaves(&program, inputs), tape);
            vec![*nodes.last().unwrap()]
        });
        assert_eq!(result, Ok(()), "seed {seed}");
    }
}

// ---- The workloads, replayed --------------------------------------------------

/// W1 written with plain operators: replayed training against re-recorded
/// training, 200 steps, every weight compared at every step. Bit for bit: every
/// adjoint receives its contributions in the tape's order.
#[test]
fn w1_replayed_training_is_recorded_training() {
    let tape = Tape::for_replay();
    let w = tape.var_array(seed::WEIGHTS);
    let b = tape.var_array(seed::BIASES);
    let e = seed::error_ops(&w, b);
    let mut program = tape.compile(&[e]).unwrap();
    // 4 neurons, as two layers of two, and the error, its two squares (o − t)²
    // and their weighted sum, as one instruction.
    let stats = program.stats();
    assert_eq!((stats.neurons, stats.dots), (4, 1), "{stats:?}");
    assert_eq!((stats.instructions, stats.layers), (3, 2), "{stats:?}");

    let mut recorded = seed::WEIGHTS;
    let mut replayed = seed::WEIGHTS;
    let mut step_tape = Tape::new();
    for step in 0..200 {
        let e_recorded = seed::step_taped(&mut step_tape, &mut recorded, Spelling::Ops);
        program.inputs_mut()[..8].copy_from_slice(&replayed);
        program.forward();
        program.backward();
        let e_replayed = program.output(0);
        for (wk, gk) in replayed.iter_mut().zip(program.gradients()) {
            *wk -= seed::LEARNING_RATE * gk;
        }
        assert_eq!(
            e_replayed.to_bits(),
            e_recorded.to_bits(),
            "E at step {step}"
        );
        assert_eq!(replayed, recorded, "weights after step {step}");
    }
}

/// W2 with plain operators, one program for the whole epoch: 5 epochs replayed
/// against 5 recorded, parameters to 1e-12 relative (a hidden activation feeds
/// 16 weighted sums, whose contributions may reach it in another order).
#[test]
fn w2_replayed_epochs_follow_recorded_epochs() {
    let data = moons::data();
    let tape = Tape::for_replay();
    let start = moons::initial_parameters();
    let params = tape.vars(&start);
    let loss = moons::loss_ops(&params, &data);
    let mut program = tape.compile(&[loss]).unwrap();
    let stats = program.stats();
    // Per sample: 32 tanh neurons, the score's weighted sum with − label as
    // its last term, the square; then the sum of squares and / n.
    assert_eq!(stats.neurons, 3200, "{stats:?}");
    // Each sample's two layers of 16 neurons are one layer instruction each.
    assert_eq!(stats.layers, 200, "{stats:?}");
    assert_eq!(stats.instructions, 100 * 4 + 2, "{stats:?}");

    let mut recorded = start.clone();
    let mut replayed = start;
    let mut step_tape = Tape::new();
    let mut grads = Vec::new();
    for epoch in 0..5 {
        let l = moons::epoch_taped(
            &mut step_tape,
            &mut recorded,
            &data,
            &mut grads,
            Spelling::Ops,
        );
        program.set_inputs(&replayed);
        program.forward();
        program.backward();
        assert_eq!(
            program.output(0).to_bits(),
            l.to_bits(),
            "L at epoch {epoch}"
        );
        for (p, g) in replayed.iter_mut().zip(program.gradients()) {
            *p -= moons::LEARNING_RATE * g;
        }
        for (k, (a, b)) in replayed.iter().zip(&recorded).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * b.abs().max(1.0),
                "parameter {k} after epoch {epoch}: replay {a:e}, recorded {b:e}"
            );
        }
    }
}

// ---- Layers ---------------------------------------------------------------------

/// `f` recorded on `Tape::for_replay` at `start`, compiled with every pass and
/// with the neurons apart (no neuron pass, so no layers). At each of `inputs`:
/// the two programs' outputs and gradients equal bit for bit, the output
/// equals `f` recorded afresh bit for bit, and the gradients the tape's within
/// 1e-12 relative (a node read by several terms may get its contributions in
/// another order, as in `random_programs_replay_as_a_fresh_recording`).
/// Returns the stats of the program with every pass.
fn replays_as_apart_and_as_the_tape(
    f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>,
    start: &[f64],
    inputs: &[Vec<f64>],
) -> chainrule::replay::PassStats {
    let tape = Tape::for_replay();
    let leaves = tape.vars(start);
    let out = f(&leaves);
    let mut program = tape.compile(&[out]).unwrap();
    let apart = CompileOptions {
        fuse_neurons: false,
        ..CompileOptions::default()
    };
    let mut neurons_apart = tape.compile_with(&[out], apart).unwrap();
    assert_eq!(neurons_apart.stats().layers, 0);
    let bits = |g: &[f64]| g.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    for new in inputs {
        let fresh = Tape::new();
        let leaves = fresh.vars(new);
        let out = f(&leaves);
        let g = out.backward();
        let (value, gradients) = run(&mut program, new);
        let (value_apart, gradients_apart) = run(&mut neurons_apart, new);
        assert_eq!(value.to_bits(), value_apart.to_bits(), "value at {new:?}");
        assert_eq!(bits(&gradients), bits(&gradients_apart), "at {new:?}");
        assert_eq!(value.to_bits(), out.value().to_bits(), "value at {new:?}");
        for (k, (&ours, leaf)) in gradients.iter().zip(&leaves).enumerate() {
            let tape_says = g[*leaf];
            assert!(
                (ours - tape_says).abs() <= 1e-12 * tape_says.abs().max(1.0),
                "gradient {k} at {new:?}: replay {ours:e}, tape {tape_says:e}"
            );
        }
    }
    program.stats()
}

/// Inputs near `start`: scaled, shifted, some signs flipped.
fn moved(start: &[f64], rounds: u64) -> Vec<Vec<f64>> {
    (0..rounds)
        .map(|r| {
            let mut rng = SplitMix(r);
            start
                .iter()
                .map(|&v| {
                    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    if rng.next_u64() % 3 == 0 {
                        -v * (0.5 + u)
                    } else {
                        v * (0.5 + u) + u - 0.5
                    }
                })
                .collect()
        })
        .collect()
}

fn starting_values(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i * 7 + 3) % 11) as f64 / 5.5 - 1.0)
        .collect()
}

/// A 2-5-4-4 network: constant inputs, then variable ones; two terms, five and
/// four a neuron; sigmoid, relu (some neurons masked at some inputs), tanh; then
/// five weighted sums of the outputs without bias, side by side. Every layer is
/// one instruction, and replays as its neurons apart do.
#[test]
fn layers_of_every_shape_replay_as_their_neurons_apart() {
    const X: [f64; 2] = [0.3, -0.7];
    // Per neuron: its weights, then its bias.
    fn net<'t>(p: &[Var<'t>]) -> Var<'t> {
        let (p1, rest) = p.split_at(5 * 3);
        let (p2, rest) = rest.split_at(4 * 6);
        let (p3, p4) = rest.split_at(4 * 5);
        let h1: Vec<Var> = p1
            .chunks(3)
            .map(|wb| (wb[0] * X[0] + wb[1] * X[1] + wb[2]).sigmoid())
            .collect();
        let h2: Vec<Var> = p2
            .chunks(6)
            .map(|wb| {
                let mut z = wb[0] * h1[0];
                for i in 1..5 {
                    z += wb[i] * h1[i];
                }
                (z + wb[5]).relu()
            })
            .collect();
        let h3: Vec<Var> = p3
            .chunks(5)
            .map(|wb| {
                let mut z = wb[0] * h2[0];
                for i in 1..4 {
                    z += wb[i] * h2[i];
                }
                (z + wb[4]).tanh()
            })
            .collect();
        // Five weighted sums of the four outputs, no bias.
        let sums: Vec<Var> = p4
            .chunks(4)
            .map(|w| w[0] * h3[0] + w[1] * h3[1] + w[2] * h3[2] + w[3] * h3[3])
            .collect();
        let mut total = sums[0];
        for &s in &sums[1..] {
            total += s;
        }
        total
    }
    let start = starting_values(5 * 3 + 4 * 6 + 4 * 5 + 5 * 4);
    let stats = replays_as_apart_and_as_the_tape(net, &start, &moved(&start, 40));
    assert_eq!(stats.layers, 4, "{stats:?}");
}

/// Layers of two and three neurons of one to four terms, which run with their
/// shape known at compile time: every activation, as plain operators and as
/// the tape's fused neurons, over variable and constant inputs, with a bias of
/// their own each, one bias shared, or none. Each is one layer instruction and
/// replays as its neurons apart, bit for bit.
#[test]
fn small_layers_of_every_shape_replay_as_their_neurons_apart() {
    use chainrule::Activation;
    #[derive(Clone, Copy, Debug)]
    enum Bias {
        Own,
        Shared,
        None,
    }
    #[derive(Clone, Copy, Debug)]
    struct Shape {
        n: usize,
        k: usize,
        act: Activation,
        fused: bool,
        x_var: bool,
        bias: Bias,
    }
    const X: [f64; 4] = [0.3, -0.7, 1.1, -0.2];
    fn net<'t>(p: &[Var<'t>], s: Shape) -> Var<'t> {
        let leaf = p[0];
        let (x, rest) = if s.x_var {
            let (x, rest) = p.split_at(s.k);
            (x.to_vec(), rest)
        } else {
            (X[..s.k].iter().map(|&c| leaf.constant(c)).collect(), p)
        };
        let (w, b) = rest.split_at(s.n * s.k);
        let h: Vec<Var> = (0..s.n)
            .map(|j| {
                let wj = &w[j * s.k..(j + 1) * s.k];
                let bias = match s.bias {
                    Bias::Own => Some(b[j]),
                    Bias::Shared => Some(b[0]),
                    Bias::None => None,
                };
                if s.fused {
                    let zero = leaf.constant(0.0);
                    return Var::neuron(wj, &x, bias.unwrap_or(zero), s.act);
                }
                let mut z = wj[0] * x[0];
                for i in 1..s.k {
                    z += wj[i] * x[i];
                }
                if let Some(bias) = bias {
                    z += bias;
                }
                match s.act {
                    Activation::Identity => z,
                    Activation::Sigmoid => z.sigmoid(),
                    Activation::Tanh => z.tanh(),
                    Activation::Relu => z.relu(),
                    other => unreachable!("{other:?}"),
                }
            })
            .collect();
        // Each output read once, with its own weight: each its own adjoint.
        let mut total = h[0] * 0.5;
        for (j, &hj) in h.iter().enumerate().skip(1) {
            total += hj * (j as f64 - 1.25);
        }
        total
    }
    let mut layers = 0;
    for n in 2..=3 {
        for k in 1..=4 {
            for act in [
                Activation::Identity,
                Activation::Sigmoid,
                Activation::Tanh,
                Activation::Relu,
            ] {
                for (fused, x_var, bias) in [
                    (false, true, Bias::Own),
                    (false, false, Bias::Shared),
                    (false, true, Bias::None),
                    (true, false, Bias::Own),
                    (true, true, Bias::Shared),
                ] {
                    let shape = Shape {
                        n,
                        k,
                        act,
                        fused,
                        x_var,
                        bias,
                    };
                    let leaves = if x_var { k } else { 0 } + n * k + n;
                    let start = starting_values(leaves);
                    let stats = replays_as_apart_and_as_the_tape(
                        |p| net(p, shape),
                        &start,
                        &moved(&start, 12),
                    );
                    layers += stats.layers;
                    // A plain neuron of one term without bias is a product, no
                    // weighted sum; a fused neuron's zero bias is still a term.
                    let one_product = k == 1 && !fused && matches!(bias, Bias::None);
                    if !one_product {
                        assert_eq!(stats.layers, 1, "{shape:?}: {stats:?}");
                    }
                }
            }
        }
    }
    assert!(layers >= 2 * 4 * 4 * 4, "{layers}");
}

/// Layers of the tape's fused neurons (partials a′ · value), over constant
/// inputs and over variable ones.
#[test]
fn layers_of_the_tapes_fused_neurons_replay_as_those_apart() {
    use chainrule::Activation::{Relu, Tanh};
    const X: [f64; 2] = [0.3, -0.7];
    fn net<'t>(p: &[Var<'t>]) -> Var<'t> {
        let (p1, rest) = p.split_at(5 * 3);
        let (p2, p3) = rest.split_at(4 * 6);
        let h1: Vec<Var> = p1
            .chunks(3)
            .map(|wb| Var::neuron_const(&wb[..2], &X, wb[2], Tanh))
            .collect();
        let h2: Vec<Var> = p2
            .chunks(6)
            .map(|wb| Var::neuron(&wb[..5], &h1, wb[5], Relu))
            .collect();
        Var::weighted_sum(&p3[..4], &h2, p3[4])
    }
    let start = starting_values(5 * 3 + 4 * 6 + 5);
    let stats = replays_as_apart_and_as_the_tape(net, &start, &moved(&start, 40));
    assert_eq!(stats.layers, 2, "{stats:?}");
}

/// A layer whose neurons take two variable inputs: the inputs'
/// adjoints, carried across the neurons, reach them in the tape's order.
#[test]
fn a_layer_of_two_variable_inputs_replays_as_its_neurons_apart() {
    fn net<'t>(p: &[Var<'t>]) -> Var<'t> {
        let (x, rest) = p.split_at(2);
        let h: Vec<Var> = rest
            .chunks(3)
            .map(|wb| (wb[0] * x[0] + wb[1] * x[1] + wb[2]).tanh())
            .collect();
        let mut total = h[0] * h[0];
        for &v in &h[1..] {
            total += v * v;
        }
        total
    }
    let start = starting_values(2 + 6 * 3);
    let stats = replays_as_apart_and_as_the_tape(net, &start, &moved(&start, 40));
    assert_eq!(stats.layers, 1, "{stats:?}");
}

/// Neurons that square their own inputs (each weight is the input it
/// multiplies) share one run for weights and inputs: not a layer, whose
/// backward pass would write the runs' adjoints one over the other.
#[test]
fn neurons_whose_weights_are_their_inputs_are_no_layer() {
    fn net<'t>(p: &[Var<'t>]) -> Var<'t> {
        let (x, b) = p.split_at(2);
        let mut total = (x[0] * x[0] + x[1] * x[1] + b[0]).tanh();
        for &bj in &b[1..] {
            total += (x[0] * x[0] + x[1] * x[1] + bj).tanh();
        }
        total
    }
    let start = starting_values(2 + 5);
    let stats = replays_as_apart_and_as_the_tape(net, &start, &moved(&start, 20));
    assert_eq!((stats.layers, stats.neurons), (0, 5), "{stats:?}");
}

/// Neurons over inputs that differ (each its own pair of constants, or of
/// variables) stay apart.
#[test]
fn neurons_over_other_inputs_are_no_layer() {
    fn net<'t>(p: &[Var<'t>]) -> Var<'t> {
        let (x, rest) = p.split_at(10);
        let mut total = x[0] * 0.0;
        for (j, wb) in rest.chunks(3).enumerate() {
            let c = j as f64;
            total += (wb[0] * c + wb[1] * (c + 0.5) + wb[2]).tanh();
            total += (wb[0] * x[2 * j] + wb[1] * x[2 * j + 1] + wb[2]).tanh();
        }
        total
    }
    let start = starting_values(10 + 5 * 3);
    let stats = replays_as_apart_and_as_the_tape(net, &start, &moved(&start, 10));
    assert_eq!((stats.layers, stats.neurons), (0, 10), "{stats:?}");
}

// ---- Squared errors -----------------------------------------------------------

/// A loss of two squared errors, weighted, as one instruction: over two
/// outputs, and both over the same output (its adjoint gets the two
/// contributions in the tape's order). Values and gradients as the tape's, bit for
/// bit, and as the program without the dots pass.
#[test]
fn squared_errors_replay_as_the_tape() {
    fn two_outputs<'t>(p: &[Var<'t>]) -> Var<'t> {
        let o1 = (p[0] * p[1] + p[2]).sigmoid();
        let o2 = (p[0] * p[3] + p[4]).tanh();
        (o1 - 0.25).square() * 0.5 + (o2 - 0.75).square() * 0.125
    }
    fn one_output_twice<'t>(p: &[Var<'t>]) -> Var<'t> {
        let o = (p[0] * p[1] + p[2]).sigmoid();
        (o - 0.25).square() * 0.5 + (o - 0.75).square() * 3.0
    }
    let start = [0.5, -0.25, 0.75, 1.5, -0.5];
    for (name, f) in [
        (
            "two outputs",
            two_outputs as for<'t> fn(&[Var<'t>]) -> Var<'t>,
        ),
        ("one output twice", one_output_twice),
    ] {
        let tape = Tape::for_replay();
        let leaves = tape.vars(&start);
        let out = f(&leaves);
        let mut program = tape.compile(&[out]).unwrap();
        let no_dots = CompileOptions {
            fuse_dots: false,
            ..CompileOptions::default()
        };
        let mut apart = tape.compile_with(&[out], no_dots).unwrap();
        // The neurons, then the loss (whose squares and sum are one).
        let neurons = if name == "two outputs" { 2 } else { 1 };
        assert_eq!(program.stats().instructions, neurons + 1, "{name}");
        for new in moved(&start, 30) {
            let fresh = Tape::new();
            let fresh_leaves = fresh.vars(&new);
            let fresh_out = f(&fresh_leaves);
            let g = fresh_out.backward();
            let (value, gradients) = run(&mut program, &new);
            let (value_apart, gradients_apart) = run(&mut apart, &new);
            assert_eq!(value.to_bits(), fresh_out.value().to_bits(), "{name}");
            assert_eq!(value.to_bits(), value_apart.to_bits(), "{name}");
            for (k, leaf) in fresh_leaves.iter().enumerate() {
                assert_eq!(gradients[k].to_bits(), g[*leaf].to_bits(), "{name}: {k}");
                assert_eq!(
                    gradients[k].to_bits(),
                    gradients_apart[k].to_bits(),
                    "{name}"
                );
            }
        }
        // The squares' values are still there.
        for node in 0..tape.len() {
            if let (Some(replayed), Some(apart)) = (program.value(node), apart.value(node)) {
                assert_eq!(replayed.to_bits(), apart.to_bits(), "{name}: node {node}");
            }
        }
    }
}

/// A loss of two squared errors replays as the tape bit for bit where the
/// tape's adjoints of its squares and differences are ±0 or not finite. Its
/// kernel leaves out the tape's `0 +` on those two adjoints and its products
/// by 1 (the identity's derivative, ∂(x − t)/∂x), which is exact on what a
/// program shows (see `squared_errors_backward` in `src/replay/exec.rs`): so
/// where the tape's gradient is +0 the program's must be +0, not −0, and a
/// NaN or an infinity where the tape has one, also where the kernel's
/// reordering of a square's term would overflow (a NaN's sign and payload are
/// not compared: IEEE 754 does not fix them, and the replay never kept
/// them).
///
/// Programs of three leaves (run by a small program's loops) and of 73 (past
/// a small program's 64 slots: the general loops); the terms' operands in
/// consecutive slots (one run), apart, and one operand twice; every
/// combination of operands, weights and targets below, each seeded with 1
/// (`backward`) and with −1, −0, ∞ and NaN (`backward_with`, against the
/// tape of `loss * seed`, whose sweep seeds the loss with 0 + 1 · seed, as
/// the program's seed goes to a zero adjoint).
#[test]
fn squared_errors_replay_as_the_tape_at_zeros_and_non_finite_values() {
    /// Σ (x − t)² · c over the last three leaves, as `layout` picks the x.
    fn loss<'t>(tape: &'t Tape, leaves: &[f64], layout: &str, t: [f64; 2], c: [f64; 2]) -> Var<'t> {
        let v = tape.vars(leaves);
        let at = leaves.len() - 3;
        let x1 = match layout {
            "run" => v[at + 1],
            "apart" => v[at + 2],
            _ => v[at],
        };
        (v[at] - t[0]).square() * c[0] + (x1 - t[1]).square() * c[1]
    }
    // 1e308 − (−1e307) and 8e307 − 1e307 are past 2¹⁰²³ ≈ 8.99e307 and below
    // it (where doubling overflows and where it does not), and so is a
    // weight of 1e308 (the kernel doubles g·c: see `square_term`).
    let operands = [0.0, -0.0, 0.5, -1.5, 8e307, 1e308, f64::INFINITY, f64::NAN];
    let weights = [0.5, -0.5, -0.0, 0.75, 1e308, f64::INFINITY, f64::NAN];
    let targets = [(0.0, 0.5), (-1.5, 0.0), (-1e307, 1e307)];
    let seeds = [1.0, -1.0, -0.0, f64::NEG_INFINITY, f64::NAN];
    let mut compared = 0;
    for padding in [0usize, 70] {
        for layout in ["run", "apart", "twice"] {
            for &(t0, t1) in &targets {
                for &c0 in &weights {
                    for &c1 in &weights {
                        for &a in &operands {
                            for &b in &operands {
                                let mut leaves = vec![1.0; padding];
                                leaves.extend(match layout {
                                    "run" => [a, b, 2.0],
                                    _ => [a, 2.0, b],
                                });
                                let tape = Tape::for_replay();
                                let mut program = tape
                                    .compile(&[loss(&tape, &leaves, layout, [t0, t1], [c0, c1])])
                                    .unwrap();
                                assert_eq!(program.stats().instructions, 1, "one loss");
                                program.set_inputs(&leaves);
                                program.forward();
                                for &seed in &seeds {
                                    let fresh = Tape::new();
                                    let loss = loss(&fresh, &leaves, layout, [t0, t1], [c0, c1]);
                                    let g = if seed == 1.0 {
                                        program.backward();
                                        loss.backward()
                                    } else {
                                        program.backward_with(&[seed]);
                                        (loss * seed).backward()
                                    };
                                    assert!(same(program.output(0), loss.value()));
                                    for k in 0..leaves.len() {
                                        let (replayed, taped) =
                                            (program.gradients()[k], g.by_index(k));
                                        assert!(
                                            same(replayed, taped),
                                            "{layout}, {padding} leaves before, t = ({t0:e}, {t1:e}), \
                                             c = ({c0:e}, {c1:e}), x = ({a:e}, {b:e}), seed {seed}: \
                                             leaf {k} replays as {replayed:e}, the tape has {taped:e}"
                                        );
                                    }
                                    compared += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(compared, 2 * 3 * 3 * 7 * 7 * 8 * 8 * 5);
}

/// A square that is also an output, or read twice, stays an instruction of its
/// own.
#[test]
fn a_square_read_elsewhere_is_no_squared_error() {
    let tape = Tape::for_replay();
    let [a, b] = tape.var_array([0.5, 2.0]);
    let s1 = (a - 0.25).square();
    let s2 = (b - 0.75).square();
    let loss = s1 * 0.5 + s2 * 0.125;
    // s1 requested too: the sum and both squares stay apart.
    let mut program = tape.compile(&[loss, s1]).unwrap();
    assert_eq!(program.stats().instructions, 3);
    program.backward();
    assert_eq!(program.gradients(), &[0.5 * 2.0 * 0.25, 0.125 * 2.0 * 1.25]);
    // s2 read twice.
    let tape = Tape::for_replay();
    let [a, b] = tape.var_array([0.5, 2.0]);
    let s1 = (a - 0.25).square();
    let s2 = (b - 0.75).square();
    let loss = (s1 * 0.5 + s2 * 0.125) * s2;
    assert_eq!(tape.compile(&[loss]).unwrap().stats().instructions, 4);
}

// ---- Each pass ----------------------------------------------------------------

fn run(program: &mut Program, inputs: &[f64]) -> (f64, Vec<f64>) {
    program.set_inputs(inputs);
    program.forward();
    program.backward();
    (program.output(0), program.gradients().to_vec())
}

#[test]
fn dead_code_is_eliminated() {
    let tape = Tape::for_replay();
    let [x, y] = tape.var_array([1.0, 2.0]);
    let _unused = (x * y).exp().sin();
    let out = x * 3.0;
    let mut pruned = tape.compile(&[out]).unwrap();
    let mut kept = tape
        .compile_with(
            &[out],
            CompileOptions {
                eliminate_dead_code: false,
                ..CompileOptions::default()
            },
        )
        .unwrap();
    assert_eq!(pruned.stats().dead, 3);
    assert_eq!(pruned.stats().instructions, 1);
    assert_eq!(kept.stats().instructions, 4);
    assert_eq!(run(&mut pruned, &[2.0, 5.0]), (6.0, vec![3.0, 0.0]));
    assert_eq!(run(&mut kept, &[2.0, 5.0]), (6.0, vec![3.0, 0.0]));
}

#[test]
fn chains_of_products_and_sums_become_one_weighted_sum() {
    let tape = Tape::for_replay();
    let v = tape.vars(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    // ((a·b + c·2) − d) + e + 1, each intermediate used once.
    let y = v[0] * v[1] + v[2] * 2.0 - v[3] + v[4] + 1.0;
    let mut fused = tape.compile(&[y]).unwrap();
    let mut plain = tape
        .compile_with(
            &[y],
            CompileOptions {
                fuse_dots: false,
                ..CompileOptions::default()
            },
        )
        .unwrap();
    assert_eq!(fused.stats().instructions, 1);
    assert_eq!(fused.stats().dot_fusions, 1);
    assert_eq!(plain.stats().instructions, 6);
    let inputs = [0.5, -3.0, 0.25, 7.0, -1.5];
    let (value, gradient) = run(&mut fused, &inputs);
    let (a, b, c, d, e) = (0.5f64, -3.0f64, 0.25f64, 7.0f64, -1.5f64);
    assert_eq!(value, a * b + c * 2.0 - d + e + 1.0);
    assert_eq!(gradient, vec![b, a, 2.0, -1.0, 1.0]);
    assert_eq!(run(&mut plain, &inputs), (value, gradient));

    // A product of two variables subtracted stays an instruction of its own
    // (the module docs say so); a product by a constant is absorbed, negated.
    let tape = Tape::for_replay();
    let v = tape.vars(&[1.0, 2.0, 3.0, 4.0, 5.0]);
    let y = v[0] * v[1] - v[2] * v[3] + v[4];
    assert_eq!(tape.compile(&[y]).unwrap().stats().instructions, 2);
    let z = v[0] * v[1] - v[2] * 3.0 + v[4];
    assert_eq!(tape.compile(&[z]).unwrap().stats().instructions, 1);
}

#[test]
fn a_shared_or_requested_intermediate_is_not_absorbed() {
    let tape = Tape::for_replay();
    let [a, b, c] = tape.var_array([1.0, 2.0, 3.0]);
    let ab = a * b; // used twice: stays an instruction
    let y = ab + c + ab;
    let program = tape.compile(&[y]).unwrap();
    assert_eq!(program.stats().instructions, 2); // a·b, then one weighted sum
    let s = a * b + c; // requested as an output: stays
    let z = (s * 2.0).tanh();
    let program = tape.compile(&[z, s]).unwrap();
    assert_eq!(program.output(1), 5.0);
    assert!(program.value(s.index()).is_some());
}

#[test]
fn an_affine_map_then_an_activation_becomes_one_neuron() {
    let tape = Tape::for_replay();
    let w = tape.vars(&[0.15, 0.20, 0.35]);
    let [i1, i2] = [0.05, 0.10];
    let out_h1 = (w[0] * i1 + w[1] * i2 + w[2]).sigmoid();
    let mut fused = tape.compile(&[out_h1]).unwrap();
    let mut apart = tape
        .compile_with(
            &[out_h1],
            CompileOptions {
                fuse_neurons: false,
                ..CompileOptions::default()
            },
        )
        .unwrap();
    assert_eq!(
        (fused.stats().instructions, fused.stats().neuron_fusions),
        (1, 1)
    );
    assert_eq!(apart.stats().instructions, 2); // a weighted sum, then σ
    let inputs = [0.4, -0.3, 0.1];
    let (value, gradient) = run(&mut fused, &inputs);
    let net: f64 = 0.4 * i1 + -0.3 * i2 + 0.1;
    let s = 1.0 / (1.0 + (-net).exp());
    assert!((value - s).abs() < 1e-16);
    let ds = s * (1.0 - s);
    // σ′ to a few ulps: 1e-16 absolute on values below 1.
    for (g, x) in gradient.iter().zip([i1, i2, 1.0]) {
        assert!((g - ds * x).abs() < 1e-16, "{g} against {}", ds * x);
    }
    assert_eq!(run(&mut apart, &inputs), (value, gradient));
}

#[test]
fn relu_abs_max_min_and_clamp_pick_their_branch_afresh() {
    let tape = Tape::for_replay();
    let [x, y] = tape.var_array([1.0, 2.0]);
    let outputs = [
        x.relu(),
        x.abs(),
        x.max(y),
        x.min(y),
        x.clamp(-1.0, 1.0),
        x.max(0.5),
        x.min(0.5),
        x.leaky_relu(0.1),
    ];
    for (k, out) in outputs.iter().enumerate() {
        let mut program = tape.compile(&[*out]).unwrap();
        for (xv, yv) in [
            (3.0, 2.0),
            (-3.0, 2.0),
            (0.5, 0.5),
            (-0.5, -2.0),
            (1.0, 9.0),
        ] {
            let fresh = Tape::new();
            let [fx, fy] = fresh.var_array([xv, yv]);
            let f = [
                fx.relu(),
                fx.abs(),
                fx.max(fy),
                fx.min(fy),
                fx.clamp(-1.0, 1.0),
                fx.max(0.5),
                fx.min(0.5),
                fx.leaky_relu(0.1),
            ][k];
            let g = f.backward();
            program.set_inputs(&[xv, yv]);
            program.forward();
            program.backward();
            assert_eq!(program.output(0), f.value(), "output {k} at ({xv}, {yv})");
            assert_eq!(
                program.gradients(),
                &[g[fx], g[fy]],
                "output {k} at ({xv}, {yv})"
            );
        }
    }
}

/// A dead node that depends on no leaf is counted in `folded`, not in `dead`,
/// as `PassStats`' docs say; with folding off, in `dead`.
#[test]
fn a_dead_constant_node_counts_as_folded() {
    let tape = Tape::for_replay();
    let x = tape.var(2.0);
    let c = x.constant(3.0);
    let _dead = c.exp(); // no output depends on it, nor it on a leaf
    let _dead_too = x.sin(); // no output depends on it
    let y = x * 2.0;
    let folded = tape.compile(&[y]).unwrap().stats();
    assert_eq!((folded.dead, folded.folded), (1, 1));
    let options = CompileOptions {
        fold_constants: false,
        ..CompileOptions::default()
    };
    let unfolded = tape.compile_with(&[y], options).unwrap().stats();
    assert_eq!((unfolded.dead, unfolded.folded), (2, 0));
}

#[test]
fn constants_are_folded() {
    let tape = Tape::for_replay();
    let x = tape.var(2.0);
    let c = x.constant(3.0);
    let k = (c.exp() + 1.0).ln(); // depends on no leaf: three folded nodes
    let y = x * k;
    let mut folded = tape.compile(&[y]).unwrap();
    let mut unfolded = tape
        .compile_with(
            &[y],
            CompileOptions {
                fold_constants: false,
                ..CompileOptions::default()
            },
        )
        .unwrap();
    assert_eq!(folded.stats().folded, 3);
    assert_eq!(folded.stats().instructions, 1);
    assert_eq!(unfolded.stats().instructions, 4);
    let k_value = (3f64.exp() + 1.0).ln();
    assert_eq!(run(&mut folded, &[5.0]), (5.0 * k_value, vec![k_value]));
    assert_eq!(run(&mut unfolded, &[5.0]), (5.0 * k_value, vec![k_value]));
}

// ---- Constants ----------------------------------------------------------------

/// Every op with an `f64` constant keeps it when the tape asks, and not
/// otherwise; compiling without it names the node.
#[test]
fn every_op_with_a_constant_keeps_it_for_replay() {
    type Record = for<'t> fn(Var<'t>) -> Var<'t>;
    let ops: [(Op, Record); 17] = [
        (Op::AddConst, |x| x + 0.3),
        (Op::AddConst, |x| 0.3 + x),
        (Op::SubConst, |x| x - 0.3),
        (Op::ConstSub, |x| 0.3 - x),
        (Op::DivConst, |x| x / 0.3),
        (Op::ConstDiv, |x| 0.3 / x),
        (Op::LeakyRelu, |x| x.leaky_relu(0.3)),
        (Op::Log, |x| x.log(3.0)),
        (Op::MaxConst, |x| x.max(0.3)),
        (Op::MinConst, |x| x.min(0.3)),
        (Op::HypotConst, |x| x.hypot(0.3)),
        (Op::Clamp, |x| x.clamp(-0.3, 0.3)),
        (Op::Powi, |x| x.powi(3)),
        (Op::Powf, |x| x.powf(0.3)),
        (Op::Atan2Const, |x| x.atan2(0.3)),
        (Op::WeightedSumConst, |x| {
            Var::weighted_sum_const(&[x, x], &[0.3, 0.4], x)
        }),
        (Op::MeanSquaredError, |x| {
            Var::mean_squared_error(&[x, x], &[0.3, 0.4])
        }),
    ];
    for (op, f) in ops {
        // Kept: the replay matches a fresh recording at a new input.
        let tape = Tape::for_replay();
        let x = tape.var(0.7);
        let y = f(x);
        assert_eq!(tape.op(y.index()), op);
        let mut program = tape.compile(&[y]).unwrap();
        let fresh = Tape::new();
        let fx = fresh.var(-0.2);
        let fy = f(fx);
        program.set_inputs(&[-0.2]);
        program.forward();
        program.backward();
        assert!(same(program.output(0), fy.value()), "{op}");
        assert!(same(program.gradients()[0], fy.backward()[fx]), "{op}");
        // Not kept: a clear error, but for the ops that always keep theirs.
        let plain = Tape::new();
        let x = plain.var(0.7);
        let y = f(x);
        match plain.compile(&[y]) {
            Ok(_) => assert!(matches!(op, Op::Powi | Op::Powf | Op::Atan2Const), "{op}"),
            Err(e) => {
                assert_eq!(e, CompileError::MissingConstant { node: 1, op });
                assert!(e.to_string().contains("Tape::for_replay()"), "{e}");
            }
        }
    }
}

#[test]
fn compile_errors_are_clear() {
    let tape = Tape::for_replay();
    assert_eq!(tape.compile(&[]).unwrap_err(), CompileError::NoOutputs);
    let other = Tape::new();
    let x = other.var(1.0);
    let err = tape.compile(&[x]).unwrap_err();
    assert_eq!(err, CompileError::ForeignOutput { index: 0 });
    assert!(err.to_string().contains("another tape"), "{err}");
}

/// The foreign output's index is its node on its own tape, not its position
/// among the outputs: the message says so (it said "output #5" of the second
/// output, node 5 of the other tape).
#[test]
fn a_foreign_output_is_named_by_its_node() {
    let tape = Tape::for_replay();
    let a = tape.var(1.0);
    let other = Tape::for_replay();
    let _before = other.vars(&[1.0; 5]);
    let b = other.var(2.0);
    let err = tape.compile(&[a, b]).unwrap_err();
    assert_eq!(err, CompileError::ForeignOutput { index: 5 });
    let message = err.to_string();
    assert!(
        message.contains("an output of another tape (node #5 of that tape)"),
        "{message}"
    );
    assert!(!message.contains("output #5"), "{message}");
}

#[test]
#[should_panic(expected = "set_inputs was given 1 value for a program of 2 inputs")]
fn set_inputs_checks_the_length() {
    let tape = Tape::for_replay();
    let w = tape.vars(&[1.0, 2.0]);
    tape.compile(&[w[0] * w[1]]).unwrap().set_inputs(&[1.0]);
}

#[test]
#[should_panic(expected = "node #2 is not an input of this program")]
fn gradient_of_a_non_leaf_panics() {
    let tape = Tape::for_replay();
    let w = tape.vars(&[1.0, 2.0]);
    let y = w[0] * w[1];
    let _ = tape.compile(&[y]).unwrap().gradient(y.index());
}

#[test]
fn the_hook_costs_no_constant_on_an_ordinary_tape() {
    let tape = Tape::new();
    let x = tape.var(1.0);
    let _ = (x + 1.0).clamp(0.0, 2.0) / 3.0;
    // Only what a recorded backward pass always needed (none here) is kept.
    let kept = tape.memory_bytes();
    let keeping = Tape::for_replay();
    let x = keeping.var(1.0);
    let _ = (x + 1.0).clamp(0.0, 2.0) / 3.0;
    assert!(keeping.memory_bytes() > kept);
    assert!(!tape.keeps_constants() && keeping.keeps_constants());
}

// ---- Frozen control flow ------------------------------------------------------

fn branchy<T: Scalar>(x: T) -> T {
    // Value-dependent Rust control flow: frozen at recording time.
    if x.value() > 0.0 {
        x * 2.0
    } else {
        x * 3.0
    }
}

#[test]
fn check_reports_the_first_node_a_frozen_branch_changes() {
    fn record<'t>(tape: &'t Tape, inputs: &[f64]) -> Vec<Var<'t>> {
        let x = tape.var(inputs[0]);
        vec![branchy(x).sin()]
    }
    let tape = Tape::for_replay();
    let outputs = record(&tape, &[1.0]);
    let mut program = tape.compile(&outputs).unwrap();
    assert_eq!(program.check(&[4.0], record), Ok(()));
    let err = program.check(&[-4.0], record).unwrap_err();
    assert_eq!(
        err,
        Divergence::Constant {
            node: 1,
            op: Op::MulConst,
            replayed: vec![2.0],
            recorded: vec![3.0],
        }
    );
    assert!(err.to_string().contains("node #1"), "{err}");

    // A branch between two ops: an Op divergence.
    fn exp_or_sin<'t>(tape: &'t Tape, inputs: &[f64]) -> Vec<Var<'t>> {
        let x = tape.var(inputs[0]);
        vec![if x.value() > 0.0 { x.exp() } else { x.sin() }]
    }
    let tape = Tape::for_replay();
    let mut program = tape.compile(&exp_or_sin(&tape, &[1.0])).unwrap();
    assert_eq!(
        program.check(&[-1.0], exp_or_sin),
        Err(Divergence::Op {
            node: 1,
            replayed: Op::Exp,
            recorded: Op::Sin
        })
    );
}

/// A constant the function makes from its inputs is frozen into the program.
/// The check names the constant, the first node that differs, under every
/// option: also where the program keeps no slot for it, folded into the node
/// that reads it (it named that node, #2, with every pass on). A dead one,
/// which no output depends on, changes no output or gradient: no divergence
/// (a later review: a dead node was blamed as replayed).
#[test]
fn check_names_a_constant_the_program_folded_away() {
    type Record = for<'t> fn(&'t Tape, &[f64]) -> Vec<Var<'t>>;
    fn record<'t>(tape: &'t Tape, inputs: &[f64]) -> Vec<Var<'t>> {
        let x = tape.var(inputs[0]);
        let c = x.constant(inputs[0] * 2.0); // node 1
        vec![x * c.exp()] // nodes 2 and 3
    }
    fn record_dead<'t>(tape: &'t Tape, inputs: &[f64]) -> Vec<Var<'t>> {
        let x = tape.var(inputs[0]);
        let _unused = x.constant(inputs[0] * 2.0); // node 1
        vec![x * 3.0]
    }
    let expected = Err(Divergence::Value {
        node: 1,
        op: Op::Const,
        replayed: 2.0,
        recorded: 4.0,
    });
    for (f, expected) in [(record as Record, expected), (record_dead, Ok(()))] {
        let tape = Tape::for_replay();
        let outputs = f(&tape, &[1.0]);
        for options in every_option() {
            let mut program = tape.compile_with(&outputs, options).unwrap();
            assert_eq!(program.check(&[1.0], f), Ok(()), "{options:?}");
            assert_eq!(program.check(&[2.0], f), expected, "{options:?}");
        }
    }
}

/// A loop that runs until a value converges records more or fewer nodes at
/// other inputs: a `Shape` divergence either way.
#[test]
fn check_reports_a_longer_or_shorter_recording() {
    fn halve_below_one<'t>(tape: &'t Tape, inputs: &[f64]) -> Vec<Var<'t>> {
        let mut y = tape.var(inputs[0]);
        while y.value() > 1.0 {
            y *= 0.5;
        }
        vec![y]
    }
    let tape = Tape::for_replay();
    let mut program = tape.compile(&halve_below_one(&tape, &[3.0])).unwrap();
    assert_eq!(program.check(&[3.5], halve_below_one), Ok(()));
    let longer = Divergence::Shape {
        replayed: 3,
        recorded: 6,
    };
    assert_eq!(program.check(&[30.0], halve_below_one), Err(longer));
    let shorter = Divergence::Shape {
        replayed: 3,
        recorded: 1,
    };
    assert_eq!(program.check(&[0.5], halve_below_one), Err(shorter));
}

#[test]
#[should_panic(expected = "Program::check was given 2 inputs for a program of 1 input")]
fn check_names_itself_given_the_wrong_number_of_inputs() {
    let tape = Tape::for_replay();
    let x = tape.var(1.0);
    let mut program = tape.compile(&[x * 2.0]).unwrap();
    let _ = program.check(&[1.0, 2.0], |tape, inputs| vec![tape.var(inputs[0]) * 2.0]);
}

/// A function that returns a `Var` of another tape (here a `'static` one)
/// is refused by name (it was read as a node of the fresh tape: a slice
/// index panic past its end, or another node compared).
#[test]
#[should_panic(expected = "returned, as output 0, a Var of another tape")]
fn check_refuses_an_output_of_another_tape() {
    let other: &'static Tape = Box::leak(Box::new(Tape::for_replay()));
    let elsewhere = other.var(1.0) * 2.0;
    let tape = Tape::for_replay();
    let x = tape.var(1.0);
    let mut program = tape.compile(&[x * 2.0]).unwrap();
    let _ = program.check(&[1.0], move |tape, inputs| {
        let _ = tape.var(inputs[0]) * 2.0;
        vec![elsewhere]
    });
}

/// The README's snippet ("Record once, replay many"), verbatim but for the
/// wrapping function.
#[test]
fn the_readme_snippet_runs() {
    fn loss<T: Scalar>(w: &[T]) -> T {
        (w[0] * 0.5 + w[1] * 2.0 - 1.0).square()
    }

    let tape = Tape::for_replay(); // keeps every f64 constant an op needs
    let w = tape.vars(&[0.1, 0.2]);
    let mut program = tape
        .compile(&[loss(&w)])
        .expect("the tape keeps its constants");
    let mut params = [0.1, 0.2];
    for _ in 0..200 {
        program.set_inputs(&params); // the leaves, in recording order
        program.forward();
        program.backward();
        for (p, g) in params.iter_mut().zip(program.gradients()) {
            *p -= 0.1 * g;
        }
    }
    assert!(loss(&params) < 1e-20);
    let readme = include_str!("../README.md");
    assert!(readme.contains(
        "let mut program = tape.compile(&[loss(&w)]).expect(\"the tape keeps its constants\");"
    ));
}

/// Every combination of the passes, as `CompileOptions` spells them.
fn every_option() -> Vec<CompileOptions> {
    (0..16u8)
        .map(|bits| CompileOptions {
            eliminate_dead_code: bits & 1 != 0,
            fold_constants: bits & 2 != 0,
            fuse_dots: bits & 4 != 0,
            fuse_neurons: bits & 8 != 0,
        })
        .collect()
}

/// A node the output does not depend on passes nothing, whatever its
/// partials (rule 1 of the policy), under every option: without dead-code
/// elimination it is kept and runs forward, but the backward pass skips it,
/// as the tape's sweep does (it used to pass 0 · ∞ = NaN from `sqrt` at 0).
#[test]
fn dead_code_kept_passes_nothing_back() {
    let tape = Tape::for_replay();
    let x = tape.var(0.0);
    let _unused = x.sqrt(); // ∂ = ∞ at 0, on no path from y
    let y = x * 3.0;
    assert_eq!(y.backward()[x], 3.0);
    for options in every_option() {
        let mut program = tape.compile_with(&[y], options).unwrap();
        program.forward();
        program.backward();
        assert_eq!(program.gradients(), &[3.0], "{options:?}");
    }
    // A dead chain (a dead node read by another) and a live node read by a
    // dead one, at new inputs.
    let tape = Tape::for_replay();
    let v = tape.vars(&[1.0, 2.0]);
    let a = v[0] * v[1];
    let _dead = (a.sqrt() + v[1]).relu().ln();
    let y = (a + v[0]).tanh();
    for options in every_option() {
        let mut program = tape.compile_with(&[y], options).unwrap();
        program.set_inputs(&[0.0, 0.0]);
        program.forward();
        program.backward();
        let fresh = Tape::new();
        let w = fresh.vars(&[0.0, 0.0]);
        let b = w[0] * w[1];
        let _dead = (b.sqrt() + w[1]).relu().ln();
        let z = (b + w[0]).tanh();
        let g = z.backward();
        assert_eq!(program.gradients(), &[g[w[0]], g[w[1]]], "{options:?}");
        assert!(program.gradients().iter().all(|g| g.is_finite()));
    }
}

/// A relu over plain operators masks its own edge alone (rule 3), so the
/// product below it, with a zero adjoint, passes 0 · ∞ = NaN (rule 2), as the
/// tape does: the fused neuron follows the plain operators under every
/// option (it used to mask the whole neuron, giving 0), in the instruction, in
/// a small layer and in a layer, and still gives exactly 0 where every
/// factor is finite.
#[test]
fn a_fused_plain_relu_neuron_follows_the_tape_below_its_mask() {
    // One neuron: relu(x0·x1 + x2) at (−1, ∞, 0), and a longer one.
    for terms in [1usize, 2, 5] {
        let start: Vec<f64> = (0..2 * terms + 1).map(|k| 0.5 + k as f64).collect();
        let mut at = vec![-1.0; 2 * terms + 1];
        at[1] = f64::INFINITY;
        at[2 * terms] = 0.0;
        for values in [at.clone(), vec![-1.0; 2 * terms + 1]] {
            let expected = tape_gradient(&|t| plain_neuron(t, &values, terms));
            let tape = Tape::for_replay();
            let y = plain_neuron(&tape, &start, terms);
            for options in every_option() {
                let mut program = tape.compile_with(&[y], options).unwrap();
                program.set_inputs(&values);
                program.forward();
                program.backward();
                for (k, (&ours, &theirs)) in program.gradients().iter().zip(&expected).enumerate() {
                    assert!(
                        same(ours, theirs),
                        "{terms} terms at {values:?}, {options:?}: ∂/∂x{k} replays to {ours}, \
                         the tape says {theirs}"
                    );
                }
            }
        }
        assert!(tape_gradient(&|t| plain_neuron(t, &at, terms))
            .iter()
            .any(|g| g.is_nan()));
    }
    // A layer: n relu neurons over the same inputs, weights at a stride.
    for (n, k) in [(2usize, 2usize), (3, 4), (2, 2), (5, 2), (6, 7)] {
        let mut values = vec![-1.0; n * k + k];
        values[n * k] = f64::INFINITY; // x0
        values[1] = f64::NAN; // w0,1
        let expected = tape_gradient(&|t| plain_layer(t, &values, n, k));
        assert!(expected.iter().any(|g| g.is_nan()));
        let tape = Tape::for_replay();
        let start: Vec<f64> = (0..values.len()).map(|i| 0.25 + i as f64).collect();
        let y = plain_layer(&tape, &start, n, k);
        for options in every_option() {
            let mut program = tape.compile_with(&[y], options).unwrap();
            program.set_inputs(&values);
            program.forward();
            program.backward();
            for (i, (&ours, &theirs)) in program.gradients().iter().zip(&expected).enumerate() {
                assert!(
                    same(ours, theirs),
                    "layer {n}×{k}, {options:?}: ∂/∂v{i} replays to {ours}, the tape says {theirs}"
                );
            }
        }
    }
}

/// relu(x0·x1 + x2·x3 + … + bias) in plain operators, `terms` products.
fn plain_neuron<'t>(tape: &'t Tape, values: &[f64], terms: usize) -> Var<'t> {
    let x = tape.vars(values);
    let mut z = x[0] * x[1];
    for k in 1..terms {
        z += x[2 * k] * x[2 * k + 1];
    }
    (z + x[2 * terms]).relu()
}

/// The sum of `n` relu neurons of `k` terms in plain operators over the same
/// inputs (the last `k` values), the weights first.
fn plain_layer<'t>(tape: &'t Tape, values: &[f64], n: usize, k: usize) -> Var<'t> {
    let v = tape.vars(values);
    let (w, x) = v.split_at(n * k);
    let outs: Vec<Var> = (0..n)
        .map(|j| {
            let mut z = w[j * k] * x[0];
            for i in 1..k {
                z += w[j * k + i] * x[i];
            }
            z.relu()
        })
        .collect();
    outs.iter().fold(outs[0] * 0.0, |s, &o| s + o)
}

/// The tape's gradient of what `record` records, by leaf.
fn tape_gradient(record: &dyn for<'t> Fn(&'t Tape) -> Var<'t>) -> Vec<f64> {
    let tape = Tape::new();
    let y = record(&tape);
    let g = y.backward();
    (0..tape.len())
        .filter(|&i| tape.op(i) == Op::Leaf)
        .map(|i| g.by_index(i))
        .collect()
}

/// Small layers chained where the layer after reads only part of a layer's
/// outputs and the rest is used elsewhere (found by a review: the backward
/// pass took every output's adjoint from the registers the reader left,
/// which held only the part it read). Three tanh neurons, of which two feed
/// two sigmoid neurons and the third the output: it replays as the tape, at
/// 40 points (`replays_as_apart_and_as_the_tape`). (A loss reading two of
/// three outputs, the third an output too, is in the unit test
/// `chained_small_layers_run_as_the_loops`: with one output, as here, the
/// third joins the loss's sum and the program is not small.)
#[test]
fn small_layers_read_in_part_replay_as_the_tape() {
    /// `w[0]·a + w[1]·b + w[2]`, one neuron's weighted sum.
    fn z<'t>(w: &[Var<'t>], a: Var<'t>, b: Var<'t>) -> Var<'t> {
        w[0] * a + w[1] * b + w[2]
    }
    fn third_hidden_to_the_output<'t>(p: &[Var<'t>]) -> Var<'t> {
        let [h0, h1, h2] = [2, 5, 8].map(|at| z(&p[at..], p[0], p[1]).tanh());
        let [o0, o1] = [11, 14].map(|at| z(&p[at..], h0, h1).sigmoid());
        o0 + o1 + h2
    }
    let start = starting_values(17);
    let f = third_hidden_to_the_output;
    let stats = replays_as_apart_and_as_the_tape(f, &start, &moved(&start, 40));
    assert_eq!((stats.layers, stats.instructions), (2, 3));
}

/// A loss summed in a loop (`s = s + term`) is a chain of sums, each the left
/// operand of the next: dot fusion walked it with a call per link, and a
/// chain of ~60,000 overflowed the stack (an abort, not a panic). 200,000
/// links here, on a test thread's smaller stack; values bit for bit, and
/// gradients to 1e-12 relative (a fused sum may add in another order).
/// Found by a fresh user's review.
#[test]
fn a_sum_chain_of_200_000_links_compiles_and_replays() {
    let tape = Tape::for_replay();
    let v = tape.vars(&[0.5, -1.25, 2.0]);
    let mut s = v[0] * 1.0;
    for i in 0..200_000 {
        s = if i % 2 == 0 {
            s + v[i % 3]
        } else {
            s + (v[i % 3] - 0.5).square()
        };
    }
    let g = s.backward();
    let expected: Vec<f64> = v.iter().map(|&x| g[x]).collect();
    let mut program = tape.compile(&[s]).expect("compiles");
    assert_eq!(program.output(0).to_bits(), s.value().to_bits());
    program.backward();
    for (k, (&got, &want)) in program.gradients().iter().zip(&expected).enumerate() {
        assert!(
            (got - want).abs() <= 1e-12 * want.abs(),
            "x{k}: {got} vs {want}"
        );
    }
}

/// Inputs set between a forward and a backward pass wait for the next forward
/// pass: the backward pass is the gradient at the inputs of the last forward
/// pass, as `Program::backward` documents, bit for bit the gradient of a
/// program that never saw the new inputs. Before, the new inputs went straight
/// into the slots that the weighted sums' backward passes read, while the
/// one-operand partials stayed the forward pass's: `x·y + sin x` at (1, 2),
/// with (3, 4) set before `backward`, gave ∂/∂x = 4 + cos 1 (neither point's)
/// and ∂/∂y = 3. The outputs and `value` stay the last forward pass's too.
#[test]
fn inputs_set_after_a_forward_pass_wait_for_the_next_one() {
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        v[0] * v[1] + v[0].sin() + v[1].exp() * v[0]
    }
    let compile = |at: &[f64]| {
        let tape = Tape::for_replay();
        let v = tape.vars(at);
        tape.compile(&[f(&v)]).expect("compiles")
    };
    let mut program = compile(&[0.5, -0.25]);
    let mut fresh = compile(&[0.5, -0.25]);
    for (at, next) in [([1.0, 2.0], [3.0, 4.0]), ([-2.0, 0.5], [7.0, -1.0])] {
        program.set_inputs(&at);
        program.forward();
        program.set_inputs(&next);
        assert_eq!(program.inputs(), &next, "the inputs read back as set");
        program.backward();
        fresh.set_inputs(&at);
        fresh.forward();
        fresh.backward();
        let bits = |p: &Program| {
            p.gradients()
                .iter()
                .map(|g| g.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(bits(&program), bits(&fresh), "the gradient at {at:?}");
        assert_eq!(program.output(0).to_bits(), fresh.output(0).to_bits());
        // set_input alike.
        program.set_input(0, 100.0); // node 0: x
        program.backward();
        assert_eq!(bits(&program), bits(&fresh), "after set_input, at {at:?}");
        program.inputs_mut()[1] = -100.0;
        program.backward();
        assert_eq!(bits(&program), bits(&fresh), "after inputs_mut, at {at:?}");
        // The next forward pass takes them.
        program.forward();
        assert_eq!(program.inputs(), &[100.0, -100.0]);
        assert!(!same(program.output(0), fresh.output(0)));
    }
}

/// A gradient recorded at an infinite input holds its partials' limits as
/// constants (hypot's at (∞, 1) are (1, 0)), so replayed elsewhere it gives
/// those constants: documented as frozen, and `Program::check` at the new
/// inputs names the node (from a new user's review).
#[test]
fn a_gradient_recorded_at_an_infinite_input_is_frozen_and_check_says_so() {
    use chainrule::{Tape, Var};
    fn hypot_gradient<'t>(tape: &'t Tape, at: &[f64]) -> Vec<Var<'t>> {
        let (x, y) = (tape.var(at[0]), tape.var(at[1]));
        tape.grad(x.hypot(y), &[x, y])
    }
    fn tanh_gradient<'t>(tape: &'t Tape, at: &[f64]) -> Vec<Var<'t>> {
        let x = tape.var(at[0]);
        tape.grad(x.tanh(), &[x])
    }
    let tape = Tape::for_replay();
    let mut program = tape
        .compile(&hypot_gradient(&tape, &[f64::INFINITY, 1.0]))
        .unwrap();
    program.set_inputs(&[3.0, 4.0]);
    program.forward();
    // The recording point's limits, not (0.6, 0.8).
    assert_eq!((program.output(0), program.output(1)), (1.0, 0.0));
    assert!(program.check(&[3.0, 4.0], hypot_gradient).is_err());
    let tape = Tape::for_replay();
    let mut program = tape
        .compile(&tanh_gradient(&tape, &[f64::INFINITY]))
        .unwrap();
    program.set_inputs(&[0.0]);
    program.forward();
    assert!(program.output(0) != 1.0);
    assert!(program.check(&[0.0], tanh_gradient).is_err());
}
