//! Benchmark your own function with `chainrule::bench`: the extended Rosenbrock
//! function of 16 variables (a classic test of optimisers, not one of this
//! crate's workloads), taped, replayed and hand-coded, side by side.
//!
//! ```sh
//! cargo run --release --example bench_your_function            # table
//! cargo run --release --example bench_your_function -- --json  # one JSON line
//! ```

use chainrule::bench::{Bench, Function};
use chainrule::Scalar;

/// f(x) = Σᵢ 100·(xᵢ₊₁ − xᵢ²)² + (1 − xᵢ)², written once for `f64` and `Var`.
struct Rosenbrock;

impl Function for Rosenbrock {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        // (1 − xᵢ written −xᵢ + 1: generic code has `T + f64`, not `f64 − T`.)
        let term = |i: usize| (x[i + 1] - x[i] * x[i]).square() * 100.0 + (-x[i] + 1.0).square();
        let mut sum = term(0);
        for i in 1..x.len() - 1 {
            sum += term(i);
        }
        sum
    }
}

/// The gradient derived on paper: ∂f/∂xᵢ = −400·xᵢ·(xᵢ₊₁ − xᵢ²) − 2·(1 − xᵢ) from
/// term i, plus 200·(xᵢ − xᵢ₋₁²) from term i − 1.
fn rosenbrock_gradient(x: &[f64], g: &mut [f64]) -> f64 {
    g.fill(0.0);
    let mut sum = 0.0;
    for i in 0..x.len() - 1 {
        let r = x[i + 1] - x[i] * x[i];
        let s = 1.0 - x[i];
        let term = r * r * 100.0 + s * s;
        sum = if i == 0 { term } else { sum + term };
        g[i] += -400.0 * x[i] * r - 2.0 * s;
        g[i + 1] += 200.0 * r;
    }
    sum
}

fn main() {
    let x: Vec<f64> = (0..16)
        .map(|i| if i % 2 == 0 { -1.2 } else { 1.0 })
        .collect();
    let report = Bench::new("rosenbrock (16 variables)", &Rosenbrock, &x)
        .hand(&rosenbrock_gradient)
        .run()
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            std::process::exit(1);
        });
    if std::env::args().any(|a| a == "--json") {
        println!("{}", report.to_json());
    } else {
        println!("{report}");
    }
}
