//! `bench::Bench`'s checks state only what holds: a gradient or value that
//! differs from its reference is refused, whatever the reference.

use chainrule::bench::{Bench, BenchError, Function};
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
