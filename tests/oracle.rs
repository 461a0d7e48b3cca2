//! The tape against an independent forward-mode oracle (`tests/support/oracle.rs`)
//! on random programs over every op, with fan-out, ties and kinks built in, and
//! against the textbook sweep of the graph view, bit for bit.

mod support;

use chainrule::{Activation, Op, Tape, Var};
use support::oracle::{check, evaluate, tangent};
use support::program::{decode, record, Binary, Instr, Program, SplitMix, Unary};

/// Cases in the property test (the issue asks for at least 100,000).
const CASES: u64 = 100_000;
/// Bytes decoded per case: enough for the longest program (40 instructions).
const BYTES: usize = 400;

#[test]
fn random_programs_agree_with_the_dual_oracle() {
    let start = std::time::Instant::now();
    let mut failures = Vec::new();
    let mut nodes = 0usize;
    for seed in 0..CASES {
        let program = decode(&SplitMix(seed).bytes(BYTES));
        nodes += program.len();
        if let Err(e) = check(&program) {
            failures.push(format!("seed {seed}: {e}"));
        }
    }
    let compared = support::oracle::COMPARED.with(|c| c.get());
    let out_of_range = support::oracle::OUT_OF_RANGE.with(|c| c.get());
    eprintln!(
        "{CASES} programs, {nodes} nodes, {compared} derivatives compared, {out_of_range} out \
         of range, {} failures, in {:.2?}",
        failures.len(),
        start.elapsed()
    );
    // The range limit must not hollow the test out.
    assert!(out_of_range * 20 < compared, "{out_of_range} out of range");
    assert!(
        failures.is_empty(),
        "{} of {CASES} programs disagree; first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(20)].join("\n")
    );
}

/// The generator reaches every op, and meets the kinks and ties on purpose.
#[test]
fn the_generator_covers_every_op_kink_and_tie() {
    let mut ops = std::collections::HashSet::new();
    let (mut relu_zero, mut relu_neg_zero, mut abs_zero, mut max_tie, mut same_operand) =
        (0, 0, 0, 0, 0);
    let mut runs = 0;
    for seed in 0..3000 {
        let program = decode(&SplitMix(seed).bytes(BYTES));
        let tape = Tape::new();
        let vars = record(&program, &tape);
        for i in 0..tape.len() {
            let op = tape.op(i);
            ops.insert(op);
            let edges = tape.edges(i);
            let first = edges.first().map(|&(o, _)| vars[o].value());
            match op {
                Op::Relu if first.is_some_and(|v| v == 0.0 && v.is_sign_positive()) => {
                    relu_zero += 1
                }
                Op::Relu if first.is_some_and(|v| v == 0.0 && v.is_sign_negative()) => {
                    relu_neg_zero += 1
                }
                Op::Abs if first == Some(0.0) => abs_zero += 1,
                Op::Max | Op::Min if vars[edges[0].0].value() == vars[edges[1].0].value() => {
                    max_tie += 1
                }
                _ => {}
            }
            if edges.len() == 2 && edges[0].0 == edges[1].0 {
                same_operand += 1;
            }
        }
        runs += program
            .instrs
            .iter()
            .filter(|i| matches!(i, Instr::Layer(_, x, _, _) if x.len() >= 4 && x.windows(2).all(|w| w[1] == w[0] + 1)))
            .count();
    }
    let all = [
        Op::Leaf,
        Op::Add,
        Op::Sub,
        Op::Mul,
        Op::Div,
        Op::Neg,
        Op::AddConst,
        Op::SubConst,
        Op::ConstSub,
        Op::MulConst,
        Op::DivConst,
        Op::ConstDiv,
        Op::Sigmoid,
        Op::Tanh,
        Op::Relu,
        Op::LeakyRelu,
        Op::Softplus,
        Op::Exp,
        Op::Ln,
        Op::Sqrt,
        Op::Powi,
        Op::Powf,
        Op::Pow,
        Op::Abs,
        Op::Sin,
        Op::Cos,
        Op::Recip,
        Op::Square,
        Op::Max,
        Op::Min,
        Op::Sum,
        Op::WeightedSum,
        Op::SigmoidNeuron,
        Op::TanhNeuron,
        Op::ReluNeuron,
        Op::HalfSquaredError,
        Op::MeanSquaredError,
    ];
    for op in all {
        assert!(ops.contains(&op), "no program recorded {op}");
    }
    eprintln!(
        "relu(0): {relu_zero}, relu(-0): {relu_neg_zero}, abs(0): {abs_zero}, \
         max/min ties: {max_tie}, one node twice: {same_operand}, layers over runs: {runs}"
    );
    for (what, count) in [
        ("relu at 0", relu_zero),
        ("relu at -0.0", relu_neg_zero),
        ("abs at 0", abs_zero),
        ("a max/min tie", max_tie),
        ("a node used twice by one node", same_operand),
        ("a layer over a run of four inputs or more", runs),
    ] {
        assert!(count >= 20, "only {count} cases of {what} in 3000 programs");
    }
}

/// A program of leaves then instructions, by hand.
fn program(leaves: &[f64], instrs: Vec<Instr>) -> Program {
    let mut all = vec![Instr::Leaves(leaves.to_vec())];
    all.extend(instrs);
    Program { instrs: all }
}

/// The tape's gradient of the program's output at node `i`, after checking the
/// whole program against the oracle.
fn gradient(p: &Program, i: usize) -> f64 {
    check(p).unwrap_or_else(|e| panic!("{e}"));
    let tape = Tape::new();
    let vars = record(p, &tape);
    let g = vars.last().unwrap().backward();
    g.by_index(i)
}

/// The oracle's derivative of the output with respect to leaf `i` (0 where it
/// does not depend on it).
fn oracle(p: &Program, i: usize) -> f64 {
    tangent(&evaluate(p), i).map_or(0.0, |t| t.value)
}

#[test]
fn an_indeterminate_derivative_is_nan_not_zero() {
    // sqrt(x)² at 0: ∂/∂x = 2√x · 1/(2√x) = 0 · ∞.
    let p = program(
        &[0.0],
        vec![Instr::Unary(Unary::Sqrt, 0), Instr::Unary(Unary::Square, 1)],
    );
    assert!(oracle(&p, 0).is_nan());
    assert!(gradient(&p, 0).is_nan());
    // |x^0.5| at -1: the value is NaN, and so is every partial after it.
    let p = program(
        &[-1.0],
        vec![
            Instr::Unary(Unary::Powf(0.5), 0),
            Instr::Unary(Unary::Abs, 1),
        ],
    );
    assert!(oracle(&p, 0).is_nan());
    assert!(gradient(&p, 0).is_nan());
}

#[test]
fn relu_masks_an_infinite_adjoint() {
    // sqrt(relu(x)) at -1 and at -0.0: sqrt' = ∞ at 0, but relu selected nothing.
    for x in [-1.0, -0.0, 0.0] {
        let p = program(
            &[x],
            vec![Instr::Unary(Unary::Relu, 0), Instr::Unary(Unary::Sqrt, 1)],
        );
        assert_eq!(oracle(&p, 0).to_bits(), 0.0f64.to_bits(), "oracle at {x}");
        assert_eq!(gradient(&p, 0).to_bits(), 0.0f64.to_bits(), "tape at {x}");
    }
}

#[test]
fn a_relu_neuron_below_zero_masks_its_weights_inputs_and_bias() {
    // z = 0.5·(-1) + 0.25·2 + (-1) = -1 < 0, then sqrt: adjoint ∞ at the neuron.
    let p = program(
        &[0.5, 0.25, -1.0, 2.0, -1.0],
        vec![
            Instr::Neuron(vec![0, 1], vec![2, 3], 4, Activation::Relu),
            Instr::Unary(Unary::Sqrt, 5),
        ],
    );
    for leaf in 0..5 {
        assert_eq!(
            gradient(&p, leaf).to_bits(),
            0.0f64.to_bits(),
            "leaf {leaf}"
        );
    }
    // The same over runs: four inputs, a layer of two, both below zero.
    let mut leaves = vec![-1.0, -2.0, -3.0, -4.0];
    leaves.extend([0.5, 0.5, 0.5, 0.5, -1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
    let p = program(
        &leaves,
        vec![
            Instr::Layer((4..14).collect(), (0..4).collect(), Activation::Relu, 2),
            Instr::Binary(Binary::Add, 14, 15),
            Instr::Unary(Unary::Sqrt, 16),
        ],
    );
    let tape = Tape::new();
    let vars = record(&p, &tape);
    assert_eq!(
        tape.edge_count(),
        2 * 9 + 2 + 1,
        "the layer's neurons over runs"
    );
    let g = vars.last().unwrap().backward();
    for leaf in 0..14 {
        assert_eq!(g.by_index(leaf).to_bits(), 0.0f64.to_bits(), "leaf {leaf}");
    }
    check(&p).unwrap();
}

#[test]
fn max_and_min_give_the_unselected_operand_zero_whatever_the_adjoint() {
    for op in [Binary::Max, Binary::Min] {
        // max(a, b) then sqrt at 0 (adjoint ∞), or ln then 0·∞ (adjoint NaN).
        // a = 0 and b = -1 for max, a = 0 and b = 1 for min: a is selected.
        let b = if op == Binary::Max { -1.0 } else { 1.0 };
        let infinite = program(
            &[0.0, b],
            vec![Instr::Binary(op, 0, 1), Instr::Unary(Unary::Sqrt, 2)],
        );
        assert_eq!(
            gradient(&infinite, 1).to_bits(),
            0.0f64.to_bits(),
            "{op:?}, ∞"
        );
        assert_eq!(gradient(&infinite, 0), f64::INFINITY);
        let nan = program(
            &[0.0, b],
            vec![
                Instr::Binary(op, 0, 1),
                Instr::Unary(Unary::Sqrt, 2),
                Instr::Unary(Unary::Square, 3),
            ],
        );
        assert_eq!(gradient(&nan, 1).to_bits(), 0.0f64.to_bits(), "{op:?}, NaN");
        assert!(gradient(&nan, 0).is_nan());
        // A tie splits ½ each (as torch.maximum): under √ at 0 both get ∞.
        let tie = program(
            &[0.0, 0.0],
            vec![Instr::Binary(op, 1, 0), Instr::Unary(Unary::Sqrt, 2)],
        );
        assert_eq!(gradient(&tie, 0), f64::INFINITY);
        assert_eq!(gradient(&tie, 1), f64::INFINITY);
        let same = program(
            &[3.0],
            vec![Instr::Binary(op, 0, 0), Instr::Unary(Unary::Square, 1)],
        );
        assert_eq!(gradient(&same, 0), 6.0);
    }
}

#[test]
fn an_unused_side_branch_never_leaks() {
    // sqrt(-1) and ln(0) computed on the side; the output is x · 2.
    let p = program(
        &[-1.0, 0.0],
        vec![
            Instr::Unary(Unary::Sqrt, 0),
            Instr::Unary(Unary::Ln, 1),
            Instr::Binary(Binary::Mul, 2, 3),
            Instr::Const(support::program::WithConst::MulC, 0, 2.0),
        ],
    );
    assert_eq!(gradient(&p, 0), 2.0);
    assert_eq!(gradient(&p, 1).to_bits(), 0.0f64.to_bits());
    let tape = Tape::new();
    let vars: Vec<Var> = record(&p, &tape);
    let g = vars[5].backward();
    assert_eq!(&g.as_slice()[2..5], &[0.0, 0.0, 0.0]);
}
