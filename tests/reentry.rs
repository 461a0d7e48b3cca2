//! The tape's arena cell is not re-entrant (see the soundness argument of
//! `tape::cell`): while the library holds a reference into the arena, none of
//! the caller's code may run, as that code may use the same tape. These tests
//! run the caller's code where the library calls it with a tape at hand: a
//! writer the library writes text to, records on the very tape and reads it
//! back. (`tests/arena_hooks.rs` does the same from the panic hook of every
//! documented panic.)
//!
//! Tests run with debug assertions, under which the cell checks re-entry: a
//! re-entry panics ("the tape's arena was re-entered"). In a release build the
//! same re-entry is undefined behaviour: the DOT writer's, before it was fixed,
//! read freed memory once the recording grew (a SIGSEGV).

use std::fmt;
use std::io;

use chainrule::dot::Dot;
use chainrule::Tape;

/// A writer that, on every write, records two nodes on `tape` (one labelled),
/// reads the tape's length and the value just recorded, and keeps the text.
struct Recorder<'t> {
    tape: &'t Tape,
    text: Vec<u8>,
    writes: usize,
}

impl Recorder<'_> {
    fn record(&mut self, bytes: &[u8]) {
        let x = self.tape.var(self.writes as f64);
        let y = (x * x).named("recorded while writing");
        assert_eq!(
            self.tape.value(y.index()),
            (self.writes * self.writes) as f64
        );
        assert_eq!(self.tape.len(), y.index() + 1);
        self.text.extend_from_slice(bytes);
        self.writes += 1;
    }
}

impl fmt::Write for Recorder<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.record(s.as_bytes());
        Ok(())
    }
}

impl io::Write for Recorder<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.record(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `Dot`'s `Display` wrote each line to the caller's `Formatter` while it held
/// the arena (and the labels): a writer that records on the tape re-entered it
/// (in release builds: a read of freed memory once the arrays grew, a SIGSEGV).
/// The text is now made first and written after.
#[test]
fn a_drawing_written_to_a_writer_that_records_on_the_tape_comes_out_whole() {
    // A small recording with labels, a masked edge and gradients to draw.
    let tape = Tape::new();
    let x = tape.var(2.0).named("x");
    let y = tape.var(-1.0).named("y");
    let f = ((x * y).relu() + x.sin() * 3.0).named("f");
    let g = f.backward();
    let expected = Dot::new(&tape).gradients(&g).to_string();
    let before = tape.len();

    // Through `fmt::Write`: many writes, enough nodes to grow the arena.
    let mut out = Recorder {
        tape: &tape,
        text: Vec::new(),
        writes: 0,
    };
    for _ in 0..40 {
        fmt::Write::write_fmt(&mut out, format_args!("{}", Dot::new(&tape).gradients(&g))).unwrap();
    }
    let one = String::from_utf8(out.text.clone()).unwrap();
    assert_eq!(one, expected.repeat(40), "the text is the drawing's, whole");
    assert!(out.writes >= 40);
    assert_eq!(
        tape.len(),
        before + 2 * out.writes,
        "every node recorded while writing landed on the tape"
    );

    // Through `io::Write` (`write!` on a file or a socket goes this way).
    let mut out = Recorder {
        tape: &tape,
        text: Vec::new(),
        writes: 0,
    };
    io::Write::write_fmt(&mut out, format_args!("{}", Dot::new(&tape).output(4))).unwrap();
    let text = String::from_utf8(out.text).unwrap();
    assert!(text.starts_with("digraph chainrule {") && text.ends_with("}\n"));
}
