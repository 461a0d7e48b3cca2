//! Record once, replay many: a recording compiled into a [`Program`] that runs
//! forward and backward again at new leaf values, without recording.
//!
//! Training runs the same graph every step. Recording it every step costs the
//! tape's bookkeeping every step; a [`Program`] pays it once. Record on a tape
//! that keeps its constants ([`Tape::for_replay`]), then
//! [`compile`](Tape::compile) the outputs:
//!
//! ```
//! use chainrule::{Scalar, Tape};
//!
//! fn loss<T: Scalar>(w: &[T]) -> T {
//!     (w[0] * 0.5 + w[1] * 2.0 - 1.0).square()
//! }
//!
//! let tape = Tape::for_replay();
//! let w = tape.vars(&[0.1, 0.2]);
//! let mut program = tape.compile(&[loss(&w)])?;
//! let mut params = [0.1, 0.2];
//! for _ in 0..200 {
//!     program.set_inputs(&params);
//!     program.forward();
//!     program.backward();
//!     for (p, g) in params.iter_mut().zip(program.gradients()) {
//!         *p -= 0.1 * g;
//!     }
//! }
//! assert!(loss(&params) < 1e-20);
//! # Ok::<(), chainrule::replay::CompileError>(())
//! ```
//!
//! Each instruction recomputes its value and local partials from its op and the
//! new operand values, with the very `f64` functions the op records with, so a
//! replayed value equals the value a fresh recording would hold, bit for bit.
//! relu, abs, max, min and clamp pick their branch afresh at every forward pass.
//!
//! Gradients are the tape's too, with two differences. First, where a fused weighted
//! sum (below) adds an adjoint's contributions in another order than the tape's
//! sweep, the gradient differs by the rounding of that sum, which is of the
//! size of the contributions added, not of the gradient. That is the last bits
//! of the gradient unless the contributions cancel; where they cancel it can be
//! all of it:
//!
//! ```
//! let tape = chainrule::Tape::for_replay();
//! let x = tape.var(2.0);
//! let w = tape.vars(&[1.0, 1e16, -1e16]);
//! let b = tape.vars(&[0.0; 3]);
//! let h: Vec<_> = (0..3).map(|j| w[j] * x + b[j]).collect();
//! let loss = h[0] + h[1] + h[2];
//! // The tape adds x's contributions −1e16, 1e16, then 1: exactly 1.
//! assert_eq!(loss.backward()[x], 1.0);
//! let mut program = tape.compile(&[loss])?;
//! program.forward();
//! program.backward();
//! // Replayed, h[0] is fused into the loss's weighted sum, and the same three
//! // contributions come in another order: 1 + 1e16 rounds to 1e16, then −1e16.
//! assert_eq!(program.gradients()[0], 0.0);
//! # Ok::<(), chainrule::replay::CompileError>(())
//! ```
//!
//! Second, with several outputs compiled, [`Program::backward`] (from output
//! 0) also sweeps the nodes on a path to another output only, which the tape's
//! sweep from output 0 never visits: their adjoint is 0, so one with an
//! infinite or NaN partial passes 0 · ∞ = NaN:
//!
//! ```
//! let tape = chainrule::Tape::for_replay();
//! let x = tape.var(0.0);
//! let (y0, y1) = (x * 3.0, x.sqrt()); // √′(0) = ∞
//! assert_eq!(y0.backward()[x], 3.0);
//! let mut program = tape.compile(&[y0, y1])?;
//! program.backward();
//! assert!(program.gradients()[0].is_nan());
//! let mut alone = tape.compile(&[y0])?; // y0 alone: as the tape
//! alone.backward();
//! assert_eq!(alone.gradients(), &[3.0]);
//! # Ok::<(), chainrule::replay::CompileError>(())
//! ```
//!
//! # What compiling does
//!
//! Four passes, each of which [`CompileOptions`] can turn off (to measure it):
//!
//! - **constant folding**: a node that depends on no leaf (a
//!   [`constant`](crate::Var::constant), an op on constants) keeps its recorded
//!   value and runs no instruction;
//! - **dead-code elimination**: only the nodes the requested outputs depend on
//!   are kept;
//! - **weighted sums**: a chain of `+` (and `−`, and `+ c`) whose terms are
//!   products `a * b` or `a * c`, each used by the chain alone, becomes one
//!   weighted-sum (dot) instruction over runs of consecutive slots, summed in the
//!   recorded order (so the value to the same bits; the gradients of a leaf
//!   used by several terms add its contributions in another order than the
//!   tape's sweep, so to a few ulps); a product of two variables
//!   subtracted (`− a * b`) stays an instruction of its own, a term of the sum;
//! - **neurons**: a weighted sum under σ, tanh or relu becomes one neuron
//!   instruction, as [`Var::neuron`](crate::Var::neuron) records it (but for
//!   its non-finite policy: a relu over plain operators masks its own edge
//!   alone, as they do, where `Var::neuron`'s masks every edge; see
//!   [`CompileOptions`]); then
//!   consecutive neurons (or weighted sums) of one shape, the same activation
//!   over the same inputs with their weights at a fixed stride (a layer of a
//!   network), become one layer instruction, which runs each of them as its own
//!   instruction would. Layers of four neurons or more are fused, and small
//!   ones of two or three neurons of one to four terms (the two layers of two
//!   of a 2-2-2 network): those run with their shape fixed at compile time,
//!   one bounds check a run of slots, the inputs and their adjoints held in
//!   registers. A program of such small layers, weighted sums of up to four
//!   terms and losses of two squared errors alone (a 2-2-2 network and its
//!   loss) runs by loops of its own, which reach each layer's kernel, its activation included, by one jump, and index its
//!   slots (at most 64, checked once when compiling) without bounds checks.
//!
//! So `w1 * i1 + w2 * i2 + b` then `.sigmoid()`, five nodes on the tape, is one
//! instruction, and plain-operator code replays as fast as the fused spelling.
//! [`Program::stats`] tells what each pass did.
//!
//! # Native code (feature `jit`)
//!
//! With the `jit` feature, [`Program::native`] turns a program into a
//! [`Native`]: its instructions unrolled, at run time, into two straight-line
//! machine-code functions (forward and backward) by
//! [cranelift](https://cranelift.dev), with the program's methods for inputs,
//! passes and results (`set_inputs`, `inputs_mut`, `forward`, `backward`,
//! `gradients`, `output`). There is no
//! loop, no dispatch and no adjoint array to zero: each value, partial and
//! adjoint has its place fixed when generating, the adjoints live in
//! registers. The float operations are the interpreter's, in its order
//! (cranelift fuses no multiply-add unless asked), and the activations and the
//! other ops call the very Rust functions the interpreter calls, so a native
//! program replays to the interpreter's bits (which NaN aside, its sign and
//! payload: which of two
//! NaN operands an addition passes on depends on the operand order the code
//! generator picks).
//!
//! - The 2-2-2 sigmoid network of the step-by-step backpropagation example,
//!   written with plain operators: about 0.5 ms to generate;
//!   then a training step executes 482 instructions against the interpreter's
//!   754 and the hand-coded step's 348, four calls to `exp` (204
//!   instructions) in each (callgrind: `examples/record_cost.rs` modes `w1n`,
//!   `w1r` and `w1h`, built with `--features jit`; the interpreter took 1,047
//!   before its small-program path).
//! - Supported: every instruction but the n-ary ones (logsumexp and the fused
//!   losses: [`NativeError::Unsupported`] names the first), up to
//!   [`MAX_TERMS`] terms: the code grows with the program, and past that the
//!   compile time outweighs the gain ([`NativeError::TooLarge`]). Below it,
//!   wide neurons and layers still run slower unrolled than in the
//!   interpreter's vectorised loops (a 2-16-16-1 relu MLP 2.2 µs a pass
//!   against 0.87), and a layer's compile grows faster than its terms (see
//!   [`MAX_TERMS`]): native code pays on small programs such as that 2-2-2
//!   network. A 2-16-16-1 tanh MLP's loss over 100 points (402 instructions
//!   but 30,901 terms) stays on the interpreter: unrolled, it ran 3.3 times slower than the
//!   interpreter's layer loops, its code far larger than the instruction
//!   cache.
//! - On x86-64 Unix hosts only (elsewhere [`NativeError::Codegen`]): the
//!   callbacks' calling convention is checked there.
//! - A `Native` owns its code and is freed on drop; it is neither `Send` nor
//!   `Sync`. Its `unsafe` code (calling the generated functions) carries its
//!   proof in `src/replay/native/mod.rs`.
//!
//! ```
//! # #[cfg(feature = "jit")] {
//! let tape = chainrule::Tape::for_replay();
//! let w = tape.vars(&[0.5, -0.25]);
//! let loss = ((w[0] * 2.0 + w[1] * 3.0).tanh() - 0.5).square();
//! let mut native = tape.compile(&[loss])?.native().expect("supported");
//! let mut params = [0.5, -0.25];
//! for _ in 0..100 {
//!     native.set_inputs(&params);
//!     native.forward();
//!     native.backward();
//!     for (p, g) in params.iter_mut().zip(native.gradients()) {
//!         *p -= 0.1 * g;
//!     }
//! }
//! assert!(native.output(0) < 1e-6);
//! # }
//! # Ok::<(), chainrule::replay::CompileError>(())
//! ```
//!
//! # Control flow is frozen at recording time
//!
//! A program replays the ops that were recorded. Rust control flow that depends
//! on values (`if x > 0.0 { … } else { … }` on a `Var`'s value, a loop that runs
//! until a value converges, an index computed from a value) ran once, while
//! recording; the replay takes the same path at every input, as JAX's `jit`
//! traces once and CppAD's `ADFun` replays its operation sequence. The ops'
//! own branches move with the inputs (relu, abs, max, min, clamp, and the kinks
//! and domain edges of the other ops). Where your function branches on values,
//! record again each step, or check with [`Program::check`], which replays at
//! given inputs, records your function afresh at the same inputs, and names the
//! first node that differs among those the outputs depend on.
//!
//! A gradient recorded with [`Tape::grad`] branches where the ops do: a
//! kink's partial away from its kink (relu, abs, leaky_relu, max, min, max or
//! min with a constant, clamp) is recorded as an expression of the quantity
//! whose sign picks the branch (abs′(x) as signum(x), relu′(x) as
//! relu(signum(x)), ∂max(a, b)/∂a as relu(signum(a − b)), …; see
//! [`Tape::grad`]), relu's masked edge included, so a compiled gradient
//! picks the branch afresh at every input, as a fresh recording there does.
//! What stays frozen, as recorded: the convention at a kink itself (recorded
//! at x = 0, relu′ is 0 at every input; replayed exactly at a kink, the
//! branch of the zero's sign, where a fresh recording gives the convention);
//! a kink op whose partials below are infinite or NaN at the recording point,
//! or whose masked edge meets an infinite or NaN adjoint (or one with such
//! partials below it), which keep the
//! branch's constant (an expression would turn the next order's exact 0 into
//! 0·∞ there); a kink op over a constant the tape did not keep; a fused relu
//! neuron ([`Var::neuron`](crate::Var::neuron) with [`Activation::Relu`](crate::Activation::Relu));
//! `pow`'s ∂/∂y at a base of 0, the constant 0; silu′ recorded past
//! |x| = 708, where it is one of its tails, (1 + x)·e^x or 1 + (x − 1)·e^−x,
//! each equal to silu′ only that far out (replayed at 0 they give 1, not ½);
//! and any partial recorded at
//! an infinite input, where it is its limit as a constant (hypot's at
//! (∞, 1) are (1, 0) at every input replayed, tanh′ at ∞ is 0, atan2's at
//! (1, −∞) are (0, 0)): record a gradient at finite inputs to replay it. A
//! smooth function's gradient recorded at finite inputs (silu's past ±708
//! aside) replays right (up to the rounding of the expressions
//! chosen for the recording point: σ′ is recorded as σ(x)·σ(−x) away from 0
//! and through cosh near it, see [`crate::higher`]; tanh′ past |x| = 20 as
//! 4u/(1 + u)² with u = e^−2|x|, and arctan′ past 2^512 as (1/x)/(x + 1/x),
//! each the same function as near 0, finite on the other side while u and
//! 1/x are). Two more limits of replaying a recorded gradient far from where
//! it was recorded, found by scanning every unary and binary op's compiled
//! gradient against fresh recordings from −1e300 to 1e300: `logsumexp`'s
//! softmax is shifted by the largest input at the recording point (a
//! constant, as [`Var::logsumexp`](crate::Var::logsumexp)'s own partials
//! are, for their precision), so replayed where every input is some 745
//! below it, or one is 709 above it, its weights are 0/0 or ∞/∞, NaN
//! (recorded at (−800, −30), replayed at (−800, 800)); and a partial recorded
//! inside an op's domain is its expression outside it, a number where a
//! fresh recording has NaN (`pow`'s at a negative base with a non-integer
//! exponent, artanh′ past ±1). [`Program::check`] names the node in either
//! case. The expressions chosen for the recording point can also overflow
//! far from it, NaN where a fresh recording has a number: tanh′ recorded
//! past 20, replayed beyond about 354 on the other side (recorded at 21,
//! replayed at −400: u = e^800 overflows; a fresh recording gives 0); and
//! second derivatives (a [`Tape::grad`] of a [`Tape::grad`]), whose
//! expressions are those of the first derivative's partials at the
//! recording point: tanh″ recorded at 0.5 is NaN replayed at 800, σ″
//! recorded at 0.5 NaN at 1e10, for 0 both. `pow`'s ∂/∂x recorded by
//! [`Tape::grad`] where y − 1 is exact (at (0.5, 0.5)) and replayed at a
//! negative base with |y| ≥ 2^53 has the wrong sign (+1e16 at (−1, 1e16),
//! for −1e16): x^(y − 1) is replayed with y − 1 rounded to the even y.
//! At the ends of f64's range the recording point's scale is frozen too:
//! `hypot`'s partials recorded where h is subnormal (an operand 0 and the
//! other subnormal, or both subnormal) are taken on operands scaled by a
//! power of two fixed there, so replayed at large operands they are NaN or 0
//! (recorded at (0, 1e-310), ∂/∂x replayed at (1e300, 1e-300) is NaN for 1);
//! and `log`'s with a base recorded at a subnormal x or past 1e307, or near 1
//! for a base far from e, replayed near the other end of the range, can be 0
//! or ±∞ where a fresh recording has a number (base 2 recorded at 1.7e308,
//! replayed at 2.3e-308: ∞ for 6.3e307); `log2`'s alone is kept right there.
//! [`Program::check`] names a node in each of these cases: check a
//! program replayed far from where it was recorded. [`Program::check`]
//! compares the two recordings node by node, so it names a node where only
//! such an equal expression was chosen afresh, and one where only a zero's
//! sign was: an adjoint whose first contribution is −0 is recorded plus 0 (the
//! sweep's +0), at one point and not at the other.
//!
//! ```
//! use chainrule::{Tape, Var};
//!
//! // ∂(|x|·y)/∂x = sign(x)·y, recorded at x = 1: abs′ is recorded as signum(x).
//! fn gradient<'t>(tape: &'t Tape, at: &[f64]) -> Vec<Var<'t>> {
//!     let (x, y) = (tape.var(at[0]), tape.var(at[1]));
//!     tape.grad(x.abs() * y, &[x])
//! }
//! let tape = Tape::for_replay();
//! let mut program = tape.compile(&gradient(&tape, &[1.0, 2.0]))?;
//! program.set_inputs(&[-1.0, 2.0]);
//! program.forward();
//! assert_eq!(program.output(0), -2.0); // abs′(−1)·2: the branch taken afresh
//! assert!(program.check(&[-1.0, 2.0], gradient).is_ok()); // as a fresh recording
//! # Ok::<(), chainrule::replay::CompileError>(())
//! ```

mod build;
mod check;
mod exec;
#[cfg(feature = "jit")]
mod native;

#[cfg(feature = "jit")]
#[cfg_attr(docsrs, doc(cfg(feature = "jit")))]
pub use native::{Native, NativeError, MAX_TERMS};

use std::fmt;

use crate::tape::Tape;
use crate::var::Var;
pub use check::Divergence;

/// Which compile-time passes [`Tape::compile_with`] runs (all of them by
/// default, as [`Tape::compile`]). Turning one off changes the speed, never the
/// values: every combination replays to the same bits, and every combination
/// follows the tape's non-finite policy ([`crate::backward`]). Without
/// dead-code elimination the nodes no output depends on are kept and run
/// forward, but the backward pass skips them, as the tape's sweep does (rule
/// 1: `x.sqrt()` recorded on the side at 0 passes nothing, not 0 · ∞ = NaN).
/// A relu fused over plain operators masks the relu's edge alone, as the
/// operators recorded do (rule 3), so an infinite or NaN factor below it still
/// gives 0 · ∞ = NaN (rule 2); the tape's own fused relu neuron
/// ([`Var::neuron`](crate::Var::neuron)) masks every edge, as it does on the
/// tape. (Gradients may differ where a fused weighted sum adds one adjoint's
/// contributions in another order, by the rounding of that sum: the last bits
/// unless the contributions cancel, see the [module docs](self); and in the
/// sign of a zero gradient.)
///
/// ```
/// use chainrule::replay::CompileOptions;
/// let none = CompileOptions { fuse_dots: false, ..CompileOptions::default() };
/// assert!(!none.fuse_dots && none.fuse_neurons);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Keep only the nodes the outputs depend on.
    pub eliminate_dead_code: bool,
    /// Fold the nodes that depend on no leaf into constants.
    pub fold_constants: bool,
    /// Fuse chains of `+` and `−` over products into weighted sums, and the square
    /// of a unary op's result used nowhere else (`(o − t)²`) into one instruction.
    pub fuse_dots: bool,
    /// Fuse σ, tanh or relu of a weighted sum into one neuron, and runs of
    /// neurons (or weighted sums) of one shape over the same inputs into one
    /// layer instruction.
    pub fuse_neurons: bool,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            eliminate_dead_code: true,
            fold_constants: true,
            fuse_dots: true,
            fuse_neurons: true,
        }
    }
}

impl CompileOptions {
    /// Every pass off: one instruction per node recorded (but leaves and
    /// [`constant`](crate::Var::constant)s, which never run).
    ///
    /// ```
    /// let off = chainrule::replay::CompileOptions::none();
    /// assert!(!off.eliminate_dead_code && !off.fuse_neurons);
    /// ```
    #[must_use]
    pub fn none() -> Self {
        CompileOptions {
            eliminate_dead_code: false,
            fold_constants: false,
            fuse_dots: false,
            fuse_neurons: false,
        }
    }
}

/// What the compile-time passes did ([`Program::stats`]).
///
/// ```
/// let tape = chainrule::Tape::for_replay();
/// let w = tape.vars(&[1.0, 2.0, 3.0]);
/// let y = (w[0] * w[1] + w[2]).tanh(); // *, +, tanh: one neuron
/// let stats = tape.compile(&[y])?.stats();
/// assert_eq!((stats.nodes, stats.absorbed, stats.neuron_fusions), (6, 2, 1));
/// # Ok::<(), chainrule::replay::CompileError>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PassStats {
    /// Nodes read from the tape (up to the last output).
    pub nodes: usize,
    /// Nodes left out by dead-code elimination, leaves and constants not
    /// counted: nor the `Const` nodes, nor, with constant folding on, the
    /// nodes that depend on no leaf (those count in `folded`, dead or not).
    pub dead: usize,
    /// Nodes folded into constants: with constant folding on, every node but
    /// a `Const` that depends on no leaf, whether an output depends on it or
    /// not (one no output depends on is counted here, not in `dead`).
    pub folded: usize,
    /// Nodes absorbed into a weighted sum or a neuron.
    pub absorbed: usize,
    /// Weighted sums made from plain operators.
    pub dot_fusions: usize,
    /// Neurons made from a plain operators' weighted sum and its activation.
    pub neuron_fusions: usize,
    /// Instructions in the program (a layer counts one).
    pub instructions: usize,
    /// Layers: runs of neurons (or weighted sums) of one shape over the same
    /// inputs, fused into one instruction each (with the neuron pass).
    pub layers: usize,
    /// Weighted sums among them (plain or recorded fused; those in a layer
    /// counted one by one).
    pub dots: usize,
    /// Neurons among them (plain or recorded fused; those in a layer counted
    /// one by one).
    pub neurons: usize,
}

/// Why [`Tape::compile`] could not compile.
///
/// ```
/// use chainrule::{replay::CompileError, Op, Tape};
/// let tape = Tape::new(); // does not keep constants
/// let x = tape.var(1.0);
/// let err = tape.compile(&[x / 3.0]).unwrap_err();
/// assert_eq!(err, CompileError::MissingConstant { node: 1, op: Op::DivConst });
/// assert!(err.to_string().contains("Tape::for_replay()"));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum CompileError {
    /// No output was given.
    NoOutputs,
    /// An output is a `Var` of another tape.
    ForeignOutput {
        /// The output's node index (on its own tape).
        index: usize,
    },
    /// The `f64` constant of a node an output depends on was not kept: the
    /// tape was not recording for replay ([`Tape::set_keep_constants`]) when
    /// the node was recorded. (A node no output depends on may lack it: it
    /// is left out of the program, with dead-code elimination off too.)
    MissingConstant {
        /// The node.
        node: usize,
        /// Its op.
        op: crate::Op,
    },
    /// The tape has `u32::MAX` edges or more (stored, implied by `+`, `−`,
    /// `·` and unary ops, or over neuron runs), which a program, numbering
    /// them with `u32`, cannot hold: only a tape of billions of edges can.
    TooManyEdges {
        /// The tape's edges.
        edges: usize,
    },
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::NoOutputs => f.write_str("chainrule: compile needs at least one output"),
            CompileError::ForeignOutput { index } => write!(
                f,
                "chainrule: compile was given an output of another tape (node #{index} of \
                 that tape)"
            ),
            CompileError::MissingConstant { node, op } => write!(
                f,
                "chainrule: node #{node} ({op}) has an f64 constant that the tape did not keep, \
                 so it cannot be replayed; record on Tape::for_replay() (or call \
                 tape.set_keep_constants(true) before recording)"
            ),
            CompileError::TooManyEdges { edges } => write!(
                f,
                "chainrule: compile numbers a tape's edges with u32, and this tape has {edges} \
                 edges (u32::MAX or more); compile a smaller recording"
            ),
        }
    }
}

impl std::error::Error for CompileError {}

impl Tape {
    /// Compiles the recording up to `outputs` into a [`Program`] that replays it
    /// at new leaf values, with every pass of [`CompileOptions`] (see
    /// [`crate::replay`]). The program owns its data: the tape can be cleared or
    /// dropped after.
    ///
    /// Record on a tape that keeps its constants ([`Tape::for_replay`]). Rust
    /// control flow that depends on values is frozen at recording time (see
    /// [`crate::replay`]).
    ///
    /// # Errors
    /// [`CompileError::NoOutputs`] for no outputs, [`CompileError::ForeignOutput`]
    /// for a `Var` of another tape, [`CompileError::MissingConstant`] if the
    /// constant of a node an output depends on was not kept.
    ///
    /// # Complexity
    /// O(nodes + edges) time and memory, up to the last output, but for one
    /// case of the layer pass (`CompileOptions::fuse_neurons`): a run of
    /// consecutive neurons (or weighted sums) of one shape and pattern that no
    /// layer may cover, because the neuron d places down the run reads the
    /// output of one before it, or the run's inputs, with d > 1 (`y[j] =
    /// tanh(y[j − d] · x)` for j past d), is searched from each of its neurons
    /// up to d neurons on: O(run · d · terms) for that run, quadratic for d
    /// about the run's length (4,000, 8,000, 16,000 such neurons with d = n/8:
    /// 0.04, 0.13, 0.49 s). At d = 1 (`y = tanh(y · x)` repeated) it stays
    /// linear.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(2.0);
    /// let y = (x * 3.0 + 1.0).relu();
    /// let mut program = tape.compile(&[y])?;
    /// program.set_inputs(&[-1.0]);
    /// program.forward();
    /// program.backward();
    /// assert_eq!((program.output(0), program.gradient(x.index())), (0.0, 0.0));
    ///
    /// let plain = chainrule::Tape::new(); // does not keep constants
    /// let x = plain.var(2.0);
    /// assert!(plain.compile(&[x + 1.0]).is_err());
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn compile(&self, outputs: &[Var<'_>]) -> Result<Program, CompileError> {
        self.compile_with(outputs, CompileOptions::default())
    }

    /// [`compile`](Tape::compile) with the passes chosen by `options`.
    ///
    /// # Errors
    /// As [`compile`](Tape::compile).
    ///
    /// # Complexity
    /// As [`compile`](Tape::compile): O(nodes + edges), but for the case of
    /// the layer pass it names.
    ///
    /// ```
    /// use chainrule::replay::CompileOptions;
    /// let tape = chainrule::Tape::for_replay();
    /// let w = tape.vars(&[1.0, 2.0, 3.0]);
    /// let y = (w[0] * w[1] + w[2]).tanh();
    /// let fused = tape.compile(&[y])?;
    /// let plain = tape.compile_with(&[y], CompileOptions::none())?;
    /// assert_eq!(fused.stats().instructions, 1); // one neuron
    /// assert_eq!(plain.stats().instructions, 3); // *, +, tanh
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn compile_with(
        &self,
        outputs: &[Var<'_>],
        options: CompileOptions,
    ) -> Result<Program, CompileError> {
        if outputs.is_empty() {
            return Err(CompileError::NoOutputs);
        }
        if let Some(foreign) = outputs.iter().find(|o| !std::ptr::eq(o.tape, self)) {
            return Err(CompileError::ForeignOutput {
                index: foreign.index(),
            });
        }
        let nodes: Vec<u32> = outputs.iter().map(|o| o.index).collect();
        let graph = self.recording.read(|rec| build::Graph::read(rec, &nodes))?;
        Ok(Program::new(graph, &nodes, options))
    }
}

/// A compiled recording: forward and backward at new leaf values, no recording.
/// Made by [`Tape::compile`]; see [`crate::replay`].
///
/// The leaves of the recording (up to the last output) are the program's
/// *inputs*, in recording order: set them ([`set_inputs`](Program::set_inputs),
/// [`inputs_mut`](Program::inputs_mut), [`set_input`](Program::set_input) by
/// node index), run [`forward`](Program::forward), read
/// [`output`](Program::output), run [`backward`](Program::backward), read
/// [`gradients`](Program::gradients) (in input order) or
/// [`gradient`](Program::gradient) by node index. A new program holds the
/// recorded values, forward already run.
///
/// ```
/// let tape = chainrule::Tape::for_replay();
/// let [a, b] = tape.var_array([1.0, 2.0]);
/// let y = a.max(b) * 10.0;
/// let mut program = tape.compile(&[y])?;
/// program.set_inputs(&[5.0, 2.0]); // now a wins: max picks its branch afresh
/// program.forward();
/// program.backward();
/// assert_eq!(program.output(0), 50.0);
/// assert_eq!(program.gradients(), &[10.0, 0.0]);
/// # Ok::<(), chainrule::replay::CompileError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Program {
    code: exec::Code,
    state: exec::State,
    /// The inputs as set ([`Program::set_inputs`], [`Program::inputs_mut`]),
    /// copied into the input slots by each forward pass, and only by it: a
    /// backward pass runs at the inputs of the last forward pass, whatever was
    /// set since (the slots' values, which the weighted sums' and products'
    /// backward passes read, stay those the forward pass computed with).
    inputs: Vec<f64>,
    /// Slots `0..leaves` are the inputs, then one slot per instruction's result
    /// (whose adjoint a backward pass leaves at zero), then the constants (whose
    /// adjoints are scratch).
    leaves: usize,
    /// The first constant slot.
    #[cfg_attr(not(feature = "jit"), allow(dead_code))]
    first_constant: usize,
    /// Whether backward zeroes the inputs' adjoints as the first [`ZEROED`]
    /// slots' (at most that many inputs, at least that many slots).
    zero_run: bool,
    /// The output whose seed a small program's backward pass takes in a
    /// register (see `exec::seeded_in_register`).
    seed_in_register: Option<usize>,
    outputs: Vec<u32>,
    leaf_nodes: Vec<u32>,
    output_nodes: Vec<u32>,
    /// The recording compiled, for [`Program::check`].
    graph: build::Graph,
    slot_of: Vec<u32>,
    stats: PassStats,
}

impl Program {
    fn new(graph: build::Graph, outputs: &[u32], options: CompileOptions) -> Program {
        let built = build::build(&graph, outputs, options);
        let leaves = built.leaf_nodes.len();
        let computed = built.first_constant as usize;
        let slots = computed + built.constants.len();
        // A small program's arrays are padded (see `exec::PADDED`).
        let padded = if built.code.small.is_empty() {
            slots
        } else {
            slots.max(exec::PADDED)
        };
        let mut values = vec![0.0; padded];
        for (k, &leaf) in built.leaf_nodes.iter().enumerate() {
            values[k] = graph.values[leaf as usize];
        }
        values[computed..slots].copy_from_slice(&built.constants);
        let state = exec::State {
            values,
            d: vec![0.0; padded],
            d2: vec![0.0; padded],
            dn: vec![0.0; built.code.args.len()],
            adjoints: vec![0.0; padded],
        };
        let seed_in_register = exec::seeded_in_register(&built.code.small, &built.outputs);
        let mut program = Program {
            code: built.code,
            inputs: state.values[..leaves].to_vec(),
            state,
            leaves,
            first_constant: computed,
            zero_run: leaves <= ZEROED && padded >= ZEROED,
            seed_in_register,
            outputs: built.outputs,
            leaf_nodes: built.leaf_nodes,
            output_nodes: outputs.to_vec(),
            graph,
            slot_of: built.slot_of,
            stats: built.stats,
        };
        program.forward();
        program
    }

    /// The number of inputs (the recording's leaves up to the last output).
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let w = tape.vars(&[1.0, 2.0]);
    /// let program = tape.compile(&[w[0] * w[1]])?;
    /// assert_eq!(program.input_count(), 2);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn input_count(&self) -> usize {
        self.leaves
    }

    /// The inputs' current values, in recording order.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let w = tape.vars(&[1.0, 2.0]);
    /// let program = tape.compile(&[w[0] + w[1]])?;
    /// assert_eq!(program.inputs(), &[1.0, 2.0]);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[inline]
    pub fn inputs(&self) -> &[f64] {
        &self.inputs
    }

    /// The inputs, to write in place (then run [`forward`](Program::forward)).
    /// As with [`set_inputs`](Program::set_inputs), what is written takes effect
    /// at the next forward pass.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let w = tape.vars(&[1.0, 2.0]);
    /// let mut program = tape.compile(&[w[0] + w[1]])?;
    /// program.inputs_mut()[1] = 10.0;
    /// program.forward();
    /// assert_eq!(program.output(0), 11.0);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[inline]
    pub fn inputs_mut(&mut self) -> &mut [f64] {
        &mut self.inputs
    }

    /// Sets every input, in recording order.
    ///
    /// The inputs take effect at the next [`forward`](Program::forward): until
    /// then the outputs, the values, and a [`backward`](Program::backward) pass
    /// are those of the last forward pass, at the inputs it ran at.
    ///
    /// # Panics
    /// If `values.len()` is not [`input_count`](Program::input_count).
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let w = tape.vars(&[1.0, 2.0]);
    /// let mut program = tape.compile(&[w[0] * w[1]])?;
    /// program.set_inputs(&[3.0, 4.0]);
    /// program.forward();
    /// assert_eq!(program.output(0), 12.0);
    ///
    /// // Inputs set after a forward pass wait for the next one.
    /// program.set_inputs(&[5.0, 6.0]);
    /// program.backward();
    /// assert_eq!(program.gradients(), &[4.0, 3.0]); // at (3, 4)
    /// assert_eq!(program.output(0), 12.0);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[track_caller]
    #[inline]
    pub fn set_inputs(&mut self, values: &[f64]) {
        if values.len() != self.leaves {
            wrong_input_count(values.len(), self.leaves);
        }
        self.inputs.copy_from_slice(values);
    }

    /// The position among the inputs of leaf node `node` (its `Var::index()` on
    /// the recording tape), or `None` if it is not a leaf of the program.
    ///
    /// # Complexity
    /// O(log inputs).
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let a = tape.var(1.0);
    /// let y = a * 2.0;
    /// let b = tape.var(5.0);
    /// let program = tape.compile(&[y + b])?;
    /// assert_eq!(program.input_position(b.index()), Some(1));
    /// assert_eq!(program.input_position(y.index()), None);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn input_position(&self, node: usize) -> Option<usize> {
        let node = u32::try_from(node).ok()?;
        self.leaf_nodes.binary_search(&node).ok()
    }

    /// Sets the input made as leaf node `node` (its `Var::index()`), to take
    /// effect at the next forward pass (as [`set_inputs`](Program::set_inputs)).
    ///
    /// # Panics
    /// If `node` is not a leaf of the program.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(1.0);
    /// let mut program = tape.compile(&[x.exp()])?;
    /// program.set_input(x.index(), 0.0);
    /// program.forward();
    /// assert_eq!(program.output(0), 1.0);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[track_caller]
    pub fn set_input(&mut self, node: usize, value: f64) {
        let k = self.leaf(node);
        self.inputs[k] = value;
    }

    #[track_caller]
    fn leaf(&self, node: usize) -> usize {
        match self.input_position(node) {
            Some(k) => k,
            None => panic!(
                "chainrule: node #{node} is not an input of this program (its inputs are the \
                 recording's leaves up to the last output: {} of them)",
                self.leaves
            ),
        }
    }

    /// Runs the program forward at the current inputs: every value and local
    /// partial.
    ///
    /// # Complexity
    /// O(instructions + terms), no allocation.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(0.0);
    /// let mut program = tape.compile(&[x.sigmoid()])?;
    /// program.set_inputs(&[1000.0]);
    /// program.forward();
    /// assert_eq!(program.output(0), 1.0);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[inline]
    pub fn forward(&mut self) {
        self.state.values[..self.leaves].copy_from_slice(&self.inputs);
        if self.code.small.is_empty() {
            exec::forward(&self.code, &mut self.state);
        } else {
            exec::forward_small(&self.code.small, &mut self.state);
        }
    }

    /// The value of output `k` (in the order given to `compile`) after the last
    /// [`forward`](Program::forward).
    ///
    /// # Panics
    /// If there is no output `k`.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(3.0);
    /// let program = tape.compile(&[x * 2.0, x * 4.0])?;
    /// assert_eq!((program.output(0), program.output(1)), (6.0, 12.0));
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[track_caller]
    #[inline]
    pub fn output(&self, k: usize) -> f64 {
        match self.outputs.get(k) {
            Some(&slot) => self.state.values[slot as usize],
            None => no_output(k, self.outputs.len()),
        }
    }

    /// The number of outputs.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(3.0);
    /// assert_eq!(tape.compile(&[x.exp(), x.ln()])?.output_count(), 2);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn output_count(&self) -> usize {
        self.outputs.len()
    }

    /// The replayed value of node `node` of the recording, if the program keeps
    /// one: `None` for a node folded into a weighted sum or a neuron, left out
    /// as dead code (or, with dead-code elimination off, for lack of its
    /// constant on the way to no output), for a constant
    /// ([`Op::Const`](crate::Op::Const)) that no instruction reads (one only
    /// a constant-folded node reads, which keeps its recorded value), and
    /// past the last output.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(3.0);
    /// let y = x.square();
    /// let program = tape.compile(&[y.exp()])?;
    /// assert_eq!(program.value(y.index()), Some(9.0));
    ///
    /// let c = x.constant(2.0);
    /// let folded = c * 5.0; // constant folding: no instruction reads c
    /// let program = tape.compile(&[x * folded])?;
    /// assert_eq!(program.value(folded.index()), Some(10.0));
    /// assert_eq!(program.value(c.index()), None);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn value(&self, node: usize) -> Option<f64> {
        let slot = *self.slot_of.get(node)?;
        (slot != u32::MAX).then(|| self.state.values[slot as usize])
    }

    /// One reverse sweep from output 0: ∂output₀/∂input for every input, at the
    /// inputs of the last [`forward`](Program::forward).
    ///
    /// # Non-finite values
    /// As the tape's sweep ([`crate::backward`]), under every
    /// [`CompileOptions`]: IEEE products, a select op's unselected operand gets
    /// exactly 0 (one edge masked, not what lies below it), and a node on no
    /// path from an output passes nothing. (One difference: dead code is
    /// eliminated against every output compiled, so with several outputs, a
    /// node on a path to another output only, with an infinite or NaN
    /// partial, passes 0 · ∞ = NaN (or 0 · NaN) where the tape would pass
    /// nothing.)
    ///
    /// # Complexity
    /// O(instructions + terms), no allocation.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(3.0);
    /// let mut program = tape.compile(&[x * x])?;
    /// program.backward();
    /// assert_eq!(program.gradients(), &[6.0]);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[inline]
    pub fn backward(&mut self) {
        // Output 0 seeded with 1: the others' seeds, 0, would add 0 to adjoints
        // that are 0 (or scratch, a folded constant's).
        self.seed_and_sweep(1, |_| 1.0);
    }

    /// One reverse sweep from every output, output `k` seeded with `seeds[k]`:
    /// the vector-Jacobian product Σₖ seedₖ · ∂outputₖ/∂input.
    ///
    /// # Panics
    /// If `seeds.len()` is not [`output_count`](Program::output_count).
    ///
    /// # Complexity
    /// O(instructions + terms).
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(3.0);
    /// let mut program = tape.compile(&[x * 2.0, x * 5.0])?;
    /// program.backward_with(&[1.0, 1.0]);
    /// assert_eq!(program.gradients(), &[7.0]);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[track_caller]
    pub fn backward_with(&mut self, seeds: &[f64]) {
        if seeds.len() != self.outputs.len() {
            wrong_seed_count(seeds.len(), self.outputs.len());
        }
        self.seed_and_sweep(self.outputs.len(), |k| seeds[k]);
    }

    /// Zeroes the inputs' adjoints, seeds the first `seeded` outputs' with
    /// `seed(k)`, and sweeps.
    #[inline(always)]
    fn seed_and_sweep(&mut self, seeded: usize, seed: impl Fn(usize) -> f64) {
        let adjoints = &mut self.state.adjoints;
        // The instructions' adjoints are zero already: every backward pass zeroes
        // each one as it reads it. Only the inputs' need zeroing. With few
        // inputs, a fixed run of slots from 0 is zeroed, without a call to
        // `memset`: the instructions' slots in it are zero already, and the
        // constants' adjoints are scratch.
        match adjoints.first_chunk_mut::<ZEROED>() {
            Some(first) if self.zero_run => *first = [0.0; ZEROED],
            _ => adjoints[..self.leaves].fill(0.0),
        }
        // (Only where the small loops run: the loops over `Instr`s read every
        // seed from its slot.)
        let in_register = if self.code.small.is_empty() {
            None
        } else {
            self.seed_in_register.filter(|&k| k < seeded)
        };
        for (k, &slot) in self.outputs[..seeded].iter().enumerate() {
            if Some(k) != in_register {
                adjoints[slot as usize] += seed(k);
            }
        }
        if self.code.small.is_empty() {
            exec::backward(&self.code, &mut self.state);
        } else {
            // Its adjoint is 0 + seed, as the slot's would be.
            let seed = in_register.map(|k| 0.0 + seed(k));
            exec::backward_small(&self.code.small, &mut self.state, seed);
        }
    }

    /// The gradient of every input after the last backward pass, in input order.
    ///
    /// These are what the last [`backward`](Program::backward) (or
    /// `backward_with`) computed: before the first, zeros; after
    /// [`set_inputs`](Program::set_inputs) and [`forward`](Program::forward)
    /// without a `backward`, the gradients at the inputs before. Nothing checks
    /// that a backward pass ran since (a training step runs forward then
    /// backward then reads these; a check on each read would cost it).
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let w = tape.vars(&[2.0, 3.0]);
    /// let mut program = tape.compile(&[w[0] * w[1]])?;
    /// program.backward();
    /// assert_eq!(program.gradients(), &[3.0, 2.0]);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[inline]
    pub fn gradients(&self) -> &[f64] {
        &self.state.adjoints[..self.leaves]
    }

    /// The gradient of the input made as leaf node `node` (its `Var::index()`).
    ///
    /// # Panics
    /// If `node` is not a leaf of the program.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(2.0);
    /// let mut program = tape.compile(&[x.powi(3)])?;
    /// program.backward();
    /// assert_eq!(program.gradient(x.index()), 12.0);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    #[track_caller]
    pub fn gradient(&self, node: usize) -> f64 {
        self.state.adjoints[self.leaf(node)]
    }

    /// What the compile-time passes did.
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let w = tape.vars(&[1.0, 2.0, 3.0, 4.0]);
    /// let _unused = w[0].exp();
    /// let y = (w[0] * w[1] + w[2] * w[3]).sigmoid();
    /// let stats = tape.compile(&[y])?.stats();
    /// assert_eq!((stats.dead, stats.instructions, stats.neurons), (1, 1, 1));
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn stats(&self) -> PassStats {
        self.stats
    }

    /// Bytes the program holds (code, values, partials, adjoints and the
    /// recording kept for [`check`](Program::check)).
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(1.0);
    /// assert!(tape.compile(&[x.exp()])?.memory_bytes() > 0);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        let g = &self.graph;
        self.inputs.capacity() * 8
            + self.code.instrs.capacity() * size_of::<exec::Instr>()
            + self.code.segments.capacity() * size_of::<exec::Segment>()
            + self.code.small.capacity() * size_of::<exec::Small>()
            + self.code.args.capacity() * 4
            + self.code.targets.capacity() * 8
            + (self.state.values.capacity()
                + self.state.d.capacity()
                + self.state.d2.capacity()
                + self.state.dn.capacity()
                + self.state.adjoints.capacity())
                * 8
            + g.ops.capacity() * size_of::<crate::Op>()
            + (g.values.capacity() + g.first_partial.capacity() + g.constants.capacity()) * 8
            + (g.starts.capacity() + g.operands.capacity() + g.const_starts.capacity()) * 4
            + (self.slot_of.capacity() + self.leaf_nodes.capacity()) * 4
    }
}

/// The slots whose adjoints a backward pass zeroes in one run when the
/// inputs are among them (see [`Program::backward`]).
const ZEROED: usize = 16;

/// The panic of `set_inputs` (of a [`Program`] or a native one) given the wrong
/// number of values.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn wrong_input_count(given: usize, inputs: usize) -> ! {
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    panic!(
        "chainrule: set_inputs was given {given} {} for a program of {inputs} {}",
        plural(given, "value", "values"),
        plural(inputs, "input", "inputs")
    )
}

/// The panic of [`Program::output`] given no output `k`.
#[cold]
#[inline(never)]
#[track_caller]
fn no_output(k: usize, outputs: usize) -> ! {
    let outs = crate::plural(outputs, "output", "outputs");
    panic!("chainrule: no output {k}: the program has {outputs} {outs}")
}

/// The panic of `backward_with` (of a [`Program`] or a native one) given the
/// wrong number of seeds.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn wrong_seed_count(given: usize, outputs: usize) -> ! {
    let (seeds, outs) = (
        crate::plural(given, "seed", "seeds"),
        crate::plural(outputs, "output", "outputs"),
    );
    panic!("chainrule: backward_with was given {given} {seeds} for a program of {outputs} {outs}")
}
