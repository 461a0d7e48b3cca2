//! Bad input gets a clear panic that names the caller's mistake, and leaves the
//! tape as it was.

use chainrule::{Activation, Tape, Var};

#[path = "common/panics.rs"]
mod panics;
use panics::{outcome, panic_locations, panic_message};

#[test]
fn a_layer_with_a_bad_operand_records_nothing() {
    let tape = Tape::new();
    let other = Tape::new();
    let x = tape.vars(&[0.5, -1.0]);
    let mut params = tape.vars(&[0.1, 0.2, 0.0, 0.3, 0.4, 0.0]);
    params[5] = other.var(0.0); // the second neuron's bias, on another tape
    let before = tape.len();
    let mut out = [x[0]; 2];
    let message = panic_message(|| Var::layer(&params, &x, Activation::Tanh, &mut out));
    assert!(message.contains("two different tapes"), "{message}");
    assert_eq!(
        tape.len(),
        before,
        "the first neuron must not have been recorded"
    );
}

#[test]
fn a_sum_with_a_bad_operand_records_nothing() {
    let tape = Tape::new();
    let other = Tape::new();
    let a = tape.var(1.0);
    let b = tape.var(2.0);
    let c = other.var(3.0);
    let before = tape.len();
    let message = panic_message(|| {
        let _: Var = [a, b, c].into_iter().sum();
    });
    assert!(message.contains("two different tapes"), "{message}");
    assert_eq!(tape.len(), before);
}

#[test]
fn value_after_clear_says_the_tape_was_cleared() {
    let mut tape = Tape::new();
    let index = tape.var(1.0).index();
    tape.clear();
    let message = panic_message(|| {
        let _ = tape.value(index);
    });
    assert!(message.contains("no node #0"), "{message}");
    assert!(message.contains("cleared tape"), "{message}");
}

#[test]
fn an_index_past_the_end_names_the_range() {
    let tape = Tape::new();
    let _ = tape.vars(&[1.0, 2.0, 3.0]);
    let message = panic_message(|| {
        let _ = tape.op(7);
    });
    assert!(
        message.contains("no node #7") && message.contains("#0 to #2"),
        "{message}"
    );
}

#[test]
fn the_node_limit_is_a_clear_panic_and_loses_nothing() {
    // The u32 limit, lowered: the same check, without 4 billion nodes.
    let tape = Tape::with_max_nodes(100);
    let x = tape.var(1.0);
    let mut y = x;
    for _ in 0..99 {
        y *= 1.5;
    }
    assert_eq!(tape.len(), 100);
    let message = panic_message(|| {
        let _ = y + 1.0;
    });
    assert!(
        message.contains("the tape is full") && message.contains("100 nodes"),
        "{message}"
    );
    assert_eq!(tape.len(), 100);
    // Every node recorded before is intact and sweeps.
    assert_eq!(y.backward()[x], 1.5f64.powi(99));
    let message = panic_message(|| tape.reserve(1));
    assert!(
        message.contains("reserve(1)") && message.contains("at most 100"),
        "{message}"
    );
    let message = panic_message(|| {
        let _ = Tape::with_max_nodes(usize::MAX);
    });
    assert!(message.contains("with_max_nodes"), "{message}");
}

#[test]
fn with_capacity_past_the_limit_says_so() {
    let message = panic_message(|| {
        let _ = Tape::with_capacity(usize::MAX);
    });
    assert!(message.contains("past the tape's limit"), "{message}");
    assert!(!message.contains("is full"), "{message}");
}

/// `u32::MAX - 1` nodes is within the u32 limit: the request is for memory (its
/// values alone are 34 GB, about 107 GB in all), and what fails is the allocation.
/// That is a clear panic, not "the tape is full" and not an abort. Only run where
/// the kernel refuses such an allocation outright (heuristic overcommit refuses
/// one allocation larger than memory and swap, and less than 32 GB of memory), so
/// the test never makes a big machine touch 107 GB. (Each array must be larger
/// than memory: arrays granted lazily and then filled would get the process
/// killed instead.)
#[test]
fn with_capacity_too_large_for_memory_says_so() {
    let heuristic = std::fs::read_to_string("/proc/sys/vm/overcommit_memory")
        .is_ok_and(|mode| mode.trim() == "0");
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(u64::MAX);
    if !heuristic || mem_kb > 32 << 20 {
        eprintln!("skipped: this machine might grant 34 GB");
        return;
    }
    let message = panic_message(|| {
        let _ = Tape::with_capacity(u32::MAX as usize - 1);
    });
    assert!(message.contains("could not allocate"), "{message}");
    assert!(!message.contains("is full"), "{message}");
}

/// Resident memory of this process in bytes (Linux's `/proc/self/statm`),
/// `None` elsewhere.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// `Tape::with_capacity` allocates and writes nothing: a tape reserved for
/// 2³¹ nodes (53 GB of arrays, more than this kind of machine has) either
/// returns, its memory uncommitted until nodes are recorded, or panics naming
/// the allocation (where the allocator refuses it at once). It used to zero
/// every array it reserved, and on a 24 GB machine the kernel killed the
/// process for it: no message at all.
#[test]
fn with_capacity_past_memory_returns_or_says_so_and_is_never_killed() {
    let before = resident_bytes();
    let reserved = outcome(|| {
        let tape = Tape::with_capacity(1 << 31);
        assert!(tape.capacity() >= 1 << 31);
        // Recording works, and writes only the room it uses.
        let x = tape.var(2.0);
        let y = (x * x).sin();
        assert_eq!(y.backward()[x], 4.0 * 4.0f64.cos());
        (resident_bytes(), tape.memory_bytes())
    });
    match reserved {
        Ok((after, bytes)) => {
            assert!(bytes >= 25 << 31, "{bytes} bytes held");
            if let (Some(before), Some(after)) = (before, after) {
                // A few pages of room written, not gigabytes (other tests
                // running at the same time allocate too: 256 MB of slack).
                assert!(
                    after < before + (256 << 20),
                    "resident {before} -> {after} bytes: the reservation was written"
                );
            }
        }
        Err(message) => assert!(message.contains("could not allocate"), "{message}"),
    }
}

/// `Tape::reserve` writes nothing either: 100 million nodes (2.5 GB) reserved,
/// a thousand recorded, and the process's resident memory grows by far less
/// than the reservation.
#[test]
fn reserve_commits_no_memory_until_nodes_are_recorded() {
    let Some(before) = resident_bytes() else {
        eprintln!("skipped: no /proc/self/statm here");
        return;
    };
    let tape = Tape::new();
    tape.reserve(100_000_000);
    assert!(tape.capacity() >= 100_000_000);
    let bytes = tape.memory_bytes();
    let x = tape.var(1.5);
    let mut y = x;
    for _ in 0..1_000 {
        y = (y * x).sin();
    }
    assert_eq!(
        tape.memory_bytes(),
        bytes,
        "recording within the reservation allocated"
    );
    let after = resident_bytes().unwrap();
    assert!(
        after < before + (256 << 20),
        "resident {before} -> {after} bytes for a 2.5 GB reservation"
    );
    // The gradient is right: the room written as it was needed.
    let g = y.backward();
    assert!(g[x].is_finite());
}

/// `loss.backward();` alone must warn: `Gradients` is `#[must_use]`. Checked by
/// compiling a tiny crate with `-D unused-must-use`.
#[test]
fn an_unused_backward_does_not_compile_under_deny_unused_must_use() {
    let dir = std::env::temp_dir().join(format!("chainrule_must_use_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let lib = dir.join("check.rs");
    std::fs::write(
        &lib,
        "#![deny(unused_must_use)]\n\
         pub fn f(tape: &chainrule::Tape) {\n\
             let x = tape.var(1.0);\n\
             x.exp().backward();\n\
         }\n\
         pub fn g(tape: &chainrule::Tape) {\n\
             let x = tape.var(1.0);\n\
             x.exp();\n\
         }\n\
         pub fn h<T: chainrule::Scalar>(x: T) {\n\
             x.sinh();\n\
             x.max(0.0);\n\
         }\n",
    )
    .unwrap();
    // The library this test was built against, found beside the test binary.
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let rlib = std::fs::read_dir(&deps)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            name.starts_with("libchainrule-") && name.ends_with(".rlib")
        })
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let Some(rlib) = rlib else {
        eprintln!("skipped: no libchainrule rlib beside {}", deps.display());
        return;
    };
    let output =
        std::process::Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
            .args([
                "--edition=2021",
                "--crate-type=lib",
                "--emit=metadata",
                "-o",
            ])
            .arg(dir.join("check.rmeta"))
            .arg("--extern")
            .arg(format!("chainrule={}", rlib.display()))
            .arg("-L")
            .arg(&deps)
            .arg(&lib)
            .output()
            .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "an unused backward() compiled: {stderr}"
    );
    assert!(
        stderr.contains("unused `chainrule::backward::Gradients`") || stderr.contains("Gradients"),
        "{stderr}"
    );
    assert!(
        stderr.contains("exp"),
        "an unused op result must warn too: {stderr}"
    );
    // Generic code over `Scalar` too (the trait's methods were not `#[must_use]`).
    assert!(
        stderr.contains("value of `sinh`") && stderr.contains("Scalar::max"),
        "an unused op result in generic code must warn too: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// A foreign operand of a fused op panics at the caller's line, not inside the
/// library (the tapes are compared inside a closure, the panic raised after it).
/// Locations are recorded by a panic hook; other tests of this binary may panic
/// meanwhile, so the check is that the expected locations are among those seen.
#[test]
fn a_fused_op_with_a_foreign_operand_panics_at_the_callers_line() {
    let tape = Tape::new();
    let other = Tape::new();
    let w = tape.vars(&[0.5, 0.25]);
    let x = [tape.var(1.0), other.var(2.0)];
    let b = tape.var(0.0);
    let w_foreign = [w[0], other.var(1.0)];
    let neuron_line = line!() + 2;
    let neuron = panic_locations(|| {
        let _ = Var::neuron(&w, &x, b, Activation::Tanh);
    });
    let const_line = line!() + 2;
    let constant = panic_locations(|| {
        let _ = Var::neuron_const(&w_foreign, &[1.0, 2.0], b, Activation::Tanh);
    });
    for (line, seen) in [(neuron_line, neuron), (const_line, constant)] {
        let expected = format!("tests/bad_input.rs:{line}");
        assert!(
            seen.iter().any(|l| l.ends_with(&expected)),
            "{expected} not in {seen:?}"
        );
    }
}

/// The message for a node past the end names the nodes there are: none on an
/// empty or cleared tape (it said "0 nodes (#0 to #0)"), one, or a range.
#[test]
fn a_node_past_the_end_of_a_short_tape_names_only_nodes_that_exist() {
    let mut tape = Tape::new();
    let message = panic_message(|| {
        let _ = tape.value(0);
    });
    assert!(
        message.contains("holds no nodes") && !message.contains("#0 to"),
        "{message}"
    );
    tape.var(1.0);
    let message = panic_message(|| {
        let _ = tape.edges(3);
    });
    assert!(
        message.contains("holds 1 node (#0)") && !message.contains("#0 to"),
        "{message}"
    );
    tape.clear();
    let message = panic_message(|| {
        let _ = tape.op(0);
    });
    assert!(
        message.contains("holds no nodes") && message.contains("cleared tape"),
        "{message}"
    );
}

/// `Tape::display_name` past the end panics at the caller's line (it panicked
/// inside the library, in a closure that did not pass the line on).
#[test]
fn display_name_past_the_end_panics_at_the_callers_line() {
    let tape = Tape::new();
    tape.var(1.0);
    let line = line!() + 2;
    let seen = panic_locations(|| {
        let _ = tape.display_name(5);
    });
    let expected = format!("tests/bad_input.rs:{line}");
    assert!(
        seen.iter().any(|l| l.ends_with(&expected)),
        "{expected} not in {seen:?}"
    );
}

/// `Gradients::wrt_all` given a Var of another tape panicked inside the
/// library (src/backward.rs: the closure it mapped with drops
/// `#[track_caller]`), where `wrt` and indexing point at the caller.
#[test]
fn gradients_asked_for_a_var_of_another_tape_panic_at_the_callers_line() {
    let tape = Tape::new();
    let other = Tape::new();
    let x = tape.var(2.0);
    let foreign = other.var(1.0);
    let g = (x * 3.0).backward();
    let line = line!() + 2;
    let seen = panic_locations(|| {
        let _ = g.wrt_all(&[x, foreign]);
    });
    let expected = format!("tests/bad_input.rs:{line}");
    assert!(
        seen.iter().any(|l| l.ends_with(&expected)),
        "{expected} not in {seen:?}"
    );
}

/// A case of [`recording_onto_a_full_tape_panics_at_the_callers_line`]: the
/// line it is written on and the recording, its result ignored.
macro_rules! at_line {
    ($record:expr) => {
        (
            line!(),
            Box::new(|| {
                let _ = $record;
            }) as Box<dyn Fn() + '_>,
        )
    };
}

/// Recording onto a full tape panics at the caller's line, whichever way the
/// node is recorded: a leaf (`var`, `vars`, `var_array`, `constant`), an
/// operator, an op with an `f64`, a unary op, a fused op. (`Tape::var` panicked
/// inside the library: the push under it did not pass the line on.)
#[test]
fn recording_onto_a_full_tape_panics_at_the_callers_line() {
    let tape = Tape::with_max_nodes(3);
    let x = tape.var(1.0);
    let y = tape.var(2.0);
    let b = tape.var(0.5);
    assert_eq!(tape.len(), 3);
    let cases = [
        at_line!(tape.var(1.0)),
        at_line!(tape.vars(&[1.0, 2.0])),
        at_line!(tape.var_array([1.0, 2.0])),
        at_line!(x.constant(3.0)),
        at_line!(x + y),
        at_line!(x * y),
        at_line!(x - 1.0),
        at_line!(2.0 * x),
        at_line!(-x),
        at_line!(x.exp()),
        at_line!(x.powi(2)),
        at_line!(x.atan2(y)),
        at_line!(x.leaky_relu(0.1)),
        at_line!(Var::neuron(&[x, y], &[y, x], b, Activation::Tanh)),
        at_line!(Var::neuron_const(
            &[x, y],
            &[1.0, 2.0],
            b,
            Activation::Sigmoid
        )),
        at_line!(Var::half_squared_error(&[x, y], &[0.0, 1.0])),
        at_line!(Var::logsumexp(&[x, y, b])),
        at_line!(Var::weighted_sum(&[x, y], &[y, x], b)),
        at_line!(Var::layer(&[x, y], &[y], Activation::Relu, &mut [b])),
        at_line!(<Var as chainrule::Scalar>::powi(x, 3)),
        at_line!(<Var as chainrule::Scalar>::tanh(x)),
    ];
    for (line, case) in cases {
        let seen = panic_locations(case);
        let expected = format!("tests/bad_input.rs:{line}");
        assert!(
            seen.iter().any(|l| l.ends_with(&expected)),
            "{expected} not in {seen:?}"
        );
        assert_eq!(tape.len(), 3, "the full tape lost or gained a node");
    }
}

/// As [`recording_onto_a_full_tape_panics_at_the_callers_line`], for the entry
/// points that test left out, which panicked inside the library: an operator
/// assignment with an `f64` (`x += 1.0`: src/ops/binary.rs), the losses that
/// record their terms in a closure or sum them with `Iterator::sum` (hinge,
/// binary cross-entropy, softmax cross-entropy over two classes:
/// src/nn/loss.rs or the standard library), `Mlp::bind` and `bind_labelled`
/// (src/nn/mlp.rs), and a network's or layer's forward pass (src/nn/layer.rs).
#[test]
fn recording_through_assignments_losses_and_networks_panics_at_the_callers_line() {
    use chainrule::nn::{loss, LayerSpec, Loss, Mlp};
    let tape = Tape::with_max_nodes(3);
    let x = tape.var(1.0);
    let y = tape.var(2.0);
    let _ = tape.var(0.5);
    let mlp = Mlp::builder(2)
        .layer(2, Activation::Tanh)
        .layer_spec(LayerSpec::new(2, Activation::Sigmoid).shared_bias())
        .build()
        .unwrap();
    let bound_tape = Tape::with_max_nodes(mlp.parameter_count());
    let bound = mlp.bind(&bound_tape);
    let p = bound.parameters();
    let full = [(&tape, 3), (&bound_tape, mlp.parameter_count())];
    let cases = [
        at_line!({
            let mut z = x;
            z += 1.0
        }),
        at_line!({
            let mut z = x;
            z *= 2.0
        }),
        at_line!(loss::hinge(&[x, y], &[1.0, -1.0])),
        at_line!(loss::binary_cross_entropy_with_logits(&[x, y], &[1.0, 0.0])),
        at_line!(loss::softmax_cross_entropy(&[x, y], &[0.5, 0.5])),
        at_line!(Loss::Hinge.evaluate(&[x, y], &[1.0, -1.0])),
        at_line!(mlp.bind(&tape)),
        at_line!(mlp.bind_labelled(&tape)),
        at_line!(bound.forward(&[1.0, 2.0])),
        at_line!(bound.forward_vars(&[p[0], p[1]])),
        at_line!({
            let mut out = Vec::new();
            mlp.layers()[0].forward_const(bound.params(), &[1.0, 2.0], &mut out)
        }),
        at_line!({
            // The shared bias: neuron by neuron, not the dense layer op.
            let mut out = Vec::new();
            mlp.layers()[1].forward(bound.params(), &[p[0], p[1]], &mut out)
        }),
    ];
    for (line, case) in cases {
        // A case written over several lines panics on one of its own lines.
        let seen = panic_locations(case);
        let own = |l: &String| {
            l.strip_prefix("tests/bad_input.rs:")
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| (line..line + 5).contains(&n))
        };
        assert!(
            seen.iter().any(own),
            "tests/bad_input.rs:{line} (or the case's next lines) not in {seen:?}"
        );
        for (t, len) in full {
            assert_eq!(t.len(), len, "a full tape lost or gained a node");
        }
    }
}
