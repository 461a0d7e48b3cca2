//! [`Optimizer`]: how parameters move given their gradient.

/// Updates parameters in place from their gradient, one step at a time.
///
/// An optimizer keeps its state (velocities, moments) per parameter, by
/// position, so give it the same parameters in the same order every step.
///
/// ```
/// use chainrule::nn::{Optimizer, Sgd};
///
/// let mut p = [1.0, -2.0];
/// let mut sgd = Sgd::new(0.5);
/// sgd.step(&mut p, &[2.0, -2.0]);
/// assert_eq!(p, [0.0, -1.0]);
/// ```
pub trait Optimizer {
    /// Moves `parameters` one step against `gradient`.
    ///
    /// # Panics
    /// If `gradient.len() != parameters.len()`, or the number of parameters
    /// changed since the first step.
    fn step(&mut self, parameters: &mut [f64], gradient: &[f64]);

    /// Writes the optimizer's whole state (velocities, moments, step count)
    /// into `saved`, replacing what it held, and returns true; or returns false,
    /// leaving `saved` alone, if this optimizer cannot save its state (the
    /// default, for an optimizer that does not implement it). [`Sgd`](crate::nn::Sgd)
    /// and [`Adam`](crate::nn::Adam) implement it.
    ///
    /// [`Trainer`](crate::nn::Trainer) saves the state before each step and
    /// [restores](Optimizer::restore_state) it when the step overflows a
    /// parameter, so that a failed step leaves the optimizer as it was. The
    /// buffer is reused: after the first step, saving allocates nothing.
    ///
    /// ```
    /// use chainrule::nn::{Adam, Optimizer};
    ///
    /// let mut adam = Adam::new(0.1);
    /// let mut p = [1.0];
    /// adam.step(&mut p, &[0.5]);
    /// let mut saved = Vec::new();
    /// assert!(adam.save_state(&mut saved));
    /// adam.step(&mut p, &[0.5]);
    /// assert_eq!(adam.steps(), 2);
    /// adam.restore_state(&saved);
    /// assert_eq!(adam.steps(), 1);
    /// ```
    fn save_state(&self, saved: &mut Vec<f64>) -> bool {
        let _ = saved;
        false
    }

    /// Brings back the state that [`save_state`](Optimizer::save_state) wrote
    /// into `saved` (of this optimizer). The default does nothing.
    ///
    /// # Panics
    /// May panic if `saved` was not written by this optimizer's `save_state`.
    fn restore_state(&mut self, saved: &[f64]) {
        let _ = saved;
    }

    /// Whether the optimizer's state (velocities, moments) holds finite
    /// numbers only. A finite gradient can overflow it while the parameters
    /// stay finite: past about 4.2e155 Adam's second moment is infinite, after
    /// which its step m̂ / (√v̂ + ε) is 0 and the parameter never moves again
    /// (see [`Adam`](crate::nn::Adam)). [`Trainer`](crate::nn::Trainer)
    /// checks this after each step, as it checks the parameters. The default,
    /// for an optimizer that does not implement it, is true.
    /// [`Sgd`](crate::nn::Sgd) and [`Adam`](crate::nn::Adam) implement it.
    ///
    /// ```
    /// use chainrule::nn::{Adam, Optimizer};
    ///
    /// let mut adam = Adam::new(0.1);
    /// let mut p = [1.0];
    /// adam.step(&mut p, &[1e160]); // (1 − β₂)·g·g overflows
    /// assert_eq!(p, [1.0]); // no step at all, where Adam's is about −0.1
    /// assert!(!adam.state_is_finite());
    /// ```
    fn state_is_finite(&self) -> bool {
        true
    }
}

impl<O: Optimizer + ?Sized> Optimizer for &mut O {
    #[track_caller]
    fn step(&mut self, parameters: &mut [f64], gradient: &[f64]) {
        (**self).step(parameters, gradient)
    }

    fn save_state(&self, saved: &mut Vec<f64>) -> bool {
        (**self).save_state(saved)
    }

    #[track_caller]
    fn restore_state(&mut self, saved: &[f64]) {
        (**self).restore_state(saved)
    }

    fn state_is_finite(&self) -> bool {
        (**self).state_is_finite()
    }
}

/// Checks the lengths, and sizes a state vector on the first step.
#[track_caller]
pub(crate) fn check_lengths(parameters: usize, gradient: usize, state: &mut Vec<f64>) {
    assert!(
        parameters == gradient,
        "chainrule: the optimizer was given {parameters} {} but a gradient of {gradient} {}",
        crate::plural(parameters, "parameter", "parameters"),
        crate::plural(gradient, "value", "values"),
    );
    if state.is_empty() {
        state.resize(parameters, 0.0);
    }
    assert!(
        state.len() == parameters,
        "chainrule: the optimizer was stepping {} {} and is now given {parameters}",
        state.len(),
        crate::plural(state.len(), "parameter", "parameters"),
    );
}

#[track_caller]
pub(crate) fn check_hyperparameter(name: &str, value: f64, ok: bool) {
    assert!(
        value.is_finite() && ok,
        "chainrule: invalid {name}: {value}"
    );
}
