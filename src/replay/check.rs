//! [`Program::check`]: does the replay still follow the function? (Rust control
//! flow that depends on values is frozen at recording time.)

use std::fmt;

use super::build::Graph;
use super::Program;
use crate::op::Op;
use crate::tape::Tape;
use crate::var::Var;

/// Where a replay and a fresh recording of the function part ways
/// ([`Program::check`]): the first node that differs.
///
/// ```
/// use chainrule::{replay::Divergence, Op};
/// let d = Divergence::Value { node: 4, op: Op::Exp, replayed: 1.0, recorded: 2.0 };
/// assert!(d.to_string().contains("node #4 (exp)"));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Divergence {
    /// Node `node` has another op: the function took another branch.
    Op {
        /// The node.
        node: usize,
        /// The op the program replays.
        replayed: Op,
        /// The op the fresh recording holds.
        recorded: Op,
    },
    /// Node `node` has the same op on other operands.
    Operands {
        /// The node.
        node: usize,
        /// Its op.
        op: Op,
        /// The operands the program replays.
        replayed: Vec<usize>,
        /// The operands of the fresh recording.
        recorded: Vec<usize>,
    },
    /// Node `node` has the same op with another constant.
    Constant {
        /// The node.
        node: usize,
        /// Its op.
        op: Op,
        /// The constants the program replays.
        replayed: Vec<f64>,
        /// The constants of the fresh recording.
        recorded: Vec<f64>,
    },
    /// Node `node` has another value (not bit for bit).
    Value {
        /// The node.
        node: usize,
        /// Its op.
        op: Op,
        /// The replayed value.
        replayed: f64,
        /// The freshly recorded value.
        recorded: f64,
    },
    /// The fresh recording has more or fewer nodes than the program replays
    /// (a loop ran another number of times), every node the program's outputs
    /// depend on that the two share being the same. (A recording as long as
    /// the program's whose outputs are other nodes is
    /// [`Outputs`](Divergence::Outputs).)
    Shape {
        /// The nodes the program replays (up to its last output).
        replayed: usize,
        /// The nodes of the fresh recording (up to its last output).
        recorded: usize,
    },
    /// The function returned another number of outputs, or outputs at other
    /// nodes (it returns another node of a recording as long as the
    /// program's), every node the program's outputs depend on being the same.
    Outputs {
        /// The program's output nodes.
        replayed: Vec<usize>,
        /// The fresh recording's.
        recorded: Vec<usize>,
    },
}

impl Divergence {
    /// The first node that differs, if the divergence is at a node.
    ///
    /// ```
    /// use chainrule::{replay::Divergence, Op};
    /// let d = Divergence::Op { node: 3, replayed: Op::Relu, recorded: Op::Abs };
    /// assert_eq!(d.node(), Some(3));
    /// ```
    pub fn node(&self) -> Option<usize> {
        match *self {
            Divergence::Op { node, .. }
            | Divergence::Operands { node, .. }
            | Divergence::Constant { node, .. }
            | Divergence::Value { node, .. } => Some(node),
            Divergence::Shape { .. } | Divergence::Outputs { .. } => None,
        }
    }
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("chainrule: the replay differs from a fresh recording ")?;
        match self {
            Divergence::Op {
                node,
                replayed,
                recorded,
            } => write!(
                f,
                "at node #{node}: the program replays {replayed}, the function now records \
                 {recorded} (control flow that depends on values, your code's or a \
                 derivative rule's, such as silu′'s past |x| = 708, is frozen at recording \
                 time: record again for these inputs)"
            ),
            Divergence::Operands {
                node,
                op,
                replayed,
                recorded,
            } => write!(
                f,
                "at node #{node} ({op}): operands {replayed:?} replayed, {recorded:?} recorded"
            ),
            Divergence::Constant {
                node,
                op,
                replayed,
                recorded,
            } => write!(
                f,
                "at node #{node} ({op}): constants {replayed:?} replayed, {recorded:?} recorded"
            ),
            Divergence::Value {
                node,
                op,
                replayed,
                recorded,
            } => write!(
                f,
                "at node #{node} ({op}): value {replayed:e} replayed, {recorded:e} recorded"
            ),
            Divergence::Shape { replayed, recorded } => write!(
                f,
                "in length: {replayed} nodes replayed, {recorded} recorded"
            ),
            Divergence::Outputs { replayed, recorded } => write!(
                f,
                "in which nodes are its outputs: the program returns node{} {replayed:?}, the \
                 function now returns node{} {recorded:?} (the nodes the program's outputs \
                 depend on are recorded the same)",
                if replayed.len() == 1 { "" } else { "s" },
                if recorded.len() == 1 { "" } else { "s" },
            ),
        }
    }
}

impl std::error::Error for Divergence {}

/// Equal bit for bit, or both NaN.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

impl Program {
    /// A debug check of the replay against the function itself: replays at
    /// `inputs`, records `record` afresh at the same inputs, and reports the
    /// first node that differs (its op, operands, constants, or value, bit for
    /// bit), then whether the outputs are other nodes. Control flow that
    /// depends on values is frozen at recording time (see
    /// [`crate::replay`]): this finds out whether `inputs` take another path.
    ///
    /// Only the nodes the program's outputs depend on are compared: a node on
    /// the way to no output (a side computation, dead code) changes no
    /// output or gradient of the program, so a branch taken otherwise there
    /// is no divergence. (With dead-code elimination off the program still
    /// runs such a node forward, and its [`value`](Program::value) may differ
    /// from the fresh recording's.) The nodes are first paired from the
    /// outputs down (output with output, operand with operand): where that
    /// pairing finds the same ops, constants, values and inputs, the check
    /// passes, so a side computation that records more or fewer nodes
    /// (`if x > 0 { let _ = x + 1.0; }`), shifting the index of every node
    /// after it, is no divergence either. Otherwise the nodes are compared by index, and
    /// the first that differs is named (or the recording's length, or its
    /// outputs).
    ///
    /// `record` gets a fresh tape (keeping constants) and the inputs, and must
    /// record the function as it was recorded for the program (making the
    /// leaves with these values, in the same order) and return its outputs. The
    /// program is left run forward at `inputs`.
    ///
    /// # Errors
    /// The first [`Divergence`].
    ///
    /// # Panics
    /// If `inputs.len()` is not [`input_count`](Program::input_count), or
    /// `record` returns no output, or a `Var` of another tape than the one it
    /// is given.
    ///
    /// # Complexity
    /// One forward pass, one recording of the function, and O(nodes + edges).
    ///
    /// ```
    /// use chainrule::{Scalar, Tape, Var};
    ///
    /// // A branch on a value: frozen at recording time.
    /// fn f<T: Scalar>(x: T) -> T {
    ///     if x.value() > 0.0 { x * 2.0 } else { x.exp() }
    /// }
    /// fn record<'t>(tape: &'t Tape, inputs: &[f64]) -> Vec<Var<'t>> {
    ///     vec![f(tape.var(inputs[0]))]
    /// }
    /// let tape = Tape::for_replay();
    /// let outputs = record(&tape, &[1.0]);
    /// let mut program = tape.compile(&outputs).unwrap();
    /// assert!(program.check(&[3.0], record).is_ok()); // the same branch
    /// let diverged = program.check(&[-3.0], record).unwrap_err();
    /// assert_eq!(diverged.node(), Some(1)); // x * 2 replayed where exp is recorded
    /// ```
    #[track_caller]
    pub fn check<F>(&mut self, inputs: &[f64], record: F) -> Result<(), Divergence>
    where
        F: for<'t> FnOnce(&'t Tape, &[f64]) -> Vec<Var<'t>>,
    {
        if inputs.len() != self.leaves {
            wrong_check_input_count(inputs.len(), self.leaves);
        }
        self.set_inputs(inputs);
        self.forward();
        let tape = Tape::for_replay();
        let outputs = record(&tape, inputs);
        assert!(
            !outputs.is_empty(),
            "chainrule: the function given to Program::check returned no output"
        );
        if let Some(k) = outputs.iter().position(|o| !std::ptr::eq(o.tape, &tape)) {
            foreign_check_output(k);
        }
        let nodes: Vec<u32> = outputs.iter().map(|o| o.index).collect();
        let len = nodes.iter().max().map_or(0, |&m| m as usize + 1);
        let fresh = match tape.recording.read(|rec| Graph::read(rec, &nodes)) {
            Ok(graph) => graph,
            // Cannot happen on a tape made for replay; report the shape.
            Err(_) => {
                return Err(Divergence::Shape {
                    replayed: self.graph.len(),
                    recorded: len,
                })
            }
        };
        // The same function, node for node from the outputs down, whatever
        // the indices (a side computation may have shifted them). Where it is
        // not and the recordings differ in length, the first pair that
        // differs is named: compared by index, every node after a shift
        // would, and the first of them may be a side computation's.
        let paired = self.pair_from_outputs(&fresh, &nodes);
        if paired.is_ok() {
            return Ok(());
        }
        if let Err(by_index) = self.compare(&fresh) {
            // Compared by index, the first node that differs may be one no
            // output of the fresh recording depends on (a side computation
            // that shifted the rest): then the pair found from the outputs
            // down is the one named.
            let mut needed = vec![false; fresh.len()];
            for &o in &nodes {
                needed[o as usize] = true;
            }
            for i in (0..fresh.len()).rev() {
                if needed[i] {
                    for &o in fresh.operands(i) {
                        needed[o as usize] = true;
                    }
                }
            }
            let aside = by_index
                .node()
                .is_some_and(|n| n < fresh.len() && !needed[n]);
            return if aside { paired } else { Err(by_index) };
        }
        // Every node the program's outputs depend on is the same. A recording
        // of another length (a loop ran another number of times) is a shape;
        // one of the same length with outputs at other nodes (another node
        // returned), outputs.
        if nodes != self.output_nodes {
            let (old, all) = (self.graph.len(), tape.len());
            if len != old && all != old {
                return Err(Divergence::Shape {
                    replayed: old,
                    recorded: len,
                });
            }
            return Err(Divergence::Outputs {
                replayed: self.output_nodes.iter().map(|&o| o as usize).collect(),
                recorded: nodes.iter().map(|&o| o as usize).collect(),
            });
        }
        Ok(())
    }

    /// Compares old node `node` with the fresh recording's node `at` (of the
    /// same op): their constants, and the value where the program keeps one
    /// (a constant it folded into what reads it holds its recorded value).
    /// The [`Divergence`] names `node`.
    fn same_constants_and_value(
        &self,
        fresh: &Graph,
        node: usize,
        at: usize,
    ) -> Result<(), Divergence> {
        let old = &self.graph;
        let op = old.ops[node];
        let (a, b) = (old.constants(node), fresh.constants(at));
        let mul_const =
            op == Op::MulConst && !same(old.first_partial[node], fresh.first_partial[at]);
        if a.len() != b.len() || a.iter().zip(b).any(|(&x, &y)| !same(x, y)) || mul_const {
            return Err(Divergence::Constant {
                node,
                op,
                replayed: if op == Op::MulConst {
                    vec![old.first_partial[node]]
                } else {
                    a.to_vec()
                },
                recorded: if op == Op::MulConst {
                    vec![fresh.first_partial[at]]
                } else {
                    b.to_vec()
                },
            });
        }
        // A constant the program keeps no slot for (folded into the one
        // that reads it, or dead) holds its recorded value: compared too,
        // so that the first node named is the constant, not what reads it.
        let replayed = match self.value(node) {
            None if op == Op::Const => Some(old.values[node]),
            kept => kept,
        };
        if let Some(value) = replayed {
            if !same(value, fresh.values[at]) {
                return Err(Divergence::Value {
                    node,
                    op,
                    replayed: value,
                    recorded: fresh.values[at],
                });
            }
        }
        Ok(())
    }

    /// Pairs the nodes the program's outputs depend on with those the fresh
    /// recording's `outputs` depend on, from the outputs down by position
    /// (output k with output k, operand k with operand k), not by index, and
    /// compares each pair: the same op, constants and kept values, each leaf
    /// the same input, no node paired with two. `Ok` where all agree, so a
    /// side computation that recorded more or fewer nodes before them
    /// (`if x > 0 { let _ = x + 1.0; }`), which shifts their indices but not
    /// the function, passes. Otherwise the first pair found to differ, named
    /// by the program's node: its op, constants or value, or the operands of
    /// the node above it (or the outputs).
    ///
    /// # Complexity
    /// O(nodes + edges) of both recordings.
    fn pair_from_outputs(&self, fresh: &Graph, outputs: &[u32]) -> Result<(), Divergence> {
        let old = &self.graph;
        let outputs_differ = || Divergence::Outputs {
            replayed: self.output_nodes.iter().map(|&o| o as usize).collect(),
            recorded: outputs.iter().map(|&o| o as usize).collect(),
        };
        if outputs.len() != self.output_nodes.len() {
            return Err(outputs_differ());
        }
        // Each leaf's input number (u32::MAX for other nodes).
        let ranks = |g: &Graph| -> Vec<u32> {
            let mut next = 0;
            g.ops
                .iter()
                .map(|&op| {
                    if op == Op::Leaf {
                        next += 1;
                        next - 1
                    } else {
                        u32::MAX
                    }
                })
                .collect()
        };
        let (old_rank, fresh_rank) = (ranks(old), ranks(fresh));
        const NONE: u32 = u32::MAX;
        let mut pair = vec![NONE; old.len()];
        let mut taken = vec![NONE; fresh.len()];
        // (program node, fresh node, the pair above them, if not an output)
        type Pair = (u32, u32);
        let mut stack: Vec<(u32, u32, Option<Pair>)> = self
            .output_nodes
            .iter()
            .copied()
            .zip(outputs.iter().copied())
            .map(|(i, j)| (i, j, None))
            .collect();
        while let Some((i, j, above)) = stack.pop() {
            let (iu, ju) = (i as usize, j as usize);
            // The operands of the node above differ (or, at the top, the
            // outputs).
            let operands_differ = || match above {
                Some((p, q)) => Divergence::Operands {
                    node: p as usize,
                    op: old.ops[p as usize],
                    replayed: old
                        .operands(p as usize)
                        .iter()
                        .map(|&o| o as usize)
                        .collect(),
                    recorded: fresh
                        .operands(q as usize)
                        .iter()
                        .map(|&o| o as usize)
                        .collect(),
                },
                None => outputs_differ(),
            };
            if iu >= old.len() || ju >= fresh.len() {
                return Err(operands_differ());
            }
            if pair[iu] != NONE || taken[ju] != NONE {
                if pair[iu] == j && taken[ju] == i {
                    continue;
                }
                return Err(operands_differ());
            }
            pair[iu] = j;
            taken[ju] = i;
            if old.ops[iu] != fresh.ops[ju] {
                return Err(Divergence::Op {
                    node: iu,
                    replayed: old.ops[iu],
                    recorded: fresh.ops[ju],
                });
            }
            let (a, b) = (old.operands(iu), fresh.operands(ju));
            if old_rank[iu] != fresh_rank[ju] {
                return Err(operands_differ());
            }
            if a.len() != b.len() {
                return Err(Divergence::Operands {
                    node: iu,
                    op: old.ops[iu],
                    replayed: a.iter().map(|&o| o as usize).collect(),
                    recorded: b.iter().map(|&o| o as usize).collect(),
                });
            }
            self.same_constants_and_value(fresh, iu, ju)?;
            stack.extend(a.iter().zip(b).map(|(&o, &q)| (o, q, Some((i, j)))));
        }
        Ok(())
    }

    /// Compares the nodes the program's outputs depend on (whether the
    /// program runs them or folded them into others); a node on the way to no
    /// output changes no output or gradient, and is not compared.
    fn compare(&self, fresh: &Graph) -> Result<(), Divergence> {
        let old = &self.graph;
        let mut needed = vec![false; old.len()];
        for &o in &self.output_nodes {
            needed[o as usize] = true;
        }
        for i in (0..old.len()).rev() {
            if needed[i] {
                for &o in old.operands(i) {
                    needed[o as usize] = true;
                }
            }
        }
        for node in (0..old.len().min(fresh.len())).filter(|&i| needed[i]) {
            let (replayed, recorded) = (old.ops[node], fresh.ops[node]);
            if replayed != recorded {
                return Err(Divergence::Op {
                    node,
                    replayed,
                    recorded,
                });
            }
            let op = replayed;
            if old.operands(node) != fresh.operands(node) {
                let list = |g: &Graph| g.operands(node).iter().map(|&o| o as usize).collect();
                return Err(Divergence::Operands {
                    node,
                    op,
                    replayed: list(old),
                    recorded: list(fresh),
                });
            }
            self.same_constants_and_value(fresh, node, node)?;
        }
        Ok(())
    }
}

/// The panic of [`Program::check`] given the wrong number of inputs.
#[cold]
#[inline(never)]
#[track_caller]
fn wrong_check_input_count(given: usize, inputs: usize) -> ! {
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    panic!(
        "chainrule: Program::check was given {given} input{} for a program of {inputs} input{}",
        plural(given),
        plural(inputs)
    )
}

/// The panic of [`Program::check`] whose function returned a `Var` of another
/// tape (output `k`).
#[cold]
#[inline(never)]
#[track_caller]
fn foreign_check_output(k: usize) -> ! {
    panic!(
        "chainrule: the function given to Program::check returned, as output {k}, a Var of \
         another tape than the one it was given: record on the tape it is given"
    )
}
