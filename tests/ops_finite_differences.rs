//! Every op's gradient against central finite differences, then one test per kink
//! and edge case, then the shape of what an op records.
//!
//! # The finite-difference check
//!
//! For a function f of leaves x (the primal written independently with `f64`
//! from the standard library), each coordinate is perturbed by
//! `h = 1e-6 * max(|x_i|, 1e-3)` and
//! `fd = (f(x + h e_i) - f(x - h e_i)) / (x_i⁺ - x_i⁻)` (the denominator is the
//! step actually taken after rounding). It must agree with the taped gradient `g` to
//!
//! `|g - fd| <= 1e-6 |fd| + 8 ε (|f(x⁺)| + |f(x⁻)|) / (x_i⁺ - x_i⁻)`.
//!
//! - Truncation: the central difference errs by h²|f'''|/6. With h relative to x,
//!   that is below 1e-7 |f'| at every point used here (the worst is e^x at x = 700,
//!   h²/6 ≈ 8e-8); 1e-6 relative covers it.
//! - Rounding: each evaluation of f is correct to a few ulps, ε|f|; dividing by the
//!   step magnifies that into the second term (8 ulps of slack), which dominates only
//!   where f' is tiny next to f, that is at saturation.
//!
//! The step is relative to |x| (down to 1e-3) so that points 1e-3 from a kink are
//! never stepped across it (h ≤ 1e-9 there).

use chainrule::{Op, Scalar, Tape, Var};

type Primal = fn(&[f64]) -> f64;
type Taped = for<'t> fn(&[Var<'t>]) -> Var<'t>;

const EPS: f64 = f64::EPSILON;

/// The value recorded must agree with the independent primal to a few ulps (the
/// two may use different but equally exact formulas, e.g. for sigmoid).
const VALUE_TOLERANCE: f64 = 1e-14;

/// Checks `taped` against central finite differences of `primal` at every point.
#[track_caller]
fn check(name: &str, primal: Primal, taped: Taped, points: &[&[f64]]) {
    for &x in points {
        let tape = Tape::new();
        let leaves = tape.vars(x);
        let y = taped(&leaves);
        let f = primal(x);
        assert!(
            (y.value() - f).abs() <= VALUE_TOLERANCE * f.abs(),
            "{name} at {x:?}: value {} but the primal gives {f}",
            y.value()
        );
        let g = y.backward();
        for i in 0..x.len() {
            let h = 1e-6 * x[i].abs().max(1e-3);
            let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
            plus[i] += h;
            minus[i] -= h;
            let step = plus[i] - minus[i];
            let (f_plus, f_minus) = (primal(&plus), primal(&minus));
            let fd = (f_plus - f_minus) / step;
            let tolerance = 1e-6 * fd.abs() + 8.0 * EPS * (f_plus.abs() + f_minus.abs()) / step;
            let gi = g[leaves[i]];
            assert!(
                (gi - fd).abs() <= tolerance,
                "{name} at {x:?}: d/dx{i} is {gi:e} on the tape, {fd:e} by finite differences \
                 (|difference| {:e} > tolerance {tolerance:e})",
                (gi - fd).abs()
            );
        }
    }
}

/// Independent primals.
fn logistic(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

// ---- The functions -------------------------------------------------------------

#[test]
fn sigmoid_matches_finite_differences() {
    // -30 and 15: deep in the lower tail and well into the upper one.
    check(
        "sigmoid",
        |x| logistic(x[0]),
        |x| x[0].sigmoid(),
        &[&[-30.0], &[-5.0], &[-0.5], &[0.0], &[0.3], &[4.0], &[15.0]],
    );
}

#[test]
fn tanh_matches_finite_differences() {
    check(
        "tanh",
        |x| x[0].tanh(),
        |x| x[0].tanh(),
        &[&[-10.0], &[-3.0], &[-0.5], &[0.0], &[0.7], &[2.5], &[10.0]],
    );
}

#[test]
fn relu_matches_finite_differences_near_its_kink() {
    check(
        "relu",
        |x| if x[0] > 0.0 { x[0] } else { 0.0 },
        |x| x[0].relu(),
        &[&[-2.0], &[-1e-3], &[1e-3], &[3.0]],
    );
}

#[test]
fn leaky_relu_matches_finite_differences_near_its_kink() {
    check(
        "leaky_relu(0.01)",
        |x| if x[0] > 0.0 { x[0] } else { 0.01 * x[0] },
        |x| x[0].leaky_relu(0.01),
        &[&[-2.0], &[-1e-3], &[1e-3], &[3.0]],
    );
    check(
        "leaky_relu(0.2)",
        |x| if x[0] > 0.0 { x[0] } else { 0.2 * x[0] },
        |x| x[0].leaky_relu(0.2),
        &[&[-2.0], &[-1e-3], &[1e-3], &[3.0]],
    );
}

#[test]
fn softplus_matches_finite_differences() {
    // ln(1 + e^x) as ln_1p(e^x): exact enough for x ≤ 700.
    check(
        "softplus",
        |x| x[0].exp().ln_1p(),
        |x| x[0].softplus(),
        &[
            &[-30.0],
            &[-3.0],
            &[-1e-3],
            &[0.0],
            &[1e-3],
            &[2.0],
            &[30.0],
        ],
    );
}

#[test]
fn exp_matches_finite_differences() {
    check(
        "exp",
        |x| x[0].exp(),
        |x| x[0].exp(),
        &[&[-20.0], &[-1.0], &[0.0], &[0.5], &[3.0], &[700.0]],
    );
}

#[test]
fn ln_matches_finite_differences() {
    check(
        "ln",
        |x| x[0].ln(),
        |x| x[0].ln(),
        &[&[1e-3], &[0.5], &[1.0], &[2.7], &[1e3]],
    );
}

#[test]
fn sqrt_matches_finite_differences() {
    check(
        "sqrt",
        |x| x[0].sqrt(),
        |x| x[0].sqrt(),
        &[&[1e-4], &[0.25], &[2.0], &[1e4]],
    );
}

#[test]
fn powi_matches_finite_differences() {
    let points: &[&[f64]] = &[&[-1.5], &[-0.3], &[0.4], &[2.0]];
    check("powi(-3)", |x| x[0].powi(-3), |x| x[0].powi(-3), points);
    check("powi(-1)", |x| x[0].powi(-1), |x| x[0].powi(-1), points);
    check("powi(0)", |x| x[0].powi(0), |x| x[0].powi(0), points);
    check("powi(1)", |x| x[0].powi(1), |x| x[0].powi(1), points);
    check("powi(2)", |x| x[0].powi(2), |x| x[0].powi(2), points);
    check("powi(5)", |x| x[0].powi(5), |x| x[0].powi(5), points);
}

#[test]
fn powf_matches_finite_differences() {
    let points: &[&[f64]] = &[&[0.3], &[1.0], &[2.5]];
    check(
        "powf(-1.5)",
        |x| x[0].powf(-1.5),
        |x| x[0].powf(-1.5),
        points,
    );
    check("powf(0.0)", |x| x[0].powf(0.0), |x| x[0].powf(0.0), points);
    check("powf(0.5)", |x| x[0].powf(0.5), |x| x[0].powf(0.5), points);
    check("powf(2.5)", |x| x[0].powf(2.5), |x| x[0].powf(2.5), points);
    check("powf(3.0)", |x| x[0].powf(3.0), |x| x[0].powf(3.0), points);
    // A negative base with an integer exponent is defined.
    check(
        "powf(3.0)",
        |x| x[0].powf(3.0),
        |x| x[0].powf(3.0),
        &[&[-1.7]],
    );
}

#[test]
fn pow_matches_finite_differences_in_both_operands() {
    let mut points: Vec<[f64; 2]> = Vec::new();
    for base in [0.3, 1.2, 2.5] {
        for exponent in [-1.3, 0.5, 2.0] {
            points.push([base, exponent]);
        }
    }
    let points: Vec<&[f64]> = points.iter().map(|p| &p[..]).collect();
    check("pow", |x| x[0].powf(x[1]), |x| x[0].pow(x[1]), &points);
    // The same Var as base and exponent: x^x, d/dx = x^x (ln x + 1).
    check(
        "x.pow(x)",
        |x| x[0].powf(x[0]),
        |x| x[0].pow(x[0]),
        &[&[0.4], &[1.5]],
    );
}

#[test]
fn abs_matches_finite_differences_near_its_kink() {
    check(
        "abs",
        |x| x[0].abs(),
        |x| x[0].abs(),
        &[&[-2.0], &[-1e-3], &[1e-3], &[3.0]],
    );
}

#[test]
fn sin_and_cos_match_finite_differences() {
    let points: &[&[f64]] = &[&[-3.0], &[-1.0], &[0.0], &[0.5], &[2.0], &[100.0]];
    check("sin", |x| x[0].sin(), |x| x[0].sin(), points);
    check("cos", |x| x[0].cos(), |x| x[0].cos(), points);
}

#[test]
fn recip_matches_finite_differences() {
    check(
        "recip",
        |x| 1.0 / x[0],
        |x| x[0].recip(),
        &[&[-4.0], &[-1e-2], &[1e-2], &[0.5], &[3.0]],
    );
}

#[test]
fn square_matches_finite_differences() {
    check(
        "square",
        |x| x[0] * x[0],
        |x| x[0].square(),
        &[&[-3.0], &[-1e-3], &[0.0], &[2.0]],
    );
}

#[test]
fn max_and_min_match_finite_differences_near_a_tie() {
    let points: &[&[f64]] = &[
        &[1.0, 2.0],
        &[2.0, 1.0],
        &[1.0, 1.001],
        &[1.001, 1.0],
        &[-3.0, 0.5],
    ];
    check(
        "max",
        |x| if x[0] >= x[1] { x[0] } else { x[1] },
        |x| x[0].max(x[1]),
        points,
    );
    check(
        "min",
        |x| if x[0] <= x[1] { x[0] } else { x[1] },
        |x| x[0].min(x[1]),
        points,
    );
}

// ---- The ops of issue 11, near every domain edge and kink ---------------------------
//
// `check` steps by h = 1e-6·max(|x|, 1e-3), so it is used at points whose distance
// d to a domain edge or pole is at least ~1e-3: the relative truncation error
// h²·|f‴/f′|/6 is then at most 1e-12·6/d²/6 ≤ 1e-6 (|f‴/f′| near an edge is at
// most 2/d² for ln, atanh and log1p, 3/(4d²) for asin, acos and acosh, 1.1/d² for
// cbrt and 6/d² for tan). Closer to an edge, `check_near_edge` steps relative to
// the distance to the edge instead, h = 1e-4·d, so the truncation error is at most
// 1e-8 relative and the same tolerance as `check` applies (its rounding term grows
// as 1/h, but f′ grows as fast or faster: at d = 1e-9 for asin, 8ε·|f|/h ≈ 3e-2
// against f′ ≈ 2e4, 1e-6 relative).

/// `check` for a one-leaf function at points near a domain edge or pole, with a step
/// relative to the distance `|x − edge|` instead of to `|x|`.
#[track_caller]
fn check_near_edge(name: &str, primal: Primal, taped: Taped, edge: f64, points: &[f64]) {
    for &x in points {
        let d = (x - edge).abs();
        assert!(d > 0.0, "{name}: {x} is on the edge");
        let tape = Tape::new();
        let leaf = tape.var(x);
        let y = taped(&[leaf]);
        let f = primal(&[x]);
        assert!(
            (y.value() - f).abs() <= VALUE_TOLERANCE * f.abs(),
            "{name} at {x:e}: value {} but the primal gives {f}",
            y.value()
        );
        let g = y.backward()[leaf];
        let h = 1e-4 * d;
        let (plus, minus) = (x + h, x - h);
        let step = plus - minus;
        let (f_plus, f_minus) = (primal(&[plus]), primal(&[minus]));
        let fd = (f_plus - f_minus) / step;
        let tolerance = 1e-6 * fd.abs() + 8.0 * EPS * (f_plus.abs() + f_minus.abs()) / step;
        assert!(
            (g - fd).abs() <= tolerance,
            "{name} at {x:e} ({d:e} from the edge {edge}): {g:e} on the tape, {fd:e} by finite \
             differences (|difference| {:e} > tolerance {tolerance:e})",
            (g - fd).abs()
        );
    }
}

/// Points `edge + side·d` at distances d from 1e-3 down to 1e-9 (1e-9 is still
/// ~10⁷ ulps from an edge at ±1).
fn near(edge: f64, side: f64) -> Vec<f64> {
    [1e-3, 1e-4, 1e-6, 1e-9]
        .iter()
        .map(|d| edge + side * d)
        .collect()
}

#[test]
fn tan_matches_finite_differences_up_to_its_poles() {
    check(
        "tan",
        |x| x[0].tan(),
        |x| x[0].tan(),
        &[&[-1.5], &[-0.7], &[0.0], &[0.3], &[1.2], &[3.0], &[-4.0]],
    );
    use std::f64::consts::FRAC_PI_2;
    for (edge, side) in [
        (FRAC_PI_2, -1.0),
        (FRAC_PI_2, 1.0),
        (-FRAC_PI_2, 1.0),
        (-FRAC_PI_2, -1.0),
    ] {
        check_near_edge(
            "tan",
            |x| x[0].tan(),
            |x| x[0].tan(),
            edge,
            &near(edge, side),
        );
    }
}

#[test]
fn asin_and_acos_match_finite_differences_up_to_plus_minus_one() {
    let points: &[&[f64]] = &[
        &[-0.999],
        &[-0.5],
        &[-1e-3],
        &[0.0],
        &[1e-3],
        &[0.5],
        &[0.999],
    ];
    check("asin", |x| x[0].asin(), |x| x[0].asin(), points);
    check("acos", |x| x[0].acos(), |x| x[0].acos(), points);
    for (edge, side) in [(1.0, -1.0), (-1.0, 1.0)] {
        check_near_edge(
            "asin",
            |x| x[0].asin(),
            |x| x[0].asin(),
            edge,
            &near(edge, side),
        );
        check_near_edge(
            "acos",
            |x| x[0].acos(),
            |x| x[0].acos(),
            edge,
            &near(edge, side),
        );
    }
}

#[test]
fn atan_matches_finite_differences() {
    check(
        "atan",
        |x| x[0].atan(),
        |x| x[0].atan(),
        &[
            &[-1e10],
            &[-1e3],
            &[-2.0],
            &[-0.5],
            &[0.0],
            &[0.5],
            &[2.0],
            &[1e3],
            &[1e10],
        ],
    );
}

#[test]
fn sinh_cosh_and_asinh_match_finite_differences() {
    let points: &[&[f64]] = &[
        &[-20.0],
        &[-1.0],
        &[-1e-3],
        &[0.0],
        &[1e-3],
        &[1.0],
        &[20.0],
        &[700.0],
    ];
    check("sinh", |x| x[0].sinh(), |x| x[0].sinh(), points);
    check("cosh", |x| x[0].cosh(), |x| x[0].cosh(), points);
    check(
        "asinh",
        |x| x[0].asinh(),
        |x| x[0].asinh(),
        &[
            &[-1e300],
            &[-1e10],
            &[-3.0],
            &[-1e-3],
            &[0.0],
            &[1e-3],
            &[3.0],
            &[1e10],
            &[1e300],
        ],
    );
}

/// arcosh x as ln(1 + t + √(t(t + 2))), t = x − 1 (exact near 1): `f64::acosh`
/// takes ln(x + √(x² − 1)) and loses the low bits of the small number added to
/// 1 (1e-13 relatively off at 1.000001, more than the value tolerance).
fn acosh_primal(x: &[f64]) -> f64 {
    let t = x[0] - 1.0;
    if t < 1.0 {
        (t + (t * (t + 2.0)).sqrt()).ln_1p()
    } else {
        x[0].acosh()
    }
}

/// artanh x as sign(x)·artanh|x|: `f64::atanh` takes ln_1p of a number near −1
/// for x near −1 (2e-14 relatively off at −0.999, more than the value
/// tolerance).
fn atanh_primal(x: &[f64]) -> f64 {
    x[0].abs().atanh().copysign(x[0])
}

#[test]
fn acosh_matches_finite_differences_down_to_one() {
    check(
        "acosh",
        acosh_primal,
        |x| x[0].acosh(),
        &[&[1.001], &[1.5], &[10.0], &[1e10], &[1e300]],
    );
    check_near_edge(
        "acosh",
        acosh_primal,
        |x| x[0].acosh(),
        1.0,
        &near(1.0, 1.0),
    );
}

#[test]
fn atanh_matches_finite_differences_up_to_plus_minus_one() {
    check(
        "atanh",
        atanh_primal,
        |x| x[0].atanh(),
        &[
            &[-0.999],
            &[-0.5],
            &[-1e-3],
            &[0.0],
            &[1e-3],
            &[0.5],
            &[0.999],
        ],
    );
    for (edge, side) in [(1.0, -1.0), (-1.0, 1.0)] {
        check_near_edge(
            "atanh",
            atanh_primal,
            |x| x[0].atanh(),
            edge,
            &near(edge, side),
        );
    }
}

#[test]
fn log1p_and_ln_1p_match_finite_differences_down_to_minus_one() {
    let points: &[&[f64]] = &[
        &[-0.999],
        &[-0.5],
        &[-1e-10],
        &[0.0],
        &[1e-10],
        &[1.0],
        &[1e10],
        &[1e300],
    ];
    check("log1p", |x| x[0].ln_1p(), |x| x[0].log1p(), points);
    check("ln_1p", |x| x[0].ln_1p(), |x| x[0].ln_1p(), points);
    check_near_edge(
        "log1p",
        |x| x[0].ln_1p(),
        |x| x[0].log1p(),
        -1.0,
        &near(-1.0, 1.0),
    );
}

#[test]
fn expm1_exp_m1_and_exp2_match_finite_differences() {
    let points: &[&[f64]] = &[
        &[-40.0],
        &[-1.0],
        &[-1e-10],
        &[0.0],
        &[1e-10],
        &[1.0],
        &[30.0],
        &[700.0],
    ];
    check("expm1", |x| x[0].exp_m1(), |x| x[0].expm1(), points);
    check("exp_m1", |x| x[0].exp_m1(), |x| x[0].exp_m1(), points);
    check(
        "exp2",
        |x| x[0].exp2(),
        |x| x[0].exp2(),
        &[
            &[-1000.0],
            &[-10.0],
            &[-1e-3],
            &[0.0],
            &[0.5],
            &[10.0],
            &[1000.0],
        ],
    );
}

#[test]
fn logarithms_match_finite_differences_down_to_zero() {
    let points: &[&[f64]] = &[&[1e-3], &[0.5], &[1.0], &[2.0], &[1e6], &[1e300]];
    // Below 1e-3 the step of `check` (≥ 1e-9) would reach 0: steps relative to x.
    let tiny = [1e-300, 1e-100, 1e-10, 1e-6, 1e-4];
    check("log2", |x| x[0].log2(), |x| x[0].log2(), points);
    check("log10", |x| x[0].log10(), |x| x[0].log10(), points);
    check_near_edge("ln", |x| x[0].ln(), |x| x[0].ln(), 0.0, &tiny);
    check_near_edge("log2", |x| x[0].log2(), |x| x[0].log2(), 0.0, &tiny);
    check_near_edge("log10", |x| x[0].log10(), |x| x[0].log10(), 0.0, &tiny);
}

#[test]
fn log_to_a_constant_base_matches_finite_differences_for_several_bases() {
    // A macro: a `fn` pointer cannot capture the base. The primal is ln x / ln b.
    macro_rules! base {
        ($base:expr) => {{
            let points: &[&[f64]] = &[&[1e-3], &[0.5], &[1.0], &[2.0], &[1e6], &[1e300]];
            let name = format!("log({})", $base);
            check(
                &name,
                |x| x[0].ln() / f64::ln($base),
                |x| x[0].log($base),
                points,
            );
            check_near_edge(
                &name,
                |x| x[0].ln() / f64::ln($base),
                |x| x[0].log($base),
                0.0,
                &[1e-300, 1e-10, 1e-4],
            );
        }};
    }
    base!(2.0);
    base!(10.0);
    base!(std::f64::consts::E);
    base!(0.5);
    base!(3.0);
    base!(1e-3);
    base!(1e3);
    base!(1.0 + 1e-6);
}

#[test]
fn cbrt_matches_finite_differences_near_zero_and_for_negatives() {
    check(
        "cbrt",
        |x| x[0].cbrt(),
        |x| x[0].cbrt(),
        &[
            &[-1e300],
            &[-27.0],
            &[-1.0],
            &[-1e-3],
            &[1e-3],
            &[1.0],
            &[8.0],
            &[1e300],
        ],
    );
    check_near_edge(
        "cbrt",
        |x| x[0].cbrt(),
        |x| x[0].cbrt(),
        0.0,
        &[-1e-4, -1e-9, -1e-100, 1e-100, 1e-9, 1e-4],
    );
}

#[test]
fn logsigmoid_matches_finite_differences_and_is_finite_at_plus_minus_1000() {
    // ln σ(x) written independently: x − ln(1 + e^x) below 0, −ln(1 + e^−x) above.
    check(
        "logsigmoid",
        |x| {
            if x[0] < 0.0 {
                x[0] - x[0].exp().ln_1p()
            } else {
                -(-x[0]).exp().ln_1p()
            }
        },
        |x| x[0].logsigmoid(),
        &[
            &[-1000.0],
            &[-30.0],
            &[-1.0],
            &[-1e-3],
            &[0.0],
            &[1e-3],
            &[1.0],
            &[30.0],
            &[1000.0],
        ],
    );
    assert_eq!(
        value_and_gradient(-1000.0, |x| x.logsigmoid()),
        (-1000.0, 1.0)
    );
    assert_eq!(
        value_and_gradient(1000.0, |x| x.logsigmoid()),
        (0.0, 0.0),
        "e^−1000 rounds to 0"
    );
    // Where x.sigmoid().ln() is −inf.
    let (value, gradient) = value_and_gradient(-800.0, |x| x.logsigmoid());
    assert_eq!((value, gradient), (-800.0, 1.0));
}

#[test]
fn erf_matches_finite_differences_around_zero_and_in_the_tails() {
    // The primal is libm's erf too (the crate documents using it): the finite
    // difference checks the derivative (2/√π)·e^−x², not the value.
    check(
        "erf",
        |x| libm::erf(x[0]),
        |x| x[0].erf(),
        &[
            &[-6.0],
            &[-3.0],
            &[-1.0],
            &[-1e-3],
            &[0.0],
            &[1e-3],
            &[0.5],
            &[1.0],
            &[3.0],
            &[6.0],
        ],
    );
}

#[test]
fn signum_matches_finite_differences_away_from_its_jump() {
    check(
        "signum",
        |x| x[0].signum(),
        |x| x[0].signum(),
        &[&[-2.0], &[-1e-3], &[1e-3], &[2.0]],
    );
}

#[test]
fn atan2_matches_finite_differences_near_the_origin_and_on_the_axes() {
    // (y, x). Not on the negative x axis, where atan2 jumps from π to −π in y.
    let points: &[&[f64]] = &[
        &[1.0, 1.0],
        &[1e-3, -1e-3],
        &[-1e-3, 1e-3],
        &[0.0, 1.0],
        &[0.0, 1e-3],
        &[1.0, 0.0],
        &[-1.0, 0.0],
        &[0.5, -2.0],
        &[-1e3, 1e-3],
        &[1e200, 1e200],
    ];
    check("atan2", |x| x[0].atan2(x[1]), |x| x[0].atan2(x[1]), points);
    check(
        "atan2(y, 0.5)",
        |x| x[0].atan2(0.5),
        |x| x[0].atan2(0.5),
        &[&[1e-3], &[0.0], &[-2.0]],
    );
    check(
        "atan2(y, 0)",
        |x| x[0].atan2(0.0),
        |x| x[0].atan2(0.0),
        &[&[1e-3], &[-1.0]],
    );
    check(
        "atan2(0.5, x)",
        |x| 0.5f64.atan2(x[0]),
        |x| Var::const_atan2(0.5, x[0]),
        &[&[1e-3], &[0.0], &[-2.0], &[1e3]],
    );
    check(
        "atan2(0, x)",
        |x| 0.0f64.atan2(x[0]),
        |x| Var::const_atan2(0.0, x[0]),
        &[&[1e-3], &[2.0]],
    );
}

#[test]
fn hypot_matches_finite_differences_near_the_origin_and_on_the_axes() {
    let points: &[&[f64]] = &[
        &[3.0, 4.0],
        &[1e-3, -1e-3],
        &[0.0, 1.0],
        &[1.0, 0.0],
        &[-2.0, 0.0],
        &[-1e-3, 1e3],
        &[1e200, -1e200],
    ];
    check("hypot", |x| x[0].hypot(x[1]), |x| x[0].hypot(x[1]), points);
    check(
        "hypot(x, 0.5)",
        |x| x[0].hypot(0.5),
        |x| x[0].hypot(0.5),
        &[&[1e-3], &[0.0], &[-2.0]],
    );
    check(
        "hypot(x, 0)",
        |x| x[0].hypot(0.0),
        |x| x[0].hypot(0.0),
        &[&[1e-3], &[-2.0]],
    );
}

#[test]
fn clamp_matches_finite_differences_near_its_bounds() {
    check(
        "clamp(0, 1)",
        |x| x[0].clamp(0.0, 1.0),
        |x| x[0].clamp(0.0, 1.0),
        &[
            &[-1.0],
            &[-1e-3],
            &[1e-3],
            &[0.5],
            &[0.999],
            &[1.001],
            &[2.0],
        ],
    );
    check(
        "clamp(-2, -2)",
        |x| x[0].clamp(-2.0, -2.0),
        |x| x[0].clamp(-2.0, -2.0),
        &[&[-2.001], &[-1.999]],
    );
}

#[test]
fn max_and_min_against_a_constant_match_finite_differences_near_a_tie() {
    let points: &[&[f64]] = &[&[-1.0], &[0.499], &[0.501], &[2.0]];
    check("max(x, 0.5)", |x| x[0].max(0.5), |x| x[0].max(0.5), points);
    check("min(x, 0.5)", |x| x[0].min(0.5), |x| x[0].min(0.5), points);
    let points: &[&[f64]] = &[&[-1.0], &[-1e-3], &[1e-3], &[2.0]];
    check("max(x, 0)", |x| x[0].max(0.0), |x| x[0].max(0.0), points);
    check("min(x, 0)", |x| x[0].min(0.0), |x| x[0].min(0.0), points);
}

#[test]
fn logsumexp_matches_finite_differences_over_mixed_magnitudes() {
    // ln Σ e^xᵢ written independently: shifted by the largest input.
    fn primal(x: &[f64]) -> f64 {
        let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        m + x.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
    }
    let points: &[&[f64]] = &[
        &[0.0],
        &[1.0, 2.0, 3.0],
        &[1000.0, 0.0, -1000.0],
        &[-1000.0, -999.0],
        &[700.0, 710.0],
        &[1e-3, -30.0, 30.0, 0.5],
        &[2.0, 2.0, 2.0],
        &[-5.0, 1e-3, 40.0, -40.0, 3.0],
    ];
    check("logsumexp", primal, |x| Var::logsumexp(x), points);
}

#[test]
fn mul_add_matches_finite_differences() {
    check(
        "mul_add",
        |x| x[0] * x[1] + x[2],
        |x| x[0].mul_add(x[1], x[2]),
        &[
            &[2.0, 3.0, 1.0],
            &[-1e-3, 1e3, 5.0],
            &[1e10, 1e-10, -3.0],
            &[0.5, -2.0, 0.25],
            &[-4.0, 0.25, -1e3],
        ],
    );
    // One Var in every slot: x·x + x, derivative 2x + 1.
    check(
        "mul_add(x, x, x)",
        |x| x[0] * x[0] + x[0],
        |x| x[0].mul_add(x[0], x[0]),
        &[&[3.0], &[-0.25]],
    );
}

// ---- The operators ---------------------------------------------------------------

const PAIRS: &[&[f64]] = &[&[1.5, -0.7], &[-2.0, 3.0], &[0.25, 4.0], &[-1e-3, 0.6]];

#[test]
fn binary_operators_on_two_vars_match_finite_differences() {
    check("a + b", |x| x[0] + x[1], |x| x[0] + x[1], PAIRS);
    check("a - b", |x| x[0] - x[1], |x| x[0] - x[1], PAIRS);
    check("a * b", |x| x[0] * x[1], |x| x[0] * x[1], PAIRS);
    check("a / b", |x| x[0] / x[1], |x| x[0] / x[1], PAIRS);
}

#[test]
fn binary_operators_on_one_var_twice_match_finite_differences() {
    let points: &[&[f64]] = &[&[-1.5], &[0.3], &[2.0]];
    check("a + a", |x| x[0] + x[0], |x| x[0] + x[0], points);
    check("a - a", |x| x[0] - x[0], |x| x[0] - x[0], points);
    check("a * a", |x| x[0] * x[0], |x| x[0] * x[0], points);
    check("a / a", |x| x[0] / x[0], |x| x[0] / x[0], points);
}

#[test]
fn operators_with_a_constant_on_the_right_match_finite_differences() {
    let points: &[&[f64]] = &[&[-2.0], &[-1e-3], &[0.7], &[5.0]];
    check("a + 2.5", |x| x[0] + 2.5, |x| x[0] + 2.5, points);
    check("a - 2.5", |x| x[0] - 2.5, |x| x[0] - 2.5, points);
    check("a * -2.5", |x| x[0] * -2.5, |x| x[0] * -2.5, points);
    check("a / -2.5", |x| x[0] / -2.5, |x| x[0] / -2.5, points);
}

#[test]
fn operators_with_a_constant_on_the_left_match_finite_differences() {
    let points: &[&[f64]] = &[&[-2.0], &[-1e-3], &[0.7], &[5.0]];
    check("2.5 + a", |x| 2.5 + x[0], |x| 2.5 + x[0], points);
    check("2.5 - a", |x| 2.5 - x[0], |x| 2.5 - x[0], points);
    check("-2.5 * a", |x| -2.5 * x[0], |x| -2.5 * x[0], points);
    check("-2.5 / a", |x| -2.5 / x[0], |x| -2.5 / x[0], points);
}

#[test]
fn negation_matches_finite_differences() {
    check("-a", |x| -x[0], |x| -x[0], &[&[-2.0], &[0.0], &[0.7]]);
}

#[test]
fn compound_assignments_match_finite_differences() {
    fn primal(x: &[f64]) -> f64 {
        let (a, b) = (x[0], x[1]);
        let mut y = a;
        y += b;
        y *= a;
        y -= 0.5;
        y /= b;
        y += 2.0;
        y *= -1.5;
        y -= a;
        y /= 3.0;
        y
    }
    fn taped<'t>(x: &[Var<'t>]) -> Var<'t> {
        let (a, b) = (x[0], x[1]);
        let mut y = a;
        y += b;
        y *= a;
        y -= 0.5;
        y /= b;
        y += 2.0;
        y *= -1.5;
        y -= a;
        y /= 3.0;
        y
    }
    check("compound assignments", primal, taped, PAIRS);
}

// ---- The n-ary nodes -------------------------------------------------------------

#[test]
fn sum_matches_finite_differences() {
    let points: &[&[f64]] = &[&[1.5, -0.7, 0.3], &[-2.0, 3.0, 10.0]];
    check(
        "sum",
        |x| x.iter().sum(),
        |x| x.iter().copied().sum(),
        points,
    );
    // With fan-out: x0 appears twice and again inside a product.
    check(
        "sum with repeats",
        |x| x[0] + x[1] + x[0] * x[1] + x[0],
        |x| [x[0], x[1], x[0] * x[1], x[0]].into_iter().sum(),
        points,
    );
}

#[test]
fn weighted_sum_matches_finite_differences() {
    let points: &[&[f64]] = &[
        &[0.15, 0.20, -0.3, 0.05, 0.10, 2.0, 0.35],
        &[-1.0, 2.5, 0.7, 3.0, -0.4, 0.9, -0.6],
    ];
    check(
        "weighted_sum",
        |x| x[0] * x[3] + x[1] * x[4] + x[2] * x[5] + x[6],
        |x| Var::weighted_sum(&x[0..3], &x[3..6], x[6]),
        points,
    );
    // With fan-out: one Var as a weight, an input and the bias.
    check(
        "weighted_sum with repeats",
        |x| x[0] * x[1] + x[1] * x[0] + x[0],
        |x| Var::weighted_sum(&[x[0], x[1]], &[x[1], x[0]], x[0]),
        &[&[0.3, -1.2], &[2.0, 0.5]],
    );
}

#[test]
fn weighted_sum_const_matches_finite_differences() {
    check(
        "weighted_sum_const",
        |x| x[0] * 0.3 + x[1] * -1.2 + x[2] * 2.0 + x[3],
        |x| Var::weighted_sum_const(&x[0..3], &[0.3, -1.2, 2.0], x[3]),
        &[&[0.15, 0.20, -0.3, 0.35], &[-1.0, 2.5, 0.7, -0.6]],
    );
}

// ---- Kinks and edge cases ----------------------------------------------------------

/// The value and the gradient of a one-leaf function at `x`.
fn value_and_gradient(x: f64, f: for<'t> fn(Var<'t>) -> Var<'t>) -> (f64, f64) {
    let tape = Tape::new();
    let v = tape.var(x);
    let y = f(v);
    let g = y.backward();
    (y.value(), g[v])
}

#[test]
fn relu_at_zero_has_zero_gradient() {
    assert_eq!(value_and_gradient(0.0, |x| x.relu()), (0.0, 0.0));
    assert_eq!(value_and_gradient(-0.0, |x| x.relu()), (0.0, 0.0));
}

#[test]
fn abs_at_zero_has_zero_gradient() {
    assert_eq!(value_and_gradient(0.0, |x| x.abs()), (0.0, 0.0));
    assert_eq!(value_and_gradient(-0.0, |x| x.abs()), (0.0, 0.0));
}

#[test]
fn leaky_relu_at_zero_has_alpha_gradient() {
    assert_eq!(value_and_gradient(0.0, |x| x.leaky_relu(0.01)), (0.0, 0.01));
    assert_eq!(value_and_gradient(0.0, |x| x.leaky_relu(0.3)), (0.0, 0.3));
}

/// A tie splits the gradient ½ each, as torch.maximum / torch.minimum and JAX's
/// maximum do, so max(a, b) + min(a, b) = a + b has gradient (1, 1) at a tie too:
/// the one-sided conventions would give (2, 0).
#[test]
fn a_max_or_min_tie_splits_the_gradient_in_half() {
    let tape = Tape::new();
    let a = tape.var(1.5);
    let b = tape.var(1.5);
    for y in [a.max(b), b.max(a), a.min(b), b.min(a)] {
        let g = y.backward();
        assert_eq!((y.value(), g[a], g[b]), (1.5, 0.5, 0.5));
    }
    let sum = a.max(b) + a.min(b);
    let g = sum.backward();
    assert_eq!((g[a], g[b]), (1.0, 1.0));
}

/// A NaN operand makes max and min NaN, with NaN partials (as torch.maximum):
/// it is never hidden behind the other operand, as f64::max would.
#[test]
fn max_and_min_propagate_nan() {
    let tape = Tape::new();
    let x = tape.var(f64::NAN);
    let y = tape.var(1.0);
    for f in [x.max(y), y.max(x), x.min(y), y.min(x)] {
        assert!(f.value().is_nan());
        let g = f.backward();
        assert!(g[x].is_nan() && g[y].is_nan());
        assert!(g.gradient_anomaly().is_some());
    }
    use chainrule::Scalar;
    assert!(Scalar::max(f64::NAN, 1.0).is_nan() && Scalar::min(1.0, f64::NAN).is_nan());
}

#[test]
fn max_and_min_of_one_var_with_itself_have_gradient_one() {
    assert_eq!(value_and_gradient(2.0, |x| x.max(x)), (2.0, 1.0));
    assert_eq!(value_and_gradient(2.0, |x| x.min(x)), (2.0, 1.0));
}

#[test]
fn sigmoid_is_finite_and_exact_at_plus_minus_1000() {
    assert_eq!(value_and_gradient(1000.0, |x| x.sigmoid()), (1.0, 0.0));
    assert_eq!(value_and_gradient(-1000.0, |x| x.sigmoid()), (0.0, 0.0));
}

#[test]
fn tanh_is_finite_and_exact_at_plus_minus_1000() {
    assert_eq!(value_and_gradient(1000.0, |x| x.tanh()), (1.0, 0.0));
    assert_eq!(value_and_gradient(-1000.0, |x| x.tanh()), (-1.0, 0.0));
}

#[test]
fn softplus_is_finite_and_exact_at_plus_minus_1000() {
    assert_eq!(value_and_gradient(1000.0, |x| x.softplus()), (1000.0, 1.0));
    assert_eq!(value_and_gradient(-1000.0, |x| x.softplus()), (0.0, 0.0));
}

#[test]
fn sigmoid_gradient_is_accurate_in_both_tails() {
    // σ'(x) = e^-|x| / (1 + e^-|x|)², an even function, representable to full
    // precision far into both tails (σ'(40) ≈ 4.2e-18). Tolerance: 1e-12 relative,
    // a few thousand ulps, far looser than either formula's rounding.
    for x in [-40.0, -30.0, -20.0, 20.0, 30.0, 40.0] {
        let e = (-f64::abs(x)).exp();
        let exact = e / ((1.0 + e) * (1.0 + e));
        let (_, g) = value_and_gradient(x, |x| x.sigmoid());
        assert!(
            (g - exact).abs() <= 1e-12 * exact,
            "sigmoid'({x}) = {g:e} on the tape, exactly {exact:e}"
        );
    }
}

#[test]
fn pow_with_zero_base_has_zero_exponent_gradient() {
    // d/dy x^y = x^y ln x is 0 · (-inf) at x = 0; taken as 0 for y ≥ 0 (PyTorch).
    for exponent in [0.0, 0.5, 2.0] {
        let tape = Tape::new();
        let x = tape.var(0.0);
        let y = tape.var(exponent);
        let p = x.pow(y);
        let g = p.backward();
        assert_eq!(p.value(), 0f64.powf(exponent));
        assert_eq!(g[y], 0.0, "d/dy 0^{exponent}");
    }
}

#[test]
fn pow_with_zero_exponent_has_zero_base_gradient_even_at_zero_base() {
    // d/dx x^y = y x^(y-1) is 0 · inf at x = 0, y = 0; taken as 0 (PyTorch).
    let tape = Tape::new();
    let x = tape.var(0.0);
    let y = tape.var(0.0);
    let p = x.pow(y);
    let g = p.backward();
    assert_eq!((p.value(), g[x], g[y]), (1.0, 0.0, 0.0));
}

#[test]
fn powi_and_powf_of_zero_exponent_have_zero_gradient_at_zero() {
    assert_eq!(value_and_gradient(0.0, |x| x.powi(0)), (1.0, 0.0));
    assert_eq!(value_and_gradient(0.0, |x| x.powf(0.0)), (1.0, 0.0));
}

#[test]
fn powi_accepts_every_i32_exponent() {
    // n·x^(n-1) must not compute n - 1 in i32 (it overflows for i32::MIN).
    // (A wrapped n - 1 would be i32::MAX, giving 2^MAX = inf at x = 2 and
    // 0.5^MAX = 0 at x = 0.5: the opposite of the truth.)
    let (value, gradient) = value_and_gradient(1.0, |x| x.powi(i32::MIN));
    assert_eq!(value, 1.0);
    assert_eq!(gradient, i32::MIN as f64);
    // 2^(MIN - 1) underflows to 0: the gradient is MIN · 0.
    assert_eq!(value_and_gradient(2.0, |x| x.powi(i32::MIN)), (0.0, 0.0));
    // 0.5^(MIN - 1) overflows: MIN · inf.
    assert_eq!(
        value_and_gradient(0.5, |x| x.powi(i32::MIN)),
        (f64::INFINITY, f64::NEG_INFINITY)
    );
    let (value, gradient) = value_and_gradient(1.0, |x| x.powi(i32::MAX));
    assert_eq!((value, gradient), (1.0, i32::MAX as f64));
}

#[test]
fn sqrt_and_ln_at_zero_give_the_documented_infinities() {
    assert_eq!(value_and_gradient(0.0, |x| x.sqrt()), (0.0, f64::INFINITY));
    assert_eq!(
        value_and_gradient(0.0, |x| x.ln()),
        (f64::NEG_INFINITY, f64::INFINITY)
    );
    assert_eq!(
        value_and_gradient(0.0, |x| x.recip()),
        (f64::INFINITY, f64::NEG_INFINITY)
    );
}

// ---- The documented edges of the ops of issue 11 ----------------------------------

/// logsumexp's value and partials over `xs`.
fn logsumexp_at(xs: &[f64]) -> (f64, Vec<f64>) {
    let tape = Tape::new();
    let leaves = tape.vars(xs);
    let y = Var::logsumexp(&leaves);
    let g = y.backward();
    (y.value(), leaves.iter().map(|&l| g[l]).collect())
}

/// Equal bit for bit, any NaN equal to any NaN.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

#[test]
fn logsumexp_follows_its_table_of_edges() {
    const INF: f64 = f64::INFINITY;
    const NAN: f64 = f64::NAN;
    // (inputs, value, partials), from the table in Var::logsumexp's documentation.
    let cases: &[(&[f64], f64, &[f64])] = &[
        // Every input −inf: −inf; the softmax is 0/0 and has no limit there
        // (½ each along x₀ = x₁ → −inf, 1 and 0 along x₁ = x₀ − 1): NaN each.
        // It was 0 each, a silent 0 (and 0 for one input, whose ln e^x = x
        // has derivative 1).
        (&[-INF], -INF, &[1.0]),
        (&[-INF, -INF], -INF, &[NAN, NAN]),
        (&[-INF, -INF, -INF], -INF, &[NAN, NAN, NAN]),
        // One input +inf: +inf, 1 to it, 0 to the others (the limit).
        (&[INF], INF, &[1.0]),
        (&[INF, 1.0], INF, &[1.0, 0.0]),
        (&[-INF, INF, 7.0], INF, &[0.0, 1.0, 0.0]),
        // k ≥ 2 inputs +inf: NaN to each (their shares depend on how they
        // grow; it was 1/k), 0 to the others.
        (&[3.0, INF, -INF, INF], INF, &[0.0, NAN, 0.0, NAN]),
        (&[INF, INF, INF, -2.0], INF, &[NAN, NAN, NAN, 0.0]),
        // A NaN: NaN each, even beside +inf or −inf.
        (&[NAN], NAN, &[NAN]),
        (&[NAN, 1.0], NAN, &[NAN, NAN]),
        (&[INF, NAN], NAN, &[NAN, NAN]),
        (&[-INF, NAN, -INF], NAN, &[NAN, NAN, NAN]),
        // Some −inf among finite inputs: they get 0, the rest the softmax.
        (&[-INF, 0.0], 0.0, &[0.0, 1.0]),
        (
            &[-INF, 2.0, 2.0],
            2.0 + std::f64::consts::LN_2,
            &[0.0, 0.5, 0.5],
        ),
    ];
    for &(xs, value, partials) in cases {
        let (v, g) = logsumexp_at(xs);
        assert!(
            same(v, value),
            "logsumexp({xs:?}) = {v}, documented {value}"
        );
        for (i, (&gi, &pi)) in g.iter().zip(partials).enumerate() {
            assert!(
                same(gi, pi),
                "logsumexp({xs:?}): ∂/∂x{i} = {gi}, documented {pi}"
            );
        }
    }
}

#[test]
fn logsumexp_does_not_overflow_and_its_partials_sum_to_one() {
    let (v, g) = logsumexp_at(&[1000.0, 1000.0]);
    assert_eq!((v, g[0], g[1]), (1000.0 + std::f64::consts::LN_2, 0.5, 0.5));
    let (v, g) = logsumexp_at(&[-1000.0, -1000.0]);
    assert_eq!(
        (v, g[0], g[1]),
        (-1000.0 + std::f64::consts::LN_2, 0.5, 0.5)
    );
    let (_, g) = logsumexp_at(&[1000.0, 0.0, -1000.0, 3.5, 999.0]);
    let sum: f64 = g.iter().sum();
    assert!((sum - 1.0).abs() <= 4.0 * EPS, "Σ softmax = {sum}");
    assert!(g.iter().all(|&p| (0.0..=1.0).contains(&p)), "{g:?}");
}

#[test]
#[should_panic(expected = "Var::logsumexp needs at least one input")]
fn logsumexp_of_nothing_panics() {
    let _ = Var::logsumexp(&[]);
}

#[test]
fn clamp_at_its_bounds_splits_and_outside_selects_nothing() {
    let at = |x: f64, lo: f64, hi: f64| value_and_gradient_with(x, |v| v.clamp(lo, hi));
    assert_eq!(at(0.5, 0.0, 1.0), (0.5, 1.0), "inside");
    assert_eq!(at(0.0, 0.0, 1.0), (0.0, 0.5), "at lo");
    assert_eq!(at(1.0, 0.0, 1.0), (1.0, 0.5), "at hi");
    assert_eq!(at(-1.0, 0.0, 1.0), (0.0, 0.0), "below");
    assert_eq!(at(2.0, 0.0, 1.0), (1.0, 0.0), "above");
    // lo = hi: the constant 3, whose derivative is 0 at x = 3 too (max then
    // min would give ¼ there, where the derivative exists).
    assert_eq!(at(3.0, 3.0, 3.0), (3.0, 0.0), "lo = hi = x");
    assert_eq!(at(2.0, 3.0, 3.0), (3.0, 0.0), "lo = hi above x");
    assert_eq!(at(4.0, 3.0, 3.0), (3.0, 0.0), "lo = hi below x");
    // Infinite bounds are bounds too.
    assert_eq!(at(5.0, f64::NEG_INFINITY, f64::INFINITY), (5.0, 1.0));
    assert_eq!(at(f64::INFINITY, 0.0, f64::INFINITY), (f64::INFINITY, 0.5));
    // NaN stays NaN, with a NaN partial.
    let (v, g) = at(f64::NAN, 0.0, 1.0);
    assert!(v.is_nan() && g.is_nan(), "clamp(NaN) = {v}, partial {g}");
    // -0.0 ties with a bound of 0.0, and keeps its sign as f64::clamp does.
    let (v, g) = at(-0.0, 0.0, 1.0);
    assert_eq!((v.to_bits(), g), ((-0.0f64).clamp(0.0, 1.0).to_bits(), 0.5));
}

#[test]
fn clamp_equals_max_then_min_in_value_and_derivative() {
    for x in [-2.0, -0.0, 0.0, 0.25, 1.0, 3.0, f64::NAN] {
        for (lo, hi) in [(0.0, 1.0), (1.0, 1.0), (-2.0, 0.0)] {
            let a = value_and_gradient_with(x, |v| v.clamp(lo, hi));
            let mut b = value_and_gradient_with(x, |v| v.max(lo).min(hi));
            // But where lo = hi = x: clamp is the constant, max then min
            // splits two ties (¼).
            if lo == hi && x == lo {
                assert_eq!(b.1, 0.25);
                b.1 = 0.0;
            }
            assert!(
                same(a.0, b.0) && same(a.1, b.1),
                "clamp({x}, {lo}, {hi}): {a:?} vs {b:?}"
            );
        }
    }
}

#[test]
fn clamp_masks_an_infinite_adjoint_outside_its_bounds() {
    // √(clamp(x, 0, 1)) at x = −1: √′(0) = ∞, but clamp selected the bound.
    let (_, g) = value_and_gradient_with(-1.0, |v| v.clamp(0.0, 1.0).sqrt());
    assert_eq!(g.to_bits(), 0.0f64.to_bits());
    let (_, g) = value_and_gradient_with(-1.0, |v| v.max(0.0).sqrt());
    assert_eq!(g.to_bits(), 0.0f64.to_bits());
}

#[test]
#[should_panic(expected = "clamp needs lo <= hi, neither NaN, but got lo = 1, hi = 0")]
fn clamp_panics_if_lo_exceeds_hi() {
    let tape = Tape::new();
    let _ = tape.var(0.5).clamp(1.0, 0.0);
}

#[test]
#[should_panic(expected = "clamp needs lo <= hi, neither NaN, but got lo = NaN, hi = 1")]
fn clamp_panics_on_a_nan_lower_bound() {
    let tape = Tape::new();
    let _ = tape.var(0.5).clamp(f64::NAN, 1.0);
}

#[test]
#[should_panic(expected = "clamp needs lo <= hi, neither NaN, but got lo = 0, hi = NaN")]
fn clamp_panics_on_a_nan_upper_bound() {
    let tape = Tape::new();
    let _ = tape.var(0.5).clamp(0.0, f64::NAN);
}

#[test]
fn atan2_and_hypot_have_nan_partials_at_the_origin() {
    for (y, x) in [(0.0, 0.0), (-0.0, 0.0), (0.0, -0.0), (-0.0, -0.0)] {
        let tape = Tape::new();
        let (vy, vx) = (tape.var(y), tape.var(x));
        let a = vy.atan2(vx);
        let g = a.backward();
        assert_eq!(a.value().to_bits(), y.atan2(x).to_bits(), "atan2({y}, {x})");
        assert!(
            g[vy].is_nan() && g[vx].is_nan(),
            "atan2({y}, {x}): {} {}",
            g[vy],
            g[vx]
        );
        let (v, g) = value_and_gradient_with(y, |v| v.atan2(x));
        assert_eq!(v.to_bits(), y.atan2(x).to_bits());
        assert!(g.is_nan(), "atan2(Var {y}, {x}): {g}");
        let (v, g) = value_and_gradient_with(x, |v| Var::const_atan2(y, v));
        assert_eq!(v.to_bits(), y.atan2(x).to_bits());
        assert!(g.is_nan(), "atan2({y}, Var {x}): {g}");

        let h = vy.hypot(vx);
        let g = h.backward();
        assert_eq!(h.value(), 0.0);
        assert!(
            g[vy].is_nan() && g[vx].is_nan(),
            "hypot({y}, {x}): {} {}",
            g[vy],
            g[vx]
        );
        let (v, g) = value_and_gradient_with(y, |v| v.hypot(x));
        assert_eq!(v, 0.0);
        assert!(g.is_nan(), "hypot(Var {y}, {x}): {g}");
    }
}

#[test]
fn atan2_and_hypot_on_the_axes_have_the_textbook_partials() {
    // (y, x) → (∂/∂y, ∂/∂x) of atan2 = (x, −y)/(x² + y²), of hypot = (y, x)/h.
    let tape = Tape::new();
    for (y, x, atan2, hypot) in [
        (0.0, 2.0, (0.5, -0.0), (0.0, 1.0)),
        (2.0, 0.0, (0.0, -0.5), (1.0, 0.0)),
        (0.0, -2.0, (-0.5, -0.0), (0.0, -1.0)),
        (-2.0, 0.0, (0.0, 0.5), (-1.0, 0.0)),
    ] {
        let (vy, vx) = (tape.var(y), tape.var(x));
        let g = vy.atan2(vx).backward();
        assert_eq!((g[vy], g[vx]), atan2, "atan2({y}, {x})");
        let g = vy.hypot(vx).backward();
        assert_eq!((g[vy], g[vx]), hypot, "hypot({y}, {x})");
    }
    // No overflow: x² + y² would be +inf.
    let (vy, vx) = (tape.var(1e300), tape.var(1e300));
    let g = vy.atan2(vx).backward();
    assert!((g[vy] - 0.5e-300).abs() <= 1e-315 && (g[vx] + 0.5e-300).abs() <= 1e-315);
}

#[test]
fn signum_has_derivative_zero_everywhere_but_nan() {
    for x in [
        -2.0,
        -1e-300,
        -0.0,
        0.0,
        5e-324,
        3.0,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ] {
        let (v, g) = value_and_gradient_with(x, |v| v.signum());
        assert_eq!(
            (v, g.to_bits()),
            (x.signum(), 0.0f64.to_bits()),
            "signum at {x}"
        );
    }
    let (v, g) = value_and_gradient_with(f64::NAN, |v| v.signum());
    assert!(v.is_nan() && g.is_nan());
}

#[test]
fn max_and_min_against_a_constant_give_the_var_the_share_a_var_would_get() {
    // x.max(0.0) must give x what x.max(zero) gives x, zero a Var of value 0:
    // 1 when x is selected, ½ at a tie, 0 when 0 is selected, NaN at NaN.
    for c in [0.0, -0.0, 1.5] {
        for x in [-1.0, -0.0, 0.0, 1.5, 2.0, f64::NAN] {
            for max in [true, false] {
                let tape = Tape::new();
                let (vx, vc) = (tape.var(x), tape.var(c));
                let (with_var, with_const) = if max {
                    (vx.max(vc), vx.max(c))
                } else {
                    (vx.min(vc), vx.min(c))
                };
                let name = if max { "max" } else { "min" };
                assert!(
                    same(with_var.value(), with_const.value()),
                    "{name}({x}, {c}): value {} with a Var, {} with a constant",
                    with_var.value(),
                    with_const.value()
                );
                let (a, b) = (with_var.backward()[vx], with_const.backward()[vx]);
                assert!(
                    same(a, b),
                    "{name}({x}, {c}): the Var gets {a} against a Var, {b} against a constant"
                );
            }
        }
    }
}

#[test]
fn inverse_functions_give_the_documented_values_at_their_edges() {
    const INF: f64 = f64::INFINITY;
    let cases: &[(&str, f64, OneLeaf, f64, f64)] = &[
        // (name, x, op, value, derivative), from each op's documentation.
        ("asin", 1.0, |x| x.asin(), std::f64::consts::FRAC_PI_2, INF),
        (
            "asin",
            -1.0,
            |x| x.asin(),
            -std::f64::consts::FRAC_PI_2,
            INF,
        ),
        ("acos", 1.0, |x| x.acos(), 0.0, -INF),
        ("acos", -1.0, |x| x.acos(), std::f64::consts::PI, -INF),
        ("acosh", 1.0, |x| x.acosh(), 0.0, INF),
        ("atanh", 1.0, |x| x.atanh(), INF, INF),
        ("atanh", -1.0, |x| x.atanh(), -INF, INF),
        ("log1p", -1.0, |x| x.log1p(), -INF, INF),
        ("log2", 0.0, |x| x.log2(), -INF, INF),
        ("log10", 0.0, |x| x.log10(), -INF, INF),
        ("cbrt", 0.0, |x| x.cbrt(), 0.0, INF),
        ("cbrt", -0.0, |x| x.cbrt(), -0.0, INF),
        (
            "erf",
            0.0,
            |x| x.erf(),
            0.0,
            std::f64::consts::FRAC_2_SQRT_PI,
        ),
        ("erf", 30.0, |x| x.erf(), 1.0, 0.0),
        ("exp2", 1024.0, |x| x.exp2(), INF, INF),
    ];
    for &(name, x, op, value, derivative) in cases {
        let (v, g) = value_and_gradient_with(x, op);
        assert!(
            same(v, value) && same(g, derivative),
            "{name}({x}) = {v}, derivative {g}; documented {value}, {derivative}"
        );
    }
    // tan near π/2: very large, not infinite.
    let (v, g) = value_and_gradient_with(std::f64::consts::FRAC_PI_2, |x| x.tan());
    assert!(
        v.is_finite() && g.is_finite() && g > 1e32,
        "tan(π/2) = {v}, derivative {g}"
    );
}

#[test]
fn inverse_functions_are_nan_outside_their_domains() {
    // "outside [−1, 1] the value is NaN, and so is the derivative" (asin; acos,
    // atanh: "NaN outside [−1, 1]"; acosh: "NaN below 1").
    let cases: &[(&str, f64, OneLeaf)] = &[
        ("asin", 1.5, |x| x.asin()),
        ("asin", -2.0, |x| x.asin()),
        ("acos", 1.5, |x| x.acos()),
        ("acos", -2.0, |x| x.acos()),
        ("acosh", 0.5, |x| x.acosh()),
        ("acosh", -2.0, |x| x.acosh()),
        ("atanh", 2.0, |x| x.atanh()),
        ("atanh", -1.5, |x| x.atanh()),
    ];
    let mut wrong = Vec::new();
    for &(name, x, op) in cases {
        let (v, g) = value_and_gradient_with(x, op);
        if !(v.is_nan() && g.is_nan()) {
            wrong.push(format!("{name}({x}) = {v}, derivative {g}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "documented NaN value and derivative, got:\n{}",
        wrong.join("\n")
    );
    // log1p below −1: the value is NaN (as f64::ln_1p).
    assert!(value_and_gradient_with(-2.0, |x| x.log1p()).0.is_nan());
}

/// An op applied to one leaf.
type OneLeaf = for<'t> fn(Var<'t>) -> Var<'t>;

/// `value_and_gradient` for a closure that may capture (a constant, a bound).
fn value_and_gradient_with(x: f64, f: impl for<'t> Fn(Var<'t>) -> Var<'t>) -> (f64, f64) {
    let tape = Tape::new();
    let v = tape.var(x);
    let y = f(v);
    let g = y.backward();
    (y.value(), g[v])
}

// ---- What an op records -------------------------------------------------------------

#[test]
fn an_operation_with_a_constant_records_one_node_and_no_leaf() {
    type Case = (&'static str, for<'t> fn(Var<'t>) -> Var<'t>, Op, f64);
    // x = 2: the partial recorded is ∂node/∂x with the constant folded in.
    let cases: [Case; 11] = [
        ("x + 3", |x| x + 3.0, Op::AddConst, 1.0),
        ("3 + x", |x| 3.0 + x, Op::AddConst, 1.0),
        ("x - 3", |x| x - 3.0, Op::SubConst, 1.0),
        ("3 - x", |x| 3.0 - x, Op::ConstSub, -1.0),
        ("x * 3", |x| x * 3.0, Op::MulConst, 3.0),
        ("3 * x", |x| 3.0 * x, Op::MulConst, 3.0),
        ("x / 4", |x| x / 4.0, Op::DivConst, 0.25),
        ("3 / x", |x| 3.0 / x, Op::ConstDiv, -0.75),
        ("x.powi(3)", |x| x.powi(3), Op::Powi, 12.0),
        ("x.powf(3.0)", |x| x.powf(3.0), Op::Powf, 12.0),
        (
            "x.leaky_relu(0.1)",
            |x| x.leaky_relu(0.1),
            Op::LeakyRelu,
            1.0,
        ),
    ];
    for (name, f, op, partial) in cases {
        let tape = Tape::new();
        let x = tape.var(2.0);
        let y = f(x);
        assert_eq!(tape.len(), 2, "{name}: one leaf and one node");
        assert_eq!(tape.op(y.index()), op, "{name}");
        assert_eq!(tape.edges(y.index()), vec![(x.index(), partial)], "{name}");
        assert_eq!(tape.edge_count(), 1, "{name}");
    }
    // The compound assignments with a constant too.
    let tape = Tape::new();
    let mut y = tape.var(2.0);
    y += 1.0;
    y -= 1.0;
    y *= 2.0;
    y /= 2.0;
    assert_eq!(tape.len(), 5);
    assert_eq!(tape.edge_count(), 4);
}

#[test]
fn sum_records_one_n_ary_node() {
    let tape = Tape::new();
    let xs = tape.vars(&[1.0, 2.0, 3.0]);
    let before = tape.len();
    let total: Var = [xs[0], xs[1], xs[2], xs[0]].iter().sum();
    assert_eq!(tape.len(), before + 1);
    assert_eq!(tape.op(total.index()), Op::Sum);
    assert_eq!(
        tape.edges(total.index()),
        vec![(0, 1.0), (1, 1.0), (2, 1.0), (0, 1.0)]
    );
    assert_eq!(total.value(), 7.0);
    let g = total.backward();
    assert_eq!(g.wrt_all(&xs), vec![2.0, 1.0, 1.0]);
    // More operands than the inline buffer holds.
    let many = tape.vars(&[0.5; 40]);
    let total: Var = many.iter().map(|&x| x * 2.0).sum();
    assert_eq!(tape.edges(total.index()).len(), 40);
    assert_eq!(total.value(), 40.0);
    let g = total.backward();
    assert!(many.iter().all(|&x| g[x] == 2.0));
}

#[test]
fn a_plus_a_has_gradient_two_and_two_edges() {
    let tape = Tape::new();
    let a = tape.var(3.0);
    let y = a + a;
    assert_eq!(tape.edges(y.index()), vec![(0, 1.0), (0, 1.0)]);
    assert_eq!(y.backward()[a], 2.0);
}

#[test]
fn weighted_sum_records_one_node_with_an_edge_per_operand() {
    let tape = Tape::new();
    let w = tape.vars(&[0.5, -2.0]);
    let x = tape.vars(&[3.0, 0.25]);
    let b = tape.var(1.0);
    let net = Var::weighted_sum(&w, &x, b);
    assert_eq!(tape.len(), 6);
    assert_eq!(tape.op(net.index()), Op::WeightedSum);
    assert_eq!(
        tape.edges(net.index()),
        vec![(0, 3.0), (2, 0.5), (1, 0.25), (3, -2.0), (4, 1.0)]
    );
    let net_c = Var::weighted_sum_const(&w, &[3.0, 0.25], b);
    assert_eq!(tape.len(), 7);
    assert_eq!(
        tape.edges(net_c.index()),
        vec![(0, 3.0), (1, 0.25), (4, 1.0)]
    );
    assert_eq!(net.value(), net_c.value());
}

// ---- The Scalar trait: the same source on f64 and on Var --------------------------

/// Every op of the trait, applied to `a` and `b`, in one generic function.
fn every_op<T: Scalar>(a: T, b: T) -> Vec<T> {
    let mut compound = a;
    compound += b;
    compound *= a;
    compound -= b;
    compound /= b;
    compound += 0.5;
    compound -= 0.25;
    compound *= 3.0;
    compound /= 7.0;
    vec![
        a + b,
        a - b,
        a * b,
        a / b,
        -a,
        a + 0.3,
        a - 0.3,
        a * 0.3,
        a / 0.3,
        a.sigmoid(),
        a.tanh(),
        a.relu(),
        a.leaky_relu(0.01),
        a.softplus(),
        a.exp(),
        a.abs().ln(),
        a.abs().sqrt(),
        a.powi(3),
        a.powi(-2),
        a.abs().powf(1.7),
        a.abs().pow(b),
        a.abs(),
        a.sin(),
        a.cos(),
        a.recip(),
        a.square(),
        a.max(b),
        a.min(b),
        b.max(a),
        b.min(a),
        [a, b, a * b].into_iter().sum(),
        T::weighted_sum(&[a, b], &[b, a], a),
        T::weighted_sum_const(&[a, b], &[0.1, 0.7], b),
        compound,
        // The ops of issue 11 (NaN outside a domain is NaN on both sides).
        a.tan(),
        a.asin(),
        a.acos(),
        a.atan(),
        a.sinh(),
        a.cosh(),
        a.asinh(),
        (a.abs() + 1.0).acosh(),
        a.atanh(),
        a.log1p(),
        a.ln_1p(),
        a.expm1(),
        a.exp_m1(),
        a.exp2(),
        a.abs().log2(),
        a.abs().log10(),
        a.abs().log(3.0),
        a.cbrt(),
        a.logsigmoid(),
        a.signum(),
        a.erf(),
        a.clamp(-1.0, 1.0),
        a.clamp(0.0, 0.0),
        a.max(0.0),
        a.min(0.5),
        a.atan2(b),
        a.atan2(0.5),
        a.hypot(b),
        a.hypot(2.0),
        a.mul_add(b, a),
        T::logsumexp(&[a, b, a * b]),
        a.constant(2.5) - a,
    ]
}

#[test]
fn scalar_gives_bit_identical_values_on_f64_and_on_var() {
    let points = [
        (0.7, -1.3),
        (-2.5, 0.4),
        (0.0, 3.0),
        (-0.0, 2.0),
        (1.5, 1.5),
        (1000.0, -1000.0),
        (-1000.0, 1e-3),
        (-35.0, 40.0),
    ];
    for (a, b) in points {
        let primal = every_op(a, b);
        let tape = Tape::new();
        let taped = every_op(tape.var(a), tape.var(b));
        assert_eq!(primal.len(), taped.len());
        for (k, (p, t)) in primal.iter().zip(&taped).enumerate() {
            assert_eq!(
                p.to_bits(),
                t.value().to_bits(),
                "op #{k} at ({a}, {b}): {p} on f64, {} on Var",
                t.value()
            );
            assert_eq!(Scalar::value(*t).to_bits(), t.value().to_bits());
        }
    }
}

#[test]
fn constant_records_a_node_without_operands_and_passes_no_gradient() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let c = x.constant(5.0);
    assert_eq!(c.value(), 5.0);
    assert_eq!(tape.op(c.index()), Op::Const);
    assert!(tape.edges(c.index()).is_empty());
    // 5·x: ∂/∂x = 5, the constant a factor only.
    assert_eq!((c * x).backward()[x], 5.0);
    // (1 − x)² in generic Scalar code, the 1 lifted by `constant`.
    fn f<T: Scalar>(x: T) -> T {
        let d = x.constant(1.0) - x;
        d * d
    }
    assert_eq!(f(2.0), 1.0);
    let y = f(x);
    assert_eq!((y.value(), y.backward()[x]), (1.0, 2.0));
}
