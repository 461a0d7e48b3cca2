//! Anomaly reports: the first node whose value or local partial derivative is NaN
//! or infinite, named with its op, label, index and operands.
//!
//! Two ways to find it:
//!
//! - after the fact, [`Tape::find_anomaly`] scans the tape (O(nodes + edges));
//! - while recording, [`Tape::set_anomaly_detection`]`(true)` checks each node as
//!   it is recorded and remembers the first bad one; [`Tape::recorded_anomaly_report`]
//!   names it. Off (the default), the check costs one predictable branch per node
//!   (see `benches/anomaly.rs`).
//!
//! ```
//! use chainrule::Tape;
//!
//! let tape = Tape::new();
//! let x = tape.var(-1.0).named("x");
//! let y = x.ln();
//! let anomaly = tape.find_anomaly().expect("ln(-1) is NaN");
//! assert_eq!(anomaly.index, y.index());
//! assert_eq!(anomaly.to_string(), "node #1 ln(x) = NaN: operand #0 x = -1");
//! ```

use std::fmt;

use crate::backward::Gradients;
use crate::tape::{Op, Tape};

/// What was not finite at the anomalous node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonFinite {
    /// Its value.
    Value,
    /// Its value was finite, but the local partial ∂node/∂operand of this operand
    /// slot (0 for the first) was not: `sqrt` at 0, for one.
    Partial {
        /// The operand slot.
        slot: usize,
    },
}

/// One operand of the anomalous node.
#[derive(Clone, Debug, PartialEq)]
pub struct AnomalyOperand {
    /// Its node index.
    pub index: usize,
    /// Its label, or its expression as explanations write it (`x₀·x₁`), or
    /// `op#index` past 24 characters.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// The local partial derivative of the anomalous node with respect to it.
    pub partial: f64,
    /// The operand as the report writes it in that partial, `∂/∂…`: `x`;
    /// `(x·y)` for a compound name; `(x, use 1 of 2)` for one of several uses
    /// of the same operand (the partial in that use alone, not the whole
    /// ∂node/∂x); `x|direct` where the node also depends on the operand
    /// through another of its operands (the direct partial, the others held
    /// fixed, not the total), as explanations and the html page name them.
    pub wrt_name: String,
    /// Whether its value [underflowed]: 0 or subnormal only
    /// because f64 has no smaller number (x·x = 0 at x = 1e-200, its operands
    /// nonzero). An infinite partial at such an operand (√′(0) = ∞ in
    /// √(x·x)) is f64's range, not a pole of f, and the report says so.
    pub underflowed: bool,
}

/// The first node of a tape whose value or local partial is NaN or infinite.
///
/// `Display` names it: `node #5 ln(x) = NaN: operand #4 x = -1`.
///
/// ```
/// let tape = chainrule::Tape::new();
/// let zero = tape.var(0.0).named("zero");
/// let q = zero / zero;
/// let anomaly = tape.find_anomaly().unwrap();
/// assert_eq!(anomaly.index, q.index());
/// assert_eq!(anomaly.op, chainrule::Op::Div);
/// assert!(anomaly.value.is_nan());
/// assert_eq!(anomaly.operands.len(), 2);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Anomaly {
    /// The node's index.
    pub index: usize,
    /// Its op.
    pub op: Op,
    /// Its label, if it has one.
    pub label: Option<String>,
    /// Its value.
    pub value: f64,
    /// Its operands, in order, with their values and the local partials.
    pub operands: Vec<AnomalyOperand>,
    /// What was not finite: the value, or else the first non-finite partial.
    pub non_finite: NonFinite,
    /// The `f64` constants the op was given (a fused neuron's data inputs, a
    /// loss's targets, the `c` of `x * c`), in order, where the tape kept them
    /// ([`Tape::set_keep_constants`]: a fused neuron's inputs and a loss's
    /// targets are kept then); empty otherwise. A constant is no operand: a NaN
    /// input is seen here, not among [`operands`](Self::operands). When the
    /// value is not finite, every operand is and the constants are not known,
    /// the report says that a constant or an overflow is the cause.
    pub constants: Vec<f64>,
}

impl Anomaly {
    /// The report for node `index`, or `None` if its value and local partials are
    /// all finite (or there is no such node).
    ///
    /// ```
    /// use chainrule::anomaly::{Anomaly, NonFinite};
    ///
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0);
    /// let root = x.sqrt(); // √0 = 0 is fine, its derivative 1/(2√0) is not
    /// let anomaly = Anomaly::at(&tape, root.index()).unwrap();
    /// assert_eq!(anomaly.non_finite, NonFinite::Partial { slot: 0 });
    /// assert!(Anomaly::at(&tape, x.index()).is_none());
    /// ```
    pub fn at(tape: &Tape, index: usize) -> Option<Anomaly> {
        if index >= tape.len() {
            return None;
        }
        let value = tape.value(index);
        let edges = tape.edges(index);
        let non_finite = if !value.is_finite() {
            NonFinite::Value
        } else {
            let slot = edges.iter().position(|(_, p)| !p.is_finite())?;
            NonFinite::Partial { slot }
        };
        let written = partial_names(tape, index, &edges);
        let operands = edges
            .into_iter()
            .zip(written)
            .map(|((operand, partial), (_, wrt))| AnomalyOperand {
                index: operand,
                name: readable_name(tape, operand),
                value: tape.value(operand),
                partial,
                wrt_name: wrt,
                underflowed: underflowed(tape, operand),
            })
            .collect();
        Some(Anomaly {
            index,
            op: tape.op(index),
            label: tape.label(index),
            value,
            operands,
            non_finite,
            constants: tape.kept_constants(index as u32).to_vec(),
        })
    }
}

/// Whether `op` is given `f64` constants besides its operands (data inputs,
/// targets, a scale or an exponent).
fn takes_constants(op: Op) -> bool {
    op.name().contains("const")
        || matches!(
            op,
            Op::HalfSquaredError | Op::MeanSquaredError | Op::Powi | Op::Powf | Op::LeakyRelu
        )
}

impl Tape {
    /// Scans the tape for the first node whose value or local partial is NaN or
    /// infinite, and names it. Works whether or not recording-time detection was
    /// on. Cost: O(nodes + edges), no allocation unless one is found.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1000.0).named("x");
    /// let _ = x.exp(); // overflows
    /// let anomaly = tape.find_anomaly().unwrap();
    /// assert_eq!(anomaly.to_string(), "node #1 exp(x) = inf: operand #0 x = 1000");
    /// assert!(chainrule::Tape::new().find_anomaly().is_none());
    /// ```
    pub fn find_anomaly(&self) -> Option<Anomaly> {
        Anomaly::at(self, self.first_non_finite()?)
    }

    /// The report of the first anomalous node recorded while
    /// [`set_anomaly_detection`](Tape::set_anomaly_detection) was on (see
    /// [`recorded_anomaly`](Tape::recorded_anomaly)). Nodes recorded while it was
    /// off are not looked at; use [`find_anomaly`](Tape::find_anomaly) for those.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// tape.set_anomaly_detection(true);
    /// let x = tape.var(-4.0).named("x");
    /// let _ = x.sqrt();
    /// let anomaly = tape.recorded_anomaly_report().unwrap();
    /// assert_eq!(anomaly.to_string(), "node #1 sqrt(x) = NaN: operand #0 x = -4");
    /// ```
    pub fn recorded_anomaly_report(&self) -> Option<Anomaly> {
        Anomaly::at(self, self.recorded_anomaly()?)
    }
}

impl fmt::Display for Anomaly {
    /// `node #5 ln(x) = NaN: operand #4 x = -1`, or for a bad partial
    /// `node #1 sqrt(x) = 0: ∂/∂x = inf, operand #0 x = 0`. A labelled node shows
    /// its label: `node #7 "y" = ln(x) = NaN: …`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node #{}", self.index)?;
        if let Some(label) = &self.label {
            write!(f, " {label:?} =")?;
        }
        let names: Vec<&str> = self.operands.iter().map(|o| o.name.as_str()).collect();
        if self.op == Op::Leaf {
            write!(f, " leaf = {}", number(self.value))?;
        } else {
            write!(
                f,
                " {}({}) = {}",
                self.op,
                names.join(", "),
                number(self.value)
            )?;
        }
        if let NonFinite::Partial { slot } = self.non_finite {
            let operand = &self.operands[slot];
            write!(
                f,
                ": ∂/∂{} = {},",
                operand.wrt_name,
                number(operand.partial)
            )?;
        } else if !self.operands.is_empty() {
            f.write_str(":")?;
        }
        // Each operand node once (x/x lists x once, "used twice"; "#k" is
        // the node's index, not the operand's place).
        let mut operands: Vec<String> = Vec::new();
        for (k, o) in self.operands.iter().enumerate() {
            if self.operands[..k].iter().any(|p| p.index == o.index) {
                continue;
            }
            let uses = self.operands.iter().filter(|p| p.index == o.index).count();
            let times = match uses {
                1 => String::new(),
                2 => " (used twice)".to_string(),
                n => format!(" (used {n} times)"),
            };
            operands.push(format!(
                " operand #{} {} = {}{times}",
                o.index,
                o.name,
                number(o.value)
            ));
        }
        f.write_str(&operands.join(","))?;
        // An operand that underflowed to 0 (or a subnormal) makes an infinite
        // partial or value that is f64's range, not a pole of f: √(x·x) at
        // 1e-200 has x·x = 0 and √′(0) = ∞, while f = |x| has slope 1.
        let mut named: Vec<usize> = Vec::new();
        for o in self.operands.iter().filter(|o| o.underflowed) {
            if named.contains(&o.index) {
                continue;
            }
            named.push(o.index);
            write!(
                f,
                "; operand {} = {} underflowed (its operands were nonzero): f64's range, \
                 not a genuine pole",
                o.name,
                number(o.value)
            )?;
        }
        // A value not finite from finite operands: say where else it can come
        // from, so that a NaN in the data is not hidden behind finite weights.
        let operands_finite = self.operands.iter().all(|o| o.value.is_finite());
        // An operand at 0 where the op divides by it, the value infinite: a
        // pole, no constant's fault and no overflow (3/x and 1/x at 0, a/b at
        // b = 0; 0/0 is NaN, indeterminate, and gets no clause).
        let divisor = match self.op {
            Op::Div => self.operands.get(1),
            Op::ConstDiv | Op::Recip => self.operands.first(),
            _ => None,
        };
        let pole = self.value.is_infinite() && divisor.is_some_and(|o| o.value == 0.0);
        if self.non_finite == NonFinite::Value && operands_finite && self.op != Op::Leaf {
            if pole {
                f.write_str("; a division by 0")?;
            } else if self.op == Op::DivConst && self.constants.is_empty() {
                f.write_str(
                    "; its operand is finite: its constant divisor (not kept) is 0 or not \
                     finite, or the quotient overflowed",
                )?;
            } else if self.constants.iter().any(|c| !c.is_finite()) {
                let constants: Vec<String> = self.constants.iter().map(|&c| number(c)).collect();
                write!(
                    f,
                    "; its operands are finite, its constants are not: [{}]",
                    constants.join(", ")
                )?;
            } else if self.constants.is_empty() && takes_constants(self.op) {
                f.write_str(
                    "; its operands are finite: a constant it was given (data, such as an \
                     input or a target) is not, or a value on its way overflowed",
                )?;
            }
        }
        Ok(())
    }
}

/// Where a non-finite gradient starts: the step of the reverse sweep that first
/// produced an infinite or NaN adjoint, found by [`Gradients::gradient_anomaly`].
///
/// `Display` names it: `the gradient turns NaN at node #1 r (sqrt): adjoint 0 ×
/// ∂r/∂x = inf gives NaN to node #0 x`, with the names explanations use.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientAnomaly {
    /// The node whose edge passed the first non-finite contribution (the op where
    /// the non-finite gradient starts).
    pub node: usize,
    /// Its op.
    pub op: Op,
    /// Its label or readable default name.
    pub name: String,
    /// Its adjoint, ∂output/∂node (finite, or the node whose sum overflowed).
    pub adjoint: f64,
    /// The operand that received the non-finite contribution, with its name, the
    /// local partial ∂node/∂operand and the contribution `adjoint · partial`;
    /// `None` when every contribution was finite and their sum overflowed at
    /// `node` itself.
    pub operand: Option<(usize, String, f64, f64)>,
    /// The partial of that edge as the report writes it: `∂r/∂x`,
    /// `∂sqrt(x·y)/∂(x·y)` (a compound name in parentheses, as explanations
    /// write it), `∂(x₀ / x₀)/∂(x₀, use 1 of 2)` for one of several uses of
    /// the same operand (the partial in that use alone, not the whole
    /// ∂node/∂operand), `∂f/∂x|direct` where the node also depends on the
    /// operand through another of its operands (the direct partial, the others
    /// held fixed, not the total); `None` with `operand`.
    pub partial_name: Option<String>,
}

impl Gradients<'_> {
    /// Where an infinite or NaN gradient of this sweep starts, or `None` if
    /// every gradient is finite: the first edge that makes one, before any
    /// sum that overflowed.
    ///
    /// Walking the nodes on a path from the output in the sweep's order (from the
    /// output down), it finds the first node with a finite adjoint that passes a
    /// non-finite contribution down an edge under the non-finite policy of
    /// [`crate::backward`] (0 · ∞, a NaN partial, an overflowing product), or, if
    /// there is none, the first node whose adjoint is itself non-finite (a sum of
    /// finite contributions that overflowed, or the seed's own node). So where
    /// finite contributions overflow in a sum earlier in the sweep (1e308 +
    /// 1e308 reaching a node) and an edge below makes a NaN, the edge is
    /// reported, not the sum: it is the start of the NaN, and the overflow is
    /// the start of another non-finite gradient, found by asking again once
    /// that edge is fixed.
    ///
    /// # Complexity
    /// O(nodes + edges) up to the output; allocates one flag per node.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(0.0).named("x");
    /// let r = x.sqrt().named("r");
    /// let y = r.square().named("y");
    /// let g = y.backward();
    /// assert!(g[x].is_nan()); // d(√x)²/dx at 0 is 0 · ∞
    /// let start = g.gradient_anomaly().unwrap();
    /// assert_eq!((start.node, start.op), (r.index(), chainrule::Op::Sqrt));
    /// assert_eq!(
    ///     start.to_string(),
    ///     "the gradient turns NaN at node #1 r (sqrt): adjoint 0 × ∂r/∂x = inf gives NaN to node #0 x"
    /// );
    /// ```
    pub fn gradient_anomaly(&self) -> Option<GradientAnomaly> {
        let adjoints = self.as_slice();
        if adjoints.iter().all(|a| a.is_finite()) {
            return None;
        }
        let tape = self.tape();
        let output = self.output();
        let mut on_path = vec![false; output + 1];
        on_path[output] = true;
        let mut overflowed = None;
        for node in (0..=output).rev() {
            if !on_path[node] {
                continue;
            }
            let adjoint = adjoints[node];
            if !adjoint.is_finite() {
                overflowed.get_or_insert(node);
                continue;
            }
            let op = tape.op(node);
            let edges = tape.edges(node);
            let last = edges.last().map_or(0.0, |&(_, p)| p);
            for (slot, &(operand, partial)) in edges.iter().enumerate() {
                on_path[operand] = true;
                let masked = crate::backward::is_masked(op, partial, last);
                let passed = crate::backward::contribution(adjoint, partial, masked);
                if !passed.is_finite() {
                    let (of, wrt) = partial_names(tape, node, &edges).swap_remove(slot);
                    return Some(GradientAnomaly {
                        node,
                        op,
                        name: readable_name(tape, node),
                        adjoint,
                        operand: Some((operand, readable_name(tape, operand), partial, passed)),
                        partial_name: Some(format!("∂{of}/∂{wrt}")),
                    });
                }
            }
        }
        let node = overflowed?;
        Some(GradientAnomaly {
            node,
            op: tape.op(node),
            name: readable_name(tape, node),
            adjoint: adjoints[node],
            operand: None,
            partial_name: None,
        })
    }
}

impl fmt::Display for GradientAnomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let turns = |v: f64| if v.is_nan() { "NaN" } else { "infinite" };
        match &self.operand {
            Some((operand, operand_name, partial, passed)) => write!(
                f,
                "the gradient turns {} at node #{} {} ({}): adjoint {} × {} = {} gives {} to node #{operand} {operand_name}",
                turns(*passed),
                self.node,
                self.name,
                self.op,
                number(self.adjoint),
                self.partial_name.clone().unwrap_or_else(|| format!(
                    "∂{}/∂{}",
                    parenthesized(&self.name),
                    parenthesized(operand_name)
                )),
                number(*partial),
                number(*passed),
            ),
            None => write!(
                f,
                "the gradient turns {} at node #{} {} ({}): its adjoint, the sum of finite contributions, is {}",
                turns(self.adjoint),
                self.node,
                self.name,
                self.op,
                number(self.adjoint)
            ),
        }
    }
}

/// The name explanations give node `index`: its label, its expression (`x₀·x₁`)
/// or `op#index`.
fn readable_name(tape: &Tape, index: usize) -> String {
    let labels = tape.label_map();
    tape.recording
        .read(|rec| crate::explain::naming::Namer::new(rec, &labels).name(index))
}

/// For each edge of node `index` (`edges`, in order), the node and the
/// operand as the report writes them in that edge's partial ∂node/∂operand:
/// named as explanations name them as the operand of ∂ (`(x·y)`,
/// `sqrt(x·y)`), the operand of one of several uses of it as
/// `(x, use 1 of 2)`, and with `|direct` after it where the node also reaches
/// it through another operand.
fn partial_names(tape: &Tape, index: usize, edges: &[(usize, f64)]) -> Vec<(String, String)> {
    let direct = crate::explain::direct_edges(tape, index);
    let labels = tape.label_map();
    tape.recording.read(|rec| {
        let namer = crate::explain::naming::Namer::new(rec, &labels);
        let of = namer.name_as_operand(index);
        edges
            .iter()
            .enumerate()
            .map(|(k, &(operand, _))| {
                let uses = edges.iter().filter(|e| e.0 == operand).count();
                let wrt = if uses > 1 {
                    let rank = edges[..=k].iter().filter(|e| e.0 == operand).count();
                    format!("({}, use {rank} of {uses})", namer.name(operand))
                } else {
                    let mark = if direct.get(k) == Some(&true) {
                        crate::explain::DIRECT
                    } else {
                        ""
                    };
                    format!("{}{mark}", namer.name_as_operand(operand))
                };
                (of.clone(), wrt)
            })
            .collect()
    })
}

/// A name written after `∂`: in parentheses when it is a compound expression
/// (`∂(x₀·x₁)/∂x₁`, not `∂x₀·x₁/∂x₁`). (Only for a report made without
/// [`GradientAnomaly::partial_name`]: the names made here are written as
/// explanations write them.)
fn parenthesized(name: &str) -> String {
    let compound =
        name.contains([' ', '·', '/', '^']) && !(name.starts_with('(') && name.ends_with(')'));
    if compound {
        format!("({name})")
    } else {
        name.to_string()
    }
}

/// A number as a person reads it: plain for ordinary magnitudes, in scientific
/// notation past 1e16 or below 1e-6 (never 300 digits).
fn number(x: f64) -> String {
    let a = x.abs();
    if a != 0.0 && a.is_finite() && !(1e-6..1e16).contains(&a) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

/// Whether node `node`'s value is below f64's normal range (2.2e-308) by
/// underflow: an op that rounds (a product, a quotient, a function) with a
/// result that is 0 or subnormal while its operands are nonzero (x·x at
/// 1e-200, whose exact 1e-400 is 0 in f64). A sum or a select below that range
/// is exact, and so is an op with a zero operand (0·y, √0, sin 0, 0^y), but
/// `mul_add(x, y, 0)` (whose x·y may underflow); so is a 0 at an op's own
/// root (ln 1, acos 1), and a limit at an infinite operand (e^−∞ = 0,
/// 1/∞ = 0). NaN is no underflow. `false` past the tape's end.
///
/// [`Gradients::compare`] and the anomaly reports use it to tell an infinite
/// gradient made by f64's range (√(x·x) at 1e-200: √′(0) = ∞, while
/// √(x²) = |x| has slope 1) from a genuine pole (√x at 0).
///
/// ```
/// use chainrule::anomaly::underflowed;
///
/// let tape = chainrule::Tape::new();
/// let x = tape.var(1e-200);
/// let square = x * x; // 1e-400 is 0 in f64
/// let zero = tape.var(0.0);
/// let root = zero.sqrt(); // √0 = 0 exactly
/// assert!(underflowed(&tape, square.index()));
/// assert!(!underflowed(&tape, x.index()));
/// assert!(!underflowed(&tape, root.index()));
/// ```
pub fn underflowed(tape: &Tape, node: usize) -> bool {
    if node >= tape.len() {
        return false;
    }
    let v = tape.value(node);
    if v.is_nan() || v.abs() >= f64::MIN_POSITIVE {
        return false;
    }
    let op = tape.op(node);
    let exact = matches!(
        op,
        Op::Leaf
            | Op::Const
            | Op::Add
            | Op::Sub
            | Op::Neg
            | Op::Abs
            | Op::AddConst
            | Op::SubConst
            | Op::ConstSub
            | Op::Relu
            | Op::Max
            | Op::Min
            | Op::MaxConst
            | Op::MinConst
            | Op::Clamp
            | Op::Signum
    );
    if exact {
        return false;
    }
    let edges = tape.edges(node);
    // A 0 at an op's own root is exact, no underflow: ln 1, log₂ 1, acos 1,
    // acosh 1 (and log_c 1).
    if v == 0.0
        && matches!(
            op,
            Op::Ln | Op::Log2 | Op::Log10 | Op::Log | Op::Acos | Op::Acosh
        )
        && edges.first().is_some_and(|&(o, _)| tape.value(o) == 1.0)
    {
        return false;
    }
    // A zero operand makes a tiny result exact (√0, sin 0, 0·y, 0^y), but for
    // mul_add(x, y, 0), whose x·y may underflow; so does an infinite one
    // (e^−∞ = 0, 1/∞ = 0: limits, nothing rounded).
    if edges.iter().any(|&(o, _)| tape.value(o).is_infinite()) {
        return false;
    }
    op == Op::MulAdd || edges.iter().all(|&(o, _)| tape.value(o) != 0.0)
}

/// The first node (by index) on a path from `x` up to `output` whose value
/// [underflowed], if any: where ∂output/∂x is shaped by f64's
/// range, not by f alone (√(x·x) at 1e-200: x·x = 0, and the tape's ∂ is
/// √′(0)·2x = ∞ while f = |x| has slope 1).
///
/// # Complexity
/// O(nodes + edges between `x` and `output`).
pub(crate) fn underflow_between(tape: &Tape, x: usize, output: usize) -> Option<usize> {
    if output < x || output >= tape.len() {
        return None;
    }
    let span = output + 1 - x;
    let mut from_x = vec![false; span];
    from_x[0] = true;
    for i in x + 1..=output {
        from_x[i - x] = tape.edges(i).iter().any(|&(o, _)| o >= x && from_x[o - x]);
    }
    let mut to_output = vec![false; span];
    to_output[span - 1] = true;
    for i in (x + 1..=output).rev() {
        if to_output[i - x] {
            for (o, _) in tape.edges(i) {
                if o >= x {
                    to_output[o - x] = true;
                }
            }
        }
    }
    (x + 1..=output).find(|&i| from_x[i - x] && to_output[i - x] && underflowed(tape, i))
}
