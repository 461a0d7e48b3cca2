//! `Gradients::rounding_bound`: the tape's gradient is within it of the exact
//! derivative where the sweep's sum cancels, and it is a few ulps where not.
//! Exact values come from algebraically stable forms of the same derivatives
//! (no cancellation), good to a few ulps themselves.

use chainrule::Tape;

#[test]
fn the_bound_covers_the_error_of_a_cancelling_sum() {
    // d/dx [x³ − (x − 1)³] = 3x² − 3(x − 1)² = 6x − 3: the terms are ±3e20 at
    // x = 1e10, the sum 6e10; the tape's value is off by ~2.3e4.
    let tape = Tape::new();
    for x0 in [1e8, 1e10, 3.3e11] {
        let x = tape.var(x0);
        let g = (x.powi(3) - (x - 1.0).powi(3)).backward();
        let exact = 6.0 * x0 - 3.0;
        let error = (g[x] - exact).abs();
        assert!(
            error <= g.rounding_bound(x),
            "{x0}: {error} > {}",
            g.rounding_bound(x)
        );
        // and the bound is not vacuous: within 10⁴ of the real error or of
        // a few ulps of the terms (3x² · 2 · ε)
        assert!(g.rounding_bound(x) < 1e4 * (error + 6.0 * x0 * x0 * f64::EPSILON));
    }
    // 1e20·(√(x + 1) − √x): the derivative 1e20·(1/(2√(x+1)) − 1/(2√x)), of
    // terms ±4e14 at x = 1.35e10, is −1e20 / (2√x√(x+1)(√x + √(x+1))).
    let x0 = 13_493_789_840.994_371;
    let x = tape.var(x0);
    let g = (((x + 1.0).sqrt() - x.sqrt()) * 1e20).backward();
    let (a, b) = (x0.sqrt(), (x0 + 1.0).sqrt());
    let exact = -1e20 / (2.0 * a * b * (a + b));
    let error = (g[x] - exact).abs();
    assert!(error > 1e-9 * exact.abs(), "the case must cancel: {error}");
    assert!(
        error <= g.rounding_bound(x),
        "{error} > {}",
        g.rounding_bound(x)
    );
}

#[test]
fn without_cancellation_the_bound_is_a_few_ulps_of_the_gradient() {
    let tape = Tape::new();
    let x = tape.var(0.7);
    let y = tape.var(-1.3);
    let f = (x * y).sin() + x.exp() * y;
    let g = f.backward();
    for v in [x, y] {
        let bound = g.rounding_bound(v);
        assert!(
            bound > 0.0 && bound < 64.0 * f64::EPSILON * g[v].abs().max(1.0),
            "{bound}"
        );
    }
    // A node the output does not depend on has no error; nor a masked edge.
    let unused = tape.var(5.0);
    let g = (x.relu() * 2.0 + (y.relu() * 3.0)).backward(); // y < 0: relu masks
    assert_eq!(g.rounding_bound(unused), 0.0);
    assert_eq!(g.rounding_bound(y), 0.0);
}

#[test]
fn the_bound_grows_with_the_sum_not_with_the_tape() {
    // (fourth audit) A tape of a million unrelated nodes before a short
    // cancelling sum: the bound depends on the sum's terms and their number,
    // not on the tape's length. y = 1e8·x − (1e8 − 1)·x at 1 is exactly 1.
    let tape = Tape::new();
    for k in 0..1_000_000 {
        tape.var(k as f64);
    }
    let x = tape.var(1.0);
    let g = (x * 1e8 - x * (1e8 - 1.0)).backward();
    assert_eq!(g[x], 1.0);
    // 2e8 in terms, two of them: (2 + 1)·ε·2e8 ≈ 1.3e-7, plus the products'.
    assert!(g.rounding_bound(x) < 1e-6, "{}", g.rounding_bound(x));
    // A sum of 100,000 terms ±1e6·x and x: worst case (k + 1)·ε·Σ|terms|
    // ≈ 1e5 · 2.2e-16 · 1e11 ≈ 2.2: a bound, not the error (which is 0 here).
    let tape = Tape::new();
    let x = tape.var(1.0);
    let mut y = x;
    for k in 0..100_000 {
        let sign = if k % 2 == 0 { 1e6 } else { -1e6 };
        y += x * sign;
    }
    let g = y.backward();
    assert_eq!(g[x], 1.0);
    let bound = g.rounding_bound(x);
    assert!(bound > 1.0 && bound < 10.0, "{bound}");
}

#[test]
fn the_bound_covers_gradients_that_underflow() {
    // (seventh audit) ∂/∂x (x·1e-200)·1e-130 = 1e-330 exactly: below the
    // smallest subnormal, so the tape's 0 is off by 1e-330, and a bound made
    // of relative errors alone was 0. Likewise 1e-160·1e-160 = 1e-320, a
    // subnormal the tape rounds by ~1e-325.
    let tape = Tape::new();
    let x = tape.var(1.0);
    let g = ((x * 1e-200) * 1e-130).backward();
    assert_eq!(g[x], 0.0);
    // (1e-330 is below f64's range, so "at least the error" is "above 0".)
    assert!(g.rounding_bound(x) > 0.0 && g.rounding_bound(x) < 1e-322);
    let g = ((x * 1e-160) * 1e-160).backward();
    // exact: 1e-160 and 1e-160 are not exact in binary; the product of the
    // stored factors, in f64 before underflow, is good to 1e-16 relative.
    let (a, b) = (1e-160f64, 1e-160f64);
    let exact = (a * 1e150) * (b * 1e150) * 1e-300;
    assert!(
        (g[x] - exact).abs() <= g.rounding_bound(x),
        "{} {exact} {}",
        g[x],
        g.rounding_bound(x)
    );
}

/// (A review found both.) A node on a path from the output whose sum over
/// paths is 0 in f64 was taken for a node on no path, and skipped:
///
/// - an adjoint that underflows to 0 mid-sweep, whose rounding (all of the
///   exact 1e-600) the partials below magnify by 1e400 (the bound was 0,
///   the error 1e-200);
/// - a zero partial above a node with an infinite one, 0 · ∞ = NaN in the
///   sweep (the bound was 0 where the docs promise NaN).
#[test]
fn the_bound_covers_an_adjoint_that_underflows_mid_sweep_and_a_nan_gradient() {
    let tape = Tape::new();
    let x = tape.var(1e-100);
    let y = x * 1e200 * 1e200 * 1e-300 * 1e-300; // values 1e100, 1e300, 1, 1e-300
    let g = y.backward();
    // (1e-300 · 1e-300) underflows, then · 1e200 · 1e200.
    assert_eq!(g[x], 0.0);
    // The product of the recorded partials, regrouped so that nothing
    // underflows: good to a few ulps, far inside the margin asked for.
    let exact = (1e-300 * 1e200) * (1e-300 * 1e200);
    assert!(exact > 9e-201 && exact < 1.1e-200, "{exact}");
    let bound = g.rounding_bound(x);
    assert!(bound.is_finite(), "{bound}");
    assert!((g[x] - exact).abs() <= bound, "{bound}");
    // NaN: 0 · ∞ below the product by 0, as in the sweep.
    let x = tape.var(0.0);
    let g = (x.sqrt() * 0.0).backward();
    assert!(g[x].is_nan());
    assert!(g.rounding_bound(x).is_nan(), "{}", g.rounding_bound(x));
    // Infinite: ∞ both.
    let g = (x.sqrt() * 2.0).backward();
    assert_eq!(g[x], f64::INFINITY);
    assert_eq!(g.rounding_bound(x), f64::INFINITY);
}

/// Below a masked edge (relu at a negative input, max's side not picked) the
/// sweep passes 0, and 0 · ∞ further down is NaN (the policy's rule 2); the
/// bound skipped the nodes there, which take no counted contribution, and
/// said 0. Found by a fresh user's review.
#[test]
fn the_bound_is_nan_where_a_masked_edge_meets_an_infinite_partial() {
    let tape = Tape::new();
    let x = tape.var(0.0);
    let g = (x.sqrt().relu() * 0.0).backward();
    assert!(g[x].is_nan());
    assert!(g.rounding_bound(x).is_nan(), "{}", g.rounding_bound(x));
    let x = tape.var(-1.0);
    let g = (x * f64::INFINITY).relu().backward();
    assert!(g[x].is_nan());
    assert!(g.rounding_bound(x).is_nan(), "{}", g.rounding_bound(x));
    let (w, b, input) = (tape.var(-1.0), tape.var(0.0), tape.var(f64::INFINITY));
    let g = (w * input + b).relu().backward();
    // ∂/∂w = 0 · ∞ = NaN; ∂/∂input = 0 · (−1), finite, bound 0.
    assert!(g[w].is_nan());
    assert!(g.rounding_bound(w).is_nan(), "{}", g.rounding_bound(w));
    assert_eq!((g[input], g.rounding_bound(input)), (0.0, 0.0));
}
