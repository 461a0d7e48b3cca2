//! [`Dataset`]: samples (inputs and targets) stored flat.

/// Training samples: each a row of inputs and a row of targets, all of the same
/// widths, stored flat.
///
/// ```
/// use chainrule::nn::Dataset;
///
/// let mut xor = Dataset::new(2, 1);
/// xor.push(&[0.0, 1.0], &[1.0]);
/// assert_eq!(xor.len(), 1);
/// assert_eq!(xor.sample(0), (&[0.0, 1.0][..], &[1.0][..]));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Dataset {
    input_width: usize,
    target_width: usize,
    /// The number of samples (counted: with no inputs or no targets per
    /// sample, the stored values cannot tell it).
    len: usize,
    inputs: Vec<f64>,
    targets: Vec<f64>,
}

impl Dataset {
    /// An empty dataset of samples with `input_width` inputs and `target_width`
    /// targets each.
    ///
    /// ```
    /// let data = chainrule::nn::Dataset::new(2, 3);
    /// assert!(data.is_empty());
    /// assert_eq!((data.input_width(), data.target_width()), (2, 3));
    /// ```
    #[must_use]
    pub fn new(input_width: usize, target_width: usize) -> Self {
        Dataset {
            input_width,
            target_width,
            len: 0,
            inputs: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Appends one sample.
    ///
    /// # Panics
    /// If `inputs` or `targets` is not of the dataset's width.
    ///
    /// ```
    /// let mut data = chainrule::nn::Dataset::new(1, 1);
    /// data.push(&[0.5], &[1.0]);
    /// assert_eq!(data.len(), 1);
    /// ```
    #[track_caller]
    pub fn push(&mut self, inputs: &[f64], targets: &[f64]) {
        assert!(
inputs.len() == self.input_width,
"chainrule: Dataset::push was given a sample of {} {} for a dataset of {} {} per sample",
            inputs.len(),
            crate::plural(inputs.len(), "input", "inputs"),
            self.input_width,
            crate::plural(self.input_width, "input", "inputs")
        );
        assert!(
targets.len() == self.target_width,
"chainrule: Dataset::push was given a sample of {} {} for a dataset of {} {} per sample",
            targets.len(),
            crate::plural(targets.len(), "target", "targets"),
            self.target_width,
            crate::plural(self.target_width, "target", "targets")
        );
        self.inputs.extend_from_slice(inputs);
        self.targets.extend_from_slice(targets);
        self.len += 1;
    }

    /// The number of samples.
    ///
    /// ```
    /// assert_eq!(chainrule::nn::Dataset::new(2, 1).len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there is no sample.
    ///
    /// ```
    /// assert!(chainrule::nn::Dataset::new(2, 1).is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The number of inputs per sample.
    ///
    /// ```
    /// assert_eq!(chainrule::nn::Dataset::new(2, 1).input_width(), 2);
    /// ```
    #[must_use]
    pub fn input_width(&self) -> usize {
        self.input_width
    }

    /// The number of targets per sample.
    ///
    /// ```
    /// assert_eq!(chainrule::nn::Dataset::new(2, 1).target_width(), 1);
    /// ```
    #[must_use]
    pub fn target_width(&self) -> usize {
        self.target_width
    }

    /// Sample `i`: its inputs and its targets.
    ///
    /// # Panics
    /// If `i >= self.len()`: the message names `i` and the number of samples.
    ///
    /// ```
    /// let mut data = chainrule::nn::Dataset::new(1, 2);
    /// data.push(&[3.0], &[0.0, 1.0]);
    /// assert_eq!(data.sample(0).1, &[0.0, 1.0]);
    /// ```
    #[must_use]
    #[track_caller]
    pub fn sample(&self, i: usize) -> (&[f64], &[f64]) {
        if i >= self.len {
            index_past_the_end("Dataset::sample", i, self.len);
        }
        let (a, b) = (self.input_width, self.target_width);
        (
            &self.inputs[i * a..(i + 1) * a],
            &self.targets[i * b..(i + 1) * b],
        )
    }

    /// Every sample, in order.
    ///
    /// ```
    /// let mut data = chainrule::nn::Dataset::new(1, 1);
    /// data.push(&[1.0], &[2.0]);
    /// data.push(&[3.0], &[4.0]);
    /// let firsts: Vec<f64> = data.iter().map(|(x, _)| x[0]).collect();
    /// assert_eq!(firsts, vec![1.0, 3.0]);
    /// ```
    #[must_use]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&[f64], &[f64])> + '_ {
        (0..self.len()).map(|i| self.sample(i))
    }
}

/// The panic for sample index `i` of a dataset of `len` samples, on behalf of
/// `caller`.
#[cold]
#[inline(never)]
#[track_caller]
fn index_past_the_end(caller: &str, i: usize, len: usize) -> ! {
    let samples = if len == 1 { "sample" } else { "samples" };
    panic!(
        "chainrule: {caller} was given index {i} of a dataset of {len} {samples} \
         (indices count from 0)"
    )
}
