//! Drawings: the tape as a Graphviz DOT graph, left to right like micrograd's
//! `draw_dot`.
//!
//! Each node is a record `{ name | op | value | grad }` (the gradient when
//! [`Gradients`] are given), and each edge runs from an operand to the node using
//! it, labelled with the local derivative ∂node/∂operand. Render with
//! `dot -Tsvg graph.dot > graph.svg`.
//!
//! ```
//! use chainrule::dot::Dot;
//!
//! let tape = chainrule::Tape::new();
//! let x = tape.var(2.0).named("x");
//! let y = (x * x).named("y");
//! let g = y.backward();
//! let dot = Dot::new(&tape).gradients(&g).to_string();
//! assert!(dot.starts_with("digraph chainrule {\n  rankdir=LR;"));
//! assert!(dot.contains(r#"n1 [label="{ y | mul | value 4.00000000 | grad 1.00000000 }", penwidth=2];"#));
//! assert!(dot.contains(r#"n0 -> n1 [label="2.00000000"];"#));
//! ```

use std::collections::VecDeque;
use std::fmt;

use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

use crate::explain::format_number;
use crate::{Gradients, Tape};

/// A DOT drawing of a tape, configured with builder methods and written by
/// `Display` (`to_string()`, or `write!` into a file).
///
/// Which nodes are drawn:
/// - with an output (given by [`output`](Dot::output), or by the
///   [`gradients`](Dot::gradients)' output): the nodes the output depends on,
///   itself included; with [`within`](Dot::within)`(k)` only those at most `k`
///   edges away from it;
/// - with no output: every node of the tape (`within` then counts from the last
///   node recorded).
///
/// Edges are drawn between drawn nodes only. Cost: O(nodes + edges) to build the
/// graph view and walk it (breadth-first, iterative) and to write.
#[derive(Clone, Copy)]
pub struct Dot<'a> {
    tape: &'a Tape,
    gradients: Option<&'a Gradients<'a>>,
    output: Option<usize>,
    within: Option<usize>,
}

impl<'a> Dot<'a> {
    /// A drawing of `tape`: every node, no gradients.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let _ = tape.var(1.0).exp();
    /// let dot = chainrule::dot::Dot::new(&tape).to_string();
    /// assert!(dot.contains("n0 -> n1"));
    /// ```
    pub fn new(tape: &'a Tape) -> Self {
        Dot {
            tape,
            gradients: None,
            output: None,
            within: None,
        }
    }

    /// Shows each node's gradient, and takes the gradients' output as the output
    /// (unless one was set).
    ///
    /// # Panics
    /// When written, if the gradients were swept on another tape.
    pub fn gradients(self, gradients: &'a Gradients<'_>) -> Self {
        Dot {
            gradients: Some(gradients),
            ..self
        }
    }

    /// Draws only the nodes `output` depends on (and bolds it). An index past
    /// the tape's end draws nothing but an empty graph.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0);
    /// let y = x.exp();
    /// let _unrelated = tape.var(5.0);
    /// let dot = chainrule::dot::Dot::new(&tape).output(y.index()).to_string();
    /// assert!(dot.contains("n1 [") && !dot.contains("n2 ["));
    /// ```
    pub fn output(self, index: usize) -> Self {
        Dot {
            output: Some(index),
            ..self
        }
    }

    /// Draws only the nodes at most `steps` edges below the output: the
    /// neighbourhood of the loss in a large graph.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let mut x = tape.var(0.5);
    /// for _ in 0..100 {
    ///     x = x.sin();
    /// }
    /// let dot = chainrule::dot::Dot::new(&tape).output(x.index()).within(2).to_string();
    /// assert_eq!(dot.matches("[label=\"{").count(), 3); // the output and 2 below
    /// ```
    pub fn within(self, steps: usize) -> Self {
        Dot {
            within: Some(steps),
            ..self
        }
    }

    /// Which nodes to draw, by index.
    fn drawn(&self, graph: &crate::graph::TapeGraph) -> (Vec<bool>, Option<usize>) {
        let n = graph.node_count();
        let requested = self.output.or(self.gradients.map(Gradients::output));
        let output = requested.filter(|&o| o < n);
        if requested.is_some() && output.is_none() {
            return (vec![false; n], None);
        }
        let start = match (output, self.within) {
            (Some(o), _) => o,
            (None, Some(_)) if n > 0 => n - 1,
            _ => return (vec![true; n], None),
        };
        let limit = self.within.unwrap_or(usize::MAX);
        let mut depth = vec![usize::MAX; n];
        let mut queue = VecDeque::from([start]);
        depth[start] = 0;
        while let Some(node) = queue.pop_front() {
            if depth[node] == limit {
                continue;
            }
            for edge in graph.edges_directed(NodeIndex::new(node), Direction::Incoming) {
                let operand = edge.source().index();
                if depth[operand] == usize::MAX {
                    depth[operand] = depth[node] + 1;
                    queue.push_back(operand);
                }
            }
        }
        (depth.iter().map(|&d| d != usize::MAX).collect(), output)
    }
}

/// Escapes text for a field of a DOT record label inside double quotes.
fn escape_record(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '"' | '{' | '}' | '|' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

impl fmt::Display for Dot<'_> {
    /// Writes the DOT text: `digraph chainrule { rankdir=LR; … }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(g) = self.gradients {
            assert!(
                std::ptr::eq(g.tape(), self.tape),
                "chainrule::dot: the Gradients were swept on another tape"
            );
        }
        let graph = self.tape.graph();
        let (drawn, output) = self.drawn(&graph);
        writeln!(f, "digraph chainrule {{")?;
        writeln!(f, "  rankdir=LR;")?;
        writeln!(f, "  node [shape=record, fontname=\"monospace\"];")?;
        writeln!(f, "  edge [fontname=\"monospace\", fontsize=10];")?;
        for node in graph.node_indices() {
            let i = node.index();
            if !drawn[i] {
                continue;
            }
            let data = &graph[node];
            let mut label = format!(
                "{{ {} | {} | value {}",
                escape_record(&data.name()),
                data.op,
                format_number(data.value, 8)
            );
            if let Some(g) = self.gradients {
                label.push_str(&format!(" | grad {}", format_number(g.by_index(i), 8)));
            }
            label.push_str(" }");
            let bold = if Some(i) == output {
                ", penwidth=2"
            } else {
                ""
            };
            writeln!(f, "  n{i} [label=\"{label}\"{bold}];")?;
        }
        for edge in graph.edge_references() {
            let (from, to) = (edge.source().index(), edge.target().index());
            if drawn[from] && drawn[to] {
                writeln!(
                    f,
                    "  n{from} -> n{to} [label=\"{}\"];",
                    format_number(edge.weight().partial, 8)
                )?;
            }
        }
        writeln!(f, "}}")
    }
}

impl Tape {
    /// The whole tape as DOT text: [`Dot::new`]`(self).to_string()`.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let _ = tape.var(3.0).named("x").square();
    /// assert!(tape.to_dot().contains("{ x | leaf | value 3.00000000 }"));
    /// ```
    pub fn to_dot(&self) -> String {
        Dot::new(self).to_string()
    }
}

impl Gradients<'_> {
    /// The nodes the output depends on, with their gradients, as DOT text:
    /// [`Dot::new`]`(tape).gradients(self).to_string()`.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(3.0).named("x");
    /// let g = x.square().backward();
    /// assert!(g.to_dot().contains("{ x | leaf | value 3.00000000 | grad 6.00000000 }"));
    /// ```
    pub fn to_dot(&self) -> String {
        Dot::new(self.tape()).gradients(self).to_string()
    }
}
