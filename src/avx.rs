//! Run-time choice of AVX builds for the few loops that gain from wider lanes:
//! a wide layer's kernels in the replay (`replay::exec`) and the sweep of a
//! tape with fused neurons over runs (`backward`). The crate is
//! built for x86-64's baseline (SSE2), so an AVX build is a second copy of the
//! same safe code, compiled with `#[target_feature(enable = "avx")]` and
//! called only where [`avx`] is true.
//!
//! # Why
//! Those loops (`adjoint += g · partner` along a run, two neurons' sums side
//! by side) are what a wide layer spends its instructions on, and with AVX the
//! compiler does them four lanes at a time instead of two. Callgrind
//! (`examples/record_cost.rs`): W2 replayed 2,949,841 → 2,503,101 instructions
//! for three epochs (−15%; the layer loops backward −30%, forward −14%); W2
//! fused 4,481,814 → 4,038,440 (−9.9%; its sweep −27%). Tapes and programs
//! without them (W1, W3) are not affected.
//!
//! # The same bits
//! AVX's `vmulpd` and `vaddpd` round each lane as `mulsd` and `addsd` do;
//! without `fma` among the features the compiler fuses no product into a sum
//! (Rust never contracts floating-point operations), and it does not reorder a
//! sum (no fast-math). So an AVX build computes every value, partial and
//! adjoint to the same bits as the baseline one. Tests run both builds and
//! compare them bit for bit (`layer_kernels_give_the_same_bits_built_for_avx`
//! in `replay::exec`, `sweeps_over_runs_give_the_same_bits_built_for_avx` in
//! `backward`); [`set_baseline_only`] makes [`avx`] false on the test's
//! thread.
//!
//! # Soundness
//! Calling a `#[target_feature(enable = "avx")]` function is `unsafe` for one
//! reason: on a processor without AVX its instructions fault (undefined
//! behaviour). (The AVX builds are declared `unsafe fn`, as Rust 1.85, the
//! crate's MSRV, requires of a `#[target_feature]` function; their bodies do
//! nothing unsafe.) Each AVX build is private to its module and called from one
//! place, behind `avx()`, which is true only if `is_x86_feature_detected!("avx")`
//! is: std checks the CPUID bit and that the operating system saves the AVX
//! registers (`xgetbv`), once per process, then reads a cached word. Every other
//! way in is ordinary safe code. The builds' bodies are the safe kernels, whose
//! slice indexing panics on a bad index (a panic unwinds through a
//! `target_feature` function as through any other); they run none of the
//! caller's code (the activations are the crate's own), so nothing re-enters;
//! they hold no state, so other threads and hooks (a global allocator that
//! records, a panic hook) see nothing of them; and they allocate nothing
//! (`tests/no_allocation.rs` counts the allocator's calls over W2's fused
//! sweeps and replays, both of which run them). Safe code cannot make them
//! panic either: their indices are the recording's or the compiler's, checked
//! when made; a bounds check that failed would unwind as anywhere else. The
//! sweep's build runs inside the arena cell's closure exactly as the baseline
//! sweep does, so the cell's own argument (`tape::cell`) is unchanged.

/// Whether this processor runs AVX, so the AVX builds may be called: std's
/// run-time detection (CPUID and the operating system's support), cached
/// after the first call. Always false off x86-64, and in tests on a thread
/// that asked for the baseline builds ([`set_baseline_only`]).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[inline(always)]
pub(crate) fn avx() -> bool {
    #[cfg(test)]
    if BASELINE_ONLY.with(std::cell::Cell::get) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
thread_local! {
    static BASELINE_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Makes [`avx`] false (`true`) or detected again (`false`) on this thread: for
/// tests that hold the AVX builds against the baseline ones.
#[cfg(test)]
pub(crate) fn set_baseline_only(on: bool) {
    BASELINE_ONLY.with(|b| b.set(on));
}
