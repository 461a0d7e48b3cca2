//! Every path through the tape's arena cell, the crate's only `unsafe` code: small
//! enough to run under Miri (`cargo +nightly miri test --test arena`), which checks
//! that no two references to the arena ever overlap.

use std::panic::{catch_unwind, AssertUnwindSafe};

use chainrule::graph::textbook_backward;
use chainrule::{Activation, Tape, Var};

/// Records enough nodes to grow every array several times, through every kind of
/// push (leaf, unary, binary, n-ary), then reads it back every way.
#[test]
fn record_grow_read_sweep_and_clear() {
    let mut tape = Tape::new();
    for round in 0..3 {
        let x = tape.var(0.5 + round as f64);
        let w = tape.vars(&[0.1, -0.2, 0.3]);
        let mut y = x;
        for k in 0..300 {
            y = match k % 4 {
                0 => (y * w[0]).sigmoid(),
                1 => y + x,
                2 => Var::neuron(&w[..2], &[y, x], w[2], Activation::Tanh),
                _ => [y, x, w[1]].iter().sum(),
            };
        }
        assert!(
            tape.len() > 256,
            "the arrays grew from 64 nodes three times"
        );
        assert_eq!(tape.value(y.index()), y.value());
        assert_eq!(tape.edges(y.index()).len(), 3);
        let g = y.backward();
        let textbook = textbook_backward(&tape.graph(), y.index());
        assert_eq!(g.as_slice(), &textbook[..=y.index()]);
        assert!(tape.memory_bytes() > 0 && tape.capacity() >= tape.len());
        assert_eq!(tape.first_non_finite(), None);
        drop(g);
        tape.clear();
        assert!(tape.is_empty());
    }
}

/// A panic of a tape method (an index out of range: checked after leaving the
/// arena cell, see `tape::cell`) leaves the tape usable.
#[test]
fn a_panic_inside_the_arena_leaves_the_tape_usable() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let out_of_range = catch_unwind(AssertUnwindSafe(|| tape.value(99)));
    assert!(out_of_range.is_err());
    let y = x * x;
    assert_eq!(y.backward()[x], 4.0);
}

/// Anomaly detection reads the arena right after each write.
#[test]
fn anomaly_detection_reads_after_each_write() {
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(-1.0);
    let y = x.sqrt();
    assert_eq!(tape.recorded_anomaly(), Some(y.index()));
}

/// Each thread records on its own tape; a tape moved to another thread keeps working.
#[test]
fn tapes_on_two_threads() {
    let handles: Vec<_> = (0..2)
        .map(|t| {
            std::thread::spawn(move || {
                let tape = Tape::new();
                let x = tape.var(t as f64);
                let y = (x * 3.0).square();
                let g = y.backward();
                g[x]
            })
        })
        .collect();
    let grads: Vec<f64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(grads, vec![0.0, 18.0]);
}

/// A plain-operator chain, `x = σ(w·x + b)` a million times (the W3 workload),
/// holds at most 32 bytes an op with its adjoints: a `+` or `·` node stores its two
/// operands and no partial (17 bytes), a unary node its partial too (25), and the
/// arrays grow 1.5-fold. (Exact: the arena's capacities are a function of the
/// node counts alone.)
#[test]
fn plain_operators_cost_at_most_32_bytes_an_op() {
    let steps = 1_000_000;
    let tape = Tape::new();
    let (w, b) = (tape.var(0.9), tape.var(0.1));
    let mut x = tape.var(0.5);
    for _ in 0..steps {
        x = (w * x + b).sigmoid();
    }
    let ops = 3 * steps;
    let bytes = tape.memory_bytes() + std::mem::size_of::<f64>() * tape.len();
    let per_op = bytes as f64 / ops as f64;
    assert!(per_op <= 32.0, "{per_op:.1} bytes an op");
    // Each array within 1.5 times what it holds: 25 bytes a unary node, 17 another.
    let exact = (17 * tape.len() + 8 * steps + 8 * tape.len()) as f64 / ops as f64;
    assert!(
        per_op <= 1.5 * exact,
        "{per_op:.1} against {exact:.1} bytes an op"
    );
}

/// The cell's first point of proof: a `Tape` may move to another thread
/// whole, but is never shared between threads (`ArenaCell` is `!Sync`), and so
/// no `Var` or `Gradients`, which hold a `&Tape`, crosses threads. Each
/// assertion is an ambiguity error at compile time if the trait is there.
#[test]
fn a_tape_may_be_sent_but_not_shared_between_threads() {
    fn send<T: Send>() {}
    send::<Tape>();

    trait AmbiguousIfSync<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSync<()> for T {}
    impl<T: ?Sized + Sync> AmbiguousIfSync<u8> for T {}
    <Tape as AmbiguousIfSync<_>>::check();

    trait AmbiguousIfSend<A> {
        fn check() {}
    }
    impl<T: ?Sized> AmbiguousIfSend<()> for T {}
    impl<T: ?Sized + Send> AmbiguousIfSend<u8> for T {}
    <Var<'static> as AmbiguousIfSend<_>>::check();
    <chainrule::Gradients<'static> as AmbiguousIfSend<_>>::check();
}
