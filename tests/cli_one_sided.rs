//! `chainrule check` at a kink, from the fourth audit: one-sided finite
//! differences next to a large |f| (slopes lost in rounding are no evidence),
//! signum's jump where its operand is flat to first order, a slope whose own
//! error is wider than the tolerance, and an infinite tape gradient at a kink.
#![cfg(feature = "cli")]

use std::process::{Command, Output, Stdio};

fn chainrule(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_chainrule"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("the chainrule binary runs")
}

/// `chainrule check F --at x=0 --wrt x --expect E`, expecting exit code `code`;
/// returns stdout.
fn check(f: &str, expect: &str, code: i32) -> String {
    let o = chainrule(&["check", f, "--at", "x=0", "--wrt", "x", "--expect", expect]);
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(code),
        "check {f:?} --expect {expect}\nstdout:\n{out}\nstderr:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    out
}

#[test]
fn a_corner_next_to_a_large_value_is_no_differentiable_point() {
    // |x| + 1e6: slopes −1 and +1. The finest steps' f(x ± h) round to the
    // same few ulps of 1e6, so their equal slopes are noise, not agreement.
    for f in ["abs(x) + 1e6", "max(x, 2*x) + 1e6"] {
        let out = check(f, "0", 3);
        assert!(!out.contains("f is differentiable here"), "{f}\n{out}");
        assert!(!out.contains("is right"), "{f}\n{out}");
        assert!(out.contains("converge to different values"), "{f}\n{out}");
    }
}

#[test]
fn a_smooth_function_through_kinks_next_to_a_large_value_has_its_true_slope() {
    // relu(x) − relu(−x) + 1000 = x + 1000: derivative exactly 1.
    let out = check("relu(x) - relu(-x) + 1000", "1", 0);
    assert!(out.contains("converge together"), "{out}");
    assert!(out.contains("your ∂f/∂x is right"), "{out}");
    // The old slope from rounding noise is wrong.
    let out = check("relu(x) - relu(-x) + 1000", "0.9765625", 1);
    assert!(out.contains("your ∂f/∂x is wrong"), "{out}");
}

#[test]
fn a_small_corner_next_to_a_large_value_is_not_called_differentiable() {
    // 1e4 + x + 1e-4·relu(x): slopes 1 and 1.0001, a corner too small for the
    // check to call (1e-3 relative), but no differentiable point either.
    let out = check("1e4 + x + 1e-4*relu(x)", "1", 3);
    assert!(!out.contains("f is differentiable here"), "{out}");
    assert!(!out.contains("1.5625"), "{out}");
}

#[test]
fn signum_jumps_though_its_operand_is_flat_to_first_order() {
    for (f, expect) in [
        ("signum(x^3)", "0"),
        ("5*signum(x^3) + x", "1"),
        // f(0) = signum(+0) = 1, f(±h) = −1: a jump.
        ("signum(0 - x^2)", "0"),
    ] {
        let out = check(f, expect, 3);
        assert!(out.contains("f is not continuous here"), "{f}\n{out}");
        assert!(out.contains("signum′(0)"), "{f}\n{out}");
    }
    // signum(−x²) is −1 everywhere (signum(−0) = −1): no jump. f does not
    // change beyond its rounding at any step, so nothing is claimed either way.
    let out = check("signum(-(x^2))", "0", 3);
    assert!(!out.contains("not continuous"), "{out}");
    assert!(!out.contains("converge"), "{out}");
    assert!(out.contains("lost in rounding"), "{out}");
}

#[test]
fn a_slope_less_exact_than_the_tolerance_refutes_nothing() {
    // tanh(1e11·x) + x: derivative 1e11 + 1. The finest resolvable central
    // difference is 9.955e10 (tanh is not linear over it), 0.45% off: yours
    // cannot be called wrong on it, nor the tape's value not the derivative.
    let out = check("tanh(1e11*x) + relu(x) - relu(-x)", "100000000001", 3);
    assert!(!out.contains("is wrong"), "{out}");
    assert!(!out.contains("does not match"), "{out}");
    assert!(
        !out.contains("the tape's value is not the derivative"),
        "{out}"
    );
    assert!(out.contains("cannot be confirmed"), "{out}");
    // Far off, beyond the slope's own error, is still wrong.
    let out = check("tanh(1e11*x) + relu(x) - relu(-x)", "1", 1);
    assert!(out.contains("your ∂f/∂x is wrong"), "{out}");
}

#[test]
fn an_infinite_tape_gradient_at_a_kink_is_not_called_a_convention() {
    // relu(x) + 3·sqrt(x) at 0: the inf is sqrt′(0)'s, not relu's convention.
    let out = check("relu(x) + 3*sqrt(x)", "1", 3);
    assert!(!out.contains("inf is a convention"), "{out}");
    assert!(out.contains("that infinity is no convention"), "{out}");
    assert!(
        out.contains("the tape's gradient is infinite and it passes a kink"),
        "{out}"
    );
}
