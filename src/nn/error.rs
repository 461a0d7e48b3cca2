//! [`Error`]: what can go wrong when building, training, saving or loading a network.

use std::fmt;

use crate::anomaly::Anomaly;
use crate::nn::TargetOutOfDomain;

/// What can go wrong when building, training, saving, loading or plotting a
/// network. Every variant says what was expected and what was found.
///
/// ```
/// use chainrule::nn::{Activation, Error, Mlp};
///
/// let err = Mlp::builder(0).layer(1, Activation::Identity).build().unwrap_err();
/// assert!(matches!(err, Error::InvalidArchitecture(_)));
/// assert!(err.to_string().contains("at least one input"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The network cannot be built as described (no layer, a layer of no neurons…).
    InvalidArchitecture(String),
    /// A dataset or an input whose width does not match the network's.
    WidthMismatch {
        /// What the width is of: "inputs" or "targets".
        what: &'static str,
        /// The width the network needs.
        expected: usize,
        /// The width found.
        found: usize,
    },
    /// A parameter vector of the wrong length.
    ParameterCount {
        /// The number of parameters the network has.
        expected: usize,
        /// The number given.
        found: usize,
    },
    /// A training configuration that cannot run (a batch size of 0, no data…).
    InvalidConfig(String),
    /// A sample whose targets are outside the domain of the loss: hinge's
    /// labels −1 or 1, binary cross-entropy's [0, 1], softmax cross-entropy's
    /// probability vector (see [`Loss::check_targets`](crate::nn::Loss::check_targets)).
    /// Found by [`Trainer::train`](crate::nn::Trainer::train) before any step.
    TargetOutOfDomain {
        /// The sample's index in the dataset (0-based).
        sample: usize,
        /// Which target, its value, and the loss.
        target: TargetOutOfDomain,
    },
    /// A parameter file whose shapes do not match the network it is loaded into.
    ShapeMismatch(String),
    /// Reading or writing a file failed.
    Io(std::io::Error),
    /// A parameter file is not valid JSON of the expected form.
    #[cfg(feature = "serde")]
    #[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
    Json(serde_json::Error),
    /// Drawing a plot failed.
    #[cfg(feature = "plot")]
    #[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
    Plot(String),
    /// Training met a NaN or infinite loss, gradient or updated parameter and
    /// stopped: see [`Trainer::train`](crate::nn::Trainer::train). The network's
    /// parameters are exactly as they were before the step that failed.
    NonFinite {
        /// The epoch, counting from 0 (so also the number of epochs completed).
        epoch: usize,
        /// The first sample of the failed batch (its index in the dataset) whose
        /// own loss or gradient is not finite; `None` when each sample's is but
        /// the batch's is not (their mean, each sample's loss divided by the
        /// batch's size and summed, rounded past f64's largest value), or for
        /// an update.
        sample: Option<usize>,
        /// What was not finite.
        quantity: NonFiniteQuantity,
        /// The first node of that sample's tape whose value or local partial is
        /// not finite, recorded with [`Mlp::bind`](crate::nn::Mlp::bind)
        /// so that it names the neuron (`layer1.neuron0.out`); `None` if every
        /// value and partial of that sample's tape is finite (a product of finite
        /// partials overflowed), and `None` when no sample is named (`sample` is
        /// `None`: the batch's mean overflowed, no sample's tape has a culprit).
        anomaly: Option<Box<Anomaly>>,
        /// A NaN or infinite number in the failing sample's own data (its inputs
        /// are checked first, then its targets), when there is one. It is the
        /// usual cause, so the message names it before the anomaly node, but
        /// it is a fact about the data, not a diagnosis: it need not be what
        /// made this quantity non-finite (a relu can mask an infinite input
        /// while a learning rate large enough overflows the weights).
        /// `anomaly` says where the tape first holds a non-finite number.
        data: Option<BadData>,
    },
}

/// A NaN or infinite number in a sample's data, found by [`Error::NonFinite`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BadData {
    /// Input `index` of the sample (0-based) has this value.
    Input {
        /// Which input.
        index: usize,
        /// Its value (NaN or ±inf).
        value: f64,
    },
    /// Target `index` of the sample (0-based) has this value.
    Target {
        /// Which target.
        index: usize,
        /// Its value (NaN or ±inf).
        value: f64,
    },
}

impl BadData {
    /// The first non-finite input, else the first non-finite target, of a sample.
    pub(crate) fn find(inputs: &[f64], targets: &[f64]) -> Option<BadData> {
        if let Some((index, &value)) = inputs.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Some(BadData::Input { index, value });
        }
        let (index, &value) = targets.iter().enumerate().find(|(_, v)| !v.is_finite())?;
        Some(BadData::Target { index, value })
    }
}

/// What [`Error::NonFinite`] found not finite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NonFiniteQuantity {
    /// The loss (a NaN in the data, an overflow in the forward pass).
    Loss,
    /// The gradient of a finite loss.
    Gradient,
    /// A parameter, or the optimizer's state
    /// ([`Optimizer::state_is_finite`](crate::nn::Optimizer::state_is_finite)),
    /// after the optimizer's step from a finite gradient (a learning rate
    /// large enough to overflow, or a gradient whose square overflows Adam's
    /// second moment): the parameters are restored,
    /// and so is the optimizer's state (momentum velocities, Adam's moments and
    /// step count) when the optimizer implements
    /// [`Optimizer::save_state`](crate::nn::Optimizer::save_state), as [`Sgd`](crate::nn::Sgd)
    /// and [`Adam`](crate::nn::Adam) do; an optimizer of your own that does not
    /// has taken the step.
    Update,
}

impl fmt::Display for NonFiniteQuantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NonFiniteQuantity::Loss => "loss",
            NonFiniteQuantity::Gradient => "gradient",
            NonFiniteQuantity::Update => "update",
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArchitecture(why) => write!(f, "invalid network: {why}"),
            Error::WidthMismatch {
                what,
                expected,
                found,
            } => {
                // "1 input", "2 targets": the singular where it is one.
                let one = |n: &usize, word: &str| {
                    if *n == 1 {
                        format!("1 {}", word.trim_end_matches('s'))
                    } else {
                        format!("{n} {word}")
                    }
                };
                if *what == "targets" {
                    // A network has outputs; a target per output is what the
                    // data needs.
                    write!(
                        f,
                        "the network has {}, so it needs {} per sample, but the data has {found}",
                        one(expected, "outputs"),
                        one(expected, "targets"),
                    )
                } else {
                    write!(
                        f,
                        "the network takes {} per sample, but the data has {found}",
                        one(expected, what)
                    )
                }
            }
            Error::ParameterCount { expected, found } => write!(
                f,
                "the network has {expected} {}, but {found} {} given",
                crate::plural(*expected, "parameter", "parameters"),
                crate::plural(*found, "value was", "values were"),
            ),
            Error::InvalidConfig(why) => write!(f, "invalid training configuration: {why}"),
            Error::TargetOutOfDomain { sample, target } => {
                write!(f, "sample {sample} (counting from 0): its {target}")
            }
            Error::ShapeMismatch(why) => {
                write!(f, "the parameter file does not fit this network: {why}")
            }
            Error::Io(e) => write!(f, "i/o error: {e}"),
            #[cfg(feature = "serde")]
            Error::Json(e) => write!(f, "invalid parameter file: {e}"),
            #[cfg(feature = "plot")]
            Error::Plot(why) => write!(f, "plotting failed: {why}"),
            Error::NonFinite {
                epoch,
                sample,
                quantity,
                anomaly,
                data,
            } => {
                write!(f, "training stopped in epoch {epoch} (counting from 0): ")?;
                match (quantity, sample) {
                    (NonFiniteQuantity::Update, _) => write!(
                        f,
                        "the optimizer's step made a parameter or its own state (velocities, \
                         moments) non-finite from a finite gradient (is the learning rate too \
                         large, or a gradient so large that its square overflows?)"
                    )?,
                    (q, Some(sample)) => {
                        write!(f, "the {q} of sample {sample} is not finite")?;
                        match data {
                            Some(BadData::Input { index, value }) => {
                                write!(f, ": its input {index} is {value}")?
                            }
                            Some(BadData::Target { index, value }) => {
                                write!(f, ": its target {index} is {value}")?
                            }
                            None => {}
                        }
                    }
                    (q, None) => write!(
                        f,
                        "the batch's {q} is not finite, though each sample's is (their mean \
                         over the batch, summed from each divided by the batch's size, \
                         rounded past f64's largest value)"
                    )?,
                }
                match (quantity, anomaly) {
                    (NonFiniteQuantity::Update, _) => {}
                    // No sample's tape was at fault: the batch's mean overflowed,
                    // which is a non-finite value, not a product of partials.
                    _ if sample.is_none() => {}
                    (_, Some(anomaly)) => write!(f, "; first non-finite node: {anomaly}")?,
                    (_, None) => write!(
                        f,
                        "; every value and local partial is finite, so a product of \
                         partials overflowed"
                    )?,
                }
                write!(f, "; the parameters are left as they were before this step")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            #[cfg(feature = "serde")]
            Error::Json(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}
