//! What the tape itself costs: recording one add, mul or sigmoid; the backward
//! sweep per node; clearing and reusing a tape against making a new one; the
//! fast sweep against the petgraph textbook sweep; and a 16 × 16 tanh layer
//! recorded and swept neuron by neuron, as one `Var::layer`, and with its
//! neurons' edges copied (inputs that are not consecutive nodes).
//!
//! `cargo bench --bench tape`

use std::hint::black_box;

use chainrule::graph::textbook_backward;
use chainrule::{Activation, Tape, Var};
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

/// Width of the layer benchmarked.
const WIDTH: usize = 16;

/// Records a `WIDTH` × `WIDTH` tanh layer over `inputs` (a permutation of the
/// input leaves: the identity keeps them consecutive) and sweeps from its sum.
fn layer_step(tape: &mut Tape, params: &[f64], order: &[usize], by_neuron: bool) -> f64 {
    tape.clear();
    let x = tape.vars(&[0.25; WIDTH]);
    let inputs: Vec<Var> = order.iter().map(|&i| x[i]).collect();
    let p = tape.vars(params);
    let mut h = [x[0]; WIDTH];
    if by_neuron {
        for (h, wb) in h.iter_mut().zip(p.chunks_exact(WIDTH + 1)) {
            *h = Var::neuron(&wb[..WIDTH], &inputs, wb[WIDTH], Activation::Tanh);
        }
    } else {
        Var::layer(&p, &inputs, Activation::Tanh, &mut h);
    }
    let y: Var = h.iter().sum();
    y.backward().wrt(x[0])
}

fn layer(c: &mut Criterion) {
    let mut group = c.benchmark_group("record and sweep a 16 x 16 tanh layer");
    group.throughput(Throughput::Elements((WIDTH * (2 * WIDTH + 1)) as u64));
    let params: Vec<f64> = (0..WIDTH * (WIDTH + 1))
        .map(|i| ((i * 37 % 101) as f64 / 101.0 - 0.5) * 0.6)
        .collect();
    let consecutive: Vec<usize> = (0..WIDTH).collect();
    let scattered: Vec<usize> = (0..WIDTH).rev().collect();
    let mut tape = Tape::new();
    group.bench_function("Var::layer (neurons over runs)", |b| {
        b.iter(|| layer_step(&mut tape, black_box(&params), &consecutive, false))
    });
    group.bench_function("Var::neuron per output (neurons over runs)", |b| {
        b.iter(|| layer_step(&mut tape, black_box(&params), &consecutive, true))
    });
    group.bench_function("Var::layer, inputs not consecutive (edges copied)", |b| {
        b.iter(|| layer_step(&mut tape, black_box(&params), &scattered, false))
    });
    group.finish();
}

criterion_group!(benches, record, backward, reuse, layer);
criterion_main!(benches);
