//! What an explanation costs against the sweep it explains, on a 3,000,000-node
//! chain (x ← σ(0.9·x + 0.1), a million steps of three nodes each): the sweep,
//! `explain` with the default options (the readable nodes near x shown, the rest
//! folded), and `explain` raw (every one of the 3,000,000 factors listed).
//!
//! Memory is measured with a counting allocator: the peak of what an explanation
//! allocates beyond what was allocated when it started, against the tape's own
//! arrays (`Tape::memory_bytes`). The figures are printed before the timings.
//!
//! Run: `cargo bench --bench explain`

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use chainrule::explain::ExplainOptions;
use chainrule::Tape;
use criterion::{criterion_group, criterion_main, Criterion};
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &PeakMemAlloc<System> = &INSTRUMENTED_SYSTEM;

const STEPS: usize = 1_000_000;

fn megabytes(bytes: usize) -> f64 {
    bytes as f64 / 1e6
}

/// The peak bytes `f` allocates beyond what was live when it started.
fn peak_of<R>(f: impl FnOnce() -> R) -> (R, usize) {
    GLOBAL.reset_peak_memory();
    let result = f();
    (result, GLOBAL.get_peak_memory())
}

fn explain_chain(c: &mut Criterion) {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let mut a = x;
    for _ in 0..STEPS {
        a = (a * 0.9 + 0.1).sigmoid();
    }
    let y = a.named("y");
    let g = y.backward();
    let tape_bytes = tape.memory_bytes();
    let (default, default_peak) = peak_of(|| g.explain(x));
    let (raw, raw_peak) = peak_of(|| g.explain_with(x, ExplainOptions::default().raw()));
    eprintln!(
        "{} nodes; tape arrays {:.1} MB\n\
         explain (default): {} factors, peak {:.1} MB = {:.2}× the tape\n\
         explain (raw):     {} factors, peak {:.1} MB = {:.2}× the tape",
        tape.len(),
        megabytes(tape_bytes),
        default.paths()[0].factors.len(),
        megabytes(default_peak),
        default_peak as f64 / tape_bytes as f64,
        raw.paths()[0].factors.len(),
        megabytes(raw_peak),
        raw_peak as f64 / tape_bytes as f64,
    );
    drop((default, raw));

    let mut group = c.benchmark_group("explain_chain_3M_nodes");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(6));
    group.bench_function("sweep", |bench| bench.iter(|| black_box(y.backward())));
    group.bench_function("explain_default", |bench| {
        bench.iter(|| black_box(g.explain(black_box(x))))
    });
    group.bench_function("explain_raw", |bench| {
        bench.iter(|| black_box(g.explain_with(black_box(x), ExplainOptions::default().raw())))
    });
    group.finish();
}

criterion_group!(benches, explain_chain);
criterion_main!(benches);
