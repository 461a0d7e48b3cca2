//! The seed network (W1 of benches/WORKLOADS.md) expressed with `chainrule::nn`: a 2-2-2
//! sigmoid network, one bias shared per layer and frozen, trained with plain SGD
//! on the half squared error.
//!
//! Tolerance: 1e-9 relative, as benches/WORKLOADS.md states for every figure.

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::nn::{Activation, Layer, LayerSpec, Loss, Mlp, Optimizer, ParamRef, Sgd, Trainer};
use chainrule::Tape;
use workloads::seed;

fn assert_rel(actual: f64, expected: f64, what: &str) {
    let rel = (actual - expected).abs() / expected.abs();
    assert!(
        rel <= 1e-9,
        "{what}: {actual} vs {expected} (relative {rel:e})"
    );
}

fn seed_network() -> Mlp {
    let layer = LayerSpec::new(2, Activation::Sigmoid)
        .shared_bias()
        .frozen_bias();
    let mut mlp = Mlp::builder(2)
        .layer_spec(layer)
        .layer_spec(layer)
        .build()
        .unwrap();
    mlp.set_parameters(&seed::WEIGHTS).unwrap(); // w1..w8: the trainable parameters
    mlp.frozen_parameters_mut().copy_from_slice(&seed::BIASES); // b1, b2
    mlp
}

#[test]
fn seed_network_layout_is_w1_to_w8_with_one_frozen_bias_per_layer() {
    let mlp = seed_network();
    assert_eq!(mlp.parameter_count(), 8);
    let hidden: &Layer = &mlp.layers()[0];
    let output: &Layer = &mlp.layers()[1];
    assert_eq!(hidden.neurons()[0].weights(), 0..2); // w1, w2 -> h1
    assert_eq!(hidden.neurons()[1].weights(), 2..4); // w3, w4 -> h2
    assert_eq!(output.neurons()[0].weights(), 4..6); // w5, w6 -> o1
    assert_eq!(output.neurons()[1].weights(), 6..8); // w7, w8 -> o2
    for (layer, b) in [(hidden, 0), (output, 1)] {
        for neuron in layer.neurons() {
            assert_eq!(neuron.bias(), ParamRef::Frozen(b));
        }
    }
}

#[test]
fn nn_reproduces_the_seed_networks_first_step() {
    let mut mlp = seed_network();
    let tape = Tape::new();
    let (grad, e) = {
        let net = mlp.bind(&tape);
        let mut hidden = Vec::new();
        mlp.layers()[0].forward_const(net.params(), &seed::INPUTS, &mut hidden);
        assert_rel(hidden[0].value(), seed::REFERENCE_OUT_H1, "out_h1");
        let out = net.forward(&seed::INPUTS);
        assert_rel(out[0].value(), seed::REFERENCE_OUT_O1, "out_o1");
        assert_rel(out[1].value(), seed::REFERENCE_OUT_O2, "out_o2");
        let e = Loss::HalfSquaredError.evaluate(&out, &seed::TARGETS);
        let g = e.backward();
        // The frozen biases are bound and do get a gradient; it is not reported
        // with the trainable ones and no optimizer sees it.
        assert_ne!(g[net.frozen_parameters()[0]], 0.0);
        (net.gradient(&g), e.value())
    };
    assert_rel(e, seed::REFERENCE_E0, "E0");
    assert_rel(grad[4], seed::REFERENCE_DE_DW5, "dE/dw5");
    assert_rel(grad[0], seed::REFERENCE_DE_DW1, "dE/dw1");

    Sgd::new(seed::LEARNING_RATE).step(mlp.parameters_mut(), &grad);
    assert_rel(
        mlp.parameters()[4],
        seed::REFERENCE_W5_AFTER_1,
        "w5 after one step",
    );
    assert_rel(
        mlp.parameters()[0],
        seed::REFERENCE_W1_AFTER_1,
        "w1 after one step",
    );
    let out = mlp.predict(&seed::INPUTS);
    assert_rel(
        Loss::HalfSquaredError.evaluate(&out, &seed::TARGETS),
        seed::REFERENCE_E1,
        "E1",
    );
    assert_eq!(mlp.frozen_parameters(), &seed::BIASES);
}

#[test]
fn trainer_trains_the_seed_network_to_the_reference() {
    let mut mlp = seed_network();
    let mut data = chainrule::nn::Dataset::new(2, 2);
    data.push(&seed::INPUTS, &seed::TARGETS);
    let report = Trainer::new(Loss::HalfSquaredError, Sgd::new(seed::LEARNING_RATE))
        .epochs(seed::STEPS)
        .quiet()
        .train(&mut mlp, &data)
        .unwrap();
    assert_eq!(report.epochs(), seed::STEPS);
    assert_rel(report.losses[0], seed::REFERENCE_E0, "E0");
    assert_rel(report.losses[1], seed::REFERENCE_E1, "E1");
    let e = Loss::HalfSquaredError.evaluate(&mlp.predict(&seed::INPUTS), &seed::TARGETS);
    assert_rel(e, seed::REFERENCE_E_FINAL, "E after 10,000 steps");
    assert_eq!(mlp.frozen_parameters(), &seed::BIASES, "biases stay frozen");
}
