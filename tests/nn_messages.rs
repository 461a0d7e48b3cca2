//! Every mistake a caller can make with `nn` is named as such: a clear `Error`
//! where the API returns one, a panic starting `chainrule: ` that points at the
//! caller's line (`#[track_caller]`) where it panics.

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};

use chainrule::nn::datasets::xor;
use chainrule::nn::loss::one_hot;
use chainrule::nn::{
    batch_loss_and_gradient, Activation, Adam, Dataset, Error, Init, LayerSpec, Loss, Mlp,
    Optimizer, Sgd,
};
use chainrule::Tape;

fn small() -> Mlp {
    Mlp::builder(2)
        .layer(3, Activation::Tanh)
        .layer(1, Activation::Identity)
        .build()
        .unwrap()
}

fn architecture_error(err: Error) -> String {
    assert!(matches!(err, Error::InvalidArchitecture(_)), "{err:?}");
    err.to_string()
}

#[test]
fn mlp_new_with_no_sizes_says_the_input_width_is_missing() {
    let message = architecture_error(Mlp::new(&[], &[], Init::Uniform, 0).unwrap_err());
    // Not "0 layer sizes need 0 activations, not 0": the sizes are missing.
    assert!(message.contains("no sizes given"), "{message}");
    assert!(message.contains("input width first"), "{message}");
}

#[test]
fn mlp_new_with_the_wrong_number_of_activations_counts_the_layers() {
    let message = architecture_error(
        Mlp::new(&[2, 3, 1], &[Activation::Tanh], Init::Uniform, 0).unwrap_err(),
    );
    assert!(
        message.contains(
            "2 layer sizes after the input width need 2 activations, one per layer, not 1"
        ),
        "{message}"
    );
}

#[test]
fn absurd_layer_sizes_are_errors_not_aborts() {
    // usize::MAX neurons × 2 inputs overflows usize.
    let message = architecture_error(
        Mlp::builder(2)
            .layer(usize::MAX, Activation::Tanh)
            .build()
            .unwrap_err(),
    );
    assert!(
        message.contains("layer 1 of 18446744073709551615 neurons over 2 inputs"),
        "{message}"
    );
    // Two layers whose product overflows only at the second.
    let message = architecture_error(
        Mlp::builder(1)
            .layer(1 << 32, Activation::Tanh)
            .layer(1 << 32, Activation::Tanh)
            .build()
            .unwrap_err(),
    );
    assert!(
        message.contains("layer 2 of 4294967296 neurons over 4294967296 inputs"),
        "{message}"
    );
    // A count that fits usize but not in memory: reserving fails, nothing aborts.
    let message = architecture_error(
        Mlp::builder(1 << 20)
            .layer(1 << 30, Activation::Identity)
            .build()
            .unwrap_err(),
    );
    assert!(message.contains("cannot be allocated"), "{message}");
    // And through Mlp::new.
    let message = architecture_error(
        Mlp::new(&[usize::MAX, 2], &[Activation::Relu], Init::He, 0).unwrap_err(),
    );
    assert!(message.contains("layer 1 of 2 neurons"), "{message}");
}

#[test]
fn predict_and_forward_with_the_wrong_width_name_the_call_and_both_widths() {
    let mlp = small();
    let predict = panic::catch_unwind(|| mlp.predict(&[1.0])).unwrap_err();
    assert_eq!(
        predict.downcast_ref::<String>().unwrap(),
        "chainrule: Mlp::predict was given 1 input, but the network takes 2 per sample"
    );
    let tape = Tape::new();
    let net = mlp.bind(&tape);
    let forward =
        panic::catch_unwind(AssertUnwindSafe(|| net.forward(&[1.0, 2.0, 3.0]))).unwrap_err();
    assert_eq!(
        forward.downcast_ref::<String>().unwrap(),
        "chainrule: BoundMlp::forward was given 3 inputs, but the network takes 2 per sample"
    );
}

thread_local! {
    static LOCATION: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// The file of the panic's location and its message.
fn panic_site(f: impl FnOnce()) -> (String, String) {
    let _ = panic::catch_unwind(AssertUnwindSafe(f));
    LOCATION
        .with(|l| l.borrow_mut().take())
        // No panic seen on this thread (none, or one on another thread,
        // resumed here without the hook): the checks below report it.
        .unwrap_or_else(|| ("no panic on the calling thread".into(), String::new()))
}

#[test]
fn public_panics_start_with_chainrule_and_point_at_the_caller() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(|info| {
        let file = info
            .location()
            .map(|l| l.file().to_string())
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        LOCATION.with(|l| *l.borrow_mut() = Some((file, message)));
    }));
    let mlp = small();
    let tape = Tape::new();
    type Case<'a> = (&'static str, Box<dyn FnOnce() + 'a>);
    let cases: Vec<Case> = vec![
        (
            "Mlp::predict was given 1 input",
            Box::new(|| drop(mlp.predict(&[1.0]))),
        ),
        (
            "Dataset::push was given a sample of 3 inputs for a dataset of 2",
            Box::new(|| Dataset::new(2, 1).push(&[1.0, 2.0, 3.0], &[0.0])),
        ),
        (
            "one_hot was given class 3 of 3 classes",
            Box::new(|| drop(one_hot(3, 3))),
        ),
        (
            "invalid learning rate: -1",
            Box::new(|| drop(Sgd::new(-1.0))),
        ),
        (
            "invalid beta1: 1",
            Box::new(|| drop(Adam::new(0.1).betas(1.0, 0.9))),
        ),
        (
            "the optimizer was given 2 parameters but a gradient of 1 value",
            Box::new(|| Sgd::new(0.1).step(&mut [0.0, 0.0], &[1.0])),
        ),
        (
            "a loss was given 1 output but 2 targets",
            Box::new(|| {
                let _ = chainrule::nn::Loss::HalfSquaredError.evaluate(&[1.0_f64], &[1.0, 2.0]);
            }),
        ),
        (
            "a layer of 2 inputs was given 1 value",
            Box::new(|| {
                let mut out = Vec::new();
                mlp.layers()[0].forward_const(mlp.params(), &[1.0], &mut out);
            }),
        ),
        (
            // BoundMlp::gradient of another tape's sweep: the panic was placed
            // inside Gradients::wrt_all (a closure drops #[track_caller]).
            "of another tape",
            Box::new(|| {
                let other = Tape::new();
                let y = mlp.bind(&other).forward(&[1.0, 2.0])[0];
                let _ = mlp.bind(&tape).gradient(&y.backward());
            }),
        ),
        (
            // It was the slice's own panic, "range end index 6 out of range
            // for slice of length 2", raised inside the library.
            "Dataset::sample was given index 2 of a dataset of 1 sample",
            Box::new(|| {
                let mut data = Dataset::new(2, 1);
                data.push(&[0.0, 0.0], &[0.0]);
                let _ = data.sample(2);
            }),
        ),
        (
            "batch_loss_and_gradient was given sample index 4 of a dataset of 4 samples",
            Box::new(|| {
                let _ = batch_loss_and_gradient(
                    &mlp,
                    &xor(),
                    &[0, 4],
                    2.0,
                    Loss::MeanSquaredError,
                    &mut Tape::new(),
                    &mut Vec::new(),
                );
            }),
        ),
        (
            // A negative divisor turned the gradient around in silence (and 0
            // made it infinite): a step against it climbed the loss.
            "batch_loss_and_gradient was given the divisor -2: the summed loss is divided \
             by it (the whole batch's size, 2 for these samples' mean), so it must be a \
             positive finite number",
            Box::new(|| {
                let _ = batch_loss_and_gradient(
                    &mlp,
                    &xor(),
                    &[0, 1],
                    -2.0,
                    Loss::MeanSquaredError,
                    &mut Tape::new(),
                    &mut Vec::new(),
                );
            }),
        ),
        (
            "batch_loss_and_gradient was given the divisor 0:",
            Box::new(|| {
                let _ = batch_loss_and_gradient(
                    &mlp,
                    &xor(),
                    &[0],
                    0.0,
                    Loss::MeanSquaredError,
                    &mut Tape::new(),
                    &mut Vec::new(),
                );
            }),
        ),
        (
            // It said "BoundMlp::forward was given 3 inputs", a call the
            // caller did not make, from inside the library.
            "batch_loss_and_gradient was given a dataset of 3 inputs per sample \
             for a network of 2 inputs",
            Box::new(|| {
                let mut wide = Dataset::new(3, 1);
                wide.push(&[0.0; 3], &[0.0]);
                let _ = batch_loss_and_gradient(
                    &mlp,
                    &wide,
                    &[0],
                    1.0,
                    Loss::MeanSquaredError,
                    &mut Tape::new(),
                    &mut Vec::new(),
                );
            }),
        ),
        (
            "batch_loss_and_gradient was given a dataset of 2 targets per sample \
             for a network of 1 output",
            Box::new(|| {
                let mut tall = Dataset::new(2, 2);
                tall.push(&[0.0; 2], &[0.0; 2]);
                let _ = batch_loss_and_gradient(
                    &mlp,
                    &tall,
                    &[0],
                    1.0,
                    Loss::MeanSquaredError,
                    &mut Tape::new(),
                    &mut Vec::new(),
                );
            }),
        ),
        (
            // xor's labels are 0/1: hinge trained on them silently.
            "batch_loss_and_gradient was given sample 0 (counting from 0) whose target 0 \
             is 0, but hinge loss needs labels -1 or 1",
            Box::new(|| {
                let _ = batch_loss_and_gradient(
                    &mlp,
                    &xor(),
                    &[0, 1],
                    2.0,
                    Loss::Hinge,
                    &mut Tape::new(),
                    &mut Vec::new(),
                );
            }),
        ),
        (
            "hinge was given targets out of its domain: target 0 is 0, but hinge loss \
             needs labels -1 or 1",
            Box::new(|| {
                let _ = Loss::Hinge.evaluate(&[0.5_f64], &[0.0]);
            }),
        ),
        (
            "binary_cross_entropy_with_logits was given targets out of its domain: target 1 \
             is -1, but binary cross-entropy needs targets in [0, 1]",
            Box::new(|| {
                let _ = chainrule::nn::loss::binary_cross_entropy_with_logits(
                    &[0.5_f64, 0.5],
                    &[1.0, -1.0],
                );
            }),
        ),
        (
            "softmax_cross_entropy was given targets out of its domain: targets sum to 2, \
             but softmax cross-entropy needs a probability vector",
            Box::new(|| {
                let _ = Loss::SoftmaxCrossEntropy.evaluate(&[0.5_f64, 0.5], &[1.0, 1.0]);
            }),
        ),
        #[cfg(feature = "parallel")]
        (
            "batch_loss_and_gradient_pieces was given sample 2 (counting from 0) whose \
             target 0 is 0, but hinge loss needs labels -1 or 1",
            Box::new(|| {
                let mut data = Dataset::new(2, 1);
                data.push(&[0.0, 0.0], &[-1.0]);
                data.push(&[0.0, 1.0], &[1.0]);
                data.push(&[1.0, 1.0], &[0.0]);
                let _ = chainrule::nn::parallel::batch_loss_and_gradient_pieces(
                    &mlp,
                    &data,
                    &[0, 2, 1],
                    Loss::Hinge,
                    2,
                    &mut Vec::new(),
                );
            }),
        ),
        #[cfg(feature = "parallel")]
        (
            "batch_loss_and_gradient_pieces was given sample index 9 of a dataset of 4 samples",
            Box::new(|| {
                let _ = chainrule::nn::parallel::batch_loss_and_gradient_pieces(
                    &mlp,
                    &xor(),
                    &[0, 1, 9],
                    Loss::MeanSquaredError,
                    2,
                    &mut Vec::new(),
                );
            }),
        ),
        (
            "add_gradient_to was given a buffer of 1 value for 13 parameters",
            Box::new(|| {
                let net = mlp.bind(&tape);
                let y = net.forward(&[1.0, 2.0])[0];
                net.add_gradient_to(&y.backward(), &mut [0.0]);
            }),
        ),
    ];
    let sites: Vec<(&str, (String, String))> = cases
        .into_iter()
        .map(|(what, f)| (what, panic_site(f)))
        .collect();
    panic::set_hook(previous);
    let mut wrong = Vec::new();
    for (what, (file, message)) in sites {
        if !message.starts_with("chainrule: ") || !message.contains(what) {
            wrong.push(format!("{what:?} not in {message:?}"));
        }
        if !file.ends_with("nn_messages.rs") {
            wrong.push(format!("{what}: panicked in {file}, not at the caller"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

#[test]
fn a_frozen_shared_bias_layer_spec_still_builds() {
    // The checked counting gives a shared frozen bias one frozen parameter.
    let spec = LayerSpec::new(2, Activation::Sigmoid)
        .shared_bias()
        .frozen_bias();
    let mlp = Mlp::builder(2)
        .layer_spec(spec)
        .layer_spec(spec)
        .build()
        .unwrap();
    assert_eq!(
        (mlp.parameter_count(), mlp.frozen_parameters().len()),
        (8, 2)
    );
}

/// A count of one read "1 parameters", "1 layer sizes … need 1 activations",
/// "1 points per class", "1 classes", "1 inputs": each noun now agrees with
/// its count (the parameter file's messages: `tests/nn_save.rs`).
#[test]
fn a_count_of_one_reads_in_the_singular() {
    let message = |payload: Box<dyn std::any::Any + Send>| -> String {
        payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default()
    };
    let adam = panic::catch_unwind(|| {
        let mut adam = Adam::new(0.1);
        adam.step(&mut [1.0], &[1.0]);
        adam.step(&mut [0.0; 13], &[1.0; 13]);
    })
    .unwrap_err();
    assert!(
        message(adam).contains("was stepping 1 parameter and is now given 13"),
        "Adam"
    );
    let layers = architecture_error(Mlp::new(&[2, 3], &[], Init::Uniform, 0).unwrap_err());
    assert!(
        layers.contains(
            "1 layer size after the input width needs 1 activation, one per layer, not 0"
        ),
        "{layers}"
    );
    let spiral =
        message(panic::catch_unwind(|| chainrule::nn::datasets::spiral(1, 1, 0)).unwrap_err());
    assert!(
        spiral.contains("was given 1 point per class and 1 class;"),
        "{spiral}"
    );
    let one_hot = message(panic::catch_unwind(|| one_hot(1, 1)).unwrap_err());
    assert!(one_hot.contains("class 1 of 1 class (classes"), "{one_hot}");
    let mut data = Dataset::new(1, 1);
    data.push(&[0.0], &[0.0]);
    let batch = message(
        panic::catch_unwind(|| {
            batch_loss_and_gradient(
                &small(),
                &data,
                &[0],
                1.0,
                Loss::MeanSquaredError,
                &mut Tape::new(),
                &mut Vec::new(),
            )
        })
        .unwrap_err(),
    );
    assert!(
        batch.contains("a dataset of 1 input per sample for a network of 2 inputs"),
        "{batch}"
    );
}
