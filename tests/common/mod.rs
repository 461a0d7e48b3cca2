//! The seed network recorded with the article's labels, shared by the tests.

#![allow(dead_code)]

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../../benches/common/workloads.rs"]
#[allow(dead_code)]
pub mod workloads;

use self::workloads::seed;
use chainrule::{Tape, Var};

/// The labelled nodes of one forward pass of the seed network.
pub struct SeedNet<'t> {
    pub w: [Var<'t>; 8],
    pub b: [Var<'t>; 2],
    pub net_h: [Var<'t>; 2],
    pub out_h: [Var<'t>; 2],
    pub net_o: [Var<'t>; 2],
    pub out_o: [Var<'t>; 2],
    pub e_o: [Var<'t>; 2],
    pub e: Var<'t>,
}

const NAMES: [&str; 8] = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"];

/// Records the seed network as the article writes it, labelling every quantity
/// it names.
pub fn record_seed<'t>(tape: &'t Tape, weights: &[f64; 8]) -> SeedNet<'t> {
    let w: [Var; 8] = std::array::from_fn(|k| tape.var(weights[k]).named(NAMES[k]));
    let i1 = tape.var(seed::INPUTS[0]).named("i1");
    let i2 = tape.var(seed::INPUTS[1]).named("i2");
    let b1 = tape.var(seed::BIASES[0]).named("b1");
    let b2 = tape.var(seed::BIASES[1]).named("b2");
    let net_h1 = (w[0] * i1 + w[1] * i2 + b1).named("net_h1");
    let net_h2 = (w[2] * i1 + w[3] * i2 + b1).named("net_h2");
    let out_h1 = net_h1.sigmoid().named("out_h1");
    let out_h2 = net_h2.sigmoid().named("out_h2");
    let net_o1 = (w[4] * out_h1 + w[5] * out_h2 + b2).named("net_o1");
    let net_o2 = (w[6] * out_h1 + w[7] * out_h2 + b2).named("net_o2");
    let out_o1 = net_o1.sigmoid().named("out_o1");
    let out_o2 = net_o2.sigmoid().named("out_o2");
    let e_o1 = ((seed::TARGETS[0] - out_o1).square() * 0.5).named("E_o1");
    let e_o2 = ((seed::TARGETS[1] - out_o2).square() * 0.5).named("E_o2");
    let e = (e_o1 + e_o2).named("E");
    SeedNet {
        w,
        b: [b1, b2],
        net_h: [net_h1, net_h2],
        out_h: [out_h1, out_h2],
        net_o: [net_o1, net_o2],
        out_o: [out_o1, out_o2],
        e_o: [e_o1, e_o2],
        e,
    }
}

/// |actual - expected| <= tolerance, with a message naming the quantity.
pub fn assert_close(actual: f64, expected: f64, tolerance: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= tolerance,
        "{what}: {actual} vs {expected} (tolerance {tolerance:e})"
    );
}
