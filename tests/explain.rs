//! Explanations: the chain rule path by path, held against the tape's gradient and
//! the published factors of the seed article.
//!
//! The article prints its figures rounded to 8 or 9 decimals, so factors are held
//! to them within 5e-9 (half a unit of the 8th decimal). Sums over paths are held
//! to the tape's gradient within a few ulps of the sum of |path products|: the
//! sweep adds the same terms in another order, nothing more.

mod common;

use chainrule::explain::{ExplainOptions, Quantity};
use chainrule::Tape;
use common::workloads::seed;
use common::{assert_close, record_seed};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::SplitMix64;

const ARTICLE: f64 = 5e-9;

#[test]
fn w5_explanation_reads_as_the_article_writes_it() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let explanation = g.explain(net.w[4]);
    assert_eq!(explanation.path_count(), 1);
    assert_eq!(
        explanation.to_string(),
        "∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5\n       \
         = 0.74136507 × 0.18681560 × 0.59326999\n       \
         = 0.08216704\n"
    );
    let chain = &explanation.derivation().branches[0];
    let factors: Vec<f64> = chain.factors.iter().map(|f| f.value).collect();
    for (actual, published) in factors.iter().zip([0.74136507, 0.18681560, 0.59326999]) {
        assert_close(*actual, published, ARTICLE, "a factor of dE/dw5");
    }
    assert_eq!(factors.len(), 3);
    assert_close(
        explanation.paths()[0].product,
        seed::REFERENCE_DE_DW5,
        1e-9 * seed::REFERENCE_DE_DW5,
        "the w5 path",
    );
}

#[test]
fn w1_explanation_sums_the_paths_through_out_o1_and_out_o2() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let explanation = g.explain(net.w[0]);
    assert_eq!(explanation.path_count(), 2);
    let derivation = explanation.derivation();
    // ∂E/∂w1 = ∂E/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1
    assert_eq!(
        derivation.through,
        Some(Quantity::Node(net.out_h[0].index()))
    );
    let d_e_d_out_h1 = derivation.branch_sum;
    assert_close(d_e_d_out_h1, 0.03635031, ARTICLE, "dE/dout_h1");
    // The article prints these two with 9 decimals, computed from rounded
    // intermediates: held within one unit of the 9th decimal.
    assert_close(
        derivation.branches[0].product,
        0.055399425,
        1e-9,
        "dE_o1/dout_h1",
    );
    assert_close(
        derivation.branches[1].product,
        -0.019049119,
        1e-9,
        "dE_o2/dout_h1",
    );
    let tail: Vec<f64> = derivation.tail.factors.iter().map(|f| f.value).collect();
    assert_eq!(tail.len(), 2);
    assert_close(tail[0], 0.24130071, ARTICLE, "dout_h1/dnet_h1");
    assert_close(tail[1], 0.05, 1e-15, "dnet_h1/dw1");
    assert_close(
        d_e_d_out_h1 * derivation.tail.product,
        0.00043857,
        ARTICLE,
        "dE/dw1",
    );
    // Each branch passes through an output neuron: out_o1 first, then out_o2.
    for (branch, out) in derivation.branches.iter().zip(net.out_o) {
        assert_eq!(branch.factors[0].wrt, Quantity::Node(out.index()));
    }
    let text = explanation.to_string();
    for line in [
        "∂E/∂w1 = ∂E/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1",
        "       = 0.03635031 × 0.24130071 × 0.05000000",
        "       = 0.00043857",
        "∂E/∂out_h1 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂out_h1",
        "           + ∂E/∂out_o2 · ∂out_o2/∂net_o2 · ∂net_o2/∂out_h1",
        "           = 0.74136507 × 0.18681560 × 0.40000000",
        "           − 0.21707153 × 0.17551005 × 0.50000000",
        "           = 0.05539942 − 0.01904912", // -0.0190491183 rounded
        "           = 0.03635031",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn listed_paths_sum_to_the_tape_gradient_for_every_node_of_the_seed_network() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let vars = net
        .w
        .iter()
        .chain(&net.b)
        .chain(&net.net_h)
        .chain(&net.out_h)
        .chain(&net.net_o)
        .chain(&net.out_o)
        .chain(&net.e_o);
    for &x in vars {
        let explanation = g.explain(x);
        assert_eq!(explanation.left_out(), 0);
        let scale: f64 = explanation.paths().iter().map(|p| p.product.abs()).sum();
        assert_close(
            explanation.listed_sum(),
            g[x],
            4.0 * f64::EPSILON * scale,
            &tape.display_name(x.index()),
        );
    }
    // b1 is shared by both hidden neurons: four paths.
    assert_eq!(g.explain(net.b[0]).path_count(), 4);
}

/// A small program over tape nodes, one instruction per node, so that any node's
/// value can be recomputed with another node's value overridden: the finite
/// difference of a factor ∂a/∂b is taken on the sub-expression from b up to a,
/// the other shown quantities held at their recorded values.
#[derive(Clone, Copy, Debug)]
enum Instr {
    Leaf(f64),
    Add(usize, usize),
    Mul(usize, usize),
    Sub(usize, usize),
    Div(usize, usize),
    MulConst(usize, f64),
    Sin(usize),
    Sigmoid(usize),
    Tanh(usize),
}

fn record<'t>(tape: &'t Tape, program: &[Instr]) -> Vec<chainrule::Var<'t>> {
    let mut vars: Vec<chainrule::Var<'t>> = Vec::with_capacity(program.len());
    for &instr in program {
        let v = match instr {
            Instr::Leaf(value) => tape.var(value),
            Instr::Add(a, b) => vars[a] + vars[b],
            Instr::Mul(a, b) => vars[a] * vars[b],
            Instr::Sub(a, b) => vars[a] - vars[b],
            Instr::Div(a, b) => vars[a] / vars[b],
            Instr::MulConst(a, c) => vars[a] * c,
            Instr::Sin(a) => vars[a].sin(),
            Instr::Sigmoid(a) => vars[a].sigmoid(),
            Instr::Tanh(a) => vars[a].tanh(),
        };
        assert_eq!(v.index(), vars.len(), "one node per instruction");
        vars.push(v);
    }
    vars
}

/// The value of node `top` with node `moved` set to `value`, every node in
/// `frozen` kept at its recorded value, and the rest recomputed.
fn evaluate(
    program: &[Instr],
    recorded: &[f64],
    frozen: &[usize],
    moved: usize,
    value: f64,
    top: usize,
) -> f64 {
    let mut v = recorded.to_vec();
    v[moved] = value;
    for (i, &instr) in program.iter().enumerate().take(top + 1).skip(moved + 1) {
        if frozen.contains(&i) {
            continue;
        }
        v[i] = match instr {
            Instr::Leaf(x) => x,
            Instr::Add(a, b) => v[a] + v[b],
            Instr::Mul(a, b) => v[a] * v[b],
            Instr::Sub(a, b) => v[a] - v[b],
            Instr::Div(a, b) => v[a] / v[b],
            Instr::MulConst(a, c) => v[a] * c,
            Instr::Sin(a) => v[a].sin(),
            Instr::Sigmoid(a) => 1.0 / (1.0 + (-v[a]).exp()),
            Instr::Tanh(a) => v[a].tanh(),
        };
    }
    v[top]
}

/// Checks every factor of every listed path against a central difference of its
/// sub-expression (h = 1e-5: truncation O(h²) ≈ 1e-10, rounding O(ε/h) ≈ 1e-11,
/// held within 1e-7·(1 + |factor|)), and the sum over the paths against the
/// tape's gradient (a few ulps of Σ|products|: the same terms in another order).
fn check_factors_by_finite_differences(
    program: &[Instr],
    labels: &[usize],
    y: usize,
    x: usize,
    options: ExplainOptions,
    what: &str,
) {
    let tape = Tape::new();
    let vars = record(&tape, program);
    for &l in labels {
        let _ = vars[l].named(format!("v{l}"));
    }
    let recorded: Vec<f64> = vars.iter().map(|v| v.value()).collect();
    let g = vars[y].backward();
    let explanation = g.explain_with(vars[x], options.max_paths(usize::MAX));
    assert_eq!(explanation.left_out(), 0, "{what}");
    // Every quantity shown: they are held fixed when one factor is differenced.
    let mut shown: Vec<usize> = Vec::new();
    for path in explanation.paths() {
        for f in &path.factors {
            shown.extend([f.of.index(), f.wrt.index()]);
        }
    }
    for path in explanation.paths() {
        let mut above = Quantity::Node(y);
        for factor in &path.factors {
            assert_eq!(factor.of, above, "{what}: factors chain");
            above = factor.wrt;
            let (a, b) = (factor.of.index(), factor.wrt.index());
            let frozen: Vec<usize> = shown
                .iter()
                .copied()
                .filter(|&s| s != a && s != b)
                .collect();
            let h = 1e-5;
            let up = evaluate(program, &recorded, &frozen, b, recorded[b] + h, a);
            let down = evaluate(program, &recorded, &frozen, b, recorded[b] - h, a);
            let numeric = (up - down) / (2.0 * h);
            assert_close(
                factor.value,
                numeric,
                1e-7 * (1.0 + factor.value.abs()),
                &format!(
                    "{what}: ∂{}/∂{}\n{explanation}",
                    explanation.name(factor.of),
                    explanation.name(factor.wrt)
                ),
            );
        }
        assert_eq!(above, Quantity::Node(x), "{what}: a path ends at x");
    }
    let scale: f64 = explanation.paths().iter().map(|p| p.product.abs()).sum();
    assert_close(
        explanation.listed_sum(),
        g[vars[x]],
        64.0 * f64::EPSILON * scale,
        what,
    );
}

#[test]
fn a_variable_used_twice_by_one_node_is_one_factor_with_the_true_partial() {
    // r = sqrt(x·x + y·y): ∂r/∂x = x/r, one path, not two halves of it.
    let tape = Tape::new();
    let x = tape.var(0.6).named("x");
    let y = tape.var(1.1).named("y");
    let r = (x * x + y * y).sqrt().named("r");
    let f = r.ln().named("f");
    let explanation = f.backward().explain(x);
    assert_eq!(explanation.path_count(), 1);
    let d_r_d_x = 0.6 / r.value();
    let factors = &explanation.paths()[0].factors;
    assert_eq!(factors.len(), 2, "{explanation}");
    assert_eq!(factors[1].of, Quantity::Node(r.index()));
    assert_close(factors[1].value, d_r_d_x, 1e-15, "∂r/∂x");
    let text = explanation.to_string();
    assert_eq!(text.matches("∂f/∂r · ∂r/∂x").count(), 1, "{text}");
    assert!(text.contains(&format!("× {d_r_d_x:.8}")), "{text}");
    // Asked directly, a local derivative is one line, not the same line twice.
    let tape = Tape::new();
    let x = tape.var(3.0).named("x");
    let z = (x * x).named("z");
    assert_eq!(
        tape.explain(z, x).to_string(),
        "∂z/∂x = 6.00000000 (a local derivative, one term per use of x: 3.00000000 + 3.00000000)\n"
    );
    // An op of the unary table says its rule; an op on two inputs, neither.
    let s = x.sin().named("s");
    assert_eq!(
        tape.explain(s, x).to_string(),
        format!(
            "∂s/∂x = {:.8} (a local derivative, by the rule d(sin x)/dx = cos x)\n",
            3f64.cos()
        )
    );
    // The table's formula without its aside; no rule beside a NaN.
    let l = x.logsigmoid().named("l");
    let text = tape.explain(l, x).to_string();
    assert!(
        text.contains("by the rule d(ln σ(x))/dx = σ(−x))"),
        "{text}"
    );
    // A formula with parentheses of its own is kept whole (it was cut to
    // "d(1 /)/dx"); outside its domain (ln at −0.5, f NaN) no rule.
    let sg = x.sigmoid().named("sg");
    let text = tape.explain(sg, x).to_string();
    assert!(
        text.contains("by the rule d(1 / (1 + e^−x))/dx = σ(x)·(1 − σ(x)))"),
        "{text}"
    );
    let m = tape.var(-0.5).named("m");
    let lm = m.ln().named("lm");
    let text = tape.explain(lm, m).to_string();
    assert!(!text.contains("by the rule"), "{text}");
    let n = tape.var(f64::NAN).named("n");
    let r = n.relu().named("r");
    let text = tape.explain(r, n).to_string();
    assert!(!text.contains("by the rule"), "{text}");
    let y = tape.var(2.0).named("y");
    let p = (x * y).named("p");
    assert_eq!(
        tape.explain(p, x).to_string(),
        "∂p/∂x = 2.00000000 (a local derivative)\n"
    );
    // Unit factors are not folded into a factor ∂y/∂x: w = (x + 1) + 2 keeps x + 1.
    let w = ((x + 1.0) + 2.0).named("w");
    let options = ExplainOptions {
        labelled_only: false,
        ..Default::default()
    };
    let explanation = w.backward().explain_with(x, options);
    assert_eq!(explanation.paths()[0].factors.len(), 2, "{explanation}");
}

#[test]
fn parallel_edges_merge_in_x_times_x_x_over_x_x_y_x_and_x_plus_x_times_x() {
    use Instr::*;
    let programs: [(&str, Vec<Instr>, u128, f64); 4] = [
        // y = x·x: one factor 2x.
        ("x·x", vec![Leaf(0.7), Mul(0, 0)], 1, 1.4),
        // y = x/x: 1/x − x/x² = 0, one factor.
        ("x/x", vec![Leaf(0.7), Div(0, 0)], 1, 0.0),
        // y = (x·w)·x: through x·w (w) and directly (x·w): 2xw.
        (
            "x·w·x",
            vec![Leaf(0.7), Leaf(-1.3), Mul(0, 1), Mul(2, 0)],
            2,
            2.0 * 0.7 * -1.3,
        ),
        // y = (x + x)·x: through x + x (2·x) and directly (x + x): 4x.
        (
            "(x + x)·x",
            vec![Leaf(0.7), Add(0, 0), Mul(1, 0)],
            2,
            4.0 * 0.7,
        ),
    ];
    for (what, program, paths, gradient) in programs {
        let y = program.len() - 1;
        let tape = Tape::new();
        let vars = record(&tape, &program);
        let explanation = vars[y]
            .backward()
            .explain_with(vars[0], ExplainOptions::default().raw());
        assert_eq!(explanation.path_count(), paths, "{what}:\n{explanation}");
        assert_close(explanation.listed_sum(), gradient, 4.0 * f64::EPSILON, what);
        for options in [ExplainOptions::default(), ExplainOptions::default().raw()] {
            check_factors_by_finite_differences(&program, &[], y, 0, options, what);
            check_factors_by_finite_differences(&program, &[y], y, 0, options, what);
        }
    }
}

#[test]
fn every_factor_is_its_finite_difference_on_random_graphs() {
    let mut rng = SplitMix64::seed_from_u64(2024);
    let pick = |rng: &mut SplitMix64, n: usize| (rng.next_u64() % n as u64) as usize;
    for graph in 0..150 {
        let mut program = vec![Instr::Leaf(0.3), Instr::Leaf(-0.7), Instr::Leaf(1.1)];
        for _ in 0..20 {
            let n = program.len();
            // Operands near the top, so that paths branch and join.
            let a = n - 1 - pick(&mut rng, n.min(5));
            let b = n - 1 - pick(&mut rng, n.min(5));
            program.push(match rng.next_u64() % 7 {
                0 => Instr::Add(a, b),
                1 => Instr::Mul(a, b),
                2 => Instr::Sub(a, b),
                3 => Instr::Sin(a),
                4 => Instr::Sigmoid(a),
                5 => Instr::MulConst(a, 0.5),
                _ => Instr::Tanh(a),
            });
        }
        let y = program.len() - 1;
        let labels: Vec<usize> = (3..y).filter(|_| rng.next_u64() % 3 == 0).collect();
        for x in 0..3 {
            let what = format!("graph {graph}, x = {x}, labels {labels:?}");
            for options in [ExplainOptions::default(), ExplainOptions::default().raw()] {
                check_factors_by_finite_differences(&program, &labels, y, x, options, &what);
            }
            check_factors_by_finite_differences(
                &program,
                &[],
                y,
                x,
                ExplainOptions::default(),
                &what,
            );
        }
    }
}

#[test]
fn raw_paths_follow_the_recorded_edges_with_parallel_ones_summed() {
    let mut rng = SplitMix64::seed_from_u64(7);
    for _ in 0..100 {
        let tape = Tape::new();
        let mut vars = tape.vars(&[0.3, -0.7, 1.1]);
        for _ in 0..25 {
            let pick = |rng: &mut SplitMix64, n: usize| (rng.next_u64() % n as u64) as usize;
            let a = vars[pick(&mut rng, vars.len())];
            let b = vars[pick(&mut rng, vars.len())];
            vars.push(match rng.next_u64() % 4 {
                0 => a + b,
                1 => a * b,
                2 => a.sin(),
                _ => (a * a).tanh(),
            });
        }
        let y = *vars.last().unwrap();
        let g = y.backward();
        for &x in &vars[..3] {
            let explanation =
                g.explain_with(x, ExplainOptions::default().max_paths(usize::MAX).raw());
            assert_eq!(explanation.paths().len() as u128, explanation.path_count());
            for path in explanation.paths() {
                for f in &path.factors {
                    let Quantity::Node(of) = f.of else {
                        panic!("raw shows no nets")
                    };
                    let summed = tape
                        .edges(of)
                        .iter()
                        .filter(|e| Quantity::Node(e.0) == f.wrt)
                        .fold(None, |s: Option<f64>, e| Some(s.map_or(e.1, |s| s + e.1)));
                    assert_eq!(Some(f.value), summed);
                }
            }
        }
    }
}

#[test]
fn two_to_the_forty_paths_are_counted_not_listed() {
    // A diamond chain: each stage splits into sin and cos and joins again.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let mut a = x;
    for _ in 0..40 {
        a = a.sin() * a.cos();
    }
    let y = a.named("y");
    let explanation = y
        .backward()
        .explain_with(x, ExplainOptions::default().raw());
    assert_eq!(explanation.path_count(), 1u128 << 40);
    assert_eq!(explanation.paths().len(), 16);
    assert_eq!(explanation.left_out(), (1u128 << 40) - 16);
    let text = explanation.to_string();
    assert!(text.contains("1099511627760 more paths left out"), "{text}");
    assert!(text.contains("over all paths"), "{text}");
}

#[test]
fn a_count_beyond_u128_saturates_and_says_so() {
    let tape = Tape::new();
    let x = tape.var(1.0);
    let mut a = x;
    for _ in 0..130 {
        a = a.sin() + a.cos();
    }
    let explanation = a
        .backward()
        .explain_with(x, ExplainOptions::default().raw());
    assert!(explanation.count_saturated());
    assert_eq!(explanation.path_count(), u128::MAX);
    assert!(explanation.to_string().contains("more than u128::MAX"));
}

#[test]
fn a_node_the_output_does_not_use_has_no_path() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let unused = tape.var(2.0).named("unused");
    let y = x.exp().named("y");
    let later = (y * 2.0).named("later");
    let g = y.backward();
    let none = g.explain(unused);
    assert_eq!((none.path_count(), none.paths().len()), (0, 0));
    assert_eq!(
        none.to_string(),
        "∂y/∂unused = 0 (no path from y down to unused)\n"
    );
    assert_eq!(g.explain(later).path_count(), 0); // recorded after the output
    assert_eq!(g.explain(y).to_string(), "∂y/∂y = 1\n");
}

#[test]
fn raw_options_keep_one_factor_per_edge_and_unlabelled_nodes_get_expression_names() {
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = ((x * 3.0).exp() + 1.0).named("y");
    let raw = y
        .backward()
        .explain_with(x, ExplainOptions::default().raw());
    assert_eq!(raw.paths()[0].factors.len(), 3);
    assert!(
        raw.to_string()
            .starts_with("∂y/∂x = ∂y/∂exp(3·x) · ∂exp(3·x)/∂(3·x) · ∂(3·x)/∂x\n"),
        "{raw}"
    );
    // By default the unit factor ∂y/∂exp(3·x) = 1 is folded, and no factor is
    // ∂y/∂x itself.
    let folded = y.backward().explain(x);
    assert!(
        folded
            .to_string()
            .starts_with("∂y/∂x = ∂y/∂(3·x) · ∂(3·x)/∂x\n"),
        "{folded}"
    );
}

/// No line of an explanation may read `∂a/∂b = ∂a/∂b`, nor sum copies of the
/// left-hand side.
fn assert_no_tautology(text: &str) {
    for line in text.lines() {
        if let Some((lhs, rhs)) = line.split_once(" = ") {
            let lhs = lhs.trim();
            if lhs.starts_with('∂') {
                assert!(
                    !rhs.split(" + ").any(|term| term.trim() == lhs),
                    "tautology in {line:?}:\n{text}"
                );
            }
        }
    }
}

#[test]
fn an_unlabelled_graph_is_explained_with_expression_names() {
    // f(x, y) = ln(1 + e^{xy}) / sqrt(x² + y²), nothing labelled.
    let tape = Tape::new();
    let x = tape.var(0.3);
    let y = tape.var(0.7);
    let f = ((x * y).exp() + 1.0).ln() / (x.square() + y.square()).sqrt();
    let explanation = f.backward().explain(x);
    let text = explanation.to_string();
    assert_no_tautology(&text);
    assert!(!text.contains("leaf#"), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "∂div#10/∂x₀ = ∂div#10/∂ln(exp(x₀·x₁) + 1) · ∂ln(exp(x₀·x₁) + 1)/∂(exp(x₀·x₁) + 1) · ∂(exp(x₀·x₁) + 1)/∂(x₀·x₁) · ∂(x₀·x₁)/∂x₀",
        "{text}"
    );
    assert_eq!(
        lines[1],
        "            + ∂div#10/∂sqrt(x₀² + x₁²) · ∂sqrt(x₀² + x₁²)/∂(x₀² + x₁²) · ∂(x₀² + x₁²)/∂x₀"
    );
    // The factors are the textbook's: ∂(x·y)/∂x = y, ∂(x² + y²)/∂x = 2x.
    let paths = explanation.paths();
    assert_eq!(paths[0].factors.last().unwrap().value, 0.7);
    assert_eq!(paths[1].factors.last().unwrap().value, 0.6);
    let program = [
        Instr::Leaf(0.3),
        Instr::Leaf(0.7),
        Instr::Mul(0, 1),
        Instr::Sin(2),
        Instr::Mul(3, 0),
    ];
    check_factors_by_finite_differences(
        &program,
        &[],
        4,
        0,
        ExplainOptions::default(),
        "unlabelled",
    );
}

#[test]
fn a_fused_neuron_with_a_labelled_net_is_explained_as_out_of_net() {
    use chainrule::{Activation, Var};
    // The seed network with fused neurons, named as the article names them.
    let tape = Tape::new();
    let names = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"];
    let w: Vec<Var> = names
        .iter()
        .zip(seed::WEIGHTS)
        .map(|(n, v)| tape.var(v).named(*n))
        .collect();
    let i = [
        tape.var(seed::INPUTS[0]).named("i1"),
        tape.var(seed::INPUTS[1]).named("i2"),
    ];
    let b1 = tape.var(seed::BIASES[0]).named("b1");
    let b2 = tape.var(seed::BIASES[1]).named("b2");
    let out_h1 = Var::neuron(&w[0..2], &i, b1, Activation::Sigmoid)
        .named("out_h1")
        .named_net("net_h1");
    let out_h2 = Var::neuron(&w[2..4], &i, b1, Activation::Sigmoid)
        .named("out_h2")
        .named_net("net_h2");
    let h = [out_h1, out_h2];
    let out_o1 = Var::neuron(&w[4..6], &h, b2, Activation::Sigmoid)
        .named("out_o1")
        .named_net("net_o1");
    let out_o2 = Var::neuron(&w[6..8], &h, b2, Activation::Sigmoid)
        .named("out_o2")
        .named_net("net_o2");
    let e = Var::half_squared_error(&[out_o1, out_o2], &seed::TARGETS).named("E");
    let g = e.backward();
    let w5 = g.explain(w[4]);
    assert_eq!(
        w5.to_string(),
        "∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5\n       \
         = 0.74136507 × 0.18681560 × 0.59326999\n       \
         = 0.08216704\n"
    );
    assert_eq!(w5.paths()[0].factors[1].wrt, Quantity::Net(out_o1.index()));
    let w1 = g.explain(w[0]);
    let text = w1.to_string();
    for line in [
        "∂E/∂w1 = ∂E/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1",
        "       = 0.03635031 × 0.24130071 × 0.05000000",
        "       = 0.00043857",
        "∂E/∂out_h1 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂out_h1",
        "           + ∂E/∂out_o2 · ∂out_o2/∂net_o2 · ∂net_o2/∂out_h1",
        "           = 0.74136507 × 0.18681560 × 0.40000000",
        "           − 0.21707153 × 0.17551005 × 0.50000000",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    assert_close(
        w1.listed_sum(),
        g[w[0]],
        1e-18,
        "dE/dw1 over the split paths",
    );
    // Labels as nn gives them read the same way.
    let tape = Tape::new();
    let wv = tape.vars(&[0.4, 0.45]);
    let x = tape.vars(&[0.59, 0.60]);
    let w2 = wv[1].named("layer1.neuron0.w2");
    let b = tape.var(0.6).named("layer1.neuron0.b");
    let out = Var::neuron(&wv, &x, b, Activation::Tanh)
        .named("layer1.neuron0.out")
        .named_net("layer1.neuron0.net");
    let loss = (out * out).named("loss");
    let text = loss.backward().explain(w2).to_string();
    assert!(
        text.starts_with("∂loss/∂layer1.neuron0.w2 = ∂loss/∂layer1.neuron0.out · ∂layer1.neuron0.out/∂layer1.neuron0.net · ∂layer1.neuron0.net/∂layer1.neuron0.w2\n"),
        "{text}"
    );
}

#[test]
fn a_relu_that_does_not_pick_its_operand_passes_exactly_zero_and_no_more() {
    // The masked edge passes exactly 0 to z; z's gradient is then 0, and the
    // sweep multiplies it through ∂z/∂x = ∞: 0 · ∞ = NaN (rule 3 masks one
    // edge, not what lies below it).
    let tape = Tape::new();
    let x = tape.var(-2.0).named("x");
    let z = (x * f64::INFINITY).named("z"); // -inf: a relu at z ≤ 0 passes nothing
    let y = (z.relu() + x).named("y");
    let g = y.backward();
    assert!(g[x].is_nan());
    let explanation = g.explain_with(x, ExplainOptions::default().raw());
    assert_eq!(explanation.path_count(), 2);
    let masked: Vec<&chainrule::explain::Path> = explanation
        .paths()
        .iter()
        .filter(|p| p.factors.iter().any(|f| f.masked))
        .collect();
    assert_eq!(masked.len(), 1);
    assert!(masked[0].product.is_nan()); // the masked 0, then 0 · inf
    assert!(explanation.listed_sum().is_nan());
    // Over a finite partial, the masked path contributes exactly 0.
    let tape = Tape::new();
    let x = tape.var(-2.0).named("x");
    let z = (x * 3.0).named("z");
    let y = (z.relu() + x).named("y");
    let explanation = y
        .backward()
        .explain_with(x, ExplainOptions::default().raw());
    let masked = explanation
        .paths()
        .iter()
        .find(|p| p.factors.iter().any(|f| f.masked))
        .expect("a masked path");
    assert_eq!(masked.product, 0.0);
    assert_eq!(explanation.listed_sum(), 1.0);
    // On a path, an indeterminate product is NaN, never a silent 0.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = (x.sqrt() * 0.0).named("y"); // ∂sqrt/∂x = inf at 0, times 0
    let explanation = y
        .backward()
        .explain_with(x, ExplainOptions::default().raw());
    assert!(explanation.paths()[0].product.is_nan());
}

#[test]
fn a_million_step_chain_is_explained_without_recursion() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let mut a = x;
    for _ in 0..1_000_000 {
        a = (a * 0.9 + 0.1).sigmoid();
    }
    let y = a.named("y");
    let g = y.backward();
    // By default: the readable nodes near x, the rest folded into one factor.
    let explanation = g.explain(x);
    assert_eq!(explanation.path_count(), 1);
    let factors = explanation.paths()[0].factors.len();
    assert!((2..10).contains(&factors), "{explanation}");
    assert_no_tautology(&explanation.to_string());
    // Raw: one factor per edge, multiplied from the top as the sweep does.
    let raw = g.explain_with(x, ExplainOptions::default().raw());
    assert_eq!(raw.paths()[0].factors.len(), 3_000_000);
    assert_eq!(raw.listed_sum(), raw.gradient());
    assert!(raw.to_string().contains("… (2999976 more factors) …"));
}

/// The snippet of the README's "Explanations" section, verbatim: it must print
/// what the README shows.
#[test]
fn the_readme_explanation_snippet_prints_what_the_readme_shows() {
    // The first output neuron of the 2-2-2 sigmoid network and its error.
    let tape = Tape::new();
    let w5 = tape.var(0.40).named("w5");
    let w6 = tape.var(0.45).named("w6");
    let out_h1 = tape.var(0.5932699921071872).named("out_h1");
    let out_h2 = tape.var(0.596884378259767).named("out_h2");
    let net_o1 = (w5 * out_h1 + w6 * out_h2 + 0.60).named("net_o1");
    let out_o1 = net_o1.sigmoid().named("out_o1");
    let e = ((0.01 - out_o1).square() * 0.5).named("E");
    // The constants are the seed network's (the snippet must stand alone).
    assert_eq!(
        [0.40, 0.45, 0.5932699921071872, 0.60, 0.01],
        [
            seed::WEIGHTS[4],
            seed::WEIGHTS[5],
            seed::REFERENCE_OUT_H1,
            seed::BIASES[1],
            seed::TARGETS[0]
        ]
    );
    assert_eq!(
        e.backward().explain(w5).to_string(),
        "∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5\n       \
         = 0.74136507 × 0.18681560 × 0.59326999\n       \
         = 0.08216704\n"
    );
}

#[test]
fn a_hidden_operand_far_below_its_user_is_reached_past_a_long_labelled_stretch() {
    // y = 2·sin(x) + L, with L a labelled chain of 2,000 nodes recorded between
    // 2·sin(x) and y: the local sweep from y skips the chain (it stops at L) and
    // finds 2·sin(x) far below.
    let tape = Tape::new();
    let x = tape.var(0.4).named("x");
    let v = x.sin() * 2.0;
    let mut a = x;
    for _ in 0..2_000 {
        a = (a * 0.999).sin();
    }
    let l = a.named("L");
    let y = (v + l).named("y");
    let g = y.backward();
    for options in [ExplainOptions::default(), ExplainOptions::default().raw()] {
        let explanation = g.explain_with(x, options);
        assert_eq!(explanation.path_count(), 2, "{explanation}");
        let scale: f64 = explanation.paths().iter().map(|p| p.product.abs()).sum();
        assert_close(
            explanation.listed_sum(),
            g[x],
            8.0 * f64::EPSILON * scale,
            "y",
        );
        let through_v: f64 = explanation.paths()[0].product;
        assert_close(
            through_v,
            2.0 * 0.4f64.cos(),
            4.0 * f64::EPSILON,
            "through 2·sin(x)",
        );
    }
}

#[test]
fn a_direct_partial_of_the_explained_pair_is_marked_direct() {
    // f = (x + x)·x: ∂f/∂x = 12 in total, 6 of it with x + x held fixed.
    let tape = Tape::new();
    let x = tape.var(3.0).named("x");
    let f = ((x + x) * x).named("f");
    let text = f.backward().explain(x).to_string();
    assert_eq!(
        text,
        "∂f/∂x = ∂f/∂(x + x) · ∂(x + x)/∂x\n      \
         + ∂f/∂x|direct\n      \
         = 3.00000000 × 2.00000000\n      \
         + 6.00000000\n      \
         = 6.00000000 + 6.00000000\n      \
         = 12.00000000\n"
    );
}

#[test]
fn a_direct_partial_inside_a_factored_sum_is_marked_direct() {
    // y = s·e with s = sin(u), e = exp(u) + u: the branches sum to ∂y/∂u, and the
    // direct ∂e/∂u … is not ∂y/∂u. Here: y = (u + u·u) labelled, through u.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let u = x.sin().named("u");
    let v = (u * 2.0).named("v");
    let y = (v * u).named("y"); // paths y→v→u→x and y→u→x share u→x
    let text = y.backward().explain(x).to_string();
    assert!(text.contains("where ∂y/∂u sums 2 paths:"), "{text}");
    assert!(text.contains("+ ∂y/∂u|direct\n"), "{text}");
}

#[test]
fn two_nodes_with_one_expression_get_distinct_names() {
    // f = exp(a)·b − exp(a), the two exp(a) recorded as two nodes.
    let tape = Tape::new();
    let a = tape.var(0.5).named("a");
    let b = tape.var(3.0).named("b");
    let first = a.exp();
    let product = first * b;
    let second = a.exp();
    let f = (product - second).named("f");
    let explanation = f.backward().explain(a);
    let (n1, n2) = (first.index(), second.index());
    assert_eq!(explanation.name(first), format!("exp(a)#{n1}"));
    assert_eq!(explanation.name(second), format!("exp(a)#{n2}"));
    let text = explanation.to_string();
    assert!(text.contains(&format!("∂f/∂exp(a)#{n1}")), "{text}");
    assert!(text.contains(&format!("∂f/∂exp(a)#{n2}")), "{text}");
    assert!(!text.contains("∂f/∂exp(a) "), "{text}");
    // compare names the paths apart as well.
    let e = 0.5f64.exp();
    let diagnosis = f.backward().compare(&[(a, 3.0 * e)]).diagnoses()[0].to_string();
    assert!(diagnosis.contains(&format!("exp(a)#{n1}")), "{diagnosis}");
    assert!(diagnosis.contains(&format!("exp(a)#{n2}")), "{diagnosis}");
}

#[test]
fn a_factor_at_a_kink_is_marked_a_convention() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = (x.relu() * 3.0).named("y");
    let text = y.backward().explain(x).to_string();
    assert!(
        text.contains(
            "0.00000000 (masked; relu′(0): a convention; the derivative does not exist here)"
        ),
        "{text}"
    );
    // abs at 0, hidden between two labels: still shown, and marked.
    let a = x.abs();
    let z = (a.sin() + x).named("z");
    let text = z.backward().explain(x).to_string();
    assert!(
        text.contains("|·|′(0): a convention; the derivative does not exist here"),
        "{text}"
    );
    // max at a tie of two distinct nodes, and leaky_relu at 0.
    let u = tape.var(2.0).named("u");
    let v = tape.var(2.0).named("v");
    let m = (u.max(v) * u.leaky_relu(0.1)).named("m");
    let text = m.backward().explain(u).to_string();
    assert!(text.contains("max at a tie: a convention"), "{text}");
    // Away from a kink (or max(u, u), which has a derivative): no note.
    let w = tape.var(0.5).named("w");
    let fine = (w.relu() + w.abs() + w.max(w)).named("fine");
    let text = fine.backward().explain(w).to_string();
    assert!(!text.contains("convention"), "{text}");
    let l = tape.var(0.0).named("l");
    let leaky = (l.leaky_relu(0.1) * 2.0).named("leaky");
    let text = leaky.backward().explain(l).to_string();
    assert!(text.contains("leaky_relu′(0): a convention"), "{text}");
}

#[test]
fn a_negative_constant_is_parenthesised_where_it_binds_tighter_than_a_negation() {
    // (−2)² = 4 was named "−2²", which reads −(2²) = −4; (−2)^x "−2^x".
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let c = x.constant(-2.0);
    let cases = [
        (c.square(), "ln((−2)²)"),
        (c.powi(3), "ln((−2)³)"),
        (c.pow(x), "ln((−2)^x)"),
        (-c, "ln(−(−2))"),
        (x * c, "ln(x·(−2))"),
        (x - c, "ln(x − (−2))"),
        (c + x, "ln(−2 + x)"),
    ];
    for (y, name) in cases {
        let text = tape.explain(y.ln(), x).to_string();
        assert!(text.starts_with(&format!("∂{name}/∂x")), "{text}");
    }
}

/// A negative factor after the first is put in parentheses, `× (−3)`, −0
/// included: −0 is not `< 0`, and it was written `× -0.00000000` (a review
/// found it).
#[test]
fn a_negative_zero_factor_is_parenthesised_as_any_negative_factor() {
    let tape = Tape::new();
    let x = tape.var(-0.0).named("x");
    let a = (x * -0.0).named("a");
    let y = (a + x.abs()).named("y");
    let text = y.backward().explain(x).to_string();
    assert!(text.contains("× (-0.00000000)"), "{text}");
    assert!(!text.contains("× -"), "{text}");
    // In a derivation's shared tail too (∂y/∂u · ∂u/∂x, ∂u/∂x = −0).
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let u = (x * -0.0).named("u");
    let y = (u.sin() + u.exp()).named("y");
    let text = y
        .backward()
        .explain_with(x, ExplainOptions::default().raw())
        .to_string();
    assert!(text.contains("where ∂y/∂u sums 2 paths"), "{text}");
    assert!(text.contains("= 2.00000000 × (-0.00000000)\n"), "{text}");
    // And a negative factor that is not zero, for comparison.
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let y = ((x * -2.0).named("a") * -3.0).named("y");
    let text = y.backward().explain(x).to_string();
    assert!(text.contains("× (-2.00000000)"), "{text}");
}

/// `kinks_affecting` finds for every node at once what `kink_affecting` finds
/// from each (`chainrule grad`'s notes come from it): held together on random
/// small tapes whose values sit at kinks, ties and zeros (relu, abs, signum,
/// max and min at ties, clamp at a bound, pow at 0^0, fused relu neurons,
/// products by 0, x − x), half of them with no partial that is not finite.
#[test]
fn kinks_affecting_finds_what_a_search_from_each_node_finds() {
    use chainrule::explain::{kink_affecting, kinks_affecting};
    use chainrule::{Activation, Var};
    let describe = |tape: &Tape| -> String {
        (0..tape.len())
            .map(|i| {
                format!(
                    "#{i} {} = {} {:?}",
                    tape.op(i).name(),
                    tape.value(i),
                    tape.edges(i)
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut rng = SplitMix64::seed_from_u64(2026);
    let mut checked = 0;
    let mut found = 0;
    for round in 0..4000 {
        // pow (the last op) has a NaN partial below a base 0: half the
        // tapes go without it.
        let ops = if round % 2 == 0 { 18 } else { 17 };
        let tape = Tape::new();
        let mut nodes: Vec<Var<'_>> = (0..1 + rng.next_u64() % 4)
            .map(|_| tape.var([0.0, 0.0, 1.0, -1.0, 2.0][(rng.next_u64() % 5) as usize]))
            .collect();
        for _ in 0..2 + rng.next_u64() % 12 {
            let mut pick = || nodes[(rng.next_u64() % nodes.len() as u64) as usize];
            let (a, b, c) = (pick(), pick(), pick());
            let v = match rng.next_u64() % ops {
                0 => a + b,
                1 => a - b,
                2 => a * b,
                3 => a.relu(),
                4 => a.abs(),
                5 => a.signum(),
                6 => a.max(b),
                7 => a.min(b),
                8 => a.clamp(0.0, 1.0),
                9 => a.max(0.0),
                10 => a.sin() * 3.0 + b,
                11 => a.leaky_relu(0.1),
                12 => a * 0.0,
                13 => a - a,
                14 => a.square(),
                15 => Var::neuron(&[a], &[b], c, Activation::Relu),
                16 => Var::neuron_const(&[a, b], &[1.0, -1.0], c, Activation::Relu),
                _ => a.pow(b),
            };
            nodes.push(v);
        }
        let output = nodes.last().unwrap().index();
        let all: Vec<usize> = (0..tape.len()).collect();
        let together = kinks_affecting(&tape, &all, output);
        for &x in &all {
            let one = kink_affecting(&tape, x, output);
            assert_eq!(together[x], one, "node {x} of {}", describe(&tape));
            checked += 1;
            found += usize::from(one.is_some());
        }
    }
    assert!(found > 1000, "{found} kinks found among {checked} searches");
}

/// Where the sweep's sum cancels, rounding decides whether it is 0: in
/// `relu(x + 1e300·(x − x))` at 0, ∂(relu's operand)/∂x is 1 (the tangent
/// 1 + 1e300·0), but the sweep down from the relu adds 1 + 1e300 − 1e300 = 0.
/// `kinks_affecting` missed the kink `kink_affecting` finds (and `chainrule
/// grad` dropped its note); it searches from each quantity there now.
#[test]
fn kinks_affecting_agrees_with_kink_affecting_where_the_sweep_cancels() {
    use chainrule::explain::{kink_affecting, kinks_affecting};
    let tape = Tape::new();
    let x = tape.var(0.0);
    let y = (x + (x - x) * 1e300).relu();
    let one = kink_affecting(&tape, x.index(), y.index());
    assert!(one.is_some());
    assert_eq!(kinks_affecting(&tape, &[x.index()], y.index()), vec![one]);

    // The same with the cancellation one node above x (∂(w·v)/∂v's terms),
    // and the other way round: a tangent that cancels to 0 exactly.
    let tape = Tape::new();
    let x = tape.var(0.0);
    let big = tape.var(1e300);
    let d = x - x.min(big); // 0, ∂d/∂x = 1 − 1 = 0
    let z = chainrule::Var::neuron(&[x.min(big), big], &[x, d], x, chainrule::Activation::Relu);
    let all: Vec<usize> = (0..tape.len()).collect();
    let together = kinks_affecting(&tape, &all, z.index());
    for &i in &all {
        assert_eq!(together[i], kink_affecting(&tape, i, z.index()), "node {i}");
    }
}

/// A fresh user's review: `clamp(x, c, c)` is the constant c, yet at x = c the
/// tape gave ¼ and explanations said "the derivative does not exist here"
/// (and `gradcheck` failed the tape against the slope 0); `leaky_relu(x, 1)` is
/// the identity, yet at 0 the same note was written. Both are differentiable
/// there: no kink, and clamp's derivative is 0.
#[test]
fn no_kink_is_claimed_where_the_op_is_smooth_clamp_between_equal_bounds_and_leaky_relu_of_slope_one(
) {
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = x.clamp(2.0, 2.0).named("y");
    let g = y.backward();
    assert_eq!(g[x], 0.0);
    assert_eq!(chainrule::explain::kink_at(&tape, y.index()), None);
    let text = g.explain(x).to_string();
    assert!(!text.contains("does not exist"), "{text}");
    let report = chainrule::gradcheck::gradcheck(|v| v[0].clamp(1.0, 1.0), &[1.0]);
    assert!(report.all_passed(), "{report}");

    let z = tape.var(0.0).named("z");
    let w = z.leaky_relu(1.0).named("w");
    assert_eq!(chainrule::explain::kink_at(&tape, w.index()), None);
    let text = w.backward().explain(z).to_string();
    assert!(!text.contains("does not exist"), "{text}");
    // Any other slope is a kink at 0, and a bound of an interval still is.
    let k = z.leaky_relu(0.1);
    assert!(chainrule::explain::kink_at(&tape, k.index()).is_some());
    let b = x.clamp(2.0, 3.0);
    assert_eq!(b.backward()[x], 0.5);
    assert!(chainrule::explain::kink_at(&tape, b.index()).is_some());
}

/// A fresh user's review: `powf`'s exponent was read back from the value,
/// ln(x^c)/ln(x), which near x = 1 is lost: x^2.5 at 1 + 2⁻⁵² was named x^3
/// (and x^2 at 1 − 2⁻⁵³) next to its factor 2.5, and at x = 1 it had no name.
/// The tape keeps c; names now use it.
#[test]
fn powf_is_named_with_its_own_exponent_near_one() {
    for at in [1.0 + f64::EPSILON, 1.0 - f64::EPSILON / 2.0, 1.0, 3.0] {
        let tape = Tape::new();
        let x = tape.var(at).named("x");
        let y = tape.var(3.0).named("y");
        let f = (y * x.powf(2.5)).named("f");
        let text = f.backward().explain(x).to_string();
        assert!(text.contains("∂(x^2.5)/∂x"), "at {at}: {text}");
    }
}

/// A fresh user's review: a path whose product is −0 (0 × (−2)) was summed to
/// −0 (`Iterator::sum` starts from −0), and the explanation ended
/// "= -0.00000000" where the tape's gradient is +0 (the sweep adds to a zeroed
/// adjoint).
#[test]
fn a_negative_zero_product_sums_to_the_tapes_positive_zero() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let y = tape.var(0.0).named("y");
    let f = (y * (x * -2.0)).named("f");
    let g = f.backward();
    assert!(g[x] == 0.0 && g[x].is_sign_positive());
    let e = g.explain(x);
    assert!(e.listed_sum().is_sign_positive());
    let text = e.to_string();
    assert!(!text.contains("= -0.0"), "{text}");
    assert!(text.trim_end().ends_with("= 0.00000000"), "{text}");
}

/// From a fifth review: a labelled node in the middle of a long path was
/// written `#28` in a "where" section (names were made only for a path's
/// ends, though the sections write its stretches in full).
#[test]
fn labelled_nodes_in_a_where_section_are_named() {
    let tape = chainrule::Tape::new();
    let x = tape.var(0.5).named("x");
    let mut v = x;
    for i in 0..15 {
        v = v.sin().named(format!("t{i}"));
    }
    let (mut a, mut b) = (v, v);
    for i in 0..20 {
        a = a.sin().named(format!("a{i}"));
        b = b.cos().named(format!("b{i}"));
    }
    let f = (a + b).named("f");
    let text = f.backward().explain(x).to_string();
    assert!(text.contains("where ∂f/∂t14 sums 2 paths"), "{text}");
    assert!(text.contains("∂a7/∂a6 · ∂a6/∂a5"), "{text}");
    assert!(!text.contains('#'), "{text}");
}

/// A factor whose upper quantity also reaches its lower one through another
/// shown quantity is a direct partial, written `|direct` wherever it appears:
/// with a = x·y, b = a + x, f = a·b + x at (2, 3), ∂x's explanation wrote
/// `∂f/∂a · ∂a/∂x = 8 × 3`, though ∂f/∂a = 14 (the "where" section of ∂y's
/// explanation, just below, said so, and called that 8 `∂f/∂a|direct`): the 8
/// holds b fixed. Likewise ∂b/∂x = 1 with a held fixed (the total is 4).
#[test]
fn a_direct_partial_is_marked_in_every_explanation_it_appears_in() {
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = tape.var(3.0).named("y");
    let a = (x * y).named("a");
    let b = (a + x).named("b");
    let c = (a * b).named("c");
    let f = (c + x).named("f");
    let g = f.backward();
    assert_eq!((g[a], g[x]), (14.0, 49.0));
    let wrt_x = g.explain(x);
    let text = wrt_x.to_string();
    assert!(
        text.starts_with(
            "∂f/∂x = ∂f/∂a|direct · ∂a/∂x\n      + ∂f/∂b · ∂b/∂a · ∂a/∂x\n      + ∂f/∂b · ∂b/∂x|direct\n      + ∂f/∂x|direct\n"
        ),
        "{text}"
    );
    let direct: Vec<(String, String, f64)> = wrt_x
        .paths()
        .iter()
        .flat_map(|p| &p.factors)
        .filter(|factor| wrt_x.is_direct(factor))
        .map(|factor| (wrt_x.name(factor.of), wrt_x.name(factor.wrt), factor.value))
        .collect();
    let named = |o: &str, w: &str, v: f64| (o.to_string(), w.to_string(), v);
    assert_eq!(
        direct,
        [
            named("f", "a", 8.0),
            named("b", "x", 1.0),
            named("f", "x", 1.0)
        ]
    );
    // ∂y's explanation: ∂f/∂a as a whole (14) on its first line, the 8 as
    // ∂f/∂a|direct in its "where" section.
    let wrt_y = g.explain(y).to_string();
    assert!(wrt_y.starts_with("∂f/∂y = ∂f/∂a · ∂a/∂y\n"), "{wrt_y}");
    assert!(wrt_y.contains("∂f/∂a = ∂f/∂a|direct\n"), "{wrt_y}");
    // A factor no other route parallels is the total, and written plainly.
    for factor in wrt_x.paths().iter().flat_map(|p| &p.factors) {
        let (of, to) = (wrt_x.name(factor.of), wrt_x.name(factor.wrt));
        if [("f", "b"), ("b", "a"), ("a", "x")].contains(&(of.as_str(), to.as_str())) {
            assert!(!wrt_x.is_direct(factor), "∂{of}/∂{to}");
        }
    }
}

/// A labelled node is folded as a unit factor only where its 1 is a renaming
/// (a sum's operand) and folding merges no paths. A review found a residual
/// `y = x + s` shown as one path with the factor 1 + cos x, two labelled
/// branches `a + b` of one `u` both dropped, and a hidden unit `h` dropped
/// where its weight happened to be 1.
#[test]
fn a_unit_factor_is_folded_only_where_it_is_a_renaming_that_merges_no_paths() {
    // The residual: two paths, the labelled s shown.
    let tape = Tape::new();
    let x = tape.var(0.3).named("x");
    let s = x.sin().named("s");
    let y = (x + s).named("y");
    let e = (y * y).named("E");
    let explanation = e.backward().explain(x);
    assert_eq!(explanation.path_count(), 2, "{explanation}");
    let text = explanation.to_string();
    assert!(text.contains("∂y/∂s · ∂s/∂x"), "{text}");
    assert_eq!(
        text,
        e.backward()
            .explain_with(x, ExplainOptions::default().raw())
            .to_string()
    );

    // Two labelled branches of one u: both kept (not one of them), their
    // paths summed where ∂f/∂u is written out.
    let tape = Tape::new();
    let w = tape.var(0.7).named("w");
    let u = (w * 2.0).named("u");
    let a = u.sin().named("a");
    let b = u.cos().named("b");
    let f = (a + b).named("f");
    let text = f.backward().explain(w).to_string();
    assert!(
        text.contains("∂f/∂a · ∂a/∂u") && text.contains("∂f/∂b · ∂b/∂u"),
        "{text}"
    );

    // A weight of exactly 1 is no renaming: h stays.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let w1 = tape.var(0.8).named("w1");
    let w2 = tape.var(1.0).named("w2");
    let h = (w1 * x).named("net1").tanh().named("h");
    let y = (w2 * h).named("y");
    let e = ((y - 1.0).square() * 0.5).named("E");
    let text = e.backward().explain(w1).to_string();
    assert!(
        text.starts_with("∂E/∂w1 = ∂E/∂y · ∂y/∂h · ∂h/∂net1 · ∂net1/∂w1\n"),
        "{text}"
    );

    // A renaming still folds: E_o1 in E = E_o1 + E_o2, its paths disjoint.
    let tape = Tape::new();
    let net = tape.var(1.1).named("net_o1");
    let o1 = net.sigmoid().named("out_o1");
    let o2 = tape.var(0.77).named("out_o2");
    let e1 = ((o1 - 0.01).square() * 0.5).named("E_o1");
    let e2 = ((o2 - 0.99).square() * 0.5).named("E_o2");
    let total = (e1 + e2).named("E");
    let text = total.backward().explain(net).to_string();
    assert!(
        text.starts_with("∂E/∂net_o1 = ∂E/∂out_o1 · ∂out_o1/∂net_o1\n"),
        "{text}"
    );
}
