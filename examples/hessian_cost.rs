//! What a Hessian costs: the seed network's error (the 2-2-2 sigmoid network of
//! `examples/backprop.rs`) as a function of its 8 weights, and of w5..w8 alone.
//!
//! For each it prints the sweeps, the nodes on the tape before and after the
//! recorded gradient ([`chainrule::Tape::grad`]), and the median time of one
//! [`chainrule::hessian`] call (record f, record ∇f, sweep each entry of ∇f).
//!
//! Run: `cargo run --release --example hessian_cost`
//!
//! `tests/higher_audit.rs` includes this file as a module and checks the node
//! counts of the README's table against [`error_of_8`] and [`error_of_4`].

use std::hint::black_box;
use std::time::Instant;

use chainrule::{Tape, Var};

const INPUTS: [f64; 2] = [0.05, 0.10];
const TARGETS: [f64; 2] = [0.01, 0.99];
const BIASES: [f64; 2] = [0.35, 0.60];
pub const WEIGHTS: [f64; 8] = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55];

/// E(w1..w8): the forward pass of `examples/backprop.rs`, the inputs, biases
/// and targets as constants.
pub fn error_of_8<'t>(w: &[Var<'t>]) -> Var<'t> {
    let [i1, i2] = INPUTS;
    let [b1, b2] = BIASES;
    let out_h1 = (w[0] * i1 + w[1] * i2 + b1).sigmoid();
    let out_h2 = (w[2] * i1 + w[3] * i2 + b1).sigmoid();
    let out_o1 = (w[4] * out_h1 + w[5] * out_h2 + b2).sigmoid();
    let out_o2 = (w[6] * out_h1 + w[7] * out_h2 + b2).sigmoid();
    (TARGETS[0] - out_o1).square() * 0.5 + (TARGETS[1] - out_o2).square() * 0.5
}

/// E(w5..w8), w1..w4 at their starting values (the hidden layer is constant).
pub fn error_of_4<'t>(w: &[Var<'t>]) -> Var<'t> {
    let [i1, i2] = INPUTS;
    let [b1, b2] = BIASES;
    let sigmoid = |z: f64| 1.0 / (1.0 + (-z).exp());
    let out_h1 = sigmoid(WEIGHTS[0] * i1 + WEIGHTS[1] * i2 + b1);
    let out_h2 = sigmoid(WEIGHTS[2] * i1 + WEIGHTS[3] * i2 + b1);
    let out_o1 = (w[0] * out_h1 + w[1] * out_h2 + b2).sigmoid();
    let out_o2 = (w[2] * out_h1 + w[3] * out_h2 + b2).sigmoid();
    (TARGETS[0] - out_o1).square() * 0.5 + (TARGETS[1] - out_o2).square() * 0.5
}

fn measure(name: &str, f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t> + Copy, w: &[f64]) {
    let tape = Tape::new();
    let xs = tape.vars(w);
    let y = f(&xs);
    let before = tape.len();
    let gradient = tape.grad(y, &xs);
    let after = tape.len();
    let n = w.len();
    println!("{name}: {n} inputs");
    println!(
        "  nodes: {before} recording f, {after} after the recorded gradient (+{})",
        after - before
    );
    println!(
        "  sweeps: 1 recorded (over the {before} nodes of f) + {n} plain (one per entry of ∇f, each over at most {after} nodes)"
    );
    black_box(gradient);

    // Median of 21 runs, each the mean of a batch of calls.
    let batch = 2000;
    let mut times: Vec<f64> = (0..21)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                black_box(chainrule::hessian(f, black_box(w)));
            }
            start.elapsed().as_secs_f64() / batch as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let grad_time = {
        let mut t: Vec<f64> = (0..21)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..batch {
                    black_box(chainrule::grad(f, black_box(w)));
                }
                start.elapsed().as_secs_f64() / batch as f64
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[10]
    };
    println!(
        "  time: hessian {:.2} µs, grad {:.2} µs (median of 21 × {batch} calls)",
        times[10] * 1e6,
        grad_time * 1e6
    );
}

fn main() {
    measure("E(w1..w8)", error_of_8, &WEIGHTS);
    measure("E(w5..w8)", error_of_4, &WEIGHTS[4..]);
}
