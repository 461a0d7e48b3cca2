//! The sweep visits `z + x·y` and the product recorded just before it as one
//! pair (the product's adjoint is complete once the sum, its last user, is
//! visited). These tapes put that pair in every situation the policy
//! distinguishes (fan-out of the product to later nodes, the same product twice,
//! infinite and NaN values, a select op on the tape, a zero adjoint with an
//! infinite partial) and hold the sweep to the textbook sweep over the petgraph
//! view, bit for bit: the pairing must change no sum and no order.

mod sweep_support;

use chainrule::{Tape, Var};
use sweep_support::{assert_textbook, Rng};

#[test]
fn a_weighted_sum_term_by_term_pairs_every_product() {
    let tape = Tape::new();
    let w: Vec<Var> = (0..6).map(|k| tape.var(0.3 * k as f64 - 0.7)).collect();
    let a: Vec<Var> = (0..6).map(|k| tape.var(1.1 - 0.4 * k as f64)).collect();
    let mut z = w[0] * a[0];
    for k in 1..6 {
        z += w[k] * a[k];
    }
    let y = (z + 0.5).tanh();
    assert_textbook(&tape, y);
    // And the gradient is the one derived by hand: dy/dw_k = (1 − y²)·a_k.
    let g = y.backward();
    let d = 1.0 - y.value() * y.value();
    for k in 0..6 {
        let expected = d * a[k].value();
        assert!((g[w[k]] - expected).abs() <= 4.0 * f64::EPSILON * expected.abs());
    }
}

#[test]
fn a_product_used_again_later_keeps_its_later_contributions() {
    // p is recorded just before s = z + p, but q and y use p after s: when the
    // sweep reaches s, p's adjoint already holds their contributions.
    let tape = Tape::new();
    let (x, u, z) = (tape.var(1.5), tape.var(-0.25), tape.var(2.0));
    let p = x * u;
    let s = z + p;
    let q = p * s;
    let y = q + p.exp() + s.sin();
    assert_textbook(&tape, y);
    let g = y.backward();
    // y = p·(z + p) + e^p + sin(z + p), p = x·u.
    let (pv, sv) = (p.value(), s.value());
    let dy_dp = sv + pv + pv.exp() + sv.cos();
    assert!((g[p] - dy_dp).abs() <= 1e-14 * dy_dp.abs());
    assert!((g[x] - dy_dp * u.value()).abs() <= 1e-14 * (dy_dp * u.value()).abs());
}

#[test]
fn the_same_product_twice() {
    let tape = Tape::new();
    let (x, u) = (tape.var(3.0), tape.var(0.5));
    let p = x * u;
    let y = p + p; // both operands are the product just below
    assert_textbook(&tape, y);
    let g = y.backward();
    assert_eq!((g[p], g[x], g[u]), (2.0, 1.0, 6.0));
}

#[test]
fn infinite_and_nan_values_through_a_pair() {
    for (xv, uv) in [
        (f64::INFINITY, 2.0),
        (f64::INFINITY, 0.0),
        (f64::NAN, 1.0),
        (1e300, 1e300),
    ] {
        let tape = Tape::new();
        let (x, u, z) = (tape.var(xv), tape.var(uv), tape.var(1.0));
        let y = (z + x * u) * 2.0;
        assert_textbook(&tape, y);
    }
}

#[test]
fn pairs_on_a_tape_with_a_select_op() {
    // relu puts the sweep in its watching mode; an infinite adjoint through
    // the pair must make it sweep again carefully, masking relu's edge.
    for xv in [-1.0, 0.0, 2.0, f64::INFINITY] {
        let tape = Tape::new();
        let (x, u, z) = (tape.var(xv), tape.var(3.0), tape.var(-0.5));
        let r = z.relu();
        let s = r + x * u;
        let y = s.sqrt() + (r + u * s).square();
        assert_textbook(&tape, y);
    }
}

#[test]
fn a_pair_whose_total_adjoint_cancels_to_zero_on_a_tape_with_an_infinite_partial() {
    // The product's adjoint is 1 (from s) + (−1) (from y = s − p): exactly 0.
    // Its operand x = 0 has sqrt's infinite partial below: 0 · ∞ is NaN on a
    // path (policy rule 2), and the pairing must not hide it.
    let tape = Tape::new();
    let x = tape.var(0.0);
    let r = x.sqrt(); // ∂ = ∞ at 0
    let u = tape.var(2.0);
    let p = r * u;
    let s = u + p;
    let y = s - p;
    assert_textbook(&tape, y);
    let g = y.backward();
    assert_eq!(g[p], 0.0);
    assert!(g[x].is_nan(), "0 · ∞ on a path is NaN, got {}", g[x]);
}

#[test]
fn a_chain_of_sums_whose_partial_sums_are_used_again() {
    // s1 = p0 + p1, s2 = s1 + p2, s3 = s2 + p3: one pair after another. s1 and
    // s2 are used again after the chain (their adjoints hold those
    // contributions when the sweep reaches them), and the chain is broken once
    // by a sum whose product is not the node just below it. (The sweep runs
    // down such chains with the partial sum's adjoint in a register, and
    // must stop where the chain is broken or a partial sum is used again.)
    let tape = Tape::new();
    let w: Vec<Var> = (0..5).map(|k| tape.var(0.5 + 0.25 * k as f64)).collect();
    let x: Vec<Var> = (0..5).map(|k| tape.var(1.0 - 0.3 * k as f64)).collect();
    let p0 = w[0] * x[0];
    let p1 = w[1] * x[1];
    let s1 = p0 + p1;
    let s2 = s1 + w[2] * x[2];
    let s3 = s2 + w[3] * x[3];
    let q = w[4] * x[4];
    let lone = tape.var(0.75); // between the product and its sum: no pair
    let s4 = s3 + lone;
    let s5 = s4 + q;
    let y = s5 * s2 + s1.sin();
    assert_textbook(&tape, y);
    let g = y.backward();
    // By hand: y = s5·s2 + sin(s1), s5 = s2 + p3 + lone + q, s2 = s1 + p2.
    let (s1v, s2v, s5v) = (s1.value(), s2.value(), s5.value());
    let dy_ds5 = s2v;
    let dy_ds2 = s5v + dy_ds5;
    let dy_ds1 = dy_ds2 + s1v.cos();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-14 * b.abs().max(1.0);
    assert!(close(g[s2], dy_ds2), "{} vs {}", g[s2], dy_ds2);
    assert!(close(g[s1], dy_ds1), "{} vs {}", g[s1], dy_ds1);
    assert!(close(g[w[0]], dy_ds1 * x[0].value()));
    assert!(close(g[x[3]], dy_ds5 * w[3].value()));
    assert!(close(g[w[4]], dy_ds5 * x[4].value()));
}

#[test]
fn a_chain_whose_product_uses_the_partial_sum_below_it() {
    // s2 = s1 + s1·w: the product's own contribution to s1 arrives after the
    // sum's (a sweep carrying s1's adjoint down the chain in a register got
    // this wrong).
    let tape = Tape::new();
    let (w, x0, x1, u) = (tape.var(0.5), tape.var(2.0), tape.var(-1.5), tape.var(3.0));
    let p0 = x0 * u;
    let s1 = p0 + x1 * u;
    let s2 = s1 + s1 * w;
    let y = s2 * 2.0;
    assert_textbook(&tape, y);
    let g = y.backward();
    // y = 2·s1·(1 + w): dy/ds1 = 2(1 + w), dy/du = dy/ds1 · (x0 + x1).
    let dy_ds1 = 2.0 * (1.0 + w.value());
    assert_eq!(g[s1], dy_ds1);
    assert_eq!(g[u], dy_ds1 * (x0.value() + x1.value()));
}

#[test]
fn random_chains_of_sums_of_products_sweep_as_the_textbook() {
    // 2,000 random tapes built mostly of `z + x·y` with the product just
    // before its sum (the pattern the sweep pairs), whose products
    // take any earlier node, partial sums included, and whose nodes are used
    // again at random: every case of the pairing's bookkeeping. Values stay
    // finite (products of numbers near ±1), and an occasional relu or sqrt
    // puts the sweep in its watching or careful modes.
    let mut rng = Rng(0x5EED);
    for _ in 0..2_000 {
        let tape = Tape::new();
        let mut nodes: Vec<Var> = (0..4)
            .map(|k| tape.var(0.9 + 0.05 * k as f64 - 0.1 * rng.below(3) as f64))
            .collect();
        let mut sum = nodes[0] * nodes[1];
        for _ in 0..rng.below(12) + 1 {
            let x = nodes[rng.below(nodes.len())];
            let y = nodes[rng.below(nodes.len())];
            sum = match rng.below(8) {
                // Mostly the chained pattern: the product, then the sum.
                0..=4 => sum + x * y,
                5 => sum + sum * x, // the product uses the partial sum
                6 => (x * y) + sum, // the product first: not paired
                _ => sum + x.relu() * (y * 0.5 + 1.0).sqrt(),
            };
            nodes.push(sum);
            if rng.below(4) == 0 {
                nodes.push(sum * 0.5); // fan-out
            }
        }
        let extra = nodes[rng.below(nodes.len())];
        let y = sum + extra * 0.25;
        assert_textbook(&tape, y);
    }
}
