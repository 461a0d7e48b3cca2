//! Readable names for the nodes of a tape, labelled or not.
//!
//! A node's name is, in order of preference:
//! 1. its label ([`Var::named`](crate::Var::named));
//! 2. for an unlabelled leaf, `x` with the node's index as a subscript: `x₀`, `x₁₂`;
//! 3. its expression over its operands' names, when that is at most
//!    [`NAME_CAP`] characters: `x₀·x₁`, `ln(exp(x·y) + 1)`, `σ(w·h + b)`;
//! 4. otherwise its op and index: `div#10`.
//!
//! An expression never contains an `op#index` name: it is either readable in
//! full or not used.
//!
//! One name stands for one quantity. A label carried by several nodes (or
//! nets) of the tape is written with `#index` after it (`h#1`, `h#2`), in an
//! expression as well; an automatic name (2 to 4) that is also a label of the
//! tape gets `#index` too: with a node labelled `x₀`, the unlabelled leaf 0 is
//! `x₀#0`. A label holding a space or an operator (`a + b`) is put in
//! parentheses when it is an operand. A constant folded into a node (`x + 1`, `0.5·x`) is
//! recovered from the recorded value and partial, and printed only when the
//! printed constant reproduces the recorded value (and partial) exactly;
//! otherwise the node is named by its op and index. The name states what the
//! tape holds: `1e17 + 1`, whose 1 is lost to rounding, reads `x₀ + 0`.
//!
//! Cost: naming one node visits at most [`NAME_CAP`] nodes below it (each adds at
//! least one character); nothing recurses deeper than that.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::collections::{BTreeMap, HashMap};

use crate::tape::{Op, Recording};

/// The longest expression used as a name, in characters.
pub const NAME_CAP: usize = 24;

/// The expression size (nodes) past which a node is not even tried as a name.
pub(crate) const SIZE_CAP: i32 = 9;

/// Operator precedence, loosest first.
const SUM: u8 = 1;
const PRODUCT: u8 = 2;
const POWER: u8 = 3;
const ATOM: u8 = 4;

/// Names the nodes of one recording.
pub(crate) struct Namer<'a> {
    pub(crate) rec: &'a Recording,
    pub(crate) labels: &'a BTreeMap<u32, Cow<'static, str>>,
    /// The labels of fused neurons' nets, when the reader names those too.
    net_labels: Option<&'a BTreeMap<u32, Cow<'static, str>>>,
    /// How many quantities (nodes and nets) carry each label: built the first
    /// time a name is checked against the labels.
    taken: OnceCell<HashMap<&'a str, u32>>,
    /// The operands' names, when one node is written over them as given
    /// ([`formula`](Namer::formula)) rather than over their own expressions.
    given: Option<&'a dyn Fn(usize) -> String>,
}

/// Whether a label must be put in parentheses as an operand: it holds a space
/// or an operator sign.
fn needs_parentheses(label: &str) -> bool {
    label
        .chars()
        .any(|c| c.is_whitespace() || "+−-·*/^,|²³⁻".contains(c))
}

/// `n` as subscript digits.
fn subscript(n: usize) -> String {
    n.to_string()
        .chars()
        .map(|c| char::from_u32('₀' as u32 + c.to_digit(10).unwrap_or(0)).unwrap_or('?'))
        .collect()
}

/// `n` as superscript digits (with `⁻` for a negative `n`).
fn superscript(n: i64) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::new();
    if n < 0 {
        s.push('⁻');
    }
    for c in n.unsigned_abs().to_string().chars() {
        s.push(DIGITS[c.to_digit(10).unwrap_or(0) as usize]);
    }
    s
}

/// The shortest decimal constant near `c` for which `reproduces` holds, written
/// with a true minus sign (in scientific notation, `1e200`, `2.5e−7`, outside
/// 10⁻⁴ ≤ |c| < 10¹⁶, where plain digits would run to hundreds: `{}` writes
/// 1e200 as 201 of them); `None` if none does.
fn constant(c: f64, reproduces: impl Fn(f64) -> bool) -> Option<String> {
    if !c.is_finite() {
        return None;
    }
    for digits in 1..=17 {
        let r: f64 = format!("{:.*e}", digits - 1, c).parse().ok()?;
        if reproduces(r) {
            let text = if r != 0.0 && !(1e-4..1e16).contains(&r.abs()) {
                format!("{r:e}")
            } else {
                format!("{r}")
            };
            return Some(text.replace('-', "−"));
        }
    }
    None
}

impl<'a> Namer<'a> {
    /// A namer of `rec`'s nodes, with `labels`.
    pub(crate) fn new(rec: &'a Recording, labels: &'a BTreeMap<u32, Cow<'static, str>>) -> Self {
        Namer {
            rec,
            labels,
            net_labels: None,
            taken: OnceCell::new(),
            given: None,
        }
    }

    /// The same, writing [`formula`](Namer::formula)s over the operand names
    /// `names` gives.
    #[cfg(feature = "html")]
    pub(crate) fn with_operand_names(self, names: &'a dyn Fn(usize) -> String) -> Self {
        Namer {
            given: Some(names),
            ..self
        }
    }

    /// Node `i` as a formula over its operands' names as given to
    /// [`with_operand_names`](Namer::with_operand_names), one level deep and
    /// with no length cap: `3·x`, `(x₀·x₁)²`, `a + 0.5`. A node that has no
    /// such expression (a constant the tape does not hold exactly, a loss) is
    /// its op over its operands: `mse(a, b)`.
    #[cfg(feature = "html")]
    pub(crate) fn formula(&self, i: usize) -> String {
        if let Some((text, _)) = self.write(i, &mut 0) {
            return text;
        }
        let operands: Vec<String> = self
            .rec
            .edges(i)
            .map(|(o, _)| match self.given {
                Some(names) => names(o as usize),
                None => self.name(o as usize),
            })
            .collect();
        let op = self.rec.ops()[i];
        // An op over constants the tape did not keep (`Tape::set_keep_constants`)
        // and its value and partials do not give away: `…` stands for them, so
        // that `clamp(x₀, …) = 0.4` at x₀ = 0.5 does not read as clamp(x₀).
        let elided = if op.constants(operands.len()) > 0 {
            ", …"
        } else {
            ""
        };
        format!("{op}({}{elided})", operands.join(", "))
    }

    /// The same, with the nets' labels: a name is then kept apart from them
    /// too, and [`net_name`](Namer::net_name) names nets.
    pub(crate) fn with_net_labels(self, nets: &'a BTreeMap<u32, Cow<'static, str>>) -> Self {
        Namer {
            net_labels: Some(nets),
            ..self
        }
    }

    /// How many quantities carry `text` as their label.
    fn carriers(&self, text: &str) -> u32 {
        let taken = self.taken.get_or_init(|| {
            let mut taken: HashMap<&'a str, u32> = HashMap::new();
            let nets = self.net_labels.into_iter().flat_map(|m| m.values());
            for label in self.labels.values().chain(nets) {
                *taken.entry(label.as_ref()).or_default() += 1;
            }
            taken
        });
        taken.get(text).copied().unwrap_or(0)
    }

    /// Node `i`'s label as written: `label#i` when another quantity carries it.
    fn label(&self, i: usize) -> Option<String> {
        let label = self.labels.get(&(i as u32))?;
        Some(if self.carriers(label) > 1 {
            format!("{label}#{i}")
        } else {
            label.to_string()
        })
    }

    /// The name of the net inside neuron `i`: its label (`label#neti` when
    /// another quantity carries it), else `net#i`.
    pub(crate) fn net_name(&self, i: usize) -> String {
        match self.net_labels.and_then(|m| m.get(&(i as u32))) {
            Some(label) if self.carriers(label) > 1 => format!("{label}#net{i}"),
            Some(label) => label.to_string(),
            None => format!("net#{i}"),
        }
    }

    /// An automatic name of node `i`, with `#i` after it when it reads as a
    /// label of the tape.
    fn automatic(&self, text: String, i: usize) -> String {
        if self.carriers(&text) > 0 {
            format!("{text}#{i}")
        } else {
            text
        }
    }

    /// The node's name (see the module documentation).
    pub(crate) fn name(&self, i: usize) -> String {
        if let Some(label) = self.label(i) {
            return label;
        }
        let text = self
            .expression(i)
            .unwrap_or_else(|| format!("{}#{i}", self.rec.ops()[i]));
        self.automatic(text, i)
    }

    /// The node's name when it is a label, a leaf or a short expression; `None`
    /// when it would be `op#index`.
    pub(crate) fn readable(&self, i: usize) -> Option<String> {
        if let Some(label) = self.label(i) {
            return Some(label);
        }
        let mut budget = SIZE_CAP;
        if !self.small(i, &mut budget) {
            return None;
        }
        Some(self.automatic(self.expression(i)?, i))
    }

    /// The node's name written as an operand needing precedence `min`: with
    /// parentheses when its own is looser.
    pub(crate) fn name_as_operand(&self, i: usize) -> String {
        if let Some(label) = self.label(i) {
            return if needs_parentheses(&label) {
                format!("({label})")
            } else {
                label
            };
        }
        match self.write(i, &mut 0) {
            Some((text, prec)) if prec < ATOM && text.chars().count() <= NAME_CAP => {
                format!("({})", self.automatic(text, i))
            }
            _ => self.name(i),
        }
    }

    /// Whether the expression of `i` has at most `budget` nodes (cheap: no text).
    fn small(&self, i: usize, budget: &mut i32) -> bool {
        *budget -= 1;
        if *budget < 0 {
            return false;
        }
        if self.labels.contains_key(&(i as u32)) || self.rec.ops()[i] == Op::Leaf {
            return true;
        }
        for (o, _) in self.rec.edges(i) {
            if !self.small(o as usize, budget) {
                return false;
            }
        }
        true
    }

    /// The expression of an unlabelled node, if at most [`NAME_CAP`] characters.
    fn expression(&self, i: usize) -> Option<String> {
        if self.rec.ops()[i] == Op::Leaf {
            return Some(format!("x{}", subscript(i)));
        }
        let (text, _) = self.write(i, &mut 0)?;
        (text.chars().count() <= NAME_CAP).then_some(text)
    }

    /// An operand inside an expression: parenthesised below precedence `min`.
    fn operand(&self, o: usize, min: u8, depth: &mut usize) -> Option<String> {
        if let Some(names) = self.given {
            let name = names(o);
            // A function's argument or a sum's term (`min` = SUM, the loosest)
            // needs none: `sin(x·y)`, `x·x + sin(x·y)`, not `sin((x·y))`.
            return Some(if min > SUM && needs_parentheses(&name) {
                format!("({name})")
            } else {
                name
            });
        }
        if let Some(label) = self.label(o) {
            return Some(if needs_parentheses(&label) {
                format!("({label})")
            } else {
                label
            });
        }
        if self.rec.ops()[o] == Op::Leaf {
            return Some(self.automatic(format!("x{}", subscript(o)), o));
        }
        let (text, prec) = self.write(o, depth)?;
        // An operand that reads as a label is marked as the node it is.
        let (text, prec) = if self.carriers(&text) > 0 {
            (format!("{text}#{o}"), prec.min(PRODUCT))
        } else {
            (text, prec)
        };
        Some(if prec < min {
            format!("({text})")
        } else {
            text
        })
    }

    /// Writes the expression of node `i` over its operands' names, with its
    /// precedence; `None` once it is longer than [`NAME_CAP`] or cannot be
    /// written truthfully.
    fn write(&self, i: usize, depth: &mut usize) -> Option<(String, u8)> {
        *depth += 1;
        if *depth > NAME_CAP {
            return None;
        }
        let rec = self.rec;
        let op = rec.ops()[i];
        let value = rec.values()[i];
        let edges: Vec<(usize, f64)> = rec.edges(i).map(|(o, p)| (o as usize, p)).collect();
        let a = edges.first().map(|e| e.0);
        let va = a.map_or(f64::NAN, |a| rec.values()[a]);
        // The constants kept for the node (`Tape::set_keep_constants`; atan2's
        // always), in the order kept.
        let kept = |k: usize| rec.constants_of(i as u32).get(k).map(|&(_, c)| c);
        let func = |name: &str, depth: &mut usize| -> Option<(String, u8)> {
            Some((format!("{name}({})", self.operand(a?, SUM, depth)?), ATOM))
        };
        let result = match op {
            Op::Leaf => (format!("x{}", subscript(i)), ATOM),
            Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Max | Op::Min | Op::Pow => {
                let (b, _) = *edges.get(1)?;
                let (sa, sb, prec) = match op {
                    Op::Add => (SUM, SUM, SUM),
                    Op::Sub => (SUM, PRODUCT, SUM),
                    Op::Mul => (PRODUCT, PRODUCT, PRODUCT),
                    Op::Div => (PRODUCT, POWER, PRODUCT),
                    Op::Pow => (ATOM, ATOM, POWER),
                    _ => (SUM, SUM, ATOM),
                };
                let x = self.operand(a?, sa, depth)?;
                let y = self.operand(b, sb, depth)?;
                let text = match op {
                    Op::Add => format!("{x} + {y}"),
                    Op::Sub => format!("{x} − {y}"),
                    Op::Mul => format!("{x}·{y}"),
                    Op::Div => format!("{x} / {y}"),
                    Op::Pow => format!("{x}^{y}"),
                    Op::Max => format!("max({x}, {y})"),
                    _ => format!("min({x}, {y})"),
                };
                (text, prec)
            }
            Op::Neg => (format!("−{}", self.operand(a?, POWER, depth)?), SUM),
            Op::AddConst => {
                let c = match kept(0) {
                    Some(c) => constant(c, |r| r == c)?,
                    None => constant(value - va, |c| va + c == value)?,
                };
                let x = self.operand(a?, SUM, depth)?;
                match c.strip_prefix('−') {
                    Some(positive) => (format!("{x} − {positive}"), SUM),
                    None => (format!("{x} + {c}"), SUM),
                }
            }
            Op::SubConst => {
                let c = match kept(0) {
                    Some(c) => constant(c, |r| r == c)?,
                    None => constant(va - value, |c| va - c == value)?,
                };
                (format!("{} − {c}", self.operand(a?, SUM, depth)?), SUM)
            }
            Op::ConstSub => {
                let c = match kept(0) {
                    Some(c) => constant(c, |r| r == c)?,
                    None => constant(value + va, |c| c - va == value)?,
                };
                (format!("{c} − {}", self.operand(a?, PRODUCT, depth)?), SUM)
            }
            Op::MulConst => {
                let c = edges.first()?.1;
                let c = constant(c, |r| r == c && va * r == value)?;
                (
                    format!("{c}·{}", self.operand(a?, PRODUCT, depth)?),
                    PRODUCT,
                )
            }
            Op::DivConst => {
                let d = edges.first()?.1;
                let c = match kept(0) {
                    Some(c) => constant(c, |r| r == c)?,
                    None => constant(1.0 / d, |c| 1.0 / c == d && va / c == value)?,
                };
                (
                    format!("{} / {c}", self.operand(a?, PRODUCT, depth)?),
                    PRODUCT,
                )
            }
            Op::ConstDiv => {
                let c = match kept(0) {
                    Some(c) => constant(c, |r| r == c)?,
                    None => constant(value * va, |c| c / va == value)?,
                };
                (
                    format!("{c} / {}", self.operand(a?, POWER, depth)?),
                    PRODUCT,
                )
            }
            Op::Recip => (format!("1 / {}", self.operand(a?, POWER, depth)?), PRODUCT),
            Op::Square => (format!("{}²", self.operand(a?, ATOM, depth)?), POWER),
            Op::Powi => {
                // The kept n where the tape keeps it; else read back from the
                // partial n·x^(n−1) (which 0/0 at x = 0 does not give: x⁴ at
                // 0 was `powi#1` in the README's own NaN example).
                let n = match kept(0) {
                    Some(n) if n.fract() == 0.0 && n.abs() < 1e6 => n,
                    Some(_) => return None,
                    None => {
                        let d = edges.first()?.1;
                        let n = (d * va / value).round();
                        if n.is_nan() || n.abs() >= 1e6 || va.powi(n as i32) != value {
                            return None;
                        }
                        n
                    }
                };
                let x = self.operand(a?, ATOM, depth)?;
                (format!("{x}{}", superscript(n as i64)), POWER)
            }
            Op::Powf => {
                // Kept on every tape: from the value alone, x within an ulp of
                // 1 read as x^3 or x^2 for x^2.5.
                let c = kept(0)?;
                let c = constant(c, |r| r == c)?;
                (format!("{}^{c}", self.operand(a?, ATOM, depth)?), POWER)
            }
            Op::Abs => (format!("|{}|", self.operand(a?, SUM, depth)?), ATOM),
            Op::Atan2 | Op::Hypot => {
                let (b, _) = *edges.get(1)?;
                let x = self.operand(a?, SUM, depth)?;
                let y = self.operand(b, SUM, depth)?;
                (format!("{}({x}, {y})", op.name()), ATOM)
            }
            Op::MulAdd => {
                let (b, _) = *edges.get(1)?;
                let (c, _) = *edges.get(2)?;
                let x = self.operand(a?, PRODUCT, depth)?;
                let y = self.operand(b, PRODUCT, depth)?;
                let z = self.operand(c, SUM, depth)?;
                (format!("{x}·{y} + {z}"), SUM)
            }
            Op::LogSumExp => {
                let mut terms = Vec::with_capacity(edges.len());
                for &(o, _) in &edges {
                    terms.push(self.operand(o, SUM, depth)?);
                }
                (format!("logsumexp({})", terms.join(", ")), ATOM)
            }
            Op::Const => {
                // A negative constant binds as a negation: (−2)², not −2² (which
                // reads −(2²)).
                let c = constant(value, |c| c == value)?;
                let prec = if c.starts_with('−') { SUM } else { ATOM };
                (c, prec)
            }
            // The ops whose constant is neither the value nor a partial: kept
            // constants (`Tape::set_keep_constants`, and always for atan2) or,
            // where the value and partial give it away, those; otherwise no name.
            Op::LeakyRelu => {
                // α is the partial on the negative side (and at 0, as PyTorch).
                let alpha = match kept(0) {
                    Some(alpha) => alpha,
                    None if va <= 0.0 => edges.first()?.1,
                    None => return None,
                };
                let alpha = constant(alpha, |r| {
                    r == alpha && value.to_bits() == if va > 0.0 { va } else { r * va }.to_bits()
                })?;
                let x = self.operand(a?, SUM, depth)?;
                (format!("leaky_relu({x}, {alpha})"), ATOM)
            }
            Op::MaxConst | Op::MinConst => {
                // Only a kept c: where c was picked the value is c, but naming
                // the node there and not elsewhere would show or fold it (see
                // `explain`'s shown quantities) by which side was picked.
                let c = kept(0)?;
                let pick = |r: f64| {
                    if op == Op::MaxConst {
                        va.max(r)
                    } else {
                        va.min(r)
                    }
                };
                let c = constant(c, |r| r == c && pick(r) == value)?;
                let x = self.operand(a?, SUM, depth)?;
                let f = if op == Op::MaxConst { "max" } else { "min" };
                (format!("{f}({x}, {c})"), ATOM)
            }
            Op::Atan2Const | Op::ConstAtan2 | Op::HypotConst | Op::Log => {
                let c = kept(0)?;
                let c = constant(c, |r| r == c)?;
                let x = self.operand(a?, SUM, depth)?;
                let text = match op {
                    Op::Atan2Const => format!("atan2({x}, {c})"),
                    Op::ConstAtan2 => format!("atan2({c}, {x})"),
                    Op::HypotConst => format!("hypot({x}, {c})"),
                    _ => format!("log({x}, {c})"),
                };
                (text, ATOM)
            }
            Op::Clamp => {
                let (lo, hi) = (kept(0)?, kept(1)?);
                let lo = constant(lo, |r| r == lo)?;
                let hi = constant(hi, |r| r == hi)?;
                let x = self.operand(a?, SUM, depth)?;
                (format!("clamp({x}, {lo}, {hi})"), ATOM)
            }
            // Every other unary op of the table: its function applied.
            _ if op.unary_notation().is_some() => func(op.unary_notation()?, depth)?,
            Op::Sum => {
                let mut terms = Vec::with_capacity(edges.len());
                for &(o, _) in &edges {
                    terms.push(self.operand(o, SUM, depth)?);
                }
                (terms.join(" + "), SUM)
            }
            Op::WeightedSum
            | Op::SigmoidNeuron
            | Op::TanhNeuron
            | Op::ReluNeuron
            | Op::WeightedSumConst
            | Op::SigmoidNeuronConst
            | Op::TanhNeuronConst
            | Op::ReluNeuronConst => {
                let const_inputs = matches!(
                    op,
                    Op::WeightedSumConst
                        | Op::SigmoidNeuronConst
                        | Op::TanhNeuronConst
                        | Op::ReluNeuronConst
                );
                let sum = self.weighted_sum(&edges, const_inputs, depth)?;
                match op {
                    Op::WeightedSum | Op::WeightedSumConst => (sum, SUM),
                    Op::SigmoidNeuron | Op::SigmoidNeuronConst => (format!("σ({sum})"), ATOM),
                    Op::TanhNeuron | Op::TanhNeuronConst => (format!("tanh({sum})"), ATOM),
                    _ => (format!("relu({sum})"), ATOM),
                }
            }
            _ => return None, // the losses: named by op#index
        };
        (self.given.is_some() || result.0.chars().count() <= NAME_CAP).then_some(result)
    }

    /// `w₀·x₀ + w₁·x₁ + b` for the edges of a fused weighted sum or neuron:
    /// pairs of operands, or (`const_inputs`, the op says so) weights over
    /// constant inputs (`0.05·w₁ + 0.1·w₂ + b`) when each constant is recovered
    /// exactly; `None` otherwise.
    fn weighted_sum(
        &self,
        edges: &[(usize, f64)],
        const_inputs: bool,
        depth: &mut usize,
    ) -> Option<String> {
        let (&(bias, derivative), terms_edges) = edges.split_last()?;
        let pairs = !const_inputs && terms_edges.len() % 2 == 0;
        let mut terms = Vec::new();
        if pairs {
            for pair in terms_edges.chunks_exact(2) {
                let w = self.operand(pair[0].0, PRODUCT, depth)?;
                let x = self.operand(pair[1].0, PRODUCT, depth)?;
                terms.push(format!("{w}·{x}"));
            }
        } else {
            if derivative == 0.0 || !derivative.is_finite() {
                return None;
            }
            for &(w, partial) in terms_edges {
                let c = constant(partial / derivative, |c| derivative * c == partial)?;
                terms.push(format!("{c}·{}", self.operand(w, PRODUCT, depth)?));
            }
        }
        terms.push(self.operand(bias, SUM, depth)?);
        Some(terms.join(" + "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Tape;

    fn names(tape: &Tape, nodes: &[usize]) -> Vec<String> {
        let labels = tape.label_map();
        tape.recording.read(|rec| {
            let namer = Namer::new(rec, &labels);
            nodes.iter().map(|&i| namer.name(i)).collect()
        })
    }

    #[test]
    fn a_constant_neither_value_nor_partial_is_named_only_where_the_tape_holds_it() {
        let tape = Tape::new();
        let x = tape.var(-0.5);
        let p = tape.var(0.5);
        // leaky_relu's α is the partial at x ≤ 0; at x > 0 it is nowhere.
        let neg = x.leaky_relu(0.1);
        let pos = p.leaky_relu(0.1);
        // max against c: only a kept c, whichever side was picked.
        let picked_c = x.max(1.0);
        let picked_x = p.max(-1.0);
        let clamp = p.clamp(0.0, 1.0);
        // atan2 against an f64 keeps its constant always.
        let atan2 = p.atan2(2.0);
        let got = names(
            &tape,
            &[neg, pos, picked_c, picked_x, clamp, atan2].map(|v| v.index()),
        );
        assert_eq!(
            got,
            [
                "leaky_relu(x₀, 0.1)",
                "leaky_relu#3",
                "max_const#4",
                "max_const#5",
                "clamp#6",
                "atan2(x₁, 2)",
            ]
        );
        // With the constants kept, every one is named in full.
        let tape = Tape::new();
        tape.set_keep_constants(true);
        let p = tape.var(0.5);
        let nodes = [
            p.leaky_relu(0.1),
            p.max(-1.0),
            p.min(2.0),
            p.clamp(0.0, 1.0),
            p.log(2.0),
            p.hypot(3.0),
        ];
        assert_eq!(
            names(&tape, &nodes.map(|v| v.index())),
            [
                "leaky_relu(x₀, 0.1)",
                "max(x₀, −1)",
                "min(x₀, 2)",
                "clamp(x₀, 0, 1)",
                "log(x₀, 2)",
                "hypot(x₀, 3)",
            ]
        );
    }

    #[test]
    fn expressions_read_as_written() {
        let tape = Tape::new();
        let x = tape.var(0.3).named("x");
        let y = tape.var(-0.7).named("y");
        let xy = x * y;
        let e = xy.exp();
        let plus_one = e + 1.0;
        let ln = plus_one.ln();
        let r = (x.square() + y.square()).sqrt();
        let f = ln / r;
        let leaf = tape.var(2.0);
        let g = (leaf * 0.5 - x).sigmoid();
        let got = names(
            &tape,
            &[
                xy.index(),
                ln.index(),
                r.index(),
                f.index(),
                leaf.index(),
                g.index(),
            ],
        );
        assert_eq!(
            got,
            [
                "x·y",
                "ln(exp(x·y) + 1)",
                "sqrt(x² + y²)",
                format!("div#{}", f.index()).as_str(), // 33 characters: too long
                "x₁₁",
                "σ(0.5·x₁₁ − x)",
            ]
        );
    }

    #[test]
    fn a_neuron_over_constant_inputs_names_its_constants_not_its_weights_as_pairs() {
        use crate::{Activation, Var};
        let tape = Tape::new();
        let w = tape.vars(&[0.15, 0.20]);
        let b = tape.var(0.35);
        let h = Var::neuron_const(&w, &[0.05, 0.1], b, Activation::Sigmoid);
        let x = tape.vars(&[0.5, 0.6]);
        let o = Var::neuron(&w, &x, b, Activation::Tanh);
        assert_eq!(
            names(&tape, &[h.index(), o.index()]),
            ["σ(0.05·x₀ + 0.1·x₁ + x₂)", "tanh(x₀·x₄ + x₁·x₅ + x₂)"]
        );
    }

    #[test]
    fn constants_are_recovered_as_the_tape_holds_them() {
        let tape = Tape::new();
        let x = tape.var(1e17);
        let lost = x + 1.0; // 1e17 + 1 rounds to 1e17: the tape holds x + 0
        let third = tape.var(2.0) / 3.0; // the partial is 1/3 rounded: 3 is recovered
        let z = tape.var(3.0).powi(-2);
        assert_eq!(
            names(&tape, &[lost.index(), third.index(), z.index()]),
            ["x₀ + 0", "x₂ / 3", "x₄⁻²"]
        );
    }

    #[test]
    fn huge_and_tiny_constants_are_written_in_scientific_notation() {
        let tape = Tape::new();
        let x = tape.var(1e-200);
        let big = x * 1e200;
        let small = x * -2.5e-7;
        let plain = x * 12345.5;
        assert_eq!(
            names(&tape, &[big.index(), small.index(), plain.index()]),
            ["1e200·x₀", "−2.5e−7·x₀", "12345.5·x₀"]
        );
    }
}
