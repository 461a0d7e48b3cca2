//! Small synthetic datasets, generated in code from a seed.

use crate::nn::init::{generator, uniform};
use crate::nn::loss::one_hot;
use crate::nn::Dataset;

/// The four rows of the XOR truth table: inputs (a, b), target a XOR b as 0 or 1.
///
/// ```
/// let xor = chainrule::nn::datasets::xor();
/// assert_eq!(xor.len(), 4);
/// assert_eq!(xor.sample(1), (&[0.0, 1.0][..], &[1.0][..]));
/// ```
#[must_use]
pub fn xor() -> Dataset {
    let mut data = Dataset::new(2, 1);
    for (a, b) in [(0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0)] {
        data.push(&[a, b], &[if a != b { 1.0 } else { 0.0 }]);
    }
    data
}

/// Interleaved spiral arms, one class per arm (the classic CS231n toy problem),
/// with one-hot targets for [`softmax_cross_entropy`](crate::nn::loss::softmax_cross_entropy).
///
/// Arm `c` of `classes` has `points_per_class` points, `i` = 0, 1, …: radius
/// r = i / (points_per_class − 1) and angle θ = 4c + 4r + 0.2·(2u − 1) radians
/// (u from SplitMix64(`seed`), one draw per point); the point is (r sin θ, r cos θ).
/// Samples come class by class.
///
/// # Panics
/// If `points_per_class < 2` or `classes == 0`.
///
/// ```
/// let spiral = chainrule::nn::datasets::spiral(100, 3, 0);
/// assert_eq!((spiral.len(), spiral.input_width(), spiral.target_width()), (300, 2, 3));
/// assert_eq!(spiral.sample(150).1, &[0.0, 1.0, 0.0]);
/// ```
#[must_use]
#[track_caller]
pub fn spiral(points_per_class: usize, classes: usize, seed: u64) -> Dataset {
    assert!(
        points_per_class >= 2 && classes > 0,
        "chainrule: spiral was given {points_per_class} {} per class and {classes} {}; it needs at least 2 points per class and 1 class",
        crate::plural(points_per_class, "point", "points"),
        crate::plural(classes, "class", "classes"),
    );
    let mut rng = generator(seed);
    let mut data = Dataset::new(2, classes);
    for class in 0..classes {
        let target = one_hot(class, classes);
        for i in 0..points_per_class {
            let r = i as f64 / (points_per_class - 1) as f64;
            let theta = 4.0 * class as f64 + 4.0 * r + 0.2 * (2.0 * uniform(&mut rng) - 1.0);
            data.push(&[r * theta.sin(), r * theta.cos()], &target);
        }
    }
    data
}

/// The index of the largest value (the first on a tie): the predicted class of
/// a network's outputs. A NaN counts as larger than any number, so the first
/// NaN's index is returned, as NumPy's `argmax` and PyTorch's `torch.argmax`
/// do: a network whose outputs went NaN predicts no class silently.
///
/// # Panics
/// If `values` is empty.
///
/// # Complexity
/// O(n) for n values.
///
/// ```
/// use chainrule::nn::datasets::argmax;
///
/// assert_eq!(argmax(&[0.1, 2.0, -1.0]), 1);
/// assert_eq!(argmax(&[0.1, f64::NAN, 2.0, f64::NAN]), 1);
/// ```
#[must_use]
#[track_caller]
pub fn argmax(values: &[f64]) -> usize {
    assert!(!values.is_empty(), "chainrule: argmax was given no values");
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v.is_nan() {
            return i;
        }
        if v > values[best] {
            best = i;
        }
    }
    best
}
