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

/// Programs decoded by the coverage test: 10,000 since the decoder draws among 45
/// unary ops (3,000 were enough for 16).
const COVERAGE_PROGRAMS: u64 = 10_000;

/// The generator reaches every op, and meets the kinks and ties on purpose.
#[test]
fn the_generator_covers_every_op_kink_and_tie() {
    let mut ops = std::collections::HashSet::new();
    let (mut relu_zero, mut relu_neg_zero, mut abs_zero, mut max_tie, mut same_operand) =
        (0, 0, 0, 0, 0);
    let mut runs = 0;
    let (mut clamp_bound, mut const_tie, mut origin, mut lse_infinite) = (0, 0, 0, 0);
    for seed in 0..COVERAGE_PROGRAMS {
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
        for instr in &program.instrs {
            match instr {
                Instr::Unary(Unary::Clamp(lo, hi), a)
                    if vars[*a].value() == *lo || vars[*a].value() == *hi =>
                {
                    clamp_bound += 1
                }
                Instr::Unary(Unary::MaxC(c) | Unary::MinC(c), a) if vars[*a].value() == *c => {
                    const_tie += 1
                }
                Instr::Unary(Unary::Atan2C(c) | Unary::CAtan2(c) | Unary::HypotC(c), a)
                    if vars[*a].value() == 0.0 && *c == 0.0 =>
                {
                    origin += 1
                }
                Instr::Binary(Binary::Atan2 | Binary::Hypot, a, b)
                    if vars[*a].value() == 0.0 && vars[*b].value() == 0.0 =>
                {
                    origin += 1
                }
                Instr::LogSumExp(list) if list.iter().any(|&i| vars[i].value().is_infinite()) => {
                    lse_infinite += 1
                }
                _ => {}
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
        // The ops of issue 11 outside the table of unary ops (the table's own ops
        // are every entry of `chainrule::ops::UNARY`, added below).
        Op::Const,
        Op::Log,
        Op::MaxConst,
        Op::MinConst,
        Op::Clamp,
        Op::Atan2,
        Op::Atan2Const,
        Op::ConstAtan2,
        Op::Hypot,
        Op::HypotConst,
        Op::MulAdd,
        Op::LogSumExp,
    ];
    let all = all
        .into_iter()
        .chain(chainrule::ops::UNARY.iter().map(|rule| rule.op));
    for op in all {
        assert!(ops.contains(&op), "no program recorded {op}");
    }
    eprintln!(
        "relu(0): {relu_zero}, relu(-0): {relu_neg_zero}, abs(0): {abs_zero}, \
         max/min ties: {max_tie}, one node twice: {same_operand}, layers over runs: {runs}, \
         clamp at a bound: {clamp_bound}, ties with a constant: {const_tie}, \
         atan2/hypot at the origin: {origin}, logsumexp over ±inf: {lse_infinite}"
    );
    for (what, count) in [
        ("relu at 0", relu_zero),
        ("relu at -0.0", relu_neg_zero),
        ("abs at 0", abs_zero),
        ("a max/min tie", max_tie),
        ("a node used twice by one node", same_operand),
        ("a layer over a run of four inputs or more", runs),
        ("clamp at one of its bounds", clamp_bound),
        ("max/min of a Var and a constant it ties with", const_tie),
        ("atan2 or hypot at the origin", origin),
        ("logsumexp with an infinite input", lse_infinite),
    ] {
        assert!(
            count >= 20,
            "only {count} cases of {what} in {COVERAGE_PROGRAMS} programs"
        );
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

#[test]
fn a_constant_selected_by_max_min_or_clamp_masks_an_infinite_adjoint() {
    // √(op(x)) at x = −1 where op selects 0 (the constant or the bound): √′(0) = ∞,
    // yet x gets exactly 0, as under relu.
    for op in [
        Unary::MaxC(0.0),
        Unary::Clamp(0.0, 1.0),
        Unary::Clamp(0.0, 0.0),
    ] {
        let p = program(
            &[-1.0],
            vec![Instr::Unary(op, 0), Instr::Unary(Unary::Sqrt, 1)],
        );
        assert_eq!(oracle(&p, 0).to_bits(), 0.0f64.to_bits(), "oracle, {op:?}");
        assert_eq!(gradient(&p, 0).to_bits(), 0.0f64.to_bits(), "tape, {op:?}");
    }
    let p = program(
        &[1.0],
        vec![
            Instr::Unary(Unary::MinC(0.0), 0),
            Instr::Unary(Unary::Sqrt, 1),
        ],
    );
    assert_eq!(gradient(&p, 0).to_bits(), 0.0f64.to_bits());
    // At a tie the Var gets ½ of ∞.
    let p = program(
        &[0.0],
        vec![
            Instr::Unary(Unary::MaxC(0.0), 0),
            Instr::Unary(Unary::Sqrt, 1),
        ],
    );
    assert_eq!(gradient(&p, 0), f64::INFINITY);
}

#[test]
fn the_edges_of_the_new_ops_agree_with_the_oracle() {
    use support::program::WithConst;
    let inf = f64::INFINITY;
    let cases: Vec<Program> = vec![
        // logsumexp: all −inf, some +inf, a NaN, one node twice, then a use.
        program(&[-inf, -inf], vec![Instr::LogSumExp(vec![0, 1, 0])]),
        program(&[inf, 1.0, inf], vec![Instr::LogSumExp(vec![0, 1, 2, 0])]),
        program(&[f64::NAN, 1.0], vec![Instr::LogSumExp(vec![0, 1])]),
        program(
            &[1000.0, -1000.0, 3.0],
            vec![
                Instr::LogSumExp(vec![0, 1, 2]),
                Instr::Const(WithConst::MulC, 3, 2.0),
            ],
        ),
        // atan2 and hypot at the origin, on the axes and of one node twice.
        program(&[0.0, -0.0], vec![Instr::Binary(Binary::Atan2, 0, 1)]),
        program(&[0.0, 0.0], vec![Instr::Binary(Binary::Hypot, 0, 1)]),
        program(&[0.0, -2.0], vec![Instr::Binary(Binary::Atan2, 0, 1)]),
        program(&[3.0], vec![Instr::Binary(Binary::Atan2, 0, 0)]),
        program(&[3.0], vec![Instr::Binary(Binary::Hypot, 0, 0)]),
        program(&[0.0], vec![Instr::Unary(Unary::CAtan2(0.0), 0)]),
        program(&[0.0], vec![Instr::Unary(Unary::HypotC(0.0), 0)]),
        // mul_add with one node in every slot.
        program(&[3.0], vec![Instr::MulAdd(0, 0, 0)]),
        // Domain edges.
        program(&[1.0], vec![Instr::Unary(Unary::Asin, 0)]),
        program(&[-1.0], vec![Instr::Unary(Unary::Atanh, 0)]),
        program(&[1.0], vec![Instr::Unary(Unary::Acosh, 0)]),
        program(&[-1.0], vec![Instr::Unary(Unary::Log1p, 0)]),
        program(&[0.0], vec![Instr::Unary(Unary::Cbrt, 0)]),
        program(&[-1000.0], vec![Instr::Unary(Unary::Logsigmoid, 0)]),
        program(&[0.0], vec![Instr::Unary(Unary::Signum, 0)]),
        program(&[2.0], vec![Instr::Unary(Unary::Log(1.0), 0)]),
        // A constant: no path from the leaf.
        program(&[2.0], vec![Instr::Unary(Unary::Constant(5.0), 0)]),
    ];
    for p in &cases {
        check(p).unwrap_or_else(|e| panic!("{p:?}: {e}"));
    }
}
