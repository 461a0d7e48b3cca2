//! The README's table of ops is the code's: every unary op of
//! `chainrule::ops::UNARY` has a row with its name, formula and derivative.

#[test]
fn the_readme_lists_every_unary_op_with_its_derivative() {
    let readme = include_str!("../README.md");
    let missing: Vec<String> = chainrule::ops::UNARY
        .iter()
        .map(|rule| {
            format!(
                "| `{}` | {} | {} |",
                rule.name, rule.formula, rule.derivative
            )
        })
        .filter(|row| !readme.contains(row.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md lacks these rows:\n{}",
        missing.join("\n")
    );
}
