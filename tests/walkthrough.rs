//! The figures `examples/backprop.rs` prints, checked: the example is included
//! as a module and its `report()` (the text it prints and the numbers behind
//! it) is computed here, without running the binary.
//!
//! The article is Matt Mazur, "A Step by Step Backpropagation Example" (2015).
//! A figure "matches" when ours, rounded to as many decimals as the article
//! prints, is the article's string: that is the tolerance, half a unit of the
//! last published digit.

#[path = "../examples/backprop.rs"]
#[allow(dead_code)]
mod backprop;

use backprop::workloads::seed;
use backprop::{report, report_with_progress, significant, train, Update, CHECKPOINTS};

#[test]
fn every_published_figure_of_the_first_step_matches_to_every_digit() {
    let report = report();
    assert!(report.tape_agrees);
    assert_eq!(report.published.len(), 19);
    for p in &report.published {
        assert!(
            p.matches(),
            "{}: article {}, ours {}",
            p.name,
            p.article,
            p.ours_rounded()
        );
    }
    assert!(report
        .text
        .contains("19 of 19 figures match the article to every published digit."));
    assert!(report
        .text
        .contains("Matt Mazur, \"A Step by Step Backpropagation Example\" (2015)"));
}

#[test]
fn the_10000_step_figures_are_explained_by_the_two_update_orders() {
    let report = report();
    let (simultaneous, sequential) = (report.simultaneous, report.sequential);

    // The article's 0.0000351085 is the error of the 10,000th forward pass of a
    // simultaneous step, before the 10,000th update ...
    assert_eq!(
        format!("{:.10}", simultaneous.error_of_last_forward_pass),
        "0.0000351085"
    );
    // ... and after it the error is W1's reference (1e-9 relative, as
    // benches/WORKLOADS.md states its figures).
    let relative = (simultaneous.error_after_last_update - seed::REFERENCE_E_FINAL).abs()
        / seed::REFERENCE_E_FINAL;
    assert!(relative <= 1e-9, "{}", simultaneous.error_after_last_update);
    assert!(report.text.contains("3.510187782978859e-5"));

    // The article's outputs and its error after the first update come from
    // updating w1..w4 with the already-updated w5..w8.
    assert_eq!(format!("{:.9}", sequential.out_o1), "0.015912196");
    assert_eq!(format!("{:.9}", sequential.out_o2), "0.984065734");
    assert_eq!(
        format!("{:.9}", sequential.error_after_first_update),
        "0.291027924"
    );
    // A correct simultaneous step gives other digits.
    assert_eq!(format!("{:.9}", simultaneous.out_o1), "0.015913620");
    assert_eq!(format!("{:.9}", simultaneous.out_o2), "0.984064274");
    assert_eq!(
        format!("{:.9}", simultaneous.error_after_first_update),
        "0.291027774"
    );
    // And the sequential run does not give the article's error figure.
    assert_ne!(
        format!("{:.10}", sequential.error_of_last_forward_pass),
        "0.0000351085"
    );
    for printed in [
        "0.015913620 / 0.984064274",
        "0.015912196 / 0.984065734",
        "0.291027774 after the first update",
    ] {
        assert!(report.text.contains(printed), "{printed:?} is not printed");
    }
}

#[test]
fn one_step_of_either_order_starts_from_the_same_error() {
    // Both runs measure E0 at their first forward pass; they part at the update.
    let a = train(1, Update::Simultaneous);
    let b = train(1, Update::Sequential);
    assert_eq!(a.error_of_last_forward_pass, seed::REFERENCE_E0);
    assert_eq!(b.error_of_last_forward_pass, seed::REFERENCE_E0);
    assert_ne!(a.error_after_last_update, b.error_after_last_update);
}

#[test]
fn signs_are_written_as_a_person_writes_them() {
    let text = report().text;
    for wrong in ["+ -", "+ −", "− -", "- -", "× -"] {
        assert!(!text.contains(wrong), "{wrong:?} in:\n{text}");
    }
    // ∂E/∂out_h1 = ∂E_o1/∂out_h1 + ∂E_o2/∂out_h1, the second term negative.
    assert!(text.contains("= 0.05539942 − 0.01904912"), "{text}");
    assert!(
        text.contains("− 0.21707153 × 0.17551005 × 0.50000000"),
        "{text}"
    );
    // ∂E/∂w7 starts with a negative factor.
    assert!(
        text.contains("= −0.21707153 × 0.17551005 × 0.59326999"),
        "{text}"
    );
    // An update against a negative gradient adds.
    assert!(
        text.contains("w7+ = 0.5 + 0.5 × 0.022602540477 = 0.511301270239"),
        "{text}"
    );
}

#[test]
fn each_shared_sum_is_written_out_once_and_referred_back_to() {
    let text = report().text;
    // w1 and w2 reach E through out_h1; w3 and w4 through out_h2.
    assert_eq!(text.matches("where ∂E/∂out_h1 sums 2 paths").count(), 1);
    assert_eq!(text.matches("where ∂E/∂out_h2 sums 2 paths").count(), 1);
    assert!(text.contains("(∂E/∂out_h1 = 0.03635031 is the sum worked out above for w1.)"));
    assert!(text.contains("(∂E/∂out_h2 = 0.04137032 is the sum worked out above for w3.)"));
    // The block comes before its references.
    let block = text.find("where ∂E/∂out_h1 sums").unwrap();
    let reference = text.find("worked out above for w1").unwrap();
    assert!(block < reference);
}

#[test]
fn training_reports_its_error_at_checkpoints_as_it_goes() {
    let mut seen = Vec::new();
    let report = report_with_progress(|run, step, e| seen.push((run.to_string(), step, e)));
    // Each run reports at every checkpoint, in order, with E of that step's
    // forward pass.
    for (run, result) in [
        ("simultaneous", report.simultaneous),
        ("sequential", report.sequential),
    ] {
        let reported: Vec<(usize, f64)> = seen
            .iter()
            .filter(|(r, _, _)| r == run)
            .map(|&(_, step, e)| (step, e))
            .collect();
        let expected: Vec<(usize, f64)> = CHECKPOINTS
            .iter()
            .copied()
            .zip(result.checkpoints)
            .collect();
        assert_eq!(reported, expected, "{run}");
        assert_eq!(result.checkpoints[0], seed::REFERENCE_E0);
        assert_eq!(
            result.checkpoints[CHECKPOINTS.len() - 1],
            result.error_of_last_forward_pass
        );
        // Training brings the error down from checkpoint to checkpoint.
        assert!(result.checkpoints.windows(2).all(|w| w[1] < w[0]), "{run}");
    }
    // A run of one step reports its one checkpoint; the rest are NaN.
    let one = train(1, Update::Simultaneous);
    assert_eq!(one.checkpoints[0], seed::REFERENCE_E0);
    assert!(one.checkpoints[1..].iter().all(|e| e.is_nan()));
}

#[test]
fn the_training_table_prints_every_figure_with_ten_significant_digits() {
    // "At least 8 significant digits", to compare with the article's (up to 9).
    let report = report();
    let table = report
        .text
        .split("simultaneous      sequential")
        .nth(1)
        .and_then(|t| t.split("What the article's figures are:").next())
        .expect("the training table is printed");
    let mut figures = 0;
    for line in table.lines().skip(1) {
        // The label is up to column 33; then ours (two runs), then the article's.
        let ours: Vec<&str> = line[33..].split_whitespace().take(2).collect();
        for figure in ours {
            let digits: String = figure
                .chars()
                .filter(char::is_ascii_digit)
                .skip_while(|&c| c == '0')
                .collect();
            assert!(digits.len() >= 10, "{figure:?} in {line:?}");
            figures += 1;
        }
    }
    // Pass 1, after the first update, passes 10, 100, 1000, the 10,000th, after
    // it, and the two outputs: two runs each.
    assert_eq!(figures, 2 * 9, "{table}");
    for (step, e) in CHECKPOINTS[1..4]
        .iter()
        .zip(&report.simultaneous.checkpoints[1..4])
    {
        let row = format!("E of forward pass {step}");
        let line = table.lines().find(|l| l.contains(&row)).expect(&row);
        assert!(line.contains(&significant(*e, 10)), "{line}");
    }
    assert_eq!(significant(3.510854812e-5, 10), "0.00003510854812");
    assert_eq!(significant(0.2983711087600027, 10), "0.2983711088");
    assert_eq!(significant(-12.5, 3), "-12.5");
}
