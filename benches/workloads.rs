//! W1–W3 of benches/WORKLOADS.md, each as the taped engine (fused nodes and plain
//! operators), the hand-coded adjoint and the primal, in one criterion group per
//! workload so the figures stand side by side.
//!
//! `cargo bench --bench workloads`. For the ratio table, run the workload runner:
//! `cargo run --release --example workloads`.

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use std::hint::black_box;
use std::time::Duration;

use chainrule::Tape;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use workloads::{chain, moons, seed, Spelling};

/// W1: one training step (forward, backward, update); the tape is reused.
fn w1_seed(c: &mut Criterion) {
    let mut group = c.benchmark_group("W1 seed step");
    group.throughput(Throughput::Elements(1));
    let mut tape = Tape::new();
    for (name, spelling) in [
        ("engine fused", Spelling::Fused),
        ("engine ops", Spelling::Ops),
    ] {
        group.bench_function(name, |b| {
            let mut w = seed::WEIGHTS;
            b.iter(|| seed::step_taped(&mut tape, black_box(&mut w), spelling));
        });
    }
    group.bench_function("engine ops, as users write it", |b| {
        let mut w = seed::WEIGHTS;
        b.iter(|| seed::step_as_users_write_it(&mut tape, black_box(&mut w)));
    });
    group.bench_function("hand-coded", |b| {
        let mut w = seed::WEIGHTS;
        b.iter(|| seed::step_hand(black_box(&mut w)));
    });
    group.bench_function("primal", |b| {
        let w = seed::WEIGHTS;
        b.iter(|| seed::error_primal(black_box(&w)));
    });
    group.finish();
}

/// W2: one epoch over the 100 points (forward, backward, update).
fn w2_moons(c: &mut Criterion) {
    let mut group = c.benchmark_group("W2 moons epoch");
    group.throughput(Throughput::Elements(1));
    let data = moons::data();
    let mut tape = Tape::new();
    let mut grads = Vec::new();
    for (name, spelling) in [
        ("engine fused", Spelling::Fused),
        ("engine ops", Spelling::Ops),
    ] {
        group.bench_function(name, |b| {
            let mut p = moons::initial_parameters();
            b.iter(|| {
                moons::epoch_taped(&mut tape, black_box(&mut p), &data, &mut grads, spelling)
            });
        });
    }
    group.bench_function("hand-coded", |b| {
        let mut p = moons::initial_parameters();
        b.iter(|| moons::epoch_hand(black_box(&mut p), &data, &mut grads));
    });
    group.bench_function("primal", |b| {
        let p = moons::initial_parameters();
        b.iter(|| moons::loss_ops(black_box(&p), &data));
    });
    group.finish();
}

/// W3: the gradient of the million-step chain (3 million recorded operations).
fn w3_chain(c: &mut Criterion) {
    let mut group = c.benchmark_group("W3 chain gradient");
    group.throughput(Throughput::Elements(
        (chain::STEPS * chain::OPS_PER_STEP) as u64,
    ));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(5));
    let mut tape = Tape::new();
    for (name, spelling) in [
        ("engine fused", Spelling::Fused),
        ("engine ops", Spelling::Ops),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| chain::gradient_taped(&mut tape, black_box(chain::STEPS), spelling));
        });
    }
    let mut xs = Vec::new();
    group.bench_function("hand-coded", |b| {
        b.iter(|| chain::gradient_hand(black_box(chain::STEPS), &mut xs));
    });
    group.bench_function("primal", |b| {
        let [x0, w, bias] = chain::LEAVES;
        b.iter(|| chain::run_ops(black_box(x0), w, bias, black_box(chain::STEPS)));
    });
    group.finish();
}

criterion_group!(benches, w1_seed, w2_moons, w3_chain);
criterion_main!(benches);
