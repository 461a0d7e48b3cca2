//! `Trainer::replay`: training from a recording compiled once against training
//! that records every batch, step for step.
//!
//! Tolerance: 1e-12 relative on every parameter after every step (the issue's
//! bound). A replay computes every value with the op's own function, so the
//! losses agree to the bit; a gradient may differ in the last bits where one
//! parameter's contributions are added in another order.

use chainrule::nn::datasets::{spiral, xor};
use chainrule::nn::{Activation, Adam, Dataset, Init, Loss, Mlp, Optimizer, Sgd, Trainer};

fn network(inputs: usize, hidden: usize, outputs: usize, output: Activation) -> Mlp {
    Mlp::builder(inputs)
        .layer(hidden, Activation::Tanh)
        .layer(hidden, Activation::Relu)
        .layer(outputs, output)
        .init(Init::Xavier)
        .seed(11)
        .build()
        .unwrap()
}

fn assert_close(replayed: &Mlp, recorded: &Mlp, step: usize) {
    for (k, (a, b)) in replayed
        .parameters()
        .iter()
        .zip(recorded.parameters())
        .enumerate()
    {
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1.0),
            "parameter {k} after step {step}: replayed {a:e}, recorded {b:e}"
        );
    }
}

/// Two epochs per `train` call (the second replays the programs the first
/// compiled), the parameters compared after every call and the loss of every
/// epoch.
fn step_for_step<O: Optimizer + Clone>(
    mut mlp: Mlp,
    data: &Dataset,
    loss: Loss,
    optimizer: O,
    batch_size: Option<usize>,
    steps: usize,
) {
    let mut recorded = mlp.clone();
    let trainer = Trainer::new(loss, optimizer).epochs(2).quiet();
    let trainer = match batch_size {
        Some(b) => trainer.batch_size(b),
        None => trainer,
    };
    let mut plain = trainer.clone();
    let mut replaying = trainer.replay();
    for step in 0..steps {
        let a = replaying.train(&mut mlp, data).unwrap();
        let b = plain.train(&mut recorded, data).unwrap();
        for (x, y) in a.losses.iter().zip(&b.losses) {
            assert!(
                (x - y).abs() <= 1e-12 * y.abs().max(1.0),
                "loss at step {step}: replayed {x:e}, recorded {y:e}"
            );
        }
        assert_close(&mlp, &recorded, step);
    }
}

#[test]
fn full_batch_sgd_replayed_is_recorded_training() {
    let data = xor();
    step_for_step(
        network(2, 6, 1, Activation::Sigmoid),
        &data,
        Loss::MeanSquaredError,
        Sgd::new(0.5),
        None,
        60,
    );
}

#[test]
fn mini_batches_with_adam_and_cross_entropy_replayed_are_recorded_training() {
    let data = spiral(10, 3, 5);
    step_for_step(
        network(2, 8, 3, Activation::Identity),
        &data,
        Loss::SoftmaxCrossEntropy,
        Adam::new(0.01),
        Some(7),
        30,
    );
}

/// One long run: the programs are compiled once per batch and reused for every
/// epoch of the call.
#[test]
fn a_long_replayed_run_follows_the_recorded_run() {
    let data = xor();
    let mut replayed = network(2, 6, 1, Activation::Identity);
    let mut recorded = replayed.clone();
    let trainer = Trainer::new(Loss::HalfSquaredError, Sgd::new(0.05))
        .batch_size(3)
        .epochs(300)
        .quiet();
    let a = trainer
        .clone()
        .replay()
        .train(&mut replayed, &data)
        .unwrap();
    let b = trainer.clone().train(&mut recorded, &data).unwrap();
    for (epoch, (x, y)) in a.losses.iter().zip(&b.losses).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * y.abs().max(1.0),
            "loss at epoch {epoch}: {x:e} against {y:e}"
        );
    }
    assert_close(&replayed, &recorded, 300);
}

/// Softmax cross-entropy replayed after the logits moved far from where it was
/// recorded: its shift (the largest logit) is recomputed at every replay, as
/// recording again does. (It was read as an `f64` while recording, so the
/// program kept the first epoch's shift, e^(z − m) overflowed once the logits
/// had moved ~709 past it, and replayed training failed with `NonFinite`
/// where recorded training went on.)
#[test]
fn softmax_cross_entropy_replayed_recomputes_its_shift() {
    let mut data = Dataset::new(1, 2);
    data.push(&[1.0], &[1.0, 0.0]);
    data.push(&[-1.0], &[0.0, 1.0]);
    let start = Mlp::new(&[1, 2], &[Activation::Identity], Init::Xavier, 1).unwrap();
    let trainer = Trainer::new(Loss::SoftmaxCrossEntropy, Sgd::new(1200.0))
        .epochs(3)
        .quiet();
    let mut recorded = start.clone();
    let b = trainer.clone().train(&mut recorded, &data).unwrap();
    let mut replayed = start;
    let a = trainer.replay().train(&mut replayed, &data).unwrap();
    assert_eq!(a.losses.len(), 3);
    for (epoch, (x, y)) in a.losses.iter().zip(&b.losses).enumerate() {
        assert!(
            (x - y).abs() <= 1e-12 * y.abs().max(1.0),
            "loss at epoch {epoch}: replayed {x:e}, recorded {y:e}"
        );
    }
    // The logits did move past e^709's reach.
    let logits = recorded.predict(&[1.0]);
    assert!((logits[0] - logits[1]).abs() > 709.0, "{logits:?}");
    assert_close(&replayed, &recorded, 3);
}
