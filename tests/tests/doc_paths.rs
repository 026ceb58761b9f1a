//! The docs name files of the repository (`ARCHITECTURE.md`'s code map,
//! `docs/domain.md`'s "enforced in" column, the README's layout): every
//! such name must still be a file, so that a move or a rename that forgets
//! the docs fails here rather than misleading a reader.

use std::path::{Path, PathBuf};

/// The top-level folders a cited path may start with.
const ROOTS: &[&str] = &[
    "crypto/", "ledger/", "wire/", "store/", "node/", "cli/", "tests/", "fuzz/", "scripts/",
    "docs/",
];

/// Endings of the files the docs cite (a folder ends with `/` and is checked
/// as a folder).
const ENDINGS: &[&str] = &[".rs", ".md", ".sh", ".toml", ".json", ".csv", "/"];

/// Paths inside a node's home, which has a `node/` folder of its own
/// (`docs/commands.md`, "kpnode init"): not files of the repository.
const HOME_PATHS: &[&str] = &["node/participant.json"];

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Every span between backticks that looks like a repository path.
fn cited_paths(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|span| {
            ROOTS.iter().any(|root| span.starts_with(root))
                && ENDINGS.iter().any(|ending| span.ends_with(ending))
                && !span.contains(['*', ' ', '<', '{'])
                && !HOME_PATHS.contains(span)
                // A placeholder such as `fuzz/regressions/TARGET/`.
                && !span.split('/').any(|part| part.len() > 1 && part.chars().all(|c| c.is_ascii_uppercase()))
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_path_the_docs_cite_exists() {
    let root = repository();
    let mut docs = vec![root.join("README.md"), root.join("ARCHITECTURE.md")];
    let entries = std::fs::read_dir(root.join("docs")).expect("docs/ is readable");
    for entry in entries {
        let path = entry.expect("a docs/ entry").path();
        if path.extension().is_some_and(|e| e == "md") {
            docs.push(path);
        }
    }
    let mut missing = Vec::new();
    let mut checked = 0;
    for doc in &docs {
        let text = std::fs::read_to_string(doc).expect("a doc is readable");
        for cited in cited_paths(&text) {
            checked += 1;
            if !root.join(&cited).exists() {
                missing.push(format!(
                    "{}: `{cited}`",
                    doc.strip_prefix(&root).unwrap_or(doc).display()
                ));
            }
        }
    }
    assert!(
        checked > 50,
        "only {checked} cited paths found: is the pattern right?"
    );
    assert!(
        missing.is_empty(),
        "paths the docs cite that are not in the repository:\n{}",
        missing.join("\n")
    );
}

#[test]
fn a_cited_path_is_told_from_other_code_spans() {
    let text = "see `ledger/src/rules/parcel.rs` and `node/src/http/` but not \
                `cargo test`, `ledger/src/*.rs`, `fuzz/regressions/TARGET/`, \
                `node/participant.json` or `kp stats --csv`";
    assert_eq!(
        cited_paths(text),
        ["ledger/src/rules/parcel.rs", "node/src/http/"]
    );
}
