//! Trains the seed network (the 2-2-2 sigmoid net of the classic step-by-step
//! backpropagation example) for 10,000 steps and prints its error along the way.
//!
//! Run: `cargo run --release --example seed`

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::Tape;
use workloads::{seed, Spelling};

fn main() {
    let mut tape = Tape::new();
    let mut w = seed::WEIGHTS;
    for step in 0..seed::STEPS {
        let e = seed::step_taped(&mut tape, &mut w, Spelling::Ops);
        if step.is_power_of_two() || step == 0 {
            println!("step {step:>5}: E = {e:.12}");
        }
    }
    let e = seed::error_primal(&w);
    println!(
        "after {} steps: E = {e:.12e} (reference {:.12e})",
        seed::STEPS,
        seed::REFERENCE_E_FINAL
    );
    println!("weights: {w:.8?}");
}
