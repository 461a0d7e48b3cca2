//! Catching a panic in a test: its message, and where it was raised (read by a
//! panic hook, so that a test can check that a mistake panics at the caller's
//! line). Included by the test files that need it (`#[path]`), one copy.

#![allow(dead_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};

/// Held while the panic hook is swapped, so that tests of one binary do not
/// restore each other's hooks.
static HOOK: Mutex<()> = Mutex::new(());

/// A panic's payload as text (empty if it is neither a `String` nor a `&str`).
fn text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// The message of `f`'s panic.
///
/// # Panics
/// If `f` does not panic.
pub fn panic_message(f: impl FnOnce()) -> String {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err("expected a panic");
    text(payload.as_ref())
}

/// `f`'s value, or its panic's message.
pub fn outcome<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| text(payload.as_ref()))
}

/// `f`'s panic, if it panicked: every location ("file:line") the panic hook
/// saw while `f` ran (other tests of the binary may panic meanwhile, without
/// swapping the hook, so a check looks for the expected one among them; the
/// last is `f`'s own when none did), and its message.
fn caught(f: impl FnOnce()) -> Option<(Vec<String>, String)> {
    let _hook = HOOK.lock().unwrap_or_else(|e| e.into_inner());
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let record = seen.clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if let Some(l) = info.location() {
            record
                .lock()
                .unwrap()
                .push(format!("{}:{}", l.file(), l.line()));
        }
    }));
    let result = catch_unwind(AssertUnwindSafe(f));
    std::panic::set_hook(previous);
    let payload = result.err()?;
    let seen = seen.lock().unwrap().clone();
    Some((seen, text(payload.as_ref())))
}

/// Every location the panic hook saw while `f` ran (see [`caught`]); empty if
/// `f` did not panic.
pub fn panic_locations(f: impl FnOnce()) -> Vec<String> {
    caught(f).map(|(seen, _)| seen).unwrap_or_default()
}

/// Where `f` panicked ("file:line", the last location seen) and its message;
/// `None` if it did not panic.
pub fn panic_of(f: impl FnOnce()) -> Option<(String, String)> {
    caught(f).map(|(seen, message)| (seen.last().cloned().unwrap_or_default(), message))
}
