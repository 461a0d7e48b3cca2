//! W2 of benches/WORKLOADS.md with `chainrule::nn`: a 2-16-16-1 MLP (tanh, tanh, linear)
//! on 100 two-moons points, full-batch gradient descent (lr 0.05) on
//! L = Σ(score − label)²/n for 100 epochs. Prints L at epoch 0 and epoch 99
//! (epochs count from 0, as in `Trainer`'s messages)
//! against the reference and the accuracy, and writes the loss curve and the
//! decision boundary as SVG.
//!
//! Run: `cargo run --release --example moons`

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::nn::plot::{decision_boundary, loss_curve};
use chainrule::nn::{Activation, Dataset, Init, Loss, Mlp, Sgd, Trainer};
use workloads::moons;

fn main() -> Result<(), chainrule::nn::Error> {
    let samples = moons::data(); // SplitMix64(7), exactly as benches/WORKLOADS.md
    let mut data = Dataset::new(2, 1);
    for s in &samples {
        data.push(&s.x, &[s.label]);
    }
    let mut mlp = Mlp::new(
        &moons::LAYERS,
        &[Activation::Tanh, Activation::Tanh, Activation::Identity],
        Init::Uniform, // 2u − 1 from SplitMix64(42), biases 0
        42,
    )?;

    // Epochs 0..=98 with their updates, then the forward pass of epoch 99.
    let mut trainer = Trainer::new(Loss::MeanSquaredError, Sgd::new(moons::LEARNING_RATE))
        .epochs(moons::EPOCHS - 1);
    let mut losses = trainer.train(&mut mlp, &data)?.losses;
    let mut after = mlp.clone();
    let last = Trainer::new(Loss::MeanSquaredError, Sgd::new(moons::LEARNING_RATE))
        .quiet()
        .train(&mut after, &data)?;
    losses.extend(last.losses);

    let correct = data
        .iter()
        .filter(|(x, t)| mlp.predict(x)[0].signum() == t[0])
        .count();
    println!(
        "epoch  0: L = {:.16} (reference {:.16})",
        losses[0],
        moons::REFERENCE_L0
    );
    println!(
        "epoch 99: L = {:.16} (reference {:.16})",
        losses[99],
        moons::REFERENCE_L99
    );
    println!("accuracy at epoch 99: {correct}/{}", data.len());

    loss_curve("moons_loss.svg", "moons (W2): loss per epoch", &losses)?;
    let points: Vec<[f64; 2]> = samples.iter().map(|s| s.x).collect();
    let classes: Vec<usize> = samples.iter().map(|s| usize::from(s.label < 0.0)).collect();
    decision_boundary(
        "moons_boundary.svg",
        "moons (W2): sign of the score at epoch 99",
        |p| usize::from(mlp.predict(&p)[0] < 0.0),
        &points,
        &classes,
        80,
    )?;
    println!("wrote moons_loss.svg and moons_boundary.svg");
    Ok(())
}
