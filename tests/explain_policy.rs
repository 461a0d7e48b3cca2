//! Explanations never state something the tape's sweep contradicts: the
//! products written are the products of the factors written, multiplied from the
//! output down as the sweep multiplies; the paths follow the non-finite policy of
//! `chainrule::backward` (a masked edge passes exactly 0, and 0 · ∞ below it is
//! NaN where the sweep forms it); every kink is marked; every name stands for one
//! quantity.

use chainrule::explain::{ExplainOptions, Explanation, Path, Quantity};
use chainrule::{Activation, Tape, Var};

/// The product of a path's factors from the top down, as written, under the
/// policy's masking (a masked factor passes exactly 0).
fn written_product(path: &Path) -> f64 {
    path.factors
        .iter()
        .fold(1.0, |p, f| if f.masked { 0.0 } else { p * f.value })
}

/// Holds `b` to `a` within a few ulps (NaN equals NaN).
fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-14 * a.abs().max(b.abs())
}

/// Every path's product is what its factors multiply to, and the listed sum is
/// the tape's gradient.
fn assert_honest(explanation: &Explanation, what: &str) {
    assert_eq!(explanation.left_out(), 0, "{what}: every path listed");
    for path in explanation.paths() {
        if path.product != 0.0 {
            assert!(
                same(path.product, written_product(path)),
                "{what}: product {} of factors {:?}\n{explanation}",
                path.product,
                path.factors
            );
        }
    }
    assert!(
        same(explanation.listed_sum(), explanation.gradient()),
        "{what}: listed sum {} against the gradient {}\n{explanation}",
        explanation.listed_sum(),
        explanation.gradient()
    );
}

// Fault 1: a folded factor that overflows or underflows.

#[test]
fn a_folded_factor_that_would_overflow_is_shown_unfolded() {
    let tape = Tape::new();
    let x = tape.var(1e-200).named("x");
    let m = (x * 1e200 * 1e200).named("m"); // the middle node unlabelled
    let y = (m * 1e-300).named("y");
    let g = y.backward();
    assert!(same(g[x], 1e100));
    let explanation = g.explain(x);
    assert_honest(&explanation, "overflow");
    let text = explanation.to_string();
    assert!(!text.contains("inf"), "{text}");
    assert!(text.trim_end().ends_with("= 1.00000000e100"), "{text}");
    // compare states the same: its explanation (of a wrong value) has no inf.
    let comparison = g.compare(&[(x, 1.0)]);
    assert!(!comparison.to_string().contains("inf"), "{comparison}");
    assert!(g.compare(&[(x, 1e100)]).all_passed());
}

#[test]
fn a_folded_factor_that_would_underflow_is_shown_unfolded() {
    let tape = Tape::new();
    let x = tape.var(1e200).named("x");
    let m = (x * 1e-200 * 1e-200).named("m");
    let y = (m * 1e300).named("y");
    let g = y.backward();
    assert!(same(g[x], 1e-100));
    let explanation = g.explain(x);
    assert_honest(&explanation, "underflow");
    let text = explanation.to_string();
    assert!(text.trim_end().ends_with("= 1.00000000e-100"), "{text}");
}

#[test]
fn a_shared_stretch_is_multiplied_from_the_sum_down() {
    // Two paths share the stretch b → a → x (factors 1e200 each): the sum over
    // the branches, 8e-300, times 1e200 times 1e200 is 8e100, not 8e-300 · inf.
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let a = (x * 1e200).named("a");
    let b = (a * 1e200).named("b");
    let u = (b * 1e-300).named("u");
    let v = (b * 2e-300).named("v");
    let y = (u * 2.0 + v * 3.0).named("y");
    let g = y.backward();
    let explanation = g.explain(x);
    assert_eq!(explanation.path_count(), 2);
    assert!(explanation.derivation().through.is_some());
    let text = explanation.to_string();
    assert!(!text.contains("inf"), "{text}");
    let result = text.lines().nth(2).expect("a result line");
    assert!(result.ends_with(&format!("= {:.8e}", g[x])), "{text}");
}

// Fault 2: masking follows the policy of the sweep, and no further.

#[test]
fn zero_times_infinity_below_a_masked_edge_is_nan_as_in_the_sweep() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = (x.sqrt().max(1.0) * 2.0).named("y");
    let g = y.backward();
    assert!(g[x].is_nan()); // rules 3 and 2: the masked 0 times sqrt′(0) = ∞
    for options in [ExplainOptions::default(), ExplainOptions::default().raw()] {
        let explanation = g.explain_with(x, options);
        assert_honest(&explanation, "masked over inf");
        let text = explanation.to_string();
        assert!(text.trim_end().ends_with("= NaN"), "{text}");
    }
    let comparison = g.compare(&[(x, 0.0)]);
    assert!(!comparison.all_passed());
    assert!(comparison.mismatches[0].1.listed_sum().is_nan());
    assert!(
        comparison.to_string().trim_end().ends_with("= NaN"),
        "{comparison}"
    );
}

#[test]
fn a_masked_zero_added_to_a_nonzero_gradient_is_not_multiplied_further() {
    // s = sqrt(x) at 0 gets 0 from the max that did not pick it and 1 from the
    // sum: its gradient is 1, and the sweep multiplies 1 · ∞, never 0 · ∞.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let s = x.sqrt().named("s");
    let m = s.max(1.0).named("m");
    let y = (m + s).named("y");
    let g = y.backward();
    assert_eq!(g[x], f64::INFINITY);
    for options in [ExplainOptions::default(), ExplainOptions::default().raw()] {
        let explanation = g.explain_with(x, options);
        assert_honest(&explanation, "masked zero absorbed");
    }
}

// Fault 6: a fused relu neuron at z = 0 is a kink.

const RELU_KINK: &str = "relu′(0): a convention; the derivative does not exist here";

#[test]
fn a_relu_neuron_at_zero_is_marked_as_a_kink() {
    let tape = Tape::new();
    let w0 = tape.var(1.0).named("w0");
    let w1 = tape.var(-1.0);
    let xs = tape.vars(&[1.0, 1.0]);
    let a = Var::neuron(&[w0, w1], &xs, tape.var(0.0), Activation::Relu); // z = 0
    let explanation = (a * 2.0).named("y").backward().explain(w0);
    let text = explanation.to_string();
    assert!(text.contains(RELU_KINK), "{text}");
    let factor = explanation.paths()[0]
        .factors
        .iter()
        .find(|f| f.of == Quantity::Node(a.index()))
        .copied()
        .expect("a factor of the neuron");
    assert_eq!(explanation.kink(&factor), Some(RELU_KINK));
    // z < 0 is no kink.
    let tape = Tape::new();
    let w0 = tape.var(1.0).named("w0");
    let xs = tape.vars(&[1.0]);
    let a = Var::neuron(&[w0], &xs, tape.var(-0.5), Activation::Relu);
    let text = (a * 2.0).named("y").backward().explain(w0).to_string();
    assert!(!text.contains("convention"), "{text}");
}

#[test]
fn relu_neurons_at_zero_in_a_layer_over_runs_and_over_constants_are_kinks() {
    // A layer of four inputs: its neurons are recorded over runs.
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 1.0, 1.0, 1.0]);
    let params = tape.vars(&[1.0, -1.0, 1.0, -1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.5]);
    let mut h = [x[0]; 2];
    Var::layer(&params, &x, Activation::Relu, &mut h);
    let w = params[0].named("w");
    let text = (h[0] * 3.0 + h[1])
        .named("y")
        .backward()
        .explain(w)
        .to_string();
    assert!(text.contains(RELU_KINK), "{text}");
    // Over constant inputs, with the constants kept (a replay tape) z is known.
    let tape = Tape::for_replay();
    let w = tape.vars(&[1.0, -1.0]);
    let w0 = w[0].named("w0");
    let a = Var::neuron_const(&w, &[2.0, 2.0], tape.var(0.0), Activation::Relu);
    let text = (a * 2.0).named("y").backward().explain(w0).to_string();
    assert!(text.contains(RELU_KINK), "{text}");
    // Without them, z ≤ 0 is all the tape holds: the note says so.
    let tape = Tape::new();
    let w = tape.vars(&[1.0, -1.0]);
    let w0 = w[0].named("w0");
    let a = Var::neuron_const(&w, &[2.0, 2.0], tape.var(0.0), Activation::Relu);
    let text = (a * 2.0).named("y").backward().explain(w0).to_string();
    assert!(text.contains("relu′(z) for z ≤ 0"), "{text}");
}

// Fault 7: one name, one quantity.

#[test]
fn a_label_never_shares_its_name_with_an_automatic_one() {
    let tape = Tape::new();
    let x = tape.var(0.5);
    let y = tape.var(2.0).named("x₀");
    let explanation = (x * y + x).backward().explain(x);
    let text = explanation.to_string();
    assert_eq!(explanation.name(x), "x₀#0");
    assert!(text.contains("x₀#0·x₀"), "{text}");
    let _ = y;
    // An expression that reads as a label is set apart as well.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let other = tape.var(0.1).named("sin(x)");
    let s = x.sin();
    let explanation = (s * other).named("y").backward().explain(x);
    let text = explanation.to_string();
    assert_ne!(explanation.name(s), "sin(x)", "{text}");
}

#[test]
fn a_label_shared_by_two_nodes_is_told_apart_inside_expressions() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let h1 = (x * 2.0).named("h");
    let h2 = (x * 3.0).named("h");
    let p = (h1 * h2).exp(); // named by its expression
    let y = (p * 1.5 + h1).named("y");
    let explanation = y
        .backward()
        .explain_with(x, ExplainOptions::default().raw());
    let text = explanation.to_string();
    assert!(!text.contains("h·h"), "{text}");
}

// Where no path-by-path sum can equal the sweep's (merged parallel edges whose
// factor overflows: ∂(x·x)/∂x = 2x = ∞ at x = 1.5e308, while the sweep adds
// 1e-300·x twice), the result line says so and gives the tape's gradient.

#[test]
fn a_sum_that_cannot_match_the_sweep_says_so_and_gives_the_gradient() {
    let tape = Tape::new();
    let x = tape.var(1.5e308).named("x");
    let y = (x * x * 1e-300).named("y");
    let g = y.backward();
    assert_eq!(g[x], 3e8);
    let explanation = g.explain(x);
    assert_eq!(explanation.gradient(), 3e8);
    let text = explanation.to_string();
    assert!(
        text.contains("300000000") && text.contains("differ"),
        "the result line names the tape's gradient and the difference:\n{text}"
    );
}

// A product that underflows (or overflows) in the sweep's order but not in the
// explanation's (one folded factor of 1e100·1e-100 = 1, a normal number): the
// result line gives the tape's gradient and says why they differ.

#[test]
fn a_product_the_sweep_underflows_is_noted_with_the_gradient() {
    let tape = Tape::new();
    let x = tape.var(1.0);
    let u = (x * 1e100 * 1e-100).named("u");
    let y = u * 1e-300;
    let g = y.backward();
    assert_eq!(g[x], 0.0, "1e-300 · 1e-100 underflows from the output down");
    let text = g.explain(x).to_string();
    assert!(
        text.contains("is 0.00000000") && text.contains("underflows or overflows"),
        "the result line names the tape's gradient and the order of the products:\n{text}"
    );
    // The overflow mirror: finite terms, an infinite gradient; the reason is the
    // order, not an infinite term.
    let tape = Tape::new();
    let x = tape.var(1.0);
    let u = (x * 1e-100 * 1e100).named("u");
    let g = (u * 1e300).backward();
    assert_eq!(g[x], f64::INFINITY);
    let text = g.explain(x).to_string();
    assert!(
        text.contains("underflows or overflows") && !text.contains("infinite or NaN terms"),
        "{text}"
    );
}
