//! An independent oracle: forward-mode differentiation of a [`Program`], sharing
//! no code with the tape, and the checks every property test and fuzz input runs.
//!
//! The oracle evaluates each node's value with plain `f64` arithmetic (the value
//! each op documents, so it equals the tape's bit for bit) and its local partials by
//! its own rules: dual numbers (`num_dual::Dual64`) seeded with 1 for the
//! transcendental functions and their compositions (sigmoid, softplus and tanh
//! through e^x, ln(1 + x) and quotients of duals), the textbook formula
//! elsewhere. It then pushes tangents forward, one pass per leaf:
//! `tangent[node] = Σ partial · tangent[operand]`.
//!
//! The non-finite policy, in forward mode:
//! - a node that does not depend on the seeded leaf has no tangent (`None`), not a
//!   tangent 0, so `0 · ∞` can never arise from a branch off the path;
//! - on a path the products are IEEE, so an indeterminate derivative is NaN;
//! - relu, a relu neuron, max and min *select*: the operand not selected passes
//!   exactly 0 to the node, whatever the node's adjoint. In reverse mode that 0 is
//!   the operand's adjoint, and the operand's own partials then multiply it under
//!   IEEE (as PyTorch: 0 · NaN is NaN). In forward mode the same path products are
//!   taken in the other order: an unselected operand adds nothing to the node's
//!   tangent when its tangent is finite (0 · t = 0, and the node's own adjoint,
//!   even ∞, never meets it), and NaN when its tangent is not (0 · ∞ or 0 · NaN
//!   in the reverse order);
//! - at a kink the partial is the documented convention (relu'(0) = 0 by not
//!   selecting, abs'(0) = 0, leaky_relu'(0) = alpha, a tie of max/min splits ½ each (as torch.maximum), NaN propagates; formerly went to the
//!   first operand), and a NaN operand gives a NaN partial (relu, abs, leaky_relu);
//! - against a constant, max, min and clamp select too: the Var gets 1 when it is
//!   selected, ½ on a tie with a bound, and is masked (passes exactly 0) when
//!   the constant is selected (always for clamp with lo = hi, the constant);
//! - logsumexp's edges are the documented limits: every input −inf gives partials
//!   0, k inputs +inf give 1/k to each of them and 0 to the rest, a NaN gives NaN
//!   partials (ordinary partials, not a selection);
//! - atan2 and hypot have NaN partials at the origin (0/0), the textbook formula
//!   evaluated as PyTorch does; at an infinite operand against a finite one
//!   their partials are the limits the crate documents (±0 for atan2, ±1 and ±0
//!   for hypot), where PyTorch gives NaN (∞/∞);
//! - signum's derivative is 0: it masks its operand as a select op does (NaN at
//!   NaN), as PyTorch's sign, whose gradient is zeros;
//!
//! The partials of the ops added with the table of unary ops are dual numbers
//! where num-dual's rule is accurate over the whole domain (tan, atan, sinh,
//! cosh, log1p, expm1, exp2, log2, log10, log(base), cbrt, logsigmoid through
//! softplus), and the textbook formula written out where num-dual's loses digits
//! (asin, acos, acosh, atanh near ±1: num-dual takes 1 − x², which cancels; here
//! (1 − x)(1 + x)) or has no rule (erf: (2/√π)·e^−x², signum: 0). Values are the
//! `f64` standard library's (and `libm::erf`, which the crate documents using;
//! `libm`'s acosh near 1 and acosh, asinh past 2^1022, atanh below −½ as
//! −artanh(−x), silu(−∞) = −0 and x·e^x below −708, all as the crate
//! documents), so they equal
//! the tape's bit for bit. Nothing here calls the crate's ops.

#![allow(dead_code)]

use chainrule::graph::textbook_backward;
use chainrule::{Activation, Tape};
use num_dual::{Dual64, DualNum};

use super::program::{record, Binary, Instr, Program, Unary, WithConst};

/// A node of the oracle: its value and its local partials (operand, ∂node/∂operand).
/// An operand a select op did not select has no entry there but one in `masked`.
#[derive(Clone, Debug)]
pub struct Node {
    pub value: f64,
    pub partials: Vec<(usize, f64)>,
    /// The operands a select op did not select.
    pub masked: Vec<usize>,
    /// Every operand, selected or not (for reachability).
    pub operands: Vec<usize>,
}

/// f′(x) by a dual number seeded with 1.
fn d(x: f64, f: impl Fn(Dual64) -> Dual64) -> f64 {
    f(Dual64::new(x, 1.0)).eps
}

fn sigmoid_value(x: f64) -> f64 {
    // The documented value: 1/(1 + e^−x) for x ≥ 0, e^x/(1 + e^x) below.
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

fn sigmoid_partial(x: f64) -> f64 {
    if x >= 0.0 {
        d(x, |x| (Dual64::from_re(1.0) + (-x).exp()).recip())
    } else {
        d(x, |x| {
            let e = x.exp();
            e / (e + 1.0)
        })
    }
}

fn tanh_partial(x: f64) -> f64 {
    // tanh x = ±(1 − e)/(1 + e) with e = e^−2|x| (no overflow), differentiated as
    // a quotient of duals.
    let f = |x: Dual64| {
        let e = (x * -2.0).exp();
        (-e + 1.0) / (e + 1.0)
    };
    if x >= 0.0 {
        d(x, f)
    } else {
        d(-x, f)
    }
}

fn softplus_partial(x: f64) -> f64 {
    if x > 0.0 {
        d(x, |x| x + (-x).exp().ln_1p())
    } else {
        d(x, |x| x.exp().ln_1p())
    }
}

fn softplus_value(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// 1/√((1 − x)(1 + x)), the derivative of arcsin (exact factors near ±1).
fn asin_partial(x: f64) -> f64 {
    1.0 / ((1.0 - x).sqrt() * (1.0 + x).sqrt())
}

/// ∂hypot(x, y)/∂x and ∂/∂y, x/h and y/h, with one operand infinite against a
/// finite one their limits ±1 (the infinite one) and ±0, as the crate
/// documents (x/h would be ∞/∞); both infinite or a NaN: x/h and y/h, NaN.
fn hypot_partials(x: f64, y: f64) -> (f64, f64) {
    let h = x.hypot(y);
    match (
        x.is_infinite() && y.is_finite(),
        y.is_infinite() && x.is_finite(),
    ) {
        (true, _) => (x.signum(), 0.0f64.copysign(y)),
        (_, true) => (0.0f64.copysign(x), y.signum()),
        _ => (x / h, y / h),
    }
}

/// arcosh x, the value the crate documents: f64's ln(x + √(x² − 1)) but near 1
/// (below 1.125) and past 2^1022 (f64's overflows from 8.99e307),
/// ln(1 + t + √(t(t + 2))) with t = x − 1 exact, and ln x + ln 2; NaN below 1. As `libm` computes it there
/// (the crate's source), so the two agree bit for bit.
fn acosh_value(x: f64) -> f64 {
    if x < 1.0 {
        return f64::NAN;
    }
    if x < 1.125 || x > 2f64.powi(1022) {
        return libm::acosh(x);
    }
    x.acosh()
}

/// 1/√(x² + 1), the derivative of arsinh, scaled by |x| past 1 so that x² does not
/// overflow.
fn asinh_partial(x: f64) -> f64 {
    if x.abs() > 1.0 {
        let r = 1.0 / x.abs();
        r / (1.0 + r * r).sqrt()
    } else {
        1.0 / (x * x + 1.0).sqrt()
    }
}

/// ∂atan2(y, x)/∂y = x/(x² + y²) and ∂/∂x = −y/(x² + y²), with both operands
/// scaled by max(|x|, |y|) so that nothing overflows for large finite operands
/// (and a numerator whose scaled value would be subnormal scaled up first);
/// at an infinite operand (neither NaN) their limits, ±0 (both are at most
/// 1/max(|x|, |y|) in magnitude), as the crate documents; NaN at the origin
/// (0/0) and with a NaN operand.
fn atan2_partials(y: f64, x: f64) -> (f64, f64) {
    if x.is_infinite() || y.is_infinite() {
        if x.is_nan() || y.is_nan() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0f64.copysign(x), 0.0f64.copysign(-y));
    }
    let s = x.abs().max(y.abs());
    let r2 = (x / s) * (x / s) + (y / s) * (y / s);
    // n/(x² + y²) as ((n/s)/r2)/s, with n first scaled by 2^600 (and the
    // result back by 2^−600) where n/s would be a subnormal, keeping fewer bits.
    let over = |n: f64| {
        let q = n / s;
        if q != 0.0 && q.abs() < f64::MIN_POSITIVE {
            n * 2f64.powi(600) / s / r2 / s * 2f64.powi(-600)
        } else {
            q / r2 / s
        }
    };
    (over(x), -over(y))
}

/// max/min of a Var `x` and a constant `c`: the value and the Var's partial,
/// `None` where the constant is selected (the Var is masked).
fn select_const(x: f64, c: f64, max: bool) -> (f64, Option<f64>) {
    let (x_wins, c_wins) = if max { (x > c, x < c) } else { (x < c, x > c) };
    if x.is_nan() {
        (f64::NAN, Some(f64::NAN))
    } else if x_wins {
        (x, Some(1.0))
    } else if c_wins {
        (c, None)
    } else {
        (x, Some(0.5))
    }
}

/// ln Σ e^xᵢ as the crate documents its value (m + ln_1p(r), m the largest
/// input, r the sum in order of e^(xᵢ − m) over the others, each with the
/// subtraction's rounding error restored), and its partials: each by a dual number seeded at xᵢ
/// (m held fixed: it cancels), or the documented limits at the edges.
fn logsumexp(xs: &[f64]) -> (f64, Vec<f64>) {
    if xs.iter().any(|x| x.is_nan()) {
        return (f64::NAN, vec![f64::NAN; xs.len()]);
    }
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    // Where the softmax's limit depends on the way to the point, NaN (0/0):
    // every input −inf, or two or more +inf (their shares).
    if m == f64::NEG_INFINITY {
        // (One input: ln e^x is x, whose derivative is 1.)
        let p = if xs.len() == 1 { 1.0 } else { f64::NAN };
        return (m, vec![p; xs.len()]);
    }
    if m == f64::INFINITY {
        let k = xs.iter().filter(|&&x| x == f64::INFINITY).count();
        let p = xs
            .iter()
            .map(|&x| match (x == f64::INFINITY, k == 1) {
                (true, true) => 1.0,
                (true, false) => f64::NAN,
                (false, _) => 0.0,
            })
            .collect();
        return (m, p);
    }
    // e^(xᵢ − m) with xᵢ − m's rounding error put back (TwoSum: e^(s + err) ≈
    // e^s·(1 + err)), as the crate documents its sum.
    let exp_of_difference = |x: f64| {
        let s = x - m;
        let back = s - x;
        let err = (x - (s - back)) + (-m - back);
        let e = s.exp();
        if err == 0.0 || !err.is_finite() {
            e
        } else {
            e + e * err
        }
    };
    let top = xs.iter().position(|&x| x == m).expect("a largest input");
    let rest: f64 = xs
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != top)
        .map(|(_, &x)| exp_of_difference(x))
        .sum();
    let partials = (0..xs.len())
        .map(|i| {
            let mut total = Dual64::from_re(0.0);
            for (j, &x) in xs.iter().enumerate() {
                let x = if i == j {
                    Dual64::new(x, 1.0)
                } else {
                    Dual64::from_re(x)
                };
                total += (x - m).exp();
            }
            (total.ln() + m).eps
        })
        .collect();
    (m + rest.ln_1p(), partials)
}

/// A neuron's activation: value and derivative at z, `None` for a relu that does
/// not select z (z ≤ 0).
fn activate(act: Activation, z: f64) -> (f64, Option<f64>) {
    match act {
        Activation::Identity => (z, Some(1.0)),
        Activation::Sigmoid => (sigmoid_value(z), Some(sigmoid_partial(z))),
        Activation::Tanh => (z.tanh(), Some(tanh_partial(z))),
        Activation::Relu => relu(z),
        _ => unreachable!("an activation the oracle does not know"),
    }
}

fn relu(z: f64) -> (f64, Option<f64>) {
    if z > 0.0 {
        (z, Some(1.0))
    } else if z.is_nan() {
        (z, Some(f64::NAN))
    } else {
        (0.0, None)
    }
}

/// The neuron `act(((w₀x₀ + w₁x₁) + …) + b)`: weights and inputs as (node, value),
/// an input node `None` for a constant.
fn neuron(
    w: &[(usize, f64)],
    x: &[(Option<usize>, f64)],
    b: (usize, f64),
    act: Activation,
) -> Node {
    let mut z: Option<f64> = None;
    for (&(_, wv), &(_, xv)) in w.iter().zip(x) {
        z = Some(match z {
            None => wv * xv,
            Some(s) => s + wv * xv,
        });
    }
    let z = match z {
        Some(s) => s + b.1,
        None => b.1,
    };
    let (value, da) = activate(act, z);
    let mut operands = Vec::new();
    let mut partials = Vec::new();
    for (&(wi, wv), &(xi, xv)) in w.iter().zip(x) {
        operands.push(wi);
        // ∂z/∂w = x, ∂z/∂x = w; the activation's derivative applies after.
        if let Some(da) = da {
            partials.push((wi, da * xv));
        }
        if let Some(xi) = xi {
            operands.push(xi);
            if let Some(da) = da {
                partials.push((xi, da * wv));
            }
        }
    }
    operands.push(b.0);
    if let Some(da) = da {
        partials.push((b.0, da));
    }
    Node {
        masked: Vec::new(),
        value,
        partials,
        operands,
    }
}

/// Evaluates the program: every node's value and local partials.
pub fn evaluate(program: &Program) -> Vec<Node> {
    let mut nodes: Vec<Node> = Vec::with_capacity(program.len());
    for instr in &program.instrs {
        let val = |i: usize, nodes: &[Node]| nodes[i].value;
        match instr {
            Instr::Leaves(values) => {
                for &value in values {
                    nodes.push(Node {
                        masked: Vec::new(),
                        value,
                        partials: vec![],
                        operands: vec![],
                    });
                }
            }
            Instr::Unary(Unary::Constant(c), _) => nodes.push(Node {
                masked: Vec::new(),
                value: *c,
                partials: vec![],
                operands: vec![],
            }),
            Instr::Unary(op, a) => {
                let (a, x) = (*a, val(*a, &nodes));
                let (value, partial): (f64, Option<f64>) = match *op {
                    Unary::Sigmoid => (sigmoid_value(x), Some(sigmoid_partial(x))),
                    Unary::Tanh => (x.tanh(), Some(tanh_partial(x))),
                    Unary::Relu => relu(x),
                    Unary::LeakyRelu(alpha) => {
                        let p = if x > 0.0 {
                            1.0
                        } else if x.is_nan() {
                            f64::NAN
                        } else {
                            alpha
                        };
                        (if x > 0.0 { x } else { alpha * x }, Some(p))
                    }
                    Unary::Softplus => (
                        x.max(0.0) + (-x.abs()).exp().ln_1p(),
                        Some(softplus_partial(x)),
                    ),
                    Unary::Exp => (x.exp(), Some(d(x, |x| x.exp()))),
                    Unary::Ln => (x.ln(), Some(d(x, |x| x.ln()))),
                    // 1/(2√x): num-dual's √ rule gives NaN at 0 and ∞ (√x · 1/x).
                    Unary::Sqrt => (x.sqrt(), Some(1.0 / (2.0 * x.sqrt()))),
                    Unary::Powi(n) => (x.powi(n), Some(powi_partial(x, n))),
                    Unary::Powf(c) => (
                        x.powf(c),
                        // x^0 = 1: the documented partial 0.
                        Some(if c == 0.0 {
                            0.0
                        } else {
                            c * power_minus_one(x, c)
                        }),
                    ),
                    Unary::Abs => {
                        let p = if x > 0.0 {
                            1.0
                        } else if x < 0.0 {
                            -1.0
                        } else if x == 0.0 {
                            0.0
                        } else {
                            f64::NAN
                        };
                        (x.abs(), Some(p))
                    }
                    Unary::Sin => (x.sin(), Some(d(x, |x| x.sin()))),
                    Unary::Cos => (x.cos(), Some(d(x, |x| x.cos()))),
                    Unary::Recip => (1.0 / x, Some(d(x, |x| x.recip()))),
                    Unary::Square => (x * x, Some(d(x, |x| x * x))),
                    Unary::Neg => (-x, Some(-1.0)),
                    Unary::Tan => (x.tan(), Some(d(x, |x| x.tan()))),
                    Unary::Asin => (x.asin(), Some(asin_partial(x))),
                    Unary::Acos => (x.acos(), Some(-asin_partial(x))),
                    Unary::Atan => (x.atan(), Some(d(x, |x| x.atan()))),
                    Unary::Sinh => (x.sinh(), Some(d(x, |x| x.sinh()))),
                    Unary::Cosh => (x.cosh(), Some(d(x, |x| x.cosh()))),
                    // arsinh, from libm past 2^1022 (f64's overflows from 8.99e307).
                    Unary::Asinh => (
                        if x.abs() > 2f64.powi(1022) {
                            libm::asinh(x)
                        } else {
                            x.asinh()
                        },
                        Some(asinh_partial(x)),
                    ),
                    // 1/√(x² − 1) = 1/(√(x − 1)·√(x + 1)): exact factors near 1.
                    Unary::Acosh => (
                        acosh_value(x),
                        Some(1.0 / ((x - 1.0).sqrt() * (x + 1.0).sqrt())),
                    ),
                    // 1/(1 − x²) = 1/((1 − x)(1 + x)).
                    // 1/(1 − x²), documented NaN outside [−1, 1] (where the value is).
                    // artanh is odd: −artanh(−x) below −½ (f64's own loses
                    // digits for x near −1), as the crate documents.
                    Unary::Atanh => (
                        if x < -0.5 { -(-x).atanh() } else { x.atanh() },
                        Some(if x.abs() > 1.0 {
                            f64::NAN
                        } else {
                            1.0 / ((1.0 - x) * (1.0 + x))
                        }),
                    ),
                    Unary::Log1p | Unary::Ln1p => (x.ln_1p(), Some(d(x, |x| x.ln_1p()))),
                    Unary::Expm1 | Unary::ExpM1 => (x.exp_m1(), Some(d(x, |x| x.exp_m1()))),
                    Unary::Exp2 => (x.exp2(), Some(d(x, |x| x.exp2()))),
                    Unary::Log2 => (x.log2(), Some(d(x, |x| x.log2()))),
                    Unary::Log10 => (x.log10(), Some(d(x, |x| x.log10()))),
                    // 1/(3∛x²): num-dual's ∛x·(1/x)/3 is 0·∞ = NaN at 0, where the
                    // documented derivative is +∞.
                    Unary::Cbrt => (x.cbrt(), Some(1.0 / (3.0 * x.cbrt() * x.cbrt()))),
                    // ln σ(x) = −softplus(−x): derivative softplus′(−x).
                    Unary::Logsigmoid => (-softplus_value(-x), Some(softplus_partial(-x))),
                    // signum′ = 0: a select op, its operand masked (passes
                    // exactly 0), as PyTorch's sign; NaN at NaN.
                    Unary::Signum => (x.signum(), if x.is_nan() { Some(f64::NAN) } else { None }),
                    Unary::Silu => (
                        // −0 at −∞, the limit (−∞·0 would be NaN); below −708,
                        // where σ(x) is subnormal, x·e^x as (x·e^(x/2))·e^(x/2),
                        // as the crate documents.
                        if x == f64::NEG_INFINITY {
                            -0.0
                        } else if x < -708.0 {
                            x * (x / 2.0).exp() * (x / 2.0).exp()
                        } else {
                            x * sigmoid_value(x)
                        },
                        // σ(x)(1 + x·σ(−x)): the dual of x/(1 + e^−x) is ∞·0 = NaN
                        // past x ≈ −709, where the derivative is 0; at ±∞ the
                        // limits 1 and 0.
                        Some(if x.is_infinite() {
                            if x > 0.0 {
                                1.0
                            } else {
                                0.0
                            }
                        } else {
                            sigmoid_value(x) * (1.0 + x * sigmoid_value(-x))
                        }),
                    ),
                    Unary::Erf => (
                        libm::erf(x),
                        Some(std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp()),
                    ),
                    Unary::Log(base) => (x.log(base), Some(d(x, |x| x.log(base)))),
                    Unary::Clamp(lo, hi) => {
                        let partial = if x.is_nan() {
                            Some(f64::NAN)
                        } else if x < lo || x > hi || lo == hi {
                            // Outside, or the constant lo = hi: the bound is
                            // selected.
                            None
                        } else if x == lo || x == hi {
                            Some(0.5)
                        } else {
                            Some(1.0)
                        };
                        (x.clamp(lo, hi), partial)
                    }
                    Unary::MaxC(c) => select_const(x, c, true),
                    Unary::MinC(c) => select_const(x, c, false),
                    Unary::Atan2C(c) => (x.atan2(c), Some(atan2_partials(x, c).0)),
                    Unary::CAtan2(c) => (c.atan2(x), Some(atan2_partials(c, x).1)),
                    Unary::HypotC(c) => (x.hypot(c), Some(hypot_partials(x, c).0)),
                    Unary::Constant(_) => unreachable!("matched above"),
                };
                nodes.push(Node {
                    masked: Vec::new(),
                    value,
                    partials: partial.map(|p| (a, p)).into_iter().collect(),
                    operands: vec![a],
                });
            }
            Instr::Binary(op, a, b) => {
                let (a, b) = (*a, *b);
                let (x, y) = (val(a, &nodes), val(b, &nodes));
                let (value, partials) = match op {
                    Binary::Add => (x + y, vec![(a, 1.0), (b, 1.0)]),
                    Binary::Sub => (x - y, vec![(a, 1.0), (b, -1.0)]),
                    Binary::Mul => (x * y, vec![(a, y), (b, x)]),
                    Binary::Div => (x / y, vec![(a, 1.0 / y), (b, -(x / y) / y)]),
                    Binary::Pow => {
                        let value = x.powf(y);
                        // The documented conventions: ∂/∂x = 0 where y = 0 (x^0 = 1),
                        // ∂/∂y = 0 where x = 0 and y ≥ 0.
                        let dx = if y == 0.0 {
                            0.0
                        } else {
                            y * power_minus_one(x, y)
                        };
                        let dy = if x == 0.0 && y >= 0.0 {
                            0.0
                        } else {
                            value * x.ln()
                        };
                        (value, vec![(a, dx), (b, dy)])
                    }
                    Binary::Max | Binary::Min => {
                        // 1 for the selected operand, ½ each on a tie (as
                        // torch.maximum), NaN value and partials if either is NaN.
                        let (first, second) = if *op == Binary::Max {
                            (x > y, x < y)
                        } else {
                            (x < y, x > y)
                        };
                        if x.is_nan() || y.is_nan() {
                            (f64::NAN, vec![(a, f64::NAN), (b, f64::NAN)])
                        } else if first {
                            (x, vec![(a, 1.0)])
                        } else if second {
                            (y, vec![(b, 1.0)])
                        } else {
                            (x, vec![(a, 0.5), (b, 0.5)])
                        }
                    }
                    Binary::Atan2 => {
                        let (dy, dx) = atan2_partials(x, y);
                        (x.atan2(y), vec![(a, dy), (b, dx)])
                    }
                    Binary::Hypot => {
                        let (dx, dy) = hypot_partials(x, y);
                        (x.hypot(y), vec![(a, dx), (b, dy)])
                    }
                };
                nodes.push(Node {
                    masked: Vec::new(),
                    value,
                    partials,
                    operands: vec![a, b],
                });
            }
            Instr::Const(op, a, c) => {
                let (a, x, c) = (*a, val(*a, &nodes), *c);
                let (value, p) = match op {
                    WithConst::AddC => (x + c, 1.0),
                    WithConst::CAdd => (c + x, 1.0),
                    WithConst::SubC => (x - c, 1.0),
                    WithConst::CSub => (c - x, -1.0),
                    WithConst::MulC => (x * c, c),
                    WithConst::CMul => (c * x, c),
                    WithConst::DivC => (x / c, 1.0 / c),
                    WithConst::CDiv => (c / x, -(c / x) / x),
                };
                nodes.push(Node {
                    masked: Vec::new(),
                    value,
                    partials: vec![(a, p)],
                    operands: vec![a],
                });
            }
            Instr::Sum(list) => {
                let mut value = val(list[0], &nodes);
                for &i in &list[1..] {
                    value += val(i, &nodes);
                }
                nodes.push(Node {
                    masked: Vec::new(),
                    value,
                    partials: list.iter().map(|&i| (i, 1.0)).collect(),
                    operands: list.clone(),
                });
            }
            Instr::MulAdd(x, a, b) => {
                let (xv, av, bv) = (val(*x, &nodes), val(*a, &nodes), val(*b, &nodes));
                nodes.push(Node {
                    masked: Vec::new(),
                    value: xv.mul_add(av, bv),
                    partials: vec![(*x, av), (*a, xv), (*b, 1.0)],
                    operands: vec![*x, *a, *b],
                });
            }
            Instr::LogSumExp(list) => {
                let xs: Vec<f64> = list.iter().map(|&i| val(i, &nodes)).collect();
                let (value, partials) = logsumexp(&xs);
                nodes.push(Node {
                    masked: Vec::new(),
                    value,
                    partials: list.iter().copied().zip(partials).collect(),
                    operands: list.clone(),
                });
            }
            Instr::WeightedSum(w, x, b) => {
                let node = neuron(
                    &w.iter().map(|&i| (i, val(i, &nodes))).collect::<Vec<_>>(),
                    &x.iter()
                        .map(|&i| (Some(i), val(i, &nodes)))
                        .collect::<Vec<_>>(),
                    (*b, val(*b, &nodes)),
                    Activation::Identity,
                );
                nodes.push(node);
            }
            Instr::Neuron(w, x, b, act) => {
                let node = neuron(
                    &w.iter().map(|&i| (i, val(i, &nodes))).collect::<Vec<_>>(),
                    &x.iter()
                        .map(|&i| (Some(i), val(i, &nodes)))
                        .collect::<Vec<_>>(),
                    (*b, val(*b, &nodes)),
                    *act,
                );
                nodes.push(node);
            }
            Instr::NeuronConst(w, x, b, act) => {
                let node = neuron(
                    &w.iter().map(|&i| (i, val(i, &nodes))).collect::<Vec<_>>(),
                    &x.iter().map(|&c| (None, c)).collect::<Vec<_>>(),
                    (*b, val(*b, &nodes)),
                    *act,
                );
                nodes.push(node);
            }
            Instr::WeightedSumConst(w, x, b) => {
                let node = neuron(
                    &w.iter().map(|&i| (i, val(i, &nodes))).collect::<Vec<_>>(),
                    &x.iter().map(|&c| (None, c)).collect::<Vec<_>>(),
                    (*b, val(*b, &nodes)),
                    Activation::Identity,
                );
                nodes.push(node);
            }
            Instr::Layer(params, inputs, act, outputs) => {
                let n = inputs.len();
                let x: Vec<(Option<usize>, f64)> =
                    inputs.iter().map(|&i| (Some(i), val(i, &nodes))).collect();
                let mut out = Vec::with_capacity(*outputs);
                for k in 0..*outputs {
                    let p = &params[k * (n + 1)..(k + 1) * (n + 1)];
                    let w: Vec<(usize, f64)> =
                        p[..n].iter().map(|&i| (i, val(i, &nodes))).collect();
                    out.push(neuron(&w, &x, (p[n], val(p[n], &nodes)), *act));
                }
                nodes.extend(out);
            }
            Instr::HalfSquaredError(outputs, targets) => {
                let mut value: Option<f64> = None;
                let mut partials = Vec::new();
                for (&i, &t) in outputs.iter().zip(targets) {
                    let o = val(i, &nodes);
                    let half = (o - t) * (o - t) * 0.5;
                    value = Some(value.map_or(half, |s| s + half));
                    // d/do ½(o − t)², as a dual: ((o − t)·1 + 1·(o − t))·½.
                    partials.push((i, d(o, |o| (o - t) * (o - t) * 0.5)));
                }
                nodes.push(Node {
                    masked: Vec::new(),
                    value: value.unwrap_or(0.0),
                    partials,
                    operands: outputs.clone(),
                });
            }
            Instr::MeanSquaredError(outputs, targets) => {
                let n = outputs.len() as f64;
                let mut value: Option<f64> = None;
                let mut partials = Vec::new();
                for (&i, &t) in outputs.iter().zip(targets) {
                    let o = val(i, &nodes);
                    let e = (o - t) * (o - t);
                    value = Some(value.map_or(e, |s| s + e));
                    partials.push((i, d(o, |o| (o - t) * (o - t) / n)));
                }
                nodes.push(Node {
                    masked: Vec::new(),
                    value: value.unwrap_or(0.0) / n,
                    partials,
                    operands: outputs.clone(),
                });
            }
        }
    }
    // The operands not selected: every operand occurrence without a partial.
    for node in &mut nodes {
        let mut left: Vec<usize> = node.partials.iter().map(|&(o, _)| o).collect();
        for &o in &node.operands {
            match left.iter().position(|&l| l == o) {
                Some(k) => {
                    left.swap_remove(k);
                }
                None => node.masked.push(o),
            }
        }
    }
    nodes
}

/// x^(c−1) as the textbook writes it, `x.powf(c − 1)`, but for x < 0 and an
/// integer c past 2^53, where c − 1 is odd and rounds to an even number: there
/// the odd power is negative; and NaN for a finite x < 0 and a finite c that is
/// no integer, where x^c is NaN (a tiny c has c − 1 round to the integer −1).
fn power_minus_one(x: f64, c: f64) -> f64 {
    let p = x.powf(c - 1.0);
    if x < 0.0 && x.is_finite() && c.is_finite() && c.fract() != 0.0 {
        f64::NAN
    } else if x < 0.0 && c.abs() > 2f64.powi(53) {
        -p
    } else {
        p
    }
}

/// n·x^(n−1), the tangent of x^n: by square-and-multiply on dual numbers (the
/// product rule at each step) over x for n > 0 and over 1/x for n < 0, so a power
/// that overflows or underflows stays an overflow or underflow of its derivative;
/// for |n| > 64, where square-and-multiply loses ~|n| ulps, as n·x^(n−1) by
/// `powf` (n − 1 is exact). 0 for n = 0.
fn powi_partial(x: f64, n: i32) -> f64 {
    if n == 0 {
        return 0.0;
    }
    if n.unsigned_abs() > 64 {
        return n as f64 * x.powf(n as f64 - 1.0);
    }
    let mut base = if n > 0 {
        Dual64::new(x, 1.0)
    } else {
        Dual64::new(x, 1.0).recip()
    };
    let mut k = n.unsigned_abs();
    let mut acc: Option<Dual64> = None;
    loop {
        if k & 1 == 1 {
            acc = Some(match acc {
                None => base,
                Some(a) => a * base,
            });
        }
        k >>= 1;
        if k == 0 {
            break;
        }
        base = base * base;
    }
    acc.expect("n ≠ 0 has a set bit").eps
}

/// The oracle's derivative of the last node with respect to one leaf.
#[derive(Clone, Copy, Debug)]
pub struct Tangent {
    /// d output / d leaf, by forward mode.
    pub value: f64,
    /// Σ over paths of |product of partials|: the scale of the rounding errors
    /// either mode makes (|value| when the paths do not cancel).
    pub scale: f64,
    /// Whether some path from the leaf, through a partial or an unselected
    /// operand, meets a partial that is not finite.
    pub poisoned: bool,
    /// The most bits by which the product of partials along part of a path can
    /// leave 1 (Σ |log₂ |partial|| over a path, the largest over paths). Past
    /// ~1000 bits a product may overflow or underflow in one order of
    /// multiplication and not in the other, so forward and reverse mode may then
    /// differ in finiteness or lose precision in subnormals.
    pub span_bits: f64,
}

/// The derivative of the last node with respect to `leaf`, by forward mode.
/// `None`: the output does not depend on the leaf.
pub fn tangent(nodes: &[Node], leaf: usize) -> Option<Tangent> {
    let mut tangents: Vec<Option<Tangent>> = vec![None; nodes.len()];
    tangents[leaf] = Some(Tangent {
        value: 1.0,
        scale: 1.0,
        poisoned: false,
        span_bits: 0.0,
    });
    let bits = |p: f64| {
        if p.is_finite() && p != 0.0 {
            p.abs().log2().abs()
        } else {
            0.0
        }
    };
    for i in leaf + 1..nodes.len() {
        let mut t: Option<Tangent> = None;
        let empty = Tangent {
            value: 0.0,
            scale: 0.0,
            poisoned: false,
            span_bits: 0.0,
        };
        for &(operand, p) in &nodes[i].partials {
            if let Some(dx) = tangents[operand] {
                let acc = t.unwrap_or(empty);
                t = Some(Tangent {
                    value: acc.value + p * dx.value,
                    scale: acc.scale + p.abs() * dx.scale,
                    poisoned: acc.poisoned || dx.poisoned || !p.is_finite(),
                    span_bits: acc.span_bits.max(dx.span_bits + bits(p)),
                });
            }
        }
        // An unselected operand passes 0 to this node; in reverse mode the
        // operand's own partials then multiply that 0, so a non-finite partial
        // below it makes NaN (0 · ∞), and a finite one adds nothing.
        for &operand in &nodes[i].masked {
            if let Some(dx) = tangents[operand].filter(|dx| dx.poisoned) {
                let acc = t.unwrap_or(empty);
                t = Some(Tangent {
                    value: f64::NAN,
                    poisoned: true,
                    span_bits: acc.span_bits.max(dx.span_bits),
                    ..acc
                });
            }
        }
        tangents[i] = t;
    }
    tangents[nodes.len() - 1]
}

/// Past this many bits of [`Tangent::span_bits`], a case is out of the range
/// where forward and reverse mode must agree (2^±1022 is the normal range of f64;
/// a margin of 22 bits covers sums of many terms).
pub const SPAN_LIMIT_BITS: f64 = 1000.0;

/// The relative tolerance against the oracle: each op's partial is within a few
/// ulps on both sides and a path multiplies at most ~60 of them, so 1e-12 of the
/// path sum leaves a margin of ~30x over 60 · 4 ulps ≈ 5e-14.
pub const RELATIVE: f64 = 1e-12;

/// Equal bit for bit, any NaN equal to any NaN.
pub fn same_bits(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

thread_local! {
    /// Derivatives compared with the oracle on this thread.
    pub static COMPARED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// Derivatives not compared: out of range ([`SPAN_LIMIT_BITS`]).
    pub static OUT_OF_RANGE: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Records the program, sweeps it, and checks it against the oracle, the textbook
/// sweep and the non-finite policy. Returns a description of the first mismatch.
pub fn check(program: &Program) -> Result<(), String> {
    let tape = Tape::new();
    let vars = record(program, &tape);
    let y = *vars.last().expect("a program has a leaf");
    let g = y.backward();
    let fast = g.as_slice();
    let out = y.index();

    // The textbook sweep on the graph view: the same numbers, bit for bit.
    let textbook = textbook_backward(&tape.graph(), out);
    if fast.len() != out + 1 {
        return Err(format!(
            "sweep returned {} adjoints for output #{out}",
            fast.len()
        ));
    }
    for (i, (&a, &b)) in fast.iter().zip(&textbook).enumerate() {
        if !same_bits(a, b) {
            return Err(format!("node #{i}: fast sweep {a:e}, textbook sweep {b:e}"));
        }
    }

    let nodes = evaluate(program);
    for (i, (var, node)) in vars.iter().zip(&nodes).enumerate() {
        if !same_bits(var.value(), node.value) {
            return Err(format!(
                "node #{i} ({}): tape value {:e}, oracle value {:e}",
                tape.op(i),
                var.value(),
                node.value
            ));
        }
    }

    // Policy: a node on no path from the output gets exactly 0.
    let mut on_path = vec![false; nodes.len()];
    on_path[out] = true;
    for i in (0..=out).rev() {
        if on_path[i] {
            for &o in &nodes[i].operands {
                on_path[o] = true;
            }
        }
    }
    for (i, &reached) in on_path.iter().enumerate().take(out + 1) {
        if !reached && fast[i] != 0.0 {
            return Err(format!(
                "node #{i} is on no path from the output but has gradient {:e}",
                fast[i]
            ));
        }
    }

    for leaf in program.leaves() {
        let tape_g = fast[leaf];
        match tangent(&nodes, leaf) {
            None => {
                if tape_g != 0.0 {
                    return Err(format!(
                        "leaf #{leaf}: the output does not depend on it (selection or no \
                         path), but the tape gives {tape_g:e}"
                    ));
                }
            }
            Some(t) if t.span_bits > SPAN_LIMIT_BITS => {
                OUT_OF_RANGE.with(|c| c.set(c.get() + 1));
            }
            Some(t) => {
                if !agree(tape_g, t.value, t.scale) {
                    return Err(format!(
                        "leaf #{leaf}: tape {tape_g:e}, oracle {:e} (path sum {:e}, {:.0} bits)",
                        t.value, t.scale, t.span_bits
                    ));
                }
                COMPARED.with(|c| c.set(c.get() + 1));
            }
        }
    }
    Ok(())
}

/// Whether the tape's derivative agrees with the oracle's: both non-finite, or
/// both finite and within [`RELATIVE`] of the larger of them and the path sum
/// (which is |derivative| when the paths do not cancel), with an absolute floor
/// of a few subnormals for results that underflow.
pub fn agree(tape: f64, oracle: f64, scale: f64) -> bool {
    if !tape.is_finite() || !oracle.is_finite() {
        return !tape.is_finite() && !oracle.is_finite();
    }
    let scale = if scale.is_finite() { scale } else { 0.0 };
    let size = tape.abs().max(oracle.abs()).max(scale);
    (tape - oracle).abs() <= RELATIVE * size + 1e-300
}
