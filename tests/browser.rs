//! The page of `chainrule::html` in a real browser: headless Chromium opens it,
//! presses "step" through the forward pass and the whole backward sweep (the
//! page's `#play=all` mode clicks the button until it is disabled), and the
//! gradients it then displays are held against the tape's.
//!
//! Skipped, with a message saying so, where no Chromium is installed (CI
//! installs Debian's `chromium`; set CHROMIUM to use another binary).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chainrule::html::Html;
use chainrule::{Gradients, Tape, Var};

/// The browser, if one is installed. With CHAINRULE_REQUIRE_BROWSER set (as
/// `.ci/run` sets it), a missing browser fails the test instead of skipping it.
fn chromium() -> Option<PathBuf> {
    let found = find_chromium();
    if found.is_none() && std::env::var_os("CHAINRULE_REQUIRE_BROWSER").is_some() {
        panic!(
            "CHAINRULE_REQUIRE_BROWSER is set and no Chromium was found (apt-get install chromium)"
        );
    }
    found
}

fn find_chromium() -> Option<PathBuf> {
    let candidates = std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .into_iter()
        .chain(["chromium", "chromium-browser", "google-chrome"].map(PathBuf::from));
    candidates.into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The DOM after the page's script ran, for `page` opened at `fragment`.
fn dump_dom(browser: &Path, page: &str, fragment: &str, name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("chainrule-browser-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("page.html");
    std::fs::write(&file, page).unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox", // CI runs as root
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            &format!("--user-data-dir={}", dir.join("profile").display()),
            "--dump-dom",
            &format!("file://{}#{fragment}", file.display()),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut s).map(|_| s)
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = reader.join().unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    dom
}

/// The value of attribute `name` in the tag text `tag`.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// Each node group's (index, data-value, data-grad) as displayed.
fn displayed_nodes(dom: &str) -> Vec<(usize, String, String)> {
    dom.split("<g class=\"node")
        .skip(1)
        .map(|chunk| {
            let tag = &chunk[..chunk.find('>').unwrap()];
            (
                attribute(tag, "data-index").unwrap().parse().unwrap(),
                attribute(tag, "data-value").unwrap_or("").to_string(),
                attribute(tag, "data-grad").unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn status(dom: &str) -> (String, String, String) {
    let at = dom.find("id=\"status\"").expect("a status element");
    let tag = &dom[dom[..at].rfind('<').unwrap()..];
    let tag = &tag[..tag.find('>').unwrap()];
    (
        attribute(tag, "data-step").unwrap().to_string(),
        attribute(tag, "data-total").unwrap().to_string(),
        attribute(tag, "data-phase").unwrap().to_string(),
    )
}

/// The seed network, every quantity named as the article names it.
fn seed(tape: &Tape) -> (Var<'_>, Vec<Var<'_>>) {
    let names = ["w1", "w2", "w3", "w4", "w5", "w6", "w7", "w8"];
    let values = [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55];
    let w: Vec<Var> = (0..8)
        .map(|k| tape.var(values[k]).named(names[k]))
        .collect();
    let i1 = tape.var(0.05).named("i1");
    let i2 = tape.var(0.10).named("i2");
    let b1 = tape.var(0.35).named("b1");
    let b2 = tape.var(0.60).named("b2");
    let out_h1 = (w[0] * i1 + w[1] * i2 + b1)
        .named("net_h1")
        .sigmoid()
        .named("out_h1");
    let out_h2 = (w[2] * i1 + w[3] * i2 + b1)
        .named("net_h2")
        .sigmoid()
        .named("out_h2");
    let out_o1 = (w[4] * out_h1 + w[5] * out_h2 + b2)
        .named("net_o1")
        .sigmoid()
        .named("out_o1");
    let out_o2 = (w[6] * out_h1 + w[7] * out_h2 + b2)
        .named("net_o2")
        .sigmoid()
        .named("out_o2");
    let e_o1 = ((0.01 - out_o1).square() * 0.5).named("E_o1");
    let e_o2 = ((0.99 - out_o2).square() * 0.5).named("E_o2");
    ((e_o1 + e_o2).named("E"), w)
}

/// Checks every displayed gradient against the tape's; returns how many nodes.
fn assert_gradients_displayed(dom: &str, g: &Gradients<'_>) -> usize {
    let nodes = displayed_nodes(dom);
    for (index, value, grad) in &nodes {
        let shown: f64 = grad.parse().unwrap_or_else(|_| {
            panic!("node #{index} shows no gradient after the sweep: {grad:?}")
        });
        let tape = g.by_index(*index);
        assert!(
            shown == tape || (shown - tape).abs() <= 1e-12 * tape.abs(),
            "node #{index} ({}) shows gradient {shown}, the tape has {tape}",
            g.tape().display_name(*index)
        );
        let v: f64 = value.parse().unwrap();
        assert_eq!(v, g.tape().value(*index), "node #{index}'s value");
    }
    nodes.len()
}

#[test]
fn the_page_steps_through_the_whole_sweep_to_the_tapes_gradients() {
    let Some(browser) = chromium() else {
        println!(
            "browser test skipped: no Chromium installed (Debian: apt-get install chromium; \
             or set CHROMIUM to a Chrome or Chromium binary)"
        );
        return;
    };
    let tape = Tape::new();
    let (e, w) = seed(&tape);
    let g = e.backward();
    let page = Html::new(&g).focus(w[4].index()).render().unwrap();

    // Before any step: values of the leaves only, no gradient at all.
    let dom = dump_dom(&browser, &page, "", "start");
    let (step, total, phase) = status(&dom);
    assert_eq!((step.as_str(), phase.as_str()), ("0", "start"));
    assert!(displayed_nodes(&dom)
        .iter()
        .all(|(_, _, grad)| grad.is_empty()));

    // Every step.
    let dom = dump_dom(&browser, &page, "play=all", "all");
    assert_eq!(
        status(&dom),
        (total.clone(), total.clone(), "done".to_string())
    );
    assert_eq!(assert_gradients_displayed(&dom, &g), tape.len());
    assert!(
        dom.contains("every gradient shown is the tape's"),
        "the page's own verdict"
    );
    // The side panel's sum for w5 ends at ∂E/∂w5 = 0.08216704.
    assert!(dom.contains("= 0.08216704, complete (1 term)"), "{dom}");

    // Mid-sweep: some adjoints are set, the earliest nodes' are not yet.
    let total: usize = total.parse().unwrap();
    let dom = dump_dom(&browser, &page, &format!("step={}", total - 10), "mid");
    let nodes = displayed_nodes(&dom);
    assert!(nodes.iter().any(|(_, _, grad)| !grad.is_empty()));
    assert!(nodes.iter().any(|(_, _, grad)| grad.is_empty()));
    assert!(
        dom.contains("class=\"edge firing\""),
        "the current node's edges fire"
    );
    assert!(dom.contains("adjoint["), "an edge label");
}

#[test]
fn a_page_cut_by_within_still_shows_the_tapes_gradients() {
    let Some(browser) = chromium() else {
        println!("browser test skipped: no Chromium installed (Debian: apt-get install chromium)");
        return;
    };
    let tape = Tape::new();
    let (e, _) = seed(&tape);
    let g = e.backward();
    let page = Html::new(&g).within(4).render().unwrap();
    let dom = dump_dom(&browser, &page, "play=all", "within");
    assert_eq!(status(&dom).2, "done");
    let drawn = assert_gradients_displayed(&dom, &g);
    assert!(drawn < tape.len() && drawn > 5, "{drawn} drawn");
}

/// The text of the element with id `id` (a `div`), its tags removed.
fn text_of(dom: &str, id: &str) -> String {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let start = dom[at..].find('>').unwrap() + at + 1;
    let end = dom[start..].find("</div>").unwrap() + start;
    let mut text = String::new();
    let mut in_tag = false;
    for c in dom[start..end].chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push('\n');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text.replace("&amp;", "&")
}

// Fault 1: an operand used twice (x·x, max(x, x)) has two edges, each with the
// partial in its own use: neither is ∂f/∂x, which is their sum.
#[test]
fn an_operand_used_twice_is_never_given_the_full_derivative_per_use() {
    let Some(browser) = chromium() else {
        println!("browser test skipped: no Chromium installed (Debian: apt-get install chromium)");
        return;
    };
    let tape = Tape::new();
    let x = tape.var(3.0).named("x");
    let f = (x * x).named("f");
    let g = f.backward();
    let page = Html::new(&g).focus(x.index()).render().unwrap();
    // Forward f, seed, then f fires: step 3.
    let dom = dump_dom(&browser, &page, "step=3", "xx");
    let log = text_of(&dom, "log");
    for use_ in 1..=2 {
        assert!(
            log.contains(&format!(
                "adjoint[x] += adjoint[f] × ∂f/∂(x, use {use_} of 2) = 1.00000000 × 3.00000000 → {}",
                if use_ == 1 { "3.00000000" } else { "6.00000000" }
            )),
            "{log}"
        );
    }
    assert!(
        log.contains("together ∂f/∂x = 3.00000000 + 3.00000000 = 6.00000000"),
        "{log}"
    );
    assert!(!log.contains("∂f/∂x = 1.00000000 × 3"), "{log}");
    let sum = text_of(&dom, "sum");
    assert!(
        sum.contains("+ ∂f/∂f · ∂f/∂(x, use 1 of 2) = 1.00000000 × 3.00000000 = 3.00000000"),
        "{sum}"
    );
    assert!(!sum.contains("· ∂f/∂x ="), "{sum}");
    assert!(
        sum.contains("together ∂f/∂x = 3.00000000 + 3.00000000 = 6.00000000"),
        "{sum}"
    );
    assert!(sum.contains("= 6.00000000, complete (2 terms)"), "{sum}");

    let tape = Tape::new();
    let x = tape.var(3.0).named("x");
    let f = x.max(x).named("f");
    let g = f.backward();
    let page = Html::new(&g).render().unwrap();
    let dom = dump_dom(&browser, &page, "step=3", "max-self");
    let log = text_of(&dom, "log");
    assert!(
        log.contains("together ∂f/∂x = 0.50000000 + 0.50000000 = 1.00000000"),
        "{log}"
    );
    assert!(!log.contains("∂f/∂x = 1.00000000 × 0.5"), "{log}");
}

// Fault 2: a NaN adjoint is written NaN, never 0 (NaN is falsy in JavaScript).
#[test]
fn a_nan_adjoint_is_written_nan() {
    let Some(browser) = chromium() else {
        println!("browser test skipped: no Chromium installed (Debian: apt-get install chromium)");
        return;
    };
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let s = x.sqrt().named("s");
    let r = s.sqrt().named("r");
    let f = (r * r).named("f");
    let g = f.backward();
    assert!(g[s].is_nan());
    let page = Html::new(&g).render().unwrap();
    // Forward s, r, f; seed; f, r, then s fires: step 7.
    let dom = dump_dom(&browser, &page, "step=7", "nan");
    let log = text_of(&dom, "log");
    assert!(
        log.contains("backward: s passes its adjoint NaN down"),
        "{log}"
    );
    assert!(log.contains("NaN × inf"), "{log}");
    assert!(!log.contains("0.00000000 down"), "{log}");
}

// Fault 3: the step log marks a partial at a kink as a convention, as the
// explanation does.
#[test]
fn the_step_log_marks_kinks_as_conventions() {
    let Some(browser) = chromium() else {
        println!("browser test skipped: no Chromium installed (Debian: apt-get install chromium)");
        return;
    };
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let f = x.relu().named("f");
    let g = f.backward();
    let page = Html::new(&g).render().unwrap();
    let dom = dump_dom(&browser, &page, "step=3", "relu0");
    let log = text_of(&dom, "log");
    assert!(
        log.contains(
            "× 0.00000000 (masked: passes 0; relu′(0): a convention; the derivative does not exist here)"
        ),
        "{log}"
    );

    let tape = Tape::new();
    let a = tape.var(1.0).named("a");
    let b = tape.var(1.0).named("b");
    let f = a.max(b).named("f");
    let g = f.backward();
    let page = Html::new(&g).focus(a.index()).render().unwrap();
    let dom = dump_dom(&browser, &page, "step=3", "tie");
    let log = text_of(&dom, "log");
    let note = "× 0.50000000 (max at a tie: a convention; the derivative does not exist here)";
    assert_eq!(log.matches(note).count(), 2, "{log}");
    assert!(text_of(&dom, "sum").contains(note), "the side panel's term");

    // An operand max did not pick is tagged as the explanations tag it, not
    // "masked" (relu's word).
    let tape = Tape::new();
    let a = tape.var(1.0).named("a");
    let b = tape.var(2.0).named("b");
    let f = a.max(b).named("f");
    let g = f.backward();
    let page = Html::new(&g).focus(a.index()).render().unwrap();
    let dom = dump_dom(&browser, &page, "step=3", "not-picked");
    let log = text_of(&dom, "log");
    assert!(log.contains("× 0.00000000 (not picked: passes 0)"), "{log}");
    assert!(!log.contains("masked"), "{log}");
}

/// A page cut by `within` whose focus also has uses not drawn: the side panel
/// listed only the drawn terms and called the sum "complete" (x + sin(sin(sin(x)))
/// at 1, within 2: "+ … = 1.00000000", then "= 1.26450827, complete (1 term)"),
/// so its terms did not add up to its total; the share of the uses not drawn is
/// a term of its own now. And a leaf no longer "passes its adjoint down".
#[test]
fn the_side_panel_lists_the_share_of_uses_not_drawn() {
    let Some(browser) = chromium() else {
        println!("browser test skipped: no Chromium installed (Debian: apt-get install chromium)");
        return;
    };
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let f = (x + x.sin().sin().sin()).named("f");
    let g = f.backward();
    let page = Html::new(&g).within(2).focus(x.index()).render().unwrap();
    let dom = dump_dom(&browser, &page, "play=all", "outside");
    assert_eq!(status(&dom).2, "done");
    let sum = text_of(&dom, "sum");
    assert!(
        sum.contains(
            "+ 0.26450827 from the uses of x not drawn (their share, as the tape swept it)"
        ),
        "{sum}"
    );
    assert!(
        sum.contains("= 1.26450827, complete (2 terms); the tape has 1.26450827"),
        "{sum}"
    );
    let log = text_of(&dom, "log");
    assert!(!log.contains("x passes its adjoint"), "{log}");
}

/// The forward step wrote a node as its op over the names of its drawn
/// operands: a node whose operands `within` cut read "square() = 4.00000000",
/// and a product by a constant "mul_const(s)", the constant left out. It is
/// written as the explanations name nodes, over its operands' names, an
/// operand not drawn by its name or value: "s = x² = 4", "f = 3·s = 12".
#[test]
fn the_forward_step_writes_a_formula_even_for_operands_not_drawn() {
    let Some(browser) = chromium() else {
        println!("browser test skipped: no Chromium installed (Debian: apt-get install chromium)");
        return;
    };
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let c = tape.var(0.5);
    let s = x.square().named("s");
    let t = (s * 3.0).named("t");
    let f = (t + c.sin()).named("f");
    let g = f.backward();
    // Drawn within 2 of f: f, t, c's sine, s, c; x is not.
    let page = Html::new(&g).within(2).render().unwrap();
    let mut logs = Vec::new();
    for step in 1..=4 {
        let dom = dump_dom(
            &browser,
            &page,
            &format!("step={step}"),
            &format!("formula{step}"),
        );
        logs.push(text_of(&dom, "log"));
    }
    let all = logs.join("\n");
    assert!(all.contains("forward: s = x² = 4.00000000"), "{all}");
    assert!(all.contains("forward: t = 3·s = 12.00000000"), "{all}");
    assert!(all.contains("forward: f = t + sin(x₁) = "), "{all}");
    assert!(!all.contains("()"), "{all}");
    assert!(!all.contains("mul_const"), "{all}");

    // Within 1 of f = 2·sin(sin(…(x))): the outer sine's operand, not drawn,
    // has no readable name (its expression is too long): its value is written.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let inner = (0..11).fold(x, |v, _| v.sin());
    let f = (inner.sin() * 2.0).named("f");
    let g = f.backward();
    let page = Html::new(&g).within(1).render().unwrap();
    let dom = dump_dom(&browser, &page, "step=1", "formula-value");
    let log = text_of(&dom, "log");
    assert!(
        log.contains(&format!("= sin({:.8}) = ", inner.value())),
        "{log}"
    );
}

/// A node that also depends on an operand through another operand (f = t·x,
/// t = x·y) passes along the edge to it its direct partial, t = 10 at
/// (2, 5), with t held fixed: the page wrote it `∂f/∂x`, which is the total,
/// 2xy = 20, while the explanation beside it wrote `∂f/∂x|direct`. It now
/// names it as the explanation does, and so for an intermediate node
/// (a = sin(x)·x: 0.479 along the edge, ∂a/∂x = 0.918) and across a cut of
/// `within` (the other route runs through nodes not drawn).
#[test]
fn a_direct_partial_is_never_written_as_the_total() {
    let Some(browser) = chromium() else {
        println!("browser test skipped: no Chromium installed (Debian: apt-get install chromium)");
        return;
    };
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = tape.var(5.0).named("y");
    let f = (x * y * x).named("f");
    let g = f.backward();
    let page = Html::new(&g).focus(x.index()).render().unwrap();
    // Forward x·y and f, the seed, then f fires: step 4.
    let dom = dump_dom(&browser, &page, "step=4", "direct-xyx");
    let log = text_of(&dom, "log");
    assert!(
        log.contains(
            "adjoint[x] += adjoint[f] × ∂f/∂x|direct = 1.00000000 × 10.00000000 → 10.00000000"
        ),
        "{log}"
    );
    assert!(!log.contains("∂f/∂x ="), "{log}");
    assert!(
        log.contains("adjoint[x·y] += adjoint[f] × ∂f/∂(x·y) = 1.00000000 × 2.00000000"),
        "{log}"
    );
    let dom = dump_dom(&browser, &page, "play=all", "direct-xyx-all");
    let sum = text_of(&dom, "sum");
    assert!(
        sum.contains("+ ∂f/∂f · ∂f/∂x|direct = 1.00000000 × 10.00000000 = 10.00000000"),
        "{sum}"
    );
    assert!(
        sum.contains("+ ∂f/∂(x·y) · ∂(x·y)/∂x = 2.00000000 × 5.00000000 = 10.00000000"),
        "{sum}"
    );
    assert!(!sum.contains("· ∂f/∂x ="), "{sum}");
    assert!(sum.contains("= 20.00000000, complete (2 terms)"), "{sum}");
    assert_gradients_displayed(&dom, &g);

    // An intermediate node: a = sin(x)·x reaches x through sin(x) too.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let a = (x.sin() * x).named("a");
    let b = (a * a + x).named("b");
    let c = (b.exp() - a).named("c");
    let f = (c * x).named("f");
    let g = f.backward();
    let page = Html::new(&g).focus(x.index()).render().unwrap();
    let dom = dump_dom(&browser, &page, "play=all", "direct-intermediate");
    let sum = text_of(&dom, "sum");
    let (fa, edge) = (g[a], 0.5f64.sin());
    assert!(
        sum.contains(&format!(
            "+ ∂f/∂a · ∂a/∂x|direct = {fa:.8} × {edge:.8} = {:.8}",
            fa * edge
        )),
        "{sum}"
    );
    assert!(!sum.contains("· ∂a/∂x ="), "{sum}");
    assert!(sum.contains("· ∂f/∂x|direct = "), "{sum}");

    // Cut by `within`: f = sin(sin(x))·x drawn within 1 of f, sin(x) not drawn.
    let tape = Tape::new();
    let x = tape.var(0.5).named("x");
    let f = (x.sin().sin() * x).named("f");
    let g = f.backward();
    let page = Html::new(&g).within(1).focus(x.index()).render().unwrap();
    let dom = dump_dom(&browser, &page, "play=all", "direct-within");
    let log = text_of(&dom, "log");
    let sum = text_of(&dom, "sum");
    assert!(sum.contains("· ∂f/∂x|direct = "), "{sum}\n{log}");
    assert!(!sum.contains("· ∂f/∂x ="), "{sum}");
}

/// A page cut so close to the output that no input is drawn had an empty
/// "Chain rule for" selector and an empty panel under it: it now says why.
#[test]
fn a_page_that_draws_no_input_says_why_its_chain_rule_is_empty() {
    let Some(browser) = chromium() else {
        println!("browser test skipped: no Chromium installed (Debian: apt-get install chromium)");
        return;
    };
    // Unlabelled: within one step of the output only exp(sin x) is drawn.
    let tape = Tape::new();
    let x = tape.var(1.0);
    let f = x.sin().exp().cos();
    let g = f.backward();
    let page = Html::new(&g).within(1).render().unwrap();
    let dom = dump_dom(&browser, &page, "play=all", "within-one");
    let sum = text_of(&dom, "sum");
    assert!(
        sum.contains("No input (leaf) is drawn on this page"),
        "{sum}"
    );
    // A page that draws its inputs says nothing of the kind.
    let page = Html::new(&g).render().unwrap();
    let dom = dump_dom(&browser, &page, "play=all", "whole");
    assert!(!text_of(&dom, "sum").contains("No input"));
}
