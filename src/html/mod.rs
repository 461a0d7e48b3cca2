//! A page that plays the backward sweep: [`Dot`](crate::dot::Dot)'s sibling for
//! a browser.
//!
//! [`Html`] writes one self-contained HTML file (no network, no external script
//! or font) that shows the graph of an output laid out left to right, each node
//! with its name, op, value and gradient, and controls to step through the
//! computation node by node, as the step-by-step backpropagation article does:
//!
//! 1. the **forward pass**, in recording order: each node's value appears, with
//!    its formula over its operands' names (`t = 3·s`; an operand a drawing cut
//!    by [`within`](Html::within) leaves out is named by its label or short
//!    expression, or else by its value: `sin(0.47942554)`);
//! 2. the **backward pass**, the reverse sweep of [`crate::backward`]: the
//!    output's adjoint is seeded with 1, then each node, from the last recorded
//!    down, is highlighted and every edge to an operand fires, labelled
//!    `adjoint[operand] += adjoint[node] × partial` with its numbers (an
//!    operand used twice, as in `x * x`, gets one edge per use, each named by
//!    its use, `∂f/∂(x, use 1 of 2)`, then their sum, ∂f/∂x; the partial of
//!    a node that also depends on the operand through another of its operands
//!    is its direct partial, named `∂f/∂x|direct` as the explanations name
//!    it; a partial at a kink is marked as a convention, with [`kink_at`]'s
//!    note);
//! 3. a side panel keeps the running chain-rule sum of a chosen variable, one
//!    term per use of it (`+ ∂E/∂(w5·out_h1) · ∂(w5·out_h1)/∂w5` for the seed
//!    network's w5), with the
//!    path-by-path [explanation](crate::explain) of its final value.
//!
//! The page does the sweep's arithmetic itself, in the browser's `f64`, in the
//! order the sweep does it, so what it shows at the end is the tape's gradients
//! (`tests/browser.rs` checks that in a headless Chromium). The layout is
//! computed here by the `layout-rs` crate (a Sugiyama-style layered layout, as
//! Graphviz's `dot` does), so no Graphviz is needed.
//!
//! Which nodes are drawn: those the output depends on, or with
//! [`within`](Html::within)`(k)` those at most `k` edges below it. A drawing of
//! more than [`MAX_NODES`] nodes (or the bound given to
//! [`max_nodes`](Html::max_nodes)) is refused: a page that size cannot be read,
//! and [`TooLarge`] says to draw the neighbourhood of the output with `within`.
//!
//! The page's address takes a fragment for scripts and screenshots:
//! `#play=all` presses "step" until the sweep is done, `#step=N` presses it
//! `N` times, `focus=NAME` (joined with `&`) chooses the variable of the
//! side panel and `zoom=fit` (or `0.5`, `0.75`, `1`) the scale. Each node's group carries `data-value` and `data-grad` with the
//! numbers shown (shortest round-trip decimal), `#status` carries
//! `data-step`, `data-total` and `data-phase`.
//!
//! ```
//! use chainrule::html::Html;
//!
//! let tape = chainrule::Tape::new();
//! let x = tape.var(0.5).named("x");
//! let y = tape.var(2.0).named("y");
//! let f = (x * y).sigmoid().named("f");
//! let g = f.backward();
//! let page = Html::new(&g).focus(x.index()).render()?;
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! assert!(!page.contains("<script src")); // self-contained
//! # Ok::<(), chainrule::html::TooLarge>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::fmt::Write as _;

use layout::core::base::Orientation;
use layout::core::format::{ClipHandle, RenderBackend};
use layout::core::geometry::Point;
use layout::core::style::StyleAttr;
use layout::std_shapes::shapes::{Arrow, Element, ShapeKind};
use layout::topo::layout::VisualGraph;

use crate::backward::is_masked;
use crate::explain::{
    direct_edges, format_number, formulas, kink_at, readable_name, readable_names,
};
use crate::json::string as json_string;
use crate::{Gradients, Tape, Var};

/// The most nodes a page draws unless told otherwise ([`Html::max_nodes`]).
pub const MAX_NODES: usize = 400;

/// The most variables the side panel offers (each with its explanation).
const MAX_FOCUS_CHOICES: usize = 64;

/// The size of a node's box, in pixels.
const NODE_WIDTH: f64 = 164.0;
const NODE_HEIGHT: f64 = 76.0;

/// The page's style and script, embedded in every page.
const STYLE: &str = include_str!("page.css");
const SCRIPT: &str = include_str!("page.js");

/// A page that plays the forward and backward passes of a tape (see the
/// [module documentation](self)). Configured with builder methods, written by
/// [`render`](Html::render).
///
/// ```
/// let tape = chainrule::Tape::new();
/// let w = tape.var(0.4).named("w");
/// let e = (w * 3.0 - 1.0).square().named("E");
/// let g = e.backward();
/// let page = chainrule::html::Html::new(&g).title("one weight").render().unwrap();
/// assert!(page.contains("<title>one weight</title>"));
/// ```
#[derive(Clone, Copy)]
pub struct Html<'a> {
    gradients: &'a Gradients<'a>,
    within: Option<usize>,
    focus: Option<usize>,
    title: Option<&'a str>,
    max_nodes: usize,
}

/// Why a page was not written: the drawing would have too many nodes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooLarge {
    /// How many nodes were found before giving up (more than `max_nodes`).
    pub found: usize,
    /// The bound.
    pub max_nodes: usize,
}

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the graph has more than {} nodes, too many to step through in a page; \
             draw the neighbourhood of the output with within(k) (on the command line, \
             --within K), e.g. within(3)",
            self.max_nodes
        )
    }
}

impl std::error::Error for TooLarge {}

/// One drawn node.
struct Node {
    index: usize,
    name: String,
    op: &'static str,
    value: f64,
    grad: f64,
    /// What the node's adjoint receives from uses that are not drawn (only with
    /// `within`), added before it fires.
    outside: f64,
    /// The note when the node is at a kink (relu at 0, a tie of max, clamp at a
    /// bound, …) and its partials are a convention ([`kink_at`]).
    kink: Option<&'static str>,
    /// What its forward step computes, over its operands' names (those not
    /// drawn by their names or values): `3·x`.
    formula: String,
    x: f64,
    y: f64,
}

/// One edge of the tape between drawn nodes, from the node using an operand.
struct Edge {
    node: usize,
    operand: usize,
    partial: f64,
    masked: bool,
    /// What masks it, as the explanations tag it (`masked` for relu, `not
    /// picked` for max, min and clamp: [`crate::explain::edge_mask_tag`]);
    /// `None` where it is not masked.
    tag: Option<&'static str>,
    /// Whether the node also depends on the operand through another of its
    /// operands (in the tape, drawn or not): its partial is then the direct
    /// one, the others held fixed, which the page writes `∂f/∂x|direct` as
    /// the explanations do.
    direct: bool,
    /// The drawn curve (shared by parallel edges).
    path: usize,
}

impl<'a> Html<'a> {
    /// A page of the graph below `gradients`' output, with its gradients.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0);
    /// let g = x.exp().backward();
    /// assert!(chainrule::html::Html::new(&g).render().is_ok());
    /// ```
    #[must_use]
    pub fn new(gradients: &'a Gradients<'_>) -> Self {
        Html {
            gradients,
            within: None,
            focus: None,
            title: None,
            max_nodes: MAX_NODES,
        }
    }

    /// Draws only the nodes at most `steps` edges below the output. A node whose
    /// adjoint also receives from uses not drawn gets that share in one line
    /// ("from uses not drawn") before it fires, so every shown gradient is still
    /// the tape's; the side panel lists that share as a term of its sum.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let mut x = tape.var(0.5);
    /// for _ in 0..1000 {
    ///     x = x.sin();
    /// }
    /// let g = x.backward();
    /// assert!(chainrule::html::Html::new(&g).render().is_err()); // 1001 nodes
    /// assert!(chainrule::html::Html::new(&g).within(3).render().is_ok());
    /// ```
    #[must_use]
    pub fn within(self, steps: usize) -> Self {
        Html {
            within: Some(steps),
            ..self
        }
    }

    /// The variable the side panel follows at first (a node index; the page
    /// offers the drawn leaves, this node and the labelled nodes). By default the
    /// first leaf drawn, which a node of the tape that is not drawn leaves in
    /// place; [`render`](Html::render) panics on an index that is no node of
    /// the tape.
    #[must_use]
    pub fn focus(self, index: usize) -> Self {
        Html {
            focus: Some(index),
            ..self
        }
    }

    /// The page's title (default: "∂output: the backward sweep").
    #[must_use]
    pub fn title(self, title: &'a str) -> Self {
        Html {
            title: Some(title),
            ..self
        }
    }

    /// The most nodes to draw (default [`MAX_NODES`]).
    ///
    /// # Complexity
    /// The layout grows with about the cube of the drawing's size: `layout-rs`
    /// (0.1) checks that its graph is still acyclic after adding each edge, a
    /// depth-first search from every edge, and that check cannot be turned
    /// off from outside the crate. A chain of `sin` nodes (one edge each)
    /// renders in about 0.14 s at 500 nodes, 1 s at 1,000, 8 s at 2,000 and
    /// over 2 minutes at 5,000 (measured on a 2-core x86-64, release build);
    /// at the default 400, under 0.15 s. Raise the bound only as
    /// far as you will wait, or draw a neighbourhood with
    /// [`within`](Html::within).
    #[must_use]
    pub fn max_nodes(self, max_nodes: usize) -> Self {
        Html { max_nodes, ..self }
    }

    /// Which nodes to draw, ascending; `Err` past the bound.
    fn drawn(&self) -> Result<Vec<usize>, TooLarge> {
        let tape = self.gradients.tape();
        let output = self.gradients.output();
        // Breadth-first from the output: its cost is bounded by what is drawn,
        // and a graph too large is refused as soon as it is found to be.
        let mut depth: HashMap<usize, usize> = HashMap::from([(output, 0)]);
        if depth.len() > self.max_nodes {
            // `max_nodes(0)`: not even the output.
            return Err(TooLarge {
                found: depth.len(),
                max_nodes: self.max_nodes,
            });
        }
        let mut queue = VecDeque::from([output]);
        while let Some(node) = queue.pop_front() {
            let d = depth[&node];
            if self.within.is_some_and(|limit| d >= limit) {
                continue;
            }
            for (operand, _) in tape.edges(node) {
                if let std::collections::hash_map::Entry::Vacant(e) = depth.entry(operand) {
                    e.insert(d + 1);
                    queue.push_back(operand);
                    if depth.len() > self.max_nodes {
                        return Err(TooLarge {
                            found: depth.len(),
                            max_nodes: self.max_nodes,
                        });
                    }
                }
            }
        }
        let mut nodes: Vec<usize> = depth.into_keys().collect();
        nodes.sort_unstable();
        Ok(nodes)
    }

    /// Writes the page.
    ///
    /// # Errors
    /// [`TooLarge`] when the drawing would have more than
    /// [`max_nodes`](Html::max_nodes) nodes (default [`MAX_NODES`]).
    ///
    /// # Complexity
    /// Time O(d + e) to find the d drawn nodes and their e edges, whatever the
    /// size of the tape, plus the layout (about O(e² · (d + e)): `layout-rs`
    /// checks its graph for cycles after each edge it adds; 1 s for a chain of
    /// 1,000 nodes, over 2 minutes for 5,000: see [`max_nodes`](Html::max_nodes)), one
    /// explanation for each variable the side panel offers (at most 64), and,
    /// for each drawn node of several operands, a walk of the nodes recorded
    /// between its lowest operand and it (whether it also reaches an operand
    /// through another, to name that edge's partial `∂f/∂x|direct`).
    ///
    /// # Panics
    /// If the focus given to [`focus`](Html::focus) is not a node of the tape
    /// (a node of the tape that is not drawn, outside [`within`](Html::within),
    /// leaves the panel on its default).
    #[track_caller]
    pub fn render(&self) -> Result<String, TooLarge> {
        let g = self.gradients;
        let tape = g.tape();
        let output = g.output();
        if let Some(focus) = self.focus {
            assert!(
                focus < tape.len(),
                "chainrule::html: the focus, node {focus}, is not a node of the tape \
                 (it has {} nodes)",
                tape.len()
            );
        }
        let drawn = self.drawn()?;
        let position: HashMap<usize, usize> =
            drawn.iter().enumerate().map(|(k, &i)| (i, k)).collect();

        let mut names = readable_names(tape, &drawn);
        // A name two drawn nodes share gets `#index` after it, as DOT and the
        // explanations write it (`exp(x)#2`, `exp(x)#4`): one name, one
        // quantity, in the side panel's chain rule too.
        let mut uses: HashMap<String, usize> = HashMap::new();
        for name in &names {
            *uses.entry(name.clone()).or_default() += 1;
        }
        for (name, &i) in names.iter_mut().zip(&drawn) {
            if uses[name.as_str()] > 1 {
                name.push_str(&format!("#{i}"));
            }
        }
        let formulas = formulas(tape, &drawn, &names);
        let mut nodes: Vec<Node> = drawn
            .iter()
            .zip(names)
            .zip(formulas)
            .map(|((&i, name), formula)| Node {
                index: i,
                name,
                op: tape.op(i).name(),
                value: tape.value(i),
                grad: g.by_index(i),
                outside: 0.0,
                kink: kink_at(tape, i),
                formula,
                x: 0.0,
                y: 0.0,
            })
            .collect();

        // Every tape edge between drawn nodes, node by node in recording order;
        // parallel edges share one drawn curve.
        let mut edges = Vec::new();
        let mut curves: Vec<(usize, usize)> = Vec::new();
        let mut curve_of: HashMap<(usize, usize), usize> = HashMap::new();
        for &i in &drawn {
            let op = tape.op(i);
            let all = tape.edges(i);
            let last = all.last().map_or(0.0, |&(_, p)| p);
            let direct = if all.len() > 1 {
                direct_edges(tape, i)
            } else {
                Vec::new()
            };
            for (k, &(operand, partial)) in all.iter().enumerate() {
                if !position.contains_key(&operand) {
                    continue;
                }
                let path = *curve_of.entry((operand, i)).or_insert_with(|| {
                    curves.push((operand, i));
                    curves.len() - 1
                });
                edges.push(Edge {
                    node: i,
                    operand,
                    partial,
                    masked: is_masked(op, partial, last),
                    tag: is_masked(op, partial, last).then(|| {
                        tape.recording
                            .read(|rec| crate::explain::edge_mask_tag(rec, i, op))
                    }),
                    direct: direct.get(k).copied().unwrap_or(false),
                    path,
                });
            }
        }

        // The sweep over the drawn nodes, as the page does it: whatever a node's
        // adjoint lacks then comes from uses not drawn.
        let mut adjoint: HashMap<usize, f64> = HashMap::from([(output, 1.0)]);
        let mut by_node: HashMap<usize, Vec<&Edge>> = HashMap::new();
        for e in &edges {
            by_node.entry(e.node).or_default().push(e);
        }
        for node in nodes.iter_mut().rev() {
            let running = adjoint.get(&node.index).copied().unwrap_or(0.0);
            // (Only a drawing cut by `within` leaves uses out: with every
            // ancestor drawn, the page's own sum is the node's adjoint.)
            let cut = self.within.is_some();
            if cut && node.index != output && running.to_bits() != node.grad.to_bits() {
                node.outside = node.grad - running;
            }
            let a = node.grad;
            for e in by_node.get(&node.index).map(Vec::as_slice).unwrap_or(&[]) {
                let c = if e.masked { 0.0 } else { a * e.partial };
                *adjoint.entry(e.operand).or_insert(0.0) += c;
            }
        }

        let paths = lay_out(&mut nodes, &curves, &position);

        // The variables the side panel offers, each with its explanation.
        let mut choices: Vec<usize> = Vec::new();
        if let Some(f) = self.focus.filter(|f| position.contains_key(f)) {
            choices.push(f);
        }
        for n in &nodes {
            let offered = tape.edges(n.index).is_empty() || tape.label(n.index).is_some();
            if offered && n.index != output && !choices.contains(&n.index) {
                choices.push(n.index);
            }
        }
        choices.truncate(MAX_FOCUS_CHOICES);
        let focus = self
            .focus
            .filter(|f| position.contains_key(f))
            .or_else(|| {
                nodes
                    .iter()
                    .find(|n| tape.edges(n.index).is_empty())
                    .map(|n| n.index)
            })
            .or(choices.first().copied());
        let explanations: Vec<(usize, String)> = choices
            .iter()
            .map(|&i| {
                let x = Var::from_parts(tape, i as u32, tape.value(i));
                (i, g.explain(x).to_string())
            })
            .collect();

        let default_title = format!("∂{}: the backward sweep", readable_name(tape, output));
        let title = self.title.unwrap_or(&default_title);
        Ok(page(
            title,
            &data_json(
                tape,
                output,
                &nodes,
                &edges,
                &paths,
                focus,
                &explanations,
                self.within,
            ),
        ))
    }
}

/// Records where layout-rs puts each box and edge.
#[derive(Default)]
struct Capture {
    boxes: HashMap<usize, Point>,
    paths: HashMap<usize, Vec<(Point, Point)>>,
}

impl RenderBackend for Capture {
    fn draw_rect(
        &mut self,
        xy: Point,
        _size: Point,
        _look: &StyleAttr,
        properties: Option<String>,
        _clip: Option<ClipHandle>,
    ) {
        if let Some(k) = properties.and_then(|p| p.strip_prefix('n')?.parse().ok()) {
            self.boxes.insert(k, xy);
        }
    }
    fn draw_line(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}
    fn draw_circle(&mut self, _: Point, _: Point, _: &StyleAttr, _: Option<String>) {}
    fn draw_text(&mut self, _: Point, _: &str, _: &StyleAttr) {}
    fn draw_arrow(
        &mut self,
        path: &[(Point, Point)],
        _dashed: bool,
        _head: (bool, bool),
        _look: &StyleAttr,
        properties: Option<String>,
        _text: &str,
    ) {
        if let Some(k) = properties.and_then(|p| p.strip_prefix('e')?.parse().ok()) {
            self.paths.insert(k, path.to_vec());
        }
    }
    fn create_clip(&mut self, _: Point, _: Point, _: usize) -> ClipHandle {
        0
    }
}

/// Lays the graph out left to right with layout-rs: sets each node's top-left
/// corner (shifted so the drawing starts at a margin) and returns each curve as
/// an SVG path.
fn lay_out(
    nodes: &mut [Node],
    curves: &[(usize, usize)],
    position: &HashMap<usize, usize>,
) -> Vec<String> {
    let mut graph = VisualGraph::new(Orientation::LeftToRight);
    let handles: Vec<_> = nodes
        .iter()
        .enumerate()
        .map(|(k, _)| {
            graph.add_node(Element::create_with_properties(
                ShapeKind::new_box(""),
                StyleAttr::simple(),
                Orientation::LeftToRight,
                Point::new(NODE_WIDTH, NODE_HEIGHT),
                format!("n{k}"),
            ))
        })
        .collect();
    for (k, (operand, node)) in curves.iter().enumerate() {
        graph.add_edge(
            Arrow::simple_with_properties("", format!("e{k}")),
            handles[position[operand]],
            handles[position[node]],
        );
    }
    let mut capture = Capture::default();
    if !nodes.is_empty() {
        graph.do_it(false, false, false, &mut capture);
    }
    // Shift everything so that the drawing's top-left corner is at the margin.
    let margin = 24.0;
    let points = capture
        .boxes
        .values()
        .copied()
        .chain(capture.paths.values().flatten().flat_map(|&(a, b)| [a, b]));
    let (min_x, min_y) = points.fold((f64::INFINITY, f64::INFINITY), |(x, y), p| {
        (x.min(p.x), y.min(p.y))
    });
    let (dx, dy) = if min_x.is_finite() {
        (margin - min_x, margin - min_y)
    } else {
        (margin, margin)
    };
    for (k, node) in nodes.iter_mut().enumerate() {
        let at = capture
            .boxes
            .get(&k)
            .copied()
            .unwrap_or(Point::new(0.0, 0.0));
        node.x = at.x + dx;
        node.y = at.y + dy;
    }
    (0..curves.len())
        .map(|k| {
            let Some(path) = capture.paths.get(&k).filter(|p| p.len() >= 2) else {
                return String::new();
            };
            let p = |q: Point| format!("{:.1} {:.1}", q.x + dx, q.y + dy);
            let mut d = format!(
                "M {} C {}, {}, {}",
                p(path[0].0),
                p(path[0].1),
                p(path[1].0),
                p(path[1].1)
            );
            for point in &path[2..] {
                let _ = write!(d, " S {}, {}", p(point.0), p(point.1));
            }
            d
        })
        .collect()
}

/// A number for the page: a JSON number with every digit (the shortest decimal
/// that reads back the same `f64`), or a string for NaN and the infinities
/// (which JSON lacks; the script reads them with `Number`).
fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:?}")
    } else if x.is_nan() {
        "\"NaN\"".to_string()
    } else if x > 0.0 {
        "\"Infinity\"".to_string()
    } else {
        "\"-Infinity\"".to_string()
    }
}

/// The page's data, as JSON.
#[allow(clippy::too_many_arguments)]
fn data_json(
    tape: &Tape,
    output: usize,
    nodes: &[Node],
    edges: &[Edge],
    paths: &[String],
    focus: Option<usize>,
    explanations: &[(usize, String)],
    within: Option<usize>,
) -> String {
    let mut j = String::from("{");
    let _ = write!(j, "\"output\":{output},\"tapeLen\":{},", tape.len());
    let _ = write!(
        j,
        "\"within\":{},",
        within.map_or("null".to_string(), |w| w.to_string())
    );
    let _ = write!(
        j,
        "\"focus\":{},",
        focus.map_or("null".to_string(), |f| f.to_string())
    );
    let _ = write!(
        j,
        "\"size\":[{:.1},{:.1}],",
        nodes.iter().map(|n| n.x).fold(0.0, f64::max) + NODE_WIDTH + 48.0,
        nodes.iter().map(|n| n.y).fold(0.0, f64::max) + NODE_HEIGHT + 48.0
    );
    let _ = write!(j, "\"box\":[{NODE_WIDTH},{NODE_HEIGHT}],");
    j.push_str("\"nodes\":[");
    for (k, n) in nodes.iter().enumerate() {
        if k > 0 {
            j.push(',');
        }
        let _ = write!(
            j,
            "{{\"i\":{},\"name\":{},\"op\":{},\"formula\":{},\"value\":{},\"grad\":{},\"outside\":{},\"kink\":{},\"x\":{:.1},\"y\":{:.1},\"shown\":{}}}",
            n.index,
            json_string(&n.name),
            json_string(n.op),
            json_string(&n.formula),
            json_number(n.value),
            json_number(n.grad),
            json_number(n.outside),
            n.kink.map_or("null".to_string(), json_string),
            n.x,
            n.y,
            json_string(&format_number(n.value, 8)),
        );
    }
    j.push_str("],\"edges\":[");
    for (k, e) in edges.iter().enumerate() {
        if k > 0 {
            j.push(',');
        }
        let _ = write!(
            j,
            "{{\"node\":{},\"operand\":{},\"partial\":{},\"masked\":{},\"tag\":{},\"direct\":{},\"path\":{}}}",
            e.node,
            e.operand,
            json_number(e.partial),
            e.masked,
            e.tag.map_or("null".to_string(), |t| format!("\"{t}\"")),
            e.direct,
            e.path
        );
    }
    j.push_str("],\"paths\":[");
    for (k, p) in paths.iter().enumerate() {
        if k > 0 {
            j.push(',');
        }
        j.push_str(&json_string(p));
    }
    j.push_str("],\"explanations\":[");
    for (k, (i, text)) in explanations.iter().enumerate() {
        if k > 0 {
            j.push(',');
        }
        let _ = write!(j, "[{i},{}]", json_string(text));
    }
    j.push_str("]}");
    j
}

/// Escapes text for HTML.
fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page.
fn page(title: &str, data: &str) -> String {
    let title = escape_html(title);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="chainrule {version}">
<title>{title}</title>
<style>
{STYLE}</style>
</head>
<body>
<header>
  <h1>{title}</h1>
  <nav id="controls" aria-label="sweep controls">
    <button id="reset" title="back to the start (Home)">⟲ reset</button>
    <button id="back" title="one step back (←)">◀ back</button>
    <button id="step" title="one step (→)">step ▶</button>
    <button id="play" title="play or pause (space)">▶ play</button>
    <button id="end" title="to the end (End)">end »</button>
    <label>zoom <select id="zoom"><option value="fit">fit</option><option value="0.5">50%</option><option value="0.75">75%</option><option value="1" selected>100%</option></select></label>
    <span id="status" role="status" data-step="0" data-total="0" data-phase="start"></span>
  </nav>
</header>
<main>
  <div id="graph-wrap"><svg id="graph" xmlns="http://www.w3.org/2000/svg"></svg></div>
  <aside id="side">
    <section>
      <h2>This step</h2>
      <div id="log"></div>
    </section>
    <section>
      <h2>Chain rule for <select id="focus" aria-label="variable"></select></h2>
      <div id="sum"></div>
      <details id="explanation-box"><summary>the same gradient, path by path</summary><pre id="explanation"></pre></details>
    </section>
    <p class="legend">Forward pass first (values, in recording order), then the backward
    sweep: the output's adjoint is 1, and each node, from the last recorded down,
    adds <code>adjoint[node] × ∂node/∂operand</code> to each operand's adjoint.
    A dashed edge passes exactly 0: it runs to an operand a select op (relu, max, min,
    clamp) did not pick, from a relu neuron at z ≤ 0, or from a signum (whose derivative is 0). A node that uses an operand twice
    (<code>x * x</code>) has an edge per use, each with its partial in that use alone.
    A node that also depends on an operand through another of its operands
    (<code>f = t·x</code>, <code>t = x·y</code>) names that edge's partial
    <code>∂f/∂x|direct</code>: the other operands held fixed, not the total ∂f/∂x.
    At a kink (relu, abs, signum or leaky_relu at 0, max or min at a tie, clamp at a
    bound, pow at 0<sup>0</sup>, atan2 on its branch cut: y = ±0, x &lt; 0) the derivative does not exist and the partial is a convention: the step says so.</p>
  </aside>
</main>
<script type="application/json" id="data">{data}</script>
<script>
{SCRIPT}</script>
</body>
</html>
"#,
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_cannot_close_the_script() {
        assert_eq!(
            json_string("a</script>\"\n"),
            r#""a\u003c/script\u003e\"\u000a""#
        );
    }

    #[test]
    fn non_finite_numbers_are_strings() {
        assert_eq!(json_number(f64::NAN), "\"NaN\"");
        assert_eq!(json_number(f64::NEG_INFINITY), "\"-Infinity\"");
        assert_eq!(json_number(0.1), "0.1");
        assert_eq!(json_number(1e-300), "1e-300");
    }

    #[test]
    fn a_node_used_outside_the_drawing_gets_its_share_from_outside() {
        let tape = Tape::new();
        let x = tape.var(0.5).named("x");
        let a = x.sin();
        let b = a.exp().exp().exp();
        let y = (a + b).named("y");
        let g = y.backward();
        let html = Html::new(&g).within(1);
        let drawn = html.drawn().unwrap();
        assert_eq!(drawn, vec![a.index(), b.index(), y.index()]);
        let page = html.render().unwrap();
        // a's adjoint: 1 from y, drawn, plus what b passes it, not drawn.
        let outside = g[a] - 1.0;
        assert!(outside != 0.0);
        assert!(page.contains(&format!("\"outside\":{outside:?}")), "{page}");
    }

    #[test]
    fn too_large_is_refused_with_a_hint() {
        let tape = Tape::new();
        let mut x = tape.var(1.0);
        for _ in 0..20 {
            x = x.cos();
        }
        let g = x.backward();
        let err = Html::new(&g).max_nodes(10).render().unwrap_err();
        assert_eq!(err.max_nodes, 10);
        assert!(err.to_string().contains("within(k)"));
        assert!(Html::new(&g).max_nodes(21).render().is_ok());
    }
}
