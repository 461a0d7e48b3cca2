//! A three-class spiral, softmax cross-entropy, Adam: at least 95% training
//! accuracy from a fixed seed (the multi-class example, as a test).

use chainrule::nn::datasets::{argmax, spiral};
use chainrule::nn::{Activation, Adam, Init, Loss, Mlp, Trainer};

#[test]
fn a_softmax_classifier_learns_the_three_arm_spiral() {
    let data = spiral(100, 3, 0);
    let mut mlp = Mlp::builder(2)
        .layer(32, Activation::Tanh)
        .layer(32, Activation::Tanh)
        .layer(3, Activation::Identity)
        .init(Init::Xavier)
        .seed(1)
        .build()
        .unwrap();
    let report = Trainer::new(Loss::SoftmaxCrossEntropy, Adam::new(0.01))
        .epochs(1000)
        .batch_size(50)
        .shuffle(2)
        .target_loss(0.05)
        .quiet()
        .train(&mut mlp, &data)
        .unwrap();
    let correct = data
        .iter()
        .filter(|(x, t)| argmax(&mlp.predict(x)) == argmax(t))
        .count();
    assert!(
        correct >= 285,
        "{correct}/300 after {} epochs, loss {:?}",
        report.epochs(),
        report.final_loss()
    );
    eprintln!("{correct}/300 after {} epochs", report.epochs());
    // Epoch 0's loss is measured batch by batch as the network starts to learn,
    // from about ln 3 ≈ 1.1; the target loss ends training.
    assert!(report.losses[0] > 0.5, "epoch 0: {}", report.losses[0]);
    assert!(
        report.final_loss().unwrap() <= 0.05,
        "{:?}",
        report.final_loss()
    );
}
