//! A training loop allocates nothing after its first step: the tape keeps its arena
//! across `clear()`, and a dropped `Gradients` hands its adjoint buffer to the next
//! sweep. And a huge sweep's buffer is given back once sweeps are small again.
//!
//! Counted by a global allocator that counts *calls* (alloc, alloc_zeroed,
//! realloc) and live bytes: a peak-bytes count would let a free and a new
//! allocation of the same size cancel out. This file holds a single test so that
//! no other test thread allocates meanwhile.

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use chainrule::Tape;
use workloads::{moons, seed, Spelling};

struct Counting;

static CALLS: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        LIVE.fetch_add(layout.size(), Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        LIVE.fetch_add(layout.size(), Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        LIVE.fetch_add(new_size, Relaxed);
        LIVE.fetch_sub(layout.size(), Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn training_steps_allocate_nothing_and_a_huge_sweep_gives_its_memory_back() {
    // 1. 100 training steps after the first: zero allocation calls.
    for spelling in [Spelling::Ops, Spelling::Fused] {
        let mut tape = Tape::new();
        let mut w = seed::WEIGHTS;
        seed::step_taped(&mut tape, &mut w, spelling); // grows the arena and a buffer
        let before = CALLS.load(Relaxed);
        for _ in 0..100 {
            seed::step_taped(&mut tape, &mut w, spelling);
        }
        assert_eq!(
            CALLS.load(Relaxed) - before,
            0,
            "{spelling:?}: allocation calls made by 100 steps after the first"
        );
    }

    // 1b. W2's wide layers, fused (neurons over runs of 16: their sweep is the
    //     AVX build where the processor has it, see `src/avx.rs`) and replayed
    //     (the wide layer kernels, likewise): sweeps and replays after the
    //     first make no allocation call, the AVX builds allocate nothing.
    //     (The workload's epoch functions allocate their own vectors: the
    //     sweeps and replays are counted alone.)
    let data = moons::data();
    {
        let tape = Tape::new();
        let params = tape.vars(&moons::initial_parameters());
        let l = moons::loss_fused(&params, &data, &mut Vec::new(), &mut Vec::new());
        let first = l.backward()[params[0]];
        let before = CALLS.load(Relaxed);
        for _ in 0..3 {
            assert_eq!(l.backward()[params[0]].to_bits(), first.to_bits());
        }
        assert_eq!(
            CALLS.load(Relaxed) - before,
            0,
            "W2 fused: allocation calls made by 3 sweeps after the first"
        );
        let mut program = moons::replay_program(&data, Spelling::Ops);
        let p = moons::initial_parameters();
        program.set_inputs(&p);
        program.forward();
        program.backward();
        let before = CALLS.load(Relaxed);
        for _ in 0..3 {
            program.set_inputs(&p);
            program.forward();
            program.backward();
        }
        assert_eq!(
            CALLS.load(Relaxed) - before,
            0,
            "W2 replayed: allocation calls made by 3 passes after the first"
        );
    }

    // 2. A 2-million-node sweep (16 MB of adjoints), then small ones: the spare
    //    buffer is freed, not kept. Tolerance: the small sweeps' own buffer and the
    //    test's bookkeeping stay far below 1 MB.
    let baseline = LIVE.load(Relaxed);
    {
        let tape = Tape::with_capacity(2_000_001);
        let x = tape.var(1.0);
        let mut y = x;
        for _ in 0..2_000_000 {
            y *= 1.0;
        }
        assert_eq!(y.backward()[x], 1.0);
    }
    let after_huge = LIVE.load(Relaxed);
    assert!(
        after_huge - baseline >= 15_000_000,
        "the huge sweep's buffer is kept as the spare at first ({} bytes)",
        after_huge - baseline
    );
    {
        let tape = Tape::new();
        let x = tape.var(2.0);
        assert_eq!(x.square().backward()[x], 4.0);
    }
    let after_small = LIVE.load(Relaxed);
    assert!(
        after_small.saturating_sub(baseline) < 1 << 20,
        "after a small sweep, {} bytes are still held",
        after_small - baseline
    );
}
