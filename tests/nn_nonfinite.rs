//! `Trainer` stops at the first non-finite loss, gradient or update, names the
//! epoch, the sample and the node, and leaves the parameters (and the
//! optimizer's state) exactly as they were before the step that failed.
//!
//! Every comparison of parameters here is bit for bit (`==` on `f64`, or on
//! `to_bits` where NaN could hide): the failing step must not touch them at all.

use chainrule::nn::{
    batch_loss_and_gradient, Activation, Adam, Dataset, Error, Loss, Mlp, NonFiniteQuantity,
    Optimizer, Sgd, Trainer,
};
use chainrule::Tape;

fn bits(p: &[f64]) -> Vec<u64> {
    p.iter().map(|x| x.to_bits()).collect()
}

fn hidden_network() -> Mlp {
    Mlp::builder(2)
        .layer(3, Activation::Sigmoid)
        .layer(1, Activation::Identity)
        .seed(7)
        .build()
        .unwrap()
}

/// Six samples of y = x0 − x1; sample `corrupt` has a NaN input.
fn data_with_nan_at(corrupt: usize) -> Dataset {
    let mut data = Dataset::new(2, 1);
    for k in 0..6 {
        let x0 = if k == corrupt {
            f64::NAN
        } else {
            k as f64 / 6.0
        };
        let x1 = 1.0 - k as f64 / 6.0;
        data.push(&[x0, x1], &[x0 - x1]);
    }
    data
}

/// A linear neuron y = w·x + b with the given (w, b), and a dataset of the
/// given (x, target) samples: the set-up of the overflow tests below.
fn linear_neuron(parameters: [f64; 2], samples: &[(f64, f64)]) -> (Mlp, Dataset) {
    let mut mlp = Mlp::builder(1)
        .layer(1, Activation::Identity)
        .build()
        .unwrap();
    mlp.set_parameters(&parameters).unwrap();
    let mut data = Dataset::new(1, 1);
    for &(x, t) in samples {
        data.push(&[x], &[t]);
    }
    (mlp, data)
}

fn non_finite(err: &Error) -> (usize, Option<usize>, NonFiniteQuantity) {
    match err {
        Error::NonFinite {
            epoch,
            sample,
            quantity,
            ..
        } => (*epoch, *sample, *quantity),
        other => panic!("expected Error::NonFinite, got {other:?}"),
    }
}

#[test]
fn a_nan_sample_stops_training_before_any_update_and_names_epoch_sample_and_node() {
    let mut mlp = hidden_network();
    let initial = mlp.clone();
    let mut trainer = Trainer::new(Loss::MeanSquaredError, Adam::new(0.01))
        .epochs(10)
        .quiet();
    let err = trainer.train(&mut mlp, &data_with_nan_at(2)).unwrap_err();

    // Full batch: the very first step fails, nothing is updated.
    assert_eq!(non_finite(&err), (0, Some(2), NonFiniteQuantity::Loss));
    assert_eq!(bits(mlp.parameters()), bits(initial.parameters()));
    assert_eq!(trainer.optimizer().steps(), 0, "Adam took no step");

    // The first non-finite node is the first hidden neuron of sample 2: its
    // weighted sum w0·NaN + … is NaN.
    let Error::NonFinite { anomaly, .. } = &err else {
        unreachable!()
    };
    let anomaly = anomaly.as_ref().expect("a NaN value is an anomaly");
    // The cause, in the data itself: input 0 of sample 2.
    let Error::NonFinite { data, .. } = &err else {
        unreachable!()
    };
    assert!(
        matches!(data, Some(chainrule::nn::BadData::Input { index: 0, value }) if value.is_nan())
    );
    assert_eq!(anomaly.label.as_deref(), Some("layer1.neuron0.out"));
    assert_eq!(anomaly.op, chainrule::Op::SigmoidNeuronConst);
    assert!(anomaly.value.is_nan());

    let message = err.to_string();
    for part in [
        "epoch 0",
        "the loss of sample 2 is not finite: its input 0 is NaN",
        "\"layer1.neuron0.out\" = sigmoid_neuron_const(",
        "= NaN",
        "the parameters are left as they were before this step",
    ] {
        assert!(message.contains(part), "{part:?} missing from: {message}");
    }
}

#[test]
fn a_nan_sample_in_a_later_batch_leaves_the_earlier_batches_update() {
    // Batches of 2 in order: [0, 1] steps, [2, 3] holds the NaN at 3.
    let data = data_with_nan_at(3);
    let mut mlp = hidden_network();
    let mut trainer = Trainer::new(Loss::MeanSquaredError, Adam::new(0.01))
        .batch_size(2)
        .epochs(3)
        .quiet();
    let err = trainer.train(&mut mlp, &data).unwrap_err();
    assert_eq!(non_finite(&err), (0, Some(3), NonFiniteQuantity::Loss));
    assert_eq!(trainer.optimizer().steps(), 1, "only batch [0, 1] stepped");

    // The parameters before the failing step: the initial ones after one Adam
    // step on batch [0, 1].
    let mut expected = hidden_network();
    let mut gradient = Vec::new();
    let _ = batch_loss_and_gradient(
        &expected,
        &data,
        &[0, 1],
        2.0,
        Loss::MeanSquaredError,
        &mut Tape::new(),
        &mut gradient,
    );
    Adam::new(0.01).step(expected.parameters_mut(), &gradient);
    assert_eq!(bits(mlp.parameters()), bits(expected.parameters()));
    assert_ne!(mlp.parameters(), hidden_network().parameters());
}

/// y = 3x − 1 on x = 1, 2, 3, a linear neuron: plain gradient descent with a
/// learning rate of 1e6 multiplies the error by about 10⁷ per epoch, until the
/// loss overflows to infinity.
fn diverging(parallel: bool) -> (Error, Mlp, Mlp, usize) {
    let mut data = Dataset::new(1, 1);
    for x in [1.0, 2.0, 3.0] {
        data.push(&[x], &[3.0 * x - 1.0]);
    }
    let fresh = || {
        Mlp::builder(1)
            .layer(1, Activation::Identity)
            .seed(1)
            .build()
            .unwrap()
    };
    let trainer = |epochs| {
        let t = Trainer::new(Loss::MeanSquaredError, Sgd::new(1e6))
            .epochs(epochs)
            .quiet();
        #[cfg(feature = "parallel")]
        let t = if parallel { t.parallel() } else { t };
        #[cfg(not(feature = "parallel"))]
        let _ = parallel;
        t
    };
    let mut mlp = fresh();
    let err = trainer(1000).train(&mut mlp, &data).unwrap_err();
    let (epoch, sample, quantity) = non_finite(&err);
    assert_eq!(quantity, NonFiniteQuantity::Loss);
    assert!(epoch > 1, "it diverges over several epochs, not at once");

    // The parameters before the failing step are those after `epoch` good epochs.
    let mut before = fresh();
    let report = trainer(epoch).train(&mut before, &data).unwrap();
    assert_eq!(report.epochs(), epoch);
    assert!(before.parameters().iter().all(|p| p.is_finite()));

    // The named sample is the first, in order, whose own loss is not finite.
    let first_bad = data
        .iter()
        .position(|(x, t)| {
            !Loss::MeanSquaredError
                .evaluate(&before.predict(x), t)
                .is_finite()
        })
        .unwrap();
    assert_eq!(sample, Some(first_bad));
    (err, mlp, before, epoch)
}

#[test]
fn a_diverging_learning_rate_stops_at_the_first_infinite_loss_with_the_parameters_before_it() {
    let (err, mlp, before, epoch) = diverging(false);
    assert_eq!(bits(mlp.parameters()), bits(before.parameters()));
    let message = err.to_string();
    assert!(message.contains(&format!("epoch {epoch} ")), "{message}");
    assert!(message.contains("sample 0"), "{message}");
    // The loss node is labelled and its op named; its value overflowed.
    assert!(
        message.contains("\"loss\" = mean_squared_error(layer1.neuron0.net) = inf"),
        "{message}"
    );
}

/// The output o = √f64::MAX (bias o, weight 0, input 0): each sample's loss
/// o² = 1.7976931348623155e308 is finite, one ulp below f64::MAX, and so is
/// their mean, but 17 quotients o²/17 summed round past f64::MAX (17 is the
/// smallest count that does): the one batch whose finite losses still make a
/// non-finite batch loss.
fn a_batch_whose_mean_rounds_past_the_largest_f64() -> (Mlp, Dataset) {
    let o = f64::MAX.sqrt();
    let (mlp, data) = linear_neuron([0.0, o], &[(0.0, 0.0); 17]);
    assert!((o * o).is_finite());
    assert!((0..17).map(|_| o * o / 17.0).sum::<f64>().is_infinite());
    (mlp, data)
}

#[test]
fn a_batch_whose_mean_of_finite_losses_overflows_names_no_sample() {
    let (mut mlp, data) = a_batch_whose_mean_rounds_past_the_largest_f64();
    let before = mlp.clone();
    let err = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
        .quiet()
        .train(&mut mlp, &data)
        .unwrap_err();
    assert_eq!(non_finite(&err), (0, None, NonFiniteQuantity::Loss));
    assert!(err.to_string().contains("though each sample's is"), "{err}");
    assert_eq!(mlp, before);
}

#[test]
fn a_batch_whose_mean_of_finite_losses_overflows_is_not_blamed_on_a_product_of_partials() {
    // The batch's loss node (their mean) is infinite: a value, not a product
    // of finite partials. The message said "every value and local partial is
    // finite, so a product of partials overflowed", which was false.
    let (mut mlp, data) = a_batch_whose_mean_rounds_past_the_largest_f64();
    let err = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
        .quiet()
        .train(&mut mlp, &data)
        .unwrap_err();
    let message = err.to_string();
    assert!(!message.contains("every value"), "{message}");
    assert!(!message.contains("product of partials"), "{message}");
    assert!(
        message.contains("mean over the batch") && message.contains("rounded past"),
        "{message}"
    );
}

#[test]
fn an_update_that_overflows_a_parameter_is_undone() {
    // ∂/∂w of (w·1 + b − 10)² at w = b = 0 is −20: a finite gradient, but
    // w − 1e307·(−20) overflows to +inf.
    let (mut mlp, data) = linear_neuron([0.0, 0.0], &[(1.0, 10.0)]);
    let err = Trainer::new(Loss::MeanSquaredError, Sgd::new(1e307))
        .quiet()
        .train(&mut mlp, &data)
        .unwrap_err();
    assert_eq!(non_finite(&err), (0, None, NonFiniteQuantity::Update));
    assert!(err.to_string().contains("learning rate too large"), "{err}");
    assert_eq!(bits(mlp.parameters()), bits(&[0.0, 0.0]));
}

#[test]
fn an_update_that_overflows_a_parameter_leaves_the_optimizer_as_it_was() {
    // Adam's step is about the learning rate whatever the gradient's size: from
    // w = 1e308 (input 1e-300, so the output stays 1e8 and the loss finite) a
    // step of 1e308 upwards (target 1e9) overflows w. Before the fix Adam had
    // counted that step (steps() = 1) and kept its moments.
    let (mut mlp, data) = linear_neuron([1e308, 0.0], &[(1e-300, 1e9)]);
    let adam = Adam::new(1e308);
    let mut trainer = Trainer::new(Loss::MeanSquaredError, adam.clone()).quiet();
    let err = trainer.train(&mut mlp, &data).unwrap_err();
    assert_eq!(non_finite(&err), (0, None, NonFiniteQuantity::Update));
    assert_eq!(bits(mlp.parameters()), bits(&[1e308, 0.0]));
    assert_eq!(trainer.optimizer().steps(), 0);
    assert_eq!(format!("{:?}", trainer.optimizer()), format!("{adam:?}"));

    // After good steps, the state is that of the last good step: SGD with
    // momentum, whose velocity the overflowing step would have changed.
    let (mut mlp, data) = linear_neuron([0.0, 0.0], &[(1.0, 10.0)]);
    let mut sgd = Sgd::new(1e307).momentum(0.5);
    let mut trainer = Trainer::new(Loss::MeanSquaredError, &mut sgd).quiet();
    let err = trainer.train(&mut mlp, &data).unwrap_err();
    assert_eq!(non_finite(&err), (0, None, NonFiniteQuantity::Update));
    assert_eq!(bits(mlp.parameters()), bits(&[0.0, 0.0]));
    assert_eq!(
        format!("{sgd:?}"),
        format!("{:?}", Sgd::new(1e307).momentum(0.5))
    );
}

#[test]
fn an_update_that_overflows_the_optimizers_state_is_undone() {
    // ½(w·x)² at w = 0.5, x = 1e78: the loss (1.25e155) and ∂/∂w = w·x² =
    // 5e155 are finite, but (1 − β₂)·g·g overflows Adam's second moment. Adam
    // then divides by √∞: w did not move, that step or any later one, and
    // training went on with Ok and a flat loss.
    let (mut mlp, data) = linear_neuron([0.5, 0.0], &[(1e78, 0.0)]);
    let adam = Adam::new(0.1);
    let mut trainer = Trainer::new(Loss::HalfSquaredError, adam.clone())
        .quiet()
        .epochs(5);
    let err = trainer.train(&mut mlp, &data).unwrap_err();
    assert_eq!(non_finite(&err), (0, None, NonFiniteQuantity::Update));
    assert!(err.to_string().contains("its own state"), "{err}");
    assert_eq!(bits(mlp.parameters()), bits(&[0.5, 0.0]));
    assert_eq!(trainer.optimizer().steps(), 0);
    assert_eq!(format!("{:?}", trainer.optimizer()), format!("{adam:?}"));
}

#[cfg(feature = "parallel")]
mod parallel {
    use super::*;

    #[test]
    fn the_parallel_path_stops_at_a_nan_sample_the_same_way() {
        let mut mlp = hidden_network();
        let initial = mlp.clone();
        let mut trainer = Trainer::new(Loss::MeanSquaredError, Adam::new(0.01))
            .epochs(10)
            .parallel()
            .quiet();
        let err = trainer.train(&mut mlp, &data_with_nan_at(4)).unwrap_err();
        assert_eq!(non_finite(&err), (0, Some(4), NonFiniteQuantity::Loss));
        assert_eq!(bits(mlp.parameters()), bits(initial.parameters()));
        assert_eq!(trainer.optimizer().steps(), 0);
        assert!(err.to_string().contains("sample 4"), "{err}");
    }

    #[test]
    fn the_parallel_path_stops_a_diverging_run_with_the_parameters_before_it() {
        let (_, mlp, before, _) = diverging(true);
        assert_eq!(bits(mlp.parameters()), bits(before.parameters()));
    }
}

/// `argmax` of outputs with a NaN gives the first NaN's index wherever it
/// stands, as NumPy's and PyTorch's argmax do. Before, a NaN first was taken as
/// the largest value (no number compares greater than it) while a NaN after
/// the first value was skipped (it compares greater than none).
#[test]
fn argmax_gives_the_first_nan_wherever_it_stands() {
    use chainrule::nn::datasets::argmax;
    assert_eq!(argmax(&[f64::NAN, 1.0, 2.0]), 0);
    assert_eq!(argmax(&[1.0, f64::NAN, 2.0]), 1);
    assert_eq!(argmax(&[3.0, 1.0, 2.0, f64::NAN, f64::NAN]), 3);
    // Without a NaN: the largest, the first on a tie; infinities are numbers.
    assert_eq!(argmax(&[1.0, f64::INFINITY, f64::INFINITY]), 1);
    assert_eq!(argmax(&[f64::NEG_INFINITY, -1.0, -1.0]), 1);
}
