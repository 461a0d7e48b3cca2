//! Faults found by an audit of explanations, drawings and gradient checks: each
//! test states what the tool said that was false, and holds it to the truth.

use chainrule::explain::{ExplainOptions, Quantity};
use chainrule::{Activation, Tape, Var};

/// Every factor `∂net/∂w` of a neuron over constant inputs must be the input
/// that multiplies `w`: the explanation may leave the net out, but never state
/// another number for it.
fn assert_net_factors_are_the_inputs(tape: &Tape, y: Var<'_>, weights: &[Var<'_>], inputs: &[f64]) {
    let g = y.backward();
    for (w, &input) in weights.iter().zip(inputs) {
        let explanation = g.explain(*w);
        for path in explanation.paths() {
            for factor in &path.factors {
                if let (Quantity::Net(_), Quantity::Node(i)) = (factor.of, factor.wrt) {
                    if i != w.index() {
                        continue; // a net of a later layer
                    }
                    // Exactly: the constant is read back from the tape, not rounded.
                    assert_eq!(
                        factor.value,
                        input,
                        "∂net/∂{} stated as {} (the input is {input}):\n{explanation}",
                        tape.display_name(w.index()),
                        factor.value
                    );
                }
            }
        }
    }
}

#[test]
fn a_relu_neuron_over_constant_inputs_at_z_below_zero_states_no_false_partial_of_its_net() {
    // z = −0.3·0.5 + (−0.2)·(−1) − 0.1 < 0: every partial is 0, which read as
    // pairs of variables gave ∂net/∂w0 the value of w1 (−0.2) and ∂net/∂w1 that
    // of w0 (−0.3).
    let inputs = [0.5, -1.0];
    for keep in [false, true] {
        let tape = Tape::new();
        tape.set_keep_constants(keep);
        let w = [tape.var(-0.3).named("w0"), tape.var(-0.2).named("w1")];
        let b = tape.var(-0.1).named("b");
        let out = Var::neuron_const(&w, &inputs, b, Activation::Relu)
            .named("out")
            .named_net("net");
        let y = (out * 2.0).named("y");
        assert_net_factors_are_the_inputs(&tape, y, &w, &inputs);
        let text = y.backward().explain(w[0]).to_string();
        if keep {
            // The constants are on the tape: the net is shown, with the input.
            assert!(text.contains("∂net/∂w0"), "{text}");
            assert!(text.contains("× 0.50000000"), "{text}");
        }
        assert!(!text.contains("0.20000000"), "{text}");
    }
}

#[test]
fn a_saturated_sigmoid_or_tanh_neuron_over_constant_inputs_states_no_false_partial_of_its_net() {
    // σ′(−800) and tanh′(−800) are exactly 0, as relu′ below 0.
    let inputs = [0.5, -1.0];
    for activation in [Activation::Sigmoid, Activation::Tanh] {
        for keep in [false, true] {
            let tape = Tape::new();
            tape.set_keep_constants(keep);
            let w = [tape.var(-1600.0).named("w0"), tape.var(-0.2).named("w1")];
            let b = tape.var(-0.1).named("b");
            let out = Var::neuron_const(&w, &inputs, b, activation)
                .named("out")
                .named_net("net");
            assert_eq!(out.backward()[w[0]], 0.0);
            let y = (out * 2.0).named("y");
            assert_net_factors_are_the_inputs(&tape, y, &w, &inputs);
        }
    }
}

#[test]
fn a_relu_layer_built_with_nn_at_z_below_zero_states_no_false_partial_of_its_net() {
    use chainrule::nn::{Loss, Mlp};
    let mut mlp = Mlp::builder(2)
        .layer(2, Activation::Relu)
        .layer(2, Activation::Sigmoid)
        .build()
        .expect("a 2-2-2 network");
    let parameters: Vec<f64> = (0..mlp.parameter_count())
        .map(|i| 0.1 * i as f64 - 0.3)
        .collect();
    mlp.set_parameters(&parameters).expect("twelve parameters");
    let inputs = [0.5, -1.0];
    let tape = Tape::new();
    let net = mlp.bind_labelled(&tape);
    let out = net.forward(&inputs);
    let loss = net.loss(Loss::HalfSquaredError, &out, &[1.0, 0.0]);
    // layer1.neuron0: z = −0.3·0.5 − 0.2·(−1) − 0.1 = −0.05, relu passes 0.
    assert_eq!(tape.value(12), 0.0);
    let w = &net.parameters()[..2];
    assert_net_factors_are_the_inputs(&tape, loss, w, &inputs);
}

#[test]
fn a_count_of_paths_past_u128_with_none_listed_says_it_saturated() {
    let tape = Tape::new();
    let x = tape.var(1.0);
    let mut y = x;
    for _ in 0..130 {
        y = y + y.sin(); // 2^130 paths over the tape's nodes
    }
    let options = ExplainOptions::default().raw().max_paths(0);
    let explanation = y.backward().explain_with(x, options);
    assert!(explanation.count_saturated());
    let text = explanation.to_string();
    // It said "over 340282366920938463463374607431768211455 paths": there are 2^130.
    assert!(
        text.contains("over more than u128::MAX paths, none listed"),
        "{text}"
    );
}

#[test]
fn a_sum_of_paths_that_cancels_below_the_digits_written_says_so() {
    // ∂y/∂x = 1 + 1e17 − 1e17 = 1; in f64 (path by path, and the tape's sweep
    // alike) the 1 is lost: the explanation wrote "= 0.00000000" and no more.
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let a = (x * 1e17).named("a");
    let b = (x * -1e17).named("b");
    let y = (x + a + b).named("y");
    let g = y.backward();
    assert_eq!(g[x], 0.0);
    let text = g.explain(x).to_string();
    let last = text.lines().last().expect("a result line");
    assert!(
        last.starts_with("      = 0.00000000 (the terms cancel: at their size (up to 1.00000000e17) one rounding alone may move the sum by up to 11.102,"),
        "{text}"
    );
    assert!(last.contains("Gradients::rounding_bound"), "{text}");
    // x³ − (x − 1)³ at 1e10: terms ±3e20, a sum of 6e10 − 3 off by 22,525.
    let x = tape.var(1e10).named("x");
    let y = (x.powi(3) - (x - 1.0).powi(3)).named("y");
    let explanation = y.backward().explain(x);
    assert!(
        explanation.to_string().contains("(the terms cancel"),
        "{explanation}"
    );
    // With 3 decimals, 5.99999775e10 is written 6.000e10: the rounding of the
    // terms (3.3e4) is below half its last digit (5e6), and nothing is noted.
    assert!(
        !format!("{explanation:.3}").contains("cancel"),
        "{explanation:.3}"
    );
}

#[test]
fn a_sum_of_paths_without_cancellation_has_no_note() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let y = (x.sin() * x.exp() + x.square()).named("y");
    let text = y.backward().explain(x).to_string();
    assert!(!text.contains("cancel"), "{text}");
    // Large terms that do not cancel: 1e8 + 1e8.
    let y = (x * 1e8 + x * 1e8).named("z");
    let text = y.backward().explain(x).to_string();
    assert!(!text.contains("cancel"), "{text}");
}

#[test]
fn a_drawing_of_another_output_than_the_gradients_says_whose_gradients_it_shows() {
    use chainrule::dot::Dot;
    // The gradients are ∂y/∂·; the drawing is of z = eˣ. It wrote "grad 0" on z
    // (∂z/∂z is 1) and "grad 3" on x (∂z/∂x is 7.39).
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = (x * 3.0).named("y");
    let z = x.exp().named("z");
    let g = y.backward();
    let dot = Dot::new(&tape).gradients(&g).output(z.index()).to_string();
    assert!(
        dot.contains(
            r#"n2 [label="{ z | exp | value 7.38905610 | grad of y 0.00000000 }", penwidth=2];"#
        ),
        "{dot}"
    );
    assert!(
        dot.contains("{ x | leaf | value 2.00000000 | grad of y 3.00000000 }"),
        "{dot}"
    );
    // With the gradients' own output (given or not), the field is "grad".
    let same = Dot::new(&tape).gradients(&g).output(y.index()).to_string();
    assert!(
        same.contains("{ x | leaf | value 2.00000000 | grad 3.00000000 }"),
        "{same}"
    );
}

#[test]
fn a_long_path_whose_elided_middle_decides_its_product_names_what_does() {
    // 40 factors: 12 written at each end, 16 elided. The relu at 0 in the
    // middle masks the path: the text read "1.00010000 × … × … (16 more
    // factors) … × 1.00010000 = 0.00000000", a product of the factors shown
    // that cannot be 0, with no word of the relu or its kink.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let mut y = x;
    for k in 0..40 {
        y = if k == 20 {
            y.relu()
        } else {
            (y * 1.0001).named(format!("m{k}"))
        };
    }
    let y = y.named("y");
    let text = y
        .backward()
        .explain_with(x, ExplainOptions::default().raw())
        .to_string();
    assert!(
        text.contains(
            "… (16 more factors, among them ∂relu(m19)/∂m19 = 0.00000000 (masked; \
             relu′(0): a convention; the derivative does not exist here)) …"
        ),
        "{text}"
    );
    assert!(text.ends_with("= 0.00000000\n"), "{text}");
    // An elided middle of ordinary factors is still just counted.
    let z = tape.var(1.0).named("z");
    let mut w = z;
    for k in 0..40 {
        w = (w * 1.0001).named(format!("p{k}"));
    }
    let text = w.backward().explain(z).to_string();
    assert!(text.contains("× … (16 more factors) … ×"), "{text}");
}
