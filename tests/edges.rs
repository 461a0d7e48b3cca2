//! Values and partials at infinite and extreme operands where the formula gives
//! NaN or ∞ but the true value (or limit) is an ordinary number: silu at ±∞,
//! hypot and atan2 with an infinite operand, and atanh, acosh, asinh where
//! `f64`'s own functions lose digits or overflow; and partials that are
//! subnormals, or normal numbers, where the formula gave 0 or rounded a
//! subnormal step (atan′ and log10′ at huge |x|, log10′ at subnormal x, atan2's
//! where hypot overflows or x/h is subnormal). Each is held on the tape, on
//! `f64` through `Scalar`, through `Tape::grad` (the recorded derivative) and
//! through a compiled replay, which must all agree bit for bit.
//!
//! References for item 4 are from mpmath at 200 bits (quoted beside each); for
//! the subnormal partials at 400 bits, rounded to the nearest `f64`.

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

/// How many `f64`s lie between `got` and `want` (0 if equal; subnormals count
/// one a step of 2^−1074), for two numbers of one sign.
fn steps_apart(got: f64, want: f64) -> u64 {
    if got == 0.0 && want == 0.0 {
        return 0;
    }
    assert_eq!(
        got.is_sign_negative(),
        want.is_sign_negative(),
        "{got:e} and {want:e} differ in sign"
    );
    got.abs().to_bits().abs_diff(want.abs().to_bits())
}

/// The `f64` rule of the unary op `name`'s derivative, as `chainrule::ops::UNARY`
/// lists it (what `Scalar for f64` differentiates by).
fn f64_rule(name: &str) -> fn(f64) -> f64 {
    chainrule::ops::UNARY
        .iter()
        .find(|r| r.name == name)
        .expect("a unary op")
        .partial
}

/// Holds the unary op `name`'s derivative at each x within 1 step of the
/// reference (mpmath at 400 bits, rounded to the nearest `f64`, subnormals
/// included), on the tape, through `Tape::grad`, replayed and by the `f64`
/// rule alike.
fn derivative_within_one_step(name: &str, f: fn(Var) -> Var, cases: &[(f64, f64)]) {
    for &(x, want) in cases {
        let (_, d) = everywhere(|v| f(v[0]), &[x]);
        let rule = f64_rule(name)(x);
        assert!(
            same(d[0], rule),
            "{name}′({x:e}): tape {:e}, f64 rule {rule:e}",
            d[0]
        );
        let steps = steps_apart(d[0], want);
        assert!(
            steps <= 1,
            "{name}′({x:e}) = {:e}, {steps} steps from {want:e}",
            d[0]
        );
    }
}

#[test]
fn atan_derivative_is_the_subnormal_it_is_past_1e154() {
    // arctan′(x) = 1/(1 + x²): from |x| = 2^512 ≈ 1.34e154 x·x overflows and
    // 1/(x·x + 1) was 0, though 1/x² is a subnormal out to |x| ≈ 6.36e161
    // (2^537.5, where 1/x² is half the smallest subnormal). It
    // is (1/x)/x there: 1/x is normal and rounds once, the division rounds
    // once into the subnormals, so within 1 step (a subnormal's last place).
    derivative_within_one_step(
        "atan",
        |v| v.atan(),
        &[
            (1.3407807929942597e154, 5.562684646268003e-309), // 2^512
            (2e154, 2.5e-309),
            (-3e157, 1.111111113e-315),
            (1e160, 1e-320),
            (4e161, 5e-324),
            (6.3e161, 5e-324), // still the smallest subnormal (the docs' bound)
            (1e154, 1e-308),   // below 2^512, as before
        ],
    );
    // Past 6.36e161 it rounds to 0, and at ±∞ it is +0, as before.
    for x in [6.4e161, 1e162, f64::MAX, INF, -INF] {
        let (_, d) = everywhere(|v| v[0].atan(), &[x]);
        assert!(same(d[0], 0.0), "atan′({x:e}) = {:e}", d[0]);
    }
}

#[test]
fn log10_derivative_is_the_subnormal_it_is_past_7_8e307_and_exact_to_a_step_below_1e_308() {
    // log₁₀′(x) = 1/(x·ln 10): x·ln 10 overflows from x ≈ 7.8e307, where the
    // derivative was 0 but is a subnormal (down to 2.4e-309 at f64::MAX); and
    // below x ≈ 9.7e-309 x·ln 10 is a subnormal itself, keeping fewer bits
    // (3 steps off at 2.5e-309). Both are taken on x scaled by 2^∓8
    // (exact): x·ln 10 and its reciprocal round once each as normal numbers,
    // as in the plain formula (with ln 10 rounded too, that is up to 2 steps
    // off anywhere: 2 at x = 3.82, and at x = 5.37e-309), and the result
    // rounds once more where it is subnormal, which swamps the rest (1 step at
    // most over 20,000 points past 4.5e307, by mpmath). Within 1 step at these
    // points.
    derivative_within_one_step(
        "log10",
        |v| v.log10(),
        &[
            (8e307, 5.42868102379065e-309),
            (1e308, 4.34294481903252e-309),
            (f64::MAX, 2.415843246442137e-309),
            (2.5e-309, 1.7371779276130057e308),
            (3e-309, 1.4476482730108392e308),
            (5e-309, 8.685889638065037e307),
        ],
    );
    // ±0, ∞, NaN and a negative x as before: +inf at ±0, 0 at ∞ (the limit),
    // NaN at NaN, and 1/(x·ln 10) below 0 (log10 is NaN there).
    let (_, d) = everywhere(|v| v[0].log10(), &[-0.0]);
    assert!(same(d[0], INF), "{d:?}");
    let (_, d) = everywhere(|v| v[0].log10(), &[INF]);
    assert!(same(d[0], 0.0), "{d:?}");
    let (_, d) = everywhere(|v| v[0].log10(), &[f64::NAN]);
    assert!(d[0].is_nan(), "{d:?}");
    let (_, d) = everywhere(|v| v[0].log10(), &[-1e308]);
    assert_eq!(steps_apart(d[0], -4.34294481903252e-309), 0, "{d:?}");
}

/// Holds atan2's partials ∂/∂y = x/(x² + y²) and ∂/∂x = −y/(x² + y²) at (y, x)
/// within `bound` steps of the references (mpmath at 400 bits, rounded to the
/// nearest `f64`), for two variables and against a constant on either side.
fn atan2_partials_within(bound: u64, cases: &[(f64, f64, f64, f64)]) {
    for &(y, x, want_y, want_x) in cases {
        let (_, d) = everywhere(|v| v[0].atan2(v[1]), &[y, x]);
        let (_, dc) = everywhere(|v| v[0].atan2(x), &[y]);
        let (_, cd) = everywhere(|v| Var::const_atan2(y, v[0]), &[x]);
        for (got, want, what) in [
            (d[0], want_y, "∂/∂y"),
            (dc[0], want_y, "∂/∂y, x constant"),
            (d[1], want_x, "∂/∂x"),
            (cd[0], want_x, "∂/∂x, y constant"),
        ] {
            let steps = steps_apart(got, want);
            assert!(
                steps <= bound,
                "atan2({y:e}, {x:e}) {what} = {got:e}, {steps} steps from {want:e}"
            );
        }
    }
}

#[test]
fn atan2_partials_are_subnormals_not_zero_where_hypot_overflows() {
    // With both operands near 1.3e308 and beyond, h = hypot(x, y) overflows
    // and (x/h)/h was 0; the partials are subnormals of ~1/h. They are taken
    // on x, y scaled by 2^−54 (exact): x·s/h_s rounds once, times s exactly,
    // and /h_s rounds into the subnormals, with h_s within an ulp: 1 step.
    atan2_partials_within(
        1,
        &[
            (
                1.5e308,
                1.5e308,
                3.33333333333333e-309,
                -3.33333333333333e-309,
            ),
            (
                1e308,
                -1.7e308,
                -4.370179948586117e-309,
                -2.5706940874036e-309,
            ),
            (
                -1.7e308,
                1.2e308,
                2.77136258660508e-309,
                3.926096997690533e-309,
            ),
        ],
    );
}

#[test]
fn atan2_partials_keep_their_bits_where_one_operand_is_far_below_the_other_below_1() {
    // With h = hypot(x, y) < 1 and |y| far below it, y/h is a subnormal that
    // keeps only some bits, and dividing by h again magnifies what it lost:
    // −y/(x² + y²) at (1.234e-315, 3.3e-5) was −1.1331496805042294e-306 for
    // −1.1331496805041703e-306 (374 steps). It is taken as
    // ((y·2^600)/h)/(h·2^600) there (each product exact): two roundings and
    // h's (an ulp), as the plain (y/h)/h elsewhere: within 2 ulps.
    atan2_partials_within(
        2,
        &[
            (
                1.234e-315,
                3.3e-5,
                30303.0303030303,
                -1.1331496805041703e-306,
            ),
            (
                3.3e-5,
                1.234e-315,
                1.1331496805041703e-306,
                -30303.0303030303,
            ),
            (3e-320, 1.1e-10, 9090909090.909092, -2.479311240948801e-300),
            (-7e-312, -2e-3, -500.0, 1.7499999999997848e-306),
        ],
    );
}

#[test]
fn log2_derivative_is_exact_to_a_step_where_x_ln_2_is_subnormal() {
    // log₂′(x) = 1/(x·ln 2): below x ≈ 3.2e-308 x·ln 2 is a subnormal, keeping
    // fewer bits, and its reciprocal (up to 1.8e308 at 8e-309) carried that
    // rounding: 5 steps off at 8.1006e-309 (4 or more at 6 of 4,000 points
    // between 5.6e-309 and 3.2e-308, by mpmath). It is taken on x·2^8 (exact),
    // as log10′ is: two roundings of normal numbers, within 1 step at these
    // points (at most 1 over those 4,000).
    derivative_within_one_step(
        "log2",
        |v| v.log2(),
        &[
            (8.100554758575392e-309, 1.7809830115174526e308),
            (-8.100554758575392e-309, -1.7809830115174526e308),
            (8.416109006893453e-309, 1.714206695406729e308),
            (8.349884529252196e-309, 1.7278023855716351e308),
            (1e-308, 1.4426950408889635e308),
            (3e-308, 4.808983469629878e307),
        ],
    );
    // Where 1/(x·ln 2) is past f64::MAX, +inf; ±0, ∞ and NaN as before.
    for (x, want) in [(5.6e-309, INF), (-0.0, INF), (0.0, INF), (INF, 0.0)] {
        let (_, d) = everywhere(|v| v[0].log2(), &[x]);
        assert!(same(d[0], want), "log2′({x:e}) = {:e}", d[0]);
    }
    let (_, d) = everywhere(|v| v[0].log2(), &[f64::NAN]);
    assert!(d[0].is_nan(), "{d:?}");
}

#[test]
fn log_with_a_base_has_the_subnormal_derivative_where_x_ln_base_overflows() {
    // ∂log_b x/∂x = 1/(x·ln b): where x·ln b overflows (from 7.8e307 for base
    // 10, 2.6e305 for base 1e300) it was 0, and where x·ln b is subnormal it
    // kept fewer bits (4 steps off for base 10 at 2.795e-309). It is taken on
    // x scaled by a power of two into [1, 2), exact, and scaled back, which
    // rounds once where the result is subnormal. References by mpmath at 400
    // bits; within 2 steps, as the plain formula anywhere (ln b is rounded
    // too: 2 steps at most over 6,000 points each for 11 bases at both ends,
    // from 5e-324 to 1e-300 and 1e300 to f64::MAX).
    for (base, x, want) in [
        (10.0, 8e307, 5.42868102379065e-309),
        (10.0, f64::MAX, 2.415843246442137e-309),
        (1e300, 1e306, 1.44764827301084e-309),
        (1e300, 1e308, 1.4476482730107e-311),
        (3.0, f64::MAX, 5.06337377038797e-309),
        (10.0, 2.795221720132802e-309, 1.5537031598431422e308),
        (3.0, 6.02764975371506e-309, 1.5101063661932644e308),
    ] {
        let (_, d) = everywhere(|v| v[0].log(base), &[x]);
        let steps = steps_apart(d[0], want);
        assert!(
            steps <= 2,
            "log_{base:e}′({x:e}) = {:e}, {steps} steps from {want:e}",
            d[0]
        );
    }
    // ±0, ∞, NaN and a base of 1 as before.
    for (base, x, want) in [(10.0, -0.0, INF), (10.0, INF, 0.0), (0.5, 0.0, -INF)] {
        let (_, d) = everywhere(|v| v[0].log(base), &[x]);
        assert!(same(d[0], want), "log_{base}′({x:e}) = {:e}", d[0]);
    }
    let (_, d) = everywhere(|v| v[0].log(1.0), &[2.0]);
    assert!(same(d[0], INF), "{d:?}");
    let (_, d) = everywhere(|v| v[0].log(10.0), &[f64::NAN]);
    assert!(d[0].is_nan(), "{d:?}");
}

#[test]
fn log_with_a_large_base_has_its_second_derivative_to_a_step_where_it_is_subnormal() {
    // ∂²log_b x/∂x² = −1/(x²·ln b). The recorded partial (x·ln b)⁻¹
    // differentiates to −(x·ln b)⁻²·ln b, whose square is a subnormal |ln b|
    // times smaller than the result, so for |ln b| > 1 and |x| > 1 it lost
    // bits the result keeps: 327 steps off for base 1e300 at x = 1e154. Its
    // derivatives are taken from 1/x there, whose derivative −1/x² is normal
    // (or rounds once, then shrinks). References by mpmath at 400 bits;
    // within 2 steps (a subnormal result rounds once more after the product).
    for (base, x, want) in [
        (1e300, 1e154, -1.4476482730107e-311),
        (1e-300, 1e154, 1.4476482730107e-311),
        (5e-324, 1e154, 1.3432914719635e-311),
        (f64::MAX, 1.5e154, -6.26169722608e-312),
        (10.0, 1e154, -4.34294481903252e-309),
    ] {
        let h = chainrule::hessian(|v| v[0].log(base), &[x])[0][0];
        let steps = steps_apart(h, want);
        assert!(
            steps <= 2,
            "log_{base:e}″({x:e}) = {h:e}, {steps} steps from {want:e}"
        );
        // Without the base kept, from the stored partial: as close.
        let tape = Tape::new();
        let v = tape.var(x);
        let d1 = tape.grad(v.log(base), &[v])[0];
        let d2 = tape.grad(d1, &[v])[0].value();
        let steps = steps_apart(d2, want);
        assert!(
            steps <= 2,
            "Tape::grad: {d2:e}, {steps} steps from {want:e}"
        );
    }
}

#[test]
fn silu_and_its_derivatives_keep_their_bits_where_sigma_is_subnormal() {
    // Below x ≈ −708.4 σ(x) is a subnormal, keeping fewer bits, and x·σ(x)
    // and σ(x)·(1 + x·σ(−x)) magnified its rounding by |x|: silu(−745) and
    // silu′(−745) were −3.7e-321 (true −2.1e-321), and 0 from −745.2 (true
    // −7.76e-322 at −746, a subnormal down to −751). silu″ above 708 likewise,
    // through σ(−x): −3.67e-321 at 745. Value and derivatives are now products
    // of normal numbers that round once into the subnormals. References by
    // mpmath at 400 bits, rounded to the nearest f64 (subnormals included);
    // within 2 steps (one rounding of the result, after normal factors that
    // each round once and, for silu″, a sum of two such products).
    for (x, value, d1, d2) in [
        (
            -708.5,
            -1.42134473832723e-305,
            -1.4193386060218987e-305,
            -1.4173324737165676e-305,
        ),
        (
            -720.0,
            -1.46320617774547e-310,
            -1.46117394694305e-310,
            -1.45914171614063e-310,
        ),
        (-745.0, -2.105e-321, -2.1e-321, -2.095e-321),
        (-746.0, -7.76e-322, -7.76e-322, -7.7e-322),
        (-750.0, -1.5e-323, -1.5e-323, -1.5e-323),
        (-751.0, -5e-324, -5e-324, -5e-324),
    ] {
        let (v, d) = everywhere(|v| v[0].silu(), &[x]);
        let h = chainrule::hessian(|v| v[0].silu(), &[x])[0][0];
        for (what, got, want) in [("silu", v, value), ("silu′", d[0], d1), ("silu″", h, d2)] {
            let steps = steps_apart(got, want);
            assert!(
                steps <= 2,
                "{what}({x}) = {got:e}, {steps} steps from {want:e}"
            );
        }
        assert!(
            same(Scalar::silu(x), v),
            "f64 silu({x}) = {:e}",
            Scalar::silu(x)
        );
    }
    // Above 708 the derivative is 1 (as before) and silu″ = (2 − x)·e^−x.
    for (x, d2) in [(745.0, -2.095e-321), (720.0, -1.45914171614063e-310)] {
        let (_, d) = everywhere(|v| v[0].silu(), &[x]);
        assert!(same(d[0], 1.0), "silu′({x}) = {:e}", d[0]);
        let h = chainrule::hessian(|v| v[0].silu(), &[x])[0][0];
        let steps = steps_apart(h, d2);
        assert!(steps <= 2, "silu″({x}) = {h:e}, {steps} steps from {d2:e}");
    }
    // Far below, −0 with derivative −0, and at −∞ the limits, as before.
    for x in [-1000.0, -f64::MAX, -INF] {
        let (v, d) = everywhere(|v| v[0].silu(), &[x]);
        assert!(
            same(v, -0.0) && d[0] == 0.0,
            "silu({x:e}) = {v:e}, ′ {:e}",
            d[0]
        );
    }
}
