//! Values and partials at infinite and extreme operands where the formula gives
//! NaN or ∞ but the true value (or limit) is an ordinary number: silu at ±∞,
//! hypot and atan2 with an infinite operand, and atanh, acosh, asinh where
//! `f64`'s own functions lose digits or overflow. Each is held on the tape, on
//! `f64` through `Scalar`, through `Tape::grad` (the recorded derivative) and
//! through a compiled replay, which must all agree bit for bit.
//!
//! References for item 4 are from mpmath at 200 bits (quoted beside each).

use chainrule::{Scalar, Tape, Var};

const INF: f64 = f64::INFINITY;

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

/// Equal as numbers (a gradient is a sum that starts at +0, so a −0 partial
/// may come out as +0 from one reader and −0 from another), or both NaN.
fn eq(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// The value and ∂/∂ each input of `f` at `x`: on the tape, through
/// `Tape::grad`, and replayed; all three must agree bit for bit. Returns the
/// tape's.
fn everywhere(f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> (f64, Vec<f64>) {
    let tape = Tape::for_replay();
    let vars: Vec<Var> = x.iter().map(|&v| tape.var(v)).collect();
    let y = f(&vars);
    let g = y.backward();
    let swept: Vec<f64> = vars.iter().map(|&v| g[v]).collect();
    let recorded: Vec<f64> = tape.grad(y, &vars).iter().map(|d| d.value()).collect();
    for (s, r) in swept.iter().zip(&recorded) {
        assert!(eq(*s, *r), "at {x:?}: swept {s:e}, Tape::grad {r:e}");
    }
    let mut program = tape.compile(&[y]).expect("compiles");
    program.set_inputs(x);
    program.forward();
    program.backward();
    assert!(
        same(program.output(0), y.value()),
        "at {x:?}: replayed value {:e}, tape {:e}",
        program.output(0),
        y.value()
    );
    for (v, s) in vars.iter().zip(&swept) {
        let r = program.gradient(v.index());
        assert!(eq(r, *s), "at {x:?}: replayed ∂ {r:e}, tape {s:e}");
    }
    (y.value(), swept)
}

#[test]
fn silu_takes_its_limits_at_infinity() {
    // silu(x) = x·σ(x) → 0 as x → −∞ (from below: −0 as at −1000), and its
    // derivative σ(x)·(1 + x·σ(−x)) → 1 as x → +∞, → 0 as x → −∞. The formulas
    // give ∞·0 = NaN there. Exact limits: compared exactly.
    let (v, d) = everywhere(|v| v[0].silu(), &[INF]);
    assert_eq!((v, d[0]), (INF, 1.0));
    let (v, d) = everywhere(|v| v[0].silu(), &[-INF]);
    assert!(
        v == 0.0 && v.is_sign_negative() && d[0] == 0.0,
        "silu(−∞) = {v:e}, ∂ {:e}",
        d[0]
    );
    assert_eq!(Scalar::silu(INF), INF);
    assert!(same(Scalar::silu(-INF), -0.0));
    // NaN stays NaN.
    let (v, d) = everywhere(|v| v[0].silu(), &[f64::NAN]);
    assert!(v.is_nan() && d[0].is_nan());
}

#[test]
fn hypot_has_its_limit_partials_at_an_infinite_operand() {
    // ∂hypot/∂x = x/h → sign(x), ∂/∂y = y/h → ±0 as |x| → ∞ with y finite.
    // Exact limits: compared exactly (as numbers: the sweep adds a −0
    // partial to +0).
    let (v, d) = everywhere(|v| v[0].hypot(v[1]), &[INF, 1.0]);
    assert_eq!(v, INF);
    assert!(eq(d[0], 1.0) && eq(d[1], 0.0), "{d:?}");
    let (_, d) = everywhere(|v| v[0].hypot(v[1]), &[-INF, -2.0]);
    assert!(eq(d[0], -1.0) && eq(d[1], -0.0), "{d:?}");
    let (_, d) = everywhere(|v| v[0].hypot(v[1]), &[3.0, -INF]);
    assert!(eq(d[0], 0.0) && eq(d[1], -1.0), "{d:?}");
    // Against a constant, either side.
    let (_, d) = everywhere(|v| v[0].hypot(5.0), &[INF]);
    assert!(eq(d[0], 1.0), "{d:?}");
    let (_, d) = everywhere(|v| v[0].hypot(INF), &[5.0]);
    assert!(eq(d[0], 0.0), "{d:?}");
    // Both infinite: x/h has no limit (it depends on the direction): NaN. A NaN
    // operand: NaN partials (hypot(∞, NaN) is ∞).
    let (_, d) = everywhere(|v| v[0].hypot(v[1]), &[INF, INF]);
    assert!(d[0].is_nan() && d[1].is_nan(), "{d:?}");
    let (v, d) = everywhere(|v| v[0].hypot(v[1]), &[INF, f64::NAN]);
    assert!(v == INF && d[0].is_nan() && d[1].is_nan(), "{d:?}");
}

#[test]
fn atan2_has_zero_partials_at_an_infinite_operand() {
    // ∂atan2(y, x)/∂y = x/(x² + y²) and ∂/∂x = −y/(x² + y²), both of magnitude at
    // most 1/max(|x|, |y|): their limit is 0 (signed as the formula) wherever an
    // operand goes to ±∞. Exact: compared exactly (as numbers).
    let (v, d) = everywhere(|v| v[0].atan2(v[1]), &[INF, 1.0]);
    assert_eq!(v, std::f64::consts::FRAC_PI_2);
    assert!(eq(d[0], 0.0) && eq(d[1], -0.0), "{d:?}");
    let (_, d) = everywhere(|v| v[0].atan2(v[1]), &[1.0, -INF]);
    assert!(eq(d[0], -0.0) && eq(d[1], -0.0), "{d:?}");
    let (_, d) = everywhere(|v| v[0].atan2(v[1]), &[-INF, INF]);
    assert!(eq(d[0], 0.0) && eq(d[1], 0.0), "{d:?}");
    let (_, d) = everywhere(|v| v[0].atan2(2.0), &[-INF]);
    assert!(eq(d[0], 0.0), "{d:?}");
    let (_, d) = everywhere(|v| Var::const_atan2(INF, v[0]), &[2.0]);
    assert!(eq(d[0], -0.0), "{d:?}");
    // A NaN against an infinity stays NaN.
    let (_, d) = everywhere(|v| v[0].atan2(v[1]), &[INF, f64::NAN]);
    assert!(d[0].is_nan() && d[1].is_nan(), "{d:?}");
    // (0, 0) is unchanged: no derivative, NaN.
    let (_, d) = everywhere(|v| v[0].atan2(v[1]), &[0.0, 0.0]);
    assert!(d[0].is_nan() && d[1].is_nan(), "{d:?}");
}

/// |got − want| in units of want's last place.
fn ulps(got: f64, want: f64) -> f64 {
    let ulp = f64::from_bits(want.abs().to_bits() + 1) - want.abs();
    (got - want).abs() / ulp
}

/// Holds the op `name` at `x` within 2 ulps of `want`, on a Var (tape,
/// `Tape::grad`, replay) and on `f64` through `Scalar` alike.
///
/// 2 ulps: the bound `libm` (FreeBSD msun) keeps on these functions (its
/// measured worst against mpmath over 3,000 points each was 1.7 ulps), and
/// `f64::atanh` for x ≥ 0 (1.3 over 2,000 points); the old values were up to
/// 1e14 ulps off, or ∞.
fn within_two_ulps(name: &str, f: fn(f64) -> f64, x: f64, want: f64) {
    let (v, _) = everywhere(|v| apply(name, v[0]), &[x]);
    let scalar = f(x);
    assert!(same(v, scalar), "{name}({x:e}): Var {v:e}, f64 {scalar:e}");
    let e = ulps(v, want);
    assert!(e <= 2.0, "{name}({x:e}) = {v:e}, exact {want:e}: {e} ulps");
}

#[test]
fn atanh_keeps_its_precision_next_to_minus_one() {
    // atanh(∓0.9999999999999999) = ∓18.7149738751185233265… (mpmath); was
    // −18.368 for the negative one.
    within_two_ulps(
        "atanh",
        <f64 as Scalar>::atanh,
        -0.9999999999999999,
        -18.714973875118523,
    );
    within_two_ulps(
        "atanh",
        <f64 as Scalar>::atanh,
        0.9999999999999999,
        18.714973875118523,
    );
    // atanh is odd: atanh(−x) = −atanh(x), bit for bit past ½ in magnitude
    // (where atanh(−x) is taken as −atanh(x)), and at ±1.
    for x in [
        0.5000000000000001,
        0.7,
        0.9,
        0.999999,
        0.9999999999999999,
        1.0,
    ] {
        assert!(same(Scalar::atanh(-x), -Scalar::atanh(x)), "atanh(−{x:e})");
    }
    // The domain edges are unchanged: ±∞ at ±1, NaN outside [−1, 1] and at NaN.
    assert_eq!((Scalar::atanh(1.0), Scalar::atanh(-1.0)), (INF, -INF));
    assert!(Scalar::atanh(1.5).is_nan() && Scalar::atanh(-1.5).is_nan());
    assert!(Scalar::atanh(f64::NAN).is_nan());
}

#[test]
fn acosh_keeps_its_precision_next_to_one_and_does_not_overflow() {
    // acosh(1 + 2⁻⁵²) = 2.10734242554470155…e-8 (mpmath); was
    // 2.1073424338879928e-8, 4e-9 relatively off.
    within_two_ulps(
        "acosh",
        <f64 as Scalar>::acosh,
        1.0 + f64::EPSILON,
        2.1073424255447016e-8,
    );
    // acosh(1.0798052116875905) = 0.396902404348087984499… (mpmath);
    // f64::acosh is 2.09 ulps off.
    within_two_ulps(
        "acosh",
        <f64 as Scalar>::acosh,
        1.0798052116875905,
        0.396902404348088,
    );
    // acosh(f64::MAX) = 710.475860073943942041… (mpmath); was ∞.
    within_two_ulps("acosh", <f64 as Scalar>::acosh, f64::MAX, 710.4758600739439);
    // The domain edges are unchanged: acosh(1) = 0, NaN below 1, ∞ at ∞.
    assert!(same(Scalar::acosh(1.0), 0.0));
    // (libm's acosh does not check x < 1: it gives a number for some of these.)
    for x in [0.999, 0.5, 0.0, -0.5, -1.0, -1.5, -3.0, -1e300] {
        assert!(
            Scalar::acosh(x).is_nan(),
            "acosh({x:e}) = {:e}",
            Scalar::acosh(x)
        );
    }
    assert!(Scalar::acosh(f64::NAN).is_nan() && Scalar::acosh(-INF).is_nan());
    assert_eq!(Scalar::acosh(INF), INF);
}

#[test]
fn asinh_does_not_overflow_at_the_largest_numbers() {
    // asinh(±f64::MAX) = ±710.475860073943942041… (mpmath); was ±∞.
    within_two_ulps("asinh", <f64 as Scalar>::asinh, f64::MAX, 710.4758600739439);
    within_two_ulps(
        "asinh",
        <f64 as Scalar>::asinh,
        -f64::MAX,
        -710.4758600739439,
    );
    assert_eq!((Scalar::asinh(INF), Scalar::asinh(-INF)), (INF, -INF));
    assert!(same(Scalar::asinh(-0.0), -0.0));
}

/// The op `name` on a Var, through the `Scalar` trait (as generic code calls it).
fn apply<'t>(name: &str, x: Var<'t>) -> Var<'t> {
    match name {
        "atanh" => Scalar::atanh(x),
        "acosh" => Scalar::acosh(x),
        "asinh" => Scalar::asinh(x),
        _ => unreachable!(),
    }
}
