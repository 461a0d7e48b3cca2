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

/// Writes the drawing to `path`: an [`Error::Io`] naming `path` (of the
/// underlying error's kind) if it cannot.
fn write_svg(path: &Path, svg: &str) -> Result<(), Error> {
    std::fs::write(path, svg).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot write the plot to {}: {e}", path.display()),
        ))
    })
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
/// axis when every loss is positive and they span two decades or more, to an
/// SVG file.
///
/// Non-finite losses (NaN, ±∞) are skipped. Every finite loss is drawn, however
/// extreme, on an axis that says what it shows:
/// - positive losses: a logarithmic axis, "loss (log scale)", when it can span
///   them (from 0.9 × the least to 1.1 × the greatest, without overflow and
///   with the least not subnormal) and that span is two decades or more (so
///   that it holds two labelled powers of ten); a narrower span on a linear
///   axis, "loss", as below (with its `× 1ek` unit past 1e300); where a
///   logarithmic axis cannot span them (a loss
///   above about 1.6e308, a subnormal loss, or a range of more than 308
///   decades) the losses' base-10 logarithms on a linear axis, "log10(loss)";
/// - any loss zero or negative: a linear axis, "loss"; when some |loss| exceeds
///   1e300 (so the span could overflow), the losses over the power of ten
///   10^k at or below the greatest |loss|, on an axis "loss (× 1ek)".
///
/// # Errors
/// [`Error::Plot`] if `losses` is empty or holds no finite value;
/// [`Error::Io`], naming `path`, if the file cannot be written. Extreme values
/// are never an error (see above).
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
    let (lo, hi) = min_max(finite.iter().map(|&(_, l)| l));
    let epochs = losses.len().max(2) - 1;
    // Drawn into a string and written here, so that a file that cannot be
    // written is an I/O error naming it (plotters' own said only "backend
    // error: … No such file or directory").
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(80);
        // plotters' tick generation loops forever on an infinite axis span (or
        // log-axis ratio): keep every axis bound, span and ratio finite.
        let (log_lo, log_hi) = (lo * 0.9, hi * 1.1);
        let log_spans = lo > 0.0 && log_lo >= f64::MIN_POSITIVE && (log_hi / log_lo).is_finite();
        // plotters labels a log axis at multiples of the powers of ten in it, and
        // only of some: a range inside one decade (0.45 to 0.7) got no label at
        // all, and one up to two decades wide sometimes one. Two decades hold two
        // powers of ten, so at least two labels; a narrower range is drawn linear.
        if log_spans && log_hi / log_lo >= LOG_AXIS_RATIO {
            let line = LineSeries::new(finite.iter().copied(), BLUE.stroke_width(2));
            let mut chart = builder
                .build_cartesian_2d(0..epochs, (log_lo..log_hi).log_scale())
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
            let magnitude = lo.abs().max(hi.abs());
            let (shown, y_desc): (Vec<(usize, f64)>, String) = if lo > 0.0 && !log_spans {
                let shown = finite.iter().map(|&(e, l)| (e, l.log10())).collect();
                (shown, "log10(loss)".into())
            } else if magnitude > 1e300 {
                let exponent = magnitude.log10().floor() as i32;
                let unit = 10f64.powi(exponent);
                let shown = finite.iter().map(|&(e, l)| (e, l / unit)).collect();
                (shown, format!("loss (× 1e{exponent})"))
            } else {
                (finite, "loss".into())
            };
            let (lo, hi) = min_max(shown.iter().map(|&(_, l)| l));
            let (lo, hi) = padded(lo, hi, 0.05, 1e-12);
            let line = LineSeries::new(shown, BLUE.stroke_width(2));
            let mut chart = builder
                .build_cartesian_2d(0..epochs, lo..hi)
                .map_err(plot_error)?;
            let label = tick_label(lo, hi);
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc(y_desc)
                .y_label_formatter(&label)
                .draw()
                .map_err(plot_error)?;
            chart.draw_series(line).map_err(plot_error)?;
        }
        root.present().map_err(plot_error)?;
    }
    write_svg(path.as_ref(), &svg)
}

/// The axis range for finite values from `lo` to `hi`: widened on each side by
/// `fraction` of the span, by at least `floor`, and by at least a thousandth
/// of the greater magnitude, so that the range is never empty (equal values
/// at 1e20: a pad of `floor` alone vanishes in rounding, and the axis had no
/// ticks); each bound kept finite (within ±`f64::MAX`).
fn padded(lo: f64, hi: f64, fraction: f64, floor: f64) -> (f64, f64) {
    let magnitude = lo.abs().max(hi.abs());
    let pad = ((hi - lo) * fraction).max(floor).max(magnitude * 1e-3);
    ((lo - pad).max(-f64::MAX), (hi + pad).min(f64::MAX))
}

/// The tick labels of a linear axis from `lo` to `hi` (finite, `lo < hi`):
/// as many digits as tell ticks apart (plotters puts about ten on an axis, at
/// steps no finer than a twentieth of the span), in scientific notation
/// where the values are large or small (`1.020e-9`, `1.00e20`), else fixed
/// (`0.450`); −0 written 0. (plotters' default wrote every tick of an axis
/// from 1e-9 to 1.2e-9 as `0.0`, and ticks near 1e200 with 200 digits.)
fn tick_label(lo: f64, hi: f64) -> impl Fn(&f64) -> String {
    let step = (hi - lo) / 20.0;
    let magnitude = lo.abs().max(hi.abs());
    let scientific = !(1e-3..1e6).contains(&magnitude);
    // Significant digits to resolve `step` at `magnitude`, decimals for fixed.
    let significant = ((magnitude / step).log10().ceil() + 1.0).clamp(1.0, 17.0) as usize;
    let decimals = (1.0 - step.log10().floor()).clamp(0.0, 17.0) as usize;
    move |v: &f64| {
        let v = *v + 0.0; // −0 as 0
        if scientific {
            format!("{v:.*e}", significant - 1)
        } else {
            format!("{v:.decimals$}")
        }
    }
}

/// The least ratio of the padded bounds (0.9 × the least loss, 1.1 × the
/// greatest) for which [`loss_curve`] draws a logarithmic axis: two decades,
/// so that the axis holds at least two powers of ten, which plotters labels.
const LOG_AXIS_RATIO: f64 = 100.0;

/// The least and greatest of some finite values (∞ and −∞ for none).
fn min_max(values: impl Iterator<Item = f64>) -> (f64, f64) {
    values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    })
}

/// Draws the decision regions of `classify` over the points' bounding box
/// (padded by a tenth of its width and height, and by at least 0.1 and a
/// thousandth of the greatest magnitude on that axis, so that equal points
/// still span an axis), as a `resolution` × `resolution` grid of pale cells,
/// and the points on top in their class colour ([`CLASS_COLORS`]), to an SVG
/// file. An axis whose bounds pass 1e300 in magnitude is drawn in units of a
/// power of ten, which its description names (`x (× 1e308)`).
///
/// # Errors
/// [`Error::Plot`] if there are no points, `classes` is not one per point,
/// `resolution` is 0, a point is not finite (the error names it), the padded
/// bounding box is wider or taller than `f64::MAX / 10` (about 1.8e307, beyond
/// which plotters' axis ticks overflow); [`Error::Io`], naming `path`, if the
/// file cannot be written.
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
    if let Some((i, p)) = points
        .iter()
        .enumerate()
        .find(|(_, p)| !(p[0].is_finite() && p[1].is_finite()))
    {
        return Err(Error::Plot(format!(
            "point {i} is [{}, {}]: points must be finite",
            p[0], p[1]
        )));
    }
    let bounds = |axis: usize| {
        let (lo, hi) = min_max(points.iter().map(|p| p[axis]));
        padded(lo, hi, 0.1, 0.1)
    };
    let ((x0, x1), (y0, y1)) = (bounds(0), bounds(1));
    // plotters' tick generation multiplies a power of ten at or below the
    // span by 10: keep that finite (an infinite span loops forever).
    if !(x1 - x0 <= f64::MAX / 10.0 && y1 - y0 <= f64::MAX / 10.0) {
        return Err(Error::Plot(format!(
            "the points' bounding box, padded by a tenth, is too wide to draw: x from {x0} \
             to {x1}, y from {y0} to {y1} (at most f64::MAX / 10 = 1.8e307 each)"
        )));
    }
    // plotters' ticks round an axis's lower bound down to a multiple of a power
    // of ten near the span, which overflows to −∞ near −f64::MAX (equal points
    // at −f64::MAX had no tick labels): an axis past 1e300 in magnitude is drawn
    // in units of a power of ten, named in its description, as `loss_curve`
    // does. `classify` is still given the points' own coordinates.
    let unit = |lo: f64, hi: f64| {
        let magnitude = lo.abs().max(hi.abs());
        if magnitude > 1e300 {
            let exponent = magnitude.log10().floor() as i32;
            (10f64.powi(exponent), format!(" (× 1e{exponent})"))
        } else {
            (1.0, String::new())
        }
    };
    let ((ux, x_unit), (uy, y_unit)) = (unit(x0, x1), unit(y0, y1));
    let color = |class: usize| CLASS_COLORS[class % CLASS_COLORS.len()];

    // Drawn into a string and written here, so that a file that cannot be
    // written is an I/O error naming it (plotters' own said only "backend
    // error: … No such file or directory").
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (700, 600)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 24))
            .margin(16)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0 / ux..x1 / ux, y0 / uy..y1 / uy)
            .map_err(plot_error)?;
        let (x_label, y_label) = (tick_label(x0 / ux, x1 / ux), tick_label(y0 / uy, y1 / uy));
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(format!("x{x_unit}"))
            .y_desc(format!("y{y_unit}"))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .draw()
            .map_err(plot_error)?;
        let (dx, dy) = ((x1 - x0) / resolution as f64, (y1 - y0) / resolution as f64);
        let cells = (0..resolution).flat_map(|i| {
            (0..resolution).map(move |j| {
                let (cx, cy) = (x0 + (i as f64 + 0.5) * dx, y0 + (j as f64 + 0.5) * dy);
                let (ax, ay) = (x0 + i as f64 * dx, y0 + j as f64 * dy);
                (
                    [(ax / ux, ay / uy), ((ax + dx) / ux, (ay + dy) / uy)],
                    [cx, cy],
                )
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
                    .map(|(p, &c)| Circle::new((p[0] / ux, p[1] / uy), 4, color(c).filled())),
            )
            .map_err(plot_error)?;
        root.present().map_err(plot_error)?;
    }
    write_svg(path.as_ref(), &svg)
}
