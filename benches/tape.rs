//! What the tape itself costs: recording one add, mul or sigmoid; the backward
//! sweep per node; clearing and reusing a tape against making a new one; and the
//! fast sweep against the petgraph textbook sweep.
//!
//! `cargo bench --bench tape`

use std::hint::black_box;

use chainrule::graph::textbook_backward;
use chainrule::{Tape, Var};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Nodes recorded per measured iteration.
const OPS: usize = 1_000;

/// A chain of `OPS` nodes made by `op` on a cleared, reused tape.
#[inline(always)]
fn record_chain(tape: &mut Tape, op: impl for<'t> Fn(Var<'t>, Var<'t>) -> Var<'t>) -> f64 {
    tape.clear();
    let a = tape.var(0.5);
    let mut x = tape.var(0.25);
    for _ in 0..OPS {
        x = op(x, a);
    }
    x.value()
}

fn record(c: &mut Criterion) {
    let mut group = c.benchmark_group("record one op");
    group.throughput(Throughput::Elements(OPS as u64));
    let mut tape = Tape::new();
    group.bench_function("add", |b| b.iter(|| record_chain(&mut tape, |x, a| x + a)));
    group.bench_function("mul", |b| b.iter(|| record_chain(&mut tape, |x, a| x * a)));
    group.bench_function("sigmoid", |b| {
        b.iter(|| record_chain(&mut tape, |x, _| x.sigmoid()))
    });
    group.bench_function("primal sigmoid (no tape)", |b| {
        b.iter(|| {
            let mut x = black_box(0.25_f64);
            for _ in 0..OPS {
                x = chainrule::Scalar::sigmoid(x);
            }
            x
        })
    });
    group.finish();
}

fn backward(c: &mut Criterion) {
    let mut group = c.benchmark_group("backward");
    group.throughput(Throughput::Elements(OPS as u64 + 2));
    let tape = Tape::new();
    let a = tape.var(0.5);
    let mut x = tape.var(0.25);
    for _ in 0..OPS {
        x *= a;
    }
    group.bench_function("sweep per node (binary chain)", |b| {
        b.iter(|| black_box(x).backward().wrt(a))
    });
    let graph = tape.graph();
    group.bench_function("textbook sweep (petgraph toposort)", |b| {
        b.iter(|| textbook_backward(black_box(&graph), x.index())[a.index()])
    });
    group.bench_function("build the petgraph view", |b| {
        b.iter(|| tape.graph().node_count())
    });
    group.finish();
}

fn reuse(c: &mut Criterion) {
    let mut group = c.benchmark_group("record 1000 ops and sweep");
    group.throughput(Throughput::Elements(OPS as u64));
    let mut tape = Tape::new();
    let step = |tape: &Tape| {
        let a = tape.var(0.5);
        let mut x = tape.var(0.25);
        for _ in 0..OPS {
            x = (x * a).sigmoid();
        }
        x.backward().wrt(a)
    };
    group.bench_function("clear and reuse", |b| {
        b.iter(|| {
            tape.clear();
            step(&tape)
        })
    });
    group.bench_function("new tape each time", |b| {
        b.iter_batched(|| (), |()| step(&Tape::new()), BatchSize::SmallInput)
    });
    group.finish();
}

criterion_group!(benches, record, backward, reuse);
criterion_main!(benches);
