//! Native code that needs more stack than its thread has left must fault in
//! the thread's guard page, as Rust code does ("has overflowed its stack",
//! then an abort), never write past it (point 7 of the safety proof in
//! `src/replay/native/mod.rs`). A relu layer of 30 inputs and 320 outputs has
//! a backward pass whose frame is some 86 KiB (its spilled adjoints); called
//! with tens of KiB of its thread's stack left, without stack probes its `sub rsp`
//! jumped over the 4 KiB guard page and its stores landed in whatever memory
//! lay below the thread's stack.
//!
//! The overflow aborts the process, so the test runs itself again as a child
//! process and reads how the child ended.

#![cfg(feature = "jit")]

use std::process::Command;

use chainrule::replay::Native;
use chainrule::{Activation, Tape, Var};

/// Set in the child process: it runs the overflow instead of checking it.
const CHILD: &str = "CHAINRULE_NATIVE_STACK_CHILD";

/// The thread's stack.
const STACK: usize = 8 << 20;

/// Recurses until about as many bytes of the thread's stack as the child was
/// told remain below `top`, then runs the backward pass there.
fn descend(top: usize, native: &mut Native) {
    let marker = [0u8; 512];
    let here = std::hint::black_box(&marker) as *const [u8; 512] as usize;
    let left: usize = std::env::var(CHILD).unwrap().parse().unwrap();
    if top - here < STACK - left {
        descend(top, native);
        std::hint::black_box(&marker);
    } else {
        native.backward();
    }
}

fn overflow_a_thread_with_little_stack_left() {
    std::thread::Builder::new()
        .name("little stack left".into())
        .stack_size(STACK)
        .spawn(|| {
            let top = 0u8;
            let top = std::hint::black_box(&top) as *const u8 as usize;
            let tape = Tape::for_replay();
            let x = tape.vars(&(0..30).map(|k| k as f64 * 0.01).collect::<Vec<_>>());
            let p = tape.vars(
                &(0..320 * 31)
                    .map(|j| (j % 7) as f64 * 0.01 - 0.02)
                    .collect::<Vec<_>>(),
            );
            let mut out = vec![x[0]; 320];
            Var::layer(&p, &x, Activation::Relu, &mut out);
            let sum: Var = out.iter().sum();
            let program = tape.compile(&[sum]).unwrap();
            let mut native = program.native().unwrap();
            descend(top, &mut native);
            println!("the backward pass returned: {}", native.gradients()[0]);
        })
        .unwrap()
        .join()
        .unwrap();
}

#[test]
fn native_code_past_its_threads_stack_faults_in_the_guard_page() {
    if std::env::var_os(CHILD).is_some() {
        overflow_a_thread_with_little_stack_left();
        return;
    }
    // Where the first store below the guard page lands depends on how much
    // stack is left and on where the stack starts (randomised): without probes
    // some of these ended in a plain SIGSEGV (status 139) below the guard page.
    for left in [8 << 10, 20 << 10, 40 << 10] {
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "native_code_past_its_threads_stack_faults_in_the_guard_page",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, left.to_string())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&child.stderr);
        assert!(
            !child.status.success()
                && stderr.contains("thread 'little stack left'")
                && stderr.contains("has overflowed its stack"),
            "with {left} bytes left, the child ended with {:?}; stdout: {}; stderr: {stderr}",
            child.status,
            String::from_utf8_lossy(&child.stdout)
        );
    }
}
