//! A chain ten million nodes deep records, sweeps back and drops without
//! recursion (an engine that recursed over the graph would overflow its stack long
//! before this depth). The test profile's opt-level 2 makes it run in about a second.

use chainrule::{Op, Tape};

/// Steps of x ← x·c + 1: two nodes a step, ten million nodes after the leaf.
const STEPS: usize = 5_000_000;
const NODES: usize = 2 * STEPS + 1;
/// c = 1 − 1e-7, so that c^STEPS = e^(−0.5) (about): neither vanishing nor growing.
const C: f64 = 1.0 - 1e-7;
const X0: f64 = 0.25;

#[test]
fn a_ten_million_node_chain_back_propagates_the_hand_gradient() {
    let start = std::time::Instant::now();
    let tape = Tape::with_capacity(NODES);
    let x0 = tape.var(X0);
    let mut x = x0;
    for _ in 0..STEPS {
        x = x * C + 1.0;
    }
    assert_eq!(tape.len(), NODES);
    assert_eq!(tape.op(x.index()), Op::AddConst);
    let g = x.backward();
    eprintln!(
        "10M-node chain: recorded and swept in {:?}",
        start.elapsed()
    );

    // By hand: x_{k+1} = c·x_k + 1, so dx_{k+1}/dx_k = c and dy/dx0 = c^STEPS.
    // The hand-coded adjoint multiplies by c once per step, from the output down,
    // exactly as the sweep does (the +1 node's partial is 1, exact), so the two agree
    // bit for bit.
    let mut dy_dx0 = 1.0;
    let mut y = X0;
    for _ in 0..STEPS {
        dy_dx0 *= C;
        y = y * C + 1.0;
    }
    assert_eq!(g[x0], dy_dx0);
    assert_eq!(x.value(), y);

    // Against the closed forms: c^N = e^(N ln c), y = c^N x0 + (1 − c^N)/(1 − c).
    // Five million roundings of relative size ≤ 1.1e-16 each bound the drift by
    // 5.5e-10 relative: 1e-9 leaves room for it.
    let c_to_the_n = (STEPS as f64 * (-1e-7f64).ln_1p()).exp();
    assert!(
        (g[x0] - c_to_the_n).abs() <= 1e-9 * c_to_the_n,
        "dy/dx0 = {} but c^N = {c_to_the_n}",
        g[x0]
    );
    let closed_form_y = c_to_the_n * X0 + (1.0 - c_to_the_n) / (1.0 - C);
    assert!(
        (x.value() - closed_form_y).abs() <= 1e-6 * closed_form_y,
        "y = {} but the closed form gives {closed_form_y}",
        x.value()
    );
    // Every intermediate x_k has gradient c^(N-k): halfway down, c^(N/2). After the
    // leaf each step records c·x (index 2k + 1) then + 1 (index 2k + 2, x_{k+1}), so
    // x_k sits at index 2k.
    let halfway = 2 * (STEPS / 2);
    assert_eq!(tape.op(halfway), Op::AddConst);
    let expected_halfway = ((STEPS / 2) as f64 * (-1e-7f64).ln_1p()).exp();
    let got_halfway = g.by_index(halfway);
    assert!((got_halfway - expected_halfway).abs() <= 1e-9 * expected_halfway);
}

#[test]
fn a_ten_million_node_chain_of_sigmoids_sweeps_and_drops() {
    // W3's step, x ← σ(w·x + b), grown from an empty tape (the arrays reallocate
    // as they go), then the tape dropped with all ten million nodes on it.
    let steps = 10_000_000 / 3;
    {
        let tape = Tape::new();
        let (x0, w, b) = (tape.var(0.5), tape.var(0.9), tape.var(0.1));
        let mut x = x0;
        for _ in 0..steps {
            x = (w * x + b).sigmoid();
        }
        assert_eq!(tape.len(), 3 + 3 * steps);

        // The hand-coded adjoint of the same loop.
        let mut xs = Vec::with_capacity(steps + 1);
        xs.push(0.5);
        for k in 0..steps {
            let z: f64 = 0.9 * xs[k] + 0.1;
            xs.push(1.0 / (1.0 + (-z).exp()));
        }
        let (mut dx, mut dw, mut db) = (1.0, 0.0, 0.0);
        for k in (0..steps).rev() {
            let s = xs[k + 1];
            let dz = dx * s * (1.0 - s);
            dw += dz * xs[k];
            db += dz;
            dx = dz * 0.9;
        }
        let g = x.backward();
        // Tolerance 1e-9 relative (benches/WORKLOADS.md, W3). The sums over millions
        // of steps are dominated by a few hundred terms near the output, so the
        // rounding differences of the two orders of summation stay far below it.
        for (name, got, expected) in [("dy/dw", g[w], dw), ("dy/db", g[b], db)] {
            assert!(
                (got - expected).abs() <= 1e-9 * expected.abs(),
                "{name}: tape {got}, by hand {expected}"
            );
        }
        // dy/dx0 is a product of millions of factors below 1: it underflows to 0
        // on the tape and by hand alike.
        assert_eq!((g[x0], dx), (0.0, 0.0));
        assert!((x.value() - xs[steps]).abs() <= 1e-12);
        drop(g);
        // `tape` is dropped here, with its ten million nodes: no recursion.
    }
}

#[test]
fn dropping_a_tape_of_ten_million_nodes_does_not_overflow() {
    let tape = Tape::with_capacity(10_000_000);
    let leaves = tape.vars(&[1.0; 1_000]);
    let mut x = leaves[0];
    for i in 0..10_000_000 - leaves.len() {
        x += leaves[i % leaves.len()];
    }
    assert_eq!(tape.len(), 10_000_000);
    let g = x.backward();
    // Every leaf is added 9,999 times (leaf 0 once more: it starts the chain).
    assert_eq!(g[leaves[0]], 10_000.0);
    assert_eq!(g[leaves[999]], 9_999.0);
    drop(g);
    drop(tape);
}
