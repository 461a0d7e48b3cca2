//! The classic step-by-step backpropagation example, reproduced with a tape.
//!
//! A 2-2-2 network with sigmoid neurons learns to map the inputs (0.05, 0.10) to
//! the targets (0.01, 0.99). We follow the article: the forward pass neuron by
//! neuron, the total error, the backward pass for every weight (each gradient
//! explained path by path by the chain rule), a check against the gradients
//! derived by hand, the first update, then 10,000 steps of training. Last, the
//! computation graph is written as a Graphviz file.
//!
//! Run: `cargo run --release --example backprop`

use std::path::PathBuf;
use std::process::{Command, ExitCode};

use chainrule::dot::Dot;
use chainrule::workloads::seed;
use chainrule::{Tape, Var};

const WEIGHT_NAMES: [&str; 8] = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"];

/// One forward pass, every quantity named as the article names it.
struct Network<'t> {
    w: [Var<'t>; 8],
    net_h1: Var<'t>,
    out_h1: Var<'t>,
    net_h2: Var<'t>,
    out_h2: Var<'t>,
    net_o1: Var<'t>,
    out_o1: Var<'t>,
    net_o2: Var<'t>,
    out_o2: Var<'t>,
    e_o1: Var<'t>,
    e_o2: Var<'t>,
    e_total: Var<'t>,
}

/// Records the forward pass for weights `weights` on `tape`.
fn forward<'t>(tape: &'t Tape, weights: &[f64; 8]) -> Network<'t> {
    let w: [Var; 8] = std::array::from_fn(|k| tape.var(weights[k]).named(WEIGHT_NAMES[k]));
    let i1 = tape.var(seed::INPUTS[0]).named("i1");
    let i2 = tape.var(seed::INPUTS[1]).named("i2");
    let b1 = tape.var(seed::BIASES[0]).named("b1");
    let b2 = tape.var(seed::BIASES[1]).named("b2");
    let [target_o1, target_o2] = seed::TARGETS;

    // The hidden layer: a weighted sum, then the logistic function.
    let net_h1 = (w[0] * i1 + w[1] * i2 + b1).named("net_h1");
    let out_h1 = net_h1.sigmoid().named("out_h1");
    let net_h2 = (w[2] * i1 + w[3] * i2 + b1).named("net_h2");
    let out_h2 = net_h2.sigmoid().named("out_h2");

    // The output layer, fed by the hidden outputs.
    let net_o1 = (w[4] * out_h1 + w[5] * out_h2 + b2).named("net_o1");
    let out_o1 = net_o1.sigmoid().named("out_o1");
    let net_o2 = (w[6] * out_h1 + w[7] * out_h2 + b2).named("net_o2");
    let out_o2 = net_o2.sigmoid().named("out_o2");

    // The squared error of each output, and their sum.
    let e_o1 = ((target_o1 - out_o1).square() * 0.5).named("E_o1");
    let e_o2 = ((target_o2 - out_o2).square() * 0.5).named("E_o2");
    let e_total = (e_o1 + e_o2).named("E");

    Network {
        w,
        net_h1,
        out_h1,
        net_h2,
        out_h2,
        net_o1,
        out_o1,
        net_o2,
        out_o2,
        e_o1,
        e_o2,
        e_total,
    }
}

/// The gradients as the article derives them on paper, with its δ terms:
/// δ_o = ∂E/∂net_o = (out_o − target_o)·out_o·(1 − out_o), and
/// δ_h = ∂E/∂net_h = (Σ_o δ_o·w_ho)·out_h·(1 − out_h).
fn hand_derived(net: &Network, w: &[f64; 8]) -> [f64; 8] {
    let [i1, i2] = seed::INPUTS;
    let [target_o1, target_o2] = seed::TARGETS;
    let (out_h1, out_h2) = (net.out_h1.value(), net.out_h2.value());
    let (out_o1, out_o2) = (net.out_o1.value(), net.out_o2.value());
    let delta_o1 = (out_o1 - target_o1) * out_o1 * (1.0 - out_o1);
    let delta_o2 = (out_o2 - target_o2) * out_o2 * (1.0 - out_o2);
    let delta_h1 = (delta_o1 * w[4] + delta_o2 * w[6]) * out_h1 * (1.0 - out_h1);
    let delta_h2 = (delta_o1 * w[5] + delta_o2 * w[7]) * out_h2 * (1.0 - out_h2);
    [
        delta_h1 * i1,
        delta_h1 * i2,
        delta_h2 * i1,
        delta_h2 * i2,
        delta_o1 * out_h1,
        delta_o1 * out_h2,
        delta_o2 * out_h1,
        delta_o2 * out_h2,
    ]
}

fn heading(title: &str) {
    println!("\n{title}\n{}", "=".repeat(title.chars().count()));
}

fn main() -> ExitCode {
    heading("The network");
    let [i1, i2] = seed::INPUTS;
    let [target_o1, target_o2] = seed::TARGETS;
    let [b1, b2] = seed::BIASES;
    println!("inputs   i1 = {i1}, i2 = {i2}");
    println!("targets  o1 = {target_o1}, o2 = {target_o2}");
    let mut weights = seed::WEIGHTS;
    for (name, w) in WEIGHT_NAMES.iter().zip(weights) {
        print!("{name} = {w}  ");
    }
    println!("\nbiases   b1 = {b1} (hidden layer), b2 = {b2} (output layer)");

    let tape = Tape::new();
    let net = forward(&tape, &weights);

    heading("The forward pass");
    let show = |v: Var| println!("{:>7} = {:.12}", tape.display_name(v.index()), v.value());
    println!("net_h1 = w1·i1 + w2·i2 + b1, out_h1 = 1 / (1 + e^-net_h1)");
    for v in [net.net_h1, net.out_h1, net.net_h2, net.out_h2] {
        show(v);
    }
    println!("net_o1 = w5·out_h1 + w6·out_h2 + b2, out_o1 = 1 / (1 + e^-net_o1)");
    for v in [net.net_o1, net.out_o1, net.net_o2, net.out_o2] {
        show(v);
    }

    heading("The total error");
    println!("E = E_o1 + E_o2, with E_o = ½(target_o − out_o)²");
    for v in [net.e_o1, net.e_o2, net.e_total] {
        show(v);
    }

    heading("The backward pass");
    println!("One reverse sweep gives ∂E/∂ of every node. Each weight's gradient,");
    println!("written out by the chain rule along every path from E down to it:");
    let g = net.e_total.backward();
    // The output layer first, as the article does.
    for k in [4, 5, 6, 7, 0, 1, 2, 3] {
        print!("\n{}", g.explain(net.w[k]));
    }

    heading("The tape against the hand derivation");
    let hand = hand_derived(&net, &weights);
    let expected: Vec<(Var, f64)> = net.w.iter().copied().zip(hand).collect();
    let comparison = g.compare(&expected);
    print!("{comparison}");
    if !comparison.all_passed() {
        eprintln!("the tape and the hand derivation disagree");
        return ExitCode::FAILURE;
    }

    heading("The first update");
    println!("w ← w − η·∂E/∂w with η = {}", seed::LEARNING_RATE);
    let gradients = g.wrt_all(&net.w);
    drop(g);
    for (k, (w, d)) in weights.iter_mut().zip(gradients).enumerate() {
        let before = *w;
        *w -= seed::LEARNING_RATE * d;
        println!(
            "{}+ = {before} − {} × {d:.12} = {:.12}",
            WEIGHT_NAMES[k],
            seed::LEARNING_RATE,
            w
        );
    }
    // (The biases are shared in a layer and, as in the article, not updated.)

    heading("Training");
    println!("{} steps of forward, backward, update:", seed::STEPS);
    println!("(each line: E at that step's forward pass, before its update)");
    let mut tape = Tape::new(); // cleared and reused: no allocation after step 2
                                // The first step was taken above; steps 2..=STEPS follow.
    for step in 2..=seed::STEPS {
        tape.clear();
        let net = forward(&tape, &weights);
        let g = net.e_total.backward();
        let gradients = g.wrt_all(&net.w);
        let error = net.e_total.value();
        for (w, d) in weights.iter_mut().zip(gradients) {
            *w -= seed::LEARNING_RATE * d;
        }
        if step % 1_000 == 0 || step == 2 || step == 10 || step == 100 {
            let done = step * 20 / seed::STEPS;
            println!(
                "[{}{}] step {step:>6}/{}: E = {error:.12e}",
                "#".repeat(done),
                ".".repeat(20 - done),
                seed::STEPS
            );
        }
    }
    tape.clear();
    let trained = forward(&tape, &weights);
    let final_error = trained.e_total.value();
    let relative = (final_error - seed::REFERENCE_E_FINAL).abs() / seed::REFERENCE_E_FINAL;
    println!("after {} steps:  E = {final_error:.15e}", seed::STEPS);
    println!(
        "reference (W1):    E = {:.15e}  (relative difference {relative:.1e})",
        seed::REFERENCE_E_FINAL
    );
    println!(
        "outputs now: out_o1 = {:.9}, out_o2 = {:.9} (targets {target_o1}, {target_o2})",
        trained.out_o1.value(),
        trained.out_o2.value()
    );

    heading("The graph");
    let first = Tape::new();
    let net = forward(&first, &seed::WEIGHTS);
    let g = net.e_total.backward();
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dot_path = dir.join("backprop.dot");
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&dot_path, Dot::new(&first).gradients(&g).to_string()));
    match written {
        Ok(()) => println!(
            "the first forward pass, {} nodes, with every gradient: {}",
            first.len(),
            dot_path.display()
        ),
        Err(e) => {
            eprintln!("could not write {}: {e}", dot_path.display());
            return ExitCode::FAILURE;
        }
    }
    let svg_path = dir.join("backprop.svg");
    match Command::new("dot")
        .arg("-Tsvg")
        .arg(&dot_path)
        .arg("-o")
        .arg(&svg_path)
        .status()
    {
        Ok(status) if status.success() => println!("rendered by Graphviz:  {}", svg_path.display()),
        Ok(status) => println!("Graphviz `dot` failed ({status}); the .dot file is still there"),
        Err(_) => println!(
            "(install Graphviz for an .svg: `dot -Tsvg {} -o backprop.svg`)",
            dot_path.display()
        ),
    }

    if relative > 1e-9 {
        eprintln!("the final error misses the W1 reference");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
