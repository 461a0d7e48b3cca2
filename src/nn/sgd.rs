//! [`Sgd`]: stochastic gradient descent with momentum and weight decay.

use crate::nn::optimizer::{check_hyperparameter, check_lengths};
use crate::nn::Optimizer;

/// Stochastic gradient descent with optional momentum and weight decay, as
/// PyTorch's `SGD` (no dampening, no Nesterov). Per parameter p with gradient g:
///
/// ```text
/// g ← g + weight_decay·p
/// v ← momentum·v + g          (v starts at 0, so the first step has v = g)
/// p ← p − learning_rate·v
/// ```
///
/// With momentum and weight decay 0 this is plain gradient descent,
/// `p -= learning_rate · g`, bit for bit.
///
/// ```
/// use chainrule::nn::{Optimizer, Sgd};
///
/// let mut p = [1.0];
/// let mut sgd = Sgd::new(0.1).momentum(0.9);
/// sgd.step(&mut p, &[1.0]); // v = 1,   p = 1 - 0.1
/// sgd.step(&mut p, &[1.0]); // v = 1.9, p = 0.9 - 0.19
/// assert!((p[0] - 0.71).abs() < 1e-15);
/// ```
#[derive(Clone, Debug)]
pub struct Sgd {
    learning_rate: f64,
    momentum: f64,
    weight_decay: f64,
    velocity: Vec<f64>,
}

impl Sgd {
    /// Plain gradient descent with this learning rate.
    ///
    /// # Panics
    /// If `learning_rate` is not finite and positive.
    #[must_use]
    #[track_caller]
    pub fn new(learning_rate: f64) -> Self {
        check_hyperparameter("learning rate", learning_rate, learning_rate > 0.0);
        Sgd {
            learning_rate,
            momentum: 0.0,
            weight_decay: 0.0,
            velocity: Vec::new(),
        }
    }

    /// Sets the momentum μ (0 by default).
    ///
    /// # Panics
    /// If `momentum` is not in [0, 1).
    #[must_use]
    #[track_caller]
    pub fn momentum(mut self, momentum: f64) -> Self {
        check_hyperparameter("momentum", momentum, (0.0..1.0).contains(&momentum));
        self.momentum = momentum;
        self
    }

    /// Sets the weight decay λ, an L2 penalty ½λ‖p‖² added to the loss (0 by
    /// default).
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

    /// The learning rate.
    #[must_use]
    pub fn learning_rate(&self) -> f64 {
        self.learning_rate
    }
}

impl Optimizer for Sgd {
    #[track_caller]
    fn step(&mut self, parameters: &mut [f64], gradient: &[f64]) {
        if self.momentum == 0.0 && self.weight_decay == 0.0 {
            assert!(
                parameters.len() == gradient.len(),
                "chainrule: the optimizer was given {} {} but a gradient of {} {}",
                parameters.len(),
                crate::plural(parameters.len(), "parameter", "parameters"),
                gradient.len(),
                crate::plural(gradient.len(), "value", "values"),
            );
            for (p, g) in parameters.iter_mut().zip(gradient) {
                *p -= self.learning_rate * g;
            }
            return;
        }
        check_lengths(parameters.len(), gradient.len(), &mut self.velocity);
        for ((p, &g), v) in parameters.iter_mut().zip(gradient).zip(&mut self.velocity) {
            let g = g + self.weight_decay * *p;
            *v = self.momentum * *v + g;
            *p -= self.learning_rate * *v;
        }
    }

    /// The velocities (none before the first step, or without momentum and
    /// weight decay).
    fn save_state(&self, saved: &mut Vec<f64>) -> bool {
        saved.clear();
        saved.extend_from_slice(&self.velocity);
        true
    }

    #[track_caller]
    fn restore_state(&mut self, saved: &[f64]) {
        self.velocity.clear();
        self.velocity.extend_from_slice(saved);
    }

    fn state_is_finite(&self) -> bool {
        self.velocity.iter().all(|v| v.is_finite())
    }
}
