//! Three interleaved spiral arms, one class each: a 2-32-32-3 tanh network with
//! softmax cross-entropy, Adam, mini-batches of 50. Prints the training accuracy
//! and writes the loss curve and the decision regions as SVG.
//!
//! Run: `cargo run --release --example spiral`

use chainrule::nn::datasets::{argmax, spiral};
use chainrule::nn::plot::{decision_boundary, loss_curve};
use chainrule::nn::{Activation, Adam, Init, Loss, Mlp, Trainer};

fn main() -> Result<(), chainrule::nn::Error> {
    let data = spiral(100, 3, 0);
    let mut mlp = Mlp::builder(2)
        .layer(32, Activation::Tanh)
        .layer(32, Activation::Tanh)
        .layer(3, Activation::Identity) // one logit per class
        .init(Init::Xavier)
        .seed(1)
        .build()?;

    let report = Trainer::new(Loss::SoftmaxCrossEntropy, Adam::new(0.01))
        .epochs(1000)
        .batch_size(50)
        .shuffle(2)
        .target_loss(0.05)
        .train(&mut mlp, &data)?;

    let correct = data
        .iter()
        .filter(|(x, t)| argmax(&mlp.predict(x)) == argmax(t))
        .count();
    // The loss of the network trained (the report's last loss is the last
    // epoch's: the mean over its mini-batches, each before its update).
    let trained = data
        .iter()
        .map(|(x, t)| Loss::SoftmaxCrossEntropy.evaluate(&mlp.predict(x), t))
        .sum::<f64>()
        / data.len() as f64;
    println!(
        "trained network's loss {trained:.6} after {} epochs (the last, epoch {} counting from 0, had {:.6}, measured during it); training accuracy {correct}/{} ({:.1}%)",
        report.epochs(),
        report.epochs().saturating_sub(1),
        report.final_loss().unwrap_or(f64::NAN),
        data.len(),
        100.0 * correct as f64 / data.len() as f64
    );

    loss_curve(
        "spiral_loss.svg",
        "spiral: softmax cross-entropy per epoch",
        &report.losses,
    )?;
    let points: Vec<[f64; 2]> = data.iter().map(|(x, _)| [x[0], x[1]]).collect();
    let classes: Vec<usize> = data.iter().map(|(_, t)| argmax(t)).collect();
    decision_boundary(
        "spiral_boundary.svg",
        "spiral: predicted class",
        |p| argmax(&mlp.predict(&p)),
        &points,
        &classes,
        100,
    )?;
    println!("wrote spiral_loss.svg and spiral_boundary.svg");
    Ok(())
}
