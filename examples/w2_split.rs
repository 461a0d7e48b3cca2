//! W2's epoch with the plain operators in a process of its own, its recording
//! and its sweep timed apart: what a user's training program sees, where the
//! workload runner, which times many things in one process, may not.
//!
//! ```sh
//! cargo run --release --example w2_split
//! MALLOC_MMAP_THRESHOLD_=2000000000 cargo run --release --example w2_split
//! ```
//!
//! With glibc (Linux), a fresh process gets each array of 128 KiB or more from
//! the system page by page, so the tape's arrays and the adjoint buffer all
//! start at the same offset in their pages; the runner's earlier allocations
//! put W2's on the heap, at unrelated offsets (as the second command does
//! here, by raising glibc's threshold). The slots' pad (`SLOT_PAD` in
//! `src/tape/arena.rs`) is what keeps the first case from being slower: with
//! it, both commands read alike; built with `SLOT_PAD = 0`, the first sweeps
//! 35–45% slower than the second (see `docs/performance-log.md`).
//!
//! Prints the medians of 601 epochs, in µs: recording, sweep (with reading
//! the gradients), the two together (the parameters' update is not timed),
//! and the sweep's time over the recording's, which moves less than either
//! when the VM's speed changes between runs.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use std::hint::black_box;
use std::time::Instant;

use chainrule::{Tape, Var};
use workloads::moons;

/// The median of `v` (sorted in place).
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    const EPOCHS: usize = 601;
    let data = moons::data();
    let mut p = moons::initial_parameters();
    let mut tape = Tape::new();
    let mut grads = Vec::with_capacity(p.len());
    let (mut record, mut sweep, mut epoch) = (vec![], vec![], vec![]);
    for _ in 0..EPOCHS {
        let start = Instant::now();
        tape.clear();
        let params: Vec<Var> = p.iter().map(|&v| tape.var(v)).collect();
        let loss = moons::loss_ops(&params, &data);
        let recorded = Instant::now();
        let g = loss.backward();
        grads.clear();
        grads.extend(params.iter().map(|&v| g[v]));
        let swept = Instant::now();
        black_box(loss.value());
        drop(g);
        for (pk, gk) in p.iter_mut().zip(&grads) {
            *pk -= moons::LEARNING_RATE * gk;
        }
        record.push((recorded - start).as_secs_f64() * 1e6);
        sweep.push((swept - recorded).as_secs_f64() * 1e6);
        epoch.push((swept - start).as_secs_f64() * 1e6);
    }
    let (record, sweep) = (median(&mut record), median(&mut sweep));
    println!(
        "W2, plain operators, {} nodes an epoch, medians of {EPOCHS} epochs: \
         record {record:.1} µs, sweep {sweep:.1} µs, record+sweep {:.1} µs \
         (sweep/record {:.2})",
        tape.len(),
        median(&mut epoch),
        sweep / record
    );
}
