//! `Var`: a small `Copy` handle to one node of a [`Tape`].

use std::borrow::Cow;
use std::fmt;

use crate::op::Op;
use crate::tape::Tape;

/// A variable: a handle to one node of a [`Tape`], carrying a copy of its value.
///
/// `Var<'t>` is `Copy` and borrows its tape for `'t`, so it can neither outlive the
/// tape nor survive [`Tape::clear`]. Arithmetic on `Var`s (`+ - * /`, unary `-`, the
/// compound assignments, [`std::iter::Sum`]) and the functions in [`crate::ops`]
/// record nodes on that tape. Combining `Var`s of two different tapes panics.
///
/// ```
/// use chainrule::Tape;
///
/// let tape = Tape::new();
/// let x = tape.var(-4.0);
/// let y = (x * 2.0 + 1.0).sigmoid().named("y");
/// let g = y.backward();
/// let s = y.value();
/// assert!((g[x] - 2.0 * s * (1.0 - s)).abs() < 1e-15);
/// ```
#[derive(Clone, Copy)]
pub struct Var<'t> {
    pub(crate) tape: &'t Tape,
    pub(crate) index: u32,
    pub(crate) value: f64,
}

impl<'t> Var<'t> {
    #[inline(always)]
    pub(crate) fn from_parts(tape: &'t Tape, index: u32, value: f64) -> Self {
        Var { tape, index, value }
    }

    /// The value computed by the forward pass (no trip to the tape).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// assert_eq!((tape.var(2.0) * 3.0).value(), 6.0);
    /// ```
    #[inline(always)]
    pub fn value(self) -> f64 {
        self.value
    }

    /// The node's index in its tape (its position in recording order).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let a = tape.var(1.0);
    /// let b = a.exp();
    /// assert_eq!((a.index(), b.index()), (0, 1));
    /// ```
    #[inline(always)]
    pub fn index(self) -> usize {
        self.index as usize
    }

    /// The tape this variable was recorded on.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(1.0);
    /// assert!(std::ptr::eq(x.tape(), &tape));
    /// ```
    #[inline(always)]
    pub fn tape(self) -> &'t Tape {
        self.tape
    }

    /// Gives the node a label, used by explanations, drawings and anomaly reports,
    /// and returns the same variable (so it chains).
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let w5 = tape.var(0.40).named("w5");
    /// assert_eq!(tape.label(w5.index()).as_deref(), Some("w5"));
    /// ```
    pub fn named(self, label: impl Into<Cow<'static, str>>) -> Self {
        self.tape.set_label(self.index, label.into());
        self
    }

    /// Labels the weighted sum `net = Σ wᵢ·xᵢ + b` inside a fused neuron
    /// ([`Var::neuron`], [`Var::layer`]), which has no node of its own: the
    /// explanations then show the neuron as `out = σ(net)`, `net = Σ w·x + b`, with
    /// this name. Label the neuron's output itself with [`named`](Var::named).
    ///
    /// # Panics
    /// If this node is not a fused neuron ([`Op::is_neuron`](crate::Op::is_neuron)).
    ///
    /// ```
    /// use chainrule::{Activation, Tape, Var};
    /// let tape = Tape::new();
    /// let w = tape.vars(&[0.40, 0.45]);
    /// let h = tape.vars(&[0.593269992, 0.596884378]);
    /// let b = tape.var(0.60);
    /// let out = Var::neuron(&w, &h, b, Activation::Sigmoid).named("out_o1").named_net("net_o1");
    /// assert_eq!(tape.net_label(out.index()).as_deref(), Some("net_o1"));
    /// ```
    #[track_caller]
    pub fn named_net(self, label: impl Into<Cow<'static, str>>) -> Self {
        let op = self.tape.op(self.index as usize);
        if !op.is_neuron() {
            not_a_neuron(self.index, op);
        }
        self.tape.set_net_label(self.index, label.into());
        self
    }

    /// Panics unless `other` was recorded on the same tape.
    #[inline(always)]
    #[track_caller]
    pub(crate) fn same_tape(self, other: Var<'_>) {
        if !std::ptr::eq(self.tape, other.tape) {
            different_tapes(self.index, other.index);
        }
    }
}

/// Recording leaves: the only way a `Var` is made from outside the crate. They
/// live here, not in `tape`, so that the tape knows nothing of `Var` (tape ←
/// var ← ops and backward).
impl Tape {
    /// Records a leaf: an input or a parameter of value `value`.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let x = tape.var(-4.0);
    /// assert_eq!(x.value(), -4.0);
    /// ```
    #[inline]
    #[track_caller]
    pub fn var(&self, value: f64) -> Var<'_> {
        let index = self.push(Op::Leaf, value, [], []);
        Var::from_parts(self, index, value)
    }

    /// Records one leaf per value, in order.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let w = tape.vars(&[0.15, 0.20]);
    /// assert_eq!(w[1].value(), 0.20);
    /// ```
    #[track_caller]
    pub fn vars(&self, values: &[f64]) -> Vec<Var<'_>> {
        let first = self.push_leaves(values);
        (0..values.len() as u32)
            .map(|k| Var::from_parts(self, first + k, values[k as usize]))
            .collect()
    }

    /// Records one leaf per value, in order, into an array (no allocation): the
    /// parameters of a training step, say.
    ///
    /// ```
    /// let tape = chainrule::Tape::new();
    /// let [w1, w2] = tape.var_array([0.15, 0.20]);
    /// assert_eq!((w1.index(), w2.value()), (0, 0.20));
    /// ```
    #[inline]
    #[track_caller]
    pub fn var_array<const N: usize>(&self, values: [f64; N]) -> [Var<'_>; N] {
        let first = self.push_leaves(&values);
        let mut k = 0;
        values.map(|v| {
            k += 1;
            Var::from_parts(self, first + k - 1, v)
        })
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn not_a_neuron(index: u32, op: crate::Op) -> ! {
    panic!(
        "chainrule: named_net labels the weighted sum of a fused neuron, but node #{index} is {op}"
    )
}

#[cold]
#[inline(never)]
#[track_caller]
fn different_tapes(a: u32, b: u32) -> ! {
    panic!(
        "chainrule: Vars of two different tapes were combined (nodes #{a} and #{b}); \
         record every variable of one computation on the same Tape"
    )
}

impl fmt::Debug for Var<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("index", &self.index)
            .field("value", &self.value)
            .finish()
    }
}

impl fmt::Display for Var<'_> {
    /// Formats the value, honouring precision: `format!("{:.3}", x)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.value, f)
    }
}
