//! Gradient checks: central differences and hand derivations against the tape.

mod common;

use chainrule::gradcheck::{gradcheck, gradcheck_with, GradcheckOptions, Tolerance};
use chainrule::{Tape, Var};
use common::record_seed;
use common::workloads::seed;

#[test]
fn gradcheck_passes_for_every_op_composition() {
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        let (x, y, z) = (v[0], v[1], v[2]);
        (x * y).sin() + (z.sigmoid() / (x.square() + 1.0)).ln() - y.tanh() * z.sqrt()
            + x.softplus().powf(1.5)
    }
    let report = gradcheck(f, &[0.7, -0.4, 2.3]);
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.checks.len(), 3);
    for row in &report.checks {
        // Central differences with h = 1e-6 agree far better than the tolerance.
        assert!(row.abs_error < 1e-7, "{report}");
    }
}

#[test]
fn gradcheck_of_the_seed_network_passes_for_all_eight_weights() {
    let report = gradcheck(
        |w| {
            let w: [Var; 8] = std::array::from_fn(|k| w[k]);
            let b = seed::BIASES.map(|v| w[0].tape().var(v));
            seed::error_ops(&w, b)
        },
        &seed::WEIGHTS,
    );
    assert!(report.all_passed(), "{report}");
    assert!((report.value - seed::REFERENCE_E0).abs() <= 1e-9 * seed::REFERENCE_E0);
    let text = report.to_string();
    assert!(text.contains("8 of 8 passed"), "{text}");
    assert_eq!(text.lines().count(), 10); // header, 8 rows, summary
}

#[test]
fn gradcheck_reports_a_function_whose_derivative_is_not_its_slope() {
    // abs at 0: the tape takes 0 as the derivative (a documented choice), and the
    // central difference of |x| + x at 0 is 1: the check must not hide that.
    let report = gradcheck(|v| v[0].abs() + v[0] * 2.0, &[0.0]);
    assert_eq!(report.checks[0].tape, 2.0);
    assert!((report.checks[0].reference - 2.0).abs() < 1e-9);
    // relu at 0: every central difference is (h − 0)/2h = 0.5, the mean of
    // the one-sided slopes 1 and 0, at every step: f is not differentiable
    // there, the tape's 0 is a convention, and no difference is evidence.
    let kink = gradcheck(|v| v[0].relu(), &[0.0]);
    assert!(!kink.all_passed(), "{kink}");
    assert_eq!((kink.failures().count(), kink.unchecked().count()), (0, 1));
    let why = kink.checks[0].cannot_check.as_deref().unwrap();
    assert!(why.contains("not differentiable"), "{why}");
    assert!(why.contains("one-sided slopes"), "{why}");
}

#[test]
fn a_bad_step_cannot_check_any_row_instead_of_panicking() {
    for step in [0.0, -1e-6, f64::NAN, f64::INFINITY] {
        let options = GradcheckOptions {
            step,
            ..Default::default()
        };
        let report = gradcheck_with(|v| v[0] * v[1], &[1.0, 2.0], options);
        assert!(!report.all_passed());
        assert!(report.checks.iter().all(|c| c.reference.is_nan()));
        assert_eq!(report.unchecked().count(), 2, "{report}");
        assert!(report
            .to_string()
            .contains("is not a positive finite number"));
    }
}

/// A NaN or negative tolerance refuses even an exact match (|0| ≤ NaN is
/// false), and the rows then went on to smaller steps and blamed f: sin at 1
/// was "not differentiable within x[0] ± h … (a kink, jump or pole that
/// close to x)". The caller's setting is named instead, as a bad step is.
#[test]
fn a_bad_tolerance_cannot_check_any_row_and_is_named() {
    for (atol, rtol) in [
        (-1.0, 1e-3),
        (1e-5, f64::NAN),
        (f64::NAN, 1e-3),
        (0.0, -1e-7),
    ] {
        let options = GradcheckOptions {
            tolerance: Tolerance { atol, rtol },
            ..Default::default()
        };
        let report = gradcheck_with(|v| v[0].sin() * v[1], &[1.0, 2.0], options);
        assert!(!report.all_passed());
        assert_eq!(report.unchecked().count(), 2, "{report}");
        for row in &report.checks {
            let why = row.cannot_check.as_deref().unwrap();
            assert!(
                why.contains("the tolerance") && why.contains("is not valid"),
                "{why}"
            );
            assert!(!why.contains("differentiable"), "{why}");
        }
    }
    // 0 is a valid tolerance (exact equality), and infinite ones accept all.
    let exact = GradcheckOptions {
        tolerance: Tolerance {
            atol: 0.0,
            rtol: 0.0,
        },
        ..Default::default()
    };
    let report = gradcheck_with(|v| v[0] * 2.0, &[1.0], exact);
    assert!(report.checks[0]
        .cannot_check
        .as_deref()
        .is_none_or(|why| !why.contains("is not valid")));
}

#[test]
fn the_step_is_relative_to_the_input() {
    // An absolute step of 1e-6 at 1e10 is a few ulps: the central difference of
    // the identity came out 1.907 and a correct gradient failed.
    let report = gradcheck(|v| v[0] * 1.0, &[1e10]);
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.checks[0].reference, 1.0, "{report}");
    let report = gradcheck(|v| v[0].square() * v[1].sin(), &[-3e7, 0.25]);
    assert!(report.all_passed(), "{report}");
    // Below 1 the step is absolute, as before.
    let report = gradcheck(|v| v[0].exp(), &[1e-3]);
    assert!(
        report.all_passed() && report.checks[0].abs_error < 1e-8,
        "{report}"
    );
}

#[test]
fn a_difference_that_cannot_be_formed_is_reported_not_failed() {
    // √x at 0: x − h < 0 at every step, f(x − h) is NaN while f(x) is finite.
    let report = gradcheck(|v| v[0].sqrt() + v[1], &[0.0, 2.0]);
    assert!(!report.all_passed(), "{report}"); // no pass either
    assert_eq!(report.failures().count(), 0, "{report}");
    let unchecked: Vec<_> = report.unchecked().collect();
    assert_eq!(unchecked.len(), 1, "{report}");
    assert_eq!(unchecked[0].name, "x[0]");
    assert!(!unchecked[0].passed && report.checks[1].passed);
    let why = unchecked[0].cannot_check.as_deref().unwrap_or_default();
    assert!(why.contains("not defined (NaN)"), "{why}");
    let text = report.to_string();
    assert!(text.contains("cannot check here"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
    assert!(
        text.contains("1 of 1 checked passed, 1 cannot be checked here"),
        "{text}"
    );
    // f itself not finite at x: nothing to check either.
    let report = gradcheck(|v| v[0].ln(), &[-1.0]);
    assert_eq!(
        (report.failures().count(), report.unchecked().count()),
        (0, 1)
    );
    // √x at 1e-7 and exp at 709.7825: the first step reaches past the domain
    // (x − h < 0) or past overflow (exp beyond 709.7827); smaller steps stay
    // inside, and the rows pass.
    let report = gradcheck(|v| v[0].sqrt(), &[1e-7]);
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.checks[0].differences.len(), 3, "{report}"); // h/8 NaN too
    let report = gradcheck(|v| v[0].exp(), &[709.7825]);
    assert!(report.all_passed(), "{report}");
}

#[test]
fn no_inputs_is_a_vacuous_pass() {
    let report = gradcheck(|v| v[0], &[]); // f is not called
    assert!(report.all_passed() && report.checks.is_empty());
    assert!(report.value.is_nan());
}

#[test]
fn compare_accepts_the_articles_hand_derivation() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let [out_h1, out_h2] = net.out_h.map(|v| v.value());
    let [out_o1, out_o2] = net.out_o.map(|v| v.value());
    let [i1, i2] = seed::INPUTS;
    let [t1, t2] = seed::TARGETS;
    let w = seed::WEIGHTS;
    let delta_o1 = (out_o1 - t1) * out_o1 * (1.0 - out_o1);
    let delta_o2 = (out_o2 - t2) * out_o2 * (1.0 - out_o2);
    let delta_h1 = (delta_o1 * w[4] + delta_o2 * w[6]) * out_h1 * (1.0 - out_h1);
    let delta_h2 = (delta_o1 * w[5] + delta_o2 * w[7]) * out_h2 * (1.0 - out_h2);
    let hand = [
        delta_h1 * i1,
        delta_h1 * i2,
        delta_h2 * i1,
        delta_h2 * i2,
        delta_o1 * out_h1,
        delta_o1 * out_h2,
        delta_o2 * out_h1,
        delta_o2 * out_h2,
    ];
    let expected: Vec<(Var, f64)> = net.w.iter().copied().zip(hand).collect();
    let comparison = g.compare(&expected);
    assert!(comparison.all_passed(), "{comparison}");
    assert!(comparison.mismatches.is_empty());
    assert_eq!(comparison.checks[4].name, "w5");
}

#[test]
fn compare_reports_a_wrong_manual_gradient_with_its_paths() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    // A classic slip: forgetting the second path, through out_o2, for w1.
    let out_h1 = net.out_h[0].value();
    let out_o1 = net.out_o[0].value();
    let delta_o1 = (out_o1 - seed::TARGETS[0]) * out_o1 * (1.0 - out_o1);
    let one_path_only = delta_o1 * 0.40 * out_h1 * (1.0 - out_h1) * seed::INPUTS[0];
    let comparison = g.compare(&[
        (net.w[4], seed::REFERENCE_DE_DW5),
        (net.w[0], one_path_only),
    ]);
    assert!(!comparison.all_passed());
    assert_eq!(comparison.mismatches.len(), 1);
    let (row, explanation) = &comparison.mismatches[0];
    assert_eq!(*row, 1);
    assert_eq!(explanation.path_count(), 2);
    let check = &comparison.checks[1];
    assert!(!check.passed && comparison.checks[0].passed);
    assert_eq!(check.reference, one_path_only);
    assert_eq!(check.tape, g[net.w[0]]);
    let text = comparison.to_string();
    assert!(
        text.contains("mismatch at w1: expected 0.000668396021, the tape has 0.000438567734"),
        "{text}"
    );
    assert!(text.contains("∂E/∂out_h1 = ∂E/∂out_o1"), "{text}");
    assert!(
        text.contains(
            "your value equals path 1 (through out_o1); path 2 (through out_o2) is missing\n"
        ),
        "{text}"
    );
    assert_eq!(comparison.diagnoses().len(), 1);
    assert!(text.contains("1 of 2 matched"), "{text}");
}

#[test]
fn tolerance_is_pytorchs_formula() {
    let t = Tolerance::FINITE_DIFFERENCES;
    assert!(t.accepts(1e-5, 0.0)); // atol alone
    assert!(!t.accepts(1.1e-5, 0.0));
    assert!(t.accepts(100.1, 100.0)); // 0.1 <= 1e-5 + 0.1
    assert!(!t.accepts(100.2, 100.0));
    assert!(!t.accepts(f64::NAN, f64::NAN));
    // Infinities: see an_infinite_value_is_accepted_only_by_the_same_infinity.
}

#[test]
fn a_step_too_wide_for_f_is_refined_until_the_difference_settles() {
    // ln at 2e-6 with h = 1e-6: (ln 3e-6 − ln 1e-6)/2e-6 = 5.49e5, the
    // derivative 1/x = 5e5 (10% off). The difference settles as h shrinks, and
    // the tape is judged against the settled one: a pass, not a false FAIL.
    let report = gradcheck(|v| v[0].ln(), &[2e-6]);
    assert!(report.all_passed(), "{report}");
    let row = &report.checks[0];
    // Judged at h = 1e-6/8³, after 5.49e5, 5.0065e5, 5.00010e5: the error
    // estimate (the last two differences' gap, 10, plus rounding) is within
    // the tolerance 500 only there.
    assert_eq!(row.step, Some(1e-6 / 512.0), "{row:?}");
    assert_eq!(row.differences.len(), 4, "{row:?}");
    assert!(
        (row.differences[0].1 - 3f64.ln() / 2e-6).abs() < 1e-3,
        "{row:?}"
    );
    // rtol 1e-3 is the acceptance; the judged difference is far closer (h²
    // truncation: (h/x)²/3 ≈ 3e-7 relative).
    assert!((row.reference - 5e5).abs() < 5e5 * 1e-5, "{row:?}");
    assert!(
        report.to_string().contains("judged at h = 1.953125e-9"),
        "{report}"
    );
    // A kink inside the first step: |x − 1e-7| at 0 has slope −1; the
    // difference at h = 1e-6 is (9e-7 − 1.1e-6)/2e-6 = −0.1, below h = 1e-7
    // exactly −1 (while h > 1e-7 the one-sided slopes are ±1: no verdict).
    let report = gradcheck(|v| (v[0] - 1e-7).abs(), &[0.0]);
    assert!(report.all_passed(), "{report}");
    // (1e-12: the rounding of x ± h and of f's values, far below the 0.9 gap.)
    assert!((report.checks[0].reference + 1.0).abs() < 1e-12, "{report}");
    // A row that agrees at the first step keeps it.
    let plain = gradcheck(|v| v[0].ln(), &[2.0]);
    assert_eq!(plain.checks[0].step, Some(2e-6));
}

/// hypot(x, y) at x = y = 1e-300 is differentiable (∂/∂x = ∂/∂y = 1/√2), but
/// it turns within about 1e-300 of x = 0, and every step tried (1e-6 down to
/// 1.5e-17) spans the turn: the one-sided slopes are ±1 at each. The row said
/// "f is not differentiable within x[0] ± h", which is false here; it now says
/// that either that or a turn finer than the step is the cause.
#[test]
fn slopes_that_disagree_at_every_step_do_not_claim_a_kink_that_may_not_be_there() {
    let report = gradcheck(|v| v[0].hypot(v[1]), &[1e-300, 1e-300]);
    assert_eq!(report.failures().count(), 0, "{report}");
    assert_eq!(report.unchecked().count(), 2, "{report}");
    for row in &report.checks {
        // The tape's partial is right to an ulp (1/√2 from the scaled operands).
        assert!(
            (row.tape - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15,
            "{report}"
        );
        let why = row.cannot_check.as_deref().unwrap();
        assert!(
            why.starts_with("the one-sided slopes disagree at every step tried"),
            "{why}"
        );
        assert!(
            why.contains("or it turns on a scale finer than the smallest step"),
            "{why}"
        );
        assert!(!why.starts_with("f is not differentiable"), "{why}");
    }
}

#[test]
fn a_difference_that_never_settles_cannot_check_instead_of_failing() {
    // 1/x at 1e-300: x ± h straddles the pole at 0 at every step tried; each
    // eighth of the step multiplies the difference by 64 and the one-sided
    // slopes are ∓∞. No evidence about the derivative.
    let report = gradcheck(|v| v[0].recip(), &[1e-300]);
    assert_eq!(report.failures().count(), 0, "{report}");
    assert_eq!(report.unchecked().count(), 1, "{report}");
    let why = report.checks[0].cannot_check.as_deref().unwrap();
    assert!(why.contains("not differentiable within x[0] ± h"), "{why}");
    assert_eq!(report.checks[0].differences.len(), 13, "{report}");
    // Rounding: x·x + 1e8 at 0.5 changes by 2e-6 across the first step, near
    // the rounding of 1e8 (1.5e-8 an ulp); smaller steps only lose more. A
    // cannot-check with the reason, not a FAIL of the right derivative 1.
    let report = gradcheck(|v| v[0] * v[0] + 1e8, &[0.5]);
    assert_eq!(report.failures().count(), 0, "{report}");
    let why = report.checks[0].cannot_check.as_deref().unwrap();
    assert!(why.contains("lost to rounding"), "{why}");
    // relu at 1e-20 is differentiable (slope 1), but its kink at 0 is closer
    // than any step tried: cannot check, not FAIL.
    let report = gradcheck(|v| v[0].relu(), &[1e-20]);
    assert_eq!(report.unchecked().count(), 1, "{report}");
    // sin(1/x) at 1e-4 oscillates with period ~6e-8 there: the differences at
    // h = 1e-6 and 1.25e-7 (−1.3e5, −5.0e5) disagree with each other, so
    // neither is evidence against the tape's −cos(1e4)/1e-8 = 9.52e7 (a
    // second audit found a FAIL here); smaller steps resolve it and pass.
    let report = gradcheck(|v| v[0].recip().sin(), &[1e-4]);
    assert_eq!(report.failures().count(), 0, "{report}");
    assert!(report.all_passed(), "{report}");
    // sin at 1e10: the relative first step is 1e4, longer than sin's period;
    // the differences settle only once h is far below it, on cos(1e10).
    let report = gradcheck(|v| v[0].sin(), &[1e10]);
    assert_eq!(report.failures().count(), 0, "{report}");
}

#[test]
fn a_wrong_gradient_still_fails_after_the_difference_settles() {
    // The bug a gradient check exists for: an input detached from the tape
    // (recorded as a constant of its value). With a large constant part of f
    // the differences are rounded (2e6 has ulps of 2.3e-10), yet 1.000008 and
    // 1.00024 against the tape's 0 is far beyond tolerance plus rounding.
    fn detached<'t>(v: &[Var<'t>]) -> Var<'t> {
        v[0].constant(v[0].value()) + v[0] * 0.0 + 2e6
    }
    for x in [0.0, 1.0] {
        let report = gradcheck(detached, &[x]);
        assert_eq!(report.failures().count(), 1, "{report}");
        assert_eq!(report.checks[0].tape, 0.0);
        assert!((report.checks[0].reference - 1.0).abs() < 1e-2, "{report}");
        assert!(report.to_string().contains("FAIL"), "{report}");
    }
    // A NaN tape gradient where f is differentiable: √(x⁴) at 0 has slope 0,
    // the tape's 0 · ∞ is NaN (the documented policy), and the check says so.
    let report = gradcheck(|v| v[0].powi(4).sqrt(), &[0.0]);
    assert!(report.checks[0].tape.is_nan());
    assert_eq!(report.failures().count(), 1, "{report}");
}

#[test]
fn an_infinite_value_is_accepted_only_by_the_same_infinity() {
    // |3 − ∞| = ∞ <= 1e-12 + 1e-7·∞ = ∞: the bare formula accepted any value
    // against an infinite reference (compare said `pass` for y = 3x with an
    // expected ∞), and rejected ∞ against ∞ (∞ − ∞ is NaN).
    let tape = Tape::new();
    let x = tape.var(2.0);
    let y = x * 3.0;
    let g = y.backward();
    let comparison = g.compare(&[(x, f64::INFINITY)]);
    assert!(!comparison.all_passed(), "{comparison}");
    for t in [Tolerance::MANUAL, Tolerance::FINITE_DIFFERENCES] {
        assert!(!t.accepts(3.0, f64::INFINITY));
        assert!(!t.accepts(f64::INFINITY, 3.0));
        assert!(t.accepts(f64::INFINITY, f64::INFINITY));
        assert!(t.accepts(f64::NEG_INFINITY, f64::NEG_INFINITY));
        assert!(!t.accepts(f64::INFINITY, f64::NEG_INFINITY));
    }
    // sqrt at 0: the tape's ∂/∂x is +∞, and so is 0.5/√x there.
    let x = tape.var(0.0);
    let g = x.sqrt().backward();
    assert!(g.compare(&[(x, 0.5 / 0.0f64.sqrt())]).all_passed());
}

#[test]
fn gradcheck_never_fails_a_right_gradient_of_a_table_op_at_awkward_points() {
    // Every unary op's tape partial is right (tests/unary_table.rs holds it to
    // the table and to finite differences inside each domain). So wherever
    // gradcheck says FAIL for one of them, the check itself is wrong: near
    // kinks, poles and domain edges, at huge, tiny and subnormal inputs, and
    // with a large constant added (rounding). A pass or "cannot check here"
    // are both acceptable answers; a FAIL is not.
    use chainrule::ops::UNARY;
    let points = [
        0.0,
        -0.0,
        1e-300,
        -1e-300,
        5e-324,
        1e-20,
        -1e-20,
        1e-12,
        -1e-12,
        1e-7,
        -1e-7,
        2e-6,
        0.5,
        -0.5,
        0.9999999,
        -0.9999999,
        1.0,
        -1.0,
        1.0000001,
        std::f64::consts::FRAC_PI_2,
        3.0,
        -3.0,
        20.0,
        700.0,
        -700.0,
        709.7,
        1e10,
        -1e10,
        1e300,
        -1e300,
    ];
    let mut checked = 0;
    for op in UNARY {
        for &x in &points {
            for offset in [0.0, 1e6] {
                let report = gradcheck(|v| (op.record)(v[0]) + offset, &[x]);
                assert_eq!(
                    report.failures().count(),
                    0,
                    "{}({x:e}) + {offset:e}:\n{report}",
                    op.name
                );
                checked += report.checks.len() - report.unchecked().count();
            }
        }
    }
    // Most rows are decided: the check is not made safe by never deciding.
    let total = UNARY.len() * points.len() * 2;
    assert!(checked * 2 > total, "{checked} of {total} decided");
}

/// f + k·(x − x₀), x₀ the input detached (recorded as a constant of its own
/// value): f's values are unchanged, the tape's ∂/∂x is f′ + k.
fn detached_by<'t>(x: Var<'t>, k: f64) -> Var<'t> {
    (x - x.constant(x.value())) * k
}

#[test]
fn a_third_audit_of_gradcheck_verdicts() {
    // Cancellation in an intermediate: (x + 1e8) − 1e8 rounds at the ulps of
    // 1e8 (1.5e-8) though |f| is 1; the differences jump by 5% between steps.
    // Right derivatives, so never FAIL: the running error bound (Σ|vᵢ ∂f/∂vᵢ|)
    // sees the 1e8 and calls the differences lost to rounding.
    for (report, x) in [
        (gradcheck(|v| (v[0] + 1e8) - 1e8, &[1.0]), 1.0),
        (gradcheck(|v| ((v[0] + 1.7e9) - 1.7e9).sin(), &[0.5]), 0.5),
        (gradcheck(|v| (v[0] + 1e12) - 1e12, &[0.3]), 0.3),
    ] {
        assert_eq!(report.failures().count(), 0, "at {x}: {report}");
        let why = report.checks[0].cannot_check.as_deref().unwrap();
        assert!(why.contains("lost to rounding"), "{why}");
    }
    // Kinks where the tape's convention is the mean of the one-sided slopes:
    // the first difference equals it, but the derivative does not exist, so
    // it is no pass (relu at 0, whose convention 0 is not the mean, already
    // was cannot-check).
    for report in [
        gradcheck(|v| v[0].abs(), &[0.0]),
        gradcheck(|v| v[0].abs() + v[0], &[0.0]),
        gradcheck(|v| v[0].max(v[0] * 2.0), &[0.0]),
    ] {
        assert_eq!(report.unchecked().count(), 1, "{report}");
        let why = report.checks[0].cannot_check.as_deref().unwrap();
        assert!(why.contains("not differentiable"), "{why}");
    }
    // A wrong tape at a root of f: sin(3x) − sin(2x₀) at 0 has slope 1 (f's
    // values) and tape 3; |f(±h)| ≈ h, under the tape's 3h. Still a FAIL,
    // with or without a constant added.
    fn at_root<'t>(v: &[Var<'t>]) -> Var<'t> {
        (v[0] * 3.0).sin() - (v[0].constant(v[0].value()) * 2.0).sin()
    }
    for offset in [0.0, 10.0] {
        let report = gradcheck(|v| at_root(v) + offset, &[0.0]);
        assert_eq!(report.checks[0].tape, 3.0, "{report}");
        assert!((report.checks[0].reference - 1.0).abs() < 1e-6, "{report}");
        assert_eq!(report.failures().count(), 1, "{offset}: {report}");
    }
    // A wrong tape that the first, too wide, difference happens to match:
    // e^(1e6·x) at 0 has slope 1e6; its difference at h = 1e-6 is
    // sinh(1)·1e6 = 1.1752e6, and the tape says 1e6 + 175201.19. The
    // one-sided slopes (1.72e6, 0.63e6) show the step is too wide: FAIL at a
    // smaller step, not a pass.
    let report = gradcheck(
        |v| (v[0] * 1e6).exp() + detached_by(v[0], 175_201.19),
        &[0.0],
    );
    assert_eq!(report.failures().count(), 1, "{report}");
    assert!((report.checks[0].reference - 1e6).abs() < 1e3, "{report}");
    assert!(report.to_string().contains("was not decisive"), "{report}");
    // A wrong slope far beyond what f's values can show over any step: x³ at
    // 0 with a tape of 1 (|f(±h)| = h³ ≪ 1·h): the differences cannot tell
    // a wrong tape from an f varying on a finer scale, and say so.
    let report = gradcheck(|v| v[0].powi(3) + detached_by(v[0], 1.0), &[0.0]);
    assert_eq!(report.unchecked().count(), 1, "{report}");
    let why = report.checks[0].cannot_check.as_deref().unwrap();
    assert!(why.contains("cannot tell which"), "{why}");
}

#[test]
fn a_seventh_audit_of_gradcheck_verdicts() {
    // ln(1 − σ(2x)) at 15 with the input detached inside: f′ = 1 + 2σ(30) ≈ 3,
    // the tape 1. The first difference agreed with 1 by rounding alone (its
    // bound ~630 at h = 1.5e-5): it must not pass.
    let report = gradcheck(
        |v| v[0] - (1.0 - (v[0].constant(v[0].value()) * 2.0).sigmoid()).ln(),
        &[15.0],
    );
    assert!(!report.all_passed(), "{report}");
    // f ≡ 0 (x − x₀) with a tape of 1: every difference is exactly 0; that is
    // f linear to the last bit, and the tape is wrong: FAIL, not a "lost to
    // rounding" reason.
    let report = gradcheck(|v| v[0] - v[0].constant(v[0].value()), &[0.5]);
    assert_eq!(report.failures().count(), 1, "{report}");
    // x³ at 0 with a tape of 1 keeps its true reason.
    let report = gradcheck(|v| v[0].powi(3) + detached_by(v[0], 1.0), &[0.0]);
    let why = report.checks[0].cannot_check.as_deref().unwrap();
    assert!(why.contains("cannot tell which"), "{why}");
}

/// max(x, 1) at 1 with a stop-gradient term that is 0 at every point
/// evaluated (`x − x.constant(x.value())`): f is max(x, 1), whose one-sided
/// slopes at 1 are 1 and 0, and the tape's 1.0 is the right one. The steps
/// shrink until the slopes' rounding (±0.8 at h = 7e-15) covers the kink's
/// gap; a FAIL was stated there, against the central difference 0.5. Found
/// by a fresh user's review: the verdict must not depend on how the tape
/// was built, and max(x, 1) written plainly is "cannot check here".
#[test]
fn a_kink_whose_slopes_agree_only_within_rounding_is_not_a_failure() {
    let hidden = gradcheck(
        |v| {
            let x = v[0];
            x.max(1.0) + (x - x.constant(x.value())) * 0.5
        },
        &[1.0],
    );
    assert_eq!(hidden.checks[0].tape, 1.0);
    assert_eq!(
        (hidden.failures().count(), hidden.unchecked().count()),
        (0, 1),
        "{hidden}"
    );
    let plain = gradcheck(|v| v[0].max(1.0), &[1.0]);
    assert_eq!(
        (plain.failures().count(), plain.unchecked().count()),
        (0, 1)
    );
    // A wrong tape on a smooth function still fails: 3x² at 1 is 3, the tape
    // says 2 (x·x·x with one factor stopped).
    let wrong = gradcheck(
        |v| {
            let x = v[0];
            x * x * x.constant(x.value())
        },
        &[1.0],
    );
    assert_eq!(wrong.failures().count(), 1, "{wrong}");
}

/// A fresh user's review: for pow(x, p) at (−2, 2), ∂/∂p cannot be checked
/// (f is NaN for every non-integer exponent near 2), but the row's reason
/// was the last step tried, "the step … is lost to the rounding of x[1]".
/// The reason is now why the steps could not be formed.
#[test]
fn an_unchecked_rows_reason_is_why_the_steps_failed_not_the_last_step_lost_to_rounding() {
    let report = chainrule::gradcheck::gradcheck(|v| v[0].pow(v[1]), &[-2.0, 2.0]);
    let text = report.to_string();
    assert!(!report.all_passed(), "{text}");
    assert!(text.contains("not defined (NaN)"), "{text}");
    assert!(!text.contains("is lost to the rounding of x[1]"), "{text}");
}

#[test]
fn a_kink_smaller_than_the_tolerance_is_never_passed() {
    // An L1 penalty at its kink: 1e-6·|w| at w = 0 has one-sided slopes ±1e-6,
    // within the absolute tolerance 1e-5 of the tape's convention 0, so the
    // differences "agreed" and the row passed, though ∂f/∂w does not exist.
    let report = gradcheck(
        |v| (v[0] * 2.0 - 1.0).square() + v[1].abs() * 1e-6,
        &[0.3, 0.0],
    );
    assert!(report.checks[0].passed, "{report}");
    assert_eq!(report.checks[0].kink, None);
    let row = &report.checks[1];
    assert!(!row.passed, "{report}");
    let why = row.cannot_check.as_deref().expect("cannot check here");
    assert!(
        why.contains("passes a kink at") && why.contains("|·|′(0)"),
        "{why}"
    );
    assert!(!report.all_passed());
    assert_eq!(report.unchecked().count(), 1);
    assert_eq!(report.failures().count(), 0);
    // max at a tie, scaled below the tolerance: both inputs.
    let report = gradcheck(|v| v[0].max(v[1]) * 1e-7, &[0.5, 0.5]);
    assert_eq!(report.unchecked().count(), 2, "{report}");
    // Off the kink the same functions pass, with no kink named.
    let report = gradcheck(|v| v[0].abs() * 1e-6, &[0.5]);
    assert!(report.all_passed(), "{report}");
    assert_eq!(report.checks[0].kink, None);
}

#[test]
fn a_failure_at_a_kink_names_the_kink() {
    // f = relu(x) − relu(−x) = x: differentiable at 0 with slope 1, where the
    // tape's value is the conventions' sum 0. The failure stands (the tape's
    // value is not f's slope), and says why.
    let report = gradcheck(|v| v[0].relu() - (-v[0]).relu(), &[0.0]);
    let row = &report.checks[0];
    assert!(!row.passed && row.cannot_check.is_none(), "{report}");
    assert!(
        row.kink.as_deref().is_some_and(|k| k.contains("relu")),
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("x[0]: the tape passes a kink at"), "{text}");
}
