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
    /// Its label, or `op#index`.
    pub name: String,
    /// Its value.
    pub value: f64,
    /// The local partial derivative of the anomalous node with respect to it.
    pub partial: f64,
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
        let operands = edges
            .into_iter()
            .map(|(operand, partial)| AnomalyOperand {
                index: operand,
                name: tape.display_name(operand),
                value: tape.value(operand),
                partial,
            })
            .collect();
        Some(Anomaly {
            index,
            op: tape.op(index),
            label: tape.label(index),
            value,
            operands,
            non_finite,
        })
    }
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
            write!(f, " leaf = {}", self.value)?;
        } else {
            write!(f, " {}({}) = {}", self.op, names.join(", "), self.value)?;
        }
        if let NonFinite::Partial { slot } = self.non_finite {
            let operand = &self.operands[slot];
            write!(f, ": ∂/∂{} = {},", operand.name, operand.partial)?;
        } else if !self.operands.is_empty() {
            f.write_str(":")?;
        }
        let operands: Vec<String> = self
            .operands
            .iter()
            .map(|o| format!(" operand #{} {} = {}", o.index, o.name, o.value))
            .collect();
        f.write_str(&operands.join(","))
    }
}
