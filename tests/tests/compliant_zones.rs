//! `kp` against `kpnode dev`: the Central African Republic, restricted to
//! its compliant zones, exports diamonds of a compliant zone through a
//! sorting house's split and merge, while a miner of a zone outside them
//! cannot pass its diamonds off as from a compliant one.

use std::path::Path;

use kp_tests::{
    cert_issue_args, cert_receive_args, enroll_args, ok_stdout, register_args, DevNode, Shipment,
};

/// A new key enrolled by `authority` (a code of the dev chain) as `role`,
/// for `zone` if given: its key file and public key.
fn enrol(
    node: &DevNode,
    dir: &Path,
    authority: &str,
    name: &str,
    role: &str,
    zone: Option<&str>,
) -> (String, String) {
    let (key, public) = node.new_key(dir, name);
    let authority = node.key_path(authority).to_string_lossy().into_owned();
    let mut args = enroll_args(&authority, &public, role, name, "CF-L-1");
    if let Some(zone) = zone {
        args.extend(["--zone".to_owned(), zone.to_owned()]);
    }
    ok_stdout(&node.kp(&args), "enrol");
    (key, public)
}

#[test]
fn only_diamonds_of_a_compliant_zone_reach_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The EU first: the dev chain's one validator is its first Participant's,
    // and the restricted CAR's would not count.
    let node = DevNode::start(&d.join("node"), "EU,CF").unwrap();
    let (bria, _) = enrol(&node, d, "CF", "bria", "miner", Some("Bria"));
    let (berberati, _) = enrol(&node, d, "CF", "berberati", "miner", Some("Berbérati"));
    let (sorter_key, sorter) = enrol(&node, d, "CF", "sorter", "sorter", None);
    let (exporter_key, exporter) = enrol(&node, d, "CF", "exporter", "exporter", None);
    let (_, importer) = enrol(&node, d, "EU", "importer", "importer", None);

    // Laundering: the miner of Bria names a compliant zone.
    let register = |key: &str, zone, carats| register_args(key, "CF", zone, carats, "7102.10");
    node.kp_refused(
        &register(&bria, Some("Berbérati"), "1.000"),
        "zone_mismatch",
    );
    node.kp_refused(&register(&bria, None, "1.000"), "zone_not_allowed");

    // Berbérati's diamonds go through the sorting house to Antwerp.
    let first = ok_stdout(
        &node.kp(&register(&berberati, Some("Berbérati"), "3.000")),
        "register",
    );
    let second = ok_stdout(&node.kp(&register(&berberati, None, "1.000")), "register");
    for parcel in [&first, &second] {
        node.hand_over(&berberati, parcel, &sorter_key, &sorter);
    }
    let parts = ok_stdout(
        &node.kp(&[
            "parcel",
            "split",
            "--key",
            &sorter_key,
            "--parcel",
            &first,
            "--carats",
            "2.000,1.000",
        ]),
        "split",
    );
    let part = parts.lines().next().unwrap().to_owned();
    let merged = ok_stdout(
        &node.kp(&[
            "parcel",
            "merge",
            "--key",
            &sorter_key,
            "--parcel",
            &part,
            "--parcel",
            &second,
        ]),
        "merge",
    );
    let view = node.parcel(&merged);
    assert_eq!(view.parcel.zones, ["Berbérati"]);
    assert_eq!(view.parcel.milli_carats, 3_000);
    node.hand_over(&sorter_key, &merged, &exporter_key, &exporter);
    let cf = node.key_path("CF").to_string_lossy().into_owned();
    let eu = node.key_path("EU").to_string_lossy().into_owned();
    let shipment = Shipment {
        authority_key: &cf,
        number: "CF-2026-000001",
        exporter: &exporter,
        importer: &importer,
        to: "EU",
        parcels: &[&merged],
        hs: "7102.10",
        expires: "2099-12-31",
        value_usd: None,
    };
    ok_stdout(&node.kp(&cert_issue_args(&shipment)), "cert issue");
    let receive = cert_receive_args(&eu, "CF-2026-000001", "3.000", "1");
    ok_stdout(&node.kp(&receive), "cert receive");
    let view = node.parcel(&merged);
    assert_eq!(view.parcel.holder.to_hex(), importer);
}
