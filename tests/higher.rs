//! Derivatives of derivatives: `Tape::grad` (a recorded backward pass) and the
//! transforms `grad`, `value_and_grad`, `jacobian`, `hessian`,
//! `hessian_vector_product`, against independent references: num-dual's `Dual3`
//! (first, second and third derivatives by truncated Taylor arithmetic) and
//! `HyperDual` (mixed second partials), closed forms, and finite differences of
//! the tape's own gradient.

// Indices j, k are the Hessian's own: clearer than iterator chains here.
#![allow(clippy::needless_range_loop)]

use chainrule::{Activation, Tape, Var};
use num_dual::{Dual3_64, DualNum, HyperDual64};

/// The unary op `name` on any dual number, written from textbook formulas with
/// num-dual's own functions (no code shared with the tape).
fn unary_dual<D: DualNum<Primitive = f64> + Copy>(name: &str, x: D) -> D {
    let one = D::from(1.0);
    let sigmoid = |x: D| (one + (-x).exp()).recip();
    match name {
        "sigmoid" => sigmoid(x),
        "tanh" => x.tanh(),
        "relu" => {
            if x.re() > 0.0 {
                x
            } else {
                x * 0.0
            }
        }
        "softplus" => x.exp().ln_1p(),
        "logsigmoid" => sigmoid(x).ln(),
        "silu" => x * sigmoid(x),
        "exp" => x.exp(),
        "expm1" => x.exp_m1(),
        "exp2" => x.exp2(),
        "ln" => x.ln(),
        "log1p" => x.ln_1p(),
        "log2" => x.log2(),
        "log10" => x.log10(),
        "sqrt" => x.sqrt(),
        "cbrt" => x.cbrt(),
        "abs" => {
            if x.re() > 0.0 {
                x
            } else {
                -x
            }
        }
        "signum" => x * 0.0 + x.re().signum(),
        "sin" => x.sin(),
        "cos" => x.cos(),
        "tan" => x.tan(),
        "asin" => x.asin(),
        "acos" => x.acos(),
        "atan" => x.atan(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "asinh" => x.asinh(),
        "acosh" => x.acosh(),
        "atanh" => x.atanh(),
        "recip" => x.recip(),
        "square" => x * x,
        other => panic!("no dual reference for the unary op {other}: add one here"),
    }
}

/// Points inside each op's domain, near its edges too.
fn points(name: &str) -> &'static [f64] {
    match name {
        "ln" | "log2" | "log10" | "sqrt" => &[1e-3, 0.3, 1.0, 7.5, 1e4],
        "log1p" => &[-0.99, -0.3, 1e-6, 2.0, 1e3],
        "asin" | "acos" | "atanh" => &[-0.99, -0.5, 0.0, 0.3, 0.9, 0.99],
        "acosh" => &[1.001, 1.5, 3.0, 100.0],
        "tan" => &[-1.5, -0.4, 0.0, 0.9, 1.5],
        "cbrt" => &[-8.0, -0.1, 0.02, 3.0],
        _ => &[-3.7, -1.2, -0.3, 0.01, 0.4, 1.9, 5.5],
    }
}

/// The first three derivatives of `f` at `x` on the tape: two recorded sweeps
/// and a plain one.
fn tape_derivatives(x: f64, f: for<'t> fn(Var<'t>) -> Var<'t>) -> [f64; 3] {
    let tape = Tape::new();
    let xv = tape.var(x);
    let y = f(xv);
    let d1 = tape.grad(y, &[xv])[0];
    let d2 = tape.grad(d1, &[xv])[0];
    let d3 = d2.backward()[xv];
    [d1.value(), d2.value(), d3]
}

/// Agreement to 1e-9 relative (or 1e-12 absolute near 0): each side is a few
/// roundings of < 1-ulp functions, but along different routes, and num-dual's
/// inverse trigonometric duals cancel near ±1 (1 − x²): ~1e-11 at 0.99.
fn close(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs()) || (a - b).abs() < 1e-12
}

#[test]
fn first_second_and_third_derivatives_of_every_unary_op_match_dual3_numbers() {
    for rule in chainrule::ops::UNARY {
        if rule.name == "erf" {
            continue; // num-dual has no erf: tested against its closed form below
        }
        for &x in points(rule.name) {
            let got = tape_derivatives(x, rule.record);
            let d = unary_dual(rule.name, Dual3_64::new(x, 1.0, 0.0, 0.0));
            // Dual3 carries f′, f″/2 and f‴/6 (Taylor coefficients).
            let want = [d.v1, d.v2, d.v3];
            for order in 0..3 {
                assert!(
                    close(got[order], want[order]),
                    "{}: derivative {} at {x}: tape {:e}, Dual3 {:e}",
                    rule.name,
                    order + 1,
                    got[order],
                    want[order]
                );
            }
        }
    }
}

#[test]
fn erf_derivatives_match_their_closed_form() {
    for &x in &[-2.5, -0.7, 0.0, 0.3, 1.1, 3.0] {
        let got = tape_derivatives(x, |v| v.erf());
        let d1 = std::f64::consts::FRAC_2_SQRT_PI * (-x * x).exp();
        let want = [d1, -2.0 * x * d1, (4.0 * x * x - 2.0) * d1];
        for order in 0..3 {
            assert!(
                close(got[order], want[order]),
                "erf derivative {}",
                order + 1
            );
        }
    }
}

/// A function of two variables on the tape and on hyper-duals.
struct Binary {
    name: &'static str,
    tape: for<'t> fn(Var<'t>, Var<'t>) -> Var<'t>,
    dual: fn(HyperDual64, HyperDual64) -> HyperDual64,
    points: &'static [[f64; 2]],
}

const BINARY: &[Binary] = &[
    Binary {
        name: "mul",
        tape: |a, b| a * b,
        dual: |a, b| a * b,
        points: &[[1.5, -0.5], [0.0, 3.0]],
    },
    Binary {
        name: "div",
        tape: |a, b| a / b,
        dual: |a, b| a / b,
        points: &[[1.5, -0.5], [0.0, 3.0]],
    },
    Binary {
        name: "pow",
        tape: |a, b| a.pow(b),
        dual: |a, b| a.powd(b),
        points: &[[1.5, -0.5], [0.3, 2.5]],
    },
    Binary {
        name: "atan2",
        tape: |a, b| a.atan2(b),
        dual: |a, b| a.atan2(b),
        points: &[[1.5, -0.5], [-0.3, 2.0]],
    },
    Binary {
        name: "hypot",
        tape: |a, b| a.hypot(b),
        dual: |a, b| (a * a + b * b).sqrt(),
        points: &[[1.5, -0.5], [-0.3, 2.0]],
    },
    Binary {
        name: "mul_add",
        tape: |a, b| a.mul_add(b, a),
        dual: |a, b| a * b + a,
        points: &[[1.5, -0.5]],
    },
    Binary {
        name: "logsumexp",
        tape: |a, b| Var::logsumexp(&[a, b, a * 0.5]),
        dual: |a, b| (a.exp() + b.exp() + (a * 0.5).exp()).ln(),
        points: &[[1.5, -0.5], [30.0, 29.0]],
    },
    Binary {
        name: "powi, powf, log, constants",
        tape: |a, b| {
            a.powi(3) * b.powf(2.5) + a.log(3.0) - Var::const_atan2(2.0, b)
                + a.atan2(0.5)
                + b.hypot(2.0)
        },
        dual: |a, b| {
            a.powi(3) * b.powf(2.5) + a.log(3.0) - HyperDual64::from(2.0).atan2(b)
                + a.atan2(HyperDual64::from(0.5))
                + (b * b + 4.0).sqrt()
        },
        points: &[[1.5, 0.5], [0.7, 2.0]],
    },
    Binary {
        name: "sigmoid neuron",
        tape: |a, b| Var::neuron(&[a, b], &[b, a], a, Activation::Sigmoid),
        dual: |a, b| ((-(a * b + b * a + a)).exp() + 1.0).recip(),
        points: &[[0.3, -0.5], [1.5, 0.2]],
    },
    Binary {
        name: "tanh neuron over constant inputs",
        tape: |a, b| Var::neuron_const(&[a, b], &[0.5, -2.0], b, Activation::Tanh),
        dual: |a, b| (a * 0.5 + b * -2.0 + b).tanh(),
        points: &[[0.3, -0.5], [1.5, 0.2]],
    },
    Binary {
        name: "squared errors",
        tape: |a, b| {
            Var::half_squared_error(&[a, b], &[0.1, 0.9])
                + Var::mean_squared_error(&[a * b], &[0.3])
        },
        dual: |a, b| ((a - 0.1).powi(2) + (b - 0.9).powi(2)) * 0.5 + (a * b - 0.3).powi(2),
        points: &[[0.3, -0.5], [1.5, 0.2]],
    },
];

#[test]
fn hessians_of_binary_and_fused_ops_match_hyper_dual_numbers() {
    for op in BINARY {
        for point in op.points {
            let got = chainrule::hessian(|v| (op.tape)(v[0], v[1]), point);
            for j in 0..2 {
                for k in 0..2 {
                    let e = |i: usize, at: usize| if i == at { 1.0 } else { 0.0 };
                    let a = HyperDual64::new(point[0], e(0, j), e(0, k), 0.0);
                    let b = HyperDual64::new(point[1], e(1, j), e(1, k), 0.0);
                    let want = (op.dual)(a, b).eps1eps2;
                    assert!(
                        close(got[j][k], want),
                        "{}: H[{j}][{k}] at {point:?}: tape {:e}, HyperDual {want:e}",
                        op.name,
                        got[j][k]
                    );
                }
            }
        }
    }
}

fn rosenbrock<'t>(v: &[Var<'t>]) -> Var<'t> {
    let (x, y) = (v[0], v[1]);
    (-x + 1.0).powi(2) + (y - x * x).powi(2) * 100.0
}

#[test]
fn rosenbrocks_hessian_is_the_textbook_one() {
    // ∂²f/∂x² = 2 − 400(y − x²) + 800x², ∂²f/∂x∂y = −400x, ∂²f/∂y² = 200.
    assert_eq!(
        chainrule::hessian(rosenbrock, &[1.0, 1.0]),
        vec![vec![802.0, -400.0], vec![-400.0, 200.0]]
    );
    assert_eq!(
        chainrule::hessian(rosenbrock, &[-1.2, 1.0]),
        vec![vec![1330.0, 480.0], vec![480.0, 200.0]]
    );
}

#[test]
fn grad_value_and_grad_and_jacobian_agree_with_the_sweep() {
    let x = [-1.2, 1.0];
    let (value, g) = chainrule::value_and_grad(rosenbrock, &x);
    assert_eq!(value, 24.199999999999996); // (2.2)² + 100·(1 − 1.44)²
                                           // ∂f/∂x = −2(1 − x) − 400x(y − x²), ∂f/∂y = 200(y − x²)
    assert!((g[0] - (-2.0 * 2.2 - 400.0 * -1.2 * (1.0 - 1.44))).abs() < 1e-10);
    assert!((g[1] - 200.0 * (1.0 - 1.44)).abs() < 1e-10);
    assert_eq!(chainrule::grad(rosenbrock, &x), g);
    let j = chainrule::jacobian(|v| vec![rosenbrock(v), v[0] * v[1]], &x);
    assert_eq!(j[0], g);
    assert_eq!(j[1], vec![1.0, -1.2]);
}

#[test]
fn hessian_vector_products_equal_the_hessian_times_the_vector() {
    let x = [-1.2, 1.0];
    let h = chainrule::hessian(rosenbrock, &x);
    for v in [[1.0, 0.0], [0.0, 1.0], [0.3, -2.0]] {
        let hv = chainrule::hessian_vector_product(rosenbrock, &x, &v);
        for j in 0..2 {
            let want = h[j][0] * v[0] + h[j][1] * v[1];
            assert!(
                (hv[j] - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{hv:?}"
            );
        }
    }
}

/// The 2-2-2 sigmoid network of the step-by-step backpropagation example: its
/// error as a function of w5..w8 (the other weights and biases fixed).
fn seed_error<'t>(w: &[Var<'t>]) -> Var<'t> {
    let (i1, i2) = (0.05, 0.10);
    let out_h1 = (0.15 * i1 + 0.20 * i2 + 0.35_f64).max(f64::MIN); // net_h1, a constant here
    let out_h1 = 1.0 / (1.0 + (-out_h1).exp());
    let out_h2 = 1.0 / (1.0 + (-(0.25 * i1 + 0.30 * i2 + 0.35)).exp());
    let out_o1 = (w[0] * out_h1 + w[1] * out_h2 + 0.60).sigmoid();
    let out_o2 = (w[2] * out_h1 + w[3] * out_h2 + 0.60).sigmoid();
    (0.01 - out_o1).powi(2) * 0.5 + (0.99 - out_o2).powi(2) * 0.5
}

#[test]
fn the_seed_networks_hessian_in_w5_to_w8_matches_finite_differences_of_the_gradient() {
    let w = [0.40, 0.45, 0.50, 0.55];
    let h = chainrule::hessian(seed_error, &w);
    // Central differences of the tape's gradient: error O(step²·∂⁴E) ≈ 1e-12
    // plus rounding 1e-16/1e-5 ≈ 1e-11 on entries of order 0.1–0.01.
    let step = 1e-5;
    for k in 0..4 {
        let mut plus = w;
        let mut minus = w;
        plus[k] += step;
        minus[k] -= step;
        let (gp, gm) = (
            chainrule::grad(seed_error, &plus),
            chainrule::grad(seed_error, &minus),
        );
        for j in 0..4 {
            let fd = (gp[j] - gm[j]) / (2.0 * step);
            assert!(
                (h[j][k] - fd).abs() < 1e-9,
                "H[{j}][{k}] = {} vs {fd}",
                h[j][k]
            );
        }
    }
    // w5 and w6 feed out_o1 only, w7 and w8 out_o2 only: the cross blocks are 0.
    assert_eq!(h[0][2], 0.0);
    assert_eq!(h[1][3], 0.0);
}

#[test]
fn the_hessian_is_symmetric_on_random_dags() {
    // A small linear congruential generator: reproducible, no dependency.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    for _ in 0..200 {
        let x: Vec<f64> = (0..3).map(|_| next() * 2.0 - 1.0).collect();
        let ops: Vec<(usize, usize, usize)> = (0..12)
            .map(|i| {
                (
                    (next() * 9.0) as usize,
                    (next() * (3 + i) as f64) as usize,
                    (next() * (3 + i) as f64) as usize,
                )
            })
            .collect();
        let h = chainrule::hessian(|v| build(v, &ops), &x);
        for j in 0..3 {
            for k in 0..j {
                let (a, b) = (h[j][k], h[k][j]);
                assert!(
                    (a - b).abs() <= 1e-12 * a.abs().max(b.abs()).max(1.0),
                    "H not symmetric: {a} vs {b} for {ops:?} at {x:?}"
                );
            }
        }
    }
}

/// A random DAG over the leaves `v`: each op combines two earlier nodes (fan-out
/// and reuse included) with a smooth op.
fn build<'t>(v: &[Var<'t>], ops: &[(usize, usize, usize)]) -> Var<'t> {
    let mut nodes: Vec<Var<'t>> = v.to_vec();
    for &(kind, a, b) in ops {
        let (a, b) = (nodes[a], nodes[b]);
        nodes.push(match kind {
            0 => a + b,
            1 => a * b,
            2 => a - b.sin(),
            3 => (a * 0.5).tanh() * b,
            4 => a.sigmoid() + b.exp() * 0.1,
            5 => a / (b * b + 1.0),
            6 => a.atan2(b + 2.0),
            7 => a.hypot(b + 0.5),
            _ => Var::logsumexp(&[a, b, a * b]),
        });
    }
    // Every node feeds the output, so every leaf has a path.
    nodes.iter().copied().sum()
}

#[test]
fn the_non_finite_policy_holds_at_second_order() {
    // relu masks its operand for x ≤ 0, whatever lies above it (sqrt′(0) = ∞):
    // 0 at first order (the policy's rule 3), so 0 at second order too.
    assert_eq!(chainrule::grad(|v| v[0].relu().sqrt(), &[-1.0]), vec![0.0]);
    assert_eq!(
        chainrule::hessian(|v| v[0].relu().sqrt(), &[-1.0]),
        vec![vec![0.0]]
    );
    // (√x)² at 0: ∞ · 0 is NaN at first order (rule 2), and so at second.
    assert!(chainrule::grad(|v| v[0].sqrt().square(), &[0.0])[0].is_nan());
    assert!(chainrule::hessian(|v| v[0].sqrt().square(), &[0.0])[0][0].is_nan());
    // max selects: the operand not picked gets exactly 0 at every order.
    let h = chainrule::hessian(|v| v[0].max(v[1]).powi(3), &[2.0, 1.0]);
    assert_eq!(h, vec![vec![12.0, 0.0], vec![0.0, 0.0]]);
}

#[test]
fn the_recorded_gradient_can_be_explained() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let y = x.sigmoid().named("y");
    let dy = tape.grad(y, &[x])[0];
    assert_eq!(tape.label(dy.index()).as_deref(), Some("∂y/∂x"));
    let g = dy.backward();
    let s = y.value();
    // σ″ = σ′(1 − 2σ)
    let want = s * (1.0 - s) * (1.0 - 2.0 * s);
    assert!((g[x] - want).abs() < 1e-15);
    let text = g.explain(x).to_string();
    assert!(text.contains("∂y/∂x"), "{text}");
}

#[test]
fn the_recorded_gradient_can_be_drawn() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let y = (x * x).sin().named("y");
    let dy = tape.grad(y, &[x])[0]; // 2x·cos(x²)
    let g = dy.backward();
    let dot = chainrule::dot::Dot::new(&tape).gradients(&g).to_string();
    // The drawing holds the second derivative's graph: the node ∂y/∂x, the cos
    // the rule of sin recorded, and the gradient of ∂y/∂x at x.
    assert!(dot.contains("∂y/∂x"), "{dot}");
    assert!(dot.contains("cos"), "{dot}");
    let want = 2.0 * (0.25_f64).cos() - 4.0 * 0.25 * (0.25_f64).sin(); // 2cos(x²) − 4x²sin(x²)
    assert!((g[x] - want).abs() < 1e-15, "{} vs {want}", g[x]);
}

#[test]
fn second_derivatives_stay_finite_where_cosh_and_x_squared_overflow() {
    // tanh″ is 0 (underflowed) far out; its rule must not go through an infinite
    // cosh (0 · ∞ = NaN).
    for x in [-800.0, 800.0, 1e200] {
        assert_eq!(
            chainrule::hessian(|v| v[0].tanh(), &[x]),
            vec![vec![0.0]],
            "at {x}"
        );
    }
    // In the tail: tanh″ = −2·tanh·sech² = ∓8e^−2|x| to 1e-16 relative.
    for x in [-30.0_f64, 30.0] {
        let want = -2.0 * x.signum() * 4.0 * (-2.0 * x.abs()).exp();
        let got = chainrule::hessian(|v| v[0].tanh(), &[x])[0][0];
        assert!(
            (got - want).abs() <= 1e-15 * want.abs(),
            "at {x}: {got} vs {want}"
        );
    }
    let h = chainrule::hessian(
        |v| Var::neuron(&[v[0]], &[v[1]], v[1], Activation::Tanh),
        &[900.0, 1.0],
    );
    assert!(h.iter().flatten().all(|e| *e == 0.0), "{h:?}");
    // atan2's rule goes through hypot, as its first partial: x² + y² would
    // underflow to 0 at 1e-200 (∞) and overflow at 1e200 (0).
    for s in [1e-200, 1e-160, 1e160, 1e200] {
        let tape = Tape::new();
        let (y, x) = (tape.var(s), tape.var(s));
        let a = y.atan2(x);
        let plain = a.backward()[y];
        let recorded = tape.grad(a, &[y])[0].value();
        assert!(
            (recorded - plain).abs() <= 4.0 * f64::EPSILON * plain,
            "{s}: {recorded} vs {plain}"
        );
        let c = y.atan2(s);
        let plain = c.backward()[y];
        let recorded = tape.grad(c, &[y])[0].value();
        assert!(
            (recorded - plain).abs() <= 4.0 * f64::EPSILON * plain,
            "{s}: {recorded} vs {plain}"
        );
    }
}

#[test]
fn higher_order_labels_read_as_on_paper() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let y = x.sin().named("y");
    let d1 = tape.grad(y, &[x])[0];
    let d2 = tape.grad(d1, &[x])[0];
    let d3 = tape.grad(d2, &[x])[0];
    let label = |v: Var<'_>| tape.label(v.index()).unwrap_or_default();
    assert_eq!(
        (label(d1), label(d2), label(d3)),
        ("∂y/∂x".into(), "∂²y/∂x²".into(), "∂³y/∂x³".into())
    );
    assert_eq!(d3.value(), -(0.5_f64).cos());
    // No factor of the seed's 1 in what the second derivative explains.
    let text = d2.backward().explain(x).to_string();
    assert!(!text.contains("1·"), "{text}");
}

// ---- The recorded gradient equals the plain sweep, at the special points ----

/// The points where a rebuilt partial can go wrong: ±0, ±∞, NaN, kinks (±1,
/// ½), subnormals, and values near overflow.
const SPECIAL: [f64; 14] = [
    0.0,
    -0.0,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    1.0,
    -1.0,
    0.5,
    -2.5,
    1e-310,
    -1e-310,
    1e300,
    -1e300,
    30.0,
];

/// How far apart two gradients may be: the same bits (NaN equal to NaN), or, for
/// finite values, this many units in the last place (each partial is recomputed
/// by the op's own `Scalar` rule, where the sweep stores the op's fused `f64`
/// kernel; the two round differently by at most a few ulps). Infinities and
/// the sign of an infinite or NaN value must match exactly.
const ULPS: u64 = 4;

fn ulps_apart(a: f64, b: f64) -> u64 {
    // Ordered integers: adjacent floats differ by 1, and −0 and +0 by 1.
    let key = |x: f64| {
        let bits = x.to_bits() as i64;
        if bits < 0 {
            i64::MIN - bits
        } else {
            bits
        }
    };
    key(a).abs_diff(key(b))
}

fn same_gradient(recorded: f64, swept: f64) -> bool {
    recorded.to_bits() == swept.to_bits()
        || (recorded.is_nan() && swept.is_nan())
        || (recorded.is_finite() && swept.is_finite() && ulps_apart(recorded, swept) <= ULPS)
}

type Case = (&'static str, usize, for<'t> fn(&[Var<'t>]) -> Var<'t>);

/// Every op of the tape, each as a function of 1 to 4 inputs.
fn every_op() -> Vec<Case> {
    vec![
        ("add", 2, |v| v[0] + v[1]),
        ("sub", 2, |v| v[0] - v[1]),
        ("mul", 2, |v| v[0] * v[1]),
        ("div", 2, |v| v[0] / v[1]),
        ("neg", 1, |v| -v[0]),
        ("add_const", 1, |v| v[0] + 2.5),
        ("sub_const", 1, |v| v[0] - 2.5),
        ("const_sub", 1, |v| 2.5 - v[0]),
        ("mul_const", 1, |v| v[0] * -3.0),
        ("div_const", 1, |v| v[0] / 3.0),
        ("const_div", 1, |v| 3.0 / v[0]),
        ("leaky_relu", 1, |v| v[0].leaky_relu(0.01)),
        ("powi 3", 1, |v| v[0].powi(3)),
        ("powi -3", 1, |v| v[0].powi(-3)),
        ("powi 7", 1, |v| v[0].powi(7)),
        ("powi 0", 1, |v| v[0].powi(0)),
        ("powf 0.5", 1, |v| v[0].powf(0.5)),
        ("powf 2.1", 1, |v| v[0].powf(2.1)),
        ("powf -1.5", 1, |v| v[0].powf(-1.5)),
        ("powf 1e16+3", 1, |v| v[0].powf(1e16 + 3.0)),
        ("powf 0.1", 1, |v| v[0].powf(0.1)),
        ("pow", 2, |v| v[0].pow(v[1])),
        ("log 2", 1, |v| v[0].log(2.0)),
        ("log 0.5", 1, |v| v[0].log(0.5)),
        ("log 1", 1, |v| v[0].log(1.0)),
        ("log 0", 1, |v| v[0].log(0.0)),
        ("log inf", 1, |v| v[0].log(f64::INFINITY)),
        ("log 1e-300", 1, |v| v[0].log(1e-300)),
        ("max", 2, |v| v[0].max(v[1])),
        ("min", 2, |v| v[0].min(v[1])),
        ("max_const", 1, |v| v[0].max(0.5)),
        ("min_const", 1, |v| v[0].min(0.5)),
        ("clamp", 1, |v| v[0].clamp(-1.0, 0.5)),
        ("atan2", 2, |v| v[0].atan2(v[1])),
        ("atan2_const 0", 1, |v| v[0].atan2(0.0)),
        ("atan2_const 2", 1, |v| v[0].atan2(2.0)),
        ("const_atan2 0", 1, |v| Var::const_atan2(0.0, v[0])),
        ("const_atan2 -2", 1, |v| Var::const_atan2(-2.0, v[0])),
        ("hypot", 2, |v| v[0].hypot(v[1])),
        ("hypot_const", 1, |v| v[0].hypot(1.5)),
        ("mul_add", 3, |v| v[0].mul_add(v[1], v[2])),
        ("logsumexp", 2, |v| Var::logsumexp(v)),
        ("logsumexp 3", 3, |v| Var::logsumexp(v)),
        ("sum", 3, |v| v.iter().copied().sum()),
        ("weighted_sum", 3, |v| {
            Var::weighted_sum(&v[..1], &v[1..2], v[2])
        }),
        ("sigmoid neuron", 3, |v| {
            Var::neuron(&v[..1], &v[1..2], v[2], Activation::Sigmoid)
        }),
        ("tanh neuron", 3, |v| {
            Var::neuron(&v[..1], &v[1..2], v[2], Activation::Tanh)
        }),
        ("relu neuron", 3, |v| {
            Var::neuron(&v[..1], &v[1..2], v[2], Activation::Relu)
        }),
        ("weighted_sum_const", 2, |v| {
            Var::weighted_sum_const(&v[..1], &[-0.7], v[1])
        }),
        ("sigmoid neuron_const", 2, |v| {
            Var::neuron_const(&v[..1], &[-0.7], v[1], Activation::Sigmoid)
        }),
        ("tanh neuron_const", 2, |v| {
            Var::neuron_const(&v[..1], &[3.0], v[1], Activation::Tanh)
        }),
        ("relu neuron_const", 2, |v| {
            Var::neuron_const(&v[..1], &[3.0], v[1], Activation::Relu)
        }),
        ("half_squared_error", 2, |v| {
            Var::half_squared_error(v, &[0.75, -1.0])
        }),
        ("mean_squared_error", 3, |v| {
            Var::mean_squared_error(v, &[0.75, -1.0, 1e300])
        }),
        ("mean_squared_error inf", 1, |v| {
            Var::mean_squared_error(v, &[f64::INFINITY])
        }),
    ]
}

/// Every combination of special points for `n` inputs (for 3 and 4 inputs, the
/// other inputs at an ordinary 0.75 where one sweeps).
fn special_inputs(n: usize) -> Vec<Vec<f64>> {
    match n {
        1 => SPECIAL.iter().map(|&a| vec![a]).collect(),
        2 => SPECIAL
            .iter()
            .flat_map(|&a| SPECIAL.iter().map(move |&b| vec![a, b]))
            .collect(),
        _ => (0..n)
            .flat_map(|at| {
                SPECIAL.iter().map(move |&s| {
                    let mut v = vec![0.75; n];
                    v[at] = s;
                    v
                })
            })
            .chain(SPECIAL.iter().map(|&s| vec![s; n]))
            .collect(),
    }
}

/// Checks `Tape::grad` against `backward()` for `f` at `x`, on a tape that
/// keeps its constants (as `hessian` records) and on one that does not.
fn check_recorded_gradient(
    name: &str,
    f: for<'t> fn(&[Var<'t>]) -> Var<'t>,
    x: &[f64],
) -> Vec<String> {
    let mut faults = Vec::new();
    for keep in [false, true] {
        let tape = Tape::new();
        tape.set_keep_constants(keep);
        let xs = tape.vars(x);
        let y = f(&xs);
        let swept = y.backward();
        let recorded = tape.grad(y, &xs);
        for (k, (&xk, g)) in xs.iter().zip(&recorded).enumerate() {
            if !same_gradient(g.value(), swept[xk]) {
                faults.push(format!(
                    "{name} at {x:?} (constants kept: {keep}): ∂/∂x{k} recorded {:e}, swept {:e}",
                    g.value(),
                    swept[xk]
                ));
            }
        }
    }
    faults
}

#[test]
fn the_recorded_gradient_equals_the_sweep_for_every_op_at_special_points() {
    let mut faults = Vec::new();
    for (name, n, f) in every_op() {
        for x in special_inputs(n) {
            faults.extend(check_recorded_gradient(name, f, &x));
        }
    }
    for rule in chainrule::ops::UNARY {
        for &x in SPECIAL
            .iter()
            .chain(&[1e-3, 710.0, -710.0, 20.5, -20.5, 0.99, 1e-17])
        {
            let tape = Tape::new();
            let xv = tape.var(x);
            let y = (rule.record)(xv);
            let (recorded, swept) = (tape.grad(y, &[xv])[0].value(), y.backward()[xv]);
            if !same_gradient(recorded, swept) {
                faults.push(format!(
                    "{} at {x:e}: recorded {recorded:e}, swept {swept:e}",
                    rule.name
                ));
            }
        }
    }
    assert!(
        faults.is_empty(),
        "{} faults:\n{}",
        faults.len(),
        faults.join("\n")
    );
}

#[test]
fn the_reported_non_finite_gradients_are_recorded_as_swept() {
    // The audit's cases: 1/ln b rebuilt as partial · x (0 · ∞), atan2's
    // 1/h · c/h overflowing, and the target rebuilt as o − partial (∞ − ∞).
    let tape = Tape::new();
    let x = tape.var(0.0);
    let y = x.log(2.0);
    assert_eq!(tape.grad(y, &[x])[0].value(), f64::INFINITY);
    assert_eq!(y.backward()[x], f64::INFINITY);
    assert_eq!(
        chainrule::hessian(|v| v[0].log(2.0), &[0.0]),
        vec![vec![f64::NEG_INFINITY]]
    );
    let x = tape.var(f64::INFINITY);
    assert_eq!(tape.grad(x.log(2.0), &[x])[0].value(), 0.0);
    let x = tape.var(1e-310);
    let y = x.atan2(0.0);
    assert_eq!(tape.grad(y, &[x])[0].value(), y.backward()[x]);
    let x = tape.var(f64::INFINITY);
    let y = Var::half_squared_error(&[x], &[1.0]);
    assert_eq!(tape.grad(y, &[x])[0].value(), f64::INFINITY);
    let y = Var::mean_squared_error(&[x], &[1.0]);
    assert_eq!(tape.grad(y, &[x])[0].value(), f64::INFINITY);
    assert_eq!(
        chainrule::hessian(|v| Var::half_squared_error(v, &[1.0]), &[f64::INFINITY]),
        vec![vec![1.0]]
    );
}

/// Ops whose partial is piecewise constant and NaN at a NaN input (the policy's
/// rule 4), and logsumexp and the relu neurons, whose partials are NaN there.
fn nan_partial_ops() -> Vec<Case> {
    vec![
        ("relu", 1, |v| v[0].relu()),
        ("abs", 1, |v| v[0].abs()),
        ("signum", 1, |v| v[0].signum()),
        ("leaky_relu", 1, |v| v[0].leaky_relu(0.1)),
        ("max", 2, |v| v[0].max(v[1])),
        ("min", 2, |v| v[0].min(v[1])),
        ("max_const", 1, |v| v[0].max(1.0)),
        ("min_const", 1, |v| v[0].min(1.0)),
        ("clamp", 1, |v| v[0].clamp(-1.0, 1.0)),
        ("logsumexp", 2, |v| Var::logsumexp(v)),
        ("relu neuron", 3, |v| {
            Var::neuron(&v[..1], &v[1..2], v[2], Activation::Relu)
        }),
        ("relu neuron_const", 2, |v| {
            Var::neuron_const(&v[..1], &[3.0], v[1], Activation::Relu)
        }),
        ("x * NaN", 1, |v| v[0] * f64::NAN),
    ]
}

#[test]
fn hessians_are_nan_where_an_input_is_nan() {
    for (name, n, f) in nan_partial_ops() {
        for at in 0..n {
            let mut x = vec![1.5; n];
            if name != "x * NaN" {
                x[at] = f64::NAN;
            }
            let g = chainrule::grad(f, &x);
            assert!(g.iter().all(|d| d.is_nan()), "{name} at {x:?}: ∇ = {g:?}");
            let h = chainrule::hessian(f, &x);
            assert!(
                h.iter().flatten().all(|d| d.is_nan()),
                "{name} at {x:?}: a NaN input, H = {h:?}"
            );
            let hv = chainrule::hessian_vector_product(f, &x, &vec![1.0; n]);
            assert!(
                hv.iter().all(|d| d.is_nan()),
                "{name} at {x:?}: H·v = {hv:?}"
            );
            // The first order, recorded, is what the sweep gives: NaN.
            let tape = Tape::new();
            let xs = tape.vars(&x);
            let y = f(&xs);
            for d in tape.grad(y, &xs) {
                assert!(d.value().is_nan(), "{name}: recorded ∇ {}", d.value());
            }
        }
    }
    // Composed: the NaN of relu at NaN is not hidden by what lies above it.
    let h = chainrule::hessian(|v| v[0].relu().powi(3) + v[1] * v[1], &[f64::NAN, 2.0]);
    assert!(h[0][0].is_nan());
    assert_eq!(h[1][1], 2.0);
    // Unary ops of the table at NaN: every second derivative is NaN.
    for rule in chainrule::ops::UNARY {
        let tape = Tape::new();
        let x = tape.var(f64::NAN);
        let d = tape.grad((rule.record)(x), &[x])[0];
        let d2 = d.backward()[x];
        assert!(
            d2.is_nan() || rule.name == "square",
            "{}: second derivative {d2} at NaN",
            rule.name
        );
    }
}

#[test]
fn hessian_of_a_var_of_another_tape_names_the_function_called() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let message = |run: &dyn Fn()| {
        let err = catch_unwind(AssertUnwindSafe(run)).expect_err("a Var of another tape");
        err.downcast_ref::<String>()
            .cloned()
            .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    };
    fn foreign<'t>(_: &[Var<'t>]) -> Var<'t> {
        // A Var of a tape that lives longer than the closure's: leaked for the test.
        let tape: &'static Tape = Box::leak(Box::new(Tape::new()));
        tape.var(1.0)
    }
    let m = message(&|| {
        chainrule::hessian(foreign, &[1.0]);
    });
    assert!(m.contains("hessian") && !m.contains("Tape::grad"), "{m}");
    let m = message(&|| {
        chainrule::hessian_vector_product(foreign, &[1.0], &[1.0]);
    });
    assert!(
        m.contains("hessian_vector_product") && !m.contains("Tape::grad"),
        "{m}"
    );
    let m = message(&|| {
        chainrule::grad(foreign, &[1.0]);
    });
    assert!(m.contains("grad"), "{m}");
    let tape = Tape::new();
    let x = tape.var(1.0);
    let m = message(&|| {
        tape.grad(foreign(&[x]), &[x]);
    });
    assert!(m.contains("Tape::grad"), "{m}");
}

#[test]
fn zero_times_infinity_below_a_masked_edge_is_nan_in_the_recorded_gradient_too() {
    // relu masks √x − 1 at x = 0 (rule 3), but √x still lies on a path with
    // adjoint 0, and 0 · √′(0) = 0 · ∞ is NaN (rule 2): the sweep says NaN. The
    // recorded gradient skipped everything below a masked edge and said 0.
    fn relu_of<'t>(v: &[Var<'t>]) -> Var<'t> {
        (v[0].sqrt() - 1.0).relu()
    }
    fn max_of<'t>(v: &[Var<'t>]) -> Var<'t> {
        v[0].sqrt().max(v[1])
    }
    for f in [relu_of as for<'t> fn(&[Var<'t>]) -> Var<'t>, max_of] {
        let tape = Tape::new();
        let x = tape.vars(&[0.0, 5.0]);
        let y = f(&x);
        assert!(y.backward()[x[0]].is_nan());
        let recorded = tape.grad(y, &x);
        assert!(recorded[0].value().is_nan(), "{}", recorded[0].value());
        assert_eq!(recorded[1].value(), y.backward()[x[1]]);
        assert!(chainrule::hessian(f, &[0.0, 5.0])[0][0].is_nan());
    }
    // A masked edge above finite partials still gives exactly 0.
    let h = chainrule::hessian(|v| (v[0] * 3.0 - 1.0).relu().powi(2), &[0.0]);
    assert_eq!(h, vec![vec![0.0]]);
}

/// A neuron `activation(((w₀·x₀ + w₁·x₁) + …) + b)` over the inputs ordered
/// `w₀, x₀, w₁, x₁, …, b`, spelled `how`: 0 with the plain operators, 1 as
/// `Var::neuron`, 2 as `Var::layer` of one output, 3 as `Var::neuron_const`
/// over the xₖ given in `consts` (the inputs are then `w₀, …, b`), 4 with the
/// plain operators over those constants.
fn spelled_neuron<'t>(v: &[Var<'t>], consts: &[f64], act: Activation, how: usize) -> Var<'t> {
    let activate = |z: Var<'t>| match act {
        Activation::Sigmoid => z.sigmoid(),
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.relu(),
        _ => z,
    };
    let n = consts.len();
    match how {
        0..=2 => {
            let ws: Vec<_> = (0..n).map(|k| v[2 * k]).collect();
            let xs: Vec<_> = (0..n).map(|k| v[2 * k + 1]).collect();
            let b = v[2 * n];
            match how {
                0 => {
                    let sum = (1..n).fold(ws[0] * xs[0], |s, k| s + ws[k] * xs[k]);
                    activate(sum + b)
                }
                1 => Var::neuron(&ws, &xs, b, act),
                _ => {
                    let mut params = ws.clone();
                    params.push(b);
                    let mut out = [b];
                    Var::layer(&params, &xs, act, &mut out);
                    out[0]
                }
            }
        }
        3 => Var::neuron_const(&v[..n], consts, v[n], act),
        _ => {
            let sum = (1..n).fold(v[0] * consts[0], |s, k| s + v[k] * consts[k]);
            activate(sum + v[n])
        }
    }
}

#[test]
fn fused_neurons_have_the_hessian_of_the_same_neuron_in_plain_operators() {
    // The recorded backward of a fused σ neuron took σ′(z) as σ(z)·σ(−z) with
    // σ(z) the neuron's own node, whose edges reach the operands apart from the
    // weighted sum recorded for σ(−z): the two parts of σ″, each scaled by wₖ or
    // xₖ, met at the operands, and where they cancel they swallowed the rest.
    // w = (1e10, −1e10), x = (1e10, 1e10), b = 0 (z = 0): ∂²a/∂w₀∂x₀ = σ′(0) =
    // 0.25 came out 0; with 1e160s, ∂²a/∂w₀² = σ″(0)·x₀² = 0 came out NaN.
    let at = [1e10, 1e10, -1e10, 1e10, 0.0];
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        Var::neuron(&[v[0], v[2]], &[v[1], v[3]], v[4], Activation::Sigmoid)
    }
    let h = chainrule::hessian(f, &at);
    assert_eq!((h[0][1], h[1][0], h[2][3]), (0.25, 0.25, 0.25));
    let h = chainrule::hessian(f, &[1.0, 1e160, -1.0, 1e160, 0.0]);
    assert_eq!((h[0][1], h[0][0], h[4][4]), (0.25, 0.0, 0.0));

    // Bit for bit the plain spelling's, over magnitudes from 1 to 1e300 (where
    // z is 0, saturated, or an overflowed NaN), in every activation.
    let activations = [
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::Identity,
    ];
    let magnitudes = [1e-10, 1.0, 3.0, 1e10, 1e100, 1e160, 1e300];
    for act in activations {
        for &mw in &magnitudes {
            for &mx in &magnitudes {
                for sign in [1.0, -1.0] {
                    for b in [0.0, -0.3] {
                        for n in [1, 2, 4] {
                            // Alternate signs: the terms cancel in pairs.
                            let scale = |k: usize| 1.0 + 0.25 * (k / 2) as f64;
                            let w: Vec<f64> = (0..n)
                                .map(|k| mw * scale(k) * if k % 2 == 1 { -1.0 } else { 1.0 })
                                .collect();
                            let x: Vec<f64> = (0..n).map(|k| sign * mx * scale(k)).collect();
                            let mut pairs: Vec<f64> =
                                w.iter().zip(&x).flat_map(|(&w, &x)| [w, x]).collect();
                            pairs.push(b);
                            let mut weights = w.clone();
                            weights.push(b);
                            let spell = |how: usize| {
                                let at = if how < 3 { &pairs } else { &weights };
                                chainrule::hessian(|v| spelled_neuron(v, &x, act, how), at)
                            };
                            let (plain, plain_const) = (spell(0), spell(4));
                            for (how, want) in [(1, &plain), (2, &plain), (3, &plain_const)] {
                                let got = spell(how);
                                for (j, row) in got.iter().enumerate() {
                                    for (k, &g) in row.iter().enumerate() {
                                        let p = want[j][k];
                                        assert!(
                                            g.to_bits() == p.to_bits() || (g.is_nan() && p.is_nan()),
                                            "{act:?} spelling {how} at {pairs:?}: H[{j}][{k}] = {g:e}, plain {p:e}"
                                        );
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn second_derivatives_near_zero_keep_their_relative_precision() {
    // σ′ = σ(x)·σ(−x) differentiates to σ′(x)σ(−x) − σ(x)σ′(−x), and
    // arcsin′ = 1/(√(1 − x)·√(1 + x)) (arccos′, artanh′ alike) through a sum of
    // ∓√(1 ± x)/(2√(1 ∓ x)): near 0 both cancel, and the recorded second
    // derivative was 0 at x = 1e-20 (and 8e-8 off at 1e-10) where σ″ ≈ −x/8,
    // arcsin″ ≈ x, artanh″ ≈ 2x. Against the closed forms, written without
    // cancellation (1 − x² as (1 − x)(1 + x)), to 8 ulps: each side is a few
    // roundings of < 1-ulp functions (measured: at most 4 ulps).
    fn second(x: f64, f: for<'t> fn(Var<'t>) -> Var<'t>) -> f64 {
        let tape = Tape::new();
        let v = tape.var(x);
        let d1 = tape.grad(f(v), &[v])[0];
        tape.grad(d1, &[v])[0].value()
    }
    let sigmoid_prime = |x: f64| 0.25 / (x / 2.0).cosh().powi(2);
    // An op's name, the op, and its second derivative in closed form.
    type Closed = (&'static str, for<'t> fn(Var<'t>) -> Var<'t>, fn(f64) -> f64);
    let cases: [Closed; 4] = [
        (
            "sigmoid",
            |x| x.sigmoid(),
            |x| -0.25 / (x / 2.0).cosh().powi(2) * (x / 2.0).tanh(),
        ),
        (
            "asin",
            |x| x.asin(),
            |x| x / ((1.0 - x) * (1.0 + x)).powf(1.5),
        ),
        (
            "acos",
            |x| x.acos(),
            |x| -x / ((1.0 - x) * (1.0 + x)).powf(1.5),
        ),
        (
            "atanh",
            |x| x.atanh(),
            |x| 2.0 * x / ((1.0 - x) * (1.0 + x)).powi(2),
        ),
    ];
    let mut points = vec![0.1, 0.3, 0.45, 0.55, 0.9, 0.99];
    for e in [-300, -200, -160, -100, -50, -20, -10, -5, -3, -2] {
        points.push(1.7 * 10f64.powi(e));
    }
    let negated: Vec<f64> = points.iter().map(|x| -x).collect();
    points.extend(negated);
    for (name, f, closed) in cases {
        for &x in &points {
            let want = closed(x);
            // Recorded twice, and recorded once then swept (`hessian`).
            let recorded = second(x, f);
            let swept = chainrule::hessian(|v| f(v[0]), &[x])[0][0];
            for got in [recorded, swept] {
                assert!(
                    (got - want).abs() <= 8.0 * f64::EPSILON * want.abs(),
                    "{name}″({x:e}): {got:e} (recorded {recorded:e}, hessian {swept:e}), \
                     closed form {want:e}"
                );
            }
        }
    }
    // σ″ through a fused neuron at a small z, where the old cancellation was too.
    let h = chainrule::hessian(
        |v| Var::neuron(&[v[0]], &[v[1]], v[2], Activation::Sigmoid),
        &[1e-20, 1.0, 0.0],
    );
    let want = -sigmoid_prime(1e-20) * (1e-20f64 / 2.0).tanh();
    assert!(
        (h[2][2] - want).abs() <= 8.0 * f64::EPSILON * want.abs(),
        "{:e}",
        h[2][2]
    );
}

#[test]
fn the_second_derivative_of_atan_keeps_its_precision_where_its_partial_squared_underflows() {
    // atan′ = 1/(x·x + 1) differentiates to −(atan′)²·2x: (atan′)² is subnormal
    // from |x| ≈ 1e77 and 0 from 1e100, where atan″ ≈ −2/x³ is still a normal
    // number: −2e-270 at 1e90 was recorded as 0, −2e-240 at 1e80 as
    // −1.99998e-240, −1.6e-233 at 5e77 9e-15 relative off.
    for x in [3.0, 1e10, 5e77, 1e80, 1e90, 1e100, 1e102, -1e100, -7e85] {
        let want = -2.0 * x / (x * x + 1.0) / (x * x + 1.0);
        let tape = Tape::new();
        let v = tape.var(x);
        let d1 = tape.grad(v.atan(), &[v])[0];
        let recorded = tape.grad(d1, &[v])[0].value();
        let swept = chainrule::hessian(|v| v[0].atan(), &[x])[0][0];
        for got in [recorded, swept] {
            assert!(
                (got - want).abs() <= 8.0 * f64::EPSILON * want.abs(),
                "atan″({x:e}): {got:e} (recorded {recorded:e}, hessian {swept:e}), closed form {want:e}"
            );
        }
    }
}

#[test]
fn the_second_derivative_of_a_logarithm_base_below_e_does_not_overflow_before_it_does() {
    // log_b′ = 1/(x·ln b) differentiates to −(1/(x·ln b))²·ln b: for |ln b| < 1
    // the square is larger than the derivative and overflowed first, so
    // log₂″(1e-154) = −1/(x²·ln 2) ≈ −1.44e308 came out −inf.
    for x in [1e-154, -1e-154, 9e-155, 1e-100, 0.3, 0.9] {
        let want = -1.0 / (x * x) / std::f64::consts::LN_2;
        let tape = Tape::new();
        let v = tape.var(x);
        let d1 = tape.grad(v.log2(), &[v])[0];
        let recorded = tape.grad(d1, &[v])[0].value();
        let log2 = chainrule::hessian(|v| v[0].log2(), &[x])[0][0];
        let base_two = chainrule::hessian(|v| v[0].log(2.0), &[x])[0][0];
        for got in [recorded, log2, base_two] {
            assert!(
                (got - want).abs() <= 8.0 * f64::EPSILON * want.abs(),
                "log₂″({x:e}): {got:e} (recorded {recorded:e}, log2 {log2:e}, \
                 log(2) {base_two:e}), closed form {want:e}"
            );
        }
        // The first derivative is the sweep's, bit for bit.
        assert_eq!(d1.value(), v.log2().backward()[v]);
    }
    // A base near 1 widens the band: log_1.01″(1e-153) ≈ −1.005e308 (|ln b| ≈ 0.00995).
    let b: f64 = 1.01;
    let x = 1e-153;
    let want = -1.0 / (x * x) / b.ln();
    let got = chainrule::hessian(|v| v[0].log(1.01), &[x])[0][0];
    assert!(
        (got - want).abs() <= 8.0 * f64::EPSILON * want.abs(),
        "{got:e} vs {want:e}"
    );
}

#[test]
fn the_third_derivative_of_silu_keeps_its_relative_precision_near_zero() {
    // silu′ = σ(x)·(x·σ(−x) + 1) differentiates twice to a sum whose terms
    // 2σ′(x)σ(−x) and −2σ(x)σ′(−x) cancel near 0, where silu‴ ≈ −x/2: the third
    // derivative was 0 from |x| ≈ 1e-17 down (−8.5e-21 at 1.7e-20), 8e-8
    // relative off at 1.7e-10. Against the closed form
    // silu‴ = 3σ″ + xσ‴ = −¾s²t − (x/4)s²(½s² − t²), s² = 1/cosh²(x/2),
    // t = tanh(x/2), whose two terms have one sign for |x| < 1.
    let closed = |x: f64| {
        let s2 = 1.0 / (x / 2.0).cosh().powi(2);
        let t = (x / 2.0).tanh();
        -0.75 * s2 * t - x / 4.0 * s2 * (0.5 * s2 - t * t)
    };
    let mut points = vec![0.1, 0.3, 0.45, 0.55, 0.9];
    for e in [-300, -200, -160, -100, -50, -20, -16, -10, -5, -3, -2] {
        points.push(1.7 * 10f64.powi(e));
    }
    let negated: Vec<f64> = points.iter().map(|x| -x).collect();
    points.extend(negated);
    for x in points {
        let want = closed(x);
        let tape = Tape::new();
        let v = tape.var(x);
        let d1 = tape.grad(v.silu(), &[v])[0];
        let d2 = tape.grad(d1, &[v])[0];
        let recorded = tape.grad(d2, &[v])[0].value();
        let swept = d2.backward()[v];
        for got in [recorded, swept] {
            assert!(
                (got - want).abs() <= 8.0 * f64::EPSILON * want.abs(),
                "silu‴({x:e}): {got:e} (recorded {recorded:e}, swept {swept:e}), closed form {want:e}"
            );
        }
        // The first derivative is the sweep's, bit for bit.
        assert_eq!(d1.value(), v.silu().backward()[v]);
    }
    assert_eq!(
        chainrule::hessian(|v| v[0].silu(), &[0.0])[0][0],
        0.5 // silu″(0) = 2σ′(0)
    );
}

/// With no inputs, `hessian` and `hessian_vector_product` both return empty
/// without calling `f` (this `f` indexes its inputs, so would panic).
#[test]
fn with_no_inputs_the_hessian_and_its_product_are_empty_and_f_is_not_called() {
    fn first<'t>(v: &[Var<'t>]) -> Var<'t> {
        v[0] * v[0]
    }
    assert_eq!(chainrule::hessian(first, &[]), Vec::<Vec<f64>>::new());
    assert_eq!(
        chainrule::hessian_vector_product(first, &[], &[]),
        Vec::<f64>::new()
    );
}

/// x^y at x = 0, 0 < y ≤ 1: ∂f/∂y is 0 there (x^y·ln x tends to 0), and its
/// ∂/∂x, x^(y−1)·(1 + y·ln x), tends to −∞. The constant 0 that stood for
/// ∂f/∂y made entry (1, 0) of the Hessian 0 (a review's finite difference of
/// the gradient: −16.1 at step 1e-7, growing as the step shrinks). For y > 1
/// the limit is 0, and ∂²f/∂y² (x^y·ln²x) tends to 0 for every y > 0.
#[test]
fn the_hessian_of_pow_at_base_zero_has_the_limits_of_its_mixed_entry() {
    for y in [0.25, 0.5, 1.0] {
        let h = chainrule::hessian(|v| v[0].pow(v[1]), &[0.0, y]);
        assert_eq!(h[1][0], f64::NEG_INFINITY, "x^y at (0, {y}): {h:?}");
        assert_eq!(h[1][1], 0.0, "x^y at (0, {y}): {h:?}");
        // The gradient's ∂f/∂y is still the sweep's 0, +0 as stored.
        let g = chainrule::grad(|v| v[0].pow(v[1]), &[0.0, y]);
        assert_eq!(g[1].to_bits(), 0.0f64.to_bits());
        // The limit, approached: ∂(∂f/∂y)/∂x at x = 1e-k falls without bound.
        let at = |x: f64| chainrule::hessian(|v| v[0].pow(v[1]), &[x, y])[1][0];
        assert!(at(1e-8) < at(1e-4) && at(1e-4) < -1.0, "y {y}");
    }
    for y in [1.5, 2.0, 3.0] {
        let h = chainrule::hessian(|v| v[0].pow(v[1]), &[0.0, y]);
        assert_eq!((h[1][0], h[1][1]), (0.0, 0.0), "x^y at (0, {y}): {h:?}");
    }
}

/// The other mixed entry of x^y at x = 0, (0, 1): ∂/∂y of ∂f/∂x = y·x^(y−1),
/// a sweep of its own, is not the limit that entry (1, 0) is. For 0 < y < 1
/// its product rule x^(y−1) + y·x^(y−1)·ln x meets ∞ − ∞: NaN (a review
/// found the README calling ∂²f/∂x∂y −∞ there); 1 at y = 1 (0^0's
/// convention); 0 above. As the README and `hessian`'s docs say.
#[test]
fn the_hessian_of_pow_at_base_zero_pins_both_mixed_entries() {
    let h = chainrule::hessian(|v| v[0].pow(v[1]), &[0.0, 0.5]);
    assert_eq!(h[0][0], f64::NEG_INFINITY, "{h:?}");
    assert!(h[0][1].is_nan(), "{h:?}");
    assert_eq!((h[1][0], h[1][1]), (f64::NEG_INFINITY, 0.0), "{h:?}");
    for y in [0.25, 0.75] {
        let h = chainrule::hessian(|v| v[0].pow(v[1]), &[0.0, y]);
        assert!(
            h[0][1].is_nan() && h[1][0] == f64::NEG_INFINITY,
            "y {y}: {h:?}"
        );
    }
    let h = chainrule::hessian(|v| v[0].pow(v[1]), &[0.0, 1.0]);
    assert_eq!((h[0][1], h[1][0]), (1.0, f64::NEG_INFINITY), "{h:?}");
    for y in [1.5, 2.0] {
        let h = chainrule::hessian(|v| v[0].pow(v[1]), &[0.0, y]);
        assert_eq!((h[0][1], h[1][0]), (0.0, 0.0), "y {y}: {h:?}");
    }
}

/// At a point of finite inputs where an entry of the gradient is NaN (0 · ∞ on
/// a path), that entry's row of the Hessian is NaN: f = max(√x, 1)·y at (0, 2)
/// has ∂f/∂x = 2 · 0 (masked) · ∞ = NaN, and its derivative in y came out 0,
/// a silent 0 that also broke the Hessian's symmetry with entry (1, 0), NaN.
/// The Hessian-vector product is NaN where such a row is weighted.
#[test]
fn a_nan_entry_of_the_gradient_has_a_nan_row_of_the_hessian() {
    fn f<'t>(v: &[chainrule::Var<'t>]) -> chainrule::Var<'t> {
        v[0].sqrt().max(1.0) * v[1]
    }
    let g = chainrule::grad(f, &[0.0, 2.0]);
    assert!(g[0].is_nan() && g[1] == 1.0, "{g:?}");
    let h = chainrule::hessian(f, &[0.0, 2.0]);
    assert!(h[0].iter().all(|e| e.is_nan()), "{h:?}");
    assert!(h[1][0].is_nan() && h[1][1] == 0.0, "{h:?}");
    let hv = chainrule::hessian_vector_product(f, &[0.0, 2.0], &[1.0, 0.0]);
    assert!(hv.iter().all(|e| e.is_nan()), "{hv:?}");
    // v₀ = 0: row 0 is not weighted; Hᵀ·(0, 1) is row 1.
    let hv = chainrule::hessian_vector_product(f, &[0.0, 2.0], &[0.0, 1.0]);
    assert!(hv[0].is_nan() && hv[1] == 0.0, "{hv:?}");
    // Away from the point nothing changes: at (4, 2), f = 2y, H = [[−y/4x^1.5 …]].
    let h = chainrule::hessian(f, &[4.0, 2.0]);
    assert!(h.iter().flatten().all(|e| e.is_finite()), "{h:?}");
}

/// logsumexp where every input is −inf: the softmax is 0/0, and near the point
/// it takes any values summing to 1, so its partials are NaN, not the 0 each
/// they were ("no input can change the value": one input moved to c makes the
/// value c). One input: ln e^x = x, whose derivative is 1 (it was 0).
#[test]
fn logsumexp_at_every_input_minus_infinity_has_no_limit_to_give() {
    let ninf = f64::NEG_INFINITY;
    let g = chainrule::grad(|v| chainrule::Var::logsumexp(v), &[ninf, ninf]);
    assert!(g.iter().all(|p| p.is_nan()), "{g:?}");
    let g = chainrule::grad(|v| chainrule::Var::logsumexp(v), &[ninf]);
    assert_eq!(g, vec![1.0]);
    // Near the point the partials sum to 1, whatever their split.
    let g = chainrule::grad(|v| chainrule::Var::logsumexp(v), &[-1e308, -1e308]);
    assert_eq!(g, vec![0.5, 0.5]);
    let g = chainrule::grad(|v| chainrule::Var::logsumexp(v), &[-1e308, -1e308 - 1e293]);
    assert!(g[0] > 0.99 && g[1] < 0.01, "{g:?}");
    // Two +inf inputs: their split depends on how they grow (NaN); one: 1.
    let inf = f64::INFINITY;
    let g = chainrule::grad(|v| chainrule::Var::logsumexp(v), &[inf, inf, 0.0]);
    assert!(g[0].is_nan() && g[1].is_nan() && g[2] == 0.0, "{g:?}");
    let g = chainrule::grad(|v| chainrule::Var::logsumexp(v), &[inf, 3.0]);
    assert_eq!(g, vec![1.0, 0.0]);
}

/// Where a kink's convention enters the recorded gradient, the kink stays
/// visible at the next order. |x|² is x²: f″(0) = 2, but the recorded ∂f/∂x
/// was 2|x|·0, |·|′(0)'s convention a constant, so its derivative was 0 and
/// `kink_affecting` found nothing, and `compare` called the true 2 "no sum of
/// the paths" with no word of a kink. The convention is now recorded through a
/// signum at its jump: the same values (the Hessian is still the convention's
/// 0), and the kink is found.
#[test]
fn a_kinks_convention_in_the_recorded_gradient_is_found_at_the_next_order() {
    use chainrule::explain::kink_affecting;
    type F = for<'t> fn(&[Var<'t>]) -> Var<'t>;
    let cases: [(&str, F, f64); 4] = [
        ("|x|²", |v| v[0].abs().square(), 0.0),
        (
            "relu(x)² + relu(−x)²",
            |v| v[0].relu().square() + (-v[0]).relu().square(),
            0.0,
        ),
        ("max(x, 1)·x", |v| v[0].max(v[0] * 0.0 + 1.0) * v[0], 1.0),
        ("clamp(x, 0, 1)·x", |v| v[0].clamp(0.0, 1.0) * v[0], 1.0),
    ];
    for (name, f, at) in cases {
        for keep in [false, true] {
            let tape = Tape::new();
            tape.set_keep_constants(keep);
            let x = tape.var(at);
            let y = f(&[x]);
            let d1 = tape.grad(y, &[x])[0];
            // The recorded first derivative is still the sweep's, bit for bit.
            assert_eq!(d1.value().to_bits(), y.backward()[x].to_bits(), "{name}");
            let found = kink_affecting(&tape, x.index(), d1.index());
            // clamp's bound is a kept constant: without it, no u to take the
            // sign of, and the convention stays a constant.
            if name.starts_with("clamp") && !keep {
                continue;
            }
            assert!(found.is_some(), "{name} (keep {keep}): no kink found");
        }
    }
    // compare, on the recorded derivative of |x|² against the true f″(0) = 2.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let d1 = tape.grad(x.abs().square(), &[x])[0];
    let text = d1.backward().compare(&[(x, 2.0)]).to_string();
    assert!(text.contains("the tape passes a kink"), "{text}");
    assert!(!text.contains("no sum of the paths"), "{text}");
    // Away from a kink, abs′ is recorded as signum(x), so that a replay picks
    // the branch afresh (`tests/grad_replay_kinks.rs`); it is no kink there.
    // (This asserted that no signum was recorded: the frozen constant.)
    let tape = Tape::new();
    let x = tape.var(1.0);
    let y = x.abs().square();
    let before = tape.len();
    let d1 = tape.grad(y, &[x])[0];
    assert!(
        (before..tape.len()).any(|i| tape.op(i) == chainrule::Op::Signum),
        "abs′ recorded as a constant away from the kink"
    );
    assert!(kink_affecting(&tape, x.index(), d1.index()).is_none());
    assert_eq!(
        chainrule::hessian(|v| v[0].abs().square(), &[1.0]),
        vec![vec![2.0]]
    );
}

/// A kink's convention recorded in the gradient (sign(u)·0 + p, a signum at
/// its jump) is no kink at the next order where the step it stands for is
/// multiplied by a factor 0 and flat to first order: |x|³'s ∂f/∂x is
/// 3·|x|²·sign(x), differentiable at 0 with f″(0) = 0, and the tape's 0 is it.
/// `kink_affecting` called it "signum′(0): a convention" and `compare`, on a
/// wrong value, "the tape passes a kink" instead of a diagnosis. Where that
/// factor moves with x (|x|², |x|·x: f′ = 2|x|·sign(x)), the kink is still
/// found. (relu's convention at 0, 0, is masked: it is recorded on its own,
/// without the adjoint it would multiply, and stays a kink at the next order
/// whatever multiplies it: relu(x)³ is still called one, a caution.)
#[test]
fn a_kinks_convention_times_a_flat_factor_is_no_kink_at_the_next_order() {
    use chainrule::explain::{kink_affecting, kinks_affecting};
    type F = for<'t> fn(Var<'t>) -> Var<'t>;
    // (name, f, whether the kink is found at the next order, whether only
    // with the constants kept: without them a tie with a constant has no u to
    // take the sign of, and its convention stays a constant.)
    let cases: [(&str, F, bool, bool); 14] = [
        ("|x|³", |x| x.abs().powi(3), false, false),
        ("x²·|x|", |x| x.square() * x.abs(), false, false),
        ("|x|·|x|·|x|", |x| x.abs() * x.abs() * x.abs(), false, false),
        (
            "max(x, x·0)·x²",
            |x| x.max(x * 0.0) * x.square(),
            false,
            false,
        ),
        ("max(x, 0)·x²", |x| x.max(0.0) * x.square(), false, true),
        (
            "clamp(x, 0, 1)·x²",
            |x| x.clamp(0.0, 1.0) * x.square(),
            false,
            true,
        ),
        (
            "leaky_relu(x)·x²",
            |x| x.leaky_relu(0.1) * x.square(),
            false,
            false,
        ),
        ("|x|²", |x| x.abs().square(), true, false),
        ("|x|·x", |x| x.abs() * x, true, false),
        ("max(x, x·0)²", |x| x.max(x * 0.0).square(), true, false),
        ("max(x, 0)²", |x| x.max(0.0).square(), true, true),
        ("leaky_relu(x)·x", |x| x.leaky_relu(0.1) * x, true, false),
        ("relu(x)²", |x| x.relu().square(), true, false),
        ("relu(x)·x", |x| x.relu() * x, true, false),
    ];
    for (name, f, kink, kept_only) in cases {
        for keep in [false, true] {
            let tape = Tape::new();
            tape.set_keep_constants(keep);
            let x = tape.var(0.0).named("x");
            let y = f(x).named("f");
            let d1 = tape.grad(y, &[x])[0];
            let found = kink_affecting(&tape, x.index(), d1.index());
            let all: Vec<usize> = (0..=d1.index()).collect();
            let together = kinks_affecting(&tape, &all, d1.index());
            assert_eq!(together[x.index()], found, "{name} (keep {keep})");
            if kept_only && !keep {
                continue;
            }
            assert_eq!(found.is_some(), kink, "{name} (keep {keep}): {found:?}");
            if !kink {
                let d2 = d1.backward();
                assert_eq!(d2[x], 0.0, "{name}");
                let wrong = d2.compare(&[(x, 1.0)]);
                let text = wrong.to_string();
                assert!(!wrong.all_passed(), "{name}");
                assert!(
                    !text.contains("passes a kink"),
                    "{name} (keep {keep}): {text}"
                );
                assert!(d2.compare(&[(x, 0.0)]).all_passed(), "{name}");
            }
        }
    }
}

/// Where the recorded gradient cannot tell whether a kink's convention
/// matters at the next order, the note says the derivative *may* not exist:
/// relu(x)² and relu(x)³ record the same ∂f/∂x at 0 (relu's masked 0 is added
/// without the adjoint it multiplies), and only relu(x)² has no f″(0) (f″
/// jumps from 0 to 2; relu(x)³'s f″(0) is 0). The note was "signum′(0): a
/// convention; the derivative does not exist here" for both: false for
/// relu(x)³. A signum the user wrote keeps its note: its jump is theirs.
#[test]
fn a_recorded_conventions_kink_at_the_next_order_is_a_may_not() {
    use chainrule::explain::kink_affecting;
    type F = for<'t> fn(Var<'t>) -> Var<'t>;
    let cases: [(&str, F); 3] = [
        ("relu(x)²", |x| x.relu().square()),
        ("relu(x)³", |x| x.relu().powi(3)),
        ("relu(x)·x²", |x| x.relu() * x.square()),
    ];
    for (name, f) in cases {
        let tape = Tape::new();
        let x = tape.var(0.0);
        let d1 = tape.grad(f(x), &[x])[0];
        let (_, note) = kink_affecting(&tape, x.index(), d1.index()).expect(name);
        assert!(note.contains("may not exist"), "{name}: {note}");
        assert!(!note.contains("does not exist"), "{name}: {note}");
    }
    let tape = Tape::new();
    let x = tape.var(0.0);
    let y = x.powi(3).signum() * 5.0 + x;
    let (_, note) = kink_affecting(&tape, x.index(), y.index()).expect("signum(x³)");
    assert_eq!(
        note,
        "signum′(0): a convention; the derivative does not exist here"
    );
}

/// pow at 0^0: both partials are 0 there (∂/∂x exact, ∂/∂y a convention), and
/// neither has a derivative (∂/∂y along y = 0 is ln x; ∂/∂x jumps in y). The
/// recorded gradient's entries were plain constants: x^y's Hessian at (0, 0)
/// and x^x's f″(0) read 0 with no kink found, and `compare` took any second
/// derivative for a mismatch of the paths. Found by a fresh user's review.
#[test]
fn second_derivatives_through_pow_at_zero_to_the_zero_find_its_kink() {
    use chainrule::explain::kink_affecting;
    // x^y: every entry of the Hessian.
    let tape = Tape::new();
    let (x, y) = (tape.var(0.0), tape.var(0.0));
    let f = x.pow(y);
    let g = tape.grad(f, &[x, y]);
    // The recorded first derivatives are still the sweep's, bit for bit.
    let swept = f.backward();
    assert_eq!(g[0].value().to_bits(), swept[x].to_bits());
    assert_eq!(g[1].value().to_bits(), swept[y].to_bits());
    for (row, name) in [(g[0], "∂f/∂x"), (g[1], "∂f/∂y")] {
        for (v, wrt) in [(x, "x"), (y, "y")] {
            if name == "∂f/∂x" && wrt == "x" {
                // y(y−1)x^(y−2) along y = 0 is 0: no kink is claimed here.
                continue;
            }
            assert!(
                kink_affecting(&tape, v.index(), row.index()).is_some(),
                "∂({name})/∂{wrt} at 0^0: no kink found"
            );
        }
    }
    // x^x: f″ = x^x((ln x + 1)² + 1/x) → ∞ at 0.
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let d1 = tape.grad(x.pow(x), &[x])[0];
    assert!(kink_affecting(&tape, x.index(), d1.index()).is_some());
    let text = d1.backward().compare(&[(x, 5.0)]).to_string();
    assert!(text.contains("the tape passes a kink"), "{text}");
    assert!(!text.contains("no sum of the paths"), "{text}");
    // Away from 0^0 nothing changes: x^y at (2, 3) records no signum.
    let tape = Tape::new();
    let (x, y) = (tape.var(2.0), tape.var(3.0));
    let g = tape.grad(x.pow(y), &[x, y]);
    assert!(kink_affecting(&tape, y.index(), g[1].index()).is_none());
    assert!((g[0].value() - 12.0).abs() < 1e-12); // 3·2² (tolerance: rounding)
}

/// On atan2's branch cut (y = ±0, x < 0) f jumps in y, so ∂f/∂y exists nowhere
/// on it and neither do its derivatives; the recorded ∂f/∂y, x/(x² + y²), is
/// smooth there, and the Hessian's row of ∂f/∂y was plain numbers with no kink
/// found (`compare` against a hand value blamed the learner's paths). From a
/// new user's review.
#[test]
fn second_derivatives_on_atan2s_branch_cut_find_it() {
    use chainrule::explain::kink_affecting;
    for y0 in [0.0, -0.0] {
        let tape = Tape::new();
        let (y, x) = (tape.var(y0).named("y"), tape.var(-1.0).named("x"));
        let f = y.atan2(x);
        let g = tape.grad(f, &[y, x]);
        // The recorded first derivatives are the sweep's, bit for bit.
        let swept = f.backward();
        assert_eq!(g[0].value().to_bits(), swept[y].to_bits());
        assert_eq!(g[1].value().to_bits(), swept[x].to_bits());
        // Both entries of ∂f/∂y's row: found.
        for v in [y, x] {
            let kink = kink_affecting(&tape, v.index(), g[0].index());
            assert!(kink.is_some(), "∂(∂f/∂y) at y = {y0}: no kink found");
        }
        // ∂f/∂x is exact on the cut (f = ±π along it), and its ∂/∂y is
        // (y² − x²)/(x² + y²)² = −1: no kink, the value the tape gives.
        assert!(kink_affecting(&tape, y.index(), g[1].index()).is_none());
        assert!(kink_affecting(&tape, x.index(), g[1].index()).is_none());
        let row = g[1].backward();
        assert_eq!((row[y], row[x]), (-1.0, 0.0));
        // compare names the cut, not a slip of the learner's paths.
        let text = g[0].backward().compare(&[(y, 5.0)]).to_string();
        assert!(text.contains("the tape passes a kink"), "{text}");
        assert!(!text.contains("no sum of the paths"), "{text}");
    }
    // atan2 against a constant x < 0: the same for y.
    let tape = Tape::new();
    let y = tape.var(0.0);
    let d = tape.grad(y.atan2(-2.0), &[y])[0];
    assert!(kink_affecting(&tape, y.index(), d.index()).is_some());
    assert_eq!(d.value(), -0.5);
    // Off the cut nothing is marked.
    let tape = Tape::new();
    let (y, x) = (tape.var(0.0), tape.var(1.0));
    let g = tape.grad(y.atan2(x), &[y, x]);
    assert!(kink_affecting(&tape, y.index(), g[0].index()).is_none());
    assert!(kink_affecting(&tape, x.index(), g[0].index()).is_none());
}
