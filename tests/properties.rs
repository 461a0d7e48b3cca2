//! Property tests on random expression DAGs.
//!
//! A program is a list of steps; each step applies an op to operands picked among
//! the leaves and the results of earlier steps, so results fan out to many users
//! and one node may be used twice by the same op (`a * a`, a sum listing `a` twice).
//! The ops cover the unary functions, the binary operators, `max`/`min`, `pow`,
//! and the n-ary `Sum`, `weighted_sum` and `weighted_sum_const`; and the ops of
//! issue 11: every unary op of the table (inverse functions on arguments squeezed
//! inside their domains by tanh or a² + c), `log(base)`, `clamp`, `max`/`min`
//! against a constant (their side of the bound recorded as a branch), `atan2`
//! and `hypot` away from the origin, with a constant on either side (the
//! ordinate lifted by `constant`), `mul_add` and `logsumexp`. Domains are kept
//! safe by construction: `ln` and `sqrt` only see `softplus(a)` or `a² + 1`,
//! divisions are by `1 + b²`, `pow`'s base is `σ(a) + 0.5`. Programs whose values
//! grow past [`VALUE_BOUND`] are rejected (see the finite-difference tolerance).
//!
//! The program is generic over [`Scalar`], so the very same source runs on `f64`
//! (for the primal and the finite differences) and on `Var` (recorded).
//!
//! Properties:
//! 1. the fast sweep equals the textbook sweep over the petgraph view bit for bit,
//!    from the output and from a random intermediate node;
//! 2. the values recorded on the tape equal the `f64` run bit for bit;
//! 3. the gradient matches central finite differences (tolerance stated at
//!    [`fd_tolerance`]).

use chainrule::graph::textbook_backward;
use chainrule::{Scalar, Tape, Var};
use proptest::prelude::*;
use proptest::sample::Index;

/// Programs with a value beyond this magnitude are rejected, to keep the
/// finite-difference rounding error bounded (see [`fd_tolerance`]).
const VALUE_BOUND: f64 = 100.0;

#[derive(Clone, Copy, Debug)]
enum Unary {
    Sigmoid,
    Tanh,
    Sin,
    Cos,
    Neg,
    Relu,
    Abs,
    LeakyRelu,
    Softplus,
    Square,
    /// e^(tanh a)
    ExpTanh,
    /// ln(softplus a)
    LnSoftplus,
    /// √(a² + 1)
    SqrtSquarePlusOne,
    /// 1 / (1 + a²), with `recip`
    RecipOnePlusSquare,
    /// σ(a)^c
    PowfSigmoid(f64),
    /// (tanh a)^n
    PowiTanh(i32),
    AddConst(f64),
    ConstSub(f64),
    MulConst(f64),
    ConstMul(f64),
    DivConst(f64),
    /// c / (1 + a²)
    ConstDivOnePlusSquare(f64),
    // The ops of issue 11, each on a domain safe by construction.
    /// tan(tanh a): |tanh a| < 1 < π/2
    TanTanh,
    /// asin(0.9·tanh a)
    AsinTanh,
    /// acos(0.9·tanh a)
    AcosTanh,
    Atan,
    /// sinh(2·tanh a)
    SinhTanh,
    /// cosh(2·tanh a)
    CoshTanh,
    Asinh,
    /// acosh(a² + 1.5)
    AcoshSquare,
    /// atanh(0.9·tanh a)
    AtanhTanh,
    /// log1p(a²)
    Log1pSquare,
    /// expm1(tanh a)
    Expm1Tanh,
    /// exp2(tanh a)
    Exp2Tanh,
    /// log2(a² + 0.5)
    Log2Square,
    /// log10(a² + 0.5)
    Log10Square,
    /// log_c(a² + 0.5)
    LogSquare(f64),
    /// cbrt(−a² − 0.25): a negative operand, away from the cusp at 0
    CbrtNegative,
    Logsigmoid,
    Signum,
    Erf,
    Clamp(f64, f64),
    MaxConst(f64),
    MinConst(f64),
    /// atan2(a, c) for c ≥ 0.5
    Atan2Const(f64),
    /// atan2(c, a) for a constant c lifted by `constant` (a node of no operands)
    ConstAtan2(f64),
    /// hypot(a, c) for c ≥ 0.5
    HypotConst(f64),
}

#[derive(Clone, Copy, Debug)]
enum Binary {
    Add,
    Sub,
    Mul,
    /// a / (1 + b²)
    DivOnePlusSquare,
    Max,
    Min,
    /// (σ(a) + 0.5)^(tanh b)
    PowPositive,
    /// a += b; a *= 0.5, as compound assignments
    CompoundAverage,
    /// atan2(a, b² + 0.5): away from the origin and from the cut at x < 0
    Atan2,
    /// hypot(a, b² + 0.5)
    Hypot,
    /// a·b + a, as `mul_add`
    MulAdd,
}

#[derive(Clone, Debug)]
enum Step {
    Unary(Unary, Index),
    Binary(Binary, Index, Index),
    Sum(Vec<Index>),
    WeightedSum(Vec<(Index, Index)>, Index),
    WeightedSumConst(Vec<(Index, f64)>, Index),
    LogSumExp(Vec<Index>),
}

#[derive(Clone, Debug)]
struct Program {
    leaves: Vec<f64>,
    steps: Vec<Step>,
}

fn constant() -> impl Strategy<Value = f64> {
    prop_oneof![-2.0..2.0, Just(0.5), Just(-1.0)]
}

fn unary() -> impl Strategy<Value = Unary> {
    prop_oneof![
        Just(Unary::Sigmoid),
        Just(Unary::Tanh),
        Just(Unary::Sin),
        Just(Unary::Cos),
        Just(Unary::Neg),
        Just(Unary::Relu),
        Just(Unary::Abs),
        Just(Unary::LeakyRelu),
        Just(Unary::Softplus),
        Just(Unary::Square),
        Just(Unary::ExpTanh),
        Just(Unary::LnSoftplus),
        Just(Unary::SqrtSquarePlusOne),
        Just(Unary::RecipOnePlusSquare),
        (0.5..3.0).prop_map(Unary::PowfSigmoid),
        (-3..=4).prop_map(Unary::PowiTanh),
        constant().prop_map(Unary::AddConst),
        constant().prop_map(Unary::ConstSub),
        constant().prop_map(Unary::MulConst),
        constant().prop_map(Unary::ConstMul),
        prop_oneof![-3.0..-0.5, 0.5..3.0].prop_map(Unary::DivConst),
        constant().prop_map(Unary::ConstDivOnePlusSquare),
    ]
}

/// The unary ops of issue 11 (a second list: `prop_oneof!` takes at most 32
/// arms, so they are drawn as one more arm of `step`).
fn unary_issue_11() -> impl Strategy<Value = Unary> {
    prop_oneof![
        Just(Unary::TanTanh),
        Just(Unary::AsinTanh),
        Just(Unary::AcosTanh),
        Just(Unary::Atan),
        Just(Unary::SinhTanh),
        Just(Unary::CoshTanh),
        Just(Unary::Asinh),
        Just(Unary::AcoshSquare),
        Just(Unary::AtanhTanh),
        Just(Unary::Log1pSquare),
        Just(Unary::Expm1Tanh),
        Just(Unary::Exp2Tanh),
        Just(Unary::Log2Square),
        Just(Unary::Log10Square),
        prop_oneof![Just(2.0), Just(0.5), 1.5..10.0].prop_map(Unary::LogSquare),
        Just(Unary::CbrtNegative),
        Just(Unary::Logsigmoid),
        Just(Unary::Signum),
        Just(Unary::Erf),
        (constant(), 0.0..2.0).prop_map(|(lo, w)| Unary::Clamp(lo, lo + w)),
        constant().prop_map(Unary::MaxConst),
        constant().prop_map(Unary::MinConst),
        (0.5..2.0).prop_map(Unary::Atan2Const),
        constant().prop_map(Unary::ConstAtan2),
        (0.5..2.0).prop_map(Unary::HypotConst),
    ]
}

fn binary() -> impl Strategy<Value = Binary> {
    prop_oneof![
        Just(Binary::Add),
        Just(Binary::Sub),
        Just(Binary::Mul),
        Just(Binary::DivOnePlusSquare),
        Just(Binary::Max),
        Just(Binary::Min),
        Just(Binary::PowPositive),
        Just(Binary::CompoundAverage),
        Just(Binary::Atan2),
        Just(Binary::Hypot),
        Just(Binary::MulAdd),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    let pick = any::<Index>;
    prop_oneof![
        4 => (unary(), pick()).prop_map(|(op, a)| Step::Unary(op, a)),
        3 => (unary_issue_11(), pick()).prop_map(|(op, a)| Step::Unary(op, a)),
        4 => (binary(), pick(), pick()).prop_map(|(op, a, b)| Step::Binary(op, a, b)),
        1 => prop::collection::vec(pick(), 1..6).prop_map(Step::Sum),
        1 => (prop::collection::vec((pick(), pick()), 0..4), pick())
            .prop_map(|(pairs, bias)| Step::WeightedSum(pairs, bias)),
        1 => (prop::collection::vec((pick(), constant()), 0..4), pick())
            .prop_map(|(pairs, bias)| Step::WeightedSumConst(pairs, bias)),
        1 => prop::collection::vec(pick(), 1..6).prop_map(Step::LogSumExp),
    ]
}

fn program() -> impl Strategy<Value = Program> {
    (
        prop::collection::vec(-2.0..2.0, 1..5),
        prop::collection::vec(step(), 1..16),
    )
        .prop_map(|(leaves, steps)| Program { leaves, steps })
}

/// Which side of its kink each kinked op (relu, abs, leaky_relu, max, min) fell on.
/// Finite differences are only valid where no perturbation changes it.
type Branches = Vec<i8>;

fn side(x: f64) -> i8 {
    if x > 0.0 {
        1
    } else if x < 0.0 {
        -1
    } else {
        0
    }
}

/// Runs the program on the leaves; returns every step's result (after the leaves)
/// and the branches taken. The very same source runs on f64 and on Var.
fn run<T: Scalar>(program: &Program, leaves: &[T]) -> (Vec<T>, Branches) {
    let mut nodes: Vec<T> = leaves.to_vec();
    let mut branches = Branches::new();
    for step in &program.steps {
        let n = nodes.len();
        let at = |i: &Index| nodes[i.index(n)];
        let result = match step {
            Step::Unary(op, a) => {
                let a = at(a);
                match *op {
                    Unary::Sigmoid => a.sigmoid(),
                    Unary::Tanh => a.tanh(),
                    Unary::Sin => a.sin(),
                    Unary::Cos => a.cos(),
                    Unary::Neg => -a,
                    Unary::Relu => {
                        branches.push(side(a.value()));
                        a.relu()
                    }
                    Unary::Abs => {
                        branches.push(side(a.value()));
                        a.abs()
                    }
                    Unary::LeakyRelu => {
                        branches.push(side(a.value()));
                        a.leaky_relu(0.1)
                    }
                    Unary::Softplus => a.softplus(),
                    Unary::Square => a.square(),
                    Unary::ExpTanh => a.tanh().exp(),
                    Unary::LnSoftplus => a.softplus().ln(),
                    Unary::SqrtSquarePlusOne => (a.square() + 1.0).sqrt(),
                    Unary::RecipOnePlusSquare => (a.square() + 1.0).recip(),
                    Unary::PowfSigmoid(c) => a.sigmoid().powf(c),
                    Unary::PowiTanh(k) => a.tanh().powi(k),
                    Unary::AddConst(c) => a + c,
                    Unary::ConstSub(c) => -a + c,
                    Unary::MulConst(c) => a * c,
                    Unary::ConstMul(c) => a * c,
                    Unary::DivConst(c) => a / c,
                    Unary::ConstDivOnePlusSquare(c) => (a.square() + 1.0).recip() * c,
                    Unary::TanTanh => a.tanh().tan(),
                    Unary::AsinTanh => (a.tanh() * 0.9).asin(),
                    Unary::AcosTanh => (a.tanh() * 0.9).acos(),
                    Unary::Atan => a.atan(),
                    Unary::SinhTanh => (a.tanh() * 2.0).sinh(),
                    Unary::CoshTanh => (a.tanh() * 2.0).cosh(),
                    Unary::Asinh => a.asinh(),
                    Unary::AcoshSquare => (a.square() + 1.5).acosh(),
                    Unary::AtanhTanh => (a.tanh() * 0.9).atanh(),
                    Unary::Log1pSquare => a.square().log1p(),
                    Unary::Expm1Tanh => a.tanh().expm1(),
                    Unary::Exp2Tanh => a.tanh().exp2(),
                    Unary::Log2Square => (a.square() + 0.5).log2(),
                    Unary::Log10Square => (a.square() + 0.5).log10(),
                    Unary::LogSquare(base) => (a.square() + 0.5).log(base),
                    Unary::CbrtNegative => (-a.square() - 0.25).cbrt(),
                    Unary::Logsigmoid => a.logsigmoid(),
                    Unary::Signum => {
                        branches.push(side(a.value()));
                        a.signum()
                    }
                    Unary::Erf => a.erf(),
                    Unary::Clamp(lo, hi) => {
                        branches.push(side(a.value() - lo));
                        branches.push(side(a.value() - hi));
                        a.clamp(lo, hi)
                    }
                    Unary::MaxConst(c) => {
                        branches.push(side(a.value() - c));
                        a.max(c)
                    }
                    Unary::MinConst(c) => {
                        branches.push(side(a.value() - c));
                        a.min(c)
                    }
                    Unary::Atan2Const(c) => a.atan2(c),
                    Unary::ConstAtan2(c) => {
                        // The cut of atan2 is on the negative x axis: a < 0, c = 0.
                        branches.push(side(c));
                        a.constant(c).atan2(a)
                    }
                    Unary::HypotConst(c) => a.hypot(c),
                }
            }
            Step::Binary(op, a, b) => {
                let (a, b) = (at(a), at(b));
                match *op {
                    Binary::Add => a + b,
                    Binary::Sub => a - b,
                    Binary::Mul => a * b,
                    Binary::DivOnePlusSquare => a / (b.square() + 1.0),
                    Binary::Max => {
                        branches.push(side(a.value() - b.value()));
                        a.max(b)
                    }
                    Binary::Min => {
                        branches.push(side(a.value() - b.value()));
                        a.min(b)
                    }
                    Binary::PowPositive => (a.sigmoid() + 0.5).pow(b.tanh()),
                    Binary::CompoundAverage => {
                        let mut m = a;
                        m += b;
                        m *= 0.5;
                        m
                    }
                    Binary::Atan2 => a.atan2(b.square() + 0.5),
                    Binary::Hypot => a.hypot(b.square() + 0.5),
                    Binary::MulAdd => a.mul_add(b, a),
                }
            }
            Step::Sum(picks) => picks.iter().map(at).sum(),
            Step::WeightedSum(pairs, bias) => {
                let w: Vec<T> = pairs.iter().map(|(w, _)| at(w)).collect();
                let x: Vec<T> = pairs.iter().map(|(_, x)| at(x)).collect();
                T::weighted_sum(&w, &x, at(bias))
            }
            Step::WeightedSumConst(pairs, bias) => {
                let w: Vec<T> = pairs.iter().map(|(w, _)| at(w)).collect();
                let x: Vec<f64> = pairs.iter().map(|&(_, x)| x).collect();
                T::weighted_sum_const(&w, &x, at(bias))
            }
            Step::LogSumExp(picks) => {
                let xs: Vec<T> = picks.iter().map(at).collect();
                T::logsumexp(&xs)
            }
        };
        nodes.push(result);
    }
    (nodes, branches)
}

/// The primal: the output (the last step's result) on f64, and the branches.
fn primal(program: &Program, leaves: &[f64]) -> (f64, Branches) {
    let (nodes, branches) = run(program, leaves);
    (*nodes.last().expect("a program has a step"), branches)
}

/// The finite-difference step for a leaf of value x: 1e-5·max(1, |x|).
fn fd_step(x: f64) -> f64 {
    1e-5 * x.abs().max(1.0)
}

/// |g − fd| may reach `1e-6·(1 + |g|)`.
///
/// - Truncation: h²|f'''|/6 with h ≤ 2e-5 (leaves in [−2, 2]) is ≈ 7e-11·|f'''|; the
///   steps are smooth compositions of bounded functions, whose third derivatives
///   stay well within 1e3 at these magnitudes.
/// - Rounding: every value is below 100 in magnitude; a program of at most 15
///   steps (each a few ops) computes f to within ≈ 50 rounding errors of that size,
///   50 · 1.1e-16 · 100 ≈ 5.5e-13 absolute, and dividing by 2h ≥ 2e-5 gives ≈ 3e-8.
///
/// Both stay well below 1e-6 for most programs; where a steep composition makes
/// the truncation error larger, the check adds the gap between the differences
/// with steps h and 2h (truncation grows as h², so that gap is three times the
/// error at h). A wrong partial anywhere would still be off by O(|g|), far beyond
/// either term.
fn fd_tolerance(g: f64) -> f64 {
    1e-6 * (1.0 + g.abs())
}

/// Checks the three properties for `program`, sweeping from `output_pick` as well.
fn check_program(program: &Program, output_pick: Index) -> Result<(), TestCaseError> {
    let (values, base_branches) = run(program, &program.leaves);
    prop_assume!(values
        .iter()
        .all(|v| v.is_finite() && v.abs() <= VALUE_BOUND));

    let tape = Tape::new();
    let leaves = tape.vars(&program.leaves);
    let (nodes, _) = run(program, &leaves);

    // 2. The tape computes the same values, bit for bit.
    for (k, (v, node)) in values.iter().zip(&nodes).enumerate() {
        prop_assert_eq!(
            v.to_bits(),
            node.value().to_bits(),
            "node {} of the program",
            k
        );
    }

    // 1. The fast sweep equals the textbook sweep over the graph view, exactly.
    let graph = tape.graph();
    let y = *nodes.last().unwrap();
    let intermediate = nodes[output_pick.index(nodes.len())];
    for output in [y, intermediate] {
        let fast = output.backward();
        let textbook = textbook_backward(&graph, output.index());
        prop_assert_eq!(textbook.len(), tape.len());
        prop_assert_eq!(fast.as_slice().len(), output.index() + 1);
        for (i, (f, t)) in fast.as_slice().iter().zip(&textbook).enumerate() {
            prop_assert_eq!(
                f.to_bits(),
                t.to_bits(),
                "node {}: fast {} textbook {}",
                i,
                f,
                t
            );
        }
        prop_assert!(textbook[output.index() + 1..].iter().all(|&t| t == 0.0));
        for node in &nodes {
            if node.index() > output.index() {
                prop_assert_eq!(fast[*node], 0.0);
            }
        }
    }

    // 3. Central finite differences on the f64 run, leaf by leaf.
    let g = y.backward();
    for (i, &leaf) in leaves.iter().enumerate() {
        let h = fd_step(program.leaves[i]);
        let (mut plus, mut minus) = (program.leaves.clone(), program.leaves.clone());
        plus[i] += h;
        minus[i] -= h;
        let (f_plus, branches_plus) = primal(program, &plus);
        let (f_minus, branches_minus) = primal(program, &minus);
        if branches_plus != base_branches || branches_minus != base_branches {
            continue; // a kink lies within h of this point: no derivative to compare
        }
        let fd = (f_plus - f_minus) / (plus[i] - minus[i]);
        // The same difference with twice the step: its gap to `fd` measures the
        // truncation error, which steep compositions (sin(1/tanh x) near x = 0)
        // make larger than any fixed bound.
        let (mut plus2, mut minus2) = (program.leaves.clone(), program.leaves.clone());
        plus2[i] += 2.0 * h;
        minus2[i] -= 2.0 * h;
        let (f_plus2, branches_plus2) = primal(program, &plus2);
        let (f_minus2, branches_minus2) = primal(program, &minus2);
        if branches_plus2 != base_branches || branches_minus2 != base_branches {
            continue;
        }
        let fd2 = (f_plus2 - f_minus2) / (plus2[i] - minus2[i]);
        let gi = g[leaf];
        prop_assert!(
            (gi - fd).abs() <= fd_tolerance(gi) + (fd - fd2).abs(),
            "d/dleaf{}: tape {:e}, finite differences {:e} (step h) and {:e} (step 2h)",
            i,
            gi,
            fd,
            fd2
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        // A fixed seed: CI runs the same 1024 programs every time (set
        // another seed here to explore other programs).
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C4_A1B2),
        max_global_rejects: 8192,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_dags_sweep_exactly_as_the_textbook_and_match_finite_differences(
        program in program(),
        output_pick in any::<Index>(),
    ) {
        check_program(&program, output_pick)?;
    }
}

/// A fixed program with heavy fan-out, as a plain test that always runs the same.
#[test]
fn a_fixed_program_with_fan_out_sweeps_exactly_as_the_textbook() {
    let tape = Tape::new();
    let x = tape.var(0.7);
    let w = tape.var(-1.3);
    let a = (x * w).tanh();
    let b = a * a + x;
    let c: Var = [a, b, a, x].into_iter().sum();
    let d = Var::weighted_sum(&[a, b], &[c, a], x).sigmoid();
    let y = d.max(b) * c - (a.square() + 1.0).ln();
    let g = y.backward();
    let textbook = textbook_backward(&tape.graph(), y.index());
    for (i, (f, t)) in g.as_slice().iter().zip(&textbook).enumerate() {
        assert_eq!(f.to_bits(), t.to_bits(), "node {i}");
    }
    assert!(g[x] != 0.0 && g[w] != 0.0);
}
