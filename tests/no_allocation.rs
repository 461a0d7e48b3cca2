//! A training loop allocates nothing after its first step: the tape keeps its arena
//! across `clear()`, and a dropped `Gradients` hands its adjoint buffer to the next
//! sweep. Counted by a global allocator; this file holds a single test so that no
//! other test thread allocates meanwhile.

use chainrule::workloads::{seed, Spelling};
use chainrule::Tape;
use peakmem_alloc::{PeakMemAlloc, PeakMemAllocTrait, INSTRUMENTED_SYSTEM};

#[global_allocator]
static ALLOCATOR: &PeakMemAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

#[test]
fn training_steps_after_the_first_allocate_nothing() {
    for spelling in [Spelling::Ops, Spelling::Fused] {
        let mut tape = Tape::new();
        let mut w = seed::WEIGHTS;
        seed::step_taped(&mut tape, &mut w, spelling); // grows the arena and a buffer
        ALLOCATOR.reset_peak_memory();
        for _ in 0..100 {
            seed::step_taped(&mut tape, &mut w, spelling);
        }
        assert_eq!(
            ALLOCATOR.get_peak_memory(),
            0,
            "{spelling:?}: bytes allocated by 100 steps after the first"
        );
    }
}
