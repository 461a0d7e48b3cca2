//! `bench::Report::to_json` is JSON: the name escaped as JSON requires (it was
//! written with Rust's `{:?}`, so a control character came out as `\u{1}`),
//! checked by parsing with serde_json.

use chainrule::bench::{Bench, Function};
use chainrule::Scalar;

struct Square;
impl Function for Square {
    fn eval<T: Scalar>(&self, x: &[T]) -> T {
        x[0] * x[0]
    }
}

#[test]
fn to_json_escapes_the_name() {
    let names = [
        "plain",
        "a \"quoted\" name",
        "back\\slash \\u{1}",
        "control \u{1} \u{0} \u{1f} \n\r\t \u{7f}",
        "non-ASCII: é ∂ 漢字 🦀",
        "",
    ];
    for name in names {
        let report = Bench::new(name, &Square, &[1.5]).rounds(1).run().unwrap();
        let json = report.to_json();
        let parsed: serde_json::Value = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{name:?} gives invalid JSON {json}: {e}"));
        assert_eq!(parsed["name"], name, "{json}");
        assert_eq!(parsed["nodes"], report.nodes, "{json}");
    }
}
