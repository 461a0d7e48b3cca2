//! Explanations: a gradient written out as the chain rule, path by path.
//!
//! ∂y/∂x is the sum, over every path from `y` back to `x` in the graph, of the
//! product of the local derivatives along the path. [`Gradients::explain`] lists
//! those paths as data ([`Explanation`]) and its `Display` writes the derivation
//! as a person does on paper:
//!
//! ```text
//! ∂E/∂w5 = ∂E/∂out_o1 · ∂out_o1/∂net_o1 · ∂net_o1/∂w5
//!        = 0.74136507 × 0.18681560 × 0.59326999
//!        = 0.08216704
//! ```
//!
//! # How paths are found, and what it costs
//!
//! The number of paths can grow exponentially with depth (40 stages of `a + a`
//! already make 2^40), so they are never enumerated to be counted. The paths are
//! counted by dynamic programming on the [graph view](crate::graph): in recording
//! order (a topological order) from `x` up to `y`,
//! `paths_to_x[node] = Σ paths_to_x[operand]` over the node's edges. Counts are
//! `u128` and saturate at `u128::MAX` (about 3.4·10^38); a saturated count is
//! reported as such. Then at most [`ExplainOptions::max_paths`] paths are listed
//! by an iterative depth-first walk (an explicit stack, no recursion) that only
//! steps onto nodes from which `x` can be reached, so each listed path costs its
//! length and nothing is explored in vain.
//!
//! Cost: O(nodes + edges) to build the graph view and count, plus O(listed paths ×
//! path length) to list. Nothing recurses, so a million-deep chain is fine.
//!
//! # Factors between labelled nodes
//!
//! The tape records every small op as a node: `0.5 * (t - out)²` is four of them.
//! A person names only some quantities (`out_o1`, `net_o1`). So by default a path's
//! *factors* run between labelled nodes ([`Var::named`]): the local derivatives of
//! the unlabelled nodes in between are multiplied into the next factor, and a factor
//! that is exactly 1 (`∂E/∂E_o1` where `E = E_o1 + E_o2`) is merged into the factor
//! after it. The raw per-edge chain is always kept in [`Path::edges`];
//! [`ExplainOptions::raw`] shows it.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::graph::{GraphNode, TapeGraph};
use crate::{Gradients, Tape, Var};

/// How many paths an explanation lists unless told otherwise.
pub const DEFAULT_MAX_PATHS: usize = 16;

/// What an explanation lists and how it groups the factors.
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
    /// Factors run between labelled nodes only: unlabelled nodes in between are
    /// folded into the next factor. Default `true`.
    pub labelled_only: bool,
    /// A factor exactly equal to 1 is merged into the factor after it (the last
    /// factor of a chain is never merged away). Default `true`.
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
    pub fn max_paths(self, max_paths: usize) -> Self {
        ExplainOptions { max_paths, ..self }
    }

    /// The same options, with one factor per edge of the tape: nothing folded,
    /// nothing merged.
    pub fn raw(self) -> Self {
        ExplainOptions {
            labelled_only: false,
            merge_unit_factors: false,
            ..self
        }
    }
}

/// One edge of a path, from a node down to one of its operands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathEdge {
    /// The node using the operand (nearer the output).
    pub user: usize,
    /// The operand (nearer the input).
    pub operand: usize,
    /// Which operand of `user` this is (0 for the first): `a + a` has two edges.
    pub slot: usize,
    /// The local derivative ∂user/∂operand.
    pub partial: f64,
}

/// One path from the output down to the input: its edges, in order from the
/// output, and the product of their local derivatives.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// The edges from the output to the input.
    pub edges: Vec<PathEdge>,
    /// The product of the edges' partials, multiplied from the output down.
    pub product: f64,
}

/// One factor ∂of/∂wrt of a written-out chain: the product of the local
/// derivatives of one or more consecutive edges of a path.
#[derive(Clone, Debug, PartialEq)]
pub struct Factor {
    /// The upper node (the one differentiated).
    pub of: usize,
    /// The lower node (differentiated with respect to).
    pub wrt: usize,
    /// The factor's value: the product of the partials of its edges.
    pub value: f64,
    /// Which edges of the [`Path`] it spans.
    pub edges: Range<usize>,
}

/// A chain of factors and their product.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Chain {
    /// The factors, from the upper node down.
    pub factors: Vec<Factor>,
    /// Their product (1 for no factors).
    pub product: f64,
}

/// The derivation as it is written: when every path shares its last stretch
/// (all paths to `w1` pass through `out_h1`), the shared stretch is factored out,
/// as the seed article does: `∂E/∂w1 = ∂E/∂out_h1 · ∂out_h1/∂net_h1 · ∂net_h1/∂w1`
/// with `∂E/∂out_h1` the sum over the branches.
#[derive(Clone, Debug, PartialEq)]
pub struct Derivation {
    /// The node where all paths join, if they share a stretch before the input.
    pub through: Option<usize>,
    /// The shared stretch, from `through` down to the input (no factors if none).
    pub tail: Chain,
    /// Each listed path down to `through` (or to the input when nothing is shared).
    pub branches: Vec<Chain>,
    /// The sum of the branches' products.
    pub branch_sum: f64,
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
    nodes: HashMap<usize, GraphNode>,
    options: ExplainOptions,
}

impl<'t> Gradients<'t> {
    /// Explains ∂output/∂x path by path, listing at most
    /// [`DEFAULT_MAX_PATHS`] paths. See [`Explanation`] and the
    /// [module documentation](crate::explain) for the cost (linear in the tape,
    /// plus the listed paths; nothing recurses).
    ///
    /// # Panics
    /// If `x` belongs to another tape.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(2.0).named("a");
    /// let y = (a * a).named("y"); // two paths: through each operand slot
    /// let explanation = y.backward().explain(a);
    /// assert_eq!(explanation.path_count(), 2);
    /// assert_eq!(explanation.listed_sum(), 4.0);
    /// ```
    #[track_caller]
    pub fn explain(&self, x: Var<'_>) -> Explanation {
        self.explain_with(x, ExplainOptions::default())
    }

    /// [`explain`](Gradients::explain) with options.
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
    ///     y = y + y; // 2^10 paths
    /// }
    /// let explanation = y.backward().explain_with(x, ExplainOptions::default().max_paths(3));
    /// assert_eq!((explanation.path_count(), explanation.paths().len()), (1024, 3));
    /// assert_eq!(explanation.left_out(), 1021);
    /// ```
    #[track_caller]
    pub fn explain_with(&self, x: Var<'_>, options: ExplainOptions) -> Explanation {
        let gradient = self.wrt(x); // panics with a clear message for a foreign Var
        explain_on_graph(
            &self.tape().graph(),
            self.output(),
            x.index(),
            gradient,
            options,
        )
    }
}

impl Tape {
    /// Explains ∂y/∂x with the default options: one backward sweep from `y`,
    /// then [`Gradients::explain`].
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
    /// assert_eq!(explanation.path_count(), 1);
    /// ```
    #[track_caller]
    pub fn explain(&self, y: Var<'_>, x: Var<'_>) -> Explanation {
        self.explain_with(y, x, ExplainOptions::default())
    }

    /// Explains ∂y/∂x with the given options: one backward sweep from `y`, then
    /// [`Gradients::explain_with`].
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
        let gradient = y.backward().by_index(x.index());
        explain_on_graph(&self.graph(), y.index(), x.index(), gradient, options)
    }
}

/// Builds an explanation of ∂output/∂input on an already built graph view;
/// `gradient` is the tape's value of it, shown next to the listed paths.
fn explain_on_graph(
    graph: &TapeGraph,
    output: usize,
    input: usize,
    gradient: f64,
    options: ExplainOptions,
) -> Explanation {
    let mut nodes = HashMap::new();
    for index in [output, input] {
        nodes.insert(index, graph[NodeIndex::new(index)].clone());
    }
    let mut explanation = Explanation {
        output,
        input,
        gradient,
        path_count: 0,
        saturated: false,
        paths: Vec::new(),
        nodes,
        options,
    };
    if input > output {
        return explanation; // recorded after the output: no path
    }

    // Each node's operand edges between input and output, in operand order.
    let span = output - input + 1;
    let mut operands: Vec<Vec<PathEdge>> = Vec::with_capacity(span);
    for user in input..=output {
        let mut edges: Vec<PathEdge> = graph
            .edges_directed(NodeIndex::new(user), Direction::Incoming)
            .filter(|e| e.source().index() >= input)
            .map(|e| PathEdge {
                user,
                operand: e.source().index(),
                slot: e.weight().slot,
                partial: e.weight().partial,
            })
            .collect();
        edges.sort_by_key(|e| e.slot);
        operands.push(edges);
    }

    // Count: paths_to_input[node - input], in recording (topological) order.
    let mut paths_to_input = vec![0u128; span];
    paths_to_input[0] = 1;
    let mut saturated = false;
    for offset in 1..span {
        let mut count = 0u128;
        for edge in &operands[offset] {
            let add = paths_to_input[edge.operand - input];
            count = count.checked_add(add).unwrap_or_else(|| {
                saturated = true;
                u128::MAX
            });
        }
        paths_to_input[offset] = count;
    }
    explanation.path_count = paths_to_input[span - 1];
    explanation.saturated = saturated && explanation.path_count == u128::MAX;

    // List: an iterative depth-first walk from the output, stepping only onto
    // nodes that reach the input. Invariant: `current.len() + 1 == stack.len()`.
    if explanation.path_count > 0 && options.max_paths > 0 {
        let mut stack: Vec<(usize, usize)> = vec![(output, 0)];
        let mut current: Vec<PathEdge> = Vec::new();
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            if node == input {
                let product = current.iter().fold(1.0, |p, e| p * e.partial);
                explanation.paths.push(Path {
                    edges: current.clone(),
                    product,
                });
                if explanation.paths.len() == options.max_paths {
                    break;
                }
                stack.pop();
                current.pop();
                continue;
            }
            let edges = &operands[node - input];
            let step = edges[next..]
                .iter()
                .position(|e| paths_to_input[e.operand - input] > 0);
            match step {
                Some(skip) => {
                    let edge = edges[next + skip];
                    top.1 = next + skip + 1;
                    current.push(edge);
                    stack.push((edge.operand, 0));
                }
                None => {
                    stack.pop();
                    current.pop();
                }
            }
        }
    }

    for path in &explanation.paths {
        for edge in &path.edges {
            explanation
                .nodes
                .entry(edge.operand)
                .or_insert_with(|| graph[NodeIndex::new(edge.operand)].clone());
        }
    }
    explanation
}

impl GraphNode {
    /// The node's label, or a readable default: its op and index (`sigmoid#7`),
    /// as [`Tape::display_name`].
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

    /// The number of paths from `y` to `x`, counted without listing them;
    /// `u128::MAX` if the count saturated (see [`count_saturated`](Self::count_saturated)).
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

    /// How many paths were counted but not listed.
    pub fn left_out(&self) -> u128 {
        self.path_count - self.paths.len() as u128
    }

    /// The sum of the listed paths' products: ∂y/∂x, up to rounding, when every
    /// path is listed.
    pub fn listed_sum(&self) -> f64 {
        self.paths.iter().map(|p| p.product).sum()
    }

    /// The options the explanation was made with.
    pub fn options(&self) -> ExplainOptions {
        self.options
    }

    /// A node of the explanation (the output, the input, or any node on a listed
    /// path): its op, label and value.
    pub fn node(&self, index: usize) -> Option<&GraphNode> {
        self.nodes.get(&index)
    }

    /// The name of a node of the explanation: its label, or `op#index`.
    pub fn name(&self, index: usize) -> String {
        self.nodes
            .get(&index)
            .map_or_else(|| format!("#{index}"), GraphNode::name)
    }

    fn is_stop(&self, index: usize) -> bool {
        !self.options.labelled_only || self.nodes.get(&index).is_some_and(|n| n.label.is_some())
    }

    /// The factors of `path` between its edges `range`, grouped as the options
    /// say (between labelled nodes, unit factors merged, by default).
    fn chain(&self, path: &Path, range: Range<usize>) -> Chain {
        let edges = &path.edges[range.clone()];
        let mut factors: Vec<Factor> = Vec::new();
        let mut open: Option<Factor> = None;
        for (k, edge) in edges.iter().enumerate() {
            let position = range.start + k;
            let factor = open.get_or_insert(Factor {
                of: edge.user,
                wrt: edge.user,
                value: 1.0,
                edges: position..position,
            });
            factor.value *= edge.partial;
            factor.wrt = edge.operand;
            factor.edges.end = position + 1;
            if k + 1 == edges.len() || self.is_stop(edge.operand) {
                factors.extend(open.take());
            }
        }
        if self.options.merge_unit_factors {
            let mut merged: Vec<Factor> = Vec::with_capacity(factors.len());
            let mut pending: Option<Factor> = None;
            let last = factors.len().saturating_sub(1);
            for (k, mut factor) in factors.into_iter().enumerate() {
                if let Some(unit) = pending.take() {
                    factor.of = unit.of;
                    factor.edges.start = unit.edges.start;
                }
                if factor.value == 1.0 && k < last {
                    pending = Some(factor);
                } else {
                    merged.push(factor);
                }
            }
            factors = merged;
        }
        let product = factors.iter().fold(1.0, |p, f| p * f.value);
        Chain { factors, product }
    }

    /// The derivation as written by [`Display`](fmt::Display): every listed path
    /// as a chain of factors, with the stretch that all paths share factored out
    /// when every path is listed. Cost: O(listed edges).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.5).named("x");
    /// let u = x.sigmoid().named("u");
    /// let y = (u * u).named("y"); // two paths, joining at u
    /// let derivation = y.backward().explain(x).derivation();
    /// assert_eq!(derivation.through, Some(u.index()));
    /// assert_eq!(derivation.branches.len(), 2);
    /// assert_eq!(derivation.branch_sum, 2.0 * u.value());
    /// ```
    pub fn derivation(&self) -> Derivation {
        let mut shared = 0;
        if self.paths.len() >= 2 && self.left_out() == 0 {
            let first = &self.paths[0].edges;
            'extend: while shared < first.len() {
                let edge = first[first.len() - 1 - shared];
                for path in &self.paths[1..] {
                    let n = path.edges.len();
                    if shared >= n {
                        break 'extend;
                    }
                    let other = path.edges[n - 1 - shared];
                    if (other.user, other.operand, other.slot)
                        != (edge.user, edge.operand, edge.slot)
                    {
                        break 'extend;
                    }
                }
                shared += 1;
            }
            // Join at a node a reader can name.
            while shared > 0 && !self.is_stop(first[first.len() - shared].user) {
                shared -= 1;
            }
        }
        let (through, tail) = if shared > 0 {
            let first = &self.paths[0];
            let n = first.edges.len();
            (
                Some(first.edges[n - shared].user),
                self.chain(first, n - shared..n),
            )
        } else {
            (
                None,
                Chain {
                    factors: Vec::new(),
                    product: 1.0,
                },
            )
        };
        let branches: Vec<Chain> = self
            .paths
            .iter()
            .map(|p| self.chain(p, 0..p.edges.len() - shared))
            .collect();
        let branch_sum = branches.iter().map(|c| c.product).sum();
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

impl Explanation {
    fn factor_names(&self, chain: &Chain) -> String {
        let names: Vec<String> = chain
            .factors
            .iter()
            .map(|f| format!("∂{}/∂{}", self.name(f.of), self.name(f.wrt)))
            .collect();
        names.join(" · ")
    }

    /// Writes `lhs = Σ chains` in three stages: names, numbers, result.
    fn write_sum(
        &self,
        f: &mut fmt::Formatter<'_>,
        lhs: &str,
        chains: &[Chain],
        decimals: usize,
    ) -> fmt::Result {
        let pad = " ".repeat(lhs.chars().count() + 1);
        let numbers = |chain: &Chain| {
            let values: Vec<String> = chain
                .factors
                .iter()
                .map(|factor| format_number(factor.value, decimals))
                .collect();
            values.join(" × ")
        };
        let left_out = self.left_out();
        let more = if left_out > 0 {
            let count = if self.saturated {
                "more than u128::MAX".to_string()
            } else {
                left_out.to_string()
            };
            format!("{pad}+ … ({count} more paths left out)\n")
        } else {
            String::new()
        };
        for (k, chain) in chains.iter().enumerate() {
            let lead = if k == 0 {
                format!("{lhs} =")
            } else {
                format!("{pad}+")
            };
            writeln!(f, "{lead} {}", self.factor_names(chain))?;
        }
        f.write_str(&more)?;
        for (k, chain) in chains.iter().enumerate() {
            let lead = if k == 0 { '=' } else { '+' };
            writeln!(f, "{pad}{lead} {}", numbers(chain))?;
        }
        f.write_str(&more)?;
        let sum: f64 = chains.iter().map(|c| c.product).sum();
        if chains.len() > 1 {
            let products: Vec<String> = chains
                .iter()
                .map(|c| format_number(c.product, decimals))
                .collect();
            writeln!(f, "{pad}= {}", products.join(" + "))?;
        }
        if left_out > 0 {
            writeln!(
                f,
                "{pad}= {} (the {} listed paths)",
                format_number(sum, decimals),
                chains.len()
            )?;
            writeln!(
                f,
                "{lhs} = {} (the tape's gradient, over all paths)",
                format_number(self.gradient, decimals)
            )
        } else {
            writeln!(f, "{pad}= {}", format_number(sum, decimals))
        }
    }
}

impl fmt::Display for Explanation {
    /// Writes the derivation with 8 decimals, or the formatter's precision
    /// (`format!("{:.12}", explanation)`). Every listed path is shown as its chain
    /// of factors, then the numbers, then the product; several paths are summed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let decimals = f.precision().unwrap_or(8);
        let y = self.name(self.output);
        let x = self.name(self.input);
        let lhs = format!("∂{y}/∂{x}");
        if self.path_count == 0 {
            return writeln!(f, "{lhs} = 0 (no path from {y} down to {x})");
        }
        if self.output == self.input {
            return writeln!(f, "{lhs} = 1");
        }
        if self.paths.is_empty() {
            return writeln!(
                f,
                "{lhs} = {} (over {} paths, none listed)",
                format_number(self.gradient, decimals),
                self.path_count
            );
        }
        let derivation = self.derivation();
        match derivation.through {
            Some(through) => {
                let joint = format!("∂{y}/∂{}", self.name(through));
                let pad = " ".repeat(lhs.chars().count() + 1);
                let mut names = vec![joint.clone()];
                let mut values = vec![format_number(derivation.branch_sum, decimals)];
                for factor in &derivation.tail.factors {
                    names.push(format!(
                        "∂{}/∂{}",
                        self.name(factor.of),
                        self.name(factor.wrt)
                    ));
                    values.push(format_number(factor.value, decimals));
                }
                writeln!(f, "{lhs} = {}", names.join(" · "))?;
                writeln!(f, "{pad}= {}", values.join(" × "))?;
                writeln!(
                    f,
                    "{pad}= {}",
                    format_number(derivation.branch_sum * derivation.tail.product, decimals)
                )?;
                writeln!(f, "where {joint} sums {} paths:", derivation.branches.len())?;
                self.write_sum(f, &joint, &derivation.branches, decimals)
            }
            None => self.write_sum(f, &lhs, &derivation.branches, decimals),
        }
    }
}
