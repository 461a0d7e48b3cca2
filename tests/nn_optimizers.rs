//! SGD and Adam, each step against the update written out by hand.
//!
//! Tolerance: exact where the hand-written update performs the same floating
//! point operations in the same order; 1e-15 relative where it does not.

use chainrule::nn::{Adam, Optimizer, Sgd};

#[test]
fn plain_sgd_is_p_minus_learning_rate_times_g_bit_for_bit() {
    let mut p = [0.3, -1.2, 5.0];
    let g = [0.1, 0.25, -3.0];
    Sgd::new(0.05).step(&mut p, &g);
    assert_eq!(p, [0.3 - 0.05 * 0.1, -1.2 - 0.05 * 0.25, 5.0 - 0.05 * -3.0]);
}

#[test]
fn sgd_with_momentum_and_weight_decay_matches_three_steps_by_hand() {
    let (lr, mu, wd) = (0.1, 0.9, 0.01);
    let mut sgd = Sgd::new(lr).momentum(mu).weight_decay(wd);
    let mut p = [1.0, -2.0];
    let grads = [[0.5, 0.25], [-0.5, 1.0], [0.125, -0.75]];

    let (mut hand_p, mut v) = ([1.0f64, -2.0], [0.0f64; 2]);
    for g in grads {
        sgd.step(&mut p, &g);
        for i in 0..2 {
            let g_decayed = g[i] + wd * hand_p[i];
            v[i] = mu * v[i] + g_decayed;
            hand_p[i] -= lr * v[i];
        }
        assert_eq!(p, hand_p);
    }
    // And the first step with numbers: g + wd·p = 0.5 + 0.01 = 0.51, v = 0.51,
    // p = 1 - 0.051 = 0.949.
    let mut q = [1.0];
    Sgd::new(lr)
        .momentum(mu)
        .weight_decay(wd)
        .step(&mut q, &[0.5]);
    assert!((q[0] - 0.949).abs() <= 1e-15);
}

#[test]
fn adam_matches_three_steps_by_hand() {
    let (lr, b1, b2, eps) = (0.01, 0.8, 0.99, 1e-6);
    let mut adam = Adam::new(lr).betas(b1, b2).epsilon(eps);
    let mut p = [0.5, -0.25, 0.0];
    let grads = [[0.2, -0.1, 0.0], [0.4, 0.3, 0.0], [-0.6, 0.05, 1.0]];

    let mut hand_p = p;
    let (mut m, mut v) = ([0.0f64; 3], [0.0f64; 3]);
    for (k, g) in grads.iter().enumerate() {
        adam.step(&mut p, g);
        let t = k as i32 + 1;
        for i in 0..3 {
            m[i] = b1 * m[i] + (1.0 - b1) * g[i];
            v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
            let m_hat = m[i] / (1.0 - b1.powi(t));
            let v_hat = v[i] / (1.0 - b2.powi(t));
            hand_p[i] -= lr * m_hat / (v_hat.sqrt() + eps);
        }
        for i in 0..3 {
            assert!(
                // A few ulps: in an optimised build LLVM folds the hand loop's
                // `powi` of a constant step exactly, while Adam's runs at run time.
                (p[i] - hand_p[i]).abs() <= 1e-14 * hand_p[i].abs().max(1e-300),
                "step {t}, parameter {i}: {} vs {}",
                p[i],
                hand_p[i]
            );
        }
    }
    assert_eq!(adam.steps(), 3);
    // A parameter whose gradient was 0 for two steps did not move until then.
    assert!(p[2] < 0.0);
}

#[test]
fn adams_first_step_moves_each_parameter_by_about_the_learning_rate() {
    // m̂ = g and v̂ = g² at t = 1, so the step is lr·g/(|g| + ε) ≈ lr·sign(g).
    let mut p = [0.0, 0.0];
    Adam::new(0.1).step(&mut p, &[123.0, -0.001]);
    assert!(
        (p[0] + 0.1).abs() < 1e-9 && (p[1] - 0.1).abs() < 1e-5,
        "{p:?}"
    );
}

#[test]
fn adam_weight_decay_adds_lambda_p_to_the_gradient() {
    let mut with = [2.0];
    let mut added = [2.0];
    Adam::new(0.1).weight_decay(0.5).step(&mut with, &[1.0]);
    Adam::new(0.1).step(&mut added, &[1.0 + 0.5 * 2.0]);
    assert_eq!(with, added);
}

#[test]
#[should_panic(expected = "3 parameters but a gradient of 2 values")]
fn a_gradient_of_the_wrong_length_panics() {
    Sgd::new(0.1).step(&mut [1.0, 2.0, 3.0], &[1.0, 2.0]);
}

#[test]
#[should_panic(expected = "was stepping 2 parameters and is now given 3")]
fn an_optimizer_given_another_number_of_parameters_panics() {
    let mut adam = Adam::new(0.1);
    adam.step(&mut [1.0, 2.0], &[1.0, 1.0]);
    adam.step(&mut [1.0, 2.0, 3.0], &[1.0, 1.0, 1.0]);
}

#[test]
#[should_panic(expected = "invalid learning rate: -1")]
fn a_negative_learning_rate_panics() {
    let _ = Sgd::new(-1.0);
}

#[test]
#[should_panic(expected = "invalid momentum: 1")]
fn a_momentum_of_one_panics() {
    let _ = Sgd::new(0.1).momentum(1.0);
}
