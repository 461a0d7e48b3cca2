//! The tape: a flat arena of nodes in recording order.
//!
//! Every operation of a forward pass appends one node. A node is appended after its
//! operands, so the recording order is a topological order of the graph, and the
//! reverse sweep in [`crate::backward`] is a plain backwards loop over the arena.
//!
//! The arena is a structure of arrays. Per node: its value, its [`Op`], and where its
//! edges start. Per edge (one per operand occurrence): the operand's index and the
//! local partial derivative ∂node/∂operand. Nothing is allocated per node: the arrays
//! grow geometrically and keep their memory across [`Tape::clear`].
//!
//! One kind of node keeps its edges in a shorter form, a *neuron over runs*: a fused
//! neuron whose weights are consecutive nodes and whose inputs are consecutive nodes
//! (a layer of an MLP: its weights made together by [`Tape::vars`], its inputs the
//! previous layer). Its operands are two runs, each given by where it starts, and
//! its local partials are `a′(z)` times values already on the tape. Every edge is
//! still there to read ([`Tape::edges`], the graph view): it is just not copied.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use arena_cell::ArenaCell;
use std::fmt;

use crate::var::Var;

/// What a node computes. Each node of the tape carries one.
///
/// The calculus of every op (its value and local partial derivatives) lives in
/// [`crate::ops`]; this enum only names them, for explanations, drawings and
/// anomaly reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// An input or a parameter, made by [`Tape::var`]. It has no operands.
    Leaf,
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `-a`
    Neg,
    /// `a + c` or `c + a` for a constant `c`
    AddConst,
    /// `a - c` for a constant `c`
    SubConst,
    /// `c - a` for a constant `c`
    ConstSub,
    /// `a * c` or `c * a` for a constant `c`
    MulConst,
    /// `a / c` for a constant `c`
    DivConst,
    /// `c / a` for a constant `c`
    ConstDiv,
    /// `1 / (1 + e^-a)`
    Sigmoid,
    /// `tanh a`
    Tanh,
    /// `max(a, 0)`
    Relu,
    /// `a` if `a > 0`, else `alpha * a`
    LeakyRelu,
    /// `ln(1 + e^a)`
    Softplus,
    /// `e^a`
    Exp,
    /// `ln a`
    Ln,
    /// `√a`
    Sqrt,
    /// `a^n` for an integer constant `n`
    Powi,
    /// `a^c` for a real constant `c`
    Powf,
    /// `a^b`, both variable
    Pow,
    /// `|a|`
    Abs,
    /// `sin a`
    Sin,
    /// `cos a`
    Cos,
    /// `1 / a`
    Recip,
    /// `a²`
    Square,
    /// `max(a, b)`
    Max,
    /// `min(a, b)`
    Min,
    /// `a₀ + a₁ + … + aₙ₋₁`, one n-ary node
    Sum,
    /// `w₀·x₀ + w₁·x₁ + … + b`, one n-ary node (a neuron's weighted sum)
    WeightedSum,
    /// `σ(w₀·x₀ + … + b)`, a whole neuron as one node
    SigmoidNeuron,
    /// `tanh(w₀·x₀ + … + b)`, a whole neuron as one node
    TanhNeuron,
    /// `relu(w₀·x₀ + … + b)`, a whole neuron as one node
    ReluNeuron,
    /// `½(o₀ − t₀)² + ½(o₁ − t₁)² + …`, one node
    HalfSquaredError,
    /// `((o₀ − t₀)² + (o₁ − t₁)² + …) / n`, one node
    MeanSquaredError,
}

impl Op {
    /// Whether the op *selects* among its operands: `relu` (and a relu neuron)
    /// passes its operand on or not, `max`/`min` pass one of two. The operand not
    /// selected gets exactly 0 from the node, whatever the node's adjoint (even
    /// infinite or NaN), as PyTorch's masking does: see the non-finite policy in
    /// [`crate::backward`].
    ///
    /// ```
    /// use chainrule::Op;
    /// assert!(Op::Relu.is_select() && Op::Max.is_select());
    /// assert!(!Op::Abs.is_select()); // |x| multiplies by sign(x): not a mask
    /// ```
    pub fn is_select(self) -> bool {
        matches!(self, Op::Relu | Op::Max | Op::Min | Op::ReluNeuron)
    }

    /// Whether the op is a whole neuron fused into one node
    /// (`activation(Σ wᵢ·xᵢ + b)`), whose weighted sum can carry its own label
    /// ([`Var::named_net`](crate::Var::named_net)).
    ///
    /// ```
    /// assert!(chainrule::Op::SigmoidNeuron.is_neuron());
    /// assert!(!chainrule::Op::WeightedSum.is_neuron());
    /// ```
    pub fn is_neuron(self) -> bool {
        matches!(self, Op::SigmoidNeuron | Op::TanhNeuron | Op::ReluNeuron)
    }

    /// The op's short lower-case name, as used in default labels (`sigmoid#7`).
    ///
    /// ```
    /// assert_eq!(chainrule::Op::Sigmoid.name(), "sigmoid");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Op::Leaf => "leaf",
            Op::Add => "add",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Div => "div",
            Op::Neg => "neg",
            Op::AddConst => "add_const",
            Op::SubConst => "sub_const",
            Op::ConstSub => "const_sub",
            Op::MulConst => "mul_const",
            Op::DivConst => "div_const",
            Op::ConstDiv => "const_div",
            Op::Sigmoid => "sigmoid",
            Op::Tanh => "tanh",
            Op::Relu => "relu",
            Op::LeakyRelu => "leaky_relu",
            Op::Softplus => "softplus",
            Op::Exp => "exp",
            Op::Ln => "ln",
            Op::Sqrt => "sqrt",
            Op::Powi => "powi",
            Op::Powf => "powf",
            Op::Pow => "pow",
            Op::Abs => "abs",
            Op::Sin => "sin",
            Op::Cos => "cos",
            Op::Recip => "recip",
            Op::Square => "square",
            Op::Max => "max",
            Op::Min => "min",
            Op::Sum => "sum",
            Op::WeightedSum => "weighted_sum",
            Op::SigmoidNeuron => "sigmoid_neuron",
            Op::TanhNeuron => "tanh_neuron",
            Op::ReluNeuron => "relu_neuron",
            Op::HalfSquaredError => "half_squared_error",
            Op::MeanSquaredError => "mean_squared_error",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The arena itself: a structure of arrays, indexed by node or by edge.
///
/// Every array is kept initialised to its full capacity, and `len` / `edge_len`
/// count what is recorded: appending a node is a few bounds-checked stores, with
/// no per-array length or capacity bookkeeping. Edges of node `i` are
/// `edge_starts[i]..edge_starts[i + 1]` (the last node's run ends at `edge_len`).
pub(crate) struct Recording {
    /// The most nodes this recording may hold (at most [`MAX_NODES`]).
    max_nodes: usize,
    len: usize,
    edge_len: usize,
    values: Vec<f64>,
    ops: Vec<Op>,
    edge_starts: Vec<u32>,
    operands: Vec<u32>,
    partials: Vec<f64>,
    /// The neurons recorded over runs, in recording order (their edges are not in
    /// `operands` / `partials`).
    runs: Vec<NeuronRun>,
    /// Edges of the neurons in `runs`.
    run_edges: usize,
    /// The bytes the allocator refused at the last failed growth, if it was the
    /// allocator (not the limit) that made it fail.
    refused: Option<usize>,
    /// Whether a select op ([`Op::is_select`]) has been recorded: only then can
    /// an edge be masked.
    has_select: bool,
    /// Whether a stored local partial is NaN or infinite. Without one, a node
    /// whose adjoint is zero passes nothing on (0 · finite changes no sum), and
    /// the sweep skips it with one test.
    non_finite_partial: bool,
}

/// A fused neuron `a = f(((w₀·x₀ + w₁·x₁) + …) + b)` whose weights are the
/// consecutive nodes `weights, weights + 1, …` and whose inputs are the consecutive
/// nodes `inputs, inputs + 1, …`.
///
/// The two runs do not overlap. Its edges are those of any fused neuron,
/// `w₀, x₀, w₁, x₁, …, b`, with the local partials
///
/// ```text
/// ∂a/∂wₖ = a′(z) · xₖ      ∂a/∂xₖ = a′(z) · wₖ      ∂a/∂b = a′(z)
/// ```
///
/// Instead of copying 2n + 1 operand indices and partials into the edge arrays,
/// the node keeps where each run starts and `a′(z)`: the factors `xₖ` and `wₖ` are
/// the values of the operands, on the tape already. Recording it writes no edge,
/// and the sweep adds `adjoint · (a′(z) · value)` into a whole run of adjoints at
/// once, each partial computed exactly as the stored form would hold it, so every
/// reader of the tape sees the same numbers either way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NeuronRun {
    /// The neuron's node.
    pub(crate) node: u32,
    /// The first weight.
    pub(crate) weights: u32,
    /// The first input.
    pub(crate) inputs: u32,
    /// How many weights (and inputs).
    pub(crate) len: u32,
    /// The bias.
    pub(crate) bias: u32,
    /// a′(z), the activation's derivative at the weighted sum.
    pub(crate) derivative: f64,
    /// A relu neuron with z ≤ 0: every edge is masked and its partial exactly 0.
    pub(crate) masked: bool,
}

impl NeuronRun {
    /// The edges in the order of any fused neuron's, `w₀, x₀, w₁, x₁, …, b`, each
    /// with its local partial.
    pub(crate) fn edges(self, values: &[f64]) -> impl Iterator<Item = (u32, f64)> + '_ {
        let (w, x, n, da) = (self.weights, self.inputs, self.len, self.derivative);
        let masked = self.masked;
        let partial = move |value: f64| if masked { 0.0 } else { da * value };
        let pairs = (0..n).flat_map(move |k| {
            let (wk, xk) = (w + k, x + k);
            [
                (wk, partial(values[xk as usize])),
                (xk, partial(values[wk as usize])),
            ]
        });
        pairs.chain(std::iter::once((self.bias, da)))
    }

    /// The number of edges.
    pub(crate) fn edge_count(self) -> usize {
        2 * self.len as usize + 1
    }
}

/// Node and edge indices are `u32`: at most `u32::MAX` nodes (indices
/// `0..u32::MAX`, so `u32::MAX` itself is free to mean "full") and edges.
pub(crate) const MAX_NODES: usize = u32::MAX as usize;
const MAX_EDGES: usize = u32::MAX as usize;
/// What the pushes return when the node or edge limit would be passed: never a
/// node index (indices are below `MAX_NODES`). The caller panics, outside the
/// arena cell.
pub(crate) const FULL: u32 = u32::MAX;
/// Bytes per node slot (value, op, edge start) and per edge slot (operand,
/// partial).
const NODE_BYTES: usize = std::mem::size_of::<f64>() + std::mem::size_of::<Op>() + 4;
const EDGE_BYTES: usize = 4 + std::mem::size_of::<f64>();

/// Why the arena could not grow.
#[derive(Debug)]
pub(crate) enum Full {
    /// The node or edge limit would be passed.
    Limit,
    /// The allocator refused this many bytes (nothing was changed).
    Memory(usize),
}

impl Default for Recording {
    fn default() -> Self {
        Recording {
            max_nodes: MAX_NODES,
            len: 0,
            edge_len: 0,
            values: Vec::new(),
            ops: Vec::new(),
            edge_starts: Vec::new(),
            operands: Vec::new(),
            partials: Vec::new(),
            runs: Vec::new(),
            run_edges: 0,
            refused: None,
            has_select: false,
            non_finite_partial: false,
        }
    }
}
/// The first allocation, in nodes.
const MIN_CAPACITY: usize = 64;

impl Recording {
    /// Nodes recorded.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The most nodes this recording may hold.
    pub(crate) fn max_nodes(&self) -> usize {
        self.max_nodes
    }

    /// Edges recorded, stored or not.
    pub(crate) fn edge_count(&self) -> usize {
        self.edge_len + self.run_edges
    }

    /// The neurons recorded over runs, in recording order.
    #[inline(always)]
    pub(crate) fn runs(&self) -> &[NeuronRun] {
        &self.runs
    }

    /// The run record of node `i`, if it is a [`NeuronRun`].
    pub(crate) fn run_of(&self, i: usize) -> Option<NeuronRun> {
        let at = self.runs.partition_point(|r| (r.node as usize) < i);
        self.runs.get(at).copied().filter(|r| r.node as usize == i)
    }

    /// The edges of node `i < len` in order: (operand, local partial).
    pub(crate) fn edges(&self, i: usize) -> impl Iterator<Item = (u32, f64)> + '_ {
        let range = self.edge_range(i);
        let stored = self.operands[range.clone()]
            .iter()
            .copied()
            .zip(self.partials[range].iter().copied());
        let values = self.values();
        let run = self
            .run_of(i)
            .into_iter()
            .flat_map(move |r| r.edges(values));
        stored.chain(run)
    }

    /// Node capacity.
    pub(crate) fn capacity(&self) -> usize {
        self.values.len()
    }

    /// The value of every node.
    #[inline(always)]
    pub(crate) fn values(&self) -> &[f64] {
        &self.values[..self.len]
    }

    /// The op of every node.
    #[inline(always)]
    pub(crate) fn ops(&self) -> &[Op] {
        &self.ops[..self.len]
    }

    /// Where each node's edges start.
    #[inline(always)]
    pub(crate) fn edge_starts(&self) -> &[u32] {
        &self.edge_starts[..self.len]
    }

    /// The operand of every edge.
    #[inline(always)]
    pub(crate) fn operands(&self) -> &[u32] {
        &self.operands[..self.edge_len]
    }

    /// The local partial derivative of every edge.
    #[inline(always)]
    pub(crate) fn partials(&self) -> &[f64] {
        &self.partials[..self.edge_len]
    }

    /// The range of node `i < len` in the edge arrays (empty for a [`NeuronRun`]).
    #[inline]
    pub(crate) fn edge_range(&self, i: usize) -> std::ops::Range<usize> {
        let start = self.edge_starts()[i] as usize;
        let end = self
            .edge_starts()
            .get(i + 1)
            .map_or(self.edge_len, |&e| e as usize);
        start..end
    }

    /// Whether node `i` has a NaN or infinite value or local partial.
    pub(crate) fn is_non_finite(&self, i: usize) -> bool {
        !self.values[i].is_finite() || self.edges(i).any(|(_, p)| !p.is_finite())
    }

    /// Whether a select op has been recorded (so some edge may be masked).
    #[inline(always)]
    pub(crate) fn has_select(&self) -> bool {
        self.has_select
    }

    /// Whether a stored local partial is NaN or infinite (a neuron over runs has
    /// finite partials by construction).
    #[inline(always)]
    pub(crate) fn has_non_finite_partial(&self) -> bool {
        self.non_finite_partial
    }

    /// Forgets every node, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.has_select = false;
        self.non_finite_partial = false;
        self.len = 0;
        self.edge_len = 0;
        self.runs.clear();
        self.run_edges = 0;
    }

    /// Bytes held by the arrays.
    pub(crate) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.values.len() * (size_of::<f64>() + size_of::<Op>() + size_of::<u32>())
            + self.operands.len() * (size_of::<u32>() + size_of::<f64>())
            + self.runs.capacity() * size_of::<NeuronRun>()
    }

    /// Appends a node with `N` operands: the hot path of recording.
    #[inline(always)]
    pub(crate) fn push<const N: usize>(
        &mut self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
    ) -> u32 {
        if op.is_select() {
            // Resolved at compile time where `op` is a constant (every unary and
            // binary op records a constant op).
            self.has_select = true;
        }
        let (i, e) = (self.len, self.edge_len);
        if N == 0 {
            // A leaf: no edges to write (the branch is resolved at compile time).
            if let (Some(v), Some(o), Some(s)) = (
                self.values.get_mut(i),
                self.ops.get_mut(i),
                self.edge_starts.get_mut(i),
            ) {
                *v = value;
                *o = op;
                *s = e as u32;
                self.len = i + 1;
                return i as u32;
            }
            return self.push_after_growing(op, value, &operands, &partials);
        }
        if let (Some(v), Some(o), Some(s), Some(dst_operands), Some(dst_partials)) = (
            self.values.get_mut(i),
            self.ops.get_mut(i),
            self.edge_starts.get_mut(i),
            self.operands.get_mut(e..e + N),
            self.partials.get_mut(e..e + N),
        ) {
            *v = value;
            *o = op;
            *s = e as u32;
            dst_operands.copy_from_slice(&operands);
            dst_partials.copy_from_slice(&partials);
            if any_non_finite(&partials) {
                self.non_finite_partial = true;
            }
            self.len = i + 1;
            self.edge_len = e + N;
            i as u32
        } else {
            self.push_after_growing(op, value, &operands, &partials)
        }
    }

    /// Appends one leaf per value; returns the first leaf's index, or [`FULL`]
    /// (recording nothing) if they would pass the node limit.
    #[inline(always)]
    pub(crate) fn push_leaves(&mut self, values: &[f64]) -> u32 {
        if self.reserve(values.len(), 0).is_err() {
            return FULL;
        }
        let (first, e) = (self.len, self.edge_len);
        let end = first + values.len();
        // One loop over the three arrays (no memcpy/memset calls for a few leaves).
        let nodes = self.values[first..end]
            .iter_mut()
            .zip(&mut self.ops[first..end])
            .zip(&mut self.edge_starts[first..end]);
        for (((value, op), start), &v) in nodes.zip(values) {
            *value = v;
            *op = Op::Leaf;
            *start = e as u32;
        }
        self.len = end;
        first as u32
    }

    #[cold]
    #[inline(never)]
    fn push_after_growing(
        &mut self,
        op: Op,
        value: f64,
        operands: &[u32],
        partials: &[f64],
    ) -> u32 {
        let k = operands.len();
        self.push_with(op, value, k, true, |o, p| {
            o.copy_from_slice(operands);
            p.copy_from_slice(partials);
        })
    }

    /// Appends a node with `k` operands, written by `fill` into the node's edge
    /// slots (operands, partials); returns its index, or [`FULL`] (recording
    /// nothing) if it would pass the node or edge limit. `check`: whether a
    /// partial may be NaN or infinite (false only where the caller knows each is
    /// finite).
    #[inline(always)]
    pub(crate) fn push_with(
        &mut self,
        op: Op,
        value: f64,
        k: usize,
        check: bool,
        fill: impl FnOnce(&mut [u32], &mut [f64]),
    ) -> u32 {
        if self.reserve(1, k).is_err() {
            return FULL;
        }
        self.has_select |= op.is_select();
        let (i, e) = (self.len, self.edge_len);
        self.values[i] = value;
        self.ops[i] = op;
        self.edge_starts[i] = e as u32;
        fill(&mut self.operands[e..e + k], &mut self.partials[e..e + k]);
        if check && any_non_finite(&self.partials[e..e + k]) {
            self.non_finite_partial = true;
        }
        self.len = i + 1;
        self.edge_len = e + k;
        i as u32
    }

    /// Appends a [`NeuronRun`] (its `node` field is set here).
    #[inline(always)]
    ///
    /// The caller records a run only for a finite weighted sum z, so that every
    /// partial a′(z)·value is finite: z finite means every wₖ·xₖ is, so every wₖ
    /// and xₖ is, and |a′(z)| ≤ 1 for the activations fused.
    pub(crate) fn push_neuron_run(&mut self, op: Op, value: f64, run: NeuronRun) -> u32 {
        // The run's edges count against the edge limit too (the graph view numbers
        // every edge with a u32).
        if self.edge_count().saturating_add(run.edge_count()) > MAX_EDGES {
            return FULL;
        }
        let index = self.push(op, value, [], []);
        if index == FULL {
            return FULL;
        }
        self.has_select |= op.is_select();
        self.runs.push(NeuronRun { node: index, ..run });
        self.run_edges += run.edge_count();
        index
    }

    /// Makes room for `nodes` more nodes and `edges` more edges, growing each
    /// array group at least geometrically; `Err` (changing nothing) if that
    /// would pass the node or edge limit. It never panics: it runs inside the
    /// arena cell. (An allocation failure aborts the process, as `Vec` does.)
    #[inline]
    pub(crate) fn reserve(&mut self, nodes: usize, edges: usize) -> Result<(), Full> {
        let need_nodes = self.len.saturating_add(nodes);
        let need_edges = self.edge_len.saturating_add(edges);
        if need_nodes > self.values.len() || need_edges > self.operands.len() {
            self.grow(need_nodes, need_edges)
        } else {
            Ok(())
        }
    }

    #[cold]
    #[inline(never)]
    fn grow(&mut self, need_nodes: usize, need_edges: usize) -> Result<(), Full> {
        if need_nodes > self.max_nodes || need_edges.saturating_add(self.run_edges) > MAX_EDGES {
            self.refused = None;
            return Err(Full::Limit);
        }
        let node_cap = if need_nodes > self.values.len() {
            (2 * self.values.len())
                .max(MIN_CAPACITY)
                .clamp(need_nodes, self.max_nodes)
        } else {
            self.values.len()
        };
        let edge_cap = if need_edges > self.operands.len() {
            (2 * self.operands.len())
                .max(2 * MIN_CAPACITY)
                .clamp(need_edges, MAX_EDGES)
        } else {
            self.operands.len()
        };
        // Ask the allocator for every array first (`try_reserve` neither aborts nor
        // panics), so a refusal changes nothing and is reported as an error.
        let reserved = (|| {
            let more_nodes = node_cap - self.values.len();
            let more_edges = edge_cap - self.operands.len();
            self.values.try_reserve_exact(more_nodes)?;
            self.ops.try_reserve_exact(more_nodes)?;
            self.edge_starts.try_reserve_exact(more_nodes)?;
            self.operands.try_reserve_exact(more_edges)?;
            self.partials.try_reserve_exact(more_edges)
        })();
        if reserved.is_err() {
            self.values.shrink_to(self.values.len());
            self.ops.shrink_to(self.ops.len());
            self.edge_starts.shrink_to(self.edge_starts.len());
            self.operands.shrink_to(self.operands.len());
            self.partials.shrink_to(self.partials.len());
            let bytes = node_cap
                .saturating_mul(NODE_BYTES)
                .saturating_add(edge_cap.saturating_mul(EDGE_BYTES));
            self.refused = Some(bytes);
            return Err(Full::Memory(bytes));
        }
        self.values.resize(node_cap, 0.0);
        self.ops.resize(node_cap, Op::Leaf);
        self.edge_starts.resize(node_cap, 0);
        self.operands.resize(edge_cap, 0);
        self.partials.resize(edge_cap, 0.0);
        Ok(())
    }
}

/// Whether any of `partials` is NaN or infinite: `p − p` is 0 for a finite `p`
/// and NaN otherwise, so one comparison of the sum answers (no branch per
/// partial).
#[inline(always)]
#[allow(clippy::eq_op)] // p − p is the point: it is NaN for ±∞ and NaN
fn any_non_finite(partials: &[f64]) -> bool {
    partials.iter().fold(0.0, |sum, &p| sum + (p - p)).is_nan()
}

/// Panics for a `reserve` past the limit, before the arena cell is entered.
#[cold]
#[inline(never)]
#[track_caller]
fn reserve_past_limit(nodes: usize, len: usize, max_nodes: usize) -> ! {
    panic!(
        "chainrule: reserve({nodes}) asks for room past the tape's limit: it holds {len} \
         nodes and can hold at most {max_nodes} (indices are u32)"
    )
}

/// Panics for an allocation the allocator refused, after the arena cell has been
/// left.
#[cold]
#[inline(never)]
#[track_caller]
fn out_of_memory(bytes: usize, nodes: usize) -> ! {
    panic!(
        "chainrule: could not allocate {bytes} bytes for a tape of {nodes} nodes \
         (and room for twice as many edges); ask for fewer nodes"
    )
}

/// Panics for a push past the limit, after the arena cell has been left.
#[cold]
#[inline(never)]
#[track_caller]
fn tape_full(max_nodes: usize) -> ! {
    panic!(
        "chainrule: the tape is full: it holds at most {max_nodes} nodes and {MAX_EDGES} edges \
         (indices are u32); clear it, or split the computation over several tapes"
    )
}

/// A recording of every operation of a forward pass, ready to be swept backwards.
///
/// Make variables with [`Tape::var`]; every operation on them appends a node. Call
/// [`Var::backward`] on an output for its [`Gradients`](crate::Gradients). The tape is
/// not consumed: sweep from as many outputs as you like, then [`clear`](Tape::clear)
/// it and record the next step into the same memory.
///
/// ```
/// use chainrule::Tape;
///
/// let mut tape = Tape::new();
/// for step in 0..3 {
///     let x = tape.var(step as f64);
///     let y = x * x + 1.0;
///     let g = y.backward();
///     assert_eq!(g[x], 2.0 * step as f64);
///     drop(g);
///     tape.clear(); // needs every Var and Gradients of this step to be gone
/// }
/// ```
///
/// A `Var` cannot outlive its tape, nor survive a `clear`:
///
/// ```compile_fail
/// let mut tape = chainrule::Tape::new();
/// let x = tape.var(1.0);
/// tape.clear(); // error: `tape` is borrowed by `x`
/// let _ = x.value();
/// ```
///
/// A tape is `Send` but not `Sync`: give each thread its own.
#[derive(Default)]
pub struct Tape {
    /// The arena. Recording a node goes through [`ArenaCell::write`]: no borrow
    /// flag to check and set on the hot path (it cost 30% of W1's step time).
    pub(crate) recording: ArenaCell<Recording>,
    /// Labels given with `Var::named`, by node: O(log labels) to look up.
    pub(crate) labels: RefCell<BTreeMap<u32, Cow<'static, str>>>,
    /// Labels of fused neurons' weighted sums, given with `Var::named_net`.
    pub(crate) net_labels: RefCell<BTreeMap<u32, Cow<'static, str>>>,
    /// The index from which a new node takes the slow path after recording:
    /// [`FULL`] (only a failed push) while anomaly detection is off, 0 (every node,
    /// to be checked for a non-finite value or partial) while it is on. One
    /// comparison per node covers both.
    slow_from: SlowFrom,
    /// The first node found non-finite while detection was on.
    first_anomaly: Cell<Option<u32>>,
}

/// See [`Tape::slow_from`](Tape).
struct SlowFrom(Cell<u32>);

impl Default for SlowFrom {
    fn default() -> Self {
        SlowFrom(Cell::new(FULL))
    }
}

impl Tape {
    /// An empty tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// assert!(tape.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty tape with room for `nodes` nodes (and twice as many edges) before it
    /// allocates.
    ///
    /// # Panics
    /// If `nodes` is more than a tape can hold (`u32::MAX` nodes; see
    /// [`Tape::max_nodes`]). An allocation failure aborts the process, as for a
    /// `Vec`.
    ///
    /// ```
    /// let tape = chainrule::Tape::with_capacity(1_000);
    /// assert!(tape.capacity() >= 1_000);
    /// ```
    #[track_caller]
    pub fn with_capacity(nodes: usize) -> Self {
        let tape = Self::new();
        tape.reserve(nodes);
        tape
    }

    /// An empty tape that holds at most `max_nodes` nodes: recording one more
    /// panics ("the tape is full") instead of growing. For a hard memory bound,
    /// and to test what happens at the limit without 4 billion nodes.
    ///
    /// # Panics
    /// If `max_nodes` is more than `u32::MAX` (node indices are `u32`).
    ///
    /// ```
    /// let tape = chainrule::Tape::with_max_nodes(2);
    /// let x = tape.var(1.0);
    /// let _y = x * 2.0;
    /// let full = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x * 3.0));
    /// assert!(full.is_err());
    /// assert_eq!(tape.len(), 2); // nothing was recorded by the failed push
    /// ```
    #[track_caller]
    pub fn with_max_nodes(max_nodes: usize) -> Self {
        if max_nodes > MAX_NODES {
            panic!(
                "chainrule: Tape::with_max_nodes({max_nodes}) is past the most any tape \
                 holds, {MAX_NODES} nodes (indices are u32)"
            );
        }
        let mut tape = Self::new();
        tape.recording.get_mut().max_nodes = max_nodes;
        tape
    }

    /// The most nodes this tape can hold: `u32::MAX` unless made with
    /// [`Tape::with_max_nodes`].
    ///
    /// ```
    /// assert_eq!(chainrule::Tape::new().max_nodes(), u32::MAX as usize);
    /// ```
    pub fn max_nodes(&self) -> usize {
        self.recording.read(|rec| rec.max_nodes())
    }

    /// Makes room for `nodes` more nodes (and twice as many edges, as far as the
    /// edge limit allows).
    ///
    /// # Panics
    /// If the nodes recorded plus `nodes` would pass [`Tape::max_nodes`]. Nothing
    /// is recorded or allocated then.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// tape.reserve(64);
    /// assert!(tape.capacity() >= 64);
    /// ```
    #[track_caller]
    pub fn reserve(&self, nodes: usize) {
        // Every check is made here, before entering the arena cell, and the panic
        // comes after leaving it (see `arena_cell`).
        let (len, edges, max_nodes) = self
            .recording
            .read(|rec| (rec.len(), rec.edge_count(), rec.max_nodes()));
        if len.checked_add(nodes).is_none_or(|need| need > max_nodes) {
            reserve_past_limit(nodes, len, max_nodes);
        }
        // Room for edges is a guess (two per node): never more than the limit.
        let edge_room = MAX_EDGES - edges.min(MAX_EDGES);
        let more_edges = nodes.saturating_mul(2).min(edge_room);
        match self.recording.write(|rec| rec.reserve(nodes, more_edges)) {
            Ok(()) => {}
            Err(Full::Limit) => tape_full(max_nodes),
            Err(Full::Memory(bytes)) => out_of_memory(bytes, len + nodes),
        }
    }

    /// How many nodes the tape holds without allocating.
    ///
    /// ```
    /// let mut tape = chainrule::Tape::with_capacity(10);
    /// let before = tape.capacity();
    /// tape.var(1.0);
    /// tape.clear();
    /// assert_eq!(tape.capacity(), before); // clear keeps the memory
    /// ```
    pub fn capacity(&self) -> usize {
        self.recording.read(|rec| rec.capacity())
    }

    /// Bytes of memory the tape's arena holds now (its arrays' capacities). The
    /// adjoint buffers of [`Gradients`](crate::Gradients) are not counted.
    ///
    /// ```
    /// let tape = chainrule::Tape::with_capacity(100);
    /// assert!(tape.memory_bytes() >= 100 * 13);
    /// ```
    pub fn memory_bytes(&self) -> usize {
        self.recording.read(|rec| rec.memory_bytes())
    }

    /// The number of nodes recorded.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// let _y = x * 3.0; // one node: the constant folds into the partial
    /// assert_eq!(tape.len(), 2);
    /// ```
    pub fn len(&self) -> usize {
        self.recording.read(|rec| rec.len())
    }

    /// Whether no node has been recorded.
    ///
    /// ```
    /// assert!(chainrule::Tape::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of edges recorded: one per operand occurrence (`a + a` has two).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(1.0);
    /// let _ = a + a;
    /// assert_eq!(tape.edge_count(), 2);
    /// ```
    pub fn edge_count(&self) -> usize {
        self.recording.read(|rec| rec.edge_count())
    }

    /// Forgets every node and label, keeping the memory for the next recording.
    ///
    /// Takes `&mut self`, so no [`Var`] or [`Gradients`](crate::Gradients) of the
    /// old recording can be alive (see the `compile_fail` example on [`Tape`]).
    ///
    /// ```
    /// let mut tape = chainrule::Tape::with_capacity(8);
    /// tape.var(1.0);
    /// tape.clear();
    /// assert!(tape.is_empty());
    /// ```
    pub fn clear(&mut self) {
        self.recording.get_mut().clear();
        let labels = self.labels.get_mut();
        if !labels.is_empty() {
            labels.clear();
        }
        let net_labels = self.net_labels.get_mut();
        if !net_labels.is_empty() {
            net_labels.clear();
        }
        self.first_anomaly.set(None);
    }

    /// Turns the recording-time anomaly check on or off (off by default).
    ///
    /// While on, every node recorded is checked: the first whose value or a local
    /// partial is NaN or infinite is remembered (see
    /// [`recorded_anomaly`](Tape::recorded_anomaly)). While off it costs one
    /// predictable branch per node.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// tape.set_anomaly_detection(true);
    /// let x = tape.var(-1.0);
    /// let y = x.ln();
    /// assert_eq!(tape.recorded_anomaly(), Some(y.index()));
    /// ```
    pub fn set_anomaly_detection(&self, on: bool) {
        self.slow_from.0.set(if on { 0 } else { FULL });
    }

    /// Whether the recording-time anomaly check is on.
    ///
    /// ```
    /// assert!(!chainrule::Tape::new().anomaly_detection());
    /// ```
    pub fn anomaly_detection(&self) -> bool {
        self.slow_from.0.get() == 0
    }

    /// The index of the first node recorded with a NaN or infinite value or local
    /// partial while the anomaly check was on (cleared by [`clear`](Tape::clear)).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// tape.set_anomaly_detection(true);
    /// let _ = tape.var(4.0).sqrt();
    /// assert_eq!(tape.recorded_anomaly(), None);
    /// ```
    pub fn recorded_anomaly(&self) -> Option<usize> {
        self.first_anomaly.get().map(|i| i as usize)
    }

    /// Scans every node recorded for the first whose value or a local partial is
    /// NaN or infinite, whether or not the recording-time check was on.
    /// Cost: O(nodes + edges).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let zero = tape.var(0.0);
    /// let _fine = zero * 2.0;
    /// let bad = zero / zero; // 0/0
    /// assert_eq!(tape.first_non_finite(), Some(bad.index()));
    /// ```
    pub fn first_non_finite(&self) -> Option<usize> {
        self.recording
            .read(|rec| (0..rec.len()).find(|&i| rec.is_non_finite(i)))
    }

    #[cold]
    #[inline(never)]
    fn check_anomaly(&self, index: u32) {
        if self.first_anomaly.get().is_none()
            && self.recording.read(|rec| rec.is_non_finite(index as usize))
        {
            self.first_anomaly.set(Some(index));
        }
    }

    /// Records a leaf: an input or a parameter of value `value`.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(-4.0);
    /// assert_eq!(x.value(), -4.0);
    /// ```
    #[inline]
    pub fn var(&self, value: f64) -> Var<'_> {
        let index = self.push(Op::Leaf, value, [], []);
        Var::from_parts(self, index, value)
    }

    /// Records one leaf per value, in order.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let w = tape.vars(&[0.15, 0.20]);
    /// assert_eq!(w[1].value(), 0.20);
    /// ```
    pub fn vars(&self, values: &[f64]) -> Vec<Var<'_>> {
        let first = self.push_leaves(values);
        (0..values.len() as u32)
            .map(|k| Var::from_parts(self, first + k, values[k as usize]))
            .collect()
    }

    /// Records one leaf per value, in order, into an array (no allocation): the
    /// parameters of a training step, say.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let [w1, w2] = tape.var_array([0.15, 0.20]);
    /// assert_eq!((w1.index(), w2.value()), (0, 0.20));
    /// ```
    #[inline]
    pub fn var_array<const N: usize>(&self, values: [f64; N]) -> [Var<'_>; N] {
        let first = self.push_leaves(&values);
        let mut k = 0;
        values.map(|v| {
            k += 1;
            Var::from_parts(self, first + k - 1, v)
        })
    }

    /// Appends one leaf per value, with a single capacity check; returns the first
    /// index.
    #[inline(always)]
    #[track_caller]
    fn push_leaves(&self, values: &[f64]) -> u32 {
        let first = self.recording.write(|rec| rec.push_leaves(values));
        if first >= self.slow_from.0.get() {
            if first == FULL {
                self.full();
            }
            for k in 0..values.len() as u32 {
                self.check_anomaly(first + k);
            }
        }
        first
    }

    /// The value of node `index`.
    ///
    /// # Panics
    /// If `index >= self.len()` (no such node, or it was forgotten by
    /// [`clear`](Tape::clear)).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let y = tape.var(3.0).square();
    /// assert_eq!(tape.value(y.index()), 9.0);
    /// ```
    #[track_caller]
    pub fn value(&self, index: usize) -> f64 {
        match self.recording.read(|rec| rec.values().get(index).copied()) {
            Some(value) => value,
            None => self.no_node(index),
        }
    }

    /// The op of node `index`.
    ///
    /// # Panics
    /// If `index >= self.len()`.
    ///
    /// ```
    /// use chainrule::{Op, Tape};
    /// let tape = Tape::new();
    /// let y = tape.var(3.0).sigmoid();
    /// assert_eq!(tape.op(y.index()), Op::Sigmoid);
    /// ```
    #[track_caller]
    pub fn op(&self, index: usize) -> Op {
        match self.recording.read(|rec| rec.ops().get(index).copied()) {
            Some(op) => op,
            None => self.no_node(index),
        }
    }

    /// The operands of node `index` with their local partial derivatives
    /// ∂node/∂operand, in recording order (an operand used twice appears twice).
    ///
    /// # Panics
    /// If `index >= self.len()`.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(2.0);
    /// let b = tape.var(5.0);
    /// let y = a * b;
    /// assert_eq!(tape.edges(y.index()), vec![(a.index(), 5.0), (b.index(), 2.0)]);
    /// ```
    #[track_caller]
    pub fn edges(&self, index: usize) -> Vec<(usize, f64)> {
        let edges = self.recording.read(|rec| {
            (index < rec.len()).then(|| rec.edges(index).map(|(o, p)| (o as usize, p)).collect())
        });
        match edges {
            Some(edges) => edges,
            None => self.no_node(index),
        }
    }

    /// Panics for a node index past the end, after the arena cell has been left.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn no_node(&self, index: usize) -> ! {
        let len = self.len();
        panic!(
            "chainrule: no node #{index} on this tape: it holds {len} nodes (#0 to #{}){}",
            len.saturating_sub(1),
            if len == 0 {
                "; a cleared tape forgets every node"
            } else {
                ""
            }
        )
    }

    /// Panics for a push past the limit.
    #[cold]
    #[inline(never)]
    #[track_caller]
    fn full(&self) -> ! {
        let (len, refused, max_nodes) = self
            .recording
            .read(|rec| (rec.len(), rec.refused, rec.max_nodes()));
        match refused {
            Some(bytes) => out_of_memory(bytes, len + 1),
            None => tape_full(max_nodes),
        }
    }

    /// The label of node `index`, if one was given with [`Var::named`]; `None`
    /// for an unlabelled node and for an index past the end (a label lookup never
    /// panics).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let y = tape.var(1.0).named("w1");
    /// assert_eq!(tape.label(y.index()).as_deref(), Some("w1"));
    /// ```
    pub fn label(&self, index: usize) -> Option<String> {
        let index = u32::try_from(index).ok()?;
        self.labels
            .borrow()
            .get(&index)
            .map(|label| label.to_string())
    }

    /// The label of node `index`, or a readable default: its op and index
    /// (`sigmoid#7`, `leaf#0`).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0);
    /// let y = x.exp();
    /// assert_eq!(tape.display_name(y.index()), "exp#1");
    /// ```
    ///
    /// # Panics
    /// If `index >= self.len()`.
    #[track_caller]
    pub fn display_name(&self, index: usize) -> String {
        self.label(index)
            .unwrap_or_else(|| format!("{}#{index}", self.op(index)))
    }

    pub(crate) fn set_label(&self, index: u32, label: Cow<'static, str>) {
        self.labels.borrow_mut().insert(index, label);
    }

    /// The label of the weighted sum inside the fused neuron at `index`, if one
    /// was given with [`Var::named_net`].
    ///
    /// ```
    /// use chainrule::{Activation, Tape};
    /// let tape = Tape::new();
    /// let w = tape.vars(&[0.15, 0.20]);
    /// let x = tape.vars(&[0.05, 0.10]);
    /// let b = tape.var(0.35);
    /// let out = chainrule::Var::neuron(&w, &x, b, Activation::Sigmoid)
    ///     .named("out_h1")
    ///     .named_net("net_h1");
    /// assert_eq!(tape.net_label(out.index()).as_deref(), Some("net_h1"));
    /// ```
    pub fn net_label(&self, index: usize) -> Option<String> {
        let index = u32::try_from(index).ok()?;
        self.net_labels
            .borrow()
            .get(&index)
            .map(|label| label.to_string())
    }

    pub(crate) fn set_net_label(&self, index: u32, label: Cow<'static, str>) {
        self.net_labels.borrow_mut().insert(index, label);
    }

    /// Appends one node with `N` operands: the single entry point of recording
    /// for ordinary (fixed-arity) ops.
    #[inline(always)]
    pub(crate) fn push<const N: usize>(
        &self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
    ) -> u32 {
        let index = self
            .recording
            .write(|rec| rec.push(op, value, operands, partials));
        self.after_push(index);
        index
    }

    /// Appends one n-ary node with `k` operands, written by `fill` into the node's
    /// edge slots (operands, partials). `fill` must not call any method of this
    /// tape (it runs inside [`ArenaCell::write`]); it only copies plain data.
    #[inline(always)]
    pub(crate) fn push_with(
        &self,
        op: Op,
        value: f64,
        k: usize,
        check: bool,
        fill: impl FnOnce(&mut [u32], &mut [f64]),
    ) -> u32 {
        let index = self
            .recording
            .write(|rec| rec.push_with(op, value, k, check, fill));
        self.after_push(index);
        index
    }

    /// Appends a [`NeuronRun`]: one node, no stored edges.
    #[inline(always)]
    pub(crate) fn push_neuron_run(&self, op: Op, value: f64, run: NeuronRun) -> u32 {
        let index = self
            .recording
            .write(|rec| rec.push_neuron_run(op, value, run));
        self.after_push(index);
        index
    }

    /// After leaving the arena cell: the panic for a full tape, and the anomaly
    /// check.
    #[inline(always)]
    #[track_caller]
    fn after_push(&self, index: u32) {
        if index >= self.slow_from.0.get() {
            if index == FULL {
                self.full();
            }
            self.check_anomaly(index);
        }
    }
}

impl fmt::Debug for Tape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tape")
            .field("nodes", &self.len())
            .field("edges", &self.edge_count())
            .finish_non_exhaustive()
    }
}

/// The one place in chainrule with `unsafe` code: a cell giving the arena interior
/// mutability without a borrow flag.
///
/// # Why
/// Every operation on a `Var` appends to the arena through `&Tape`. A `RefCell`
/// would check and set its flag twice per node, and each flag update is a store
/// the next node's check must wait for; measured on W1 (15 nodes a step) that was
/// 30% of the step time (255 → 176 ns), and 12% on W3.
///
/// # Soundness
/// 1. `ArenaCell<T>` holds an `UnsafeCell<T>`, so it is `!Sync`: a `&ArenaCell`
///    never crosses threads, and no two threads ever run `read`/`write` on the same
///    cell at once.
/// 2. The reference made in `read` or `write` is handed to `f` and lives only for
///    that call: `f` is generic over the reference's lifetime and returns an `R`
///    chosen independently of it, so it can neither return nor store the reference.
/// 3. So a second reference to the value can only come from code that runs while
///    `f` runs. `get_mut` needs `&mut self`, impossible while `&self` is borrowed
///    for the call. That leaves code reached from inside `f`, in three ways:
///    - `f` calls `read`/`write` itself. The type is private to the crate, and
///      every `f` in it only touches the `Recording` it is given and plain data it
///      captured (indices, values, slices of `Var`s: never a `Tape` method, never a
///      user closure).
///    - `f` panics: the panic hook runs *before* unwinding, while the reference is
///      still live, and a user's hook may use the same tape (a thread-local one).
///      So **no panic starts inside `f`**: every index, size and limit is checked
///      before entering or reported out of the closure as a value (`Option`,
///      `Result`, the [`FULL`] index), and the panic is raised after the call has
///      returned: `Tape::value`, `op`, `edges` (a bad index), `reserve` and
///      `with_capacity` (past the limit), every push (a full tape). What remains
///      inside are indexing operations whose bounds hold by construction (an
///      operand's index is below its node's, the edge ranges lie within the arrays
///      after `reserve` succeeded), and allocation, whose failure aborts rather
///      than unwinds (`Vec`'s `handle_alloc_error`): no hook runs then.
///    - unwinding through `f` from a panic elsewhere: impossible, `f` calls nothing
///      that could panic but the above.
///
///    Debug builds also check the rule at run time: re-entering panics (before
///    any second reference exists), and the whole test suite runs with debug
///    assertions.
///
/// `tests/arena.rs` exercises every path through the cell (pushes, growth, reads,
/// clear, sweeps, the graph view); `tests/arena_hooks.rs` installs a panic hook
/// that records on and reads the very tape whose method panics (`value`, `op`,
/// `edges` out of range, `reserve`/`with_capacity` past the limit, a push past
/// [`Tape::with_max_nodes`]) and checks that the process neither aborts nor loses
/// a node. Run them under Miri where Miri is installed (`cargo +nightly miri test
/// --test arena --test arena_hooks`; `.ci/run` does when it can).
mod arena_cell {
    #![allow(unsafe_code)]

    #[cfg(debug_assertions)]
    use std::cell::Cell;
    use std::cell::UnsafeCell;

    #[derive(Default)]
    pub(crate) struct ArenaCell<T> {
        value: UnsafeCell<T>,
        #[cfg(debug_assertions)]
        busy: Cell<bool>,
    }

    impl<T> ArenaCell<T> {
        /// Runs `f` with a shared reference to the value.
        #[inline(always)]
        pub(crate) fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
            let _entered = self.enter();
            // SAFETY: see the module documentation: single-threaded (`!Sync`), the
            // reference lives only for this call, and `f` does not re-enter.
            f(unsafe { &*self.value.get() })
        }

        /// Runs `f` with the only reference to the value.
        #[inline(always)]
        pub(crate) fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
            let _entered = self.enter();
            // SAFETY: as for `read`; no other reference exists during the call.
            f(unsafe { &mut *self.value.get() })
        }

        /// The value, through an exclusive borrow of the cell (no `unsafe`).
        pub(crate) fn get_mut(&mut self) -> &mut T {
            self.value.get_mut()
        }

        #[cfg(debug_assertions)]
        #[inline(always)]
        fn enter(&self) -> Entered<'_> {
            assert!(
                !self.busy.replace(true),
                "chainrule: internal error: the tape's arena was re-entered"
            );
            Entered(&self.busy)
        }

        #[cfg(not(debug_assertions))]
        #[inline(always)]
        fn enter(&self) {}
    }

    /// Marks the cell free again when the call ends, also by unwinding.
    #[cfg(debug_assertions)]
    struct Entered<'a>(&'a Cell<bool>);

    #[cfg(debug_assertions)]
    impl Drop for Entered<'_> {
        fn drop(&mut self) {
            self.0.set(false);
        }
    }
}
