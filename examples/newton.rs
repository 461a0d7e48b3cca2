//! Newton's method, with every derivative taken by the tape.
//!
//! Gradient descent steps along −∇f and has to guess how far. Newton's method
//! also uses the curvature: at the point x it fits the quadratic model
//!
//! ```text
//! f(x + d) ≈ f(x) + ∇f(x)·d + ½ dᵀ H(x) d        (H the Hessian, ∂²f/∂xⱼ∂xₖ)
//! ```
//!
//! and jumps to the model's minimum, where its gradient ∇f + H d is 0: solve
//! `H d = −∇f`. On a quadratic the model is exact, so one step lands on the
//! minimum (part 1). Near a minimum of a smooth function where the Hessian is
//! positive definite (not x⁴ at 0, where H = 0 and each step only takes a
//! third off the distance), each distance to it is at most a constant times
//! the square of the one before (quadratic
//! convergence, part 2, the last steps): once that is small, the number of
//! correct digits about doubles at each step. Far from it the model can mislead, so the method is safeguarded:
//!
//! - if H is not positive definite the model has no minimum (it is a saddle or a
//!   dome): add λ·I to H (Levenberg damping), raising λ until it is;
//! - the step is halved until f decreases by a fair share of what the model
//!   promised (backtracking with Armijo's condition).
//!
//! Part 2 minimises Rosenbrock's banana f(x, y) = (1 − x)² + 100·(y − x²)² from
//! the classic start (−1.2, 1): the minimum is f(1, 1) = 0, at the end of a
//! long curved valley.
//!
//! The derivatives: [`chainrule::value_and_grad`] (one reverse sweep) and
//! [`chainrule::hessian`] (reverse over reverse: the gradient is recorded on the
//! tape as nodes, then each of its entries is swept once more).
//!
//! Run: `cargo run --release --example newton`
//!
//! `tests/newton.rs` includes this file as a module and checks that
//! [`minimise`] reaches (1, 1) to 1e-10.

use chainrule::Var;

/// Rosenbrock's function, written once for the tape. Inputs are `Var`s, so
/// the same code gives the value, the gradient and the Hessian.
pub fn rosenbrock<'t>(v: &[Var<'t>]) -> Var<'t> {
    let (x, y) = (v[0], v[1]);
    (1.0 - x).square() + (y - x.square()).square() * 100.0
}

/// A convex quadratic bowl: f = x² + x·y + 3y² − x − 2y. Its minimum solves
/// ∇f = (2x + y − 1, x + 6y − 2) = 0: (x, y) = (4/11, 3/11).
pub fn bowl<'t>(v: &[Var<'t>]) -> Var<'t> {
    let (x, y) = (v[0], v[1]);
    x.square() + x * y + y.square() * 3.0 - x - y * 2.0
}

/// What one iteration saw and did.
#[derive(Clone, Debug)]
pub struct Step {
    /// The point, and f, ∇f and H there.
    pub x: Vec<f64>,
    pub f: f64,
    pub gradient: Vec<f64>,
    pub hessian: Vec<Vec<f64>>,
    /// The damping λ added to H's diagonal (0: a pure Newton direction).
    pub damping: f64,
    /// The fraction t of the Newton step taken (1: the whole step).
    pub step_size: f64,
}

/// f at `x`, recorded on a fresh tape (the line search needs values only).
fn value(f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>, x: &[f64]) -> f64 {
    let tape = chainrule::Tape::new();
    f(&tape.vars(x)).value()
}

/// Solves A·d = b for a symmetric A by Cholesky (A = L·Lᵀ): `None` if A is not
/// positive definite, which is exactly when the quadratic model has no unique
/// minimum (none, or, for a singular A ⪰ 0 such as [[1, 0], [0, 0]] with b in
/// its range, a line of them).
#[allow(clippy::needless_range_loop)] // indices read as the textbook's
pub fn solve_positive_definite(a: &[Vec<f64>], b: &[f64]) -> Option<Vec<f64>> {
    let n = b.len();
    let mut l = vec![vec![0.0; n]; n];
    for i in 0..n {
        for j in 0..=i {
            let s = a[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>();
            if i == j {
                if s <= 0.0 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    // L·z = b, then Lᵀ·d = z.
    let mut z = vec![0.0; n];
    for i in 0..n {
        z[i] = (b[i] - (0..i).map(|k| l[i][k] * z[k]).sum::<f64>()) / l[i][i];
    }
    let mut d = vec![0.0; n];
    for i in (0..n).rev() {
        d[i] = (z[i] - (i + 1..n).map(|k| l[k][i] * d[k]).sum::<f64>()) / l[i][i];
    }
    Some(d)
}

/// Newton's method from `start` until every entry of ∇f is at most `tolerance`
/// (or `max_steps` steps). Returns every iterate, the last one included (its
/// `damping` and `step_size` are 0: no step was taken from it).
pub fn minimise(
    f: impl for<'t> Fn(&[Var<'t>]) -> Var<'t>,
    start: &[f64],
    tolerance: f64,
    max_steps: usize,
) -> Vec<Step> {
    let mut x = start.to_vec();
    let mut steps = Vec::new();
    loop {
        // 1. The derivatives at x: one sweep for ∇f, reverse over reverse for H.
        let (fx, gradient) = chainrule::value_and_grad(&f, &x);
        let hessian = chainrule::hessian(&f, &x);
        let mut step = Step {
            x: x.clone(),
            f: fx,
            gradient: gradient.clone(),
            hessian: hessian.clone(),
            damping: 0.0,
            step_size: 0.0,
        };
        let converged = gradient.iter().all(|g| g.abs() <= tolerance);
        if converged || steps.len() == max_steps {
            steps.push(step);
            return steps;
        }

        // 2. The Newton direction: solve (H + λI)·d = −∇f, with λ = 0 if H is
        //    positive definite, else the smallest of 1e-3, 1e-2, … that makes it so.
        let minus_gradient: Vec<f64> = gradient.iter().map(|g| -g).collect();
        let mut damping = 0.0;
        let direction = loop {
            let mut damped = hessian.clone();
            for (k, row) in damped.iter_mut().enumerate() {
                row[k] += damping;
            }
            if let Some(d) = solve_positive_definite(&damped, &minus_gradient) {
                break d;
            }
            damping = if damping == 0.0 { 1e-3 } else { damping * 10.0 };
        };

        // 3. How far: the whole step (t = 1) if f decreases by at least 1e-4 of
        //    what the slope ∇f·d promises, else halve t. H + λI positive
        //    definite makes ∇f·d < 0, so a small enough t always works.
        let slope: f64 = gradient.iter().zip(&direction).map(|(g, d)| g * d).sum();
        let mut t = 1.0;
        let mut trial: Vec<f64>;
        loop {
            trial = x.iter().zip(&direction).map(|(x, d)| x + t * d).collect();
            if value(&f, &trial) <= fx + 1e-4 * t * slope || t < 1e-12 {
                break;
            }
            t /= 2.0;
        }

        step.damping = damping;
        step.step_size = t;
        steps.push(step);
        x = trial;
    }
}

/// Prints one iteration: x, f, ∇f, H, and the step taken from it.
fn print_step(k: usize, s: &Step) {
    let list = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:>+13.6e}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("step {k:>2}  x = ({})   f = {:.6e}", list(&s.x), s.f);
    println!("         ∇f = ({})", list(&s.gradient));
    for (r, row) in s.hessian.iter().enumerate() {
        let lead = if r == 0 { "H = " } else { "    " };
        println!("         {lead}[{}]", list(row));
    }
    if s.step_size > 0.0 {
        println!(
            "         λ = {:<8} t = {}",
            if s.damping == 0.0 {
                "0".to_string()
            } else {
                format!("{:e}", s.damping)
            },
            s.step_size
        );
    }
}

fn main() {
    println!("Part 1. A quadratic bowl, f = x² + x·y + 3y² − x − 2y, from (3, −2).");
    println!("The quadratic model of a quadratic is exact: one step lands on the minimum.\n");
    let steps = minimise(bowl, &[3.0, -2.0], 1e-12, 10);
    for (k, s) in steps.iter().enumerate() {
        print_step(k, s);
    }
    println!(
        "\nThe minimum is (4/11, 3/11) = ({:.15}, {:.15}).\n",
        4.0 / 11.0,
        3.0 / 11.0
    );

    println!("Part 2. Rosenbrock, f = (1 − x)² + 100·(y − x²)², from (−1.2, 1).");
    println!("t < 1: the whole step did not decrease f enough and was cut;");
    println!("λ > 0 would say that H was not positive definite and was damped.\n");
    let steps = minimise(rosenbrock, &[-1.2, 1.0], 1e-12, 100);
    for (k, s) in steps.iter().enumerate() {
        print_step(k, s);
    }
    let cut = steps
        .iter()
        .filter(|s| 0.0 < s.step_size && s.step_size < 1.0);
    let damped = steps.iter().filter(|s| s.damping > 0.0);
    println!(
        "\n{} steps were cut, {} damped: on this path H stays positive definite.",
        cut.count(),
        damped.count()
    );
    let last = steps.last().expect("at least the start");
    println!(
        "\n{} Newton steps to ({}, {}), where f = {:e}.",
        steps.len() - 1,
        last.x[0],
        last.x[1],
        last.f
    );
    println!("The distance to (1, 1) over the last steps, its correct digits, and its");
    println!("ratio to the square of the one before: quadratic convergence keeps that");
    println!("ratio bounded (between 2 and 20 here), so once the distance is small the");
    println!("digits about double from one step to the next.");
    let mut before: Option<f64> = None;
    for s in steps.iter().rev().take(6).rev() {
        let error = (s.x[0] - 1.0).abs().max((s.x[1] - 1.0).abs());
        let digits = -error.log10();
        match before {
            Some(e) if error > 0.0 => println!(
                "  |x − (1, 1)| = {error:.3e}   digits {digits:4.1}   ratio to the square before {:.1}",
                error / (e * e)
            ),
            _ => println!("  |x − (1, 1)| = {error:.3e}   digits {digits:4.1}"),
        }
        before = Some(error);
    }

    println!("\nPart 3. Rosenbrock from (0, 1), where H = [[−398, 0], [0, 200]] is a saddle:");
    println!("the pure Newton step would head for the saddle's centre, uphill in x.");
    let steps = minimise(rosenbrock, &[0.0, 1.0], 1e-12, 100);
    print_step(0, &steps[0]);
    let last = steps.last().expect("at least the start");
    println!(
        "λ = {} made H + λI positive definite; {} steps in all to ({}, {}).",
        steps[0].damping,
        steps.len() - 1,
        last.x[0],
        last.x[1]
    );
}
