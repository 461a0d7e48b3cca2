//! The tape: a flat arena of nodes in recording order.
//!
//! Every operation of a forward pass appends one node. A node is appended after its
//! operands, so the recording order is a topological order of the graph, and the
//! reverse sweep in [`crate::backward`] is a plain backwards loop over the arena.
//!
//! The arena is a structure of arrays. Per node: its value, its [`Op`], and two
//! `u32` slots whose meaning the op gives: `a + b`, `a − b` and `a · b` keep their
//! two operands, their local partials implied by the op (1 and 1, 1 and −1, each
//! operand's value); a unary op keeps its operand and where its one stored partial
//! is; every other op where its run of stored edges (operand index and local
//! partial ∂node/∂operand) starts, and its length. Nothing is allocated per node:
//! the arrays grow 1.5-fold and keep their memory across [`Tape::clear`].
//!
//! One kind of node keeps its edges in a shorter form, a *neuron over runs*: a fused
//! neuron whose weights are consecutive nodes and whose inputs are consecutive nodes
//! (a layer of an MLP: its weights made together by [`Tape::vars`], its inputs the
//! previous layer). Its operands are two runs, each given by where it starts, and
//! its local partials are `a′(z)` times values already on the tape. Every edge is
//! still there to read ([`Tape::edges`], the graph view): it is just not copied.

use std::borrow::Cow;
use std::cell::{Cell, Ref, RefCell};
use std::collections::BTreeMap;
use std::sync::Arc;

mod arena;
mod cell;
mod run;

pub(crate) use arena::{Full, Recording, FULL, MAX_EDGES, MAX_NODES};
use cell::ArenaCell;
pub(crate) use run::{partial as neuron_partial, NeuronRun};
use std::fmt;

use smallvec::SmallVec;

use crate::op::Layout;
pub use crate::op::Op;

/// A recording of every operation of a forward pass, ready to be swept backwards.
///
/// Make variables with [`Tape::var`]; every operation on them appends a node. Call
/// [`Var::backward`](crate::Var::backward) on an output for its [`Gradients`](crate::Gradients). The tape is
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
    /// Labels given in bulk and not yet written into `labels` and `net_labels`
    /// (an `nn` binding's names: a training step that reads no label formats
    /// and inserts none), in the order they were given; written by
    /// [`Tape::settle_labels`] before any label is read.
    deferred_labels: RefCell<Vec<Deferred>>,
    /// The index from which a new node takes the slow path after recording:
    /// [`FULL`] (only a failed push) while anomaly detection is off, 0 (every node,
    /// to be checked for a non-finite value or partial) while it is on. One
    /// comparison per node covers both.
    slow_from: SlowFrom,
    /// The first node found non-finite while detection was on.
    first_anomaly: Cell<Option<u32>>,
    /// Whether the ops with an `f64` constant keep it in `Recording::constants`,
    /// for [`crate::replay`] (see [`Tape::set_keep_constants`]).
    keep_constants: Cell<bool>,
}

/// Labels given and not yet written into the label maps (see
/// [`Tape::defer_labels`]).
enum Deferred {
    /// `names[k]` labels node `first + k`. (Only `nn` defers runs.)
    #[cfg_attr(not(feature = "nn"), allow(dead_code))]
    Run {
        first: u32,
        names: Arc<[Cow<'static, str>]>,
        net: bool,
    },
    /// A label given while others were deferred, kept behind them.
    One {
        index: u32,
        label: Cow<'static, str>,
        net: bool,
    },
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

    /// An empty tape with room for `nodes` leaves, `+`, `−`, `·` and one-operand
    /// nodes before it allocates. The ops that store their edges (`/`, and `pow`,
    /// `max`, `min`, `atan2`, `hypot` of two `Var`s, `mul_add`, logsumexp, sums,
    /// fused neurons, losses) keep them apart, in arrays that grow as they are
    /// recorded. See [`Tape::reserve`] for the bytes.
    ///
    /// # Panics
    /// If `nodes` is more than a tape can hold (`u32::MAX` nodes; see
    /// [`Tape::max_nodes`]), or if the allocator refuses the memory (a panic that
    /// says how many bytes were asked for).
    ///
    /// ```
    /// let tape = chainrule::Tape::with_capacity(1_000);
    /// assert!(tape.capacity() >= 1_000);
    /// let bytes = tape.memory_bytes();
    /// let x = tape.var(2.0);
    /// for _ in 0..400 {
    ///     let _ = x.sin() * x; // two nodes of one and two operands
    /// }
    /// assert_eq!(tape.memory_bytes(), bytes);
    /// let _ = x / x; // a division stores its two edges: they need room
    /// assert!(tape.memory_bytes() > bytes);
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

    /// Makes room for `nodes` more leaves, `+`, `−`, `·` and one-operand nodes.
    /// The ops that store their edges (`/`, and `pow`, `max`, `min`, `atan2`,
    /// `hypot` of two `Var`s, `mul_add`, logsumexp, sums, fused neurons, losses)
    /// keep them apart, in arrays that grow as they are recorded.
    ///
    /// # Complexity
    /// Allocates 25 bytes a node (17 for the value, op and operands, 8 for a
    /// unary op's partial), and 576 bytes once a tape (the slots' pad, see
    /// `SLOT_PAD` in the source), and writes none of them: the tape writes its room
    /// as nodes are recorded (1.5-fold at a time, within the allocation), so
    /// an operating system that commits memory lazily (Linux) commits it only
    /// then. O(1) time besides the allocator's.
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
        // comes after leaving it (see `tape::cell`).
        let (len, max_nodes) = self.recording.read(|rec| (rec.len(), rec.max_nodes()));
        if len.checked_add(nodes).is_none_or(|need| need > max_nodes) {
            reserve_past_limit(nodes, len, max_nodes);
        }
        match self.recording.write(|rec| rec.reserve(nodes, 0)) {
            Ok(()) => {}
            Err(Full::Limit) => tape_full(max_nodes),
            Err(Full::Memory(bytes)) => out_of_memory(bytes, len + nodes),
        }
    }

    /// How many nodes the tape's node arrays hold without allocating (value, op
    /// and operand slots). A unary node also takes a slot in the unary partials
    /// ([`Tape::reserve`] and [`Tape::with_capacity`] make room there too), and
    /// an n-ary node room for its edges, which grow apart (see
    /// [`Tape::memory_bytes`] for the bytes held).
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

    /// Bytes of memory the tape's arena holds now (its arrays' capacities): the
    /// bytes allocated, not those resident, as a reservation is written only as
    /// nodes are recorded (see [`Tape::reserve`]). The adjoint buffers of
    /// [`Gradients`](crate::Gradients) are not counted.
    ///
    /// ```
    /// let tape = chainrule::Tape::with_capacity(100);
    /// assert!(tape.memory_bytes() >= 100 * 17);
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
    /// # Complexity
    /// O(nodes): the edges of `+`, `−`, `·` and unary ops are implied by their
    /// ops and counted here, so recording them costs no counter.
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
    /// Takes `&mut self`, so no [`Var`](crate::Var) or [`Gradients`](crate::Gradients) of the
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
        if !self.labels.get_mut().is_empty()
            || !self.net_labels.get_mut().is_empty()
            || !self.deferred_labels.get_mut().is_empty()
        {
            self.clear_labels();
        }
        self.first_anomaly.set(None);
    }

    /// The labels' part of [`Tape::clear`], out of line: a training loop that
    /// labels nothing pays three tests a step for it.
    #[cold]
    #[inline(never)]
    fn clear_labels(&mut self) {
        self.labels.get_mut().clear();
        self.net_labels.get_mut().clear();
        self.deferred_labels.get_mut().clear();
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
        self.recording.write(|rec| rec.set_fast_path(!on));
    }

    /// Makes every op with an `f64` constant keep it on the side (off by default),
    /// as [`compile`](Tape::compile) needs to replay the recording: the constant of
    /// `x + c`, `x - c`, `c - x`, `x / c`, `c / x`, `leaky_relu`'s α, `log`'s base,
    /// `max`, `min` and `hypot` against an `f64`, `clamp`'s bounds, the inputs of
    /// [`Var::neuron_const`](crate::Var::neuron_const) and
    /// [`Var::weighted_sum_const`](crate::Var::weighted_sum_const) and the targets of the fused losses. (`x * c` needs
    /// none: its partial is `c`; `powi`, `powf` and `atan2` against an `f64` keep
    /// theirs always.) While off, each such op pays one predictable branch.
    ///
    /// Takes effect for the nodes recorded after the call; it survives
    /// [`clear`](Tape::clear). [`Tape::for_replay`] makes a tape with it on.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// tape.set_keep_constants(true);
    /// let x = tape.var(1.0);
    /// let y = x + 2.0;
    /// assert!(tape.compile(&[y]).is_ok());
    /// ```
    pub fn set_keep_constants(&self, on: bool) {
        self.keep_constants.set(on);
    }

    /// Whether the ops with an `f64` constant keep it for replay (see
    /// [`set_keep_constants`](Tape::set_keep_constants)).
    ///
    /// ```
    /// assert!(!chainrule::Tape::new().keeps_constants());
    /// assert!(chainrule::Tape::for_replay().keeps_constants());
    /// ```
    pub fn keeps_constants(&self) -> bool {
        self.keep_constants.get()
    }

    /// An empty tape that keeps every constant a replay needs
    /// ([`set_keep_constants(true)`](Tape::set_keep_constants)): record on it, then
    /// [`compile`](Tape::compile).
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(3.0);
    /// let y = (x - 1.0).square();
    /// let mut program = tape.compile(&[y]).unwrap();
    /// program.inputs_mut()[0] = 5.0;
    /// program.forward();
    /// assert_eq!(program.output(0), 16.0);
    /// ```
    pub fn for_replay() -> Self {
        let tape = Self::new();
        tape.set_keep_constants(true);
        tape
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

    /// Appends one leaf per value, with a single capacity check; returns the first
    /// index.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn push_leaves(&self, values: &[f64]) -> u32 {
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
        match len {
            0 => panic!(
                "chainrule: no node #{index} on this tape: it holds no nodes; a cleared \
                 tape forgets every node"
            ),
            1 => panic!("chainrule: no node #{index} on this tape: it holds 1 node (#0)"),
            _ => panic!(
                "chainrule: no node #{index} on this tape: it holds {len} nodes (#0 to #{})",
                len - 1
            ),
        }
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

    /// The label of node `index`, if one was given with [`Var::named`](crate::Var::named)
    /// or by an `nn` binding (`nn::Mlp::bind` labels what it
    /// records); `None` for an unlabelled node and for an index past the end (a
    /// label lookup never panics). The last label given to a node is the one it
    /// has.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let y = tape.var(1.0).named("w1");
    /// assert_eq!(tape.label(y.index()).as_deref(), Some("w1"));
    /// ```
    pub fn label(&self, index: usize) -> Option<String> {
        let index = u32::try_from(index).ok()?;
        self.label_map().get(&index).map(|label| label.to_string())
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
        // Not `unwrap_or_else`: a closure would not pass the caller's line on.
        match self.label(index) {
            Some(label) => label,
            None => format!("{}#{index}", self.op(index)),
        }
    }

    pub(crate) fn set_label(&self, index: u32, label: Cow<'static, str>) {
        self.give_label(index, label, false);
    }

    /// Labels node `index` (its net's label if `net`), after every label given
    /// before it: behind the deferred ones while there are any, so that the
    /// last label given to a node is the one it keeps.
    fn give_label(&self, index: u32, label: Cow<'static, str>, net: bool) {
        let mut deferred = self.deferred_labels.borrow_mut();
        if deferred.is_empty() {
            let map = if net { &self.net_labels } else { &self.labels };
            map.borrow_mut().insert(index, label);
        } else {
            deferred.push(Deferred::One { index, label, net });
        }
    }

    /// Labels nodes `first`, `first + 1`, … with `names` in order (their nets'
    /// labels if `net`), as if each were given with [`Var::named`](crate::Var::named)
    /// now, but with no string copied until a label is read: O(1).
    ///
    /// # Panics
    /// If the nodes are not all on the tape (a bug of the caller's, inside the
    /// crate).
    #[cfg_attr(not(feature = "nn"), allow(dead_code))] // only `nn` defers labels
    pub(crate) fn defer_labels(&self, first: u32, names: Arc<[Cow<'static, str>]>, net: bool) {
        assert!(
            first as usize + names.len() <= self.len(),
            "chainrule: deferred labels past the end of the tape"
        );
        if !names.is_empty() {
            self.deferred_labels
                .borrow_mut()
                .push(Deferred::Run { first, names, net });
        }
    }

    /// Writes the deferred labels into the label maps, in the order they were
    /// given. Every reader of a label map goes through [`Tape::label_map`] or
    /// [`Tape::net_label_map`], which call this first.
    fn settle_labels(&self) {
        if self.deferred_labels.borrow().is_empty() {
            return;
        }
        self.settle_deferred();
    }

    #[cold]
    #[inline(never)]
    fn settle_deferred(&self) {
        let deferred = std::mem::take(&mut *self.deferred_labels.borrow_mut());
        let mut labels = self.labels.borrow_mut();
        let mut net_labels = self.net_labels.borrow_mut();
        for entry in deferred {
            match entry {
                Deferred::Run { first, names, net } => {
                    let map = if net { &mut *net_labels } else { &mut *labels };
                    for (index, name) in (first..).zip(names.iter()) {
                        map.insert(index, name.clone());
                    }
                }
                Deferred::One { index, label, net } => {
                    let map = if net { &mut *net_labels } else { &mut *labels };
                    map.insert(index, label);
                }
            }
        }
    }

    /// The labels by node, every deferred one written in first.
    pub(crate) fn label_map(&self) -> Ref<'_, BTreeMap<u32, Cow<'static, str>>> {
        self.settle_labels();
        self.labels.borrow()
    }

    /// The labels of fused neurons' nets by node, every deferred one written in
    /// first.
    pub(crate) fn net_label_map(&self) -> Ref<'_, BTreeMap<u32, Cow<'static, str>>> {
        self.settle_labels();
        self.net_labels.borrow()
    }

    /// The label of the weighted sum inside the fused neuron at `index`, if one
    /// was given with [`Var::named_net`](crate::Var::named_net) or by an `nn`
    /// binding.
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
        self.net_label_map()
            .get(&index)
            .map(|label| label.to_string())
    }

    pub(crate) fn set_net_label(&self, index: u32, label: Cow<'static, str>) {
        self.give_label(index, label, true);
    }

    /// Appends one node with `N` operands: the single entry point of recording
    /// for ordinary (fixed-arity) ops.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn push<const N: usize>(
        &self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
    ) -> u32 {
        if op.layout_of() == Layout::Edges {
            // Stored edges: their own checks, inlined as before.
            let index = self
                .recording
                .write(|rec| rec.push(op, value, operands, partials));
            self.after_push(index);
            return index;
        }
        // The fast path (no growth, no anomaly check) or, if it declines, the
        // slow one: the `None` it returns is a constant in each of its branches,
        // so after inlining the two tests are one.
        match self
            .recording
            .write(|rec| rec.push_fast(op, value, operands, partials))
        {
            Some(index) => index,
            // Operands and partials as scalars, in registers: an array argument
            // is passed in memory, and the stores to it would stay on the fast
            // path (`N` is a constant: the match folds).
            None => match (N, operands.first(), partials.first()) {
                (0, _, _) => self.push_slow_0(op, value),
                (1, Some(&a), Some(&pa)) => self.push_slow_1(op, value, a, pa),
                (2, Some(&a), Some(&pa)) => {
                    self.push_slow_2(op, value, a, operands[N - 1], pa, partials[N - 1])
                }
                _ => self.push_slow(op, value, operands, partials),
            },
        }
    }

    /// [`Tape::push_slow`] of a leaf.
    #[inline(never)]
    #[track_caller]
    fn push_slow_0(&self, op: Op, value: f64) -> u32 {
        self.push_slow(op, value, [], [])
    }

    /// [`Tape::push_slow`] of a one-operand node.
    #[inline(never)]
    #[track_caller]
    fn push_slow_1(&self, op: Op, value: f64, a: u32, pa: f64) -> u32 {
        self.push_slow(op, value, [a], [pa])
    }

    /// [`Tape::push_slow`] of a two-operand node.
    #[inline(never)]
    #[track_caller]
    fn push_slow_2(&self, op: Op, value: f64, a: u32, b: u32, pa: f64, pb: f64) -> u32 {
        self.push_slow(op, value, [a, b], [pa, pb])
    }

    /// [`Tape::push`]'s slow path: growing the arena, the panic for a full tape,
    /// the anomaly check.
    #[inline]
    #[track_caller]
    fn push_slow<const N: usize>(
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

    /// Appends one node of the edges layout with `N` operands given in
    /// registers; `check`: whether a partial may be NaN or infinite.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn push_edges<const N: usize>(
        &self,
        op: Op,
        value: f64,
        operands: [u32; N],
        partials: [f64; N],
        check: bool,
    ) -> u32 {
        let index = self
            .recording
            .write(|rec| rec.push_edges(op, value, operands, partials, check));
        self.after_push(index);
        index
    }

    /// Appends one n-ary node with `k` operands, written by `fill` into the node's
    /// edge slots (operands, partials). `fill` must not call any method of this
    /// tape (it runs inside [`ArenaCell::write`]); it only copies plain data.
    #[inline(always)]
    #[track_caller]
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

    /// Keeps constant `c` of node `node` (just recorded) for a recorded
    /// backward pass (see `Recording::constants`).
    #[inline(always)]
    pub(crate) fn keep_constant(&self, node: u32, c: f64) {
        self.recording.write(|rec| rec.constants.push((node, c)));
    }

    /// Keeps constant `c` of node `node` (just recorded) if the tape keeps
    /// constants for replay ([`Tape::set_keep_constants`]): one predictable branch
    /// when it does not.
    #[inline(always)]
    pub(crate) fn keep_for_replay(&self, node: u32, c: f64) {
        if self.keep_constants.get() {
            self.keep_constant(node, c);
        }
    }

    /// Whether the tape keeps constants for replay; see [`Tape::set_keep_constants`].
    #[inline(always)]
    pub(crate) fn keeps_for_replay(&self) -> bool {
        self.keep_constants.get()
    }

    /// The constant kept for node `node`, if any.
    pub(crate) fn kept_constant(&self, node: u32) -> Option<f64> {
        self.recording.read(|rec| rec.constant(node))
    }

    /// Every constant kept for node `node`, in the order kept.
    pub(crate) fn kept_constants(&self, node: u32) -> SmallVec<[f64; 8]> {
        self.recording
            .read(|rec| rec.constants_of(node).iter().map(|&(_, c)| c).collect())
    }

    /// Appends a [`NeuronRun`]: one node, no stored edges.
    #[inline(always)]
    #[track_caller]
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
        "chainrule: could not allocate {bytes} bytes for a tape of {nodes} nodes; \
         ask for fewer nodes"
    )
}

/// Panics for a push past the limit, after the arena cell has been left.
#[cold]
#[inline(never)]
#[track_caller]
fn tape_full(max_nodes: usize) -> ! {
    panic!(
        "chainrule: the tape is full: it holds at most {max_nodes} nodes and {MAX_EDGES} stored \
         edges (indices are u32); clear it, or split the computation over several tapes"
    )
}
