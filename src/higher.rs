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
//! masked, and records nothing (or, where the adjoint is finite, adjoint · 0
//! with the 0 an expression that is 1 across the kink, so that a replay
//! picks the branch afresh), so it passes exactly 0 whatever the adjoint (the
//! operand below still lies on a path, with adjoint 0: an infinite or NaN partial
//! under it gives NaN, as in the sweep); every other edge records
//! `adjoint · partial`, so 0 · ∞ is NaN as IEEE says. A
//! partial that is constant where the op is differentiable (`x * 2.0`) is
//! recorded as that constant: its own derivative is 0. A kink op's (relu,
//! abs, leaky_relu, max, min, clamp) is constant on each side of its kink,
//! and recorded as an expression that picks the side by a sign (relu′(x) as
//! relu(signum(x))), with the constant's value and derivative 0, so that a
//! [compiled](Tape::compile) gradient replays right across the kink (see
//! [`Tape::grad`]); its masked edge records adjoint · 0. A
//! partial that is NaN (rule 4: relu, abs, leaky_relu, signum, max, min, clamp
//! at NaN; logsumexp and a relu neuron with a NaN input) is recorded as a NaN
//! whose derivative with respect to every operand is NaN, so a Hessian is NaN
//! there too, not 0:
//!
//! ```
//! let h = chainrule::hessian(|v| v[0].relu(), &[f64::NAN]);
//! assert!(h[0][0].is_nan());
//! ```
//!
//! Where a first derivative is infinite inside an op's domain, at its edge,
//! the second is NaN, not the limit: the partial of `asin` and `acos` at x = ±1,
//! `atanh` at ±1 and `acosh` at 1 is ±∞ (as their docs say), recorded as
//! 1/(√(1 − x)·√(1 + x)) or the like, and the product rule's other term is that
//! ∞ times √(1 − x) = 0 (arcsin″ tends to +∞ at 1 and −∞ at −1; the Hessian,
//! and every higher order, is NaN there). `cbrt` at 0 too (∛′ is +∞, and ∛″
//! tends to −∞ from the right, +∞ from the left). Where the partial is a
//! reciprocal alone the infinities carry through: `sqrt`, `ln`, `log2`, `log10`
//! and `recip` at 0, and `log1p` at −1, have the limits' signed infinities:
//!
//! ```
//! use chainrule::hessian;
//!
//! for x in [1.0, -1.0] {
//!     assert!(hessian(|v| v[0].asin(), &[x])[0][0].is_nan()); // the limit is ±∞
//!     assert!(hessian(|v| v[0].acos(), &[x])[0][0].is_nan());
//!     assert!(hessian(|v| v[0].atanh(), &[x])[0][0].is_nan());
//! }
//! assert!(hessian(|v| v[0].acosh(), &[1.0])[0][0].is_nan());
//! assert!(hessian(|v| v[0].cbrt(), &[0.0])[0][0].is_nan());
//! // Next to the edge, the second derivative is the closed form's:
//! let tape = chainrule::Tape::new();
//! let x = tape.var(1.0 - 1e-6); // arcsin″ = x/(1 − x²)^(3/2) ≈ 3.5e8
//! let d1 = tape.grad(x.asin(), &[x])[0];
//! assert!((tape.grad(d1, &[x])[0].value() / 3.5355e8 - 1.0).abs() < 1e-4);
//! assert_eq!(hessian(|v| v[0].sqrt(), &[0.0])[0][0], f64::NEG_INFINITY);
//! assert_eq!(hessian(|v| v[0].ln(), &[0.0])[0][0], f64::NEG_INFINITY);
//! assert_eq!(hessian(|v| v[0].recip(), &[0.0])[0][0], f64::INFINITY);
//! assert_eq!(hessian(|v| v[0].log1p(), &[-1.0])[0][0], f64::NEG_INFINITY);
//! ```
//!
//! At x = ±∞, a unary op whose first derivative is finite there (its limit:
//! erf′, cbrt′, acosh′, σ′, arctan′ → 0, softplus′ → 1), and a sigmoid or tanh
//! neuron at z = ±∞ (over constant inputs, where the tape keeps them), records
//! it as p + 0·|1/x|: its second and higher
//! derivatives are their limits, 0 (the rule's own expression would meet 0·∞:
//! erf′ = (2/√π)·e^(−x·x) at x = ∞), along edges of partial 0, so that an
//! infinite factor further down still gives 0·∞ = NaN, as at first order:
//!
//! ```
//! let h = chainrule::hessian(|v| v[0].erf() + v[1].cbrt(), &[f64::INFINITY, f64::NEG_INFINITY]);
//! assert_eq!(h, vec![vec![0.0, 0.0], vec![0.0, 0.0]]);
//! // σ(x·y) at (∞, 1): ∂/∂y = σ′(xy)·x is 0·∞ = NaN, and so is ∂²/∂y².
//! let h = chainrule::hessian(|v| (v[0] * v[1]).sigmoid(), &[f64::INFINITY, 1.0]);
//! assert_eq!(h[0][0], 0.0);
//! assert!(h[1][1].is_nan());
//! ```
//!
//! An op whose second derivative does not depend on its operand keeps that
//! constant at NaN too: `x.square()`'s partial is 2x, whose derivative is the
//! constant 2, so the Hessian of x² at NaN is 2 (the gradient, 2·NaN, is NaN),
//! as JAX's `hessian(lambda x: x**2)(nan)` is. Only the entries that read a
//! NaN value are NaN:
//!
//! ```
//! let h = chainrule::hessian(|v| v[0].square(), &[f64::NAN]);
//! assert_eq!(h[0][0], 2.0);
//! let h = chainrule::hessian(|v| v[0] * v[0] * v[0], &[f64::NAN]);
//! assert!(h[0][0].is_nan()); // 6x
//! ```
//!
//! Each partial is recorded as the sweep computes the number it stores, never
//! rebuilt by dividing a value out and multiplying it back: so the recorded
//! gradient's value is the sweep's at ±0, ±∞ and NaN too (`x.log(2.0)` at 0:
//! ∞ both ways, not NaN). Where a table rule's own derivatives would cancel
//! (σ′, arcsin′, arccos′, artanh′ near 0: arcsin″(1e-20) would be 0; silu′,
//! whose second derivative cancels there: silu‴(1e-20) would be 0; the
//! softmax of [`Var::logsumexp`]'s largest input, eₜ/Σe, where it is near 1:
//! ∂²/∂x₀² at (0, −40) would be 0 for 4.2e-18; `hypot`'s larger operand's a/h
//! where the other is much smaller: ∂²hypot(x, 1)/∂x² at 1e8 would be 0 for
//! 1e-24), underflow (arctan′ past |x| = 1e77: arctan″(1e90) would be 0) or overflow
//! before the result does (log₂′ near x = 1e-154; `log`'s with a base, whose
//! square is subnormal where the result is |ln b| > 1 times larger: 327 steps
//! off for base 1e300 at x = 1e154), the partial's derivatives
//! are taken from an equal expression q that does not, as q/q₀ · p₀ with q₀ its
//! value and p₀ the rule's, on the range of x where q is the better route
//! (|x| < 1 or ½; for arctan, |x| > 1) and q₀ is a normal number: its value is
//! p₀ exactly (q = 1/(1 + Σⱼ≠ₜ e^(xⱼ − xₜ)) for logsumexp, 1/hypot(b/a, 1) for
//! hypot; for log₂′ and `log`'s, 1/x times the constant p₀·x₀, which a replay
//! far from x₀ does not overflow as 1/q₀ would). The constants a partial needs (ln b of `log`, a loss's targets,
//! a neuron's constant inputs) are read from the tape when it keeps
//! them ([`Tape::set_keep_constants`]; [`hessian`] and
//! [`hessian_vector_product`] turn it on), and otherwise rebuilt from the stored
//! partial by a route that gives its value exactly.
//!
//! Each derivative is, as in the sweep, a sum over paths of products of local
//! partials, multiplied from the output down. As any floating-point sum it
//! loses digits where large contributions cancel: a second or third derivative
//! of a function of large values can be far from its closed form though every
//! factor is finite (f = L²·x₀ with L the logsumexp of (x₀, x₁), at (1e150,
//! −1e150): ∂²f/∂x₀² is 6e150, and [`Var::logsumexp`] gives it; written with
//! `exp`, `ln` and `+`, shifted by the max, the contributions of about 1e300
//! cancel and leave 2e150; [`Gradients::rounding_bound`](crate::Gradients::rounding_bound) bounds
//! such rounding at first order). Moreover, a partial's own derivatives are
//! those of the expression it is recorded as. So where one local factor
//! overflows or underflows though the product does not, the derivative is ±∞,
//! NaN or loses digits, and only the reroutes above are guarded against it: in
//! ∂²atan2(y, x)/∂x² at (1e-160, 1e-300) the recorded ∂/∂x = −(y/h)/h (h =
//! hypot) has ∂/∂h = −y/h³ = −1e320 (the entry is ∞ where it is 2e180); in
//! `x.powf(c)` for 0 < |c(c − 1)| < 1 the second derivative is c·((c − 1)·x^(c−2))
//! with x^(c−2) formed first (∞ up to 1/|c(c − 1)| before the result); in
//! ∂²(x^y)/∂y∂x where x^y underflows, the path through ln x carries x^y·(1/x)
//! with x^y = 0, and that term is lost (entries (1, 0) and (0, 1) then differ):
//!
//! ```
//! use chainrule::hessian;
//!
//! let h = hessian(|v| v[0].atan2(v[1]), &[1e-160, 1e-300]);
//! assert_eq!(h[1][1], f64::INFINITY); // ∂²/∂x² = 2xy/(x² + y²)² = 2e180
//! let h = hessian(|v| v[0].powf(1e-3), &[1.7e-155]);
//! assert_eq!(h[0][0], f64::NEG_INFINITY); // −0.000999·x^(−1.999) = −2.42e306
//! // x^y at (1e-160, 2.5): x^y = 1e-400 is 0; ∂²/∂x∂y = x^(y−1)·(y·ln x + 1):
//! let h = hessian(|v| v[0].pow(v[1]), &[1e-160, 2.5]);
//! let want = -9.200340371976183e-238;
//! assert!((h[0][1] / want - 1.0).abs() < 1e-14);
//! assert!((h[1][0] / want - 1.0).abs() > 1e-3); // −9.2103e-238: x^(y−1) lost
//! ```
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
use crate::ops::kernels::log_derivative;
use crate::ops::unary_partial;
use crate::tape::Tape;
use crate::var::Var;

/// One edge's local partial on the recorded backward pass: a constant (its
/// derivative is 0) or a recorded expression.
#[derive(Clone, Copy)]
enum Partial<'t> {
    Const(f64),
    Var(Var<'t>),
    /// A kink op's piecewise-constant partial away from its kink, recorded as
    /// an expression of the operand whose sign picks the branch
    /// ([`branch_partials`]): its value is the stored partial, its derivative
    /// 0, and a replay picks the branch afresh. On an edge masked at the
    /// recording point (value 0) it is still recorded, as `adjoint · 0`,
    /// where the adjoint is finite there, so that it contributes once
    /// replayed on the other side of the kink.
    Step(Var<'t>),
}

impl Tape {
    /// The gradient of `y` with respect to each of `wrt`, **recorded** on this
    /// tape as [`Var`]s, so that it can be differentiated again (see
    /// [`crate::higher`]).
    ///
    /// Entry k is ∂y/∂`wrt[k]`: its value is `y.backward()[wrt[k]]`, each
    /// partial recomputed as the sweep computes it (a unary op by its table's
    /// `Scalar` rule, whose rounding can differ by a few ulps from its fused
    /// `f64` kernel's; see [`crate::higher`]), infinities, zeros and NaN
    /// included. So the entry agrees to a few ulps of the contributions it
    /// sums: a few ulps of itself where they do not cancel, but where they do
    /// the two can differ by more (`x.tanh() - x * c` with c the swept tanh′(x):
    /// at x = 0.5 the sweep gives 0, the recorded gradient 1.1e-16). A node of
    /// `wrt` that `y` does not depend on gets a constant 0. Second and higher derivatives are exact
    /// formulas rounded as recorded, a local factor that over- or underflows
    /// included (see [`crate::higher`]); on a tape that keeps its constants
    /// ([`Tape::set_keep_constants`], as [`hessian`] records) a neuron over
    /// constant inputs takes them as given, otherwise from ∂a/∂wₖ / a′(z).
    ///
    /// The recording is made at the tape's values. A kink's partial away from
    /// its kink (relu, abs, leaky_relu, max, min, max or min with a constant,
    /// clamp) is recorded as an expression of the quantity whose sign picks
    /// the branch, one to five nodes: abs′(x) as signum(x), relu′(x) as
    /// relu(signum(x)), leaky_relu′ as max(signum(x), α) (for |α| < 1),
    /// ∂max(a, b)/∂a as relu(signum(a − b)) and ∂/∂b as 1 minus that, clamp′
    /// as relu(signum((x − lo)·(hi − x))). Its value is the branch's constant
    /// bit for bit and its derivative 0 (signum's), as the constant's; and
    /// relu's masked edge (relu′ = 0, and the operand `max` did not pick) is
    /// recorded too, as adjoint · 0, exactly 0 there. So a program
    /// [compiled](Tape::compile) from these `Var`s picks each branch afresh at
    /// new inputs. What stays as recorded (see [`crate::replay`], "Control
    /// flow is frozen at recording time"): a kink's convention where it was
    /// recorded at the kink; a kink op with an infinite or NaN partial below
    /// it, or a masked edge under an infinite or NaN adjoint (there an
    /// expression would turn the next order's exact 0 into 0·∞ = NaN), a kink
    /// op over a constant the tape did not keep
    /// ([`Tape::set_keep_constants`]), and a fused relu neuron: the constant
    /// of the branch taken.
    ///
    /// When `y` and `x` both carry labels, an entry that is a node this call
    /// recorded is labelled `∂y/∂x`. An entry that is a node already on the tape
    /// keeps its own label, or none (∂(a·b)/∂a is the node `b` itself), and so
    /// does an entry that is the same node as an earlier one, which carries the
    /// earlier one's label (for y = sin(a + b) the entries for `a` and `b` are
    /// one node, labelled `∂y/∂a`).
    ///
    /// # Panics
    ///
    /// At the caller's line: if `y` is of another tape ("Tape::grad was given an
    /// output of another tape"), or a `Var` of `wrt` is ("… a Var of another
    /// tape to differentiate with respect to (wrt\[k\], …)"), or if the tape's
    /// node limit ([`Tape::with_max_nodes`]) is reached while recording ("the
    /// tape is full").
    ///
    /// # Complexity
    ///
    /// One reverse pass over the nodes up to `y`: O(nodes + edges) time, and it
    /// records a few nodes per edge on the path to `y` (an adjoint product, an
    /// accumulation, and the partial's own expression: none for `a·b`, whose
    /// partials are the nodes `b` and `a` themselves, up to 11
    /// for a unary op, silu′'s near 0; a kink op's branch, one to five, and an
    /// adjoint product on its masked edge), plus O(y's index) memory for the
    /// adjoint handles, and where `y` passes a kink op, one more pass over the
    /// nodes below it (whether a partial there is infinite or NaN).
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
    ///
    /// // Where contributions cancel, a few ulps of them is not a few of the sum:
    /// let x = tape.var(0.5);
    /// let c = x.tanh().backward()[x]; // tanh′(0.5) by the fused kernel
    /// let f = x.tanh() - x * c;
    /// assert_eq!(f.backward()[x], 0.0);
    /// assert!(tape.grad(f, &[x])[0].value().abs() <= 4.0 * f64::EPSILON);
    /// ```
    #[track_caller]
    pub fn grad<'t>(&'t self, y: Var<'t>, wrt: &[Var<'t>]) -> Vec<Var<'t>> {
        if !std::ptr::eq(y.tape, self) {
            foreign_output("Tape::grad was given an output of another tape");
        }
        for (k, x) in wrt.iter().enumerate() {
            if !std::ptr::eq(x.tape, self) {
                foreign_output(&format!(
                    "Tape::grad was given a Var of another tape to differentiate with \
                     respect to (wrt[{k}], node #{})",
                    x.index
                ));
            }
        }
        self.recorded_grad(y, wrt)
    }

    /// [`Tape::grad`] once `y` and `wrt` are known to be of this tape.
    ///
    /// Every function that records under it is `#[track_caller]` and records
    /// outside closures (a closure does not pass the caller's line on), so that
    /// a full tape panics at the line that called [`Tape::grad`], [`hessian`]
    /// or [`hessian_vector_product`].
    #[track_caller]
    fn recorded_grad<'t>(&'t self, y: Var<'t>, wrt: &[Var<'t>]) -> Vec<Var<'t>> {
        let output = y.index as usize;
        let mut adjoints: Vec<Option<Var<'t>>> = vec![None; output + 1];
        // Nodes on a path from the output that received only exactly 0 (through
        // masked edges, rule 3 of the policy): their adjoint is 0, nothing to
        // record, but 0 · ∞ and 0 · NaN on their own edges are NaN (rule 2), as
        // the sweep has them.
        let mut zero_on_path = vec![false; output + 1];
        let mut zero: Option<Var<'t>> = None;
        let seed = y.constant(1.0);
        adjoints[output] = Some(seed);
        let mut edges: SmallVec<[(u32, f64); 8]> = SmallVec::new();
        let mut below = NonFiniteBelow::default();
        for node in (0..=output).rev() {
            let adjoint = match adjoints[node] {
                Some(adjoint) => adjoint,
                None if zero_on_path[node] => {
                    // Adjoint 0: a finite partial passes 0 on (the operand is on a
                    // path too); 0 · ∞ and 0 · NaN are NaN, recorded below from a
                    // constant 0 adjoint.
                    let op = self.op(node);
                    let node_edges = self.edges(node);
                    let last_partial = node_edges.last().map_or(0.0, |&(_, p)| p);
                    let passes_nothing = node_edges.iter().all(|&(_, partial)| {
                        partial.is_finite() || crate::backward::is_masked(op, partial, last_partial)
                    });
                    if passes_nothing {
                        for &(operand, _) in &node_edges {
                            zero_on_path[operand] = true;
                        }
                        continue;
                    }
                    match zero {
                        Some(zero) => zero,
                        None => *zero.insert(y.constant(0.0)),
                    }
                }
                None => continue,
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
            // A kink op's partial as an expression of its operands (see
            // `branch_partials`) puts them on a path from the gradient, with
            // adjoint 0 at the next order (signum's edge is masked): where a
            // partial below is infinite or NaN, that is 0·∞ = NaN where the
            // constant had 0, so there the branch's constant is kept.
            let branch =
                is_kink_op(op) && !below.any(self, edges.iter().map(|&(operand, _)| operand));
            let partials = recorded_partials(self, node, op, &edges, branch);
            for (&(operand, partial), recorded) in edges.iter().zip(partials) {
                let masked = crate::backward::is_masked(op, partial, last_partial);
                // A branch's partial recorded as an expression (`Partial::Step`)
                // is 0 here, but not at every input: recorded as adjoint · 0,
                // exactly 0 at a finite adjoint, so that a replay across the
                // kink adds the branch's contribution. (At an infinite or NaN
                // adjoint, 0 · ∞ would not be the masked edge's 0: recorded as
                // masked, nothing.)
                // (Nor where a partial below the adjoint is infinite or NaN:
                // at the next order, adjoint · 0 passes 0 down to it.)
                let step_masked = masked
                    && matches!(recorded, Partial::Step(_))
                    && adjoint.value.is_finite()
                    && !below.any(self, [adjoint.index]);
                if masked && !step_masked {
                    // Exactly 0, whatever the adjoint: records nothing, but the
                    // operand lies on a path from the output.
                    zero_on_path[operand as usize] = true;
                    // At a kink, the convention comes recorded through a
                    // signum at its jump (`recorded_partials`): that +0 is
                    // added as it is, not times the adjoint (still exactly 0,
                    // whatever the adjoint), so that the kink lies on a path
                    // from the gradient, for the next order to find.
                    if let Partial::Var(p) = recorded {
                        if p.value == 0.0 && p.value.is_sign_positive() {
                            let slot = &mut adjoints[operand as usize];
                            *slot = Some(match *slot {
                                Some(sum) => sum + p,
                                None => p,
                            });
                        }
                    }
                    continue;
                }
                let contribution = match recorded {
                    Partial::Const(1.0) => adjoint,
                    Partial::Const(-1.0) => -adjoint,
                    Partial::Const(c) => adjoint * c,
                    // The seed is 1: 1·p is p (no `1·` in the names and no
                    // factor of 1 in the explanations of what is recorded).
                    Partial::Var(p) | Partial::Step(p) if adjoint.index == seed.index => p,
                    Partial::Var(p) | Partial::Step(p) => adjoint * p,
                };
                let slot = &mut adjoints[operand as usize];
                *slot = Some(match *slot {
                    Some(sum) => sum + contribution,
                    // The sweep adds to an adjoint of +0, and 0 + (−0) is +0: a
                    // first contribution of −0 (x·(−0), or the node b = −0 as
                    // ∂(a·b)/∂a) is recorded plus 0, so that the gradient has
                    // the sweep's sign (1/g is +∞ as from the sweep, not −∞),
                    // and its derivatives are the contribution's.
                    None if contribution.value == 0.0 && contribution.value.is_sign_negative() => {
                        contribution + 0.0
                    }
                    None => contribution,
                });
            }
        }
        let y_label = self.label(output);
        let mut gradient = Vec::with_capacity(wrt.len());
        for x in wrt {
            let g = match adjoints.get(x.index as usize).copied().flatten() {
                Some(g) => g,
                None => y.constant(0.0),
            };
            let g = match (&y_label, self.label(x.index as usize)) {
                (Some(yl), Some(xl))
                    if self.label(g.index as usize).is_none() && g.index as usize > output =>
                {
                    g.named(derivative_label(yl, &xl))
                }
                _ => g,
            };
            gradient.push(g);
        }
        gradient
    }
}

/// Panics with `chainrule: {what}`, at the caller's line.
#[cold]
#[inline(never)]
#[track_caller]
fn foreign_output(what: &str) -> ! {
    panic!("chainrule: {what}")
}

/// Panics unless `y`, what the function `f` given to `caller` returned, is of
/// `tape` (the tape its inputs were recorded on).
#[track_caller]
fn check_output<'t>(caller: &str, tape: &Tape, y: Var<'t>) {
    if !std::ptr::eq(y.tape, tape) {
        foreign_output(&format!(
            "{caller}'s function returned a Var of another tape than its inputs' \
             (a Var captured from outside the closure, or recorded on a tape of its own)"
        ));
    }
}

/// `∂y/∂x` for a label `y` and a label `x`; for `y` itself a derivative
/// `∂ⁿf/∂a∂b…`, the next order: `∂ⁿ⁺¹f/∂a∂b…∂x`, equal neighbours as powers
/// (`∂²f/∂x²`, not `∂∂f/∂x/∂x`).
fn derivative_label(y: &str, x: &str) -> String {
    const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let superscript = |n: usize| -> String {
        if n == 1 {
            String::new()
        } else {
            n.to_string()
                .chars()
                .map(|d| SUPERSCRIPTS[d as usize - '0' as usize])
                .collect()
        }
    };
    let digit = |c: char| SUPERSCRIPTS.iter().position(|&s| s == c);
    // Parse y as ∂ⁿf/∂a^i∂b^j…; anything else is a plain name.
    let parsed = y.strip_prefix('∂').and_then(|rest| {
        let (num, den) = rest.split_once('/')?;
        let order_digits: String = num.chars().take_while(|&c| digit(c).is_some()).collect();
        let f = &num[order_digits.len()..];
        let order = if order_digits.is_empty() {
            1
        } else {
            order_digits
                .chars()
                .fold(0, |n, c| n * 10 + digit(c).unwrap_or(0))
        };
        let mut wrt: Vec<(String, usize)> = Vec::new();
        for part in den.split('∂').skip(1) {
            let power_digits: String = part
                .chars()
                .rev()
                .take_while(|&c| digit(c).is_some())
                .collect();
            let name = &part[..part.len() - power_digits.len()];
            let power = if power_digits.is_empty() {
                1
            } else {
                power_digits
                    .chars()
                    .rev()
                    .fold(0, |n, c| n * 10 + digit(c).unwrap_or(0))
            };
            wrt.push((name.to_string(), power));
        }
        let total: usize = wrt.iter().map(|w| w.1).sum();
        (!f.is_empty() && !den.is_empty() && total == order && den.starts_with('∂'))
            .then(|| (order, f.to_string(), wrt))
    });
    match parsed {
        Some((order, f, mut wrt)) => {
            match wrt.last_mut() {
                Some((name, power)) if name == x => *power += 1,
                _ => wrt.push((x.to_string(), 1)),
            }
            let den: String = wrt
                .iter()
                .map(|(name, power)| format!("∂{name}{}", superscript(*power)))
                .collect();
            format!("∂{}{f}/{den}", superscript(order + 1))
        }
        None => format!("∂{y}/∂{x}"),
    }
}

/// The local partials of node `node` as recordings: each op's rule written again
/// over `Var`s (for a unary op, the table's own `Scalar` rule), computed as the
/// sweep computes the partial it stores, so that the recorded value equals it
/// (bit for bit, or within the few ulps by which a table's fused `f64` kernel
/// and its `Scalar` rule differ), also at ±0, ±∞ and NaN.
///
/// A constant the partial depends on (ln b of `log`, the targets of a loss, the
/// inputs of a neuron over constants, the exponent of `powf`) is taken as the
/// tape kept it ([`Tape::set_keep_constants`]; [`hessian`] and
/// [`hessian_vector_product`] record with it on), never divided out of the
/// stored partial. Where the tape did not keep it, the partial is rebuilt from
/// the stored partial by a route that gives that value exactly (see
/// [`affine_partial`], [`log_partial`]); only a neuron over constant inputs
/// then divides its inputs back out, cₖ = (∂a/∂wₖ) / a′(z), for the weighted
/// sum its a″ is taken at (its first-order value is still the stored partial
/// exactly; its derivatives carry the rounding of that division).
///
/// A stored partial that is NaN (rule 4 of the policy: relu, abs, max, … at
/// NaN; logsumexp and relu neurons with a NaN input) is recorded as a NaN whose
/// derivative with respect to every operand is NaN, not as a constant.
///
/// A select op's partial at its kink (relu, abs, leaky_relu, signum at 0; max
/// or min at a tie; a tie with a kept constant) is its convention there,
/// recorded as sign(u)·0 + p (u the quantity whose sign picks the piece): the
/// stored value p and the derivative 0, as a constant would be, but through a
/// signum at its jump, so that the kink lies on a path from the gradient and
/// [`crate::explain::kink_affecting`] finds it at the next order.
/// Whether node `node` is a select op at its kink ([`crate::explain::kink_note`]).
fn at_kink(tape: &Tape, node: usize) -> bool {
    tape.recording
        .read(|rec| crate::explain::kink_note(rec, node).is_some())
}

#[track_caller]
fn recorded_partials<'t>(
    tape: &'t Tape,
    node: usize,
    op: Op,
    edges: &[(u32, f64)],
    branch: bool,
) -> SmallVec<[Partial<'t>; 8]> {
    use Partial::{Const, Var as V};
    let var = |index: u32| Var::from_parts(tape, index, tape.value(index as usize));
    let this = var(node as u32);
    let stored = |k: usize| Const(edges[k].1);
    let operand = |k: usize| var(edges[k].0);
    let kept = tape.kept_constants(node as u32);
    // An operand, or a kept constant, is infinite.
    let infinite_operand = || {
        edges
            .iter()
            .any(|&(o, _)| tape.value(o as usize).is_infinite())
            || tape
                .kept_constant(node as u32)
                .is_some_and(f64::is_infinite)
    };
    let mut out: SmallVec<[Partial<'t>; 8]> = SmallVec::new();
    match op {
        Op::Leaf | Op::Const => {}
        // At a kink, a select op's stored partial is its convention there (0
        // for |x| at 0). As a constant it would cut the recorded gradient off
        // from the kink, and a kink that matters at the next order would go
        // unseen (|x|² at 0: the recorded ∂/∂x is 2|x|·0, whose derivative,
        // 0, is no derivative of 2x; `kink_affecting` found no kink). So it
        // is recorded as sign(u)·0 + p, u the quantity whose sign picks the
        // piece (the operand, a − b at a tie of max or min, x − c at a tie
        // with a kept constant): the value p, bit for bit (±0 + p), the
        // derivative 0 as before, through a signum at its jump, which kink
        // detection counts wherever it lies on a path.
        Op::Relu
        | Op::Abs
        | Op::Signum
        | Op::LeakyRelu
        | Op::Max
        | Op::Min
        | Op::MaxConst
        | Op::MinConst
        | Op::Clamp
            if at_kink(tape, node) =>
        {
            let x = operand(0);
            let u = match op {
                Op::Max | Op::Min if edges.len() == 2 => Some(x - operand(1)),
                // (`x - c` outside a closure, so that a full tape panics at
                // the caller's line.)
                #[allow(clippy::manual_map)]
                Op::MaxConst | Op::MinConst | Op::Clamp => {
                    if let Some(c) = kept.iter().copied().find(|&c| c == x.value) {
                        Some(x - c)
                    } else {
                        None
                    }
                }
                Op::Max | Op::Min => None,
                _ => Some(x),
            };
            // (A tie at ±∞, where a − b is NaN, keeps the constant.)
            kink_partials(u, edges, &mut out);
        }
        // Away from its kink, a kink op's partial is constant on the branch
        // taken, but which branch depends on the operands: recorded as an
        // expression of the quantity whose sign picks it (`branch_partials`),
        // so that a compiled gradient replays it afresh at new inputs. Its
        // value is the stored partial bit for bit, its derivative 0.
        _ if branch && is_kink_op(op) && edges.iter().all(|&(_, p)| !p.is_nan()) => {
            let operands: SmallVec<[Var<'t>; 2]> = (0..edges.len()).map(operand).collect();
            match branch_partials(op, &operands, &kept) {
                // (Its value is the stored partial's bit for bit by
                // construction; were it not, the constant, not another value.)
                Some(partials)
                    if partials
                        .iter()
                        .zip(edges)
                        .all(|(p, &(_, s))| p.value.to_bits() == s.to_bits()) =>
                {
                    out.extend(partials.into_iter().map(Partial::Step));
                }
                Some(_) => {
                    debug_assert!(false, "a branch's partial off its stored value: {op}");
                    out.extend((0..edges.len()).map(stored))
                }
                None => out.extend((0..edges.len()).map(stored)),
            }
        }
        // Piecewise-constant partials: the stored number is the partial, and its
        // derivative is 0 (away from a kink, exactly).
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
                Some(c) if op == Op::Powi => out.push(V(x.powf(c - 1.0) * c)),
                // c · x^(c−1) as `powf_with_partial`: x^(c−1) through the TwoSum
                // correction of c − 1.
                Some(c) => out.push(V(pow_minus_one(x, c, x.powf(c - 1.0)) * c)),
                None => unreachable!("powi and powf keep their constant"),
            }
        }
        // 0^0: both stored partials are 0 (∂/∂x exact, ∂/∂y a convention:
        // 0^y jumps at y = 0), but neither has a derivative there: ∂/∂x is
        // y·x^(y−1), which jumps in y (undefined below 0, 0 at, ∞ above for
        // y < 1); ∂/∂y is x^y·ln x, ln x along y = 0, unbounded in x, and a
        // convention in y. As constants they made x^y's Hessian at (0, 0)
        // and x^x's f″(0) a plain 0, no kink found. Each is recorded as the
        // signums of the operands it jumps in, times 0, plus its value
        // (signum(y)·0 + 0 and (signum(x) + signum(y))·0 + 0), as a kink's
        // convention is above: the same value and derivative 0, a signum at
        // its jump on each path that kink detection counts.
        Op::Pow
            if tape.value(edges[0].0 as usize) == 0.0 && tape.value(edges[1].0 as usize) == 0.0 =>
        {
            let (a, b) = (operand(0), operand(1));
            // (Recorded outside closures, so that a full tape panics at the
            // caller's line.)
            let in_b = b.signum() * 0.0;
            let in_both = a.signum() * 0.0 + in_b;
            for (jump, &(_, p)) in [in_b, in_both].into_iter().zip(edges) {
                out.push(marked(jump, p));
            }
        }
        Op::Pow => {
            let (a, b) = (operand(0), operand(1));
            // As `pow_with_partials`: y·x^(y−1), 0 where y = 0; x^y·ln x, 0 where
            // x = 0 and y ≥ 0.
            let d_base = b * pow_minus_one(a, b.value, a.pow(b - 1.0));
            out.push(if b.value != 0.0 {
                V(d_base)
            } else if d_base.value.is_finite() {
                // y·x^(y−1) is ±0 and its derivatives are those of the formula
                // (x^(y−1) + …): kept, +0 as stored.
                V(d_base + 0.0)
            } else {
                stored(0)
            });
            out.push(if a.value == 0.0 && b.value > 0.0 && b.value <= 1.0 {
                // x^y·ln x at x = 0 is 0 (its limit; x < 0 is outside the
                // domain), but its ∂/∂x, x^(y−1)·(1 + y·ln x), tends to −∞
                // for 0 < y ≤ 1, and the constant 0 would make every second
                // derivative through it 0. −√x + 0 has the value +0 and the
                // derivatives −∞ in x and 0 in y (x^y·ln²x tends to 0): the
                // limits.
                V(-(a.sqrt()) + 0.0)
            } else if a.value == 0.0 && b.value >= 0.0 {
                // y > 1: the limits of x^(y−1)·(1 + y·ln x) and x^y·ln²x are
                // 0, the constant's derivatives. y = 0: 0^y jumps there, a kink
                // (its convention, noted as such).
                stored(1)
            } else {
                V(this * a.ln())
            });
        }
        Op::Log => out.push(log_partial(operand(0), edges[0].1, kept.first().copied())),
        // At an infinite operand the stored partials are limits (±0, ±1; see
        // `atan2_with_partials`, `hypot_with_partials`), as are their own
        // derivatives (0): the stored numbers, constants.
        Op::Atan2 | Op::Hypot if edges.iter().all(|&(_, p)| !p.is_nan()) && infinite_operand() => {
            out.extend((0..edges.len()).map(stored))
        }
        Op::Atan2 => {
            // x/(x² + y²) as (x/h)/h with h = hypot(x, y), as the stored partial
            // is computed: x² + y² would overflow or underflow far sooner; at
            // the edges `atan2_at_edge` picks out, on scaled numbers, as there.
            let (y, x) = (operand(0), operand(1));
            let h = x.hypot(y);
            let (a, b) = (x / h, y / h);
            let (d_y, d_x) = if crate::ops::atan2_at_edge(h.value, a.value, b.value) {
                crate::ops::atan2_partials_scaled(y, x, h)
            } else {
                (a / h, -(b / h))
            };
            // On the branch cut (y = ±0, x < 0) f jumps in y, so ∂/∂y exists
            // nowhere on it, and neither does its derivative along y or x;
            // x/(x² + y²) alone is smooth there, and made the Hessian's row
            // of ∂/∂y plain numbers, no kink found. It is recorded with
            // signum(y·x)·0 added, as a kink's convention is (`marked`): a
            // signum at its jump whose operand depends on both (the value
            // unchanged, ±0 added to a nonzero partial; the derivatives
            // unchanged), which kink detection counts on the paths of both.
            // ∂/∂x, exact there (f is ±π along the cut), is not marked.
            let d_y = if y.value == 0.0 && x.value < 0.0 {
                (y * x).signum() * 0.0 + d_y
            } else {
                d_y
            };
            out.extend([V(d_y), V(d_x)]);
        }
        Op::Atan2Const | Op::ConstAtan2 | Op::HypotConst
            if !edges[0].1.is_nan() && infinite_operand() =>
        {
            out.push(stored(0))
        }
        Op::Atan2Const | Op::ConstAtan2 => {
            let v = operand(0);
            let c = tape
                .kept_constant(node as u32)
                .expect("atan2 against a constant keeps it");
            // ∂atan2(v, c)/∂v = (c/h)/h, ∂atan2(c, v)/∂v = −((c/h)/h), h =
            // hypot(v, c), as `atan2_with_partials` (never 1/h · c/h, which
            // overflows at a subnormal h where c/h/h is 0).
            let h = v.hypot(c);
            let a = c / h;
            let (y, x) = if op == Op::Atan2Const {
                (v.value, c)
            } else {
                (c, v.value)
            };
            let h0 = h.value;
            let d = if crate::ops::atan2_at_edge(h0, x / h0, y / h0) {
                // On scaled numbers, as `atan2_with_partials` at its edges, the
                // constant lifted onto the tape (its derivative is 0).
                let c = v.constant(c);
                if op == Op::Atan2Const {
                    crate::ops::atan2_partials_scaled(v, c, c.hypot(v)).0
                } else {
                    crate::ops::atan2_partials_scaled(c, v, v.hypot(c)).1
                }
            } else {
                let q = a / h;
                if op == Op::Atan2Const {
                    q
                } else {
                    -q
                }
            };
            // On the cut, as atan2 of two nodes above: marked by a signum at
            // its jump in y.
            out.push(V(if op == Op::Atan2Const && v.value == 0.0 && c < 0.0 {
                v.signum() * 0.0 + d
            } else {
                d
            }));
        }
        Op::Hypot | Op::HypotConst => {
            // As `hypot_with_partials`: where h is subnormal, or infinite for
            // finite operands, on the operands scaled by a power of two.
            let s = crate::ops::hypot_scale(this.value);
            if s == 1.0 {
                for k in 0..edges.len() {
                    out.push(V(operand(k) / this));
                }
            } else if op == Op::Hypot {
                let (x, y) = (operand(0) * s, operand(1) * s);
                let h = x.hypot(y);
                out.extend([V(x / h), V(y / h)]);
            } else {
                let c = kept
                    .first()
                    .copied()
                    .expect("hypot against a constant keeps it where h is subnormal or infinite");
                let v = operand(0) * s;
                out.push(V(v / v.hypot(c * s)));
            }
            // The larger operand's partial a/h differentiates to
            // 1/h − a²/h³ = b²/h³, two terms that cancel where |b| ≪ |a|
            // (∂²hypot(x, 1)/∂x² at x = 1e8 was 0, not 1e-24; at 1e4, 1e-8
            // off): taken from q = 1/hypot(r, 1), r = b/a, whose derivatives
            // are products of one sign, scaled to the stored value (q/q₀·p₀,
            // sgn a in p₀). (The smaller's, b/h, differentiates to
            // 1/h − b²/h³ = a²/h³, which does not cancel.)
            let (a, other) = if op == Op::Hypot {
                let (x, y) = (operand(0), operand(1));
                if x.value.abs() >= y.value.abs() {
                    (0, Some(y))
                } else {
                    (1, Some(x))
                }
            } else {
                (0, None)
            };
            // (sgn a taken from a itself, signum(a), not from p₀: a compiled
            // gradient replayed where a has the other sign gave the recording's
            // sign. For a subnormal a, r = (b·2⁵⁴)/(a·2⁵⁴): r's partial 1/a
            // overflows there, where 1/(a·2⁵⁴) does not.)
            let x = operand(a);
            let s = if x.value.abs() < f64::MIN_POSITIVE {
                f64::from_bits(((1023 + 54) as u64) << 52)
            } else {
                1.0
            };
            let r = match (other, kept.first()) {
                _ if x.value == 0.0 || !x.value.is_finite() => None,
                (Some(b), _) if s == 1.0 => Some(b / x),
                (Some(b), _) => Some((b * s) / (x * s)),
                (None, Some(&c)) if x.value.abs() >= c.abs() && s == 1.0 => Some(c / x),
                (None, Some(&c)) if x.value.abs() >= c.abs() => Some((c * s) / (x * s)),
                (None, _) => None,
            };
            if let Some(r) = r.filter(|r| r.value.is_finite()) {
                let q = r.hypot(1.0).recip();
                let p0 = edges[a].1;
                if q.value.is_normal() && p0.is_finite() && p0 != 0.0 {
                    out[a] = V(x.signum() * (q / q.value * p0.abs()));
                }
            }
        }
        Op::MulAdd => out.extend([V(operand(1)), V(operand(0)), Const(1.0)]),
        Op::LogSumExp => {
            if this.value.is_finite() {
                // The softmax as `logsumexp_partials` computes it: with m the
                // largest input (a constant: the softmax does not depend on the
                // shift), eₖ = e^(xₖ − m) with the TwoSum correction of xₖ − m,
                // then eₖ / Σ eⱼ.
                let m = (0..edges.len())
                    .map(|k| operand(k).value)
                    .fold(f64::NEG_INFINITY, |m, x| if x > m { x } else { m });
                let mut exps: SmallVec<[Var<'t>; 8]> = SmallVec::new();
                for k in 0..edges.len() {
                    exps.push(exp_of_difference(operand(k), m));
                }
                let mut sum = exps[0];
                for &e in &exps[1..] {
                    sum += e;
                }
                // The largest input's eₜ/Σe (eₜ = 1) differentiates to
                // 1/Σe − 1/(Σe)², two terms near 1 where its softmax sₜ is
                // (∂²lse(x₀, x₁)/∂x₀² at (0, −40) was 0, not 4.2e-18, and
                // the Hessian indefinite): taken from
                // q = 1/(1 + Σⱼ≠ₜ e^(xⱼ − xₜ)), xₜ its node, whose derivatives
                // have one sign, scaled to the stored value (q/q₀·p₀). The
                // others' sₖ ≤ ½, whose sₖ − sₖ² does not cancel.
                let top = (0..edges.len()).find(|&k| operand(k).value == m);
                let mut rest: Option<Var<'t>> = None;
                if let Some(top) = top.filter(|_| edges.len() > 1) {
                    let xt = operand(top);
                    for k in (0..edges.len()).filter(|&k| k != top) {
                        let e = exp_of_difference_from(operand(k), xt);
                        rest = Some(match rest {
                            Some(r) => r + e,
                            None => e,
                        });
                    }
                }
                for (k, &e) in exps.iter().enumerate() {
                    let p0 = edges[k].1;
                    match rest {
                        Some(r) if Some(k) == top && p0.is_normal() => {
                            let q = (r + 1.0).recip();
                            out.push(V(q / q.value * p0));
                        }
                        _ => out.push(V(e / sum)),
                    }
                }
            } else {
                out.extend((0..edges.len()).map(stored));
            }
        }
        // A relu neuron at its kink (z = 0): its partials are relu′(0)'s
        // convention times wₖ or xₖ, marked as a relu's are (above) through
        // signum(z)·0, z recorded again, so that kink detection finds the
        // kink at the next order (as for `(w·x + b).relu()`). Without the
        // inputs kept, z cannot be recorded again: the constants.
        Op::ReluNeuron | Op::ReluNeuronConst if at_kink(tape, node) => {
            let n = if op == Op::ReluNeuron {
                (edges.len() - 1) / 2
            } else {
                edges.len() - 1
            };
            let z = if op == Op::ReluNeuron {
                let ws: SmallVec<[Var<'t>; 8]> = (0..n).map(|k| operand(2 * k)).collect();
                let xs: SmallVec<[Var<'t>; 8]> = (0..n).map(|k| operand(2 * k + 1)).collect();
                Some(Var::weighted_sum(&ws, &xs, operand(2 * n)))
            } else if kept.len() == n {
                let ws: SmallVec<[Var<'t>; 8]> = (0..n).map(operand).collect();
                Some(Var::weighted_sum_const(&ws, &kept, operand(n)))
            } else {
                None
            };
            kink_partials(z, edges, &mut out);
        }
        // A relu neuron at z < 0 (or a NaN z): every partial is relu′ = 0 times
        // an operand, 0 with derivative 0 (its stored number, a constant; as
        // `times` would record it, 0·v, a node whose +0 the sweep above takes
        // for a kink's marker, and whose derivative 0·v′ is NaN where v′ is
        // infinite: ∂²/∂w∂t of relu(w·√t + b) at t = 0, z < 0, was NaN).
        Op::ReluNeuron if edges[edges.len() - 1].1 != 1.0 => {
            out.extend((0..edges.len()).map(stored))
        }
        Op::WeightedSum | Op::SigmoidNeuron | Op::TanhNeuron | Op::ReluNeuron => {
            // Edges w₀, x₀, w₁, x₁, …, b: ∂a/∂wₖ = a′(z)·xₖ, ∂a/∂xₖ = a′(z)·wₖ.
            let n = (edges.len() - 1) / 2;
            let ws: SmallVec<[Var<'t>; 8]> = (0..n).map(|k| operand(2 * k)).collect();
            let xs: SmallVec<[Var<'t>; 8]> = (0..n).map(|k| operand(2 * k + 1)).collect();
            let bias = operand(2 * n);
            let z = if needs_z(op) {
                Some(Var::weighted_sum(&ws, &xs, bias))
            } else {
                None
            };
            let derivative = activation_derivative(op, edges, this, z);
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
            // Edges w₀, …, wₙ₋₁, b; ∂a/∂wₖ = a′(z)·cₖ for the constant inputs cₖ,
            // as kept, or else cₖ = partial / a′(z) (a′(z) is the bias edge's
            // partial).
            let n = edges.len() - 1;
            let da = edges[n].1;
            // z = ±∞ for σ or tanh, with the inputs kept: a′ is recorded at the
            // recorded z (`limit_at_infinity`), so that an infinite input cₖ
            // still gives 0·∞ = NaN on the path through z, as in the plain
            // spelling σ(w·c + b) (the stored constants would drop it: entry
            // (b, w) was 0 where the plain spelling's is NaN).
            // z summed as the neuron summed it (the products in order, then the
            // bias): the bias first can overflow where the neuron's z is finite
            // (b = 1e308 with products 1e308 and −1e308) or the reverse.
            let infinite_z = needs_z(op)
                && kept.len() == n
                && crate::fused::sum_then_bias(
                    (0..n).map(|k| operand(k).value * kept[k]),
                    operand(n).value,
                )
                .is_infinite();
            if (da == 0.0 && !infinite_z) || !da.is_finite() {
                // Saturated, or a relu with z ≤ 0: a′ and a″ vanish together (or
                // a NaN z: NaN partials).
                out.extend((0..edges.len()).map(stored));
            } else {
                let ws: SmallVec<[Var<'t>; 8]> = (0..n).map(operand).collect();
                let have = kept.len() == n;
                let cs: SmallVec<[f64; 8]> = if have {
                    kept.clone()
                } else {
                    (0..n).map(|k| edges[k].1 / da).collect()
                };
                let bias = operand(n);
                let z = if needs_z(op) {
                    Some(Var::weighted_sum_const(&ws, &cs, bias))
                } else {
                    None
                };
                let derivative = activation_derivative(op, edges, this, z);
                for (k, &c) in cs.iter().enumerate() {
                    out.push(match derivative {
                        Const(d) => Const(d * c),
                        // Without the inputs kept: (a′/a′₀)·∂a/∂wₖ, whose value is
                        // the stored partial exactly (a′/a′₀ is 1 there).
                        V(d) if !have && d.value.is_normal() => V(d / d.value * edges[k].1),
                        V(d) | Partial::Step(d) => V(d * c),
                    });
                }
                out.push(match derivative {
                    V(d) if !have && d.value.is_normal() => V(d / d.value * da),
                    _ => derivative,
                });
            }
        }
        Op::HalfSquaredError | Op::MeanSquaredError => {
            // ½(o − t)²: o − t; ((o − t)²)/n: 2(o − t)/n, with the targets t
            // as kept, or else from the stored partial (`affine_partial`).
            let n = edges.len();
            let scale = (op == Op::MeanSquaredError).then_some(n as f64);
            for k in 0..n {
                let o = operand(k);
                out.push(V(if kept.len() == n {
                    scaled(o - kept[k], scale)
                } else {
                    affine_partial(o, edges[k].1, scale)
                }));
            }
        }
        // A unary op at x = ±∞ with a finite partial: see `limit_at_infinity`.
        _ if tape.value(edges[0].0 as usize).is_infinite() && edges[0].1.is_finite() => {
            out.push(V(limit_at_infinity(operand(0), edges[0].1)))
        }
        _ => out.push(V(unary_recorded(op, operand(0), this.value, Some(this)))),
    }
    // A NaN partial is NaN at every order: its derivative is NaN with respect to
    // every operand, not the 0 of a constant (the policy's rule 4).
    if out.iter().any(|p| matches!(p, Const(c) if c.is_nan())) {
        let operands: SmallVec<[Var<'t>; 8]> = (0..edges.len()).map(operand).collect();
        let nan = nan_over(&operands);
        for p in out.iter_mut() {
            if matches!(p, Const(c) if c.is_nan()) {
                *p = V(nan);
            }
        }
    }
    out
}

/// The partials of `edges` at a kink: where `u`, the quantity whose sign picks
/// the piece, is 0, each marked through signum(u)·0 ([`marked`]); else (no
/// such quantity, or a tie at ±∞ where it is NaN) the stored constants.
/// (Recorded outside closures, so that a full tape panics at the caller's
/// line.)
#[track_caller]
fn kink_partials<'t>(
    u: Option<Var<'t>>,
    edges: &[(u32, f64)],
    out: &mut SmallVec<[Partial<'t>; 8]>,
) {
    match u.filter(|u| u.value == 0.0) {
        Some(u) => {
            let jump = u.signum() * 0.0;
            for &(_, p) in edges {
                out.push(marked(jump, p));
            }
        }
        None => out.extend(edges.iter().map(|&(_, p)| Partial::Const(p))),
    }
}

/// A convention `p` recorded with `jump`, a signum at its jump times 0, added:
/// `jump + p`, the value `p` bit for bit and the derivative 0, through a signum
/// that kink detection counts on every path through it. A −0 stays the
/// constant (+0 + −0 would be +0).
#[track_caller]
fn marked<'t>(jump: Var<'t>, p: f64) -> Partial<'t> {
    if p.to_bits() == (-0.0f64).to_bits() {
        Partial::Const(p)
    } else {
        Partial::Var(jump + p)
    }
}

/// Whether `op` is a kink op whose partial away from its kink
/// [`branch_partials`] records as an expression.
fn is_kink_op(op: Op) -> bool {
    matches!(
        op,
        Op::Relu
            | Op::Abs
            | Op::LeakyRelu
            | Op::Max
            | Op::Min
            | Op::MaxConst
            | Op::MinConst
            | Op::Clamp
    )
}

/// Whether some edge on a path down from a node has a partial that is not
/// finite, memoized over one [`Tape::grad`] (each node's edges read once).
/// A node reached at the next order only with adjoint 0 (below a
/// [`branch_partials`] expression's signum, or below a masked edge's
/// adjoint · 0) passes 0 · ∞ = NaN down such an edge, where a constant
/// partial had no path there and gave 0.
#[derive(Default)]
struct NonFiniteBelow {
    /// Per node: 0 not known yet, 1 every partial below finite, 2 not.
    known: Vec<u8>,
}

impl NonFiniteBelow {
    /// Whether any of `roots` has a non-finite partial on a path below it.
    fn any(&mut self, tape: &Tape, roots: impl IntoIterator<Item = u32>) -> bool {
        tape.recording.read(|rec| {
            if self.known.len() < rec.len() {
                self.known.resize(rec.len(), 0);
            }
            let mut found = false;
            let mut stack: Vec<(u32, bool)> = Vec::new();
            for root in roots {
                stack.push((root, false));
                while let Some((n, expanded)) = stack.pop() {
                    let i = n as usize;
                    if expanded {
                        let below = rec.edges(i).any(|(o, _)| self.known[o as usize] == 2);
                        self.known[i] = if below { 2 } else { 1 };
                    } else if self.known[i] == 0 {
                        if rec.edges(i).any(|(_, p)| !p.is_finite()) {
                            self.known[i] = 2;
                        } else {
                            stack.push((n, true));
                            for (o, _) in rec.edges(i) {
                                if self.known[o as usize] == 0 {
                                    stack.push((o, false));
                                }
                            }
                        }
                    }
                }
                found |= self.known[root as usize] == 2;
            }
            found
        })
    }
}

/// The partials of kink op `op` over `operands` (its kept constants `kept`)
/// away from its kink, as expressions that pick the branch by the sign of the
/// quantity that picks it: their values are the stored partials bit for bit
/// (the caller has checked that none is NaN and that the op is not at its
/// kink), their derivatives 0 (signum's partial is 0, and every other op
/// here passes it on or is masked), and replayed at new inputs they are the
/// branch taken there. With H(u) = relu(signum(u)), 1 for u > 0 and 0 for
/// u < 0 (u is never 0 here):
///
/// - `abs`: signum(x); `relu`: H(x);
/// - `leaky_relu(α)`: max(signum(x), α) for −1 < α < 1, signum(x) for α = −1,
///   max(−α·signum(x), 1) for α > 1, min(−α·signum(x), 1) for α < −1 (no
///   tie, so no kink of its own, and exact: no α + (1 − α)·H(x) rounding);
/// - `max(a, b)`: H(a − b) and 1 − H(a − b); `min(a, b)`: H(b − a) and
///   1 − H(b − a) (a − b is 0 only where a = b, a tie);
/// - `max(x, c)`: H(x − c); `min(x, c)`: H(c − x);
/// - `clamp(x, lo, hi)`: H((x − lo)·(hi − x)), 1 strictly inside, 0 outside
///   (the product underflows to a zero of its sign); H(hi − x) for lo = −∞,
///   H(x − lo) for hi = ∞, and H(x − lo)·H(hi − x) where x − lo or hi − x
///   is infinite (that product's partials would be: see `NonFiniteBelow`).
///
/// At the kink itself a replay gives the branch of the zero's sign, where a
/// fresh recording gives the convention (`Program::check` names that node).
/// `None` where the partial is one constant on both sides (`leaky_relu` with
/// α = 1, `clamp` with lo = hi, `max(x, x)`), or where the constant is not
/// kept ([`Tape::set_keep_constants`]; a tape for replay keeps them): the
/// stored constant is then recorded, as the branch taken.
#[track_caller]
fn branch_partials<'t>(
    op: Op,
    operands: &[Var<'t>],
    kept: &[f64],
) -> Option<SmallVec<[Var<'t>; 2]>> {
    let x = operands[0];
    let mut out: SmallVec<[Var<'t>; 2]> = SmallVec::new();
    match op {
        Op::Abs => out.push(x.signum()),
        // (Each H(u) written out, not through a closure, so that a full tape
        // panics at the caller's line.)
        Op::Relu => out.push(x.signum().relu()),
        Op::LeakyRelu => {
            let alpha = *kept.first()?;
            if alpha == 1.0 || alpha.is_nan() {
                return None;
            }
            let t = x.signum();
            out.push(if alpha == -1.0 {
                t
            } else if alpha > -1.0 && alpha < 1.0 {
                t.max_const(alpha)
            } else if alpha > 1.0 {
                (t * -alpha).max_const(1.0)
            } else {
                (t * -alpha).min_const(1.0)
            });
        }
        // (Equal operands: max(x, x), whose partials are ½ and ½ at every x,
        // the stored constants; two nodes that tie are at the kink.)
        Op::Max | Op::Min if operands.len() == 2 && operands[0].value != operands[1].value => {
            let (a, b) = (operands[0], operands[1]);
            let u = if op == Op::Max { a - b } else { b - a };
            let h = u.signum().relu();
            out.push(h);
            out.push(1.0 - h);
        }
        Op::MaxConst => {
            let c = *kept.first()?;
            out.push((x - c).signum().relu());
        }
        Op::MinConst => {
            let c = *kept.first()?;
            out.push((c - x).signum().relu());
        }
        Op::Clamp => {
            let (&lo, &hi) = (kept.first()?, kept.get(1)?);
            let x0 = x.value;
            if lo == hi || (lo == f64::NEG_INFINITY && hi == f64::INFINITY) {
                return None;
            }
            out.push(if lo == f64::NEG_INFINITY {
                (hi - x).signum().relu()
            } else if hi == f64::INFINITY {
                (x - lo).signum().relu()
            } else if (x0 - lo).is_finite() && (hi - x0).is_finite() {
                ((x - lo) * (hi - x)).signum().relu()
            } else {
                // (x − lo)·(hi − x) would have an infinite partial, below its
                // signum: H(x − lo)·H(hi − x).
                (x - lo).signum().relu() * (hi - x).signum().relu()
            });
        }
        _ => return None,
    }
    Some(out)
}

/// The partial of the table's unary op `op` at `x` (its value `y0`, the node
/// `y()`), recorded: the table's `Scalar` rule, whose value it has bit for bit.
///
/// Where that rule's own derivative cancels, its derivative is taken from an
/// equal expression that does not. σ′ = σ(x)·σ(−x) differentiates to
/// σ′(x)σ(−x) − σ(x)σ′(−x), two terms near σ′/2 whose difference σ″ ≈ −x/8 is
/// lost near 0 (0 at x = 1e-20, 8e-8 relative at 1e-10); in arcsin′ =
/// 1/(√(1 − x)·√(1 + x)) the product's derivative is the sum of
/// −√(1 + x)/(2√(1 − x)) and √(1 − x)/(2√(1 + x)), about −x, lost likewise
/// (arcsin″(1e-20) was 0; arccos′ and artanh′ the same). For |x| below 1
/// (σ) or ½ (the others), where that cancellation costs at least a bit, the
/// partial is q / q₀ · p₀, with q = tanh′(x/2)/4 = 1/(4·cosh²(x/2)) for σ′,
/// 1/√(1 − x·x) for arcsin′ and arccos′, 1/(1 − x·x) for artanh′ (x·x
/// differentiates to 2x exactly, and 1 − x·x is at least ¾ there), q₀ its value
/// and p₀ the rule's: its value is p₀ exactly (q/q₀ is 1), and each derivative
/// is q's times p₀/q₀, which is 1 to a few ulps.
///
/// silu′ = σ(x)·(x·σ(−x) + 1) has a second derivative that cancels the same way
/// (2σ′(x)σ(−x) − 2σ(x)σ′(−x) near 0, where silu‴ ≈ −x/2: silu‴(1e-20) was 0):
/// for |x| < ½, q = (tanh(x/2) + 1)/2 + x/(4·cosh²(x/2)), whose derivatives are
/// sums of terms of one sign there (q itself is at least ¼).
///
/// log₂′ = 1/(x·ln 2) differentiates to −(1/(x·ln 2))²·ln 2, whose square
/// overflows where the derivative, 1/ln 2 times smaller, does not
/// (log₂″(1e-154) ≈ −1.44e308 was −inf): for 0 < |x| < 1, q = 1/x. (So is
/// `log`'s with a base, in `log_partial`, for |ln b| < 1 and |x| < 1, and for
/// |ln b| > 1 and |x| > 1, where the square is instead subnormal and keeps
/// fewer bits than the derivative.)
///
/// arctan′ = 1/(x·x + 1) differentiates to −(arctan′)²·2x, whose square is
/// subnormal from |x| ≈ 1e77 and 0 from about 1e81, though arctan″ ≈ −2/x³
/// is a normal number up to |x| ≈ 1e102 (arctan″(1e90) was 0, not −2e-270): for
/// |x| > 1 its derivatives are taken from q = r·r, r = 1/hypot(x, 1), in the
/// same way (q's derivative −2r³·x/hypot(x, 1) is a product of normal numbers
/// while r³ is one). q is defined at every x: w/(w + 1) with w = (1/x)², used
/// before, was NaN at x = 0, where a compiled gradient recorded at |x| > 1
/// replayed arctan′(0) as NaN, not 1.
///
/// `y` is the node of the op's value, or `None` for a sigmoid whose value is
/// not on the tape (a sigmoid neuron's): then `x.sigmoid()`, recorded only if
/// the rule needs it.
#[track_caller]
fn unary_recorded<'t>(op: Op, x: Var<'t>, y0: f64, y: Option<Var<'t>>) -> Var<'t> {
    let x0 = x.value;
    let smooth = match op {
        Op::Sigmoid if x0.abs() < 1.0 => Some((x * 0.5).cosh().powi(-2) * 0.25),
        Op::Silu if x0.abs() < 0.5 => {
            let half = x * 0.5;
            Some((half.tanh() + 1.0) * 0.5 + x * half.cosh().powi(-2) * 0.25)
        }
        Op::Asin | Op::Acos if x0.abs() < 0.5 => Some((1.0 - x * x).sqrt().recip()),
        Op::Atanh if x0.abs() < 0.5 => Some((1.0 - x * x).recip()),
        // 1/x's derivatives are no larger than log₂′'s for |x| < 1 (see above).
        Op::Log2 if x0 != 0.0 && x0.abs() < 1.0 => Some(x.recip()),
        Op::Atan if x0.abs() > 1.0 => {
            let r = x.hypot(1.0).recip();
            Some(r * r)
        }
        _ => None,
    };
    if let Some(q) = smooth {
        let p0 = unary_partial(op, x0, y0).expect("a unary op of the table");
        if q.value.is_normal() && p0.is_finite() {
            if op == Op::Log2 {
                // 1/x scaled by the constant p₀·x₀ (`reciprocal_scaled`), not
                // by 1/q₀, which a replay far from x₀ overflows or underflows.
                return reciprocal_scaled(q, p0);
            }
            return q / q.value * p0;
        }
    }
    let y = match y {
        Some(y) => y,
        None => {
            debug_assert_eq!(op, Op::Sigmoid, "only a sigmoid's value is recorded here");
            x.sigmoid()
        }
    };
    match unary_partial(op, x, y) {
        Some(p) => p,
        None => unreachable!("every op has a recorded rule: {op}"),
    }
}

/// The partial `p` of a unary op (or a neuron's activation) at an operand
/// `x` = ±∞, where `p` is finite: `p` is the derivative's limit (erf′, cbrt′,
/// acosh′, atan′, σ′, tanh′ → 0; softplus′ → 1), and the limit of each of its
/// own derivatives is 0. The rule's expression would meet 0·∞ there and make
/// them NaN (erf′ = (2/√π)·e^(−x·x), whose x·x has the partial x = ∞; cbrt′ =
/// 1/(3y²) with y = ∞; acosh′ = 1/(√(x − 1)·√(x + 1))), or not, depending on
/// the rule. Recorded as p + 0·|1/x|: the value p exactly (−0 kept), and
/// derivatives that are 0 along finite edges to x (0·|1/x|′), not a
/// constant's missing edge, so that an infinite factor further down still
/// gives 0·∞ = NaN as everywhere else (σ(x·y) at x = ∞, whose ∂/∂y is
/// σ′·x = 0·∞).
#[track_caller]
fn limit_at_infinity<'t>(x: Var<'t>, p: f64) -> Var<'t> {
    let zero = x.recip().abs() * 0.0;
    if p == 0.0 && p.is_sign_negative() {
        p - zero
    } else {
        zero + p
    }
}

/// A NaN whose derivative with respect to each of `operands` is NaN: Σ NaN·oₖ.
#[track_caller]
fn nan_over<'t>(operands: &[Var<'t>]) -> Var<'t> {
    match operands {
        [x] => *x * f64::NAN,
        _ => {
            let nans: SmallVec<[f64; 8]> = operands.iter().map(|_| f64::NAN).collect();
            Var::weighted_sum_const(operands, &nans, operands[0] * f64::NAN)
        }
    }
}

/// x^(c−1) as `kernels::pow_minus_one` computes it, given `p` = x^(c−1) recorded
/// with c − 1 rounded: where c − 1 rounds (its TwoSum error `err` is not 0),
/// p + p·(e^(err·ln x) − 1), the correction taken as a constant (its own
/// derivative is below an ulp of the partial's); for x < 0 and an integer c past
/// 2^53 (c − 1 odd, its rounding even), the same of |x|, negated.
#[track_caller]
fn pow_minus_one<'t>(x: Var<'t>, c: f64, p: Var<'t>) -> Var<'t> {
    let m = c - 1.0;
    let back = m - c;
    let err = (c - (m - back)) + (-1.0 - back);
    let x0 = x.value;
    if err == 0.0 {
        p
    } else if x0 > 0.0 && x0.is_finite() && p.value.is_normal() {
        p + p * (err * x0.ln()).exp_m1()
    } else if x0 < 0.0 && c.fract() == 0.0 {
        // An integer c past 2^53: c − 1 is odd, its rounding m even, so
        // p = |x|^m and x^(c−1) = −|x|^m·|x|^err.
        if x0.is_finite() && p.value.is_normal() {
            -(p + p * (err * (-x0).ln()).exp_m1())
        } else {
            -p
        }
    } else if x0 < 0.0 && x0.is_finite() && c.is_finite() {
        // A tiny c that is no integer, where x^c is NaN: NaN, as the kernel.
        p * f64::NAN
    } else {
        p
    }
}

/// e^(x − m) as `kernels::exp_of_difference` computes it (m a constant): e^s
/// for s = x − m, and e^s + e^s·err with err the exact rounding error of s.
#[track_caller]
fn exp_of_difference<'t>(x: Var<'t>, m: f64) -> Var<'t> {
    let s = x - m;
    exp_with_correction(x.value, m, s)
}

/// e^(x − xₜ) for a node xₜ, as [`exp_of_difference`] computes e^(x − m) for
/// its value m = xₜ's: the same value, and derivatives in both.
#[track_caller]
fn exp_of_difference_from<'t>(x: Var<'t>, top: Var<'t>) -> Var<'t> {
    let s = x - top;
    exp_with_correction(x.value, top.value, s)
}

/// e^s for `s` = x₀ − m recorded, plus e^s·err with err the exact rounding
/// error of that difference (TwoSum), where it is finite and not 0.
#[track_caller]
fn exp_with_correction<'t>(x0: f64, m: f64, s: Var<'t>) -> Var<'t> {
    let back = s.value - x0;
    let err = (x0 - (s.value - back)) + (-m - back);
    let e = s.exp();
    if err == 0.0 || !err.is_finite() {
        e
    } else {
        e + e * err
    }
}

/// ∂log_b x/∂x = 1/(x·ln b), stored as `p`. With the base kept, (x·ln b)⁻¹,
/// computed as the sweep computes it. Without, from `p` by a route that gives
/// `p` exactly: p·(x₀/x) for a finite nonzero x₀ (the value of x: x₀/x is 1
/// there); at x₀ = ±0 or ±∞ every derivative of 1/(x·ln b) is ±∞ or ±0 and
/// depends on ln b only through its sign, which `p` gives: ±1/x (at ±0,
/// ±1/(x + 0), as the sweep takes −0 as +0); a NaN `p` is NaN at every order.
#[track_caller]
fn log_partial<'t>(x: Var<'t>, p: f64, base: Option<f64>) -> Partial<'t> {
    let x0 = x.value;
    match base {
        Some(base) if x0 == 0.0 => Partial::Var(((x + 0.0) * base.ln()).recip()),
        // (x·ln b)⁻¹'s derivative −(x·ln b)⁻²·ln b squares a number larger
        // than the derivative's own where |ln b| < 1 and |x| < 1, and can
        // overflow where it does not (as `log2`'s, see `unary_recorded`); and
        // smaller where |ln b| > 1 and |x| > 1, and can be subnormal, keeping
        // few bits, where the derivative is |ln b| times larger (base 1e300 at
        // x = 1e154: 327 steps off). There its derivatives come from 1/x,
        // scaled to the same value exactly.
        Some(base)
            if x0.is_finite()
                && x0 != 0.0
                && x0.abs() != 1.0
                && (x0.abs() < 1.0) == (base.ln().abs() < 1.0) =>
        {
            let q = x.recip();
            let p0 = log_derivative(x0, base.ln());
            Partial::Var(if q.value.is_normal() && p0.is_finite() {
                reciprocal_scaled(q, p0)
            } else {
                log_derivative(x, base.ln())
            })
        }
        Some(base) => Partial::Var(log_derivative(x, base.ln())),
        None if p.is_nan() => Partial::Const(p),
        None if x0.is_finite() && x0 != 0.0 => Partial::Var(x0 / x * p),
        // ±0: 1/(+0 · ln b), as the sweep stores it, has the sign of ln b.
        None if x0 == 0.0 => {
            let sign = if p.is_sign_negative() { -1.0 } else { 1.0 };
            Partial::Var((x + 0.0).recip() * sign)
        }
        None => {
            let sign = if p.is_sign_negative() == x0.is_sign_negative() {
                1.0
            } else {
                -1.0
            };
            Partial::Var(x.recip() * sign)
        }
    }
}

/// k/x for a constant k, given `q` = 1/x recorded and `p0` = k/x₀ (x₀ the
/// recording point; q's value is 1/x₀, normal): the value `p0` bit for bit,
/// the derivatives k times q's. As q·c + q·d, with c = p₀/q₀ (k, rounded)
/// and d = (p₀ − q₀·c)/q₀ its rounding's remainder, where that sum at x₀
/// gives p₀ exactly (checked here on the same f64 operations the tape
/// records), else as q/q₀·p₀. The first stays finite wherever k/x is when a
/// compiled gradient is replayed far from x₀; q/q₀ overflows or underflows
/// where x₀/x is past f64's range (log₂′ recorded at 1e-300 replayed at 1e25
/// was 0, not 1.4e-25; log₃′ recorded at 1e160 replayed at 1e-150, ∞).
#[track_caller]
fn reciprocal_scaled<'t>(q: Var<'t>, p0: f64) -> Var<'t> {
    let q0 = q.value;
    let mut c = p0 / q0;
    let mut d = (-q0).mul_add(c, p0) / q0;
    if d != 0.0 && c.is_normal() && d.is_sign_negative() != c.is_sign_negative() {
        // c one step toward 0, so that d has c's sign: where a replay's q is
        // ±∞ (x subnormal), q·c + q·d is then ±∞, not ∞ − ∞ = NaN.
        c = f64::from_bits(c.to_bits() - 1);
        d = (-q0).mul_add(c, p0) / q0;
    }
    if c.is_normal()
        && (d == 0.0 || (d.is_normal() && d.is_sign_negative() == c.is_sign_negative()))
    {
        if d == 0.0 && (q0 * c).to_bits() == p0.to_bits() {
            return q * c;
        }
        if d != 0.0 && (q0 * c + q0 * d).to_bits() == p0.to_bits() {
            return q * c + q * d;
        }
    }
    q / q0 * p0
}

/// `d`, or 2d/n for a mean over n (`scale` = `Some(n)`): a loss's partial from
/// its output minus its target.
#[track_caller]
fn scaled<'t>(d: Var<'t>, scale: Option<f64>) -> Var<'t> {
    match scale {
        Some(n) => d * 2.0 / n,
        None => d,
    }
}

/// A partial `scaled(o − t)` ([`scaled`] by `scale`) for a target t the tape
/// did not keep, from the stored partial `p`: its value is `p` exactly and its
/// derivative that of `scaled`. For a finite o₀ (the value of o),
/// scaled(o − o₀) + p (−scaled(o₀ − o) for p = −0, which + would make +0); for
/// an infinite o₀, scaled(o) (p is ±∞ with o₀'s sign) or, for a NaN p, scaled(o)
/// + p.
#[track_caller]
fn affine_partial<'t>(o: Var<'t>, p: f64, scale: Option<f64>) -> Var<'t> {
    let o0 = o.value;
    if o0.is_finite() {
        if p == 0.0 && p.is_sign_negative() {
            -scaled(o0 - o, scale)
        } else {
            scaled(o - o0, scale) + p
        }
    } else if p.is_nan() {
        scaled(o, scale) + p
    } else {
        scaled(o, scale)
    }
}

/// `derivative · v`, keeping a constant derivative constant.
#[track_caller]
fn times<'t>(derivative: Partial<'t>, v: Var<'t>) -> Partial<'t> {
    match derivative {
        // A NaN stays a constant here, made a NaN of every operand by the caller.
        Partial::Const(d) if d.is_nan() => derivative,
        Partial::Const(1.0) => Partial::Var(v),
        Partial::Const(d) => Partial::Var(v * d),
        Partial::Var(d) | Partial::Step(d) => Partial::Var(d * v),
    }
}

/// a′(z) of a fused neuron with value `this`: 1 for a weighted sum, the stored
/// relu′(z) for a relu neuron (piecewise constant), and for σ and tanh the
/// table's own rule at z, recorded over the weighted sum recorded once more by
/// `z` (σ′ as [`unary_recorded`] records it, over σ(z) recorded on that z too,
/// not over `this`).
///
/// `z` is the recorded weighted sum where [`needs_z`] says the op needs it.
#[track_caller]
fn activation_derivative<'t>(
    op: Op,
    edges: &[(u32, f64)],
    this: Var<'t>,
    z: Option<Var<'t>>,
) -> Partial<'t> {
    let z = || z.expect("the weighted sum of a sigmoid or tanh neuron");
    match op {
        Op::WeightedSum | Op::WeightedSumConst => Partial::Const(1.0),
        Op::ReluNeuron | Op::ReluNeuronConst => Partial::Const(edges[edges.len() - 1].1),
        // σ′(z) as the sigmoid op records it (`unary_recorded`), at the
        // recorded z, with σ(z) recorded on that z too (its value is the
        // neuron's): so every derivative of σ′ reaches the operands through
        // that one z, as in `(w·x + b).sigmoid()`. Taken as σ(z)·σ(−z) with
        // σ(z) the neuron's own node, which has edges of its own to the
        // operands, the two parts of σ″ reached each operand apart, each scaled
        // by wₖ or xₖ, and where they cancel (z near 0) they swallowed the
        // rest: ∂²a/∂w₀∂x₀ = σ′(0) = 0.25 at w = (1e10, −1e10),
        // x = (1e10, 1e10), b = 0 came out 0.
        // At z = ±∞, as the sigmoid and tanh ops there (`limit_at_infinity`),
        // a′(z) being the bias edge's partial.
        _ if z().value.is_infinite() && edges[edges.len() - 1].1.is_finite() => {
            Partial::Var(limit_at_infinity(z(), edges[edges.len() - 1].1))
        }
        Op::SigmoidNeuron | Op::SigmoidNeuronConst => {
            let z = z();
            Partial::Var(unary_recorded(Op::Sigmoid, z, this.value, None))
        }
        _ => Partial::Var(crate::ops::rules::tanh::partial(z(), this)),
    }
}

/// Whether [`activation_derivative`] needs the neuron's weighted sum recorded:
/// σ′ and tanh′ are taken at it.
fn needs_z(op: Op) -> bool {
    matches!(
        op,
        Op::SigmoidNeuron | Op::SigmoidNeuronConst | Op::TanhNeuron | Op::TanhNeuronConst
    )
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
#[track_caller]
pub fn grad(f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> Vec<f64> {
    swept("grad", f, x).1
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
#[track_caller]
pub fn value_and_grad(f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> (f64, Vec<f64>) {
    swept("value_and_grad", f, x)
}

/// f(x) and ∇f(x) for [`grad`] and [`value_and_grad`] (`caller`, named if `f`
/// returns a `Var` of another tape).
#[track_caller]
fn swept(caller: &str, f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> (f64, Vec<f64>) {
    let tape = Tape::new();
    let xs = tape.vars(x);
    let y = f(&xs);
    check_output(caller, &tape, y);
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
#[track_caller]
pub fn jacobian(g: impl for<'t> Fn(&[Var<'t>]) -> Vec<Var<'t>>, x: &[f64]) -> Vec<Vec<f64>> {
    let tape = Tape::new();
    let xs = tape.vars(x);
    let outputs = g(&xs);
    for &out in &outputs {
        check_output("jacobian", &tape, out);
    }
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
/// Reverse-over-reverse: the gradient is recorded once ([`Tape::grad`], on a
/// tape that keeps its constants), then each of its n entries is swept. Entries
/// (j, k) and (k, j) come from different sweeps, so they agree to rounding (the
/// result is not symmetrised), except where f is not twice continuously
/// differentiable. At x = 0 of [`Var::pow`]'s x^y, ∂f/∂y is 0 (its limit) and
/// its ∂/∂x, entry (1, 0), is the limit of x^(y−1)·(1 + y·ln x): −∞ for
/// 0 < y ≤ 1, 0 for y > 1. The other mixed entry, (0, 1), differentiates
/// ∂f/∂x = y·0^(y−1) in y, which jumps at y = 1 (∞, 1, 0 below, at and above
/// it): it is NaN for 0 < y < 1 (the product rule x^(y−1) + y·x^(y−1)·ln x
/// meets ∞ − ∞; this sweep does not take the limit), 1 at y = 1 (0^0's
/// convention, a kink) and 0 above. So at (0, 0.5) the Hessian is
/// `[[-inf, NaN], [-inf, 0.0]]`, at (0, 1) entries (0, 1) and (1, 0) are 1
/// and −∞. At y = 0, 0^y itself jumps (a kink, its partials conventions): at
/// (0, 0) the Hessian's entries are 0, conventions, and the recorded gradient
/// passes a signum at its jump wherever an entry does not exist (all but
/// (0, 0)), so [`crate::explain::kink_affecting`] and `compare` on it find
/// the kink. So does `atan2(y, x)` on its branch cut (y = ±0, x < 0), where
/// atan2 jumps in y: the row of ∂f/∂y holds the one-sided values (at
/// (0, −1): `[0, -1]`), and the recorded ∂f/∂y passes a signum at its jump
/// on the paths of y and x; the row of ∂f/∂x (exact there, f = ±π along the
/// cut) does not. At a point of finite inputs, where an entry of the
/// gradient is NaN (0 · ∞ on a path: it has no value there), its row is NaN:
/// there is no derivative of it to take (at a NaN or infinite input, the
/// entries that read no non-finite value keep their constants; see the module
/// docs). Also where a
/// partial's intermediate overflows, as 1/x at a subnormal x in ∂(x^y)/∂y, or
/// underflows, as x^y at (1e-160, 2.5), where entry (1, 0) loses the term
/// x^(y−1) and is 1e-3 off (see [`crate::higher`] on local factors that over- or
/// underflow). And at an infinite input, where one of the two sweeps meets
/// 0·∞ and the other does not: for x^y at (∞, 2), entry (0, 1) is ∞ (the
/// limit of x^(y−1)·(1 + y·ln x)) and entry (1, 0) NaN. Where an input is NaN
/// and an op's partial is NaN (relu, abs, max, … at NaN), the Hessian is NaN,
/// not 0.
///
/// With no inputs (`x` empty) the Hessian is the empty 0 × 0 matrix, and `f`
/// is not called (as in [`hessian_vector_product`]).
///
/// # Panics
///
/// If `f` returns a `Var` of another tape than its inputs' (the message names
/// `hessian`).
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
/// // Rosenbrock: f = (1 − x)² + 100(y − x²)². Pass a closure inline or a fn: a
/// // closure kept in a variable does not compile (Rust gives its argument and
/// // its result one lifetime, where `for<'t>` asks for any).
/// fn rosenbrock<'t>(v: &[Var<'t>]) -> Var<'t> {
///     let (x, y) = (v[0], v[1]);
///     (-x + 1.0).powi(2) + (y - x * x).powi(2) * 100.0
/// }
/// let h = chainrule::hessian(rosenbrock, &[1.0, 1.0]);
/// assert_eq!(h, vec![vec![802.0, -400.0], vec![-400.0, 200.0]]);
///
/// // x^y at (0, 1): ∂²/∂y∂x tends to −∞ (ln x); ∂/∂y of y·0^(y−1) passes
/// // 0^0's convention (it jumps there).
/// let h = chainrule::hessian(|v| v[0].pow(v[1]), &[0.0, 1.0]);
/// assert_eq!((h[0][1], h[1][0]), (1.0, f64::NEG_INFINITY));
/// // At (0, 0.5) ∂/∂y of ∂f/∂x = y·x^(y−1) meets ∞ − ∞; ∂/∂x of ∂f/∂y
/// // is its limit, −∞.
/// let h = chainrule::hessian(|v| v[0].pow(v[1]), &[0.0, 0.5]);
/// assert!(h[0][1].is_nan());
/// assert_eq!((h[0][0], h[1][0], h[1][1]), (f64::NEG_INFINITY, f64::NEG_INFINITY, 0.0));
///
/// // A NaN entry of the gradient (0 · ∞: √x at 0 under max's masked edge)
/// // has a NaN row: no derivative of it to take.
/// let h = chainrule::hessian(|v| v[0].sqrt().max(1.0) * v[1], &[0.0, 2.0]);
/// assert!(h[0][0].is_nan() && h[0][1].is_nan());
/// // At an infinite input, one sweep meets 0·∞:
/// let h = chainrule::hessian(|v| v[0].pow(v[1]), &[f64::INFINITY, 2.0]);
/// assert_eq!(h[0][1], f64::INFINITY);
/// assert!(h[1][0].is_nan());
/// ```
#[track_caller]
pub fn hessian(f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> Vec<Vec<f64>> {
    if x.is_empty() {
        return Vec::new(); // 0 × 0, whatever f is: not called (as `hessian_vector_product`)
    }
    let tape = Tape::new();
    // The constants of `log`, the losses and the neurons over constants, so that
    // their partials are rebuilt from them (see `recorded_partials`).
    tape.set_keep_constants(true);
    let xs = tape.vars(x);
    let y = f(&xs);
    check_output("hessian", &tape, y);
    let gradient = tape.recorded_grad(y, &xs);
    let finite_point = x.iter().all(|v| v.is_finite());
    gradient
        .iter()
        .map(|g| {
            if finite_point && g.value.is_nan() {
                // ∂f/∂xⱼ has no value at this point (0 · ∞ on a path, a NaN
                // partial): nothing to differentiate, and the sweep's finite
                // partials below it would give numbers for a derivative that
                // has none. (At a NaN or infinite input the entries that do not
                // read a non-finite value keep their constants, as JAX's.)
                return vec![f64::NAN; xs.len()];
            }
            let second = g.backward();
            xs.iter().map(|&v| second[v]).collect()
        })
        .collect()
}

/// H·v, the Hessian of `f` at `x` times `v`, without forming H.
///
/// Reverse-over-reverse: the gradient is recorded once, `v · ∇f` is one node
/// over it, and that node's gradient is Hᵀ·v: H·v where H is symmetric (f twice
/// continuously differentiable), so not at x = 0 of [`Var::pow`] (see
/// [`hessian`]), where it is the transpose's product. At a point of finite
/// inputs where an entry j of the gradient is NaN and vⱼ ≠ 0, every entry is
/// NaN (row j of H is NaN: see [`hessian`]). Where an entry j of the gradient
/// is infinite or NaN, vⱼ = 0 does not remove it: `v · ∇f` holds 0 · ∞ or
/// 0 · NaN, both NaN, and the entries it reaches are NaN where [`hessian`] has
/// exact ones (f = x²·y + √z at z = 0, v = (1, 0, 0): [4, 2, NaN], for H's
/// row [4, 2, 0]; which entries it reaches depends on how f is written). Use
/// [`hessian`] there, or leave such inputs out of `f`'s arguments.
///
/// With no inputs (`x` and `v` empty) the product is empty, and `f` is not
/// called (as in [`hessian`]).
///
/// # Panics
///
/// If `v` and `x` differ in length, or `f` returns a `Var` of another tape than
/// its inputs'.
///
/// # Complexity
///
/// Recording `f`, one recorded sweep and one plain sweep: O(N + E), whatever n.
///
/// ```
/// // f = x²y: H = [[2y, 2x], [2x, 0]]
/// let hv = chainrule::hessian_vector_product(|v| v[0] * v[0] * v[1], &[3.0, 2.0], &[1.0, 0.0]);
/// assert_eq!(hv, vec![4.0, 6.0]);
///
/// // ∂f/∂z = ∞ at z = 0: 0 · ∞ in v · ∇f, though vz = 0.
/// fn f<'t>(v: &[chainrule::Var<'t>]) -> chainrule::Var<'t> {
///     v[0] * v[0] * v[1] + v[2].sqrt()
/// }
/// let hv = chainrule::hessian_vector_product(f, &[1.0, 2.0, 0.0], &[1.0, 0.0, 0.0]);
/// assert_eq!(&hv[..2], &[4.0, 2.0]);
/// assert!(hv[2].is_nan());
/// assert_eq!(chainrule::hessian(f, &[1.0, 2.0, 0.0])[0], vec![4.0, 2.0, 0.0]);
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
        "chainrule: hessian_vector_product needs v as long as x ({} {}, v has {})",
        x.len(),
        crate::plural(x.len(), "input", "inputs"),
        v.len()
    );
    let tape = Tape::new();
    tape.set_keep_constants(true); // as `hessian`
    let xs = tape.vars(x);
    if xs.is_empty() {
        return Vec::new();
    }
    let y = f(&xs);
    check_output("hessian_vector_product", &tape, y);
    let gradient = tape.recorded_grad(y, &xs);
    let finite_point = x.iter().all(|v| v.is_finite());
    if finite_point
        && gradient
            .iter()
            .zip(v)
            .any(|(g, &vj)| g.value.is_nan() && vj != 0.0)
    {
        // Hᵀ·v = Σⱼ vⱼ · (row j of H), and a NaN ∂f/∂xⱼ has a NaN row.
        return vec![f64::NAN; xs.len()];
    }
    let directional = Var::weighted_sum_const(&gradient, v, y.constant(0.0));
    let hv = directional.backward();
    xs.iter().map(|&x| hv[x]).collect()
}

#[cfg(test)]
mod tests {
    use super::derivative_label;

    #[test]
    fn derivative_labels_count_orders_and_powers() {
        assert_eq!(derivative_label("y", "x"), "∂y/∂x");
        assert_eq!(derivative_label("∂y/∂x", "x"), "∂²y/∂x²");
        assert_eq!(derivative_label("∂²y/∂x²", "x"), "∂³y/∂x³");
        assert_eq!(derivative_label("∂²y/∂x²", "w"), "∂³y/∂x²∂w");
        assert_eq!(derivative_label("∂y/∂w₁", "w₂"), "∂²y/∂w₁∂w₂");
        // Not a derivative's label: taken as a name.
        assert_eq!(derivative_label("∂", "x"), "∂∂/∂x");
        assert_eq!(derivative_label("∂y", "x"), "∂∂y/∂x");
    }
}
