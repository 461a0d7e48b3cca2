//! The command line, on the findings of a learner's review: each test here
//! failed before its fix.
#![cfg(feature = "cli")]

use std::process::{Command, Output, Stdio};

fn chainrule(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chainrule"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the chainrule binary runs")
}

/// Runs, expects exit code `code`, returns (stdout, stderr).
fn run(args: &[&str], code: i32) -> (String, String) {
    let o = chainrule(args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    );
    assert_eq!(
        o.status.code(),
        Some(code),
        "chainrule {args:?}\nstdout:\n{out}\nstderr:\n{err}"
    );
    (out, err)
}

fn json(args: &[&str], code: i32) -> serde_json::Value {
    let (out, _) = run(args, code);
    serde_json::from_str(&out).expect("JSON")
}

/// A zero derivative written with halves (`1/2 + signum(x)/2`) is exact: the
/// division by 2 and the sum with 1/2 do not round, so nothing is left for
/// "within rounding" (it was exit 3, "cannot be confirmed").
#[test]
fn a_zero_derivative_written_with_halves_is_confirmed() {
    for (f, at, expect) in [
        ("relu(x)", "x=-1.25", "1/2 + signum(x)/2"),
        ("max(x, 1.5)", "x=0.453", "signum(x - 3/2)/2 + 1/2"),
        ("relu(x)", "x=-1.25", "(1 + signum(x))/4*2"),
    ] {
        let (out, _) = run(&["check", f, "--at", at, "--expect", expect], 0);
        assert!(out.contains("your ∂f/∂x is right."), "{f} {expect}: {out}");
        assert!(!out.contains("rounding"), "{f} {expect}: {out}");
    }
}

/// A division by a constant and a constant subtracted are exact where their
/// results are (x/4 − 0.025 at x = 0.1 is 0 exactly: fl(0.1)/4 is
/// fl(0.025)), and no note on f's rounding is given; where the division rounds
/// (x/3 − 1/30), its term is kept, and the note says f may be off.
#[test]
fn a_division_by_a_constant_counts_its_rounding_only_where_it_rounds() {
    let (out, _) = run(&["grad", "(x/4 - 0.025)*1e16", "--at", "x=0.1"], 0);
    assert!(!out.contains("may be off"), "{out}");
    let (out, _) = run(&["grad", "(x/3 - 1/30)*1e16", "--at", "x=0.1"], 0);
    assert!(out.contains("may be off by up to"), "{out}");
}

/// A number within the tape's own rounding bound of its value is not said to
/// differ "more than rounding", nor to be right "not to all its digits": 10
/// is the exact derivative of 0.1·x added 100 times, and the tape's
/// 9.99999999999998 the one that rounded.
#[test]
fn a_number_within_the_tapes_rounding_is_right_to_its_digits() {
    let f = vec!["0.1*x"; 100].join("+");
    let (out, _) = run(&["check", &f, "--at", "x=1", "--expect", "10"], 0);
    assert!(
        out.contains(
            "they agree within the tape's own rounding (they differ by 2.0e-14 (2.0e-15 relative), \
             within its bound"
        ),
        "{out}"
    );
    assert!(!out.contains("more than rounding"), "{out}");
    assert!(!out.contains("not to all its digits"), "{out}");
    assert!(out.contains("your ∂f/∂x is right.\n"), "{out}");
    // Past the bound, a number is still right only to within the tolerance.
    let (out, _) = run(&["check", "x^2", "--at", "x=1", "--expect", "2.0000001"], 0);
    assert!(out.contains("more than rounding"), "{out}");
}

/// --hold of the derivative's variable is refused for a true reason: the
/// other variables still move.
#[test]
fn holding_the_derivatives_variable_is_refused_truly() {
    let (_, err) = run(
        &[
            "check", "x^2*y", "--at", "x=1,y=2", "--wrt", "x", "--expect", "2*x*y", "--hold", "x",
        ],
        2,
    );
    assert!(!err.contains("the point itself"), "{err}");
    assert!(
        err.contains("every random point would keep x at the point's value"),
        "{err}"
    );
    // With no other variable, nothing else moves: said so, not "only where the
    // other variables move".
    let (_, err) = run(
        &[
            "check", "x^2", "--at", "x=1", "--expect", "2*x", "--hold", "x",
        ],
        2,
    );
    assert!(!err.contains("other variables move"), "{err}");
    assert!(err.contains("the formula's only one"), "{err}");
}

/// `--at x=1/0` evaluates to ∞: said, with how to give a variable that value
/// (it said only "is not a finite number", while `--at x=inf` is taken).
#[test]
fn an_at_value_evaluating_to_infinity_says_how_to_write_it() {
    let (_, err) = run(&["grad", "x^2", "--at", "x=1/0"], 2);
    assert!(err.contains("evaluates to inf"), "{err}");
    assert!(err.contains("write it out: inf, -inf or nan"), "{err}");
}

/// The note on a value that is not finite writes the op as the formula does.
#[test]
fn a_non_finite_note_names_the_op_as_written() {
    let (out, _) = run(&["grad", "sin(x/3) + sin(3/x)", "--at", "x=0"], 0);
    assert!(out.contains("node #3 (3 / x) = inf"), "{out}");
    assert!(!out.contains("const_div"), "{out}");
    let (out, _) = run(&["grad", "x^(1/3)", "--at", "x=-8"], 0);
    assert!(out.contains("(x^0.3333333333333333) = NaN"), "{out}");
    assert!(out.contains("for a cube root write cbrt(x)"), "{out}");
    assert!(!out.contains("powf(x)"), "{out}");
}

/// `--at` takes an expression of numbers, as formula lines do.
#[test]
fn at_takes_an_expression_of_numbers() {
    let (out, _) = run(&["grad", "x^2*y", "--at", "x=1/2,y=2^-1"], 0);
    assert!(out.starts_with("f = 0.125000000000\n"), "{out}");
    let (_, err) = run(&["grad", "x^2", "--at", "x=abc"], 2);
    assert!(err.contains("is not a number"), "{err}");
}

/// `log(x, b)` with a variable base suggests ln(x)/ln(b).
#[test]
fn log_with_a_variable_base_suggests_a_quotient_of_logs() {
    let (_, err) = run(&["grad", "log(x, b)", "--at", "x=2,b=3"], 2);
    assert!(err.contains("write ln(x)/ln(b)"), "{err}");
}

/// A line the output does not use is named: its variable's partial is a
/// silent 0 otherwise.
#[test]
fn an_unused_line_is_named() {
    let args = ["grad", "u = x^2; v = sin(y); f = u + 1", "--at", "x=2,y=1"];
    let (out, _) = run(&args, 0);
    assert!(
        out.contains("note: the line v is defined but never used by f"),
        "{out}"
    );
    let (out, _) = run(&["grad", "u = x^2; f = u + y", "--at", "x=2,y=1"], 0);
    assert!(!out.contains("never used"), "{out}");
    let j = json(&[&args[..], &["--json"]].concat(), 0);
    assert!(
        j["unused_lines"].as_str().unwrap().contains("line v"),
        "{j}"
    );
}

/// The JSON says when the point decides nothing, how far "right" goes, and
/// that no random point moved under --points 0.
#[test]
fn check_json_says_what_was_decided() {
    let j = json(
        &["check", "relu(x)", "--at", "x=0", "--expect", "0", "--json"],
        3,
    );
    assert_eq!(j["check"]["rows"][0]["decided"], false, "{j}");
    assert_eq!(j["check"]["right_as"], serde_json::Value::Null, "{j}");
    let j = json(
        &[
            "check", "x^2", "--at", "x=1", "--expect", "2*x", "--points", "0", "--json",
        ],
        0,
    );
    assert_eq!(j["check"]["verdict"], "right");
    assert_eq!(j["check"]["right_as"], "at_the_point_only");
    assert_eq!(j["check"]["random_points_move"], "none");
    assert_eq!(j["check"]["rows"][0]["decided"], true);
    let j = json(
        &[
            "check",
            "x^2",
            "--at",
            "x=1",
            "--expect",
            "2.0000001",
            "--json",
        ],
        0,
    );
    assert_eq!(j["check"]["right_as"], "number_within_tolerance");
    let j = json(
        &["check", "x^2", "--at", "x=1", "--expect", "2*x", "--json"],
        0,
    );
    assert_eq!(j["check"]["right_as"], "right");
    assert_eq!(j["check"]["random_points_move"], "all");
    assert!(j["check"]["rows"][1]["decided"].as_bool().unwrap());
}

/// The gap of the one-sided derivatives is in the short form.
#[test]
fn the_one_sided_gap_is_written_short() {
    let (out, _) = run(
        &[
            "check",
            "relu(x*x - 1)*sin(x)",
            "--at",
            "x=1",
            "--expect",
            "sin(x)",
        ],
        1,
    );
    assert!(
        out.contains("differ by 1.7e0 (0.000000000000 from the left"),
        "{out}"
    );
}

/// At a random point where a relu on the way is off, the tape's 0 is said to
/// be the relu's, not left as "no sum of the paths" alone.
#[test]
fn a_relu_off_at_a_random_point_is_named() {
    let (out, _) = run(
        &[
            "check",
            "h = relu(w*x + b); f = 2*h",
            "--at",
            "w=1,x=1,b=-1",
            "--wrt",
            "w",
            "--expect",
            "2*x",
        ],
        1,
    );
    assert!(
        out.contains("here the relu h on the way is off (its input below 0, where relu′ = 0)"),
        "{out}"
    );
}
