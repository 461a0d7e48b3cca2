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

/// A panic while the arena is borrowed (an index out of range inside a read)
/// leaves the tape usable.
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
