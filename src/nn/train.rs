//! [`Trainer`]: epochs, mini-batches, loss history, early stop, progress bar.

use std::collections::HashMap;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rand_core::Rng;

use crate::nn::batch::{check_batch, record_batch};
use crate::nn::init::generator;
use crate::nn::{BadData, Dataset, Error, Loss, Mlp, NonFiniteQuantity, Optimizer};
use crate::replay::Program;
use crate::{Tape, Var};

/// Trains an [`Mlp`] on a [`Dataset`]: a loss, an optimizer, and how to go
/// through the data.
///
/// Each epoch goes through the data in batches (the whole dataset by default;
/// in order, or shuffled from a seed). For each batch: the mean loss over its
/// samples, one reverse sweep, one optimizer step. An epoch's recorded loss is
/// the mean of its samples' losses as measured during the epoch, each before its
/// batch's update; for full-batch training that is the loss of the parameters
/// at the start of the epoch.
///
/// A progress bar (indicatif, on stderr) shows the number of epochs completed
/// and the last loss. It draws only when stderr is a terminal, and never after
/// [`quiet`](Trainer::quiet).
///
/// Epochs are counted from 0 wherever one is named: epoch 0 is the first, as
/// in [`Error::NonFinite`]'s `epoch` and its message ("training stopped in
/// epoch 0 (counting from 0)") and in the crate's examples. Counts are counts:
/// a run of [`TrainReport::epochs`] = 723 epochs ends with epoch 722.
///
/// ```
/// use chainrule::nn::{Activation, Dataset, Loss, Mlp, Sgd, Trainer};
///
/// let mut mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
/// let mut data = Dataset::new(1, 1);
/// for x in [0.0, 1.0, 2.0] {
///     data.push(&[x], &[3.0 * x - 1.0]); // y = 3x − 1
/// }
/// let report = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
///     .epochs(5000)
///     .target_loss(1e-12)
///     .quiet()
///     .train(&mut mlp, &data)?;
/// assert!(report.stopped_early);
/// assert!(report.final_loss().unwrap() <= 1e-12);
/// assert!((mlp.parameters()[0] - 3.0).abs() < 1e-5);
/// # Ok::<(), chainrule::nn::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Trainer<O> {
    loss: Loss,
    optimizer: O,
    epochs: usize,
    batch_size: Option<usize>,
    shuffle_seed: Option<u64>,
    target_loss: Option<f64>,
    quiet: bool,
    replay: bool,
    #[cfg(feature = "parallel")]
    parallel: bool,
    /// The number of parameters of the network this trainer's optimizer last
    /// stepped, if it has stepped one (its state is per parameter).
    stepped: Option<usize>,
    /// The loss of every epoch the last `train` call completed (see
    /// [`Trainer::completed_losses`]).
    completed: Vec<f64>,
}

/// What a training run did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    /// The loss of every epoch run, in order (see [`Trainer`] for what it is).
    pub losses: Vec<f64>,
    /// Whether training stopped at the target loss before the last epoch.
    pub stopped_early: bool,
}

impl TrainReport {
    /// The loss of the last epoch run, if any.
    ///
    /// ```
    /// let r = chainrule::nn::TrainReport { losses: vec![2.0, 1.0], stopped_early: false };
    /// assert_eq!(r.final_loss(), Some(1.0));
    /// ```
    #[must_use]
    pub fn final_loss(&self) -> Option<f64> {
        self.losses.last().copied()
    }

    /// The number of epochs run.
    ///
    /// ```
    /// let r = chainrule::nn::TrainReport { losses: vec![2.0, 1.0], stopped_early: false };
    /// assert_eq!(r.epochs(), 2);
    /// ```
    #[must_use]
    pub fn epochs(&self) -> usize {
        self.losses.len()
    }
}

impl<O: Optimizer> Trainer<O> {
    /// A trainer minimising `loss` with `optimizer`: 1 epoch, full batch, in
    /// order, no target, progress bar on.
    #[must_use]
    pub fn new(loss: Loss, optimizer: O) -> Self {
        Trainer {
            loss,
            optimizer,
            epochs: 1,
            batch_size: None,
            shuffle_seed: None,
            target_loss: None,
            quiet: false,
            replay: false,
            #[cfg(feature = "parallel")]
            parallel: false,
            stepped: None,
            completed: Vec::new(),
        }
    }

    /// The number of epochs (passes over the data).
    #[must_use]
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// Mini-batches of `batch_size` samples (the last may be smaller). The
    /// default is the full dataset as one batch.
    #[must_use]
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = Some(batch_size);
        self
    }

    /// Shuffles the samples at the start of every epoch (Fisher–Yates, from a
    /// SplitMix64 seeded with `seed`: the same seed, the same run). Each
    /// [`train`](Trainer::train) call starts from the seed and the samples' own
    /// order again, so calls of one epoch each shuffle alike.
    #[must_use]
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle_seed = Some(seed);
        self
    }

    /// Stops after the first epoch whose loss is at or below `target`. A NaN
    /// target is refused by [`train`](Trainer::train) ([`Error::InvalidConfig`]).
    #[must_use]
    pub fn target_loss(mut self, target: f64) -> Self {
        self.target_loss = Some(target);
        self
    }

    /// No progress bar, even on a terminal.
    #[must_use]
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    /// Records each batch once and replays it ([`crate::replay`]): the first time
    /// a batch (the same samples in the same order) is met, its loss is recorded
    /// and compiled; each later time only the parameters are set and the program
    /// is run forward and backward. Every value is the recording's own (the
    /// losses recompute what they read from values, such as softmax
    /// cross-entropy's shift, at each replay); a gradient may differ from
    /// re-recorded training's where a fused weighted sum adds contributions in
    /// another order, by the rounding of that sum (the last bits, unless the
    /// contributions cancel: see [`crate::replay`]). Step for step that is rounding (the
    /// tests hold losses and parameters to 1e-12 after each call), but the
    /// differences compound over many epochs where training is chaotic: an
    /// audit saw full-batch Adam on a spiral 2e-13 apart after 100 epochs and
    /// 6e-4 after 1,000 (each step 1e-16 to 1e-15 apart). Compare runs with a
    /// tolerance, not to the bit.
    ///
    /// It pays where the same batches recur: full-batch training, or mini-batches
    /// without [`shuffle`](Trainer::shuffle). Shuffled batches differ every epoch,
    /// so each would be recorded and compiled for one use: slower than plain
    /// recording. Programs are kept for one [`train`](Trainer::train) call (at
    /// most 64; past that the oldest are dropped, so with more than 64
    /// batches an epoch each batch is dropped before it recurs and is recorded
    /// and compiled again every epoch, which is slower than plain recording
    /// too). Ignored with `parallel`.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Dataset, Loss, Mlp, Sgd, Trainer};
    ///
    /// let mut mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
    /// let mut data = Dataset::new(1, 1);
    /// for x in [0.0, 1.0, 2.0] {
    ///     data.push(&[x], &[3.0 * x - 1.0]);
    /// }
    /// let report = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1))
    ///     .epochs(2000)
    ///     .replay()
    ///     .quiet()
    ///     .train(&mut mlp, &data)?;
    /// assert!(report.final_loss().unwrap() < 1e-12);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn replay(mut self) -> Self {
        self.replay = true;
        self
    }

    /// Computes each batch's gradient data-parallel over rayon's threads (see
    /// [`parallel`](crate::nn::parallel)). Losses and gradients equal the
    /// serial ones up to rounding: the pieces' sums are added in another order
    /// (64 samples in 4 pieces: a mean squared error of 0.3021942669335016
    /// serially, 0.30219426693350154 in pieces). The pieces are one per rayon
    /// thread, so a run repeats bit for bit on the same number of threads, and
    /// on another number it differs in the last bits (one thread is the serial
    /// run exactly).
    #[cfg(feature = "parallel")]
    #[must_use]
    pub fn parallel(mut self) -> Self {
        self.parallel = true;
        self
    }

    /// The optimizer, with its state after training.
    #[must_use]
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The loss of every epoch the last [`train`](Trainer::train) call
    /// completed, in order: its [`TrainReport::losses`] when it returned `Ok`;
    /// when it returned [`Error::NonFinite`], the epochs completed before the
    /// failure (the history is not lost with the run); empty before the first
    /// call and after an error found before any step.
    ///
    /// ```
    /// use chainrule::nn::{Activation, Dataset, Error, Loss, Mlp, Sgd, Trainer};
    ///
    /// let mut mlp = Mlp::builder(1).layer(1, Activation::Identity).build()?;
    /// mlp.set_parameters(&[0.5, 0.5])?;
    /// let mut data = Dataset::new(1, 1);
    /// data.push(&[1.0], &[0.0]);
    /// // A learning rate that diverges: the loss grows until it overflows.
    /// let mut trainer = Trainer::new(Loss::MeanSquaredError, Sgd::new(2.0)).quiet().epochs(5_000);
    /// let Err(Error::NonFinite { epoch, .. }) = trainer.train(&mut mlp, &data) else {
    ///     panic!("expected the run to diverge");
    /// };
    /// assert_eq!(trainer.completed_losses().len(), epoch);
    /// assert!(trainer.completed_losses().windows(2).all(|w| w[1] > w[0]));
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    #[must_use]
    pub fn completed_losses(&self) -> &[f64] {
        &self.completed
    }

    /// Trains `mlp` on `data` (the trainer's optimizer state carries over to the
    /// next call).
    ///
    /// # Non-finite losses and gradients
    ///
    /// Training stops at the first batch whose loss or gradient is NaN or
    /// infinite (a NaN in the data, a learning rate that diverges), **before**
    /// the optimizer sees it: the parameters and the optimizer's state (momentum
    /// velocities, Adam's moments and step count) are exactly as they were before
    /// that step. The batch's samples are then recorded again one at a time, on
    /// a labelled tape ([`Mlp::bind`]), to name the first culprit and the
    /// first non-finite node ([`Tape::find_anomaly`]) in [`Error::NonFinite`];
    /// the losses of the epochs completed before the failure (the history the
    /// [`TrainReport`] would have held) stay readable with
    /// [`completed_losses`](Trainer::completed_losses).
    /// Should a step from a finite gradient overflow a parameter, or the
    /// optimizer's own state ([`Optimizer::state_is_finite`]: a gradient past
    /// about 4.2e155 overflows Adam's second moment, which would then hold the
    /// parameter still for good), the parameters and the optimizer's state are
    /// restored too (saved before each step with
    /// [`Optimizer::save_state`]; an optimizer of your own that does not
    /// implement it has then taken the step). The checks cost one pass over the
    /// gradient and over the optimizer's state, and a copy of the parameters
    /// and of the optimizer's state per batch (into buffers reused from step
    /// to step).
    ///
    /// ```
    /// use chainrule::nn::{Activation, Dataset, Error, Loss, Mlp, Sgd, Trainer};
    ///
    /// let mut mlp = Mlp::builder(1).layer(1, Activation::Sigmoid).build()?;
    /// let mut data = Dataset::new(1, 1);
    /// data.push(&[1.0], &[0.0]);
    /// data.push(&[f64::NAN], &[1.0]); // a corrupt sample
    /// let before = mlp.clone();
    /// let mut trainer = Trainer::new(Loss::MeanSquaredError, Sgd::new(0.1)).quiet();
    /// let err = trainer.train(&mut mlp, &data).unwrap_err();
    /// assert!(matches!(err, Error::NonFinite { epoch: 0, sample: Some(1), .. }));
    /// assert!(trainer.completed_losses().is_empty()); // no epoch completed before epoch 0
    /// assert!(err.to_string().contains("layer1.neuron0.out"), "{err}");
    /// assert_eq!(mlp, before);
    /// # Ok::<(), chainrule::nn::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::WidthMismatch`] if the data's widths do not fit the network
    /// (targets must be as many as outputs); [`Error::InvalidConfig`] for empty
    /// data, a batch size of 0, a NaN target loss, or a network of another number of parameters
    /// than the one this trainer's optimizer has stepped and holds state for
    /// (momentum's velocities, Adam's moments; plain [`Sgd`](crate::nn::Sgd)
    /// holds none and trains any network); [`Error::TargetOutOfDomain`] for
    /// the first sample whose targets the loss is not defined on
    /// ([`Loss::check_targets`]: hinge's labels −1 or 1, binary
    /// cross-entropy's [0, 1], softmax cross-entropy's probability vector; a
    /// NaN target of these losses is reported here, one of the squared errors
    /// by `NonFinite`), naming the sample, the target, its value and what the
    /// loss needs; [`Error::NonFinite`] as above (the losses of the epochs
    /// completed before it: [`completed_losses`](Trainer::completed_losses)).
    /// `WidthMismatch`, `InvalidConfig` and
    /// `TargetOutOfDomain` are found before any step (one pass over the
    /// targets per call), so nothing has changed then; after `NonFinite` the
    /// network and the optimizer are as they were before the step that failed.
    ///
    /// # Panics
    /// If the optimizer given to [`Trainer::new`] had already stepped
    /// parameters of another number than the network's ([`Optimizer::step`]
    /// panics: the trainer knows only the steps it took).
    pub fn train(&mut self, mlp: &mut Mlp, data: &Dataset) -> Result<TrainReport, Error> {
        self.completed.clear();
        self.check(mlp, data)?;
        let n = data.len();
        let batch_size = self.batch_size.unwrap_or(n).min(n);
        let mut order: Vec<usize> = (0..n).collect();
        let mut rng = self.shuffle_seed.map(generator);
        let mut tape = Tape::new();
        let mut gradient = Vec::with_capacity(mlp.parameter_count());
        let mut before = Vec::with_capacity(mlp.parameter_count());
        let mut optimizer_before = Vec::new();
        let mut programs = Programs::default();
        let progress = self.progress_bar();
        let mut report = TrainReport {
            // Reserved for at most MAX_RESERVED_EPOCHS and grown past that: a
            // huge `epochs` with a target loss stops early, and reserving it
            // all overflowed the capacity or aborted on the allocation.
            losses: Vec::with_capacity(self.epochs.min(MAX_RESERVED_EPOCHS)),
            stopped_early: false,
        };
        for epoch in 0..self.epochs {
            if let Some(rng) = rng.as_mut() {
                shuffle(&mut order, rng);
            }
            let batches = order.chunks(batch_size);
            let single_batch = batches.len() == 1;
            let mut weighted_sum = 0.0;
            let mut scaled_sum = 0.0;
            let mut epoch_loss = 0.0;
            for batch in batches {
                let loss = self.batch(mlp, data, batch, &mut tape, &mut gradient, &mut programs);
                if !loss.is_finite() || !gradient.iter().all(|g| g.is_finite()) {
                    progress.finish_and_clear();
                    self.completed = std::mem::take(&mut report.losses);
                    return Err(self.diagnose(mlp, data, batch, epoch, loss.is_finite()));
                }
                before.clear();
                before.extend_from_slice(mlp.parameters());
                let saved = self.optimizer.save_state(&mut optimizer_before);
                self.optimizer.step(mlp.parameters_mut(), &gradient);
                if !mlp.parameters().iter().all(|p| p.is_finite())
                    || !self.optimizer.state_is_finite()
                {
                    mlp.parameters_mut().copy_from_slice(&before);
                    if saved {
                        self.optimizer.restore_state(&optimizer_before);
                    }
                    progress.finish_and_clear();
                    self.completed = std::mem::take(&mut report.losses);
                    return Err(Error::NonFinite {
                        epoch,
                        sample: None,
                        quantity: NonFiniteQuantity::Update,
                        anomaly: None,
                        data: None,
                    });
                }
                self.stepped = Some(mlp.parameter_count());
                weighted_sum += loss * batch.len() as f64;
                scaled_sum += loss * (batch.len() as f64 / n as f64);
                epoch_loss = loss;
            }
            if !single_batch {
                epoch_loss = weighted_sum / n as f64;
                if !epoch_loss.is_finite() {
                    // Finite batch losses whose weighted sum overflowed: their
                    // mean is finite, summed from terms each weighted first.
                    epoch_loss = scaled_sum;
                }
            }
            report.losses.push(epoch_loss);
            progress.set_position(epoch as u64 + 1);
            progress.set_message(format!("loss {epoch_loss:.6e}"));
            if self.target_loss.is_some_and(|t| epoch_loss <= t) {
                report.stopped_early = epoch + 1 < self.epochs;
                break;
            }
        }
        progress.finish_and_clear();
        self.completed.clone_from(&report.losses);
        Ok(report)
    }

    fn batch(
        &self,
        mlp: &Mlp,
        data: &Dataset,
        batch: &[usize],
        tape: &mut Tape,
        gradient: &mut Vec<f64>,
        programs: &mut Programs,
    ) -> f64 {
        #[cfg(feature = "parallel")]
        if self.parallel {
            return crate::nn::parallel::batch_loss_and_gradient_parallel(
                mlp, data, batch, self.loss, gradient,
            );
        }
        if self.replay {
            return programs.run(mlp, data, batch, self.loss, tape, gradient);
        }
        let divisor = batch.len() as f64;
        // The trainer's own tape: nobody reads its labels (`diagnose` records a
        // failed batch again on a labelled one).
        check_batch("batch_loss_and_gradient", mlp, data, batch, self.loss);
        record_batch(mlp, data, batch, divisor, self.loss, tape, gradient, false)
    }

    /// The error for a batch whose loss (or, if `loss_finite`, gradient) is not
    /// finite: its samples recorded again one at a time on a labelled tape, the
    /// first non-finite one named with its first non-finite node.
    fn diagnose(
        &self,
        mlp: &Mlp,
        data: &Dataset,
        batch: &[usize],
        epoch: usize,
        loss_finite: bool,
    ) -> Error {
        for &sample in batch {
            let tape = Tape::new();
            let net = mlp.bind(&tape);
            let (inputs, targets) = data.sample(sample);
            let loss = net.loss(self.loss, &net.forward(inputs), targets);
            let quantity = if !loss.value().is_finite() {
                NonFiniteQuantity::Loss
            } else if !net.gradient(&loss.backward()).iter().all(|g| g.is_finite()) {
                NonFiniteQuantity::Gradient
            } else {
                continue;
            };
            return Error::NonFinite {
                epoch,
                sample: Some(sample),
                quantity,
                anomaly: tape.find_anomaly().map(Box::new),
                data: BadData::find(inputs, targets),
            };
        }
        Error::NonFinite {
            epoch,
            sample: None,
            quantity: if loss_finite {
                NonFiniteQuantity::Gradient
            } else {
                NonFiniteQuantity::Loss
            },
            anomaly: None,
            data: None,
        }
    }

    fn check(&self, mlp: &Mlp, data: &Dataset) -> Result<(), Error> {
        if data.input_width() != mlp.inputs() {
            return Err(Error::WidthMismatch {
                what: "inputs",
                expected: mlp.inputs(),
                found: data.input_width(),
            });
        }
        if data.target_width() != mlp.outputs() {
            return Err(Error::WidthMismatch {
                what: "targets",
                expected: mlp.outputs(),
                found: data.target_width(),
            });
        }
        if data.is_empty() {
            return Err(Error::InvalidConfig("the dataset is empty".into()));
        }
        if self.batch_size == Some(0) {
            return Err(Error::InvalidConfig("a batch size of 0".into()));
        }
        if self.target_loss.is_some_and(f64::is_nan) {
            // No loss is at or below NaN: early stopping was off in silence.
            return Err(Error::InvalidConfig(
                "a target loss of NaN (no loss is at or below it, so training would never \
                 stop early)"
                    .into(),
            ));
        }
        // One pass over the targets per call, before any step.
        for (sample, (_, targets)) in data.iter().enumerate() {
            if let Err(target) = self.loss.check_targets(targets) {
                return Err(Error::TargetOutOfDomain { sample, target });
            }
        }
        if let Some(stepped) = self.stepped {
            let mut state = Vec::new();
            let has_state = self.optimizer.save_state(&mut state) && !state.is_empty();
            if stepped != mlp.parameter_count() && has_state {
                return Err(Error::InvalidConfig(format!(
                    "this trainer's optimizer holds its state (velocities, moments) for a \
                     network of {stepped} parameters, from an earlier train call, and this \
                     network has {}: train it with a new Trainer",
                    mlp.parameter_count()
                )));
            }
        }
        Ok(())
    }

    fn progress_bar(&self) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(
            Some(self.epochs as u64),
            if self.quiet {
                ProgressDrawTarget::hidden()
            } else {
                // Draws nothing when stderr is not a terminal.
                ProgressDrawTarget::stderr()
            },
        );
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {pos}/{len} epochs {msg} [{elapsed}<{eta}]")
        {
            bar.set_style(style);
        }
        bar
    }
}

/// The most epochs' losses `train` reserves room for up front (the history
/// grows past it as needed).
const MAX_RESERVED_EPOCHS: usize = 1 << 16;

/// The most programs [`Trainer::replay`] keeps in one `train` call.
const MAX_PROGRAMS: usize = 64;

/// The batches compiled by [`Trainer::replay`] in one `train` call, by their
/// samples: each program, and the input position of each trainable parameter.
#[derive(Default)]
struct Programs {
    compiled: HashMap<Vec<usize>, (Program, Vec<usize>)>,
    /// The batches in the order they were compiled (the oldest is dropped first).
    order: Vec<Vec<usize>>,
}

impl Programs {
    /// The batch's mean loss and gradient, as `batch_loss_and_gradient` computes
    /// them, from the batch's program (recorded and compiled the first time).
    fn run(
        &mut self,
        mlp: &Mlp,
        data: &Dataset,
        batch: &[usize],
        loss: Loss,
        tape: &mut Tape,
        gradient: &mut Vec<f64>,
    ) -> f64 {
        if !self.compiled.contains_key(batch) {
            if self.order.len() == MAX_PROGRAMS {
                let oldest = self.order.remove(0);
                self.compiled.remove(&oldest);
            }
            let compiled = Self::compile(mlp, data, batch, loss, tape);
            self.compiled.insert(batch.to_vec(), compiled);
            self.order.push(batch.to_vec());
        }
        let (program, positions) = self
            .compiled
            .get_mut(batch)
            .expect("the batch was compiled just above");
        for (&position, &p) in positions.iter().zip(mlp.parameters()) {
            program.inputs_mut()[position] = p;
        }
        program.forward();
        if program.output(0).is_infinite() {
            // The program sums the losses, then divides: where that sum
            // overflows (finite losses whose mean may be finite), the batch is
            // recorded as plain training records it, dividing each loss first.
            return record_batch(
                mlp,
                data,
                batch,
                batch.len() as f64,
                loss,
                tape,
                gradient,
                false,
            );
        }
        program.backward();
        gradient.clear();
        gradient.extend(positions.iter().map(|&k| program.gradients()[k]));
        program.output(0)
    }

    /// Records the batch's mean loss as `batch_loss_and_gradient` does, on a tape
    /// that keeps its constants, and compiles it.
    fn compile(
        mlp: &Mlp,
        data: &Dataset,
        batch: &[usize],
        loss: Loss,
        tape: &mut Tape,
    ) -> (Program, Vec<usize>) {
        tape.clear();
        tape.set_keep_constants(true);
        let net = mlp.bind_unlabelled(tape);
        let losses: Vec<Var> = batch
            .iter()
            .map(|&i| {
                let (inputs, targets) = data.sample(i);
                loss.evaluate(&net.forward(inputs), targets)
            })
            .collect();
        let total = losses.into_iter().sum::<Var>() / batch.len() as f64;
        let program = tape
            .compile(&[total])
            .expect("a tape that keeps its constants compiles");
        let positions = net
            .parameters()
            .iter()
            .map(|p| {
                program
                    .input_position(p.index())
                    .expect("every parameter is a leaf of the recording")
            })
            .collect();
        (program, positions)
    }
}

/// Fisher–Yates: for i from the end, swap i with a uniform j ≤ i.
fn shuffle(order: &mut [usize], rng: &mut impl Rng) {
    for i in (1..order.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
}
