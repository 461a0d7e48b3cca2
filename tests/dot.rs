//! DOT drawings: well-formed, escaped, restricted to the output's neighbourhood,
//! and accepted by Graphviz when it is installed.

mod common;

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};

use chainrule::dot::Dot;
use chainrule::Tape;
use common::record_seed;
use common::workloads::seed;

/// Checks the structure a DOT parser needs: one graph, balanced quotes and
/// braces outside quotes, every statement ends with `;`, and every edge joins
/// declared nodes. Returns the declared node ids and the edges.
fn well_formed(dot: &str) -> (HashSet<String>, Vec<(String, String)>) {
    let lines: Vec<&str> = dot.lines().collect();
    assert_eq!(lines[0], "digraph chainrule {");
    assert_eq!(*lines.last().unwrap(), "}");
    assert!(lines.contains(&"  rankdir=LR;"));
    let mut nodes = HashSet::new();
    let mut edges = Vec::new();
    for line in &lines[1..lines.len() - 1] {
        assert!(line.ends_with(';'), "statement without ';': {line}");
        // Quotes balance once escaped characters are skipped.
        let mut quoted = false;
        let mut escaped = false;
        for c in line.chars() {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => quoted = !quoted,
                (false, '{' | '}') if quoted => {} // record braces
                _ => {}
            }
        }
        assert!(!quoted && !escaped, "unbalanced quotes: {line}");
        let statement = line.trim();
        if let Some((id, _)) = statement.split_once(" [label=\"{") {
            nodes.insert(id.to_string());
        } else if let Some((from, rest)) = statement.split_once(" -> ") {
            let to = rest.split_once(' ').unwrap().0;
            edges.push((from.to_string(), to.to_string()));
        }
    }
    for (from, to) in &edges {
        assert!(
            nodes.contains(from) && nodes.contains(to),
            "edge {from} -> {to}"
        );
    }
    (nodes, edges)
}

#[test]
fn the_seed_network_draws_every_node_with_value_grad_and_local_derivatives() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let dot = Dot::new(&tape).gradients(&g).to_string();
    let (nodes, edges) = well_formed(&dot);
    assert_eq!(nodes.len(), tape.len()); // E depends on every node
    assert_eq!(edges.len(), tape.edge_count());
    let w5 = net.w[4].index();
    assert!(dot.contains(&format!(
        "n{w5} [label=\"{{ w5 | leaf | value 0.40000000 | grad 0.08216704 }}\"];"
    )));
    // The edge from out_h1 into w5·out_h1 carries ∂(w5·out_h1)/∂out_h1 = w5.
    let out_h1 = net.out_h[0].index();
    let w5_times_out_h1 = (0..tape.len())
        .find(|&i| tape.edges(i) == vec![(w5, net.out_h[0].value()), (out_h1, 0.40)])
        .expect("the node w5·out_h1");
    assert!(dot.contains(&format!(
        "n{out_h1} -> n{w5_times_out_h1} [label=\"0.40000000\"];"
    )));
    let e = net.e.index();
    assert!(dot.contains(&format!(
        "n{e} [label=\"{{ E | add | value 0.29837111 | grad 1.00000000 }}\", penwidth=2];"
    )));
}

#[test]
fn labels_are_escaped() {
    let tape = Tape::new();
    let x = tape.var(1.0).named(r#"a|b{c}"d\e<f>"#);
    let _ = x.named("line\nbreak").exp();
    let dot = tape.to_dot();
    well_formed(&dot);
    assert!(
        dot.contains(r#"{ line break | leaf | value 1.00000000 }"#),
        "{dot}"
    );
    let tape = Tape::new();
    let _ = tape.var(1.0).named(r#"a|b{c}"d\e<f>"#);
    let dot = tape.to_dot();
    assert!(dot.contains(r#"{ a\|b\{c\}\"d\\e\<f\> | leaf"#), "{dot}");
    well_formed(&dot);
}

#[test]
fn within_k_steps_draws_only_the_neighbourhood_of_the_output() {
    let tape = Tape::new();
    let mut x = tape.var(0.5).named("x0");
    for _ in 0..1_000 {
        x = x.sin();
    }
    let unrelated = tape.var(3.0);
    let y = (x * 2.0).named("y");
    let _after = y.exp();
    let g = y.backward();
    for k in [0, 1, 5] {
        let dot = Dot::new(&tape).gradients(&g).within(k).to_string();
        let (nodes, edges) = well_formed(&dot);
        assert_eq!(nodes.len(), k + 1);
        assert_eq!(edges.len(), k);
        assert!(nodes.contains(&format!("n{}", y.index())));
        assert!(!nodes.contains(&format!("n{}", unrelated.index())));
    }
    // Unbounded: the output and everything it depends on (1001 chain nodes).
    let (nodes, _) = well_formed(&g.to_dot());
    assert_eq!(nodes.len(), 1_002);
    // Past the end: an empty but well-formed graph.
    let (nodes, _) = well_formed(&Dot::new(&tape).output(10_000).to_string());
    assert!(nodes.is_empty());
    // A million-step chain is drawn without recursion.
    let deep = Tape::new();
    let mut z = deep.var(0.1);
    for _ in 0..1_000_000 {
        z = z.tanh();
    }
    assert_eq!(
        Dot::new(&deep)
            .output(z.index())
            .within(3)
            .to_string()
            .lines()
            .count(),
        4 + 4 + 3 + 1
    );
}

#[test]
fn graphviz_accepts_the_drawing_when_it_is_installed() {
    let tape = Tape::new();
    let net = record_seed(&tape, &seed::WEIGHTS);
    let g = net.e.backward();
    let dot = g.to_dot();
    let child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!(
            "graphviz `dot` is not installed: checked the structure only (.ci/run installs it)"
        );
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(dot.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("<svg"));
}

#[test]
fn unlabelled_nodes_are_drawn_with_their_expression_names() {
    let tape = Tape::new();
    let x = tape.var(0.3);
    let y = tape.var(0.7).named("y");
    let p = (x * y).exp();
    let dot = p.backward().to_dot();
    well_formed(&dot);
    assert!(
        dot.contains("n0 [label=\"{ x₀ | leaf | value 0.30000000"),
        "{dot}"
    );
    assert!(
        dot.contains("n2 [label=\"{ x₀·y | mul | value 0.21000000"),
        "{dot}"
    );
    assert!(dot.contains("n3 [label=\"{ exp(x₀·y) | exp |"), "{dot}");
    assert!(!dot.contains("leaf#"), "{dot}");
}

#[test]
fn an_operand_a_select_op_did_not_pick_is_drawn_dashed() {
    let tape = Tape::new();
    let a = tape.var(1.0).named("a");
    let b = tape.var(2.0).named("b");
    let m = a.max(b).named("m"); // picks b: the edge from a passes 0
    let z = (a - 3.0).relu().named("z"); // z ≤ 0: masked
    let y = (m + z).named("y");
    let dot = y.backward().to_dot();
    well_formed(&dot);
    let edge = |from: usize, to: usize| {
        dot.lines()
            .find(|l| l.trim_start().starts_with(&format!("n{from} -> n{to} ")))
            .unwrap_or_else(|| panic!("no edge n{from} -> n{to} in\n{dot}"))
            .to_string()
    };
    assert!(edge(a.index(), m.index()).contains("style=dashed"));
    assert!(!edge(b.index(), m.index()).contains("style=dashed"));
    let inner = tape.edges(z.index())[0].0;
    assert!(edge(inner, z.index()).contains("style=dashed"));
    assert!(!edge(m.index(), y.index()).contains("dashed"));
    assert_eq!(dot.matches("style=dashed").count(), 2);
}

/// A name two drawn nodes share is written with `#index` after it, as the
/// explanation of the same tape writes it: two unlabelled nodes computing
/// `exp(a)` were two boxes reading "exp(a)", which the explanation's
/// `exp(a)#1` and `exp(a)#3` could not be matched with. (Shared labels already
/// had their index: the namer writes them so.)
#[test]
fn a_name_two_nodes_share_is_drawn_with_its_index_as_explanations_write_it() {
    let tape = Tape::new();
    let a = tape.var(0.5).named("a");
    let e1 = a.exp();
    let e2 = a.exp();
    let y = (e1 * e2).named("y");
    let g = y.backward();
    let dot = Dot::new(&tape).gradients(&g).to_string();
    for e in [e1, e2] {
        let field = format!("{{ exp(a)#{} | exp |", e.index());
        assert!(dot.contains(&field), "{field} not in {dot}");
    }
    assert!(!dot.contains("{ exp(a) |"), "{dot}");
    // Names no other node shares stay as they are.
    assert!(
        dot.contains("{ a | leaf |") && dot.contains("{ y | mul |"),
        "{dot}"
    );
    let explanation = g.explain(a).to_string();
    for e in [e1, e2] {
        let name = format!("exp(a)#{}", e.index());
        assert!(explanation.contains(&name), "{name} not in {explanation}");
    }
}

/// A partial at a kink is a convention, not a derivative: the drawing says so
/// on the node (orange, the note in its tooltip) and on each edge whose
/// partial is the convention (`(convention)`), where a masked edge of a unit
/// that is off (relu at −1) stays dashed and "masked". (relu′(0) was drawn as
/// a unit that is off, |·|′(0) = 0 as a plain number.)
#[test]
fn kinks_are_drawn_as_conventions() {
    let tape = chainrule::Tape::new();
    let x = tape.var(0.0).named("x");
    let y = tape.var(2.0).named("y");
    let z = tape.var(-1.0).named("z");
    let (r, a, off) = (x.relu(), x.abs(), z.relu());
    let f = (r * y + a + off).named("f");
    let g = f.backward();
    let dot = chainrule::dot::Dot::new(&tape).gradients(&g).to_string();
    well_formed(&dot);
    let line = |from: usize, to: usize| {
        dot.lines()
            .find(|l| l.trim_start().starts_with(&format!("n{from} -> n{to} ")))
            .unwrap_or_else(|| panic!("no edge n{from} -> n{to} in\n{dot}"))
            .to_string()
    };
    let relu_edge = line(x.index(), r.index());
    assert!(relu_edge.contains("(convention)"), "{relu_edge}");
    assert!(relu_edge.contains("relu′(0): a convention"), "{relu_edge}");
    assert!(relu_edge.contains("passes 0"), "{relu_edge}");
    let abs_edge = line(x.index(), a.index());
    assert!(
        abs_edge.contains("(convention)") && abs_edge.contains("|·|′(0)"),
        "{abs_edge}"
    );
    let off_edge = line(z.index(), off.index());
    assert!(!off_edge.contains("convention"), "{off_edge}");
    assert!(off_edge.contains("masked: passes 0"), "{off_edge}");
    for node in [r.index(), a.index()] {
        let l = dot
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("n{node} [")))
            .unwrap();
        assert!(
            l.contains("color=darkorange") && l.contains("a convention"),
            "{l}"
        );
    }
    let l = dot
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("n{} [", off.index())))
        .unwrap();
    assert!(!l.contains("darkorange"), "{l}");
}
