//! Small neural networks, built on the crate's public API but for labelling.
//!
//! A network's parameters live as plain `f64` between steps and are bound to a
//! [`Tape`](crate::Tape) for each step; every neuron records its weighted sum and
//! its activation as one node ([`Var::neuron`](crate::Var::neuron)), and the
//! squared-error losses are one node each. Recording, sweeping and replaying
//! go through [`Tape`](crate::Tape), [`Var`](crate::Var),
//! [`Gradients`](crate::Gradients), [`Scalar`](crate::Scalar) and
//! [`replay`](crate::replay) as a user's code would. One thing reaches into the
//! tape: [`Mlp::bind`] labels the parameters and each layer's outputs through
//! the crate-internal `Tape::defer_labels`, which attaches a whole table of
//! names to a run of consecutive nodes in O(1), no string copied until a label
//! is read (the public [`Var::named`](crate::Var::named) copies one string per
//! node per step, which is what a user's own network would do, only slower).
//! Its error messages share the crate's private wording helpers.
//!
//! - [`Mlp`], [`Layer`], [`Neuron`], [`Activation`]: the network, built with
//!   [`Mlp::builder`]; [`Init`] draws its weights from a seed.
//! - [`loss`]: half squared error, mean squared error, hinge, binary
//!   cross-entropy with logits, softmax cross-entropy.
//! - [`Sgd`] (momentum, weight decay) and [`Adam`], behind [`Optimizer`].
//! - [`Trainer`]: epochs, mini-batches, loss history, early stop, progress bar.
//! - Features: `plot` ([`plot`]: loss curves and decision boundaries as SVG),
//!   `serde` ([`save`]: parameters as JSON), `parallel` ([`parallel`]: a batch's
//!   gradient over threads, one tape per thread).
//!
//! ```
//! use chainrule::nn::{Activation, Adam, Dataset, Init, Loss, Mlp, Trainer};
//!
//! let mut xor = Dataset::new(2, 1);
//! for (a, b) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)] {
//!     xor.push(&[a, b], &[if a != b { 1.0 } else { 0.0 }]);
//! }
//! let mut mlp = Mlp::builder(2)
//!     .layer(4, Activation::Tanh)
//!     .layer(1, Activation::Identity) // a logit
//!     .init(Init::Xavier)
//!     .seed(3)
//!     .build()?;
//! let report = Trainer::new(Loss::BinaryCrossEntropyWithLogits, Adam::new(0.05))
//!     .epochs(2000)
//!     .target_loss(0.01)
//!     .quiet()
//!     .train(&mut mlp, &xor)?;
//! assert!(report.final_loss().unwrap() <= 0.01);
//! for (x, t) in xor.iter() {
//!     assert_eq!(mlp.predict(x)[0] > 0.0, t[0] == 1.0);
//! }
//! # Ok::<(), chainrule::nn::Error>(())
//! ```

mod adam;
mod batch;
mod data;
pub mod datasets;
mod error;
pub mod init;
mod layer;
pub mod loss;
mod mlp;
mod neuron;
mod optimizer;
#[cfg(feature = "parallel")]
#[cfg_attr(docsrs, doc(cfg(feature = "parallel")))]
pub mod parallel;
#[cfg(feature = "plot")]
#[cfg_attr(docsrs, doc(cfg(feature = "plot")))]
pub mod plot;
#[cfg(feature = "serde")]
#[cfg_attr(docsrs, doc(cfg(feature = "serde")))]
pub mod save;
mod sgd;
mod train;

/// The activation of a layer's neurons: the crate's one [`Activation`] type,
/// re-exported here for code that uses `nn` alone.
pub use crate::Activation;
pub use adam::Adam;
pub use batch::batch_loss_and_gradient;
pub use data::Dataset;
pub use error::{BadData, Error, NonFiniteQuantity};
pub use init::Init;
pub use layer::{Layer, LayerSpec};
pub use loss::{Loss, TargetOutOfDomain};
pub use mlp::{BoundMlp, Mlp, MlpBuilder};
pub use neuron::{Neuron, ParamRef, Params};
pub use optimizer::Optimizer;
pub use sgd::Sgd;
pub use train::{TrainReport, Trainer};
