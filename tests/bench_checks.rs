//! `bench::Bench`'s checks state only what holds: a gradient or value that
//! differs from its reference is refused, whatever the reference.

use chainrule::bench::{Bench, BenchError, Function, HandGradient};
use chainrule::Scalar;
use std::time::Duration;

const QUICK: Duration = Duration::from_micros(20);

struct Square;
impl Function for Square {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0] * x[0]
    }
}

struct Ln;
impl Function for Ln {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0].ln()
    }
}

fn mismatch(result: Result<chainrule::bench::Report, BenchError>) -> (&'static str, Option<usize>) {
    match result {
        Err(BenchError::Mismatch { what, input, .. }) => (what, input),
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

/// An infinite reference was matched by anything: |6 − ∞| ≤ 1e-12 + 1e-9·∞ is
/// ∞ ≤ ∞, so a hand partial of ∞ against a taped 6 (and −∞ against +∞) was
/// accepted, with a "largest relative difference" of 0 (∞/∞ is NaN, which
/// `max` skips).
#[test]
fn an_infinite_reference_is_matched_by_itself_only() {
    let infinite = |x: &[f64], g: &mut [f64]| {
        g[0] = f64::INFINITY;
        x[0] * x[0]
    };
    let bench = Bench::new("square", &Square, &[3.0]).hand(&infinite);
    let run = bench.rounds(1).round_time(QUICK).run();
    assert_eq!(mismatch(run), ("taped vs hand-coded", Some(0)));

    // ln at 0: f = −∞, f' = +∞ on the tape; a hand-coded gradient of the wrong
    // sign in both.
    let wrong_sign = |x: &[f64], g: &mut [f64]| {
        g[0] = -1.0 / x[0];
        -x[0].ln()
    };
    let bench = Bench::new("ln", &Ln, &[0.0]).hand(&wrong_sign);
    let run = bench.rounds(1).round_time(QUICK).run();
    assert_eq!(mismatch(run), ("hand-coded vs primal", None));
    let right_value = |x: &[f64], g: &mut [f64]| {
        g[0] = -1.0 / x[0];
        x[0].ln()
    };
    let bench = Bench::new("ln", &Ln, &[0.0]).hand(&right_value);
    let run = bench.rounds(1).round_time(QUICK).run();
    assert_eq!(mismatch(run), ("taped vs hand-coded", Some(0)));

    // Nor is an infinite taped partial matched by a finite hand one: its
    // rounding bound, ∞, is not allowed for (|∞ − 1e300| ≤ ∞ would pass it).
    let finite = |x: &[f64], g: &mut [f64]| {
        g[0] = 1e300;
        x[0].ln()
    };
    let bench = Bench::new("ln", &Ln, &[0.0]).hand(&finite);
    let run = bench.rounds(1).round_time(QUICK).run();
    assert_eq!(mismatch(run), ("taped vs hand-coded", Some(0)));

    // The same infinities on both sides still match.
    let right = |x: &[f64], g: &mut [f64]| {
        g[0] = 1.0 / x[0];
        x[0].ln()
    };
    let report = Bench::new("ln", &Ln, &[0.0])
        .hand(&right)
        .rounds(1)
        .round_time(QUICK)
        .run()
        .unwrap();
    assert_eq!(report.hand_difference, Some(0.0));
}

struct First;
impl Function for First {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0]
    }
}

/// f(x) = x₀ of two inputs panicked in `run` ("set_inputs was given 2 values for
/// a program of 1 inputs": a program's inputs are the leaves up to its last
/// output), where `run`'s docs say it panics only if the function or the
/// hand-coded gradient does.
#[test]
fn an_output_that_is_an_early_input_is_benchmarked() {
    let hand = |x: &[f64], g: &mut [f64]| {
        g.copy_from_slice(&[1.0, 0.0, 0.0]);
        x[0]
    };
    for inputs in [&[1.0, 2.0][..], &[1.0, 2.0, 3.0]] {
        let bench = Bench::new("first", &First, inputs)
            .rounds(1)
            .round_time(QUICK);
        let report = bench.run().unwrap();
        assert_eq!(
            (report.nodes, report.edges, report.rows.len()),
            (inputs.len(), 0, 3)
        );
    }
    let report = Bench::new("first", &First, &[1.0, 2.0, 3.0])
        .hand(&hand)
        .rounds(1)
        .round_time(QUICK)
        .run()
        .unwrap();
    assert_eq!(report.hand_difference, Some(0.0));
}

struct Cancels;
impl Function for Cancels {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
    }
}

/// Against a hand partial of 0 the difference reported is absolute (there is no
/// relative one), but the table called it "largest relative difference".
#[test]
fn a_difference_against_a_zero_partial_is_not_called_relative() {
    let hand = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        g[1] = 0.0;
        x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
    };
    let bench = Bench::new("cancels", &Cancels, &[1.5, 2.0]).hand(&hand);
    let report = bench.rounds(1).round_time(QUICK).run().unwrap();
    let d = report.hand_difference.unwrap();
    assert!(d > 0.0 && d < 1e-16, "{d:e}"); // the taped ∂f/∂x₁, a rounding
    let table = report.to_string();
    assert!(!table.contains("largest relative difference"), "{table}");
    assert!(
        table.contains(&format!(
            "largest difference {d:.1e} (relative to the hand-coded partial, or absolute where that is 0)"
        )),
        "{table}"
    );
}

/// A fresh user's review: the floor was a fixed 1e-12, so a function whose
/// partials are all below it (f = 1e-13·x₀² + 1e-14·x₁) passed a hand gradient
/// with ∂/∂x₀ doubled and ∂/∂x₁ left out. The default floor is now at the
/// gradient's own scale; an explicit `absolute_tolerance` stays absolute.
#[test]
fn a_wrong_hand_gradient_of_tiny_partials_is_refused() {
    struct Tiny;
    impl Function for Tiny {
        fn eval<T: Scalar>(&self, x: &[T]) -> T {
            x[0] * x[0] * 1e-13 + x[1] * 1e-14
        }
    }
    let quick = std::time::Duration::from_micros(50);
    let bench = |hand: HandGradient<'_>| {
        Bench::new("tiny", &Tiny, &[1.0, 1.0])
            .hand(hand)
            .rounds(1)
            .round_time(quick)
            .run()
    };
    let doubled = |x: &[f64], g: &mut [f64]| {
        g[0] = 4e-13 * x[0];
        g[1] = 1e-14;
        x[0] * x[0] * 1e-13 + x[1] * 1e-14
    };
    let missing = |x: &[f64], g: &mut [f64]| {
        g[0] = 2e-13 * x[0];
        g[1] = 0.0;
        x[0] * x[0] * 1e-13 + x[1] * 1e-14
    };
    let right = |x: &[f64], g: &mut [f64]| {
        g[0] = 2e-13 * x[0];
        g[1] = 1e-14;
        x[0] * x[0] * 1e-13 + x[1] * 1e-14
    };
    for (hand, partial) in [
        (&doubled as HandGradient<'_>, "∂f/∂x0"),
        (&missing, "∂f/∂x1"),
    ] {
        let err = bench(hand).expect_err("a wrong tiny partial");
        assert!(
            err.to_string()
                .contains(&format!("taped vs hand-coded: {partial}")),
            "{err}"
        );
    }
    bench(&right).expect("the right tiny gradient");
    // Set explicitly, the floor is absolute, at any scale.
    let loose = Bench::new("tiny", &Tiny, &[1.0, 1.0])
        .hand(&missing)
        .absolute_tolerance(1e-12)
        .rounds(1)
        .round_time(quick);
    assert!(loose.run().is_ok());
}

/// f = 5e5·x₀² + 5e-7·x₁² + 1e-7·x₁: at (1, 0), ∂f/∂x₁ = 1e-7, 1.7e-13 of the
/// largest partial (1e6), below the default floor (1e-12 of it).
struct Stiff;
impl Function for Stiff {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0] * x[0] * 5e5 + x[1] * x[1] * 5e-7 + x[1] * 1e-7
    }
}

#[test]
fn a_sign_slip_on_a_partial_below_the_floor_is_refused() {
    // A new user's report: the floor at the gradient's scale passed this sign
    // slip, and the report then gave a largest difference of 200%.
    let wrong = |x: &[f64], g: &mut [f64]| {
        g[0] = 1e6 * x[0];
        g[1] = -(1e-6 * x[1] + 1e-7); // the sign slip
        5e5 * x[0] * x[0] + 5e-7 * x[1] * x[1] + 1e-7 * x[1]
    };
    let bench = || {
        Bench::new("stiff", &Stiff, &[1.0, 0.0])
            .rounds(3)
            .round_time(QUICK)
    };
    assert_eq!(
        mismatch(bench().hand(&wrong).run()),
        ("taped vs hand-coded", Some(1))
    );
    let right = |x: &[f64], g: &mut [f64]| {
        g[0] = 1e6 * x[0];
        g[1] = 1e-6 * x[1] + 1e-7;
        5e5 * x[0] * x[0] + 5e-7 * x[1] * x[1] + 1e-7 * x[1]
    };
    assert!(bench().hand(&right).run().is_ok());
}

struct Tiny;
impl Function for Tiny {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0] * 1e-200 + x[1]
    }
}

#[test]
fn a_sign_slip_on_a_partial_whose_product_underflows_is_refused() {
    // The sign test was `taped * hand < 0`: 1e-200 · −1e-200 underflows to
    // −0, not below 0, so this slip passed on the floor (1e-12 · 1) with a
    // reported largest difference of 200%.
    let wrong = |x: &[f64], g: &mut [f64]| {
        g[0] = -1e-200; // the sign slip
        g[1] = 1.0;
        x[0] * 1e-200 + x[1]
    };
    let bench = || {
        Bench::new("tiny", &Tiny, &[1.0, 2.0])
            .rounds(3)
            .round_time(QUICK)
    };
    assert_eq!(
        mismatch(bench().hand(&wrong).run()),
        ("taped vs hand-coded", Some(0))
    );
    let right = |x: &[f64], g: &mut [f64]| {
        g[0] = 1e-200;
        g[1] = 1.0;
        x[0] * 1e-200 + x[1]
    };
    assert!(bench().hand(&right).run().is_ok());
}

#[test]
fn rounding_of_the_opposite_sign_in_a_cancelling_sum_still_passes() {
    // The hand sums in another order and rounds to the other side of 0.
    let hand = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        g[1] = 0.3 - 0.2 - 0.1; // -2.8e-17
        x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
    };
    let mut g = [0.0; 2];
    hand(&[1.5, 2.0], &mut g);
    let report = Bench::new("cancels", &Cancels, &[1.5, 2.0])
        .hand(&hand)
        .rounds(3)
        .round_time(QUICK)
        .run()
        .expect("rounding on either side of 0 passes");
    assert!(report.hand_difference.is_some());
    // And the test is one of signs: the taped partial is the other side of 0.
    let tape = chainrule::Tape::new();
    let x = tape.vars(&[1.5, 2.0]);
    let taped = Cancels.eval(&x).backward()[x[1]];
    assert!(taped * g[1] < 0.0, "taped {taped:e}, hand {:e}", g[1]);
}

/// x³ − (x − 1)³: at 1e10 the sweep adds ±3e20, so the taped ∂f/∂x is off
/// the exact 6x − 3 by 22,525, within the sweep's own rounding bound (~8e5).
struct Cubes;
impl Function for Cubes {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0].powi(3) - (x[0] - 1.0).powi(3)
    }
}

fn cubes_value(x: &[f64]) -> f64 {
    x[0].powi(3) - (x[0] - 1.0).powi(3)
}

/// A new user's report: an exact hand partial of the same sign as the taped
/// one, off it by the tape's own rounding, was refused as if the hand-coded
/// side were wrong ("5.9999977472e10 taped but 5.9999999997e10 hand-coded"):
/// the tape's rounding bound was allowed for only between opposite signs.
#[test]
fn an_exact_hand_partial_within_the_tapes_own_rounding_passes() {
    let exact = |x: &[f64], g: &mut [f64]| {
        g[0] = 6.0 * x[0] - 3.0; // 59,999,999,997: exact in f64
        cubes_value(x)
    };
    let x = 1e10;
    let tape = chainrule::Tape::new();
    let v = tape.var(x);
    let g = Cubes.eval(&[v]).backward();
    let (taped, bound) = (g[v], g.rounding_bound(v));
    let hand = 6.0 * x - 3.0;
    // The case is the reported one: the default relative tolerance and floor
    // alone (1e-9·|hand| + 1e-12·|largest partial|, about 0.06) refuse the
    // difference, which the sweep's bound covers.
    let difference = (taped - hand).abs();
    assert!(difference > 1e-9 * hand + 1e-12 * hand, "{difference:e}");
    assert!(difference <= bound, "{difference:e} > bound {bound:e}");
    let report = Bench::new("cubes", &Cubes, &[x])
        .hand(&exact)
        .rounds(1)
        .round_time(QUICK)
        .run()
        .expect("an exact partial within the tape's own rounding");
    assert_eq!(report.hand_difference, Some(difference / hand));
    // Passed, but the check cannot tell it from a slip within the bound: said.
    assert_eq!(report.unconfirmed.len(), 1, "{report}");
    assert_eq!(report.unconfirmed[0].hand, hand);
}

/// f = (x₀ + x₁ − 0.3)² + (x₀ − x₁ − 0.1)² at (0.2, 0.1), the residual written
/// x₀ − 0.3 + x₁ by hand: the hand's ∂f/∂x₀ is 2⁻⁵⁴, the exact derivative at
/// the f64 inputs (0.2 + 0.1 − 0.3 is 2⁻⁵⁵ exactly, 0.2 − 0.1 − 0.1 is 0), and
/// the tape's is 2⁻⁵³: its forward pass rounds 0.2 + 0.1 up. The sweep's
/// rounding bound (about 2e-31) does not cover the forward pass, so the check
/// cannot tell the two apart from a slip and refuses, but it must not say the
/// hand-coded partial is the wrong one.
struct Residuals;
impl Function for Residuals {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        (x[0] + x[1] - 0.3).square() + (x[0] - x[1] - 0.1).square()
    }
}

#[test]
fn a_refusal_beyond_the_tapes_rounding_blames_neither_side() {
    let hand = |x: &[f64], g: &mut [f64]| {
        let r1 = x[0] - 0.3 + x[1];
        let r2 = x[0] - x[1] - 0.1;
        g[0] = 2.0 * r1 + 2.0 * r2;
        g[1] = 2.0 * r1 - 2.0 * r2;
        Residuals.eval(x) // f(x) as the primal computes it
    };
    let mut g = [0.0; 2];
    hand(&[0.2, 0.1], &mut g);
    assert_eq!(g, [2f64.powi(-54); 2]); // exact, as derived above
    let bench = || {
        Bench::new("residuals", &Residuals, &[0.2, 0.1])
            .hand(&hand)
            .rounds(1)
            .round_time(QUICK)
    };
    let err = bench().run().expect_err("beyond the sweep's bound");
    let m = err.to_string();
    assert!(
        m.contains("∂f/∂x0 is 1.1102230246251565e-16 taped but 5.551115123125783e-17 hand-coded: they differ by 5.551115123125783e-17"),
        "{m}"
    );
    // The bound allowed, printed; and no side named as the wrong one.
    let BenchError::Mismatch { rounding_bound, .. } = err else {
        panic!("{err:?}")
    };
    assert!(
        rounding_bound > 0.0 && rounding_bound < 1e-30,
        "{rounding_bound:e}"
    );
    assert!(
        m.contains(&format!(
            "plus {rounding_bound:e} for the tape's own rounding of its partial (Gradients::rounding_bound)"
        )),
        "{m}"
    );
    assert!(
        m.contains(
            "either may be the one off: the hand-coded partial may be wrong, or the taped one off"
        ),
        "{m}"
    );
    assert!(m.contains("forward pass's rounding"), "{m}");
    // A floor above the forward pass's rounding here (2⁻⁵⁴, 5.6e-17) lets it
    // be timed, as the docs say.
    assert!(bench().absolute_tolerance(1e-16).run().is_ok());
}

/// The tape's rounding allowed for does not let a wrong hand partial through:
/// 6x for 6x − 3 at x = 1 (3 on the tape, exactly: no cancellation, a bound
/// of a few ulps), and 6x − 3 doubled at 1e10, where the bound is ~8e5 but
/// the slip 6e10.
#[test]
fn a_wrong_hand_partial_is_still_refused() {
    let no_constant = |x: &[f64], g: &mut [f64]| {
        g[0] = 6.0 * x[0];
        cubes_value(x)
    };
    let doubled = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * (6.0 * x[0] - 3.0);
        cubes_value(x)
    };
    for (hand, x) in [(&no_constant as HandGradient<'_>, 1.0), (&doubled, 1e10)] {
        let run = Bench::new("cubes", &Cubes, &[x])
            .hand(hand)
            .rounds(1)
            .round_time(QUICK)
            .run();
        assert_eq!(mismatch(run), ("taped vs hand-coded", Some(0)), "at {x}");
    }
}

/// f = x₀·x₁ + x₀·1e17 − x₀·1e17 at (1, 16): the taped ∂f/∂x₀ is 16 exactly,
/// but the sweep adds ±1e17, so its rounding bound is 311, wider than a sign
/// slip (32 apart) or a factor 2 (16 apart). A new user's review: both passed
/// silently. They pass as not confirmed, listed in the report, its table and
/// its JSON; the right gradient is confirmed.
struct Cancel;
impl Function for Cancel {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0] * x[1] + x[0] * 1e17 - x[0] * 1e17
    }
}

fn cancel_value(x: &[f64]) -> f64 {
    x[0] * x[1] + x[0] * 1e17 - x[0] * 1e17
}

#[test]
fn a_hand_partial_within_the_tapes_rounding_bound_is_reported_unconfirmed() {
    let right = |x: &[f64], g: &mut [f64]| {
        g[0] = x[1];
        g[1] = x[0];
        cancel_value(x)
    };
    let flipped = |x: &[f64], g: &mut [f64]| {
        g[0] = -x[1];
        g[1] = x[0];
        cancel_value(x)
    };
    let doubled = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[1];
        g[1] = x[0];
        cancel_value(x)
    };
    let run = |hand: HandGradient<'_>| {
        Bench::new("cancel", &Cancel, &[1.0, 16.0])
            .hand(hand)
            .rounds(1)
            .round_time(QUICK)
            .run()
            .expect("within the tape's rounding bound: passed, not refused")
    };
    let report = run(&right);
    assert!(report.unconfirmed.is_empty(), "{:?}", report.unconfirmed);
    assert!(!report.to_string().contains("Not confirmed"), "{report}");
    assert!(report.to_json().contains("\"unconfirmed\":[]"));
    for (hand, value) in [(&flipped as HandGradient<'_>, -16.0), (&doubled, 32.0)] {
        let report = run(hand);
        assert_eq!(report.unconfirmed.len(), 1, "{value}");
        let u = &report.unconfirmed[0];
        assert_eq!((u.input, u.taped, u.hand), (0, 16.0, value));
        // The case is the reported one: the bound covers the slip.
        assert!(
            u.rounding_bound > 300.0 && u.rounding_bound < 320.0,
            "{u:?}"
        );
        let table = report.to_string();
        assert!(
            table.contains(&format!(
                "Not confirmed: ∂f/∂x0 is 1.6e1 taped and {value:e} hand-coded"
            )),
            "{table}"
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        assert_eq!(json["unconfirmed"][0]["input"], 0);
        assert_eq!(json["unconfirmed"][0]["hand"], value);
    }
}

/// abs′(0) is 0 on the tape, exactly (no rounding: its bound is 0 or a
/// subnormal): the refusal of a hand 1 named "plus 1e-323 for the tape's own
/// rounding", a bound that adds nothing to the 1e-9 + 1e-12 allowed.
struct Abs;
impl Function for Abs {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0].abs()
    }
}

#[test]
fn a_negligible_rounding_bound_is_not_named() {
    let hand = |x: &[f64], g: &mut [f64]| {
        g[0] = 1.0;
        x[0].abs()
    };
    let err = Bench::new("abs", &Abs, &[0.0])
        .hand(&hand)
        .rounds(1)
        .round_time(QUICK)
        .run()
        .expect_err("0 taped, 1 by hand");
    let m = err.to_string();
    assert!(!m.contains("tape's own rounding"), "{m}");
    assert!(
        m.contains("∂f/∂x0 is 0e0 taped but 1e0 hand-coded: they differ by 1e0, more than the 1e-12 + 1e-9·|hand-coded| allowed (either may be the one off"),
        "{m}"
    );
}
