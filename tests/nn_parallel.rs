//! Data parallel gradients (feature `parallel`) equal the serial gradient.
//!
//! Tolerance: 1e-12 relative, component by component. The pieces' gradients are
//! summed in another order than the serial sweep's, so they differ by rounding:
//! about n·ε relative for n = 100 samples, ~1e-14, more for a component whose
//! terms cancel. Measured on moons: the worst component differs by 7e-14
//! relative (9e-16 of the largest component).
#![cfg(feature = "parallel")]

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::nn::parallel::{batch_loss_and_gradient_parallel, batch_loss_and_gradient_pieces};
use chainrule::nn::{batch_loss_and_gradient, Activation, Dataset, Init, Loss, Mlp, Sgd, Trainer};
use chainrule::Tape;
use workloads::moons;

fn moons_setup() -> (Mlp, Dataset) {
    let mut data = Dataset::new(2, 1);
    for s in moons::data() {
        data.push(&s.x, &[s.label]);
    }
    let mlp = Mlp::new(
        &moons::LAYERS,
        &[Activation::Tanh, Activation::Tanh, Activation::Identity],
        Init::Uniform,
        42,
    )
    .unwrap();
    (mlp, data)
}

fn assert_same_gradient(parallel: &[f64], serial: &[f64], what: &str) {
    for (i, (p, s)) in parallel.iter().zip(serial).enumerate() {
        assert!(
            (p - s).abs() <= 1e-12 * s.abs(),
            "{what}, component {i}: {p} vs {s}"
        );
    }
}

#[test]
fn the_parallel_gradient_equals_the_serial_one_for_any_number_of_pieces() {
    let (mlp, data) = moons_setup();
    let batch: Vec<usize> = (0..data.len()).collect();
    for loss in [
        Loss::MeanSquaredError,
        Loss::Hinge,
        Loss::BinaryCrossEntropyWithLogits,
    ] {
        let mut serial = Vec::new();
        let l_serial = batch_loss_and_gradient(
            &mlp,
            &data,
            &batch,
            100.0,
            loss,
            &mut Tape::new(),
            &mut serial,
        );
        for pieces in [1, 2, 3, 7, 100, 1000] {
            let mut parallel = Vec::new();
            let l =
                batch_loss_and_gradient_pieces(&mlp, &data, &batch, loss, pieces, &mut parallel);
            assert!(
                (l - l_serial).abs() <= 1e-12 * l_serial,
                "{loss:?}, {pieces} pieces: {l} vs {l_serial}"
            );
            assert_same_gradient(&parallel, &serial, &format!("{loss:?}, {pieces} pieces"));
        }
        let mut parallel = Vec::new();
        batch_loss_and_gradient_parallel(&mlp, &data, &batch, loss, &mut parallel);
        assert_same_gradient(
            &parallel,
            &serial,
            &format!("{loss:?}, one piece per thread"),
        );
    }
}

#[test]
fn one_piece_is_the_serial_computation_bit_for_bit() {
    let (mlp, data) = moons_setup();
    let batch: Vec<usize> = (0..data.len()).collect();
    let (mut serial, mut one) = (Vec::new(), Vec::new());
    let a = batch_loss_and_gradient(
        &mlp,
        &data,
        &batch,
        100.0,
        Loss::MeanSquaredError,
        &mut Tape::new(),
        &mut serial,
    );
    let b =
        batch_loss_and_gradient_pieces(&mlp, &data, &batch, Loss::MeanSquaredError, 1, &mut one);
    assert_eq!((a, &serial), (b, &one));
}

#[test]
fn parallel_training_reaches_the_w2_reference() {
    let (mut mlp, data) = moons_setup();
    let report = Trainer::new(Loss::MeanSquaredError, Sgd::new(moons::LEARNING_RATE))
        .epochs(moons::EPOCHS)
        .parallel()
        .quiet()
        .train(&mut mlp, &data)
        .unwrap();
    for (got, want) in [
        (report.losses[0], moons::REFERENCE_L0),
        (report.losses[99], moons::REFERENCE_L99),
    ] {
        assert!((got - want).abs() <= 1e-9 * want, "{got} vs {want}");
    }
}
