//! `kp anomalies` end to end against a real `kpnode dev`: a clean shipment
//! finds nothing; then a receipt short of the certificate, a flagged
//! parcel and a re-export at a mark-up, the checks that can be planted in
//! real time, are each found with their records. Expiry and changes between
//! periods need chosen block times and are tested at the ledger level
//! (`store::tests::anomalies`).

use kp_ledger::anomalies::{AnomalyKind, Finding};
use kp_tests::{
    agent, cert_issue_args, cert_receive_args, ok_stdout, register_args, BwToEu, Shipment,
};
use kp_wire::anomalies::AnomaliesView;
use kp_wire::client::AnomalyFilter;

#[test]
fn kp_anomalies_finds_what_was_planted_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let BwToEu {
        node,
        bw,
        eu,
        miner,
        exporter_key,
        exporter,
        importer,
        ..
    } = BwToEu::start(dir.path()).unwrap();
    let mut parcels = Vec::new();
    for _ in 0..3 {
        let parcel = ok_stdout(
            &node.kp(&register_args(&miner, "BW", None, "10.000", "7102.10")),
            "register",
        );
        node.hand_over(&miner, &parcel, &exporter_key, &exporter);
        parcels.push(parcel);
    }
    let ship = |number: &str, parcel: &str, carats: &str| {
        let shipment = Shipment {
            authority_key: &bw,
            number,
            exporter: &exporter,
            importer: &importer,
            to: "EU",
            parcels: &[parcel],
            hs: "7102.10",
            expires: "2099-12-31",
            value_usd: None,
        };
        ok_stdout(&node.kp(&cert_issue_args(&shipment)), "cert issue");
        ok_stdout(
            &node.kp(&cert_receive_args(&eu, number, carats, "1")),
            "cert receive",
        );
    };
    let anomalies = |args: &[&str]| -> AnomaliesView {
        let mut all = vec!["anomalies", "--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok_stdout(&node.kp(&all), "anomalies --json")).unwrap()
    };

    // Clean: everything in this quarter, received as certified.
    ship("BW-A-1", &parcels[0], "10.000");
    assert_eq!(anomalies(&[]).findings, vec![]);
    let human = node.kp(&["anomalies"]);
    assert_eq!(ok_stdout(&human, "anomalies"), "");
    assert!(
        String::from_utf8_lossy(&human.stderr).starts_with("0 finding(s) from "),
        "{}",
        String::from_utf8_lossy(&human.stderr)
    );

    // Planted: a receipt 0.5 ct short, and a flag on the parcel still held.
    ship("BW-A-2", &parcels[1], "9.500");
    ok_stdout(
        &node.kp(&[
            "parcel",
            "flag",
            "--key",
            &bw,
            "--parcel",
            &parcels[2],
            "--reason",
            "origin in doubt",
        ]),
        "flag",
    );
    let found = anomalies(&["--participant", "EU"]).findings;
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].kind, AnomalyKind::ReceiptDiscrepancy);
    assert_eq!(found[0].certificates, vec!["BW-A-2".to_owned()]);
    assert_eq!(found[0].parcels[0].to_string(), parcels[1]);
    let found = anomalies(&["--participant", "BW"]).findings;
    let kinds: Vec<AnomalyKind> = found.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        vec![AnomalyKind::ReceiptDiscrepancy, AnomalyKind::FlaggedParcel]
    );
    assert_eq!(found[1].parcels[0].to_string(), parcels[2]);
    let lines = ok_stdout(&node.kp(&["anomalies", "--participant", "BW"]), "anomalies");
    let lines: Vec<&str> = lines.lines().collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("receipt_discrepancy  BW->EU  "),
        "{}",
        lines[0]
    );
    assert!(
        lines[0].ends_with(&format!("cert BW-A-2  parcel {}", parcels[1])),
        "{}",
        lines[0]
    );
    assert!(lines[1].starts_with("flagged_parcel  BW  "), "{}", lines[1]);

    // Refusals: by kp before asking, and by the API with stable codes.
    for args in [
        &["anomalies", "--since", "2026-13-01"][..],
        &["anomalies", "--period-change", "0"][..],
        &["anomalies", "--band", "1001"][..],
        &["anomalies", "--markup", "0"][..],
        &["anomalies", "--markup", "x"][..],
    ] {
        assert_eq!(node.kp(args).status.code(), Some(2), "{args:?}");
    }
    node.kp_refused(&["anomalies", "--participant", "ZA"], "not_found");
    for (query, code) in [
        ("participant=B1", "bad_participant"),
        ("since=2026-1-1", "bad_date"),
        ("period_change=5000", "bad_threshold"),
        ("band=0", "bad_threshold"),
        ("markup=1001", "bad_threshold"),
        ("markup=ten", "bad_threshold"),
    ] {
        let mut response = agent()
            .get(format!("{}/v1/anomalies?{query}", node.url()))
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 400, "{query}");
        let body = response.body_mut().read_to_string().unwrap();
        assert!(
            body.contains(&format!("\"code\":\"{code}\"")),
            "{query}: {body}"
        );
    }
}

#[test]
fn kp_anomalies_finds_a_reexport_at_a_markup_and_not_one_at_the_import_price() {
    let dir = tempfile::tempdir().unwrap();
    let cast = BwToEu::start(dir.path()).unwrap();
    let (node, bw, eu) = (&cast.node, &cast.bw, &cast.eu);
    let (eu_exporter_key, eu_exporter) = node.member(dir.path(), eu, "eu-exporter", "exporter");
    let (_, bw_importer) = node.member(dir.path(), bw, "bw-importer", "importer");
    // Two parcels of 10 ct at US$ 900 (US$ 90/ct), into the EU and on to
    // its exporter.
    let parcels: Vec<String> = (0..2)
        .map(|_| {
            let parcel = ok_stdout(
                &node.kp(&register_args(&cast.miner, "BW", None, "10.000", "7102.10")),
                "register",
            );
            node.hand_over(&cast.miner, &parcel, &cast.exporter_key, &cast.exporter);
            parcel
        })
        .collect();
    let into_eu = Shipment {
        authority_key: bw,
        number: "BW-M-1",
        exporter: &cast.exporter,
        importer: &cast.importer,
        to: "EU",
        parcels: &[&parcels[0], &parcels[1]],
        hs: "7102.10",
        expires: "2099-12-31",
        value_usd: None,
    };
    ok_stdout(&node.kp(&cert_issue_args(&into_eu)), "cert issue");
    ok_stdout(
        &node.kp(&cert_receive_args(eu, "BW-M-1", "20.000", "2")),
        "cert receive",
    );
    for parcel in &parcels {
        node.hand_over(&cast.importer_key, parcel, &eu_exporter_key, &eu_exporter);
    }
    // Back to BW: one at the import price, one at US$ 270/ct (+200%).
    for (number, parcel, usd) in [
        ("EU-M-1", &parcels[0], "900.00"),
        ("EU-M-2", &parcels[1], "2700.00"),
    ] {
        let out_of_eu = Shipment {
            authority_key: eu,
            number,
            exporter: &eu_exporter,
            importer: &bw_importer,
            to: "BW",
            parcels: &[parcel],
            hs: "7102.10",
            expires: "2099-12-31",
            value_usd: Some(usd),
        };
        ok_stdout(&node.kp(&cert_issue_args(&out_of_eu)), "cert issue");
    }
    let markups = |args: &[&str]| -> Vec<Finding> {
        let mut all = vec!["anomalies", "--json"];
        all.extend_from_slice(args);
        let view: AnomaliesView =
            serde_json::from_str(&ok_stdout(&node.kp(&all), "anomalies --json")).unwrap();
        view.findings
            .into_iter()
            .filter(|f| f.kind == AnomalyKind::MarkupOnReexport)
            .collect()
    };
    let found = markups(&[]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        found[0].certificates,
        vec!["EU-M-2".to_owned(), "BW-M-1".to_owned()]
    );
    assert_eq!(found[0].parcels[0].to_string(), parcels[1]);
    assert_eq!(
        found[0].detail,
        "US$ 270.00/ct re-exported against US$ 90.00/ct imported under BW-M-1 (+200%), \
         10.000 ct of 10.000 ct traced to imports"
    );
    assert_eq!(markups(&["--markup", "200"]), vec![]);
    let lines = ok_stdout(&node.kp(&["anomalies", "--markup", "150"]), "anomalies");
    assert!(
        lines
            .lines()
            .any(|l| l.starts_with("markup_on_reexport  EU->BW  ")
                && l.ends_with(&format!("cert EU-M-2  cert BW-M-1  parcel {}", parcels[1]))),
        "{lines}"
    );
    let view: AnomaliesView = node
        .client()
        .anomalies(&AnomalyFilter {
            markup_percent: Some(150),
            ..AnomalyFilter::default()
        })
        .unwrap();
    assert_eq!(view.markup_percent, 150);
    assert!(view
        .findings
        .iter()
        .any(|f| f.kind == AnomalyKind::MarkupOnReexport));
}
