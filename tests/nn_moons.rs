//! W2 of benches/WORKLOADS.md (moons) trained with `chainrule::nn` and the Trainer: the
//! same losses and accuracy as the reference.
//!
//! Tolerance: 1e-9 relative on the losses, as benches/WORKLOADS.md states.

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::nn::{Activation, Dataset, Init, Loss, Mlp, Sgd, Trainer};
use workloads::moons;

fn assert_rel(actual: f64, expected: f64, what: &str) {
    let rel = (actual - expected).abs() / expected.abs();
    assert!(
        rel <= 1e-9,
        "{what}: {actual} vs {expected} (relative {rel:e})"
    );
}

pub fn moons_dataset() -> Dataset {
    let mut data = Dataset::new(2, 1);
    for s in moons::data() {
        data.push(&s.x, &[s.label]);
    }
    data
}

pub fn moons_network() -> Mlp {
    Mlp::new(
        &moons::LAYERS,
        &[Activation::Tanh, Activation::Tanh, Activation::Identity],
        Init::Uniform,
        42,
    )
    .unwrap()
}

#[test]
fn nn_trains_moons_to_the_w2_reference() {
    let data = moons_dataset();
    let mut mlp = moons_network();
    let report = Trainer::new(Loss::MeanSquaredError, Sgd::new(moons::LEARNING_RATE))
        .epochs(moons::EPOCHS - 1) // epochs 0..=98 with their updates
        .quiet()
        .train(&mut mlp, &data)
        .unwrap();
    assert_rel(report.losses[0], moons::REFERENCE_L0, "L0");
    // Epoch 99's loss: the forward pass of the 100th epoch, before its update.
    let last = Trainer::new(Loss::MeanSquaredError, Sgd::new(moons::LEARNING_RATE))
        .quiet()
        .train(&mut mlp.clone(), &data)
        .unwrap();
    assert_rel(last.losses[0], moons::REFERENCE_L99, "L99");
    let correct = data
        .iter()
        .filter(|(x, t)| mlp.predict(x)[0].signum() == t[0])
        .count();
    assert_eq!(correct, moons::REFERENCE_CORRECT);
}

#[test]
fn nn_moons_parameters_track_the_workloads_fused_version_exactly() {
    // The same forward values as workloads::moons' fused spelling (bit for bit);
    // the gradients differ only in rounding: nn takes the mean as a sum of per-sample
    // losses times 1/n, the workload as one loss node with partials 2r/n. After 10
    // epochs every parameter agrees to 1e-12 relative (rounding, ~1e-15 a step,
    // amplified a little by training; a wrong gradient would be off by far more).
    let data = moons_dataset();
    let mut mlp = moons_network();
    Trainer::new(Loss::MeanSquaredError, Sgd::new(moons::LEARNING_RATE))
        .epochs(10)
        .quiet()
        .train(&mut mlp, &data)
        .unwrap();
    let mut p = moons::initial_parameters();
    let (mut tape, mut grads) = (chainrule::Tape::new(), Vec::new());
    let samples = moons::data();
    for _ in 0..10 {
        moons::epoch_taped(
            &mut tape,
            &mut p,
            &samples,
            &mut grads,
            workloads::Spelling::Fused,
        );
    }
    for (k, (a, b)) in mlp.parameters().iter().zip(&p).enumerate() {
        assert!(
            (a - b).abs() <= 1e-12 * b.abs().max(1e-3),
            "parameter {k}: nn {a} vs workload {b}"
        );
    }
}
