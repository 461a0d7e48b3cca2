//! [`Init`]: deterministic weight initialisation from a seed.

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::SplitMix64;

/// How the weights of a new network are drawn. Biases always start at 0.
///
/// Every scheme draws from one `rand_xoshiro::SplitMix64` seeded with the
/// builder's seed ([`SeedableRng::seed_from_u64`]). Weights are drawn layer by
/// layer, neuron by neuron, each neuron's weights in input order, as `a · (2u − 1)`
/// with `u` = [`uniform`] (top 53 bits / 2^53): a uniform value in [−a, a). The
/// schemes differ only in `a`:
///
/// - [`Init::Uniform`]: a = 1, every weight uniform in [−1, 1);
/// - [`Init::Xavier`] (Glorot uniform): a = √(6 / (fan_in + fan_out)), keeps the
///   variance of activations and gradients about level through tanh and sigmoid
///   layers;
/// - [`Init::He`] (Kaiming uniform): a = √(6 / fan_in), for relu layers.
///
/// Xavier and He are their uniform variants (no normal sampler is needed).
///
/// ```
/// use chainrule::nn::Init;
///
/// assert_eq!(Init::Uniform.bound(2, 16), 1.0);
/// assert_eq!(Init::Xavier.bound(2, 4), 1.0); // √(6/6)
/// assert_eq!(Init::He.bound(6, 100), 1.0);   // √(6/6)
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Init {
    /// Uniform in [−1, 1).
    #[default]
    Uniform,
    /// Glorot uniform: [−a, a) with a = √(6 / (fan_in + fan_out)).
    Xavier,
    /// Kaiming uniform: [−a, a) with a = √(6 / fan_in).
    He,
}

impl Init {
    /// The half-width `a` of the interval the weights of a layer of `fan_in`
    /// inputs and `fan_out` neurons are drawn from.
    ///
    /// ```
    /// assert_eq!(chainrule::nn::Init::He.bound(24, 1), 0.5);
    /// ```
    #[must_use]
    pub fn bound(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::Uniform => 1.0,
            Init::Xavier => (6.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::He => (6.0 / fan_in as f64).sqrt(),
        }
    }
}

/// The generator every initialisation draws from: SplitMix64 seeded with `seed`.
///
/// ```
/// use chainrule::nn::init::generator;
/// use rand_core::Rng;
///
/// // The first output of SplitMix64(0), from the reference implementation.
/// assert_eq!(generator(0).next_u64(), 0xE220A8397B1DCDAF);
/// ```
#[must_use]
pub fn generator(seed: u64) -> SplitMix64 {
    SplitMix64::seed_from_u64(seed)
}

/// A uniform draw in [0, 1): the top 53 bits of the generator's next output,
/// divided by 2^53, so every value is a multiple of 2^−53 and 1 is never drawn.
///
/// Every random number of [`nn`](crate::nn) (weights, [`datasets`](crate::nn::datasets))
/// comes from this function on a [`generator`], so a seed gives the same
/// numbers, bit for bit, on every platform.
///
/// ```
/// use chainrule::nn::init::{generator, uniform};
///
/// let mut rng = generator(7);
/// let u = uniform(&mut rng);
/// assert!((0.0..1.0).contains(&u));
/// // The top 53 bits of SplitMix64(0)'s first output, 0xE220A8397B1DCDAF.
/// let expected = (0xE220A8397B1DCDAF_u64 >> 11) as f64 / 2f64.powi(53);
/// assert_eq!(uniform(&mut generator(0)), expected);
/// ```
pub fn uniform(rng: &mut SplitMix64) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// One weight, uniform in [−bound, bound): `bound · (2u − 1)` with `u` = [`uniform`].
///
/// ```
/// use chainrule::nn::init::{generator, weight};
/// let w = weight(&mut generator(42), 1.0);
/// assert!((-1.0..1.0).contains(&w));
/// ```
pub fn weight(rng: &mut SplitMix64, bound: f64) -> f64 {
    bound * (2.0 * uniform(rng) - 1.0)
}
