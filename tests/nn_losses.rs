//! Every loss against its hand derivation and against central finite differences.
//!
//! Tolerances:
//! - hand derivation: 1e-13 absolute on values and gradients of order 1. The tape
//!   and the hand formula evaluate the same functions in a different order, so
//!   they agree to a few ulps, not bit for bit.
//! - central differences with h = 1e-6: truncation error h²·f'''/6 ≈ 1e-13 and
//!   rounding error ≈ ε·|f|/h ≈ 1e-10 for losses of order 1, so 1e-7 absolute
//!   leaves a wide margin while catching any wrong derivative (which is off by
//!   order 1). Points are taken away from the hinge's kink.

use chainrule::nn::loss::{
    binary_cross_entropy_with_logits, half_squared_error, hinge, mean_squared_error, one_hot,
    softmax_cross_entropy,
};
use chainrule::nn::Loss;
use chainrule::Tape;

const H: f64 = 1e-6;

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// The loss value and the tape's gradient with respect to each output.
fn taped(loss: Loss, outputs: &[f64], targets: &[f64]) -> (f64, Vec<f64>) {
    let tape = Tape::new();
    let o = tape.vars(outputs);
    let l = loss.evaluate(&o, targets);
    let g = l.backward();
    (l.value(), g.wrt_all(&o))
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len());
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!((a - e).abs() <= tol, "{what}[{i}]: {a} vs {e}");
    }
}

fn check_finite_differences(loss: Loss, outputs: &[f64], targets: &[f64]) {
    let (_, grad) = taped(loss, outputs, targets);
    let fd: Vec<f64> = (0..outputs.len())
        .map(|i| {
            let (mut up, mut down) = (outputs.to_vec(), outputs.to_vec());
            up[i] += H;
            down[i] -= H;
            (loss.evaluate(&up, targets) - loss.evaluate(&down, targets)) / (2.0 * H)
        })
        .collect();
    assert_close(&grad, &fd, 1e-7, &format!("{loss:?} vs finite differences"));
}

#[test]
fn half_squared_error_is_half_the_sum_of_squares_with_gradient_o_minus_t() {
    let (o, t) = ([0.75, 0.2, -1.5], [1.0, 0.0, 0.5]);
    let (e, grad) = taped(Loss::HalfSquaredError, &o, &t);
    let hand = 0.5 * (0.25f64.powi(2) + 0.2f64.powi(2) + 2.0f64.powi(2));
    assert!((e - hand).abs() <= 1e-13);
    assert_close(&grad, &[-0.25, 0.2, -2.0], 1e-13, "dE/do = o - t");
    assert_eq!(half_squared_error(&o, &t), e);
    check_finite_differences(Loss::HalfSquaredError, &o, &t);
}

#[test]
fn mean_squared_error_is_the_mean_with_gradient_two_residuals_over_k() {
    let (o, t) = ([0.75, 0.2, -1.5, 3.0], [1.0, 0.0, 0.5, 3.0]);
    let (l, grad) = taped(Loss::MeanSquaredError, &o, &t);
    let residuals = [-0.25, 0.2, -2.0, 0.0];
    let hand = residuals.iter().map(|r: &f64| r * r).sum::<f64>() / 4.0;
    assert!((l - hand).abs() <= 1e-13);
    let hand_grad: Vec<f64> = residuals.iter().map(|r| 2.0 * r / 4.0).collect();
    assert_close(&grad, &hand_grad, 1e-13, "2(o - t)/k");
    assert_eq!(mean_squared_error(&o, &t), l);
    check_finite_differences(Loss::MeanSquaredError, &o, &t);
}

#[test]
fn mean_squared_error_of_one_output_is_w2s_squared_residual() {
    // The loss is one node (Var::mean_squared_error), whatever the number of outputs.
    let tape = Tape::new();
    let o = tape.var(0.3);
    let l = mean_squared_error(&[o], &[-1.0]);
    assert_eq!(l.value(), (0.3f64 + 1.0).powi(2));
    assert_eq!(tape.len(), 2); // the leaf and the loss node
}

#[test]
fn hinge_is_zero_past_the_margin_and_minus_label_over_k_inside() {
    // margins 1 - t·o: 0.75 (inside), -1 (past), 1.5 (inside, wrong side), -0.5 (past)
    let (o, t) = ([0.25, 2.0, -0.5, -1.5], [1.0, 1.0, 1.0, -1.0]);
    let (l, grad) = taped(Loss::Hinge, &o, &t);
    assert!((l - (0.75 + 0.0 + 1.5 + 0.0) / 4.0).abs() <= 1e-13);
    assert_close(
        &grad,
        &[-0.25, 0.0, -0.25, 0.0],
        1e-13,
        "-t/k inside the margin",
    );
    assert_eq!(hinge(&o, &t), l);
    check_finite_differences(Loss::Hinge, &o, &t);
}

#[test]
fn hinge_takes_gradient_zero_exactly_at_the_margin() {
    // 1 - t·o = 0: relu'(0) = 0, as documented.
    let (_, grad) = taped(Loss::Hinge, &[1.0], &[1.0]);
    assert_eq!(grad, vec![0.0]);
}

#[test]
fn binary_cross_entropy_with_logits_is_minus_log_likelihood_with_gradient_sigma_minus_t() {
    let (z, t) = ([0.3, -2.0, 4.0, 0.0], [1.0, 0.0, 0.25, 1.0]);
    let (l, grad) = taped(Loss::BinaryCrossEntropyWithLogits, &z, &t);
    let naive: f64 = z
        .iter()
        .zip(&t)
        .map(|(&z, &t)| -t * sigmoid(z).ln() - (1.0 - t) * (1.0 - sigmoid(z)).ln())
        .sum::<f64>()
        / 4.0;
    assert!((l - naive).abs() <= 1e-13, "{l} vs {naive}");
    let hand: Vec<f64> = z
        .iter()
        .zip(&t)
        .map(|(&z, &t)| (sigmoid(z) - t) / 4.0)
        .collect();
    assert_close(&grad, &hand, 1e-13, "(σ(z) - t)/k");
    check_finite_differences(Loss::BinaryCrossEntropyWithLogits, &z, &t);
}

#[test]
fn binary_cross_entropy_with_logits_is_finite_and_exact_at_large_logits() {
    // Naively σ(1000) = 1 and ln(1 - 1) = -inf; the stable form gives the exact
    // values: softplus(±1000) - z·t.
    for (z, t, loss, d) in [
        (1000.0, 1.0, 0.0, 0.0),
        (1000.0, 0.0, 1000.0, 1.0),
        (-1000.0, 1.0, 1000.0, -1.0),
        (-1000.0, 0.0, 0.0, 0.0),
    ] {
        let (l, grad) = taped(Loss::BinaryCrossEntropyWithLogits, &[z], &[t]);
        assert_eq!((l, grad[0]), (loss, d), "z = {z}, t = {t}");
    }
    assert_eq!(binary_cross_entropy_with_logits(&[1000.0], &[1.0]), 0.0);
}

#[test]
fn softmax_cross_entropy_is_log_sum_exp_minus_the_true_logit_with_gradient_p_minus_t() {
    let z = [1.0, -0.5, 2.0, 0.25];
    for class in 0..4 {
        let t = one_hot(class, 4);
        let (l, grad) = taped(Loss::SoftmaxCrossEntropy, &z, &t);
        let sum_exp: f64 = z.iter().map(|z| z.exp()).sum();
        let p: Vec<f64> = z.iter().map(|z| z.exp() / sum_exp).collect();
        assert!((l - -p[class].ln()).abs() <= 1e-13, "class {class}");
        let hand: Vec<f64> = p.iter().zip(&t).map(|(p, t)| p - t).collect();
        assert_close(&grad, &hand, 1e-13, "softmax - one-hot");
        check_finite_differences(Loss::SoftmaxCrossEntropy, &z, &t);
    }
    // A soft target: the gradient is p·Σt - t.
    let t = [0.5, 0.0, 0.25, 0.25];
    check_finite_differences(Loss::SoftmaxCrossEntropy, &z, &t);
}

#[test]
fn softmax_cross_entropy_does_not_overflow_at_large_logits() {
    // e^1000 overflows; with the largest logit subtracted nothing does.
    let z = [1000.0, 999.0, -1000.0];
    let (l, grad) = taped(Loss::SoftmaxCrossEntropy, &z, &one_hot(1, 3));
    let expected = 1.0 + (-1.0f64).exp().ln_1p(); // -ln(e^-1 / (1 + e^-1))
    assert!((l - expected).abs() <= 1e-13, "{l} vs {expected}");
    assert!(grad.iter().all(|g| g.is_finite()));
    let p1 = (-1.0f64).exp() / (1.0 + (-1.0f64).exp());
    assert_close(&grad, &[1.0 - p1, p1 - 1.0, 0.0], 1e-13, "at large logits");
}

#[test]
fn each_loss_checks_its_targets_domain_and_names_the_target_and_what_it_needs() {
    use chainrule::nn::TargetOutOfDomain;
    let out = |loss, index, value| Err(TargetOutOfDomain { index, value, loss });
    // Hinge: labels -1 or 1, nothing else (0/1 labels trained a wrong model).
    assert_eq!(Loss::Hinge.check_targets(&[1.0, -1.0]), Ok(()));
    assert_eq!(
        Loss::Hinge.check_targets(&[1.0, 0.0]),
        out(Loss::Hinge, Some(1), 0.0)
    );
    assert_eq!(
        Loss::Hinge.check_targets(&[0.5]),
        out(Loss::Hinge, Some(0), 0.5)
    );
    let nan = Loss::Hinge.check_targets(&[f64::NAN]).unwrap_err();
    assert!(nan.value.is_nan() && nan.index == Some(0));
    // Binary cross-entropy: [0, 1], soft targets included.
    let bce = Loss::BinaryCrossEntropyWithLogits;
    assert_eq!(bce.check_targets(&[0.0, 0.25, 1.0]), Ok(()));
    assert_eq!(bce.check_targets(&[1.0, -1.0]), out(bce, Some(1), -1.0));
    assert_eq!(bce.check_targets(&[2.0]), out(bce, Some(0), 2.0));
    // Softmax cross-entropy: a probability vector.
    let sce = Loss::SoftmaxCrossEntropy;
    assert_eq!(sce.check_targets(&one_hot(2, 3)), Ok(()));
    assert_eq!(sce.check_targets(&[0.1; 10]), Ok(())); // sums to 0.9999999999999999
    assert_eq!(sce.check_targets(&[1.5, -0.5]), out(sce, Some(0), 1.5));
    assert_eq!(sce.check_targets(&[0.5, -0.5]), out(sce, Some(1), -0.5));
    assert_eq!(sce.check_targets(&[1.0, 1.0]), out(sce, None, 2.0));
    assert_eq!(sce.check_targets(&[0.0, 0.0]), out(sce, None, 0.0));
    // The squared errors take any target.
    for loss in [Loss::HalfSquaredError, Loss::MeanSquaredError] {
        assert_eq!(loss.check_targets(&[-7.0, 1e300, f64::NAN]), Ok(()));
    }
    let message = Loss::Hinge
        .check_targets(&[1.0, 0.0])
        .unwrap_err()
        .to_string();
    assert_eq!(
        message,
        "target 1 is 0, but hinge loss needs labels -1 or 1 (a 0/1 label t is 2t - 1 for \
         hinge, or use binary cross-entropy)"
    );
}

#[test]
#[should_panic(expected = "hinge was given targets out of its domain: target 0 is 0")]
fn hinge_with_a_zero_label_panics_instead_of_ignoring_the_sample() {
    // max(0, 1 − 0·o) = 1 with gradient 0: a 0 label taught nothing, silently.
    let _ = hinge(&[0.25_f64], &[0.0]);
}

#[test]
#[should_panic(expected = "targets sum to 0, but softmax cross-entropy needs a probability vector")]
fn softmax_cross_entropy_of_an_all_zero_target_panics() {
    // It was a loss of 0 with gradient 0: a sample that taught nothing.
    let _ = softmax_cross_entropy(&[5.0_f64, 5.0], &[0.0, 0.0]);
}

/// A softmax cross-entropy target computed in `f32` over many classes (a
/// teacher's probabilities) sums to 1 only within about k·2⁻²⁴: a fixed 1e-6
/// refused 1,000 classes of random logits (1.5e-6 off) and 10,000 equal ones
/// (9.7e-5 off). The bound grows with k now; the mistakes it is for are still
/// caught at any k.
#[test]
fn softmax_cross_entropy_takes_f32_probabilities_over_many_classes() {
    let k = 10_000;
    let e = vec![0.3_f32; k];
    let total: f32 = e.iter().sum();
    let p: Vec<f64> = e.iter().map(|&v| f64::from(v / total)).collect();
    let off = (p.iter().sum::<f64>() - 1.0).abs();
    assert!(off > 1e-6, "{off:e}");
    assert!(Loss::SoftmaxCrossEntropy.check_targets(&p).is_ok());
    let logits = vec![0.0_f64; k];
    let loss = softmax_cross_entropy(&logits, &p);
    assert!((loss - (k as f64).ln()).abs() < 1e-3, "{loss}");
    // All zeros, two classes at once, a half: refused at this k too.
    let mut two = vec![0.0; k];
    two[0] = 1.0;
    two[1] = 1.0;
    let mut half = vec![0.0; k];
    half[0] = 0.5;
    for bad in [vec![0.0; k], two, half] {
        assert!(Loss::SoftmaxCrossEntropy.check_targets(&bad).is_err());
    }
}

#[test]
#[should_panic(expected = "2 outputs but 3 targets")]
fn a_loss_with_mismatched_targets_panics_with_the_counts() {
    let _ = mean_squared_error(&[1.0, 2.0], &[1.0, 2.0, 3.0]);
}

/// Confident predictions: the loss is e^−20 or e^−40 or so, and must come out
/// to full precision, not as the difference of two numbers near 20 (or 1e9 +
/// 20) that agree in all but their last bits. The reference is log1p(e^−d) for
/// the margin d, which f64 gives to within an ulp or two; 1e-14 relative
/// allows a few roundings more (the forms used had 3e-7 at d = 20 and 100% at
/// d = 40 or at an offset of 1e9).
#[test]
fn confident_predictions_give_the_small_loss_to_full_precision() {
    let close = |got: f64, want: f64| (got - want).abs() <= 1e-14 * want.abs();
    for d in [20.0_f64, 40.0, 700.0] {
        let want = (-d).exp().ln_1p();
        for offset in [0.0, 1e3, 1e6, 1e9] {
            let z = [offset + d, offset];
            let got = softmax_cross_entropy(&z, &one_hot(0, 2));
            assert!(close(got, want), "softmax at {z:?}: {got:e}, want {want:e}");
            // On the tape too, with its gradient softmax(z) − t.
            let tape = Tape::new();
            let zv = z.map(|v| tape.var(v));
            let loss = softmax_cross_entropy(&zv, &one_hot(0, 2));
            assert!(close(loss.value(), want), "{:e}", loss.value());
            let g = loss.backward();
            let p1 = 1.0 / (1.0 + d.exp());
            assert!((g[zv[1]] - p1).abs() <= 1e-15 * p1.max(1e-300));
            assert!((g[zv[0]] + p1).abs() <= 1e-15);
        }
        let got = binary_cross_entropy_with_logits(&[d], &[1.0]);
        assert!(close(got, want), "bce at {d}: {got:e}, want {want:e}");
        let got = binary_cross_entropy_with_logits(&[-d], &[0.0]);
        assert!(close(got, want), "bce at −{d}: {got:e}, want {want:e}");
    }
}

/// Soft targets in (0, 1): the two-term form of binary cross-entropy has the
/// same value and gradient σ(z) − t as softplus(z) − z·t; 1e-13 as for the
/// hand derivations above.
#[test]
fn binary_cross_entropy_with_soft_targets_is_the_usual_form() {
    for z in [-30.0_f64, -2.5, -0.1, 0.0, 0.7, 3.0, 30.0] {
        for t in [0.0, 0.25, 0.5, 0.9, 1.0] {
            let usual = z.max(0.0) + (-z.abs()).exp().ln_1p() - z * t;
            let tape = Tape::new();
            let zv = tape.var(z);
            let loss = binary_cross_entropy_with_logits(&[zv], &[t]);
            assert!((loss.value() - usual).abs() <= 1e-13, "z = {z}, t = {t}");
            let sigma = 1.0 / (1.0 + (-z).exp());
            assert!(
                (loss.backward()[zv] - (sigma - t)).abs() <= 1e-13,
                "z = {z}, t = {t}"
            );
        }
    }
}
