//! The code generator of [`Native`](super::Native): a program's instructions
//! unrolled into two straight-line cranelift functions, forward and backward,
//! each doing the float operations of [`exec`](crate::replay::exec) in the
//! same order (cranelift contracts nothing into a fused multiply-add unless
//! asked), and calling the interpreter's own Rust functions for everything
//! else (activations, exp, the rarer ops).
//!
//! Both functions take one argument, the address of the buffer laid out by
//! [`Layout`]; every offset they read or write is checked against the
//! buffer's length here, when generating ([`Emit::offset`]).

#![deny(unsafe_code)]

use cranelift_codegen::ir::condcodes::FloatCC;
use cranelift_codegen::ir::{types, AbiParam, FuncRef, Inst, InstBuilder, MemFlags, Type, Value};
use cranelift_codegen::Context;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::JITModule;
use cranelift_module::{FuncId, Linkage, Module};
use std::collections::{HashSet, VecDeque};

use super::NativeError;
use crate::activation::Activation;
use crate::replay::exec::{BinaryOp, Code, Instr, Layer, UnaryOp, NO_BIAS};

/// The byte offset of `f64` number `index` of a buffer of `len`.
///
/// # Panics
/// If `index >= len` (a bug of this generator): the check that keeps the
/// generated code inside the buffer (`tests` below).
fn offset_in(index: usize, len: usize) -> i32 {
    assert!(
        index < len,
        "chainrule: native code would touch f64 {index} of a buffer of {len} (a bug)"
    );
    i32::try_from(index * 8).expect("the buffer's size is checked to fit an i32")
}

/// The most terms a program may have to be unrolled. What is counted: each
/// product of a weighted sum, a neuron or a layer is one term (a neuron over
/// n inputs: n); every other instruction (a unary or binary op, a
/// multiply-add, a squared error) counts 2, its value and its partial (a
/// chain of 6,000 `sin` is 12,000 terms). Measured compile times near the
/// limit (release build, unoptimised past 500 terms, linear in the terms):
/// a chain of 4,999 `sin` (9,998 terms) 0.13 s, about 13 µs a term; one tanh
/// neuron over 9,999 inputs 0.6 s, about 60 µs a term; a relu one 1.2 s
/// (its masked adjoints: a select each). Past it the code also outgrows the
/// instruction cache: a 2-16-16-1 tanh MLP's loss over 100 points (30,901
/// terms) unrolled ran 3.3
/// times slower than the interpreter's layer loops (210 against 64 µs an
/// epoch) after 9 s of compiling with cranelift's optimiser on (before the
/// 500-term cut-off for it). A chain of neurons of 13,000 terms still ran
/// 1.3 times faster than the interpreter.
///
/// A layer (several neurons over the same inputs) compiles in time that grows
/// faster than its terms, well under the limit: its loaded inputs and its
/// outputs' adjoints stay live across the layer, and cranelift's register
/// allocator slows with them (about 4.7 times per doubling). Measured in a
/// user's review (release build, the AMD EPYC VM), relu layers of inputs ×
/// outputs: 30 × 80 (2,400 terms) 0.31 s, 30 × 160 1.5 s, 30 × 320 (9,600
/// terms) 4–7 s; 80 × 30 0.52 s, 160 × 30 2.8 s, 320 × 30 12 s. And wide
/// instructions run slower unrolled than in the interpreter's loops, which
/// vectorise: a relu neuron of 9,999 terms 191 µs a pass against 10.6, a tanh
/// one 17 against 10.5, the relu layer 30 × 320 397 against 8.4, a 2-16-16-1
/// relu MLP 2.2 against 0.87. Native code pays on small programs and on
/// chains of unary ops (the 2-2-2 sigmoid network of the step-by-step
/// backpropagation example: 1.24x its hand-coded training step against the
/// interpreter's 1.37x); time both ([`crate::bench`]) before choosing.
pub const MAX_TERMS: usize = 10_000;

/// Programs of up to this many terms are optimised by cranelift (W1 has 10:
/// optimising took its step from 530 to 504 instructions in the harness of the
/// round that set this; `examples/record_cost.rs w1n` counts 482 today); past it the optimiser's time grows worse
/// than linearly (1,000 terms: 0.1 s; 2,000: 0.4 s), and the code is compiled
/// as generated.
pub(crate) const OPTIMISED_TERMS: usize = 500;

/// The most adjoints the backward pass keeps in registers at once; past it
/// the oldest is stored to the buffer (an input's to its gradient, any other
/// to its slot of [`Layout::adjoints`]) and loaded back if it gets another
/// contribution. Left to cranelift, thousands of adjoints live at once (one
/// neuron over n inputs: 2n) made its register allocator quadratic: 2.1 s
/// of the 2.2 s one neuron over 4,000 inputs took to compile, 12 s at 8,000.
const LIVE_ADJOINTS: usize = 64;

/// Where each array lives in the one buffer a [`Native`](super::Native) owns,
/// in `f64`s from its start: the slots' values, their first partials, their
/// second partials, the inputs' gradients, the seeds of a backward pass,
/// three scratch `f64`s (the results of a binary op's callback), and the
/// adjoints the backward pass keeps out of registers ([`LIVE_ADJOINTS`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub(crate) slots: usize,
    pub(crate) leaves: usize,
    /// The first constant slot (slots from here on never change).
    pub(crate) first_constant: usize,
    pub(crate) outputs: usize,
}

impl Layout {
    pub(crate) fn d(&self) -> usize {
        self.slots
    }
    pub(crate) fn d2(&self) -> usize {
        2 * self.slots
    }
    pub(crate) fn grads(&self) -> usize {
        3 * self.slots
    }
    pub(crate) fn seeds(&self) -> usize {
        self.grads() + self.leaves
    }
    pub(crate) fn scratch(&self) -> usize {
        self.seeds() + self.outputs
    }
    /// The adjoints moved out of registers (one `f64` a slot; an input's
    /// goes to its gradient instead).
    pub(crate) fn adjoints(&self) -> usize {
        self.scratch() + 3
    }
    /// The buffer's length.
    pub(crate) fn len(&self) -> usize {
        self.adjoints() + self.slots
    }
}

/// The Rust functions the generated code calls, declared in the module.
#[derive(Clone, Copy)]
pub(crate) struct Imports {
    sigmoid: FuncId,
    tanh: FuncId,
    relu: FuncId,
    unary: FuncId,
    binary: FuncId,
}

/// The names the callbacks are registered under (see `Native::new`).
pub(crate) const SIGMOID: &str = "chainrule_native_sigmoid";
pub(crate) const TANH: &str = "chainrule_native_tanh";
pub(crate) const RELU: &str = "chainrule_native_relu";
pub(crate) const UNARY: &str = "chainrule_native_unary";
pub(crate) const BINARY: &str = "chainrule_native_binary";

impl Imports {
    /// Declares the callbacks: `f64 -> (f64, f64)` for the activations,
    /// `(op, f64) -> (f64, f64)` for a unary op, `(op, f64, f64, out)` for a
    /// binary op.
    pub(crate) fn declare(module: &mut JITModule) -> Result<Imports, NativeError> {
        let ptr = module.target_config().pointer_type();
        let call_conv = module.target_config().default_call_conv;
        let sig = |params: &[Type], returns: &[Type]| {
            let mut s = module.make_signature();
            s.call_conv = call_conv;
            s.params.extend(params.iter().map(|&t| AbiParam::new(t)));
            s.returns.extend(returns.iter().map(|&t| AbiParam::new(t)));
            s
        };
        let f = types::F64;
        let pair = sig(&[f], &[f, f]);
        let unary = sig(&[ptr, f], &[f, f]);
        let binary = sig(&[ptr, f, f, ptr], &[]);
        let mut declare = |name: &str, s| {
            module
                .declare_function(name, Linkage::Import, s)
                .map_err(codegen_error)
        };
        Ok(Imports {
            sigmoid: declare(SIGMOID, &pair)?,
            tanh: declare(TANH, &pair)?,
            relu: declare(RELU, &pair)?,
            unary: declare(UNARY, &unary)?,
            binary: declare(BINARY, &binary)?,
        })
    }
}

pub(crate) fn codegen_error(e: impl std::fmt::Display) -> NativeError {
    NativeError::Codegen(e.to_string())
}

/// The operands the generated code points its callbacks at: instruction `k`'s
/// unary op at `unary[k]`, its binary op at `binary[k]` (a placeholder where
/// instruction `k` has none). Owned by the `Native`, never changed.
///
/// `Vec`s, not boxed slices: the code keeps the addresses of their elements,
/// and a `Box` asserts that it is the only pointer to its memory each time
/// it moves (the `Native` moves when returned or passed by value), which
/// under Rust's aliasing rules (Stacked Borrows) would void the addresses
/// taken before; a `Vec`'s buffer is behind a raw pointer, which moving does
/// not retag.
pub(crate) struct Operands {
    pub(crate) unary: Vec<UnaryOp>,
    pub(crate) binary: Vec<BinaryOp>,
}

impl Operands {
    pub(crate) fn of(code: &Code) -> Operands {
        let unary = code.instrs.iter().map(|instr| match *instr {
            Instr::Unary { op, .. } => op,
            Instr::SquareOf { first, .. } => first,
            _ => UnaryOp::Neg,
        });
        let binary = code.instrs.iter().map(|instr| match *instr {
            Instr::Binary { op, .. } => op,
            _ => BinaryOp::Add,
        });
        Operands {
            unary: unary.collect(),
            binary: binary.collect(),
        }
    }
}

/// The number of terms of `code` (what [`MAX_TERMS`] limits), or the first
/// instruction that cannot be generated.
pub(crate) fn check(code: &Code) -> Result<usize, NativeError> {
    let mut terms = 0usize;
    for instr in &code.instrs {
        terms += match *instr {
            Instr::Dot { segs, .. } => code.segments[segs.0 as usize..segs.1 as usize]
                .iter()
                .map(|s| s.len as usize)
                .sum(),
            Instr::SmallDot { n, .. } => n as usize,
            Instr::Layer(l) => l.n as usize * l.k as usize,
            Instr::Nary { op, .. } => {
                return Err(NativeError::Unsupported {
                    instruction: format!("{op:?} (an n-ary op)"),
                })
            }
            _ => 2,
        };
    }
    Ok(terms)
}

/// A partial as the forward pass leaves it: a constant known when generating,
/// the value of a slot, or stored in the buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Partial {
    Known(f64),
    Slot(u32),
    Stored,
}

/// A partial just computed.
#[derive(Clone, Copy)]
enum NewPartial {
    Known(f64),
    Slot(u32),
    Value(Value),
}

/// What the forward pass leaves for the backward one: each slot's partials.
pub(crate) struct Partials {
    d: Vec<Partial>,
    d2: Vec<Partial>,
}

/// One function being generated: the builder, the buffer's address, and the
/// checked offsets.
struct Emit<'a> {
    b: FunctionBuilder<'a>,
    mem: Value,
    layout: Layout,
    /// The constant slots' values (slot `first_constant + k` at `k`).
    constants: &'a [f64],
    ptr: Type,
    refs: [FuncRef; 5],
    operands: &'a Operands,
    /// Calls emitted so far: a value held across a call is spilled to the
    /// stack (every float register is the callee's to clobber), so the
    /// forward pass reloads from the buffer after one instead.
    calls: u32,
    /// Constants emitted since the last call, by their bits (one register
    /// each, reused: the optimiser would merge them, when it runs).
    constant_values: std::collections::HashMap<u64, (Value, u32)>,
    /// Which `f64`s of the buffer the function loads.
    loaded: Vec<bool>,
    /// The stores emitted, by the index they write.
    stores: Vec<(usize, Inst)>,
}

impl Emit<'_> {
    /// The byte offset of `f64` number `index` of the buffer.
    ///
    /// # Panics
    /// If `index` is past the buffer (a bug of this generator): this check is
    /// what keeps the generated code inside the buffer.
    fn offset(&self, index: usize) -> i32 {
        offset_in(index, self.layout.len())
    }

    fn load(&mut self, index: usize) -> Value {
        let offset = self.offset(index);
        self.loaded[index] = true;
        self.b
            .ins()
            .load(types::F64, MemFlags::trusted(), self.mem, offset)
    }

    fn store(&mut self, index: usize, value: Value) {
        let offset = self.offset(index);
        let store = self
            .b
            .ins()
            .store(MemFlags::trusted(), value, self.mem, offset);
        self.stores.push((index, store));
    }

    fn f(&mut self, x: f64) -> Value {
        if let Some(&(v, calls)) = self.constant_values.get(&x.to_bits()) {
            if calls == self.calls {
                return v;
            }
        }
        let v = self.b.ins().f64const(x);
        self.constant_values.insert(x.to_bits(), (v, self.calls));
        v
    }

    fn constant(&self, slot: u32) -> Option<f64> {
        let k = (slot as usize).checked_sub(self.layout.first_constant)?;
        Some(self.constants[k])
    }

    fn call(&mut self, callee: usize, args: &[Value]) -> (Value, Value) {
        self.calls += 1;
        let call = self.b.ins().call(self.refs[callee], args);
        let results = self.b.inst_results(call);
        (results[0], results[1])
    }

    fn address(&mut self, p: usize) -> Value {
        self.b.ins().iconst(self.ptr, p as i64)
    }
}

const SIG: usize = 0;
const TANH_: usize = 1;
const RELU_: usize = 2;
const UNARY_: usize = 3;
const BINARY_: usize = 4;

/// A function generated, not yet compiled: its IR, the buffer's `f64`s it
/// loads, and its stores.
pub(crate) struct Built {
    ctx: Context,
    loaded: Vec<bool>,
    stores: Vec<(usize, Inst)>,
}

/// Generates a function (one pointer argument, no results) with `body`.
fn build<'a>(
    module: &mut JITModule,
    imports: Imports,
    layout: Layout,
    constants: &'a [f64],
    operands: &'a Operands,
    body: impl FnOnce(&mut Emit<'_>),
) -> Built {
    let ptr = module.target_config().pointer_type();
    let mut ctx: Context = module.make_context();
    ctx.func.signature.params.push(AbiParam::new(ptr));
    let refs = [
        imports.sigmoid,
        imports.tanh,
        imports.relu,
        imports.unary,
        imports.binary,
    ]
    .map(|f| module.declare_func_in_func(f, &mut ctx.func));
    let mut fctx = FunctionBuilderContext::new();
    let (loaded, stores) = {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        b.seal_block(entry);
        let mem = b.block_params(entry)[0];
        let mut e = Emit {
            b,
            mem,
            layout,
            constants,
            ptr,
            refs,
            operands,
            calls: 0,
            constant_values: std::collections::HashMap::new(),
            loaded: vec![false; layout.len()],
            stores: Vec::new(),
        };
        body(&mut e);
        e.b.ins().return_(&[]);
        e.b.finalize();
        (e.loaded, e.stores)
    };
    Built {
        ctx,
        loaded,
        stores,
    }
}

/// Compiles `built` as function `name` of the module.
fn define(module: &mut JITModule, name: &str, mut built: Built) -> Result<FuncId, NativeError> {
    let ptr = module.target_config().pointer_type();
    let mut sig = module.make_signature();
    sig.params.push(AbiParam::new(ptr));
    let id = module
        .declare_function(name, Linkage::Local, &sig)
        .map_err(codegen_error)?;
    module
        .define_function(id, &mut built.ctx)
        .map_err(codegen_error)?;
    module.clear_context(&mut built.ctx);
    Ok(id)
}

/// Generates both passes, drops the forward pass's stores that nothing reads
/// (a value neither an output, nor read by the backward pass, nor reloaded
/// after a call; a partial the backward pass does not read), and compiles
/// them. Returns the forward and the backward function.
#[allow(clippy::too_many_arguments)]
pub(crate) fn passes(
    module: &mut JITModule,
    imports: Imports,
    code: &Code,
    layout: Layout,
    constants: &[f64],
    operands: &Operands,
    outputs: &[u32],
) -> Result<(FuncId, FuncId), NativeError> {
    let (mut fwd, partials) = forward(module, imports, code, layout, constants, operands);
    let bwd = backward(
        module, imports, code, layout, constants, operands, outputs, &partials,
    );
    let mut read = fwd.loaded.clone();
    for (r, &b) in read.iter_mut().zip(&bwd.loaded) {
        *r |= b;
    }
    for &o in outputs {
        read[o as usize] = true;
    }
    for &(index, store) in &fwd.stores {
        if !read[index] {
            fwd.ctx.func.layout.remove_inst(store);
        }
    }
    Ok((
        define(module, "chainrule_forward", fwd)?,
        define(module, "chainrule_backward", bwd)?,
    ))
}

/// Declares and defines the forward pass: every instruction's value (stored
/// in its slot) and partials (stored where not known when generating).
fn forward(
    module: &mut JITModule,
    imports: Imports,
    code: &Code,
    layout: Layout,
    constants: &[f64],
    operands: &Operands,
) -> (Built, Partials) {
    let mut partials = Partials {
        d: vec![Partial::Stored; layout.slots],
        d2: vec![Partial::Stored; layout.slots],
    };
    let built = build(module, imports, layout, constants, operands, |e| {
        let mut f = Forward {
            e,
            values: vec![None; layout.slots],
            partials: &mut partials,
        };
        for (at, instr) in code.instrs.iter().enumerate() {
            f.instr(code, at, instr);
        }
    });
    (built, partials)
}

struct Forward<'e, 'a> {
    e: &'e mut Emit<'a>,
    /// Each slot's value, once loaded or computed, and the number of calls
    /// emitted then (a value is reused until the next call only).
    values: Vec<Option<(Value, u32)>>,
    partials: &'e mut Partials,
}

impl Forward<'_, '_> {
    /// Slot `slot`'s value: reused if computed or loaded since the last call,
    /// else loaded from the buffer (a constant too: a load folds into the
    /// operation that reads it, where a constant held across a call would
    /// be spilled).
    fn value(&mut self, slot: u32) -> Value {
        if let Some((v, calls)) = self.values[slot as usize] {
            if calls == self.e.calls {
                return v;
            }
        }
        let v = self.e.load(slot as usize);
        if self.e.constant(slot).is_none() {
            self.values[slot as usize] = Some((v, self.e.calls));
        }
        v
    }

    fn keep(&mut self, at: usize, partial: NewPartial) -> Partial {
        match partial {
            NewPartial::Known(c) => Partial::Known(c),
            NewPartial::Slot(s) => Partial::Slot(s),
            NewPartial::Value(p) => {
                self.e.store(at, p);
                Partial::Stored
            }
        }
    }

    /// Writes slot `out`'s value and first partial.
    fn set(&mut self, out: u32, value: Value, partial: NewPartial) {
        self.e.store(out as usize, value);
        self.values[out as usize] = Some((value, self.e.calls));
        let at = self.e.layout.d() + out as usize;
        self.partials.d[out as usize] = self.keep(at, partial);
    }

    /// `op(x)` and its partial, as `UnaryOp::eval`.
    fn unary(&mut self, at: usize, op: UnaryOp, x: Value) -> (Value, NewPartial) {
        let e = &mut *self.e;
        match op {
            UnaryOp::Sigmoid => self.call(SIG, x),
            UnaryOp::Tanh => self.call(TANH_, x),
            UnaryOp::Relu => self.call(RELU_, x),
            // The table's rule: x·x, then x·2.
            UnaryOp::Square => {
                let two = e.f(2.0);
                let value = e.b.ins().fmul(x, x);
                (value, NewPartial::Value(e.b.ins().fmul(x, two)))
            }
            UnaryOp::Neg => (e.b.ins().fneg(x), NewPartial::Known(-1.0)),
            UnaryOp::AddConst(c) => {
                let c = e.f(c);
                (e.b.ins().fadd(x, c), NewPartial::Known(1.0))
            }
            UnaryOp::SubConst(c) => {
                let c = e.f(c);
                (e.b.ins().fsub(x, c), NewPartial::Known(1.0))
            }
            UnaryOp::ConstSub(c) => {
                let c = e.f(c);
                (e.b.ins().fsub(c, x), NewPartial::Known(-1.0))
            }
            UnaryOp::MulConst(c) => {
                let k = e.f(c);
                (e.b.ins().fmul(x, k), NewPartial::Known(c))
            }
            UnaryOp::DivConst(c) => {
                let k = e.f(c);
                (e.b.ins().fdiv(x, k), NewPartial::Known(1.0 / c))
            }
            _ => {
                // The interpreter's own `UnaryOp::eval`, through the callback,
                // on instruction `at`'s op (kept by the Native).
                let op = &self.e.operands.unary[at] as *const UnaryOp as usize;
                let op = self.e.address(op);
                let (value, partial) = self.e.call(UNARY_, &[op, x]);
                (value, NewPartial::Value(partial))
            }
        }
    }

    fn call(&mut self, callee: usize, x: Value) -> (Value, NewPartial) {
        let (value, partial) = self.e.call(callee, &[x]);
        (value, NewPartial::Value(partial))
    }

    /// `act(z)` and its derivative, as `Activation::value_and_derivative`.
    fn activation(&mut self, act: Activation, z: Value) -> (Value, NewPartial) {
        match act {
            Activation::Identity => (z, NewPartial::Known(1.0)),
            Activation::Sigmoid => self.call(SIG, z),
            Activation::Tanh => self.call(TANH_, z),
            Activation::Relu => self.call(RELU_, z),
        }
    }

    /// `((t₀ + t₁) + …) + bias`, the terms `v[a] · v[b]` left to right.
    fn sum(&mut self, terms: &[(u32, u32)], bias: u32) -> Value {
        let mut z = None;
        for &(a, b) in terms {
            let (va, vb) = (self.value(a), self.value(b));
            let term = self.e.b.ins().fmul(va, vb);
            z = Some(match z {
                None => term,
                Some(z) => self.e.b.ins().fadd(z, term),
            });
        }
        let mut z = z.expect("a weighted sum has a term");
        if bias != NO_BIAS {
            let vb = self.value(bias);
            z = self.e.b.ins().fadd(z, vb); // v · 1, exactly
        }
        z
    }

    fn instr(&mut self, code: &Code, at: usize, instr: &Instr) {
        match *instr {
            Instr::Unary { op, x, out } => {
                let vx = self.value(x);
                let (value, partial) = self.unary(at, op, vx);
                self.set(out, value, partial);
            }
            Instr::SquareOf { first, x, mid, out } => {
                let vx = self.value(x);
                let (m, dm) = self.unary(at, first, vx);
                let (value, partial) = self.unary(at, UnaryOp::Square, m);
                self.set(mid, m, dm);
                self.set(out, value, partial);
            }
            Instr::SquaredErrors { x, sq, c, t, out } => {
                let mut z = None;
                for k in 0..2 {
                    let vx = self.value(x[k]);
                    let (m, dm) = self.unary(at, UnaryOp::SubConst(t[k]), vx);
                    let (value, partial) = self.unary(at, UnaryOp::Square, m);
                    self.set(sq[k] - 1, m, dm);
                    self.set(sq[k], value, partial);
                    let vc = self.value(c[k]);
                    let term = self.e.b.ins().fmul(value, vc);
                    // The sum's first term, then one more (no 0 + first).
                    z = Some(match z {
                        None => term,
                        Some(z) => self.e.b.ins().fadd(z, term),
                    });
                }
                let z = z.expect("two terms");
                let (value, partial) = self.activation(Activation::Identity, z);
                self.set(out, value, partial);
            }
            Instr::Binary { op, a, b, out } => {
                let (va, vb) = (self.value(a), self.value(b));
                let ins = self.e.b.ins();
                let (value, da, db) = match op {
                    BinaryOp::Add => (
                        ins.fadd(va, vb),
                        NewPartial::Known(1.0),
                        NewPartial::Known(1.0),
                    ),
                    BinaryOp::Sub => (
                        ins.fsub(va, vb),
                        NewPartial::Known(1.0),
                        NewPartial::Known(-1.0),
                    ),
                    BinaryOp::Mul => (ins.fmul(va, vb), NewPartial::Slot(b), NewPartial::Slot(a)),
                    _ => {
                        // `BinaryOp::eval` through the callback, its three
                        // results written to the scratch f64s.
                        let op = &self.e.operands.binary[at] as *const BinaryOp as usize;
                        let op = self.e.address(op);
                        let scratch = self.e.layout.scratch();
                        let end = self.e.offset(scratch + 2);
                        debug_assert!(end > 0);
                        let offset = self.e.offset(scratch) as i64;
                        let out_ptr = self.e.b.ins().iadd_imm(self.e.mem, offset);
                        self.e.calls += 1;
                        let call = self
                            .e
                            .b
                            .ins()
                            .call(self.e.refs[BINARY_], &[op, va, vb, out_ptr]);
                        debug_assert!(self.e.b.inst_results(call).is_empty());
                        let value = self.e.load(scratch);
                        let da = self.e.load(scratch + 1);
                        let db = self.e.load(scratch + 2);
                        (value, NewPartial::Value(da), NewPartial::Value(db))
                    }
                };
                self.set(out, value, da);
                let at2 = self.e.layout.d2() + out as usize;
                self.partials.d2[out as usize] = self.keep(at2, db);
            }
            Instr::MulAdd { a, b, c, out } => {
                let (va, vb, vc) = (self.value(a), self.value(b), self.value(c));
                // `f64::mul_add`: one rounding, as cranelift's fma.
                let value = self.e.b.ins().fma(va, vb, vc);
                self.e.store(out as usize, value);
                self.values[out as usize] = Some((value, self.e.calls));
            }
            Instr::Dot { .. } | Instr::SmallDot { .. } => {
                let (act, terms, bias, out) = dot_terms(code, instr);
                let z = self.sum(&terms, bias);
                let (value, partial) = self.activation(act, z);
                self.set(out, value, partial);
            }
            Instr::Layer(l) => {
                for j in 0..l.n {
                    let (terms, bias) = neuron_terms(&l, j);
                    let z = self.sum(&terms, bias);
                    let (value, partial) = self.activation(l.act, z);
                    self.set(l.out + j, value, partial);
                }
            }
            Instr::Nary { .. } => unreachable!("rejected by `check`"),
        }
    }
}

/// A weighted sum's (or neuron's) activation, terms, bias and output.
fn dot_terms(code: &Code, instr: &Instr) -> (Activation, Vec<(u32, u32)>, u32, u32) {
    match *instr {
        Instr::Dot {
            act,
            segs,
            bias,
            out,
            ..
        } => {
            let terms = code.segments[segs.0 as usize..segs.1 as usize]
                .iter()
                .flat_map(|s| (0..s.len).map(move |k| (s.a + k, s.b + k)))
                .collect();
            (act, terms, bias, out)
        }
        Instr::SmallDot {
            act,
            n,
            ref pairs,
            bias,
            out,
            ..
        } => {
            let terms = pairs[..2 * n as usize]
                .chunks_exact(2)
                .map(|p| (p[0], p[1]))
                .collect();
            (act, terms, bias, out)
        }
        _ => unreachable!("not a weighted sum"),
    }
}

/// Neuron `j` of a layer: its terms `(w_j + i, x + i)` and its bias slot.
fn neuron_terms(l: &Layer, j: u32) -> (Vec<(u32, u32)>, u32) {
    let w = l.w + j * l.w_stride;
    let terms = (0..l.k).map(|i| (w + i, l.x + i)).collect();
    let bias = if l.bias == NO_BIAS {
        NO_BIAS
    } else {
        l.bias + j * l.bias_stride
    };
    (terms, bias)
}

/// Declares and defines the backward pass: the adjoints seeded from the
/// buffer's seeds, every instruction in reverse order, then the inputs'
/// adjoints written to the gradients. The adjoints live in registers (each
/// starts at +0, as the interpreter's zeroed ones, and gets its contributions
/// one by one in the interpreter's order); constants get none.
#[allow(clippy::too_many_arguments)]
fn backward(
    module: &mut JITModule,
    imports: Imports,
    code: &Code,
    layout: Layout,
    constants: &[f64],
    operands: &Operands,
    outputs: &[u32],
    partials: &Partials,
) -> Built {
    build(module, imports, layout, constants, operands, |e| {
        let mut bw = Backward {
            e,
            partials,
            values: vec![None; layout.slots],
            d: vec![None; layout.slots],
            d2: vec![None; layout.slots],
            adj: vec![None; layout.slots],
            stored: vec![false; layout.slots],
            stamps: vec![0; layout.slots],
            live: VecDeque::new(),
            in_registers: 0,
            mask: None,
            not_minus_zero: HashSet::new(),
        };
        for (k, &slot) in outputs.iter().enumerate() {
            let seed = bw.e.load(layout.seeds() + k);
            bw.add(slot, seed);
        }
        for instr in code.instrs[..code.reached].iter().rev() {
            bw.instr(code, instr);
        }
        for leaf in 0..layout.leaves {
            if bw.adj[leaf].is_none() && bw.stored[leaf] {
                continue; // its gradient is in place already
            }
            let g = bw.take(leaf as u32);
            bw.e.store(layout.grads() + leaf, g);
        }
    })
}

struct Backward<'e, 'a> {
    e: &'e mut Emit<'a>,
    partials: &'e Partials,
    values: Vec<Option<Value>>,
    d: Vec<Option<Value>>,
    d2: Vec<Option<Value>>,
    /// Each slot's adjoint in a register (`None`: +0, untouched, unless
    /// `stored`).
    adj: Vec<Option<Value>>,
    /// Whether the slot's adjoint is in the buffer (`Backward::home`), moved
    /// out of its register (then `adj` is `None`).
    stored: Vec<bool>,
    /// How many times each slot's adjoint was put in a register: an entry of
    /// `live` with an older stamp is gone.
    stamps: Vec<u32>,
    /// The adjoints in registers, oldest first, with their stamps.
    live: VecDeque<(u32, u32)>,
    /// How many adjoints are in registers.
    in_registers: usize,
    /// Inside a masked block: whether the edge is masked (its partial is 0).
    mask: Option<Value>,
    /// Values known not to be −0 (a sum with an operand that is not −0):
    /// adding them to +0 changes nothing, so no addition is emitted.
    not_minus_zero: HashSet<Value>,
}

impl Backward<'_, '_> {
    fn value(&mut self, slot: u32) -> Value {
        if let Some(c) = self.e.constant(slot) {
            return self.e.f(c);
        }
        if let Some(v) = self.values[slot as usize] {
            return v;
        }
        let v = self.e.load(slot as usize);
        self.values[slot as usize] = Some(v);
        v
    }

    /// Slot `slot`'s first (or second) partial; `None` where it is exactly 1,
    /// known when generating (see [`times`](Backward::times)).
    fn partial(&mut self, slot: u32, second: bool) -> Option<Value> {
        let (known, base) = if second {
            (self.partials.d2[slot as usize], self.e.layout.d2())
        } else {
            (self.partials.d[slot as usize], self.e.layout.d())
        };
        Some(match known {
            Partial::Known(1.0) => return None,
            Partial::Known(c) => self.e.f(c),
            Partial::Slot(s) => self.value(s),
            Partial::Stored => {
                let cache = if second { &self.d2 } else { &self.d };
                if let Some(v) = cache[slot as usize] {
                    return Some(v);
                }
                let v = self.e.load(base + slot as usize);
                let cache = if second { &mut self.d2 } else { &mut self.d };
                cache[slot as usize] = Some(v);
                v
            }
        })
    }

    fn d(&mut self, slot: u32) -> Option<Value> {
        self.partial(slot, false)
    }

    /// `x · p`, or `x` where `p` is exactly 1 (`None`): the same value
    /// (NaN payloads aside), one multiplication fewer.
    fn times(&mut self, x: Value, p: Option<Value>) -> Value {
        match p {
            Some(p) => self.mul(x, p),
            None => x,
        }
    }

    /// `p == 0`, for a masked edge (`None`, exactly 1, is never masked).
    fn masked_value(&mut self, p: Option<Value>) -> Value {
        match p {
            Some(p) => p,
            None => self.e.f(1.0),
        }
    }

    /// Where slot `slot`'s adjoint is kept out of registers: an input's in
    /// its gradient, any other's in [`Layout::adjoints`].
    fn home(&self, slot: u32) -> usize {
        let layout = self.e.layout;
        if (slot as usize) < layout.leaves {
            layout.grads() + slot as usize
        } else {
            layout.adjoints() + slot as usize
        }
    }

    /// Slot `slot`'s adjoint (`None`: +0, untouched), taken out of its
    /// register or loaded from the buffer; the slot is left untouched.
    fn current(&mut self, slot: u32) -> Option<Value> {
        if let Some(v) = self.adj[slot as usize].take() {
            self.in_registers -= 1;
            return Some(v);
        }
        if std::mem::take(&mut self.stored[slot as usize]) {
            let home = self.home(slot);
            return Some(self.e.load(home));
        }
        None
    }

    /// Puts `v` in slot `slot`'s register, moving the oldest adjoint in a
    /// register to the buffer if there are more than [`LIVE_ADJOINTS`].
    fn set_adjoint(&mut self, slot: u32, v: Value) {
        let stamp = self.stamps[slot as usize].wrapping_add(1);
        self.stamps[slot as usize] = stamp;
        self.adj[slot as usize] = Some(v);
        self.in_registers += 1;
        self.live.push_back((slot, stamp));
        while self.in_registers > LIVE_ADJOINTS {
            let (old, stamp) = self.live.pop_front().expect("counted");
            if self.stamps[old as usize] != stamp {
                continue; // taken or replaced since
            }
            if let Some(v) = self.adj[old as usize].take() {
                self.in_registers -= 1;
                let home = self.home(old);
                self.e.store(home, v);
                self.stored[old as usize] = true;
            }
        }
    }

    /// Slot `slot`'s adjoint, left at +0 (as the interpreter zeroes it).
    fn take(&mut self, slot: u32) -> Value {
        match self.current(slot) {
            Some(v) => v,
            None => {
                let zero = self.e.f(0.0);
                self.not_minus_zero.insert(zero);
                zero
            }
        }
    }

    /// `adj[slot] += t` (nothing for a constant: nobody reads its adjoint);
    /// in a masked block, the adjoint keeps its value where the edge is
    /// masked (a select, branch-free).
    fn add(&mut self, slot: u32, t: Value) {
        if slot as usize >= self.e.layout.first_constant {
            return;
        }
        let old = self.current(slot);
        let mut sum = match old {
            Some(v) => self.sum(v, t),
            None => self.plus_zero(t),
        };
        if let Some(masked) = self.mask {
            let before = match old {
                Some(v) => v,
                None => self.e.f(0.0),
            };
            sum = self.e.b.ins().select(masked, before, sum);
        }
        self.set_adjoint(slot, sum);
    }

    /// `a + b`, known not to be −0 if either is not (−0 + −0 alone is −0).
    fn sum(&mut self, a: Value, b: Value) -> Value {
        let sum = self.e.b.ins().fadd(a, b);
        if self.not_minus_zero.contains(&a) || self.not_minus_zero.contains(&b) {
            self.not_minus_zero.insert(sum);
        }
        sum
    }

    /// `+0 + t`, as the interpreter's adjoint zeroed then added to: `t`
    /// itself where `t` is known not to be −0 (the same value, NaN payloads
    /// aside), else one addition, whose result is not −0.
    fn plus_zero(&mut self, t: Value) -> Value {
        if self.not_minus_zero.contains(&t) {
            return t;
        }
        let zero = self.e.f(0.0);
        let sum = self.e.b.ins().fadd(zero, t);
        self.not_minus_zero.insert(sum);
        sum
    }

    /// Until [`end_mask`](Backward::end_mask), where `partial` is 0 (a
    /// select op's masked edge), every adjoint added to keeps its value
    /// before: a select after each addition, which leaves the same value as
    /// one select per adjoint at the end of the block (masked, every select
    /// keeps the value before the block; unmasked, none acts).
    fn begin_mask(&mut self, partial: Option<Value>) {
        let partial = self.masked_value(partial);
        let zero = self.e.f(0.0);
        self.mask = Some(self.e.b.ins().fcmp(FloatCC::Equal, partial, zero));
    }

    fn end_mask(&mut self) {
        self.mask.take().expect("in a masked block");
    }

    fn mul(&mut self, a: Value, b: Value) -> Value {
        self.e.b.ins().fmul(a, b)
    }

    /// The contributions of a weighted sum's terms, bias and all, given
    /// `term(partner's value)`; masked where `act` is relu and a′ = 0.
    fn dot_back(
        &mut self,
        act: Activation,
        tape_neuron: bool,
        terms: &[(u32, u32)],
        bias: u32,
        g: Value,
        derivative: Option<Value>,
    ) {
        // The tape's relu neuron masks every edge; the plain operators' relu
        // its own alone (see `below_relu`).
        let relu = act == Activation::Relu && tape_neuron;
        if relu {
            self.begin_mask(derivative);
        }
        let masked = (act == Activation::Relu && !tape_neuron).then(|| self.is_zero(derivative));
        // The tape's fused neuron: g · (a′ · value); the plain operators'
        // weighted sum: (g · a′) · value.
        let gz = (!tape_neuron).then(|| self.times(g, derivative));
        let term = |bw: &mut Self, value: Value| match gz {
            Some(gz) => bw.mul(gz, value),
            None => {
                let dv = bw.times(value, derivative);
                bw.mul(g, dv)
            }
        };
        for &(a, b) in terms {
            if (a as usize) < self.e.layout.first_constant {
                let vb = self.value(b);
                let ta = term(self, vb);
                let va = self.value(a);
                let ta = self.below_relu(masked, ta, va, vb);
                self.add(a, ta);
            }
            if (b as usize) < self.e.layout.first_constant {
                let va = self.value(a);
                let tb = term(self, va);
                let vb = self.value(b);
                let tb = self.below_relu(masked, tb, vb, va);
                self.add(b, tb);
            }
        }
        if bias != NO_BIAS {
            // g · (a′ · 1) and (g · a′) · 1 are both g · a′.
            let t = self.times(g, derivative);
            let t = self.bias_below_relu(masked, t);
            self.add(bias, t);
        }
        if relu {
            self.end_mask();
        }
    }

    /// `p == 0` (`None`, exactly 1, is not).
    fn is_zero(&mut self, p: Option<Value>) -> Value {
        let p = self.masked_value(p);
        let zero = self.e.f(0.0);
        self.e.b.ins().fcmp(FloatCC::Equal, p, zero)
    }

    /// Term contribution `t` to a factor (value `own`) of a product below a
    /// plain-operator relu: where the relu is masked (`masked`, z ≤ 0), what
    /// `exec::masked_product` passes: `0 · partner` if a factor is not
    /// finite, else −0, which adds nothing (x + −0 is x). Branch-free.
    fn below_relu(&mut self, masked: Option<Value>, t: Value, own: Value, partner: Value) -> Value {
        let Some(masked) = masked else {
            return t;
        };
        let own_zero = self.e.b.ins().fsub(own, own);
        let partner_zero = self.e.b.ins().fsub(partner, partner);
        let finite = self.e.b.ins().fadd(own_zero, partner_zero);
        let not_finite = self.e.b.ins().fcmp(FloatCC::Unordered, finite, finite);
        let zero = self.e.f(0.0);
        let zero_times = self.mul(zero, partner);
        let minus_zero = self.e.f(-0.0);
        let passed = self.e.b.ins().select(not_finite, zero_times, minus_zero);
        self.e.b.ins().select(masked, passed, t)
    }

    /// The bias's contribution `t` below a plain-operator relu: nothing (−0)
    /// where it is masked (the sum's edge has partial 1).
    fn bias_below_relu(&mut self, masked: Option<Value>, t: Value) -> Value {
        let Some(masked) = masked else {
            return t;
        };
        let minus_zero = self.e.f(-0.0);
        self.e.b.ins().select(masked, minus_zero, t)
    }

    fn instr(&mut self, code: &Code, instr: &Instr) {
        match *instr {
            Instr::Unary { op, x, out } => {
                let g = self.take(out);
                let partial = self.d(out);
                let select = op.is_select();
                if select {
                    self.begin_mask(partial);
                }
                let t = self.times(g, partial);
                self.add(x, t);
                if select {
                    self.end_mask();
                }
            }
            Instr::SquareOf { first, x, mid, out } => {
                let g = self.take(out);
                // As the two instructions: `mid`'s adjoint (+0, read by the
                // square alone) gets g · partial, then passes it on.
                let d_out = self.d(out);
                let t = self.times(g, d_out);
                let gm = self.plus_zero(t);
                let dm = self.d(mid);
                let select = first.is_select();
                if select {
                    self.begin_mask(dm);
                }
                let t = self.times(gm, dm);
                self.add(x, t);
                if select {
                    self.end_mask();
                }
            }
            Instr::SquaredErrors { x, sq, c, out, .. } => {
                let g = self.take(out);
                let d_out = self.d(out);
                let gz = self.times(g, d_out);
                for k in (0..2).rev() {
                    let d_difference = self.d(sq[k] - 1);
                    let d_square = self.d(sq[k]);
                    let vc = self.value(c[k]);
                    // The tape's 0 + on the square's and the difference's
                    // adjoints left out: exact on what a program shows (see
                    // `exec::squared_errors_backward`).
                    let g_sq = self.mul(gz, vc);
                    let gm = self.times(g_sq, d_square);
                    let t = self.times(gm, d_difference);
                    self.add(x[k], t);
                }
            }
            Instr::Binary { op, a, b, out } => {
                let g = self.take(out);
                let da = self.d(out);
                let db = self.partial(out, true);
                let select = matches!(op, BinaryOp::Max | BinaryOp::Min);
                for (slot, partial) in [(a, da), (b, db)] {
                    if select {
                        self.begin_mask(partial);
                    }
                    let t = self.times(g, partial);
                    self.add(slot, t);
                    if select {
                        self.end_mask();
                    }
                }
            }
            Instr::MulAdd { a, b, c, out } => {
                let g = self.take(out);
                let (va, vb) = (self.value(a), self.value(b));
                let t = self.mul(g, vb);
                self.add(a, t);
                let t = self.mul(g, va);
                self.add(b, t);
                self.add(c, g); // g · 1
            }
            Instr::Dot { tape_neuron, .. } | Instr::SmallDot { tape_neuron, .. } => {
                let (act, terms, bias, out) = dot_terms(code, instr);
                let g = self.take(out);
                let derivative = self.d(out);
                self.dot_back(act, tape_neuron, &terms, bias, g, derivative);
            }
            Instr::Layer(l) => {
                let gs: Vec<Value> = (0..l.n).map(|j| self.take(l.out + j)).collect();
                for j in (0..l.n).rev() {
                    let (g, derivative) = (gs[j as usize], self.d(l.out + j));
                    let (terms, bias) = neuron_terms(&l, j);
                    self.layer_neuron(&l, &terms, bias, g, derivative);
                }
            }
            Instr::Nary { .. } => unreachable!("rejected by `check`"),
        }
    }

    /// One neuron of a layer: the weights' adjoints, then the inputs', then
    /// the bias's (as `exec`'s layer loops), each term `term(g, a′, partner)`
    /// recomputed as they do.
    fn layer_neuron(
        &mut self,
        l: &Layer,
        terms: &[(u32, u32)],
        bias: u32,
        g: Value,
        der: Option<Value>,
    ) {
        let relu = l.act == Activation::Relu && l.tape_neuron;
        if relu {
            self.begin_mask(der);
        }
        let masked = (l.act == Activation::Relu && !l.tape_neuron).then(|| self.is_zero(der));
        // The plain operators' (g · a′) · partner: g · a′ once (the same
        // bits each time the interpreter recomputes it).
        let gd = (!l.tape_neuron).then(|| self.times(g, der));
        let term = |bw: &mut Self, value: Value| match gd {
            Some(gd) => bw.mul(gd, value),
            None => {
                let dv = bw.times(value, der);
                bw.mul(g, dv)
            }
        };
        let first_constant = self.e.layout.first_constant;
        for &(w, x) in terms {
            if (w as usize) < first_constant {
                let vx = self.value(x);
                let t = term(self, vx);
                let vw = self.value(w);
                let t = self.below_relu(masked, t, vw, vx);
                self.add(w, t);
            }
        }
        for &(w, x) in terms {
            if (x as usize) < first_constant {
                let vw = self.value(w);
                let t = term(self, vw);
                let vx = self.value(x);
                let t = self.below_relu(masked, t, vx, vw);
                self.add(x, t);
            }
        }
        if bias != NO_BIAS {
            let t = self.times(g, der);
            let t = self.bias_below_relu(masked, t);
            self.add(bias, t);
        }
        if relu {
            self.end_mask();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::offset_in;

    /// The bounds check every load and store of the generated code goes
    /// through: replaced by a no-op, no other test failed (a fresh reviewer).
    #[test]
    fn an_offset_past_the_buffer_panics_and_one_inside_is_its_bytes() {
        assert_eq!(offset_in(0, 3), 0);
        assert_eq!(offset_in(2, 3), 16);
        for (index, len) in [(3, 3), (0, 0), (usize::MAX / 8, 10)] {
            let caught = std::panic::catch_unwind(|| offset_in(index, len));
            let message = caught.unwrap_err();
            let message = message.downcast_ref::<String>().expect("a formatted panic");
            assert!(message.contains("would touch f64"), "{message}");
        }
    }
}
