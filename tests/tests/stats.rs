//! `kp stats` end to end against a real `kpnode dev`: two parcels of two HS
//! codes mined in Botswana, shipped to the EU under one certificate and
//! received there, then the figures in CSV, JSON and the published table,
//! to the milli-carat and the cent. The dev chain's clock is real time, so
//! the expected period is the quarter of the last block's time; the quarter
//! and half-year splits themselves are checked at the ledger level
//! (`statistics_match_hand_computed_totals`).

use kp_ledger::units::year_and_quarter;
use kp_tests::{
    agent, cert_issue_args, cert_receive_args, ok_stdout, register_args, BwToEu, Shipment,
};
use kp_wire::api::{StatsTableView, StatsView};

#[test]
fn kp_stats_reports_what_the_ledger_recorded() {
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
    for (carats, hs) in [("12.345", "7102.10"), ("7.655", "7102.31")] {
        let parcel = ok_stdout(
            &node.kp(&register_args(&miner, "BW", None, carats, hs)),
            "register",
        );
        let offer = ok_stdout(
            &node.kp(&[
                "transfer", "offer", "--key", &miner, "--parcel", &parcel, "--to", &exporter,
            ]),
            "offer",
        );
        ok_stdout(
            &node.kp(&[
                "transfer",
                "accept",
                "--key",
                &exporter_key,
                "--transfer",
                &offer,
            ]),
            "accept",
        );
        parcels.push(parcel);
    }
    let shipment = Shipment {
        authority_key: &bw,
        number: "BW-S-1",
        exporter: &exporter,
        importer: &importer,
        to: "EU",
        parcels: &[&parcels[0], &parcels[1]],
        hs: "7102.10,7102.31",
        expires: "2099-12-31",
        value_usd: None,
    };
    ok_stdout(&node.kp(&cert_issue_args(&shipment)), "cert issue");
    ok_stdout(
        &node.kp(&cert_receive_args(&eu, "BW-S-1", "20.000", "2")),
        "cert receive",
    );
    let (year, quarter) = year_and_quarter(node.status().unwrap().time);
    let (y, q) = (year.to_string(), quarter.to_string());
    let half = if quarter <= 2 { "H1" } else { "H2" };

    // Each parcel is worth US$ 900.00: 72.90 and 117.57 per carat, 90.00 together.
    let csv = ok_stdout(
        &node.kp(&[
            "stats",
            "--participant",
            "BW",
            "--year",
            &y,
            "--quarter",
            &q,
            "--csv",
        ]),
        "stats --csv",
    );
    let p = format!("BW,{y},");
    let expected = [
        "participant,year,flow,period,breakdown,key,carats,usd,usd_per_carat,parcels,certificates,received_carats".to_owned(),
        format!("{p}production,Q{q},total,,20.000,1800.00,90.00,2,0,0.000"),
        format!("{p}production,Q{q},hs,7102.10,12.345,900.00,72.90,1,0,0.000"),
        format!("{p}production,Q{q},hs,7102.31,7.655,900.00,117.57,1,0,0.000"),
        format!("{p}exports,Q{q},total,,20.000,1800.00,90.00,2,1,0.000"),
        format!("{p}exports,Q{q},hs,7102.10,12.345,900.00,72.90,1,0,0.000"),
        format!("{p}exports,Q{q},hs,7102.31,7.655,900.00,117.57,1,0,0.000"),
        format!("{p}exports,Q{q},partner,EU,20.000,1800.00,90.00,2,1,0.000"),
        format!("{p}exports,Q{q},origin,BW,20.000,1800.00,90.00,2,1,0.000"),
        format!("{p}imports,Q{q},total,,0.000,0.00,,0,0,0.000"),
    ];
    assert_eq!(csv.lines().collect::<Vec<_>>(), expected);

    let eu_stats: StatsView = serde_json::from_str(&ok_stdout(
        &node.kp(&["stats", "--participant", "EU", "--year", &y, "--json"]),
        "stats --json",
    ))
    .unwrap();
    let imports = &eu_stats.imports.total.total;
    assert_eq!(
        (
            imports.milli_carats,
            imports.value_cents,
            imports.usd_per_carat_cents
        ),
        (20_000, 180_000, Some(9_000))
    );
    assert_eq!(
        (imports.certificates, imports.received_milli_carats),
        (1, 20_000)
    );
    assert_eq!(eu_stats.imports.total.by_partner[0].partner.as_str(), "BW");
    let origins: Vec<_> = eu_stats
        .imports
        .total
        .by_origin
        .iter()
        .map(|o| {
            (
                o.origin.as_str(),
                o.figures.milli_carats,
                o.figures.value_cents,
            )
        })
        .collect();
    assert_eq!(origins, [("BW", 20_000, 180_000)]);
    assert_eq!(eu_stats.imports.periods.len(), 4);
    assert_eq!(eu_stats.production.periods.len(), 2);

    let half_n = &half[1..];
    let human = ok_stdout(
        &node.kp(&[
            "stats",
            "--participant",
            "BW",
            "--year",
            &y,
            "--half",
            half_n,
        ]),
        "stats",
    );
    for needle in [
        "Production",
        "Exports",
        "Imports",
        half,
        "7102.31",
        "117.57",
        "1800.00",
        "EU",
        "origin",
    ] {
        assert!(human.contains(needle), "{needle} in:\n{human}");
    }

    let table = ok_stdout(
        &node.kp(&["stats", "--all", "--year", &y, "--csv"]),
        "stats --all",
    );
    assert_eq!(
        table.lines().skip(1).collect::<Vec<_>>(),
        [
            "BW,20.000,1800.00,90.00,0.000,0.00,,20.000,1800.00,90.00,1,0",
            "EU,0.000,0.00,,20.000,1800.00,90.00,0.000,0.00,,0,1",
        ]
    );
    let all: StatsTableView = serde_json::from_str(&ok_stdout(
        &node.kp(&["stats", "--all", "--year", &y, "--quarter", &q, "--json"]),
        "stats --all --json",
    ))
    .unwrap();
    assert_eq!(all.rows.len(), 2);
    assert_eq!(all.rows[0].exports.value_cents, 180_000);

    // Bad combinations are usage errors (exit 2); an unknown Participant is not found.
    for args in [
        vec!["stats", "--year", &y],
        vec!["stats", "--all", "--participant", "BW", "--year", &y],
        vec![
            "stats",
            "--participant",
            "BW",
            "--year",
            &y,
            "--quarter",
            "1",
            "--half",
            "1",
        ],
        vec![
            "stats",
            "--participant",
            "BW",
            "--year",
            &y,
            "--quarter",
            "5",
        ],
        vec![
            "stats",
            "--participant",
            "BW",
            "--year",
            &y,
            "--csv",
            "--json",
        ],
    ] {
        let out = node.kp(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    node.kp_refused(&["stats", "--participant", "ZA", "--year", &y], "not_found");

    // The API's own refusals carry stable codes.
    for (query, code) in [
        ("stats?participant=B1&year=2026", "bad_participant"),
        ("stats?year=2026", "bad_participant"),
        ("stats?participant=BW", "bad_year"),
        (
            "stats?participant=BW&year=2026&quarter=1&half=1",
            "bad_period",
        ),
        ("stats/all?year=20x6", "bad_year"),
        ("stats/all?year=2026&half=3", "bad_period"),
    ] {
        let mut response = agent()
            .get(format!("{}/v1/{query}", node.url()))
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
