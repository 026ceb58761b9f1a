//! Bad input through `kp` against a real node: each refusal exits non-zero
//! with one line on stderr naming the problem and its code, and the ledger's
//! state hash is the same before and after.

use std::path::Path;

use kp_tests::{ok_stdout, DevNode, TEST_WORK_FACTOR};

fn new_key(node: &DevNode, dir: &Path, name: &str) -> String {
    let path = dir.join(format!("{name}.key"));
    let out = node.kp(&[
        "key",
        "new",
        "--out",
        path.to_str().unwrap(),
        "--work-factor",
        TEST_WORK_FACTOR,
    ]);
    ok_stdout(&out, "kp key new")
}

fn kp<S: AsRef<str>>(node: &DevNode, args: &[S]) -> std::process::Output {
    let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
    node.kp(&args)
}

/// Runs `kp`, expects a refusal carrying `code`, and checks nothing changed.
fn refused<S: AsRef<str> + std::fmt::Debug>(node: &DevNode, args: &[S], code: &str) {
    let before = node.status().unwrap().state_hash;
    let out = kp(node, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "kp {args:?} should fail, it printed {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(
        stderr.trim().lines().count(),
        1,
        "one line on stderr: {stderr}"
    );
    assert!(
        stderr.contains(code),
        "kp {args:?}: expected {code}, got: {stderr}"
    );
    assert_eq!(
        node.status().unwrap().state_hash,
        before,
        "kp {args:?} changed the state"
    );
}

#[test]
fn refusals_name_the_problem_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("node"), "BW,EU,ZA").unwrap();
    let bw = node.key_path("BW");
    let bw = bw.to_str().unwrap();
    let eu = node.key_path("EU");
    let eu = eu.to_str().unwrap();
    let miner = new_key(&node, dir.path(), "miner");
    let exporter = new_key(&node, dir.path(), "exporter");
    let importer = new_key(&node, dir.path(), "importer");
    new_key(&node, dir.path(), "stranger");
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
        let out = node.kp(&[
            "member",
            "enroll",
            "--key",
            key,
            "--member",
            member,
            "--role",
            role,
            "--name",
            role,
            "--licence",
            "L-1",
        ]);
        ok_stdout(&out, "enrol");
    }
    let register = |carats: &str, hs: &str| -> Vec<String> {
        [
            "parcel",
            "register",
            "--key",
            miner_key,
            "--origin",
            "BW",
            "--mine",
            "Orapa",
            "--carats",
            carats,
            "--stones",
            "5",
            "--value-usd",
            "900.00",
            "--hs",
            hs,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };

    // Forbidden HS codes, zero carats, bad numbers.
    for (hs, code) in [
        ("7102.29", "hs_code_not_rough"),
        ("7102.39", "hs_code_not_rough"),
        ("7104", "hs_code_not_rough"),
    ] {
        refused(&node, &register("10.000", hs), code);
    }
    let zero = register("0", "7102.10");
    refused(&node, &zero, "not_positive");
    let bad_number = register("12.3456", "7102.10");
    refused(&node, &bad_number, "carats");

    // An unknown signer.
    let mut strange = register("10.000", "7102.10");
    strange[3] = stranger_key.to_owned();
    refused(&node, &strange, "unknown_signer");

    // A parcel, then a mass mismatch and a double spend.
    let ok = register("10.000", "7102.10");
    let parcel = ok_stdout(&kp(&node, &ok), "register");
    refused(
        &node,
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
    refused(
        &node,
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
    refused(&node, &["parcel", "show", "00000000"], "not_found");

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
        [
            "cert",
            "issue",
            "--key",
            bw,
            "--number",
            number,
            "--exporter",
            &exporter,
            "--importer",
            &importer,
            "--to",
            to,
            "--parcel",
            &part,
            "--hs",
            "7102.10",
            "--expires",
            "2099-12-31",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    refused(&node, &cert("BW-9", "XK"), "unknown_participant");
    refused(&node, &cert("EU-9", "EU"), "certificate_number_prefix");
    refused(&node, &cert("BW-9", "BW"), "destination_is_issuer");
    ok_stdout(&kp(&node, &cert("BW-9", "EU")), "issue");
    refused(&node, &cert("BW-9", "EU"), "certificate_reused");
    ok_stdout(
        &node.kp(&[
            "cert",
            "receive",
            "--key",
            eu,
            "--number",
            "BW-9",
            "--carats",
            "4.000",
            "--parcels",
            "1",
        ]),
        "receive",
    );
    refused(
        &node,
        &[
            "cert",
            "receive",
            "--key",
            eu,
            "--number",
            "BW-9",
            "--carats",
            "4.000",
            "--parcels",
            "1",
        ],
        "already_received",
    );

    // A wrong passphrase never reaches the node.
    let out = std::process::Command::new(kp_tests::binary("kp"))
        .args([
            "parcel",
            "register",
            "--key",
            miner_key,
            "--origin",
            "BW",
            "--mine",
            "x",
            "--carats",
            "1",
            "--stones",
            "1",
            "--value-usd",
            "1",
            "--hs",
            "7102.10",
        ])
        .env("KP_NODE", node.url())
        .env("KP_PASSPHRASE", "wrong")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase"));
}
