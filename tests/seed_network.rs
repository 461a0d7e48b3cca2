//! The seed network (W1 of benches/WORKLOADS.md), the 2-2-2 sigmoid network of the
//! classic step-by-step backpropagation article, held against the hand derivation.
//!
//! Every forward value and every gradient the tape produces is compared with the
//! same quantity derived by hand below, with the article's names (`net_h1`,
//! `out_o1`, `delta_o1`, ...). Tolerance: 1e-12 relative. The hand derivation and the
//! tape evaluate the same formulas but not in the same order of floating-point
//! operations (the tape multiplies partials along paths; the hand derivation
//! factors out the deltas), so they may differ by a few ulps: 1e-12 leaves room for
//! that and for nothing else.
//!
//! The reference figures of benches/WORKLOADS.md are checked to its stated
//! tolerance, 1e-9 relative, including E after 10,000 training steps.

use chainrule::{Tape, Var};

/// Relative tolerance for the tape against the hand derivation (see the module doc).
const HAND_TOLERANCE: f64 = 1e-12;
/// Relative tolerance on the reference figures of benches/WORKLOADS.md (as it states).
const REFERENCE_TOLERANCE: f64 = 1e-9;

// The constants of the article, as benches/WORKLOADS.md lists them.
const I1: f64 = 0.05;
const I2: f64 = 0.10;
const TARGET_O1: f64 = 0.01;
const TARGET_O2: f64 = 0.99;
const INITIAL_WEIGHTS: [f64; 8] = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55];
const B1: f64 = 0.35;
const B2: f64 = 0.60;
const LEARNING_RATE: f64 = 0.5;

fn assert_rel(actual: f64, expected: f64, tolerance: f64, what: &str) {
    let rel = (actual - expected).abs() / expected.abs();
    assert!(
        rel <= tolerance,
        "{what}: got {actual:e}, expected {expected:e} (relative error {rel:e} > {tolerance:e})"
    );
}

/// The recorded network: its parameters and every named intermediate quantity.
struct SeedNet<'t> {
    w: [Var<'t>; 8],
    b1: Var<'t>,
    b2: Var<'t>,
    net_h1: Var<'t>,
    out_h1: Var<'t>,
    net_h2: Var<'t>,
    out_h2: Var<'t>,
    net_o1: Var<'t>,
    out_o1: Var<'t>,
    net_o2: Var<'t>,
    out_o2: Var<'t>,
    e: Var<'t>,
}

/// Records the network with the plain operators only: every `*` and `+` is a node.
/// The inputs and targets are constants (they fold into the partials).
fn record_with_operators(tape: &Tape, weights: [f64; 8]) -> SeedNet<'_> {
    let w = weights.map(|v| tape.var(v));
    let [w1, w2, w3, w4, w5, w6, w7, w8] = w;
    let b1 = tape.var(B1).named("b1");
    let b2 = tape.var(B2).named("b2");

    let net_h1 = w1 * I1 + w2 * I2 + b1;
    let out_h1 = net_h1.sigmoid();
    let net_h2 = w3 * I1 + w4 * I2 + b1;
    let out_h2 = net_h2.sigmoid();

    let net_o1 = w5 * out_h1 + w6 * out_h2 + b2;
    let out_o1 = net_o1.sigmoid();
    let net_o2 = w7 * out_h1 + w8 * out_h2 + b2;
    let out_o2 = net_o2.sigmoid();

    let e_o1 = 0.5 * (TARGET_O1 - out_o1).square();
    let e_o2 = 0.5 * (TARGET_O2 - out_o2).square();
    let e = e_o1 + e_o2;

    SeedNet {
        w,
        b1,
        b2,
        net_h1,
        out_h1,
        net_h2,
        out_h2,
        net_o1,
        out_o1,
        net_o2,
        out_o2,
        e,
    }
}

/// Records the network with each neuron's weighted sum as one node: the hidden layer
/// with `weighted_sum_const` (the inputs are constants), the output layer with
/// `weighted_sum` (its inputs are the hidden outputs, themselves variables).
fn record_with_weighted_sums(tape: &Tape, weights: [f64; 8]) -> SeedNet<'_> {
    let w = weights.map(|v| tape.var(v));
    let b1 = tape.var(B1).named("b1");
    let b2 = tape.var(B2).named("b2");

    let net_h1 = Var::weighted_sum_const(&w[0..2], &[I1, I2], b1);
    let out_h1 = net_h1.sigmoid();
    let net_h2 = Var::weighted_sum_const(&w[2..4], &[I1, I2], b1);
    let out_h2 = net_h2.sigmoid();

    let net_o1 = Var::weighted_sum(&w[4..6], &[out_h1, out_h2], b2);
    let out_o1 = net_o1.sigmoid();
    let net_o2 = Var::weighted_sum(&w[6..8], &[out_h1, out_h2], b2);
    let out_o2 = net_o2.sigmoid();

    let e = 0.5 * (TARGET_O1 - out_o1).square() + 0.5 * (TARGET_O2 - out_o2).square();

    SeedNet {
        w,
        b1,
        b2,
        net_h1,
        out_h1,
        net_h2,
        out_h2,
        net_o1,
        out_o1,
        net_o2,
        out_o2,
        e,
    }
}

/// The logistic function, written out as the article writes it.
fn logistic(net: f64) -> f64 {
    1.0 / (1.0 + (-net).exp())
}

/// The forward and backward passes derived by hand, as the article derives them.
struct HandDerivation {
    net_h1: f64,
    out_h1: f64,
    net_h2: f64,
    out_h2: f64,
    net_o1: f64,
    out_o1: f64,
    net_o2: f64,
    out_o2: f64,
    e_total: f64,
    /// dE/dw1 .. dE/dw8.
    de_dw: [f64; 8],
    de_db1: f64,
    de_db2: f64,
}

fn derive_by_hand(weights: [f64; 8]) -> HandDerivation {
    let [w1, w2, w3, w4, w5, w6, w7, w8] = weights;

    // The forward pass.
    let net_h1 = w1 * I1 + w2 * I2 + B1;
    let out_h1 = logistic(net_h1);
    let net_h2 = w3 * I1 + w4 * I2 + B1;
    let out_h2 = logistic(net_h2);
    let net_o1 = w5 * out_h1 + w6 * out_h2 + B2;
    let out_o1 = logistic(net_o1);
    let net_o2 = w7 * out_h1 + w8 * out_h2 + B2;
    let out_o2 = logistic(net_o2);
    let e_o1 = 0.5 * (TARGET_O1 - out_o1).powi(2);
    let e_o2 = 0.5 * (TARGET_O2 - out_o2).powi(2);
    let e_total = e_o1 + e_o2;

    // The output layer: dE/dnet_o = dE/dout_o * dout_o/dnet_o.
    let de_dout_o1 = out_o1 - TARGET_O1;
    let dout_o1_dnet_o1 = out_o1 * (1.0 - out_o1);
    let delta_o1 = de_dout_o1 * dout_o1_dnet_o1;
    let delta_o2 = (out_o2 - TARGET_O2) * out_o2 * (1.0 - out_o2);

    // dE/dw5 = delta_o1 * dnet_o1/dw5 = delta_o1 * out_h1, and so on.
    let de_dw5 = delta_o1 * out_h1;
    let de_dw6 = delta_o1 * out_h2;
    let de_dw7 = delta_o2 * out_h1;
    let de_dw8 = delta_o2 * out_h2;

    // The hidden layer: out_h1 feeds both outputs, so dE/dout_h1 sums two paths.
    let de_dout_h1 = delta_o1 * w5 + delta_o2 * w7;
    let de_dout_h2 = delta_o1 * w6 + delta_o2 * w8;
    let delta_h1 = de_dout_h1 * out_h1 * (1.0 - out_h1);
    let delta_h2 = de_dout_h2 * out_h2 * (1.0 - out_h2);

    let de_dw1 = delta_h1 * I1;
    let de_dw2 = delta_h1 * I2;
    let de_dw3 = delta_h2 * I1;
    let de_dw4 = delta_h2 * I2;

    // Each bias is shared by the two neurons of its layer: it collects both deltas.
    let de_db1 = delta_h1 + delta_h2;
    let de_db2 = delta_o1 + delta_o2;

    HandDerivation {
        net_h1,
        out_h1,
        net_h2,
        out_h2,
        net_o1,
        out_o1,
        net_o2,
        out_o2,
        e_total,
        de_dw: [
            de_dw1, de_dw2, de_dw3, de_dw4, de_dw5, de_dw6, de_dw7, de_dw8,
        ],
        de_db1,
        de_db2,
    }
}

/// Holds every forward value and gradient of `net` against the hand derivation.
fn check_against_hand(net: &SeedNet<'_>, weights: [f64; 8]) {
    let hand = derive_by_hand(weights);
    let forward = [
        ("net_h1", net.net_h1, hand.net_h1),
        ("out_h1", net.out_h1, hand.out_h1),
        ("net_h2", net.net_h2, hand.net_h2),
        ("out_h2", net.out_h2, hand.out_h2),
        ("net_o1", net.net_o1, hand.net_o1),
        ("out_o1", net.out_o1, hand.out_o1),
        ("net_o2", net.net_o2, hand.net_o2),
        ("out_o2", net.out_o2, hand.out_o2),
        ("E_total", net.e, hand.e_total),
    ];
    for (name, var, expected) in forward {
        assert_rel(var.value(), expected, HAND_TOLERANCE, name);
    }

    let g = net.e.backward();
    for (k, (&wk, &expected)) in net.w.iter().zip(&hand.de_dw).enumerate() {
        assert_rel(g[wk], expected, HAND_TOLERANCE, &format!("dE/dw{}", k + 1));
    }
    assert_rel(g[net.b1], hand.de_db1, HAND_TOLERANCE, "dE/db1");
    assert_rel(g[net.b2], hand.de_db2, HAND_TOLERANCE, "dE/db2");
    assert_eq!(g.wrt(net.e), 1.0, "dE/dE");
}

#[test]
fn operators_match_the_hand_derivation_at_the_article_weights() {
    let tape = Tape::new();
    let net = record_with_operators(&tape, INITIAL_WEIGHTS);
    check_against_hand(&net, INITIAL_WEIGHTS);
}

#[test]
fn weighted_sums_match_the_hand_derivation_at_the_article_weights() {
    let tape = Tape::new();
    let net = record_with_weighted_sums(&tape, INITIAL_WEIGHTS);
    check_against_hand(&net, INITIAL_WEIGHTS);
    // One node per neuron's weighted sum: 8 weights + 2 biases, 4 sums, 4 sigmoids,
    // then E = 0.5 (t1 - o1)^2 + 0.5 (t2 - o2)^2 as 2 * (const_sub, square, mul_const) + add.
    assert_eq!(tape.len(), 10 + 4 + 4 + 7);
}

#[test]
fn both_recordings_match_the_hand_derivation_at_other_weights() {
    // Away from the article's weights, including negative ones and a saturating one.
    let weight_sets = [
        [-0.7, 1.3, 0.05, -2.0, 3.5, -1.25, 0.9, 0.0],
        [2.0, -3.0, 1.5, 4.0, -6.0, 2.5, 7.0, -0.3],
    ];
    for weights in weight_sets {
        let tape = Tape::new();
        check_against_hand(&record_with_operators(&tape, weights), weights);
        let tape = Tape::new();
        check_against_hand(&record_with_weighted_sums(&tape, weights), weights);
    }
}

#[test]
fn the_article_figures_hold_to_the_reference_tolerance() {
    // benches/WORKLOADS.md, W1 "Reference (first forward)".
    for record in [record_with_operators, record_with_weighted_sums] {
        let tape = Tape::new();
        let net = record(&tape, INITIAL_WEIGHTS);
        assert_rel(
            net.out_h1.value(),
            0.5932699921071872,
            REFERENCE_TOLERANCE,
            "out_h1",
        );
        assert_rel(
            net.out_o1.value(),
            0.7513650695523157,
            REFERENCE_TOLERANCE,
            "out_o1",
        );
        assert_rel(
            net.out_o2.value(),
            0.7729284653214625,
            REFERENCE_TOLERANCE,
            "out_o2",
        );
        assert_rel(net.e.value(), 0.2983711087600027, REFERENCE_TOLERANCE, "E");
        let g = net.e.backward();
        assert_rel(
            g[net.w[4]],
            0.08216704056423077,
            REFERENCE_TOLERANCE,
            "dE/dw5",
        );
        assert_rel(
            g[net.w[0]],
            0.0004385677344743465,
            REFERENCE_TOLERANCE,
            "dE/dw1",
        );
    }
}

/// Trains for `steps` steps on one tape reused through `clear()`; returns the weights
/// and the error of each forward pass.
fn train(
    record: for<'t> fn(&'t Tape, [f64; 8]) -> SeedNet<'t>,
    steps: usize,
) -> ([f64; 8], Vec<f64>) {
    let mut tape = Tape::new();
    let mut weights = INITIAL_WEIGHTS;
    let mut errors = Vec::with_capacity(steps);
    for _ in 0..steps {
        tape.clear();
        let (e, de_dw) = {
            let net = record(&tape, weights);
            let g = net.e.backward();
            (net.e.value(), net.w.map(|wk| g[wk]))
        };
        errors.push(e);
        // The biases are shared within a layer and, as in the article, not updated.
        for (wk, gk) in weights.iter_mut().zip(de_dw) {
            *wk -= LEARNING_RATE * gk;
        }
    }
    (weights, errors)
}

#[test]
fn one_update_gives_the_article_weights_and_error() {
    for record in [record_with_operators, record_with_weighted_sums] {
        let (weights, errors) = train(record, 2);
        // After the first update (w5 and w1 as the article reports them).
        let (after_one, _) = train(record, 1);
        assert_rel(
            after_one[4],
            0.35891647971788465,
            REFERENCE_TOLERANCE,
            "w5+",
        );
        assert_rel(after_one[0], 0.1497807161327628, REFERENCE_TOLERANCE, "w1+");
        // The second forward pass.
        assert_rel(errors[1], 0.29102777369359933, REFERENCE_TOLERANCE, "E1");
        // The update is the hand rule w -= 0.5 dE/dw, step by step.
        let hand = derive_by_hand(after_one);
        for k in 0..8 {
            let expected = after_one[k] - LEARNING_RATE * hand.de_dw[k];
            assert_rel(weights[k], expected, HAND_TOLERANCE, "w after two steps");
        }
    }
}

#[test]
fn ten_thousand_steps_reach_the_reference_error() {
    for record in [record_with_operators, record_with_weighted_sums] {
        let (weights, errors) = train(record, 10_000);
        assert_rel(errors[0], 0.2983711087600027, REFERENCE_TOLERANCE, "E0");
        // "After 10,000 steps, the forward pass gives E = ..."
        let hand = derive_by_hand(weights);
        assert_rel(
            hand.e_total,
            3.510187782978859e-05,
            REFERENCE_TOLERANCE,
            "E after 10,000 steps",
        );
        let tape = Tape::new();
        let net = record(&tape, weights);
        assert_rel(
            net.e.value(),
            3.510187782978859e-05,
            REFERENCE_TOLERANCE,
            "E after 10,000 steps, on the tape",
        );
        // Training went downhill all the way.
        assert!(errors.windows(2).all(|pair| pair[1] < pair[0]));
    }
}
