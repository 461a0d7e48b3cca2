//! Matt Mazur, "A Step by Step Backpropagation Example" (2015,
//! <https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/>),
//! reproduced with a tape.
//!
//! A 2-2-2 network with sigmoid neurons learns to map the inputs (0.05, 0.10) to
//! the targets (0.01, 0.99). We follow the article: the forward pass neuron by
//! neuron, the total error, the backward pass for every weight (each gradient
//! written out path by path by the chain rule, from the tape's own
//! [`Explanation`]s), a check against the gradients derived by hand, the first
//! update, then 10,000 steps of training, done both as the article's figures
//! imply and as a simultaneous gradient step. Every figure the article publishes
//! is compared with ours to every published digit. Last, the computation graph
//! is written as a Graphviz file.
//!
//! Run: `cargo run --release --example backprop`
//!
//! `tests/walkthrough.rs` includes this file as a module and checks the figures
//! [`report`] prints.

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it. (`pub`:
// tests/walkthrough.rs includes this example and takes the workloads from it.)
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
pub mod workloads;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

use chainrule::dot::Dot;
use chainrule::explain::{Explanation, Path as Chain, Quantity};
use chainrule::{Tape, Var};
use workloads::seed;

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

/// How the 10,000 training steps update the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Update {
    /// Every weight from the gradient of the same forward pass: a gradient step.
    Simultaneous,
    /// The article's order, as its later figures imply: w5..w8 first, then
    /// w1..w4 with δ_h computed from the already-updated w5..w8.
    Sequential,
}

/// What a training run ends with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Run {
    /// E after the first update (the error of the second forward pass).
    pub error_after_first_update: f64,
    /// E of the last (the 10,000th) forward pass, before its update.
    pub error_of_last_forward_pass: f64,
    /// E after the last update.
    pub error_after_last_update: f64,
    /// The outputs after the last update.
    pub out_o1: f64,
    /// The outputs after the last update.
    pub out_o2: f64,
    /// E of the forward pass at each of [`CHECKPOINTS`] (steps counted from
    /// 1; NaN for a checkpoint past the run's last step).
    pub checkpoints: [f64; CHECKPOINTS.len()],
}

/// The steps at which training reports its error: E of that step's forward
/// pass, before its update.
pub const CHECKPOINTS: [usize; 5] = [1, 10, 100, 1_000, 10_000];

/// `steps` steps of forward, backward and update with learning rate 0.5.
pub fn train(steps: usize, update: Update) -> Run {
    train_with_progress(steps, update, |_, _| {})
}

/// As [`train`], calling `progress(step, E)` at each of [`CHECKPOINTS`] with
/// E of that step's forward pass (steps counted from 1).
pub fn train_with_progress(
    steps: usize,
    update: Update,
    mut progress: impl FnMut(usize, f64),
) -> Run {
    let mut weights = seed::WEIGHTS;
    let mut tape = Tape::new(); // cleared and reused: no allocation after step 2
    let mut errors = Vec::with_capacity(steps);
    let mut checkpoints = [f64::NAN; CHECKPOINTS.len()];
    for step in 1..=steps {
        tape.clear();
        let net = forward(&tape, &weights);
        let e = net.e_total.value();
        errors.push(e);
        if let Some(k) = CHECKPOINTS.iter().position(|&c| c == step) {
            checkpoints[k] = e;
            progress(step, e);
        }
        let mut gradients = net.e_total.backward().wrt_all(&net.w);
        if update == Update::Sequential {
            // δ_h with w5..w8 as they are after their update.
            let mut updated = weights;
            for k in 4..8 {
                updated[k] -= seed::LEARNING_RATE * gradients[k];
            }
            gradients[..4].copy_from_slice(&hand_derived(&net, &updated)[..4]);
        }
        for (w, d) in weights.iter_mut().zip(gradients) {
            *w -= seed::LEARNING_RATE * d;
        }
    }
    tape.clear();
    let trained = forward(&tape, &weights);
    Run {
        error_after_first_update: errors.get(1).copied().unwrap_or(trained.e_total.value()),
        error_of_last_forward_pass: errors.last().copied().unwrap_or(f64::NAN),
        error_after_last_update: trained.e_total.value(),
        out_o1: trained.out_o1.value(),
        out_o2: trained.out_o2.value(),
        checkpoints,
    }
}

/// `x` with `digits` significant digits, in positional notation as the
/// article writes its errors (0.00003510849986 for 3.510849986e-5).
pub fn significant(x: f64, digits: usize) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i64;
    let decimals = (digits as i64 - 1 - magnitude).max(0) as usize;
    format!("{x:.decimals$}")
}

/// One figure the article publishes, and ours.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    /// What it is, in the article's names.
    pub name: &'static str,
    /// As the article prints it.
    pub article: &'static str,
    /// Ours, unrounded.
    pub ours: f64,
}

impl Published {
    /// Ours rounded to as many decimals as the article prints.
    pub fn ours_rounded(&self) -> String {
        let decimals = self.article.split('.').nth(1).map_or(0, str::len);
        format!("{:.decimals$}", self.ours)
    }

    /// Whether ours matches to every published digit.
    pub fn matches(&self) -> bool {
        self.ours_rounded() == self.article
    }
}

/// Everything the walkthrough prints, and the figures it prints.
pub struct Report {
    /// The text, as printed.
    pub text: String,
    /// The article's figures against ours.
    pub published: Vec<Published>,
    /// The 10,000 steps as a simultaneous gradient step.
    pub simultaneous: Run,
    /// The 10,000 steps in the article's sequential order.
    pub sequential: Run,
    /// Whether the tape agrees with the hand derivation.
    pub tape_agrees: bool,
}

/// A number as a person writes it: 8 decimals, a true minus sign.
fn num(x: f64) -> String {
    let s = format!("{:.8}", x.abs());
    if x < 0.0 {
        format!("−{s}")
    } else {
        s
    }
}

/// The factors' values joined by ×, a negative factor after the first in
/// parentheses, and the sign of the first returned apart.
fn chain_numbers(chain: &Chain) -> (bool, String) {
    let mut negative = false;
    let values: Vec<String> = chain
        .factors
        .iter()
        .enumerate()
        .map(|(k, f)| {
            if k == 0 {
                negative = f.value < 0.0;
                num(f.value.abs())
            } else if f.value < 0.0 {
                format!("({})", num(f.value))
            } else {
                num(f.value)
            }
        })
        .collect();
    (negative, values.join(" × "))
}

fn chain_names(e: &Explanation, chain: &Chain) -> String {
    let names: Vec<String> = chain
        .factors
        .iter()
        .map(|f| format!("∂{}/∂{}", e.name(f.of), e.name(f.wrt)))
        .collect();
    names.join(" · ")
}

/// `lhs = chain + chain …`: the names, the numbers, the terms, the sum; each
/// term after the first is added or subtracted as a person writes it.
fn write_sum(out: &mut String, indent: &str, lhs: &str, e: &Explanation, chains: &[Chain]) {
    let pad = format!("{indent}{}", " ".repeat(lhs.chars().count() + 1));
    for (k, chain) in chains.iter().enumerate() {
        let lead = if k == 0 {
            format!("{indent}{lhs} =")
        } else {
            format!("{pad}+")
        };
        let _ = writeln!(out, "{lead} {}", chain_names(e, chain));
    }
    for (k, chain) in chains.iter().enumerate() {
        let (negative, numbers) = chain_numbers(chain);
        let lead = match (k, negative) {
            (0, false) => "= ".to_string(),
            (0, true) => "= −".to_string(),
            (_, false) => "+ ".to_string(),
            (_, true) => "− ".to_string(),
        };
        let _ = writeln!(out, "{pad}{lead}{numbers}");
    }
    if chains.len() > 1 {
        let mut terms = num(chains[0].product);
        for chain in &chains[1..] {
            let sign = if chain.product < 0.0 { '−' } else { '+' };
            let _ = write!(terms, " {sign} {}", num(chain.product.abs()));
        }
        let _ = writeln!(out, "{pad}= {terms}");
    }
    let sum: f64 = chains.iter().map(|c| c.product).sum();
    let _ = writeln!(out, "{pad}= {}", num(sum));
}

/// Writes ∂E/∂w for one weight. A sum shared by several weights (∂E/∂out_h1 for
/// w1 and w2) is written out the first time and referred back to after.
fn write_gradient(out: &mut String, e: &Explanation, shared: &mut HashMap<Quantity, String>) {
    let lhs = format!("∂{}/∂{}", e.name(e.output()), e.name(e.input()));
    let derivation = e.derivation();
    let Some(through) = derivation.through else {
        write_sum(out, "", &lhs, e, &derivation.branches);
        return;
    };
    let joint = format!("∂{}/∂{}", e.name(e.output()), e.name(through));
    let pad = " ".repeat(lhs.chars().count() + 1);
    let mut chain = derivation.tail.clone();
    chain.factors.insert(
        0,
        chainrule::explain::Factor {
            of: Quantity::Node(e.output()),
            wrt: through,
            value: derivation.branch_sum,
            masked: false,
        },
    );
    let (negative, numbers) = chain_numbers(&chain);
    let _ = writeln!(out, "{lhs} = {}", chain_names(e, &chain));
    let _ = writeln!(out, "{pad}= {}{numbers}", if negative { "−" } else { "" });
    let _ = writeln!(
        out,
        "{pad}= {}",
        num(derivation.branch_sum * derivation.tail.product)
    );
    let weight = e.name(e.input());
    match shared.get(&through) {
        Some(first) => {
            let _ = writeln!(
                out,
                "{pad}({joint} = {} is the sum worked out above for {first}.)",
                num(derivation.branch_sum)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "where {joint} sums {} paths, one through each output:",
                derivation.branches.len()
            );
            write_sum(out, "  ", &joint, e, &derivation.branches);
            shared.insert(through, weight);
        }
    }
}

fn heading(out: &mut String, title: &str) {
    let _ = writeln!(out, "\n{title}\n{}", "=".repeat(title.chars().count()));
}

/// Computes and writes the whole walkthrough but the graph.
pub fn report() -> Report {
    report_with_progress(|_, _, _| {})
}

/// As [`report`], calling `progress(run, step, E)` at each training
/// checkpoint of the two runs (`run` is "simultaneous" or "sequential").
pub fn report_with_progress(mut progress: impl FnMut(&str, usize, f64)) -> Report {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(
        o,
        "Matt Mazur, \"A Step by Step Backpropagation Example\" (2015), reproduced with a tape."
    );
    heading(o, "The network");
    let [i1, i2] = seed::INPUTS;
    let [target_o1, target_o2] = seed::TARGETS;
    let [b1, b2] = seed::BIASES;
    let _ = writeln!(o, "inputs   i1 = {i1}, i2 = {i2}");
    let _ = writeln!(o, "targets  o1 = {target_o1}, o2 = {target_o2}");
    let mut weights = seed::WEIGHTS;
    for (name, w) in WEIGHT_NAMES.iter().zip(weights) {
        let _ = write!(o, "{name} = {w}  ");
    }
    let _ = writeln!(
        o,
        "\nbiases   b1 = {b1} (hidden layer), b2 = {b2} (output layer)"
    );

    let tape = Tape::new();
    let net = forward(&tape, &weights);

    heading(o, "The forward pass");
    let show = |o: &mut String, v: Var| {
        let _ = writeln!(o, "{:>7} = {:.12}", tape.display_name(v.index()), v.value());
    };
    let _ = writeln!(
        o,
        "net_h1 = w1·i1 + w2·i2 + b1, out_h1 = 1 / (1 + e^−net_h1)"
    );
    for v in [net.net_h1, net.out_h1, net.net_h2, net.out_h2] {
        show(o, v);
    }
    let _ = writeln!(
        o,
        "net_o1 = w5·out_h1 + w6·out_h2 + b2, out_o1 = 1 / (1 + e^−net_o1)"
    );
    for v in [net.net_o1, net.out_o1, net.net_o2, net.out_o2] {
        show(o, v);
    }

    heading(o, "The total error");
    let _ = writeln!(o, "E = E_o1 + E_o2, with E_o = ½(target_o − out_o)²");
    for v in [net.e_o1, net.e_o2, net.e_total] {
        show(o, v);
    }

    heading(o, "The backward pass");
    let _ = writeln!(
        o,
        "One reverse sweep gives ∂E/∂ of every node. Each weight's gradient,"
    );
    let _ = writeln!(
        o,
        "written out by the chain rule along every path from E down to it:"
    );
    let g = net.e_total.backward();
    let mut shared = HashMap::new();
    // The output layer first, as the article does.
    for k in [4, 5, 6, 7, 0, 1, 2, 3] {
        let _ = writeln!(o);
        write_gradient(o, &g.explain(net.w[k]), &mut shared);
    }

    heading(o, "The tape against the hand derivation");
    let hand = hand_derived(&net, &weights);
    let expected: Vec<(Var, f64)> = net.w.iter().copied().zip(hand).collect();
    let comparison = g.compare(&expected);
    let _ = write!(o, "{comparison}");
    let tape_agrees = comparison.all_passed();

    heading(o, "The first update");
    let _ = writeln!(
        o,
        "w ← w − η·∂E/∂w with η = {} (w+ is the updated w, as the article writes it)",
        seed::LEARNING_RATE
    );
    let gradients = g.wrt_all(&net.w);
    let first_update_gradients = gradients.clone();
    let first = (net.out_o1.value(), net.out_o2.value(), net.e_total.value());
    let first_net = (net.net_h1.value(), net.out_h1.value(), net.out_h2.value());
    let first_net_o1 = net.net_o1.value();
    let first_errors = (net.e_o1.value(), net.e_o2.value());
    drop(g);
    for (k, (w, d)) in weights.iter_mut().zip(gradients).enumerate() {
        let before = *w;
        *w -= seed::LEARNING_RATE * d;
        let (sign, d) = if d < 0.0 { ('+', -d) } else { ('−', d) };
        let _ = writeln!(
            o,
            "{}+ = {before} {sign} {} × {d:.12} = {:.12}",
            WEIGHT_NAMES[k],
            seed::LEARNING_RATE,
            w
        );
    }
    let _ = writeln!(
        o,
        "(The biases are shared in a layer and, as in the article, not updated.)"
    );
    let _ = writeln!(
        o,
        "Every gradient here comes from the first forward pass, so w1..w4 use the"
    );
    let _ = writeln!(
        o,
        "original w5..w8, as the article says it does for this first update."
    );

    let simultaneous = train_with_progress(seed::STEPS, Update::Simultaneous, |step, e| {
        progress("simultaneous", step, e)
    });
    let sequential = train_with_progress(seed::STEPS, Update::Sequential, |step, e| {
        progress("sequential", step, e)
    });

    let published = vec![
        Published {
            name: "net_h1",
            article: "0.3775",
            ours: first_net.0,
        },
        Published {
            name: "out_h1",
            article: "0.593269992",
            ours: first_net.1,
        },
        Published {
            name: "out_h2",
            article: "0.596884378",
            ours: first_net.2,
        },
        Published {
            name: "net_o1",
            article: "1.105905967",
            ours: first_net_o1,
        },
        Published {
            name: "out_o1",
            article: "0.75136507",
            ours: first.0,
        },
        Published {
            name: "out_o2",
            article: "0.772928465",
            ours: first.1,
        },
        Published {
            name: "E_o1",
            article: "0.274811083",
            ours: first_errors.0,
        },
        Published {
            name: "E_o2",
            article: "0.023560026",
            ours: first_errors.1,
        },
        Published {
            name: "E_total",
            article: "0.298371109",
            ours: first.2,
        },
        Published {
            name: "∂E/∂w5",
            article: "0.082167041",
            ours: first_update_gradients[4],
        },
        Published {
            name: "∂E/∂w1",
            article: "0.000438568",
            ours: first_update_gradients[0],
        },
        Published {
            name: "w5+",
            article: "0.35891648",
            ours: seed::WEIGHTS[4] - 0.5 * first_update_gradients[4],
        },
        Published {
            name: "w6+",
            article: "0.408666186",
            ours: seed::WEIGHTS[5] - 0.5 * first_update_gradients[5],
        },
        Published {
            name: "w7+",
            article: "0.511301270",
            ours: seed::WEIGHTS[6] - 0.5 * first_update_gradients[6],
        },
        Published {
            name: "w8+",
            article: "0.561370121",
            ours: seed::WEIGHTS[7] - 0.5 * first_update_gradients[7],
        },
        Published {
            name: "w1+",
            article: "0.149780716",
            ours: seed::WEIGHTS[0] - 0.5 * first_update_gradients[0],
        },
        Published {
            name: "w2+",
            article: "0.19956143",
            ours: seed::WEIGHTS[1] - 0.5 * first_update_gradients[1],
        },
        Published {
            name: "w3+",
            article: "0.24975114",
            ours: seed::WEIGHTS[2] - 0.5 * first_update_gradients[2],
        },
        Published {
            name: "w4+",
            article: "0.29950229",
            ours: seed::WEIGHTS[3] - 0.5 * first_update_gradients[3],
        },
    ];

    heading(o, "Against the article");
    let _ = writeln!(
        o,
        "Every figure of the forward pass, the backward pass and the first update,"
    );
    let _ = writeln!(o, "ours rounded to as many decimals as the article prints:");
    let matching = published.iter().filter(|p| p.matches()).count();
    for p in &published {
        let verdict = if p.matches() {
            "every digit matches"
        } else {
            "DIFFERS"
        };
        let _ = writeln!(
            o,
            "  {:<8} article {:<12} ours {:<12} {verdict}",
            p.name,
            p.article,
            p.ours_rounded()
        );
    }

    let _ = writeln!(
        o,
        "{matching} of {} figures match the article to every published digit.",
        published.len()
    );

    heading(o, "Training");
    assert_eq!(seed::STEPS, 10_000, "the text below says 10,000");
    let _ = writeln!(
        o,
        "10,000 steps of forward, backward, update, done two ways:"
    );
    let _ = writeln!(
        o,
        "  simultaneous: every weight from the same forward pass (a gradient step);"
    );
    let _ = writeln!(
        o,
        "  sequential:   w5..w8 first, then w1..w4 with δ_h from the updated w5..w8."
    );
    let _ = writeln!(
        o,
        "                                 simultaneous      sequential        article"
    );
    // Ten significant digits: the article prints up to nine.
    let row = |o: &mut String, what: &str, a: f64, b: f64, article: &str| {
        let (a, b) = (significant(a, 10), significant(b, 10));
        let line = format!("  {what:<30} {a:<16}  {b:<16}  {article}");
        let _ = writeln!(o, "{}", line.trim_end());
    };
    // The checkpoints before the last (its row is the 10,000th's below).
    for (&step, (&a, &b)) in CHECKPOINTS
        .iter()
        .zip(simultaneous.checkpoints.iter().zip(&sequential.checkpoints))
        .filter(|(&step, _)| step < seed::STEPS)
    {
        let article = match step {
            1 => "0.298371109",
            _ => "",
        };
        row(o, &format!("E of forward pass {step}"), a, b, article);
        if step == 1 {
            row(
                o,
                "E after the first update",
                simultaneous.error_after_first_update,
                sequential.error_after_first_update,
                "0.291027924",
            );
        }
    }
    row(
        o,
        "E of the 10,000th forward pass",
        simultaneous.error_of_last_forward_pass,
        sequential.error_of_last_forward_pass,
        "0.0000351085",
    );
    row(
        o,
        "E after the 10,000th update",
        simultaneous.error_after_last_update,
        sequential.error_after_last_update,
        "",
    );
    row(
        o,
        "out_o1 after 10,000 steps",
        simultaneous.out_o1,
        sequential.out_o1,
        "0.015912196",
    );
    row(
        o,
        "out_o2 after 10,000 steps",
        simultaneous.out_o2,
        sequential.out_o2,
        "0.984065734",
    );
    let _ = writeln!(o, "What the article's figures are:");
    let _ = writeln!(
        o,
        "- 0.0000351085 is the error of the 10,000th forward pass, measured before"
    );
    let _ = writeln!(
        o,
        "  the 10,000th update ({} simultaneous); after that update the error is",
        significant(simultaneous.error_of_last_forward_pass, 10)
    );
    let _ = writeln!(
        o,
        "  {:e}. The sequential run's 10,000th forward pass gives",
        simultaneous.error_after_last_update,
    );
    let _ = writeln!(
        o,
        "  {}, not the article's figure: its error and its outputs come from",
        significant(sequential.error_of_last_forward_pass, 10)
    );
    let _ = writeln!(o, "  different runs.");
    let _ = writeln!(
        o,
        "- The outputs 0.015912196 / 0.984065734 and the error after the first update,"
    );
    let _ = writeln!(
        o,
        "  0.291027924, come from the sequential order: w1..w4 updated with the"
    );
    let _ = writeln!(
        o,
        "  already-updated w5..w8. A correct (simultaneous) gradient step gives"
    );
    let _ = writeln!(
        o,
        "  {:.9} / {:.9}, and {:.9} after the first update.",
        simultaneous.out_o1, simultaneous.out_o2, simultaneous.error_after_first_update
    );
    let _ = writeln!(
        o,
        "  (The article's worked first update itself uses the original w5..w8.)"
    );
    let relative = (simultaneous.error_after_last_update - seed::REFERENCE_E_FINAL).abs()
        / seed::REFERENCE_E_FINAL;
    let _ = writeln!(
        o,
        "W1 reference (benches/WORKLOADS.md): E = {:.15e} (relative difference {relative:.1e})",
        seed::REFERENCE_E_FINAL
    );

    Report {
        text: out,
        published,
        simultaneous,
        sequential,
        tape_agrees,
    }
}

fn main() -> ExitCode {
    // A progress indicator on stderr, one line a checkpoint: the report, on
    // stdout, comes whole when both runs are done.
    let report = report_with_progress(|run, step, e| {
        let done = CHECKPOINTS.iter().position(|&c| c == step).unwrap_or(0) + 1;
        eprintln!(
            "training ({run:>12}): checkpoint {done} of {}, step {step:>6} of {}: E = {}",
            CHECKPOINTS.len(),
            seed::STEPS,
            significant(e, 10)
        );
    });
    print!("{}", report.text);
    if !report.tape_agrees {
        eprintln!("the tape and the hand derivation disagree");
        return ExitCode::FAILURE;
    }

    let mut out = String::new();
    heading(&mut out, "The graph");
    print!("{out}");
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

    let relative = (report.simultaneous.error_after_last_update - seed::REFERENCE_E_FINAL).abs()
        / seed::REFERENCE_E_FINAL;
    if relative > 1e-9 {
        eprintln!("the final error misses the W1 reference");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
