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
