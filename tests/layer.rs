//! `Var::layer` (and `Scalar::layer`): a neuron per output over the same inputs,
//! `params` neuron after neuron as `[w…, b]`. Every output must be the node
//! `Var::neuron` records for it, bit for bit (value, edges, gradients), with the
//! inputs checked once for the whole layer.

use chainrule::graph::textbook_backward;
use chainrule::{Activation, Scalar, Tape, Var};

const ACTIVATIONS: [Activation; 4] = [
    Activation::Identity,
    Activation::Sigmoid,
    Activation::Tanh,
    Activation::Relu,
];

/// Parameters for `outputs` neurons of `inputs` inputs: a fixed pseudo-random
/// pattern in [-0.9, 0.9], each neuron's weights then its bias.
fn params(inputs: usize, outputs: usize) -> Vec<f64> {
    (0..outputs * (inputs + 1))
        .map(|i| ((i * 37 + 11) % 19) as f64 / 10.0 - 0.9)
        .collect()
}

/// Records the layer with `Var::layer` on one tape and neuron by neuron with
/// `Var::neuron` on another (the same nodes in the same order), then checks that
/// the two tapes hold the same values and edges, and give the same gradients.
fn check_layer_equals_neurons(inputs: usize, outputs: usize, activation: Activation) {
    let x_values: Vec<f64> = (0..inputs).map(|i| 0.3 * i as f64 - 0.7).collect();
    let p_values = params(inputs, outputs);

    let layer_tape = Tape::new();
    let x = layer_tape.vars(&x_values);
    let p = layer_tape.vars(&p_values);
    let mut h = vec![x.first().copied().unwrap_or(p[0]); outputs];
    Var::layer(&p, &x, activation, &mut h);
    let y: Var = h.iter().sum();

    let neuron_tape = Tape::new();
    let x2 = neuron_tape.vars(&x_values);
    let p2 = neuron_tape.vars(&p_values);
    let h2: Vec<Var> = p2
        .chunks_exact(inputs + 1)
        .map(|wb| Var::neuron(&wb[..inputs], &x2, wb[inputs], activation))
        .collect();
    let y2: Var = h2.iter().sum();

    assert_eq!(layer_tape.len(), neuron_tape.len());
    for i in 0..layer_tape.len() {
        assert_eq!(
            layer_tape.value(i),
            neuron_tape.value(i),
            "value of node {i}"
        );
        assert_eq!(layer_tape.op(i), neuron_tape.op(i), "op of node {i}");
        assert_eq!(
            layer_tape.edges(i),
            neuron_tape.edges(i),
            "edges of node {i}"
        );
    }
    let (g, g2) = (y.backward(), y2.backward());
    assert_eq!(g.as_slice(), g2.as_slice());
    // And the fast sweep agrees with the textbook one on the graph view.
    assert_eq!(
        g.as_slice(),
        &textbook_backward(&layer_tape.graph(), y.index())[..]
    );
}

#[test]
fn a_layer_records_what_its_neurons_record_one_by_one() {
    for activation in ACTIVATIONS {
        // Fewer inputs than a run needs, exactly enough, and a wide layer.
        for (inputs, outputs) in [(2, 3), (4, 4), (16, 16), (5, 1)] {
            check_layer_equals_neurons(inputs, outputs, activation);
        }
    }
}

#[test]
fn a_layer_of_no_inputs_is_its_biases_activated() {
    let tape = Tape::new();
    let biases = tape.vars(&[0.5, -2.0]);
    let mut h = [biases[0]; 2];
    Var::layer(&biases, &[], Activation::Tanh, &mut h);
    assert_eq!(h[0].value(), 0.5f64.tanh());
    assert_eq!(h[1].value(), (-2.0f64).tanh());
    let g = h[1].backward();
    // tanh′ = 1 − t², to a few ulps: the tape computes it without the
    // cancellation of `1 − t·t` (tests/precision.rs holds it to 4.5 ulps).
    let t = h[1].value();
    assert!((g[biases[1]] - (1.0 - t * t)).abs() <= 1e-15 * (1.0 - t * t));
    assert_eq!(g[biases[0]], 0.0);
}

#[test]
fn a_layer_of_no_outputs_records_nothing() {
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0]);
    Var::layer(&[], &x, Activation::Relu, &mut []);
    assert_eq!(tape.len(), 2);
}

#[test]
fn a_layer_over_scattered_inputs_is_still_exact() {
    // The inputs are not consecutive nodes (each is followed by an unrelated
    // node), so no neuron is stored over runs; the gradients are still the
    // textbook's.
    let tape = Tape::new();
    let mut x = Vec::new();
    for i in 0..6 {
        let xi = tape.var(0.2 * i as f64 - 0.5);
        let _unrelated = xi * 3.0;
        x.push(xi);
    }
    let p = tape.vars(&params(6, 3));
    let mut h = [x[0]; 3];
    Var::layer(&p, &x, Activation::Sigmoid, &mut h);
    let y = h[0] * h[1] + h[2];
    let g = y.backward();
    assert_eq!(
        g.as_slice(),
        &textbook_backward(&tape.graph(), y.index())[..]
    );
    assert!(x.iter().all(|&xi| g[xi] != 0.0));
}

#[test]
fn the_f64_layer_is_the_primal_of_the_var_layer() {
    let x_values = [0.1, -0.4, 0.9, 0.3, -0.2];
    let p_values = params(5, 4);
    let mut primal = [0.0; 4];
    f64::layer(&p_values, &x_values, Activation::Tanh, &mut primal);

    let tape = Tape::new();
    let x = tape.vars(&x_values);
    let p = tape.vars(&p_values);
    let mut taped = [x[0]; 4];
    <Var as Scalar>::layer(&p, &x, Activation::Tanh, &mut taped);
    for (a, b) in primal.iter().zip(&taped) {
        assert_eq!(*a, b.value());
    }
}

#[test]
#[should_panic(
    expected = "chainrule: layer needs 2 weights and a bias per output (3 outputs × 3 = 9 params, got 8)"
)]
fn a_layer_with_too_few_params_panics() {
    let tape = Tape::new();
    let x = tape.vars(&[1.0, 2.0]);
    let p = tape.vars(&[0.1; 8]);
    let mut h = [x[0]; 3];
    Var::layer(&p, &x, Activation::Tanh, &mut h);
}

#[test]
#[should_panic(expected = "chainrule: layer needs")]
fn the_f64_layer_checks_its_shape_too() {
    let mut out = [0.0; 2];
    f64::layer(&[0.0; 5], &[1.0, 2.0], Activation::Tanh, &mut out);
}

#[test]
#[should_panic(expected = "Vars of two different tapes")]
fn a_layer_over_inputs_of_another_tape_panics() {
    let (a, b) = (Tape::new(), Tape::new());
    let x = b.vars(&[1.0, 2.0, 3.0, 4.0]);
    let p = a.vars(&params(4, 2));
    let mut h = [p[0]; 2];
    Var::layer(&p, &x, Activation::Tanh, &mut h);
}

#[test]
#[should_panic(expected = "Vars of two different tapes")]
fn a_layer_whose_second_neuron_is_on_another_tape_panics() {
    // The first neuron's parameters are on the inputs' tape; all of the second's
    // are on another. Each neuron checks its weights against its bias, and the
    // layer checks the inputs against the first parameter only: so every bias
    // must be checked against that parameter too.
    let (a, b) = (Tape::new(), Tape::new());
    let x = a.vars(&[1.0, 2.0, 3.0, 4.0]);
    let mut p = a.vars(&params(4, 1));
    p.extend(b.vars(&[0.1, 0.1, 0.1, 0.1, 0.0]));
    let mut h = [x[0]; 2];
    Var::layer(&p, &x, Activation::Tanh, &mut h);
}

#[test]
fn an_nn_layer_is_recorded_as_its_neurons_would_be() {
    use chainrule::nn::{Activation as NnActivation, Mlp};

    // A dense hidden layer (each neuron its own bias: one `Scalar::layer` call)
    // and a layer sharing one bias (neuron by neuron).
    let mlp = Mlp::builder(5)
        .layer(4, NnActivation::Tanh)
        .layer_spec(chainrule::nn::LayerSpec::new(3, NnActivation::Sigmoid).shared_bias())
        .build()
        .expect("a valid network");
    for layer in mlp.layers() {
        let tape = Tape::new();
        let bound = mlp.bind(&tape);
        let params = bound.params();
        let x = tape.vars(&[0.3, -0.1, 0.8, 0.2, -0.6][..layer.inputs()]);
        let mut by_layer = Vec::new();
        layer.forward(params, &x, &mut by_layer);
        let by_neuron: Vec<Var> = layer
            .neurons()
            .iter()
            .map(|n| n.output(params, &x, layer.activation()))
            .collect();
        assert_eq!(by_layer.len(), by_neuron.len());
        for (a, b) in by_layer.iter().zip(&by_neuron) {
            assert_eq!(a.value(), b.value());
            assert_eq!(tape.edges(a.index()), tape.edges(b.index()));
        }
        let y: Var = by_layer.iter().sum();
        let g = y.backward();
        assert_eq!(
            g.as_slice(),
            &textbook_backward(&tape.graph(), y.index())[..]
        );
    }
}
