//! Anomaly reports: each classic source of NaN and infinity, found by the scan and
//! by the recording-time check, and named.

use chainrule::anomaly::NonFinite;
use chainrule::{Op, Tape, Var};

/// Records `healthy` nodes first, then the bad op, then more nodes on top of it,
/// and checks that both ways name the bad node.
fn assert_found(make: for<'t> fn(Var<'t>) -> Var<'t>, x: f64, op: Op, text: &str) {
    for detect in [false, true] {
        let tape = Tape::new();
        tape.set_anomaly_detection(detect);
        let before = tape.var(2.0).named("w");
        let _fine = (before * 3.0).sigmoid();
        let input = tape.var(x).named("x");
        let bad = make(input);
        let _downstream = (bad + before).exp(); // also non-finite: must not be named
        let anomaly = tape.find_anomaly().expect("an anomaly");
        assert_eq!(anomaly.index, bad.index());
        assert_eq!(anomaly.op, op);
        assert_eq!(anomaly.operands[0].index, input.index());
        assert_eq!(anomaly.operands[0].value, x);
        assert_eq!(anomaly.to_string(), text);
        // (Compared by index and text: a NaN value is never == itself.)
        let recorded = tape.recorded_anomaly_report();
        if detect {
            let recorded = recorded.expect("recorded while detection was on");
            assert_eq!(recorded.index, anomaly.index);
            assert_eq!(recorded.to_string(), text);
        } else {
            assert!(recorded.is_none()); // detection was off: nothing recorded
        }
    }
}

#[test]
fn ln_of_minus_one_is_named() {
    assert_found(
        |x| x.ln(),
        -1.0,
        Op::Ln,
        "node #4 ln(x) = NaN: operand #3 x = -1",
    );
}

#[test]
fn sqrt_of_minus_one_is_named() {
    assert_found(
        |x| x.sqrt(),
        -1.0,
        Op::Sqrt,
        "node #4 sqrt(x) = NaN: operand #3 x = -1",
    );
}

#[test]
fn zero_over_zero_is_named_with_both_operands() {
    assert_found(
        |x| x / x,
        0.0,
        Op::Div,
        "node #4 div(x, x) = NaN: operand #3 x = 0 (used twice)",
    );
}

#[test]
fn exp_of_a_thousand_overflows_and_is_named() {
    assert_found(
        |x| x.exp(),
        1000.0,
        Op::Exp,
        "node #4 exp(x) = inf: operand #3 x = 1000",
    );
}

#[test]
fn powf_of_a_negative_base_with_a_fractional_exponent_is_named() {
    assert_found(
        |x| x.powf(1.0 / 3.0),
        -8.0,
        Op::Powf,
        "node #4 powf(x) = NaN: operand #3 x = -8",
    );
}

#[test]
fn a_finite_value_with_an_infinite_partial_is_named_by_its_partial() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let root = x.sqrt().named("root");
    let anomaly = tape.find_anomaly().unwrap();
    assert_eq!(anomaly.index, root.index());
    assert_eq!(anomaly.non_finite, NonFinite::Partial { slot: 0 });
    assert_eq!(
        anomaly.to_string(),
        "node #1 \"root\" = sqrt(x) = 0: ∂/∂x = inf, operand #0 x = 0"
    );
}

#[test]
fn a_non_finite_leaf_is_named() {
    let tape = Tape::new();
    let _ = tape.var(f64::NAN);
    assert_eq!(
        tape.find_anomaly().unwrap().to_string(),
        "node #0 leaf = NaN"
    );
}

#[test]
fn a_healthy_tape_and_a_cleared_tape_have_no_anomaly() {
    let mut tape = Tape::new();
    tape.set_anomaly_detection(true);
    {
        let x = tape.var(0.5);
        let _ = (x.ln() * x.sqrt()).tanh();
        assert!(tape.find_anomaly().is_none());
        let _ = tape.var(-1.0).ln();
        assert!(tape.recorded_anomaly_report().is_some());
    }
    tape.clear();
    assert!(tape.recorded_anomaly_report().is_none());
    assert!(tape.find_anomaly().is_none());
}

/// The gradient anomaly names nodes as explanations do (expressions, not
/// `op#index`), shows every binary op by its expression, and writes huge numbers
/// in scientific notation.
#[test]
fn gradient_anomalies_read_like_explanations() {
    let tape = chainrule::Tape::new();
    let x = tape.var(f64::NAN);
    let y = tape.var(2.0);
    let g = (x * y).backward();
    let report = g.gradient_anomaly().unwrap().to_string();
    assert!(report.contains("x₀·x₁ (mul)"), "{report}");
    assert!(report.contains("∂(x₀·x₁)/∂x₁"), "{report}");

    let tape = chainrule::Tape::new();
    let big = tape.var(1e300).named("big");
    let anomaly = {
        let _ = big * 1e300; // overflows to inf
        tape.find_anomaly().unwrap().to_string()
    };
    assert!(anomaly.contains("big = 1e300"), "{anomaly}");
}

#[test]
fn a_nan_input_folded_into_a_neuron_is_not_hidden_behind_its_finite_operands() {
    use chainrule::Activation;
    // The inputs of a neuron over constants (a network's first layer) are no
    // operands: every operand listed is finite, and the report must say where
    // else the NaN can come from, or show the constants where the tape kept them.
    for keep in [false, true] {
        let tape = Tape::new();
        tape.set_keep_constants(keep);
        let w = tape.vars(&[0.5, -0.25]);
        let b = tape.var(0.1).named("b");
        let out = Var::neuron_const(&w, &[f64::NAN, 0.5], b, Activation::Sigmoid).named("out");
        let anomaly = tape.find_anomaly().expect("the neuron is NaN");
        assert_eq!(anomaly.index, out.index());
        assert!(anomaly.operands.iter().all(|o| o.value.is_finite()));
        let text = anomaly.to_string();
        if keep {
            assert_eq!(anomaly.constants.len(), 2, "{:?}", anomaly.constants);
            assert!(anomaly.constants[0].is_nan());
            assert!(
                text.ends_with("; its operands are finite, its constants are not: [NaN, 0.5]"),
                "{text}"
            );
        } else {
            assert!(anomaly.constants.is_empty());
            assert!(
                text.contains("; its operands are finite: a constant it was given (data"),
                "{text}"
            );
        }
    }
}

#[test]
fn an_overflow_from_finite_operands_and_constants_blames_no_constant() {
    for keep in [false, true] {
        let tape = Tape::new();
        tape.set_keep_constants(keep);
        let x = tape.var(1e200);
        let big = x * 1e200; // overflows: x and the constant are finite
        let text = tape.find_anomaly().expect("inf").to_string();
        assert!(
            text.starts_with(&format!("node #{}", big.index())),
            "{text}"
        );
        assert!(!text.contains("constants are not"), "{text}");
        // `x * c` keeps no constant apart (c is its partial): the report
        // cannot tell, and says both.
        assert!(text.contains("or a value on its way overflowed"), "{text}");
        // An op given no constant says nothing of constants.
        let tape = Tape::new();
        let _ = tape.var(1000.0).exp();
        let text = tape.find_anomaly().expect("inf").to_string();
        assert!(!text.contains("constant"), "{text}");
    }
}

/// From a fifth review: a division by an operand at 0 was blamed on "a
/// constant it was given … or a value on its way overflowed"; x / 0.0 on a
/// constant that is not finite, which 0 is.
#[test]
fn a_division_by_zero_is_named_as_such() {
    let tape = chainrule::Tape::new();
    let x = tape.var(0.0).named("x");
    let _ = 3.0 / x;
    assert_eq!(
        tape.find_anomaly().unwrap().to_string(),
        "node #1 const_div(x) = inf: operand #0 x = 0; a division by 0"
    );
    let tape = chainrule::Tape::new();
    let x = tape.var(2.0).named("x");
    let _ = x / 0.0;
    let text = tape.find_anomaly().unwrap().to_string();
    assert!(text.ends_with("; its operand is finite: its constant divisor (not kept) is 0 or not finite, or the quotient overflowed"), "{text}");
    let tape = chainrule::Tape::new();
    let (a, b) = (tape.var(1.0).named("a"), tape.var(0.0).named("b"));
    let _ = a / b;
    assert!(tape
        .find_anomaly()
        .unwrap()
        .to_string()
        .ends_with("; a division by 0"));
}

/// The partial of one use of an operand the node uses twice is no
/// ∂node/∂operand: x/x at 0 read "adjoint 1 × ∂(x₀ / x₀)/∂x₀ = inf", while
/// ∂(x/x)/∂x is NaN (the second use's −x/x² is NaN at 0); inf is the first
/// use's partial. A compound operand read as a product, "∂(sqrt(x·y))/∂x·y";
/// and the edge of a node that also depends on the operand another way is its
/// direct partial. Each is now written as explanations write it.
#[test]
fn a_partial_is_named_as_what_it_is() {
    // x/x at 0: the first use's partial, 1/x, is ∞.
    let tape = Tape::new();
    let x = tape.var(0.0);
    let y = x / x;
    let g = y.backward();
    let start = g.gradient_anomaly().expect("a non-finite gradient");
    assert_eq!(
        start.to_string(),
        "the gradient turns infinite at node #1 x₀ / x₀ (div): adjoint 1 × \
         ∂(x₀ / x₀)/∂(x₀, use 1 of 2) = inf gives inf to node #0 x₀"
    );
    assert_eq!(
        start.partial_name.as_deref(),
        Some("∂(x₀ / x₀)/∂(x₀, use 1 of 2)")
    );
    assert!(g.explain(x).to_string().contains("NaN"));

    // sqrt(x·y) at 0: the operand x·y in parentheses, as explanations write it.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = tape.var(0.0).named("y");
    let r = (x * y).sqrt();
    let g = r.backward();
    let start = g.gradient_anomaly().expect("a non-finite gradient");
    assert_eq!(
        start.to_string(),
        "the gradient turns infinite at node #3 sqrt(x·y) (sqrt): adjoint 1 × \
         ∂sqrt(x·y)/∂(x·y) = inf gives inf to node #2 x·y"
    );
    // The scan writes it so too.
    let anomaly = tape.find_anomaly().expect("an infinite partial");
    assert_eq!(
        anomaly.to_string(),
        "node #3 sqrt(x·y) = 0: ∂/∂(x·y) = inf, operand #2 x·y = 0"
    );
    assert_eq!(anomaly.operands[0].wrt_name, "(x·y)");

    // f = x^u with u = x + 0.5, at x = 0: f depends on x through u and
    // directly; the direct edge's u·x^(u−1) = 0.5·0^(−0.5) is ∞.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let u = (x + 0.5).named("u");
    let f = x.pow(u).named("f");
    let g = f.backward();
    let start = g.gradient_anomaly().expect("a non-finite gradient");
    assert_eq!(
        start.to_string(),
        "the gradient turns infinite at node #2 f (pow): adjoint 1 × \
         ∂f/∂x|direct = inf gives inf to node #0 x"
    );
}

/// An infinite partial at an operand that underflowed is f64's range, not a
/// pole: √(x·x) at 1e-200 has x·x = 0 (1e-400 in exact arithmetic) and
/// √′(0) = ∞, while √(x²) = |x| has slope 1. The report says so; √x at 0, a
/// genuine pole, is not said to have underflowed.
#[test]
fn an_infinite_partial_at_an_operand_that_underflowed_is_said_so() {
    let tape = Tape::new();
    let x = tape.var(1e-200).named("x");
    let f = (x * x).sqrt().named("f");
    let anomaly = tape.find_anomaly().unwrap();
    assert_eq!(anomaly.index, f.index());
    assert_eq!(anomaly.non_finite, NonFinite::Partial { slot: 0 });
    assert!(anomaly.operands[0].underflowed);
    assert_eq!(
        anomaly.to_string(),
        "node #2 \"f\" = sqrt(x·x) = 0: ∂/∂(x·x) = inf, operand #1 x·x = 0; operand x·x = 0 \
         underflowed (its operands were nonzero): f64's range, not a genuine pole"
    );
    assert!(chainrule::anomaly::underflowed(&tape, 1));
    assert!(!chainrule::anomaly::underflowed(&tape, x.index()));

    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let _root = x.sqrt();
    let anomaly = tape.find_anomaly().unwrap();
    assert!(!anomaly.operands[0].underflowed);
    assert!(!anomaly.to_string().contains("underflowed"), "{anomaly}");
}
