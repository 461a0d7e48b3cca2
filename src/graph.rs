//! The graph view: the tape as a [`petgraph::Graph`], built on demand.
//!
//! The fast path never builds a graph: recording order already is a topological
//! order. The view is for looking at the computation (reachability, explanations,
//! drawings) and for checking the fast path against the textbook algorithm,
//! [`textbook_backward`]: sort the graph topologically, then sweep it in reverse.

use petgraph::algo::toposort;
use petgraph::graph::{DiGraph, EdgeIndex, NodeIndex};
use petgraph::Direction;

use crate::tape::{Op, Tape};
use crate::var::Var;

/// A node of the graph view: one node of the tape.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    /// Its index in the tape (equal to its `NodeIndex` in the view).
    pub index: usize,
    /// What it computes.
    pub op: Op,
    /// Its label, if one was given with [`Var::named`] or by an `nn` binding.
    pub label: Option<String>,
    /// Its value from the forward pass.
    pub value: f64,
    /// For a fused neuron, the label of its weighted sum, if one was given with
    /// [`Var::named_net`] or by an `nn` binding.
    pub net_label: Option<String>,
}

/// An edge of the graph view, from an operand to the node that uses it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GraphEdge {
    /// The local partial derivative ∂node/∂operand.
    pub partial: f64,
    /// Which operand of the node this edge is (0 for the first).
    pub slot: usize,
    /// Whether the edge is masked: it runs to an operand a select op (relu, max,
    /// min, clamp, a relu neuron) did not select, or from a signum (whose
    /// derivative is 0, but at a NaN operand: NaN, not masked), and passes
    /// exactly 0 on whatever the node's adjoint
    /// (the non-finite policy of [`crate::backward`]).
    pub masked: bool,
}

/// The tape as a directed graph: edges run from each operand to the node using it
/// (the direction values flow), and parallel edges are kept: `a + a` has two.
pub type TapeGraph = DiGraph<GraphNode, GraphEdge, u32>;

impl Tape {
    /// Builds the graph view of every node recorded so far. Node `i` of the tape is
    /// `NodeIndex::new(i)` of the graph; edges are added in recording order.
    ///
    /// # Complexity
    /// Time and extra space O(nodes + edges) of the whole tape, on each call (a
    /// petgraph node of 80 bytes and an edge of 40 bytes each on a 64-bit target,
    /// plus the labels copied): for a large tape, prefer what needs no view
    /// ([`Var::ancestors`], explanations, [`Dot::within`](crate::dot::Dot::within)).
    ///
    /// # Panics
    /// If the tape has `u32::MAX` edges or more (petgraph's `u32` edge index):
    /// only a tape of over two billion nodes can.
    ///
    /// ```
    /// use petgraph::graph::NodeIndex;
    ///
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(2.0).named("a");
    /// let y = a + a;
    /// let graph = tape.graph();
    /// assert_eq!(graph.node_count(), 2);
    /// assert_eq!(graph.edges_connecting(NodeIndex::new(0), NodeIndex::new(1)).count(), 2);
    /// assert_eq!(graph[NodeIndex::new(y.index())].value, 4.0);
    /// ```
    pub fn graph(&self) -> TapeGraph {
        let edges = self.edge_count();
        assert!(
            edges < u32::MAX as usize,
            "chainrule: the graph view numbers edges with u32, and this tape has {edges} edges"
        );
        let labels: Vec<Option<String>> = (0..self.len()).map(|i| self.label(i)).collect();
        let net_labels: Vec<Option<String>> = (0..self.len()).map(|i| self.net_label(i)).collect();
        self.recording.read(|rec| {
            let mut graph = TapeGraph::with_capacity(rec.len(), rec.edge_count());
            for (index, (label, net_label)) in labels.into_iter().zip(net_labels).enumerate() {
                graph.add_node(GraphNode {
                    index,
                    op: rec.ops()[index],
                    label,
                    value: rec.values()[index],
                    net_label,
                });
            }
            for node in 0..rec.len() {
                let op = rec.ops()[node];
                let last = rec.edges(node).last().map_or(0.0, |(_, p)| p);
                for (slot, (operand, partial)) in rec.edges(node).enumerate() {
                    graph.add_edge(
                        NodeIndex::new(operand as usize),
                        NodeIndex::new(node),
                        GraphEdge {
                            partial,
                            slot,
                            masked: crate::backward::is_masked(op, partial, last),
                        },
                    );
                }
            }
            graph
        })
    }
}

/// The textbook backward pass, on the graph view: `petgraph::algo::toposort`, then
/// a sweep in reverse topological order. The reference the fast sweep is tested
/// against; it returns ∂output/∂node for every node of the tape.
///
/// Each node pulls its adjoint from the nodes that use it,
/// `adjoint[x] = Σ adjoint[user] · ∂user/∂x`, adding the terms in one fixed order
/// (users from the last recorded down, a user's operands in order), each term
/// under the non-finite policy of [`crate::backward`]: users on no path from the
/// output add nothing, a masked edge adds exactly 0, any other edge the IEEE
/// product. With the same order of floating-point additions as
/// the fast path, the two agree exactly, not merely to a tolerance.
///
/// Cost: O(nodes + edges) plus the sort of each node's outgoing edges; iterative
/// (petgraph's toposort keeps its own stack).
///
/// # Panics
/// If the graph has a cycle (a tape never has one), or `output` is not a node of it.
///
/// ```
/// use chainrule::{graph::textbook_backward, Tape};
///
/// let tape = Tape::new();
/// let x = tape.var(0.5);
/// let y = (x * x).sin() + x;
/// let fast = y.backward();
/// let textbook = textbook_backward(&tape.graph(), y.index());
/// assert_eq!(fast.as_slice(), &textbook[..=y.index()]);
/// ```
pub fn textbook_backward(graph: &TapeGraph, output: usize) -> Vec<f64> {
    let order = toposort(graph, None).expect("a tape's graph has no cycle");
    let mut adjoints = vec![0.0; graph.node_count()];
    let output = NodeIndex::new(output);
    assert!(
        output.index() < graph.node_count(),
        "output is not a node of the graph"
    );
    // Only nodes on a path from the output take part (the non-finite policy of
    // `crate::backward`): a node is reached when one of its users is.
    let mut reached = vec![false; graph.node_count()];
    let mut users: Vec<(NodeIndex, EdgeIndex)> = Vec::new();
    for &x in order.iter().rev() {
        if x == output {
            adjoints[x.index()] = 1.0;
            reached[x.index()] = true;
            continue;
        }
        users.clear();
        users.extend(graph.edges_directed(x, Direction::Outgoing).map(|e| {
            (
                petgraph::visit::EdgeRef::target(&e),
                petgraph::visit::EdgeRef::id(&e),
            )
        }));
        // Users from the last recorded down; a user's edges in operand order.
        users.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let mut adjoint = 0.0;
        for &(user, edge) in &users {
            if reached[user.index()] {
                reached[x.index()] = true;
                let edge = graph[edge];
                adjoint += crate::backward::contribution(
                    adjoints[user.index()],
                    edge.partial,
                    edge.masked,
                );
            }
        }
        adjoints[x.index()] = adjoint;
    }
    adjoints
}

impl<'t> Var<'t> {
    /// The indices of every node this variable depends on (itself included), in
    /// ascending order.
    ///
    /// Found on the tape itself, by a reverse scan from this node (as the sweep:
    /// a node is visited after every node using it), marking operands in a
    /// bitset; no graph view is built and nothing recurses.
    ///
    /// # Complexity
    /// Time O(i/64 + a + e) for i this node's index, a the ancestors found and e
    /// their edges; extra space i/8 bytes for the bitset, plus the result.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(1.0);
    /// let _unused = tape.var(2.0);
    /// let y = a.exp();
    /// assert_eq!(y.ancestors(), vec![0, 2]);
    /// ```
    pub fn ancestors(self) -> Vec<usize> {
        let start = self.index();
        self.tape.recording.read(|rec| {
            ancestor_indices(rec, start)
                .into_iter()
                .map(|i| i as usize)
                .collect()
        })
    }
}

/// The nodes `start` depends on, itself included, in ascending order: a reverse
/// scan with a bitset, as the sweep (operands are below their node, so a word is
/// done once its highest bit not yet visited is). Used by [`Var::ancestors`] and
/// by `Dot::within` when it draws every ancestor.
///
/// # Complexity
/// O(start / 64 + ancestors + their edges) time; `start / 8` bytes for the bitset.
pub(crate) fn ancestor_indices(rec: &crate::tape::Recording, start: usize) -> Vec<u32> {
    let mut marked = vec![0u64; start / 64 + 1];
    marked[start / 64] |= 1 << (start % 64);
    let mut found = Vec::new();
    for w in (0..marked.len()).rev() {
        let mut upper = 64;
        loop {
            let below = if upper == 64 {
                u64::MAX
            } else {
                (1u64 << upper) - 1
            };
            let word = marked[w] & below;
            if word == 0 {
                break;
            }
            upper = 63 - word.leading_zeros() as usize;
            let node = w * 64 + upper;
            found.push(node as u32);
            for (operand, _) in rec.edges(node) {
                let o = operand as usize;
                marked[o / 64] |= 1 << (o % 64);
            }
        }
    }
    found.reverse();
    found
}
