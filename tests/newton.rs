//! The Newton's-method example (`examples/newton.rs`), included as a module: the
//! iteration it prints converges to the known minima.

#[path = "../examples/newton.rs"]
#[allow(dead_code)]
mod newton;

use newton::{bowl, minimise, rosenbrock};

#[test]
fn newton_minimises_rosenbrock_from_the_classic_start() {
    let steps = minimise(rosenbrock, &[-1.2, 1.0], 1e-12, 100);
    let last = steps.last().unwrap();
    assert!(
        (last.x[0] - 1.0).abs() < 1e-10 && (last.x[1] - 1.0).abs() < 1e-10,
        "{:?} after {} steps",
        last.x,
        steps.len() - 1
    );
    assert!(last.f < 1e-20, "{}", last.f);
    // A reasonable number of steps (Nocedal & Wright's line-search Newton takes
    // about 20 from this start).
    assert!(steps.len() - 1 <= 30, "{} steps", steps.len() - 1);
    // The line search never lets f increase.
    for pair in steps.windows(2) {
        assert!(pair[1].f <= pair[0].f, "{} then {}", pair[0].f, pair[1].f);
    }
    // The Hessian at the start, as on paper: [[1330, 480], [480, 200]].
    let h = &steps[0].hessian;
    assert!((h[0][0] - 1330.0).abs() < 1e-9 && (h[1][1] - 200.0).abs() < 1e-9);
    assert!((h[0][1] - 480.0).abs() < 1e-9 && (h[1][0] - 480.0).abs() < 1e-9);
    // Near the minimum the steps are pure Newton steps, taken whole.
    let before_last = &steps[steps.len() - 2];
    assert_eq!((before_last.damping, before_last.step_size), (0.0, 1.0));
}

#[test]
fn where_the_hessian_is_a_saddle_the_damping_steps_in() {
    // At (0, 1) H = [[−398, 0], [0, 200]]: not positive definite.
    let steps = minimise(rosenbrock, &[0.0, 1.0], 1e-12, 100);
    assert!(steps[0].damping > 398.0, "{}", steps[0].damping);
    let last = steps.last().unwrap();
    assert!((last.x[0] - 1.0).abs() < 1e-10 && (last.x[1] - 1.0).abs() < 1e-10);
    assert!(steps.len() - 1 <= 40, "{} steps", steps.len() - 1);
}

#[test]
fn on_a_quadratic_one_newton_step_is_exact() {
    let steps = minimise(bowl, &[3.0, -2.0], 1e-12, 10);
    assert_eq!(steps.len(), 2, "{steps:?}");
    let x = &steps[1].x;
    assert!((x[0] - 4.0 / 11.0).abs() < 1e-15 && (x[1] - 3.0 / 11.0).abs() < 1e-15);
    assert_eq!(steps[0].hessian, vec![vec![2.0, 1.0], vec![1.0, 6.0]]);
}

#[test]
fn the_solver_refuses_a_matrix_that_is_not_positive_definite() {
    // A saddle: the quadratic model has no minimum.
    let saddle = vec![vec![1.0, 0.0], vec![0.0, -1.0]];
    assert!(newton::solve_positive_definite(&saddle, &[1.0, 1.0]).is_none());
    let d = newton::solve_positive_definite(&[vec![4.0, 2.0], vec![2.0, 3.0]], &[2.0, 1.0]);
    let d = d.unwrap();
    assert!((4.0 * d[0] + 2.0 * d[1] - 2.0).abs() < 1e-15);
    assert!((2.0 * d[0] + 3.0 * d[1] - 1.0).abs() < 1e-15);
}

/// The README's "Higher derivatives" snippet, verbatim.
#[test]
fn the_readmes_higher_derivatives_snippet() {
    use chainrule::{Tape, Var};

    let tape = Tape::new();
    let x = tape.var(2.0);
    let y = x.powi(3); // x³
    let dy = tape.grad(y, &[x])[0]; // 3x² = 12, a Var on the tape
    let d2y = tape.grad(dy, &[x])[0]; // 6x = 12
    assert_eq!(
        (dy.value(), d2y.value(), d2y.backward()[x]),
        (12.0, 12.0, 6.0)
    );

    // The function transforms take a closure (or fn) from &[Var] to Var.
    fn rosenbrock<'t>(v: &[Var<'t>]) -> Var<'t> {
        (1.0 - v[0]).square() + (v[1] - v[0].square()).square() * 100.0
    }
    let h = chainrule::hessian(rosenbrock, &[1.0, 1.0]);
    assert_eq!(h, vec![vec![802.0, -400.0], vec![-400.0, 200.0]]);
}
