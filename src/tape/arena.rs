//! The arena: [`Recording`], the structure of arrays a tape appends to.
//!
//! # Layout
//!
//! Three arrays are indexed by node: its value, its op, and two `u32` slots whose
//! meaning the op's [`Layout`] gives:
//!
//! | layout | ops | slots | partials |
//! |---|---|---|---|
//! | leaf | leaf, constant | unused | none |
//! | add, sub, mul | `a + b`, `a − b`, `a · b` | the operands a, b | implied: 1 and 1, 1 and −1, b and a (the operands' values) |
//! | unary | every one-operand op | the operand, and where its partial is in the unary partials | one, stored |
//! | edges | every other op | where its run of edges starts in the edge arrays, and its length | stored with each edge |
//!
//! So the ops people write most, `+`, `−` and `·`, cost 17 bytes a node and a unary
//! op 25 (a binary node with stored partials would cost 33). The partials a mul
//! implies are the very numbers it would have stored (`b.value`, `a.value`), so
//! every reader sees the same edges as before, bit for bit, through
//! [`Recording::edges`]. A neuron recorded over runs ([`NeuronRun`]) has the
//! edges layout with an empty run: its edges are computed from the run.
//!
//! The slots lie [`SLOT_PAD`] entries into their vector ([`Slots`]), so that on
//! a large tape node `i`'s slots and adjoint `i` do not share an address
//! modulo 4,096 (which made every load of a slot just after the store to its
//! node's adjoint wait: W2's sweep took 128–134 µs with it, 97–98 µs without).

use super::run::NeuronRun;
use crate::op::{Layout, Op};

/// The arena itself: a structure of arrays.
///
/// Every array is kept initialised to its full capacity, and `len`,
/// `unary_len` and `edge_len` count what is recorded: appending a node is a few
/// stores, with no per-array length or capacity bookkeeping.
///
/// # Soundness of the fast path
///
/// [`Recording::push_fast`] (the leaves, `+`, `−`, `·` and one-operand ops: what
/// plain-operator code records) writes a node's value, op and slots at index
/// `i = len` after one test, `i < room`, with `get_unchecked_mut` on the three
/// node arrays (three bounds checks and their branches cost W1 and W2 about a
/// fifth of the instructions of a push). It is sound if **invariant (I)**,
/// `room ≤ values.len() ≤ ops.len()` and `values.len() ≤ args.len()`, holds
/// whenever `push_fast` runs; then `i < room` puts `i` in bounds of all three.
/// (`args.len()` is [`Slots::len`], the slots held, not counting the pad;
/// `Slots::get_unchecked_mut(i)` adds the pad, in bounds for `i < args.len()`
/// by `Slots`' own invariant: its vector is empty or holds the pad and at
/// least one slot, since its only lengthening, [`Slots::grow_to`], makes it
/// `SLOT_PAD + n` long with `n > args.len() ≥ 0`, and nothing shortens it.)
/// (I) holds at every point of every execution, panics and unwinding included:
///
/// - The three arrays and `room` are private to this module (`arena.rs`); no code
///   elsewhere can change their lengths or `room` (the tape reaches the arena
///   only through `Recording`'s methods).
/// - A new recording has empty arrays and `room` 0: (I) holds.
/// - The arrays' lengths change only in [`Recording::grow`], and only grow
///   (`resize`, or `Slots::grow_to`, to a larger length within the capacity
///   just reserved; nothing
///   here truncates, shrinks a length or swaps the arrays: `shrink_to` after a
///   refused allocation keeps the length). `grow` resizes `ops` and `args`
///   before `values`, all three to the same length, so at every point between
///   the resizes `values.len()` is
///   still at most the others; if a resize panicked (it cannot: the memory was
///   reserved first, and the elements are plain data with no `Clone` code to
///   run), (I) would still hold, with `room` unchanged.
/// - `room` is written only by [`Recording::set_room`] (after `Default`'s 0),
///   to `values.len()` or 0, called at the end of `grow` (after every resize)
///   and by [`Recording::set_fast_path`]. So `room ≤ values.len()` after every
///   write, and `values.len()` only grows.
/// - No other code runs in between: `push_fast` and `grow` call no closure or
///   trait method of the caller's (`grow`'s one closure is its own, around
///   `try_reserve_exact`) and no allocator hook but the global allocator's
///   (which safe code cannot make re-enter a tape: see `tape::cell`); the arena
///   cell gives them the only reference.
///
/// The index returned, `i as u32`, is exact and never [`FULL`]: `values.len()`
/// is set only by `grow`, to at most the node limit in force (`grown` clamps
/// to it, and a need past it is refused), which is at most
/// [`MAX_NODES`] `= u32::MAX`; so `i < room ≤ values.len() ≤ u32::MAX`. The
/// unary partial's slot is bounds-checked (`get_mut`), and `u as u32` is exact
/// for the same reason.
///
/// The unit tests at the end of this file check (I) (through
/// [`Recording::check_invariant`]) after every way a recording grows or changes
/// its fast path:
/// growth node by node, `reserve`, `with_capacity`, the leaves of `vars`, a
/// node with stored edges, a sum, a neuron over runs, the unary partials
/// growing alone, a refused growth at the node limit, a panic at the limit
/// caught and recording resumed, anomaly detection switched on and off in the
/// middle of a recording, and `clear`; and that the fast path fills the room
/// it is given, declines without writing (no room, no unary slot, stored edges,
/// the fast path off), and writes what `push` writes, bit for bit, flags
/// included, for every layout it takes. In a debug build `push_fast` also
/// asserts (I) before every write, so the whole test suite checks it. Where
/// Miri is installed, CI runs these unit tests under it too (`cargo +nightly
/// miri test --lib tape::arena`; it cannot be installed on this project's VMs).
pub(crate) struct Recording {
    /// The most nodes this recording may hold (at most [`MAX_NODES`]).
    pub(super) max_nodes: usize,
    len: usize,
    /// Nodes below this index may be written by [`Recording::push_fast`], which
    /// checks only `len < room`: the node arrays' length while the fast path is
    /// on, 0 while it is off (anomaly detection, which must see every node).
    ///
    /// **Invariant (I)**, on which `push_fast`'s `unsafe` rests:
    /// `room ≤ values.len() ≤ ops.len()` and `values.len() ≤ args.len()`. See
    /// [Soundness of the fast path](#soundness-of-the-fast-path).
    room: usize,
    /// Whether the fast path is on (see `room`).
    fast: bool,
    /// Unary partials recorded.
    unary_len: usize,
    /// Stored edges recorded (edges layout).
    edge_len: usize,
    /// How many nodes, from the first, are leaves (or constants): the sweep stops
    /// above them (a network's parameters, recorded first, are not visited one by
    /// one).
    leading_leaves: usize,
    /// By node: the value.
    values: Vec<f64>,
    /// By node: the op.
    ops: Vec<Op>,
    /// By node: the two slots of its [`Layout`] (after a pad: see [`Slots`]).
    args: Slots,
    /// The partial of each unary node, in recording order.
    unary_partials: Vec<f64>,
    /// The stored edges: operand and local partial.
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
    /// Whether a local partial, stored or implied, is NaN or infinite. Without
    /// one, a node whose adjoint is zero passes nothing on (0 · finite changes no
    /// sum), and the sweep skips it with one test.
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
/// Bytes per node slot (value, op, two slots), per unary partial, and per stored
/// edge (operand, partial).
const NODE_BYTES: usize = std::mem::size_of::<f64>() + std::mem::size_of::<Op>() + 8;
const UNARY_BYTES: usize = std::mem::size_of::<f64>();
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
            room: 0,
            fast: true,
            unary_len: 0,
            edge_len: 0,
            leading_leaves: 0,
            values: Vec::new(),
            ops: Vec::new(),
            args: Slots::default(),
            unary_partials: Vec::new(),
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
/// The first allocation, in nodes (and in unary partials and stored edges).
const MIN_CAPACITY: usize = 64;

/// The next capacity of an array of `len` slots that needs `need`: 1.5 times
/// as many (at least [`MIN_CAPACITY`]), but at least `need` and at most `max`.
/// A factor of 1.5 rather than 2 keeps the slack of a large tape at most a third
/// of it (the memory a tape holds is what a long recording is limited by).
fn grown(len: usize, need: usize, max: usize) -> usize {
    len.saturating_add(len / 2)
        .max(MIN_CAPACITY)
        .clamp(need, max.max(need))
}

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

    /// Whether every edge of the recording (stored, implied or over runs) can
    /// be numbered by a `u32` below `u32::MAX`. The readers that number edges
    /// with `u32` inside the arena cell (compile's graph, an explanation's
    /// subgraph) ask first and refuse outside the cell, so that no cast wraps
    /// and no slice panics inside it (a panic there could run a hook while the
    /// recording is borrowed: see `tape::cell`). Stored and run edges are
    /// limited to [`MAX_EDGES`] each as they are recorded, but the implied
    /// ones of `+`, `−`, `·` and unary ops are not counted: 2,050 neurons over
    /// runs of a million inputs and a few sums passed `u32::MAX` in all on a
    /// 51 MB tape.
    ///
    /// O(1) where 2·nodes + stored + run edges is below `u32::MAX` (every tape
    /// of under two billion edges), else O(nodes).
    pub(crate) fn edges_fit_u32(&self) -> bool {
        self.edges_below(u64::from(u32::MAX))
    }

    /// Whether the recording has fewer than `limit` edges ([`edges_fit_u32`]
    /// with any limit, for its tests).
    ///
    /// [`edges_fit_u32`]: Recording::edges_fit_u32
    pub(crate) fn edges_below(&self, limit: u64) -> bool {
        let bound = 2 * self.len as u64 + self.edge_len as u64 + self.run_edges as u64;
        bound < limit || (self.edge_count() as u64) < limit
    }

    /// Edges recorded, stored, implied or over runs. O(nodes): the add, sub, mul
    /// and unary nodes are counted by their ops (a counter would cost every push
    /// an instruction).
    pub(crate) fn edge_count(&self) -> usize {
        let fixed: usize = self
            .ops()
            .iter()
            .map(|op| match op.layout() {
                Layout::Add | Layout::Sub | Layout::Mul => 2,
                Layout::Unary => 1,
                Layout::Leaf | Layout::Edges => 0,
            })
            .sum();
        fixed + self.edge_len + self.run_edges
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

    /// The edges of node `i < len` in order: (operand, local partial). The
    /// partials of add, sub and mul are the ones they imply (see the module
    /// documentation).
    pub(crate) fn edges(&self, i: usize) -> impl Iterator<Item = (u32, f64)> + '_ {
        let [a, b] = self.args[i];
        let values = self.values();
        let none = (0, 0.0);
        let (inline, count, stored) = match self.ops[i].layout() {
            Layout::Leaf => ([none; 2], 0, 0..0),
            Layout::Add => ([(a, 1.0), (b, 1.0)], 2, 0..0),
            Layout::Sub => ([(a, 1.0), (b, -1.0)], 2, 0..0),
            Layout::Mul => ([(a, values[b as usize]), (b, values[a as usize])], 2, 0..0),
            Layout::Unary => ([(a, self.unary_partials[b as usize]), none], 1, 0..0),
            Layout::Edges => ([none; 2], 0, a as usize..a as usize + b as usize),
        };
        let stored = self.operands[stored.clone()]
            .iter()
            .copied()
            .zip(self.partials[stored].iter().copied());
        let run = (self.ops[i].layout() == Layout::Edges)
            .then(|| self.run_of(i))
            .flatten()
            .into_iter()
            .flat_map(move |r| r.edges(values));
        inline.into_iter().take(count).chain(stored).chain(run)
    }

    /// Node capacity: the nodes the arrays hold without allocating (their
    /// lengths, the room written so far, grow within it).
    pub(crate) fn capacity(&self) -> usize {
        self.node_capacity()
    }

    /// The least capacity of the three node arrays.
    fn node_capacity(&self) -> usize {
        self.values
            .capacity()
            .min(self.ops.capacity())
            .min(self.args.capacity())
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

    /// What the sweep reads of the first `n ≤ len` nodes: their ops, slots and
    /// values, sliced once each.
    #[inline(always)]
    pub(crate) fn first_nodes(&self, n: usize) -> (&[Op], &[[u32; 2]], &[f64]) {
        debug_assert!(n <= self.len);
        (&self.ops[..n], self.args.first(n), &self.values[..n])
    }

    /// The partial of every unary node, in recording order.
    #[inline(always)]
    pub(crate) fn unary_partials(&self) -> &[f64] {
        &self.unary_partials[..self.unary_len]
    }

    /// The operand of every stored edge.
    #[inline(always)]
    pub(crate) fn operands(&self) -> &[u32] {
        &self.operands[..self.edge_len]
    }

    /// The local partial derivative of every stored edge.
    #[inline(always)]
    pub(crate) fn partials(&self) -> &[f64] {
        &self.partials[..self.edge_len]
    }

    /// How many nodes, from the first, have no edges.
    #[inline(always)]
    pub(crate) fn leading_leaves(&self) -> usize {
        self.leading_leaves
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

    /// Whether a local partial is NaN or infinite (a neuron over runs has finite
    /// partials by construction).
    #[inline(always)]
    pub(crate) fn has_non_finite_partial(&self) -> bool {
        self.non_finite_partial
    }

    /// Forgets every node, keeping the memory.
    pub(crate) fn clear(&mut self) {
        self.has_select = false;
        self.non_finite_partial = false;
        self.len = 0;
        self.unary_len = 0;
        self.edge_len = 0;
        self.leading_leaves = 0;
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

    /// The constants kept for node `node` (see `constants`), in the order kept.
    pub(crate) fn constants_of(&self, node: u32) -> &[(u32, f64)] {
        let from = self.constants.partition_point(|&(n, _)| n < node);
        let to = self.constants.partition_point(|&(n, _)| n <= node);
        &self.constants[from..to]
    }

    /// Bytes held by the arrays.
    pub(crate) fn memory_bytes(&self) -> usize {
        use std::mem::size_of;
        self.values.capacity() * size_of::<f64>()
            + self.ops.capacity() * size_of::<Op>()
            + self.args.bytes()
            + self.unary_partials.capacity() * UNARY_BYTES
            + self.operands.capacity() * size_of::<u32>()
            + self.partials.capacity() * size_of::<f64>()
            + self.runs.capacity() * size_of::<NeuronRun>()
            + self.constants.capacity() * size_of::<(u32, f64)>()
    }

    /// Appends a node with `N` operands, growing the arena if need be: the
    /// slow path of recording (the fast one is [`Recording::push_fast`]), and
    /// the path of every op with stored edges. Where its edges go is decided by
    /// `op.layout()`, resolved at compile time where `op` is a constant (every
    /// unary and binary op records a constant op).
    #[inline(always)]
    pub(crate) fn push<const N: usize>(
        &mut self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
    ) -> u32 {
        if op.layout_of() == Layout::Edges {
            // Every partial looked at: the caller says nothing about them.
            return self.push_edges(op, value, operands, partials, true);
        }
        let i = self.len;
        if i < self.values.len() && i < self.ops.len() && i < self.args.len() {
            if let Some((a, b)) = self.fixed_slots(op, value, operands, partials) {
                self.values[i] = value;
                self.ops[i] = op;
                self.args[i] = [a, b];
                self.has_select |= op.is_select();
                self.len = i + 1;
                return i as u32;
            }
        }
        self.push_after_growing(op, value, operands, partials)
    }

    /// What a leaf, `+`, `−`, `·` or one-operand node at index `len` records
    /// besides its value and op, the one place both pushes take it from: its
    /// two slots (returned), its unary partial, and the recording's flags and
    /// counts. `None`, changing nothing, for an op with stored edges or where
    /// the unary partials are full. The caller then writes the node at `len`.
    #[inline(always)]
    fn fixed_slots<const N: usize>(
        &mut self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
    ) -> Option<(u32, u32)> {
        let i = self.len;
        match op.layout_of() {
            Layout::Leaf if N == 0 => {
                if self.leading_leaves == i {
                    self.leading_leaves = i + 1;
                }
                Some((0, 0))
            }
            Layout::Add | Layout::Sub | Layout::Mul if N == 2 => {
                debug_assert!(
                    op != Op::Mul
                        || (partials[0].to_bits()
                            == self.values[operands[N - 1] as usize].to_bits()
                            || partials[0].is_nan())
                            && (partials[N - 1].to_bits()
                                == self.values[operands[0] as usize].to_bits()
                                || partials[N - 1].is_nan()),
                    "a mul's partials are its operands' values"
                );
                // A mul's partials are its operands' values, and its value is
                // NaN or infinite whenever one of them is (x · ∞ is ±∞ or NaN,
                // x · NaN is NaN): one test of the value covers both (and flags
                // an overflow too, which only makes the sweep more careful).
                #[allow(clippy::eq_op)]
                if op == Op::Mul && (value - value).is_nan() {
                    self.non_finite_partial = true;
                }
                Some((operands[0], operands[N - 1]))
            }
            Layout::Unary if N == 1 => {
                let u = self.unary_len;
                *self.unary_partials.get_mut(u)? = partials[0];
                if any_non_finite(&partials) {
                    self.non_finite_partial = true;
                }
                self.unary_len = u + 1;
                Some((operands[0], u as u32))
            }
            layout => {
                debug_assert!(
                    layout == Layout::Edges,
                    "{op:?} ({layout:?}) recorded with {N} operands"
                );
                None
            }
        }
    }

    /// Sets `room` from the fast path's state: the node arrays' length, or 0.
    /// The only place `room` is written (invariant (I)).
    #[inline]
    fn set_room(&mut self) {
        self.room = if self.fast { self.values.len() } else { 0 };
    }

    /// Turns the fast path on or off (off while anomaly detection is on, so that
    /// every node takes the slow path, which checks it).
    pub(crate) fn set_fast_path(&mut self, on: bool) {
        self.fast = on;
        self.set_room();
    }

    /// Checks invariant (I) (see # Soundness of the fast path); for the tests.
    pub(crate) fn check_invariant(&self) -> Result<(), String> {
        let (room, v, o, a) = (
            self.room,
            self.values.len(),
            self.ops.len(),
            self.args.len(),
        );
        if room <= v && v <= o && v <= a && (room == v || (!self.fast && room == 0)) {
            Ok(())
        } else {
            Err(format!(
                "room {room}, values {v}, ops {o}, args {a}, fast path {}",
                self.fast
            ))
        }
    }

    /// Appends a leaf, `+`, `−`, `·` or one-operand node if there is room for it
    /// without growing and the fast path is on; `None` (recording nothing)
    /// otherwise, and for ops with stored edges: then the caller takes the slow
    /// path, [`Recording::push`]. The same node, bit for bit, as `push` records.
    ///
    /// One test, `len < room`, stands for the bounds checks of the three node
    /// arrays (see # Soundness of the fast path).
    #[inline(always)]
    #[allow(unsafe_code)] // the crate's `deny` lifted for this function alone
    pub(crate) fn push_fast<const N: usize>(
        &mut self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
    ) -> Option<u32> {
        let i = self.len;
        if i >= self.room {
            return None;
        }
        // Declines an op with stored edges, and full unary partials.
        let (a, b) = self.fixed_slots(op, value, operands, partials)?;
        if op.is_select() {
            self.has_select = true;
        }
        debug_assert!(self.check_invariant().is_ok());
        // SAFETY: i < room, and room ≤ values.len() ≤ ops.len() and
        // values.len() ≤ args.len() by invariant (I), which holds at every point
        // (# Soundness of the fast path): i is in bounds of all three arrays.
        unsafe {
            *self.values.get_unchecked_mut(i) = value;
            *self.ops.get_unchecked_mut(i) = op;
            *self.args.get_unchecked_mut(i) = [a, b];
        }
        self.len = i + 1;
        Some(i as u32)
    }

    /// Appends a node of the edges layout with `N` operands given in registers,
    /// like [`Recording::push`], but with the caller saying whether a partial may
    /// be NaN or infinite (`check`), as [`Recording::push_with`] does: a fused
    /// neuron knows its partials are finite when its weighted sum is.
    #[inline(always)]
    pub(crate) fn push_edges<const N: usize>(
        &mut self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
        check: bool,
    ) -> u32 {
        debug_assert_eq!(op.layout(), Layout::Edges, "{op:?} has stored edges");
        let (i, e) = (self.len, self.edge_len);
        if let (Some(v), Some(o), Some(s), Some(dst_operands), Some(dst_partials)) = (
            self.values.get_mut(i),
            self.ops.get_mut(i),
            self.args.get_mut(i),
            self.operands.get_mut(e..e + N),
            self.partials.get_mut(e..e + N),
        ) {
            *v = value;
            *o = op;
            *s = [e as u32, N as u32];
            dst_operands.copy_from_slice(&operands);
            dst_partials.copy_from_slice(&partials);
            if check && any_non_finite(&partials) {
                self.non_finite_partial = true;
            }
            self.has_select |= op.is_select();
            self.len = i + 1;
            self.edge_len = e + N;
            return i as u32;
        }
        // Out of room: grow, then `push`, which looks at every partial.
        self.push_after_growing(op, value, operands, partials)
    }

    /// Appends one leaf per value; returns the first leaf's index, or [`FULL`]
    /// (recording nothing) if they would pass the node limit.
    #[inline(always)]
    pub(crate) fn push_leaves(&mut self, values: &[f64]) -> u32 {
        if self.reserve_parts(values.len(), 0, 0, true).is_err() {
            return FULL;
        }
        let first = self.len;
        let end = first + values.len();
        // One loop over the three arrays (no memcpy/memset calls for a few leaves).
        let nodes = self.values[first..end]
            .iter_mut()
            .zip(&mut self.ops[first..end])
            .zip(self.args.range_mut(first, end));
        for (((value, op), slots), &v) in nodes.zip(values) {
            *value = v;
            *op = Op::Leaf;
            *slots = [0; 2];
        }
        self.len = end;
        if self.leading_leaves == first {
            self.leading_leaves = end;
        }
        first as u32
    }

    #[cold]
    #[inline(never)]
    fn push_after_growing<const N: usize>(
        &mut self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
    ) -> u32 {
        let (unary, edges) = match op.layout_of() {
            Layout::Unary => (1, 0),
            Layout::Edges => (0, N),
            _ => (0, 0),
        };
        if self.reserve_parts(1, unary, edges, true).is_err() {
            return FULL;
        }
        self.push(op, value, operands, partials)
    }

    /// Appends a node of the edges layout with `k` operands, written by `fill`
    /// into the node's edge slots (operands, partials); returns its index, or
    /// [`FULL`] (recording nothing) if it would pass the node or edge limit.
    /// `check`: whether a partial may be NaN or infinite (false only where the
    /// caller knows each is finite).
    #[inline(always)]
    pub(crate) fn push_with(
        &mut self,
        op: Op,
        value: f64,
        k: usize,
        check: bool,
        fill: impl FnOnce(&mut [u32], &mut [f64]),
    ) -> u32 {
        debug_assert_eq!(op.layout(), Layout::Edges, "{op:?} has stored edges");
        let (i, e) = (self.len, self.edge_len);
        // One test of the room there is, then the slots borrowed together (one
        // bounds check each, folded with that test), as in `push`.
        let fits = i < self.values.len() && k <= self.operands.len().saturating_sub(e);
        if !fits && self.reserve_parts(1, 0, k, true).is_err() {
            return FULL;
        }
        if let (Some(v), Some(o), Some(s), Some(dst_operands), Some(dst_partials)) = (
            self.values.get_mut(i),
            self.ops.get_mut(i),
            self.args.get_mut(i),
            self.operands.get_mut(e..e + k),
            self.partials.get_mut(e..e + k),
        ) {
            *v = value;
            *o = op;
            *s = [e as u32, k as u32];
            fill(dst_operands, dst_partials);
            if check && any_non_finite(dst_partials) {
                self.non_finite_partial = true;
            }
            self.has_select |= op.is_select();
            self.len = i + 1;
            self.edge_len = e + k;
            return i as u32;
        }
        // Unreachable: `reserve_parts` made room for the node and its k edges.
        FULL
    }

    /// Appends a [`NeuronRun`] (its `node` field is set here).
    ///
    /// The caller records a run only for a finite weighted sum z, so that every
    /// partial a′(z)·value is finite: z finite means every wₖ·xₖ is, so every wₖ
    /// and xₖ is, and |a′(z)| ≤ 1 for the activations fused.
    #[inline(always)]
    pub(crate) fn push_neuron_run(&mut self, op: Op, value: f64, run: NeuronRun) -> u32 {
        // The run's edges count against the limit of stored edges.
        if (self.edge_len + self.run_edges).saturating_add(run.edge_count()) > MAX_EDGES {
            return FULL;
        }
        let index = self.push_with(op, value, 0, false, |_, _| {});
        if index == FULL {
            return FULL;
        }
        self.runs.push(NeuronRun { node: index, ..run });
        self.run_edges += run.edge_count();
        index
    }

    /// Allocates room for `nodes` more nodes of any layout and `edges` more
    /// stored edges, writing none of it (see [`Recording::grow`]); `Err`
    /// (changing nothing) if that would pass the node or edge limit or the
    /// allocator refuses.
    #[inline]
    pub(crate) fn reserve(&mut self, nodes: usize, edges: usize) -> Result<(), Full> {
        self.reserve_parts(nodes, nodes, edges, false)
    }

    /// Makes room for `nodes` more nodes, `unary` more unary partials and `edges`
    /// more stored edges, growing each short array at least 1.5-fold; with
    /// `fill`, room to write them now (see [`Recording::grow`]). `Err`
    /// (changing nothing) if that would pass the node or edge limit or the
    /// allocator refuses. It never panics: it runs inside the arena cell.
    #[inline(always)]
    fn reserve_parts(
        &mut self,
        nodes: usize,
        unary: usize,
        edges: usize,
        fill: bool,
    ) -> Result<(), Full> {
        let need_nodes = self.len.saturating_add(nodes);
        let need_unary = self.unary_len.saturating_add(unary);
        let need_edges = self.edge_len.saturating_add(edges);
        // `unary > 0` and `edges > 0` fold away where the caller passes 0.
        if need_nodes > self.values.len()
            || (unary > 0 && need_unary > self.unary_partials.len())
            || (edges > 0 && need_edges > self.operands.len())
        {
            self.grow(need_nodes, need_unary, need_edges, fill)
        } else {
            Ok(())
        }
    }

    /// Grows the arrays for `need_nodes` nodes, `need_unary` unary partials and
    /// `need_edges` stored edges in all: allocates (each short array at least
    /// 1.5-fold, `try_reserve_exact`), then, with `fill`, extends the arrays'
    /// lengths (the room the pushes write into, zeros until written) to at
    /// least the need, 1.5-fold where the allocation allows.
    ///
    /// Allocating and writing are apart so that reserving a large tape
    /// ([`Tape::with_capacity`](crate::Tape::with_capacity)) writes none of
    /// its memory: with the operating system's lazy allocation, memory that is
    /// never written is never committed, and `with_capacity(1 << 31)` (53 GB
    /// of arrays) on a 24 GB machine would otherwise have the process killed
    /// while zeroing it, rather than return. The lengths then grow as nodes
    /// are recorded, within the allocation, 1.5-fold at a time.
    #[cold]
    #[inline(never)]
    fn grow(
        &mut self,
        need_nodes: usize,
        need_unary: usize,
        need_edges: usize,
        fill: bool,
    ) -> Result<(), Full> {
        // Stored edges are numbered by u32 (a node's run starts at a u32 slot), and
        // so are a neuron run's, which the graph view adds as edges.
        let node_limit = self.max_nodes;
        if need_nodes > node_limit
            || need_unary > node_limit
            || need_edges.saturating_add(self.run_edges) > MAX_EDGES
        {
            self.refused = None;
            return Err(Full::Limit);
        }
        // The capacities now: each group's is its arrays' least, and a refused
        // allocation shrinks back to them.
        let capacities = [
            self.values.capacity(),
            self.ops.capacity(),
            self.args.capacity(),
            self.unary_partials.capacity(),
            self.operands.capacity(),
            self.partials.capacity(),
        ];
        let [values, ops, args, unary, operands, partials] = capacities;
        // Each group allocated to its need, at least 1.5-fold, where it is short.
        let target = |room: usize, need: usize, max: usize| {
            if need > room {
                grown(room, need, max)
            } else {
                room
            }
        };
        let node_cap = target(values.min(ops).min(args), need_nodes, node_limit);
        let unary_cap = target(unary, need_unary, node_limit);
        let edge_cap = target(operands.min(partials), need_edges, MAX_EDGES);
        // Ask the allocator for every array first (`try_reserve` neither aborts nor
        // panics), so a refusal changes nothing and is reported as an error.
        let reserved = (|| {
            let more_nodes = node_cap - self.values.len();
            let more_unary = unary_cap - self.unary_partials.len();
            let more_edges = edge_cap - self.operands.len();
            self.values.try_reserve_exact(more_nodes)?;
            self.ops.try_reserve_exact(more_nodes)?;
            self.args.try_reserve_to(node_cap)?;
            self.unary_partials.try_reserve_exact(more_unary)?;
            self.operands.try_reserve_exact(more_edges)?;
            self.partials.try_reserve_exact(more_edges)
        })();
        if reserved.is_err() {
            // Back to the capacities before (an earlier `reserve`'s included).
            self.values.shrink_to(capacities[0]);
            self.ops.shrink_to(capacities[1]);
            self.args.shrink_to(capacities[2]);
            self.unary_partials.shrink_to(capacities[3]);
            self.operands.shrink_to(capacities[4]);
            self.partials.shrink_to(capacities[5]);
            let bytes = node_cap
                .saturating_mul(NODE_BYTES)
                .saturating_add(unary_cap.saturating_mul(UNARY_BYTES))
                .saturating_add(edge_cap.saturating_mul(EDGE_BYTES));
            self.refused = Some(bytes);
            return Err(Full::Memory(bytes));
        }
        if !fill {
            return Ok(());
        }
        // The lengths to write up to: each at least its need (at most its
        // capacity, which the allocation made at least the need), 1.5 times the
        // length before where the capacity allows. Within the capacity, so no
        // `resize` below allocates.
        let fill_to = |len: usize, need: usize, cap: usize, max: usize| {
            if need > len {
                grown(len, need, max).min(cap)
            } else {
                len
            }
        };
        let node_fill = fill_to(self.values.len(), need_nodes, node_cap, node_limit);
        let unary_fill = fill_to(self.unary_partials.len(), need_unary, unary_cap, node_limit);
        let edge_fill = fill_to(self.operands.len(), need_edges, edge_cap, MAX_EDGES);
        // `ops` and `args` first, `values` last: see invariant (I) (# Soundness
        // of the fast path).
        self.ops.resize(node_fill, Op::Leaf);
        self.args.grow_to(node_fill);
        self.values.resize(node_fill, 0.0);
        self.unary_partials.resize(unary_fill, 0.0);
        self.operands.resize(edge_fill, 0);
        self.partials.resize(edge_fill, 0.0);
        self.set_room();
        Ok(())
    }
}

/// Unused slots before node 0's (576 bytes): see [`Slots`].
pub(crate) const SLOT_PAD: usize = 72;

/// The node slots (`Recording::args`), node `i`'s at entry `i + SLOT_PAD` of
/// the vector: the first [`SLOT_PAD`] entries are never read, so that node
/// `i`'s slots do not share their address modulo 4,096 with adjoint `i`.
///
/// An array of 128 KiB or more comes from the system page by page (glibc's
/// `mmap` threshold, in a process that has not yet freed one), 16 bytes past
/// a page: without the pad, a large tape's slots and the sweep's adjoint
/// buffer would start at the same offset in their pages, and adjoint `i` and
/// node `i`'s slots would be a multiple of 4,096 bytes apart. The sweep stores
/// an operand's adjoint and soon after loads that operand's slots (the
/// product below a weighted sum's sum, the node below a chain's link); a load
/// whose address matches a store still in flight in its low 12 bits is taken
/// for one that may depend on it, and waits until the store completes ("4K
/// aliasing": AMD's *Software Optimization Guide for AMD Family 19h
/// Processors*, Intel's *Optimization Reference Manual*, § on store
/// forwarding). The pad moves the slots 576 bytes along; from the heap, where
/// the arrays lie at unrelated offsets, it changes nothing but by chance. It
/// is an offset known when compiling: the fast path's store and `get_mut`
/// fold it into the address; `first`, `len` and indexing add a comparison
/// (callgrind: +0.3% instructions for W1 and W2 with plain operators, +0.9%
/// for fused W1). It costs 576 bytes a tape, once the tape allocates (records
/// or reserves). Measured in `docs/performance-log.md` (round from fed1438).
///
/// The vector's length is 0 or `SLOT_PAD + n` with `n ≥ 1` (its allocation
/// may hold the pad already, after a reservation): every method that
/// lengthens it lengthens it to `SLOT_PAD + n`, `n ≥ 1`, and nothing shortens
/// it. So `len()`, the vector's length less the pad (0 for an empty vector),
/// is the number of slots, and `i < len()` puts entry `i + SLOT_PAD` in bounds
/// (what [`Slots::get_unchecked_mut`]'s callers rely on).
#[derive(Default)]
struct Slots(Vec<[u32; 2]>);

impl Slots {
    /// Slots held (initialised, recorded or not).
    #[inline(always)]
    fn len(&self) -> usize {
        self.0.len().saturating_sub(SLOT_PAD)
    }

    /// Slots the allocation holds.
    fn capacity(&self) -> usize {
        self.0.capacity().saturating_sub(SLOT_PAD)
    }

    /// Bytes held, the pad's included.
    fn bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<[u32; 2]>()
    }

    /// The first `n` slots.
    ///
    /// # Panics
    /// If `n` is more than [`Slots::len`].
    #[inline(always)]
    fn first(&self, n: usize) -> &[[u32; 2]] {
        match self.0.get(SLOT_PAD..) {
            Some(slots) => &slots[..n],
            None => &[][..n],
        }
    }

    /// Slots `from..to`, to be written.
    ///
    /// # Panics
    /// If `from > to` or `to` is more than [`Slots::len`].
    #[inline(always)]
    fn range_mut(&mut self, from: usize, to: usize) -> &mut [[u32; 2]] {
        match self.0.get_mut(SLOT_PAD..) {
            Some(slots) => &mut slots[from..to],
            None => &mut [][from..to],
        }
    }

    /// Slot `i`, if `i < len()`. `i` is a node index, at most the recording's
    /// length, which is at most a vector's (`isize::MAX`): `i + SLOT_PAD` does
    /// not overflow (one comparison, as a vector's `get_mut`).
    #[inline(always)]
    fn get_mut(&mut self, i: usize) -> Option<&mut [u32; 2]> {
        debug_assert!(i <= isize::MAX as usize);
        self.0.get_mut(i + SLOT_PAD)
    }

    /// Slot `i`, without a bounds check.
    ///
    /// # Safety
    /// `i < self.len()`: then `i + SLOT_PAD < self.0.len()` (the vector holds
    /// the pad whenever `len() > 0`, see the type's documentation), and the
    /// sum does not overflow (it is below a vector's length).
    #[inline(always)]
    #[allow(unsafe_code)] // the crate's `deny` lifted for this function alone
    unsafe fn get_unchecked_mut(&mut self, i: usize) -> &mut [u32; 2] {
        debug_assert!(i < self.len());
        // SAFETY: the caller's contract, above.
        unsafe { self.0.get_unchecked_mut(i + SLOT_PAD) }
    }

    /// Reserves room for `cap` slots in all (the pad's besides), or reports
    /// the allocator's refusal, changing nothing.
    fn try_reserve_to(&mut self, cap: usize) -> Result<(), std::collections::TryReserveError> {
        let want = SLOT_PAD.saturating_add(cap);
        self.0.try_reserve_exact(want.saturating_sub(self.0.len()))
    }

    /// Gives back what [`Slots::try_reserve_to`] took beyond `cap` slots.
    fn shrink_to(&mut self, cap: usize) {
        self.0.shrink_to(if cap == 0 { 0 } else { SLOT_PAD + cap });
    }

    /// Lengthens to `n` slots, zeroed (the pad too, when it is first made); a
    /// shorter or equal `n` changes nothing. Allocates unless room for `n` was
    /// reserved.
    fn grow_to(&mut self, n: usize) {
        if n > self.len() {
            self.0.resize(SLOT_PAD + n, [0; 2]);
        }
    }
}

impl std::ops::Index<usize> for Slots {
    type Output = [u32; 2];

    /// Slot `i`. Panics if `i ≥ len()`.
    #[inline(always)]
    fn index(&self, i: usize) -> &[u32; 2] {
        &self.0[SLOT_PAD..][i]
    }
}

impl std::ops::IndexMut<usize> for Slots {
    #[inline(always)]
    fn index_mut(&mut self, i: usize) -> &mut [u32; 2] {
        &mut self.0[SLOT_PAD..][i]
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

/// Invariant (I) of the fast path (see [`Recording`]'s # Soundness of the fast
/// path), checked after every way a recording grows or changes its fast path,
/// through the tape's public API.
#[cfg(test)]
mod tests {
    use super::Recording;
    use crate::op::Op;
    use crate::Tape;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    /// (I) holds, and the fast path is on exactly when it should be.
    fn check(tape: &Tape, fast: bool) {
        tape.recording.read(|rec| {
            if let Err(state) = rec.check_invariant() {
                panic!("invariant (I) broken: {state}");
            }
            assert_eq!(rec.fast, fast, "fast path state");
            assert_eq!(rec.room, if fast { rec.values.len() } else { 0 });
        });
    }

    /// 1,000 nodes of `·`, `+`, `sin` and `− c` on `x = 1.5`, (I) checked after
    /// each with the fast path `fast`; returns x and the last node.
    fn chain(tape: &Tape, fast: bool) -> (crate::Var<'_>, crate::Var<'_>) {
        let x = tape.var(1.5);
        let mut y = x;
        for k in 0..1_000 {
            y = match k % 4 {
                0 => y * x,
                1 => y + x,
                2 => y.sin(),
                _ => y - 1.0,
            };
            check(tape, fast);
        }
        (x, y)
    }

    #[test]
    fn growth_node_by_node_keeps_the_invariant_and_uses_the_new_room() {
        let tape = Tape::new();
        check(&tape, true);
        let (x, y) = chain(&tape, true);
        assert_eq!(tape.len(), 1_001);
        // Every node the fast path wrote is what the slow one writes: the
        // gradient equals one recorded with anomaly detection on (all slow).
        let slow = Tape::new();
        slow.set_anomaly_detection(true);
        check(&slow, false);
        let (xs, ys) = chain(&slow, false);
        assert_eq!(y.backward()[x].to_bits(), ys.backward()[xs].to_bits());
        assert_eq!(y.value().to_bits(), ys.value().to_bits());
    }

    #[test]
    fn reserve_and_with_capacity_set_the_room_to_the_new_length() {
        let tape = Tape::with_capacity(100);
        check(&tape, true);
        tape.reserve(10_000);
        check(&tape, true);
        let x = tape.var(2.0);
        let _ = x * x;
        check(&tape, true);
    }

    #[test]
    fn a_refused_growth_at_the_limit_and_a_caught_panic_keep_the_invariant() {
        let tape = Tape::with_max_nodes(70);
        let x = tape.var(1.0);
        let mut y = x;
        for _ in 0..69 {
            y *= x;
        }
        check(&tape, true);
        let full = catch_unwind(AssertUnwindSafe(|| y + x));
        assert!(full.is_err(), "the 71st node must not be recorded");
        check(&tape, true);
        assert_eq!(tape.len(), 70);
        let full = catch_unwind(AssertUnwindSafe(|| tape.var(3.0)));
        assert!(full.is_err());
        check(&tape, true);
        assert_eq!(tape.len(), 70);
    }

    #[test]
    fn anomaly_detection_switched_mid_recording_moves_the_room() {
        let mut tape = Tape::new();
        let x = tape.var(0.0);
        let _ = x * 2.0;
        check(&tape, true);
        tape.set_anomaly_detection(true);
        check(&tape, false);
        let bad = x.ln(); // −∞: seen only by the slow path
        assert_eq!(tape.recorded_anomaly(), Some(bad.index()));
        for _ in 0..200 {
            let _ = x + x; // growth while the fast path is off
        }
        check(&tape, false);
        tape.set_anomaly_detection(false);
        check(&tape, true);
        let _ = x * x;
        check(&tape, true);
        tape.clear();
        check(&tape, true);
        let _ = tape.var(1.0);
        check(&tape, true);
    }

    /// Every way a recording grows, each followed by the fast path filling the
    /// room it was given: the leaves of `vars` (`push_leaves`), a node with
    /// stored edges (`push_edges`), a sum (`push_with`), a neuron over runs
    /// (`push_neuron_run`), and unary partials growing with the node arrays not.
    #[test]
    fn every_way_of_growing_sets_the_room_and_the_fast_path_fills_it() {
        use crate::Activation;
        /// Records `+` nodes until the node arrays are full (the fast path's
        /// room: no growth), then one more (growth): (I) after each.
        fn fill(tape: &Tape, x: crate::Var<'_>) {
            let cap = tape.capacity();
            while tape.len() < cap {
                let _ = x + x;
                check(tape, true);
            }
            assert_eq!(tape.capacity(), cap, "the fast path used the room, no more");
            let _ = x + x;
            check(tape, true);
            assert!(tape.capacity() > cap);
        }
        let tape = Tape::new();
        let xs = tape.vars(&[0.5; 100]); // push_leaves: 100 nodes in one growth
        check(&tape, true);
        fill(&tape, xs[0]);
        while tape.len() < tape.capacity() {
            let _ = xs[0] / xs[1]; // push_edges, filling the node arrays
            check(&tape, true);
        }
        let _ = xs[0] / xs[1]; // push_edges grows them
        check(&tape, true);
        fill(&tape, xs[0]);
        while tape.len() < tape.capacity() {
            let _ = xs[..3].iter().sum::<crate::Var<'_>>();
            check(&tape, true);
        }
        let _ = xs[..3].iter().sum::<crate::Var<'_>>(); // push_with grows them
        check(&tape, true);
        fill(&tape, xs[0]);
        let w = tape.vars(&[0.25; 4]);
        let x = tape.vars(&[0.75; 4]);
        let b = tape.var(0.1);
        while tape.len() < tape.capacity() {
            let _ = crate::Var::neuron(&w, &x, b, Activation::Tanh);
            check(&tape, true);
        }
        let _ = crate::Var::neuron(&w, &x, b, Activation::Tanh); // grows them
        check(&tape, true);
        fill(&tape, xs[0]);
        // Unary partials full, node arrays not: the fast path declines, the slow
        // one grows the unary partials alone, and the room stays the length.
        let tape = Tape::new();
        let x = tape.vars(&[0.5; 100])[0];
        let nodes = tape.capacity();
        for _ in 0..nodes - 100 {
            let _ = x.sin();
            check(&tape, true);
        }
        assert_eq!(tape.capacity(), nodes);
    }

    /// Everything a node's push changes, bit for bit.
    #[allow(clippy::type_complexity)]
    fn state(
        rec: &Recording,
    ) -> (
        [usize; 4],
        [bool; 2],
        Vec<u64>,
        Vec<Op>,
        Vec<[u32; 2]>,
        Vec<u64>,
    ) {
        (
            [rec.len, rec.unary_len, rec.edge_len, rec.leading_leaves],
            [rec.has_select, rec.non_finite_partial],
            rec.values().iter().map(|v| v.to_bits()).collect(),
            rec.ops().to_vec(),
            rec.args.first(rec.len).to_vec(),
            rec.unary_partials().iter().map(|p| p.to_bits()).collect(),
        )
    }

    /// Two recordings given the same nodes: `push_fast` on one, `push` on the
    /// other.
    struct Pair {
        fast: Recording,
        slow: Recording,
    }

    impl Pair {
        fn new() -> Self {
            let mut pair = Pair {
                fast: Recording::default(),
                slow: Recording::default(),
            };
            // Room written for 64 nodes and unary partials (`reserve` only
            // allocates), so the fast path has room from the first node.
            pair.fast.reserve_parts(64, 64, 0, true).unwrap();
            pair.slow.reserve_parts(64, 64, 0, true).unwrap();
            pair
        }

        fn push<const N: usize>(
            &mut self,
            op: Op,
            value: f64,
            operands: [u32; N],
            partials: [f64; N],
        ) -> u32 {
            let i = self
                .fast
                .push_fast(op, value, operands, partials)
                .unwrap_or_else(|| panic!("{op:?}: the fast path declined"));
            assert_eq!(i, self.slow.push(op, value, operands, partials));
            assert_eq!(state(&self.fast), state(&self.slow), "after {op:?}");
            i
        }

        fn value(&self, i: u32) -> f64 {
            self.fast.values()[i as usize]
        }

        fn mul(&mut self, a: u32, b: u32) -> u32 {
            let (va, vb) = (self.value(a), self.value(b));
            self.push(Op::Mul, va * vb, [a, b], [vb, va])
        }
    }

    /// The fast path's node is `push`'s, bit for bit, for every layout it takes
    /// and every flag: compared after each node (the flags only ever turn on, so
    /// each is first set in a fresh pair).
    #[test]
    fn the_fast_path_records_what_push_records_bit_for_bit() {
        let mut p = Pair::new();
        let a = p.push(Op::Leaf, 1.5, [], []); // leading leaves
        let b = p.push(Op::Const, -2.0, [], []);
        p.push(Op::Add, -0.5, [a, b], [1.0, 1.0]);
        p.push(Op::Sub, 3.5, [a, b], [1.0, -1.0]);
        let m = p.mul(a, b);
        p.push(Op::Add, -6.0, [m, m], [1.0, 1.0]); // an operand twice
        p.push(Op::Leaf, 7.0, [], []); // a leaf after the leading ones
        p.push(Op::Sin, 1.5f64.sin(), [a], [1.5f64.cos()]);
        p.push(Op::Relu, 1.5, [a], [1.0]); // a select op: has_select
        p.mul(m, m);
        // A mul with an infinite operand: non_finite_partial.
        let mut p = Pair::new();
        let a = p.push(Op::Leaf, 2.0, [], []);
        let inf = p.push(Op::Leaf, f64::INFINITY, [], []);
        p.mul(a, a);
        p.mul(a, inf);
        // A mul whose value overflows (flagged too, as push does).
        let mut p = Pair::new();
        let big = p.push(Op::Leaf, 1e300, [], []);
        p.mul(big, big);
        // A unary op with an infinite partial, then a NaN one.
        let mut p = Pair::new();
        let z = p.push(Op::Leaf, 0.0, [], []);
        p.push(Op::Ln, f64::NEG_INFINITY, [z], [f64::INFINITY]);
        p.push(Op::Sqrt, f64::NAN, [z], [f64::NAN]);
        // Signum, a select op with a zero partial.
        let mut p = Pair::new();
        let z = p.push(Op::Leaf, -3.0, [], []);
        p.push(Op::Signum, -1.0, [z], [0.0]);
        // A constant first, then leaves: all leading.
        let mut p = Pair::new();
        p.push(Op::Const, 1.0, [], []);
        p.push(Op::Leaf, 2.0, [], []);
    }

    /// Where the fast path declines it writes nothing: no room (a new recording,
    /// a full one, the fast path off), no unary partial slot, stored edges.
    #[test]
    fn the_fast_path_declines_without_writing() {
        fn declines<const N: usize>(
            rec: &mut Recording,
            op: Op,
            operands: [u32; N],
            partials: [f64; N],
        ) {
            let before = state(rec);
            assert_eq!(rec.push_fast(op, 1.0, operands, partials), None, "{op:?}");
            assert!(state(rec) == before, "{op:?} declined but wrote");
            rec.check_invariant().unwrap();
        }
        let mut rec = Recording::default();
        declines(&mut rec, Op::Leaf, [], []); // room 0
                                              // Node arrays grown, unary partials not (leaves grow only the first).
        assert_eq!(rec.push_leaves(&[1.0, 2.0]), 0);
        declines(&mut rec, Op::Sin, [0], [1.0]);
        declines(&mut rec, Op::Div, [0, 1], [0.5, -0.25]); // stored edges
        declines(&mut rec, Op::Sum, [0, 1], [1.0, 1.0]);
        rec.set_fast_path(false);
        declines(&mut rec, Op::Leaf, [], []);
        declines(&mut rec, Op::Add, [0, 1], [1.0, 1.0]);
        rec.set_fast_path(true);
        let cap = rec.capacity();
        while rec.len() < cap {
            assert!(rec.push_fast(Op::Add, 3.0, [0, 1], [1.0, 1.0]).is_some());
        }
        declines(&mut rec, Op::Add, [0, 1], [1.0, 1.0]); // full: no room
        declines(&mut rec, Op::Leaf, [], []);
    }

    /// Every way a node is written (the fast path, `push`, the leaves, stored
    /// edges) puts its slots `SLOT_PAD` entries into the vector, and every
    /// reader (the sweep's `first_nodes`, `edges`) finds them there: a write
    /// or a read that forgot the pad would read another node's slots or the
    /// pad's zeros.
    #[test]
    fn slots_lie_a_pad_into_their_vector_for_every_writer_and_reader() {
        use super::{Slots, SLOT_PAD};
        let mut rec = Recording::default();
        assert_eq!(rec.push_leaves(&[2.0, 3.0]), 0);
        let mul = rec.push(Op::Mul, 6.0, [0, 1], [3.0, 2.0]);
        let add = rec.push_fast(Op::Add, 8.0, [mul, 0], [1.0, 1.0]).unwrap();
        let sin = rec.push(Op::Sin, 8f64.sin(), [add], [8f64.cos()]);
        let div = rec.push(Op::Div, 2.0 / 3.0, [0, 1], [1.0 / 3.0, -2.0 / 9.0]);
        rec.check_invariant().unwrap();
        let slots: &Slots = &rec.args;
        let first = slots.first(rec.len());
        assert_eq!(
            first.as_ptr() as usize - slots.0.as_ptr() as usize,
            SLOT_PAD * std::mem::size_of::<[u32; 2]>(),
            "node 0's slots lie after the pad"
        );
        assert_eq!(first[..2], [[0, 0], [0, 0]], "leaves");
        assert_eq!(first[mul as usize], [0, 1]);
        assert_eq!(first[add as usize], [mul, 0]);
        assert_eq!(first[sin as usize], [add, 0], "operand, unary partial 0");
        assert_eq!(first[div as usize], [0, 2], "edge run from 0, 2 edges");
        assert!(
            slots.0[..SLOT_PAD].iter().all(|&s| s == [0, 0]),
            "pad untouched"
        );
        let (_, swept, _) = rec.first_nodes(rec.len());
        assert_eq!(swept, first);
        let edges: Vec<_> = rec.edges(add as usize).collect();
        assert_eq!(edges, [(mul, 1.0), (0, 1.0)]);
        let edges: Vec<_> = rec.edges(div as usize).collect();
        assert_eq!(edges, [(0, 1.0 / 3.0), (1, -2.0 / 9.0)]);
        let edges: Vec<_> = rec.edges(mul as usize).collect();
        assert_eq!(edges, [(0, 3.0), (1, 2.0)]);
    }

    /// `Slots` empty (nothing allocated) and grown: its length and capacity
    /// leave the pad out, reads past the length find nothing, and a refused
    /// growth's shrink gives the capacity before back.
    #[test]
    fn slots_count_without_the_pad_and_read_nothing_past_their_length() {
        use super::{Slots, SLOT_PAD};
        let mut slots = Slots::default();
        assert_eq!((slots.len(), slots.capacity(), slots.bytes()), (0, 0, 0));
        assert!(slots.first(0).is_empty());
        assert!(slots.range_mut(0, 0).is_empty());
        assert!(slots.get_mut(0).is_none());
        slots.grow_to(0);
        assert_eq!(slots.0.len(), 0, "no pad for no slots");
        slots.try_reserve_to(10).unwrap();
        assert!(slots.capacity() >= 10 && slots.0.capacity() >= SLOT_PAD + 10);
        slots.grow_to(3);
        assert_eq!((slots.len(), slots.0.len()), (3, SLOT_PAD + 3));
        slots.range_mut(1, 3).copy_from_slice(&[[1, 2], [3, 4]]);
        *slots.get_mut(0).unwrap() = [5, 6];
        assert!(slots.get_mut(3).is_none());
        assert_eq!(slots.first(3), [[5, 6], [1, 2], [3, 4]]);
        assert_eq!((slots[0], slots[2]), ([5, 6], [3, 4]));
        slots.grow_to(2);
        assert_eq!(slots.len(), 3, "grow_to never shortens");
        let cap = slots.capacity();
        slots.try_reserve_to(cap + 100).unwrap();
        slots.shrink_to(cap);
        assert_eq!(slots.capacity(), cap);
        let past = catch_unwind(AssertUnwindSafe(|| slots.first(4).len()));
        assert!(past.is_err(), "first(4) of 3 slots");
        let past = catch_unwind(AssertUnwindSafe(|| slots[3]));
        assert!(past.is_err(), "slot 3 of 3");
        let empty = Slots::default();
        assert!(catch_unwind(AssertUnwindSafe(|| empty.first(1).len())).is_err());
    }
}
