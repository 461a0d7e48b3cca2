//! Plots (feature `plot`): the files are SVG with the expected elements.
#![cfg(feature = "plot")]

use chainrule::nn::plot::{decision_boundary, loss_curve};

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("chainrule-{}-{name}.svg", std::process::id()))
}

#[test]
fn a_loss_curve_is_an_svg_with_a_line() {
    let path = temp_path("loss");
    let losses: Vec<f64> = (0..50).map(|k| 1.0 / (1.0 + k as f64)).collect();
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
