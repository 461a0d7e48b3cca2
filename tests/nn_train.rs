//! The training helper: mini-batches, loss history, early stop, shuffling,
//! and clear errors on data that does not fit the network.

use chainrule::nn::datasets::xor;
use chainrule::nn::{
    batch_loss_and_gradient, Activation, Adam, Dataset, Error, Init, Loss, Mlp, Optimizer, Sgd,
    Trainer,
};
use chainrule::Tape;

fn small_network() -> Mlp {
    Mlp::builder(2)
        .layer(3, Activation::Tanh)
        .layer(1, Activation::Identity)
        .init(Init::Xavier)
        .seed(4)
        .build()
        .unwrap()
}

#[test]
fn mini_batches_step_once_per_batch_and_record_the_sample_weighted_mean() {
    let data = xor(); // 4 samples, batches of 3 and 1
    let mut trained = small_network();
    let report = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
        .batch_size(3)
        .quiet()
        .train(&mut trained, &data)
        .unwrap();

    // The same epoch by hand: batch [0, 1, 2], step, batch [3], step.
    let mut by_hand = small_network();
    let (mut tape, mut grad, mut sgd) = (Tape::new(), Vec::new(), Sgd::new(0.1));
    let first = batch_loss_and_gradient(
        &by_hand,
        &data,
        &[0, 1, 2],
        3.0,
        Loss::MeanSquaredError,
        &mut tape,
        &mut grad,
    );
    sgd.step(by_hand.parameters_mut(), &grad);
    let second = batch_loss_and_gradient(
        &by_hand,
        &data,
        &[3],
        1.0,
        Loss::MeanSquaredError,
        &mut tape,
        &mut grad,
    );
    sgd.step(by_hand.parameters_mut(), &grad);

    assert_eq!(trained.parameters(), by_hand.parameters());
    assert_eq!(report.losses, vec![(first * 3.0 + second * 1.0) / 4.0]);
}

#[test]
fn training_stops_early_at_the_target_loss() {
    let mut mlp = small_network();
    let report = Trainer::new(Loss::BinaryCrossEntropyWithLogits, Adam::new(0.05))
        .epochs(10_000)
        .target_loss(0.02)
        .quiet()
        .train(&mut mlp, &xor())
        .unwrap();
    assert!(report.stopped_early);
    assert!(report.epochs() < 10_000);
    assert!(report.final_loss().unwrap() <= 0.02);
    assert!(report.losses[..report.epochs() - 1]
        .iter()
        .all(|&l| l > 0.02));
}

#[test]
fn without_a_target_every_epoch_runs_and_the_history_has_one_loss_each() {
    let mut mlp = small_network();
    let report = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
        .epochs(25)
        .quiet()
        .train(&mut mlp, &xor())
        .unwrap();
    assert_eq!(report.epochs(), 25);
    assert!(!report.stopped_early);
    assert!(report.losses[24] < report.losses[0]);
}

#[test]
fn shuffling_is_deterministic_from_its_seed_and_changes_the_batches() {
    let run = |shuffle: Option<u64>| {
        let mut mlp = small_network();
        let mut trainer = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
            .epochs(3)
            .batch_size(1)
            .quiet();
        if let Some(seed) = shuffle {
            trainer = trainer.shuffle(seed);
        }
        trainer.train(&mut mlp, &xor()).unwrap();
        mlp.parameters().to_vec()
    };
    assert_eq!(run(Some(7)), run(Some(7)));
    assert_ne!(run(Some(7)), run(None));
    assert_ne!(run(Some(7)), run(Some(8)));
}

#[test]
fn xor_is_learned_to_a_correct_truth_table() {
    let mut mlp = small_network();
    Trainer::new(Loss::BinaryCrossEntropyWithLogits, Adam::new(0.05))
        .epochs(3000)
        .target_loss(0.01)
        .quiet()
        .train(&mut mlp, &xor())
        .unwrap();
    for (x, t) in xor().iter() {
        assert_eq!(mlp.predict(x)[0] > 0.0, t[0] == 1.0, "{x:?}");
    }
}

#[test]
fn data_that_does_not_fit_the_network_is_a_clear_error() {
    let mut mlp = small_network();
    let mut trainer = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1)).quiet();

    let wide = Dataset::new(3, 1);
    let err = trainer.train(&mut mlp, &wide).unwrap_err();
    assert!(matches!(
        err,
        Error::WidthMismatch {
            what: "inputs",
            expected: 2,
            found: 3
        }
    ));
    assert_eq!(
        err.to_string(),
        "the network takes 2 inputs per sample, but the data has 3"
    );

    let err = trainer.train(&mut mlp, &Dataset::new(2, 2)).unwrap_err();
    assert!(matches!(
        err,
        Error::WidthMismatch {
            what: "targets",
            expected: 1,
            found: 2
        }
    ));
    // A network has outputs, one target each ("takes 1 targets" read before).
    assert_eq!(
        err.to_string(),
        "the network has 1 output, so it needs 1 target per sample, but the data has 2"
    );

    let err = trainer.train(&mut mlp, &Dataset::new(2, 1)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid training configuration: the dataset is empty"
    );

    let mut zero = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
        .batch_size(0)
        .quiet();
    let err = zero.train(&mut mlp, &xor()).unwrap_err();
    assert!(err.to_string().contains("a batch size of 0"));

    // A NaN target loss turned early stopping off in silence: no loss is at
    // or below NaN. Refused before any step, the network unchanged.
    let before = mlp.clone();
    let mut nan = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
        .target_loss(f64::NAN)
        .quiet();
    let err = nan.train(&mut mlp, &xor()).unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)), "{err:?}");
    assert!(err.to_string().contains("a target loss of NaN"), "{err}");
    assert_eq!(mlp, before);
}

#[test]
#[should_panic(
    expected = "chainrule: Mlp::predict was given 3 inputs, but the network takes 2 per sample"
)]
fn predicting_from_the_wrong_number_of_inputs_panics_with_the_counts() {
    let _ = small_network().predict(&[1.0, 2.0, 3.0]);
}

/// A dataset whose samples have no inputs counted none of them: `len()` was
/// the number of inputs stored over the input width, 0 for width 0, so
/// `Dataset::new(0, 1)` took three pushes and said it was empty.
#[test]
fn a_dataset_of_samples_without_inputs_counts_every_sample_pushed() {
    let mut data = Dataset::new(0, 1);
    for t in [1.0, 2.0, 3.0] {
        data.push(&[], &[t]);
    }
    assert_eq!(data.len(), 3);
    assert!(!data.is_empty());
    assert_eq!(data.sample(2), (&[][..], &[3.0][..]));
    let targets: Vec<f64> = data.iter().map(|(_, t)| t[0]).collect();
    assert_eq!(targets, vec![1.0, 2.0, 3.0]);
    let mut neither = Dataset::new(0, 0);
    neither.push(&[], &[]);
    assert_eq!(neither.len(), 1);
}

/// Mini-batches of one sample whose losses are 1e308 each: every batch's loss
/// is finite and training goes on, but the epoch's loss was recorded as
/// (1e308·1 + 1e308·1)/2 = ∞ (the weighted sum overflowed), where their mean
/// is 1e308. It is exact here: each term is 1e308 · (1/2), a power of two.
#[test]
fn an_epoch_of_finite_batch_losses_records_their_finite_mean_even_where_their_sum_overflows() {
    let mut mlp = Mlp::builder(1)
        .layer(1, Activation::Identity)
        .build()
        .unwrap();
    mlp.set_parameters(&[0.0, 0.0]).unwrap();
    let mut data = Dataset::new(1, 1);
    data.push(&[0.0], &[1e154]); // loss (0 − 1e154)² = 1e308
    data.push(&[0.0], &[1e154]);
    let report = Trainer::new(Loss::MeanSquaredError, Sgd::new(1e-300))
        .batch_size(1)
        .quiet()
        .train(&mut mlp, &data)
        .unwrap();
    let first = 1e154_f64 * 1e154;
    assert!(first.is_finite());
    assert_eq!(report.losses.len(), 1);
    // The second batch's loss is a hair below the first (the bias moved by
    // 2e-146): their mean lies between them.
    let mean = report.losses[0];
    assert!(
        mean.is_finite() && mean <= first && mean >= 0.999 * first,
        "{mean}"
    );
}

/// A trainer whose optimizer has stepped one network, given another of
/// another size: `train` panicked inside the library ("the optimizer was
/// stepping 9 parameters and is now given 13"), where its docs list only
/// errors. It is `Error::InvalidConfig` now, naming both counts, and changes
/// nothing; plain SGD, which keeps no state, trains both.
#[test]
fn a_trainer_whose_optimizer_stepped_a_network_of_another_size_is_a_clear_error() {
    let data = xor();
    let mut small = Mlp::builder(2)
        .layer(2, Activation::Tanh)
        .layer(1, Activation::Identity)
        .build()
        .unwrap();
    let mut other = small_network(); // 13 parameters, `small` has 9
    let mut adam = Trainer::new(Loss::MeanSquaredError, Adam::new(0.01)).quiet();
    adam.train(&mut small, &data).unwrap();
    let steps = adam.optimizer().steps();
    let before = other.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        adam.train(&mut other, &data)
    }));
    let err = result
        .expect("train returns an error, not a panic")
        .unwrap_err();
    assert!(matches!(err, Error::InvalidConfig(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("9 parameters") && message.contains("13"),
        "{message}"
    );
    assert_eq!(other, before);
    assert_eq!(adam.optimizer().steps(), steps);
    // The same network again is fine.
    adam.train(&mut small, &data).unwrap();

    let mut momentum = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1).momentum(0.9)).quiet();
    momentum.train(&mut small, &data).unwrap();
    assert!(matches!(
        momentum.train(&mut other, &data),
        Err(Error::InvalidConfig(_))
    ));

    let mut plain = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1)).quiet();
    plain.train(&mut small, &data).unwrap();
    plain.train(&mut other, &data).unwrap();
}

#[test]
fn hinge_on_zero_one_labels_is_an_error_naming_the_sample_before_any_step() {
    // xor's labels are 0/1. Hinge trained on them without a word: a 0 label
    // adds max(0, 1 − 0·o) = 1 with gradient 0, so only the 1 samples' scores
    // were pushed (up, past 1) and nothing pushed the 0 samples' down.
    let data = xor();
    let mut mlp = small_network();
    let before = mlp.clone();
    let mut trainer = Trainer::new(Loss::Hinge, Adam::new(0.05)).epochs(3).quiet();
    let err = trainer.train(&mut mlp, &data).unwrap_err();
    match &err {
        Error::TargetOutOfDomain { sample, target } => {
            assert_eq!(*sample, 0); // (0, 0) → 0
            assert_eq!((target.index, target.value), (Some(0), 0.0));
            assert_eq!(target.loss, Loss::Hinge);
        }
        other => panic!("expected Error::TargetOutOfDomain, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "sample 0 (counting from 0): its target 0 is 0, but hinge loss needs labels -1 or 1 \
         (a 0/1 label t is 2t - 1 for hinge, or use binary cross-entropy)"
    );
    assert_eq!(mlp, before);
    assert_eq!(trainer.optimizer().steps(), 0);

    // The same data as ±1 labels trains.
    let mut signed = Dataset::new(2, 1);
    for (x, t) in data.iter() {
        signed.push(x, &[2.0 * t[0] - 1.0]);
    }
    Trainer::new(Loss::Hinge, Adam::new(0.05))
        .quiet()
        .train(&mut mlp, &signed)
        .unwrap();
}

#[test]
fn cross_entropy_targets_outside_their_domain_are_errors_naming_sample_and_value() {
    // Binary cross-entropy on a −1 label: softplus(z) + z is unbounded below.
    let mut data = Dataset::new(2, 1);
    data.push(&[0.0, 0.0], &[1.0]);
    data.push(&[0.0, 1.0], &[0.5]);
    data.push(&[1.0, 0.0], &[-1.0]);
    let mut mlp = small_network();
    let before = mlp.clone();
    let err = Trainer::new(Loss::BinaryCrossEntropyWithLogits, Sgd::new(0.1))
        .quiet()
        .train(&mut mlp, &data)
        .unwrap_err();
    assert!(
        matches!(err, Error::TargetOutOfDomain { sample: 2, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("sample 2 (counting from 0): its target 0 is -1, but binary cross-entropy needs targets in [0, 1]"),
        "{err}"
    );
    // A NaN target is out of the domain too (reported before training, not
    // as a non-finite loss).
    let mut nan = Dataset::new(2, 1);
    nan.push(&[0.0, 0.0], &[f64::NAN]);
    assert!(matches!(
        Trainer::new(Loss::BinaryCrossEntropyWithLogits, Sgd::new(0.1))
            .quiet()
            .train(&mut mlp, &nan),
        Err(Error::TargetOutOfDomain { sample: 0, .. })
    ));
    assert_eq!(mlp, before);

    // Softmax cross-entropy on a multi-hot target: not a probability vector.
    let mut wide = Mlp::builder(2)
        .layer(3, Activation::Identity)
        .build()
        .unwrap();
    let mut multi = Dataset::new(2, 3);
    multi.push(&[0.0, 0.0], &[1.0, 0.0, 0.0]);
    multi.push(&[0.0, 1.0], &[1.0, 1.0, 0.0]);
    let err = Trainer::new(Loss::SoftmaxCrossEntropy, Sgd::new(0.1))
        .quiet()
        .train(&mut wide, &multi)
        .unwrap_err();
    assert!(
        err.to_string().contains(
            "sample 1 (counting from 0): its targets sum to 2, but softmax cross-entropy \
             needs a probability vector"
        ),
        "{err}"
    );
}

#[test]
fn a_non_finite_error_carries_the_losses_of_the_epochs_completed_before_it() {
    // y = 3x − 1 with a learning rate that diverges: the loss grows every
    // epoch until it overflows.
    let mut data = Dataset::new(1, 1);
    for x in [0.0, 1.0, 2.0] {
        data.push(&[x], &[3.0 * x - 1.0]);
    }
    let network = || {
        let mut mlp = Mlp::builder(1)
            .layer(1, Activation::Identity)
            .build()
            .unwrap();
        mlp.set_parameters(&[0.5, 0.5]).unwrap();
        mlp
    };
    let trainer = Trainer::new(Loss::MeanSquaredError, Sgd::new(2.0)).quiet();
    let mut diverging = trainer.clone().epochs(10_000);
    let err = diverging.train(&mut network(), &data).unwrap_err();
    let epoch = match err {
        Error::NonFinite { epoch, .. } => epoch,
        other => panic!("expected Error::NonFinite, got {other:?}"),
    };
    let losses = diverging.completed_losses().to_vec();
    assert!(epoch > 10, "diverged after {epoch} epochs");
    assert_eq!(losses.len(), epoch);
    assert!(losses.windows(2).all(|w| w[1] > w[0]), "{losses:?}");
    // The same epochs run alone report the same losses, bit for bit.
    let report = trainer
        .clone()
        .epochs(epoch)
        .train(&mut network(), &data)
        .unwrap();
    assert_eq!(report.losses, losses);
}

/// `epochs(usize::MAX)` reserved the whole loss history up front: "capacity
/// overflow" (and `1 << 40` aborted on the allocation) before the first
/// epoch. With a target loss such a run stops early; the history now grows
/// as epochs are run.
#[test]
fn huge_epochs_with_a_target_loss_trains_and_stops_early() {
    for epochs in [usize::MAX, 1 << 40] {
        let mut mlp = Mlp::builder(1)
            .layer(1, Activation::Identity)
            .build()
            .unwrap();
        let mut data = Dataset::new(1, 1);
        for x in [0.0, 1.0, 2.0] {
            data.push(&[x], &[3.0 * x - 1.0]);
        }
        let report = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
            .epochs(epochs)
            .target_loss(1e-12)
            .quiet()
            .train(&mut mlp, &data)
            .unwrap();
        assert!(report.stopped_early);
        assert!(report.epochs() < 10_000, "{}", report.epochs());
        assert!(report.final_loss().unwrap() <= 1e-12);
    }
}

/// A full batch whose samples' losses are each finite but whose sum passes
/// f64::MAX: the batch's loss was the sum divided by the batch's size, ∞, and
/// training stopped with `NonFinite` ("their sum over the batch overflowed"),
/// though the mean, 1.69e308, is finite and batches of one trained. Each
/// loss is now divided first where the sum overflows. Exact here: both
/// losses are o², halved and added back (powers of two), and so is the
/// gradient (each sample's ∂/∂b = 2o, adjoint ½).
#[test]
fn a_full_batch_of_finite_losses_whose_sum_overflows_trains_on_their_finite_mean() {
    let o = 1.3e154;
    let mut mlp = Mlp::builder(1)
        .layer(1, Activation::Identity)
        .build()
        .unwrap();
    mlp.set_parameters(&[0.0, o]).unwrap();
    let mut data = Dataset::new(1, 1);
    data.push(&[0.0], &[0.0]);
    data.push(&[0.0], &[0.0]);
    assert!((o * o).is_finite() && (o * o + o * o).is_infinite());
    let mut gradient = Vec::new();
    let loss = batch_loss_and_gradient(
        &mlp,
        &data,
        &[0, 1],
        2.0,
        Loss::MeanSquaredError,
        &mut Tape::new(),
        &mut gradient,
    );
    assert_eq!(loss, o * o);
    assert_eq!(gradient, vec![0.0, 2.0 * o]);
    let trainers = [
        Trainer::new(Loss::MeanSquaredError, Sgd::new(1e-320)),
        Trainer::new(Loss::MeanSquaredError, Sgd::new(1e-320)).replay(),
        #[cfg(feature = "parallel")]
        Trainer::new(Loss::MeanSquaredError, Sgd::new(1e-320)).parallel(),
    ];
    for trainer in trainers {
        let report = trainer
            .epochs(2)
            .quiet()
            .train(&mut mlp.clone(), &data)
            .unwrap();
        assert_eq!(report.losses, vec![o * o, o * o]);
    }
}

/// Three samples (a mean of non-powers of two): each loss is divided by 3
/// and the quotients summed, so the batch's loss is within a few roundings
/// of the true mean, each of at most half an ulp: held to 4 ulps (4ε
/// relative), and the gradient the same.
#[test]
fn a_batch_mean_divided_first_is_within_rounding_of_the_mean() {
    let o = 1.2e154;
    let mut mlp = Mlp::builder(1)
        .layer(1, Activation::Identity)
        .build()
        .unwrap();
    mlp.set_parameters(&[0.0, o]).unwrap();
    let mut data = Dataset::new(1, 1);
    for t in [0.0, 1e152, -1e152] {
        data.push(&[0.0], &[t]);
    }
    let mut gradient = Vec::new();
    let loss = batch_loss_and_gradient(
        &mlp,
        &data,
        &[0, 1, 2],
        3.0,
        Loss::MeanSquaredError,
        &mut Tape::new(),
        &mut gradient,
    );
    // Σ(o − t)²/3 = o² + (2·1e152²)/3 (the ±1e152 cross terms cancel);
    // Σ2(o − t)/3 = 2o.
    let mean = o * o + 2.0 * 1e152 * 1e152 / 3.0;
    assert!(mean.is_finite() && (3.0 * o * o).is_infinite());
    assert!(
        (loss - mean).abs() <= 4.0 * f64::EPSILON * mean,
        "{loss} {mean}"
    );
    assert_eq!(gradient[0], 0.0);
    assert!(
        (gradient[1] - 2.0 * o).abs() <= 4.0 * f64::EPSILON * 2.0 * o,
        "{gradient:?}"
    );
}

/// Epochs are named counting from 0 (the Trainer's docs): the epoch a
/// `NonFinite` error names is the number completed before it, and its
/// message says "counting from 0". The examples print the last epoch of a
/// run of n as epoch n − 1 (xor printed "after 723 epochs (epoch 723's …)").
#[test]
fn an_epoch_named_in_a_message_counts_from_zero() {
    let mut mlp = Mlp::builder(1)
        .layer(1, Activation::Identity)
        .build()
        .unwrap();
    mlp.set_parameters(&[0.5, 0.5]).unwrap();
    let mut data = Dataset::new(1, 1);
    data.push(&[1.0], &[0.0]);
    let mut trainer = Trainer::new(Loss::MeanSquaredError, Sgd::new(2.0))
        .epochs(5_000)
        .quiet();
    let err = trainer.train(&mut mlp, &data).unwrap_err();
    let completed = trainer.completed_losses().len();
    assert!(completed > 0);
    let Error::NonFinite { epoch, .. } = err else {
        panic!("expected NonFinite, got {err:?}")
    };
    assert_eq!(epoch, completed);
    assert!(
        err.to_string().contains(&format!(
            "training stopped in epoch {completed} (counting from 0)"
        )),
        "{err}"
    );
}
