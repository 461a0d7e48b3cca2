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
}

impl<O: Optimizer + ?Sized> Optimizer for &mut O {
    #[track_caller]
    fn step(&mut self, parameters: &mut [f64], gradient: &[f64]) {
        (**self).step(parameters, gradient)
    }
}

/// Checks the lengths, and sizes a state vector on the first step.
#[track_caller]
pub(crate) fn check_lengths(parameters: usize, gradient: usize, state: &mut Vec<f64>) {
    assert!(
parameters == gradient,
"chainrule: the optimizer was given {parameters} parameters but a gradient of {gradient} values"
    );
    if state.is_empty() {
        state.resize(parameters, 0.0);
    }
    assert!(
        state.len() == parameters,
        "chainrule: the optimizer was stepping {} parameters and is now given {parameters}",
        state.len()
    );
}

#[track_caller]
pub(crate) fn check_hyperparameter(name: &str, value: f64, ok: bool) {
    assert!(
        value.is_finite() && ok,
        "chainrule: invalid {name}: {value}"
    );
}
