//! Derivatives of derivatives: a backward pass that records instead of
//! computing ([`Tape::grad`]), and the function transforms built on it and on
//! the plain sweep: [`grad`], [`value_and_grad`], [`jacobian`], [`hessian`],
//! [`hessian_vector_product`].
//!
//! # A recorded backward pass
//!
//! [`Var::backward`] computes adjoints as plain `f64`: nothing can be
//! differentiated again. [`Tape::grad`] runs the same reverse sweep, but every
//! adjoint update `adjoint[operand] += adjoint[node] · partial` is *recorded* on
//! the same tape, with the partial itself recorded from the op's own rule (for a
//! unary op, the `Scalar` rule of the table in [`crate::ops`]; `∂(a·b)/∂a` is the
//! node `b`). The gradient comes back as [`Var`]s, so `∂²y/∂x²` is one more
//! ordinary sweep, and any order works:
//!
//! ```
//! use chainrule::Tape;
//!
//! let tape = Tape::new();
//! let x = tape.var(2.0);
//! let y = x.powi(3);                    // x³
//! let [dy] = tape.grad(y, &[x])[..] else { unreachable!() };
//! assert_eq!(dy.value(), 12.0);         // 3x²
//! let [d2y] = tape.grad(dy, &[x])[..] else { unreachable!() };
//! assert_eq!(d2y.value(), 12.0);        // 6x
//! assert_eq!(d2y.backward()[x], 6.0);   // the third derivative, by the plain sweep
//! ```
//!
//! The non-finite policy of [`crate::backward`] holds at every order: an edge a
//! select op did not select (relu for x ≤ 0, the operand `max` did not pick) is
//! masked, and records nothing, so it passes exactly 0 whatever the adjoint; every
//! other edge records `adjoint · partial`, so 0 · ∞ is NaN as IEEE says. A
//! partial that is constant where the op is differentiable (relu, abs, max,
//! clamp, `x * 2.0`) is recorded as that constant: its own derivative is 0.
//!
//! The recorded nodes are ordinary nodes: explanations and drawings work on
//! them, so a learner can read the second derivative's chain rule. The first
//! sweep of [`Var::backward`] is untouched and pays nothing for this.
//!
//! # Which transform uses which mode
//!
//! | transform | mode | sweeps | why |
//! |---|---|---|---|
//! | [`grad`], [`value_and_grad`] | reverse | 1 | one output, n inputs: one sweep gives every partial |
//! | [`jacobian`] | reverse | m (one per output) | rows are gradients; for m ≫ n forward mode would win, and the tape has none |
//! | [`hessian`] | reverse-over-reverse | 1 recorded + n | the gradient is recorded once (n `Var`s), then each of its n entries is swept |
//! | [`hessian_vector_product`] | reverse-over-reverse | 1 recorded + 1 | v·∇f is one node over the recorded gradient; its gradient is H·v (H is symmetric) |
//!
//! Forward-over-reverse (dual numbers through the sweep) would give H·v in one
//! pass without growing the tape, but needs a dual-valued tape; reverse over
//! reverse reuses the one tape and the one set of rules, and the recorded
//! gradient can be explained and drawn.

use smallvec::SmallVec;

use crate::op::Op;
use crate::ops::unary_partial;
use crate::tape::Tape;
use crate::var::Var;

/// One edge's local partial on the recorded backward pass: a constant (its
/// derivative is 0) or a recorded expression.
#[derive(Clone, Copy)]
enum Partial<'t> {
    Const(f64),
    Var(Var<'t>),
}

impl Tape {
    /// The gradient of `y` with respect to each of `wrt`, **recorded** on this
    /// tape as [`Var`]s, so that it can be differentiated again (see
    /// [`crate::higher`]).
    ///
    /// Entry k is ∂y/∂wrt\[k\]: its value equals `y.backward()[wrt[k]]` ([`Var::backward`])
    /// to a few ulps (each partial is recomputed by the op's `Scalar` rule, whose
    /// rounding can differ from the stored partial's), and a node of `wrt` that
    /// `y` does not depend on gets a constant 0. Each returned `Var` is labelled
    /// `∂y/∂x` when `y` and `x` both carry labels.
    ///
    /// # Panics
    ///
    /// If `y` or a `Var` of `wrt` is of another tape, or if the tape's node limit
    /// ([`Tape::with_max_nodes`]) is reached while recording.
    ///
    /// # Complexity
    ///
    /// One reverse pass over the nodes up to `y`: O(nodes + edges) time, and it
    /// records a few nodes per edge on the path to `y` (an adjoint product, an
    /// accumulation, and the partial's own expression: 1 node for `a·b`, 2–3 for
    /// a unary op), plus O(y's index) memory for the adjoint handles.
    ///
    /// ```
    /// use chainrule::Tape;
    ///
    /// let tape = Tape::new();
    /// let (x, y) = (tape.var(3.0).named("x"), tape.var(2.0).named("y"));
    /// let f = (x * x * y).named("f");                 // f = x²y
    /// let g = tape.grad(f, &[x, y]);
    /// assert_eq!((g[0].value(), g[1].value()), (12.0, 9.0)); // (2xy, x²)
    /// assert_eq!(tape.label(g[0].index()).as_deref(), Some("∂f/∂x"));
    /// let h = g[0].backward();                        // ∂(2xy)/∂x, ∂(2xy)/∂y
    /// assert_eq!((h[x], h[y]), (4.0, 6.0));
    /// ```
    #[track_caller]
    pub fn grad<'t>(&'t self, y: Var<'t>, wrt: &[Var<'t>]) -> Vec<Var<'t>> {
        assert!(
            std::ptr::eq(y.tape, self),
            "chainrule: Tape::grad was given an output of another tape"
        );
        for x in wrt {
            y.same_tape(*x);
        }
        let output = y.index as usize;
        let mut adjoints: Vec<Option<Var<'t>>> = vec![None; output + 1];
        adjoints[output] = Some(y.constant(1.0));
        let mut edges: SmallVec<[(u32, f64); 8]> = SmallVec::new();
        for node in (0..=output).rev() {
            let Some(adjoint) = adjoints[node] else {
                continue;
            };
            let op = self.op(node);
            edges.clear();
            edges.extend(
                self.edges(node)
                    .into_iter()
                    .map(|(operand, partial)| (operand as u32, partial)),
            );
            if edges.is_empty() {
                continue;
            }
            let last_partial = edges[edges.len() - 1].1;
            let partials = recorded_partials(self, node, op, &edges);
            for (&(operand, partial), recorded) in edges.iter().zip(partials) {
                if crate::backward::is_masked(op, partial, last_partial) {
                    continue; // exactly 0, whatever the adjoint: records nothing
                }
                let contribution = match recorded {
                    Partial::Const(1.0) => adjoint,
                    Partial::Const(-1.0) => -adjoint,
                    Partial::Const(c) => adjoint * c,
                    Partial::Var(p) => adjoint * p,
                };
                let slot = &mut adjoints[operand as usize];
                *slot = Some(match *slot {
                    Some(sum) => sum + contribution,
                    None => contribution,
                });
            }
        }
        let y_label = self.label(output);
        wrt.iter()
            .map(|x| {
                let g = adjoints
                    .get(x.index as usize)
                    .copied()
                    .flatten()
                    .unwrap_or_else(|| y.constant(0.0));
                if let (Some(yl), Some(xl)) = (&y_label, self.label(x.index as usize)) {
                    if self.label(g.index as usize).is_none() && g.index as usize > output {
                        return g.named(format!("∂{yl}/∂{xl}"));
                    }
                }
                g
            })
            .collect()
    }
}

/// The local partials of node `node` as recordings: each op's rule written again
/// over `Var`s (for a unary op, the table's own `Scalar` rule).
fn recorded_partials<'t>(
    tape: &'t Tape,
    node: usize,
    op: Op,
    edges: &[(u32, f64)],
) -> SmallVec<[Partial<'t>; 8]> {
    use Partial::{Const, Var as V};
    let var = |index: u32| Var::from_parts(tape, index, tape.value(index as usize));
    let this = var(node as u32);
    let stored = |k: usize| Const(edges[k].1);
    let operand = |k: usize| var(edges[k].0);
    let mut out: SmallVec<[Partial<'t>; 8]> = SmallVec::new();
    match op {
        Op::Leaf | Op::Const => {}
        // Piecewise-constant partials: the stored number is the partial, and its
        // derivative is 0 (a kink's convention stays a convention).
        Op::Relu
        | Op::Abs
        | Op::Signum
        | Op::Add
        | Op::Sub
        | Op::Neg
        | Op::AddConst
        | Op::SubConst
        | Op::ConstSub
        | Op::MulConst
        | Op::DivConst
        | Op::LeakyRelu
        | Op::Max
        | Op::Min
        | Op::MaxConst
        | Op::MinConst
        | Op::Clamp
        | Op::Sum => out.extend((0..edges.len()).map(stored)),
        Op::Mul => out.extend([V(operand(1)), V(operand(0))]),
        Op::Div => {
            let b = operand(1);
            out.extend([V(b.recip()), V(-(this / b))]);
        }
        Op::ConstDiv => out.push(V(-(this / operand(0)))),
        Op::Powi | Op::Powf => {
            let x = operand(0);
            match tape.kept_constant(node as u32) {
                Some(0.0) => out.push(Const(0.0)),
                Some(c) if op == Op::Powi && (-1.0..=4.0).contains(&(c - 1.0)) => {
                    out.push(V(x.powi(c as i32 - 1) * c))
                }
                Some(c) => out.push(V(x.powf(c - 1.0) * c)),
                None => unreachable!("powi and powf keep their constant"),
            }
        }
        Op::Pow => {
            let (a, b) = (operand(0), operand(1));
            out.push(if a.value == 0.0 && b.value == 0.0 {
                stored(0)
            } else {
                V(b * a.pow(b - 1.0))
            });
            out.push(if a.value == 0.0 && b.value >= 0.0 {
                stored(1)
            } else {
                V(this * a.ln())
            });
        }
        Op::Log => {
            // 1/(x·ln b) = (1/x)·(1/ln b), the constant 1/ln b = partial · x.
            let x = operand(0);
            out.push(V(x.recip() * (edges[0].1 * x.value)));
        }
        Op::Atan2 => {
            let (y, x) = (operand(0), operand(1));
            let r2 = x * x + y * y;
            out.extend([V(x / r2), V(-(y / r2))]);
        }
        Op::Atan2Const | Op::ConstAtan2 => {
            let v = operand(0);
            let c = tape
                .kept_constant(node as u32)
                .expect("atan2 against a constant keeps it");
            let r2 = v * v + c * c;
            // ∂atan2(v, c)/∂v = c/r², ∂atan2(c, v)/∂v = −c/r².
            let sign = if op == Op::Atan2Const { c } else { -c };
            out.push(V(r2.recip() * sign));
        }
        Op::Hypot | Op::HypotConst => {
            out.extend((0..edges.len()).map(|k| V(operand(k) / this)));
        }
        Op::MulAdd => out.extend([V(operand(1)), V(operand(0)), Const(1.0)]),
        Op::LogSumExp => {
            if this.value.is_finite() {
                out.extend((0..edges.len()).map(|k| V((operand(k) - this).exp())));
            } else {
                out.extend((0..edges.len()).map(stored));
            }
        }
        Op::WeightedSum | Op::SigmoidNeuron | Op::TanhNeuron | Op::ReluNeuron => {
            // Edges w₀, x₀, w₁, x₁, …, b: ∂a/∂wₖ = a′(z)·xₖ, ∂a/∂xₖ = a′(z)·wₖ.
            let n = (edges.len() - 1) / 2;
            let ws: SmallVec<[Var<'t>; 8]> = (0..n).map(|k| operand(2 * k)).collect();
            let xs: SmallVec<[Var<'t>; 8]> = (0..n).map(|k| operand(2 * k + 1)).collect();
            let bias = operand(2 * n);
            let derivative =
                activation_derivative(op, edges, this, || Var::weighted_sum(&ws, &xs, bias));
            for k in 0..n {
                out.push(times(derivative, xs[k]));
                out.push(times(derivative, ws[k]));
            }
            out.push(derivative);
        }
        Op::WeightedSumConst
        | Op::SigmoidNeuronConst
        | Op::TanhNeuronConst
        | Op::ReluNeuronConst => {
            // Edges w₀, …, wₙ₋₁, b; ∂a/∂wₖ = a′(z)·cₖ with the constant input
            // cₖ = partial / a′(z) (a′(z) is the bias edge's partial).
            let n = edges.len() - 1;
            let da = edges[n].1;
            if da == 0.0 || !da.is_finite() {
                // Saturated, or a relu with z ≤ 0: a′ and a″ vanish together.
                out.extend((0..edges.len()).map(stored));
            } else {
                let ws: SmallVec<[Var<'t>; 8]> = (0..n).map(operand).collect();
                let cs: SmallVec<[f64; 8]> = (0..n).map(|k| edges[k].1 / da).collect();
                let bias = operand(n);
                let derivative = activation_derivative(op, edges, this, || {
                    Var::weighted_sum_const(&ws, &cs, bias)
                });
                for &c in &cs {
                    out.push(match derivative {
                        Const(d) => Const(d * c),
                        V(d) => V(d * c),
                    });
                }
                out.push(derivative);
            }
        }
        Op::HalfSquaredError => {
            // ∂E/∂oₖ = oₖ − tₖ, with tₖ = oₖ − partial.
            out.extend((0..edges.len()).map(|k| {
                let o = operand(k);
                V(o - (o.value - edges[k].1))
            }));
        }
        Op::MeanSquaredError => {
            // ∂E/∂oₖ = 2(oₖ − tₖ)/n.
            let n = edges.len() as f64;
            out.extend((0..edges.len()).map(|k| {
                let o = operand(k);
                V((o - (o.value - edges[k].1 * n / 2.0)) * (2.0 / n))
            }));
        }
        _ => {
            let x = operand(0);
            let rule = unary_partial(op, x, this);
            out.push(match rule {
                Some(p) => V(p),
                None => unreachable!("every op has a recorded rule: {op}"),
            });
        }
    }
    out
}

/// `derivative · v`, keeping a constant derivative constant.
fn times<'t>(derivative: Partial<'t>, v: Var<'t>) -> Partial<'t> {
    match derivative {
        Partial::Const(1.0) => Partial::Var(v),
        Partial::Const(d) => Partial::Var(v * d),
        Partial::Var(d) => Partial::Var(d * v),
    }
}

/// a′(z) of a fused neuron with value `this`: 1 for a weighted sum, the stored
/// relu′(z) for a relu neuron (piecewise constant), and for σ and tanh the
/// table's own rule at z, recorded (`z` records the weighted sum once more).
fn activation_derivative<'t>(
    op: Op,
    edges: &[(u32, f64)],
    this: Var<'t>,
    z: impl FnOnce() -> Var<'t>,
) -> Partial<'t> {
    match op {
        Op::WeightedSum | Op::WeightedSumConst => Partial::Const(1.0),
        Op::ReluNeuron | Op::ReluNeuronConst => Partial::Const(edges[edges.len() - 1].1),
        Op::SigmoidNeuron | Op::SigmoidNeuronConst => {
            Partial::Var(crate::ops::rules::sigmoid::partial(z(), this))
        }
        _ => Partial::Var(crate::ops::rules::tanh::partial(z(), this)),
    }
}

/// ∇f at `x`: one tape, one reverse sweep.
///
/// `f` takes the inputs as [`Var`]s of a fresh tape and returns the output (as
/// [`gradcheck`](crate::gradcheck::gradcheck) closures do). Entry k is ∂f/∂xₖ,
/// 0 for an input `f` does not use.
///
/// # Complexity
///
/// Recording `f` once plus one reverse sweep: O(nodes + edges).
///
/// ```
/// let g = chainrule::grad(|x| x[0] * x[0] * x[1], &[3.0, 2.0]);
/// assert_eq!(g, vec![12.0, 9.0]);
/// ```
pub fn grad(f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> Vec<f64> {
    value_and_grad(f, x).1
}

/// f(x) and ∇f(x) from one recording and one reverse sweep (as
/// `jax.value_and_grad`).
///
/// # Complexity
///
/// As [`grad`].
///
/// ```
/// let (y, g) = chainrule::value_and_grad(|x| x[0].sin() * x[1], &[0.0, 2.0]);
/// assert_eq!((y, g), (0.0, vec![2.0, 0.0]));
/// ```
pub fn value_and_grad(f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> (f64, Vec<f64>) {
    let tape = Tape::new();
    let xs = tape.vars(x);
    let y = f(&xs);
    let g = y.backward();
    (y.value(), xs.iter().map(|&v| g[v]).collect())
}

/// The Jacobian of `g` at `x`: row i is ∇gᵢ (m rows of n entries, for m outputs
/// and n inputs).
///
/// Reverse mode: one sweep per output over one recording.
///
/// # Complexity
///
/// Recording `g` once plus m reverse sweeps: O(m · (nodes + edges)).
///
/// ```
/// // g(x, y) = (x·y, x + y)
/// let j = chainrule::jacobian(|v| vec![v[0] * v[1], v[0] + v[1]], &[2.0, 5.0]);
/// assert_eq!(j, vec![vec![5.0, 2.0], vec![1.0, 1.0]]);
/// ```
pub fn jacobian(g: impl for<'t> Fn(&[Var<'t>]) -> Vec<Var<'t>>, x: &[f64]) -> Vec<Vec<f64>> {
    let tape = Tape::new();
    let xs = tape.vars(x);
    let outputs = g(&xs);
    outputs
        .iter()
        .map(|out| {
            let grads = out.backward();
            xs.iter().map(|&v| grads[v]).collect()
        })
        .collect()
}

/// The Hessian of `f` at `x`: entry (j, k) is ∂²f/∂xⱼ∂xₖ (n × n).
///
/// Reverse-over-reverse: the gradient is recorded once ([`Tape::grad`]), then
/// each of its n entries is swept. Entries (j, k) and (k, j) come from
/// different sweeps, so they agree to rounding (the result is not symmetrised).
///
/// # Complexity
///
/// Recording `f` (N nodes, E edges), one recorded sweep (O(N + E) time, a few
/// nodes per edge recorded), then n reverse sweeps over the grown tape:
/// O(n · (N + E)) in all.
///
/// ```
/// use chainrule::Var;
///
/// // Rosenbrock: f = (1 − x)² + 100(y − x²)². A closure kept in a variable needs
/// // its lifetime spelled out, so a fn is simpler; an inline closure works too.
/// fn rosenbrock<'t>(v: &[Var<'t>]) -> Var<'t> {
///     let (x, y) = (v[0], v[1]);
///     (-x + 1.0).powi(2) + (y - x * x).powi(2) * 100.0
/// }
/// let h = chainrule::hessian(rosenbrock, &[1.0, 1.0]);
/// assert_eq!(h, vec![vec![802.0, -400.0], vec![-400.0, 200.0]]);
/// ```
pub fn hessian(f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> Vec<Vec<f64>> {
    let tape = Tape::new();
    let xs = tape.vars(x);
    let y = f(&xs);
    let gradient = tape.grad(y, &xs);
    gradient
        .iter()
        .map(|g| {
            let second = g.backward();
            xs.iter().map(|&v| second[v]).collect()
        })
        .collect()
}

/// H·v, the Hessian of `f` at `x` times `v`, without forming H.
///
/// Reverse-over-reverse: the gradient is recorded once, `v · ∇f` is one node
/// over it, and that node's gradient is H·v (H is symmetric).
///
/// # Panics
///
/// If `v` and `x` differ in length.
///
/// # Complexity
///
/// Recording `f`, one recorded sweep and one plain sweep: O(N + E), whatever n.
///
/// ```
/// // f = x²y: H = [[2y, 2x], [2x, 0]]
/// let hv = chainrule::hessian_vector_product(|v| v[0] * v[0] * v[1], &[3.0, 2.0], &[1.0, 0.0]);
/// assert_eq!(hv, vec![4.0, 6.0]);
/// ```
#[track_caller]
pub fn hessian_vector_product(
    f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>,
    x: &[f64],
    v: &[f64],
) -> Vec<f64> {
    assert_eq!(
        x.len(),
        v.len(),
        "chainrule: hessian_vector_product needs v as long as x ({} inputs, v has {})",
        x.len(),
        v.len()
    );
    let tape = Tape::new();
    let xs = tape.vars(x);
    if xs.is_empty() {
        return Vec::new();
    }
    let y = f(&xs);
    let gradient = tape.grad(y, &xs);
    let directional = Var::weighted_sum_const(&gradient, v, y.constant(0.0));
    let hv = directional.backward();
    xs.iter().map(|&x| hv[x]).collect()
}
