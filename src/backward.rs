//! The reverse sweep, and the [`Gradients`] it returns.
//!
//! Recording order is a topological order: every node is recorded after its
//! operands. So back-propagation needs no graph search and no sort. It is one loop,
//! from the output down to node 0:
//!
//! ```text
//! adjoint[output] = 1
//! for node in (0..=output).rev():
//!     for (operand, partial) in edges(node):
//!         adjoint[operand] += adjoint[node] * partial
//! ```
//!
//! When the loop reaches a node, every node that uses it has a larger index and has
//! already been visited, so its adjoint is complete: that is the chain rule, summed
//! over all paths. Cost: O(nodes + edges) up to the output, no recursion, no
//! allocation once the adjoint buffer has grown (dropping a [`Gradients`] hands its
//! buffer to the next sweep on the same thread), but for one flag per node, which
//! nodes lie on a path from the output, made where a zero adjoint meets a NaN or
//! infinite partial (see the policy below).
//!
//! # Memory
//! A sweep from node `n` needs `8 · (n + 1)` bytes of adjoints. Each thread keeps
//! the buffer of the last dropped [`Gradients`] for the next sweep, so a training
//! loop allocates nothing after its first step. The spare is given back when a
//! sweep needs less than a quarter of it and it holds more than 64 Ki entries
//! (512 KiB): after one 50-million-node gradient, the next small sweep frees the
//! 400 MB instead of keeping them for the rest of the thread's life.
//!
//!
//! # Non-finite values: the policy
//!
//! One policy for NaN and infinity, followed by every reader of the tape: this
//! sweep, [`graph::textbook_backward`](crate::graph::textbook_backward),
//! explanations and comparisons ([`Gradients::explain`], [`Gradients::compare`]),
//! the DOT drawings and the anomaly reports.
//!
//! | rule | what it means | example (gradient of the output w.r.t. `x`) |
//! |---|---|---|
//! | 1. Only nodes on a path from the output contribute | a node the output does not depend on passes nothing, whatever its partials | `x * 3` with `x.sqrt()` at 0 (∂ = ∞) recorded on the side: **3** |
//! | 2. On a path, `adjoint × partial` is IEEE arithmetic | 0 · ∞ is NaN: an indeterminate derivative is reported as NaN, never as a silent 0 | `x.sqrt().square()` at 0 (2√0 · 1/(2√0)): **NaN**, as PyTorch and JAX |
//! | 3. A select op passes exactly 0 to the operand it did not select | relu (and a relu neuron) for z ≤ 0, `max`/`min` for the other operand (or against a constant that wins), `clamp` outside its bounds, `signum` always (its derivative is 0; NaN at NaN): a *masked* edge, 0 even from an infinite or NaN adjoint, as PyTorch's masking (and its `sign`, whose gradient is zeros) | `x.relu().sqrt()` at −1 or −0.0: **0**; `a.max(b).sqrt()` with a = 0 > b: ∂/∂b = **0**; `x.signum() * ∞`: **0** |
//! | 4. A NaN value has NaN partials | relu, abs, leaky_relu, signum, max, min and clamp at NaN have derivative NaN, so a NaN is never hidden in a finite gradient | `x.relu()` at NaN: **NaN** |
//!
//! Rule 3 masks one edge, not what lies below it: an operand a select op did not
//! pick, with a zero adjoint, still lies on a path from the output, and rule 2
//! applies to its own edges (0 · ∞ below a masked edge is NaN, as in PyTorch,
//! where the masked gradient 0 flows on).
//!
//! Where a non-finite gradient starts is reported by
//! [`Gradients::gradient_anomaly`] (the node, its op, the partial and the
//! contribution); a non-finite value or partial on the tape by
//! [`Tape::find_anomaly`].
//!
//! ## What it costs
//! The hot loop is unchanged: a finite nonzero adjoint is multiplied through every
//! edge. A zero adjoint skips its node after one test: the tape notes, while
//! recording and without a branch per partial, whether any partial is NaN or
//! infinite (only then are zero-adjoint nodes on a path looked at one by one). A tape with no select op needs nothing more: every
//! edge is an IEEE product. A tape with one notes, without a branch, whether an
//! infinite or NaN adjoint was multiplied through, and only then sweeps again,
//! passing exactly 0 down masked edges.

use std::cell::Cell;
use std::fmt;
use std::ops::Index;

use crate::op::Layout;
use crate::tape::{NeuronRun, Op, Recording, Tape};
use crate::var::Var;

impl<'t> Var<'t> {
    /// Back-propagates from this variable: one reverse sweep over the nodes recorded
    /// up to it, returning ∂self/∂node for every node.
    ///
    /// The tape is not consumed: call it again, or from another output. Cost
    /// O(nodes + edges) up to `self`; nothing recurses, nothing is sorted.
    ///
    /// NaN and infinity follow one policy, tabled in the [`crate::backward`]
    /// module docs: only nodes on a path from `self` contribute, 0 · ∞ on a
    /// path is NaN (never a silent 0), a select op (relu, `max`, `min`,
    /// `clamp`, `signum`) passes exactly 0 to the operand it did not select,
    /// and a NaN value has NaN partials. [`Gradients::gradient_anomaly`] names
    /// the node where a non-finite gradient starts.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(3.0);
    /// let y = x * x;
    /// assert_eq!(y.backward()[x], 6.0);
    /// assert_eq!(y.backward().wrt(x), 6.0); // the same again
    /// ```
    #[inline]
    pub fn backward(self) -> Gradients<'t> {
        // The tape and the index passed apart, in registers: passed whole, the
        // `Var` is copied to memory for the call, 16 bytes loaded at once from
        // a `Var` its maker (a user's function returning it) stored 8 bytes at
        // a time, which waits for both stores to reach the cache.
        Gradients::sweep_from(self.tape, self.index)
    }
}

/// ∂output/∂node for every node of a tape, from one reverse sweep.
///
/// Index it with a [`Var`] (`g[x]`) or call [`wrt`](Gradients::wrt). A node the
/// output does not depend on, including any node recorded after the output, has
/// gradient 0.0. Dropping a `Gradients` hands its buffer to the next sweep on the
/// same thread.
///
/// ```
/// use chainrule::{Gradients, Tape};
///
/// let tape = Tape::new();
/// let a = tape.var(2.0);
/// let b = tape.var(3.0);
/// let y = a * b + a;
/// let g: Gradients = y.backward();
/// assert_eq!((g[a], g[b], g.wrt(y)), (4.0, 2.0, 1.0));
/// ```
#[must_use = "backward() sweeps the tape to compute gradients; read them with g[x] or g.wrt(x)"]
pub struct Gradients<'t> {
    tape: &'t Tape,
    output: u32,
    adjoints: AdjointBuffer,
}

thread_local! {
    /// The adjoint buffer of the last `Gradients` dropped on this thread, reused by
    /// the next sweep: a training loop allocates no adjoints after its first step.
    static SPARE_ADJOINTS: Cell<Vec<f64>> = const { Cell::new(Vec::new()) };
}

/// The spare adjoint buffer is always kept up to this many entries (512 KiB);
/// past it, only while sweeps use at least a quarter of it.
const KEEP_SPARE: usize = 1 << 16;

/// The adjoints of one sweep. On drop the buffer goes back to this thread's spare
/// slot. It is this field, not `Gradients`, that has a `Drop` impl: a type with a
/// lifetime and a `Drop` impl could not be a block's tail temporary (edition 2021
/// would reject `{ let tape = Tape::new(); …; y.backward()[x] }`).
struct AdjointBuffer(Vec<f64>);

impl AdjointBuffer {
    /// `len` zeros, in the spare buffer when there is one. A spare much larger
    /// than needed (over [`KEEP_SPARE`] entries and over 4 × `len`) is freed
    /// instead, so one huge sweep does not pin its memory for the thread's life.
    #[inline]
    fn zeroed(len: usize) -> Self {
        let mut buffer = SPARE_ADJOINTS
            .try_with(|spare| spare.take())
            .unwrap_or_default();
        let capacity = buffer.capacity();
        if capacity < len || capacity > KEEP_SPARE && capacity / 4 > len {
            return AdjointBuffer(fresh_zeros(len));
        }
        // The room is there, so `resize` does not grow: no call takes the
        // vector's address, and it stays in registers (moved through the
        // stack, its pointer went through a 16-byte load over two stores,
        // which waits for both to reach the cache, before the sweep could
        // start).
        buffer.clear();
        buffer.resize(len, 0.0);
        AdjointBuffer(buffer)
    }
}

/// `len` zeros, newly allocated (the spare buffer was too small, or too large
/// to keep).
#[cold]
#[inline(never)]
fn fresh_zeros(len: usize) -> Vec<f64> {
    vec![0.0; len]
}

impl Drop for AdjointBuffer {
    fn drop(&mut self) {
        let buffer = std::mem::take(&mut self.0);
        // During thread teardown the slot may be gone: then the buffer is freed.
        // (The buffer it replaces is usually the empty one the last sweep left.)
        let _ = SPARE_ADJOINTS.try_with(|spare| drop(spare.replace(buffer)));
    }
}

impl<'t> Gradients<'t> {
    pub(crate) fn sweep_from(tape: &'t Tape, output: u32) -> Self {
        let mut adjoints = AdjointBuffer::zeroed(output as usize + 1);
        adjoints.0[output as usize] = 1.0;
        tape.recording
            .read(|rec| sweep_tape(rec, &mut adjoints.0, output));
        Gradients {
            tape,
            output,
            adjoints,
        }
    }

    /// ∂output/∂x: 0.0 for a node the output does not depend on.
    ///
    /// # Panics
    /// If `x` belongs to another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0);
    /// let unused = tape.var(5.0);
    /// let g = (x * 3.0).backward();
    /// assert_eq!((g.wrt(x), g.wrt(unused)), (3.0, 0.0));
    /// ```
    #[inline]
    #[track_caller]
    pub fn wrt(&self, x: Var<'_>) -> f64 {
        self.check_tape(x);
        self.adjoints
            .0
            .get(x.index as usize)
            .copied()
            .unwrap_or(0.0)
    }

    /// The gradient of the node at `index` (0.0 beyond the output).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// let g = x.square().backward();
    /// assert_eq!(g.by_index(x.index()), 4.0);
    /// ```
    #[inline]
    pub fn by_index(&self, index: usize) -> f64 {
        self.adjoints.0.get(index).copied().unwrap_or(0.0)
    }

    /// The node the sweep started from.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let y = tape.var(2.0).exp();
    /// assert_eq!(y.backward().output(), y.index());
    /// ```
    pub fn output(&self) -> usize {
        self.output as usize
    }

    /// The tape the gradients were swept on.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let g = tape.var(1.0).backward();
    /// assert!(std::ptr::eq(g.tape(), &tape));
    /// ```
    pub fn tape(&self) -> &'t Tape {
        self.tape
    }

    /// The running error bound of the output's value: |y| + Σ |vᵢ|·|∂y/∂vᵢ|
    /// over the recorded nodes but the leaves, each |v| taken as at least
    /// `f64::MIN_POSITIVE` (2.2e-308). Each op rounds its result vᵢ by at most
    /// ε/2·|vᵢ|, or, for a result below 2.2e-308 (subnormal, or 0 by
    /// underflow), by up to 2⁻¹⁰⁷⁵ = ε/2 · 2.2e-308 absolutely; that reaches y
    /// times ∂y/∂vᵢ, so to first order the computed y is within ε/2 times this
    /// of the exact value of the recorded ops at the leaves (Higham, *Accuracy
    /// and Stability of Numerical Algorithms*, 2nd ed., §3.3; Linnainmaa 1976).
    /// It sees what |y| alone does not: (x + 1e8) − 1e8 rounds at the ulps of
    /// 1e8, and x·1e-300·1e-20 at 1 (1e-320) at the ulps of the subnormals,
    /// 4.9e-324, not at ε·1e-320. Terms that are not finite (a NaN or infinite
    /// adjoint) are left out.
    ///
    /// [`gradcheck`](crate::gradcheck::gradcheck) uses it to tell a
    /// difference lost to rounding from evidence.
    ///
    /// # Complexity
    /// One pass over the nodes up to the output.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.5);
    /// let y = (x + 1e8) - 1e8;
    /// let g = y.backward();
    /// assert!(g.running_error_bound() > 1e8); // |x + 1e8| · 1
    /// ```
    pub fn running_error_bound(&self) -> f64 {
        let output = self.output as usize;
        // A result below MIN_POSITIVE rounds absolutely, by up to ε/2 · MIN_POSITIVE.
        let magnitude = |v: f64| v.abs().max(f64::MIN_POSITIVE);
        let mut bound = if self.tape.op(output) == Op::Leaf {
            self.tape.value(output).abs()
        } else {
            magnitude(self.tape.value(output))
        };
        for node in 0..output {
            if self.tape.op(node) == Op::Leaf {
                continue;
            }
            let term = magnitude(self.tape.value(node)) * self.by_index(node).abs();
            if term.is_finite() {
                bound += term;
            }
        }
        bound
    }

    /// A first-order bound on the rounding error of the sweep in
    /// [`g.wrt(x)`](Gradients::wrt): how far the f64 gradient may be from the
    /// exact sum over paths of the products of the *recorded* partials.
    ///
    /// Each adjoint is a sum of k contributions `adjoint · partial`, added in
    /// the sweep's order: each product rounds by at most ε/2 relative (the
    /// partial itself taken as correct to an ulp), and the sum by at most
    /// (k − 1)·ε/2 times the sum of the terms' magnitudes (recursive
    /// summation: Higham, *Accuracy and Stability of Numerical Algorithms*,
    /// 2nd ed., §4.2), and the errors of the adjoints summed are carried down
    /// their edges. So with mᵢ the sum over paths from the output to node i of
    /// |∏ partials| and kᵢ its number of contributions, the bound is
    /// eᵢ = Σ_users eⱼ·|∂vⱼ/∂vᵢ| + (kᵢ + 1)·ε·mᵢ. Where the terms cancel it is
    /// far larger than ε · |`g[x]`|: for x³ − (x − 1)³ at 1e10 the terms are
    /// ±3e20, the gradient 6e10 − 3, the tape's value off by 22,525, the bound
    /// ~8e5. It is a worst case: the error is usually far smaller.
    ///
    /// What it does not cover: rounding in the forward pass, where a recorded
    /// value, and so the partials computed from it, are already off (x·x −
    /// 1e10 near x = 1e5 loses about half its digits to cancellation, and the
    /// gradient of its square is off by ~1e-5 relative, outside this bound).
    /// Each rounding also adds 2⁻¹⁰⁷⁴ absolutely, for results in the subnormal
    /// range (below 2.2e-308), whose rounding is absolute, not relative
    /// ((x·1e-200)·1e-130 is 1e-330 exactly and 0 in f64). Masked edges (see
    /// the policy table) add nothing. Where the gradient is infinite or NaN,
    /// so is the bound.
    ///
    /// # Complexity
    /// One sweep over the nodes from x to the output: O(nodes + edges) time,
    /// three f64 or counts per node of memory, per call.
    ///
    /// # Panics
    /// If `x` belongs to another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1e10);
    /// let y = x.powi(3) - (x - 1.0).powi(3);
    /// let g = y.backward();
    /// let exact = 6e10 - 3.0;
    /// assert!((g[x] - exact).abs() > 1e-7 * exact); // cancellation
    /// assert!((g[x] - exact).abs() <= g.rounding_bound(x));
    /// // Without cancellation the bound is a few ulps of the gradient.
    /// let x2 = tape.var(3.0);
    /// let g2 = (x2 * x2).backward();
    /// assert!(g2.rounding_bound(x2) < 1e-13);
    /// ```
    #[track_caller]
    pub fn rounding_bound(&self, x: Var<'_>) -> f64 {
        self.check_tape(x);
        let output = self.output as usize;
        let index = x.index as usize;
        if index > output {
            return 0.0;
        }
        // The policy's NaN and ∞ (0 · ∞ below a masked edge among them, which
        // the count of contributions below does not see): the bound is too.
        let gradient = self.by_index(index);
        if !gradient.is_finite() {
            return gradient.abs();
        }
        let span = output + 1 - index;
        // By node − index: the magnitude mᵢ, the errors carried down eᵢ, the
        // contributions kᵢ.
        let mut magnitude = vec![0.0; span];
        let mut error = vec![0.0; span];
        // u64: a node can take more than u32::MAX contributions (2³¹ nodes
        // `x + x`), and an overflow check panicking here, inside the arena
        // cell, would run the panic hook there (see `tape::cell`).
        let mut count = vec![0u64; span];
        magnitude[span - 1] = 1.0;
        // Per rounding: ε relative, or in the subnormal range (below 2.2e-308,
        // where a product's error is absolute) one subnormal ulp, 2⁻¹⁰⁷⁴.
        let tiny = f64::from_bits(1);
        let local = |m: f64, k: u64| (k as f64 + 1.0) * (f64::EPSILON * m + tiny);
        self.tape.recording.read(|rec| {
            for node in (index + 1..=output).rev() {
                let at = node - index;
                // On no path from the output: the sweep passes nothing on. (A
                // node on one may have mᵢ = 0: a zero partial above it, whose
                // 0 · ∞ below is NaN, or products that underflow, whose
                // rounding the partials below may magnify: 1e-300 · 1e-300
                // is 0 in f64, and times 1e400 is 0 against 1e-200.)
                if count[at] == 0 && at != span - 1 {
                    continue;
                }
                let m = magnitude[at];
                // Every user has added its contribution: this adjoint's own
                // rounding is now known (none at the seed).
                let e = if count[at] == 0 {
                    error[at]
                } else {
                    error[at] + local(m, count[at])
                };
                let op = rec.ops()[node];
                let last = rec.edges(node).last().map_or(0.0, |(_, partial)| partial);
                for (operand, partial) in rec.edges(node) {
                    let operand = operand as usize;
                    if operand < index || is_masked(op, partial, last) {
                        continue;
                    }
                    let to = operand - index;
                    magnitude[to] += m * partial.abs();
                    error[to] += e * partial.abs();
                    count[to] += 1;
                }
            }
        });
        if span == 1 || count[0] == 0 {
            return error[0];
        }
        error[0] + local(magnitude[0], count[0])
    }

    /// The gradient of every node from 0 to the output, by index.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// let y = x * 5.0;
    /// assert_eq!(y.backward().as_slice(), &[5.0, 1.0]);
    /// ```
    pub fn as_slice(&self) -> &[f64] {
        &self.adjoints.0
    }

    /// The gradients of `vars`, in order.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let w = tape.vars(&[1.0, 2.0]);
    /// let y = w[0] * w[1];
    /// assert_eq!(y.backward().wrt_all(&w), vec![2.0, 1.0]);
    /// ```
    #[track_caller]
    pub fn wrt_all(&self, vars: &[Var<'_>]) -> Vec<f64> {
        // A loop, not a closure: a closure drops `#[track_caller]`, and a Var of
        // another tape must panic at the caller's line.
        let mut out = Vec::with_capacity(vars.len());
        for &v in vars {
            out.push(self.wrt(v));
        }
        out
    }

    #[inline(always)]
    #[track_caller]
    fn check_tape(&self, x: Var<'_>) {
        if !std::ptr::eq(self.tape, x.tape) {
            foreign_var(x.index);
        }
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn foreign_var(index: u32) -> ! {
    panic!("chainrule: asked Gradients for node #{index} of another tape")
}

impl<'t> Index<Var<'t>> for Gradients<'t> {
    type Output = f64;

    /// `g[x]` is [`g.wrt(x)`](Gradients::wrt).
    #[inline]
    #[track_caller]
    fn index(&self, x: Var<'t>) -> &f64 {
        self.check_tape(x);
        self.adjoints.0.get(x.index as usize).unwrap_or(&0.0)
    }
}

impl fmt::Debug for Gradients<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gradients")
            .field("output", &self.output)
            .field("adjoints", &self.adjoints.0)
            .finish()
    }
}

/// Whether an edge of a node with op `op` is *masked*: the edge to an operand a
/// select op ([`Op::is_select`]) did not select. `partial` is the edge's local
/// partial and `last_partial` that of the node's last edge (a relu neuron's bias
/// edge, whose partial is relu′(z) itself). A masked edge passes exactly 0 on.
///
/// - `relu`, `max`, `min` (also against a constant), `clamp`: the edge whose partial is exactly ±0 (relu for x ≤ 0,
///   the operand not picked). A NaN partial is never masked.
/// - `signum`: its edge (its partial is 0 but at NaN), as PyTorch's and JAX's
///   sign, whose gradient is zeros whatever the incoming one.
/// - a relu neuron: every edge when relu′(z) = 0 (z ≤ 0).
#[inline]
pub(crate) fn is_masked(op: Op, partial: f64, last_partial: f64) -> bool {
    match op {
        Op::Relu | Op::Max | Op::Min | Op::MaxConst | Op::MinConst | Op::Clamp | Op::Signum => {
            partial == 0.0
        }
        Op::ReluNeuron | Op::ReluNeuronConst => last_partial == 0.0,
        _ => false,
    }
}

/// What one edge adds to its operand's adjoint under the non-finite policy (see
/// the module docs): exactly 0 through a masked edge ([`is_masked`]), the IEEE
/// product `adjoint · partial` otherwise (so 0 · ∞ is NaN). Every reader of the
/// tape (the sweep, the textbook sweep, explanations, comparisons, drawings) adds
/// edges through this rule.
#[inline]
pub(crate) fn contribution(adjoint: f64, partial: f64, masked: bool) -> f64 {
    if masked {
        0.0
    } else {
        adjoint * partial
    }
}

/// The sweep of `rec` into `adjoints`, seeded at `output`: the fast sweep its
/// tape allows, then the careful one where the fast one met a non-finite
/// adjoint it must not multiply through. (Out of line, as it was as
/// `sweep_from`'s closure before [`sweep_runs`] was added: inlined into
/// `sweep_from`, the sweeps without runs were compiled otherwise, W2 plain
/// +2.5% instructions.)
#[inline(never)]
fn sweep_tape(rec: &Recording, adjoints: &mut [f64], output: u32) {
    // Without neurons over runs (W1, W3, anything written with the
    // operators) the loop is compiled without the checks for them.
    let runs = rec.runs().first().is_some_and(|r| r.node <= output);
    // Masked edges exist only on a tape with a select op (relu, max, min,
    // clamp, signum, a relu neuron). Without one, multiplying every adjoint through is the
    // policy, infinite or not. With one, the fast sweep notes whether any
    // adjoint it multiplied through was infinite or NaN (a masked edge must
    // then pass exactly 0, not ∞ · 0), and only then is the sweep redone,
    // looking at each node. With runs, the sweep may be the AVX build.
    let redo = match (runs, rec.has_select()) {
        (true, false) => !sweep_runs::<PLAIN>(rec, adjoints),
        (false, false) => !sweep::<false, PLAIN, false>(rec, adjoints),
        (true, true) => !sweep_runs::<WATCH>(rec, adjoints),
        (false, true) => !sweep::<false, WATCH, false>(rec, adjoints),
    };
    if redo {
        adjoints.fill(0.0);
        adjoints[output as usize] = 1.0;
        if runs {
            sweep_runs::<CAREFUL>(rec, adjoints);
        } else {
            sweep::<false, CAREFUL, false>(rec, adjoints);
        }
    }
}

/// [`sweep`] of a tape with neurons over runs, by its AVX build where the
/// processor has AVX (the same bits: see [`crate::avx`]). A wide fused neuron's
/// runs (`adjoint += g · partner`) then go four lanes at a time: W2 fused, the
/// sweep 1,481,025 → 1,088,625 instructions for three epochs (callgrind,
/// `examples/record_cost.rs`, mode `w2f`). Tapes without runs (the operators',
/// W1 and W3) keep the baseline build.
#[inline(always)]
fn sweep_runs<const MODE: u8>(rec: &Recording, adjoints: &mut [f64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    if crate::avx::avx() {
        // SAFETY: `avx()` is true only where std's run-time detection found
        // AVX, the one target feature `sweep_runs_avx` is built with; see
        // `crate::avx` for the whole argument.
        #[allow(unsafe_code)]
        return unsafe { sweep_runs_avx::<MODE>(rec, adjoints) };
    }
    sweep::<true, MODE, false>(rec, adjoints)
}

/// [`sweep`] with runs, built for AVX.
///
/// # Safety
/// The processor must have AVX (see [`crate::avx`]). (`unsafe fn` rather than
/// a safe `#[target_feature]` function, which needs Rust 1.86: the crate's
/// MSRV is 1.85.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[allow(unsafe_code)]
unsafe fn sweep_runs_avx<const MODE: u8>(rec: &Recording, adjoints: &mut [f64]) -> bool {
    sweep::<true, MODE, true>(rec, adjoints)
}

/// The reverse sweep over nodes `0..adjoints.len()`, whose last is the seeded output.
///
/// One dispatch per node on its op's layout (`Op::layout`): add, sub and mul
/// pass their implied partials (1 and 1, 1 and −1, the other operand's value), a
/// unary op its stored partial, every other op its stored edges, in the order
/// `Recording::edges` gives them, each contribution added through memory. A sum
/// whose second operand is a product recorded just before it is swept with
/// that product in one visit (outside `CAREFUL` mode), in the same order. A
/// chain of sums, differences and one-operand nodes, each the operand of the
/// next, is followed with its adjoint in a register ([`follow_chain`]).
///
/// A neuron recorded over runs of consecutive nodes ([`NeuronRun`]) has no stored
/// edges: its runs are added as slices, see [`NeuronRun::sweep`]. `RUNS` is
/// whether there is one up to the output. `WIDE` is whether this is the copy
/// [`sweep_runs_avx`] builds for AVX: a copy of its own (nothing in the body
/// reads it), so that each copy has one caller and is inlined into it, as
/// every sweep is.
#[inline]
fn sweep<const RUNS: bool, const MODE: u8, const WIDE: bool>(
    rec: &Recording,
    adjoints: &mut [f64],
) -> bool {
    let n = adjoints.len();
    // Every operand precedes its node, so the first n values are all it reads.
    let (ops, args, values) = rec.first_nodes(n);
    let unary = rec.unary_partials();
    let operands = rec.operands();
    let partials = rec.partials();
    // The neurons over runs up to the output; the last is the next one met.
    let runs = rec.runs();
    let mut runs = &runs[..runs.partition_point(|r| (r.node as usize) < n)];
    let mut next_run = runs.last().map_or(usize::MAX, |r| r.node as usize);
    // The leaves recorded first have no edges: the loop stops above them.
    let lowest = rec.leading_leaves().min(n);
    // Which nodes lie on a path from the output: computed only if a node with a
    // zero adjoint and a non-finite partial is met (see `Careful`).
    let mut careful = Careful::default();
    // What a zero adjoint calls for (a node with a non-finite partial may pass
    // 0 · ∞ = NaN on).
    let zero = if rec.has_non_finite_partial() {
        Zero::Check
    } else {
        Zero::Skip
    };
    // Σ (a − a) over the adjoints multiplied through: 0 while all are finite, NaN
    // once one is not (no branch per node).
    let mut finite = 0.0;
    let mut node = n;
    while node > lowest {
        node -= 1;
        // Complete: every node using this one comes after it.
        let adjoint = adjoints[node];
        if RUNS && node == next_run {
            if let Some((&run, rest)) = runs.split_last() {
                runs = rest;
                next_run = rest.last().map_or(usize::MAX, |r| r.node as usize);
                if run.masked || adjoint == 0.0 {
                    // A relu neuron with z ≤ 0 passes exactly 0 to every operand,
                    // whatever the adjoint; a run's partials are finite, so a zero
                    // adjoint passes nothing on either.
                } else if MODE != CAREFUL || adjoint.is_finite() {
                    if MODE == WATCH {
                        finite += zero_if_finite(adjoint);
                    }
                    NeuronRun::sweep(run, adjoint, values, adjoints);
                } else {
                    careful.node(rec, node, adjoint, adjoints);
                }
            }
        } else if adjoint == 0.0 {
            // Nothing to pass on, unless a partial below is NaN or infinite
            // (0 · ∞ is NaN): found out once, at the first zero adjoint.
            if zero == Zero::Check {
                careful.node(rec, node, 0.0, adjoints);
            }
        } else if MODE != CAREFUL || adjoint.is_finite() {
            if MODE == WATCH {
                finite += zero_if_finite(adjoint);
            }
            // The edges in their order, as `Recording::edges` gives them: the
            // partials of add, sub and mul are implied (1, 1; 1, −1; the other
            // operand's value), so adjoint · 1 is written adjoint.
            let [a, b] = args[node];
            let (a, b) = (a as usize, b as usize);
            match ops[node].layout_of() {
                Layout::Leaf => {}
                // `z + x·y` with the product recorded just before this node (a
                // weighted sum, term by term): the product's users all come
                // after it, and this node, the last of them, completes its
                // adjoint. The product is swept here, its adjoint in a register,
                // and the loop skips it: the same sums in the same order as
                // visiting it next.
                //
                // A weighted sum's pairs follow each other, `z_k = z_{k−1} + x·y`
                // with `z_{k−1}` just before the product: while they do, the next
                // pair is swept here too, the adjoint of `z_{k−1}` (complete: its
                // users all come after it, and all are swept) carried in a
                // register instead of stored and loaded again (a load that waits
                // for the store just made, on the critical path of the sweep).
                Layout::Add if MODE != CAREFUL && b + 1 == node && ops[b] == Op::Mul => {
                    let (mut a, mut b, mut adjoint) = (a, b, adjoint);
                    loop {
                        let na = adjoints[a] + adjoint;
                        adjoints[a] = na;
                        let total = adjoints[b] + adjoint;
                        adjoints[b] = total;
                        let [x, y] = args[b];
                        let (x, y) = (x as usize, y as usize);
                        let (vx, vy) = (values[x], values[y]);
                        adjoints[x] += total * vy;
                        adjoints[y] += total * vx;
                        // (Not watched: a product has no masked edge, and an
                        // infinite adjoint it passes on is watched at the select
                        // op it reaches, if any.)
                        node = b; // swept
                        let at = b - 1;
                        // `na` is the adjoint of `at` if the sum's first operand
                        // is `at` and the product did not add to it.
                        if a != at || x == a || y == a || na == 0.0 {
                            break;
                        }
                        let [a2, b2] = args[at];
                        let b2 = b2 as usize;
                        if !(ops[at] == Op::Add && b2 + 1 == at && ops[b2] == Op::Mul) {
                            break;
                        }
                        if MODE == WATCH {
                            finite += zero_if_finite(na);
                        }
                        (a, b, adjoint) = (a2 as usize, b2, na);
                    }
                }
                // A chain of sums, differences and one-operand nodes, each the
                // operand of the one after it: followed with the adjoint in a
                // register. (The arm above has taken the sums that complete a
                // product, which `follow_chain` does not sweep.)
                Layout::Unary | Layout::Add | Layout::Sub if MODE != CAREFUL => {
                    node = follow_chain::<MODE>(
                        ops,
                        args,
                        unary,
                        adjoints,
                        node,
                        adjoint,
                        &mut finite,
                    );
                }
                Layout::Add => {
                    adjoints[a] += adjoint;
                    adjoints[b] += adjoint;
                }
                Layout::Sub => {
                    adjoints[a] += adjoint;
                    adjoints[b] -= adjoint;
                }
                Layout::Mul => {
                    let (va, vb) = (values[a], values[b]);
                    adjoints[a] += adjoint * vb;
                    adjoints[b] += adjoint * va;
                }
                Layout::Unary => adjoints[a] += adjoint * unary[b],
                // A few edges (a neuron of one to two inputs, a loss of two
                // outputs) unrolled: one bounds check of the run, no loop.
                Layout::Edges => match b {
                    2 => add_edges::<2>(adjoints, operands, partials, a, adjoint),
                    3 => add_edges::<3>(adjoints, operands, partials, a, adjoint),
                    4 => add_edges::<4>(adjoints, operands, partials, a, adjoint),
                    5 => add_edges::<5>(adjoints, operands, partials, a, adjoint),
                    _ => {
                        for (&operand, &partial) in
                            operands[a..a + b].iter().zip(&partials[a..a + b])
                        {
                            adjoints[operand as usize] += adjoint * partial;
                        }
                    }
                },
            }
        } else {
            // An infinite or NaN adjoint: masked edges pass exactly 0.
            careful.node(rec, node, adjoint, adjoints);
        }
    }
    !finite.is_nan()
}

/// Sweeps node `at` (a sum, a difference or a one-operand node, not a sum
/// that completes the product before it) with its adjoint `adjoint`. While the
/// node just swept had node `at − 1` for an operand, goes on to that node with
/// its adjoint taken from a register, sweeping it if it is of the same kinds.
/// Returns the lowest node swept, or one above a node it reached but left to
/// the main loop (a product, a pair, a leaf, a node with stored edges or over
/// runs).
///
/// Node `at − 1`'s adjoint is complete once `at` has added to it: every other
/// user comes after `at`. Taking it from the register instead of reloading it
/// from the store just made takes a store-to-load trip off each link of a
/// chain such as σ(w·x + b)'s or ½(t − o)²'s, which a small network's sweep is
/// bound by: about 9 cycles for an `f64` on the AMD VM (a load–add–store
/// chain through one address, 12 cycles a link against 3 for the add). The
/// same sums in the same order as the main loop: the same adjoints, bit for
/// bit (`tests/sweep_chains.rs` holds it to the textbook sweep). A zero adjoint ends the chain: the main loop
/// decides what it passes on. Never used in `CAREFUL` mode; in `WATCH` mode
/// each adjoint taken from a register is watched as the main loop watches.
#[inline(always)]
fn follow_chain<const MODE: u8>(
    ops: &[Op],
    args: &[[u32; 2]],
    unary: &[f64],
    adjoints: &mut [f64],
    mut at: usize,
    mut adjoint: f64,
    finite: &mut f64,
) -> usize {
    let first = at;
    loop {
        let [a, b] = args[at];
        let (a, b) = (a as usize, b as usize);
        // (Wrapping: a node at 0 is a leaf, and `prev` is not used then.)
        let prev = at.wrapping_sub(1);
        // The adjoint of `prev` if this node has just completed it.
        let next = match ops[at].layout_of() {
            Layout::Unary => {
                let total = adjoints[a] + adjoint * unary[b];
                adjoints[a] = total;
                if a != prev {
                    return at;
                }
                total
            }
            Layout::Add if !(b == prev && ops[b] == Op::Mul) => {
                let na = adjoints[a] + adjoint;
                adjoints[a] = na;
                let nb = adjoints[b] + adjoint;
                adjoints[b] = nb;
                if b == prev {
                    nb
                } else if a == prev {
                    na
                } else {
                    return at;
                }
            }
            Layout::Sub => {
                let na = adjoints[a] + adjoint;
                adjoints[a] = na;
                let nb = adjoints[b] - adjoint;
                adjoints[b] = nb;
                if b == prev {
                    nb
                } else if a == prev {
                    na
                } else {
                    return at;
                }
            }
            // Not of the kinds followed: the main loop sweeps it, its adjoint
            // (complete, stored) read from memory. Never the first node, which
            // the main loop sends here only if it is of those kinds (else it
            // would be sent back and forth).
            _ => {
                debug_assert!(
                    at != first,
                    "follow_chain sent node {at}, which it does not sweep"
                );
                return at + 1;
            }
        };
        if next == 0.0 {
            return at;
        }
        at = prev;
        adjoint = next;
        if MODE == WATCH {
            *finite += zero_if_finite(adjoint);
        }
    }
}

/// The `K` stored edges from `at`, in their order: `adjoints[operand] +=
/// adjoint · partial`, as the loop over a run of any length adds them.
#[inline(always)]
fn add_edges<const K: usize>(
    adjoints: &mut [f64],
    operands: &[u32],
    partials: &[f64],
    at: usize,
    adjoint: f64,
) {
    for (&operand, &partial) in operands[at..at + K].iter().zip(&partials[at..at + K]) {
        adjoints[operand as usize] += adjoint * partial;
    }
}

/// `v − v`: 0 for a finite `v`, NaN for an infinite or NaN one. Summed over many
/// values, 0 exactly when all are finite, with no branch.
#[inline(always)]
#[allow(clippy::eq_op)] // v − v is the point: it is NaN for ±∞ and NaN
fn zero_if_finite(v: f64) -> f64 {
    v - v
}

/// The sweep's modes. `PLAIN`: no select op on the tape, so no masked edge, and
/// every adjoint is multiplied through. `WATCH`: the same, noting whether an
/// infinite or NaN adjoint was multiplied through (the sweep returns false then).
/// `CAREFUL`: an infinite or NaN adjoint goes through [`Careful::node`].
const PLAIN: u8 = 0;
const WATCH: u8 = 1;
const CAREFUL: u8 = 2;

/// What a node with a zero adjoint calls for, decided once per sweep from
/// whether the tape holds a non-finite partial (noted while recording).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Zero {
    /// Every stored partial is finite: a zero adjoint passes nothing on
    /// (0 · finite adds ±0, which changes no sum), so the node is skipped.
    Skip,
    /// Some partial is NaN or infinite: each zero-adjoint node is looked at.
    Check,
}

/// The sweep's slow path for a node whose adjoint is zero, infinite or NaN, where
/// the non-finite policy decides what its edges pass on.
#[derive(Default)]
struct Careful {
    /// Whether each node lies on a path from the output (the sweep's output is
    /// the last node of `adjoints`), computed the first time it is needed.
    on_path: Option<Vec<bool>>,
}

impl Careful {
    /// Adds node `node`'s contributions to the adjoints in memory, under the policy:
    ///
    /// - a zero adjoint passes nothing on when every partial is finite (0 · finite
    ///   would add ±0, which changes no sum) or when the node is on no path from
    ///   the output; otherwise 0 · ∞ and 0 · NaN are NaN;
    /// - a masked edge passes exactly 0; any other edge `adjoint · partial`.
    #[cold]
    #[inline(never)]
    fn node(&mut self, rec: &Recording, node: usize, adjoint: f64, adjoints: &mut [f64]) {
        if adjoint == 0.0 {
            if rec.edges(node).all(|(_, partial)| partial.is_finite()) {
                return;
            }
            let output = adjoints.len() - 1;
            let on_path = self.on_path.get_or_insert_with(|| on_path(rec, output));
            if !on_path[node] {
                return;
            }
        }
        let op = rec.ops()[node];
        let last = rec.edges(node).last().map_or(0.0, |(_, partial)| partial);
        for (operand, partial) in rec.edges(node) {
            adjoints[operand as usize] +=
                contribution(adjoint, partial, is_masked(op, partial, last));
        }
    }
}

/// Which of the nodes `0..=output` lie on a path from `output` (every node that
/// the output depends on through some chain of edges, masked or not).
/// O(nodes + edges), one backwards pass.
fn on_path(rec: &Recording, output: usize) -> Vec<bool> {
    let mut on_path = vec![false; output + 1];
    on_path[output] = true;
    for node in (0..=output).rev() {
        if on_path[node] {
            for (operand, _) in rec.edges(node) {
                on_path[operand as usize] = true;
            }
        }
    }
    on_path
}

#[cfg(test)]
mod tests {
    use crate::{Activation, Tape, Var};

    /// Every node's adjoint, as bits, in a fused network of 8 inputs (the
    /// fourth `x3`), a layer of 16 neurons (runs of 8) and one neuron over them
    /// (a run of 16), whose output is multiplied by `scale`.
    fn adjoint_bits(act: Activation, x3: f64, scale: f64) -> Vec<u64> {
        let tape = Tape::new();
        let at = |i: usize| ((i * 37 + 11) % 23) as f64 / 11.5 - 1.0;
        let mut x: Vec<f64> = (0..8).map(at).collect();
        x[3] = x3;
        let x = tape.vars(&x);
        let w = tape.vars(&(100..100 + 16 * 8).map(at).collect::<Vec<_>>());
        let b = tape.vars(&(300..316).map(at).collect::<Vec<_>>());
        let h: Vec<Var> = (0..16)
            .map(|j| Var::neuron(&w[j * 8..(j + 1) * 8], &x, b[j], act))
            .collect();
        let v = tape.vars(&(400..416).map(at).collect::<Vec<_>>());
        let out = Var::neuron(&v, &h, tape.var(0.25), act) * scale;
        let runs = tape.recording.read(|rec| rec.runs().len());
        assert_eq!(runs, 17, "{act:?}: every neuron over runs");
        let g = out.backward();
        (0..=out.index()).map(|i| g.by_index(i).to_bits()).collect()
    }

    /// The sweep of a tape with neurons over runs gives every adjoint the same
    /// bits from its AVX build (where the processor has AVX: see `crate::avx`)
    /// as from the baseline one: each activation (relu's tape takes the
    /// watching sweep), an input −0, and an infinite or NaN adjoint into the
    /// runs (relu's tape then takes the careful sweep after the fast one).
    #[test]
    fn sweeps_over_runs_give_the_same_bits_built_for_avx() {
        if !crate::avx::avx() {
            eprintln!("no AVX on this processor: the AVX build is not run");
        }
        let x3 = ((3 * 37 + 11) % 23) as f64 / 11.5 - 1.0;
        for act in [
            Activation::Identity,
            Activation::Sigmoid,
            Activation::Tanh,
            Activation::Relu,
        ] {
            for (x3, scale) in [
                (x3, 1.0),
                (-0.0, 1.0),
                (x3, f64::INFINITY),
                (x3, f64::NEG_INFINITY),
                (x3, f64::NAN),
            ] {
                let wide = adjoint_bits(act, x3, scale);
                crate::avx::set_baseline_only(true);
                let baseline = adjoint_bits(act, x3, scale);
                crate::avx::set_baseline_only(false);
                assert_eq!(wide, baseline, "{act:?}, x3 = {x3}, scale {scale}");
            }
        }
    }
}
