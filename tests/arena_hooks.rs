//! A panic hook that touches the tape while a tape method panics must find the
//! arena free: no panic starts inside the arena cell (the crate's only `unsafe`
//! code), so the hook can never re-enter it. Before that rule, a debug build
//! aborted here ("the tape's arena was re-entered", then "panicked while
//! processing panic") and a release build let two references to the arena overlap.
//!
//! The hook is process-wide, so this file is its own test binary and its cases run
//! one after another in one test.

use std::cell::{Cell, RefCell};
use std::panic::{self, catch_unwind, AssertUnwindSafe};

use chainrule::dot::Dot;
use chainrule::{Activation, Tape, Var};

/// Takes anything: the value of a call that panics first.
fn ignore<T>(_: T) {}

thread_local! {
    /// The tape the hook records on: the one the failing call is made on.
    static TAPE: Tape = Tape::with_max_nodes(1_000);
    /// What the hook saw of the tape, one entry per panic.
    static SEEN: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
    /// Whether the hook should record (off when the tape is full on purpose).
    static RECORD: Cell<bool> = const { Cell::new(true) };
}

fn install_hook() {
    panic::set_hook(Box::new(|_| {
        // `try_with`: the hook may run during thread teardown.
        let _ = TAPE.try_with(|tape| {
            if RECORD.with(Cell::get) {
                let x = tape.var(1.0); // a write into the arena, from the hook
                let _ = (x * 2.0).named("in the hook"); // and into the labels
            }
            let _ = tape.to_dot(); // every node, label and edge read
            let len = tape.len();
            if len > 0 {
                let _ = tape.value(len - 1); // a read
                let _ = tape.edges(len - 1);
            }
            SEEN.with(|seen| seen.borrow_mut().push(len));
        });
    }));
}

/// Runs `f`, which must panic, and returns the message; the hook must have run
/// once, leaving the tape consistent.
fn panics_with_hook(what: &str, f: impl FnOnce()) -> String {
    panics_with_hook_after(what, 0, f)
}

/// As [`panics_with_hook`], for a call that records `recorded_first` nodes on
/// the tape before it panics.
fn panics_with_hook_after(what: &str, recorded_first: usize, f: impl FnOnce()) -> String {
    let seen_before = SEEN.with(|s| s.borrow().len());
    let len_before = TAPE.with(Tape::len);
    let result = catch_unwind(AssertUnwindSafe(f));
    let message = match result {
        Ok(()) => panic!("{what}: expected a panic"),
        Err(payload) => payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default(),
    };
    assert_eq!(
        SEEN.with(|s| s.borrow().len()),
        seen_before + 1,
        "{what}: the hook ran once"
    );
    let recorded = if RECORD.with(Cell::get) { 2 } else { 0 };
    TAPE.with(|tape| {
        assert_eq!(
            tape.len(),
            len_before + recorded_first + recorded,
            "{what}: the hook's nodes are on the tape"
        );
        // The tape still works: record and sweep.
        if RECORD.with(Cell::get) {
            let y = tape.var(3.0);
            let z = y * y;
            assert_eq!(z.backward()[y], 6.0, "{what}");
        }
    });
    message
}

#[test]
fn a_panic_hook_that_touches_the_tape_finds_the_arena_free() {
    install_hook();

    let message = panics_with_hook("value", || {
        TAPE.with(|t| {
            let _ = t.value(999);
        })
    });
    assert!(message.contains("no node #999"), "{message}");

    let message = panics_with_hook("op", || {
        TAPE.with(|t| {
            let _ = t.op(5_000);
        })
    });
    assert!(message.contains("no node #5000"), "{message}");

    let message = panics_with_hook("edges", || {
        TAPE.with(|t| {
            let _ = t.edges(usize::MAX);
        })
    });
    assert!(message.contains("no node"), "{message}");

    let message = panics_with_hook("reserve", || TAPE.with(|t| t.reserve(usize::MAX)));
    assert!(message.contains("reserve("), "{message}");

    let message = panics_with_hook("with_capacity", || {
        let _ = Tape::with_capacity(usize::MAX);
    });
    assert!(message.contains("past the tape's limit"), "{message}");

    // Mistakes with a `Var` of another tape, or of the wrong kind, and the
    // panics of the fused and n-ary ops, explanations and drawings: each is
    // checked before the library enters the arena.
    let other = Tape::new();
    let o = other.var(1.0);
    let g_other = (o * o).backward();
    // (what, what the message says, the nodes recorded before the panic, the call)
    type Mistake<'a> = (&'a str, &'a str, usize, Box<dyn Fn(&Tape) + 'a>);
    let mistakes: Vec<Mistake> = vec![
        (
            "display_name",
            "no node",
            0,
            Box::new(|t| ignore(t.display_name(usize::MAX))),
        ),
        (
            "a binary op",
            "two different tapes",
            1,
            Box::new(|t| ignore(t.var(1.0) + o)),
        ),
        (
            "a neuron",
            "two different tapes",
            3,
            Box::new(|t| {
                let w = t.vars(&[0.1, 0.2]);
                ignore(Var::neuron(&w, &[o, o], t.var(0.0), Activation::Tanh));
            }),
        ),
        (
            "a sum",
            "two different tapes",
            1,
            Box::new(|t| ignore([t.var(1.0), o].iter().sum::<Var>())),
        ),
        (
            "logsumexp",
            "two different tapes",
            1,
            Box::new(|t| ignore(Var::logsumexp(&[t.var(1.0), o]))),
        ),
        (
            "logsumexp of nothing",
            "at least one",
            0,
            Box::new(|_| ignore(Var::logsumexp(&[]))),
        ),
        (
            "a gradient of another tape's Var",
            "of another tape",
            2,
            Box::new(|t| {
                let x = t.var(2.0);
                ignore((x * x).backward()[o]);
            }),
        ),
        (
            "an explanation of another tape's Var",
            "of another tape",
            2,
            Box::new(|t| {
                let x = t.var(2.0);
                ignore((x * x).backward().explain(o));
            }),
        ),
        (
            "a drawing with another tape's gradients",
            "another tape",
            0,
            Box::new(|t| ignore(Dot::new(t).gradients(&g_other).to_string())),
        ),
        (
            "named_net",
            "is leaf",
            1,
            Box::new(|t| ignore(t.var(1.0).named_net("net"))),
        ),
        (
            "Tape::grad",
            "another tape",
            1,
            Box::new(|t| {
                let x = t.var(1.0);
                ignore(t.grad(o, &[x]));
            }),
        ),
        (
            "clamp",
            "lo <= hi",
            1,
            Box::new(|t| ignore(t.var(1.0).clamp(2.0, 1.0))),
        ),
        // Every other documented panic of recording, sweeping and explaining
        // (each checked before the arena is entered).
        (
            "a neuron's lengths",
            "needs one weight per input",
            2,
            Box::new(|t| {
                let w = t.vars(&[0.1, 0.2]);
                ignore(Var::neuron(&w, &w[..1], w[0], Activation::Sigmoid));
            }),
        ),
        (
            "a weighted sum's lengths",
            "needs one weight per input",
            2,
            Box::new(|t| {
                let w = t.vars(&[0.1, 0.2]);
                ignore(Var::weighted_sum(&w, &w[..1], w[0]));
            }),
        ),
        (
            "a neuron over constants: lengths",
            "needs one weight per input",
            2,
            Box::new(|t| {
                let w = t.vars(&[0.1, 0.2]);
                ignore(Var::neuron_const(&w, &[1.0], w[0], Activation::Relu));
            }),
        ),
        (
            "a neuron over constants: another tape",
            "two different tapes",
            2,
            Box::new(|t| {
                let w = t.vars(&[0.1, 0.2]);
                ignore(Var::neuron_const(
                    &[w[0], o],
                    &[1.0, 2.0],
                    w[1],
                    Activation::Relu,
                ));
            }),
        ),
        (
            "a layer's shape",
            "layer needs",
            3,
            Box::new(|t| {
                let p = t.vars(&[0.1, 0.2, 0.3]);
                let mut out = [p[0]; 2];
                Var::layer(&p, &p[..1], Activation::Tanh, &mut out);
            }),
        ),
        (
            "a layer of another tape's inputs",
            "two different tapes",
            3,
            Box::new(|t| {
                let p = t.vars(&[0.1, 0.2, 0.3]);
                let mut out = [p[0]; 1];
                Var::layer(&p, &[o, o], Activation::Tanh, &mut out);
            }),
        ),
        (
            "a loss of no outputs",
            "of no outputs",
            0,
            Box::new(|_| ignore(Var::half_squared_error(&[], &[]))),
        ),
        (
            "a loss's targets",
            "one target per output",
            2,
            Box::new(|t| ignore(Var::mean_squared_error(&t.vars(&[1.0, 2.0]), &[1.0]))),
        ),
        (
            "a loss over two tapes",
            "two different tapes",
            1,
            Box::new(|t| ignore(Var::half_squared_error(&[t.var(1.0), o], &[0.0, 0.0]))),
        ),
        (
            "a sum of nothing",
            "the sum of no Vars",
            0,
            Box::new(|_| ignore(std::iter::empty::<Var>().sum::<Var>())),
        ),
        (
            "mul_add over two tapes",
            "two different tapes",
            2,
            Box::new(|t| ignore(t.var(1.0).mul_add(t.var(2.0), o))),
        ),
        (
            "pow over two tapes",
            "two different tapes",
            1,
            Box::new(|t| ignore(t.var(1.0).pow(o))),
        ),
        (
            "max over two tapes",
            "two different tapes",
            1,
            Box::new(|t| ignore(t.var(1.0).max(o))),
        ),
        (
            "atan2 over two tapes",
            "two different tapes",
            1,
            Box::new(|t| ignore(t.var(1.0).atan2(o))),
        ),
        (
            "a rounding bound of another tape's Var",
            "of another tape",
            2,
            Box::new(|t| {
                let x = t.var(2.0);
                ignore((x * x).backward().rounding_bound(o));
            }),
        ),
        (
            "Tape::explain of another tape's Var",
            "another tape",
            1,
            Box::new(|t| ignore(t.explain(t.var(1.0), o))),
        ),
        (
            "a comparison of another tape's Var",
            "of another tape",
            2,
            Box::new(|t| {
                let x = t.var(2.0);
                ignore((x * x).backward().compare(&[(o, 1.0)]));
            }),
        ),
        (
            "with_max_nodes past the limit",
            "past the most any tape",
            0,
            Box::new(|_| ignore(Tape::with_max_nodes(usize::MAX))),
        ),
    ];
    for (what, says, recorded_first, mistake) in &mistakes {
        let message = panics_with_hook_after(what, *recorded_first, || TAPE.with(|t| mistake(t)));
        assert!(message.contains(says), "{what}: {message}");
    }

    // Fill the tape to its limit; the push that passes it panics after leaving
    // the arena, and the hook (which now only reads) sees every node intact.
    TAPE.with(|t| {
        while t.len() < t.max_nodes() {
            let _ = t.var(0.5);
        }
    });
    RECORD.with(|r| r.set(false));
    let message = panics_with_hook("push past the limit", || {
        TAPE.with(|t| {
            let _ = t.var(1.0);
        })
    });
    assert!(message.contains("the tape is full"), "{message}");
    let message = panics_with_hook("leaves past the limit", || {
        TAPE.with(|t| {
            let _ = t.vars(&[1.0, 2.0]);
        })
    });
    assert!(message.contains("the tape is full"), "{message}");
    TAPE.with(|t| assert_eq!(t.len(), 1_000));

    let _ = panic::take_hook();
}
