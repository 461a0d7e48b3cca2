//! A dropped `Native` gives back its code's memory (point 4 of the safety
//! proof in `src/replay/native/mod.rs`: the code lives exactly as long as the
//! `Native`, freed in its `Drop`). cranelift's JIT memory comes from the
//! global allocator on Unix, so a counting allocator sees it: without the
//! free, every `Native` made and dropped would leave its pages behind. This
//! file holds a single test so that no other test thread allocates meanwhile.

#![cfg(feature = "jit")]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};

use chainrule::Tape;

struct Counting;

/// Bytes allocated and not yet freed.
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Relaxed);
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_dropped_native_gives_its_code_memory_back() {
    let tape = Tape::for_replay();
    let w = tape.vars(&[0.5, -0.25, 0.1]);
    let y = (w[0] * w[1] + w[2]).sin() / (w[0].powi(3) + 2.0);
    let program = tape.compile(&[y]).unwrap();
    let make_and_drop = || {
        let mut native = program.native().unwrap();
        native.backward();
        assert!(native.gradients().iter().all(|g| g.is_finite()));
    };
    // Warm up: whatever cranelift or std allocate once and keep.
    for _ in 0..3 {
        make_and_drop();
    }
    let before = LIVE.load(Relaxed);
    for _ in 0..50 {
        make_and_drop();
    }
    let grown = LIVE.load(Relaxed) - before;
    // Each Native's code takes at least one page (4 KiB) of its own: 50 kept
    // would be 200 KiB and more.
    assert!(
        grown < 16 * 1024,
        "50 Natives made and dropped left {grown} bytes allocated"
    );
}
