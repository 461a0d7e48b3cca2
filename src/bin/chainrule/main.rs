//! `chainrule`: check a derivation typed as a formula, without writing Rust.
//!
//! ```text
//! chainrule grad 'sigmoid(x*y)' --at x=0.5,y=2
//! chainrule explain --file examples/seed.txt --wrt w5
//! chainrule check 'x^2 * sin(x)' --at x=1 --wrt x --expect '2*x*sin(x) + x^2*cos(x)'
//! chainrule grad --file examples/seed.txt --html seed.html
//! ```
//!
//! Exit codes: 0 when all is well, 1 when `check` finds the derivative wrong,
//! 2 for bad input (a formula that does not parse, a variable with no value, a
//! file that cannot be read or written), 3 when `check` can neither confirm nor
//! refute the derivative at the point because f is not defined or not finite
//! there (`ln(x)` at −1), the tape's gradient there is NaN (0 · ∞ on a path, as
//! `sqrt(x^4)` at 0), whatever the expected value, or because the tape passes a
//! kink that matters there (|x| at 0, max at a tie, signum at 0) and one-sided
//! finite differences do not show f differentiable: the derivative may not
//! exist, and the tape's value there is a convention (nothing was found wrong
//! near the point). Where they show f differentiable past a kink, the expected
//! value is held against their slope, allowing for the slope's own error (exit
//! 0 or 1, or 3 where that error leaves it undecided).
//! Where the tape's gradient is infinite (`sqrt(x)` at 0), f has no finite
//! derivative: the same infinity agrees but confirms nothing (exit 3), any other
//! value is wrong (exit 1), unless a kink that matters is also there
//! (`relu(x) + 3*sqrt(x)` at 0): then the one-sided finite differences decide,
//! as at any kink. Exit 3 too where the expected value agrees with the tape
//! only within the tape's own rounding, the sweep's or the forward pass's
//! (`ln(1 - sigmoid(z))` at z = 25, where 1 − σ(z) cancels and the tape's
//! ∂f/∂z is off by 4e-6): agreeing with the tape confirms nothing there, and
//! differing from it within that bound refutes nothing.

mod formula;

use std::collections::{HashMap, HashSet};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use chainrule::anomaly::underflowed;
use chainrule::dot::Dot;
use chainrule::explain::{Explanation, Quantity};
use chainrule::gradcheck::{Diagnosis, Finding, Tolerance};
use chainrule::html::Html;
use chainrule::{Gradients, Tape, Var};
use clap::{Args, Parser, Subcommand};
use rand_core::{Rng as _, SeedableRng as _};
use serde_json::{json, Value};

use formula::{FormulaError, Program, Recorded};

/// Reverse-mode automatic differentiation of a formula, explained: the value and
/// every partial derivative, the chain rule path by path, a check of your own
/// derivative, and the graph (DOT, SVG, or a page that plays the backward sweep).
///
/// A formula uses + - * / ^, parentheses, numbers, names and the engine's ops
/// (sigmoid, tanh, relu, ln, exp, sqrt, pow, max, …: `chainrule functions`).
/// Lines (or `;`-separated parts) `name = expr` name intermediate quantities;
/// `name = 0.4` (or numbers alone: `name = 1/2`) declares a variable with a
/// value; the last line, the only one that may have no name, is the output (`f`
/// unless named). `#` starts a comment, to the end of the line or the next `;`.
#[derive(Parser)]
#[command(name = "chainrule", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// The output's value and its partial derivative with respect to every variable.
    Grad {
        #[command(flatten)]
        input: Input,
        #[command(flatten)]
        outputs: Outputs,
    },
    /// ∂output/∂x written out by the chain rule, path by path.
    Explain {
        #[command(flatten)]
        input: Input,
        /// The quantities to differentiate with respect to (variables or named
        /// lines), comma-separated; every variable if not given.
        #[arg(long, value_delimiter = ',', value_name = "NAME")]
        wrt: Vec<String>,
        /// Show every node of the tape, not only the named quantities.
        #[arg(long)]
        raw: bool,
        #[command(flatten)]
        outputs: Outputs,
    },
    /// Checks your derivative ∂output/∂x against the tape's, at the point and
    /// at random points near it, and names what a wrong one misses. Exit code:
    /// 0 right, 1 wrong, 3 neither (see `check --help`).
    ///
    /// On a mismatch it says which chain-rule path your value misses, counts
    /// twice or has with the wrong sign, or which factor (an inner derivative)
    /// it leaves out.
    ///
    /// Exit code 0: yours is right. 1: it is wrong. 3: neither can be said,
    /// because f is not defined at the point; or the point is at a kink where
    /// the derivative does not (or may not) exist (where f is differentiable
    /// past the kink, yours is held against the one-sided slopes' value,
    /// allowing for its error: 3 when that error leaves it undecided); or the
    /// tape's gradient there is NaN (no number a derivation can match); or it
    /// is infinite and yours is the same infinity (they agree, but f has no
    /// finite derivative there to confirm; any other value is wrong there,
    /// unless a kink also matters there: then the one-sided slopes decide, as
    /// at any kink); or yours agrees with the tape only within the tape's own
    /// rounding (where f's formulas or the sweep's sum cancel, the tape's value
    /// may be off by more than the tolerance: ln(1 - sigmoid(z)) at z = 25); or
    /// yours is not finite where the tape's is (a value on its way overflowed
    /// f64, or it is not defined there); or the tape's gradient passed f64's
    /// range on its way (its products overflowed, or a value underflowed); or
    /// no random point near it could be checked and your formula agrees at the
    /// point alone.
    Check {
        #[command(flatten)]
        input: Input,
        /// The variable your derivative is with respect to; may be left out
        /// where the point has one variable.
        #[arg(long, value_name = "NAME")]
        wrt: Option<String>,
        /// Your derivative: a formula in the variables (and named lines), or a
        /// number (then it is checked at the point only), `inf`, `-inf` or
        /// `nan` among them; a formula of numbers alone (`3*cos(2.25)`,
        /// `0/0`) is a number. It may start with '-': `--expect -5`,
        /// `--expect '-sin(x)'`.
        #[arg(long, value_name = "FORMULA", allow_hyphen_values = true)]
        expect: String,
        /// How many random points to check besides the given one.
        #[arg(long, default_value_t = 5)]
        points: usize,
        /// The seed of the random points.
        #[arg(long, default_value_t = 14)]
        seed: u64,
        /// Variables the random points keep at the point's values,
        /// comma-separated: data your derivative holds only for (one-hot
        /// targets that sum to 1, a label of 0 or 1). The others move, each
        /// by up to half its size (at least ±0.25), on the point's side of
        /// every relu, abs, max, min and clamp on the way.
        #[arg(long, value_delimiter = ',', value_name = "NAMES")]
        hold: Vec<String>,
        #[command(flatten)]
        outputs: Outputs,
    },
    /// Lists the functions a formula can call.
    Functions,
}

#[derive(Args)]
struct Input {
    /// The formula: an expression, or `;`-separated lines `name = expr` ending
    /// with the output.
    #[arg(conflicts_with = "file", allow_hyphen_values = true)]
    formula: Option<String>,
    /// Read the formula from a file ('-' for standard input) instead.
    #[arg(long, short, value_name = "FILE")]
    file: Option<PathBuf>,
    /// The point: the variables' values, `x=0.5,y=2` (a value may be an
    /// expression of numbers, `x=1/3`; the formula's `name = number` lines
    /// give defaults).
    #[arg(long, value_delimiter = ',', value_parser = parse_value, value_name = "NAME=VALUE")]
    at: Vec<(String, f64)>,
}

#[derive(Args)]
struct Outputs {
    /// Write the graph as Graphviz DOT to FILE ('-' for standard output).
    #[arg(long, value_name = "FILE")]
    dot: Option<PathBuf>,
    /// Write the graph as SVG to FILE, through Graphviz's `dot`.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Write a page that plays the forward pass and the backward sweep step by
    /// step (one self-contained HTML file).
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
    /// Draw (--dot, --svg, --html) only the nodes at most K edges below the output.
    #[arg(long, value_name = "K")]
    within: Option<usize>,
    /// Print JSON for scripts (values, gradients, explanations' paths) instead of text.
    /// `grad` writes an explanation of more than 64 factors (over the paths it lists) as a
    /// summary, its paths and text null and `omitted` saying so; `explain --wrt
    /// NAME --json` writes it in full.
    #[arg(long)]
    json: bool,
}

fn parse_value(s: &str) -> Result<(String, f64), String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not NAME=VALUE (write x=0.5)"))?;
    let name = name.trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '\'')
    {
        return Err(format!("'{name}' is not a variable name"));
    }
    let text = value.trim();
    // A number, or a constant expression as formula lines take (`1/2`,
    // `2^-3`, `pi/4`), evaluated as they evaluate it.
    let value: f64 = match text.parse() {
        Ok(value) => value,
        Err(_) => match formula::evaluate(text, &HashMap::new()) {
            Ok((value, _)) if value.is_finite() => value,
            Ok((value, _)) => {
                return Err(format!(
                    "the value of {name}, '{text}', evaluates to {value}, not a finite number \
                     (to give a variable that value, write it out: inf, -inf or nan)"
                ))
            }
            Err(_) => {
                return Err(format!(
                    "the value of {name}, '{text}', is not a number (nor an expression of numbers, as 1/2)"
                ))
            }
        },
    };
    // `"1e400".parse()` is Ok(inf): refused, unless infinity is written out.
    if value.is_infinite() && !text.to_ascii_lowercase().contains("inf") {
        return Err(format!(
            "the value of {name}, '{text}', is beyond the largest f64 (about 1.8e308): \
             write inf for infinity"
        ));
    }
    if value == 0.0 && formula::underflows(text) {
        return Err(format!(
            "the value of {name}, '{text}', is below the smallest f64 (about 4.9e-324) and would read as 0: \
             write 0 if you mean it"
        ));
    }
    Ok((name.to_string(), value))
}

/// A failure: what to print, and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl Failure {
    fn input(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            code: 2,
        }
    }
}

/// Set when a drawing goes to standard output (`--dot -`): the report then goes
/// to standard error, so `chainrule … --dot - | dot -Tsvg` gets the drawing alone.
static REPORT_TO_STDERR: AtomicBool = AtomicBool::new(false);

/// Prints the report (to stdout, or stderr when a drawing has stdout).
macro_rules! say {
    ($($t:tt)*) => { report(format_args!($($t)*)) };
}

/// `say!` with a newline.
macro_rules! sayln {
    ($($t:tt)*) => { report(format_args!("{}\n", format_args!($($t)*))) };
}

fn report(args: std::fmt::Arguments<'_>) {
    if REPORT_TO_STDERR.load(Ordering::Relaxed) {
        let _ = std::io::stderr().write_fmt(args);
    } else {
        to_stdout(args);
    }
}

/// Set once standard output is a closed pipe: nothing more is written to it.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Writes to standard output; a closed pipe (`chainrule … | head`) is not an
/// error and does not panic as `print!` does: the rest of the output is
/// dropped, and the command still ends with its own exit code (a wrong
/// derivative is exit 1 however much of its report was read).
fn to_stdout(args: std::fmt::Arguments<'_>) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
            return;
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(2);
    }
}

/// The stack the command runs on: parsing, folding and recording a formula
/// recurse once per level of nesting (a sum of n terms is n levels deep), and
/// the main thread's 8 MiB overflowed at ~50,000 (an abort, not an error).
/// [`formula::MAX_NESTING`] is sized to fit in it.
const STACK: usize = 1 << 30;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Only the pages the recursion touches are committed; where the thread
    // cannot be made, the command runs here, on the main thread's stack.
    let result = match std::thread::Builder::new()
        .stack_size(STACK)
        .spawn(move || run(cli))
    {
        Ok(worker) => worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
        Err(_) => run(Cli::parse()),
    };
    finish(result)
}

fn finish(result: Result<(), Failure>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if !f.message.is_empty() {
                eprintln!("error: {}", f.message);
            }
            ExitCode::from(f.code)
        }
    }
}

/// A number as the command line prints it: 12 decimals, or scientific when tiny or huge.
fn number(x: f64) -> String {
    let m = x.abs();
    if x != 0.0 && x.is_finite() && !(1e-4..1e9).contains(&m) {
        format!("{x:.12e}")
    } else {
        format!("{x:.12}")
    }
}

/// A difference in the short form the notes use: two significant digits,
/// a trailing 0 dropped (`1.7e-1`, `2e0`).
fn short_e(x: f64) -> String {
    format!("{x:.1e}").replacen(".0e", "e", 1)
}

/// A name as an operand of ∂: bare when one word, else in parentheses.
fn operand(name: &str) -> String {
    if name
        .chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '\'')
    {
        name.to_string()
    } else {
        format!("({name})")
    }
}

/// The note of `grad` where the output is not finite: its partials are then no
/// derivatives of it.
fn undefined_note(tape: &Tape, y: &str, value: f64) -> String {
    // Where it first turns non-finite names the cause (`pow(x, y) = NaN:
    // operand x = -2, operand y = 0.5`, a negative base to a fractional power).
    let first = tape
        .find_anomaly()
        .map(|a| {
            format!(
                " (it first turns {} at {})",
                number(a.value),
                anomaly_text(&a)
            )
        })
        .unwrap_or_default();
    format!(
        "note: {y} is {} here: it is not defined (or not finite) at this point, or a value on its way overflowed f64, so f64 gives no derivative of it here{first}; the partials below are the values of the tape's derivative formulas, not derivatives of {y}",
        number(value)
    )
}

/// The library's report of an anomaly (`node #3 const_div(x) = inf: …`) with
/// the op written as the formula reads (`3 / x`), where the op has a constant
/// the report holds, and for a power of a negative number that is NaN, why
/// (and `cbrt(x)` for a cube root).
fn anomaly_text(a: &chainrule::anomaly::Anomaly) -> String {
    use chainrule::Op;
    let text = a.to_string();
    let names: Vec<&str> = a.operands.iter().map(|o| o.name.as_str()).collect();
    let (Some(&c), [x]) = (a.constants.first(), names.as_slice()) else {
        return text;
    };
    let x = operand_text(x);
    let readable = match a.op {
        Op::AddConst => format!("{x} + {c}"),
        Op::SubConst => format!("{x} - {c}"),
        Op::ConstSub => format!("{c} - {x}"),
        Op::DivConst => format!("{x} / {c}"),
        Op::ConstDiv => format!("{c} / {x}"),
        Op::Powf | Op::Powi => format!("{x}^{}", operand_text(&c.to_string())),
        _ => return text,
    };
    let internal = format!(" {}({}) = ", a.op, names.join(", "));
    let mut text = text.replacen(&internal, &format!(" ({readable}) = "), 1);
    let base = a.operands.first().map_or(f64::NAN, |o| o.value);
    if a.op == Op::Powf && a.value.is_nan() && base < 0.0 && c.fract() != 0.0 {
        text.push_str(
            "; a negative number to a power that is not a whole number is NaN in f64 (powf takes no real roots of negative numbers)",
        );
        let thirds = 3.0 * c;
        if (thirds - thirds.round()).abs() < 1e-9 {
            let k = thirds.round();
            let cube_root = if k == 1.0 {
                format!("cbrt({})", names[0])
            } else {
                format!("cbrt({})^{k}", names[0])
            };
            text.push_str(&format!(": for a cube root write {cube_root}"));
        }
    }
    text
}

/// A name or number as an operand of an infix op: bare when it is one word or
/// a number with no sign, else in parentheses.
fn operand_text(name: &str) -> String {
    if name
        .chars()
        .all(|ch| ch.is_alphanumeric() || ch == '_' || ch == '.')
    {
        name.to_string()
    } else {
        format!("({name})")
    }
}

/// `grad`'s note naming the lines whose quantity the output does not use (a
/// likely typo: `u = x^2; v = sin(y); f = u + 1`, whose ∂f/∂y is then a
/// silent 0). `None` where every line is used.
fn unused_note(tape: &Tape, r: &Recorded<'_>, y: &str) -> Option<String> {
    let out = r.output.index();
    let mut used = vec![false; out + 1];
    used[out] = true;
    for i in (0..=out).rev() {
        if used[i] {
            for (o, _) in tape.edges(i) {
                used[o] = true;
            }
        }
    }
    let unused: Vec<&str> = r
        .named
        .iter()
        .filter(|(_, v)| v.index() != out && !used.get(v.index()).copied().unwrap_or(false))
        .map(|(n, _)| n.as_str())
        .collect();
    if unused.is_empty() {
        return None;
    }
    let (lines, is, them) = if unused.len() == 1 {
        ("line", "is", "it")
    } else {
        ("lines", "are", "them")
    };
    Some(format!(
        "note: the {lines} {} {is} defined but never used by {y} (a name mistyped?): {y} does not depend on {them}, so the partials below get nothing through {them}",
        unused.join(", ")
    ))
}

/// The notes of `grad` where the tape passes a kink that can matter for ∂y/∂x
/// (|x| at 0, max at a tie, …: see [`chainrule::explain::kink_affecting`];
/// found for all the quantities at once by
/// [`chainrule::explain::kinks_affecting`]):
/// the partial it prints for x then uses a convention, and may be no
/// derivative of y. `quantities` are the variables, or the named quantities
/// (a kink of a quantity's own op is below it: only those above count).
///
/// Where the kink found is atan2 on its branch cut (y = ±0, x < 0: it jumps
/// between π and −π across y = 0, and the library counts it for y's paths
/// only, with the output moving with it), the note says so in its own words,
/// after the other kinks' notes: the tape's value is the slope on the side the
/// sign of y's 0 picks, and the partial may not exist.
fn kink_notes(
    tape: &Tape,
    r: &Recorded,
    quantities: &[(String, Var)],
    g: &Gradients,
    y: &str,
) -> Vec<(String, String)> {
    use chainrule::Op;
    if !r.output.value().is_finite() {
        return Vec::new(); // the undefined note says it all
    }
    // The variables themselves (`check`, which the note suggests, takes a
    // variable only).
    let of_variables = std::ptr::eq(quantities, r.variables.as_slice());
    let check_hint = if of_variables {
        " (`chainrule check` asks the one-sided derivatives)"
    } else {
        ""
    };
    // One search for all the quantities (`explain::kinks_affecting`): a search
    // from each, a pass over the tape per quantity, was quadratic where many
    // of them lead to a kink (10,000 variables at relu's kink: 19 s).
    let output = r.output.index();
    let asked: Vec<&(String, Var)> = quantities
        .iter()
        .filter(|(_, v)| v.index() != output && !g[*v].is_nan())
        .collect();
    let indices: Vec<usize> = asked.iter().map(|(_, v)| v.index()).collect();
    let found = chainrule::explain::kinks_affecting(tape, &indices, output);
    let mut notes = Vec::new();
    let mut cuts = Vec::new();
    for ((name, _), found) in asked.into_iter().zip(found) {
        let Some((node, note)) = found else { continue };
        let lhs = format!("∂{}/∂{}", operand(y), operand(name));
        if matches!(tape.op(node), Op::Atan2 | Op::Atan2Const) {
            cuts.push((
                name.clone(),
                format!(
                    "note: {lhs} passes atan2's branch cut here (atan2(y, x) at y = 0 with x < 0, where it jumps between π and −π): the value above is the slope on the side the sign of y's 0 picks, and {lhs} may not exist at this point{check_hint}"
                ),
            ));
            continue;
        }
        let note = note.trim_end_matches("; the derivative does not exist here");
        notes.push((
            name.clone(),
            format!(
                "note: {lhs} passes a kink here ({note}): the value above uses that convention, and {lhs} may not exist at this point{check_hint}"
            ),
        ));
    }
    notes.extend(cuts);
    notes
}

/// The notes of `grad` and `explain` where f is finite but a partial is not,
/// one per such quantity (the output itself left out): `note(lhs, partial)`
/// for each, `lhs` being `∂y/∂name`. Where f is not finite the undefined note
/// says it all, and there are none.
fn non_finite_notes(
    r: &Recorded,
    quantities: &[(String, Var)],
    g: &Gradients,
    y: &str,
    which: fn(f64) -> bool,
    note: impl Fn(&str, f64) -> String,
) -> Vec<(String, String)> {
    if !r.output.value().is_finite() {
        return Vec::new();
    }
    quantities
        .iter()
        .filter(|(_, v)| v.index() != r.output.index() && which(g[*v]))
        .map(|(name, v)| {
            let lhs = format!("∂{}/∂{}", operand(y), operand(name));
            (name.clone(), note(&lhs, g[*v]))
        })
        .collect()
}

/// The notes where a partial is NaN: the sweep met a NaN local partial (atan2
/// at the origin), 0 · ∞ on a path (`sqrt(x^4)` at 0, whose derivative 2x is
/// 0) or ∞ − ∞, which says nothing of whether f has a derivative there.
fn nan_notes(
    r: &Recorded,
    quantities: &[(String, Var)],
    g: &Gradients,
    y: &str,
) -> Vec<(String, String)> {
    non_finite_notes(r, quantities, g, y, f64::is_nan, |lhs, _| {
        format!(
            "note: {lhs} is NaN here: the sweep met 0 · ∞, ∞ − ∞ or a NaN local partial, so the tape has no value for it; that does not say whether {lhs} exists at this point (a function can have one where its tape has NaN: sqrt(x^4) at 0 has ∂/∂x = 2x = 0)"
        )
    })
}

/// The notes where a partial is infinite: a local partial on the way is (√x
/// at 0, a vertical tangent; ln x at 1e-310, whose 1/x passes f64's range) or
/// the product overflowed f64. Either way no
/// finite derivative is printed, and the value alone did not say so.
fn inf_notes(
    r: &Recorded,
    quantities: &[(String, Var)],
    g: &Gradients,
    y: &str,
) -> Vec<(String, String)> {
    non_finite_notes(r, quantities, g, y, f64::is_infinite, |lhs, partial| {
        format!(
            "note: {lhs} is {inf} here: a local partial on its way is infinite (a vertical tangent, as √x has at 0, one made by a value that underflowed to 0, or one past f64's largest number, as ln′(x) = 1/x at 1e-310), or finite partials multiplied past f64's largest number; either way the tape has no finite number for it (`chainrule check --expect {inf}` confirms nothing here: exit 3)",
            inf = number(partial)
        )
    })
}

/// Every note on the partials of `quantities`: kinks, NaN, infinite, in that
/// order, each with the quantity's name.
fn partial_notes(
    tape: &Tape,
    r: &Recorded,
    quantities: &[(String, Var)],
    g: &Gradients,
    y: &str,
) -> Vec<(String, String)> {
    let mut notes = kink_notes(tape, r, quantities, g, y);
    notes.extend(nan_notes(r, quantities, g, y));
    notes.extend(inf_notes(r, quantities, g, y));
    notes
}

/// `grad --json`'s notes of one kind (`kinks`, `nan_partials`, …): an object
/// from each quantity's name to its note under `key`, none where there are no
/// notes.
fn put_notes(j: &mut Value, key: &str, notes: Vec<(String, String)>) {
    if !notes.is_empty() {
        j[key] = Value::Object(
            notes
                .into_iter()
                .map(|(n, note)| (n, json!(note)))
                .collect(),
        );
    }
}

/// The notes of `grad` where a variable's partial may be off past its eighth
/// significant digit (of the twelve printed): f's formulas or the sweep's sum
/// cancel terms much larger than the result (`(1 - cos(x))/x^2` at 1e-4,
/// whose tape partial 4.4e-5 is not even of the right sign: −8.3e-6). The bound
/// is [`forward_rounding`]'s, which covers the sweep's products and sums as
/// well (the recorded derivative is the sweep written out): first-order, from
/// 4ε a rounded value, and 0 where every op was exact.
fn rounding_notes(
    loaded: &Loaded,
    r: &Recorded,
    g: &Gradients,
    y: &str,
) -> Result<Vec<(String, String)>, Failure> {
    let mut notes = Vec::new();
    if !r.output.value().is_finite() {
        return Ok(notes);
    }
    for (name, v) in &r.variables {
        let partial = g[*v];
        if !partial.is_finite() {
            continue;
        }
        // The recorded derivative is the sweep written out (its products and
        // sums among its nodes), so its bound covers the sweep's rounding too,
        // op by op, exact ones (1 − 1, 1/2) adding nothing: where the sweep's
        // own worst case (`Gradients::rounding_bound`) adds a term per sum
        // whatever its operands (x/x: 1 + (−1), exactly 0).
        let bound = forward_rounding(loaded, &loaded.at, name, partial)?;
        let lhs = format!("∂{}/∂{}", operand(y), operand(name));
        if bound.is_infinite() {
            // x²/x at 1e-200: x² underflows to 0 and the tape's ∂ is 2, not 1.
            notes.push((name.clone(), unbounded_note(&lhs)));
            continue;
        }
        if !worth_a_rounding_note(partial, bound) {
            continue;
        }
        if partial == 0.0 {
            // A stationary point (x·e⁻ˣ at 1): the 0 is no less right for
            // its terms' cancelling, and the note says how right.
            notes.push((
                name.clone(),
                format!(
                    "note: the tape's 0 for {lhs} holds only to within ±{bound:.1e} here: terms on its way cancel, or a value on the way underflowed (a first-order bound, from 4ε a rounded value)"
                ),
            ));
            continue;
        }
        let sign = if bound >= partial.abs() {
            ", more than the number itself (so the bound does not even fix its sign)"
        } else {
            ""
        };
        notes.push((
            name.clone(),
            format!(
                "note: {lhs} may be off by up to ±{bound:.1e} here{sign}: f's formulas or the sweep's sum cancel terms much larger than the result, or a value on the way underflowed, and the tape's number is no more exact than its values' rounding allows (a first-order bound, from 4ε a rounded value)"
            ),
        ));
    }
    Ok(notes)
}

/// Whether a number printed to twelve significant digits, `value`, with the
/// first-order rounding bound `bound` ([`rounding_of`]'s, which counts only
/// the ops that rounded), gets a rounding note: where the bound passes its
/// eighth significant digit, subnormal values included (`exp(x)` at −745 is
/// 4.9e-324 in f64, about 2.8e-324 exactly: the bound, 2e-323, says so;
/// `x^2` at 0 and its ∂/∂x = 0 are exact, with a bound of 0). Not where the
/// bound is not finite (a term overflowed, and it bounds nothing).
fn worth_a_rounding_note(value: f64, bound: f64) -> bool {
    bound.is_finite() && bound > 0.0 && bound > 1e-8 * value.abs()
}

/// `grad`'s note where `what`'s first-order rounding bound is infinite though
/// its value is finite: a node that rounded (or underflowed) is one the value
/// depends on without bound (x²/x at 1e-200: x² underflows to 0, and the tape's
/// ∂f/∂x is 2 where f is x), so no digit of the number is vouched for.
fn unbounded_note(what: &str) -> String {
    format!(
        "note: {what} may be off by any amount here: a value on the way underflowed or rounded where the result depends on it without bound (past f64's range), so the tape's number vouches for none of its digits (`chainrule check` confirms nothing here: exit 3)"
    )
}

/// `grad`'s note where f's own value may be off past its eighth significant
/// digit: its formulas cancel terms much larger than the result (`x + 1e17*x -
/// 1e17*x` at 1 is 0 in f64, not 1; `(1 - cos(x))/x^2` at 1e-8 is 0, not 0.5).
/// The bound is [`rounding_of`]'s (the running error bound of the forward
/// pass). `None` where f is not finite (its own note says why) or the bound is
/// within the digits that matter.
fn value_rounding_note(
    tape: &Tape,
    output: Var<'_>,
    constants: &HashMap<usize, f64>,
    y: &str,
) -> Option<String> {
    let value = output.value();
    if !value.is_finite() {
        return None;
    }
    let bound = rounding_of(tape, output, constants);
    if bound.is_infinite() {
        return Some(unbounded_note(y));
    }
    if !worth_a_rounding_note(value, bound) {
        return None;
    }
    let sign = if bound >= value.abs() {
        ", more than the number itself (so the bound does not even fix its sign)"
    } else {
        ""
    };
    Some(format!(
        "note: {y} may be off by up to ±{bound:.1e} here{sign}: its formulas cancel terms much larger than the result, or a value on the way underflowed, and the tape's number is no more exact than its values' rounding allows (a first-order bound, from 4ε a rounded value)"
    ))
}

/// Where `yours` is the tape's ∂output/∂x less the term of one use of x in a
/// node that uses it more than once (`x*x` with `x`: the product rule's other
/// half), the note that says so. Each such node is one edge of the paths, its
/// partial the sum of its uses' (2x for x·x), so the slip is no sum of the
/// paths. `None` where no use's term fits, or where uses of different nodes,
/// or of different terms, fit.
fn one_use_left_out(
    tape: &Tape,
    g: &Gradients,
    x: Var,
    output: Var,
    yours: f64,
    tolerance: Tolerance,
) -> Option<String> {
    let total = g[x];
    // (node, use, uses, adjoint, partial) of each use whose term fits.
    let mut fits: Vec<(usize, usize, usize, f64, f64)> = Vec::new();
    for node in x.index() + 1..=output.index() {
        let edges = tape.edges(node);
        let uses: Vec<f64> = edges
            .iter()
            .filter(|&&(o, _)| o == x.index())
            .map(|&(_, p)| p)
            .collect();
        let adjoint = g.by_index(node);
        // A select op's partials are a choice, not terms of a rule (max(x, x)
        // at its tie splits 1 as 0.5 and 0.5 by convention).
        if uses.len() < 2 || adjoint == 0.0 || !adjoint.is_finite() || tape.op(node).is_select() {
            continue;
        }
        for (j, &partial) in uses.iter().enumerate() {
            let term = adjoint * partial;
            if term != 0.0 && term.is_finite() && tolerance.accepts(total - term, yours) {
                fits.push((node, j, uses.len(), adjoint, partial));
            }
        }
    }
    let &(node, j, m, adjoint, partial) = fits.first()?;
    let term = adjoint * partial;
    if fits
        .iter()
        .any(|f| f.0 != node || (f.3 * f.4).to_bits() != term.to_bits())
    {
        return None;
    }
    let explanation = g.explain(x);
    let name = |i: usize| explanation.name(Quantity::Node(i));
    let (at, of, y) = (name(node), name(x.index()), name(output.index()));
    let which = match fits.len() {
        1 => format!("use {} of {m}", j + 1),
        n if n == m => format!("one of the {m} uses"),
        _ => {
            let numbers: Vec<String> = fits.iter().map(|f| (f.1 + 1).to_string()).collect();
            format!(
                "use {} or {} of {m}",
                numbers[..numbers.len() - 1].join(", "),
                numbers[numbers.len() - 1]
            )
        }
    };
    let use_partial = format!("∂{}/∂({of}, {which})", operand(&at));
    let term_text = if node == output.index() {
        format!("{use_partial} = {}", number(term))
    } else {
        format!(
            "∂{}/∂{} × {use_partial} = {} × {} = {}",
            operand(&y),
            operand(&at),
            number(adjoint),
            number(partial),
            number(term)
        )
    };
    Some(format!(
        "(your value is the tape's less the term of {which} of {of} in {at}: {of} is used {m} times there, and the tape adds a term for each use (as the product rule adds two for x·x); that term is {term_text})\n"
    ))
}

/// One slip a diagnosis names: a sum of the paths (`Finding::EqualsPaths`,
/// one alternative of `Finding::Ambiguous`) or a factor left out
/// (`Finding::MissingFactor`), held against the diagnoses at random points.
#[derive(Clone, Debug, PartialEq)]
enum Slip {
    Paths(Vec<i8>),
    Factor {
        factor: String,
        paths: Vec<usize>,
        every_path: bool,
    },
    /// The power rule's factor n left out (`Finding::PowerRule`).
    Power {
        factor: String,
        paths: Vec<usize>,
        every_path: bool,
    },
}

/// Every slip a diagnosis names (none for one that names none).
fn slips_of(d: &Diagnosis) -> Vec<Slip> {
    let factor_left_out = |factor: &String, paths: &Vec<usize>, every_path: &bool| Slip::Factor {
        factor: factor.clone(),
        paths: paths.clone(),
        every_path: *every_path,
    };
    let mut slips = Vec::new();
    match &d.finding {
        Finding::MissingFactor {
            factor,
            paths,
            every_path,
            ..
        } => slips.push(factor_left_out(factor, paths, every_path)),
        Finding::PowerRule {
            factor,
            paths,
            every_path,
            also_factor,
            ..
        } => {
            slips.push(Slip::Power {
                factor: factor.clone(),
                paths: paths.clone(),
                every_path: *every_path,
            });
            if let Some((factor, _, paths, every_path)) = also_factor {
                slips.push(factor_left_out(factor, paths, every_path));
            }
        }
        _ => {}
    }
    slips.extend(
        d.alternatives()
            .into_iter()
            .map(|c| Slip::Paths(c.to_vec())),
    );
    slips
}

impl Slip {
    /// Whether `there` (a diagnosis at a random point) names this slip too
    /// (a factor's value differs from point to point; its name does not).
    fn explains(&self, there: &Diagnosis) -> bool {
        slips_of(there).contains(self)
    }

    /// The slip in words, as a diagnosis naming it alone writes it, from the
    /// point's diagnosis `base`.
    fn sentence(&self, base: &Diagnosis) -> String {
        let mut alone = base.clone();
        alone.finding = match (self, &base.finding) {
            (Slip::Paths(c), _) => Finding::EqualsPaths {
                coefficients: c.clone(),
            },
            // A factor left out: the finding's own, or the one a power rule's
            // finding names beside it.
            (
                Slip::Factor { .. },
                Finding::MissingFactor {
                    factor,
                    value,
                    paths,
                    every_path,
                    ..
                }
                | Finding::PowerRule {
                    also_factor: Some((factor, value, paths, every_path)),
                    ..
                },
            ) => Finding::MissingFactor {
                factor: factor.clone(),
                value: *value,
                paths: paths.clone(),
                every_path: *every_path,
                also: Vec::new(),
            },
            // The power rule alone, without the slips that fit as well.
            (Slip::Power { .. }, finding @ Finding::PowerRule { .. }) => {
                let mut finding = finding.clone();
                if let Finding::PowerRule {
                    also, also_factor, ..
                } = &mut finding
                {
                    also.clear();
                    *also_factor = None;
                }
                finding
            }
            (_, other) => other.clone(),
        };
        alone.to_string().trim_end().to_string()
    }
}

/// What ends a jump's or a corner's verdict: finite differences cannot tell
/// either from a smooth f that changes on a finer scale than the finest step.
const FINER_SCALE: &str = ", unless f changes on a finer scale than the finest step (a smooth f turning there, as x + √(x² + ε²) with ε far below it, looks the same to the differences)";

/// What the one-sided slopes say at a kink (`OneSided::describe`). Near one
/// (no kink exactly in f64: the point is within rounding of a switch point,
/// [`NEAR_KINK`]), a corner or jump the finite differences see is the
/// switch point's: there ∂f/∂x does not exist, but the point as given is off
/// it by a rounding, where it may (|x − 1| at x = 1 + 1.1e-15 has slope 1), so
/// that is said, not that it does not exist at the point.
fn nature_text(
    nature: &OneSided,
    note: &str,
    yours: f64,
    tape: f64,
    lhs: &str,
    wrt: &str,
) -> String {
    let text = nature.describe(yours, tape, lhs, wrt);
    if note.starts_with(NEAR_KINK.split(':').next().unwrap_or(NEAR_KINK)) {
        text.replace(
            &format!("{lhs} does not exist here{FINER_SCALE}"),
            &format!(
                "{lhs} does not exist at that switch point{FINER_SCALE}; the point as given is off it by a rounding, too near for the steps to tell its slope from the switch point's"
            ),
        )
    } else {
        text
    }
}

/// `at each of the 5 random points`, or `at the 1 random point`.
fn at_each(n: usize) -> String {
    if n == 1 {
        "at the 1 random point".to_string()
    } else {
        format!("at each of the {n} random points")
    }
}

/// `text` as a plain number, if it is one however typed: spaces dropped,
/// enclosing parentheses taken off, `−` (U+2212, as the command prints a
/// minus) read as `-`, a leading `+` dropped: `(- 1.8845)` is `-1.8845`.
/// `None` for anything that is not then a number (`inf` and `nan` included:
/// they are `check`'s special values).
fn plain_number(text: &str) -> Option<String> {
    let mut t: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| if c == '−' { '-' } else { c })
        .collect();
    while t.starts_with('(') && t.ends_with(')') {
        t = t[1..t.len() - 1].to_string();
    }
    let t = t.strip_prefix('+').unwrap_or(&t).to_string();
    let body = t.strip_prefix('-').unwrap_or(&t);
    let numeric = body
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    // A number past f64's range (1e400, or 1e-400, whose digits are not 0
    // but which reads as 0) is left to the formula reader, which refuses it.
    let mantissa_nonzero = body
        .split(['e', 'E'])
        .next()
        .is_some_and(|m| m.chars().any(|c| ('1'..='9').contains(&c)));
    let in_range = t
        .parse::<f64>()
        .is_ok_and(|v| v.is_finite() && (v != 0.0 || !mantissa_nonzero));
    (numeric && body.starts_with(|c: char| c.is_ascii_digit() || c == '.') && in_range).then_some(t)
}

/// The significant digits of a number as typed (trailing zeros count:
/// `-1.8800` has 5, `0.790` 3) and half a unit in the last one, where they are
/// 3 to 15: a number rounded by hand. `None` for anything else (a formula, 0,
/// fewer or more digits).
fn typed_digits(text: &str) -> Option<(u32, f64)> {
    let text = text.trim();
    let text = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().ok()?),
        None => (text, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if whole.is_empty() && fraction.is_empty()
        || !whole
            .chars()
            .chain(fraction.chars())
            .all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let all: String = whole.chars().chain(fraction.chars()).collect();
    let digits = all.trim_start_matches('0').len() as u32;
    let last = exponent - fraction.len() as i32;
    (3..=15)
        .contains(&digits)
        .then(|| (digits, 0.5 * 10f64.powi(last)))
}

/// The source, its program, and the point.
struct Loaded {
    source: String,
    program: Program,
    at: HashMap<String, f64>,
}

fn load(input: &Input) -> Result<Loaded, Failure> {
    let source = match (&input.formula, &input.file) {
        (Some(f), _) => f.clone(),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::input(format!("cannot read standard input: {e}")))?;
            s
        }
        (None, Some(path)) => std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("cannot read {}: {e}", path.display())))?,
        (None, None) => return Err(Failure::input("give a formula, or --file FILE")),
    };
    // A byte-order mark (a file saved as "UTF-8 with BOM") is no part of the
    // formula.
    let source = match source.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => source,
    };
    let program = formula::parse(&source).map_err(|e| Failure::input(e.render(&source)))?;
    // Looked up in a set: a search of the variables for each value given was
    // O(values × variables), 25 s for 40,000 of each.
    let variables: HashSet<&str> = program
        .variables
        .iter()
        .map(|(v, _, _)| v.as_str())
        .collect();
    let mut at = HashMap::with_capacity(input.at.len());
    for (name, value) in &input.at {
        if at.insert(name.clone(), *value).is_some() {
            return Err(Failure::input(format!("--at gives {name} twice")));
        }
        if !variables.contains(name.as_str()) {
            let names = program.variables.iter().map(|(v, _, _)| v.as_str());
            let hint = formula::suggest(name, names)
                .map_or(String::new(), |s| format!("; did you mean '{s}'?"));
            let line = program
                .statements
                .iter()
                .any(|st| st.name.as_ref().is_some_and(|(n, _)| n == name));
            if line {
                return Err(Failure::input(format!(
                    "--at gives a value to '{name}', a named line (a quantity computed from the variables), not a variable: give values to the variables it is computed from"
                )));
            }
            return Err(Failure::input(format!(
                "--at gives a value to '{name}', which is no variable of the formula{hint}"
            )));
        }
    }
    let missing = formula::missing(&program, &at);
    if !missing.is_empty() {
        let list: Vec<String> = missing.iter().map(|(n, _)| format!("'{n}'")).collect();
        let (first, span) = &missing[0];
        let assignments: Vec<String> = missing.iter().map(|(n, _)| format!("{n}=…")).collect();
        let message = if missing.len() == 1 {
            format!(
                "variable '{first}' has no value (used {{at}}): give it one with --at {}{}",
                assignments[0],
                formula::constant_hint(first)
            )
        } else {
            format!(
                "variables {} have no value ('{first}' is used {{at}}): give them with --at {}{}",
                list.join(", "),
                assignments.join(","),
                missing
                    .iter()
                    .map(|(n, _)| formula::constant_hint(n))
                    .find(|h| !h.is_empty())
                    .unwrap_or("")
            )
        };
        let e = FormulaError {
            span: *span,
            message,
        };
        return Err(Failure::input(e.render(&source)));
    }
    Ok(Loaded {
        source,
        program,
        at,
    })
}

fn record<'t>(
    loaded: &Loaded,
    tape: &'t Tape,
    at: &HashMap<String, f64>,
) -> Result<Recorded<'t>, Failure> {
    loaded
        .program
        .record(tape, at)
        .map_err(|e| Failure::input(e.render(&loaded.source)))
}

/// The quantity named `name`: a variable or a named line.
fn find<'t>(recorded: &Recorded<'t>, name: &str) -> Result<Var<'t>, Failure> {
    // (`--wrt 'w5, w1'`: the space after the comma is no part of the name.)
    let name = name.trim();
    let all = || recorded.variables.iter().chain(&recorded.named);
    if let Some((_, v)) = all().find(|(n, _)| n == name) {
        return Ok(*v);
    }
    let hint = formula::suggest(name, all().map(|(n, _)| n.as_str()))
        .map_or(String::new(), |s| format!("; did you mean '{s}'?"));
    let names: Vec<&str> = recorded.variables.iter().map(|(n, _)| n.as_str()).collect();
    Err(Failure::input(format!(
        "the formula has no quantity '{name}'{hint} (its variables: {})",
        names.join(", ")
    )))
}

fn run(cli: Cli) -> Result<(), Failure> {
    let outputs = match &cli.command {
        Commands::Grad { outputs, .. }
        | Commands::Explain { outputs, .. }
        | Commands::Check { outputs, .. } => Some(outputs),
        _ => None,
    };
    let to_stdout = |p: &Option<PathBuf>| p.as_ref().is_some_and(|p| p.as_os_str() == "-");
    if outputs.is_some_and(|o| to_stdout(&o.dot) || to_stdout(&o.svg) || to_stdout(&o.html)) {
        REPORT_TO_STDERR.store(true, Ordering::Relaxed);
    }
    // Two drawings written one after the other to standard output are one
    // file that is neither.
    if outputs.is_some_and(|o| {
        [&o.dot, &o.svg, &o.html]
            .into_iter()
            .filter(|p| to_stdout(p))
            .count()
            > 1
    }) {
        return Err(Failure::input(
            "only one drawing can go to standard output ('-'): write the others to files (--dot f.dot, --svg f.svg, --html f.html)",
        ));
    }
    if outputs.is_some_and(|o| {
        o.within.is_some() && o.dot.is_none() && o.svg.is_none() && o.html.is_none()
    }) {
        return Err(Failure::input(
            "--within K limits a drawing, and none was asked for: add --dot FILE, --svg FILE or --html FILE",
        ));
    }
    match cli.command {
        Commands::Functions => {
            sayln!("Functions a formula can call (each is the engine's op of the same name):");
            for f in formula::FUNCTIONS.iter() {
                sayln!("  {:<22} {}", format!("{}({})", f.name, f.args), f.about);
            }
            sayln!(
                "Operators: + - * / ^ (a^n with an integer n is powi, a^c powf, a^b pow), unary -."
            );
            Ok(())
        }
        Commands::Grad { input, outputs } => {
            let loaded = load(&input)?;
            let tape = Tape::new();
            let r = record(&loaded, &tape, &loaded.at)?;
            let g = r.output.backward();
            let y = tape.display_name(r.output.index());
            if outputs.json {
                let mut j = report_json(&r, &g);
                j["explanations"] = explanations_json(&g, &r.variables);
                if !r.output.value().is_finite() {
                    j["note"] = json!(undefined_note(&tape, &y, r.output.value()));
                }
                if let Some(note) = value_rounding_note(&tape, r.output, &r.constants, &y) {
                    j["value_rounding"] = json!(note);
                }
                if let Some(note) = unused_note(&tape, &r, &y) {
                    j["unused_lines"] = json!(note);
                }
                let kinks: Vec<_> = kink_notes(&tape, &r, &r.variables, &g, &y)
                    .into_iter()
                    .chain(kink_notes(&tape, &r, &r.named, &g, &y))
                    .collect();
                put_notes(&mut j, "kinks", kinks);
                let nans: Vec<_> = nan_notes(&r, &r.variables, &g, &y)
                    .into_iter()
                    .chain(nan_notes(&r, &r.named, &g, &y))
                    .collect();
                put_notes(&mut j, "nan_partials", nans);
                let infs: Vec<_> = inf_notes(&r, &r.variables, &g, &y)
                    .into_iter()
                    .chain(inf_notes(&r, &r.named, &g, &y))
                    .collect();
                put_notes(&mut j, "infinite_partials", infs);
                put_notes(&mut j, "rounding", rounding_notes(&loaded, &r, &g, &y)?);
                sayln!("{}", pretty(&j));
            } else {
                sayln!("{y} = {}", number(r.output.value()));
                if !r.output.value().is_finite() {
                    sayln!("{}", undefined_note(&tape, &y, r.output.value()));
                }
                if let Some(note) = value_rounding_note(&tape, r.output, &r.constants, &y) {
                    sayln!("{note}");
                }
                if let Some(note) = unused_note(&tape, &r, &y) {
                    sayln!("{note}");
                }
                say!("\n");
                let width = r
                    .variables
                    .iter()
                    .map(|(n, _)| n.chars().count())
                    .max()
                    .unwrap_or(1);
                for (name, v) in &r.variables {
                    let lhs = format!("∂{}/∂{}", operand(&y), operand(name));
                    sayln!(
                        "{lhs:<w$} = {}",
                        number(g[*v]),
                        w = width + y.chars().count() + 3
                    );
                }
                for (_, note) in partial_notes(&tape, &r, &r.variables, &g, &y) {
                    sayln!("{note}");
                }
                for (_, note) in rounding_notes(&loaded, &r, &g, &y)? {
                    sayln!("{note}");
                }
                let named: Vec<_> = r
                    .named
                    .iter()
                    .filter(|(_, v)| v.index() != r.output.index())
                    .collect();
                if !named.is_empty() {
                    say!("\n");
                    sayln!("named quantities: value, and ∂{}/∂ it", operand(&y));
                    let width = named
                        .iter()
                        .map(|(n, _)| n.chars().count())
                        .max()
                        .unwrap_or(1);
                    for (name, v) in named {
                        sayln!(
                            "  {name:<width$}  {:>16}  {:>16}",
                            number(v.value()),
                            number(g[*v])
                        );
                    }
                    for (_, note) in partial_notes(&tape, &r, &r.named, &g, &y) {
                        sayln!("{note}");
                    }
                }
            }
            drawings(
                &tape,
                &g,
                &outputs,
                r.variables.first().map(|(_, v)| v.index()),
            )
        }
        Commands::Explain {
            input,
            wrt,
            raw,
            outputs,
        } => {
            let loaded = load(&input)?;
            let tape = Tape::new();
            let r = record(&loaded, &tape, &loaded.at)?;
            let g = r.output.backward();
            let targets: Vec<(String, Var)> = if wrt.is_empty() {
                r.variables.clone()
            } else {
                wrt.iter()
                    .map(|n| find(&r, n).map(|v| (n.clone(), v)))
                    .collect::<Result<_, _>>()?
            };
            let options = if raw {
                chainrule::explain::ExplainOptions::default().raw()
            } else {
                chainrule::explain::ExplainOptions::default()
            };
            let y = tape.display_name(r.output.index());
            // The notes `grad` gives, on the partials explained.
            let notes = partial_notes(&tape, &r, &targets, &g, &y);
            if outputs.json {
                let mut j = report_json(&r, &g);
                j["explanations"] = Value::Array(
                    targets
                        .iter()
                        .map(|(_, v)| explanation_json(&g.explain_with(*v, options)))
                        .collect(),
                );
                if !r.output.value().is_finite() {
                    j["note"] = json!(undefined_note(&tape, &y, r.output.value()));
                }
                if !notes.is_empty() {
                    // Every note of each quantity (a kink and an infinite
                    // partial may both be noted).
                    let mut by_name = serde_json::Map::new();
                    for (n, note) in notes {
                        by_name
                            .entry(n)
                            .or_insert_with(|| json!([]))
                            .as_array_mut()
                            .expect("an array")
                            .push(json!(note));
                    }
                    j["notes"] = Value::Object(by_name);
                }
                sayln!("{}", pretty(&j));
            } else {
                if !r.output.value().is_finite() {
                    sayln!("{y} = {}", number(r.output.value()));
                    sayln!("{}\n", undefined_note(&tape, &y, r.output.value()));
                }
                for (k, (name, v)) in targets.iter().enumerate() {
                    if k > 0 {
                        say!("\n");
                    }
                    say!("{}", g.explain_with(*v, options));
                    for (_, note) in notes.iter().filter(|(n, _)| n == name) {
                        sayln!("{note}");
                    }
                }
            }
            drawings(&tape, &g, &outputs, targets.first().map(|(_, v)| v.index()))
        }
        Commands::Check {
            input,
            wrt,
            expect,
            points,
            seed,
            hold,
            outputs,
        } => check(
            &input,
            wrt.as_deref(),
            &expect,
            points,
            seed,
            &hold,
            &outputs,
        ),
    }
}

/// `check`: the learner's derivative against the tape.
fn check(
    input: &Input,
    wrt: Option<&str>,
    expect: &str,
    points: usize,
    seed: u64,
    hold: &[String],
    outputs: &Outputs,
) -> Result<(), Failure> {
    let loaded = load(input)?;
    let hold: Vec<String> = hold.iter().map(|h| h.trim().to_string()).collect();
    for h in &hold {
        if !loaded.program.variables.iter().any(|(v, _, _)| v == h) {
            let names = loaded.program.variables.iter().map(|(v, _, _)| v.as_str());
            let hint = formula::suggest(h, names)
                .map_or(String::new(), |s| format!("; did you mean '{s}'?"));
            return Err(Failure::input(format!(
                "--hold names '{h}', which is no variable of the formula{hint}"
            )));
        }
    }
    // `inf`, `-inf` and `nan` as the whole of --expect (a formula has no way to
    // write them: there they would be names).
    let special = {
        let t = expect.trim();
        let body = t.strip_prefix(['+', '-']).unwrap_or(t).to_ascii_lowercase();
        if matches!(body.as_str(), "inf" | "infinity" | "nan") {
            t.parse::<f64>().ok()
        } else {
            None
        }
    };
    // Your derivative at a point, and whether a value on its way was not finite.
    // A number, however typed: `-1.8845`, `(-1.8845)`, `- 1.8845`, `−1.8845`
    // (the minus sign the command prints) are one number, checked at the
    // point only, its digits as typed.
    let number_text: Option<String> = plain_number(expect);
    // A formula of numbers alone (`0.74136507 * 0.18681560 * 0.59326999`, the
    // factors `explain` prints, or `3*cos(2.25)`) is a number too: it names no
    // variable, so it is the same at every point, and held against the tape's
    // derivative elsewhere it would be called wrong for what it never claimed.
    let constant = || formula::evaluate(expect, &HashMap::new()).ok();
    let number_given: Option<f64> =
        number_text
            .as_deref()
            .and_then(|t| t.parse().ok())
            .or_else(|| {
                constant()
                    .filter(|&(v, overflowed)| v.is_finite() && !overflowed)
                    .map(|(v, _)| v)
            });
    // Its digits are those of its value written shortest (`-(1.8845)` has
    // 5): the formula's own numbers may be more (`1.8845*-1`) or fewer.
    let number_text = number_text.or_else(|| number_given.map(|v| format!("{v:e}")));
    // One that is not finite (`0/0`, `1/0`) is as `nan` or `inf` typed.
    let special = special.or_else(|| constant().map(|(v, _)| v).filter(|v| !v.is_finite()));
    let expect_at = |values: &HashMap<String, f64>| -> Result<(f64, bool), Failure> {
        if let Some(v) = special.or(number_given) {
            return Ok((v, false));
        }
        formula::evaluate(expect, values)
            .map_err(|e| Failure::input(format!("in --expect: {}", e.render(expect))))
    };

    // At the given point.
    let tape = Tape::new();
    let r = record(&loaded, &tape, &loaded.at)?;
    // Without --wrt, the point's one variable.
    let wrt: &str = match (wrt, r.variables.as_slice()) {
        (Some(wrt), _) => wrt,
        (None, [(only, _)]) => only,
        (None, variables) => {
            let names: Vec<&str> = variables.iter().map(|(n, _)| n.as_str()).collect();
            return Err(Failure::input(format!(
                "say which variable your derivative is with respect to: --wrt {} (the point has {} variables: {})",
                names.first().copied().unwrap_or("x"),
                names.len(),
                names.join(", ")
            )));
        }
    };
    let wrt = wrt.trim().to_string();
    if wrt.contains(',') {
        return Err(Failure::input(format!(
            "check holds one derivative at a time: --wrt {} (explain --wrt {wrt} writes each of them)",
            wrt.split(',').next().unwrap_or("x").trim()
        )));
    }
    let wrt = wrt.as_str();
    if hold.iter().any(|h| h == wrt) {
        let others = r.variables.iter().any(|(n, _)| n != wrt);
        return Err(Failure::input(if others {
            format!(
                "--hold {wrt} holds the variable of the derivative: every random point would keep {wrt} at the point's value, so ∂/∂{wrt} would never be checked at another value of {wrt}, only where the other variables move (hold the other variables only)"
            )
        } else {
            format!(
                "--hold {wrt} holds the variable of the derivative, the formula's only one: every random point would be the point itself, so ∂/∂{wrt} would never be checked at another value of {wrt} (leave --hold out)"
            )
        }));
    }
    let x = find(&r, wrt)?;
    if !r.variables.iter().any(|(n, _)| n == wrt) {
        return Err(Failure::input(format!(
            "'{wrt}' is a named line, not a variable: check a derivative with respect to a variable (explain --wrt {wrt} shows ∂/∂{wrt})"
        )));
    }
    let g = r.output.backward();
    let y = tape.display_name(r.output.index());
    let lhs = format!("∂{}/∂{}", operand(&y), operand(wrt));
    let (yours, yours_overflowed) = expect_at(&r.values)?;
    // Relative alone: an absolute floor passes wrong derivatives wherever the
    // derivative is small (a sign slip in ∂e⁻ˣ/∂x at 60, ±8.8e-27); the
    // tape's own rounding is allowed for by its bound instead.
    let tolerance = Tolerance {
        atol: 0.0,
        ..Tolerance::MANUAL
    };
    let f_value = r.output.value();
    // f not defined (or not finite) at the point: ln(x) at −1, 1/x at 0. There
    // is no derivative of f there; the tape's number is only its formulas'
    // value, and agreeing with it confirms nothing.
    let f_undefined = !f_value.is_finite();
    // Within the tape's own rounding (Gradients::rounding_bound) where the
    // sweep's sum cancels (x³ − (x − 1)³ at 1e10: the tape is off by 2.3e4 and an
    // exact 6x − 3 is not wrong), or the forward pass's (`forward_rounding`)
    // where f's formulas do (ln(1 − σ(z)) at z = 25: off by 4e-6).
    let within_rounding = |yours: f64, tape: f64, bound: f64| {
        yours.is_finite()
            && tape.is_finite()
            && (yours - tape).abs() <= tolerance.rtol * yours.abs() + bound
    };
    // The rounding of both sides: the tape's (its forward pass and its sweep)
    // and your formula's.
    let yours_rounding = |values: &HashMap<String, f64>, yours: f64| {
        if special.is_some() {
            0.0
        } else {
            expected_rounding(expect, values, yours)
        }
    };
    let at_point_bound =
        forward_rounding(&loaded, &loaded.at, wrt, g[x])? + yours_rounding(&r.values, yours);
    let at_point_tolerance = confirms(tolerance, yours, g[x], at_point_bound);
    let at_point_ok = at_point_tolerance || within_rounding(yours, g[x], at_point_bound);
    // A number written rounded from the tape's value (3.99232 for 3.992324048):
    // right to the significant digits given, not a slip (`Finding::Rounded`).
    // The digits are counted as typed: `-1.8800` is 5 of them (its f64,
    // −1.88, would read as 3, and pass for the tape's −1.884521 rounded).
    // Rounded means the tape's value rounded to those digits is yours (100
    // for 99.6 is within half a unit of 100's last digit, but 99.6 to 3
    // digits is 99.6).
    let rounded = match (number_given, number_text.as_deref().and_then(typed_digits)) {
        (Some(given), Some((digits, _))) if !at_point_ok && !f_undefined && g[x].is_finite() => {
            (chainrule::gradcheck::round_to_digits(g[x], digits) == given).then_some(digits)
        }
        _ => None,
    };
    let at_point_tolerance = at_point_tolerance || rounded.is_some();
    let at_point_ok = at_point_ok || rounded.is_some();
    // A number you gave that the tolerance (1e-7 relative) accepts but that
    // differs from the tape's by more than rounding (2.0000001 for d(x²)/dx
    // at 1): "right" is then right to within the tolerance, and says so, with
    // the difference (a digit slipped past the seventh passes).
    // A number within the tolerance that is the tape's rounded to the digits
    // typed (0.5403023 for cos 1) is said to agree to those digits instead.
    let rounded_within = match (number_given, number_text.as_deref().and_then(typed_digits)) {
        (Some(given), Some((digits, _))) if rounded.is_none() && g[x].is_finite() => {
            (chainrule::gradcheck::round_to_digits(g[x], digits) == given && given != g[x])
                .then_some(digits)
        }
        _ => None,
    };
    // Only past the tape's own rounding bound, though: 10 for the derivative
    // of 0.1·x added 100 times is right to every digit (100·fl(0.1) is
    // 10.00000000000000056), and the tape's 9.99999999999998, after 100
    // rounded sums, is the inexact one. Within that bound the two agree
    // within the tape's rounding (`rounding_apart`), and nothing is said of
    // your digits.
    let apart = match number_given {
        Some(given)
            if at_point_tolerance
                && rounded.is_none()
                && rounded_within.is_none()
                && g[x].is_finite()
                && (given - g[x]).abs() > 4.0 * f64::EPSILON * g[x].abs().max(given.abs()) =>
        {
            Some((
                (given - g[x]).abs() / g[x].abs().max(given.abs()),
                (given - g[x]).abs() > at_point_bound,
                (given - g[x]).abs(),
            ))
        }
        _ => None,
    };
    let loose = apart.and_then(|(relative, past, _)| past.then_some(relative));
    let rounding_apart =
        apart.and_then(|(relative, past, absolute)| (!past).then_some((relative, absolute)));
    // Your formula not finite where the tape's gradient is (exp(a)/(exp(a) +
    // exp(b)) at a = 1000 is inf/inf): it may be right and overflow in f64,
    // so it is not compared (as at the random points). A number you gave is.
    let yours_not_finite = yours_overflowed
        && special.is_none()
        && number_given.is_none()
        && !f_value.is_nan()
        && f_value.is_finite()
        && g[x].is_finite();
    // Not finite because it is not defined here (`ln(-x)` at 2: an op outside
    // its domain made a NaN of finite values), not because a value
    // overflowed: the advice to rewrite it to stay in range does not apply.
    let yours_undefined = yours_not_finite && formula::undefined_at(expect, &r.values);
    // A kink at the point (|x| at 0, max at a tie, …) on the way from x to the
    // output that can matter for ∂f/∂x: the tape's value is a convention there.
    // One-sided finite differences, refined, say whether ∂f/∂x exists: where it
    // does not (or it is not known), the learner's value is neither right nor
    // wrong at this point; where it does, it is held against their slope.
    let mut kink = if f_undefined || g[x].is_nan() {
        None
    } else {
        kink_between(&tape, x.index(), r.output.index())
    };
    // No op exactly at its switch point, yet f may have a corner or a jump
    // within rounding of the point: decimal inputs round (relu(3x − 0.3) at
    // x = 0.1 sees 3·0.1 − 0.3 = 5.6e-17, not 0), and atan2 jumps across its
    // branch cut. The refined one-sided slopes show it.
    let mut near = None;
    if kink.is_none()
        && !f_undefined
        && g[x].is_finite()
        && near_switch(&tape, x.index(), r.output.index())
    {
        // On atan2's cut the point is exactly at the jump, as at a kink, and
        // finer steps do not step past it: they refine as there.
        let on_cut = on_branch_cut(&tape, x.index(), r.output.index());
        let nature = one_sided(&loaded, &r, wrt, g.running_error_bound(), g[x], on_cut)?;
        if matches!(nature, OneSided::Jump { .. } | OneSided::Corner { .. }) {
            kink = Some(if on_cut { ON_CUT } else { NEAR_KINK });
            near = Some(nature);
        }
    }
    // A kink the first-order test let go (its operand's motion along x is 0
    // in f64) may still matter where that 0 is a cancellation (|1e16·x + x −
    // 1e16·x| at 0 is |x|): the tape's one-sided derivatives say, and where
    // they cannot (the operand's tangent within its rounding), the
    // differences do.
    if kink.is_none() && near.is_none() && !f_undefined && g[x].is_finite() {
        let (xi, out) = (x.index(), r.output.index());
        let from_x = depends_on(&tape, xi, out);
        // (Corner ops alone: a jump counts whenever its operand depends on x
        // at all, not by the first-order test.)
        let kinked = (xi..=out).any(|i| {
            from_x[i - xi]
                && chainrule::explain::kink_at(&tape, i).is_some()
                && corner_branch(tape.op(i), 0.0, 1.0, 1.0).is_some()
        });
        if kinked {
            match tape_sides(&tape, xi, out) {
                Some(sides) if sides.corner() => {
                    kink = Some(LOST_KINK);
                    near = Some(OneSided::Exact {
                        sides,
                        error: at_point_bound,
                    });
                }
                Some(_) => {}
                None => {
                    kink = Some(LOST_KINK);
                    near = Some(one_sided(
                        &loaded,
                        &r,
                        wrt,
                        g.running_error_bound(),
                        g[x],
                        true,
                    )?);
                }
            }
        }
    }
    let at_kink = kink.map(|note| {
        let nature = match near.take() {
            Some(nature) => nature,
            // Every kink on the way a corner (no jump): the one-sided
            // derivatives from the tape, exact, before any difference.
            None => match tape_sides(&tape, x.index(), r.output.index()) {
                Some(sides) => OneSided::Exact {
                    sides,
                    error: at_point_bound,
                },
                None => one_sided(&loaded, &r, wrt, g.running_error_bound(), g[x], true)?,
            },
        };
        Ok::<_, Failure>((note, nature))
    });
    let at_kink = at_kink.transpose()?;
    let kink_slope = at_kink.as_ref().and_then(|(_, nature)| nature.slope());
    let exact_sides = at_kink
        .as_ref()
        .is_some_and(|(_, nature)| matches!(nature, OneSided::Exact { .. }));
    let exact_smooth = at_kink.as_ref().is_some_and(
        |(_, nature)| matches!(nature, OneSided::Exact { sides, .. } if sides.gap_bound == 0.0),
    );
    // The slopes agree only to within f's rounding (|x| + 1e15·x at 0: 1e15 ∓ 1,
    // a gap below rounding): a corner that small would look the same.
    let rounding_gap = at_kink.as_ref().is_some_and(|(_, nature)| {
        matches!(
            nature,
            OneSided::Agree {
                rounding_gap: true,
                ..
            }
        )
    });
    let mut text = String::new();
    if f_undefined {
        text.push_str(&format!(
            "{lhs} at the point: f evaluates to {} here (not defined, not finite, or a value on its way overflowed f64 or rounded to 0 where a log or a quotient then needs it: ln(1 − σ(z)) at z = 40), so the tape has no derivative here to compare with (the tape's formulas give {}, yours is {})\n",
            number(f_value),
            number(g[x]),
            number(yours)
        ));
    } else if yours_not_finite {
        text.push_str(&format!(
            "{lhs} at the point: the tape has {}, yours evaluates to {} in f64{}, so the two are not compared here\n",
            number(g[x]),
            number(yours),
            if yours.is_finite() {
                ", but a value on its way was not finite (it overflowed, or is not defined here)"
            } else if yours_undefined {
                " (not defined here: a function on its way is outside its domain)"
            } else {
                " (not defined here, or a value on its way overflowed)"
            }
        ));
    } else if g[x].is_nan() {
        text.push_str(&format!(
            "{lhs} at the point: the tape has NaN, yours is {}\n",
            number(yours)
        ));
    } else {
        text.push_str(&format!(
            "{lhs} at the point: the tape has {}, yours is {}: {}\n",
            number(g[x]),
            number(yours),
            match (at_point_ok, rounded.or(rounded_within)) {
                (true, Some(digits)) => format!(
                    "they agree to the {digits} significant digits you wrote (yours is the \
                     tape's, rounded)"
                ),
                (true, None) => match loose {
                    Some(relative) => format!(
                        "they agree within the tolerance, {:e} relative (they differ by {relative:.1e} relative, more than rounding)",
                        tolerance.rtol
                    ),
                    None => match rounding_apart {
                        Some((relative, absolute)) => format!(
                            "they agree within the tape's own rounding (they differ by \
                             {absolute:.1e} ({relative:.1e} relative), within its bound, \
                             ±{at_point_bound:.1e}: the tape's value may be the one that rounded)"
                        ),
                        None => "they agree".to_string(),
                    },
                },
                // At a kink the verdict is the one-sided slopes' (below): the
                // tape's value is a convention, and differing from it says
                // nothing.
                (false, _) if at_kink.is_some() => "they differ".to_string(),
                (false, _) => "MISMATCH".to_string(),
            } + match at_kink.as_ref().map(|(note, _)| *note) {
                Some(NEAR_KINK | ON_CUT) => {
                    ", but here the tape's value is the slope on one side of a switch point: the \
                     verdict is the one-sided slopes' (below)"
                }
                Some(_) => {
                    ", but at a kink the tape's value is a convention: the verdict is the \
                     one-sided slopes' (below)"
                }
                None => "",
            }
        ));
    }
    if !f_undefined && !yours_not_finite && at_point_ok && !at_point_tolerance {
        if at_point_bound.is_infinite() {
            text.push_str(
                "  (but the tape's own value may be off by any amount here: a value on its way \
                 underflowed (x³ at 1e-120 is 0 in f64), and the derivative is sensitive \
                 without bound to it, so the two cannot be told apart)\n",
            );
        } else {
            text.push_str(&format!(
                "  (they agree only within the tape's own rounding and your formula's, \
             ±{at_point_bound:.3e}: f's formulas, the sweep's sums or your formula cancel \
             terms much larger than their result, or a value on the way underflowed, so the \
             values may be off by up to that much here (a worst-case bound), and the two \
             cannot be told apart)\n"
            ));
        }
    }
    // An infinite gradient that f64's range made, not f's slope: √(x² + y²)
    // at 1e-200, where x² underflows to 0 and √′(0) = ∞ (f's slope is 1/√2).
    let limit = if !f_undefined && g[x].is_infinite() && at_kink.is_none() {
        f64_limit_on_path(&tape, x.index(), r.output.index()).or_else(|| {
            // Every local partial on the paths from x finite, the gradient
            // infinite: the sweep's products (or sums) of finite numbers
            // passed f64's largest (exp(x/100) at x = 70,900 recorded as
            // exp(10·(x/1000)): 8.2e307 × 10 before × 0.001), where the
            // derivative, a finite product of finite factors, is finite.
            partials_finite_on_paths(&tape, x.index(), r.output.index()).then(|| {
                "the sweep's products of finite local partials (every one on the paths from the variable is finite) overflowed f64".to_string()
            })
        })
    } else {
        None
    };
    // Yours against the slope, allowing for the slope's own error: `None` where
    // f is differentiable but the slope is too uncertain to tell.
    let slope_ok = kink_slope.and_then(|(slope, error)| judge(yours, slope, error));
    let mut rows = vec![json!({
        "point": r.variables.iter().filter_map(|(n, _)| Some((n.clone(), json!(r.values.get(n)?)))).collect::<serde_json::Map<_, _>>(),
        "tape": jnum(g[x]), "expected": jnum(yours),
        // Set below, once the verdict at the point is known.
        "passed": false,
    })];
    let point_comparison =
        (!f_undefined && !at_point_ok && !yours_not_finite && limit.is_none() && kink.is_none())
            .then(|| g.compare_with(&[(x, yours)], tolerance));
    // The slip named at the point (a sum of the paths with some counted
    // twice, missing or of the wrong sign, or a factor left out), to be held against the random
    // points: a slip that does not explain yours there too may be a
    // coincidence of the point's values (x = 0.5 makes cos(xy) = 2x·cos(xy)).
    let point_diagnosis = point_comparison
        .as_ref()
        .and_then(|c| c.diagnoses().first())
        .cloned();
    let slips: Vec<Slip> = point_diagnosis.as_ref().map_or_else(Vec::new, slips_of);
    // Whether each slip named at the point explains your value at every
    // random point checked so far.
    let mut slips_hold = vec![true; slips.len()];
    // The point named no slip (two factors of one value fit equally, `(3x)²`
    // at x = 0.5, or none does): the slips named at every random point, with
    // the first such point's diagnosis and values.
    let point_names_none = point_diagnosis
        .as_ref()
        .is_some_and(|d| matches!(d.finding, Finding::NoMatch { searched } if searched > 0));
    let mut found_elsewhere: Option<(Vec<Slip>, Diagnosis, Vec<String>)> = None;
    // Where the tape's ∂ is NaN the verdict is neither right nor wrong: the
    // comparison's table (FAIL) and its "mismatch" heading would say yours is
    // wrong, so what the tape's value is made of is said alone.
    let mut diagnosis = point_comparison.map(|c| {
        // The library's comparison passes a value within the tape's
        // worst-case rounding bound, which counts every op; the check's own
        // bound counts only the ops that round here, and found more than it
        // allows (`x^3 - 3*x` at 1 against 1e-16: the tape's 0 is exact). Its
        // table's "pass" beside "MISMATCH" and "wrong" said both.
        if let Some(bound) = c
            .checks
            .first()
            .filter(|row| row.passed)
            .and_then(|row| row.tape_rounding)
        {
            return format!(
                "{lhs}: yours differs from the tape's by {:.3e}, more than the rounding of \
                 either side can make here ({}), so no rounding explains it (a worst-case \
                 bound that counts every op, Gradients::rounding_bound, ±{bound:.3e}, would \
                 not have told them apart)\n",
                (yours - g[x]).abs(),
                if at_point_bound == 0.0 {
                    "none: every value on the way to either is exact".to_string()
                } else {
                    format!("±{at_point_bound:.3e}")
                }
            );
        }
        if !g[x].is_nan() {
            return c.to_string();
        }
        c.mismatches
            .iter()
            .zip(c.diagnoses())
            .map(|((_, explanation), d)| {
                format!("{d}the tape's value, path by path:\n{explanation}")
            })
            .collect::<String>()
    });
    let mut slip_elsewhere: Option<String> = None;
    // A number written with few digits (copied from a hand computation,
    // `-0.6282` for cos(2.25)) names no slip at the tolerance; at half a unit
    // in its last digit it may, which is said as such. The digits are the
    // typed ones: the library, given the f64, counts `-1.8800` as 3 digits
    // (−1.88) and may call it the tape's rounded, which to 5 it is not.
    let mut searched_again = false;
    // The point's comparison made again at another tolerance, if it names a
    // slip there.
    let naming_a_slip = |value: f64, tolerance: Tolerance| {
        let there = g.compare_with(&[(x, value)], tolerance);
        there
            .diagnoses()
            .first()
            .is_some_and(|d| !slips_of(d).is_empty())
            .then_some(there)
    };
    if let (Some(given), Some((digits, half_unit))) =
        (number_given, number_text.as_deref().and_then(typed_digits))
    {
        let library_rounded = point_diagnosis
            .as_ref()
            .is_some_and(|d| matches!(d.finding, Finding::Rounded { .. }));
        if library_rounded && rounded.is_none() {
            diagnosis = Some(format!(
                "your value, {digits} significant digits as you typed it, is not the tape's {} rounded to them ({:.*e}): no slip is named\n",
                number(g[x]),
                (digits - 1) as usize,
                g[x]
            ));
        }
        if point_names_none || library_rounded && rounded.is_none() {
            let to_digits = Tolerance {
                atol: half_unit + 4.0 * f64::EPSILON * given.abs(),
                rtol: 0.0,
            };
            if let Some(there) = naming_a_slip(given, to_digits) {
                // The whole comparison at that tolerance: its paths are the
                // ones its explanation lists.
                diagnosis = Some(format!(
                    "to the {digits} significant digits you wrote (within ±{half_unit:e}):\n{there}"
                ));
                searched_again = true;
            }
        }
    }
    // The tape's own value, and its paths', may be off past the tolerance
    // here (f's formulas or the sweep's sum cancel: ln(1 − σ(z)) at z = 25 is
    // off by 4e-6): a slip of yours against the exact paths misses the tape's
    // by as much, and "no sum of the paths" would not be known. Searched
    // again allowing twice that (a path may be counted twice), and said as
    // such; where the bound is past an eighth of the tape's value, its paths
    // are too uncertain to name a slip by, and that is said instead.
    let tape_bound = at_point_bound + g.rounding_bound(x);
    // (The comparison's tolerance is relative to your value.)
    if point_names_none && !searched_again && tape_bound > tolerance.rtol * yours.abs() {
        if tape_bound <= g[x].abs() / 8.0 {
            let allowing = Tolerance {
                atol: 2.0 * tape_bound,
                rtol: tolerance.rtol,
            };
            if let Some(there) = naming_a_slip(yours, allowing) {
                diagnosis = Some(format!(
                    "allowing for the tape's own rounding here (its value and its paths' may be off by up to ±{tape_bound:.1e}: f's formulas or the sweep's sum cancel, or a value on the way underflowed), within ±{:.1e}:\n{there}",
                    2.0 * tape_bound
                ));
                searched_again = true;
            }
        }
        if !searched_again {
            if let Some(text) = diagnosis.as_mut() {
                text.push_str(&format!(
                    "note: the tape's value and its paths' may be off by up to ±{tape_bound:.1e} here (f's formulas or the sweep's sum cancel, or a value on the way underflowed), more than the tolerance: the search above held your value to the tolerance, so a slip within that much of them is not ruled out\n"
                ));
            }
        }
    }
    // A node that uses x more than once (x·x, x/x) is one edge of the paths,
    // its factor the sum of the uses' partials, so the half of the product
    // rule a learner forgets is no sum of the paths: said where yours is the
    // tape's less one use's term.
    // Held against the random points as a slip named at the point is: one
    // that fits there by coincidence (`2.25/x` for d(x·x)/dx at 1.5) is not
    // said.
    let use_note = (point_names_none && !searched_again && diagnosis.is_some())
        .then(|| one_use_left_out(&tape, &g, x, r.output, yours, tolerance))
        .flatten();
    let mut use_holds = true;

    // At random points near it.
    let mut checked = 0;
    let mut tries = 0;
    // Points drawn but not used, by the first reason: f, the tape's gradient,
    // or your derivative not finite there.
    let mut unusable = [0usize; 4];
    // Of the points drawn, how many your derivative is not defined at (a NaN
    // from an op outside its domain, `formula::undefined_at`).
    let mut undefined_near = 0usize;
    // The spread of the next point drawn, as a fraction of the first (halved
    // each time a draw takes another branch of a kink op than the point), and
    // how many draws were made again for that.
    let mut spread = 1.0f64;
    let mut redrawn = 0usize;
    let point_branches = branches(&tape);
    let mut inconclusive = 0usize;
    let mut failed_elsewhere = 0;
    // Set when the random points moved the variable of the derivative alone:
    // the points drawn and unusable before, with every variable moved.
    let mut moved_alone: Option<(usize, [usize; 4])> = None;
    if number_given.is_none() && special.is_none() {
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
        loop {
            if checked >= points {
                break;
            }
            if tries >= points * 10 {
                // No point with every variable moved could be checked (`x^n`
                // at x = −1 is NaN for every n near 2 but 2): move the variable
                // of the derivative alone, the others held at the point's
                // values, before giving up.
                if checked == 0 && moved_alone.is_none() && r.variables.len() > 1 {
                    moved_alone = Some((tries, unusable));
                    tries = 0;
                    unusable = [0; 4];
                    continue;
                }
                break;
            }
            tries += 1;
            let mut at = HashMap::new();
            for (name, v) in &r.variables {
                let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
                let base = v.value();
                let moved = (moved_alone.is_none() || name == wrt) && !hold.contains(name);
                at.insert(
                    name.clone(),
                    if moved {
                        base + (2.0 * u - 1.0) * 0.5 * spread * base.abs().max(0.5)
                    } else {
                        base
                    },
                );
            }
            let t = Tape::new();
            let ri = record(&loaded, &t, &at)?;
            let xi = find(&ri, wrt)?;
            let gi = ri.output.backward();
            let (yours_i, overflowed_i) = expect_at(&ri.values)?;
            let mut reason = if !ri.output.value().is_finite() {
                Some(0)
            } else if !gi[xi].is_finite() {
                Some(1)
            } else if !yours_i.is_finite() || overflowed_i {
                Some(2)
            } else {
                None
            };
            // A point where a relu, abs, max, min or clamp on the way takes
            // another branch than at the given point is no test of a formula
            // derived for the point's branch (backprop through a relu unit
            // that is on: (ŷ − y)·v·x, right while it is on, was "wrong" at a
            // point where it is off): drawn again, nearer, down to 1/4096 of
            // the spread.
            if reason.is_none() && !same_branches(&point_branches, &t) {
                if spread > 1.0 / 4096.0 {
                    spread *= 0.5;
                    redrawn += 1;
                    continue;
                }
                reason = Some(3);
            }
            if reason.is_none() {
                spread = 1.0;
            }
            if reason == Some(2) && formula::undefined_at(expect, &ri.values) {
                undefined_near += 1;
            }
            if let Some(k) = reason {
                unusable[k] += 1;
                continue;
            }
            checked += 1;
            let bound =
                forward_rounding(&loaded, &at, wrt, gi[xi])? + yours_rounding(&ri.values, yours_i);
            if use_note.is_some() && use_holds {
                use_holds = one_use_left_out(&t, &gi, xi, ri.output, yours_i, tolerance).is_some();
            }
            let strict = confirms(tolerance, yours_i, gi[xi], bound);
            // Within the tape's own rounding only: neither agreeing nor not.
            let rounding_only = !strict && within_rounding(yours_i, gi[xi], bound);
            inconclusive += usize::from(rounding_only);
            let ok = strict || rounding_only;
            rows.push(json!({
                "point": ri.variables.iter().map(|(n, v)| (n.clone(), json!(v.value()))).collect::<serde_json::Map<_, _>>(),
                "tape": jnum(gi[xi]), "expected": jnum(yours_i), "passed": strict,
                "within_tape_rounding_only": rounding_only,
                "decided": !rounding_only,
            }));
            if !ok {
                failed_elsewhere += 1;
                if !slips.is_empty() {
                    let there = gi.compare_with(&[(xi, yours_i)], tolerance);
                    let d = there.diagnoses().first();
                    for (slip, holds) in slips.iter().zip(&mut slips_hold) {
                        *holds &= d.is_some_and(|d| slip.explains(d));
                    }
                    if slips.len() == 1 && !slips_hold[0] && slip_elsewhere.is_none() {
                        let point: Vec<String> = ri
                            .variables
                            .iter()
                            .map(|(n, v)| format!("{n}={}", v.value()))
                            .collect();
                        let first = there
                            .diagnoses()
                            .first()
                            .map(|d| d.to_string())
                            .unwrap_or_default();
                        slip_elsewhere = Some(format!(
                            "(at the random point {}, that slip does not explain your value: {}; the slip named at the point may be a coincidence of its values, and the mistake another)\n",
                            point.join(","),
                            first
                                .lines()
                                .next()
                                .unwrap_or_default()
                                .split("; the tape's value")
                                .next()
                                .unwrap_or_default()
                                .trim_end_matches([':', ';'])
                        ));
                    }
                } else if point_names_none {
                    // Named nothing at the point: what each random point names.
                    let there = gi.compare_with(&[(xi, yours_i)], tolerance);
                    if let Some(d) = there.diagnoses().first() {
                        let here = slips_of(d);
                        let common = found_elsewhere.get_or_insert_with(|| {
                            (
                                here.clone(),
                                d.clone(),
                                ri.variables
                                    .iter()
                                    .map(|(n, v)| format!("{n}={}", v.value()))
                                    .collect(),
                            )
                        });
                        common.0.retain(|s| here.contains(s));
                    }
                }
                if diagnosis.is_none() {
                    let point: Vec<String> = ri
                        .variables
                        .iter()
                        .map(|(n, v)| format!("{n}={}", v.value()))
                        .collect();
                    diagnosis = Some(format!(
                        "at {}:\n{}{}",
                        point.join(","),
                        gi.compare_with(&[(xi, yours_i)], tolerance),
                        units_off_note(&t, xi.index(), ri.output.index(), gi[xi], yours_i)
                    ));
                }
            }
        }
        if let Some((drawn, unusable)) = moved_alone {
            text.push_str(&random_points_summary(points, 0, 0, drawn, unusable));
            let held: Vec<String> = r
                .variables
                .iter()
                .filter(|(n, _)| n != wrt)
                .map(|(n, v)| format!("{n} = {}", v.value()))
                .collect();
            text.push_str(&format!(
                "so {wrt} alone was moved, {} held at the point's value{}:\n",
                held.join(", "),
                if held.len() == 1 { "" } else { "s" }
            ));
        }
        text.push_str(&random_points_summary(
            points,
            checked,
            checked - failed_elsewhere,
            tries,
            unusable,
        ));
        if redrawn > 0 && checked > 0 {
            text.push_str(&format!(
                "  (the random points are kept on the point's side of every relu, abs, max, min and clamp on the way: {redrawn} {} crossed one and {} drawn again nearer)\n",
                if redrawn == 1 { "draw" } else { "draws" },
                if redrawn == 1 { "was" } else { "were" }
            ));
        }
        if !hold.is_empty() {
            text.push_str(&format!(
                "  (held at the point's values: {})\n",
                hold.join(", ")
            ));
        }
        // Several slips named at the point: the random points may tell them
        // apart (`3*x^2` for ∂(x³ + 3x)/∂x at x = 1 leaves out 3x² or 3, equal
        // there; elsewhere only 3 is left out).
        if slips.len() > 1 && checked > 0 && failed_elsewhere == checked {
            let held: Vec<&Slip> = slips
                .iter()
                .zip(&slips_hold)
                .filter(|(_, &h)| h)
                .map(|(s, _)| s)
                .collect();
            if let (Some(base), [slip]) = (&point_diagnosis, held.as_slice()) {
                slip_elsewhere = Some(format!(
                    "({} near it, only one of those slips explains your value: {})\n",
                    at_each(checked),
                    slip.sentence(base)
                ));
            } else if held.is_empty() {
                slip_elsewhere = Some(format!(
                    "(at the {checked} random {} near it, none of those slips explains your value each time: they may be coincidences of the point's values, and the mistake another)\n",
                    if checked == 1 { "point" } else { "points" },
                ));
            }
        }
        if let Some((common, first, at)) = &found_elsewhere {
            if let ([slip], true) = (common.as_slice(), failed_elsewhere == checked) {
                slip_elsewhere = Some(format!(
                    "({} near it, one slip explains your value: {}{}, {})\n",
                    at_each(checked),
                    if checked == 1 { "" } else { "at the first, " },
                    at.join(","),
                    slip.sentence(first)
                ));
            }
        }
        if let (Some(note), Some(d)) = (&slip_elsewhere, &mut diagnosis) {
            d.push_str(note);
        }
        if inconclusive > 0 {
            text.push_str(&format!(
                "  (at {inconclusive} of them yours agrees with the tape only within the tape's own rounding: inconclusive there)\n"
            ));
        }
    } else {
        text.push_str("(your derivative is a number: it is checked at the point only; give a formula to check it everywhere)\n");
    }
    let note_of_kink: &str = at_kink.as_ref().map_or("", |(note, _)| *note);
    if let Some((note, nature)) = &at_kink {
        let convention = number(g[x]);
        // The note is about the op (|·|′(0) does not exist), not about ∂f/∂x.
        let note = note.trim_end_matches("; the derivative does not exist here");
        if g[x].is_infinite() {
            // relu(x) + 3·sqrt(x) at 0: the infinity is sqrt′(0)'s, not the
            // kink's (a convention is a finite partial).
            text.push_str(&format!(
                "at the point the tape passes a kink ({note}), and its {lhs} is {convention}: that infinity is no convention, it comes from an infinite partial on a path from {wrt} (f's slope there looks unbounded), and the kink's finite convention does not change it{}; {}\n",
                if kink_slope.is_some() {
                    ""
                } else {
                    "; with the kink also there, only the one-sided finite differences could decide"
                },
                nature_text(nature, note_of_kink, yours, g[x], &lhs, wrt)
            ));
        } else {
            // Near a switch point, or on atan2's cut, the tape's value is
            // the slope on one side, not a convention.
            let what = if matches!(note_of_kink, NEAR_KINK | ON_CUT) {
                "the slope on one side"
            } else {
                "a convention"
            };
            text.push_str(&format!(
                "at the point the tape passes a kink ({note}): its {convention} is {what}{}; {}\n",
                match (kink_slope.is_some(), at_point_ok) {
                    (true, _) => "",
                    (false, true) => ", which yours matches",
                    (false, false) => ", not a value yours must match",
                },
                nature_text(nature, note_of_kink, yours, g[x], &lhs, wrt)
            ));
        }
    }
    // A NaN from the tape at the point (0 · ∞ on a path: sqrt(x⁴) at 0, or
    // sqrt(x) at −4) is no number a derivation can match, so it refutes
    // nothing, and confirms nothing, whatever yours is (NaN too).
    let tape_nan = !f_undefined && g[x].is_nan();
    if tape_nan {
        text.push_str(&format!(
            "at the point the tape's {lhs} is NaN: no value, yours included, can be confirmed or refuted against it\n"
        ));
    }
    // An infinite one (sqrt(x) at 0): f's slope there is unbounded (or beyond
    // f64), so f has no finite derivative there. Yours being the same infinity
    // agrees, but confirms no derivative: neither right nor wrong, as at a kink.
    // Any other value of yours is wrong there.
    let tape_inf = !f_undefined && g[x].is_infinite() && at_kink.is_none() && limit.is_none();
    if let Some(why) = &limit {
        text.push_str(&format!(
            "at the point the tape's {lhs} is {}, but on its way {why}: that infinity may be f64's range rather than f's slope, so nothing is confirmed or refuted here\n",
            number(g[x])
        ));
    }
    if tape_inf {
        let inf = number(g[x]);
        text.push_str(&if at_point_ok {
            format!(
                "at the point the tape's {lhs} is {inf}, as yours: f's slope there is unbounded (or too large for f64), so f has no finite derivative there to confirm\n"
            )
        } else {
            format!(
                "at the point the tape's {lhs} is {inf}: f's slope there is unbounded (or too large for f64), so no finite value is its derivative there, and only {inf} agrees\n"
            )
        });
    }
    // At the point: confirmed (Some(true)), refuted (Some(false)), or neither.
    let at_point: Option<bool> = if f_undefined || tape_nan || limit.is_some() || yours_not_finite {
        None
    } else if at_kink.is_some() {
        slope_ok
    } else if tape_inf {
        (!at_point_ok).then_some(false)
    } else if at_point_ok && !at_point_tolerance {
        // Within the tape's own rounding only: the two cannot be told apart.
        None
    } else {
        Some(at_point_ok)
    };
    let rounding_only = !f_undefined
        && !tape_nan
        && limit.is_none()
        && !yours_not_finite
        && at_kink.is_none()
        && !tape_inf
        && at_point.is_none()
        || inconclusive > 0;
    // The random points that agree with the tape beyond its rounding.
    let agreed = checked - failed_elsewhere - inconclusive;
    // "1 random point", "2 random points".
    let pts = if agreed == 1 { "point" } else { "points" };
    // At the point yours agrees with the tape within its rounding only, where
    // the derivative is 0 up to rounding (sin(x)·cos(x) at π/4: the tape has
    // 1.1e-16, cos 2x is 6.1e-17), but your formula is confirmed at every
    // random point asked: right, as far as f64 can tell at the point.
    let point_within_rounding = !f_undefined
        && !tape_nan
        && limit.is_none()
        && !yours_not_finite
        && at_kink.is_none()
        && !tape_inf
        && at_point.is_none()
        && at_point_ok;
    // (Not where a value on the way underflowed: there the point's rounding
    // is no cancellation but f64's range, and points near it need not share
    // it: at x = 1e-160, y = 6.9e-164, x·y is stored 28% low, and the random
    // points, at x, y ~ 0.3, cannot see an error of 2.7e-187.)
    let near_confirms = point_within_rounding
        && number_given.is_none()
        && special.is_none()
        && points > 0
        && agreed == points
        && f64_limit_on_path(&tape, x.index(), r.output.index()).is_none();
    // Random points where the two agree only within their rounding refute
    // nothing: confirmed at the point and at another point near it, yours is
    // right (exp(−x²/2) at 30, where a point at 38 is −7.4e-315, subnormal).
    // A formula that no random point could test (f, the tape's gradient or
    // yours not finite at every point drawn: `x^n` at x = −1 is NaN for every
    // n near 2 but 2) is held at the point alone, where a wrong formula can
    // agree by coincidence (`n*x^(n+1)` at x = −1, n = 2): not confirmed.
    let untested = number_given.is_none() && special.is_none() && points > 0 && checked == 0;
    let all_ok = (at_point == Some(true) && (inconclusive == 0 || agreed > 0) || near_confirms)
        && failed_elsewhere == 0
        && !untested;
    // The point's row passes only where the point confirms yours (not where
    // it agrees but confirms nothing: an infinity, a kink, the tape's rounding).
    rows[0]["passed"] = json!(at_point == Some(true));
    // Whether the point decides anything: not at a kink without a slope to
    // hold yours against, nor within the tape's rounding only, nor where
    // something is not finite (the text's "cannot be confirmed").
    rows[0]["decided"] = json!(at_point.is_some());
    // Your derivative not defined at the point, and at none of the points
    // near it where f and the tape's gradient are (`ln(-x)` for ∂ ln x/∂x at
    // 2): wrong, where f has a derivative, not "cannot be confirmed".
    let undefined_everywhere = yours_undefined
        && checked == 0
        && undefined_near > 0
        && undefined_near == unusable[2] + moved_alone.map_or(0, |(_, u)| u[2]);
    let wrong = failed_elsewhere > 0 || at_point == Some(false) || undefined_everywhere;
    let verdict = if all_ok {
        "right"
    } else if wrong {
        "wrong"
    } else if untested && at_point == Some(true) {
        "cannot be confirmed where no random point near it could be checked"
    } else if f_undefined {
        "cannot be confirmed where f is not defined or not finite"
    } else if tape_nan {
        "cannot be confirmed where the tape's gradient is NaN"
    } else if limit.is_some() {
        "cannot be confirmed where f64 overflows or underflows"
    } else if yours_not_finite {
        "cannot be confirmed where your derivative is not finite"
    } else if at_kink.is_some() {
        "cannot be confirmed at a kink"
    } else if rounding_only {
        "cannot be confirmed within the tape's own rounding"
    } else {
        "cannot be confirmed where the tape's gradient is infinite"
    };
    // What to do where the point decides nothing: a number can be given as a
    // formula, which the random points test; a formula already was.
    let advice = if number_given.is_some() || special.is_some() {
        "give it as a formula (checked near the point), or pick another point"
    } else {
        "pick another point"
    };
    // How far "right" goes, as the text's last line says it (`None` unless
    // right).
    let right_as = all_ok.then(|| {
        if at_kink.is_some() || exact_sides {
            "at_a_kink"
        } else if near_confirms {
            "at_the_random_points"
        } else if moved_alone.is_some() {
            "along_wrt_only"
        } else if points == 0 && number_given.is_none() && special.is_none() {
            "at_the_point_only"
        } else if number_given.is_some() || special.is_some() {
            if loose.is_some() {
                "number_within_tolerance"
            } else {
                "number_at_the_point"
            }
        } else if loose.is_some() {
            "within_tolerance"
        } else {
            "right"
        }
    });
    if outputs.json {
        let mut j = report_json(&r, &g);
        j["check"] = json!({
            "wrt": wrt, "expect": expect, "passed": all_ok, "verdict": verdict, "rows": rows,
            "right_as": right_as,
            "diagnosis": diagnosis.as_ref().map(|d| match (&use_note, use_holds) {
                (Some(note), true) => format!("{d}{note}"),
                _ => d.clone(),
            }),
            "random_points_move": if points == 0 || number_given.is_some() || special.is_some() { json!("none") } else if moved_alone.is_some() { json!(wrt) } else if hold.is_empty() { json!("all") } else { json!(r.variables.iter().map(|(n, _)| n.as_str()).filter(|n| !hold.iter().any(|h| h == n)).collect::<Vec<_>>()) },
            "kink": at_kink.as_ref().map(|(note, nature)| json!({
                // The note is about the op, as in the text.
                "note": note.trim_end_matches("; the derivative does not exist here"),
                "tape": g[x],
                "derivative": nature.kind(),
                "slope": nature.slope().map(|(slope, _)| jnum(slope)),
                "slope_error": nature.slope().map(|(_, error)| jnum(error)),
                "text": nature_text(nature, note_of_kink, yours, g[x], &lhs, wrt),
            })),
        });
        sayln!("{}", pretty(&j));
    } else {
        say!("{text}");
        if let Some(d) = &diagnosis {
            say!("\n");
            say!("{d}");
            if let (Some(note), true) = (&use_note, use_holds) {
                say!("{note}");
            }
        }
        say!("\n");
        sayln!(
            "{}",
            if all_ok && exact_sides && !exact_smooth {
                format!("your {lhs} is right to the check's tolerance (at the point: the one-sided derivatives through the kinks' branches agree to within rounding, and yours is within 1e-7 of them, allowing for it; f is differentiable here or has a corner smaller than that rounding; the tape's value there is a kink's convention).")
            } else if all_ok && exact_sides {
                format!("your {lhs} is right (at the point: the one-sided derivatives through the kinks' branches agree, and yours is within 1e-7 of them; the tape's value there is a kink's convention).")
            } else if all_ok && at_kink.is_some() && rounding_gap {
                format!("your {lhs} is right to the check's tolerance (at the point, within 1e-7 of the slopes from both sides, allowing for their error: f is differentiable here, or has a corner whose slopes differ by less than its rounding or the check's tolerance shows, which the differences cannot tell apart; the tape's value there is a kink's convention).")
            } else if all_ok && at_kink.is_some() {
                format!("your {lhs} is right (at the point, against the one-sided slopes' value, within its error plus 1e-7 of it, as far as finite differences show: the tape's value there is a kink's convention).")
            } else if all_ok && near_confirms {
                format!(
                    "your {lhs} is right (at the {agreed} random {pts} near this one; at the point itself it agrees with the tape within the tape's own rounding, ±{at_point_bound:.3e}, all that f64 can tell there)."
                )
            } else if all_ok && inconclusive > 0 {
                format!(
                    "your {lhs} is right (at the point and at {agreed} random {pts} near it; at {inconclusive} more it agrees with the tape only within their rounding, which refutes nothing)."
                )
            } else if all_ok && moved_alone.is_some() {
                format!(
                    "your {lhs} is right along {wrt}, the other variables at the point's values (with them moved too, no point near it could be checked)."
                )
            } else if all_ok && points == 0 && number_given.is_none() && special.is_none() {
                format!(
                    "your {lhs} is right at the point (no random point was asked for: --points 0 checks the point alone, where a wrong formula can agree by coincidence)."
                )
            } else if all_ok && loose.is_some() {
                format!(
                    "your {lhs} is right to within the tolerance, {:e} relative (not to all its digits).",
                    tolerance.rtol
                )
            } else if all_ok {
                format!("your {lhs} is right.")
            } else if undefined_everywhere {
                format!(
                    "your {lhs} is wrong: it is not defined at this point (a function on its way is outside its domain: a NaN made of finite values, as ln of a negative number or asin(2)), nor at any of the {undefined_near} points near it where f and the tape's derivative are, while the tape's is {} here.",
                    number(g[x])
                )
            } else if wrong
                && at_point == Some(true)
                && failed_elsewhere > 0
                && hold.is_empty()
                && moved_alone.is_none()
                && r.variables.len() > 1
            {
                format!("your {lhs} is wrong: it agrees at the point, but not at {failed_elsewhere} of the random points near it, which move every variable (if it holds only for some variables' values at the point, data such as one-hot targets or a label, hold them there: --hold NAME,…).")
            } else if wrong {
                format!("your {lhs} is wrong.")
            } else if untested && at_point == Some(true) {
                // Why no point could be checked: every draw crossed a kink op
                // (the point is within 1/4096 of the spread of a switch
                // point), or something was not finite there.
                let advice = if unusable[3] > 0 && unusable[..3].iter().all(|&n| n == 0) {
                    "pick a point farther from the switch points of the relu, abs, max, min or clamp on the way"
                } else {
                    "pick a point where f, its derivative and yours are defined around it"
                };
                format!(
                    "your {lhs} agrees with the tape at the point, but cannot be confirmed: no random point near it could be checked, and a wrong formula can agree at one point by coincidence; {advice} (exit code 3)."
                )
            } else if let Some(why) = &limit {
                format!(
                    "your {lhs} cannot be confirmed here: the tape's is {} because on its way {why}, so f64 cannot show f's slope at this point; pick a point where the values stay in f64's range, or rescale f (exit code 3).",
                    number(g[x])
                )
            } else if yours_undefined && agreed > 0 {
                format!(
                    "your {lhs} agrees with the tape at {agreed} {pts} near this one, but is not defined at the point itself (a function on its way is outside its domain there: a NaN made of finite values), where the tape's is {}: it cannot be confirmed there (exit code 3).",
                    number(g[x])
                )
            } else if yours_not_finite && agreed > 0 {
                format!(
                    "your {lhs} agrees with the tape at {agreed} {pts} near this one, but evaluates to {} at the point itself (not defined there, or a value on its way overflowed or underflowed f64), where the tape's is {}: it cannot be confirmed there; rewrite it to stay in range (exp(a)/(exp(a) + exp(b)) as 1/(1 + exp(b - a))) (exit code 3).",
                    number(yours),
                    number(g[x])
                )
            } else if yours_undefined {
                format!(
                    "your {lhs} cannot be confirmed here: it is not defined at this point (a function on its way is outside its domain: a NaN made of finite values), where the tape's is {}, and no point near it could be checked; pick another point (exit code 3).",
                    number(g[x])
                )
            } else if yours_not_finite {
                format!(
                    "your {lhs} cannot be confirmed here: it evaluates to {} at this point (not defined there, or a value on its way overflowed or underflowed f64), where the tape's is {}; rewrite it to stay in range (exp(a)/(exp(a) + exp(b)) as 1/(1 + exp(b - a))), or pick another point (exit code 3).",
                    number(yours),
                    number(g[x])
                )
            } else if rounding_only && !f_undefined && !tape_nan && !tape_inf && at_kink.is_none() {
                format!(
                    "your {lhs} cannot be confirmed: it agrees with the tape only within the tape's own rounding and your formula's (where f's formulas, the sweep's sums or your formula cancel, or a value on the way underflows, the values may be off by that much), so the two cannot be told apart; check it at another point, or rewrite the formulas to avoid the cancellation (1 - cos(x) as 2*sin(x/2)^2, ln(1 + x) as log1p(x)) (exit code 3)."
                )
            } else if f_undefined && agreed > 0 {
                format!(
                    "your {lhs} agrees with the tape at {agreed} {pts} near this one, but cannot be confirmed at the point itself: f evaluates to {} there (not defined, not finite, or a value on its way overflowed f64 or rounded to 0 where a log or a quotient then needs it), so the tape has no derivative there to compare with (exit code 3).",
                    number(f_value)
                )
            } else if f_undefined {
                format!(
                    "your {lhs} cannot be confirmed here: f evaluates to {} at this point (not defined, not finite, or a value on its way overflowed f64 or rounded to 0 where a log or a quotient then needs it: ln(1 − σ(z)) at z = 40), so the tape has no derivative here to compare with; pick a point where f is defined and in range, or write f to stay in range (ln(1 − σ(z)) as logsigmoid(−z), ln(σ(z)) as logsigmoid(z)) (exit code 3).",
                    number(f_value)
                )
            } else if tape_inf && agreed > 0 {
                format!(
                    "your {lhs} agrees with the tape at {agreed} {pts} near this one, and is {} at the point itself, as the tape's; but f has no finite derivative there, so it cannot be confirmed there (exit code 3).",
                    number(g[x])
                )
            } else if tape_inf {
                format!(
                    "your {lhs} is {} at the point, as the tape's; but f has no finite derivative there, so it cannot be confirmed here: {} (exit code 3).",
                    number(g[x]),
                    advice
                )
            } else if tape_nan && agreed > 0 {
                format!(
                    "your {lhs} agrees with the tape at {agreed} {pts} near this one, but cannot be confirmed at the point itself: the tape's gradient there is NaN (exit code 3)."
                )
            } else if tape_nan {
                format!(
                    "your {lhs} cannot be confirmed here: the tape's gradient at this point is NaN; {advice} (exit code 3)."
                )
            } else if kink_slope.is_some() && agreed > 0 {
                format!(
                    "your {lhs} agrees with the tape at {agreed} {pts} near this one, but cannot be confirmed at the point itself: it is at a kink, and {} there is too uncertain to confirm or refute yours (exit code 3).",
                    if exact_sides { "the one-sided derivatives' value, within the rounding of the tape's sums," } else { "the finite-difference slope" }
                )
            } else if kink_slope.is_some() {
                format!(
                    "your {lhs} cannot be confirmed at this kink: the one-sided {} agree, but {} is too uncertain to confirm or refute yours; {advice} (exit code 3).",
                    if exact_sides { "derivatives through the kinks' branches" } else { "slopes" },
                    if exact_sides { "their value, within the rounding of the tape's sums," } else { "the finite-difference slope" }
                )
            } else if g[x].is_infinite() && agreed > 0 {
                format!(
                    "your {lhs} agrees with the tape at {agreed} {pts} near this one, but cannot be confirmed at the point itself: the tape's gradient there is infinite and it passes a kink, and the one-sided finite differences do not decide (exit code 3)."
                )
            } else if g[x].is_infinite() {
                format!(
                    "your {lhs} cannot be confirmed here: the tape's gradient is infinite and it passes a kink, and the one-sided finite differences do not decide; {advice} (exit code 3)."
                )
            } else if agreed > 0 {
                format!(
                    "your {lhs} agrees with the tape at {agreed} {pts} near this one, but cannot be confirmed at the point itself: it is at a kink (exit code 3)."
                )
            } else {
                format!(
                    "your {lhs} cannot be confirmed at a kink: {} (exit code 3).",
                    if number_given.is_some() || special.is_some() {
                        "give it as a formula (checked near the point), or pick a point where the function is differentiable"
                    } else {
                        "pick a point where the function is differentiable"
                    }
                )
            }
        );
    }
    drawings(&tape, &g, outputs, Some(x.index()))?;
    if all_ok {
        Ok(())
    } else {
        Err(Failure {
            message: String::new(),
            code: if wrong { 1 } else { 3 },
        })
    }
}

/// The line on the random points of `check`: `asked` points were asked for,
/// `drawn` drawn (at most 10 per point asked), `checked` used, `agree` of them
/// agreeing; `unusable` counts the points drawn but not used, by the first
/// reason: f, the tape's gradient, your derivative not finite there.
fn random_points_summary(
    asked: usize,
    checked: usize,
    agree: usize,
    drawn: usize,
    unusable: [usize; 4],
) -> String {
    if asked == 0 {
        return "no random points near it were asked for (--points 0)\n".to_string();
    }
    const WHAT: [&str; 4] = [
        "f",
        "the tape's gradient",
        "your derivative (or a value on its way)",
        "a relu, abs, max, min or clamp on the way takes another branch than at the point (drawn nearer and nearer, down to 1/4096 of the first spread)",
    ];
    let unused: usize = unusable.iter().sum();
    let reasons: Vec<(&str, usize)> = WHAT
        .iter()
        .zip(unusable)
        .filter(|&(_, n)| n > 0)
        .map(|(&w, n)| (w, n))
        .collect();
    // "your derivative is not finite there", or "f is not finite at 3 of
    // them, your derivative at 2".
    // (The branch reason is a sentence of its own, not "… is not finite".)
    let is = |what: &str| {
        if what == WHAT[3] {
            ""
        } else {
            " is not finite"
        }
    };
    let why = |all: &str| -> String {
        match reasons.as_slice() {
            [(what, _)] => format!("{what}{} {all}", is(what)),
            _ => reasons
                .iter()
                .enumerate()
                .map(|(k, (what, n))| {
                    if k == 0 {
                        format!("{what}{} at {n} of them", is(what))
                    } else {
                        format!("{what} at {n}")
                    }
                })
                .collect::<Vec<_>>()
                .join(", "),
        }
    };
    let point_s = |n: usize| if n == 1 { "point" } else { "points" };
    if checked == 0 {
        return format!(
            "at no random point near it: none of the {asked} asked could be checked; of the {drawn} {} drawn near it, {}\n",
            point_s(drawn),
            why(if drawn == 1 { "at it" } else { "at any of them" })
        );
    }
    let mut line = format!(
        "at {checked} random {} near it: {agree} agree",
        point_s(checked)
    );
    if checked < asked {
        line.push_str(&format!(
            " (only {checked} of the {asked} asked could be checked: of the {drawn} points drawn near it, {unused} could not, as {})",
            why("at those")
        ));
    } else if unused > 0 {
        line.push_str(&format!(
            " ({unused} more {} drawn could not be checked, as {})",
            point_s(unused),
            why("there")
        ));
    }
    line.push('\n');
    line
}

/// Whether a node from `x` to `output` is an op within rounding of its switch
/// point without being exactly on it: relu, abs, leaky_relu or signum whose
/// operand is within 16 ulps of the values it was computed from (3·0.1 − 0.3 =
/// 5.6e-17 against 0.3), max or min of two nodes within 16 ulps of each other,
/// atan2(y, x) with x < 0 and y within 16 ulps of its inputs (or 0: its branch
/// cut, which [`on_branch_cut`] tells apart). A leaf operand is exact: only 0
/// counts, which `kink_between` already sees. Only then are the one-sided
/// slopes asked for a corner or jump at a point where no op is exactly at its
/// switch point (asked everywhere, coarse steps straddling a switch point 1e-4
/// away read as a corner).
fn near_switch(tape: &Tape, x: usize, output: usize) -> bool {
    use chainrule::Op;
    let close = |v: f64, scale: f64| v.abs() <= 16.0 * f64::EPSILON * scale;
    // The size of the values node `o` was computed from (0 for a leaf).
    let scale = |o: usize| {
        tape.edges(o)
            .iter()
            .map(|&(k, _)| tape.value(k).abs())
            .fold(0.0, f64::max)
    };
    (x..=output).any(|i| {
        let edges = tape.edges(i);
        match tape.op(i) {
            Op::Relu | Op::Abs | Op::LeakyRelu | Op::Signum => {
                edges.first().is_some_and(|&(o, _)| {
                    let v = tape.value(o);
                    v != 0.0 && close(v, scale(o))
                })
            }
            Op::Max | Op::Min => match edges.as_slice() {
                [(a, _), (b, _), ..] => {
                    let (va, vb) = (tape.value(*a), tape.value(*b));
                    va != vb && close(va - vb, va.abs().max(vb.abs()))
                }
                _ => false,
            },
            Op::Atan2 => match edges.as_slice() {
                [(y, _), (xx, _), ..] => {
                    let vy = tape.value(*y);
                    tape.value(*xx) < 0.0 && (vy == 0.0 || close(vy, scale(*y)))
                }
                _ => false,
            },
            _ => false,
        }
    })
}

/// Whether a node from `x` to `output` is atan2(y, x) exactly on its branch
/// cut, y = ±0 and x < 0, and no other node is [`near_switch`]: there the
/// jump the one-sided slopes see is atan2's at the point itself, not one
/// within rounding of it ([`ON_CUT`], not [`NEAR_KINK`]).
fn on_branch_cut(tape: &Tape, x: usize, output: usize) -> bool {
    use chainrule::Op;
    let mut cut = false;
    for i in x..=output {
        if tape.op(i) != Op::Atan2 {
            continue;
        }
        if let [(y, _), (xx, _), ..] = tape.edges(i).as_slice() {
            if tape.value(*xx) < 0.0 && tape.value(*y) == 0.0 {
                cut = true;
            } else if near_switch(tape, i, i) {
                return false;
            }
        }
    }
    cut && (x..=output)
        .filter(|&i| tape.op(i) != Op::Atan2)
        .all(|i| !near_switch(tape, i, i))
}

/// The note where atan2 is exactly on its branch cut and the one-sided slopes
/// show the jump across it.
const ON_CUT: &str = "atan2(y, x) on its branch cut, y = 0 with x < 0, where it jumps between π and −π: the tape's value is the slope on the side the sign of y's 0 picks (+0: y > 0, atan2 = π; −0: y < 0, −π); the derivative does not exist here";

/// The note of a kink op at its switch point whose operand's motion along
/// the variable is 0 in f64 but may be a cancellation's rounding.
const LOST_KINK: &str = "a kink whose operand's motion along the variable is 0 in f64, by terms that cancel (the tape's first-order test counts it as not mattering); whether it matters is decided below";

/// The note where no op is exactly at its switch point but the one-sided
/// slopes show a corner or a jump at the point.
const NEAR_KINK: &str = "none exactly in f64, but the one-sided slopes show a corner or jump within rounding of the point: a switch point missed by a rounding error, as 3·0.1 − 0.3 = 5.6e-17 for relu(3x − 0.3) at 0.1, or a branch cut, as atan2's across y = 0 for x < 0; the tape's value is the slope on whichever side rounding put the point; the derivative does not exist here";

/// The note of the first kink on a path from node `x` up to node `output` that
/// can matter for ∂output/∂x (its operand moves with x and the output with it:
/// see [`chainrule::explain::kink_affecting`]), if any.
/// atan2 on its branch cut, which the library counts for y's paths, is
/// written as [`ON_CUT`].
fn kink_between(tape: &Tape, x: usize, output: usize) -> Option<&'static str> {
    use chainrule::Op;
    chainrule::explain::kink_affecting(tape, x, output).map(|(node, note)| {
        if matches!(tape.op(node), Op::Atan2 | Op::Atan2Const) {
            ON_CUT
        } else {
            note
        }
    })
}

/// Whether `yours` is confirmed by the tape's `tape`, whose own error is at
/// most `bound`: every value the exact derivative can have is within the
/// relative tolerance of yours, |yours − tape| + bound ≤ rtol·|yours| (relative
/// to your value, as the table of points and the README say: relative to the
/// tape's, 2.0000002 against 2 was a mismatch in the headline and a pass in
/// the table); both exactly 0 only where nothing on the way rounded. Relative, with no absolute floor: a floor of 1e-12 passed a sign slip
/// in ∂e⁻ˣ/∂x at 60 (±8.8e-27). And where the tape's value may be off by more
/// than the tolerance allows, agreeing with it confirms nothing
/// (`sqrt(1 - cos(x))` at 1e-7: the tape's ∂f/∂x is 0.70739 against 0.70711
/// exactly, from the cancellation in 1 − cos x, and a value of yours that
/// agrees with the tape is 4e-4 off).
fn confirms(tolerance: Tolerance, yours: f64, tape: f64, bound: f64) -> bool {
    if yours.is_infinite() || tape.is_infinite() {
        return yours == tape;
    }
    let off = (yours - tape).abs();
    // (An exact 0 is bounded by 0: `rounding_of` counts only ops that round.)
    off + bound <= tolerance.rtol * yours.abs()
}

/// Which of the nodes `x..=output` (by `index − x`) depend on `x`: `x`
/// itself and every node with an operand that does, in one pass up.
fn depends_on(tape: &Tape, x: usize, output: usize) -> Vec<bool> {
    let mut from_x = vec![false; output + 1 - x];
    from_x[0] = true;
    for i in x + 1..=output {
        from_x[i - x] = tape.edges(i).iter().any(|&(o, _)| o >= x && from_x[o - x]);
    }
    from_x
}

/// Where the tape's derivative is 0 at a random point because a relu on the
/// way from `x` is off there (its input below 0, relu′ = 0), while yours is
/// not 0: the note that says so (the paths' sum is then 0 for that reason,
/// not for a slip of the paths). Empty otherwise.
fn units_off_note(tape: &Tape, x: usize, output: usize, tape_value: f64, yours: f64) -> String {
    use chainrule::Op;
    if tape_value != 0.0 || yours == 0.0 || !yours.is_finite() {
        return String::new();
    }
    let from_x = depends_on(tape, x, output);
    let off: Vec<String> = (x + 1..=output)
        .filter(|&i| from_x[i - x] && matches!(tape.op(i), Op::Relu | Op::ReluNeuron))
        .filter(|&i| tape.value(i) == 0.0 && tape.edges(i).iter().all(|&(_, p)| p == 0.0))
        .map(|i| tape.display_name(i))
        .collect();
    if off.is_empty() {
        return String::new();
    }
    let (units, is) = if off.len() == 1 {
        (format!("the relu {}", off[0]), "is")
    } else {
        (format!("the relus {}", off.join(", ")), "are")
    };
    format!(
        "here {units} on the way {is} off (its input below 0, where relu′ = 0), so the tape's derivative is 0 at this point; yours, {}, is not: a derivative through a relu is 0 where the relu is off\n",
        number(yours)
    )
}

/// Whether every local partial on the paths from `x` up to `output` is
/// finite (then an infinite ∂output/∂x is the sweep's overflow, not f's).
fn partials_finite_on_paths(tape: &Tape, x: usize, output: usize) -> bool {
    let from_x = depends_on(tape, x, output);
    (x + 1..=output).filter(|&i| from_x[i - x]).all(|i| {
        tape.edges(i)
            .iter()
            .filter(|&&(o, _)| o >= x && from_x[o - x])
            .all(|&(_, p)| p.is_finite())
    })
}

/// Where f64's range, not f, shapes the tape's ∂f/∂x on a path from `x` to
/// `output`: a value that underflowed ([`underflowed`]: x² at 1e-200, where
/// √(x² + y²)'s partial is then √′(0) = ∞), or a partial that overflowed (an
/// infinite partial of finite, nonzero operands: ∂(c/u)/∂u = −c/u² at u =
/// 1e-305). `None` where every infinite partial has a zero or infinite operand
/// (√x at 0: f's own slope).
fn f64_limit_on_path(tape: &Tape, x: usize, output: usize) -> Option<String> {
    let span = output + 1 - x;
    let from_x = depends_on(tape, x, output);
    let mut to_output = vec![false; span];
    to_output[span - 1] = true;
    for i in (x + 1..=output).rev() {
        if to_output[i - x] {
            for (o, _) in tape.edges(i) {
                if o >= x {
                    to_output[o - x] = true;
                }
            }
        }
    }
    (x + 1..=output)
        .filter(|&i| from_x[i - x] && to_output[i - x])
        .find_map(|i| {
            let edges = tape.edges(i);
            let name = tape.display_name(i);
            if underflowed(tape, i) {
                return Some(format!(
                    "{name} = {} underflowed (below f64's smallest normal number, 2.2e-308)",
                    tape.value(i)
                ));
            }
            let ordinary = edges.iter().all(|&(o, _)| {
                let v = tape.value(o);
                v.is_finite() && v != 0.0
            });
            // An infinite partial at the op's own pole is f's slope, no
            // overflow: asin′ and acos′ at ±1, atanh′ at ±1, acosh′ at 1
            // (vertical tangents, as √′ at 0).
            let at_pole = {
                use chainrule::Op;
                let w = edges.first().map_or(f64::NAN, |&(o, _)| tape.value(o));
                match tape.op(i) {
                    Op::Asin | Op::Acos | Op::Atanh => w.abs() == 1.0,
                    Op::Acosh => w == 1.0,
                    _ => false,
                }
            };
            edges
                .iter()
                .find(|&&(o, p)| ordinary && !at_pole && p.is_infinite() && o >= x && from_x[o - x])
                .map(|&(o, _)| {
                    format!(
                        "∂{name}/∂{} overflowed f64 (its operands are finite and nonzero)",
                        tape.display_name(o)
                    )
                })
        })
}

/// How far the tape's ∂f/∂`wrt` (`sweep`, its value at `at`) may be from the
/// exact derivative of f's formulas at the point: a first-order bound on the
/// rounding of every op of the forward pass and the backward pass (the sweep's
/// sums among them). Where f's formulas cancel (`ln(1 - sigmoid(z))` at z =
/// 25: 1 − σ(25) = 1.4e-11 is off by 1e-16, 7e-6 relatively, and so is the
/// tape's factor 1/(1 − σ)), the tape's gradient is off by as much.
///
/// The derivative is recorded as a formula of its own (`Tape::grad`, on a fresh
/// tape), and bounded by [`rounding_of`]. The recorded derivative's value may
/// differ from the sweep's in its last bits (its sums are in another order):
/// that difference is added.
fn forward_rounding(
    loaded: &Loaded,
    at: &HashMap<String, f64>,
    wrt: &str,
    sweep: f64,
) -> Result<f64, Failure> {
    let tape = Tape::new();
    let r = record(loaded, &tape, at)?;
    let x = find(&r, wrt)?;
    let g = tape.grad(r.output, &[x])[0];
    Ok(rounding_of(&tape, g, &r.constants) + (g.value() - sweep).abs())
}

/// How far your formula's value (`yours`, as `check` evaluated it at
/// `values`) may be from its exact value: [`rounding_of`] its recording. Where
/// it cancels (1 − tanh(x)² at x = 13.5 is 7.6121e-12 in f64, sech²(x) =
/// 7.6120e-12), a value 8e-6 off relatively is still right. 0 for a formula
/// with no variable, or one that cannot be recorded (it is then judged as
/// evaluated).
fn expected_rounding(expect: &str, values: &HashMap<String, f64>, yours: f64) -> f64 {
    let tape = Tape::new();
    let Ok(program) = formula::parse(expect) else {
        return 0.0;
    };
    match program.record(&tape, values) {
        Ok(r) => rounding_of(&tape, r.output, &r.constants) + (r.output.value() - yours).abs(),
        Err(_) => 0.0,
    }
}

/// A first-order bound on the rounding error of `y`'s value: 4ε times
/// Σ |vᵢ|·|∂y/∂vᵢ| over the nodes of its recording whose op rounded (the
/// running error bound, Higham, *Accuracy and Stability of Numerical
/// Algorithms*, §3.3: each op's own rounding, up to ε/2 relative, times y's
/// sensitivity to it; 4ε for library functions within an ulp or two and the
/// second-order terms). A node computed exactly ([`exact`]: x − x, 2·1, a leaf)
/// has no term, so an exact 0 is bounded by 0. Nor have NaN or infinite values
/// (which passed nothing on to a finite y) and NaN adjoints (y is not
/// differentiable in that node: y − 1 in y·x^(y − 1) at x = −2, where x^c is
/// NaN for c not an integer, and a rounding of it would have made y NaN, not
/// a wrong finite value). Infinite where y is, or where a term is (y is then
/// sensitive without bound to that node's rounding: x³/x² at 1e-120, where x³
/// underflows to 0 and the tape's ∂/∂x is 3, not 1). An adjoint that
/// overflowed f64 at a value that did not underflow to 0 makes no such term by
/// itself: there the term is taken edge by edge ([`terms_past_range`]), so the
/// derivative of √x at 1e-310, 0.5/√x, whose ∂/∂√x is −5e309, has a term of
/// 5e154 (√x times it), its own size: it is as exact as its ops.
fn rounding_of(tape: &Tape, y: Var<'_>, constants: &HashMap<usize, f64>) -> f64 {
    if !y.value().is_finite() {
        return f64::INFINITY;
    }
    let h = y.backward();
    let mut past: Option<Vec<f64>> = None;
    let mut sum = 0.0;
    for node in 0..=y.index() {
        let adjoint = h.by_index(node);
        let value = tape.value(node);
        if adjoint == 0.0 || adjoint.is_nan() || !value.is_finite() || exact(tape, node, constants)
        {
            continue;
        }
        let magnitude = value.abs().max(f64::MIN_POSITIVE);
        let mut term = magnitude * adjoint.abs();
        if !term.is_finite() && value != 0.0 {
            let past = past.get_or_insert_with(|| terms_past_range(tape, &h, y.index()));
            term = magnitude / value.abs() * past[node];
        }
        if !term.is_finite() {
            return f64::INFINITY;
        }
        sum += term;
    }
    4.0 * f64::EPSILON * sum
}

/// |vᵢ|·|∂y/∂vᵢ| for every node i up to `y`, for [`rounding_of`] where an
/// adjoint (`h`'s) overflowed: the product where it is finite, else bounded by
/// Σ |∂y/∂u|·|vᵢ·∂u/∂vᵢ| over the nodes u that use vᵢ, a factor formed so as not
/// to overflow where it is finite: where ∂y/∂u overflowed too, as u's own term
/// times |vᵢ·∂u/∂vᵢ / u|; where ∂u/∂vᵢ did, for the ops whose partial overflows
/// at a small operand, a/b, c/b, 1/b, a·b (|vᵢ·∂u/∂vᵢ| = |u|), √v (|u|/2) and
/// ln v (1). Infinite for any other such op, and where u is 0 (a value that
/// underflowed to 0, on which the result depends without bound: x²/x at
/// 1e-200).
fn terms_past_range(tape: &Tape, h: &Gradients, y: usize) -> Vec<f64> {
    use chainrule::Op;
    let mut pushed = vec![0.0; y + 1];
    let mut terms = vec![0.0; y + 1];
    for user in (0..=y).rev() {
        let adjoint = h.by_index(user);
        let u = tape.value(user).abs();
        let direct = u * adjoint.abs();
        terms[user] = if direct.is_finite() {
            direct
        } else {
            pushed[user]
        };
        if adjoint == 0.0 || adjoint.is_nan() {
            continue;
        }
        for (operand, partial) in tape.edges(user) {
            if partial == 0.0 {
                continue;
            }
            // |vᵢ·∂u/∂vᵢ|, overflowing only where it is past f64's range.
            let scaled = if partial.is_finite() {
                tape.value(operand).abs() * partial.abs()
            } else {
                match tape.op(user) {
                    Op::Div | Op::ConstDiv | Op::DivConst | Op::Recip | Op::Mul | Op::MulConst => u,
                    Op::Sqrt => u / 2.0,
                    Op::Ln => 1.0,
                    _ => f64::INFINITY,
                }
            };
            let contribution = if adjoint.is_finite() {
                adjoint.abs() * scaled
            } else if u == 0.0 {
                f64::INFINITY
            } else {
                terms[user] * (scaled / u)
            };
            pushed[operand] += contribution;
        }
    }
    terms
}

/// Whether node `i`'s value is exactly its op of its operands' values (no
/// rounding): a leaf, a constant, a negation, a select op; a sum, difference,
/// product or quotient whose error-free residual is 0 (Knuth's TwoSum, an FMA:
/// `a·b − v` computed exactly), with a constant too (`a + c`, `c − a`, `a / c`,
/// `c / a`) where `constants` holds it (the formula's recording notes each;
/// `a / c` by a power of two c is read off its partial 1/c, which is then
/// exact); a 0 or subnormal that did not underflow (√0, sin 0). Any other op
/// is taken to round.
fn exact(tape: &Tape, i: usize, constants: &HashMap<usize, f64>) -> bool {
    use chainrule::Op;
    let v = tape.value(i);
    let edges = tape.edges(i);
    let operand = |k: usize| edges.get(k).map_or(f64::NAN, |&(o, _)| tape.value(o));
    // The rounding error of a + b = v, exactly (Knuth's TwoSum, no overflow).
    let two_sum_error = |a: f64, b: f64| {
        let bb = v - a;
        (a - (v - bb)) + (b - bb)
    };
    // a / b rounded to a normal v is exact where v·b − a is 0. That residual
    // is a double (so the FMA gives it exactly, nonzero where v rounded) where
    // a is at least 2⁵³ times the least normal number; below that, no claim.
    let quotient_exact =
        |a: f64, b: f64| a.abs() >= f64::MIN_POSITIVE * 2f64.powi(53) && v.mul_add(b, -a) == 0.0;
    let constant = constants.get(&i).copied();
    // The divisor of `a / c`: the constant noted, else 1/p for a partial p
    // that is a power of two in the normal range (fl(1/c) is a power of two
    // only for c = 1/p exactly there).
    let divisor = || {
        constant.or_else(|| {
            let p = edges.first()?.1;
            let power_of_two = p.is_normal() && p.abs() <= 2f64.powi(1000) && {
                let bits = p.to_bits() & ((1u64 << 52) - 1);
                bits == 0
            };
            power_of_two.then(|| 1.0 / p)
        })
    };
    let op = tape.op(i);
    let is_exact = match op {
        Op::Leaf
        | Op::Const
        | Op::Neg
        | Op::Abs
        | Op::Relu
        | Op::Max
        | Op::Min
        | Op::MaxConst
        | Op::MinConst
        | Op::Clamp
        | Op::Signum => true,
        Op::Add => two_sum_error(operand(0), operand(1)) == 0.0,
        Op::Sub => two_sum_error(operand(0), -operand(1)) == 0.0,
        Op::AddConst => constant.is_some_and(|c| two_sum_error(operand(0), c) == 0.0),
        Op::SubConst => constant.is_some_and(|c| two_sum_error(operand(0), -c) == 0.0),
        Op::ConstSub => constant.is_some_and(|c| two_sum_error(c, -operand(0)) == 0.0),
        // A residual is trusted only for a normal result: below 2.2e-308 the
        // residual of a rounded product is itself below the subnormals' ulp,
        // and the FMA rounds it to 0 (1e-160 · 6.9e-164 is 1.4 · 2⁻¹⁰⁷⁴,
        // stored as 2⁻¹⁰⁷⁴, 28% low, with a residual of 0: a reviewer's case).
        // Such a result is exact only from a zero factor.
        Op::Mul | Op::Square | Op::MulConst | Op::Div | Op::Recip
            if v.is_nan() || v.abs() < f64::MIN_POSITIVE =>
        {
            v == 0.0
                && (operand(0) == 0.0
                    || op != Op::Div && op != Op::Square && operand(1) == 0.0
                    || op == Op::MulConst && edges.first().is_some_and(|&(_, c)| c == 0.0))
        }
        // 0 / c and c / a: 0 only from a zero dividend (a finite nonzero
        // divisor); any other such quotient underflowed.
        Op::DivConst | Op::ConstDiv if v.is_nan() || v.abs() < f64::MIN_POSITIVE => {
            v == 0.0
                && match op {
                    Op::DivConst => operand(0) == 0.0 && divisor().is_some_and(|c| c != 0.0),
                    _ => constant == Some(0.0) && operand(0).is_finite() && operand(0) != 0.0,
                }
        }
        Op::Mul => operand(0).mul_add(operand(1), -v) == 0.0,
        Op::Square => operand(0).mul_add(operand(0), -v) == 0.0,
        // The partial is the constant itself.
        Op::MulConst => edges
            .first()
            .is_some_and(|&(_, c)| operand(0).mul_add(c, -v) == 0.0),
        Op::Div => v.mul_add(operand(1), -operand(0)) == 0.0,
        Op::DivConst => divisor().is_some_and(|c| quotient_exact(operand(0), c)),
        Op::ConstDiv => constant.is_some_and(|c| quotient_exact(c, operand(0))),
        // 1/x rounded to v: exact when v·x − 1 is (the derivative of x/x
        // records 1/x: 0.5 at 2).
        Op::Recip => v.mul_add(operand(0), -1.0) == 0.0,
        _ => false,
    };
    is_exact
        || v.abs() < f64::MIN_POSITIVE
            && !matches!(
                op,
                Op::Mul
                    | Op::Square
                    | Op::MulConst
                    | Op::Div
                    | Op::Recip
                    | Op::DivConst
                    | Op::ConstDiv
            )
            && !underflowed(tape, i)
}

/// What one-sided finite differences of f along x say at a kink, decided at
/// the finest steps that rounding leaves resolvable.
enum OneSided {
    /// f jumps at every step down to the finest (f just left and right of the
    /// point, at the finest step): it is not continuous here, unless it
    /// changes on a finer scale than the steps. `steep`: the change across
    /// the finest step is no more than the tape's slope makes over its width
    /// (tanh(1e16·(x − 1)) at 1, whose finest step is a few ulps of x), so a
    /// continuous f as steep as that is as likely.
    Jump {
        left: f64,
        at: f64,
        right: f64,
        h: f64,
        steep: bool,
    },
    /// The slopes from the left and the right converge to different values
    /// at every step down to the finest resolvable: f has a corner here,
    /// unless it turns on a finer scale (x + √(x² + ε²) with ε far below
    /// the steps looks the same).
    Corner { left: f64, right: f64, h: f64 },
    /// The slopes from both sides converge to one value: f is differentiable
    /// here, ∂f/∂x about `slope` (a central difference at step `h`), give or
    /// take `error` (the change since the step before, plus rounding).
    /// `rounding_gap`: their gap at the finest step is nonzero and within
    /// rounding, not shrinking: a corner that small (|x| + 1e15·x at 0, slopes
    /// 1e15 ∓ 1) would look the same.
    /// `hidden`: the finest step tried, where it is more than two steps
    /// finer than the finest resolvable one: f's rounding hides what f does
    /// between them, and a change there would change the derivative
    /// (atan2(y, −1) + atan2(−y, −1) + y + 1e-30·tanh(1e30·y) at 0, resolvable
    /// only above 1e-11 next to π's rounding, reads slope 1; f′(0) = 2). No
    /// value is confirmed or refuted against such a slope.
    Agree {
        slope: f64,
        h: f64,
        error: f64,
        rounding_gap: bool,
        hidden: Option<f64>,
    },
    /// Fewer than 3 steps change f by well more than its rounding error
    /// (`noise`, a bound on it at the finest step tried, `h`): the slopes there
    /// are rounding, no evidence either way. `flat`: f(x ± h) = f(x) exactly at
    /// every step (relu(x) − relu(−x) − x at 0).
    Unresolved { noise: f64, h: f64, flat: bool },
    /// f is not finite beside the point: nothing to say.
    Unknown,
    /// The one-sided derivatives from the tape ([`tape_sides`]): f is
    /// differentiable here where they are equal (within `error`, the tape's
    /// rounding bound), with that derivative; else it has a corner.
    /// `error`: the bound on the rounding of the tape's gradient and yours.
    Exact { sides: Sides, error: f64 },
    /// The slopes neither converge together nor apart at the steps tried.
    Unsettled { left: f64, right: f64 },
}

impl OneSided {
    fn kind(&self) -> &'static str {
        match self {
            OneSided::Exact { sides, .. } if sides.corner() => {
                "does not exist: the one-sided derivatives through the kinks' branches differ"
            }
            OneSided::Exact { sides, .. } if sides.gap_bound == 0.0 => {
                "exists: the one-sided derivatives through the kinks' branches agree"
            }
            OneSided::Exact { .. } => {
                "exists, or f has a corner smaller than rounding: the one-sided derivatives through the kinks' branches agree to within it"
            }
            OneSided::Jump { steep: true, .. } => {
                "may not exist: f changes across the point as steeply as the tape's slope, on a finer scale than the steps resolve"
            }
            OneSided::Jump { .. } => {
                "does not exist: f is not continuous (at every step tried, unless it changes on a finer scale)"
            }
            OneSided::Corner { .. } => {
                "does not exist: the one-sided slopes differ (at every step tried, unless f turns on a finer scale)"
            }
            OneSided::Agree {
                hidden: Some(_), ..
            } => "may not exist: the one-sided slopes agree at the steps rounding leaves resolvable, and rounding hides the finer steps",
            OneSided::Agree {
                rounding_gap: true, ..
            } => "exists, or f has a corner smaller than its rounding: the one-sided slopes agree to within it",
            OneSided::Agree { .. } => "exists: the one-sided slopes converge together",
            OneSided::Unknown => "may not exist: f is not finite beside the point",
            OneSided::Unresolved { .. } => {
                "may not exist: f's changes are lost in its rounding at the steps tried"
            }
            OneSided::Unsettled { .. } => "may not exist: the one-sided slopes did not settle",
        }
    }

    /// The derivative's value by finite differences, where f is differentiable,
    /// and its error estimate.
    fn slope(&self) -> Option<(f64, f64)> {
        match *self {
            OneSided::Agree {
                slope,
                error,
                hidden: None,
                ..
            } => Some((slope, error)),
            OneSided::Exact { sides, error } if !sides.corner() => {
                Some((sides.right, error.max(sides.bound) + sides.gap_bound))
            }
            _ => None,
        }
    }

    /// What the slopes say, of `lhs` ({lhs}, as the report writes it) along the
    /// variable `wrt`.
    fn describe(&self, yours: f64, tape: f64, lhs: &str, wrt: &str) -> String {
        match *self {
            OneSided::Exact { sides, .. } => match self.slope() {
                Some((slope, error)) => format!(
                    "but the one-sided derivatives, taken through the tape with each kink's branch on either side ({wrt} moving right and left, as the chain rule runs through a piecewise-smooth f), agree{}, {lhs} = {}{}; {}; yours {}",
                    if sides.gap_bound == 0.0 {
                        ": f is differentiable here".to_string()
                    } else {
                        format!(
                            " to within the rounding of the kinks' differences (± {:.3e}): f is differentiable here, or has a corner smaller than that",
                            sides.gap_bound
                        )
                    },
                    number(slope),
                    if error > 0.0 {
                        format!(" (± {error:.3e}, the rounding of the tape's sums)")
                    } else {
                        String::new()
                    },
                    match judge(tape, slope, error) {
                        Some(true) => "the tape's value agrees with it",
                        Some(false) => "so the tape's value is not the derivative here, and yours is held against it instead",
                        None => "whether the tape's value is it the rounding cannot tell, and yours is held against it instead",
                    },
                    match judge(yours, slope, error) {
                        Some(true) => "agrees with it",
                        Some(false) => "does not match it",
                        None => "is within its rounding of the tolerance's edge, so it is neither confirmed nor refuted",
                    }
                ),
                None => {
                    // (+0.0 turns a −0 into 0.)
                    let (left, right) = (sides.left + 0.0, sides.right + 0.0);
                    // Digits enough to show them apart; where rounding has
                    // made them equal, or lost them, the gap alone.
                    let (l, r) = if number(left) == number(right) {
                        (format!("{left:e}"), format!("{right:e}"))
                    } else {
                        (number(left), number(right))
                    };
                    let values = if l == r || sides.bound >= sides.gap.abs() {
                        format!(
                            "; the derivatives themselves are within ± {:.3e} of the tape's sums' rounding",
                            sides.bound
                        )
                    } else {
                        format!(" ({l} from the left, {r} from the right)")
                    };
                    format!(
                        "the one-sided derivatives, taken through the tape with each kink's branch on either side ({wrt} moving right and left), differ by {}{values}, so {lhs} does not exist here",
                        short_e(sides.gap.abs())
                    )
                }
            },
            OneSided::Jump { left, at, right, h, steep: true } => format!(
                "f changes across the point by about {} at the finest step ({} at the point, about {} just left of it, {} just right, by evaluating it at ± {}, after steps shrinking by 8 from 1e-2·max(1, |{wrt}|)), no more than the tape's slope {} makes over that width: f may jump here, or be continuous and steeper than the steps resolve, so whether {lhs} exists here is not known",
                number(right - left),
                number(at),
                number(left),
                number(right),
                step(h),
                number(tape)
            ),
            OneSided::Jump { left, at, right, h, steep: false } => format!(
                "f jumps across the point at every step tried ({} at the point, about {} just left of it, {} just right, by evaluating it at ± {}, after steps shrinking by 8 from 1e-2·max(1, |{wrt}|)), so f is not continuous here and {lhs} does not exist here{FINER_SCALE}",
                number(at),
                number(left),
                number(right),
                step(h)
            ),
            OneSided::Corner { left, right, h } => format!(
                "the slopes from the left and the right converge to different values (about {} and {}, by one-sided finite differences with steps shrinking by 8 down to {}), so {lhs} does not exist here{FINER_SCALE}",
                number(left),
                number(right),
                step(h)
            ),
            OneSided::Agree {
                slope,
                h,
                error,
                hidden: Some(tried),
                ..
            } => format!(
                "the slopes from the left and the right converge together at the steps f's rounding leaves resolvable (by one-sided finite differences with steps shrinking by 8 down to {}), to {lhs} ≈ {} ± {:.3e}; but at the finer steps tried (down to {}) f's rounding hides any change of f, and a change there would change the derivative, so neither the tape's value nor yours can be confirmed or refuted by that slope",
                step(h),
                number(slope),
                error,
                step(tried)
            ),
            OneSided::Agree { slope, h, error, rounding_gap, hidden: None } => format!(
                "but the slopes from the left and the right {} (by one-sided finite differences with steps shrinking by 8 down to {}): {}, {lhs} ≈ {} ± {:.3e} (central difference, ± its change since the step before plus rounding); {}; yours {}",
                if rounding_gap {
                    "agree to within f's rounding"
                } else {
                    "converge together"
                },
                step(h),
                if rounding_gap {
                    "f is differentiable here, or has a corner whose slopes differ by less than its rounding or the check's tolerance shows, which the differences cannot tell apart"
                } else {
                    "f is differentiable here, as far as the differences show (a corner or jump below f's rounding, or a change on a finer scale than the finest step, would not show)"
                },
                number(slope),
                error,
                match judge(tape, slope, error) {
                    Some(true) => "the tape's value agrees with it (within its error plus 1e-7 of it)",
                    Some(false) => "so the tape's value is not the derivative here, and yours is held against the finite-difference slope instead",
                    None => "whether the tape's value is the derivative the slope's error cannot tell, and yours is held against the finite-difference slope instead",
                },
                match judge(yours, slope, error) {
                    Some(true) => "agrees with that slope",
                    Some(false) => "does not match that slope, even allowing for its error",
                    None => "is within that slope's error estimate plus the tolerance of it, but the slope is not known closely enough to confirm yours to the check's tolerance (1e-7 of yours; a 0 of yours only an exact slope of 0 confirms)",
                }
            ),
            OneSided::Unresolved { noise, h, flat: true } => format!(
                "f is the same at every step tried, f(x ± h) = f(x) exactly (steps shrinking by 8 down to {}): its one-sided slopes are 0 at each, but a change of f smaller than its rounding (about ±{:.3e}, by a running error bound) would not show, so whether {lhs} exists here, and is 0, is not known",
                step(h),
                noise
            ),
            OneSided::Unresolved { noise, h, flat: false } => format!(
                "f changes by well more than its rounding error (about ±{:.3e}, by a running error bound) at fewer than 3 of the steps tried (shrinking by 8 down to {}), so the one-sided slopes are lost in rounding, no evidence either way; whether {lhs} exists here is not known",
                noise,
                step(h)
            ),
            OneSided::Unknown => {
                format!("f is not finite beside the point, so {lhs} may not exist here")
            }
            OneSided::Unsettled { left, right } => format!(
                "the slopes from the left and the right (about {} and {} at the finest resolvable step) neither converge together nor to distinct values at the steps tried, so whether {lhs} exists here is not known",
                number(left),
                number(right)
            ),
        }
    }
}

/// A step as people write it (3 significant digits).
fn step(h: f64) -> String {
    format!("{h:.2e}")
}

/// A value against a finite-difference `slope` known to within `error`, with
/// the check's own tolerance (1e-7 of the value, [`Tolerance::MANUAL`]'s
/// `rtol`, as at any point): refuted (`Some(false)`) when no value the slope
/// may be is within it, |value − slope| − error > 1e-7·|value|; confirmed
/// (`Some(true)`) when every one is, |value − slope| + error ≤ 1e-7·|value|
/// (as [`confirms`] holds yours against the tape's value and its rounding
/// bound); else neither (`None`): the slope is too uncertain to tell, its
/// error straddling the tolerance's edge. (With the tolerance relative to the
/// slope for refuting and to yours for confirming, 2.9999997 against the
/// slope 3 ± 5e-15 was neither, and "too uncertain" where the slope is
/// exact.) Confirming only where the slope is known to 1e-3 of itself passed
/// 2000.96 for the slope 2001.0028 ± 0.056 of `relu(x − 1e10) − relu(1e10 −
/// x) + 2000x` at 1e10 (the derivative is 2001): right to 2e-5, not to the
/// check's 1e-7. Relative alone: with an absolute floor, 0 passed against
/// the slope 1e-6 of 1e-6·(relu(x) − relu(−x)) at 0; a 0 of yours is
/// confirmed only by a slope of exactly 0 with no error.
fn judge(value: f64, slope: f64, error: f64) -> Option<bool> {
    let allowed = Tolerance::MANUAL.rtol * value.abs();
    let off = (value - slope).abs();
    if !value.is_finite() || !off.is_finite() || off - error > allowed {
        Some(false)
    } else if off + error <= allowed {
        Some(true)
    } else {
        None
    }
}

/// f along `wrt` just left and right of the point, at steps h = 1e-2·max(1, |x|)
/// shrinking by 8 (12 steps, down to about 1e-12·max(1, |x|), and finer ones,
/// down to [`FINEST_STEP`] while x ± h is not x, where those find a jump, a
/// corner, no settled slopes, or a slope known to no better than 1e-3 of
/// itself): a jump, a corner, slopes that converge
/// together, or no decision. (A jump or a corner at the finest steps is what
/// an f changing on a finer scale shows too: `tape_slope`, the tape's ∂f/∂x,
/// marks a jump no larger than that slope makes over the step as `steep`.
/// `at_switch`: an op is exactly at its switch point; else the point is
/// within rounding of one, and a jump or corner is not refined.) A coarse step alone misleads
/// (x + 1000x² has one-sided slopes 0.99 and 1.01 at h = 1e-5): each verdict
/// needs the evidence to hold at the finest steps:
/// - a jump: on one side, |f(x ± h) − f(x)| stays (within 10%) as large over
///   the 3 finest steps, and far above rounding;
/// - a corner: over the 3 finest steps whose slopes rounding leaves resolvable
///   (rounding error under 1e-4 of them), the difference of the one-sided
///   slopes is over 1e-7 of them (the check's tolerance) and settled (changes by at most 25%);
/// - slopes that converge together: over those steps the difference shrinks
///   (by 4 or more a step, as f's curvature term does, by 8) or is within
///   rounding, and the central differences settle (their change shrinks by 4
///   or more, or is within rounding); the slope is the finest central
///   difference, give or take its change since the step before plus its
///   rounding.
///
/// f's rounding error at each step is taken as 4 ulps of the largest of |f(x)|,
/// |f(x ± h)| and the running error bound at x (`noise_at`, see
/// [`running_error_bound`]). A step whose slopes are equal is no more
/// resolvable than another: next to a large |f| (|x| + 1e6 at 0) the finest
/// steps' f(x ± h) round to a few ulps, and both slopes are the same rounding
/// noise. With fewer than 3 resolvable steps there is no verdict
/// ([`OneSided::Unresolved`]).
fn one_sided(
    loaded: &Loaded,
    r: &Recorded<'_>,
    wrt: &str,
    noise_at: f64,
    tape_slope: f64,
    at_switch: bool,
) -> Result<OneSided, Failure> {
    let base: HashMap<String, f64> = r
        .variables
        .iter()
        .map(|(n, v)| (n.clone(), v.value()))
        .collect();
    let x = base.get(wrt).copied().unwrap_or(f64::NAN);
    let f0 = r.output.value();
    // f at `wrt` = t, whether a value on its way underflowed, and f's running
    // error bound there (the rounding of f's evaluation at the step itself:
    // 1e16·x + x − 1e16·x at 1e-2 rounds to 0 or 0.0156, terms of 1e14 that
    // are all 0 at the point).
    let f_at = |t: f64| -> Result<(f64, bool, f64), Failure> {
        let mut at = base.clone();
        at.insert(wrt.to_string(), t);
        let tape = Tape::new();
        let output = record(loaded, &tape, &at)?.output;
        let bound = output.backward().running_error_bound();
        Ok((
            output.value(),
            (0..tape.len()).any(|i| underflowed(&tape, i)),
            bound,
        ))
    };
    if !f0.is_finite() || !x.is_finite() {
        return Ok(OneSided::Unknown);
    }
    let mut steps: Vec<Step> = Vec::new();
    let mut h = 1e-2 * x.abs().max(1.0);
    // f at x ± h for `count` more steps (while x ± h is not x, and, where
    // `fine`, h is at least FINEST_STEP and no value on f's way underflows:
    // x² at 1e-170 is 0, and signum(−x²) there reads 0's sign, not a jump);
    // whether the finest had f finite on both sides.
    let take =
        |count: usize, fine: bool, h: &mut f64, steps: &mut Vec<Step>| -> Result<bool, Failure> {
            let mut finite = true;
            for _ in 0..count {
                if fine && *h < FINEST_STEP {
                    break;
                }
                let (x_right, x_left) = (x + *h, x - *h);
                let (hr, hl) = (x_right - x, x - x_left);
                if hr <= 0.0 || hl <= 0.0 {
                    break;
                }
                let ((fr, under_r, bound_r), (fl, under_l, bound_l)) =
                    (f_at(x_right)?, f_at(x_left)?);
                if fine && (under_r || under_l) {
                    break;
                }
                finite = fr.is_finite() && fl.is_finite();
                if finite {
                    steps.push(Step {
                        h: *h,
                        left_value: fl,
                        right_value: fr,
                        left: (f0 - fl) / hl,
                        right: (fr - f0) / hr,
                        central: (fr - fl) / (hr + hl),
                        noise: 4.0
                            * f64::EPSILON
                            * f0.abs()
                                .max(fr.abs())
                                .max(fl.abs())
                                .max(noise_at)
                                .max(if bound_r.is_finite() { bound_r } else { 0.0 })
                                .max(if bound_l.is_finite() { bound_l } else { 0.0 }),
                    });
                }
                *h /= 8.0;
            }
            Ok(finite)
        };
    if !take(12, false, &mut h, &mut steps)? {
        return Ok(OneSided::Unknown);
    }
    if steps.len() < 3 {
        // f overflowed at the coarse steps alone (exp(1e13·(x − 1)) at 1, for
        // h over 7e-11): the finer steps decide.
        if !take(FINER_STEPS, true, &mut h, &mut steps)? || steps.len() < 3 {
            return Ok(OneSided::Unknown);
        }
        return Ok(analyse(&steps, f0, tape_slope));
    }
    let first = analyse(&steps, f0, tape_slope);
    // f may change on a scale finer than the 12th step (x + sin(3e11·x) at 0
    // looked like a jump, x + √(x² + 1e-60) like a corner, x + sin(1e13·x)
    // gave slopes whose gap is 0 by symmetry but whose value is noise): where
    // the steps found a jump or a corner, did not settle, or agree on a slope
    // known to no better than 1e-3 of itself,
    // 24 finer steps (while x ± h is not x) decide instead, the verdict again
    // from the finest. A true jump stays one; a smooth f shows its slope once
    // the steps are below its scale.
    let uncertain = first
        .slope()
        .is_some_and(|(slope, error)| error > Tolerance::FINITE_DIFFERENCES.rtol * slope.abs());
    // Only where an op is exactly at its switch point (`at_switch`): near
    // one, the jump or corner the 12 steps see is the switch point's, within
    // rounding of the point, and finer steps would step past it (relu(3x −
    // 0.3) at 0.1, where 3x − 0.3 is 5.6e-17, would read slope 3 on both
    // sides).
    // At an op exactly at its switch point, slopes that converge at the 12
    // steps are refined too: f may change below them (x − 1e-30·tanh(1e30·x)
    // at 0 reads slope 1 down to 1.2e-12; its derivative is 0).
    let refine = match first {
        OneSided::Jump { .. } | OneSided::Corner { .. } => at_switch,
        OneSided::Unsettled { .. } => true,
        OneSided::Agree { .. } => at_switch || uncertain,
        _ => uncertain,
    };
    if refine {
        let mut finer = steps.clone();
        if take(FINER_STEPS, true, &mut h, &mut finer)? && finer.len() > steps.len() {
            return Ok(analyse(&finer, f0, tape_slope));
        }
    }
    Ok(first)
}

/// The one-sided derivatives of node `output` along node `x` at the point,
/// taken through the tape: a forward (tangent) pass from x in each direction,
/// each local partial the tape's but at a kink op at its switch point, where
/// the branch is the one the operand moves into (relu(u): max(u̇, 0); |u|: |u̇|;
/// leaky_relu: u̇ or α·u̇ by u̇'s sign; max/min of a tie: max/min of the
/// tangents; with a constant: of u̇ and 0). A piecewise-smooth f built of these
/// has one-sided derivatives and this is them (Griewank and Walther,
/// *Evaluating Derivatives*, 2nd ed., ch. 14: directional derivatives by
/// forward mode through abs, min and max), so the derivative exists iff they
/// are equal. Their difference is carried in a pass of its own (the kinks'
/// branch differences alone, so a large term on the way does not cancel it
/// away: 1e20·x + |x| − 1e20·x has the gap 2, though both passes round to 0),
/// each with a bound on its rounding (8ε per node on the way, times the sum of
/// the terms' magnitudes). `None` where this cannot say: a jump on the way
/// (signum at 0, pow at 0^0, atan2 on its cut), clamp at a bound or a fused
/// relu neuron at z = 0, a partial that is not finite, or a product that
/// underflows (|x|·1e-200·1e-200, whose gap 2e-400 is 0 in f64): the finite
/// differences decide there.
///
/// # Complexity
/// One pass over the nodes from x to `output` and their edges.
fn tape_sides(tape: &Tape, x: usize, output: usize) -> Option<Sides> {
    use chainrule::Op;
    if x > output {
        return None;
    }
    let n = output + 1;
    // Tangents right and left, the gap (right + left tangent, the kinks'
    // difference), and magnitudes for the rounding bounds of the tangents and
    // of the gap.
    let (mut tr, mut tl, mut gap, mut mag, mut gap_mag) = (
        vec![0.0f64; n],
        vec![0.0f64; n],
        vec![0.0f64; n],
        vec![0.0f64; n],
        vec![0.0f64; n],
    );
    tr[x] = 1.0;
    tl[x] = -1.0;
    mag[x] = 1.0;
    // A product that underflows (nonzero factors, a result below f64's normal
    // range) makes the pass's numbers no longer f's.
    let times = |p: f64, v: f64| -> Option<f64> {
        let r = p * v;
        (p == 0.0 || v == 0.0 || r.abs() >= f64::MIN_POSITIVE).then_some(r)
    };
    for i in x + 1..n {
        let edges = tape.edges(i);
        if chainrule::explain::kink_at(tape, i).is_some() {
            let of = |t: &[f64], k: usize| edges.get(k).map_or(0.0, |&(o, _)| t[o]);
            // The branch follows the operand's tangent's sign: not where the
            // tangent is within its rounding (1e16·x + x − 1e16·x: 0, its
            // terms 2e16).
            let rounding = 8.0 * f64::EPSILON * (i - x) as f64;
            for &(o, _) in &edges {
                if o >= x && mag[o] > 0.0 && tr[o].abs().max(tl[o].abs()) <= rounding * mag[o] {
                    return None;
                }
            }
            // (leaky_relu's stored partial at its kink is its α.)
            let alpha = edges.first().map_or(0.0, |&(_, p)| p);
            let branch = |t: &[f64]| -> Option<f64> {
                let (a, b) = (of(t, 0), of(t, 1));
                match tape.op(i) {
                    // α·u̇, refused where it underflows.
                    Op::LeakyRelu if a <= 0.0 => times(alpha, a),
                    op => corner_branch(op, alpha, a, b),
                }
            };
            tr[i] = branch(&tr)?;
            tl[i] = branch(&tl)?;
            gap[i] = tr[i] + tl[i];
            mag[i] = of(&mag, 0).max(of(&mag, 1));
            gap_mag[i] = tr[i].abs() + tl[i].abs();
        } else {
            for &(o, p) in &edges {
                if tr[o] == 0.0 && tl[o] == 0.0 && gap[o] == 0.0 {
                    continue;
                }
                if !p.is_finite() {
                    return None;
                }
                tr[i] += times(p, tr[o])?;
                tl[i] += times(p, tl[o])?;
                gap[i] += times(p, gap[o])?;
                mag[i] += p.abs() * mag[o];
                gap_mag[i] += p.abs() * gap_mag[o];
            }
        }
        if !(tr[i].is_finite() && tl[i].is_finite() && gap[i].is_finite()) {
            return None;
        }
    }
    let rounding = 8.0 * f64::EPSILON * (output - x) as f64;
    Some(Sides {
        left: -tl[output],
        right: tr[output],
        gap: gap[output],
        bound: rounding * mag[output],
        gap_bound: rounding * gap_mag[output],
    })
}

/// For each node of `tape` that selects a branch (relu, abs, leaky_relu,
/// signum, max, min, max or min with a constant, clamp, a relu neuron), the
/// branch it takes, as the sign of the quantity that picks it; `None` for every
/// other node, and for one exactly at its switch point (a tie: there the point
/// itself is at a kink, and no branch is its own).
fn branches(tape: &Tape) -> Vec<Option<i8>> {
    use chainrule::Op;
    let sign = |v: f64| -> i8 {
        if v > 0.0 {
            1
        } else if v < 0.0 {
            -1
        } else {
            0
        }
    };
    (0..tape.len())
        .map(|i| {
            let op = tape.op(i);
            let edges = tape.edges(i);
            let operand = |k: usize| edges.get(k).map(|&(o, _)| tape.value(o));
            let value = tape.value(i);
            let branch = match op {
                Op::Relu | Op::Abs | Op::LeakyRelu | Op::Signum => sign(operand(0)?),
                Op::Max | Op::Min => sign(operand(0)? - operand(1)?),
                // Which of the operand and the constant is picked.
                Op::MaxConst | Op::MinConst => i8::from(value == operand(0)?),
                // Below, inside or above the bounds.
                Op::Clamp => sign(value - operand(0)?),
                Op::ReluNeuron | Op::ReluNeuronConst => i8::from(value > 0.0),
                _ => return None,
            };
            if chainrule::explain::kink_at(tape, i).is_some() {
                return None;
            }
            Some(branch)
        })
        .collect()
}

/// Whether `other`, the same formula recorded at another point, takes every
/// branch `point` (its [`branches`] at the given point) takes.
fn same_branches(point: &[Option<i8>], other: &Tape) -> bool {
    if other.len() != point.len() {
        return true;
    }
    let theirs = branches(other);
    point.iter().zip(&theirs).all(|(a, b)| match (a, b) {
        (Some(a), Some(b)) => a == b,
        (Some(_), None) => false,
        _ => true,
    })
}

/// The tangent of a corner op at its switch point, its operands' tangents
/// `a` (and `b`, max and min of two nodes) in the direction taken: the branch
/// the operand moves into (relu(u): max(u̇, 0); max(u, c): the same; min(u,
/// c): min(u̇, 0); |u|: |u̇|; leaky_relu with slope `alpha` below 0: u̇ or α·u̇
/// by u̇'s sign; max/min of a tie: max/min of the tangents). `None` for any
/// other op: the ops [`tape_sides`] follows, and [`check`] looks at where the
/// first-order test lets a kink go.
fn corner_branch(op: chainrule::Op, alpha: f64, a: f64, b: f64) -> Option<f64> {
    use chainrule::Op;
    Some(match op {
        Op::Relu | Op::MaxConst => a.max(0.0),
        Op::MinConst => a.min(0.0),
        Op::Abs => a.abs(),
        Op::LeakyRelu if a > 0.0 => a,
        Op::LeakyRelu => alpha * a,
        Op::Max => a.max(b),
        Op::Min => a.min(b),
        _ => return None,
    })
}

/// What [`tape_sides`] finds: the one-sided derivatives, their difference
/// (`gap`, right − left, carried on its own), and bounds on the rounding of
/// the derivatives and of the gap.
#[derive(Clone, Copy)]
struct Sides {
    left: f64,
    right: f64,
    gap: f64,
    bound: f64,
    gap_bound: f64,
}

impl Sides {
    /// A corner: a gap beyond its rounding.
    fn corner(&self) -> bool {
        self.gap.abs() > self.gap_bound
    }
}

/// How many finer steps [`one_sided`] may take past the first 12: enough to
/// go from 1.2e-12 down to [`FINEST_STEP`] by eighths (where x ± h is not x
/// first: at |x| ≥ 1, after about 6).
const FINER_STEPS: usize = 320;

/// The finest step [`one_sided`] takes, at x = 0 (elsewhere the ulps of x
/// stop it first, or a value on f's way that underflows): f(±h) − f(0)
/// stays in f64's normal range for slopes down to about 1e-18. A smooth f turning on a scale above it (x + √(x² + 1e-200)
/// at 0, tanh(1e40·x)³) is seen to; 24 finer steps, to 2.5e-34, saw corners
/// and jumps there.
const FINEST_STEP: f64 = 1e-290;

/// One step of [`one_sided`]: f at x ± h, the one-sided and central slopes.
#[derive(Clone)]
struct Step {
    h: f64,
    left_value: f64,
    right_value: f64,
    left: f64,
    right: f64,
    central: f64,
    /// The rounding error of f's values (4 ulps of the largest of |f| and
    /// the running error bound).
    noise: f64,
}

/// [`one_sided`]'s verdict from `steps` (coarse to fine, at least 3), f being
/// `f0` at the point.
fn analyse(steps: &[Step], f0: f64, tape_slope: f64) -> OneSided {
    // A jump: on one side, f's change does not shrink with the step.
    let last3 = &steps[steps.len() - 3..];
    let side_jumps = |value: fn(&Step) -> f64| {
        let d: Vec<f64> = last3.iter().map(|s| (value(s) - f0).abs()).collect();
        last3.iter().zip(&d).all(|(s, &d)| d > 64.0 * s.noise)
            && d[1] >= 0.9 * d[0]
            && d[2] >= 0.9 * d[1]
    };
    if side_jumps(|s| s.right_value) || side_jumps(|s| s.left_value) {
        let s = &last3[2];
        // f's change on each side within what the tape's slope makes over
        // the step, twice over (a jump on one side, signum(−x²) at 0, is
        // not steep for a tape's slope of 0).
        let change = (s.right_value - f0).abs().max((s.left_value - f0).abs());
        let steep = change <= 2.0 * tape_slope.abs() * s.h;
        return OneSided::Jump {
            left: s.left_value,
            at: f0,
            right: s.right_value,
            h: s.h,
            steep,
        };
    }
    // The slopes, at the steps where rounding leaves them resolvable.
    // Equal slopes are no exception: at the finest steps next to a large |f|
    // both are the same rounding noise. (Where f and the bound are exactly 0,
    // the noise is 0 and exact zero slopes are resolvable.)
    let resolvable: Vec<&Step> = steps
        .iter()
        .filter(|s| 2.0 * s.noise / s.h <= 1e-4 * (s.left.abs() + s.right.abs()))
        .collect();
    if resolvable.len() < 3 {
        let s = steps.last().expect("3 steps");
        let flat = steps
            .iter()
            .all(|s| s.left_value == f0 && s.right_value == f0);
        return OneSided::Unresolved {
            noise: s.noise,
            h: s.h,
            flat,
        };
    }
    let fine = &resolvable[resolvable.len() - 3..];
    let scale = |s: &Step| s.left.abs() + s.right.abs();
    let finest = fine[2];
    let within_rounding = |s: &Step, d: f64| d.abs() <= 4.0 * s.noise / s.h;
    // Apart by more than the check's own tolerance (1e-7 of the slopes): with
    // 1e-3, |x| + 1000x at 0 (slopes 999 and 1001 exactly, a gap of 1e-3 of
    // them) was no corner while |x| + 999x was one.
    let apart_at = |fine: &[&Step]| {
        let d: Vec<f64> = fine.iter().map(|s| s.right - s.left).collect();
        fine.iter()
            .zip(&d)
            .all(|(s, &d)| d.abs() > Tolerance::MANUAL.rtol * scale(s) && !within_rounding(s, d))
            && (d[1] - d[0]).abs() <= 0.25 * d[1].abs()
            && (d[2] - d[1]).abs() <= 0.25 * d[2].abs()
    };
    let corner_at = |fine: &[&Step]| OneSided::Corner {
        left: fine[2].left,
        right: fine[2].right,
        h: fine[2].h,
    };
    if apart_at(fine) {
        return corner_at(fine);
    }

    // Whether the slopes converge together over three consecutive resolvable
    // steps, and if so the slope (the finest's central difference), its error
    // and whether their gap is only within rounding.
    let together_at = |fine: &[&Step]| -> Option<OneSided> {
        let d: Vec<f64> = fine.iter().map(|s| s.right - s.left).collect();
        let finest = fine[2];
        // A gap above rounding at one step must shrink by the next: a small
        // corner (1e4 + x + 1e-4·relu(x) at 0, slopes 1 and 1.0001) keeps
        // its gap, which falls within rounding only at the finest steps.
        let gap_shrinks = fine.windows(2).zip(d.windows(2)).all(|(s, d)| {
            within_rounding(s[0], d[0])
                || d[1].abs() <= 0.25 * d[0].abs() + 4.0 * s[1].noise / s[1].h
        });
        // The central differences settle too: a smooth f's change by h² (a
        // 64th a step) or within their rounding (noise / h each). A gap of 0
        // by symmetry (an odd f) is no agreement where they jump about.
        let central_rounding = |s: &Step| 2.0 * s.noise / s.h;
        let centrals_settle = (fine[2].central - fine[1].central).abs()
            <= 0.25 * (fine[1].central - fine[0].central).abs()
                + central_rounding(fine[2])
                + central_rounding(fine[1]);
        let shrinking = d[1].abs() <= 0.25 * d[0].abs() && d[2].abs() <= 0.25 * d[1].abs();
        let together =
            gap_shrinks && centrals_settle && (within_rounding(finest, d[2]) || shrinking);
        // The central difference's rounding is noise / h (each of f(x ± h)
        // off by `noise`, over the width 2h).
        together.then(|| OneSided::Agree {
            slope: finest.central,
            h: finest.h,
            error: (finest.central - fine[1].central).abs()
                + finest.noise / finest.h
                + fine[1].noise / fine[1].h,
            rounding_gap: d[2] != 0.0 && !shrinking,
            hidden: None,
        })
    };
    let agree = together_at(fine);
    // The finest steps may leave a gap to rounding that coarser ones resolve:
    // a corner two coarser steps see settled is one, as far as the
    // differences tell, if the finest steps' rounding could hide it (|x − 1| +
    // 1e6·x at 1, slopes 1e6 ∓ 1, to 1e-9 at h = 1e-2 and within rounding at
    // 7e-11; x + 1e6 + 1e-5·|x| at 0, resolved at two steps only). Where the
    // finest steps could have seen it, it is gone there: f turns on a finer
    // scale than the coarse steps (x + √(x² + 1e-200) at 0, a corner at 1e-99
    // and no gap below 1e-108).
    let hidden = |g: f64| g.abs() <= 2.0 * (4.0 * finest.noise / finest.h);
    let settled_apart = |w: &[&Step]| {
        let (a, b) = (w[0].right - w[0].left, w[1].right - w[1].left);
        w.iter()
            .zip([a, b])
            .all(|(s, d)| d.abs() > Tolerance::MANUAL.rtol * scale(s) && !within_rounding(s, d))
            && (b - a).abs() <= 0.25 * b.abs()
            && hidden(b)
    };
    if let Some(w) = resolvable.windows(2).rev().find(|w| settled_apart(w)) {
        return OneSided::Corner {
            left: w[1].left,
            right: w[1].right,
            h: w[1].h,
        };
    }
    if let Some(agree) = agree {
        // The finest steps decide (the derivative is their limit); where they
        // stop short of the finest step tried by more than a step, f's
        // rounding hides what f does between (a coarser window that knows
        // the slope better proves nothing below it: x + 1000 +
        // 1e-13·tanh(1e8·x) at 0 reads slope 1 at 1.6e-4, f′(0) = 1.00001).
        let tried = steps.last().map_or(finest.h, |s| s.h);
        return match agree {
            OneSided::Agree {
                slope,
                h,
                error,
                rounding_gap,
                ..
            } if finest.h > 8.0 * tried => OneSided::Agree {
                slope,
                h,
                error,
                rounding_gap,
                hidden: Some(tried),
            },
            other => other,
        };
    }
    OneSided::Unsettled {
        left: finest.left,
        right: finest.right,
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A number for JSON: non-finite ones as strings ("NaN", "inf").
fn jnum(x: f64) -> Value {
    if x.is_finite() {
        json!(x)
    } else {
        json!(x.to_string())
    }
}

/// The values, gradients and nodes of a run.
fn report_json(r: &Recorded<'_>, g: &Gradients<'_>) -> Value {
    let tape = r.output.tape();
    let quantity = |(name, v): &(String, Var)| json!({"name": name, "node": v.index(), "value": jnum(v.value()), "gradient": jnum(g[*v])});
    json!({
        "output": {"name": tape.display_name(r.output.index()), "node": r.output.index(), "value": jnum(r.output.value())},
        "variables": r.variables.iter().map(quantity).collect::<Vec<_>>(),
        "named": r.named.iter().map(quantity).collect::<Vec<_>>(),
        "nodes": (0..tape.len()).map(|i| json!({
            "index": i,
            "name": tape.display_name(i),
            "op": tape.op(i).name(),
            "value": jnum(tape.value(i)),
            "gradient": jnum(g.by_index(i)),
            "edges": tape.edges(i).iter().map(|&(o, p)| json!({"operand": o, "partial": jnum(p)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

/// The most factors (over the paths it lists, at most
/// 16 by default; `path_count` counts them all) of an explanation `grad --json` writes
/// in full. Each variable's explanation is a path through the formula, so all
/// of them grow as variables × nodes (74 MB for a sum of 1,000 variables);
/// a longer one is written as its summary, and `explain --wrt NAME --json`
/// writes it in full.
const GRAD_JSON_MAX_FACTORS: usize = 64;

/// `grad --json`'s explanations, one per variable: in full up to
/// [`GRAD_JSON_MAX_FACTORS`] factors, else a summary whose `omitted` says so.
fn explanations_json(g: &Gradients<'_>, vars: &[(String, Var)]) -> Value {
    Value::Array(
        vars.iter()
            .map(|(name, v)| {
                let e = g.explain(*v);
                let factors = factor_count(&e);
                if factors <= GRAD_JSON_MAX_FACTORS {
                    return explanation_json(&e);
                }
                let q = |q: Quantity| e.name(q);
                json!({
                    "of": q(Quantity::Node(e.output())),
                    "wrt": q(Quantity::Node(e.input())),
                    "gradient": jnum(e.gradient()),
                    "path_count": count_json(e.path_count()),
                    "factor_count": factors,
                    "paths": null,
                    "text": null,
                    "omitted": format!(
                        "the paths and text of this explanation ({factors} factors) are not written: grad --json writes an explanation of at most {GRAD_JSON_MAX_FACTORS} factors in full; `chainrule explain --wrt {name} --json` writes it"
                    ),
                })
            })
            .collect(),
    )
}

/// A path count as JSON: an integer up to `u64::MAX` (what JSON readers take),
/// past it the nearest `f64` (a count past 2¹²⁸ − 1 saturates there; the text
/// says "more than").
fn count_json(count: u128) -> Value {
    match u64::try_from(count) {
        Ok(n) => Value::from(n),
        Err(_) => Value::from(count as f64),
    }
}

/// The factors of an explanation's listed paths, all together.
fn factor_count(e: &Explanation) -> usize {
    e.paths().iter().map(|p| p.factors.len()).sum()
}

fn explanation_json(e: &Explanation) -> Value {
    let name = |q: Quantity| e.name(q);
    json!({
        "of": name(Quantity::Node(e.output())),
        "wrt": name(Quantity::Node(e.input())),
        "gradient": jnum(e.gradient()),
        "path_count": count_json(e.path_count()),
        "factor_count": factor_count(e),
        "paths": e.paths().iter().map(|p| json!({
            "factors": p.factors.iter().map(|f| json!({
                "of": name(f.of), "wrt": name(f.wrt), "value": jnum(f.value), "masked": f.masked,
                "direct": e.is_direct(f),
            })).collect::<Vec<_>>(),
            "product": jnum(p.product),
        })).collect::<Vec<_>>(),
        "text": e.to_string(),
    })
}

fn write_file(path: &Path, contents: &str) -> Result<(), Failure> {
    if path.as_os_str() == "-" {
        to_stdout(format_args!("{contents}"));
        return Ok(());
    }
    std::fs::write(path, contents)
        .map_err(|e| Failure::input(format!("cannot write {}: {e}", path.display())))
}

/// `--dot`, `--svg`, `--html`.
fn drawings(
    tape: &Tape,
    g: &Gradients<'_>,
    outputs: &Outputs,
    focus: Option<usize>,
) -> Result<(), Failure> {
    let mut dot = Dot::new(tape).gradients(g);
    if let Some(k) = outputs.within {
        dot = dot.within(k);
    }
    if let Some(path) = &outputs.dot {
        write_file(path, &dot.to_string())?;
        if path.as_os_str() != "-" {
            eprintln!("wrote {}", path.display());
        }
    }
    if let Some(path) = &outputs.svg {
        let child = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Failure::input(
                    "--svg needs Graphviz's `dot`, which is not installed (Debian: apt-get install graphviz); \
                     --dot FILE writes the graph for it, and --html FILE draws it with no Graphviz at all",
                ))
            }
            Err(e) => return Err(Failure::input(format!("cannot run Graphviz's `dot`: {e}"))),
        };
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(dot.to_string().as_bytes())
                .map_err(|e| Failure::input(format!("cannot write to Graphviz's `dot`: {e}")))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Failure::input(format!("Graphviz's `dot` failed: {e}")))?;
        if !out.status.success() {
            return Err(Failure::input(format!(
                "Graphviz's `dot` failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        write_file(path, &String::from_utf8_lossy(&out.stdout))?;
        if path.as_os_str() != "-" {
            eprintln!("wrote {}", path.display());
        }
    }
    if let Some(path) = &outputs.html {
        let mut html = Html::new(g);
        if let Some(k) = outputs.within {
            html = html.within(k);
        }
        if let Some(f) = focus {
            html = html.focus(f);
        }
        let page = html.render().map_err(|e| {
            Failure::input(format!(
                "--html: {}",
                e.to_string()
                    .replace("within(k) (on the command line, --within K)", "--within K")
                    .replace("e.g. within(3)", "e.g. --within 3")
            ))
        })?;
        write_file(path, &page)?;
        if path.as_os_str() != "-" {
            eprintln!("wrote {} (open it in a browser; → steps)", path.display());
        }
    }
    Ok(())
}
