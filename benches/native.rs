//! What compiling a replay program to native code costs (feature `jit`): one
//! wide tanh neuron over n inputs, for n from 1,000 to 8,000. The time should
//! grow linearly with n: its 2n adjoints once stayed in registers to the end
//! of the backward pass, and cranelift's register allocator took quadratic
//! time on them (8,000 inputs: 12 s; now about 0.5 s in a release build).
//! This was a timed assertion in `tests/native.rs`; speed is measured here.
//!
//! `cargo bench --features jit --bench native`

use std::hint::black_box;

use chainrule::{Activation, Tape, Var};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

/// A program of one tanh neuron over `n` inputs, compiled for replay.
fn wide_neuron(n: usize) -> chainrule::replay::Program {
    let tape = Tape::for_replay();
    let v = tape.vars(
        &(0..2 * n + 1)
            .map(|k| ((k * 7919 % 1000) as f64 - 500.0) * 1e-3)
            .collect::<Vec<_>>(),
    );
    let y = Var::neuron(&v[..n], &v[n..2 * n], v[2 * n], Activation::Tanh);
    tape.compile(&[y]).expect("a tape for replay")
}

fn compile_wide_neuron(c: &mut Criterion) {
    let mut group = c.benchmark_group("native_compile_wide_tanh_neuron");
    group.sample_size(10);
    for n in [1_000, 2_000, 4_000, 8_000] {
        let program = wide_neuron(n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &program, |b, program| {
            b.iter(|| black_box(program.native().expect("under MAX_TERMS")));
        });
    }
    group.finish();
}

criterion_group!(benches, compile_wide_neuron);
criterion_main!(benches);
