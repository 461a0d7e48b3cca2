//! The subgraph an explanation works on, and the factor graph over the quantities
//! it shows.
//!
//! [`Subgraph::build`] keeps only the nodes between the output `y` and the input
//! `x`: the ancestors of `y` (found by a reverse scan from `y`, like the sweep)
//! that reach `x` (found by a forward scan from `x`). Parallel edges (`x * x`) are
//! merged into one, their partials summed, so that every edge carries the true
//! partial derivative between its two nodes. A fused neuron whose weighted sum is
//! shown gets a node for it, `net`, between the neuron and its operands.
//!
//! [`FactorGraph::build`] then keeps only the *shown* nodes: an edge `a → b` of
//! the factor graph sums, over every path from `a` to `b` whose inner nodes are
//! not shown, the product of the partials (a local reverse sweep from `a`). That
//! is ∂a/∂b with the other shown quantities held fixed, and the sum over the
//! factor graph's paths of their products is ∂y/∂x again (vertex elimination).
//!
//! Both are iterative (explicit stacks and heaps) and take memory proportional to
//! the subgraph, plus 2 bits per node recorded between `x` and `y` for the scans.

use std::collections::BinaryHeap;

use smallvec::SmallVec;

use crate::backward::is_masked;
use crate::explain::mask_bit;
use crate::tape::{Op, Recording};

/// A bitset over the tape indices `lo..lo + len`.
struct Bits {
    lo: usize,
    words: Vec<u64>,
}

impl Bits {
    fn new(lo: usize, len: usize) -> Self {
        Bits {
            lo,
            words: vec![0; len.div_ceil(64)],
        }
    }

    #[inline]
    fn get(&self, i: usize) -> bool {
        let k = i - self.lo;
        self.words[k >> 6] >> (k & 63) & 1 == 1
    }

    #[inline]
    fn set(&mut self, i: usize) {
        let k = i - self.lo;
        self.words[k >> 6] |= 1 << (k & 63);
    }
}

/// The bits of a word strictly below bit `upper` (all of them for 64).
#[inline]
fn below(upper: usize) -> u64 {
    if upper >= 64 {
        u64::MAX
    } else {
        (1u64 << upper) - 1
    }
}

/// A neuron's edges split at its weighted sum: `∂out/∂net = a′(z)`, and for each
/// operand `∂net/∂operand` (the partner's value, 1 for the bias).
struct Split {
    derivative: f64,
    net_partials: SmallVec<[f64; 16]>,
}

/// Reads the layout of a fused neuron's edges (`w₀, x₀, w₁, x₁, …, b` with
/// partials `a′·x₀, a′·w₀, …, a′` for a neuron over variables, or `w₀, …, b`
/// for one over constant inputs, as its op says) and splits them at the
/// weighted sum, when the layout is recognised exactly. Over constant inputs,
/// ∂net/∂wᵢ = cᵢ is taken from the constants the tape kept, else recovered as
/// partial / a′ where that is exact; with neither (a′ = 0: a relu neuron at
/// z ≤ 0, a saturated sigmoid), the neuron is not split. (Read as pairs, the
/// zero partials of such a neuron with an even number of weights fit the
/// layout of one over variables, and gave ∂net/∂w₀ the value of w₁.)
fn split_neuron(
    values: &[f64],
    edges: &[(u32, f64)],
    const_inputs: bool,
    kept: &[(u32, f64)],
) -> Option<Split> {
    let &(_, derivative) = edges.last()?;
    let k = edges.len();
    let mut net_partials: SmallVec<[f64; 16]> = SmallVec::with_capacity(k);
    if const_inputs && kept.len() == k - 1 {
        net_partials.extend(kept.iter().map(|&(_, c)| c));
        net_partials.push(1.0);
        return Some(Split {
            derivative,
            net_partials,
        });
    }
    let pairs = !const_inputs
        && k % 2 == 1
        && edges[..k - 1].chunks_exact(2).all(|pair| {
            let (w, dw) = pair[0];
            let (x, dx) = pair[1];
            dw == derivative * values[x as usize] && dx == derivative * values[w as usize]
        });
    if pairs {
        for pair in edges[..k - 1].chunks_exact(2) {
            net_partials.push(values[pair[1].0 as usize]);
            net_partials.push(values[pair[0].0 as usize]);
        }
    } else if const_inputs && derivative != 0.0 && derivative.is_finite() {
        // Constant inputs: ∂net/∂wᵢ = cᵢ, recovered only when exact.
        for &(_, partial) in &edges[..k - 1] {
            let c = partial / derivative;
            if derivative * c != partial {
                return None;
            }
            net_partials.push(c);
        }
    } else {
        return None;
    }
    net_partials.push(1.0);
    Some(Split {
        derivative,
        net_partials,
    })
}

/// One merged edge while it is being built.
struct Merge {
    to: u32,
    unmasked: f64,
    all: f64,
    any_unmasked: bool,
    /// What masks its masked edges ([`mask_bit`]; one op, one bit).
    mask: u8,
}

/// Adds an edge to `merged`, summing the partials of parallel edges: the merged
/// edge is masked only when all of its edges are. `mask` is the edge's
/// [`mask_bit`] where it is masked, else 0.
fn merge_into(merged: &mut SmallVec<[Merge; 4]>, to: u32, partial: f64, mask: u8) {
    let entry = match merged.iter_mut().position(|m| m.to == to) {
        Some(k) => &mut merged[k],
        None => {
            merged.push(Merge {
                to,
                unmasked: 0.0,
                all: 0.0,
                any_unmasked: false,
                mask: 0,
            });
            merged.last_mut().expect("just pushed")
        }
    };
    if mask != 0 {
        entry.mask = mask;
    } else {
        entry.unmasked = if entry.any_unmasked {
            entry.unmasked + partial
        } else {
            partial
        };
        entry.any_unmasked = true;
    }
    entry.all += partial;
}

/// The nodes between an output and an input, with merged edges (see the module
/// documentation). Position 0 is the input, the last position the output; edges
/// run from a position down to lower positions.
pub(crate) struct Subgraph {
    /// The tape index of each position (for a net, its neuron's index).
    pub(crate) index: Vec<u32>,
    /// Whether the position is the weighted sum inside the neuron at `index`.
    pub(crate) net: Vec<bool>,
    start: Vec<u32>,
    to: Vec<u32>,
    partial: Vec<f64>,
    /// Each edge's [`mask_bit`] (what masks it) where it is masked, else 0.
    masked: Vec<u8>,
}

/// The [`mask_bit`] of an edge of `op`, where `masked`; else 0.
fn mask_of(op: Op, masked: bool) -> u8 {
    if masked {
        mask_bit(op)
    } else {
        0
    }
}

impl Subgraph {
    /// Builds the subgraph between `output` and `input` (`input <= output <
    /// rec.len()`); `split(i)` says whether the fused neuron `i` gets a node for
    /// its weighted sum.
    ///
    /// Time: O(nodes recorded between the two / 64 + nodes and edges of the
    /// ancestors of `output` recorded after `input`). Extra space: 2 bits per node
    /// recorded between the two, plus the subgraph.
    pub(crate) fn build(
        rec: &Recording,
        input: usize,
        output: usize,
        split: impl Fn(usize) -> bool,
    ) -> Subgraph {
        let lo = input;
        let mut keep = Bits::new(lo, output - input + 1);
        keep.set(output);
        let mut edges: Vec<(u32, f64)> = Vec::new();
        // Ancestors of the output (at or above the input), in descending order.
        // The word being scanned is carried in a register (as the sweep carries
        // an adjoint): in a chain each node marks the one just below it, and a
        // store and reload per node would make every step wait on the last.
        for w in (0..keep.words.len()).rev() {
            let mut word = keep.words[w];
            if word == 0 {
                continue;
            }
            let base = lo + w * 64;
            let top = (output - base).min(63);
            for bit in (0..=top).rev() {
                if word >> bit & 1 == 0 {
                    continue;
                }
                rec.edges(base + bit).for_each(|(o, _)| {
                    let o = o as usize;
                    if o >= base {
                        word |= 1 << (o - base);
                    } else if o >= lo {
                        keep.set(o);
                    }
                });
            }
            keep.words[w] = word;
        }
        // In ascending order: keep those that reach the input, and give each its
        // position and merged edges. The ancestors bound the kept nodes.
        let ancestors: usize = keep.words.iter().map(|w| w.count_ones() as usize).sum();
        let mut sub = Subgraph {
            index: Vec::with_capacity(ancestors),
            net: Vec::with_capacity(ancestors),
            start: Vec::with_capacity(ancestors + 1),
            to: Vec::with_capacity(ancestors),
            partial: Vec::with_capacity(ancestors),
            masked: Vec::with_capacity(ancestors),
        };
        sub.start.push(0);
        // Kept nodes in the words below each word (filled as the scan reaches it).
        let mut word_rank = vec![0u32; keep.words.len()];
        let mut splits: Vec<u32> = Vec::new(); // neurons split so far, ascending
        let values = rec.values();
        let ops = rec.ops();
        for w in 0..keep.words.len() {
            if w > 0 {
                word_rank[w] = word_rank[w - 1] + keep.words[w - 1].count_ones();
            }
            let base = lo + w * 64;
            // This word, final below the node being placed (carried in a register).
            let mut word = keep.words[w];
            let mut rest = word;
            while rest != 0 {
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                let v = base + bit;
                if v == input {
                    sub.push_node(v as u32, false);
                    continue;
                }
                let kept = |o: usize, word: u64| {
                    if o >= base {
                        word >> (o - base) & 1 == 1
                    } else {
                        o >= lo && keep.get(o)
                    }
                };
                let rank = |o: usize, word: u64| -> u32 {
                    let k = o - lo;
                    let bits = if o >= base { word } else { keep.words[k >> 6] };
                    let r = word_rank[k >> 6] + (bits & below(k & 63)).count_ones();
                    r + splits.partition_point(|&s| s as usize <= o) as u32
                };
                edges.clear();
                edges.extend(rec.edges(v));
                if !edges.iter().any(|&(o, _)| kept(o as usize, word)) {
                    word &= !(1u64 << bit);
                    continue;
                }
                let op = ops[v];
                if edges.len() == 1 && !op.is_neuron() {
                    // One edge (a chain): nothing to merge.
                    let (o, partial) = edges[0];
                    let to = rank(o as usize, word);
                    sub.push_node(v as u32, false);
                    sub.to.push(to);
                    sub.partial.push(partial);
                    sub.masked
                        .push(mask_of(op, is_masked(op, partial, partial)));
                    *sub.start.last_mut().expect("started") = sub.to.len() as u32;
                    continue;
                }
                let last = edges.last().map_or(0.0, |e| e.1);
                let mut merged: SmallVec<[Merge; 4]> = SmallVec::new();
                let split_here = if op.is_neuron() && split(v) {
                    let const_inputs = matches!(
                        op,
                        Op::SigmoidNeuronConst | Op::TanhNeuronConst | Op::ReluNeuronConst
                    );
                    split_neuron(values, &edges, const_inputs, rec.constants_of(v as u32))
                } else {
                    None
                };
                for (slot, &(o, partial)) in edges.iter().enumerate() {
                    let o = o as usize;
                    if kept(o, word) {
                        let to = rank(o, word);
                        match &split_here {
                            Some(s) => merge_into(&mut merged, to, s.net_partials[slot], 0),
                            None => {
                                let mask = mask_of(op, is_masked(op, partial, last));
                                merge_into(&mut merged, to, partial, mask)
                            }
                        }
                    }
                }
                if let Some(s) = split_here {
                    // The net first (below its neuron), then the neuron with one
                    // edge to it.
                    sub.push_node(v as u32, true);
                    sub.push_edges(&merged);
                    splits.push(v as u32);
                    let net_position = sub.index.len() as u32 - 1;
                    sub.push_node(v as u32, false);
                    let masked = mask_of(
                        op,
                        matches!(op, Op::ReluNeuron | Op::ReluNeuronConst) && s.derivative == 0.0,
                    );
                    sub.to.push(net_position);
                    sub.partial.push(s.derivative);
                    sub.masked.push(masked);
                    *sub.start.last_mut().expect("started") = sub.to.len() as u32;
                } else {
                    sub.push_node(v as u32, false);
                    sub.push_edges(&merged);
                }
            }
            keep.words[w] = word;
        }
        sub
    }

    fn push_node(&mut self, index: u32, net: bool) {
        self.index.push(index);
        self.net.push(net);
        self.start.push(self.to.len() as u32);
    }

    /// Sets the edges of the node just pushed.
    fn push_edges(&mut self, merged: &[Merge]) {
        for m in merged {
            self.to.push(m.to);
            if m.any_unmasked {
                self.partial.push(m.unmasked);
                self.masked.push(0);
            } else {
                self.partial.push(m.all);
                self.masked.push(m.mask);
            }
        }
        *self.start.last_mut().expect("started") = self.to.len() as u32;
    }

    /// The number of positions.
    pub(crate) fn len(&self) -> usize {
        self.index.len()
    }

    /// The merged edges of position `p`: (lower position, partial, mask), the
    /// mask being what masks the edge ([`mask_bit`]), 0 where it is not masked.
    pub(crate) fn edges(&self, p: usize) -> impl Iterator<Item = (usize, f64, u8)> + '_ {
        let range = self.start[p] as usize..self.start[p + 1] as usize;
        range.map(move |e| (self.to[e] as usize, self.partial[e], self.masked[e]))
    }
}

/// One edge of the factor graph, from a shown node down to another.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FactorEdge {
    /// The lower node's id (its rank among the shown nodes).
    pub(crate) to: u32,
    /// The factor: the sum of the unmasked paths' products.
    pub(crate) value: f64,
    /// Whether every path it sums has a masked edge (its value is then 0; a
    /// 0 · ∞ below a masked edge makes it an unmasked NaN instead, which is then
    /// shown unfolded).
    pub(crate) masked: bool,
    /// Where it is masked, what masks it: the [`mask_bit`]s of the masked
    /// edges of the paths it sums (every op that passes 0 along them); 0 where
    /// it is not masked.
    pub(crate) mask: u8,
    /// Whether it passes through a node that is not shown.
    pub(crate) folded: bool,
}

/// Adds a factor to `out`, summing it into one to the same node: the sum is
/// masked only when both are. `at[to]` is the position in `out` of the factor
/// to node `to`, `u32::MAX` if none (a lookup, not a scan of `out`: a node
/// with k factors took k² steps, 50 million for a sum over 10,000 paths).
fn merge_factor(out: &mut Vec<FactorEdge>, at: &mut [u32], edge: FactorEdge) {
    let slot = &mut at[edge.to as usize];
    match out.get_mut(*slot as usize).filter(|o| o.to == edge.to) {
        None => {
            *slot = out.len() as u32;
            out.push(edge);
        }
        Some(o) => {
            o.folded |= edge.folded;
            match (o.masked, edge.masked) {
                (true, true) => o.mask |= edge.mask,
                (false, true) => {}
                (true, false) => {
                    o.value = edge.value;
                    o.masked = false;
                    o.mask = 0;
                }
                (false, false) => o.value += edge.value,
            }
        }
    }
}

/// The shown nodes of a subgraph and the factors between them (see the module
/// documentation). Id 0 is the input, the last id the output.
pub(crate) struct FactorGraph {
    /// The subgraph position of each shown node, ascending.
    pub(crate) shown: Vec<u32>,
    /// The tape index of each shown node, and whether it is a net.
    index: Vec<u32>,
    net: Vec<bool>,
    start: Vec<u32>,
    edges: Vec<FactorEdge>,
}

/// Scratch arrays of the local sweeps, one slot per subgraph position.
struct Local {
    adjoint: Vec<f64>,
    /// 0: not reached; 1: reached through masked edges only; 2: through an
    /// unmasked path (`adjoint` holds its sum).
    state: Vec<u8>,
    /// For a node reached through masked edges only, what masks them: the
    /// [`mask_bit`]s of the masked edges on the way to it.
    mask: Vec<u8>,
    origin: Vec<u32>,
    touched: Vec<u32>,
    heap: BinaryHeap<u32>,
}

impl FactorGraph {
    /// The factor graph of `sub` over the positions with `shown[p]` (which must
    /// include the first and the last).
    ///
    /// Time: O(subgraph) when every node is shown; otherwise each shown node's
    /// local sweep visits the hidden nodes below it up to the next shown ones
    /// (O(h log h) for h of them). Extra space: O(subgraph).
    pub(crate) fn build(sub: &Subgraph, shown: &[bool]) -> FactorGraph {
        let n = sub.len();
        let mut id = vec![u32::MAX; n];
        let mut graph = FactorGraph {
            shown: Vec::new(),
            index: Vec::new(),
            net: Vec::new(),
            start: vec![0],
            edges: Vec::new(),
        };
        for p in 0..n {
            if shown[p] {
                id[p] = graph.shown.len() as u32;
                graph.shown.push(p as u32);
                graph.index.push(sub.index[p]);
                graph.net.push(sub.net[p]);
            }
        }
        let mut local: Option<Local> = None;
        // Per shown target: its entry in `out`, while one node's edges are made.
        let mut entry_of = vec![u32::MAX; graph.shown.len()];
        let mut out: Vec<(FactorEdge, u32)> = Vec::new();
        for &a in &graph.shown {
            let a = a as usize;
            out.clear();
            let mut add = |out: &mut Vec<(FactorEdge, u32)>,
                           target: u32,
                           value: Option<f64>,
                           mask: u8,
                           folded: bool,
                           origin: u32| {
                let k = entry_of[target as usize];
                let entry = if k == u32::MAX {
                    entry_of[target as usize] = out.len() as u32;
                    out.push((
                        FactorEdge {
                            to: target,
                            value: 0.0,
                            masked: true,
                            mask: 0,
                            folded: false,
                        },
                        origin,
                    ));
                    out.last_mut().expect("just pushed")
                } else {
                    &mut out[k as usize]
                };
                entry.0.folded |= folded;
                entry.1 = entry.1.min(origin);
                match value {
                    Some(v) => {
                        entry.0.value = if entry.0.masked { v } else { entry.0.value + v };
                        entry.0.masked = false;
                        entry.0.mask = 0;
                    }
                    None if entry.0.masked => entry.0.mask |= mask,
                    None => {}
                }
            };
            let mut hidden = false;
            for (slot, (q, partial, mask)) in sub.edges(a).enumerate() {
                if shown[q] {
                    add(
                        &mut out,
                        id[q],
                        (mask == 0).then_some(partial),
                        mask,
                        false,
                        slot as u32,
                    );
                } else {
                    hidden = true;
                }
            }
            if hidden {
                let l = local.get_or_insert_with(|| Local {
                    adjoint: vec![0.0; n],
                    state: vec![0; n],
                    mask: vec![0; n],
                    origin: Vec::new(), // only when a shown node has several edges
                    touched: Vec::new(),
                    heap: BinaryHeap::new(),
                });
                // Which of `a`'s edges each factor goes through matters only
                // for their order, when `a` has several.
                let track = sub.edges(a).nth(1).is_some();
                if track && l.origin.is_empty() {
                    l.origin = vec![u32::MAX; n];
                }
                // A node reached from the one just above it is visited next by
                // the scan: it is not listed in `touched` (the scanned range is
                // reset as a whole).
                let mut initial = 0;
                for (slot, (q, partial, mask)) in sub.edges(a).enumerate() {
                    if shown[q] {
                        continue;
                    }
                    if l.state[q] == 0 {
                        l.state[q] = 1;
                        initial += 1;
                        if q + 1 != a {
                            l.touched.push(q as u32);
                        }
                    }
                    if track {
                        l.origin[q] = l.origin[q].min(slot as u32);
                    }
                    if mask == 0 {
                        l.adjoint[q] = if l.state[q] == 2 {
                            l.adjoint[q] + partial
                        } else {
                            partial
                        };
                        l.state[q] = 2;
                    } else {
                        l.mask[q] |= mask;
                    }
                }
                // Highest position first: a reverse topological order. Scan the
                // positions downwards while the reached ones are dense (a chain);
                // once mostly skipping, take them from a heap instead.
                let mut remaining = initial;
                let (mut cursor, mut visited, mut skipped) = (a, 0usize, 0usize);
                let mut heap_mode = false;
                while remaining > 0 {
                    let p = if heap_mode {
                        match l.heap.pop() {
                            Some(p) => p as usize,
                            None => break,
                        }
                    } else {
                        cursor -= 1;
                        if l.state[cursor] == 0 {
                            skipped += 1;
                            if skipped > 4 * visited + 256 {
                                heap_mode = true;
                                l.heap.clear();
                                l.heap.extend(
                                    l.touched.iter().copied().filter(|&q| (q as usize) < cursor),
                                );
                            }
                            continue;
                        }
                        cursor
                    };
                    visited += 1;
                    remaining -= 1;
                    let (adjoint, live) = (l.adjoint[p], l.state[p] == 2);
                    let origin = if track { l.origin[p] } else { 0 };
                    for (q, partial, mask) in sub.edges(p) {
                        // A node reached through masked edges only holds exactly
                        // 0: it passes 0 · ∞ = NaN through a non-finite partial
                        // (rule 3 masks one edge, not what lies below it). The
                        // factor is then NaN, and shown unfolded (see
                        // `bad_folds`), where each path says what it passes.
                        let carried = match (mask != 0, live) {
                            (true, _) => None,
                            (false, true) => Some(adjoint * partial),
                            (false, false) => (!partial.is_finite()).then_some(f64::NAN),
                        };
                        // What passes the 0 where nothing is carried: this edge's
                        // op, and what masked every way to `p` if it is not live.
                        let mask = mask | if live { 0 } else { l.mask[p] };
                        if shown[q] {
                            add(&mut out, id[q], carried, mask, true, origin);
                            continue;
                        }
                        if l.state[q] == 0 {
                            l.state[q] = 1;
                            remaining += 1;
                            if heap_mode {
                                l.heap.push(q as u32);
                                l.touched.push(q as u32);
                            } else if q + 1 != p {
                                l.touched.push(q as u32);
                            }
                        }
                        if track {
                            l.origin[q] = l.origin[q].min(origin);
                        }
                        match carried {
                            Some(c) => {
                                l.adjoint[q] = if l.state[q] == 2 { l.adjoint[q] + c } else { c };
                                l.state[q] = 2;
                            }
                            None => l.mask[q] |= mask,
                        }
                    }
                }
                l.heap.clear();
                let reset = |l: &mut Local, q: usize| {
                    l.adjoint[q] = 0.0;
                    l.state[q] = 0;
                    l.mask[q] = 0;
                    if let Some(o) = l.origin.get_mut(q) {
                        *o = u32::MAX;
                    }
                };
                for q in cursor..a {
                    reset(l, q);
                }
                while let Some(q) = l.touched.pop() {
                    reset(l, q as usize);
                }
            }
            // In the order of the operands they go through.
            out.sort_by_key(|&(_, origin)| origin);
            for &(edge, _) in &out {
                entry_of[edge.to as usize] = u32::MAX;
                graph.edges.push(edge);
            }
            graph.start.push(graph.edges.len() as u32);
        }
        graph
    }

    /// The number of shown nodes.
    pub(crate) fn len(&self) -> usize {
        self.shown.len()
    }

    /// The quantity shown node `id` is.
    pub(crate) fn quantity(&self, id: usize) -> crate::explain::Quantity {
        let index = self.index[id] as usize;
        if self.net[id] {
            crate::explain::Quantity::Net(index)
        } else {
            crate::explain::Quantity::Node(index)
        }
    }

    /// The factors from shown node `id` down.
    pub(crate) fn edges(&self, id: usize) -> &[FactorEdge] {
        &self.edges[self.start[id] as usize..self.start[id + 1] as usize]
    }

    /// The factor graph with the shown nodes `remove` (ids, none the first or the
    /// last, each with only unit, unmasked incoming factors) folded into the
    /// factors through them, as if built without them: cheap, on this graph.
    pub(crate) fn without(&self, remove: &[usize]) -> FactorGraph {
        let n = self.len();
        let mut removed = vec![false; n];
        for &id in remove {
            removed[id] = true;
        }
        let mut new_id = vec![u32::MAX; n];
        let mut graph = FactorGraph {
            shown: Vec::with_capacity(n - remove.len()),
            index: Vec::with_capacity(n - remove.len()),
            net: Vec::with_capacity(n - remove.len()),
            start: vec![0],
            edges: Vec::new(),
        };
        // The expanded edges of each removed node, to kept nodes (old ids).
        let mut expanded: Vec<Vec<FactorEdge>> = vec![Vec::new(); n];
        let mut out: Vec<FactorEdge> = Vec::new();
        let mut at = vec![u32::MAX; n];
        for id in 0..n {
            for e in &out {
                at[e.to as usize] = u32::MAX;
            }
            out.clear();
            for e in self.edges(id) {
                let via = e.to as usize;
                if !removed[via] {
                    merge_factor(&mut out, &mut at, *e);
                    continue;
                }
                for f in &expanded[via] {
                    merge_factor(
                        &mut out,
                        &mut at,
                        FactorEdge {
                            to: f.to,
                            value: e.value * f.value,
                            masked: e.masked || f.masked,
                            mask: if e.masked { e.mask } else { 0 }
                                | if f.masked { f.mask } else { 0 },
                            folded: true,
                        },
                    );
                }
            }
            if removed[id] {
                expanded[id] = out.clone();
            } else {
                new_id[id] = graph.shown.len() as u32;
                graph.shown.push(self.shown[id]);
                graph.index.push(self.index[id]);
                graph.net.push(self.net[id]);
                graph.edges.extend(out.iter().map(|e| FactorEdge {
                    to: new_id[e.to as usize],
                    ..*e
                }));
                graph.start.push(graph.edges.len() as u32);
            }
        }
        graph
    }

    /// The subgraph positions of the shown nodes with a factor that folds
    /// hidden nodes into a value that is not a normal number (0, subnormal,
    /// infinite or NaN) and is not masked, when the tape's gradient of the
    /// factor's lower quantity (`gradient(id)`) is not in the same class. Such
    /// a product, formed from the bottom up, overflowed or underflowed where
    /// the sweep, multiplying from the output down, did not; or it holds a
    /// 0 · ∞ that the sweep did not form (it forms one only where a node's whole
    /// adjoint is 0). Shown unfolded, each of its partials is a factor of its
    /// own, multiplied from the top down.
    pub(crate) fn bad_folds(&self, gradient: impl Fn(usize) -> f64) -> Vec<u32> {
        (0..self.len())
            .filter(|&id| {
                self.edges(id).iter().any(|e| {
                    e.folded
                        && !e.masked
                        && !e.value.is_normal()
                        && e.value.classify() != gradient(e.to as usize).classify()
                })
            })
            .map(|id| self.shown[id])
            .collect()
    }

    /// Whether the output's factor straight to the input folds hidden nodes:
    /// written out, it would read `∂y/∂x = … + ∂y/∂x`.
    pub(crate) fn is_tautology(&self) -> bool {
        let last = self.len() - 1;
        last > 0 && self.edges(last).iter().any(|e| e.to == 0 && e.folded)
    }

    /// The shown nodes (not the first or last) to fold as unit factors, given
    /// which of them may be folded (`allowed`, by id): those whose every
    /// incoming factor is exactly 1, unmasked, straight from the node above
    /// (no hidden node between) and 1 by that node's op whatever the values
    /// (`structural(above, below)`, tape indices: `∂E/∂E_o1 = 1` where `E =
    /// E_o1 + E_o2`, not a product's factor that happens to be 1), and whose
    /// folding merges no two paths: no node would then have two factors to
    /// one node, one of them through it (`y = x + s`, `s = sin(x)`: folding
    /// `s` would make `1 + cos x` one factor of two paths). A node whose
    /// folding would merge paths is kept, and so is every other one of the
    /// merge (symmetric: a batch's `loss₁ … lossₙ` over a shared weight are
    /// all kept), until no fold merges.
    ///
    /// Time: O(F) a round for F factors after folding (at most one round per
    /// node kept; usually one).
    pub(crate) fn unit_nodes(
        &self,
        allowed: impl Fn(usize) -> bool,
        structural: impl Fn(u32, u32) -> bool,
    ) -> Vec<usize> {
        let n = self.len();
        let mut fold = vec![false; n];
        let mut used = vec![false; n];
        let mut unit = vec![true; n];
        for a in 0..n {
            for e in self.edges(a) {
                let to = e.to as usize;
                used[to] = true;
                if e.value != 1.0
                    || e.masked
                    || e.folded
                    || self.net[a]
                    || self.net[to]
                    || !structural(self.index[a], self.index[to])
                {
                    unit[to] = false;
                }
            }
        }
        for k in 1..n.saturating_sub(1) {
            fold[k] = used[k] && unit[k] && allowed(k);
        }
        // Each node's factors after folding, as (lower node, the folded node
        // it comes through, or u32::MAX): a lower node met twice is a merge,
        // and every folded node it comes through is kept.
        let mut expanded: Vec<Vec<(u32, u32)>> = vec![Vec::new(); n];
        let mut seen = vec![u32::MAX; n];
        loop {
            let mut keep = Vec::new();
            for id in 0..n {
                let mut list = Vec::new();
                for e in self.edges(id) {
                    let to = e.to as usize;
                    if fold[to] {
                        list.extend(expanded[to].iter().map(|&(t, _)| (t, e.to)));
                    } else {
                        list.push((e.to, u32::MAX));
                    }
                }
                for (k, &(t, _)) in list.iter().enumerate() {
                    let first = seen[t as usize];
                    if first != u32::MAX {
                        for via in [list[first as usize].1, list[k].1] {
                            if via != u32::MAX {
                                keep.push(via as usize);
                            }
                        }
                    } else {
                        seen[t as usize] = k as u32;
                    }
                }
                for &(t, _) in &list {
                    seen[t as usize] = u32::MAX;
                }
                expanded[id] = list;
            }
            if keep.is_empty() {
                break;
            }
            for id in keep {
                fold[id] = false;
            }
        }
        (1..n.saturating_sub(1)).filter(|&k| fold[k]).collect()
    }
}
