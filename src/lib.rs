//! # chainrule
//!
//! Scalar reverse-mode automatic differentiation on a flat tape: backpropagation
//! you can read, check path by path, and measure.
//!
//! A [`Tape`] records every operation of a forward pass as a node. [`Var::backward`]
//! is one reverse sweep over the tape, so the chain rule you derive by hand is
//! exactly what the engine does.
//!
//! ```
//! use chainrule::{Gradients, Tape, Var};
//!
//! let mut tape = Tape::new();
//! {
//!     let x: Var = tape.var(-4.0);                   // a leaf: an input or a parameter
//!     let y = (x * 2.0 + 1.0).sigmoid().named("y"); // any node can carry a label
//!     let g: Gradients = y.backward();               // one reverse sweep
//!     assert_eq!(g.wrt(x), g[x]);                    // dy/dx
//!     let s = y.value();
//!     assert!((g[x] - 2.0 * s * (1.0 - s)).abs() < 1e-15);
//! }
//! tape.clear(); // forget the nodes, keep the memory
//! ```
//!
//! ## The parts
//!
//! Recording and sweeping:
//!
//! - [`tape`]: recording. A flat arena of nodes in recording order, a structure of
//!   arrays: values, ops, and per edge the operand's index and the local partial
//!   derivative. No allocation per node. [`Tape::with_max_nodes`] bounds it.
//! - [`ops`]: the calculus. Every op's value and its partial derivatives side by
//!   side, each documented with its derivative, its domain edges and its value at
//!   any kink. Unary ops are written once, in one table, from which their [`Op`],
//!   `Var` and [`Scalar`] methods and the list [`ops::UNARY`] are generated; every
//!   differentiable `f64` function is there, under `f64`'s name.
//! - [`fused`]: one node for what would be many: a neuron's weighted sum, a whole
//!   neuron, a layer, a sum, the squared-error losses. Same values, fewer nodes.
//! - [`backward`]: the sweep. Recording order is a topological order (a node is
//!   recorded after its operands), so back-propagation is a plain backwards loop of
//!   `adjoint[operand] += adjoint[node] * partial`: no recursion, no sort. Its
//!   docs hold the **non-finite policy** (what NaN and infinity do to a gradient),
//!   which every reader of the tape follows.
//! - [`Scalar`]: one generic function computes the primal on `f64` and records on
//!   [`Var`] — the very same source.
//! - [`higher`]: derivatives of derivatives. [`Tape::grad`] records the backward
//!   pass, so its result can be differentiated again; [`grad`],
//!   [`value_and_grad`], [`jacobian`], [`hessian`] and [`hessian_vector_product`]
//!   are the transforms people coming from JAX look for.
//!
//! Checking a derivation:
//!
//! - [`explain`]: [`Gradients::explain`] writes ∂y/∂x as the chain rule along
//!   every path, each factor the true partial between two named quantities;
//!   unlabelled nodes are named by their expressions.
//! - [`gradcheck`]: [`gradcheck::gradcheck`] holds the tape against finite
//!   differences; [`Gradients::compare`] holds it against your hand values and
//!   names the mistake (a missing path, one counted twice, a wrong sign).
//! - [`anomaly`]: the first node whose value or partial is NaN or infinite
//!   ([`Tape::find_anomaly`]), and where a non-finite gradient starts
//!   ([`Gradients::gradient_anomaly`]).
//! - [`dot`]: the graph for Graphviz, with values, gradients and partials.
//! - [`html`]: a self-contained page that steps through the forward pass and the
//!   backward sweep (the `html` feature, on by default).
//! - [`graph`]: the graph view. A [`petgraph::Graph`] of the tape on demand, and a
//!   textbook backward pass (toposort, then sweep) that the fast path is tested
//!   against.
//!
//! Networks (the `nn` feature, on by default):
//!
//! - [`nn`]: small neural networks on the public API (`Mlp`, layers, losses,
//!   optimizers, a `Trainer`); what a binding ([`nn::Mlp::bind`]) records is
//!   labelled in the network's terms for explanations.
//!
//! ## Features
//!
//! | feature | default | what it adds |
//! |---|---|---|
//! | `nn` | on | `nn`: networks, losses, optimizers, a `Trainer` with a progress bar (indicatif, rand_core, rand_xoshiro) |
//! | `html` | on | `html`: the page that plays the backward sweep (layout-rs) |
//! | `cli` | on | the `chainrule` binary's dependencies (clap, pest, serde_json, strsim); enables `html`, adds nothing else to the library |
//! | `plot` | off | `nn::plot`: loss curves and decision boundaries as SVG (plotters); enables `nn` |
//! | `serde` | off | `nn::save`: an `Mlp`'s parameters as JSON; enables `nn` |
//! | `parallel` | off | `nn::parallel`: batch gradients over threads (rayon); enables `nn` |
//! | `jit` | off | `replay::Native`: a compiled `replay::Program` replayed as native code (cranelift), with `Program::native` |
//!
//! Without default features (`default-features = false`) the crate is the tape
//! alone: everything above but `nn` and `html`, with petgraph, smallvec and libm
//! (for `erf`) as its only dependencies. The items a feature adds are marked on
//! docs.rs.
//!
//! ## Training loops
//!
//! Keep the parameters as plain `f64` between steps, bind them to the tape for
//! each step, and reuse the tape with [`Tape::clear`]. Dropping a [`Gradients`]
//! keeps its adjoint buffer in a spare slot of the current thread, which the next
//! sweep on that thread reuses (any tape's), so a loop like this allocates nothing
//! after its first step:
//!
//! ```
//! use chainrule::{Scalar, Tape, Var};
//!
//! let mut w = 0.0_f64;
//! let mut tape = Tape::new();
//! for _ in 0..100 {
//!     tape.clear();
//!     let grad = {
//!         let wv = tape.var(w);
//!         let loss = (wv * 3.0 - 6.0).square(); // minimum at w = 2
//!         loss.backward()[wv]
//!     };
//!     w -= 0.05 * grad;
//! }
//! assert!((w - 2.0).abs() < 1e-9);
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(unsafe_code)]
// allowed in two private modules, tape::cell and replay::native (feature jit), and
// one function, tape::arena's Recording::push_fast (the fast path of recording)
#![warn(missing_docs)]
// The docs link to items behind features (`nn::plot`, `replay::Native`, …); a
// build without those features cannot resolve them. Every link is checked where
// it resolves: CI and docs.rs build the docs with every feature, warnings denied.
#![cfg_attr(
    not(all(
        feature = "plot",
        feature = "serde",
        feature = "parallel",
        feature = "jit"
    )),
    allow(rustdoc::broken_intra_doc_links)
)]
// The soundness proofs of the arena (`tape::cell`, `tape::arena`) rest on
// 64-bit sizes: on a 32-bit target a tape of 84 million edges overflows a
// capacity inside the arena cell, a panic where no panic may start.
#[cfg(not(target_pointer_width = "64"))]
compile_error!(
    "chainrule supports 64-bit targets only (its arena's soundness proof assumes 64-bit sizes)"
);

mod activation;
pub mod anomaly;
mod avx;
pub mod backward;
pub mod bench;
pub mod dot;
pub mod explain;
pub mod fused;
pub mod gradcheck;
pub mod graph;
pub mod higher;
#[cfg(feature = "html")]
#[cfg_attr(docsrs, doc(cfg(feature = "html")))]
pub mod html;
mod json;
#[cfg(feature = "nn")]
#[cfg_attr(docsrs, doc(cfg(feature = "nn")))]
pub mod nn;
mod op;
pub mod ops;
pub mod replay;
mod scalar;
pub mod tape;
mod var;

pub use activation::Activation;
pub use backward::Gradients;
pub use higher::{grad, hessian, hessian_vector_product, jacobian, value_and_grad};
pub use op::Op;
pub use ops::Operand;
pub use scalar::Scalar;
pub use tape::Tape;
pub use var::Var;

/// `one` for a count of 1, else `many`: "1 target", "2 targets" in messages.
pub(crate) fn plural(n: usize, one: &'static str, many: &'static str) -> &'static str {
    if n == 1 {
        one
    } else {
        many
    }
}
