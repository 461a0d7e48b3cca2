//! `compare` names the mistake in a hand derivation: which paths of the tape's
//! gradient the hand value accounts for, misses, counts twice or has with the
//! wrong sign.
//!
//! Hand values are computed here the way a learner computes them (from the
//! article's δ terms, in f64), so they agree with a path's contribution to
//! rounding; the comparison's tolerance (`Tolerance::MANUAL`: 1e-12 + 1e-7·|x|)
//! decides every match.

mod common;

use chainrule::explain::ExplainOptions;
use chainrule::gradcheck::{CompareOptions, Finding, Tolerance};
use chainrule::Tape;
use common::record_seed;
use common::workloads::seed;

#[test]
fn w1_missing_the_path_through_out_o2_is_named() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let out_h1 = net.out_h[0].value();
    let out_o1 = net.out_o[0].value();
    let [i1, _] = seed::INPUTS;
    let w5 = seed::WEIGHTS[4];
    // The slip: δ_h1 from δ_o1 alone, forgetting that out_h1 also feeds out_o2.
    let delta_o1 = (out_o1 - seed::TARGETS[0]) * out_o1 * (1.0 - out_o1);
    let through_out_o1_only = delta_o1 * w5 * out_h1 * (1.0 - out_h1) * i1;
    let comparison = g.compare(&[(net.w[0], through_out_o1_only)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(
        diagnosis.to_string(),
        "your value equals path 1 (through out_o1); path 2 (through out_o2) is missing\n"
    );
    assert_eq!(
        diagnosis.finding,
        Finding::EqualsPaths {
            coefficients: vec![1, 0]
        }
    );
    assert_eq!(diagnosis.missing()[0].through, "out_o2");
    let text = comparison.to_string();
    assert!(
        text.contains("path 2 (through out_o2) is missing"),
        "{text}"
    );
    assert!(text.contains("∂E/∂out_h1 = ∂E/∂out_o1"), "{text}");
}

#[test]
fn a_quotient_missing_the_path_through_its_denominator_is_named() {
    // f(x, y) = ln(1 + e^{xy}) / sqrt(x² + y²). By the quotient rule
    // ∂f/∂x = y·σ(xy)/r − ln(1 + e^{xy})·x/r³; the slip keeps the first term only.
    let tape = Tape::new();
    let (x0, y0) = (0.3, 0.7);
    let x = tape.var(x0).named("x");
    let y = tape.var(y0).named("y");
    let f = ((x * y).exp() + 1.0).ln() / (x.square() + y.square()).sqrt();
    let g = f.backward();
    let r: f64 = (x0 * x0 + y0 * y0).sqrt();
    let sigma = 1.0 / (1.0 + (-x0 * y0).exp());
    let numerator_only = y0 * sigma / r;
    let comparison = g.compare(&[(x, numerator_only)]);
    assert_eq!(
        comparison.diagnoses()[0].to_string(),
        "your value equals path 1 (through ln(exp(x·y) + 1)); \
         path 2 (through sqrt(x² + y²)) is missing\n",
        "{comparison}"
    );
    // With the whole quotient rule it matches.
    let softplus = (1.0 + (x0 * y0).exp()).ln();
    let whole = y0 * sigma / r - softplus * x0 / (r * r * r);
    assert!(g.compare(&[(x, whole)]).all_passed());
    // A sign slip on the denominator's term.
    let plus = y0 * sigma / r + softplus * x0 / (r * r * r);
    assert_eq!(
        g.compare(&[(x, plus)]).diagnoses()[0].to_string(),
        "your value has the wrong sign of path 2 (through sqrt(x² + y²))\n"
    );
}

#[test]
fn a_path_counted_twice_is_named() {
    let tape = Tape::new();
    let x = tape.var(0.4).named("x");
    let y = x.sin().named("y");
    let comparison = y.backward().compare(&[(x, 2.0 * 0.4f64.cos())]);
    // One path: twice the tape's value, not a path counted twice.
    assert_eq!(
        comparison.diagnoses()[0].to_string(),
        "your value is twice the tape's, which is one path (so not a path counted twice)\n"
    );
    // With two paths: y = sin(x)·e^x, the product rule with one term doubled.
    let tape = Tape::new();
    let x = tape.var(0.4).named("x");
    let s = x.sin().named("s");
    let e = x.exp().named("e");
    let y = (s * e).named("y");
    let (sin, cos, exp) = (0.4f64.sin(), 0.4f64.cos(), 0.4f64.exp());
    let comparison = y.backward().compare(&[(x, 2.0 * cos * exp + sin * exp)]);
    assert_eq!(
        comparison.diagnoses()[0].to_string(),
        "your value has path 1 (through s) counted twice\n"
    );
    // Two slips at once are written as the sum they make.
    let comparison = y.backward().compare(&[(x, 2.0 * cos * exp - sin * exp)]);
    assert_eq!(
        comparison.diagnoses()[0].to_string(),
        "your value equals 2 × path 1 − path 2: path 1 (through s) is counted twice; \
         path 2 (through e) has the wrong sign\n"
    );
}

#[test]
fn a_value_made_of_no_paths_shows_the_table() {
    let tape = Tape::new();
    let x = tape.var(0.4).named("x");
    let y = (x.sin() * x.exp()).named("y");
    let comparison = y.backward().compare(&[(x, 0.123)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert!(
        matches!(diagnosis.finding, Finding::NoMatch { searched } if searched == 2 * 3 + 3 * 3)
    );
    let text = diagnosis.to_string();
    assert!(
        text.starts_with("your value is no sum of the paths' contributions"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "  path 1 (through sin(x)): {:.12}",
            0.4f64.cos() * 0.4f64.exp()
        )),
        "{text}"
    );
    assert!(text.contains("  sum: "), "{text}");
}

/// y = p + e^x at x = 0.3, p a chain of 6 diamonds (sin·cos): 65 paths.
/// Returns x, p and y.
fn diamonds_and_exp(tape: &Tape) -> (chainrule::Var<'_>, chainrule::Var<'_>, chainrule::Var<'_>) {
    let x = tape.var(0.3).named("x");
    let mut p = x;
    for _ in 0..6 {
        p = p.sin() * p.cos();
    }
    let p = p.named("p");
    let e = x.exp().named("e");
    (x, p, (p + e).named("y"))
}

#[test]
fn many_paths_are_grouped_by_their_first_step() {
    // y = p + e^x with p a chain of 6 diamonds (64 paths): the hand value
    // misses e^x; the 65 paths are taken as two branches.
    let tape = Tape::new();
    let (x, p, y) = diamonds_and_exp(&tape);
    let g = y.backward();
    let comparison = g.compare_with(&[(x, p.backward()[x])], ExplainOptions::default().raw());
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(diagnosis.terms.len(), 2);
    assert_eq!(diagnosis.terms[0].paths, 64);
    assert_eq!(
        diagnosis.to_string(),
        "your value equals branch 1 (64 paths through p); path 2 (through e) is missing\n"
    );
}

#[test]
fn compare_with_takes_a_tolerance_explain_options_or_both() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let y = (x * x).named("y");
    let g = y.backward();
    let expected = [(x, 2.000001)]; // 5e-7 off: beyond MANUAL's 1e-7, within 1e-3
    assert!(!g.compare(&expected).all_passed());
    assert!(g
        .compare_with(&expected, Tolerance::FINITE_DIFFERENCES)
        .all_passed());
    let raw = g.compare_with(&[(x, 1.0)], ExplainOptions::default().raw());
    assert_eq!(raw.tolerance, Tolerance::MANUAL);
    assert_eq!(
        raw.mismatches[0].1.options(),
        ExplainOptions::default().raw()
    );
    let both = g.compare_with(
        &expected,
        (Tolerance::FINITE_DIFFERENCES, ExplainOptions::default()),
    );
    assert!(both.all_passed());
    let options = CompareOptions {
        tolerance: Tolerance::MANUAL,
        explain: ExplainOptions::default().max_paths(1),
    };
    assert_eq!(
        g.compare_with(&[(x, 0.0)], options).mismatches[0]
            .1
            .options()
            .max_paths,
        1
    );
}

/// A NaN or negative tolerance refused even an exact match, and `compare_with`
/// then passed the row on the tape's rounding bound alone, saying that 2 and
/// the tape's 2 "cannot be told apart": the caller's setting is named instead.
#[test]
#[should_panic(
    expected = "chainrule: compare_with was given a tolerance it cannot use: \
                           the tolerance (atol 0e0, rtol NaN) is not valid"
)]
fn a_nan_tolerance_is_named_not_judged_against_the_tape() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let y = tape.var(3.0);
    let g = (x * y).backward();
    let _ = g.compare_with(
        &[(y, 2.0)],
        Tolerance {
            atol: 0.0,
            rtol: f64::NAN,
        },
    );
}

#[test]
#[should_panic(expected = "the tolerance (atol -1e0, rtol 1e-7) is not valid")]
fn a_negative_tolerance_is_named() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let g = x.square().backward();
    let _ = g.compare_with(
        &[(x, 4.0)],
        Tolerance {
            atol: -1.0,
            rtol: 1e-7,
        },
    );
}

#[test]
#[should_panic(expected = "chainrule: compare was given node #2 of another tape")]
fn a_var_of_another_tape_is_named_not_an_index_out_of_bounds() {
    let tape = Tape::new();
    let y = tape.var(2.0).named("y").square(); // 2 nodes
    let other = Tape::new();
    let x_of_another_tape = other.vars(&[1.0, 2.0, 3.0])[2]; // node #2: past `tape`'s end
    let _ = y.backward().compare(&[(x_of_another_tape, 6.0)]);
}

#[test]
fn a_network_built_with_nn_is_diagnosed_path_by_path_even_unlabelled() {
    use chainrule::nn::{loss, Activation, LayerSpec, Mlp};
    let layer = LayerSpec::new(2, Activation::Sigmoid)
        .shared_bias()
        .frozen_bias();
    let mut mlp = Mlp::builder(2)
        .layer_spec(layer)
        .layer_spec(layer)
        .build()
        .unwrap();
    mlp.set_parameters(&seed::WEIGHTS).unwrap();
    mlp.frozen_parameters_mut().copy_from_slice(&seed::BIASES);
    let tape = Tape::new();
    let bound = mlp.bind(&tape);
    let out = bound.forward(&seed::INPUTS);
    let e = loss::half_squared_error(&out, &seed::TARGETS);
    let g = e.backward();
    let w1 = bound.parameters()[0];
    // The slip of tests/gradcheck.rs: δ_h1 from δ_o1 alone.
    let out_o1 = out[0].value();
    let delta_o1 = (out_o1 - seed::TARGETS[0]) * out_o1 * (1.0 - out_o1);
    let hidden = 1.0 / (1.0 + (-(0.15 * 0.05 + 0.20 * 0.10 + 0.35f64)).exp());
    let through_o1_only = delta_o1 * 0.40 * hidden * (1.0 - hidden) * seed::INPUTS[0];
    let comparison = g.compare(&[(w1, through_o1_only)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(
        diagnosis.finding,
        Finding::EqualsPaths {
            coefficients: vec![1, 0]
        },
        "{comparison}"
    );
    let text = diagnosis.to_string();
    assert!(
        text.starts_with("your value equals path 1 (through "),
        "{text}"
    );
    assert!(text.ends_with(") is missing\n"), "{text}");
    assert!(!comparison.to_string().contains("leaf#"), "{comparison}");
}

#[test]
fn a_direct_edge_is_described_by_its_factor_not_its_top_node() {
    // f = x·y + sin(x)·x: paths 2 and 3 both leave f through sin(x)·x; path 3 is
    // the direct term ∂(sin(x)·x)/∂x|direct (sin(x)·x reaches x through sin(x)
    // too: the factor holds sin(x) fixed, and is not ∂(sin(x)·x)/∂x).
    let tape = Tape::new();
    let (x0, y0) = (0.5f64, 2.0);
    let x = tape.var(x0).named("x");
    let y = tape.var(y0).named("y");
    let f = (x * y + x.sin() * x).named("f");
    let g = f.backward();
    let without_direct = y0 + x0.cos() * x0;
    let diagnosis = g.compare(&[(x, without_direct)]).diagnoses()[0].to_string();
    assert_eq!(
        diagnosis,
        "your value equals path 1 (through x·y) and path 2 (through sin(x)); \
         path 3 (the direct term ∂(sin(x)·x)/∂x|direct) is missing\n"
    );
}

#[test]
fn several_equally_simple_slips_are_all_named() {
    // Paths contributing 1, 2 and 3: 4 = 1 + 3 (path 2 missing) = −1 + 2 + 3
    // (the sign of path 1 wrong).
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let a = (x * 1.0).named("a");
    let b = (x * 2.0).named("b");
    let c = (x * 3.0).named("c");
    let f = (a + b + c).named("f");
    let g = f.backward();
    let comparison = g.compare(&[(x, 4.0)]);
    let diagnosis = &comparison.diagnoses()[0];
    // And 4 = 1 + 2 + 3/3: the factor ∂c/∂x = 3 left out of path 3, as
    // simple a slip, named first.
    assert_eq!(
        diagnosis.to_string(),
        "your value fits 3 slips equally: the factor ∂c/∂x = 3.000000000000 left out of \
         path 3 (through c); or path 2 (through b) is missing; \
         or the sign of path 1 (through a) is wrong\n"
    );
    assert_eq!(
        diagnosis.finding,
        Finding::MissingFactor {
            factor: "∂c/∂x".into(),
            value: 3.0,
            paths: vec![3],
            every_path: true,
            also: vec![vec![1, 0, 1], vec![-1, 1, 1]] // missing first
        }
    );
    assert_eq!(diagnosis.alternatives().len(), 2);
    assert!(diagnosis.missing().is_empty()); // no single reading
                                             // 3 = 1 + 2 (path 3 missing) = 3 alone is two changes: path 3 missing wins.
    assert_eq!(
        g.compare(&[(x, 3.0)]).diagnoses()[0].to_string(),
        "your value equals path 1 (through a) and path 2 (through b); \
         path 3 (through c) is missing\n"
    );
}

#[test]
fn two_paths_of_equal_contribution_either_missing_is_ambiguous() {
    // f = (x + x)·x at 3: two paths of 6 each; 6 misses either.
    let tape = Tape::new();
    let x = tape.var(3.0).named("x");
    let f = ((x + x) * x).named("f");
    let text = f.backward().compare(&[(x, 6.0)]).diagnoses()[0].to_string();
    assert_eq!(
        text,
        "your value fits 2 slips equally: path 1 (through x + x) is missing; \
         or path 2 (the direct term ∂f/∂x|direct) is missing\n"
    );
}

#[test]
fn more_alternatives_than_shown_are_counted() {
    // Four paths of 1 each, told apart by their factors (1 × 1, 1 × 0.5 × 2,
    // …); 3 misses any one of them.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let terms: Vec<_> = [
        ("a", "p", 1.0),
        ("b", "q", 2.0),
        ("c", "r", 4.0),
        ("d", "s", 8.0),
    ]
    .iter()
    .map(|&(n, m, k)| ((x * k).named(m) * (1.0 / k)).named(n))
    .collect();
    let f = (terms[0] + terms[1] + terms[2] + terms[3]).named("f");
    let text = f.backward().compare(&[(x, 3.0)]).diagnoses()[0].to_string();
    assert!(
        text.starts_with("your value fits 4 slips equally: path "),
        "{text}"
    );
    assert_eq!(text.matches(") is missing; or ").count(), 3, "{text}");
    assert!(text.ends_with(") is missing; or 1 more\n"), "{text}");
}

#[test]
fn a_non_finite_tape_gradient_is_said_so_with_where_it_starts() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let r = x.sqrt().named("r");
    let y = r.square().named("y");
    let g = y.backward();
    assert!(g[x].is_nan());
    let comparison = g.compare(&[(x, 1.0)]);
    let diagnosis = &comparison.diagnoses()[0];
    let anomaly = g.gradient_anomaly().expect("the gradient is NaN");
    // (Not assert_eq!: the anomaly holds the NaN contribution, and NaN != NaN.)
    match &diagnosis.finding {
        Finding::NonFiniteTape {
            anomaly: Some(found),
        } => {
            assert_eq!((found.node, found.op), (anomaly.node, anomaly.op));
            assert_eq!(found.to_string(), anomaly.to_string());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        diagnosis.to_string(),
        format!(
            "the tape's gradient is NaN, not a number a hand derivation can match or a sum \
             of finite path contributions; Gradients::gradient_anomaly() finds where it \
             starts: {anomaly}\n"
        )
    );
    assert!(
        diagnosis.to_string().contains("node #1 r (sqrt)"),
        "{diagnosis}"
    );
    assert!(!comparison.to_string().contains("no sum of the paths"));
}

#[test]
fn identical_paths_are_reported_as_one_of_them() {
    // f = a + b with a = 2x and b = 2x: two identical paths (factors 1 × 2).
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let a = (x * 2.0).named("a");
    let b = (x * 2.0).named("b");
    let f = (a + b).named("f");
    let comparison = f.backward().compare(&[(x, 2.0)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(
        diagnosis.to_string(),
        "your value fits 2 identical slips: one of paths 1 and 2 is missing \
         (the same factor values, 1.00000000 × 2.00000000, and the same contribution: \
         which one cannot be told)\n"
    );
    assert_eq!(diagnosis.alternatives(), vec![&[0i8, 1][..], &[1, 0][..]]);
}

#[test]
fn a_one_sided_derivative_at_a_tie_is_no_slip() {
    // max(x, 1) at x = 1: the tape's ½ is a convention (the derivative does not
    // exist), and the right-hand derivative 1 was once diagnosed "path 1 counted
    // twice".
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let y = x.max(1.0).named("y");
    let comparison = y.backward().compare(&[(x, 1.0)]);
    assert!(!comparison.all_passed());
    let diagnosis = &comparison.diagnoses()[0];
    match &diagnosis.finding {
        Finding::AtKink { node, name, note } => {
            assert_eq!((*node, name.as_str()), (y.index(), "y"));
            assert!(note.contains("a tie with the constant"), "{note}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        diagnosis.to_string(),
        "the tape passes a kink at y (a tie with the constant: a convention; the derivative \
         does not exist here): the tape's gradient is a convention there, and the derivative \
         may not exist, so this mismatch names no slip in your derivation; hold your value \
         against the tape at a point off the kink\n"
    );
    let text = comparison.to_string();
    assert!(!text.contains("counted twice"), "{text}");
    // Off the tie, the same slip is named.
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = x.max(1.0).named("y");
    let comparison = y.backward().compare(&[(x, 2.0)]);
    assert_eq!(
        comparison.diagnoses()[0].to_string(),
        "your value is twice the tape's, which is one path (so not a path counted twice)\n"
    );
}

#[test]
fn a_kink_on_one_of_several_paths_is_named_not_a_slip() {
    // y = max(x, z) + x at a tie x = z = 2: ∂y/∂x is ½ + 1 by the tape's
    // convention; 2 (taking max's x side) was "has path 1 counted twice".
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let z = tape.var(2.0).named("z");
    let m = x.max(z).named("m");
    let y = (m + x).named("y");
    let comparison = y.backward().compare(&[(x, 2.0)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert!(
        matches!(&diagnosis.finding, Finding::AtKink { node, .. } if *node == m.index()),
        "{diagnosis:?}"
    );
    assert!(
        diagnosis
            .to_string()
            .starts_with("the tape passes a kink at m (max at a tie"),
        "{diagnosis}"
    );
}

#[test]
fn relu_at_zero_is_a_kink_not_a_slip() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = x.relu().named("y");
    let comparison = y.backward().compare(&[(x, 1.0)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert!(
        matches!(diagnosis.finding, Finding::AtKink { .. }),
        "{diagnosis:?}"
    );
    assert!(
        diagnosis
            .to_string()
            .starts_with("the tape passes a kink at y (relu′(0): a convention"),
        "{diagnosis}"
    );
}

#[test]
fn an_infinite_expected_value_against_a_finite_gradient_fails_and_says_why() {
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = (x * 3.0).named("y");
    let comparison = y.backward().compare(&[(x, f64::INFINITY)]);
    assert!(!comparison.all_passed());
    assert!(!comparison.checks[0].passed);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(diagnosis.finding, Finding::NoMatch { searched: 0 });
    assert!(
        diagnosis
            .to_string()
            .starts_with("your value is inf, no sum of the paths' finite contributions"),
        "{diagnosis}"
    );
    // An infinite tape gradient against a finite value: the same infinity would
    // match it, so "not a number a hand derivation can match" is not said.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = x.sqrt().named("y");
    let g = y.backward();
    assert!(g.compare(&[(x, f64::INFINITY)]).all_passed());
    let comparison = g.compare(&[(x, 7.0)]);
    let text = comparison.diagnoses()[0].to_string();
    assert!(
        text.starts_with(
            "the tape's gradient is inf, not a sum of finite path contributions: only the \
             same infinity matches it, and no slip can be named"
        ),
        "{text}"
    );
}

#[test]
fn a_pass_on_the_absolute_tolerance_alone_says_so() {
    // (1e-9·x)² at 1e-3: ∂/∂x = 2e-18·x = 2e-21. A hand value of 5e-13 is off
    // by a factor of 2.5e8, yet |5e-13 − 2e-21| <= atol 1e-12: the row passes,
    // and the report must not let that read as a confirmation.
    let tape = Tape::new();
    let x = tape.var(1e-3);
    let y = (x * 1e-9).square();
    let g = y.backward();
    let comparison = g.compare(&[(x, 5e-13)]);
    assert!(comparison.all_passed(), "{comparison}");
    let text = comparison.to_string();
    assert!(
        text.contains("passed on the absolute tolerance 1e-12 alone"),
        "{text}"
    );
    // A pass on the relative tolerance gets no such note.
    let text = g.compare(&[(x, 2e-21)]).to_string();
    assert!(!text.contains("absolute tolerance"), "{text}");
}

#[test]
fn the_absolute_tolerance_note_does_not_overstate() {
    // The note once said "a value off by any factor passes": only values within
    // atol of the reference pass.
    let tape = Tape::new();
    let x = tape.var(1e-3);
    let y = (x * 1e-9).square();
    let text = y.backward().compare(&[(x, 5e-13)]).to_string();
    assert!(
        text.contains(
            "passed on the absolute tolerance 1e-12 alone (relative error 1.000e0): at this \
             scale the check accepts values that far off (any value within 1e-12 of the \
             reference); lower atol for a stricter check"
        ),
        "{text}"
    );
    assert!(!text.contains("any factor"), "{text}");
}

/// The finding on hand value `hand` for ∂y/∂x.
fn finding(y: chainrule::Var<'_>, x: chainrule::Var<'_>, hand: f64) -> (Finding, String) {
    let comparison = y.backward().compare(&[(x, hand)]);
    assert!(!comparison.all_passed(), "{comparison}");
    let diagnosis = &comparison.diagnoses()[0];
    (diagnosis.finding.clone(), diagnosis.to_string())
}

#[test]
fn a_kink_with_a_zero_adjoint_hides_no_slip() {
    // relu(x)² and x·|x| at 0 are differentiable, ∂ = 0: the adjoint reaching
    // the kink is 0, so the kink cannot matter and a hand 1 is a plain slip.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = x.relu().square().named("y");
    let (f, text) = finding(y, x, 1.0);
    assert!(!matches!(f, Finding::AtKink { .. }), "{f:?}: {text}");
    let y = (x * x.abs()).named("y");
    let (f, text) = finding(y, x, 1.0);
    assert!(!matches!(f, Finding::AtKink { .. }), "{f:?}: {text}");
}

#[test]
fn a_kink_whose_operand_does_not_move_with_x_hides_no_slip() {
    // sin(x) + relu(x·z) at x = 1, z = 0: relu is at its kink, but x·z does
    // not move with x (∂(x·z)/∂x = z = 0): f is smooth in x, and 2·cos 1 counts
    // the sin path twice.
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let z = tape.var(0.0).named("z");
    let y = (x.sin() + (x * z).relu()).named("y");
    let (f, text) = finding(y, x, 2.0 * 1f64.cos());
    assert!(
        matches!(&f, Finding::EqualsPaths { coefficients } if coefficients[0] == 2),
        "{f:?}: {text}"
    );
    assert!(text.contains("twice"), "{text}");
    // ∂/∂z does move it: there the kink matters.
    let y = (x.sin() + (x * z).relu()).named("y");
    let (f, _) = finding(y, z, 1.0);
    assert!(matches!(f, Finding::AtKink { .. }), "{f:?}");
}

#[test]
fn kinks_that_can_matter_still_count() {
    // relu(relu(x)) at 0: the outer relu's convention zeroes the inner's adjoint,
    // but its slopes are 0 and 1: not differentiable.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = x.relu().relu().named("y");
    let (f, _) = finding(y, x, 1.0);
    assert!(matches!(f, Finding::AtKink { .. }), "{f:?}");
    // signum(x)² jumps at 0, although the adjoint at signum is 2·signum(0) = 0.
    let y = x.signum().square().named("y");
    let (f, _) = finding(y, x, 1.0);
    assert!(matches!(f, Finding::AtKink { .. }), "{f:?}");
    // max(x, z) at a tie, x moving and z not.
    let z = tape.var(0.0).named("z");
    let y = x.max(z).named("y");
    let (f, _) = finding(y, x, 1.0);
    assert!(matches!(f, Finding::AtKink { .. }), "{f:?}");
}

#[test]
fn a_value_within_the_tapes_own_rounding_passes_with_a_note() {
    let tape = Tape::new();
    let x = tape.var(1e10);
    let g = (x.powi(3) - (x - 1.0).powi(3)).backward();
    let exact = 6e10 - 3.0;
    assert!(!chainrule::gradcheck::Tolerance::MANUAL.accepts(exact, g[x]));
    let comparison = g.compare(&[(x, exact)]);
    assert!(comparison.all_passed(), "{comparison}");
    assert!(comparison.checks[0].tape_rounding.is_some());
    assert!(
        comparison
            .to_string()
            .contains("within the tape's own rounding"),
        "{comparison}"
    );
    // Outside the bound: a mismatch.
    let comparison = g.compare(&[(x, exact + 1e8)]);
    assert!(!comparison.all_passed(), "{comparison}");
    assert_eq!(comparison.checks[0].tape_rounding, None);
}

/// signum(x³)·5 + x at 0: x³ is flat to first order, but signum jumps there, so
/// the tape's value is a convention and a differing hand value is no slip.
#[test]
fn signum_of_a_flat_operand_is_a_kink_not_a_slip() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = (x.powi(3).signum() * 5.0 + x).named("y");
    assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_some());
    let comparison = y.backward().compare(&[(x, 2.0)]);
    assert!(!comparison.all_passed());
    assert!(
        matches!(comparison.diagnoses()[0].finding, Finding::AtKink { .. }),
        "{comparison}"
    );
    // relu(x³) at 0 stays flat: differentiable, ∂ = 0, and a slip is named.
    let y = x.powi(3).relu().named("r");
    assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_none());
}

#[test]
fn paths_that_part_twice_are_named_apart() {
    // ∂E/∂b1 on the seed network has four paths, through out_o1 or out_o2 and then
    // out_h1 or out_h2. Labelled by the last parting alone, two paths read
    // "through out_h1" (seventh audit). A hand value with the out_o1 paths only
    // must name the two missing ones so that they can be told from the kept.
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let [o1, _] = net.out_o.map(|v| v.value());
    let [h1, h2] = net.out_h.map(|v| v.value());
    let w = seed::WEIGHTS;
    let via_o1 = (o1 - seed::TARGETS[0])
        * o1
        * (1.0 - o1)
        * (w[4] * h1 * (1.0 - h1) + w[5] * h2 * (1.0 - h2));
    let text = g.compare(&[(net.b[0], via_o1)]).to_string();
    // (The explanation folds E_o1's factors into ∂E/∂out_o1: the paths part
    // at out_o1 / out_o2, then at out_h1 / out_h2.)
    assert!(
        text.contains("path 3 (through out_o2 and out_h2)"),
        "{text}"
    );
    assert!(
        text.contains("path 4 (through out_o2 and out_h1)"),
        "{text}"
    );
    assert!(
        text.contains("path 2 (through out_o1 and out_h1)"),
        "{text}"
    );
}

#[test]
fn a_value_copied_rounded_from_the_article_is_called_rounded_not_a_slip() {
    // Mazur's article prints ∂E_total/∂w1 = 0.000438568: the tape's
    // 0.000438568… rounded to 6 significant digits, outside the 1e-7 relative
    // tolerance. The finding says so and names the tolerance that accepts it.
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let article = 0.000438568;
    assert!((g[net.w[0]] - article).abs() < 0.5e-9);
    let comparison = g.compare(&[(net.w[0], article)]);
    assert!(!comparison.all_passed(), "still outside the tolerance");
    let diagnosis = &comparison.diagnoses()[0];
    let half_unit = match diagnosis.finding {
        Finding::Rounded { digits, half_unit } => {
            assert_eq!(digits, 6);
            half_unit
        }
        ref other => panic!("{other:?}"),
    };
    assert!((half_unit - 0.5e-9).abs() < 1e-24, "{half_unit:e}");
    let text = diagnosis.to_string();
    assert!(
        text.starts_with("your value is the tape's 0.000438567734 rounded")
            && text.contains("rounded to the 6 significant digits you wrote"),
        "{text}"
    );
    let accept = Tolerance {
        atol: half_unit,
        rtol: 0.0,
    };
    assert!(g.compare_with(&[(net.w[0], article)], accept).all_passed());
    // The article's ∂E/∂w5 = 0.082167041 (8 digits) too.
    let w5 = g.compare(&[(net.w[4], 0.082167041)]);
    assert!(
        w5.all_passed()
            || matches!(
                w5.diagnoses()[0].finding,
                Finding::Rounded { digits: 8, .. }
            )
    );
}

#[test]
fn a_slip_or_a_full_precision_value_is_not_called_rounded() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let exact = g[net.w[4]];
    // A forgotten factor, written to 4 digits: a slip, not a rounding.
    let out_h1 = net.out_h[0].value();
    let forgot = g[net.w[4]] / out_h1;
    let four_digits = (forgot * 1e4).round() / 1e4;
    let slip = g.compare(&[(net.w[4], four_digits)]);
    let d = &slip.diagnoses()[0];
    assert!(!matches!(d.finding, Finding::Rounded { .. }), "{d}");
    // Full precision, off by 1e-6 relative: 16–17 digits were not rounded by hand.
    let off = exact * (1.0 + 1e-6);
    let full = g.compare(&[(net.w[4], off)]);
    let d = &full.diagnoses()[0];
    assert!(!matches!(d.finding, Finding::Rounded { .. }), "{d}");
    // Two significant digits say too little to tell.
    let two = (exact * 100.0).round() / 100.0;
    let c = g.compare(&[(net.w[4], two)]);
    assert!(c
        .diagnoses()
        .iter()
        .all(|d| !matches!(d.finding, Finding::Rounded { .. })));
}

/// A forgotten inner derivative (the learner's `cos(x²)` for ∂sin(x²)/∂x =
/// 2x·cos(x²)) is named as the factor left out, not "no sum of the paths".
#[test]
fn a_forgotten_inner_factor_is_named() {
    let tape = Tape::new();
    let x = tape.var(1.5).named("x");
    let u = x.square().named("u");
    let y = u.sin().named("y");
    let hand = (1.5f64 * 1.5).cos();
    let comparison = y.backward().compare(&[(x, hand)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(
        diagnosis.finding,
        Finding::MissingFactor {
            factor: "∂u/∂x".into(),
            value: 3.0,
            paths: vec![1],
            every_path: true,
            also: Vec::new(),
        }
    );
    assert_eq!(
        diagnosis.to_string(),
        "your value is the tape's without the factor ∂u/∂x = 3.000000000000: a chain-rule \
         factor is left out (the product of the other factors is your value)\n"
    );
    // The outer factor forgotten instead (2x alone) is named as that one.
    let comparison = y.backward().compare(&[(x, 3.0)]);
    assert!(
        matches!(&comparison.diagnoses()[0].finding,
            Finding::MissingFactor { factor, .. } if factor == "∂y/∂u"),
        "{}",
        comparison.diagnoses()[0]
    );
}

/// On the seed network, ∂E/∂w1 by two paths (through out_o1 and out_o2): σ′
/// of the hidden neuron left out of both, of one of them only, and σ′ of an
/// output neuron (on one path alone) are each named, with the paths.
#[test]
fn w1_a_factor_left_out_of_some_paths_is_named_with_them() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let [i1, _] = seed::INPUTS;
    let (h1, o1, o2) = (
        net.out_h[0].value(),
        net.out_o[0].value(),
        net.out_o[1].value(),
    );
    let [t1, t2] = seed::TARGETS;
    let (w5, w7) = (seed::WEIGHTS[4], seed::WEIGHTS[6]);
    // The learner's δ terms (E_o = ½(t − o)², so ∂E/∂out = o − t).
    let delta_o1 = (o1 - t1) * o1 * (1.0 - o1) * w5;
    let delta_o2 = (o2 - t2) * o2 * (1.0 - o2) * w7;
    let sigma_h1 = h1 * (1.0 - h1);
    let cases = [
        // σ′(net_h1) forgotten: out of both paths.
        (
            (delta_o1 + delta_o2) * i1,
            "∂out_h1/∂net_h1",
            vec![1, 2],
            true,
        ),
        // Forgotten on the second path only.
        (
            delta_o1 * sigma_h1 * i1 + delta_o2 * i1,
            "∂out_h1/∂net_h1",
            vec![2],
            false,
        ),
        // σ′(net_o1), on path 1 alone.
        (
            (o1 - t1) * w5 * sigma_h1 * i1 + delta_o2 * sigma_h1 * i1,
            "∂out_o1/∂net_o1",
            vec![1],
            true,
        ),
    ];
    for (hand, factor, paths, every_path) in cases {
        let comparison = g.compare(&[(net.w[0], hand)]);
        let diagnosis = &comparison.diagnoses()[0];
        match &diagnosis.finding {
            Finding::MissingFactor {
                factor: f,
                value,
                paths: p,
                every_path: e,
                also,
            } => {
                assert!(also.is_empty(), "{diagnosis}");
                assert_eq!(
                    (f.as_str(), p, *e),
                    (factor, &paths, every_path),
                    "{diagnosis}"
                );
                let expected = if factor == "∂out_h1/∂net_h1" {
                    sigma_h1
                } else {
                    o1 * (1.0 - o1)
                };
                // The tape's σ′ and the learner's agree to rounding.
                assert!((value - expected).abs() < 1e-15, "{value} vs {expected}");
            }
            other => panic!("{other:?}: {diagnosis}"),
        }
    }
    // In words, the factor's value as the tape has it (σ′ is out_h1's one
    // edge).
    let (_, sigma_h1_tape) = tape.edges(net.out_h[0].index())[0];
    let comparison = g.compare(&[(net.w[0], delta_o1 * sigma_h1 * i1 + delta_o2 * i1)]);
    assert_eq!(
        comparison.diagnoses()[0].to_string(),
        format!(
            "your value leaves the factor ∂out_h1/∂net_h1 = {sigma_h1_tape:.12} out of path 2 \
             (through out_o2) alone: a chain-rule factor is left out there; path 1 (through \
             out_o1) is as the tape has it\n"
        )
    );
}

/// Two factors of the same value on the one path: leaving out either gives
/// your value, so neither is named (no claim the paths cannot back).
#[test]
fn a_factor_that_two_could_be_is_not_named() {
    let tape = Tape::new();
    let x = tape.var(0.7).named("x");
    let a = (x * 3.0).named("a");
    let y = (a * 3.0).named("y");
    let comparison = y.backward().compare(&[(x, 3.0)]);
    let finding = &comparison.diagnoses()[0].finding;
    assert!(matches!(finding, Finding::NoMatch { .. }), "{finding:?}");
    // With different factors, the one left out is named.
    let b = (a * 5.0).named("b");
    let comparison = b.backward().compare(&[(x, 5.0)]);
    assert!(
        matches!(&comparison.diagnoses()[0].finding,
            Finding::MissingFactor { factor, value, .. } if factor == "∂a/∂x" && *value == 3.0),
        "{}",
        comparison.diagnoses()[0]
    );
}

/// The search for a factor left out is linear in the factors listed: a raw
/// explanation of a chain of 90,001 factors (3x, then 30,000 steps of
/// (y·1.00001 + 0.1) − 0.1) took 4.9 s in a debug build when each factor was
/// sought along the whole path again (quadratic: 30,000 factors tried × 90,001
/// looked at), 0.12 s with the products taken from both ends of the path.
#[test]
fn a_factor_left_out_of_a_long_chain_is_searched_in_linear_time() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let mut y = x * 3.0;
    for _ in 0..30_000 {
        y = (y * 1.00001 + 0.1) - 0.1;
    }
    let g = y.backward();
    let explanation = g.explain_with(x, ExplainOptions::default().raw());
    assert_eq!(explanation.paths()[0].factors.len(), 90_001);
    // The tape's value with the first step's 3 left out.
    let hand = g[x] / 3.0;
    let comparison = g.compare_with(&[(x, hand)], ExplainOptions::default().raw());
    let finding = &comparison.diagnoses()[0].finding;
    assert!(
        matches!(finding, Finding::MissingFactor { value, paths, .. } if *value == 3.0 && paths == &[1]),
        "{finding:?}"
    );
}

/// A factor of ½ left out fits as well as twice the tape's value: both are
/// named (`cos(x/2)` for ∂sin(x/2)/∂x was "path 1 counted twice" alone), the
/// factor first; with one path, not as a path counted twice.
#[test]
fn a_factor_of_a_half_left_out_is_named_beside_the_path_counted_twice() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let h = (x * 0.5).named("h");
    let y = h.sin().named("y");
    let comparison = y.backward().compare(&[(x, 0.5f64.cos())]);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(
        diagnosis.finding,
        Finding::MissingFactor {
            factor: "∂h/∂x".into(),
            value: 0.5,
            paths: vec![1],
            every_path: true,
            also: vec![vec![2]],
        }
    );
    assert_eq!(diagnosis.alternatives(), vec![&[2i8][..]]);
    assert_eq!(
        diagnosis.to_string(),
        "your value fits 2 slips equally: the factor ∂h/∂x = 0.500000000000 left out; or \
         twice the tape's value, which is one path\n"
    );
}

/// The one factor of a path is not left out (that leaves a product of 1, no
/// chain): `1/sqrt(x)` for ∂√x/∂x at 1 is the path counted twice alone.
#[test]
fn the_one_factor_of_a_path_is_not_left_out() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let y = x.sqrt().named("y");
    let comparison = y.backward().compare(&[(x, 1.0)]);
    assert_eq!(
        comparison.diagnoses()[0].finding,
        Finding::EqualsPaths {
            coefficients: vec![2]
        }
    );
}

/// A factor left out is one slip: a sum of the paths that needs two changes
/// fits less simply, and the factor is named alone. Paths contributing 1, 1.5
/// and 5: 3.5 is 1 + 1.5 + 5/5 (∂c/∂x = 5 left out of path 3) and 2·1 + 1.5
/// (path 1 counted twice and path 3 missing).
#[test]
fn a_factor_is_named_before_a_sum_of_two_changes() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let a = (x * 1.0).named("a");
    let b = (x * 1.5).named("b");
    let c = (x * 5.0).named("c");
    let f = (a + b + c).named("f");
    let comparison = f.backward().compare(&[(x, 3.5)]);
    assert_eq!(
        comparison.diagnoses()[0].finding,
        Finding::MissingFactor {
            factor: "∂c/∂x".into(),
            value: 5.0,
            paths: vec![3],
            every_path: true,
            also: Vec::new(),
        }
    );
}

/// A labelled quantity folds its parts into one factor (`u = x²`, `f =
/// sin(u) + u² + eᵘ`: ∂f/∂u), and a slip in one part was "no sum of the paths": the
/// comparison now looks again with every node shown, and names the slip with
/// that explanation.
#[test]
fn a_slip_inside_a_labelled_quantitys_factor_is_found_with_every_node_shown() {
    let tape = Tape::new();
    let x = tape.var(0.7).named("x");
    let u = x.square().named("u");
    let f = (u.sin() + u.square() + u.exp()).named("f");
    let g = f.backward();
    let (xv, uv) = (0.7f64, 0.49f64);
    // The exp part forgotten: a path missing once every node is shown.
    let hand = uv.cos() * 2.0 * xv + 2.0 * uv * 2.0 * xv;
    let comparison = g.compare(&[(x, hand)]);
    let (diagnosis, (_, explanation)) = (&comparison.diagnoses()[0], &comparison.mismatches[0]);
    assert_eq!(explanation.options(), ExplainOptions::default().raw());
    assert_eq!(
        diagnosis.finding,
        Finding::EqualsPaths {
            coefficients: vec![1, 1, 0]
        },
        "{diagnosis}"
    );
    assert!(
        diagnosis
            .to_string()
            .contains("path 3 (through exp(u)) is missing"),
        "{diagnosis}"
    );
    // The inner 2x left out of the exp part alone.
    let hand = uv.cos() * 2.0 * xv + 2.0 * uv * 2.0 * xv + uv.exp();
    let comparison = g.compare(&[(x, hand)]);
    assert!(
        matches!(&comparison.diagnoses()[0].finding,
            Finding::MissingFactor { factor, paths, every_path: false, .. }
                if factor == "∂u/∂x" && paths == &[3]),
        "{}",
        comparison.diagnoses()[0]
    );
    // A value that is no slip with every node shown either keeps the
    // explanation asked for.
    let comparison = g.compare(&[(x, 0.123)]);
    assert!(matches!(
        comparison.diagnoses()[0].finding,
        Finding::NoMatch { .. }
    ));
    assert_eq!(
        comparison.mismatches[0].1.options(),
        ExplainOptions::default()
    );
}

/// Two paths that end in the same direct edge from different quantities
/// above are told apart: with `u = x² + x`, f = sin(u)·u has two paths ending
/// in the direct ∂u/∂x|direct (x² held fixed), and both read "(the direct term
/// ∂u/∂x|direct)".
#[test]
fn paths_ending_in_one_direct_edge_are_told_apart() {
    let tape = Tape::new();
    let x = tape.var(0.6).named("x");
    let u = (x.square() + x).named("u");
    let f = (u.sin() * u).named("f");
    let g = f.backward();
    let (xv, uv) = (0.6f64, 0.96f64);
    // The x² branch of u alone: the learner's (x² + x)′ = 2x.
    let hand = (uv.cos() * uv + uv.sin()) * 2.0 * xv;
    let comparison = g.compare(&[(x, hand)]);
    let text = comparison.diagnoses()[0].to_string();
    assert!(
        text.contains("path 2 (the direct term ∂u/∂x|direct, through sin(u)) and path 4 (the direct term ∂u/∂x|direct, through u) are missing"),
        "{text}"
    );
}

/// "Rounded" is the tape's value rounded to your digits, not any value within
/// half a unit of your last digit: 100 is within 0.5 of the tape's 99.6, but
/// 99.6 to 3 significant digits is 99.6.
#[test]
fn rounded_means_the_tapes_value_rounded_to_your_digits() {
    let tape = Tape::new();
    let x = tape.var(49.8).named("x");
    let g = x.square().backward();
    let finding = |v: f64| g.compare(&[(x, v)]).diagnoses()[0].finding.clone();
    assert!(
        !matches!(finding(100.0), Finding::Rounded { .. }),
        "{:?}",
        finding(100.0)
    );
    // 99.60000000000001 (the tape's) to 3 digits is 99.6: passes the
    // tolerance outright; 99.61 to 4 digits is not it, 99.6 rounds to 99.60.
    assert!(g.compare(&[(x, 99.6)]).all_passed());
    assert!(!matches!(finding(99.61), Finding::Rounded { .. }));
    assert_eq!(chainrule::gradcheck::round_to_digits(g[x], 3), 99.6);
}

/// From a fifth review: the tolerance `Finding::Rounded` offers accepts the
/// value (0.0541 − 0.05405 is 5.000000000000143e-5 in f64, past 5e-5); the
/// anomaly quoted for a non-finite gradient is one that reaches x (√x + √w·0
/// at 0: ∂y/∂x is ∞ from √x, and the NaN that reaches w says nothing of it);
/// a relu neuron over constants the tape did not keep "may" pass its kink.
#[test]
fn fifth_review_rounded_tolerance_anomaly_and_unknown_kink() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let g = (x * 0.05405).backward();
    let comparison = g.compare(&[(x, 0.0541)]);
    let Finding::Rounded { half_unit, .. } = comparison.diagnoses()[0].finding else {
        panic!("{}", comparison.diagnoses()[0]);
    };
    assert!(g
        .compare_with(
            &[(x, 0.0541)],
            Tolerance {
                atol: half_unit,
                rtol: 0.0
            }
        )
        .all_passed());

    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let w = tape.var(0.0).named("w");
    let g = (x.sqrt() + w.sqrt() * 0.0).backward();
    let comparison = g.compare(&[(x, 1.0)]);
    assert_eq!(
        comparison.diagnoses()[0].finding,
        Finding::NonFiniteTape { anomaly: None },
        "{}",
        comparison.diagnoses()[0]
    );
    // Where the anomaly does reach x, it is quoted.
    let comparison = g.compare(&[(w, 1.0)]);
    assert!(
        matches!(
            &comparison.diagnoses()[0].finding,
            Finding::NonFiniteTape { anomaly: Some(_) }
        ),
        "{}",
        comparison.diagnoses()[0]
    );

    // A relu neuron over constants not kept: z = 0.5·1 − 2 = −1.5 < 0, but
    // the tape holds only that z ≤ 0.
    let tape = Tape::new();
    let w = tape.var(0.5).named("w");
    let b = tape.var(-2.0).named("b");
    let y = chainrule::Var::neuron_const(&[w], &[1.0], b, chainrule::Activation::Relu).named("y");
    let comparison = y.backward().compare(&[(w, 1.0)]);
    let text = comparison.diagnoses()[0].to_string();
    assert!(text.starts_with("the tape may pass a kink at"), "{text}");
}

/// y = x + x² + … + x⁹ at 0.3, each power its own node: nine paths.
fn nine_powers(tape: &Tape) -> (chainrule::Var<'_>, chainrule::Var<'_>, Vec<f64>) {
    let x = tape.var(0.3).named("x");
    let mut y = x;
    let mut slopes = vec![1.0];
    for k in 2..=9 {
        y += x.powi(k);
        slopes.push(f64::from(k) * 0.3f64.powi(k - 1));
    }
    (x, y.named("y"), slopes)
}

#[test]
fn nine_paths_are_still_searched_one_by_one() {
    // Seventh review: with more than 8 paths the search took branches, and a
    // learner who forgot (x)′ = 1 read "no sum of the paths' contributions".
    // Each path's slip is found on its own, up to 32 paths.
    let tape = Tape::new();
    let (x, y, slopes) = nine_powers(&tape);
    let total: f64 = slopes.iter().sum();
    let g = y.backward();
    for (k, slope) in slopes.iter().enumerate() {
        for (hand, coefficient) in [(total - slope, 0), (total - 2.0 * slope, -1)] {
            let comparison = g.compare(&[(x, hand)]);
            let diagnosis = &comparison.diagnoses()[0];
            assert_eq!(diagnosis.terms.len(), 9, "{diagnosis}");
            assert!(diagnosis.terms.iter().all(|t| t.paths == 1));
            // (Where a power's factor left out fits as well, by the point's
            // values, both are named: 2·5·0.3⁴ = 3·0.3³, the sign of x⁵'s
            // path or the 4 of x⁴'s; the sum is among them.)
            let coefficients = match &diagnosis.finding {
                Finding::EqualsPaths { coefficients } => coefficients,
                Finding::PowerRule { also, .. } if also.len() == 1 => &also[0],
                _ => panic!("x^{}: {:?}\n{diagnosis}", k + 1, diagnosis.finding),
            };
            // The term whose contribution is this slope is the one changed.
            let changed: Vec<usize> = (0..9).filter(|&j| coefficients[j] != 1).collect();
            assert_eq!(changed.len(), 1, "{coefficients:?}");
            assert_eq!(coefficients[changed[0]], coefficient);
            // (k·0.3^(k−1) as the tape rounds it: a few ulps apart.)
            let contribution = diagnosis.terms[changed[0]].contribution;
            assert!(
                (contribution - slope).abs() <= 1e-12 * slope,
                "{contribution}"
            );
        }
    }
}

#[test]
fn a_search_cut_short_says_how_many_changes_it_covered() {
    // Nine terms: 4^9 combinations are more than MAX_COMBINATIONS; every
    // combination of up to 5 changes fits (43,443), of 6 does not (104,679).
    let tape = Tape::new();
    let (x, y, _) = nine_powers(&tape);
    let comparison = y.backward().compare(&[(x, 7.0)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(
        diagnosis.finding,
        Finding::NoMatch {
            searched: chainrule::gradcheck::MAX_COMBINATIONS
        }
    );
    let text = diagnosis.to_string();
    assert!(
        text.starts_with(
            "your value is no sum of the paths' contributions with at most 5 of the 9 left \
             out, counted twice or with the wrong sign (65536 combinations searched, those \
             of the fewest changes first); the tape's value, term by term:\n"
        ),
        "{text}"
    );
    // With 8 terms or fewer every combination is searched, and it says so.
    let tape = Tape::new();
    let x = tape.var(0.4).named("x");
    let y = (x.sin() * x.exp()).named("y");
    let text = y.backward().compare(&[(x, 0.123)]).diagnoses()[0].to_string();
    assert!(
        text.starts_with(
            "your value is no sum of the paths' contributions, each counted 0, 1 or 2 times \
             or with the wrong sign (15 combinations searched); the tape's value"
        ),
        "{text}"
    );
}

#[test]
fn a_search_over_branches_says_a_slip_inside_one_is_not_searched() {
    // 65 paths, taken as two branches: a value no sum of the branches fits is
    // said to be that, not "no sum of the paths".
    let tape = Tape::new();
    let (x, _, y) = diamonds_and_exp(&tape);
    let comparison = y
        .backward()
        .compare_with(&[(x, 123.0)], ExplainOptions::default().raw());
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(diagnosis.terms[0].paths, 64);
    let text = diagnosis.to_string();
    assert!(
        text.starts_with(
            "your value is no sum of the branches' contributions, each counted 0, 1 or 2 \
             times or with the wrong sign (15 combinations searched; a slip inside a \
             branch, on one of its paths, is not searched); the tape's value"
        ),
        "{text}"
    );
}

#[test]
fn seventeen_paths_are_listed_and_searched_one_by_one() {
    // Eighth review: an explanation lists 16 paths by default, and with 17
    // the search took branches again. With the default options, every path
    // up to MAX_PATH_TERMS is listed for the diagnosis.
    let tape = Tape::new();
    let x = tape.var(0.9).named("x");
    let mut y = x.powi(2);
    let mut total = 2.0 * 0.9;
    for k in 3..=18 {
        y += x.powi(k);
        total += f64::from(k) * 0.9f64.powi(k - 1);
    }
    let slope3 = 3.0 * 0.9f64.powi(2);
    let comparison = y.backward().compare(&[(x, total - slope3)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(diagnosis.terms.len(), 17, "{diagnosis}");
    assert_eq!(comparison.mismatches[0].1.paths().len(), 17);
    let Finding::EqualsPaths { coefficients } = &diagnosis.finding else {
        panic!("{:?}\n{diagnosis}", diagnosis.finding);
    };
    let missing: Vec<usize> = (0..17).filter(|&j| coefficients[j] == 0).collect();
    assert_eq!(missing.len(), 1, "{coefficients:?}");
    let contribution = diagnosis.terms[missing[0]].contribution;
    assert!(
        (contribution - slope3).abs() <= 1e-12 * slope3,
        "{contribution}"
    );
    // An explanation asked for with fewer paths keeps them (and branches).
    let comparison = y.backward().compare_with(
        &[(x, total - slope3)],
        ExplainOptions::default().max_paths(4),
    );
    assert!(comparison.diagnoses()[0].terms.iter().any(|t| t.paths > 1));
}

/// An infinite gradient made only by a value that underflowed is no verdict:
/// √(x·x) = |x| has slope 1 at x = 1e-200, but x·x = 1e-400 is 0 in f64 and
/// the tape's ∂ is √′(0)·2x = ∞. The hand value 1 was called wrong ("only the
/// same infinity matches it"); now the row is neither passed nor failed and
/// names x·x. (No tolerance is involved: the tape's value is ∞.)
#[test]
fn an_infinite_gradient_made_by_an_underflow_is_no_verdict() {
    let tape = Tape::new();
    let x = tape.var(1e-200).named("x");
    let f = (x * x).sqrt().named("f");
    let g = f.backward();
    assert_eq!(g[x], f64::INFINITY);
    // Your right value, and the tape's own ∞: neither is confirmed.
    for expected in [1.0, f64::INFINITY] {
        let comparison = g.compare(&[(x, expected)]);
        assert!(!comparison.all_passed(), "{comparison}");
        let row = &comparison.checks[0];
        assert!(!row.passed);
        let why = row.cannot_check.as_deref().expect("the row is undecided");
        assert!(
            why.starts_with("node #1 x·x = 0 underflowed (its operands were nonzero"),
            "{why}"
        );
        assert_eq!(
            comparison.diagnoses()[0].finding,
            Finding::Underflowed {
                node: 1,
                name: "x·x".into(),
                value: 0.0
            }
        );
        let text = comparison.to_string();
        assert!(!text.contains("FAIL"), "{text}");
        assert!(!text.contains("only the same infinity"), "{text}");
        assert!(text.contains("cannot check here"), "{text}");
        assert!(
            text.contains("no verdict at x: ")
                && text.contains("node #1 x·x = 0 underflowed")
                && text.contains("neither confirmed nor refuted"),
            "{text}"
        );
    }
    // Beside a finite path: √(y·y) + y at 1e-170 has slope 2.
    let tape = Tape::new();
    let y = tape.var(1e-170).named("y");
    let f = ((y * y).sqrt() + y).named("f");
    let comparison = f.backward().compare(&[(y, 2.0)]);
    assert!(!comparison.all_passed());
    assert!(
        matches!(&comparison.diagnoses()[0].finding, Finding::Underflowed { name, .. } if name == "y·y"),
        "{comparison}"
    );
    assert!(!comparison.to_string().contains("FAIL"), "{comparison}");
}

/// A genuine pole, with nothing underflowed on its way, stays a failure: √x at
/// 0 has an infinite slope, and a finite hand value is wrong there.
#[test]
fn an_infinite_gradient_at_a_pole_still_fails() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let f = x.sqrt().named("f");
    let comparison = f.backward().compare(&[(x, 1.0)]);
    let row = &comparison.checks[0];
    assert!(!row.passed);
    assert_eq!(row.cannot_check, None);
    assert!(matches!(
        comparison.diagnoses()[0].finding,
        Finding::NonFiniteTape { .. }
    ));
    assert!(comparison.to_string().contains("FAIL"), "{comparison}");
}

/// With one path, "counted twice" is no plausible slip: `1/sqrt(x)` for
/// ∂√x/∂x is twice the tape's value, and is said so. (The hand value is
/// 2·(1/(2√x)) in f64, within an ulp of twice the tape's 0.5/√x; the search's
/// tolerance, Tolerance::MANUAL = 1e-12 + 1e-7·|x|, is far wider.)
#[test]
fn twice_the_tape_on_one_path_is_not_a_path_counted_twice() {
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let f = x.sqrt().named("f");
    let comparison = f.backward().compare(&[(x, 1.0 / 2f64.sqrt())]);
    let diagnosis = &comparison.diagnoses()[0];
    assert_eq!(
        diagnosis.finding,
        Finding::EqualsPaths {
            coefficients: vec![2]
        }
    );
    assert_eq!(
        diagnosis.to_string(),
        "your value is twice the tape's, which is one path (so not a path counted twice)\n"
    );
    assert!(
        !comparison.to_string().contains("counted twice\n"),
        "{comparison}"
    );
}

#[test]
fn the_power_rules_factor_left_out_is_named() {
    // The commonest slip of all, the 2 of a square forgotten: (w·x + b − y)·x
    // for ∂(w·x + b − y)²/∂w was "no sum of the paths' contributions".
    let tape = Tape::new();
    let (w, x, b, y) = (tape.var(-0.3), tape.var(3.0), tape.var(0.5), tape.var(1.0));
    let r = w * x + b - y;
    for f in [r.powi(2), r.square()] {
        let g = f.backward();
        let forgot = r.value() * x.value();
        let c = g.compare(&[(w, forgot)]);
        assert!(!c.all_passed());
        let d = &c.diagnoses()[0];
        assert!(
            matches!(d.finding, Finding::PowerRule { exponent, .. } if exponent == 2.0),
            "{:?}",
            d.finding
        );
        let text = d.to_string();
        assert!(
            text.contains("the power rule's factor 2 left out"),
            "{text}"
        );
        // The right value passes.
        assert!(g.compare(&[(w, 2.0 * forgot)]).all_passed());
    }
    // powf with a fractional exponent: d(u^1.5)/du = 1.5·u^0.5 taken as u^0.5.
    let u = tape.var(4.0);
    let f = u.powf(1.5);
    let c = f.backward().compare(&[(u, 2.0)]);
    assert!(
        matches!(c.diagnoses()[0].finding, Finding::PowerRule { exponent, .. } if exponent == 1.5),
        "{:?}",
        c.diagnoses()[0].finding
    );
    // A value that is no such slip is not called one.
    let c = r.powi(2).backward().compare(&[(w, 0.123)]);
    assert!(
        !matches!(c.diagnoses()[0].finding, Finding::PowerRule { .. }),
        "{:?}",
        c.diagnoses()[0].finding
    );
}

/// A value a slip gives exactly is that slip, though it is also the tape's
/// rounded to 3 digits: 0.125 for x/8 + 1e-5·x² at 1 is path 1 alone (the x²
/// path forgotten), where `compare` said "the tape's 0.12502 rounded … no
/// slip is named" and suggested a tolerance that would pass it.
#[test]
fn a_slip_that_fits_is_named_before_rounding() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let f = (x * 0.125 + x.square() * 1e-5).named("f");
    let g = f.backward();
    let comparison = g.compare(&[(x, 0.125)]);
    let diagnosis = &comparison.diagnoses()[0];
    assert!(
        !matches!(diagnosis.finding, Finding::Rounded { .. }),
        "{comparison}"
    );
    assert!(
        matches!(
            diagnosis.finding,
            Finding::EqualsPaths { .. } | Finding::Ambiguous { .. }
        ),
        "{:?}\n{comparison}",
        diagnosis.finding
    );
    // A value rounded that no slip gives is still called rounded.
    let h = (x * 0.3 + x.square() * 0.0123456).named("h");
    let gh = h.backward();
    let comparison = gh.compare(&[(x, 0.3247)]);
    assert!(
        matches!(comparison.diagnoses()[0].finding, Finding::Rounded { .. }),
        "{comparison}"
    );
}

/// e^−∞ = 0 is a limit, not an underflow: `compare` on e^(−1/x²) at 0, whose
/// tape gradient is NaN (0 · ∞ at the pole of 1/x²), said a value on its way
/// underflowed ("node #4 f = 0 underflowed (its operands were nonzero …)").
#[test]
fn a_limit_at_an_infinite_operand_is_no_underflow() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let e = (-(x.square().recip())).exp().named("f");
    assert_eq!(e.value(), 0.0);
    assert!(!chainrule::anomaly::underflowed(&tape, e.index()));
    let g = e.backward();
    let comparison = g.compare(&[(x, 0.0)]);
    assert!(
        !matches!(
            comparison.diagnoses()[0].finding,
            Finding::Underflowed { .. }
        ),
        "{comparison}"
    );
    assert!(
        !comparison.to_string().contains("underflowed"),
        "{comparison}"
    );
}
