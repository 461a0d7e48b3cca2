//! [`Error`]: what can go wrong when building, training, saving or loading a network.

use std::fmt;

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
    /// A parameter file whose shapes do not match the network it is loaded into.
    ShapeMismatch(String),
    /// Reading or writing a file failed.
    Io(std::io::Error),
    /// A parameter file is not valid JSON of the expected form.
    #[cfg(feature = "serde")]
    Json(serde_json::Error),
    /// Drawing a plot failed.
    #[cfg(feature = "plot")]
    Plot(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArchitecture(why) => write!(f, "invalid network: {why}"),
            Error::WidthMismatch {
                what,
                expected,
                found,
            } => write!(
                f,
                "the network takes {expected} {what} per sample, but the data has {found}"
            ),
            Error::ParameterCount { expected, found } => write!(
                f,
                "the network has {expected} parameters, but {found} values were given"
            ),
            Error::InvalidConfig(why) => write!(f, "invalid training configuration: {why}"),
            Error::ShapeMismatch(why) => {
                write!(f, "the parameter file does not fit this network: {why}")
            }
            Error::Io(e) => write!(f, "i/o error: {e}"),
            #[cfg(feature = "serde")]
            Error::Json(e) => write!(f, "invalid parameter file: {e}"),
            #[cfg(feature = "plot")]
            Error::Plot(why) => write!(f, "plotting failed: {why}"),
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
