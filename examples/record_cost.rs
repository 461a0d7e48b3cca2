//! Recording cost of W1, W2 and W3 with the plain operators, for callgrind:
//! each workload is recorded (and swept) in its own `#[inline(never)]` function,
//! so that `--toggle-collect` counts it alone.
//!
//! ```sh
//! cargo build --release --example record_cost
//! valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='record_cost::w1' target/release/examples/record_cost w1
//! ```
//!
//! Used to show that the replay hook (`Tape::set_keep_constants`, off here)
//! costs ordinary recording nothing measurable, to count the W1 step in its
//! other spellings (`w1f` fused, `w1u` as users write it; `w2f`, `w3f` W2, W3 fused), and to count the
//! instructions of a replayed step (`w1r`, `w2r`) against the hand-coded one
//! (`w1h`, `w2h`).
//! With `--features jit`, `w1n` counts the W1 step replayed as native code
//! (`replay::Native`, compiled before the counted function runs):
//!
//! ```sh
//! cargo build --release --features jit --example record_cost
//! valgrind --tool=callgrind --collect-atstart=no \
//!     --toggle-collect='record_cost::w1n' target/release/examples/record_cost w1n
//! ```

#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use std::hint::black_box;

use chainrule::Tape;
use workloads::{chain, moons, seed, Spelling};

/// 1,000 W1 training steps, plain operators.
#[inline(never)]
fn w1(tape: &mut Tape) {
    let mut w = seed::WEIGHTS;
    for _ in 0..1_000 {
        black_box(seed::step_taped(tape, &mut w, Spelling::Ops));
    }
    black_box(w);
}

/// 1,000 W1 training steps, fused spelling.
#[inline(never)]
fn w1f(tape: &mut Tape) {
    let mut w = seed::WEIGHTS;
    for _ in 0..1_000 {
        black_box(seed::step_taped(tape, &mut w, Spelling::Fused));
    }
    black_box(w);
}

/// 1,000 W1 training steps, plain operators as users write them.
#[inline(never)]
fn w1u(tape: &mut Tape) {
    let mut w = seed::WEIGHTS;
    for _ in 0..1_000 {
        black_box(seed::step_as_users_write_it(tape, &mut w));
    }
    black_box(w);
}

/// 3 W2 epochs in `spelling`.
#[inline(always)]
fn w2_epochs(tape: &mut Tape, spelling: Spelling) {
    let data = moons::data();
    let mut p = moons::initial_parameters();
    let mut grads = Vec::new();
    for _ in 0..3 {
        black_box(moons::epoch_taped(
            tape, &mut p, &data, &mut grads, spelling,
        ));
    }
}

/// 3 W2 epochs, plain operators.
#[inline(never)]
fn w2(tape: &mut Tape) {
    w2_epochs(tape, Spelling::Ops);
}

/// 3 W2 epochs, fused spelling.
#[inline(never)]
fn w2f(tape: &mut Tape) {
    w2_epochs(tape, Spelling::Fused);
}

/// One W3 gradient (100,000 steps), plain operators.
#[inline(never)]
fn w3(tape: &mut Tape) {
    black_box(chain::gradient_taped(tape, 100_000, Spelling::Ops));
}

/// One W3 gradient (100,000 steps), each step one fused neuron.
#[inline(never)]
fn w3f(tape: &mut Tape) {
    black_box(chain::gradient_taped(tape, 100_000, Spelling::Fused));
}

/// 1,000 W1 training steps replayed (plain operators, compiled once).
#[inline(never)]
fn w1r(program: &mut chainrule::replay::Program) {
    let mut w = seed::WEIGHTS;
    for _ in 0..1_000 {
        black_box(seed::step_replayed(program, &mut w));
    }
    black_box(w);
}

/// 3 W2 epochs replayed (plain operators, compiled once).
#[inline(never)]
fn w2r(program: &mut chainrule::replay::Program) {
    let mut p = moons::initial_parameters();
    for _ in 0..3 {
        black_box(moons::epoch_replayed(program, &mut p));
    }
}

/// 1,000 W1 training steps as native code (feature `jit`; plain operators,
/// compiled once, outside this function).
#[cfg(feature = "jit")]
#[inline(never)]
fn w1n(native: &mut chainrule::replay::Native) {
    let mut w = seed::WEIGHTS;
    for _ in 0..1_000 {
        black_box(seed::step_native(native, &mut w));
    }
    black_box(w);
}

/// 1,000 W1 steps by hand.
#[inline(never)]
fn w1h() {
    let mut w = seed::WEIGHTS;
    for _ in 0..1_000 {
        black_box(seed::step_hand(&mut w));
    }
    black_box(w);
}

/// 3 W2 epochs by hand.
#[inline(never)]
fn w2h() {
    let data = moons::data();
    let mut p = moons::initial_parameters();
    let mut grads = Vec::new();
    for _ in 0..3 {
        black_box(moons::epoch_hand(&mut p, &data, &mut grads));
    }
}

/// The plain-operator W1 and W2 recorded once and compiled with the passes
/// named by `passes` (`all`, `none`, or every pass but one: `nofold`, `nodce`,
/// `nodots`, `noneurons`).
fn compiled(workload: &str, passes: &str) -> chainrule::replay::Program {
    use chainrule::replay::CompileOptions;
    let all = CompileOptions::default();
    let options = match passes {
        "all" => all,
        "none" => CompileOptions::none(),
        "nofold" => CompileOptions {
            fold_constants: false,
            ..all
        },
        "nodce" => CompileOptions {
            eliminate_dead_code: false,
            ..all
        },
        "nodots" => CompileOptions {
            fuse_dots: false,
            ..all
        },
        "noneurons" => CompileOptions {
            fuse_neurons: false,
            ..all
        },
        other => {
            eprintln!("unknown passes {other}: all, none, nofold, nodce, nodots, noneurons");
            std::process::exit(2);
        }
    };
    let tape = Tape::for_replay();
    let out = if workload == "w1" {
        let w = tape.var_array(seed::WEIGHTS);
        let b = tape.var_array(seed::BIASES);
        seed::error_ops(&w, b)
    } else {
        let p = tape.vars(&moons::initial_parameters());
        moons::loss_ops(&p, &moons::data())
    };
    let program = tape
        .compile_with(&[out], options)
        .expect("keeps its constants");
    eprintln!("{workload} {passes}: {:?}", program.stats());
    program
}

fn main() {
    let which = std::env::args().nth(1).unwrap_or_else(|| "w1".into());
    let mut tape = Tape::new();
    match which.as_str() {
        "w1" => w1(&mut tape),
        "w1f" => w1f(&mut tape),
        "w1u" => w1u(&mut tape),
        "w2" => w2(&mut tape),
        "w2f" => w2f(&mut tape),
        "w3" => w3(&mut tape),
        "w3f" => w3f(&mut tape),
        "w1r" => w1r(&mut seed::replay_program(Spelling::Ops)),
        "w2r" => w2r(&mut moons::replay_program(&moons::data(), Spelling::Ops)),
        #[cfg(feature = "jit")]
        "w1n" => w1n(&mut seed::replay_program(Spelling::Ops)
            .native()
            .expect("W1 compiles to native code")),
        "w1h" => w1h(),
        pass if pass.starts_with("w1r:") => w1r(&mut compiled("w1", &pass[4..])),
        pass if pass.starts_with("w2r:") => w2r(&mut compiled("w2", &pass[4..])),
        "w2h" => w2h(),
        other => {
            eprintln!("unknown workload {other}: w1, w1f (fused), w1u (as users write it), w2, w2f (fused), w3, w3f (fused) (recorded), w1r, w2r (replayed), w1n (native, feature jit), w1h, w2h (by hand)");
            std::process::exit(2);
        }
    }
}
