//! An audit of the higher derivatives (`Tape::grad`, `hessian`,
//! `hessian_vector_product`): a caller's mistake gets a clear panic at the
//! caller's line, at every point where recording the gradient can fail.

use chainrule::{Activation, Tape, Var};

#[path = "common/panics.rs"]
mod panics;
use panics::panic_of;

type Case = (&'static str, for<'t> fn(&[Var<'t>]) -> Var<'t>, Vec<f64>);

/// Functions whose recorded gradient goes through each way `Tape::grad`
/// records a partial: every unary op (at points where its partial is taken
/// from a smoother expression and where it is not), the ops with two operands
/// and with a constant at ordinary points and at their edges, logsumexp, the
/// fused neurons and losses, a NaN partial, a masked edge over an infinite
/// partial, and an input the output does not use.
fn cases() -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    for rule in chainrule::ops::UNARY {
        let _ = rule; // each unary op through `Scalar` below
    }
    macro_rules! unary {
        ($($m:ident),*) => {
            $(
                for x in [0.3, 0.7, 3.0, 1e200, -40.0, 1e-310] {
                    cases.push((stringify!($m), |v| v[0].$m() * v[1], vec![x, 1.5]));
                }
            )*
        };
    }
    unary!(
        sigmoid, tanh, relu, softplus, logsigmoid, silu, exp, exp_m1, exp2, ln, ln_1p, log2, log10,
        sqrt, cbrt, abs, signum, sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh,
        recip, square, erf
    );
    let points: [[f64; 2]; 6] = [
        [0.3, 1.7],
        [-1.3, 3.0],
        [1e-300, 1e-300],
        [1e300, 1e300],
        [1e-160, 2.5],
        [0.0, 1.0],
    ];
    for p in points {
        let p = p.to_vec();
        cases.push(("pow", |v| v[0].pow(v[1]), p.clone()));
        cases.push(("powf", |v| v[0].powf(1e-3) * v[1], p.clone()));
        cases.push((
            "powf big",
            |v| v[0].abs().powf(9007199254740993.0) * v[1],
            p.clone(),
        ));
        cases.push(("powi", |v| v[0].powi(3) * v[1].powi(-2), p.clone()));
        cases.push(("atan2", |v| v[0].atan2(v[1]), p.clone()));
        cases.push(("atan2 const", |v| v[0].atan2(1e-300) * v[1], p.clone()));
        cases.push((
            "const atan2",
            |v| Var::const_atan2(1e-300, v[0]) * v[1],
            p.clone(),
        ));
        cases.push(("hypot", |v| v[0].hypot(v[1]), p.clone()));
        cases.push(("hypot const", |v| v[0].hypot(1e-310) * v[1], p.clone()));
        cases.push(("div", |v| v[0] / v[1], p.clone()));
        cases.push(("log", |v| v[0].log(0.5) + v[1].log(1e300), p.clone()));
        cases.push(("mul_add", |v| v[0].mul_add(v[1], v[0]) * v[1], p.clone()));
        cases.push((
            "max min clamp",
            |v| v[0].max(v[1]) * v[0].min(v[1]) * v[0].clamp(-1.0, 1.0),
            p.clone(),
        ));
        cases.push((
            "logsumexp",
            |v| Var::logsumexp(&[v[0], v[1], v[0] * v[1]]),
            p.clone(),
        ));
        cases.push((
            "sigmoid neuron",
            |v| Var::neuron(&[v[0]], &[v[1]], v[1], Activation::Sigmoid),
            p.clone(),
        ));
        cases.push((
            "tanh neuron",
            |v| Var::neuron(&[v[0]], &[v[1]], v[0], Activation::Tanh),
            p.clone(),
        ));
        cases.push((
            "relu neuron",
            |v| Var::neuron(&[v[0]], &[v[1]], v[1], Activation::Relu),
            p.clone(),
        ));
        cases.push((
            "weighted sum",
            |v| Var::weighted_sum(&[v[0]], &[v[1]], v[1]).square(),
            p.clone(),
        ));
        cases.push((
            "sigmoid neuron const",
            |v| Var::neuron_const(&[v[0], v[1]], &[0.3, 0.5], v[1], Activation::Sigmoid),
            p.clone(),
        ));
        cases.push((
            "tanh neuron const",
            |v| Var::neuron_const(&[v[0], v[1]], &[0.3, 0.5], v[1], Activation::Tanh),
            p.clone(),
        ));
        cases.push((
            "weighted sum const",
            |v| Var::weighted_sum_const(&[v[0], v[1]], &[0.3, 0.5], v[1]).square(),
            p.clone(),
        ));
        cases.push((
            "mse",
            |v| Var::mean_squared_error(&[v[0], v[1]], &[0.3, 0.5]),
            p.clone(),
        ));
        cases.push((
            "hse",
            |v| Var::half_squared_error(&[v[0] * v[1]], &[0.3]),
            p.clone(),
        ));
    }
    cases.push(("nan partial", |v| v[0].relu() * v[1], vec![f64::NAN, 2.0]));
    cases.push((
        "masked over infinite",
        |v| (v[0].sqrt() * v[1]).relu(),
        vec![0.0, -1.0],
    ));
    cases.push(("unused input", |v| v[0].sin(), vec![0.5, 2.0]));
    cases
}

/// `Tape::grad` records a few nodes per edge: on a tape with room for the
/// function but not for its whole recorded gradient, it must panic "the tape is
/// full" at the line that called it, whichever push finds the tape full. (It
/// panicked inside the library, at the op that found it full: src/ops/unary.rs,
/// src/higher.rs, src/ops/binary.rs.) Every limit from the function's nodes to
/// one short of the gradient's is tried, on tapes that keep their constants
/// (as `hessian` records) and on tapes that do not, at first and second order.
#[test]
fn a_full_tape_panics_at_the_line_that_called_tape_grad() {
    let mut checked = 0;
    for (name, f, x) in cases() {
        for keep in [false, true] {
            for order in [1, 2] {
                // The nodes of f, and of its recorded gradients, with no limit.
                let tape = Tape::new();
                tape.set_keep_constants(keep);
                let xs = tape.vars(&x);
                let mut y = f(&xs);
                for _ in 1..order {
                    y = tape.grad(y, &xs)[0];
                }
                let before = tape.len();
                let _ = tape.grad(y, &xs);
                let after = tape.len();
                for limit in before..after {
                    let tape = Tape::with_max_nodes(limit);
                    tape.set_keep_constants(keep);
                    let xs = tape.vars(&x);
                    let mut y = f(&xs);
                    for _ in 1..order {
                        y = tape.grad(y, &xs)[0];
                    }
                    assert_eq!(tape.len(), before);
                    let line = line!() + 2;
                    let (location, message) =
                        panic_of(|| drop(tape.grad(y, &xs))).expect("a full tape panics");
                    assert!(
                        message.contains("the tape is full"),
                        "{name} at {x:?} (keep {keep}, order {order}, limit {limit}): {message}"
                    );
                    assert_eq!(
                        location,
                        format!("tests/higher_audit.rs:{line}"),
                        "{name} at {x:?} (keep {keep}, order {order}, limit {limit} of {before}..{after}): \
                         the panic is not at the caller's line"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "{checked} limits checked");
}

/// A `Var` of another tape among `wrt` panics at the caller's line with a
/// message that says so. (It said "Vars of two different tapes were combined",
/// though nothing was combined, where the docs promised the message for an
/// output of another tape.)
#[test]
fn a_wrt_of_another_tape_is_named_as_such() {
    let tape = Tape::new();
    let other = Tape::new();
    let x = tape.var(1.0);
    let z = other.var(2.0);
    let y = x.sin();
    let line = line!() + 2;
    let (location, message) =
        panic_of(|| drop(tape.grad(y, &[x, z]))).expect("a wrt of another tape panics");
    assert_eq!(location, format!("tests/higher_audit.rs:{line}"));
    assert!(
        message.contains("Tape::grad was given a Var of another tape")
            && message.contains("wrt[1]"),
        "{message}"
    );
    let line = line!() + 2;
    let (location, message) =
        panic_of(|| drop(other.grad(y, &[x]))).expect("an output of another tape panics");
    assert_eq!(location, format!("tests/higher_audit.rs:{line}"));
    assert!(message.contains("an output of another tape"), "{message}");
}

/// The recorded gradient's value is the sweep's, the sign of a zero included:
/// the sweep adds every contribution to an adjoint of +0, so 0 + (−0) is +0.
/// (The recorded gradient took a first contribution of −0 as it was: −0 for
/// x·(−0), for ∂(a·b)/∂a with b = −0, then 1/g was −∞ where the sweep's is +∞.)
/// Compared bit for bit: both sides are exact here (products by ±0 and sums of
/// zeros), so no tolerance.
#[test]
fn the_recorded_gradient_has_the_sweeps_sign_of_zero() {
    type Zero = (&'static str, for<'t> fn(&[Var<'t>]) -> Var<'t>, [f64; 2]);
    let cases: [Zero; 7] = [
        ("x * -0", |v| v[0] * -0.0, [0.0, 1.0]),
        ("x * -0 at 3", |v| v[0] * -0.0, [3.0, 1.0]),
        ("a * b, b = -0", |v| v[0] * v[1], [2.0, -0.0]),
        ("sin(x) * -0", |v| v[0].sin() * -0.0, [0.0, 1.0]),
        ("x * -0 twice", |v| v[0] * -0.0 + v[0] * -0.0, [1.0, 1.0]),
        ("-(x * 0)", |v| -(v[0] * 0.0), [1.0, 1.0]),
        ("x * y * -0 + y", |v| v[0] * v[1] * -0.0 + v[1], [1.5, -2.0]),
    ];
    for (name, f, x) in cases {
        let tape = Tape::new();
        let xs = tape.vars(&x);
        let y = f(&xs);
        let swept = y.backward();
        let recorded = tape.grad(y, &xs);
        for k in 0..2 {
            assert_eq!(
                recorded[k].value().to_bits(),
                swept[xs[k]].to_bits(),
                "{name}, ∂/∂x{k}: recorded {:?}, swept {:?}",
                recorded[k].value(),
                swept[xs[k]]
            );
        }
    }
    // Derivatives are unchanged by the + 0: x·y·(−0) adds nothing to x·y's Hessian.
    let h = chainrule::hessian(|v| v[0] * v[1] * -0.0 + v[0] * v[1], &[1.5, -2.0]);
    assert_eq!(h, vec![vec![0.0, 1.0], vec![1.0, 0.0]]);
}

#[path = "../examples/hessian_cost.rs"]
#[allow(dead_code)]
mod hessian_cost;

/// The README's table of what a Hessian costs gives the nodes of f and of the
/// tape after `tape.grad`, as `examples/hessian_cost.rs` prints them. (It said
/// 74 (+39) for E(w1..w8), where the example prints 80 (+45).) Node counts are
/// exact, so compared exactly; the times are the machine's and not checked.
#[test]
fn the_readme_table_of_hessian_costs_has_the_examples_node_counts() {
    let readme = include_str!("../README.md");
    type Error = for<'t> fn(&[Var<'t>]) -> Var<'t>;
    let rows: [(&str, Error, &[f64]); 2] = [
        (
            "E(w1..w8)",
            hessian_cost::error_of_8,
            &hessian_cost::WEIGHTS,
        ),
        (
            "E(w5..w8)",
            hessian_cost::error_of_4,
            &hessian_cost::WEIGHTS[4..],
        ),
    ];
    for (name, f, w) in rows {
        let tape = Tape::new();
        let xs = tape.vars(w);
        let y = f(&xs);
        let before = tape.len();
        let _ = tape.grad(y, &xs);
        let after = tape.len();
        let row = format!(
            "| {name} | {before} | {after} (+{}) | 1 recorded + {} |",
            after - before,
            w.len()
        );
        assert!(
            readme.contains(&row),
            "the README has no row starting {row}"
        );
    }
}

/// Which entries of `Tape::grad` are labelled `∂y/∂x`, as its docs now say:
/// a node the call recorded; an entry that is a node already on the tape keeps
/// its label, and one that is the same node as an earlier entry carries that
/// one's. (The docs said every returned `Var` is labelled ∂y/∂x: for
/// y = sin(a + b) the entry for b read ∂y/∂a.)
#[test]
fn the_recorded_gradients_labels_are_as_documented() {
    let tape = Tape::new();
    let a = tape.var(1.0).named("a");
    let b = tape.var(2.0).named("b");
    let y = (a + b).sin().named("y");
    let g = tape.grad(y, &[a, b]);
    assert_eq!(g[0].index(), g[1].index());
    assert_eq!(tape.label(g[1].index()).as_deref(), Some("∂y/∂a"));
    let p = (a * b).named("p");
    let g = tape.grad(p, &[a, b]);
    assert_eq!((g[0].index(), g[1].index()), (b.index(), a.index()));
    assert_eq!(tape.label(g[0].index()).as_deref(), Some("b"));
    let q = (a * 3.0 + b * b).named("q");
    let g = tape.grad(q, &[a, b]);
    assert_eq!(tape.label(g[0].index()).as_deref(), Some("∂q/∂a"));
    assert_eq!(tape.label(g[1].index()).as_deref(), Some("∂q/∂b"));
}

/// At x = ±∞ a unary op with a finite first derivative has the limits of its
/// second and third derivatives, 0, as the first is the limit there (erf′(∞) =
/// 0, softplus′(∞) = 1). (erf at ±∞, cbrt at ±∞ and acosh at +∞ had NaN second
/// and third derivatives: their rules' expressions meet 0·∞ there, where σ,
/// tanh, atan, ln, sqrt, recip and the others gave 0.) Exact: every factor
/// is 0 or a constant, so compared exactly.
#[test]
fn second_and_third_derivatives_at_infinity_are_the_limits_where_the_first_is_finite() {
    let mut checked = Vec::new();
    for rule in chainrule::ops::UNARY {
        for x in [f64::INFINITY, f64::NEG_INFINITY] {
            let tape = Tape::new();
            let xv = tape.var(x);
            let y = (rule.record)(xv);
            let d1 = tape.grad(y, &[xv])[0];
            if !d1.value().is_finite() {
                continue; // exp, sinh, square…: ±∞ or NaN (sin, asin): not a limit of 0
            }
            assert_eq!(d1.value(), y.backward()[xv], "{} at {x}", rule.name);
            let d2 = tape.grad(d1, &[xv])[0];
            let d3 = d2.backward()[xv];
            assert_eq!(
                (d2.value(), d3),
                (0.0, 0.0),
                "{} at {x}: first derivative {}, second and third should be 0",
                rule.name,
                d1.value()
            );
            checked.push(rule.name);
        }
    }
    for name in [
        "erf", "cbrt", "acosh", "atan", "sigmoid", "softplus", "ln", "recip",
    ] {
        assert!(checked.contains(&name), "{name} was not checked at ±∞");
    }
    // Through `hessian` too, in a function of two variables.
    let h = chainrule::hessian(|v| v[0].erf() * v[1], &[f64::INFINITY, 2.0]);
    assert_eq!(h, vec![vec![0.0, 0.0], vec![0.0, 0.0]]);
}

/// A fused neuron has the Hessian of the same neuron in plain operators where
/// z, an input or a product is infinite too: NaN where a path meets 0·∞ in
/// both (σ(w·x + b) at w = ∞, whose ∂/∂x is σ′·w = 0·∞), 0 where the
/// derivatives' limits are (tanh(w·x + b) at w = x = 1e308, z overflowed).
/// (With a unary op's partial at ±∞ taken as a constant, as first written in
/// this audit, the plain spelling lost the 0·∞ paths and differed from the
/// fused neuron, σ at (∞, ∞, ∞) first.) Compared as printed, so NaN equals NaN and −0 differs from 0.
#[test]
fn fused_neurons_have_the_plain_hessian_at_infinite_points() {
    let values = [
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e308,
        -1e308,
        1.0,
        -0.5,
        0.0,
    ];
    for act in [Activation::Sigmoid, Activation::Tanh, Activation::Relu] {
        for a in values {
            for b in values {
                for c in values {
                    let p = [a, b, c];
                    let plain = chainrule::hessian(
                        |v| {
                            let z = v[0] * v[1] + v[2];
                            match act {
                                Activation::Sigmoid => z.sigmoid(),
                                Activation::Tanh => z.tanh(),
                                _ => z.relu(),
                            }
                        },
                        &p,
                    );
                    let fused =
                        chainrule::hessian(|v| Var::neuron(&[v[0]], &[v[1]], v[2], act), &p);
                    assert_eq!(
                        format!("{fused:?}"),
                        format!("{plain:?}"),
                        "{act:?} at {p:?}"
                    );
                }
            }
        }
    }
}

/// A neuron over constant inputs (`Var::neuron_const`) has the Hessian of
/// σ(w·c + w₂·2 + b) in plain operators where z is ±∞, an infinite input c
/// included: NaN where a path through z meets 0·∞ (∂z/∂w = c = ∞), as in the
/// plain spelling. (Its a′ = 0 was taken as the stored constants, which drop
/// that path: entry (b, w) was 0 where the plain spelling's is NaN, and
/// differed from entry (w, b).) Inputs of 1e308 are left out of c: there a
/// plain-operator path overflows on its own (1e308·4 in tanh″'s route), which
/// the docs allow. Compared as printed: NaN equals NaN.
#[test]
fn neurons_over_constants_have_the_plain_hessian_where_z_is_infinite() {
    // The neuron σ(w·c + w₂·2 + b) at v = (w, b, w₂), fused and in plain operators.
    fn fused_neuron<'t>(v: &[Var<'t>], c: f64, act: Activation) -> Var<'t> {
        Var::neuron_const(&[v[0], v[2]], &[c, 2.0], v[1], act)
    }
    fn plain_neuron<'t>(v: &[Var<'t>], c: f64, act: Activation) -> Var<'t> {
        let z = v[0] * c + v[2] * 2.0 + v[1];
        match act {
            Activation::Sigmoid => z.sigmoid(),
            Activation::Tanh => z.tanh(),
            _ => z.relu(),
        }
    }
    let values = [f64::INFINITY, f64::NEG_INFINITY, 1e308, 1.0, -0.5, 0.0];
    let constants = [f64::INFINITY, f64::NEG_INFINITY, 1.0, -0.5, 0.0];
    for act in [Activation::Sigmoid, Activation::Tanh, Activation::Relu] {
        for c in constants {
            for w in values {
                for b in values {
                    for w2 in values {
                        let p = [w, b, w2];
                        let fused = chainrule::hessian(|v| fused_neuron(v, c, act), &p);
                        let plain = chainrule::hessian(|v| plain_neuron(v, c, act), &p);
                        // Where the first derivatives differ, so may the
                        // rows: a relu neuron at z ≤ 0 passes exactly 0 to
                        // every operand (0 for ∂/∂w), where the plain spelling
                        // meets 0·∞ below relu's masked edge (NaN, whose row
                        // is NaN: no derivative of it to take). Every other
                        // row is compared.
                        let fused_g = chainrule::grad(|v| fused_neuron(v, c, act), &p);
                        let plain_g = chainrule::grad(|v| plain_neuron(v, c, act), &p);
                        for j in 0..3 {
                            if format!("{:?}", fused_g[j]) != format!("{:?}", plain_g[j]) {
                                assert!(
                                    act == Activation::Relu && plain_g[j].is_nan(),
                                    "{act:?} at {p:?}, c = {c}: ∂/∂v{j} {} against {}",
                                    fused_g[j],
                                    plain_g[j]
                                );
                                continue;
                            }
                            assert_eq!(
                                format!("{:?}", fused[j]),
                                format!("{:?}", plain[j]),
                                "{act:?} at w, b, w₂ = {p:?}, c = {c}, row {j}"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// Whether a neuron over constant inputs is at z = ±∞ was decided on z summed
/// bias first, where the neuron sums the products first: with products 1e308
/// and −1e308 and a bias of 1e308 the neuron's z is 1e308 (finite, saturated:
/// the stored constants, a Hessian of 0, as at a bias of −1e308), but the
/// bias-first sum overflowed, and the Hessian of the tanh neuron came out NaN
/// at b = 1e308 and 0 at b = −1e308.
#[test]
fn a_neurons_z_is_infinite_as_the_neuron_summed_it() {
    let c: [f64; 2] = [1e308, -1e308];
    for activation in [Activation::Sigmoid, Activation::Tanh] {
        for b in [1e308_f64, -1e308] {
            let z = (1.0 * c[0] + 1.0 * c[1]) + b;
            assert!(z.is_finite());
            let h = chainrule::hessian(
                |v| Var::neuron_const(&[v[0], v[1]], &c, v[2], activation),
                &[1.0, 1.0, b],
            );
            assert_eq!(h, vec![vec![0.0; 3]; 3], "{activation:?}, b = {b:e}");
        }
    }
}
