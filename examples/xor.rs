//! Learns XOR with a 2-4-1 network: tanh hidden layer, one logit out, binary
//! cross-entropy, Adam. Prints the truth table and the trained network's loss
//! (the report's last loss is the last epoch's, measured before its update).
//!
//! Run: `cargo run --release --example xor`

use chainrule::nn::datasets::xor;
use chainrule::nn::{Activation, Adam, Init, Loss, Mlp, Trainer};

fn main() -> Result<(), chainrule::nn::Error> {
    let data = xor();
    let mut mlp = Mlp::builder(2)
        .layer(4, Activation::Tanh)
        .layer(1, Activation::Identity) // a logit: σ(logit) is P(a XOR b = 1)
        .init(Init::Xavier)
        .seed(4)
        .build()?;

    let report = Trainer::new(Loss::BinaryCrossEntropyWithLogits, Adam::new(0.05))
        .epochs(5000)
        .target_loss(1e-3)
        .train(&mut mlp, &data)?;

    println!(" a  b | target | P(1)     | predicted");
    println!("------+--------+----------+----------");
    for (x, t) in data.iter() {
        let logit = mlp.predict(x)[0];
        let p = 1.0 / (1.0 + (-logit).exp());
        println!(
            " {}  {} |   {}    | {p:.6} | {}",
            x[0],
            x[1],
            t[0],
            u8::from(logit > 0.0)
        );
    }
    // The loss of the network trained, the one the table shows. The report's
    // last loss is the last epoch's, measured before that epoch's update.
    let trained = data
        .iter()
        .map(|(x, t)| Loss::BinaryCrossEntropyWithLogits.evaluate(&mlp.predict(x), t))
        .sum::<f64>()
        / data.len() as f64;
    println!(
        "trained network's loss {trained:.6e} after {} epochs (the last, epoch {} counting from 0, had {:.6e}, measured before its update{})",
        report.epochs(),
        report.epochs().saturating_sub(1),
        report.final_loss().unwrap_or(f64::NAN),
        if report.stopped_early {
            ", below the target 1e-3"
        } else {
            ""
        }
    );
    Ok(())
}
