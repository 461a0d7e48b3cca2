//! `Mlp::bind` (and its older name `bind_labelled`): everything `nn` records is
//! labelled in the network's terms, and the seed network built with `nn`
//! explains as the article derives it. The labels are deferred (copied into the
//! tape's labels when one is first read): the last tests hold that deferring
//! changes nothing a reader can see.
//!
//! The seed network is the 2-2-2 sigmoid network of Matt Mazur, "A Step by Step
//! Backpropagation Example" (2015): w1..w8 = .15 .20 .25 .30 .40 .45 .50 .55,
//! b1 = .35, b2 = .60 (one per layer, shared, not trained), inputs .05 .10,
//! targets .01 .99, E = ½Σ(target − out)².

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::nn::{Activation, LayerSpec, Loss, Mlp};
use chainrule::Tape;
use workloads::seed;

/// The article prints 9 decimals: a figure matches when it rounds to the
/// article's digits, i.e. is within half a unit of the last one.
const ARTICLE_HALF_ULP: f64 = 0.5e-9;

fn seed_network() -> Mlp {
    let layer = LayerSpec::new(2, Activation::Sigmoid)
        .shared_bias()
        .frozen_bias();
    let mut mlp = Mlp::builder(2)
        .layer_spec(layer)
        .layer_spec(layer)
        .build()
        .unwrap();
    mlp.set_parameters(&seed::WEIGHTS).unwrap(); // w1..w8
    mlp.frozen_parameters_mut().copy_from_slice(&seed::BIASES); // b1, b2
    mlp
}

#[test]
fn the_seed_network_is_labelled_layer_by_layer_neuron_by_neuron() {
    let mlp = seed_network();
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let label = |v: chainrule::Var| tape.label(v.index()).unwrap();
    let w = net.parameters();
    // w1..w8 of the article: layer 1 holds w1..w4, layer 2 holds w5..w8.
    let expected = [
        "layer1.neuron0.w0", // w1: i1 -> h1
        "layer1.neuron0.w1", // w2: i2 -> h1
        "layer1.neuron1.w0", // w3: i1 -> h2
        "layer1.neuron1.w1", // w4: i2 -> h2
        "layer2.neuron0.w0", // w5: h1 -> o1
        "layer2.neuron0.w1", // w6: h2 -> o1
        "layer2.neuron1.w0", // w7: h1 -> o2
        "layer2.neuron1.w1", // w8: h2 -> o2
    ];
    for (k, name) in expected.iter().enumerate() {
        assert_eq!(label(w[k]), *name, "w{}", k + 1);
    }
    // b1 and b2 are shared by their layer: one label per layer.
    assert_eq!(label(net.frozen_parameters()[0]), "layer1.b");
    assert_eq!(label(net.frozen_parameters()[1]), "layer2.b");

    let out = net.forward(&seed::INPUTS);
    let e = net.loss(Loss::HalfSquaredError, &out, &seed::TARGETS);
    assert_eq!(label(out[0]), "layer2.neuron0.out"); // out_o1
    assert_eq!(label(out[1]), "layer2.neuron1.out"); // out_o2
    assert_eq!(
        tape.net_label(out[0].index()).as_deref(),
        Some("layer2.neuron0.net") // net_o1
    );
    assert_eq!(label(e), "loss");
    // out_h1 and out_h2 are the two nodes recorded between the leaves and out_o1.
    let hidden: Vec<String> = (0..tape.len())
        .filter_map(|i| tape.label(i))
        .filter(|l| l.starts_with("layer1.neuron") && l.ends_with(".out"))
        .collect();
    assert_eq!(hidden, ["layer1.neuron0.out", "layer1.neuron1.out"]);
    // Every node the binding recorded has a label: nothing is left as op#index.
    for i in 0..tape.len() {
        assert!(tape.label(i).is_some(), "node #{i} is unlabelled");
    }
}

#[test]
fn explain_w5_names_the_loss_and_the_output_neuron_and_gives_the_articles_value() {
    let mlp = seed_network();
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let out = net.forward(&seed::INPUTS);
    let e = net.loss(Loss::HalfSquaredError, &out, &seed::TARGETS);
    let w5 = net.parameters()[4];
    let explanation = e.backward().explain(w5);

    // The article: ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5
    //                     = 0.74136507 × 0.186815602 × 0.593269992 = 0.082167041
    let de_dout_o1 = out[0].value() - seed::TARGETS[0]; // out_o1 − target_o1
    let dout_dnet = out[0].value() * (1.0 - out[0].value()); // σ' = out(1 − out)
    let dnet_dw5 = seed::REFERENCE_OUT_H1; // out_h1
    let by_hand = de_dout_o1 * dout_dnet * dnet_dw5;
    assert!((explanation.gradient() - 0.082167041).abs() <= ARTICLE_HALF_ULP);
    // Against the hand derivation: the same products in another order, so a
    // few ulps apart at most.
    assert!((explanation.gradient() - by_hand).abs() <= 1e-15);

    assert_eq!(explanation.path_count(), 1); // only through out_o1
    let text = explanation.to_string();
    assert!(
        text.starts_with("∂loss/∂layer2.neuron0.w0 = ∂loss/∂layer2.neuron0.out · "),
        "{text}"
    );
    assert!(text.contains("0.08216704"), "{text}");
    // The fused neuron is explained as the article writes it: out = σ(net),
    // net = Σ w·x + b, each factor with its own name and value.
    assert!(
        text.contains(
            "∂loss/∂layer2.neuron0.out · ∂layer2.neuron0.out/∂layer2.neuron0.net · \
             ∂layer2.neuron0.net/∂layer2.neuron0.w0"
        ),
        "{text}"
    );
    assert!(
        text.contains("0.74136507 × 0.18681560 × 0.59326999"),
        "{text}"
    );
    // The net inside the fused neuron carries its nn label for the explanation.
    assert_eq!(
        tape.net_label(out[0].index()).as_deref(),
        Some("layer2.neuron0.net")
    );
}

#[test]
fn explain_w1_sums_the_paths_through_both_outputs_and_gives_the_articles_value() {
    let mlp = seed_network();
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let out = net.forward(&seed::INPUTS);
    let e = net.loss(Loss::HalfSquaredError, &out, &seed::TARGETS);
    let w1 = net.parameters()[0];
    let explanation = e.backward().explain(w1);

    // The article: ∂E/∂w1 = ∂E/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1 = 0.000438568,
    // ∂E/∂out_h1 = ∂E_o1/∂out_h1 + ∂E_o2/∂out_h1: one path through o1, one through o2.
    assert_eq!(explanation.path_count(), 2);
    assert!((explanation.gradient() - 0.000438568).abs() <= ARTICLE_HALF_ULP);
    let derivation = explanation.derivation();
    let through = derivation.through.expect("both paths pass through out_h1");
    assert_eq!(explanation.name(through), "layer1.neuron0.out");
    let branch_tops: Vec<String> = derivation
        .branches
        .iter()
        .map(|chain| explanation.name(chain.factors[1].of))
        .collect();
    assert_eq!(branch_tops, ["layer2.neuron0.out", "layer2.neuron1.out"]);
    // The article: ∂E_o1/∂out_h1 = 0.055399425 (via o1), ∂E_o2/∂out_h1 = −0.019049119
    // (via o2), ∂E/∂out_h1 = 0.036350306.
    let de_o1_dout_h1 = derivation.branches[0].product;
    let de_o2_dout_h1 = derivation.branches[1].product;
    assert!((de_o1_dout_h1 - 0.055399425).abs() <= ARTICLE_HALF_ULP);
    // The article multiplies its rounded δ_o2 = −0.038098236 by w7 = 0.50; the
    // exact product is −0.0190491183, so its last digit is one unit off: within
    // one unit of the 9th decimal, not half.
    assert!((de_o2_dout_h1 + 0.019049119).abs() <= 2.0 * ARTICLE_HALF_ULP);
    assert!((derivation.branch_sum - 0.036350306).abs() <= ARTICLE_HALF_ULP);
    let text = explanation.to_string();
    assert!(
        text.contains("where ∂loss/∂layer1.neuron0.out sums 2 paths"),
        "{text}"
    );
    assert!(
        text.contains(
            "∂layer1.neuron0.out/∂layer1.neuron0.net · ∂layer1.neuron0.net/∂layer1.neuron0.w0"
        ),
        "{text}"
    );
}

#[test]
fn bind_and_bind_labelled_give_the_same_labels() {
    let mlp = seed_network();
    let all_labels = |bound: &dyn Fn(&Tape)| {
        let tape = Tape::new();
        bound(&tape);
        (0..tape.len())
            .map(|i| (tape.label(i), tape.net_label(i)))
            .collect::<Vec<_>>()
    };
    let record = |net: chainrule::nn::BoundMlp| {
        assert!(net.is_labelled());
        let out = net.forward(&seed::INPUTS);
        let _ = net.loss(Loss::HalfSquaredError, &out, &seed::TARGETS);
    };
    let bound = all_labels(&|tape| record(mlp.bind(tape)));
    let labelled = all_labels(&|tape| record(mlp.bind_labelled(tape)));
    assert_eq!(bound, labelled);
    // 8 weights, 2 biases, 4 neurons, the loss: 15 nodes, each labelled.
    assert_eq!(bound.len(), 15);
    assert!(bound.iter().all(|(label, _)| label.is_some()), "{bound:?}");
    let nets = bound.iter().filter(|(_, net)| net.is_some()).count();
    assert_eq!(nets, 4, "{bound:?}");
}

#[test]
fn a_label_given_after_binding_replaces_the_networks_whether_or_not_one_was_read() {
    let mlp = seed_network();
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let out = net.forward(&seed::INPUTS);
    // Given while the network's labels are still deferred:
    let _ = net.parameters()[4].named("w5");
    let _ = out[0].named("out_o1").named_net("net_o1");
    assert_eq!(
        tape.label(net.parameters()[4].index()).as_deref(),
        Some("w5")
    );
    assert_eq!(tape.label(out[0].index()).as_deref(), Some("out_o1"));
    assert_eq!(tape.net_label(out[0].index()).as_deref(), Some("net_o1"));
    // The others keep the network's.
    assert_eq!(
        tape.label(net.parameters()[5].index()).as_deref(),
        Some("layer2.neuron0.w1")
    );
    // Given after a label was read, and a second binding's labels deferred after it:
    let _ = net.parameters()[5].named("w6");
    let again = net.forward(&seed::INPUTS);
    let _ = again[1].named("out_o2, again");
    assert_eq!(
        tape.label(net.parameters()[5].index()).as_deref(),
        Some("w6")
    );
    assert_eq!(
        tape.label(again[0].index()).as_deref(),
        Some("layer2.neuron0.out")
    );
    assert_eq!(
        tape.label(again[1].index()).as_deref(),
        Some("out_o2, again")
    );
}

#[test]
fn clear_forgets_the_labels_not_yet_read() {
    let mlp = seed_network();
    let mut tape = Tape::new();
    {
        let net = mlp.bind(&tape);
        let _ = net.forward(&seed::INPUTS);
    }
    tape.clear();
    let x = tape.vars(&[1.0; 20]);
    let y = x.iter().copied().sum::<chainrule::Var>();
    for i in 0..tape.len() {
        assert_eq!(tape.label(i), None, "node #{i}");
        assert_eq!(tape.net_label(i), None, "node #{i}");
    }
    let text = y.backward().explain(x[0]).to_string();
    assert!(!text.contains("layer"), "{text}");
}

#[test]
fn batch_loss_and_gradient_labels_the_callers_tape() {
    use chainrule::nn::{batch_loss_and_gradient, Dataset};
    let mlp = seed_network();
    let mut data = Dataset::new(2, 2);
    data.push(&seed::INPUTS, &seed::TARGETS);
    let mut tape = Tape::new();
    let mut gradient = Vec::new();
    let _ = batch_loss_and_gradient(
        &mlp,
        &data,
        &[0],
        1.0,
        Loss::HalfSquaredError,
        &mut tape,
        &mut gradient,
    );
    assert_eq!(tape.label(0).as_deref(), Some("layer1.neuron0.w0"));
    assert_eq!(tape.label(9).as_deref(), Some("layer2.b"));
    let outs = (0..tape.len())
        .filter(|&i| tape.label(i).is_some_and(|l| l.ends_with(".out")))
        .count();
    assert_eq!(outs, 4);
}

#[test]
fn own_biases_linear_neurons_and_var_inputs_are_labelled_too() {
    // 3 inputs, a relu layer of 2 (own biases), a linear output: its one node is
    // the weighted sum, labelled as the net (out = net).
    let mlp = Mlp::builder(3)
        .layer(2, Activation::Relu)
        .layer(1, Activation::Identity)
        .seed(5)
        .build()
        .unwrap();
    let tape = Tape::new();
    let net = mlp.bind_labelled(&tape);
    let p = net.parameters();
    let names: Vec<String> = p.iter().map(|v| tape.label(v.index()).unwrap()).collect();
    assert_eq!(
        names,
        [
            "layer1.neuron0.w0",
            "layer1.neuron0.w1",
            "layer1.neuron0.w2",
            "layer1.neuron0.b",
            "layer1.neuron1.w0",
            "layer1.neuron1.w1",
            "layer1.neuron1.w2",
            "layer1.neuron1.b",
            "layer2.neuron0.w0",
            "layer2.neuron0.w1",
            "layer2.neuron0.b",
        ]
    );
    let x = tape.vars(&[0.5, -1.0, 2.0]);
    let y = net.forward_vars(&x)[0];
    assert_eq!(tape.label(y.index()).as_deref(), Some("layer2.neuron0.net"));
    assert_eq!(tape.net_label(y.index()), None); // not a fused neuron: no inner net
    let relu_out = (0..tape.len())
        .filter(|&i| tape.label(i).as_deref() == Some("layer1.neuron1.out"))
        .count();
    assert_eq!(relu_out, 1);
}
