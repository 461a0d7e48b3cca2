//! A [`Program`] as native code (feature `jit`): [`Program::native`] unrolls
//! its instructions into two straight-line functions, forward and backward,
//! compiled by cranelift, with the same float operations in the same order as
//! the interpreter and calls to the very Rust functions it calls, so a
//! [`Native`] replays to the same bits as its [`Program`].
//!
//! # Safety
//!
//! This is the one module of the crate besides `tape::cell` allowed `unsafe`
//! code. It turns the code cranelift made into function pointers, calls
//! them, and in the callbacks the generated code calls, reads the op it is
//! given and writes three results. Every way safe code reaches it:
//!
//! 1. **The generated code touches only the buffer it is given.** Both
//!    functions take one argument, the address of [`Native`]'s `mem`, a
//!    `Box<[f64]>` of [`Layout::len`] `f64`s allocated once in
//!    [`Native::new`] and never resized nor replaced (no method hands out
//!    the box, only slices of it). Every load and store the generator emits
//!    goes through `Emit::offset`, which asserts that the index is below
//!    `Layout::len` (a panic when generating, never reached by a correct
//!    generator), and uses constant offsets from that address only: there is
//!    no computed address in the generated code besides the callbacks'
//!    arguments (below). `forward` and `backward` take `&mut self`, so no
//!    slice of `mem` handed out by [`Native::inputs`] or
//!    [`Native::gradients`] is alive during a call (the borrow checker
//!    enforces it); the user's values enter only by copying into `mem`
//!    ([`Native::set_inputs`], whose length is checked, or
//!    [`Native::inputs_mut`], a slice of fixed length).
//! 2. **The callbacks cannot unwind.** They are `extern "C"` functions of pure
//!    float math (the activations, `UnaryOp::eval`, `BinaryOp::eval`: no
//!    indexing, no allocation, no `unwrap`, no integer arithmetic that can
//!    overflow: `powi`'s n − 1 is a `checked_sub`, and `log(base)`'s
//!    derivative at the edges halves a binary exponent in −1074..=1024
//!    (`kernels::log_derivative_scaled`); the one `unreachable!`, in
//!    `UnaryOp::eval_rare`, is for the ops `eval` answers before calling it);
//!    even if one did panic, a panic
//!    that reaches an `extern "C"` boundary aborts the process (Rust 1.81 and
//!    later; the crate's MSRV is 1.85), it never unwinds into generated code.
//! 3. **The callbacks' pointers are valid.** `chainrule_native_unary` and
//!    `chainrule_native_binary` get the address of an element of
//!    `Native::operands` (two `Vec`s, one entry per instruction, built
//!    before generating and never changed, read only through these
//!    addresses) embedded in the code as a constant; the binary one also
//!    gets the address of the three scratch `f64`s at the end of `mem`
//!    (`Layout::scratch`, inside the checked length), computed from the
//!    argument of each call. Both `Vec`s are owned by the `Native`, so they
//!    live as long as the code that points into them; they are `Vec`s, not
//!    `Box`es, because a `Box` moved (the `Native` is returned and moved by
//!    value) claims its memory as its alone, which under Stacked Borrows
//!    voids the addresses taken from it before the move. (`mem` may be a
//!    `Box`: its address is taken afresh, through `&mut self`, for each
//!    call.)
//! 4. **The code lives as long as the `Native`.** The `JITModule` that owns the
//!    code's memory is a field of the `Native`; its memory is freed in
//!    `Drop`, after which nothing can call the function pointers (they are
//!    private fields of the value being dropped).
//! 5. **Re-entry and threads.** The generated code keeps no state of its own
//!    (the adjoints live in registers and on its stack), the callbacks never
//!    call back into a `Native`, and `forward`/`backward` take `&mut self`: no
//!    two calls run on one buffer at once. `Native` is neither `Send` nor
//!    `Sync` (the `JITModule` it owns is neither): it stays on the thread
//!    that made it; compile one `Native` a thread (each is independent).
//!
//! 6. **The callbacks' signatures match.** Each is declared to cranelift with
//!    the parameters and results of its `extern "C"` definition here, under
//!    the host's C calling convention; the activations return a `#[repr(C)]`
//!    pair of `f64`s, which the x86-64 System V ABI returns in `xmm0` and
//!    `xmm1`, where cranelift reads two `f64` results. Other ABIs return such
//!    a pair differently (Windows x64 through memory), so [`Program::native`]
//!    refuses any host but x86-64 Unix with 64-bit pointers (the System V
//!    LP64 ABI; not x32, whose pointers are 32 bits, an ABI not argued here). The pointers the code holds are
//!    integers made from pointers with `as usize` (their provenance exposed),
//!    turned back into pointers by the callbacks.
//!
//! 7. **Running out of stack faults in the guard page.** Safe Rust may
//!    overflow its stack only into the thread's guard page (one 4 KiB page
//!    below a spawned thread's stack), which aborts the process ("has
//!    overflowed its stack"); compiled Rust probes every page of a frame
//!    larger than that. The generated code's frames can be far larger (a
//!    relu layer of 30 inputs and 320 outputs: 86 KiB of spilled adjoints in
//!    its backward pass), so the module is made with cranelift's stack probes
//!    on (`enable_probestack`, inline, every 4 KiB): a frame that does not fit
//!    touches the guard page before anything below it. Without them, `sub
//!    rsp` jumped over the guard page and the code's stores landed in
//!    whatever memory lay below the thread's stack.
//!
//! Tests for each: `tests/native.rs` (wrong lengths are panics, an
//! unsupported program an error, odd programs in any order of calls, Send
//! and Sync asserted absent), `tests/native_drop.rs` (a dropped `Native`
//! gives its code's memory back, counted by the allocator),
//! `tests/native_stack.rs` (a backward pass with too little stack left
//! aborts as a stack overflow) and this module's unit test (the probes are
//! on).

#![allow(unsafe_code)]

mod emit;

use std::fmt;
use std::mem::ManuallyDrop;

use cranelift_codegen::settings::{self, Configurable};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::default_libcall_names;

use super::exec::{BinaryOp, UnaryOp};
use super::Program;
use crate::ops::kernels::{
    relu as relu_value, relu_derivative, sigmoid_with_derivative, tanh_with_derivative,
};
use emit::{codegen_error, Imports, Layout, Operands};

pub use emit::MAX_TERMS;

/// Why [`Program::native`] could not make native code.
///
/// ```
/// # #[cfg(feature = "jit")] {
/// let tape = chainrule::Tape::for_replay();
/// let x = tape.vars(&[1.0, 2.0]);
/// let y = chainrule::Var::logsumexp(&x);
/// let err = tape.compile(&[y])?.native().unwrap_err();
/// assert!(err.to_string().contains("LogSumExp"));
/// # }
/// # Ok::<(), chainrule::replay::CompileError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NativeError {
    /// The program has an instruction the generator does not unroll (an n-ary
    /// op: logsumexp, the fused losses); replay it with the [`Program`].
    Unsupported {
        /// The instruction.
        instruction: String,
    },
    /// The program has more terms than [`MAX_TERMS`]: unrolled, it would take
    /// longer to compile than it saves (a 2-16-16-1 tanh MLP's loss over 100
    /// points, 30,901 terms, is such a program).
    /// Each product of a weighted sum, neuron or layer is a term; every other
    /// instruction counts 2 (its value and its partial).
    ///
    /// ```
    /// # #[cfg(feature = "jit")] {
    /// let tape = chainrule::Tape::for_replay();
    /// let mut x = tape.var(0.3);
    /// for _ in 0..6_000 {
    ///     x = x.sin();
    /// }
    /// let err = tape.compile(&[x])?.native().unwrap_err();
    /// assert!(err.to_string().contains("12,000 terms (each product of a weighted sum"));
    /// # }
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    TooLarge {
        /// Its terms: products of weighted sums, neurons and layers, and 2
        /// for every other instruction.
        terms: usize,
        /// [`MAX_TERMS`].
        limit: usize,
    },
    /// No code was made: the host is not supported, the program has more
    /// slots than the code's 32-bit offsets reach, or cranelift failed.
    Codegen(String),
}

impl fmt::Display for NativeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NativeError::Unsupported { instruction } => write!(
                f,
                "chainrule: native code does not support the instruction {instruction}; \
                 replay this program with Program instead"
            ),
            NativeError::TooLarge { terms, limit } => write!(
                f,
                "chainrule: the program has {} terms (each product of a weighted sum, \
                 neuron or layer counts 1; every other instruction, a unary or binary op, \
                 counts 2: its value and its partial), more than native code unrolls \
                 ({}, replay::MAX_TERMS); replay it with Program instead",
                thousands(*terms),
                thousands(*limit)
            ),
            NativeError::Codegen(e) => write!(f, "chainrule: native code generation failed: {e}"),
        }
    }
}

impl std::error::Error for NativeError {}

/// `n` with a comma every three digits (12,000).
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (k, c) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A value and its partial, as an activation returns them (two `f64`s in
/// registers under the C calling convention: what cranelift's two `f64`
/// results are).
#[repr(C)]
struct Pair {
    value: f64,
    partial: f64,
}

impl From<(f64, f64)> for Pair {
    #[inline(always)]
    fn from((value, partial): (f64, f64)) -> Pair {
        Pair { value, partial }
    }
}

extern "C" fn sigmoid_callback(z: f64) -> Pair {
    sigmoid_with_derivative(z).into()
}

extern "C" fn tanh_callback(z: f64) -> Pair {
    tanh_with_derivative(z).into()
}

extern "C" fn relu_callback(z: f64) -> Pair {
    (relu_value(z), relu_derivative(z)).into()
}

extern "C" fn unary_callback(op: *const UnaryOp, x: f64) -> Pair {
    // SAFETY: the generated code passes the address of an element of
    // `Native::operands.unary`, a `Vec` the `Native` owns and never
    // changes, alive while its code is (see the module's proof, point 3).
    let op = unsafe { *op };
    op.eval(x).into()
}

extern "C" fn binary_callback(op: *const BinaryOp, a: f64, b: f64, out: *mut f64) {
    // SAFETY: as `unary_callback`, `op` points into `Native::operands.binary`;
    // `out` is the address of the three scratch f64s at the end of the
    // `Native`'s buffer, inside its checked length, and no reference to them
    // is alive (the buffer is borrowed mutably for the call; point 3).
    let (op, out) = unsafe { (*op, &mut *out.cast::<[f64; 3]>()) };
    let (value, da, db) = op.eval(a, b);
    *out = [value, da, db];
}

/// A compiled forward or backward pass: the buffer's address in, nothing out.
type Pass = unsafe extern "C" fn(*mut f64);

/// A [`Program`] as native code (feature `jit`): made by
/// [`Program::native`], it replays the program's forward and backward passes
/// as two straight-line functions, to the same bits as the program.
///
/// The program's methods for inputs, forward, output, backward and gradients: set the inputs
/// ([`set_inputs`](Native::set_inputs), [`inputs_mut`](Native::inputs_mut)),
/// [`forward`](Native::forward), [`output`](Native::output),
/// [`backward`](Native::backward), [`gradients`](Native::gradients). A new
/// `Native` holds the program's current inputs (as set, run forward or not),
/// forward already run.
///
/// It owns its code and buffers (freed on drop) and stays on the thread that
/// made it: it is neither `Send` nor `Sync`.
///
/// ```
/// let tape = chainrule::Tape::for_replay();
/// let w = tape.vars(&[0.5, -0.25]);
/// let y = (w[0] * 2.0 + w[1] * 3.0 + 0.1).sigmoid();
/// let program = tape.compile(&[y])?;
/// let mut native = program.native().expect("a neuron is supported");
/// native.set_inputs(&[1.0, 2.0]);
/// native.forward();
/// native.backward();
/// let mut program = program;
/// program.set_inputs(&[1.0, 2.0]);
/// program.forward();
/// program.backward();
/// assert_eq!(native.output(0).to_bits(), program.output(0).to_bits());
/// assert_eq!(native.gradients(), program.gradients());
/// # Ok::<(), chainrule::replay::CompileError>(())
/// ```
pub struct Native {
    /// The one buffer the code reads and writes (see `emit::Layout`): never
    /// resized nor replaced.
    mem: Box<[f64]>,
    /// The inputs as set, copied into `mem` by each forward pass, and only by
    /// it (as [`Program`]'s: a backward pass runs at the inputs of the last
    /// forward pass, whatever was set since).
    inputs: Vec<f64>,
    layout: Layout,
    outputs: Vec<u32>,
    /// Whether the seeds in `mem` are `backward`'s (1 for output 0, else 0).
    unit_seeds: bool,
    forward: Pass,
    backward: Pass,
    /// The ops the callbacks are pointed at (read by the code, never changed).
    _operands: Operands,
    /// Owns the code's memory; freed in `Drop`.
    module: ManuallyDrop<JITModule>,
}

impl fmt::Debug for Native {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Native")
            .field("inputs", &self.layout.leaves)
            .field("outputs", &self.outputs.len())
            .field("slots", &self.layout.slots)
            .finish_non_exhaustive()
    }
}

impl Drop for Native {
    fn drop(&mut self) {
        // SAFETY: the module is taken once, here, and the function pointers
        // into its memory are never called after (they are fields of the
        // value being dropped): freeing the code is sound (point 4).
        unsafe { ManuallyDrop::take(&mut self.module).free_memory() };
    }
}

impl Program {
    /// This program as native code: its forward and backward passes unrolled
    /// into straight-line functions by cranelift (see [`Native`]). It starts
    /// at the program's inputs as set, also by a
    /// [`set_inputs`](Program::set_inputs) that no
    /// [`forward`](Program::forward) has run yet, forward already run. Supports
    /// every instruction but the n-ary ones (logsumexp, the fused losses), up
    /// to [`MAX_TERMS`] terms.
    ///
    /// # Errors
    /// [`NativeError::Unsupported`] naming the first n-ary instruction,
    /// [`NativeError::TooLarge`] past [`MAX_TERMS`] terms,
    /// [`NativeError::Codegen`] on a host other than x86-64 Unix, for a
    /// program whose buffer (the values, partials and adjoints of its slots)
    /// passes 2³¹ bytes, which the code's 32-bit offsets do not reach, or if
    /// cranelift fails.
    ///
    /// # Complexity
    /// O(instructions + terms) time and memory for the code generated;
    /// cranelift's compile takes about 0.5 ms for a 2-2-2 sigmoid network's
    /// 10 terms (its two layers of two neurons of two terms, and its loss);
    /// past 500
    /// terms (compiled unoptimised: its optimiser grows worse than linearly)
    /// it is linear in the terms for a chain of unary ops (about 13 µs a
    /// term) and for one wide neuron (60 µs for a tanh one, 120 µs for a relu
    /// one: a tanh neuron at [`MAX_TERMS`], 0.6 s), but not for a layer, whose
    /// compile grows about 4.7 times per doubling of its width (a relu layer
    /// of 30 × 320 inputs × outputs, 9,600 terms: 4–7 s); see [`MAX_TERMS`]
    /// for what is counted, and for the programs that run slower unrolled
    /// than in the interpreter (wide neurons and layers).
    ///
    /// ```
    /// let tape = chainrule::Tape::for_replay();
    /// let x = tape.var(3.0);
    /// let mut native = tape.compile(&[x * x])?.native().expect("supported");
    /// native.backward();
    /// assert_eq!(native.gradients(), &[6.0]);
    /// # Ok::<(), chainrule::replay::CompileError>(())
    /// ```
    pub fn native(&self) -> Result<Native, NativeError> {
        Native::new(self)
    }
}

impl Native {
    fn new(program: &Program) -> Result<Native, NativeError> {
        if !cfg!(all(
            unix,
            target_arch = "x86_64",
            target_pointer_width = "64"
        )) {
            // Point 6 of the proof: the callbacks' two results.
            return Err(NativeError::Codegen(
                "native code is made on x86-64 Unix hosts only, where a callback's two \
                 f64 results are returned in registers as cranelift expects them"
                    .to_string(),
            ));
        }
        let code = &program.code;
        let terms = emit::check(code)?;
        if terms > MAX_TERMS {
            return Err(NativeError::TooLarge {
                terms,
                limit: MAX_TERMS,
            });
        }
        let values = &program.state.values;
        let layout = Layout {
            slots: values.len(),
            leaves: program.leaves,
            first_constant: program.first_constant,
            outputs: program.outputs.len(),
        };
        if layout
            .len()
            .checked_mul(8)
            .is_none_or(|bytes| bytes > i32::MAX as usize)
        {
            return Err(NativeError::Codegen(format!(
                "the program's {} slots are more than native code's 32-bit offsets reach",
                layout.len()
            )));
        }
        let mut mem = vec![0.0; layout.len()].into_boxed_slice();
        mem[..layout.slots].copy_from_slice(values);
        let constants = &values[layout.first_constant..];
        let operands = Operands::of(code);

        // Cranelift's optimiser (`opt_level = speed`) grows worse than
        // linearly with one long block (2,000 terms: 0.4 s); without it,
        // linear: 13–120 µs a term (see MAX_TERMS).
        let mut module = jit_module(terms <= emit::OPTIMISED_TERMS)?;
        let imports = Imports::declare(&mut module)?;
        let built = emit::passes(
            &mut module,
            imports,
            code,
            layout,
            constants,
            &operands,
            &program.outputs,
        )
        .and_then(|ids| {
            module.finalize_definitions().map_err(codegen_error)?;
            Ok(ids)
        });
        let (fwd, bwd) = match built {
            Ok(ids) => ids,
            Err(e) => {
                // SAFETY: no function of the module was turned into a pointer.
                unsafe { module.free_memory() };
                return Err(e);
            }
        };
        let (forward, backward) = {
            let (f, b) = (
                module.get_finalized_function(fwd),
                module.get_finalized_function(bwd),
            );
            // SAFETY: both were defined by `emit::forward` and
            // `emit::backward` with one pointer argument and no result, under
            // the module's default (the C) calling convention, and finalized
            // above; they are only called with `mem`'s address (point 1).
            unsafe {
                (
                    std::mem::transmute::<*const u8, Pass>(f),
                    std::mem::transmute::<*const u8, Pass>(b),
                )
            }
        };
        let mut native = Native {
            // The inputs as set, run or not (forward runs at them below).
            inputs: program.inputs.clone(),
            mem,
            layout,
            outputs: program.outputs.clone(),
            unit_seeds: false,
            forward,
            backward,
            _operands: operands,
            module: ManuallyDrop::new(module),
        };
        native.forward();
        Ok(native)
    }

    /// The number of inputs (as [`Program::input_count`]).
    #[inline]
    pub fn input_count(&self) -> usize {
        self.layout.leaves
    }

    /// The inputs' current values, in recording order.
    #[inline]
    pub fn inputs(&self) -> &[f64] {
        &self.inputs
    }

    /// The inputs, to write in place (then run [`forward`](Native::forward)).
    #[inline]
    pub fn inputs_mut(&mut self) -> &mut [f64] {
        &mut self.inputs
    }

    /// Sets every input, in recording order.
    ///
    /// # Panics
    /// If `values.len()` is not [`input_count`](Native::input_count).
    #[track_caller]
    #[inline]
    pub fn set_inputs(&mut self, values: &[f64]) {
        if values.len() != self.layout.leaves {
            super::wrong_input_count(values.len(), self.layout.leaves);
        }
        self.inputs.copy_from_slice(values);
    }

    /// Runs the forward pass at the current inputs.
    ///
    /// # Complexity
    /// O(terms), straight-line code, no allocation.
    #[inline]
    pub fn forward(&mut self) {
        self.mem[..self.layout.leaves].copy_from_slice(&self.inputs);
        // SAFETY: `forward` reads and writes `mem` only, within its length
        // (point 1); `&mut self` means no other borrow of it is alive.
        unsafe { (self.forward)(self.mem.as_mut_ptr()) }
    }

    /// The value of output `k` after the last [`forward`](Native::forward).
    ///
    /// # Panics
    /// If there is no output `k`.
    #[track_caller]
    #[inline]
    pub fn output(&self, k: usize) -> f64 {
        match self.outputs.get(k) {
            Some(&slot) => self.mem[slot as usize],
            None => panic!(
                "chainrule: no output {k}: the program has {} {}",
                self.outputs.len(),
                crate::plural(self.outputs.len(), "output", "outputs"),
            ),
        }
    }

    /// The number of outputs.
    #[inline]
    pub fn output_count(&self) -> usize {
        self.outputs.len()
    }

    /// One reverse sweep from output 0 (as [`Program::backward`]).
    ///
    /// # Complexity
    /// O(terms), straight-line code, no allocation.
    #[inline]
    pub fn backward(&mut self) {
        if !self.unit_seeds {
            let seeds = self.layout.seeds();
            self.mem[seeds] = 1.0;
            self.mem[seeds + 1..seeds + self.outputs.len()].fill(0.0);
            self.unit_seeds = true;
        }
        self.sweep();
    }

    /// One reverse sweep from every output, output `k` seeded with `seeds[k]`
    /// (as [`Program::backward_with`]).
    ///
    /// # Panics
    /// If `seeds.len()` is not [`output_count`](Native::output_count).
    #[track_caller]
    #[inline]
    pub fn backward_with(&mut self, seeds: &[f64]) {
        if seeds.len() != self.outputs.len() {
            super::wrong_seed_count(seeds.len(), self.outputs.len());
        }
        let at = self.layout.seeds();
        self.mem[at..at + seeds.len()].copy_from_slice(seeds);
        self.unit_seeds = false;
        self.sweep();
    }

    #[inline]
    fn sweep(&mut self) {
        // SAFETY: as `forward`.
        unsafe { (self.backward)(self.mem.as_mut_ptr()) }
    }

    /// The gradient of every input after the last backward pass, in input order
    /// (as [`Program::gradients`](crate::replay::Program::gradients): zeros
    /// before the first, and not checked to be of the current inputs).
    #[inline]
    pub fn gradients(&self) -> &[f64] {
        let at = self.layout.grads();
        &self.mem[at..at + self.layout.leaves]
    }
}

/// A JIT module for the host (its code optimised if `optimise`), its
/// callbacks registered.
fn jit_module(optimise: bool) -> Result<JITModule, NativeError> {
    let mut flags = settings::builder();
    for (name, value) in [
        ("opt_level", if optimise { "speed" } else { "none" }),
        ("use_colocated_libcalls", "false"),
        ("is_pic", "false"),
        // Stack probes (point 7 of the proof): a frame larger than the guard
        // page touches every page on the way down, so running out of stack
        // faults in the guard page (Rust's "has overflowed its stack") instead
        // of writing past it into whatever lies below.
        ("enable_probestack", "true"),
        ("probestack_strategy", "inline"),
    ] {
        flags.set(name, value).map_err(codegen_error)?;
    }
    let isa = cranelift_native::builder()
        .map_err(codegen_error)?
        .finish(settings::Flags::new(flags))
        .map_err(codegen_error)?;
    let mut builder = JITBuilder::with_isa(isa, default_libcall_names());
    builder.symbol(emit::SIGMOID, sigmoid_callback as *const u8);
    builder.symbol(emit::TANH, tanh_callback as *const u8);
    builder.symbol(emit::RELU, relu_callback as *const u8);
    builder.symbol(emit::UNARY, unary_callback as *const u8);
    builder.symbol(emit::BINARY, binary_callback as *const u8);
    Ok(JITModule::new(builder))
}

#[cfg(test)]
mod tests {
    use cranelift_codegen::settings::ProbestackStrategy;
    use cranelift_module::Module;

    /// Point 7 of the proof: the code made probes the stack page by page for
    /// every frame past 4 KiB (one guard page), optimised or not. Without it a
    /// large program's backward pass (a relu layer of 30 inputs and 320
    /// outputs has an 86 KiB frame) jumped over the guard page of a thread
    /// short of stack (`tests/native_stack.rs` runs that case).
    #[test]
    fn native_code_probes_the_stack_of_every_frame_past_a_page() {
        for optimise in [true, false] {
            let module = super::jit_module(optimise).unwrap();
            let flags = module.isa().flags();
            assert!(flags.enable_probestack());
            assert_eq!(flags.probestack_strategy(), ProbestackStrategy::Inline);
            assert_eq!(flags.probestack_size_log2(), 12);
        }
    }
}
