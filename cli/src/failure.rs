//! How `kp` fails: one line on stderr and an exit status scripts can trust.
//!
//! - 0: done.
//! - 1: the ledger rejected the transaction (`rejected: …`), or something
//!   else went wrong (`error: …`): the node unreachable, a key file that will
//!   not open, an id that matches nothing.
//! - 1 also: a provenance bundle that fails verification
//!   (`verification failed: …`).
//! - 2: bad usage (clap's errors, and the few checks clap cannot express).

use std::fmt;
use std::process::ExitCode;

use clap::error::ErrorKind;
use kp_ledger::bundle::BundleError;
use kp_wire::api::ApiError;
use kp_wire::client::ClientError;

pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

/// The ledger refused a transaction when it was left out of a block (a
/// refusal at submission is the client's `ClientError::Refused`, HTTP 422).
#[derive(Debug)]
pub struct Rejected(pub ApiError);

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.0.message, self.0.code)
    }
}

impl std::error::Error for Rejected {}

/// A usage mistake clap's declarations cannot catch.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A provenance bundle that failed verification, at the step it names.
#[derive(Debug)]
pub struct NotVerified(pub BundleError);

impl fmt::Display for NotVerified {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "verification failed: {} ({})", self.0, self.0.code())
    }
}

impl std::error::Error for NotVerified {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

/// The line to print and the exit status for an error.
pub fn describe(err: &anyhow::Error) -> (String, u8) {
    if let Some(n) = err.downcast_ref::<NotVerified>() {
        return (n.to_string(), EXIT_FAILED);
    }
    let text = one_line(&format!("{err:#}"));
    if err.downcast_ref::<Usage>().is_some() {
        return (format!("error: {text}"), EXIT_USAGE);
    }
    let rejected = err.chain().any(|e| {
        e.is::<Rejected>()
            || e.downcast_ref::<ClientError>()
                .is_some_and(ClientError::is_rejection)
    });
    if rejected {
        return (format!("rejected: {text}"), EXIT_FAILED);
    }
    (format!("error: {text}"), EXIT_FAILED)
}

pub fn report(err: &anyhow::Error) -> ExitCode {
    let (line, code) = describe(err);
    eprintln!("{line}");
    ExitCode::from(code)
}

/// Help and version go to stdout with status 0; every usage error becomes
/// one line on stderr with status 2.
pub fn report_clap(err: &clap::Error) -> ExitCode {
    match err.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = err.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = err.print();
            ExitCode::from(EXIT_USAGE)
        }
        _ => {
            eprintln!("{}", clap_one_line(&err.render().to_string()));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Folds clap's multi-line error into one line: the error and its details,
/// then any tip, leaving out the usage block.
pub fn clap_one_line(rendered: &str) -> String {
    let mut body: Vec<&str> = Vec::new();
    let mut tips: Vec<&str> = Vec::new();
    let mut more = None;
    let mut in_usage = false;
    for line in rendered.lines() {
        let t = line.trim();
        if t.starts_with("Usage:") {
            in_usage = true;
            continue;
        }
        if t.is_empty() {
            in_usage = false;
            continue;
        }
        if in_usage {
            continue;
        }
        if t.starts_with("tip:") {
            tips.push(t);
        } else if t.starts_with("For more information") {
            more = Some(t.trim_end_matches('.'));
        } else {
            body.push(t);
        }
    }
    let mut out = body.join(" ");
    for tip in tips {
        out.push_str("; ");
        out.push_str(tip);
    }
    if let Some(more) = more {
        out.push_str(" (");
        let mut chars = more.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_lowercase());
            out.push_str(chars.as_str());
        }
        out.push(')');
    }
    out
}

fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    fn api(code: &str, message: &str) -> ApiError {
        ApiError {
            code: code.into(),
            message: message.into(),
        }
    }

    #[test]
    fn rejections_errors_and_failed_verification() {
        let rejected: anyhow::Error =
            Rejected(api("not_holder", "parcel 3f is held by another member")).into();
        assert_eq!(
            describe(&rejected),
            (
                "rejected: parcel 3f is held by another member (not_holder)".into(),
                1
            )
        );
        let refused: anyhow::Error = ClientError::Refused {
            http_status: 422,
            error: api("not_holder", "parcel 3f is held by another member"),
        }
        .into();
        assert_eq!(describe(&refused), describe(&rejected));
        let missing: anyhow::Error = ClientError::Refused {
            http_status: 404,
            error: api("not_found", "no parcel 3f9a12cd"),
        }
        .into();
        let missing = missing.context("looking up parcel 3f9a12cd");
        assert_eq!(
            describe(&missing),
            (
                "error: looking up parcel 3f9a12cd: no parcel 3f9a12cd (not_found)".into(),
                1
            )
        );
        let unverified: anyhow::Error = NotVerified(BundleError::NoHeaders).into();
        assert_eq!(
            describe(&unverified),
            (
                "verification failed: the bundle holds no block header (bundle_no_headers)".into(),
                1
            )
        );
        assert_eq!(
            describe(&usage("two\nlines")),
            ("error: two lines".into(), 2)
        );
        let io: Result<(), std::io::Error> = Err(std::io::Error::other("boom"));
        let err = io.context("reading x").unwrap_err();
        assert_eq!(describe(&err), ("error: reading x: boom".into(), 1));
    }

    #[test]
    fn clap_errors_fold_to_one_line() {
        let rendered = "error: the following required arguments were not provided:\n  --key <FILE>\n  --parcel <ID>\n\nUsage: kp parcel split --key <FILE> --parcel <ID> --carats <CT,CT>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            clap_one_line(rendered),
            "error: the following required arguments were not provided: --key <FILE> --parcel <ID> (for more information, try '--help')"
        );
        let rendered = "error: unrecognized subcommand 'stauts'\n\n  tip: a similar subcommand exists: 'status'\n\nUsage: kp [OPTIONS] <COMMAND>\n\nFor more information, try '--help'.\n";
        assert_eq!(
            clap_one_line(rendered),
            "error: unrecognized subcommand 'stauts'; tip: a similar subcommand exists: 'status' (for more information, try '--help')"
        );
    }
}
