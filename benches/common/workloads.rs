//! The benchmark workloads W1–W3, exactly as `benches/WORKLOADS.md` defines them.
//!
//! This is the project's benchmark suite, not part of the library: it is one file,
//! compiled into each target that needs it (the benches, the workload runner
//! `examples/workloads.rs`, other examples and the tests) with
//! `#[path = ".../benches/common/workloads.rs"] mod workloads;`. It uses only the
//! library's public API (the tape, not `nn`).
//!
//! Each workload comes three ways, so that they can be timed side by side:
//!
//! - **primal**: the generic [`Scalar`] code on `f64`, no derivatives;
//! - **taped**: the very same generic code on [`Var`], recorded and swept backwards;
//! - **hand-coded**: the forward pass plus a backward pass written out by hand (the
//!   chain rule derived on paper), no tape: the speed limit for a scalar engine.
//!
//! W1 and W2 are also replayed: recorded once, compiled (`chainrule::replay`),
//! then run forward and backward at each step's parameters.
//!
//! Each has two spellings: with the plain operators only (`*_ops`), and with fused
//! nodes (`*_fused`: a whole neuron as one node with [`Scalar::neuron`], the loss as
//! one node).
//! Both compute the same values in the same order of floating-point operations.
//!
//! The reference results live here too, and the tests hold every version to them
//! (`tests/workloads.rs`).

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::SplitMix64;

use chainrule::replay::Program;
use chainrule::{Activation, Scalar, Tape, Var};

/// How a workload is written: with the plain operators only, or with each
/// neuron's weighted sum fused into one node ([`Scalar::weighted_sum`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spelling {
    /// Plain operators: every `*` and `+` is a node.
    Ops,
    /// A whole neuron (the chain's step) and the loss are one node each.
    Fused,
}

/// A uniform draw in [0, 1) from SplitMix64, as `benches/WORKLOADS.md` defines it:
/// the top 53 bits of `next_u64`, divided by 2^53.
///
/// The same function as the library's `chainrule::nn::init::uniform`, kept here so
/// that the workloads need only the tape; `tests/nn_init.rs` holds the two to the
/// same bits.
pub fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// W1 `mazur`: the 2-2-2 sigmoid network of the classic step-by-step
/// backpropagation example, trained for 10,000 steps.
pub mod seed {
    use super::*;

    /// Inputs i1, i2.
    pub const INPUTS: [f64; 2] = [0.05, 0.10];
    /// Targets o1, o2.
    pub const TARGETS: [f64; 2] = [0.01, 0.99];
    /// Initial weights w1..w8.
    pub const WEIGHTS: [f64; 8] = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55];
    /// The shared biases b1 (hidden layer) and b2 (output layer); never updated.
    pub const BIASES: [f64; 2] = [0.35, 0.60];
    /// The learning rate.
    pub const LEARNING_RATE: f64 = 0.5;
    /// Training steps.
    pub const STEPS: usize = 10_000;

    /// E at the first forward pass.
    pub const REFERENCE_E0: f64 = 0.2983711087600027;
    /// out_h1 at the first forward pass.
    pub const REFERENCE_OUT_H1: f64 = 0.5932699921071872;
    /// out_o1 at the first forward pass.
    pub const REFERENCE_OUT_O1: f64 = 0.7513650695523157;
    /// out_o2 at the first forward pass.
    pub const REFERENCE_OUT_O2: f64 = 0.7729284653214625;
    /// dE/dw5 at the first forward pass.
    pub const REFERENCE_DE_DW5: f64 = 0.08216704056423077;
    /// dE/dw1 at the first forward pass.
    pub const REFERENCE_DE_DW1: f64 = 0.0004385677344743465;
    /// w5 after the first update.
    pub const REFERENCE_W5_AFTER_1: f64 = 0.35891647971788465;
    /// w1 after the first update.
    pub const REFERENCE_W1_AFTER_1: f64 = 0.1497807161327628;
    /// E at the second forward pass.
    pub const REFERENCE_E1: f64 = 0.29102777369359933;
    /// E at the forward pass after 10,000 steps.
    pub const REFERENCE_E_FINAL: f64 = 3.510187782978859e-05;

    /// The total error E with the plain operators (each op one node).
    pub fn error_ops<T: Scalar>(w: &[T; 8], b: [T; 2]) -> T {
        let [i1, i2] = INPUTS;
        let net_h1 = w[0] * i1 + w[1] * i2 + b[0];
        let net_h2 = w[2] * i1 + w[3] * i2 + b[0];
        let (out_h1, out_h2) = (net_h1.sigmoid(), net_h2.sigmoid());
        let net_o1 = w[4] * out_h1 + w[5] * out_h2 + b[1];
        let net_o2 = w[6] * out_h1 + w[7] * out_h2 + b[1];
        let (out_o1, out_o2) = (net_o1.sigmoid(), net_o2.sigmoid());
        (out_o1 - TARGETS[0]).square() * 0.5 + (out_o2 - TARGETS[1]).square() * 0.5
    }

    /// The total error E with each neuron as one node and E as one node.
    pub fn error_fused<T: Scalar>(w: &[T; 8], b: [T; 2]) -> T {
        let hidden = [
            T::neuron_const(&w[0..2], &INPUTS, b[0], Activation::Sigmoid),
            T::neuron_const(&w[2..4], &INPUTS, b[0], Activation::Sigmoid),
        ];
        let outputs = [
            T::neuron(&w[4..6], &hidden, b[1], Activation::Sigmoid),
            T::neuron(&w[6..8], &hidden, b[1], Activation::Sigmoid),
        ];
        T::half_squared_error(&outputs, &TARGETS)
    }

    /// One training step on a tape (cleared first, so reused across steps): the
    /// forward pass ([`error_ops`] or [`error_fused`]), the
    /// backward sweep, and `w -= 0.5 · dE/dw`. Returns E before the update.
    pub fn step_taped(tape: &mut Tape, w: &mut [f64; 8], spelling: Spelling) -> f64 {
        tape.clear();
        let wv = tape.var_array(*w);
        let b = tape.var_array(BIASES);
        let e = match spelling {
            Spelling::Ops => error_ops(&wv, b),
            Spelling::Fused => error_fused(&wv, b),
        };
        let g = e.backward();
        for (wk, v) in w.iter_mut().zip(wv) {
            *wk -= LEARNING_RATE * g[v];
        }
        e.value()
    }

    /// One training step written the way people write it in their own crate:
    /// the weights made `Var`s one at a time, the inputs, biases and targets as
    /// plain `f64` constants, `0.5 * (t - o).powi(2)` for each error term, and
    /// `g.wrt(v[k])` per weight. The same numbers as [`step_taped`] with the plain
    /// operators (the biases are never updated, so they may be constants).
    /// Returns E before the update.
    pub fn step_as_users_write_it(tape: &mut Tape, w: &mut [f64; 8]) -> f64 {
        tape.clear();
        let v = w.map(|x| tape.var(x));
        let [i1, i2] = INPUTS;
        let [b1, b2] = BIASES;
        let [t1, t2] = TARGETS;
        let h1 = (v[0] * i1 + v[1] * i2 + b1).sigmoid();
        let h2 = (v[2] * i1 + v[3] * i2 + b1).sigmoid();
        let o1 = (v[4] * h1 + v[5] * h2 + b2).sigmoid();
        let o2 = (v[6] * h1 + v[7] * h2 + b2).sigmoid();
        let e = 0.5 * (t1 - o1).powi(2) + 0.5 * (t2 - o2).powi(2);
        let g = e.backward();
        for k in 0..8 {
            w[k] -= LEARNING_RATE * g.wrt(v[k]);
        }
        e.value()
    }

    /// E recorded once (at the initial weights) and compiled for replay
    /// (`chainrule::replay`): the eight weights are its first eight inputs.
    pub fn replay_program(spelling: Spelling) -> Program {
        let tape = Tape::for_replay();
        let wv = tape.var_array(WEIGHTS);
        let b = tape.var_array(BIASES);
        let e = match spelling {
            Spelling::Ops => error_ops(&wv, b),
            Spelling::Fused => error_fused(&wv, b),
        };
        tape.compile(&[e])
            .expect("W1 records on a tape that keeps its constants")
    }

    /// One training step replayed: the weights in, forward, backward, and
    /// `w -= 0.5 · dE/dw`. Returns E before the update.
    pub fn step_replayed(program: &mut Program, w: &mut [f64; 8]) -> f64 {
        program.inputs_mut()[..8].copy_from_slice(w);
        program.forward();
        program.backward();
        for (wk, gk) in w.iter_mut().zip(program.gradients()) {
            *wk -= LEARNING_RATE * gk;
        }
        program.output(0)
    }

    /// One training step on the program as native code (feature `jit`), as
    /// [`step_replayed`]. Returns E before the update.
    #[cfg(feature = "jit")]
    pub fn step_native(native: &mut chainrule::replay::Native, w: &mut [f64; 8]) -> f64 {
        native.inputs_mut()[..8].copy_from_slice(w);
        native.forward();
        native.backward();
        for (wk, gk) in w.iter_mut().zip(native.gradients()) {
            *wk -= LEARNING_RATE * gk;
        }
        native.output(0)
    }

    /// One training step by hand: the forward pass, the backward pass as the
    /// article derives it, and the update. Returns E before the update.
    pub fn step_hand(w: &mut [f64; 8]) -> f64 {
        let [i1, i2] = INPUTS;
        let [b1, b2] = BIASES;
        let [t1, t2] = TARGETS;
        let out_h1 = (w[0] * i1 + w[1] * i2 + b1).sigmoid();
        let out_h2 = (w[2] * i1 + w[3] * i2 + b1).sigmoid();
        let out_o1 = (w[4] * out_h1 + w[5] * out_h2 + b2).sigmoid();
        let out_o2 = (w[6] * out_h1 + w[7] * out_h2 + b2).sigmoid();
        let e = (out_o1 - t1).square() * 0.5 + (out_o2 - t2).square() * 0.5;

        let delta_o1 = (out_o1 - t1) * out_o1 * (1.0 - out_o1);
        let delta_o2 = (out_o2 - t2) * out_o2 * (1.0 - out_o2);
        let delta_h1 = (delta_o1 * w[4] + delta_o2 * w[6]) * out_h1 * (1.0 - out_h1);
        let delta_h2 = (delta_o1 * w[5] + delta_o2 * w[7]) * out_h2 * (1.0 - out_h2);
        let grads = [
            delta_h1 * i1,
            delta_h1 * i2,
            delta_h2 * i1,
            delta_h2 * i2,
            delta_o1 * out_h1,
            delta_o1 * out_h2,
            delta_o2 * out_h1,
            delta_o2 * out_h2,
        ];
        for (wk, gk) in w.iter_mut().zip(grads) {
            *wk -= LEARNING_RATE * gk;
        }
        e
    }

    /// The primal forward pass alone, on `f64`.
    pub fn error_primal(w: &[f64; 8]) -> f64 {
        error_ops(w, BIASES)
    }
}

/// W2 `moons`: a 2-16-16-1 tanh MLP on 100 two-moons points, full-batch gradient
/// descent for 100 epochs.
pub mod moons {
    use super::*;

    /// Number of samples.
    pub const SAMPLES: usize = 100;
    /// Layer sizes.
    pub const LAYERS: [usize; 4] = [2, 16, 16, 1];
    /// Learning rate.
    pub const LEARNING_RATE: f64 = 0.05;
    /// Epochs.
    pub const EPOCHS: usize = 100;
    /// L at epoch 0, before any update.
    pub const REFERENCE_L0: f64 = 1.2507985569686233;
    /// L at epoch 99, before its update.
    pub const REFERENCE_L99: f64 = 0.07843044081254251;
    /// Points whose sign(score) matches the label at epoch 99.
    pub const REFERENCE_CORRECT: usize = 99;
    /// Number of parameters: per neuron its weights, then its bias.
    pub const PARAMETERS: usize = 16 * 3 + 16 * 17 + 17;

    /// One sample: the point and its label (+1 or −1).
    #[derive(Clone, Copy, Debug, PartialEq)]
    pub struct Sample {
        /// The point.
        pub x: [f64; 2],
        /// The label, +1 or −1.
        pub label: f64,
    }

    /// The 100 noisy two-moons points, from SplitMix64(7).
    pub fn data() -> Vec<Sample> {
        let mut rng = SplitMix64::seed_from_u64(7);
        (0..SAMPLES)
            .map(|k| {
                let t = std::f64::consts::PI * (k % 50) as f64 / 49.0;
                let (mut x, mut y, label) = if k < 50 {
                    (t.cos(), t.sin(), 1.0)
                } else {
                    (1.0 - t.cos(), 0.5 - t.sin(), -1.0)
                };
                x += 0.1 * (2.0 * uniform(&mut rng) - 1.0);
                y += 0.1 * (2.0 * uniform(&mut rng) - 1.0);
                Sample { x: [x, y], label }
            })
            .collect()
    }

    /// The initial parameters from SplitMix64(42): layer by layer, neuron by
    /// neuron, its weights in input order as 2u − 1, then its bias 0.
    pub fn initial_parameters() -> Vec<f64> {
        let mut rng = SplitMix64::seed_from_u64(42);
        let mut p = Vec::with_capacity(PARAMETERS);
        for layer in LAYERS.windows(2) {
            for _ in 0..layer[1] {
                for _ in 0..layer[0] {
                    p.push(2.0 * uniform(&mut rng) - 1.0);
                }
                p.push(0.0);
            }
        }
        p
    }

    /// z = ((w0·a0 + w1·a1) + …) + b with the plain operators.
    fn neuron_ops<T: Scalar>(wb: &[T], a: &[T]) -> T {
        let (w, b) = wb.split_at(a.len());
        let mut z = w[0] * a[0];
        for i in 1..a.len() {
            z += w[i] * a[i];
        }
        z + b[0]
    }

    /// The score of one point, with the plain operators.
    pub fn score_ops<T: Scalar>(p: &[T], x: [f64; 2]) -> T {
        let mut h1 = [p[0]; 16];
        for (j, h) in h1.iter_mut().enumerate() {
            let wb = &p[3 * j..3 * j + 3];
            *h = (wb[0] * x[0] + wb[1] * x[1] + wb[2]).tanh();
        }
        let p2 = &p[48..];
        let mut h2 = h1;
        for (j, h) in h2.iter_mut().enumerate() {
            *h = neuron_ops(&p2[17 * j..17 * j + 17], &h1).tanh();
        }
        neuron_ops(&p[48 + 16 * 17..], &h2)
    }

    /// The score of one point, each neuron one node.
    pub fn score_fused<T: Scalar>(p: &[T], x: [f64; 2]) -> T {
        let mut h1 = [p[0]; 16];
        for (j, h) in h1.iter_mut().enumerate() {
            *h = T::neuron_const(&p[3 * j..3 * j + 2], &x, p[3 * j + 2], Activation::Tanh);
        }
        let mut h2 = h1;
        T::layer(&p[48..48 + 16 * 17], &h1, Activation::Tanh, &mut h2);
        let wb = &p[48 + 16 * 17..];
        T::weighted_sum(&wb[..16], &h2, wb[16])
    }

    /// L = (Σ (score − label)²) / n, summed over the samples in order, with the
    /// plain operators.
    pub fn loss_ops<T: Scalar>(p: &[T], data: &[Sample]) -> T {
        let terms = data.iter().map(|s| (score_ops(p, s.x) - s.label).square());
        terms.sum::<T>() / data.len() as f64
    }

    /// L with each neuron one node and the loss one node.
    pub fn loss_fused<T: Scalar>(
        p: &[T],
        data: &[Sample],
        scores: &mut Vec<T>,
        labels: &mut Vec<f64>,
    ) -> T {
        scores.clear();
        labels.clear();
        for s in data {
            scores.push(score_fused(p, s.x));
            labels.push(s.label);
        }
        T::mean_squared_error(scores, labels)
    }

    /// One epoch on a tape (cleared first): forward all samples, backward from L,
    /// `p -= 0.05 · dL/dp`. Returns L before the update. `grads` is a buffer reused
    /// across epochs.
    pub fn epoch_taped(
        tape: &mut Tape,
        p: &mut [f64],
        data: &[Sample],
        grads: &mut Vec<f64>,
        spelling: Spelling,
    ) -> f64 {
        tape.clear();
        let l = {
            let params: Vec<Var> = p.iter().map(|&v| tape.var(v)).collect();
            let l = match spelling {
                Spelling::Ops => loss_ops(&params, data),
                Spelling::Fused => loss_fused(&params, data, &mut Vec::new(), &mut Vec::new()),
            };
            let g = l.backward();
            grads.clear();
            grads.extend(params.iter().map(|&v| g[v]));
            l.value()
        };
        for (pk, gk) in p.iter_mut().zip(grads.iter()) {
            *pk -= LEARNING_RATE * gk;
        }
        l
    }

    /// L recorded once (at the initial parameters) and compiled for replay
    /// (`chainrule::replay`): the parameters are its inputs.
    pub fn replay_program(data: &[Sample], spelling: Spelling) -> Program {
        let tape = Tape::for_replay();
        let params = tape.vars(&initial_parameters());
        let l = match spelling {
            Spelling::Ops => loss_ops(&params, data),
            Spelling::Fused => loss_fused(&params, data, &mut Vec::new(), &mut Vec::new()),
        };
        tape.compile(&[l])
            .expect("W2 records on a tape that keeps its constants")
    }

    /// One epoch replayed: the parameters in, forward, backward,
    /// `p -= 0.05 · dL/dp`. Returns L before the update.
    pub fn epoch_replayed(program: &mut Program, p: &mut [f64]) -> f64 {
        program.set_inputs(p);
        program.forward();
        program.backward();
        for (pk, gk) in p.iter_mut().zip(program.gradients()) {
            *pk -= LEARNING_RATE * gk;
        }
        program.output(0)
    }

    /// One epoch by hand: forward and backward per sample, written out, then the
    /// update. Returns L before the update. `grads` is a buffer reused across epochs.
    pub fn epoch_hand(p: &mut [f64], data: &[Sample], grads: &mut Vec<f64>) -> f64 {
        grads.clear();
        grads.resize(p.len(), 0.0);
        let n = data.len() as f64;
        let mut total = None::<f64>;
        let (p1, rest) = p.split_at(48);
        let (p2, p3) = rest.split_at(16 * 17);
        let (g1, grest) = grads.split_at_mut(48);
        let (g2, g3) = grest.split_at_mut(16 * 17);
        for s in data {
            let mut h1 = [0.0; 16];
            for j in 0..16 {
                let wb = &p1[3 * j..3 * j + 3];
                h1[j] = (wb[0] * s.x[0] + wb[1] * s.x[1] + wb[2]).tanh();
            }
            let mut h2 = [0.0; 16];
            for j in 0..16 {
                let wb = &p2[17 * j..17 * j + 17];
                h2[j] = neuron_ops(wb, &h1).tanh();
            }
            let score = neuron_ops(p3, &h2);
            let r = score - s.label;
            let sq = r * r;
            total = Some(total.map_or(sq, |t| t + sq));

            // Backward: dL/dscore = 2 r / n.
            let d_score = 2.0 * r / n;
            let mut d_h2 = [0.0; 16];
            for j in 0..16 {
                g3[j] += d_score * h2[j];
                d_h2[j] = d_score * p3[j];
            }
            g3[16] += d_score;
            let mut d_h1 = [0.0; 16];
            for j in 0..16 {
                let d_z = d_h2[j] * (1.0 - h2[j] * h2[j]);
                let wb = &p2[17 * j..17 * j + 17];
                let gb = &mut g2[17 * j..17 * j + 17];
                for i in 0..16 {
                    gb[i] += d_z * h1[i];
                    d_h1[i] += d_z * wb[i];
                }
                gb[16] += d_z;
            }
            for j in 0..16 {
                let d_z = d_h1[j] * (1.0 - h1[j] * h1[j]);
                let gb = &mut g1[3 * j..3 * j + 3];
                gb[0] += d_z * s.x[0];
                gb[1] += d_z * s.x[1];
                gb[2] += d_z;
            }
        }
        for (pk, gk) in p.iter_mut().zip(grads.iter()) {
            *pk -= LEARNING_RATE * gk;
        }
        total.unwrap_or(0.0) / n
    }

    /// How many points `sign(score)` classifies as their label.
    pub fn correct(p: &[f64], data: &[Sample]) -> usize {
        data.iter()
            .filter(|s| score_ops(p, s.x).signum() == s.label)
            .count()
    }
}

/// W3 `chain`: x_{k+1} = sigmoid(w·x_k + b), a million steps deep.
pub mod chain {
    use super::*;

    /// x0, w, b.
    pub const LEAVES: [f64; 3] = [0.5, 0.9, 0.1];
    /// Steps.
    pub const STEPS: usize = 1_000_000;
    /// Operations per step (mul, add, sigmoid).
    pub const OPS_PER_STEP: usize = 3;

    /// The chain with the plain operators: three nodes a step.
    pub fn run_ops<T: Scalar>(x0: T, w: T, b: T, steps: usize) -> T {
        let mut x = x0;
        for _ in 0..steps {
            x = (w * x + b).sigmoid();
        }
        x
    }

    /// The chain with each step, sigmoid(w·x + b), one node.
    pub fn run_fused<T: Scalar>(x0: T, w: T, b: T, steps: usize) -> T {
        let mut x = x0;
        for _ in 0..steps {
            x = T::neuron(&[w], &[x], b, Activation::Sigmoid);
        }
        x
    }

    /// Records the chain on a tape (cleared first) and returns (y, [dy/dx0, dy/dw, dy/db]).
    pub fn gradient_taped(tape: &mut Tape, steps: usize, spelling: Spelling) -> (f64, [f64; 3]) {
        tape.clear();
        let [x0, w, b] = LEAVES.map(|v| tape.var(v));
        let y = match spelling {
            Spelling::Ops => run_ops(x0, w, b, steps),
            Spelling::Fused => run_fused(x0, w, b, steps),
        };
        let g = y.backward();
        (y.value(), [g[x0], g[w], g[b]])
    }

    /// The hand-coded adjoint: store every x_k, then sweep back. `xs` is a buffer
    /// reused across runs.
    pub fn gradient_hand(steps: usize, xs: &mut Vec<f64>) -> (f64, [f64; 3]) {
        let [x0, w, b] = LEAVES;
        xs.clear();
        xs.push(x0);
        let mut x = x0;
        for _ in 0..steps {
            x = (w * x + b).sigmoid();
            xs.push(x);
        }
        let (mut dx, mut dw, mut db) = (1.0, 0.0, 0.0);
        for k in (0..steps).rev() {
            let s = xs[k + 1];
            let dz = dx * s * (1.0 - s);
            dw += dz * xs[k];
            db += dz;
            dx = dz * w;
        }
        (x, [dx, dw, db])
    }
}
