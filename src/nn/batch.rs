//! The loss and gradient of one batch, on one tape.

use crate::nn::{Dataset, Loss, Mlp};
use crate::{Tape, Var};

/// The mean loss over the samples `indices` of `data`, and its gradient with
/// respect to every trainable parameter, written to `gradient` (resized to
/// [`Mlp::parameter_count`]).
///
/// The tape is cleared first, then records the whole batch: bind (labelled, as
/// [`Mlp::bind`]), forward every sample, its [`Loss`], the sum of the losses as
/// one node divided by `divisor`, one reverse sweep. Returns the loss. Where
/// that sum overflows though every sample's loss is finite, each loss is
/// divided by `divisor` first and the quotients summed, so the loss is finite
/// wherever the mean is (up to the rounding of its last bit).
///
/// `divisor` is the size of the whole batch: pass `indices.len()` for a batch's
/// mean; a data-parallel caller passes the whole batch's size for each of its
/// pieces, so that the pieces' losses and gradients simply add up.
///
/// # Panics
/// If `divisor` is not a positive finite number (0 would make the loss
/// infinite, a negative one turn the gradient around), `indices` is empty,
/// an index is out of range, the dataset's widths do
/// not match the network, or a sample's targets are outside the loss's domain
/// ([`Loss::check_targets`]: hinge's labels −1 or 1, binary cross-entropy's
/// [0, 1], softmax cross-entropy's probability vector; the training helper
/// checks these first and returns an error): checked before anything is
/// recorded, the message names this function, the index, the widths or the
/// sample, its target and what the loss needs.
///
/// ```
/// use chainrule::nn::{batch_loss_and_gradient, Activation, Dataset, Loss, Mlp};
/// use chainrule::Tape;
///
/// let mut mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
/// mlp.set_parameters(&[2.0, 0.0])?;
/// let mut data = Dataset::new(1, 1);
/// data.push(&[1.0], &[0.0]); // (2·1 − 0)² = 4
/// data.push(&[2.0], &[0.0]); // (2·2 − 0)² = 16
/// let mut grad = Vec::new();
/// let loss = batch_loss_and_gradient(&mlp, &data, &[0, 1], 2.0, Loss::MeanSquaredError,
///                                    &mut Tape::new(), &mut grad);
/// assert_eq!(loss, 10.0);
/// assert_eq!(grad, vec![(2.0 * 2.0 * 1.0 + 2.0 * 4.0 * 2.0) / 2.0, (2.0 * 2.0 + 2.0 * 4.0) / 2.0]);
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
#[track_caller]
pub fn batch_loss_and_gradient(
    mlp: &Mlp,
    data: &Dataset,
    indices: &[usize],
    divisor: f64,
    loss: Loss,
    tape: &mut Tape,
    gradient: &mut Vec<f64>,
) -> f64 {
    check_batch("batch_loss_and_gradient", mlp, data, indices, loss);
    // A divisor of 0 made the loss and gradient infinite, a negative one
    // turned the gradient around (a step against it then climbs the loss).
    assert!(
        divisor > 0.0 && divisor.is_finite(),
        "chainrule: batch_loss_and_gradient was given the divisor {divisor}: the summed \
         loss is divided by it (the whole batch's size, {} for these samples' mean), so \
         it must be a positive finite number",
        indices.len()
    );
    record_batch(mlp, data, indices, divisor, loss, tape, gradient, true)
}

/// As [`batch_loss_and_gradient`] after its checks (the caller's), labelling
/// the tape if `labelled`: the training helpers' steps, which nobody reads the
/// labels of, pass false.
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub(crate) fn record_batch(
    mlp: &Mlp,
    data: &Dataset,
    indices: &[usize],
    divisor: f64,
    loss: Loss,
    tape: &mut Tape,
    gradient: &mut Vec<f64>,
    labelled: bool,
) -> f64 {
    tape.clear();
    let net = if labelled {
        mlp.bind(tape)
    } else {
        mlp.bind_unlabelled(tape)
    };
    let losses: Vec<Var> = indices
        .iter()
        .map(|&i| {
            let (inputs, targets) = data.sample(i);
            loss.evaluate(&net.forward(inputs), targets)
        })
        .collect();
    let total = batch_mean(&losses, divisor);
    let grads = total.backward();
    gradient.clear();
    gradient.extend(net.parameters().iter().map(|&p| grads[p]));
    total.value()
}

/// The losses' sum divided by `divisor`: one sum node, then one division.
/// Where that sum overflows though every loss is finite, each loss is divided
/// by `divisor` first and those quotients summed instead, finite wherever the
/// mean is (up to the rounding of the sum's last bit; the ordinary case keeps
/// its bits). The gradient is taped through whichever was recorded, so each
/// loss's adjoint is 1/`divisor` either way.
pub(crate) fn batch_mean<'t>(losses: &[Var<'t>], divisor: f64) -> Var<'t> {
    let sum: f64 = losses.iter().map(|l| l.value()).sum();
    if sum.is_infinite() && losses.iter().all(|l| l.value().is_finite()) {
        losses.iter().map(|&l| l / divisor).sum()
    } else {
        losses.iter().copied().sum::<Var>() / divisor
    }
}

/// Panics, naming `caller`, if `indices` is empty or holds an index past the
/// end of `data`, if `data`'s widths do not fit `mlp`, or if a sample's targets
/// are outside `loss`'s domain ([`Loss::check_targets`]): a batch function's
/// checks, made before anything is recorded (and, for the data-parallel one,
/// on the caller's thread).
#[track_caller]
pub(crate) fn check_batch(caller: &str, mlp: &Mlp, data: &Dataset, indices: &[usize], loss: Loss) {
    assert!(
        !indices.is_empty(),
        "chainrule: {caller} was given no sample indices: a batch needs at least one sample"
    );
    use crate::plural;
    if data.input_width() != mlp.inputs() {
        panic!(
            "chainrule: {caller} was given a dataset of {} {} per sample for a network of {} {}",
            data.input_width(),
            plural(data.input_width(), "input", "inputs"),
            mlp.inputs(),
            plural(mlp.inputs(), "input", "inputs")
        );
    }
    if data.target_width() != mlp.outputs() {
        panic!(
            "chainrule: {caller} was given a dataset of {} {} per sample for a network of {} {}",
            data.target_width(),
            plural(data.target_width(), "target", "targets"),
            mlp.outputs(),
            plural(mlp.outputs(), "output", "outputs")
        );
    }
    let len = data.len();
    if let Some(&i) = indices.iter().find(|&&i| i >= len) {
        panic!(
            "chainrule: {caller} was given sample index {i} of a dataset of {len} {} \
             (indices count from 0)",
            plural(len, "sample", "samples")
        );
    }
    for &i in indices {
        if let Err(e) = loss.check_targets(data.sample(i).1) {
            panic!("chainrule: {caller} was given sample {i} (counting from 0) whose {e}");
        }
    }
}
