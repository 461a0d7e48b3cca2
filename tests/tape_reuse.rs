//! The tape as a reusable object: sweeping more than once and from anywhere, what
//! nodes the output does not depend on get, clearing and recording again into the
//! same memory, the panics with their messages, labels, and the graph view.

use chainrule::graph::GraphEdge;
use chainrule::{Op, Tape, Var};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;

/// A small network-like computation, used by several tests.
fn record_something(tape: &Tape) -> (Var<'_>, Var<'_>, Var<'_>) {
    let x = tape.var(0.8);
    let w = tape.var(-1.7);
    let h = (x * w + 0.3).tanh();
    let y = (h * h + x).sigmoid() * w;
    (x, w, y)
}

#[test]
fn backward_twice_gives_the_same_gradients() {
    let tape = Tape::new();
    let (x, w, y) = record_something(&tape);
    let first = y.backward();
    let second = y.backward(); // while the first is still alive
    assert_eq!(first.as_slice(), second.as_slice());
    let first_values = first.as_slice().to_vec();
    drop((first, second));
    let third = y.backward(); // on a recycled buffer
    assert_eq!(third.as_slice(), &first_values[..]);
    assert!(third[x] != 0.0 && third[w] != 0.0);
    // The tape was not consumed.
    assert_eq!(tape.len(), y.index() + 1);
}

#[test]
fn backward_from_an_intermediate_node_gives_its_own_gradients() {
    let tape = Tape::new();
    let x = tape.var(1.5);
    let u = x.square(); // u = x²
    let v = u.sin() + x; // v = sin(u) + x, recorded after u
    let g = u.backward();
    assert_eq!(g[x], 2.0 * 1.5); // du/dx = 2x
    assert_eq!(g[u], 1.0);
    // Nodes recorded after u, v among them, get 0.
    assert_eq!(g[v], 0.0);
    assert_eq!(g.by_index(v.index()), 0.0);
    assert_eq!(g.as_slice().len(), u.index() + 1);
    assert_eq!(g.output(), u.index());
    // And from v, afterwards: dv/dx = cos(u)·2x + 1.
    let g = v.backward();
    assert!((g[x] - ((2.25f64).cos() * 3.0 + 1.0)).abs() < 1e-15);
}

#[test]
fn nodes_the_output_does_not_depend_on_get_zero() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    let unused_leaf = tape.var(7.0);
    let side = unused_leaf.exp() * x; // uses x, but y does not use side
    let y = x * 3.0;
    let g = y.backward();
    assert_eq!(g[x], 3.0);
    assert_eq!(g[unused_leaf], 0.0);
    assert_eq!(g[side], 0.0);
    assert_eq!(g.wrt_all(&[x, unused_leaf, side]), vec![3.0, 0.0, 0.0]);
}

#[test]
fn a_nan_on_an_unused_side_branch_does_not_leak_into_gradients() {
    let tape = Tape::new();
    let x = tape.var(2.0);
    // sqrt(x − 5) = sqrt(−3): NaN, with a NaN partial towards x.
    let side = (x - 5.0).sqrt();
    // And a node using both x and the NaN: partials NaN (towards x) and 2 (towards side).
    let side_of_side = side * x;
    let y = (x * x).ln(); // dy/dx = 2/x = 1, independent of the side branch
    assert!(side.value().is_nan() && side_of_side.value().is_nan());
    assert_eq!(tape.first_non_finite(), Some(side.index()));
    let g = y.backward();
    assert_eq!(g[x], 1.0);
    assert_eq!(g[side], 0.0);
    assert_eq!(g[side_of_side], 0.0);
    assert!(g.as_slice().iter().all(|d| d.is_finite()));
}

#[test]
fn after_clear_the_tape_records_again_into_the_same_memory() {
    let mut tape = Tape::new();
    let first = {
        let (x, _, y) = record_something(&tape);
        y.named("y");
        let g = y.backward();
        (tape.len(), tape.edge_count(), g[x])
    };
    let capacity = tape.capacity();
    let memory = tape.memory_bytes();
    assert!(capacity >= first.0);

    for _ in 0..3 {
        tape.clear();
        assert!(tape.is_empty());
        assert_eq!(tape.edge_count(), 0);
        assert_eq!(tape.capacity(), capacity, "clear keeps the memory");
        assert_eq!(tape.memory_bytes(), memory, "clear keeps the memory");
        let again = {
            let (x, _, y) = record_something(&tape);
            assert_eq!(tape.label(y.index()), None, "labels are forgotten");
            let g = y.backward();
            (tape.len(), tape.edge_count(), g[x])
        };
        assert_eq!(again, first);
        assert_eq!(
            tape.capacity(),
            capacity,
            "recording again allocates nothing"
        );
        assert_eq!(
            tape.memory_bytes(),
            memory,
            "sweeping again allocates nothing"
        );
    }
}

#[test]
fn with_capacity_records_that_many_nodes_without_allocating() {
    const NODES: usize = 1_000;
    let tape = Tape::with_capacity(NODES);
    assert!(tape.capacity() >= NODES);
    let capacity = tape.capacity();
    let memory = tape.memory_bytes();
    let a = tape.var(0.5);
    let mut x = tape.var(0.25);
    for _ in 2..NODES {
        x *= a; // binary: two edges per node, the most `with_capacity` plans for
    }
    assert_eq!(tape.len(), NODES);
    assert_eq!(tape.capacity(), capacity);
    assert_eq!(tape.memory_bytes(), memory);
    // An empty tape holds no memory at all.
    assert_eq!(Tape::new().memory_bytes(), 0);
    assert_eq!(Tape::new().capacity(), 0);
}

// ---- Two tapes --------------------------------------------------------------------

const TWO_TAPES: &str = "chainrule: Vars of two different tapes were combined";

#[test]
#[should_panic(expected = "chainrule: Vars of two different tapes were combined (nodes #0 and #1)")]
fn a_binary_op_on_vars_of_two_tapes_panics() {
    let (tape_a, tape_b) = (Tape::new(), Tape::new());
    let a = tape_a.var(1.0);
    let _ = tape_b.var(0.0);
    let b = tape_b.var(2.0);
    let _ = a + b;
}

#[test]
fn every_binary_op_checks_the_tapes() {
    type Binary = for<'t> fn(Var<'t>, Var<'t>) -> Var<'t>;
    let ops: [(&str, Binary); 8] = [
        ("+", |a, b| a + b),
        ("-", |a, b| a - b),
        ("*", |a, b| a * b),
        ("/", |a, b| a / b),
        ("pow", |a, b| a.pow(b)),
        ("max", |a, b| a.max(b)),
        ("min", |a, b| a.min(b)),
        ("+=", |mut a, b| {
            a += b;
            a
        }),
    ];
    for (name, op) in ops {
        let (tape_a, tape_b) = (Tape::new(), Tape::new());
        let (a, b) = (tape_a.var(1.0), tape_b.var(2.0));
        let panic =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| op(a, b))).expect_err(name);
        let message = panic.downcast_ref::<String>().expect("a formatted message");
        assert!(message.starts_with(TWO_TAPES), "{name}: {message}");
        assert_eq!(tape_a.len(), 1, "{name}: nothing recorded");
        assert_eq!(tape_b.len(), 1, "{name}: nothing recorded");
    }
}

#[test]
#[should_panic(expected = "chainrule: Vars of two different tapes were combined")]
fn a_sum_over_vars_of_two_tapes_panics() {
    let (tape_a, tape_b) = (Tape::new(), Tape::new());
    let xs = [tape_a.var(1.0), tape_a.var(2.0), tape_b.var(3.0)];
    let _: Var = xs.iter().sum();
}

#[test]
#[should_panic(expected = "chainrule: Vars of two different tapes were combined")]
fn a_weighted_sum_over_vars_of_two_tapes_panics() {
    let (tape_a, tape_b) = (Tape::new(), Tape::new());
    let w = [tape_a.var(1.0), tape_a.var(2.0)];
    let x = [tape_a.var(1.0), tape_b.var(2.0)];
    let _ = Var::weighted_sum(&w, &x, tape_a.var(0.5));
}

#[test]
#[should_panic(expected = "chainrule: Vars of two different tapes were combined")]
fn a_weighted_sum_const_with_a_bias_of_another_tape_panics() {
    let (tape_a, tape_b) = (Tape::new(), Tape::new());
    let w = [tape_a.var(1.0), tape_a.var(2.0)];
    let _ = Var::weighted_sum_const(&w, &[0.5, 0.25], tape_b.var(0.5));
}

#[test]
#[should_panic(expected = "chainrule: asked Gradients for node #1 of another tape")]
fn indexing_gradients_with_a_var_of_another_tape_panics() {
    let (tape_a, tape_b) = (Tape::new(), Tape::new());
    let x = tape_a.var(1.0);
    let y = x * 2.0;
    let _ = tape_b.var(0.0);
    let foreign = tape_b.var(1.0);
    let g = y.backward();
    let _ = g[foreign];
}

#[test]
#[should_panic(expected = "chainrule: asked Gradients for node #0 of another tape")]
fn gradients_wrt_a_var_of_another_tape_panics() {
    let (tape_a, tape_b) = (Tape::new(), Tape::new());
    let y = tape_a.var(1.0).exp();
    let foreign = tape_b.var(1.0);
    let _ = y.backward().wrt(foreign);
}

#[test]
#[should_panic(expected = "chainrule: the sum of no Vars has no tape to live on")]
fn the_sum_of_no_vars_panics() {
    let none: Vec<Var> = Vec::new();
    let _: Var = none.into_iter().sum();
}

#[test]
#[should_panic(
    expected = "chainrule: weighted_sum needs one weight per input (2 weights, 1 input)"
)]
fn a_weighted_sum_with_more_weights_than_inputs_panics() {
    let tape = Tape::new();
    let w = tape.vars(&[1.0, 2.0]);
    let x = tape.vars(&[1.0]);
    let _ = Var::weighted_sum(&w, &x, tape.var(0.0));
}

// ---- Labels and the graph view ------------------------------------------------------

#[test]
fn named_nodes_show_their_label_and_others_a_default_name() {
    let tape = Tape::new();
    let w1 = tape.var(0.15).named("w1");
    let i1 = tape.var(0.05);
    let net = (w1 * i1).named(String::from("net_h1"));
    let out = net.sigmoid();
    assert_eq!(tape.label(w1.index()).as_deref(), Some("w1"));
    assert_eq!(tape.label(i1.index()), None);
    assert_eq!(tape.display_name(w1.index()), "w1");
    assert_eq!(tape.display_name(i1.index()), "leaf#1");
    assert_eq!(tape.display_name(net.index()), "net_h1");
    assert_eq!(tape.display_name(out.index()), "sigmoid#3");
    // Naming returns the same variable and records nothing.
    assert_eq!(net.index(), 2);
    assert_eq!(tape.len(), 4);
    // Naming again: the last label wins.
    out.named("out_h1");
    assert_eq!(tape.display_name(out.index()), "out_h1");
}

#[test]
fn the_graph_view_keeps_parallel_edges_for_a_plus_a() {
    let tape = Tape::new();
    let a = tape.var(3.0).named("a");
    let y = a + a;
    let graph = tape.graph();
    let (na, ny) = (NodeIndex::new(a.index()), NodeIndex::new(y.index()));
    // petgraph lists a node's edges newest first: sort them by operand slot.
    let mut edges: Vec<GraphEdge> = graph
        .edges_connecting(na, ny)
        .map(|e| *e.weight())
        .collect();
    edges.sort_by_key(|e| e.slot);
    assert_eq!(
        edges,
        vec![
            GraphEdge {
                partial: 1.0,
                slot: 0,
                masked: false
            },
            GraphEdge {
                partial: 1.0,
                slot: 1,
                masked: false
            }
        ]
    );
    assert_eq!(graph.edge_count(), tape.edge_count());
}

#[test]
fn the_graph_view_matches_the_tape_node_for_node_and_edge_for_edge() {
    let tape = Tape::new();
    let (x, w, y) = record_something(&tape);
    x.named("x");
    w.named("w");
    y.named("y");
    let graph = tape.graph();
    assert_eq!(graph.node_count(), tape.len());
    assert_eq!(graph.edge_count(), tape.edge_count());
    for i in 0..tape.len() {
        let node = &graph[NodeIndex::new(i)];
        assert_eq!(node.index, i);
        assert_eq!(node.op, tape.op(i));
        assert_eq!(node.value.to_bits(), tape.value(i).to_bits());
        assert_eq!(node.label, tape.label(i));
        // The incoming edges, in slot order, are the node's operands and partials.
        let mut incoming: Vec<(usize, usize, f64)> = graph
            .edges_directed(NodeIndex::new(i), petgraph::Direction::Incoming)
            .map(|e| (e.weight().slot, e.source().index(), e.weight().partial))
            .collect();
        incoming.sort_by_key(|&(slot, _, _)| slot);
        let from_graph: Vec<(usize, f64)> = incoming.iter().map(|&(_, o, p)| (o, p)).collect();
        assert_eq!(from_graph, tape.edges(i), "node {i}");
    }
    assert_eq!(graph[NodeIndex::new(0)].op, Op::Leaf);
    assert_eq!(graph[NodeIndex::new(y.index())].label.as_deref(), Some("y"));
    // Ancestors of y: everything recorded (all of it feeds y).
    assert_eq!(y.ancestors(), (0..tape.len()).collect::<Vec<_>>());
}

#[test]
fn a_tape_can_be_sent_to_another_thread_and_record_there() {
    fn assert_send<T: Send>(_: &T) {}
    let tape = Tape::new();
    assert_send(&tape);
    let gradient = std::thread::spawn(move || {
        let x = tape.var(3.0);
        let y = x.square();
        let g = y.backward();
        g[x]
    })
    .join()
    .expect("the thread records and sweeps");
    assert_eq!(gradient, 6.0);
}

// ---- Gradients as a temporary ---------------------------------------------------------

/// A gradient taken in a helper function's tail expression, the tape a local of that
/// function: `Gradients` has no `Drop` impl of its own, so this compiles in edition
/// 2021 (a lifetime-carrying type with one would be rejected by the borrow checker).
fn derivative_at(x0: f64, f: impl for<'t> Fn(Var<'t>) -> Var<'t>) -> f64 {
    let tape = Tape::new();
    let x = tape.var(x0);
    f(x).backward()[x]
}

#[test]
fn a_gradient_can_be_the_tail_of_a_block_that_owns_the_tape() {
    assert_eq!(derivative_at(3.0, |x| x * x), 6.0);
    let d = {
        let tape = Tape::new();
        let x = tape.var(0.0);
        x.sin().backward().wrt(x)
    };
    assert_eq!(d, 1.0);
}
