//! Runs the README's walkthrough, every command exactly as written, against
//! a real `kpnode dev`, then checks what the ledger says happened.

use std::path::Path;
use std::process::Command;

use kp_ledger::model::{Certificate, CertificateStatus, ParcelStatus};
use kp_ledger::trace::Trace;
use kp_tests::{bin_dir, DevNode, DEV_PASSPHRASE};
use kp_wire::api::ParcelView;

/// The shell blocks between the walkthrough markers of README.md.
fn walkthrough_script() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap_or_else(|e| panic!("read README.md: {e}"));
    let start = readme
        .find("<!-- walkthrough:start -->")
        .expect("README has a walkthrough start marker");
    let end = readme
        .find("<!-- walkthrough:end -->")
        .expect("README has a walkthrough end marker");
    let mut script = String::new();
    let mut in_block = false;
    for line in readme[start..end].lines() {
        match line.trim() {
            "```sh" => in_block = true,
            "```" => in_block = false,
            _ if in_block => {
                script.push_str(line);
                script.push('\n');
            }
            _ => {}
        }
    }
    assert!(
        script.contains("kp cert issue"),
        "the walkthrough issues a certificate"
    );
    script
}

#[test]
fn readme_walkthrough_runs_and_the_ledger_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("kp-dev"), "BW,EU,ZA").unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();

    let mut script = String::from("set -euo pipefail\nset -x\n");
    script.push_str(&walkthrough_script());
    script.push_str(
        "printf '%s\\n' \"$PARCEL\" \"$EXPORT\" \"$KEEP\" \"$IMPORTER\" \"$SORTER\" > ids.txt\n",
    );
    let path = format!(
        "{}:{}",
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let output = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&work)
        .env("PATH", path)
        .env("KP_NODE", node.url())
        .env("KP_PASSPHRASE", DEV_PASSPHRASE)
        .env("DEV", &node.home)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "walkthrough failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);

    let ids = std::fs::read_to_string(work.join("ids.txt")).unwrap();
    let ids: Vec<&str> = ids.lines().collect();
    let [parcel, export, keep, importer, sorter] = ids[..] else {
        panic!("five ids: {ids:?}")
    };

    let client = node.client();
    let exported: ParcelView = client.parcel(export).unwrap();
    assert_eq!(exported.parcel.holder.to_hex(), importer);
    assert_eq!(exported.parcel.status, ParcelStatus::Live);
    assert_eq!(exported.parcel.milli_carats, 800_250);

    let kept: ParcelView = client.parcel(keep).unwrap();
    assert_eq!(kept.parcel.holder.to_hex(), sorter);
    assert_eq!(kept.parcel.milli_carats, 450_250);

    let original: ParcelView = client.parcel(parcel).unwrap();
    assert!(matches!(
        original.parcel.status,
        ParcelStatus::Consumed { .. }
    ));
    assert_eq!(original.parcel.mine.as_deref(), Some("Jwaneng"));

    let cert: Certificate = client.certificate("BW-2026-000001").unwrap();
    assert_eq!(cert.status, CertificateStatus::Received);
    assert_eq!(cert.milli_carats, 800_250);

    // The trace reaches the mine through the split and both transfers.
    let trace: Trace = client.trace(export).unwrap();
    assert_eq!(trace.parcels.len(), 2);
    let kinds: Vec<&str> = trace.events.iter().map(|e| e.body.kind()).collect();
    assert_eq!(
        kinds,
        [
            "register_parcel",
            "offer_transfer",
            "accept_transfer",
            "offer_transfer",
            "accept_transfer",
            "split_parcel",
            "offer_transfer",
            "accept_transfer",
            "issue_certificate",
            "receive_certificate"
        ]
    );
    // And the human views say so too.
    assert!(
        stdout.contains("Jwaneng"),
        "kp trace names the mine:\n{stdout}"
    );
    assert!(stdout.contains("BW-2026-000001"));
    assert!(stdout.contains("450.250"), "--json view of the kept part");
}
