//! The text of the page of `chainrule::html` that is written in Rust: its legend
//! and the data its script reads (the browser's side is tests/browser.rs).

use chainrule::html::Html;
use chainrule::{Activation, Tape, Var};

/// The legend paragraph of a page.
fn legend(page: &str) -> &str {
    let start = page.find("<p class=\"legend\">").expect("a legend");
    let end = page[start..].find("</p>").unwrap() + start;
    &page[start..end]
}

/// The JSON the page's script reads.
fn data(page: &str) -> &str {
    let start = page.find("id=\"data\">").expect("the page's data") + "id=\"data\">".len();
    let end = page[start..].find("</script>").unwrap() + start;
    &page[start..end]
}

/// The "kink" entry of node `index` in the page's data.
fn kink_of(page: &str, index: usize) -> String {
    let data = data(page);
    let start = data
        .find(&format!("{{\"i\":{index},"))
        .unwrap_or_else(|| panic!("node #{index} in {data}"));
    let node = &data[start..start + data[start..].find('}').unwrap()];
    let at = node.find("\"kink\":").expect("a kink entry") + "\"kink\":".len();
    let rest = &node[at..];
    if rest.starts_with("null") {
        "null".to_string()
    } else {
        let end = rest[1..].find('"').unwrap() + 1;
        rest[1..end].to_string()
    }
}

// Fault 3: the legend leaves clamp out of the ops whose dashed edges pass 0.
#[test]
fn the_legend_names_every_select_op_with_dashed_edges() {
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let f = x.clamp(0.0, 1.0).named("f");
    let g = f.backward();
    let page = Html::new(&g).render().unwrap();
    let legend = legend(&page);
    for op in ["relu", "max", "min", "clamp", "relu neuron"] {
        assert!(legend.contains(op), "the legend leaves out {op}: {legend}");
    }
}

// Fault 3: each node at a kink carries the explanation's note into the page's
// data, for the step log to mark its partials as a convention.
#[test]
fn nodes_at_a_kink_carry_the_note_into_the_page() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let one = tape.var(1.0).named("one");
    let also_one = tape.var(1.0).named("also_one");
    let relu = x.relu().named("r");
    let abs = x.abs().named("a");
    let signum = x.signum().named("s");
    let leaky = x.leaky_relu(0.1).named("l");
    let tie = one.max(also_one).named("m");
    let low = one.min(also_one).named("n");
    let clamp = one.clamp(1.0, 2.0).named("c");
    let w = tape.var(1.0).named("w");
    let neuron = Var::neuron(&[w], &[x], x, Activation::Relu).named("z");
    let smooth = x.exp().named("e");
    let f = (relu + abs + signum + leaky + tie + low + clamp + neuron + smooth).named("f");
    let g = f.backward();
    let page = Html::new(&g).render().unwrap();
    for node in [relu, abs, signum, leaky, tie, low, clamp, neuron] {
        let note = chainrule::explain::kink_at(&tape, node.index()).expect("a kink");
        assert_eq!(kink_of(&page, node.index()), note, "node #{}", node.index());
    }
    for node in [x, smooth, f] {
        assert_eq!(kink_of(&page, node.index()), "null");
    }
}

/// Each masked edge carries the tag the explanations and DOT give it: the page
/// wrote "(masked)" for every masked edge, max's operand not picked and
/// signum's 0 among them, where `explain` writes "(not picked)" and
/// "(signum′ = 0)".
#[test]
fn masked_edges_carry_the_explanations_tag_into_the_page() {
    let tape = Tape::new();
    let x = tape.var(-1.0).named("x");
    let y = tape.var(2.0).named("y");
    let m = x.max(y).named("m");
    let r = x.relu().named("r");
    let s = y.signum().named("s");
    let f = (m + r + s).named("f");
    let page = Html::new(&f.backward()).render().unwrap();
    let json = data(page.as_str());
    for (node, operand, tag) in [
        (m, x, "\"not picked\""),
        (m, y, "null"),
        (r, x, "\"masked\""),
        (s, y, "\"signum′ = 0\""),
    ] {
        let edge = format!(
            "{{\"node\":{},\"operand\":{},",
            node.index(),
            operand.index()
        );
        let start = json
            .find(&edge)
            .unwrap_or_else(|| panic!("{edge} in {json}"));
        let entry = &json[start..start + json[start..].find('}').unwrap()];
        assert!(entry.contains(&format!("\"tag\":{tag},")), "{entry}");
    }
    // At signum's jump, its 0 is a convention (signum has no derivative).
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let f = x.signum().named("f");
    let page = Html::new(&f.backward()).render().unwrap();
    assert!(data(&page).contains("\"tag\":\"a convention at signum's jump\""));
}

/// `max_nodes` bounds every node drawn, the output included: `max_nodes(0)`
/// refuses even a drawing of one node (it was let through: only the operands
/// were counted). Found by a review.
#[test]
fn max_nodes_counts_the_output_too() {
    let tape = Tape::new();
    let x = tape.var(3.0);
    let g = x.backward(); // one node
    let refused = Html::new(&g).max_nodes(0).render().unwrap_err();
    assert_eq!((refused.found, refused.max_nodes), (1, 0));
    assert!(Html::new(&g).max_nodes(1).render().is_ok());
    let g = (x * 2.0).backward(); // two nodes
    let refused = Html::new(&g).max_nodes(1).render().unwrap_err();
    assert_eq!((refused.found, refused.max_nodes), (2, 1));
    assert!(Html::new(&g).max_nodes(2).render().is_ok());
}

/// A focus that is no node of the tape is the caller's mistake, and
/// `render` says so (it was ignored, though the docs promised a panic); a
/// node of the tape that is not drawn leaves the panel on its default.
#[test]
fn a_focus_that_is_no_node_of_the_tape_panics_and_one_not_drawn_is_left_out() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let y = (x.exp().sin() * 2.0).named("y");
    let g = y.backward();
    let beyond = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        Html::new(&g).focus(12_345).render()
    }));
    let message = *beyond.unwrap_err().downcast::<String>().unwrap();
    assert!(message.contains("node 12345"), "{message}");
    assert!(message.contains("not a node of the tape"), "{message}");
    // x is not within one step of y: the page follows the default.
    let page = Html::new(&g).within(1).focus(x.index()).render().unwrap();
    assert!(!data(&page).contains(&format!("\"focus\":{},", x.index())));
}

/// A fresh user's review: the forward steps' formulas put a drawn operand's
/// name in parentheses wherever it had an operator, so they read `sin((x·y))`
/// and `(x·x) + (sin(x·y))`. A function's argument or a sum's term needs
/// none; a factor still does.
#[test]
fn forward_formulas_have_no_redundant_parentheses() {
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let y = tape.var(2.0).named("y");
    let p = x * y;
    let s = p.sin();
    let q = x * x;
    let f = (q + s) * (x - y);
    let g = f.backward();
    let page = Html::new(&g).render().unwrap();
    let data = data(&page);
    assert!(data.contains("\"formula\":\"sin(x·y)\""), "{data}");
    assert!(data.contains("\"formula\":\"x·x + sin(x·y)\""), "{data}");
    // A sum as a factor keeps its parentheses.
    assert!(
        data.contains("\"formula\":\"(x·x + sin(x·y))·(x − y)\""),
        "{data}"
    );
}

/// Each edge of the page's data says whether its node also depends on the
/// operand through another of its operands (`"direct":true`), found in the
/// tape, so that the page names its partial `∂f/∂x|direct` as the
/// explanations do, even where the other route runs through nodes a cut of
/// `within` does not draw. (tests/browser.rs reads the page's text.)
#[test]
fn edges_whose_node_reaches_the_operand_another_way_are_marked_direct() {
    let edge = |page: &str, node: usize, operand: usize| -> String {
        let data = data(page);
        let key = format!("{{\"node\":{node},\"operand\":{operand},");
        let start = data
            .find(&key)
            .unwrap_or_else(|| panic!("edge {node} → {operand} in {data}"));
        data[start..start + data[start..].find('}').unwrap()].to_string()
    };
    // f = (x·y)·x: f reaches x directly and through x·y; x·y reaches neither
    // operand another way.
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = tape.var(5.0).named("y");
    let t = x * y;
    let f = (t * x).named("f");
    let g = f.backward();
    let page = Html::new(&g).render().unwrap();
    let (xi, ti, fi) = (x.index(), t.index(), f.index());
    assert!(edge(&page, fi, xi).contains("\"direct\":true"), "{page}");
    assert!(edge(&page, fi, ti).contains("\"direct\":false"));
    assert!(edge(&page, ti, xi).contains("\"direct\":false"));
    assert!(edge(&page, ti, y.index()).contains("\"direct\":false"));

    // Drawn within 1 of f = sin(sin(x))·x: the route through sin(x) is not
    // drawn, and the edge to x is still marked.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let s = x.sin().sin();
    let f = (s * x).named("f");
    let g = f.backward();
    let page = Html::new(&g).within(1).render().unwrap();
    assert!(!data(&page).contains(&format!("{{\"i\":{},", s.index() - 1)));
    assert!(edge(&page, f.index(), x.index()).contains("\"direct\":true"));
    assert!(edge(&page, f.index(), s.index()).contains("\"direct\":false"));

    // x·x uses x twice and reaches it no other way: not direct.
    let tape = Tape::new();
    let x = tape.var(3.0).named("x");
    let f = (x * x).named("f");
    let g = f.backward();
    let page = Html::new(&g).render().unwrap();
    assert!(edge(&page, f.index(), x.index()).contains("\"direct\":false"));
}

/// A node over constants the tape did not keep writes `…` for them: the page
/// wrote `clamp(x₀) = 0.40000000` at x₀ = 0.5, an equation that is false as
/// written (a review). With the constants kept, they are written out.
#[test]
fn a_formula_marks_the_constants_it_cannot_write() {
    let tape = Tape::new();
    let a = tape.var(0.5);
    let y = (a.max(1.0) + a.clamp(0.0, 0.4) + a.leaky_relu(0.1)) * 2.0;
    let g = y.backward();
    let page = Html::new(&g).render().unwrap();
    let text = data(&page);
    for f in [
        "\"formula\":\"max_const(x₀, …)\"",
        "\"formula\":\"clamp(x₀, …)\"",
        "\"formula\":\"leaky_relu(x₀, …)\"",
    ] {
        assert!(text.contains(f), "{f} in {text}");
    }
    assert!(!text.contains("\"formula\":\"clamp(x₀)\""), "{text}");

    let tape = Tape::new();
    tape.set_keep_constants(true);
    let a = tape.var(0.5);
    let y = (a.clamp(0.0, 0.4) + a.max(1.0)) * 2.0;
    let g = y.backward();
    let page = Html::new(&g).render().unwrap();
    let text = data(&page);
    assert!(!text.contains('…'), "{text}");
}

/// The name of node `index` in the page's data.
fn name_of(page: &str, index: usize) -> String {
    let data = data(page);
    let start = data
        .find(&format!("{{\"i\":{index},\"name\":\""))
        .unwrap_or_else(|| panic!("node #{index} in {data}"))
        + format!("{{\"i\":{index},\"name\":\"").len();
    let end = data[start..].find('"').unwrap() + start;
    data[start..end].to_string()
}

/// Two nodes computing exp(x) are two quantities: the page named both
/// `exp(x)`, and its chain rule for x read `∂f/∂(exp(x)) · ∂(exp(x))/∂x`
/// twice with two values. Each now carries its index, as DOT and the
/// explanations write it.
#[test]
fn a_name_two_drawn_nodes_share_carries_its_index() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let y = tape.var(2.0).named("y");
    let (e1, e2) = (x.exp(), x.exp());
    let f = (e1 * y + e2).named("f");
    let g = f.backward();
    let page = Html::new(&g).render().unwrap();
    assert_eq!(name_of(&page, e1.index()), format!("exp(x)#{}", e1.index()));
    assert_eq!(name_of(&page, e2.index()), format!("exp(x)#{}", e2.index()));
    assert_eq!(name_of(&page, x.index()), "x");
}
