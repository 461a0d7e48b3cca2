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
        // SAFETY: see the module documentation: single-threaded (`!Sync`), the
        // reference lives only for this call, and `f` does not re-enter.
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
