//! Formulas: parsed by pest (the grammar is `formula.pest`, precedence by pest's
//! Pratt parser), checked, then recorded on a tape.
//!
//! A program is lines (or `;`-separated statements) of `name = expression` and
//! expressions; the last is the output (only the last may be a bare
//! expression). `name = number`, or an expression of numbers alone
//! (`name = 1/2`), declares a variable with a default value (`--at` overrides
//! it); any other assignment names an intermediate node. Names used without
//! being assigned are variables. `#` starts a comment, to the end of the line
//! or the next `;`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::LazyLock;

use chainrule::{Tape, Var};
use pest::iterators::{Pair, Pairs};
use pest::pratt_parser::{Assoc, Op, PrattParser};
use pest::Parser as _;

#[derive(pest_derive::Parser)]
#[grammar = "bin/chainrule/formula.pest"]
struct Grammar;

/// How a function takes its arguments.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `f(a)`: every op of the library's table [`chainrule::ops::UNARY`].
    Unary(for<'t> fn(Var<'t>) -> Var<'t>),
    /// `f(a, b)`, both may be variables. Where the op also takes an `f64`
    /// operand (`max(x, 0.5)`, `atan2(1, x)`), that form is recorded, so a
    /// number stays a constant of the op instead of becoming a leaf.
    Binary {
        both: for<'t> fn(Var<'t>, Var<'t>) -> Var<'t>,
        /// `f(a, c)` with `c` a number.
        var_number: Option<for<'t> fn(Var<'t>, f64) -> Var<'t>>,
        /// `f(c, b)` with `c` a number.
        number_var: Option<for<'t> fn(f64, Var<'t>) -> Var<'t>>,
    },
    /// `f(a, b, c)`, all three may be variables.
    Ternary(for<'t> fn(Var<'t>, Var<'t>, Var<'t>) -> Var<'t>),
    /// `f(a, c)` with `c` a number (a constant of the op, not an operand).
    WithConstant(for<'t> fn(Var<'t>, f64) -> Var<'t>),
    /// `f(a, c, d)` with `c` and `d` numbers.
    WithTwoConstants(for<'t> fn(Var<'t>, f64, f64) -> Var<'t>),
    /// `f(a, b, …)`: one or more arguments.
    Variadic(for<'t> fn(&[Var<'t>]) -> Var<'t>),
}

impl Kind {
    /// How many arguments it takes: (at least, at most).
    pub fn arity(&self) -> (usize, usize) {
        match self {
            Kind::Unary(_) => (1, 1),
            Kind::Binary { .. } | Kind::WithConstant(_) => (2, 2),
            Kind::Ternary(_) | Kind::WithTwoConstants(_) => (3, 3),
            Kind::Variadic(_) => (1, usize::MAX),
        }
    }
}

/// One function of the formula language: a `Var` method under its own name.
pub struct Function {
    pub name: &'static str,
    /// Its arguments as `chainrule functions` shows them, e.g. `x, base`.
    pub args: &'static str,
    pub kind: Kind,
    /// What it computes, for `chainrule functions`.
    pub about: String,
}

fn powi<'t>(a: Var<'t>, n: f64) -> Var<'t> {
    a.powi(n as i32)
}

/// The functions of more than one argument, written by hand (each is the `Var`
/// method of the same name). The unary ones are not here: they come from the
/// library's own table.
// The closures around `Var::const_atan2` and `Var::logsumexp` are not
// redundant: the methods' lifetime is the impl's, fixed at the path, so only a
// closure coerces to the `for<'t> fn` pointer.
#[allow(clippy::redundant_closure)]
fn hand_written() -> Vec<Function> {
    let f = |name, args, kind, about: &str| Function {
        name,
        args,
        kind,
        about: about.to_string(),
    };
    vec![
        f(
            "pow",
            "a, b",
            Kind::Binary {
                both: |a, b| a.pow(b),
                var_number: Some(|a, c| a.powf(c)),
                number_var: None,
            },
            "a^b, both may vary",
        ),
        f(
            "powi",
            "x, n",
            Kind::WithConstant(powi),
            "x^n for an integer n",
        ),
        f(
            "powf",
            "x, c",
            Kind::WithConstant(|a, c| a.powf(c)),
            "x^c for a number c",
        ),
        f(
            "log",
            "x, base",
            Kind::WithConstant(|a, base| a.log(base)),
            "log_base x, base a number above 0, not 1 (the natural logarithm is ln)",
        ),
        f(
            "leaky_relu",
            "x, alpha",
            Kind::WithConstant(|a, c| a.leaky_relu(c)),
            "x if x > 0, else alpha·x (alpha a number)",
        ),
        f(
            "clamp",
            "x, lo, hi",
            Kind::WithTwoConstants(|a, lo, hi| a.clamp(lo, hi)),
            "x held to [lo, hi] (numbers, lo ≤ hi)",
        ),
        f(
            "max",
            "a, b",
            Kind::Binary {
                both: |a, b| a.max(b),
                var_number: Some(|a, c| a.max(c)),
                number_var: Some(|c, b| b.max(c)),
            },
            "the larger of a and b (½ each on a tie)",
        ),
        f(
            "min",
            "a, b",
            Kind::Binary {
                both: |a, b| a.min(b),
                var_number: Some(|a, c| a.min(c)),
                number_var: Some(|c, b| b.min(c)),
            },
            "the smaller of a and b (½ each on a tie)",
        ),
        f(
            "atan2",
            "y, x",
            Kind::Binary {
                both: |y, x| y.atan2(x),
                var_number: Some(|y, c| y.atan2(c)),
                number_var: Some(|c, x| Var::const_atan2(c, x)),
            },
            "the angle of the point (x, y), in [−π, π]",
        ),
        f(
            "hypot",
            "x, y",
            Kind::Binary {
                both: |x, y| x.hypot(y),
                var_number: Some(|x, c| x.hypot(c)),
                number_var: Some(|c, y| y.hypot(c)),
            },
            "√(x² + y²) without overflow",
        ),
        f(
            "mul_add",
            "a, b, c",
            Kind::Ternary(|a, b, c| a.mul_add(b, c)),
            "a·b + c with one rounding",
        ),
        f(
            "logsumexp",
            "a, b, …",
            Kind::Variadic(|xs| Var::logsumexp(xs)),
            "ln(e^a + e^b + …) without overflow",
        ),
    ]
}

/// Every function a formula can call: each unary op of the library's table
/// ([`chainrule::ops::UNARY`], so a new op is here with no edit), then the
/// functions of several arguments ([`hand_written`]).
pub static FUNCTIONS: LazyLock<Vec<Function>> = LazyLock::new(|| {
    let mut all: Vec<Function> = chainrule::ops::UNARY
        .iter()
        .map(|u| Function {
            name: u.name,
            args: "x",
            kind: Kind::Unary(u.record),
            about: format!("{}    d/dx = {}", u.formula, u.derivative),
        })
        .collect();
    for f in hand_written() {
        assert!(
            all.iter().all(|g| g.name != f.name),
            "'{}' is both in the op table and written by hand",
            f.name
        );
        all.push(f);
    }
    all
});

/// Where something is in the source: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub line: usize,
    pub column: usize,
}

/// Where each byte of a source is, as [`Span`]s: found in O(log lines), where
/// pest's `line_col` counts from the start of the source at each call (O(n)
/// a call, O(n²) a formula of n terms: 19 s for 100,000).
struct Locator {
    /// The byte offset of each line's start.
    line_starts: Vec<usize>,
    /// The number of characters before each byte offset (read at character
    /// boundaries), or empty for an ASCII source (one byte, one character).
    chars_before: Vec<usize>,
}

impl Locator {
    fn new(source: &str) -> Locator {
        let line_starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        let mut chars_before = Vec::new();
        if !source.is_ascii() {
            chars_before = vec![0; source.len() + 1];
            for (count, (i, c)) in source.char_indices().enumerate() {
                chars_before[i] = count;
                chars_before[i + c.len_utf8()] = count + 1;
            }
        }
        Locator {
            line_starts,
            chars_before,
        }
    }

    /// The place of byte offset `pos` (a character boundary): as pest's
    /// `Position::line_col`, lines end at '\n' (the '\r' of "\r\n" ends
    /// its line) and columns count characters, both from 1.
    fn span(&self, pos: usize) -> Span {
        let line = self.line_starts.partition_point(|&start| start <= pos);
        let start = self.line_starts[line - 1];
        let chars = if self.chars_before.is_empty() {
            pos - start
        } else {
            self.chars_before[pos] - self.chars_before[start]
        };
        Span {
            line,
            column: chars + 1,
        }
    }

    fn of(&self, pair: &Pair<'_, Rule>) -> Span {
        self.span(pair.as_span().start())
    }
}

/// A mistake in a formula, with where it is.
#[derive(Debug)]
pub struct FormulaError {
    pub span: Span,
    /// What is wrong, with `{at}` where "at column C" (or "at line L, column C")
    /// goes.
    pub message: String,
}

impl FormulaError {
    fn new(span: Span, message: impl Into<String>) -> Self {
        FormulaError {
            span,
            message: message.into(),
        }
    }

    /// The message with its place, and the source line with a caret under it.
    pub fn render(&self, source: &str) -> String {
        /// Characters shown on each side of the column of a long line.
        const CONTEXT: usize = 60;
        let multiline = source.trim_end().contains('\n');
        let at = if multiline {
            format!("at line {}, column {}", self.span.line, self.span.column)
        } else {
            format!("at column {}", self.span.column)
        };
        let mut out = self.message.replace("{at}", &at);
        if let Some(line) = source.lines().nth(self.span.line.saturating_sub(1)) {
            let gutter = if multiline {
                format!("{} | ", self.span.line)
            } else {
                "  ".to_string()
            };
            // A long line (a generated formula of 100,000 characters) is shown
            // as a window around the column, not echoed whole.
            let chars: Vec<char> = line.chars().collect();
            let column = self.span.column.saturating_sub(1).min(chars.len());
            let (start, end) = if chars.len() > 2 * CONTEXT {
                (
                    column.saturating_sub(CONTEXT),
                    (column + CONTEXT).min(chars.len()),
                )
            } else {
                (0, chars.len())
            };
            let before = if start > 0 { "…" } else { "" };
            let after = if end < chars.len() { "…" } else { "" };
            let shown: String = chars[start..end].iter().collect();
            // The caret's indent copies the line's tabs, so that it sits under
            // the column however wide a terminal shows a tab.
            let indent: String = before
                .chars()
                .chain(chars[start..column].iter().copied())
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!(
                "\n{gutter}{before}{shown}{after}\n{}{indent}^",
                " ".repeat(gutter.chars().count())
            ));
        }
        out
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
}

#[derive(Clone, Debug)]
pub enum Expr {
    Number(f64, Span),
    Name(String, Span),
    /// `-e`, with where its `-` is (an error about it points there).
    Neg(Box<Expr>, Span),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Call {
        function: usize,
        args: Vec<Expr>,
        span: Span,
    },
}

impl Expr {
    fn span(&self) -> Span {
        match self {
            Expr::Number(_, s) | Expr::Name(_, s) | Expr::Call { span: s, .. } => *s,
            Expr::Neg(_, s) => *s,
            Expr::Binary(_, a, _) => a.span(),
        }
    }

    /// Every name used, with where (first use first).
    fn names(&self, out: &mut Vec<(String, Span)>) {
        match self {
            Expr::Number(..) => {}
            Expr::Name(n, s) => out.push((n.clone(), *s)),
            Expr::Neg(e, _) => e.names(out),
            Expr::Binary(_, a, b) => {
                a.names(out);
                b.names(out);
            }
            Expr::Call { args, .. } => args.iter().for_each(|a| a.names(out)),
        }
    }
}

/// One line of a program.
#[derive(Clone, Debug)]
pub struct Statement {
    /// `Some(name)` for `name = expression`.
    pub name: Option<(String, Span)>,
    pub expr: Expr,
}

/// A parsed, checked program.
#[derive(Clone, Debug)]
pub struct Program {
    pub statements: Vec<Statement>,
    /// The variables in order of first appearance, with their default values
    /// (`name = number` lines) and where each is first used or declared.
    pub variables: Vec<(String, Option<f64>, Span)>,
}

/// The most operators and parentheses one line (or `;`-separated part) may
/// hold. Parsing, folding and recording recurse once per level of nesting, and
/// a line's nesting is at most that count (a sum of n terms is n levels deep):
/// the command's stack (1 GiB) holds this many even in a debug build (~10 KiB a
/// level for a run of minus signs), where the default 8 MiB overflowed at
/// ~50,000 in a release build (an abort, not an error).
pub const MAX_NESTING: usize = 50_000;

/// Refuses a line deeper than [`MAX_NESTING`] could be, before any recursion.
fn check_nesting(source: &str) -> Result<(), FormulaError> {
    for (k, line) in source.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("");
        for part in line.split(';') {
            let count = part.chars().filter(|c| "()+-−*·×/^".contains(*c)).count();
            if count > MAX_NESTING {
                return Err(FormulaError::new(
                    Span {
                        line: k + 1,
                        column: 1,
                    },
                    format!(
                        "{count} operators and parentheses in one line (the one {{at}}), more than the {MAX_NESTING} the command line takes: name parts of it on lines of their own (`s1 = …`), which nest no deeper"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Names other texts and tools give the functions: `sign(x)` is `signum(x)`
/// here, `arctan` is `atan`. An unknown function is looked up here before the
/// nearest spelling is suggested (which took `sign` for `sin`).
const ALIASES: &[(&str, &str)] = &[
    ("sign", "signum"),
    ("sgn", "signum"),
    ("arcsin", "asin"),
    ("arccos", "acos"),
    ("arctan", "atan"),
    ("arctan2", "atan2"),
    ("arcsinh", "asinh"),
    ("arsinh", "asinh"),
    ("arccosh", "acosh"),
    ("arcosh", "acosh"),
    ("arctanh", "atanh"),
    ("artanh", "atanh"),
    ("sigma", "sigmoid"),
    ("logistic", "sigmoid"),
    ("expit", "sigmoid"),
    ("swish", "silu"),
    ("sqr", "square"),
    ("inv", "recip"),
    ("reciprocal", "recip"),
    ("logaddexp", "logsumexp"),
    ("fma", "mul_add"),
    ("loge", "ln"),
    ("lb", "log2"),
    ("ld", "log2"),
    ("tg", "tan"),
    ("arctg", "atan"),
    ("tan2", "atan2"),
    ("arctan2", "atan2"),
];

/// The function a formula means by an unknown name: its alias, else the
/// nearest spelling among `names`.
pub fn suggest_function<'a>(
    wanted: &str,
    names: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let names: Vec<&'a str> = names.into_iter().collect();
    // `SIN(x)`: the name in lower case, before any spelling (capitals are
    // as far from it as other letters).
    let lower = wanted.to_lowercase();
    let wanted = lower.as_str();
    names
        .iter()
        .copied()
        .find(|n| *n == wanted)
        .or_else(|| {
            ALIASES
                .iter()
                .find(|(alias, _)| *alias == wanted)
                .and_then(|(_, name)| names.iter().copied().find(|n| n == name))
        })
        .or_else(|| suggest(wanted, names))
}

/// Functions other texts have and a formula writes otherwise: `sec(x)` is
/// `1/cos(x)` (the nearest spelling, `sin`, misled).
const REWRITES: &[(&str, &str)] = &[
    ("sec", "1/cos(x)"),
    ("csc", "1/sin(x)"),
    ("cosec", "1/sin(x)"),
    ("cot", "1/tan(x)"),
    ("sech", "1/cosh(x)"),
    ("csch", "1/sinh(x)"),
    ("coth", "1/tanh(x)"),
    ("lg", "log10(x) or log2(x), as you mean it"),
    ("exp10", "10^x"),
    ("ctg", "1/tan(x)"),
    ("cotan", "1/tan(x)"),
    ("acot", "atan(1/x) (for x > 0)"),
    ("arccot", "atan(1/x) (for x > 0)"),
    ("asec", "acos(1/x)"),
    ("arcsec", "acos(1/x)"),
    ("acsc", "asin(1/x)"),
    ("arccsc", "asin(1/x)"),
    ("sinc", "sin(x)/x"),
    ("gelu", "x*(1 + erf(x/sqrt(2)))/2"),
    ("erfc", "1 - erf(x)"),
];

/// How a formula writes a function other texts have and it has not
/// (`sec(x)` as `1/cos(x)`), if `name` is one.
pub fn rewrite_hint(name: &str) -> Option<String> {
    let lower = name.to_lowercase();
    REWRITES
        .iter()
        .find(|(n, _)| *n == lower)
        .map(|(n, how)| format!("; {n}(x) is written {how}"))
}

/// What a variable with no value may have been meant as: Euler's number or π,
/// which a formula writes otherwise ("" for any other name).
pub fn constant_hint(name: &str) -> &'static str {
    match name {
        "e" => "; Euler's number is no name here: write e^x as exp(x), and e as exp(1)",
        "pi" | "π" => "; π is no name here: write it as 3.141592653589793",
        _ => "",
    }
}

/// The run of superscript digits (and a leading ⁻) at `line`, `column` (both
/// from 1) of `source`, as typed and as the ASCII power it means (`⁻¹`,
/// `-1`); `None` if none starts there.
fn superscript_power(source: &str, line: usize, column: usize) -> Option<(String, String)> {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let text = source.lines().nth(line.checked_sub(1)?)?;
    let mut typed = String::new();
    let mut power = String::new();
    for c in text.chars().skip(column.checked_sub(1)?) {
        if let Some(d) = DIGITS.iter().position(|&s| s == c) {
            power.push(char::from(b'0' + d as u8));
        } else if c == '⁻' && typed.is_empty() {
            power.push('-');
        } else {
            break;
        }
        typed.push(c);
    }
    power
        .chars()
        .any(|c| c.is_ascii_digit())
        .then_some((typed, power))
}

/// The closest names to `wanted` among `candidates`, for "did you mean": one
/// edit away for a name of up to four letters (two would make `foo` a slip for
/// `cos`, a different word), two or a third of the letters beyond that.
pub fn suggest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    // A name that differs only in case (`W1` for w1) first: a capital is one
    // edit, as far as any other letter (`W1` was "did you mean 'x1'?").
    if let Some(same) = candidates
        .iter()
        .copied()
        .find(|c| c.to_lowercase() == wanted.to_lowercase())
    {
        return Some(same);
    }
    let letters = wanted.chars().count();
    let most = if letters <= 4 { 1 } else { 2.max(letters / 3) };
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(wanted, c), c))
        .filter(|&(d, c)| d <= most && d < c.len().max(wanted.len()))
        .min_by_key(|&(d, _)| d)
        .map(|(_, c)| c)
}

fn describe(rule: &Rule) -> &'static str {
    match rule {
        Rule::EOI => "the end of the line",
        Rule::expression | Rule::primary | Rule::call | Rule::negate => "an expression",
        Rule::number => "a number",
        Rule::name => "a name",
        Rule::add | Rule::subtract | Rule::multiply | Rule::divide | Rule::power => "an operator",
        Rule::assignment => "an assignment",
        _ => "something else",
    }
}

fn pratt() -> PrattParser<Rule> {
    PrattParser::new()
        .op(Op::infix(Rule::add, Assoc::Left) | Op::infix(Rule::subtract, Assoc::Left))
        .op(Op::infix(Rule::multiply, Assoc::Left) | Op::infix(Rule::divide, Assoc::Left))
        .op(Op::prefix(Rule::negate))
        .op(Op::infix(Rule::power, Assoc::Right))
}

fn expression(
    pairs: Pairs<'_, Rule>,
    pratt: &PrattParser<Rule>,
    at: &Locator,
) -> Result<Expr, FormulaError> {
    pratt
        .map_primary(|p| primary(p, pratt, at))
        .map_prefix(|minus, rhs| Ok(Expr::Neg(Box::new(rhs?), at.of(&minus))))
        .map_infix(|lhs, op, rhs| {
            let op = match op.as_rule() {
                Rule::add => BinOp::Add,
                Rule::subtract => BinOp::Sub,
                Rule::multiply => BinOp::Mul,
                Rule::divide => BinOp::Div,
                _ => BinOp::Pow,
            };
            Ok(Expr::Binary(op, Box::new(lhs?), Box::new(rhs?)))
        })
        .parse(pairs)
}

/// The hint where an operator was expected and a name, a number or `(`
/// follows what came `before` it on the line: `2x`, `2(x + 1)`, `(x+1)(x-1)`
/// and `x y` mean a product, which the grammar writes with `*`; `sin x` a
/// call, whose argument goes in parentheses. `None` elsewhere.
fn juxtaposition_hint(before: &str, found: Option<char>, wanted: &[&str]) -> Option<String> {
    let found = found?;
    if !wanted.contains(&"an operator")
        || !(found.is_ascii_alphanumeric() || found == '_' || found == '(')
    {
        return None;
    }
    let before = before.trim_end();
    let last = before.chars().last()?;
    let word: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '\'')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    // `sin^2(x)`, as textbooks write sin²x: the power goes after the call.
    if found == '(' {
        if let Some(base) = before
            .strip_suffix(word.as_str())
            .and_then(|b| b.trim_end().strip_suffix('^'))
        {
            let function: String = base
                .trim_end()
                .chars()
                .rev()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            if FUNCTIONS.iter().any(|f| f.name == function) {
                return Some(format!(
                    "; a power of a function's value is written after the call: {function}(x)^{word}, not {function}^{word}(x)"
                ));
            }
        }
    }
    if found != '(' && FUNCTIONS.iter().any(|f| f.name == word) {
        Some(format!(
            "; a function's argument goes in parentheses: {word}(x), not {word} x"
        ))
    } else if last.is_ascii_alphanumeric() || last == '_' || last == '\'' || last == ')' {
        Some("; a product is written with *: 2*x, not 2x or 2 x".to_string())
    } else {
        None
    }
}

/// Whether a decimal that parsed to 0 has a digit other than 0 before its
/// exponent (`1e-400`, which underflows; not `0.0e5`).
pub fn underflows(text: &str) -> bool {
    let mantissa = text.split(['e', 'E']).next().unwrap_or(text);
    mantissa.chars().any(|c| matches!(c, '1'..='9'))
}

fn primary(
    p: Pair<'_, Rule>,
    pratt: &PrattParser<Rule>,
    at: &Locator,
) -> Result<Expr, FormulaError> {
    let span = at.of(&p);
    match p.as_rule() {
        Rule::number => match p.as_str().parse::<f64>() {
            Ok(v) if v.is_infinite() => Err(FormulaError::new(
                span,
                format!(
                    "'{}' is beyond the largest f64 (about 1.8e308) {{at}}",
                    p.as_str()
                ),
            )),
            Ok(v) if v == 0.0 && underflows(p.as_str()) => Err(FormulaError::new(
                span,
                format!(
                    "'{}' is below the smallest f64 (about 4.9e-324): it would read as 0 {{at}}; write 0 if you mean it",
                    p.as_str()
                ),
            )),
            Ok(v) => Ok(Expr::Number(v, span)),
            Err(_) => Err(FormulaError::new(
                span,
                format!("'{}' is not a number {{at}}", p.as_str()),
            )),
        },
        Rule::name => Ok(Expr::Name(p.as_str().to_string(), span)),
        Rule::expression => expression(p.into_inner(), pratt, at),
        _ => {
            // A call.
            let mut inner = p.into_inner();
            let name = inner
                .next()
                .map(|n| n.as_str().to_string())
                .unwrap_or_default();
            let args = inner
                .map(|a| expression(a.into_inner(), pratt, at))
                .collect::<Result<Vec<_>, _>>()?;
            let Some(function) = FUNCTIONS.iter().position(|f| f.name == name) else {
                let hint = match (
                    rewrite_hint(&name),
                    suggest_function(&name, FUNCTIONS.iter().map(|f| f.name)),
                ) {
                    (Some(how), _) => how,
                    (None, Some(s)) => format!("; did you mean '{s}'?"),
                    // `x(y + 1)`, meant as a product.
                    (None, None) => format!(
                        "; `chainrule functions` lists them (if '{name}' is a quantity, a product is written with *: {name}*(…))"
                    ),
                };
                return Err(FormulaError::new(
                    span,
                    format!("unknown function '{name}' {{at}}{hint}"),
                ));
            };
            let f = &FUNCTIONS[function];
            let (least, most) = f.kind.arity();
            if args.len() < least || args.len() > most {
                let wanted = if most == usize::MAX {
                    format!("{least} or more arguments")
                } else {
                    format!("{least} argument{}", if least == 1 { "" } else { "s" })
                };
                let hint = if name == "log" && args.len() == 1 {
                    " (the natural logarithm is ln(x))"
                } else {
                    ""
                };
                return Err(FormulaError::new(
                    span,
                    format!(
                        "'{name}' takes {wanted} ({name}({})), not {} {{at}}{hint}",
                        f.args,
                        args.len()
                    ),
                ));
            }
            Ok(Expr::Call {
                function,
                args,
                span,
            })
        }
    }
}

/// Parses and checks a program.
pub fn parse(source: &str) -> Result<Program, FormulaError> {
    check_nesting(source)?;
    let pairs = Grammar::parse(Rule::program, source).map_err(|e| {
        let (line, column) = match e.line_col {
            pest::error::LineColLocation::Pos(p) | pest::error::LineColLocation::Span(p, _) => p,
        };
        let message = match &e.variant {
            pest::error::ErrorVariant::ParsingError { positives, .. } => {
                let mut wanted: Vec<&str> = positives.iter().map(describe).collect();
                wanted.sort_unstable();
                wanted.dedup();
                if wanted.contains(&"an expression") {
                    wanted.retain(|w| *w != "a name" && *w != "a number");
                }
                // A rule with no plain name (the start of a statement) says nothing.
                wanted.retain(|w| *w != "something else");
                // An unclosed parenthesis: say so (')' is no rule of its own).
                let before: String = source
                    .lines()
                    .nth(line - 1)
                    .unwrap_or("")
                    .chars()
                    .take(column - 1)
                    .collect();
                let mut open = Vec::new();
                for (k, c) in before.chars().enumerate() {
                    match c {
                        '(' => open.push(k + 1),
                        ')' => {
                            open.pop();
                        }
                        _ => {}
                    }
                }
                let close;
                if let Some(&at) = open.last() {
                    if wanted.contains(&"an operator") {
                        close = format!("')' (to close the '(' at column {at})");
                        wanted.push(&close);
                    }
                }
                let found_char = source
                    .lines()
                    .nth(line - 1)
                    .and_then(|l| l.chars().nth(column - 1));
                let found = found_char.map_or("the end".to_string(), |c| format!("'{c}'"));
                // `x ** 2` (Python's power): say what this grammar spells it.
                let after_star = column >= 2
                    && source
                        .lines()
                        .nth(line - 1)
                        .and_then(|l| l.chars().nth(column - 2))
                        == Some('*');
                let superscript_hint;
                let juxtaposed;
                let power_hint: &str = if found == "'*'" && after_star {
                    "; a power is written with ^ (x^2), not **"
                } else if let Some((typed, power)) = superscript_power(source, line, column) {
                    // The power as typed: `x³` is x^3, `x⁻¹` x^-1.
                    superscript_hint = format!("; a power is written with ^: ^{power}, not {typed} (x^{power} for x{typed})");
                    &superscript_hint
                } else if found_char == Some('√') {
                    "; a square root is written sqrt(x), not √x"
                } else if found_char == Some('÷') {
                    "; a quotient is written with /: x/y, not x÷y"
                } else if found_char == Some('⋅') {
                    // (· and × are products in the grammar; ⋅, the dot operator, is not.)
                    "; a product is written x*y, x·y or x×y"
                } else if found_char == Some('|')
                    && source.lines().nth(line - 1).and_then(|l| l.chars().nth(column)) != Some('|')
                {
                    "; an absolute value is written abs(x), not |x|"
                } else if found_char.is_some_and(|c| !c.is_ascii() && c.is_alphabetic()) {
                    "; a name is made of ASCII letters, digits, _ and ' (and starts with a letter or _)"
                } else if let Some(hint) = juxtaposition_hint(&before, found_char, &wanted) {
                    juxtaposed = hint;
                    &juxtaposed
                } else {
                    ""
                };
                if wanted.is_empty() {
                    format!("unexpected {found} {{at}}{power_hint}")
                } else {
                    format!(
                        "expected {} {{at}}, found {found}{power_hint}",
                        wanted.join(" or ")
                    )
                }
            }
            pest::error::ErrorVariant::CustomError { message } => format!("{message} {{at}}"),
        };
        FormulaError::new(Span { line, column }, message)
    })?;
    let pratt = pratt();
    let at = Locator::new(source);
    let program = pairs.into_iter().next().expect("the grammar's start rule");
    let mut statements = Vec::new();
    for p in program.into_inner() {
        match p.as_rule() {
            Rule::assignment => {
                let mut inner = p.into_inner();
                let name = inner.next().expect("a name");
                let expr = inner.next().expect("an expression");
                statements.push(Statement {
                    name: Some((name.as_str().to_string(), at.of(&name))),
                    expr: expression(expr.into_inner(), &pratt, &at)?,
                });
            }
            Rule::expression => statements.push(Statement {
                name: None,
                expr: expression(p.into_inner(), &pratt, &at)?,
            }),
            _ => {} // EOI
        }
    }
    if statements.is_empty() {
        return Err(FormulaError::new(
            Span { line: 1, column: 1 },
            "the formula is empty {at}",
        ));
    }
    // Only the last line may be a bare expression (it is the output): one
    // before it was dropped without a word, and a line meant to continue the
    // one above (`E = (1 - x)^2` then `  - (3 - x)^2`) became the output.
    if let Some(s) = statements[..statements.len() - 1]
        .iter()
        .find(|s| s.name.is_none())
    {
        return Err(FormulaError::new(
            s.expr.span(),
            "an expression with no name {at}, before the last line: only the last line (the output) may be one; name it (`name = …`) to use it below, or remove it (a line does not continue on the next: write one expression on one line, or name its parts)",
        ));
    }

    // Names: each assigned once, none used before its line, no function names.
    let mut assigned: HashMap<&str, Span> = HashMap::new();
    let mut variables: Vec<(String, Option<f64>, Span)> = Vec::new();
    // Looked up by name, not searched for at each use (that was O(uses ×
    // lines) and O(uses × variables)): the first line defining each name, and
    // the names in `variables`.
    let mut defined: HashMap<&str, Span> = HashMap::new();
    for s in &statements {
        if let Some((name, span)) = &s.name {
            defined.entry(name.as_str()).or_insert(*span);
        }
    }
    let mut variable_names: HashSet<String> = HashSet::new();
    for s in &statements {
        let mut used = Vec::new();
        s.expr.names(&mut used);
        for (name, span) in used {
            if FUNCTIONS.iter().any(|f| f.name == name) {
                return Err(FormulaError::new(
                    span,
                    format!("'{name}' is a function: call it as {name}(…) {{at}}"),
                ));
            }
            if !assigned.contains_key(name.as_str()) {
                if let Some(later) = defined.get(name.as_str()) {
                    return Err(FormulaError::new(
                        span,
                        format!("'{name}' is used {{at}} before it is defined ({later})"),
                    ));
                }
                if variable_names.insert(name.clone()) {
                    variables.push((name, None, span));
                }
            }
        }
        if let Some((name, span)) = &s.name {
            if let Some(first) = assigned.get(name.as_str()) {
                return Err(FormulaError::new(*span, format!("'{name}' is defined a second time {{at}} (each name is defined once; the first is at {first})")));
            }
            if FUNCTIONS.iter().any(|f| f.name == name) {
                return Err(FormulaError::new(
                    *span,
                    format!("'{name}' is a function's name: choose another name {{at}}"),
                ));
            }
            assigned.insert(name, *span);
            // `name = 0.4`, and as well a line of numbers alone (`lr = 1/2`,
            // `c = 2*3`, `e = exp(1)`), which was folded into an unnamed
            // constant: no ∂f/∂c, and `--at c=…` refused as a computed line.
            let value = match literal(&s.expr) {
                Some(value) => Some(value),
                None => constant(&s.expr)?,
            };
            if let Some(value) = value {
                variable_names.insert(name.clone());
                variables.push((name.clone(), Some(value), *span));
            }
        }
    }
    Ok(Program {
        statements,
        variables,
    })
}

/// The value of an expression of numbers alone (no names), computed with the
/// ops that record it; `None` for one with names.
fn constant(e: &Expr) -> Result<Option<f64>, FormulaError> {
    let mut names = Vec::new();
    e.names(&mut names);
    if !names.is_empty() {
        return Ok(None);
    }
    let tape = Tape::new();
    let recorder = Recorder {
        tape: &tape,
        env: HashMap::new(),
        non_finite: std::cell::Cell::new(0),
        first_nan: std::cell::Cell::new(None),
        constants: Default::default(),
    };
    Ok(Some(match recorder.eval(e)? {
        Val::Const(c) => c,
        Val::Node(n) => n.value(),
    }))
}

/// The value of a (possibly negated) number literal.
fn literal(e: &Expr) -> Option<f64> {
    match e {
        Expr::Number(v, _) => Some(*v),
        Expr::Neg(inner, _) => literal(inner).map(|v| -v),
        _ => None,
    }
}

/// A value during recording: a node of the tape, or a constant folded into the
/// ops that use it (as `x * 2.0` records one `mul_const` node).
#[derive(Clone, Copy)]
enum Val<'t> {
    Const(f64),
    Node(Var<'t>),
}

/// A program recorded on a tape.
pub struct Recorded<'t> {
    /// The variables, in order, as leaves named by their names.
    pub variables: Vec<(String, Var<'t>)>,
    /// The named intermediate nodes, in order.
    pub named: Vec<(String, Var<'t>)>,
    /// Every name's value (variables, intermediates, named constants).
    pub values: HashMap<String, f64>,
    /// The output, labelled (`f` unless the last line names it).
    pub output: Var<'t>,
    /// The constant of each node `a + c`, `a - c`, `c - a`, `a / c`, `c / a`
    /// recorded from the formula, by node index.
    pub constants: HashMap<usize, f64>,
}

/// Evaluates `f(c)` for a constant `c` with the very same op, on a scratch tape.
fn constant_unary(f: for<'s> fn(Var<'s>) -> Var<'s>, c: f64) -> f64 {
    let scratch = Tape::new();
    f(scratch.var(c)).value()
}

struct Recorder<'t, 'p> {
    tape: &'t Tape,
    env: HashMap<&'p str, Val<'t>>,
    /// How many constants computed were NaN or infinite from finite operands
    /// (only [`evaluate`], which computes in constants, reads it).
    non_finite: std::cell::Cell<usize>,
    /// Whether the first of them was a NaN: an op outside its domain (ln of
    /// a negative number, asin(2), 0/0), not an overflow or a pole (read by
    /// [`undefined_at`]).
    first_nan: std::cell::Cell<Option<bool>>,
    /// The constant of each `a + c`, `a - c`, `c - a`, `a / c` and `c / a`
    /// node recorded, by node index (the tape keeps it, but does not give it
    /// back): `check` reads it to tell whether such an op rounded.
    constants: std::cell::RefCell<HashMap<usize, f64>>,
}

impl<'t, 'p> Recorder<'t, 'p> {
    /// `v`, a node `op(a, c)` just recorded for the constant `c`, noted in
    /// [`Recorder::constants`] if it is a new node (an op that returned its
    /// operand recorded nothing).
    fn with_constant(&self, before: usize, v: Var<'t>, c: f64) -> Val<'t> {
        if v.index() >= before {
            self.constants.borrow_mut().insert(v.index(), c);
        }
        Val::Node(v)
    }

    /// A constant as a node (for an op whose operands must be nodes), labelled
    /// with its value.
    fn leaf(&self, c: f64) -> Var<'t> {
        self.tape.var(c).named(format!("{c}"))
    }

    fn node(&self, v: Val<'t>) -> Var<'t> {
        match v {
            Val::Node(n) => n,
            Val::Const(c) => self.leaf(c),
        }
    }

    fn eval(&self, e: &'p Expr) -> Result<Val<'t>, FormulaError> {
        let before = self.non_finite.get();
        let v = self.eval_once(e)?;
        if let Val::Const(c) = v {
            // Counted where it starts: not at the ops that pass it on.
            if !c.is_finite() && self.non_finite.get() == before {
                self.non_finite.set(before + 1);
                if self.first_nan.get().is_none() {
                    // Outside a function's domain (ln(−2), asin(2), √−1),
                    // not a quotient or product of values that underflowed
                    // or overflowed (0/0 from e^−2000 twice, ∞/∞), nor a
                    // power of a negative base (x^(−2/3) at −8, whose real
                    // cube root f64's powf does not take).
                    let domain = match e {
                        Expr::Call { function, .. } => {
                            !matches!(FUNCTIONS[*function].name, "pow" | "powf" | "powi")
                        }
                        _ => false,
                    };
                    self.first_nan.set(Some(c.is_nan() && domain));
                }
            }
        }
        Ok(v)
    }

    fn eval_once(&self, e: &'p Expr) -> Result<Val<'t>, FormulaError> {
        Ok(match e {
            Expr::Number(v, _) => Val::Const(*v),
            Expr::Name(n, span) => *self.env.get(n.as_str()).ok_or_else(|| {
                FormulaError::new(
                    *span,
                    format!("variable '{n}' has no value {{at}}{}", constant_hint(n)),
                )
            })?,
            Expr::Neg(inner, _) => match self.eval(inner)? {
                Val::Const(c) => Val::Const(-c),
                Val::Node(n) => Val::Node(-n),
            },
            Expr::Binary(op, a, b) => {
                let (a, b) = (self.eval(a)?, self.eval(b)?);
                let before = self.tape.len();
                use Val::{Const as C, Node as N};
                match (op, a, b) {
                    (BinOp::Add, C(x), C(y)) => C(x + y),
                    (BinOp::Add, N(x), C(y)) => self.with_constant(before, x + y, y),
                    (BinOp::Add, C(x), N(y)) => self.with_constant(before, x + y, x),
                    (BinOp::Add, N(x), N(y)) => N(x + y),
                    (BinOp::Sub, C(x), C(y)) => C(x - y),
                    (BinOp::Sub, N(x), C(y)) => self.with_constant(before, x - y, y),
                    (BinOp::Sub, C(x), N(y)) => self.with_constant(before, x - y, x),
                    (BinOp::Sub, N(x), N(y)) => N(x - y),
                    (BinOp::Mul, C(x), C(y)) => C(x * y),
                    (BinOp::Mul, N(x), C(y)) => N(x * y),
                    (BinOp::Mul, C(x), N(y)) => N(x * y),
                    (BinOp::Mul, N(x), N(y)) => N(x * y),
                    (BinOp::Div, C(x), C(y)) => C(x / y),
                    (BinOp::Div, N(x), C(y)) => self.with_constant(before, x / y, y),
                    (BinOp::Div, C(x), N(y)) => self.with_constant(before, x / y, x),
                    (BinOp::Div, N(x), N(y)) => N(x / y),
                    (BinOp::Pow, C(x), C(y)) => C(x.powf(y)),
                    (BinOp::Pow, N(x), C(y)) if y.fract() == 0.0 && y.abs() <= i32::MAX as f64 => {
                        N(x.powi(y as i32))
                    }
                    (BinOp::Pow, N(x), C(y)) => N(x.powf(y)),
                    (BinOp::Pow, x, y) => N(self.node(x).pow(self.node(y))),
                }
            }
            Expr::Call { function, args, .. } => {
                let f = &FUNCTIONS[*function];
                let values = args
                    .iter()
                    .map(|a| self.eval(a))
                    .collect::<Result<Vec<_>, _>>()?;
                // A number where the op takes a constant (`leaky_relu(x, 0.1)`).
                let number = |k: usize| match values[k] {
                    Val::Const(c) => Ok(c),
                    Val::Node(_) => Err(FormulaError::new(
                        args[k].span(),
                        format!(
                            "the {} argument of '{}' must be a number, not a variable {{at}}{}",
                            ["first", "second", "third"][k.min(2)],
                            f.name,
                            if f.name == "log" && k == 1 {
                                ": for a base that varies, write ln(x)/ln(b) for log(x, b)"
                            } else {
                                ""
                            }
                        ),
                    )),
                };
                let all_constant = values.iter().all(|v| matches!(v, Val::Const(_)));
                // Every argument a number: the very same op, on a scratch tape.
                let scratch = Tape::new();
                let on_scratch = |v: Val<'_>| match v {
                    Val::Const(c) => scratch.var(c),
                    Val::Node(_) => unreachable!("only when every argument is a number"),
                };
                match f.kind {
                    Kind::Unary(op) => match values[0] {
                        Val::Const(c) => Val::Const(constant_unary(op, c)),
                        Val::Node(n) => Val::Node(op(n)),
                    },
                    Kind::Binary {
                        both,
                        var_number,
                        number_var,
                    } => match (values[0], values[1], var_number, number_var) {
                        (Val::Const(x), Val::Const(y), ..) => {
                            Val::Const(both(scratch.var(x), scratch.var(y)).value())
                        }
                        (Val::Node(a), Val::Const(c), Some(op), _) => Val::Node(op(a, c)),
                        (Val::Const(c), Val::Node(b), _, Some(op)) => Val::Node(op(c, b)),
                        (a, b, ..) => Val::Node(both(self.node(a), self.node(b))),
                    },
                    Kind::Ternary(op) => {
                        if all_constant {
                            let v: Vec<Var<'_>> = values.iter().map(|&v| on_scratch(v)).collect();
                            Val::Const(op(v[0], v[1], v[2]).value())
                        } else {
                            let [a, b, c] = [0, 1, 2].map(|k| self.node(values[k]));
                            Val::Node(op(a, b, c))
                        }
                    }
                    Kind::Variadic(op) => {
                        if all_constant {
                            let v: Vec<Var<'_>> = values.iter().map(|&v| on_scratch(v)).collect();
                            Val::Const(op(&v).value())
                        } else {
                            let v: Vec<Var<'t>> = values.iter().map(|&v| self.node(v)).collect();
                            Val::Node(op(&v))
                        }
                    }
                    Kind::WithConstant(op) => {
                        let c = number(1)?;
                        if f.name == "powi" && c.fract() != 0.0 {
                            return Err(FormulaError::new(
                                args[1].span(),
                                format!("powi takes an integer exponent, not {c} {{at}}"),
                            ));
                        }
                        // Every i32 is an exponent, i32::MIN too (Var::powi).
                        if f.name == "powi" && !(i32::MIN as f64..=i32::MAX as f64).contains(&c) {
                            return Err(FormulaError::new(
                                args[1].span(),
                                format!(
                                    "powi's exponent {{at}} is {c}, outside the 32-bit integers it takes ({} to {}): pow(x, {c}) takes any exponent",
                                    i32::MIN,
                                    i32::MAX
                                ),
                            ));
                        }
                        // log_c x = ln x / ln c: no logarithm to a base of 0,
                        // 1 or below 0 (log(x, 0) was −0 for every x).
                        if f.name == "log" && !(c > 0.0 && c != 1.0 && c.is_finite()) {
                            return Err(FormulaError::new(
                                args[1].span(),
                                format!(
                                    "log's base {{at}} is {c}, and a base must be finite, above 0 and not 1 (the natural logarithm is ln(x))"
                                ),
                            ));
                        }
                        match values[0] {
                            Val::Node(n) => Val::Node(op(n, c)),
                            Val::Const(x) => Val::Const(op(scratch.var(x), c).value()),
                        }
                    }
                    Kind::WithTwoConstants(op) => {
                        let (lo, hi) = (number(1)?, number(2)?);
                        if f.name == "clamp" && (lo > hi || lo.is_nan() || hi.is_nan()) {
                            return Err(FormulaError::new(
                                args[1].span(),
                                format!("clamp needs lo ≤ hi, not lo = {lo} and hi = {hi} {{at}}"),
                            ));
                        }
                        match values[0] {
                            Val::Node(n) => Val::Node(op(n, lo, hi)),
                            Val::Const(x) => Val::Const(op(scratch.var(x), lo, hi).value()),
                        }
                    }
                }
            }
        })
    }
}

/// The values the variables take, and what is missing.
pub fn missing(program: &Program, at: &HashMap<String, f64>) -> Vec<(String, Span)> {
    program
        .variables
        .iter()
        .filter(|(name, default, _)| default.is_none() && !at.contains_key(name))
        .map(|(name, _, span)| (name.clone(), *span))
        .collect()
}

impl Program {
    /// The name of an output line with none: `f`, unless the formula names a
    /// variable or a line `f` (then "∂f/∂f = 2" was printed for `f*x`'s
    /// ∂/∂f): then the first of `F`, `out`, `output`, `output2`, … it does not.
    pub fn output_name(&self) -> String {
        let taken = |n: &str| {
            self.variables.iter().any(|(v, _, _)| v == n)
                || self
                    .statements
                    .iter()
                    .any(|s| s.name.as_ref().is_some_and(|(m, _)| m == n))
        };
        ["f", "F", "out", "output"]
            .into_iter()
            .map(str::to_string)
            .chain((2..).map(|k| format!("output{k}")))
            .find(|n| !taken(n))
            .expect("some name is free")
    }

    /// Records the program on `tape` at the point `at` (variable values; a
    /// `name = number` line's value is the default).
    ///
    /// Errors: a variable with no value; an output that is a constant.
    pub fn record<'t>(
        &self,
        tape: &'t Tape,
        at: &HashMap<String, f64>,
    ) -> Result<Recorded<'t>, FormulaError> {
        // Every op keeps its constants, so that explanations and drawings name
        // `clamp(x, 0, 1)` and `log(x, 2)` in full rather than `clamp#1`.
        tape.set_keep_constants(true);
        let mut recorder = Recorder {
            tape,
            env: HashMap::new(),
            non_finite: std::cell::Cell::new(0),
            first_nan: std::cell::Cell::new(None),
            constants: Default::default(),
        };
        let mut variables = Vec::new();
        let mut values = HashMap::new();
        // Leaves first, in order of appearance.
        for (name, default, span) in &self.variables {
            let Some(value) = at.get(name).copied().or(*default) else {
                return Err(FormulaError::new(
                    *span,
                    format!(
                        "variable '{name}' has no value (used {{at}}): give it one with --at {name}=…{}",
                        constant_hint(name)
                    ),
                ));
            };
            let v = tape.var(value).named(name.clone());
            recorder.env.insert(name, Val::Node(v));
            variables.push((name.clone(), v));
            values.insert(name.clone(), value);
        }
        let mut named = Vec::new();
        let mut last = None;
        for s in &self.statements {
            let declared = s
                .name
                .as_ref()
                .is_some_and(|(n, _)| recorder.env.contains_key(n.as_str()));
            if declared {
                // A `name = number` variable: already a leaf.
                let (n, _) = s.name.as_ref().expect("a name");
                last = Some((recorder.env[n.as_str()], n.clone(), s.expr.span()));
                continue;
            }
            let mut v = recorder.eval(&s.expr)?;
            if let (Some((name, _)), Val::Node(node)) = (&s.name, v) {
                // Name the node. A node that has a name already (`E = u`, a line
                // that renames a quantity) is first copied as `1·u`, a node of
                // its own: every named line is a quantity to ask about, and the
                // tape's one label a node carries stays the line's.
                let node = if tape.label(node.index()).is_some() {
                    node * 1.0
                } else {
                    node
                };
                let node = node.named(name.clone());
                v = Val::Node(node);
                named.push((name.clone(), node));
            }
            if let Some((name, _)) = &s.name {
                recorder.env.insert(name, v);
                let value = match v {
                    Val::Const(c) => c,
                    Val::Node(n) => n.value(),
                };
                values.insert(name.clone(), value);
            }
            let name = match &s.name {
                Some((n, _)) => n.clone(),
                None => self.output_name(),
            };
            last = Some((v, name, s.expr.span()));
        }
        let (output, output_name, span) = last.expect("a program has a statement");
        let output = match output {
            Val::Node(n) => n,
            Val::Const(c) => {
                return Err(FormulaError::new(
                    span,
                    format!("the output is the constant {c}: it depends on no variable, so there is nothing to differentiate (the output is the last line, {{at}})"),
                ))
            }
        };
        let output = if tape.label(output.index()).is_none() {
            output.named(output_name.clone())
        } else {
            output
        };
        Ok(Recorded {
            variables,
            named,
            values,
            output,
            constants: recorder.constants.take(),
        })
    }
}

/// Evaluates a formula (no assignments) to a number, its names taken from
/// `values` (for `check --expect`), and whether f64's range may have made the
/// number: a value on its way was NaN or infinite (exp(a)/(exp(a) + exp(b))
/// at a = 597, b = 993 is 0, by ∞ in the denominator, where the formula's
/// value is 7.6e-173; at a = 1000 it is NaN, ∞/∞), or the number is NaN. An
/// infinity from one op of finite operands (`1/0`, `-1/0`) is taken as meant.
pub fn evaluate(source: &str, values: &HashMap<String, f64>) -> Result<(f64, bool), FormulaError> {
    evaluated(source, values).map(|(result, range, _)| (result, range))
}

/// Whether `source` (an expected derivative, as [`evaluate`] takes it) is not
/// defined at `values`: the first value on its way that is not finite is a
/// NaN a function made of finite arguments (ln(−2), asin(2), √−1), not an
/// infinity (an overflow, as exp(1000), or a pole, as 1/0), nor a NaN of
/// arithmetic (0/0, which underflows can make: e^−2000/e^−2000), nor a power
/// of a negative base. `false` where every value is finite, or on an error.
pub fn undefined_at(source: &str, values: &HashMap<String, f64>) -> bool {
    evaluated(source, values).is_ok_and(|(_, _, undefined)| undefined)
}

/// [`evaluate`]'s value and range flag, and [`undefined_at`]'s answer.
fn evaluated(
    source: &str,
    values: &HashMap<String, f64>,
) -> Result<(f64, bool, bool), FormulaError> {
    let program = parse(source)?;
    if let Some(s) = program.statements.iter().find(|s| s.name.is_some()) {
        let (_, span) = s.name.as_ref().expect("a name");
        return Err(FormulaError::new(
            *span,
            "an expected derivative is one expression, with no `name =` {at}",
        ));
    }
    let tape = Tape::new();
    let mut recorder = Recorder {
        tape: &tape,
        env: HashMap::new(),
        non_finite: std::cell::Cell::new(0),
        first_nan: std::cell::Cell::new(None),
        constants: Default::default(),
    };
    for (name, value) in values {
        recorder.env.insert(name, Val::Const(*value));
    }
    let mut result = 0.0;
    for s in &program.statements {
        result = match recorder.eval(&s.expr)? {
            Val::Const(c) => c,
            Val::Node(n) => n.value(),
        };
    }
    let starts = recorder.non_finite.get();
    let meant = result.is_infinite() && starts == 1;
    Ok((
        result,
        starts > 0 && !meant,
        recorder.first_nan.get() == Some(true),
    ))
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::{Locator, Span};

    /// The locator gives every character boundary the place pest's
    /// `Position::line_col` gives it (which counts from the start of the
    /// source at each call: the quadratic cost it replaced).
    #[test]
    fn the_locator_agrees_with_pest() {
        let sources = [
            "",
            "x + y",
            "a = 1\nb = a * x\n\nb + 1\n",
            "a = 1\r\nb = ×a\r\n\r\nb\r",
            "x\r\ry\n\rz",
            "σ = 0.5 # ∂ comment\n  τ·σ − 1\n🎈 + é",
        ];
        for source in sources {
            let at = Locator::new(source);
            for pos in (0..=source.len()).filter(|&p| source.is_char_boundary(p)) {
                let (line, column) = pest::Position::new(source, pos)
                    .expect("a character boundary")
                    .line_col();
                assert_eq!(at.span(pos), Span { line, column }, "{source:?} at {pos}");
            }
        }
    }
}
