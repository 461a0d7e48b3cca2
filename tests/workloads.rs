//! Every version of every workload (primal, taped with plain operators, taped with
//! fused neurons, hand-coded) against the references of benches/WORKLOADS.md.
//!
//! Tolerance: 1e-9 relative, as benches/WORKLOADS.md states for every figure.

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::Tape;
use workloads::{chain, moons, seed, Spelling};

fn assert_rel(actual: f64, expected: f64, what: &str) {
    if actual == expected {
        return; // also covers dy/dx0 of the chain, which underflows to 0 both ways
    }
    let rel = (actual - expected).abs() / expected.abs();
    assert!(
        rel <= 1e-9,
        "{what}: {actual} vs {expected} (relative error {rel:e})"
    );
}

#[test]
fn seed_network_trains_to_the_reference_every_way() {
    type Step = fn(&mut Tape, &mut [f64; 8]) -> f64;
    let ways: [(&str, Step); 4] = [
        ("hand", |_, w| seed::step_hand(w)),
        ("ops", |t, w| seed::step_taped(t, w, Spelling::Ops)),
        ("fused", |t, w| seed::step_taped(t, w, Spelling::Fused)),
        ("as users write it", seed::step_as_users_write_it),
    ];
    for (name, step) in ways {
        let mut tape = Tape::new();
        let mut w = seed::WEIGHTS;
        assert_rel(step(&mut tape, &mut w), seed::REFERENCE_E0, name);
        assert_rel(w[4], seed::REFERENCE_W5_AFTER_1, name);
        assert_rel(w[0], seed::REFERENCE_W1_AFTER_1, name);
        assert_rel(step(&mut tape, &mut w), seed::REFERENCE_E1, name);
        for _ in 2..seed::STEPS {
            step(&mut tape, &mut w);
        }
        assert_rel(seed::error_primal(&w), seed::REFERENCE_E_FINAL, name);
    }
}

#[test]
fn moons_trains_to_the_reference_every_way() {
    let data = moons::data();
    type Epoch = fn(&mut Tape, &mut [f64], &[moons::Sample], &mut Vec<f64>) -> f64;
    let ways: [(&str, Epoch); 3] = [
        ("hand", |_, p, d, g| moons::epoch_hand(p, d, g)),
        ("ops", |t, p, d, g| {
            moons::epoch_taped(t, p, d, g, Spelling::Ops)
        }),
        ("fused", |t, p, d, g| {
            moons::epoch_taped(t, p, d, g, Spelling::Fused)
        }),
    ];
    for (name, epoch) in ways {
        let mut tape = Tape::new();
        let mut p = moons::initial_parameters();
        assert_eq!(p.len(), moons::PARAMETERS);
        let mut grads = Vec::new();
        let mut losses = Vec::new();
        for _ in 0..moons::EPOCHS {
            losses.push(epoch(&mut tape, &mut p, &data, &mut grads));
        }
        assert_rel(losses[0], moons::REFERENCE_L0, name);
        assert_rel(losses[99], moons::REFERENCE_L99, name);
    }
    // Accuracy at epoch 99: the parameters before the 100th update.
    let mut p = moons::initial_parameters();
    let mut grads = Vec::new();
    for _ in 0..moons::EPOCHS - 1 {
        moons::epoch_hand(&mut p, &data, &mut grads);
    }
    assert_eq!(moons::correct(&p, &data), moons::REFERENCE_CORRECT);
}

#[test]
fn chain_gradients_match_the_hand_coded_adjoint() {
    let mut xs = Vec::new();
    let (y_hand, g_hand) = chain::gradient_hand(chain::STEPS, &mut xs);
    let mut tape = Tape::new();
    for spelling in [Spelling::Ops, Spelling::Fused] {
        let (y, g) = chain::gradient_taped(&mut tape, chain::STEPS, spelling);
        assert_rel(y, y_hand, "y");
        for k in 0..3 {
            assert_rel(g[k], g_hand[k], "gradient");
        }
    }
    assert_eq!(
        chain::run_ops(0.5, 0.9, 0.1, chain::STEPS),
        y_hand,
        "primal and hand-coded forward passes are the same arithmetic"
    );
}

/// `chainrule::bench` checks the taped gradient against the hand-coded one
/// before timing: a hand partial of exactly 0 against a taped 2.8e-17 (the
/// rounding of 0.1 + 0.2 − 0.3) passes the absolute floor; a purely relative
/// test refused it.
#[test]
fn bench_accepts_a_zero_hand_partial_against_rounding_on_the_tape() {
    use chainrule::bench::{Bench, Function};
    use chainrule::Scalar;
    struct Cancels;
    impl Function for Cancels {
        fn eval<T: Scalar>(&self, x: &[T]) -> T {
            x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
        }
    }
    let hand = |x: &[f64], g: &mut [f64]| {
        g[0] = 2.0 * x[0];
        g[1] = 0.0;
        x[0] * x[0] + x[1] * 0.1 + x[1] * 0.2 - x[1] * 0.3
    };
    let tape = Tape::new();
    let x = tape.vars(&[1.5, 2.0]);
    let g = Cancels.eval(&x).backward();
    assert!(g[x[1]] != 0.0 && g[x[1]].abs() < 1e-16, "{}", g[x[1]]);
    let quick = std::time::Duration::from_micros(50);
    let bench = || {
        Bench::new("cancels", &Cancels, &[1.5, 2.0])
            .hand(&hand)
            .rounds(3)
            .round_time(quick)
    };
    let report = bench().run().expect("a zero hand partial against 2.8e-17");
    assert!(report.hand_difference.is_some_and(|d| d < 1e-16));
    // A wrong hand partial is still refused, and a floor of 0 is purely relative.
    let wrong = |x: &[f64], g: &mut [f64]| {
        let v = hand(x, g);
        g[1] = 1e-9;
        v
    };
    assert!(Bench::new("wrong", &Cancels, &[1.5, 2.0])
        .hand(&wrong)
        .run()
        .is_err());
    // With a floor of 0 the hand partial still passes, within the tape's own
    // rounding bound of its 2.8e-17 (allowed at either sign); the replayed
    // gradient, which sums in another order (5.6e-17), is then refused
    // against the taped one, which only a floor allows for.
    let err = bench().absolute_tolerance(0.0).run().unwrap_err();
    assert!(err.to_string().contains("replayed vs taped"), "{err}");
}
