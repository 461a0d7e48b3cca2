//! A cell giving the arena interior mutability without a borrow flag: one of
//! the tape's two places with `unsafe` code (the other is the fast path of
//! recording, `tape::arena`, with its own proof: see `Recording`'s docs).
//!
//! # Why
//! Every operation on a `Var` appends to the arena through `&Tape`. A `RefCell`
//! would check and set its flag twice per node, and each flag update is a store
//! the next node's check must wait for; measured on W1 (15 nodes a step) that was
//! 30% of the step time (255 → 176 ns), and 12% on W3.
//!
//! # Soundness
//! [`ArenaCell::read`] and [`ArenaCell::write`] make a `&T` or `&mut T` from the
//! `UnsafeCell` and hand it to a closure `f`. That is sound if no other reference
//! to the value exists while `f` runs. Every way another one could come about:
//!
//! 1. **Another thread.** `ArenaCell<T>` holds an `UnsafeCell<T>`, so it is
//!    `!Sync`: a `&ArenaCell` never crosses threads (a `Tape` may be *sent*, which
//!    moves it whole; nothing of it is shared). `tests/arena.rs` asserts that
//!    `Tape` is `Send` and not `Sync`, and that `Var` and `Gradients` are not
//!    `Send`.
//! 2. **The reference outliving `f`.** `f` is generic over the reference's
//!    lifetime and returns an `R` chosen independently of it, so it can neither
//!    return nor store the reference. On unwinding the reference dies with `f`'s
//!    frame like any argument.
//! 3. **[`ArenaCell::get_mut`].** It needs `&mut self`, which cannot exist while
//!    `&self` is borrowed for the call.
//! 4. **Re-entry: `read` or `write` called on the same cell while `f` runs.**
//!    Only code that runs inside `f` can do that. The type is private to the
//!    crate, and every `f` in it is written to run none of the caller's code:
//!    - it touches only the `Recording` it is given and data it captured: indices,
//!      values, slices of `Var`s (plain data: a `Var` is an index, a value and a
//!      `&Tape`, and no `f` calls a method of the tape), the labels' maps
//!      (borrowed before entering, strings only);
//!    - it calls no trait method of a caller's type: no iterator of the caller's
//!      is pulled inside (`Var::sum` collects its operands first: the iterator may
//!      record), no caller's closure is called, no value of the caller's is
//!      dropped, and nothing is written to a caller's writer (`Dot`'s `Display`
//!      makes its text inside and writes it to the `Formatter` after leaving:
//!      the writer behind a `Formatter` is the caller's code, and may record on
//!      this very tape; `tests/reentry.rs`);
//!    - **it does not panic** on anything safe code can give it, because a panic
//!      runs the panic hook (the caller's code, `std::panic::set_hook`) *before*
//!      unwinding, while the reference is still alive, and a hook may use the
//!      tape. So every check of the caller's input (a node index past the end, a
//!      `Var` of another tape, a full tape, a refused allocation) is made before
//!      entering or reported out of `f` as a value (an `Option`, `FULL`, a
//!      `Full` error) and panics after leaving; the node and edge arrays grow with
//!      `try_reserve`, reporting a refusal as a value; every
//!      index used inside is below the recording's length by the arena's
//!      invariant (each operand recorded is a `Var` of this tape, checked by
//!      `same_tape`, whose index is below the length, and `clear` needs `&mut
//!      Tape`, so no `Var` from before it survives). Any other allocation
//!      inside `f` (the list of neuron runs, the kept constants, an explanation's
//!      own tables) is infallible: a failure aborts the process (Rust's
//!      `handle_alloc_error`, on stable Rust: a nightly `alloc_error_hook` or
//!      `-Zoom=panic` would make it a panic, and are outside this proof), and
//!      no hook of the caller's runs then. A capacity overflow (a size past
//!      `isize::MAX` bytes), which is a panic, not an abort, cannot happen on
//!      the 64-bit targets the crate builds for (`lib.rs` refuses others): a
//!      tape's sizes are bounded by its `u32` indices. Nor
//!      does any arithmetic inside `f` overflow on what a tape can hold
//!      (indices are `u32` held in `usize`, counts `usize` or `u64`), so a
//!      build with `overflow-checks` on and debug assertions off (a profile
//!      may ask for it, and it applies to this crate too), which has no
//!      guard (below), panics inside no `f` either. The readers that number
//!      edges with `u32` (a compiled program's graph, an explanation's
//!      subgraph) ask `Recording::edges_fit_u32` first and refuse outside:
//!      the edges implied by `+`, `−`, `·` and unary ops are not limited as
//!      they are recorded, and with neurons over runs their sum can pass
//!      `u32::MAX` on a 51 MB tape, where a cast would wrap and a slice
//!      panic (found by a reviewer; `replay::build`'s unit test).
//!
//!    Debug builds check this at run time: re-entering panics ("the tape's arena
//!    was re-entered"; the guard's own tests are at the end of this file), and
//!    the whole test suite runs with debug assertions;
//!    `tests/reentry.rs` records on the tape from a writer the DOT text goes
//!    to, and `tests/arena_hooks.rs` from a panic hook, for every documented
//!    panic of the tape's API.
//!
//! Outside what safe code can do, and so outside this argument: a global
//! allocator (an `unsafe impl GlobalAlloc`) that records on a tape while it
//! allocates for that tape's arena, and signal handlers.
//!
//! `tests/arena.rs` exercises every path through the cell (pushes, growth, reads,
//! clear, sweeps, the graph view, a panic after leaving `write`); run it under
//! Miri where Miri is installed (`cargo +nightly miri test --test arena`).

#![allow(unsafe_code)]

#[cfg(debug_assertions)]
use std::cell::Cell;
use std::cell::UnsafeCell;

#[derive(Default)]
pub(crate) struct ArenaCell<T> {
    value: UnsafeCell<T>,
    #[cfg(debug_assertions)]
    busy: Cell<bool>,
}

impl<T> ArenaCell<T> {
    /// Runs `f` with a shared reference to the value.
    #[inline(always)]
    pub(crate) fn read<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        // A guard in debug builds, `()` in release ones.
        #[allow(clippy::let_unit_value)]
        let _entered = self.enter();
        // SAFETY: see the module documentation (# Soundness): single-threaded
        // (`!Sync`), the reference lives only for this call, and `f` neither
        // re-enters nor runs the caller's code (nor panics, which would run the
        // panic hook).
        f(unsafe { &*self.value.get() })
    }

    /// Runs `f` with the only reference to the value.
    #[inline(always)]
    pub(crate) fn write<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // A guard in debug builds, `()` in release ones.
        #[allow(clippy::let_unit_value)]
        let _entered = self.enter();
        // SAFETY: as for `read`; no other reference exists during the call.
        f(unsafe { &mut *self.value.get() })
    }

    /// The value, through an exclusive borrow of the cell (no `unsafe`).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    #[cfg(debug_assertions)]
    #[inline(always)]
    fn enter(&self) -> Entered<'_> {
        assert!(
            !self.busy.replace(true),
            "chainrule: internal error: the tape's arena was re-entered"
        );
        Entered(&self.busy)
    }

    #[cfg(not(debug_assertions))]
    #[inline(always)]
    fn enter(&self) {}
}

/// Marks the cell free again when the call ends, also by unwinding.
#[cfg(debug_assertions)]
struct Entered<'a>(&'a Cell<bool>);

#[cfg(debug_assertions)]
impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

/// The debug guard itself (the check the whole test suite leans on): each
/// test would pass silently if the guard were gone. Only shared reads nest
/// here, so without the guard nothing is undefined, just unchecked.
#[cfg(all(test, debug_assertions))]
mod tests {
    use std::panic::{catch_unwind, AssertUnwindSafe};

    use super::ArenaCell;

    #[test]
    #[should_panic(expected = "the tape's arena was re-entered")]
    fn a_read_inside_a_read_panics_in_a_debug_build() {
        let cell = ArenaCell::<u32>::default();
        cell.read(|_| cell.read(|v| *v));
    }

    #[test]
    #[should_panic(expected = "the tape's arena was re-entered")]
    fn a_read_inside_a_write_panics_in_a_debug_build() {
        let cell = ArenaCell::<u32>::default();
        // The inner read is refused before it makes its reference.
        cell.write(|_| cell.read(|v| *v));
    }

    #[test]
    fn the_cell_is_free_again_after_a_call_that_unwound() {
        let cell = ArenaCell::<u32>::default();
        let unwound = catch_unwind(AssertUnwindSafe(|| cell.read(|_| panic!("inside"))));
        assert!(unwound.is_err());
        cell.write(|v| *v = 7);
        assert_eq!(cell.read(|v| *v), 7);
    }
}
