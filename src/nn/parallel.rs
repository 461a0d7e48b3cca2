//! Data parallel batch gradients (feature `parallel`): split a batch across
//! threads, one tape per thread, sum the gradients.
//!
//! A tape is `Send` but not `Sync`, so each rayon worker records its share of
//! the batch on its own tape (one per thread, kept in a thread-local and reused).
//! Each piece's loss is divided by the size of the **whole** batch, so the
//! pieces' losses and gradients simply add up to the batch's. The sum is taken
//! in piece order, so the result does not depend on thread scheduling; it does
//! depend on the number of pieces, and so, for
//! [`batch_loss_and_gradient_parallel`], on the number of rayon threads
//! (`RAYON_NUM_THREADS`, else the machine's cores): another count cuts other
//! pieces and changes the last bits. It equals the serial
//! [`batch_loss_and_gradient`](crate::nn::batch_loss_and_gradient) up to the rounding of a different order of
//! additions: relative to the size of each component's terms, so a component
//! whose terms cancel can differ from the serial one by more than itself.

use std::cell::RefCell;

use rayon::prelude::*;

use crate::nn::batch::{check_batch, record_batch};
use crate::nn::{Dataset, Loss, Mlp};
use crate::Tape;

thread_local! {
    static TAPE: RefCell<Tape> = RefCell::new(Tape::new());
}

/// The mean loss over the samples `indices` of `data` and its gradient (written
/// to `gradient`), computed over rayon's threads: the batch is cut as
/// [`batch_loss_and_gradient_pieces`] cuts it into as many pieces as rayon has
/// threads, each piece recorded and swept on a thread's own tape. Returns the
/// loss.
///
/// # Panics
/// As [`batch_loss_and_gradient`](crate::nn::batch_loss_and_gradient).
///
/// ```
/// use chainrule::nn::parallel::batch_loss_and_gradient_parallel;
/// use chainrule::nn::{batch_loss_and_gradient, Activation, Dataset, Loss, Mlp};
///
/// let mlp = Mlp::builder(1).layer(4, Activation::Tanh).layer(1, Activation::Identity).build()?;
/// let mut data = Dataset::new(1, 1);
/// for k in 0..64 {
///     data.push(&[k as f64 / 64.0], &[(k % 2) as f64]);
/// }
/// let batch: Vec<usize> = (0..64).collect();
/// let (mut serial, mut parallel) = (Vec::new(), Vec::new());
/// let l1 = batch_loss_and_gradient(&mlp, &data, &batch, 64.0, Loss::MeanSquaredError,
///                                  &mut chainrule::Tape::new(), &mut serial);
/// let l2 = batch_loss_and_gradient_parallel(&mlp, &data, &batch, Loss::MeanSquaredError, &mut parallel);
/// assert!((l1 - l2).abs() <= 1e-12 * l1);
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
#[track_caller]
pub fn batch_loss_and_gradient_parallel(
    mlp: &Mlp,
    data: &Dataset,
    indices: &[usize],
    loss: Loss,
    gradient: &mut Vec<f64>,
) -> f64 {
    check_batch("batch_loss_and_gradient_parallel", mlp, data, indices, loss);
    let pieces = rayon::current_num_threads().max(1);
    batch_loss_and_gradient_pieces(mlp, data, indices, loss, pieces, gradient)
}

/// As [`batch_loss_and_gradient_parallel`], with the batch cut into contiguous
/// pieces of ⌈n / `pieces`⌉ samples each (n the batch's size; the last piece
/// may be shorter), run as rayon tasks: `pieces` pieces or fewer (5 samples
/// asked into 4 pieces are cut 2, 2, 1), at most one per sample.
///
/// # Panics
/// As [`batch_loss_and_gradient`](crate::nn::batch_loss_and_gradient), or if `pieces` is 0.
///
/// ```
/// use chainrule::nn::parallel::batch_loss_and_gradient_pieces;
/// use chainrule::nn::{Activation, Dataset, Loss, Mlp};
///
/// let mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
/// let mut data = Dataset::new(1, 1);
/// data.push(&[1.0], &[1.0]);
/// data.push(&[2.0], &[1.0]);
/// let mut g = Vec::new();
/// let loss = batch_loss_and_gradient_pieces(&mlp, &data, &[0, 1], Loss::MeanSquaredError, 2, &mut g);
/// assert_eq!(g.len(), 2);
/// assert!(loss > 0.0);
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
#[track_caller]
pub fn batch_loss_and_gradient_pieces(
    mlp: &Mlp,
    data: &Dataset,
    indices: &[usize],
    loss: Loss,
    pieces: usize,
    gradient: &mut Vec<f64>,
) -> f64 {
    assert!(pieces > 0, "chainrule: batch_loss_and_gradient_pieces was asked for 0 pieces: a batch is cut into at least one");
    // On the caller's thread, before any piece is handed to a worker: a panic
    // there would reach the caller without its line.
    check_batch("batch_loss_and_gradient_pieces", mlp, data, indices, loss);
    let divisor = indices.len() as f64;
    let piece_len = indices.len().div_ceil(pieces);
    let results: Vec<(f64, Vec<f64>)> = indices
        .par_chunks(piece_len)
        .map(|piece| {
            TAPE.with(|tape| {
                let mut piece_gradient = Vec::new();
                // Checked above; the workers' own tapes are never read for labels.
                let piece_loss = record_batch(
                    mlp,
                    data,
                    piece,
                    divisor,
                    loss,
                    &mut tape.borrow_mut(),
                    &mut piece_gradient,
                    false,
                );
                (piece_loss, piece_gradient)
            })
        })
        .collect();
    gradient.clear();
    gradient.resize(mlp.parameter_count(), 0.0);
    let mut total = 0.0;
    for (piece_loss, piece_gradient) in results {
        total += piece_loss;
        for (g, p) in gradient.iter_mut().zip(piece_gradient) {
            *g += p;
        }
    }
    total
}
