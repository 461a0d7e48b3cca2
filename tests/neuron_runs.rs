//! Fused neurons recorded over runs of consecutive nodes (`NeuronRun`: no stored
//! edges, each partial a′(z)·value computed when read). Every reader must see what
//! the stored form holds: `Tape::edges`, `edge_count`, the graph view, the anomaly
//! scan. The fast sweep must equal `graph::textbook_backward` bit for bit.

use chainrule::anomaly::{Anomaly, NonFinite};
use chainrule::graph::textbook_backward;
use chainrule::{Activation, Tape, Var};
use petgraph::graph::NodeIndex;
use petgraph::visit::EdgeRef;
use petgraph::Direction;

/// Widths of the test MLP: 6 inputs, 5 hidden neurons, 4 outputs.
const NET: [usize; 3] = [6, 5, 4];

/// `n` deterministic values in (−scale, scale), spread by the golden ratio.
fn spread(n: usize, seed: f64, scale: f64) -> Vec<f64> {
    let phi = 0.618_033_988_749_895;
    (0..n)
        .map(|k| (((k as f64 + seed) * phi).fract() * 2.0 - 1.0) * scale)
        .collect()
}

/// Runs `y.backward()`, asserts it equals the textbook pass exactly (and that no
/// node after `y` gets a gradient), and returns the gradients.
#[track_caller]
fn backward_matches_textbook(tape: &Tape, y: Var<'_>) -> Vec<f64> {
    let fast = y.backward().as_slice().to_vec();
    let textbook = textbook_backward(&tape.graph(), y.index());
    let out = y.index();
    assert_eq!(fast[..], textbook[..=out], "sweep from #{out}");
    assert!(textbook[out + 1..].iter().all(|&g| g == 0.0));
    fast
}

/// Gradients reached by different roundings. The fused node's partial is
/// a′(z)·xₖ, which the sweep multiplies by the adjoint; the operator chain
/// multiplies the adjoint by a′(z) first, then by xₖ, and sums a node's users in a
/// different order. Each way is a few roundings from the exact value, so they
/// agree to a few ulps; 1e-12 relative leaves room for the sums over paths.
#[track_caller]
fn assert_close(fused: f64, ops: f64, what: &str) {
    let tolerance = 1e-12 * fused.abs().max(ops.abs());
    assert!(
        (fused - ops).abs() <= tolerance,
        "{what}: {fused:e} vs {ops:e}"
    );
}

/// Central difference of `f` in parameter `i`, h = 1e-6, against the gradient
/// `g`. Truncation h²|f‴|/6 ≈ 1e-13 and rounding ε|f|/h ≈ 1e-10 for these
/// functions, so 1e-6 (relative above 1) is a wide margin, while a wrong partial
/// (wrong operand, missing factor) is off by O(|g|).
#[track_caller]
fn assert_finite_difference(f: impl Fn(&[f64]) -> f64, p: &[f64], i: usize, g: f64) {
    let (mut up, mut down) = (p.to_vec(), p.to_vec());
    up[i] += 1e-6;
    down[i] -= 1e-6;
    let fd = (f(&up) - f(&down)) / 2e-6;
    let tolerance = 1e-6 * g.abs().max(1.0);
    assert!((fd - g).abs() <= tolerance, "#{i}: {fd:e} vs {g:e}");
}

/// A neuron: fused (over runs when the slices allow it), or with the plain
/// operators, `((w₀·x₀ + w₁·x₁) + …) + b` then the activation.
fn neuron<'t>(w: &[Var<'t>], x: &[Var<'t>], b: Var<'t>, act: Activation, fused: bool) -> Var<'t> {
    if fused {
        return Var::neuron(w, x, b, act);
    }
    let products = w.iter().zip(x).map(|(&w, &x)| w * x);
    let z = products.reduce(|sum, t| sum + t).expect("a weight") + b;
    match act {
        Activation::Sigmoid => z.sigmoid(),
        Activation::Tanh => z.tanh(),
        Activation::Relu => z.relu(),
        _ => z,
    }
}

/// Leaves of an MLP of widths `sizes` (see [`record_mlp`]).
fn leaf_count(sizes: &[usize]) -> usize {
    sizes.windows(2).map(|p| p[1] * (p[0] + 1)).sum::<usize>() + sizes[0]
}

/// Records an MLP: first the leaves (per layer, each neuron's weights by one
/// `tape.vars`, then the layer's biases; then the inputs), then the neurons layer
/// by layer, so each layer's outputs are consecutive nodes. Fused, every neuron
/// of 4 or more inputs is a run. Returns the last layer.
fn record_mlp<'t>(
    tape: &'t Tape,
    sizes: &[usize],
    leaves: &[f64],
    act: Activation,
    fused: bool,
) -> Vec<Var<'t>> {
    assert_eq!(leaves.len(), leaf_count(sizes));
    let mut rest = leaves;
    let mut take = |n: usize| {
        let (now, later) = rest.split_at(n);
        rest = later;
        tape.vars(now)
    };
    let layers: Vec<(Vec<Vec<Var>>, Vec<Var>)> = sizes
        .windows(2)
        .map(|p| ((0..p[1]).map(|_| take(p[0])).collect(), take(p[1])))
        .collect();
    let mut h = take(sizes[0]);
    for (weights, biases) in &layers {
        let layer = weights.iter().zip(biases);
        h = layer.map(|(w, &b)| neuron(w, &h, b, act, fused)).collect();
    }
    h
}

/// The sum of the MLP's outputs.
fn net<'t>(tape: &'t Tape, leaves: &[f64], act: Activation, fused: bool) -> Var<'t> {
    record_mlp(tape, &NET, leaves, act, fused).iter().sum()
}

/// The net over runs: gradients equal the textbook pass exactly and the operator
/// net's within 1e-12. Returns the leaves' gradients.
fn check_net(act: Activation, leaves: &[f64]) -> Vec<f64> {
    let tape = Tape::new();
    let y = net(&tape, leaves, act, true);
    let fused = backward_matches_textbook(&tape, y);
    let ops_tape = Tape::new();
    let y_ops = net(&ops_tape, leaves, act, false);
    // The same products, added in the same order: the same value, exactly.
    assert_eq!(y.value(), y_ops.value());
    // Leaves come first on both tapes, with the same indices.
    let ops = y_ops.backward();
    let pairs = fused.iter().zip(ops.as_slice()).take(leaves.len());
    for (i, (&f, &o)) in pairs.enumerate() {
        assert_close(f, o, &format!("{act:?} net, leaf #{i}"));
    }
    fused[..leaves.len()].to_vec()
}

#[test]
fn two_layer_tanh_net_over_runs_matches_textbook_operators_and_finite_differences() {
    let leaves = spread(leaf_count(&NET), 0.5, 0.9);
    let g = check_net(Activation::Tanh, &leaves);
    let value = |p: &[f64]| net(&Tape::new(), p, Activation::Tanh, true).value();
    // Layer-1 weights, a layer-1 bias, a layer-2 weight, a layer-2 bias, an input.
    for i in [0, 13, 29, 33, 40, 57, 60] {
        assert!(g[i] != 0.0, "leaf #{i} has no gradient");
        assert_finite_difference(value, &leaves, i, g[i]);
    }
}

#[test]
fn run_edges_equal_the_formula_and_the_stored_form() {
    let (wv, xv) = ([0.3, -0.7, 0.45, 0.9, -0.2], [0.8, 0.1, -0.6, 0.35, -0.95]);
    let tape = Tape::new();
    let (w, x, b) = (tape.vars(&wv), tape.vars(&xv), tape.var(0.15));
    // The same values again, recorded backwards: taken in value order, these
    // slices run down the tape, so they are not runs.
    let rev = |v: &[f64]| v.iter().rev().copied().collect::<Vec<f64>>();
    let w_down: Vec<Var> = tape.vars(&rev(&wv)).into_iter().rev().collect();
    let x_down: Vec<Var> = tape.vars(&rev(&xv)).into_iter().rev().collect();
    let run = Var::neuron(&w, &x, b, Activation::Tanh);
    let stored = Var::neuron(&w_down, &x_down, b, Activation::Tanh);
    assert_eq!(run.value(), stored.value());

    let a = run.value();
    // a′(z) is the bias edge's partial; tanh′ = 1 − a², to a few ulps (the tape
    // computes it without the cancellation of `1 − a·a`; tests/precision.rs).
    let da = tape.edges(run.index())[10].1;
    assert!((da - (1.0 - a * a)).abs() <= 1e-15);
    let formula = |w: &[Var], x: &[Var]| {
        let mut edges = Vec::new();
        for k in 0..5 {
            edges.push((w[k].index(), da * xv[k]));
            edges.push((x[k].index(), da * wv[k]));
        }
        edges.push((b.index(), da));
        edges
    };
    assert_eq!(tape.edges(run.index()), formula(&w, &x));
    assert_eq!(tape.edges(stored.index()), formula(&w_down, &x_down));

    // The graph view has the run's edges, slot by slot.
    let graph = tape.graph();
    let node = NodeIndex::new(run.index());
    let mut incoming: Vec<(usize, usize, f64)> = graph
        .edges_directed(node, Direction::Incoming)
        .map(|e| (e.weight().slot, e.source().index(), e.weight().partial))
        .collect();
    incoming.sort_by_key(|e| e.0);
    let from_graph: Vec<(usize, f64)> = incoming.iter().map(|&(_, o, p)| (o, p)).collect();
    assert_eq!(from_graph, formula(&w, &x));

    // Both forms back-propagate the same numbers to corresponding operands.
    let g_run = backward_matches_textbook(&tape, run);
    let g_stored = backward_matches_textbook(&tape, stored);
    for k in 0..5 {
        assert_eq!(g_run[w[k].index()], g_stored[w_down[k].index()]);
        assert_eq!(g_run[x[k].index()], g_stored[x_down[k].index()]);
    }
    assert_eq!(g_run[b.index()], g_stored[b.index()]);
}

#[test]
fn edge_count_grows_by_two_n_plus_one_per_neuron_in_every_view() {
    let tape = Tape::new();
    let (tanh, sigmoid, relu) = (Activation::Tanh, Activation::Sigmoid, Activation::Relu);
    let neurons = [(1, tanh), (3, sigmoid), (4, relu), (5, tanh), (9, sigmoid)];
    for (n, act) in neurons.into_iter().chain([(6, Activation::Identity)]) {
        let w = tape.vars(&spread(n, 1.0, 0.5));
        let x = tape.vars(&spread(n, 2.0, 0.5));
        let b = tape.var(0.1);
        let (nodes, edges) = (tape.len(), tape.edge_count());
        let a = Var::neuron(&w, &x, b, act);
        assert_eq!(tape.len(), nodes + 1);
        assert_eq!(tape.edge_count(), edges + 2 * n + 1, "{n} inputs");
        assert_eq!(tape.edges(a.index()).len(), 2 * n + 1);
        assert_eq!(tape.graph().edge_count(), tape.edge_count());
        // A stored node after the run: the count still adds up.
        let _ = a * w[0];
        assert_eq!(tape.graph().edge_count(), tape.edge_count());
    }
}

#[test]
fn runs_holding_the_node_just_below_match_textbook_and_operators() {
    // Each case records on the tape given, fused or with operators, and returns
    // the output. Leaves come first, so their indices agree across the two.
    type Case = for<'t> fn(&'t Tape, bool) -> Var<'t>;
    let cases: [(&str, Case); 4] = [
        ("inputs end just below, bias in the weight run", |t, f| {
            let (w, x) = (t.vars(&spread(5, 3.0, 0.8)), t.vars(&spread(5, 4.0, 0.8)));
            let a = neuron(&w, &x, w[2], Activation::Tanh, f);
            // x[4] also has users above the run: its adjoint is in memory first.
            a * x[4] + x[4].exp()
        }),
        ("bias is the node just below and an input", |t, f| {
            let (w, x) = (t.vars(&spread(4, 5.0, 0.8)), t.vars(&spread(4, 6.0, 0.8)));
            let a = neuron(&w, &x, x[3], Activation::Sigmoid, f);
            a.tanh() * x[3]
        }),
        ("weights end just below and hold the bias", |t, f| {
            let (x, w) = (t.vars(&spread(6, 7.0, 0.8)), t.vars(&spread(6, 8.0, 0.8)));
            let a = neuron(&w, &x, w[5], Activation::Tanh, f);
            a * w[5] + a
        }),
        ("a run's inputs end at the run neuron just below", |t, f| {
            let (w2, b) = (t.vars(&spread(4, 9.0, 0.8)), t.var(0.3));
            let (w1, x) = (t.vars(&spread(4, 10.0, 0.8)), t.vars(&spread(4, 11.0, 0.8)));
            let a1 = neuron(&w1, &x, b, Activation::Tanh, f);
            let a2 = neuron(&w2, &[x[1], x[2], x[3], a1], b, Activation::Tanh, f);
            a2 * a1
        }),
    ];
    for (name, case) in cases {
        let tape = Tape::new();
        let y = case(&tape, true);
        let fused = backward_matches_textbook(&tape, y);
        let ops_tape = Tape::new();
        let ops = case(&ops_tape, false).backward();
        let leaves = (0..tape.len()).take_while(|&i| tape.op(i) == chainrule::Op::Leaf);
        for i in leaves {
            assert!(fused[i] != 0.0, "{name}: leaf #{i} has no gradient");
            assert_close(fused[i], ops.by_index(i), &format!("{name}: leaf #{i}"));
        }
    }
}

#[test]
fn a_tape_of_only_leaves_and_runs_backpropagates_to_the_first_layer() {
    // 6 → 5 → 1: the output neuron has 5 inputs, a run like every other neuron.
    let sizes = [6, 5, 1];
    let leaves = spread(leaf_count(&sizes), 1.5, 0.9);
    let tape = Tape::new();
    let y = record_mlp(&tape, &sizes, &leaves, Activation::Tanh, true)[0];
    let g = backward_matches_textbook(&tape, y);
    // First-layer weights are leaves 0..30, the inputs the last 6 leaves.
    let first_layer = (0..30).chain(leaves.len() - 6..leaves.len());
    assert!(first_layer.into_iter().all(|i| g[i] != 0.0), "{g:?}");

    // A weighted sum over the 4 outputs (weights recorded after them) is a run
    // too: still only leaves and runs, with leaves recorded between runs.
    let leaves = spread(leaf_count(&NET), 2.5, 0.9);
    let tape = Tape::new();
    let o = record_mlp(&tape, &NET, &leaves, Activation::Tanh, true);
    let (c, cb) = (tape.vars(&[0.5, -1.5, 0.75, 1.25]), tape.var(0.1));
    let y = Var::weighted_sum(&c, &o, cb);
    let g = backward_matches_textbook(&tape, y);
    assert!((0..30).all(|i| g[i] != 0.0), "{g:?}");
}

#[test]
fn overlapping_runs_fall_back_and_stay_correct() {
    // Each case records on a fresh tape from 6 weights and a bias, checks the
    // sweep against the textbook, and returns the value and the leaves' gradients.
    type Case = fn(&[f64]) -> (f64, Vec<f64>);
    let cases: [Case; 2] = [
        |p| {
            // w[0..5] · w[1..6]
            let tape = Tape::new();
            let (w, b) = (tape.vars(&p[..6]), tape.var(p[6]));
            let y = Var::neuron(&w[0..5], &w[1..6], b, Activation::Tanh) * w[3];
            (y.value(), backward_matches_textbook(&tape, y)[..7].to_vec())
        },
        |p| {
            // w[0..4] · w[0..4]
            let tape = Tape::new();
            let (w, b) = (tape.vars(&p[..6]), tape.var(p[6]));
            let y = Var::neuron(&w[..4], &w[..4], b, Activation::Sigmoid) + w[2] * w[4];
            (y.value(), backward_matches_textbook(&tape, y)[..7].to_vec())
        },
    ];
    let params = spread(7, 12.0, 0.9);
    for case in cases {
        let g = case(&params).1;
        for (i, &g) in g.iter().enumerate() {
            assert_finite_difference(|p| case(p).0, &params, i, g);
        }
    }
}

#[test]
fn backward_from_a_node_before_a_later_run_ignores_that_run() {
    let tape = Tape::new();
    let (w1, x) = (
        tape.vars(&spread(4, 13.0, 0.8)),
        tape.vars(&spread(4, 14.0, 0.8)),
    );
    let b = tape.var(0.2);
    let a = Var::neuron(&w1, &x, b, Activation::Tanh);
    let m = a.exp();
    let w2 = tape.vars(&spread(4, 15.0, 0.8));
    let c = Var::neuron(&w2, &x, b, Activation::Sigmoid); // a run after m
    let y = c * m;
    for out in [a, m] {
        let g = backward_matches_textbook(&tape, out);
        assert_eq!(g.len(), out.index() + 1);
        assert!(w1.iter().all(|&w| g[w.index()] != 0.0));
        let grads = out.backward();
        assert!((out.index() + 1..tape.len()).all(|i| grads.by_index(i) == 0.0));
        assert!(w2.iter().all(|&w| grads[w] == 0.0) && grads[c] == 0.0);
    }
    let g = backward_matches_textbook(&tape, y);
    assert!(w1.iter().chain(&w2).all(|&w| g[w.index()] != 0.0));
}

#[test]
fn a_non_finite_run_neuron_is_reported_at_its_index() {
    // Finite operands whose products overflow: z = +inf, the value is not finite.
    let tape = Tape::new();
    let (w, x) = (tape.vars(&[1e200; 4]), tape.vars(&[1e200; 4]));
    let s = Var::weighted_sum(&w, &x, tape.var(0.0));
    assert_eq!(s.value(), f64::INFINITY);
    assert_eq!(tape.first_non_finite(), Some(s.index()));
    assert_eq!(tape.find_anomaly().unwrap().non_finite, NonFinite::Value);

    // An infinite input: z = +inf, tanh = 1 and a′(z) = 0, so the value is finite
    // but ∂a/∂w₂ = 0 · inf is NaN (slot 4 = w₂). The leaf is the first non-finite
    // node of the tape; the run neuron is non-finite by its partial, as is the
    // same neuron stored with its edges.
    let tape = Tape::new();
    let (w, b) = (tape.vars(&[0.5, -0.25, 0.75, 1.0]), tape.var(0.1));
    let x = tape.vars(&[0.2, 0.4, f64::INFINITY, -0.3]);
    // The same inputs again, each followed by a spacer leaf: not a run.
    let xs: Vec<Var> = [0.2, 0.4, f64::INFINITY, -0.3]
        .map(|v| (tape.var(v), tape.var(0.0)).0)
        .into();
    tape.set_anomaly_detection(true); // only for the neurons below
    let run = Var::neuron(&w, &x, b, Activation::Tanh);
    assert_eq!(run.value(), 1.0);
    assert_eq!(tape.recorded_anomaly(), Some(run.index()));
    assert_eq!(tape.first_non_finite(), Some(x[2].index()));
    let stored = Var::neuron(&w, &xs, b, Activation::Tanh); // xs: not consecutive
    for node in [run, stored] {
        let anomaly = Anomaly::at(&tape, node.index()).expect("a NaN partial");
        assert_eq!(anomaly.non_finite, NonFinite::Partial { slot: 4 });
        assert!(anomaly.operands[4].partial.is_nan());
    }
    let graph = tape.graph();
    let incoming = graph.edges_directed(NodeIndex::new(run.index()), Direction::Incoming);
    let nan: Vec<usize> = incoming
        .filter(|e| e.weight().partial.is_nan())
        .map(|e| e.weight().slot)
        .collect();
    assert_eq!(nan, [4]);
}

#[test]
fn sigmoid_net_over_runs_matches_textbook_and_operators() {
    check_net(Activation::Sigmoid, &spread(leaf_count(&NET), 3.5, 1.5));
}

#[test]
fn relu_net_over_runs_matches_textbook_and_operators() {
    let leaves = spread(leaf_count(&NET), 4.5, 1.0);
    let g = check_net(Activation::Relu, &leaves);
    // Some hidden neurons are off (their weights get 0), some on.
    let (off, on) = (0..5).partition::<Vec<usize>, _>(|&j| (0..6).all(|i| g[6 * j + i] == 0.0));
    assert!(!off.is_empty() && !on.is_empty(), "off {off:?}, on {on:?}");
}

#[test]
fn neurons_of_three_and_four_inputs_match_textbook_and_operators() {
    // 3 inputs: stored edges; 4 (MIN_RUN): a run. Both tapes match the textbook.
    for n in [3, 4] {
        let (wv, xv) = (spread(n, 16.0, 0.9), spread(n, 17.0, 0.9));
        let record = |t: &Tape, fused: bool| {
            let (w, x, b) = (t.vars(&wv), t.vars(&xv), t.var(-0.3));
            backward_matches_textbook(t, neuron(&w, &x, b, Activation::Tanh, fused) * 2.0)
        };
        let (fused, ops) = (record(&Tape::new(), true), record(&Tape::new(), false));
        for i in 0..2 * n + 1 {
            assert!(fused[i] != 0.0);
            assert_close(fused[i], ops[i], &format!("{n} inputs, leaf #{i}"));
        }
    }
}
