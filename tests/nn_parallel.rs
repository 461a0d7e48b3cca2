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
    // Moons' labels are ±1; binary cross-entropy takes them as 0/1.
    let mut zero_one = Dataset::new(2, 1);
    for (x, t) in data.iter() {
        zero_one.push(x, &[(t[0] + 1.0) / 2.0]);
    }
    for (loss, data) in [
        (Loss::MeanSquaredError, &data),
        (Loss::Hinge, &data),
        (Loss::BinaryCrossEntropyWithLogits, &zero_one),
    ] {
        let mut serial = Vec::new();
        let l_serial = batch_loss_and_gradient(
            &mlp,
            data,
            &batch,
            100.0,
            loss,
            &mut Tape::new(),
            &mut serial,
        );
        for pieces in [1, 2, 3, 7, 100, 1000] {
            let mut parallel = Vec::new();
            let l = batch_loss_and_gradient_pieces(&mlp, data, &batch, loss, pieces, &mut parallel);
            assert!(
                (l - l_serial).abs() <= 1e-12 * l_serial,
                "{loss:?}, {pieces} pieces: {l} vs {l_serial}"
            );
            assert_same_gradient(&parallel, &serial, &format!("{loss:?}, {pieces} pieces"));
        }
        let mut parallel = Vec::new();
        batch_loss_and_gradient_parallel(&mlp, data, &batch, loss, &mut parallel);
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

/// The README's example of the tolerance's limit: the targets 0.1, 0.2 and
/// −0.3 at an output of 0 make residuals o − t of −0.1, −0.2 and 0.3, which
/// cancel, so the bias gradient is rounding alone, −1.4e-17 serially
/// ((−0.2 − 0.4) + 0.6 over 3) and −2.8e-17 in pieces: 100% apart relative to
/// itself, 1e-16 relative to its terms. Exact values: every step is an f64
/// operation of known order.
#[test]
fn a_component_whose_terms_cancel_differs_by_more_than_itself() {
    let mut mlp = Mlp::builder(1)
        .layer(1, Activation::Identity)
        .build()
        .unwrap();
    mlp.set_parameters(&[0.0, 0.0]).unwrap();
    let mut data = Dataset::new(1, 1);
    for t in [0.1, 0.2, -0.3] {
        data.push(&[1.0], &[t]);
    }
    let mut serial = Vec::new();
    batch_loss_and_gradient(
        &mlp,
        &data,
        &[0, 1, 2],
        3.0,
        Loss::MeanSquaredError,
        &mut Tape::new(),
        &mut serial,
    );
    let mut pieces = Vec::new();
    batch_loss_and_gradient_pieces(
        &mlp,
        &data,
        &[0, 1, 2],
        Loss::MeanSquaredError,
        3,
        &mut pieces,
    );
    assert_eq!(serial[1], -1.3877787807814457e-17);
    assert_eq!(pieces[1], -2.7755575615628914e-17);
}

/// `Trainer::parallel` cuts one piece per rayon thread: on one thread it is
/// the serial run bit for bit, on three it repeats bit for bit, and it
/// differs from the serial run in the last bits (here within 1e-14 after 50
/// Adam epochs: measured 3.3e-16 at 2, 3, 4 and 200 threads).
#[test]
fn parallel_training_repeats_on_the_same_number_of_threads() {
    let mut data = Dataset::new(2, 1);
    for k in 0..97 {
        let x = k as f64 / 97.0;
        data.push(&[x, (7.0 * x).sin()], &[(13.0 * x).cos()]);
    }
    let base = Mlp::builder(2)
        .layer(8, Activation::Tanh)
        .layer(1, Activation::Identity)
        .seed(3)
        .build()
        .unwrap();
    let train = |threads: Option<usize>| {
        let mut mlp = base.clone();
        let trainer =
            chainrule::nn::Trainer::new(Loss::MeanSquaredError, chainrule::nn::Adam::new(0.01))
                .epochs(50)
                .quiet();
        let report = match threads {
            None => trainer.clone().train(&mut mlp, &data),
            Some(n) => rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
                .install(|| trainer.clone().parallel().train(&mut mlp, &data)),
        }
        .unwrap();
        (report.losses, mlp.parameters().to_vec())
    };
    let serial = train(None);
    assert_eq!(train(Some(1)), serial);
    let three = train(Some(3));
    assert_eq!(train(Some(3)), three);
    for (p, s) in three.1.iter().zip(&serial.1) {
        assert!((p - s).abs() <= 1e-14, "{p} vs {s}");
    }
}
