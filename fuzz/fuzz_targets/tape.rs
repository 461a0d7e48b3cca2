//! Decodes bytes into a program over every op (tests/support/program.rs), records
//! and sweeps it, and checks it (tests/support/oracle.rs): the forward-mode dual
//! oracle, the petgraph textbook sweep bit for bit, the non-finite policy, and no
//! panic (a decoded program never meets a documented panic: its lengths match and
//! every Var is on one tape).
//!
//! Run: `cargo +nightly fuzz run tape -- -max_total_time=600` from the repository
//! root. The corpus in fuzz/corpus/tape is replayed by `cargo test --test
//! fuzz_corpus`.

#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/program.rs"]
mod program;

#[path = "../../tests/support/oracle.rs"]
mod oracle;

fuzz_target!(|data: &[u8]| {
    let program = program::decode(data);
    if let Err(e) = oracle::check(&program) {
        panic!("{e}\n{program:#?}");
    }
});
