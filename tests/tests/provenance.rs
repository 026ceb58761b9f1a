//! Provenance bundles end to end against a real `kpnode dev`, whose blocks
//! carry the engine's own commit certificates: `kp trace --verify` checks a
//! shipped parcel's history; `kp trace --export` writes a bundle that
//! `kp verify` checks with the node stopped; altered bundles and another
//! genesis fail at the step they break. Every kind of altered byte is
//! tested against a store (`store/tests/bundle.rs`).

use std::fs;

use kp_ledger::bundle::Verified;
use kp_ledger::genesis::Genesis;
use kp_tests::{cert_issue_args, cert_receive_args, ok_stdout, register_args, BwToEu, Shipment};

#[test]
fn a_shipped_parcel_verifies_online_and_offline_and_a_forgery_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let BwToEu {
        mut node,
        bw,
        eu,
        miner,
        exporter_key,
        exporter,
        importer,
        ..
    } = BwToEu::start(dir.path()).unwrap();
    let genesis = node.home.join("genesis.json");
    let genesis = genesis.to_string_lossy().into_owned();

    // Registered, split, one part handed to the exporter and shipped.
    let registered = ok_stdout(
        &node.kp(&register_args(&miner, "BW", None, "10.000", "7102.10")),
        "register",
    );
    let parts = ok_stdout(
        &node.kp(&[
            "parcel",
            "split",
            "--key",
            &miner,
            "--parcel",
            &registered,
            "--carats",
            "4,6",
        ]),
        "split",
    );
    let part = parts.lines().next().unwrap().to_owned();
    node.hand_over(&miner, &part, &exporter_key, &exporter);
    let shipment = Shipment {
        authority_key: &bw,
        number: "BW-P-1",
        exporter: &exporter,
        importer: &importer,
        to: "EU",
        parcels: &[&part],
        hs: "7102.10",
        expires: "2099-12-31",
        value_usd: None,
    };
    ok_stdout(&node.kp(&cert_issue_args(&shipment)), "cert issue");
    ok_stdout(
        &node.kp(&cert_receive_args(&eu, "BW-P-1", "4.000", "1")),
        "cert receive",
    );

    // Online, against the genesis file: the trace the node gives, proven.
    let verified: Verified = serde_json::from_str(&ok_stdout(
        &node.kp(&["trace", &part, "--verify", "--genesis", &genesis, "--json"]),
        "trace --verify",
    ))
    .unwrap();
    let trace: kp_ledger::trace::Trace =
        serde_json::from_str(&ok_stdout(&node.kp(&["trace", &part, "--json"]), "trace")).unwrap();
    assert_eq!(verified.trace.parcels, trace.parcels);
    let txs = |events: &[kp_ledger::trace::Event]| -> Vec<_> {
        events.iter().map(|e| (e.tx, e.height, e.index)).collect()
    };
    assert_eq!(txs(&verified.trace.events), txs(&trace.events));
    // Register, split, offer, accept, certificate, receipt.
    assert_eq!(verified.trace.events.len(), 6);
    let human = ok_stdout(&node.kp(&["trace", &part, "--verify"]), "trace --verify");
    assert!(
        human.starts_with(&format!("verified: parcel {part}")),
        "{human}"
    );

    let mut other: Genesis = serde_json::from_str(&fs::read_to_string(&genesis).unwrap()).unwrap();
    other.genesis_time += 1;
    let other_path = dir.path().join("other-genesis.json");
    fs::write(&other_path, other.to_json()).unwrap();
    let other_path = other_path.to_string_lossy().into_owned();
    // A bundle that fails against the genesis given is not exported.
    let refused = dir.path().join("refused.bundle.json");
    node.kp_refused(
        &[
            "trace",
            &part,
            "--verify",
            "--genesis",
            &other_path,
            "--export",
            &refused.to_string_lossy(),
        ],
        "bundle_other_genesis",
    );
    assert!(!refused.exists());

    // Exported, then checked with no node at all.
    let bundle = dir.path().join("part.bundle.json");
    let bundle_path = bundle.to_string_lossy().into_owned();
    let out = node.kp(&["trace", &part, "--export", &bundle_path]);
    ok_stdout(&out, "trace --export");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("wrote the provenance bundle"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    node.terminate().unwrap();
    let offline = ok_stdout(
        &node.kp(&["verify", &bundle_path, "--genesis", &genesis]),
        "verify",
    );
    assert!(
        offline.contains("BW-P-1"),
        "the receipt is shown: {offline}"
    );

    // A forged byte in the canonical bytes, an edited view, another genesis.
    let text = fs::read_to_string(&bundle).unwrap();
    let mut file: serde_json::Value = serde_json::from_str(&text).unwrap();
    let canonical = file["canonical"].as_str().unwrap().to_owned();
    let place = canonical.len() - 100;
    let flipped = if &canonical[place..=place] == "0" {
        "1"
    } else {
        "0"
    };
    file["canonical"] = format!(
        "{}{flipped}{}",
        &canonical[..place],
        &canonical[place + 1..]
    )
    .into();
    let forged = dir.path().join("forged.bundle.json");
    fs::write(&forged, file.to_string()).unwrap();
    let forged = forged.to_string_lossy().into_owned();
    // 50 bytes from the end: the last ancestor's bucket proof, before its
    // two events.
    node.kp_refused(
        &["verify", &forged, "--genesis", &genesis],
        "(bundle_parcel_proof)",
    );

    let edited = dir.path().join("edited.bundle.json");
    fs::write(&edited, text.replacen("BW-P-1", "BW-P-9", 1)).unwrap();
    let edited = edited.to_string_lossy().into_owned();
    node.kp_refused(
        &["verify", &edited, "--genesis", &genesis],
        "bundle_view_mismatch",
    );

    node.kp_refused(
        &["verify", &bundle_path, "--genesis", &other_path],
        "bundle_other_genesis",
    );
}
