//! JSON string literals, for the writers that do not depend on serde_json.

use std::fmt::Write as _;

/// `s` as a JSON string literal (RFC 8259): quoted, `"` and `\` escaped, every
/// control character (U+0000 to U+001F) and U+2028, U+2029 as `\u00XX`, and
/// `<`, `>`, `&` as `\u003c`, `\u003e`, `\u0026`, so that it is also safe
/// inside an HTML `<script>` element; everything else, non-ASCII included, as
/// itself. (Rust's `{:?}` is not JSON: it writes `\u{1}`.) The HTML page and
/// `bench::Report::to_json` write their strings with it.
pub(crate) fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
