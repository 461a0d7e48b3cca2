//! Gradient checks: the tape's gradients held against central finite differences
//! ([`gradcheck`]) or against your own hand derivation ([`Gradients::compare`]).
//!
//! Both accept a gradient when `|actual - reference| <= atol + rtol · |reference|`
//! (a [`Tolerance`]), the test PyTorch's `gradcheck` uses.
//!
//! A finite difference is only evidence where it can be taken: [`gradcheck`]'s
//! step is relative to each input (`h = step · max(1, |xᵢ|)`); where the first
//! difference disagrees with the tape, smaller steps are tried until one
//! decides, allowing for truncation and rounding; and a row that no step
//! decides (a kink or pole within the step, a difference lost to rounding, f
//! not defined at x ± h) is reported as *cannot check here*, with the reason:
//! neither a pass nor a failure of the tape's gradient.
//!
//! ```
//! use chainrule::gradcheck::gradcheck;
//!
//! // f(x, y) = x·sin(y): ∂f/∂x = sin y, ∂f/∂y = x·cos y
//! let report = gradcheck(|v| v[0] * v[1].sin(), &[1.5, 0.3]);
//! assert!(report.all_passed(), "{report}");
//! ```

use std::collections::HashMap;
use std::fmt;

use crate::explain::{format_number, ExplainOptions, Explanation, Factor, Quantity};
use crate::{Gradients, Tape, Var};

/// Accept `actual` against `reference` when
/// `|actual - reference| <= atol + rtol · |reference|`.
///
/// ```
/// use chainrule::gradcheck::Tolerance;
///
/// let t = Tolerance::FINITE_DIFFERENCES;
/// assert!(t.accepts(1.0005, 1.0));  // 5e-4 <= 1e-5 + 1e-3
/// assert!(!t.accepts(1.01, 1.0));
/// assert!(!t.accepts(f64::NAN, 1.0)); // NaN is never accepted
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance, times |reference|.
    pub rtol: f64,
}

impl Tolerance {
    /// PyTorch's float64 defaults for `gradcheck`: atol 1e-5, rtol 1e-3. Loose on
    /// purpose: a central difference with step h is off by O(h²) in truncation and
    /// O(ε/h) in rounding.
    pub const FINITE_DIFFERENCES: Tolerance = Tolerance {
        atol: 1e-5,
        rtol: 1e-3,
    };

    /// For a hand derivation evaluated in f64: atol 1e-12, rtol 1e-7. A correct
    /// formula agrees with the tape to rounding; a value copied with 8 significant
    /// digits still passes.
    pub const MANUAL: Tolerance = Tolerance {
        atol: 1e-12,
        rtol: 1e-7,
    };

    /// Whether `actual` is within tolerance of `reference`: false if either is
    /// NaN; where either is infinite, true only if both are the same infinity
    /// (the formula alone would accept anything against an infinite reference,
    /// its bound `rtol · ∞` being ∞, and reject ∞ against ∞, ∞ − ∞ being NaN).
    ///
    /// ```
    /// use chainrule::gradcheck::Tolerance;
    ///
    /// let t = Tolerance::MANUAL;
    /// assert!(!t.accepts(7.0, f64::INFINITY));
    /// assert!(!t.accepts(f64::INFINITY, 7.0));
    /// assert!(t.accepts(f64::INFINITY, f64::INFINITY));
    /// assert!(!t.accepts(f64::NEG_INFINITY, f64::INFINITY));
    /// ```
    pub fn accepts(self, actual: f64, reference: f64) -> bool {
        if actual.is_infinite() || reference.is_infinite() {
            return actual == reference;
        }
        (actual - reference).abs() <= self.atol + self.rtol * reference.abs()
    }

    /// What is wrong with this tolerance, if anything: an `atol` or `rtol`
    /// that is negative or NaN refuses even a value equal to its reference
    /// (|0| ≤ NaN is false), so every check would fail for the caller's
    /// setting, not for the values compared.
    fn problem(self) -> Option<String> {
        let bad = |t: f64| t.is_nan() || t < 0.0;
        (bad(self.atol) || bad(self.rtol)).then(|| {
            format!(
                "the tolerance (atol {:e}, rtol {:e}) is not valid: each must be 0 or more, \
                 not NaN (a negative or NaN one refuses even an exact match)",
                self.atol, self.rtol
            )
        })
    }
}

impl Default for Tolerance {
    /// [`Tolerance::FINITE_DIFFERENCES`].
    fn default() -> Self {
        Tolerance::FINITE_DIFFERENCES
    }
}

/// The settings of [`gradcheck_with`].
///
/// ```
/// use chainrule::gradcheck::GradcheckOptions;
///
/// let options = GradcheckOptions::default();
/// assert_eq!((options.step, options.tolerance.atol, options.tolerance.rtol), (1e-6, 1e-5, 1e-3));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradcheckOptions {
    /// The relative finite-difference step h₀. Input i is moved by
    /// hᵢ = h₀ · max(1, |xᵢ|), and ∂f/∂xᵢ ≈ (f(x + hᵢ·eᵢ) − f(x − hᵢ·eᵢ)) / (2hᵢ),
    /// 2hᵢ taken as the difference of the two moved inputs as stored (so that
    /// the rounding of x ± hᵢ does not bias the quotient). A step relative to
    /// |xᵢ| is the usual choice (Nocedal & Wright, *Numerical Optimization*,
    /// 2nd ed., §8.1): an absolute step is lost to rounding next to a large
    /// input (at xᵢ = 1e10, x + 1e-6 is x plus a few ulps). Default 1e-6 (as
    /// PyTorch, whose step is absolute: the same for |xᵢ| <= 1).
    pub step: f64,
    /// The acceptance test; default [`Tolerance::FINITE_DIFFERENCES`].
    pub tolerance: Tolerance,
}

impl Default for GradcheckOptions {
    fn default() -> Self {
        GradcheckOptions {
            step: 1e-6,
            tolerance: Tolerance::FINITE_DIFFERENCES,
        }
    }
}

/// One row of a check: one gradient, the tape's and a reference.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientCheck {
    /// The input's position (gradcheck) or node index (compare).
    pub index: usize,
    /// A readable name: `x[0]` for gradcheck; for compare, the node's name as
    /// explanations write it (its label, `x₀` for an unlabelled leaf, or a short
    /// expression).
    pub name: String,
    /// The tape's gradient.
    pub tape: f64,
    /// The reference: the finite difference, or your expected value.
    pub reference: f64,
    /// |tape − reference|.
    pub abs_error: f64,
    /// |tape − reference| / |reference| (infinite for a zero reference and a
    /// nonzero difference, 0 when both are 0).
    pub rel_error: f64,
    /// Whether the tolerance accepts the tape's value. False when the row could
    /// not be checked ([`cannot_check`](GradientCheck::cannot_check)).
    pub passed: bool,
    /// Why the reference could not be formed here, for a [`gradcheck`] row whose
    /// finite difference is no evidence either way: f not finite at x, or not
    /// defined (NaN) or not finite at x ± h, or the difference not finite, or
    /// the step not a positive finite number. Such a row is neither passed nor
    /// failed (it is not in [`GradcheckReport::failures`]). For
    /// [`Gradients::compare`], whose reference is your value: why the tape's
    /// gradient can neither confirm nor refute it, where it is not finite
    /// only because a value on its way underflowed ([`Finding::Underflowed`]);
    /// `None` otherwise.
    pub cannot_check: Option<String>,
    /// The step h of the central difference in `reference` ([`gradcheck`]
    /// only; `None` for [`Gradients::compare`], and where no difference was
    /// formed: a bad step or input, f not finite at x). It is the first step,
    /// h₀ · max(1, |xᵢ|), unless the difference there disagreed with the tape
    /// and a smaller step decided the row, or was the last tried (see
    /// [`gradcheck`]).
    pub step: Option<f64>,
    /// The central differences formed for this row, as (step, difference),
    /// first step first ([`gradcheck`] only; empty for
    /// [`Gradients::compare`]). One pair when the first difference agreed
    /// with the tape; the smaller steps tried otherwise.
    pub differences: Vec<(f64, f64)>,
    /// For a [`Gradients::compare`] row the tolerance rejects: the tape's own
    /// rounding bound ([`Gradients::rounding_bound`]). Where your value is
    /// within it of the tape's, the row passes: the sweep's sum cancels terms
    /// much larger than the gradient, and the tape's value is no more exact
    /// than that. `None` otherwise, and for [`gradcheck`].
    pub tape_rounding: Option<f64>,
    /// For a [`gradcheck`] row: the kink the tape passes (or may pass) on a
    /// path from this input to the output, as "passes a kink at #5 m (…)",
    /// where its gradient is a convention
    /// ([`crate::explain::kink_affecting`]: relu, abs or leaky_relu at 0, max
    /// or min at a tie, clamp at a bound, …), named with its note. Such a row
    /// is never passed: finite differences that agree within the tolerance
    /// cannot tell a corner smaller than it (1e-6·|x| at 0) from none, so it
    /// is *cannot check here* ([`cannot_check`](GradientCheck::cannot_check)
    /// says so); a row the differences fail stays failed, with this note (the
    /// tape's value there is the conventions' sum, which need not be f's slope
    /// where f is differentiable: relu(x) − relu(−x) at 0). `None` otherwise,
    /// and for [`Gradients::compare`], which diagnoses kinks itself.
    pub kink: Option<String>,
}

impl GradientCheck {
    fn new(index: usize, name: String, tape: f64, reference: f64, tolerance: Tolerance) -> Self {
        let abs_error = (tape - reference).abs();
        let rel_error = if abs_error == 0.0 {
            0.0
        } else {
            abs_error / reference.abs()
        };
        GradientCheck {
            index,
            name,
            tape,
            reference,
            abs_error,
            rel_error,
            passed: tolerance.accepts(tape, reference),
            cannot_check: None,
            step: None,
            differences: Vec::new(),
            tape_rounding: None,
            kink: None,
        }
    }

    /// A row whose reference could not be formed: not passed, not failed.
    fn unchecked(index: usize, name: String, tape: f64, reference: f64, why: String) -> Self {
        let mut row = GradientCheck::new(index, name, tape, reference, Tolerance::MANUAL);
        row.passed = false;
        row.cannot_check = Some(why);
        row
    }
}

/// The result of [`gradcheck`]: one row per input. `Display` writes a table.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    /// f at the given inputs.
    pub value: f64,
    /// The inputs, as given.
    pub inputs: Vec<f64>,
    /// One row per input, `reference` being the central difference.
    pub checks: Vec<GradientCheck>,
    /// The settings used.
    pub options: GradcheckOptions,
}

impl GradcheckReport {
    /// Whether every input was checked and passed (true for no inputs). False
    /// when a row [cannot be checked](GradcheckReport::unchecked) here: that is
    /// no evidence for the tape's gradient.
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The rows that were checked and failed: the tape's gradient disagrees with
    /// the central difference.
    pub fn failures(&self) -> impl Iterator<Item = &GradientCheck> {
        self.checks
            .iter()
            .filter(|c| !c.passed && c.cannot_check.is_none())
    }

    /// The rows that could not be checked here (see
    /// [`GradientCheck::cannot_check`]): neither passed nor failed.
    ///
    /// ```
    /// use chainrule::gradcheck::gradcheck;
    ///
    /// // √x at 0: x − h < 0 for every step, where √ is not defined.
    /// let report = gradcheck(|v| v[0].sqrt(), &[0.0]);
    /// assert!(!report.all_passed());
    /// assert_eq!(report.failures().count(), 0);
    /// assert_eq!(report.unchecked().count(), 1);
    /// ```
    pub fn unchecked(&self) -> impl Iterator<Item = &GradientCheck> {
        self.checks.iter().filter(|c| c.cannot_check.is_some())
    }
}

/// Checks the tape's gradient of `f` at `inputs` against central finite
/// differences, with [`GradcheckOptions::default`] (relative step 1e-6: input i
/// moves by 1e-6 · max(1, |xᵢ|); PyTorch's float64 tolerance).
///
/// Each row is passed, failed, or *cannot check here* (see
/// [`GradientCheck::cannot_check`]). A row whose input reaches the output
/// through a kink the tape passes (relu at 0, max at a tie, …: see
/// [`GradientCheck::kink`]) is never passed: there the tape's value is a
/// convention, and differences that agree within the tolerance do not
/// confirm it. A row passes at once where the first
/// difference agrees with the tape and f looks smooth at that step (its
/// one-sided slopes (f(x + h) − f(x))/h and (f(x) − f(x − h))/h agree within
/// the tolerance and rounding). Otherwise it is not failed on that alone: the
/// step can be too wide for f near x (ln at 2e-6 with h = 1e-6: the
/// difference is 5.49e5, the derivative 5e5; e^(10⁶x) at 0), x can sit at a
/// kink (|x| at 0, whose difference 0 equals the tape's convention though the
/// derivative does not exist), or the difference can be lost to rounding
/// ((x + 1e8) − 1e8, whose values round at the ulps of 1e8). The step is
/// divided by 8, up to 12 times, and the row is decided at the first step
/// where
///
/// - the difference d and the one before it, d′, could be formed;
/// - f looks smooth: the one-sided slopes agree, or their gap shrank at least
///   4× since the last step (curvature's gap shrinks with h, a kink's does
///   not);
/// - with the error estimate e = |d − d′| plus both differences' rounding
///   bounds, the tape passes if it is within the tolerance of d and e is too;
/// - it fails if it is further from d than the tolerance plus e, where f
///   looks smooth by the slopes themselves (their gap within the tolerance,
///   or shrunk 4×: not only within their rounding, which at a small enough
///   step covers a kink's gap), d and
///   d′ agree within the tolerance plus their rounding bounds, the
///   differences converge (|d − d′| is at most a quarter of the gap from d′
///   to the difference before it; an h² truncation shrinks 64× per step), and
///   the tape's slope g is one f's values could show over the step (|g|·h at
///   most 10⁶ times the largest |f| at x and x ± h).
///
/// The rounding bound of f is the running error bound at x, 4ε · max(|f|,
/// Σ|vᵢ|·|∂f/∂vᵢ|) over the recorded nodes vᵢ (Higham, *Accuracy and
/// Stability of Numerical Algorithms*, 2nd ed., §3.3; Linnainmaa, 1976): each
/// op rounds its result by at most ε/2·|vᵢ|, which reaches f times ∂f/∂vᵢ (a
/// result below 2.2e-308, subnormal or 0, by up to 2⁻¹⁰⁷⁵ absolutely: there
/// |vᵢ| counts as 2.2e-308, so for an f in the subnormal range, as
/// x·1e-300·1e-20, the differences are lost to rounding and fail nothing: the
/// row passes on the absolute tolerance where the tape's gradient is within
/// it of the differences' 0, else it is *cannot check here*).
/// It assumes f's ops are correctly rounded to within a few ulps.
///
/// A row no step decides is *cannot check here*, with the differences tried
/// and the reason: f not defined or not finite at x or at x ± h for every
/// step; one-sided slopes that disagree at every step tried, where f is not
/// differentiable within x ± h (relu and |x| at 0: the tape's value there is a
/// convention, and no difference is evidence for or against it; a pole, as 1/x
/// at 1e-300) or turns on a finer scale than the smallest step (hypot(x, y)
/// at x = y = 1e-300 is differentiable, with partials 1/√2, but no difference
/// can show it: the row says both causes); the differences lost to
/// rounding (try a larger step with [`gradcheck_with`]); the differences
/// settling away from the tape where the tape's slope is far beyond what f's
/// values show over the step (x³ at 0 with a tape of 1: a wrong tape, or an
/// f varying on a finer scale, and no difference tells which; sin at 1e300,
/// where every step is 1e284 or more); or the differences never settling. A
/// NaN tape gradient fails against a decided difference (√(x⁴) at 0: slope 0,
/// the policy's NaN). An oscillation finer than the step (sin(1/x) at 1e-4,
/// period 6e-8 there) makes successive differences disagree, and smaller
/// steps are tried until they resolve it. No finite difference is proof
/// against an oscillation finer than the steps and in phase with them:
/// x + sin(cx)/c with c = 10⁹π has derivative 2 at 0, but its differences at
/// h = 1e-6 and 1e-6/8 (whole numbers of periods) are both exactly 1, its
/// mean slope. Here the next steps break the pattern (0.981, 0.976 do not
/// converge) and the row passes at h = 3.8e-12; a function built to stay in
/// phase with every step would be judged on its mean slope.
///
/// `f` receives the inputs recorded as leaves of a fresh tape and returns the
/// output; it runs 2n + 1 times for n inputs (once taped and swept, then twice per
/// input for the differences), and twice more per smaller step tried for a row
/// whose first difference is not decisive.
///
/// # Complexity
/// 2n + 1 recordings of `f`, one sweep and one pass over the tape's nodes
/// (the rounding bound) when every row is decided at the first step; at most
/// 24 more recordings per row that is not.
/// With no inputs, `f` is not called: the report has no rows and a NaN value.
///
/// Pass `f` inline or as a `fn` item: a closure first bound with `let` loses the
/// signature `for<'t> Fn(&[Var<'t>]) -> Var<'t>` (a limit of Rust's closure
/// inference), and the call does not compile.
///
/// # Panics
/// If `f` returns a `Var` of another tape than the one it was given.
///
/// ```
/// use chainrule::gradcheck::gradcheck;
///
/// let report = gradcheck(|v| (v[0] * v[1]).exp() / v[2], &[0.2, 0.4, 2.0]);
/// assert!(report.all_passed(), "{report}");
/// assert_eq!(report.checks.len(), 3);
/// ```
pub fn gradcheck<F>(f: F, inputs: &[f64]) -> GradcheckReport
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    gradcheck_with(f, inputs, GradcheckOptions::default())
}

/// [`gradcheck`] with a chosen step and tolerance.
///
/// # Errors
/// None are returned: a check that cannot be made is reported in its row
/// ([`GradientCheck::cannot_check`], [`GradcheckReport::unchecked`]), as
/// *cannot check here*, with the reason: f not finite at x, no difference
/// formed at any step tried (f not defined or not finite at x ± h, x ± h not
/// finite, the step lost to the rounding of x), one-sided slopes that
/// disagree at every step tried (f not differentiable within x ± h, or
/// turning on a finer scale), the differences lost to rounding, an input not
/// finite, or a step that is not a positive finite number, or a tolerance
/// whose `atol` or `rtol` is negative or NaN (then every row, with a NaN
/// reference, rather than a panic).
///
/// # Panics
/// If `f` returns a `Var` of another tape than the one it was given.
///
/// ```
/// use chainrule::gradcheck::{gradcheck_with, GradcheckOptions};
///
/// let options = GradcheckOptions { step: 1e-4, ..Default::default() };
/// let report = gradcheck_with(|v| v[0].powi(3), &[2.0], options);
/// assert!(report.all_passed());
/// // h = 1e-4 · max(1, 2) = 2e-4: (2 + h)³ − (2 − h)³ = 24h + 2h³
/// assert!((report.checks[0].reference - 12.0).abs() < 1e-6);
///
/// // The step scales with the input: at 1e10 it is 1e4, not lost to rounding.
/// assert!(gradcheck_with(|v| v[0] * 3.0, &[1e10], options).all_passed());
///
/// // ln(x) at 1e-5: x − 2e-4 < 0, but from h = 2e-4/64 on ln is defined at
/// // x ± h, and the differences decide the row.
/// assert!(gradcheck_with(|v| v[0].ln(), &[1e-5], options).all_passed());
///
/// // ln(x) at 2e-6 with the default step 1e-6: the first difference is 5.49e5
/// // (too wide a step for ln this close to 0); then 5.0065e5, 5.00010e5 and,
/// // at h = 1e-6/8³, 5.000002e5: the row passes there.
/// let report = gradcheck_with(|v| v[0].ln(), &[2e-6], Default::default());
/// assert!(report.all_passed(), "{report}");
/// assert_eq!(report.checks[0].step, Some(1e-6 / 512.0));
/// assert_eq!(report.checks[0].differences.len(), 4);
///
/// // 1/x at 1e-300: x ± h lies on both sides of the pole at 0 at every step
/// // tried: cannot check, not FAIL.
/// let report = gradcheck_with(|v| v[0].recip(), &[1e-300], Default::default());
/// assert_eq!((report.failures().count(), report.unchecked().count()), (0, 1));
/// ```
pub fn gradcheck_with<F>(f: F, inputs: &[f64], options: GradcheckOptions) -> GradcheckReport
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    if inputs.is_empty() {
        // f could not even reach the tape: nothing to check.
        return GradcheckReport {
            value: f64::NAN,
            inputs: Vec::new(),
            checks: Vec::new(),
            options,
        };
    }
    let mut tape = Tape::with_capacity(64);
    // Constants kept, so that a kink at a constant (max(x, 1) at 1) is known
    // to be one, not only possibly one.
    tape.set_keep_constants(true);
    let (at, tape_gradients, kinks) = {
        let vars = tape.vars(inputs);
        let y = evaluate(&f, &tape, &vars);
        let g = y.backward();
        // The kink on a path from each input, if any: there the tape's value
        // is a convention (`max(x, y)·1e-7` at a tie passed on differences
        // that agree within the tolerance, though ∂f/∂x does not exist).
        let kinks: Vec<Option<String>> = vars
            .iter()
            .map(|x| {
                crate::explain::kink_affecting(&tape, x.index(), y.index()).map(|(node, note)| {
                    let name = crate::explain::readable_name(&tape, node);
                    let verb = if note.contains("so not which") {
                        "may pass"
                    } else {
                        "passes"
                    };
                    format!("{verb} a kink at #{node} {name} ({note})")
                })
            })
            .collect();
        (At::new(&g, y), g.wrt_all(&vars), kinks)
    };
    let value = at.value;
    let h0 = options.step;
    let step_ok = h0.is_finite() && h0 > 0.0;
    let tolerance_problem = options.tolerance.problem();
    let mut shifted = inputs.to_vec();
    let mut checks = Vec::with_capacity(inputs.len());
    for (i, &tape_gradient) in tape_gradients.iter().enumerate() {
        let name = format!("x[{i}]");
        let x = inputs[i];
        let why = if !step_ok {
            Some(format!("the step {h0:e} is not a positive finite number"))
        } else if let Some(problem) = &tolerance_problem {
            Some(problem.clone())
        } else if !x.is_finite() {
            Some(format!("the input is {x}"))
        } else if !value.is_finite() {
            Some(format!("f is {value} here"))
        } else {
            None
        };
        if let Some(why) = why {
            checks.push(GradientCheck::unchecked(
                i,
                name,
                tape_gradient,
                f64::NAN,
                why,
            ));
            continue;
        }
        // Nocedal & Wright §8.1: a step relative to |x| (absolute below 1).
        let h = h0 * x.abs().max(1.0);
        let first = central_difference(&f, &mut tape, &mut shifted, i, h, at);
        let row = match first {
            Ok(d)
                if options.tolerance.accepts(tape_gradient, d.value)
                    && d.smooth(options.tolerance)
                    && d.resolved(options.tolerance) =>
            {
                let mut row =
                    GradientCheck::new(i, name, tape_gradient, d.value, options.tolerance);
                row.step = Some(h);
                row.differences = vec![(h, d.value)];
                row
            }
            first => {
                let mut row =
                    Refinement::new(tape_gradient, options.tolerance, h, first.map(|d| (h, d)));
                row.run(&f, &mut tape, &mut shifted, i, h, at);
                row.into_row(i, name)
            }
        };
        let mut row = row;
        if let Some(kink) = &kinks[i] {
            if row.passed {
                row.passed = false;
                row.cannot_check = Some(format!(
                    "the tape {kink}, where its gradient is a convention; differences \
                     that agree within the tolerance cannot tell a corner smaller than it \
                     from none: check at a point off the kink"
                ));
            }
            row.kink = Some(kink.clone());
        }
        checks.push(row);
    }
    GradcheckReport {
        value,
        inputs: inputs.to_vec(),
        checks,
        options,
    }
}

/// f at the inputs, and what its rounding can be.
#[derive(Clone, Copy, Debug)]
struct At {
    value: f64,
    /// f's running error bound at x ([`Gradients::running_error_bound`]): f's
    /// rounding is at most about ε/2 times this.
    noise: f64,
}

impl At {
    fn new(g: &Gradients<'_>, y: Var<'_>) -> Self {
        At {
            value: y.value(),
            noise: g.running_error_bound(),
        }
    }
}

/// One central difference, with what is known of its error.
#[derive(Clone, Copy, Debug)]
struct Difference {
    /// (f(x + h) − f(x − h)) / (x₊ − x₋), the width as stored.
    value: f64,
    /// A bound on its rounding error: [`ROUNDING_ULPS`] ulps of the larger of
    /// |f(x ± h)| and of the running error bound at x ([`At::noise`]), for
    /// each of f(x ± h), over the width.
    rounding: f64,
    /// The same bound for the one-sided slopes (over the half width).
    one_sided_rounding: f64,
    /// The largest of |f(x − h)|, |f(x)|, |f(x + h)|.
    magnitude: f64,
    /// x₊ − x₋, about 2h.
    width: f64,
    /// The one-sided slopes (f(x₊) − f(x)) / (x₊ − x) and (f(x) − f(x₋)) / (x − x₋).
    forward: f64,
    backward: f64,
}

impl Difference {
    /// Whether its rounding bound is within the tolerance: else a difference
    /// that agrees with the tape may agree by rounding alone (a wrong tape of
    /// 1 passed against ln(1 − σ(2x)) at 15, whose difference at the first step
    /// can be moved by ~630).
    fn resolved(&self, tolerance: Tolerance) -> bool {
        self.rounding <= tolerance.atol + tolerance.rtol * self.value.abs()
    }

    /// Whether the one-sided slopes agree within the tolerance (of the
    /// central difference) and their rounding: no kink, jump or curvature
    /// the step cannot resolve. An infinite or NaN gap is never smooth.
    fn smooth(&self, tolerance: Tolerance) -> bool {
        let window = tolerance.atol + tolerance.rtol * self.value.abs();
        (self.forward - self.backward).abs() <= window + 2.0 * self.one_sided_rounding
    }
}

/// f's values are taken to be within this many ulps (of the larger of |f| and
/// the running error bound) of the exact ones: 4, twice the first-order bound
/// ε/2 · Σ|vᵢ ∂f/∂vᵢ|, for libm's last-bit errors and the bound's evaluation at
/// x rather than x ± h.
const ROUNDING_ULPS: f64 = 4.0;

/// The central difference of f in input `i` with step `h`, or why it cannot
/// be formed there.
fn central_difference<F>(
    f: &F,
    tape: &mut Tape,
    shifted: &mut [f64],
    i: usize,
    h: f64,
    at: At,
) -> Result<Difference, String>
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    let value = at.value;
    let x = shifted[i];
    let (x_up, x_down) = (x + h, x - h);
    if !(x_up.is_finite() && x_down.is_finite()) {
        return Err(format!(
            "x[{i}] ± h is not finite (x[{i}] = {x:e}, h = {})",
            step_text(h)
        ));
    }
    if x_up == x || x_down == x {
        return Err(format!(
            "the step {} is lost to the rounding of x[{i}] = {x:e}",
            step_text(h)
        ));
    }
    shifted[i] = x_up;
    let up = primal(f, tape, shifted);
    shifted[i] = x_down;
    let down = primal(f, tape, shifted);
    shifted[i] = x;
    let width = x_up - x_down;
    let numeric = (up - down) / width;
    let side = |at: f64, fx: f64| {
        let what = if fx.is_nan() {
            "not defined (NaN)"
        } else {
            "not finite"
        };
        format!(
            "f is {what} at x[{i}] = {at:e} (a step of {} away), though f(x) = {value:e}",
            step_text(h)
        )
    };
    if !down.is_finite() {
        Err(side(x_down, down))
    } else if !up.is_finite() {
        Err(side(x_up, up))
    } else if !numeric.is_finite() {
        Err(format!("the central difference is {numeric}"))
    } else {
        // Each of f(x ± h) rounded by up to `each`.
        let each = ROUNDING_ULPS * f64::EPSILON * up.abs().max(down.abs()).max(at.noise);
        Ok(Difference {
            value: numeric,
            rounding: 2.0 * each / width,
            one_sided_rounding: 4.0 * each / width,
            magnitude: up.abs().max(down.abs()).max(value.abs()),
            width,
            forward: (up - value) / (x_up - x),
            backward: (value - down) / (x - x_down),
        })
    }
}

/// At most this many smaller steps, each an eighth of the last, are tried for
/// a row whose first difference disagrees with the tape (8, not 10: a
/// function periodic in a decimal step is less likely to alias).
const SMALLER_STEPS: i32 = 12;

/// Why a refinement ended without a verdict.
enum Undecided {
    /// Every step tried was too wide: the one-sided slopes still differed.
    NotSmooth,
    /// The last difference's rounding bound exceeded the tolerance (and its
    /// one-sided slopes agreed: else `NotSmooth`).
    Rounding,
    /// Two successive differences never came close enough to decide.
    NotSettled,
    /// The differences settled away from the tape, but the tape's slope times
    /// the step is far more than f's values: f may vary on a finer scale.
    Invisible,
}

/// A failure is only stated where the tape's slope g could show in f's
/// values over the step: |g| · h at most this many times the largest |f| at
/// x and x ± h (see [`Refinement::run`]).
const VISIBLE: f64 = 1e6;

/// The search for a decisive difference, for a row whose first difference
/// disagrees with the tape or could not be formed (see [`gradcheck`]).
struct Refinement {
    tape: f64,
    /// The first step, h₀ · max(1, |xᵢ|).
    first_step: f64,
    tolerance: Tolerance,
    /// The (step, difference) pairs formed, first step first.
    tried: Vec<(f64, Difference)>,
    /// Why the last step could not be formed, if it could not.
    unformed: Option<String>,
    verdict: Option<(f64, f64, bool)>,
    undecided: Undecided,
}

impl Refinement {
    fn new(
        tape: f64,
        tolerance: Tolerance,
        first_step: f64,
        first: Result<(f64, Difference), String>,
    ) -> Self {
        let (tried, unformed) = match first {
            Ok(d) => (vec![d], None),
            Err(why) => (Vec::new(), Some(why)),
        };
        Refinement {
            tape,
            first_step,
            tolerance,
            tried,
            unformed,
            verdict: None,
            undecided: Undecided::NotSettled,
        }
    }

    /// Tries steps h/8, h/64, … until a difference decides the row: it and
    /// the one before were formed, f looks smooth at this step (the one-sided
    /// slopes agree within the tolerance, or their gap shrank at least 4×
    /// with the step, as curvature's does and a kink's does not), the two
    /// agree within the tolerance and their rounding bounds, and with the
    /// error estimate (their gap plus both rounding bounds) the tape is
    /// within the tolerance (the estimate too), or outside the tolerance by
    /// more than the estimate.
    fn run<F>(&mut self, f: &F, tape: &mut Tape, shifted: &mut [f64], i: usize, h: f64, at: At)
    where
        F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
    {
        // A NaN tape gradient is as far from a settled difference as can be.
        let off = |d: f64| {
            if self.tape.is_nan() {
                f64::INFINITY
            } else {
                (self.tape - d).abs()
            }
        };
        let mut previous = self.tried.last().map(|&(_, d)| d);
        // The one before `previous`, when the two were formed in a row.
        let mut before: Option<Difference> = None;
        let gap = |d: &Difference| (d.forward - d.backward).abs();
        for k in 1..=SMALLER_STEPS {
            let step = h / 8f64.powi(k);
            let x = shifted[i];
            // A step lost to x's rounding says less than why the larger steps
            // before it could not be formed (f not defined at x ± h: a
            // negative base to a non-integer power), which stays the reason.
            if (x + step == x || x - step == x) && self.unformed.is_some() {
                previous = None;
                before = None;
                continue;
            }
            let d = match central_difference(f, tape, shifted, i, step, at) {
                Ok(d) => d,
                Err(why) => {
                    self.unformed = Some(why);
                    previous = None;
                    before = None;
                    continue;
                }
            };
            self.unformed = None;
            self.tried.push((step, d));
            let window = self.tolerance.atol + self.tolerance.rtol * d.value.abs();
            // (An infinite or NaN gap, as next to a pole, is never smooth.)
            let shrank = previous.is_some_and(|p| gap(&d).is_finite() && gap(&d) <= gap(&p) / 4.0);
            let smooth = d.smooth(self.tolerance) || shrank;
            // A failure needs f smooth by the slopes themselves, not within
            // their rounding: at a step small enough, the rounding of the
            // one-sided slopes covers a kink's gap (max(x, 1) at 1 with
            // h = 7e-15: slopes 1 and 0, each ±0.8), and the central
            // difference is a kink's mean slope, no evidence against a tape
            // that gives one side's.
            let strictly_smooth = gap(&d) <= window || shrank;
            // (Once the differences settled away from a tape f's values could
            // not show, that stays the reason: smaller steps only lose more to
            // rounding.)
            if !matches!(self.undecided, Undecided::Invisible) {
                self.undecided = if smooth {
                    Undecided::NotSettled
                } else {
                    Undecided::NotSmooth
                };
            }
            if let (true, Some(p)) = (smooth, previous) {
                let rounding = d.rounding + p.rounding;
                let error = (d.value - p.value).abs() + rounding;
                if off(d.value) <= window && error <= window {
                    self.verdict = Some((step, d.value, true));
                    return;
                }
                // A failure needs the gap to bound d's error: the two
                // differences agree (within the tolerance and their rounding)
                // and the last three converge (this gap at most a quarter of
                // the one before, as an h² truncation's is a 64th). Far from
                // that regime (an oscillation finer than the step, as sin(1/x)
                // near 0 or sin at 1e300, whose differences grow as 1/h) it
                // does not.
                let converging = before.is_some_and(|b| {
                    let last_gap = (p.value - b.value).abs();
                    (d.value - p.value).abs() <= last_gap / 4.0 + rounding + b.rounding
                });
                // And the tape's own slope must be one f could show over the
                // step: a smooth f with slope g at x has |f| ≥ |g|·h at x − h
                // or x + h. Where |g|·h is over 10⁶ times every |f| seen, f
                // varies on a far finer scale than the step (sin at 1e300,
                // where h is 1e294: |g|·h ~ 1e294, |f| <= 1) or the tape is
                // wrong: the differences cannot tell which.
                // (Three differences exactly equal, across steps 64× apart, are
                // f linear there to the last bit: f ≡ 0 with a tape of 1.)
                let exact = before.is_some_and(|b| b.value == p.value && p.value == d.value);
                let visible = !self.tape.is_finite()
                    || exact
                    || self.tape.abs() * d.width <= 2.0 * VISIBLE * d.magnitude;
                let agree = (d.value - p.value).abs() <= window + rounding;
                if converging && agree && strictly_smooth && off(d.value) > window + error {
                    if visible {
                        self.verdict = Some((step, d.value, false));
                        return;
                    }
                    self.undecided = Undecided::Invisible;
                }
            }
            if d.rounding > window && 8.0 * d.rounding > off(d.value) {
                // Each smaller step multiplies the rounding by 8: past the
                // tolerance it cannot pass, past the tape's distance from d
                // it cannot fail.
                if smooth && !matches!(self.undecided, Undecided::Invisible) {
                    self.undecided = Undecided::Rounding;
                }
                return;
            }
            before = previous;
            previous = Some(d);
        }
    }

    fn into_row(self, i: usize, name: String) -> GradientCheck {
        let differences: Vec<(f64, f64)> = self.tried.iter().map(|&(h, d)| (h, d.value)).collect();
        let last = self.tried.last().copied();
        let mut row = match (self.verdict, last) {
            (Some((step, reference, passed)), _) => {
                let mut row = GradientCheck::new(i, name, self.tape, reference, self.tolerance);
                row.passed = passed;
                row.step = Some(step);
                row
            }
            (None, None) => {
                let why = format!(
                    "no central difference could be formed at any step tried, from h = {} \
                     down to {}; at the last: {}",
                    step_text(self.first_step),
                    step_text(self.first_step / 8f64.powi(SMALLER_STEPS)),
                    self.unformed.unwrap_or_default()
                );
                GradientCheck::unchecked(i, name, self.tape, f64::NAN, why)
            }
            (None, Some((step, d))) => {
                let tried = differences
                    .iter()
                    .map(|&(h, d)| format!("{d:.6e} at h = {}", step_text(h)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let mut why = match self.undecided {
                    Undecided::NotSmooth => format!(
                        "the one-sided slopes disagree at every step tried, down to h = {}, \
                         where they are {:.6e} and {:.6e}: either f is not differentiable within \
                         x[{i}] ± h (a kink, jump or pole that close to x), or it turns on a \
                         scale finer than the smallest step (as hypot(a, b) does near a = 0 \
                         where |b| is far below h: smooth, but turning within about |b| of 0); \
                         a smaller step would be lost to rounding or was not tried; the central \
                         differences were {tried}",
                        step_text(step),
                        d.forward,
                        d.backward
                    ),
                    Undecided::Rounding => {
                        // `rounding` is 2 · (ROUNDING_ULPS · ε · reach) / width.
                        let reach = d.rounding * d.width / (2.0 * ROUNDING_ULPS * f64::EPSILON);
                        // Below MIN_POSITIVE, f64 rounds absolutely: see
                        // `Gradients::running_error_bound`.
                        let (floor, remedy) = if reach < 1e4 * f64::MIN_POSITIVE {
                            (
                                "; a value below 2.2e-308 counts as 2.2e-308, since f64 rounds \
                                 there by up to 2⁻¹⁰⁷⁵ absolutely",
                                "scaling f up, or a tolerance with atol, may resolve it",
                            )
                        } else {
                            ("", "a larger step, with gradcheck_with, may resolve it")
                        };
                        format!(
                            "the differences are lost to rounding before they settle: at h = {} \
                             the rounding of f's evaluation (f and the intermediate values it is \
                             computed from reach {reach:.3e}, weighted by their effect on f{floor}) \
                             can move the difference by {:.3e}, more than the tolerance ({remedy}); \
                             the central differences were {tried}",
                            step_text(step),
                            d.rounding
                        )
                    }
                    Undecided::NotSettled => format!(
                        "the central difference does not settle as the step shrinks ({tried}), \
                         so it is no evidence about the derivative"
                    ),
                    Undecided::Invisible => format!(
                        "the last differences agree near {:.6e}, away from the tape's value, but the \
                         tape's slope times the step ({:.3e} at h = {}) is over {VISIBLE:e} \
                         times every |f| seen there ({:.3e}): either f varies on a much finer \
                         scale than the step or the tape is wrong, and a difference cannot \
                         tell which; the central differences were {tried}",
                        d.value,
                        self.tape.abs() * d.width / 2.0,
                        step_text(step),
                        d.magnitude
                    ),
                };
                if let Some(unformed) = self.unformed {
                    why.push_str(&format!("; the next step could not be taken: {unformed}"));
                }
                let mut row = GradientCheck::unchecked(i, name, self.tape, d.value, why);
                row.step = Some(step);
                row
            }
        };
        row.differences = differences;
        row
    }
}

/// A step as people write it: 1e-9, not the 9.999999999999999e-10 that
/// h₀/10ᵏ is in binary (rounded to 7 significant digits, then shortest form).
fn step_text(h: f64) -> String {
    let rounded: f64 = format!("{h:.6e}").parse().unwrap_or(h);
    format!("{rounded:e}")
}

fn evaluate<'t, F>(f: &F, tape: &'t Tape, vars: &[Var<'t>]) -> Var<'t>
where
    F: for<'s> Fn(&[Var<'s>]) -> Var<'s>,
{
    let y = f(vars);
    assert!(
        std::ptr::eq(y.tape(), tape),
        "chainrule::gradcheck: the function returned a Var of another tape; \
         record the output on the tape of the inputs it is given"
    );
    y
}

/// f at `inputs`, recorded on a cleared tape (only the value is used).
fn primal<F>(f: &F, tape: &mut Tape, inputs: &[f64]) -> f64
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    tape.clear();
    let vars = tape.vars(inputs);
    evaluate(f, tape, &vars).value()
}

/// A note for each passed row that only the absolute tolerance accepts (its
/// relative error is over `rtol`): at a scale near `atol` a pass says little:
/// any value within `atol` of the reference passes, however far off relatively
/// (a hand 5e-13 against a true 2e-21).
fn write_absolute_only(
    f: &mut fmt::Formatter<'_>,
    rows: &[GradientCheck],
    tolerance: Tolerance,
) -> fmt::Result {
    for row in rows {
        if row.passed
            && row.tape_rounding.is_none()
            && row.rel_error > tolerance.rtol
            && row.abs_error > 0.0
        {
            writeln!(
                f,
                "{}: passed on the absolute tolerance {:e} alone (relative error {:.3e}): \
                 at this scale the check accepts values that far off (any value within {:e} \
                 of the reference); lower atol for a stricter check",
                row.name, tolerance.atol, row.rel_error, tolerance.atol
            )?;
        }
    }
    Ok(())
}

fn write_table(f: &mut fmt::Formatter<'_>, reference: &str, rows: &[GradientCheck]) -> fmt::Result {
    let width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    writeln!(
        f,
        "{:<width$}  {:>24}  {:>24}  {:>10}  {:>10}  result",
        "input", "tape", reference, "abs err", "rel err"
    )?;
    for row in rows {
        writeln!(
            f,
            "{:<width$}  {:>24.17e}  {:>24.17e}  {:>10.3e}  {:>10.3e}  {}",
            row.name,
            row.tape,
            row.reference,
            row.abs_error,
            row.rel_error,
            if row.passed {
                "pass"
            } else if row.cannot_check.is_some() {
                "cannot check here"
            } else {
                "FAIL"
            }
        )?;
    }
    Ok(())
}

impl fmt::Display for GradcheckReport {
    /// A table: per input the tape's gradient, the central difference, the
    /// absolute and relative errors, and pass, FAIL or "cannot check here"; a
    /// line per row that cannot be checked, saying why; then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_table(f, "central difference", &self.checks)?;
        for row in &self.checks {
            if let Some(why) = &row.cannot_check {
                writeln!(f, "{}: cannot check here: {why}", row.name)?;
            } else if let (false, Some(kink)) = (row.passed, &row.kink) {
                writeln!(
                    f,
                    "{}: the tape {kink}: its gradient there is a convention, which \
                     need not be f's slope where f is differentiable",
                    row.name
                )?;
            }
            if row.cannot_check.is_none() && row.differences.len() > 1 {
                let tried = row
                    .differences
                    .iter()
                    .map(|&(h, d)| format!("{d:.6e} at h = {}", step_text(h)))
                    .collect::<Vec<_>>()
                    .join(", ");
                writeln!(
                    f,
                    "{}: the first difference was not decisive; the differences were \
                     {tried}: judged at h = {}",
                    row.name,
                    step_text(row.step.unwrap_or(f64::NAN))
                )?;
            }
        }
        write_absolute_only(f, &self.checks, self.options.tolerance)?;
        let failed = self.failures().count();
        let unchecked = self.unchecked().count();
        let checked = self.checks.len() - unchecked;
        let passed = checked - failed;
        if unchecked == 0 {
            write!(f, "{passed} of {} passed", self.checks.len())?;
        } else {
            write!(
                f,
                "{passed} of {checked} checked passed, {unchecked} cannot be checked here"
            )?;
        }
        writeln!(
            f,
            " (step {:e}·max(1, |x|), |tape − numeric| <= {:e} + {:e}·|numeric|)",
            self.options.step, self.options.tolerance.atol, self.options.tolerance.rtol
        )
    }
}

/// The settings of [`Gradients::compare_with`]: the acceptance test, and the
/// options of the explanation of each mismatch. Made from a [`Tolerance`], an
/// [`ExplainOptions`] or both, so both `compare_with(&e, tolerance)` and
/// `compare_with(&e, ExplainOptions::default().raw())` read as they should.
///
/// ```
/// use chainrule::explain::ExplainOptions;
/// use chainrule::gradcheck::{CompareOptions, Tolerance};
///
/// let options: CompareOptions = ExplainOptions::default().raw().into();
/// assert_eq!(options.tolerance, Tolerance::MANUAL);
/// let options: CompareOptions = (Tolerance::FINITE_DIFFERENCES, ExplainOptions::default()).into();
/// assert_eq!(options.explain, ExplainOptions::default());
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CompareOptions {
    /// The acceptance test. Default [`Tolerance::MANUAL`].
    pub tolerance: Tolerance,
    /// How each mismatch is explained. Default [`ExplainOptions::default`].
    pub explain: ExplainOptions,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            tolerance: Tolerance::MANUAL,
            explain: ExplainOptions::default(),
        }
    }
}

impl From<Tolerance> for CompareOptions {
    /// This tolerance, the default explanation options.
    fn from(tolerance: Tolerance) -> Self {
        CompareOptions {
            tolerance,
            ..Default::default()
        }
    }
}

impl From<ExplainOptions> for CompareOptions {
    /// These explanation options, [`Tolerance::MANUAL`].
    fn from(explain: ExplainOptions) -> Self {
        CompareOptions {
            explain,
            ..Default::default()
        }
    }
}

impl From<(Tolerance, ExplainOptions)> for CompareOptions {
    fn from((tolerance, explain): (Tolerance, ExplainOptions)) -> Self {
        CompareOptions { tolerance, explain }
    }
}

/// The most combinations of the paths a diagnosis tries: 2^16.
pub const MAX_COMBINATIONS: usize = 1 << 16;

/// The most alternatives a [`Finding::Ambiguous`] diagnosis writes out (it
/// says how many there are).
pub const MAX_ALTERNATIVES_SHOWN: usize = 3;

/// The most terms a diagnosis searches in every combination (4^8 =
/// [`MAX_COMBINATIONS`]). With more, it searches the combinations with the
/// fewest changes first (every single slip, then every pair, …) up to
/// [`MAX_COMBINATIONS`], and a [`Finding::NoMatch`] says how many changes it
/// covered.
pub const MAX_TERMS: usize = 8;

/// The most paths a diagnosis takes one by one (every slip of one path among
/// 32 is 96 combinations, of two 4,464); with more (or with paths left
/// unlisted), it takes the [branches](Explanation::branches) instead: the paths
/// grouped by their first step after the point where they part. With the
/// default [`ExplainOptions`] (which list [`DEFAULT_MAX_PATHS`] paths), a
/// mismatch's explanation lists every path when they are at most this many.
///
/// [`DEFAULT_MAX_PATHS`]: crate::explain::DEFAULT_MAX_PATHS
pub const MAX_PATH_TERMS: usize = 32;

/// One term of the tape's gradient a hand value is held against: one path, or
/// one branch of paths.
#[derive(Clone, Debug, PartialEq)]
pub struct PathTerm {
    /// Its number in the diagnosis, from 1.
    pub number: usize,
    /// How many paths it holds (1 for a single path).
    pub paths: u128,
    /// The name of the quantity that sets it apart: `out_o1` in
    /// "path 1 (through out_o1)", or of the quantities at which it parts from
    /// some of the others, where one is not enough (`out_o1 and out_h1` for
    /// ∂E/∂b1 of the 2-2-2 network of the step-by-step backpropagation
    /// example, whose four paths part at the output neurons and again at the
    /// hidden neurons); empty for a path straight from the
    /// output.
    pub through: String,
    /// What it contributes to ∂y/∂x.
    pub contribution: f64,
    /// For a path set apart by its last factor, a direct partial down to the
    /// input (the others pass through a quantity below the same node): that
    /// factor as explanations write it, `∂(sin(x)·x)/∂x|direct` (the node
    /// reaches the input another way too), or `∂f/∂x|direct` for the edge
    /// straight from the output. `None` otherwise.
    pub direct_term: Option<String>,
    /// The values of its factors, from the output down (empty for a branch):
    /// two paths with the same factor values and contribution are identical to
    /// a diagnosis, which cannot tell them apart.
    pub factor_values: Vec<f64>,
}

impl PathTerm {
    /// Whether both are single paths with the same factor values (and so the
    /// same contribution).
    fn identical(&self, other: &PathTerm) -> bool {
        self.paths == 1
            && other.paths == 1
            && !self.factor_values.is_empty()
            && self.factor_values == other.factor_values
            && self.contribution.to_bits() == other.contribution.to_bits()
    }
}

impl fmt::Display for PathTerm {
    /// `path 1 (through out_o1)`, `path 3 (the direct term
    /// ∂(sin(x)·x)/∂x|direct)`, or `branch 2 (3 paths through net_h2)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let (1, Some(term)) = (self.paths, &self.direct_term) {
            return write!(f, "path {} (the direct term {term})", self.number);
        }
        match (self.paths, self.through.is_empty()) {
            (1, true) => write!(f, "path {} (the direct edge)", self.number),
            (1, false) => write!(f, "path {} (through {})", self.number, self.through),
            (n, _) => write!(
                f,
                "branch {} ({n} paths through {})",
                self.number, self.through
            ),
        }
    }
}

/// What a hand value that disagrees with the tape is made of, found by
/// [`Gradients::compare`] from the paths' contributions.
#[derive(Clone, Debug, PartialEq)]
pub enum Finding {
    /// The hand value equals Σ coefficientᵢ · termᵢ within the comparison's
    /// tolerance, a coefficient being 1 (as the tape counts it), 0 (missing),
    /// 2 (counted twice) or −1 (the wrong sign). The simplest such sum (the
    /// fewest coefficients other than 1) is reported when it is the only one that
    /// simple; else the finding is [`Ambiguous`](Finding::Ambiguous). Where the
    /// tape's value is one path, a coefficient 2 is written "your value is
    /// twice the tape's", not "path 1 counted twice": with one path there is
    /// no second one to count it with.
    EqualsPaths {
        /// One per term, in order.
        coefficients: Vec<i8>,
    },
    /// Several sums Σ coefficientᵢ · termᵢ of the same (fewest) changes match
    /// the hand value within the tolerance: the paths alone cannot tell which
    /// slip was made. Each alternative has one coefficient per term, as in
    /// [`EqualsPaths`](Finding::EqualsPaths): those with fewer terms counted twice
    /// or with the wrong sign first, then in search order.
    Ambiguous {
        /// Every matching combination found with the fewest changes (at least 2).
        alternatives: Vec<Vec<i8>>,
    },
    /// The tape's gradient is NaN or infinite: no hand value matches it, and it
    /// is no sum of finite contributions. Where it starts, as
    /// [`Gradients::gradient_anomaly`] finds it. (The anomaly usually holds a NaN
    /// or infinite number, so compare it by its fields, not with `==`.)
    NonFiniteTape {
        /// The start of the non-finite gradient, if the sweep's walk finds it.
        anomaly: Option<crate::anomaly::GradientAnomaly>,
    },
    /// The tape's gradient is NaN or infinite, and a value on a path from the
    /// input to the output underflowed ([`crate::anomaly::underflowed`]: 0 or
    /// subnormal, its operands nonzero): √(x·x) at x = 1e-200, where x·x =
    /// 1e-400 is 0 in f64 and the tape's ∂ is √′(0)·2x = ∞, while √(x²) = |x|
    /// has slope 1. The tape's value may be f64's range, not f's derivative:
    /// your value is neither confirmed nor refuted (the row is neither passed
    /// nor failed: its [`GradientCheck::cannot_check`] says why), and no slip
    /// is named.
    Underflowed {
        /// The first node on a path from the input up to the output whose
        /// value underflowed.
        node: usize,
        /// Its name, as explanations write it.
        name: String,
        /// Its value (0 or subnormal).
        value: f64,
    },
    /// The tape passes a kink on a path from the input to the output (see
    /// [`crate::explain::kink_at`]: relu, abs, signum or leaky_relu at 0, max or
    /// min at a tie, clamp at a bound, pow at 0^0, atan2 on its branch cut) that can
    /// matter for the gradient (its operand moves with the input to first order,
    /// or for signum's jump, pow's exponent at 0^0 or atan2's y on its cut
    /// depends on it at all, signum's not absorbed by a factor 0 and flat to
    /// first order above it, and the adjoint reaching it can be nonzero:
    /// [`crate::explain::kink_affecting`]): there the tape's value is a convention
    /// and the derivative may not exist, so a hand value that differs from it
    /// (a one-sided derivative, say) is no evidence of a slip, and none is
    /// named. The row still does not pass.
    AtKink {
        /// The first node at a kink on a path from the input up to the output.
        node: usize,
        /// Its name, as explanations write it.
        name: String,
        /// The note explanations write on its factor.
        note: &'static str,
    },
    /// Your value is the tape's rounded to the significant digits it is written
    /// with (at least 3, as a value copied from a printed derivation is: the
    /// tape's 0.000438568311… written 0.000438568), and no slip fits it (a
    /// slip that gives it within the tolerance is named instead: 0.125 for
    /// x/8 + 1e-5·x² at 1 is the x² path forgotten, though 0.12502 rounds to
    /// it). The row
    /// still does not pass; a tolerance of half a unit in your value's last
    /// digit ([`Gradients::compare_with`], `Tolerance { atol, rtol: 0.0 }`)
    /// accepts it.
    Rounded {
        /// The significant digits of your value's shortest decimal form.
        digits: u32,
        /// Half a unit in its last digit (or, where f64's subtraction puts
        /// your value a few ulps further from the tape's, that distance): the
        /// absolute tolerance that accepts it.
        half_unit: f64,
    },
    /// Your value is the tape's with one chain-rule factor left out: the local
    /// partial `factor` (as explanations write it, `∂u/∂x`), `value` here,
    /// dropped from the paths numbered in `paths` (from 1, as
    /// [`Diagnosis::terms`] lists them), every other factor and path as the
    /// tape has them, within the comparison's tolerance: the inner derivative
    /// a hand derivation of `sin(x²)` forgets (`cos(x²)` for `2x·cos(x²)`).
    ///
    /// Searched where every path is a term of its own (at most
    /// [`MAX_PATH_TERMS`] paths, all listed), and named before any sum of the paths with two or
    /// more changes (sums with one change that fit too are in `also`): each factor
    /// left out of every path through it, and, where it is on several, out of
    /// one of them alone. Named only when exactly one such value fits; a factor
    /// of 0, ±1, or one not finite, is not tried (leaving out 1 changes nothing
    /// and −1 is a wrong sign, which the sums name), nor the one factor of a
    /// path (no chain is left: `1/√x` for ∂√x/∂x misremembers the local
    /// derivative, it leaves no factor out). One point can fit by
    /// coincidence: the `chainrule check` command holds the slip against
    /// random points too. The row still does not pass.
    MissingFactor {
        /// The factor as explanations write it: `∂u/∂x`.
        factor: String,
        /// Its value at this point.
        value: f64,
        /// The paths it is left out of, by number (from 1), in order.
        paths: Vec<usize>,
        /// Whether those are all the paths through it (else it is left out of
        /// one path and kept on the others through it).
        every_path: bool,
        /// Sums of the paths, as [`EqualsPaths`](Finding::EqualsPaths) gives
        /// them, that fit your value as well with one change (a path counted
        /// twice fits as well as a factor of ½ left out: `cos(x/2)` for
        /// ∂sin(x/2)/∂x): the diagnosis names them all. Usually empty.
        also: Vec<Vec<i8>>,
    },
    /// Your value is the tape's with the power rule's factor n left out of
    /// one power's local derivative: ∂(uⁿ)/∂u = n·uⁿ⁻¹ taken as uⁿ⁻¹ (the 2
    /// of a square forgotten: `(w*x + b - y)*x` for ∂(w·x + b − y)²/∂w), on
    /// the paths numbered in `paths`, every other factor and path as the tape
    /// has them, within the comparison's tolerance. The powers looked at are
    /// `square`, `powi` and `powf` (n recovered from the recorded partial and
    /// values where the constant was not kept; not `u * u`, a product, where
    /// half the tape's value is one of u's two uses left out); n = 0 or ±1 is
    /// not tried (nothing, or a sign, is left out).
    /// Searched as [`MissingFactor`](Finding::MissingFactor) is, where no sum
    /// of the paths and no factor left out fits; named only when exactly one
    /// power fits. The row still does not pass.
    PowerRule {
        /// The power's local derivative as explanations write it:
        /// `∂(u²)/∂u`.
        factor: String,
        /// Its value at this point, n·uⁿ⁻¹.
        value: f64,
        /// The exponent n.
        exponent: f64,
        /// The paths it is taken without n on, by number (from 1), in order.
        paths: Vec<usize>,
        /// Whether those are all the paths through it.
        every_path: bool,
        /// Sums of the paths that fit your value as well with one change
        /// (`x^2*x`: 2x² is a path missing as well as the 2 of x² left
        /// out), as [`EqualsPaths`](Finding::EqualsPaths) gives them.
        also: Vec<Vec<i8>>,
        /// A chain-rule factor whose leaving out fits your value as well
        /// (`(w*x+b-y)^2` at x = 2: the factor x = 2 as well as the square's
        /// 2), as [`MissingFactor`](Finding::MissingFactor) gives it: its
        /// name, value, paths and whether they are all its paths.
        also_factor: Option<(String, f64, Vec<usize>, bool)>,
    },
    /// No such sum was found among the combinations searched (none is
    /// searched, `searched` being 0, for a hand value that is not finite: the
    /// tape's gradient, finite here, is a sum of finite contributions). With
    /// at most [`MAX_TERMS`] terms every combination is searched; with more,
    /// those of the fewest changes first, and the diagnosis says how many
    /// changes every combination of was searched. Where the terms are
    /// branches, a slip inside one (one of its paths) is not searched.
    NoMatch {
        /// How many combinations were tried (at most [`MAX_COMBINATIONS`]).
        searched: usize,
    },
}

/// Why a hand value disagrees with the tape, path by path: see
/// [`Gradients::compare`]. `Display` writes it in words: "your value equals
/// path 1 (through out_o1); path 2 (through out_o2) is missing".
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnosis {
    /// The row of [`Comparison::checks`] it is about.
    pub row: usize,
    /// Your value.
    pub expected: f64,
    /// The tape's gradient.
    pub tape: f64,
    /// The terms of the tape's gradient, paths or branches of paths.
    pub terms: Vec<PathTerm>,
    /// What the value is made of.
    pub finding: Finding,
}

impl Diagnosis {
    /// The terms with coefficient `c`, if the value was matched.
    fn with(&self, c: i8) -> Vec<&PathTerm> {
        match &self.finding {
            Finding::EqualsPaths { coefficients } => self
                .terms
                .iter()
                .zip(coefficients)
                .filter(|(_, &k)| k == c)
                .map(|(t, _)| t)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The matching combinations: one for [`Finding::EqualsPaths`], several for
    /// [`Finding::Ambiguous`], those that fit as well as the factor of a
    /// [`Finding::MissingFactor`] or a [`Finding::PowerRule`] (its `also`),
    /// none otherwise.
    pub fn alternatives(&self) -> Vec<&[i8]> {
        match &self.finding {
            Finding::EqualsPaths { coefficients } => vec![coefficients.as_slice()],
            Finding::Ambiguous { alternatives }
            | Finding::MissingFactor {
                also: alternatives, ..
            }
            | Finding::PowerRule {
                also: alternatives, ..
            } => alternatives.iter().map(|a| a.as_slice()).collect(),
            _ => Vec::new(),
        }
    }

    /// A factor left out, as one slip among others: `the factor ∂u/∂x = 3
    /// left out of path 2 (through out_o2) alone`.
    fn factor_slip(&self, factor: &str, value: f64, paths: &[usize], every_path: bool) -> String {
        let left_out: Vec<&PathTerm> = self
            .terms
            .iter()
            .filter(|t| paths.contains(&t.number))
            .collect();
        let factor = format!(
            "the factor {factor} = {} left out",
            format_number(value, 12)
        );
        if self.terms.len() == 1 {
            factor
        } else if every_path {
            format!("{factor} of {}", list(&left_out))
        } else {
            format!("{factor} of {} alone", list(&left_out))
        }
    }

    /// When every alternative is the same one slip, each on another of a set of
    /// identical paths: `your value misses one of paths 1 (…) and 2 (…)`.
    fn one_of_identical(&self, alternatives: &[Vec<i8>]) -> Option<String> {
        let mut kind = None;
        let mut terms: Vec<&PathTerm> = Vec::new();
        for alternative in alternatives {
            let mut changed = alternative.iter().enumerate().filter(|(_, &c)| c != 1);
            let (k, &c) = changed.next()?;
            if changed.next().is_some() || kind.is_some_and(|kind| kind != c) {
                return None;
            }
            kind = Some(c);
            terms.push(&self.terms[k]);
        }
        if !terms.iter().all(|t| t.identical(terms[0])) {
            return None;
        }
        let numbers: Vec<String> = terms.iter().map(|t| t.number.to_string()).collect();
        let numbers = match numbers.split_last() {
            Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
            _ => return None,
        };
        let slip = match kind? {
            0 => "is missing",
            2 => "is counted twice",
            _ => "has the wrong sign",
        };
        Some(format!(
            "your value fits {} identical slips: one of paths {numbers} {slip} \
             (the same factor values, {}, and the same contribution: which one cannot be told)",
            terms.len(),
            terms[0]
                .factor_values
                .iter()
                .map(|&v| format_number(v, 8))
                .collect::<Vec<_>>()
                .join(" × ")
        ))
    }

    /// One alternative in words: `path 2 (through b) is missing`, `the sign of
    /// path 1 (through a) is wrong`, `path 1 (…) is counted twice`.
    fn slip(&self, coefficients: &[i8]) -> String {
        let pick = |c: i8| -> Vec<&PathTerm> {
            self.terms
                .iter()
                .zip(coefficients)
                .filter(|(_, &k)| k == c)
                .map(|(t, _)| t)
                .collect()
        };
        let (missing, twice, wrong) = (pick(0), pick(2), pick(-1));
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("{} {} missing", list(&missing), is_are(&missing)));
        }
        if !twice.is_empty() && self.one_path() {
            parts.push("twice the tape's value, which is one path".to_string());
        } else if !twice.is_empty() {
            parts.push(format!("{} {} counted twice", list(&twice), is_are(&twice)));
        }
        if !wrong.is_empty() {
            let (s, verb) = if wrong.len() == 1 {
                ("", "is")
            } else {
                ("s", "are")
            };
            parts.push(format!("the sign{s} of {} {verb} wrong", list(&wrong)));
        }
        parts.join(", and ")
    }

    /// Whether the tape's value is one path (one term holding one path):
    /// there a value twice the tape's is said so, not "path 1 counted twice",
    /// which no derivation of one path plausibly does.
    fn one_path(&self) -> bool {
        matches!(self.terms.as_slice(), [term] if term.paths == 1)
    }

    /// The terms your value leaves out.
    pub fn missing(&self) -> Vec<&PathTerm> {
        self.with(0)
    }

    /// The terms your value counts twice (coefficient 2). Where the tape's
    /// value is one path, that path: your value is then twice the tape's, and
    /// the diagnosis says so rather than "counted twice".
    pub fn counted_twice(&self) -> Vec<&PathTerm> {
        self.with(2)
    }

    /// The terms your value has with the wrong sign.
    pub fn wrong_sign(&self) -> Vec<&PathTerm> {
        self.with(-1)
    }
}

/// `path 1 (…)`, `paths 1 (…) and 2 (…)`, `paths 1 (…), 2 (…) and 3 (…)`.
fn list(terms: &[&PathTerm]) -> String {
    let texts: Vec<String> = terms.iter().map(|t| t.to_string()).collect();
    match texts.len() {
        0 => String::new(),
        1 => texts[0].clone(),
        n => format!("{} and {}", texts[..n - 1].join(", "), texts[n - 1]),
    }
}

fn is_are(terms: &[&PathTerm]) -> &'static str {
    if terms.len() == 1 {
        "is"
    } else {
        "are"
    }
}

impl fmt::Display for Diagnosis {
    /// One sentence naming the mistake; with no match, the per-path table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let coefficients = match &self.finding {
            Finding::EqualsPaths { coefficients } => coefficients,
            Finding::Ambiguous { alternatives } => {
                if let Some(text) = self.one_of_identical(alternatives) {
                    return writeln!(f, "{text}");
                }
                let n = alternatives.len();
                let shown: Vec<String> = alternatives
                    .iter()
                    .take(MAX_ALTERNATIVES_SHOWN)
                    .map(|a| self.slip(a))
                    .collect();
                let more = if n > MAX_ALTERNATIVES_SHOWN {
                    format!("; or {} more", n - MAX_ALTERNATIVES_SHOWN)
                } else {
                    String::new()
                };
                return writeln!(
                    f,
                    "your value fits {n} slips equally: {}{more}",
                    shown.join("; or ")
                );
            }
            Finding::NonFiniteTape { anomaly } => {
                if self.tape.is_nan() {
                    write!(
                        f,
                        "the tape's gradient is NaN, not a number a hand derivation can \
                         match or a sum of finite path contributions"
                    )?;
                } else {
                    // An infinite value can be matched, by the same infinity
                    // (0.5/√x against √x at 0); what it cannot be is a sum of
                    // finite contributions, so no slip is named.
                    write!(
                        f,
                        "the tape's gradient is {}, not a sum of finite path contributions: \
                         only the same infinity matches it, and no slip can be named",
                        format_number(self.tape, 12)
                    )?;
                }
                return match anomaly {
                    Some(anomaly) => writeln!(
                        f,
                        "; Gradients::gradient_anomaly() finds where it starts: {anomaly}"
                    ),
                    None => writeln!(f),
                };
            }
            Finding::Underflowed { node, name, value } => {
                let tape = format_number(self.tape, 12);
                return writeln!(
                    f,
                    "the tape's gradient is {tape}, but a value on its way underflowed: {}; so \
                     the tape's {tape} may be f64's range, not f's derivative: your value is \
                     neither confirmed nor refuted, and no slip is named; hold it against the \
                     tape at a point where nothing underflows",
                    underflow_note(*node, name, *value),
                );
            }
            Finding::AtKink { name, note, .. } if note.contains("so not which") => {
                return writeln!(
                    f,
                    "the tape may pass a kink at {name} ({note}): if it does, the tape's \
                     gradient is a convention there and the derivative may not exist, so this \
                     mismatch names no slip in your derivation; record with \
                     Tape::set_keep_constants(true) to tell, or hold your value against the \
                     tape at another point"
                );
            }
            Finding::AtKink { name, note, .. } => {
                return writeln!(
                    f,
                    "the tape passes a kink at {name} ({note}): the tape's gradient is a \
                     convention there, and the derivative may not exist, so this mismatch \
                     names no slip in your derivation; hold your value against the tape at \
                     a point off the kink"
                );
            }
            Finding::Rounded { digits, half_unit } => {
                return writeln!(
                    f,
                    "your value is the tape's {} rounded to the {digits} significant digits \
                     you wrote, as a value copied from a printed derivation is: no slip is \
                     named (to accept it, compare_with a Tolerance {{ atol: {half_unit:e}, \
                     rtol: 0.0 }}, half a unit in your last digit as f64 measures it)",
                    format_number(self.tape, 12)
                );
            }
            Finding::PowerRule {
                factor,
                value,
                exponent,
                paths,
                every_path,
                also,
                also_factor,
            } => {
                // 2, not 2.000000000000; 0.5 as such.
                let n = if exponent.fract() == 0.0 && exponent.abs() < 1e15 {
                    format!("{}", *exponent as i64)
                } else {
                    format!("{exponent}")
                };
                let factor = format!("{factor} = {}", format_number(*value, 12));
                let number = |k: usize| self.terms.iter().find(|t| t.number == k);
                let on: Vec<&PathTerm> = paths.iter().filter_map(|&k| number(k)).collect();
                let where_ = if self.terms.len() == 1 {
                    String::new()
                } else if *every_path {
                    format!(" on {}", list(&on))
                } else {
                    format!(" on {} alone", list(&on))
                };
                let power = format!(
                    "the power rule's factor {n} left out of {factor}{where_} (d(uⁿ)/du = \
                     n·uⁿ⁻¹, with n = {n} here: the {n} of a power forgotten)"
                );
                let mut others: Vec<String> = also_factor
                    .iter()
                    .map(|(name, v, p, every)| self.factor_slip(name, *v, p, *every))
                    .collect();
                others.extend(also.iter().map(|a| self.slip(a)));
                if others.is_empty() {
                    return writeln!(f, "your value is the tape's with {power}");
                }
                return writeln!(
                    f,
                    "your value fits {} slips equally: {power}; or {}",
                    others.len() + 1,
                    others.join("; or ")
                );
            }
            Finding::MissingFactor {
                factor,
                value,
                paths,
                every_path,
                also,
            } if !also.is_empty() => {
                let mut shown = vec![self.factor_slip(factor, *value, paths, *every_path)];
                shown.extend(also.iter().map(|a| self.slip(a)));
                return writeln!(
                    f,
                    "your value fits {} slips equally: {}",
                    shown.len(),
                    shown.join("; or ")
                );
            }
            Finding::MissingFactor {
                factor,
                value,
                paths,
                every_path,
                ..
            } => {
                let number = |k: usize| self.terms.iter().find(|t| t.number == k);
                let left_out: Vec<&PathTerm> = paths.iter().filter_map(|&k| number(k)).collect();
                let kept: Vec<&PathTerm> = self
                    .terms
                    .iter()
                    .filter(|t| !paths.contains(&t.number))
                    .collect();
                let factor = format!("{factor} = {}", format_number(*value, 12));
                if self.terms.len() == 1 {
                    return writeln!(
                        f,
                        "your value is the tape's without the factor {factor}: a chain-rule \
                         factor is left out (the product of the other factors is your value)"
                    );
                }
                // The paths that keep it: "; path 2 (through out_o2) is as the
                // tape has it".
                let rest = if kept.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} {} as the tape has {}",
                        list(&kept),
                        is_are(&kept),
                        if kept.len() == 1 { "it" } else { "them" }
                    )
                };
                return if !*every_path {
                    writeln!(
                        f,
                        "your value leaves the factor {factor} out of {} alone: a chain-rule \
                         factor is left out there{rest}",
                        list(&left_out)
                    )
                } else if left_out.len() == 1 {
                    writeln!(
                        f,
                        "your value leaves out the factor {factor} on {}, the only path \
                         through it: a chain-rule factor is left out{rest}",
                        list(&left_out)
                    )
                } else {
                    writeln!(
                        f,
                        "your value leaves out the factor {factor} on {}, every path through \
                         it: a chain-rule factor is left out{rest}",
                        list(&left_out)
                    )
                };
            }
            Finding::NoMatch { .. } if !self.expected.is_finite() => {
                writeln!(
                    f,
                    "your value is {}, no sum of the paths' finite contributions; \
                     the tape's value, term by term:",
                    format_number(self.expected, 12)
                )?;
                for term in &self.terms {
                    writeln!(f, "  {term}: {}", format_number(term.contribution, 12))?;
                }
                return writeln!(f, "  sum: {}", format_number(self.tape, 12));
            }
            Finding::NoMatch { searched } => {
                let branches = self.terms.iter().any(|t| t.paths != 1);
                let kind = if branches { "branches" } else { "paths" };
                let n = self.terms.len();
                if n <= MAX_TERMS {
                    write!(
                        f,
                        "your value is no sum of the {kind}' contributions, each counted 0, 1 \
                         or 2 times or with the wrong sign ({searched} combinations searched"
                    )?;
                } else {
                    let k = changes_covered(n, *searched);
                    write!(
                        f,
                        "your value is no sum of the {kind}' contributions with at most {k} of \
                         the {n} left out, counted twice or with the wrong sign ({searched} \
                         combinations searched, those of the fewest changes first"
                    )?;
                }
                if branches {
                    write!(
                        f,
                        "; a slip inside a branch, on one of its paths, is not searched"
                    )?;
                }
                writeln!(f, "); the tape's value, term by term:")?;
                for term in &self.terms {
                    writeln!(f, "  {term}: {}", format_number(term.contribution, 12))?;
                }
                return writeln!(f, "  sum: {}", format_number(self.tape, 12));
            }
        };
        let (missing, twice, wrong) = (self.missing(), self.counted_twice(), self.wrong_sign());
        let once = self.with(1);
        let changes = missing.len() + twice.len() + wrong.len();
        if twice.is_empty() && wrong.is_empty() {
            if once.is_empty() {
                return writeln!(
                    f,
                    "your value is 0: {} {} missing",
                    list(&missing),
                    is_are(&missing)
                );
            }
            return writeln!(
                f,
                "your value equals {}; {} {} missing",
                list(&once),
                list(&missing),
                is_are(&missing)
            );
        }
        if changes == 1 && twice.len() == 1 {
            return if self.one_path() {
                writeln!(
                    f,
                    "your value is twice the tape's, which is one path (so not a path \
                     counted twice)"
                )
            } else {
                writeln!(f, "your value has {} counted twice", list(&twice))
            };
        }
        if changes == 1 && wrong.len() == 1 {
            return writeln!(f, "your value has the wrong sign of {}", list(&wrong));
        }
        let mut formula = String::new();
        for (term, &k) in self.terms.iter().zip(coefficients) {
            let (sign, times) = match k {
                0 => continue,
                1 => ('+', ""),
                2 => ('+', "2 × "),
                _ => ('−', ""),
            };
            let kind = if term.paths == 1 { "path" } else { "branch" };
            if formula.is_empty() {
                if sign == '−' {
                    formula.push('−');
                }
            } else {
                formula.push_str(&format!(" {sign} "));
            }
            formula.push_str(&format!("{times}{kind} {}", term.number));
        }
        let mut parts = Vec::new();
        if !missing.is_empty() {
            parts.push(format!("{} {} missing", list(&missing), is_are(&missing)));
        }
        if !twice.is_empty() {
            parts.push(format!("{} {} counted twice", list(&twice), is_are(&twice)));
        }
        if !wrong.is_empty() {
            parts.push(format!(
                "{} {} the wrong sign",
                list(&wrong),
                if wrong.len() == 1 { "has" } else { "have" }
            ));
        }
        writeln!(f, "your value equals {formula}: {}", parts.join("; "))
    }
}

/// The terms of an explanation: its paths when they are all listed and few,
/// else its branches.
fn terms_of(explanation: &Explanation) -> Vec<PathTerm> {
    let paths = explanation.paths();
    if explanation.left_out() == 0 && paths.len() <= MAX_PATH_TERMS && !paths.is_empty() {
        let input = Quantity::Node(explanation.input());
        let labelled: Vec<(PathTerm, String)> = paths
            .iter()
            .enumerate()
            .map(|(k, path)| {
                // The first quantity at which this path parts from every other.
                let wrts: Vec<Quantity> = path.factors.iter().map(|f| f.wrt).collect();
                let mut at = wrts.len().saturating_sub(1);
                for depth in 0..wrts.len() {
                    let shared = paths.iter().enumerate().any(|(j, other)| {
                        j != k
                            && other.factors.len() > depth
                            && other.factors[..=depth]
                                .iter()
                                .map(|f| f.wrt)
                                .eq(wrts[..=depth].iter().copied())
                    });
                    if !shared {
                        at = depth;
                        break;
                    }
                }
                // Named by every quantity at which it parts from some others:
                // on the seed network ∂E/∂b1's four paths part at the output
                // neurons and again at the hidden ones, and "through out_h1"
                // alone would name two of them ("through out_o1 and out_h1").
                // The quantities at which the paths sharing its way so far
                // become fewer: where it parts from some of the others.
                let sharing = |depth: usize| {
                    paths
                        .iter()
                        .filter(|other| {
                            other.factors.len() > depth
                                && other.factors[..=depth]
                                    .iter()
                                    .map(|f| f.wrt)
                                    .eq(wrts[..=depth].iter().copied())
                        })
                        .count()
                };
                let mut before = paths.len();
                let mut names: Vec<String> = Vec::new();
                for (depth, &q) in wrts.iter().enumerate().take(at + 1) {
                    let now = sharing(depth);
                    if now < before && q != input {
                        names.push(explanation.name(q));
                    }
                    before = now;
                }
                let through = match wrts.get(at) {
                    Some(&q) if q != input => explanation.name(q),
                    _ if at > 0 => explanation.name(wrts[at - 1]),
                    _ => String::new(),
                };
                // Set apart by a direct factor down to the input: name the factor,
                // not its top node (which other paths pass through as well).
                // (A path that is the only one is set apart from nothing.)
                let direct_term = match path.factors.get(at) {
                    Some(factor) if factor.wrt == input && paths.len() > 1 => {
                        let pair = (Quantity::Node(explanation.output()), input);
                        Some(explanation.factor_name(factor, pair))
                    }
                    _ => None,
                };
                let term = PathTerm {
                    number: k + 1,
                    paths: 1,
                    through,
                    contribution: path.product,
                    direct_term,
                    factor_values: path.factors.iter().map(|f| f.value).collect(),
                };
                (term, names.join(" and "))
            })
            .collect();
        // A path whose one-name label another path's shares is named by all
        // its parting quantities.
        // (A direct term is written by its factor alone: two paths ending in
        // the same direct edge, from different quantities above, share it.)
        let label = |t: &PathTerm| match &t.direct_term {
            Some(direct) => (String::new(), Some(direct.clone())),
            None => (t.through.clone(), None),
        };
        return labelled
            .iter()
            .map(|(term, all)| {
                let shared = labelled
                    .iter()
                    .filter(|(other, _)| label(other) == label(term))
                    .count()
                    > 1;
                let mut term = term.clone();
                match &term.direct_term {
                    None if shared && all.contains(" and ") => term.through = all.clone(),
                    Some(direct) if shared && !all.is_empty() => {
                        term.direct_term = Some(format!("{direct}, through {all}"));
                    }
                    _ => {}
                }
                term
            })
            .collect();
    }
    explanation
        .branches()
        .iter()
        .enumerate()
        .map(|(k, branch)| PathTerm {
            number: k + 1,
            paths: branch.paths,
            through: explanation.name(branch.through),
            contribution: branch.contribution,
            direct_term: None,
            factor_values: Vec::new(),
        })
        .collect()
}

/// How many changes every combination of was searched, of `n` terms, when
/// `searched` combinations were tried fewest changes first: the most k with
/// Σ_{j=1..k} C(n, j) · 3^j ≤ `searched`.
fn changes_covered(n: usize, searched: usize) -> usize {
    let (mut total, mut choose) = (0u128, 1u128);
    for k in 1..=n {
        // C(n, k) from C(n, k − 1).
        choose = choose * (n - k + 1) as u128 / k as u128;
        total += choose * 3u128.pow(k as u32);
        if total > searched as u128 {
            return k - 1;
        }
    }
    n
}

/// Searches Σ cᵢ · termᵢ = `expected` over cᵢ ∈ {1, 0, 2, −1}, fewest changes
/// from all-ones first, at most [`MAX_COMBINATIONS`] combinations.
fn diagnose(terms: &[PathTerm], expected: f64, tolerance: Tolerance) -> Finding {
    const ALTERNATIVES: [i8; 3] = [0, 2, -1];
    let n = terms.len();
    let value = |coefficients: &[i8]| -> f64 {
        terms
            .iter()
            .zip(coefficients)
            .filter(|(_, &c)| c != 0)
            .map(|(t, &c)| f64::from(c) * t.contribution)
            .sum()
    };
    let mut searched = 0;
    let mut coefficients = vec![1i8; n];
    let mut found: Vec<Vec<i8>> = Vec::new();
    let finish = |mut found: Vec<Vec<i8>>| {
        if found.len() == 1 {
            Finding::EqualsPaths {
                coefficients: found.pop().unwrap_or_default(),
            }
        } else {
            Finding::Ambiguous {
                alternatives: found,
            }
        }
    };
    for changes in 1..=n {
        // Every set of `changes` terms (as an increasing index list), and for
        // each every choice of alternative coefficients.
        let mut chosen: Vec<usize> = (0..changes).collect();
        loop {
            let mut choice = vec![0usize; changes];
            loop {
                searched += 1;
                if searched > MAX_COMBINATIONS {
                    if !found.is_empty() {
                        return finish(found);
                    }
                    return Finding::NoMatch {
                        searched: searched - 1,
                    };
                }
                coefficients.fill(1);
                for (&term, &alt) in chosen.iter().zip(&choice) {
                    coefficients[term] = ALTERNATIVES[alt];
                }
                if tolerance.accepts(value(&coefficients), expected) {
                    found.push(coefficients.clone());
                }
                // The next choice, like an odometer.
                let mut k = 0;
                while k < changes && choice[k] == ALTERNATIVES.len() - 1 {
                    choice[k] = 0;
                    k += 1;
                }
                if k == changes {
                    break;
                }
                choice[k] += 1;
            }
            // The next set of terms, in lexicographic order.
            let mut k = changes;
            while k > 0 && chosen[k - 1] == n - changes + k - 1 {
                k -= 1;
            }
            if k == 0 {
                break;
            }
            chosen[k - 1] += 1;
            for j in k..changes {
                chosen[j] = chosen[j - 1] + 1;
            }
        }
        if !found.is_empty() {
            // Every combination with this many changes was tried: report them
            // all, those that only leave terms out first (the commonest slip).
            found.sort_by_key(|c| c.iter().filter(|&&k| k == 2 || k == -1).count());
            return finish(found);
        }
    }
    Finding::NoMatch { searched }
}

/// The slip that makes the tape's gradient `expected`, from the terms of
/// `explanation`: a sum of the paths ([`diagnose`]), or a factor left out
/// ([`missing_factor`]), named with the sums of one change that fit as well
/// (a factor of ½ left out is a path counted twice); a sum of more changes
/// fits less simply than one factor, which is then named alone.
fn slip_of(
    tape: &Tape,
    explanation: &Explanation,
    terms: &[PathTerm],
    expected: f64,
    tolerance: Tolerance,
) -> Finding {
    let sums = diagnose(terms, expected, tolerance);
    let one_change: Vec<Vec<i8>> = match &sums {
        Finding::EqualsPaths { coefficients } => vec![coefficients.clone()],
        Finding::Ambiguous { alternatives } => alternatives.clone(),
        _ => Vec::new(),
    }
    .into_iter()
    .filter(|c| c.iter().filter(|&&k| k != 1).count() == 1)
    .collect();
    let missing = missing_factor(explanation, terms, expected, tolerance);
    // The power rule's factor n left out (the 2 of a square forgotten), with
    // every other slip that fits as well: named first where it fits, the
    // commonest slip, but not as the only one where others fit too.
    if let Some(Finding::PowerRule {
        factor,
        value,
        exponent,
        paths,
        every_path,
        ..
    }) = power_rule(tape, explanation, terms, expected, tolerance)
    {
        let also_factor = match missing {
            Some(Finding::MissingFactor {
                factor,
                value,
                paths,
                every_path,
                ..
            }) => Some((factor, value, paths, every_path)),
            _ => None,
        };
        return Finding::PowerRule {
            factor,
            value,
            exponent,
            paths,
            every_path,
            also: one_change,
            also_factor,
        };
    }
    match missing {
        Some(Finding::MissingFactor {
            factor,
            value,
            paths,
            every_path,
            ..
        }) => Finding::MissingFactor {
            factor,
            value,
            paths,
            every_path,
            also: one_change,
        },
        _ => sums,
    }
}

/// The exponent n of node `of` if it is a power of node `wrt` (`square`,
/// `powi`, `powf`), with n·uⁿ⁻¹ = `partial`: from the op where it
/// fixes n, else from the recorded values, n = partial·u/uⁿ (rounded to an
/// integer for `powi`). `None` for any other node, and where n cannot be had.
fn power_exponent(tape: &Tape, of: usize, wrt: usize, partial: f64) -> Option<f64> {
    use crate::Op;
    // (Not `x * x`: there half the tape's value is one of x's two uses left
    // out, which `chainrule check` names as such.)
    match tape.op(of) {
        Op::Square => Some(2.0),
        op @ (Op::Powi | Op::Powf) => {
            // The exponent as kept (2.5, not 2.5000000000000004 read back).
            let kept = tape
                .recording
                .read(|rec| rec.constants_of(of as u32).first().map(|&(_, c)| c));
            if let Some(c) = kept {
                return Some(c);
            }
            let (u, y) = (tape.value(wrt), tape.value(of));
            let n = partial * u / y;
            if !(n.is_finite() && y != 0.0 && u != 0.0) {
                return None;
            }
            Some(if op == Op::Powi { n.round() } else { n })
        }
        _ => None,
    }
}

/// The explanation's paths, where `terms` lists each as a term of its own
/// (what a search for one factor's slip needs); `None` otherwise.
fn paths_one_by_one<'e>(
    explanation: &'e Explanation,
    terms: &[PathTerm],
) -> Option<&'e [crate::explain::Path]> {
    let paths = explanation.paths();
    (!paths.is_empty() && terms.len() == paths.len() && terms.iter().all(|t| t.paths == 1))
        .then_some(paths)
}

/// The one power whose local derivative taken without the power rule's
/// factor n makes the tape's gradient `expected` ([`Finding::PowerRule`]), if
/// exactly one does: as [`missing_factor`], each such factor divided by n on
/// every path through it, and on each one alone.
fn power_rule(
    tape: &Tape,
    explanation: &Explanation,
    terms: &[PathTerm],
    expected: f64,
    tolerance: Tolerance,
) -> Option<Finding> {
    let paths = paths_one_by_one(explanation, terms)?;
    let output_input = (
        Quantity::Node(explanation.output()),
        Quantity::Node(explanation.input()),
    );
    // Each distinct power factor, in order of first appearance, with the
    // paths it is on.
    let mut order: Vec<(&Factor, f64)> = Vec::new();
    let mut on: Vec<Vec<usize>> = Vec::new();
    for (k, path) in paths.iter().enumerate() {
        for f in &path.factors {
            let (Quantity::Node(of), Quantity::Node(wrt)) = (f.of, f.wrt) else {
                continue;
            };
            if f.masked || !f.value.is_finite() || f.value == 0.0 {
                continue;
            }
            let Some(n) = power_exponent(tape, of, wrt, f.value) else {
                continue;
            };
            if n == 0.0 || n.abs() == 1.0 {
                continue;
            }
            match order
                .iter()
                .position(|(g, _)| (g.of, g.wrt) == (f.of, f.wrt))
            {
                Some(j) => on[j].push(k),
                None => {
                    order.push((f, n));
                    on.push(vec![k]);
                }
            }
        }
    }
    // The gradient with the factor divided by n on the paths `out`.
    let sum = |out: &[usize], n: f64| -> f64 {
        paths
            .iter()
            .enumerate()
            .map(|(k, p)| {
                if out.contains(&k) {
                    p.product / n
                } else {
                    p.product
                }
            })
            .sum()
    };
    let mut found: Vec<Finding> = Vec::new();
    for ((factor, n), out) in order.iter().zip(&on) {
        let finding = |out: &[usize], every_path: bool| Finding::PowerRule {
            factor: explanation.factor_name(factor, output_input),
            value: factor.value,
            exponent: *n,
            paths: out.iter().map(|&k| terms[k].number).collect(),
            every_path,
            also: Vec::new(),
            also_factor: None,
        };
        if tolerance.accepts(sum(out, *n), expected) {
            found.push(finding(out, true));
        }
        if out.len() > 1 {
            for one in out.chunks(1) {
                if tolerance.accepts(sum(one, *n), expected) {
                    found.push(finding(one, false));
                }
            }
        }
        if found.len() > 1 {
            return None;
        }
    }
    found.pop()
}

/// The one factor whose leaving out makes the tape's gradient `expected`
/// ([`Finding::MissingFactor`]), if exactly one does. `terms` are the
/// explanation's paths one by one, or the search is not made.
///
/// # Complexity
/// O(P · L) for P paths of at most L factors (P ≤ [`MAX_TERMS`]): each
/// path's product without each of its factors is a product from the top times
/// one from the bottom, and each distinct factor is tried once.
fn missing_factor(
    explanation: &Explanation,
    terms: &[PathTerm],
    expected: f64,
    tolerance: Tolerance,
) -> Option<Finding> {
    let paths = paths_one_by_one(explanation, terms)?;
    type Edge = (Quantity, Quantity);
    // Each distinct factor in order of first appearance, with the paths it is
    // on and each one's product without it.
    let mut order: Vec<(Edge, &Factor)> = Vec::new();
    let mut on: HashMap<Edge, Vec<(usize, f64)>> = HashMap::new();
    for (k, path) in paths.iter().enumerate() {
        // A masked factor passes 0 (the policy); the products are taken from
        // the top down as the sweep takes them, and from the bottom up.
        let value = |f: &Factor| if f.masked { 0.0 } else { f.value };
        let mut below = vec![1.0; path.factors.len() + 1];
        for (j, f) in path.factors.iter().enumerate().rev() {
            below[j] = value(f) * below[j + 1];
        }
        let mut above = 1.0;
        for (j, f) in path.factors.iter().enumerate() {
            let e = (f.of, f.wrt);
            let entry = on.entry(e).or_insert_with(|| {
                order.push((e, f));
                Vec::new()
            });
            entry.push((k, above * below[j + 1]));
            above *= value(f);
        }
    }
    let output_input = (
        Quantity::Node(explanation.output()),
        Quantity::Node(explanation.input()),
    );
    // The gradient with the factor left out of the paths `out` (path, its
    // product without it), the others as the tape has them.
    let sum = |out: &[(usize, f64)]| -> f64 {
        paths
            .iter()
            .enumerate()
            .map(|(k, p)| {
                out.iter()
                    .find(|(j, _)| *j == k)
                    .map_or(p.product, |&(_, without)| without)
            })
            .sum()
    };
    let mut found: Vec<Finding> = Vec::new();
    for (e, factor) in &order {
        let v = factor.value;
        if factor.masked || !v.is_finite() || v == 0.0 || v.abs() == 1.0 {
            continue;
        }
        let out = &on[e];
        let finding = |out: &[(usize, f64)], every_path: bool| Finding::MissingFactor {
            factor: explanation.factor_name(factor, output_input),
            value: v,
            paths: out.iter().map(|&(k, _)| terms[k].number).collect(),
            every_path,
            also: Vec::new(),
        };
        // A path of this one factor would be left with none, a product of 1:
        // no chain-rule factor is missing there (`1/sqrt(x)` for ∂√x/∂x is
        // the local derivative misremembered), so it is not tried.
        let whole = |&(k, _): &(usize, f64)| paths[k].factors.len() == 1;
        if !out.iter().any(whole) && tolerance.accepts(sum(out), expected) {
            found.push(finding(out, true));
        }
        if out.len() > 1 {
            for one in out.chunks(1) {
                if !whole(&one[0]) && tolerance.accepts(sum(one), expected) {
                    found.push(finding(one, false));
                }
            }
        }
        if found.len() > 1 {
            return None;
        }
    }
    found.pop()
}

/// The result of [`Gradients::compare`]: one row per expected value, and for each
/// mismatch the diagnosis and the path-by-path explanation of the tape's value.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// One row per expected gradient: `reference` is your value.
    pub checks: Vec<GradientCheck>,
    /// For each row that did not pass (failed, or undecided: see
    /// [`GradientCheck::cannot_check`]), in order: its position in `checks`
    /// and the explanation of the tape's gradient (at most
    /// [`ExplainOptions::max_paths`] paths listed).
    pub mismatches: Vec<(usize, Explanation)>,
    /// For each failed row, in the order of `mismatches`: which paths your value
    /// accounts for, misses, counts twice or has with the wrong sign, or which
    /// factor it leaves out.
    pub diagnoses: Vec<Diagnosis>,
    /// The tolerance used.
    pub tolerance: Tolerance,
}

impl Comparison {
    /// Whether every expected value matched (true for none). False where a
    /// row is undecided ([`GradientCheck::cannot_check`]: the tape's gradient
    /// is not finite only because a value on its way underflowed): nothing
    /// was confirmed there.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// assert!(x.square().backward().compare(&[(x, 4.0)]).all_passed());
    /// ```
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The diagnosis of each mismatch, in order.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.5).named("x");
    /// let a = x.sin().named("a");
    /// let b = x.exp().named("b");
    /// let y = (a + b).named("y");
    /// let comparison = y.backward().compare(&[(x, 0.5f64.cos())]); // forgot e^x
    /// assert_eq!(
    ///     comparison.diagnoses()[0].to_string(),
    ///     "your value equals path 1 (through a); path 2 (through b) is missing\n"
    /// );
    /// ```
    pub fn diagnoses(&self) -> &[Diagnosis] {
        &self.diagnoses
    }
}

impl fmt::Display for Comparison {
    /// A table (tape, expected, errors, pass/FAIL, or "cannot check here" for
    /// a row no verdict is given on: [`GradientCheck::cannot_check`]), then,
    /// for each row that did not pass ("mismatch at", or "no verdict at"), the
    /// expected and actual values, the diagnosis and the explanation of the
    /// tape's value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_table(f, "expected", &self.checks)?;
        let failed = self.mismatches.len();
        let (atol, rtol) = (self.tolerance.atol, self.tolerance.rtol);
        let bound = match (atol == 0.0, rtol == 0.0) {
            (true, false) => format!("{rtol:e}·|expected|"),
            (false, true) => format!("{atol:e}"),
            _ => format!("{atol:e} + {rtol:e}·|expected|"),
        };
        writeln!(
            f,
            "{} of {} matched (|tape − expected| <= {bound})",
            self.checks.len() - failed,
            self.checks.len(),
        )?;
        write_absolute_only(f, &self.checks, self.tolerance)?;
        for row in &self.checks {
            if let Some(bound) = row.tape_rounding {
                writeln!(
                    f,
                    "{}: agrees with the tape only within the tape's own rounding (±{bound:.3e}): \
                     the sweep's products and sums round, so the tape's value may be off by up \
                     to that much here (a worst-case bound, Gradients::rounding_bound), and the \
                     two cannot be told apart",
                    row.name
                )?;
            }
        }
        for ((row, explanation), diagnosis) in self.mismatches.iter().zip(&self.diagnoses) {
            let row = &self.checks[*row];
            writeln!(
                f,
                "\n{} at {}: expected {}, the tape has {}",
                if row.cannot_check.is_some() {
                    "no verdict"
                } else {
                    "mismatch"
                },
                row.name,
                format_number(row.reference, 12),
                format_number(row.tape, 12)
            )?;
            write!(f, "{diagnosis}")?;
            writeln!(f, "the tape's value, path by path:")?;
            write!(f, "{explanation}")?;
        }
        Ok(())
    }
}

impl<'t> Gradients<'t> {
    /// Holds the tape's gradients against your hand-derived values, with
    /// [`Tolerance::MANUAL`]. Each mismatch comes with a [`Diagnosis`] (which
    /// paths your value accounts for, misses, counts twice or has with the wrong
    /// sign, or, where no such sum fits, the one chain-rule factor it leaves out:
    /// [`Finding::MissingFactor`]) and the tape's value explained path by path.
    /// Where the explanation asked for folds a slip into one factor (a
    /// labelled `u` makes ∂f/∂u one factor of all u's uses) and nothing is
    /// found, the search is made again with every node shown
    /// ([`ExplainOptions::raw`]), and a slip found there is named with that
    /// explanation (the mismatch's explanation is then the raw one).
    ///
    /// Where a path from `x` to the output passes a kink (relu at 0, max at a
    /// tie, …: see [`crate::explain::kink_at`]) that can matter for ∂y/∂x (the
    /// kink's operand moves with x to first order, or for signum's jump, pow's
    /// exponent at 0^0 or atan2's y on its branch cut (y = ±0, x < 0) depends
    /// on x at all, signum's not absorbed by a factor 0 and flat to first order
    /// above it, and the adjoint reaching it can be nonzero: see
    /// [`crate::explain::kink_affecting`]), the tape's value is a
    /// convention and the derivative may not exist there: a mismatch is then
    /// diagnosed as [`Finding::AtKink`], not as a slip. A kink that cannot
    /// matter (relu(x)² or x·|x| at 0, relu(x·z) at z = 0 for ∂/∂x) hides no
    /// slip: the tape's value is the derivative there, and the slip is named.
    ///
    /// # Underflow
    /// Where the tape's gradient is NaN or infinite and a value on a path from
    /// `x` to the output underflowed ([`crate::anomaly::underflowed`]: 0 or
    /// subnormal though its operands were nonzero), the non-finite value may
    /// be f64's range, not f's derivative: √(x·x) at x = 1e-200 has x·x = 0
    /// and a tape ∂ of √′(0)·2x = ∞, while √(x²) = |x| has slope 1. Such a row
    /// is neither passed nor failed, whatever your value (∞ included): its
    /// [`GradientCheck::cannot_check`] names the node and its value, the table
    /// says "cannot check here", [`Comparison::all_passed`] is false, and the
    /// diagnosis is [`Finding::Underflowed`]. A non-finite gradient with no
    /// underflow on its way (√x at 0) is a [`Finding::NonFiniteTape`].
    ///
    /// # Rounding
    /// The reference is the tape's value, which is the exact derivative of the
    /// recorded ops only up to rounding: within the tolerance or within the
    /// sweep's own rounding ([`Gradients::rounding_bound`]) a value passes. The
    /// rounding of the forward pass is not allowed for: where f's formulas
    /// cancel, the tape's partials carry it, and an exact derivation can FAIL
    /// (ln(1 − σ(z)) at z = 25: 1 − σ(25) = 1.4e-11 carries σ's rounding, and
    /// the tape's ∂/∂z is −0.9999958 against −σ(25) = −0.99999999998611). To
    /// bound it, record the derivative as a formula ([`Tape::grad`]) and take
    /// its [`running_error_bound`](Gradients::running_error_bound) times a
    /// few ε, as the command line's `check` does before its verdict.
    ///
    /// # Complexity
    /// One lookup per value, plus per mismatch one
    /// [explanation](Gradients::explain), two walks over the nodes recorded
    /// between `x` and the output (for kinks that matter), and a search of at most
    /// [`MAX_COMBINATIONS`] sums of at most [`MAX_TERMS`] paths (or of the
    /// branches, when there are more), and each factor of those paths left
    /// out in turn (O(P · L) for P paths of at most L factors); where nothing
    /// is found, the same again with every node shown.
    ///
    /// # Panics
    /// If a `Var` belongs to another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(3.0).named("x");
    /// let y = x.square().named("y");
    /// let g = y.backward();
    /// assert!(g.compare(&[(x, 6.0)]).all_passed());
    /// let wrong = g.compare(&[(x, 12.0)]);
    /// assert!(!wrong.all_passed());
    /// assert!(wrong.to_string().contains("expected 12.000000000000, the tape has 6.000000000000"));
    /// assert_eq!(
    ///     wrong.diagnoses()[0].to_string(),
    ///     "your value is twice the tape's, which is one path (so not a path counted twice)\n"
    /// );
    ///
    /// // At a kink, a one-sided derivative is no slip: max(x, 1) at x = 1.
    /// let x = tape.var(1.0).named("x");
    /// let m = x.max(1.0).named("m");
    /// let at_kink = m.backward().compare(&[(x, 1.0)]);
    /// assert!(!at_kink.all_passed());
    /// assert!(at_kink.diagnoses()[0].to_string().starts_with("the tape passes a kink at m"));
    ///
    /// // A kink that cannot matter hides no slip: relu(x)² at 0 has ∂ = 0.
    /// let x = tape.var(0.0).named("x");
    /// let y = x.relu().square().named("y");
    /// let slip = y.backward().compare(&[(x, 1.0)]);
    /// assert!(!slip.diagnoses()[0].to_string().contains("kink"));
    ///
    /// // A forgotten inner derivative: cos(x²) for ∂sin(x²)/∂x at x = 1.5.
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.5).named("x");
    /// let y = x.square().named("u").sin();
    /// let inner = y.backward().compare(&[(x, (1.5f64 * 1.5).cos())]);
    /// assert!(inner.diagnoses()[0]
    ///     .to_string()
    ///     .starts_with("your value is the tape's without the factor ∂u/∂x = 3.0"));
    /// ```
    #[track_caller]
    pub fn compare(&self, expected: &[(Var<'_>, f64)]) -> Comparison {
        self.compare_with(expected, Tolerance::MANUAL)
    }

    /// [`compare`](Gradients::compare) with a chosen tolerance, explanation
    /// options, or both ([`CompareOptions`]).
    ///
    /// # Complexity
    /// As [`compare`](Gradients::compare).
    ///
    /// # Panics
    /// If a `Var` belongs to another tape, or the tolerance's `atol` or `rtol`
    /// is negative or NaN (which would refuse even an exact match), at the
    /// caller's line.
    ///
    /// ```
    /// use chainrule::explain::ExplainOptions;
    /// use chainrule::gradcheck::Tolerance;
    ///
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0);
    /// let g = x.exp().backward();
    /// let loose = Tolerance { atol: 0.0, rtol: 1e-3 };
    /// assert!(g.compare_with(&[(x, 2.718)], loose).all_passed());
    /// let raw = g.compare_with(&[(x, 1.0)], ExplainOptions::default().raw());
    /// assert_eq!(raw.mismatches[0].1.options(), ExplainOptions::default().raw());
    /// ```
    #[track_caller]
    pub fn compare_with(
        &self,
        expected: &[(Var<'_>, f64)],
        options: impl Into<CompareOptions>,
    ) -> Comparison {
        let options = options.into();
        let tolerance = options.tolerance;
        if let Some(problem) = tolerance.problem() {
            bad_tolerance_in_compare(&problem);
        }
        let mut checks = Vec::with_capacity(expected.len());
        let mut mismatches = Vec::new();
        let mut diagnoses = Vec::new();
        for &(x, value) in expected {
            if !std::ptr::eq(x.tape(), self.tape()) {
                foreign_var_in_compare(x.index(), checks.len());
            }
            let mut check = GradientCheck::new(
                x.index(),
                crate::explain::readable_name(self.tape(), x.index()),
                self.wrt(x),
                value,
                tolerance,
            );
            // A gradient made non-finite where a value on its way underflowed
            // (√(x·x) at 1e-200: x·x = 0, √′(0) = ∞) may be f64's, not f's:
            // neither passed nor failed, whatever your value (∞ included).
            let underflow = if check.tape.is_finite() {
                None
            } else {
                crate::anomaly::underflow_between(self.tape(), x.index(), self.output())
            };
            if let Some(node) = underflow {
                check.passed = false;
                let note = underflow_note(
                    node,
                    &crate::explain::readable_name(self.tape(), node),
                    self.tape().value(node),
                );
                check.cannot_check = Some(format!(
                    "{note} on the way to the output: the tape's non-finite gradient may be \
                     f64's range, not f's derivative, so your value is neither confirmed nor \
                     refuted"
                ));
            }
            if !check.passed && check.tape.is_finite() && value.is_finite() {
                let bound = self.rounding_bound(x);
                if check.abs_error <= bound {
                    check.passed = true;
                    check.tape_rounding = Some(bound);
                }
            }
            if !check.passed {
                // The explanation lists 16 paths by default; a diagnosis takes
                // up to MAX_PATH_TERMS one by one, so where all of them fit it
                // lists them all (else a slip on one of 17 was searched over
                // branches).
                let explain = |options: ExplainOptions| {
                    let explanation = self.explain_with(x, options);
                    let total = explanation.paths().len() as u128 + explanation.left_out();
                    if explanation.left_out() > 0
                        && options.max_paths == crate::explain::DEFAULT_MAX_PATHS
                        && !explanation.count_saturated()
                        && total <= MAX_PATH_TERMS as u128
                    {
                        return self.explain_with(x, options.max_paths(MAX_PATH_TERMS));
                    }
                    explanation
                };
                let mut explanation = explain(options.explain);
                let mut terms = terms_of(&explanation);
                let kink = || kink_between(self.tape(), x.index(), explanation.output());
                let mut finding = if let Some(node) = underflow {
                    Finding::Underflowed {
                        node,
                        name: crate::explain::readable_name(self.tape(), node),
                        value: self.tape().value(node),
                    }
                } else if !check.tape.is_finite() {
                    // Where the sweep's first non-finite contribution starts,
                    // if it reaches x (another input's NaN, as 0 · ∞ to w in
                    // √x + √w·0, says nothing of ∂y/∂x's ∞).
                    let anomaly = self.gradient_anomaly().filter(|a| {
                        a.operand
                            .as_ref()
                            .is_some_and(|(o, ..)| reaches(self.tape(), *o, x.index()))
                    });
                    Finding::NonFiniteTape { anomaly }
                } else if let Some((node, note)) = kink() {
                    Finding::AtKink {
                        node,
                        name: crate::explain::readable_name(self.tape(), node),
                        note,
                    }
                } else if !value.is_finite() {
                    Finding::NoMatch { searched: 0 }
                } else {
                    // A value that a slip gives within the tolerance is that
                    // slip, though it may also be the tape's rounded to a few
                    // digits (0.125 for x/8 + 1e-5·x² at 1, the x² path
                    // forgotten, read as 0.12502 rounded): rounding is named
                    // only where no slip fits.
                    match slip_of(self.tape(), &explanation, &terms, value, tolerance) {
                        Finding::NoMatch { .. } if rounded_to(value, check.tape).is_some() => {
                            let (digits, half_unit) =
                                rounded_to(value, check.tape).expect("checked above");
                            Finding::Rounded { digits, half_unit }
                        }
                        slip => slip,
                    }
                };
                // A labelled quantity folds the paths below it into one factor
                // (`u = x²; f = sin(u) + u² + eᵘ`: ∂f/∂u is one factor), and a
                // slip in one of its parts is no sum of the paths shown. With
                // every node shown, the parts are paths of their own: if a slip
                // is found there, it is named with that explanation.
                if matches!(finding, Finding::NoMatch { searched } if searched > 0)
                    && options.explain.labelled_only
                {
                    let raw = explain(options.explain.raw());
                    let raw_terms = terms_of(&raw);
                    let raw_finding = slip_of(self.tape(), &raw, &raw_terms, value, tolerance);
                    if !matches!(raw_finding, Finding::NoMatch { .. }) {
                        (explanation, terms, finding) = (raw, raw_terms, raw_finding);
                    }
                }
                diagnoses.push(Diagnosis {
                    row: checks.len(),
                    expected: value,
                    tape: check.tape,
                    terms,
                    finding,
                });
                mismatches.push((checks.len(), explanation));
            }
            checks.push(check);
        }
        Comparison {
            checks,
            mismatches,
            diagnoses,
            tolerance,
        }
    }
}

/// `node #1 x·x = 0 underflowed (its operands were nonzero; …)`: the node
/// of a [`Finding::Underflowed`] row, in words.
fn underflow_note(node: usize, name: &str, value: f64) -> String {
    format!(
        "node #{node} {name} = {} underflowed (its operands were nonzero; f64 has no \
         normal number below 2.2e-308)",
        if value == 0.0 {
            format!("{value}")
        } else {
            format!("{value:e}")
        }
    )
}

/// Whether node `to` is `from` or lies below it (an operand of an operand …):
/// a walk down the operands from `from`, none below `to` followed.
///
/// # Complexity
/// O(nodes and edges between `to` and `from`).
fn reaches(tape: &Tape, from: usize, to: usize) -> bool {
    if from < to {
        return false;
    }
    let mut seen = vec![false; from - to + 1];
    let mut stack = vec![from];
    while let Some(i) = stack.pop() {
        if i == to {
            return true;
        }
        if std::mem::replace(&mut seen[i - to], true) {
            continue;
        }
        for (o, _) in tape.edges(i) {
            if o >= to && !seen[o - to] {
                stack.push(o);
            }
        }
    }
    false
}

/// If `value`, written in its shortest decimal form with 3 to 15 significant
/// digits, is `tape` rounded to those digits: the digits and half a unit in
/// the last (the tolerance that accepts it). `None` for 0, a value that is not
/// finite, or one with more or fewer digits (a value of 16 or 17 digits was
/// not rounded by hand, and one of 1 or 2 says too little to tell a rounding
/// from a slip).
fn rounded_to(value: f64, tape: f64) -> Option<(u32, f64)> {
    if value == 0.0 || !value.is_finite() || !tape.is_finite() {
        return None;
    }
    // `{:e}` writes the shortest form that reads back as `value`: 4.38568e-4.
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e')?;
    let exponent: i32 = exponent.parse().ok()?;
    let digits = mantissa.chars().filter(char::is_ascii_digit).count() as u32;
    if !(3..=15).contains(&digits) {
        return None;
    }
    let half_unit = 0.5 * 10f64.powi(exponent - digits as i32 + 1);
    // The tape's value rounded to those digits is `value` (within half a
    // unit is not enough: 100 is within 0.5 of 99.6, which to 3 digits is
    // 99.6). The tolerance offered accepts it: f64's subtraction may put it a
    // few ulps past half a unit (0.0541 − 0.05405 is 5.0000000000000143e-5).
    let accepts = half_unit.max((tape - value).abs());
    (round_to_digits(tape, digits) == value).then_some((digits, accepts))
}

/// `x` rounded to `digits` significant decimal digits (1 to 17), as `{:e}`
/// formatting rounds the exact binary value, read back as the nearest `f64`:
/// `round_to_digits(99.6, 3)` is 99.6, `round_to_digits(0.000438567734, 6)`
/// is 0.000438568. A value not finite is returned as it is.
///
/// ```
/// use chainrule::gradcheck::round_to_digits;
///
/// assert_eq!(round_to_digits(-1.884520868168, 5), -1.8845);
/// assert_eq!(round_to_digits(99.6, 3), 99.6);
/// assert_eq!(round_to_digits(99.96, 3), 100.0);
/// ```
///
/// # Panics
/// If `digits` is 0 or more than 17.
pub fn round_to_digits(x: f64, digits: u32) -> f64 {
    assert!(
        (1..=17).contains(&digits),
        "round_to_digits: {digits} significant digits (1 to 17)"
    );
    if !x.is_finite() {
        return x;
    }
    format!("{:.*e}", (digits - 1) as usize, x)
        .parse()
        .unwrap_or(x)
}

/// The first node at a kink that can matter for ∂output/∂x: see
/// [`crate::explain::kink_affecting`].
fn kink_between(tape: &Tape, x: usize, output: usize) -> Option<(usize, &'static str)> {
    crate::explain::kink_affecting(tape, x, output)
}

#[cold]
#[inline(never)]
#[track_caller]
fn bad_tolerance_in_compare(problem: &str) -> ! {
    panic!("chainrule: compare_with was given a tolerance it cannot use: {problem}")
}

#[cold]
#[inline(never)]
#[track_caller]
fn foreign_var_in_compare(index: usize, row: usize) -> ! {
    panic!(
        "chainrule: compare was given node #{index} of another tape (entry {row} of the expected values); \
         compare the Vars of the tape these gradients were swept on"
    )
}
