//! atan2(y, x) on its branch cut (y = ±0, x < 0) is a kink in y alone: it
//! jumps between π and −π across y = 0, so the tape's ∂/∂y there is the slope
//! on the side the sign of y's 0 picks (a convention), while ∂/∂x = ∓0 is exact
//! (atan2(±0, x) = ±π for every x < 0). The library's kink search, explanations,
//! comparisons and the HTML page say so, for y's paths only.

use chainrule::explain::{kink_affecting, kink_at, kinks_affecting};
use chainrule::gradcheck::Finding;
use chainrule::{Tape, Var};

/// The points on the cut the tests use: (y, x).
const ON_THE_CUT: [(f64, f64); 2] = [(0.0, -1.0), (-0.0, -2.0)];

#[test]
fn the_cut_is_a_kink_for_y_and_not_for_x() {
    for (y0, x0) in ON_THE_CUT {
        let tape = Tape::new();
        let y = tape.var(y0).named("y");
        let x = tape.var(x0).named("x");
        let a = y.atan2(x).named("a");
        let note = kink_at(&tape, a.index()).expect("atan2 on its cut is a kink");
        assert!(note.contains("branch cut"), "{note}");
        assert!(note.contains("∂/∂x = 0 is exact"), "{note}");
        let on_y = kink_affecting(&tape, y.index(), a.index());
        assert_eq!(on_y, Some((a.index(), note)), "at ({y0}, {x0})");
        assert_eq!(kink_affecting(&tape, x.index(), a.index()), None);
        assert_eq!(
            kinks_affecting(&tape, &[y.index(), x.index()], a.index()),
            vec![on_y, None]
        );
        // A jump counts however flat its operand is (atan2(y³, x) jumps too),
        // and through a node above it whose adjoint can be nonzero.
        let f = (y.powi(3).atan2(x) * 2.0 + x).named("f");
        let found = kinks_affecting(&tape, &[y.index(), x.index()], f.index());
        assert!(found[0].is_some(), "{found:?}");
        assert_eq!(found[1], None);
        assert_eq!(found[0], kink_affecting(&tape, y.index(), f.index()));
        assert_eq!(kink_affecting(&tape, x.index(), f.index()), None);
    }
}

#[test]
fn an_input_reaching_atan2_through_x_only_meets_no_cut() {
    let tape = Tape::new();
    let y = tape.var(0.0).named("y");
    let u = tape.var(-1.0).named("u");
    let v = tape.var(0.5).named("v");
    // x = u·(v + 1.5) = −2: u and v reach atan2 through x alone; y through y.
    let x = (u * (v + 1.5)).named("x");
    let a = y.atan2(x).named("a");
    let f = (a + u).named("f");
    let found = kinks_affecting(&tape, &[y.index(), u.index(), v.index()], f.index());
    assert_eq!(found[0].map(|(node, _)| node), Some(a.index()), "{found:?}");
    assert_eq!(found[1..], [None, None]);
    for w in [u, v] {
        assert_eq!(kink_affecting(&tape, w.index(), f.index()), None);
    }
    // A kink below x does not reach through atan2's exact ∂/∂x = ∓0:
    // atan2(0, relu(w) − 1) = π for every w near 0, so ∂/∂w = 0 exists.
    let w = tape.var(0.0).named("w");
    let below = y.atan2(w.relu() - 1.0).named("b");
    assert_eq!(kink_affecting(&tape, w.index(), below.index()), None);
    assert_eq!(
        kinks_affecting(&tape, &[w.index()], below.index()),
        vec![None]
    );
    // The cut still counts for y.
    assert!(kink_affecting(&tape, y.index(), below.index()).is_some());
}

#[test]
fn off_the_cut_there_is_no_kink() {
    // On the cut, for contrast: a kink.
    let tape = Tape::new();
    let a = tape.var(0.0).atan2(tape.var(-1.0));
    assert!(kink_at(&tape, a.index()).is_some());
    // (0, 1): atan2 is 0 and smooth; (1e-300, −1): y is not 0, the angle
    // rounds to π but atan2 is smooth there.
    for (y0, x0) in [(0.0, 1.0), (1e-300, -1.0), (-1e-300, -1.0)] {
        let tape = Tape::new();
        let y = tape.var(y0);
        let x = tape.var(x0);
        let a = y.atan2(x);
        let c = y.atan2(x0);
        assert_eq!(kink_at(&tape, a.index()), None, "at ({y0}, {x0})");
        assert_eq!(kink_at(&tape, c.index()), None, "at ({y0}, {x0})");
        assert_eq!(kink_affecting(&tape, y.index(), a.index()), None);
        assert_eq!(kink_affecting(&tape, y.index(), c.index()), None);
        let g = a.backward();
        assert!(!g.explain(y).to_string().contains("branch cut"));
    }
}

#[test]
fn a_constant_abscissa_below_zero_is_a_cut_a_constant_ordinate_is_none() {
    for (y0, x0) in ON_THE_CUT {
        let tape = Tape::new();
        let y = tape.var(y0).named("y");
        // atan2(y, c), c < 0: a kink in y.
        let a = y.atan2(x0).named("a");
        let note = kink_at(&tape, a.index()).expect("a kink");
        assert!(note.contains("branch cut"), "{note}");
        assert_eq!(
            kink_affecting(&tape, y.index(), a.index()),
            Some((a.index(), note))
        );
        assert_eq!(
            kinks_affecting(&tape, &[y.index()], a.index()),
            vec![Some((a.index(), note))]
        );
        // atan2(±0, x), the ordinate a constant: ±π for every x < 0, no kink.
        let x = tape.var(x0).named("x");
        let b = Var::const_atan2(y0, x).named("b");
        assert_eq!(kink_at(&tape, b.index()), None);
        assert_eq!(kink_affecting(&tape, x.index(), b.index()), None);
    }
    // c = 0 or −0 is the origin (the partial is NaN), c > 0 is off the cut.
    for c in [0.0, -0.0, 1.0] {
        let tape = Tape::new();
        let y = tape.var(0.0);
        let a = y.atan2(c);
        assert_eq!(kink_at(&tape, a.index()), None, "c = {c}");
    }
}

#[test]
fn explain_notes_the_cut_on_y_s_path() {
    for (y0, x0) in ON_THE_CUT {
        let tape = Tape::new();
        let y = tape.var(y0).named("y");
        let x = tape.var(x0).named("x");
        let a = y.atan2(x).named("a");
        let f = (a * 3.0).named("f");
        let g = f.backward();
        let explanation = g.explain(y);
        let noted = explanation.paths()[0]
            .factors
            .iter()
            .find_map(|factor| explanation.kink(factor))
            .expect("a factor at the cut");
        assert!(noted.contains("atan2 on its branch cut"), "{noted}");
        let text = explanation.to_string();
        assert!(text.contains("atan2 on its branch cut"), "{text}");
        // Through x the factor's node is the same atan2, and its note (as pow's at
        // 0^0) says that partial is exact; nothing finds a kink for x.
        let text = g.explain(x).to_string();
        assert!(!text.contains("branch cut") || text.contains("∂/∂x = 0 is exact"));
        assert_eq!(kink_affecting(&tape, x.index(), f.index()), None);
    }
}

#[test]
fn compare_blames_the_cut_not_the_derivation() {
    // As at abs's 0 or max's tie: a hand value that differs from the tape's
    // one-sided slope (here −1/x from either side, but π − (−π) between) names
    // no slip, and the diagnosis names the kink.
    for (y0, x0) in ON_THE_CUT {
        let tape = Tape::new();
        let y = tape.var(y0).named("y");
        let x = tape.var(x0).named("x");
        let a = y.atan2(x).named("a");
        let f = (a * 2.0).named("f");
        let comparison = f.backward().compare(&[(y, 5.0)]);
        assert!(!comparison.all_passed());
        let diagnosis = &comparison.diagnoses()[0];
        match &diagnosis.finding {
            Finding::AtKink { node, name, note } => {
                assert_eq!((*node, name.as_str()), (a.index(), "a"));
                assert!(note.contains("branch cut"), "{note}");
            }
            other => panic!("{other:?}"),
        }
        assert!(
            diagnosis
                .to_string()
                .starts_with("the tape passes a kink at a (atan2 on its branch cut"),
            "{diagnosis}"
        );
        // ∂f/∂x is exact there (0): a wrong hand value is a plain mismatch.
        let comparison = f.backward().compare(&[(x, 5.0)]);
        let diagnosis = &comparison.diagnoses()[0];
        assert!(
            !matches!(diagnosis.finding, Finding::AtKink { .. }),
            "{diagnosis:?}"
        );
    }
}

#[cfg(feature = "html")]
#[test]
fn the_page_marks_atan2_on_its_cut_as_a_kink() {
    let tape = Tape::new();
    let y = tape.var(0.0).named("y");
    let x = tape.var(-1.0).named("x");
    let a = y.atan2(x).named("a");
    let f = (a * 2.0).named("f");
    let g = f.backward();
    let page = chainrule::html::Html::new(&g).render().unwrap();
    assert!(kink_at(&tape, a.index()).is_some());
    // (The note is written as a JSON string, its non-ASCII escaped or not.)
    assert_eq!(
        page.matches("\"kink\":\"atan2 on its branch cut").count(),
        1,
        "the page leaves out the note"
    );
}
