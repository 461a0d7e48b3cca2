//! The non-finite policy of `chainrule::backward`, rule by rule, on the cases that
//! motivated it. Reference values are PyTorch's float64 results where PyTorch is
//! principled (quoted beside each case); every case is also held against the
//! textbook sweep over the petgraph view, which must agree bit for bit.

use chainrule::graph::textbook_backward;
use chainrule::{Activation, Gradients, Tape, Var};

/// The fast sweep and the textbook sweep agree bit for bit (NaN with NaN).
fn same_as_textbook(g: &Gradients<'_>) {
    let textbook = textbook_backward(&g.tape().graph(), g.output());
    for (i, (&fast, &slow)) in g.as_slice().iter().zip(&textbook).enumerate() {
        assert!(
            fast.to_bits() == slow.to_bits() || (fast.is_nan() && slow.is_nan()),
            "node #{i}: fast sweep {fast:e}, textbook sweep {slow:e}"
        );
    }
}

// ---- Rule 1: only nodes on a path from the output contribute -------------------

#[test]
fn an_unused_side_branch_leaks_no_nan() {
    let tape = Tape::new();
    let x = tape.var(0.0);
    let _side = x.sqrt(); // ∂/∂x = +inf, on no path to y
    let _other = x.ln(); // ∂/∂x = +inf
    let y = x * 3.0;
    let g = y.backward();
    assert_eq!(g[x], 3.0);
    same_as_textbook(&g);
}

#[test]
fn a_node_recorded_after_the_output_takes_no_part() {
    let tape = Tape::new();
    let x = tape.var(-1.0);
    let y = x * 2.0;
    let _later = (y * 0.0).ln(); // NaN partials, after the output
    let g = y.backward();
    assert_eq!(g[x], 2.0);
    same_as_textbook(&g);
}

// ---- Rule 2: on a path, adjoint × partial is IEEE arithmetic --------------------

#[test]
fn sqrt_then_square_at_zero_is_nan_not_zero() {
    // d/dx (√x)² = 1 for x > 0, but at 0 the chain rule gives 2√0 · 1/(2√0) = 0 · ∞.
    // PyTorch (float64): torch.sqrt(x).pow(2).backward() at 0 gives nan.
    let tape = Tape::new();
    let x = tape.var(0.0);
    let g = x.sqrt().square().backward();
    assert!(g[x].is_nan(), "0 · ∞ must be NaN, got {}", g[x]);
    same_as_textbook(&g);
}

#[test]
fn a_zero_adjoint_times_an_infinite_partial_is_nan_also_two_hops_away() {
    // y = (√x · 0) + 1: the multiply by the constant 0 makes √x's adjoint exactly 0;
    // √x's partial at 0 is ∞. PyTorch: nan.
    let tape = Tape::new();
    let x = tape.var(0.0);
    let y = x.sqrt() * 0.0 + 1.0;
    let g = y.backward();
    assert!(g[x].is_nan());
    same_as_textbook(&g);
}

#[test]
fn powf_half_then_abs_below_zero_is_nan() {
    // (−1)^0.5 is NaN; PyTorch: x.pow(0.5).abs() at −1 gives gradient nan.
    let tape = Tape::new();
    let x = tape.var(-1.0);
    let y = x.powf(0.5).abs();
    assert!(y.value().is_nan());
    let g = y.backward();
    assert!(g[x].is_nan(), "got {}", g[x]);
    same_as_textbook(&g);
}

#[test]
fn an_infinite_adjoint_times_a_zero_partial_of_an_ordinary_op_is_nan() {
    // abs at 0 has partial 0 (a number, not a mask): ∞ · 0 = NaN. PyTorch:
    // torch.sqrt(torch.abs(x)) at 0 gives nan (grad · sign(0) with grad = ∞).
    let tape = Tape::new();
    let x = tape.var(0.0);
    let g = x.abs().sqrt().backward();
    assert!(g[x].is_nan());
    same_as_textbook(&g);
}

// ---- Rule 3: the operand a select op did not select gets exactly 0 ---------------

#[test]
fn relu_then_sqrt_below_zero_is_zero() {
    // relu is flat for x < 0: PyTorch's threshold_backward masks the ∞ from √0.
    for x0 in [-1.0, -0.0, 0.0] {
        let tape = Tape::new();
        let x = tape.var(x0);
        let g = x.relu().sqrt().backward();
        assert_eq!(g[x].to_bits(), 0.0f64.to_bits(), "x = {x0}: got {}", g[x]);
        same_as_textbook(&g);
    }
}

#[test]
fn a_relu_neuron_below_zero_feeding_sqrt_gives_zero_to_every_operand() {
    // Weights and inputs consecutive (a neuron over runs) and not (copied edges).
    for consecutive in [true, false] {
        let tape = Tape::new();
        let (w, x) = if consecutive {
            (tape.vars(&[0.5, -0.25]), tape.vars(&[-1.0, 2.0]))
        } else {
            let w0 = tape.var(0.5);
            let x0 = tape.var(-1.0);
            let w1 = tape.var(-0.25);
            let x1 = tape.var(2.0);
            (vec![w0, w1], vec![x0, x1])
        };
        let b = tape.var(0.0);
        let out = Var::neuron(&w, &x, b, Activation::Relu); // z = −1 < 0
        assert_eq!(out.value(), 0.0);
        let g = out.sqrt().backward();
        for v in w.iter().chain(&x).chain([&b]) {
            assert_eq!(
                g[*v],
                0.0,
                "consecutive = {consecutive}, node #{}",
                v.index()
            );
        }
        same_as_textbook(&g);
    }
}

#[test]
fn max_and_min_give_the_operand_not_selected_exactly_zero() {
    // max(a, b) with a = 0 > b = −1 picks a; √ at 0 sends ∞ back. PyTorch:
    // torch.sqrt(torch.maximum(a, b)) gives a.grad = inf, b.grad = 0.
    let tape = Tape::new();
    let a = tape.var(0.0);
    let b = tape.var(-1.0);
    let g = a.max(b).sqrt().backward();
    assert_eq!((g[a], g[b]), (f64::INFINITY, 0.0));
    same_as_textbook(&g);

    let tape = Tape::new();
    let a = tape.var(1.0);
    let b = tape.var(0.0);
    let g = a.min(b).sqrt().backward();
    assert_eq!((g[a], g[b]), (0.0, f64::INFINITY));
    same_as_textbook(&g);
}

#[test]
fn a_masked_edge_passes_zero_even_from_a_nan_adjoint() {
    // (0 · ∞) makes the adjoint of relu's output NaN; relu at −2 masks it.
    let tape = Tape::new();
    let x = tape.var(-2.0);
    let r = x.relu();
    let y = r.sqrt().sqrt() * 0.0; // adjoint of √r: 0; of r: 0 · ∞ = NaN
    let g = y.backward();
    assert_eq!(g[x], 0.0);
    same_as_textbook(&g);
}

// ---- Rule 4: a NaN value propagates NaN partials --------------------------------

#[test]
fn relu_abs_and_leaky_relu_at_nan_have_nan_derivatives() {
    let tape = Tape::new();
    let x = tape.var(f64::NAN);
    for y in [x.relu(), x.abs(), x.leaky_relu(0.01)] {
        let g = y.backward();
        assert!(g[x].is_nan(), "{}: got {}", tape.op(y.index()), g[x]);
        same_as_textbook(&g);
    }
    let w = tape.vars(&[1.0]);
    let b = tape.var(0.0);
    let neuron = Var::neuron(&w, &[x], b, Activation::Relu);
    let g = neuron.backward();
    assert!(g[b].is_nan() && g[w[0]].is_nan());
}

// ---- The hot path is unchanged for finite graphs ---------------------------------

#[test]
fn finite_graphs_still_agree_with_the_textbook_sweep() {
    let tape = Tape::new();
    let x = tape.var(0.7);
    let y = tape.var(-1.3);
    let r = (x * x + y * y).sqrt();
    let f = (x * y).exp().ln_1p_like() / r + x.relu() * y.max(x) - y.abs();
    let g = f.backward();
    same_as_textbook(&g);
    assert!(g[x].is_finite() && g[y].is_finite());
}

trait Ln1pLike {
    fn ln_1p_like(self) -> Self;
}
impl Ln1pLike for Var<'_> {
    fn ln_1p_like(self) -> Self {
        (self + 1.0).ln()
    }
}

// ---- The anomaly report names the op where a NaN gradient starts ----------------

#[test]
fn the_gradient_anomaly_names_the_op_where_nan_starts() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let r = x.sqrt().named("r");
    let y = (r.square() + 1.0).ln().named("y");
    let g = y.backward();
    assert!(g[x].is_nan());
    let start = g.gradient_anomaly().expect("a NaN gradient has a start");
    assert_eq!(start.node, r.index(), "{start}");
    assert_eq!(start.op, chainrule::Op::Sqrt);
    let (operand, _, partial, passed) = start.operand.clone().unwrap();
    assert_eq!((operand, partial), (x.index(), f64::INFINITY));
    assert!(passed.is_nan() && start.adjoint == 0.0);
    assert!(start.to_string().contains("sqrt"), "{start}");
}

#[test]
fn finite_gradients_have_no_gradient_anomaly() {
    let tape = Tape::new();
    let x = tape.var(-1.0);
    let _unused = x.ln(); // NaN on a side branch: not a gradient anomaly
    let g = (x.exp() + x * 2.0).backward();
    assert_eq!(g[x], (-1.0f64).exp() + 2.0);
    assert!(g.gradient_anomaly().is_none());

    // Masked by relu, the leaf's gradient is finite, but the relu node's own
    // gradient (∂y/∂relu = 1/(2√0)) is infinite: that is where the report points.
    let g = (x.relu().sqrt() + x * 2.0).backward();
    assert_eq!(g[x], 2.0);
    let start = g.gradient_anomaly().unwrap();
    assert_eq!(start.op, chainrule::Op::Sqrt, "{start}");
}

#[test]
fn an_overflowing_product_is_named_too() {
    let tape = Tape::new();
    let x = tape.var(400.0);
    let y = x.exp().named("e") * x.exp(); // ∂y/∂e = e^400: e^400 · e^400 overflows
    let g = y.backward();
    assert!(g[x].is_infinite());
    let start = g.gradient_anomaly().unwrap();
    assert!(start.to_string().contains("infinite"), "{start}");
}

/// Found by the fuzzer: ∂(a/b)/∂b = −a/b² is 0 for a = 0 and a subnormal b, but
/// −(a/b)·(1/b) computed 0 · ∞ = NaN there (1/b overflows). The partial is now
/// −(a/b)/b: a NaN is reported only where the derivative is indeterminate.
#[test]
fn div_by_a_subnormal_has_a_zero_partial_for_a_zero_numerator() {
    let tape = Tape::new();
    let a = tape.var(0.0);
    let b = tape.var(2.5e-320);
    let q = a / b;
    let g = q.backward();
    assert_eq!(g[b], 0.0, "−0/b² is 0, not NaN");
    assert_eq!(
        g[a],
        f64::INFINITY,
        "1/b overflows: the true 4e319 is past f64"
    );
    same_as_textbook(&g);
}

#[test]
fn a_relu_neuron_over_an_infinite_constant_input_masks_every_edge_at_z_below_zero() {
    // z = −0.5·∞ + 0 = −∞: relu′(z) = 0, so the neuron selects nothing and every
    // edge passes exactly 0 (rule 3), as `Var::neuron` over the same input does.
    // The partial ∂a/∂w was stored as 0 · ∞ = NaN: the sweep gave NaN, while the
    // textbook sweep, `Tape::grad` and `hessian` (which mask) gave 0, and
    // `gradient_anomaly` said "the sum of finite contributions is NaN".
    for n in [1, 2, 3, 5] {
        let tape = Tape::new();
        let ws: Vec<Var<'_>> = (0..n).map(|_| tape.var(-0.5)).collect();
        let b = tape.var(0.0);
        let inputs = vec![f64::INFINITY; n];
        let a = Var::neuron_const(&ws, &inputs, b, Activation::Relu);
        let y = a * 2.0 + 1.0;
        let g = y.backward();
        for &w in &ws {
            assert_eq!(g[w].to_bits(), 0f64.to_bits(), "{n} inputs: {}", g[w]);
        }
        assert_eq!(g[b], 0.0);
        assert!(g.gradient_anomaly().is_none());
        assert_eq!(tape.grad(y, &ws)[0].value(), 0.0);
        same_as_textbook(&g);
    }
    fn f<'t>(v: &[Var<'t>]) -> Var<'t> {
        Var::neuron_const(&v[..1], &[f64::INFINITY], v[1], Activation::Relu)
    }
    assert_eq!(chainrule::grad(f, &[-0.5, 0.0]), vec![0.0, 0.0]);
}

#[test]
fn signum_passes_exactly_zero_whatever_the_adjoint() {
    // signum′ is 0 (a convention at 0 only), and PyTorch's and JAX's sign give a
    // zero gradient whatever the incoming one: torch.sign(x) * inf at x = 2 has
    // x.grad = 0. As a select op, its edge is masked (rule 3), not 0 · ∞ = NaN.
    for x0 in [2.0, -3.0, 0.0, -0.0, f64::INFINITY] {
        let tape = Tape::for_replay();
        let x = tape.var(x0);
        let y = x.signum() * f64::INFINITY;
        let g = y.backward();
        assert!(
            g[x] == 0.0 && g[x].is_sign_positive(),
            "at {x0:e}: {:e}",
            g[x]
        );
        same_as_textbook(&g);
        assert_eq!(tape.grad(y, &[x])[0].value(), 0.0, "Tape::grad at {x0:e}");
        let mut program = tape.compile(&[y]).expect("compiles");
        program.set_inputs(&[x0]);
        program.forward();
        program.backward();
        assert_eq!(program.gradient(x.index()), 0.0, "replayed at {x0:e}");
    }
    // A NaN adjoint too (rule 3), but a NaN operand keeps its NaN partial (rule 4).
    let tape = Tape::new();
    let x = tape.var(1.0);
    let g = (x.signum() * f64::NAN).backward();
    assert_eq!(g[x], 0.0);
    let x = tape.var(f64::NAN);
    assert!(x.signum().backward()[x].is_nan());
}
