//! Where output goes. With `--json`, stdout carries exactly one JSON
//! document. Without it, stdout carries the human view; for commands whose
//! job is to produce ids, stdout carries exactly those ids, one per line, so
//! that `ID=$(kp parcel register …)` works, and every other word goes to
//! stderr.

use std::io::Write;

use anyhow::{Context, Result};
use kp_wire::api::TxStatus;
use serde::Serialize;

use crate::view;

/// Writes `text` to stdout, ending with a newline. A closed pipe (`| head`)
/// is not an error worth a message.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    if !text.ends_with('\n') {
        let _ = out.write_all(b"\n");
    }
    let _ = out.flush();
}

/// A message for the person at the terminal, never for a script's capture.
pub fn note(text: &str) {
    eprintln!("{text}");
}

pub fn json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("encoding JSON output")?;
    stdout(&text);
    Ok(())
}

/// What a write prints when it is committed.
pub enum Outcome<'a> {
    /// A sentence on stdout.
    Summary(&'a str),
    /// The created ids on stdout, the sentence on stderr.
    Ids { summary: &'a str, ids: &'a [String] },
}

pub fn committed(json_mode: bool, status: &TxStatus, outcome: Outcome<'_>) -> Result<()> {
    if json_mode {
        return json(status);
    }
    let head = view::committed_line(status);
    match outcome {
        Outcome::Summary(summary) => stdout(&format!("{head}: {summary}")),
        Outcome::Ids { summary, ids } => {
            note(&format!("{head}: {summary}"));
            stdout(&ids.join("\n"));
        }
    }
    Ok(())
}
