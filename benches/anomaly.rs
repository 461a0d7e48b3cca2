//! What the recording-time anomaly check costs: recording a W3-style chain
//! (x = sigmoid(w·x + b), 10,000 steps, 30,003 nodes) with the check off and on,
//! against the same loop on plain f64 and on a tape never configured.
//!
//! Run: `cargo bench --bench anomaly`

use std::hint::black_box;
use std::time::Duration;

use chainrule::{Scalar, Tape};
use criterion::{criterion_group, criterion_main, Criterion};

const STEPS: usize = 10_000;

/// The chain on any `Scalar`: plain f64 or recorded Vars.
fn chain<T: Scalar>(x0: T, w: T, b: T) -> T {
    let mut x = x0;
    for _ in 0..STEPS {
        x = (w * x + b).sigmoid();
    }
    x
}

fn record(tape: &mut Tape) -> f64 {
    tape.clear();
    let x0 = tape.var(0.5);
    let w = tape.var(0.9);
    let b = tape.var(0.1);
    chain(x0, w, b).value()
}

fn anomaly_detection(c: &mut Criterion) {
    let mut group = c.benchmark_group("record_chain_10k_steps");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));

    group.bench_function("baseline_primal_f64", |bench| {
        bench.iter(|| chain(black_box(0.5), black_box(0.9), black_box(0.1)))
    });

    let mut plain = Tape::with_capacity(3 * STEPS + 3);
    group.bench_function("baseline_tape_never_configured", |bench| {
        bench.iter(|| record(black_box(&mut plain)))
    });

    let mut off = Tape::with_capacity(3 * STEPS + 3);
    off.set_anomaly_detection(true);
    off.set_anomaly_detection(false);
    group.bench_function("detection_off", |bench| {
        bench.iter(|| record(black_box(&mut off)))
    });

    let mut on = Tape::with_capacity(3 * STEPS + 3);
    on.set_anomaly_detection(true);
    group.bench_function("detection_on", |bench| {
        bench.iter(|| record(black_box(&mut on)))
    });
    assert!(on.recorded_anomaly().is_none(), "the chain is finite");
    group.finish();
}

criterion_group!(benches, anomaly_detection);
criterion_main!(benches);
