//! Benchmark your own function: what taping costs on your code, side by side
//! with the function alone and with your hand-coded gradient.
//!
//! Write the function once, generic over [`Scalar`] (so the same source runs on
//! `f64` and records on [`Var`]), as a [`Function`]. [`Bench`] then:
//!
//! 1. checks the taped gradient against your hand-coded one, if you give one
//!    (|ours − reference| ≤ 1e-9·|reference| by default, plus an absolute floor
//!    of 1e-12 times the gradient's largest partial, for a partial of 0 against
//!    rounding, plus the tape's own rounding of each taped partial: the
//!    sweep's bound on it,
//!    [`Gradients::rounding_bound`](crate::Gradients::rounding_bound), of
//!    either sign; a partial whose sign is the reference's opposite is held to
//!    4 times that bound instead of the floor, and never confirmed; an
//!    infinite reference is
//!    matched by the same infinity only), and the replayed gradient
//!    ([`crate::replay`]) against the taped one, at the one point given: a
//!    slip that vanishes there (a wrong term that is 0 at that point) is not
//!    seen, as [`gradcheck`](crate::gradcheck) at several points would see it.
//!    A hand partial that agrees with the tape only within the tape's own
//!    rounding passes but is not confirmed: the check cannot tell it from a
//!    slip, and the report says so ([`Report::unconfirmed`], a note under the
//!    table, `unconfirmed` in the JSON). x³ − (x − 1)³ at 1e10: an exact
//!    6x − 3 is 22,525 from the taped partial, within its bound of ~8e5;
//!    x₀·x₁ + x₀·1e17 − x₀·1e17 at (1, 16): the taped ∂f/∂x₀ is an exact 16,
//!    but its bound, 311, covers −16 and 32 as well. The bound does not cover the forward pass's rounding:
//!    where f's formulas cancel, the taped partial can be further off than it
//!    and an exact hand partial is refused; the refusal then says only that
//!    the two differ by more than the tolerance plus the bound, not which one
//!    is wrong ([`Bench::absolute_tolerance`] can allow for it);
//! 2. times four variants interleaved, round after round (the order rotating
//!    each round), and takes each one's median: **primal** (the function on
//!    `f64`), **taped** (recorded and swept on one reused tape), **replayed**
//!    (recorded once, [compiled](crate::Tape::compile), then forward and
//!    backward only) and **hand-coded**;
//! 3. reports a table ([`Report`]'s `Display`) and JSON ([`Report::to_json`]):
//!    time per call, ratios to primal and to hand-coded, the nodes (leaves
//!    included) and edges one recording makes, and bytes per node of the tape
//!    and of the compiled program.
//!
//! ```
//! use chainrule::bench::{Bench, Function};
//! use chainrule::Scalar;
//!
//! /// The Rosenbrock function in n dimensions.
//! struct Rosenbrock;
//! impl Function for Rosenbrock {
//!     fn eval<T: Scalar>(&self, x: &[T]) -> T {
//!         // (1 − xᵢ as −xᵢ + 1: generic code has `T + f64`, not `f64 − T`.)
//!         let term = |i: usize| (x[i + 1] - x[i] * x[i]).square() * 100.0 + (-x[i] + 1.0).square();
//!         let mut sum = term(0);
//!         for i in 1..x.len() - 1 {
//!             sum += term(i);
//!         }
//!         sum
//!     }
//! }
//!
//! let report = Bench::new("rosenbrock", &Rosenbrock, &[0.5; 8])
//!     .rounds(3)
//!     .run()?;
//! assert_eq!(report.nodes, 8 + 7 * 8 + 6); // leaves, 8 nodes a term, the sums
//! println!("{report}");
//! # Ok::<(), chainrule::bench::BenchError>(())
//! ```
//!
//! Timings are wall-clock medians (of an even number of rounds, the upper of
//! the two middle ones): run on a quiet machine, and in release mode.
//!
//! Everything runs at the one point `inputs`: the replayed program is recorded
//! there and replayed there. Rust control flow that depends on the inputs'
//! values (an `if` on [`Scalar::value`], a loop until convergence) is frozen
//! in a replayed program at the values it was recorded at (see
//! [`crate::replay`]), so for such a function the replayed time and gradient
//! are those of the branch taken at `inputs`, and the same program replayed at
//! inputs where a branch goes the other way would give a wrong gradient;
//! nothing here detects that.

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use crate::replay::CompileError;
use crate::{Scalar, Tape, Var};

/// A function of a slice of inputs, generic over [`Scalar`]: the same source
/// computes the primal on `f64` and records on [`Var`].
///
/// ```
/// use chainrule::{bench::Function, Scalar};
/// struct Dot;
/// impl Function for Dot {
///     fn eval<T: Scalar>(&self, x: &[T]) -> T {
///         x[0] * x[1] + x[2] * x[3]
///     }
/// }
/// assert_eq!(Dot.eval(&[1.0, 2.0, 3.0, 4.0]), 14.0);
/// ```
pub trait Function {
    /// The function's value at `x`.
    fn eval<T: Scalar>(&self, x: &[T]) -> T;
}

/// A hand-coded gradient: writes ∂f/∂xᵢ into `gradient[i]` and returns f(x).
///
/// `gradient` holds zeros when [`Bench::run`] checks it, and whatever the
/// last timed call left when it is timed: a hand-coded gradient that adds
/// into it (`+=`) zeroes it first, or the check passes on a gradient that is
/// wrong in use.
///
/// ```
/// let square: chainrule::bench::HandGradient = &|x, g| {
///     g[0] = 2.0 * x[0];
///     x[0] * x[0]
/// };
/// let mut g = [0.0];
/// assert_eq!((square(&[3.0], &mut g), g), (9.0, [6.0]));
/// ```
pub type HandGradient<'h> = &'h dyn Fn(&[f64], &mut [f64]) -> f64;

/// A benchmark of one [`Function`] at one point. See [`crate::bench`].
///
/// ```
/// use chainrule::{bench::{Bench, Function}, Scalar};
/// struct Tanh;
/// impl Function for Tanh {
///     fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0].tanh() }
/// }
/// let report = Bench::new("tanh", &Tanh, &[0.5]).rounds(3).run()?;
/// assert_eq!(report.nodes, 2);
/// # Ok::<(), chainrule::bench::BenchError>(())
/// ```
pub struct Bench<'a, F> {
    name: String,
    function: &'a F,
    inputs: Vec<f64>,
    hand: Option<HandGradient<'a>>,
    rounds: usize,
    round_time: Duration,
    tolerance: f64,
    /// `None`: [`DEFAULT_FLOOR`] times the scale of what is compared.
    absolute_tolerance: Option<f64>,
}

/// The default floor of the checks, as a fraction of the largest partial of
/// the two gradients compared (of the two values, for a value): the `atol` of
/// [`Tolerance::MANUAL`](crate::gradcheck::Tolerance::MANUAL), at the
/// gradient's own scale.
const DEFAULT_FLOOR: f64 = 1e-12;

/// The largest finite |v| of `values` (0 if none).
fn scale<'v>(values: impl IntoIterator<Item = &'v f64>) -> f64 {
    values
        .into_iter()
        .map(|v| v.abs())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

/// Why a [`Bench`] did not time anything.
///
/// ```
/// use chainrule::{bench::{Bench, BenchError, Function}, Scalar};
/// struct Sum;
/// impl Function for Sum {
///     fn eval<T: Scalar>(&self, x: &[T]) -> T { x.iter().copied().sum() }
/// }
/// assert_eq!(Bench::new("sum", &Sum, &[]).run().unwrap_err(), BenchError::NoInputs);
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum BenchError {
    /// A gradient (or the value) does not match its reference.
    Mismatch {
        /// What was compared, the measured side first: `"taped vs primal"` and
        /// `"hand-coded vs primal"` (the value), `"taped vs hand-coded"`,
        /// `"replayed vs taped"` (the value or a partial).
        what: &'static str,
        /// The input whose partial differs (`None` for the value).
        input: Option<usize>,
        /// The value measured (of the first side of `what`).
        actual: f64,
        /// The reference (of the second side of `what`).
        expected: f64,
        /// The relative tolerance it missed.
        tolerance: f64,
        /// The absolute floor of the test it missed (as set, or by default
        /// 1e-12 times the largest partial compared: see
        /// [`Bench::absolute_tolerance`]; 0 where the default floor is
        /// replaced, for partials of opposite signs):
        /// |actual − expected| ≤ absolute_tolerance + tolerance·|expected| +
        /// rounding_bound.
        absolute_tolerance: f64,
        /// What the test allowed for the tape's own rounding of the taped
        /// partial, for `"taped vs hand-coded"` (0 for the other checks): the
        /// sweep's bound on it,
        /// [`Gradients::rounding_bound`](crate::Gradients::rounding_bound) (0
        /// where that is not finite), or 4 times that bound for partials of
        /// opposite signs (which are held to it instead of the default floor). A
        /// hand-coded partial that passes only within it is listed in
        /// [`Report::unconfirmed`]; one further
        /// off is not thereby wrong: the bound does not cover the forward
        /// pass's rounding, by which the taped partial can be further off
        /// where f's formulas cancel.
        rounding_bound: f64,
    },
    /// The recording could not be compiled for replay.
    Compile(CompileError),
    /// No inputs were given.
    NoInputs,
}

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BenchError::Mismatch {
                what,
                input,
                actual,
                expected,
                tolerance,
                absolute_tolerance,
                rounding_bound,
            } => {
                // `what` is "<measured> vs <reference>": name each value by its side.
                let (measured, reference) =
                    what.split_once(" vs ").unwrap_or(("measured", "expected"));
                match input {
                    Some(i) => write!(f, "chainrule::bench: {what}: ∂f/∂x{i} is {actual:e}")?,
                    None => write!(f, "chainrule::bench: {what}: f is {actual:e}")?,
                }
                write!(f, " {measured} but {expected:e} {reference}")?;
                // Against the hand-coded gradient the tape's rounding is
                // allowed for, and neither side is known to be the wrong one.
                let hand = *what == "taped vs hand-coded";
                if hand && !(expected.is_nan() || actual.is_nan() || expected.is_infinite()) {
                    write!(f, ": they differ by {:e}", (actual - expected).abs())?;
                }
                // The bound is named where it counts: where it adds nothing to
                // the tolerance in f64 (1e-323 against 1e-9) it would only
                // puzzle.
                let allowed = absolute_tolerance
                    + if *expected == 0.0 {
                        0.0
                    } else {
                        tolerance * expected.abs()
                    };
                let rounding = if hand && allowed + rounding_bound != allowed {
                    format!(
                        " plus {rounding_bound:e} for the tape's own rounding of its partial \
                         (Gradients::rounding_bound)"
                    )
                } else {
                    String::new()
                };
                if expected.is_nan() || actual.is_nan() {
                    // No difference is "more than" a bound when a side is NaN.
                    f.write_str(", and NaN matches only NaN")?;
                } else if expected.is_infinite() {
                    // The bound is ∞ there: the difference is not more than it.
                    f.write_str(", and an infinite reference matches only the same infinity")?;
                } else if *expected == 0.0 {
                    // The relative term is 0 against 0, whatever the tolerance
                    // (∞·0 would read as NaN).
                    write!(
                        f,
                        ", more than the {absolute_tolerance:e} allowed against 0 (the absolute \
                         floor alone){rounding}"
                    )?;
                } else {
                    write!(
                        f,
                        ", more than the {absolute_tolerance:e} + {tolerance:e}·|{reference}| \
                         allowed{rounding}"
                    )?;
                }
                match (*what, input) {
                    ("hand-coded vs primal", _) => f.write_str(
                        " (the hand-coded gradient must return f(x), the function's value)",
                    )?,
                    ("taped vs primal", _) | ("replayed vs taped", None) => f.write_str(
                        " (the function must compute the same on f64 and on Var, at every call)",
                    )?,
                    ("taped vs hand-coded", Some(_))
                        if expected.is_finite() && !actual.is_nan() =>
                    {
                        f.write_str(
                            " (either may be the one off: the hand-coded partial may be wrong, \
                             or the taped one off by more than that bound through the forward \
                             pass's rounding, which it does not cover, where f's formulas \
                             cancel)",
                        )?
                    }
                    ("replayed vs taped", Some(_)) => f.write_str(
                        " (a replayed fused sum adds an adjoint's contributions in another \
                         order than the tape, which changes a sum whose terms cancel: see \
                         chainrule::replay; Bench::absolute_tolerance can allow for it)",
                    )?,
                    _ => {}
                }
                f.write_str("; nothing was timed")
            }
            BenchError::Compile(e) => write!(f, "chainrule::bench: {e}"),
            BenchError::NoInputs => f.write_str(
                "chainrule::bench: Bench::new was given no inputs; a function needs at least one",
            ),
        }
    }
}

/// [`BenchError::Compile`]'s source is its [`CompileError`].
impl std::error::Error for BenchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BenchError::Compile(e) => Some(e),
            _ => None,
        }
    }
}

/// One timed variant of a [`Report`].
///
/// ```
/// # use chainrule::{bench::{Bench, Function}, Scalar};
/// # struct Square; impl Function for Square { fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[0] } }
/// let report = Bench::new("square", &Square, &[3.0]).rounds(3).run()?;
/// let names: Vec<_> = report.rows.iter().map(|r| r.variant).collect();
/// assert_eq!(names, ["primal", "taped", "replayed"]);
/// assert_eq!(report.rows[0].vs_primal, 1.0);
/// # Ok::<(), chainrule::bench::BenchError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// `"primal"`, `"taped"`, `"replayed"` or `"hand-coded"`.
    pub variant: &'static str,
    /// Median seconds per call.
    pub seconds: f64,
    /// `seconds` over the primal's.
    pub vs_primal: f64,
    /// `seconds` over the hand-coded gradient's, if one was given.
    pub vs_hand: Option<f64>,
}

/// What a [`Bench`] measured. `Display` writes a markdown table.
///
/// ```
/// # use chainrule::{bench::{Bench, Function}, Scalar};
/// # struct Square; impl Function for Square { fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[0] } }
/// let report = Bench::new("square", &Square, &[3.0]).rounds(3).run()?;
/// assert!(report.to_string().contains("| replayed |"));
/// assert_eq!((report.nodes, report.edges, report.instructions), (2, 2, 1));
/// # Ok::<(), chainrule::bench::BenchError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Report {
    /// The benchmark's name.
    pub name: String,
    /// Each variant: primal, taped, replayed, then hand-coded if given.
    pub rows: Vec<Row>,
    /// Nodes one recording makes (leaves included).
    pub nodes: usize,
    /// Edges one recording makes.
    pub edges: usize,
    /// Bytes of the tape's arena (its capacity, reused) per node. The arena
    /// holds room for at least 64 nodes, so for a function of a few nodes this
    /// reads high (7 nodes: about 310 bytes a node, 576 of the bytes the
    /// slots' pad, against 17 to 25 bytes a node used).
    pub tape_bytes_per_node: f64,
    /// Instructions of the compiled program.
    pub instructions: usize,
    /// Bytes of the compiled program per node recorded.
    pub program_bytes_per_node: f64,
    /// Calls of each variant per round.
    pub calls_per_round: usize,
    /// Rounds timed.
    pub rounds: usize,
    /// The largest relative difference between the taped and the hand-coded
    /// gradients, if a hand-coded gradient was given (the absolute difference
    /// for a hand partial of exactly 0).
    pub hand_difference: Option<f64>,
    /// The hand-coded partials the check passed but could not confirm: each
    /// differs from the taped one by more than the tolerances alone allow
    /// (against a taped partial of the opposite sign, by more than the
    /// relative tolerance: the default floor does not count there) and by no
    /// more than the tape's own rounding bound of that partial, within which
    /// a right partial and a slip look alike. Empty without a hand-coded
    /// gradient, and when every partial is confirmed. The table says so
    /// below it, and [`to_json`](Report::to_json) lists them.
    ///
    /// ```
    /// # use chainrule::{bench::{Bench, Function}, Scalar};
    /// // ∂f/∂x₀ = x₁ = 16, exactly on the tape, but the sweep adds ±1e17:
    /// // its rounding bound (311) is wider than a sign slip (32 off).
    /// struct Cancel;
    /// impl Function for Cancel {
    ///     fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[1] + x[0] * 1e17 - x[0] * 1e17 }
    /// }
    /// let flipped = |x: &[f64], g: &mut [f64]| {
    ///     g[0] = -x[1]; // the slip
    ///     g[1] = x[0];
    ///     x[0] * x[1] + x[0] * 1e17 - x[0] * 1e17
    /// };
    /// let report = Bench::new("cancel", &Cancel, &[1.0, 16.0]).hand(&flipped).rounds(3).run()?;
    /// assert_eq!(report.unconfirmed.len(), 1);
    /// assert_eq!((report.unconfirmed[0].input, report.unconfirmed[0].taped), (0, 16.0));
    /// assert!(report.to_string().contains("Not confirmed: ∂f/∂x0"));
    /// # Ok::<(), chainrule::bench::BenchError>(())
    /// ```
    pub unconfirmed: Vec<Unconfirmed>,
}

/// A hand-coded partial that [`Bench`] passed without confirming it: it is
/// within the tape's own rounding bound of the taped partial, but not within
/// the tolerances alone ([`Report::unconfirmed`]). Either may be the one off:
/// check it at another point, or with [`gradcheck`](crate::gradcheck).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Unconfirmed {
    /// The input: the partial is ∂f/∂x`input`.
    pub input: usize,
    /// The taped partial.
    pub taped: f64,
    /// The hand-coded partial.
    pub hand: f64,
    /// The sweep's bound on its own rounding of the taped partial
    /// ([`Gradients::rounding_bound`](crate::Gradients::rounding_bound)).
    pub rounding_bound: f64,
}

impl<'a, F: Function> Bench<'a, F> {
    /// A benchmark of `function` at `inputs`: 31 rounds, the slowest variant's
    /// taking about 2 ms each (see [`round_time`](Bench::round_time)), tolerance
    /// 1e-9·|reference| with a floor of 1e-12 times the gradient's largest
    /// partial (see [`absolute_tolerance`](Bench::absolute_tolerance)).
    ///
    /// ```
    /// # use chainrule::{bench::{Bench, Function}, Scalar};
    /// # struct Square; impl Function for Square { fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[0] } }
    /// let bench = Bench::new("square", &Square, &[3.0]);
    /// # let _ = bench;
    /// ```
    #[must_use]
    pub fn new(name: impl Into<String>, function: &'a F, inputs: &[f64]) -> Self {
        Bench {
            name: name.into(),
            function,
            inputs: inputs.to_vec(),
            hand: None,
            rounds: 31,
            round_time: Duration::from_millis(2),
            tolerance: 1e-9,
            absolute_tolerance: None,
        }
    }

    /// A hand-coded gradient to check the tape against and to time: it writes
    /// ∂f/∂xᵢ into `gradient[i]` and returns f(x).
    ///
    /// It is timed as it is passed, through the `&dyn Fn` of
    /// [`HandGradient`]: one indirect call a gradient (a predicted jump, about
    /// a nanosecond), which the primal and the taped gradient, called
    /// directly, do not pay. Its time includes that call, so for a function
    /// of a few nanoseconds the ratios to it read a little low (in the
    /// tape's favour).
    ///
    /// ```
    /// # use chainrule::{bench::{Bench, Function}, Scalar};
    /// # struct Square; impl Function for Square { fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[0] } }
    /// let hand = |x: &[f64], g: &mut [f64]| {
    ///     g[0] = 2.0 * x[0];
    ///     x[0] * x[0]
    /// };
    /// let report = Bench::new("square", &Square, &[3.0]).hand(&hand).rounds(3).run()?;
    /// assert_eq!(report.hand_difference, Some(0.0));
    /// # Ok::<(), chainrule::bench::BenchError>(())
    /// ```
    #[must_use]
    pub fn hand(mut self, gradient: HandGradient<'a>) -> Self {
        self.hand = Some(gradient);
        self
    }

    /// Rounds to time (at least 1; the default is 31).
    ///
    /// ```
    /// # use chainrule::{bench::{Bench, Function}, Scalar};
    /// # struct Square; impl Function for Square { fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[0] } }
    /// assert_eq!(Bench::new("square", &Square, &[3.0]).rounds(5).run()?.rounds, 5);
    /// # Ok::<(), chainrule::bench::BenchError>(())
    /// ```
    #[must_use]
    pub fn rounds(mut self, rounds: usize) -> Self {
        self.rounds = rounds.max(1);
        self
    }

    /// About the time one round of the slowest variant takes (the default is
    /// 2 ms): every variant is called the same number of times a round, as many
    /// as make the slowest one's round last this long (at least once, so a
    /// slower call makes a longer round). The faster variants' rounds are
    /// shorter in proportion.
    ///
    /// ```
    /// # use chainrule::{bench::{Bench, Function}, Scalar};
    /// # use std::time::Duration;
    /// # struct Square; impl Function for Square { fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[0] } }
    /// let quick = Bench::new("square", &Square, &[3.0]).round_time(Duration::from_micros(100));
    /// # let _ = quick;
    /// ```
    #[must_use]
    pub fn round_time(mut self, round_time: Duration) -> Self {
        self.round_time = round_time;
        self
    }

    /// The relative tolerance of the checks, of the gradients and of the values
    /// (default 1e-9): they accept |ours − reference| ≤ absolute_tolerance +
    /// tolerance · |reference| (see
    /// [`absolute_tolerance`](Bench::absolute_tolerance)), plus, for a taped
    /// partial against the hand-coded one, the tape's own rounding of it
    /// ([`Gradients::rounding_bound`](crate::Gradients::rounding_bound)); an infinite
    /// reference is matched by the same infinity only, and NaN by NaN. The
    /// relative term is 0 against a reference of 0, whatever the tolerance (so
    /// `f64::INFINITY` accepts anything but NaN against a finite reference other
    /// than 0, and leaves a reference of 0 to the absolute floor).
    ///
    /// # Panics
    /// If `tolerance` is negative or NaN, at the caller's line.
    ///
    /// ```
    /// # use chainrule::{bench::{Bench, Function}, Scalar};
    /// # struct Square; impl Function for Square { fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[0] } }
    /// let wrong = |x: &[f64], g: &mut [f64]| { g[0] = x[0]; x[0] * x[0] }; // forgot the 2
    /// let err = Bench::new("square", &Square, &[3.0]).hand(&wrong).tolerance(1e-6).run();
    /// assert!(err.unwrap_err().to_string().contains("taped vs hand-coded"));
    /// ```
    #[must_use]
    #[track_caller]
    pub fn tolerance(mut self, tolerance: f64) -> Self {
        check_tolerance("tolerance", tolerance);
        self.tolerance = tolerance;
        self
    }

    /// The absolute floor of the checks, of the gradients and of the values:
    /// a hand partial of exactly 0 against a taped ±1e-17 (rounding in a sum
    /// that cancels) is accepted, where a purely relative test would refuse
    /// any difference from 0.
    ///
    /// By default the floor is at the gradient's own scale: 1e-12 (the `atol`
    /// of [`Tolerance::MANUAL`](crate::gradcheck::Tolerance::MANUAL)) times the
    /// largest finite |partial| of the two gradients compared (of the two
    /// values, for a value). So a function whose partials are all tiny is still
    /// checked relatively: with a fixed floor of 1e-12, f = 1e-13·x₀² + 1e-14·x₁
    /// passed a hand gradient with ∂/∂x₀ doubled and ∂/∂x₁ left out. Set here,
    /// the floor is that absolute value, at every scale.
    ///
    /// The default floor applies to every partial, so a slip in a partial
    /// smaller than 1e-12 of the largest (a factor 2, a term left out) passes
    /// unseen: set `absolute_tolerance(0.0)` to hold every partial to the
    /// relative tolerance. A sign slip is never passed as confirmed: with the
    /// default floor, a hand partial whose sign is the taped one's opposite is
    /// refused beyond 4 times the sweep's own rounding of that partial
    /// ([`Gradients::rounding_bound`](crate::Gradients::rounding_bound)), and
    /// within it passes as not confirmed ([`Report::unconfirmed`]), as a hand
    /// −1e-17 against a taped 1e-17 of a cancelling sum does.
    ///
    /// Whatever the floor, a hand partial is also allowed the sweep's own
    /// rounding of the taped one (its `rounding_bound`, added to the floor and
    /// the relative term), where the sweep's sums cancel; a partial that
    /// passes only by that allowance is listed in [`Report::unconfirmed`]:
    /// within the bound a right partial and a slip look alike. The forward pass's rounding is not in that bound: where f's
    /// formulas cancel (a residual x₀ + x₁ − 0.3 at (0.2, 0.1)), an exact hand
    /// partial can miss the taped one by more, and a floor set here is the way
    /// to let it pass.
    ///
    /// # Panics
    /// If `absolute_tolerance` is negative or NaN, at the caller's line.
    ///
    /// ```
    /// # use chainrule::{bench::{Bench, Function}, Scalar};
    /// struct Cancels;
    /// impl Function for Cancels {
    ///     // ∂/∂x₁ = 0.1 + 0.2 − 0.3: not 0 in f64 (2.8e-17 or 5.6e-17, by the
    ///     // order of the sum) on the tape, 0 by hand
    ///     fn eval<T: Scalar>(&self, x: &[T]) -> T {
    ///         x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
    ///     }
    /// }
    /// let hand = |x: &[f64], g: &mut [f64]| {
    ///     g[0] = 2.0 * x[0];
    ///     g[1] = 0.0;
    ///     x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
    /// };
    /// let quick = std::time::Duration::from_micros(50);
    /// let bench = Bench::new("cancels", &Cancels, &[1.5, 2.0]).hand(&hand).rounds(3).round_time(quick);
    /// assert!(bench.run().is_ok());
    /// assert!(bench.absolute_tolerance(0.0).run().is_err());
    /// ```
    #[must_use]
    #[track_caller]
    pub fn absolute_tolerance(mut self, absolute_tolerance: f64) -> Self {
        check_tolerance("absolute_tolerance", absolute_tolerance);
        self.absolute_tolerance = Some(absolute_tolerance);
        self
    }

    /// Checks, then times. See [`crate::bench`].
    ///
    /// # Errors
    /// [`BenchError::Mismatch`] if the taped gradient misses the hand-coded one
    /// by more than the tolerances and the tape's own rounding of it (which of
    /// the two is off is not known then), the replayed gradient the taped one,
    /// or a value the primal's (nothing is
    /// timed then); [`BenchError::Compile`] if the recording cannot be compiled;
    /// [`BenchError::NoInputs`] for no inputs. The replayed gradient may miss
    /// the taped one with neither wrong: a fused weighted sum of the replay adds
    /// an adjoint's contributions in another order than the tape, which is all
    /// of the gradient where they cancel (see [`crate::replay`]); a looser
    /// [`absolute_tolerance`](Bench::absolute_tolerance) lets such a function
    /// be timed.
    ///
    /// # Panics
    /// If the function or the hand-coded gradient panics.
    ///
    /// # Complexity
    /// About `variants · (rounds + 1) · max(round_time, t)` of wall-clock
    /// time, with `t` the slowest variant's time for one call (3 variants, 4
    /// with a hand-coded gradient; one round of each warms up untimed; every
    /// round calls each variant at least once, so a call slower than
    /// `round_time` makes the round as long as the call), plus the checks and
    /// the calls that size the rounds; less by as much as the other variants
    /// are faster than the slowest (the 16-input Rosenbrock of
    /// `examples/bench_your_function.rs`: about 0.1 s at the defaults, of a
    /// bound of 0.26 s).
    ///
    /// ```
    /// use chainrule::{bench::{Bench, Function}, Scalar};
    /// struct Softplus;
    /// impl Function for Softplus {
    ///     fn eval<T: Scalar>(&self, x: &[T]) -> T {
    ///         x.iter().map(|&v| v.softplus()).fold(x[0].constant(0.0), |a, b| a + b)
    ///     }
    /// }
    /// let report = Bench::new("softplus", &Softplus, &[1.0, -2.0]).rounds(3).run()?;
    /// assert_eq!(report.rows.len(), 3); // primal, taped, replayed
    /// assert!(report.to_json().starts_with("{\"name\":\"softplus\""));
    /// # Ok::<(), chainrule::bench::BenchError>(())
    /// ```
    pub fn run(&self) -> Result<Report, BenchError> {
        let n = self.inputs.len();
        if n == 0 {
            return Err(BenchError::NoInputs);
        }
        let f = self.function;
        let x = &self.inputs;

        // The checks.
        let primal = f.eval(x.as_slice());
        let mut tape = Tape::new();
        let mut taped = vec![0.0; n];
        let value = taped_gradient(f, &mut tape, x, &mut taped);
        let (nodes, edges) = (tape.len(), tape.edge_count());
        self.close(
            "taped vs primal",
            None,
            value,
            primal,
            scale([&value, &primal]),
        )?;
        let mut hand_difference = None;
        let mut unconfirmed = Vec::new();
        if let Some(hand) = self.hand {
            let mut g = vec![0.0; n];
            let hand_value = hand(x, &mut g);
            self.close(
                "hand-coded vs primal",
                None,
                hand_value,
                primal,
                scale([&hand_value, &primal]),
            )?;
            let mut worst: f64 = 0.0;
            let at = scale(taped.iter().chain(&g));
            let floor = self.absolute_tolerance.unwrap_or(DEFAULT_FLOOR * at);
            let bounds = sweep_rounding_bounds(f, x);
            for (i, (&ours, &theirs)) in taped.iter().zip(&g).enumerate() {
                let sign_test = self.absolute_tolerance.is_none() && opposite_signs(ours, theirs);
                if sign_test {
                    // Opposite signs: the floor at the gradient's scale would
                    // pass a sign slip on a partial far below the largest, so
                    // the difference is held to the tape's own rounding of it
                    // (four times its bound) instead of the floor.
                    let rounding = 4.0 * bounds[i];
                    self.close_within("taped vs hand-coded", Some(i), ours, theirs, 0.0, rounding)?;
                }
                // The taped partial is the exact derivative of the recorded ops
                // only within the sweep's own rounding of it, of either sign:
                // an exact hand partial that far from it is not refused (x³ −
                // (x − 1)³ at 1e10: the tape is off by 22,525, its bound ~8e5).
                self.close_within(
                    "taped vs hand-coded",
                    Some(i),
                    ours,
                    theirs,
                    floor,
                    bounds[i],
                )?;
                // Passed; confirmed only if it passes without the tape's
                // rounding bound too. Within the bound the check cannot tell
                // a right partial from a slip (x₀·1e17 − x₀·1e17 in f: a
                // bound of 311 about an exact 16, which a sign slip or a
                // factor 2 is within), so it is reported, never passed
                // silently.
                let confirmed_floor = if sign_test { 0.0 } else { floor };
                if !self.within(ours, theirs, confirmed_floor, 0.0) {
                    unconfirmed.push(Unconfirmed {
                        input: i,
                        taped: ours,
                        hand: theirs,
                        rounding_bound: bounds[i],
                    });
                }
                if ours != theirs {
                    // Relative, but absolute against a hand partial of 0.
                    let d = (ours - theirs).abs();
                    worst = worst.max(if theirs == 0.0 { d } else { d / theirs.abs() });
                }
            }
            hand_difference = Some(worst);
        }
        let keeping = Tape::for_replay();
        let program = {
            let leaves = keeping.vars(x);
            let y = f.eval(&leaves);
            // A program's inputs are the leaves up to its last output: an output
            // that is an input other than the last (f(x) = x₀) would leave the
            // later ones out. The last input as a second output keeps them all
            // (`backward` sweeps from output 0 only).
            let outputs = [y, leaves[n - 1]];
            let outputs = if y.index() < n - 1 {
                &outputs[..]
            } else {
                &outputs[..1]
            };
            keeping.compile(outputs).map_err(BenchError::Compile)?
        };
        let mut program = program;
        program.backward();
        let replayed = program.output(0);
        self.close(
            "replayed vs taped",
            None,
            replayed,
            value,
            scale([&replayed, &value]),
        )?;
        let at = scale(program.gradients().iter().chain(&taped));
        for (i, (&ours, &theirs)) in program.gradients().iter().zip(&taped).enumerate() {
            self.close("replayed vs taped", Some(i), ours, theirs, at)?;
        }
        let program_bytes = program.memory_bytes();
        let instructions = program.stats().instructions;

        // The timing.
        let variants = if self.hand.is_some() { 4 } else { 3 };
        let mut gradient = vec![0.0; n];
        let mut call = |variant: usize| match variant {
            0 => {
                black_box(f.eval(black_box(x.as_slice())));
            }
            1 => {
                black_box(taped_gradient(f, &mut tape, black_box(x), &mut gradient));
            }
            2 => {
                program.set_inputs(black_box(x));
                program.forward();
                program.backward();
                gradient.copy_from_slice(program.gradients());
                black_box(program.output(0));
            }
            _ => {
                if let Some(hand) = self.hand {
                    black_box(hand(black_box(x), &mut gradient));
                }
            }
        };
        // Calls per round: the slowest variant's round takes about `round_time`.
        let mut slowest = Duration::ZERO;
        for variant in 0..variants {
            let start = Instant::now();
            for _ in 0..3 {
                call(variant);
            }
            slowest = slowest.max(start.elapsed() / 3);
        }
        let calls = (self.round_time.as_secs_f64() / slowest.as_secs_f64().max(1e-9))
            .ceil()
            .clamp(1.0, 1e9) as usize;
        let medians = interleaved(variants, self.rounds, |variant| {
            for _ in 0..calls {
                call(variant);
            }
        });
        let per_call: Vec<f64> = medians
            .iter()
            .map(|d| d.as_secs_f64() / calls as f64)
            .collect();
        let names = ["primal", "taped", "replayed", "hand-coded"];
        let rows = (0..variants)
            .map(|v| Row {
                variant: names[v],
                seconds: per_call[v],
                vs_primal: per_call[v] / per_call[0],
                vs_hand: (variants == 4).then(|| per_call[v] / per_call[3]),
            })
            .collect();
        Ok(Report {
            name: self.name.clone(),
            rows,
            nodes,
            edges,
            tape_bytes_per_node: tape.memory_bytes() as f64 / nodes as f64,
            instructions,
            program_bytes_per_node: program_bytes as f64 / nodes as f64,
            calls_per_round: calls,
            rounds: self.rounds,
            hand_difference,
            unconfirmed,
        })
    }

    fn close(
        &self,
        what: &'static str,
        input: Option<usize>,
        actual: f64,
        expected: f64,
        scale: f64,
    ) -> Result<(), BenchError> {
        let floor = self.absolute_tolerance.unwrap_or(DEFAULT_FLOOR * scale);
        self.close_within(what, input, actual, expected, floor, 0.0)
    }

    /// As [`close`](Self::close) with the absolute floor `floor`, plus
    /// `rounding` for the tape's own rounding of `actual`.
    fn close_within(
        &self,
        what: &'static str,
        input: Option<usize>,
        actual: f64,
        expected: f64,
        floor: f64,
        rounding: f64,
    ) -> Result<(), BenchError> {
        if self.within(actual, expected, floor, rounding) {
            Ok(())
        } else {
            Err(BenchError::Mismatch {
                what,
                input,
                actual,
                expected,
                tolerance: self.tolerance,
                absolute_tolerance: floor,
                rounding_bound: rounding,
            })
        }
    }
}

impl<F> Bench<'_, F> {
    /// Whether |actual − expected| ≤ floor + tolerance·|expected| + rounding,
    /// or the two are the same infinity, or both NaN.
    fn within(&self, actual: f64, expected: f64, floor: f64, rounding: f64) -> bool {
        // An infinite reference is matched by itself only: its bound, ∞, would
        // accept any |actual − ∞| (∞ ≤ ∞), a finite value or −∞ too.
        // The relative term is 0 against a reference of 0 whatever the
        // tolerance: `∞ · 0` is NaN, which would refuse everything.
        let relative = if expected == 0.0 {
            0.0
        } else {
            self.tolerance * expected.abs()
        };
        actual == expected
            || (actual.is_nan() && expected.is_nan())
            || (expected.is_finite() && (actual - expected).abs() <= floor + relative + rounding)
    }
}

/// Whether `a` and `b` are non-zero and of opposite signs. Not `a * b < 0.0`:
/// the product of two partials below about 1e-162 underflows to −0, which is
/// not below 0, and a sign slip there passed unseen (1e-200 taped against
/// −1e-200 by hand).
fn opposite_signs(a: f64, b: f64) -> bool {
    (a < 0.0 && b > 0.0) || (a > 0.0 && b < 0.0)
}

/// The panic of [`Bench::tolerance`] and [`Bench::absolute_tolerance`] given a
/// negative or NaN tolerance, which would refuse every gradient not equal to
/// its reference to the bit.
#[track_caller]
fn check_tolerance(method: &str, tolerance: f64) {
    if tolerance.is_nan() || tolerance < 0.0 {
        bad_tolerance(method, tolerance);
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn bad_tolerance(method: &str, tolerance: f64) -> ! {
    panic!(
        "chainrule::bench: Bench::{method} was given {tolerance:e}; it needs a tolerance \
         of 0 or more"
    )
}

/// One taped gradient on a reused tape: clear, record, sweep; returns f(x).
/// The bound on the reverse sweep's own rounding of each partial of `f` at
/// `x` ([`Gradients::rounding_bound`](crate::Gradients::rounding_bound)), from
/// a recording of its own; 0 where that bound is not finite.
fn sweep_rounding_bounds<F: Function>(f: &F, x: &[f64]) -> Vec<f64> {
    let tape = Tape::new();
    let leaves = tape.vars(x);
    let y: Var = f.eval(&leaves);
    let g = y.backward();
    // A bound that is not finite (that of an infinite or NaN partial) would
    // accept any finite hand partial against the taped one (∞ ≤ ∞): none is
    // allowed then.
    leaves
        .iter()
        .map(|&leaf| g.rounding_bound(leaf))
        .map(|bound| if bound.is_finite() { bound } else { 0.0 })
        .collect()
}

fn taped_gradient<F: Function>(f: &F, tape: &mut Tape, x: &[f64], gradient: &mut [f64]) -> f64 {
    tape.clear();
    let leaves = tape.vars(x);
    let y: Var = f.eval(&leaves);
    let g = y.backward();
    for (out, &leaf) in gradient.iter_mut().zip(&leaves) {
        *out = g[leaf];
    }
    y.value()
}

/// Runs `run(variant)` for `variants` variants, `rounds` rounds, interleaved
/// (the order rotating each round, after one warm-up call of each), and returns
/// each variant's median duration (of an even number of rounds, the upper of
/// the two middle ones). The method of every timing of this crate (the
/// workload runner's too).
///
/// # Panics
/// If `variants` or `rounds` is 0, at the caller's line.
///
/// # Complexity
/// `variants · (rounds + 1)` calls of `run`; O(variants · rounds) memory.
///
/// ```
/// let mut calls = [0; 2];
/// let medians = chainrule::bench::interleaved(2, 5, |v| calls[v] += 1);
/// assert_eq!((medians.len(), calls), (2, [6, 6]));
/// ```
#[must_use]
#[track_caller]
pub fn interleaved(variants: usize, rounds: usize, mut run: impl FnMut(usize)) -> Vec<Duration> {
    assert!(
        variants > 0 && rounds > 0,
        "chainrule::bench::interleaved needs at least one variant and one round \
         (given {variants} variants, {rounds} rounds)"
    );
    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); variants];
    for variant in 0..variants {
        run(variant); // warm-up: grow tapes and buffers
    }
    for round in 0..rounds {
        for k in 0..variants {
            let variant = (round + k) % variants;
            let start = Instant::now();
            run(variant);
            samples[variant].push(start.elapsed());
        }
    }
    samples
        .into_iter()
        .map(|mut s| {
            s.sort_unstable();
            s[s.len() / 2]
        })
        .collect()
}

/// `seconds` in the unit that reads best.
fn human(seconds: f64) -> String {
    if seconds < 1e-6 {
        format!("{:.1} ns", seconds * 1e9)
    } else if seconds < 1e-3 {
        format!("{:.2} µs", seconds * 1e6)
    } else {
        format!("{:.3} ms", seconds * 1e3)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}: {} nodes, {} edges a recording",
            self.name, self.nodes, self.edges
        )?;
        writeln!(f)?;
        writeln!(f, "| variant | time/call | vs primal | vs hand-coded |")?;
        writeln!(f, "|---|---|---|---|")?;
        for row in &self.rows {
            let vs_hand = row.vs_hand.map_or("".into(), |r| format!("{r:.2}x"));
            writeln!(
                f,
                "| {} | {} | {:.2}x | {vs_hand} |",
                row.variant,
                human(row.seconds),
                row.vs_primal
            )?;
        }
        writeln!(f)?;
        write!(
            f,
            "Tape: {:.1} bytes/node (arena capacity, reused). Replay: {} {}, {:.1} \
             bytes/node. Medians of {} interleaved {} of {} {}.",
            self.tape_bytes_per_node,
            self.instructions,
            if self.instructions == 1 {
                "instruction"
            } else {
                "instructions"
            },
            self.program_bytes_per_node,
            self.rounds,
            if self.rounds == 1 { "round" } else { "rounds" },
            self.calls_per_round,
            if self.calls_per_round == 1 {
                "call"
            } else {
                "calls"
            },
        )?;
        if let Some(d) = self.hand_difference {
            write!(
                f,
                " Taped vs hand-coded gradient: largest difference {d:.1e} (relative to \
                 the hand-coded partial, or absolute where that is 0)."
            )?;
        }
        for u in &self.unconfirmed {
            write!(
                f,
                "\n\nNot confirmed: ∂f/∂x{} is {:e} taped and {:e} hand-coded, {:.1e} apart, \
                 within the tape's own rounding bound of its partial ({:.1e}, \
                 Gradients::rounding_bound) but beyond the tolerances: this check cannot tell \
                 a right partial from a slip here; check it at another point or with gradcheck.",
                u.input,
                u.taped,
                u.hand,
                (u.taped - u.hand).abs(),
                u.rounding_bound
            )?;
        }
        Ok(())
    }
}

impl Report {
    /// The report as one JSON object on one line: `name`, `nodes`, `edges`,
    /// `tape_bytes_per_node`, `instructions`, `program_bytes_per_node`,
    /// `rounds`, `calls_per_round`, `hand_difference` and `unconfirmed` (with a
    /// hand-coded gradient: the [`Report::unconfirmed`] partials, a list,
    /// empty when every partial is confirmed, of objects with `input`,
    /// `taped`, `hand` and `rounding_bound`), and per variant `<variant>_seconds`, `<variant>_vs_primal`
    /// and (with a hand-coded gradient) `<variant>_vs_hand` (variants `primal`,
    /// `taped`, `replayed`, `hand`): the fields of the [`Report`] and its
    /// [`Row`]s, the table's figures. Times are in seconds per call; a figure
    /// that is not finite (a ratio to a median of 0, which a clock coarser
    /// than the call can give) is `null`, as JSON has no infinity or NaN.
    ///
    /// ```
    /// # use chainrule::{bench::{Bench, Function}, Scalar};
    /// # struct Square; impl Function for Square { fn eval<T: Scalar>(&self, x: &[T]) -> T { x[0] * x[0] } }
    /// let json = Bench::new("square", &Square, &[3.0]).rounds(3).run()?.to_json();
    /// assert!(json.contains("\"replayed_vs_primal\":"));
    /// assert!(json.contains("\"rounds\":3,"));
    /// # Ok::<(), chainrule::bench::BenchError>(())
    /// ```
    #[must_use]
    pub fn to_json(&self) -> String {
        let mut fields = vec![
            format!("\"name\":{}", crate::json::string(&self.name)),
            format!("\"nodes\":{}", self.nodes),
            format!("\"edges\":{}", self.edges),
            format!(
                "\"tape_bytes_per_node\":{}",
                json_number(self.tape_bytes_per_node, 3)
            ),
            format!("\"instructions\":{}", self.instructions),
            format!(
                "\"program_bytes_per_node\":{}",
                json_number(self.program_bytes_per_node, 3)
            ),
            format!("\"rounds\":{}", self.rounds),
            format!("\"calls_per_round\":{}", self.calls_per_round),
        ];
        if let Some(d) = self.hand_difference {
            fields.push(format!("\"hand_difference\":{}", json_exponent(d)));
            let unconfirmed: Vec<String> = self
                .unconfirmed
                .iter()
                .map(|u| {
                    format!(
                        "{{\"input\":{},\"taped\":{},\"hand\":{},\"rounding_bound\":{}}}",
                        u.input,
                        json_exponent(u.taped),
                        json_exponent(u.hand),
                        json_exponent(u.rounding_bound)
                    )
                })
                .collect();
            fields.push(format!("\"unconfirmed\":[{}]", unconfirmed.join(",")));
        }
        for row in &self.rows {
            let key = if row.variant == "hand-coded" {
                "hand"
            } else {
                row.variant
            };
            fields.push(format!("\"{key}_seconds\":{}", json_exponent(row.seconds)));
            fields.push(format!(
                "\"{key}_vs_primal\":{}",
                json_number(row.vs_primal, 6)
            ));
            if let Some(r) = row.vs_hand {
                fields.push(format!("\"{key}_vs_hand\":{}", json_number(r, 6)));
            }
        }
        format!("{{{}}}", fields.join(","))
    }
}

/// `x` with `decimals` decimals as a JSON number, `null` if it is not finite.
fn json_number(x: f64, decimals: usize) -> String {
    if x.is_finite() {
        format!("{x:.decimals$}")
    } else {
        "null".into()
    }
}

/// `x` in exponent notation as a JSON number (`1.5e-8`), `null` if it is not
/// finite.
fn json_exponent(x: f64) -> String {
    if x.is_finite() {
        format!("{x:e}")
    } else {
        "null".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ratio to a median of 0 (a clock coarser than a call, not this
    /// machine's: a `Report` built by hand) was written `inf` or `NaN`, which
    /// is not JSON.
    #[test]
    fn figures_that_are_not_finite_are_null_in_json() {
        let row = |variant, seconds: f64| Row {
            variant,
            seconds,
            vs_primal: seconds / 0.0,
            vs_hand: Some(seconds / 0.0),
        };
        let report = Report {
            name: "coarse clock".into(),
            rows: vec![row("primal", 0.0), row("taped", 1e-6)],
            nodes: 2,
            edges: 2,
            tape_bytes_per_node: 8.0,
            instructions: 1,
            program_bytes_per_node: 16.0,
            calls_per_round: 1,
            rounds: 1,
            hand_difference: Some(f64::INFINITY),
            unconfirmed: Vec::new(),
        };
        let json = report.to_json();
        let parsed: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("not JSON: {json}: {e}"));
        assert!(parsed["primal_vs_primal"].is_null(), "{json}"); // 0/0
        assert!(parsed["taped_vs_primal"].is_null(), "{json}"); // 1e-6/0
        assert!(parsed["hand_difference"].is_null(), "{json}");
        assert_eq!(parsed["taped_seconds"], 1e-6);
    }
}
