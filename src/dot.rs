//! Drawings: the tape as a Graphviz DOT graph, left to right like micrograd's
//! `draw_dot`.
//!
//! Each node is a record `{ name | op | value | grad }` (the gradient when
//! [`Gradients`] are given), and each edge runs from an operand to the node using
//! it, labelled with the local derivative ∂node/∂operand (an operand used twice
//! has two edges, one per use). Unlabelled nodes are named as explanations name
//! them, by a short expression (`x₀·x₁`) or `op#index` (see
//! [names](crate::explain#names)), and a name two drawn nodes share is written
//! with `#index` after it (`h#3`, `h#7`), as explanations write it. An edge to an operand a select op did not pick
//! (relu at z ≤ 0, the loser of max/min) is *masked*: it passes exactly 0 back
//! whatever the node's gradient (the non-finite policy of [`crate::backward`]),
//! and is drawn dashed. A node at a kink (relu, abs, signum or leaky_relu at 0,
//! max or min at a tie, clamp at a bound, pow at 0^0, atan2 on its branch
//! cut: [`crate::explain::kink_at`]) is drawn orange with the note in its
//! tooltip, and each edge whose partial is the kink's convention, not a
//! derivative, is orange and labelled `(convention)`: relu′(0) = 0 is not
//! drawn as a unit that is off. Render with `dot -Tsvg graph.dot > graph.svg`.
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

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;

use crate::backward::is_masked;
use crate::explain::{format_number, Namer};
use crate::tape::Recording;
use crate::{Gradients, Tape};

/// A tape's labels, by node.
type Labels = BTreeMap<u32, Cow<'static, str>>;

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
/// Edges are drawn between drawn nodes only. No graph view is built: the drawn
/// nodes are found on the tape itself, iteratively.
///
/// # Complexity
/// With [`within`](Dot::within)`(k)`: time and extra space O(d + e) for the d
/// drawn nodes and the e edges of the nodes within k − 1 steps (a breadth-first
/// walk), whatever the size of the tape. With an output and no bound: time
/// O(output / 64 + d + e), extra space output / 8 bytes + O(d) (a reverse scan, as
/// the sweep). With neither: O(tape). Writing adds O(d + e), and naming each
/// unlabelled node at most [`NAME_CAP`](crate::explain::NAME_CAP) nodes below it.
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
    #[must_use]
    pub fn new(tape: &'a Tape) -> Self {
        Dot {
            tape,
            gradients: None,
            output: None,
            within: None,
        }
    }

    /// Shows each node's gradient, and takes the gradients' output as the output
    /// (unless one was set). Where another output is set, each node's field
    /// says whose gradient it is: `grad of y 3.00000000`.
    ///
    /// ```
    /// use chainrule::dot::Dot;
    ///
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(2.0).named("x");
    /// let y = (x * 3.0).named("y");
    /// let z = x.exp().named("z");
    /// let g = y.backward();
    /// let dot = Dot::new(&tape).gradients(&g).output(z.index()).to_string();
    /// assert!(dot.contains("{ x | leaf | value 2.00000000 | grad of y 3.00000000 }"));
    /// assert!(dot.contains("{ z | exp | value 7.38905610 | grad of y 0.00000000 }"));
    /// ```
    ///
    /// # Panics
    /// When written, if the gradients were swept on another tape.
    #[must_use]
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
    #[must_use]
    pub fn output(self, index: usize) -> Self {
        Dot {
            output: Some(index),
            ..self
        }
    }

    /// Draws only the nodes at most `steps` edges below the output: the
    /// neighbourhood of the loss in a large graph.
    ///
    /// # Complexity
    /// Writing then takes time and extra space O(d + e) for the d nodes drawn and
    /// the e edges of those within `steps − 1`, whatever the size of the tape (a
    /// breadth-first walk on the tape, no graph view built).
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
    #[must_use]
    pub fn within(self, steps: usize) -> Self {
        Dot {
            within: Some(steps),
            ..self
        }
    }

    /// Which nodes to draw, ascending, and the output to bold.
    fn drawn(&self, rec: &Recording) -> (Vec<u32>, Option<usize>) {
        let n = rec.len();
        let requested = self.output.or(self.gradients.map(Gradients::output));
        let output = requested.filter(|&o| o < n);
        if requested.is_some() && output.is_none() {
            return (Vec::new(), None);
        }
        let start = match (output, self.within) {
            (Some(o), _) => o,
            (None, Some(_)) if n > 0 => n - 1,
            _ => return ((0..n as u32).collect(), None),
        };
        let mut nodes: Vec<u32> = match self.within {
            Some(limit) => {
                // Breadth-first from the start, k steps down: cost bounded by what
                // is drawn.
                let mut depth: HashMap<u32, usize> = HashMap::from([(start as u32, 0)]);
                let mut queue = VecDeque::from([start as u32]);
                while let Some(node) = queue.pop_front() {
                    let d = depth[&node];
                    if d == limit {
                        continue;
                    }
                    for (operand, _) in rec.edges(node as usize) {
                        depth.entry(operand).or_insert_with(|| {
                            queue.push_back(operand);
                            d + 1
                        });
                    }
                }
                depth.into_keys().collect()
            }
            None => {
                // Every ancestor.
                crate::graph::ancestor_indices(rec, start)
            }
        };
        nodes.sort_unstable();
        (nodes, output)
    }
}

/// Escapes text for a field of a DOT record label inside double quotes.
/// `text` for a DOT double-quoted string: `"` and `\` escaped.
fn escape_quoted(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

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
        // The text is made inside the arena cell and written after leaving it:
        // `f` writes to the caller's writer, whose code may use this tape (the
        // arena is not re-entrant; see `tape::cell`).
        let body = {
            let labels = self.tape.label_map();
            self.tape.recording.read(|rec| self.body(rec, &labels))
        };
        f.write_str(&body)
    }
}

impl Dot<'_> {
    /// The whole DOT text, made from the recording and the labels alone (no
    /// method of the tape, no writer of the caller's: it runs inside the
    /// arena cell).
    fn body(&self, rec: &Recording, labels: &Labels) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = self.write_body(rec, labels, &mut out);
        out
    }

    fn write_body(&self, rec: &Recording, labels: &Labels, f: &mut String) -> fmt::Result {
        use fmt::Write as _;
        writeln!(f, "digraph chainrule {{")?;
        writeln!(f, "  rankdir=LR;")?;
        writeln!(f, "  node [shape=record, fontname=\"monospace\"];")?;
        writeln!(f, "  edge [fontname=\"monospace\", fontsize=10];")?;
        {
            let namer = Namer::new(rec, labels);
            let (drawn, output) = self.drawn(rec);
            let is_drawn = |i: u32| drawn.binary_search(&i).is_ok();
            // The gradients are of their own output: where another output is
            // drawn, each field says of which (`grad` alone would read as
            // ∂(drawn output)/∂node, and the drawn output's as 1).
            // A name two drawn nodes share gets `#index` after it, as in
            // explanations (`h#3`, `h#7`): each box then reads as one quantity,
            // and matches the explanation that names it.
            let mut names: Vec<String> = drawn.iter().map(|&n| namer.name(n as usize)).collect();
            let mut uses: HashMap<String, usize> = HashMap::new();
            for name in &names {
                *uses.entry(name.clone()).or_default() += 1;
            }
            for (name, &node) in names.iter_mut().zip(&drawn) {
                if uses[name.as_str()] > 1 {
                    name.push_str(&format!("#{node}"));
                }
            }
            let name_of = |i: usize| match drawn.binary_search(&(i as u32)) {
                Ok(k) => names[k].clone(),
                Err(_) => namer.name(i),
            };
            let grad = match self.gradients {
                Some(g) if self.output.is_some_and(|o| o != g.output()) => {
                    format!("grad of {}", escape_record(&name_of(g.output())))
                }
                _ => "grad".to_string(),
            };
            for (k, &node) in drawn.iter().enumerate() {
                let i = node as usize;
                let mut label = format!(
                    "{{ {} | {} | value {}",
                    escape_record(&names[k]),
                    rec.ops()[i],
                    format_number(rec.values()[i], 8)
                );
                if let Some(g) = self.gradients {
                    label.push_str(&format!(" | {grad} {}", format_number(g.by_index(i), 8)));
                }
                label.push_str(" }");
                let bold = if Some(i) == output {
                    ", penwidth=2"
                } else {
                    ""
                };
                // At a kink (relu at 0, a tie of max, …) the node's partials
                // are a convention: drawn orange, the note in its tooltip.
                let kink = match crate::explain::kink_note(rec, i) {
                    Some(note) => {
                        format!(", color=darkorange, tooltip=\"{}\"", escape_quoted(note))
                    }
                    None => String::new(),
                };
                writeln!(f, "  n{i} [label=\"{label}\"{bold}{kink}];")?;
            }
            for &node in &drawn {
                let i = node as usize;
                let op = rec.ops()[i];
                let last = rec.edges(i).last().map_or(0.0, |(_, p)| p);
                let kink = crate::explain::kink_note(rec, i);
                for (e, (operand, partial)) in rec.edges(i).enumerate() {
                    if !is_drawn(operand) {
                        continue;
                    }
                    let masked = is_masked(op, partial, last);
                    let convention = kink.filter(|_| crate::explain::convention_edge(op, e));
                    let dashed = if masked { ", style=dashed" } else { "" };
                    let (suffix, style) = match convention {
                        // A convention at a kink, not a derivative: said on
                        // the edge, the note in its tooltip (and, if the edge
                        // is masked, that it passes 0).
                        Some(note) => (
                            " (convention)",
                            format!(
                                ", color=darkorange, fontcolor=darkorange{dashed}, tooltip=\"{}{}\"",
                                escape_quoted(note),
                                if masked { "; passes 0" } else { "" }
                            ),
                        ),
                        None if masked => {
                            let tag = crate::explain::edge_mask_tag(rec, i, op);
                            ("", format!("{dashed}, tooltip=\"{tag}: passes 0\""))
                        }
                        None => ("", String::new()),
                    };
                    writeln!(
                        f,
                        "  n{operand} -> n{i} [label=\"{}{suffix}\"{style}];",
                        format_number(partial, 8)
                    )?;
                }
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
