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
}

#[test]
#[should_panic(
    expected = "chainrule: Mlp::predict was given 3 inputs, but the network takes 2 per sample"
)]
fn predicting_from_the_wrong_number_of_inputs_panics_with_the_counts() {
    let _ = small_network().predict(&[1.0, 2.0, 3.0]);
}
