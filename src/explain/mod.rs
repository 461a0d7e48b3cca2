//! Explanations: a gradient written out as the chain rule, path by path.
//!
//! ∂y/∂x is the sum, over every path from `y` back to `x` in the graph, of the
//! product of the partial derivatives along the path. [`Gradients::explain`] lists
//! those paths as data ([`Explanation`]) and its `Display` writes the derivation
//! as a person does on paper:
//!
//! ```text
//! ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5
//!        = 0.74136507 × 0.18681560 × 0.59326999
//!        = 0.08216704
//! ```
//!
//! # Every factor is a true partial derivative
//!
//! A factor `∂a/∂b` is the partial derivative of `a` with respect to `b`, the
//! other quantities the explanation shows held fixed. (In a path after the
//! first, a negative first factor's sign is written as the `−` that joins the
//! path's product to the sum, as in `a − b × c`: the factor is `−b`.) So:
//!
//! - parallel edges are merged: `x * x` is one factor `∂(x·x)/∂x = 2x`, not two
//!   factors `x` each (the tape records two edges, one per operand slot);
//! - between two shown quantities, the nodes not shown are folded in: the factor
//!   sums, over every path between the two through hidden nodes, the product of
//!   the local partials. The sum over the listed paths of their products is then
//!   ∂y/∂x again, with nothing counted twice;
//! - a factor ∂a/∂b where `a` also depends on `b` through another shown
//!   quantity is the partial with that route held fixed, not the total ∂a/∂b:
//!   it is written `∂a/∂b|direct` ([`DIRECT`], [`Explanation::is_direct`]),
//!   wherever it appears. A plain `∂a/∂b` is always the total.
//!
//! # Every product written is the product of the factors written
//!
//! A path's product is multiplied from the output down, as the sweep multiplies
//! (the shared stretch of a derivation from the sum above it down). A folded
//! factor is a product formed from the bottom up, so it can overflow or
//! underflow where the sweep does not (`1e200 · 1e200` is ∞, while the sweep
//! forms `(1e-300 · 1e200) · 1e200 = 1e100`): a folded factor whose value is 0,
//! subnormal, infinite or NaN while the tape's gradient of its lower quantity is
//! not of that same class is shown unfolded, every partial in it a factor of its
//! own. When every path is listed and their sum still differs from the tape's
//! gradient, the result line says so, gives the tape's gradient, and says why:
//! a sum over infinite terms (Σ aᵢ · ∞ is not (Σ aᵢ) · ∞, and the sweep sums at
//! each node before it multiplies), or, on a single path of finite factors, the
//! order of the products (a folded factor of 1e100 · 1e-100 = 1 under 1e-300
//! gives 1e-300, while the sweep's (1e-300 · 1e-100) · 1e100 underflows to 0).
//! A sum of several finite paths is not judged: it rounds in another order than
//! the sweep's and may cancel. Where its terms cancel so far that one rounding
//! at their size is more than half the last digit written (`x + 1e17·x −
//! 1e17·x`, whose derivative 1 sums to 0 in f64, path by path and in the sweep
//! alike), the result line says so: those digits are rounding, not the
//! derivative ([`Gradients::rounding_bound`] bounds the tape's error).
//!
//! # Which quantities are shown
//!
//! By default ([`ExplainOptions::default`]): the output, the input, every
//! labelled node ([`Var::named`]), and the weighted sum `net` of every fused
//! neuron labelled with [`Var::named_net`]: such a neuron is explained as
//! `out = σ(net)`, `net = Σ w·x + b`, the factor through it split into
//! `∂out/∂net · ∂net/∂w`. A labelled node whose every incoming factor is 1 by
//! its op, a renaming (`E_o1` in `E = E_o1 + E_o2`: an operand of a sum, the
//! left one of `−`, `1·x`), is folded into the next factor
//! ([`ExplainOptions::merge_unit_factors`]), unless that would merge two paths
//! into one factor (`y = x + s`, `s = sin(x)`: both paths are shown) or leave
//! `∂y/∂x` itself. A factor that happens to be 1 (a weight of 1, relu′ = 1)
//! is no renaming: its nodes are shown.
//!
//! When that would leave a factor `∂y/∂x` inside the explanation of ∂y/∂x (an
//! unlabelled graph: a tautology), the unlabelled nodes with readable names are
//! shown as well (`x·y`, `ln(exp(x·y) + 1)`: see [names](#names)), and if that is
//! still not enough, every node. [`ExplainOptions::raw`] shows every node of the
//! tape, one factor per (merged) edge.
//!
//! # Names
//!
//! A node is named by its label; an unlabelled leaf by `x` with its index as a
//! subscript (`x₀`, `x₁₂`); any other unlabelled node by its expression over its
//! operands' names when that is at most [`NAME_CAP`] characters (`x₀·x₁`,
//! `σ(0.5·x₀ − x₁)`), else by its op and index (`div#10`). A constant folded into
//! a node is printed only when it reproduces the recorded value exactly, in the
//! fewest digits that do, and in scientific notation outside 10⁻⁴ ≤ |c| < 10¹⁶
//! (`1e200·x₀`, `−2.5e−7·x₀`).
//!
//! One name stands for one quantity: a label carried by several quantities of
//! the tape is written with the index after it (`h#1`, `h#2`), inside
//! expressions too; an automatic name that is also a label of the tape gets its
//! index as well (with a node labelled `x₀`, the unlabelled leaf 0 is `x₀#0`);
//! two nodes written with the same expression get theirs (`exp(a)#2`,
//! `exp(a)#4`); a label with a space or an operator sign is put in parentheses
//! as an operand.
//!
//! # The non-finite policy
//!
//! Paths follow the policy of [`crate::backward`], as the sweep applies it. A
//! factor through an operand a select op did not pick (relu at z ≤ 0, the loser
//! of max/min, clamp outside its bounds, signum always) is *masked* ([`Factor::masked`]): it
//! passes exactly 0 down the path, whatever the product above it (∞ or NaN
//! included). Every other factor multiplies the product above it (IEEE: 0 · ∞ is
//! NaN). A masked edge masks one edge, not what lies below it: where a path's
//! product is exactly 0 (after a masked factor, or a zero partial), what follows
//! depends on the tape's gradient of the quantity it has reached, as in the
//! sweep, which adds the path's 0 into that gradient and multiplies only the sum
//! further down:
//!
//! - the gradient there is not 0 (another path brings something): the path
//!   contributes exactly 0 and is multiplied no further;
//! - the gradient there is 0: the path goes on, so 0 · ∞ below it is NaN, an
//!   indeterminate derivative shown as such, never as a silent 0.
//!
//! `x.sqrt().max(1.0) * 2.0` at x = 0 is NaN path by path as in the sweep: the
//! default options print the product `0.00000000 (not picked) × inf`, then
//! `= NaN` (the unlabelled `max` folded, its 2 into the masked 0), and
//! [`ExplainOptions::raw`] prints `2.00000000 × 0.00000000 (not picked) × inf`.
//! With one shared `sqrt` node, `let s = x.sqrt(); s.max(1.0) + s` is ∞: the
//! masked path's 0 is added to the 1 the other path brings to `s`. Written `x.sqrt().max(1.0) + x.sqrt()`, it is
//! NaN: that records two `sqrt` nodes, and the one `max` did not pick has a
//! gradient of 0, so its path goes on to 0 · ∞.
//!
//! ```
//! use chainrule::{explain::ExplainOptions, Tape};
//!
//! let tape = Tape::new();
//! let x = tape.var(0.0).named("x");
//! let g = (x.sqrt().max(1.0) * 2.0).backward();
//! assert!(g[x].is_nan());
//! let shown = g.explain(x).to_string();
//! assert!(shown.contains("= 0.00000000 (not picked) × inf\n"), "{shown}");
//! assert!(shown.contains("= NaN"), "{shown}");
//! let raw = g.explain_with(x, ExplainOptions::default().raw()).to_string();
//! assert!(raw.contains("= 2.00000000 × 0.00000000 (not picked) × inf\n"), "{raw}");
//!
//! let s = x.sqrt(); // one node, two uses
//! assert_eq!((s.max(1.0) + s).backward()[x], f64::INFINITY);
//! assert!((x.sqrt().max(1.0) + x.sqrt()).backward()[x].is_nan()); // two nodes
//! ```
//!
//! # How it is computed, and what it costs
//!
//! 1. The subgraph: the ancestors of `y` that reach `x`, found by a reverse scan
//!    from `y` and a forward scan from `x` over the nodes recorded between them
//!    (like the sweep: iterative, no graph view is built). Parallel edges are
//!    merged there.
//! 2. The factor graph over the shown quantities: a local reverse sweep from each
//!    shown node through the hidden nodes below it.
//! 3. Paths are counted by dynamic programming on the factor graph (the number of
//!    paths can grow exponentially with depth: 40 stages of `a + a·a` make 2^40).
//!    Counts are `u128` and saturate at `u128::MAX`, reported as such. At most
//!    [`ExplainOptions::max_paths`] paths are listed, by an iterative depth-first
//!    walk.
//!
//! Time: O(n/64 + s log s + listed factors), for n the nodes recorded between `x`
//! and `y` and s the nodes and edges of the subgraph. Extra space: 2 bits per node
//! recorded between them, O(s) while building, and the listed paths and their
//! names after. Nothing recurses, so a million-deep chain is fine.

use std::collections::HashMap;
use std::fmt;

use crate::{Gradients, Tape, Var};

pub(crate) mod naming;
mod subgraph;

pub(crate) use naming::Namer;
pub use naming::NAME_CAP;
use subgraph::{FactorGraph, Subgraph};

/// The mark of a direct partial: a factor ∂a/∂b where `a` also depends on `b`
/// through another shown quantity, the partial with that route held fixed,
/// never the total ∂a/∂b a plain `∂a/∂b` names: `∂f/∂x|direct` in
/// `∂f/∂x = ∂f/∂u · ∂u/∂x + ∂f/∂x|direct`, and in any other sum where it
/// appears (`∂f/∂a|direct` in ∂f/∂x's explanation, with `b = a + x` and
/// `f = a·b`).
pub const DIRECT: &str = "|direct";

/// How many paths an explanation lists unless told otherwise.
pub const DEFAULT_MAX_PATHS: usize = 16;

/// How many factors of a very long path are written at each end (the middle is
/// elided in the text; [`Path::factors`] has them all).
const SHOWN_AT_EACH_END: usize = 12;

/// The most factors of an elided middle named in its marker (see
/// [`notable_in_middle`]).
const NOTABLE_SHOWN: usize = 3;

/// The first [`NOTABLE_SHOWN`] factors of the middle a long path's text
/// elides that can decide its product or make it a convention (masked, at a
/// kink by `at_kink`, 0, infinite or NaN), and how many there are.
fn notable_in_middle(chain: &Path, at_kink: impl Fn(&Factor) -> bool) -> (Vec<&Factor>, usize) {
    let k = chain.factors.len();
    if k <= 2 * SHOWN_AT_EACH_END {
        return (Vec::new(), 0);
    }
    let middle = &chain.factors[SHOWN_AT_EACH_END..k - SHOWN_AT_EACH_END];
    let notable = |f: &&Factor| f.masked || f.value == 0.0 || !f.value.is_finite() || at_kink(f);
    let mut found = Vec::new();
    let mut count = 0;
    for f in middle.iter().filter(notable) {
        count += 1;
        if found.len() < NOTABLE_SHOWN {
            found.push(f);
        }
    }
    (found, count)
}

/// What an explanation lists and which quantities it shows.
///
/// ```
/// use chainrule::explain::ExplainOptions;
///
/// let options = ExplainOptions::default().max_paths(4);
/// assert_eq!(options.max_paths, 4);
/// assert!(options.labelled_only && options.merge_unit_factors);
/// assert!(!ExplainOptions::default().raw().labelled_only);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExplainOptions {
    /// At most this many paths are listed (the rest are counted, not listed).
    /// Default [`DEFAULT_MAX_PATHS`].
    pub max_paths: usize,
    /// Show only the output, the input, labelled nodes and labelled nets (and
    /// readable unlabelled nodes when needed to avoid a tautology): the nodes in
    /// between are folded into the factors. `false` shows every node. Default
    /// `true`.
    pub labelled_only: bool,
    /// Fold a shown node whose every incoming factor is 1 by its op (an
    /// operand of a sum, the left one of `−`, `1·x`: a renaming) into the
    /// next factor, where that merges no two paths into one factor (never the
    /// output or the input). Default `true`.
    pub merge_unit_factors: bool,
}

impl Default for ExplainOptions {
    fn default() -> Self {
        ExplainOptions {
            max_paths: DEFAULT_MAX_PATHS,
            labelled_only: true,
            merge_unit_factors: true,
        }
    }
}

impl ExplainOptions {
    /// The same options, listing at most `max_paths` paths.
    ///
    /// ```
    /// let options = chainrule::explain::ExplainOptions::default().max_paths(2);
    /// assert_eq!(options.max_paths, 2);
    /// ```
    #[must_use]
    pub fn max_paths(self, max_paths: usize) -> Self {
        ExplainOptions { max_paths, ..self }
    }

    /// The same options, showing every node: one factor per edge of the tape
    /// (parallel edges merged), nothing folded, fused neurons not split.
    ///
    /// ```
    /// let raw = chainrule::explain::ExplainOptions::default().raw();
    /// assert!(!raw.labelled_only && !raw.merge_unit_factors);
    /// ```
    #[must_use]
    pub fn raw(self) -> Self {
        ExplainOptions {
            labelled_only: false,
            merge_unit_factors: false,
            ..self
        }
    }
}

/// A quantity an explanation names: a node of the tape, or the weighted sum
/// inside a fused neuron (which has no node of its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Quantity {
    /// The node of the tape at this index.
    Node(usize),
    /// The weighted sum `net = Σ wᵢ·xᵢ + b` inside the fused neuron at this index
    /// (labelled with [`Var::named_net`]).
    Net(usize),
}

impl Quantity {
    /// The index of the node (for a net, of its neuron).
    ///
    /// ```
    /// use chainrule::explain::Quantity;
    /// assert_eq!(Quantity::Net(7).index(), 7);
    /// ```
    pub fn index(self) -> usize {
        match self {
            Quantity::Node(i) | Quantity::Net(i) => i,
        }
    }
}

impl From<usize> for Quantity {
    /// The node at this index.
    fn from(index: usize) -> Self {
        Quantity::Node(index)
    }
}

impl From<Var<'_>> for Quantity {
    /// The variable's node.
    fn from(v: Var<'_>) -> Self {
        Quantity::Node(v.index())
    }
}

/// One factor ∂of/∂wrt of a path: the partial derivative of `of` with respect to
/// `wrt`, the other shown quantities held fixed (see the
/// [module documentation](self)). Where `of` also depends on `wrt` through
/// another shown quantity, that is the direct partial, not the total
/// ∂of/∂wrt: [`Explanation::is_direct`] says so, and `Display` writes it
/// `∂of/∂wrt|direct`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Factor {
    /// The upper quantity (the one differentiated).
    pub of: Quantity,
    /// The lower quantity (differentiated with respect to).
    pub wrt: Quantity,
    /// The partial derivative: the sum of its parallel edges and folded paths.
    pub value: f64,
    /// Whether it runs only through operands a select op did not pick (relu at
    /// z ≤ 0, the loser of max/min): it passes exactly 0 down the path, whatever
    /// the product above it (see [the policy](self#the-non-finite-policy)).
    pub masked: bool,
}

/// A chain of factors, from the upper quantity down, and what it contributes.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The factors, from the upper quantity down to the lower.
    pub factors: Vec<Factor>,
    /// What the chain contributes, multiplied from the top down as the sweep
    /// multiplies (1 for no factor) under [the policy](self#the-non-finite-policy):
    /// a masked factor passes exactly 0, any other the IEEE product; a product
    /// that is exactly 0 at a quantity whose gradient is not 0 stops there and
    /// contributes 0 (the sweep adds it to that nonzero gradient, and multiplies
    /// only the sum further down).
    pub product: f64,
}

/// A set of quantities, nodes kept as runs of consecutive indices: the nodes
/// of a listed chain with a zero gradient are often millions in a row.
#[derive(Clone, Debug, Default)]
struct ZeroSet {
    /// Inclusive runs of node indices; sorted and disjoint once finished.
    nodes: Vec<(u32, u32)>,
    /// Neurons whose net is in the set, sorted once finished.
    nets: Vec<u32>,
}

impl ZeroSet {
    fn insert(&mut self, q: Quantity) {
        match q {
            Quantity::Net(i) => self.nets.push(i as u32),
            Quantity::Node(i) => {
                let i = i as u32;
                match self.nodes.last_mut() {
                    Some(run) if run.0 <= i && i <= run.1 => {}
                    Some(run) if run.0 == i + 1 => run.0 = i,
                    Some(run) if run.1 + 1 == i => run.1 = i,
                    _ => self.nodes.push((i, i)),
                }
            }
        }
    }

    /// Sorts and merges, for [`contains`](ZeroSet::contains).
    fn finish(&mut self) {
        self.nets.sort_unstable();
        self.nets.dedup();
        self.nodes.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.nodes.len());
        for &(lo, hi) in &self.nodes {
            match merged.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => merged.push((lo, hi)),
            }
        }
        self.nodes = merged;
    }

    fn contains(&self, q: Quantity) -> bool {
        match q {
            Quantity::Net(i) => self.nets.binary_search(&(i as u32)).is_ok(),
            Quantity::Node(i) => {
                let at = self.nodes.partition_point(|&(_, hi)| (hi as usize) < i);
                self.nodes.get(at).is_some_and(|&(lo, _)| lo as usize <= i)
            }
        }
    }
}

impl Path {
    /// The path of `factors`; `zero` holds the quantities whose gradient from
    /// the output is exactly 0.
    fn new(factors: Vec<Factor>, zero: &ZeroSet) -> Path {
        let product = chain_product(1.0, &factors, zero);
        Path { factors, product }
    }
}

/// One step down a path under the non-finite policy (see the module
/// documentation): `running` (the product above the factor) through `factor`,
/// then, if that is exactly 0 and the lower quantity's gradient is not
/// (`lower_zero` false), `None`: absorbed there.
fn step(running: f64, value: f64, masked: bool, lower_zero: bool) -> Option<f64> {
    let next = crate::backward::contribution(running, value, masked);
    (next != 0.0 || lower_zero).then_some(next)
}

/// The product of `factors` from the top down, starting from `start`, under
/// the non-finite policy; `zero` as in [`Path::new`].
fn chain_product(start: f64, factors: &[Factor], zero: &ZeroSet) -> f64 {
    let mut running = start;
    for f in factors {
        match step(running, f.value, f.masked, zero.contains(f.wrt)) {
            Some(next) => running = next,
            None => return 0.0,
        }
    }
    running
}

/// The derivation as it is written: when every path shares its last stretch
/// (all paths to `w1` pass through `out_h1`), the shared stretch is factored out,
/// as one writes it by hand: `∂E/∂w1 = ∂E/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1`
/// with `∂E/∂out_h1` the sum over the branches.
#[derive(Clone, Debug, PartialEq)]
pub struct Derivation {
    /// The quantity where all paths join, if they share a stretch before the input.
    pub through: Option<Quantity>,
    /// The shared stretch, from `through` down to the input (no factors if none).
    pub tail: Path,
    /// Each listed path down to `through` (or to the input when nothing is shared).
    pub branches: Vec<Path>,
    /// The sum of the branches' products.
    pub branch_sum: f64,
}

/// The paths through one first step below the point where the paths from the
/// output first part (for a comparison, when there are many paths).
#[derive(Clone, Debug, PartialEq)]
pub struct Branch {
    /// The first quantity of the branch after the parting point.
    pub through: Quantity,
    /// The number of paths in it (saturating).
    pub paths: u128,
    /// What its paths contribute together to ∂y/∂x.
    pub contribution: f64,
}

/// Every path from an output `y` back to a node `x`, with the chain rule along
/// each: see the [module documentation](self).
///
/// ```
/// use chainrule::Tape;
///
/// let tape = Tape::new();
/// let x = tape.var(3.0).named("x");
/// let u = x.square().named("u");
/// let y = u.sin().named("y");
/// let explanation = y.backward().explain(x);
/// assert_eq!(explanation.path_count(), 1);
/// assert_eq!(
///     explanation.to_string(),
///     "∂y/∂x = ∂y/∂u · ∂u/∂x\n      = -0.91113026 × 6.00000000\n      = -5.46678157\n"
/// );
/// ```
#[derive(Clone, Debug)]
pub struct Explanation {
    output: usize,
    input: usize,
    gradient: f64,
    path_count: u128,
    saturated: bool,
    paths: Vec<Path>,
    branches: Vec<Branch>,
    /// Names of the quantities written: (plain, as an operand of ∂).
    names: HashMap<Quantity, (String, String)>,
    /// The listed factors' upper nodes at a kink, with the note written.
    kinks: HashMap<usize, &'static str>,
    /// The listed masked factors (of, wrt), with what masks them: the
    /// [`mask_bit`]s of the ops whose masked partials give the 0, which for a
    /// factor folding hidden nodes need not be its upper node's op.
    masks: HashMap<(Quantity, Quantity), u8>,
    /// The quantities of the listed paths whose gradient from the output is
    /// exactly 0 (see [`Path::product`]).
    zero: ZeroSet,
    /// The listed factors (of, wrt) whose upper quantity also reaches the
    /// lower one through another shown quantity: direct partials
    /// ([`is_direct`](Explanation::is_direct)).
    direct: std::collections::HashSet<(Quantity, Quantity)>,
    /// Where the explanation is one local derivative (the output an op on the
    /// input): the partials of its edges to the input, one per use (x·x: 3
    /// and 3), and, for an op of the unary table, its rule (`sin x`, `cos x`).
    local: Option<(Vec<f64>, Option<Rule>)>,
    options: ExplainOptions,
}

/// A unary op's rule as the table writes it: (formula, derivative).
type Rule = (&'static str, &'static str);

impl<'t> Gradients<'t> {
    /// Explains ∂output/∂x path by path, listing at most
    /// [`DEFAULT_MAX_PATHS`] paths. See [`Explanation`] and the
    /// [module documentation](crate::explain).
    ///
    /// # Complexity
    /// Time O(n/64 + s log s + listed factors) and extra space n/4 bytes (2 bits
    /// a node) plus O(s) while building, for n the nodes recorded between `x` and
    /// the output and s the nodes and edges of the subgraph between them; nothing
    /// recurses.
    ///
    /// # Panics
    /// If `x` belongs to another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(2.0).named("a");
    /// let y = (a * a).named("y"); // two edges, one factor: ∂y/∂a = 2a
    /// let explanation = y.backward().explain(a);
    /// assert_eq!(explanation.path_count(), 1);
    /// assert_eq!(explanation.paths()[0].factors[0].value, 4.0);
    /// ```
    #[track_caller]
    pub fn explain(&self, x: Var<'_>) -> Explanation {
        self.explain_with(x, ExplainOptions::default())
    }

    /// [`explain`](Gradients::explain) with options.
    ///
    /// # Complexity
    /// As [`explain`](Gradients::explain).
    ///
    /// # Panics
    /// If `x` belongs to another tape.
    ///
    /// ```
    /// use chainrule::explain::ExplainOptions;
    ///
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0);
    /// let mut y = x;
    /// for _ in 0..10 {
    ///     y = y + y.sin(); // 2^10 paths through the tape's nodes
    /// }
    /// let every_node = ExplainOptions::default().raw().max_paths(3);
    /// let explanation = y.backward().explain_with(x, every_node);
    /// assert_eq!((explanation.path_count(), explanation.paths().len()), (1024, 3));
    /// assert_eq!(explanation.left_out(), 1021);
    /// ```
    #[track_caller]
    pub fn explain_with(&self, x: Var<'_>, options: ExplainOptions) -> Explanation {
        self.wrt(x); // panics with a clear message for a foreign Var
        explain_on_tape(
            self.tape(),
            self.output(),
            x.index(),
            self.as_slice(),
            options,
        )
    }
}

impl Tape {
    /// Explains ∂y/∂x with the default options: one backward sweep from `y`,
    /// then [`Gradients::explain`].
    ///
    /// # Complexity
    /// One sweep, then as [`Gradients::explain`].
    ///
    /// # Panics
    /// If `y` or `x` belongs to another tape.
    ///
    /// ```
    /// use chainrule::Tape;
    ///
    /// let tape = Tape::new();
    /// let x = tape.var(0.0).named("x");
    /// let y = x.exp().named("y");
    /// let explanation = tape.explain(y, x);
    /// assert_eq!(explanation.gradient(), 1.0);
    /// assert_eq!(
    ///     explanation.to_string(),
    ///     "∂y/∂x = 1.00000000 (a local derivative, by the rule d(e^x)/dx = e^x)\n"
    /// );
    /// ```
    #[track_caller]
    pub fn explain(&self, y: Var<'_>, x: Var<'_>) -> Explanation {
        self.explain_with(y, x, ExplainOptions::default())
    }

    /// Explains ∂y/∂x with the given options: one backward sweep from `y`, then
    /// [`Gradients::explain_with`].
    ///
    /// # Complexity
    /// One sweep, then as [`Gradients::explain`].
    ///
    /// # Panics
    /// If `y` or `x` belongs to another tape.
    ///
    /// ```
    /// use chainrule::{explain::ExplainOptions, Tape};
    ///
    /// let tape = Tape::new();
    /// let x = tape.var(0.0).named("x");
    /// let y = x.exp().named("y");
    /// let explanation = tape.explain_with(y, x, ExplainOptions::default().max_paths(1));
    /// assert_eq!(explanation.gradient(), 1.0);
    /// ```
    #[track_caller]
    pub fn explain_with(&self, y: Var<'_>, x: Var<'_>, options: ExplainOptions) -> Explanation {
        assert!(
            std::ptr::eq(y.tape(), self) && std::ptr::eq(x.tape(), self),
            "chainrule: Tape::explain_with was given a Var of another tape"
        );
        let gradients = y.backward();
        explain_on_tape(self, y.index(), x.index(), gradients.as_slice(), options)
    }
}

/// The factor graph over the quantities shown, as the options say (see the
/// module documentation), with every factor whose folded value is not a normal
/// number unfolded ([`FactorGraph::bad_folds`]).
fn factor_graph(
    sub: &Subgraph,
    namer: &Namer<'_>,
    net_labels: &std::collections::BTreeMap<u32, std::borrow::Cow<'static, str>>,
    options: ExplainOptions,
    adjoints: &[f64],
) -> FactorGraph {
    let n = sub.len();
    // A node at a kink (relu at 0, a tie of max) is shown, and never folded as a
    // unit factor: its factor's value is a convention, marked as such.
    let kink: Vec<bool> = (0..n)
        .map(|p| !sub.net[p] && kink_note(namer.rec, sub.index[p] as usize).is_some())
        .collect();
    let (mut graph, mut shown) = chosen_factor_graph(sub, namer, net_labels, options, &kink);
    // Unfold, until no factor folds a value that is not a normal number: the
    // hidden nodes below each shown node with such a factor are shown (and
    // never folded again as unit factors). Each round shows more nodes, so it
    // ends; usually there is no round at all (one scan of the factors).
    let mut keep = kink;
    loop {
        let bad = graph.bad_folds(|id| gradient_of(namer.rec, adjoints, graph.quantity(id)));
        if bad.is_empty() {
            return graph;
        }
        let mut stack: Vec<usize> = Vec::new();
        for a in bad {
            stack.push(a as usize);
            while let Some(p) = stack.pop() {
                for (q, _, _) in sub.edges(p) {
                    if !shown[q] {
                        shown[q] = true;
                        keep[q] = true;
                        stack.push(q);
                    }
                }
            }
        }
        graph = FactorGraph::build(sub, &shown);
        if options.merge_unit_factors {
            graph = fold_unit_factors(graph, namer.rec, &mut shown, &keep);
        }
    }
}

/// `graph` with its unit nodes ([`FactorGraph::unit_nodes`]) not in `keep`
/// folded, `shown` updated; unchanged if that would leave a tautology.
fn fold_unit_factors(
    graph: FactorGraph,
    rec: &crate::tape::Recording,
    shown: &mut [bool],
    keep: &[bool],
) -> FactorGraph {
    let units = graph.unit_nodes(
        |id| !keep[graph.shown[id] as usize],
        |above, below| unit_by_op(rec, above as usize, below as usize),
    );
    if units.is_empty() {
        return graph;
    }
    let folded = graph.without(&units);
    if folded.is_tautology() {
        return graph; // folding would leave the factor ∂y/∂x itself
    }
    for &id in &units {
        shown[graph.shown[id] as usize] = false;
    }
    folded
}

/// Whether node `above`'s partial with respect to its operand `below` is 1
/// whatever the values, so that a factor 1 between them is a renaming, not a
/// value that happens to be 1: an operand of a sum (`+`, [`Var::sum`], `x +
/// c`, `x − c`), the left operand of `−`, and `1·x`.
fn unit_by_op(rec: &crate::tape::Recording, above: usize, below: usize) -> bool {
    use crate::Op;
    let mut edges = rec.edges(above).filter(|&(o, _)| o as usize == below);
    let once = edges.next().is_some() && edges.next().is_none();
    once && match rec.ops()[above] {
        Op::Add | Op::Sum | Op::AddConst | Op::SubConst => true,
        Op::Sub => rec
            .edges(above)
            .next()
            .is_some_and(|(o, _)| o as usize == below),
        Op::MulConst => rec.edges(above).next().is_some_and(|(_, p)| p == 1.0),
        _ => false,
    }
}

/// The factor graph over the quantities the options show, and which subgraph
/// positions it shows.
fn chosen_factor_graph(
    sub: &Subgraph,
    namer: &Namer<'_>,
    net_labels: &std::collections::BTreeMap<u32, std::borrow::Cow<'static, str>>,
    options: ExplainOptions,
    kink: &[bool],
) -> (FactorGraph, Vec<bool>) {
    let n = sub.len();
    // The labelled positions, found from the labels in range (few) rather than
    // by a lookup per node.
    let mut is_labelled = vec![false; n];
    let range = sub.index[0]..=sub.index[n - 1];
    for (map, net) in [(namer.labels, false), (net_labels, true)] {
        for (&index, _) in map.range(range.clone()) {
            let at = sub.index.partition_point(|&i| i < index);
            let same = sub.index[at..].iter().take_while(|&&i| i == index).count();
            for (flag, &is_net) in is_labelled[at..at + same].iter_mut().zip(&sub.net[at..]) {
                *flag |= is_net == net;
            }
        }
    }
    for (flag, &k) in is_labelled.iter_mut().zip(kink) {
        *flag |= k;
    }
    let labelled = |p: usize| is_labelled[p];
    if !options.labelled_only && !options.merge_unit_factors {
        let shown = vec![true; n];
        return (FactorGraph::build(sub, &shown), shown);
    }
    let mut shown: Vec<bool> = (0..n)
        .map(|p| p == 0 || p == n - 1 || !options.labelled_only || labelled(p))
        .collect();
    // Fold unit factors on the factor graph itself (cheap), returning it with
    // `shown` updated.
    let fold_units = |graph: FactorGraph, shown: &mut Vec<bool>| -> FactorGraph {
        if !options.merge_unit_factors {
            return graph;
        }
        fold_unit_factors(graph, namer.rec, shown, kink)
    };
    let interior = n > 2 && shown[1..n - 1].iter().any(|&s| s);
    let (graph, tautology) = if options.labelled_only && !interior {
        // Only the two ends shown: the one factor ∂y/∂x folds every node
        // between them, if there is any.
        (None, n > 2)
    } else {
        let graph = fold_units(FactorGraph::build(sub, &shown), &mut shown);
        let tautology = options.labelled_only && graph.is_tautology();
        (Some(graph), tautology)
    };
    if !tautology {
        let graph = graph.unwrap_or_else(|| FactorGraph::build(sub, &shown));
        return (graph, shown);
    }
    // Unlabelled nodes with readable names and fused neurons (the quantities of
    // a network) as well, then every node. A node
    // whose expression has more nodes than a name may hold is not even tried:
    // a lower bound of its size, over its operands in the subgraph.
    let mut size = vec![0u8; n];
    let cap = naming::SIZE_CAP as u8;
    for p in 0..n {
        let index = sub.index[p] as usize;
        size[p] = if p == 0 || (!sub.net[p] && labelled(p)) {
            1
        } else {
            sub.edges(p)
                .fold(1u8, |s, (q, _, _)| s.saturating_add(size[q]))
                .min(cap + 1)
        };
        if 0 < p
            && p < n - 1
            && !shown[p]
            && !sub.net[p]
            && (namer.rec.ops()[index].is_neuron()
                || size[p] <= cap && namer.readable(index).is_some())
        {
            shown[p] = true;
        }
    }
    let graph = FactorGraph::build(sub, &shown);
    if graph.is_tautology() {
        let shown = vec![true; n];
        return (FactorGraph::build(sub, &shown), shown);
    }
    let graph = fold_units(graph, &mut shown);
    (graph, shown)
}

/// Whether signum node `i` is a kink's convention as `Tape::grad` records it
/// (`signum(u)·0 + p`): the next node multiplies it by the constant 0.
fn recorded_convention(rec: &crate::tape::Recording, i: usize) -> bool {
    i + 1 < rec.len()
        && rec.ops()[i + 1] == crate::Op::MulConst
        && rec.edges(i + 1).eq([(i as u32, 0.0)])
}

/// The note written after the value of a factor of node `i` when `i` is an op at
/// a point where its derivative does not exist and the tape's partial is a
/// convention: abs, relu, leaky_relu or signum at 0, a fused relu neuron at
/// z = 0, max or min of two distinct nodes (or of a node and a constant) at a
/// tie, clamp at a bound, pow at 0^0 (0^y jumps at y = 0), atan2(y, x) or
/// atan2(y, c) on the branch cut, y = ±0 with x (or the constant c) < 0 (it
/// jumps between π and −π across y = 0; `Var::const_atan2(±0, x)`, ±π for
/// every x < 0, is none). `None` elsewhere.
pub(crate) fn kink_note(rec: &crate::tape::Recording, i: usize) -> Option<&'static str> {
    let values = rec.values();
    let mut edges = rec.edges(i);
    let first = edges.next();
    let second = edges.next();
    let at_zero = first.is_some_and(|(o, _)| values[o as usize] == 0.0);
    match rec.ops()[i] {
        crate::Op::Abs if at_zero => {
            Some("|·|′(0): a convention; the derivative does not exist here")
        }
        crate::Op::Relu if at_zero => {
            Some("relu′(0): a convention; the derivative does not exist here")
        }
        // (α = 1 is the identity: no kink. Its partial at 0 is α.)
        crate::Op::LeakyRelu if at_zero && first.is_some_and(|(_, p)| p != 1.0) => {
            Some("leaky_relu′(0): a convention; the derivative does not exist here")
        }
        // `Tape::grad` records a kink's convention as signum(u)·0 + p, the
        // signum at its jump: whether the next derivative exists depends on
        // factors a recording does not always keep (relu's masked 0 is added
        // without the adjoint it multiplies: relu(x)² and relu(x)³ record the
        // same ∂f/∂x at 0, and only the first has no f″(0)), so it may not.
        crate::Op::Signum if at_zero && recorded_convention(rec, i) => Some(
            "the convention of a kink at the order below (recorded as signum(u)·0 + its value): the derivative may not exist here",
        ),
        crate::Op::Signum if at_zero => {
            Some("signum′(0): a convention; the derivative does not exist here")
        }
        crate::Op::MaxConst | crate::Op::MinConst if first.is_some_and(|(_, p)| p == 0.5) => {
            Some("a tie with the constant: a convention; the derivative does not exist here")
        }
        crate::Op::Clamp if first.is_some_and(|(_, p)| p == 0.5) => {
            Some("clamp at a bound: a convention; the derivative does not exist here")
        }
        crate::Op::ReluNeuron | crate::Op::ReluNeuronConst if values[i] == 0.0 => {
            relu_neuron_kink(rec, i)
        }
        // 0^y jumps at y = 0 (∞ below, 1 at, 0 above): its ∂/∂y there, taken as 0,
        // is a convention. Its ∂/∂x there is 0 exactly (x^0 = 1 for every x), and
        // the note, shown on both factors, says so.
        crate::Op::Pow
            if at_zero && second.is_some_and(|(o, _)| values[o as usize] == 0.0) =>
        {
            Some("pow at 0^0: ∂/∂exponent is a convention, 0 (0^y jumps at y = 0: no derivative there); ∂/∂base = 0 is exact (b^0 = 1)")
        }
        // atan2(y, x) on its branch cut, y = ±0 with x < 0: it jumps between π
        // and −π across y = 0, so its ∂/∂y, the slope on the side the sign of
        // y's 0 picks, is a convention there. Its ∂/∂x there is ∓0 exactly
        // (atan2(±0, x) = ±π for every x < 0), and the note, shown on both
        // factors, says so. (At x = ±0, the origin, both partials are NaN.)
        crate::Op::Atan2
            if at_zero && second.is_some_and(|(o, _)| values[o as usize] < 0.0) =>
        {
            Some("atan2 on its branch cut (y = ±0, x < 0): ∂/∂y is a convention, the slope on the side the sign of y's 0 picks (atan2 jumps between π and −π across y = 0: no derivative there); ∂/∂x = 0 is exact (atan2(±0, x) = ±π for every x < 0)")
        }
        // atan2(y, c) with a constant c < 0, at y = ±0 (the constant read back
        // from the tape, or, were it not kept, told by the value ±π and a
        // partial that is not NaN: c = ±0 would make it NaN).
        crate::Op::Atan2Const
            if at_zero
                && rec.constants_of(i as u32).first().map_or_else(
                    || {
                        values[i].abs() == std::f64::consts::PI
                            && first.is_some_and(|(_, p)| !p.is_nan())
                    },
                    |&(_, c)| c < 0.0,
                ) =>
        {
            Some("atan2 on its branch cut (y = ±0, a constant x < 0): ∂/∂y is a convention, the slope on the side the sign of y's 0 picks (atan2 jumps between π and −π across y = 0: no derivative there)")
        }
        op @ (crate::Op::Max | crate::Op::Min) => match (first, second) {
            (Some((a, _)), Some((b, _))) if a != b && values[a as usize] == values[b as usize] => {
                Some(if op == crate::Op::Max {
                    "max at a tie: a convention; the derivative does not exist here"
                } else {
                    "min at a tie: a convention; the derivative does not exist here"
                })
            }
            _ => None,
        },
        _ => None,
    }
}

/// Whether edge `e` of an op at a kink ([`kink_note`]) carries a partial that
/// may stand for a convention: every edge but atan2's x on its branch cut,
/// whose ∂/∂x = ∓0 is exact (atan2(±0, x) = ±π for every x < 0), so that an
/// adjoint reaching x through it is 0, not possibly nonzero.
pub(crate) fn convention_edge(op: crate::Op, e: usize) -> bool {
    !(op == crate::Op::Atan2 && e == 1)
}

/// How a product of factors marks a masked factor of an op (see
/// [`Factor::masked`]): `not picked` where the op chose between its operand
/// and another value (`max`, `min`, `clamp`), `masked` where it has one
/// operand and nothing to pick from (relu and a relu neuron at z ≤ 0), and
/// `signum′ = 0` for signum, whose derivative is 0 everywhere but its jump:
/// nothing masks it at x = 1, its derivative is 0.
pub(crate) fn mask_tag(op: crate::Op) -> &'static str {
    MASKS[mask_bit(op).trailing_zeros() as usize].1
}

/// The tag of a masked edge of node `i` (op `op`) of a drawing (DOT's tooltip,
/// the step-by-step page): [`mask_tag`], but at signum's jump, where signum
/// has no derivative, its 0 is a convention, not signum′ = 0.
pub(crate) fn edge_mask_tag(rec: &crate::tape::Recording, i: usize, op: crate::Op) -> &'static str {
    if op == crate::Op::Signum && kink_note(rec, i).is_some() {
        "a convention at signum's jump"
    } else {
        mask_tag(op)
    }
}

/// What masks an edge, one bit per entry, with its tag ([`mask_tag`]) and how
/// the one-factor explanation writes it: relu has one operand, so none "not
/// picked".
const MASKS: [(u8, &str, &str); 6] = [
    (1, "masked", "of relu at an input ≤ 0"),
    (2, "masked", "of a relu neuron at z ≤ 0"),
    (4, "not picked", "through an operand the constant beat"),
    (
        8,
        "not picked",
        "of clamp outside its bounds, or between equal bounds",
    ),
    (16, "signum′ = 0", "of signum (derivative 0)"),
    (32, "not picked", "through an operand not picked"),
];

/// The bit of [`MASKS`] that says what masks a masked edge of `op` (see
/// [`Factor::masked`]). A factor folding hidden nodes holds the bits of
/// every op that passes its 0, which need not be its upper node's.
pub(crate) fn mask_bit(op: crate::Op) -> u8 {
    use crate::Op;
    match op {
        Op::Relu => 1,
        Op::ReluNeuron | Op::ReluNeuronConst => 2,
        Op::MaxConst | Op::MinConst => 4,
        Op::Clamp => 8,
        Op::Signum => 16,
        _ => 32,
    }
}

/// The distinct entries (tag or note, `pick`) of the [`MASKS`] in `mask`,
/// in order.
fn mask_words(
    mask: u8,
    pick: fn(&(u8, &'static str, &'static str)) -> &'static str,
) -> Vec<&'static str> {
    let mut words: Vec<&'static str> = Vec::new();
    for entry in MASKS.iter().filter(|e| mask & e.0 != 0) {
        let word = pick(entry);
        if !words.contains(&word) {
            words.push(word);
        }
    }
    words
}

/// The note of a kink at node `index` of `tape`: `Some` when the node is an op
/// at a point where its own derivative does not exist and the tape's local
/// partial is a convention (abs, relu, leaky_relu or signum at 0, max or min at
/// a tie, clamp at a bound, [`Var::pow`](crate::Var::pow) at 0^0, whose
/// ∂/∂exponent is taken as 0 where 0^y jumps, [`Var::atan2`](crate::Var::atan2)
/// on its branch cut, y = ±0 with x < 0 (or a constant x < 0), whose ∂/∂y is
/// the slope on the side the sign of y's 0 picks where it jumps between π and
/// −π; its ∂/∂x there, 0, is exact, and
/// [`Var::const_atan2`](crate::Var::const_atan2)`(±0, x)` is no kink), the same note
/// [`Explanation::kink`] gives its factor; `None` elsewhere, and for an index
/// past the end.
///
/// A kink of an op on the way from x to y does not by itself mean ∂y/∂x does
/// not exist (|x|² is differentiable at 0), but where it does not exist the
/// tape's value is that convention.
///
/// ```
/// let tape = chainrule::Tape::new();
/// let x = tape.var(0.0);
/// let y = x.relu();
/// let z = x.exp();
/// assert!(chainrule::explain::kink_at(&tape, y.index()).is_some());
/// assert!(chainrule::explain::kink_at(&tape, z.index()).is_none());
/// // x^x at 0: 0^y is ∞, 1, 0 for y < 0, = 0, > 0; the tape's ∂/∂y = 0 is a convention.
/// let p = x.pow(x);
/// assert!(chainrule::explain::kink_at(&tape, p.index()).is_some());
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), p.index()).is_some());
/// // x^y at (0, 0) along x alone: x^0 = 1 for every x, ∂/∂x = 0 exactly.
/// let y = tape.var(0.0);
/// let p = x.pow(y);
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), p.index()).is_none());
/// ```
pub fn kink_at(tape: &Tape, index: usize) -> Option<&'static str> {
    tape.recording.read(|rec| {
        if index < rec.len() {
            kink_note(rec, index)
        } else {
            None
        }
    })
}

/// The first node at a kink (see [`kink_at`]) on a path from node `x` up to
/// node `output` that can matter for ∂output/∂x, with its note; `None` when no
/// kink can (and for indices out of order or past the end).
///
/// A kink of an op at the point makes the tape's ∂output/∂x a convention only
/// when both hold:
/// - its operand moves with x: the derivative of the operand (of the difference
///   of the two operands, for max or min at a tie; of z, for a fused relu neuron)
///   with respect to x is nonzero or not finite, or may be nonzero because it
///   passes a lower kink itself. relu(x·z) at z = 0 is at a kink, but x·z does not
///   move with x there, so relu(x·z) is flat in x;
/// - the output moves with it: the adjoint reaching the kink node can be nonzero,
///   i.e. some path from it to the output has only nonzero local partials, a
///   partial of a kink op above counting as possibly nonzero (its value is a
///   convention). relu(x)² and x·|x| at 0 have a zero adjoint at the kink: they
///   are differentiable there, with derivative 0, and the tape's value is it.
///
/// A jump is not a kink: signum at 0 jumps whenever its operand depends on x
/// at all (lies on a path from x in the tape), not by the first-order test, and
/// pow at 0^0 counts whenever its exponent does (0^(x²) jumps at 0; x^0 = 1 for
/// every x, so the base alone never counts), and atan2 on its branch cut
/// whenever its y does (atan2(y³, −1) jumps at 0; atan2(±0, x) = ±π for every
/// x < 0, so an x that reaches it only through its x operand never counts, and
/// the adjoint through that exact ∂/∂x = 0 is 0, not a convention).
/// signum(x³) at 0 jumps from −1 to 1 though x³ is flat to first order there;
/// for relu, abs, max, min and clamp a zero first-order motion of the operand
/// does make the convention irrelevant (relu(x³) at 0 is differentiable, with
/// derivative 0), and the first-order test stays.
///
/// A signum's jump is followed up to the output: a sum, a difference, a
/// negation or a scaling carries it on (a scaling by 0 too: `Tape::grad`
/// records a kink's convention in a gradient as sign(u)·0 + p, standing for
/// the step of the partial); a product carries it on where the other factor's
/// value is not 0 (or the other factor jumps too, or the jumping one is not
/// finite), makes a kink of the product
/// where that value is 0 but the factor moves with x (x·sign(x) = |x|), and
/// absorbs it where the factor is 0 and flat to first order (x²·sign(x) is
/// differentiable at 0, with derivative 0); any other op carries it on, and
/// then no product absorbs it. The signum counts when its jump reaches the
/// output; a product it made a kink of counts as a kink does (its adjoint can
/// be nonzero), with the signum's note. So the recorded ∂f/∂x of |x|² at 0,
/// 2|x|·(sign(x)·0 + 0), has a kink (f″ jumps from −2 to 2), and that of |x|³,
/// 3|x|²·(sign(x)·0 + 0), none (f″(0) = 0). A convention masked in the sweep
/// (relu's 0 at 0) is recorded on its own, not times its adjoint, and its jump
/// reaches the gradient whatever multiplied it: relu(x)³'s recorded ∂f/∂x is
/// still counted at 0 (a caution).
///
/// Elsewhere (neither holds), the chain rule through the kink gives the
/// derivative whatever the convention is, so the tape's value is the derivative.
/// A cancellation of exact nonzero terms is not looked for: such a kink is
/// still counted (a caution, never a false "right").
///
/// # Complexity
/// Two passes over the nodes recorded from `x` to `output` and their edges: one
/// forward, carrying the derivatives with respect to x (a tangent sweep, in place
/// of one backward sweep per kink), one backward for the adjoints' reach.
///
/// ```
/// let tape = chainrule::Tape::new();
/// let x = tape.var(0.0);
/// let z = tape.var(0.0);
/// // relu(x) at 0: a kink that matters.
/// let y = x.relu();
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_some());
/// // relu(x)² at 0: the adjoint at relu is 2·relu(0) = 0: differentiable, ∂ = 0.
/// let y = x.relu().square();
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_none());
/// // relu(x·z) at z = 0: x·z does not move with x.
/// let y = (x * z).relu();
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_none());
/// // signum(x³)·5 + x at 0: x³ is flat to first order, but signum jumps there.
/// let y = x.powi(3).signum() * 5.0 + x;
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_some());
/// // x·signum(x) = |x| at 0: the jump times a factor 0 that moves: a kink.
/// let y = x * x.signum();
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_some());
/// // x²·signum(x) at 0: times a factor 0 and flat to first order: ∂ = 0.
/// let y = x.square() * x.signum();
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_none());
/// // relu(x³) at 0: a kink, flat to first order: differentiable, ∂ = 0.
/// let y = x.powi(3).relu();
/// assert!(chainrule::explain::kink_affecting(&tape, x.index(), y.index()).is_none());
/// ```
pub fn kink_affecting(tape: &Tape, x: usize, output: usize) -> Option<(usize, &'static str)> {
    tape.recording.read(|rec| kink_affecting_in(rec, x, output))
}

pub(crate) fn kink_affecting_in(
    rec: &crate::tape::Recording,
    x: usize,
    output: usize,
) -> Option<(usize, &'static str)> {
    if output < x || output >= rec.len() {
        return None;
    }
    let n = output - x + 1;
    let values = rec.values();
    let ops = rec.ops();
    let nonzero = |v: f64| v != 0.0; // NaN and ±∞ count as nonzero
                                     // Forward: the tangent t = ∂node/∂x by the tape's partials, and whether it
                                     // may differ from its true one-sided values because it passes a kink that
                                     // matters (`hinged`); `moves` = t nonzero or hinged.
    let mut tangent = vec![0.0f64; n];
    let mut hinged = vec![false; n];
    let mut kink: Vec<Option<&'static str>> = vec![None; n];
    // Whether a node depends on x structurally (lies on a path from x), whatever
    // its first-order derivative: signum's jump counts on it.
    let mut depends = vec![false; n];
    // The jumps a node carries: the lowest signum at its jump (with its note)
    // whose step reaches the node's value unmultiplied by a factor flat in x
    // (`jump`), and whether it reached it through an op other than a sum, a
    // scaling or a product, whose jump need not stay bounded (`wild`: no factor
    // absorbs it).
    let mut jump: Vec<Option<(usize, &'static str)>> = vec![None; n];
    let mut wild = vec![false; n];
    tangent[0] = 1.0;
    depends[0] = true;
    let at = |o: u32| -> Option<usize> {
        let o = o as usize;
        (o >= x && o <= output).then(|| o - x)
    };
    for (i, &op) in ops.iter().enumerate().take(output + 1).skip(x + 1) {
        let k = i - x;
        count_kink_read();
        let edges: Vec<(u32, f64)> = rec.edges(i).collect();
        if edges.iter().all(|&(o, _)| at(o).is_none()) {
            continue;
        }
        let t = |o: u32| at(o).map_or(0.0, |j| tangent[j]);
        let h = |o: u32| at(o).is_some_and(|j| hinged[j]);
        let moves = |o: u32| nonzero(t(o)) || h(o);
        let depends_on = |o: u32| at(o).is_some_and(|j| depends[j]);
        let depends_here = edges.iter().any(|&(o, _)| depends_on(o));
        let mut sum = 0.0;
        let mut hinge = false;
        for &(o, p) in &edges {
            let to = t(o);
            if nonzero(to) {
                sum += p * to;
            }
            if h(o) && nonzero(p) {
                hinge = true;
            }
        }
        // A jump carried by an operand: a sum or a scaling carries it on (a
        // scaling by 0 too: that is how `Tape::grad` records a convention at a
        // kink, sign(u)·0 + p, standing for the partial's step); a product
        // carries it on where the other factor is not 0, and where it is 0
        // but moves with x, the product has a kink (2x·H(x)); a factor 0 and
        // flat to first order absorbs it (x²·H(x) is differentiable at 0).
        // Any other op carries it on, wild.
        let jumping = |o: u32| at(o).and_then(|j| jump[j]);
        let is_wild = |o: u32| at(o).is_some_and(|j| wild[j]);
        let lowest =
            |a: Option<(usize, &'static str)>, b: Option<(usize, &'static str)>| match (a, b) {
                (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
                (a, None) => a,
                (None, b) => b,
            };
        let mut carried: Option<(usize, &'static str)> = None;
        let mut wild_here = edges.iter().any(|&(o, _)| is_wild(o));
        let mut hinged_by: Option<&'static str> = None;
        if wild_here || edges.iter().any(|&(o, _)| jumping(o).is_some()) {
            match op {
                crate::Op::Add
                | crate::Op::Sub
                | crate::Op::Neg
                | crate::Op::Sum
                | crate::Op::AddConst
                | crate::Op::SubConst
                | crate::Op::ConstSub
                | crate::Op::MulConst
                | crate::Op::DivConst => {
                    for &(o, _) in &edges {
                        carried = lowest(carried, jumping(o));
                    }
                }
                crate::Op::Mul if edges.len() == 2 => {
                    for (e, &(o, p)) in edges.iter().enumerate() {
                        let Some(source) = jumping(o) else { continue };
                        // The other factor: its value is this edge's partial.
                        let other = edges[1 - e].0;
                        if nonzero(p)
                            || is_wild(o)
                            || !values[o as usize].is_finite()
                            || jumping(other).is_some()
                        {
                            carried = lowest(carried, Some(source));
                        } else if moves(other) {
                            hinged_by = hinged_by.or(Some(source.1));
                        }
                    }
                }
                _ => {
                    for &(o, _) in &edges {
                        carried = lowest(carried, jumping(o));
                    }
                    wild_here |= carried.is_some();
                }
            }
        }
        if let Some(note) = hinged_by {
            kink[k] = Some(note);
            hinge = true;
        }
        if let Some(note) = kink_note(rec, i) {
            let op_moves = match op {
                // A jump, not a kink: signum(x³) at 0 jumps from −1 to 1 though
                // x³ is flat to first order, so its operand counts whenever it
                // depends on x at all; the jump is carried up (above).
                crate::Op::Signum => {
                    if edges.first().is_some_and(|&(o, _)| depends_on(o)) {
                        carried = lowest(carried, Some((i, note)));
                    }
                    false
                }
                // A jump too, in the exponent only: 0^(x²) at 0 is 1, and 0 beside.
                crate::Op::Pow => edges.get(1).is_some_and(|&(o, _)| depends_on(o)),
                // A jump in y only, on atan2's cut: atan2(y³, −1) at 0 jumps
                // from π to −π; atan2(±0, x) is ±π for every x < 0.
                crate::Op::Atan2 | crate::Op::Atan2Const => {
                    edges.first().is_some_and(|&(o, _)| depends_on(o))
                }
                crate::Op::Max | crate::Op::Min => match (edges.first(), edges.get(1)) {
                    (Some(&(a, _)), Some(&(b, _))) => nonzero(t(a) - t(b)) || h(a) || h(b),
                    _ => edges.iter().any(|&(o, _)| moves(o)),
                },
                crate::Op::ReluNeuron if edges.len() % 2 == 1 => {
                    let (&(bias, _), terms) = edges.split_last()?;
                    let mut zt = t(bias);
                    let mut zh = h(bias);
                    for pair in terms.chunks_exact(2) {
                        let (w, v) = (pair[0].0, pair[1].0);
                        zt += t(w) * values[v as usize] + values[w as usize] * t(v);
                        zh |= (h(w) && nonzero(values[v as usize]))
                            || (h(v) && nonzero(values[w as usize]));
                    }
                    nonzero(zt) || zh
                }
                crate::Op::ReluNeuronConst => {
                    let (&(bias, _), terms) = edges.split_last()?;
                    let start = rec.constants.partition_point(|&(c, _)| (c as usize) < i);
                    let kept: Vec<f64> = rec.constants[start..]
                        .iter()
                        .take_while(|&&(c, _)| c as usize == i)
                        .map(|&(_, c)| c)
                        .collect();
                    if kept.len() == terms.len() {
                        let zt = t(bias)
                            + terms
                                .iter()
                                .zip(&kept)
                                .map(|(&(w, _), &c)| c * t(w))
                                .sum::<f64>();
                        let zh = h(bias)
                            || terms
                                .iter()
                                .zip(&kept)
                                .any(|(&(w, _), &c)| h(w) && nonzero(c));
                        nonzero(zt) || zh
                    } else {
                        edges.iter().any(|&(o, _)| moves(o))
                    }
                }
                // One operand: relu, abs, leaky_relu, signum, max/min with a
                // constant, clamp (and a fused neuron of unexpected shape).
                _ => match edges.first() {
                    Some(&(o, _)) if !matches!(op, crate::Op::ReluNeuron) => moves(o),
                    _ => edges.iter().any(|&(o, _)| moves(o)),
                },
            };
            if op_moves {
                kink[k] = Some(note);
                hinge = true;
            }
        }
        tangent[k] = sum;
        hinged[k] = hinge;
        depends[k] = depends_here;
        jump[k] = carried;
        wild[k] = wild_here;
    }
    // Backward: whether the adjoint of a node may be nonzero: the output's is
    // 1; a node's may be, if a consumer's may be and the consumer's partial
    // is nonzero or a convention (the consumer at a kink).
    let mut reaches = vec![false; n];
    reaches[n - 1] = true;
    let mut on_path = vec![false; n];
    on_path[n - 1] = true;
    for i in (x..=output).rev() {
        let k = i - x;
        if !on_path[k] {
            continue;
        }
        let at_kink = kink_note(rec, i).is_some();
        for (e, (o, p)) in rec.edges(i).enumerate() {
            if let Some(j) = at(o) {
                on_path[j] = true;
                if reaches[k] && (nonzero(p) || (at_kink && convention_edge(ops[i], e))) {
                    reaches[j] = true;
                }
            }
        }
    }
    // A kink counts where its adjoint may be nonzero; a jump where it reaches
    // the output's value.
    let kinked = (0..n).find_map(|k| reaches[k].then_some((x + k, kink[k]?)));
    match (kinked, jump[n - 1]) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// For each node of `xs`, what [`kink_affecting`]`(tape, x, output)` gives,
/// found for all of them together: the first node at a kink on a path from x up
/// to `output` that can matter for ∂output/∂x, with its note.
///
/// The same kinks count as for [`kink_affecting`]. Where a signum at its jump
/// lies on a path to the output (a signum of the user's, or a kink's convention
/// in a gradient recorded by `Tape::grad`), whether it counts for x depends on
/// the factors above it and on x (see [`kink_affecting`]): the quantities below
/// a kink are then searched from one by one, as [`kink_affecting`] does.
/// Elsewhere, which of them come first
/// matters only: a kink that matters for x only through a lower one it passes
/// (a kink above a kink) comes after that lower one, which matters too. So a
/// kink matters for x when its operand moves with x to first order (for pow's
/// jump at 0^0, when its exponent depends on x at all; for atan2's on its
/// branch cut, when its y does), and that first
/// order, ∂operand/∂x, is taken for every x at once by one backward sweep from
/// the kink's operand (from the difference of the two, at max's or min's tie;
/// from z, for a fused relu neuron), where [`kink_affecting`] carries a tangent
/// from each x: the same sum of products along the paths, added in another
/// order. Where rounding could decide whether that sum is 0 (a sweep's sum at
/// a node that cancels to 2⁻⁴⁰ of its largest term or below, 0 among them, or
/// a product that underflows or overflows: `relu(x + 1e300·(x − x))` at 0,
/// whose sweep adds 1 + 1e300 − 1e300 = 0 where the tangent is 1 + 1e300·0 =
/// 1), and where a value or partial up to the output is not finite, the
/// quantities below a kink are searched from one by one, as
/// [`kink_affecting`] does. The two then differ only where that tangent
/// overflows though every partial is finite (partials whose product passes
/// `f64::MAX`, 1e300 · 1e300, met by a partial 0: ∞ · 0 is NaN, which
/// [`kink_affecting`] counts as moving, where the sweep multiplies by the 0
/// first and finds no kink).
///
/// # Complexity
/// One backward pass over the nodes up to `output` and their edges, to find the
/// kinks that can matter, then one backward sweep from each such kink, in
/// recording order, while a node of `xs` below it has none yet: over the nodes
/// below it that its operand's derivative reaches with a nonzero value, and no
/// lower than the lowest such node of `xs`; a sweep stops at a kink of one
/// operand (relu, abs, clamp, signum, …) already swept from. Each node is
/// popped from a binary heap, so a sweep of m nodes costs O(m log m). Where
/// the kinks' sweeps do not overlap (a sum of relus, a relu of a sum, a chain
/// of relus, each kink at the point) that is O((nodes + edges) log nodes) in
/// all, where [`kink_affecting`] from each node of `xs` is O(|xs| × nodes);
/// a chain of kinks of two operands (max or min at a tie, fused relu neurons)
/// that each read the last is swept again from each, up to O(kinks × nodes);
/// and where the search falls back to one from each quantity (above), O(|xs|
/// × nodes), as [`kink_affecting`] from each.
///
/// ```
/// let tape = chainrule::Tape::new();
/// let xs: Vec<_> = (0..3).map(|_| tape.var(0.0)).collect();
/// let z = tape.var(1.0);
/// // relu(x₀) + relu(x₁) + relu(x₂) + z at 0: each xᵢ passes its own relu.
/// let y = xs.iter().map(|x| x.relu()).fold(z, |s, r| s + r);
/// let indices: Vec<usize> = xs.iter().chain([&z]).map(|v| v.index()).collect();
/// let kinks = chainrule::explain::kinks_affecting(&tape, &indices, y.index());
/// for (k, &x) in indices.iter().enumerate() {
///     assert_eq!(kinks[k], chainrule::explain::kink_affecting(&tape, x, y.index()));
/// }
/// assert!(kinks[0].is_some() && kinks[3].is_none());
/// ```
pub fn kinks_affecting(
    tape: &Tape,
    xs: &[usize],
    output: usize,
) -> Vec<Option<(usize, &'static str)>> {
    tape.recording
        .read(|rec| kinks_affecting_in(rec, xs, output))
}

#[cfg(test)]
thread_local! {
    /// The nodes read by [`kink_affecting_in`] and [`kinks_affecting_in`]:
    /// their work, counted by the tests.
    pub(crate) static KINK_NODES_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Counts a node read in a search for kinks (tests only).
#[inline]
fn count_kink_read() {
    #[cfg(test)]
    KINK_NODES_READ.with(|c| c.set(c.get() + 1));
}

/// How a kink's operand is followed down: by its first-order derivative from
/// these seeds (node, weight), or structurally (whether it depends on x at all).
enum Sweep {
    Derivative(Vec<(usize, f64)>),
    Structure(usize),
}

pub(crate) fn kinks_affecting_in(
    rec: &crate::tape::Recording,
    xs: &[usize],
    output: usize,
) -> Vec<Option<(usize, &'static str)>> {
    let mut found: Vec<Option<(usize, &'static str)>> = vec![None; xs.len()];
    if output >= rec.len() {
        return found;
    }
    let n = output + 1;
    let values = rec.values();
    let ops = rec.ops();
    let nonzero = |v: f64| v != 0.0; // NaN and ±∞ count as nonzero
    const NONE: u32 = u32::MAX;
    // The distinct nodes asked for below the output, ascending; `target[i]` is
    // node i's place among them, `kink_of` what was found for each.
    let mut targets: Vec<usize> = xs.iter().copied().filter(|&x| x < output).collect();
    targets.sort_unstable();
    targets.dedup();
    let mut target = vec![NONE; n];
    for (t, &x) in targets.iter().enumerate() {
        target[x] = t as u32;
    }
    let mut kink_of: Vec<Option<(usize, &'static str)>> = vec![None; targets.len()];
    let mut left = targets.len();
    // The lowest target with no kink yet: `targets[low]`.
    let mut low = 0;

    // Backward, as `kink_affecting_in`'s second pass (which depends on the
    // output alone, not on x): the kinks that can matter.
    // And whether every value and partial there is finite, and which nodes
    // lie below a kink that can matter (only they can pass one).
    let mut reaches = vec![false; n];
    let mut on_path = vec![false; n];
    let mut below = vec![false; n];
    let mut note: Vec<Option<&'static str>> = vec![None; n];
    let mut finite = true;
    reaches[n - 1] = true;
    on_path[n - 1] = true;
    for i in (0..n).rev() {
        if !on_path[i] {
            continue;
        }
        count_kink_read();
        note[i] = kink_note(rec, i);
        finite &= values[i].is_finite();
        let counts = note[i].is_some()
            && if matches!(ops[i], crate::Op::Signum) {
                on_path[i]
            } else {
                reaches[i]
            };
        for (e, (o, p)) in rec.edges(i).enumerate() {
            let o = o as usize;
            on_path[o] = true;
            finite &= p.is_finite();
            if reaches[i] && (nonzero(p) || (note[i].is_some() && convention_edge(ops[i], e))) {
                reaches[o] = true;
            }
            if below[i] || counts {
                below[o] = true;
            }
        }
    }
    // With a partial or a value that is not finite, the tangent from x and
    // the sweep down from a kink need not agree on what is 0 (a tangent NaN
    // times a partial 0 is NaN; from above, the 0 comes first): each node
    // below a kink is searched from, as `kink_affecting` does.
    let one_by_one = |found: &mut Vec<Option<(usize, &'static str)>>| {
        for (k, &x) in xs.iter().enumerate() {
            if x < output && below[x] {
                found[k] = kink_affecting_in(rec, x, output);
            }
        }
    };
    // A signum's jump (a kink's convention in a recorded gradient, as
    // `Tape::grad` records it) matters for x or not by what multiplies it
    // above, which depends on x (a factor 0 that moves with x, or not): each
    // node below it is searched from, as `kink_affecting` does.
    let jumps = (0..n).any(|i| on_path[i] && note[i].is_some() && ops[i] == crate::Op::Signum);
    if !finite || jumps {
        one_by_one(&mut found);
        return found;
    }
    let counts = |i: usize| -> bool {
        note[i].is_some()
            && if matches!(ops[i], crate::Op::Signum) {
                on_path[i]
            } else {
                reaches[i]
            }
    };
    // A kink swept from that has one operand: an x below it that it did not
    // find moves it by 0 (its tangent there is 0), so nothing above it moves
    // with that x through it, and a sweep stops there. (A signum found every x
    // its operand depends on: a structural sweep stops there too.)
    let one_operand = |i: usize| -> bool {
        matches!(
            ops[i],
            crate::Op::Abs
                | crate::Op::Relu
                | crate::Op::LeakyRelu
                | crate::Op::Signum
                | crate::Op::MaxConst
                | crate::Op::MinConst
                | crate::Op::Clamp
        )
    };

    let mut adjoint = vec![0.0f64; n];
    // The largest contribution each node's adjoint received in this sweep:
    // where the sum cancels far below it (to 0, say), rounding may decide
    // whether it is 0, and the forward tangent of `kink_affecting`, the same
    // sum in another order, may not agree (`relu(x + 1e300·(x − x))` at 0:
    // 1 + 1e300 − 1e300 is 0 here, 1 + 1e300·0 is 1 there).
    let mut largest = vec![0.0f64; n];
    // Set where that (or a product's underflow or overflow) happened: the
    // quantities below a kink are then searched from one by one.
    let mut rounding_decides = false;
    let mut queued = vec![false; n];
    let mut touched: Vec<usize> = Vec::new();
    let mut heap: std::collections::BinaryHeap<usize> = std::collections::BinaryHeap::new();
    'kinks: for k in 0..n {
        if left == 0 {
            break;
        }
        if !counts(k) {
            continue;
        }
        while low < targets.len() && kink_of[low].is_some() {
            low += 1;
        }
        let Some(&lowest) = targets.get(low) else {
            break;
        };
        if k <= lowest {
            continue;
        }
        let kink = (k, note[k].unwrap_or_default());
        let edges: Vec<(usize, f64)> = rec.edges(k).map(|(o, p)| (o as usize, p)).collect();
        let op = ops[k];
        // The sweeps of `kink_affecting_in`'s `op_moves`, without its hinges.
        let each = |edges: &[(usize, f64)]| -> Vec<Sweep> {
            edges
                .iter()
                .map(|&(o, _)| Sweep::Derivative(vec![(o, 1.0)]))
                .collect()
        };
        let sweeps: Vec<Sweep> = match op {
            crate::Op::Signum => edges
                .first()
                .map(|&(o, _)| Sweep::Structure(o))
                .into_iter()
                .collect(),
            crate::Op::Pow => edges
                .get(1)
                .map(|&(o, _)| Sweep::Structure(o))
                .into_iter()
                .collect(),
            crate::Op::Atan2 | crate::Op::Atan2Const => edges
                .first()
                .map(|&(o, _)| Sweep::Structure(o))
                .into_iter()
                .collect(),
            crate::Op::Max | crate::Op::Min => match (edges.first(), edges.get(1)) {
                (Some(&(a, _)), Some(&(b, _))) => {
                    vec![Sweep::Derivative(vec![(a, 1.0), (b, -1.0)])]
                }
                _ => each(&edges),
            },
            crate::Op::ReluNeuron if edges.len() % 2 == 1 => {
                let (&(bias, _), terms) = edges.split_last().unwrap_or((&(0, 0.0), &[]));
                let mut seeds = vec![(bias, 1.0)];
                for pair in terms.chunks_exact(2) {
                    let (w, v) = (pair[0].0, pair[1].0);
                    seeds.push((w, values[v]));
                    seeds.push((v, values[w]));
                }
                vec![Sweep::Derivative(seeds)]
            }
            crate::Op::ReluNeuronConst => {
                let (&(bias, _), terms) = edges.split_last().unwrap_or((&(0, 0.0), &[]));
                let start = rec.constants.partition_point(|&(c, _)| (c as usize) < k);
                let kept: Vec<f64> = rec.constants[start..]
                    .iter()
                    .take_while(|&&(c, _)| c as usize == k)
                    .map(|&(_, c)| c)
                    .collect();
                if !edges.is_empty() && kept.len() == terms.len() {
                    let mut seeds = vec![(bias, 1.0)];
                    seeds.extend(terms.iter().zip(&kept).map(|(&(w, _), &c)| (w, c)));
                    vec![Sweep::Derivative(seeds)]
                } else {
                    each(&edges)
                }
            }
            crate::Op::ReluNeuron => each(&edges),
            _ => match edges.first() {
                Some(&(o, _)) => vec![Sweep::Derivative(vec![(o, 1.0)])],
                None => Vec::new(),
            },
        };
        for sweep in sweeps {
            match sweep {
                Sweep::Derivative(seeds) => {
                    for (o, w) in seeds {
                        if o >= lowest && nonzero(w) {
                            if !queued[o] {
                                queued[o] = true;
                                touched.push(o);
                                heap.push(o);
                            }
                            adjoint[o] += w;
                            largest[o] = largest[o].max(w.abs());
                        }
                    }
                    while let Some(j) = heap.pop() {
                        count_kink_read();
                        let a = adjoint[j];
                        // Every node queued here received a nonzero term.
                        if !a.is_finite() || a.abs() <= largest[j] * CANCELLED {
                            rounding_decides = true;
                            break 'kinks;
                        }
                        if target[j] != NONE && kink_of[target[j] as usize].is_none() {
                            kink_of[target[j] as usize] = Some(kink);
                            left -= 1;
                        }
                        if counts(j) && one_operand(j) {
                            continue;
                        }
                        for (o, p) in rec.edges(j) {
                            let o = o as usize;
                            let c = a * p;
                            if o < lowest {
                                continue;
                            }
                            if c == 0.0 {
                                if p != 0.0 {
                                    // a·p underflowed.
                                    rounding_decides = true;
                                    break 'kinks;
                                }
                                continue;
                            }
                            if !queued[o] {
                                queued[o] = true;
                                touched.push(o);
                                heap.push(o);
                            }
                            adjoint[o] += c;
                            largest[o] = largest[o].max(c.abs());
                        }
                    }
                }
                Sweep::Structure(from) => {
                    if from >= lowest {
                        queued[from] = true;
                        touched.push(from);
                        heap.push(from);
                    }
                    while let Some(j) = heap.pop() {
                        count_kink_read();
                        if target[j] != NONE && kink_of[target[j] as usize].is_none() {
                            kink_of[target[j] as usize] = Some(kink);
                            left -= 1;
                        }
                        if counts(j) && matches!(ops[j], crate::Op::Signum) {
                            continue;
                        }
                        for (o, _) in rec.edges(j) {
                            let o = o as usize;
                            if o >= lowest && !queued[o] {
                                queued[o] = true;
                                touched.push(o);
                                heap.push(o);
                            }
                        }
                    }
                }
            }
            for j in touched.drain(..) {
                queued[j] = false;
                adjoint[j] = 0.0;
                largest[j] = 0.0;
            }
        }
    }
    if rounding_decides {
        one_by_one(&mut found);
        return found;
    }
    for (k, &x) in xs.iter().enumerate() {
        if x < output {
            found[k] = kink_of[target[x] as usize];
        }
    }
    found
}

/// A sum of adjoint terms at most this fraction of its largest term (2⁻⁴⁰)
/// may owe its size, or its being 0, to the order of the additions (each
/// rounds by 2⁻⁵³ of the terms): see [`kinks_affecting`].
const CANCELLED: f64 = 9.094947017729282e-13;

/// The note on a fused relu neuron `i` whose value is 0 (z ≤ 0): at z = 0
/// exactly relu′ is a convention. z is recomputed as it was recorded (the same
/// operations in the same order); over constant inputs that the tape did not
/// keep, the tape holds only that z ≤ 0, and the note says so.
fn relu_neuron_kink(rec: &crate::tape::Recording, i: usize) -> Option<&'static str> {
    let values = rec.values();
    let edges: Vec<(u32, f64)> = rec.edges(i).collect();
    let (&(bias, _), terms) = edges.split_last()?;
    let bias = values[bias as usize];
    let z = if rec.ops()[i] == crate::Op::ReluNeuron {
        if terms.len() % 2 != 0 {
            return None;
        }
        let products = terms
            .chunks_exact(2)
            .map(|pair| values[pair[0].0 as usize] * values[pair[1].0 as usize]);
        crate::fused::sum_then_bias(products, bias)
    } else {
        let at = rec.constants.partition_point(|&(n, _)| (n as usize) < i);
        let kept: Vec<f64> = rec.constants[at..]
            .iter()
            .take_while(|&&(n, _)| n as usize == i)
            .map(|&(_, c)| c)
            .collect();
        if kept.len() != terms.len() {
            return Some(
                "relu′(z) for z ≤ 0: 0 for z < 0, a convention at z = 0 (the derivative \
                 does not exist there); the tape does not keep this neuron's constant \
                 inputs, so not which",
            );
        }
        let products = terms
            .iter()
            .zip(&kept)
            .map(|(&(w, _), &c)| values[w as usize] * c);
        crate::fused::sum_then_bias(products, bias)
    };
    (z == 0.0).then_some("relu′(0): a convention; the derivative does not exist here")
}

/// The readable names of nodes `indices` of `tape`, as
/// [`readable_name`] gives them, with one look at the labels for all.
#[cfg(feature = "html")]
pub(crate) fn readable_names(tape: &Tape, indices: &[usize]) -> Vec<String> {
    let labels = tape.label_map();
    tape.recording.read(|rec| {
        let namer = Namer::new(rec, &labels);
        indices
            .iter()
            .map(|&index| {
                if index < rec.len() {
                    namer.name(index)
                } else {
                    format!("#{index}")
                }
            })
            .collect()
    })
}

/// The formulas of nodes `indices` of `tape` (ascending), each one level deep
/// over its operands: a drawn operand (one of `indices`) by its name in
/// `names`, one not drawn by its label or short expression
/// ([`readable_name`]'s, when it has one) or else its value: `3·x`,
/// `sin(0.84147098)`.
#[cfg(feature = "html")]
pub(crate) fn formulas(tape: &Tape, indices: &[usize], names: &[String]) -> Vec<String> {
    let labels = tape.label_map();
    tape.recording.read(|rec| {
        let plain = Namer::new(rec, &labels);
        let operand = |o: usize| match indices.binary_search(&o) {
            Ok(k) => names[k].clone(),
            Err(_) => plain
                .readable(o)
                .unwrap_or_else(|| format_number(rec.values()[o], 8)),
        };
        let namer = Namer::new(rec, &labels).with_operand_names(&operand);
        indices
            .iter()
            .map(|&i| {
                if i < rec.len() {
                    namer.formula(i)
                } else {
                    format!("#{i}")
                }
            })
            .collect()
    })
}

/// The readable name of node `index` of `tape` (see [names](self#names)).
pub(crate) fn readable_name(tape: &Tape, index: usize) -> String {
    let labels = tape.label_map();
    tape.recording.read(|rec| {
        if index < rec.len() {
            Namer::new(rec, &labels).name(index)
        } else {
            format!("#{index}")
        }
    })
}

/// Which of `children`, the operands of one node (ids of a graph whose every
/// edge runs to a lower id, as a tape's or a factor graph's), the node also
/// reaches through another of them: `reached[k]` for `children[k]`. A walk of
/// the ids `below(p)` gives (the ids one edge below `p`), from the children's
/// operands down to the lowest child, each id visited once; nothing recurses.
///
/// The partial of the node along the edge to such a child is its direct
/// partial, the other operands held fixed, not the total derivative of the
/// node with respect to that child: it is written `∂f/∂x|direct` ([`DIRECT`]).
pub(crate) fn reached_through_another<I>(
    children: &[usize],
    mut below: impl FnMut(usize) -> I,
) -> Vec<bool>
where
    I: IntoIterator<Item = usize>,
{
    let mut reached = vec![false; children.len()];
    let (Some(&lo), Some(&hi)) = (children.iter().min(), children.iter().max()) else {
        return reached;
    };
    if lo == hi {
        return reached; // one operand (used once or several times): no other
    }
    // Ids from `lo` up to `hi` (nothing above the highest child is below one).
    let mut seen = vec![0u64; (hi - lo) / 64 + 1];
    let mut visit = |q: usize, stack: &mut Vec<usize>| {
        if (lo..=hi).contains(&q) {
            let (word, bit) = ((q - lo) / 64, 1u64 << ((q - lo) % 64));
            if seen[word] & bit == 0 {
                seen[word] |= bit;
                stack.push(q);
            }
        }
    };
    let mut stack = Vec::new();
    for &c in children {
        for q in below(c) {
            visit(q, &mut stack);
        }
    }
    while let Some(p) = stack.pop() {
        for q in below(p) {
            visit(q, &mut stack);
        }
    }
    for (flag, &c) in reached.iter_mut().zip(children) {
        *flag = seen[(c - lo) / 64] & (1u64 << ((c - lo) % 64)) != 0;
    }
    reached
}

/// For each edge of node `node` of `tape`, in order, whether the node also
/// reaches that edge's operand through another of its operands (see
/// [`reached_through_another`]): the edge's partial is then the direct one.
/// Empty for an index past the end.
pub(crate) fn direct_edges(tape: &Tape, node: usize) -> Vec<bool> {
    tape.recording.read(|rec| {
        if node >= rec.len() {
            return Vec::new();
        }
        let children: Vec<usize> = rec.edges(node).map(|(o, _)| o as usize).collect();
        reached_through_another(&children, |p| rec.edges(p).map(|(o, _)| o as usize))
    })
}

/// Builds the explanation of ∂output/∂input; `adjoints` are the tape's
/// gradients from the output (∂output/∂node by node index, as the sweep left
/// them), which the paths' products follow (see [`Path::product`]).
fn explain_on_tape(
    tape: &Tape,
    output: usize,
    input: usize,
    adjoints: &[f64],
    options: ExplainOptions,
) -> Explanation {
    let mut explanation = Explanation {
        output,
        input,
        gradient: adjoints.get(input).copied().unwrap_or(0.0),
        path_count: 0,
        saturated: false,
        paths: Vec::new(),
        branches: Vec::new(),
        names: HashMap::new(),
        kinks: HashMap::new(),
        masks: HashMap::new(),
        zero: ZeroSet::default(),
        direct: std::collections::HashSet::new(),
        local: None,
        options,
    };
    // The subgraph numbers edges with u32: refused here, outside the arena
    // cell, where a cast could wrap (see `Recording::edges_fit_u32`).
    if !tape.recording.read(|rec| rec.edges_fit_u32()) {
        too_many_edges_to_explain(tape.edge_count());
    }
    let labels = tape.label_map();
    let net_labels = tape.net_label_map();
    // Nothing in this closure calls a method of the tape (the arena is not
    // re-entrant): the labels were borrowed above.
    tape.recording.read(|rec| {
        let namer = Namer::new(rec, &labels).with_net_labels(&net_labels);
        let mut wanted: Vec<Quantity> = vec![Quantity::Node(output), Quantity::Node(input)];
        if input <= output && output < rec.len() {
            let split = |i: usize| options.labelled_only && net_labels.contains_key(&(i as u32));
            let sub = Subgraph::build(rec, input, output, split);
            let ends = (sub.index.first(), sub.index.last(), sub.net.last());
            // Without a path, the input is not an ancestor or the output not kept.
            if ends == (Some(&(input as u32)), Some(&(output as u32)), Some(&false)) {
                let graph = factor_graph(&sub, &namer, &net_labels, options, adjoints);
                // The factor graph names its nodes itself: the subgraph can go.
                drop(sub);
                // Whether each shown quantity's gradient from the output is 0:
                // for a net, the neuron's times a′(z), exactly 0 when masked.
                let zero: Vec<bool> = (0..graph.len())
                    .map(|id| gradient_of(rec, adjoints, graph.quantity(id)) == 0.0)
                    .collect();
                list_paths(&mut explanation, graph, &zero);
            }
        }
        // Every quantity of the listed factors is named where they are few
        // (the "where" sections write a path's stretches in full, and a
        // labelled node left out here read `#28`); a very long path only at
        // its ends, which are all that is written of it.
        let factors: usize = explanation.paths.iter().map(|p| p.factors.len()).sum();
        let name_all = factors <= NAME_EVERY_FACTOR_UP_TO;
        for path in &explanation.paths {
            let k = path.factors.len();
            for (j, factor) in path.factors.iter().enumerate() {
                if name_all || j < SHOWN_AT_EACH_END || j + SHOWN_AT_EACH_END >= k {
                    wanted.push(factor.of);
                    wanted.push(factor.wrt);
                }
            }
            // The notable factors of an elided middle are named in its marker.
            let at_kink = |f: &Factor| match f.of {
                Quantity::Node(i) => kink_note(rec, i).is_some(),
                Quantity::Net(_) => false,
            };
            for factor in notable_in_middle(path, at_kink).0 {
                wanted.push(factor.of);
                wanted.push(factor.wrt);
            }
        }
        for path in &explanation.paths {
            for factor in &path.factors {
                if let Quantity::Node(i) = factor.of {
                    if let Some(note) = kink_note(rec, i) {
                        explanation.kinks.insert(i, note);
                    }
                }
            }
        }
        // One local derivative of an op on the input: its terms, one per use
        // of the input, and the op's rule where the unary table has one.
        if let [path] = explanation.paths.as_slice() {
            if let [factor] = path.factors.as_slice() {
                if (factor.of, factor.wrt) == (Quantity::Node(output), Quantity::Node(input)) {
                    let terms: Vec<f64> = rec
                        .edges(output)
                        .filter(|&(o, _)| o as usize == input)
                        .map(|(_, p)| p)
                        .collect();
                    let op = rec.ops()[output];
                    // (None where the op's value is NaN, outside its domain:
                    // the partial is the rule's formula there, no derivative.)
                    let rule = crate::ops::UNARY
                        .iter()
                        .find(|r| r.op == op && !rec.values()[output].is_nan())
                        .map(|r| (r.formula, r.derivative));
                    explanation.local = Some((terms, rule));
                }
            }
        }
        wanted.extend(explanation.branches.iter().map(|b| b.through));
        for q in wanted {
            explanation.names.entry(q).or_insert_with(|| match q {
                Quantity::Node(i) if i < rec.len() => (namer.name(i), namer.name_as_operand(i)),
                Quantity::Node(i) => (format!("#{i}"), format!("#{i}")),
                Quantity::Net(i) => {
                    let name = namer.net_name(i);
                    (name.clone(), name)
                }
            });
        }
    });
    make_names_unique(&mut explanation.names);
    explanation
}

/// Up to this many factors over the listed paths, every quantity in them is
/// named (else only those at the ends of a path, which are all that is
/// written of a very long one).
const NAME_EVERY_FACTOR_UP_TO: usize = 4096;

/// The tape's gradient of quantity `q` from the output, `adjoints` being the
/// sweep's: for a net, its neuron's times a′(z) (exactly 0 when masked).
fn gradient_of(rec: &crate::tape::Recording, adjoints: &[f64], q: Quantity) -> f64 {
    let adjoint = |i: usize| adjoints.get(i).copied().unwrap_or(0.0);
    match q {
        Quantity::Node(i) => adjoint(i),
        Quantity::Net(i) => {
            let op = rec.ops()[i];
            let last = rec.edges(i).last().map_or(0.0, |e| e.1);
            let masked = crate::backward::is_masked(op, last, last);
            crate::backward::contribution(adjoint(i), last, masked)
        }
    }
}

/// Appends `#index` (`#net{index}` for a net) to every name shared by two
/// distinct quantities: `exp(a)#2` and `exp(a)#4` for two nodes computing
/// `exp(a)`, so that one name never stands for two quantities.
fn make_names_unique(names: &mut HashMap<Quantity, (String, String)>) {
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (plain, _) in names.values() {
        *by_name.entry(plain.as_str()).or_default() += 1;
    }
    let shared: std::collections::HashSet<String> = by_name
        .into_iter()
        .filter(|&(_, n)| n > 1)
        .map(|(name, _)| name.to_string())
        .collect();
    if shared.is_empty() {
        return;
    }
    for (quantity, (plain, operand)) in names.iter_mut() {
        if shared.contains(plain.as_str()) {
            let suffix = match quantity {
                Quantity::Node(i) => format!("#{i}"),
                Quantity::Net(i) => format!("#net{i}"),
            };
            plain.push_str(&suffix);
            operand.push_str(&suffix);
        }
    }
}

/// Counts and lists the paths of `graph` into `explanation`, and its branches;
/// `zero[id]` says whether shown node `id`'s gradient from the output is 0.
fn list_paths(explanation: &mut Explanation, graph: FactorGraph, zero: &[bool]) {
    let m = graph.len();
    let quantity = |id: usize| graph.quantity(id);
    // Paths to the input and their summed products, in ascending (topological)
    // order. Masked factors pass 0, which is all the policy asks while every
    // factor is finite; otherwise the branches are summed from the top down.
    let mut count = vec![0u128; m];
    let mut to_input = vec![0.0f64; m];
    count[0] = 1;
    to_input[0] = 1.0;
    let mut saturated = false;
    let mut finite = true;
    for id in 1..m {
        let (mut c, mut v) = (0u128, 0.0);
        for e in graph.edges(id) {
            c = c.checked_add(count[e.to as usize]).unwrap_or_else(|| {
                saturated = true;
                u128::MAX
            });
            finite &= e.value.is_finite();
            if !e.masked {
                v += e.value * to_input[e.to as usize];
            }
        }
        count[id] = c;
        to_input[id] = v;
    }
    let top = m - 1;
    explanation.path_count = count[top];
    explanation.saturated = saturated && count[top] == u128::MAX;

    // Branches: down the shared stretch from the output to where paths part.
    let mut id = top;
    let mut prefix = Some(1.0); // None once absorbed (see `step`)
    while id != 0 && graph.edges(id).len() == 1 {
        let e = graph.edges(id)[0];
        prefix = prefix.and_then(|p| step(p, e.value, e.masked, zero[e.to as usize]));
        id = e.to as usize;
    }
    if id == 0 {
        explanation.branches.push(Branch {
            through: quantity(0),
            paths: 1,
            contribution: prefix.unwrap_or(0.0),
        });
    } else {
        let mut scratch: Vec<Option<f64>> = Vec::new();
        for e in graph.edges(id) {
            let to = e.to as usize;
            let contribution = match prefix.and_then(|p| step(p, e.value, e.masked, zero[to])) {
                None => 0.0,
                Some(start) => {
                    let bottom_up = start * to_input[to];
                    if finite && bottom_up.is_normal() && start.is_normal() {
                        bottom_up
                    } else {
                        // Not finite, or over- or underflowed from the bottom
                        // up: from the top down, as the sweep does.
                        sweep_down(&graph, to, start, zero, &mut scratch)
                    }
                }
            };
            explanation.branches.push(Branch {
                through: quantity(to),
                paths: count[to],
                contribution,
            });
        }
    }
    drop((count, to_input));

    // List: an iterative depth-first walk from the output (every shown node
    // reaches the input). Invariant: `current.len() + 1 == stack.len()`.
    let wanted = explanation
        .path_count
        .min(explanation.options.max_paths as u128) as usize;
    if wanted == 0 {
        return;
    }
    let mut stack: Vec<(u32, u32)> = vec![(top as u32, 0)];
    let mut current: Vec<Factor> = Vec::new();
    let mut zero_listed = ZeroSet::default();
    // Per shown node met with several factors below it: which of them are
    // direct partials (the node reaches their lower node another way too).
    let mut direct_below: HashMap<usize, Vec<bool>> = HashMap::new();
    while let Some(frame) = stack.last_mut() {
        let (id, next) = (frame.0 as usize, frame.1 as usize);
        if id == 0 {
            // From the top down: factor k runs to the node of stack frame k + 1.
            let mut product = 1.0;
            for (f, frame) in current.iter().zip(&stack[1..]) {
                match step(product, f.value, f.masked, zero[frame.0 as usize]) {
                    Some(next) => product = next,
                    None => {
                        product = 0.0;
                        break;
                    }
                }
            }
            if explanation.paths.len() + 1 == wanted {
                // The last one: moved, not copied (a path may be millions long).
                explanation.paths.push(Path {
                    factors: std::mem::take(&mut current),
                    product,
                });
                break;
            }
            explanation.paths.push(Path {
                factors: current.clone(),
                product,
            });
            stack.pop();
            current.pop();
            continue;
        }
        match graph.edges(id).get(next) {
            Some(e) => {
                frame.1 += 1;
                let to = e.to as usize;
                if zero[to] {
                    zero_listed.insert(quantity(to));
                }
                if graph.edges(id).len() > 1 {
                    let direct = direct_below.entry(id).or_insert_with(|| {
                        let children: Vec<usize> =
                            graph.edges(id).iter().map(|e| e.to as usize).collect();
                        reached_through_another(&children, |p| {
                            graph.edges(p).iter().map(|e| e.to as usize)
                        })
                    });
                    if direct[next] {
                        explanation.direct.insert((quantity(id), quantity(to)));
                    }
                }
                if e.masked {
                    explanation
                        .masks
                        .insert((quantity(id), quantity(to)), e.mask);
                }
                current.push(Factor {
                    of: quantity(id),
                    wrt: quantity(to),
                    value: e.value,
                    masked: e.masked,
                });
                stack.push((e.to, 0));
            }
            None => {
                stack.pop();
                current.pop();
            }
        }
    }
    zero_listed.finish();
    explanation.zero = zero_listed;
}

/// What the paths from shown node `from` down to the input contribute, starting
/// from `start` at `from`: a sweep from the top down under the non-finite
/// policy, as the tape's (a sum that is exactly 0 at a node whose gradient is
/// not 0 passes nothing on). `scratch` is reused between calls.
fn sweep_down(
    graph: &FactorGraph,
    from: usize,
    start: f64,
    zero: &[bool],
    scratch: &mut Vec<Option<f64>>,
) -> f64 {
    scratch.clear();
    scratch.resize(from + 1, None);
    scratch[from] = Some(start);
    for id in (1..=from).rev() {
        let Some(adjoint) = scratch[id] else {
            continue;
        };
        if adjoint == 0.0 && !zero[id] {
            continue;
        }
        for e in graph.edges(id) {
            let c = crate::backward::contribution(adjoint, e.value, e.masked);
            let slot = &mut scratch[e.to as usize];
            *slot = Some(slot.map_or(c, |s| s + c));
        }
    }
    scratch[0].unwrap_or(0.0)
}

impl Explanation {
    /// The output `y` (a node index).
    pub fn output(&self) -> usize {
        self.output
    }

    /// The node `x` the output is differentiated with respect to.
    pub fn input(&self) -> usize {
        self.input
    }

    /// ∂y/∂x as the tape's backward sweep computed it: the sum over all paths.
    pub fn gradient(&self) -> f64 {
        self.gradient
    }

    /// The number of paths from `y` to `x` over the shown quantities (parallel
    /// edges merged), counted without listing them; `u128::MAX` if the count
    /// saturated (see [`count_saturated`](Self::count_saturated)).
    pub fn path_count(&self) -> u128 {
        self.path_count
    }

    /// Whether there are more paths than a `u128` counts (the count is then
    /// `u128::MAX`, a lower bound).
    pub fn count_saturated(&self) -> bool {
        self.saturated
    }

    /// The listed paths, in depth-first order (operands in order).
    pub fn paths(&self) -> &[Path] {
        &self.paths
    }

    /// How many paths were counted but not listed (a lower bound when the
    /// count saturated: [`count_saturated`](Self::count_saturated)).
    pub fn left_out(&self) -> u128 {
        self.path_count - self.paths.len() as u128
    }

    /// The sum of the listed paths' products: ∂y/∂x, up to rounding, when every
    /// path is listed and no term is infinite or NaN (the sweep sums at each
    /// node before multiplying on, and Σ aᵢ · ∞ is not (Σ aᵢ) · ∞; `Display`
    /// then gives the tape's gradient as well).
    pub fn listed_sum(&self) -> f64 {
        sum_from_zero(self.paths.iter().map(|p| p.product))
    }

    /// The options the explanation was made with.
    pub fn options(&self) -> ExplainOptions {
        self.options
    }

    /// The paths grouped by their first step after the point where the paths
    /// from the output first part (one branch if there is a single path), with
    /// what each group contributes: computed for every path, listed or not.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.5).named("x");
    /// let a = x.sin().named("a");
    /// let b = x.exp().named("b");
    /// let y = (a * b).named("y");
    /// let branches = y.backward().explain(x).branches().to_vec();
    /// assert_eq!(branches.len(), 2);
    /// assert_eq!(branches[0].through, chainrule::explain::Quantity::Node(a.index()));
    /// assert_eq!(branches[0].contribution, b.value() * 0.5f64.cos());
    /// ```
    pub fn branches(&self) -> &[Branch] {
        &self.branches
    }

    /// The name of a quantity written in the explanation (the output, the
    /// input, the quantities of the written factors): its label, a readable
    /// expression, or `op#index` (see the [module documentation](self#names));
    /// `#index` for one not written.
    ///
    /// ```
    /// use chainrule::explain::Quantity;
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0);
    /// let y = tape.var(3.0).named("y");
    /// let z = (x * y).sin();
    /// let explanation = z.backward().explain(x);
    /// assert_eq!(explanation.name(Quantity::Node(z.index())), "sin(x₀·y)");
    /// assert_eq!(explanation.name(Quantity::Node(x.index())), "x₀");
    /// ```
    pub fn name(&self, quantity: impl Into<Quantity>) -> String {
        let quantity = quantity.into();
        self.names
            .get(&quantity)
            .map_or_else(|| format!("#{}", quantity.index()), |n| n.0.clone())
    }

    /// What follows a factor's value, in parentheses: its mask tag and its
    /// kink note ("" for neither). signum's tag alone, `signum′ = 0`, is left
    /// out at signum's jump, where it has no derivative and the kink note
    /// says so (the two read as a contradiction).
    fn factor_notes(&self, f: &Factor) -> String {
        let tag = f.masked.then(|| self.mask_tag(f));
        match (tag, self.kink(f)) {
            (Some(tag), Some(note)) if tag == MASKS[4].1 => format!(" ({note})"),
            (Some(tag), Some(note)) => format!(" ({tag}; {note})"),
            (Some(tag), None) => format!(" ({tag})"),
            (None, Some(note)) => format!(" ({note})"),
            (None, None) => String::new(),
        }
    }

    /// How a product marks a masked factor: the tags ([`mask_tag`]) of the
    /// ops that pass its 0, `masked, not picked` where a relu masks it and a
    /// max does not pick it.
    fn mask_tag(&self, factor: &Factor) -> String {
        let mask = self
            .masks
            .get(&(factor.of, factor.wrt))
            .copied()
            .unwrap_or(0);
        let words = mask_words(mask, |e| e.1);
        if words.is_empty() {
            "not picked".to_string()
        } else {
            words.join(", ")
        }
    }

    /// The note on a listed factor whose value is a convention at a kink of its
    /// upper node (abs, relu, leaky_relu or signum at 0, a fused relu neuron or
    /// layer at z = 0, max or min at a tie of two distinct nodes, clamp at a
    /// bound, pow at 0^0, atan2 on its branch cut, y = ±0 with x < 0, on both its
    /// factors: the note says ∂/∂x there is exact): `relu′(0): a convention; the
    /// derivative does not exist here`. A
    /// relu neuron over constant inputs that the tape did not keep
    /// ([`Tape::set_keep_constants`]) and z ≤ 0 says that it cannot tell z = 0
    /// from z < 0. `None` for any other factor. Display writes it after the
    /// value.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0).named("x");
    /// let r = x.relu().named("r");
    /// let y = (r * 3.0).named("y");
    /// let explanation = y.backward().explain(x);
    /// let factor = explanation.paths()[0].factors[1]; // ∂r/∂x
    /// assert_eq!(
    ///     explanation.kink(&factor),
    ///     Some("relu′(0): a convention; the derivative does not exist here")
    /// );
    /// assert_eq!(explanation.kink(&explanation.paths()[0].factors[0]), None);
    /// ```
    pub fn kink(&self, factor: &Factor) -> Option<&'static str> {
        match factor.of {
            Quantity::Node(i) => self.kinks.get(&i).copied(),
            Quantity::Net(_) => None,
        }
    }

    /// Whether a listed factor ∂of/∂wrt is a direct partial: `of` also depends
    /// on `wrt` through another quantity the explanation shows, so the factor
    /// is the partial with that route held fixed, not the total derivative of
    /// `of` with respect to `wrt`. `Display` writes it `∂of/∂wrt|direct`
    /// ([`DIRECT`]). `false` for a factor not listed.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0).named("x");
    /// let y = tape.var(5.0).named("y");
    /// let t = (x * y).named("t");
    /// let f = (t * x).named("f"); // f reaches x directly and through t
    /// let explanation = f.backward().explain(x);
    /// let direct = explanation.paths()[1].factors[0]; // ∂f/∂x with t held fixed
    /// assert_eq!((direct.value, explanation.gradient()), (10.0, 20.0));
    /// assert!(explanation.is_direct(&direct));
    /// assert!(!explanation.is_direct(&explanation.paths()[0].factors[0])); // ∂f/∂t
    /// assert!(explanation.to_string().contains("+ ∂f/∂x|direct\n"));
    /// ```
    pub fn is_direct(&self, factor: &Factor) -> bool {
        self.direct.contains(&(factor.of, factor.wrt))
    }

    /// The name as the operand of ∂: parenthesised when it is a compound
    /// expression (`∂(x·y)`).
    pub(crate) fn operand_name(&self, quantity: Quantity) -> String {
        self.names
            .get(&quantity)
            .map_or_else(|| format!("#{}", quantity.index()), |n| n.1.clone())
    }

    /// The derivation as written by [`Display`](fmt::Display): every listed path
    /// as a chain of factors, with the stretch that all paths share factored out
    /// when every path is listed. Cost: O(listed factors).
    ///
    /// ```
    /// use chainrule::explain::Quantity;
    ///
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.5).named("x");
    /// let u = x.sigmoid().named("u");
    /// let s = u.sin().named("s");
    /// let e = u.exp().named("e");
    /// let y = (s * e).named("y"); // two paths, joining at u
    /// let derivation = y.backward().explain(x).derivation();
    /// assert_eq!(derivation.through, Some(Quantity::Node(u.index())));
    /// assert_eq!(derivation.branches.len(), 2);
    /// let (cos_u, exp_u) = (u.value().cos(), u.value().exp());
    /// assert_eq!(derivation.branch_sum, e.value() * cos_u + s.value() * exp_u);
    /// ```
    pub fn derivation(&self) -> Derivation {
        let mut shared = 0;
        if self.paths.len() >= 2 && self.left_out() == 0 {
            let first = &self.paths[0].factors;
            'extend: while shared < first.len() {
                let factor = first[first.len() - 1 - shared];
                for path in &self.paths[1..] {
                    let n = path.factors.len();
                    if shared >= n || path.factors[n - 1 - shared] != factor {
                        break 'extend;
                    }
                }
                shared += 1;
            }
        }
        let (through, tail) = if shared > 0 {
            let first = &self.paths[0].factors;
            let n = first.len();
            (
                Some(first[n - shared].of),
                Path::new(first[n - shared..].to_vec(), &self.zero),
            )
        } else {
            (None, Path::new(Vec::new(), &self.zero))
        };
        let branches: Vec<Path> = self
            .paths
            .iter()
            .map(|p| Path::new(p.factors[..p.factors.len() - shared].to_vec(), &self.zero))
            .collect();
        let branch_sum = sum_from_zero(branches.iter().map(|c| c.product));
        Derivation {
            through,
            tail,
            branches,
            branch_sum,
        }
    }
}

/// A number with `decimals` decimals, in scientific notation when it is tiny or
/// huge (so that it never prints as 0.00000000 while not being 0).
pub(crate) fn format_number(x: f64, decimals: usize) -> String {
    let magnitude = x.abs();
    if x != 0.0 && x.is_finite() && !(1e-4..1e9).contains(&magnitude) {
        format!("{x:.decimals$e}")
    } else {
        format!("{x:.decimals$}")
    }
}

/// Half a unit in the last digit `format_number(x, decimals)` writes.
fn half_unit_printed(x: f64, decimals: usize) -> f64 {
    let decimals = decimals.min(300) as i32;
    let magnitude = x.abs();
    if x != 0.0 && x.is_finite() && !(1e-4..1e9).contains(&magnitude) {
        0.5 * 10f64.powi(magnitude.log10().floor() as i32 - decimals)
    } else {
        0.5 * 10f64.powi(-decimals)
    }
}

/// Empty unless the finite paths of a sum cancel so far that one rounding at
/// the size of their largest term, up to ε/2 of it, is more than half a unit
/// of the last digit the sum is written with: the written result is then
/// rounding, not the derivative, in those digits (`x + 1e17·x − 1e17·x` sums
/// to 0 in f64, whose derivative is 1), and a note says so. The tape's sweep
/// sums the same terms, in another order, and is no more exact.
fn cancellation(chains: &[Path], sum: f64, decimals: usize) -> String {
    if chains.len() < 2 || !sum.is_finite() {
        return String::new();
    }
    let largest = chains.iter().map(|c| c.product.abs()).fold(0.0, f64::max);
    let rounding = largest * (f64::EPSILON / 2.0);
    if !largest.is_finite()
        || largest < 4.0 * sum.abs()
        || rounding <= half_unit_printed(sum, decimals)
    {
        return String::new();
    }
    format!(
        " (the terms cancel: at their size (up to {}) one rounding alone may move the sum by \
         up to {}, more than the digits written; the tape's gradient sums the same terms in \
         another order and is no more exact: Gradients::rounding_bound bounds its error)",
        format_number(largest, decimals),
        format_number(rounding, 3)
    )
}

impl Explanation {
    /// `∂a/∂b`, or `∂a/∂b|direct` when the factor is a direct partial: `a`
    /// also depends on `b` through another shown quantity
    /// ([`is_direct`](Explanation::is_direct)), or (a, b) is `lhs`, the pair the
    /// sum being written differentiates. The factor is then the partial with
    /// the other shown quantities held fixed, not the total ∂a/∂b, which is
    /// what a plain `∂a/∂b` names (in a "where" section, say).
    pub(crate) fn factor_name(&self, f: &Factor, lhs: (Quantity, Quantity)) -> String {
        let direct = if (f.of, f.wrt) == lhs || self.is_direct(f) {
            DIRECT
        } else {
            ""
        };
        format!(
            "∂{}/∂{}{direct}",
            self.operand_name(f.of),
            self.operand_name(f.wrt)
        )
    }

    /// `∂a/∂b · ∂b/∂c …` for a chain, the middle of a very long one elided.
    fn factor_names(&self, chain: &Path, lhs: (Quantity, Quantity)) -> String {
        self.elided(chain, |f| self.factor_name(f, lhs)).join(" · ")
    }

    /// The factors' values joined by ×, negative ones after the first in
    /// parentheses, and whether the first is negative (then written without its
    /// sign, for the caller to write `− …`).
    fn factor_values(&self, chain: &Path, decimals: usize, signed_lead: bool) -> String {
        let value = |f: &Factor| {
            let mut text = format_number(f.value, decimals);
            text.push_str(&self.factor_notes(f));
            text
        };
        let mut first = true;
        let mut parts = self.elided(chain, |f| {
            let mut text = value(f);
            if first {
                first = false;
                if !signed_lead {
                    if let Some(abs) = text.strip_prefix('-') {
                        return abs.to_string();
                    }
                }
            } else if text.starts_with('-') {
                // Negative, −0 included (written `-0.00…`, which `< 0` misses).
                text = format!("({text})");
            }
            text
        });
        // The elided middle may hold what decides the product (a masked
        // factor, a kink, a 0, an ∞ or a NaN): named in the marker, so that
        // the product written never follows from the factors shown alone.
        let (notable, count) = notable_in_middle(chain, |f| self.kink(f).is_some());
        if count > 0 {
            let k = chain.factors.len();
            let listed: Vec<String> = notable
                .iter()
                .map(|f| {
                    let lhs = (Quantity::Node(self.output), Quantity::Node(self.input));
                    format!("{} = {}", self.factor_name(f, lhs), value(f))
                })
                .collect();
            let more = if count > notable.len() {
                format!(" and {} more such", count - notable.len())
            } else {
                String::new()
            };
            if let Some(marker) = parts.get_mut(SHOWN_AT_EACH_END) {
                *marker = format!(
                    "… ({} more factors, among them {}{more}) …",
                    k - 2 * SHOWN_AT_EACH_END,
                    listed.join(", ")
                );
            }
        }
        parts.join(" × ")
    }

    fn elided(&self, chain: &Path, mut each: impl FnMut(&Factor) -> String) -> Vec<String> {
        let k = chain.factors.len();
        let mut parts = Vec::new();
        for (j, factor) in chain.factors.iter().enumerate() {
            if j < SHOWN_AT_EACH_END || j + SHOWN_AT_EACH_END >= k {
                parts.push(each(factor));
            } else if j == SHOWN_AT_EACH_END {
                parts.push(format!("… ({} more factors) …", k - 2 * SHOWN_AT_EACH_END));
            }
        }
        parts
    }

    /// Writes `lhs = Σ chains` in three stages: names, numbers, result; `top`
    /// when `lhs` is ∂y/∂x itself.
    fn write_sum(
        &self,
        f: &mut fmt::Formatter<'_>,
        lhs: &str,
        pair: (Quantity, Quantity),
        chains: &[Path],
        decimals: usize,
        top: bool,
    ) -> fmt::Result {
        let pad = " ".repeat(lhs.chars().count() + 1);
        let left_out = self.left_out();
        let more = if left_out > 0 {
            let count = if self.saturated {
                "more than u128::MAX".to_string()
            } else {
                left_out.to_string()
            };
            format!(
                "{pad}+ … ({count} more {} left out)\n",
                paths_word(left_out)
            )
        } else {
            String::new()
        };
        for (k, chain) in chains.iter().enumerate() {
            let lead = if k == 0 {
                format!("{lhs} =")
            } else {
                format!("{pad}+")
            };
            writeln!(f, "{lead} {}", self.factor_names(chain, pair))?;
        }
        f.write_str(&more)?;
        for (k, chain) in chains.iter().enumerate() {
            let negative = chain.factors.first().is_some_and(|f| f.value < 0.0);
            let lead = match (k, negative) {
                (0, _) => "=",
                (_, true) => "−",
                (_, false) => "+",
            };
            writeln!(
                f,
                "{pad}{lead} {}",
                self.factor_values(chain, decimals, k == 0)
            )?;
        }
        f.write_str(&more)?;
        let sum = sum_from_zero(chains.iter().map(|c| c.product));
        if chains.len() > 1 {
            let mut line = format_number(chains[0].product, decimals);
            for chain in &chains[1..] {
                let value = format_number(chain.product.abs(), decimals);
                let sign = if chain.product < 0.0 { '−' } else { '+' };
                line.push_str(&format!(" {sign} {value}"));
            }
            writeln!(f, "{pad}= {line}")?;
        }
        if left_out > 0 {
            writeln!(
                f,
                "{pad}= {} (the {} listed {})",
                format_number(sum, decimals),
                chains.len(),
                paths_word(chains.len() as u128)
            )?;
            writeln!(
                f,
                "{lhs} = {} (the tape's gradient, over all paths)",
                format_number(self.gradient, decimals)
            )
        } else {
            let mut note = if top {
                self.disagreement(sum, decimals)
            } else {
                String::new()
            };
            note.push_str(&cancellation(chains, sum, decimals));
            writeln!(f, "{pad}= {}{note}", format_number(sum, decimals))
        }
    }

    /// Empty when `total`, a sum over every path written out, is the tape's
    /// gradient up to rounding; otherwise a note giving the gradient and why they
    /// differ. Through an infinite or NaN term: the sweep sums at each node before
    /// multiplying further down, and Σ (aᵢ · ∞) is not (Σ aᵢ) · ∞. With finite
    /// terms: the sweep multiplies the same factors from the output down, node by
    /// node, and at the edges of the range the order decides what underflows or
    /// overflows (1e-300 · 1e-100 · 1e100 is 0 from the left, 1e-300 from the
    /// right). A sum of several finite paths is not judged: it rounds in another
    /// order than the sweep's, and may cancel.
    fn disagreement(&self, total: f64, decimals: usize) -> String {
        let g = self.gradient;
        if total == g || (total.is_nan() && g.is_nan()) {
            return String::new();
        }
        let finite_terms = self
            .paths()
            .iter()
            .all(|path| path.factors.iter().all(|factor| factor.value.is_finite()));
        if total.is_finite() && g.is_finite() {
            let close =
                total != 0.0 && g != 0.0 && (total - g).abs() <= 1e-6 * total.abs().max(g.abs());
            if close || self.paths().len() != 1 {
                return String::new();
            }
        }
        let reason = if finite_terms {
            "the sweep multiplies the same factors from the output down, node by node, \
             and at this scale the order decides what underflows or overflows"
        } else {
            "with infinite or NaN terms the two sums differ"
        };
        format!(
            " (summed path by path; the tape's gradient, summed node by node, is {}: {reason})",
            format_number(g, decimals)
        )
    }
}

impl fmt::Display for Explanation {
    /// Writes the derivation with 8 decimals, or the formatter's precision
    /// (`format!("{:.12}", explanation)`). Every listed path is shown as its chain
    /// of factors, then the numbers, then the product; several paths are summed.
    /// A single factor (a local derivative) is written as its value alone: a line
    /// `∂y/∂x = ∂y/∂x` would say nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimals = f.precision().unwrap_or(8);
        let y = self.operand_name(Quantity::Node(self.output));
        let x = self.operand_name(Quantity::Node(self.input));
        let lhs = format!("∂{y}/∂{x}");
        if self.path_count == 0 {
            return writeln!(
                f,
                "{lhs} = 0 (no path from {} down to {})",
                self.name(Quantity::Node(self.output)),
                self.name(Quantity::Node(self.input))
            );
        }
        if self.output == self.input {
            return writeln!(f, "{lhs} = 1");
        }
        if self.paths.is_empty() {
            let count = if self.saturated {
                "more than u128::MAX".to_string()
            } else {
                self.path_count.to_string()
            };
            return writeln!(
                f,
                "{lhs} = {} (over {count} {}, none listed)",
                format_number(self.gradient, decimals),
                paths_word(if self.saturated { 2 } else { self.path_count }),
            );
        }
        if self.path_count == 1 && self.paths[0].factors.len() == 1 {
            let factor = self.paths[0].factors[0];
            let mut note = if factor.masked {
                let mask = self
                    .masks
                    .get(&(factor.of, factor.wrt))
                    .copied()
                    .unwrap_or(0);
                let words = mask_words(mask, |e| e.2);
                format!(
                    "a local derivative {}: it passes 0",
                    if words.is_empty() {
                        "through an operand not picked".to_string()
                    } else {
                        words.join(" and ")
                    }
                )
            } else {
                match &self.local {
                    // An operand used twice or more by the op (x·x): one term
                    // per use, as the sweep adds them.
                    Some((terms, _)) if terms.len() > 1 => {
                        let terms: Vec<String> = terms
                            .iter()
                            .map(|&p| {
                                let p = format_number(p, decimals);
                                if p.starts_with('-') {
                                    format!("({p})")
                                } else {
                                    p
                                }
                            })
                            .collect();
                        format!(
                            "a local derivative, one term per use of {}: {}",
                            self.name(Quantity::Node(self.input)),
                            terms.join(" + ")
                        )
                    }
                    // (Not at a NaN: the rule as written has no NaN, and the
                    // policy's rule 4 gives one.)
                    Some((_, Some((formula, derivative)))) if !factor.value.is_nan() => {
                        // The table's formula without what it adds after it
                        // ("ln σ(x) = −softplus(−x)", "sign(x) (±1 at ±0)").
                        let formula = formula.split(" = ").next().unwrap_or(formula);
                        let formula = match formula.rsplit_once(" (") {
                            Some((head, aside)) if aside.contains(" at ") => head,
                            _ => formula,
                        };
                        format!("a local derivative, by the rule d({formula})/dx = {derivative}")
                    }
                    _ => "a local derivative".to_string(),
                }
            };
            if let Some(kink) = self.kink(&factor) {
                note = format!("{note}; {kink}");
            }
            return writeln!(
                f,
                "{lhs} = {} ({note})",
                format_number(factor.value, decimals)
            );
        }
        let derivation = self.derivation();
        match derivation.through {
            Some(through) => {
                let joint = format!("∂{y}/∂{}", self.operand_name(through));
                let pad = " ".repeat(lhs.chars().count() + 1);
                let mut names = vec![joint.clone()];
                let mut values = vec![format_number(derivation.branch_sum, decimals)];
                let pair = (Quantity::Node(self.output), through);
                for factor in &derivation.tail.factors {
                    names.push(self.factor_name(factor, pair));
                    let value = format_number(factor.value, decimals);
                    let mut value = if value.starts_with('-') {
                        format!("({value})")
                    } else {
                        value
                    };
                    value.push_str(&self.factor_notes(factor));
                    values.push(value);
                }
                // Multiplied from the top down, from the sum, as the sweep does,
                // and added to a zeroed adjoint, as the sweep adds it: +0, not
                // the product's −0 (0 × (−2)).
                let total =
                    chain_product(derivation.branch_sum, &derivation.tail.factors, &self.zero)
                        + 0.0;
                writeln!(f, "{lhs} = {}", names.join(" · "))?;
                writeln!(f, "{pad}= {}", values.join(" × "))?;
                writeln!(
                    f,
                    "{pad}= {}{}",
                    format_number(total, decimals),
                    self.disagreement(total, decimals)
                )?;
                let n = derivation.branches.len();
                writeln!(f, "where {joint} sums {n} {}:", paths_word(n as u128))?;
                self.write_sum(f, &joint, pair, &derivation.branches, decimals, false)
            }
            None => {
                let pair = (Quantity::Node(self.output), Quantity::Node(self.input));
                self.write_sum(f, &lhs, pair, &derivation.branches, decimals, true)
            }
        }
    }
}

impl crate::graph::GraphNode {
    /// The node's label, or its op and index (`sigmoid#7`), as
    /// [`Tape::display_name`]. Explanations and drawings name unlabelled nodes
    /// more readably, by their expression (see the
    /// [module documentation](crate::explain#names)).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0).named("x");
    /// let y = x.exp();
    /// let graph = tape.graph();
    /// assert_eq!(graph[petgraph::graph::NodeIndex::new(0)].name(), "x");
    /// assert_eq!(graph[petgraph::graph::NodeIndex::new(y.index())].name(), "exp#1");
    /// ```
    pub fn name(&self) -> String {
        match &self.label {
            Some(label) => label.clone(),
            None => format!("{}#{}", self.op, self.index),
        }
    }
}

/// The panic of an explanation on a tape of `u32::MAX` edges or more.
#[cold]
#[inline(never)]
fn too_many_edges_to_explain(edges: usize) -> ! {
    panic!(
        "chainrule: explanations number a tape's edges with u32, and this tape has {edges} \
         edges (u32::MAX or more)"
    )
}

/// "path" or "paths", for a count of `n`.
fn paths_word(n: u128) -> &'static str {
    if n == 1 {
        "path"
    } else {
        "paths"
    }
}

/// Σ terms from +0, as the sweep adds contributions to a zeroed adjoint:
/// `Iterator::sum` starts from −0, so a single path of product −0 (−2 × 0)
/// summed to −0 where the tape's gradient is +0.
fn sum_from_zero(terms: impl Iterator<Item = f64>) -> f64 {
    terms.fold(0.0, |sum, term| sum + term)
}

#[cfg(test)]
mod tests {
    use super::{kink_affecting_in, kinks_affecting_in, KINK_NODES_READ};
    use crate::{Tape, Var};

    /// The nodes `kinks_affecting` reads for `xs`, and its answer, checked
    /// against `kink_affecting` from each.
    fn read(tape: &Tape, xs: &[Var<'_>], output: Var<'_>) -> usize {
        let indices: Vec<usize> = xs.iter().map(|v| v.index()).collect();
        let output = output.index();
        let (found, read) = tape.recording.read(|rec| {
            KINK_NODES_READ.with(|c| c.set(0));
            let found = kinks_affecting_in(rec, &indices, output);
            (found, KINK_NODES_READ.with(|c| c.get()))
        });
        for &k in &[0, indices.len() / 2, indices.len() - 1] {
            let one = tape
                .recording
                .read(|rec| kink_affecting_in(rec, indices[k], output));
            assert_eq!(found[k], one, "quantity {k}");
            assert!(found[k].is_some(), "quantity {k}");
        }
        read
    }

    /// `chainrule grad` looks for the kink that each variable (and named
    /// quantity) passes: from each, a pass over the tape above it, was
    /// quadratic where many of them lead to a kink at the point (2,000
    /// variables: 10,001,000 nodes read for a sum of relus, about 6,000,000 for
    /// a relu of a sum). All at once, each node is read a few times.
    #[test]
    fn the_kinks_of_many_quantities_are_found_in_linear_time() {
        let n = 2000;
        // relu(x₁) + … + relu(xₙ) at 0, the variables first.
        let tape = Tape::new();
        let xs: Vec<Var<'_>> = (0..n).map(|_| tape.var(0.0)).collect();
        let y = xs
            .iter()
            .map(|x| x.relu())
            .fold(tape.var(1.0), |s, r| s + r);
        let nodes = tape.len();
        let count = read(&tape, &xs, y);
        assert!(count <= 4 * nodes, "{count} nodes read for {nodes}");
        // relu(x₁ + … + xₙ) at 0.
        let tape = Tape::new();
        let xs: Vec<Var<'_>> = (0..n).map(|_| tape.var(0.0)).collect();
        let y = xs[1..].iter().fold(xs[0], |s, &x| s + x).relu();
        let nodes = tape.len();
        let count = read(&tape, &xs, y);
        assert!(count <= 4 * nodes, "{count} nodes read for {nodes}");
        // Named quantities aᵢ = 2·xᵢ + xᵢ₋₁, each at a chain of relus.
        let tape = Tape::new();
        let x = tape.var(0.0);
        let named: Vec<Var<'_>> = (0..n).map(|_| x * 2.0).collect();
        let y = named.iter().fold(x, |h, &a| (h + a).relu());
        let nodes = tape.len();
        let count = read(&tape, &named, y);
        assert!(count <= 4 * nodes, "{count} nodes read for {nodes}");
    }
}
