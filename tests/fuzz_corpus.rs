//! Replays the fuzz corpus (fuzz/corpus/tape, kept small in the repository) and the
//! crashes the fuzzer found, under `cargo test`: each input decodes into a program
//! over every op (tests/support/program.rs) that must agree with the forward-mode
//! oracle, the textbook sweep and the non-finite policy (tests/support/oracle.rs),
//! exactly as the fuzz target `fuzz/fuzz_targets/tape.rs` checks it.

mod support;

use std::path::Path;

use support::oracle::check;
use support::program::decode;

#[test]
fn the_fuzz_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/tape");
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 50, "only {} corpus inputs", inputs.len());
    let mut failures = Vec::new();
    for path in &inputs {
        let bytes = std::fs::read(path).unwrap();
        if let Err(e) = check(&decode(&bytes)) {
            failures.push(format!("{}: {e}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
