//! First derivatives at awkward points, each against its exact value: cases a
//! fresh-user audit of the core ops found false.

use chainrule::Tape;

/// ∂(x^y)/∂x = y·x^(y−1) for x < 0 and an even integer y past 2^53, where y − 1
/// (odd) rounds to an even number: the power's sign must follow y − 1, not its
/// rounding. At x = −(1 − 2⁻⁵³), y = 2^54: the value is e^−2 (to 1e-16) and the
/// derivative −y·|x|^(y−1) ≈ −2.44e15; it was +2.44e15.
#[test]
fn the_power_of_a_negative_base_to_a_huge_even_exponent_has_a_negative_derivative() {
    let x0 = -(1.0 - f64::EPSILON / 2.0);
    let y0 = 2f64.powi(54);
    // y·|x|^(y−1) = y·|x|^y / |x|, with |x|^y = (1 − 2⁻⁵³)^(2⁵⁴) = e^(2⁵⁴·ln(1 − 2⁻⁵³)).
    let exact = -y0 * (y0 * (-f64::EPSILON / 2.0).ln_1p()).exp() / -x0;
    let tape = Tape::new();
    let (x, y) = (tape.var(x0), tape.var(y0));
    let close = |g: f64| (g - exact).abs() <= 1e-14 * exact.abs();
    let g = x.pow(y).backward();
    assert!(close(g[x]), "pow: ∂/∂x = {:e}, exact {exact:e}", g[x]);
    let g = x.powf(y0).backward();
    assert!(close(g[x]), "powf: ∂/∂x = {:e}, exact {exact:e}", g[x]);
    // x = −1: the derivative −y exactly (|x|^anything = 1).
    let x = tape.var(-1.0);
    assert_eq!(x.powf(y0).backward()[x], -y0);
    assert_eq!(x.pow(tape.var(-y0)).backward()[x], y0); // −y·(−1)^(−y−1) = y
                                                        // Odd and smaller exponents are unchanged: (−2)³ has derivative 12.
    let x = tape.var(-2.0);
    assert_eq!(x.powf(3.0).backward()[x], 12.0);
    // The recorded backward pass gives the same first derivative.
    let x = tape.var(x0);
    let p = x.powf(y0);
    let [d] = tape.grad(p, &[x])[..] else {
        unreachable!()
    };
    assert_eq!(d.value(), p.backward()[x]);
}

/// hypot's partials x/h and y/h at subnormal operands, where h itself is
/// subnormal and keeps few bits: at (5e-324, 5e-324) they were 1 (h rounds to
/// 5e-324), at (1e-310, 1e-310) 54 ulps off; and for finite operands whose h
/// overflows they were 0. Each is √½ here.
#[test]
fn hypot_has_its_partials_at_subnormal_and_overflowing_scales() {
    let half = std::f64::consts::FRAC_1_SQRT_2;
    for v in [5e-324, 1e-310, -1e-310, 2e-308, f64::MAX] {
        let tape = Tape::new();
        let (x, y) = (tape.var(v), tape.var(v));
        // Within 2 ulps of ±√½ (h itself rounds).
        let near = |g: f64| (g - half.copysign(v)).abs() <= 2.0 * f64::EPSILON * half;
        let h = x.hypot(y);
        let g = h.backward();
        assert!(near(g[x]) && near(g[y]), "hypot({v:e}, {v:e}): {g:?}");
        let hc = x.hypot(v);
        let gc = hc.backward();
        assert!(near(gc[x]), "hypot({v:e}, constant {v:e}): {}", gc[x]);
        // Tape::grad writes the same partials, bit for bit.
        let d: Vec<f64> = tape.grad(h, &[x, y]).iter().map(|d| d.value()).collect();
        assert_eq!(d, vec![g[x], g[y]], "Tape::grad of hypot at {v:e}");
        let [d] = tape.grad(hc, &[x])[..] else {
            unreachable!()
        };
        assert_eq!(d.value(), gc[x], "Tape::grad of hypot against {v:e}");
    }
    // 3-4-5 at a subnormal scale: 0.6 and 0.8.
    let tape = Tape::new();
    let s = 2f64.powi(-1070);
    let (x, y) = (tape.var(3.0 * s), tape.var(4.0 * s));
    let g = x.hypot(y).backward();
    assert_eq!((g[x], g[y]), (0.6, 0.8));
    // At (0, 0) still NaN: no derivative at the cone's tip.
    let z = tape.var(0.0);
    assert!(z.hypot(z).backward()[z].is_nan());
}

/// x^c for x < 0 and c no integer is NaN, and so must its derivative be; for a
/// tiny c (|c| below 2⁻⁵³) c − 1 rounds to the integer −1, and c·x^(c−1) was a
/// number (−5e-21 at x = −2, c = 1e-20): a finite gradient through a NaN value.
#[test]
fn a_negative_base_to_a_tiny_fractional_power_has_no_derivative() {
    let tape = Tape::new();
    for (x0, c) in [(-2.0, 1e-20), (-0.5, -3e-17), (-1e300, 1e-300)] {
        let x = tape.var(x0);
        let y = x.powf(c);
        assert!(y.value().is_nan(), "(−{x0})^{c} = {}", y.value());
        assert!(y.backward()[x].is_nan(), "powf: ∂/∂x at ({x0}, {c})");
        let e = tape.var(c);
        assert!(x.pow(e).backward()[x].is_nan(), "pow: ∂/∂x at ({x0}, {c})");
        // The recorded backward pass agrees.
        assert!(
            tape.grad(y, &[x])[0].value().is_nan(),
            "Tape::grad at ({x0}, {c})"
        );
    }
    // An integer c, a non-tiny c and x = −∞ are as before.
    let x = tape.var(-2.0);
    assert_eq!(x.powf(2.0).backward()[x], -4.0);
    assert!(x.powf(0.5).backward()[x].is_nan());
    let x = tape.var(f64::NEG_INFINITY);
    assert!(!x.powf(1e-20).backward()[x].is_nan());
}
