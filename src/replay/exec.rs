//! The instructions of a [`Program`](super::Program), and the two loops that run
//! them: forward (values and local partials, each computed by the very function
//! the op records with) and backward (one reverse sweep of
//! `adjoint[operand] += adjoint · partial`).
//!
//! Every value lives in a *slot*: the leaves first (slots `0..leaves`, in
//! recording order), then one slot per instruction (in program order), then the
//! constants. A weighted sum reads its terms as *segments*: runs of consecutive
//! slots `a, a + 1, …` times `b, b + 1, …`, which the loops below read as slices.

use crate::activation::Activation;
use crate::fused::{half_squared_error_value, sum_of_squared_errors};
use crate::ops::kernels::{
    leaky_relu_with_partial, logsumexp, logsumexp_partials, max_with_partials, min_with_partials,
    powf_with_partial, powi_with_partial, relu, relu_derivative, sigmoid_with_derivative,
    tanh_with_derivative,
};
use crate::ops::{
    atan2_with_partials, clamp_with_partial, div_with_partials, hypot_with_partials,
    pow_with_partials,
};

/// An op with one operand (and its constants).
#[derive(Clone, Copy, Debug)]
pub(crate) enum UnaryOp {
    /// A unary op of the table, by its `value_and_partial` (see
    /// [`crate::ops::UNARY`]).
    Table(fn(f64) -> (f64, f64)),
    Sigmoid,
    Tanh,
    /// A select op: its edge passes exactly 0 where relu′ = 0.
    Relu,
    Square,
    Neg,
    AddConst(f64),
    SubConst(f64),
    ConstSub(f64),
    MulConst(f64),
    DivConst(f64),
    ConstDiv(f64),
    LeakyRelu(f64),
    Powi(i32),
    Powf(f64),
    Log(f64),
    /// Select ops, as relu.
    MaxConst(f64),
    MinConst(f64),
    Clamp(f64, f64),
    Atan2Const(f64),
    ConstAtan2(f64),
    HypotConst(f64),
}

impl UnaryOp {
    /// The value and the partial, exactly as the op records them: the common
    /// ops inline, the others out of line (keeping the loops small).
    #[inline(always)]
    fn eval(self, x: f64) -> (f64, f64) {
        match self {
            UnaryOp::Table(f) => f(x),
            UnaryOp::Sigmoid => sigmoid_with_derivative(x),
            UnaryOp::Tanh => tanh_with_derivative(x),
            UnaryOp::Relu => (relu(x), relu_derivative(x)),
            UnaryOp::Square => crate::ops::rules::square::value_and_partial(x),
            UnaryOp::Neg => (-x, -1.0),
            UnaryOp::AddConst(c) => (x + c, 1.0),
            UnaryOp::SubConst(c) => (x - c, 1.0),
            UnaryOp::ConstSub(c) => (c - x, -1.0),
            UnaryOp::MulConst(c) => (x * c, c),
            _ => self.eval_rare(x),
        }
    }

    /// As [`eval`](UnaryOp::eval), out of line.
    #[inline(never)]
    fn eval_rare(self, x: f64) -> (f64, f64) {
        match self {
            UnaryOp::Table(_)
            | UnaryOp::Sigmoid
            | UnaryOp::Tanh
            | UnaryOp::Relu
            | UnaryOp::Square
            | UnaryOp::Neg
            | UnaryOp::AddConst(_)
            | UnaryOp::SubConst(_)
            | UnaryOp::ConstSub(_)
            | UnaryOp::MulConst(_) => unreachable!("`eval` evaluates the common ops inline"),
            UnaryOp::DivConst(c) => (x / c, 1.0 / c),
            UnaryOp::ConstDiv(c) => {
                let q = c / x;
                (q, -q / x)
            }
            UnaryOp::LeakyRelu(alpha) => leaky_relu_with_partial(x, alpha),
            UnaryOp::Powi(n) => powi_with_partial(x, n),
            UnaryOp::Powf(c) => powf_with_partial(x, c),
            UnaryOp::Log(base) => (x.log(base), 1.0 / (x * base.ln())),
            UnaryOp::MaxConst(c) => {
                let (v, d, _) = max_with_partials(x, c);
                (v, d)
            }
            UnaryOp::MinConst(c) => {
                let (v, d, _) = min_with_partials(x, c);
                (v, d)
            }
            UnaryOp::Clamp(lo, hi) => clamp_with_partial(x, lo, hi),
            UnaryOp::Atan2Const(c) => {
                let (v, d, _) = atan2_with_partials(x, c);
                (v, d)
            }
            UnaryOp::ConstAtan2(y) => {
                let (v, _, d) = atan2_with_partials(y, x);
                (v, d)
            }
            UnaryOp::HypotConst(c) => {
                let (v, d, _) = hypot_with_partials(x, c);
                (v, d)
            }
        }
    }

    /// Whether the op selects (a zero partial is a masked edge, passing exactly 0).
    #[inline(always)]
    pub(crate) fn is_select(self) -> bool {
        matches!(
            self,
            UnaryOp::Relu | UnaryOp::MaxConst(_) | UnaryOp::MinConst(_) | UnaryOp::Clamp(..)
        )
    }
}

/// An op with two variable operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    /// Select ops: a zero partial is a masked edge.
    Max,
    Min,
    Atan2,
    Hypot,
}

impl BinaryOp {
    /// The value and both partials, exactly as the op records them: the
    /// arithmetic inline, the others out of line.
    #[inline(always)]
    fn eval(self, a: f64, b: f64) -> (f64, f64, f64) {
        match self {
            BinaryOp::Add => (a + b, 1.0, 1.0),
            BinaryOp::Sub => (a - b, 1.0, -1.0),
            BinaryOp::Mul => (a * b, b, a),
            _ => self.eval_rare(a, b),
        }
    }

    /// As [`eval`](BinaryOp::eval), out of line.
    #[inline(never)]
    fn eval_rare(self, a: f64, b: f64) -> (f64, f64, f64) {
        match self {
            BinaryOp::Add => (a + b, 1.0, 1.0),
            BinaryOp::Sub => (a - b, 1.0, -1.0),
            BinaryOp::Mul => (a * b, b, a),
            BinaryOp::Div => div_with_partials(a, b),
            BinaryOp::Pow => pow_with_partials(a, b),
            BinaryOp::Max => max_with_partials(a, b),
            BinaryOp::Min => min_with_partials(a, b),
            BinaryOp::Atan2 => atan2_with_partials(a, b),
            BinaryOp::Hypot => hypot_with_partials(a, b),
        }
    }
}

/// An n-ary op whose partials are stored per operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NaryOp {
    LogSumExp,
    HalfSquaredError,
    MeanSquaredError,
}

/// A run of terms `v[a + k] · v[b + k]` for `k < len` of a weighted sum.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Segment {
    pub(crate) a: u32,
    pub(crate) b: u32,
    pub(crate) len: u32,
    /// Whether the `a` run, the `b` run, are variables (else constants, whose
    /// adjoints nobody reads: their loop is skipped).
    pub(crate) a_var: bool,
    pub(crate) b_var: bool,
}

/// No bias term (see [`Instr::Dot`]).
pub(crate) const NO_BIAS: u32 = u32::MAX;

/// The most terms a [`Instr::SmallDot`] holds.
pub(crate) const SMALL: usize = 4;

/// One instruction: reads slots, writes slot `out` and its partials.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Instr {
    /// `out = op(x)`, partial in `d[out]`.
    Unary { op: UnaryOp, x: u32, out: u32 },
    /// `mid = first(x)`, then `out = mid²`, partials in `d[mid]` and `d[out]`:
    /// a unary instruction and the square of its result (a loss term such as
    /// `(o − t)²`), `mid` read by the square alone.
    SquareOf {
        first: UnaryOp,
        x: u32,
        mid: u32,
        out: u32,
    },
    /// `out = op(a, b)`, partials in `d[out]`, `d2[out]`.
    Binary {
        op: BinaryOp,
        a: u32,
        b: u32,
        out: u32,
    },
    /// `out = a · b + c` (one rounding), partials b, a, 1.
    MulAdd { a: u32, b: u32, c: u32, out: u32 },
    /// `out = act(((t₀ + t₁) + …))` over the terms of segments `segs`, summed
    /// left to right; a′ in `d[out]`. `tape_neuron`: a fused neuron of the tape,
    /// whose partials are `a′ · value` (else the plain operators', `(g · a′) ·
    /// value`: the adjoint of the weighted sum, times the partner).
    Dot {
        act: Activation,
        tape_neuron: bool,
        segs: (u32, u32),
        /// A last term `v[bias]` (times 1, so added as is), or [`NO_BIAS`].
        bias: u32,
        out: u32,
    },
    /// As `Dot`, for at most [`SMALL`] single terms kept in the instruction:
    /// `v[pairs[2k]] · v[pairs[2k + 1]]` for `k < n`.
    SmallDot {
        act: Activation,
        tape_neuron: bool,
        n: u8,
        pairs: [u32; 2 * SMALL],
        /// As `Dot`'s.
        bias: u32,
        out: u32,
    },
    /// An n-ary op over `args[args.0..args.1]` (and, for a loss, its targets
    /// `targets[args.0..args.1]`), partials in `dn[args.0..args.1]`.
    Nary {
        op: NaryOp,
        args: (u32, u32),
        out: u32,
    },
}

/// The arrays a program runs on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Code {
    pub(crate) instrs: Vec<Instr>,
    pub(crate) segments: Vec<Segment>,
    /// Operands of the n-ary instructions.
    pub(crate) args: Vec<u32>,
    /// A loss's targets, parallel to `args` (unused entries 0).
    pub(crate) targets: Vec<f64>,
}

/// The state of a program: values, partials and adjoints, by slot.
#[derive(Clone, Debug, Default)]
pub(crate) struct State {
    pub(crate) values: Vec<f64>,
    pub(crate) d: Vec<f64>,
    pub(crate) d2: Vec<f64>,
    pub(crate) dn: Vec<f64>,
    pub(crate) adjoints: Vec<f64>,
}

/// `z + Σ a[k]·b[k]`, left to right (four terms an iteration, still added one
/// by one in order, so to the same bits).
#[inline(always)]
fn sum_run(mut z: f64, a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let (a4, b4) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ar, br) = (a4.remainder(), b4.remainder());
    for (x, y) in a4.zip(b4) {
        z += x[0] * y[0];
        z += x[1] * y[1];
        z += x[2] * y[2];
        z += x[3] * y[3];
    }
    for (x, y) in ar.iter().zip(br) {
        z += x * y;
    }
    z
}

#[inline(always)]
fn run(values: &[f64], start: u32, len: u32) -> &[f64] {
    &values[start as usize..(start + len) as usize]
}

/// The forward pass: every instruction in order.
pub(crate) fn forward(code: &Code, s: &mut State) {
    let State {
        values: v,
        d,
        d2,
        dn,
        ..
    } = s;
    let n = v.len();
    let (v, d, d2) = (&mut v[..n], &mut d[..n], &mut d2[..n]);
    for instr in &code.instrs {
        match *instr {
            Instr::Unary { op, x, out } => {
                let (value, partial) = op.eval(v[x as usize]);
                v[out as usize] = value;
                d[out as usize] = partial;
            }
            Instr::SquareOf { first, x, mid, out } => {
                let (m, dm) = first.eval(v[x as usize]);
                let (value, partial) = UnaryOp::Square.eval(m);
                v[mid as usize] = m;
                d[mid as usize] = dm;
                v[out as usize] = value;
                d[out as usize] = partial;
            }
            Instr::Binary { op, a, b, out } => {
                let (value, da, db) = op.eval(v[a as usize], v[b as usize]);
                v[out as usize] = value;
                d[out as usize] = da;
                d2[out as usize] = db;
            }
            Instr::MulAdd { a, b, c, out } => {
                v[out as usize] = v[a as usize].mul_add(v[b as usize], v[c as usize]);
            }
            Instr::Dot {
                act,
                segs,
                bias,
                out,
                ..
            } => {
                let segs = &code.segments[segs.0 as usize..segs.1 as usize];
                let first = segs[0];
                let mut z = v[first.a as usize] * v[first.b as usize];
                if first.len > 1 {
                    let rest = first.len - 1;
                    z = sum_run(z, run(v, first.a + 1, rest), run(v, first.b + 1, rest));
                }
                for seg in &segs[1..] {
                    if seg.len == 1 {
                        // One term (the build splits short runs): no slices.
                        z += v[seg.a as usize] * v[seg.b as usize];
                    } else {
                        z = sum_run(z, run(v, seg.a, seg.len), run(v, seg.b, seg.len));
                    }
                }
                if bias != NO_BIAS {
                    z += v[bias as usize]; // v · 1, exactly
                }
                let (value, derivative) = act.value_and_derivative(z);
                v[out as usize] = value;
                d[out as usize] = derivative;
            }
            Instr::SmallDot {
                act,
                n: terms,
                ref pairs,
                bias,
                out,
                ..
            } => {
                let mut z = match terms {
                    1 => small_sum::<1>(v, pairs),
                    2 => small_sum::<2>(v, pairs),
                    3 => small_sum::<3>(v, pairs),
                    _ => small_sum::<4>(v, pairs),
                };
                if bias != NO_BIAS {
                    z += v[bias as usize]; // v · 1, exactly
                }
                let (value, derivative) = act.value_and_derivative(z);
                v[out as usize] = value;
                d[out as usize] = derivative;
            }
            Instr::Nary { op, args, out } => {
                v[out as usize] = nary_forward(code, v, dn, op, args);
            }
        }
    }
}

/// An n-ary instruction's value and partials (out of line: rare, and large).
#[inline(never)]
fn nary_forward(code: &Code, v: &[f64], dn: &mut [f64], op: NaryOp, args: (u32, u32)) -> f64 {
    let (lo, hi) = (args.0 as usize, args.1 as usize);
    let operands = &code.args[lo..hi];
    let partials = &mut dn[lo..hi];
    let xs = operands.iter().map(|&i| v[i as usize]);
    match op {
        NaryOp::LogSumExp => logsumexp_with_partials(xs, partials),
        NaryOp::HalfSquaredError => {
            let targets = &code.targets[lo..hi];
            for ((p, o), t) in partials.iter_mut().zip(xs.clone()).zip(targets) {
                *p = o - t;
            }
            half_squared_error_value(xs, targets)
        }
        NaryOp::MeanSquaredError => {
            let targets = &code.targets[lo..hi];
            let n = operands.len() as f64;
            for ((p, o), t) in partials.iter_mut().zip(xs.clone()).zip(targets) {
                *p = 2.0 * (o - t) / n;
            }
            sum_of_squared_errors(xs, targets) / n
        }
    }
}

/// As `Var::logsumexp` computes its value and partials.
fn logsumexp_with_partials(xs: impl Iterator<Item = f64> + Clone, partials: &mut [f64]) -> f64 {
    let shifted = logsumexp(xs.clone());
    logsumexp_partials(xs, shifted, partials);
    shifted.0
}

/// The backward pass from the adjoints already seeded: every instruction in
/// reverse order. A select op's zero partial passes exactly 0 (a masked edge),
/// as the tape's sweep does.
pub(crate) fn backward(code: &Code, s: &mut State) {
    let State {
        values: v,
        d,
        d2,
        dn,
        adjoints: adj,
    } = s;
    // One length for values, partials and adjoints: one bounds check serves all.
    let n = v.len();
    let (v, d, d2, adj) = (&v[..n], &d[..n], &d2[..n], &mut adj[..n]);
    for instr in code.instrs.iter().rev() {
        match *instr {
            Instr::Unary { op, x, out } => {
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                let partial = d[out as usize];
                if !(op.is_select() && partial == 0.0) {
                    adj[x as usize] += g * partial;
                }
            }
            Instr::SquareOf { first, x, mid, out } => {
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                                                                // As the two instructions: `mid`'s adjoint (zero, read by the
                                                                // square alone) gets g · partial, then passes it on.
                let gm = 0.0 + g * d[out as usize];
                let dm = d[mid as usize];
                if !(first.is_select() && dm == 0.0) {
                    adj[x as usize] += gm * dm;
                }
            }
            Instr::Binary { op, a, b, out } => {
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                let (da, db) = (d[out as usize], d2[out as usize]);
                let select = matches!(op, BinaryOp::Max | BinaryOp::Min);
                if !(select && da == 0.0) {
                    adj[a as usize] += g * da;
                }
                if !(select && db == 0.0) {
                    adj[b as usize] += g * db;
                }
            }
            Instr::MulAdd { a, b, c, out } => {
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                let (va, vb) = (v[a as usize], v[b as usize]);
                adj[a as usize] += g * vb;
                adj[b as usize] += g * va;
                adj[c as usize] += g * 1.0;
            }
            Instr::Dot {
                act,
                tape_neuron,
                segs,
                bias,
                out,
            } => {
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                let derivative = d[out as usize];
                if act == Activation::Relu && derivative == 0.0 {
                    continue; // masked: every operand gets exactly 0
                }
                let segs = &code.segments[segs.0 as usize..segs.1 as usize];
                if tape_neuron {
                    // The tape's fused neuron: partial a′ · value, times the adjoint.
                    for seg in segs {
                        dot_back(adj, v, seg, |value| g * (derivative * value));
                    }
                } else {
                    // The plain operators: the weighted sum's adjoint g · a′, times
                    // the partner's value.
                    let gz = g * derivative;
                    for seg in segs {
                        dot_back(adj, v, seg, |value| gz * value);
                    }
                }
                if bias != NO_BIAS {
                    // g · (a′ · 1) and (g · a′) · 1 are both g · a′.
                    adj[bias as usize] += g * derivative;
                }
            }
            Instr::SmallDot {
                act,
                tape_neuron,
                n: terms,
                ref pairs,
                bias,
                out,
            } => {
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                let derivative = d[out as usize];
                if act == Activation::Relu && derivative == 0.0 {
                    continue; // masked
                }
                if tape_neuron {
                    small_back(terms, adj, v, pairs, |value| g * (derivative * value));
                } else {
                    let gz = g * derivative;
                    small_back(terms, adj, v, pairs, |value| gz * value);
                }
                if bias != NO_BIAS {
                    adj[bias as usize] += g * derivative;
                }
            }
            Instr::Nary { args, out, .. } => {
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                nary_backward(code, adj, dn, args, g);
            }
        }
    }
}

/// An n-ary instruction's contributions (out of line: rare).
#[inline(never)]
fn nary_backward(code: &Code, adj: &mut [f64], dn: &[f64], args: (u32, u32), g: f64) {
    let (lo, hi) = (args.0 as usize, args.1 as usize);
    for (&i, &p) in code.args[lo..hi].iter().zip(&dn[lo..hi]) {
        adj[i as usize] += g * p;
    }
}

/// `Σ v[pairs[2k]] · v[pairs[2k + 1]]` for `k < N`, left to right (unrolled).
#[inline(always)]
fn small_sum<const N: usize>(v: &[f64], pairs: &[u32; 2 * SMALL]) -> f64 {
    let mut z = v[pairs[0] as usize] * v[pairs[1] as usize];
    for k in 1..N {
        z += v[pairs[2 * k] as usize] * v[pairs[2 * k + 1] as usize];
    }
    z
}

/// The contributions of a [`Instr::SmallDot`]'s `n` terms (unrolled for each n).
#[inline(always)]
fn small_back(n: u8, adj: &mut [f64], v: &[f64], pairs: &[u32; 2 * SMALL], f: impl Fn(f64) -> f64) {
    #[inline(always)]
    fn terms<const N: usize>(
        adj: &mut [f64],
        v: &[f64],
        pairs: &[u32; 2 * SMALL],
        f: impl Fn(f64) -> f64,
    ) {
        for k in 0..N {
            let (a, b) = (pairs[2 * k] as usize, pairs[2 * k + 1] as usize);
            let (va, vb) = (v[a], v[b]);
            adj[a] += f(vb);
            adj[b] += f(va);
        }
    }
    match n {
        1 => terms::<1>(adj, v, pairs, f),
        2 => terms::<2>(adj, v, pairs, f),
        3 => terms::<3>(adj, v, pairs, f),
        _ => terms::<4>(adj, v, pairs, f),
    }
}

/// One segment's contributions: `adj[a + k] += f(v[b + k])`, then
/// `adj[b + k] += f(v[a + k])` (the runs do not overlap, or have one term).
#[inline(always)]
fn dot_back(adj: &mut [f64], v: &[f64], seg: &Segment, f: impl Fn(f64) -> f64) {
    let (a, b, len) = (seg.a as usize, seg.b as usize, seg.len as usize);
    if len == 1 {
        // One term: both adjoints, without branching on which are variables (a
        // constant's adjoint is scratch that nobody reads).
        let (va, vb) = (v[a], v[b]);
        adj[a] += f(vb);
        adj[b] += f(va);
        return;
    }
    if seg.a_var && seg.b_var {
        // Both runs at once: they do not overlap, so split the adjoints between
        // them (each adjoint still gets the same one contribution).
        let (adj_a, adj_b) = if a < b {
            let (lo, hi) = adj.split_at_mut(b);
            (&mut lo[a..a + len], &mut hi[..len])
        } else {
            let (lo, hi) = adj.split_at_mut(a);
            (&mut hi[..len], &mut lo[b..b + len])
        };
        let (v_a, v_b) = (&v[a..a + len], &v[b..b + len]);
        // Every slice `len` long: the indexing below needs no bounds check.
        for k in 0..len {
            adj_a[k] += f(v_b[k]);
            adj_b[k] += f(v_a[k]);
        }
        return;
    }
    if seg.a_var {
        for (adjoint, &partner) in adj[a..a + len].iter_mut().zip(&v[b..b + len]) {
            *adjoint += f(partner);
        }
    }
    if seg.b_var {
        for (adjoint, &partner) in adj[b..b + len].iter_mut().zip(&v[a..a + len]) {
            *adjoint += f(partner);
        }
    }
}

/// Every slot `instr` reads.
fn reads(code: &Code, instr: &Instr, mut f: impl FnMut(u32)) {
    match *instr {
        Instr::Unary { x, .. } | Instr::SquareOf { x, .. } => f(x),
        Instr::Binary { a, b, .. } => {
            f(a);
            f(b);
        }
        Instr::MulAdd { a, b, c, .. } => {
            f(a);
            f(b);
            f(c);
        }
        Instr::Dot { segs, bias, .. } => {
            for seg in &code.segments[segs.0 as usize..segs.1 as usize] {
                for k in 0..seg.len {
                    f(seg.a + k);
                    f(seg.b + k);
                }
            }
            if bias != NO_BIAS {
                f(bias);
            }
        }
        Instr::SmallDot {
            n, ref pairs, bias, ..
        } => {
            for &slot in &pairs[..2 * n as usize] {
                f(slot);
            }
            if bias != NO_BIAS {
                f(bias);
            }
        }
        Instr::Nary { args, .. } => {
            for &slot in &code.args[args.0 as usize..args.1 as usize] {
                f(slot);
            }
        }
    }
}

/// Fuses each square whose operand is the result of the unary instruction
/// just before it, read by it alone (and not an output), into one
/// [`Instr::SquareOf`]. The slots stay as they were (`first_constant` is the
/// first constant slot).
pub(crate) fn fuse_squares(code: &mut Code, outputs: &[u32], first_constant: u32) {
    let mut readers = vec![0u32; first_constant as usize];
    for &o in outputs {
        if let Some(r) = readers.get_mut(o as usize) {
            *r += 1;
        }
    }
    for instr in &code.instrs {
        reads(code, instr, |slot| {
            if let Some(r) = readers.get_mut(slot as usize) {
                *r += 1;
            }
        });
    }
    let mut fused = Vec::with_capacity(code.instrs.len());
    let mut k = 0;
    while k < code.instrs.len() {
        if let (
            Instr::Unary {
                op: first,
                x,
                out: mid,
            },
            Some(&Instr::Unary {
                op: UnaryOp::Square,
                x: operand,
                out,
            }),
        ) = (code.instrs[k], code.instrs.get(k + 1))
        {
            if operand == mid && readers[mid as usize] == 1 {
                fused.push(Instr::SquareOf { first, x, mid, out });
                k += 2;
                continue;
            }
        }
        fused.push(code.instrs[k]);
        k += 1;
    }
    code.instrs = fused;
}
