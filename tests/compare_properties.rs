//! Every slip `compare` names is true of the numbers: on random small graphs,
//! against hand values made by leaving a factor out of a path, by counting
//! paths 0, 1, 2 times or with the wrong sign, and at random, whatever the
//! diagnosis names is recomputed from the explanation it comes with and must
//! give the hand value within the comparison's tolerance.
//!
//! The tolerance is the comparison's own (`Tolerance::MANUAL`: 1e-12 +
//! 1e-7·|hand|); the recomputation multiplies the same factors in another
//! order (the products from both ends of a path against from the top), which
//! differs from the search's by a few ulps, far inside it: a factor 10 of
//! slack is allowed for that.

use chainrule::explain::{Explanation, Path};
use chainrule::gradcheck::{Diagnosis, Finding, Tolerance};
use chainrule::{Tape, Var};
use proptest::prelude::*;

#[derive(Clone, Copy, Debug)]
enum Op {
    Sin,
    Exp,
    Tanh,
    Square,
    Scale(f64),
    Add,
    Mul,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        Just(Op::Sin),
        Just(Op::Exp),
        Just(Op::Tanh),
        Just(Op::Square),
        prop_oneof![Just(0.5), Just(2.0), Just(3.0), -2.0..2.0].prop_map(Op::Scale),
        Just(Op::Add),
        Just(Op::Mul),
    ]
}

/// A program: each step an op on one or two of the nodes before it (picked
/// by the two fractions), the last step the output.
fn program() -> impl Strategy<Value = Vec<(Op, f64, f64)>> {
    prop::collection::vec((op(), 0.0..1.0, 0.0..1.0), 1..9)
}

/// How the hand value is made.
#[derive(Clone, Debug)]
enum Hand {
    /// The factor at (path, factor) fractions left out of that path.
    DropFactor(f64, f64),
    /// Each path counted 1 except one, counted 0, 2 or −1.
    Coefficient(f64, i8),
    /// Any number.
    Random(f64),
}

fn hand() -> impl Strategy<Value = Hand> {
    prop_oneof![
        (0.0..1.0, 0.0..1.0).prop_map(|(p, f)| Hand::DropFactor(p, f)),
        (0.0..1.0, prop_oneof![Just(0i8), Just(2), Just(-1)])
            .prop_map(|(p, c)| Hand::Coefficient(p, c)),
        (-5.0..5.0).prop_map(Hand::Random),
    ]
}

fn pick(n: usize, u: f64) -> usize {
    ((u * n as f64) as usize).min(n - 1)
}

fn record<'t>(tape: &'t Tape, x: Var<'t>, y: Var<'t>, steps: &[(Op, f64, f64)]) -> Var<'t> {
    let mut nodes = vec![x, y];
    for (k, &(op, u, v)) in steps.iter().enumerate() {
        let a = nodes[pick(nodes.len(), u)];
        let b = nodes[pick(nodes.len(), v)];
        let node = match op {
            Op::Sin => a.sin(),
            Op::Exp => (a * 0.5).exp(),
            Op::Tanh => a.tanh(),
            Op::Square => a.square(),
            Op::Scale(c) => a * c,
            Op::Add => a + b,
            Op::Mul => a * b,
        };
        // Some quantities labelled, as a learner names them, so that
        // explanations fold the rest.
        nodes.push(if k % 2 == 0 {
            node.named(format!("q{k}"))
        } else {
            node
        });
    }
    let _ = tape;
    *nodes.last().expect("a node")
}

/// A path's product with its factor `j` left out, from the top down.
fn without(path: &Path, j: usize) -> f64 {
    path.factors
        .iter()
        .enumerate()
        .filter(|&(k, _)| k != j)
        .fold(1.0, |p, (_, f)| if f.masked { 0.0 } else { p * f.value })
}

/// Whether what `d` names, recomputed from `explanation`, gives its hand
/// value; an error saying what does not hold otherwise.
fn holds(d: &Diagnosis, explanation: &Explanation, slack: Tolerance) -> Result<(), String> {
    let sum_of = |c: &[i8]| -> f64 {
        d.terms
            .iter()
            .zip(c)
            .map(|(t, &k)| f64::from(k) * t.contribution)
            .sum()
    };
    let check_sums = |alternatives: &[Vec<i8>]| -> Result<(), String> {
        for c in alternatives {
            let s = sum_of(c);
            if !slack.accepts(s, d.expected) {
                return Err(format!("the sum {c:?} is {s}, not {}", d.expected));
            }
        }
        Ok(())
    };
    match &d.finding {
        Finding::EqualsPaths { coefficients } => check_sums(std::slice::from_ref(coefficients)),
        Finding::Ambiguous { alternatives } => check_sums(alternatives),
        Finding::MissingFactor {
            value, paths, also, ..
        } => {
            check_sums(also)?;
            let all = explanation.paths();
            // Each named path has a factor of that value; leaving out one
            // such factor of each named path gives the hand value.
            let mut total = 0.0;
            for (k, path) in all.iter().enumerate() {
                if paths.contains(&(k + 1)) {
                    let j = path
                        .factors
                        .iter()
                        .position(|f| f.value.to_bits() == value.to_bits())
                        .ok_or_else(|| format!("path {} has no factor {value}", k + 1))?;
                    total += without(path, j);
                } else {
                    total += path.product;
                }
            }
            if slack.accepts(total, d.expected) {
                Ok(())
            } else {
                Err(format!(
                    "leaving {value} out of paths {paths:?} gives {total}, not {}",
                    d.expected
                ))
            }
        }
        _ => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // A fixed seed: CI runs the same cases every time.
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x51_1B5),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_slip_named_is_true_of_the_numbers(
        steps in program(),
        (x0, y0) in (-1.5..1.5, -1.5..1.5),
        hand in hand(),
    ) {
        let tape = Tape::new();
        let x = tape.var(x0).named("x");
        let y = tape.var(y0).named("y");
        let out = record(&tape, x, y, &steps);
        let g = out.backward();
        prop_assume!(g[x].is_finite() && g[x] != 0.0);
        let explanation = g.explain(x);
        let paths = explanation.paths();
        prop_assume!(!paths.is_empty() && explanation.left_out() == 0);
        let value = match hand {
            Hand::DropFactor(p, f) => {
                let path = &paths[pick(paths.len(), p)];
                prop_assume!(!path.factors.is_empty());
                let j = pick(path.factors.len(), f);
                g[x] - path.product + without(path, j)
            }
            Hand::Coefficient(p, c) => {
                let k = pick(paths.len(), p);
                g[x] + (f64::from(c) - 1.0) * paths[k].product
            }
            Hand::Random(v) => v,
        };
        prop_assume!(value.is_finite());
        let comparison = g.compare(&[(x, value)]);
        let manual = Tolerance::MANUAL;
        let slack = Tolerance { atol: 10.0 * manual.atol, rtol: 10.0 * manual.rtol };
        for (d, (_, explanation)) in comparison.diagnoses().iter().zip(&comparison.mismatches) {
            if let Err(e) = holds(d, explanation, slack) {
                return Err(TestCaseError::fail(format!("{e}\n{d}\n{explanation}")));
            }
        }
    }
}
