//! [`Adam`]: adaptive moment estimation.

use crate::nn::optimizer::{check_hyperparameter, check_lengths};
use crate::nn::Optimizer;

/// Adam (Kingma & Ba), as PyTorch's `Adam`. Per parameter p with gradient g, at
/// step t = 1, 2, …:
///
/// ```text
/// g ← g + weight_decay·p
/// m ← β₁·m + (1 − β₁)·g            (m, v start at 0)
/// v ← β₂·v + (1 − β₂)·g²
/// m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
/// p ← p − learning_rate · m̂ / (√v̂ + ε)
/// ```
///
/// Defaults: β₁ = 0.9, β₂ = 0.999, ε = 1e-8, no weight decay. The first step
/// moves every parameter with a non-zero gradient by about `learning_rate`.
///
/// # Overflow of the second moment
/// v's new term is computed as (1 − β₂)·g·g, left to right, so it overflows
/// to ∞ for |g| above √(f64::MAX / (1 − β₂)), about 4.2e155 with the default
/// β₂. Then v is ∞, the step m̂ / (√v̂ + ε) is 0, and since β₂·∞ stays ∞, that
/// parameter never moves again, though it and every later gradient are
/// finite (PyTorch's `Adam` does the same, at its own precision's limit).
/// Between about 1.3e154 (√f64::MAX) and that bound v is finite but the bias
/// correction v̂ = v / (1 − β₂ᵗ) overflows in the first steps: the parameter
/// stands still, then moves again (with the defaults and later gradients of
/// 1: for 2 steps after a first gradient of 2e154, 54 after 1e155). Nothing
/// reports either: the parameters stay finite, so
/// [`Trainer`](crate::nn::Trainer)'s checks for a non-finite update do not
/// see it. A learning rate or loss scale that makes gradients this large is
/// the thing to fix; [`Sgd`](crate::nn::Sgd) has no second moment.
/// [`Trainer`](crate::nn::Trainer) does see the first case, an infinite
/// moment ([`Optimizer::state_is_finite`]): it undoes that step and returns
/// [`Error::NonFinite`](crate::nn::Error::NonFinite), as for a parameter
/// that overflows. The second, a few steps standing still, it does not see.
///
/// ```
/// use chainrule::nn::{Adam, Optimizer};
///
/// let mut adam = Adam::new(0.01);
/// let mut p = [1.0];
/// adam.step(&mut p, &[1e160]); // (1 − β₂)·g·g = ∞
/// assert_eq!(p, [1.0]);
/// for _ in 0..1000 {
///     adam.step(&mut p, &[1.0]); // ordinary gradients: still no step
/// }
/// assert_eq!(p, [1.0]);
///
/// let mut adam = Adam::new(0.01);
/// let mut p = [1.0];
/// adam.step(&mut p, &[1e155]); // v = 1e307 is finite, v̂ = 1e310 is not
/// assert_eq!(p, [1.0]);
/// for _ in 0..53 {
///     adam.step(&mut p, &[1.0]);
/// }
/// assert_eq!(p, [1.0]); // 54 steps standing still
/// adam.step(&mut p, &[1.0]);
/// assert!(p[0] < 1.0); // then it moves again
/// ```
///
/// ```
/// use chainrule::nn::{Adam, Optimizer};
///
/// let mut p = [1.0, 1.0];
/// Adam::new(0.01).step(&mut p, &[3.0, -0.5]);
/// assert!((p[0] - 0.99).abs() < 1e-8 && (p[1] - 1.01).abs() < 1e-8);
/// ```
#[derive(Clone, Debug)]
pub struct Adam {
    learning_rate: f64,
    beta1: f64,
    beta2: f64,
    epsilon: f64,
    weight_decay: f64,
    step: i32,
    first_moment: Vec<f64>,
    second_moment: Vec<f64>,
}

impl Adam {
    /// Adam with this learning rate and the default β₁, β₂, ε.
    ///
    /// # Panics
    /// If `learning_rate` is not finite and positive.
    #[must_use]
    #[track_caller]
    pub fn new(learning_rate: f64) -> Self {
        check_hyperparameter("learning rate", learning_rate, learning_rate > 0.0);
        Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            weight_decay: 0.0,
            step: 0,
            first_moment: Vec::new(),
            second_moment: Vec::new(),
        }
    }

    /// Sets the decay rates β₁ and β₂ of the moment estimates.
    ///
    /// # Panics
    /// If either is not in [0, 1).
    #[must_use]
    #[track_caller]
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Self {
        check_hyperparameter("beta1", beta1, (0.0..1.0).contains(&beta1));
        check_hyperparameter("beta2", beta2, (0.0..1.0).contains(&beta2));
        self.beta1 = beta1;
        self.beta2 = beta2;
        self
    }

    /// Sets ε, added to √v̂ to keep the step finite.
    ///
    /// # Panics
    /// If `epsilon` is not finite and positive.
    #[must_use]
    #[track_caller]
    pub fn epsilon(mut self, epsilon: f64) -> Self {
        check_hyperparameter("epsilon", epsilon, epsilon > 0.0);
        self.epsilon = epsilon;
        self
    }

    /// Sets the weight decay λ (an L2 penalty added to the gradient).
    ///
    /// # Panics
    /// If `weight_decay` is negative or not finite.
    #[must_use]
    #[track_caller]
    pub fn weight_decay(mut self, weight_decay: f64) -> Self {
        check_hyperparameter("weight decay", weight_decay, weight_decay >= 0.0);
        self.weight_decay = weight_decay;
        self
    }

    /// The number of steps taken.
    #[must_use]
    pub fn steps(&self) -> usize {
        self.step as usize
    }
}

impl Optimizer for Adam {
    #[track_caller]
    fn step(&mut self, parameters: &mut [f64], gradient: &[f64]) {
        check_lengths(parameters.len(), gradient.len(), &mut self.first_moment);
        check_lengths(parameters.len(), gradient.len(), &mut self.second_moment);
        self.step = self.step.saturating_add(1);
        let correction1 = 1.0 - self.beta1.powi(self.step);
        let correction2 = 1.0 - self.beta2.powi(self.step);
        for (((p, &g), m), v) in parameters
            .iter_mut()
            .zip(gradient)
            .zip(&mut self.first_moment)
            .zip(&mut self.second_moment)
        {
            let g = g + self.weight_decay * *p;
            *m = self.beta1 * *m + (1.0 - self.beta1) * g;
            *v = self.beta2 * *v + (1.0 - self.beta2) * g * g;
            let m_hat = *m / correction1;
            let v_hat = *v / correction2;
            *p -= self.learning_rate * m_hat / (v_hat.sqrt() + self.epsilon);
        }
    }

    /// The step count, then the first and second moments.
    fn save_state(&self, saved: &mut Vec<f64>) -> bool {
        saved.clear();
        saved.push(f64::from(self.step));
        saved.extend_from_slice(&self.first_moment);
        saved.extend_from_slice(&self.second_moment);
        true
    }

    #[track_caller]
    fn restore_state(&mut self, saved: &[f64]) {
        assert!(
            !saved.is_empty() && saved.len() % 2 == 1,
            "chainrule: Adam::restore_state was given {} {}, not a state Adam saved",
            saved.len(),
            crate::plural(saved.len(), "value", "values"),
        );
        let n = (saved.len() - 1) / 2;
        self.step = saved[0] as i32;
        self.first_moment.clear();
        self.first_moment.extend_from_slice(&saved[1..=n]);
        self.second_moment.clear();
        self.second_moment.extend_from_slice(&saved[n + 1..]);
    }

    fn state_is_finite(&self) -> bool {
        self.first_moment
            .iter()
            .chain(&self.second_moment)
            .all(|v| v.is_finite())
    }
}
