//! [`Op`]: what a node computes.
//!
//! The unary ops' variants are generated from the table in `ops/table.rs` (the one
//! place a unary op is written); the others are listed here, each with the
//! formula it records.

use std::fmt;

macro_rules! define_op {
    ($(
        $(#[$doc:meta])*
        $Op:ident $method:ident {
            name: $name:literal, notation: $notation:literal,
            formula: $formula:literal, derivative: $derivative:literal,
            $($rest:tt)*
        }
    )*) => {
        /// What a node computes. Each node of the tape carries one.
        ///
        /// The calculus of every op (its value and local partial derivatives) lives
        /// in [`crate::ops`]; this enum only names them, for explanations, drawings
        /// and anomaly reports. Each variant's documentation gives the formula
        /// recorded (`a`, `b` are operands, `c` a constant).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Op {
            /// An input or a parameter, made by [`Tape::var`](crate::Tape::var). It
            /// has no operands.
            Leaf,
            /// A constant made by [`Scalar::constant`](crate::Scalar::constant): no
            /// operands, so no gradient flows through it.
            Const,
            $(
                #[doc = concat!("`", $formula, "`; derivative `", $derivative, "` ([`Var::",
                    stringify!($method), "`](crate::Var::", stringify!($method), "))")]
                $Op,
            )*
            /// `a + b`
            Add,
            /// `a - b`
            Sub,
            /// `a * b`
            Mul,
            /// `a / b`
            Div,
            /// `-a`
            Neg,
            /// `a + c` or `c + a` for a constant `c`
            AddConst,
            /// `a - c` for a constant `c`
            SubConst,
            /// `c - a` for a constant `c`
            ConstSub,
            /// `a * c` or `c * a` for a constant `c`
            MulConst,
            /// `a / c` for a constant `c`
            DivConst,
            /// `c / a` for a constant `c`
            ConstDiv,
            /// `a` if `a > 0`, else `alpha * a`
            LeakyRelu,
            /// `a^n` for an integer constant `n`
            Powi,
            /// `a^c` for a real constant `c`
            Powf,
            /// `a^b`, both variable
            Pow,
            /// `log_c a` for a constant base `c`
            Log,
            /// `max(a, b)`
            Max,
            /// `min(a, b)`
            Min,
            /// `max(a, c)` for a constant `c`
            MaxConst,
            /// `min(a, c)` for a constant `c`
            MinConst,
            /// `a` clamped to `[lo, hi]` for constants `lo ≤ hi`
            Clamp,
            /// `atan2(a, b)`: the angle of the point (b, a)
            Atan2,
            /// `atan2(a, c)` for a constant `c`
            Atan2Const,
            /// `atan2(c, a)` for a constant `c`
            ConstAtan2,
            /// `√(a² + b²)`
            Hypot,
            /// `√(a² + c²)` for a constant `c`
            HypotConst,
            /// `a·b + c`, three operands
            MulAdd,
            /// `ln(e^a₀ + e^a₁ + …)`, one n-ary node
            LogSumExp,
            /// `a₀ + a₁ + … + aₙ₋₁`, one n-ary node
            Sum,
            /// `w₀·x₀ + w₁·x₁ + … + b`, one n-ary node (a neuron's weighted sum)
            WeightedSum,
            /// `σ(w₀·x₀ + … + b)`, a whole neuron as one node
            SigmoidNeuron,
            /// `tanh(w₀·x₀ + … + b)`, a whole neuron as one node
            TanhNeuron,
            /// `relu(w₀·x₀ + … + b)`, a whole neuron as one node
            ReluNeuron,
            /// `w₀·c₀ + w₁·c₁ + … + b` over constant inputs `cₖ`, one n-ary node
            WeightedSumConst,
            /// `σ(w₀·c₀ + … + b)` over constant inputs, a whole neuron as one node
            SigmoidNeuronConst,
            /// `tanh(w₀·c₀ + … + b)` over constant inputs, a whole neuron as one node
            TanhNeuronConst,
            /// `relu(w₀·c₀ + … + b)` over constant inputs, a whole neuron as one node
            ReluNeuronConst,
            /// `½(o₀ − t₀)² + ½(o₁ − t₁)² + …`, one node
            HalfSquaredError,
            /// `((o₀ − t₀)² + (o₁ − t₁)² + …) / n`, one node
            MeanSquaredError,
        }

        impl Op {
            /// The op's short lower-case name, as used in default labels
            /// (`sigmoid#7`): for a unary op, the name of its `Var` method.
            ///
            /// ```
            /// assert_eq!(chainrule::Op::Sigmoid.name(), "sigmoid");
            /// assert_eq!(chainrule::Op::HalfSquaredError.name(), "half_squared_error");
            /// ```
            pub fn name(self) -> &'static str {
                match self {
                    Op::Leaf => "leaf",
                    Op::Const => "const",
                    $(Op::$Op => $name,)*
                    Op::Add => "add",
                    Op::Sub => "sub",
                    Op::Mul => "mul",
                    Op::Div => "div",
                    Op::Neg => "neg",
                    Op::AddConst => "add_const",
                    Op::SubConst => "sub_const",
                    Op::ConstSub => "const_sub",
                    Op::MulConst => "mul_const",
                    Op::DivConst => "div_const",
                    Op::ConstDiv => "const_div",
                    Op::LeakyRelu => "leaky_relu",
                    Op::Powi => "powi",
                    Op::Powf => "powf",
                    Op::Pow => "pow",
                    Op::Log => "log",
                    Op::Max => "max",
                    Op::Min => "min",
                    Op::MaxConst => "max_const",
                    Op::MinConst => "min_const",
                    Op::Clamp => "clamp",
                    Op::Atan2 => "atan2",
                    Op::Atan2Const => "atan2_const",
                    Op::ConstAtan2 => "const_atan2",
                    Op::Hypot => "hypot",
                    Op::HypotConst => "hypot_const",
                    Op::MulAdd => "mul_add",
                    Op::LogSumExp => "logsumexp",
                    Op::Sum => "sum",
                    Op::WeightedSum => "weighted_sum",
                    Op::SigmoidNeuron => "sigmoid_neuron",
                    Op::TanhNeuron => "tanh_neuron",
                    Op::ReluNeuron => "relu_neuron",
                    Op::WeightedSumConst => "weighted_sum_const",
                    Op::SigmoidNeuronConst => "sigmoid_neuron_const",
                    Op::TanhNeuronConst => "tanh_neuron_const",
                    Op::ReluNeuronConst => "relu_neuron_const",
                    Op::HalfSquaredError => "half_squared_error",
                    Op::MeanSquaredError => "mean_squared_error",
                }
            }

            /// How the arena stores this op's edges (see `tape::arena`): one load
            /// from a table made from [`Op::layout_of`] at compile time.
            #[inline(always)]
            pub(crate) fn layout(self) -> Layout {
                LAYOUTS[self as usize]
            }

            /// How the arena stores this op's edges: exhaustive, so a new op must
            /// say where its edges go.
            pub(crate) const fn layout_of(self) -> Layout {
                match self {
                    Op::Leaf | Op::Const => Layout::Leaf,
                    Op::Add => Layout::Add,
                    Op::Sub => Layout::Sub,
                    Op::Mul => Layout::Mul,
                    $(Op::$Op)|* | Op::Neg | Op::AddConst | Op::SubConst | Op::ConstSub
                    | Op::MulConst | Op::DivConst | Op::ConstDiv | Op::LeakyRelu | Op::Powi
                    | Op::Powf | Op::Log | Op::MaxConst | Op::MinConst | Op::Clamp
                    | Op::Atan2Const | Op::ConstAtan2 | Op::HypotConst => Layout::Unary,
                    Op::Div | Op::Pow | Op::Max | Op::Min | Op::Atan2 | Op::Hypot
                    | Op::MulAdd | Op::LogSumExp | Op::Sum | Op::WeightedSum
                    | Op::SigmoidNeuron | Op::TanhNeuron | Op::ReluNeuron
                    | Op::WeightedSumConst | Op::SigmoidNeuronConst | Op::TanhNeuronConst
                    | Op::ReluNeuronConst | Op::HalfSquaredError
                    | Op::MeanSquaredError => Layout::Edges,
                }
            }

            /// For a unary op, the function name explanations write (`σ` for
            /// sigmoid, `tanh`, `ln`, …); `None` for the others.
            ///
            /// ```
            /// use chainrule::Op;
            /// assert_eq!(Op::Sigmoid.unary_notation(), Some("σ"));
            /// assert_eq!(Op::Add.unary_notation(), None);
            /// ```
            pub fn unary_notation(self) -> Option<&'static str> {
                match self {
                    $(Op::$Op => Some($notation),)*
                    _ => None,
                }
            }

            /// Every op, in declaration order: what a test iterates to cover them
            /// all.
            ///
            /// ```
            /// assert!(chainrule::Op::ALL.contains(&chainrule::Op::Atan2));
            /// ```
            pub const ALL: &'static [Op] = &[
                Op::Leaf, Op::Const, $(Op::$Op,)*
                Op::Add, Op::Sub, Op::Mul, Op::Div, Op::Neg, Op::AddConst, Op::SubConst,
                Op::ConstSub, Op::MulConst, Op::DivConst, Op::ConstDiv, Op::LeakyRelu,
                Op::Powi, Op::Powf, Op::Pow, Op::Log, Op::Max, Op::Min, Op::MaxConst,
                Op::MinConst, Op::Clamp, Op::Atan2, Op::Atan2Const, Op::ConstAtan2,
                Op::Hypot, Op::HypotConst, Op::MulAdd, Op::LogSumExp, Op::Sum,
                Op::WeightedSum, Op::SigmoidNeuron, Op::TanhNeuron, Op::ReluNeuron,
                Op::WeightedSumConst, Op::SigmoidNeuronConst, Op::TanhNeuronConst,
                Op::ReluNeuronConst, Op::HalfSquaredError, Op::MeanSquaredError,
            ];
        }
    };
}

/// Where the arena keeps a node's edges, decided by its op (`Op::layout`).
///
/// Add, sub and mul, most of what people write, store only their two operands:
/// their partials are implied (1 and 1, 1 and −1, and each operand's value for
/// the other). A unary op stores its operand and its one partial; every other op
/// stores a run of (operand, partial) edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// No edges (a leaf or a constant).
    Leaf,
    /// a + b: partials 1, 1.
    Add,
    /// a − b: partials 1, −1.
    Sub,
    /// a · b: partials b, a (the operands' values).
    Mul,
    /// One operand and one stored partial.
    Unary,
    /// A run of stored edges (or, for a neuron over runs, none: see `NeuronRun`).
    Edges,
}

crate::ops::unary_ops!(define_op);

/// [`Op::layout_of`] of every op, by discriminant.
static LAYOUTS: [Layout; Op::ALL.len()] = {
    let mut table = [Layout::Leaf; Op::ALL.len()];
    let mut k = 0;
    while k < Op::ALL.len() {
        let op = Op::ALL[k];
        // `Op::ALL` lists every op in declaration order, so each discriminant
        // has its entry (checked when the crate compiles).
        assert!(op as usize == k, "Op::ALL is not in declaration order");
        table[op as usize] = op.layout_of();
        k += 1;
    }
    table
};

impl Op {
    /// Whether the op *selects* among its operands: `relu` (and a relu neuron)
    /// passes its operand on or not, `max`/`min` pass one of two, `clamp` passes
    /// its operand inside its bounds. The operand not selected gets exactly 0
    /// from the node, whatever the node's adjoint (even infinite or NaN), as
    /// PyTorch's masking does: see the non-finite policy in [`crate::backward`].
    /// `signum`, whose derivative is 0 everywhere (but at NaN), is one too: it
    /// never passes its operand on (PyTorch's and JAX's sign give zeros).
    ///
    /// ```
    /// use chainrule::Op;
    /// assert!(Op::Relu.is_select() && Op::Max.is_select() && Op::Clamp.is_select());
    /// assert!(Op::Signum.is_select()); // its derivative is 0: it passes nothing
    /// assert!(!Op::Abs.is_select()); // |x| multiplies by sign(x): not a mask
    /// ```
    pub fn is_select(self) -> bool {
        matches!(
            self,
            Op::Relu
                | Op::Signum
                | Op::Max
                | Op::Min
                | Op::MaxConst
                | Op::MinConst
                | Op::Clamp
                | Op::ReluNeuron
                | Op::ReluNeuronConst
        )
    }

    /// How many constants the op computes with besides its `operands`
    /// operands (a bound, a base, an exponent, a fixed input, a target): the
    /// one list that the explanations' formulas (which write `…` for them)
    /// and a replay (which keeps them) both read. `MulConst`'s factor counts,
    /// although its partial is that factor and a replay takes it from there.
    ///
    /// # Complexity
    ///
    /// O(1).
    pub(crate) fn constants(self, operands: usize) -> usize {
        match self {
            Op::AddConst
            | Op::SubConst
            | Op::ConstSub
            | Op::MulConst
            | Op::DivConst
            | Op::ConstDiv
            | Op::LeakyRelu
            | Op::Powi
            | Op::Powf
            | Op::Log
            | Op::MaxConst
            | Op::MinConst
            | Op::Atan2Const
            | Op::ConstAtan2
            | Op::HypotConst => 1,
            Op::Clamp => 2,
            Op::WeightedSumConst
            | Op::SigmoidNeuronConst
            | Op::TanhNeuronConst
            | Op::ReluNeuronConst => operands.saturating_sub(1),
            Op::HalfSquaredError | Op::MeanSquaredError => operands,
            _ => 0,
        }
    }

    /// Whether the op is a whole neuron fused into one node
    /// (`activation(Σ wᵢ·xᵢ + b)`), whose weighted sum can carry its own label
    /// ([`Var::named_net`](crate::Var::named_net)).
    ///
    /// ```
    /// assert!(chainrule::Op::SigmoidNeuron.is_neuron());
    /// assert!(!chainrule::Op::WeightedSum.is_neuron());
    /// ```
    pub fn is_neuron(self) -> bool {
        matches!(
            self,
            Op::SigmoidNeuron
                | Op::TanhNeuron
                | Op::ReluNeuron
                | Op::SigmoidNeuronConst
                | Op::TanhNeuronConst
                | Op::ReluNeuronConst
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
