//! A fresh user's review of the record-once/replay `Program`: dead nodes
//! blocked compiling and were blamed by `check`, and what replays wrong far
//! from the recording point is listed (and `check` flags it).

use chainrule::replay::{CompileError, CompileOptions, Divergence};
use chainrule::{Tape, Var};

/// `a + 1.0` on a plain tape, which keeps no constants, is a side
/// computation no output reads: compiling `exp(a)` was refused for it
/// ("node #1 (add_const) has an f64 constant that the tape did not keep"),
/// with every pass and with none.
#[test]
fn a_dead_node_without_its_constant_does_not_block_compiling() {
    let plain = Tape::new();
    let a = plain.var(1.0);
    let metric = a + 1.0; // dead
    let _deeper = metric.sin(); // dead, reads it
    let y = a.exp();
    for options in [CompileOptions::default(), CompileOptions::none()] {
        let mut program = plain
            .compile_with(&[y], options)
            .unwrap_or_else(|e| panic!("{options:?}: {e}"));
        assert_eq!(program.stats().dead, 2, "{options:?}");
        assert_eq!(program.value(metric.index()), None);
        program.set_inputs(&[2.0]);
        program.forward();
        program.backward();
        // exp is exact to the bit against itself: the same f64 function.
        assert_eq!(program.output(0), 2f64.exp());
        assert_eq!(program.gradients(), &[2f64.exp()]);
    }
    // A node an output does read still needs its constant.
    assert_eq!(
        plain.compile(&[metric.exp()]).unwrap_err(),
        CompileError::MissingConstant {
            node: 1,
            op: chainrule::Op::AddConst
        }
    );
}

/// `tape.grad` on a plain tape was blamed for an earlier, unrelated side
/// computation with a dropped constant.
#[test]
fn a_gradient_is_not_blamed_for_an_unrelated_side_computation() {
    let plain = Tape::new();
    let x = plain.var(0.5);
    let _side = x / 3.0; // dead, constant not kept
    let g = plain.grad(x.sin(), &[x]);
    let mut program = plain
        .compile(&g)
        .expect("the side computation is not needed");
    program.set_inputs(&[1.0]);
    program.forward();
    assert_eq!(program.output(0), 1f64.cos()); // cos is the recorded op: same bits
}

fn side_branch<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
    let x = t.vars(a);
    let _unused = if a[0] > 0.0 { x[0].sin() } else { x[0].cos() };
    vec![x[0] * x[1]]
}

/// A branch taken otherwise in a node no output depends on was reported as
/// "the program replays sin, the function now records cos … record again",
/// though the program's output and gradient equal a fresh recording's.
#[test]
fn check_does_not_blame_a_node_no_output_depends_on() {
    for options in [CompileOptions::default(), CompileOptions::none()] {
        let tape = Tape::for_replay();
        let outputs = side_branch(&tape, &[1.0, 2.0]);
        let mut program = tape.compile_with(&outputs, options).unwrap();
        assert_eq!(
            program.check(&[-1.0, 2.0], side_branch),
            Ok(()),
            "{options:?}"
        );
        program.backward();
        assert_eq!(
            (program.output(0), program.gradients()),
            (-2.0, &[2.0, -1.0][..])
        );
    }
    // A branch an output depends on is still named.
    fn used<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
        let x = t.vars(a);
        let s = if a[0] > 0.0 { x[0].sin() } else { x[0].cos() };
        vec![s * x[1]]
    }
    let tape = Tape::for_replay();
    let mut program = tape.compile(&used(&tape, &[1.0, 2.0])).unwrap();
    let err = program.check(&[-1.0, 2.0], used).unwrap_err();
    assert_eq!(err.node(), Some(2), "{err}");
}

/// A side computation that records a node in one branch only shifts the
/// indices of every node after it, not the function: `check` pairs the
/// nodes from the outputs down, and passes. (Paired by index, it named
/// node #3: "the program replays sin, the function now records mul".) A
/// change an output depends on is still named, after the shift too.
#[test]
fn check_passes_a_side_computation_that_shifts_the_nodes() {
    fn shift<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
        let x = t.vars(a);
        if a[0] > 0.0 {
            let _ = x[0] + 1.0;
        }
        vec![x[0].sin() * x[1]]
    }
    for (from, to) in [([1.0, 2.0], [-1.0, 2.0]), ([-1.0, 2.0], [1.0, 2.0])] {
        let tape = Tape::for_replay();
        let mut program = tape.compile(&shift(&tape, &from)).unwrap();
        assert_eq!(program.check(&to, shift), Ok(()), "from {from:?} to {to:?}");
        program.backward();
        let fresh = Tape::new();
        let v = fresh.vars(&to);
        let y = v[0].sin() * v[1];
        let g = y.backward();
        assert_eq!(program.output(0), y.value());
        assert_eq!(program.gradients(), &[g[v[0]], g[v[1]]][..]);
    }
    fn shift_and_change<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
        let x = t.vars(a);
        if a[0] > 0.0 {
            let _ = x[0] + 1.0;
            vec![x[0].sin() * x[1]]
        } else {
            vec![x[0].cos() * x[1]]
        }
    }
    let tape = Tape::for_replay();
    let mut program = tape.compile(&shift_and_change(&tape, &[1.0, 2.0])).unwrap();
    assert!(program.check(&[-1.0, 2.0], shift_and_change).is_err());
    // Inputs swapped in the output (the same ops, other leaves): named.
    fn swapped<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
        let x = t.vars(a);
        if a[0] > 0.0 {
            vec![x[0] - x[1]]
        } else {
            let _ = x[0] + 1.0;
            vec![x[1] - x[0]]
        }
    }
    let tape = Tape::for_replay();
    let outputs = swapped(&tape, &[1.0, 2.0]);
    let sub = outputs[0].index();
    let mut program = tape.compile(&outputs).unwrap();
    let err = program.check(&[-1.0, 2.0], swapped).unwrap_err();
    // The pair that differs is named (the subtraction's operands), not the
    // side computation the shift put at its index ("the program replays
    // sub, the function now records add_const").
    assert_eq!(err.node(), Some(sub), "{err}");
    assert!(!err.to_string().contains("add_const"), "{err}");
    // A constant changed beside a shifting side computation: the constant
    // is named.
    fn constant<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
        let x = t.vars(a);
        if a[0] > 0.0 {
            vec![x[0] + 1.0]
        } else {
            let _ = x[1].sin();
            vec![x[0] + 2.0]
        }
    }
    let tape = Tape::for_replay();
    let mut program = tape.compile(&constant(&tape, &[1.0, 2.0])).unwrap();
    let err = program.check(&[-1.0, 2.0], constant).unwrap_err();
    assert!(
        matches!(err, chainrule::replay::Divergence::Constant { .. }),
        "{err}"
    );
    assert!(!err.to_string().contains("sin"), "{err}");
}

/// Compiled `[sin(x0·x1)]`, checked against a function that records the same
/// four nodes but returns `x0·x1`: "differs in length: 4 nodes replayed, 3
/// recorded", where the difference is which node is the output.
#[test]
fn another_output_node_is_named_as_such() {
    fn sine<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
        let x = t.vars(a);
        vec![(x[0] * x[1]).sin()]
    }
    fn product<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
        let x = t.vars(a);
        let m = x[0] * x[1];
        let _ = m.sin();
        vec![m]
    }
    let tape = Tape::for_replay();
    let mut program = tape.compile(&sine(&tape, &[1.0, 2.0])).unwrap();
    let err = program.check(&[1.0, 2.0], product).unwrap_err();
    assert_eq!(
        err,
        Divergence::Outputs {
            replayed: vec![3],
            recorded: vec![2]
        }
    );
    assert!(
        err.to_string()
            .contains("the program returns node [3], the function now returns node [2]"),
        "{err}"
    );
}

type Record = for<'t> fn(&'t Tape, &[f64]) -> Vec<Var<'t>>;

/// A case: its name, the function, where it is recorded, where replayed, and
/// a fresh recording's value there.
type Case = (&'static str, Record, &'static [f64], &'static [f64], f64);

fn tanh_first<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
    let x = t.var(a[0]);
    t.grad(x.tanh(), &[x])
}

fn tanh_second<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
    let x = t.var(a[0]);
    let g = t.grad(x.tanh(), &[x]);
    t.grad(g[0], &[x])
}

fn sigmoid_second<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
    let x = t.var(a[0]);
    let g = t.grad(x.sigmoid(), &[x]);
    t.grad(g[0], &[x])
}

fn pow_base<'t>(t: &'t Tape, a: &[f64]) -> Vec<Var<'t>> {
    let x = t.vars(a);
    t.grad(x[0].pow(x[1]), &[x[0]])
}

/// What the README and the `chainrule::replay` docs list as replaying wrong
/// far from the recording point (the review found the README saying tanh′
/// past 20 replays right on the other side, at any distance): each case
/// replays as the docs say, a fresh recording gives the number they say, and
/// `Program::check` names a node. Exact comparisons: the fresh values are
/// the limits 0 and ±1e16 exactly (tanh′, tanh″ and σ″ underflow to 0 there;
/// 1e16·(−1)^(1e16 − 1) is exact).
#[test]
fn what_the_docs_list_as_replaying_wrong_far_out_is_named_by_check() {
    let cases: [Case; 4] = [
        ("tanh′ at 21 → −400", tanh_first, &[21.0], &[-400.0], 0.0),
        ("tanh″ at 0.5 → 800", tanh_second, &[0.5], &[800.0], 0.0),
        ("σ″ at 0.5 → 1e10", sigmoid_second, &[0.5], &[1e10], 0.0),
        ("pow ∂/∂x", pow_base, &[0.5, 0.5], &[-1.0, 1e16], -1e16),
    ];
    for (name, f, at, to, fresh) in cases {
        let tape = Tape::for_replay();
        let mut program = tape.compile(&f(&tape, at)).unwrap();
        program.set_inputs(to);
        program.forward();
        let replayed = program.output(0);
        if fresh == 0.0 {
            assert!(replayed.is_nan(), "{name}: {replayed:e}");
        } else {
            assert_eq!(replayed, -fresh, "{name}"); // the wrong sign
        }
        let again = Tape::for_replay();
        assert_eq!(f(&again, to)[0].value(), fresh, "{name}");
        let err = program.check(to, f).expect_err(name);
        assert!(err.node().is_some(), "{name}: {err}");
    }
}
