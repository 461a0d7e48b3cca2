//! A derivative rule that takes another expression far out (tanh′ past
//! |x| = 20, arctan′ past |x| = 2^512) records the same function there, not
//! its tail alone, so that a gradient recorded with `Tape::grad` and compiled
//! replays right at inputs on the other side of the switch. (They recorded
//! the tails 4e^−2|x| and 1/x², which a replay at x = 0 gave as 4 and ∞ for
//! tanh′(0) = 1 and arctan′(0) = 1.) What is recorded at the switch's far
//! side is the tail bit for bit, as before: held against the tail computed
//! here.

use chainrule::{Tape, Var};

type Body = for<'t> fn(Var<'t>) -> Var<'t>;

/// d f/dx recorded at `from`, compiled, replayed at `to`; and a fresh
/// recording at `to`.
fn replayed_and_fresh(f: Body, from: f64, to: f64) -> (f64, f64) {
    let tape = Tape::for_replay();
    let x = tape.var(from);
    let g = tape.grad(f(x), &[x]);
    let mut program = tape.compile(&g).expect("compiles");
    program.set_inputs(&[to]);
    program.forward();
    let fresh = Tape::new();
    let y = fresh.var(to);
    (program.output(0), fresh.grad(f(y), &[y])[0].value())
}

/// Agree to 4 ulps: the replay computes the far rule's expression, the fresh
/// recording the near one (1/cosh²x, 1/(1 + x²)); each is within a few ulps
/// of the exact derivative, so they are within a few ulps of each other.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 4.0 * f64::EPSILON * a.abs().max(b.abs())
}

#[test]
fn tanh_derivative_recorded_far_out_replays_right_on_the_other_side() {
    let tanh: Body = |x| x.tanh();
    for from in [25.0f64, -25.0, 300.0, -300.0] {
        for to in [
            0.0f64, 1.0, -1.0, 0.5, 19.0, -19.0, 25.0, -25.0, 300.0, -300.0,
        ] {
            if from * to < 0.0 && to.abs() > 300.0 {
                continue;
            }
            let (replayed, fresh) = replayed_and_fresh(tanh, from, to);
            assert!(
                close(replayed, fresh),
                "tanh′ recorded at {from}, replayed at {to}: {replayed:e}, fresh {fresh:e}"
            );
        }
    }
    // Where u = e^−2|x| overflows on the other side the replay is NaN, not a
    // number: recorded at 25, replayed at −400 (e^800).
    let (replayed, _) = replayed_and_fresh(tanh, 25.0, -400.0);
    assert!(replayed.is_nan(), "{replayed:e}");
}

#[test]
fn tanh_derivative_far_out_is_its_tail_bit_for_bit() {
    for x in [20.5, 21.0, 30.0, 100.0, 354.0, 370.0, 700.0, 1000.0] {
        for x in [x, -x] {
            let tape = Tape::new();
            let v = tape.var(x);
            let g = tape.grad(v.tanh(), &[v])[0].value();
            let tail = 4.0 * (-2.0 * f64::abs(x)).exp();
            assert_eq!(
                g.to_bits(),
                tail.to_bits(),
                "tanh′({x}): {g:e} against {tail:e}"
            );
            // The first-order partial (the kernel's, not the rule's) agrees.
            assert_eq!(v.tanh().backward()[v].to_bits(), g.to_bits(), "at {x}");
        }
    }
}

#[test]
fn arctan_derivative_recorded_far_out_replays_right_on_the_other_side() {
    let atan: Body = |x| x.atan();
    for from in [1e155, -1e155, 1e300] {
        for to in [1.0, -1.0, 0.5, 1e-300, 1e100, 1e155, -1e200, 1e300] {
            let (replayed, fresh) = replayed_and_fresh(atan, from, to);
            assert!(
                close(replayed, fresh),
                "atan′ recorded at {from:e}, replayed at {to:e}: {replayed:e}, fresh {fresh:e}"
            );
        }
        // At 0, 1/x is infinite: NaN, not the ∞ of the tail 1/x².
        let (replayed, _) = replayed_and_fresh(atan, from, 0.0);
        assert!(replayed.is_nan(), "{replayed:e}");
    }
}

#[test]
fn arctan_derivative_far_out_is_its_tail_bit_for_bit() {
    for x in [1.3407807929942597e154, 2e154, 1e160, 4e161, 1e300, f64::MAX] {
        for x in [x, -x] {
            let tape = Tape::new();
            let v = tape.var(x);
            let g = tape.grad(v.atan(), &[v])[0].value();
            let tail = (1.0 / x) / x;
            assert_eq!(
                g.to_bits(),
                tail.to_bits(),
                "atan′({x:e}): {g:e} against {tail:e}"
            );
        }
    }
}

#[test]
fn arctan_derivative_recorded_past_one_replays_at_zero() {
    // Recorded at |x| > 1, arctan′ was taken through w/(w + 1), w = (1/x)²:
    // NaN replayed at 0 and below 1e-154 (w infinite), for arctan′ = 1.
    let atan: Body = |x| x.atan();
    for from in [2.0, -2.0, 1e10, 1e90] {
        for to in [0.0, 1e-300, -1e-200, 1e-10, 0.5, 3.0, -1e90] {
            let (replayed, fresh) = replayed_and_fresh(atan, from, to);
            assert!(
                close(replayed, fresh),
                "atan′ recorded at {from:e}, replayed at {to:e}: {replayed:e}, fresh {fresh:e}"
            );
        }
    }
}

#[test]
fn arctan_second_derivative_far_out_keeps_its_bits() {
    // arctan″(x) = −2x/(1 + x²)², about −2/x³: a normal number to 1e102
    // (it was 0 at 1e90 before its derivatives were taken from an equal
    // form). Within 4 ulps of −2/x³ (the exact value to far below an ulp
    // there), each of its few roundings about half an ulp.
    for x in [1e10, 1e50, 1e90, 1e100] {
        let h = chainrule::hessian(|v| v[0].atan(), &[x])[0][0];
        let exact = -2.0 / (x * x * x);
        assert!(
            (h - exact).abs() <= 4.0 * f64::EPSILON * exact.abs(),
            "arctan″({x:e}) = {h:e}, against {exact:e}"
        );
    }
}

/// log₂′ and a logarithm's with a base are recorded as k/x scaled to the
/// stored partial; replayed where x₀/x is past f64's range they stay k/x
/// (log₂′ recorded at 1e-300 replayed at 1e25 was 0, log₃′ recorded at 1e160
/// replayed at 1e-150 ∞). Agreement within 4 ulps (`close`): the replay
/// computes q·c + q·d, the fresh recording 1/(x·ln b), each within a couple
/// of ulps of the exact value.
#[test]
fn log_derivatives_recorded_at_one_end_replay_right_at_the_other() {
    let bodies: [(&str, Body); 4] = [
        ("log2", |x| x.log2()),
        ("log 3", |x| x.log(3.0)),
        ("log 1.5", |x| x.log(1.5)),
        ("log 1e300", |x| x.log(1e300)),
    ];
    let points = [1e-300, 1e-150, 1e-20, 0.3, 0.7, 3.0, 1e25, 1e160, 1e300];
    for (name, f) in bodies {
        for from in points {
            for to in points {
                let (replayed, fresh) = replayed_and_fresh(f, from, to);
                assert!(
                    close(replayed, fresh),
                    "{name}′ recorded at {from:e}, replayed at {to:e}: {replayed:e}, fresh {fresh:e}"
                );
            }
        }
    }
}

/// hypot's larger operand's partial, rerouted for its second derivative,
/// takes its sign from the operand at replay (it froze the recording's:
/// recorded at (3, 4), replayed at (−3, −4), ∂/∂y was 0.8 for −0.8), within
/// 4 ulps of a fresh recording (`close`).
#[test]
fn hypot_gradient_replays_with_the_operands_signs() {
    let points = [
        [3.0, 4.0],
        [-3.0, -4.0],
        [1e8, 1.0],
        [-1e8, 1.0],
        [1.0, -1e8],
        [0.5, 0.0],
        [-0.5, 2.0],
    ];
    for from in points {
        for to in points {
            let tape = Tape::for_replay();
            let v = tape.vars(&from);
            let g = tape.grad(v[0].hypot(v[1]) + v[0].hypot(1.0), &v);
            let mut program = tape.compile(&g).expect("compiles");
            program.set_inputs(&to);
            program.forward();
            let fresh = Tape::new();
            let w = fresh.vars(&to);
            let want = fresh.grad(w[0].hypot(w[1]) + w[0].hypot(1.0), &w);
            for k in 0..2 {
                let (got, want) = (program.output(k), want[k].value());
                assert!(
                    close(got, want),
                    "∂/∂x{k} recorded at {from:?}, replayed at {to:?}: {got:e}, fresh {want:e}"
                );
            }
        }
    }
}

/// log₂′ recorded near the bottom of the normal range and replayed at a
/// subnormal x, where 1/x is ∞: ∞ as a fresh recording has it (q·c + q·d
/// was ∞ − ∞ = NaN).
#[test]
fn log2_derivative_replayed_where_its_reciprocal_overflows_is_infinite() {
    let log2: Body = |x| x.log2();
    for from in [2.3e-308, 3e-300, 0.7] {
        let (replayed, fresh) = replayed_and_fresh(log2, from, 1e-310);
        assert_eq!(fresh, f64::INFINITY);
        assert_eq!(replayed, fresh, "recorded at {from:e}");
    }
}
