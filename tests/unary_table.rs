//! Every entry of the table of unary ops (`chainrule::ops::UNARY`), iterated, so an
//! op added to the table is tested here without a line of this file changing:
//!
//! - (a) recording the op on a tape gives `value(x)` bit for bit, and the node's
//!   partial equals `value_and_partial(x).1` (what the node records) bit for bit;
//!   `value_and_partial(x).0` equals `value(x)` and its partial agrees with the
//!   table's `Scalar` rule `partial(x)` to a few ulps;
//! - (b) the tape's partial agrees with a central finite difference of `value` at
//!   sample points inside the op's domain;
//! - (c) README.md lists the op in its table of ops: a row with the op's `name` in
//!   backticks, its `formula` and its `derivative`, as `UNARY` writes them.
//!
//! The finite difference steps h = 1e-6·max(|x|, 1e-3) and is held to
//! `|g − fd| ≤ 1e-6·|fd| + 8ε(|f(x + h)| + |f(x − h)|)/(2h)`, the bound of
//! tests/ops_finite_differences.rs: the truncation error h²|f‴|/6 is below 1e-7|f′|
//! at every sample point (each is at least 0.05 from a domain edge, a pole or a
//! kink, and |x| ≤ 20 where the function grows as e^x), and the second term is 8
//! ulps of rounding in each evaluation, divided by the step.

use chainrule::ops::UNARY;
use chainrule::Tape;

/// Sample points: a spread over [−20, 20], and points near 0 and ±1 on either
/// side, filtered per op to its domain below.
const SAMPLES: &[f64] = &[
    -20.0, -7.5, -3.0, -1.5, -1.05, -0.95, -0.7, -0.3, -0.05, 0.05, 0.3, 0.7, 0.95, 1.05, 1.5, 3.0,
    7.5, 20.0,
];

/// Whether `x` is at least 0.05 inside the domain of the op named `name`, away from
/// its poles and kinks (where the central difference does not converge).
fn inside(name: &str, x: f64) -> bool {
    use std::f64::consts::{FRAC_PI_2, PI};
    let from = |edge: f64| (x - edge).abs() >= 0.05;
    match name {
        "asin" | "acos" | "atanh" => x.abs() <= 0.95,
        "acosh" => x >= 1.05,
        "ln" | "log2" | "log10" | "sqrt" => x >= 0.05,
        "log1p" => x >= -0.95,
        // tan: away from every pole (k + ½)π.
        "tan" => from(FRAC_PI_2 + PI * ((x - FRAC_PI_2) / PI).round()),
        // Kinks and poles at 0.
        "relu" | "abs" | "signum" | "recip" | "cbrt" => from(0.0),
        _ => true,
    }
}

#[test]
fn the_table_lists_each_op_once() {
    assert!(UNARY.len() >= 30, "only {} unary ops", UNARY.len());
    for (i, a) in UNARY.iter().enumerate() {
        for b in &UNARY[i + 1..] {
            assert!(a.op != b.op && a.name != b.name, "{a:?} twice");
        }
        assert_eq!(
            a.op.name(),
            a.name,
            "{a:?}: the Op's name is not the method's"
        );
    }
}

#[test]
fn recording_gives_the_value_and_the_partial_bit_for_bit() {
    let mut wrong = Vec::new();
    for rule in UNARY {
        let mut points: Vec<f64> = SAMPLES.to_vec();
        // Edges and specials too: (a) holds everywhere, NaN included.
        points.extend([
            0.0,
            -0.0,
            1.0,
            -1.0,
            1000.0,
            -1000.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            5e-324,
        ]);
        for x in points {
            let tape = Tape::new();
            let leaf = tape.var(x);
            let y = (rule.record)(leaf);
            let (value, partial) = (rule.value_and_partial)(x);
            let g = y.backward()[leaf];
            let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
            if !same(y.value(), (rule.value)(x)) {
                wrong.push(format!(
                    "{}({x:e}): recorded value {:e}, value() {:e}",
                    rule.name,
                    y.value(),
                    (rule.value)(x)
                ));
            }
            if !same(value, (rule.value)(x)) {
                wrong.push(format!(
                    "{}({x:e}): value_and_partial().0 {value:e}, value() {:e}",
                    rule.name,
                    (rule.value)(x)
                ));
            }
            if tape.op(y.index()) != rule.op {
                wrong.push(format!("{}: recorded {}", rule.name, tape.op(y.index())));
            }
            // The tape's partial is the node's edge weight, and with a seed of 1 the
            // leaf's gradient.
            let edges = tape.edges(y.index());
            if edges.len() != 1 || edges[0].0 != leaf.index() || !same(edges[0].1, partial) {
                wrong.push(format!(
                    "{}({x:e}): edges {edges:?}, value_and_partial().1 {partial:e}",
                    rule.name
                ));
            }
            // Equal (the sweep adds the partial to an adjoint of +0, so −0 arrives
            // as +0), or both NaN.
            if !(g == partial || (g.is_nan() && partial.is_nan())) {
                wrong.push(format!(
                    "{}({x:e}): gradient {g:e}, value_and_partial().1 {partial:e}",
                    rule.name
                ));
            }
            // The shared fast form against the Scalar rule: a few ulps, or both
            // non-finite.
            let rule_partial = (rule.partial)(x);
            let close = if partial.is_finite() && rule_partial.is_finite() {
                (partial - rule_partial).abs()
                    <= 8.0 * f64::EPSILON * partial.abs().max(rule_partial.abs()) + 1e-300
            } else {
                partial.is_nan() == rule_partial.is_nan()
                    && (partial.is_nan() || partial == rule_partial)
            };
            if !close {
                wrong.push(format!(
                    "{}({x:e}): value_and_partial().1 {partial:e}, partial() {rule_partial:e}",
                    rule.name
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn the_partial_matches_finite_differences_inside_the_domain() {
    let mut wrong = Vec::new();
    let mut checked = 0;
    for rule in UNARY {
        let points: Vec<f64> = SAMPLES
            .iter()
            .copied()
            .filter(|&x| inside(rule.name, x))
            .collect();
        assert!(
            points.len() >= 3,
            "{}: only {} sample points",
            rule.name,
            points.len()
        );
        for x in points {
            let tape = Tape::new();
            let leaf = tape.var(x);
            let g = (rule.record)(leaf).backward()[leaf];
            let h = 1e-6 * x.abs().max(1e-3);
            let (plus, minus) = (x + h, x - h);
            let step = plus - minus;
            let (f_plus, f_minus) = ((rule.value)(plus), (rule.value)(minus));
            let fd = (f_plus - f_minus) / step;
            let tolerance =
                1e-6 * fd.abs() + 8.0 * f64::EPSILON * (f_plus.abs() + f_minus.abs()) / step;
            // A NaN fails too.
            let agrees = (g - fd).abs() <= tolerance;
            if !agrees {
                wrong.push(format!(
                    "{}({x}): {g:e} on the tape, {fd:e} by finite differences (tolerance {tolerance:e})",
                    rule.name
                ));
            }
            checked += 1;
        }
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(checked >= 300, "only {checked} points checked");
}

/// The README's rows: each line of a Markdown table (starting with `|`).
fn readme_rows() -> Vec<&'static str> {
    include_str!("../README.md")
        .lines()
        .map(str::trim)
        .filter(|line| line.starts_with('|'))
        .collect()
}

#[test]
fn the_readme_lists_every_unary_op_with_its_formula_and_derivative() {
    let readme = include_str!("../README.md");
    let rows = readme_rows();
    let mut missing = Vec::new();
    let mut ops_missing = 0;
    if !readme.lines().any(|l| l.trim() == "## Ops") {
        missing.push("no `## Ops` section".to_string());
    }
    for rule in UNARY {
        let name = format!("`{}`", rule.name);
        // A row naming the op in backticks as a cell of its own (not `ln` inside
        // `ln_1p`), with the formula and the derivative in it.
        let row = rows
            .iter()
            .find(|row| row.split('|').any(|cell| cell.trim() == name));
        match row {
            None => {
                ops_missing += 1;
                missing.push(format!(
                    "{}: no row; expected | {name} | {} | {} |",
                    rule.name, rule.formula, rule.derivative
                ))
            }
            Some(row) => {
                let lacks: Vec<_> = [("formula", rule.formula), ("derivative", rule.derivative)]
                    .into_iter()
                    .filter(|(_, text)| !row.contains(text))
                    .collect();
                ops_missing += usize::from(!lacks.is_empty());
                for (what, text) in lacks {
                    {
                        missing.push(format!(
                            "{}: its row lacks the {what} `{text}`: {row}",
                            rule.name
                        ));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README.md's table of ops lacks {ops_missing} of the {} unary ops, or parts of their rows:\n{}",
        UNARY.len(),
        missing.join("\n")
    );
}

#[test]
fn sqrt_and_the_logarithms_have_the_same_derivative_at_minus_zero_as_at_zero() {
    // √−0 = −0 and 1/(2·−0) = −inf; ln′(−0) = 1/−0 = −inf: both ops rise, and
    // their docs say +inf at x = 0. So for log2, log10 and log to a base: the
    // derivative's limit at 0, at −0 too, at every order (the recorded gradient,
    // and the second derivative as at +0).
    type Unary = for<'t> fn(chainrule::Var<'t>) -> chainrule::Var<'t>;
    let inf = f64::INFINITY;
    let cases: [(&str, Unary, f64, f64); 6] = [
        ("sqrt", |v| v.sqrt(), inf, -inf),
        ("ln", |v| v.ln(), inf, -inf),
        ("log2", |v| v.log2(), inf, -inf),
        ("log10", |v| v.log10(), inf, -inf),
        ("log 2", |v| v.log(2.0), inf, -inf),
        ("log 0.5", |v| v.log(0.5), -inf, inf),
    ];
    for x0 in [0.0, -0.0] {
        for (name, f, first, second) in cases {
            let tape = chainrule::Tape::new();
            let x = tape.var(x0);
            let y = f(x);
            assert_eq!(y.backward()[x], first, "{name} at {x0:?}");
            let d = tape.grad(y, &[x])[0];
            assert_eq!(d.value(), first, "{name} recorded at {x0:?}");
            assert_eq!(d.backward()[x], second, "{name}'' at {x0:?}");
            assert_eq!(chainrule::grad(|v| f(v[0]), &[x0]), vec![first]);
            assert_eq!(chainrule::hessian(|v| f(v[0]), &[x0]), vec![vec![second]]);
        }
    }
}
