//! Parameters saved as JSON and loaded back (feature `serde`).
#![cfg(feature = "serde")]

use chainrule::nn::{Activation, Error, LayerSpec, Mlp};

fn network(hidden: usize, activation: Activation) -> Mlp {
    Mlp::builder(2)
        .layer(hidden, activation)
        .layer_spec(
            LayerSpec::new(2, Activation::Sigmoid)
                .shared_bias()
                .frozen_bias(),
        )
        .seed(3)
        .build()
        .unwrap()
}

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("chainrule-{}-{name}.json", std::process::id()))
}

#[test]
fn parameters_round_trip_through_a_file_bit_for_bit() {
    let mut saved = network(4, Activation::Tanh);
    for (k, p) in saved.parameters_mut().iter_mut().enumerate() {
        *p += 0.1 * k as f64 + 1e-17; // values that print with all 17 digits
    }
    saved.frozen_parameters_mut()[0] = 0.35;
    let path = temp_path("round-trip");
    saved.save_parameters(&path).unwrap();

    let mut loaded = network(4, Activation::Tanh);
    loaded
        .set_parameters(&vec![0.0; loaded.parameter_count()])
        .unwrap();
    loaded.load_parameters(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(loaded, saved); // every weight, bias and frozen bias, exactly
}

#[test]
fn a_file_of_other_shapes_is_a_clear_error_and_changes_nothing() {
    let json = network(4, Activation::Tanh).to_json();
    let cases: [(Mlp, &str); 4] = [
        (
            network(5, Activation::Tanh),
            "layer 1: the number of neurons is 4 in the file but 5 in the network",
        ),
        (
            network(4, Activation::Relu),
            "layer 1: the activation is tanh in the file but relu in the network",
        ),
        (
            Mlp::builder(3).layer(4, Activation::Tanh).build().unwrap(),
            "the file's network takes 2 inputs, this one 3",
        ),
        (
            Mlp::builder(2).layer(4, Activation::Tanh).build().unwrap(),
            "the file has 2 layers, the network 1",
        ),
    ];
    for (mut mlp, message) in cases {
        let before = mlp.clone();
        let err = mlp.load_json(&json).unwrap_err();
        assert!(matches!(err, Error::ShapeMismatch(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!("the parameter file does not fit this network: {message}")
        );
        assert_eq!(mlp, before);
    }
}

#[test]
fn a_row_of_the_wrong_length_or_a_bad_file_is_a_clear_error() {
    let mut mlp = network(4, Activation::Tanh);
    let json = mlp.to_json();
    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["layers"][1]["weights"][0] = serde_json::json!([1.0, 2.0, 3.0]);
    let err = mlp.load_json(&value.to_string()).unwrap_err();
    assert!(
        err.to_string()
            .contains("layer 2: neuron 0's number of weights is 3 in the file but 4"),
        "{err}"
    );

    let err = mlp.load_json("{ not json").unwrap_err();
    assert!(matches!(err, Error::Json(_)));
    assert!(err.to_string().starts_with("invalid parameter file"));

    let err = mlp
        .load_parameters(temp_path("does-not-exist"))
        .unwrap_err();
    assert!(matches!(err, Error::Io(_)));
}

/// A load error named the first layer "layer 0", where the builder's errors
/// ("layer 1 has no neurons") and the labels of `Mlp::bind_labelled`
/// (`layer1.neuron0.w0`) call it layer 1: a file whose second layer differs
/// was reported at "layer 1", which everywhere else is the first. Layers count
/// from 1 in load errors too; neurons, as in the labels, from 0.
#[test]
fn a_load_error_counts_layers_from_one_as_the_builder_and_the_labels_do() {
    let json = network(4, Activation::Tanh).to_json();
    let mut relu_output = Mlp::builder(2)
        .layer(4, Activation::Tanh)
        .layer_spec(
            LayerSpec::new(2, Activation::Relu)
                .shared_bias()
                .frozen_bias(),
        )
        .build()
        .unwrap();
    let err = relu_output.load_json(&json).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the parameter file does not fit this network: layer 2: the activation is sigmoid \
         in the file but relu in the network"
    );
    let tape = chainrule::Tape::new();
    let net = relu_output.bind_labelled(&tape);
    let out = net.forward(&[0.0, 0.0]);
    assert_eq!(
        tape.label(out[0].index()).as_deref(),
        Some("layer2.neuron0.out")
    );

    let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
    value["layers"][0]["weights"][3] = serde_json::json!([1.0]);
    let mut mlp = network(4, Activation::Tanh);
    let err = mlp.load_json(&value.to_string()).unwrap_err();
    assert!(
        err.to_string()
            .contains("layer 1: neuron 3's number of weights is 1 in the file but 2"),
        "{err}"
    );
}

/// A network whose parameter file is several kilobytes (past a 1-block file
/// size limit).
fn wide_network() -> Mlp {
    Mlp::builder(2)
        .layer(32, Activation::Tanh)
        .layer(1, Activation::Identity)
        .seed(9)
        .build()
        .unwrap()
}

/// A fresh, empty directory of its own for one test.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chainrule-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names of the files in `dir`, sorted.
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The save fails half-way through writing (a file size limit of one block,
/// `ulimit -f 1`, with SIGXFSZ ignored so that the write returns EFBIG): it
/// fails as root too. The test runs itself again in a child process under that
/// limit, which saves over a file the parent wrote.
#[cfg(unix)]
#[test]
fn a_save_that_fails_while_writing_leaves_the_old_file_byte_for_byte() {
    const CHILD: &str = "CHAINRULE_TEST_SAVE_UNDER_A_FILE_SIZE_LIMIT";
    if let Some(path) = std::env::var_os(CHILD) {
        // The child: the limit is in force. Report what the save returned.
        match wide_network().save_parameters(&path) {
            Ok(()) => println!("child: saved"),
            Err(e) => println!("child: failed: {e}"),
        }
        return;
    }
    let dir = temp_dir("size-limit");
    let path = dir.join("parameters.json");
    let old = network(4, Activation::Tanh).to_json();
    std::fs::write(&path, &old).unwrap();
    assert!(wide_network().to_json().len() > 4096);

    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 1 && exec \"$0\" \"$@\"")
        .arg(std::env::current_exe().unwrap())
        .args([
            "a_save_that_fails_while_writing_leaves_the_old_file_byte_for_byte",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "the child failed: {output:?}");
    assert!(
        stdout.contains("child: failed:"),
        "the save under a file size limit should fail: {stdout}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        old,
        "the old parameter file was changed by a failed save"
    );
    assert_eq!(
        entries(&dir),
        ["parameters.json"],
        "a temporary file was left"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_save_whose_rename_fails_leaves_the_target_and_no_temporary_file() {
    // The target is a directory: the temporary file is written, then the
    // rename over a directory fails (as root too).
    let dir = temp_dir("rename-fails");
    let target = dir.join("parameters.json");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("inside"), "kept").unwrap();
    let err = wide_network().save_parameters(&target).unwrap_err();
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    assert_eq!(
        entries(&dir),
        ["parameters.json"],
        "a temporary file was left"
    );
    assert_eq!(
        std::fs::read_to_string(target.join("inside")).unwrap(),
        "kept"
    );
    // Into a directory that does not exist: the temporary file cannot be made.
    let missing = dir.join("missing").join("parameters.json");
    assert!(matches!(
        wide_network().save_parameters(&missing),
        Err(Error::Io(_))
    ));
    assert_eq!(entries(&dir), ["parameters.json"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_save_over_an_existing_file_replaces_it_whole_and_leaves_nothing_else() {
    let dir = temp_dir("replace");
    let path = dir.join("parameters.json");
    std::fs::write(&path, "x".repeat(100_000)).unwrap(); // longer than the new file
    let mlp = wide_network();
    mlp.save_parameters(&path).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), mlp.to_json());
    assert_eq!(entries(&dir), ["parameters.json"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_path_without_a_file_name_is_an_invalid_input_error() {
    let err = wide_network().save_parameters("..").unwrap_err();
    match err {
        Error::Io(e) => {
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains("has no file name"), "{e}");
        }
        other => panic!("expected Error::Io, got {other:?}"),
    }
}

#[test]
fn a_non_finite_parameter_is_refused_before_anything_is_written() {
    // It was written as `null`, over a good file, and no load took it back.
    let path = temp_path("non-finite");
    let mlp = network(3, Activation::Tanh);
    mlp.save_parameters(&path).unwrap();
    let good = std::fs::read_to_string(&path).unwrap();
    for bad in [f64::INFINITY, f64::NAN] {
        let mut diverged = mlp.clone();
        diverged.parameters_mut()[4] = bad;
        let err = diverged.save_parameters(&path).unwrap_err();
        assert!(matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::InvalidData));
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(
            message.contains("layer 1, neuron 1's weight 1, is"),
            "{message}"
        );
        assert!(message.contains(&bad.to_string()), "{message}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), good);
    }
    // The good file still loads.
    let mut loaded = network(3, Activation::Tanh);
    loaded.parameters_mut().fill(0.0);
    loaded.load_parameters(&path).unwrap();
    assert_eq!(loaded, mlp);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn file_errors_name_the_file() {
    let mut mlp = network(3, Activation::Tanh);
    let missing = temp_path("no-such-file");
    let err = mlp.load_parameters(&missing).unwrap_err();
    assert!(matches!(&err, Error::Io(e) if e.kind() == std::io::ErrorKind::NotFound));
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );
    let directory = std::env::temp_dir();
    let err = mlp.save_parameters(&directory).unwrap_err();
    assert!(
        err.to_string().contains(&directory.display().to_string()),
        "{err}"
    );
}

/// "layer 2: the activation is Sigmoid in the file but sigmoid in the
/// network" read as the same activation twice. The names are case-sensitive
/// (as `Activation::name` writes them); one that is none of them is quoted
/// and the accepted names listed. The network is unchanged.
#[test]
fn an_activation_name_in_another_case_is_named_as_no_activation_and_changes_nothing() {
    let mut mlp = network(4, Activation::Tanh);
    let before = mlp.clone();
    let json = mlp.to_json().replacen("\"sigmoid\"", "\"Sigmoid\"", 1);
    let err = mlp.load_json(&json).unwrap_err();
    assert!(matches!(err, Error::ShapeMismatch(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the parameter file does not fit this network: layer 2: the activation is \
         \"Sigmoid\" (not an activation's name: the names are case-sensitive, one of \
         identity, sigmoid, tanh or relu) in the file but sigmoid in the network"
    );
    assert_eq!(mlp, before);
}

/// `save_parameters("dir/")` said "cannot save parameters to dir/: Not a
/// directory (os error 20)", of a directory. A directory, or a path ending
/// in a separator, is now refused before anything is written, saying so.
#[test]
fn a_directory_given_as_the_file_to_save_to_is_said_to_be_one() {
    let dir = temp_dir("save-to-dir");
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let missing = format!("{}/", dir.join("missing").display());
    let with_slash = format!("{}/", sub.display());
    for (path, why) in [
        (with_slash.as_str(), "it is a directory"),
        (sub.to_str().unwrap(), "it is a directory"),
        (missing.as_str(), "it ends in a path separator"),
    ] {
        let err = wide_network().save_parameters(path).unwrap_err();
        let Error::Io(e) = &err else {
            panic!("expected Error::Io, got {err:?}")
        };
        assert_eq!(e.kind(), std::io::ErrorKind::IsADirectory);
        let message = err.to_string();
        assert!(
            message.contains(&format!("cannot save parameters to {path}: {why}")),
            "{message}"
        );
        assert!(message.contains("parameters.json"), "{message}");
        assert!(!message.contains("Not a directory"), "{message}");
    }
    assert_eq!(entries(&dir), ["sub"], "a file was left");
    assert!(entries(&sub).is_empty(), "a file was left");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// "the file's network takes 1 inputs", "the file has 1 layers": singular now.
#[test]
fn a_count_of_one_in_a_files_shape_reads_in_the_singular() {
    let one = |inputs: usize, layers: usize| {
        let mut builder = Mlp::builder(inputs);
        for _ in 0..layers {
            builder = builder.layer(1, Activation::Identity);
        }
        builder.build().unwrap()
    };
    let err = one(2, 1).load_json(&one(1, 1).to_json()).unwrap_err();
    assert!(
        err.to_string()
            .contains("the file's network takes 1 input, this one 2"),
        "{err}"
    );
    let err = one(1, 2).load_json(&one(1, 1).to_json()).unwrap_err();
    assert!(
        err.to_string()
            .contains("the file has 1 layer, the network 2"),
        "{err}"
    );
}
