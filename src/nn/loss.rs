//! Losses: how far a network's outputs are from a sample's targets.
//!
//! Each loss is a generic function over [`Scalar`], so the same source computes
//! the value on `f64` (for finite differences, evaluation) and records it on a
//! tape. [`Loss`] names them for the training helper. Every loss here is the loss
//! of **one sample**; a batch's loss is the mean over its samples.

use crate::Scalar;

/// The loss of one sample, by name.
///
/// ```
/// use chainrule::nn::Loss;
///
/// let loss = Loss::HalfSquaredError.evaluate(&[0.75_f64, 0.25], &[1.0, 0.0]);
/// assert_eq!(loss, 0.0625); // ½(0.25² + 0.25²)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Loss {
    /// ½ Σᵢ (oᵢ − tᵢ)², whose derivative is the residual oᵢ − tᵢ. See
    /// [`half_squared_error`].
    HalfSquaredError,
    /// (1/k) Σᵢ (oᵢ − tᵢ)². See [`mean_squared_error`].
    MeanSquaredError,
    /// (1/k) Σᵢ max(0, 1 − tᵢ·oᵢ), labels −1 or 1 (checked). See [`hinge`].
    Hinge,
    /// Binary cross-entropy on logits, targets in [0, 1] (checked). See
    /// [`binary_cross_entropy_with_logits`].
    BinaryCrossEntropyWithLogits,
    /// Cross-entropy of softmax(outputs) against a probability vector: entries
    /// in [0, 1] summing to 1 within [`PROBABILITY_SUM_TOLERANCE`], or k·2⁻²⁴
    /// for k entries where that is more (checked).
    /// See [`softmax_cross_entropy`].
    SoftmaxCrossEntropy,
}

/// How far from 1 the sum of a [`Loss::SoftmaxCrossEntropy`] target vector may
/// be, at least: for k entries the bound is k·2⁻²⁴ where that is more (from
/// 17 entries on). k probabilities computed in `f32` (a softmax normalized by
/// an `f32` sum) and widened are off by up to about k·2⁻²⁴, f32's unit
/// roundoff k times (softmaxes of random logits: up to 3.3e-7 for 10
/// classes, 1.5e-6 for 1,000, 1.1e-5 for 10,000 over 200 draws each), which
/// a fixed 1e-6 refused.
///
/// ```
/// use chainrule::nn::Loss;
/// // 10,000 equal f32 weights normalized by their f32 sum, then widened:
/// let e = vec![0.3_f32; 10_000];
/// let total: f32 = e.iter().sum();
/// let p: Vec<f64> = e.iter().map(|&v| f64::from(v / total)).collect();
/// let off = (p.iter().sum::<f64>() - 1.0).abs();
/// assert!(off > 1e-6 && off < 1e-4); // 9.7e-5
/// assert!(Loss::SoftmaxCrossEntropy.check_targets(&p).is_ok());
/// // Still refused: a multi-hot vector, all zeros.
/// assert!(Loss::SoftmaxCrossEntropy.check_targets(&[1.0, 1.0]).is_err());
/// assert!(Loss::SoftmaxCrossEntropy.check_targets(&[0.0; 10_000]).is_err());
/// ```
pub const PROBABILITY_SUM_TOLERANCE: f64 = 1e-6;

/// f32's unit roundoff, 2⁻²⁴: k probabilities rounded to `f32` and normalized
/// by an `f32` sum are off by up to about k times it in all.
const F32_UNIT_ROUNDOFF: f64 = 5.960464477539063e-8;

/// How far from 1 a softmax cross-entropy target of `k` entries may sum.
fn probability_sum_tolerance(k: usize) -> f64 {
    PROBABILITY_SUM_TOLERANCE.max(k as f64 * F32_UNIT_ROUNDOFF)
}

/// A sample's targets outside the domain its loss is defined on, found by
/// [`Loss::check_targets`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TargetOutOfDomain {
    /// The index of the target in the sample (0-based), or `None` when each
    /// target is in range but together they are not (a softmax cross-entropy
    /// target whose entries do not sum to 1).
    pub index: Option<usize>,
    /// That target's value, or the targets' sum when `index` is `None`.
    pub value: f64,
    /// The loss.
    pub loss: Loss,
}

impl std::fmt::Display for TargetOutOfDomain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.index {
            Some(index) => write!(f, "target {index} is {}", self.value)?,
            None => write!(f, "targets sum to {}", self.value)?,
        }
        write!(f, ", but {}", self.loss.target_domain())
    }
}

impl Loss {
    /// What the loss needs of a sample's targets, as a sentence's end.
    ///
    /// ```
    /// use chainrule::nn::Loss;
    /// assert!(Loss::Hinge.target_domain().contains("labels -1 or 1"));
    /// ```
    #[must_use]
    pub fn target_domain(self) -> &'static str {
        match self {
            Loss::HalfSquaredError | Loss::MeanSquaredError => {
                "the squared errors take any real target"
            }
            Loss::Hinge => {
                "hinge loss needs labels -1 or 1 (a 0/1 label t is 2t - 1 for hinge, or use \
                 binary cross-entropy)"
            }
            Loss::BinaryCrossEntropyWithLogits => {
                "binary cross-entropy needs targets in [0, 1] (a -1/1 label t is (t + 1)/2)"
            }
            Loss::SoftmaxCrossEntropy => {
                "softmax cross-entropy needs a probability vector: entries in [0, 1] summing \
                 to 1 (within 1e-6, or k * 2^-24 for k entries if more; one_hot(class, k) for a class)"
            }
        }
    }

    /// Checks one sample's targets against the loss's domain: hinge's labels
    /// −1 or 1, binary cross-entropy's [0, 1], softmax cross-entropy's
    /// probability vector (entries in [0, 1] summing to 1 within
    /// [`PROBABILITY_SUM_TOLERANCE`], or k·2⁻²⁴ for k entries where that is
    /// more). The squared errors take any target. A
    /// NaN is in no domain; an infinite target of a squared error is left to
    /// [`Trainer`](crate::nn::Trainer)'s [`Error::NonFinite`](crate::nn::Error::NonFinite).
    ///
    /// [`Trainer::train`](crate::nn::Trainer::train) checks every sample before
    /// training; the batch functions and the loss functions check theirs and
    /// panic.
    ///
    /// # Errors
    /// The first target out of the domain, or the sum of a softmax target.
    ///
    /// ```
    /// use chainrule::nn::Loss;
    /// assert!(Loss::Hinge.check_targets(&[1.0, -1.0]).is_ok());
    /// let err = Loss::Hinge.check_targets(&[1.0, 0.0]).unwrap_err();
    /// assert_eq!((err.index, err.value), (Some(1), 0.0));
    /// let err = Loss::SoftmaxCrossEntropy.check_targets(&[1.0, 1.0]).unwrap_err();
    /// assert_eq!((err.index, err.value), (None, 2.0));
    /// ```
    pub fn check_targets(self, targets: &[f64]) -> Result<(), TargetOutOfDomain> {
        let out = |index, value| {
            Err(TargetOutOfDomain {
                index,
                value,
                loss: self,
            })
        };
        let outside = |ok: fn(f64) -> bool| {
            targets
                .iter()
                .enumerate()
                .find(|(_, &t)| !ok(t))
                .map(|(i, &t)| (i, t))
        };
        let bad = match self {
            Loss::HalfSquaredError | Loss::MeanSquaredError => None,
            Loss::Hinge => outside(|t| t == 1.0 || t == -1.0),
            Loss::BinaryCrossEntropyWithLogits | Loss::SoftmaxCrossEntropy => {
                outside(|t| (0.0..=1.0).contains(&t))
            }
        };
        if let Some((i, t)) = bad {
            return out(Some(i), t);
        }
        if self == Loss::SoftmaxCrossEntropy {
            let total: f64 = targets.iter().sum();
            if (total - 1.0).abs() > probability_sum_tolerance(targets.len()) {
                return out(None, total);
            }
        }
        Ok(())
    }

    /// The loss of one sample whose network outputs are `outputs`.
    ///
    /// # Panics
    /// If `outputs` is empty or `targets.len() != outputs.len()`, or if a
    /// target is outside the loss's domain (see [`check_targets`](Loss::check_targets)).
    ///
    /// ```
    /// use chainrule::{nn::Loss, Tape};
    /// let tape = Tape::new();
    /// let z = tape.var(0.0);
    /// let l = Loss::BinaryCrossEntropyWithLogits.evaluate(&[z], &[1.0]);
    /// assert!((l.value() - 2f64.ln()).abs() < 1e-15);
    /// assert_eq!(l.backward()[z], -0.5); // σ(0) − 1
    /// ```
    #[track_caller]
    pub fn evaluate<T: Scalar>(self, outputs: &[T], targets: &[f64]) -> T {
        match self {
            Loss::HalfSquaredError => half_squared_error(outputs, targets),
            Loss::MeanSquaredError => mean_squared_error(outputs, targets),
            Loss::Hinge => hinge(outputs, targets),
            Loss::BinaryCrossEntropyWithLogits => {
                binary_cross_entropy_with_logits(outputs, targets)
            }
            Loss::SoftmaxCrossEntropy => softmax_cross_entropy(outputs, targets),
        }
    }
}

/// Panics, naming `caller`, if `targets` are outside `loss`'s domain.
#[track_caller]
fn check_domain(caller: &str, loss: Loss, targets: &[f64]) {
    if let Err(e) = loss.check_targets(targets) {
        panic!("chainrule: {caller} was given targets out of its domain: {e}");
    }
}

#[track_caller]
fn check<T>(outputs: &[T], targets: &[f64]) {
    assert!(
        !outputs.is_empty(),
        "chainrule: a loss was given no outputs: it needs at least one"
    );
    assert!(
        outputs.len() == targets.len(),
        "chainrule: a loss was given {} {} but {} {}",
        outputs.len(),
        crate::plural(outputs.len(), "output", "outputs"),
        targets.len(),
        crate::plural(targets.len(), "target", "targets")
    );
}

/// Σ of the terms, left to right; a single term is returned as is (no node).
/// `T::sum`, not `Iterator::sum`: the latter is not `#[track_caller]`, so a
/// full tape would panic inside the standard library.
#[track_caller]
fn sum<T: Scalar>(mut terms: impl ExactSizeIterator<Item = T>) -> T {
    if terms.len() == 1 {
        terms.next().expect("one term")
    } else {
        <T as std::iter::Sum<T>>::sum(terms)
    }
}

/// The mean of the terms; a single term is returned as is (no node).
#[track_caller]
fn mean<T: Scalar>(terms: impl ExactSizeIterator<Item = T>) -> T {
    let n = terms.len();
    let total = sum(terms);
    if n == 1 {
        total
    } else {
        total / n as f64
    }
}

/// Half squared error E = ½ Σᵢ (oᵢ − tᵢ)²: the ½ makes its derivative the plain
/// residual.
///
/// Derivative: ∂E/∂oᵢ = oᵢ − tᵢ.
///
/// # Panics
/// If `outputs` is empty or `targets.len() != outputs.len()`.
///
/// ```
/// use chainrule::nn::loss::half_squared_error;
/// assert_eq!(half_squared_error(&[3.0_f64], &[1.0]), 2.0);
/// ```
#[track_caller]
pub fn half_squared_error<T: Scalar>(outputs: &[T], targets: &[f64]) -> T {
    check(outputs, targets);
    // One node on a tape; the same value as Σ (o − t)²·0.5 summed left to right.
    T::half_squared_error(outputs, targets)
}

/// Mean squared error (1/k) Σᵢ (oᵢ − tᵢ)² over the k outputs.
///
/// Derivative: ∂/∂oᵢ = 2(oᵢ − tᵢ)/k. For one output this is (o − t)², the squared
/// residual.
///
/// # Panics
/// If `outputs` is empty or `targets.len() != outputs.len()`.
///
/// ```
/// use chainrule::nn::loss::mean_squared_error;
/// assert_eq!(mean_squared_error(&[3.0_f64, 1.0], &[1.0, 1.0]), 2.0);
/// ```
#[track_caller]
pub fn mean_squared_error<T: Scalar>(outputs: &[T], targets: &[f64]) -> T {
    check(outputs, targets);
    // One node on a tape; the same value as (Σ (o − t)²) / k summed left to right.
    T::mean_squared_error(outputs, targets)
}

/// The hinge (max-margin) loss (1/k) Σᵢ max(0, 1 − tᵢ·oᵢ) for labels tᵢ = ±1, as
/// in micrograd's moons demo: zero once a score is on the right side by a margin
/// of 1.
///
/// Derivative: ∂/∂oᵢ = −tᵢ/k where 1 − tᵢ·oᵢ > 0, else 0 (0 exactly at the
/// margin, following relu'(0) = 0).
///
/// # Panics
/// If `outputs` is empty or `targets.len() != outputs.len()`, or if a target
/// is not −1 or 1 (0/1 labels would train a wrong model without a word: a
/// label 0 contributes max(0, 1) = 1 whatever the score, with gradient 0).
///
/// ```
/// use chainrule::nn::loss::hinge;
/// assert_eq!(hinge(&[0.25_f64], &[1.0]), 0.75);
/// assert_eq!(hinge(&[-2.0_f64], &[-1.0]), 0.0);
/// ```
#[track_caller]
pub fn hinge<T: Scalar>(outputs: &[T], targets: &[f64]) -> T {
    check(outputs, targets);
    check_domain("hinge", Loss::Hinge, targets);
    // Recorded in a loop, not a closure, which would not pass the caller's
    // line on to a full tape's panic; the same nodes in the same order.
    let mut terms = Vec::with_capacity(outputs.len());
    for (&o, &t) in outputs.iter().zip(targets) {
        terms.push((o * -t + 1.0).relu());
    }
    mean(terms.into_iter())
}

/// Binary cross-entropy on logits, (1/k) Σᵢ [−tᵢ ln σ(zᵢ) − (1 − tᵢ) ln(1 − σ(zᵢ))],
/// for targets tᵢ in [0, 1].
///
/// Computed as t·softplus(−z) + (1 − t)·softplus(z) (only the first term for
/// t = 1, only the second for t = 0), where softplus(z) = max(z, 0) + ln(1 +
/// e^−|z|) never overflows: finite for any finite logit (|z| = 1000 is fine),
/// where σ then ln would give ln(0) = −∞. The same value as the usual
/// softplus(z) − z·t, without its cancellation: at z = 40, t = 1 that form
/// gives 0 (softplus(40) rounds to 40), this one e^−40 ≈ 4.2e-18, to full
/// precision (as PyTorch's `BCEWithLogitsLoss`).
///
/// Derivative: ∂/∂zᵢ = (σ(zᵢ) − tᵢ)/k.
///
/// # Panics
/// If `outputs` is empty or `targets.len() != outputs.len()`, or if a target
/// is outside [0, 1] (a −1 label would make the loss unbounded below).
///
/// ```
/// use chainrule::nn::loss::binary_cross_entropy_with_logits;
/// assert_eq!(binary_cross_entropy_with_logits(&[1000.0_f64], &[1.0]), 0.0);
/// assert_eq!(binary_cross_entropy_with_logits(&[-1000.0_f64], &[1.0]), 1000.0);
/// ```
#[track_caller]
pub fn binary_cross_entropy_with_logits<T: Scalar>(logits: &[T], targets: &[f64]) -> T {
    check(logits, targets);
    check_domain(
        "binary_cross_entropy_with_logits",
        Loss::BinaryCrossEntropyWithLogits,
        targets,
    );
    // In a loop, as in `hinge`.
    let mut terms = Vec::with_capacity(logits.len());
    for (&z, &t) in logits.iter().zip(targets) {
        terms.push(if t == 0.0 {
            z.softplus()
        } else if t == 1.0 {
            (-z).softplus()
        } else {
            (-z).softplus() * t + z.softplus() * (1.0 - t)
        });
    }
    mean(terms.into_iter())
}

/// Softmax cross-entropy over k classes: −Σᵢ tᵢ ln softmax(z)ᵢ, for a target
/// probability vector t (one-hot for a hard label, see [`one_hot`]).
///
/// ln softmax(z)ᵢ = zᵢ − lse(z), the log-sum-exp one
/// [`logsumexp`](crate::Var::logsumexp) node, which subtracts the largest logit
/// m: lse(z) = m + ln Σⱼ e^(zⱼ − m), so no exponential overflows. For a hard
/// label (one t꜀ ≠ 0, the rest 0) the loss is t꜀·lse(z − z꜀), over the k
/// differences zⱼ − z꜀ (k + 1 nodes): exact where z꜀ is the largest logit
/// (at z = (20, 0), c = 0, 2.0611536e-9 to full precision, where lse(z) − z꜀
/// rounds at the ulps of 20: 3e-7 off relatively, 0 at z = (1e9 + 20, 1e9)).
/// Soft targets take Σᵢ tᵢ (lse(z) − zᵢ), one lse node, which rounds so.
/// m is found
/// afresh at every evaluation, also when a compiled program replays the loss
/// at new logits ([`Trainer::replay`](crate::nn::Trainer::replay)): nothing
/// read from a value while recording is frozen into the loss. Classes with
/// tᵢ = 0 record nothing.
///
/// Derivative: ∂/∂zⱼ = softmax(z)ⱼ·Σᵢ tᵢ − tⱼ, that is softmax(z)ⱼ − tⱼ when t
/// sums to 1.
///
/// # Panics
/// If `logits` is empty or `targets.len() != logits.len()`, or if `targets`
/// is not a probability vector: an entry outside [0, 1] (a negative weight
/// makes the loss unbounded below), or entries whose sum is not 1 within
/// [`PROBABILITY_SUM_TOLERANCE`], or k·2⁻²⁴ for k classes where that is more
/// (all zeros, a multi-hot vector, a class
/// number instead of [`one_hot`]).
///
/// ```
/// use chainrule::nn::loss::{one_hot, softmax_cross_entropy};
/// let l = softmax_cross_entropy(&[0.0_f64, 0.0, 0.0], &one_hot(1, 3));
/// assert!((l - 3f64.ln()).abs() < 1e-15);
/// // no overflow for large logits
/// assert_eq!(softmax_cross_entropy(&[1000.0_f64, 0.0], &one_hot(0, 2)), 0.0);
/// ```
#[track_caller]
pub fn softmax_cross_entropy<T: Scalar>(logits: &[T], targets: &[f64]) -> T {
    check(logits, targets);
    check_domain("softmax_cross_entropy", Loss::SoftmaxCrossEntropy, targets);
    // Each loss is one logsumexp node, which recomputes its own shift when
    // replayed: a shift read here as an f64 would be frozen into a compiled
    // program (and overflow e^(z − m) once the logits moved ~709 past it).
    let mut nonzero = targets.iter().enumerate().filter(|&(_, &t)| t != 0.0);
    if let (Some((c, &t)), None) = (nonzero.next(), nonzero.next()) {
        // A hard label (t꜀ = 1, or within the sum's tolerance of it): lse(z) − z꜀
        // as lse(z − z꜀), whose term z꜀ − z꜀ = 0 is exact; no cancellation.
        let z_c = logits[c];
        let shifted: Vec<T> = logits.iter().map(|&z| z - z_c).collect();
        let loss = T::logsumexp(&shifted);
        return if t == 1.0 { loss } else { loss * t };
    }
    let log_sum_exp = T::logsumexp(logits);
    let mut terms = Vec::new();
    for (&z, &t) in logits.iter().zip(targets) {
        if t != 0.0 {
            terms.push((log_sum_exp - z) * t);
        }
    }
    // Not empty: the targets sum to 1 (checked above), so one is above 0.
    sum(terms.into_iter())
}

/// The one-hot probability vector of `class` among `classes`.
///
/// # Panics
/// If `class >= classes`.
///
/// ```
/// assert_eq!(chainrule::nn::loss::one_hot(2, 3), vec![0.0, 0.0, 1.0]);
/// ```
#[track_caller]
#[must_use]
pub fn one_hot(class: usize, classes: usize) -> Vec<f64> {
    assert!(
        class < classes,
        "chainrule: one_hot was given class {class} of {classes} {} (classes count from 0)",
        crate::plural(classes, "class", "classes"),
    );
    let mut v = vec![0.0; classes];
    v[class] = 1.0;
    v
}
