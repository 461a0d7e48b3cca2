//! How an explanation words a one-factor derivative that a select op masks:
//! by its op. relu has one operand, so "through an operand not picked" (max's
//! wording) was odd for it.

use chainrule::Tape;

#[test]
fn relu_at_zero_is_worded_for_one_operand() {
    let tape = Tape::new();
    let x = tape.var(0.0).named("x");
    let y = x.relu().named("y");
    let g = y.backward();
    let text = g.explain(x).to_string();
    assert_eq!(
        text,
        "∂y/∂x = 0.00000000 (a local derivative of relu at an input ≤ 0: it passes 0; \
         relu′(0): a convention; the derivative does not exist here)\n"
    );
    // compare shows the same explanation under a mismatch.
    let comparison = g.compare(&[(x, 1.0)]).to_string();
    assert!(!comparison.contains("operand not picked"), "{comparison}");
}

#[test]
fn relu_below_zero_is_worded_for_one_operand() {
    let tape = Tape::new();
    let x = tape.var(-1.0).named("x");
    let y = x.relu().named("y");
    assert_eq!(
        y.backward().explain(x).to_string(),
        "∂y/∂x = 0.00000000 (a local derivative of relu at an input ≤ 0: it passes 0)\n"
    );
}

#[test]
fn max_of_two_operands_keeps_its_wording() {
    let tape = Tape::new();
    let x = tape.var(-1.0).named("x");
    let z = tape.var(3.0).named("z");
    let y = x.max(z).named("y");
    assert_eq!(
        y.backward().explain(x).to_string(),
        "∂y/∂x = 0.00000000 (a local derivative through an operand not picked: it passes 0)\n"
    );
}

/// In a product of factors, a masked factor of a one-operand op is not
/// `(not picked)`: relu's is `(masked)`, and signum's `(signum′ = 0)` (a
/// review found `2.00000000 × 0.00000000 (not picked)` for signum(x)·y + x,
/// and the DOT tooltip "not picked: passes 0"; then `(masked)` at x = 1, where
/// nothing masks it: signum′ is 0 wherever it exists). max and min, which do
/// pick, keep `(not picked)`.
#[test]
fn a_product_marks_a_one_operand_ops_masked_factor_as_masked() {
    let tape = Tape::new();
    let x = tape.var(1.0).named("x");
    let w = tape.var(2.0).named("w");
    let y = (x.signum() * w + x).named("y");
    let g = y.backward();
    let text = g.explain(x).to_string();
    assert!(text.contains("× 0.00000000 (signum′ = 0)"), "{text}");
    assert!(
        !text.contains("not picked") && !text.contains("masked"),
        "{text}"
    );
    let dot = g.to_dot();
    assert!(dot.contains("tooltip=\"signum′ = 0: passes 0\""), "{dot}");
    assert!(
        !dot.contains("not picked") && !dot.contains("masked"),
        "{dot}"
    );

    let r = (x * -1.0).relu().named("r");
    let text = (r * w).named("q").backward().explain(x).to_string();
    assert!(text.contains("0.00000000 (masked)"), "{text}");
    assert!(!text.contains("not picked"), "{text}");

    let m = (x.max(w) * 3.0).named("m");
    let text = m.backward().explain(x).to_string();
    assert!(text.contains("0.00000000 (not picked)"), "{text}");
    let dot = tape.to_dot();
    assert!(dot.contains("tooltip=\"not picked: passes 0\""), "{dot}");
}

/// A factor that folds unnamed nodes is tagged by the op whose partial gives
/// its 0, not by its upper node's op: max(relu(x), y) at x = −1, y = −2 picks
/// relu(x) (0 > −2), and the 0 is relu's mask (a review found `(not picked)`).
#[test]
fn a_folded_factor_is_tagged_by_the_op_that_masks_it_not_its_top() {
    let tape = Tape::new();
    let x = tape.var(-1.0).named("x");
    let y = tape.var(-2.0).named("y");
    let m = x.relu().max(y).named("m");
    let text = (m * 2.0).named("f").backward().explain(x).to_string();
    assert_eq!(
        text,
        "∂f/∂x = ∂f/∂m · ∂m/∂x\n      = 2.00000000 × 0.00000000 (masked)\n      = 0.00000000\n"
    );

    // relu(max(x, y)) at x = −1, y = 3: relu passes 3, max does not pick x.
    let tape = Tape::new();
    let x = tape.var(-1.0).named("x");
    let y = tape.var(3.0).named("y");
    let r = x.max(y).relu().named("r");
    let text = (r * 2.0).named("f").backward().explain(x).to_string();
    assert_eq!(
        text,
        "∂f/∂x = ∂f/∂r · ∂r/∂x\n      = 2.00000000 × 0.00000000 (not picked)\n      = 0.00000000\n"
    );

    // Where the top op is the one that masks (relu(max(x, y)) at x = −1,
    // y = −3: max picks x, relu masks its −1), it is still `(masked)`.
    let tape = Tape::new();
    let x = tape.var(-1.0).named("x");
    let y = tape.var(-3.0).named("y");
    let r = x.max(y).relu().named("r");
    let text = (r * 2.0).named("f").backward().explain(x).to_string();
    assert_eq!(
        text,
        "∂f/∂x = ∂f/∂r · ∂r/∂x\n      = 2.00000000 × 0.00000000 (masked)\n      = 0.00000000\n"
    );
}

/// Where both a relu and a max that does not pick pass the 0 of one folded
/// factor, it names both.
#[test]
fn a_folded_factor_masked_twice_names_both() {
    let tape = Tape::new();
    let x = tape.var(-1.0).named("x");
    let y = tape.var(3.0).named("y");
    let z = tape.var(-5.0).named("z");
    // max(x, y) does not pick x; relu(max(x, y) − 4) masks it as well.
    let r = (x.max(y) - 4.0).relu().max(z).named("r");
    let text = (r * 2.0).named("f").backward().explain(x).to_string();
    assert!(
        text.contains("× 0.00000000 (masked, not picked)\n"),
        "{text}"
    );
}
