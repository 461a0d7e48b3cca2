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
    /// Masked as a select op: its partial is 0 (but at NaN), and its edge
    /// passes exactly 0.
    Signum,
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
    pub(crate) fn eval(self, x: f64) -> (f64, f64) {
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
            UnaryOp::Signum => crate::ops::rules::signum::value_and_partial(x),
            UnaryOp::DivConst(c) => (x / c, 1.0 / c),
            UnaryOp::ConstDiv(c) => {
                let q = c / x;
                (q, -q / x)
            }
            UnaryOp::LeakyRelu(alpha) => leaky_relu_with_partial(x, alpha),
            UnaryOp::Powi(n) => powi_with_partial(x, n),
            UnaryOp::Powf(c) => powf_with_partial(x, c),
            UnaryOp::Log(base) => crate::ops::kernels::log_with_partial(x, base),
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
            UnaryOp::Relu
                | UnaryOp::Signum
                | UnaryOp::MaxConst(_)
                | UnaryOp::MinConst(_)
                | UnaryOp::Clamp(..)
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
    pub(crate) fn eval(self, a: f64, b: f64) -> (f64, f64, f64) {
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
    /// A loss of two squared errors: for `k < 2`, `sq[k] − 1 = x[k] − t[k]`
    /// then `sq[k] = (x[k] − t[k])²` (as [`Instr::SquareOf`] with a first op
    /// `x − t`), then `out = sq[0] · c[0] + sq[1] · c[1]` (as a
    /// [`Instr::SmallDot`] without activation nor bias). Each `sq[k]` is read by
    /// the sum alone.
    SquaredErrors {
        x: [u32; 2],
        sq: [u32; 2],
        c: [u32; 2],
        t: [f64; 2],
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
        /// Whether every `pairs[2k + 1]` is a constant, whose adjoint nobody
        /// reads: the backward pass skips them.
        b_const: bool,
        /// As `Dot`'s.
        bias: u32,
        out: u32,
    },
    /// `n` neurons of one shape in a row, each as a [`Instr::Dot`] of its own
    /// would run (in order forward, in reverse backward): neuron `j` sums
    /// `v[w + j·w_stride + i] · v[x + i]` for `i < k` left to right, then adds
    /// `v[bias + j·bias_stride]` (unless `bias` is [`NO_BIAS`]), and writes
    /// slot `out + j`. The runs a neuron reads never overlap each other nor the
    /// outputs (see [`fuse_layers`]).
    Layer(Layer),
    /// An n-ary op over `args[args.0..args.1]` (and, for a loss, its targets
    /// `targets[args.0..args.1]`), partials in `dn[args.0..args.1]`.
    Nary {
        op: NaryOp,
        args: (u32, u32),
        out: u32,
    },
}

/// The operands of an [`Instr::Layer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layer {
    pub(crate) act: Activation,
    /// As [`Instr::Dot`]'s.
    pub(crate) tape_neuron: bool,
    /// Whether the weights, the shared inputs, are variables (else constants,
    /// whose adjoints nobody reads: their loop is skipped).
    pub(crate) w_var: bool,
    pub(crate) x_var: bool,
    pub(crate) n: u32,
    pub(crate) k: u32,
    pub(crate) w: u32,
    pub(crate) w_stride: u32,
    pub(crate) x: u32,
    pub(crate) bias: u32,
    pub(crate) bias_stride: u32,
    pub(crate) out: u32,
    /// Its shape if small (see [`small_shape`]), else 0: chosen once, at
    /// compile time.
    pub(crate) small: u8,
    /// Whether this layer alone reads its inputs `x`, which are neither
    /// inputs nor outputs of the program (set on a small program's copy, see
    /// [`alone`]): their adjoints then start from its first contribution.
    pub(crate) x_alone: bool,
    /// Whether its inputs `x` are the outputs of the small layer just before
    /// (set on a small program's copy, see [`carried`]): read forward from
    /// the [`Carry`], in registers, not from the slots.
    pub(crate) x_carried: bool,
    /// Whether its outputs are the inputs `x` of the small layer or loss
    /// just after (see [`carried`]): their adjoints read backward from the
    /// [`Carry`].
    pub(crate) out_carried: bool,
}

/// The arrays a program runs on.
#[derive(Clone, Debug, Default)]
pub(crate) struct Code {
    pub(crate) instrs: Vec<Instr>,
    /// The backward pass runs `instrs[..reached]` alone: the instructions on a
    /// path from an output. Those after it (kept only with dead-code
    /// elimination off) run forward alone, as the tape's sweep passes nothing
    /// from a node on no path from its output (not even 0 · ∞).
    pub(crate) reached: usize,
    pub(crate) segments: Vec<Segment>,
    /// Operands of the n-ary instructions.
    pub(crate) args: Vec<u32>,
    /// A loss's targets, parallel to `args` (unused entries 0).
    pub(crate) targets: Vec<f64>,
    /// The same program as [`Small`] instructions, if every instruction is one
    /// (see [`small_program`]), else empty: run by [`forward_small`] and
    /// [`backward_small`] instead of the loops over `instrs`.
    pub(crate) small: Vec<Small>,
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
            Instr::SquaredErrors { x, sq, c, t, out } => {
                let mut z = 0.0;
                for k in 0..2 {
                    let (m, dm) = UnaryOp::SubConst(t[k]).eval(v[x[k] as usize]);
                    let (value, partial) = UnaryOp::Square.eval(m);
                    // The difference's slot, then the square's.
                    let at = sq[k] as usize - 1;
                    *chunk_mut::<2>(v, at) = [m, value];
                    *chunk_mut::<2>(d, at) = [dm, partial];
                    let term = value * v[c[k] as usize];
                    // The sum's first term, then one more (no 0 + first: −0 stays).
                    z = if k == 0 { term } else { z + term };
                }
                let (value, derivative) = Activation::Identity.value_and_derivative(z);
                v[out as usize] = value;
                d[out as usize] = derivative;
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
            } => dot_forward(code, v, d, act, segs, bias, out),
            Instr::SmallDot {
                act,
                n: terms,
                ref pairs,
                bias,
                out,
                ..
            } => small_dot_forward::<ALL>(v, d, act, terms, pairs, bias, out),
            Instr::Layer(ref layer) if layer.small != 0 => small_layer_forward(v, d, layer),
            Instr::Layer(ref layer) => layer_forward(v, d, layer),
            Instr::Nary { op, args, out } => {
                v[out as usize] = nary_forward(code, v, dn, op, args);
            }
        }
    }
}

/// An [`Instr::Dot`] forward (out of line: the loop keeps fewer values live).
#[inline(always)]
fn dot_forward(
    code: &Code,
    v: &mut [f64],
    d: &mut [f64],
    act: Activation,
    segs: (u32, u32),
    bias: u32,
    out: u32,
) {
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

/// A layer of `n` neurons of `k` terms that runs by [`small_layer_forward`]
/// and [`small_layer_backward`] (its shape known at compile time, everything it
/// reads and writes held in registers): its shape, `1 + (n − 2) · 4 + k − 1`
/// for 2 ≤ n ≤ 3 and 1 ≤ k ≤ 4; else 0.
pub(crate) fn small_shape(n: u32, k: u32) -> u8 {
    if (2..=3).contains(&n) && (1..=4).contains(&k) {
        (1 + (n - 2) * 4 + k - 1) as u8
    } else {
        0
    }
}

/// A small layer's forward (see [`small_shape`]), by its shape.
#[inline(always)]
fn small_layer_forward(v: &mut [f64], d: &mut [f64], l: &Layer) {
    match l.small {
        1 => small_forward_act::<2, 1>(v, d, l),
        2 => small_forward_act::<2, 2>(v, d, l),
        3 => small_forward_act::<2, 3>(v, d, l),
        4 => small_forward_act::<2, 4>(v, d, l),
        5 => small_forward_act::<3, 1>(v, d, l),
        6 => small_forward_act::<3, 2>(v, d, l),
        7 => small_forward_act::<3, 3>(v, d, l),
        _ => small_forward_act::<3, 4>(v, d, l),
    }
}

#[inline(always)]
fn small_forward_act<const N: usize, const K: usize>(v: &mut [f64], d: &mut [f64], l: &Layer) {
    match l.act {
        Activation::Identity => {
            small_forward::<N, K, ALL>(v, d, l, Known::of(l), |z| (z, 1.0), &mut Carry::empty())
        }
        Activation::Sigmoid => {
            small_forward::<N, K, ALL>(
                v,
                d,
                l,
                Known::of(l),
                sigmoid_with_derivative,
                &mut Carry::empty(),
            );
        }
        Activation::Tanh => small_forward::<N, K, ALL>(
            v,
            d,
            l,
            Known::of(l),
            tanh_with_derivative,
            &mut Carry::empty(),
        ),
        Activation::Relu => small_forward::<N, K, ALL>(
            v,
            d,
            l,
            Known::of(l),
            |z| (relu(z), relu_derivative(z)),
            &mut Carry::empty(),
        ),
    }
}

/// `N` neurons of `K` terms, each summed left to right as [`layer_forward`]
/// sums it. The outputs are written after every sum is taken: nothing the
/// layer reads overlaps them (see [`fuse_layers`]), so to the same bits.
#[inline(always)]
fn small_forward<const N: usize, const K: usize, const M: usize>(
    v: &mut [f64],
    d: &mut [f64],
    l: &Layer,
    known: Known,
    act: impl Fn(f64) -> (f64, f64),
    carry: &mut Carry,
) {
    // Read slot by slot (see `chunk_by_slot`): the inputs and weights were
    // written one at a time, by the instruction before or by the caller.
    // (The branch stays one: `chunk_by_slot` cannot be hoisted into a
    // select, which would wait on the load the carry is there to skip.)
    let x = if l.x_carried {
        carry.get::<K>()
    } else {
        chunk_by_slot::<K>(v, l.x as usize & M)
    };
    let (ws, bs) = (l.w_stride as usize, l.bias_stride as usize);
    let mut values = [0.0; N];
    let mut derivatives = [0.0; N];
    for j in 0..N {
        let w = chunk_by_slot::<K>(v, (l.w as usize + j * ws) & M);
        let mut z = w[0] * x[0];
        for i in 1..K {
            z += w[i] * x[i];
        }
        if known.bias {
            z += v[(l.bias as usize + j * bs) & M]; // v · 1, exactly
        }
        (values[j], derivatives[j]) = act(z);
    }
    let out = l.out as usize & M;
    *chunk_mut::<N>(v, out) = values;
    *chunk_mut::<N>(d, out) = derivatives;
    carry.put(values);
}

/// A small layer's backward (see [`small_shape`]), by its shape.
#[inline(always)]
fn small_layer_backward(adj: &mut [f64], v: &[f64], d: &[f64], l: &Layer) {
    let known = Known::of(l);
    match l.small {
        1 => small_backward_term::<2, 1, ALL, false>(adj, v, d, l, known, &mut Carry::empty()),
        2 => small_backward_term::<2, 2, ALL, false>(adj, v, d, l, known, &mut Carry::empty()),
        3 => small_backward_term::<2, 3, ALL, false>(adj, v, d, l, known, &mut Carry::empty()),
        4 => small_backward_term::<2, 4, ALL, false>(adj, v, d, l, known, &mut Carry::empty()),
        5 => small_backward_term::<3, 1, ALL, false>(adj, v, d, l, known, &mut Carry::empty()),
        6 => small_backward_term::<3, 2, ALL, false>(adj, v, d, l, known, &mut Carry::empty()),
        7 => small_backward_term::<3, 3, ALL, false>(adj, v, d, l, known, &mut Carry::empty()),
        _ => small_backward_term::<3, 4, ALL, false>(adj, v, d, l, known, &mut Carry::empty()),
    }
}

#[inline(always)]
fn small_backward_term<const N: usize, const K: usize, const M: usize, const ALONE: bool>(
    adj: &mut [f64],
    v: &[f64],
    d: &[f64],
    l: &Layer,
    known: Known,
    carry: &mut Carry,
) {
    if l.tape_neuron {
        small_backward::<N, K, M, ALONE>(
            adj,
            v,
            d,
            l,
            known,
            |g, derivative, value| g * (derivative * value),
            carry,
        );
    } else {
        small_backward::<N, K, M, ALONE>(
            adj,
            v,
            d,
            l,
            known,
            |g, derivative, value| (g * derivative) * value,
            carry,
        );
    }
}

/// What a small layer's kernels test, known at compile time on a [`Small`]
/// instruction, else read from the layer.
#[derive(Clone, Copy)]
struct Known {
    /// Whether the activation is relu (whose zero derivative masks).
    relu: bool,
    /// Whether the neurons have a bias.
    bias: bool,
    /// Whether the weights', the inputs' adjoints are written: always on a
    /// [`Small`] instruction (a constant's adjoint is scratch that nobody
    /// reads, cheaper to write than to test), else where they are variables.
    w_var: bool,
    x_var: bool,
}

impl Known {
    /// Read from the layer.
    #[inline(always)]
    fn of(l: &Layer) -> Known {
        Known {
            relu: l.act == Activation::Relu,
            bias: l.bias != NO_BIAS,
            w_var: l.w_var,
            x_var: l.x_var,
        }
    }

    /// A [`Small`] layer's, activation `A` (see [`act_const`]).
    #[inline(always)]
    fn small<const A: u8>() -> Known {
        Known {
            relu: A == 3,
            bias: true,
            w_var: true,
            x_var: true,
        }
    }
}

/// What a small layer (or loss) has just written, kept in registers for the
/// instruction after (see [`carried`]): forward, a layer's output values;
/// backward, the adjoints of the inputs `x` a layer or loss has just
/// written. Only the first entries are meaningful, as many as were put.
#[derive(Clone, Copy)]
struct Carry([f64; SMALL]);

impl Carry {
    /// Nothing carried (the start of a pass, and the loops over [`Instr`]s,
    /// whose layers are never marked carried).
    #[inline(always)]
    fn empty() -> Carry {
        Carry([0.0; SMALL])
    }

    /// The first `K` values carried.
    #[inline(always)]
    fn get<const K: usize>(&self) -> [f64; K] {
        std::array::from_fn(|i| self.0[i])
    }

    /// Carries `vals`.
    #[inline(always)]
    fn put<const N: usize>(&mut self, vals: [f64; N]) {
        for (to, from) in self.0.iter_mut().zip(vals) {
            *to = from;
        }
    }
}

/// As [`layer_backward`]: the neurons in reverse order, for each the weights'
/// adjoints, then the inputs' (carried in registers), then the bias's.
#[inline(always)]
fn small_backward<const N: usize, const K: usize, const M: usize, const ALONE: bool>(
    adj: &mut [f64],
    v: &[f64],
    d: &[f64],
    l: &Layer,
    known: Known,
    term: impl Fn(f64, f64, f64) -> f64,
    carry: &mut Carry,
) {
    let relu = known.relu;
    let (x, out) = (l.x as usize & M, l.out as usize & M);
    let xv = chunk::<K>(v, x);
    let derivatives = chunk::<N>(d, out);
    // The outputs' adjoints, read slot by slot where not carried (see
    // `chunk_by_slot`, which also keeps this a branch: a select would wait
    // on the load), then zeroed for the next sweep.
    let g = if l.out_carried {
        carry.get::<N>()
    } else {
        chunk_by_slot::<N>(adj, out)
    };
    *chunk_mut::<N>(adj, out) = [0.0; N];
    // `ALONE`: `l.x_alone`, known at compile time so that the compiler drops
    // the first add, −0 + c.
    let mut ax = if ALONE {
        [-0.0; K] // the first contribution as is (see `alone`)
    } else if known.x_var {
        chunk::<K>(adj, x)
    } else {
        [0.0; K]
    };
    let (ws, bs) = (l.w_stride as usize, l.bias_stride as usize);
    for j in (0..N).rev() {
        let (g, derivative) = (g[j], derivatives[j]);
        let w = (l.w as usize + j * ws) & M;
        if relu && derivative == 0.0 {
            // Masked (see `masked_products`).
            if !l.tape_neuron {
                let wv = chunk::<K>(v, w);
                let finite = (0..K).fold(0.0, |s, i| {
                    s + zero_if_finite(wv[i]) + zero_if_finite(xv[i])
                });
                if finite.is_nan() {
                    for i in 0..K {
                        if let Some((to_w, to_x)) = masked_product(wv[i], xv[i]) {
                            if known.w_var {
                                adj[(w + i) & M] += to_w;
                            }
                            if known.x_var {
                                ax[i] += to_x;
                            }
                        }
                    }
                }
            }
            continue;
        }
        let wv = chunk::<K>(v, w);
        if known.w_var {
            let aw = chunk_mut::<K>(adj, w);
            for i in 0..K {
                aw[i] += term(g, derivative, xv[i]);
            }
        }
        if known.x_var {
            for i in 0..K {
                ax[i] += term(g, derivative, wv[i]);
            }
        }
        if known.bias {
            // g · (a′ · 1) and (g · a′) · 1 are both g · a′.
            adj[(l.bias as usize + j * bs) & M] += g * derivative;
        }
    }
    if known.x_var {
        *chunk_mut::<K>(adj, x) = ax;
        carry.put(ax);
    }
}

/// The activation numbered `A` (as [`act_code`] numbers them), known at
/// compile time: its value and derivative, as
/// [`Activation::value_and_derivative`] computes them.
#[inline(always)]
fn act_const<const A: u8>(z: f64) -> (f64, f64) {
    match A {
        0 => (z, 1.0),
        1 => sigmoid_with_derivative(z),
        2 => tanh_with_derivative(z),
        _ => (relu(z), relu_derivative(z)),
    }
}

/// The number of an activation in [`act_const`].
fn act_code(act: Activation) -> u8 {
    match act {
        Activation::Identity => 0,
        Activation::Sigmoid => 1,
        Activation::Tanh => 2,
        Activation::Relu => 3,
    }
}

/// The operands of a [`Small::SquaredErrors`]: as [`Instr::SquaredErrors`]'s,
/// with each difference's slot `dq[k]` (its square's is `dq[k] + 1`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct SquaredErrors {
    x: [u32; 2],
    dq: [u32; 2],
    c: [u32; 2],
    t: [f64; 2],
    out: u32,
    /// As [`Layer::x_alone`], for `x[0]` and `x[1]`.
    x_alone: bool,
    /// As [`Layer::x_carried`] (a [`Small::SquaredErrorsRun`]'s alone).
    x_carried: bool,
}

/// The most slots a small program has (see [`small_program`]): every slot it
/// reads or writes is below.
pub(crate) const SMALL_SLOTS: usize = 64;

/// `slot & SMALL_MASK` is `slot` for every slot of a small program (checked
/// once, at compile time). The kernels of the loops over [`Small`]s index
/// their arrays, [`PADDED`] long, so: the compiler then sees each index, and
/// each run of at most [`SMALL`] slots from one, inside the array, and drops
/// the bounds checks.
const SMALL_MASK: usize = SMALL_SLOTS - 1;

/// The length of a small program's arrays (values, partials, adjoints):
/// padded past its slots so that a run of up to [`SMALL`] from any masked
/// index fits.
pub(crate) const PADDED: usize = 2 * SMALL_SLOTS;

/// The mask of the loops over [`Instr`]s: none.
const ALL: usize = usize::MAX;

/// A small program's array, as one of [`PADDED`] slots.
#[inline(always)]
fn padded(slots: &mut [f64]) -> &mut [f64] {
    match slots.first_chunk_mut::<PADDED>() {
        Some(all) => all,
        None => not_padded(),
    }
}

#[cold]
#[inline(never)]
fn not_padded() -> ! {
    panic!("chainrule: a small replay program's arrays are not padded (a compiler bug)")
}

macro_rules! small_instrs {
    ($($name:ident = ($n:literal, $k:literal, $a:literal)),* $(,)?) => {
        /// An instruction of a small program (see [`small_program`]): a small
        /// layer (see [`small_shape`]) with biases, named by its neurons, its
        /// terms and its activation (`L23S`: two neurons of three terms under
        /// σ; I, S, T, R: identity, σ, tanh, relu), so that one jump on the
        /// variant reaches the kernel of its shape; the squared-error loss; a
        /// weighted sum of at most [`SMALL`] single terms.
        #[derive(Clone, Copy, Debug)]
        pub(crate) enum Small {
            $($name(Layer),)*
            SquaredErrors(SquaredErrors),
            /// As `SquaredErrors`, over two consecutive slots `x[0]`,
            /// `x[0] + 1`, the differences and squares in four (`dq[1]` is
            /// `dq[0] + 2`): read and written as one run each.
            SquaredErrorsRun(SquaredErrors),
            /// As [`Instr::SmallDot`].
            Dot {
                act: Activation,
                tape_neuron: bool,
                n: u8,
                pairs: [u32; 2 * SMALL],
                b_const: bool,
                bias: u32,
                out: u32,
            },
        }

        /// The layer of a [`Small`] layer instruction.
        ///
        /// # Panics
        /// If `instr` is no layer (a compiler bug).
        fn small_layer_of(instr: &Small) -> &Layer {
            match instr {
                $(Small::$name(l) => l,)*
                _ => unreachable!("not a small layer"),
            }
        }

        /// The layer of a [`Small`] layer instruction, to change; else `None`.
        fn small_layer_of_opt_mut(instr: &mut Small) -> Option<&mut Layer> {
            match instr {
                $(Small::$name(l) => Some(l),)*
                _ => None,
            }
        }

        /// As [`small_layer_of`], to change.
        fn small_layer_of_mut(instr: &mut Small) -> &mut Layer {
            match instr {
                $(Small::$name(l) => l,)*
                _ => unreachable!("not a small layer"),
            }
        }

        /// The [`Small`] that runs `layer`, if it is small.
        fn small_layer(layer: Layer) -> Option<Small> {
            let shape = (layer.n, layer.k, act_code(layer.act));
            $(if shape == ($n, $k, $a) {
                return Some(Small::$name(layer));
            })*
            None
        }

        /// A small program's forward pass: every instruction in order, each
        /// as the loop over [`Instr`]s runs it.
        pub(crate) fn forward_small(small: &[Small], s: &mut State) {
            let (v, d) = (padded(&mut s.values), padded(&mut s.d));
            let mut carry = Carry::empty();
            for instr in small {
                match instr {
                    $(Small::$name(l) => small_forward::<$n, $k, SMALL_MASK>(
                        v, d, l, Known::small::<$a>(), act_const::<$a>, &mut carry,
                    ),)*
                    Small::SquaredErrors(e) => squared_errors_forward(v, d, e),
                    Small::SquaredErrorsRun(e) => squared_errors_run_forward(v, d, e, &carry),
                    &Small::Dot { act, n: terms, ref pairs, bias, out, .. } => {
                        small_dot_forward::<SMALL_MASK>(v, d, act, terms, pairs, bias, out)
                    }
                }
            }
        }

        /// A small program's backward pass from the adjoints already seeded:
        /// every instruction in reverse order, each as the loop over
        /// [`Instr`]s runs it.
        ///
        /// `seed`: the adjoint of the last instruction's result, if it is
        /// passed here instead of in its slot (see [`seeded_in_register`]).
        pub(crate) fn backward_small(small: &[Small], s: &mut State, mut seed: Option<f64>) {
            let State { values: v, d, adjoints: adj, .. } = s;
            let (v, d, adj) = (&*padded(v), &*padded(d), padded(adj));
            let mut carry = Carry::empty();
            for instr in small.iter().rev() {
                match instr {
                    $(Small::$name(l) => if l.x_alone {
                        small_backward_term::<$n, $k, SMALL_MASK, true>(
                            adj, v, d, l, Known::small::<$a>(), &mut carry,
                        )
                    } else {
                        small_backward_term::<$n, $k, SMALL_MASK, false>(
                            adj, v, d, l, Known::small::<$a>(), &mut carry,
                        )
                    },)*
                    Small::SquaredErrors(e) => squared_errors_backward(adj, v, d, e),
                    Small::SquaredErrorsRun(e) => {
                        squared_errors_run_backward(adj, v, d, e, seed.take(), &mut carry)
                    }
                    &Small::Dot { act, tape_neuron, n: terms, ref pairs, b_const, bias, out } => {
                        small_dot_backward::<SMALL_MASK>(
                            adj, v, d, act, tape_neuron, terms, pairs, b_const, bias, out,
                        )
                    }
                }
            }
        }
    };
}

small_instrs! {
    L21I = (2, 1, 0), L21S = (2, 1, 1), L21T = (2, 1, 2), L21R = (2, 1, 3),
    L22I = (2, 2, 0), L22S = (2, 2, 1), L22T = (2, 2, 2), L22R = (2, 2, 3),
    L23I = (2, 3, 0), L23S = (2, 3, 1), L23T = (2, 3, 2), L23R = (2, 3, 3),
    L24I = (2, 4, 0), L24S = (2, 4, 1), L24T = (2, 4, 2), L24R = (2, 4, 3),
    L31I = (3, 1, 0), L31S = (3, 1, 1), L31T = (3, 1, 2), L31R = (3, 1, 3),
    L32I = (3, 2, 0), L32S = (3, 2, 1), L32T = (3, 2, 2), L32R = (3, 2, 3),
    L33I = (3, 3, 0), L33S = (3, 3, 1), L33T = (3, 3, 2), L33R = (3, 3, 3),
    L34I = (3, 4, 0), L34S = (3, 4, 1), L34T = (3, 4, 2), L34R = (3, 4, 3),
}

/// The program as [`Small`] instructions, if every instruction of `code` is
/// a small layer with biases, a squared-error loss or a weighted sum of at
/// most [`SMALL`] single terms, and runs backward too: a program
/// that short spends most of its time entering and leaving the loops and
/// dispatching, which the loops over [`Small`]s do with less. Else empty.
pub(crate) fn small_program(code: &Code, slots: usize, leaves: u32, outputs: &[u32]) -> Vec<Small> {
    if code.reached != code.instrs.len() || slots > SMALL_SLOTS {
        return Vec::new();
    }
    let small: Option<Vec<Small>> = code
        .instrs
        .iter()
        .map(|instr| match *instr {
            Instr::Layer(layer) if layer.bias != NO_BIAS => small_layer(layer),
            Instr::SquaredErrors { x, sq, c, t, out } => {
                let e = SquaredErrors {
                    x,
                    dq: sq.map(|q| q - 1),
                    c,
                    t,
                    out,
                    x_alone: false,
                    x_carried: false,
                };
                let run = u64::from(x[1]) == u64::from(x[0]) + 1
                    && u64::from(e.dq[1]) == u64::from(e.dq[0]) + 2;
                Some(if run {
                    Small::SquaredErrorsRun(e)
                } else {
                    Small::SquaredErrors(e)
                })
            }
            Instr::SmallDot {
                act,
                tape_neuron,
                n,
                pairs,
                b_const,
                bias,
                out,
            } => Some(Small::Dot {
                act,
                tape_neuron,
                n,
                pairs,
                b_const,
                bias,
                out,
            }),
            _ => None,
        })
        .collect();
    let mut small = small.unwrap_or_default();
    alone(&mut small, leaves, outputs);
    carried(&mut small);
    small
}

/// The output whose seed [`backward_small`] may take in a register: the
/// one whose slot is the result of the program's last instruction, a loss
/// over a run, if no other output shares that slot. Its adjoint is then
/// `0 + seed` (every instruction's adjoint is zero between sweeps), passed
/// to the loss as it is, not stored and loaded back: one link less on a
/// replayed step's chain (see [`carried`]).
pub(crate) fn seeded_in_register(small: &[Small], outputs: &[u32]) -> Option<usize> {
    let Some(Small::SquaredErrorsRun(e)) = small.last() else {
        return None;
    };
    let mut at = outputs.iter().enumerate().filter(|&(_, &o)| o == e.out);
    match (at.next(), at.next()) {
        (Some((k, _)), None) => Some(k),
        _ => None,
    }
}

/// Sets [`Layer::x_carried`], [`Layer::out_carried`] and
/// [`SquaredErrors::x_carried`] on a small program, where the instruction
/// just after a small layer (a small layer, or a loss over a run of two)
/// reads a run `x..x + k` that starts at the layer's outputs `out..out + n`:
///
/// - forward, where `k ≤ n`: every value it reads is in the carry;
/// - backward, only where `k = n`: the reader has written the adjoints of
///   the `k` slots it reads, not of the layer's other outputs, whose
///   adjoints (from other readers, or seeds) are in their slots alone.
///
/// A small program runs as a chain: each layer reads what the one before
/// wrote. Through the slots, each link is a store and a load of an `f64`,
/// which costs some 9 cycles on this project's machines (a load that takes
/// its data from a store; the integer registers are renamed through memory,
/// `f64`s are not) where the operations themselves cost 3 to 4: W1
/// replayed, a step bound by its chain, goes through four such links. So
/// the values stay in registers from one instruction to the next, forward,
/// and so do the adjoints of the run, backward (see [`Carry`]).
///
/// The slots are still written, so every reader after sees them. The
/// backward carry holds the adjoints of `x` as the reader just wrote them,
/// which are complete: every other reader of those slots comes later in
/// program order, so was swept before. (A small program's layers and losses
/// always write their inputs' adjoints, `Known::small`, so the carry always
/// holds them.)
fn carried(small: &mut [Small]) {
    for at in 1..small.len() {
        let (before, after) = small.split_at_mut(at);
        let Some(producer) = small_layer_of_opt_mut(&mut before[at - 1]) else {
            continue;
        };
        let (out, n) = (producer.out, producer.n);
        // The length of the run read, if read from the carry forward.
        let read = match &mut after[0] {
            Small::SquaredErrorsRun(e) => {
                e.x_carried = e.x[0] == out && n >= 2;
                e.x_carried.then_some(2)
            }
            Small::SquaredErrors(_) | Small::Dot { .. } => None,
            layer => {
                let l = small_layer_of_mut(layer);
                l.x_carried = l.x == out && n >= l.k;
                l.x_carried.then_some(l.k)
            }
        };
        producer.out_carried = read == Some(n);
    }
}

/// Sets [`Layer::x_alone`] and [`SquaredErrors::x_alone`] on the
/// instructions of a small program that alone read their inputs `x`, which
/// are neither inputs (slots below `leaves`, whose adjoints a program shows)
/// nor outputs (seeded): each slot of the run read once, by that
/// instruction alone, in the whole program.
///
/// Such an adjoint is scratch between two instructions: its writer reads it
/// back right after (in reverse order) and zeroes it. Its reader then starts
/// it from −0 instead of loading the 0 there: −0 + c is c exactly, so the
/// compiler drops that add, and the first contribution is the adjoint as is,
/// one add less on the step's critical path. The tape's adjoint is 0 + c,
/// which differs only where c is −0, and that sign reaches nothing a program
/// shows (see [`squared_errors_backward`]: an adjoint is only multiplied on,
/// and every adjoint a program shows starts at +0 and is only added to).
fn alone(small: &mut [Small], leaves: u32, outputs: &[u32]) {
    // How many times each slot is read, over the whole program.
    let mut reads = [0u32; SMALL_SLOTS];
    let mut read = |slot: u32| reads[slot as usize & SMALL_MASK] += 1;
    for instr in small.iter() {
        match instr {
            Small::SquaredErrors(e) | Small::SquaredErrorsRun(e) => {
                e.x.iter().chain(&e.c).for_each(|&slot| read(slot));
            }
            Small::Dot { n, pairs, bias, .. } => {
                pairs[..2 * *n as usize].iter().for_each(|&slot| read(slot));
                if *bias != NO_BIAS {
                    read(*bias);
                }
            }
            layer => {
                let l = small_layer_of(layer);
                for j in 0..l.n {
                    (0..l.k).for_each(|i| read(l.w + j * l.w_stride + i));
                    if l.bias != NO_BIAS {
                        read(l.bias + j * l.bias_stride);
                    }
                }
                (0..l.k).for_each(|i| read(l.x + i));
            }
        }
    }
    let scratch = |slot: u32| {
        slot >= leaves && !outputs.contains(&slot) && reads[slot as usize & SMALL_MASK] == 1
    };
    for instr in small.iter_mut() {
        match instr {
            Small::SquaredErrorsRun(e) => e.x_alone = e.x.iter().all(|&slot| scratch(slot)),
            Small::SquaredErrors(_) | Small::Dot { .. } => {}
            layer => {
                let l = small_layer_of_mut(layer);
                l.x_alone = (0..l.k).all(|i| scratch(l.x + i));
            }
        }
    }
}

/// An [`Instr::SquaredErrors`] forward.
#[inline(always)]
fn squared_errors_forward(v: &mut [f64], d: &mut [f64], e: &SquaredErrors) {
    let mut z = 0.0;
    for k in 0..2 {
        let (m, dm) = UnaryOp::SubConst(e.t[k]).eval(v[e.x[k] as usize & SMALL_MASK]);
        let (value, partial) = UnaryOp::Square.eval(m);
        // The difference's slot, then the square's.
        let at = e.dq[k] as usize & SMALL_MASK;
        *chunk_mut::<2>(v, at) = [m, value];
        *chunk_mut::<2>(d, at) = [dm, partial];
        let term = value * v[e.c[k] as usize & SMALL_MASK];
        // The sum's first term, then one more (no 0 + first: −0 stays).
        z = if k == 0 { term } else { z + term };
    }
    let (value, derivative) = Activation::Identity.value_and_derivative(z);
    v[e.out as usize & SMALL_MASK] = value;
    d[e.out as usize & SMALL_MASK] = derivative;
}

/// An [`Instr::SquaredErrors`] backward.
///
/// As the tape sweeps the nodes it stands for: the weighted sum (its
/// derivative, the identity's, is 1), then each square in reverse order, the
/// square's adjoint g · c, the difference's (g · c) · 2m, and x's adjoint
/// plus that times ∂(x − t)/∂x = 1. The tape's adjoints of the square and of
/// the difference are 0 + (their one contribution); here the `0 +` and the
/// two products by 1 are left out, which changes no bit a program shows:
///
/// - `a · 1` is `a` exactly (NaN included: an adjoint is never a signalling
///   NaN, it comes out of arithmetic);
/// - `0 + a` differs from `a` only for a = −0, and that sign can reach x's
///   adjoint only as the sign of a zero added to it; x's adjoint starts at
///   +0 and is only ever added to, so it is never −0, and (+0 or any other
///   sum) + (±0) is the same either way.
///
/// Those five operations lie on a replayed step's critical path (W1: ~2.5 ns
/// of the two `0 +` alone, measured).
#[inline(always)]
fn squared_errors_backward(adj: &mut [f64], v: &[f64], d: &[f64], e: &SquaredErrors) {
    let g = std::mem::take(&mut adj[e.out as usize & SMALL_MASK]); // zeroed for the next sweep
    debug_assert_eq!(
        d[e.out as usize & SMALL_MASK],
        1.0,
        "the identity's derivative"
    );
    for k in (0..2).rev() {
        let [d_difference, d_square] = chunk::<2>(d, e.dq[k] as usize & SMALL_MASK);
        debug_assert_eq!(d_difference, 1.0, "∂(x − t)/∂x");
        adj[e.x[k] as usize & SMALL_MASK] += g * v[e.c[k] as usize & SMALL_MASK] * d_square;
    }
}

/// [`squared_errors_forward`] over runs (see [`Small::SquaredErrorsRun`]):
/// every operand read first (the fusion leaves no difference nor square read
/// by another term), the same operations on them, then the runs written.
#[inline(always)]
fn squared_errors_run_forward(v: &mut [f64], d: &mut [f64], e: &SquaredErrors, carry: &Carry) {
    let xs = if e.x_carried {
        carry.get::<2>()
    } else {
        chunk_by_slot::<2>(v, e.x[0] as usize & SMALL_MASK)
    };
    let cs = [
        v[e.c[0] as usize & SMALL_MASK],
        v[e.c[1] as usize & SMALL_MASK],
    ];
    let (m0, dm0) = UnaryOp::SubConst(e.t[0]).eval(xs[0]);
    let (value0, partial0) = UnaryOp::Square.eval(m0);
    let (m1, dm1) = UnaryOp::SubConst(e.t[1]).eval(xs[1]);
    let (value1, partial1) = UnaryOp::Square.eval(m1);
    let at = e.dq[0] as usize & SMALL_MASK;
    *chunk_mut::<4>(v, at) = [m0, value0, m1, value1];
    *chunk_mut::<4>(d, at) = [dm0, partial0, dm1, partial1];
    // The sum's first term, then one more (no 0 + first: −0 stays).
    let z = value0 * cs[0] + value1 * cs[1];
    let (value, derivative) = Activation::Identity.value_and_derivative(z);
    v[e.out as usize & SMALL_MASK] = value;
    d[e.out as usize & SMALL_MASK] = derivative;
}

/// [`squared_errors_backward`] over runs (see [`Small::SquaredErrorsRun`]).
#[inline(always)]
fn squared_errors_run_backward(
    adj: &mut [f64],
    v: &[f64],
    d: &[f64],
    e: &SquaredErrors,
    seed: Option<f64>,
    carry: &mut Carry,
) {
    let g = match seed {
        Some(g) => g,
        // Zeroed for the next sweep; read by `chunk_by_slot`, which keeps
        // this a branch (a select would wait on the load).
        None => {
            let out = e.out as usize & SMALL_MASK;
            let [g] = chunk_by_slot::<1>(adj, out);
            adj[out] = 0.0;
            g
        }
    };
    debug_assert_eq!(
        d[e.out as usize & SMALL_MASK],
        1.0,
        "the identity's derivative"
    );
    let at = e.dq[0] as usize & SMALL_MASK;
    let partials = chunk::<4>(d, at);
    // The differences m, read slot by slot (see `chunk_by_slot`).
    let [m0, _, m1, _] = chunk_by_slot::<4>(v, at);
    let cs = [
        v[e.c[0] as usize & SMALL_MASK],
        v[e.c[1] as usize & SMALL_MASK],
    ];
    // As squared_errors_backward, the exact identities left out, and each
    // square's term (g·c)·2m as (2·g·c)·m where that is exact.
    debug_assert!(partials[0] == 1.0 && partials[2] == 1.0, "∂(x − t)/∂x");
    let terms = [
        square_term(g * cs[0], m0, partials[1]),
        square_term(g * cs[1], m1, partials[3]),
    ];
    let ax = chunk_mut::<2>(adj, e.x[0] as usize & SMALL_MASK);
    if e.x_alone {
        *ax = terms; // the first contribution as is (see `alone`)
    } else {
        *ax = [ax[0] + terms[0], ax[1] + terms[1]];
    }
    carry.put(*ax);
}

/// The contribution of a square (x − t)² weighted by c to its difference m:
/// `gc · d_square`, where `gc` is g·c and `d_square` the square's partial
/// 2m (`m * 2.0`, as the op's rule writes it).
///
/// Computed as (gc · 2) · m, the same bits wherever neither doubling
/// overflows: doubling is exact (subnormals too), so both are the one
/// rounding of the exact 2·gc·m. But m is known one product before 2m, and
/// this product lies on a replayed training step's critical path (W1: the
/// loss's backward feeds every weight's update: the runner's W1 replayed
/// 1.30x → 1.26x hand-coded).
/// Where a doubling would overflow (|gc| or |m| ≥ 2¹⁰²³, or NaN), the
/// product is taken as written, out of line (so that the test is a branch
/// predicted, not a select waiting on m).
#[inline(always)]
fn square_term(gc: f64, m: f64, d_square: f64) -> f64 {
    // 2¹⁰²³ (exponent field 2046): below it, doubling is finite.
    const LIMIT: f64 = f64::from_bits(0x7FE0_0000_0000_0000);
    if gc.abs() < LIMIT && m.abs() < LIMIT {
        (gc * 2.0) * m
    } else {
        square_term_as_written(gc, d_square)
    }
}

/// `gc · d_square`, for [`square_term`]'s rare operands.
#[cold]
#[inline(never)]
fn square_term_as_written(gc: f64, d_square: f64) -> f64 {
    gc * d_square
}

/// `slots[at..at + N]`, copied (one bounds check: `at` is a `u32` widened, so
/// `at + N` does not overflow).
#[inline(always)]
fn chunk<const N: usize>(slots: &[f64], at: usize) -> [f64; N] {
    let end = at.wrapping_add(N);
    match slots.get(at..end) {
        Some(c) => c.try_into().unwrap_or_else(|_| out_of_range(at)),
        None => out_of_range(at),
    }
}

/// `slots[at..at + N]`, copied as [`chunk`] does, but each slot read by a
/// load of its own, never one wide load over several.
///
/// For slots the instruction before may just have written one at a time (a
/// layer's inputs and weights, a loss's operands): a load of 16 bytes over
/// two stores of 8 cannot take its data from the store buffer and waits for
/// both stores to reach the cache, ~20 cycles on this project's machines,
/// against ~5 for a load that matches a store. A small program's forward
/// pass is such a chain of instructions (W1 replayed, a step latency-bound:
/// 1.51x → 1.38x hand-coded with this alone; see the README's Performance
/// section). The compiler merges adjacent loads into wide ones where it can
/// see that they are adjacent: the stride here is a `1` it cannot see
/// (`black_box`), so each slot is its own load (and the result is the same
/// bits: only the width of the loads differs).
#[inline(always)]
fn chunk_by_slot<const N: usize>(slots: &[f64], at: usize) -> [f64; N] {
    let end = at.wrapping_add(N);
    match slots.get(at..end) {
        Some(c) => {
            let one = std::hint::black_box(1usize);
            std::array::from_fn(|i| c[(i * one).min(N - 1)])
        }
        None => out_of_range(at),
    }
}

/// `slots[at..at + N]`, to write (one bounds check, as [`chunk`]).
#[inline(always)]
fn chunk_mut<const N: usize>(slots: &mut [f64], at: usize) -> &mut [f64; N] {
    let end = at.wrapping_add(N);
    match slots.get_mut(at..end) {
        Some(c) => c.try_into().unwrap_or_else(|_| out_of_range(at)),
        None => out_of_range(at),
    }
}

#[cold]
#[inline(never)]
fn out_of_range(at: usize) -> ! {
    panic!("chainrule: replay slot {at} out of range (a compiler bug)")
}

/// An [`Instr::Layer`] forward (out of line: one call runs many neurons, and the
/// activation is chosen once for all of them), built for AVX where the
/// processor has it (see [`crate::avx`]).
#[inline(never)]
fn layer_forward(v: &mut [f64], d: &mut [f64], l: &Layer) {
    #[cfg(target_arch = "x86_64")]
    if crate::avx::avx() {
        // SAFETY: `avx()` is true only where std's run-time detection found
        // AVX, the one target feature `layer_forward_avx` is built with; see
        // `crate::avx` for the whole argument.
        #[allow(unsafe_code)]
        return unsafe { layer_forward_avx(v, d, l) };
    }
    layer_forward_any(v, d, l)
}

/// [`layer_forward_any`] built for AVX: the same code, the same bits (see
/// [`crate::avx`]).
///
/// # Safety
/// The processor must have AVX. (`unsafe fn` rather than a safe
/// `#[target_feature]` function, which needs Rust 1.86: the crate's MSRV is
/// 1.85.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[allow(unsafe_code)]
unsafe fn layer_forward_avx(v: &mut [f64], d: &mut [f64], l: &Layer) {
    layer_forward_any(v, d, l)
}

/// [`layer_backward_any`] built for AVX, as [`layer_forward_avx`].
///
/// # Safety
/// The processor must have AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
#[allow(unsafe_code)]
unsafe fn layer_backward_avx(adj: &mut [f64], v: &[f64], d: &[f64], l: &Layer) {
    layer_backward_any(adj, v, d, l)
}

/// [`layer_forward`]'s body, for either build.
#[inline(always)]
fn layer_forward_any(v: &mut [f64], d: &mut [f64], l: &Layer) {
    match l.act {
        Activation::Identity => layer_forward_with(v, d, l, |z| (z, 1.0)),
        Activation::Sigmoid => layer_forward_with(v, d, l, sigmoid_with_derivative),
        Activation::Tanh => layer_forward_with(v, d, l, tanh_with_derivative),
        Activation::Relu => layer_forward_with(v, d, l, |z| (relu(z), relu_derivative(z))),
    }
}

#[inline(always)]
fn layer_forward_with(v: &mut [f64], d: &mut [f64], l: &Layer, act: impl Fn(f64) -> (f64, f64)) {
    let (k, x) = (l.k as usize, l.x as usize);
    let (mut w, mut bias, mut out) = (l.w as usize, l.bias as usize, l.out as usize);
    let (ws, bs) = (l.w_stride as usize, l.bias_stride as usize);
    let has_bias = l.bias != NO_BIAS;
    if k == 2 {
        // The inputs are no neuron's output: read them once.
        let (x0, x1) = (v[x], v[x + 1]);
        for _ in 0..l.n {
            let mut z = v[w] * x0;
            z += v[w + 1] * x1;
            if has_bias {
                z += v[bias]; // v · 1, exactly
            }
            let (value, derivative) = act(z);
            v[out] = value;
            d[out] = derivative;
            (w, bias, out) = (w + ws, bias + bs, out + 1);
        }
        return;
    }
    // Two neurons at a time: their sums are two chains of additions, each in
    // its own order, that the processor runs side by side (no neuron reads
    // another's output).
    for _ in 0..l.n / 2 {
        let (mut za, mut zb) = {
            let xr = &v[x..x + k];
            let (wa, wb) = (&v[w..w + k], &v[w + ws..w + ws + k]);
            let (mut za, mut zb) = (wa[0] * xr[0], wb[0] * xr[0]);
            for ((&a, &b), &xi) in wa[1..].iter().zip(&wb[1..]).zip(&xr[1..]) {
                za += a * xi;
                zb += b * xi;
            }
            (za, zb)
        };
        if has_bias {
            za += v[bias]; // v · 1, exactly
            zb += v[bias + bs];
        }
        let (value, derivative) = act(za);
        v[out] = value;
        d[out] = derivative;
        let (value, derivative) = act(zb);
        v[out + 1] = value;
        d[out + 1] = derivative;
        (w, bias, out) = (w + 2 * ws, bias + 2 * bs, out + 2);
    }
    if l.n % 2 == 1 {
        let mut z = {
            let (wr, xr) = (&v[w..w + k], &v[x..x + k]);
            sum_run(wr[0] * xr[0], &wr[1..], &xr[1..])
        };
        if has_bias {
            z += v[bias]; // v · 1, exactly
        }
        let (value, derivative) = act(z);
        v[out] = value;
        d[out] = derivative;
    }
}

/// An [`Instr::Layer`] backward: its neurons in reverse order, each as
/// [`Instr::Dot`]'s backward (out of line, and built for AVX where the
/// processor has it, as [`layer_forward`]).
#[inline(never)]
fn layer_backward(adj: &mut [f64], v: &[f64], d: &[f64], l: &Layer) {
    #[cfg(target_arch = "x86_64")]
    if crate::avx::avx() {
        // SAFETY: as in `layer_forward`; see `crate::avx`.
        #[allow(unsafe_code)]
        return unsafe { layer_backward_avx(adj, v, d, l) };
    }
    layer_backward_any(adj, v, d, l)
}

/// [`layer_backward`]'s body, for either build.
#[inline(always)]
fn layer_backward_any(adj: &mut [f64], v: &[f64], d: &[f64], l: &Layer) {
    match (l.k == 2, l.tape_neuron) {
        (true, false) => layer2_backward(adj, v, d, l, |g, derivative, value| {
            (g * derivative) * value
        }),
        (true, true) => layer2_backward(adj, v, d, l, |g, derivative, value| {
            g * (derivative * value)
        }),
        (false, _) => layer_backward_runs(adj, v, d, l),
    }
}

/// [`layer_backward`] for two terms a neuron. `term(g, a′, partner)` is a
/// term's contribution. The inputs' adjoints are carried in registers across
/// the neurons: each still gets its contributions one by one in the same order
/// (nothing else in the layer writes them), so to the same bits.
#[inline(always)]
fn layer2_backward(
    adj: &mut [f64],
    v: &[f64],
    d: &[f64],
    l: &Layer,
    term: impl Fn(f64, f64, f64) -> f64,
) {
    let x = l.x as usize;
    let (x0, x1) = (v[x], v[x + 1]);
    let (mut ax0, mut ax1) = (adj[x], adj[x + 1]);
    let (ws, bs) = (l.w_stride as usize, l.bias_stride as usize);
    let relu = l.act == Activation::Relu;
    let has_bias = l.bias != NO_BIAS;
    for j in (0..l.n as usize).rev() {
        let out = l.out as usize + j;
        let g = std::mem::take(&mut adj[out]); // zeroed for the next sweep
        let derivative = d[out];
        let w = l.w as usize + j * ws;
        let (w0, w1) = (v[w], v[w + 1]);
        if relu && derivative == 0.0 {
            // Masked (see `masked_products`).
            if !l.tape_neuron {
                for (i, (wi, xi)) in [(w0, x0), (w1, x1)].into_iter().enumerate() {
                    if let Some((to_w, to_x)) = masked_product(wi, xi) {
                        if l.w_var {
                            adj[w + i] += to_w;
                        }
                        if l.x_var {
                            *[&mut ax0, &mut ax1][i] += to_x;
                        }
                    }
                }
            }
            continue;
        }
        if l.w_var {
            adj[w] += term(g, derivative, x0);
            adj[w + 1] += term(g, derivative, x1);
        }
        if l.x_var {
            ax0 += term(g, derivative, w0);
            ax1 += term(g, derivative, w1);
        }
        if has_bias {
            // g · (a′ · 1) and (g · a′) · 1 are both g · a′.
            adj[l.bias as usize + j * bs] += g * derivative;
        }
    }
    if l.x_var {
        adj[x] = ax0;
        adj[x + 1] = ax1;
    }
}

/// [`layer_backward`] for any number of terms, by runs.
#[inline(always)]
fn layer_backward_runs(adj: &mut [f64], v: &[f64], d: &[f64], l: &Layer) {
    if l.tape_neuron {
        layer_runs_with(adj, v, d, l, |g, derivative, value| {
            g * (derivative * value)
        });
    } else {
        layer_runs_with(adj, v, d, l, |g, derivative, value| {
            (g * derivative) * value
        });
    }
}

/// [`layer_backward_runs`] with `term(g, a′, partner)` a term's contribution:
/// for each neuron, the weights' run, then the inputs' run (the two do not
/// overlap, so each adjoint gets the same one contribution as in [`dot_back`]).
#[inline(always)]
fn layer_runs_with(
    adj: &mut [f64],
    v: &[f64],
    d: &[f64],
    l: &Layer,
    term: impl Fn(f64, f64, f64) -> f64,
) {
    let (k, x) = (l.k as usize, l.x as usize);
    let xs = &v[x..x + k];
    let (ws, bs) = (l.w_stride as usize, l.bias_stride as usize);
    let relu = l.act == Activation::Relu;
    for j in (0..l.n as usize).rev() {
        let out = l.out as usize + j;
        let g = std::mem::take(&mut adj[out]); // zeroed for the next sweep
        let derivative = d[out];
        let w = l.w as usize + j * ws;
        if relu && derivative == 0.0 {
            // Masked (see `masked_products`).
            if !l.tape_neuron {
                let (w_var, x_var) = (l.w_var, l.x_var);
                let terms = (0..k as u32).map(|i| (w as u32 + i, x as u32 + i));
                masked_products_with(adj, v, terms, w_var, x_var);
            }
            continue;
        }
        let wv = &v[w..w + k];
        if l.w_var {
            for (a, &partner) in adj[w..w + k].iter_mut().zip(xs) {
                *a += term(g, derivative, partner);
            }
        }
        if l.x_var {
            for (a, &partner) in adj[x..x + k].iter_mut().zip(wv) {
                *a += term(g, derivative, partner);
            }
        }
        if l.bias != NO_BIAS {
            // g · (a′ · 1) and (g · a′) · 1 are both g · a′.
            adj[l.bias as usize + j * bs] += g * derivative;
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
    for instr in code.instrs[..code.reached].iter().rev() {
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
            Instr::SquaredErrors { x, sq, c, out, .. } => {
                // As the weighted sum, then each square in reverse order, with
                // the exact identities taken out (see `squared_errors_backward`).
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                for k in (0..2).rev() {
                    let [d_difference, d_square] = chunk::<2>(d, sq[k] as usize - 1);
                    debug_assert_eq!(d_difference, 1.0, "∂(x − t)/∂x");
                    adj[x[k] as usize] += g * v[c[k] as usize] * d_square;
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
            } => dot_backward(code, adj, v, d, act, tape_neuron, segs, bias, out),
            Instr::SmallDot {
                act,
                tape_neuron,
                n: terms,
                ref pairs,
                b_const,
                bias,
                out,
            } => small_dot_backward::<ALL>(
                adj,
                v,
                d,
                act,
                tape_neuron,
                terms,
                pairs,
                b_const,
                bias,
                out,
            ),
            Instr::Layer(ref layer) if layer.small != 0 => small_layer_backward(adj, v, d, layer),
            Instr::Layer(ref layer) => layer_backward(adj, v, d, layer),
            Instr::Nary { args, out, .. } => {
                let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
                nary_backward(code, adj, dn, args, g);
            }
        }
    }
}

/// An [`Instr::Dot`] backward (out of line, as [`dot_forward`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dot_backward(
    code: &Code,
    adj: &mut [f64],
    v: &[f64],
    d: &[f64],
    act: Activation,
    tape_neuron: bool,
    segs: (u32, u32),
    bias: u32,
    out: u32,
) {
    let g = std::mem::take(&mut adj[out as usize]); // zeroed for the next sweep
    let derivative = d[out as usize];
    let segs = &code.segments[segs.0 as usize..segs.1 as usize];
    if act == Activation::Relu && derivative == 0.0 {
        // Masked: the tape's relu neuron passes exactly 0 to every operand;
        // the plain operators' relu masks its own edge alone.
        if !tape_neuron {
            let terms = segs
                .iter()
                .flat_map(|s| (0..s.len).map(move |k| (s.a + k, s.b + k)));
            masked_products(adj, v, terms);
        }
        return;
    }
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

/// An [`Instr::SmallDot`] forward.
#[inline(always)]
fn small_dot_forward<const M: usize>(
    v: &mut [f64],
    d: &mut [f64],
    act: Activation,
    terms: u8,
    pairs: &[u32; 2 * SMALL],
    bias: u32,
    out: u32,
) {
    let mut z = match terms {
        1 => small_sum::<1, M>(v, pairs),
        2 => small_sum::<2, M>(v, pairs),
        3 => small_sum::<3, M>(v, pairs),
        _ => small_sum::<4, M>(v, pairs),
    };
    if bias != NO_BIAS {
        z += v[bias as usize & M]; // v · 1, exactly
    }
    let (value, derivative) = act.value_and_derivative(z);
    v[out as usize & M] = value;
    d[out as usize & M] = derivative;
}

/// An [`Instr::SmallDot`] backward.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn small_dot_backward<const M: usize>(
    adj: &mut [f64],
    v: &[f64],
    d: &[f64],
    act: Activation,
    tape_neuron: bool,
    terms: u8,
    pairs: &[u32; 2 * SMALL],
    b_const: bool,
    bias: u32,
    out: u32,
) {
    let g = std::mem::take(&mut adj[out as usize & M]); // zeroed for the next sweep
    let derivative = d[out as usize & M];
    if act == Activation::Relu && derivative == 0.0 {
        // Masked; the plain operators' relu masks its own edge alone.
        if !tape_neuron {
            let pairs = &pairs[..2 * terms as usize];
            masked_products(adj, v, pairs.chunks_exact(2).map(|p| (p[0], p[1])));
        }
        return;
    }
    match (tape_neuron, b_const) {
        (true, false) => {
            small_back::<true, M>(terms, adj, v, pairs, |value| g * (derivative * value))
        }
        (true, true) => {
            small_back::<false, M>(terms, adj, v, pairs, |value| g * (derivative * value))
        }
        (false, b_const) => {
            let gz = g * derivative;
            if b_const {
                small_back::<false, M>(terms, adj, v, pairs, |value| gz * value);
            } else {
                small_back::<true, M>(terms, adj, v, pairs, |value| gz * value);
            }
        }
    }
    if bias != NO_BIAS {
        adj[bias as usize & M] += g * derivative;
    }
}

/// `v − v`: 0 for a finite `v`, NaN for an infinite or NaN one.
#[inline(always)]
#[allow(clippy::eq_op)] // v − v is the point: it is NaN for ±∞ and NaN
fn zero_if_finite(v: f64) -> f64 {
    v - v
}

/// What a product `a · b` below a plain-operator relu masked at z ≤ 0 passes
/// on, as the tape's sweep does: the relu edge alone is masked, so the sum and
/// the product below it have adjoint 0, and the product passes `0 · b` to `a`,
/// `0 · a` to `b` (rule 2 of [`crate::backward`]: 0 · ∞ is NaN). The tape
/// passes nothing from a zero adjoint whose partials are all finite, so
/// neither does this: `None` where `a` and `b` are both finite.
#[inline(always)]
fn masked_product(va: f64, vb: f64) -> Option<(f64, f64)> {
    (zero_if_finite(va) + zero_if_finite(vb))
        .is_nan()
        .then_some((0.0 * vb, 0.0 * va))
}

/// The terms `(a, b)` (slots) of a plain-operator relu neuron masked at z ≤ 0,
/// each through [`masked_product`]: nothing when every factor is finite (one
/// sum of `v − v` tells), else `0 · partner` where a factor is not. (A tape's
/// fused relu neuron masks every edge: it has no product nodes below it.)
#[inline(never)]
fn masked_products(adj: &mut [f64], v: &[f64], terms: impl Iterator<Item = (u32, u32)> + Clone) {
    masked_products_with(adj, v, terms, true, true);
}

/// [`masked_products`], adding to the `a`s' adjoints if `a_var`, to the `b`s'
/// if `b_var` (a constant's adjoint is scratch nobody reads).
#[inline(never)]
fn masked_products_with(
    adj: &mut [f64],
    v: &[f64],
    terms: impl Iterator<Item = (u32, u32)> + Clone,
    a_var: bool,
    b_var: bool,
) {
    let finite = terms.clone().fold(0.0, |s, (a, b)| {
        s + zero_if_finite(v[a as usize]) + zero_if_finite(v[b as usize])
    });
    if !finite.is_nan() {
        return;
    }
    for (a, b) in terms {
        let (a, b) = (a as usize, b as usize);
        if let Some((to_a, to_b)) = masked_product(v[a], v[b]) {
            if a_var {
                adj[a] += to_a;
            }
            if b_var {
                adj[b] += to_b;
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
fn small_sum<const N: usize, const M: usize>(v: &[f64], pairs: &[u32; 2 * SMALL]) -> f64 {
    let mut z = v[pairs[0] as usize & M] * v[pairs[1] as usize & M];
    for k in 1..N {
        z += v[pairs[2 * k] as usize & M] * v[pairs[2 * k + 1] as usize & M];
    }
    z
}

/// The contributions of a [`Instr::SmallDot`]'s `n` terms (unrolled for each n);
/// `B_VAR`: whether the second factors get theirs (else all are constants).
#[inline(always)]
fn small_back<const B_VAR: bool, const M: usize>(
    n: u8,
    adj: &mut [f64],
    v: &[f64],
    pairs: &[u32; 2 * SMALL],
    f: impl Fn(f64) -> f64,
) {
    #[inline(always)]
    fn terms<const N: usize, const B_VAR: bool, const M: usize>(
        adj: &mut [f64],
        v: &[f64],
        pairs: &[u32; 2 * SMALL],
        f: impl Fn(f64) -> f64,
    ) {
        for k in 0..N {
            let (a, b) = (pairs[2 * k] as usize & M, pairs[2 * k + 1] as usize & M);
            let (va, vb) = (v[a], v[b]);
            adj[a] += f(vb);
            if B_VAR {
                adj[b] += f(va);
            }
        }
    }
    match n {
        1 => terms::<1, B_VAR, M>(adj, v, pairs, f),
        2 => terms::<2, B_VAR, M>(adj, v, pairs, f),
        3 => terms::<3, B_VAR, M>(adj, v, pairs, f),
        _ => terms::<4, B_VAR, M>(adj, v, pairs, f),
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
        Instr::SquaredErrors { x, sq, c, .. } => {
            for k in 0..2 {
                f(x[k]);
                f(sq[k] - 1);
                f(sq[k]);
                f(c[k]);
            }
        }
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
        Instr::Layer(l) => {
            for j in 0..l.n {
                for i in 0..l.k {
                    f(l.w + j * l.w_stride + i);
                }
                if l.bias != NO_BIAS {
                    f(l.bias + j * l.bias_stride);
                }
            }
            for i in 0..l.k {
                f(l.x + i);
            }
        }
        Instr::Nary { args, .. } => {
            for &slot in &code.args[args.0 as usize..args.1 as usize] {
                f(slot);
            }
        }
    }
}

/// How many times each slot below `first_constant` is read: by an instruction,
/// or as an output.
fn reader_counts(code: &Code, outputs: &[u32], first_constant: u32) -> Vec<u32> {
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
    readers
}

/// Fuses each square whose operand is the result of the unary instruction
/// just before it, read by it alone (and not an output), into one
/// [`Instr::SquareOf`]. The slots stay as they were (`first_constant` is the
/// first constant slot).
pub(crate) fn fuse_squares(code: &mut Code, outputs: &[u32], first_constant: u32) {
    let readers = reader_counts(code, outputs, first_constant);
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

/// A weighted sum or neuron instruction, its terms listed one by one.
struct Neuron {
    act: Activation,
    tape_neuron: bool,
    terms: Vec<(u32, u32)>,
    bias: u32,
    out: u32,
}

#[cfg(test)]
thread_local! {
    /// Instructions [`Neuron::of`] has read on this thread: the work of the
    /// layer pass, counted by the tests.
    pub(crate) static NEURONS_READ: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

impl Neuron {
    fn of(code: &Code, instr: &Instr) -> Option<Neuron> {
        #[cfg(test)]
        NEURONS_READ.with(|c| c.set(c.get() + 1));
        match *instr {
            Instr::Dot {
                act,
                tape_neuron,
                segs,
                bias,
                out,
            } => Some(Neuron {
                act,
                tape_neuron,
                terms: code.segments[segs.0 as usize..segs.1 as usize]
                    .iter()
                    .flat_map(|s| (0..s.len).map(move |i| (s.a + i, s.b + i)))
                    .collect(),
                bias,
                out,
            }),
            Instr::SmallDot {
                act,
                tape_neuron,
                n,
                ref pairs,
                bias,
                out,
                ..
            } => Some(Neuron {
                act,
                tape_neuron,
                terms: pairs[..2 * n as usize]
                    .chunks_exact(2)
                    .map(|p| (p[0], p[1]))
                    .collect(),
                bias,
                out,
            }),
            _ => None,
        }
    }

    /// The weights' and the inputs' first slots if the terms are
    /// `v[w + i] · v[x + i]` (`swap`: `v[x + i] · v[w + i]`, the same product).
    fn runs(&self, swap: bool) -> Option<(u32, u32)> {
        let side = |&(a, b): &(u32, u32)| if swap { (b, a) } else { (a, b) };
        let (w, x) = side(&self.terms[0]);
        let contiguous = self.terms.iter().enumerate().all(|(i, t)| {
            let (wi, xi) = side(t);
            i64::from(wi) == i64::from(w) + i as i64 && i64::from(xi) == i64::from(x) + i as i64
        });
        contiguous.then_some((w, x))
    }
}

/// Whether `[a, a + n)` and `[b, b + m)` are apart.
fn apart(a: u32, n: u32, b: u32, m: u32) -> bool {
    u64::from(a) + u64::from(n) <= u64::from(b) || u64::from(b) + u64::from(m) <= u64::from(a)
}

/// Fuses runs of consecutive neurons (and weighted sums) of one shape into one
/// [`Instr::Layer`]: the same activation and number of terms, outputs in
/// consecutive slots, each neuron's weights a run at a fixed stride from the
/// last one's, every neuron's inputs the same run of slots (or of constants
/// equal bit for bit, read from the first neuron's slots), biases at a fixed
/// stride (or none). The weights' runs never overlap the inputs', nor does
/// anything read overlap the outputs, so the layer runs each neuron exactly as
/// its own instruction would. `constants` holds the values of the slots from
/// `first_constant` on. Returns the number of layers made.
pub(crate) fn fuse_layers(code: &mut Code, first_constant: u32, constants: &[f64]) -> usize {
    let value_bits = |slot: u32| {
        slot.checked_sub(first_constant)
            .and_then(|c| constants.get(c as usize))
            .map(|v| v.to_bits())
    };
    // The same input: the same slot, or two constants equal bit for bit.
    let same_input =
        |a: u32, b: u32| a == b || (value_bits(a).is_some() && value_bits(a) == value_bits(b));
    let mut fused = Vec::with_capacity(code.instrs.len());
    let mut layers = 0;
    let mut p = 0;
    while p < code.instrs.len() {
        match layer_at(code, p, &same_input) {
            Some(mut layer) => {
                layer.w_var = layer.w < first_constant
                    || (0..layer.n).any(|j| layer.w + j * layer.w_stride < first_constant);
                layer.x_var = layer.x < first_constant;
                layer.small = small_shape(layer.n, layer.k);
                fused.push(Instr::Layer(layer));
                layers += 1;
                p += layer.n as usize;
            }
            None => {
                fused.push(code.instrs[p]);
                p += 1;
            }
        }
    }
    code.instrs = fused;
    layers
}

/// Layers of fewer neurons stay separate instructions, unless small (see
/// [`small_shape`]): the call into the layer loop costs more than it saves
/// below it (W1's layers of two measured slower through it: 1,418 instructions
/// a step against 1,246; as small layers, 1,050 against 1,109 apart).
const MIN_LAYER: u32 = 4;

/// The longest layer (of at least [`MIN_LAYER`] neurons, or small) starting at
/// instruction `p`.
fn layer_at(code: &Code, p: usize, same_input: &dyn Fn(u32, u32) -> bool) -> Option<Layer> {
    let first = Neuron::of(code, &code.instrs[p])?;
    let second = Neuron::of(code, code.instrs.get(p + 1)?)?;
    let k = first.terms.len();
    let shaped = |n: &Neuron| {
        n.act == first.act
            && n.tape_neuron == first.tape_neuron
            && n.terms.len() == k
            && (n.bias == NO_BIAS) == (first.bias == NO_BIAS)
    };
    if !shaped(&second) {
        return None;
    }
    let (swap, (w, x), (w1, _)) = [false, true].into_iter().find_map(|swap| {
        let (w, x) = first.runs(swap)?;
        let (w1, x1) = second.runs(swap)?;
        (0..k as u32)
            .all(|i| same_input(x + i, x1 + i))
            .then_some((swap, (w, x), (w1, x1)))
    })?;
    let w_stride = w1.checked_sub(w)?;
    let bias_stride = if first.bias == NO_BIAS {
        0
    } else {
        second.bias.checked_sub(first.bias)?
    };
    let mut layer = Layer {
        act: first.act,
        tape_neuron: first.tape_neuron,
        w_var: true,
        x_var: true,
        n: 1,
        k: k as u32,
        w,
        w_stride,
        x,
        bias: first.bias,
        bias_stride,
        out: first.out,
        small: 0,
        x_alone: false,
        x_carried: false,
        out_carried: false,
    };
    // Extend while the next neuron follows the pattern. A neuron whose reads
    // meet an output or the inputs ends the search: no layer from `p` of any
    // length passes the check below (it only adds terms as it grows), and
    // searching on would read the rest of the run for nothing, from each of
    // its neurons in turn (quadratic: `y = tanh(y · x)` repeated).
    if !neuron_apart(&layer, 0) {
        return None;
    }
    while let Some(next) = code
        .instrs
        .get(p + layer.n as usize)
        .and_then(|i| Neuron::of(code, i))
    {
        let j = layer.n;
        let fits = shaped(&next)
            && next.out == layer.out.checked_add(j)?
            && next.runs(swap).is_some_and(|(wj, xj)| {
                u64::from(wj) == u64::from(w) + u64::from(j) * u64::from(w_stride)
                    && (0..k as u32).all(|i| same_input(x + i, xj + i))
            })
            && (first.bias == NO_BIAS
                || u64::from(next.bias)
                    == u64::from(first.bias) + u64::from(j) * u64::from(bias_stride));
        if !fits {
            break;
        }
        if !neuron_apart(&layer, j) {
            return None;
        }
        layer.n += 1;
    }
    // Nothing read overlaps the outputs; no weights' run nor bias overlaps the
    // inputs.
    let (n, k) = (layer.n, layer.k);
    let reads_apart = (0..n).all(|j| {
        let wj = w + j * w_stride;
        let bias = layer.bias + j * bias_stride;
        let bias_apart =
            layer.bias == NO_BIAS || (apart(bias, 1, layer.out, n) && apart(bias, 1, x, k));
        apart(wj, k, x, k) && apart(wj, k, layer.out, n) && bias_apart
    }) && apart(x, k, layer.out, n);
    let long_enough = n >= MIN_LAYER || small_shape(n, k) != 0;
    (long_enough && reads_apart).then_some(layer)
}

/// Whether neuron `j` of `layer` (`j < n`) passes the terms of
/// [`layer_at`]'s final check that it adds to those of neurons `0..j`: its
/// weights' run and bias apart from the inputs and from the outputs `0..=j`,
/// its output apart from the inputs and from the weights and biases of
/// neurons `0..j`. False: no layer of more than `j` neurons passes that check.
/// O(k).
fn neuron_apart(layer: &Layer, j: u32) -> bool {
    let k = u64::from(layer.k);
    let (x, out, j) = (u64::from(layer.x), u64::from(layer.out), u64::from(j));
    let apart = |a: u64, n: u64, b: u64, m: u64| a + n <= b || b + m <= a;
    let slot = out + j;
    // `start + i · stride + t == slot` for some `i < j`, `t < len`.
    let earlier_meets = |start: u64, stride: u64, len: u64| {
        (0..len).any(|t| {
            slot.checked_sub(start + t).is_some_and(|d| {
                if stride == 0 {
                    d == 0 && j > 0
                } else {
                    d % stride == 0 && d / stride < j
                }
            })
        })
    };
    let (w, w_stride) = (u64::from(layer.w), u64::from(layer.w_stride));
    let wj = w + j * w_stride;
    let weights_apart = apart(wj, k, x, k)
        && apart(wj, k, out, j + 1)
        && apart(x, k, slot, 1)
        && !earlier_meets(w, w_stride, k);
    let bias_apart = layer.bias == NO_BIAS || {
        let (b, b_stride) = (u64::from(layer.bias), u64::from(layer.bias_stride));
        let bj = b + j * b_stride;
        apart(bj, 1, out, j + 1) && apart(bj, 1, x, k) && !earlier_meets(b, b_stride, 1)
    };
    weights_apart && bias_apart
}

/// Fuses each weighted sum of two squares `(x − t)²` (each an
/// [`Instr::SquareOf`] of a subtraction of a constant, the two instructions
/// just before the sum, in the order of its terms, read by the sum
/// alone and not outputs) times constants, without activation nor bias, into
/// one [`Instr::SquaredErrors`]: a loss such as W1's ½(o₁ − t₁)² + ½(o₂ − t₂)².
/// The slots stay as they were. Returns the number fused.
pub(crate) fn fuse_squared_errors(code: &mut Code, outputs: &[u32], first_constant: u32) -> usize {
    let readers = reader_counts(code, outputs, first_constant);
    let mut fused: Vec<Instr> = Vec::with_capacity(code.instrs.len());
    let mut count = 0;
    for &instr in &code.instrs {
        let Instr::SmallDot {
            act: Activation::Identity,
            tape_neuron: false,
            n,
            pairs,
            bias: NO_BIAS,
            out,
            ..
        } = instr
        else {
            fused.push(instr);
            continue;
        };
        let n = n as usize;
        let squares = fused.len().checked_sub(n).filter(|_| n == 2);
        let terms = squares.and_then(|from| {
            let mut x = [0; 2];
            let mut sq = [0; 2];
            let mut c = [0; 2];
            let mut t = [0.0; 2];
            for k in 0..n {
                let Instr::SquareOf {
                    first: UnaryOp::SubConst(target),
                    x: xk,
                    mid,
                    out: square,
                } = fused[from + k]
                else {
                    return None;
                };
                let (a, b) = (pairs[2 * k], pairs[2 * k + 1]);
                let weight = if a == square {
                    b
                } else if b == square {
                    a
                } else {
                    return None;
                };
                let alone = readers[square as usize] == 1;
                if !alone || mid + 1 != square || weight < first_constant {
                    return None;
                }
                (x[k], sq[k], c[k], t[k]) = (xk, square, weight, target);
            }
            Some((from, x, sq, c, t))
        });
        match terms {
            Some((from, x, sq, c, t)) => {
                fused.truncate(from);
                fused.push(Instr::SquaredErrors { x, sq, c, t, out });
                count += 1;
            }
            None => fused.push(instr),
        }
    }
    code.instrs = fused;
    count
}

#[cfg(test)]
mod tests {
    //! The loops over [`Small`]s against the loops over [`Instr`]s, on the
    //! same programs: every value, partial, adjoint and gradient bit for bit.

    use super::Small;
    use crate::replay::Program;
    use crate::{Activation, Tape, Var};

    /// Forward and backward at `inputs`: the output, then every slot's value
    /// and partial, and every adjoint but the constants' (scratch), as bits.
    fn run(program: &mut Program, inputs: &[f64]) -> Vec<u64> {
        program.set_inputs(inputs);
        program.forward();
        program.backward();
        let s = &program.state;
        let adjoints = &s.adjoints[..program.first_constant];
        std::iter::once(program.output(0))
            .chain(s.values.iter().chain(&s.d).chain(adjoints).copied())
            .map(f64::to_bits)
            .collect()
    }

    /// `program` run by both loops at each of `inputs` (the small loops must
    /// be the ones it runs).
    fn small_runs_as_the_loops(mut program: Program, inputs: &[Vec<f64>], what: &str) {
        assert!(!program.code.small.is_empty(), "{what}: no small program");
        let mut looped = program.clone();
        looped.code.small.clear();
        for new in inputs {
            assert_eq!(
                run(&mut program, new),
                run(&mut looped, new),
                "{what} at {new:?}"
            );
        }
    }

    /// Inputs around `n` starting values: moved at random, and with an
    /// infinity, a NaN and a −0 in turn.
    fn inputs(n: usize) -> Vec<Vec<f64>> {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 4.0 - 2.0
        };
        let mut all: Vec<Vec<f64>> = (0..16).map(|_| (0..n).map(|_| next()).collect()).collect();
        for (k, odd) in [f64::INFINITY, f64::NAN, -0.0, f64::NEG_INFINITY]
            .into_iter()
            .enumerate()
        {
            let mut v = all[k].clone();
            v[k % n] = odd;
            all.push(v);
        }
        all
    }

    /// A layer of `n` neurons of `k` terms on `tape`, the tape's fused neurons
    /// or the plain operators' (`fused`), over variable inputs or the
    /// constants `constant(i)` (`x_var`), each neuron with a bias of its own
    /// (`Some(true)`), one shared (`Some(false)`) or none. Returns the number
    /// of leaves (the inputs if variables, the weights, the biases) and the
    /// layer's outputs.
    #[allow(clippy::too_many_arguments)]
    fn layer(
        tape: &Tape,
        n: usize,
        k: usize,
        act: Activation,
        fused: bool,
        x_var: bool,
        bias: Option<bool>,
        constant: impl Fn(usize) -> f64,
    ) -> (usize, Vec<Var<'_>>) {
        let leaves = if x_var { k } else { 0 } + n * k + n;
        let p = tape.vars(
            &(0..leaves)
                .map(|i| ((i * 7 + 3) % 11) as f64 / 5.5 - 1.0)
                .collect::<Vec<_>>(),
        );
        let (x, rest): (Vec<Var>, &[Var]) = if x_var {
            (p[..k].to_vec(), &p[k..])
        } else {
            ((0..k).map(|i| p[0].constant(constant(i))).collect(), &p)
        };
        let (w, b) = rest.split_at(n * k);
        let h = (0..n)
            .map(|j| {
                let wj = &w[j * k..(j + 1) * k];
                let bias = bias.map(|own| if own { b[j] } else { b[0] });
                if fused {
                    let bias = bias.unwrap_or_else(|| p[0].constant(0.0));
                    return Var::neuron(wj, &x, bias, act);
                }
                let mut z = wj[0] * x[0];
                for i in 1..k {
                    z += wj[i] * x[i];
                }
                if let Some(bias) = bias {
                    z += bias;
                }
                act.apply(z)
            })
            .collect();
        (leaves, h)
    }

    /// Layers of `n` neurons of `k` terms, as in
    /// `small_programs_run_as_the_loops` but of every width (the wide ones run
    /// by `layer_forward` and `layer_backward`), each under a weighted sum:
    /// every value, partial and adjoint the same bits from the AVX build of
    /// the kernels as from the baseline one (see `crate::avx`). Where the
    /// processor has no AVX both runs are the baseline build, and the test
    /// says so.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn layer_kernels_give_the_same_bits_built_for_avx() {
        if !crate::avx::avx() {
            eprintln!("no AVX on this processor: the AVX build is not run");
        }
        let mut wide = 0;
        for n in [1usize, 2, 4, 5, 8, 16] {
            for k in [2usize, 3, 5, 16] {
                for act in [
                    Activation::Identity,
                    Activation::Sigmoid,
                    Activation::Tanh,
                    Activation::Relu,
                ] {
                    for (fused, x_var, bias) in [
                        (false, true, Some(true)),
                        (false, false, Some(false)),
                        (false, true, None),
                        (true, false, Some(true)),
                        (true, true, Some(false)),
                    ] {
                        let tape = Tape::for_replay();
                        let (leaves, h) = layer(&tape, n, k, act, fused, x_var, bias, |i| {
                            i as f64 * 0.37 - 0.9
                        });
                        let mut total = h[0] * 0.5;
                        for (j, &hj) in h.iter().enumerate().skip(1) {
                            total += hj * (j as f64 - 1.25);
                        }
                        let mut program = tape.compile(&[total]).unwrap();
                        let what =
                            format!("{n}x{k} {act:?} fused {fused} x_var {x_var} bias {bias:?}");
                        if program.code.small.is_empty() && program.stats().layers == 1 {
                            wide += 1;
                        }
                        let mut baseline = program.clone();
                        for new in inputs(leaves) {
                            let avx = run(&mut program, &new);
                            crate::avx::set_baseline_only(true);
                            let generic = run(&mut baseline, &new);
                            crate::avx::set_baseline_only(false);
                            assert_eq!(avx, generic, "{what} at {new:?}");
                        }
                    }
                }
            }
        }
        // (Every shape but the small ones, 2 or 3 neurons of up to 4 terms.)
        assert!(wide >= 60, "{wide} programs ran the wide layer kernels");
    }

    /// A layer of `n` neurons of `k` terms (the tape's fused neurons or the
    /// plain operators', over variable or constant inputs, with or without
    /// biases) under a loss of squared errors or a weighted sum.
    #[test]
    fn small_programs_run_as_the_loops() {
        const X: [f64; 4] = [0.3, -0.7, 1.1, -0.2];
        let mut programs = 0;
        for n in 2..=3usize {
            for k in 1..=4usize {
                for act in [
                    Activation::Identity,
                    Activation::Sigmoid,
                    Activation::Tanh,
                    Activation::Relu,
                ] {
                    // A bias of each neuron's own, one shared (`b[0]`) or none.
                    for (fused, x_var, bias, squares) in [
                        (false, true, Some(true), true),
                        (false, false, Some(false), false),
                        (false, true, None, false),
                        (true, false, Some(true), true),
                        (true, true, Some(false), false),
                    ] {
                        let tape = Tape::for_replay();
                        let (leaves, h) = layer(&tape, n, k, act, fused, x_var, bias, |i| X[i]);
                        let loss = if squares && n == 2 {
                            (h[0] - 0.25).square() * 0.5 + (h[1] - 0.75).square() * 0.125
                        } else {
                            let mut total = h[0] * 0.5;
                            for (j, &hj) in h.iter().enumerate().skip(1) {
                                total += hj * (j as f64 - 1.25);
                            }
                            total
                        };
                        let program = tape.compile(&[loss]).unwrap();
                        let what =
                            format!("{n}x{k} {act:?} fused {fused} x_var {x_var} bias {bias:?}");
                        if k == 1 && !fused && bias.is_none()
                            || act == Activation::Identity && squares
                        {
                            // A product, no weighted sum: no layer; or a linear
                            // neuron's `− t` taken into its sum.
                            continue;
                        }
                        assert_eq!(program.stats().layers, 1, "{what}");
                        if bias.is_none() {
                            // Small layers without bias stay in the loops.
                            assert!(program.code.small.is_empty(), "{what}");
                            continue;
                        }
                        small_runs_as_the_loops(program, &inputs(leaves), &what);
                        programs += 1;
                    }
                }
            }
        }
        assert!(programs >= 2 * 4 * 4 * 3, "{programs}");
    }

    /// Squared errors after two neurons of their own (weighted sums of single
    /// terms), over two outputs side by side (as runs) and over one output
    /// twice (not).
    #[test]
    fn squared_errors_run_as_the_loops() {
        fn two_outputs<'t>(p: &[Var<'t>]) -> Var<'t> {
            let o1 = (p[0] * p[1] + p[2]).sigmoid();
            let o2 = (p[0] * p[3] + p[4]).tanh();
            (o1 - 0.25).square() * 0.5 + (o2 - 0.75).square() * 0.125
        }
        fn one_output_twice<'t>(p: &[Var<'t>]) -> Var<'t> {
            let o = (p[0] * p[1] + p[2]).sigmoid();
            (o - 0.25).square() * 0.5 + (o - 0.75).square() * 3.0
        }
        for (f, run) in [
            (two_outputs as for<'t> fn(&[Var<'t>]) -> Var<'t>, true),
            (one_output_twice, false),
        ] {
            let tape = Tape::for_replay();
            let p = tape.vars(&[0.5, -0.25, 0.75, 1.5, -0.5]);
            let program = tape.compile(&[f(&p)]).unwrap();
            let last = program.code.small.last().copied();
            let as_run = matches!(last, Some(Small::SquaredErrorsRun(_)));
            let apart = matches!(last, Some(Small::SquaredErrors(_)));
            assert!(if run { as_run } else { apart }, "{last:?}");
            small_runs_as_the_loops(program, &inputs(5), &format!("run {run}"));
        }
    }

    /// `chunk_by_slot` reads the very slots `chunk` does (its stride is a
    /// `1` the compiler cannot see), for every length a kernel uses, and
    /// panics as `chunk` does past the end.
    #[test]
    fn chunk_by_slot_reads_the_slots_chunk_reads() {
        use super::{chunk, chunk_by_slot};
        let slots: Vec<f64> = (0..9)
            .map(|k| k as f64 - 0.5 * k as f64 * k as f64)
            .collect();
        for at in 0..5 {
            assert_eq!(chunk_by_slot::<1>(&slots, at), chunk::<1>(&slots, at));
            assert_eq!(chunk_by_slot::<2>(&slots, at), chunk::<2>(&slots, at));
            assert_eq!(chunk_by_slot::<3>(&slots, at), chunk::<3>(&slots, at));
            assert_eq!(chunk_by_slot::<4>(&slots, at), chunk::<4>(&slots, at));
        }
        let past = std::panic::catch_unwind(|| chunk_by_slot::<4>(&slots, 6));
        assert!(past.is_err());
    }

    /// A program of small instructions over more slots than a small program
    /// may have stays in the loops, and reads its slots past the mask.
    #[test]
    fn a_program_of_many_slots_is_not_small() {
        let tape = Tape::for_replay();
        let p = tape.vars(&(0..70).map(|i| f64::from(i) / 64.0).collect::<Vec<_>>());
        let h1 = (p[65] * 0.5 + p[66] * -0.25 + p[67]).tanh();
        let h2 = (p[68] * 0.75 + p[69] * 0.125 + p[67]).tanh();
        let loss = (h1 - 0.25).square() * 0.5 + (h2 - 0.75).square() * 0.5;
        let mut program = tape.compile(&[loss]).unwrap();
        assert!(program.code.small.is_empty());
        let g = loss.backward();
        program.backward();
        assert_eq!(program.output(0).to_bits(), loss.value().to_bits());
        for k in 65..70 {
            assert_eq!(program.gradients()[k].to_bits(), g[p[k]].to_bits(), "{k}");
        }
    }

    /// W1, the 2-2-2 sigmoid network of plain operators: two small layers and
    /// the squared errors.
    #[test]
    fn the_seed_network_runs_as_the_loops() {
        let tape = Tape::for_replay();
        let w = tape.var_array([0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]);
        let b = tape.var_array([0.35, 0.60]);
        let [i1, i2] = [0.05, 0.10];
        let h1 = (w[0] * i1 + w[1] * i2 + b[0]).sigmoid();
        let h2 = (w[2] * i1 + w[3] * i2 + b[0]).sigmoid();
        let o1 = (w[4] * h1 + w[5] * h2 + b[1]).sigmoid();
        let o2 = (w[6] * h1 + w[7] * h2 + b[1]).sigmoid();
        let e = (o1 - 0.01).square() * 0.5 + (o2 - 0.99).square() * 0.5;
        let program = tape.compile(&[e]).unwrap();
        assert_eq!(program.code.small.len(), 3);
        assert!(matches!(program.code.small[2], Small::SquaredErrorsRun(_)));
        // Every link of the chain carried: the hidden layer's outputs into
        // the output layer, its outputs into the loss; and the loss's seed.
        let (hidden, output) = (
            super::small_layer_of(&program.code.small[0]),
            super::small_layer_of(&program.code.small[1]),
        );
        assert!(!hidden.x_carried && hidden.out_carried);
        assert!(output.x_carried && output.out_carried);
        assert!(matches!(program.code.small[2], Small::SquaredErrorsRun(e) if e.x_carried));
        assert_eq!(program.seed_in_register, Some(0));
        small_runs_as_the_loops(program, &inputs(10), "W1");
    }

    /// Two small layers and a loss in a row, where the second layer reads
    /// the first's outputs (all, a leading part: carried), or from the
    /// second on (not carried), and the loss reads the second's outputs in
    /// order (carried), swapped, as a weighted sum, or the last two of three
    /// (in order, not carried); the loss alone requested, or with a hidden
    /// output, twice, with the second layer's first output, or with either
    /// layer's last (which the instruction after may not read: its adjoint
    /// must then come from its slot, not the carry). Each program runs as
    /// the loops run it, bit for bit (values, partials, adjoints), seeded
    /// by `backward` and by `backward_with` (a carry read where its slots
    /// were not just written, or an adjoint carried before it was complete,
    /// or a seed taken twice or not at all, shows there).
    #[test]
    fn chained_small_layers_run_as_the_loops() {
        let (mut carried, mut apart, mut seeds) = (0, 0, 0);
        for n_a in 2..=3usize {
            for k_a in 1..=3usize {
                for (n_b, from, k_b) in [(2, 0, n_a), (3, 0, n_a), (2, 0, 1), (2, 1, n_a - 1)] {
                    for loss_kind in 0..4 {
                        for outputs in 0..6 {
                            let tape = Tape::for_replay();
                            let leaves = k_a + n_a * (k_a + 1) + n_b * (k_b + 1);
                            let p = tape.vars(
                                &(0..leaves)
                                    .map(|i| ((i * 7 + 3) % 11) as f64 / 5.5 - 1.0)
                                    .collect::<Vec<_>>(),
                            );
                            let (x, rest) = p.split_at(k_a);
                            let (wa, wb) = rest.split_at(n_a * (k_a + 1));
                            let h = layer(wa, x, n_a, Activation::Tanh);
                            let o = layer(wb, &h[from..from + k_b], n_b, Activation::Sigmoid);
                            let loss = match loss_kind {
                                0 => (o[0] - 0.25).square() * 0.5 + (o[1] - 0.75).square() * 0.5,
                                1 => (o[1] - 0.25).square() * 0.5 + (o[0] - 0.75).square() * 0.5,
                                2 => o[0] * 0.5 - o[1] * 0.25,
                                // The last two: a run from the second output
                                // on where there are three (kept by output 3).
                                _ => {
                                    let m = n_b - 2;
                                    (o[m] - 0.25).square() * 0.5 + (o[m + 1] - 0.75).square() * 0.5
                                }
                            };
                            let out = match outputs {
                                0 => vec![loss],
                                1 => vec![loss, h[0]],
                                2 => vec![loss, loss],
                                3 => vec![loss, o[0]],
                                // Each layer's last output, which the next
                                // instruction may leave unread (its adjoint
                                // then never in the carry).
                                4 => vec![loss, h[n_a - 1]],
                                _ => vec![loss, o[n_b - 1]],
                            };
                            let mut program = tape.compile(&out).unwrap();
                            let what = format!(
                                "{n_a}x{k_a}, then {n_b} from {from} of {k_b}, \
                                 loss {loss_kind}, outputs {outputs}"
                            );
                            if program.code.small.is_empty() {
                                // A weighted-sum loss makes no small program
                                // where it is not read as one instruction.
                                continue;
                            }
                            // Whether the second instruction reads the first's
                            // outputs from the carry (every case runs as the
                            // loops below either way; these count both kinds).
                            let second = &program.code.small[1];
                            let read_carried = match second {
                                Small::SquaredErrorsRun(e) => e.x_carried,
                                Small::SquaredErrors(_) | Small::Dot { .. } => false,
                                layer => super::small_layer_of(layer).x_carried,
                            };
                            if read_carried {
                                carried += 1;
                            } else {
                                apart += 1;
                            }
                            // The seed in a register only for a loss over a
                            // run that is no other output.
                            let run = matches!(
                                program.code.small.last(),
                                Some(Small::SquaredErrorsRun(_))
                            );
                            let in_register = run && outputs != 2;
                            assert_eq!(program.seed_in_register.is_some(), in_register, "{what}");
                            seeds += usize::from(in_register);
                            let mut looped = program.clone();
                            looped.code.small.clear();
                            for new in inputs(leaves) {
                                assert_eq!(
                                    run_both(&mut program, &new),
                                    run_both(&mut looped, &new),
                                    "{what} at {new:?}"
                                );
                            }
                        }
                    }
                }
            }
        }
        assert!(
            carried >= 40 && apart >= 10 && seeds >= 20,
            "{carried} {apart} {seeds}"
        );

        /// `n` plain-operator neurons over `x`, each with its `x.len()`
        /// weights then its bias from `w`.
        fn layer<'t>(w: &[Var<'t>], x: &[Var<'t>], n: usize, act: Activation) -> Vec<Var<'t>> {
            let k = x.len();
            (0..n)
                .map(|j| {
                    let wj = &w[j * (k + 1)..(j + 1) * (k + 1)];
                    let mut z = wj[0] * x[0];
                    for i in 1..k {
                        z += wj[i] * x[i];
                    }
                    act.apply(z + wj[k])
                })
                .collect()
        }

        /// [`run`], then seeded by `backward_with` (−0 and 1.5 in turn, so
        /// that a seed lost or doubled shows), with the gradients appended.
        fn run_both(program: &mut Program, inputs: &[f64]) -> Vec<u64> {
            let mut bits = run(program, inputs);
            for first in [1.5, -0.0] {
                let seeds: Vec<f64> = (0..program.output_count())
                    .map(|k| if k == 0 { first } else { 0.75 })
                    .collect();
                program.backward_with(&seeds);
                bits.extend(
                    program.state.adjoints[..program.first_constant]
                        .iter()
                        .map(|g| g.to_bits()),
                );
            }
            bits
        }
    }

    /// `alone` marks a small layer's inputs, or a loss's, as read by it
    /// alone only where nothing else reads them and they are no output (nor
    /// input) of the program: W1 as it is, then with a hidden neuron
    /// requested as an output, an output neuron requested, and the hidden
    /// neurons read again by a weighted sum requested. Each program's gradients are the tape's, bit for
    /// bit, at inputs around W1's (a slot marked alone wrongly would lose
    /// the other reader's contribution, or an output's seed).
    #[test]
    fn inputs_are_alone_only_where_one_instruction_reads_them() {
        use super::Layer;
        fn layer(instr: &Small) -> Option<&Layer> {
            (!matches!(
                instr,
                Small::SquaredErrors(_) | Small::SquaredErrorsRun(_) | Small::Dot { .. }
            ))
            .then(|| super::small_layer_of(instr))
        }
        // The outputs after the loss (0: none, 1: h1, 2: o1, 3: a weighted
        // sum of h1 and h2, which reads them again), then whether layer 2's
        // and the loss's inputs are alone.
        for (outputs, alone_h, alone_o) in [
            (0, true, true),
            (1, false, true),
            (2, true, false),
            (3, false, true),
        ] {
            // The gradients seeded with 1 at the loss alone (`backward`), and
            // at every output (`backward_with`): on the tape, of e and of the
            // sum of the outputs.
            let record = |tape: &Tape| -> (Vec<f64>, Vec<f64>) {
                let w = tape.var_array([0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55]);
                let b = tape.var_array([0.35, 0.60]);
                let [i1, i2] = [0.05, 0.10];
                let h1 = (w[0] * i1 + w[1] * i2 + b[0]).sigmoid();
                let h2 = (w[2] * i1 + w[3] * i2 + b[0]).sigmoid();
                let o1 = (w[4] * h1 + w[5] * h2 + b[1]).sigmoid();
                let o2 = (w[6] * h1 + w[7] * h2 + b[1]).sigmoid();
                let e = (o1 - 0.01).square() * 0.5 + (o2 - 0.99).square() * 0.5;
                let extra = [h1, o1, h1 * 0.5 + h2 * 0.25];
                let mut out = vec![e];
                if outputs > 0 {
                    out.push(extra[outputs - 1]);
                }
                let what = format!("outputs {outputs}");
                if tape.keeps_constants() {
                    let mut program = tape.compile(&out).unwrap();
                    let layers: Vec<&Layer> = program.code.small.iter().filter_map(layer).collect();
                    assert_eq!(layers.len(), 2, "{what}: {:?}", program.code.small);
                    assert_eq!(layers[1].x_alone, alone_h, "{what}: layer 2");
                    let loss = program.code.small.iter().find_map(|instr| match instr {
                        Small::SquaredErrorsRun(e) => Some(e.x_alone),
                        _ => None,
                    });
                    assert_eq!(loss, Some(alone_o), "{what}: the loss");
                    program.forward();
                    program.backward();
                    let from_e = program.gradients().to_vec();
                    program.backward_with(&vec![1.0; out.len()]);
                    (from_e, program.gradients().to_vec())
                } else {
                    let leaves: Vec<Var> = w.iter().chain(&b).copied().collect();
                    let sum = out[1..].iter().fold(e, |sum, &o| sum + o);
                    let (g, g_sum) = (e.backward(), sum.backward());
                    (
                        leaves.iter().map(|&v| g[v]).collect(),
                        leaves.iter().map(|&v| g_sum[v]).collect(),
                    )
                }
            };
            let (replayed, replayed_sum) = record(&Tape::for_replay());
            let (taped, taped_sum) = record(&Tape::new());
            let bits = |g: &[f64]| g.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&replayed), bits(&taped), "outputs {outputs}");
            // Seeded at every output: the contributions may come in another
            // order (see the module docs), so to 1e-15 relative.
            for (r, t) in replayed_sum.iter().zip(&taped_sum) {
                assert!(
                    (r - t).abs() <= 1e-15 * t.abs(),
                    "outputs {outputs}: {r} for {t}"
                );
            }
        }
    }

    /// The layer pass reads each neuron of `y = tanh(y · x)` repeated a
    /// bounded number of times: each one reads the last one's output, so no
    /// layer covers two of them, and the search from each stops at the second
    /// (it read the whole rest of the run from each: n²/2 reads, 2 million
    /// here, and minutes of compiling at n = 100,000).
    #[test]
    fn a_chain_of_neurons_is_searched_in_linear_time() {
        let n = 2000;
        let tape = Tape::for_replay();
        let x = tape.var(0.5);
        let mut y = x;
        for _ in 0..n {
            y = (y * x).tanh();
        }
        super::NEURONS_READ.with(|c| c.set(0));
        let program = tape.compile(&[y]).unwrap();
        let read = super::NEURONS_READ.with(|c| c.get());
        assert_eq!((program.stats().neurons, program.stats().layers), (n, 0));
        assert!(read <= 4 * n, "{read} neurons read for {n}");
    }
}
