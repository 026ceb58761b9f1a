//! Bad input through `kp` against a real node: each refusal exits non-zero
//! with one line on stderr naming the problem and its code, and the ledger's
//! state hash is the same before and after.

use kp_tests::{
    cert_issue_args, cert_receive_args, enroll_args, ok_stdout, register_args, DevNode, Shipment,
};

#[test]
fn refusals_name_the_problem_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("node"), "BW,EU,ZA").unwrap();
    let bw = node.key_path("BW");
    let bw = bw.to_str().unwrap();
    let eu = node.key_path("EU");
    let eu = eu.to_str().unwrap();
    let miner = node.new_key(dir.path(), "miner").1;
    let exporter = node.new_key(dir.path(), "exporter").1;
    let importer = node.new_key(dir.path(), "importer").1;
    node.new_key(dir.path(), "stranger");
    let miner_key = dir.path().join("miner.key");
    let miner_key = miner_key.to_str().unwrap();
    let exporter_key = dir.path().join("exporter.key");
    let exporter_key = exporter_key.to_str().unwrap();
    let stranger_key = dir.path().join("stranger.key");
    let stranger_key = stranger_key.to_str().unwrap();
    for (key, member, role) in [
        (bw, &miner, "miner"),
        (bw, &exporter, "exporter"),
        (eu, &importer, "importer"),
    ] {
        let out = node.kp(&enroll_args(key, member, role, role, "L-1"));
        ok_stdout(&out, "enrol");
    }
    let register = |carats: &str, hs: &str| register_args(miner_key, "BW", None, carats, hs);

    // Forbidden HS codes, zero carats, bad numbers.
    for (hs, code) in [
        ("7102.29", "hs_code_not_rough"),
        ("7102.39", "hs_code_not_rough"),
        ("7104", "hs_code_not_rough"),
    ] {
        node.kp_refused(&register("10.000", hs), code);
    }
    let zero = register("0", "7102.10");
    node.kp_refused(&zero, "not_positive");
    let bad_number = register("12.3456", "7102.10");
    node.kp_refused(&bad_number, "carats");

    // An unknown signer.
    let strange = register_args(stranger_key, "BW", None, "10.000", "7102.10");
    node.kp_refused(&strange, "unknown_signer");

    // A parcel, then a mass mismatch and a double spend.
    let ok = register("10.000", "7102.10");
    let parcel = ok_stdout(&node.kp(&ok), "register");
    node.kp_refused(
        &[
            "parcel",
            "split",
            "--key",
            miner_key,
            "--parcel",
            &parcel,
            "--carats",
            "4.000,5.999",
        ],
        "mass_mismatch",
    );
    let parts = ok_stdout(
        &node.kp(&[
            "parcel",
            "split",
            "--key",
            miner_key,
            "--parcel",
            &parcel,
            "--carats",
            "4.000,6.000",
        ]),
        "split",
    );
    assert_eq!(parts.lines().count(), 2);
    node.kp_refused(
        &[
            "parcel",
            "split",
            "--key",
            miner_key,
            "--parcel",
            &parcel,
            "--carats",
            "4.000,6.000",
        ],
        "parcel_consumed",
    );
    node.kp_refused(&["parcel", "show", "00000000"], "not_found");

    // Certificates: a non-Participant destination, a wrong prefix, reuse.
    let part = parts.lines().next().unwrap().to_owned();
    let offer = ok_stdout(
        &node.kp(&[
            "transfer", "offer", "--key", miner_key, "--parcel", &part, "--to", &exporter,
        ]),
        "offer",
    );
    ok_stdout(
        &node.kp(&[
            "transfer",
            "accept",
            "--key",
            exporter_key,
            "--transfer",
            &offer,
        ]),
        "accept",
    );
    let cert = |number: &str, to: &str| -> Vec<String> {
        cert_issue_args(&Shipment {
            authority_key: bw,
            number,
            exporter: &exporter,
            importer: &importer,
            to,
            parcels: &[&part],
            hs: "7102.10",
            expires: "2099-12-31",
            value_usd: None,
        })
    };
    node.kp_refused(&cert("BW-9", "XK"), "unknown_participant");
    node.kp_refused(&cert("EU-9", "EU"), "certificate_number_prefix");
    node.kp_refused(&cert("BW-9", "BW"), "destination_is_issuer");
    // A declared value of nothing is refused as registration refuses it;
    // one with a fraction of a cent never leaves kp.
    let declaring =
        |usd: &str| [cert("BW-9", "EU"), vec!["--value-usd".into(), usd.into()]].concat();
    node.kp_refused(&declaring("0.00"), "not_positive");
    assert_eq!(node.kp(&declaring("1.005")).status.code(), Some(2));
    ok_stdout(&node.kp(&cert("BW-9", "EU")), "issue");
    node.kp_refused(&cert("BW-9", "EU"), "certificate_reused");
    let receive = cert_receive_args(eu, "BW-9", "4.000", "1");
    ok_stdout(&node.kp(&receive), "receive");
    node.kp_refused(&receive, "already_received");

    // A wrong passphrase never reaches the node.
    let out = std::process::Command::new(kp_tests::binary("kp"))
        .args(register("1.000", "7102.10"))
        .env("KP_NODE", node.url())
        .env("KP_PASSPHRASE", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase"));
}
