//! Deterministic initialisation: rand_xoshiro's SplitMix64 is the generator of
//! benches/WORKLOADS.md, `nn::init::uniform` and the workloads' own copy of it are
//! that file's uniform(), W2's initial parameters come out bit for bit, and Xavier
//! and He draw within their bounds.

// The benchmark workloads are not part of the library: one file, shared by the
// tests, benches and examples. Each includer uses only some of it.
#[path = "../benches/common/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use chainrule::nn::init::{self, generator, weight};
use chainrule::nn::{Activation, Init, Mlp};
use rand_core::Rng;
use workloads::{moons, uniform};

/// SplitMix64 written out from benches/WORKLOADS.md.
struct SpecSplitMix64 {
    state: u64,
}

impl SpecSplitMix64 {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E3779B97F4A7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
        z ^ (z >> 31)
    }

    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / 9007199254740992.0 // 2^53
    }
}

#[test]
fn rand_xoshiro_splitmix64_is_the_generator_of_workloads_md() {
    for seed in [0, 1, 7, 42, u64::MAX, 0x0123_4567_89AB_CDEF] {
        let mut spec = SpecSplitMix64 { state: seed };
        let mut ours = generator(seed);
        for k in 0..1000 {
            assert_eq!(ours.next_u64(), spec.next(), "seed {seed}, draw {k}");
        }
        // The library's uniform and the workloads' copy (which the reference
        // values of benches/WORKLOADS.md depend on), bit for bit.
        let mut spec = SpecSplitMix64 { state: seed };
        let mut nn_rng = generator(seed);
        let mut workloads_rng = generator(seed);
        for k in 0..1000 {
            let expected = spec.uniform().to_bits();
            let nn_draw = init::uniform(&mut nn_rng).to_bits();
            assert_eq!(nn_draw, expected, "seed {seed}, nn uniform {k}");
            let workloads_draw = uniform(&mut workloads_rng).to_bits();
            assert_eq!(
                workloads_draw, expected,
                "seed {seed}, workloads uniform {k}"
            );
        }
    }
}

#[test]
fn uniform_init_is_w2s_initial_parameters_bit_for_bit() {
    let mlp = Mlp::new(
        &moons::LAYERS,
        &[Activation::Tanh, Activation::Tanh, Activation::Identity],
        Init::Uniform,
        42,
    )
    .unwrap();
    assert_eq!(mlp.parameters(), &moons::initial_parameters()[..]);
    // And from the spec's generator, written out: layer by layer, neuron by
    // neuron, weights in input order as 2u - 1, biases 0.
    let mut spec = SpecSplitMix64 { state: 42 };
    let mut expected = Vec::new();
    for sizes in moons::LAYERS.windows(2) {
        for _ in 0..sizes[1] {
            for _ in 0..sizes[0] {
                expected.push(2.0 * spec.uniform() - 1.0);
            }
            expected.push(0.0);
        }
    }
    assert_eq!(mlp.parameters(), &expected[..]);
}

fn weights_and_biases(mlp: &Mlp) -> (Vec<f64>, Vec<f64>) {
    let (mut w, mut b) = (Vec::new(), Vec::new());
    for layer in mlp.layers() {
        for n in layer.neurons() {
            w.extend_from_slice(&mlp.parameters()[n.weights()]);
            b.push(mlp.params().get(n.bias()));
        }
    }
    (w, b)
}

#[test]
fn xavier_and_he_draw_within_their_bounds_with_the_variance_of_a_uniform() {
    // fan_in 200, fan_out 100: Xavier a = sqrt(6/300), He a = sqrt(6/200).
    for (init, a) in [
        (Init::Xavier, (6.0f64 / 300.0).sqrt()),
        (Init::He, (6.0f64 / 200.0).sqrt()),
    ] {
        assert_eq!(init.bound(200, 100), a);
        let mlp = Mlp::builder(200)
            .layer(100, Activation::Relu)
            .init(init)
            .seed(9)
            .build()
            .unwrap();
        let (w, b) = weights_and_biases(&mlp);
        assert_eq!(w.len(), 20_000);
        assert!(
            w.iter().all(|&x| (-a..a).contains(&x)),
            "{init:?}: out of bounds"
        );
        assert!(b.iter().all(|&x| x == 0.0), "{init:?}: biases start at 0");
        // Uniform(-a, a) has mean 0 and variance a²/3. With 20,000 draws the
        // standard error of the mean is a/sqrt(3·20000) ≈ 0.004a and that of the
        // variance about 0.0063·a²/3 (relative); 5 standard errors are allowed.
        let n = w.len() as f64;
        let mean = w.iter().sum::<f64>() / n;
        let var = w.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        assert!(mean.abs() < 0.02 * a, "{init:?}: mean {mean}");
        assert!(
            (var / (a * a / 3.0) - 1.0).abs() < 0.032,
            "{init:?}: variance {var}"
        );
        // The draw is weight(rng, a) in order.
        let mut rng = generator(9);
        assert_eq!(w[0], weight(&mut rng, a));
        assert_eq!(w[1], weight(&mut rng, a));
    }
}

#[test]
fn the_same_seed_gives_the_same_network_and_another_seed_another() {
    let build = |seed| {
        Mlp::builder(3)
            .layer(5, Activation::Tanh)
            .layer(2, Activation::Identity)
            .init(Init::Xavier)
            .seed(seed)
            .build()
            .unwrap()
    };
    assert_eq!(build(11), build(11));
    assert_ne!(build(11).parameters(), build(12).parameters());
}

#[test]
fn invalid_architectures_are_clear_errors() {
    let no_layer = Mlp::builder(2).build().unwrap_err();
    assert!(
        no_layer.to_string().contains("at least one layer"),
        "{no_layer}"
    );
    let empty_layer = Mlp::builder(2)
        .layer(0, Activation::Tanh)
        .build()
        .unwrap_err();
    assert!(
        empty_layer.to_string().contains("layer 1 has no neurons"),
        "{empty_layer}"
    );
    let activations = Mlp::new(&[2, 3], &[], Init::Uniform, 0).unwrap_err();
    assert!(
        activations
            .to_string()
            .contains("1 layer size after the input width needs 1 activation, one per layer"),
        "{activations}"
    );
}
