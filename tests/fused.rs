//! The fused ops (a whole neuron, the weighted sums, the two squared-error losses)
//! against the same expression written with the plain operators, and against
//! central finite differences; then the precision of the activations' derivatives
//! in their tails.

use chainrule::{Activation, Scalar, Tape, Var};

const ACTIVATIONS: [Activation; 4] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
];

/// The activation written with the plain operators.
fn activate<T: Scalar>(z: T, activation: Activation) -> T {
    match activation {
        Activation::Sigmoid => z.sigmoid(),
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.relu(),
        _ => z,
    }
}

/// ((w0·x0 + w1·x1) + w2·x2) + b, then the activation, with the plain operators.
fn neuron_ops<'t>(w: &[Var<'t>], x: &[Var<'t>], b: Var<'t>, activation: Activation) -> Var<'t> {
    let mut z = w[0] * x[0];
    for i in 1..w.len() {
        z += w[i] * x[i];
    }
    activate(z + b, activation)
}

/// Relative agreement of gradients reached by different roundings: the fused node
/// multiplies a'·xᵢ first, the operator chain multiplies the adjoint by a' first.
/// Both are a couple of roundings from the exact value.
const GRADIENT_TOLERANCE: f64 = 1e-14;

fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= GRADIENT_TOLERANCE * a.abs().max(b.abs())
}

#[test]
fn a_fused_neuron_equals_the_operator_neuron() {
    let points: [([f64; 3], [f64; 3], f64); 3] = [
        ([0.15, -0.2, 0.3], [0.05, 0.1, -0.7], 0.35),
        ([1.5, 2.0, -0.5], [-1.0, 0.25, 3.0], -0.6),
        ([-0.4, 0.45, 0.9], [0.59, 0.6, 0.01], 0.0),
    ];
    for activation in ACTIVATIONS {
        for (w, x, b) in points {
            let fused_tape = Tape::new();
            let (wf, xf, bf) = (fused_tape.vars(&w), fused_tape.vars(&x), fused_tape.var(b));
            // Scale the output so that the upstream adjoint is not 1.
            let fused = Var::neuron(&wf, &xf, bf, activation) * 3.0;
            let ops_tape = Tape::new();
            let (wo, xo, bo) = (ops_tape.vars(&w), ops_tape.vars(&x), ops_tape.var(b));
            let ops = neuron_ops(&wo, &xo, bo, activation) * 3.0;
            assert_eq!(
                fused.value(),
                ops.value(),
                "{activation:?} value, bit for bit"
            );
            let (gf, go) = (fused.backward(), ops.backward());
            for (name, a, b) in (0..3)
                .map(|i| ("w", gf[wf[i]], go[wo[i]]))
                .chain((0..3).map(|i| ("x", gf[xf[i]], go[xo[i]])))
                .chain([("b", gf[bf], go[bo])])
            {
                assert!(
                    close(a, b),
                    "{activation:?} d/d{name}: fused {a} vs ops {b}"
                );
            }
            // One node for the neuron, one for the scaling.
            assert_eq!(fused_tape.len(), 7 + 2);
        }
    }
}

#[test]
fn a_fused_neuron_over_constants_equals_the_operator_neuron() {
    let (w, x, b) = ([0.15, 0.20], [0.05, 0.10], 0.35);
    for activation in ACTIVATIONS {
        let tape = Tape::new();
        let (wv, bv) = (tape.vars(&w), tape.var(b));
        let fused = Var::neuron_const(&wv, &x, bv, activation);
        let g = fused.backward();
        let ops_tape = Tape::new();
        let (wo, bo) = (ops_tape.vars(&w), ops_tape.var(b));
        let ops = activate(wo[0] * x[0] + wo[1] * x[1] + bo, activation);
        let go = ops.backward();
        assert_eq!(fused.value(), ops.value(), "{activation:?}");
        assert!(close(g[wv[0]], go[wo[0]]) && close(g[wv[1]], go[wo[1]]) && close(g[bv], go[bo]));
        assert_eq!(
            tape.edges(fused.index()).len(),
            3,
            "two weights and the bias"
        );
    }
}

/// Central differences of a neuron, with an independent primal written out in f64.
#[test]
fn a_fused_neuron_matches_finite_differences() {
    fn primal(p: &[f64], activation: Activation) -> f64 {
        let z = p[0] * p[2] + p[1] * p[3] + p[4];
        match activation {
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            Activation::Tanh => z.tanh(),
            Activation::Relu => z.max(0.0),
            _ => z,
        }
    }
    // Points whose weighted sum stays away from relu's kink (|z| > 0.1).
    let points = [[0.3, -0.8, 1.2, 0.4, 0.5], [-1.1, 0.7, 0.9, -2.0, -0.3]];
    for activation in ACTIVATIONS {
        for p in points {
            let tape = Tape::new();
            let v = tape.vars(&p);
            let a = Var::neuron(&v[0..2], &v[2..4], v[4], activation);
            let g = a.backward();
            for i in 0..5 {
                let h = 1e-6;
                let (mut plus, mut minus) = (p, p);
                plus[i] += h;
                minus[i] -= h;
                let fd = (primal(&plus, activation) - primal(&minus, activation)) / (2.0 * h);
                // Truncation h²|f'''|/6 < 1e-12 and rounding ε|f|/h < 1e-9 here.
                assert!(
                    (g[v[i]] - fd).abs() <= 1e-8,
                    "{activation:?} operand {i}: tape {} vs numeric {fd}",
                    g[v[i]]
                );
            }
        }
    }
}

#[test]
fn the_half_squared_error_is_the_seed_networks_error() {
    let (out, targets) = ([0.7513650695523157, 0.7729284653214625], [0.01, 0.99]);
    let tape = Tape::new();
    let o = tape.vars(&out);
    let e = Var::half_squared_error(&o, &targets);
    let e_total = 0.5 * (targets[0] - out[0]).powi(2) + 0.5 * (targets[1] - out[1]).powi(2);
    assert!(
        (e.value() - e_total).abs() <= 1e-16,
        "{} vs {e_total}",
        e.value()
    );
    let g = e.backward();
    // ∂E/∂out_o1 = -(target_o1 - out_o1), the article's 0.74136507.
    assert_eq!(g[o[0]], out[0] - targets[0]);
    assert!((g[o[0]] - 0.74136507).abs() < 1e-8);
    assert_eq!(g[o[1]], out[1] - targets[1]);
    assert_eq!(tape.len(), 3, "two outputs and one node for E");
    // Bit for bit the operator spelling.
    let ops_tape = Tape::new();
    let oo = ops_tape.vars(&out);
    let ops = (oo[0] - targets[0]).square() * 0.5 + (oo[1] - targets[1]).square() * 0.5;
    assert_eq!(e.value(), ops.value());
}

#[test]
fn the_mean_squared_error_and_its_gradient() {
    let (scores, labels) = ([0.5, -2.0, 1.25], [1.0, -1.0, 1.0]);
    let tape = Tape::new();
    let s = tape.vars(&scores);
    let l = Var::mean_squared_error(&s, &labels);
    let ops_tape = Tape::new();
    let so = ops_tape.vars(&scores);
    let ops = so
        .iter()
        .zip(labels)
        .map(|(&s, y)| (s - y).square())
        .sum::<Var>()
        / 3.0;
    assert_eq!(l.value(), ops.value(), "bit for bit the operator spelling");
    let (g, go) = (l.backward(), ops.backward());
    for i in 0..3 {
        let by_hand = 2.0 * (scores[i] - labels[i]) / 3.0;
        assert!(
            (g[s[i]] - by_hand).abs() <= 1e-16,
            "{} vs {by_hand}",
            g[s[i]]
        );
        assert!(close(g[s[i]], go[so[i]]));
    }
}

#[test]
fn fused_ops_give_the_same_values_on_f64() {
    let w = [0.4, -0.45];
    let x = [0.59, 0.6];
    for activation in ACTIVATIONS {
        let tape = Tape::new();
        let (wv, xv, b) = (tape.vars(&w), tape.vars(&x), tape.var(0.6));
        assert_eq!(
            Var::neuron(&wv, &xv, b, activation).value(),
            <f64 as Scalar>::neuron(&w, &x, 0.6, activation)
        );
    }
    assert_eq!(
        <f64 as Scalar>::half_squared_error(&[0.75, 0.77], &[0.01, 0.99]),
        0.5 * (0.75f64 - 0.01).powi(2) + 0.5 * (0.77f64 - 0.99).powi(2)
    );
}

#[test]
#[should_panic(expected = "chainrule: neuron needs one weight per input (2 weights, 1 input)")]
fn a_neuron_with_more_weights_than_inputs_panics() {
    let tape = Tape::new();
    let w = tape.vars(&[1.0, 2.0]);
    let x = tape.vars(&[1.0]);
    let _ = Var::neuron(&w, &x, tape.var(0.0), Activation::Tanh);
}

#[test]
#[should_panic(expected = "chainrule: mean_squared_error of no outputs has no tape to live on")]
fn a_loss_of_no_outputs_panics() {
    let _ = Var::mean_squared_error(&[], &[]);
}

#[test]
#[should_panic(expected = "Vars of two different tapes")]
fn a_neuron_across_two_tapes_panics() {
    let (a, b) = (Tape::new(), Tape::new());
    let w = a.vars(&[1.0]);
    let x = b.vars(&[1.0]);
    let _ = Var::neuron(&w, &x, a.var(0.0), Activation::Sigmoid);
}

/// tanh'(x) = sech²(x) = 1/cosh²(x): computed through cosh there is no cancellation,
/// so it is an independent reference to ~1e-15 relative up to where cosh overflows.
#[test]
fn tanh_gradient_is_accurate_in_both_tails() {
    for x in [5.5, 10.0, 15.0, 19.0, 20.0, 30.0, 100.0, -12.0, -25.0] {
        let sech2 = 1.0 / (f64::cosh(x) * f64::cosh(x));
        for (name, g) in [
            ("tanh", {
                let tape = Tape::new();
                let v = tape.var(x);
                let g = v.tanh().backward();
                g[v]
            }),
            ("tanh neuron", {
                let tape = Tape::new();
                let b = tape.var(x);
                let g = Var::neuron_const(&[], &[], b, Activation::Tanh).backward();
                g[b]
            }),
        ] {
            assert!(
                (g - sech2).abs() <= 1e-14 * sech2,
                "{name}'({x}) = {g}, sech² = {sech2}"
            );
        }
    }
}

#[test]
fn relu_of_nan_is_nan() {
    let tape = Tape::new();
    let x = tape.var(f64::NAN);
    assert!(x.relu().value().is_nan());
    assert!(chainrule::Scalar::relu(f64::NAN).is_nan());
    assert_eq!(tape.first_non_finite(), Some(0));
}
