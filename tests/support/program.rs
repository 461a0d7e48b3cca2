//! A random program over every op of the tape, decoded from bytes, and its
//! recording on a [`Tape`].
//!
//! Shared by `tests/oracle.rs` (bytes from a seeded generator), `tests/fuzz_corpus.rs`
//! (the bytes of the fuzz corpus) and the fuzz target `fuzz/fuzz_targets/tape.rs`
//! (bytes from libFuzzer), so a failing input of any of them replays in the others.
//!
//! Every instruction records exactly one node, so program node `i` is tape node `i`
//! and a range of program nodes is a run of consecutive tape nodes (what makes a
//! neuron over runs). The decoder builds in, on purpose rather than by chance:
//! fan-out (operands drawn mostly from the last few nodes, the same node twice in
//! one op: `x * x`, `max(x, x)`, a neuron whose weight is its input), ties (leaves
//! copying an earlier leaf's value), kinks (leaves 0.0 and -0.0, so relu, abs and
//! max meet their conventions), saturations and overflows (±30, ±700, ±1e3),
//! points a few ulps to a few hundred nanounits from domain edges (±1 for asin, acos,
//! atanh and acosh, −1 for log1p, π/2 for tan), constants that tie with leaves (for
//! clamp, max and min against an `f64`), and layers over consecutive runs of nodes.

#![allow(dead_code)]

use chainrule::{Activation, Tape, Var};

/// A unary op, with its constant if it has one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    Sigmoid,
    Tanh,
    Relu,
    LeakyRelu(f64),
    Softplus,
    Exp,
    Ln,
    Sqrt,
    Powi(i32),
    Powf(f64),
    Abs,
    Sin,
    Cos,
    Recip,
    Square,
    Neg,
    Tan,
    Asin,
    Acos,
    Atan,
    Sinh,
    Cosh,
    Asinh,
    Acosh,
    Atanh,
    Log1p,
    /// `ln_1p`, the alias of `log1p`.
    Ln1p,
    Expm1,
    /// `exp_m1`, the alias of `expm1`.
    ExpM1,
    Exp2,
    Log2,
    Log10,
    Cbrt,
    Logsigmoid,
    Silu,
    Signum,
    Erf,
    /// `x.log(base)`.
    Log(f64),
    /// `x.clamp(lo, hi)`, `lo <= hi`.
    Clamp(f64, f64),
    /// `x.max(c)`.
    MaxC(f64),
    /// `x.min(c)`.
    MinC(f64),
    /// `x.atan2(c)`: x the ordinate.
    Atan2C(f64),
    /// `Var::const_atan2(c, x)`: x the abscissa.
    CAtan2(f64),
    /// `x.hypot(c)`.
    HypotC(f64),
    /// `x.constant(c)`: a node with no operands.
    Constant(f64),
}

/// A binary op over two nodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Max,
    Min,
    /// `a.atan2(b)`: a the ordinate.
    Atan2,
    Hypot,
}

/// An op between a node `a` and a constant `c`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WithConst {
    /// `a + c`
    AddC,
    /// `c + a`
    CAdd,
    /// `a - c`
    SubC,
    /// `c - a`
    CSub,
    /// `a * c`
    MulC,
    /// `c * a`
    CMul,
    /// `a / c`
    DivC,
    /// `c / a`
    CDiv,
}

/// One instruction: each records exactly one tape node, except `Leaves` and
/// `Layer`, which record one node per value or per output (consecutively).
#[derive(Clone, Debug, PartialEq)]
pub enum Instr {
    /// Leaves made together by `Tape::vars` (consecutive nodes).
    Leaves(Vec<f64>),
    Unary(Unary, usize),
    Binary(Binary, usize, usize),
    Const(WithConst, usize, f64),
    /// `Var: Sum` over the nodes (repeats allowed).
    Sum(Vec<usize>),
    /// `x.mul_add(a, b)`.
    MulAdd(usize, usize, usize),
    /// `Var::logsumexp` over the nodes (repeats allowed).
    LogSumExp(Vec<usize>),
    /// `Var::weighted_sum(w, x, b)`.
    WeightedSum(Vec<usize>, Vec<usize>, usize),
    /// `Var::neuron(w, x, b, activation)`.
    Neuron(Vec<usize>, Vec<usize>, usize, Activation),
    /// `Var::neuron_const(w, x, b, activation)`.
    NeuronConst(Vec<usize>, Vec<f64>, usize, Activation),
    /// `Var::weighted_sum_const(w, x, b)`.
    WeightedSumConst(Vec<usize>, Vec<f64>, usize),
    /// `Var::layer(params, inputs, activation, outputs)`, with `outputs` outputs.
    Layer(Vec<usize>, Vec<usize>, Activation, usize),
    /// `Var::half_squared_error(outputs, targets)`.
    HalfSquaredError(Vec<usize>, Vec<f64>),
    /// `Var::mean_squared_error(outputs, targets)`.
    MeanSquaredError(Vec<usize>, Vec<f64>),
}

impl Instr {
    /// How many nodes the instruction records.
    pub fn nodes(&self) -> usize {
        match self {
            Instr::Leaves(values) => values.len(),
            Instr::Layer(_, _, _, outputs) => *outputs,
            _ => 1,
        }
    }
}

/// A program: leaves first, then instructions. Its output is its last node.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Program {
    pub instrs: Vec<Instr>,
}

impl Program {
    /// The number of nodes the program records.
    pub fn len(&self) -> usize {
        self.instrs.iter().map(Instr::nodes).sum()
    }

    /// The indices of the leaves.
    pub fn leaves(&self) -> Vec<usize> {
        let mut at = 0;
        let mut leaves = Vec::new();
        for instr in &self.instrs {
            if let Instr::Leaves(values) = instr {
                leaves.extend(at..at + values.len());
            }
            at += instr.nodes();
        }
        leaves
    }
}

/// Bytes read one at a time; past the end every read is 0, so any input decodes.
pub struct Bytes<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Bytes { data, at: 0 }
    }

    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    pub fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    pub fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        if n <= 256 {
            self.u8() as usize % n
        } else {
            self.u32() as usize % n
        }
    }

    pub fn exhausted(&self) -> bool {
        self.at >= self.data.len()
    }
}

/// The most instructions and the widest fused node a program has.
const MAX_INSTRS: usize = 40;
const MAX_WIDTH: usize = 6;

/// A leaf value: kinks, ties, saturations and overflows on purpose, else a value
/// with a full mantissa in [-4, 4).
fn leaf_value(b: &mut Bytes, earlier: &[f64]) -> f64 {
    match b.u8() % 28 {
        0 => 0.0,
        1 => -0.0,
        2 => 1.0,
        3 => -1.0,
        4 => 0.5,
        5 => 2.0,
        6 => -2.0,
        7 | 8 if !earlier.is_empty() => earlier[b.below(earlier.len())], // a tie
        9 => 30.0 + b.u8() as f64 / 8.0,
        10 => -30.0 - b.u8() as f64 / 8.0,
        11 => 700.0 + b.u8() as f64,
        12 => -700.0 - b.u8() as f64,
        13 => 1e-8 * (1.0 + b.u8() as f64),
        14 => 1e3 * (b.u8() as f64 - 128.0),
        15 => 4.99594, // where 1 − tanh² lost 9e-13 relative
        // Just inside and outside the domain edges of asin, acos, atanh (±1),
        // acosh (1) and log1p (−1), and next to tan's pole.
        16 => 1.0 - 1e-9 * (1.0 + b.u8() as f64),
        17 => -1.0 + 1e-9 * (1.0 + b.u8() as f64),
        18 => 1.0 + 1e-9 * (1.0 + b.u8() as f64),
        19 => std::f64::consts::FRAC_PI_2 - 1e-9 * (b.u8() as f64 - 128.0),
        _ => {
            ((b.u32() as u64) << 21 | b.u32() as u64 >> 11) as f64 / (1u64 << 53) as f64 * 8.0 - 4.0
        }
    }
}

/// The base of `x.log(base)`: the usual ones, bases below 1, and the degenerate
/// ones (1 gives ln 1 = 0 in the denominator, 0 and negatives NaN).
fn log_base(b: &mut Bytes) -> f64 {
    match b.u8() % 10 {
        0 => 2.0,
        1 => 10.0,
        2 => std::f64::consts::E,
        3 => 0.5,
        4 => 3.0,
        5 => 1.0,
        6 => 0.0,
        7 => -2.0,
        _ => 1.0 + b.u16() as f64 / 1024.0,
    }
}

/// A constant operand (targets, `x + c`, `c / x`…).
fn constant(b: &mut Bytes) -> f64 {
    match b.u8() % 10 {
        0 => 0.0,
        1 => -0.0,
        2 => 1.0,
        3 => -1.0,
        4 => 2.0,
        5 => 0.1,
        6 => 1e3,
        _ => b.u16() as f64 / 4096.0 - 8.0,
    }
}

fn powi_exponent(b: &mut Bytes) -> i32 {
    match b.u8() % 16 {
        0 => i32::MIN,
        1 => 31,
        2 => -31,
        3 => 400,
        k => k as i32 - 8, // -4..=7
    }
}

fn powf_exponent(b: &mut Bytes) -> f64 {
    match b.u8() % 12 {
        0 => 0.0,
        1 => 1.0,
        2 => 2.0,
        3 => 0.5,
        4 => -0.5,
        5 => -1.0,
        6 => 3.0,
        7 => 1.5,
        8 => 0.1,
        9 => -2.5,
        _ => b.u16() as f64 / 8192.0 - 4.0,
    }
}

fn activation(b: &mut Bytes) -> Activation {
    match b.u8() % 4 {
        0 => Activation::Identity,
        1 => Activation::Sigmoid,
        2 => Activation::Tanh,
        _ => Activation::Relu,
    }
}

/// An operand among the `len > 0` nodes so far: mostly one of the last few
/// (deep chains, fan-out), else any.
fn operand(b: &mut Bytes, len: usize) -> usize {
    let k = b.u8();
    if k % 4 != 0 {
        len - 1 - (k as usize / 4) % len.min(4)
    } else {
        b.below(len)
    }
}

fn operands(b: &mut Bytes, len: usize, n: usize) -> Vec<usize> {
    (0..n).map(|_| operand(b, len)).collect()
}

/// `n` consecutive nodes among the `len ≥ n` so far.
fn run(b: &mut Bytes, len: usize, n: usize) -> Vec<usize> {
    let start = b.below(len - n + 1);
    (start..start + n).collect()
}

/// Decodes a program from bytes (never panics; any input gives a valid program
/// with at least one leaf).
pub fn decode(data: &[u8]) -> Program {
    let mut b = Bytes::new(data);
    let mut instrs = Vec::new();
    let mut leaves: Vec<f64> = Vec::new();
    let first = 1 + b.below(MAX_WIDTH);
    let values: Vec<f64> = (0..first)
        .map(|_| {
            let v = leaf_value(&mut b, &leaves);
            leaves.push(v);
            v
        })
        .collect();
    instrs.push(Instr::Leaves(values));
    let mut len = first;
    let count = 1 + b.below(MAX_INSTRS);
    for _ in 0..count {
        if b.exhausted() {
            break;
        }
        let instr = match b.u8() % 32 {
            0..=11 => {
                let op = match b.u8() % 46 {
                    0 => Unary::Sigmoid,
                    1 => Unary::Tanh,
                    2 => Unary::Relu,
                    3 => Unary::LeakyRelu([0.01, 0.2, 0.0, -0.5][b.below(4)]),
                    4 => Unary::Softplus,
                    5 => Unary::Exp,
                    6 => Unary::Ln,
                    7 => Unary::Sqrt,
                    8 => Unary::Powi(powi_exponent(&mut b)),
                    9 => Unary::Powf(powf_exponent(&mut b)),
                    10 => Unary::Abs,
                    11 => Unary::Sin,
                    12 => Unary::Cos,
                    13 => Unary::Recip,
                    14 => Unary::Square,
                    15 => Unary::Neg,
                    16 => Unary::Tan,
                    17 => Unary::Asin,
                    18 => Unary::Acos,
                    19 => Unary::Atan,
                    20 => Unary::Sinh,
                    21 => Unary::Cosh,
                    22 => Unary::Asinh,
                    23 => Unary::Acosh,
                    24 => Unary::Atanh,
                    25 => Unary::Log1p,
                    26 => Unary::Ln1p,
                    27 => Unary::Expm1,
                    28 => Unary::ExpM1,
                    29 => Unary::Exp2,
                    30 => Unary::Log2,
                    31 => Unary::Log10,
                    32 => Unary::Cbrt,
                    33 => Unary::Logsigmoid,
                    34 => Unary::Signum,
                    35 => Unary::Erf,
                    36 => Unary::Log(log_base(&mut b)),
                    37 | 38 => {
                        // Sorted bounds; lo == hi when both draws agree.
                        let (c, d) = (constant(&mut b), constant(&mut b));
                        Unary::Clamp(c.min(d), c.max(d))
                    }
                    39 => Unary::MaxC(constant(&mut b)),
                    40 => Unary::MinC(constant(&mut b)),
                    41 => Unary::Atan2C(constant(&mut b)),
                    42 => Unary::CAtan2(constant(&mut b)),
                    43 => Unary::HypotC(constant(&mut b)),
                    44 => Unary::Silu,
                    _ => Unary::Constant(constant(&mut b)),
                };
                Instr::Unary(op, operand(&mut b, len))
            }
            12..=19 => {
                let op = [
                    Binary::Add,
                    Binary::Sub,
                    Binary::Mul,
                    Binary::Div,
                    Binary::Pow,
                    Binary::Max,
                    Binary::Min,
                    Binary::Atan2,
                    Binary::Hypot,
                ][b.below(9)];
                let x = operand(&mut b, len);
                // One in four uses the same node twice: x * x, max(x, x).
                let y = if b.u8() % 4 == 0 {
                    x
                } else {
                    operand(&mut b, len)
                };
                Instr::Binary(op, x, y)
            }
            20..=23 => {
                let op = [
                    WithConst::AddC,
                    WithConst::CAdd,
                    WithConst::SubC,
                    WithConst::CSub,
                    WithConst::MulC,
                    WithConst::CMul,
                    WithConst::DivC,
                    WithConst::CDiv,
                ][b.below(8)];
                Instr::Const(op, operand(&mut b, len), constant(&mut b))
            }
            24 => {
                let n = 1 + b.below(MAX_WIDTH);
                match b.u8() % 3 {
                    0 => Instr::Sum(operands(&mut b, len, n)),
                    1 => Instr::LogSumExp(operands(&mut b, len, n)),
                    _ => Instr::MulAdd(
                        operand(&mut b, len),
                        operand(&mut b, len),
                        operand(&mut b, len),
                    ),
                }
            }
            25 => {
                let n = 1 + b.below(MAX_WIDTH);
                let w = operands(&mut b, len, n);
                let x = operands(&mut b, len, n);
                Instr::WeightedSum(w, x, operand(&mut b, len))
            }
            26 | 27 => {
                let n = 1 + b.below(MAX_WIDTH);
                let w = operands(&mut b, len, n);
                // Half the time the inputs are a run of consecutive nodes.
                let x = if b.u8() % 2 == 0 && len >= n {
                    run(&mut b, len, n)
                } else {
                    operands(&mut b, len, n)
                };
                Instr::Neuron(w, x, operand(&mut b, len), activation(&mut b))
            }
            28 => {
                let n = 1 + b.below(MAX_WIDTH);
                let w = operands(&mut b, len, n);
                let x = (0..n).map(|_| constant(&mut b)).collect();
                if b.u8() % 2 == 0 {
                    Instr::WeightedSumConst(w, x, operand(&mut b, len))
                } else {
                    Instr::NeuronConst(w, x, operand(&mut b, len), activation(&mut b))
                }
            }
            29 | 30 => {
                // A layer over a run of inputs, with fresh parameters made together
                // (so neurons of four inputs or more are recorded over runs), or
                // over parameters that are any nodes.
                let n_in = 1 + b.below(MAX_WIDTH);
                let outputs = 1 + b.below(3);
                let inputs = if len >= n_in && b.u8() % 4 != 0 {
                    run(&mut b, len, n_in)
                } else {
                    operands(&mut b, len, n_in)
                };
                let n_params = outputs * (n_in + 1);
                let params = if b.u8() % 4 != 0 {
                    let values: Vec<f64> = (0..n_params)
                        .map(|_| {
                            let v = leaf_value(&mut b, &leaves);
                            leaves.push(v);
                            v
                        })
                        .collect();
                    instrs.push(Instr::Leaves(values));
                    let params = (len..len + n_params).collect();
                    len += n_params;
                    params
                } else {
                    operands(&mut b, len, n_params)
                };
                Instr::Layer(params, inputs, activation(&mut b), outputs)
            }
            _ => {
                let n = 1 + b.below(MAX_WIDTH);
                let outputs = operands(&mut b, len, n);
                let targets = (0..n).map(|_| constant(&mut b)).collect();
                if b.u8() % 2 == 0 {
                    Instr::HalfSquaredError(outputs, targets)
                } else {
                    Instr::MeanSquaredError(outputs, targets)
                }
            }
        };
        // Now and then a few fresh leaves, as a later layer's weights would be.
        len += instr.nodes();
        instrs.push(instr);
        if b.u8() % 16 == 0 {
            let n = 1 + b.below(MAX_WIDTH);
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    let v = leaf_value(&mut b, &leaves);
                    leaves.push(v);
                    v
                })
                .collect();
            len += n;
            instrs.push(Instr::Leaves(values));
        }
    }
    Program { instrs }
}

/// Records the program on `tape` with the public API; returns every node, in
/// order (node `i` of the result is tape node `i`).
pub fn record<'t>(program: &Program, tape: &'t Tape) -> Vec<Var<'t>> {
    let mut v: Vec<Var<'t>> = Vec::with_capacity(program.len());
    for instr in &program.instrs {
        let pick = |list: &[usize], v: &[Var<'t>]| list.iter().map(|&i| v[i]).collect::<Vec<_>>();
        match instr {
            Instr::Leaves(values) => v.extend(tape.vars(values)),
            Instr::Unary(op, a) => {
                let a = v[*a];
                v.push(match *op {
                    Unary::Sigmoid => a.sigmoid(),
                    Unary::Tanh => a.tanh(),
                    Unary::Relu => a.relu(),
                    Unary::LeakyRelu(alpha) => a.leaky_relu(alpha),
                    Unary::Softplus => a.softplus(),
                    Unary::Exp => a.exp(),
                    Unary::Ln => a.ln(),
                    Unary::Sqrt => a.sqrt(),
                    Unary::Powi(n) => a.powi(n),
                    Unary::Powf(c) => a.powf(c),
                    Unary::Abs => a.abs(),
                    Unary::Sin => a.sin(),
                    Unary::Cos => a.cos(),
                    Unary::Recip => a.recip(),
                    Unary::Square => a.square(),
                    Unary::Neg => -a,
                    Unary::Tan => a.tan(),
                    Unary::Asin => a.asin(),
                    Unary::Acos => a.acos(),
                    Unary::Atan => a.atan(),
                    Unary::Sinh => a.sinh(),
                    Unary::Cosh => a.cosh(),
                    Unary::Asinh => a.asinh(),
                    Unary::Acosh => a.acosh(),
                    Unary::Atanh => a.atanh(),
                    Unary::Log1p => a.log1p(),
                    Unary::Ln1p => a.ln_1p(),
                    Unary::Expm1 => a.expm1(),
                    Unary::ExpM1 => a.exp_m1(),
                    Unary::Exp2 => a.exp2(),
                    Unary::Log2 => a.log2(),
                    Unary::Log10 => a.log10(),
                    Unary::Cbrt => a.cbrt(),
                    Unary::Logsigmoid => a.logsigmoid(),
                    Unary::Silu => a.silu(),
                    Unary::Signum => a.signum(),
                    Unary::Erf => a.erf(),
                    Unary::Log(base) => a.log(base),
                    Unary::Clamp(lo, hi) => a.clamp(lo, hi),
                    Unary::MaxC(c) => a.max(c),
                    Unary::MinC(c) => a.min(c),
                    Unary::Atan2C(c) => a.atan2(c),
                    Unary::CAtan2(c) => Var::const_atan2(c, a),
                    Unary::HypotC(c) => a.hypot(c),
                    Unary::Constant(c) => a.constant(c),
                });
            }
            Instr::Binary(op, a, b) => {
                let (a, b) = (v[*a], v[*b]);
                v.push(match op {
                    Binary::Add => a + b,
                    Binary::Sub => a - b,
                    Binary::Mul => a * b,
                    Binary::Div => a / b,
                    Binary::Pow => a.pow(b),
                    Binary::Max => a.max(b),
                    Binary::Min => a.min(b),
                    Binary::Atan2 => a.atan2(b),
                    Binary::Hypot => a.hypot(b),
                });
            }
            Instr::Const(op, a, c) => {
                let (a, c) = (v[*a], *c);
                v.push(match op {
                    WithConst::AddC => a + c,
                    WithConst::CAdd => c + a,
                    WithConst::SubC => a - c,
                    WithConst::CSub => c - a,
                    WithConst::MulC => a * c,
                    WithConst::CMul => c * a,
                    WithConst::DivC => a / c,
                    WithConst::CDiv => c / a,
                });
            }
            Instr::Sum(list) => {
                let s: Var = list.iter().map(|&i| v[i]).sum();
                v.push(s);
            }
            Instr::MulAdd(x, a, b) => v.push(v[*x].mul_add(v[*a], v[*b])),
            Instr::LogSumExp(list) => {
                let s = Var::logsumexp(&pick(list, &v));
                v.push(s);
            }
            Instr::WeightedSum(w, x, b) => {
                let s = Var::weighted_sum(&pick(w, &v), &pick(x, &v), v[*b]);
                v.push(s);
            }
            Instr::Neuron(w, x, b, act) => {
                let s = Var::neuron(&pick(w, &v), &pick(x, &v), v[*b], *act);
                v.push(s);
            }
            Instr::NeuronConst(w, x, b, act) => {
                let s = Var::neuron_const(&pick(w, &v), x, v[*b], *act);
                v.push(s);
            }
            Instr::WeightedSumConst(w, x, b) => {
                let s = Var::weighted_sum_const(&pick(w, &v), x, v[*b]);
                v.push(s);
            }
            Instr::Layer(params, inputs, act, outputs) => {
                let (params, inputs) = (pick(params, &v), pick(inputs, &v));
                let mut out = vec![params[0]; *outputs];
                Var::layer(&params, &inputs, *act, &mut out);
                v.extend(out);
            }
            Instr::HalfSquaredError(outputs, targets) => {
                let e = Var::half_squared_error(&pick(outputs, &v), targets);
                v.push(e);
            }
            Instr::MeanSquaredError(outputs, targets) => {
                let e = Var::mean_squared_error(&pick(outputs, &v), targets);
                v.push(e);
            }
        }
    }
    for (i, var) in v.iter().enumerate() {
        assert_eq!(var.index(), i, "program node {i} is not tape node {i}");
    }
    v
}

/// A small deterministic generator (SplitMix64) for the property tests: random
/// bytes to decode, so a failing case is named by its seed.
pub struct SplitMix(pub u64);

impl SplitMix {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// New leaf values: each old one moved (scaled, shifted, sign flipped, or set to
/// a kink: 0, −0, a tie with the leaf before), chosen by `rng`.
pub fn new_values(old: &[f64], rng: &mut SplitMix) -> Vec<f64> {
    let mut out: Vec<f64> = Vec::with_capacity(old.len());
    for &v in old {
        let new = match rng.next_u64() % 6 {
            0 => v * 1.5 - 0.25,
            1 => -v,
            2 => 0.0,
            3 => -0.0,
            4 => out.last().copied().unwrap_or(0.5),
            _ => v + 0.125,
        };
        out.push(new);
    }
    out
}
