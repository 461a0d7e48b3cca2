//! Gradient checks: the tape's gradients held against central finite differences
//! ([`gradcheck`]) or against your own hand derivation ([`Gradients::compare`]).
//!
//! Both accept a gradient when `|actual - reference| <= atol + rtol · |reference|`
//! (a [`Tolerance`]), the test PyTorch's `gradcheck` uses.
//!
//! ```
//! use chainrule::gradcheck::gradcheck;
//!
//! // f(x, y) = x·sin(y): ∂f/∂x = sin y, ∂f/∂y = x·cos y
//! let report = gradcheck(|v| v[0] * v[1].sin(), &[1.5, 0.3]);
//! assert!(report.all_passed(), "{report}");
//! ```

use std::fmt;

use crate::explain::{format_number, Explanation};
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

    /// Whether `actual` is within tolerance of `reference` (false if either is NaN).
    pub fn accepts(self, actual: f64, reference: f64) -> bool {
        (actual - reference).abs() <= self.atol + self.rtol * reference.abs()
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
    /// The finite-difference step h: ∂f/∂xᵢ ≈ (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h.
    /// Default 1e-6 (as PyTorch).
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
    /// A readable name: `x[0]` for gradcheck, the node's label for compare.
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
    /// Whether the tolerance accepts the tape's value.
    pub passed: bool,
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
        }
    }
}

/// The result of [`gradcheck`]: one row per input. `Display` writes a table.
#[derive(Clone, Debug, PartialEq)]
pub struct GradcheckReport {
    /// f at the given inputs.
    pub value: f64,
    /// One row per input, `reference` being the central difference.
    pub checks: Vec<GradientCheck>,
    /// The settings used.
    pub options: GradcheckOptions,
}

impl GradcheckReport {
    /// Whether every input passed (true for no inputs).
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }

    /// The rows that failed.
    pub fn failures(&self) -> impl Iterator<Item = &GradientCheck> {
        self.checks.iter().filter(|c| !c.passed)
    }
}

/// Checks the tape's gradient of `f` at `inputs` against central finite
/// differences, with [`GradcheckOptions::default`] (step 1e-6, PyTorch's float64
/// tolerance).
///
/// `f` receives the inputs recorded as leaves of a fresh tape and returns the
/// output; it runs 2n + 1 times for n inputs (once taped and swept, then twice per
/// input for the differences). Cost: 2n + 1 recordings of `f` and one sweep.
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
/// A step that is not a positive finite number makes every row fail with a NaN
/// reference (the check cannot be made) rather than panic.
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
/// assert!((report.checks[0].reference - 12.0).abs() < 1e-6);
/// ```
pub fn gradcheck_with<F>(f: F, inputs: &[f64], options: GradcheckOptions) -> GradcheckReport
where
    F: for<'t> Fn(&[Var<'t>]) -> Var<'t>,
{
    if inputs.is_empty() {
        // f could not even reach the tape: nothing to check.
        return GradcheckReport {
            value: f64::NAN,
            checks: Vec::new(),
            options,
        };
    }
    let mut tape = Tape::with_capacity(64);
    let (value, tape_gradients) = {
        let vars = tape.vars(inputs);
        let y = evaluate(&f, &tape, &vars);
        let g = y.backward();
        (y.value(), g.wrt_all(&vars))
    };
    let h = options.step;
    let step_ok = h.is_finite() && h > 0.0;
    let mut shifted = inputs.to_vec();
    let mut checks = Vec::with_capacity(inputs.len());
    for (i, &tape_gradient) in tape_gradients.iter().enumerate() {
        let numeric = if step_ok {
            shifted[i] = inputs[i] + h;
            let up = primal(&f, &mut tape, &shifted);
            shifted[i] = inputs[i] - h;
            let down = primal(&f, &mut tape, &shifted);
            shifted[i] = inputs[i];
            (up - down) / (2.0 * h)
        } else {
            f64::NAN
        };
        checks.push(GradientCheck::new(
            i,
            format!("x[{i}]"),
            tape_gradient,
            numeric,
            options.tolerance,
        ));
    }
    GradcheckReport {
        value,
        checks,
        options,
    }
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
            if row.passed { "pass" } else { "FAIL" }
        )?;
    }
    Ok(())
}

impl fmt::Display for GradcheckReport {
    /// A table: per input the tape's gradient, the central difference, the
    /// absolute and relative errors, and pass or FAIL; then a summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_table(f, "central difference", &self.checks)?;
        let failed = self.failures().count();
        writeln!(
            f,
            "{} of {} passed (step {:e}, |tape − numeric| <= {:e} + {:e}·|numeric|)",
            self.checks.len() - failed,
            self.checks.len(),
            self.options.step,
            self.options.tolerance.atol,
            self.options.tolerance.rtol
        )
    }
}

/// The result of [`Gradients::compare`]: one row per expected value, and for each
/// mismatch the path-by-path explanation of the tape's value.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// One row per expected gradient: `reference` is your value.
    pub checks: Vec<GradientCheck>,
    /// For each failed row, in order: its position in `checks` and the explanation
    /// of the tape's gradient (at most [`DEFAULT_MAX_PATHS`](crate::explain::DEFAULT_MAX_PATHS)
    /// paths listed).
    pub mismatches: Vec<(usize, Explanation)>,
    /// The tolerance used.
    pub tolerance: Tolerance,
}

impl Comparison {
    /// Whether every expected value matched (true for none).
    pub fn all_passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

impl fmt::Display for Comparison {
    /// A table (tape, expected, errors, pass/FAIL), then, for each mismatch, the
    /// expected and actual values and the explanation of the tape's value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_table(f, "expected", &self.checks)?;
        let failed = self.mismatches.len();
        writeln!(
            f,
            "{} of {} matched (|tape − expected| <= {:e} + {:e}·|expected|)",
            self.checks.len() - failed,
            self.checks.len(),
            self.tolerance.atol,
            self.tolerance.rtol
        )?;
        for (row, explanation) in &self.mismatches {
            let row = &self.checks[*row];
            writeln!(
                f,
                "\nmismatch at {}: expected {}, the tape has {}; the tape's value, path by path:",
                row.name,
                format_number(row.reference, 12),
                format_number(row.tape, 12)
            )?;
            write!(f, "{explanation}")?;
        }
        Ok(())
    }
}

impl<'t> Gradients<'t> {
    /// Holds the tape's gradients against your hand-derived values, with
    /// [`Tolerance::MANUAL`]. Each mismatch comes with the tape's value explained
    /// path by path, to find where your derivation and the graph part ways.
    ///
    /// Cost: one lookup per value, plus one [explanation](Gradients::explain) per
    /// mismatch.
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
    /// let wrong = g.compare(&[(x, 9.0)]); // d(x²)/dx is not x²
    /// assert!(!wrong.all_passed());
    /// assert!(wrong.to_string().contains("expected 9.000000000000, the tape has 6.000000000000"));
    /// ```
    #[track_caller]
    pub fn compare(&self, expected: &[(Var<'_>, f64)]) -> Comparison {
        self.compare_with(expected, Tolerance::MANUAL)
    }

    /// [`compare`](Gradients::compare) with a chosen tolerance.
    ///
    /// # Panics
    /// If a `Var` belongs to another tape.
    ///
    /// ```
    /// use chainrule::gradcheck::Tolerance;
    ///
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0);
    /// let g = x.exp().backward();
    /// let loose = Tolerance { atol: 0.0, rtol: 1e-3 };
    /// assert!(g.compare_with(&[(x, 2.718)], loose).all_passed());
    /// ```
    #[track_caller]
    pub fn compare_with(&self, expected: &[(Var<'_>, f64)], tolerance: Tolerance) -> Comparison {
        let mut checks = Vec::with_capacity(expected.len());
        let mut mismatches = Vec::new();
        for &(x, value) in expected {
            let check = GradientCheck::new(
                x.index(),
                self.tape().display_name(x.index()),
                self.wrt(x),
                value,
                tolerance,
            );
            if !check.passed {
                mismatches.push((checks.len(), self.explain(x)));
            }
            checks.push(check);
        }
        Comparison {
            checks,
            mismatches,
            tolerance,
        }
    }
}
