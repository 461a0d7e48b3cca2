//! `chainrule::bench` used as a new user would: its tolerances, its errors and
//! panics (at the caller's line, naming the mistake), its JSON against its
//! table, and its figures recomputed without it. No assertion here is on a
//! time.

use std::time::Duration;

use chainrule::bench::{interleaved, Bench, BenchError, Function, Report};
use chainrule::{Scalar, Tape};

/// Rounds this short make the tests quick; the figures tested do not depend on
/// them.
const QUICK: Duration = Duration::from_micros(20);

#[path = "common/panics.rs"]
mod panics;
use panics::panic_of;

struct Square;
impl Function for Square {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0] * x[0]
    }
}

/// ∂f/∂x₁ = 0.1 + 0.2 − 0.3: 2.8e-17 on the tape, 0 by hand.
struct Cancels;
impl Function for Cancels {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
    }
}

fn cancels_by_hand(x: &[f64], g: &mut [f64]) -> f64 {
    g[0] = 2.0 * x[0];
    g[1] = 0.0;
    x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
}

/// A relative tolerance of ∞ made the bound against a reference of 0 `1e-12 +
/// ∞ · 0`, NaN, which refuses everything: loosening the tolerance refused the
/// taped 2.8e-17 against a hand-coded 0 that the default accepts (by its
/// absolute floor).
#[test]
fn an_infinite_relative_tolerance_refuses_nothing_the_default_accepts() {
    let bench = Bench::new("cancels", &Cancels, &[1.5, 2.0])
        .hand(&cancels_by_hand)
        .rounds(1)
        .round_time(QUICK);
    assert!(bench.run().is_ok());
    let loose = bench.tolerance(f64::INFINITY);
    let report = loose
        .run()
        .expect("a looser tolerance accepts what the default does");
    // The taped partial, 2.8e-17 or 5.6e-17 by the order of the sum, is the
    // difference reported against the hand's 0.
    assert!(report.hand_difference.is_some_and(|d| d > 0.0 && d < 1e-16));

    // ∞ accepts any finite partial against a nonzero reference, and leaves a
    // reference of 0 to the absolute floor.
    let half = |x: &[f64], g: &mut [f64]| {
        g[0] = x[0];
        x[0] * x[0]
    };
    let bench = Bench::new("square", &Square, &[3.0]).hand(&half);
    let bench = bench.rounds(1).round_time(QUICK);
    assert!(bench.run().is_err());
    assert!(bench.tolerance(f64::INFINITY).run().is_ok());
    let zero = |x: &[f64], g: &mut [f64]| {
        g[0] = 0.0; // against a taped 6
        x[0] * x[0]
    };
    let bench = Bench::new("square", &Square, &[3.0]).hand(&zero);
    let bench = bench.rounds(1).round_time(QUICK).tolerance(f64::INFINITY);
    assert!(matches!(
        bench.run(),
        Err(BenchError::Mismatch { input: Some(0), .. })
    ));
}

/// A negative or NaN tolerance was taken silently, and then refused every
/// gradient not equal to its reference to the bit (`|d| ≤ NaN` is false).
#[test]
fn a_negative_or_nan_tolerance_panics_at_the_callers_line() {
    fn bench() -> Bench<'static, Square> {
        Bench::new("square", &Square, &[3.0])
    }
    let cases: [(&str, fn()); 4] = [
        ("tolerance", || drop(bench().tolerance(-1e-9).run())),
        ("tolerance", || drop(bench().tolerance(f64::NAN).run())),
        ("absolute_tolerance", || {
            drop(bench().absolute_tolerance(-1.0).run())
        }),
        ("absolute_tolerance", || {
            drop(bench().absolute_tolerance(f64::NAN).run())
        }),
    ];
    for (method, case) in cases {
        let (location, message) = panic_of(case).unwrap_or_else(|| panic!("{method}: no panic"));
        assert!(location.starts_with("tests/bench.rs:"), "{location}");
        assert!(
            message.contains(&format!("Bench::{method} was given")),
            "{message}"
        );
    }
    // 0 and ∞ are tolerances.
    let report = bench()
        .tolerance(0.0)
        .absolute_tolerance(f64::INFINITY)
        .rounds(1)
        .round_time(QUICK)
        .run();
    assert!(report.is_ok());
}

/// `interleaved(0, …)` panicked inside the library (src/bench.rs), not at the
/// caller's line.
#[test]
fn interleaved_of_no_variant_or_round_panics_at_the_callers_line() {
    for (variants, rounds) in [(0, 3), (2, 0)] {
        let (location, message) = panic_of(|| drop(interleaved(variants, rounds, |_| {})))
            .expect("interleaved of nothing panics");
        assert!(location.starts_with("tests/bench.rs:"), "{location}");
        assert!(
            message.contains(&format!("given {variants} variants, {rounds} rounds")),
            "{message}"
        );
    }
}

fn message(result: Result<Report, BenchError>) -> String {
    result.expect_err("expected an error").to_string()
}

struct Fused;
impl Function for Fused {
    /// The example of `chainrule::replay`'s docs: the replayed fused sum adds
    /// x's contributions 1, 1e16, −1e16 (0), the tape −1e16, 1e16, 1 (1).
    fn eval<T: Scalar>(&self, v: &[T]) -> T {
        let (x, w, b) = (v[0], &v[1..4], &v[4..7]);
        let h: Vec<T> = (0..3).map(|j| w[j] * x + b[j]).collect();
        h[0] + h[1] + h[2]
    }
}

/// A mismatch said "∂f/∂x0 is 6e0, expected 3e0" for a hand-coded 3: the
/// hand-coded value called the expected one, the taped one unnamed; nor did it
/// say that a hand-coded gradient must return f(x), or why a replayed gradient
/// can miss the taped one with neither wrong.
#[test]
fn a_mismatch_names_each_side_and_the_likely_cause() {
    let quick = |b: Bench<'_, Square>| b.rounds(1).round_time(QUICK).run();
    let half = |x: &[f64], g: &mut [f64]| {
        g[0] = x[0];
        x[0] * x[0]
    };
    let m = message(quick(Bench::new("square", &Square, &[3.0]).hand(&half)));
    assert!(
        m.contains("taped vs hand-coded: ∂f/∂x0 is 6e0 taped but 3e0 hand-coded"),
        "{m}"
    );
    // The floor at the gradient's scale: 1e-12 times its largest partial, 6.
    assert!(m.contains("6e-12 + 1e-9·|hand-coded| allowed"), "{m}");
    assert!(!m.contains("expected"), "{m}");

    let no_value = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        0.0
    };
    let m = message(quick(Bench::new("square", &Square, &[3.0]).hand(&no_value)));
    assert!(
        m.contains("hand-coded vs primal: f is 0e0 hand-coded but 9e0 primal"),
        "{m}"
    );
    assert!(m.contains("must return f(x)"), "{m}");

    let inputs = [2.0, 1.0, 1e16, -1e16, 0.0, 0.0, 0.0];
    let m = message(Bench::new("fused", &Fused, &inputs).rounds(1).run());
    assert!(
        m.contains("replayed vs taped: ∂f/∂x0 is 0e0 replayed but 1e0 taped"),
        "{m}"
    );
    assert!(m.contains("chainrule::replay"), "{m}");
    // As the message says, a looser floor lets it be timed.
    let loose = Bench::new("fused", &Fused, &inputs).absolute_tolerance(2.0);
    assert!(loose.rounds(1).round_time(QUICK).run().is_ok());

    let m = message(Bench::new("square", &Square, &[]).run());
    assert!(m.contains("Bench::new was given no inputs"), "{m}");
}

/// The table showed the rounds, the calls per round and the taped-vs-hand
/// difference; the JSON left all three out.
#[test]
fn the_json_has_every_figure_of_the_table() {
    let hand = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        x[0] * x[0]
    };
    for with_hand in [false, true] {
        let mut bench = Bench::new("square", &Square, &[3.0])
            .rounds(4)
            .round_time(QUICK);
        if with_hand {
            bench = bench.hand(&hand);
        }
        let report = bench.run().unwrap();
        let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
        let table = report.to_string();
        assert_eq!(json["rounds"], 4);
        assert_eq!(json["calls_per_round"], report.calls_per_round);
        assert!(table.contains(&format!(
            "Medians of 4 interleaved rounds of {} calls.",
            report.calls_per_round
        )));
        assert_eq!(json["nodes"], report.nodes);
        assert_eq!(json["edges"], report.edges);
        assert_eq!(json["instructions"], report.instructions);
        match report.hand_difference {
            Some(d) => {
                assert_eq!(json["hand_difference"], d);
                assert!(table.contains("largest difference"));
            }
            None => assert!(json.get("hand_difference").is_none(), "{json}"),
        }
        for row in &report.rows {
            let key = if row.variant == "hand-coded" {
                "hand"
            } else {
                row.variant
            };
            // Seconds are written in full (`{:e}`); ratios to 6 decimals,
            // so they agree to 5e-7.
            assert_eq!(json[format!("{key}_seconds")], row.seconds);
            let ratio = json[format!("{key}_vs_primal")].as_f64().unwrap();
            assert!((ratio - row.vs_primal).abs() <= 5e-7);
            assert_eq!(json.get(format!("{key}_vs_hand")).is_some(), with_hand);
        }
        assert_eq!(report.rows.len(), if with_hand { 4 } else { 3 });
    }
}

struct Mixed;
impl Function for Mixed {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        let mut s = x[0].sin() * x[1];
        for w in x.windows(2) {
            s += (w[0] - w[1]).square().tanh() + w[1] * 0.5;
        }
        s
    }
}

/// The figures of a report recomputed without `bench`: nodes and edges of one
/// recording, the tape's bytes (capacity) and the compiled program's bytes per
/// node. (These held before this audit; kept as a check.)
#[test]
fn the_figures_are_those_of_a_recording_and_a_program_made_by_hand() {
    let x: Vec<f64> = (0..40).map(|i| (i as f64 * 0.37).sin()).collect();
    let report = Bench::new("mixed", &Mixed, &x)
        .rounds(1)
        .round_time(QUICK)
        .run()
        .unwrap();

    let tape = Tape::new();
    let leaves = tape.vars(&x);
    let y = Mixed.eval(&leaves);
    let _ = y.backward();
    // 40 leaves; sin, ·; 39 windows of −, square, tanh, +, · 0.5, +.
    assert_eq!(tape.len(), 40 + 2 + 39 * 6);
    assert_eq!(
        (report.nodes, report.edges),
        (tape.len(), tape.edge_count())
    );
    let nodes = tape.len() as f64;
    assert_eq!(
        report.tape_bytes_per_node,
        tape.memory_bytes() as f64 / nodes
    );

    let keeping = Tape::for_replay();
    let leaves = keeping.vars(&x);
    let mut program = keeping.compile(&[Mixed.eval(&leaves)]).unwrap();
    program.backward();
    assert_eq!(report.instructions, program.stats().instructions);
    assert_eq!(
        report.program_bytes_per_node,
        program.memory_bytes() as f64 / nodes
    );
}

/// A mismatch said "more than the 1e-12 + 1e-9·|hand-coded| allowed" where no
/// difference is more than its bound: against an infinite reference (the bound
/// is ∞, and |6 − ∞| = ∞ is not more than it) and where a side is NaN; and
/// against a reference of 0 it wrote the relative term as `inf·|hand-coded|`
/// (∞·0, NaN) for `tolerance(f64::INFINITY)`, where the check takes it as 0.
#[test]
fn a_mismatch_says_why_where_no_bound_was_exceeded() {
    let quick = |b: Bench<'_, Square>| b.rounds(1).round_time(QUICK).run();
    let infinite = |x: &[f64], g: &mut [f64]| {
        g[0] = f64::INFINITY;
        x[0] * x[0]
    };
    let nan = |x: &[f64], g: &mut [f64]| {
        g[0] = f64::NAN;
        x[0] * x[0]
    };
    let zero = |x: &[f64], g: &mut [f64]| {
        g[0] = 0.0;
        x[0] * x[0]
    };
    for tolerance in [1e-9, f64::INFINITY] {
        let bench = || Bench::new("square", &Square, &[3.0]).tolerance(tolerance);
        let m = message(quick(bench().hand(&infinite)));
        assert!(
            m.contains("is 6e0 taped but inf hand-coded, and an infinite reference matches only the same infinity"),
            "{m}"
        );
        assert!(!m.contains("more than"), "{m}");
        let m = message(quick(bench().hand(&nan)));
        assert!(
            m.contains("is 6e0 taped but NaN hand-coded, and NaN matches only NaN"),
            "{m}"
        );
        assert!(!m.contains("more than"), "{m}");
        let m = message(quick(bench().hand(&zero)));
        assert!(
            m.contains("is 6e0 taped but 0e0 hand-coded: they differ by 6e0, more than the 6e-12 allowed against 0"),
            "{m}"
        );
        assert!(!m.contains("·|hand-coded|"), "{m}");
    }
}

/// A compile error reaches the caller as the error's source, as
/// `std::error::Error` chains do (`source()` was `None`).
#[test]
fn a_compile_error_is_the_source_of_the_bench_error() {
    use std::error::Error;
    let tape = chainrule::Tape::new();
    let err = tape.compile(&[]).unwrap_err();
    let bench_err = chainrule::bench::BenchError::Compile(err.clone());
    let source = bench_err.source().expect("the compile error as source");
    assert_eq!(source.to_string(), err.to_string());
    assert!(chainrule::bench::BenchError::NoInputs.source().is_none());
}
