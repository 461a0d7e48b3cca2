//! Faults in gradient checks found by an audit of explanations, drawings and
//! gradient checks.

use chainrule::gradcheck::{gradcheck, gradcheck_with, GradcheckOptions, Tolerance};

#[test]
fn a_right_gradient_of_a_subnormal_f_is_not_failed_under_a_relative_tolerance() {
    // f(x) = x·1e-300·1e-20 at 1 is 1e-320, a subnormal: it rounds to a
    // multiple of 2⁻¹⁰⁷⁴ (4.9e-324), so f(1 ± h) = f(1) for every step tried and
    // every difference is 0. The tape's 9.99989e-321 is the derivative (1e-320)
    // to 1.1e-5 relative, inside the tolerance; the check said FAIL, taking f's
    // rounding as ε·|f| (1e-336) where it is up to 2⁻¹⁰⁷⁵.
    let strict = GradcheckOptions {
        tolerance: Tolerance {
            atol: 0.0,
            rtol: 1e-3,
        },
        ..Default::default()
    };
    let report = gradcheck_with(|v| v[0] * 1e-300 * 1e-20, &[1.0], strict);
    assert!(
        (report.checks[0].tape - 1e-320).abs() <= 1e-3 * 1e-320,
        "{report}"
    );
    assert_eq!(report.failures().count(), 0, "{report}");
    assert_eq!(report.unchecked().count(), 1, "{report}");
    let why = report.checks[0].cannot_check.as_deref().unwrap_or_default();
    assert!(why.contains("lost to rounding"), "{why}");
    assert!(why.contains("counts as 2.2e-308"), "{why}");
    // A wrong tape at that scale still fails: f = x·x with x's second use held
    // constant (tape 1e-308, derivative 2e-308), whose values are normal.
    let wrong = gradcheck_with(
        |v| v[0].constant(v[0].value()) * v[0] * 1e-300 * 1e-8,
        &[1.0],
        strict,
    );
    assert_eq!(wrong.failures().count(), 1, "{wrong}");
}

#[test]
fn the_rounding_reason_states_the_size_f_and_its_intermediate_values_reach() {
    // (x + 1e8) − 1e8 at 0.3: the intermediate value is 1e8 + 0.3, weighted by
    // ∂f/∂v = 1, plus |f| = 0.3: the running error bound is 1.000000006e8. The
    // reason said "reach 2.000e8", twice that.
    let report = gradcheck(|v| v[0] + 1e8 - 1e8, &[0.3]);
    let why = report.checks[0].cannot_check.as_deref().unwrap_or_default();
    assert!(why.contains("computed from reach 1.000e8,"), "{why}");
}
