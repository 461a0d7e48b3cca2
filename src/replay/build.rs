//! From a recording to a [`Program`](super::Program): the recording read once
//! into [`Graph`], then the passes (constant folding, dead-code elimination,
//! weighted sums, neurons) and the choice of slots.

use super::exec::{BinaryOp, Code, Instr, NaryOp, Segment, UnaryOp, NO_BIAS, SMALL};
use super::{CompileError, CompileOptions, PassStats};
use crate::activation::Activation;
use crate::op::Op;
use crate::tape::Recording;

/// The recording, node by node: op, operands, constants, value.
#[derive(Clone, Debug, Default)]
pub(crate) struct Graph {
    pub(crate) ops: Vec<Op>,
    pub(crate) values: Vec<f64>,
    /// Operands of node `i`: `operands[starts[i]..starts[i + 1]]`.
    pub(crate) starts: Vec<u32>,
    pub(crate) operands: Vec<u32>,
    /// The partial of each node's first edge (for `x * c`, the constant c).
    pub(crate) first_partial: Vec<f64>,
    /// Constants of node `i`: `constants[const_starts[i]..const_starts[i + 1]]`.
    pub(crate) const_starts: Vec<u32>,
    pub(crate) constants: Vec<f64>,
    /// Nodes that cannot run: their constant was not kept, or they read such
    /// a node. No output depends on them ([`Graph::read`] refuses one that an
    /// output does), so they are left out, dead-code elimination or not.
    pub(crate) incomplete: Vec<bool>,
}

impl Graph {
    pub(crate) fn len(&self) -> usize {
        self.ops.len()
    }

    pub(crate) fn operands(&self, i: usize) -> &[u32] {
        &self.operands[self.starts[i] as usize..self.starts[i + 1] as usize]
    }

    pub(crate) fn constants(&self, i: usize) -> &[f64] {
        &self.constants[self.const_starts[i] as usize..self.const_starts[i + 1] as usize]
    }

    /// Reads nodes `0..len` of a recording, `len` one past the last of
    /// `outputs`. Fails if the constant of a node an output depends on was not
    /// kept; a node no output depends on (a side computation, dead code) may
    /// lack it, and is marked [`incomplete`](Graph::incomplete).
    pub(crate) fn read(rec: &Recording, outputs: &[u32]) -> Result<Graph, CompileError> {
        Graph::read_below(rec, outputs, u64::from(u32::MAX))
    }

    /// [`read`](Graph::read), refusing a recording of `edge_limit` edges or
    /// more (`u32::MAX`; smaller in the tests).
    fn read_below(
        rec: &Recording,
        outputs: &[u32],
        edge_limit: u64,
    ) -> Result<Graph, CompileError> {
        let len = outputs.iter().max().map_or(0, |&m| m as usize + 1);
        // Edges are numbered by u32 below (`starts`): refused before any cast
        // could wrap and a slice panic inside the arena cell.
        if !rec.edges_below(edge_limit) {
            return Err(CompileError::TooManyEdges {
                edges: rec.edge_count(),
            });
        }
        let mut g = Graph {
            ops: rec.ops()[..len].to_vec(),
            values: rec.values()[..len].to_vec(),
            starts: Vec::with_capacity(len + 1),
            operands: Vec::with_capacity(2 * len),
            first_partial: Vec::with_capacity(len),
            const_starts: Vec::with_capacity(len + 1),
            constants: Vec::new(),
            incomplete: vec![false; len],
        };
        let kept = &rec.constants;
        let mut at = 0;
        g.starts.push(0);
        g.const_starts.push(0);
        for i in 0..len {
            let mut first = f64::NAN;
            for (k, (operand, partial)) in rec.edges(i).enumerate() {
                if k == 0 {
                    first = partial;
                }
                g.operands.push(operand);
            }
            g.first_partial.push(first);
            g.starts.push(g.operands.len() as u32);
            while at < kept.len() && (kept[at].0 as usize) < i {
                at += 1;
            }
            let from = at;
            while at < kept.len() && kept[at].0 as usize == i {
                g.constants.push(kept[at].1);
                at += 1;
            }
            let have = at - from;
            let need = constants_needed(g.ops[i], g.operands(i).len());
            // (More than needed cannot happen: each op keeps its own.)
            g.constants
                .truncate(g.constants.len() - have.saturating_sub(need));
            g.const_starts.push(g.constants.len() as u32);
            g.incomplete[i] =
                have < need || g.operands(i).iter().any(|&o| g.incomplete[o as usize]);
        }
        // Only a node some output depends on needs its constant: the first such
        // one without it is the error.
        let mut reached = vec![false; len];
        for &o in outputs {
            reached[o as usize] = true;
        }
        for i in (0..len).rev() {
            if reached[i] {
                for &o in g.operands(i) {
                    reached[o as usize] = true;
                }
            }
        }
        if let Some(node) = (0..len).find(|&i| reached[i] && g.incomplete[i]) {
            // The first: its own constant is the one missing.
            return Err(CompileError::MissingConstant {
                node,
                op: g.ops[node],
            });
        }
        Ok(g)
    }
}

/// How many constants op `op` with `operands` operands needs kept to be
/// replayed: all it computes with ([`Op::constants`]) but `MulConst`'s factor,
/// which is its recorded partial.
fn constants_needed(op: Op, operands: usize) -> usize {
    match op {
        Op::MulConst => 0,
        _ => op.constants(operands),
    }
}

/// A reference to a value: a node of the recording, or a literal constant.
#[derive(Clone, Copy, Debug)]
enum Ref {
    Node(u32),
    Lit(f64),
}

/// One term `a · b` of a weighted sum.
type Term = (Ref, Ref);

/// What node `i` becomes.
#[derive(Clone, Debug)]
enum Plan {
    /// A leaf, a constant, dead, or folded into another instruction.
    None,
    /// An instruction of its own (its slot assigned in node order).
    Instr(Kind),
}

#[derive(Clone, Debug)]
enum Kind {
    Unary(UnaryOp, u32),
    Binary(BinaryOp, u32, u32),
    MulAdd(u32, u32, u32),
    Dot {
        act: Activation,
        tape_neuron: bool,
        terms: Vec<Term>,
    },
    Nary(NaryOp, Vec<u32>, Vec<f64>),
}

/// What compiling made: the code, the slot of every node (`u32::MAX` for none),
/// the leaves, constants and statistics.
pub(crate) struct Built {
    /// The first constant slot: the leaves' and the results' slots come before.
    pub(crate) first_constant: u32,
    pub(crate) code: Code,
    pub(crate) slot_of: Vec<u32>,
    pub(crate) leaf_nodes: Vec<u32>,
    /// Values of the constant slots, which follow the instructions' slots.
    pub(crate) constants: Vec<f64>,
    pub(crate) outputs: Vec<u32>,
    pub(crate) stats: PassStats,
}

const NONE: u32 = u32::MAX;

/// Compiles `graph` for `outputs` (node indices, each `< graph.len()`).
pub(crate) fn build(graph: &Graph, outputs: &[u32], options: CompileOptions) -> Built {
    let n = graph.len();
    let ops = &graph.ops;

    // Constant folding: a node none of whose operands depends on a leaf has its
    // recorded value for good (the same function of the same constants).
    let mut constant = vec![false; n];
    for i in 0..n {
        constant[i] = match ops[i] {
            Op::Const => true,
            Op::Leaf => false,
            _ => options.fold_constants && graph.operands(i).iter().all(|&o| constant[o as usize]),
        };
    }

    // The nodes the outputs depend on: the others are dead code, left out by
    // dead-code elimination. Kept without it, they run forward alone: the
    // backward pass, as the tape's sweep, passes nothing from a node on no
    // path from an output (its zero adjoint times an infinite partial would be
    // NaN).
    let mut reached = vec![false; n];
    let mut is_output = vec![false; n];
    for &o in outputs {
        reached[o as usize] = true;
        is_output[o as usize] = true;
    }
    for i in (0..n).rev() {
        if reached[i] && !constant[i] {
            for &o in graph.operands(i) {
                reached[o as usize] = true;
            }
        }
    }
    // Without dead-code elimination the dead nodes are kept, but for those
    // that cannot run (a constant the tape did not keep, on the way to no
    // output): they are left out as with it.
    let live: Vec<bool> = if options.eliminate_dead_code {
        reached.clone()
    } else {
        (0..n).map(|i| reached[i] || !graph.incomplete[i]).collect()
    };
    // Uses of each node by the live instructions (an output counts as one more).
    let mut uses = vec![0u32; n];
    for i in 0..n {
        if live[i] && !constant[i] {
            for &o in graph.operands(i) {
                uses[o as usize] += 1;
            }
        }
        if is_output[i] {
            uses[i] += 1;
        }
    }
    let computed = |i: usize| live[i] && !constant[i] && !matches!(ops[i], Op::Leaf | Op::Const);

    let mut stats = PassStats {
        nodes: n,
        ..PassStats::default()
    };
    stats.dead = (0..n)
        .filter(|&i| !live[i] && !constant[i] && ops[i] != Op::Leaf)
        .count();
    stats.folded = (0..n)
        .filter(|&i| constant[i] && ops[i] != Op::Const)
        .count();

    // Plans, consumers first, so a weighted sum or a neuron can absorb the nodes
    // only it uses.
    let mut absorbed = vec![false; n];
    let mut plans: Vec<Plan> = vec![Plan::None; n];
    let mut fuser = Fuser {
        graph,
        constant: &constant,
        uses: &uses,
        absorbed: &mut absorbed,
        computed: &computed,
        fuse_dots: options.fuse_dots,
        count: 0,
    };
    for i in (0..n).rev() {
        if !computed(i) || fuser.absorbed[i] {
            continue;
        }
        plans[i] = Plan::Instr(fuser.plan(i, options, &mut stats));
    }
    stats.absorbed = absorbed.iter().filter(|&&a| a).count();

    // Slots: leaves, then instructions in node order, then constants.
    let leaf_nodes: Vec<u32> = (0..n as u32)
        .filter(|&i| ops[i as usize] == Op::Leaf)
        .collect();
    let mut slot_of = vec![NONE; n];
    for (k, &leaf) in leaf_nodes.iter().enumerate() {
        slot_of[leaf as usize] = k as u32;
    }
    let mut next = leaf_nodes.len() as u32;
    for i in 0..n {
        if let Plan::Instr(_) = plans[i] {
            slot_of[i] = next;
            next += 1;
        }
    }
    let first_constant = next;
    let mut constants: Vec<f64> = Vec::new();
    for i in 0..n {
        if slot_of[i] == NONE && (constant[i] || ops[i] == Op::Const) && live[i] {
            slot_of[i] = first_constant + constants.len() as u32;
            constants.push(graph.values[i]);
        }
    }

    let mut code = Code::default();
    let mut reached_len = None;
    {
        let mut lit = |c: f64| {
            constants.push(c);
            first_constant + constants.len() as u32 - 1
        };
        // The instructions on a path from an output first, in node order, then
        // the others (a valid order: none of the first reads any of the others).
        let order = (0..n)
            .filter(|&i| reached[i])
            .chain((0..n).filter(|&i| !reached[i]));
        for i in order {
            let Plan::Instr(kind) = &plans[i] else {
                continue;
            };
            if !reached[i] && reached_len.is_none() {
                reached_len = Some(code.instrs.len());
            }
            let out = slot_of[i];
            let s = |o: u32| slot_of[o as usize];
            let instr = match kind {
                Kind::Unary(op, x) => Instr::Unary {
                    op: *op,
                    x: s(*x),
                    out,
                },
                Kind::Binary(op, a, b) => Instr::Binary {
                    op: *op,
                    a: s(*a),
                    b: s(*b),
                    out,
                },
                Kind::MulAdd(a, b, c) => Instr::MulAdd {
                    a: s(*a),
                    b: s(*b),
                    c: s(*c),
                    out,
                },
                Kind::Dot {
                    act,
                    tape_neuron,
                    terms,
                } => {
                    let act = *act;
                    // A last term `x · 1` with x a variable: a bias, added as is.
                    let (terms, bias) = match terms.split_last() {
                        Some((&(Ref::Node(o), Ref::Lit(c)), rest))
                            if c == 1.0 && !rest.is_empty() && s(o) < first_constant =>
                        {
                            (rest, s(o))
                        }
                        _ => (&terms[..], NO_BIAS),
                    };
                    let from = code.segments.len() as u32;
                    for &(a, b) in terms {
                        let mut slot = |r: Ref| match r {
                            Ref::Node(o) => (s(o), slot_of[o as usize] < first_constant),
                            Ref::Lit(c) => (lit(c), false),
                        };
                        let (a, a_var) = slot(a);
                        let (b, b_var) = slot(b);
                        push_term(&mut code.segments, from as usize, a, a_var, b, b_var);
                    }
                    split_short_runs(&mut code.segments, from as usize);
                    let segs = &code.segments[from as usize..];
                    if segs.len() <= SMALL && segs.iter().all(|s| s.len == 1) {
                        // A few single terms: kept in the instruction itself.
                        // A constant factor second (a · c = c · a exactly), so
                        // that the backward pass can skip all of them at once.
                        let mut pairs = [0; 2 * SMALL];
                        for (k, s) in segs.iter().enumerate() {
                            let (a, b) = if s.b_var { (s.b, s.a) } else { (s.a, s.b) };
                            pairs[2 * k] = a;
                            pairs[2 * k + 1] = b;
                        }
                        let b_const = segs.iter().all(|s| !s.a_var || !s.b_var);
                        let n = segs.len() as u8;
                        code.segments.truncate(from as usize);
                        Instr::SmallDot {
                            act,
                            tape_neuron: *tape_neuron,
                            n,
                            pairs,
                            b_const,
                            bias,
                            out,
                        }
                    } else {
                        Instr::Dot {
                            act,
                            tape_neuron: *tape_neuron,
                            segs: (from, code.segments.len() as u32),
                            bias,
                            out,
                        }
                    }
                }
                Kind::Nary(op, args, targets) => {
                    let from = code.args.len() as u32;
                    code.args.extend(args.iter().map(|&o| s(o)));
                    if targets.is_empty() {
                        code.targets.resize(code.args.len(), 0.0);
                    } else {
                        code.targets.extend_from_slice(targets);
                    }
                    Instr::Nary {
                        op: *op,
                        args: (from, code.args.len() as u32),
                        out,
                    }
                }
            };
            code.instrs.push(instr);
        }
    }
    code.reached = reached_len.unwrap_or(code.instrs.len());
    let outputs: Vec<u32> = outputs.iter().map(|&o| slot_of[o as usize]).collect();
    if options.fuse_dots {
        by_part(&mut code, |code| {
            crate::replay::exec::fuse_squares(code, &outputs, first_constant);
            crate::replay::exec::fuse_squared_errors(code, &outputs, first_constant);
        });
    }
    if options.fuse_neurons {
        by_part(&mut code, |code| {
            stats.layers += crate::replay::exec::fuse_layers(code, first_constant, &constants);
        });
    }
    stats.instructions = code.instrs.len();
    let slots = first_constant as usize + constants.len();
    code.small =
        crate::replay::exec::small_program(&code, slots, leaf_nodes.len() as u32, &outputs);
    for instr in &code.instrs {
        match instr {
            Instr::Dot {
                act: Activation::Identity,
                ..
            }
            | Instr::SmallDot {
                act: Activation::Identity,
                ..
            } => stats.dots += 1,
            Instr::Dot { .. } | Instr::SmallDot { .. } => stats.neurons += 1,
            Instr::SquaredErrors { .. } => stats.dots += 1,
            Instr::Layer(layer) if layer.act == Activation::Identity => {
                stats.dots += layer.n as usize;
            }
            Instr::Layer(layer) => stats.neurons += layer.n as usize,
            _ => {}
        }
    }
    Built {
        first_constant,
        code,
        slot_of,
        leaf_nodes,
        constants,
        outputs,
        stats,
    }
}

/// Runs a fusion pass over the instructions on a path from an output
/// (`..code.reached`), then over the others, apart: no fused instruction
/// straddles the two, so the backward pass can run the first alone.
fn by_part(code: &mut Code, mut pass: impl FnMut(&mut Code)) {
    let rest = code.instrs.split_off(code.reached);
    pass(code);
    code.reached = code.instrs.len();
    if rest.is_empty() {
        return;
    }
    let first = std::mem::replace(&mut code.instrs, rest);
    pass(code);
    let rest = std::mem::replace(&mut code.instrs, first);
    code.instrs.extend(rest);
}

/// Runs shorter than this are split into single terms: setting up two slices
/// costs more than it saves below it.
const MIN_RUN: u32 = 4;

/// Splits the segments from `from` on that are shorter than [`MIN_RUN`] into
/// single terms.
fn split_short_runs(segments: &mut Vec<Segment>, from: usize) {
    if segments[from..]
        .iter()
        .all(|s| s.len == 1 || s.len >= MIN_RUN)
    {
        return;
    }
    let tail: Vec<Segment> = segments.drain(from..).collect();
    for s in tail {
        if s.len >= MIN_RUN {
            segments.push(s);
        } else {
            segments.extend((0..s.len).map(|k| Segment {
                a: s.a + k,
                b: s.b + k,
                len: 1,
                ..s
            }));
        }
    }
}

/// Appends term `v[a] · v[b]` to the dot whose segments start at `from`,
/// extending the last segment when both runs continue (and stay apart).
fn push_term(segments: &mut Vec<Segment>, from: usize, a: u32, a_var: bool, b: u32, b_var: bool) {
    if let Some(last) = segments[from..].last_mut() {
        let continues = last.a + last.len == a
            && last.b + last.len == b
            && last.a_var == a_var
            && last.b_var == b_var;
        // The two runs, one term longer, must not overlap (the backward pass
        // adds run by run).
        let apart = a < last.b || b < last.a;
        if continues && apart {
            last.len += 1;
            return;
        }
    }
    segments.push(Segment {
        a,
        b,
        len: 1,
        a_var,
        b_var,
    });
}

/// The fusion passes: what each instruction absorbs.
struct Fuser<'g, 'c> {
    graph: &'g Graph,
    constant: &'g [bool],
    uses: &'g [u32],
    absorbed: &'g mut [bool],
    computed: &'c dyn Fn(usize) -> bool,
    /// Whether products and inner sums may be absorbed (the dot pass).
    fuse_dots: bool,
    count: usize,
}

impl Fuser<'_, '_> {
    /// Whether node `i` may be folded into its one consumer.
    fn absorbable(&self, i: usize) -> bool {
        (self.computed)(i) && self.uses[i] == 1
    }

    fn reference(&self, i: u32) -> Ref {
        if self.constant[i as usize] {
            Ref::Lit(self.graph.values[i as usize])
        } else {
            Ref::Node(i)
        }
    }

    fn absorb(&mut self, i: usize) {
        self.absorbed[i] = true;
        self.count += 1;
    }

    /// The plan of node `i`, an instruction of its own.
    fn plan(&mut self, i: usize, options: CompileOptions, stats: &mut PassStats) -> Kind {
        let g = self.graph;
        let op = g.ops[i];
        let x = |k: usize| g.operands(i)[k];
        // A weighted sum under an activation: one neuron instruction. (Other
        // ops with one operand stay apart: fused with a weighted sum over the
        // generic op, W1 and W2 measured more instructions, not fewer.)
        if options.fuse_neurons {
            if let Some(act) = activation_of(op) {
                let z = x(0) as usize;
                if self.absorbable(z) && is_affine(g.ops[z]) {
                    let mut terms = Vec::new();
                    self.absorb(z);
                    self.expand_node(z, &mut terms, options);
                    stats.neuron_fusions += 1;
                    return Kind::Dot {
                        act,
                        tape_neuron: false,
                        terms,
                    };
                }
            }
        }
        if options.fuse_dots && matches!(op, Op::Add | Op::Sub | Op::AddConst | Op::SubConst) {
            let before = self.count;
            let mut terms = Vec::new();
            self.expand_node(i, &mut terms, options);
            if self.count > before {
                stats.dot_fusions += 1;
                return Kind::Dot {
                    act: Activation::Identity,
                    tape_neuron: false,
                    terms,
                };
            }
            // Nothing absorbed: the op alone is cheaper than a weighted sum.
        }
        if let Some(unary) = self.unary_op(i) {
            return Kind::Unary(unary, x(0));
        }
        let neuron = |act: Activation, terms: Vec<Term>| Kind::Dot {
            act,
            tape_neuron: act != Activation::Identity,
            terms,
        };
        match op {
            Op::Leaf | Op::Const => unreachable!("leaves and constants are not instructions"),
            Op::Add => Kind::Binary(BinaryOp::Add, x(0), x(1)),
            Op::Sub => Kind::Binary(BinaryOp::Sub, x(0), x(1)),
            Op::Mul => Kind::Binary(BinaryOp::Mul, x(0), x(1)),
            Op::Div => Kind::Binary(BinaryOp::Div, x(0), x(1)),
            Op::Pow => Kind::Binary(BinaryOp::Pow, x(0), x(1)),
            Op::Max => Kind::Binary(BinaryOp::Max, x(0), x(1)),
            Op::Min => Kind::Binary(BinaryOp::Min, x(0), x(1)),
            Op::Atan2 => Kind::Binary(BinaryOp::Atan2, x(0), x(1)),
            Op::Hypot => Kind::Binary(BinaryOp::Hypot, x(0), x(1)),
            Op::MulAdd => Kind::MulAdd(x(0), x(1), x(2)),
            Op::LogSumExp => Kind::Nary(NaryOp::LogSumExp, g.operands(i).to_vec(), Vec::new()),
            Op::HalfSquaredError => Kind::Nary(
                NaryOp::HalfSquaredError,
                g.operands(i).to_vec(),
                g.constants(i).to_vec(),
            ),
            Op::MeanSquaredError => Kind::Nary(
                NaryOp::MeanSquaredError,
                g.operands(i).to_vec(),
                g.constants(i).to_vec(),
            ),
            Op::Sum | Op::WeightedSum | Op::WeightedSumConst => {
                let mut terms = Vec::new();
                self.expand_node(i, &mut terms, options);
                neuron(Activation::Identity, terms)
            }
            Op::SigmoidNeuron
            | Op::TanhNeuron
            | Op::ReluNeuron
            | Op::SigmoidNeuronConst
            | Op::TanhNeuronConst
            | Op::ReluNeuronConst => {
                let act = match op {
                    Op::SigmoidNeuron | Op::SigmoidNeuronConst => Activation::Sigmoid,
                    Op::TanhNeuron | Op::TanhNeuronConst => Activation::Tanh,
                    _ => Activation::Relu,
                };
                neuron(act, self.weighted_terms(i))
            }
            other => unreachable!("{other} is a unary op, planned above"),
        }
    }

    /// The instruction of node `i` if it is an op with one operand (and its
    /// constants), else `None`.
    fn unary_op(&self, i: usize) -> Option<UnaryOp> {
        let g = self.graph;
        let c = |k: usize| g.constants(i)[k];
        Some(match g.ops[i] {
            Op::Neg => UnaryOp::Neg,
            Op::AddConst => UnaryOp::AddConst(c(0)),
            Op::SubConst => UnaryOp::SubConst(c(0)),
            Op::ConstSub => UnaryOp::ConstSub(c(0)),
            Op::MulConst => UnaryOp::MulConst(g.first_partial[i]),
            Op::DivConst => UnaryOp::DivConst(c(0)),
            Op::ConstDiv => UnaryOp::ConstDiv(c(0)),
            Op::LeakyRelu => UnaryOp::LeakyRelu(c(0)),
            Op::Powi => UnaryOp::Powi(c(0) as i32),
            Op::Powf => UnaryOp::Powf(c(0)),
            Op::Log => UnaryOp::Log(c(0)),
            Op::MaxConst => UnaryOp::MaxConst(c(0)),
            Op::MinConst => UnaryOp::MinConst(c(0)),
            Op::Clamp => UnaryOp::Clamp(c(0), c(1)),
            Op::Atan2Const => UnaryOp::Atan2Const(c(0)),
            Op::ConstAtan2 => UnaryOp::ConstAtan2(c(0)),
            Op::HypotConst => UnaryOp::HypotConst(c(0)),
            Op::Sigmoid => UnaryOp::Sigmoid,
            Op::Tanh => UnaryOp::Tanh,
            Op::Relu => UnaryOp::Relu,
            Op::Signum => UnaryOp::Signum,
            Op::Square => UnaryOp::Square,
            op => UnaryOp::Table(
                crate::ops::UNARY
                    .iter()
                    .find(|r| r.op == op)?
                    .value_and_partial,
            ),
        })
    }

    /// The terms of a fused neuron's (or weighted sum's) node `i`: (w, x) pairs
    /// or (w, c) with constant inputs, then (b, 1).
    fn weighted_terms(&self, i: usize) -> Vec<Term> {
        let g = self.graph;
        let operands = g.operands(i);
        let (pairs, bias) = operands.split_at(operands.len() - 1);
        let mut terms: Vec<Term> = if is_const_inputs(g.ops[i]) {
            pairs
                .iter()
                .zip(g.constants(i))
                .map(|(&w, &c)| (self.reference(w), Ref::Lit(c)))
                .collect()
        } else {
            pairs
                .chunks_exact(2)
                .map(|p| (self.reference(p[0]), self.reference(p[1])))
                .collect()
        };
        terms.push((self.reference(bias[0]), Ref::Lit(1.0)));
        terms
    }

    /// Pushes the terms of the affine node `i` (left to right, as it sums them).
    ///
    /// A chain of sums, each the left operand of the one above and used only
    /// there (`s = s + x` in a loop), is walked down with a loop, and the
    /// right-hand terms pushed from the bottom up: the order the sums add them.
    /// (A call per link overflowed the stack at about 60,000 links.)
    fn expand_node(&mut self, i: usize, terms: &mut Vec<Term>, options: CompileOptions) {
        let g = self.graph;
        // The sums whose left operand was absorbed, top first.
        let mut chain = Vec::new();
        let mut node = i;
        loop {
            match g.ops[node] {
                Op::Add | Op::Sub | Op::AddConst | Op::SubConst | Op::Sum => {
                    let left = g.operands(node)[0];
                    if self.expands(left, options) {
                        self.absorb(left as usize);
                        chain.push(node);
                        node = left as usize;
                        continue;
                    }
                    let t = self.term(left, 1.0);
                    terms.push(t);
                    self.push_right(node, terms);
                }
                Op::WeightedSum | Op::WeightedSumConst => terms.extend(self.weighted_terms(node)),
                Op::Mul | Op::MulConst => {
                    // A lone product under an activation.
                    let t = self.product(node, 1.0);
                    terms.push(t);
                }
                other => unreachable!("{other} is not affine"),
            }
            break;
        }
        for &node in chain.iter().rev() {
            self.push_right(node, terms);
        }
    }

    /// Whether the running sum's left operand `o` is expanded in place: only
    /// this sum uses it (and dot fusion is on), and it is a sum; else it is one
    /// term.
    fn expands(&self, o: u32, options: CompileOptions) -> bool {
        let i = o as usize;
        options.fuse_dots
            && self.absorbable(i)
            && matches!(
                self.graph.ops[i],
                Op::Add
                    | Op::Sub
                    | Op::AddConst
                    | Op::SubConst
                    | Op::Sum
                    | Op::WeightedSum
                    | Op::WeightedSumConst
            )
    }

    /// Pushes the terms of sum `node` after its left operand.
    fn push_right(&mut self, node: usize, terms: &mut Vec<Term>) {
        let g = self.graph;
        let operands = g.operands(node);
        match g.ops[node] {
            Op::Add => {
                let t = self.term(operands[1], 1.0);
                terms.push(t);
            }
            Op::Sub => {
                // a − b = a + (−b), exactly.
                let t = self.term(operands[1], -1.0);
                terms.push(t);
            }
            Op::AddConst => terms.push((Ref::Lit(g.constants(node)[0]), Ref::Lit(1.0))),
            Op::SubConst => terms.push((Ref::Lit(-g.constants(node)[0]), Ref::Lit(1.0))),
            Op::Sum => {
                for &o in &operands[1..] {
                    let t = self.term(o, 1.0);
                    terms.push(t);
                }
            }
            other => unreachable!("{other} is not a sum"),
        }
    }

    /// Operand `o` as one term with sign `sign`: a product only it uses becomes
    /// the term's two factors.
    fn term(&mut self, o: u32, sign: f64) -> Term {
        let i = o as usize;
        let op = self.graph.ops[i];
        if self.fuse_dots
            && self.absorbable(i)
            && (op == Op::MulConst || (op == Op::Mul && sign > 0.0))
        {
            self.absorb(i);
            return self.product(i, sign);
        }
        match self.reference(o) {
            Ref::Lit(c) => (Ref::Lit(sign * c), Ref::Lit(1.0)),
            node => (node, Ref::Lit(sign)),
        }
    }

    /// Product node `i` as a term (`−(a·c) = a·(−c)` exactly).
    fn product(&self, i: usize, sign: f64) -> Term {
        let g = self.graph;
        let operands = g.operands(i);
        match g.ops[i] {
            Op::MulConst => (
                self.reference(operands[0]),
                Ref::Lit(sign * g.first_partial[i]),
            ),
            _ => (self.reference(operands[0]), self.reference(operands[1])),
        }
    }
}

/// The activation of a unary op that can end a neuron.
fn activation_of(op: Op) -> Option<Activation> {
    match op {
        Op::Sigmoid => Some(Activation::Sigmoid),
        Op::Tanh => Some(Activation::Tanh),
        Op::Relu => Some(Activation::Relu),
        _ => None,
    }
}

/// Ops that a neuron can absorb as its weighted sum.
fn is_affine(op: Op) -> bool {
    matches!(
        op,
        Op::Add
            | Op::Sub
            | Op::AddConst
            | Op::SubConst
            | Op::Sum
            | Op::WeightedSum
            | Op::WeightedSumConst
            | Op::Mul
            | Op::MulConst
    )
}

fn is_const_inputs(op: Op) -> bool {
    matches!(
        op,
        Op::WeightedSumConst | Op::SigmoidNeuronConst | Op::TanhNeuronConst | Op::ReluNeuronConst
    )
}

#[cfg(test)]
mod tests {
    use super::Graph;
    use crate::replay::CompileError;
    use crate::Tape;

    /// A fresh reviewer compiled a tape whose edges, implied ones included,
    /// passed `u32::MAX`: `starts` wrapped and a slice panicked inside the
    /// arena cell. Such a recording is refused before any edge is numbered
    /// (here with a limit of 4, both ways of counting: the O(1) bound, 6, and
    /// the count, 4).
    #[test]
    fn a_recording_of_too_many_edges_is_refused_before_any_edge_is_numbered() {
        let tape = Tape::for_replay();
        let x = tape.var(2.0);
        let y = (x + x) * x; // 3 nodes, 4 implied edges
        let out = [y.index() as u32];
        let (edges, five, four) = tape.recording.read(|rec| {
            (
                rec.edge_count(),
                Graph::read_below(rec, &out, 5).is_ok(),
                Graph::read_below(rec, &out, 4).err(),
            )
        });
        assert_eq!(edges, 4);
        assert!(five);
        assert_eq!(four, Some(CompileError::TooManyEdges { edges: 4 }));
        assert!(four.unwrap().to_string().contains("4 edges"));
    }
}
