//! Serial against data-parallel batch gradients (feature `parallel`), on the W2
//! network: the 100 moons points of W2, and the same points repeated to 1,000.
//!
//! Run: `cargo bench --features parallel --bench nn`

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::nn::parallel::batch_loss_and_gradient_parallel;
use chainrule::nn::{batch_loss_and_gradient, Activation, Dataset, Init, Loss, Mlp};
use chainrule::Tape;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use workloads::moons;

fn setup(samples: usize) -> (Mlp, Dataset) {
    let points = moons::data();
    let mut data = Dataset::new(2, 1);
    for s in points.iter().cycle().take(samples) {
        data.push(&s.x, &[s.label]);
    }
    let mlp = Mlp::new(
        &moons::LAYERS,
        &[Activation::Tanh, Activation::Tanh, Activation::Identity],
        Init::Uniform,
        42,
    )
    .expect("the W2 network");
    (mlp, data)
}

fn batch_gradient(c: &mut Criterion) {
    let mut group = c.benchmark_group("moons_batch_gradient");
    for samples in [100, 1000] {
        let (mlp, data) = setup(samples);
        let batch: Vec<usize> = (0..samples).collect();
        let mut gradient = Vec::new();
        let mut tape = Tape::new();
        group.bench_with_input(BenchmarkId::new("serial", samples), &samples, |b, _| {
            b.iter(|| {
                batch_loss_and_gradient(
                    &mlp,
                    &data,
                    &batch,
                    samples as f64,
                    Loss::MeanSquaredError,
                    &mut tape,
                    &mut gradient,
                )
            })
        });
        group.bench_with_input(BenchmarkId::new("parallel", samples), &samples, |b, _| {
            b.iter(|| {
                batch_loss_and_gradient_parallel(
                    &mlp,
                    &data,
                    &batch,
                    Loss::MeanSquaredError,
                    &mut gradient,
                )
            })
        });
    }
    group.finish();
}

criterion_group!(benches, batch_gradient);
criterion_main!(benches);
