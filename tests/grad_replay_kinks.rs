//! A gradient recorded with `Tape::grad` and compiled replays a kink's partial
//! afresh at new inputs: relu, abs, leaky_relu, max, min, max and min with a
//! constant, clamp and signum, relu's masked edge included, at first and
//! second order. The replay is compared with a fresh `Tape::grad` recording at
//! the new inputs, exactly: every value here is a sum of products of ±1, 0, α
//! and the inputs, computed in the same order by both (`==`, so +0 and −0 are
//! equal, or both NaN), and `Program::check` finds no node that differs but
//! where a zero's sign was handled afresh (see `replays_across`).

use chainrule::replay::{Divergence, Program};
use chainrule::{Op, Tape, Var};

/// A function of the leaves whose gradient is recorded.
type Body = for<'t> fn(&[Var<'t>]) -> Var<'t>;

/// The leaves at `at`, `f` over them, and its gradient with respect to every
/// leaf, recorded (`Tape::grad`).
fn gradient<'t>(tape: &'t Tape, at: &[f64], f: Body) -> Vec<Var<'t>> {
    let leaves: Vec<Var<'t>> = at.iter().map(|&a| tape.var(a)).collect();
    tape.grad(f(&leaves), &leaves)
}

/// The gradient of the gradient's entry `k` (a row of the Hessian), recorded.
fn second<'t>(tape: &'t Tape, at: &[f64], f: Body, k: usize) -> Vec<Var<'t>> {
    let leaves: Vec<Var<'t>> = at.iter().map(|&a| tape.var(a)).collect();
    let g = tape.grad(f(&leaves), &leaves);
    tape.grad(g[k], &leaves)
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

/// The values of the outputs of `record` freshly recorded at `at`.
fn fresh(at: &[f64], record: impl for<'t> Fn(&'t Tape, &[f64]) -> Vec<Var<'t>>) -> Vec<f64> {
    let tape = Tape::for_replay();
    record(&tape, at).iter().map(|g| g.value()).collect()
}

/// Compiles `record` at `from`, replays it at `to`: the outputs equal a fresh
/// recording's at `to` (which differ from those at `from`: the case crosses a
/// kink that matters), and `Program::check` passes. The first failure, as
/// text.
fn replays_across(
    name: &str,
    from: &[f64],
    to: &[f64],
    record: impl for<'t> Fn(&'t Tape, &[f64]) -> Vec<Var<'t>> + Copy,
) -> Result<(), String> {
    let tape = Tape::for_replay();
    let outputs = record(&tape, from);
    let mut program: Program = tape.compile(&outputs).unwrap();
    program.set_inputs(to);
    program.forward();
    let replayed: Vec<f64> = (0..outputs.len()).map(|k| program.output(k)).collect();
    let want = fresh(to, record);
    let frozen = fresh(from, record);
    assert!(
        want.iter().zip(&frozen).any(|(&w, &f)| !same(w, f)),
        "{name}: from {from:?} to {to:?} crosses no kink that matters"
    );
    if !replayed.iter().zip(&want).all(|(&r, &w)| same(r, w)) {
        return Err(format!(
            "{name}: recorded at {from:?}, replayed at {to:?}: {replayed:?}, \
             a fresh recording there gives {want:?} (at {from:?}: {frozen:?})"
        ));
    }
    match program.check(to, record) {
        Ok(()) => Ok(()),
        // The one difference `check` is documented to name here: a recorded
        // adjoint whose first contribution is −0 at one point and not at the
        // other gets `+ 0` at the first only (so that the gradient has the
        // sweep's +0); the values are equal.
        Err(Divergence::Op {
            replayed, recorded, ..
        }) if replayed == Op::AddConst || recorded == Op::AddConst => Ok(()),
        Err(d) => Err(format!("{name}: from {from:?} to {to:?}: {d}")),
    }
}

/// Panics with every failure of `results`.
fn all_pass(results: Vec<Result<(), String>>) {
    let failures: Vec<String> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each kink op's gradient, recorded on one side of its kink and replayed on
/// the other, both ways (relu's masked edge: recorded at x < 0, where relu′ is
/// 0 and the edge passes nothing, replayed at x > 0).
#[test]
fn each_kink_ops_recorded_gradient_replays_across_its_kink() {
    let cases: &[(&str, Body, [f64; 3], [f64; 3])] = &[
        (
            "abs",
            |v| v[0].abs() * v[1],
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "relu",
            |v| v[0].relu() * v[1],
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "relu, masked edge",
            |v| v[0].relu() * v[1],
            [-1.0, 2.0, 0.0],
            [1.5, 3.0, 0.0],
        ),
        (
            "relu of a sum",
            |v| (v[0] + v[2]).relu() * v[1],
            [-1.0, 2.0, 0.5],
            [1.5, 3.0, 0.5],
        ),
        (
            "leaky_relu 0.1",
            |v| v[0].leaky_relu(0.1) * v[1],
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "leaky_relu 0.1 back",
            |v| v[0].leaky_relu(0.1) * v[1],
            [-1.0, 2.0, 0.0],
            [1.5, 3.0, 0.0],
        ),
        (
            "leaky_relu 0",
            |v| v[0].leaky_relu(0.0) * v[1],
            [-1.0, 2.0, 0.0],
            [1.5, 3.0, 0.0],
        ),
        (
            "leaky_relu −1",
            |v| v[0].leaky_relu(-1.0) * v[1],
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "leaky_relu 3",
            |v| v[0].leaky_relu(3.0) * v[1],
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "leaky_relu 3 back",
            |v| v[0].leaky_relu(3.0) * v[1],
            [-1.0, 2.0, 0.0],
            [1.5, 3.0, 0.0],
        ),
        (
            "leaky_relu −3",
            |v| v[0].leaky_relu(-3.0) * v[1],
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "leaky_relu −3 back",
            |v| v[0].leaky_relu(-3.0) * v[1],
            [-1.0, 2.0, 0.0],
            [1.5, 3.0, 0.0],
        ),
        (
            "max",
            |v| v[0].max(v[1]) * v[2],
            [2.0, 1.0, 3.0],
            [1.0, 2.0, 3.0],
        ),
        (
            "max back",
            |v| v[0].max(v[1]) * v[2],
            [1.0, 2.0, 3.0],
            [2.0, 1.0, 3.0],
        ),
        (
            "min",
            |v| v[0].min(v[1]) * v[2],
            [2.0, 1.0, 3.0],
            [1.0, 2.0, 3.0],
        ),
        (
            "min back",
            |v| v[0].min(v[1]) * v[2],
            [1.0, 2.0, 3.0],
            [2.0, 1.0, 3.0],
        ),
        (
            "max with a constant",
            |v| v[0].max(0.5) * v[1],
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "max with a constant back",
            |v| v[0].max(0.5) * v[1],
            [-1.0, 2.0, 0.0],
            [1.5, 3.0, 0.0],
        ),
        (
            "min with a constant",
            |v| v[0].min(0.5) * v[1],
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "min with a constant back",
            |v| v[0].min(0.5) * v[1],
            [-1.0, 2.0, 0.0],
            [1.5, 3.0, 0.0],
        ),
        (
            "clamp, inside to below",
            |v| v[0].clamp(-1.0, 1.0) * v[1],
            [0.5, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
        (
            "clamp, inside to above",
            |v| v[0].clamp(-1.0, 1.0) * v[1],
            [0.5, 2.0, 0.0],
            [1.5, 3.0, 0.0],
        ),
        (
            "clamp, below to inside",
            |v| v[0].clamp(-1.0, 1.0) * v[1],
            [-1.5, 2.0, 0.0],
            [0.5, 3.0, 0.0],
        ),
        (
            "clamp, above to inside",
            |v| v[0].clamp(-1.0, 1.0) * v[1],
            [1.5, 2.0, 0.0],
            [0.5, 3.0, 0.0],
        ),
        (
            "clamp, infinite bound",
            |v| v[0].clamp(f64::NEG_INFINITY, 1.0) * v[1],
            [1.5, 2.0, 0.0],
            [-1e300, 3.0, 0.0],
        ),
        // signum′ is 0 on both sides: its gradient is right replayed anywhere
        // (the case crosses abs's kink, which matters).
        (
            "signum",
            |v| v[0].signum() * v[1] + v[0].abs(),
            [1.0, 2.0, 0.0],
            [-1.5, 3.0, 0.0],
        ),
    ];
    all_pass(
        cases
            .iter()
            .map(|&(name, f, from, to)| {
                replays_across(name, &from, &to, |tape, at| gradient(tape, at, f))
            })
            .collect(),
    );
    // At the recording point a masked edge under an infinite adjoint still
    // passes exactly 0, not 0·∞ (it is recorded as masked, as before).
    let tape = Tape::for_replay();
    let (x, y) = (tape.var(-1.0), tape.var(f64::INFINITY));
    let g = tape.grad(x.relu() * y, &[x, y]);
    assert_eq!((g[0].value(), g[1].value()), (0.0, 0.0));
    // max(x, x) ties at every x: its partials are ½ and ½ everywhere, kept
    // as the stored constants (H(x − x) would be 1).
    let (x, y) = (tape.var(1.5), tape.var(2.0));
    let g = tape.grad(x.max(x) * y, &[x]);
    assert_eq!(g[0].value(), 2.0);
}

/// A case of a second derivative: its name, f, the entry of the gradient
/// differentiated again, the point recorded at and the point replayed at.
type SecondCase = (&'static str, Body, usize, [f64; 2], [f64; 2]);

/// Second derivatives through a kink's recorded partial: a row of the Hessian,
/// recorded and compiled on one side, replayed on the other.
#[test]
fn a_recorded_second_derivative_replays_across_a_kink() {
    let cases: &[SecondCase] = &[
        // ∂²(|x|·x·y)/∂x² = 2·sign(x)·y.
        (
            "abs",
            |v| v[0].abs() * v[0] * v[1],
            0,
            [1.0, 2.0],
            [-1.5, 3.0],
        ),
        // ∂²(relu(x)²·y)/∂x∂· : 2·H(x)·y and 2·relu(x).
        (
            "relu",
            |v| v[0].relu().square() * v[1],
            0,
            [-1.0, 2.0],
            [1.5, 3.0],
        ),
        (
            "max",
            |v| v[0].max(v[1]).square(),
            1,
            [2.0, 1.0],
            [1.0, 2.0],
        ),
        (
            "clamp",
            |v| v[0].clamp(0.0, 1.0).square() * v[1],
            0,
            [0.5, 2.0],
            [1.5, 3.0],
        ),
    ];
    all_pass(
        cases
            .iter()
            .map(|&(name, f, k, from, to)| {
                replays_across(name, &from, &to, |tape, at| second(tape, at, f, k))
            })
            .collect(),
    );
}

/// A relu MLP (weighted sums and relus, squared), its gradient recorded where
/// one hidden unit is off, replayed where it is on and another is off.
#[test]
fn a_relu_networks_recorded_gradient_replays_where_other_units_are_on() {
    fn mlp<'t>(v: &[Var<'t>]) -> Var<'t> {
        let (x, w) = (&v[..2], &v[2..]);
        let mut out = w[12];
        for k in 0..3 {
            let h = (w[3 * k] * x[0] + w[3 * k + 1] * x[1] + w[3 * k + 2]).relu();
            out += w[9 + k] * h;
        }
        out.square()
    }
    #[rustfmt::skip]
    let from = [
        0.5, -1.0,
        1.0, 0.5, 0.1, // z = 0.1: on
        -1.0, 0.25, 0.2, // z = −0.55: off
        0.3, -0.2, 0.4, // z = 0.75: on
        0.7, -0.6, 0.9, 0.05,
    ];
    let mut to = from;
    to[4] = -0.2; // z = −0.2: off
    to[7] = 1.0; // z = 0.25: on
    all_pass(vec![replays_across("relu MLP", &from, &to, |tape, at| {
        gradient(tape, at, mlp)
    })]);
}
