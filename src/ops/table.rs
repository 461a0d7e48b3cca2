//! The table of unary ops: **the one place where a unary op is written.**
//!
//! Each entry gives, side by side as on paper:
//!
//! - `value`: the op's value on `f64`;
//! - `partial`: its derivative, as an expression over [`Scalar`](crate::Scalar)
//!   in the operand `x` and the value `y`, so the same rule computes the `f64`
//!   partial that is recorded and can be recorded on [`Var`](crate::Var) itself
//!   to differentiate it again;
//! - `fast` (optional): value and partial together on `f64`, where one shared
//!   computation is cheaper or more precise than `value` then `partial` (σ and
//!   tanh share one exponential; sin and cos one `sin_cos`). The crate's tests
//!   hold it against `partial` at thousands of points.
//!
//! From this one list the [`Op`](crate::Op) variant and its name, the `Var`
//! method with its documentation, the `Scalar` method and its `f64`
//! implementation, and the list of ops the tests iterate ([`UNARY`](super::UNARY))
//! are all generated, by the macros that consume `unary_ops!`. A new unary op is
//! one entry here plus its tests (the in-crate test that matches every `Op`
//! exhaustively does not compile until the op has them).
//!
//! Domain edges and kinks follow PyTorch and are stated in each doc comment.

/// Calls `$then!` with the table of unary ops. Every consumer matches entries of
/// the form below (the doc comment becomes the `Var` method's documentation).
macro_rules! unary_ops {
    ($then:ident) => {
        $then! {
            /// The logistic sigmoid σ(x) = 1 / (1 + e^−x).
            ///
            /// Derivative: σ′(x) = σ(x)·(1 − σ(x)) = σ(x)·σ(−x), with 1 − σ taken
            /// as e^−x·σ for x ≥ 0 so that σ′ keeps its relative precision in the
            /// upper tail (σ′(40) ≈ 4.2e-18, not 0). Finite and exact at ±1000
            /// (σ = 1 or 0, σ′ = 0): e^x is never evaluated for a large positive x.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// let y = x.sigmoid();
            /// assert_eq!((y.value(), y.backward()[x]), (0.5, 0.25));
            /// ```
            Sigmoid sigmoid {
                name: "sigmoid", notation: "σ",
                formula: "1 / (1 + e^−x)", derivative: "σ(x)·(1 − σ(x))",
                value: |x| crate::ops::kernels::sigmoid(x),
                partial: |x, y| y * (-x).sigmoid(),
                fast: |x| crate::ops::kernels::sigmoid_with_derivative(x),
            }
            /// The hyperbolic tangent.
            ///
            /// Derivative: 1 − tanh²(x) = 1 / cosh²(x), to full relative precision
            /// in the tails (never computed as `1 − t²`, which cancels). Finite at
            /// ±1000 (±1, derivative 0). The value equals [`f64::tanh`] bit for bit
            /// on glibc.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.tanh().backward()[x], 1.0);
            /// ```
            Tanh tanh {
                name: "tanh", notation: "tanh",
                formula: "tanh x", derivative: "1 − tanh²(x) = 1 / cosh²(x)",
                value: |x| crate::ops::kernels::tanh_with_derivative(x).0,
                // 1/cosh²x, and past |x| = 20 as 4u/(1 + u)² with u = e^−2|x|
                // (cosh overflows from |x| ≈ 710, and a rule recorded through
                // an infinite cosh has a NaN derivative). The same function, not
                // its tail 4u alone (which it equals there bit for bit, 1 + u
                // rounding to 1): a compiled gradient replays it right at any
                // input down to x ≈ −354 (u finite) for one recorded above 20.
                partial: |x, _y| {
                    if x.value() > 20.0 {
                        crate::ops::kernels::tanh_derivative_tail(x * -2.0)
                    } else if x.value() < -20.0 {
                        crate::ops::kernels::tanh_derivative_tail(x * 2.0)
                    } else {
                        x.cosh().powi(-2)
                    }
                },
                fast: |x| crate::ops::kernels::tanh_with_derivative(x),
            }
            /// The rectifier max(x, 0).
            ///
            /// Derivative: 1 for x > 0, else 0; **0 at x = 0** (as PyTorch and JAX's
            /// `relu`). relu(NaN) is NaN, and so is its derivative, so a NaN is not
            /// hidden from the anomaly check nor behind a finite gradient.
            ///
            /// relu is a select op ([`Op::is_select`](crate::Op::is_select)): for
            /// x ≤ 0 its operand gets exactly 0, whatever the adjoint, even an
            /// infinite one (see the non-finite policy in [`crate::backward`]):
            /// `x.relu().sqrt()` at x = −1 has gradient 0, as in PyTorch.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.relu().backward()[x], 0.0);
            /// ```
            Relu relu {
                name: "relu", notation: "relu",
                formula: "max(x, 0)", derivative: "1 for x > 0, else 0 (0 at 0)",
                value: |x| crate::ops::kernels::relu(x),
                partial: |x, _y| x.constant(crate::ops::kernels::relu_derivative(x.value())),
            }
            /// softplus(x) = ln(1 + e^x), computed as max(x, 0) + ln(1 + e^−|x|).
            ///
            /// Derivative: σ(x). Finite and exact at ±1000 (1000 and 0; derivative 1
            /// and 0).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(1000.0);
            /// let y = x.softplus();
            /// assert_eq!((y.value(), y.backward()[x]), (1000.0, 1.0));
            /// ```
            Softplus softplus {
                name: "softplus", notation: "softplus",
                formula: "ln(1 + e^x)", derivative: "σ(x)",
                value: |x| crate::ops::kernels::softplus(x),
                partial: |x, _y| x.sigmoid(),
            }
            /// The log-sigmoid ln σ(x) = −softplus(−x), finite for every finite x
            /// (ln σ(−1000) = −1000, where `x.sigmoid().ln()` is −inf).
            ///
            /// Derivative: σ(−x) = 1 − σ(x), to full relative precision (1 at −1000,
            /// e^−1000 rounding to 0 at +1000).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(-1000.0);
            /// let y = x.logsigmoid();
            /// assert_eq!((y.value(), y.backward()[x]), (-1000.0, 1.0));
            /// ```
            Logsigmoid logsigmoid {
                name: "logsigmoid", notation: "logsigmoid",
                formula: "ln σ(x) = −softplus(−x)", derivative: "σ(−x)",
                value: |x| -crate::ops::kernels::softplus(-x),
                partial: |x, _y| (-x).sigmoid(),
            }
            /// The SiLU (swish) x·σ(x), the activation of many recent networks.
            ///
            /// Derivative: σ(x)·(1 + x·(1 − σ(x))) = σ(x) + x·σ′(x). Finite at ±1000
            /// (1000 and −0; derivative 1 and 0), and at ±∞ the limits: silu(+∞) = +∞
            /// with derivative 1, silu(−∞) = −0 with derivative 0 (the formulas would
            /// give ∞·0, NaN). Below x = −708, where σ(x) is subnormal and x·σ(x)
            /// would magnify its rounding by |x| (silu(−745) is −2.1e-321, not
            /// −3.7e-321), value and derivative are x·e^x and (1 + x)·e^x, each as a
            /// product of normal numbers that rounds once into the subnormals; above
            /// 708 the derivative is recorded as 1 + (x − 1)·e^−x (1 in value, as
            /// before) so that its own derivative keeps its bits there too.
            ///
            /// Near the derivative's zero, x ≈ −1.2784645, the sum 1 + x·(1 − σ(x))
            /// cancels: there the derivative is within about 1e-16 of the exact value,
            /// not within a few ulps of it (between x = −1.66 and −1.03 it can be more
            /// than 4.5 ulps off, 231 at x = −1.2807737425979828, and next to the zero
            /// its relative error grows without bound).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// let y = x.silu();
            /// assert_eq!((y.value(), y.backward()[x]), (0.0, 0.5));
            ///
            /// // Next to the zero: 3.8594e-14 for the exact 3.8570e-14.
            /// let x = tape.var(-1.2784645427608967);
            /// let (g, exact) = (x.silu().backward()[x], 3.8569883408006197e-14);
            /// assert!((g - exact).abs() < 1e-16 && (g - exact).abs() > 1e-4 * exact);
            /// ```
            Silu silu {
                name: "silu", notation: "silu",
                formula: "x·σ(x)", derivative: "σ(x)·(1 + x·(1 − σ(x)))",
                value: |x| crate::ops::kernels::silu(x),
                // At ±∞ the formula is ∞·0 (NaN): the limits 1 and 0 instead;
                // past |x| = 708 (σ(x) or σ(−x) subnormal) (1 + x)·e^x and
                // 1 + (x − 1)·e^−x; all, and NaN, in a cold branch.
                partial: |x, _y| if x.value() >= crate::ops::kernels::SILU_FAR
                    && x.value() <= -crate::ops::kernels::SILU_FAR
                {
                    x.sigmoid() * (x * (-x).sigmoid() + 1.0)
                } else {
                    crate::ops::kernels::silu_derivative_far(x)
                },
            }
            /// e^x.
            ///
            /// Derivative: e^x (the value itself). Overflows to +inf past x ≈ 709.78.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.exp().backward()[x], 1.0);
            /// ```
            Exp exp {
                name: "exp", notation: "exp",
                formula: "e^x", derivative: "e^x",
                value: |x| x.exp(),
                partial: |_x, y| y,
            }
            /// e^x − 1, exact near 0 where `x.exp() - 1.0` cancels (as [`f64::exp_m1`];
            /// [`exp_m1`](crate::Var::exp_m1) is the same op).
            ///
            /// Derivative: e^x (taken from x, not as y + 1, which would round to 0
            /// for x below −37).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(1e-10);
            /// let y = x.expm1();
            /// assert_eq!(y.value(), 1e-10_f64.exp_m1());
            /// assert_eq!(y.backward()[x], 1e-10_f64.exp());
            /// ```
            Expm1 expm1 {
                name: "expm1", notation: "expm1",
                formula: "e^x − 1", derivative: "e^x",
                value: |x| x.exp_m1(),
                partial: |x, _y| x.exp(),
            }
            /// 2^x.
            ///
            /// Derivative: 2^x·ln 2, taken from the value: both overflow to +inf from
            /// x = 1024 (2^x·ln 2 alone would stay finite up to x ≈ 1024.53).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(3.0);
            /// let y = x.exp2();
            /// assert_eq!((y.value(), y.backward()[x]), (8.0, 8.0 * std::f64::consts::LN_2));
            /// ```
            Exp2 exp2 {
                name: "exp2", notation: "exp2",
                formula: "2^x", derivative: "2^x·ln 2",
                value: |x| x.exp2(),
                partial: |_x, y| y * std::f64::consts::LN_2,
            }
            /// The natural logarithm.
            ///
            /// Derivative: 1/x. ln(0) = −inf (derivative +inf, at −0 too) and ln(x < 0) = NaN,
            /// as [`f64::ln`]; there the partial stays the finite 1/x (as PyTorch's),
            /// and the NaN value is what the anomaly check reports.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(4.0);
            /// assert_eq!(x.ln().backward()[x], 0.25);
            /// ```
            Ln ln {
                name: "ln", notation: "ln",
                formula: "ln x", derivative: "1/x",
                value: |x| x.ln(),
                // At x = −0, 1/(−0 + 0) = 1/(+0): +inf, as at +0 (ln rises;
                // IEEE's 1/−0 = −inf would give it a derivative of −inf).
                partial: |x, _y| if x.value() == 0.0 { (x + 0.0).recip() } else { x.recip() },
            }
            /// ln(1 + x), exact near 0 where `(1.0 + x).ln()` loses every digit (as
            /// [`f64::ln_1p`]; [`ln_1p`](crate::Var::ln_1p) is the same op).
            ///
            /// Derivative: 1/(1 + x). At x = −1: −inf, derivative +inf; below −1 the
            /// value is NaN and the partial the finite 1/(1 + x) (as PyTorch's; the
            /// anomaly check reports the NaN value).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(1e-10);
            /// let y = x.log1p();
            /// assert_eq!(y.value(), 1e-10_f64.ln_1p());
            /// assert_eq!(y.backward()[x], 1.0 / (1.0 + 1e-10));
            /// ```
            Log1p log1p {
                name: "log1p", notation: "log1p",
                formula: "ln(1 + x)", derivative: "1/(1 + x)",
                value: |x| x.ln_1p(),
                partial: |x, _y| (x + 1.0).recip(),
            }
            /// The base-2 logarithm.
            ///
            /// Derivative: 1/(x·ln 2), +inf at x = 0 (at −0 too). Below |x| = 2^−1020,
            /// where x·ln 2 would be subnormal (from 3.2e-308) and lose bits, it is
            /// taken on x·2^8 (exactly, so its steps round as the plain formula's).
            /// log2(0) = −inf, log2(x < 0) = NaN.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(8.0);
            /// let y = x.log2();
            /// assert_eq!((y.value(), y.backward()[x]), (3.0, 1.0 / (8.0 * std::f64::consts::LN_2)));
            /// ```
            Log2 log2 {
                name: "log2", notation: "log2",
                formula: "log₂ x", derivative: "1/(x·ln 2)",
                value: |x| x.log2(),
                // +inf at −0 as at +0 (see `ln`).
                // 0, NaN and x·ln 2 subnormal in a cold branch.
                partial: |x, _y| if crate::ops::kernels::log2_derivative_is_plain(x.value()) {
                    (x * std::f64::consts::LN_2).recip()
                } else {
                    crate::ops::kernels::log_derivative_at_edge(x, std::f64::consts::LN_2)
                },
            }
            /// The base-10 logarithm.
            ///
            /// Derivative: 1/(x·ln 10), +inf at x = 0 (at −0 too). Past |x| = 2^1020,
            /// where x·ln 10 would overflow (from 7.8e307; the derivative is a
            /// subnormal there, not 0), and below 2^−1020, where it would be
            /// subnormal and lose bits, it is taken on x scaled by 2^∓8 (exactly, so
            /// its steps round as the plain formula's, and a subnormal result once
            /// more). log10(0) = −inf, log10(x < 0) = NaN.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(100.0);
            /// let y = x.log10();
            /// assert_eq!((y.value(), y.backward()[x]), (2.0, 1.0 / (100.0 * std::f64::consts::LN_10)));
            /// ```
            Log10 log10 {
                name: "log10", notation: "log10",
                formula: "log₁₀ x", derivative: "1/(x·ln 10)",
                value: |x| x.log10(),
                // 0, ±inf, NaN and the far ends in a cold branch.
                partial: |x, _y| if crate::ops::kernels::log10_derivative_is_plain(x.value()) {
                    (x * std::f64::consts::LN_10).recip()
                } else {
                    crate::ops::kernels::log_derivative_at_edge(x, std::f64::consts::LN_10)
                },
            }
            /// The square root.
            ///
            /// Derivative: 1 / (2√x); +inf at x = 0 (at −0 too, whose root is −0).
            /// √(x < 0) = NaN, as [`f64::sqrt`].
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(4.0);
            /// assert_eq!(x.sqrt().backward()[x], 0.25);
            /// ```
            Sqrt sqrt {
                name: "sqrt", notation: "sqrt",
                formula: "√x", derivative: "1 / (2√x)",
                value: |x| x.sqrt(),
                // √−0 is −0: 1/(2·(−0) + 0) = 1/(+0) = +inf, as at +0 (√ rises;
                // IEEE's 1/(2·−0) = −inf would give it a derivative of −inf).
                partial: |_x, y| if y.value() == 0.0 { (y * 2.0 + 0.0).recip() } else { (y * 2.0).recip() },
            }
            /// The cube root, defined for every x (∛−8 = −2).
            ///
            /// Derivative: 1 / (3·∛x²); +inf at x = 0, where the second derivative is
            /// NaN (it tends to −∞ from the right, +∞ from the left; see
            /// [`crate::higher`]).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(-8.0);
            /// let y = x.cbrt();
            /// assert_eq!((y.value(), y.backward()[x]), (-2.0, 1.0 / 12.0));
            /// ```
            Cbrt cbrt {
                name: "cbrt", notation: "cbrt",
                formula: "∛x", derivative: "1 / (3·∛x²)",
                value: |x| x.cbrt(),
                partial: |_x, y| (y * y * 3.0).recip(),
            }
            /// The absolute value.
            ///
            /// Derivative: sign(x): 1 for x > 0, −1 for x < 0, **0 at x = 0** (as
            /// PyTorch), NaN at NaN. Not a select op: at 0 the partial is the number
            /// 0, so an infinite adjoint times it is NaN (as PyTorch's
            /// `grad · sign(x)`).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(-3.0);
            /// assert_eq!(x.abs().backward()[x], -1.0);
            /// ```
            Abs abs {
                name: "abs", notation: "abs",
                formula: "abs(x)", derivative: "sign(x) (0 at 0)",
                value: |x| x.abs(),
                partial: |x, _y| x.constant(crate::ops::kernels::sign(x.value())),
            }
            /// The sign, as [`f64::signum`]: 1 for x > 0 and for +0, −1 for x < 0 and
            /// for −0, NaN at NaN. (Not the sign(x) of `abs`'s derivative, which is 0
            /// at ±0; nor PyTorch's `sign`, also 0 at 0.)
            ///
            /// Derivative: 0 for x ≠ 0 (exact); at 0 the jump has no derivative and
            /// 0 is a convention (PyTorch's and JAX's too); NaN at NaN.
            ///
            /// signum is a select op ([`Op::is_select`](crate::Op::is_select)): its
            /// operand gets exactly 0, whatever the adjoint, even an infinite or NaN
            /// one (see the non-finite policy in [`crate::backward`]), as PyTorch's
            /// and JAX's `sign`, whose gradient is zeros: `x.signum() * f64::INFINITY`
            /// has gradient 0, not 0·∞ = NaN.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(-2.5);
            /// let y = x.signum();
            /// assert_eq!((y.value(), y.backward()[x]), (-1.0, 0.0));
            /// ```
            Signum signum {
                name: "signum", notation: "signum",
                formula: "sign(x) (±1 at ±0)", derivative: "0 (a convention at 0)",
                value: |x| x.signum(),
                partial: |x, _y| x.constant(if x.value().is_nan() { f64::NAN } else { 0.0 }),
            }
            /// The sine (x in radians).
            ///
            /// Derivative: cos x.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.sin().backward()[x], 1.0);
            /// ```
            Sin sin {
                name: "sin", notation: "sin",
                formula: "sin x", derivative: "cos x",
                value: |x| x.sin(),
                partial: |x, _y| x.cos(),
                fast: |x| x.sin_cos(),
            }
            /// The cosine (x in radians).
            ///
            /// Derivative: −sin x.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.cos().backward()[x], 0.0);
            /// ```
            Cos cos {
                name: "cos", notation: "cos",
                formula: "cos x", derivative: "−sin x",
                value: |x| x.cos(),
                partial: |x, _y| -x.sin(),
                fast: |x| { let (s, c) = x.sin_cos(); (c, -s) },
            }
            /// The tangent (x in radians).
            ///
            /// Derivative: 1 + tan²x = 1/cos²x; very large (not infinite: π/2 is not
            /// a double) near odd multiples of π/2.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.tan().backward()[x], 1.0);
            /// ```
            Tan tan {
                name: "tan", notation: "tan",
                formula: "tan x", derivative: "1 + tan²x",
                value: |x| x.tan(),
                partial: |_x, y| y * y + 1.0,
            }
            /// The arcsine, in radians, for x in [−1, 1].
            ///
            /// Derivative: 1/√(1 − x²), computed as 1/(√(1 − x)·√(1 + x)) (no
            /// cancellation near ±1); +inf at x = ±1; outside [−1, 1] the value is
            /// NaN, and so is the derivative. The second derivative at ±1 is NaN, not
            /// the limit ±∞ (0·∞ in its product rule; see [`crate::higher`]).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.asin().backward()[x], 1.0);
            /// ```
            Asin asin {
                name: "asin", notation: "asin",
                formula: "arcsin x", derivative: "1/√(1 − x²)",
                value: |x| x.asin(),
                partial: |x, _y| ((-x + 1.0).sqrt() * (x + 1.0).sqrt()).recip(),
            }
            /// The arccosine, in radians, for x in [−1, 1].
            ///
            /// Derivative: −1/√(1 − x²), computed as −1/(√(1 − x)·√(1 + x)); −inf at
            /// x = ±1; NaN outside [−1, 1]. The second derivative at ±1 is NaN, not
            /// the limit ∓∞ (0·∞ in its product rule; see [`crate::higher`]).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.acos().backward()[x], -1.0);
            /// ```
            Acos acos {
                name: "acos", notation: "acos",
                formula: "arccos x", derivative: "−1/√(1 − x²)",
                value: |x| x.acos(),
                partial: |x, _y| -((-x + 1.0).sqrt() * (x + 1.0).sqrt()).recip(),
            }
            /// The arctangent, in radians, in (−π/2, π/2). See also
            /// [`atan2`](crate::Var::atan2).
            ///
            /// Derivative: 1/(1 + x²). From |x| = 2^512 ≈ 1.34e154, where x² would
            /// overflow, it is taken as (1/x)/(x + 1/x), which there is (1/x)/x in
            /// `f64`, the subnormal it is (to 0 from |x| ≈ 6.36e161 = 2^537.5,
            /// where 1/x² rounds to 0).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(1.0);
            /// assert_eq!(x.atan().backward()[x], 0.5);
            /// ```
            Atan atan {
                name: "atan", notation: "atan",
                formula: "arctan x", derivative: "1/(1 + x²)",
                value: |x| x.atan(),
                partial: |x, _y| if x.value().abs() < crate::ops::kernels::ATAN_FAR {
                    (x * x + 1.0).recip()
                } else {
                    crate::ops::kernels::atan_derivative_far(x)
                },
            }
            /// The hyperbolic sine.
            ///
            /// Derivative: cosh x. Overflows to ±inf past |x| ≈ 710.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.sinh().backward()[x], 1.0);
            /// ```
            Sinh sinh {
                name: "sinh", notation: "sinh",
                formula: "sinh x", derivative: "cosh x",
                value: |x| x.sinh(),
                partial: |x, _y| x.cosh(),
            }
            /// The hyperbolic cosine.
            ///
            /// Derivative: sinh x. Overflows to +inf past |x| ≈ 710.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.cosh().backward()[x], 0.0);
            /// ```
            Cosh cosh {
                name: "cosh", notation: "cosh",
                formula: "cosh x", derivative: "sinh x",
                value: |x| x.cosh(),
                partial: |x, _y| x.sinh(),
            }
            /// The inverse hyperbolic sine, defined for every x: [`f64::asinh`], but
            /// past 2^1022 in magnitude from the `libm` crate (`f64::asinh`
            /// overflows from about 8.99e307: asinh(f64::MAX) is 710.4758600739439,
            /// not ∞).
            ///
            /// Derivative: 1/√(x² + 1), computed as 1/hypot(x, 1) (no overflow for
            /// large |x|).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.asinh().backward()[x], 1.0);
            /// ```
            Asinh asinh {
                name: "asinh", notation: "asinh",
                formula: "arsinh x", derivative: "1/√(x² + 1)",
                value: |x| crate::ops::kernels::asinh(x),
                partial: |x, _y| x.hypot(1.0).recip(),
            }
            /// The inverse hyperbolic cosine, for x ≥ 1 (NaN below): [`f64::acosh`],
            /// but below 1.125 and past 2^1022 from the `libm` crate, within 2 ulps
            /// there (`f64::acosh` is 4e-9 relatively off at 1 + ε, more than 2 ulps
            /// up to about 1.08, and overflows from about 8.99e307).
            ///
            /// Derivative: 1/√(x² − 1), computed as 1/(√(x − 1)·√(x + 1)); +inf at
            /// x = 1; NaN below 1. The second derivative at 1 is NaN, not the limit
            /// −∞ (0·∞ in its product rule; see [`crate::higher`]).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(2.0);
            /// let g = x.acosh().backward()[x];
            /// assert!((g - 1.0 / 3f64.sqrt()).abs() < 1e-15);
            /// ```
            Acosh acosh {
                name: "acosh", notation: "acosh",
                formula: "arcosh x", derivative: "1/√(x² − 1)",
                value: |x| crate::ops::kernels::acosh(x),
                partial: |x, _y| ((x - 1.0).sqrt() * (x + 1.0).sqrt()).recip(),
            }
            /// The inverse hyperbolic tangent, for x in (−1, 1): [`f64::atanh`], but
            /// below −½ as −atanh(−x) (`f64::atanh` loses digits next to −1:
            /// −18.368 at −0.9999999999999999, for −18.715).
            ///
            /// Derivative: 1/(1 − x²), computed as 1/((1 − x)(1 + x)); at x = ±1 the
            /// value is ±inf and the derivative +inf; NaN outside [−1, 1]. The second
            /// derivative at ±1 is NaN, not the limit ±∞ (0·∞ in its product rule;
            /// see [`crate::higher`]).
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.5);
            /// let g = x.atanh().backward()[x];
            /// assert!((g - 4.0 / 3.0).abs() < 1e-15);
            /// ```
            Atanh atanh {
                name: "atanh", notation: "atanh",
                formula: "artanh x", derivative: "1/(1 − x²)",
                value: |x| crate::ops::kernels::atanh(x),
                // √(1 − x)·√(1 + x), squared: NaN outside [−1, 1], as documented
                // (the product alone would be finite there).
                partial: |x, _y| ((-x + 1.0).sqrt() * (x + 1.0).sqrt()).powi(-2),
            }
            /// The reciprocal 1/x.
            ///
            /// Derivative: −1/x². At x = 0: +inf with derivative −inf.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(2.0);
            /// assert_eq!(x.recip().backward()[x], -0.25);
            /// ```
            Recip recip {
                name: "recip", notation: "recip",
                formula: "1/x", derivative: "−1/x²",
                value: |x| 1.0 / x,
                partial: |_x, y| -(y * y),
            }
            /// x².
            ///
            /// Derivative: 2x.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(3.0);
            /// assert_eq!(x.square().backward()[x], 6.0);
            /// ```
            Square square {
                name: "square", notation: "square",
                formula: "x²", derivative: "2x",
                value: |x| x * x,
                partial: |x, _y| x * 2.0,
            }
            /// The error function erf x = (2/√π)∫₀ˣ e^−t² dt, from the `libm` crate
            /// (a port of FreeBSD's msun, < 1 ulp).
            ///
            /// Derivative: (2/√π)·e^−x²; 0 (underflowed) past |x| ≈ 27.
            ///
            /// ```
            /// let tape = chainrule::Tape::new();
            /// let x = tape.var(0.0);
            /// assert_eq!(x.erf().backward()[x], std::f64::consts::FRAC_2_SQRT_PI);
            /// ```
            Erf erf {
                name: "erf", notation: "erf",
                formula: "erf x", derivative: "(2/√π)·e^−x²",
                value: |x| libm::erf(x),
                partial: |x, _y| (-(x * x)).exp() * std::f64::consts::FRAC_2_SQRT_PI,
                fast: |x| (libm::erf(x), crate::ops::kernels::erf_derivative(x)),
            }
        }
    };
}

pub(crate) use unary_ops;
