//! Plots (feature `plot`): the files are SVG with the expected elements.
#![cfg(feature = "plot")]

use chainrule::nn::plot::{decision_boundary, loss_curve};

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("chainrule-{}-{name}.svg", std::process::id()))
}

#[test]
fn a_loss_curve_is_an_svg_with_a_line() {
    let path = temp_path("loss");
    // 1 down to 2⁻²⁹: nine decades, on a logarithmic axis.
    let losses: Vec<f64> = (0..30).map(|k| 0.5f64.powi(k)).collect();
    loss_curve(&path, "test", &losses).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(svg.starts_with("<svg"));
    assert!(svg.contains("<polyline"), "the loss line");
    assert!(svg.contains("epoch") && svg.contains("loss (log scale)"));
}

#[test]
fn a_decision_boundary_has_a_cell_per_grid_point_and_a_circle_per_point() {
    let path = temp_path("boundary");
    let points = [[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]];
    decision_boundary(
        &path,
        "x > 0.5",
        |p| usize::from(p[0] > 0.5),
        &points,
        &[0, 1, 0],
        10,
    )
    .unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert!(svg.matches("<circle").count() >= 3);
    assert!(svg.matches("<rect").count() >= 100);
}

#[test]
fn nothing_to_draw_is_an_error() {
    assert!(loss_curve(temp_path("none"), "t", &[]).is_err());
    assert!(loss_curve(temp_path("nan"), "t", &[f64::NAN]).is_err());
    let err = decision_boundary(temp_path("b"), "t", |_| 0, &[[0.0, 0.0]], &[], 10).unwrap_err();
    assert!(err.to_string().contains("need one class per point"));
}

/// Runs `f` on its own thread and gives its result, or `None` if it has not
/// returned within 5 s (the thread is left spinning; the test fails).
fn within_5s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    receive.recv_timeout(std::time::Duration::from_secs(5)).ok()
}

#[test]
fn extreme_values_never_hang() {
    const MAX: f64 = f64::MAX;
    const TINY: f64 = 5e-324; // the smallest subnormal
    let losses: [(&str, Vec<f64>); 17] = [
        ("near MAX on the log axis", vec![1.5e308, 1.0]),
        ("-1e308 and 1e308 on the linear axis", vec![-1e308, 1e308]),
        ("MAX", vec![MAX]),
        ("-MAX", vec![-MAX]),
        ("MAX and 1", vec![MAX, 1.0]),
        ("-MAX and MAX", vec![-MAX, MAX]),
        ("MAX and -MAX and 0", vec![MAX, -MAX, 0.0]),
        ("MAX and the smallest subnormal", vec![MAX, TINY]),
        ("subnormals only", vec![TINY, 1e-320, 2e-310]),
        ("one subnormal", vec![TINY]),
        ("a subnormal and 1", vec![TINY, 1.0]),
        ("negative subnormals and 0", vec![-TINY, 0.0, -1e-310]),
        ("a single point", vec![0.5]),
        ("all equal", vec![3.0; 5]),
        ("all zero", vec![0.0; 4]),
        ("all equal and huge negative", vec![-1e300; 3]),
        (
            "infinities among finite",
            vec![f64::INFINITY, 2.0, f64::NEG_INFINITY, 1.0],
        ),
    ];
    let (mut hung, mut wrong) = (Vec::new(), Vec::new());
    for (k, (name, losses)) in losses.into_iter().enumerate() {
        let path = temp_path(&format!("extreme-loss-{k}"));
        let call_path = path.clone();
        match within_5s(move || loss_curve(&call_path, "extreme", &losses)) {
            None => hung.push(name),
            Some(Err(e)) => wrong.push(format!("{name}: {e}")),
            Some(Ok(())) => {
                let svg = std::fs::read_to_string(&path).unwrap();
                std::fs::remove_file(&path).unwrap();
                if !svg.contains("<polyline") || svg.contains("NaN") || svg.contains("inf") {
                    wrong.push(format!("{name}: no line, or NaN or inf in the SVG"));
                }
            }
        }
    }

    let boundaries: [(&str, Vec<[f64; 2]>, &str); 7] = [
        (
            "an infinite point",
            vec![[0.0, 0.0], [f64::INFINITY, 1.0]],
            "point 1 is [inf, 1]",
        ),
        (
            "a NaN point",
            vec![[f64::NAN, 0.0], [1.0, 1.0]],
            "point 0 is [NaN, 0]",
        ),
        ("-MAX and MAX", vec![[-MAX, 0.0], [MAX, 1.0]], "too wide"),
        (
            "a span of 1e308",
            vec![[0.0, -5e307], [1.0, 5e307]],
            "too wide",
        ),
        ("a span of 2e306", vec![[-1e306, 0.0], [1e306, 1.0]], ""),
        ("MAX alone", vec![[MAX, MAX], [MAX, MAX]], ""),
        ("one point", vec![[2.0, -3.0], [2.0, -3.0]], ""),
    ];
    for (k, (name, points, expected)) in boundaries.into_iter().enumerate() {
        let path = temp_path(&format!("extreme-boundary-{k}"));
        let call_path = path.clone();
        let classify = |p: [f64; 2]| usize::from(p[0] > 0.5);
        match within_5s(move || {
            decision_boundary(&call_path, "extreme", classify, &points, &[0, 1], 20)
        }) {
            None => hung.push(name),
            Some(Ok(())) if expected.is_empty() => std::fs::remove_file(&path).unwrap(),
            Some(Ok(())) => {
                std::fs::remove_file(&path).unwrap();
                wrong.push(format!(
                    "{name}: drawn, expected an error with {expected:?}"
                ));
            }
            Some(Err(e)) if expected.is_empty() || !e.to_string().contains(expected) => {
                wrong.push(format!("{name}: {e}, expected {expected:?}"));
            }
            Some(Err(_)) => {}
        }
    }
    assert!(
        hung.is_empty() && wrong.is_empty(),
        "still running after 5 s: {hung:?}; wrong: {wrong:#?}"
    );
}

#[test]
fn extreme_losses_are_drawn_on_an_axis_that_says_what_it_shows() {
    for (losses, axis) in [
        (vec![1.5e308, 1.0], "log10(loss)"),
        (vec![5e-324, 1e-320], "log10(loss)"),
        (vec![-1e308, 1e308], "loss (× 1e308)"),
        (vec![f64::MAX, -f64::MAX], "loss (× 1e308)"),
        (vec![1e300, 1.0], "loss (log scale)"),
        (vec![-1e300, 1.0], "loss"),
    ] {
        let path = temp_path("axis");
        loss_curve(&path, "t", &losses).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.contains(&format!(">\n{axis}\n<")), "{losses:?}: {axis}");
    }
}

/// How many `<text` elements an SVG holds: the title, the axis descriptions
/// and one per tick label.
fn texts(svg: &str) -> usize {
    svg.matches("<text").count()
}

/// Equal values still span an axis with tick labels, at any magnitude: the
/// padding around them was 0.1 (or 1e-12 for losses), which vanishes in
/// rounding at 1e20, and the axes had no tick labels (the points or the line
/// drawn at the edge of an empty range, their value nowhere said).
#[test]
fn equal_values_are_drawn_on_axes_with_ticks_at_any_magnitude() {
    let read = |path: &std::path::Path| {
        let svg = std::fs::read_to_string(path).unwrap();
        std::fs::remove_file(path).unwrap();
        svg
    };
    // Three labels (title, "x", "y") and at least two ticks on each axis.
    for point in [[2.0, -3.0], [1e20, -3e20], [-7e200, 1e-200]] {
        let path = temp_path("equal-points");
        decision_boundary(
            &path,
            "t",
            |p| usize::from(p[0] > 0.5),
            &[point, point],
            &[0, 1],
            10,
        )
        .unwrap();
        let svg = read(&path);
        assert!(texts(&svg) >= 3 + 4, "{point:?}: {} texts", texts(&svg));
    }
    // Three labels (title, "epoch", the loss axis), three epoch ticks, and at
    // least two ticks on the (linear) loss axis.
    for loss in [-1.0, -1e20, -3e299] {
        let path = temp_path("equal-losses");
        loss_curve(&path, "t", &[loss; 3]).unwrap();
        let svg = read(&path);
        assert!(texts(&svg) >= 3 + 3 + 2, "{loss}: {} texts", texts(&svg));
    }
}

/// Equal points near −f64::MAX were drawn on axes with no tick labels: the
/// pad kept the bounds finite, but plotters rounds an axis's lower bound down
/// to a multiple of a power of ten near its span, which overflowed to −∞
/// there. Such an axis is now drawn in units of a power of ten, which its
/// description names.
#[test]
fn equal_points_near_minus_max_are_drawn_on_axes_with_ticks() {
    for point in [
        [-f64::MAX, -f64::MAX],
        [-1.796e308, 5.0],
        [f64::MAX, -f64::MAX],
    ] {
        let path = temp_path("equal-points-near-max");
        decision_boundary(
            &path,
            "t",
            |p| usize::from(p[0] > 0.0),
            &[point, point],
            &[0, 1],
            10,
        )
        .unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        // Three labels (title, "x", "y") and at least two ticks on each axis.
        assert!(texts(&svg) >= 3 + 4, "{point:?}: {} texts", texts(&svg));
        assert!(svg.contains(">\nx (× 1e308)\n<"), "{point:?}");
    }
}

/// The tick labels of an SVG's loss axis: the texts that read as numbers
/// other than the epochs' (which are whole numbers from 0), on either axis
/// format ("1.0e-1" on a log axis, "0.45" on a linear one).
fn loss_ticks(svg: &str, epochs: usize) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| t.split('>').nth(1)?.split('<').next())
        .map(|t| t.trim().to_string())
        .filter(|t| t.parse::<f64>().is_ok())
        .filter(|t| !(t.parse::<usize>().is_ok_and(|e| e < epochs)))
        .collect()
}

/// A loss curve has at least two labelled ticks on its loss axis: losses
/// within one decade (0.7 falling to 0.45, the first epochs of many a
/// training run) were drawn on a logarithmic axis that plotters labels only at
/// some multiples of the powers of ten it holds, here none, the losses'
/// values nowhere said. Spans under two decades are drawn on a linear axis;
/// wider ones stay logarithmic, with two powers of ten or more.
#[test]
fn a_loss_curve_has_labelled_ticks_on_its_loss_axis() {
    for (losses, axis) in [
        (vec![0.7, 0.6, 0.5, 0.45], "loss"),
        (vec![0.5; 3], "loss"),
        (vec![0.09, 0.05, 0.02], "loss"),
        (vec![1.4, 0.6, 0.15], "loss"),
        (vec![3.0, 1.0, 0.2], "loss"),
        (vec![1e305, 2e305], "loss (× 1e305)"),
        (vec![0.9, 0.1, 0.0101], "loss (log scale)"),
        (vec![1e6, 1.0, 1e-6], "loss (log scale)"),
    ] {
        let path = temp_path("ticks");
        loss_curve(&path, "t", &losses).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(
            svg.contains(&format!(">\n{axis}\n<")),
            "{losses:?}: not on {axis}"
        );
        let ticks = loss_ticks(&svg, losses.len());
        assert!(ticks.len() >= 2, "{losses:?}: loss-axis labels {ticks:?}");
    }
}

/// The ticks of a linear loss axis tell their values apart at any scale:
/// plotters' default labels wrote every tick from 1e-9 to 1.2e-9 as `0.0`,
/// ticks across 0 at 1e-8 as `-0.0` and `0.0`, and ticks near 1e20 or 1e200
/// with 21 to over 200 digits (found by a review).
#[test]
fn linear_loss_axes_have_distinct_short_tick_labels_at_any_scale() {
    for losses in [
        vec![1.0e-9, 1.2e-9, 1.1e-9],
        vec![1e-5, 1.5e-5],
        vec![-3e-8, 2e-8],
        vec![1e20, 1.5e20],
        vec![1e200, 1e200],
        vec![0.7, 0.6, 0.5, 0.45],
        vec![-1.0, 2.0],
    ] {
        let path = temp_path("linear-ticks");
        loss_curve(&path, "t", &losses).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert!(svg.contains(">\nloss\n<"), "{losses:?}: a linear axis");
        let ticks = loss_ticks(&svg, losses.len());
        assert!(ticks.len() >= 2, "{losses:?}: {ticks:?}");
        let values: Vec<f64> = ticks.iter().map(|t| t.parse().unwrap()).collect();
        let mut distinct = values.clone();
        distinct.sort_by(f64::total_cmp);
        distinct.dedup();
        assert_eq!(distinct.len(), values.len(), "{losses:?}: {ticks:?}");
        assert!(ticks.iter().all(|t| t.len() <= 12), "{losses:?}: {ticks:?}");
        let negative_zero = |t: &String| t.starts_with('-') && t.parse::<f64>() == Ok(0.0);
        assert!(!ticks.iter().any(negative_zero), "{ticks:?}");
        // Each label is a value on the axis: within its padded range.
        let (lo, hi) = losses
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), &l| (a.min(l), b.max(l)));
        let reach = (hi - lo).max(hi.abs() * 1e-3).max(1e-12);
        assert!(
            values.iter().all(|&v| v >= lo - reach && v <= hi + reach),
            "{losses:?}: {ticks:?}"
        );
    }
}

/// A file that cannot be written said "plotting failed: backend error:
/// Drawing backend error: No such file or directory (os error 2)", naming no
/// file. It is now `Error::Io` of the underlying kind, naming the path.
#[test]
fn a_plot_that_cannot_be_written_is_an_io_error_naming_the_file() {
    let path = std::env::temp_dir()
        .join(format!("chainrule-{}-no-such-dir", std::process::id()))
        .join("x.svg");
    let errors = [
        loss_curve(&path, "t", &[1.0]).unwrap_err(),
        decision_boundary(&path, "t", |_| 0, &[[0.0, 0.0]], &[0], 4).unwrap_err(),
    ];
    for err in errors {
        let chainrule::nn::Error::Io(e) = &err else {
            panic!("expected Error::Io, got {err:?}")
        };
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
        let message = err.to_string();
        assert!(
            message.contains(&format!("cannot write the plot to {}", path.display())),
            "{message}"
        );
    }
    assert!(!path.parent().unwrap().exists());
}
