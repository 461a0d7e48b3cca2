//! What the tests of the sweep's fast paths share (`tests/sweep_pairs.rs`,
//! `tests/sweep_chains.rs`): the check against the textbook sweep, and a small
//! deterministic generator for random tapes.

use chainrule::graph::textbook_backward;
use chainrule::{Tape, Var};

/// The fast sweep from `y` against the textbook sweep, every node, bit for bit
/// (NaNs compared as NaNs).
pub fn assert_textbook(tape: &Tape, y: Var) {
    let g = y.backward();
    let textbook = textbook_backward(&tape.graph(), y.index());
    assert_eq!(g.as_slice().len(), y.index() + 1);
    for (i, (f, t)) in g.as_slice().iter().zip(&textbook).enumerate() {
        assert!(
            f.to_bits() == t.to_bits() || (f.is_nan() && t.is_nan()),
            "node {i}: sweep {f} textbook {t}"
        );
    }
}

/// A small deterministic generator (SplitMix64), so the random tapes are the
/// same on every run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}
