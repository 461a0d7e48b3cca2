//! n-ary ops of the calculus: [`logsumexp`](Var::logsumexp).

use super::kernels;
use crate::op::Op;
use crate::var::Var;

impl<'t> Var<'t> {
    /// ln(e^x₀ + e^x₁ + …), one node over every input, computed as m + ln Σ
    /// e^(xᵢ − m) with m the largest input, so it neither overflows nor
    /// underflows where the plain sum would. Each e^(xᵢ − m) restores the
    /// rounding of xᵢ − m (TwoSum), so the partials keep a few ulps where a plain
    /// `(x - m).exp()` loses up to |m| of them.
    ///
    /// The largest input's term is exactly 1, and ln Σ is taken as ln_1p of the
    /// others' sum r, so the value is within 2 ulps (1.6 measured) where it is
    /// not near 0 by cancellation: ln(1 + r) lost r's low bits as 1 + r rounded
    /// (5.6 ulps at (0.0368, −2.51); logsumexp(1e-3, −40) was 1e-3, for
    /// 1e-3 + 4.24e-18). Where the largest input m < 0 and the value is smaller
    /// than |m| (m and ln_1p(r) cancel), it is within a few ulps of m.
    ///
    /// Derivatives: the softmax, ∂/∂xᵢ = e^(xᵢ − m) / Σ e^(xⱼ − m), each in
    /// [0, 1], summing to 1.
    /// Edges where the shift is undefined: the limit where there is one, NaN
    /// where the partials' limit depends on the way the inputs go to infinity
    /// (as 0/0; PyTorch's e^(xᵢ − value) is NaN there too):
    ///
    /// | inputs | value | partials |
    /// |---|---|---|
    /// | every input −inf, two or more | −inf | NaN each (near the point the softmax takes any values summing to 1: ½ each along x₀ = x₁ → −inf, 1 and 0 along x₁ = x₀ − 1 → −inf) |
    /// | one input, −inf | −inf | 1 (ln e^x is x) |
    /// | one input +inf | +inf | 1 to it, 0 to the others |
    /// | k ≥ 2 inputs +inf | +inf | NaN to each +inf input (their shares depend on how they grow), 0 to the others |
    /// | a NaN | NaN | NaN each |
    ///
    /// # Panics
    ///
    /// If `xs` is empty (there is no tape to record on) or mixes tapes.
    ///
    /// # Complexity
    ///
    /// O(n): four passes over the inputs (the largest, the sum, the count of
    /// infinite inputs, the partials) and 2n exponentials (each e^(xᵢ − m) for the
    /// sum, then again for its partial); one node with n edges.
    ///
    /// ```
    /// use chainrule::{Tape, Var};
    /// let tape = Tape::new();
    /// let xs = tape.vars(&[1000.0, 1000.0]);
    /// let y = Var::logsumexp(&xs);
    /// let g = y.backward();
    /// assert_eq!(y.value(), 1000.0 + 2f64.ln()); // the plain sum overflows
    /// assert_eq!((g[xs[0]], g[xs[1]]), (0.5, 0.5));
    ///
    /// let xs = tape.vars(&[f64::NEG_INFINITY; 3]);
    /// let y = Var::logsumexp(&xs);
    /// assert_eq!(y.value(), f64::NEG_INFINITY);
    /// assert!(y.backward()[xs[0]].is_nan()); // 0/0: no limit
    ///
    /// let xs = tape.vars(&[f64::INFINITY, 2.0]);
    /// let g = Var::logsumexp(&xs).backward();
    /// assert_eq!((g[xs[0]], g[xs[1]]), (1.0, 0.0)); // the limit
    /// ```
    #[must_use]
    #[track_caller]
    pub fn logsumexp(xs: &[Var<'t>]) -> Var<'t> {
        let Some(first) = xs.first() else {
            empty_logsumexp()
        };
        for x in xs {
            first.same_tape(*x);
        }
        let values = xs.iter().map(|x| x.value);
        let shifted = kernels::logsumexp(values.clone());
        let value = shifted.0;
        let index = first.tape.push_with(
            Op::LogSumExp,
            value,
            xs.len(),
            true,
            |operands, partials| {
                for (o, x) in operands.iter_mut().zip(xs) {
                    *o = x.index;
                }
                kernels::logsumexp_partials(values, shifted, partials);
            },
        );
        Var::from_parts(first.tape, index, value)
    }
}

#[cold]
#[inline(never)]
#[track_caller]
fn empty_logsumexp() -> ! {
    panic!("chainrule: Var::logsumexp needs at least one input (an empty slice has no tape to record on); its value would be −inf")
}
