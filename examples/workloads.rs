//! The workload runner: W1–W3 of benches/WORKLOADS.md, timed side by side.
//!
//! ```sh
//! cargo run --release --example workloads            # markdown table
//! cargo run --release --example workloads -- --json  # one JSON object on one line
//! cargo run --release --example workloads -- --quick # fewer rounds, for a smoke test
//! ```
//!
//! Each workload's reference result is checked first, for every variant; a variant
//! that misses it stops the run (its timing would not count). Then the variants run
//! interleaved, round after round — engine (fused neurons), engine (plain
//! operators), hand-coded adjoint, primal, and for W1 and W2 the plain-operator
//! recording replayed (recorded once, compiled with `chainrule::replay`) — and each
//! figure is the median of its rounds (`chainrule::bench::interleaved`). Tapes and
//! buffers are reused across runs, as a training loop reuses them.
//!
//! Bytes per recorded operation come from a counting global allocator: the peak of
//! the bytes allocated while one W3 gradient is taken on a fresh tape (the arena
//! with its growth slack, plus the adjoint buffer, on a thread with no spare
//! buffer to reuse), divided by the 3 million
//! operations of the chain.

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use std::hint::black_box;

use chainrule::Tape;
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};
use workloads::{chain, moons, seed, Spelling};

#[global_allocator]
static ALLOCATOR: &PeakMemAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// The variants timed for each workload, in the order of the table (W3 has no
/// replayed variant; only W1 has the last two, the plain operators spelled as
/// users write them: `seed::step_as_users_write_it`, and, built with the `jit`
/// feature, the replayed program as native code: `seed::step_native`; W2's
/// program is past what native code unrolls, `replay::MAX_TERMS`).
const VARIANTS: [&str; 7] = [
    "engine (fused)",
    "engine (ops)",
    "hand-coded",
    "primal",
    "replayed (ops)",
    "engine (ops, as users write it)",
    "replayed, native (ops)",
];

/// W1's variants: the last only with native code.
const W1_VARIANTS: usize = if cfg!(feature = "jit") { 7 } else { 6 };

struct Options {
    json: bool,
    rounds_scale: f64,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = Options {
        json: args.iter().any(|a| a == "--json"),
        rounds_scale: if args.iter().any(|a| a == "--quick") {
            0.05
        } else {
            1.0
        },
    };
    if let Some(unknown) = args
        .iter()
        .find(|a| !["--json", "--quick"].contains(&a.as_str()))
    {
        eprintln!("unknown argument {unknown}; usage: workloads [--json] [--quick]");
        std::process::exit(2);
    }

    check_references();
    let w1 = time_w1(&options);
    let w2 = time_w2(&options);
    let w3 = time_w3(&options);
    let bytes = w3_bytes_per_op();

    if options.json {
        print_json(&w1, &w2, &w3, &bytes);
    } else {
        print_table(&w1, &w2, &w3, &bytes);
    }
}

// ---- Reference checks ------------------------------------------------------------

fn assert_close(actual: f64, expected: f64, what: &str) {
    let ok = actual == expected || (actual - expected).abs() <= 1e-9 * expected.abs();
    if !ok {
        eprintln!("REFERENCE MISSED: {what}: {actual:e}, expected {expected:e} (relative 1e-9)");
        std::process::exit(1);
    }
}

fn check_references() {
    // W1: every variant trains to the reference E after 10,000 steps.
    let mut tape = Tape::new();
    for spelling in [Spelling::Fused, Spelling::Ops] {
        let mut w = seed::WEIGHTS;
        for _ in 0..seed::STEPS {
            seed::step_taped(&mut tape, &mut w, spelling);
        }
        assert_close(seed::error_primal(&w), seed::REFERENCE_E_FINAL, "W1 engine");
    }
    let mut w = seed::WEIGHTS;
    for _ in 0..seed::STEPS {
        seed::step_hand(&mut w);
    }
    assert_close(
        seed::error_primal(&w),
        seed::REFERENCE_E_FINAL,
        "W1 hand-coded",
    );
    let mut w = seed::WEIGHTS;
    for _ in 0..seed::STEPS {
        seed::step_as_users_write_it(&mut tape, &mut w);
    }
    assert_close(
        seed::error_primal(&w),
        seed::REFERENCE_E_FINAL,
        "W1 as users write it",
    );
    let mut program = seed::replay_program(Spelling::Ops);
    let mut w = seed::WEIGHTS;
    for _ in 0..seed::STEPS {
        seed::step_replayed(&mut program, &mut w);
    }
    assert_close(
        seed::error_primal(&w),
        seed::REFERENCE_E_FINAL,
        "W1 replayed",
    );
    #[cfg(feature = "jit")]
    {
        let mut native = seed::replay_program(Spelling::Ops)
            .native()
            .expect("W1's program runs as native code");
        let mut w = seed::WEIGHTS;
        for _ in 0..seed::STEPS {
            seed::step_native(&mut native, &mut w);
        }
        assert_close(
            seed::error_primal(&w),
            seed::REFERENCE_E_FINAL,
            "W1 replayed, native",
        );
    }

    // W2: L at epochs 0 and 99, every variant.
    let data = moons::data();
    let mut grads = Vec::new();
    let mut program = moons::replay_program(&data, Spelling::Ops);
    for variant in 0..4 {
        let mut p = moons::initial_parameters();
        let mut losses = Vec::new();
        for _ in 0..moons::EPOCHS {
            losses.push(match variant {
                0 => moons::epoch_taped(&mut tape, &mut p, &data, &mut grads, Spelling::Fused),
                1 => moons::epoch_taped(&mut tape, &mut p, &data, &mut grads, Spelling::Ops),
                2 => moons::epoch_replayed(&mut program, &mut p),
                _ => moons::epoch_hand(&mut p, &data, &mut grads),
            });
        }
        assert_close(losses[0], moons::REFERENCE_L0, "W2 L0");
        assert_close(losses[99], moons::REFERENCE_L99, "W2 L99");
    }

    // W3: the engine against the hand-coded adjoint.
    let mut xs = Vec::new();
    let (y_hand, g_hand) = chain::gradient_hand(chain::STEPS, &mut xs);
    for spelling in [Spelling::Fused, Spelling::Ops] {
        let (y, g) = chain::gradient_taped(&mut tape, chain::STEPS, spelling);
        assert_close(y, y_hand, "W3 y");
        for k in 0..3 {
            assert_close(g[k], g_hand[k], "W3 gradient");
        }
    }
    if !std::env::args().any(|a| a == "--json") {
        println!("Reference results: W1, W2 and W3 match for every variant.\n");
    }
}

// ---- Timing ----------------------------------------------------------------------

/// Median seconds per unit, per variant (in the order of [`VARIANTS`]).
struct Timing {
    medians: Vec<f64>,
}

impl Timing {
    fn vs_hand(&self, variant: usize) -> f64 {
        self.medians[variant] / self.medians[2]
    }
    fn vs_primal(&self, variant: usize) -> f64 {
        self.medians[variant] / self.medians[3]
    }
}

/// Runs `run(variant)` for `variants` variants and `rounds` rounds, interleaved
/// (the order rotates each round: `chainrule::bench::interleaved`), and returns
/// each variant's median duration divided by `units`.
fn interleaved(variants: usize, rounds: usize, units: f64, run: impl FnMut(usize)) -> Timing {
    let medians = chainrule::bench::interleaved(variants, rounds, run)
        .into_iter()
        .map(|d| d.as_secs_f64() / units)
        .collect();
    Timing { medians }
}

fn rounds(options: &Options, full: usize) -> usize {
    ((full as f64 * options.rounds_scale) as usize).max(3)
}

fn time_w1(options: &Options) -> Timing {
    let mut tape = Tape::new();
    let mut program = seed::replay_program(Spelling::Ops);
    #[cfg(feature = "jit")]
    let mut native = program.native().expect("W1's program runs as native code");
    interleaved(
        W1_VARIANTS,
        rounds(options, 400),
        seed::STEPS as f64,
        |variant| {
            let mut w = seed::WEIGHTS;
            for _ in 0..seed::STEPS {
                match variant {
                    0 => black_box(seed::step_taped(&mut tape, &mut w, Spelling::Fused)),
                    1 => black_box(seed::step_taped(&mut tape, &mut w, Spelling::Ops)),
                    2 => black_box(seed::step_hand(&mut w)),
                    3 => black_box(seed::error_primal(black_box(&w))),
                    4 => black_box(seed::step_replayed(&mut program, &mut w)),
                    #[cfg(feature = "jit")]
                    6 => black_box(seed::step_native(&mut native, &mut w)),
                    _ => black_box(seed::step_as_users_write_it(&mut tape, &mut w)),
                };
            }
            black_box(w);
        },
    )
}

fn time_w2(options: &Options) -> Timing {
    let data = moons::data();
    let mut tape = Tape::new();
    let mut grads = Vec::new();
    let mut program = moons::replay_program(&data, Spelling::Ops);
    interleaved(5, rounds(options, 200), moons::EPOCHS as f64, |variant| {
        let mut p = moons::initial_parameters();
        for _ in 0..moons::EPOCHS {
            match variant {
                0 => black_box(moons::epoch_taped(
                    &mut tape,
                    &mut p,
                    &data,
                    &mut grads,
                    Spelling::Fused,
                )),
                1 => black_box(moons::epoch_taped(
                    &mut tape,
                    &mut p,
                    &data,
                    &mut grads,
                    Spelling::Ops,
                )),
                2 => black_box(moons::epoch_hand(&mut p, &data, &mut grads)),
                3 => black_box(moons::loss_ops(black_box(&p), &data)),
                _ => black_box(moons::epoch_replayed(&mut program, &mut p)),
            };
        }
        black_box(p);
    })
}

fn time_w3(options: &Options) -> Timing {
    let mut tape = Tape::new();
    let mut xs = Vec::new();
    let ops = (chain::STEPS * chain::OPS_PER_STEP) as f64;
    interleaved(4, rounds(options, 150), ops, |variant| {
        match variant {
            0 => black_box(chain::gradient_taped(
                &mut tape,
                chain::STEPS,
                Spelling::Fused,
            )),
            1 => black_box(chain::gradient_taped(
                &mut tape,
                chain::STEPS,
                Spelling::Ops,
            )),
            2 => black_box(chain::gradient_hand(chain::STEPS, &mut xs)),
            _ => {
                let [x0, w, b] = black_box(chain::LEAVES);
                black_box((chain::run_ops(x0, w, b, chain::STEPS), [0.0; 3]))
            }
        };
    })
}

// ---- Memory ----------------------------------------------------------------------

/// Peak bytes allocated per recorded op while one W3 gradient is taken on a fresh
/// tape, for the fused and the plain-operator spellings.
struct Bytes {
    fused: f64,
    ops: f64,
}

fn w3_bytes_per_op() -> Bytes {
    let ops = (chain::STEPS * chain::OPS_PER_STEP) as f64;
    // On a thread of its own: the timing runs leave a spare adjoint buffer on this
    // thread, which the sweep would reuse, and the adjoints are part of the cost.
    let measure = |spelling| {
        std::thread::spawn(move || {
            ALLOCATOR.reset_peak_memory();
            let mut tape = Tape::new();
            black_box(chain::gradient_taped(&mut tape, chain::STEPS, spelling));
            let peak = ALLOCATOR.get_peak_memory();
            drop(tape);
            peak as f64 / ops
        })
        .join()
        .expect("the W3 memory measurement ran")
    };
    Bytes {
        fused: measure(Spelling::Fused),
        ops: measure(Spelling::Ops),
    }
}

// ---- Reports ---------------------------------------------------------------------

fn print_table(w1: &Timing, w2: &Timing, w3: &Timing, bytes: &Bytes) {
    println!("| workload | variant | time | vs hand-coded | vs primal | bytes/op |");
    println!("|---|---|---|---|---|---|");
    let rows: [(&str, &Timing, f64, &str); 3] = [
        ("W1 seed net", w1, 1e9, "ns/step"),
        ("W2 moons MLP", w2, 1e3, "ms/epoch"),
        ("W3 1M chain", w3, 1e9, "ns/op"),
    ];
    // Plain operators first: what people write.
    const ORDER: [usize; 7] = [1, 5, 4, 6, 0, 2, 3];
    for (name, timing, scale, unit) in rows {
        let variants = ORDER.iter().filter(|&&v| v < timing.medians.len());
        for (variant, label) in variants.map(|&v| (v, VARIANTS[v])) {
            let bytes = match (name, variant) {
                ("W3 1M chain", 0) => format!("{:.1}", bytes.fused),
                ("W3 1M chain", 1) => format!("{:.1}", bytes.ops),
                _ => String::new(),
            };
            println!(
                "| {name} | {label} | {:.3} {unit} | {:.2}x | {:.2}x | {bytes} |",
                timing.medians[variant] * scale,
                timing.vs_hand(variant),
                timing.vs_primal(variant),
            );
        }
    }
    println!(
        "\nMedians of interleaved rounds, one run. Engine (fused): each neuron (W3: each \
         step, sigmoid(w·x + b)) and the loss are one node each; engine (ops): plain \
         operators only; replayed (ops): the plain-operator recording made once, \
         compiled (chainrule::replay), then run forward and backward each step; replayed, \
         native: that program as native code (chainrule::replay::Native, feature `jit`); \
         as users write it: W1 with the weights made one `tape.var` at a time, f64 constants, \
         `0.5 * (t - o).powi(2)` and `g.wrt(v[k])`."
    );
}

fn print_json(w1: &Timing, w2: &Timing, w3: &Timing, bytes: &Bytes) {
    let fields = [
        ("w1_ns_per_step", w1.medians[0] * 1e9),
        ("w1_vs_hand", w1.vs_hand(0)),
        ("w1_vs_primal", w1.vs_primal(0)),
        ("w2_ms_per_epoch", w2.medians[0] * 1e3),
        ("w2_vs_hand", w2.vs_hand(0)),
        ("w2_vs_primal", w2.vs_primal(0)),
        ("w3_ns_per_op", w3.medians[0] * 1e9),
        ("w3_vs_hand", w3.vs_hand(0)),
        ("w3_vs_primal", w3.vs_primal(0)),
        ("w3_bytes_per_op", bytes.fused),
        ("w1_ops_ns_per_step", w1.medians[1] * 1e9),
        ("w1_ops_vs_hand", w1.vs_hand(1)),
        ("w2_ops_ms_per_epoch", w2.medians[1] * 1e3),
        ("w2_ops_vs_hand", w2.vs_hand(1)),
        ("w3_ops_ns_per_op", w3.medians[1] * 1e9),
        ("w3_ops_vs_hand", w3.vs_hand(1)),
        ("w3_ops_bytes_per_op", bytes.ops),
        ("w1_hand_ns_per_step", w1.medians[2] * 1e9),
        ("w2_hand_ms_per_epoch", w2.medians[2] * 1e3),
        ("w3_hand_ns_per_op", w3.medians[2] * 1e9),
        ("w1_primal_ns_per_step", w1.medians[3] * 1e9),
        ("w2_primal_ms_per_epoch", w2.medians[3] * 1e3),
        ("w3_primal_ns_per_op", w3.medians[3] * 1e9),
        ("w1_replay_ns_per_step", w1.medians[4] * 1e9),
        ("w1_replay_vs_hand", w1.vs_hand(4)),
        ("w1_replay_vs_primal", w1.vs_primal(4)),
        ("w2_replay_ms_per_epoch", w2.medians[4] * 1e3),
        ("w2_replay_vs_hand", w2.vs_hand(4)),
        ("w2_replay_vs_primal", w2.vs_primal(4)),
        ("w1_user_ns_per_step", w1.medians[5] * 1e9),
        ("w1_user_vs_hand", w1.vs_hand(5)),
    ];
    let mut fields = fields.to_vec();
    if w1.medians.len() > 6 {
        fields.push(("w1_native_ns_per_step", w1.medians[6] * 1e9));
        fields.push(("w1_native_vs_hand", w1.vs_hand(6)));
        fields.push(("w1_native_vs_primal", w1.vs_primal(6)));
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v:.6}"))
        .collect();
    println!("{{{}}}", body.join(","));
}
