//! [`Init`]: deterministic weight initialisation from a seed.

use rand_core::SeedableRng;
use rand_xoshiro::SplitMix64;

use crate::workloads::uniform;

/// How the weights of a new network are drawn. Biases always start at 0.
///
/// Every scheme draws from one `rand_xoshiro::SplitMix64` seeded with the
/// builder's seed ([`SeedableRng::seed_from_u64`]), which is exactly the
/// generator of WORKLOADS.md. Weights are drawn layer by layer, neuron by neuron,
/// each neuron's weights in input order, as `a · (2u − 1)` with `u` =
/// [`workloads::uniform`](crate::workloads::uniform) (top 53 bits / 2^53): a
/// uniform value in [−a, a). The schemes differ only in `a`:
///
/// - [`Init::Uniform`]: a = 1, the initialisation of W2;
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
    /// Uniform in [−1, 1), as W2 of WORKLOADS.md.
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

/// One weight, uniform in [−bound, bound): `bound · (2u − 1)`.
///
/// For bound 1 this is bit for bit W2's `2·uniform() − 1`.
///
/// ```
/// use chainrule::nn::init::{generator, weight};
/// let w = weight(&mut generator(42), 1.0);
/// assert!((-1.0..1.0).contains(&w));
/// ```
pub fn weight(rng: &mut SplitMix64, bound: f64) -> f64 {
    bound * (2.0 * uniform(rng) - 1.0)
}
