//! Checking a derivation three ways, as the README's "Checking a derivation"
//! shows them: an unlabelled formula explained by its own expressions, the seed
//! network built with `nn` explained in the article's terms, and `compare`
//! naming the mistake in a hand derivation that forgot a path.
//!
//! ```sh
//! cargo run --example derivations
//! ```

use chainrule::nn::{Activation, LayerSpec, Loss, Mlp};
use chainrule::Tape;

fn main() {
    // 1. No labels at all: every node is named by its expression.
    let tape = Tape::new();
    let x = tape.var(0.3);
    let y = tape.var(0.7);
    let f = ((x * y).exp() + 1.0).ln() / (x.square() + y.square()).sqrt();
    println!("1. An unlabelled formula, f = ln(1 + e^(xy)) / sqrt(x² + y²), ∂f/∂x:\n");
    print!("{}", f.backward().explain(x));

    // 2. The seed network of Mazur's article, built with `nn` and bound with labels.
    let layer = LayerSpec::new(2, Activation::Sigmoid)
        .shared_bias()
        .frozen_bias();
    let mut mlp = Mlp::builder(2)
        .layer_spec(layer)
        .layer_spec(layer)
        .build()
        .expect("a 2-2-2 network");
    mlp.set_parameters(&[0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55])
        .expect("eight weights");
    mlp.frozen_parameters_mut().copy_from_slice(&[0.35, 0.60]);
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let out = net.forward(&[0.05, 0.10]);
    let loss = net.loss(Loss::HalfSquaredError, &out, &[0.01, 0.99]);
    let g = loss.backward();
    println!("\n2. The seed network built with nn, ∂E/∂w1 (w1 is layer1.neuron0.w0):\n");
    print!("{}", g.explain(net.parameters()[0]));

    // 3. A hand derivation of ∂f/∂x that forgot the quotient rule's second term.
    let tape = Tape::new();
    let x = tape.var(0.3).named("x");
    let y = tape.var(0.7).named("y");
    let (xv, yv) = (0.3f64, 0.7f64);
    let f = ((x * y).exp() + 1.0).ln() / (x.square() + y.square()).sqrt();
    let sigma = 1.0 / (1.0 + (-xv * yv).exp()); // d/du ln(1 + e^u) = σ(u)
    let r = (xv * xv + yv * yv).sqrt();
    let slip = yv * sigma / r; // the numerator's term only
    println!("\n3. compare, given a hand value that forgot the denominator's term:\n");
    print!("{}", f.backward().compare(&[(x, slip)]));
}
