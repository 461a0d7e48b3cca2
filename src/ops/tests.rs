//! Every op against forward-mode dual numbers and central finite differences.
//!
//! [`coverage`] matches every [`Op`] exhaustively, with no wildcard: an op added
//! to the table (or anywhere) without an entry here does not compile. Each entry
//! records the op on a tape, computes the same function on `num_dual` duals
//! (which share no code with the tape), and gives points inside the domain and
//! near its edges (not on a kink, where a finite difference means nothing; the
//! kinks' conventions are tested exactly in `tests/ops_finite_differences.rs` and
//! `tests/policy.rs`).

use num_dual::{Dual64, DualNum};

use crate::{Activation, Op, Tape, Var};

type D = Dual64;

/// How one op is checked.
struct Check {
    /// Records the op (and nothing it depends on but leaves) over the leaves.
    record: for<'t> fn(&[Var<'t>]) -> Var<'t>,
    /// The same function on duals.
    dual: fn(&[D]) -> D,
    /// Points, each with one value per leaf.
    points: &'static [&'static [f64]],
}

enum Coverage {
    Checked(Check),
    /// Covered by the named test instead (an op with no operands to
    /// differentiate).
    Elsewhere(&'static str),
}

fn c(
    record: for<'t> fn(&[Var<'t>]) -> Var<'t>,
    dual: fn(&[D]) -> D,
    points: &'static [&'static [f64]],
) -> Coverage {
    Coverage::Checked(Check {
        record,
        dual,
        points,
    })
}

fn sigmoid(x: D) -> D {
    (x.exp().recip() + 1.0).recip()
}

fn pick(take_first: bool, a: D, b: D) -> D {
    if take_first {
        a
    } else {
        b
    }
}

/// A dual whose derivative is given by its textbook formula (for the functions
/// num-dual lacks).
fn by_formula(x: D, value: f64, derivative: f64) -> D {
    D::new(value, derivative * x.eps)
}

const SPREAD: &[&[f64]] = &[
    &[-3.7],
    &[-1.2],
    &[-0.3],
    &[0.01],
    &[0.4],
    &[1.9],
    &[5.5],
    &[30.0],
];
const POSITIVE: &[&[f64]] = &[&[1e-8], &[0.003], &[0.4], &[1.0], &[2.5], &[1e3], &[1e12]];
const UNIT: &[&[f64]] = &[
    &[-0.999_999],
    &[-0.9],
    &[-0.2],
    &[0.0],
    &[0.5],
    &[0.99],
    &[0.999_999],
];
const PAIRS: &[&[f64]] = &[
    &[1.5, -0.5],
    &[-2.0, 3.0],
    &[0.3, 0.7],
    &[-1e-3, 2e-3],
    &[4.0, 0.25],
];

fn coverage(op: Op) -> Coverage {
    use Coverage::Elsewhere;
    match op {
        Op::Leaf => Elsewhere("a leaf has no operands: tests/tape_reuse.rs"),
        Op::Const => c(|v| v[0].constant(2.5) * v[0], |d| d[0] * 2.5, SPREAD),
        Op::Sigmoid => c(|v| v[0].sigmoid(), |d| sigmoid(d[0]), SPREAD),
        // 1 − 2/(e^2x + 1): no cancellation in the derivative's tail (num-dual's
        // tanh takes 1 − tanh², which is 0 at 30).
        Op::Tanh => c(
            |v| v[0].tanh(),
            |d| -(((d[0] * 2.0).exp() + 1.0).recip() * 2.0) + 1.0,
            SPREAD,
        ),
        Op::Relu => c(
            |v| v[0].relu(),
            |d| pick(d[0].re > 0.0, d[0], d[0] * 0.0),
            SPREAD,
        ),
        Op::Softplus => c(|v| v[0].softplus(), |d| d[0].exp().ln_1p(), SPREAD),
        Op::Logsigmoid => c(|v| v[0].logsigmoid(), |d| sigmoid(d[0]).ln(), SPREAD),
        Op::Silu => c(|v| v[0].silu(), |d| d[0] * sigmoid(d[0]), SPREAD),
        Op::Exp => c(|v| v[0].exp(), |d| d[0].exp(), SPREAD),
        Op::Expm1 => c(
            |v| v[0].expm1(),
            |d| d[0].exp_m1(),
            &[&[-40.0], &[-1e-9], &[1e-12], &[0.7], &[20.0]],
        ),
        Op::Exp2 => c(|v| v[0].exp2(), |d| d[0].exp2(), SPREAD),
        Op::Ln => c(|v| v[0].ln(), |d| d[0].ln(), POSITIVE),
        Op::Log1p => c(
            |v| v[0].log1p(),
            |d| d[0].ln_1p(),
            &[&[-0.999_999], &[-0.5], &[1e-12], &[3.0], &[1e9]],
        ),
        Op::Log2 => c(|v| v[0].log2(), |d| d[0].log2(), POSITIVE),
        Op::Log10 => c(|v| v[0].log10(), |d| d[0].log10(), POSITIVE),
        Op::Sqrt => c(|v| v[0].sqrt(), |d| d[0].sqrt(), POSITIVE),
        Op::Cbrt => c(
            |v| v[0].cbrt(),
            |d| d[0].cbrt(),
            &[&[-8.0], &[-1e-6], &[2e-9], &[0.3], &[27.0], &[1e15]],
        ),
        Op::Abs => c(|v| v[0].abs(), |d| pick(d[0].re > 0.0, d[0], -d[0]), SPREAD),
        Op::Signum => c(|v| v[0].signum(), |d| d[0] * 0.0 + d[0].re.signum(), SPREAD),
        Op::Sin => c(|v| v[0].sin(), |d| d[0].sin(), SPREAD),
        Op::Cos => c(|v| v[0].cos(), |d| d[0].cos(), SPREAD),
        Op::Tan => c(
            |v| v[0].tan(),
            |d| d[0].tan(),
            &[&[-1.55], &[-0.4], &[0.0], &[1.0], &[1.55], &[3.0]],
        ),
        Op::Asin => c(|v| v[0].asin(), |d| d[0].asin(), UNIT),
        Op::Acos => c(|v| v[0].acos(), |d| d[0].acos(), UNIT),
        Op::Atan => c(|v| v[0].atan(), |d| d[0].atan(), SPREAD),
        Op::Sinh => c(|v| v[0].sinh(), |d| d[0].sinh(), SPREAD),
        Op::Cosh => c(|v| v[0].cosh(), |d| d[0].cosh(), SPREAD),
        Op::Asinh => c(
            |v| v[0].asinh(),
            |d| d[0].asinh(),
            &[&[-1e10], &[-2.0], &[0.0], &[0.1], &[7.0], &[1e100]],
        ),
        Op::Acosh => c(
            |v| v[0].acosh(),
            |d| d[0].acosh(),
            &[&[1.000_001], &[1.5], &[10.0], &[1e100]],
        ),
        Op::Atanh => c(|v| v[0].atanh(), |d| d[0].atanh(), UNIT),
        Op::Recip => c(|v| v[0].recip(), |d| d[0].recip(), SPREAD),
        Op::Square => c(|v| v[0].square(), |d| d[0] * d[0], SPREAD),
        Op::Erf => c(
            |v| v[0].erf(),
            |d| {
                by_formula(
                    d[0],
                    f64::NAN,
                    std::f64::consts::FRAC_2_SQRT_PI * (-d[0].re * d[0].re).exp(),
                )
            },
            &[&[-3.0], &[-0.5], &[0.0], &[1e-9], &[0.8], &[2.5]],
        ),
        Op::Add => c(|v| v[0] + v[1], |d| d[0] + d[1], PAIRS),
        Op::Sub => c(|v| v[0] - v[1], |d| d[0] - d[1], PAIRS),
        Op::Mul => c(|v| v[0] * v[1], |d| d[0] * d[1], PAIRS),
        Op::Div => c(|v| v[0] / v[1], |d| d[0] / d[1], PAIRS),
        Op::Neg => c(|v| -v[0], |d| -d[0], SPREAD),
        Op::AddConst => c(|v| v[0] + 2.5, |d| d[0] + 2.5, SPREAD),
        Op::SubConst => c(|v| v[0] - 2.5, |d| d[0] - 2.5, SPREAD),
        Op::ConstSub => c(|v| 2.5 - v[0], |d| -d[0] + 2.5, SPREAD),
        Op::MulConst => c(|v| v[0] * 2.5, |d| d[0] * 2.5, SPREAD),
        Op::DivConst => c(|v| v[0] / 2.5, |d| d[0] / 2.5, SPREAD),
        Op::ConstDiv => c(|v| 2.5 / v[0], |d| d[0].recip() * 2.5, SPREAD),
        Op::LeakyRelu => c(
            |v| v[0].leaky_relu(0.1),
            |d| pick(d[0].re > 0.0, d[0], d[0] * 0.1),
            SPREAD,
        ),
        Op::Powi => c(|v| v[0].powi(-3), |d| d[0].powi(-3), SPREAD),
        Op::Powf => c(|v| v[0].powf(-1.7), |d| d[0].powf(-1.7), POSITIVE),
        Op::Pow => c(
            |v| v[0].pow(v[1]),
            |d| d[0].powd(d[1]),
            &[&[1.5, -0.5], &[0.3, 2.7], &[4.0, 1e-3]],
        ),
        Op::Log => c(|v| v[0].log(3.0), |d| d[0].log(3.0), POSITIVE),
        Op::Max => c(
            |v| v[0].max(v[1]),
            |d| pick(d[0].re > d[1].re, d[0], d[1]),
            PAIRS,
        ),
        Op::Min => c(
            |v| v[0].min(v[1]),
            |d| pick(d[0].re < d[1].re, d[0], d[1]),
            PAIRS,
        ),
        Op::MaxConst => c(
            |v| v[0].max(0.25),
            |d| pick(d[0].re > 0.25, d[0], d[0] * 0.0 + 0.25),
            SPREAD,
        ),
        Op::MinConst => c(
            |v| v[0].min(0.25),
            |d| pick(d[0].re < 0.25, d[0], d[0] * 0.0 + 0.25),
            SPREAD,
        ),
        Op::Clamp => c(
            |v| v[0].clamp(-1.0, 2.0),
            |d| {
                if d[0].re < -1.0 {
                    d[0] * 0.0 - 1.0
                } else if d[0].re > 2.0 {
                    d[0] * 0.0 + 2.0
                } else {
                    d[0]
                }
            },
            SPREAD,
        ),
        Op::Atan2 => c(|v| v[0].atan2(v[1]), |d| d[0].atan2(d[1]), PAIRS),
        Op::Atan2Const => c(|v| v[0].atan2(-0.7), |d| d[0].atan2(D::from(-0.7)), SPREAD),
        Op::ConstAtan2 => c(
            |v| Var::const_atan2(-0.7, v[0]),
            |d| D::from(-0.7).atan2(d[0]),
            SPREAD,
        ),
        Op::Hypot => c(
            |v| v[0].hypot(v[1]),
            |d| (d[0] * d[0] + d[1] * d[1]).sqrt(),
            PAIRS,
        ),
        Op::HypotConst => c(|v| v[0].hypot(0.7), |d| (d[0] * d[0] + 0.49).sqrt(), SPREAD),
        Op::MulAdd => c(
            |v| v[0].mul_add(v[1], v[2]),
            |d| d[0] * d[1] + d[2],
            &[&[1.5, -0.5, 2.0], &[-3.0, 0.1, 1e3]],
        ),
        Op::LogSumExp => c(
            |v| Var::logsumexp(v),
            |d| (d[0].exp() + d[1].exp() + d[2].exp()).ln(),
            &[&[1.0, 2.0, 3.0], &[-5.0, 0.0, 0.5], &[30.0, -30.0, 29.0]],
        ),
        Op::Sum => c(
            |v| v.iter().copied().sum(),
            |d| d[0] + d[1] + d[2],
            &[&[1.0, -2.0, 0.5]],
        ),
        Op::WeightedSum => c(
            |v| Var::weighted_sum(&v[0..2], &v[2..4], v[4]),
            |d| d[0] * d[2] + d[1] * d[3] + d[4],
            &[&[0.15, 0.2, 0.05, 0.1, 0.35]],
        ),
        Op::SigmoidNeuron => c(
            |v| Var::neuron(&v[0..2], &v[2..4], v[4], Activation::Sigmoid),
            |d| sigmoid(d[0] * d[2] + d[1] * d[3] + d[4]),
            &[&[0.15, 0.2, 0.05, 0.1, 0.35], &[-1.0, 2.0, 3.0, -0.5, 0.1]],
        ),
        Op::TanhNeuron => c(
            |v| Var::neuron(&v[0..2], &v[2..4], v[4], Activation::Tanh),
            |d| (d[0] * d[2] + d[1] * d[3] + d[4]).tanh(),
            &[&[0.15, 0.2, 0.05, 0.1, 0.35], &[-1.0, 2.0, 3.0, -0.5, 0.1]],
        ),
        Op::ReluNeuron => c(
            |v| Var::neuron(&v[0..2], &v[2..4], v[4], Activation::Relu),
            |d| {
                let z = d[0] * d[2] + d[1] * d[3] + d[4];
                pick(z.re > 0.0, z, z * 0.0)
            },
            &[&[0.15, 0.2, 0.05, 0.1, 0.35], &[-1.0, 2.0, 3.0, -0.5, 0.1]],
        ),
        Op::WeightedSumConst => c(
            |v| Var::weighted_sum_const(&v[0..2], &[0.05, 0.1], v[2]),
            |d| d[0] * 0.05 + d[1] * 0.1 + d[2],
            &[&[0.15, 0.2, 0.35]],
        ),
        Op::SigmoidNeuronConst => c(
            |v| Var::neuron_const(&v[0..2], &[0.05, -3.0], v[2], Activation::Sigmoid),
            |d| sigmoid(d[0] * 0.05 + d[1] * -3.0 + d[2]),
            &[&[0.15, 0.2, 0.35], &[-1.0, 2.0, 3.0]],
        ),
        Op::TanhNeuronConst => c(
            |v| Var::neuron_const(&v[0..2], &[0.05, -3.0], v[2], Activation::Tanh),
            |d| (d[0] * 0.05 + d[1] * -3.0 + d[2]).tanh(),
            &[&[0.15, 0.2, 0.35], &[-1.0, 0.3, 0.1]],
        ),
        Op::ReluNeuronConst => c(
            |v| Var::neuron_const(&v[0..2], &[0.05, -3.0], v[2], Activation::Relu),
            |d| {
                let z = d[0] * 0.05 + d[1] * -3.0 + d[2];
                pick(z.re > 0.0, z, z * 0.0)
            },
            &[&[0.15, 0.2, 0.35], &[-1.0, -2.0, 3.0]],
        ),
        Op::HalfSquaredError => c(
            |v| Var::half_squared_error(v, &[0.01, 0.99]),
            |d| ((d[0] - 0.01).powi(2) + (d[1] - 0.99).powi(2)) * 0.5,
            &[&[0.75, 0.77]],
        ),
        Op::MeanSquaredError => c(
            |v| Var::mean_squared_error(v, &[0.01, 0.99]),
            |d| ((d[0] - 0.01).powi(2) + (d[1] - 0.99).powi(2)) * 0.5,
            &[&[0.75, 0.77]],
        ),
    }
}

/// Records `check` at `point`; returns the output's value and its gradient with
/// respect to each leaf.
fn tape_gradient(check: &Check, point: &[f64]) -> (f64, Vec<f64>) {
    let tape = Tape::new();
    let leaves = tape.vars(point);
    let y = (check.record)(&leaves);
    let g = y.backward();
    (y.value(), leaves.iter().map(|&x| g[x]).collect())
}

fn close(a: f64, b: f64, relative: f64) -> bool {
    a == b || (a - b).abs() <= relative * a.abs().max(b.abs()).max(1e-300)
}

/// Each op against duals: the tape's partial is the derivative's value computed
/// by a few roundings of < 1-ulp functions, the dual's likewise along another
/// route, so they agree to ~1e-15 relative where neither cancels. num-dual's
/// asin, acos and atanh take 1 − x², which cancels near ±1 (5e-12 relative at
/// 0.999999, where the tape's (1 − x)(1 + x) is exact): 1e-9 allows that and
/// still fails any wrong formula (off by a factor or a term). Precision is
/// `tests/precision.rs`'s job, against 256-bit references.
#[test]
fn every_op_matches_dual_numbers() {
    for &op in Op::ALL {
        let Coverage::Checked(check) = coverage(op) else {
            continue;
        };
        for point in check.points {
            let (_, grad) = tape_gradient(&check, point);
            for (i, &g) in grad.iter().enumerate() {
                let duals: Vec<D> = point
                    .iter()
                    .enumerate()
                    .map(|(k, &x)| D::new(x, if k == i { 1.0 } else { 0.0 }))
                    .collect();
                let want = (check.dual)(&duals).eps;
                assert!(
                    close(g, want, 1e-9),
                    "{op}: ∂/∂x{i} at {point:?}: tape {g:e}, dual {want:e}"
                );
            }
        }
    }
}

/// Each op against a central difference of its own recorded value: error
/// O(h²·f‴) + O(ε·f/h) with h = 1e-6·|x| (1e-10 within 1e-3 of ±1, so no step
/// of a unary op crosses a domain edge) is ~1e-9 relative where the
/// function is smooth at the point's scale; 1e-5 leaves room near domain edges
/// (asin at 0.999999) and still catches a wrong partial.
#[test]
fn every_op_matches_finite_differences() {
    for &op in Op::ALL {
        let Coverage::Checked(check) = coverage(op) else {
            continue;
        };
        for point in check.points {
            let (_, grad) = tape_gradient(&check, point);
            for (i, &g) in grad.iter().enumerate() {
                let x = point[i];
                // Near a domain edge, a step must not cross it.
                let scale = if x == 0.0 { 1.0 } else { x.abs() };
                let near_edge = point.len() == 1 && (x.abs() - 1.0).abs() < 1e-3;
                let h = 1e-6 * scale * if near_edge { 1e-4 } else { 1.0 };
                let at = |dx: f64| {
                    let mut p = point.to_vec();
                    p[i] = x + dx;
                    tape_gradient(&check, &p).0
                };
                let fd = (at(h) - at(-h)) / (2.0 * h);
                assert!(
                    close(g, fd, 1e-5) || (g - fd).abs() < 1e-9,
                    "{op}: ∂/∂x{i} at {point:?}: tape {g:e}, central difference {fd:e}"
                );
            }
        }
    }
}

/// Every op has a check, and the ops covered elsewhere say where.
#[test]
fn every_op_is_covered() {
    for &op in Op::ALL {
        match coverage(op) {
            Coverage::Checked(check) => assert!(!check.points.is_empty(), "{op}: no points"),
            Coverage::Elsewhere(test) => assert!(test.contains("tests/"), "{op}: {test}"),
        }
    }
}

/// The table's `fast` forms (σ, tanh, sin, cos: value and partial from one
/// shared computation) against the table's `Scalar` rule evaluated on `f64`:
/// the recorded partial and the rule that higher-order derivatives record must
/// be the same function. 1e-13 relative: the rule's route (σ(x)·σ(−x),
/// 1/cosh²x) rounds differently from the fast one, by a few ulps, never more.
#[test]
fn fast_forms_equal_the_scalar_rules() {
    for rule in crate::ops::UNARY {
        for k in -400..=400 {
            let x = k as f64 * 0.0625;
            let (value, partial) = (rule.value_and_partial)(x);
            if !value.is_finite() {
                continue;
            }
            assert_eq!(
                value.to_bits(),
                (rule.value)(x).to_bits(),
                "{}: value at {x}",
                rule.name
            );
            let paper = (rule.partial)(x);
            assert!(
                close(partial, paper, 1e-13) || (partial.is_nan() && paper.is_nan()),
                "{}: at {x}, recorded {partial:e}, rule {paper:e}",
                rule.name
            );
        }
    }
}

/// `unary_partial` records the derivative of each unary op on `Var`s: its value
/// there equals the `f64` rule's (the route to second derivatives).
#[test]
fn the_rule_recorded_on_vars_has_the_f64_rules_value() {
    for rule in crate::ops::UNARY {
        for &x in &[-0.7, 0.3, 0.9] {
            let tape = Tape::new();
            let xv = tape.var(x);
            let y = (rule.record)(xv);
            let Some(d) = crate::ops::unary_partial(rule.op, xv, y) else {
                panic!("{}: no rule", rule.name)
            };
            let want = crate::ops::unary_partial(rule.op, x, (rule.value)(x)).unwrap();
            assert!(
                d.value() == want || (d.value().is_nan() && want.is_nan()),
                "{} at {x}: {} vs {want}",
                rule.name,
                d.value()
            );
        }
    }
}
