//! The public documentation speaks of the crate, not of the project's
//! benchmark workloads: no "W1", "W2", "W3" or "seed network" in the rustdoc
//! a user reads (issue 11's contract). The private items' comments, which
//! record what was measured on those workloads, may name them.
//!
//! What counts as public here, read from the source: a doc comment (`///`)
//! on an item declared `pub` (not `pub(crate)`), on a `pub` field, or on an
//! enum variant; and the module docs (`//!`) of the crate root and of every
//! module declared `pub mod` down from it.

use std::fs;
use std::path::{Path, PathBuf};

/// The benchmark names the public docs must not use.
fn benchmark_name(text: &str) -> Option<&'static str> {
    if text.contains("seed network") {
        return Some("seed network");
    }
    let bytes = text.as_bytes();
    for (i, pair) in bytes.windows(2).enumerate() {
        let named = pair[0] == b'W' && (b'1'..=b'3').contains(&pair[1]);
        let before_ok = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let after_ok = bytes
            .get(i + 2)
            .is_none_or(|&b| !b.is_ascii_alphanumeric() && b != b'_');
        if named && before_ok && after_ok {
            return Some(["W1", "W2", "W3"][(pair[1] - b'1') as usize]);
        }
    }
    None
}

/// Whether the code line a `///` block documents makes a public item.
fn documents_public_item(line: &str) -> bool {
    let line = line.trim_start();
    if line.starts_with("pub ") {
        return true;
    }
    if line.starts_with("pub(") {
        return false;
    }
    // An enum variant: `Name,`, `Name {`, `Name(`, `Name = 3,`.
    let name: String = line
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let rest = line[name.len()..].trim_start();
    name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && (rest.starts_with(',')
            || rest.starts_with('{')
            || rest.starts_with('(')
            || rest.starts_with('=')
            || rest.is_empty())
}

/// The source files of public modules: the crate root, then every
/// `pub mod name;` declared in a public module's file.
fn public_module_files(src: &Path) -> Vec<PathBuf> {
    let mut files = vec![src.join("lib.rs")];
    let mut at = 0;
    while at < files.len() {
        let file = files[at].clone();
        at += 1;
        let dir = if file.ends_with("lib.rs") || file.ends_with("mod.rs") {
            file.parent().unwrap().to_path_buf()
        } else {
            file.with_extension("")
        };
        for line in fs::read_to_string(&file).unwrap().lines() {
            let Some(name) = line
                .trim_start()
                .strip_prefix("pub mod ")
                .and_then(|rest| rest.strip_suffix(';'))
            else {
                continue;
            };
            let flat = dir.join(format!("{name}.rs"));
            let nested = dir.join(name).join("mod.rs");
            files.push(if flat.exists() { flat } else { nested });
        }
    }
    files
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `(file, line number, name, text)` of a public doc line that uses a
/// benchmark name.
fn offences(src: &Path) -> Vec<String> {
    let public_modules = public_module_files(src);
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        let module_public = public_modules.contains(&file);
        let mut k = 0;
        while k < lines.len() {
            let trimmed = lines[k].trim_start();
            if trimmed.starts_with("//!") {
                if let (true, Some(name)) = (module_public, benchmark_name(trimmed)) {
                    found.push(format!("{}:{}: {name}: {trimmed}", file.display(), k + 1));
                }
                k += 1;
                continue;
            }
            if !trimmed.starts_with("///") {
                k += 1;
                continue;
            }
            // A `///` block, then the attributes, then the item it documents.
            let start = k;
            while k < lines.len() && lines[k].trim_start().starts_with("///") {
                k += 1;
            }
            let mut item = k;
            while item < lines.len() && {
                let l = lines[item].trim_start();
                l.starts_with("#[") || l.is_empty() || l.starts_with("//")
            } {
                item += 1;
            }
            if item < lines.len() && documents_public_item(lines[item]) {
                for (j, line) in lines.iter().enumerate().take(k).skip(start) {
                    if let Some(name) = benchmark_name(line) {
                        found.push(format!(
                            "{}:{}: {name}: {}",
                            file.display(),
                            j + 1,
                            line.trim()
                        ));
                    }
                }
            }
        }
    }
    found
}

#[test]
fn the_public_docs_do_not_name_the_benchmark_workloads() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = offences(&src);
    assert!(
        found.is_empty(),
        "public docs name the project's benchmark workloads (say what the \
         function is instead, e.g. \"a 2-2-2 sigmoid network\"):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_sees_what_it_looks_for() {
    // The scanner itself, on lines it must and must not flag.
    assert_eq!(benchmark_name("runs W1 in 50 ns"), Some("W1"));
    assert_eq!(benchmark_name("(W2, the moons MLP)"), Some("W2"));
    assert_eq!(benchmark_name("W3's chain"), Some("W3"));
    assert_eq!(
        benchmark_name("the seed network's error"),
        Some("seed network")
    );
    assert_eq!(benchmark_name("W10 or AW1 or W1x or w1"), None);
    assert!(documents_public_item("    pub fn wrt(&self) -> f64 {"));
    assert!(documents_public_item("    TooLarge {"));
    assert!(documents_public_item("    Leaf,"));
    assert!(!documents_public_item(
        "    pub(crate) fn push(&mut self) {"
    ));
    assert!(!documents_public_item("fn sweep() {"));
    assert!(!documents_public_item("const MIN_RUN: usize = 4;"));
    // The public modules are found down from the root.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = public_module_files(&src);
    for public in ["lib.rs", "replay/mod.rs", "nn/mod.rs", "nn/loss.rs"] {
        assert!(modules.contains(&src.join(public)), "{public} not found");
    }
    assert!(!modules.contains(&src.join("replay/exec.rs")));
}
