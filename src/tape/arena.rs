//! The arena: [`Recording`], the structure of arrays a tape appends to.

use super::run::NeuronRun;
use crate::op::Op;

/// The arena itself: a structure of arrays, indexed by node or by edge.
///
/// Every array is kept initialised to its full capacity, and `len` / `edge_len`
/// count what is recorded: appending a node is a few bounds-checked stores, with
/// no per-array length or capacity bookkeeping. Edges of node `i` are
/// `edge_starts[i]..edge_starts[i + 1]` (the last node's run ends at `edge_len`).
pub(crate) struct Recording {
    /// The most nodes this recording may hold (at most [`MAX_NODES`]).
    pub(super) max_nodes: usize,
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
    /// The constants of the ops that keep one (`powi`'s n, `powf`'s c, the
    /// constant of `atan2` against an `f64`), by node, in recording order: what a
    /// recorded backward pass needs to write their partials as expressions
    /// again (the partial alone does not give the constant: 0·x^(n−1) at x = 0).
    pub(crate) constants: Vec<(u32, f64)>,
    /// The bytes the allocator refused at the last failed growth, if it was the
    /// allocator (not the limit) that made it fail.
    pub(super) refused: Option<usize>,
    /// Whether a select op ([`Op::is_select`]) has been recorded: only then can
    /// an edge be masked.
    has_select: bool,
    /// Whether a stored local partial is NaN or infinite. Without one, a node
    /// whose adjoint is zero passes nothing on (0 · finite changes no sum), and
    /// the sweep skips it with one test.
    non_finite_partial: bool,
}

/// Node and edge indices are `u32`: at most `u32::MAX` nodes (indices
/// `0..u32::MAX`, so `u32::MAX` itself is free to mean "full") and edges.
pub(crate) const MAX_NODES: usize = u32::MAX as usize;
pub(crate) const MAX_EDGES: usize = u32::MAX as usize;
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
            constants: Vec::new(),
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
        self.constants.clear();
    }

    /// The constant kept for node `node` (see `constants`), if any.
    pub(crate) fn constant(&self, node: u32) -> Option<f64> {
        let at = self.constants.partition_point(|&(n, _)| n < node);
        self.constants
            .get(at)
            .filter(|&&(n, _)| n == node)
            .map(|&(_, c)| c)
    }

    /// Bytes held by the arrays.
    pub(crate) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.values.len() * (size_of::<f64>() + size_of::<Op>() + size_of::<u32>())
            + self.operands.len() * (size_of::<u32>() + size_of::<f64>())
            + self.runs.capacity() * size_of::<NeuronRun>()
            + self.constants.capacity() * size_of::<(u32, f64)>()
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
