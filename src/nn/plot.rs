//! Plots (feature `plot`): a loss curve, and the decision boundary of a
//! classifier of 2-d points, written as SVG with plotters.
//!
//! SVG needs no system library (no font rendering at build time): the crate
//! builds plotters with only its SVG backend, line and point series.

use std::path::Path;

use plotters::prelude::*;

use crate::nn::Error;

fn plot_error(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

/// The class colours of [`decision_boundary`], in class order (cycled).
pub const CLASS_COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(255, 127, 14),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// Draws a loss history (one value per epoch) as a line, on a logarithmic loss
/// axis when every loss is positive, to an SVG file.
///
/// # Errors
/// [`Error::Plot`] if `losses` is empty, holds no finite value, or the file
/// cannot be written.
///
/// ```no_run
/// chainrule::nn::plot::loss_curve("loss.svg", "XOR", &[1.0, 0.5, 0.25])?;
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
pub fn loss_curve(path: impl AsRef<Path>, title: &str, losses: &[f64]) -> Result<(), Error> {
    let finite: Vec<(usize, f64)> = losses
        .iter()
        .copied()
        .enumerate()
        .filter(|(_, l)| l.is_finite())
        .collect();
    if finite.is_empty() {
        return Err(Error::Plot("no finite loss to draw".into()));
    }
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, l)| {
            (lo.min(l), hi.max(l))
        });
    let epochs = losses.len().max(2) - 1;
    let root = SVGBackend::new(path.as_ref(), (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(80);
    let line = LineSeries::new(finite.iter().copied(), BLUE.stroke_width(2));
    if lo > 0.0 {
        let mut chart = builder
            .build_cartesian_2d(0..epochs, (lo * 0.9..hi * 1.1).log_scale())
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss (log scale)")
            .y_label_formatter(&|v| format!("{v:.1e}"))
            .draw()
            .map_err(plot_error)?;
        chart.draw_series(line).map_err(plot_error)?;
    } else {
        let pad = ((hi - lo) * 0.05).max(1e-12);
        let mut chart = builder
            .build_cartesian_2d(0..epochs, lo - pad..hi + pad)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("epoch")
            .y_desc("loss")
            .draw()
            .map_err(plot_error)?;
        chart.draw_series(line).map_err(plot_error)?;
    }
    root.present().map_err(plot_error)
}

/// Draws the decision regions of `classify` over the points' bounding box
/// (padded by a tenth), as a `resolution` × `resolution` grid of pale cells,
/// and the points on top in their class colour ([`CLASS_COLORS`]), to an SVG file.
///
/// # Errors
/// [`Error::Plot`] if there are no points, `classes` is not one per point,
/// `resolution` is 0, or the file cannot be written.
///
/// ```no_run
/// let points = [[0.0, 0.0], [1.0, 1.0]];
/// chainrule::nn::plot::decision_boundary(
///     "boundary.svg", "x + y > 1", |p| usize::from(p[0] + p[1] > 1.0), &points, &[0, 1], 60)?;
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
pub fn decision_boundary(
    path: impl AsRef<Path>,
    title: &str,
    classify: impl Fn([f64; 2]) -> usize,
    points: &[[f64; 2]],
    classes: &[usize],
    resolution: usize,
) -> Result<(), Error> {
    if points.is_empty() || points.len() != classes.len() || resolution == 0 {
        return Err(Error::Plot(format!(
            "{} points, {} classes and a resolution of {resolution}: need one class per point, \
             at least one point, a resolution of at least 1",
            points.len(),
            classes.len()
        )));
    }
    let bounds = |axis: usize| {
        let (lo, hi) = points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p[axis]), hi.max(p[axis]))
            });
        let pad = ((hi - lo) * 0.1).max(0.1);
        (lo - pad, hi + pad)
    };
    let ((x0, x1), (y0, y1)) = (bounds(0), bounds(1));
    let color = |class: usize| CLASS_COLORS[class % CLASS_COLORS.len()];

    let root = SVGBackend::new(path.as_ref(), (700, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(plot_error)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(plot_error)?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc("x")
        .y_desc("y")
        .draw()
        .map_err(plot_error)?;
    let (dx, dy) = ((x1 - x0) / resolution as f64, (y1 - y0) / resolution as f64);
    let cells = (0..resolution).flat_map(|i| {
        (0..resolution).map(move |j| {
            let (cx, cy) = (x0 + (i as f64 + 0.5) * dx, y0 + (j as f64 + 0.5) * dy);
            let (ax, ay) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
            ([(ax, ay), (ax + dx, ay + dy)], [cx, cy])
        })
    });
    chart
        .draw_series(cells.map(|(corners, centre)| {
            Rectangle::new(corners, color(classify(centre)).mix(0.25).filled())
        }))
        .map_err(plot_error)?;
    chart
        .draw_series(
            points
                .iter()
                .zip(classes)
                .map(|(p, &c)| Circle::new((p[0], p[1]), 4, color(c).filled())),
        )
        .map_err(plot_error)?;
    root.present().map_err(plot_error)
}
