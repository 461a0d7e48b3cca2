//! What the table of unary ops generates for [`Var`]: one method per op, each
//! recording one node, and the list of every unary op with its rule
//! ([`UNARY`]).

use crate::op::Op;
use crate::var::Var;

/// One unary op's rule, as the table in `ops/table.rs` writes it: its value on
/// `f64` and its derivative. [`UNARY`] lists them all; tests iterate it.
///
/// ```
/// let rule = chainrule::ops::UNARY
///     .iter()
///     .find(|r| r.op == chainrule::Op::Tan)
///     .unwrap();
/// assert_eq!(rule.name, "tan");
/// assert_eq!((rule.value)(0.0), 0.0);
/// assert_eq!((rule.partial)(0.0), 1.0); // 1 + tan²(0)
/// ```
#[derive(Clone, Copy)]
pub struct Unary {
    /// The op recorded.
    pub op: Op,
    /// The `Var` (and [`Scalar`](crate::Scalar)) method's name.
    pub name: &'static str,
    /// The function as on paper, e.g. `1 / (1 + e^−x)`.
    pub formula: &'static str,
    /// Its derivative as on paper, e.g. `σ(x)·(1 − σ(x))`.
    pub derivative: &'static str,
    /// The value on `f64` (what [`Scalar`](crate::Scalar)'s `f64` implementation
    /// computes).
    pub value: fn(f64) -> f64,
    /// The derivative at `x`, as the table's `Scalar` rule computes it on `f64`
    /// from `x` and the value.
    pub partial: fn(f64) -> f64,
    /// The value and the partial exactly as a node records them (the table's
    /// shared form where it has one, else `value` then `partial`).
    pub value_and_partial: fn(f64) -> (f64, f64),
    /// Records the op on a tape: the `Var` method itself.
    pub record: for<'t> fn(Var<'t>) -> Var<'t>,
}

impl std::fmt::Debug for Unary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unary")
            .field("op", &self.op)
            .field("formula", &self.formula)
            .field("derivative", &self.derivative)
            .finish_non_exhaustive()
    }
}

/// The shared `f64` form if the entry has one, else value then partial.
macro_rules! fast_or {
    ($x:ident; |$fx:ident| $fast:expr; $default:expr) => {{
        let $fx = $x;
        $fast
    }};
    ($x:ident; ; $default:expr) => {
        $default
    };
}

macro_rules! define_unary {
    ($(
        $(#[$doc:meta])*
        $Op:ident $method:ident {
            name: $name:literal, notation: $notation:literal,
            formula: $formula:literal, derivative: $derivative:literal,
            value: |$vx:ident| $value:expr,
            partial: |$px:ident, $py:ident| $partial:expr
            $(, fast: |$fx:ident| $fast:expr)? $(,)?
        }
    )*) => {
        /// Each unary op's rule as a function: `value` on `f64`, `partial` over
        /// any [`Scalar`](crate::Scalar) (so it can also be recorded on `Var`s),
        /// and `value_and_partial`, what a node records.
        pub(crate) mod rules {
            $(
                #[allow(clippy::redundant_closure_call)]
                pub(crate) mod $method {
                    #[allow(unused_imports)]
                    use crate::scalar::Scalar;

                    #[inline(always)]
                    pub(crate) fn value($vx: f64) -> f64 {
                        $value
                    }

                    #[inline(always)]
                    #[track_caller]
                    #[allow(unused_variables)]
                    pub(crate) fn partial<T: Scalar>($px: T, $py: T) -> T {
                        $partial
                    }

                    #[inline(always)]
                    pub(crate) fn value_and_partial(x: f64) -> (f64, f64) {
                        fast_or!(x; $(|$fx| $fast)?; {
                            let y = value(x);
                            (y, partial::<f64>(x, y))
                        })
                    }
                }
            )*
        }

        impl<'t> Var<'t> {
            $(
                $(#[$doc])*
                #[must_use]
                #[inline(always)]
                #[track_caller]
                pub fn $method(self) -> Var<'t> {
                    let (value, partial) = rules::$method::value_and_partial(self.value);
                    self.unary(Op::$Op, value, partial)
                }
            )*
        }

        /// Every unary op of the table, in its order.
        pub const UNARY: &[Unary] = &[$(
            Unary {
                op: Op::$Op,
                name: $name,
                formula: $formula,
                derivative: $derivative,
                value: rules::$method::value,
                partial: |x| rules::$method::partial::<f64>(x, rules::$method::value(x)),
                value_and_partial: rules::$method::value_and_partial,
                record: |x| x.$method(),
            },
        )*];

        /// The derivative of unary op `op` as its table rule writes it, over any
        /// [`Scalar`](crate::Scalar): given the operand `x` and the value `y`. On
        /// `Var`s this records the derivative itself, to be differentiated again.
        /// `None` if `op` is not a unary op of the table.
        #[allow(dead_code)]
        #[track_caller]
        pub(crate) fn unary_partial<T: crate::Scalar>(op: Op, x: T, y: T) -> Option<T> {
            match op {
                $(Op::$Op => Some(rules::$method::partial(x, y)),)*
                _ => None,
            }
        }
    };
}

crate::ops::unary_ops!(define_unary);
